/*
 * ratio.c — vls_ratio: compression ratio and decode speed of candidate chunk layouts on
 * bench/'s MD workload (issue 14, "Ratio is speed when reads are slow"). Measures before
 * anything is built into the format:
 *
 *   as-is       the chunk's records back to back (today's layout), Blosc settings varied
 *   columns     a frame-aware transform needing no schema: in each run of equal-length
 *               records (the frames of one system) the 4-byte words are transposed, so word j
 *               of every frame lies together (all frames' x of atom 5, then y, ...); Blosc's
 *               shuffle then groups their bytes
 *   columns+xor the same, each frame's word XORed with the previous frame's (frames of one
 *               system differ little, so the high bytes become zeros)
 *
 * Decode speed includes undoing the transform (single thread, from memory, best of 3), and
 * is reported per core in GB/s of records. Chunks are 4 MiB, records never straddle two
 * (vlstore's defaults).
 *   vls_ratio [SIZE_MIB [SEED]]      (defaults 256 MiB, seed 42, the workload's first bytes)
 */
#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench.h"

#define CHUNK (4u << 20)

typedef struct layout {
    const char *name;
    int transform; /* 0 as-is, 1 columns, 2 columns + xor */
    const char *codec;
    int level, shuffle;
    size_t block;
} layout;

typedef struct chunk_plan {
    size_t first, count; /* records */
    size_t bytes;
} chunk_plan;

/* Runs of equal-length records inside [first, first+count): the frames of one system. */
static void transform(const bench_workload *w, const chunk_plan *c, int mode, uint8_t *out)
{
    size_t at = 0;
    for (size_t i = c->first; i < c->first + c->count;) {
        size_t j = i;
        while (j < c->first + c->count && w->len[j] == w->len[i])
            j++;
        size_t k = j - i, words = w->len[i] / 4;
        uint32_t *dst = (uint32_t *)(out + at);
        for (size_t f = 0; f < k; f++) {
            const uint32_t *src = (const uint32_t *)(w->data + w->off[i + f]);
            const uint32_t *prev = f ? (const uint32_t *)(w->data + w->off[i + f - 1]) : NULL;
            for (size_t x = 0; x < words; x++)
                dst[x * k + f] = mode == 2 && prev ? src[x] ^ prev[x] : src[x];
        }
        at += k * w->len[i];
        i = j;
    }
}

static void untransform(const bench_workload *w, const chunk_plan *c, int mode, const uint8_t *in,
                        uint8_t *out)
{
    size_t at = 0;
    for (size_t i = c->first; i < c->first + c->count;) {
        size_t j = i;
        while (j < c->first + c->count && w->len[j] == w->len[i])
            j++;
        size_t k = j - i, words = w->len[i] / 4;
        const uint32_t *src = (const uint32_t *)(in + at);
        uint32_t *dst = (uint32_t *)(out + at);
        for (size_t f = 0; f < k; f++) {
            uint32_t *d = dst + f * words;
            const uint32_t *p = f ? d - words : NULL;
            for (size_t x = 0; x < words; x++)
                d[x] = mode == 2 && p ? src[x * k + f] ^ p[x] : src[x * k + f];
        }
        at += k * w->len[i];
        i = j;
    }
}

