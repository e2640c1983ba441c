/*
 * core.h — private to the vlstore._core extension: what its files share.
 *
 * The extension is thin, GIL-releasing bindings of the public C API (include/vlstore.h,
 * vlstore_frame.h, vlstore_loader.h); everything a user sees (SChunkStore, Depot, codecs,
 * BlockShuffleBatch, vlstore.torch) is Python in vlstore/. One file per object:
 *   module.c   module init, constants, exception mapping, hashes and names
 *   store.c    the Store type (vls_store) and key conversion
 *   frame.c    frame encode / view / verify (vlstore_frame.h)
 *   loader.c   the Loader type (vls_loader): raw batches and collated frame batches
 *
 * Memory safety rules kept across the files:
 *  - A Store counts the calls running with the GIL released (`busy`) and the loaders open on
 *    it (`nloaders`); close() refuses while either is nonzero, and put/delete refuse while a
 *    loader is open (the C loader requires unchanged stores), so no C handle is ever freed or
 *    changed under a running call.
 *  - Whatever Python is handed that points into C memory holds a reference to its owner (a
 *    Loader's reused batch buffers are exported through the buffer protocol of the Loader and
 *    checked by a generation count; see loader.c).
 *  - Frame views return offsets, not pointers: Python builds numpy views on the buffer object
 *    itself, which keeps the memory alive.
 *  - A Store or Loader inherited through fork() (a DataLoader worker) is never used or closed
 *    by the child: its background threads and their locks exist only in the parent, so a
 *    close there could wait forever on a condition variable. The child raises when asked to
 *    use one, and abandons it (memory only) when it is freed. Open stores in the process
 *    that uses them.
 */
#ifndef VLSTORE_PY_CORE_H
#define VLSTORE_PY_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vlstore.h"

/*-*************************************
 *  Calls without the GIL
 ***************************************/

/* Room for a library error message copied out of thread-local or per-handle storage. */
#define CORE_MSG_MAX 1024

/* CORE_NOGIL(busy, rc, call, errmsg, msg) :
 * Runs `call` (an expression giving a vls code) with the GIL released, counting it in the int
 * that `busy` points to (NULL: nothing to count). When the code is negative, the library's
 * message `errmsg` (an expression, evaluated still without the GIL, right after the call, on
 * the same thread: messages are kept per thread) is copied into the char array
 * `msg`; otherwise msg[0] is set to 0. The one way the extension calls the library for
 * anything that may touch the disk or decompress. */
#define CORE_NOGIL(busy, rc, call, errmsg, msg)                                               \
    do {                                                                                      \
        int *core_busy_ = (busy);                                                             \
        if (core_busy_)                                                                       \
            (*core_busy_)++;                                                                  \
        Py_BEGIN_ALLOW_THREADS                                                                \
        (rc) = (call);                                                                        \
        if ((rc) < 0)                                                                         \
            snprintf((msg), sizeof(msg), "%s", (errmsg));                                     \
        else                                                                                  \
            (msg)[0] = 0;                                                                     \
        Py_END_ALLOW_THREADS                                                                  \
        if (core_busy_)                                                                       \
            (*core_busy_)--;                                                                  \
    } while (0)

/*-*************************************
 *  Errors (module.c)
 ***************************************/

/* Exception classes, registered by vlstore/__init__.py through _set_errors(). */
extern PyObject *ErrCorrupt, *ErrLocked, *ErrNotFound, *ErrExists, *ErrReadOnly, *ErrInvalid,
    *ErrIO, *ErrFailed, *ErrClosed;

/* Raises the exception for `rc` with message "detail" (or vls_strerror(rc) when detail is
 * empty), and sets .code on it. Returns NULL for convenience. */
PyObject *raise_code(int rc, const char *detail);

/* Raises NotFoundError(key) (args[0] is the key, as for a dict) with `detail` in .message. */
PyObject *raise_not_found(PyObject *key, PyObject *detail);

/*-*************************************
 *  Keys (store.c): str (UTF-8), bytes, or an integer (8 bytes big-endian, as vls_put_u64)
 ***************************************/

