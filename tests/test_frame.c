/*
 * test_frame.c — the frame codec keeps its promises (include/vlstore_frame.h):
 *   - encode/view round-trips every field, bit for bit, for many random frames;
 *   - vls_frame_encoded_size() is exact; VLS_E_TOOSMALL reports the size needed;
 *   - equal frames encode to equal bytes (padding is zeroed);
 *   - the verifier rejects every truncation of a valid frame, at every length;
 *   - the verifier never reads outside the buffer, whatever the bytes (bit flips, byte
 *     overwrites, garbage: run under ASan to make this a real check);
 *   - frames built by flatc (golden bytes below) view correctly, including defaults;
 *   - unaligned buffers are reported (aligned == 0) and vls_frame_view_aligned() copes.
 * Ends with "test_frame: N passed, M failed".
 */
#include "vlstore_frame.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"


/* xorshift64* */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint32_t rndn(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }
static float rndf(void) {
    /* any bit pattern except NaN, so == comparisons are meaningful; memcmp is used anyway */
    for (;;) {
        uint32_t u = (uint32_t)rnd();
        float f;
        memcpy(&f, &u, 4);
        if (!isnan(f)) return f;
    }
}

/* A frame plus the arrays it points to. */
typedef struct {
    vls_frame f;
    char name[300];
    int32_t *types;
    float *masses, *positions, *forces, *charges;
    float cell[9], stress[9];
    uint8_t pbc[3];
} owned_frame;

static void random_frame(owned_frame *o, int32_t max_sites) {
    memset(o, 0, sizeof *o);
    vls_frame *f = &o->f;
    vls_frame_init(f);
    f->nsites = (int32_t)rndn((uint32_t)max_sites + 1);
    f->ncodim = (int32_t)(rndn(4) ? 3 : 1 + rndn(5));
    size_t n = (size_t)f->nsites, nd = n * (size_t)f->ncodim;
    o->types = malloc(n * 4 + 4);
    o->masses = malloc(n * 4 + 4);
    o->positions = malloc(nd * 4 + 4);
    o->forces = malloc(nd * 4 + 4);
    o->charges = malloc(n * 4 + 4);
    for (size_t i = 0; i < n; i++) {
        o->types[i] = (int32_t)rnd();
        o->masses[i] = rndf();
        o->charges[i] = rndf();
    }
    for (size_t i = 0; i < nd; i++) {
        o->positions[i] = rndf();
        o->forces[i] = rndf();
    }
    for (int i = 0; i < 9; i++) {
        o->cell[i] = rndf();
        o->stress[i] = rndf();
    }
    for (int i = 0; i < 3; i++) o->pbc[i] = (uint8_t)rndn(2);
    int namekind = (int)rndn(4);
    if (namekind) {
        size_t len = namekind == 1 ? 0 : rndn(namekind == 2 ? 20 : sizeof o->name);
        for (size_t i = 0; i < len; i++) o->name[i] = (char)(rndn(8) ? 'a' + rndn(26) : rndn(256));
        f->name = o->name;
        f->name_len = len;
    }
    f->types = o->types;
    f->masses = o->masses;
    f->positions = o->positions;
    if (rndn(2)) f->forces = o->forces;
    if (rndn(2)) {
        f->has_energy = 1;
        f->energy = (double)rndf() * (double)rndf();
    }
    if (rndn(2)) f->cell = o->cell;
    if (rndn(2)) f->pbc = o->pbc;
    if (rndn(2)) f->charges = o->charges;
    if (rndn(2)) f->stress = o->stress;
}

static void free_frame(owned_frame *o) {
    free(o->types);
    free(o->masses);
    free(o->positions);
    free(o->forces);
    free(o->charges);
}

