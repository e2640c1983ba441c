/* test_store_ops — replace, delete, NOREPLACE, storage-order iteration, key limits, integer
 * keys, many small records over many commits (delta and full index segments), the writer
 * lock, read-only handles, refresh, the error codes of bad arguments, and write-behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static void replace_delete(void)
{
    vls_store *s;
    const char *path = test_path("ops");
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    char buf[64];
    size_t len;
    CHECK_OK(s, vls_put_str(s, "a", "first", 5, 0));
    CHECK_OK(s, vls_put_str(s, "b", "bee", 3, 0));
    CHECK_RC(s, vls_put_str(s, "a", "nope", 4, VLS_NOREPLACE), VLS_E_EXISTS);
    CHECK_OK(s, vls_put_str(s, "a", "second", 6, 0)); /* replaces */
    CHECK_OK(s, vls_get_str(s, "a", buf, sizeof buf, &len));
    CHECK(len == 6 && memcmp(buf, "second", 6) == 0);
    CHECK(vls_count(s) == 2);
    CHECK_OK(s, vls_delete_str(s, "b"));
    CHECK_RC(s, vls_delete_str(s, "b"), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_get_str(s, "b", buf, sizeof buf, &len), VLS_E_NOTFOUND);
    CHECK(strstr(vls_errmsg(s), "\"b\"") != NULL); /* the message names the key */
    CHECK(test_has_key(s, "b") == 0 && test_has_key(s, "a") == 1);
    CHECK_OK(s, vls_put_str(s, "c", "", 0, 0)); /* empty record */
    CHECK_OK(s, vls_get_str(s, "c", NULL, 0, &len));
    CHECK(len == 0);
    CHECK_RC(s, vls_get_str(s, "a", buf, 3, &len), VLS_E_TOOSMALL);
    CHECK(len == 6); /* the size needed */
    CHECK_OK(s, vls_close(s));

    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
    CHECK(vls_count(s) == 2);
    CHECK_RC(s, vls_get_str(s, "b", buf, sizeof buf, &len), VLS_E_NOTFOUND);
    CHECK_OK(s, vls_get_str(s, "a", buf, sizeof buf, &len));
    CHECK(len == 6 && memcmp(buf, "second", 6) == 0);
    /* storage order: a (replaced, so after b's slot), then c */
    uint64_t pos = 0, rlen;
    const void *key;
    size_t klen;
    CHECK(vls_iter_next(s, &pos, &key, &klen, &rlen) == 1);
    CHECK(klen == 1 && memcmp(key, "a", 1) == 0 && rlen == 6);
    CHECK(vls_iter_next(s, &pos, &key, &klen, &rlen) == 1);
    CHECK(klen == 1 && memcmp(key, "c", 1) == 0 && rlen == 0);
    CHECK(vls_iter_next(s, &pos, &key, &klen, &rlen) == 0);
    vls_stat st = {.struct_size = sizeof st};
    CHECK_OK(s, vls_stat_get(s, &st));
    CHECK(st.records == 2 && st.logical_bytes == 6 && st.dead_bytes == 5 + 3);
    vls_close(s);
}

