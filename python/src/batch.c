/*
 * batch.c — vlstore._core's batch memory: the memory collated frame batches (and raw loader
 * batches) are decoded into, exported to numpy through the buffer protocol, and
 * frame_batch(), the map-style collation (one get_many, then vls_frame_batch_collate).
 *
 * Why a type of its own rather than a bytearray: its memory is 64-byte aligned (what
 * vls_frame_batch_collate needs), it can be regrown without the GIL, and it knows whether
 * anything still looks at it. A Loader keeps n_buffers of them and reuses one only when no
 * array, memoryview or other reference to it is left (refcount 1, no buffer exports);
 * otherwise it leaves that one to its holders and takes a fresh one. So an array served to
 * Python never changes under its holder, however long it is kept.
 */
#include "core.h"

#include <stdlib.h>

#include "vlstore_loader.h"

#define MEM_ALIGN 64

static void BatchMemory_dealloc(BatchMemoryObject *self)
{
    free(self->buf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int BatchMemory_getbuffer(BatchMemoryObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->buf ? self->buf : (void *)"",
                          (Py_ssize_t)self->cap, 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void BatchMemory_releasebuffer(BatchMemoryObject *self, Py_buffer *view)
{
    self->exports--;
}

static PyBufferProcs BatchMemory_as_buffer = {(getbufferproc)BatchMemory_getbuffer,
                                              (releasebufferproc)BatchMemory_releasebuffer};

static PyObject *BatchMemory_get_nbytes(BatchMemoryObject *self, void *c)
{
    return PyLong_FromSize_t(self->cap);
}

static PyGetSetDef BatchMemory_getset[] = {
    {"nbytes", (getter)BatchMemory_get_nbytes, NULL, "bytes of memory held", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject BatchMemoryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vlstore._core.BatchMemory",
    .tp_basicsize = sizeof(BatchMemoryObject),
    .tp_dealloc = (destructor)BatchMemory_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "64-byte aligned memory holding one batch; numpy arrays view it.",
    .tp_as_buffer = &BatchMemory_as_buffer,
    .tp_getset = BatchMemory_getset,
};

BatchMemoryObject *batch_memory_new(void)
{
    BatchMemoryObject *m = PyObject_New(BatchMemoryObject, &BatchMemoryType);
    if (m) {
        m->buf = NULL;
        m->cap = 0;
        m->exports = 0;
    }
    return m;
}

int batch_memory_reserve(BatchMemoryObject *m, size_t need)
{
    if (m->cap >= need)
        return 0;
    /* half again, so a slowly growing batch does not reallocate every time */
    size_t cap = need + need / 2;
    cap = (cap + MEM_ALIGN - 1) & ~(size_t)(MEM_ALIGN - 1);
    void *p = aligned_alloc(MEM_ALIGN, cap);
    if (!p)
        return -1;
    free(m->buf);
    m->buf = p;
    m->cap = cap;
    return 0;
}

int batch_memory_unshared(BatchMemoryObject *m)
{
    return Py_REFCNT(m) == 1 && m->exports == 0;
}

int collate_into(BatchMemoryObject *m, const vls_record *recs, size_t n, vls_frame_batch *fb,
                 char *msg, size_t msgcap)
{
    size_t needed = 0;
    int rc = vls_frame_batch_collate(recs, n, m->buf, m->cap, &needed, fb);
    if (rc == VLS_E_TOOSMALL) {
        if (batch_memory_reserve(m, needed) < 0) {
            snprintf(msg, msgcap, "no memory for a batch of %zu bytes", needed);
            return VLS_E_NOMEM;
        }
        rc = vls_frame_batch_collate(recs, n, m->buf, m->cap, &needed, fb);
    }
    if (rc != 0) /* the library's handle-less message of this thread */
        snprintf(msg, msgcap, "%s", vls_errmsg(NULL));
    return rc;
}

/*-*************************************
 *  Describing a collated batch to Python
 ***************************************/

/* numpy dtype strings of the VLS_DTYPE_* values (little-endian, as the library writes). */
static const char *dtype_str(uint32_t t)
{
    switch (t) {
    case VLS_DTYPE_BOOL: return "?";
    case VLS_DTYPE_U8: return "u1";
    case VLS_DTYPE_I64: return "<i8";
    case VLS_DTYPE_F32: return "<f4";
    case VLS_DTYPE_F64: return "<f8";
    default: return "u1";
    }
}

PyObject *batch_describe(const vls_frame_batch *fb)
{
    static PyObject *names[VLS_BATCH_NARRAYS], *dtypes[VLS_BATCH_NARRAYS];
    PyObject *t = PyTuple_New(VLS_BATCH_NARRAYS);
    if (!t)
        return NULL;
    for (int i = 0; i < VLS_BATCH_NARRAYS; i++) {
        const vls_batch_array *a = &fb->arrays[i];
        if (!names[i]) { /* created once, kept for the life of the process */
            names[i] = PyUnicode_InternFromString(a->name);
            dtypes[i] = PyUnicode_InternFromString(dtype_str(a->dtype));
            if (!names[i] || !dtypes[i]) {
                Py_CLEAR(names[i]);
                Py_CLEAR(dtypes[i]);
                Py_DECREF(t);
                return NULL;
            }
        }
        PyObject *shape = PyTuple_New(a->ndim);
        if (!shape) {
            Py_DECREF(t);
            return NULL;
        }
        for (uint32_t d = 0; d < a->ndim; d++) {
            PyObject *v = PyLong_FromUnsignedLongLong(a->shape[d]);
            if (!v) {
                Py_DECREF(shape);
                Py_DECREF(t);
                return NULL;
            }
            PyTuple_SET_ITEM(shape, d, v);
        }
        PyObject *e = Py_BuildValue("(OOKN)", names[i], dtypes[i],
                                    (unsigned long long)a->offset, shape);
        if (!e) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, e);
    }
    return t;
}

/*-*************************************
 *  Map-style: frame_batch(store, keys)
 ***************************************/

/* Reads keys[0..n) with one vls_get_many into scratch memory and collates them into m.
 * Runs without the GIL. */
static int read_and_collate(vls_store *s, const keyvec *kv, vls_span *spans,
                            vls_record *recs, BatchMemoryObject *m, vls_frame_batch *fb,
                            char *msg, size_t msgcap)
{
    int rc = VLS_E_IO;
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t total = 0, needed = 0;
        rc = vls_get_many_size(s, kv->n, kv->keys, &total);
        if (rc != VLS_OK && rc != VLS_E_NOTFOUND) { /* vls_get_many names the missing keys */
            snprintf(msg, msgcap, "%s", vls_errmsg(s));
            return rc;
        }
        unsigned char *tmp = malloc(total ? (size_t)total : 1);
        if (!tmp) {
            snprintf(msg, msgcap, "no memory to read %llu bytes", (unsigned long long)total);
            return VLS_E_NOMEM;
        }
        rc = vls_get_many(s, kv->n, kv->keys, tmp, (size_t)total, spans, &needed);
        if (rc == VLS_E_TOOSMALL) { /* a record grew under a concurrent write: again */
            free(tmp);
            continue;
        }
        if (rc != VLS_OK) {
            snprintf(msg, msgcap, "%s", vls_errmsg(s));
            free(tmp);
            return rc;
        }
        for (size_t i = 0; i < kv->n; i++) {
            recs[i].data = tmp + spans[i].offset;
            recs[i].len = spans[i].length;
            recs[i].key = kv->keys[i].data;
            recs[i].klen = kv->keys[i].len;
            recs[i].file = 0;
            recs[i].index = i;
        }
        rc = collate_into(m, recs, kv->n, fb, msg, msgcap);
        free(tmp);
        return rc;
    }
    snprintf(msg, msgcap, "frame_batch: records kept changing size under concurrent writes");
    return rc;
}

/* frame_batch(store, keys) -> (BatchMemory, layout): the frames named by keys collated as
 * Loader.next_frames() does, read with one get_many. */
static PyObject *Core_frame_batch(PyObject *mod, PyObject *args)
{
    StoreObject *store;
    PyObject *keys;
    if (!PyArg_ParseTuple(args, "O!O", &StoreType, &store, &keys))
        return NULL;
    keyvec kv;
    if (store_check(store) < 0 || keyvec_from(keys, &kv) < 0)
        return NULL;
    PyObject *res = NULL;
    BatchMemoryObject *m = batch_memory_new();
    vls_span *spans = PyMem_Calloc(kv.n ? kv.n : 1, sizeof *spans);
    vls_record *recs = PyMem_Calloc(kv.n ? kv.n : 1, sizeof *recs);
    if (!m || !spans || !recs) {
        if (m)
            PyErr_NoMemory();
        goto done;
    }
    vls_frame_batch fb;
    char detail[CORE_MSG_MAX], msg[CORE_MSG_MAX];
    int rc;
    CORE_NOGIL(&store->busy, rc,
               read_and_collate(store->s, &kv, spans, recs, m, &fb, detail, sizeof detail),
               detail, msg);
    if (rc == VLS_E_NOTFOUND)
        raise_missing(kv.seq, spans, kv.n);
    else if (rc != VLS_OK)
        raise_code(rc, msg);
    else {
        PyObject *layout = batch_describe(&fb);
        if (layout)
            res = Py_BuildValue("(ON)", m, layout);
    }
done:
    Py_XDECREF(m);
    PyMem_Free(spans);
    PyMem_Free(recs);
    keyvec_free(&kv);
    return res;
}

PyMethodDef core_batch_methods[] = {
    {"frame_batch", Core_frame_batch, METH_VARARGS,
     "frame_batch(store, keys) -> (BatchMemory, layout): frames collated as Loader.next_frames"},
    {NULL, NULL, 0, NULL}};
