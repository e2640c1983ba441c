/*
 * frame.c — the FBSites.FBFrame FlatBuffers codec (schema/fbsites.fbs, docs/FRAME.md).
 *
 * Written from the FlatBuffers binary-format description, without the FlatBuffers library:
 *  - a buffer starts with a uoffset (u32) to the root table;
 *  - a table starts with an soffset (i32): vtable position = table position - soffset;
 *  - a vtable is u16 words: its own size in bytes, the table's inline size in bytes, then one
 *    offset per field id, relative to the table start (0, or past the vtable's end: absent);
 *  - a field that refers to a vector or string holds a uoffset relative to the field's own
 *    position; there, a u32 element count precedes the elements (strings add a NUL);
 *  - all scalars are little-endian and aligned to their size relative to the buffer start.
 *
 * FlatBuffers builders write back to front; here every size is known up front, so the layout
 * is computed forward and each array is one memcpy.
 *
 * Depends on: the C library only (vlstore.h for VLS_API and error codes).
 */
#include "vlstore_frame.h"

#include "common/clocale.h"
#include "common/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "vlstore frames are little-endian FlatBuffers viewed in place; big-endian hosts are unsupported"
#endif
#endif

/* Field ids of table FBFrame, in schema order. Never reorder: they are the format. */
enum {
    F_NAME = 0,
    F_NSITES,
    F_NCODIM,
    F_TYPES,
    F_MASSES,
    F_POSITIONS,
    F_FORCES,
    F_ENERGY,
    F_CELL,
    F_PBC,
    F_CHARGES,
    F_STRESS,
    /* frame format v2 */
    F_POSITIONS64,
    F_FORCES64,
    F_CELL64,
    F_STRESS64,
    F_MASSES64,
    F_CHARGES64,
    F_PROPS,
    F_ATOM_PROPS,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "name",        "nsites",   "ncodim",  "types",    "masses",     "positions",  "forces",
    "energy",      "cell",     "pbc",     "charges",  "stress",     "positions64", "forces64",
    "cell64",      "stress64", "masses64", "charges64", "properties", "atom_properties"};

/* Element size of each vector field (0 for scalars; 1 for the string's bytes; 4 for the
 * uoffsets of a vector of tables). */
static const uint8_t vec_elem_size[F_COUNT] = {1, 0, 0, 4, 4, 4, 4, 0, 4, 1,
                                               4, 4, 8, 8, 8, 8, 8, 8, 4, 4};

/* Field ids of table FBProperty. */
enum { P_NAME = 0, P_SHAPE, P_KIND, P_F32, P_F64, P_I32, P_I64, P_B, P_S, P_COUNT };

static const char *const prop_field_names[P_COUNT] = {"name", "shape", "kind", "f32", "f64",
                                                      "i32",  "i64",   "b",    "s"};

/* The FBProperty field holding the elements of each dtype (index: vls_dtype). */
static const uint8_t dtype_field[7] = {0, P_F32, P_F64, P_I32, P_I64, P_B, P_S};

#define NCODIM_DEFAULT 3

/*-*************************************
 *  Little-endian loads and stores (any alignment)
 ***************************************/
static uint16_t ld16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static uint32_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static int32_t ldi32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static double ldf64(const uint8_t *p) {
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}
static void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof v); }
static void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static void sti32(uint8_t *p, int32_t v) { memcpy(p, &v, sizeof v); }
static void stf64(uint8_t *p, double v) { memcpy(p, &v, sizeof v); }

void vls_frame_init(vls_frame *f) {
    if (!f) return;
    memset(f, 0, sizeof *f);
    f->ncodim = NCODIM_DEFAULT;
}

double vls_frame_real(const float *f32, const double *f64, size_t i) {
    if (f64) {
        double v;
        memcpy(&v, (const char *)f64 + 8 * i, 8);
        return v;
    }
    if (f32) {
        float v;
        memcpy(&v, (const char *)f32 + 4 * i, 4);
        return v;
    }
    return 0;
}