static void keys_and_args(void)
{
    vls_store *s;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    unsigned char *big = malloc(VLS_MAX_KEY + 1);
    memset(big, 'k', VLS_MAX_KEY + 1);
    CHECK_OK(s, vls_put(s, big, VLS_MAX_KEY, "x", 1, 0)); /* longest key */
    CHECK_RC(s, vls_put(s, big, VLS_MAX_KEY + 1, "x", 1, 0), VLS_E_INVAL);
    CHECK_RC(s, vls_put(s, big, 0, "x", 1, 0), VLS_E_INVAL);
    CHECK_RC(s, vls_put(s, NULL, 3, "x", 1, 0), VLS_E_INVAL);
    CHECK_RC(s, vls_put(s, "k", 1, NULL, 5, 0), VLS_E_INVAL);
    /* keys are bytes: embedded NULs and binary */
    CHECK_OK(s, vls_put(s, "a\0b", 3, "one", 3, 0));
    CHECK_OK(s, vls_put(s, "a\0c", 3, "two", 3, 0));
    char buf[8];
    size_t len;
    CHECK_OK(s, vls_get(s, "a\0c", 3, buf, sizeof buf, &len));
    CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
    /* integer keys: big-endian bytes */
    for (uint64_t k = 0; k < 1000; k += 7)
        CHECK_OK(s, vls_put_u64(s, k * 1000003u, &k, sizeof k, 0));
    for (uint64_t k = 0; k < 1000; k += 7) {
        uint64_t v = 0;
        CHECK_OK(s, vls_get_u64(s, k * 1000003u, &v, sizeof v, &len));
        CHECK(v == k && len == 8);
    }
    unsigned char kb[8];
    vls_key_u64(0x0102030405060708ULL, kb);
    CHECK(kb[0] == 1 && kb[7] == 8);
    CHECK_OK(s, vls_delete_u64(s, 7 * 1000003u));
    CHECK_RC(s, vls_get_u64(s, 7 * 1000003u, buf, sizeof buf, &len), VLS_E_NOTFOUND);
    free(big);
    vls_close(s);

    /* options out of range are refused with a message */
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 100;
    CHECK_RC(NULL, vls_open(NULL, 0, &o, &s), VLS_E_INVAL);
    CHECK(s == NULL && strstr(vls_errmsg(NULL), "chunk size") != NULL);
    vls_options_init(&o);
    o.struct_size = 12;
    CHECK_RC(NULL, vls_open(NULL, 0, &o, &s), VLS_E_INVAL);
    vls_options_init(&o);
    o.codec = 3; /* snappy: not offered */
    CHECK_RC(NULL, vls_open(NULL, 0, &o, &s), VLS_E_INVAL);
    CHECK(vls_close(NULL) == VLS_OK);
    CHECK(strcmp(vls_strerror(VLS_E_CHECKSUM), "checksum mismatch") == 0);
    CHECK(strcmp(vls_strerror(12345), "unknown error") == 0);
    CHECK(vls_compressor_from_name("zstd") == VLS_CODEC_ZSTD && vls_compressor_from_name("x") == -1);
    CHECK(vls_placement_from_name("no_cross") == VLS_PLACE_NOCROSS);

    /* the 128-bit content hash is stable (XXH3-128 of "abc") and differs by content */
    unsigned char h1[16], h2[16];
    vls_hash128("abc", 3, h1);
    vls_hash128("abd", 3, h2);
    CHECK(memcmp(h1, h2, 16) != 0);
    vls_hash128("abc", 3, h2);
    CHECK(memcmp(h1, h2, 16) == 0);
    CHECK(vls_hash64("abc", 3) != vls_hash64("abd", 3));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 100,000 small records over 200 commits: the index chain mixes delta and full segments. */
static void many_small(void)
{
    const char *path = test_path("many");
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_NOSYNC, NULL, &s));
    enum { N = 100000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        uint32_t v[4] = {(uint32_t)i, (uint32_t)i * 3, (uint32_t)i ^ 0x5555, 7};
        snprintf(key, sizeof key, "small/%07d", i);
        if (vls_put_str(s, key, v, (size_t)(i % 17), 0) != VLS_OK) {
            CHECK(0);
            break;
        }
        if (i % 500 == 499)
            CHECK_OK(s, vls_commit(s));
        if (i % 1000 == 999) { /* a few deletes along the way */
            snprintf(key, sizeof key, "small/%07d", i - 3);
            CHECK_OK(s, vls_delete_str(s, key));
        }
    }
    CHECK_OK(s, vls_close(s));
    double t0 = now();
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    double t_open = now() - t0;
    printf("opened a store of %llu small records in %.3f s\n",
           (unsigned long long)vls_count(s), t_open);
    CHECK(vls_count(s) == N - N / 1000);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        uint32_t v[4] = {0}, want[4] = {(uint32_t)i, (uint32_t)i * 3, (uint32_t)i ^ 0x5555, 7};
        size_t len;
        snprintf(key, sizeof key, "small/%07d", i);
        int rc = vls_get_str(s, key, v, sizeof v, &len);
        if (i % 1000 == 996)
            bad += rc != VLS_E_NOTFOUND;
        else
            bad += rc != VLS_OK || len != (size_t)(i % 17) || memcmp(v, want, len) != 0;
    }
    CHECK(bad == 0);
    vls_stat st = {.struct_size = sizeof st};
    CHECK_OK(s, vls_stat_get(s, &st));
    CHECK(st.commits == N / 500 + 1);
    vls_close(s);
}

