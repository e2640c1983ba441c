/* test_power_loss — a power loss never loses a completed commit and never turns unsynced
 * garbage into data.
 *
 * A shim on src/io.c's trace hook (io_trace_set) sees every write and sync the library makes
 * to the store file. It keeps the bytes as of the last sync (what a power loss cannot take
 * away) apart from the writes made since (which it can: drop, keep, reorder, tear, or replace
 * with garbage). Just before each sync, and at the end, it builds crash states from them:
 *   - all unsynced writes dropped;
 *   - all kept;
 *   - random subsets kept (each write kept or dropped by a coin flip);
 *   - a torn write: the writes before a random one kept, that one cut after a random number
 *     of bytes (or 512-byte sectors), the later ones dropped;
 *   - the unsynced region zero-filled (the file grew but its data never reached the disk);
 *   - random 512-byte sectors of the unsynced region replaced with garbage (over a random
 *     subset of writes).
 * Bytes already synced are never touched (the "powersafe overwrite" assumption SQLite also
 * makes: writing a sector does not damage the sectors around it).
 *
 * Each state is written to a scratch file and opened in a fresh handle. It must open, and
 * read exactly as the last completed commit or the commit in progress: every record of the
 * last completed commit there, byte for byte (get, get_many, verify), nothing else. Every 4th
 * state is then reopened for writing, given a record, committed and checked again.
 *
 * The shim also checks the ordering that makes creation and compaction power-safe: a file is
 * linked or renamed into place only when none of its writes is unsynced.
 * Short by default; VLS_TEST_LONG=1 runs more commits, more states per sync and more seeds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "testutil.h"

#define NK 48

typedef struct {
    int present[NK];
    uint64_t seed[NK];
    size_t len[NK];
} model;

typedef struct {
    uint64_t off;
    size_t len;
    unsigned char *data;
} pwrite_rec;

/* the shim's view of the store file */
static dev_t st_dev;
static ino_t st_ino;
static unsigned char *durable;
static uint64_t durable_len, durable_cap;
static pwrite_rec *pend;
static size_t npend, pend_cap;
static int in_callback;

/* what the store must read as */
static model committed, inflight;
static const char *path, *scratch;
static uint64_t rng;
static int states_per_sync = 6;

/* figures */
static long sync_points, states, opened_as_committed, opened_as_inflight, bad_states,
    rewritten, lost_records, garbage_returned, order_checks, order_violations;
static long kind_count[6];
static const char *kind_name[6] = {"all dropped", "all kept", "random subset", "torn write",
                                   "zero-filled", "garbage sectors"};

/* unsynced write counts of other files (temporaries before their link or rename) */
static struct {
    dev_t dev;
    ino_t ino;
    long unsynced;
} others[64];
static int nothers;

static void key_of(int k, char *key)
{
    snprintf(key, 8, "p%02d", k);
}

static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
    test_fill(buf, len, seed, (int)(seed & 1));
}

/* ---- checking one crash state ------------------------------------------------------------- */
static void ignore_torn_tail(void *ctx, const char *what)
{
    if (!strstr(what, "after the last valid commit"))
        ++*(long *)ctx;
}

/* 1 if the store at p reads exactly as m (records, bytes, batched reads, verify). */
static int reads_as(vls_store *s, const model *m)
{
    int np = 0;
    for (int k = 0; k < NK; k++)
        np += m->present[k];
    if (vls_count(s) != (uint64_t)np)
        return 0;
    vls_key keys[NK];
    char names[NK][8];
    vls_span spans[NK];
    int ok = 1;
    for (int k = 0; k < NK && ok; k++) {
        key_of(k, names[k]);
        keys[k].data = names[k];
        keys[k].len = 3;
        void *got = NULL;
        size_t len = 0;
        int rc = vls_get_alloc(s, names[k], 3, &got, &len);
        if (!m->present[k]) {
            ok = rc == VLS_E_NOTFOUND;
        } else if (rc != VLS_OK || len != m->len[k]) {
            ok = 0;
        } else {
            unsigned char *want = malloc(len ? len : 1);
            fill(want, len, m->seed[k]);
            ok = memcmp(got, want, len) == 0;
            if (!ok)
                garbage_returned++;
            free(want);
        }
        vls_free(got);
    }
    if (!ok)
        return 0;
    uint64_t total = 0;
    vls_get_many_size(s, NK, keys, &total);
    unsigned char *all = malloc(total ? total : 1);
    vls_get_many(s, NK, keys, all, total, spans, NULL);
    for (int k = 0; k < NK && ok; k++) {
        if (!m->present[k]) {
            ok = spans[k].status == VLS_E_NOTFOUND;
            continue;
        }
        unsigned char *want = malloc(m->len[k] ? m->len[k] : 1);
        fill(want, m->len[k], m->seed[k]);
        ok = spans[k].status == VLS_OK && spans[k].length == m->len[k] &&
             memcmp(all + spans[k].offset, want, m->len[k]) == 0;
        if (!ok && spans[k].status == VLS_OK)
            garbage_returned++;
        free(want);
    }
    free(all);
    long problems = 0;
    vls_verify(s, ignore_torn_tail, &problems, NULL);
    return ok && problems == 0;
}