size_t vls_dtype_size(int dtype) {
    switch (dtype) {
    case VLS_DT_F32:
    case VLS_DT_I32:
        return 4;
    case VLS_DT_F64:
    case VLS_DT_I64:
        return 8;
    case VLS_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

const char *vls_dtype_name(int dtype) {
    static const char *const names[7] = {"?", "float32", "float64", "int32", "int64", "bool",
                                         "str"};
    return dtype >= 1 && dtype <= 6 ? names[dtype] : "?";
}

/*-*************************************
 *  Layout
 ***************************************/

/* Where everything goes for one frame. Positions are byte offsets from the buffer start. */
typedef struct {
    uint32_t table;            /* the table (its soffset word) */
    uint32_t tsize;            /* the table's inline size */
    uint32_t vtsize;           /* the vtable's size; the vtable sits at offset 4 */
    uint32_t head_end;         /* end of the header part: everything before the first array */
    uint16_t voff[F_COUNT];    /* field offsets inside the table (0: absent) */
    uint32_t vec[F_COUNT];     /* position of each vector's length word (0: absent) */
    uint32_t count[F_COUNT];   /* element count of each vector */
    uint64_t total;            /* size of the whole buffer */
} layout;

#define VTABLE_POS 4u

static uint64_t align4(uint64_t x) { return (x + 3u) & ~(uint64_t)3u; }

/* A vector of 8-byte elements starts at a position p with p + 4 (its first element) 8-aligned. */
static uint64_t align_vec8(uint64_t p) { return (p + 4u) % 8u ? p + 4u : p; }

static int32_t shape_dim(const vls_prop *p, int d) { return ldi32((const uint8_t *)(p->shape + d)); }

/* Checks one list of properties of an encoder input (given in f->props / f->atom_props, or
 * those of a view, so that a viewed frame re-encodes as it is).
 * @return VLS_OK, VLS_E_INVAL or VLS_E_TOOBIG. */
static int check_props(const vls_frame *f, int per_atom) {
    const size_t n = per_atom ? f->natom_props : f->nprops;
    if (n && !(per_atom ? f->atom_props : f->props) && !f->prop_tables_[per_atom])
        return VLS_E_INVAL;
    if (n > VLS_FRAME_MAX_SIZE / 16u) return VLS_E_TOOBIG;
    for (size_t i = 0; i < n; i++) {
        vls_prop p;
        if (vls_frame_prop(f, per_atom, i, &p) != VLS_OK) return VLS_E_INVAL;
        if (!p.name || p.name_len < 1 || p.dtype < VLS_DT_F32 || p.dtype > VLS_DT_STR ||
            p.ndim < 0 || p.ndim > VLS_PROP_MAX_NDIM || (p.ndim && !p.shape))
            return VLS_E_INVAL;
        if (p.name_len > VLS_FRAME_MAX_SIZE) return VLS_E_TOOBIG;
        if (p.kind != VLS_PROP_PLAIN &&
            (p.kind != VLS_PROP_JSON || p.dtype != VLS_DT_STR || p.ndim != 0))
            return VLS_E_INVAL;
        uint64_t product = 1;
        for (int d = 0; d < p.ndim; d++) {
            if (shape_dim(&p, d) < 0) return VLS_E_INVAL;
            product *= (uint64_t)shape_dim(&p, d);
            if (product > VLS_FRAME_MAX_SIZE) return VLS_E_TOOBIG;
        }
        if (product != p.count) return VLS_E_INVAL;
        if (per_atom && (p.ndim < 1 || shape_dim(&p, 0) != f->nsites)) return VLS_E_INVAL;
        if (p.count && !p.data && !p.strings_) return VLS_E_INVAL;
        if (p.dtype == VLS_DT_STR)
            for (size_t k = 0; k < p.count; k++)
                if (!vls_prop_string(&p, k, NULL)) return VLS_E_INVAL;
        for (size_t j = 0; j < i; j++) {
            vls_prop q;
            if (vls_frame_prop(f, per_atom, j, &q) != VLS_OK) return VLS_E_INVAL;
            if (q.name_len == p.name_len && !memcmp(q.name, p.name, p.name_len))
                return VLS_E_INVAL;
        }
    }
    return VLS_OK;
}

/* Lays out one list of FBProperty tables of `f` starting at the 4-aligned position `pos`,
 * and writes it when b is not NULL (into memory already zeroed). One function does both so
 * that the measured size and the written bytes cannot disagree.
 * Per property: vtable, table (soffset, name, [shape], data, [kind]), name string, shape
 * vector, data vector (8-aligned elements for 64-bit types), then the strings of a string
 * property. @return the end position (4-aligned), or 0 when past VLS_FRAME_MAX_SIZE. */
static uint64_t props_block(uint8_t *b, uint64_t pos, const vls_frame *f, int per_atom) {
    const size_t n = per_atom ? f->natom_props : f->nprops;
    const uint64_t vec = pos;
    if (b) st32(b + vec, (uint32_t)n);
    pos += 4u + 4u * (uint64_t)n;
    for (size_t i = 0; i < n; i++) {
        vls_prop p;
        if (vls_frame_prop(f, per_atom, i, &p) != VLS_OK) return 0; /* checked before */
        const int df = dtype_field[p.dtype];
        const uint32_t vtsize = 4u + 2u * (uint32_t)(df + 1);
        const uint64_t vt = pos, t = align4(vt + vtsize);
        const uint16_t o_name = 4, o_shape = p.ndim ? 8 : 0, o_data = p.ndim ? 12 : 8;
        const uint16_t o_kind = p.kind ? (uint16_t)(o_data + 4) : 0;
        const uint32_t tsize = o_data + 4u + (p.kind ? 1u : 0u);
        const uint64_t name_pos = align4(t + tsize);
        const uint64_t shape_pos = align4(name_pos + 4u + p.name_len + 1u);
        const size_t esz = vls_dtype_size(p.dtype);
        uint64_t data_pos = shape_pos + (p.ndim ? 4u + 4u * (uint64_t)p.ndim : 0u);
        if (esz == 8) data_pos = align_vec8(data_pos);
        pos = align4(data_pos + 4u + (uint64_t)p.count * (esz ? esz : 4u));
        if (pos > VLS_FRAME_MAX_SIZE) return 0;
        if (b) {
            const uint64_t slot = vec + 4u + 4u * (uint64_t)i;
            st32(b + slot, (uint32_t)(t - slot));
            uint16_t vo[P_COUNT] = {0};
            vo[P_NAME] = o_name;
            vo[P_SHAPE] = o_shape;
            vo[P_KIND] = o_kind;
            vo[df] = o_data;
            st16(b + vt, (uint16_t)vtsize);
            st16(b + vt + 2, (uint16_t)tsize);
            for (int k = 0; k <= df; k++) st16(b + vt + 4 + 2 * k, vo[k]);
            sti32(b + t, (int32_t)(t - vt));
            st32(b + t + o_name, (uint32_t)(name_pos - (t + o_name)));
            if (p.ndim) st32(b + t + o_shape, (uint32_t)(shape_pos - (t + o_shape)));
            st32(b + t + o_data, (uint32_t)(data_pos - (t + o_data)));
            if (p.kind) b[t + o_kind] = (uint8_t)p.kind;
            st32(b + name_pos, (uint32_t)p.name_len);
            memcpy(b + name_pos + 4, p.name, p.name_len);
            if (p.ndim) {
                st32(b + shape_pos, (uint32_t)p.ndim);
                memcpy(b + shape_pos + 4, p.shape, 4u * (size_t)p.ndim);
            }
            st32(b + data_pos, (uint32_t)p.count);
            if (p.dtype == VLS_DT_BOOL) {
                const uint8_t *src = p.data;
                for (size_t k = 0; k < p.count; k++) b[data_pos + 4 + k] = src[k] != 0;
            } else if (esz && p.count) {
                memcpy(b + data_pos + 4, p.data, p.count * esz);
            }
        }
        if (p.dtype != VLS_DT_STR) continue;
        for (size_t k = 0; k < p.count; k++) {
            size_t len;
            const char *str = vls_prop_string(&p, k, &len);
            const uint64_t at = pos, slot = data_pos + 4u + 4u * (uint64_t)k;
            pos = align4(at + 4u + len + 1u);
            if (pos > VLS_FRAME_MAX_SIZE) return 0;
            if (b) {
                st32(b + slot, (uint32_t)(at - slot));
                st32(b + at, (uint32_t)len);
                memcpy(b + at + 4, str, len);
            }
        }
    }
    return pos;
}

/* The encoder's source array of each vector field (NULL: absent). */
static void field_sources(const vls_frame *f, const void *src[F_COUNT]) {
    memset(src, 0, F_COUNT * sizeof *src);
    src[F_NAME] = f->name;
    src[F_TYPES] = f->types;
    src[F_MASSES] = f->masses;
    src[F_POSITIONS] = f->positions;
    src[F_FORCES] = f->forces;
    src[F_CELL] = f->cell;
    src[F_PBC] = f->pbc;
    src[F_CHARGES] = f->charges;
    src[F_STRESS] = f->stress;
    src[F_POSITIONS64] = f->positions64;
    src[F_FORCES64] = f->forces64;
    src[F_CELL64] = f->cell64;
    src[F_STRESS64] = f->stress64;
    src[F_MASSES64] = f->masses64;
    src[F_CHARGES64] = f->charges64;
}

/* Computes the layout of `f`. @return VLS_OK, VLS_E_INVAL or VLS_E_TOOBIG. */
static int plan(const vls_frame *f, layout *L) {
    if (!f) return VLS_E_INVAL;
    if (f->nsites < 0 || f->ncodim < 1) return VLS_E_INVAL;
    if (!f->name && f->name_len > 0) return VLS_E_INVAL;
    if ((f->masses && f->masses64) || (f->positions && f->positions64) ||
        (f->forces && f->forces64) || (f->cell && f->cell64) || (f->stress && f->stress64) ||
        (f->charges && f->charges64))
        return VLS_E_INVAL;
    if (f->nsites > 0 && (!f->types || !(f->masses || f->masses64) ||
                          !(f->positions || f->positions64)))
        return VLS_E_INVAL;
    int rc = check_props(f, 0);
    if (rc == VLS_OK) rc = check_props(f, 1);
    if (rc != VLS_OK) return rc;

    const uint64_t n = (uint64_t)f->nsites;
    const uint64_t nd = n * (uint64_t)f->ncodim; /* < 2^62 */
    if (nd > VLS_FRAME_MAX_SIZE / 4u || f->name_len > VLS_FRAME_MAX_SIZE) return VLS_E_TOOBIG;

    memset(L, 0, sizeof *L);
    const void *src[F_COUNT];
    field_sources(f, src);
    int present[F_COUNT] = {0};
    for (int i = 0; i < F_COUNT; i++) present[i] = src[i] != NULL;
    present[F_NSITES] = present[F_NCODIM] = present[F_TYPES] = 1;
    present[F_MASSES] = !f->masses64;
    present[F_POSITIONS] = !f->positions64;
    present[F_ENERGY] = f->has_energy != 0;
    present[F_PROPS] = f->nprops > 0;
    present[F_ATOM_PROPS] = f->natom_props > 0;

    L->count[F_NAME] = (uint32_t)f->name_len;
    L->count[F_TYPES] = L->count[F_MASSES] = L->count[F_CHARGES] = (uint32_t)n;
    L->count[F_MASSES64] = L->count[F_CHARGES64] = (uint32_t)n;
    L->count[F_POSITIONS] = L->count[F_FORCES] = (uint32_t)nd;
    L->count[F_POSITIONS64] = L->count[F_FORCES64] = (uint32_t)nd;
    L->count[F_CELL] = L->count[F_STRESS] = L->count[F_CELL64] = L->count[F_STRESS64] = 9;
    L->count[F_PBC] = 3;
    L->count[F_PROPS] = (uint32_t)f->nprops;
    L->count[F_ATOM_PROPS] = (uint32_t)f->natom_props;

    int nfields = 0;
    for (int i = 0; i < F_COUNT; i++)
        if (present[i]) nfields = i + 1;
    L->vtsize = 4u + 2u * (uint32_t)nfields;

    /* The table: soffset, [energy (8-aligned)], nsites, ncodim, then the uoffsets. */
    uint32_t t = (uint32_t)align4(VTABLE_POS + L->vtsize);
    if (present[F_ENERGY] && (t % 8u) != 4u) t += 4u;
    L->table = t;
    uint32_t off = 4;
    if (present[F_ENERGY]) {
        L->voff[F_ENERGY] = (uint16_t)off;
        off += 8;
    }
    L->voff[F_NSITES] = (uint16_t)off;
    off += 4;
    L->voff[F_NCODIM] = (uint16_t)off;
    off += 4;
    static const int ref_order[] = {F_NAME,      F_TYPES,       F_MASSES,   F_POSITIONS,
                                    F_FORCES,    F_CELL,        F_PBC,      F_CHARGES,
                                    F_STRESS,    F_POSITIONS64, F_FORCES64, F_CELL64,
                                    F_STRESS64,  F_MASSES64,    F_CHARGES64, F_PROPS,
                                    F_ATOM_PROPS};
    for (size_t k = 0; k < sizeof ref_order / sizeof ref_order[0]; k++) {
        int i = ref_order[k];
        if (!present[i]) continue;
        L->voff[i] = (uint16_t)off;
        off += 4;
    }
    L->tsize = off;

    /* Then the objects: small ones and the property tables first (the "head", zeroed before
     * it is filled), the big arrays last, positions at the very end so that the buffer ends
     * exactly at its last element (any truncation is detectable). A v1 frame keeps the v1
     * layout byte for byte (tests/golden/frame/vlstore-v1.bin). */
    static const int obj_order[] = {F_NAME,       F_PBC,     F_CELL,    F_STRESS,
                                    F_CHARGES,    F_CELL64,  F_STRESS64, F_CHARGES64,
                                    F_PROPS,      F_ATOM_PROPS, F_TYPES, F_MASSES,
                                    F_MASSES64,   F_FORCES,  F_FORCES64, F_POSITIONS,
                                    F_POSITIONS64};
    uint64_t pos = (uint64_t)L->table + L->tsize;
    for (size_t k = 0; k < sizeof obj_order / sizeof obj_order[0]; k++) {
        int i = obj_order[k];
        if (!present[i]) continue;
        if (vec_elem_size[i] == 8) pos = align_vec8(pos);
        if (i == F_TYPES) L->head_end = (uint32_t)pos;
        L->vec[i] = (uint32_t)pos;
        if (i == F_PROPS || i == F_ATOM_PROPS) {
            pos = props_block(NULL, pos, f, i == F_ATOM_PROPS);
            if (pos == 0) return VLS_E_TOOBIG;
        } else {
            pos = align4(pos + 4u + (uint64_t)L->count[i] * vec_elem_size[i] + (i == F_NAME));
        }
        if (pos > VLS_FRAME_MAX_SIZE) return VLS_E_TOOBIG;
    }
    L->total = pos;
    return VLS_OK;
}

size_t vls_frame_encoded_size(const vls_frame *f) {
    layout L;
    if (plan(f, &L) != VLS_OK) return 0;
    return (size_t)L.total;
}

/* Writes a vector's length word and elements. Past the zeroed head, `end` (the end of the
 * previous array) is given and the alignment gap from there is zeroed; in the head it is NULL. */
static void put_vec(uint8_t *b, const layout *L, int i, const void *src, uint64_t *end) {
    uint8_t *p = b + L->vec[i];
    size_t bytes = (size_t)L->count[i] * vec_elem_size[i];
    if (end && *end < L->vec[i]) memset(b + *end, 0, L->vec[i] - *end);
    st32(p, L->count[i]);
    if (bytes) memcpy(p + 4, src, bytes);
    if (end) *end = L->vec[i] + 4u + bytes;
}

int vls_frame_encode(const vls_frame *f, void *buf, size_t cap, size_t *len) {
    layout L;
    if (!len) return VLS_E_INVAL;
    int rc = plan(f, &L);
    if (rc != VLS_OK) return rc;
    *len = (size_t)L.total;
    if (cap < L.total) return VLS_E_TOOSMALL;
    if (!buf) return VLS_E_INVAL;
    uint8_t *b = buf;

    /* Header part (root offset, vtable, table, name, pbc, cell, stress, charges, properties,
     * types' length...): zero it so every padding byte is 0, then fill. */
    memset(b, 0, L.head_end);
    st32(b, L.table);
    st16(b + VTABLE_POS, (uint16_t)L.vtsize);
    st16(b + VTABLE_POS + 2, (uint16_t)L.tsize);
    for (uint32_t i = 0; i < (L.vtsize - 4u) / 2u; i++)
        st16(b + VTABLE_POS + 4 + 2 * i, L.voff[i]);

    uint8_t *t = b + L.table;
    sti32(t, (int32_t)(L.table - VTABLE_POS));
    if (L.voff[F_ENERGY]) stf64(t + L.voff[F_ENERGY], f->energy);
    sti32(t + L.voff[F_NSITES], f->nsites);
    sti32(t + L.voff[F_NCODIM], f->ncodim);
    for (int i = 0; i < F_COUNT; i++) {
        if (!L.vec[i]) continue;
        uint32_t at = L.table + L.voff[i];
        st32(b + at, L.vec[i] - at);
    }

    const void *src[F_COUNT];
    field_sources(f, src);
    if (L.vec[F_NAME]) put_vec(b, &L, F_NAME, f->name, NULL); /* NUL and padding already zero */
    if (L.vec[F_PBC]) {
        uint8_t *p = b + L.vec[F_PBC];
        st32(p, 3);
        for (int k = 0; k < 3; k++) p[4 + k] = f->pbc[k] != 0;
    }
    static const int small[] = {F_CELL, F_STRESS, F_CHARGES, F_CELL64, F_STRESS64, F_CHARGES64};
    for (size_t k = 0; k < sizeof small / sizeof small[0]; k++)
        if (L.vec[small[k]]) put_vec(b, &L, small[k], src[small[k]], NULL);
    if (L.vec[F_PROPS]) props_block(b, L.vec[F_PROPS], f, 0);
    if (L.vec[F_ATOM_PROPS]) props_block(b, L.vec[F_ATOM_PROPS], f, 1);
    uint64_t end = L.head_end;
    static const int big[] = {F_TYPES,    F_MASSES,    F_MASSES64,   F_FORCES,
                              F_FORCES64, F_POSITIONS, F_POSITIONS64};
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++)
        if (L.vec[big[k]]) put_vec(b, &L, big[k], src[big[k]], &end);
    return VLS_OK;
}

int vls_frame_encode_alloc(const vls_frame *f, void **out, size_t *len) {
    if (!out || !len) return VLS_E_INVAL;
    *out = NULL;
    layout L;
    int rc = plan(f, &L);
    if (rc != VLS_OK) return rc;
    void *b = malloc(L.total ? (size_t)L.total : 1);
    if (!b) return VLS_E_NOMEM;
    rc = vls_frame_encode(f, b, (size_t)L.total, len);
    if (rc != VLS_OK) {
        free(b);
        return rc;
    }
    *out = b;
    return VLS_OK;
}

/*-*************************************
 *  Verifier
 ***************************************/
typedef struct {
    const uint8_t *b;
    uint64_t len;
} vctx;

/* The verifier has no handle: its failures go to the thread's handle-less message. */
#define fail(c, ...) ((void)(c), vls_seterr(NULL, __VA_ARGS__))

/* What the verifier found: field positions of the present fields. */
typedef struct {
    uint64_t table;
    uint64_t field[F_COUNT]; /* absolute position of each present field (0: absent) */
    uint64_t data[F_COUNT];  /* for vectors: position of the first element */
    uint32_t count[F_COUNT]; /* for vectors: element count */
    int need8;               /* a 64-bit array is present: typed access needs 8-alignment */
} found;

/* Checks the table at `t` (`what` names it in messages): its soffset and vtable, and that each
 * of the nf known fields present lies inside the table, aligned to fsize[i]. field[i] receives
 * each field's absolute position (0: absent). */
static int check_table(vctx *c, uint64_t t, int nf, const uint8_t *fsize,
                       const char *const *names, const char *what, uint64_t *field) {
    const uint8_t *b = c->b;
    const uint64_t len = c->len;
    if (t + 4 > len)
        return fail(c, VLS_E_TRUNCATED, "%s table at %llu lies past the end (%llu bytes)", what,
                    (unsigned long long)t, (unsigned long long)len);
    const int64_t vt = (int64_t)t - (int64_t)ldi32(b + t);
    if (vt < 0 || (vt & 1))
        return fail(c, VLS_E_CORRUPT, "%s vtable position %lld is negative or odd", what,
                    (long long)vt);
    if ((uint64_t)vt + 4 > len)
        return fail(c, VLS_E_TRUNCATED, "%s vtable at %lld lies past the end (%llu bytes)", what,
                    (long long)vt, (unsigned long long)len);
    const uint32_t vtsize = ld16(b + vt), tsize = ld16(b + vt + 2);
    if (vtsize < 4 || (vtsize & 1u))
        return fail(c, VLS_E_CORRUPT, "%s vtable size %u is not an even number >= 4", what,
                    vtsize);
    if ((uint64_t)vt + vtsize > len)
        return fail(c, VLS_E_TRUNCATED, "%s vtable at %lld of %u bytes runs past the end", what,
                    (long long)vt, vtsize);
    if (tsize < 4) return fail(c, VLS_E_CORRUPT, "%s table size %u is below 4", what, tsize);
    if (t + tsize > len)
        return fail(c, VLS_E_TRUNCATED, "%s table at %llu of %u bytes runs past the end", what,
                    (unsigned long long)t, tsize);
    const uint32_t nvt = (vtsize - 4u) / 2u;
    for (int i = 0; i < nf; i++) {
        uint32_t voff = (uint32_t)i < nvt ? ld16(b + vt + 4 + 2 * i) : 0;
        field[i] = 0;
        if (!voff) continue;
        if (voff < 4 || voff + fsize[i] > tsize)
            return fail(c, VLS_E_CORRUPT, "%s field %s at table offset %u overruns the %u-byte table",
                        what, names[i], voff, tsize);
        uint64_t at = t + voff;
        if (at % fsize[i])
            return fail(c, VLS_E_CORRUPT, "%s field %s at %llu is not %u-byte aligned", what,
                        names[i], (unsigned long long)at, fsize[i]);
        field[i] = at;
    }
    return VLS_OK;
}

/* Follows the uoffset at `at` to a vector (esz bytes per element; a string when is_string)
 * and checks that it lies inside the buffer and is aligned. */
static int check_vec(vctx *c, uint64_t at, unsigned esz, int is_string, const char *what,
                     uint64_t *data, uint32_t *count) {
    const uint8_t *b = c->b;
    const uint64_t len = c->len;
    uint32_t u = ld32(b + at);
    if (u == 0 || u > 0x7FFFFFFFu)
        return fail(c, VLS_E_CORRUPT, "%s holds the invalid offset %u", what, u);
    uint64_t v = at + u;
    if (v & 3u)
        return fail(c, VLS_E_CORRUPT, "%s at %llu is not 4-byte aligned", what,
                    (unsigned long long)v);
    if (v + 4 > len)
        return fail(c, VLS_E_TRUNCATED, "%s at %llu lies past the end (%llu bytes)", what,
                    (unsigned long long)v, (unsigned long long)len);
    uint32_t n = ld32(b + v);
    /* An empty vector has no elements to align (flatc does not align them then). */
    if (esz == 8 && n && (v + 4) % 8u)
        return fail(c, VLS_E_CORRUPT, "%s: 8-byte elements at %llu are not 8-byte aligned", what,
                    (unsigned long long)(v + 4));
    uint64_t need = 4 + (uint64_t)n * esz + (is_string ? 1u : 0u);
    if (v + need > len)
        return fail(c, VLS_E_TRUNCATED,
                    "%s: %u elements at %llu need %llu bytes, past the end (%llu bytes)", what, n,
                    (unsigned long long)v, (unsigned long long)need, (unsigned long long)len);
    if (is_string && b[v + 4 + n] != 0)
        return fail(c, VLS_E_CORRUPT, "%s is not NUL-terminated", what);
    *data = v + 4;
    *count = n;
    return VLS_OK;
}

/* Checks the vector of FBProperty tables whose first uoffset is at `data` (n of them). */
static int check_prop_tables(vctx *c, uint64_t data, uint32_t n, int per_atom, int64_t nsites,
                             found *fd) {
    static const uint8_t fsize[P_COUNT] = {4, 4, 1, 4, 4, 4, 4, 4, 4};
    static const uint8_t esize[P_COUNT] = {1, 4, 0, 4, 8, 4, 8, 1, 4};
    const char *list = per_atom ? "atom_properties" : "properties";
    for (uint32_t i = 0; i < n; i++) {
        char what[80];
        snprintf(what, sizeof what, "%s[%u]", list, i);
        const uint64_t slot = data + 4u * (uint64_t)i;
        const uint32_t u = ld32(c->b + slot);
        if (u == 0 || u > 0x7FFFFFFFu || ((slot + u) & 3u))
            return fail(c, VLS_E_CORRUPT, "%s: invalid table offset %u", what, u);
        uint64_t field[P_COUNT], vdata[P_COUNT] = {0};
        uint32_t vcount[P_COUNT] = {0};
        int rc = check_table(c, slot + u, P_COUNT, fsize, prop_field_names, what, field);
        if (rc) return rc;
        if (!field[P_NAME]) return fail(c, VLS_E_CORRUPT, "%s has no name", what);
        int typed = -1;
        for (int k = 0; k < P_COUNT; k++) {
            if (!field[k] || k == P_KIND) continue;
            char fw[120];
            snprintf(fw, sizeof fw, "%s.%s", what, prop_field_names[k]);
            rc = check_vec(c, field[k], esize[k], k == P_NAME, fw, &vdata[k], &vcount[k]);
            if (rc) return rc;
            if (k == P_NAME) {
                if (vcount[k] == 0) return fail(c, VLS_E_CORRUPT, "%s has an empty name", what);
                snprintf(what, sizeof what, "%s[%u] '%.40s'", list, i,
                         (const char *)c->b + vdata[k]);
            }
            if (k < P_F32) continue;
            if (typed >= 0)
                return fail(c, VLS_E_CORRUPT, "%s holds both %s and %s values", what,
                            prop_field_names[typed], prop_field_names[k]);
            typed = k;
        }
        if (typed < 0) return fail(c, VLS_E_CORRUPT, "%s holds no values", what);
        if (esize[typed] == 8) fd->need8 = 1;
        const uint8_t kind = field[P_KIND] ? c->b[field[P_KIND]] : 0;
        if (kind > VLS_PROP_JSON) return fail(c, VLS_E_CORRUPT, "%s: unknown kind %u", what, kind);
        uint64_t product = 1;
        if (field[P_SHAPE]) {
            if (vcount[P_SHAPE] > VLS_PROP_MAX_NDIM)
                return fail(c, VLS_E_CORRUPT, "%s: %u dimensions, more than %d", what,
                            vcount[P_SHAPE], VLS_PROP_MAX_NDIM);
            for (uint32_t d = 0; d < vcount[P_SHAPE]; d++) {
                int32_t dim = ldi32(c->b + vdata[P_SHAPE] + 4u * d);
                if (dim < 0) return fail(c, VLS_E_CORRUPT, "%s: dimension %u is %d", what, d, dim);
                if (product <= VLS_FRAME_MAX_SIZE) product *= (uint64_t)dim;
            }
        }
        if (product != vcount[typed])
            return fail(c, VLS_E_CORRUPT, "%s: %u values, the shape says %llu", what,
                        vcount[typed], (unsigned long long)product);
        if (kind == VLS_PROP_JSON && (typed != P_S || field[P_SHAPE]))
            return fail(c, VLS_E_CORRUPT, "%s: a JSON property must be one string", what);
        if (per_atom && (!field[P_SHAPE] || vcount[P_SHAPE] < 1 ||
                         ldi32(c->b + vdata[P_SHAPE]) != nsites))
            return fail(c, VLS_E_CORRUPT, "%s: a per-atom property needs shape[0] == nsites = %lld",
                        what, (long long)nsites);
        if (typed == P_S) {
            for (uint32_t k = 0; k < vcount[P_S]; k++) {
                char sw[120];
                uint64_t sd;
                uint32_t sn;
                snprintf(sw, sizeof sw, "%s string %u", what, k);
                rc = check_vec(c, vdata[P_S] + 4u * k, 1, 1, sw, &sd, &sn);
                if (rc) return rc;
            }
        }
    }
    return VLS_OK;
}

static int verify(vctx *c, found *fd) {
    const uint8_t *b = c->b;
    const uint64_t len = c->len;
    memset(fd, 0, sizeof *fd);

    if (len < 4)
        return fail(c, VLS_E_TRUNCATED, "buffer of %llu bytes cannot hold a root offset",
                    (unsigned long long)len);
    const uint64_t root = ld32(b);
    if (root < 4 || (root & 3u))
        return fail(c, VLS_E_CORRUPT, "root table offset %llu is not a 4-aligned offset >= 4",
                    (unsigned long long)root);
    if (root + 4 > len)
        return fail(c, VLS_E_TRUNCATED, "root table at %llu lies past the end (%llu bytes)",
                    (unsigned long long)root, (unsigned long long)len);
    uint8_t fsize[F_COUNT];
    for (int i = 0; i < F_COUNT; i++) fsize[i] = i == F_ENERGY ? 8 : 4; /* int32, uoffset, double */
    int rc = check_table(c, root, F_COUNT, fsize, field_names, "frame", fd->field);
    if (rc) return rc;
    fd->table = root;
    for (int i = 0; i < F_COUNT; i++) {
        if (!fd->field[i] || !vec_elem_size[i]) continue;
        rc = check_vec(c, fd->field[i], vec_elem_size[i], i == F_NAME, field_names[i],
                       &fd->data[i], &fd->count[i]);
        if (rc) return rc;
        if (vec_elem_size[i] == 8) fd->need8 = 1;
    }

    /* Consistency of the frame. */
    const int64_t nsites = fd->field[F_NSITES] ? ldi32(b + fd->field[F_NSITES]) : 0;
    const int64_t ncodim = fd->field[F_NCODIM] ? ldi32(b + fd->field[F_NCODIM]) : NCODIM_DEFAULT;
    if (nsites < 0) return fail(c, VLS_E_CORRUPT, "nsites is negative (%lld)", (long long)nsites);
    if (ncodim < 1) return fail(c, VLS_E_CORRUPT, "ncodim is %lld, below 1", (long long)ncodim);
    const int64_t nd = nsites * ncodim;
    /* Each array with its float64 twin (or -1), the length it must have, and whether it may be
     * absent. A required array may be absent only when it would be empty. */
    struct {
        int field, twin;
        int64_t want;
        int optional;
        const char *what;
    } rules[] = {
        {F_TYPES, -1, nsites, 0, "nsites"},
        {F_MASSES, F_MASSES64, nsites, 0, "nsites"},
        {F_POSITIONS, F_POSITIONS64, nd, 0, "nsites*ncodim"},
        {F_FORCES, F_FORCES64, nd, 1, "nsites*ncodim"},
        {F_CHARGES, F_CHARGES64, nsites, 1, "nsites"},
        {F_CELL, F_CELL64, 9, 1, "3x3"},
        {F_PBC, -1, 3, 1, "3"},
        {F_STRESS, F_STRESS64, 9, 1, "3x3"},
    };
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        int i = rules[k].field, tw = rules[k].twin;
        if (tw >= 0 && fd->field[i] && fd->field[tw])
            return fail(c, VLS_E_CORRUPT, "both %s and %s are present", field_names[i],
                        field_names[tw]);
        if (tw >= 0 && fd->field[tw]) i = tw;
        if (!fd->field[i]) {
            if (rules[k].optional || rules[k].want == 0) continue;
            return fail(c, VLS_E_CORRUPT, "%s is absent, expected %s = %lld values",
                        field_names[i], rules[k].what, (long long)rules[k].want);
        }
        if ((int64_t)fd->count[i] != rules[k].want)
            return fail(c, VLS_E_CORRUPT, "%s: %u values, expected %s = %lld", field_names[i],
                        fd->count[i], rules[k].what, (long long)rules[k].want);
    }
    for (int per_atom = 0; per_atom < 2; per_atom++) {
        int i = per_atom ? F_ATOM_PROPS : F_PROPS;
        if (!fd->field[i]) continue;
        rc = check_prop_tables(c, fd->data[i], fd->count[i], per_atom, nsites, fd);
        if (rc) return rc;
    }
    return VLS_OK;
}