/* One writer per file; read-only handles see their snapshot until vls_refresh. */
static void locking_and_refresh(void)
{
    const char *path = test_path("lock");
    vls_store *w, *w2, *r;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &w));
    CHECK_RC(NULL, vls_open(path, VLS_RDWR, NULL, &w2), VLS_E_LOCKED);
    CHECK(strstr(vls_errmsg(NULL), "another writer") != NULL);
    CHECK_OK(w, vls_put_str(w, "one", "1", 1, 0));
    CHECK_OK(w, vls_commit(w));
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    CHECK(vls_count(r) == 1);
    CHECK_RC(r, vls_put_str(r, "x", "y", 1, 0), VLS_E_READONLY);
    CHECK_RC(r, vls_delete_str(r, "one"), VLS_E_READONLY);
    CHECK_OK(w, vls_put_str(w, "two", "22", 2, 0));
    CHECK(vls_count(r) == 1); /* uncommitted: invisible */
    CHECK_OK(w, vls_commit(w));
    CHECK(vls_count(r) == 1); /* committed, but r keeps its snapshot */
    CHECK_OK(r, vls_refresh(r));
    CHECK(vls_count(r) == 2);
    char buf[4];
    size_t len;
    CHECK_OK(r, vls_get_str(r, "two", buf, sizeof buf, &len));
    CHECK(len == 2 && memcmp(buf, "22", 2) == 0);
    CHECK_OK(w, vls_close(w));
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &w2)); /* lock released by close */
    vls_close(w2);
    vls_close(r);
    CHECK_RC(NULL, vls_open(test_path("missing"), VLS_RDONLY, NULL, &r), VLS_E_NOTFOUND);
    CHECK_RC(NULL, vls_open(path, VLS_CREATE | VLS_EXCL, NULL, &r), VLS_E_EXISTS);
    /* truncate gives an empty store over an existing one */
    CHECK_OK(NULL, vls_open(path, VLS_TRUNCATE, NULL, &w));
    CHECK(vls_count(w) == 0);
    vls_close(w);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    CHECK(vls_count(r) == 0);
    vls_close(r);
}

/* A record far larger than a chunk, written and read in one piece, and compacted. */
static void big_record(void)
{
    const char *path = test_path("big"), *out = test_path("big-compact");
    size_t len = (size_t)48 << 20;
    unsigned char *buf = malloc(len), *got = malloc(len);
    test_fill(buf, len, 99, 1);
    vls_store *s;
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 1 << 20;
    o.threads = 2;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_NOSYNC, &o, &s));
    CHECK_OK(s, vls_put_str(s, "small-before", "x", 1, 0));
    CHECK_OK(s, vls_put_str(s, "huge", buf, len, 0));
    CHECK_OK(s, vls_put_str(s, "dead", buf, 1 << 20, 0));
    CHECK_OK(s, vls_delete_str(s, "dead"));
    CHECK_OK(s, vls_close(s));
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    size_t glen;
    CHECK_OK(s, vls_get_str(s, "huge", got, len, &glen));
    CHECK(glen == len && memcmp(buf, got, len) == 0);
    CHECK_OK(s, vls_compact(s, out));
    vls_stat before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
    vls_stat_get(s, &before);
    vls_close(s);
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    vls_stat_get(s, &after);
    CHECK(after.records == 2 && after.dead_bytes == 0 && after.file_bytes < before.file_bytes);
    memset(got, 0, len);
    CHECK_OK(s, vls_get_str(s, "huge", got, len, &glen));
    CHECK(glen == len && memcmp(buf, got, len) == 0);
    CHECK_OK(s, vls_verify(s, NULL, NULL, NULL));
    vls_close(s);
    /* in place */
    CHECK_OK(NULL, vls_compact_file(path, NULL));
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    CHECK(vls_count(s) == 2);
    CHECK_OK(s, vls_get_str(s, "small-before", got, len, &glen));
    CHECK(glen == 1 && got[0] == 'x');
    vls_close(s);
    free(buf);
    free(got);
}

/* block_size is the block Blosc actually writes (what one random read decodes), for every
 * codec: Blosc 1 multiplies a forced block size by the typesize for all but zstd, and the
 * store compensates (chunk.c). Read from the first chunk's Blosc header (FORMAT.md: file
 * header 64 bytes, chunk frame header 32, then the Blosc header with blocksize at byte 8). */
static void block_size_is_the_written_block(void)
{
    static const int codecs[] = {VLS_CODEC_LZ4, VLS_CODEC_BLOSCLZ, VLS_CODEC_ZLIB,
                                 VLS_CODEC_LZ4HC, VLS_CODEC_ZSTD};
    static const uint32_t blocks[] = {64u << 10, 128u << 10, 512u << 10};
    size_t n = 2u << 20;
    float *vals = malloc(n);
    for (size_t i = 0; i < n / 4; i++)
        vals[i] = (float)(i % 977) * 0.25f + (float)(i / 977);
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++)
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
            const char *path = test_path("blocks");
            vls_options o;
            vls_options_init(&o);
            o.codec = codecs[c];
            o.level = 5;
            o.block_size = blocks[b];
            vls_store *s;
            CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_NOSYNC, &o, &s));
            CHECK_OK(s, vls_put_str(s, "v", vals, n, 0));
            CHECK_OK(s, vls_close(s));
            unsigned char hdr[64 + 32 + 16];
            FILE *f = fopen(path, "rb");
            CHECK(f && fread(hdr, 1, sizeof hdr, f) == sizeof hdr);
            if (f)
                fclose(f);
            uint32_t written = (uint32_t)hdr[104] | (uint32_t)hdr[105] << 8 |
                               (uint32_t)hdr[106] << 16 | (uint32_t)hdr[107] << 24;
            if (written != blocks[b])
                fprintf(stderr, "codec %s, block_size %u: Blosc wrote %u-byte blocks\n",
                        vls_compressor_name(codecs[c]), blocks[b], written);
            CHECK(written == blocks[b]);
        }
    free(vals);
}

