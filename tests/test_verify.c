/* test_verify.c — vls_verify reports each problem once, naming the keys it affects:
 *   - a sound store, with records inside chunks, straddling several chunks (contiguous
 *     placement), zero-length ones and a writer's uncommitted ones, is sound;
 *   - one damaged chunk is one problem that names the records lying in it (also those that
 *     only pass through it), and those records are not reported again;
 *   - a damaged chunk that holds more records than are named says how many in all;
 *   - progress reaches every chunk (vls_progress_set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct {
    int n;
    char last[2048];
} reports;

static void collect(void *ctx, const char *what)
{
    reports *r = ctx;
    r->n++;
    snprintf(r->last, sizeof r->last, "%s", what);
}

static void progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    uint64_t *seen = ctx;
    if (!strcmp(what, "chunks") && done == total)
        seen[0] = total;
    seen[1]++;
}

/* Flips one byte of the payload of the chunk frame whose header starts at `at`. */
static void damage(const char *path, uint64_t at)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, (long)at + 32 + 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)at + 32 + 100, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
}

static void test_spanning_records(void)
{
    const char *p = test_path("verify-span");
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 4096;
    o.placement = VLS_PLACE_CONTIGUOUS;
    o.codec = VLS_CODEC_NONE; /* chunk frames at predictable offsets */
    vls_store *s;
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, &o, &s));
    unsigned char buf[10000];
    char key[32];
    for (int i = 0; i < 20; i++) { /* 3000-byte records over 4096-byte chunks */
        test_fill(buf, 3000, (uint64_t)i, 0);
        snprintf(key, sizeof key, "rec%02d", i);
        CHECK_OK(s, vls_put_str(s, key, buf, 3000, 0));
    }
    test_fill(buf, sizeof buf, 99, 0); /* one record over three chunks */
    CHECK_OK(s, vls_put_str(s, "long", buf, sizeof buf, 0));
    CHECK_OK(s, vls_put_str(s, "empty", "", 0, 0));
    CHECK_OK(s, vls_commit(s));
    CHECK_OK(s, vls_put_str(s, "pending", buf, 5000, 0)); /* in the writer's open chunk */
    reports r = {0};
    uint64_t n = 99, seen[2] = {0, 0};
    vls_progress_set(progress, seen);
    CHECK_OK(s, vls_verify(s, collect, &r, &n));
    vls_progress_set(NULL, NULL);
    CHECK(n == 0 && r.n == 0);
    CHECK(seen[0] == vls_chunk_count(s) && seen[0] > 10);
    CHECK_OK(s, vls_close(s));

    /* chunk 1 holds the end of rec01 and the start of rec02 (bytes 4096..8191: rec01 is
     * 3000..5999, rec02 6000..8999) */
    /* raw chunks: frame = 32-byte header + 4096 bytes; chunk 1 is the second frame */
    damage(p, 64 + (32 + 4096));
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    r.n = 0;
    CHECK_RC(s, vls_verify(s, collect, &r, &n), VLS_E_CHECKSUM);
    CHECK(n == 1 && r.n == 1);
    CHECK(strstr(r.last, "chunk 1 ") != NULL);
    CHECK(strstr(r.last, "\"rec01\"") != NULL);
    CHECK(strstr(r.last, "\"rec02\"") != NULL);
    CHECK(strstr(r.last, "\"rec03\"") == NULL);
    printf("one problem: %s\n", r.last);
    vls_close(s);
    remove(p);
}

static void test_many_keys_counted(void)
{
    const char *p = test_path("verify-many");
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 65536;
    o.codec = VLS_CODEC_NONE;
    vls_store *s;
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, &o, &s));
    char key[32];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(s, vls_put_str(s, key, "0123456789", 10, 0));
    }
    unsigned char bin[8];
    vls_key_u64(7, bin);
    CHECK_OK(s, vls_put(s, bin, 8, "x", 1, 0));
    CHECK_OK(s, vls_close(s));
    FILE *f = fopen(p, "r+b"); /* the one chunk's payload starts at 64 + 32 */
    fseek(f, 64 + 32 + 5, SEEK_SET);
    fputc('#', f);
    fclose(f);
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    reports r = {0};
    uint64_t n = 0;
    CHECK_RC(s, vls_verify(s, collect, &r, &n), VLS_E_CHECKSUM);
    CHECK(n == 1 && r.n == 1);
    CHECK(strstr(r.last, "\"k0\"") != NULL);
    CHECK(strstr(r.last, "and 41 more (51 in all)") != NULL);
    vls_close(s);
    remove(p);
}

int main(void)
{
    test_spanning_records();
    test_many_keys_counted();
    return test_done("test_verify");
}
