/*
 * vls_bench.c — vlstore against its peers and its limits on one MD workload (issue 3).
 *
 * For each engine, in one run and on the same records:
 *   1. write   put every record, durable commit (fsync) at the end          -> MB/s
 *   2. size    bytes of the engine's files; ratio = record bytes / file bytes
 *   3. scan    warm (files in page cache): every record, in storage order   -> MB/s
 *   4. get     warm: 20,000 random keys, one record each                    -> p50, p99 us
 *   5. epoch   warm: a random permutation of all keys in batches of 64      -> records/s
 *   6. cold    for each of 1,000 random keys: evict the files from the page cache, open,
 *              time one get, close                                          -> p50 us
 * Every record read is checked (length and XXH3-64 against the generated one) outside the
 * timed spans. docs/BENCH.md explains each measurement; `make bench` runs this program.
 *
 * Output: a table on stdout; results.md, results.dat and results.png (gnuplot, plot.gnuplot)
 * in --out (default: the bench/ source directory).
 */
#include "bench.h"

#include <blosc.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hdf5.h>
#include <lmdb.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#ifndef VLS_BENCH_NO_VLSTORE
#include <vlstore.h>
#endif

#ifndef VLS_BENCH_SOURCE_DIR
#define VLS_BENCH_SOURCE_DIR "bench"
#endif

extern char **environ;

/*-*************************************
 *  Engines
 ***************************************/
typedef struct engine_entry {
    const bench_engine_ops *ops;
    int in_default;
} engine_entry;

static const engine_entry engines[] = {
#ifndef VLS_BENCH_NO_VLSTORE
    {&bench_engine_vlstore, 1},
    {&bench_engine_vlstore_lz4, 1},
    {&bench_engine_vlstore_zstd5, 1},
    {&bench_engine_vlstore_none, 1},
    {&bench_engine_vlstore_ra, 1},
    {&bench_engine_vlstore_blosclz, 0},
#endif
    {&bench_engine_lmdb, 1},
    {&bench_engine_sqlite, 1},
    {&bench_engine_sqlite_mmap, 1},
    {&bench_engine_hdf5, 1},
    {&bench_engine_hdf5_blosc, 1},
    {&bench_engine_raw_pread, 1},
    {&bench_engine_raw_blosc, 1},
};
#define NENGINES (sizeof engines / sizeof engines[0])

/*-*************************************
 *  Options
 ***************************************/
