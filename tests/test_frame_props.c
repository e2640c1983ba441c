/*
 * test_frame_props.c — frame format v2: float64 arrays and named properties.
 *   - every dtype (float32/64, int32/64, bool, string, JSON) as per-frame and per-atom
 *     properties, with float64 positions/forces/cell/stress/masses/charges, round-trips
 *     through encode -> view bit for bit, zero-copy (pointers into the record);
 *   - float32 stays float32 and float64 stays float64 ("no silent narrowing");
 *   - the encoder refuses: both precisions of one array, duplicate names, a per-atom property
 *     whose shape[0] is not nsites, a shape that does not match the count, JSON misuse;
 *   - the verifier rejects every truncation and never reads outside the buffer for any
 *     single-byte or single-word mutation (run under ASan by make test-asan);
 *   - a view of a frame with 64-bit arrays reports aligned == 0 at a 4-but-not-8-aligned
 *     address, and vls_frame_view_aligned() copies it to aligned scratch;
 *   - the loader's collation keeps float64 (a batch with a float64 frame has float64 arrays).
 */
#include "vlstore_frame.h"
#include "vlstore_loader.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NS 5

static const int32_t types[NS] = {8, 1, 1, 6, 26};
static const double pos64[NS * 3] = {0.1, 0.2, 0.30000000000000004, 1e-300, -2.5, 3.25,
                                     7.0, 8.0, 9.0, -0.0, 1.0 / 3.0, 2.0 / 3.0,
                                     123456789.123456789, -1e10, 5e-324};
static const double frc64[NS * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15.5};
static const double cell64[9] = {10.1, 0, 0, 0, 11.2, 0, 0.5, 0, 12.3};
static const double stress64[9] = {1e-3, 2e-4, 3e-5, 2e-4, 5e-3, 6e-6, 3e-5, 6e-6, 9e-3};
static const double mass64[NS] = {15.999, 1.008, 1.008, 12.011, 55.845};
static const double chg64[NS] = {-0.8, 0.4, 0.4, 0.1, -0.1};
static const uint8_t pbc[3] = {1, 0, 1};

static const float info_f32[3] = {1.5f, -2.25f, 3.0f};
static const double info_f64 = -76.123456789012345;
static const int32_t info_i32[2 * 3] = {1, 2, 3, 4, 5, 6};
static const int64_t info_i64[2] = {INT64_MIN, INT64_MAX};
static const uint8_t info_b[4] = {1, 0, 0, 1};
static const char *const info_s[2] = {"PBE-D3", ""};
static const char *const info_json[1] = {"{\"a\": [1, null, \"x\"]}"};
static const double energies[NS] = {-1, -2, -3, -4, -5.5};
static const int32_t tags[NS * 2] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const char *const labels[NS] = {"O", "H1", "H2", "C with space", "Fe"};
static const uint8_t fixed[NS] = {0, 0, 1, 0, 1};

static const int32_t shape3[1] = {3};
static const int32_t shape23[2] = {2, 3};
static const int32_t shape2[1] = {2};
static const int32_t shape4[1] = {4};
static const int32_t shape_n[1] = {NS};
static const int32_t shape_n2[2] = {NS, 2};

static vls_prop info[7], arrays[4];

static void build(vls_frame *f) {
    vls_frame_init(f);
    f->name = "mixed";
    f->name_len = 5;
    f->nsites = NS;
    f->types = types;
    f->masses64 = mass64;
    f->positions64 = pos64;
    f->forces64 = frc64;
    f->cell64 = cell64;
    f->stress64 = stress64;
    f->charges64 = chg64;
    f->pbc = pbc;
    f->has_energy = 1;
    f->energy = -12.5;
    vls_prop p[7] = {
        {"vec32", 5, VLS_DT_F32, 0, 1, shape3, info_f32, 3, NULL},
        {"REF_energy", 10, VLS_DT_F64, 0, 0, NULL, &info_f64, 1, NULL},
        {"grid", 4, VLS_DT_I32, 0, 2, shape23, info_i32, 6, NULL},
        {"big", 3, VLS_DT_I64, 0, 1, shape2, info_i64, 2, NULL},
        {"flags", 5, VLS_DT_BOOL, 0, 1, shape4, info_b, 4, NULL},
        {"theory", 6, VLS_DT_STR, 0, 1, shape2, info_s, 2, NULL},
        {"extra", 5, VLS_DT_STR, VLS_PROP_JSON, 0, NULL, info_json, 1, NULL},
    };
    vls_prop a[4] = {
        {"energies", 8, VLS_DT_F64, 0, 1, shape_n, energies, NS, NULL},
        {"tags", 4, VLS_DT_I32, 0, 2, shape_n2, tags, 2 * NS, NULL},
        {"labels", 6, VLS_DT_STR, 0, 1, shape_n, labels, NS, NULL},
        {"fixed", 5, VLS_DT_BOOL, 0, 1, shape_n, fixed, NS, NULL},
    };
    memcpy(info, p, sizeof p);
    memcpy(arrays, a, sizeof a);
    f->props = info;
    f->nprops = 7;
    f->atom_props = arrays;
    f->natom_props = 4;
}