/* Compares a view (possibly unaligned: memcmp only) with the frame it was encoded from. */
static int same_frame(const vls_frame *a, const vls_frame *v) {
    size_t n = (size_t)a->nsites, nd = n * (size_t)a->ncodim;
    if (v->nsites != a->nsites || v->ncodim != a->ncodim) return 0;
    if (v->name_len != (a->name ? a->name_len : 0)) return 0;
    if (v->name == NULL || v->name[v->name_len] != '\0') return 0;
    if (a->name && memcmp(v->name, a->name, a->name_len)) return 0;
    if (n && (memcmp(v->types, a->types, 4 * n) || memcmp(v->masses, a->masses, 4 * n))) return 0;
    if (nd && memcmp(v->positions, a->positions, 4 * nd)) return 0;
    if (!a->forces != !v->forces) return 0;
    if (a->forces && nd && memcmp(v->forces, a->forces, 4 * nd)) return 0;
    if (!a->has_energy != !v->has_energy) return 0;
    if (a->has_energy && memcmp(&a->energy, &v->energy, sizeof(double))) return 0;
    if (!a->cell != !v->cell || (a->cell && memcmp(a->cell, v->cell, 36))) return 0;
    if (!a->stress != !v->stress || (a->stress && memcmp(a->stress, v->stress, 36))) return 0;
    if (!a->charges != !v->charges || (a->charges && n && memcmp(a->charges, v->charges, 4 * n)))
        return 0;
    if (!a->pbc != !v->pbc) return 0;
    if (a->pbc)
        for (int i = 0; i < 3; i++)
            if (v->pbc[i] != (a->pbc[i] != 0)) return 0;
    return 1;
}

/* Reads every byte a successful view exposes, so ASan sees any pointer outside the buffer. */
static unsigned touch_view(const vls_frame *v) {
    unsigned acc = 0;
    size_t n = (size_t)v->nsites, nd = n * (size_t)v->ncodim;
    const unsigned char *p;
#define TOUCH(ptr, bytes)                                             \
    do {                                                              \
        if (ptr) {                                                    \
            p = (const unsigned char *)(const void *)(ptr);           \
            for (size_t k_ = 0; k_ < (bytes); k_++) acc += p[k_];     \
        }                                                             \
    } while (0)
    TOUCH(v->name, v->name_len + 1);
    TOUCH(v->types, 4 * n);
    TOUCH(v->masses, 4 * n);
    TOUCH(v->positions, 4 * nd);
    TOUCH(v->forces, 4 * nd);
    TOUCH(v->charges, 4 * n);
    TOUCH(v->cell, 36);
    TOUCH(v->stress, 36);
    TOUCH(v->pbc, 3);
#undef TOUCH
    return acc;
}

/* Verifies a copy of buf[0..len) in an exactly-sized heap block (ASan catches overreads). */
static int verify_exact(const unsigned char *buf, size_t len, vls_frame *out) {
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    /* a marker in the thread's handle-less message: a success must leave it alone, a failure
     * must replace it with its own, non-empty description */
    char marker[64];
    CHECK(vls_frame_verify(NULL, 1) == VLS_E_INVAL);
    snprintf(marker, sizeof marker, "%s", vls_errmsg(NULL));
    CHECK(marker[0] != '\0');
    int rc = vls_frame_view(copy, len, out);
    if (rc == VLS_OK) (void)touch_view(out);
    int kept = strcmp(vls_errmsg(NULL), marker) == 0;
    if (rc == VLS_OK ? !kept : kept || vls_errmsg(NULL)[0] == '\0') rc = 12345;
    free(copy);
    return rc;
}

