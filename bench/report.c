/*
 * report.c — vls_bench's output: the table (stdout and markdown), results.md, results.dat and
 * the chart (gnuplot with plot.gnuplot).
 */
#include "driver.h"

#include <blosc.h>
#include <errno.h>
#include <hdf5.h>
#include <lmdb.h>
#include <math.h>
#include <spawn.h>
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

extern char **environ;

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

void print_table(FILE *f, const result *res, int nres, const bench_workload *w,
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

int write_results(const char *outdir, const result *res, int nres,
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

void run_gnuplot(const char *outdir)
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
