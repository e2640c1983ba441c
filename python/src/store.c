/*
 * store.c — vlstore._core's Store type: an open vls_store handle (include/vlstore.h), and the
 * conversion of Python keys (str, bytes, int) to the library's. SChunkStore and Depot
 * (vlstore/store.py) are built on it.
 */
#include "core.h"

int key_from(PyObject *o, keybuf *kb)
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

void keyvec_free(keyvec *kv)
{
    PyMem_Free(kv->keys);
    PyMem_Free(kv->u64);
    Py_XDECREF(kv->seq);
    memset(kv, 0, sizeof *kv);
}

int keyvec_from(PyObject *o, keyvec *kv)
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

/* Takes self->wlock, waiting with the GIL released (the holder may need the GIL to finish).
 * The lock is not reentrant: a second take by the holding thread (a finalizer writing to a
 * store this thread is iterating) raises instead of deadlocking. */
int store_lock(StoreObject *self)
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

void store_unlock(StoreObject *self)
{
    self->wowner = 0;
    PyThread_release_lock(self->wlock);
}

int check_same_process(pid_t pid, const char *what)
{
    if (pid == getpid())
        return 0;
    PyErr_Format(PyExc_ValueError,
                 "this %s was opened by process %ld and inherited through fork(); its "
                 "threads and locks exist only there: open it again in this process",
                 what, (long)pid);
    return -1;
}

