/*
 * mdstream.h — bench/'s MD workload (bench/workload.c) produced one record at a time.
 *
 * bench/workload.c builds the whole data set in memory; a bigger-than-memory benchmark cannot.
 * This generator yields the same bytes, keys and lengths in the same order (the selftest of
 * vls_bigdata checks that against workload_generate), holding one system's state (at most
 * 4096 atoms) instead of the data set. The plan (atoms and frames per system) is computed
 * first from the same PRNG stream, so a reader can name record i's key and length without
 * generating anything.
 */
#ifndef VLS_MDSTREAM_H
#define VLS_MDSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "../bench.h"

typedef struct md_plan {
    uint64_t seed;
    size_t nsys, n;       /* systems, records */
    uint64_t total;       /* bytes of all records */
    uint32_t max_len;
    uint32_t *natoms;     /* [nsys] */
    uint32_t *frames;     /* [nsys] */
    uint64_t *first;      /* [nsys + 1]: record number of each system's first frame */
    bench_rng rng_after;  /* the stream right after planning: where generation starts */
} md_plan;

/* Plans about size_mib MiB of records from seed. 0, or -1 (message on stderr). */
int md_plan_make(md_plan *p, uint64_t size_mib, uint64_t seed);
void md_plan_free(md_plan *p);

/* Record i's key ("sys%05u/%05u", 14 bytes + NUL into key[16]) and length. */
uint32_t md_record_len(const md_plan *p, size_t i);
size_t md_record_key(const md_plan *p, size_t i, char key[16]);
/* The record number of a key, or -1 when it is not one of the plan's keys. */
long md_key_index(const md_plan *p, const void *key, size_t klen);

typedef struct md_stream {
    const md_plan *p;
    bench_rng rng;
    size_t sys, frame, next; /* next record: frame `frame` of system `sys`, number `next` */
    float *pos, *frc, *mas;
    int32_t *typ;
} md_stream;

int md_stream_open(md_stream *s, const md_plan *p);
/* Writes the next record into buf (>= p->max_len bytes); returns its length, 0 at the end. */
uint32_t md_stream_next(md_stream *s, uint8_t *buf);
void md_stream_close(md_stream *s);

#endif /* VLS_MDSTREAM_H */
