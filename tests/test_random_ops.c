/* test_random_ops — a long random mix of put, get, get_many, delete, commit, reopen, compact
 * and kill, checked against an in-memory model after every step.
 *
 * The model holds, per key, whether it is present, its length and the seed its bytes derive
 * from, twice: as the handle sees it and as last committed. Each step:
 *   put / delete      the handle and the model change; count and the key are checked;
 *   get / get_many    the bytes are checked (missing keys, duplicates and threads included);
 *   iterate           the keys listed are exactly the model's;
 *   commit            the committed model becomes the handle's; every key is checked;
 *   reopen            close (commits) and reopen, with random flags (pread, verified reads,
 *                     2 threads); every key is checked;
 *   compact           close, vls_compact_file in place, reopen; every key checked, no dead bytes;
 *   kill              close, then a forked child opens the store and runs its own random puts,
 *                     deletes and commits, acknowledging each commit over a pipe, until SIGKILL
 *                     after a random delay. The parent replays the child's operations on a copy
 *                     of the model (same random sequence) and the store must then be exactly
 *                     the state of the last acknowledged commit or of the one after it.
 * Short by default (2000 steps); VLS_TEST_LONG=1 runs 10^6 (VLS_RANDOM_OPS=N overrides,
 * VLS_TEST_SEED=S changes the sequence, VLS_TEST_NOSYNC=1 opens every handle with VLS_NOSYNC:
 * a killed process loses nothing either way, and the run is then not bound by fsync). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NK 64

typedef struct {
    unsigned char present[NK];
    uint64_t seed[NK];
    uint32_t len[NK];
    uint32_t count;
} model;

static const char *path;
static vls_options opts;
static unsigned nosync; /* VLS_NOSYNC or 0 */
static unsigned char *buf, *want;
static long steps_by_op[10], mismatches, kill_commits_replayed, kill_unacked_commit;
static const char *op_names[10] = {"put", "get", "get_many", "delete", "commit", "reopen",
                                   "compact", "kill", "iterate", "stat"};

static void key_of(int k, char *key)
{
    snprintf(key, 8, "key%02d", k);
}

static void fill(unsigned char *b, size_t len, uint64_t seed)
{
    test_fill(b, len, seed, (int)(seed & 1));
}

static uint32_t random_len(uint64_t *rng)
{
    uint64_t r = test_rand(rng);
    switch (r % 20) {
    case 0: return 0;
    case 1: return (uint32_t)((r >> 8) % (3 * opts.chunk_size)); /* several chunks */
    case 2: case 3: case 4: case 5: return (uint32_t)((r >> 8) % 30000);
    default: return (uint32_t)((r >> 8) % 2000);
    }
}

static void m_put(model *m, int k, uint32_t len, uint64_t seed)
{
    m->count += !m->present[k];
    m->present[k] = 1;
    m->len[k] = len;
    m->seed[k] = seed;
}

static void m_del(model *m, int k)
{
    m->count -= m->present[k];
    m->present[k] = 0;
}

/* ---- checks ------------------------------------------------------------------------------- */
static int check_key(vls_store *s, const model *m, int k)
{
    char key[8];
    size_t len = 0;
    key_of(k, key);
    int rc = vls_get_str(s, key, buf, 4 * opts.chunk_size, &len);
    if (!m->present[k])
        return rc == VLS_E_NOTFOUND;
    if (rc != VLS_OK || len != m->len[k])
        return 0;
    fill(want, len, m->seed[k]);
    return memcmp(buf, want, len) == 0;
}

static int check_all(vls_store *s, const model *m)
{
    int ok = vls_count(s) == m->count;
    for (int k = 0; k < NK && ok; k++)
        ok = check_key(s, m, k);
    return ok;
}

static int check_file(const model *m)
{
    vls_store *r;
    if (vls_open(path, VLS_RDONLY, NULL, &r) != VLS_OK)
        return 0;
    int ok = check_all(r, m) && vls_verify(r, NULL, NULL, NULL) == VLS_OK;
    vls_close(r);
    return ok;
}