int vls_frame_verify(const void *buf, size_t len) {
    vctx c = {buf, len};
    found fd;
    if (!buf && len) return fail(&c, VLS_E_INVAL, "buffer is NULL");
    if (!buf) c.b = (const uint8_t *)"";
    return verify(&c, &fd);
}

int vls_frame_is_aligned(const void *buf) { return ((uintptr_t)buf & 3u) == 0; }

int vls_frame_view(const void *buf, size_t len, vls_frame *out) {
    vctx c = {buf, len};
    found fd;
    if (!out) return fail(&c, VLS_E_INVAL, "out is NULL");
    vls_frame_init(out);
    if (!buf && len) return fail(&c, VLS_E_INVAL, "buffer is NULL");
    if (!buf) c.b = (const uint8_t *)"";
    int rc = verify(&c, &fd);
    if (rc != VLS_OK) return rc;

    const uint8_t *b = c.b;
    if (fd.field[F_NAME]) {
        out->name = (const char *)(b + fd.data[F_NAME]);
        out->name_len = fd.count[F_NAME];
    } else {
        out->name = "";
        out->name_len = 0;
    }
    out->nsites = fd.field[F_NSITES] ? ldi32(b + fd.field[F_NSITES]) : 0;
    out->ncodim = fd.field[F_NCODIM] ? ldi32(b + fd.field[F_NCODIM]) : NCODIM_DEFAULT;
    if (fd.field[F_ENERGY]) {
        out->has_energy = 1;
        out->energy = ldf64(b + fd.field[F_ENERGY]);
    }
#define VIEW_PTR(idx, type) (fd.field[idx] ? (const type *)(const void *)(b + fd.data[idx]) : NULL)
    out->types = VIEW_PTR(F_TYPES, int32_t);
    out->masses = VIEW_PTR(F_MASSES, float);
    out->positions = VIEW_PTR(F_POSITIONS, float);
    out->forces = VIEW_PTR(F_FORCES, float);
    out->cell = VIEW_PTR(F_CELL, float);
    out->pbc = VIEW_PTR(F_PBC, uint8_t);
    out->charges = VIEW_PTR(F_CHARGES, float);
    out->stress = VIEW_PTR(F_STRESS, float);
    out->positions64 = VIEW_PTR(F_POSITIONS64, double);
    out->forces64 = VIEW_PTR(F_FORCES64, double);
    out->cell64 = VIEW_PTR(F_CELL64, double);
    out->stress64 = VIEW_PTR(F_STRESS64, double);
    out->masses64 = VIEW_PTR(F_MASSES64, double);
    out->charges64 = VIEW_PTR(F_CHARGES64, double);
#undef VIEW_PTR
    if (fd.field[F_PROPS]) {
        out->nprops = fd.count[F_PROPS];
        out->prop_tables_[0] = b + fd.data[F_PROPS];
    }
    if (fd.field[F_ATOM_PROPS]) {
        out->natom_props = fd.count[F_ATOM_PROPS];
        out->prop_tables_[1] = b + fd.data[F_ATOM_PROPS];
    }
    out->aligned = ((uintptr_t)buf & (fd.need8 ? 7u : 3u)) == 0;
    return VLS_OK;
}

