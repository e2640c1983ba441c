/* test_crash_points — a crash at every point of every writing operation leaves the store as it
 * was before the operation or as it is after it, never a mix.
 *
 * Every call that changes the disk (write, sync, rename, link, unlink, directory sync) is
 * numbered by src/io.c. For each operation (create, create + first commit, append with two
 * commits, reopen-append over a torn tail, delete, start over with VLS_TRUNCATE, compact to a
 * new file, compact a file to another path, compact a file in place) and for every N: restore
 * the starting file,
 * simulate the process dying just before call N (io_crash_set: call N and all later ones never
 * reach the disk), and also with call N torn (half of its bytes written); then open the files
 * in a fresh handle and compare their whole content with the states the operation goes
 * through (e.g. before, after the first commit, after the second). The state must be one of
 * them and, as N grows, never go back to an earlier one. "Crash after call N" is "crash before
 * call N+1", so N runs to the number of calls + 1 (the operation then completes).
 *
 * Each crashed state is then reopened for writing, given one more record and reopened again:
 * a torn tail never stops the next writer. Temporary files: PATH.tmp-create-PID (64 bytes, left
 * by a crash during a create) is ignored: never read, the store opens without it;
 * PATH.tmp-compact-PID (left by a crash during an in-place compaction) is removed by the next
 * vls_compact_file() of PATH, which this test runs and checks. VLS_TEST_LONG=1 repeats the
 * whole set with other codecs, placements and chunk sizes. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "testutil.h"

#define NK 24 /* keys k00 .. k23 */

typedef struct {
    int exists;     /* 0: the file must not exist */
    uint64_t size;  /* file size this state has (0: any) */
    int present[NK];
    uint64_t seed[NK];
    size_t len[NK];
} model;

static vls_options opts;
static size_t scale = 1; /* record sizes are multiplied by it */
static const char *path, *out;
static long cases, reopen_writes, tmp_create_seen, tmp_compact_seen, tmp_compact_removed;
static long state_hist[4], torn_tails, unnoticed;

static void key_of(int k, char *buf)
{
    snprintf(buf, 8, "k%02d", k);
}

static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
    test_fill(buf, len, seed, (int)(seed & 1));
}

static void m_put(model *m, int k, size_t len, uint64_t seed)
{
    m->present[k] = 1;
    m->len[k] = len * scale;
    m->seed[k] = seed;
}

/* store-side put that matches m_put */
static int s_put(vls_store *s, int k, size_t len, uint64_t seed)
{
    char key[8];
    len *= scale;
    unsigned char *buf = malloc(len ? len : 1);
    key_of(k, key);
    fill(buf, len, seed);
    int rc = vls_put_str(s, key, buf, len, 0);
    free(buf);
    return rc;
}

