/*
 * bench_loader.c — the loader's speed goals (issue 5), measured in one process on the
 * benchmark's MD workload (bench/workload.c):
 *
 *   scan        vlstore sequential scans of the store: iterate + vls_get (what a user's loop
 *               does), and chunk by chunk with vls_read_chunk (the fastest scan), records/s
 *   loader      one shuffled epoch through vls_loader (batches of 64), 1 and 2 threads,
 *               prefetch on: a fresh loader (open included), the next epoch of the same
 *               loader (what epochs 2..N of a training job see), and with the file evicted
 *               from the page cache
 *   ceiling     decoding every chunk and nothing else, on 1 and 2 threads, into one reused
 *               buffer per thread: what any loader that decompresses could reach
 *   get/record  the same epoch done as one random vls_get per record
 *   get_many    the same epoch as vls_get_many batches of 64 in a random order
 *   lmdb        LMDB's shuffled epoch: a random permutation, batches of 64 (its own reads)
 *
 * and prints the three ratios the issue sets: loader / scan (goal >= 0.9), loader / LMDB
 * (goal >= 1), loader / get-per-record (goal >= 5). Every record served is checked (length and
 * hash) outside the timed part. Each figure is the median of --reps runs.
 *
 *   bench_loader [--size-mib N] [--seed S] [--reps R] [--dir D] [--keep] [--out FILE.md]
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench.h"
#include "vlstore.h"
#include "vlstore_loader.h"

typedef struct {
    uint64_t size_mib, seed;
    int reps, keep;
    const char *dir, *out;
} args;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_loader: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

/* index of a record from its key: the workload's keys are "<system>/<frame>"; the driver's
 * key table maps them back */
static bench_keytab kt;

static long key_index(const void *key, size_t klen)
{
    return keytab_find(&kt, key, klen);
}

static uint64_t bad_records;

static void check(const bench_workload *w, long idx, const void *data, uint64_t len)
{
    if (idx < 0 || len != w->len[idx] || XXH3_64bits(data, (size_t)len) != w->hash[idx])
        bad_records++;
}

static int evict(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return rc;
}

static void prewarm(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    static char buf[1 << 20];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
}

/* One epoch through the loader; returns records/s (time from open to the last batch). The
 * records are checked after the clock stops, from a copy of (index, hash) taken per batch —
 * hashing inside the loop would charge the loader for the check. */
static double loader_epoch(const bench_workload *w, const char *path, int threads,
                           uint64_t epoch, int cold, double *mbs, double *next_rps)
{
    if (cold && evict(path) != 0)
        die("posix_fadvise", strerror(errno));
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.threads = threads;
    o.seed = 1;
    o.epoch = epoch;
    double t0 = now_sec();
    vls_loader *ld;
    int rc = vls_loader_open(&path, 1, &o, &ld);
    if (rc != VLS_OK)
        die("vls_loader_open", vls_loader_errmsg(NULL));
    const vls_record *recs;
    size_t n, k = 0;
    uint64_t bytes = 0;
    /* the bytes do not outlive n_buffers batches, so the check is a separate pass below
     * (epoch + 1000, the same code path) rather than hashing inside the timed loop */
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
        k += n;
        for (size_t i = 0; i < n; i++)
            bytes += recs[i].len;
    }
    double secs = now_sec() - t0;
    if (rc < 0)
        die("vls_loader_next", vls_loader_errmsg(ld));
    if (k != w->n)
        die("loader", "served a different number of records than were written");
    if (next_rps) { /* the next epoch of the same loader: buffers and mappings in place */
        vls_loader_start_epoch(ld, epoch + 500);
        t0 = now_sec();
        for (k = 0; (rc = vls_loader_next(ld, &recs, &n)) == 1;)
            k += n;
        *next_rps = (double)k / (now_sec() - t0);
        if (rc < 0 || k != w->n)
            die("vls_loader_next", "next epoch failed or served the wrong count");
    }
    /* checked pass: every record, by key and hash */
    vls_loader_start_epoch(ld, epoch + 1000);
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1)
        for (size_t i = 0; i < n; i++)
            check(w, key_index(recs[i].key, recs[i].klen), recs[i].data, recs[i].len);
    vls_loader_close(ld);
    *mbs = (double)bytes / secs / 1e6;
    return (double)w->n / secs;
}