static void test_round_trip(void) {
    for (int iter = 0; iter < 2000; iter++) {
        owned_frame o;
        random_frame(&o, iter < 1500 ? 40 : 3000);
        size_t need = vls_frame_encoded_size(&o.f);
        CHECK(need > 0 && need % 4 == 0);
        unsigned char *buf = malloc(need + 16);
        memset(buf, 0xA5, need + 16);
        size_t len = 0;
        CHECK(vls_frame_encode(&o.f, buf, need + 16, &len) == VLS_OK);
        CHECK(len == need);
        CHECK(buf[need] == 0xA5); /* wrote nothing past len */
        vls_frame v;
        int rc = vls_frame_view(buf, len, &v);
        if (rc) fprintf(stderr, "view failed: %s\n", vls_errmsg(NULL));
        CHECK(rc == VLS_OK);
        CHECK(v.aligned == 1);
        CHECK(same_frame(&o.f, &v));
        /* trailing bytes after the frame are allowed */
        CHECK(vls_frame_verify(buf, len + 16) == VLS_OK);

        /* padding is zeroed: the same frame into a buffer full of other garbage */
        unsigned char *buf2 = malloc(need);
        memset(buf2, 0x5A, need);
        CHECK(vls_frame_encode(&o.f, buf2, need, &len) == VLS_OK);
        CHECK(memcmp(buf, buf2, need) == 0);

        /* the allocating variant gives the same bytes */
        void *abuf = NULL;
        size_t alen = 0;
        CHECK(vls_frame_encode_alloc(&o.f, &abuf, &alen) == VLS_OK);
        CHECK(alen == need && abuf && memcmp(abuf, buf, need) == 0);
        free(abuf);

        /* typed pointers of an aligned view are aligned */
        if (v.nsites > 0) {
            CHECK(((uintptr_t)v.types & 3) == 0 && ((uintptr_t)v.positions & 3) == 0);
            CHECK(((uintptr_t)v.masses & 3) == 0);
        }
        free(buf);
        free(buf2);
        free_frame(&o);
    }
}

static void test_toosmall_and_inval(void) {
    owned_frame o;
    random_frame(&o, 10);
    o.f.cell = o.cell;
    size_t need = vls_frame_encoded_size(&o.f);
    unsigned char *buf = malloc(need);
    for (size_t cap = 0; cap < need; cap++) {
        size_t len = 0;
        CHECK(vls_frame_encode(&o.f, cap ? buf : NULL, cap, &len) == VLS_E_TOOSMALL);
        CHECK(len == need);
    }
    size_t len;
    CHECK(vls_frame_encode(&o.f, buf, need, NULL) == VLS_E_INVAL);
    CHECK(vls_frame_encode(NULL, buf, need, &len) == VLS_E_INVAL);
    CHECK(vls_frame_encoded_size(NULL) == 0);

    vls_frame bad = o.f;
    bad.nsites = -1;
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_INVAL);
    CHECK(vls_frame_encoded_size(&bad) == 0);
    bad = o.f;
    bad.ncodim = 0;
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_INVAL);
    bad = o.f;
    bad.nsites = 1;
    bad.positions = NULL;
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_INVAL);
    bad = o.f;
    bad.name = NULL;
    bad.name_len = 3;
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_INVAL);
    /* too big: arrays are never touched before the size check */
    bad = o.f;
    bad.nsites = INT32_MAX;
    bad.ncodim = 3;
    CHECK(vls_frame_encoded_size(&bad) == 0);
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_TOOBIG);
    void *ab = (void *)1;
    CHECK(vls_frame_encode_alloc(&bad, &ab, &len) == VLS_E_TOOBIG && ab == NULL);
    bad.nsites = 1 << 20;
    bad.ncodim = 1 << 20;
    CHECK(vls_frame_encode(&bad, buf, need, &len) == VLS_E_TOOBIG);

    /* empty frame: nothing but defaults */
    vls_frame e;
    vls_frame_init(&e);
    CHECK(e.ncodim == 3 && e.nsites == 0 && !e.has_energy && !e.name && !e.forces);
    need = vls_frame_encoded_size(&e);
    CHECK(need > 0);
    void *eb;
    CHECK(vls_frame_encode_alloc(&e, &eb, &len) == VLS_OK && len == need);
    vls_frame v;
    CHECK(vls_frame_view(eb, len, &v) == VLS_OK);
    CHECK(v.nsites == 0 && v.ncodim == 3 && v.name && v.name_len == 0 && !v.has_energy);
    CHECK(!v.forces && !v.cell && !v.pbc && !v.charges && !v.stress);
    free(eb);
    free(buf);
    free_frame(&o);
}

