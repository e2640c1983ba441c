/*
 * _core.c — the CPython extension under the `vlstore` package: thin, GIL-releasing bindings
 * of the public C API (include/vlstore.h, vlstore_frame.h, vlstore_loader.h).
 *
 * What lives here and what does not: this file converts arguments, calls the library with the
 * GIL released for anything that may touch the disk or decompress (get, get_many, put,
 * delete, commit, close, loader next, verify, compact), and turns negative VLS_E_* codes into
 * the exception classes of vlstore/_errors.py with vls_errmsg()'s text. Everything a user
 * sees (SChunkStore, Depot, codecs, BlockShuffleBatch) is Python in vlstore/.
 *
 * Memory safety rules kept here:
 *  - A Store counts the calls running with the GIL released (`busy`) and the loaders open on
 *    it (`nloaders`); close() refuses while either is nonzero, and put/delete refuse while a
 *    loader is open (the C loader requires unchanged stores), so no C handle is ever freed or
 *    changed under a running call.
 *  - A Loader copies each batch into a Python-owned bytearray (records 16-byte aligned), so
 *    nothing handed to Python points into loader memory that the C side recycles.
 *  - Frame views return offsets, not pointers: Python builds numpy views on the buffer object
 *    itself, which keeps the memory alive.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <stdint.h>
#include <string.h>

#include "vlstore.h"
#include "vlstore_frame.h"
#ifdef VLSTORE_HAVE_LOADER
#include "vlstore_loader.h"
#endif

/*-*************************************
 *  Errors
 ***************************************/

/* Exception classes, registered by vlstore/__init__.py through _set_errors(). */
static PyObject *ErrCorrupt, *ErrLocked, *ErrNotFound, *ErrExists, *ErrReadOnly, *ErrInvalid,
    *ErrIO, *ErrFailed, *ErrClosed;

static PyObject *class_for(int rc)
{
    switch (rc) {
    case VLS_E_CORRUPT:
    case VLS_E_CHECKSUM:
    case VLS_E_VERSION:
    case VLS_E_BADMAGIC:
    case VLS_E_TRUNCATED:
    case VLS_E_CODEC: return ErrCorrupt;
    case VLS_E_LOCKED: return ErrLocked;
    case VLS_E_NOTFOUND: return ErrNotFound;
    case VLS_E_EXISTS: return ErrExists;
    case VLS_E_READONLY: return ErrReadOnly;
    case VLS_E_INVAL:
    case VLS_E_TOOSMALL:
    case VLS_E_TOOBIG: return ErrInvalid;
    case VLS_E_FAILED: return ErrFailed;
    case VLS_E_NOTDIR: return PyExc_NotADirectoryError;
    case VLS_E_NOMEM: return PyExc_MemoryError;
    default: return ErrIO; /* VLS_E_IO, VLS_E_NOSPC, anything unknown */
    }
}

/* Raises the exception for `rc` with message "detail" (or vls_strerror(rc) when detail is
 * empty), and sets .code on it. Returns NULL for convenience. */
static PyObject *raise_code(int rc, const char *detail)
{
    PyObject *cls = class_for(rc);
    if (!cls)
        cls = PyExc_OSError;
    const char *msg = (detail && *detail) ? detail : vls_strerror(rc);
    PyObject *exc = PyObject_CallFunction(cls, "s", msg);
    if (!exc)
        return NULL;
    if (cls != PyExc_MemoryError && cls != PyExc_NotADirectoryError) {
        PyObject *code = PyLong_FromLong(rc);
        if (code) {
            PyObject_SetAttrString(exc, "code", code);
            Py_DECREF(code);
        }
        PyErr_Clear();
    }
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *Core_set_errors(PyObject *mod, PyObject *args)
{
    PyObject *c[9];
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6],
                          &c[7], &c[8]))
        return NULL;
    PyObject **dst[9] = {&ErrCorrupt, &ErrLocked, &ErrNotFound, &ErrExists, &ErrReadOnly,
                         &ErrInvalid, &ErrIO, &ErrFailed, &ErrClosed};
    for (int i = 0; i < 9; i++) {
        if (!PyType_Check(c[i]) || !PyType_IsSubtype((PyTypeObject *)c[i],
                                                     (PyTypeObject *)PyExc_Exception)) {
            PyErr_SetString(PyExc_TypeError, "_set_errors: exception classes expected");
            return NULL;
        }
    }
    for (int i = 0; i < 9; i++) {
        Py_INCREF(c[i]);
        Py_XSETREF(*dst[i], c[i]);
    }
    Py_RETURN_NONE;
}

/*-*************************************
 *  Keys: str (UTF-8), bytes, or an integer (8 bytes big-endian, as vls_put_u64)
 ***************************************/

typedef struct {
    const void *data;
    size_t len;
    unsigned char u64[8];
} keybuf;

/* Fills kb from `o`. The data pointer borrows `o` (str's cached UTF-8, or bytes' storage),
 * so `o` must outlive the use. Returns 0, or -1 with an exception set. */
static int key_from(PyObject *o, keybuf *kb)
{
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (!p)
            return -1;
        kb->data = p;
        kb->len = (size_t)n;
    } else if (PyBytes_Check(o)) {
        kb->data = PyBytes_AS_STRING(o);
        kb->len = (size_t)PyBytes_GET_SIZE(o);
    } else if (PyIndex_Check(o)) {
        PyObject *i = PyNumber_Index(o);
        if (!i)
            return -1;
        unsigned long long v = PyLong_AsUnsignedLongLong(i);
        Py_DECREF(i);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "integer keys must be in 0 .. 2**64-1");
            return -1;
        }
        vls_key_u64((uint64_t)v, kb->u64);
        kb->data = kb->u64;
        kb->len = 8;
    } else {
        PyErr_Format(PyExc_TypeError, "keys are str, bytes or int, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    if (kb->len == 0) {
        PyErr_SetString(PyExc_ValueError, "keys must not be empty");
        return -1;
    }
    if (kb->len > VLS_MAX_KEY) {
        PyErr_Format(PyExc_ValueError, "key of %zu bytes is longer than the %u-byte maximum",
                     kb->len, (unsigned)VLS_MAX_KEY);
        return -1;
    }
    return 0;
}

/* A sequence of keys as a vls_key array (borrowing the fast sequence's items). */
typedef struct {
    PyObject *seq; /* PySequence_Fast result, owned */
    vls_key *keys;
    unsigned char *u64; /* 8 bytes per key, for integer keys */
    size_t n;
} keyvec;

static void keyvec_free(keyvec *kv)
{
    PyMem_Free(kv->keys);
    PyMem_Free(kv->u64);
    Py_XDECREF(kv->seq);
    memset(kv, 0, sizeof *kv);
}

