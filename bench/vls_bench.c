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
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    const bench_engine_ops *sel[BENCH_MAX_ENGINES];
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

    result res[BENCH_MAX_ENGINES];
    bench_engine eng[BENCH_MAX_ENGINES];
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
