/*
 * workload.c — the deterministic molecular-dynamics workload.
 *
 * The data set is a sequence of systems. A system has a fixed atom count n, drawn
 * log-uniformly from [8, 4096], and 50..500 consecutive frames. A frame is one record:
 *
 *     int32 type[n] | float32 mass[n] | float32 pos[n][3] | float32 force[n][3]   (32 n bytes)
 *
 * Types (1..8) and masses are fixed per system. Positions start uniform in a box and follow
 * a random walk with small gaussian steps (sigma 0.01 in box units of ~3 per atom^(1/3)), so
 * consecutive frames are close; forces follow an AR(1) process f' = 0.8 f + 0.6 g (g standard
 * normal), smooth from frame to frame with unit variance. Everything comes from one
 * xoshiro256** stream seeded with --seed, so a seed gives the same bytes on every run
 * (Box-Muller uses libm's log/sqrt/cos, which glibc computes identically everywhere).
 *
 * Keys are the strings "sys%05u/%05u" (system id, frame number): fixed width, so byte order
 * equals generation order and every engine can keep records in the order they were written.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/*-*************************************
 *  PRNG: splitmix64 for seeding, xoshiro256** for the stream
 ***************************************/
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(bench_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(bench_rng *r, uint64_t bound)
{
    /* Lemire's multiply-shift with rejection: unbiased. */
    for (;;) {
        uint64_t x = rng_next(r);
        __uint128_t m = (__uint128_t)x * bound;
        uint64_t l = (uint64_t)m;
        if (l >= bound || l >= (uint64_t)(-bound) % bound)
            return (uint64_t)(m >> 64);
    }
}

double rng_unit(bench_rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_gauss(bench_rng *r)
{
    double u1 = rng_unit(r);
    double u2 = rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*-*************************************
 *  Generation
 ***************************************/
#define MIN_ATOMS 8
#define MAX_ATOMS 4096
#define MIN_FRAMES 50
#define MAX_FRAMES 500
#define STEP_SIGMA 0.01f

static const float type_mass[9] = {0, 1.008f, 12.011f, 14.007f, 15.999f, 32.06f, 30.974f,
                                   22.990f, 35.45f};

typedef struct sys_plan {
    uint32_t natoms;
    uint32_t frames;
} sys_plan;

int workload_generate(bench_workload *w, uint64_t size_mib, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->seed = seed;
    const uint64_t target = size_mib << 20;
    bench_rng rng;
    rng_seed(&rng, seed);

    /* Plan the systems first so every array is allocated once. */
    size_t cap_sys = 64, nsys = 0, nrec = 0;
    sys_plan *plan = malloc(cap_sys * sizeof *plan);
    if (!plan)
        goto nomem;
    uint64_t total = 0;
    while (total < target) {
        if (nsys == cap_sys) {
            cap_sys *= 2;
            sys_plan *p = realloc(plan, cap_sys * sizeof *plan);
            if (!p)
                goto nomem;
            plan = p;
        }
        double lo = log((double)MIN_ATOMS), hi = log((double)MAX_ATOMS);
        uint32_t n = (uint32_t)lround(exp(lo + (hi - lo) * rng_unit(&rng)));
        if (n < MIN_ATOMS)
            n = MIN_ATOMS;
        if (n > MAX_ATOMS)
            n = MAX_ATOMS;
        uint32_t frames = MIN_FRAMES + (uint32_t)rng_below(&rng, MAX_FRAMES - MIN_FRAMES + 1);
        uint64_t rec = 32ull * n;
        uint64_t left = (target - total + rec - 1) / rec;
        if (frames > left)
            frames = (uint32_t)left; /* the last system is cut to land on the target */
        plan[nsys].natoms = n;
        plan[nsys].frames = frames;
        nsys++;
        nrec += frames;
        total += rec * frames;
    }
    if (nsys > 99999 || nrec == 0) {
        fprintf(stderr, "workload: %zu systems do not fit the key format\n", nsys);
        free(plan);
        return -1;
    }

    w->n = nrec;
    w->nsys = nsys;
    w->total = total;
    w->data = malloc(total);
    w->off = malloc(nrec * sizeof *w->off);
    w->len = malloc(nrec * sizeof *w->len);
    w->natoms = malloc(nrec * sizeof *w->natoms);
    w->hash = malloc(nrec * sizeof *w->hash);
    w->koff = malloc(nrec * sizeof *w->koff);
    w->klen = malloc(nrec * sizeof *w->klen);
    w->keys = malloc(nrec * 16);
    float *pos = malloc(MAX_ATOMS * 3 * sizeof(float));
    float *frc = malloc(MAX_ATOMS * 3 * sizeof(float));
    int32_t *typ = malloc(MAX_ATOMS * sizeof(int32_t));
    float *mas = malloc(MAX_ATOMS * sizeof(float));
    if (!w->data || !w->off || !w->len || !w->natoms || !w->hash || !w->koff || !w->klen ||
        !w->keys || !pos || !frc || !typ || !mas) {
        free(pos);
        free(frc);
        free(typ);
        free(mas);
        goto nomem;
    }

    uint64_t at = 0;
    size_t r = 0;
    for (size_t s = 0; s < nsys; s++) {
        const uint32_t n = plan[s].natoms;
        const float box = 3.0f * cbrtf((float)n);
        for (uint32_t a = 0; a < n; a++) {
            typ[a] = 1 + (int32_t)rng_below(&rng, 8);
            mas[a] = type_mass[typ[a]];
            for (int d = 0; d < 3; d++) {
                pos[3 * a + d] = box * (float)rng_unit(&rng);
                frc[3 * a + d] = (float)rng_gauss(&rng);
            }
        }
        for (uint32_t f = 0; f < plan[s].frames; f++, r++) {
            if (f > 0) {
                for (uint32_t k = 0; k < 3 * n; k++) {
                    pos[k] += STEP_SIGMA * (float)rng_gauss(&rng);
                    frc[k] = 0.8f * frc[k] + 0.6f * (float)rng_gauss(&rng);
                }
            }
            uint8_t *p = w->data + at;
            memcpy(p, typ, 4ull * n);
            memcpy(p + 4ull * n, mas, 4ull * n);
            memcpy(p + 8ull * n, pos, 12ull * n);
            memcpy(p + 20ull * n, frc, 12ull * n);
            w->off[r] = at;
            w->len[r] = 32u * n;
            w->natoms[r] = n;
            w->hash[r] = XXH3_64bits(p, 32ull * n);
            w->koff[r] = 16ull * r;
            int kl = snprintf(w->keys + 16 * r, 16, "sys%05u/%05u", (unsigned)s, (unsigned)f);
            w->klen[r] = (uint16_t)kl;
            if ((uint32_t)kl > w->max_klen)
                w->max_klen = (uint32_t)kl;
            if (w->len[r] > w->max_len)
                w->max_len = w->len[r];
            at += 32ull * n;
        }
    }
    free(pos);
    free(frc);
    free(typ);
    free(mas);
    free(plan);
    return 0;

nomem:
    fprintf(stderr, "workload: out of memory for %llu MiB\n", (unsigned long long)size_mib);
    free(plan);
    workload_free(w);
    return -1;
}

void workload_free(bench_workload *w)
{
    free(w->data);
    free(w->off);
    free(w->len);
    free(w->natoms);
    free(w->hash);
    free(w->keys);
    free(w->koff);
    free(w->klen);
    memset(w, 0, sizeof *w);
}