static int keyvec_from(PyObject *o, keyvec *kv)
{
    memset(kv, 0, sizeof *kv);
    kv->seq = PySequence_Fast(o, "keys must be an iterable");
    if (!kv->seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(kv->seq);
    kv->n = (size_t)n;
    kv->keys = PyMem_Calloc(n ? (size_t)n : 1, sizeof *kv->keys);
    kv->u64 = PyMem_Calloc(n ? (size_t)n : 1, 8);
    if (!kv->keys || !kv->u64) {
        keyvec_free(kv);
        PyErr_NoMemory();
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(kv->seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        keybuf kb;
        if (key_from(items[i], &kb) < 0) {
            keyvec_free(kv);
            return -1;
        }
        if (kb.data == kb.u64) {
            memcpy(kv->u64 + 8 * i, kb.u64, 8);
            kb.data = kv->u64 + 8 * i;
        }
        kv->keys[i].data = kb.data;
        kv->keys[i].len = kb.len;
    }
    return 0;
}

/*-*************************************
 *  Store
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
} StoreObject;

static PyTypeObject StoreType;

/* Takes self->wlock, waiting with the GIL released (the holder may need the GIL to finish).
 * The lock is not reentrant: a second take by the holding thread (a finalizer writing to a
 * store this thread is iterating) raises instead of deadlocking. */
static int store_lock(StoreObject *self)
{
    unsigned long me = PyThread_get_thread_ident();
    if (self->wowner == me) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the store is being iterated or changed by this thread already");
        return -1;
    }
    if (!PyThread_acquire_lock(self->wlock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->wlock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    self->wowner = me;
    return 0;
}

static void store_unlock(StoreObject *self)
{
    self->wowner = 0;
    PyThread_release_lock(self->wlock);
}

static int store_check(StoreObject *self)
{
    if (!self->s) {
        PyErr_SetString(ErrClosed ? ErrClosed : PyExc_ValueError, "the store is closed");
        return -1;
    }
    return 0;
}

static int store_check_change(StoreObject *self)
{
    if (store_check(self) < 0)
        return -1;
    if (self->nloaders > 0) {
        PyErr_SetString(PyExc_ValueError,
                        "the store cannot change while a loader reads it (close the loader "
                        "first)");
        return -1;
    }
    return 0;
}

static PyObject *store_err(StoreObject *self, int rc)
{
    return raise_code(rc, vls_errmsg(self->s));
}

/* Like store_err, but a missing key raises NotFoundError(key) (args[0] is the key, as for a
 * dict) with the C detail in .message. */
static PyObject *store_err_key(StoreObject *self, int rc, PyObject *key)
{
    if (rc != VLS_E_NOTFOUND || !ErrNotFound)
        return store_err(self, rc);
    const char *detail = vls_errmsg(self->s);
    PyObject *exc = PyObject_CallFunction(ErrNotFound, "O", key);
    if (!exc)
        return NULL;
    PyObject *msg = PyUnicode_DecodeUTF8(detail, (Py_ssize_t)strlen(detail), "replace");
    PyObject *code = PyLong_FromLong(rc);
    if (msg)
        PyObject_SetAttrString(exc, "message", msg);
    if (code)
        PyObject_SetAttrString(exc, "code", code);
    Py_XDECREF(msg);
    Py_XDECREF(code);
    PyErr_Clear();
    PyErr_SetObject(ErrNotFound, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Runs `stmt` with the GIL released, counted in self->busy. */
#define STORE_NOGIL(self, stmt)                                                               \
    do {                                                                                      \
        (self)->busy++;                                                                       \
        Py_BEGIN_ALLOW_THREADS                                                                \
        stmt;                                                                                 \
        Py_END_ALLOW_THREADS                                                                  \
        (self)->busy--;                                                                       \
    } while (0)

static int Store_init(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "flags", "chunk_size", "codec", "level", "shuffle",
                             "typesize", "block_size", "placement", "threads", "cache_bytes",
                             "random_access", "write_behind", NULL};
    PyObject *path = Py_None;
    unsigned int flags = VLS_RDONLY;
    long long chunk_size = -1, block_size = -1, cache_bytes = -1;
    int codec = -1, level = -1, shuffle = -1, typesize = -1, placement = -1, threads = -1;
    int random_access = 0, write_behind = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OILiiiiLiiLpi", kwlist, &path, &flags,
                                     &chunk_size, &codec, &level, &shuffle, &typesize,
                                     &block_size, &placement, &threads, &cache_bytes,
                                     &random_access, &write_behind))
        return -1;
    if (self->s || self->wlock) {
        PyErr_SetString(PyExc_ValueError, "Store.__init__ called twice");
        return -1;
    }
    self->wlock = PyThread_allocate_lock();
    if (!self->wlock) {
        PyErr_NoMemory();
        return -1;
    }
    vls_options o;
    if (random_access)
        vls_options_random_access(&o);
    else
        vls_options_init(&o);
    if (chunk_size >= 0) {
        if (chunk_size > UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "chunk size out of range");
            return -1;
        }
        o.chunk_size = (uint32_t)chunk_size;
    }
    if (block_size >= 0) {
        if (block_size > UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "block size out of range");
            return -1;
        }
        o.block_size = (uint32_t)block_size;
    }
    if (cache_bytes >= 0)
        o.cache_bytes = (uint64_t)cache_bytes;
    if (codec >= 0)
        o.codec = codec;
    if (level >= 0)
        o.level = level;
    if (shuffle >= 0)
        o.shuffle = shuffle;
    if (typesize >= 0)
        o.typesize = typesize;
    if (placement >= 0)
        o.placement = placement;
    if (threads >= 0)
        o.threads = threads;
    if (write_behind >= 0)
        o.write_behind = write_behind;

    PyObject *encoded = NULL;
    const char *cpath = NULL;
    if (path != Py_None) {
        if (!PyUnicode_FSConverter(path, &encoded))
            return -1;
        cpath = PyBytes_AS_STRING(encoded);
    }
    vls_store *s = NULL;
    int rc;
    char msg[1024];
    Py_BEGIN_ALLOW_THREADS
    rc = vls_open(cpath, flags, &o, &s);
    if (rc != VLS_OK)
        snprintf(msg, sizeof msg, "%s", vls_errmsg(NULL)); /* thread-local: copy it here */
    Py_END_ALLOW_THREADS
    Py_XDECREF(encoded);
    if (rc != VLS_OK) {
        if (rc == VLS_E_NOTFOUND) {
            PyErr_SetString(PyExc_FileNotFoundError, msg);
            return -1;
        }
        raise_code(rc, msg);
        return -1;
    }
    self->s = s;
    self->flags = flags;
    self->writable = cpath == NULL || (flags & (VLS_RDWR | VLS_CREATE | VLS_TRUNCATE)) != 0;
    if (path == Py_None) {
        Py_INCREF(Py_None);
        self->path = Py_None;
    } else {
        self->path = PyOS_FSPath(path);
        if (!self->path)
            return -1;
    }
    return 0;
}

