/* test_recover — vls_recover salvages exactly the intact records of a damaged file, byte for
 * byte, and reports the ones it lost. A store of three commits (puts, a delete, a replacement,
 * a record spanning chunks) is damaged in each of these ways and recovered; the new store
 * must hold exactly the records the damage left intact, in the version the surviving index
 * names, and nothing else:
 *   flipped bytes in a chunk; a zeroed newest trailer; a tail cut in the trailer, in the
 *   newest segment and in a chunk; a damaged newest index segment; a damaged older segment
 *   (payload, then header); a damaged file header; every segment destroyed; a damaged newest
 *   full segment with an older full one to fall back on; a foreign file; an existing OUT.
 * Then random byte flips: recover never writes bytes that were not put under that key, and
 * it salvages at least every record the normal reader still returns intact
 * (VLS_TEST_LONG=1: every byte of the file, instead of a sample). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>

#include "format.h"
#include "io.h"
#include "testutil.h"
#include "util.h"

#define NKEYS 30

typedef struct {
    int present;
    uint64_t seed;
    size_t len;
} want_t;

static want_t st1[NKEYS], st2[NKEYS], st3[NKEYS]; /* the store after commit 1, 2, 3 */
static unsigned char *orig;
static size_t orig_len;
static char report[65536];
static size_t report_len;

static void collect(void *ctx, const char *what)
{
    (void)ctx;
    int n = snprintf(report + report_len, sizeof report - report_len, "%s\n", what);
    if (n > 0 && (size_t)n < sizeof report - report_len)
        report_len += (size_t)n;
}

static size_t len_of(int i)
{
    return i == 25 ? 10000 : (size_t)(i * 389) % 2900; /* r25 spans three chunks */
}

static void put_rec(vls_store *s, want_t *st, int i, uint64_t seed, size_t len)
{
    static unsigned char buf[10000];
    char key[16];
    snprintf(key, sizeof key, "r%d", i);
    test_fill(buf, len, seed, (int)(seed % 2));
    CHECK_OK(s, vls_put_str(s, key, buf, len, 0));
    st[i].present = 1;
    st[i].seed = seed;
    st[i].len = len;
}

static void load(const char *path)
{
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
    unlink(path); /* a new file: ext4 flushes one truncated and rewritten at close */
    FILE *f = fopen(path, "wb");
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
}

/* Three commits: r0..r9; r10..r19 with r3 deleted and r5 replaced; r20..r29. */
static void make_store(const char *path, int codec)
{
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 4096;
    o.block_size = 1024;
    o.codec = codec;
    vls_store *s;
    memset(st1, 0, sizeof st1);
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    for (int i = 0; i < 10; i++)
        put_rec(s, st1, i, (uint64_t)i, len_of(i));
    CHECK_OK(s, vls_commit(s));
    memcpy(st2, st1, sizeof st1);
    for (int i = 10; i < 20; i++)
        put_rec(s, st2, i, (uint64_t)i, len_of(i));
    CHECK_OK(s, vls_delete_str(s, "r3"));
    st2[3].present = 0;
    put_rec(s, st2, 5, 105, 1234);
    CHECK_OK(s, vls_commit(s));
    memcpy(st3, st2, sizeof st2);
    for (int i = 20; i < 30; i++)
        put_rec(s, st3, i, (uint64_t)i, len_of(i));
    CHECK_OK(s, vls_close(s));
    load(path);
}

/* ---- where the structures are (found the way a reader of docs/FORMAT.md would) ---- */
typedef struct {
    size_t off;
    fmt_segment h;
} seg_t;
static seg_t segs[64];
static size_t nsegs, frames[256], nframes;

static void locate(void)
{
    nsegs = nframes = 0;
    for (size_t p = FMT_HEADER_SIZE; p + FMT_FRAME_HDR_SIZE <= orig_len; p += 8) {
        fmt_frame f;
        if (p + FMT_SEG_HDR_SIZE <= orig_len && nsegs < 64 &&
            fmt_segment_decode(orig + p, &segs[nsegs].h) == VLS_OK) {
            segs[nsegs++].off = p;
            p = (size_t)align8(p + FMT_SEG_HDR_SIZE + segs[nsegs - 1].h.stored_size) - 8;
        } else if (fmt_frame_decode(orig + p, &f) == VLS_OK && nframes < 256) {
            frames[nframes++] = p;
            p = (size_t)align8(p + FMT_FRAME_HDR_SIZE + f.payload_size) - 8;
        }
    }
}

