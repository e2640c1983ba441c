/*
 * vls_bench.c — vlstore against its peers and its limits on one MD workload (issue 3).
 *
 * For each engine, in one run and on the same records:
 *   1. write   put every record, durable commit (fsync) at the end          -> MB/s
 *   2. size    bytes of the engine's files; ratio = record bytes / file bytes
 *   3. scan    warm (files in page cache): every record, in storage order   -> MB/s
 *   4. get     warm: 20,000 random keys, one record each                    -> p50, p99 us
 *   5. random  warm: a random permutation of all keys in batches of 64       -> records/s
 *   6. block   warm: the keys in the order and batches of vlstore's loader (recorded once,
 *              before the engines run); vlstore engines through the loader   -> records/s
 *   7. cold    for each of 1,000 random keys: evict the files from the page cache, open,
 *              time one get, close                                          -> p50 us
 * Every record a timed phase delivers is checked (length and XXH3-64 against the generated
 * one, and for reads by key: exactly once, in order) outside the timed spans, and counted.
 * docs/BENCH.md explains each measurement; `make bench` runs this program.
 *
 * Output: a table on stdout; results.md, results.dat and results.png (gnuplot, plot.gnuplot)
 * in --out DIR (made if missing), by default a new vls_bench-results.XXXXXX under $TMPDIR or
 * /tmp: never the source tree unless asked (`make bench-publish` asks).
 */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*-*************************************
 *  main
 ***************************************/
/* The output directory: --out (made if missing), else a new one under $TMPDIR or /tmp. */
static int make_out_dir(const char *out, char *dir, size_t cap)
{
    if (out) {
        if ((size_t)snprintf(dir, cap, "%s", out) >= cap) {
            fprintf(stderr, "vls_bench: --out path too long\n");
            return -1;
        }
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "vls_bench: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    if ((size_t)snprintf(dir, cap, "%s/vls_bench-results.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        cap) {
        fprintf(stderr, "vls_bench: $TMPDIR path too long\n");
        return -1;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "vls_bench: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a = {.size_mib = 512, .threads = 1, .seed = 42, .gets = 20000,
                    .cold_gets = 1000, .max_phase = 30, .reps = 3, .plot = 1, .cache_mib = -1};
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    const bench_engine_ops *sel[BENCH_MAX_ENGINES];
    int nsel = select_engines(a.engines, sel);
    if (nsel < 0)
        return 2;

    run_info ri;
    run_info_start(&ri, argc, argv);

    bench_config cfg;
    bench_defaults(&cfg.blosc, &cfg.cache_bytes);
    cfg.threads = a.threads;
    if (a.cache_mib >= 0)
        cfg.cache_bytes = (uint64_t)a.cache_mib << 20;

    const char *parent = a.dir ? a.dir : getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    char outdir[PATH_MAX / 4];
    if (make_out_dir(a.out, outdir, sizeof outdir) != 0)
        return 1;
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
    ri.gen_s = now_sec() - g0;
    ri.base = base;
    fprintf(stderr, "vls_bench: %zu records in %zu systems, %.1f MiB, in %.1f s; stores in %s\n",
            w.n, w.nsys, (double)w.total / 1048576.0, ri.gen_s, base);

    int failures = 0;
    plan p;
    if (plan_make(&p, &w, &a) != 0) {
        fprintf(stderr, "vls_bench: out of memory\n");
        plan_free(&p);
        workload_free(&w);
        rmdir(base);
        return 1;
    }

    if (plan_block_order(&p, &cfg, base) != 0)
        failures++;
    else if (p.nblock)
        note("block order", "%zu records in %zu batches, from vlstore's loader (epoch 1)",
             p.nblock, p.nblock_batches);

    if (a.self_test) { /* after the block order, whose reference epoch must be clean */
        w.hash[p.gets[0]] ^= 1;
        note("self-test", "expecting other bytes for record %s: every phase that reads it "
             "must report it", workload_key(&w, p.gets[0]));
    }

    result res[BENCH_MAX_ENGINES];
    bench_engine eng[BENCH_MAX_ENGINES];
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
        } else if (!result_clean(r)) {
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
    const bench_engine_ops *block_pair[2] = {pair[0], NULL};
    for (int i = 0; i < nsel; i++)
        if (!res[i].failed && strcmp(sel[i]->name, "lmdb") == 0)
            block_pair[1] = sel[i];
    if (p.nblock && block_pair[0] && block_pair[1] &&
        run_paired_block(block_pair, &cfg, base, &p) != 0)
        failures++;

    printf("\nvlstore benchmark: %zu records, %.1f MiB, seed %llu, %d thread(s), cache %llu MiB\n\n",
           w.n, (double)w.total / 1048576.0, (unsigned long long)a.seed, cfg.threads,
           (unsigned long long)(cfg.cache_bytes >> 20));
    print_table(stdout, res, nsel, &w, &p, 0);
    for (int i = 0; i < nsel; i++)
        if (res[i].failed)
            printf("%s FAILED: %s\n", res[i].name, res[i].err);
    fflush(stdout);

    run_info_end(&ri);
    if (write_results(outdir, res, nsel, eng, &w, &p, &cfg, &ri) == 0) {
        if (a.plot)
            run_gnuplot(outdir);
        fprintf(stderr, "vls_bench: wrote %s/results.md, results.dat%s\n", outdir,
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