static void Store_dealloc(StoreObject *self)
{
    /* A loader holds a reference, and a running call holds one through its arguments, so
     * neither can be active here. */
    if (self->s) {
        vls_store *s = self->s;
        self->s = NULL;
        Py_BEGIN_ALLOW_THREADS
        vls_close(s);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(self->path);
    if (self->wlock)
        PyThread_free_lock(self->wlock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Store_close(StoreObject *self, PyObject *unused)
{
    if (!self->s)
        Py_RETURN_NONE;
    if (self->busy || self->nloaders) {
        PyErr_SetString(PyExc_ValueError, self->busy ? "the store is in use by another thread"
                                                     : "close the loaders reading this store "
                                                       "first");
        return NULL;
    }
    vls_store *s = self->s;
    int rc;
    char msg[1024] = "";
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = vls_commit(s); /* to report the commit's detail if it fails */
    if (rc != VLS_OK && rc != VLS_E_READONLY)
        snprintf(msg, sizeof msg, "%s", vls_errmsg(s));
    else
        rc = VLS_OK;
    int rc2 = vls_close(s);
    if (rc == VLS_OK)
        rc = rc2;
    Py_END_ALLOW_THREADS
    self->busy--;
    self->s = NULL;
    if (rc != VLS_OK)
        return raise_code(rc, msg);
    Py_RETURN_NONE;
}

static PyObject *Store_commit(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    if (!self->writable)
        Py_RETURN_NONE;
    if (store_lock(self) < 0)
        return NULL;
    if (store_check(self) < 0) { /* closed while we waited */
        store_unlock(self);
        return NULL;
    }
    int rc;
    STORE_NOGIL(self, rc = vls_commit(self->s));
    store_unlock(self);
    if (rc != VLS_OK)
        return store_err(self, rc);
    Py_RETURN_NONE;
}

static PyObject *Store_refresh(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0 || store_lock(self) < 0)
        return NULL;
    if (store_check_change(self) < 0) {
        store_unlock(self);
        return NULL;
    }
    int rc;
    STORE_NOGIL(self, rc = vls_refresh(self->s));
    store_unlock(self);
    if (rc != VLS_OK)
        return store_err(self, rc);
    Py_RETURN_NONE;
}

static PyObject *Store_put(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"key", "value", "flags", NULL};
    PyObject *key;
    Py_buffer val;
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oy*|I", kwlist, &key, &val, &flags))
        return NULL;
    keybuf kb;
    if (store_check(self) < 0 || key_from(key, &kb) < 0 || store_lock(self) < 0) {
        PyBuffer_Release(&val);
        return NULL;
    }
    if (store_check_change(self) < 0) {
        store_unlock(self);
        PyBuffer_Release(&val);
        return NULL;
    }
    int rc;
    STORE_NOGIL(self, rc = vls_put(self->s, kb.data, kb.len, val.buf, (size_t)val.len, flags));
    store_unlock(self);
    PyBuffer_Release(&val);
    if (rc != VLS_OK)
        return store_err(self, rc);
    Py_RETURN_NONE;
}

static PyObject *Store_delete(StoreObject *self, PyObject *key)
{
    keybuf kb;
    if (store_check(self) < 0 || key_from(key, &kb) < 0 || store_lock(self) < 0)
        return NULL;
    if (store_check_change(self) < 0) {
        store_unlock(self);
        return NULL;
    }
    int rc;
    STORE_NOGIL(self, rc = vls_delete(self->s, kb.data, kb.len));
    store_unlock(self);
    if (rc != VLS_OK)
        return store_err_key(self, rc, key);
    Py_RETURN_NONE;
}

/* get(key) -> bytes;  get(key, out) -> number of bytes written into the writable buffer. */
static PyObject *Store_get(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"key", "out", NULL};
    PyObject *key, *out = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &key, &out))
        return NULL;
    keybuf kb;
    if (store_check(self) < 0 || key_from(key, &kb) < 0)
        return NULL;
    int rc;
    size_t got = 0;
    if (out != Py_None) {
        Py_buffer b;
        if (PyObject_GetBuffer(out, &b, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
            return NULL;
        STORE_NOGIL(self, rc = vls_get(self->s, kb.data, kb.len, b.buf, (size_t)b.len, &got));
        PyBuffer_Release(&b);
        if (rc == VLS_E_TOOSMALL)
            return PyErr_Format(ErrInvalid, "out holds %zd bytes; the record needs %zu",
                                b.len, got);
        if (rc != VLS_OK)
            return store_err_key(self, rc, key);
        return PyLong_FromSize_t(got);
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t len;
        rc = vls_size(self->s, kb.data, kb.len, &len);
        if (rc != VLS_OK)
            return store_err_key(self, rc, key);
        if (len > (uint64_t)PY_SSIZE_T_MAX)
            return PyErr_NoMemory();
        PyObject *res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
        if (!res)
            return NULL;
        char *dst = PyBytes_AS_STRING(res);
        STORE_NOGIL(self, rc = vls_get(self->s, kb.data, kb.len, dst, (size_t)len, &got));
        if (rc == VLS_OK && got == len)
            return res;
        Py_DECREF(res);
        if (rc != VLS_OK && rc != VLS_E_TOOSMALL)
            return store_err_key(self, rc, key);
        /* replaced by another thread between size and get: try again */
    }
    return raise_code(VLS_E_IO, "get: the record kept changing size under concurrent writes");
}

static PyObject *Store_size(StoreObject *self, PyObject *key)
{
    keybuf kb;
    if (store_check(self) < 0 || key_from(key, &kb) < 0)
        return NULL;
    uint64_t len;
    int rc = vls_size(self->s, kb.data, kb.len, &len);
    if (rc != VLS_OK)
        return store_err_key(self, rc, key);
    return PyLong_FromUnsignedLongLong(len);
}

static PyObject *Store_contains(StoreObject *self, PyObject *key)
{
    keybuf kb;
    if (store_check(self) < 0 || key_from(key, &kb) < 0)
        return NULL;
    int found;
    int rc = vls_contains(self->s, kb.data, kb.len, &found);
    if (rc < 0)
        return store_err(self, rc);
    return PyBool_FromLong(found);
}

static PyObject *Store_count(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(vls_count(self->s));
}

/* iter_keys(pos, max) -> (next_pos, [key bytes, ...]); an empty list at the end. Keys come
 * in storage order; records deleted meanwhile are skipped. */
static PyObject *Store_iter_keys(StoreObject *self, PyObject *args)
{
    unsigned long long pos;
    Py_ssize_t max;
    if (!PyArg_ParseTuple(args, "Kn", &pos, &max))
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    if (store_lock(self) < 0) { /* no change may free a key view while we copy it */
        Py_DECREF(list);
        return NULL;
    }
    if (store_check(self) < 0) { /* closed while we waited */
        store_unlock(self);
        Py_DECREF(list);
        return NULL;
    }
    uint64_t p = pos;
    for (Py_ssize_t i = 0; i < max; i++) {
        const void *k;
        size_t klen;
        uint64_t len;
        int rc = vls_iter_next(self->s, &p, &k, &klen, &len);
        if (rc < 0) {
            store_unlock(self);
            Py_DECREF(list);
            return store_err(self, rc);
        }
        if (rc == 0)
            break;
        PyObject *kb = PyBytes_FromStringAndSize(k, (Py_ssize_t)klen);
        if (!kb || PyList_Append(list, kb) < 0) {
            store_unlock(self);
            Py_XDECREF(kb);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(kb);
    }
    store_unlock(self);
    return Py_BuildValue("(KN)", (unsigned long long)p, list);
}

static PyObject *Store_get_many_size(StoreObject *self, PyObject *keys)
{
    keyvec kv;
    if (store_check(self) < 0 || keyvec_from(keys, &kv) < 0)
        return NULL;
    uint64_t total = 0;
    int rc = vls_get_many_size(self->s, kv.n, kv.keys, &total);
    keyvec_free(&kv);
    if (rc != VLS_OK && rc != VLS_E_NOTFOUND)
        return store_err(self, rc);
    return PyLong_FromUnsignedLongLong(total);
}

/* Raises NotFound naming the first missing key of a batch. */
static PyObject *raise_missing(PyObject *seq, const vls_span *spans, size_t n)
{
    size_t missing = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (spans[i].status == VLS_E_NOTFOUND) {
            if (first == n)
                first = i;
            missing++;
        }
    PyObject *k = first < n ? PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)first) : Py_None;
    PyObject *exc = PyObject_CallFunction(ErrNotFound, "O", k);
    if (!exc)
        return NULL;
    PyObject *msg = PyUnicode_FromFormat("%zu of %zu keys not found; the first is %R (position "
                                         "%zu)",
                                         missing, n, k, first);
    PyObject *code = PyLong_FromLong(VLS_E_NOTFOUND);
    if (msg)
        PyObject_SetAttrString(exc, "message", msg);
    if (code)
        PyObject_SetAttrString(exc, "code", code);
    Py_XDECREF(msg);
    Py_XDECREF(code);
    PyErr_Clear();
    PyErr_SetObject(ErrNotFound, exc);
    Py_DECREF(exc);
    return NULL;
}