typedef struct bench_args {
    uint64_t size_mib;
    int quick;
    const char *engines;
    const char *dir;
    const char *out;
    int keep;
    int threads;
    uint64_t seed;
    size_t gets;
    size_t cold_gets;
    double max_phase;
    int reps; /* write and scan repetitions; the median is reported */
    int plot;
    int cache_mib; /* -1: vlstore's default */
} bench_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vls_bench [options]\n"
            "  --size-mib N       workload size in MiB (default 512)\n"
            "  --quick            64 MiB, 5,000 gets, 300 cold gets, 10 s per phase\n"
            "  --engines LIST     comma-separated engine names, or 'all' (default: all but the\n"
            "                     ones marked *)\n"
            "  --dir DIR          where the stores go (a fresh vls_bench.XXXXXX inside DIR;\n"
            "                     default $TMPDIR or /tmp)\n"
            "  --keep             keep the stores after the run\n"
            "  --threads N        threads for vlstore and Blosc (default 1)\n"
            "  --seed S           workload seed (default 42)\n"
            "  --gets N           warm random gets (default 20000)\n"
            "  --cold-gets N      cold random gets (default 1000)\n"
            "  --cache-mib N      in-process cache given to every engine that has one\n"
            "                     (default: vlstore's default cache_bytes)\n"
            "  --reps N           write and scan N times (1..9), report the median (default 3)\n"
            "  --max-phase-sec S  stop a get/epoch/cold phase after S seconds and report the\n"
            "                     part done, marked ~ (default 30)\n"
            "  --out DIR          where results.md/.dat/.png go (default %s)\n"
            "  --no-plot          do not run gnuplot\n"
            "engines:\n",
            VLS_BENCH_SOURCE_DIR);
    for (size_t i = 0; i < NENGINES; i++)
        fprintf(f, "  %-16s%s %s\n", engines[i].ops->name, engines[i].in_default ? " " : "*",
                engines[i].ops->summary);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    enum { O_SIZE = 256, O_QUICK, O_ENGINES, O_DIR, O_KEEP, O_THREADS, O_SEED, O_GETS, O_COLD,
           O_MAXP, O_OUT, O_NOPLOT, O_CACHE, O_REPS, O_HELP };
    static const struct option lo[] = {
        {"size-mib", required_argument, NULL, O_SIZE},
        {"quick", no_argument, NULL, O_QUICK},
        {"engines", required_argument, NULL, O_ENGINES},
        {"dir", required_argument, NULL, O_DIR},
        {"keep", no_argument, NULL, O_KEEP},
        {"threads", required_argument, NULL, O_THREADS},
        {"seed", required_argument, NULL, O_SEED},
        {"gets", required_argument, NULL, O_GETS},
        {"cold-gets", required_argument, NULL, O_COLD},
        {"max-phase-sec", required_argument, NULL, O_MAXP},
        {"out", required_argument, NULL, O_OUT},
        {"no-plot", no_argument, NULL, O_NOPLOT},
        {"cache-mib", required_argument, NULL, O_CACHE},
        {"reps", required_argument, NULL, O_REPS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int size_set = 0, gets_set = 0, cold_set = 0, maxp_set = 0;
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_SIZE:
            if (parse_u64(optarg, &a->size_mib) || a->size_mib == 0 || a->size_mib > (1u << 20))
                goto bad;
            size_set = 1;
            break;
        case O_QUICK: a->quick = 1; break;
        case O_ENGINES: a->engines = optarg; break;
        case O_DIR: a->dir = optarg; break;
        case O_KEEP: a->keep = 1; break;
        case O_THREADS:
            if (parse_u64(optarg, &v) || v < 1 || v > 256)
                goto bad;
            a->threads = (int)v;
            break;
        case O_SEED:
            if (parse_u64(optarg, &a->seed))
                goto bad;
            break;
        case O_GETS:
            if (parse_u64(optarg, &v) || v > 100000000)
                goto bad;
            a->gets = (size_t)v;
            gets_set = 1;
            break;
        case O_COLD:
            if (parse_u64(optarg, &v) || v > 100000000)
                goto bad;
            a->cold_gets = (size_t)v;
            cold_set = 1;
            break;
        case O_MAXP:
            if (parse_u64(optarg, &v) || v < 1)
                goto bad;
            a->max_phase = (double)v;
            maxp_set = 1;
            break;
        case O_OUT: a->out = optarg; break;
        case O_NOPLOT: a->plot = 0; break;
        case O_CACHE:
            if (parse_u64(optarg, &v) || v > (1u << 20))
                goto bad;
            a->cache_mib = (int)v;
            break;
        case O_REPS:
            if (parse_u64(optarg, &v) || v < 1 || v > 9)
                goto bad;
            a->reps = (int)v;
            break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vls_bench: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (a->quick) {
        if (!size_set)
            a->size_mib = 64;
        if (!gets_set)
            a->gets = 5000;
        if (!cold_set)
            a->cold_gets = 300;
        if (!maxp_set)
            a->max_phase = 10;
    }
    return 0;
bad:
    fprintf(stderr, "vls_bench: bad value '%s' for an option\n", optarg);
    return -1;
}

/* Resolves --engines into a list of ops; returns the count or -1. */
static int select_engines(const char *list, const bench_engine_ops **out)
{
    int n = 0;
    if (!list) {
        for (size_t i = 0; i < NENGINES; i++)
            if (engines[i].in_default)
                out[n++] = engines[i].ops;
        return n;
    }
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < NENGINES; i++)
            out[n++] = engines[i].ops;
        return n;
    }
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t i;
        for (i = 0; i < NENGINES; i++) {
            const char *nm = engines[i].ops->name;
            if (strlen(nm) == len && strncmp(nm, p, len) == 0)
                break;
        }
        if (i == NENGINES) {
            fprintf(stderr, "vls_bench: unknown engine '%.*s' (see --help)%s\n", (int)len, p,
#ifdef VLS_BENCH_NO_VLSTORE
                    strncmp(p, "vlstore", 7) == 0 ? "; this build has no vlstore engines" : ""
#else
                    ""
#endif
            );
            return -1;
        }
        for (int j = 0; j < n; j++)
            if (out[j] == engines[i].ops)
                goto next; /* named twice */
        out[n++] = engines[i].ops;
    next:
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0) {
        fprintf(stderr, "vls_bench: --engines names no engine\n");
        return -1;
    }
    return n;
}

/*-*************************************
 *  Results
 ***************************************/
typedef struct result {
    const char *name;
    char settings[1024];
    char err[2048];
    int failed;
    double write_s, write_mbs;
    uint64_t file_bytes;
    double ratio;
    double open_ms;
    double scan_mbs;
    double get_p50, get_p99;
    size_t gets_done;
    double epoch_rps;
    size_t epoch_done;
    double loader_rps; /* vlstore engines: the epoch through the batch loader */
    double cold_p50, cold_open_p50;
    size_t cold_done;
    uint64_t bad;      /* records that failed the check */
    char bad_what[256]; /* the first one */
} result;