int vls_frame_view_aligned(const void *buf, size_t len, void *scratch, size_t scratch_cap,
                           vls_frame *out) {
    int rc = vls_frame_view(buf, len, out);
    if (rc != VLS_OK || out->aligned) return rc;
    vls_frame_init(out);
    if (!scratch || ((uintptr_t)scratch & 7u)) return VLS_E_INVAL;
    if (scratch_cap < len) return VLS_E_TOOSMALL;
    memcpy(scratch, buf, len);
    return vls_frame_view(scratch, len, out);
}

/*-*************************************
 *  Properties
 ***************************************/

/* Decodes a property table of a verified view; `slot` is its uoffset in the vector. */
static void prop_from_table(const uint8_t *slot, vls_prop *out) {
    const uint8_t *t = slot + ld32(slot);
    const uint8_t *vt = t - ldi32(t);
    const uint32_t nvt = (ld16(vt) - 4u) / 2u;
    const uint8_t *field[P_COUNT];
    for (int k = 0; k < P_COUNT; k++) {
        uint16_t voff = (uint32_t)k < nvt ? ld16(vt + 4 + 2 * k) : 0;
        field[k] = voff ? t + voff : NULL;
    }
    memset(out, 0, sizeof *out);
    const uint8_t *name = field[P_NAME] + ld32(field[P_NAME]);
    out->name = (const char *)(name + 4);
    out->name_len = ld32(name);
    if (field[P_SHAPE]) {
        const uint8_t *shape = field[P_SHAPE] + ld32(field[P_SHAPE]);
        out->ndim = (int)ld32(shape);
        out->shape = (const int32_t *)(const void *)(shape + 4);
    }
    out->kind = field[P_KIND] ? *field[P_KIND] : VLS_PROP_PLAIN;
    for (int dt = VLS_DT_F32; dt <= VLS_DT_STR; dt++) {
        const uint8_t *fp = field[dtype_field[dt]];
        if (!fp) continue;
        const uint8_t *vec = fp + ld32(fp);
        out->dtype = dt;
        out->count = ld32(vec);
        if (dt == VLS_DT_STR)
            out->strings_ = vec + 4;
        else
            out->data = vec + 4;
    }
}