/* get_many(keys, out=None) -> (buffer, [(offset, length), ...]).
 * Records land back to back in request order, in a new bytearray or in `out`. */
static PyObject *Store_get_many(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "out", NULL};
    PyObject *keys, *out = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &keys, &out))
        return NULL;
    keyvec kv;
    if (store_check(self) < 0 || keyvec_from(keys, &kv) < 0)
        return NULL;
    PyObject *res = NULL;
    vls_span *spans = PyMem_Calloc(kv.n ? kv.n : 1, sizeof *spans);
    if (!spans) {
        PyErr_NoMemory();
        goto done;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t total = 0, needed = 0;
        int rc = vls_get_many_size(self->s, kv.n, kv.keys, &total);
        if (rc != VLS_OK && rc != VLS_E_NOTFOUND) {
            store_err(self, rc);
            goto done;
        }
        PyObject *target;
        if (out == Py_None) {
            if (total > (uint64_t)PY_SSIZE_T_MAX) {
                PyErr_NoMemory();
                goto done;
            }
            target = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)total);
            if (!target)
                goto done;
        } else {
            target = out;
            Py_INCREF(target);
        }
        Py_buffer b;
        if (PyObject_GetBuffer(target, &b, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            Py_DECREF(target);
            goto done;
        }
        STORE_NOGIL(self, rc = vls_get_many(self->s, kv.n, kv.keys, b.buf, (size_t)b.len,
                                            spans, &needed));
        PyBuffer_Release(&b);
        if (rc == VLS_E_TOOSMALL && out == Py_None) {
            Py_DECREF(target); /* a record grew under a concurrent write: again */
            continue;
        }
        if (rc != VLS_OK) {
            Py_DECREF(target);
            if (rc == VLS_E_TOOSMALL)
                PyErr_Format(ErrInvalid, "out holds %zd bytes; these records need %llu", b.len,
                             (unsigned long long)needed);
            else if (rc == VLS_E_NOTFOUND)
                raise_missing(kv.seq, spans, kv.n);
            else
                store_err(self, rc);
            goto done;
        }
        PyObject *lst = PyList_New((Py_ssize_t)kv.n);
        if (!lst) {
            Py_DECREF(target);
            goto done;
        }
        for (size_t i = 0; i < kv.n; i++) {
            PyObject *t = Py_BuildValue("(KK)", (unsigned long long)spans[i].offset,
                                        (unsigned long long)spans[i].length);
            if (!t) {
                Py_DECREF(lst);
                Py_DECREF(target);
                goto done;
            }
            PyList_SET_ITEM(lst, (Py_ssize_t)i, t);
        }
        res = Py_BuildValue("(NN)", target, lst);
        goto done;
    }
    raise_code(VLS_E_IO, "get_many: records kept changing size under concurrent writes");
done:
    PyMem_Free(spans);
    keyvec_free(&kv);
    return res;
}

static PyObject *opts_dict(const vls_options *o)
{
    return Py_BuildValue("{s:I,s:s,s:i,s:i,s:i,s:I,s:s,s:i,s:K,s:O}", "chunk_size", o->chunk_size,
                         "codec", vls_compressor_name(o->codec), "level", o->level, "shuffle",
                         o->shuffle, "typesize", o->typesize, "block_size", o->block_size,
                         "placement", vls_placement_name(o->placement), "threads", o->threads,
                         "cache_bytes", (unsigned long long)o->cache_bytes, "write_behind",
                         o->write_behind ? Py_True : Py_False);
}

static PyObject *Store_stat(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    vls_stat st = {.struct_size = sizeof st};
    int rc = vls_stat_get(self->s, &st);
    if (rc != VLS_OK)
        return store_err(self, rc);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:N}", "records",
                         (unsigned long long)st.records, "logical_bytes",
                         (unsigned long long)st.logical_bytes, "dead_bytes",
                         (unsigned long long)st.dead_bytes, "file_bytes",
                         (unsigned long long)st.file_bytes, "chunks",
                         (unsigned long long)st.chunks, "commits", (unsigned long long)st.commits,
                         "format_version", st.format_version, "options",
                         opts_dict(&st.options));
}

/* Collects vls_verify's sentences; runs without the GIL, so into plain C memory. */
typedef struct {
    char **lines;
    size_t n, cap;
} problems;

static void collect_problem(void *ctx, const char *problem)
{
    problems *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        char **l = realloc(p->lines, cap * sizeof *l);
        if (!l)
            return;
        p->lines = l;
        p->cap = cap;
    }
    char *s = strdup(problem);
    if (s)
        p->lines[p->n++] = s;
}

static PyObject *Store_verify(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    problems p = {0};
    uint64_t count = 0;
    int rc;
    STORE_NOGIL(self, rc = vls_verify(self->s, collect_problem, &p, &count));
    PyObject *lst = PyList_New(0);
    for (size_t i = 0; i < p.n; i++) {
        if (lst) {
            PyObject *s = PyUnicode_DecodeUTF8(p.lines[i], (Py_ssize_t)strlen(p.lines[i]),
                                               "replace");
            if (!s || PyList_Append(lst, s) < 0)
                Py_CLEAR(lst);
            Py_XDECREF(s);
        }
        free(p.lines[i]);
    }
    free(p.lines);
    if (!lst)
        return NULL;
    return Py_BuildValue("(iN)", rc, lst);
}

static PyObject *Store_compact(StoreObject *self, PyObject *path)
{
    PyObject *encoded;
    if (store_check(self) < 0 || !PyUnicode_FSConverter(path, &encoded))
        return NULL;
    int rc;
    STORE_NOGIL(self, rc = vls_compact(self->s, PyBytes_AS_STRING(encoded)));
    Py_DECREF(encoded);
    if (rc != VLS_OK)
        return store_err(self, rc);
    Py_RETURN_NONE;
}

static PyObject *Store_get_closed(StoreObject *self, void *c)
{
    return PyBool_FromLong(self->s == NULL);
}
static PyObject *Store_get_writable(StoreObject *self, void *c)
{
    return PyBool_FromLong(self->writable);
}
static PyObject *Store_get_path(StoreObject *self, void *c)
{
    PyObject *p = self->path ? self->path : Py_None;
    Py_INCREF(p);
    return p;
}
static PyObject *Store_get_nloaders(StoreObject *self, void *c)
{
    return PyLong_FromLong(self->nloaders);
}