/* Records of m that the store does not return whole. */
static long count_lost(vls_store *s, const model *m)
{
    long lost = 0;
    for (int k = 0; k < NK; k++) {
        if (!m->present[k])
            continue;
        char key[8];
        void *got = NULL;
        size_t len = 0;
        key_of(k, key);
        int ok = vls_get_alloc(s, key, 3, &got, &len) == VLS_OK && len == m->len[k];
        if (ok) {
            unsigned char *want = malloc(len ? len : 1);
            fill(want, len, m->seed[k]);
            ok = memcmp(want, got, len) == 0;
            free(want);
        }
        vls_free(got);
        lost += !ok;
    }
    return lost;
}

static void check_state(const unsigned char *image, uint64_t len, int kind)
{
    int fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && pwrite(fd, image, len, 0) == (ssize_t)len);
    close(fd);
    states++;
    kind_count[kind]++;
    vls_store *s;
    int rc = vls_open(scratch, VLS_RDONLY, NULL, &s);
    if (rc != VLS_OK) {
        bad_states++;
        fprintf(stderr, "  %s state does not open: %s\n", kind_name[kind], vls_errmsg(NULL));
        return;
    }
    const model *as = NULL;
    if (reads_as(s, &committed)) {
        opened_as_committed++;
        as = &committed;
    } else if (reads_as(s, &inflight)) {
        opened_as_inflight++;
        as = &inflight;
    } else {
        bad_states++;
        lost_records += count_lost(s, &committed);
        fprintf(stderr, "  %s state reads as neither the last commit nor the next (%llu "
                "records)\n", kind_name[kind], (unsigned long long)vls_count(s));
    }
    vls_close(s);
    if (!as || states % 4 != 0)
        return;
    /* the next writer goes on from this state */
    model m = *as;
    CHECK_OK(NULL, vls_open(scratch, VLS_RDWR, NULL, &s));
    if (!s)
        return;
    unsigned char buf[3000];
    fill(buf, sizeof buf, 999);
    CHECK_OK(s, vls_put_str(s, "p47", buf, sizeof buf, 0));
    CHECK_OK(s, vls_close(s));
    m.present[NK - 1] = 1;
    m.len[NK - 1] = sizeof buf;
    m.seed[NK - 1] = 999;
    CHECK_OK(NULL, vls_open(scratch, VLS_RDONLY, NULL, &s));
    if (s) {
        CHECK(reads_as(s, &m));
        vls_close(s);
    }
    rewritten++;
}

/* ---- building crash states ------------------------------------------------------------------ */
static unsigned char *img;
static uint64_t img_cap;

static uint64_t img_reset(void)
{
    uint64_t need = durable_len;
    for (size_t i = 0; i < npend; i++)
        if (pend[i].off + pend[i].len > need)
            need = pend[i].off + pend[i].len;
    if (need + 4096 > img_cap) {
        img_cap = (need + 4096) * 2;
        img = realloc(img, img_cap);
    }
    memcpy(img, durable, durable_len);
    return durable_len;
}

static uint64_t img_apply(uint64_t len, const pwrite_rec *w, size_t n)
{
    if (w->off > len)
        memset(img + len, 0, w->off - len); /* a hole reads as zeros */
    memcpy(img + w->off, w->data, n);
    return w->off + n > len ? w->off + n : len;
}

