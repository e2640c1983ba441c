/*
 * phases.c — the plan every engine shares (keys, orders, buffers), the record check and the
 * timed phases of one engine (see the list at the top of vls_bench.c).
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

void result_init(result *r, const char *name)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->write_s = r->write_mbs = r->ratio = r->open_ms = r->scan_mbs = NAN;
    r->get_p50 = r->get_p99 = r->epoch_rps = r->cold_p50 = r->cold_open_p50 = NAN;
    r->block_rps = NAN;
}

const char *const phase_name[NPHASES] = {"scan", "get", "random epoch", "block epoch",
                                         "cold get"};

int result_clean(const result *r)
{
    if (r->failed || r->bad)
        return 0;
    for (int ph = 0; ph < NPHASES; ph++) {
        const tally *t = &r->t[ph];
        if (t->served != t->asked || t->missing || t->dups || t->bad || t->misplaced)
            return 0;
    }
    return 1;
}

/*-*************************************
 *  Helpers
 ***************************************/
static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)ceil(p * (double)n);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

/* Checks one record delivered by an engine (length and XXH3-64); counts it as served in
 * phase ph, and counts and describes a failure. */
static void check_record(result *r, const bench_workload *w, size_t idx, const void *buf,
                         uint64_t len, int ph)
{
    r->t[ph].served++;
    if (len == w->len[idx] && XXH3_64bits(buf, len) == w->hash[idx])
        return;
    r->t[ph].bad++;
    if (r->bad++ == 0)
        snprintf(r->bad_what, sizeof r->bad_what, "%s: record %s: %s", phase_name[ph],
                 workload_key(w, idx), len != w->len[idx] ? "wrong length" : "wrong bytes");
}


/* Writes 3 to /proc/sys/vm/drop_caches after sync(), when we may. Returns 1 if done. */
static int drop_caches(void)
{
    if (geteuid() != 0)
        return 0;
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t k = write(fd, "3\n", 2);
    close(fd);
    return k == 2;
}

static int plan_batch_buffer(plan *p);

int plan_make(plan *p, const bench_workload *w, const bench_args *a)
{
    memset(p, 0, sizeof *p);
    p->w = w;
    p->a = a;
    p->ngets = a->gets;
    p->ncold = a->cold_gets;
    size_t nl = p->ngets > p->ncold ? p->ngets : p->ncold;
    p->kptr = malloc(w->n * sizeof *p->kptr);
    p->gets = malloc((p->ngets + 1) * sizeof *p->gets);
    p->perm = malloc(w->n * sizeof *p->perm);
    p->cold = malloc((p->ncold + 1) * sizeof *p->cold);
    /* Page-aligned buffers for every engine: the kernel's copy for pread is about twice as
     * fast into a page-aligned buffer as into malloc's 16-byte-aligned one on some CPUs. */
    p->out = aligned_alloc(4096, (w->total + 4095) / 4096 * 4096);
    p->seen = malloc(w->n);
    p->buf = aligned_alloc(4096, ((size_t)w->max_len + 4095) / 4096 * 4096);
    p->lat = malloc((nl + 1) * sizeof *p->lat);
    p->lat2 = malloc((nl + 1) * sizeof *p->lat2);
    if (!p->kptr || !p->gets || !p->perm || !p->cold || !p->out || !p->seen || !p->buf ||
        !p->lat || !p->lat2)
        return -1;
    for (size_t i = 0; i < w->n; i++)
        p->kptr[i] = workload_key(w, i);
    if (keytab_build(&p->kt, w->n, p->kptr, w->klen) != 0)
        return -1;
    bench_rng rng;
    rng_seed(&rng, w->seed ^ 0x6765747367657473ull); /* "getsgets" */
    for (size_t j = 0; j < p->ngets; j++)
        p->gets[j] = (size_t)rng_below(&rng, w->n);
    rng_seed(&rng, w->seed ^ 0x65706f6368657063ull); /* "epochepc" */
    for (size_t i = 0; i < w->n; i++)
        p->perm[i] = i;
    for (size_t i = w->n - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&rng, i + 1);
        size_t t = p->perm[i];
        p->perm[i] = p->perm[j];
        p->perm[j] = t;
    }
    rng_seed(&rng, w->seed ^ 0x636f6c64636f6c64ull); /* "coldcold" */
    for (size_t j = 0; j < p->ncold; j++)
        p->cold[j] = (size_t)rng_below(&rng, w->n);
    memset(p->buf, 0, w->max_len);
    return plan_batch_buffer(p);
}