/* ---- files ------------------------------------------------------------------------------ */
static unsigned char *read_file(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len ? *len : 1);
    if (fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void write_file(const char *p, const unsigned char *b, size_t len)
{
    unlink(p);
    if (!b)
        return;
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(b, 1, len, f) == len);
    if (f)
        fclose(f);
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Counts (and removes when `remove`) leftover temporary files of p; kind is "create" or
 * "compact". */
static int count_temps(const char *p, const char *kind, int remove)
{
    char dir[PATH_MAX], pre[PATH_MAX], full[PATH_MAX * 2];
    const char *slash = strrchr(p, '/');
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - p), p);
    snprintf(pre, sizeof pre, "%s.tmp-%s-", slash + 1, kind);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, pre, strlen(pre)) != 0)
            continue;
        n++;
        if (remove) {
            snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
            unlink(full);
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- comparing a file with the states ---------------------------------------------------- */
/* vls_verify reports bytes after the last commit (a torn tail) as a problem: expected after a
 * crash. Any other problem counts. */
static void count_problem(void *ctx, const char *what)
{
    if (!strstr(what, "after the last valid commit"))
        ++*(long *)ctx;
    else
        torn_tails++;
}

/* Returns the index of the state in st[0..n) that the file at p is exactly in, or -1. */
static int identify(const char *p, const model *st, int n)
{
    vls_store *s;
    int rc = vls_open(p, VLS_RDONLY, NULL, &s);
    if (rc != VLS_OK) {
        for (int j = 0; j < n; j++)
            if (!st[j].exists && rc == VLS_E_NOTFOUND)
                return j;
        fprintf(stderr, "  %s does not open: %s\n", p, vls_errmsg(NULL));
        return -1;
    }
    int match[4] = {1, 1, 1, 1};
    uint64_t fsize = file_size(p);
    for (int j = 0; j < n; j++) {
        int np = 0;
        for (int k = 0; k < NK; k++)
            np += st[j].present[k];
        match[j] = st[j].exists && (!st[j].size || st[j].size == fsize) &&
                   vls_count(s) == (uint64_t)np;
    }
    vls_key keys[NK];
    char names[NK][8];
    vls_span spans[NK];
    uint64_t total = 0;
    for (int k = 0; k < NK; k++) {
        key_of(k, names[k]);
        keys[k].data = names[k];
        keys[k].len = 3;
        void *got = NULL;
        size_t len = 0;
        rc = vls_get_alloc(s, names[k], 3, &got, &len);
        for (int j = 0; j < n; j++) {
            if (!match[j])
                continue;
            if (!st[j].present[k]) {
                match[j] = rc == VLS_E_NOTFOUND;
                continue;
            }
            if (rc != VLS_OK || len != st[j].len[k]) {
                match[j] = 0;
                continue;
            }
            unsigned char *want = malloc(len ? len : 1);
            fill(want, len, st[j].seed[k]);
            match[j] = memcmp(want, got, len) == 0;
            free(want);
        }
        vls_free(got);
    }
    /* the batched path and the verifier agree */
    rc = vls_get_many_size(s, NK, keys, &total);
    unsigned char *all = malloc(total ? total : 1);
    rc = vls_get_many(s, NK, keys, all, total, spans, NULL);
    long other_problems = 0;
    vls_verify(s, count_problem, &other_problems, NULL);
    int verify_ok = other_problems == 0;
    for (int j = 0; j < n; j++) {
        if (!match[j])
            continue;
        match[j] = verify_ok;
        for (int k = 0; k < NK && match[j]; k++) {
            if (!st[j].present[k]) {
                match[j] = spans[k].status == VLS_E_NOTFOUND;
                continue;
            }
            unsigned char *want = malloc(st[j].len[k] ? st[j].len[k] : 1);
            fill(want, st[j].len[k], st[j].seed[k]);
            match[j] = spans[k].status == VLS_OK && spans[k].length == st[j].len[k] &&
                       memcmp(all + spans[k].offset, want, st[j].len[k]) == 0;
            free(want);
        }
    }
    free(all);
    int found = -1;
    for (int j = n - 1; j >= 0 && found < 0; j--) /* the latest matching state (compaction's
                                                     states share content, differ by size) */
        if (match[j])
            found = j;
    if (found < 0)
        fprintf(stderr, "  %s opens as none of the %d states (%llu records, %llu bytes, "
                "verify %d)\n", p, n, (unsigned long long)vls_count(s),
                (unsigned long long)fsize, verify_ok);
    vls_close(s);
    return found;
}

/* A writer can continue from the crashed state: add one record, reopen, find it and the rest. */
static void reopen_and_write(const char *p, const model *state)
{
    vls_store *s;
    model m = *state;
    m.size = 0;
    if (vls_open(p, VLS_RDWR, NULL, &s) != VLS_OK) {
        CHECK(0);
        fprintf(stderr, "  reopen for writing: %s\n", vls_errmsg(NULL));
        return;
    }
    CHECK_OK(s, s_put(s, NK - 1, 777, 4242));
    CHECK_OK(s, vls_close(s));
    m_put(&m, NK - 1, 777, 4242);
    CHECK(identify(p, &m, 1) == 0);
    reopen_writes++;
}

/* ---- the operations ----------------------------------------------------------------------- */
typedef struct scenario {
    const char *name;
    int (*op)(void);
    const unsigned char *init; /* path's starting bytes (NULL: no file) */
    size_t init_len;
    const char *watch;         /* the file whose states are listed: path or out */
    int nstates;
    model st[4];
    int path_unchanged;        /* path must keep its starting bytes (compaction to out) */
} scenario;

static int op_create(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE, &opts, &s);
    if (rc == VLS_OK)
        rc = vls_close(s);
    return rc;
}

