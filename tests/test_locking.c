/* test_locking — one writer per file; readers see whole commits.
 *
 * 1. A second writer is refused with VLS_E_LOCKED, in the same process and in another one,
 *    whatever way it opens (VLS_RDWR, VLS_CREATE, VLS_TRUNCATE, vls_compact_file); the refused
 *    open changes nothing in the file; readers are never refused; once the writer closes, the
 *    next one gets in.
 * 2. A reader process during appends: a child appends and commits while the parent reads with
 *    vls_refresh. Every refresh shows a whole commit: the records are exactly ids 0 .. n-1, each
 *    one's bytes are right, and n and the commit number never go down.
 * 3. A reader that opened the file before an in-place compaction keeps reading the old file,
 *    correctly, and sees the compacted one when it reopens.
 * 4. Writers racing to create the same new file: every one that committed finds its record in
 *    the file that stays (test_regress_create_race). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static size_t len_of(uint64_t id)
{
    uint64_t r = id * 0x9e3779b97f4a7c15ULL + 7;
    return (size_t)(test_rand(&r) % (id % 7 == 0 ? 300000 : 5000));
}

static void key_of(uint64_t id, char *key)
{
    snprintf(key, 24, "id%06llu", (unsigned long long)id);
}

static int put_id(vls_store *s, uint64_t id)
{
    char key[24];
    size_t len = len_of(id);
    unsigned char *buf = malloc(len ? len : 1);
    key_of(id, key);
    test_fill(buf, len, id, (int)(id & 1));
    int rc = vls_put_str(s, key, buf, len, 0);
    free(buf);
    return rc;
}

static int check_id(vls_store *s, uint64_t id)
{
    char key[24];
    void *got = NULL;
    size_t len;
    key_of(id, key);
    if (vls_get_alloc(s, key, strlen(key), &got, &len) != VLS_OK)
        return 0;
    size_t want_len = len_of(id);
    unsigned char *want = malloc(want_len ? want_len : 1);
    test_fill(want, want_len, id, (int)(id & 1));
    int ok = len == want_len && memcmp(got, want, len) == 0;
    free(want);
    vls_free(got);
    return ok;
}

static unsigned char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len + 1);
    if (fread(b, 1, *len, f) != *len)
        *len = 0;
    fclose(f);
    return b;
}

/* exit status of a child that tries to open `path` with `flags` (0: VLS_E_LOCKED as wanted) */
static int other_process_open(const char *path, unsigned flags)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        vls_store *s;
        int rc = flags == ~0u ? vls_compact_file(path, NULL) : vls_open(path, flags, NULL, &s);
        if (rc == VLS_OK && flags != ~0u)
            vls_close(s);
        _exit(rc == VLS_E_LOCKED ? 0 : rc == VLS_OK ? 1 : 2);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

static void second_writer(void)
{
    const char *path = test_path("lock");
    vls_store *w, *w2, *r;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &w));
    for (uint64_t i = 0; i < 20; i++)
        CHECK_OK(w, put_id(w, i));
    CHECK_OK(w, vls_commit(w));
    size_t len0, len1;
    unsigned char *before = slurp(path, &len0);

    /* same process */
    static const unsigned flags[] = {VLS_RDWR, VLS_CREATE, VLS_TRUNCATE, VLS_CREATE | VLS_TRUNCATE};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        w2 = (vls_store *)1;
        CHECK_RC(NULL, vls_open(path, flags[i], NULL, &w2), VLS_E_LOCKED);
        CHECK(w2 == NULL);
        CHECK(strstr(vls_errmsg(NULL), "another writer") != NULL);
    }
    CHECK_RC(NULL, vls_compact_file(path, NULL), VLS_E_LOCKED);
    /* another process */
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK(other_process_open(path, flags[i]) == 0);
    CHECK(other_process_open(path, ~0u) == 0); /* vls_compact_file */
    /* nothing changed in the file, and readers get in */
    unsigned char *after = slurp(path, &len1);
    CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
    free(after);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    CHECK(vls_count(r) == 20);
    CHECK(check_id(r, 7));
    CHECK_RC(r, vls_put_str(r, "x", "y", 1, 0), VLS_E_READONLY);
    CHECK_OK(r, vls_close(r));
    /* the writer still works, and after it closes the next one gets in */
    CHECK_OK(w, put_id(w, 20));
    CHECK_OK(w, vls_close(w));
    CHECK(other_process_open(path, VLS_RDWR) == 1);
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &w2));
    CHECK(vls_count(w2) == 21 && check_id(w2, 20));
    CHECK_OK(w2, vls_close(w2));
    free(before);
    unlink(path);
}