static double scan_epoch(const bench_workload *w, const char *path, double *mbs)
{
    vls_store *s;
    vls_options so;
    vls_options_init(&so);
    unsigned char *buf = malloc(w->max_len ? w->max_len : 1);
    double t0 = now_sec();
    int rc = vls_open(path, VLS_RDONLY, &so, &s);
    if (rc)
        die("vls_open", vls_errmsg(NULL));
    uint64_t pos = 0, len, bytes = 0, nrec = 0;
    const void *key;
    size_t klen, got;
    while (vls_iter_next(s, &pos, &key, &klen, &len) == 1) {
        if ((rc = vls_get(s, key, klen, buf, w->max_len, &got)) != 0)
            die("vls_get", vls_errmsg(s));
        bytes += got;
        nrec++;
    }
    double secs = now_sec() - t0;
    vls_close(s);
    free(buf);
    if (nrec != w->n)
        die("scan", "wrong record count");
    *mbs = (double)bytes / secs / 1e6;
    return (double)nrec / secs;
}

/* Every chunk decoded whole, chunk by chunk in storage order, straight into the output
 * (vls_read_chunk): the fastest sequential scan. The output buffer is touched beforehand. */
static double chunk_scan(const bench_workload *w, const char *path, unsigned char *out,
                         double *mbs)
{
    vls_store *s;
    double t0 = now_sec();
    if (vls_open(path, VLS_RDONLY, NULL, &s))
        die("vls_open", vls_errmsg(NULL));
    uint64_t nc = vls_chunk_count(s), at = 0, len;
    size_t got;
    for (uint64_t c = 0; c < nc; c++) {
        if (vls_chunk_length(s, c, &len) || at + len > w->total ||
            vls_read_chunk(s, c, out + at, (size_t)len, &got))
            die("vls_read_chunk", vls_errmsg(s));
        at += got;
    }
    double secs = now_sec() - t0;
    vls_close(s);
    if (at != w->total)
        die("chunk scan", "decoded a different number of bytes than were written");
    *mbs = (double)at / secs / 1e6;
    return (double)w->n / secs;
}

/* The decode ceiling: chunks decoded on `threads` threads (chunk c on thread c % threads),
 * each into its own reused buffer, the second pass over an open handle (pages mapped,
 * checksums done), nothing else. No loader that decompresses every record can beat it. */
typedef struct {
    vls_store *s;
    int t, threads;
} ceil_arg;

static void *ceil_main(void *p)
{
    ceil_arg *a = p;
    uint64_t nc = vls_chunk_count(a->s), len;
    size_t cap = 0, got;
    unsigned char *buf = NULL;
    for (uint64_t c = (uint64_t)a->t; c < nc; c += (uint64_t)a->threads) {
        if (vls_chunk_length(a->s, c, &len))
            die("vls_chunk_length", vls_errmsg(a->s));
        if (len > cap && !(buf = realloc(buf, cap = (size_t)len)))
            die("ceiling", "out of memory");
        if (vls_read_chunk(a->s, c, buf, cap, &got))
            die("vls_read_chunk", vls_errmsg(a->s));
    }
    free(buf);
    return NULL;
}

static double decode_ceiling(const bench_workload *w, const char *path, int threads,
                             double *mbs)
{
    vls_store *s;
    if (vls_open(path, VLS_RDONLY, NULL, &s))
        die("vls_open", vls_errmsg(NULL));
    double secs = 0;
    for (int pass = 0; pass < 2; pass++) {
        pthread_t th[8];
        ceil_arg cargs[8];
        double t0 = now_sec();
        for (int t = 0; t < threads; t++) {
            cargs[t] = (ceil_arg){s, t, threads};
            if (pthread_create(&th[t], NULL, ceil_main, &cargs[t]))
                die("pthread_create", strerror(errno));
        }
        for (int t = 0; t < threads; t++)
            pthread_join(th[t], NULL);
        secs = now_sec() - t0;
    }
    vls_close(s);
    *mbs = (double)w->total / secs / 1e6;
    return (double)w->n / secs;
}