static int op_create_commit(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE, &opts, &s);
    for (int k = 0; rc == VLS_OK && k < 5; k++)
        rc = s_put(s, k, (size_t)k * 2500, 100 + (uint64_t)k);
    if (rc == VLS_OK)
        rc = vls_commit(s);
    int rc2 = vls_close(s); /* s is NULL when the open failed */
    return rc ? rc : rc2;
}

static int op_append(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_RDWR, NULL, &s);
    if (rc != VLS_OK)
        return rc;
    for (int k = 8; rc == VLS_OK && k < 13; k++)
        rc = s_put(s, k, k == 10 ? 3 * opts.chunk_size + 17 : (size_t)k * 300, 200 + (uint64_t)k);
    if (rc == VLS_OK)
        rc = s_put(s, 1, 1234, 301); /* replace */
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc == VLS_OK)
        rc = s_put(s, 13, 5000, 213);
    if (rc == VLS_OK)
        rc = vls_delete_str(s, "k02");
    if (rc == VLS_OK)
        rc = vls_commit(s);
    int rc2 = vls_close(s);
    return rc ? rc : rc2;
}

static int op_reopen_append(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_RDWR, NULL, &s); /* pads the torn tail to 8 bytes */
    if (rc != VLS_OK)
        return rc;
    rc = s_put(s, 20, 6000, 520);
    if (rc == VLS_OK)
        rc = s_put(s, 21, 0, 521);
    if (rc == VLS_OK)
        rc = vls_commit(s);
    int rc2 = vls_close(s);
    return rc ? rc : rc2;
}

static int op_delete(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_RDWR, NULL, &s);
    if (rc != VLS_OK)
        return rc;
    rc = vls_delete_str(s, "k03");
    if (rc == VLS_OK)
        rc = vls_delete_str(s, "k04");
    if (rc == VLS_OK)
        rc = vls_commit(s);
    int rc2 = vls_close(s);
    return rc ? rc : rc2;
}

static int op_truncate(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_TRUNCATE, &opts, &s);
    if (rc == VLS_OK)
        rc = vls_close(s);
    return rc;
}

static int op_compact(void)
{
    vls_store *s;
    int rc = vls_open(path, VLS_RDONLY, NULL, &s);
    if (rc != VLS_OK)
        return rc;
    rc = vls_compact(s, out);
    vls_close(s);
    return rc;
}

static int op_compact_file_out(void)
{
    return vls_compact_file(path, out);
}

static int op_compact_file(void)
{
    return vls_compact_file(path, NULL);
}

/* Kinds of the calls an operation makes, from a clean run (for the torn variants). */
static int kinds[4096];
static long nkinds;

static void record_kind(void *ctx, int op, int fd, uint64_t off, const void *buf, size_t len,
                        const char *p1, const char *p2)
{
    if (nkinds < (long)(sizeof kinds / sizeof kinds[0]))
        kinds[nkinds] = op;
    nkinds++;
}

static void restore(const scenario *sc)
{
    write_file(path, sc->init, sc->init_len);
    unlink(out);
    count_temps(path, "create", 1);
    count_temps(out, "create", 1);
    count_temps(path, "compact", 1);
}

