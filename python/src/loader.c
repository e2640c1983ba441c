/*
 * loader.c — vlstore._core's Loader type: a vls_loader (include/vlstore_loader.h) reading
 * Store objects or paths, block-shuffled batches for training. BlockShuffleBatch
 * (vlstore/loader.py) and vlstore.torch are built on it.
 */
#include "core.h"

#include "vlstore_loader.h"

typedef struct {
    PyObject_HEAD
    vls_loader *ld;
    PyObject *stores; /* tuple of Store objects the loader reads (or empty: it opened paths) */
    int busy;
    pid_t pid; /* the process that opened it (core.h: fork) */
    /* The memory batches are served in: n_buffers BatchMemory objects used in turn, each
     * reused only when nothing else references it (see batch.c). */
    BatchMemoryObject **pool;
    unsigned npool;
    uint64_t served;       /* batches served into the pool */
    uint64_t fresh;        /* times a pool entry was still referenced and was replaced */
} LoaderObject;

static int loader_check(LoaderObject *self)
{
    if (self->ld && check_same_process(self->pid, "loader") < 0)
        return -1;
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
    if (self->ld && self->pid != getpid()) /* inherited through fork(): abandoned */
        self->ld = NULL;
    if (self->ld) {
        vls_loader *ld = self->ld;
        self->ld = NULL;
        Py_BEGIN_ALLOW_THREADS
        vls_loader_close(ld);
        Py_END_ALLOW_THREADS
    }
    loader_release_stores(self);
    /* arrays served earlier keep their BatchMemory alive on their own */
    for (unsigned i = 0; self->pool && i < self->npool; i++)
        Py_CLEAR(self->pool[i]);
    PyMem_Free(self->pool);
    self->pool = NULL;
}

/* The pool entry the next batch goes into: the one in turn when nothing else holds it,
 * else a fresh one in its place. NULL with an exception set when out of memory. */
static BatchMemoryObject *pool_next(LoaderObject *self)
{
    if (!self->npool) { /* Loader_init takes the C loader's n_buffers range, 1..1024 */
        PyErr_SetString(PyExc_ValueError, "the loader has no batch memory (n_buffers)");
        return NULL;
    }
    BatchMemoryObject **slot = &self->pool[self->served % self->npool];
    if (*slot && !batch_memory_unshared(*slot)) {
        Py_CLEAR(*slot);
        self->fresh++;
    }
    if (!*slot)
        *slot = batch_memory_new();
    return *slot;
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
    if (nbuf >= 1 && nbuf <= 1024) {
        self->pool = PyMem_Calloc(nbuf, sizeof *self->pool);
        if (!self->pool) {
            PyErr_NoMemory();
            return -1;
        }
        self->npool = nbuf;
    } /* else vls_loader_open refuses n_buffers, naming it */

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
    char msg[CORE_MSG_MAX] = "";
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
        CORE_NOGIL(NULL, rc, vls_loader_open_stores(st, (size_t)n, &o, &ld),
                   vls_loader_errmsg(NULL), msg);
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
            CORE_NOGIL(NULL, rc, vls_loader_open(paths, (size_t)n, &o, &ld),
                       vls_loader_errmsg(NULL), msg);
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
    self->pid = getpid();
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

/* Copies a raw batch into m: records 16-byte aligned from offset 0, then the table of n rows
 * (offset, length, file, index, key end) as int64, then the keys back to back. Runs without
 * the GIL. */
static int copy_batch(BatchMemoryObject *m, const vls_record *recs, size_t n, size_t *table_off,
                      size_t *keys_off, char *msg, size_t msgcap)
{
    uint64_t total = 0, keys = 0;
    for (size_t i = 0; i < n; i++) {
        total += (recs[i].len + (REC_ALIGN - 1)) & ~(uint64_t)(REC_ALIGN - 1);
        keys += recs[i].klen;
    }
    uint64_t need = total + 5 * 8 * (uint64_t)n + keys;
    if (need > (uint64_t)PY_SSIZE_T_MAX || batch_memory_reserve(m, (size_t)need) < 0) {
        snprintf(msg, msgcap, "no memory for a batch of %llu bytes", (unsigned long long)need);
        return VLS_E_NOMEM;
    }
    unsigned char *base = m->buf;
    int64_t *table = (int64_t *)(base + total);
    unsigned char *kdst = (unsigned char *)(table + 5 * n);
    uint64_t off = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len)
            memcpy(base + off, recs[i].data, (size_t)recs[i].len);
        if (recs[i].klen)
            memcpy(kdst + k, recs[i].key, recs[i].klen);
        k += recs[i].klen;
        table[5 * i] = (int64_t)off;
        table[5 * i + 1] = (int64_t)recs[i].len;
        table[5 * i + 2] = (int64_t)recs[i].file;
        table[5 * i + 3] = (int64_t)recs[i].index;
        table[5 * i + 4] = (int64_t)k;
        off += (recs[i].len + (REC_ALIGN - 1)) & ~(uint64_t)(REC_ALIGN - 1);
    }
    *table_off = (size_t)total;
    *keys_off = (size_t)total + 5 * 8 * n;
    return VLS_OK;
}