/* ---- 2. a reader during appends ----------------------------------------------------------- */
static void reader_during_appends(long commits, long *refreshes_out, long *changes_out)
{
    const char *path = test_path("lock-append");
    vls_store *w, *r;
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 65536; /* many chunks, some records span several */
    o.block_size = 16384;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, &o, &w));
    CHECK_OK(w, vls_close(w));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t id = 0, rng = 99;
        if (vls_open(path, VLS_RDWR, NULL, &w) != VLS_OK)
            _exit(2);
        for (long c = 0; c < commits; c++) {
            int n = 1 + (int)(test_rand(&rng) % 5);
            for (int i = 0; i < n; i++)
                if (put_id(w, id++) != VLS_OK)
                    _exit(3);
            if (vls_commit(w) != VLS_OK)
                _exit(4);
        }
        _exit(vls_close(w) == VLS_OK ? 0 : 5);
    }
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    uint64_t seen = 0, last_commit = 0;
    long refreshes = 0, changes = 0, bad = 0, went_back = 0;
    int done = 0, st = 0;
    while (!done) {
        done = waitpid(pid, &st, WNOHANG) == pid; /* one more refresh after the child is done */
        CHECK_OK(r, vls_refresh(r));
        refreshes++;
        vls_stat s = {.struct_size = sizeof s};
        CHECK_OK(r, vls_stat_get(r, &s));
        uint64_t n = vls_count(r);
        went_back += n < seen || s.commits < last_commit;
        if (n != seen)
            changes++;
        /* the new records whole, and a sample of the old ones */
        for (uint64_t id = seen; id < n; id++)
            bad += !check_id(r, id);
        if (n > 0)
            bad += !check_id(r, (uint64_t)refreshes * 7919 % n);
        /* exactly ids 0 .. n-1: id n is not there */
        char key[24];
        key_of(n, key);
        bad += test_has_key(r, key) != 0;
        seen = n;
        last_commit = s.commits;
        usleep(200); /* let the writer run */
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(bad == 0);
    CHECK(went_back == 0);
    CHECK(changes >= 1); /* the reader did see the store grow (how often: printed) */
    CHECK(vls_verify(r, NULL, NULL, NULL) == VLS_OK);
    CHECK_OK(r, vls_close(r));
    *refreshes_out = refreshes;
    *changes_out = changes;
    unlink(path);
}

/* ---- 3. a reader across an in-place compaction --------------------------------------------- */
static void reader_across_compaction(void)
{
    const char *path = test_path("lock-compact");
    vls_store *w, *r;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &w));
    for (uint64_t i = 0; i < 30; i++)
        CHECK_OK(w, put_id(w, i));
    CHECK_OK(w, vls_commit(w));
    for (uint64_t i = 0; i < 30; i += 3) {
        char key[24];
        key_of(i, key);
        CHECK_OK(w, vls_delete_str(w, key));
    }
    CHECK_OK(w, vls_close(w));
    vls_store *r2;
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, NULL, &r));
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r2)); /* mapped */
    struct stat st0, st1;
    CHECK(stat(path, &st0) == 0);
    CHECK_OK(NULL, vls_compact_file(path, NULL));
    CHECK(stat(path, &st1) == 0 && st1.st_size < st0.st_size && st1.st_ino != st0.st_ino);
    for (uint64_t i = 1; i < 30; i++) { /* the old file, still open */
        if (i % 3 == 0)
            continue;
        CHECK(check_id(r, i));
        CHECK(check_id(r2, i));
    }
    CHECK(vls_count(r) == 20 && vls_count(r2) == 20);
    CHECK_OK(r, vls_refresh(r)); /* a refresh stays on the old file: still whole */
    CHECK(vls_count(r) == 20 && check_id(r, 29));
    CHECK_OK(r, vls_close(r));
    CHECK_OK(r2, vls_close(r2));
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    CHECK(vls_count(r) == 20 && check_id(r, 29) && !check_id(r, 27));
    CHECK_OK(r, vls_close(r));
    unlink(path);
}