/* Sizes p->batch for the largest batch of either epoch order. */
static int plan_batch_buffer(plan *p)
{
    const bench_workload *w = p->w;
    size_t cap = 0, at = 0;
    for (size_t b = 0; b < w->n; b += BENCH_BATCH) {
        size_t sum = 0;
        for (size_t k = b; k < w->n && k < b + BENCH_BATCH; k++)
            sum += w->len[p->perm[k]];
        cap = sum > cap ? sum : cap;
    }
    for (size_t b = 0; b < p->nblock_batches; at += p->block_len[b++]) {
        size_t sum = 0;
        for (size_t k = at; k < at + p->block_len[b]; k++)
            sum += w->len[p->block[k]];
        cap = sum > cap ? sum : cap;
    }
    if (cap <= p->batch_cap)
        return 0;
    free(p->batch.dst);
    p->batch_cap = p->batch.cap = cap;
    p->batch.dst = aligned_alloc(4096, (cap + 4095) / 4096 * 4096);
    if (!p->batch.dst)
        return -1;
    memset(p->batch.dst, 0, cap); /* fault the pages in before any timing */
    return 0;
}

int plan_block_order(plan *p, const bench_config *cfg, const char *base)
{
#ifdef VLS_BENCH_NO_VLSTORE
    (void)p, (void)cfg, (void)base;
    return 0;
#else
    const bench_workload *w = p->w;
    bench_engine e;
    result r;
    memset(&e, 0, sizeof e);
    bench_epoch_log log = {.kt = &p->kt, .cap = w->n, .bcap = w->n};
    log.idx = malloc(w->n * sizeof *log.idx);
    log.batch_len = malloc(w->n * sizeof *log.batch_len);
    double secs;
    int rc = !log.idx || !log.batch_len ? -1 : 0;
    if (rc == 0)
        rc = engine_setup(&e, &r, &bench_engine_vlstore, cfg, base, "order-");
    if (rc == 0 && (rc = e.ops->write(&e, w)) == 0)
        rc = e.ops->loader_epoch(&e, w, &log, &secs);
    if (rc == 0 && (log.n != w->n || log.bad || log.nbatch > log.bcap)) {
        rc = bench_fail(&e, "the reference loader epoch served %zu of %zu records (%llu bad)",
                        log.n, w->n, (unsigned long long)log.bad);
    }
    memset(p->seen, 0, w->n);
    for (size_t k = 0; rc == 0 && k < log.n; k++) {
        if (log.idx[k] < 0 || p->seen[log.idx[k]]++)
            rc = bench_fail(&e, "the reference loader epoch served a record twice or one "
                            "the workload does not have");
    }
    if (rc == 0) {
        p->block = malloc(w->n * sizeof *p->block);
        p->block_len = malloc(log.nbatch * sizeof *p->block_len);
        if (!p->block || !p->block_len)
            rc = bench_fail(&e, "out of memory");
    }
    if (rc == 0) {
        for (size_t k = 0; k < log.n; k++)
            p->block[k] = (size_t)log.idx[k];
        memcpy(p->block_len, log.batch_len, log.nbatch * sizeof *p->block_len);
        p->nblock = log.n;
        p->nblock_batches = log.nbatch;
        if (plan_batch_buffer(p) != 0)
            rc = bench_fail(&e, "out of memory");
    }
    if (rc != 0)
        note("block order", "FAILED: %s", e.err);
    if (e.ops && e.ops->fini)
        e.ops->fini(&e);
    if (!p->a->keep)
        dir_remove(e.dir);
    free(log.idx);
    free(log.batch_len);
    return rc;
#endif
}

