/* test_roundtrip — records of random sizes from 0 bytes to 3 chunks read back byte for byte,
 * for every codec and placement policy, in memory and on disk: before commit (from the open
 * chunk), after commit, after reopen, through get, get_alloc, get_many and get_many_into,
 * and after reopening to append more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NREC 40
#define CHUNK 65536

typedef struct {
    char key[32];
    size_t len;
    uint64_t seed;
    int compressible;
} rec;

static void expect_all(vls_store *s, const rec *r, int n)
{
    unsigned char *want = malloc(3 * CHUNK + 1), *got = malloc(3 * CHUNK + 1);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        test_fill(want, r[i].len, r[i].seed, r[i].compressible);
        CHECK_OK(s, vls_get(s, r[i].key, strlen(r[i].key), got, 3 * CHUNK + 1, &len));
        CHECK(len == r[i].len && memcmp(want, got, len) == 0);
        void *a;
        size_t alen;
        CHECK_OK(s, vls_get_alloc(s, r[i].key, strlen(r[i].key), &a, &alen));
        CHECK(alen == r[i].len && a && memcmp(a, want, alen) == 0);
        vls_free(a);
        uint64_t sz;
        CHECK_OK(s, vls_size(s, r[i].key, strlen(r[i].key), &sz));
        CHECK(sz == r[i].len);
    }
    /* all at once, in reverse order, with one missing key in the middle */
    vls_key *keys = calloc((size_t)n + 1, sizeof *keys);
    vls_span *spans = calloc((size_t)n + 1, sizeof *spans);
    uint64_t total = 0, needed = 0;
    for (int i = 0; i < n; i++) {
        keys[i].data = r[n - 1 - i].key;
        keys[i].len = strlen(r[n - 1 - i].key);
        total += r[n - 1 - i].len;
    }
    keys[n].data = "no-such-key";
    keys[n].len = 11;
    uint64_t sized;
    CHECK_OK(s, vls_get_many_size(s, (size_t)n + 1, keys, &sized));
    CHECK(sized == total);
    CHECK_RC(s, vls_get_many(s, (size_t)n + 1, keys, NULL, 0, spans, &needed), VLS_E_TOOSMALL);
    CHECK(needed == total);
    unsigned char *all = malloc(total + 1);
    CHECK_RC(s, vls_get_many(s, (size_t)n + 1, keys, all, total, spans, &needed),
             VLS_E_NOTFOUND);
    CHECK(spans[n].status == VLS_E_NOTFOUND && spans[n].length == 0);
    for (int i = 0; i < n; i++) {
        const rec *x = &r[n - 1 - i];
        test_fill(want, x->len, x->seed, x->compressible);
        CHECK(spans[i].status == VLS_OK && spans[i].length == x->len);
        CHECK(memcmp(all + spans[i].offset, want, x->len) == 0);
    }
    /* per-record buffers; the first one deliberately too small when non-empty */
    void **bufs = calloc((size_t)n, sizeof *bufs);
    size_t *caps = calloc((size_t)n, sizeof *caps);
    for (int i = 0; i < n; i++) {
        caps[i] = r[n - 1 - i].len;
        bufs[i] = malloc(caps[i] + 1);
    }
    int small = caps[0] > 0;
    if (small)
        caps[0]--;
    CHECK_RC(s, vls_get_many_into(s, (size_t)n, keys, bufs, caps, spans),
             small ? VLS_E_TOOSMALL : VLS_OK);
    for (int i = 0; i < n; i++) {
        const rec *x = &r[n - 1 - i];
        test_fill(want, x->len, x->seed, x->compressible);
        if (i == 0 && small) {
            CHECK(spans[0].status == VLS_E_TOOSMALL && spans[0].length == x->len);
        } else {
            CHECK(spans[i].status == VLS_OK && memcmp(bufs[i], want, x->len) == 0);
        }
        free(bufs[i]);
    }
    free(bufs);
    free(caps);
    free(all);
    free(keys);
    free(spans);
    free(want);
    free(got);
}

static void put_records(vls_store *s, rec *r, int from, int to, uint64_t *rng)
{
    unsigned char *buf = malloc(3 * CHUNK + 1);
    for (int i = from; i < to; i++) {
        snprintf(r[i].key, sizeof r[i].key, "rec/%d", i);
        uint64_t pick = test_rand(rng) % 10;
        r[i].len = pick == 0 ? 0 : pick < 7 ? test_rand(rng) % 4000 : test_rand(rng) % (3 * CHUNK);
        r[i].seed = test_rand(rng);
        r[i].compressible = (int)(test_rand(rng) % 2);
        test_fill(buf, r[i].len, r[i].seed, r[i].compressible);
        CHECK_OK(s, vls_put_str(s, r[i].key, buf, r[i].len, 0));
    }
    free(buf);
}

int main(void)
{
    static const int codecs[] = {VLS_CODEC_BLOSCLZ, VLS_CODEC_LZ4, VLS_CODEC_LZ4HC,
                                 VLS_CODEC_ZLIB, VLS_CODEC_ZSTD, VLS_CODEC_NONE};
    rec r[NREC * 2];
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        for (int place = 0; place < 3; place++) {
            for (int disk = 0; disk < 2; disk++) {
                uint64_t rng = c * 100 + (uint64_t)place * 10 + (uint64_t)disk;
                vls_options o;
                vls_options_init(&o);
                o.chunk_size = CHUNK;
                o.block_size = 8192;
                o.codec = codecs[c];
                o.placement = place;
                o.cache_bytes = (c % 2) ? 0 : 4 * CHUNK; /* with and without the cache */
                const char *path = disk ? test_path("roundtrip") : NULL;
                vls_store *s;
                CHECK_OK(NULL, vls_open(path, VLS_CREATE, &o, &s));
                if (!s)
                    continue;
                put_records(s, r, 0, NREC, &rng);
                expect_all(s, r, NREC); /* partly from the open chunk */
                CHECK_OK(s, vls_commit(s));
                expect_all(s, r, NREC);
                CHECK(vls_count(s) == NREC);
                if (disk) {
                    CHECK_OK(s, vls_close(s));
                    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
                    expect_all(s, r, NREC);
                    CHECK_OK(s, vls_verify(s, NULL, NULL, NULL));
                    vls_stat st = {.struct_size = sizeof st};
                    CHECK_OK(s, vls_stat_get(s, &st));
                    CHECK(st.options.codec == codecs[c] && st.options.placement == place &&
                          st.options.chunk_size == CHUNK);
                    vls_close(s);
                    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s)); /* append */
                    put_records(s, r, NREC, 2 * NREC, &rng);
                    CHECK_OK(s, vls_close(s));
                    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
                    expect_all(s, r, 2 * NREC);
                    CHECK(vls_count(s) == 2 * NREC);
                    CHECK_OK(s, vls_verify(s, NULL, NULL, NULL));
                    /* placement "start": every non-empty record begins a chunk */
                    if (place == VLS_PLACE_START) {
                        CHECK_OK(s, vls_stat_get(s, &st));
                        int nonempty = 0;
                        for (int i = 0; i < 2 * NREC; i++)
                            nonempty += r[i].len > 0;
                        CHECK(st.chunks >= (uint64_t)nonempty);
                    }
                }
                vls_close(s);
            }
        }
    }
    return test_done("test_roundtrip");
}