/* Recovers `bad` into `out` and checks that `out` holds exactly `want` (present 1: must be
 * there with these bytes; 2: may be lost, but if it is there, with these bytes; 0: absent). */
static int recover_exact(const char *bad, const char *out, const want_t *want,
                         vls_recover_stats *st)
{
    unlink(out);
    report_len = 0;
    report[0] = 0;
    int rc = vls_recover(bad, out, collect, NULL, st);
    CHECK_OK(NULL, rc);
    if (rc != VLS_OK)
        return 0;
    vls_store *s;
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    if (!s)
        return 0;
    int ok = 1;
    uint64_t present = 0;
    static unsigned char got[10000], exp[10000];
    for (int i = 0; i < NKEYS; i++) {
        char key[16];
        size_t len = 0;
        snprintf(key, sizeof key, "r%d", i);
        int grc = vls_get_str(s, key, got, sizeof got, &len);
        if (!want[i].present) {
            if (grc != VLS_E_NOTFOUND) {
                fprintf(stderr, "  %s: should be absent, get gave %d\n", key, grc);
                ok = 0;
            }
            continue;
        }
        if (want[i].present == 2 && grc == VLS_E_NOTFOUND) /* may be lost */
            continue;
        present++;
        test_fill(exp, want[i].len, want[i].seed, (int)(want[i].seed % 2));
        if (grc != VLS_OK || len != want[i].len || memcmp(got, exp, len) != 0) {
            fprintf(stderr, "  %s: %s\n", key, grc != VLS_OK ? "missing" : "wrong bytes");
            ok = 0;
        }
    }
    ok &= vls_count(s) == present;
    ok &= vls_verify(s, NULL, NULL, NULL) == VLS_OK;
    vls_close(s);
    CHECK(st->records == present);
    if (!ok)
        fprintf(stderr, "report was:\n%s", report);
    return ok;
}