static int in_buf(const void *p, const void *buf, size_t len) {
    return (const char *)p >= (const char *)buf && (const char *)p < (const char *)buf + len;
}

/* Compares property lists of an input frame and a view, bit for bit. */
static void check_props(const vls_frame *in, const vls_frame *v, int per_atom, const void *buf,
                        size_t len) {
    size_t n = per_atom ? in->natom_props : in->nprops;
    CHECK((per_atom ? v->natom_props : v->nprops) == n);
    for (size_t i = 0; i < n; i++) {
        vls_prop a, b;
        CHECK(vls_frame_prop(in, per_atom, i, &a) == VLS_OK);
        CHECK(vls_frame_prop(v, per_atom, i, &b) == VLS_OK);
        CHECK(a.name_len == b.name_len && !memcmp(a.name, b.name, a.name_len));
        CHECK(b.name[b.name_len] == '\0' && in_buf(b.name, buf, len));
        CHECK(a.dtype == b.dtype && a.kind == b.kind && a.ndim == b.ndim && a.count == b.count);
        CHECK(a.ndim == 0 || !memcmp(a.shape, b.shape, 4 * (size_t)a.ndim));
        if (a.dtype == VLS_DT_STR) {
            for (size_t k = 0; k < a.count; k++) {
                size_t la, lb;
                const char *sa = vls_prop_string(&a, k, &la), *sb = vls_prop_string(&b, k, &lb);
                CHECK(sa && sb && la == lb && !memcmp(sa, sb, la) && sb[lb] == '\0');
                CHECK(in_buf(sb, buf, len));
            }
            CHECK(vls_prop_string(&b, b.count, NULL) == NULL);
        } else {
            CHECK(!memcmp(a.data, b.data, a.count * vls_dtype_size(a.dtype)));
            CHECK(a.count == 0 || in_buf(b.data, buf, len));
            CHECK(((uintptr_t)b.data % vls_dtype_size(b.dtype)) == 0);
        }
        vls_prop c;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)a.name_len, a.name);
        CHECK(vls_frame_find_prop(v, per_atom, name, &c) == VLS_OK && c.count == a.count);
    }
    vls_prop none;
    CHECK(vls_frame_prop(v, per_atom, n, &none) == VLS_E_NOTFOUND);
    CHECK(vls_frame_find_prop(v, per_atom, "no such property", &none) == VLS_E_NOTFOUND);
}