int vls_frame_prop(const vls_frame *f, int per_atom, size_t i, vls_prop *out) {
    if (!f || !out) return VLS_E_INVAL;
    const vls_prop *list = per_atom ? f->atom_props : f->props;
    const size_t n = per_atom ? f->natom_props : f->nprops;
    const uint8_t *tables = f->prop_tables_[per_atom != 0];
    if (i >= n || (!list && !tables)) return VLS_E_NOTFOUND;
    if (list)
        *out = list[i];
    else
        prop_from_table(tables + 4 * i, out);
    return VLS_OK;
}

int vls_frame_find_prop(const vls_frame *f, int per_atom, const char *name, vls_prop *out) {
    if (!f || !name || !out) return VLS_E_INVAL;
    const size_t n = per_atom ? f->natom_props : f->nprops, len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (vls_frame_prop(f, per_atom, i, out) != VLS_OK) break;
        if (out->name_len == len && !memcmp(out->name, name, len)) return VLS_OK;
    }
    return VLS_E_NOTFOUND;
}

const char *vls_prop_string(const vls_prop *p, size_t i, size_t *len) {
    if (!p || p->dtype != VLS_DT_STR || i >= p->count) return NULL;
    const char *s;
    if (p->strings_) {
        const uint8_t *slot = (const uint8_t *)p->strings_ + 4 * i;
        const uint8_t *str = slot + ld32(slot);
        s = (const char *)(str + 4);
        if (len) *len = ld32(str);
    } else {
        s = ((const char *const *)p->data)[i];
        if (len) *len = strlen(s);
    }
    return s;
}

