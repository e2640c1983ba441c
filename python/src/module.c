/*
 * module.c — vlstore._core's module: init and constants, the mapping from VLS_E_* codes to
 * the exception classes of vlstore/_errors.py, hashes and option names. See core.h for the
 * layout of the extension and its memory-safety rules.
 */
#include "core.h"

/*-*************************************
 *  Errors
 ***************************************/

PyObject *ErrCorrupt, *ErrLocked, *ErrNotFound, *ErrExists, *ErrReadOnly, *ErrInvalid, *ErrIO,
    *ErrFailed, *ErrClosed;

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

PyObject *raise_code(int rc, const char *detail)
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

PyObject *raise_not_found(PyObject *key, PyObject *detail)
{
    if (!ErrNotFound)
        return raise_code(VLS_E_NOTFOUND, detail ? PyUnicode_AsUTF8(detail) : NULL);
    PyObject *exc = PyObject_CallFunction(ErrNotFound, "O", key);
    if (!exc)
        return NULL;
    PyObject *code = PyLong_FromLong(VLS_E_NOTFOUND);
    if (detail)
        PyObject_SetAttrString(exc, "message", detail);
    if (code)
        PyObject_SetAttrString(exc, "code", code);
    Py_XDECREF(code);
    PyErr_Clear();
    PyErr_SetObject(ErrNotFound, exc);
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
 *  Module
 ***************************************/

static PyMethodDef Core_methods[] = {
    {"_set_errors", Core_set_errors, METH_VARARGS, "register the exception classes"},
    {"hash128", Core_hash128, METH_O, "XXH3-128 (seed 0), 16 bytes big-endian"},
    {"hash64", Core_hash64, METH_O, "XXH3-64 (seed 0)"},
    {"codec_from_name", Core_codec_from_name, METH_O, "codec number, or -1"},
    {"placement_from_name", Core_placement_from_name, METH_O, "placement number, or -1"},
    {"strerror", Core_strerror, METH_O, "name of an error code"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "vlstore._core",
                                         "Bindings of the vlstore C library.", -1, Core_methods,
                                         NULL, NULL, NULL, NULL};

static int add_type(PyObject *m, const char *name, PyTypeObject *t)
{
    if (PyType_Ready(t) < 0)
        return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__core(void);
PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m = PyModule_Create(&core_module);
    if (!m)
        return NULL;
    if (PyModule_AddFunctions(m, core_frame_methods) < 0 ||
        PyModule_AddFunctions(m, core_batch_methods) < 0)
        goto fail;
    if (add_type(m, "Store", &StoreType) < 0 || add_type(m, "Loader", &LoaderType) < 0 ||
        add_type(m, "BatchMemory", &BatchMemoryType) < 0)
        goto fail;
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
        if (PyModule_AddIntConstant(m, ints[i].n, ints[i].v) < 0)
            goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
