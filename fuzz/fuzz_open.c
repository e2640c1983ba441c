/*
 * fuzz_open.c — fuzz target for opening and reading arbitrary files as stores (src/store.c,
 * index.c, format.c, chunk.c, batch.c, verify.c, recover.c).
 * The input becomes the whole file (in a memfd, reopened by its /proc path: no disk I/O).
 * Properties:
 *  - vls_open either fails with a VLS_E_* code or gives a handle on which count, stat,
 *    iterate, size, get, get_alloc, get_many, get_many_into and verify never crash or read out
 *    of bounds (ASan), and return errors rather than bytes that disagree: get, get_alloc,
 *    get_many, get_many_into and a loader epoch give the same bytes for a key, or an error
 *    (and an epoch that ends cleanly served every record);
 *  - a file that opens read-only also opens for writing: a record appended and committed
 *    reads back exactly, through a fresh handle;
 *  - vls_recover on any input either fails cleanly or writes a store that passes vls_verify,
 *    with counts that add up.
 *
 * Built by fuzz/CMakeLists.txt: always as replay_open (this file + replay.c, runs a corpus; a
 * ctest test replays fuzz/corpus/open), and with -DVLS_BUILD_FUZZ=ON (clang) as the libFuzzer
 * binary fuzz_open:  fuzz_open -jobs=1 -max_total_time=600 CORPUS_DIR fuzz/corpus/open
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vlstore.h"
#include "vlstore_loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEYS 64           /* records read one by one and in a batch */
#define MAX_READ (16u << 20)  /* longest record read (a damaged index may claim GiBs) */

static char in_path[512], out_path[512];
static int in_fd = -1;

static void setup(void)
{
    if (in_fd >= 0)
        return;
    in_fd = memfd_create("fuzz_open", 0);
    if (in_fd >= 0) {
        snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    } else { /* no memfd: a scratch file */
        const char *dir = getenv("VLS_TEST_TMP");
        snprintf(in_path, sizeof in_path, "%.40s/fuzz-open-%ld.in", dir && *dir ? dir : "/tmp",
                 (long)getpid());
        in_fd = open(in_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (in_fd < 0)
            abort();
    }
    const char *dir = getenv("VLS_TEST_TMP");
    snprintf(out_path, sizeof out_path, "%s/fuzz-open-%ld.out", dir && *dir ? dir : "/tmp",
             (long)getpid());
}

static void write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(in_fd, 0) != 0)
        abort();
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(in_fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
}

static int known_error(int rc)
{
    return rc < 0 && strcmp(vls_strerror(rc), "unknown error") != 0;
}

