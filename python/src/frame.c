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

/* Takes arg's buffer into *b and views it as a frame in *f, checked by vls_frame_view (the C
 * verifier). Returns 0 (release *b when done), or -1 with *b released and CorruptError (or
 * the view's error) raised for a malformed record. */
static int view_frame_buffer(PyObject *arg, Py_buffer *b, vls_frame *f)
{
    if (PyObject_GetBuffer(arg, b, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    int rc = vls_frame_view(b->buf, (size_t)b->len, f);
    if (rc == VLS_OK)
        return 0;
    char full[CORE_MSG_MAX + 32];
    snprintf(full, sizeof full, "not a valid frame record: %s", vls_errmsg(NULL));
    PyBuffer_Release(b);
    raise_code(rc == VLS_E_INVAL ? VLS_E_CORRUPT : rc, full);
    return -1;
}

/* frame_view(buffer) -> (name bytes, nsites, ncodim, energy or None,
 *                        (off_types, off_masses, off_positions, off_forces, off_cell, off_pbc,
 *                         off_charges, off_stress))
 * Offsets are byte offsets into the buffer, -1 for an absent array. The buffer is checked
 * by vls_frame_view (the C verifier) first: a malformed record raises CorruptError. */
static PyObject *Core_frame_view(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    vls_frame f;
    if (view_frame_buffer(arg, &b, &f) < 0)
        return NULL;
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
 *  Frame format v2: float64 arrays and named properties (vlstore/serialize.py, vlstore/ase.py)
 ***************************************/

/* numpy dtype strings of the property element types (index: vls_dtype) */
static const char *const prop_np_dtype[7] = {"", "<f4", "<f8", "<i4", "<i8", "|b1", "str"};

/* One property as (name, dtype, kind, shape, data): data is the byte offset of the elements
 * in the buffer `base` (numeric), or a list of str (strings: copied, decoded with
 * surrogateescape). */
static PyObject *prop_tuple(const vls_prop *p, const char *base)
{
    PyObject *shape = PyTuple_New(p->ndim), *data = NULL;
    if (!shape)
        return NULL;
    for (int d = 0; d < p->ndim; d++) {
        int32_t dim;
        memcpy(&dim, (const char *)p->shape + 4 * d, 4);
        PyObject *v = PyLong_FromLong(dim);
        if (!v) {
            Py_DECREF(shape);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, d, v);
    }
    if (p->dtype == VLS_DT_STR) {
        data = PyList_New((Py_ssize_t)p->count);
        for (size_t i = 0; data && i < p->count; i++) {
            size_t len;
            const char *str = vls_prop_string(p, i, &len);
            PyObject *v = PyUnicode_DecodeUTF8(str, (Py_ssize_t)len, "surrogateescape");
            if (!v)
                Py_CLEAR(data);
            else
                PyList_SET_ITEM(data, (Py_ssize_t)i, v);
        }
    } else {
        data = PyLong_FromSsize_t(p->count ? (Py_ssize_t)((const char *)p->data - base) : 0);
    }
    if (!data) {
        Py_DECREF(shape);
        return NULL;
    }
    return Py_BuildValue("(s#siNN)", p->name, (Py_ssize_t)p->name_len, prop_np_dtype[p->dtype],
                         p->kind, shape, data);
}

/* frame_extras(buffer) -> ((off_positions64, off_forces64, off_cell64, off_stress64,
 *                           off_masses64, off_charges64), properties, atom_properties)
 * Offsets as in frame_view (-1: absent); properties are lists of prop_tuple()s. */
static PyObject *Core_frame_extras(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    vls_frame f;
    if (view_frame_buffer(arg, &b, &f) < 0)
        return NULL;
    const char *base = b.buf;
    const void *ptrs[6] = {f.positions64, f.forces64, f.cell64, f.stress64, f.masses64,
                           f.charges64};
    PyObject *offs = PyTuple_New(6), *lists[2] = {NULL, NULL}, *res = NULL;
    if (!offs)
        goto done;
    for (int i = 0; i < 6; i++) {
        PyObject *v = PyLong_FromSsize_t(ptrs[i] ? (Py_ssize_t)((const char *)ptrs[i] - base) : -1);
        if (!v)
            goto done;
        PyTuple_SET_ITEM(offs, i, v);
    }
    for (int pa = 0; pa < 2; pa++) {
        size_t n = pa ? f.natom_props : f.nprops;
        if (!(lists[pa] = PyList_New((Py_ssize_t)n)))
            goto done;
        for (size_t i = 0; i < n; i++) {
            vls_prop p;
            PyObject *t = vls_frame_prop(&f, pa, i, &p) == VLS_OK ? prop_tuple(&p, base) : NULL;
            if (!t)
                goto done;
            PyList_SET_ITEM(lists[pa], (Py_ssize_t)i, t);
        }
    }
    res = Py_BuildValue("(OOO)", offs, lists[0], lists[1]);
done:
    Py_XDECREF(offs);
    Py_XDECREF(lists[0]);
    Py_XDECREF(lists[1]);
    PyBuffer_Release(&b);
    return res;
}

/* What frame_encode_ex holds on to while it encodes. */
typedef struct {
    Py_buffer bufs[64];
    int nbufs;
    PyObject *keep; /* a list: encoded names and strings */
} enc_hold;

static void hold_release(enc_hold *h)
{
    for (int i = 0; i < h->nbufs; i++)
        PyBuffer_Release(&h->bufs[i]);
    Py_XDECREF(h->keep);
}

/* Borrows a buffer of exactly `want` bytes (want == SIZE_MAX: any size, returned in *len). */
static const void *hold_buffer(enc_hold *h, PyObject *o, const char *what, size_t want,
                               size_t *len)
{
    if (h->nbufs == 64) {
        PyErr_SetString(PyExc_ValueError, "frame_encode_ex: too many arrays (64)");
        return NULL;
    }
    Py_buffer *b = &h->bufs[h->nbufs];
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    h->nbufs++;
    if (want != SIZE_MAX && (size_t)b->len != want) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zu", what, b->len, want);
        return NULL;
    }
    if (len)
        *len = (size_t)b->len;
    return b->buf ? b->buf : "";
}

/* A str or bytes as UTF-8 bytes kept alive in h->keep. */
static const char *hold_utf8(enc_hold *h, PyObject *o, size_t *len)
{
    PyObject *bytes = PyUnicode_Check(o) ? PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape")
                                         : (Py_INCREF(o), o);
    if (!bytes)
        return NULL;
    if (!PyBytes_Check(bytes) || PyList_Append(h->keep, bytes) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "frame_encode_ex: names and strings are str or bytes");
        Py_DECREF(bytes);
        return NULL;
    }
    Py_DECREF(bytes);
    *len = (size_t)PyBytes_GET_SIZE(bytes);
    return PyBytes_AS_STRING(bytes);
}

/* Fills props[0..n) from a list of (name, dtype code 1..6, kind, shape tuple, data) where data
 * is a buffer of the elements or, for strings, a list of str/bytes. */
static int props_from(enc_hold *h, PyObject *list, vls_prop *props, int32_t (*shapes)[VLS_PROP_MAX_NDIM],
                      const char ***strs)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name, *shape, *data;
        int dtype, kind;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "OiiOO", &name, &dtype, &kind, &shape,
                              &data))
            return -1;
        vls_prop *p = &props[i];
        memset(p, 0, sizeof *p);
        if (!(p->name = hold_utf8(h, name, &p->name_len)))
            return -1;
        p->dtype = dtype;
        p->kind = kind;
        if (!PyTuple_Check(shape) || PyTuple_GET_SIZE(shape) > VLS_PROP_MAX_NDIM) {
            PyErr_SetString(PyExc_ValueError, "frame_encode_ex: shape must be a tuple of <= 16");
            return -1;
        }
        p->ndim = (int)PyTuple_GET_SIZE(shape);
        size_t count = 1;
        for (int d = 0; d < p->ndim; d++) {
            long dim = PyLong_AsLong(PyTuple_GET_ITEM(shape, d));
            if (dim == -1 && PyErr_Occurred())
                return -1;
            if (dim < 0 || dim > INT32_MAX) {
                PyErr_SetString(PyExc_ValueError, "frame_encode_ex: bad dimension");
                return -1;
            }
            shapes[i][d] = (int32_t)dim;
            count *= (size_t)dim;
        }
        p->shape = p->ndim ? shapes[i] : NULL;
        p->count = count;
        if (dtype == VLS_DT_STR) {
            if (!PyList_Check(data) || (size_t)PyList_GET_SIZE(data) != count) {
                PyErr_Format(PyExc_ValueError, "property %R: %zu strings expected", name, count);
                return -1;
            }
            const char **arr = PyMem_Calloc(count + 1, sizeof *arr);
            if (!arr)
                return (PyErr_NoMemory(), -1);
            strs[i] = arr;
            for (size_t k = 0; k < count; k++) {
                size_t len;
                if (!(arr[k] = hold_utf8(h, PyList_GET_ITEM(data, (Py_ssize_t)k), &len)))
                    return -1;
                if (strlen(arr[k]) != len) {
                    PyErr_Format(PyExc_ValueError, "property %R: a string holds a NUL", name);
                    return -1;
                }
            }
            p->data = arr;
        } else {
            size_t esz = vls_dtype_size(dtype);
            if (!esz) {
                PyErr_Format(PyExc_ValueError, "property %R: unknown dtype %d", name, dtype);
                return -1;
            }
            if (!(p->data = hold_buffer(h, data, "property data", count * esz, NULL)))
                return -1;
        }
    }
    return 0;
}

