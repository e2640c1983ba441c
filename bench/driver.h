/*
 * driver.h — the vls_bench driver's own pieces, shared by its files (engines never see it).
 *
 *   vls_bench.c   main: options, workload, engine loop, paired rounds, output, in that order
 *   options.c     the engine list, command-line options, --engines
 *   phases.c      the shared plan (keys, orders, buffers), the checks and the timed phases
 *   paired.c      vlstore against raw-blosc in alternating rounds
 *   report.c      the table, results.md, results.dat, the chart
 *
 * Dependency rule: these files use engines only through bench_engine_ops (bench.h).
 */
#ifndef VLS_BENCH_DRIVER_H
#define VLS_BENCH_DRIVER_H

#include "bench.h"

#include <stdio.h>

#ifndef VLS_BENCH_SOURCE_DIR
#define VLS_BENCH_SOURCE_DIR "bench"
#endif

/*-*************************************
 *  Options (options.c)
 ***************************************/
#define BENCH_MAX_ENGINES 32

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
    int self_test; /* --self-test-check: expect wrong bytes for one record */
} bench_args;

void usage(FILE *f);
/* 0, or -1 after a message on stderr. --help prints the usage and exits. */
int parse_args(int argc, char **argv, bench_args *a);
/* Resolves --engines into out[0..BENCH_MAX_ENGINES); returns the count or -1. */
int select_engines(const char *list, const bench_engine_ops **out);

/*-*************************************
 *  Results
 ***************************************/
/* The timed phases that read records, and what each served. */
enum { PH_SCAN, PH_GET, PH_EPOCH, PH_BLOCK, PH_COLD, NPHASES };
extern const char *const phase_name[NPHASES];

/* Records asked for and served in one phase, and what was wrong with them. Reads by position
 * (gets, batches) cannot duplicate: a wrong record there fails the hash check (bad). Reads
 * by key (scan, the loader) are matched to records by key: missing, duplicated, or bad. */
typedef struct tally {
    uint64_t asked;     /* records the phase asked for (its part done, when cut short) */
    uint64_t served;    /* records delivered */
    uint64_t missing;   /* asked for, never delivered */
    uint64_t dups;      /* delivered more than once */
    uint64_t bad;       /* wrong length or bytes, or a key the workload does not have */
    uint64_t misplaced; /* block epoch, loader: positions or batches not in the reference order */
} tally;

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
    double epoch_rps;   /* random permutation, batches of 64 */
    size_t epoch_done;
    double block_rps;   /* the loader's block-shuffled order and batches */
    size_t block_done;
    int block_loader;   /* 1: served by the engine's own loader */
    double cold_p50, cold_open_p50;
    size_t cold_done;
    tally t[NPHASES];
    uint64_t bad;       /* all phases: records that failed a check */
    char bad_what[256]; /* the first one */
} result;

/* Clean: every phase served every record it asked for, exactly once and intact. */
int result_clean(const result *r);

void result_init(result *r, const char *name);

/*-*************************************
 *  The plan and the phases (phases.c)
 ***************************************/
/* Shared inputs of the phases, the same for every engine. */
typedef struct plan {
    const bench_workload *w;
    const bench_args *a;
    bench_keytab kt;      /* driver's key -> index */
    const char **kptr;
    size_t *gets;         /* warm get indices */
    size_t ngets;
    size_t *perm;         /* random epoch order: a permutation of all records */
    size_t *block;        /* block epoch order: the loader's epoch 1, recorded (nblock) */
    size_t nblock;
    uint32_t *block_len;  /* its batch sizes (nblock_batches) */
    size_t nblock_batches;
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
    tally paired_scan[2]; /* what the rounds' scans served: [0] vlstore, [1] raw-blosc */
    /* vlstore's loader against LMDB on the block epoch, alternating (run_paired_block) */
    int block_rounds;
    double block_q, block_rps[2]; /* median of the rounds' ratios; medians [0] vlstore [1] lmdb */
    tally paired_block[2];
} plan;

int plan_make(plan *p, const bench_workload *w, const bench_args *a);
/* Records the block epoch order: writes a vlstore store with the defaults into base and
 * logs its loader's epoch 1 (the one every loader_epoch times). Without vlstore, or when it
 * fails (message on stderr, -1), the block column stays empty. */
int plan_block_order(plan *p, const bench_config *cfg, const char *base);
void plan_free(plan *p);

/* A progress line on stderr: "[name           ] ...". */
void note(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Nearest-rank percentile of v[0..n), sorted in place; NAN when n = 0. */
double percentile(double *v, size_t n, double p);

/* Sets up engine e (ops, cfg, an empty directory base/prefix+name) and its result r, and
 * runs ops->init. 0, or -1 with e->err set. */
int engine_setup(bench_engine *e, result *r, const bench_engine_ops *ops,
                 const bench_config *cfg, const char *base, const char *prefix);
/* One timed write into e->dir (emptied first when fresh is set). */
int timed_write(bench_engine *e, plan *p, int fresh, double *secs);
/* One timed scan on an open engine into p->out; every record is checked afterwards. */
int timed_scan(bench_engine *e, plan *p, result *r, double *secs);
/* Reads order[...] in batches with the engine's batch read (batch_len[0..nbatches), or
 * batches of BENCH_BATCH over nbatches records when batch_len is NULL); phase ph's tally. */
int timed_batches(bench_engine *e, plan *p, result *r, int ph, const size_t *order,
                  const uint32_t *batch_len, size_t nbatches, double *rps, size_t *done);
/* The block epoch through the engine's own loader, held against the recorded order. */
int loader_block_epoch(bench_engine *e, plan *p, result *r);
/* Runs the seven phases for one engine. Returns 0, or -1 with e->err set. */
int run_engine(bench_engine *e, plan *p, result *r);

/*-*************************************
 *  Paired rounds (paired.c)
 ***************************************/
/* ops[0] = vlstore, ops[1] = raw-blosc; fills p->paired_*. 0, or -1 after a note. */
int run_paired(const bench_engine_ops *const ops[2], const bench_config *cfg, const char *base,
               plan *p);
/* ops[0] = vlstore (through its loader), ops[1] = lmdb (its batch read): the block epoch in
 * alternating rounds; fills p->block_*. 0, or -1 after a note. */
int run_paired_block(const bench_engine_ops *const ops[2], const bench_config *cfg,
                     const char *base, plan *p);

/*-*************************************
 *  Output (report.c)
 ***************************************/
/* What results.md says about the run itself, taken at its start (commit, date, load) and
 * end (load). */
typedef struct run_info {
    char cmdline[1024];
    char date[64];
    char commit[128]; /* git describe of the source tree, "+ local changes" when dirty */
    double load_start, load_end; /* 1-minute load average */
    double gen_s;                /* workload generation, seconds */
    const char *base;            /* where the stores were */
} run_info;

void run_info_start(run_info *ri, int argc, char **argv);
void run_info_end(run_info *ri);

void print_table(FILE *f, const result *res, int nres, const bench_workload *w, const plan *p,
                 int markdown);
int write_results(const char *outdir, const result *res, int nres, const bench_engine *eng,
                  const bench_workload *w, const plan *p, const bench_config *cfg,
                  const run_info *ri);
/* Runs gnuplot on plot.gnuplot; a missing gnuplot is a warning, not a failure. */
void run_gnuplot(const char *outdir);

#endif /* VLS_BENCH_DRIVER_H */
