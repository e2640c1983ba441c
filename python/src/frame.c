/*
 * frame.c — vlstore._core's frame functions: encode, view and verify frame records through
 * the public frame codec (include/vlstore_frame.h). vlstore/serialize.py does the numpy side.
 */
#include "core.h"

#include "vlstore_frame.h"

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
    char msg[64];
    CORE_NOGIL(NULL, rc, vls_frame_encode(&f, PyBytes_AS_STRING(res), size, &len),
               "frame_encode failed", msg);
    if (rc != VLS_OK || len != size) {
        Py_CLEAR(res);
        raise_code(rc != VLS_OK ? rc : VLS_E_CORRUPT, rc != VLS_OK ? msg : "frame_encode: "
                   "the encoded size differs from vls_frame_encoded_size");
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

PyMethodDef core_frame_methods[] = {
    {"frame_encode", (PyCFunction)(void (*)(void))Core_frame_encode,
     METH_VARARGS | METH_KEYWORDS, "encode a frame (vls_frame_encode) -> bytes"},
    {"frame_view", Core_frame_view, METH_O, "verify and locate a frame's fields"},
    {"frame_verify", Core_frame_verify, METH_O, "verify a frame record"},
    {NULL, NULL, 0, NULL}};