static PyMethodDef Store_methods[] = {
    {"close", (PyCFunction)Store_close, METH_NOARGS, "Commit (unless read-only) and close."},
    {"commit", (PyCFunction)Store_commit, METH_NOARGS, "Make every change so far durable."},
    {"refresh", (PyCFunction)Store_refresh, METH_NOARGS, "Read-only handle: load the newest commit."},
    {"put", (PyCFunction)(void (*)(void))Store_put, METH_VARARGS | METH_KEYWORDS,
     "put(key, value, flags=0): store the bytes of a buffer."},
    {"delete", (PyCFunction)Store_delete, METH_O, "delete(key)"},
    {"get", (PyCFunction)(void (*)(void))Store_get, METH_VARARGS | METH_KEYWORDS,
     "get(key) -> bytes; get(key, out) -> bytes written into out."},
    {"size", (PyCFunction)Store_size, METH_O, "size(key) -> record length"},
    {"contains", (PyCFunction)Store_contains, METH_O, "contains(key) -> bool"},
    {"count", (PyCFunction)Store_count, METH_NOARGS, "number of live records"},
    {"iter_keys", (PyCFunction)Store_iter_keys, METH_VARARGS,
     "iter_keys(pos, max) -> (next_pos, [key bytes])"},
    {"get_many_size", (PyCFunction)Store_get_many_size, METH_O, "total bytes of the records"},
    {"get_many", (PyCFunction)(void (*)(void))Store_get_many, METH_VARARGS | METH_KEYWORDS,
     "get_many(keys, out=None) -> (buffer, [(offset, length)])"},
    {"stat", (PyCFunction)Store_stat, METH_NOARGS, "statistics and settings"},
    {"verify", (PyCFunction)Store_verify, METH_NOARGS, "verify() -> (code, [problem, ...])"},
    {"compact", (PyCFunction)Store_compact, METH_O, "compact(out_path)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Store_getset[] = {
    {"closed", (getter)Store_get_closed, NULL, NULL, NULL},
    {"writable", (getter)Store_get_writable, NULL, NULL, NULL},
    {"path", (getter)Store_get_path, NULL, NULL, NULL},
    {"nloaders", (getter)Store_get_nloaders, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vlstore._core.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_dealloc = (destructor)Store_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Store(path=None, flags=0, **options): an open vls_store handle.",
    .tp_methods = Store_methods,
    .tp_getset = Store_getset,
    .tp_init = (initproc)Store_init,
    .tp_new = PyType_GenericNew,
};

/*-*************************************
 *  Frames
 ***************************************/

/* Borrows a contiguous buffer of exactly `want` bytes for an array argument (None: absent).
 * Returns 1 when present, 0 when None, -1 on error. */
static int frame_arg(PyObject *o, const char *what, size_t want, Py_buffer *b)
{
    if (o == Py_None)
        return 0;
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if ((size_t)b->len != want) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zu", what, b->len, want);
        PyBuffer_Release(b);
        return -1;
    }
    return 1;
}

/* frame_encode(nsites, ncodim, name, types, masses, positions, forces, energy, cell, pbc,
 *              charges, stress) -> bytes
 * Arrays are buffers already in the schema's element types (int32, float32, uint8), checked
 * here for their exact byte length; vlstore/serialize.py does the numpy conversions. */
static PyObject *Core_frame_encode(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"nsites", "ncodim", "name", "types", "masses", "positions",
                             "forces", "energy", "cell", "pbc", "charges", "stress", NULL};
    int nsites, ncodim;
    PyObject *name, *o[9], *energy;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iiOOOOOOOOOO", kwlist, &nsites, &ncodim, &name,
                                     &o[0], &o[1], &o[2], &o[3], &energy, &o[4], &o[5], &o[6],
                                     &o[7]))
        return NULL;
    if (nsites < 0 || ncodim < 1)
        return PyErr_Format(PyExc_ValueError, "nsites must be >= 0 and ncodim >= 1");
    size_t ns = (size_t)nsites, nc = (size_t)ncodim;
    if (ns > 0 && nc > (SIZE_MAX / 8) / ns)
        return raise_code(VLS_E_TOOBIG, "frame_encode: nsites * ncodim is out of range");
    const char *names[8] = {"types", "masses", "positions", "forces", "cell", "pbc", "charges",
                            "stress"};
    size_t want[8] = {4 * ns, 4 * ns, 4 * ns * nc, 4 * ns * nc, 36, 3, 4 * ns, 36};
    Py_buffer b[8];
    int have[8] = {0};
    PyObject *res = NULL;
    vls_frame f;
    vls_frame_init(&f);
    f.nsites = nsites;
    f.ncodim = ncodim;
    if (name != Py_None) {
        if (!PyBytes_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "frame_encode: name must be bytes or None");
            return NULL;
        }
        f.name = PyBytes_AS_STRING(name);
        f.name_len = (size_t)PyBytes_GET_SIZE(name);
    }
    if (energy != Py_None) {
        f.energy = PyFloat_AsDouble(energy);
        if (f.energy == -1.0 && PyErr_Occurred())
            return NULL;
        f.has_energy = 1;
    }
    for (int i = 0; i < 8; i++) {
        have[i] = frame_arg(o[i], names[i], want[i], &b[i]);
        if (have[i] < 0) {
            have[i] = 0;
            goto done;
        }
    }
    if (nsites > 0 && (!have[0] || !have[1] || !have[2])) {
        PyErr_SetString(PyExc_ValueError, "types, masses and positions are required");
        goto done;
    }
    f.types = have[0] ? b[0].buf : NULL;
    f.masses = have[1] ? b[1].buf : NULL;
    f.positions = have[2] ? b[2].buf : NULL;
    f.forces = have[3] ? b[3].buf : NULL;
    f.cell = have[4] ? b[4].buf : NULL;
    f.pbc = have[5] ? b[5].buf : NULL;
    f.charges = have[6] ? b[6].buf : NULL;
    f.stress = have[7] ? b[7].buf : NULL;
    size_t size = vls_frame_encoded_size(&f);
    if (size == 0) {
        raise_code(VLS_E_TOOBIG, "frame_encode: the frame is too big to encode (2 GiB limit)");
        goto done;
    }
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!res)
        goto done;
    size_t len = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = vls_frame_encode(&f, PyBytes_AS_STRING(res), size, &len);
    Py_END_ALLOW_THREADS
    if (rc != VLS_OK || len != size) {
        Py_CLEAR(res);
        raise_code(rc != VLS_OK ? rc : VLS_E_CORRUPT, "frame_encode failed");
    }
done:
    for (int i = 0; i < 8; i++)
        if (have[i])
            PyBuffer_Release(&b[i]);
    return res;
}

/* frame_view(buffer) -> (name bytes, nsites, ncodim, energy or None,
 *                        (off_types, off_masses, off_positions, off_forces, off_cell, off_pbc,
 *                         off_charges, off_stress))
 * Offsets are byte offsets into the buffer, -1 for an absent array. The buffer is checked
 * by vls_frame_view (the C verifier) first: a malformed record raises CorruptError. */