static void run(const scenario *sc)
{
    /* a clean run: the number of calls, their kinds, and the final state */
    restore(sc);
    nkinds = 0;
    io_trace_set(record_kind, NULL);
    io_crash_set(LONG_MAX, 0);
    int rc = sc->op();
    long total = io_fault_calls();
    io_crash_set(0, 0);
    io_trace_set(NULL, NULL);
    CHECK_OK(NULL, rc);
    CHECK(identify(sc->watch, sc->st, sc->nstates) == sc->nstates - 1);
    long mine = 0, transitions = 0;
    int last = 0;
    for (long n = 1; n <= total + 1; n++) {
        for (int torn = 0; torn < 2; torn++) {
            if (torn && (n > total || kinds[n - 1] != IO_OP_WRITE))
                continue;
            restore(sc);
            io_crash_set(n, torn);
            rc = sc->op();
            int crashed = io_crashed();
            io_crash_set(0, 0);
            cases++;
            mine++;
            CHECK(crashed == (n <= total));
            if (!crashed)
                CHECK_OK(NULL, rc);
            else if (rc == VLS_OK) /* (a failed directory sync is not reported) */
                unnoticed++;
            int j = identify(sc->watch, sc->st, sc->nstates);
            if (j < 0) {
                CHECK(0);
                fprintf(stderr, "  %s: crash before call %ld/%ld%s gives a mixed state\n",
                        sc->name, n, total, torn ? " (torn)" : "");
                continue;
            }
            state_hist[j]++;
            /* states only move forward as the crash comes later */
            if (!torn) {
                CHECK(j >= last);
                transitions += j != last;
                last = j;
            }
            if (sc->path_unchanged) {
                size_t len;
                unsigned char *now = read_file(path, &len);
                CHECK(now && len == sc->init_len && memcmp(now, sc->init, len) == 0);
                free(now);
            }
            /* temporary files: a create's is ignored, a compaction's is removed by the next
             * in-place compaction */
            int tc = count_temps(path, "create", 0) + count_temps(out, "create", 0);
            int tx = count_temps(path, "compact", 0);
            tmp_create_seen += tc;
            tmp_compact_seen += tx;
            if (tx) {
                const model *st = &sc->st[j];
                model m = *st;
                m.size = 0;
                CHECK_OK(NULL, vls_compact_file(path, NULL));
                CHECK(count_temps(path, "compact", 0) == 0);
                tmp_compact_removed += tx;
                CHECK(identify(path, &m, 1) == 0);
                continue; /* the compaction changed the file: no reopen-write from here */
            }
            if (sc->st[j].exists)
                reopen_and_write(sc->watch, &sc->st[j]);
            CHECK(count_temps(path, "create", 1) + count_temps(out, "create", 1) == tc);
        }
    }
    printf("  %-22s %3ld calls, %4ld crash cases, %ld state changes\n", sc->name, total, mine,
           transitions);
}

/* ---- building the scenarios --------------------------------------------------------------- */
static unsigned char *snapshot(size_t *len)
{
    return read_file(path, len);
}

static void run_all(void)
{
    scenario sc;
    model empty = {1, 0, {0}, {0}, {0}}, absent = {0, 0, {0}, {0}, {0}};
    vls_store *s;

    /* 1. create */
    memset(&sc, 0, sizeof sc);
    sc.name = "create";
    sc.op = op_create;
    sc.watch = path;
    sc.nstates = 2;
    sc.st[0] = absent;
    sc.st[1] = empty;
    run(&sc);

    /* 2. create and the first commit */
    sc.name = "create+commit";
    sc.op = op_create_commit;
    sc.nstates = 3;
    sc.st[2] = empty;
    for (int k = 0; k < 5; k++)
        m_put(&sc.st[2], k, (size_t)k * 2500, 100 + (uint64_t)k);
    run(&sc);

    /* the base store: two commits, a replaced record, a deleted one (dead space) */
    model base = empty;
    unlink(path);
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, &opts, &s));
    for (int k = 0; k < 8; k++) {
        size_t len = k == 5 ? 2 * opts.chunk_size + 5 : (size_t)k * 700;
        CHECK_OK(s, s_put(s, k, len, (uint64_t)k));
        m_put(&base, k, len, (uint64_t)k);
        if (k == 3)
            CHECK_OK(s, vls_commit(s));
    }
    CHECK_OK(s, s_put(s, 6, 999, 66));
    m_put(&base, 6, 999, 66);
    CHECK_OK(s, s_put(s, 7, 10, 77));
    CHECK_OK(s, vls_delete_str(s, "k07"));
    base.present[7] = 0;
    CHECK_OK(s, vls_close(s));
    size_t base_len = 0;
    unsigned char *base_bytes = snapshot(&base_len);

    /* 3. append: two commits */
    memset(&sc, 0, sizeof sc);
    sc.name = "append (2 commits)";
    sc.op = op_append;
    sc.init = base_bytes;
    sc.init_len = base_len;
    sc.watch = path;
    sc.nstates = 3;
    sc.st[0] = sc.st[1] = base;
    for (int k = 8; k < 13; k++)
        m_put(&sc.st[1], k, k == 10 ? 3 * opts.chunk_size + 17 : (size_t)k * 300, 200 + (uint64_t)k);
    m_put(&sc.st[1], 1, 1234, 301);
    sc.st[2] = sc.st[1];
    m_put(&sc.st[2], 13, 5000, 213);
    sc.st[2].present[2] = 0;
    run(&sc);

    /* 4. reopen-append over a torn tail (13 bytes of an unfinished commit) */
    size_t torn_len = base_len + 13;
    unsigned char *torn_bytes = malloc(torn_len);
    memcpy(torn_bytes, base_bytes, base_len);
    memcpy(torn_bytes + base_len, "VLCK\x99garbage!", 13);
    sc.name = "reopen-append";
    sc.op = op_reopen_append;
    sc.init = torn_bytes;
    sc.init_len = torn_len;
    sc.nstates = 2;
    sc.st[0] = sc.st[1] = base;
    m_put(&sc.st[1], 20, 6000, 520);
    m_put(&sc.st[1], 21, 0, 521);
    run(&sc);

    /* 5. delete */
    sc.name = "delete";
    sc.op = op_delete;
    sc.init = base_bytes;
    sc.init_len = base_len;
    sc.st[0] = sc.st[1] = base;
    sc.st[1].present[3] = sc.st[1].present[4] = 0;
    run(&sc);

    /* 6. start over with VLS_TRUNCATE: the old store or an empty one */
    sc.name = "truncate (start over)";
    sc.op = op_truncate;
    sc.st[0] = base;
    sc.st[1] = empty;
    run(&sc);

    /* the compacted size, for telling the in-place compaction's two states apart */
    write_file(path, base_bytes, base_len);
    CHECK_OK(NULL, vls_compact_file(path, out));
    uint64_t compacted = file_size(out);
    unlink(out);

    /* 7. compact to a new file: out is absent, then an empty store, then complete */
    sc.name = "compact";
    sc.op = op_compact;
    sc.watch = out;
    sc.nstates = 3;
    sc.st[0] = absent;
    sc.st[1] = empty;
    sc.st[2] = base;
    sc.path_unchanged = 1;
    run(&sc);

    /* 8. compact a file to another path */
    sc.name = "compact_file (to out)";
    sc.op = op_compact_file_out;
    run(&sc);

    /* 9. compact a file in place: the old bytes, or the compacted file */
    sc.name = "compact_file (in place)";
    sc.op = op_compact_file;
    sc.watch = path;
    sc.path_unchanged = 0;
    sc.nstates = 2;
    sc.st[0] = sc.st[1] = base;
    sc.st[0].size = base_len;
    sc.st[1].size = compacted;
    CHECK(compacted < base_len);
    run(&sc);

    free(base_bytes);
    free(torn_bytes);
}