static void result_init(result *r, const char *name)
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

/* Nearest-rank percentile of v[0..n), sorted in place. */
static double percentile(double *v, size_t n, double p)
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

/* Shared inputs of the phases, the same for every engine. */
typedef struct plan {
    const bench_workload *w;
    const bench_args *a;
    bench_keytab kt;      /* driver's key -> index */
    const char **kptr;
    size_t *gets;         /* warm get indices */
    size_t ngets;
    size_t *perm;         /* epoch order */
    size_t *cold;         /* cold get indices */
    size_t ncold;
    size_t batch_cap;     /* largest batch in bytes */
    uint8_t *out;         /* scan output, w->total bytes */
    uint8_t *seen;        /* n */
    uint8_t *buf;         /* one record */
    bench_batch batch;
    double *lat;          /* max(ngets, ncold) latencies */
    double *lat2;
    int dropped;          /* drop_caches worked at least once */
    /* vlstore against raw-blosc in alternating rounds (run_paired); rounds = 0: not run */
    int paired_rounds;
    double paired_write_q, paired_scan_q; /* median over rounds of vlstore / raw-blosc speed */
    double paired_write_mbs[2], paired_scan_mbs[2]; /* medians: [0] vlstore, [1] raw-blosc */
    double paired_hash_s; /* XXH3 (vls_hash64) over vlstore's file, 4 MiB at a time */
} plan;

static int plan_make(plan *p, const bench_workload *w, const bench_args *a)
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

static void plan_free(plan *p)
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

static void note(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const char *name, const char *fmt, ...)
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
static int timed_write(bench_engine *e, plan *p, int fresh, double *secs)
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
static int timed_scan(bench_engine *e, plan *p, result *r, double *secs)
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
static int engine_setup(bench_engine *e, result *r, const bench_engine_ops *ops,
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

/* Issue 3 asks for vlstore's write and scan as a share of raw Blosc's. Run one engine after
 * the other, minutes apart, and the other tenants of a shared machine move that share by
 * ±20 % between runs. Here the two alternate: each round writes and scans vlstore and raw
 * Blosc back to back (who goes first alternates too), and the share is the median over
 * rounds of the round's own ratio. */
static int run_paired(const bench_engine_ops *const ops[2], const bench_config *cfg,
                      const char *base, plan *p)
{
    int rounds = 2 * p->a->reps + 1 > 9 ? 9 : 2 * p->a->reps + 1;
    bench_engine e[2];
    result r[2];
    double ws[2][9], ss[2][9], wq[9], sq[9];
    int rc = 0, ready[2] = {0, 0};
    for (int i = 0; i < 2 && rc == 0; i++)
        ready[i] = (rc = engine_setup(&e[i], &r[i], ops[i], cfg, base, "paired-")) == 0;
    for (int k = 0; k < rounds && rc == 0; k++)
        for (int j = 0; j < 2 && rc == 0; j++) {
            int i = (k + j) % 2;
            if ((rc = timed_write(&e[i], p, 1, &ws[i][k])) != 0)
                break;
            if (dir_prewarm(e[i].dir) < 0) {
                rc = bench_fail(&e[i], "cannot read the files in %s", e[i].dir);
                break;
            }
            if ((rc = ops[i]->open(&e[i], p->w)) != 0)
                break;
            rc = timed_scan(&e[i], p, &r[i], &ss[i][k]);
            ops[i]->close(&e[i]);
        }
#ifndef VLS_BENCH_NO_VLSTORE
    /* What checking every chunk costs: vlstore hashes each chunk's compressed bytes once per
     * handle; raw Blosc checks nothing. Timed over the whole file held in memory. */
    if (rc == 0) {
        uint64_t n = dir_bytes(e[0].dir);
        unsigned char *buf = n ? malloc(n) : NULL;
        double best = 0;
        if (buf && dir_read_all(e[0].dir, buf, n) == 0)
            for (int t = 0; t < 5; t++) {
                double t0 = now_sec();
                uint64_t h = 0;
                for (uint64_t at = 0; at < n; at += (uint64_t)4 << 20)
                    h ^= vls_hash64(buf + at, n - at < ((uint64_t)4 << 20) ? (size_t)(n - at)
                                                                             : (size_t)4 << 20);
                double dt = now_sec() - t0 + (double)(h & 1) * 1e-12; /* keep h alive */
                if (t == 0 || dt < best)
                    best = dt;
            }
        p->paired_hash_s = best;
        free(buf);
    }
#endif
    for (int i = 0; i < 2; i++) {
        if (rc == 0 && r[i].bad)
            rc = bench_fail(&e[i], "%llu records failed the check in the paired rounds; "
                            "first: %s", (unsigned long long)r[i].bad, r[i].bad_what);
        if (rc != 0 && e[i].err[0])
            note(ops[i]->name, "paired rounds FAILED: %s", e[i].err);
        if (ready[i] && ops[i]->fini)
            ops[i]->fini(&e[i]);
        if (!p->a->keep)
            dir_remove(e[i].dir);
    }
    if (rc != 0)
        return -1;
    for (int k = 0; k < rounds; k++) {
        wq[k] = ws[1][k] / ws[0][k]; /* speed ratio = time ratio, inverted */
        sq[k] = ss[1][k] / ss[0][k];
    }
    double total = (double)p->w->total;
    p->paired_rounds = rounds;
    p->paired_write_q = percentile(wq, (size_t)rounds, 0.5);
    p->paired_scan_q = percentile(sq, (size_t)rounds, 0.5);
    for (int i = 0; i < 2; i++) {
        p->paired_write_mbs[i] = total / percentile(ws[i], (size_t)rounds, 0.5) / 1e6;
        p->paired_scan_mbs[i] = total / percentile(ss[i], (size_t)rounds, 0.5) / 1e6;
    }
    note("paired", "%d rounds: write %.0f %% of raw-blosc, scan %.0f %%", rounds,
         100 * p->paired_write_q, 100 * p->paired_scan_q);
    return 0;
}

/* Runs the six phases for one engine. Returns 0, or -1 with e->err set. */
static int run_engine(bench_engine *e, plan *p, result *r)
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

/*-*************************************
 *  Reporting
 ***************************************/
/* A number for the table: "-" when absent, "~" in front when the phase was cut short. */
static const char *num(char *buf, size_t cap, double v, int prec, int partial)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%s%.*f", partial ? "~" : "", prec, v);
    return buf;
}

