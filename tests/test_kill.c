/* test_kill — a writer killed at a random moment never loses an acknowledged commit and never
 * leaves a partial record behind.
 *
 * Each round forks a child that opens the store (creating it in the first round; now and then
 * compacting it in place first), then appends records of 0 B to a few MiB whose bytes are
 * derived from their id, committing every 1 to 6 records and writing the number of records
 * covered by each commit that returned to a pipe. The parent SIGKILLs the child after 0 to 3
 * acknowledgements and a random fraction of the time a commit takes, reads the
 * acknowledgements, reopens the store and checks:
 *   - every acknowledged record is there, byte for byte (hash of the re-derived bytes);
 *   - the records present are exactly ids 0 .. m-1 with m >= the last acknowledgement: a record
 *     past it is there whole (a commit that finished before its acknowledgement was written)
 *     or not at all, never partial or wrong;
 *   - vls_verify finds nothing but, at most, the torn tail of the killed commit.
 * The next round continues from m. (The long run reads the older records whole every 10th
 * round, and in the others looks them all up and reads 32 of them.) A shared page tells where the child was when it died
 * (opening, compacting, putting, committing, acknowledging), for the figures.
 * Short by default (30 kills); VLS_TEST_LONG=1 runs 5000 (VLS_KILL_ROUNDS=N overrides). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

enum { PH_START, PH_OPEN, PH_COMPACT, PH_PUT, PH_COMMIT, PH_ACK, PH_N };
static const char *phase_name[PH_N] = {"starting", "opening", "compacting", "putting",
                                       "committing", "acknowledging"};

static volatile int *phase; /* shared with the child */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}
static uint64_t gen_seed;  /* content depends on (generation, id) */
static size_t max_len;

static void key_of(uint64_t id, char *key)
{
    snprintf(key, 24, "r%08llu", (unsigned long long)id);
}

static size_t len_of(uint64_t id)
{
    uint64_t r = gen_seed ^ (id * 0x9e3779b97f4a7c15ULL);
    uint64_t a = test_rand(&r), b = test_rand(&r);
    switch (a % 100 / 10) {
    case 0: case 1: case 2: return (size_t)(b % 257);           /* 30%: 0 .. 256 B */
    case 3: case 4: case 5: case 6: return (size_t)(b % 32768); /* 40%: up to 32 KiB */
    case 7: case 8: return (size_t)(b % 524288);                /* 20%: up to 512 KiB */
    default: return (size_t)(b % max_len);                      /* 10%: up to a few MiB */
    }
}

static void content_of(uint64_t id, unsigned char *buf, size_t len)
{
    test_fill(buf, len, gen_seed * 1000003 + id, (int)(id & 1));
}

