/* test_collate — collated frame batches (vls_frame_batch_collate, vls_loader_next_frames):
 * every array of every batch equals the source frames, frames lacking energy, forces, cell,
 * pbc, charges or stress are mixed in (NaN / zero fill, masks 0), each frame is served once
 * per epoch, a batch stays intact for n_buffers further calls, and bad input (a record that
 * is not a frame, mixed ncodim, a small or unaligned buffer) gives the documented errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_frame.h"
#include "vlstore_loader.h"

#define NFRAMES 500

/* Frame i: its size and which optional fields it has follow from i alone. */
static int32_t nsites_of(uint64_t i) { return i % 13 == 0 ? 0 : (int32_t)(1 + i * 7 % 29); }
static int has_forces(uint64_t i) { return i % 3 != 0; }
static int has_energy(uint64_t i) { return i % 4 != 0; }
static int has_cell(uint64_t i) { return i % 5 != 0; }
static int has_pbc(uint64_t i) { return i % 5 > 1; }
static int has_charges(uint64_t i) { return i % 2 == 0; }
static int has_stress(uint64_t i) { return i % 6 == 1; }
static float val(uint64_t i, uint64_t j, int what) { return (float)(i * 1000 + j) + what * 0.25f; }

static void *encode_frame(uint64_t i, int32_t ncodim, size_t *len)
{
    int32_t ns = nsites_of(i);
    size_t na = (size_t)ns, nc = na * (size_t)ncodim;
    int32_t *types = malloc(na * 4 + 4);
    float *masses = malloc(na * 4 + 4), *charges = malloc(na * 4 + 4);
    float *pos = malloc(nc * 4 + 4), *forces = malloc(nc * 4 + 4);
    float cell[9], stress[9];
    uint8_t pbc[3] = {1, 0, (uint8_t)(i % 2 ? 7 : 0)}; /* nonzero other than 1: reads as true */
    for (size_t s = 0; s < na; s++) {
        types[s] = (int32_t)((i + s) % 118 + 1);
        masses[s] = val(i, s, 1);
        charges[s] = val(i, s, 2);
    }
    for (size_t s = 0; s < nc; s++) {
        pos[s] = val(i, s, 0);
        forces[s] = -val(i, s, 3);
    }
    for (int k = 0; k < 9; k++) {
        cell[k] = val(i, (uint64_t)k, 1);
        stress[k] = val(i, (uint64_t)k, 2);
    }
    vls_frame f;
    vls_frame_init(&f);
    f.nsites = ns;
    f.ncodim = ncodim;
    f.types = types;
    f.masses = masses;
    f.positions = pos;
    f.forces = has_forces(i) ? forces : NULL;
    f.has_energy = has_energy(i);
    f.energy = -1.0 / 3.0 * (double)i;
    f.cell = has_cell(i) ? cell : NULL;
    f.pbc = has_pbc(i) ? pbc : NULL;
    f.charges = has_charges(i) ? charges : NULL;
    f.stress = has_stress(i) ? stress : NULL;
    void *out = NULL;
    if (vls_frame_encode_alloc(&f, &out, len) != VLS_OK)
        out = NULL;
    free(types);
    free(masses);
    free(charges);
    free(pos);
    free(forces);
    return out;
}

static uint64_t key_index(const unsigned char *k, size_t klen)
{
    char tmp[32];
    if (klen >= sizeof tmp)
        return UINT64_MAX;
    memcpy(tmp, k, klen);
    tmp[klen] = 0;
    return strtoull(tmp + 6, NULL, 10); /* "frame-%llu" */
}

#define A(b, i, type) ((const type *)(b)->arrays[i].data)