/* "the verifier rejects every truncation of a valid frame, at every length" */
static void test_truncation(void) {
    for (int iter = 0; iter < 60; iter++) {
        owned_frame o;
        random_frame(&o, 12);
        if (iter % 2) { /* every optional part present */
            o.f.forces = o.forces;
            o.f.cell = o.cell;
            o.f.pbc = o.pbc;
            o.f.charges = o.charges;
            o.f.stress = o.stress;
            o.f.has_energy = 1;
        }
        void *buf;
        size_t len;
        CHECK(vls_frame_encode_alloc(&o.f, &buf, &len) == VLS_OK);
        vls_frame v;
        CHECK(verify_exact(buf, len, &v) == VLS_OK);
        for (size_t cut = 0; cut < len; cut++) {
            int rc = verify_exact(buf, cut, &v);
            CHECK(rc == VLS_E_TRUNCATED || rc == VLS_E_CORRUPT);
            CHECK(vls_frame_verify(buf, cut) != VLS_OK);
        }
        free(buf);
        free_frame(&o);
    }
    CHECK(vls_frame_verify(NULL, 0) == VLS_E_TRUNCATED);
    CHECK(vls_frame_verify(NULL, 10) == VLS_E_INVAL);
}

/* "never reads outside buf, whatever the bytes" */
static void test_garbage(void) {
    long accepted = 0, rejected = 0;
    for (int iter = 0; iter < 3000; iter++) {
        owned_frame o;
        random_frame(&o, 8);
        void *buf;
        size_t len;
        CHECK(vls_frame_encode_alloc(&o.f, &buf, &len) == VLS_OK);
        unsigned char *b = buf;
        int nflips = 1 + (int)rndn(6);
        for (int k = 0; k < nflips; k++) {
            size_t at = rndn((uint32_t)len);
            if (rndn(2))
                b[at] ^= (unsigned char)(1u << rndn(8));
            else
                b[at] = (unsigned char)rnd();
        }
        size_t vlen = rndn(8) ? len : rndn((uint32_t)len + 1);
        vls_frame v;
        int rc = verify_exact(b, vlen, &v);
        CHECK(rc == VLS_OK || rc == VLS_E_CORRUPT || rc == VLS_E_TRUNCATED);
        if (rc == VLS_OK) {
            accepted++;
            /* consistency promised by a successful verify */
            CHECK(v.nsites >= 0 && v.ncodim >= 1);
            CHECK(v.nsites == 0 || (v.types && v.masses && v.positions));
        } else {
            rejected++;
        }
        free(buf);
        free_frame(&o);
    }
    /* Systematic: every byte of a small frame's head set to edge values. */
    owned_frame o;
    random_frame(&o, 3);
    o.f.has_energy = 1;
    o.f.cell = o.cell;
    o.f.pbc = o.pbc;
    void *buf;
    size_t len;
    CHECK(vls_frame_encode_alloc(&o.f, &buf, &len) == VLS_OK);
    static const unsigned char edge[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x7F, 0x80, 0xFC, 0xFE, 0xFF};
    unsigned char *b = malloc(len);
    for (size_t at = 0; at < len; at++) {
        for (size_t e = 0; e < sizeof edge; e++) {
            memcpy(b, buf, len);
            b[at] = edge[e];
            vls_frame v;
            int rc = verify_exact(b, len, &v);
            CHECK(rc == VLS_OK || rc == VLS_E_CORRUPT || rc == VLS_E_TRUNCATED);
        }
    }
    free(b);
    free(buf);
    free_frame(&o);
    /* Pure garbage of every small length and some larger ones. */
    unsigned char g[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = iter < 600 ? (size_t)iter % 64 : rndn(sizeof g);
        for (size_t i = 0; i < n; i++) g[i] = (unsigned char)rnd();
        if (n >= 4 && rndn(2)) { /* a plausible root offset, to get past the first check */
            uint32_t root = 4 * (1 + rndn(8));
            memcpy(g, &root, 4);
        }
        vls_frame v;
        int rc = verify_exact(g, n, &v);
        CHECK(rc == VLS_OK || rc == VLS_E_CORRUPT || rc == VLS_E_TRUNCATED);
    }
    printf("garbage: %ld mutated frames accepted, %ld rejected\n", accepted, rejected);
}