/*-*************************************
 *  JSON
 ***************************************/
/* JSON has no NaN or infinity: they are written as the strings "NaN", "Infinity" and
 * "-Infinity" (valid JSON that keeps the value; Python's float() and numpy read them back). */
static void json_float(FILE *out, double v, int digits) {
    if (isnan(v))
        fputs("\"NaN\"", out);
    else if (isinf(v))
        fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
    else
        fprintf(out, "%.*g", digits, v);
}

static int write_json(FILE *out, const vls_frame *f, unsigned flags);

int vls_frame_write_json(FILE *out, const vls_frame *f, unsigned flags) {
    if (!out || !f) return VLS_E_INVAL;
    /* JSON numbers take '.' whatever LC_NUMERIC the program set ("1,5" is not JSON): this
     * thread prints in the C locale for the call; the process's locale is left alone. */
    locale_t c = vls_c_locale();
    if (!c) return VLS_E_NOMEM;
    locale_t prev = uselocale(c);
    int rc = write_json(out, f, flags);
    uselocale(prev);
    return rc;
}

static void json_string(FILE *out, const char *s, size_t n) {
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* Prints n elements of `dtype` from p (which may be unaligned) as a JSON list. */
static void json_values(FILE *out, int dtype, const void *p, size_t n, const char *nl) {
    const unsigned char *q = p;
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        if (*nl && i && i % 12 == 0) fputs(nl, out);
        switch (dtype) {
        case VLS_DT_F32: {
            float v;
            memcpy(&v, q + 4 * i, 4);
            json_float(out, v, 9);
            break;
        }
        case VLS_DT_F64: {
            double v;
            memcpy(&v, q + 8 * i, 8);
            json_float(out, v, 17);
            break;
        }
        case VLS_DT_I32: {
            int32_t v;
            memcpy(&v, q + 4 * i, 4);
            fprintf(out, "%ld", (long)v);
            break;
        }
        case VLS_DT_I64: {
            int64_t v;
            memcpy(&v, q + 8 * i, 8);
            fprintf(out, "%lld", (long long)v);
            break;
        }
        default:
            fputs(q[i] ? "true" : "false", out);
        }
    }
    fputc(']', out);
}