static void damage_cases(const char *path, const char *bad, const char *out)
{
    vls_recover_stats st;
    unsigned char *copy = malloc(orig_len);
    locate();
    CHECK(nsegs == 3);
    if (nsegs != 3)
        return;
    size_t s1 = segs[0].off, s2 = segs[1].off, s3 = segs[2].off;

    /* A. intact: everything, nothing lost */
    CHECK(recover_exact(path, out, st3, &st));
    CHECK(st.lost == 0 && st.records_lost == 0 && st.segments == 3);

    /* B. a byte flipped inside a chunk of commit 2: the chunk fails its checksum, its
     * records are read block by block and kept when their hash matches. Recover salvages at
     * least what the normal reader can still read (exactly that for raw chunks, where the
     * normal reader copies ranges too), and names each record it lost. */
    size_t fr = 0;
    for (size_t k = 0; k < nframes && !fr; k++)
        if (frames[k] > s1 && frames[k] < s2)
            fr = frames[k];
    CHECK(fr != 0);
    fmt_frame fh;
    fmt_frame_decode(orig + fr, &fh);
    memcpy(copy, orig, orig_len);
    copy[fr + FMT_FRAME_HDR_SIZE + fh.payload_size / 2] ^= 0x40;
    write_file(bad, copy, orig_len);
    want_t w[NKEYS];
    memcpy(w, st3, sizeof w);
    int unreadable = 0;
    vls_store *s;
    CHECK_OK(NULL, vls_open(bad, VLS_RDONLY, NULL, &s));
    for (int i = 0; s && i < NKEYS; i++) {
        char key[16];
        unsigned char tmp[10000];
        size_t len;
        snprintf(key, sizeof key, "r%d", i);
        if (w[i].present && vls_get_str(s, key, tmp, sizeof tmp, &len) != VLS_OK) {
            w[i].present = fh.codec == FMT_CODEC_RAW ? 0 : 2;
            unreadable++;
        }
    }
    vls_close(s);
    CHECK(unreadable > 0);
    CHECK(recover_exact(bad, out, w, &st));
    int live = 0;
    for (int i = 0; i < NKEYS; i++)
        live += st3[i].present;
    CHECK(st.records + st.records_lost == (uint64_t)live && st.chunks_damaged == 1);
    CHECK(st.records_lost <= (uint64_t)unreadable && st.lost == st.records_lost);
    if (fh.codec == FMT_CODEC_RAW)
        CHECK(st.records_lost == (uint64_t)unreadable);
    CHECK(strstr(report, "checksum mismatch") != NULL);
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    for (int i = 0; s && i < NKEYS; i++) {
        char key[16], name[20];
        snprintf(key, sizeof key, "r%d", i);
        snprintf(name, sizeof name, "\"r%d\"", i);
        if (st3[i].present && test_has_key(s, key) != 1)
            CHECK(strstr(report, name) != NULL); /* every lost record is named */
    }
    vls_close(s);

    /* C. the newest trailer zeroed: the normal reader falls back to commit 2; recover finds
     * commit 3's segment and loses nothing */
    memcpy(copy, orig, orig_len);
    memset(copy + orig_len - FMT_TRAILER_SIZE, 0, FMT_TRAILER_SIZE);
    write_file(bad, copy, orig_len);
    CHECK(recover_exact(bad, out, st3, &st));
    CHECK(st.lost == 0);
    CHECK(strstr(report, "no valid commit trailer") != NULL);

    /* D. truncated tails: inside the trailer (nothing lost), inside the newest segment and
     * inside a chunk of commit 3 (commit 3's records lost: their keys were in that segment) */
    write_file(bad, orig, orig_len - 10);
    CHECK(recover_exact(bad, out, st3, &st));
    CHECK(st.lost == 0);
    write_file(bad, orig, s3 + 20);
    CHECK(recover_exact(bad, out, st2, &st));
    CHECK(st.unnamed_chunks > 0 && st.lost > 0 && st.segments == 2);
    CHECK(strstr(report, "cannot be named") != NULL);
    size_t cut = 0;
    for (size_t k = 0; k < nframes; k++)
        if (frames[k] > s2 && frames[k] < s3)
            cut = frames[k] + 40;
    CHECK(cut != 0);
    write_file(bad, orig, cut);
    CHECK(recover_exact(bad, out, st2, &st));
    CHECK(st.unnamed_chunks > 0 && st.lost > 0);

    /* E. the newest index segment's payload damaged: the normal open fails; recover gives
     * commit 2's state and reports commit 3 as lost */
    memcpy(copy, orig, orig_len);
    copy[s3 + FMT_SEG_HDR_SIZE + 5] ^= 1;
    write_file(bad, copy, orig_len);
    CHECK(vls_open(bad, VLS_RDONLY, NULL, &s) == VLS_E_CHECKSUM);
    CHECK(recover_exact(bad, out, st2, &st));
    CHECK(st.segments_lost == 1 && st.lost > 0);
    CHECK(strstr(report, "offset") != NULL && strstr(report, "are lost") != NULL);

    /* F, G. commit 2's segment damaged (payload, then header), commit 3's intact: commit 2's
     * changes are lost (r10..r19 unnamed, r3 back, r5 in its first version), but commit 3's
     * records still read right: its chunks keep their logical offsets */
    want_t fg[NKEYS];
    memcpy(fg, st1, sizeof fg);
    for (int i = 20; i < 30; i++)
        fg[i] = st3[i];
    memcpy(copy, orig, orig_len);
    copy[s2 + FMT_SEG_HDR_SIZE + 3] ^= 0x10;
    write_file(bad, copy, orig_len);
    CHECK(recover_exact(bad, out, fg, &st));
    CHECK(st.segments_lost == 1 && st.segments == 2);
    memcpy(copy, orig, orig_len);
    copy[s2 + 41] ^= 0x01; /* payload_hash field: the header checksum fails */
    write_file(bad, copy, orig_len);
    CHECK(recover_exact(bad, out, fg, &st));
    CHECK(st.segments_lost == 1 && st.segments == 2);

    /* H. the file header damaged: default settings, every record */
    memcpy(copy, orig, orig_len);
    copy[20] ^= 0xff;
    write_file(bad, copy, orig_len);
    CHECK(recover_exact(bad, out, st3, &st));
    CHECK(st.lost == 0);
    CHECK(strstr(report, "header") != NULL);

    /* I. every index segment destroyed: no key survives, nothing can be named */
    memcpy(copy, orig, orig_len);
    for (size_t k = 0; k < nsegs; k++)
        memset(copy + segs[k].off, 0, 8);
    write_file(bad, copy, orig_len);
    want_t none[NKEYS];
    memset(none, 0, sizeof none);
    CHECK(recover_exact(bad, out, none, &st));
    CHECK(st.unnamed_chunks == nframes && st.lost > 0);
    CHECK(strstr(report, "no index segment survived") != NULL);

    /* J. not a store; K. OUT exists (and is left alone) */
    write_file(bad, (const unsigned char *)"hello, world\n", 13);
    unlink(out);
    CHECK_RC(NULL, vls_recover(bad, out, NULL, NULL, &st), VLS_E_BADMAGIC);
    struct stat sb;
    CHECK(stat(out, &sb) != 0);
    write_file(out, (const unsigned char *)"keep", 4);
    CHECK_RC(NULL, vls_recover(path, out, NULL, NULL, &st), VLS_E_EXISTS);
    CHECK(stat(out, &sb) == 0 && sb.st_size == 4);
    unlink(out);
    free(copy);
}