static void crash_states(void)
{
    sync_points++;
    uint64_t len;
    /* all dropped, all kept */
    len = img_reset();
    check_state(img, len, 0);
    len = img_reset();
    for (size_t i = 0; i < npend; i++)
        len = img_apply(len, &pend[i], pend[i].len);
    check_state(img, len, 1);
    if (npend == 0)
        return;
    uint64_t full_len = len;
    for (int t = 0; t < states_per_sync; t++) {
        /* random subset */
        len = img_reset();
        for (size_t i = 0; i < npend; i++)
            if (test_rand(&rng) & 1)
                len = img_apply(len, &pend[i], pend[i].len);
        check_state(img, len, 2);
        /* torn write */
        len = img_reset();
        size_t at = (size_t)(test_rand(&rng) % npend);
        for (size_t i = 0; i < at; i++)
            len = img_apply(len, &pend[i], pend[i].len);
        size_t cut = (size_t)(test_rand(&rng) % (pend[at].len + 1));
        if (t & 1)
            cut -= cut % 512; /* whole sectors */
        len = img_apply(len, &pend[at], cut);
        check_state(img, len, 3);
        /* zero-filled: the size grew, the data did not arrive */
        if (t == 0) {
            len = img_reset();
            memset(img + durable_len, 0, full_len - durable_len);
            check_state(img, full_len, 4);
        }
        /* garbage sectors over a random subset */
        len = img_reset();
        for (size_t i = 0; i < npend; i++)
            if (test_rand(&rng) % 4)
                len = img_apply(len, &pend[i], pend[i].len);
        if (len < full_len && test_rand(&rng) % 2) {
            memset(img + len, 0, full_len - len);
            len = full_len;
        }
        int nsec = 1 + (int)(test_rand(&rng) % 4);
        for (int g = 0; g < nsec && len > durable_len; g++) {
            uint64_t sec = durable_len + test_rand(&rng) % (len - durable_len);
            sec -= sec % 512;
            uint64_t from = sec < durable_len ? durable_len : sec; /* never the synced bytes */
            uint64_t to = sec + 512 < len ? sec + 512 : len;
            for (uint64_t b = from; b < to; b++)
                img[b] = (unsigned char)test_rand(&rng);
        }
        check_state(img, len, 5);
    }
}

/* ---- the shim ----------------------------------------------------------------------------- */
static int is_store_fd(int fd, struct stat *st)
{
    return fd >= 0 && fstat(fd, st) == 0 && st->st_dev == st_dev && st->st_ino == st_ino;
}

static long *other_unsynced(dev_t dev, ino_t ino)
{
    for (int i = 0; i < nothers; i++)
        if (others[i].dev == dev && others[i].ino == ino)
            return &others[i].unsynced;
    if (nothers == 64)
        nothers = 0;
    others[nothers].dev = dev;
    others[nothers].ino = ino;
    others[nothers].unsynced = 0;
    return &others[nothers++].unsynced;
}

static void shim(void *ctx, int op, int fd, uint64_t off, const void *buf, size_t len,
                 const char *p1, const char *p2)
{
    struct stat st;
    if (in_callback)
        return;
    in_callback = 1;
    if (op == IO_OP_RENAME || op == IO_OP_LINK) {
        /* the file being put in place has no unsynced write */
        if (stat(p1, &st) == 0) {
            order_checks++;
            if (*other_unsynced(st.st_dev, st.st_ino) != 0) {
                order_violations++;
                fprintf(stderr, "  %s put in place with unsynced writes\n", p1);
            }
        }
    } else if (is_store_fd(fd, &st)) {
        if (op == IO_OP_WRITE) {
            if (npend == pend_cap) {
                pend_cap = pend_cap ? 2 * pend_cap : 64;
                pend = realloc(pend, pend_cap * sizeof *pend);
            }
            pend[npend].off = off;
            pend[npend].len = len;
            pend[npend].data = malloc(len ? len : 1);
            memcpy(pend[npend].data, buf, len);
            npend++;
        } else if (op == IO_OP_SYNC) {
            crash_states();
            /* now durable */
            uint64_t end = img_reset();
            for (size_t i = 0; i < npend; i++) {
                end = img_apply(end, &pend[i], pend[i].len);
                free(pend[i].data);
            }
            npend = 0;
            if (end > durable_cap) {
                durable_cap = end * 2;
                durable = realloc(durable, durable_cap);
            }
            memcpy(durable, img, end);
            durable_len = end;
        } else if (op == IO_OP_TRUNCATE) {
            CHECK(0); /* the store never truncates in this workload */
        }
    } else if (fd >= 0 && fstat(fd, &st) == 0) {
        long *u = other_unsynced(st.st_dev, st.st_ino);
        if (op == IO_OP_WRITE)
            ++*u;
        else if (op == IO_OP_SYNC)
            *u = 0;
    }
    in_callback = 0;
}

/* ---- the workload ------------------------------------------------------------------------- */
static void load_file(void)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    durable_len = (uint64_t)ftell(f);
    rewind(f);
    durable_cap = durable_len * 2 + 4096;
    free(durable);
    durable = malloc(durable_cap);
    CHECK(fread(durable, 1, durable_len, f) == durable_len);
    fclose(f);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    st_dev = st.st_dev;
    st_ino = st.st_ino;
    npend = 0;
}