/* Compares frame b[j] (record i) with what encode_frame wrote. Returns the mismatches. */
static int frame_matches(const vls_frame_batch *b, size_t j, uint64_t i)
{
    int bad = 0;
    int64_t a0 = A(b, VLS_BATCH_PTR, int64_t)[j], ns = nsites_of(i);
    bad += A(b, VLS_BATCH_PTR, int64_t)[j + 1] - a0 != ns;
    bad += A(b, VLS_BATCH_NATOMS, int64_t)[j] != ns;
    for (int64_t s = 0; s < ns; s++) {
        uint64_t at = (uint64_t)(a0 + s);
        bad += A(b, VLS_BATCH_ATOMIC_NUMBERS, int64_t)[at] != (int64_t)((i + (uint64_t)s) % 118 + 1);
        bad += A(b, VLS_BATCH_MASSES, float)[at] != val(i, (uint64_t)s, 1);
        bad += A(b, VLS_BATCH_BATCH, int64_t)[at] != (int64_t)j;
        float q = A(b, VLS_BATCH_CHARGES, float)[at];
        bad += has_charges(i) ? q != val(i, (uint64_t)s, 2) : !isnan(q);
        for (int d = 0; d < 3; d++) {
            uint64_t c = (uint64_t)s * 3 + (uint64_t)d;
            bad += A(b, VLS_BATCH_POS, float)[at * 3 + (uint64_t)d] != val(i, c, 0);
            float fo = A(b, VLS_BATCH_FORCES, float)[at * 3 + (uint64_t)d];
            bad += has_forces(i) ? fo != -val(i, c, 3) : !isnan(fo);
        }
    }
    double e = A(b, VLS_BATCH_ENERGY, double)[j];
    bad += has_energy(i) ? e != -1.0 / 3.0 * (double)i : !isnan(e);
    for (int k = 0; k < 9; k++) {
        float c = A(b, VLS_BATCH_CELL, float)[9 * j + (size_t)k];
        float st = A(b, VLS_BATCH_STRESS, float)[9 * j + (size_t)k];
        bad += c != (has_cell(i) ? val(i, (uint64_t)k, 1) : 0.0f);
        bad += has_stress(i) ? st != val(i, (uint64_t)k, 2) : !isnan(st);
    }
    const uint8_t *pbc = A(b, VLS_BATCH_PBC, uint8_t) + 3 * j;
    bad += pbc[0] != (has_pbc(i) ? 1 : 0) || pbc[1] != 0 || pbc[2] != (has_pbc(i) && i % 2);
    bad += A(b, VLS_BATCH_HAS_FORCES, uint8_t)[j] != has_forces(i);
    bad += A(b, VLS_BATCH_HAS_ENERGY, uint8_t)[j] != has_energy(i);
    bad += A(b, VLS_BATCH_HAS_CELL, uint8_t)[j] != has_cell(i);
    bad += A(b, VLS_BATCH_HAS_PBC, uint8_t)[j] != has_pbc(i);
    bad += A(b, VLS_BATCH_HAS_CHARGES, uint8_t)[j] != has_charges(i);
    bad += A(b, VLS_BATCH_HAS_STRESS, uint8_t)[j] != has_stress(i);
    return bad;
}

/* The whole batch: shapes, alignment, each frame; marks the frames seen. */
static int batch_matches(const vls_frame_batch *b, unsigned char *seen)
{
    int bad = 0;
    const int64_t *kp = A(b, VLS_BATCH_KEY_PTR, int64_t);
    uint64_t atoms = 0;
    for (int k = 0; k < VLS_BATCH_NARRAYS; k++)
        bad += ((uintptr_t)b->arrays[k].data % 64) != 0;
    bad += b->arrays[VLS_BATCH_POS].shape[0] != b->natoms_total;
    bad += b->arrays[VLS_BATCH_ENERGY].shape[0] != b->nframes;
    bad += b->arrays[VLS_BATCH_ENERGY].dtype != VLS_DTYPE_F64;
    bad += b->arrays[VLS_BATCH_POS].dtype != VLS_DTYPE_F32;
    bad += strcmp(b->arrays[VLS_BATCH_ATOMIC_NUMBERS].name, "atomic_numbers") != 0;
    for (size_t j = 0; j < b->nframes; j++) {
        uint64_t i = key_index(A(b, VLS_BATCH_KEYS, unsigned char) + kp[j],
                               (size_t)(kp[j + 1] - kp[j]));
        if (i >= NFRAMES) {
            bad++;
            continue;
        }
        if (seen)
            seen[i]++;
        bad += frame_matches(b, j, i);
        atoms += (uint64_t)nsites_of(i);
    }
    bad += atoms != b->natoms_total;
    return bad;
}