static void test_unaligned(void) {
    owned_frame o;
    random_frame(&o, 50);
    o.f.nsites = o.f.nsites ? o.f.nsites : 5;
    o.f.ncodim = 3;
    free_frame(&o);
    o.types = malloc(4 * 50);
    o.masses = malloc(4 * 50);
    o.positions = malloc(12 * 50);
    o.forces = malloc(12 * 50);
    o.charges = NULL;
    for (int i = 0; i < 150; i++) o.positions[i] = o.forces[i] = (float)i * 0.5f;
    for (int i = 0; i < 50; i++) o.types[i] = i, o.masses[i] = (float)i;
    o.f.types = o.types;
    o.f.masses = o.masses;
    o.f.positions = o.positions;
    o.f.forces = o.forces;
    o.f.charges = NULL;
    o.f.has_energy = 1;
    o.f.energy = 42.5;
    size_t need = vls_frame_encoded_size(&o.f);
    unsigned char *raw = malloc(need + 16);
    for (size_t shift = 0; shift < 8; shift++) {
        size_t len;
        CHECK(vls_frame_encode(&o.f, raw + shift, need, &len) == VLS_OK);
        vls_frame v;
        CHECK(vls_frame_view(raw + shift, len, &v) == VLS_OK);
        CHECK(v.aligned == (shift % 4 == 0));
        CHECK(vls_frame_is_aligned(raw + shift) == (shift % 4 == 0));
        CHECK(same_frame(&o.f, &v)); /* memcmp-based: fine on unaligned data */
        CHECK(v.energy == 42.5);
        /* vls_frame_view_aligned always yields an aligned view */
        double scratch_store[4096];
        void *scratch = scratch_store;
        vls_frame w;
        CHECK(vls_frame_view_aligned(raw + shift, len, scratch, sizeof scratch_store, &w) ==
              VLS_OK);
        CHECK(w.aligned == 1 && same_frame(&o.f, &w));
        if (w.nsites > 1) CHECK(w.positions[3] == 1.5f && w.types[1] == 1);
        if (shift % 4) {
            CHECK(vls_frame_view_aligned(raw + shift, len, scratch, len - 1, &w) == VLS_E_TOOSMALL);
            CHECK(vls_frame_view_aligned(raw + shift, len, (char *)scratch + 4, len, &w) ==
                  VLS_E_INVAL);
            CHECK(vls_frame_view_aligned(raw + shift, len, NULL, len, &w) == VLS_E_INVAL);
        }
    }
    free(raw);
    free_frame(&o);
}

/* Bytes written by `flatc -b schema/fbsites.fbs` (flatc 2.0.8) from
 * {"name": "flatc-built", "nsites": 2, "types": [8, 1], "masses": [15.999, 1.008],
 *  "positions": [0, 0, 0, 0.9572, 0, 0], "forces": [0.5, -0.25, 0.125, -0.5, 0.25, -0.125],
 *  "energy": -76.25, "cell": [10, 0, 0, 0, 11, 0, 0, 0, 12], "pbc": [1, 1, 0]}
 * Its vtable comes first, its objects in reverse order, ncodim is omitted (the default). */
static const unsigned char golden_flatc[] = {
    0x1c, 0x00, 0x00, 0x00, 0x18, 0x00, 0x2c, 0x00, 0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0c,
    0x00, 0x10, 0x00, 0x14, 0x00, 0x18, 0x00, 0x24, 0x00, 0x1c, 0x00, 0x20, 0x00, 0x18, 0x00,
    0x00, 0x00, 0xa8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x94, 0x00, 0x00, 0x00, 0x84,
    0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,
    0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x53, 0xc0, 0x03, 0x00, 0x00,
    0x00, 0x01, 0x01, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x41, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x41, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x41,
    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbe, 0x00, 0x00, 0x00,
    0x3e, 0x00, 0x00, 0x00, 0xbf, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x00, 0xbe, 0x06, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
    0x0b, 0x75, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0xe7, 0xfb, 0x7f, 0x41, 0x25, 0x06, 0x81, 0x3f, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x66, 0x6c, 0x61, 0x74, 0x63, 0x2d,
    0x62, 0x75, 0x69, 0x6c, 0x74, 0x00};