typedef struct {
    const void *data;
    size_t len;
    unsigned char u64[8];
} keybuf;

/* Fills kb from `o`. The data pointer borrows `o` (str's cached UTF-8, or bytes' storage),
 * so `o` must outlive the use. Returns 0, or -1 with an exception set. */
int key_from(PyObject *o, keybuf *kb);

/* A sequence of keys as a vls_key array (borrowing the fast sequence's items). */
typedef struct {
    PyObject *seq; /* PySequence_Fast result, owned */
    vls_key *keys;
    unsigned char *u64; /* 8 bytes per key, for integer keys */
    size_t n;
} keyvec;

int keyvec_from(PyObject *o, keyvec *kv);
void keyvec_free(keyvec *kv);

/*-*************************************
 *  Store (store.c)
 ***************************************/

typedef struct {
    PyObject_HEAD
    vls_store *s;
    int busy;     /* calls in flight with the GIL released */
    int nloaders; /* open loaders reading this store */
    int writable;
    unsigned flags;
    PyObject *path; /* str, or None for a memory store */
    /* Serializes changes (put, delete, commit, refresh) with the calls that hold views into
     * the index across several C calls (iter_keys, a loader's open). vls_iter_next's key
     * view is "valid until the next change", and a change runs with the GIL released, so
     * without this another thread's put could free a key between two C calls. */
    PyThread_type_lock wlock;
    unsigned long wowner; /* thread holding wlock, 0 when free */
    pid_t pid;            /* the process that opened it (see "fork" above) */
} StoreObject;

extern PyTypeObject StoreType;

/* Takes / releases self->wlock (see StoreObject). store_lock returns 0, or -1 with an
 * exception set (the calling thread holds the lock already). */
int store_lock(StoreObject *self);
void store_unlock(StoreObject *self);

/* 0 when the store is open, else -1 with ClosedError set (or ValueError for a handle
 * inherited through fork()). */
int store_check(StoreObject *self);

/* -1 with ValueError set when `pid` (the opener) is not this process, else 0. */
int check_same_process(pid_t pid, const char *what);

/* Raises NotFoundError naming the first of the keys in `seq` whose span says VLS_E_NOTFOUND. */
PyObject *raise_missing(PyObject *seq, const vls_span *spans, size_t n);

/*-*************************************
 *  Batch memory (batch.c)
 ***************************************/

struct vls_frame_batch;
struct vls_record;

/* 64-byte aligned memory holding one batch, exported through the buffer protocol. */
typedef struct {
    PyObject_HEAD
    void *buf;
    size_t cap;
    Py_ssize_t exports; /* buffer views handed out and not yet released */
} BatchMemoryObject;

extern PyTypeObject BatchMemoryType;

/* An empty BatchMemory, or NULL with an exception set. */
BatchMemoryObject *batch_memory_new(void);

/* Makes m hold at least `need` bytes (contents not kept). No Python calls: may run without
 * the GIL, on memory nothing else references. Returns 0, or -1 when out of memory. */
int batch_memory_reserve(BatchMemoryObject *m, size_t need);

/* 1 when nothing but its owner references m (it may be overwritten), else 0. */
int batch_memory_unshared(BatchMemoryObject *m);

/* vls_frame_batch_collate into m, growing it when too small. Runs without the GIL. */
int collate_into(BatchMemoryObject *m, const struct vls_record *recs, size_t n,
                 struct vls_frame_batch *fb, char *msg, size_t msgcap);

/* The arrays of a collated batch for Python: a tuple of (name, numpy dtype string, byte
 * offset, shape tuple), in the VLS_BATCH_* order. */
PyObject *batch_describe(const struct vls_frame_batch *fb);

/*-*************************************
 *  Per-file parts of the module (frame.c, batch.c, loader.c)
 ***************************************/

extern PyMethodDef core_frame_methods[]; /* NULL-terminated */
extern PyMethodDef core_batch_methods[]; /* NULL-terminated */
extern PyTypeObject LoaderType;

#endif /* VLSTORE_PY_CORE_H */