int store_check(StoreObject *self)
{
    if (self->s && check_same_process(self->pid, "store") < 0)
        return -1;
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

/* Raises the exception for a failed call on the store: `msg` is the detail CORE_NOGIL copied
 * (or vls_errmsg(self->s) for a call made with the GIL held). A missing key raises
 * NotFoundError(key), as a dict would, when `key` is given. */
static PyObject *store_raise(int rc, const char *msg, PyObject *key)
{
    if (rc != VLS_E_NOTFOUND || !key)
        return raise_code(rc, msg);
    PyObject *detail = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    raise_not_found(key, detail);
    Py_XDECREF(detail);
    return NULL;
}

/* Runs `call` with the GIL released, counted in self->busy; a failure's detail lands in msg. */
#define STORE_NOGIL(rc, call, msg) CORE_NOGIL(&self->busy, rc, call, vls_errmsg(self->s), msg)

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
    char msg[CORE_MSG_MAX];
    /* vls_errmsg(NULL) is the calling thread's: CORE_NOGIL copies it before the GIL returns */
    CORE_NOGIL(NULL, rc, vls_open(cpath, flags, &o, &s), vls_errmsg(NULL), msg);
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
    self->pid = getpid();
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
     * neither can be active here. A handle inherited through fork() is abandoned. */
    if (self->s && self->pid == getpid()) {
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

/* Commits (a read-only handle has nothing to commit) and closes; the commit's failure wins, as
 * it is the one that loses data. The handle is freed either way. */
static int commit_and_close(vls_store *s)
{
    int rc = vls_commit(s);
    if (rc == VLS_E_READONLY)
        rc = VLS_OK;
    int rc2 = vls_close(s);
    return rc != VLS_OK ? rc : rc2;
}

static PyObject *Store_close(StoreObject *self, PyObject *unused)
{
    if (!self->s)
        Py_RETURN_NONE;
    if (self->pid != getpid()) { /* inherited through fork(): the parent's to close */
        self->s = NULL;
        Py_RETURN_NONE;
    }
    if (self->busy || self->nloaders) {
        PyErr_SetString(PyExc_ValueError, self->busy ? "the store is in use by another thread"
                                                     : "close the loaders reading this store "
                                                       "first");
        return NULL;
    }
    vls_store *s = self->s;
    int rc;
    char msg[CORE_MSG_MAX];
    /* commit first, to report the commit's detail if it fails */
    CORE_NOGIL(&self->busy, rc, commit_and_close(s), vls_errmsg(s), msg);
    self->s = NULL;
    if (rc != VLS_OK)
        return raise_code(rc, msg);
    Py_RETURN_NONE;
}

/* Runs fn on the store under the handle's lock with the GIL released, after `check` passes
 * with the lock held (the store may have been closed, or a loader opened on it, while this
 * thread waited for the lock). None, or the call's exception. */
static PyObject *store_call_locked(StoreObject *self, int (*fn)(vls_store *),
                                   int (*check)(StoreObject *))
{
    if (store_check(self) < 0 || store_lock(self) < 0)
        return NULL;
    if (check(self) < 0) {
        store_unlock(self);
        return NULL;
    }
    int rc;
    char msg[CORE_MSG_MAX];
    STORE_NOGIL(rc, fn(self->s), msg);
    store_unlock(self);
    if (rc != VLS_OK)
        return store_raise(rc, msg, NULL);
    Py_RETURN_NONE;
}

static PyObject *Store_commit(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    if (!self->writable)
        Py_RETURN_NONE;
    return store_call_locked(self, vls_commit, store_check);
}

static PyObject *Store_rollback(StoreObject *self, PyObject *unused)
{
    return store_call_locked(self, vls_rollback, store_check);
}

static PyObject *Store_refresh(StoreObject *self, PyObject *unused)
{
    return store_call_locked(self, vls_refresh, store_check_change);
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
    char msg[CORE_MSG_MAX];
    STORE_NOGIL(rc, vls_put(self->s, kb.data, kb.len, val.buf, (size_t)val.len, flags), msg);
    store_unlock(self);
    PyBuffer_Release(&val);
    if (rc != VLS_OK)
        return store_raise(rc, msg, NULL);
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
    char msg[CORE_MSG_MAX];
    STORE_NOGIL(rc, vls_delete(self->s, kb.data, kb.len), msg);
    store_unlock(self);
    if (rc != VLS_OK)
        return store_raise(rc, msg, key);
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
    char msg[CORE_MSG_MAX];
    size_t got = 0;
    if (out != Py_None) {
        Py_buffer b;
        if (PyObject_GetBuffer(out, &b, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
            return NULL;
        STORE_NOGIL(rc, vls_get(self->s, kb.data, kb.len, b.buf, (size_t)b.len, &got), msg);
        PyBuffer_Release(&b);
        if (rc == VLS_E_TOOSMALL)
            return PyErr_Format(ErrInvalid, "out holds %zd bytes; the record needs %zu",
                                b.len, got);
        if (rc != VLS_OK)
            return store_raise(rc, msg, key);
        return PyLong_FromSize_t(got);
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t len;
        rc = vls_size(self->s, kb.data, kb.len, &len);
        if (rc != VLS_OK)
            return store_raise(rc, vls_errmsg(self->s), key);
        if (len > (uint64_t)PY_SSIZE_T_MAX)
            return PyErr_NoMemory();
        PyObject *res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
        if (!res)
            return NULL;
        char *dst = PyBytes_AS_STRING(res);
        STORE_NOGIL(rc, vls_get(self->s, kb.data, kb.len, dst, (size_t)len, &got), msg);
        if (rc == VLS_OK && got == len)
            return res;
        Py_DECREF(res);
        if (rc != VLS_OK && rc != VLS_E_TOOSMALL)
            return store_raise(rc, msg, key);
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
        return store_raise(rc, vls_errmsg(self->s), key);
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
        return store_raise(rc, vls_errmsg(self->s), NULL);
    return PyBool_FromLong(found);
}

static PyObject *Store_count(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(vls_count(self->s));
}

/* iter_keys(pos, max, locations=False) -> (next_pos, [key bytes, ...]); an empty list at the
 * end. Keys come in storage order; records deleted meanwhile are skipped. With locations,
 * each entry is (key, length, chunk, offset) as vls_iter_next_chunk reports them (chunk -1:
 * still in a writer's open chunk). */
static PyObject *Store_iter_keys(StoreObject *self, PyObject *args)
{
    unsigned long long pos;
    Py_ssize_t max;
    int locations = 0;
    if (!PyArg_ParseTuple(args, "Kn|p", &pos, &max, &locations))
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
        uint64_t len, chunk, offset;
        int rc = vls_iter_next_chunk(self->s, &p, &k, &klen, &len, &chunk, &offset);
        if (rc < 0) {
            store_unlock(self);
            Py_DECREF(list);
            return store_raise(rc, vls_errmsg(self->s), NULL);
        }
        if (rc == 0)
            break;
        PyObject *kb;
        if (locations)
            kb = Py_BuildValue("(y#KLK)", (const char *)k, (Py_ssize_t)klen,
                               (unsigned long long)len,
                               chunk == UINT64_MAX ? -1LL : (long long)chunk,
                               (unsigned long long)offset);
        else
            kb = PyBytes_FromStringAndSize(k, (Py_ssize_t)klen);
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
        return store_raise(rc, vls_errmsg(self->s), NULL);
    return PyLong_FromUnsignedLongLong(total);
}

PyObject *raise_missing(PyObject *seq, const vls_span *spans, size_t n)
{
    size_t missing = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (spans[i].status == VLS_E_NOTFOUND) {
            if (first == n)
                first = i;
            missing++;
        }
    PyObject *k = first < n ? PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)first) : Py_None;
    PyObject *msg = PyUnicode_FromFormat("%zu of %zu keys not found; the first is %R (position "
                                         "%zu)",
                                         missing, n, k, first);
    if (!msg)
        return NULL;
    raise_not_found(k, msg);
    Py_DECREF(msg);
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
    char msg[CORE_MSG_MAX];
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t total = 0, needed = 0;
        int rc = vls_get_many_size(self->s, kv.n, kv.keys, &total);
        if (rc != VLS_OK && rc != VLS_E_NOTFOUND) {
            store_raise(rc, vls_errmsg(self->s), NULL);
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
        STORE_NOGIL(rc, vls_get_many(self->s, kv.n, kv.keys, b.buf, (size_t)b.len,
                                     spans, &needed),
                    msg);
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
                store_raise(rc, msg, NULL);
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
        return store_raise(rc, vls_errmsg(self->s), NULL);
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

static PyObject *Store_verify(StoreObject *self, PyObject *args)
{
    int strict = 0;
    if (!PyArg_ParseTuple(args, "|p", &strict) || store_check(self) < 0)
        return NULL;
    problems p = {0};
    uint64_t count = 0;
    int rc;
    char msg[CORE_MSG_MAX];
    STORE_NOGIL(rc, vls_verify_flags(self->s, strict ? VLS_VERIFY_STRICT : 0, collect_problem,
                                     &p, &count), msg);
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
    char msg[CORE_MSG_MAX];
    STORE_NOGIL(rc, vls_compact(self->s, PyBytes_AS_STRING(encoded)), msg);
    Py_DECREF(encoded);
    if (rc != VLS_OK)
        return store_raise(rc, msg, NULL);
    Py_RETURN_NONE;
}

/* ---- the store's metadata (vls_meta_*): small, so read and changed with the GIL held ---- */

/* meta_items() -> {str key: bytes value}; keys that are not UTF-8 keep their bytes as
 * surrogates (surrogateescape). */
static PyObject *Store_meta_items(StoreObject *self, PyObject *unused)
{
    if (store_check(self) < 0)
        return NULL;
    PyObject *d = PyDict_New();
    uint64_t pos = 0;
    const char *key;
    const void *val;
    uint64_t len;
    while (d && vls_meta_next(self->s, &pos, &key, &val, &len) == 1) {
        PyObject *k = PyUnicode_DecodeUTF8(key, (Py_ssize_t)strlen(key), "surrogateescape");
        PyObject *v = PyBytes_FromStringAndSize(val, (Py_ssize_t)len);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return d;
}

/* meta_set(key, value: bytes) and meta_delete(key): written by the next commit. */
static PyObject *meta_change(StoreObject *self, PyObject *args, int set)
{
    PyObject *key;
    Py_buffer value = {0};
    if (!PyArg_ParseTuple(args, set ? "Uy*" : "U", &key, &value))
        return NULL;
    PyObject *encoded = PyUnicode_AsEncodedString(key, "utf-8", "surrogateescape");
    int rc = VLS_E_INVAL;
    if (encoded && store_check_change(self) == 0) {
        if ((size_t)PyBytes_GET_SIZE(encoded) != strlen(PyBytes_AS_STRING(encoded))) {
            PyErr_SetString(PyExc_ValueError, "a metadata key cannot hold a NUL character");
        } else {
            const char *k = PyBytes_AS_STRING(encoded);
            rc = set ? vls_meta_set(self->s, k, value.buf, (size_t)value.len)
                     : vls_meta_delete(self->s, k);
            if (rc != VLS_OK)
                store_raise(rc, vls_errmsg(self->s), rc == VLS_E_NOTFOUND ? key : NULL);
        }
    }
    Py_XDECREF(encoded);
    if (set)
        PyBuffer_Release(&value);
    if (rc != VLS_OK)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Store_meta_set(StoreObject *self, PyObject *args)
{
    return meta_change(self, args, 1);
}

static PyObject *Store_meta_delete(StoreObject *self, PyObject *args)
{
    return meta_change(self, args, 0);
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
     "iter_keys(pos, max, locations=False) -> (next_pos, [key bytes or (key, len, chunk, "
     "offset)])"},
    {"get_many_size", (PyCFunction)Store_get_many_size, METH_O, "total bytes of the records"},
    {"get_many", (PyCFunction)(void (*)(void))Store_get_many, METH_VARARGS | METH_KEYWORDS,
     "get_many(keys, out=None) -> (buffer, [(offset, length)])"},
    {"stat", (PyCFunction)Store_stat, METH_NOARGS, "statistics and settings"},
    {"verify", (PyCFunction)Store_verify, METH_VARARGS,
     "verify(strict=False) -> (code, [problem or \"note: ...\", ...])"},
    {"rollback", (PyCFunction)Store_rollback, METH_NOARGS,
     "Drop every change since the last commit (also the way on after a failed write)."},
    {"compact", (PyCFunction)Store_compact, METH_O, "compact(out_path)"},
    {"meta_items", (PyCFunction)Store_meta_items, METH_NOARGS,
     "meta_items() -> {key: value bytes}, the store's metadata"},
    {"meta_set", (PyCFunction)Store_meta_set, METH_VARARGS,
     "meta_set(key, value: bytes), written by the next commit"},
    {"meta_delete", (PyCFunction)Store_meta_delete, METH_VARARGS, "meta_delete(key)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Store_getset[] = {
    {"closed", (getter)Store_get_closed, NULL, NULL, NULL},
    {"writable", (getter)Store_get_writable, NULL, NULL, NULL},
    {"path", (getter)Store_get_path, NULL, NULL, NULL},
    {"nloaders", (getter)Store_get_nloaders, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject StoreType = {
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