/* ---- the child: append and acknowledge until killed -------------------------------------- */
static void child(const char *path, const vls_options *o, uint64_t id, int ackfd, uint64_t seed,
                  int compact_first)
{
    unsigned char *buf = malloc(max_len);
    char key[24];
    vls_store *s;
    if (compact_first) {
        *phase = PH_COMPACT;
        if (vls_compact_file(path, NULL) != VLS_OK)
            _exit(3);
    }
    *phase = PH_OPEN;
    if (vls_open(path, VLS_CREATE, o, &s) != VLS_OK)
        _exit(2);
    for (;;) {
        int batch = 1 + (int)(test_rand(&seed) % 6);
        *phase = PH_PUT;
        for (int b = 0; b < batch; b++, id++) {
            size_t len = len_of(id);
            content_of(id, buf, len);
            key_of(id, key);
            if (vls_put_str(s, key, buf, len, 0) != VLS_OK)
                _exit(4);
        }
        *phase = PH_COMMIT;
        if (vls_commit(s) != VLS_OK)
            _exit(5);
        *phase = PH_ACK;
        if (write(ackfd, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(6);
    }
}

/* ---- the parent's checks --------------------------------------------------------------------- */
static uint64_t *known_hash; /* hash of each id's bytes, once checked byte for byte */
static unsigned char *known;
static uint64_t known_cap;
static long lost, wrong, extra, torn_tails, other_problems, unacked_present;

static void note_problem(void *ctx, const char *what)
{
    if (strstr(what, "after the last valid commit"))
        torn_tails++;
    else {
        other_problems++;
        fprintf(stderr, "  verify: %s\n", what);
    }
}

/* Checks the store after a kill; returns m, the number of records present. Records below
 * `sample_below` (checked whole in an earlier round) are only looked up, and 32 of them read
 * (the long run: every 10th round reads them all). */
static uint64_t check_store(const char *path, uint64_t acked, int full_verify,
                            uint64_t sample_below)
{
    vls_store *s;
    int rc = vls_open(path, VLS_RDONLY, NULL, &s);
    if (rc == VLS_E_NOTFOUND && acked == 0)
        return 0; /* killed before the file was created */
    if (rc != VLS_OK) {
        CHECK_OK(NULL, rc);
        lost += (long)acked;
        return 0;
    }
    if (known_cap < vls_count(s) + acked + 1) {
        uint64_t cap = (vls_count(s) + acked + 1) * 2;
        known_hash = realloc(known_hash, cap * sizeof *known_hash);
        known = realloc(known, cap);
        memset(known + known_cap, 0, (size_t)(cap - known_cap));
        known_cap = cap;
    }
    unsigned char *want = malloc(max_len);
    uint64_t m = 0;
    char key[24];
    uint64_t rs = acked * 2654435761u + 1;
    for (;; m++) {
        void *got = NULL;
        size_t len = 0;
        key_of(m, key);
        if (m < sample_below && test_rand(&rs) % sample_below >= 32) {
            if (test_has_key(s, key) != 1) {
                fprintf(stderr, "  record %llu: gone\n", (unsigned long long)m);
                wrong++;
            }
            continue;
        }
        rc = vls_get_alloc(s, key, strlen(key), &got, &len);
        if (rc == VLS_E_NOTFOUND)
            break;
        if (rc != VLS_OK) {
            fprintf(stderr, "  record %llu: %s\n", (unsigned long long)m, vls_errmsg(s));
            wrong++;
            break;
        }
        if (m >= acked)
            unacked_present++;
        if (!known[m]) {
            size_t want_len = len_of(m);
            content_of(m, want, want_len);
            if (len != want_len || memcmp(got, want, len) != 0) {
                fprintf(stderr, "  record %llu: wrong bytes\n", (unsigned long long)m);
                wrong++;
            } else {
                known[m] = 1;
                known_hash[m] = vls_hash64(got, len);
            }
        } else if (len != len_of(m) || vls_hash64(got, len) != known_hash[m]) {
            fprintf(stderr, "  record %llu: changed since it was checked\n",
                    (unsigned long long)m);
            wrong++;
        }
        vls_free(got);
    }
    if (m < acked) {
        fprintf(stderr, "  %llu acknowledged records, only %llu present\n",
                (unsigned long long)acked, (unsigned long long)m);
        lost += (long)(acked - m);
    }
    if (vls_count(s) != m) {
        fprintf(stderr, "  %llu records, expected ids 0..%llu\n",
                (unsigned long long)vls_count(s), (unsigned long long)m);
        extra++;
    }
    if (full_verify)
        vls_verify(s, note_problem, NULL, NULL);
    vls_close(s);
    free(want);
    return m;
}

static int count_temps(const char *path)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls %s.tmp-* 2>/dev/null | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

static void remove_temps(const char *path)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -f %s.tmp-create-*", path);
    if (system(cmd) != 0)
        CHECK(0);
}

int main(void)
{
    int long_run = getenv("VLS_TEST_LONG") != NULL;
    long rounds = long_run ? 5000 : 30;
    if (getenv("VLS_KILL_ROUNDS"))
        rounds = atol(getenv("VLS_KILL_ROUNDS"));
    max_len = long_run ? (4u << 20) : (3u << 20);
    uint64_t cap_bytes = 32u << 20; /* then a new generation */
    uint64_t rng = 12345;
    if (getenv("VLS_TEST_SEED"))
        rng = strtoull(getenv("VLS_TEST_SEED"), NULL, 0);
    const char *path = test_path("kill");
    phase = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(phase != MAP_FAILED);

    static const struct {
        int codec, placement;
        uint32_t chunk;
    } configs[] = {{VLS_CODEC_LZ4, VLS_PLACE_NOCROSS, 1u << 20},
                   {VLS_CODEC_BLOSCLZ, VLS_PLACE_CONTIGUOUS, 1u << 20},
                   {VLS_CODEC_NONE, VLS_PLACE_NOCROSS, 4u << 20},
                   {VLS_CODEC_LZ4, VLS_PLACE_START, 262144}};
    long kills = 0, by_phase[PH_N] = {0}, generations = 0, exited_early = 0, compactions = 0;
    long rounds_with_progress = 0;
    double gap_ms = 30;
    uint64_t next = 0, acked_total = 0, records_total = 0, bytes_total = 0, acked = 0;
    vls_options o;
    for (long round = 0; round < rounds; round++) {
        struct stat st;
        if (round == 0 || (stat(path, &st) == 0 && (uint64_t)st.st_size > cap_bytes)) {
            /* a new generation: new file, new settings, new content */
            if (round > 0 && stat(path, &st) == 0) { /* compaction clears stale temporaries */
                CHECK_OK(NULL, vls_compact_file(path, NULL));
                compactions++;
                remove_temps(path);
                CHECK(count_temps(path) == 0);
                CHECK(check_store(path, next, 1, 0) == next);
            }
            unlink(path);
            vls_options_init(&o);
            o.codec = configs[generations % 4].codec;
            o.placement = configs[generations % 4].placement;
            o.chunk_size = configs[generations % 4].chunk;
            o.block_size = o.chunk_size >= (1u << 19) ? 131072 : o.chunk_size / 4;
            gen_seed = test_rand(&rng);
            next = acked = 0;
            if (known)
                memset(known, 0, known_cap);
            generations++;
        }
        int fds[2];
        CHECK(pipe(fds) == 0);
        *phase = PH_START;
        int compact_first = next > 0 && test_rand(&rng) % 8 == 0;
        uint64_t child_seed = test_rand(&rng);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(path, &o, next, fds[1], child_seed, compact_first);
            _exit(0);
        }
        close(fds[1]);
        /* The kill comes after 0 to 3 acknowledged commits, at a random moment within the
         * time one commit has been taking (a running average): so it lands anywhere in the
         * open, the compaction, the puts or the commit, however fast the machine is. */
        int want = (int)(test_rand(&rng) % 4);
        double last = now_ms();
        struct pollfd pf = {fds[0], POLLIN, 0};
        for (int got = 0; got < want;) {
            uint64_t a;
            if (poll(&pf, 1, 20000) <= 0 || read(fds[0], &a, sizeof a) != (ssize_t)sizeof a)
                break; /* (a child that stalls or exits is reported below) */
            acked = a;
            got++;
            double t = now_ms();
            gap_ms = 0.8 * gap_ms + 0.2 * (t - last);
            last = t;
        }
        long us = (long)(test_rand(&rng) % (uint64_t)(gap_ms * 1000 + 1));
        struct timespec ts = {us / 1000000, us % 1000000 * 1000};
        nanosleep(&ts, NULL);
        int ph = *phase;
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            kills++;
            by_phase[ph]++;
        } else {
            exited_early++;
            fprintf(stderr, "  round %ld: child exited with %d\n", round,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        uint64_t a;
        while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a)
            acked = a;
        close(fds[0]);
        int all = !long_run || round % 10 == 9 || round == rounds - 1;
        uint64_t m = check_store(path, acked,
                                 round % (long_run ? 50 : 5) == 4 || round == rounds - 1,
                                 all ? 0 : next);
        records_total += m - next;
        rounds_with_progress += m > next;
        acked_total += acked > next ? acked - next : 0;
        for (uint64_t id = next; id < m; id++)
            bytes_total += len_of(id);
        next = m;
        acked = m; /* the next round's child starts from here */
        if (compact_first)
            compactions++;
        if (long_run && round % 500 == 499) {
            printf("  %ld rounds, %llu records committed, lost %ld\n", round + 1,
                   (unsigned long long)records_total, lost);
            fflush(stdout);
        }
    }
    /* the final compaction removes any compaction temporary left by a kill */
    struct stat st;
    if (stat(path, &st) == 0) {
        CHECK_OK(NULL, vls_compact_file(path, NULL));
        remove_temps(path);
        CHECK(count_temps(path) == 0);
        CHECK(check_store(path, next, 1, 0) == next);
    }

    printf("%ld kills survived (%ld children exited early), %ld generations; killed while",
           kills, exited_early, generations);
    for (int p = 0; p < PH_N; p++)
        printf(" %s %ld%s", phase_name[p], by_phase[p], p + 1 < PH_N ? "," : "\n");
    printf("%llu records (%.1f MiB) committed in %ld rounds that made progress, %llu "
           "acknowledged; %ld committed records found beyond the last acknowledgement; %ld "
           "compactions in place\n", (unsigned long long)records_total,
           (double)bytes_total / 1048576.0, rounds_with_progress,
           (unsigned long long)acked_total, unacked_present, compactions);
    printf("records lost: %ld, wrong or partial: %ld, unexpected keys: %ld; verify: %ld torn "
           "tails, %ld other problems\n", lost, wrong, extra, torn_tails, other_problems);
    CHECK(lost == 0);
    CHECK(wrong == 0);
    CHECK(extra == 0);
    CHECK(other_problems == 0);
    CHECK(exited_early == 0);
    CHECK(kills == rounds);
    unlink(path);
    free(known);
    free(known_hash);
    return test_done("test_kill");
}