int main(void)
{
    path = test_path("crashpt");
    out = test_path("crashpt-out");
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    static const struct {
        int codec, placement;
        uint32_t chunk;
    } configs[] = {{VLS_CODEC_LZ4, VLS_PLACE_NOCROSS, 4096},
                   {VLS_CODEC_ZSTD, VLS_PLACE_CONTIGUOUS, 8192},
                   {VLS_CODEC_NONE, VLS_PLACE_START, 4096},
                   {VLS_CODEC_BLOSCLZ, VLS_PLACE_NOCROSS, 65536}};
    size_t nconf = sizeof configs / sizeof configs[0];
    for (size_t r = 0; r < nconf * (long_run ? 4 : 1); r++) {
        size_t c = r % nconf;
        vls_options_init(&opts);
        opts.codec = configs[c].codec;
        opts.placement = configs[c].placement;
        opts.chunk_size = configs[c].chunk << (r / nconf); /* long: bigger chunks, */
        opts.block_size = 1024 << (r / nconf);
        scale = 1 + 3 * (r / nconf); /* and bigger records (more chunk writes per put) */
        printf("codec %s, placement %s, chunk %u, records x%zu:\n", vls_compressor_name(opts.codec),
               vls_placement_name(opts.placement), opts.chunk_size, scale);
        run_all();
    }
    printf("%ld crash cases; states seen: first %ld, second %ld, third %ld; %ld reopened and "
           "written; temporary files left: %ld tmp-create (ignored), %ld tmp-compact (%ld removed "
           "by the next compaction); %ld torn tails seen by verify; %ld crashes the library did not "
           "notice\n", cases, state_hist[0], state_hist[1], state_hist[2],
           reopen_writes, tmp_create_seen, tmp_compact_seen, tmp_compact_removed, torn_tails,
           unnoticed);
    unlink(path);
    unlink(out);
    return test_done("test_crash_points");
}