typedef struct row {
    char c[11][32];
} row;

#define NCOLS 11
static const char *const col_head[NCOLS] = {"engine",      "write MB/s",   "size MiB",
                                            "ratio",       "scan MB/s",    "get p50 us",
                                            "get p99 us",  "epoch rec/s",  "loader rec/s",
                                            "cold p50 us", "check"};

static void make_row(const result *r, const bench_workload *w, const plan *p, row *o)
{
    snprintf(o->c[0], sizeof o->c[0], "%s", r->name);
    num(o->c[1], 32, r->write_mbs, 1, 0);
    num(o->c[2], 32, r->file_bytes ? (double)r->file_bytes / 1048576.0 : NAN, 1, 0);
    num(o->c[3], 32, r->ratio, 3, 0);
    num(o->c[4], 32, r->scan_mbs, 1, 0);
    int gp = r->gets_done < p->ngets, ep = r->epoch_done < w->n, cp = r->cold_done < p->ncold;
    num(o->c[5], 32, r->get_p50, 1, gp);
    num(o->c[6], 32, r->get_p99, 1, gp);
    num(o->c[7], 32, r->epoch_rps, 0, ep);
    num(o->c[8], 32, r->loader_rps, 0, 0);
    num(o->c[9], 32, r->cold_p50, 1, cp);
    if (r->failed)
        snprintf(o->c[10], 32, "FAILED");
    else if (r->bad)
        snprintf(o->c[10], 32, "%llu BAD", (unsigned long long)r->bad);
    else
        snprintf(o->c[10], 32, "ok");
}

static void print_table(FILE *f, const result *res, int nres, const bench_workload *w,
                        const plan *p, int markdown)
{
    row rows[64];
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        width[c] = strlen(col_head[c]);
    for (int i = 0; i < nres; i++) {
        make_row(&res[i], w, p, &rows[i]);
        for (int c = 0; c < NCOLS; c++)
            if (strlen(rows[i].c[c]) > width[c])
                width[c] = strlen(rows[i].c[c]);
    }
    const char *sep = markdown ? " | " : "  ";
    if (markdown)
        fputs("| ", f);
    for (int c = 0; c < NCOLS; c++)
        fprintf(f, c == 0 ? "%-*s%s" : "%*s%s", (int)width[c], col_head[c],
                c < NCOLS - 1 ? sep : (markdown ? " |\n" : "\n"));
    if (markdown) {
        fputs("|", f);
        for (int c = 0; c < NCOLS; c++)
            fprintf(f, "%s%.*s|", c == 0 ? ":" : "", (int)width[c] + 1,
                    "------------------------------------");
        fputs("\n", f);
    } else {
        size_t total = 0;
        for (int c = 0; c < NCOLS; c++)
            total += width[c] + 2;
        for (size_t k = 0; k + 2 < total; k++)
            fputc('-', f);
        fputc('\n', f);
    }
    for (int i = 0; i < nres; i++) {
        if (markdown)
            fputs("| ", f);
        for (int c = 0; c < NCOLS; c++)
            fprintf(f, c == 0 ? "%-*s%s" : "%*s%s", (int)width[c], rows[i].c[c],
                    c < NCOLS - 1 ? sep : (markdown ? " |\n" : "\n"));
    }
}