static void json_array(FILE *out, const char *key, int dtype, const void *p, size_t n,
                       const char *sep, const char *nl) {
    fprintf(out, "%s\"%s\": ", sep, key);
    json_values(out, dtype, p, n, nl);
}

static void json_props(FILE *out, const vls_frame *f, int per_atom, const char *sep,
                       const char *nl) {
    static const char *const field_of[7] = {"", "f32", "f64", "i32", "i64", "b", "s"};
    const size_t n = per_atom ? f->natom_props : f->nprops;
    if (!n) return;
    fprintf(out, "%s\"%s\": [", sep, per_atom ? "atom_properties" : "properties");
    for (size_t i = 0; i < n; i++) {
        vls_prop p;
        if (vls_frame_prop(f, per_atom, i, &p) != VLS_OK) break;
        fprintf(out, "%s%s{\"name\": ", i ? "," : "", nl);
        json_string(out, p.name, p.name_len);
        if (p.ndim) {
            fputs(", \"shape\": ", out);
            json_values(out, VLS_DT_I32, p.shape, (size_t)p.ndim, "");
        }
        if (p.kind) fprintf(out, ", \"kind\": %d", p.kind);
        fprintf(out, ", \"%s\": ", field_of[p.dtype]);
        if (p.dtype == VLS_DT_STR) {
            fputc('[', out);
            for (size_t k = 0; k < p.count; k++) {
                size_t len;
                const char *s = vls_prop_string(&p, k, &len);
                if (k) fputs(", ", out);
                json_string(out, s, len);
            }
            fputc(']', out);
        } else {
            json_values(out, p.dtype, p.data, p.count, "");
        }
        fputc('}', out);
    }
    fputs("]", out);
}