static void fail_step(long step, const char *what)
{
    mismatches++;
    fprintf(stderr, "  step %ld: %s\n", step, what);
}

/* ---- the child's writes (also replayed by the parent on a model) -------------------------- */
/* One random write step: 0 put, 1 delete, 2 commit. With s == NULL only the model changes. */
static int child_step(uint64_t *rng, model *m, vls_store *s)
{
    uint64_t r = test_rand(rng);
    int k = (int)((r >> 8) % NK);
    if (r % 8 == 0) {
        if (s && vls_commit(s) != VLS_OK)
            _exit(5);
        return 2;
    }
    if (r % 8 == 1 && m->present[k]) {
        char key[8];
        key_of(k, key);
        if (s && vls_delete_str(s, key) != VLS_OK)
            _exit(4);
        m_del(m, k);
        return 1;
    }
    uint32_t len = random_len(rng);
    uint64_t seed = test_rand(rng);
    if (s) {
        char key[8];
        key_of(k, key);
        fill(buf, len, seed);
        if (vls_put_str(s, key, buf, len, 0) != VLS_OK)
            _exit(3);
    }
    m_put(m, k, len, seed);
    return 0;
}

/* Runs the kill step: returns the model the store is found in (or marks a mismatch). */
static void kill_step(long step, uint64_t *rng, model *com)
{
    uint64_t child_rng = test_rand(rng);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        vls_store *s;
        model m = *com;
        if (vls_open(path, VLS_RDWR | nosync, NULL, &s) != VLS_OK)
            _exit(2);
        for (uint32_t i = 0; i < 400; i++)
            if (child_step(&child_rng, &m, s) == 2 &&
                write(fds[1], &i, sizeof i) != (ssize_t)sizeof i)
                _exit(6);
        _exit(vls_close(s) == VLS_OK ? 0 : 7); /* (not killed in time: commits the rest) */
    }
    close(fds[1]);
    struct timespec ts = {0, (long)(test_rand(rng) % 15000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int exited = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(exited || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
    int64_t acked = -1;
    uint32_t a;
    while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a)
        acked = a;
    close(fds[0]);
    /* replay (same random sequence): the state at the last acknowledged commit, and at the
     * next commit (the close's, after the last step, counts as one) */
    model m = *com, at_ack = *com, next = *com;
    int have_next = 0;
    for (uint32_t i = 0; i < 400; i++) {
        if (child_step(&child_rng, &m, NULL) != 2)
            continue;
        if ((int64_t)i <= acked) {
            at_ack = m;
        } else if (!have_next) {
            next = m;
            have_next = 1;
        }
    }
    if (!have_next) {
        next = m;
        have_next = 1;
    }
    if (exited) /* it was not killed in time: its close committed every step */
        at_ack = m;
    vls_store *r;
    if (vls_open(path, VLS_RDONLY, NULL, &r) != VLS_OK) {
        fail_step(step, "the store does not open after a kill");
        return;
    }
    if (check_all(r, &at_ack)) {
        *com = at_ack;
    } else if (have_next && check_all(r, &next)) {
        *com = next;
        kill_unacked_commit++;
    } else {
        fail_step(step, "after a kill the store is neither the acknowledged commit nor the next");
    }
    kill_commits_replayed += acked >= 0;
    vls_close(r);
}

int main(void)
{
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    long nsteps = long_run ? 1000000 : 2000;
    if (getenv("VLS_RANDOM_OPS"))
        nsteps = atol(getenv("VLS_RANDOM_OPS"));
    uint64_t rng = 0xda7a;
    if (getenv("VLS_TEST_SEED"))
        rng = strtoull(getenv("VLS_TEST_SEED"), NULL, 0);
    path = test_path("randomops");
    if (getenv("VLS_TEST_NOSYNC"))
        nosync = VLS_NOSYNC;
    vls_options_init(&opts);
    opts.chunk_size = 32768;
    opts.block_size = 8192;
    opts.codec = VLS_CODEC_LZ4; /* (zstd through Blosc 1 costs a context per block: 10x) */
    buf = malloc(4 * opts.chunk_size);
    want = malloc(4 * opts.chunk_size);

    model cur, com;
    memset(&cur, 0, sizeof cur);
    com = cur;
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | nosync, &opts, &s));
    for (long step = 0; step < nsteps && mismatches < 20; step++) {
        uint64_t r = test_rand(&rng);
        unsigned w = (unsigned)(r % 1000);
        int k = (int)((r >> 16) % NK);
        char key[8];
        key_of(k, key);
        int op = w < 330 ? 0 : w < 560 ? 1 : w < 640 ? 2 : w < 730 ? 3 : w < 840 ? 4
               : w < 880 ? 5 : w < 900 ? 6 : w < 910 ? 7 : w < 960 ? 8 : 9;
        steps_by_op[op]++;
        switch (op) {
        case 0: { /* put */
            uint32_t len = random_len(&rng);
            uint64_t seed = test_rand(&rng);
            fill(buf, len, seed);
            unsigned flags = test_rand(&rng) % 10 == 0 ? VLS_NOREPLACE : 0;
            int rc = vls_put_str(s, key, buf, len, flags);
            if (flags && cur.present[k]) {
                if (rc != VLS_E_EXISTS)
                    fail_step(step, "put with VLS_NOREPLACE over an existing key");
            } else if (rc != VLS_OK) {
                fail_step(step, vls_errmsg(s));
            } else {
                m_put(&cur, k, len, seed);
            }
            if (vls_count(s) != cur.count || !check_key(s, &cur, k))
                fail_step(step, "put: count or record differs from the model");
            break;
        }
        case 1: /* get */
            if (!check_key(s, &cur, k))
                fail_step(step, "get differs from the model");
            break;
        case 2: { /* get_many: random keys, some missing, some twice */
            vls_key keys[12];
            char names[12][8];
            vls_span spans[12];
            int idx[12], n = 1 + (int)(test_rand(&rng) % 12), missing = 0;
            uint64_t total = 0;
            for (int i = 0; i < n; i++) {
                idx[i] = i > 0 && test_rand(&rng) % 6 == 0 ? idx[i - 1]
                                                           : (int)(test_rand(&rng) % NK);
                key_of(idx[i], names[i]);
                keys[i].data = names[i];
                keys[i].len = strlen(names[i]);
                missing |= !cur.present[idx[i]];
            }
            vls_get_many_size(s, (size_t)n, keys, &total);
            unsigned char *all = malloc(total ? total : 1);
            int rc = vls_get_many(s, (size_t)n, keys, all, total, spans, NULL);
            int ok = rc == (missing ? VLS_E_NOTFOUND : VLS_OK);
            for (int i = 0; i < n && ok; i++) {
                int kk = idx[i];
                if (!cur.present[kk]) {
                    ok = spans[i].status == VLS_E_NOTFOUND && spans[i].length == 0;
                    continue;
                }
                fill(want, cur.len[kk], cur.seed[kk]);
                ok = spans[i].status == VLS_OK && spans[i].length == cur.len[kk] &&
                     memcmp(all + spans[i].offset, want, cur.len[kk]) == 0;
            }
            free(all);
            if (!ok)
                fail_step(step, "get_many differs from the model");
            break;
        }
        case 3: { /* delete */
            int rc = vls_delete_str(s, key);
            if (rc != (cur.present[k] ? VLS_OK : VLS_E_NOTFOUND))
                fail_step(step, "delete: unexpected result");
            m_del(&cur, k);
            if (vls_count(s) != cur.count || !check_key(s, &cur, k))
                fail_step(step, "delete: count or record differs from the model");
            break;
        }
        case 4: /* commit */
            if (vls_commit(s) != VLS_OK)
                fail_step(step, vls_errmsg(s));
            com = cur;
            if (!check_all(s, &cur))
                fail_step(step, "after commit the handle differs from the model");
            break;
        case 5: { /* reopen with random per-handle settings */
            if (vls_close(s) != VLS_OK)
                fail_step(step, "close failed");
            com = cur;
            unsigned flags = VLS_RDWR | nosync;
            vls_options o = opts;
            uint64_t v = test_rand(&rng);
            if (v & 1)
                flags |= VLS_NOMMAP;
            if (v & 2)
                flags |= VLS_VERIFY_READS;
            o.threads = v & 4 ? 2 : 1;
            o.cache_bytes = v & 8 ? 0 : (uint64_t)1 << 20;
            CHECK_OK(NULL, vls_open(path, flags, &o, &s));
            if (!check_all(s, &com))
                fail_step(step, "after reopen the store differs from the model");
            break;
        }
        case 6: { /* compact in place */
            if (vls_close(s) != VLS_OK)
                fail_step(step, "close failed");
            com = cur;
            CHECK_OK(NULL, vls_compact_file(path, NULL));
            CHECK_OK(NULL, vls_open(path, VLS_RDWR | nosync, NULL, &s));
            vls_stat st = {.struct_size = sizeof st};
            CHECK_OK(s, vls_stat_get(s, &st));
            if (st.dead_bytes != 0 || !check_all(s, &com))
                fail_step(step, "after compaction the store differs from the model");
            break;
        }
        case 7: /* kill a child writer */
            if (vls_close(s) != VLS_OK)
                fail_step(step, "close failed");
            com = cur;
            kill_step(step, &rng, &com);
            cur = com;
            CHECK_OK(NULL, vls_open(path, VLS_RDWR | nosync, NULL, &s));
            if (!check_all(s, &com))
                fail_step(step, "after the kill the reopened store differs from the model");
            break;
        case 8: { /* iterate: exactly the model's keys */
            uint64_t pos = 0, len;
            const void *kp;
            size_t klen;
            unsigned char seen[NK] = {0};
            uint32_t n = 0;
            int ok = 1;
            while (ok && vls_iter_next(s, &pos, &kp, &klen, &len) == 1) {
                int kk = klen == 5 && memcmp(kp, "key", 3) == 0
                             ? (((const char *)kp)[3] - '0') * 10 + (((const char *)kp)[4] - '0')
                             : -1;
                ok = kk >= 0 && kk < NK && cur.present[kk] && !seen[kk] && len == cur.len[kk];
                if (ok)
                    seen[kk] = 1;
                n++;
            }
            if (!ok || n != cur.count)
                fail_step(step, "iteration differs from the model");
            break;
        }
        default: { /* stat */
            vls_stat st = {.struct_size = sizeof st};
            uint64_t bytes = 0;
            for (int i = 0; i < NK; i++)
                bytes += cur.present[i] ? cur.len[i] : 0;
            if (vls_stat_get(s, &st) != VLS_OK || st.records != cur.count ||
                st.logical_bytes != bytes)
                fail_step(step, "stat differs from the model");
            break;
        }
        }
    }
    CHECK_OK(s, vls_close(s));
    com = cur;
    CHECK(check_file(&com));
    printf("%ld steps:", nsteps);
    for (int i = 0; i < 10; i++)
        printf(" %s %ld%s", op_names[i], steps_by_op[i], i < 9 ? "," : "\n");
    printf("kills: %ld with an acknowledged commit replayed, %ld found at the commit after the "
           "last acknowledgement; mismatches with the model: %ld\n", kill_commits_replayed,
           kill_unacked_commit, mismatches);
    CHECK(mismatches == 0);
    free(buf);
    free(want);
    unlink(path);
    return test_done("test_random_ops");
}