static void read_line_field(const char *file, const char *field, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    char line[512];
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0) {
            char *v = strchr(line, ':');
            if (!v)
                continue;
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, cap, "%s", v);
            break;
        }
    }
    fclose(f);
}

static const char *fs_name(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return "unknown";
    switch ((unsigned long)sf.f_type) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs (cold reads are not cold!)";
    case 0x794c7630: return "overlayfs";
    case 0x6969: return "nfs";
    case 0x2fc12fc1: return "zfs";
    case 0xF2F52010: return "f2fs";
    default: return "other";
    }
}

static const result *find_result(const result *res, int nres, const char *name)
{
    for (int i = 0; i < nres; i++)
        if (strcmp(res[i].name, name) == 0 && !res[i].failed)
            return &res[i];
    return NULL;
}

/* The comparisons issue 3 asks for, when the engines involved ran. */
static void write_targets(FILE *f, const result *res, int nres, const plan *p)
{
    const result *v = find_result(res, nres, "vlstore");
    const result *rb = find_result(res, nres, "raw-blosc");
    const result *rp = find_result(res, nres, "raw-pread");
    if (!v || (!rb && !rp))
        return;
    fprintf(f, "\n### vlstore (defaults) against the limits\n\n");
    fprintf(f, "| comparison | vlstore | limit | vlstore / limit | target |\n"
               "|:--|--:|--:|--:|:--|\n");
    if (rb) {
        double q = v->write_mbs / rb->write_mbs;
        fprintf(f, "| write MB/s vs raw-blosc | %.1f | %.1f | %.0f %% | >= 90 %%: %s |\n",
                v->write_mbs, rb->write_mbs, 100 * q, q >= 0.90 ? "met" : "**not met**");
        q = v->scan_mbs / rb->scan_mbs;
        fprintf(f, "| scan MB/s vs raw-blosc decode | %.1f | %.1f | %.0f %% | >= 95 %%: %s |\n",
                v->scan_mbs, rb->scan_mbs, 100 * q, q >= 0.95 ? "met" : "**not met**");
        if (p->paired_rounds) {
            q = p->paired_write_q;
            fprintf(f, "| write, alternating rounds (median of %d) | %.1f | %.1f | %.0f %% | "
                    ">= 90 %%: %s |\n", p->paired_rounds, p->paired_write_mbs[0],
                    p->paired_write_mbs[1], 100 * q, q >= 0.90 ? "met" : "**not met**");
            q = p->paired_scan_q;
            fprintf(f, "| scan, alternating rounds (median of %d) | %.1f | %.1f | %.0f %% | "
                    ">= 95 %%: %s |\n", p->paired_rounds, p->paired_scan_mbs[0],
                    p->paired_scan_mbs[1], 100 * q, q >= 0.95 ? "met" : "**not met**");
            if (p->paired_hash_s > 0) {
                double total = (double)p->w->total;
                double lim = total / (total / (p->paired_scan_mbs[1] * 1e6) + p->paired_hash_s);
                fprintf(f, "| scan vs raw-blosc decode + checksum of the compressed bytes "
                        "(%.1f ms) | %.1f | %.1f | %.0f %% | |\n", p->paired_hash_s * 1e3,
                        p->paired_scan_mbs[0], lim / 1e6, 100 * p->paired_scan_mbs[0] * 1e6 / lim);
            }
        }
        fprintf(f, "| ratio vs raw-blosc | %.3f | %.3f | %.0f %% | |\n", v->ratio, rb->ratio,
                100 * v->ratio / rb->ratio);
        fprintf(f, "| epoch records/s vs naive Blosc gets | %.0f | %.0f | %.1fx | |\n",
                v->epoch_rps, rb->epoch_rps, v->epoch_rps / rb->epoch_rps);
    }
    const result *lm = find_result(res, nres, "lmdb");
    if (lm && !isnan(v->loader_rps)) {
        double q = v->loader_rps / lm->epoch_rps;
        fprintf(f, "| loader epoch records/s vs LMDB epoch | %.0f | %.0f | %.2fx | >= 1x: %s |\n",
                v->loader_rps, lm->epoch_rps, q, q >= 1 ? "met" : "**not met**");
    }
    if (rp) {
        fprintf(f, "| epoch records/s vs raw-pread | %.0f | %.0f | %.0f %% | |\n", v->epoch_rps,
                rp->epoch_rps, 100 * v->epoch_rps / rp->epoch_rps);
        fprintf(f, "| warm get p50 us vs raw-pread | %.1f | %.1f | %.1fx | |\n", v->get_p50,
                rp->get_p50, v->get_p50 / rp->get_p50);
    }
}

