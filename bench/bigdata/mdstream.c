/*
 * mdstream.c — bench/workload.c's MD workload, one record at a time (see mdstream.h).
 *
 * The constants and the order in which the PRNG is drawn are bench/workload.c's: a change
 * there must be made here too, or `vls_bigdata selftest` (run by ctest) fails.
 */
#include "mdstream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ATOMS 8
#define MAX_ATOMS 4096
#define MIN_FRAMES 50
#define MAX_FRAMES 500
#define STEP_SIGMA 0.01f

static const float type_mass[9] = {0, 1.008f, 12.011f, 14.007f, 15.999f, 32.06f, 30.974f,
                                   22.990f, 35.45f};

int md_plan_make(md_plan *p, uint64_t size_mib, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    const uint64_t target = size_mib << 20;
    bench_rng rng;
    rng_seed(&rng, seed);
    size_t cap = 64;
    p->natoms = malloc(cap * sizeof *p->natoms);
    p->frames = malloc(cap * sizeof *p->frames);
    if (!p->natoms || !p->frames)
        goto nomem;
    while (p->total < target) {
        if (p->nsys == cap) {
            cap *= 2;
            uint32_t *a = realloc(p->natoms, cap * sizeof *a);
            if (!a)
                goto nomem;
            p->natoms = a;
            uint32_t *f = realloc(p->frames, cap * sizeof *f);
            if (!f)
                goto nomem;
            p->frames = f;
        }
        double lo = log((double)MIN_ATOMS), hi = log((double)MAX_ATOMS);
        uint32_t n = (uint32_t)lround(exp(lo + (hi - lo) * rng_unit(&rng)));
        if (n < MIN_ATOMS)
            n = MIN_ATOMS;
        if (n > MAX_ATOMS)
            n = MAX_ATOMS;
        uint32_t frames = MIN_FRAMES + (uint32_t)rng_below(&rng, MAX_FRAMES - MIN_FRAMES + 1);
        uint64_t rec = 32ull * n;
        uint64_t left = (target - p->total + rec - 1) / rec;
        if (frames > left)
            frames = (uint32_t)left;
        p->natoms[p->nsys] = n;
        p->frames[p->nsys] = frames;
        p->nsys++;
        p->n += frames;
        p->total += rec * frames;
        if (32u * n > p->max_len)
            p->max_len = 32u * n;
    }
    if (p->nsys > 99999 || p->n == 0) {
        fprintf(stderr, "mdstream: %zu systems do not fit the key format\n", p->nsys);
        md_plan_free(p);
        return -1;
    }
    p->first = malloc((p->nsys + 1) * sizeof *p->first);
    if (!p->first)
        goto nomem;
    p->first[0] = 0;
    for (size_t s = 0; s < p->nsys; s++)
        p->first[s + 1] = p->first[s] + p->frames[s];
    p->rng_after = rng;
    return 0;
nomem:
    fprintf(stderr, "mdstream: out of memory\n");
    md_plan_free(p);
    return -1;
}

void md_plan_free(md_plan *p)
{
    free(p->natoms);
    free(p->frames);
    free(p->first);
    memset(p, 0, sizeof *p);
}

/* The system holding record i (binary search over first[]). */
static size_t system_of(const md_plan *p, size_t i)
{
    size_t lo = 0, hi = p->nsys;
    while (hi - lo > 1) {
        size_t m = lo + (hi - lo) / 2;
        if (p->first[m] <= i)
            lo = m;
        else
            hi = m;
    }
    return lo;
}

uint32_t md_record_len(const md_plan *p, size_t i)
{
    return 32u * p->natoms[system_of(p, i)];
}

size_t md_record_key(const md_plan *p, size_t i, char key[16])
{
    size_t s = system_of(p, i);
    return (size_t)snprintf(key, 16, "sys%05u/%05u", (unsigned)s,
                            (unsigned)(i - p->first[s]));
}

long md_key_index(const md_plan *p, const void *key, size_t klen)
{
    const char *k = key;
    if (klen != 14 || memcmp(k, "sys", 3) != 0 || k[8] != '/')
        return -1;
    unsigned long s = 0, f = 0;
    for (int i = 3; i < 14; i++) {
        if (i == 8)
            continue;
        if (k[i] < '0' || k[i] > '9')
            return -1;
        unsigned long *v = i < 8 ? &s : &f;
        *v = *v * 10 + (unsigned long)(k[i] - '0');
    }
    if (s >= p->nsys || f >= p->frames[s])
        return -1;
    return (long)(p->first[s] + f);
}

int md_stream_open(md_stream *s, const md_plan *p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->rng = p->rng_after;
    s->pos = malloc(MAX_ATOMS * 3 * sizeof(float));
    s->frc = malloc(MAX_ATOMS * 3 * sizeof(float));
    s->mas = malloc(MAX_ATOMS * sizeof(float));
    s->typ = malloc(MAX_ATOMS * sizeof(int32_t));
    if (!s->pos || !s->frc || !s->mas || !s->typ) {
        md_stream_close(s);
        fprintf(stderr, "mdstream: out of memory\n");
        return -1;
    }
    return 0;
}

uint32_t md_stream_next(md_stream *s, uint8_t *buf)
{
    const md_plan *p = s->p;
    if (s->sys < p->nsys && s->frame == p->frames[s->sys]) {
        s->sys++;
        s->frame = 0;
    }
    if (s->sys >= p->nsys)
        return 0;
    const uint32_t n = p->natoms[s->sys];
    if (s->frame == 0) { /* a new system: its atoms */
        const float box = 3.0f * cbrtf((float)n);
        for (uint32_t a = 0; a < n; a++) {
            s->typ[a] = 1 + (int32_t)rng_below(&s->rng, 8);
            s->mas[a] = type_mass[s->typ[a]];
            for (int d = 0; d < 3; d++) {
                s->pos[3 * a + d] = box * (float)rng_unit(&s->rng);
                s->frc[3 * a + d] = (float)rng_gauss(&s->rng);
            }
        }
    } else {
        for (uint32_t k = 0; k < 3 * n; k++) {
            s->pos[k] += STEP_SIGMA * (float)rng_gauss(&s->rng);
            s->frc[k] = 0.8f * s->frc[k] + 0.6f * (float)rng_gauss(&s->rng);
        }
    }
    memcpy(buf, s->typ, 4ull * n);
    memcpy(buf + 4ull * n, s->mas, 4ull * n);
    memcpy(buf + 8ull * n, s->pos, 12ull * n);
    memcpy(buf + 20ull * n, s->frc, 12ull * n);
    s->frame++;
    s->next++;
    return 32u * n;
}

void md_stream_close(md_stream *s)
{
    free(s->pos);
    free(s->frc);
    free(s->mas);
    free(s->typ);
    memset(s, 0, sizeof *s);
}
