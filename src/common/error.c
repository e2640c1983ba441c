/* error.c — error codes and messages.
 * Messages live in thread-local storage, tagged with the handle they belong to, so threads
 * reading one store at once never overwrite each other's message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char tls_msg[1024];
static _Thread_local const struct vls_store *tls_store;

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

const char *vls_errmsg(const struct vls_store *store)
{
    if (tls_store != store)
        return "";
    return tls_msg;
}

int vls_seterr(const struct vls_store *store, int code, const char *fmt, ...)
{
    /* Format apart, then copy: callers pass the current message as an argument to wrap it
     * ("compact: %s", vls_errmsg(...)), and vsnprintf into the buffer it reads from is
     * undefined (it came out empty or garbled: test_faults' test_regress_errmsg_wraps_itself). */
    char msg[sizeof tls_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tls_msg, msg, sizeof msg);
    tls_store = store;
    return code;
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
