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
                   vls_loader_open_errmsg(), msg);
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
                       vls_loader_open_errmsg(), msg);
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
    char msg[CORE_MSG_MAX];
    CORE_NOGIL(&self->busy, rc, vls_loader_next(self->ld, &recs, &n),
               vls_loader_errmsg(self->ld), msg);
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
     "next() -> None, or (buffer, [(offset, length, key, file, index)])"},
    {"start_epoch", (PyCFunction)Loader_start_epoch, METH_O, "restart at epoch e"},
    {"tell", (PyCFunction)Loader_tell, METH_NOARGS, "(epoch, batch, fingerprint)"},
    {"seek", (PyCFunction)Loader_seek, METH_VARARGS, "seek(epoch, batch, fingerprint)"},
    {"info", (PyCFunction)Loader_info, METH_NOARGS, "the shape of this rank's epoch"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Loader_getset[] = {{"closed", (getter)Loader_get_closed, NULL, NULL, NULL},
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