static PyObject *Core_frame_view(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    vls_frame f;
    int rc = vls_frame_view(b.buf, (size_t)b.len, &f);
    if (rc != VLS_OK) {
        PyBuffer_Release(&b);
        char full[1100];
        snprintf(full, sizeof full, "not a valid frame record: %s", vls_errmsg(NULL));
        return raise_code(rc == VLS_E_INVAL ? VLS_E_CORRUPT : rc, full);
    }
    const char *base = b.buf;
    const void *ptrs[8] = {f.types, f.masses, f.positions, f.forces, f.cell, f.pbc, f.charges,
                           f.stress};
    PyObject *offs = PyTuple_New(8);
    if (!offs) {
        PyBuffer_Release(&b);
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        Py_ssize_t off = ptrs[i] ? (Py_ssize_t)((const char *)ptrs[i] - base) : -1;
        PyObject *v = PyLong_FromSsize_t(off);
        if (!v) {
            Py_DECREF(offs);
            PyBuffer_Release(&b);
            return NULL;
        }
        PyTuple_SET_ITEM(offs, i, v);
    }
    PyObject *name = PyBytes_FromStringAndSize(f.name, (Py_ssize_t)f.name_len);
    PyObject *energy;
    if (f.has_energy) {
        energy = PyFloat_FromDouble(f.energy);
    } else {
        Py_INCREF(Py_None);
        energy = Py_None;
    }
    PyBuffer_Release(&b);
    if (!name || !energy) {
        Py_XDECREF(name);
        Py_XDECREF(energy);
        Py_DECREF(offs);
        return NULL;
    }
    return Py_BuildValue("(NiiNN)", name, (int)f.nsites, (int)f.ncodim, energy, offs);
}

/* frame_verify(buffer) -> None, or raises CorruptError with the verifier's message. */
static PyObject *Core_frame_verify(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    int rc = vls_frame_verify(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    if (rc != VLS_OK)
        return raise_code(rc == VLS_E_INVAL ? VLS_E_CORRUPT : rc, vls_errmsg(NULL));
    Py_RETURN_NONE;
}

/*-*************************************
 *  Hashes, names
 ***************************************/

static PyObject *Core_hash128(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    unsigned char out[16];
    Py_BEGIN_ALLOW_THREADS
    vls_hash128(b.buf, (size_t)b.len, out);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return PyBytes_FromStringAndSize((const char *)out, 16);
}

static PyObject *Core_hash64(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    uint64_t h;
    Py_BEGIN_ALLOW_THREADS
    h = vls_hash64(b.buf, (size_t)b.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLongLong(h);
}

static PyObject *Core_codec_from_name(PyObject *mod, PyObject *arg)
{
    const char *n = PyUnicode_AsUTF8(arg);
    if (!n)
        return NULL;
    return PyLong_FromLong(vls_compressor_from_name(n));
}

static PyObject *Core_placement_from_name(PyObject *mod, PyObject *arg)
{
    const char *n = PyUnicode_AsUTF8(arg);
    if (!n)
        return NULL;
    return PyLong_FromLong(vls_placement_from_name(n));
}

static PyObject *Core_strerror(PyObject *mod, PyObject *arg)
{
    long c = PyLong_AsLong(arg);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(vls_strerror((int)c));
}

/*-*************************************
 *  Loader
 ***************************************/
#ifdef VLSTORE_HAVE_LOADER

typedef struct {
    PyObject_HEAD
    vls_loader *ld;
    PyObject *stores; /* tuple of Store objects the loader reads (or empty: it opened paths) */
    int busy;
} LoaderObject;

static int loader_check(LoaderObject *self)
{
    if (!self->ld) {
        PyErr_SetString(ErrClosed ? ErrClosed : PyExc_ValueError, "the loader is closed");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "the loader is in use by another thread");
        return -1;
    }
    return 0;
}

static void loader_release_stores(LoaderObject *self)
{
    if (!self->stores)
        return;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->stores); i++)
        ((StoreObject *)PyTuple_GET_ITEM(self->stores, i))->nloaders--;
    Py_CLEAR(self->stores);
}

static void loader_close(LoaderObject *self)
{
    if (self->ld) {
        vls_loader *ld = self->ld;
        self->ld = NULL;
        Py_BEGIN_ALLOW_THREADS
        vls_loader_close(ld);
        Py_END_ALLOW_THREADS
    }
    loader_release_stores(self);
}

/* Loader(sources, batch_size=64, read_size=4, n_buffers=2, shuffle=True, merge_last=True,
 *        drop_last=False, prefetch=True, rank=0, world=1, threads=1, seed=0, epoch=0)
 * sources: a sequence of Store objects, or of paths (the loader opens those read-only). */