static void read_all(vls_store *s)
{
    static unsigned char a[MAX_READ], b[MAX_READ];
    vls_key keys[MAX_KEYS];
    unsigned char *copies[MAX_KEYS];
    uint64_t lens[MAX_KEYS];
    size_t n = 0;
    uint64_t pos = 0, len, count = vls_count(s), seen = 0;
    const void *key;
    size_t klen;
    vls_stat st = {.struct_size = sizeof st};
    if (vls_stat_get(s, &st) != VLS_OK || st.records != count)
        abort();
    while (vls_iter_next(s, &pos, &key, &klen, &len) == 1) {
        seen++;
        uint64_t sz;
        int found = 0;
        if (klen == 0 || klen > VLS_MAX_KEY || vls_size(s, key, klen, &sz) != VLS_OK || sz != len ||
            vls_contains(s, key, klen, &found) != VLS_OK || !found)
            abort();
        if (n < MAX_KEYS && len <= MAX_READ) {
            copies[n] = malloc(klen);
            if (!copies[n])
                abort();
            memcpy(copies[n], key, klen);
            keys[n].data = copies[n];
            keys[n].len = klen;
            lens[n] = len;
            n++;
        }
    }
    if (seen != count)
        abort();
    /* one by one: get and get_alloc agree */
    for (size_t i = 0; i < n; i++) {
        size_t got = 0, got2 = 0;
        void *p = NULL;
        int rc = vls_get(s, keys[i].data, keys[i].len, a, sizeof a, &got);
        int rc2 = vls_get_alloc(s, keys[i].data, keys[i].len, &p, &got2);
        if (!(rc == VLS_OK || known_error(rc)) || !(rc2 == VLS_OK || known_error(rc2)))
            abort();
        if (rc == VLS_OK && got != lens[i])
            abort();
        if (rc == VLS_OK && rc2 == VLS_OK && (got2 != got || memcmp(a, p, got) != 0))
            abort();
        vls_free(p);
        if (rc == VLS_OK) {
            size_t small = 0;
            int r3 = vls_get(s, keys[i].data, keys[i].len, NULL, 0, &small);
            if ((got > 0 && (r3 != VLS_E_TOOSMALL || small != got)) || (got == 0 && r3 != VLS_OK))
                abort();
        }
    }
    /* batched: the same bytes as one by one, wherever both succeed */
    uint64_t total = 0;
    if (n && vls_get_many_size(s, n, keys, &total) == VLS_OK && total <= sizeof b) {
        vls_span spans[MAX_KEYS];
        int rc = vls_get_many(s, n, keys, b, sizeof b, spans, NULL);
        if (!(rc == VLS_OK || known_error(rc)))
            abort();
        /* after a whole-call failure (out of memory) spans are not a result */
        for (size_t i = 0; rc != VLS_E_NOMEM && i < n; i++) {
            size_t got = 0;
            if (spans[i].status != VLS_OK)
                continue;
            if (spans[i].length != lens[i] || spans[i].offset + spans[i].length > sizeof b)
                abort();
            if (vls_get(s, keys[i].data, keys[i].len, a, sizeof a, &got) == VLS_OK &&
                (got != spans[i].length || memcmp(a, b + spans[i].offset, got) != 0))
                abort();
        }
        void *bufs[MAX_KEYS];
        size_t caps[MAX_KEYS];
        for (size_t i = 0; i < n; i++) {
            bufs[i] = malloc(lens[i] ? (size_t)lens[i] : 1);
            if (!bufs[i])
                abort();
            caps[i] = (size_t)lens[i];
        }
        rc = vls_get_many_into(s, n, keys, bufs, caps, spans);
        if (!(rc == VLS_OK || known_error(rc)))
            abort();
        for (size_t i = 0; i < n; i++) {
            size_t got = 0;
            if (rc != VLS_E_NOMEM && spans[i].status == VLS_OK &&
                vls_get(s, keys[i].data, keys[i].len, a, sizeof a, &got) == VLS_OK &&
                (got != spans[i].length || memcmp(a, bufs[i], got) != 0))
                abort();
            free(bufs[i]);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    uint64_t problems = 0;
    int rc = vls_verify(s, NULL, NULL, &problems);
    if (!(rc == VLS_OK || known_error(rc)) || (rc == VLS_OK) != (problems == 0))
        abort();
}

/* One loader epoch over the store: every record served has the bytes vls_get gives. */
static void load_epoch(vls_store *s, int prefetch)
{
    static unsigned char a[MAX_READ];
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.batch_size = 7;
    lo.read_size = 2;
    lo.prefetch = prefetch;
    vls_loader *ld;
    int rc = vls_loader_open_stores(&s, 1, &lo, &ld);
    if (rc != VLS_OK) {
        if (!known_error(rc))
            abort();
        return;
    }
    const vls_record *recs;
    size_t n, got;
    uint64_t served = 0;
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
        for (size_t k = 0; k < n; k++, served++) {
            if (recs[k].len <= MAX_READ &&
                vls_get(s, recs[k].key, recs[k].klen, a, sizeof a, &got) == VLS_OK &&
                (got != recs[k].len || memcmp(a, recs[k].data, got) != 0))
                abort();
        }
    }
    if ((rc < 0 && !known_error(rc)) || (rc == 0 && served != vls_count(s)))
        abort();
    vls_loader_close(ld);
}

/* A store that opens takes an append: the new record reads back through a fresh handle. */
static void append_one(void)
{
    static const char val[] = "appended by fuzz_open";
    vls_store *s;
    char got[64];
    size_t len = 0;
    if (vls_open(in_path, VLS_RDWR | VLS_NOSYNC, NULL, &s) != VLS_OK)
        abort();
    if (vls_put_str(s, "fuzz-open/appended", val, sizeof val, 0) != VLS_OK ||
        vls_close(s) != VLS_OK)
        abort();
    if (vls_open(in_path, VLS_RDONLY, NULL, &s) != VLS_OK)
        abort();
    if (vls_get_str(s, "fuzz-open/appended", got, sizeof got, &len) != VLS_OK ||
        len != sizeof val || memcmp(got, val, len) != 0)
        abort();
    vls_close(s);
}

static void recover(void)
{
    vls_recover_stats st;
    unlink(out_path);
    int rc = vls_recover(in_path, out_path, NULL, NULL, &st);
    if (rc != VLS_OK) {
        if (!known_error(rc))
            abort();
        return;
    }
    if (st.lost != st.records_lost + st.segments_lost + st.unnamed_chunks ||
        st.chunks_damaged > st.chunks)
        abort();
    vls_store *s;
    if (vls_open(out_path, VLS_RDONLY, NULL, &s) != VLS_OK)
        abort();
    if (vls_count(s) != st.records || vls_verify(s, NULL, NULL, NULL) != VLS_OK)
        abort();
    vls_close(s);
    unlink(out_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    write_input(data, size);
    vls_options o;
    vls_options_init(&o);
    /* the last byte picks the reader's variant: cache on/off, mmap or pread, verified reads */
    unsigned variant = size ? data[size - 1] : 0;
    unsigned flags = VLS_RDONLY;
    if (variant & 1)
        o.cache_bytes = 0;
    if (variant & 2)
        flags |= VLS_NOMMAP;
    if (variant & 4)
        flags |= VLS_VERIFY_READS;
    vls_store *s;
    int rc = vls_open(in_path, flags, &o, &s);
    if (rc == VLS_OK) {
        vls_stat st = {.struct_size = sizeof st};
        vls_stat_get(s, &st);
        read_all(s);
        load_epoch(s, (variant & 8) != 0);
        vls_close(s);
        /* a writer holds two chunks in memory: skip the (valid) 1 GiB chunk settings */
        if (st.options.chunk_size <= (16u << 20))
            append_one();
        write_input(data, size); /* recover the input, not what append_one made of it */
    } else if (!known_error(rc) || s != NULL) {
        abort();
    }
    recover();
    return 0;
}