/* The read-ahead of the block device holding dir (it decides what a cold mmap fault costs). */
static long dev_readahead_kb(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return -1;
    char p[128];
    for (int i = 0; i < 2; i++) {
        /* a whole disk, then the disk of a partition */
        snprintf(p, sizeof p, "/sys/dev/block/%u:%u/%squeue/read_ahead_kb", major(st.st_dev),
                 minor(st.st_dev), i ? "../" : "");
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        long kb = -1;
        if (fscanf(f, "%ld", &kb) != 1)
            kb = -1;
        fclose(f);
        if (kb >= 0)
            return kb;
    }
    return -1;
}

static int write_results(const char *outdir, const result *res, int nres,
                         const bench_engine *eng, const bench_workload *w, const plan *p,
                         const bench_config *cfg, const char *base, const char *cmdline,
                         double gen_s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/results.md", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vls_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    char cpu[256], mem[64], date[64];
    read_line_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_line_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tmv);
    struct utsname un;
    if (uname(&un) != 0)
        memset(&un, 0, sizeof un);
    unsigned h5maj = 0, h5min = 0, h5rel = 0;
    H5get_libversion(&h5maj, &h5min, &h5rel);
    int mmaj = 0, mmin = 0, mpat = 0;
    mdb_version(&mmaj, &mmin, &mpat);
    uint32_t minlen = UINT32_MAX;
    for (size_t i = 0; i < w->n; i++)
        if (w->len[i] < minlen)
            minlen = w->len[i];

    fprintf(f, "# vlstore benchmark results\n\n");
    fprintf(f, "Generated by `%s` on %s. What each column measures, and how to run the "
               "benchmark: [docs/BENCH.md](../docs/BENCH.md).\n\n",
            cmdline, date);
    fprintf(f, "## Run\n\n");
    fprintf(f, "- Workload: %zu records (MD frames) in %zu systems, %.1f MiB of records "
               "(min %u B, mean %.0f B, max %u B), keys `sys%%05u/%%05u`, seed %llu "
               "(generated in %.1f s)\n",
            w->n, w->nsys, (double)w->total / 1048576.0, minlen, (double)w->total / (double)w->n,
            w->max_len, (unsigned long long)w->seed, gen_s);
    fprintf(f, "- Threads: %d (vlstore, Blosc); in-process cache budget: %llu MiB for every "
               "engine that has one (vlstore cache_bytes, SQLite cache_size, HDF5 chunk cache)\n",
            cfg->threads, (unsigned long long)(cfg->cache_bytes >> 20));
    fprintf(f, "- Write and scan: median of %d runs; warm gets: %zu random keys; epoch: all %zu "
               "keys shuffled, batches of %d; cold gets: %zu random keys; a phase stops after "
               "%.0f s (then marked ~)\n",
            p->a->reps, p->ngets, w->n, BENCH_BATCH, p->ncold, p->a->max_phase);
    long ra = dev_readahead_kb(base);
    char rabuf[64] = "unknown";
    if (ra >= 0)
        snprintf(rabuf, sizeof rabuf, "%ld KiB", ra);
    fprintf(f, "- Stores in `%s` (%s, device read-ahead %s); page cache eviction: "
               "posix_fadvise(DONTNEED) before every cold get%s\n",
            base, fs_name(base), rabuf,
            p->dropped ? ", plus `echo 3 > /proc/sys/vm/drop_caches` at the start of each "
                         "cold phase"
                       : " (drop_caches not available: not root)");
    fprintf(f, "\n## Machine\n\n");
    fprintf(f, "- CPU: %s, %ld online cores; memory %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
            mem);
    fprintf(f, "- Kernel: %s %s %s\n", un.sysname, un.release, un.machine);
    fprintf(f, "- Libraries: vlstore %s, Blosc %s, LMDB %d.%d.%d, SQLite %s, HDF5 %u.%u.%u, "
               "xxHash %u\n",
#ifdef VLS_BENCH_NO_VLSTORE
            "(not built)",
#else
            VLS_VERSION_STRING,
#endif
            blosc_get_version_string(), mmaj, mmin, mpat, sqlite3_libversion(), h5maj, h5min,
            h5rel, XXH_versionNumber());
    fprintf(f, "\n## Results\n\n");
    fprintf(f, "MB = 10^6 bytes of record data (keys not counted); ratio = record bytes / "
               "bytes of the engine's files on disk; us = microseconds.\n\n");
    print_table(f, res, nres, w, p, 1);
    fprintf(f, "\n![results](results.png)\n");
    int any_partial = 0;
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        if (r->failed)
            continue;
        if (r->gets_done < p->ngets || r->epoch_done < w->n || r->cold_done < p->ncold) {
            if (!any_partial)
                fprintf(f, "\nPhases cut short by the %.0f s limit (~):\n\n", p->a->max_phase);
            any_partial = 1;
            fprintf(f, "- %s: %zu of %zu gets, %zu of %zu epoch records, %zu of %zu cold gets\n",
                    r->name, r->gets_done, p->ngets, r->epoch_done, w->n, r->cold_done, p->ncold);
        }
    }
    write_targets(f, res, nres, p);
    fprintf(f, "\nCold gets also need an open; its median (not in the table): ");
    for (int i = 0; i < nres; i++)
        if (!res[i].failed)
            fprintf(f, "%s%s %.2f ms", i ? ", " : "", res[i].name, res[i].cold_open_p50 / 1e3);
    fprintf(f, ".\n");
    fprintf(f, "\n## Engine settings\n\n");
    for (int i = 0; i < nres; i++)
        fprintf(f, "- **%s**: %s\n", res[i].name, eng[i].settings[0] ? eng[i].settings : "-");
    fprintf(f, "\n## Checks\n\n");
    int clean = 1;
    for (int i = 0; i < nres; i++) {
        if (res[i].failed) {
            clean = 0;
            fprintf(f, "- %s FAILED: %s\n", res[i].name, res[i].err);
        } else if (res[i].bad) {
            clean = 0;
            fprintf(f, "- %s: %llu records failed the check; first: %s\n", res[i].name,
                    (unsigned long long)res[i].bad, res[i].bad_what);
        }
    }
    if (clean)
        fprintf(f, "Every record read in every phase had the expected length and XXH3-64 "
                   "hash.\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "vls_bench: writing %s failed\n", path);
        return -1;
    }

    snprintf(path, sizeof path, "%s/results.dat", outdir);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vls_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "# vls_bench %s, %s\n", cmdline, date);
    fprintf(f, "# engine write_MBps ratio scan_MBps epoch_recps get_p50_us get_p99_us "
               "cold_p50_us size_MiB loader_recps\n");
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        fprintf(f, "%s %.2f %.4f %.2f %.1f %.2f %.2f %.2f %.2f %.1f\n", r->name, r->write_mbs,
                r->ratio, r->scan_mbs, r->epoch_rps, r->get_p50, r->get_p99, r->cold_p50,
                r->file_bytes ? (double)r->file_bytes / 1048576.0 : NAN, r->loader_rps);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "vls_bench: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* Runs gnuplot on plot.gnuplot; a missing gnuplot is a warning, not a failure. */