static int Loader_init(LoaderObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sources", "batch_size", "read_size", "n_buffers", "shuffle",
                             "merge_last", "drop_last", "prefetch", "rank", "world",
                             "threads", "seed", "epoch", NULL};
    PyObject *sources;
    vls_loader_options o;
    vls_loader_options_init(&o);
    unsigned int batch = o.batch_size, read = o.read_size, nbuf = o.n_buffers;
    int shuffle = o.shuffle, merge = o.merge_last, drop = o.drop_last, pre = o.prefetch;
    unsigned int rank = o.rank, world = o.world;
    int threads = o.threads;
    unsigned long long seed = o.seed, epoch = o.epoch;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|IIIppppIIiKK", kwlist, &sources, &batch,
                                     &read, &nbuf, &shuffle, &merge, &drop, &pre, &rank, &world,
                                     &threads, &seed, &epoch))
        return -1;
    if (self->ld) {
        PyErr_SetString(PyExc_ValueError, "Loader.__init__ called twice");
        return -1;
    }
    o.batch_size = batch;
    o.read_size = read;
    o.n_buffers = nbuf;
    o.shuffle = shuffle;
    o.merge_last = merge;
    o.drop_last = drop;
    o.prefetch = pre;
    o.rank = rank;
    o.world = world;
    o.threads = threads;
    o.seed = seed;
    o.epoch = epoch;

    PyObject *seq = PySequence_Fast(sources, "sources must be a sequence");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "a loader needs at least one store");
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    int all_stores = 1, any_store = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int is = PyObject_TypeCheck(items[i], &StoreType);
        all_stores &= is;
        any_store |= is;
    }
    if (any_store && !all_stores) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_TypeError, "sources: all Store objects or all paths");
        return -1;
    }
    int rc;
    char msg[1024] = "";
    vls_loader *ld = NULL;
    if (all_stores) {
        vls_store **st = PyMem_Calloc((size_t)n, sizeof *st);
        if (!st) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        /* Lock the distinct stores in address order (no lock-order deadlock), then count
         * the loader on them before the open, so no change runs during or after it. */
        StoreObject **lk = PyMem_Calloc((size_t)n, sizeof *lk);
        if (!lk) {
            PyMem_Free(st);
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        size_t nl = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            StoreObject *so = (StoreObject *)items[i];
            size_t j = 0;
            while (j < nl && lk[j] != so)
                j++;
            if (j == nl)
                lk[nl++] = so;
        }
        for (size_t a = 1; a < nl; a++) /* insertion sort by address: n is small */
            for (size_t b = a; b > 0 && (uintptr_t)lk[b] < (uintptr_t)lk[b - 1]; b--) {
                StoreObject *t = lk[b];
                lk[b] = lk[b - 1];
                lk[b - 1] = t;
            }
        size_t locked = 0;
        int ok = 1;
        for (; locked < nl; locked++)
            if (store_lock(lk[locked]) < 0) {
                ok = 0;
                break;
            }
        for (size_t j = 0; ok && j < nl; j++)
            if (store_check(lk[j]) < 0) /* closed while we waited */
                ok = 0;
        if (!ok) {
            while (locked > 0)
                store_unlock(lk[--locked]);
            PyMem_Free(lk);
            PyMem_Free(st);
            Py_DECREF(seq);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            st[i] = ((StoreObject *)items[i])->s;
        for (Py_ssize_t i = 0; i < n; i++) {
            ((StoreObject *)items[i])->busy++;
            ((StoreObject *)items[i])->nloaders++;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = vls_loader_open_stores(st, (size_t)n, &o, &ld);
        if (rc != VLS_OK)
            snprintf(msg, sizeof msg, "%s", vls_loader_errmsg(NULL));
        Py_END_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            ((StoreObject *)items[i])->busy--;
            if (rc != VLS_OK)
                ((StoreObject *)items[i])->nloaders--;
        }
        while (locked > 0)
            store_unlock(lk[--locked]);
        PyMem_Free(lk);
        PyMem_Free(st);
        if (rc == VLS_OK) {
            self->stores = PySequence_Tuple(seq);
            if (!self->stores) {
                vls_loader_close(ld);
                for (Py_ssize_t i = 0; i < n; i++)
                    ((StoreObject *)items[i])->nloaders--;
                Py_DECREF(seq);
                return -1;
            }
        }
    } else {
        PyObject **enc = PyMem_Calloc((size_t)n, sizeof *enc);
        const char **paths = PyMem_Calloc((size_t)n, sizeof *paths);
        if (!enc || !paths) {
            PyMem_Free(enc);
            PyMem_Free(paths);
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        rc = VLS_OK;
        Py_ssize_t got = 0;
        for (; got < n; got++) {
            if (!PyUnicode_FSConverter(items[got], &enc[got]))
                break;
            paths[got] = PyBytes_AS_STRING(enc[got]);
        }
        if (got == n) {
            Py_BEGIN_ALLOW_THREADS
            rc = vls_loader_open(paths, (size_t)n, &o, &ld);
            if (rc != VLS_OK)
                snprintf(msg, sizeof msg, "%s", vls_loader_errmsg(NULL));
            Py_END_ALLOW_THREADS
        }
        for (Py_ssize_t i = 0; i < got; i++)
            Py_DECREF(enc[i]);
        PyMem_Free(enc);
        PyMem_Free(paths);
        if (got < n) {
            Py_DECREF(seq);
            return -1;
        }
        self->stores = PyTuple_New(0);
    }
    Py_DECREF(seq);
    if (rc != VLS_OK) {
        if (rc == VLS_E_NOTFOUND)
            PyErr_SetString(PyExc_FileNotFoundError, msg);
        else
            raise_code(rc, msg);
        return -1;
    }
    self->ld = ld;
    return 0;
}

static void Loader_dealloc(LoaderObject *self)
{
    loader_close(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Loader_close(LoaderObject *self, PyObject *unused)
{
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "the loader is in use by another thread");
        return NULL;
    }
    loader_close(self);
    Py_RETURN_NONE;
}

#define REC_ALIGN 16

/* next() -> None at the end of the epoch, or (buffer, [(offset, length, key, file, index)])
 * with the batch's records copied, 16-byte aligned, into a new bytearray. */
static PyObject *Loader_next(LoaderObject *self, PyObject *unused)
{
    if (loader_check(self) < 0)
        return NULL;
    const vls_record *recs = NULL;
    size_t n = 0;
    int rc;
    char msg[512] = "";
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = vls_loader_next(self->ld, &recs, &n);
    if (rc < 0)
        snprintf(msg, sizeof msg, "%s", vls_loader_errmsg(self->ld));
    Py_END_ALLOW_THREADS
    self->busy--;
    if (rc < 0)
        return raise_code(rc, msg);
    if (rc == 0)
        Py_RETURN_NONE;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (recs[i].len + (REC_ALIGN - 1)) & ~(uint64_t)(REC_ALIGN - 1);
    if (total > (uint64_t)PY_SSIZE_T_MAX - REC_ALIGN)
        return PyErr_NoMemory();
    /* bytearray storage comes from PyObject_Malloc: 16-aligned on 64-bit CPython; the
     * records' offsets are computed from the actual address so alignment holds regardless. */
    PyObject *buf = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(total + REC_ALIGN));
    if (!buf)
        return NULL;
    char *base = PyByteArray_AS_STRING(buf);
    size_t pad = (size_t)((REC_ALIGN - ((uintptr_t)base & (REC_ALIGN - 1))) & (REC_ALIGN - 1));
    PyObject *lst = PyList_New((Py_ssize_t)n);
    if (!lst) {
        Py_DECREF(buf);
        return NULL;
    }
    uint64_t off = pad;
    for (size_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(KKy#IK)", (unsigned long long)off,
                                    (unsigned long long)recs[i].len, (const char *)recs[i].key,
                                    (Py_ssize_t)recs[i].klen, (unsigned)recs[i].file,
                                    (unsigned long long)recs[i].index);
        if (!t) {
            Py_DECREF(lst);
            Py_DECREF(buf);
            return NULL;
        }
        PyList_SET_ITEM(lst, (Py_ssize_t)i, t);
        off += (recs[i].len + (REC_ALIGN - 1)) & ~(uint64_t)(REC_ALIGN - 1);
    }
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    uint64_t o2 = pad;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len)
            memcpy(base + o2, recs[i].data, (size_t)recs[i].len);
        o2 += (recs[i].len + (REC_ALIGN - 1)) & ~(uint64_t)(REC_ALIGN - 1);
    }
    Py_END_ALLOW_THREADS
    self->busy--;
    return Py_BuildValue("(NN)", buf, lst);
}

/* Restarts the loader at the beginning of `epoch` (pos NULL) or at a saved position, without
 * the GIL (a restart joins the prefetch thread and may start reading). */
static PyObject *loader_restart(LoaderObject *self, uint64_t epoch, const vls_loader_position *pos)
{
    if (loader_check(self) < 0)
        return NULL;
    int rc;
    char msg[512] = "";
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = pos ? vls_loader_seek(self->ld, pos) : vls_loader_start_epoch(self->ld, epoch);
    if (rc != VLS_OK)
        snprintf(msg, sizeof msg, "%s", vls_loader_errmsg(self->ld));
    Py_END_ALLOW_THREADS
    self->busy--;
    if (rc != VLS_OK)
        return raise_code(rc, msg);
    Py_RETURN_NONE;
}