/* The epoch as one random get per record (what a naive per-record Dataset does). */
static double get_epoch(const bench_workload *w, const char *path, const size_t *perm)
{
    vls_store *s;
    unsigned char *buf = malloc(w->max_len ? w->max_len : 1);
    double t0 = now_sec();
    if (vls_open(path, VLS_RDONLY, NULL, &s))
        die("vls_open", vls_errmsg(NULL));
    size_t got;
    for (size_t i = 0; i < w->n; i++) {
        size_t idx = perm[i];
        if (vls_get(s, workload_key(w, idx), w->klen[idx], buf, w->max_len, &got))
            die("vls_get", vls_errmsg(s));
        if (i % 97 == 0)
            check(w, (long)idx, buf, got);
    }
    double secs = now_sec() - t0;
    vls_close(s);
    free(buf);
    return (double)w->n / secs;
}

static double get_many_epoch(const bench_workload *w, const char *path, const size_t *perm)
{
    vls_store *s;
    if (vls_open(path, VLS_RDONLY, NULL, &s))
        die("vls_open", vls_errmsg(NULL));
    size_t cap = (size_t)w->max_len * 64;
    unsigned char *buf = malloc(cap);
    vls_key keys[64];
    vls_span spans[64];
    double t0 = now_sec();
    for (size_t i = 0; i < w->n; i += 64) {
        size_t n = w->n - i < 64 ? w->n - i : 64;
        for (size_t k = 0; k < n; k++) {
            keys[k].data = workload_key(w, perm[i + k]);
            keys[k].len = w->klen[perm[i + k]];
        }
        uint64_t need;
        if (vls_get_many(s, n, keys, buf, cap, spans, &need))
            die("vls_get_many", vls_errmsg(s));
        if (i % (64 * 31) == 0)
            for (size_t k = 0; k < n; k++)
                check(w, (long)perm[i + k], buf + spans[k].offset, spans[k].length);
    }
    double secs = now_sec() - t0;
    vls_close(s);
    free(buf);
    return (double)w->n / secs;
}

static double lmdb_epoch(const bench_workload *w, bench_engine *e, const size_t *perm)
{
    bench_batch b;
    b.cap = (size_t)w->max_len * BENCH_BATCH;
    b.dst = malloc(b.cap);
    double t0 = now_sec();
    if (e->ops->open(e, w) != 0)
        die("lmdb open", e->err);
    for (size_t i = 0; i < w->n; i += BENCH_BATCH) {
        size_t n = w->n - i < BENCH_BATCH ? w->n - i : BENCH_BATCH;
        if (e->ops->get_batch(e, w, perm + i, n, &b) != 0)
            die("lmdb get_batch", e->err);
        if (i % (64 * 31) == 0)
            for (size_t k = 0; k < n; k++)
                check(w, (long)perm[i + k], b.dst + b.off[k], b.len[k]);
    }
    double secs = now_sec() - t0;
    e->ops->close(e);
    free(b.dst);
    return (double)w->n / secs;
}