static void test_round_trip_float64_and_props(void) {
    vls_frame f, v;
    build(&f);
    void *buf;
    size_t len;
    CHECK(vls_frame_encode_alloc(&f, &buf, &len) == VLS_OK);
    CHECK(len == vls_frame_encoded_size(&f) && len % 4 == 0);
    int rc = vls_frame_view(buf, len, &v);
    if (rc) fprintf(stderr, "view: %s\n", vls_errmsg(NULL));
    CHECK(rc == VLS_OK && v.aligned == 1);
    /* float64 in, float64 out: the float32 pointers stay NULL */
    CHECK(!v.positions && !v.forces && !v.masses && !v.cell && !v.stress && !v.charges);
    CHECK(v.positions64 && !memcmp(v.positions64, pos64, sizeof pos64));
    CHECK(in_buf(v.positions64, buf, len));
    CHECK(v.forces64 && !memcmp(v.forces64, frc64, sizeof frc64));
    CHECK(v.cell64 && !memcmp(v.cell64, cell64, sizeof cell64));
    CHECK(v.stress64 && !memcmp(v.stress64, stress64, sizeof stress64));
    CHECK(v.masses64 && !memcmp(v.masses64, mass64, sizeof mass64));
    CHECK(v.charges64 && !memcmp(v.charges64, chg64, sizeof chg64));
    CHECK(v.pbc && !memcmp(v.pbc, pbc, 3) && v.has_energy && v.energy == -12.5);
    CHECK(v.name_len == 5 && !memcmp(v.name, "mixed", 5));
    check_props(&f, &v, 0, buf, len);
    check_props(&f, &v, 1, buf, len);

    /* Equal frames give equal bytes. */
    void *buf2;
    size_t len2;
    CHECK(vls_frame_encode_alloc(&f, &buf2, &len2) == VLS_OK && len2 == len &&
          !memcmp(buf, buf2, len));
    free(buf2);

    /* Every truncation is rejected. */
    int all_rejected = 1;
    for (size_t cut = 0; cut < len; cut++) {
        void *t = malloc(cut ? cut : 1);
        memcpy(t, buf, cut);
        if (vls_frame_verify(t, cut) == VLS_OK) all_rejected = 0;
        free(t);
    }
    CHECK(all_rejected);

    /* At an address that is 4- but not 8-aligned: aligned == 0, and view_aligned copies. */
    uint64_t *store = malloc(len + 8);
    unsigned char *odd = (unsigned char *)store + 4;
    memcpy(odd, buf, len);
    CHECK(vls_frame_view(odd, len, &v) == VLS_OK && v.aligned == 0);
    uint64_t *scratch = malloc(len);
    CHECK(vls_frame_view_aligned(odd, len, scratch, len, &v) == VLS_OK && v.aligned == 1);
    CHECK(in_buf(v.positions64, scratch, len) && !memcmp(v.positions64, pos64, sizeof pos64));
    CHECK(vls_frame_view_aligned(odd, len, scratch, len - 1, &v) == VLS_E_TOOSMALL);
    free(scratch);
    free(store);

    /* Single-byte and single-word mutations: a result either way, never a bad read. */
    unsigned char *m = malloc(len);
    long accepted = 0;
    uint64_t seed = 42;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, buf, len);
        size_t at = (size_t)(test_rand(&seed) % len);
        if (it & 1) {
            m[at] = (unsigned char)test_rand(&seed);
        } else {
            uint32_t w = (uint32_t)test_rand(&seed) % 512u;
            memcpy(m + (at & ~(size_t)3), &w, at + 4 <= len ? 4 : 1);
        }
        vls_frame mv;
        if (vls_frame_view(m, len, &mv) == VLS_OK) {
            accepted++;
            for (int pa = 0; pa < 2; pa++) { /* read everything the view exposes */
                size_t n = pa ? mv.natom_props : mv.nprops;
                for (size_t i = 0; i < n; i++) {
                    vls_prop p;
                    if (vls_frame_prop(&mv, pa, i, &p) != VLS_OK) continue;
                    volatile unsigned sum = 0;
                    for (size_t k = 0; k < p.name_len; k++) sum += (unsigned char)p.name[k];
                    if (p.dtype == VLS_DT_STR)
                        for (size_t k = 0; k < p.count; k++) {
                            size_t sl;
                            const char *s = vls_prop_string(&p, k, &sl);
                            for (size_t q = 0; q <= sl; q++) sum += (unsigned char)s[q];
                        }
                    else
                        for (size_t k = 0; k < p.count * vls_dtype_size(p.dtype); k++)
                            sum += ((const unsigned char *)p.data)[k];
                    for (int d = 0; d < p.ndim; d++) sum += (unsigned)p.shape[d];
                }
            }
        }
    }
    fprintf(stderr, "mutations: %ld of 20000 accepted\n", accepted);
    free(m);
    free(buf);
}

static void test_float32_stays_float32(void) {
    float p32[6] = {1, 2, 3, 4, 5, 6}, m32[2] = {1, 2};
    int32_t t[2] = {1, 1};
    vls_frame f, v;
    vls_frame_init(&f);
    f.nsites = 2;
    f.types = t;
    f.masses = m32;
    f.positions = p32;
    void *buf;
    size_t len;
    CHECK(vls_frame_encode_alloc(&f, &buf, &len) == VLS_OK);
    CHECK(vls_frame_view(buf, len, &v) == VLS_OK && v.positions && !v.positions64 &&
          v.masses && !v.masses64 && v.nprops == 0 && v.natom_props == 0);
    /* A v1 frame at a 4-aligned address is aligned (no 64-bit arrays). */
    uint32_t *store = malloc(len + 4);
    memcpy(store + 1, buf, len);
    CHECK(vls_frame_view(store + 1, len, &v) == VLS_OK && v.aligned == 1);
    free(store);
    free(buf);
}

static void test_refusals(void) {
    vls_frame f;
    size_t len;
    float p32[NS * 3] = {0};
    build(&f);
    f.positions = p32; /* both precisions */
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);
    CHECK(vls_frame_encoded_size(&f) == 0);

    build(&f);
    info[1].name = "vec32", info[1].name_len = 5; /* duplicate name */
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    int32_t bad_n[1] = {NS - 1};
    arrays[0].shape = bad_n, arrays[0].count = NS - 1; /* per-atom, shape[0] != nsites */
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    info[2].count = 5; /* shape 2x3 but 5 values */
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    info[0].kind = VLS_PROP_JSON; /* JSON must be one string */
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    info[3].dtype = 99;
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    info[4].name_len = 0;
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    const char *holes[2] = {"a", NULL};
    info[5].data = holes;
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_INVAL);

    build(&f);
    CHECK(vls_frame_encode(&f, NULL, 0, &len) == VLS_E_TOOSMALL && len > 0);
    CHECK(strcmp(vls_dtype_name(VLS_DT_I64), "int64") == 0 && vls_dtype_size(VLS_DT_STR) == 0);
}

