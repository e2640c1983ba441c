/*
 * bench_frame.c — how fast are frame encoding, verification/viewing and XYZ parsing, next to
 * memcpy of the same bytes? Standalone (not built by CMake). From the source root:
 *
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench_frame.c src/frame.c src/xyz.c \
 *       src/elements.c -lm -o /tmp/bench_frame && /tmp/bench_frame
 *
 * Frames of 1200 and 4096 atoms with forces, energy and cell. Two working sets:
 *   hot      one source frame, one destination buffer (everything in cache);
 *   stream   a ring of destination buffers totalling 256 MiB (each write goes to memory).
 * Columns: GB/s = frame bytes / time per operation (1 GB = 1e9 B).
 *   memcpy          memcpy of the encoded frame's size (the bound for encoding)
 *   encode          vls_frame_encode into a caller buffer
 *   view+verify     vls_frame_view (verification is O(fields): independent of the size)
 *   view+sum        vls_frame_view, then read every position and force (zero-copy reads)
 *   sum (arrays)    the same reads from the plain C arrays, for comparison
 * Then XYZ parsing: MB/s of extended-XYZ text parsed into frames.
 */
#include "vlstore_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define BARRIER() __asm__ volatile("" ::: "memory")
#define RING_BYTES (256u << 20)
#define MIN_SECONDS 0.4

static volatile double sink;

typedef struct {
    int nbuf;
    size_t stride;
    unsigned char *ring;
} ring_t;

static float sum_arrays(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] + b[i];
    return s;
}

/* Runs op(i) until MIN_SECONDS have passed; @return seconds per call. */
#define TIME_LOOP(result, body)                                      \
    do {                                                             \
        long iters_ = 0;                                             \
        double t0_ = now(), t_;                                      \
        do {                                                         \
            for (int rep_ = 0; rep_ < 64; rep_++, iters_++) { body; } \
            BARRIER();                                               \
            t_ = now() - t0_;                                        \
        } while (t_ < MIN_SECONDS);                                  \
        (result) = t_ / (double)iters_;                              \
    } while (0)

static void bench_size(int32_t nsites) {
    size_t n = (size_t)nsites;
    int32_t *types = malloc(4 * n);
    float *masses = malloc(4 * n), *pos = malloc(12 * n), *frc = malloc(12 * n);
    float cell[9] = {30, 0, 0, 0, 30, 0, 0, 0, 30};
    for (size_t i = 0; i < n; i++) {
        types[i] = (int32_t)(i % 4 + 1);
        masses[i] = 1.0f + (float)(i % 7);
    }
    for (size_t i = 0; i < 3 * n; i++) {
        pos[i] = (float)i * 0.01f;
        frc[i] = (float)i * -0.001f;
    }
    vls_frame f;
    vls_frame_init(&f);
    f.name = "bench_frame";
    f.name_len = 11;
    f.nsites = nsites;
    f.types = types;
    f.masses = masses;
    f.positions = pos;
    f.forces = frc;
    f.has_energy = 1;
    f.energy = -1234.5;
    f.cell = cell;
    size_t size = vls_frame_encoded_size(&f);
    size_t stride = (size + 63) & ~(size_t)63;
    ring_t ring = {(int)(RING_BYTES / stride), stride, NULL};
    ring.ring = aligned_alloc(64, (size_t)ring.nbuf * stride);
    memset(ring.ring, 1, (size_t)ring.nbuf * stride); /* fault the pages in */
    unsigned char *src = aligned_alloc(64, stride);
    size_t len;
    if (vls_frame_encode(&f, src, stride, &len) != VLS_OK || len != size) {
        fprintf(stderr, "encode failed\n");
        exit(1);
    }
    for (int i = 0; i < ring.nbuf; i++) memcpy(ring.ring + (size_t)i * stride, src, size);

    printf("\nframe of %d atoms with forces, energy, cell: %zu bytes\n", nsites, size);
    printf("%-8s %-14s %12s %10s %8s\n", "set", "operation", "ns/frame", "GB/s", "x memcpy");
    for (int mode = 0; mode < 2; mode++) {
        const char *set = mode ? "stream" : "hot";
        int nb = mode ? ring.nbuf : 1;
        int k = 0;
        double t_memcpy, t_enc, t_view, t_vsum, t_sum;
        TIME_LOOP(t_memcpy, {
            memcpy(ring.ring + (size_t)k * stride, src, size);
            if (++k == nb) k = 0;
        });
        k = 0;
        TIME_LOOP(t_enc, {
            size_t l;
            vls_frame_encode(&f, ring.ring + (size_t)k * stride, stride, &l);
            if (++k == nb) k = 0;
        });
        k = 0;
        TIME_LOOP(t_view, {
            vls_frame v;
            if (vls_frame_view(ring.ring + (size_t)k * stride, size, &v) == VLS_OK)
                sink += v.energy;
            if (++k == nb) k = 0;
        });
        k = 0;
        TIME_LOOP(t_vsum, {
            vls_frame v;
            if (vls_frame_view(ring.ring + (size_t)k * stride, size, &v) == VLS_OK)
                sink += sum_arrays(v.positions, v.forces, 3 * n);
            if (++k == nb) k = 0;
        });
        TIME_LOOP(t_sum, { sink += sum_arrays(pos, frc, 3 * n); });
        struct {
            const char *name;
            double t;
        } rows[] = {{"memcpy", t_memcpy},   {"encode", t_enc},       {"view+verify", t_view},
                    {"view+sum", t_vsum},   {"sum (arrays)", t_sum}};
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            printf("%-8s %-14s %12.1f %10.2f %8.2f\n", set, rows[r].name, rows[r].t * 1e9,
                   (double)size / rows[r].t / 1e9, rows[r].t / t_memcpy);
    }
    free(ring.ring);
    free(src);
    free(types);
    free(masses);
    free(pos);
    free(frc);
}

static void bench_xyz(void) {
    /* 20 frames of 4096 atoms with forces */
    size_t cap = 64u << 20, w = 0;
    char *text = malloc(cap);
    for (int k = 0; k < 20; k++) {
        w += (size_t)snprintf(text + w, cap - w,
                              "4096\nLattice=\"30 0 0 0 30 0 0 0 30\" "
                              "Properties=species:S:1:pos:R:3:forces:R:3 energy=%d.5 pbc=\"T T T\"\n",
                              -k);
        for (int i = 0; i < 4096; i++)
            w += (size_t)snprintf(text + w, cap - w,
                                  "%s %12.8f %12.8f %12.8f %12.8f %12.8f %12.8f\n",
                                  (i % 3) ? "H" : "O", i * 0.0071, i * 0.0033, i * -0.0019,
                                  i * 1e-4, -i * 2e-4, i * 3e-5);
    }
    double t0 = now(), t;
    long frames = 0, atoms = 0;
    int reps = 0;
    do {
        vls_xyz *p;
        vls_xyz_open_mem(text, w, "bench", &p);
        vls_frame f;
        while (vls_xyz_next(p, &f) == 1) {
            frames++;
            atoms += f.nsites;
        }
        vls_xyz_close(p);
        reps++;
        t = now() - t0;
    } while (t < 1.0);
    printf("\nXYZ parse (extended XYZ, species+pos+forces, 4096 atoms/frame): %.1f MB/s, "
           "%.2f M atoms/s, %.0f frames/s\n",
           (double)w * reps / t / 1e6, (double)atoms / t / 1e6, (double)frames / t);
    free(text);
}

int main(void) {
    bench_size(1200);
    bench_size(4096);
    bench_xyz();
    return sink == 12345.678 ? 1 : 0;
}