/* frame_encode_ex(nsites, ncodim, name, arrays, energy, properties, atom_properties) -> bytes
 * arrays: dict of buffers in the schema's element types, keyed by the vls_frame field names
 * (types, masses, positions, forces, cell, pbc, charges, stress, masses64, positions64,
 * forces64, cell64, stress64, charges64); properties: lists as props_from() takes them. */
static PyObject *Core_frame_encode_ex(PyObject *mod, PyObject *args)
{
    int nsites, ncodim;
    PyObject *name, *arrays, *energy, *plist, *alist;
    if (!PyArg_ParseTuple(args, "iiOO!OO!O!", &nsites, &ncodim, &name, &PyDict_Type, &arrays,
                          &energy, &PyList_Type, &plist, &PyList_Type, &alist))
        return NULL;
    if (nsites < 0 || ncodim < 1)
        return PyErr_Format(PyExc_ValueError, "nsites must be >= 0 and ncodim >= 1");
    enc_hold h = {.nbufs = 0, .keep = PyList_New(0)};
    if (!h.keep)
        return NULL;
    size_t ns = (size_t)nsites, nd = ns * (size_t)ncodim;
    PyObject *res = NULL;
    vls_prop *props = NULL;
    int32_t (*shapes)[VLS_PROP_MAX_NDIM] = NULL;
    const char ***strs = NULL;
    Py_ssize_t np_ = PyList_GET_SIZE(plist), na = PyList_GET_SIZE(alist), ntot = np_ + na;
    vls_frame f;
    vls_frame_init(&f);
    f.nsites = nsites;
    f.ncodim = ncodim;
    if (name != Py_None && !(f.name = hold_utf8(&h, name, &f.name_len)))
        goto done;
    if (energy != Py_None) {
        f.energy = PyFloat_AsDouble(energy);
        if (f.energy == -1.0 && PyErr_Occurred())
            goto done;
        f.has_energy = 1;
    }
    struct {
        const char *key;
        const void **dst;
        size_t bytes;
    } fields[] = {
        {"types", (const void **)&f.types, 4 * ns},
        {"masses", (const void **)&f.masses, 4 * ns},
        {"positions", (const void **)&f.positions, 4 * nd},
        {"forces", (const void **)&f.forces, 4 * nd},
        {"cell", (const void **)&f.cell, 36},
        {"pbc", (const void **)&f.pbc, 3},
        {"charges", (const void **)&f.charges, 4 * ns},
        {"stress", (const void **)&f.stress, 36},
        {"masses64", (const void **)&f.masses64, 8 * ns},
        {"positions64", (const void **)&f.positions64, 8 * nd},
        {"forces64", (const void **)&f.forces64, 8 * nd},
        {"cell64", (const void **)&f.cell64, 72},
        {"stress64", (const void **)&f.stress64, 72},
        {"charges64", (const void **)&f.charges64, 8 * ns},
    };
    Py_ssize_t known = 0;
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        PyObject *o = PyDict_GetItemString(arrays, fields[k].key);
        if (!o || o == Py_None)
            continue;
        known++;
        if (!(*fields[k].dst = hold_buffer(&h, o, fields[k].key, fields[k].bytes, NULL)))
            goto done;
    }
    if (known != PyDict_Size(arrays)) {
        Py_ssize_t given = 0;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
            given += PyDict_GetItemString(arrays, fields[k].key) != NULL;
        if (given != PyDict_Size(arrays)) {
            PyErr_SetString(PyExc_KeyError, "frame_encode_ex: unknown array name");
            goto done;
        }
    }
    props = PyMem_Calloc((size_t)ntot + 1, sizeof *props);
    shapes = PyMem_Calloc((size_t)ntot + 1, sizeof *shapes);
    strs = PyMem_Calloc((size_t)ntot + 1, sizeof *strs);
    if (!props || !shapes || !strs) {
        PyErr_NoMemory();
        goto done;
    }
    if (props_from(&h, plist, props, shapes, strs) < 0 ||
        props_from(&h, alist, props + np_, shapes + np_, strs + np_) < 0)
        goto done;
    f.props = props;
    f.nprops = (size_t)np_;
    f.atom_props = props + np_;
    f.natom_props = (size_t)na;
    size_t len = 0;
    int rc = vls_frame_encode(&f, NULL, 0, &len);
    if (rc != VLS_E_TOOSMALL) {
        raise_code(rc == VLS_OK ? VLS_E_CORRUPT : rc,
                   rc == VLS_E_INVAL ? "frame_encode_ex: the frame is not consistent (array "
                   "lengths, both precisions of one array, a per-atom property whose first "
                   "dimension is not nsites, or a repeated property name)"
                                     : "frame_encode_ex: the frame cannot be encoded");
        goto done;
    }
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (!res)
        goto done;
    char msg[CORE_MSG_MAX];
    CORE_NOGIL(NULL, rc, vls_frame_encode(&f, PyBytes_AS_STRING(res), len, &len),
               vls_errmsg(NULL), msg);
    if (rc != VLS_OK) {
        Py_CLEAR(res);
        raise_code(rc, msg);
    }
done:
    for (Py_ssize_t i = 0; strs && i < ntot; i++)
        PyMem_Free((void *)strs[i]);
    PyMem_Free(strs);
    PyMem_Free(shapes);
    PyMem_Free(props);
    hold_release(&h);
    return res;
}

PyMethodDef core_frame_methods[] = {
    {"frame_encode", (PyCFunction)(void (*)(void))Core_frame_encode,
     METH_VARARGS | METH_KEYWORDS, "encode a frame (vls_frame_encode) -> bytes"},
    {"frame_view", Core_frame_view, METH_O, "verify and locate a frame's fields"},
    {"frame_verify", Core_frame_verify, METH_O, "verify a frame record"},
    {"frame_extras", Core_frame_extras, METH_O,
     "float64 arrays and properties of a frame (format v2)"},
    {"frame_encode_ex", Core_frame_encode_ex, METH_VARARGS,
     "encode a frame with float64 arrays and properties -> bytes"},
    {NULL, NULL, 0, NULL}};