/* flatc -b from {"nsites": 0}: an empty vtable; every field takes its default. */
static const unsigned char golden_flatc_empty[] = {0x08, 0x00, 0x00, 0x00, 0x04, 0x00,
                                                   0x04, 0x00, 0x04, 0x00, 0x00, 0x00};

static void test_golden_flatc(void) {
    /* copy into 8-aligned memory, as the store's callers would */
    double store[64];
    memcpy(store, golden_flatc, sizeof golden_flatc);
    vls_frame v;
    int rc = vls_frame_view(store, sizeof golden_flatc, &v);
    if (rc) fprintf(stderr, "golden: %s\n", vls_errmsg(NULL));
    CHECK(rc == VLS_OK);
    CHECK(v.name_len == 11 && memcmp(v.name, "flatc-built", 12) == 0);
    CHECK(v.nsites == 2 && v.ncodim == 3);
    CHECK(v.types[0] == 8 && v.types[1] == 1);
    CHECK(v.masses[0] == 15.999f && v.masses[1] == 1.008f);
    CHECK(v.positions[3] == 0.9572f && v.positions[0] == 0.0f && v.positions[5] == 0.0f);
    CHECK(v.forces && v.forces[0] == 0.5f && v.forces[5] == -0.125f);
    CHECK(v.has_energy && v.energy == -76.25);
    CHECK(v.cell && v.cell[0] == 10.0f && v.cell[4] == 11.0f && v.cell[8] == 12.0f);
    CHECK(v.pbc && v.pbc[0] == 1 && v.pbc[1] == 1 && v.pbc[2] == 0);
    CHECK(!v.charges && !v.stress);
    for (size_t cut = 0; cut < sizeof golden_flatc; cut++) {
        /* flatc puts the name last; cutting anywhere breaks some structure */
        CHECK(vls_frame_verify(golden_flatc, cut) != VLS_OK);
    }

    memcpy(store, golden_flatc_empty, sizeof golden_flatc_empty);
    CHECK(vls_frame_view(store, sizeof golden_flatc_empty, &v) == VLS_OK);
    CHECK(v.nsites == 0 && v.ncodim == 3 && !v.has_energy && v.name_len == 0 && !v.types &&
          !v.positions && !v.forces);
}

/* Hand-built buffers exercising what the format allows but our encoder never writes. */
static void put16(unsigned char *b, size_t at, uint16_t v) { memcpy(b + at, &v, 2); }
static void put32(unsigned char *b, size_t at, uint32_t v) { memcpy(b + at, &v, 4); }