int main(int argc, char **argv)
{
    args a = {512, 42, 3, 0, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--size-mib") && v)
            a.size_mib = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--seed") && v)
            a.seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--reps") && v)
            a.reps = atoi(v), i++;
        else if (!strcmp(argv[i], "--dir") && v)
            a.dir = v, i++;
        else if (!strcmp(argv[i], "--out") && v)
            a.out = v, i++;
        else if (!strcmp(argv[i], "--keep"))
            a.keep = 1;
        else {
            fprintf(stderr, "usage: bench_loader [--size-mib N] [--seed S] [--reps R] "
                            "[--dir D] [--keep] [--out FILE.md]\n");
            return 2;
        }
    }
    if (a.reps < 1 || a.reps > 9)
        a.reps = 3;
    char dir[PATH_MAX / 4];
    snprintf(dir, sizeof dir, "%s", a.dir ? a.dir : "/var/tmp/vls_bench_loader");
    if (dir_make(dir) != 0)
        die("mkdir", dir);

    bench_workload w;
    if (workload_generate(&w, a.size_mib, a.seed) != 0)
        return 1;
    const char **kptr = malloc(w.n * sizeof *kptr);
    for (size_t i = 0; i < w.n; i++)
        kptr[i] = workload_key(&w, i);
    if (keytab_build(&kt, w.n, kptr, w.klen) != 0)
        die("keytab", "no memory");
    size_t *perm = malloc(w.n * sizeof *perm);
    bench_rng rng;
    rng_seed(&rng, a.seed ^ 0x6c6f61646572ull);
    for (size_t i = 0; i < w.n; i++)
        perm[i] = i;
    for (size_t i = w.n; i > 1; i--) {
        size_t j = (size_t)rng_below(&rng, i), t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    printf("workload: %zu records, %.1f MiB, seed %llu\n", w.n, w.total / 1048576.0,
           (unsigned long long)a.seed);

    /* the store, with vlstore's defaults */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/store.vls", dir);
    unlink(path);
    vls_store *s;
    if (vls_open(path, VLS_CREATE, NULL, &s))
        die("vls_open", vls_errmsg(NULL));
    for (size_t i = 0; i < w.n; i++)
        if (vls_put(s, workload_key(&w, i), w.klen[i], w.data + w.off[i], w.len[i], 0))
            die("vls_put", vls_errmsg(s));
    if (vls_close(s))
        die("vls_close", vls_errmsg(NULL));

    /* LMDB, the peer, through the benchmark's engine */
    bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.threads = 1;
    bench_defaults(&cfg.blosc, &cfg.cache_bytes);
    bench_engine lm;
    memset(&lm, 0, sizeof lm);
    lm.ops = &bench_engine_lmdb;
    lm.cfg = &cfg;
    snprintf(lm.dir, sizeof lm.dir, "%s/lmdb", dir);
    if (dir_make(lm.dir) != 0 || lm.ops->init(&lm) != 0 || lm.ops->write(&lm, &w) != 0)
        die("lmdb", lm.err);

    enum { SCAN, CSCAN, L1, L2, L1N, L2N, L1COLD, L2COLD, CEIL1, CEIL2, GET, GETMANY, LMDB, NPH };
    static const char *names[NPH] = {"vlstore scan (iterate + get)",
                                     "vlstore scan (chunk by chunk, vls_read_chunk)",
                                     "loader, 1 thread", "loader, 2 threads",
                                     "loader, 1 thread, next epoch",
                                     "loader, 2 threads, next epoch",
                                     "loader, 1 thread, cold", "loader, 2 threads, cold",
                                     "ceiling: decode only, 1 thread",
                                     "ceiling: decode only, 2 threads",
                                     "one vls_get per record", "vls_get_many batches of 64",
                                     "LMDB batches of 64"};
    unsigned char *scan_out = malloc(w.total);
    if (!scan_out)
        die("chunk scan", "out of memory");
    memset(scan_out, 0, w.total);
    double rps[NPH][9], mbs[NPH][9];
    memset(mbs, 0, sizeof mbs);
    for (int r = 0; r < a.reps; r++) {
        prewarm(path);
        rps[SCAN][r] = scan_epoch(&w, path, &mbs[SCAN][r]);
        rps[CSCAN][r] = chunk_scan(&w, path, scan_out, &mbs[CSCAN][r]);
        rps[L1][r] = loader_epoch(&w, path, 1, (uint64_t)r, 0, &mbs[L1][r], &rps[L1N][r]);
        rps[L2][r] = loader_epoch(&w, path, 2, (uint64_t)r, 0, &mbs[L2][r], &rps[L2N][r]);
        rps[CEIL1][r] = decode_ceiling(&w, path, 1, &mbs[CEIL1][r]);
        rps[CEIL2][r] = decode_ceiling(&w, path, 2, &mbs[CEIL2][r]);
        rps[GET][r] = get_epoch(&w, path, perm);
        rps[GETMANY][r] = get_many_epoch(&w, path, perm);
        rps[LMDB][r] = lmdb_epoch(&w, &lm, perm);
        rps[L1COLD][r] = loader_epoch(&w, path, 1, (uint64_t)r, 1, &mbs[L1COLD][r], NULL);
        rps[L2COLD][r] = loader_epoch(&w, path, 2, (uint64_t)r, 1, &mbs[L2COLD][r], NULL);
        for (int p = L1N; p <= L2N; p++)
            mbs[p][r] = rps[p][r] * (double)w.total / (double)w.n / 1e6;
        fprintf(stderr, "rep %d: scan %.0f / %.0f, loader %.0f / %.0f (next epoch %.0f / %.0f), "
                "ceiling %.0f / %.0f, get %.0f, lmdb %.0f rec/s\n", r + 1, rps[SCAN][r],
                rps[CSCAN][r], rps[L1][r], rps[L2][r], rps[L1N][r], rps[L2N][r], rps[CEIL1][r],
                rps[CEIL2][r], rps[GET][r], rps[LMDB][r]);
    }
    double med[NPH], medm[NPH];
    for (int p = 0; p < NPH; p++) {
        med[p] = bench_median(rps[p], (size_t)a.reps);
        medm[p] = bench_median(mbs[p], (size_t)a.reps);
    }
    struct stat st;
    stat(path, &st);

    FILE *outs[2] = {stdout, a.out ? fopen(a.out, "w") : NULL};
    for (int f = 0; f < 2; f++) {
        FILE *o = outs[f];
        if (!o)
            continue;
        fprintf(o, "# Loader benchmark (bench/bench_loader.c)\n\n");
        fprintf(o, "%zu records, %.1f MiB of MD frames (seed %llu), store %.1f MiB with vlstore's "
                   "defaults; median of %d runs; batches of 64, read size 4 groups, prefetch "
                   "on. Command: `bench_loader --size-mib %llu --reps %d`.\n\n",
                w.n, w.total / 1048576.0, (unsigned long long)a.seed, st.st_size / 1048576.0,
                a.reps, (unsigned long long)a.size_mib, a.reps);
        fprintf(o, "| epoch | records/s | MB/s |\n|---|---:|---:|\n");
        for (int p = 0; p < NPH; p++)
            if (medm[p] > 0)
                fprintf(o, "| %s | %.0f | %.0f |\n", names[p], med[p], medm[p]);
            else
                fprintf(o, "| %s | %.0f | |\n", names[p], med[p]);
        double best = med[L1] > med[L2] ? med[L1] : med[L2];
        double bestn = med[L1N] > med[L2N] ? med[L1N] : med[L2N];
        fprintf(o, "\n| goal | measured | target |\n|---|---:|---:|\n");
        fprintf(o, "| loader (1 thread) / scan (iterate + get) | %.2f | >= 0.90 |\n",
                med[L1] / med[SCAN]);
        fprintf(o, "| loader (1 thread) / scan (chunk by chunk) | %.2f | >= 0.90 |\n",
                med[L1] / med[CSCAN]);
        fprintf(o, "| loader (2 threads) / scan (chunk by chunk) | %.2f | >= 0.90 |\n",
                med[L2] / med[CSCAN]);
        fprintf(o, "| loader (best, fresh) / LMDB shuffled epoch | %.2f | >= 1 |\n",
                best / med[LMDB]);
        fprintf(o, "| loader (best, next epoch) / LMDB shuffled epoch | %.2f | >= 1 |\n",
                bestn / med[LMDB]);
        fprintf(o, "| decode ceiling (2 threads) / LMDB shuffled epoch | %.2f | (bound) |\n",
                med[CEIL2] / med[LMDB]);
        fprintf(o, "| loader (2 threads, next epoch) / decode ceiling (2 threads) | %.2f | |\n",
                med[L2N] / med[CEIL2]);
        fprintf(o, "| loader (best) / one get per record | %.1f | >= 5 |\n", best / med[GET]);
        fprintf(o, "\nRecords failing the length/hash check: %llu.\n",
                (unsigned long long)bad_records);
    }
    if (outs[1])
        fclose(outs[1]);
    lm.ops->fini(&lm);
    if (!a.keep) {
        dir_remove(lm.dir);
        dir_remove(dir);
    }
    keytab_free(&kt);
    workload_free(&w);
    free(scan_out);
    free(perm);
    free(kptr);
    return bad_records ? 1 : 0;
}