static void run_gnuplot(const char *outdir)
{
    char script[PATH_MAX], expr[3 * PATH_MAX];
    snprintf(script, sizeof script, "%s/plot.gnuplot", VLS_BENCH_SOURCE_DIR);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "vls_bench: %s not found; no chart\n", script);
        return;
    }
    if (strchr(outdir, '\'')) {
        fprintf(stderr, "vls_bench: output path has a quote; no chart\n");
        return;
    }
    snprintf(expr, sizeof expr, "datafile='%s/results.dat'; outfile='%s/results.png'", outdir,
             outdir);
    char *argv[] = {(char *)(uintptr_t) "gnuplot", (char *)(uintptr_t) "-e", expr, script,
                    NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "vls_bench: cannot run gnuplot (%s); no chart. Install gnuplot-nox.\n",
                strerror(rc));
        return;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "vls_bench: gnuplot failed; no chart\n");
}

/*-*************************************
 *  main
 ***************************************/
int main(int argc, char **argv)
{
    bench_args a = {.size_mib = 512, .threads = 1, .seed = 42, .gets = 20000,
                    .cold_gets = 1000, .max_phase = 30, .reps = 3, .plot = 1, .cache_mib = -1,
                    .out = VLS_BENCH_SOURCE_DIR};
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    const bench_engine_ops *sel[NENGINES];
    int nsel = select_engines(a.engines, sel);
    if (nsel < 0)
        return 2;

    char cmdline[1024] = "vls_bench";
    for (int i = 1; i < argc; i++) {
        size_t used = strlen(cmdline);
        snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
    }

    bench_config cfg;
    bench_defaults(&cfg.blosc, &cfg.cache_bytes);
    cfg.threads = a.threads;
    if (a.cache_mib >= 0)
        cfg.cache_bytes = (uint64_t)a.cache_mib << 20;

    const char *parent = a.dir ? a.dir : getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    char base[PATH_MAX / 4];
    if ((size_t)snprintf(base, sizeof base, "%s/vls_bench.XXXXXX", parent) >= sizeof base) {
        fprintf(stderr, "vls_bench: --dir path too long\n");
        return 2;
    }
    if (!mkdtemp(base)) {
        fprintf(stderr, "vls_bench: cannot create a directory in %s: %s\n", parent,
                strerror(errno));
        return 1;
    }

    fprintf(stderr, "vls_bench: generating %llu MiB of MD frames (seed %llu)...\n",
            (unsigned long long)a.size_mib, (unsigned long long)a.seed);
    double g0 = now_sec();
    bench_workload w;
    if (workload_generate(&w, a.size_mib, a.seed) != 0) {
        rmdir(base);
        return 1;
    }
    double gen_s = now_sec() - g0;
    fprintf(stderr, "vls_bench: %zu records in %zu systems, %.1f MiB, in %.1f s; stores in %s\n",
            w.n, w.nsys, (double)w.total / 1048576.0, gen_s, base);

    plan p;
    if (plan_make(&p, &w, &a) != 0) {
        fprintf(stderr, "vls_bench: out of memory\n");
        plan_free(&p);
        workload_free(&w);
        rmdir(base);
        return 1;
    }

    result res[NENGINES];
    bench_engine eng[NENGINES];
    int failures = 0;
    for (int i = 0; i < nsel; i++) {
        bench_engine *e = &eng[i];
        result *r = &res[i];
        int rc = engine_setup(e, r, sel[i], &cfg, base, "");
        if (rc == 0)
            rc = run_engine(e, &p, r);
        if (rc != 0) {
            r->failed = 1;
            snprintf(r->err, sizeof r->err, "%s", e->err);
            note(r->name, "FAILED: %s", e->err);
            failures++;
        } else if (r->bad) {
            note(r->name, "%llu records failed the check; first: %s",
                 (unsigned long long)r->bad, r->bad_what);
            failures++;
        }
        snprintf(r->settings, sizeof r->settings, "%s", e->settings);
        if (e->ops->close)
            e->ops->close(e);
        if (e->ops->fini)
            e->ops->fini(e);
        if (!a.keep)
            dir_remove(e->dir);
    }

    const bench_engine_ops *pair[2] = {NULL, NULL};
    for (int i = 0; i < nsel; i++)
        if (!res[i].failed && strcmp(sel[i]->name, "vlstore") == 0)
            pair[0] = sel[i];
        else if (!res[i].failed && strcmp(sel[i]->name, "raw-blosc") == 0)
            pair[1] = sel[i];
    if (pair[0] && pair[1] && run_paired(pair, &cfg, base, &p) != 0)
        failures++;

    printf("\nvlstore benchmark: %zu records, %.1f MiB, seed %llu, %d thread(s), cache %llu MiB\n\n",
           w.n, (double)w.total / 1048576.0, (unsigned long long)a.seed, cfg.threads,
           (unsigned long long)(cfg.cache_bytes >> 20));
    print_table(stdout, res, nsel, &w, &p, 0);
    for (int i = 0; i < nsel; i++)
        if (res[i].failed)
            printf("%s FAILED: %s\n", res[i].name, res[i].err);
    fflush(stdout);

    if (write_results(a.out, res, nsel, eng, &w, &p, &cfg, base, cmdline, gen_s) == 0) {
        if (a.plot)
            run_gnuplot(a.out);
        fprintf(stderr, "vls_bench: wrote %s/results.md, results.dat%s\n", a.out,
                a.plot ? ", results.png" : "");
    } else {
        failures++;
    }

    if (a.keep)
        fprintf(stderr, "vls_bench: stores kept in %s\n", base);
    else
        rmdir(base);
    plan_free(&p);
    workload_free(&w);
    return failures ? 1 : 0;
}