static void test_hand_built(void) {
    double mem[32];
    unsigned char *b = (unsigned char *)mem;
    vls_frame v;

    /* Vtable after the table (negative soffset), nsites=1, ncodim=1, and an unknown field 20
     * (a newer schema) that must be ignored. Layout:
     *   0 root -> 4;  4 table: soffset, nsites@+4, ncodim@+8, types@+12, masses@+16,
     *   positions@+20, unknown@+24;  32 vtable (4 + 2*21 = 46 bytes);  80.. vectors */
    memset(mem, 0, sizeof mem);
    put32(b, 0, 4);
    put32(b, 4, (uint32_t)(int32_t)(4 - 32));
    put32(b, 8, 1);
    put32(b, 12, 1);
    put32(b, 16, 80 - 16);
    put32(b, 20, 88 - 20);
    put32(b, 24, 96 - 24);
    put32(b, 28, 0xdeadbeef);
    put16(b, 32, 46);
    put16(b, 34, 28);
    uint16_t voffs[21] = {0, 4, 8, 12, 16, 20, [20] = 24};
    for (int i = 0; i < 21; i++) put16(b, 36 + 2 * (size_t)i, voffs[i]);
    put32(b, 80, 1);
    put32(b, 84, 6);
    put32(b, 88, 1);
    float m = 2.5f;
    memcpy(b + 92, &m, 4);
    put32(b, 96, 1);
    float x = -1.0f;
    memcpy(b + 100, &x, 4);
    int rc = vls_frame_view(b, 104, &v);
    if (rc) fprintf(stderr, "hand-built: %s\n", vls_errmsg(NULL));
    CHECK(rc == VLS_OK);
    CHECK(v.nsites == 1 && v.ncodim == 1 && v.types[0] == 6 && v.masses[0] == 2.5f &&
          v.positions[0] == -1.0f && v.name_len == 0);

    /* The same with a wrong positions length: rejected with a message naming the field. */
    put32(b, 96, 0);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    CHECK(strstr(vls_errmsg(NULL), "positions") != NULL);
    put32(b, 96, 1);
    /* Field offset beyond the table's size. */
    put16(b, 36 + 2 * 5, 26);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put16(b, 36 + 2 * 5, 20);
    /* Misaligned vector. */
    put32(b, 16, 80 - 16 + 2);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put32(b, 16, 80 - 16);
    /* Zero offset. */
    put32(b, 16, 0);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put32(b, 16, 80 - 16);
    /* Odd vtable size. */
    put16(b, 32, 45);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put16(b, 32, 46);
    /* Negative nsites, zero ncodim. */
    put32(b, 8, (uint32_t)-1);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put32(b, 8, 1);
    put32(b, 12, 0);
    CHECK(vls_frame_verify(b, 104) == VLS_E_CORRUPT);
    put32(b, 12, 1);
    CHECK(vls_frame_verify(b, 104) == VLS_OK);

    /* A name without its NUL. */
    owned_frame o;
    random_frame(&o, 2);
    o.f.name = "abc";
    o.f.name_len = 3;
    void *buf;
    size_t len;
    CHECK(vls_frame_encode_alloc(&o.f, &buf, &len) == VLS_OK);
    unsigned char *q = memchr(buf, 'c', len);
    while (q && !(q[-1] == 'b' && q[-2] == 'a')) q = memchr(q + 1, 'c', len - (size_t)(q + 1 - (unsigned char *)buf));
    CHECK(q != NULL && q[1] == 0);
    if (q) q[1] = 'd';
    CHECK(vls_frame_verify(buf, len) == VLS_E_CORRUPT);
    CHECK(strstr(vls_errmsg(NULL), "NUL") != NULL);
    free(buf);
    free_frame(&o);

    /* energy must be 8-aligned relative to the buffer start */
    vls_frame e;
    vls_frame_init(&e);
    e.has_energy = 1;
    e.energy = 1.0;
    CHECK(vls_frame_encode_alloc(&e, &buf, &len) == VLS_OK);
    CHECK(vls_frame_view(buf, len, &v) == VLS_OK && v.has_energy && v.energy == 1.0);
    free(buf);
}

static void test_json(void) {
    owned_frame o;
    random_frame(&o, 5);
    o.f.has_energy = 1;
    o.f.energy = NAN;
    o.f.name = "q\"\\\n";
    o.f.name_len = 4;
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    if (tmp) {
        CHECK(vls_frame_write_json(tmp, &o.f, 0) == VLS_OK);
        CHECK(vls_frame_write_json(tmp, &o.f, VLS_JSON_COMPACT) == VLS_OK);
        long size = ftell(tmp);
        CHECK(size > 20);
        rewind(tmp);
        char head[64] = {0};
        CHECK(fread(head, 1, sizeof head - 1, tmp) > 0);
        CHECK(strstr(head, "\"q\\\"\\\\\\u000a\"") != NULL);
        fclose(tmp);
    }
    CHECK(vls_frame_write_json(NULL, &o.f, 0) == VLS_E_INVAL);
    free_frame(&o);
}

int main(void) {
    test_round_trip();
    test_toosmall_and_inval();
    test_truncation();
    test_garbage();
    test_unaligned();
    test_golden_flatc();
    test_hand_built();
    test_json();
    return test_done("test_frame");
}
