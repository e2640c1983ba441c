/* error.c — error codes and messages.
 * Messages live in thread-local storage, tagged with the handle they belong to (the owner), so
 * threads reading one store at once never overwrite each other's message. A thread keeps one
 * message per owner for its last ERR_SLOTS failing handles, plus one for failures that had no
 * handle (owner NULL), which handle failures never evict. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

enum { ERR_SLOTS = 8, ERR_MSG_MAX = 1024 };

typedef struct {
    const void *owner; /* NULL: the slot is free */
    uint64_t age;      /* when it was last set: the oldest slot is reused first */
    char msg[ERR_MSG_MAX];
} err_slot;

static _Thread_local char tls_handleless[ERR_MSG_MAX];
static _Thread_local err_slot tls_slots[ERR_SLOTS];
static _Thread_local uint64_t tls_clock;

const char *vls_strerror(int code)
{
    switch (code) {
    case VLS_OK: return "success";
    case VLS_E_INVAL: return "invalid argument";
    case VLS_E_NOMEM: return "out of memory";
    case VLS_E_IO: return "I/O error";
    case VLS_E_NOSPC: return "no space left on device";
    case VLS_E_NOTFOUND: return "not found (no such key, or no such store file)";
    case VLS_E_EXISTS: return "already exists";
    case VLS_E_TOOSMALL: return "buffer too small";
    case VLS_E_CORRUPT: return "corrupt store";
    case VLS_E_CHECKSUM: return "checksum mismatch";
    case VLS_E_VERSION: return "unsupported format version";
    case VLS_E_BADMAGIC: return "not a vlstore file";
    case VLS_E_TRUNCATED: return "file is truncated";
    case VLS_E_LOCKED: return "store is locked by another writer";
    case VLS_E_READONLY: return "store is read-only";
    case VLS_E_TOOBIG: return "size out of range";
    case VLS_E_CODEC: return "compression codec error";
    case VLS_E_FAILED: return "store handle failed earlier and takes no more writes";
    case VLS_E_NOTDIR: return "not a directory";
    case VLS_E_FORKED: return "store handle used in a process forked after it was opened";
    default: return "unknown error";
    }
}

/* The slot holding owner's message, or NULL. */
static err_slot *slot_of(const void *owner)
{
    for (int i = 0; i < ERR_SLOTS; i++)
        if (tls_slots[i].owner == owner)
            return &tls_slots[i];
    return NULL;
}

const char *vls_errmsg_of(const void *owner)
{
    if (!owner)
        return tls_handleless;
    const err_slot *e = slot_of(owner);
    return e ? e->msg : "";
}

const char *vls_errmsg(const struct vls_store *store)
{
    return vls_errmsg_of(store);
}

int vls_seterr(const void *owner, int code, const char *fmt, ...)
{
    /* Format apart, then copy: callers pass the current message as an argument to wrap it
     * ("compact: %s", vls_errmsg(...)), and vsnprintf into the buffer it reads from is
     * undefined (it came out empty or garbled: test_faults' test_regress_errmsg_wraps_itself). */
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!owner) {
        memcpy(tls_handleless, msg, sizeof msg);
        return code;
    }
    err_slot *e = slot_of(owner);
    if (!e) {
        e = &tls_slots[0];
        for (int i = 1; i < ERR_SLOTS && e->owner; i++)
            if (!tls_slots[i].owner || tls_slots[i].age < e->age)
                e = &tls_slots[i];
        e->owner = owner;
    }
    memcpy(e->msg, msg, sizeof msg);
    e->age = ++tls_clock;
    return code;
}

void vls_errforget(const void *owner, int code)
{
    err_slot *e = owner ? slot_of(owner) : NULL;
    if (!e)
        return;
    if (code != VLS_OK)
        vls_seterr(NULL, code, "%s", e->msg);
    e->owner = NULL;
    e->msg[0] = '\0';
}

int vls_errno_code(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT: return VLS_E_NOSPC;
    case ENOMEM: return VLS_E_NOMEM;
    case ENOTDIR: return VLS_E_NOTDIR;
    case EEXIST: return VLS_E_EXISTS;
    case ENOENT: return VLS_E_NOTFOUND;
    case EWOULDBLOCK: return VLS_E_LOCKED;
    default: return VLS_E_IO;
    }
}