static int write_json(FILE *out, const vls_frame *f, unsigned flags) {
    const char *nl = (flags & VLS_JSON_COMPACT) ? "" : "\n  ";
    const char *sep = (flags & VLS_JSON_COMPACT) ? ", " : ",\n  ";
    const size_t n = f->nsites > 0 ? (size_t)f->nsites : 0;
    const size_t nd = n * (size_t)(f->ncodim > 0 ? f->ncodim : 0);

    fprintf(out, "{%s\"name\": ", nl);
    json_string(out, f->name ? f->name : "", f->name ? f->name_len : 0);
    fprintf(out, "%s\"nsites\": %d%s\"ncodim\": %d", sep, (int)f->nsites, sep, (int)f->ncodim);
    json_array(out, "types", VLS_DT_I32, f->types, f->types ? n : 0, sep, nl);
    if (f->masses) json_array(out, "masses", VLS_DT_F32, f->masses, n, sep, nl);
    if (f->positions) json_array(out, "positions", VLS_DT_F32, f->positions, nd, sep, nl);
    if (f->forces) json_array(out, "forces", VLS_DT_F32, f->forces, nd, sep, nl);
    if (f->has_energy) {
        fprintf(out, "%s\"energy\": ", sep);
        json_float(out, f->energy, 17);
    }
    if (f->cell) json_array(out, "cell", VLS_DT_F32, f->cell, 9, sep, nl);
    if (f->pbc) fprintf(out, "%s\"pbc\": [%d, %d, %d]", sep, f->pbc[0], f->pbc[1], f->pbc[2]);
    if (f->charges) json_array(out, "charges", VLS_DT_F32, f->charges, n, sep, nl);
    if (f->stress) json_array(out, "stress", VLS_DT_F32, f->stress, 9, sep, nl);
    if (f->positions64) json_array(out, "positions64", VLS_DT_F64, f->positions64, nd, sep, nl);
    if (f->forces64) json_array(out, "forces64", VLS_DT_F64, f->forces64, nd, sep, nl);
    if (f->cell64) json_array(out, "cell64", VLS_DT_F64, f->cell64, 9, sep, nl);
    if (f->stress64) json_array(out, "stress64", VLS_DT_F64, f->stress64, 9, sep, nl);
    if (f->masses64) json_array(out, "masses64", VLS_DT_F64, f->masses64, n, sep, nl);
    if (f->charges64) json_array(out, "charges64", VLS_DT_F64, f->charges64, n, sep, nl);
    json_props(out, f, 0, sep, nl);
    json_props(out, f, 1, sep, nl);
    fprintf(out, "%s}\n", (flags & VLS_JSON_COMPACT) ? "" : "\n");
    return ferror(out) ? VLS_E_IO : VLS_OK;
}