void plan_free(plan *p)
{
    keytab_free(&p->kt);
    free(p->kptr);
    free(p->gets);
    free(p->perm);
    free(p->block);
    free(p->block_len);
    free(p->cold);
    free(p->out);
    free(p->seen);
    free(p->buf);
    free(p->lat);
    free(p->lat2);
    free(p->batch.dst);
}

void note(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%-15s] ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* One timed write into an empty e->dir (made empty first when fresh is set): put every
 * record, durable commit, and fsync of the directory's new names. */
int timed_write(bench_engine *e, plan *p, int fresh, double *secs)
{
    if (fresh) {
        dir_remove(e->dir);
        if (dir_make(e->dir) != 0)
            return bench_fail(e, "mkdir %s: %s", e->dir, strerror(errno));
    }
    double t0 = now_sec();
    if (e->ops->write(e, p->w) != 0)
        return -1;
    if (fsync_path(e->dir, e->err, sizeof e->err) != 0) /* the new names, too */
        return -1;
    *secs = now_sec() - t0;
    return 0;
}

/* One timed scan on an open engine into p->out; every record is checked afterwards. */
int timed_scan(bench_engine *e, plan *p, result *r, double *secs)
{
    const bench_workload *w = p->w;
    memset(p->out, 0, w->total);
    memset(p->seen, 0, w->n);
    bench_scan_sink sink = {w, &p->kt, p->out, p->seen, 0, 0};
    double t0 = now_sec();
    if (e->ops->scan(e, w, &sink) != 0)
        return -1;
    *secs = now_sec() - t0;
    size_t missing = 0;
    tally *t = &r->t[PH_SCAN];
    t->asked += w->n;
    for (size_t i = 0; i < w->n; i++) {
        if (!p->seen[i])
            missing++;
        else
            check_record(r, w, i, p->out + w->off[i], w->len[i], PH_SCAN);
    }
    t->served += sink.unknown + sink.dups;
    t->missing += missing;
    t->dups += sink.dups;
    t->bad += sink.unknown;
    if (missing || sink.unknown || sink.dups)
        return bench_fail(e, "scan delivered %zu of %zu records (%llu unknown, %llu twice)",
                          w->n - missing, w->n, (unsigned long long)sink.unknown,
                          (unsigned long long)sink.dups);
    return 0;
}

/* Sets up engine e (ops, cfg, an empty directory base/prefix+name) and its result r, and
 * runs ops->init. 0, or -1 with e->err set. */
int engine_setup(bench_engine *e, result *r, const bench_engine_ops *ops,
                        const bench_config *cfg, const char *base, const char *prefix)
{
    memset(e, 0, sizeof *e);
    e->ops = ops;
    e->cfg = cfg;
    result_init(r, ops->name);
    snprintf(e->dir, sizeof e->dir, "%s/%s%s", base, prefix, ops->name);
    if (dir_make(e->dir) != 0)
        return bench_fail(e, "mkdir %s: %s", e->dir, strerror(errno));
    return ops->init(e);
}

/* Reads the records order[...] in batches (batch_len[0..nbatches), or BENCH_BATCH each when
 * batch_len is NULL, nbatches then counting records) with the engine's batch read, each
 * record checked after its call. *rps = records / time inside the calls; *done = records
 * read before the phase limit. */
int timed_batches(bench_engine *e, plan *p, result *r, int ph, const size_t *order,
                  const uint32_t *batch_len, size_t nbatches, double *rps, size_t *done)
{
    const bench_workload *w = p->w;
    size_t total = batch_len ? p->nblock : nbatches, at = 0;
    double busy = 0, start = now_sec();
    for (size_t b = 0; at < total; b++) {
        size_t n = batch_len ? batch_len[b] : (total - at < BENCH_BATCH ? total - at : BENCH_BATCH);
        const size_t *idx = order + at;
        r->t[ph].asked += n;
        double t0 = now_sec();
        if (e->ops->get_batch(e, w, idx, n, &p->batch) != 0)
            return -1;
        double t1 = now_sec();
        busy += t1 - t0;
        for (size_t k = 0; k < n; k++) {
            if (p->batch.off[k] + p->batch.len[k] > p->batch.cap)
                return bench_fail(e, "batch span %zu lies outside the buffer", k);
            check_record(r, w, idx[k], p->batch.dst + p->batch.off[k], p->batch.len[k], ph);
        }
        at += n;
        if (t1 - start > p->a->max_phase)
            break;
    }
    *done = at;
    *rps = (double)at / busy;
    return 0;
}