int main(void)
{
    const char *path = test_path("collate.vls");
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 16 * 1024; /* many chunks: many reads and groups */
    vls_store *s = NULL;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_RDWR, &o, &s));
    if (!s)
        return test_done("test_collate");
    for (uint64_t i = 0; i < NFRAMES; i++) {
        size_t len;
        void *rec = encode_frame(i, 3, &len);
        char key[32];
        int kl = snprintf(key, sizeof key, "frame-%llu", (unsigned long long)i);
        CHECK(rec != NULL);
        if (rec)
            CHECK_OK(s, vls_put(s, key, (size_t)kl, rec, len, 0));
        free(rec);
    }
    CHECK_OK(s, vls_commit(s));

    /* every frame once per epoch; each batch equal to its frames; earlier batches intact for
     * n_buffers further calls */
    for (uint32_t nbuf = 1; nbuf <= 3; nbuf++) {
        vls_loader_options lo;
        vls_loader_options_init(&lo);
        lo.batch_size = 37;
        lo.n_buffers = nbuf;
        lo.seed = nbuf;
        vls_loader *ld = NULL;
        CHECK_OK(NULL, vls_loader_open_stores(&s, 1, &lo, &ld));
        if (!ld)
            continue;
        for (uint64_t epoch = 0; epoch < 2; epoch++) {
            unsigned char seen[NFRAMES] = {0};
            const vls_frame_batch *recent[3] = {NULL, NULL, NULL};
            int rc, bad = 0, nb = 0;
            CHECK(vls_loader_start_epoch(ld, epoch) == VLS_OK);
            const vls_frame_batch *b;
            while ((rc = vls_loader_next_frames(ld, &b)) == 1) {
                bad += batch_matches(b, seen);
                /* the nbuf-1 batches before this one are still valid */
                for (uint32_t back = 1; back < nbuf && (int)back <= nb; back++)
                    bad += batch_matches(recent[(nb - (int)back) % 3], NULL);
                recent[nb % 3] = b;
                nb++;
            }
            CHECK(rc == 0);
            CHECK(bad == 0);
            int once = 1;
            for (int i = 0; i < NFRAMES; i++)
                once &= seen[i] == 1;
            CHECK(once);
            if (bad)
                fprintf(stderr, "n_buffers %u epoch %llu: %d mismatches\n", nbuf,
                        (unsigned long long)epoch, bad);
        }
        vls_loader_close(ld);
    }

    /* vls_frame_batch_collate directly: too small, unaligned, not a frame, mixed ncodim */
    size_t l0, l1, l2;
    void *r0 = encode_frame(5, 3, &l0), *r1 = encode_frame(6, 3, &l1), *r2 = encode_frame(7, 2, &l2);
    vls_record recs[2] = {{r0, l0, "frame-5", 7, 0, 0, 0}, {r1, l1, "frame-6", 7, 0, 0, 1}};
    vls_frame_batch fb;
    size_t needed = 0;
    CHECK(vls_frame_batch_collate(recs, 2, NULL, 0, &needed, &fb) ==
          VLS_E_TOOSMALL);
    CHECK(needed > 0 && needed == fb.nbytes);
    unsigned char *mem = aligned_alloc(64, (needed + 64 + 63) / 64 * 64);
    CHECK(vls_frame_batch_collate(recs, 2, mem, needed, &needed, &fb) == VLS_OK);
    CHECK(fb.nframes == 2 && batch_matches(&fb, NULL) == 0);
    CHECK(vls_frame_batch_collate(recs, 2, mem + 8, needed, NULL, &fb) ==
          VLS_E_INVAL);
    recs[1].len = l1 / 2; /* cut off: not a frame */
    CHECK(vls_frame_batch_collate(recs, 2, mem, needed, NULL, &fb) < 0);
    CHECK(strstr(vls_errmsg(NULL), "frame-6") != NULL && strstr(vls_errmsg(NULL), "record 1") != NULL);
    recs[1].data = r2; /* ncodim 2 after ncodim 3 */
    recs[1].len = l2;
    CHECK(vls_frame_batch_collate(recs, 2, mem, needed, NULL, &fb) ==
          VLS_E_INVAL);
    CHECK(strstr(vls_errmsg(NULL), "ncodim") != NULL);
    CHECK(vls_frame_batch_collate(recs, 0, mem, needed, NULL, &fb) == VLS_OK);
    CHECK(fb.nframes == 0 && fb.natoms_total == 0 &&
          A(&fb, VLS_BATCH_PTR, int64_t)[0] == 0);
    free(mem);
    free(r0);
    free(r1);
    free(r2);

    /* a loader over a store holding a record that is not a frame: that batch fails, naming
     * the key; the loader goes on with the next batch */
    CHECK_OK(s, vls_put(s, "not-a-frame", 11, "hello", 5, 0));
    CHECK_OK(s, vls_commit(s));
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.batch_size = 64;
    lo.shuffle = 0;
    vls_loader *ld = NULL;
    CHECK_OK(NULL, vls_loader_open_stores(&s, 1, &lo, &ld));
    if (ld) {
        const vls_frame_batch *b;
        int rc, errors = 0, good = 0;
        while ((rc = vls_loader_next_frames(ld, &b)) != 0) {
            if (rc < 0) {
                errors++;
                CHECK(rc == VLS_E_CORRUPT || rc == VLS_E_TRUNCATED);
                CHECK(strstr(vls_loader_errmsg(ld), "not-a-frame") != NULL);
                if (errors > 1)
                    break;
            } else
                good++;
        }
        CHECK(errors == 1 && good > 0);
        vls_loader_close(ld);
    }
    vls_close(s);
    return test_done("test_collate");
}
