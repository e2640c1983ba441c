/* test_chunk_advise.c — vls_chunk_advise() and vls_chunk_extent() (include/vlstore.h), and
 * the loader's drop-behind built on them:
 *  - advice never changes what is read (every record reads back the same after each kind);
 *  - extents lie in file order, inside the file, each holding a frame header and payload;
 *  - bad arguments give their codes (chunks past the end, zero count, unknown advice, NULL);
 *  - a memory store takes the advice as a no-op.
 * What drop-behind saves is measured, not asserted here: docs/BENCH.md, "Bigger than
 * memory" (the cgroup's peak memory with and without it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#define NREC 3000

static size_t rec_len(uint64_t i)
{
    return 200 + (size_t)(i * 7919 % 3000);
}

static int read_all_match(vls_store *s)
{
    unsigned char *want = malloc(4096), *got = malloc(4096);
    int ok = 1;
    for (uint64_t i = 0; i < NREC && ok; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%06llu", (unsigned long long)i);
        size_t len = 0;
        test_fill(want, rec_len(i), i, 1);
        ok = vls_get_str(s, key, got, 4096, &len) == VLS_OK && len == rec_len(i) &&
             memcmp(want, got, len) == 0;
    }
    free(want);
    free(got);
    return ok;
}

int main(void)
{
    const char *path = test_path("advise.vls");
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 32768; /* many chunks, many times the loader's read units */
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, &o, &s));
    unsigned char *buf = malloc(4096);
    for (uint64_t i = 0; i < NREC; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%06llu", (unsigned long long)i);
        test_fill(buf, rec_len(i), i, 1);
        CHECK_OK(s, vls_put_str(s, key, buf, rec_len(i), 0));
    }
    free(buf);
    CHECK_OK(s, vls_close(s));

    CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, NULL, &s));
    uint64_t nc = vls_chunk_count(s);
    CHECK(nc > 100);
    struct stat st;
    CHECK(stat(path, &st) == 0);

    /* extents: in file order, inside the file, header + payload each */
    uint64_t prev_end = 0;
    int order_ok = 1;
    for (uint64_t c = 0; c < nc; c++) {
        uint64_t off = 0, bytes = 0;
        CHECK_OK(s, vls_chunk_extent(s, c, &off, &bytes));
        order_ok &= off >= prev_end && bytes > 32 && off + bytes <= (uint64_t)st.st_size;
        prev_end = off + bytes;
    }
    CHECK(order_ok);

    /* advice never changes what is read */
    CHECK_OK(s, vls_chunk_advise(s, 0, nc, VLS_ADVISE_WILLNEED));
    CHECK(read_all_match(s));
    CHECK_OK(s, vls_chunk_advise(s, 0, nc, VLS_ADVISE_DONTNEED));
    CHECK(read_all_match(s));
    CHECK_OK(s, vls_chunk_advise(s, 0, 0, VLS_ADVISE_EXACT));
    CHECK_OK(s, vls_chunk_advise(s, 0, nc, VLS_ADVISE_DONTNEED));
    CHECK(read_all_match(s));
    CHECK_OK(s, vls_chunk_advise(s, nc - 1, 1, VLS_ADVISE_WILLNEED));

    /* bad arguments */
    uint64_t off, bytes;
    CHECK_RC(s, vls_chunk_advise(s, nc, 1, VLS_ADVISE_WILLNEED), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_chunk_advise(s, nc - 1, 2, VLS_ADVISE_DONTNEED), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_chunk_advise(s, 0, 0, VLS_ADVISE_WILLNEED), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_chunk_advise(s, 0, UINT64_MAX, VLS_ADVISE_WILLNEED), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_chunk_advise(s, 0, 1, 99), VLS_E_INVAL);
    CHECK(strstr(vls_errmsg(s), "unknown advice") != NULL);
    CHECK_RC(s, vls_chunk_extent(s, nc, &off, &bytes), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_chunk_extent(s, 0, NULL, &bytes), VLS_E_INVAL);
    CHECK_RC(NULL, vls_chunk_advise(NULL, 0, 1, VLS_ADVISE_WILLNEED), VLS_E_INVAL);
    CHECK_OK(s, vls_close(s));

    /* a memory store: advice is a no-op that succeeds */
    vls_store *m;
    CHECK_OK(NULL, vls_open(NULL, VLS_CREATE, &o, &m));
    unsigned char rec[1000];
    test_fill(rec, sizeof rec, 1, 1);
    CHECK_OK(m, vls_put_str(m, "a", rec, sizeof rec, 0));
    CHECK_OK(m, vls_commit(m));
    if (vls_chunk_count(m) > 0)
        CHECK_OK(m, vls_chunk_advise(m, 0, 1, VLS_ADVISE_DONTNEED));
    CHECK_OK(m, vls_chunk_advise(m, 0, 0, VLS_ADVISE_EXACT));
    vls_close(m);

    return test_done("test_chunk_advise");
}