/* The block epoch through the engine's own loader: its log is held against the reference
 * order (plan_block_order): every position and batch the same, every record once, intact. */
int loader_block_epoch(bench_engine *e, plan *p, result *r)
{
    const bench_workload *w = p->w;
    tally *t = &r->t[PH_BLOCK];
    bench_epoch_log log = {.kt = &p->kt, .cap = w->n, .bcap = p->nblock_batches};
    log.idx = malloc(w->n * sizeof *log.idx);
    log.batch_len = malloc((p->nblock_batches + 1) * sizeof *log.batch_len);
    double secs = 0;
    int rc = !log.idx || !log.batch_len ? bench_fail(e, "out of memory") : 0;
    if (rc == 0)
        rc = e->ops->loader_epoch(e, w, &log, &secs);
    if (rc == 0) {
        r->block_loader = 1;
        r->block_done = log.n;
        r->block_rps = (double)log.n / secs;
        t->asked += p->nblock;
        t->served += log.n;
        t->bad += log.bad;
        memset(p->seen, 0, w->n);
        size_t distinct = 0, stored = log.n < log.cap ? log.n : log.cap;
        for (size_t k = 0; k < stored; k++) {
            long i = log.idx[k];
            if (i < 0)
                t->bad++;
            else if (p->seen[i]++)
                t->dups++;
            else
                distinct++;
            if (k >= p->nblock || i != (long)p->block[k])
                t->misplaced++;
        }
        t->misplaced += log.n - stored;
        t->missing += p->nblock - distinct;
        for (size_t b = 0; b < log.nbatch && b < log.bcap; b++)
            t->misplaced += log.batch_len[b] != p->block_len[b];
        if (log.nbatch != p->nblock_batches)
            t->misplaced++;
        uint64_t wrong = t->bad + t->dups + t->missing + t->misplaced;
        if (wrong && r->bad == 0)
            snprintf(r->bad_what, sizeof r->bad_what, "block epoch (loader): %.200s",
                     log.bad_what[0] ? log.bad_what : "order or batches differ from the "
                                                      "reference");
        r->bad += wrong;
    }
    free(log.idx);
    free(log.batch_len);
    return rc;
}

