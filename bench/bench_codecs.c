/*
 * bench_codecs.c — Blosc alone on the benchmark's MD workload (bench/workload.c): compression
 * ratio and single-thread compress / decompress speed for the codec settings vlstore's
 * defaults were chosen from (README, "Choosing settings"). 4 MiB chunks, like the store.
 *
 *   bench_codecs [--size-mib N]     (default 512)
 */
#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct {
    const char *codec;
    int level, shuffle;
    size_t block;
    const char *note;
} setting;

/* block = the block Blosc writes (what one random read decodes), as vlstore's block_size */
static const setting settings[] = {
    {"lz4", 9, BLOSC_SHUFFLE, 512 << 10, "vlstore default"},
    {"lz4", 1, BLOSC_SHUFFLE, 512 << 10, ""},
    {"lz4", 9, BLOSC_SHUFFLE, 256 << 10, ""},
    {"lz4", 9, BLOSC_SHUFFLE, 128 << 10, ""},
    {"lz4", 9, BLOSC_SHUFFLE, 64 << 10, "vls_options_random_access"},
    {"lz4", 1, BLOSC_BITSHUFFLE, 512 << 10, ""},
    {"lz4", 1, BLOSC_BITSHUFFLE, 128 << 10, ""},
    {"zstd", 1, BLOSC_SHUFFLE, 128 << 10, ""},
    {"zstd", 1, BLOSC_SHUFFLE, 512 << 10, ""},
    {"zstd", 1, BLOSC_SHUFFLE, 1 << 20, ""},
};

int main(int argc, char **argv)
{
    uint64_t mib = 512;
    if (argc == 3 && !strcmp(argv[1], "--size-mib"))
        mib = strtoull(argv[2], NULL, 10);
    else if (argc != 1) {
        fprintf(stderr, "usage: bench_codecs [--size-mib N]\n");
        return 2;
    }
    bench_workload w;
    if (workload_generate(&w, mib, 42) != 0)
        return 1;
    const size_t chunk = 4u << 20;
    unsigned char *dst = malloc(chunk + BLOSC_MAX_OVERHEAD), *back = malloc(chunk);
    if (!dst || !back)
        return 1;
    printf("Blosc %s, %zu records, %.0f MiB, 4 MiB chunks, 1 thread\n\n", blosc_get_version_string(),
           w.n, w.total / 1048576.0);
    printf("| codec, level, shuffle, block | ratio | compress MB/s | decompress MB/s | |\n"
           "|---|---:|---:|---:|---|\n");
    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        const setting *st = &settings[k];
        uint64_t in = 0, out = 0;
        double tc = 0, td = 0;
        for (uint64_t off = 0; off < w.total; off += chunk) {
            size_t n = w.total - off < chunk ? (size_t)(w.total - off) : chunk;
            double t0 = now_sec();
            /* as vlstore's chunk.c: Blosc 1 multiplies a forced block by the typesize for
             * every compressor but zstd */
            size_t request = strcmp(st->codec, "zstd") ? st->block / 4 : st->block;
            int c = blosc_compress_ctx(st->level, st->shuffle, 4, n, w.data + off, dst,
                                       n + BLOSC_MAX_OVERHEAD, st->codec, request, 1);
            uint32_t written;
            memcpy(&written, dst + 8, 4);
            if (c > 0 && dst[2] != 0x2 && written != st->block && n >= st->block) {
                fprintf(stderr, "bench_codecs: %s wrote %u-byte blocks, not %zu\n", st->codec,
                        written, st->block);
                return 1;
            }
            double t1 = now_sec();
            int d = blosc_decompress_ctx(dst, back, chunk, 1);
            double t2 = now_sec();
            if (c <= 0 || d != (int)n || memcmp(back, w.data + off, n) != 0) {
                fprintf(stderr, "bench_codecs: %s failed on the chunk at %llu\n", st->codec,
                        (unsigned long long)off);
                return 1;
            }
            tc += t1 - t0;
            td += t2 - t1;
            in += n;
            out += (uint64_t)c;
        }
        printf("| %s %d, %s, %zu KiB | %.3f | %.0f | %.0f | %s |\n", st->codec, st->level,
               st->shuffle == BLOSC_SHUFFLE ? "byte" : "bit", st->block >> 10,
               (double)in / (double)out, in / tc / 1e6, in / td / 1e6, st->note);
    }
    free(dst);
    free(back);
    workload_free(&w);
    return 0;
}
