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
static const char *const col_head[NCOLS] = {"engine",      "write MB/s",  "size MiB",
                                            "ratio",       "scan MB/s",   "get p50 us",
                                            "get p99 us",  "random epoch rec/s",
                                            "block epoch rec/s", "cold p50 us", "check"};

static const char *check_word(const result *r, char *buf, size_t cap)
{
    if (r->failed)
        snprintf(buf, cap, "FAILED");
    else if (!result_clean(r))
        snprintf(buf, cap, "%llu BAD", (unsigned long long)(r->bad ? r->bad : 1));
    else
        snprintf(buf, cap, "ok");
    return buf;
}

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
    num(o->c[8], 32, r->block_rps, 0, r->block_done < p->nblock);
    num(o->c[9], 32, r->cold_p50, 1, cp);
    check_word(r, o->c[10], 32);
}

void print_table(FILE *f, const result *res, int nres, const bench_workload *w, const plan *p,
                 int markdown)
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

/* The target cell of a comparison: met or not, or, for a single-row comparison that
 * alternating rounds repeat, a pointer to them (rows minutes apart on a shared machine are
 * not what a target is judged on). */
static const char *verdict(char *buf, size_t cap, const char *target, double q, double bound,
                           int judged_in_rounds)
{
    if (judged_in_rounds)
        snprintf(buf, cap, "%s: judged on the alternating rounds", target);
    else
        snprintf(buf, cap, "%s: %s", target, q >= bound ? "met" : "**not met**");
    return buf;
}