static void run(uint64_t seed, int commits, const vls_options *o)
{
    vls_store *s;
    rng = seed;
    memset(&committed, 0, sizeof committed);
    unlink(path);
    st_dev = 0; /* until load_file: a new file may reuse the old one's inode number */
    st_ino = 0;
    /* creation and a compaction are watched too: the ordering checks */
    io_trace_set(shim, NULL);
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, o, &s));
    CHECK_OK(s, vls_close(s));
    io_trace_set(NULL, NULL);
    load_file();
    io_trace_set(shim, NULL);
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
    inflight = committed;
    unsigned char *buf = malloc(300000);
    for (int c = 0; c < commits; c++) {
        int n = 1 + (int)(test_rand(&rng) % 5);
        for (int i = 0; i < n; i++) {
            int k = (int)(test_rand(&rng) % (NK - 1));
            char key[8];
            key_of(k, key);
            if (inflight.present[k] && test_rand(&rng) % 4 == 0) {
                CHECK_OK(s, vls_delete_str(s, key));
                inflight.present[k] = 0;
                continue;
            }
            uint64_t r = test_rand(&rng);
            size_t len = r % 8 == 0 ? (size_t)(r >> 8) % 200000 : (size_t)(r >> 8) % 6000;
            uint64_t vseed = test_rand(&rng);
            fill(buf, len, vseed);
            CHECK_OK(s, vls_put_str(s, key, buf, len, 0));
            inflight.present[k] = 1;
            inflight.len[k] = len;
            inflight.seed[k] = vseed;
        }
        CHECK_OK(s, vls_commit(s));
        committed = inflight;
    }
    /* a power loss after the last commit, with puts not yet committed (some in written
     * chunks), then the commit that close makes */
    for (int i = 0; i < 3; i++) {
        int k = (int)(test_rand(&rng) % (NK - 1));
        char key[8];
        key_of(k, key);
        size_t len = 70000 + (size_t)i;
        uint64_t vseed = test_rand(&rng);
        fill(buf, len, vseed);
        CHECK_OK(s, vls_put_str(s, key, buf, len, 0));
        inflight.present[k] = 1;
        inflight.len[k] = len;
        inflight.seed[k] = vseed;
    }
    crash_states();
    free(buf);
    CHECK_OK(s, vls_close(s));
    committed = inflight;
    io_trace_set(NULL, NULL);
    for (size_t i = 0; i < npend; i++)
        free(pend[i].data);
    npend = 0;
    /* compaction in place: its temporary is synced before the rename */
    io_trace_set(shim, NULL);
    CHECK_OK(NULL, vls_compact_file(path, NULL));
    io_trace_set(NULL, NULL);
}

int main(void)
{
    path = test_path("powerloss");
    scratch = test_path("powerloss-state");
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    int seeds = long_run ? 12 : 3, commits = long_run ? 40 : 16;
    states_per_sync = long_run ? 8 : 3;
    if (getenv("VLS_POWER_SEEDS"))
        seeds = atoi(getenv("VLS_POWER_SEEDS"));
    static const int codecs[] = {VLS_CODEC_LZ4, VLS_CODEC_ZSTD, VLS_CODEC_NONE};
    for (int i = 0; i < seeds; i++) {
        vls_options o;
        vls_options_init(&o);
        o.codec = codecs[i % 3];
        o.chunk_size = i % 2 ? 65536 : 16384;
        o.block_size = 4096;
        o.placement = i % 4 == 3 ? VLS_PLACE_CONTIGUOUS : VLS_PLACE_NOCROSS;
        run(0x5eed0000 + (uint64_t)i, commits, &o);
        if (long_run)
            printf("  seed %d: %ld crash states so far\n", i, states);
    }
    printf("%ld sync points, %ld crash states:", sync_points, states);
    for (int k = 0; k < 6; k++)
        printf(" %s %ld%s", kind_name[k], kind_count[k], k < 5 ? "," : "\n");
    printf("opened as the last completed commit %ld, as the commit in progress %ld, as neither "
           "%ld; records lost %ld, garbage returned as data %ld; %ld states reopened, written "
           "and checked; %ld link/rename ordering checks, %ld violations\n",
           opened_as_committed, opened_as_inflight, bad_states, lost_records, garbage_returned,
           rewritten, order_checks, order_violations);
    CHECK(bad_states == 0);
    CHECK(lost_records == 0);
    CHECK(garbage_returned == 0);
    CHECK(order_violations == 0);
    CHECK(order_checks > 0);
    unlink(path);
    unlink(scratch);
    free(durable);
    free(img);
    free(pend);
    return test_done("test_power_loss");
}
