/*
 * bench_hash.c — what checking every record's hash costs a read (issue 15). Every read path
 * of the library checks each record it hands out against the XXH3-64 its index keeps; this
 * program measures that check's share of a read: the time of the reads themselves, and the
 * time XXH3 takes over the same records, in alternating rounds of one run on one store.
 *
 *   bench_hash [--size-mib N] [--rounds R] [--dir D]     (defaults 256, 5, /tmp)
 *
 * The store holds the benchmark's MD workload (bench/workload.c) with vlstore's default
 * settings (4 MiB chunks, LZ4 with byte shuffle, one thread, no cache), in D. Each round:
 *   - whole chunks: vls_read_chunk of every chunk (each record in it is hash-checked);
 *   - gets: vls_get of every key in storage order (a whole record, hash-checked);
 *   - hash alone: XXH3_64bits over every chunk's decoded bytes, timed right after the chunk
 *     is read (untimed), so the bytes are warm in the CPU's cache as when the library checks.
 * The share printed for a path is hash time / that path's time: the part of a read that the
 * check takes (the read includes it). Medians of the rounds. The file is read from the page
 * cache (written just before): the share on a cold disk can only be smaller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench.h"
#include "vlstore.h"

int main(int argc, char **argv)
{
    uint64_t mib = 256;
    int rounds = 5;
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size-mib") && i + 1 < argc)
            mib = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_hash [--size-mib N] [--rounds R] [--dir D]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 99 || mib < 1) {
        fprintf(stderr, "bench_hash: --rounds is 1 to 99, --size-mib at least 1\n");
        return 2;
    }
    bench_workload w;
    if (workload_generate(&w, mib, 42) != 0)
        return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_hash-%ld.vls", dir, (long)getpid());
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE | VLS_TRUNCATE, NULL, &s);
    for (size_t i = 0; i < w.n && rc == VLS_OK; i++)
        rc = vls_put(s, workload_key(&w, i), w.klen[i], w.data + w.off[i], w.len[i], 0);
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc != VLS_OK) {
        fprintf(stderr, "bench_hash: writing %s: %s\n", path, vls_errmsg(s));
        return 1;
    }
    vls_close(s);
    vls_options o;
    vls_options_init(&o);
    o.threads = 1;
    o.cache_bytes = 0;
    if ((rc = vls_open(path, VLS_RDONLY, &o, &s)) != VLS_OK) {
        fprintf(stderr, "bench_hash: opening %s: %s\n", path, vls_errmsg(NULL));
        return 1;
    }
    size_t chunk_cap = 64u << 20;
    unsigned char *chunk = malloc(chunk_cap), *rec = malloc(w.max_len ? w.max_len : 1);
    double t_chunks[99], t_gets[99], t_hash[99];
    volatile uint64_t fold = 0; /* keeps the hashes from being optimised away */
    for (int r = 0; r < rounds && rc == VLS_OK; r++) {
        double t0 = now_sec();
        for (uint64_t c = 0; c < vls_chunk_count(s) && rc == VLS_OK; c++) {
            uint64_t len;
            rc = vls_read_chunk(s, c, chunk, chunk_cap, &len);
        }
        double t1 = now_sec();
        for (size_t i = 0; i < w.n && rc == VLS_OK; i++) {
            uint64_t len;
            rc = vls_get(s, workload_key(&w, i), w.klen[i], rec, w.max_len, &len);
        }
        double t2 = now_sec(), th = 0;
        /* the hash as the library runs it: over bytes just decoded, warm in the CPU's cache
         * (each chunk read untimed, then hashed timed) */
        for (uint64_t c = 0; c < vls_chunk_count(s) && rc == VLS_OK; c++) {
            uint64_t len = 0;
            rc = vls_read_chunk(s, c, chunk, chunk_cap, &len);
            double h0 = now_sec();
            fold ^= XXH3_64bits(chunk, (size_t)len);
            th += now_sec() - h0;
        }
        t_chunks[r] = t1 - t0;
        t_gets[r] = t2 - t1;
        t_hash[r] = th;
    }
    if (rc != VLS_OK) {
        fprintf(stderr, "bench_hash: reading %s: %s\n", path, vls_errmsg(s));
        return 1;
    }
    vls_close(s);
    unlink(path);
    double mb = (double)w.total / 1e6;
    double tc = bench_median(t_chunks, (size_t)rounds), tg = bench_median(t_gets, (size_t)rounds),
           th = bench_median(t_hash, (size_t)rounds);
    printf("bench_hash: %zu records, %.0f MB, default settings, 1 thread, no cache, page cache "
           "warm; medians of %d alternating rounds\n\n", w.n, mb, rounds);
    printf("| path | MB/s of records | hash share of the read |\n|---|---:|---:|\n");
    printf("| whole chunks (vls_read_chunk) | %.0f | %.1f %% |\n", mb / tc, 100 * th / tc);
    printf("| gets in storage order (vls_get) | %.0f | %.1f %% |\n", mb / tg, 100 * th / tg);
    printf("| XXH3-64 alone | %.0f | |\n", mb / th);
    workload_free(&w);
    free(chunk);
    free(rec);
    return 0;
}