/* The comparisons issue 3 asks for, when the engines involved ran. */
static void write_targets(FILE *f, const result *res, int nres, const plan *p)
{
    char vb[96];
    const result *v = find_result(res, nres, "vlstore");
    const result *rb = find_result(res, nres, "raw-blosc");
    const result *rp = find_result(res, nres, "raw-pread");
    if (!v || (!rb && !rp))
        return;
    fprintf(f, "\n### vlstore (defaults) against the limits and LMDB\n\n");
    fprintf(f, "| comparison | vlstore | other | vlstore / other | target |\n"
               "|:--|--:|--:|--:|:--|\n");
    if (rb) {
        double q = v->write_mbs / rb->write_mbs;
        fprintf(f, "| write MB/s vs raw-blosc | %.1f | %.1f | %.0f %% | %s |\n", v->write_mbs,
                rb->write_mbs, 100 * q, verdict(vb, sizeof vb, ">= 90 %", q, 0.90,
                                                p->paired_rounds));
        q = v->scan_mbs / rb->scan_mbs;
        fprintf(f, "| scan MB/s vs raw-blosc decode | %.1f | %.1f | %.0f %% | %s |\n",
                v->scan_mbs, rb->scan_mbs, 100 * q, verdict(vb, sizeof vb, ">= 95 %", q, 0.95,
                                                             p->paired_rounds));
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
        fprintf(f, "| random epoch records/s (vls_get_many) vs naive Blosc gets | %.0f | %.0f | "
                   "%.1fx | |\n", v->epoch_rps, rb->epoch_rps, v->epoch_rps / rb->epoch_rps);
    }
    const result *lm = find_result(res, nres, "lmdb");
    if (lm && !isnan(v->block_rps) && !isnan(lm->block_rps)) {
        double q = v->block_rps / lm->block_rps;
        fprintf(f, "| block epoch records/s, vlstore's loader vs LMDB reading the same keys in "
                   "the same batches | %.0f | %.0f | %.2fx | %s |\n",
                v->block_rps, lm->block_rps, q,
                verdict(vb, sizeof vb, ">= 1x", q, 1, p->block_rounds));
    }
    if (p->block_rounds) {
        double q = p->block_q;
        fprintf(f, "| block epoch, alternating rounds (median of %d): vlstore's loader vs LMDB "
                   "| %.0f | %.0f | %.2fx | >= 1x: %s |\n", p->block_rounds, p->block_rps[0],
                p->block_rps[1], q, q >= 1 ? "met" : "**not met**");
    }
    if (rp) {
        fprintf(f, "| random epoch records/s vs raw-pread | %.0f | %.0f | %.0f %% | |\n",
                v->epoch_rps, rp->epoch_rps, 100 * v->epoch_rps / rp->epoch_rps);
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

/* The first line of a command's output, or "" (popen: the command is a fixed string). */
static void command_line_out(const char *cmd, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    if (!fgets(out, (int)cap, f))
        out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    pclose(f);
}

static double load_average(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

void run_info_start(run_info *ri, int argc, char **argv)
{
    memset(ri, 0, sizeof *ri);
    snprintf(ri->cmdline, sizeof ri->cmdline, "vls_bench");
    for (int i = 1; i < argc; i++) {
        size_t used = strlen(ri->cmdline);
        snprintf(ri->cmdline + used, sizeof ri->cmdline - used, " %s", argv[i]);
    }
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(ri->date, sizeof ri->date, "%Y-%m-%d %H:%M UTC", &tmv);
    char hash[64] = "", dirty[64] = "";
    /* The source directory is a compile-time path; a quote in it would break the command. */
    if (!strchr(VLS_BENCH_SOURCE_DIR, '\'')) {
        command_line_out("git -C '" VLS_BENCH_SOURCE_DIR "' rev-parse --short=12 HEAD 2>/dev/null",
                         hash, sizeof hash);
        command_line_out("git -C '" VLS_BENCH_SOURCE_DIR "' status --porcelain "
                         "--untracked-files=no 2>/dev/null", dirty, sizeof dirty);
    }
    snprintf(ri->commit, sizeof ri->commit, "%s%s", hash[0] ? hash : "unknown (not a git checkout)",
             hash[0] && dirty[0] ? " + local changes" : "");
    ri->load_start = load_average();
}

void run_info_end(run_info *ri)
{
    ri->load_end = load_average();
}

static int close_checked(FILE *f, const char *path)
{
    int err = ferror(f);
    if (fclose(f) != 0 || err) {
        fprintf(stderr, "vls_bench: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

static FILE *open_out(const char *outdir, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", outdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "vls_bench: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

/* The block README.md shows, between the markers bench/readme-table.sh copies. */
static void write_readme_block(FILE *f, const result *res, int nres, const bench_workload *w,
                               const plan *p, const bench_config *cfg, const run_info *ri)
{
    fprintf(f, "<!-- readme-table:begin (generated by vls_bench; README.md copies it) -->\n");
    fprintf(f, "`%s` on %s, commit %s; %zu records, %.1f MiB; %ld cores, load average %.1f at "
               "the start, %.1f at the end. Threads: %d for every engine. Read-ahead: "
               "every mmap engine maps with the random-access hint.\n\n",
            ri->cmdline, ri->date, ri->commit, w->n, (double)w->total / 1048576.0,
            sysconf(_SC_NPROCESSORS_ONLN), ri->load_start, ri->load_end, cfg->threads);
    fprintf(f, "| engine | ratio | write MB/s | scan MB/s | warm get p50 µs | random epoch "
               "rec/s | block epoch rec/s | cold get p50 µs | check |\n");
    fprintf(f, "|:--|--:|--:|--:|--:|--:|--:|--:|:--|\n");
    for (int i = 0; i < nres; i++) {
        row o;
        make_row(&res[i], w, p, &o);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s%s | %s | %s |\n", o.c[0], o.c[3], o.c[1],
                o.c[4], o.c[5], o.c[7], o.c[8], res[i].block_loader ? " (loader)" : "", o.c[9],
                o.c[10]);
    }
    fprintf(f, "<!-- readme-table:end -->\n");
}

static void write_checks(FILE *f, const result *res, int nres, const plan *p)
{
    fprintf(f, "\n## Checks\n\n");
    fprintf(f, "Every record each timed phase delivered was checked after the engine's call "
               "returned, outside the timed interval: its length and its XXH3-64 hash against "
               "the generated record's. The scan and the loader deliver records by key, so they "
               "are also matched to records: each must arrive exactly once (a loader's must "
               "also arrive at the position and in the batch of the reference order); gets and "
               "batch reads deliver by position, where a wrong record fails the hash. Writes "
               "are checked by the scans that read the last one back. Per engine and phase: "
               "records served / asked for (the part done, when a phase was cut short); then, "
               "over all phases, missing, duplicated, bad (wrong length or bytes, or a key the "
               "workload does not have), and out of order (block epoch through a loader).\n\n");
    fprintf(f, "| engine |");
    for (int ph = 0; ph < NPHASES; ph++)
        fprintf(f, " %s |", phase_name[ph]);
    fprintf(f, " missing | duplicated | bad | out of order |\n|:--|");
    for (int ph = 0; ph < NPHASES + 4; ph++)
        fprintf(f, "--:|");
    fputc('\n', f);
    int clean = 1;
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        if (r->failed) {
            clean = 0;
            fprintf(f, "| %s | FAILED: %s |\n", r->name, r->err);
            continue;
        }
        uint64_t m = 0, d = 0, b = 0, o = 0;
        fprintf(f, "| %s |", r->name);
        for (int ph = 0; ph < NPHASES; ph++) {
            const tally *t = &r->t[ph];
            if (t->asked == 0 && !(ph == PH_BLOCK && p->nblock))
                fprintf(f, " - |");
            else
                fprintf(f, " %llu / %llu |", (unsigned long long)t->served,
                        (unsigned long long)t->asked);
            m += t->missing, d += t->dups, b += t->bad, o += t->misplaced;
        }
        fprintf(f, " %llu | %llu | %llu | %llu |\n", (unsigned long long)m,
                (unsigned long long)d, (unsigned long long)b, (unsigned long long)o);
        if (!result_clean(r))
            clean = 0;
    }
    fprintf(f, "\n");
    for (int i = 0; i < nres; i++)
        if (!res[i].failed && !result_clean(&res[i]))
            fprintf(f, "- %s: first failure: %s\n", res[i].name,
                    res[i].bad_what[0] ? res[i].bad_what : "a phase served fewer records than "
                                                           "it asked for");
    static const char *const who[4] = {"vlstore's scans", "raw-blosc's scans",
                                       "vlstore's loader, block epoch", "LMDB, block epoch"};
    for (int i = 0; i < 4; i++) {
        if (!(i < 2 ? p->paired_rounds : p->block_rounds))
            continue;
        const tally *t = i < 2 ? &p->paired_scan[i] : &p->paired_block[i - 2];
        fprintf(f, "- Alternating rounds, %s: %llu / %llu records served; %llu missing, "
                   "%llu duplicated, %llu bad, %llu out of order.\n", who[i],
                (unsigned long long)t->served, (unsigned long long)t->asked,
                (unsigned long long)t->missing, (unsigned long long)t->dups,
                (unsigned long long)t->bad, (unsigned long long)t->misplaced);
        if (t->served != t->asked || t->missing || t->dups || t->bad || t->misplaced)
            clean = 0;
    }
    fprintf(f, "\n%s\n", clean ? "Result: every record served in every timed phase was intact; "
                               "none missing, none duplicated, none out of order."
                             : "Result: **some records failed** (see above).");
}

int write_results(const char *outdir, const result *res, int nres, const bench_engine *eng,
                  const bench_workload *w, const plan *p, const bench_config *cfg,
                  const run_info *ri)
{
    char path[PATH_MAX];
    FILE *f = open_out(outdir, "results.md", path, sizeof path);
    if (!f)
        return -1;
    char cpu[256], mem[64];
    read_line_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_line_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
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
    fprintf(f, "Every figure on this page comes from one run: `%s`, %s, commit %s. What each "
               "column measures and how to run the benchmark: "
               "[docs/BENCH.md](../docs/BENCH.md).\n\n",
            ri->cmdline, ri->date, ri->commit);
    write_readme_block(f, res, nres, w, p, cfg, ri);
    fprintf(f, "\n## Run\n\n");
    fprintf(f, "- Workload: %zu records (MD frames) in %zu systems, %.1f MiB of records "
               "(min %u B, mean %.0f B, max %u B), keys `sys%%05u/%%05u`, seed %llu "
               "(generated in %.1f s)\n",
            w->n, w->nsys, (double)w->total / 1048576.0, minlen, (double)w->total / (double)w->n,
            w->max_len, (unsigned long long)w->seed, ri->gen_s);
    fprintf(f, "- Threads: %d for every engine that can use threads (vlstore `threads` and its "
               "loader's reads, Blosc in raw-blosc and in the HDF5 filter); vlstore's "
               "write-behind thread is %s%s.\n",
            cfg->threads, cfg->threads > 1 ? "on" : "off",
            cfg->threads > 1 ? ""
                             : " and its loader reads inline (prefetch off): every engine does "
                               "all its work on the calling thread, no row uses a helper "
                               "thread another row lacks");
    fprintf(f, "- Read-ahead: every engine reading through mmap uses the random-access hint "
               "(vlstore: MADV_RANDOM, its own; LMDB: MDB_NORDAHEAD; sqlite-mmap: MADV_RANDOM "
               "on SQLite's map); read()/pread engines use the kernel's default.\n");
    fprintf(f, "- In-process cache budget: %llu MiB for every engine that has one (vlstore "
               "cache_bytes, SQLite cache_size, HDF5+Blosc chunk cache)\n",
            (unsigned long long)(cfg->cache_bytes >> 20));
    fprintf(f, "- Write and scan: median of %d runs; warm gets: %zu random keys; random epoch: "
               "all %zu keys in one random permutation, batches of %d; block epoch: the %zu "
               "keys in the order and the %zu batches vlstore's loader serves in its epoch 1 "
               "(seed %llu), the same for every engine; cold gets: %zu random keys; a phase "
               "stops after %.0f s (then marked ~)\n",
            p->a->reps, p->ngets, w->n, BENCH_BATCH, p->nblock, p->nblock_batches,
            (unsigned long long)w->seed, p->ncold, p->a->max_phase);
    long ra = dev_readahead_kb(ri->base);
    char rabuf[64] = "unknown";
    if (ra >= 0)
        snprintf(rabuf, sizeof rabuf, "%ld KiB", ra);
    fprintf(f, "- Stores in `%s` (%s, device read-ahead %s); page cache eviction: "
               "posix_fadvise(DONTNEED) before every cold get%s\n",
            ri->base, fs_name(ri->base), rabuf,
            p->dropped ? ", plus `echo 3 > /proc/sys/vm/drop_caches` at the start of each "
                         "cold phase"
                       : " (drop_caches not available: not root)");
    fprintf(f, "\n## Machine\n\n");
    fprintf(f, "- CPU: %s, %ld online cores; memory %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
            mem);
    fprintf(f, "- Load: 1-minute load average %.1f at the start and %.1f at the end of the "
               "run, on %ld cores. Above the core count, other work shared the CPUs: single "
               "figures then move between runs, while ratios between rows measured side by "
               "side move less (the alternating rounds below are built for that).\n",
            ri->load_start, ri->load_end, sysconf(_SC_NPROCESSORS_ONLN));
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
               "bytes of the engine's files on disk; us = microseconds. Random epoch: each "
               "engine's batch read (vlstore: vls_get_many). Block epoch: vlstore engines "
               "through their loader, every other engine through its batch read of the same "
               "keys in the same batches.\n\n");
    print_table(f, res, nres, w, p, 1);
    fprintf(f, "\n![results](results.png)\n");
    int any_partial = 0;
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        if (r->failed)
            continue;
        if (r->gets_done < p->ngets || r->epoch_done < w->n || r->block_done < p->nblock ||
            r->cold_done < p->ncold) {
            if (!any_partial)
                fprintf(f, "\nPhases cut short by the %.0f s limit (~):\n\n", p->a->max_phase);
            any_partial = 1;
            fprintf(f, "- %s: %zu of %zu gets, %zu of %zu random epoch records, %zu of %zu "
                       "block epoch records, %zu of %zu cold gets\n",
                    r->name, r->gets_done, p->ngets, r->epoch_done, w->n, r->block_done,
                    p->nblock, r->cold_done, p->ncold);
        }
    }
    write_targets(f, res, nres, p);
    fprintf(f, "\nCold gets also need an open; its median (not in the table): ");
    for (int i = 0, first = 1; i < nres; i++)
        if (!res[i].failed) {
            fprintf(f, "%s%s %.2f ms", first ? "" : ", ", res[i].name,
                    res[i].cold_open_p50 / 1e3);
            first = 0;
        }
    fprintf(f, ".\n");
    fprintf(f, "\n## Engine settings\n\n");
    for (int i = 0; i < nres; i++)
        fprintf(f, "- **%s**: %s\n", res[i].name, eng[i].settings[0] ? eng[i].settings : "-");
    write_checks(f, res, nres, p);
    if (close_checked(f, path) != 0)
        return -1;

    if (!(f = open_out(outdir, "results.dat", path, sizeof path)))
        return -1;
    fprintf(f, "# %s, %s, commit %s\n", ri->cmdline, ri->date, ri->commit);
    fprintf(f, "# engine write_MBps ratio scan_MBps random_epoch_recps get_p50_us get_p99_us "
               "cold_p50_us size_MiB block_epoch_recps\n");
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        fprintf(f, "%s %.2f %.4f %.2f %.1f %.2f %.2f %.2f %.2f %.1f\n", r->name, r->write_mbs,
                r->ratio, r->scan_mbs, r->epoch_rps, r->get_p50, r->get_p99, r->cold_p50,
                r->file_bytes ? (double)r->file_bytes / 1048576.0 : NAN, r->block_rps);
    }
    return close_checked(f, path);
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