/* ---- 4. writers racing to create the same file ---------------------------------------------- */
static long create_race(int rounds, int writers)
{
    long lost = 0;
    for (int round = 0; round < rounds; round++) {
        const char *path = test_path("lock-race");
        pid_t pids[16];
        fflush(stdout);
        for (int c = 0; c < writers; c++) {
            pids[c] = fork();
            if (pids[c] == 0) {
                vls_store *s;
                int rc;
                while ((rc = vls_open(path, VLS_CREATE, NULL, &s)) == VLS_E_LOCKED)
                    usleep(100);
                if (rc != VLS_OK)
                    _exit(2);
                if (put_id(s, (uint64_t)c) != VLS_OK || vls_commit(s) != VLS_OK)
                    _exit(3);
                _exit(vls_close(s) == VLS_OK ? 0 : 4);
            }
        }
        int all_ok = 1;
        for (int c = 0; c < writers; c++) {
            int st;
            waitpid(pids[c], &st, 0);
            all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        CHECK(all_ok);
        vls_store *r;
        CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
        for (int c = 0; c < writers; c++)
            lost += !check_id(r, (uint64_t)c);
        vls_close(r);
        unlink(path);
    }
    return lost;
}

/* ---- 5. writers taking turns ---------------------------------------------------------------
 * Several processes each open the store for writing (retrying while it is locked), add a
 * record, commit and close, many times; one of them also compacts the file in place now and
 * then. Every committed record must stay. Before the fixes, a writer that opened the file
 * while another held the lock (1) kept the file size it had seen before it got the lock, and
 * wrote its commit over the other writer's last one (test_regress_lock_stale_size), and (2)
 * after waiting out an in-place compaction, locked and appended to the old file, which the
 * compaction had just replaced: its commits went to a file with no name
 * (test_regress_lock_replaced_file). */
static long writers_take_turns(int writers, int turns)
{
    const char *path = test_path("lock-turns");
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_close(s));
    pid_t pids[16];
    fflush(stdout);
    for (int c = 0; c < writers; c++) {
        pids[c] = fork();
        if (pids[c] == 0) {
            for (int t = 0; t < turns; t++) {
                int rc;
                if (c == 0 && t % 4 == 3) /* compaction renames a new file over the old */
                    while ((rc = vls_compact_file(path, NULL)) == VLS_E_LOCKED)
                        usleep(50);
                while ((rc = vls_open(path, VLS_RDWR, NULL, &s)) == VLS_E_LOCKED)
                    usleep(50);
                if (rc != VLS_OK || put_id(s, (uint64_t)(c * turns + t)) != VLS_OK ||
                    vls_close(s) != VLS_OK)
                    _exit(2);
            }
            _exit(0);
        }
    }
    int all_ok = 1;
    for (int c = 0; c < writers; c++) {
        int st;
        waitpid(pids[c], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(all_ok);
    long lost = 0;
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    for (int i = 0; i < writers * turns; i++)
        lost += !check_id(s, (uint64_t)i);
    CHECK(vls_count(s) == (uint64_t)(writers * turns));
    CHECK(vls_verify(s, NULL, NULL, NULL) == VLS_OK);
    vls_close(s);
    unlink(path);
    return lost;
}

int main(void)
{
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    second_writer();
    long refreshes = 0, changes = 0;
    reader_during_appends(long_run ? 3000 : 150, &refreshes, &changes);
    printf("reader during appends: %ld refreshes, %ld saw a new commit, none inconsistent\n",
           refreshes, changes);
    reader_across_compaction();
    int rounds = long_run ? 200 : 20;
    long lost = create_race(rounds, 6);
    printf("create race: %d rounds of 6 writers creating one file, %ld committed records lost\n",
           rounds, lost);
    CHECK(lost == 0); /* test_regress_create_race */
    int turns = long_run ? 300 : 40;
    lost = writers_take_turns(4, turns);
    printf("writers taking turns: 4 processes x %d open-put-commit-close (one also compacting "
           "every 4th turn), %ld committed records lost\n", turns, lost);
    CHECK(lost == 0); /* test_regress_lock_stale_size, test_regress_lock_replaced_file */
    return test_done("test_locking");
}