/* M. many commits, so the history holds several full segments: with the newest full one
 * damaged, replay starts at the one before and only that commit's records are lost. */
static void older_full_case(const char *path, const char *out)
{
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 4096;
    o.block_size = 1024;
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    unsigned char val[40];
    enum { COMMITS = 60, PER = 60 };
    for (int c = 0; c < COMMITS; c++) {
        for (int i = 0; i < PER; i++) {
            char key[64];
            snprintf(key, sizeof key, "commit-%02d/record-%02d-with-a-long-key-name", c, i);
            test_fill(val, sizeof val, (uint64_t)(c * PER + i), 0);
            CHECK_OK(s, vls_put_str(s, key, val, sizeof val, 0));
        }
        CHECK_OK(s, vls_commit(s));
    }
    CHECK_OK(s, vls_close(s));
    load(path);
    locate();
    size_t fulls = 0, newest = 0;
    for (size_t k = 0; k < nsegs; k++)
        if (segs[k].h.flags & FMT_SEG_FULL) {
            fulls++;
            newest = k;
        }
    CHECK(fulls >= 2 && newest > 0);
    int lost_commit = (int)segs[newest].h.seq - 1; /* commits counted from 0 here */
    orig[segs[newest].off + FMT_SEG_HDR_SIZE + 1] ^= 0x08;
    const char *bad = test_path("recover-full-bad");
    write_file(bad, orig, orig_len);
    vls_recover_stats st;
    unlink(out);
    CHECK_OK(NULL, vls_recover(bad, out, NULL, NULL, &st));
    CHECK(st.segments_lost == 1 && st.records == (uint64_t)(COMMITS - 1) * PER);
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    long wrong = 0;
    for (int c = 0; s && c < COMMITS; c++)
        for (int i = 0; i < PER; i++) {
            char key[64];
            unsigned char got[64];
            size_t len;
            snprintf(key, sizeof key, "commit-%02d/record-%02d-with-a-long-key-name", c, i);
            test_fill(val, sizeof val, (uint64_t)(c * PER + i), 0);
            int rc = vls_get_str(s, key, got, sizeof got, &len);
            if (c == lost_commit)
                wrong += rc != VLS_E_NOTFOUND;
            else
                wrong += rc != VLS_OK || len != sizeof val || memcmp(got, val, len) != 0;
        }
    CHECK(wrong == 0);
    vls_close(s);
    printf("older full segment: %zu full segments in %zu; the newest damaged, %llu records "
           "recovered, the %d of commit %d lost\n", fulls, nsegs,
           (unsigned long long)st.records, PER, lost_commit + 1);
    unlink(bad);
    unlink(out);
}

/* The other paths: a record bigger than recover's buffer (checked, then copied, in pieces),
 * intact and damaged; binary keys in the report; more findings than the report lists; a
 * segment whose header verifies but whose sizes are absurd; a newer format version; bad
 * arguments; the new store failing to write (no space): an error, and no OUT left. */