int main(int argc, char **argv)
{
    uint64_t size = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    bench_workload w;
    if (workload_generate(&w, size, seed) != 0)
        return 1;
    /* chunks: records packed to 4 MiB, none straddling */
    size_t nch = 0, cap = 64;
    chunk_plan *ch = malloc(cap * sizeof *ch);
    for (size_t i = 0; i < w.n;) {
        if (nch == cap)
            ch = realloc(ch, (cap *= 2) * sizeof *ch);
        chunk_plan *c = &ch[nch++];
        c->first = i;
        c->count = 0;
        c->bytes = 0;
        while (i < w.n && (c->count == 0 || c->bytes + w.len[i] <= CHUNK)) {
            c->bytes += w.len[i++];
            c->count++;
        }
    }
    const layout L[] = {
        {"as-is (defaults)", 0, "lz4", 9, 1, 512u << 10},
        {"as-is", 0, "lz4", 9, 2, 512u << 10},
        {"as-is", 0, "zstd", 1, 1, 512u << 10},
        {"as-is", 0, "zstd", 1, 2, 512u << 10},
        {"as-is", 0, "zstd", 3, 1, 512u << 10},
        {"as-is", 0, "blosclz", 9, 1, 512u << 10},
        {"as-is", 0, "lz4", 9, 1, 2u << 20},
        {"as-is", 0, "lz4hc", 9, 1, 512u << 10},
        {"as-is", 0, "zstd", 1, 1, 2u << 20},
        {"columns", 1, "lz4", 9, 1, 512u << 10},
        {"columns", 1, "lz4", 9, 2, 512u << 10},
        {"columns", 1, "zstd", 1, 1, 512u << 10},
        {"columns+xor", 2, "lz4", 9, 1, 512u << 10},
        {"columns+xor", 2, "lz4", 9, 2, 512u << 10},
        {"columns+xor", 2, "zstd", 1, 1, 512u << 10},
        {"columns+xor", 2, "zstd", 1, 2, 512u << 10},
        {"columns+xor", 2, "blosclz", 9, 1, 512u << 10},
    };
    uint8_t *tr = malloc(CHUNK), *cmp = malloc(CHUNK + BLOSC_MAX_OVERHEAD), *dec = malloc(CHUNK),
            *out = malloc(CHUNK);
    uint8_t **stored = calloc(nch, sizeof *stored);
    size_t *slen = calloc(nch, sizeof *slen);
    printf("MD workload: %llu MiB, seed %llu, %zu records (mean %.0f bytes), %zu chunks of <= 4 "
           "MiB; decode = Blosc + inverse transform, 1 thread, best of 3\n\n",
           (unsigned long long)size, (unsigned long long)seed, w.n, (double)w.total / (double)w.n,
           nch);
    printf("| layout | codec | level | shuffle | block | ratio | decode GB/s/core |\n");
    printf("|---|---|---:|---|---:|---:|---:|\n");
    for (size_t l = 0; l < sizeof L / sizeof *L; l++) {
        uint64_t total = 0, packed = 0;
        for (size_t c = 0; c < nch; c++) {
            const uint8_t *src = w.data + w.off[ch[c].first];
            if (L[l].transform) {
                transform(&w, &ch[c], L[l].transform, tr);
                src = tr;
            }
            int n = blosc_compress_ctx(L[l].level, L[l].shuffle, 4, ch[c].bytes, src, cmp,
                                       ch[c].bytes + BLOSC_MAX_OVERHEAD, L[l].codec,
                                       strcmp(L[l].codec, "zstd") == 0 ? L[l].block : L[l].block / 4, 1);
            if (n <= 0) {
                fprintf(stderr, "blosc_compress_ctx failed\n");
                return 1;
            }
            free(stored[c]);
            stored[c] = malloc((size_t)n);
            memcpy(stored[c], cmp, (size_t)n);
            slen[c] = (size_t)n;
            total += ch[c].bytes;
            packed += (uint64_t)n;
        }
        double best = 0;
        for (int pass = 0; pass < 3; pass++) {
            double t0 = now_sec();
            for (size_t c = 0; c < nch; c++) {
                uint8_t *dst = L[l].transform ? dec : out;
                if (blosc_decompress_ctx(stored[c], dst, CHUNK, 1) != (int)ch[c].bytes)
                    return 1;
                if (L[l].transform)
                    untransform(&w, &ch[c], L[l].transform, dec, out);
                if (pass == 0 && memcmp(out, w.data + w.off[ch[c].first], ch[c].bytes) != 0) {
                    fprintf(stderr, "%s: chunk %zu does not round-trip\n", L[l].name, c);
                    return 1;
                }
            }
            double dt = now_sec() - t0;
            if (best == 0 || dt < best)
                best = dt;
        }
        printf("| %s | %s | %d | %s | %zu KiB | %.3f | %.2f |\n", L[l].name, L[l].codec,
               L[l].level, L[l].shuffle == 2 ? "bit" : L[l].shuffle ? "byte" : "none",
               L[l].block >> 10, (double)total / (double)packed, (double)total / best / 1e9);
    }
    for (size_t c = 0; c < nch; c++)
        free(stored[c]);
    free(stored);
    free(slen);
    free(ch);
    free(tr);
    free(cmp);
    free(dec);
    free(out);
    workload_free(&w);
    return 0;
}