/* Runs the seven phases for one engine. Returns 0, or -1 with e->err set. */
int run_engine(bench_engine *e, plan *p, result *r)
{
    const bench_workload *w = p->w;
    const bench_engine_ops *ops = e->ops;
    const double maxp = p->a->max_phase;
    double t0, t1;

    /* 1. write (median of reps; each rep starts from an empty directory) */
    double reps_s[9];
    for (int rep = 0; rep < p->a->reps; rep++)
        if (timed_write(e, p, rep > 0, &reps_s[rep]) != 0)
            return -1;
    r->write_s = percentile(reps_s, (size_t)p->a->reps, 0.5);
    r->write_mbs = (double)w->total / r->write_s / 1e6;
    note(r->name, "write   %8.1f MB/s  (median %.2f s of %d)", r->write_mbs, r->write_s,
         p->a->reps);

    /* 2. size */
    r->file_bytes = dir_bytes(e->dir);
    r->ratio = r->file_bytes ? (double)w->total / (double)r->file_bytes : NAN;

    /* 3. warm scan */
    if (dir_prewarm(e->dir) < 0)
        return bench_fail(e, "cannot read the files in %s to warm the page cache", e->dir);
    t0 = now_sec();
    if (ops->open(e, w) != 0)
        return -1;
    r->open_ms = (now_sec() - t0) * 1e3;
    for (int rep = 0; rep < p->a->reps; rep++) {
        if (rep > 0) { /* in-process caches start empty on every scan; the page cache stays */
            ops->close(e);
            if (ops->open(e, w) != 0)
                return -1;
        }
        if (timed_scan(e, p, r, &reps_s[rep]) != 0)
            return -1;
    }
    r->scan_mbs = (double)w->total / percentile(reps_s, (size_t)p->a->reps, 0.5) / 1e6;
    note(r->name, "scan    %8.1f MB/s", r->scan_mbs);

    /* 4. warm random gets */
    double start = now_sec();
    size_t j;
    for (j = 0; j < p->ngets; j++) {
        size_t idx = p->gets[j], len = 0;
        r->t[PH_GET].asked++;
        t0 = now_sec();
        if (ops->get(e, w, idx, p->buf, w->max_len, &len) != 0)
            return -1;
        t1 = now_sec();
        p->lat[j] = (t1 - t0) * 1e6;
        check_record(r, w, idx, p->buf, len, PH_GET);
        if (t1 - start > maxp) {
            j++;
            break;
        }
    }
    r->gets_done = j;
    r->get_p99 = percentile(p->lat, j, 0.99);
    r->get_p50 = percentile(p->lat, j, 0.50);
    note(r->name, "get     p50 %.1f us  p99 %.1f us  (%zu gets)", r->get_p50, r->get_p99, j);

    /* 5. random epoch: a random permutation of all keys in batches of 64 */
    if (timed_batches(e, p, r, PH_EPOCH, p->perm, NULL, w->n, &r->epoch_rps,
                      &r->epoch_done) != 0)
        return -1;
    note(r->name, "epoch   %8.0f records/s  (%zu of %zu records, random permutation)",
         r->epoch_rps, r->epoch_done, w->n);
    ops->close(e);

    /* 6. block epoch: the loader's order and batches, through the engine's own loader if it
     * has one, else through its batch read */
    if (p->nblock && ops->loader_epoch) {
        if (loader_block_epoch(e, p, r) != 0)
            return -1;
    } else if (p->nblock) {
        if (ops->open(e, w) != 0)
            return -1;
        if (timed_batches(e, p, r, PH_BLOCK, p->block, p->block_len, p->nblock_batches,
                          &r->block_rps, &r->block_done) != 0)
            return -1;
        ops->close(e);
    }
    if (p->nblock)
        note(r->name, "block   %8.0f records/s  (%zu of %zu records, %s)", r->block_rps,
             r->block_done, p->nblock, r->block_loader ? "its loader" : "batch reads");

    /* 7. cold random gets: each one on a freshly opened store whose files left the cache */
    if (drop_caches())
        p->dropped = 1;
    start = now_sec();
    for (j = 0; j < p->ncold; j++) {
        size_t idx = p->cold[j], len = 0;
        r->t[PH_COLD].asked++;
        if (dir_evict(e->dir) < 0)
            return bench_fail(e, "posix_fadvise(DONTNEED) on the files in %s failed", e->dir);
        t0 = now_sec();
        if (ops->open(e, w) != 0)
            return -1;
        double tm = now_sec();
        if (ops->get(e, w, idx, p->buf, w->max_len, &len) != 0)
            return -1;
        t1 = now_sec();
        ops->close(e);
        p->lat[j] = (t1 - tm) * 1e6;
        p->lat2[j] = (tm - t0) * 1e6;
        check_record(r, w, idx, p->buf, len, PH_COLD);
        if (t1 - start > maxp) {
            j++;
            break;
        }
    }
    r->cold_done = j;
    r->cold_p50 = percentile(p->lat, j, 0.50);
    r->cold_open_p50 = percentile(p->lat2, j, 0.50);
    note(r->name, "cold    p50 %.1f us  (open p50 %.1f us, %zu gets)", r->cold_p50,
         r->cold_open_p50, j);
    return 0;
}