static void other_paths(const char *path, const char *bad, const char *out)
{
    vls_options o;
    vls_options_init(&o);
    o.codec = VLS_CODEC_LZ4;
    vls_store *s;
    vls_recover_stats st;
    size_t big = (size_t)17 << 20; /* just above recover's 16 MiB buffer */
    unsigned char *buf = malloc(big), *got;
    size_t len;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    test_fill(buf, big, 77, 1);
    CHECK_OK(s, vls_put_str(s, "big-intact", buf, big, 0));
    test_fill(buf, big, 78, 1);
    CHECK_OK(s, vls_put_str(s, "big-damaged", buf, big, 0));
    static const unsigned char binkey[] = {'b', 0, 0xff, '"', '\\'};
    CHECK_OK(s, vls_put(s, binkey, sizeof binkey, "v", 1, 0));
    CHECK_OK(s, vls_close(s));
    load(path);
    locate();
    /* damage the first chunk of big-damaged (frames: 5 of big-intact, then its own) */
    CHECK(nframes >= 10);
    if (nframes >= 10)
        orig[frames[6] + FMT_FRAME_HDR_SIZE + 100] ^= 0x01;
    /* and the tiny last chunk holding the binary key */
    orig[frames[nframes - 1] + FMT_FRAME_HDR_SIZE] ^= 0x01;
    write_file(bad, orig, orig_len);
    report_len = 0;
    unlink(out);
    CHECK_OK(NULL, vls_recover(bad, out, collect, NULL, &st));
    CHECK(st.records == 1 && st.records_lost == 2);
    CHECK(strstr(report, "\"big-damaged\"") != NULL);
    CHECK(strstr(report, "\"b\\x00\\xff\\x22\\x5c\"") != NULL);
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    CHECK_OK(s, vls_get_alloc(s, "big-intact", 10, (void **)&got, &len));
    test_fill(buf, big, 77, 1);
    CHECK(len == big && memcmp(got, buf, big) == 0);
    vls_free(got);
    vls_close(s);

    /* the new store cannot be written: for every N, the Nth write or sync fails */
    o.codec = VLS_CODEC_LZ4;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    for (int i = 0; i < 5; i++)
        CHECK_OK(s, vls_put_str(s, i ? "some" : "more", "bytes", 5, 0));
    CHECK_OK(s, vls_close(s));
    long cases = 0;
    for (long nth = 1; nth < 1000; nth++) {
        unlink(out);
        io_fault_set(nth, ENOSPC, 0, 0);
        int rc = vls_recover(path, out, NULL, NULL, &st);
        long calls = io_fault_calls();
        io_fault_set(0, 0, 0, 0);
        cases++;
        if (rc == VLS_OK && calls < nth)
            break;
        if (rc == VLS_OK) /* only a directory sync or a clean-up failed */
            continue;
        CHECK(rc == VLS_E_NOSPC || rc == VLS_E_IO);
        CHECK(vls_errmsg(NULL)[0] != 0);
        CHECK(access(out, F_OK) != 0); /* no half-written OUT */
    }
    CHECK(cases > 3);

    /* more than 200 findings: the report says the rest are not listed */
    o.codec = VLS_CODEC_NONE;
    o.placement = VLS_PLACE_START;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s));
    for (int i = 0; i < 250; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(s, vls_put_str(s, key, "0123456789", 10, 0));
    }
    CHECK_OK(s, vls_close(s));
    load(path);
    locate();
    for (size_t k = 0; k < nframes; k++)
        orig[frames[k] + FMT_FRAME_HDR_SIZE] ^= 0x01;
    write_file(bad, orig, orig_len);
    report_len = 0;
    unlink(out);
    CHECK_OK(NULL, vls_recover(bad, out, collect, NULL, &st));
    CHECK(st.records_lost == 250 && st.chunks_damaged == 250);
    CHECK(strstr(report, "further findings are not listed") != NULL);
    CHECK(strstr(report, "250 records lost in all") == NULL); /* beyond the listed ones */

    /* a segment whose header checksum is right but whose sizes are not */
    load(path);
    locate();
    CHECK(nsegs == 1);
    fmt_segment h = segs[0].h;
    h.raw_size = h.stored_size + 1; /* uncompressed: the two must be equal */
    fmt_segment_encode(&h, orig + segs[0].off);
    write_file(bad, orig, orig_len);
    unlink(out);
    CHECK_OK(NULL, vls_recover(bad, out, NULL, NULL, &st));
    CHECK(st.segments_lost == 1 && st.records == 0 && st.lost > 0);

    /* a newer format (the header's checksum is right): not ours to salvage */
    fmt_header fh;
    char msg[200];
    load(path);
    CHECK(fmt_header_decode(orig, &fh, msg, sizeof msg) == VLS_OK);
    fh.version = 2;
    fmt_header_encode(&fh, orig);
    write_file(bad, orig, orig_len);
    unlink(out);
    CHECK_RC(NULL, vls_recover(bad, out, NULL, NULL, &st), VLS_E_VERSION);
    CHECK(access(out, F_OK) != 0);

    /* arguments */
    CHECK_RC(NULL, vls_recover(NULL, out, NULL, NULL, NULL), VLS_E_INVAL);
    CHECK_RC(NULL, vls_recover(bad, NULL, NULL, NULL, NULL), VLS_E_INVAL);
    unlink(bad);
    CHECK_RC(NULL, vls_recover(bad, out, NULL, NULL, NULL), VLS_E_NOTFOUND);
    free(buf);
    unlink(out);
}

