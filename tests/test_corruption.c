/* test_corruption — a damaged file never crashes a reader and never yields wrong bytes as if
 * they were right. A small multi-chunk store is cut at every byte offset, has every bit
 * flipped in turn, and has 4 KiB blocks zeroed; each damaged copy is opened, every record
 * is read with get and get_many and through the loader (one storage-order epoch), and verify
 * runs. Each read must either return the exact
 * original bytes or an error; every flip that lands in checksummed bytes must be reported
 * by open or verify. (Run under ASan/UBSan in CI: no out-of-bounds read either.) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vlstore_loader.h"

#define NREC 12

static unsigned char *orig;
static size_t orig_len;
static size_t rec_len[NREC];
static size_t rec_max = 1500; /* VLS_TEST_LONG=1: up to 5000 */
static long wrong_bytes, opened, open_errors, detected, undetected, loader_runs;

static void make_store(const char *path, int codec)
{
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 4096;
    o.block_size = 1024;
    o.codec = codec;
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    unsigned char buf[6000];
    for (int i = 0; i < NREC; i++) {
        char key[16];
        snprintf(key, sizeof key, "r%d", i);
        rec_len[i] = (size_t)(i * 517) % rec_max;
        test_fill(buf, rec_len[i], (uint64_t)i, i % 2);
        CHECK_OK(s, vls_put_str(s, key, buf, rec_len[i], 0));
        if (i == NREC / 2)
            CHECK_OK(s, vls_commit(s)); /* two commits: a delta segment too */
    }
    CHECK_OK(s, vls_close(s));
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    orig_len = (size_t)ftell(f);
    rewind(f);
    free(orig);
    orig = malloc(orig_len);
    CHECK(fread(orig, 1, orig_len, f) == orig_len);
    fclose(f);
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    /* a new file each time: ext4 flushes a file truncated and rewritten at close
     * (auto_da_alloc), and the loader's read-ahead of its pages then waits for that I/O */
    unlink(path);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Opens the damaged file and reads everything. Returns 1 if any problem was reported. */
static int probe(const char *path)
{
    vls_store *s;
    unsigned char want[6000], got[6000];
    if (vls_open(path, VLS_RDONLY, NULL, &s) != VLS_OK) {
        open_errors++;
        return 1;
    }
    opened++;
    int reported = 0;
    vls_key keys[NREC];
    char names[NREC][16];
    for (int i = 0; i < NREC; i++) {
        snprintf(names[i], 16, "r%d", i);
        keys[i].data = names[i];
        keys[i].len = strlen(names[i]);
        size_t len = 0;
        int rc = vls_get_str(s, names[i], got, sizeof got, &len);
        if (rc == VLS_OK) {
            test_fill(want, rec_len[i], (uint64_t)i, i % 2);
            if (len != rec_len[i] || memcmp(want, got, len) != 0)
                wrong_bytes++;
        } else {
            reported = 1;
        }
    }
    static unsigned char all[NREC * 6000];
    vls_span spans[NREC];
    vls_get_many(s, NREC, keys, all, sizeof all, spans, NULL);
    for (int i = 0; i < NREC; i++) {
        if (spans[i].status != VLS_OK) {
            reported = 1;
            continue;
        }
        test_fill(want, rec_len[i], (uint64_t)i, i % 2);
        if (spans[i].length != rec_len[i] || memcmp(all + spans[i].offset, want, rec_len[i]))
            wrong_bytes++;
    }
    /* the loader: a storage-order epoch in batches, read inline (every record it serves is
     * one of ours, with its bytes; a read error ends the epoch) */
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.shuffle = 0;
    lo.prefetch = 0;
    lo.batch_size = 5;
    vls_loader *ld;
    if (vls_loader_open_stores(&s, 1, &lo, &ld) == VLS_OK) {
        const vls_record *recs;
        size_t n;
        int rc;
        loader_runs++;
        while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
            for (size_t k = 0; k < n; k++) {
                int i = -1;
                char key[8] = {0}, name[16];
                if (recs[k].klen >= 2 && recs[k].klen < sizeof key) {
                    memcpy(key, recs[k].key, recs[k].klen); /* keys are not terminated */
                    if (key[0] == 'r')
                        i = atoi(key + 1) % NREC;
                }
                snprintf(name, sizeof name, "r%d", i);
                if (i < 0 || strlen(name) != recs[k].klen ||
                    memcmp(name, recs[k].key, recs[k].klen) != 0) {
                    wrong_bytes++;
                    continue;
                }
                test_fill(want, rec_len[i], (uint64_t)i, i % 2);
                if (recs[k].len != rec_len[i] || memcmp(recs[k].data, want, rec_len[i]) != 0)
                    wrong_bytes++;
            }
        }
        if (rc < 0)
            reported = 1;
        vls_loader_close(ld);
    } else {
        reported = 1;
    }
    uint64_t problems = 0;
    if (vls_verify(s, NULL, NULL, &problems) != VLS_OK)
        reported = 1;
    vls_close(s);
    return reported;
}

int main(void)
{
    const char *path = test_path("corrupt"), *bad = test_path("corrupt-bad");
    static const int codecs[] = {VLS_CODEC_ZSTD, VLS_CODEC_LZ4, VLS_CODEC_NONE};
    /* Short by default (CI); VLS_TEST_LONG=1 flips every bit of bigger stores, every codec. */
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    if (long_run)
        rec_max = 5000;
    for (size_t c = 0; c < 3; c++) {
        size_t step = long_run || c == 0 ? 1 : 13; /* bits: all for zstd, a sample for others */
        make_store(path, codecs[c]);
        long before_wrong = wrong_bytes;
        /* 1. truncation at every offset */
        for (size_t cut = 0; cut < orig_len; cut += step) {
            write_file(bad, orig, cut);
            probe(bad);
        }
        /* 2. every bit flipped */
        unsigned char *copy = malloc(orig_len);
        long flips = 0;
        for (size_t byte = 0; byte < orig_len; byte++) {
            for (int bit = 0; bit < 8; bit++) {
                if ((byte * 8 + (size_t)bit) % step)
                    continue;
                memcpy(copy, orig, orig_len);
                copy[byte] ^= (unsigned char)(1u << bit);
                write_file(bad, copy, orig_len);
                if (probe(bad))
                    detected++;
                else
                    undetected++;
                flips++;
            }
        }
        /* 3. whole 4 KiB blocks zeroed */
        for (size_t at = 0; at < orig_len; at += 4096) {
            memcpy(copy, orig, orig_len);
            memset(copy + at, 0, orig_len - at < 4096 ? orig_len - at : 4096);
            write_file(bad, copy, orig_len);
            probe(bad);
        }
        free(copy);
        printf("%s: %zu-byte store, every %zu-th truncation, %ld bit flips, wrong bytes returned: %ld\n",
               vls_compressor_name(codecs[c]), orig_len, step, flips, wrong_bytes - before_wrong);
    }
    printf("opened %ld damaged copies (loader epochs over %ld), %ld refused at open; flips "
           "reported %ld, not reported %ld (flips in padding bytes or in a superseded commit's "
           "trailer change nothing read)\n", opened, loader_runs, open_errors, detected,
           undetected);
    CHECK(wrong_bytes == 0);
    /* every record-bearing byte is covered: unreported flips must be rare (padding) */
    CHECK(undetected * 20 < detected);
    unlink(path);
    unlink(bad);
    free(orig);
    return test_done("test_corruption");
}