/* Write-behind (a full chunk compressed on a background thread) must not be visible: with it
 * on and off the same puts give the same chunks and records, and a writer reads its own
 * uncommitted records — in the chunk still being compressed, in the open chunk, and across
 * the two (contiguous placement) — byte for byte, through get and get_many. */
static void write_behind(void)
{
    enum { N = 300 };
    static unsigned char rec[N][9000], got[9000];
    static size_t lens[N];
    uint64_t st = 11;
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + test_rand(&st) % 9000;
        test_fill(rec[i], lens[i], (uint64_t)i, i % 3 != 0);
    }
    uint64_t nchunks[2] = {0, 0}, clen[2][64];
    for (int wb = 0; wb < 2; wb++) {
        char name[32];
        snprintf(name, sizeof name, "behind%d", wb);
        const char *path = test_path(name);
        vls_options o;
        vls_options_init(&o);
        o.chunk_size = 16384;
        o.block_size = 0;
        o.placement = VLS_PLACE_CONTIGUOUS;
        o.write_behind = wb;
        vls_store *s;
        CHECK_OK(NULL, vls_open(path, VLS_CREATE, &o, &s));
        size_t bad = 0, len;
        for (int i = 0; i < N; i++) {
            CHECK_OK(s, vls_put_u64(s, (uint64_t)i, rec[i], lens[i], 0));
            /* the newest records: some in the open chunk, some in the one behind it */
            for (int j = i; j >= 0 && j > i - 4; j--) {
                len = 0;
                CHECK_OK(s, vls_get_u64(s, (uint64_t)j, got, sizeof got, &len));
                bad += len != lens[j] || memcmp(got, rec[j], lens[j]) != 0;
            }
            if (i % 50 == 49) { /* a batch over everything written so far */
                vls_key keys[N];
                unsigned char kb[N][8];
                for (int j = 0; j <= i; j++) {
                    vls_key_u64((uint64_t)j, kb[j]);
                    keys[j].data = kb[j];
                    keys[j].len = 8;
                }
                uint64_t need = 0;
                CHECK_OK(s, vls_get_many_size(s, (size_t)i + 1, keys, &need));
                unsigned char *all = malloc(need);
                vls_span *sp = malloc(((size_t)i + 1) * sizeof *sp);
                CHECK(all && sp);
                if (all && sp) {
                    CHECK_OK(s, vls_get_many(s, (size_t)i + 1, keys, all, need, sp, &need));
                    for (int j = 0; j <= i; j++)
                        bad += sp[j].status != VLS_OK || sp[j].length != lens[j] ||
                               memcmp(all + sp[j].offset, rec[j], lens[j]) != 0;
                }
                free(all);
                free(sp);
            }
        }
        CHECK(bad == 0);
        CHECK_OK(s, vls_close(s));
        CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
        nchunks[wb] = vls_chunk_count(s);
        for (uint64_t c = 0; c < nchunks[wb] && c < 64; c++)
            CHECK_OK(s, vls_chunk_length(s, c, &clen[wb][c]));
        for (int i = 0; i < N; i++) {
            CHECK_OK(s, vls_get_u64(s, (uint64_t)i, got, sizeof got, &len));
            bad += len != lens[i] || memcmp(got, rec[i], lens[i]) != 0;
        }
        CHECK(bad == 0);
        CHECK_OK(s, vls_close(s));
    }
    CHECK(nchunks[0] > 20 && nchunks[0] == nchunks[1]);
    CHECK(memcmp(clen[0], clen[1], (size_t)(nchunks[0] < 64 ? nchunks[0] : 64) * 8) == 0);

    /* out of range */
    vls_options o;
    vls_options_init(&o);
    o.write_behind = 2;
    vls_store *s = NULL;
    CHECK_RC(NULL, vls_open(test_path("behind_bad"), VLS_CREATE, &o, &s), VLS_E_INVAL);
}

int main(void)
{
    block_size_is_the_written_block();
    replace_delete();
    keys_and_args();
    many_small();
    locking_and_refresh();
    big_record();
    write_behind();
    return test_done("test_store_ops");
}
