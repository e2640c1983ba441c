/*
 * options.c — vls_bench's engine list and command line (see driver.h for the other files).
 */
#include "driver.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
_Static_assert(NENGINES <= BENCH_MAX_ENGINES, "raise BENCH_MAX_ENGINES");

/*-*************************************
 *  Options
 ***************************************/
void usage(FILE *f)
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
            "  --threads N        threads for every engine that can use them: vlstore (and its\n"
            "                     write-behind when N > 1), its loader, Blosc (default 1)\n"
            "  --seed S           workload seed (default 42)\n"
            "  --gets N           warm random gets (default 20000)\n"
            "  --cold-gets N      cold random gets (default 1000)\n"
            "  --cache-mib N      in-process cache given to every engine that has one\n"
            "                     (default: vlstore's default cache_bytes)\n"
            "  --reps N           write and scan N times (1..9), report the median (default 3)\n"
            "  --max-phase-sec S  stop a get/epoch/cold phase after S seconds and report the\n"
            "                     part done, marked ~ (default 30)\n"
            "  --out DIR          where results.md/.dat/.png go, made if missing (default: a\n"
            "                     new vls_bench-results.XXXXXX in $TMPDIR or /tmp)\n"
            "  --no-plot          do not run gnuplot\n"
            "  --self-test-check  expect other bytes than were written for one record (the\n"
            "                     first warm get's): proves the checks catch a wrong record;\n"
            "                     the run then reports it in every phase that read it and fails\n"
            "engines:\n");
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

int parse_args(int argc, char **argv, bench_args *a)
{
    enum { O_SIZE = 256, O_QUICK, O_ENGINES, O_DIR, O_KEEP, O_THREADS, O_SEED, O_GETS, O_COLD,
           O_MAXP, O_OUT, O_NOPLOT, O_CACHE, O_REPS, O_SELFTEST, O_HELP };
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
        {"self-test-check", no_argument, NULL, O_SELFTEST},
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
        case O_SELFTEST: a->self_test = 1; break;
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
    if (a->self_test && a->gets == 0) {
        fprintf(stderr, "vls_bench: --self-test-check needs at least one warm get\n");
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

int select_engines(const char *list, const bench_engine_ops **out)
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
