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
    r->loader_rps = NAN;
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

/* Checks one record delivered by an engine; counts and describes failures. */
static void check_record(result *r, const bench_workload *w, size_t idx, const void *buf,
                         uint64_t len, const char *phase)
{
    if (len == w->len[idx] && XXH3_64bits(buf, len) == w->hash[idx])
        return;
    if (r->bad++ == 0)
        snprintf(r->bad_what, sizeof r->bad_what, "%s: record %s: %s", phase,
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
    for (size_t b = 0; b < w->n; b += BENCH_BATCH) {
        size_t sum = 0;
        for (size_t k = b; k < w->n && k < b + BENCH_BATCH; k++)
            sum += w->len[p->perm[k]];
        if (sum > p->batch_cap)
            p->batch_cap = sum;
    }
    p->batch.cap = p->batch_cap;
    p->batch.dst = aligned_alloc(4096, (p->batch_cap + 4095) / 4096 * 4096);
    if (!p->batch.dst)
        return -1;
    memset(p->batch.dst, 0, p->batch_cap); /* fault the pages in before any timing */
    memset(p->buf, 0, w->max_len);
    return 0;
}

void plan_free(plan *p)
{
    keytab_free(&p->kt);
    free(p->kptr);
    free(p->gets);
    free(p->perm);
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
    for (size_t i = 0; i < w->n; i++) {
        if (!p->seen[i])
            missing++;
        else
            check_record(r, w, i, p->out + w->off[i], w->len[i], "scan");
    }
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

/* Runs the six phases for one engine. Returns 0, or -1 with e->err set. */
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
        t0 = now_sec();
        if (ops->get(e, w, idx, p->buf, w->max_len, &len) != 0)
            return -1;
        t1 = now_sec();
        p->lat[j] = (t1 - t0) * 1e6;
        check_record(r, w, idx, p->buf, len, "get");
        if (t1 - start > maxp) {
            j++;
            break;
        }
    }
    r->gets_done = j;
    r->get_p99 = percentile(p->lat, j, 0.99);
    r->get_p50 = percentile(p->lat, j, 0.50);
    note(r->name, "get     p50 %.1f us  p99 %.1f us  (%zu gets)", r->get_p50, r->get_p99, j);

    /* 5. shuffled epoch in batches of 64 */
    double busy = 0;
    size_t done = 0;
    start = now_sec();
    while (done < w->n) {
        size_t n = w->n - done < BENCH_BATCH ? w->n - done : BENCH_BATCH;
        const size_t *idx = p->perm + done;
        t0 = now_sec();
        if (ops->get_batch(e, w, idx, n, &p->batch) != 0)
            return -1;
        t1 = now_sec();
        busy += t1 - t0;
        for (size_t k = 0; k < n; k++) {
            if (p->batch.off[k] + p->batch.len[k] > p->batch.cap)
                return bench_fail(e, "batch span %zu lies outside the buffer", k);
            check_record(r, w, idx[k], p->batch.dst + p->batch.off[k], p->batch.len[k],
                         "epoch");
        }
        done += n;
        if (t1 - start > maxp)
            break;
    }
    r->epoch_done = done;
    r->epoch_rps = (double)done / busy;
    note(r->name, "epoch   %8.0f records/s  (%zu of %zu records)", r->epoch_rps, done, w->n);
    ops->close(e);

    /* 5b. the same epoch through the batch loader (vlstore engines) */
    if (ops->loader_epoch) {
        if (ops->loader_epoch(e, w, &p->kt, &r->loader_rps, &r->bad) != 0)
            return -1;
        note(r->name, "loader  %8.0f records/s", r->loader_rps);
    }

    /* 6. cold random gets: each one on a freshly opened store whose files left the cache */
    if (drop_caches())
        p->dropped = 1;
    start = now_sec();
    for (j = 0; j < p->ncold; j++) {
        size_t idx = p->cold[j], len = 0;
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
        check_record(r, w, idx, p->buf, len, "cold get");
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