/* Random flips: whatever recover writes is a version that was put under that key, and every
 * record the normal reader returns intact is among what recover salvages. */
static void flip_property(const char *bad, const char *out, int every)
{
    unsigned char *copy = malloc(orig_len);
    static unsigned char got[10000], exp[10000], exp2[10000];
    uint64_t rng = 42;
    long cases = 0, wrong = 0, missed = 0, salvaged = 0;
    size_t n = every ? orig_len : 300;
    for (size_t c = 0; c < n; c++) {
        size_t at = every ? c : (size_t)(test_rand(&rng) % orig_len);
        memcpy(copy, orig, orig_len);
        copy[at] ^= (unsigned char)(1u << (test_rand(&rng) % 8));
        write_file(bad, copy, orig_len);
        unlink(out);
        vls_recover_stats st;
        int rc = vls_recover(bad, out, NULL, NULL, &st);
        cases++;
        if (rc != VLS_OK) {
            wrong++;
            continue;
        }
        vls_store *r, *s = NULL;
        if (vls_open(out, VLS_RDONLY, NULL, &r) != VLS_OK) {
            wrong++;
            continue;
        }
        if (vls_open(bad, VLS_RDONLY, NULL, &s) != VLS_OK)
            s = NULL;
        for (int i = 0; i < NKEYS; i++) {
            char key[16];
            size_t len, len2;
            snprintf(key, sizeof key, "r%d", i);
            int rrc = vls_get_str(r, key, got, sizeof got, &len);
            if (rrc == VLS_OK) {
                salvaged++;
                /* any version ever put under the key: commit 1's or commit 2's r5 */
                test_fill(exp, len_of(i), (uint64_t)i, i % 2);
                int match = len == len_of(i) && memcmp(got, exp, len) == 0;
                if (i == 5) {
                    test_fill(exp2, 1234, 105, 1);
                    match |= len == 1234 && memcmp(got, exp2, len) == 0;
                }
                wrong += !match;
            }
            if (s && vls_get_str(s, key, exp, sizeof exp, &len2) == VLS_OK)
                missed += rrc != VLS_OK || len != len2 || memcmp(got, exp, len) != 0;
        }
        vls_close(s);
        vls_close(r);
    }
    printf("random flips: %ld recoveries, %ld records salvaged, wrong bytes %ld, records the "
           "normal reader returns but recover missed %ld\n", cases, salvaged, wrong, missed);
    CHECK(wrong == 0);
    CHECK(missed == 0);
    free(copy);
}

int main(void)
{
    const char *path = test_path("recover"), *bad = test_path("recover-bad"),
               *out = test_path("recover-out");
    int every = getenv("VLS_TEST_LONG") != NULL;
    static const int codecs[] = {VLS_CODEC_ZSTD, VLS_CODEC_NONE};
    for (size_t c = 0; c < 2; c++) {
        make_store(path, codecs[c]);
        damage_cases(path, bad, out);
        flip_property(bad, out, every);
    }
    older_full_case(path, out);
    other_paths(path, bad, out);
    unlink(path);
    unlink(bad);
    unlink(out);
    free(orig);
    return test_done("test_recover");
}
