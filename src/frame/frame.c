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
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "name",   "nsites", "ncodim", "types", "masses",  "positions",
    "forces", "energy", "cell",   "pbc",   "charges", "stress"};

/* Element size of each vector field (0 for scalars; 1 for the string's bytes). */
static const uint8_t vec_elem_size[F_COUNT] = {1, 0, 0, 4, 4, 4, 4, 0, 4, 1, 4, 4};

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

/* Computes the layout of `f`. @return VLS_OK, VLS_E_INVAL or VLS_E_TOOBIG. */
static int plan(const vls_frame *f, layout *L) {
    if (!f) return VLS_E_INVAL;
    if (f->nsites < 0 || f->ncodim < 1) return VLS_E_INVAL;
    if (!f->name && f->name_len > 0) return VLS_E_INVAL;
    if (f->nsites > 0 && (!f->types || !f->masses || !f->positions)) return VLS_E_INVAL;

    const uint64_t n = (uint64_t)f->nsites;
    const uint64_t nd = n * (uint64_t)f->ncodim; /* < 2^62 */
    if (nd > VLS_FRAME_MAX_SIZE / 4u || f->name_len > VLS_FRAME_MAX_SIZE) return VLS_E_TOOBIG;

    memset(L, 0, sizeof *L);
    int present[F_COUNT] = {0};
    present[F_NAME] = f->name != NULL;
    present[F_NSITES] = present[F_NCODIM] = 1;
    present[F_TYPES] = present[F_MASSES] = present[F_POSITIONS] = 1;
    present[F_FORCES] = f->forces != NULL;
    present[F_ENERGY] = f->has_energy != 0;
    present[F_CELL] = f->cell != NULL;
    present[F_PBC] = f->pbc != NULL;
    present[F_CHARGES] = f->charges != NULL;
    present[F_STRESS] = f->stress != NULL;

    L->count[F_NAME] = (uint32_t)f->name_len;
    L->count[F_TYPES] = L->count[F_MASSES] = L->count[F_CHARGES] = (uint32_t)n;
    L->count[F_POSITIONS] = L->count[F_FORCES] = (uint32_t)nd;
    L->count[F_CELL] = L->count[F_STRESS] = 9;
    L->count[F_PBC] = 3;

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
    static const int ref_order[] = {F_NAME,   F_TYPES, F_MASSES,  F_POSITIONS, F_FORCES,
                                    F_CELL,   F_PBC,   F_CHARGES, F_STRESS};
    for (size_t k = 0; k < sizeof ref_order / sizeof ref_order[0]; k++) {
        int i = ref_order[k];
        if (!present[i]) continue;
        L->voff[i] = (uint16_t)off;
        off += 4;
    }
    L->tsize = off;

    /* Then the objects: small ones first, the big arrays last, positions at the very end so
     * that the buffer ends exactly at its last element (any truncation is detectable). */
    static const int obj_order[] = {F_NAME,    F_PBC,   F_CELL,   F_STRESS,   F_CHARGES,
                                    F_TYPES,   F_MASSES, F_FORCES, F_POSITIONS};
    uint64_t pos = (uint64_t)L->table + L->tsize;
    for (size_t k = 0; k < sizeof obj_order / sizeof obj_order[0]; k++) {
        int i = obj_order[k];
        if (!present[i]) continue;
        if (i == F_TYPES) L->head_end = (uint32_t)pos;
        L->vec[i] = (uint32_t)pos;
        pos = align4(pos + 4u + (uint64_t)L->count[i] * vec_elem_size[i] + (i == F_NAME));
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

/* Writes a vector's length word and elements (and the NUL / padding of the name). */
static void put_vec(uint8_t *b, const layout *L, int i, const void *src) {
    uint8_t *p = b + L->vec[i];
    size_t bytes = (size_t)L->count[i] * vec_elem_size[i];
    st32(p, L->count[i]);
    if (bytes) memcpy(p + 4, src, bytes);
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

    /* Header part (root offset, vtable, table, name, pbc, cell, stress, charges' length...):
     * zero it so every padding byte is 0, then fill. Small: ~100 bytes + the name. */
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

    if (L.vec[F_NAME]) put_vec(b, &L, F_NAME, f->name); /* NUL and padding already zero */
    if (L.vec[F_PBC]) {
        uint8_t *p = b + L.vec[F_PBC];
        st32(p, 3);
        for (int k = 0; k < 3; k++) p[4 + k] = f->pbc[k] != 0;
    }
    if (L.vec[F_CELL]) put_vec(b, &L, F_CELL, f->cell);
    if (L.vec[F_STRESS]) put_vec(b, &L, F_STRESS, f->stress);
    if (L.vec[F_CHARGES]) put_vec(b, &L, F_CHARGES, f->charges);
    put_vec(b, &L, F_TYPES, f->types);
    put_vec(b, &L, F_MASSES, f->masses);
    if (L.vec[F_FORCES]) put_vec(b, &L, F_FORCES, f->forces);
    put_vec(b, &L, F_POSITIONS, f->positions);
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
} found;

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
    const int64_t vt = (int64_t)root - (int64_t)ldi32(b + root);
    if (vt < 0 || (vt & 1))
        return fail(c, VLS_E_CORRUPT, "vtable position %lld is negative or odd", (long long)vt);
    if ((uint64_t)vt + 4 > len)
        return fail(c, VLS_E_TRUNCATED, "vtable at %lld lies past the end (%llu bytes)",
                    (long long)vt, (unsigned long long)len);
    const uint32_t vtsize = ld16(b + vt), tsize = ld16(b + vt + 2);
    if (vtsize < 4 || (vtsize & 1u))
        return fail(c, VLS_E_CORRUPT, "vtable size %u is not an even number >= 4", vtsize);
    if ((uint64_t)vt + vtsize > len)
        return fail(c, VLS_E_TRUNCATED, "vtable at %lld of %u bytes runs past the end",
                    (long long)vt, vtsize);
    if (tsize < 4) return fail(c, VLS_E_CORRUPT, "table size %u is below 4", tsize);
    if (root + tsize > len)
        return fail(c, VLS_E_TRUNCATED, "table at %llu of %u bytes runs past the end",
                    (unsigned long long)root, tsize);
    fd->table = root;

    const uint32_t nvt = (vtsize - 4u) / 2u;
    for (int i = 0; i < F_COUNT; i++) {
        uint32_t voff = (uint32_t)i < nvt ? ld16(b + vt + 4 + 2 * i) : 0;
        if (!voff) continue;
        uint32_t fsize = (i == F_ENERGY) ? 8u : 4u; /* int32, uoffset, or double */
        if (voff < 4 || voff + fsize > tsize)
            return fail(c, VLS_E_CORRUPT, "field %s at table offset %u overruns the %u-byte table",
                        field_names[i], voff, tsize);
        uint64_t at = root + voff;
        if (at % fsize)
            return fail(c, VLS_E_CORRUPT, "field %s at %llu is not %u-byte aligned",
                        field_names[i], (unsigned long long)at, fsize);
        fd->field[i] = at;
        if (!vec_elem_size[i]) continue;

        /* A vector or string: follow its uoffset. */
        uint32_t u = ld32(b + at);
        if (u == 0 || u > 0x7FFFFFFFu)
            return fail(c, VLS_E_CORRUPT, "field %s holds the invalid offset %u", field_names[i],
                        u);
        uint64_t v = at + u;
        if (v & 3u)
            return fail(c, VLS_E_CORRUPT, "%s at %llu is not 4-byte aligned", field_names[i],
                        (unsigned long long)v);
        if (v + 4 > len)
            return fail(c, VLS_E_TRUNCATED, "%s at %llu lies past the end (%llu bytes)",
                        field_names[i], (unsigned long long)v, (unsigned long long)len);
        uint32_t n = ld32(b + v);
        uint64_t need = 4 + (uint64_t)n * vec_elem_size[i] + (i == F_NAME);
        if (v + need > len)
            return fail(c, VLS_E_TRUNCATED,
                        "%s: %u elements at %llu need %llu bytes, past the end (%llu bytes)",
                        field_names[i], n, (unsigned long long)v, (unsigned long long)need,
                        (unsigned long long)len);
        if (i == F_NAME && b[v + 4 + n] != 0)
            return fail(c, VLS_E_CORRUPT, "name is not NUL-terminated");
        fd->data[i] = v + 4;
        fd->count[i] = n;
    }

    /* Consistency of the frame. */
    const int64_t nsites = fd->field[F_NSITES] ? ldi32(b + fd->field[F_NSITES]) : 0;
    const int64_t ncodim = fd->field[F_NCODIM] ? ldi32(b + fd->field[F_NCODIM]) : NCODIM_DEFAULT;
    if (nsites < 0) return fail(c, VLS_E_CORRUPT, "nsites is negative (%lld)", (long long)nsites);
    if (ncodim < 1) return fail(c, VLS_E_CORRUPT, "ncodim is %lld, below 1", (long long)ncodim);
    const int64_t nd = nsites * ncodim;
    struct {
        int field;
        int64_t want;
        int optional;
        const char *what;
    } rules[] = {
        {F_TYPES, nsites, 0, "nsites"},         {F_MASSES, nsites, 0, "nsites"},
        {F_POSITIONS, nd, 0, "nsites*ncodim"}, {F_FORCES, nd, 1, "nsites*ncodim"},
        {F_CHARGES, nsites, 1, "nsites"},       {F_CELL, 9, 1, "3x3"},
        {F_PBC, 3, 1, "3"},                     {F_STRESS, 9, 1, "3x3"},
    };
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        int i = rules[k].field;
        if (!fd->field[i]) {
            if (rules[k].optional || rules[k].want == 0) continue;
            return fail(c, VLS_E_CORRUPT, "%s is absent, expected %s = %lld values",
                        field_names[i], rules[k].what, (long long)rules[k].want);
        }
        if ((int64_t)fd->count[i] != rules[k].want)
            return fail(c, VLS_E_CORRUPT, "%s: %u values, expected %s = %lld", field_names[i],
                        fd->count[i], rules[k].what, (long long)rules[k].want);
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
#undef VIEW_PTR
    out->aligned = vls_frame_is_aligned(buf);
    return VLS_OK;
}

int vls_frame_view_aligned(const void *buf, size_t len, void *scratch, size_t scratch_cap,
                           vls_frame *out) {
    if (!buf || vls_frame_is_aligned(buf)) return vls_frame_view(buf, len, out);
    if (out) vls_frame_init(out);
    if (!scratch || ((uintptr_t)scratch & 7u)) return VLS_E_INVAL;
    if (scratch_cap < len) return VLS_E_TOOSMALL;
    memcpy(scratch, buf, len);
    return vls_frame_view(scratch, len, out);
}

/*-*************************************
 *  JSON
 ***************************************/
static void json_float(FILE *out, double v, int digits) {
    if (isnan(v))
        fputs("NaN", out);
    else if (isinf(v))
        fputs(v > 0 ? "Infinity" : "-Infinity", out);
    else
        fprintf(out, "%.*g", digits, v);
}

/* Prints n floats from p (which may be unaligned). */
static void json_floats(FILE *out, const char *key, const void *p, size_t n, const char *sep,
                        const char *nl) {
    fprintf(out, "%s\"%s\": [", sep, key);
    const unsigned char *q = p;
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, q + 4 * i, 4);
        if (i) fputs(", ", out);
        if (*nl && i && i % 12 == 0) fputs(nl, out);
        json_float(out, v, 9);
    }
    fputs("]", out);
}