static PyObject *Loader_start_epoch(LoaderObject *self, PyObject *arg)
{
    unsigned long long e = PyLong_AsUnsignedLongLong(arg);
    if (e == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return loader_restart(self, e, NULL);
}

static PyObject *Loader_tell(LoaderObject *self, PyObject *unused)
{
    if (loader_check(self) < 0)
        return NULL;
    vls_loader_position p;
    int rc = vls_loader_tell(self->ld, &p);
    if (rc != VLS_OK)
        return raise_code(rc, vls_loader_errmsg(self->ld));
    return Py_BuildValue("(KKK)", (unsigned long long)p.epoch, (unsigned long long)p.batch,
                         (unsigned long long)p.fingerprint);
}

static PyObject *Loader_seek(LoaderObject *self, PyObject *args)
{
    unsigned long long e, b, fp;
    if (!PyArg_ParseTuple(args, "KKK", &e, &b, &fp))
        return NULL;
    vls_loader_position p = {e, b, fp};
    return loader_restart(self, e, &p);
}

static PyObject *Loader_info(LoaderObject *self, PyObject *unused)
{
    if (loader_check(self) < 0)
        return NULL;
    vls_loader_info in;
    int rc = vls_loader_info_get(self->ld, &in);
    if (rc != VLS_OK)
        return raise_code(rc, vls_loader_errmsg(self->ld));
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "records",
                         (unsigned long long)in.records, "groups", (unsigned long long)in.groups,
                         "rank_records", (unsigned long long)in.rank_records, "rank_batches",
                         (unsigned long long)in.rank_batches, "rank_reads",
                         (unsigned long long)in.rank_reads, "epoch", (unsigned long long)in.epoch,
                         "bytes_read", (unsigned long long)in.bytes_read, "reads_done",
                         (unsigned long long)in.reads_done, "wait_ns",
                         (unsigned long long)in.wait_ns);
}

static PyObject *Loader_get_closed(LoaderObject *self, void *c)
{
    return PyBool_FromLong(self->ld == NULL);
}

static PyMethodDef Loader_methods[] = {
    {"close", (PyCFunction)Loader_close, METH_NOARGS, "stop the prefetch thread, free all"},
    {"next", (PyCFunction)Loader_next, METH_NOARGS,
     "next() -> None, or (buffer, [(offset, length, key, file, index)])"},
    {"start_epoch", (PyCFunction)Loader_start_epoch, METH_O, "restart at epoch e"},
    {"tell", (PyCFunction)Loader_tell, METH_NOARGS, "(epoch, batch, fingerprint)"},
    {"seek", (PyCFunction)Loader_seek, METH_VARARGS, "seek(epoch, batch, fingerprint)"},
    {"info", (PyCFunction)Loader_info, METH_NOARGS, "the shape of this rank's epoch"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Loader_getset[] = {{"closed", (getter)Loader_get_closed, NULL, NULL, NULL},
                                      {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject LoaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vlstore._core.Loader",
    .tp_basicsize = sizeof(LoaderObject),
    .tp_dealloc = (destructor)Loader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Loader(sources, **options): a vls_loader (block-shuffled batches).",
    .tp_methods = Loader_methods,
    .tp_getset = Loader_getset,
    .tp_init = (initproc)Loader_init,
    .tp_new = PyType_GenericNew,
};
#endif /* VLSTORE_HAVE_LOADER */

/*-*************************************
 *  Module
 ***************************************/

static PyMethodDef Core_methods[] = {
    {"_set_errors", Core_set_errors, METH_VARARGS, "register the exception classes"},
    {"frame_encode", (PyCFunction)(void (*)(void))Core_frame_encode,
     METH_VARARGS | METH_KEYWORDS, "encode a frame (vls_frame_encode) -> bytes"},
    {"frame_view", Core_frame_view, METH_O, "verify and locate a frame's fields"},
    {"frame_verify", Core_frame_verify, METH_O, "verify a frame record"},
    {"hash128", Core_hash128, METH_O, "XXH3-128 (seed 0), 16 bytes big-endian"},
    {"hash64", Core_hash64, METH_O, "XXH3-64 (seed 0)"},
    {"codec_from_name", Core_codec_from_name, METH_O, "codec number, or -1"},
    {"placement_from_name", Core_placement_from_name, METH_O, "placement number, or -1"},
    {"strerror", Core_strerror, METH_O, "name of an error code"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "vlstore._core",
                                         "Bindings of the vlstore C library.", -1, Core_methods,
                                         NULL, NULL, NULL, NULL};

static int add_int(PyObject *m, const char *name, long v)
{
    return PyModule_AddIntConstant(m, name, v);
}

PyMODINIT_FUNC PyInit__core(void);
PyMODINIT_FUNC PyInit__core(void)
{
    if (PyType_Ready(&StoreType) < 0)
        return NULL;
#ifdef VLSTORE_HAVE_LOADER
    if (PyType_Ready(&LoaderType) < 0)
        return NULL;
#endif
    PyObject *m = PyModule_Create(&core_module);
    if (!m)
        return NULL;
    Py_INCREF(&StoreType);
    if (PyModule_AddObject(m, "Store", (PyObject *)&StoreType) < 0)
        goto fail;
#ifdef VLSTORE_HAVE_LOADER
    Py_INCREF(&LoaderType);
    if (PyModule_AddObject(m, "Loader", (PyObject *)&LoaderType) < 0)
        goto fail;
    if (add_int(m, "HAVE_LOADER", 1) < 0)
        goto fail;
#else
    if (add_int(m, "HAVE_LOADER", 0) < 0)
        goto fail;
#endif
    if (PyModule_AddStringConstant(m, "VERSION", VLS_VERSION_STRING) < 0)
        goto fail;
    struct {
        const char *n;
        long v;
    } ints[] = {{"RDONLY", VLS_RDONLY},
                {"RDWR", VLS_RDWR},
                {"CREATE", VLS_CREATE},
                {"TRUNCATE", VLS_TRUNCATE},
                {"EXCL", VLS_EXCL},
                {"VERIFY_READS", VLS_VERIFY_READS},
                {"NOSYNC", VLS_NOSYNC},
                {"NOMMAP", VLS_NOMMAP},
                {"NOREPLACE", VLS_NOREPLACE},
                {"MAX_KEY", VLS_MAX_KEY},
                {"SHUFFLE_NONE", VLS_SHUFFLE_NONE},
                {"SHUFFLE_BYTE", VLS_SHUFFLE_BYTE},
                {"SHUFFLE_BIT", VLS_SHUFFLE_BIT},
                {"E_INVAL", VLS_E_INVAL},
                {"E_NOMEM", VLS_E_NOMEM},
                {"E_IO", VLS_E_IO},
                {"E_NOSPC", VLS_E_NOSPC},
                {"E_NOTFOUND", VLS_E_NOTFOUND},
                {"E_EXISTS", VLS_E_EXISTS},
                {"E_TOOSMALL", VLS_E_TOOSMALL},
                {"E_CORRUPT", VLS_E_CORRUPT},
                {"E_CHECKSUM", VLS_E_CHECKSUM},
                {"E_VERSION", VLS_E_VERSION},
                {"E_BADMAGIC", VLS_E_BADMAGIC},
                {"E_TRUNCATED", VLS_E_TRUNCATED},
                {"E_LOCKED", VLS_E_LOCKED},
                {"E_READONLY", VLS_E_READONLY},
                {"E_TOOBIG", VLS_E_TOOBIG},
                {"E_CODEC", VLS_E_CODEC},
                {"E_FAILED", VLS_E_FAILED},
                {"E_NOTDIR", VLS_E_NOTDIR}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (add_int(m, ints[i].n, ints[i].v) < 0)
            goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