/* The next batch of the loader, copied (copy_batch) or collated (collate_into) into m. */
static int next_into(vls_loader *ld, BatchMemoryObject *m, int collate, size_t *n,
                     vls_frame_batch *fb, size_t *table_off, size_t *keys_off, char *msg,
                     size_t msgcap)
{
    const vls_record *recs = NULL;
    int rc = vls_loader_next(ld, &recs, n);
    if (rc < 0)
        snprintf(msg, msgcap, "%s", vls_loader_errmsg(ld));
    if (rc <= 0)
        return rc;
    rc = collate ? collate_into(m, recs, *n, fb, msg, msgcap)
                 : copy_batch(m, recs, *n, table_off, keys_off, msg, msgcap);
    return rc < 0 ? rc : 1;
}

/* Serves the next batch into the pool; returns the new reference to the memory (or None at
 * the end of the epoch), NULL with an exception on error. */
static PyObject *serve(LoaderObject *self, int collate, size_t *n, vls_frame_batch *fb,
                       size_t *table_off, size_t *keys_off)
{
    if (loader_check(self) < 0)
        return NULL;
    BatchMemoryObject *m = pool_next(self);
    if (!m)
        return NULL;
    int rc;
    char detail[CORE_MSG_MAX], msg[CORE_MSG_MAX];
    CORE_NOGIL(&self->busy, rc,
               next_into(self->ld, m, collate, n, fb, table_off, keys_off, detail,
                         sizeof detail),
               detail, msg);
    if (rc < 0)
        return raise_code(rc, msg);
    if (rc == 0)
        Py_RETURN_NONE;
    self->served++;
    Py_INCREF(m);
    return (PyObject *)m;
}

/* next() -> None at the end of the epoch, or (memory, n, table_offset, keys_offset): the
 * batch's n records copied, 16-byte aligned, into a BatchMemory the loader reuses once
 * nothing references it; at table_offset n rows of int64 (offset, length, file, index,
 * key_end); key i is memory[keys_offset + key_end[i-1] : keys_offset + key_end[i]]. */
static PyObject *Loader_next(LoaderObject *self, PyObject *unused)
{
    size_t n = 0, table_off = 0, keys_off = 0;
    PyObject *m = serve(self, 0, &n, NULL, &table_off, &keys_off);
    if (!m || m == Py_None)
        return m;
    return Py_BuildValue("(Nnnn)", m, (Py_ssize_t)n, (Py_ssize_t)table_off,
                         (Py_ssize_t)keys_off);
}

/* next_frames() -> None at the end of the epoch, or (memory, layout): the batch's frame
 * records collated (vls_frame_batch_collate) into a BatchMemory; layout as batch_describe. */
static PyObject *Loader_next_frames(LoaderObject *self, PyObject *unused)
{
    size_t n = 0;
    vls_frame_batch fb;
    PyObject *m = serve(self, 1, &n, &fb, NULL, NULL);
    if (!m || m == Py_None)
        return m;
    PyObject *layout = batch_describe(&fb);
    if (!layout) {
        Py_DECREF(m);
        return NULL;
    }
    return Py_BuildValue("(NN)", m, layout);
}

static PyObject *Loader_get_fresh(LoaderObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->fresh);
}

/* Restarts the loader at the beginning of `epoch` (pos NULL) or at a saved position, without
 * the GIL (a restart joins the prefetch thread and may start reading). */
static PyObject *loader_restart(LoaderObject *self, uint64_t epoch, const vls_loader_position *pos)
{
    if (loader_check(self) < 0)
        return NULL;
    int rc;
    char msg[CORE_MSG_MAX];
    CORE_NOGIL(&self->busy, rc,
               pos ? vls_loader_seek(self->ld, pos) : vls_loader_start_epoch(self->ld, epoch),
               vls_loader_errmsg(self->ld), msg);
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
     "next() -> None, or (memory, n, table_offset, keys_offset)"},
    {"next_frames", (PyCFunction)Loader_next_frames, METH_NOARGS,
     "next_frames() -> None, or (memory, layout): a collated frame batch"},
    {"start_epoch", (PyCFunction)Loader_start_epoch, METH_O, "restart at epoch e"},
    {"tell", (PyCFunction)Loader_tell, METH_NOARGS, "(epoch, batch, fingerprint)"},
    {"seek", (PyCFunction)Loader_seek, METH_VARARGS, "seek(epoch, batch, fingerprint)"},
    {"info", (PyCFunction)Loader_info, METH_NOARGS, "the shape of this rank's epoch"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Loader_getset[] = {
    {"closed", (getter)Loader_get_closed, NULL, NULL, NULL},
    {"fresh_buffers", (getter)Loader_get_fresh, NULL,
     "times a batch memory was still referenced when its turn came, so a new one was taken",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject LoaderType = {
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