/* A batch of a float64 frame and a float32 frame: the real arrays the float64 frame holds in
 * float64 come out float64 (its values exact, the float32 frame's widened), nothing narrowed. */
static void test_collate_float64(void) {
    vls_frame f64, f32;
    build(&f64);
    float pos32[NS * 3], mass32[NS];
    for (int i = 0; i < NS * 3; i++)
        pos32[i] = (float)(i * 0.25 - 1.0);
    for (int i = 0; i < NS; i++)
        mass32[i] = (float)(1.0 + i);
    vls_frame_init(&f32);
    f32.nsites = NS;
    f32.types = types;
    f32.positions = pos32;
    f32.masses = mass32; /* no forces, cell, stress, charges */
    void *buf64, *buf32;
    size_t len64, len32, needed = 0;
    CHECK(vls_frame_encode_alloc(&f64, &buf64, &len64) == VLS_OK);
    CHECK(vls_frame_encode_alloc(&f32, &buf32, &len32) == VLS_OK);
    vls_record rec[2];
    memset(rec, 0, sizeof rec);
    rec[0].data = buf64, rec[0].len = len64, rec[0].key = "a", rec[0].klen = 1;
    rec[1].data = buf32, rec[1].len = len32, rec[1].key = "b", rec[1].klen = 1;
    vls_frame_batch b;
    CHECK(vls_frame_batch_collate(rec, 2, NULL, 0, &needed, &b) == VLS_E_TOOSMALL && needed);
    void *mem = aligned_alloc(64, (needed + 63) / 64 * 64);
    int rc = vls_frame_batch_collate(rec, 2, mem, needed, &needed, &b);
    if (rc) fprintf(stderr, "collate: %s\n", vls_errmsg(NULL));
    CHECK(rc == VLS_OK && b.natoms_total == 2 * NS);
    if (rc == VLS_OK) {
        static const int wide[] = {VLS_BATCH_POS, VLS_BATCH_FORCES, VLS_BATCH_MASSES,
                                   VLS_BATCH_CHARGES, VLS_BATCH_CELL, VLS_BATCH_STRESS};
        for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
            CHECK(b.arrays[wide[i]].dtype == VLS_DTYPE_F64);
        CHECK(b.arrays[VLS_BATCH_ENERGY].dtype == VLS_DTYPE_F64);
        const double *pos = b.arrays[VLS_BATCH_POS].data, *frc = b.arrays[VLS_BATCH_FORCES].data;
        const double *mass = b.arrays[VLS_BATCH_MASSES].data, *cell = b.arrays[VLS_BATCH_CELL].data;
        const double *stress = b.arrays[VLS_BATCH_STRESS].data;
        const uint8_t *has_forces = b.arrays[VLS_BATCH_HAS_FORCES].data;
        const uint8_t *has_cell = b.arrays[VLS_BATCH_HAS_CELL].data;
        CHECK(!memcmp(pos, pos64, sizeof pos64) && !memcmp(frc, frc64, sizeof frc64));
        CHECK(!memcmp(mass, mass64, sizeof mass64) && !memcmp(cell, cell64, sizeof cell64));
        CHECK(!memcmp(stress, stress64, sizeof stress64));
        int widened = 1;
        for (int i = 0; i < NS * 3; i++)
            widened &= pos[NS * 3 + i] == (double)pos32[i] && isnan(frc[NS * 3 + i]);
        for (int i = 0; i < NS; i++)
            widened &= mass[NS + i] == (double)mass32[i];
        for (int i = 0; i < 9; i++)
            widened &= cell[9 + i] == 0.0 && isnan(stress[9 + i]);
        CHECK(widened);
        CHECK(has_forces[0] == 1 && has_forces[1] == 0 && has_cell[0] == 1 && has_cell[1] == 0);
    }
    /* the float32 frame alone: float32 arrays, as stored */
    rc = vls_frame_batch_collate(&rec[1], 1, mem, needed, &needed, &b);
    CHECK(rc == VLS_OK);
    if (rc == VLS_OK) {
        CHECK(b.arrays[VLS_BATCH_POS].dtype == VLS_DTYPE_F32 &&
              b.arrays[VLS_BATCH_FORCES].dtype == VLS_DTYPE_F32);
        CHECK(!memcmp(b.arrays[VLS_BATCH_POS].data, pos32, sizeof pos32));
    }
    free(mem);
    free(buf64);
    free(buf32);
}

int main(void) {
    test_round_trip_float64_and_props();
    test_collate_float64();
    test_float32_stays_float32();
    test_refusals();
    return test_done("test_frame_props");
}