int vls_frame_write_json(FILE *out, const vls_frame *f, unsigned flags) {
    if (!out || !f) return VLS_E_INVAL;
    const char *nl = (flags & VLS_JSON_COMPACT) ? "" : "\n  ";
    const char *sep = (flags & VLS_JSON_COMPACT) ? ", " : ",\n  ";
    const size_t n = f->nsites > 0 ? (size_t)f->nsites : 0;
    const size_t nd = n * (size_t)(f->ncodim > 0 ? f->ncodim : 0);

    fprintf(out, "{%s\"name\": \"", nl);
    for (size_t i = 0; f->name && i < f->name_len; i++) {
        unsigned char ch = (unsigned char)f->name[i];
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fprintf(out, "\"%s\"nsites\": %d%s\"ncodim\": %d", sep, (int)f->nsites, sep, (int)f->ncodim);
    fprintf(out, "%s\"types\": [", sep);
    for (size_t i = 0; i < n && f->types; i++) {
        int32_t v;
        memcpy(&v, (const unsigned char *)f->types + 4 * i, 4);
        fprintf(out, i ? ", %d" : "%d", (int)v);
    }
    fputs("]", out);
    if (f->masses) json_floats(out, "masses", f->masses, n, sep, nl);
    if (f->positions) json_floats(out, "positions", f->positions, nd, sep, nl);
    if (f->forces) json_floats(out, "forces", f->forces, nd, sep, nl);
    if (f->has_energy) {
        fprintf(out, "%s\"energy\": ", sep);
        json_float(out, f->energy, 17);
    }
    if (f->cell) json_floats(out, "cell", f->cell, 9, sep, nl);
    if (f->pbc)
        fprintf(out, "%s\"pbc\": [%d, %d, %d]", sep, f->pbc[0], f->pbc[1], f->pbc[2]);
    if (f->charges) json_floats(out, "charges", f->charges, n, sep, nl);
    if (f->stress) json_floats(out, "stress", f->stress, 9, sep, nl);
    fprintf(out, "%s}\n", (flags & VLS_JSON_COMPACT) ? "" : "\n");
    return ferror(out) ? VLS_E_IO : VLS_OK;
}
