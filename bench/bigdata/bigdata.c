/*
 * bigdata.c — vls_bigdata, the bigger-than-memory benchmark's worker (docs/BENCH.md,
 * "Bigger than memory"). bench/bigdata/run.sh sets up the slow disk and the cgroups and runs
 * one `vls_bigdata read` per engine and order inside them.
 *
 *   vls_bigdata selftest
 *       checks that mdstream yields bench/workload.c's records, byte for byte.
 *   vls_bigdata write DIR SIZE_MIB SEED
 *       streams the MD workload once into every engine's file under DIR (vlstore.vls,
 *       vlstore-ra.vls, vlstore.part0..3.vls (its quarters), lmdb.mdb, hdf5.h5, raw.bin),
 *       with DIR/hashes.bin (XXH3 of each record) and
 *       DIR/meta.txt; never holds more than one record of the workload.
 *   vls_bigdata ceiling DIR THREADS
 *       the decode ceiling: records/s of whole-chunk decoding from the page cache.
 *   vls_bigdata read DIR ENGINE ORDER [MAX_RECORDS [THREADS [RANK WORLD]]]
 *       ENGINE vlstore|vlstore4|vlstore[-ra][-pread]|lmdb|hdf5|raw; ORDER loader (vlstore: the
 *       block-shuffle loader, writing its serving order to DIR/order.bin; vlstore4: the
 *       loader over the same records in 4 files; others: exactly vlstore's order, in the
 *       same batches of 64) or random (a seeded permutation, batches of 64, the first
 *       MAX_RECORDS records; vlstore-ra is the vlstore file written with
 *       vls_options_random_access(); -pread opens it VLS_NOMMAP, so gets read blocks with
 *       pread instead of faulting in the map). RANK WORLD: the loader serves one rank's share.
 *       Prints one "RESULT key=value ..." line.
 *
 * The reading process holds the plan (systems, atom counts), the record hashes (8 bytes a
 * record) and its engine's own state, never the records: each record delivered is checked
 * against its hash, length and key, and a loader epoch is checked to deliver each record
 * exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "mdstream.h"
#include "vlstore.h"
#include "vlstore_loader.h"

#ifdef VLS_BIGDATA_LMDB
#include <lmdb.h>
#endif
#ifdef VLS_BIGDATA_HDF5
#include <hdf5.h>
#endif

#define BATCH 64                    /* the loader's default batch_size; every engine's batch */
#define LMDB_TXN_BYTES (64ull << 20) /* an LMDB write transaction holds at most this much */
#define HDF5_CHUNK (4u << 20)        /* vlstore's default chunk size */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vls_bigdata: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
        die("path too long: %s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        die("writing %s: %s", path, strerror(errno));
    fclose(f);
}

static void *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        die("%s: %s", path, strerror(errno));
    void *p = xmalloc((size_t)st.st_size);
    if (fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        die("reading %s: %s", path, strerror(errno));
    fclose(f);
    *len = (size_t)st.st_size;
    return p;
}

static void fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0)
        die("fsync %s: %s", path, strerror(errno));
    close(fd);
}

/*-*************************************
 *  Process figures
 ***************************************/
/* Bytes this process (all its threads) caused to be read from storage: /proc/self/io
 * read_bytes, which counts page faults and readahead as well as read()/pread(). */
static uint64_t proc_read_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    unsigned long long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static uint64_t proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            sscanf(line + n + 1, "%llu", &v);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/*-*************************************
 *  The data set as the reader knows it
 ***************************************/
typedef struct dataset {
    char dir[2048];
    uint64_t size_mib, seed;
    md_plan plan;
    uint64_t *hash; /* [n] */
    uint64_t *off;  /* [n + 1]: record i's offset in the raw file and in HDF5's /data */
} dataset;

static void dataset_load(dataset *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    char p[4096];
    path_in(p, sizeof p, dir, "meta.txt");
    FILE *f = fopen(p, "r");
    unsigned long long size = 0, seed = 0;
    if (!f || fscanf(f, "size_mib %llu seed %llu", &size, &seed) != 2)
        die("%s: missing or malformed (run `vls_bigdata write` first)", p);
    fclose(f);
    d->size_mib = size;
    d->seed = seed;
    if (md_plan_make(&d->plan, size, seed) != 0)
        die("cannot plan the workload");
    size_t len;
    path_in(p, sizeof p, dir, "hashes.bin");
    d->hash = read_whole(p, &len);
    if (len != d->plan.n * sizeof *d->hash)
        die("%s: %zu bytes, expected %zu (a different workload?)", p, len,
            d->plan.n * sizeof *d->hash);
    d->off = xmalloc((d->plan.n + 1) * sizeof *d->off);
    d->off[0] = 0;
    for (size_t s = 0, i = 0; s < d->plan.nsys; s++)
        for (uint32_t fr = 0; fr < d->plan.frames[s]; fr++, i++)
            d->off[i + 1] = d->off[i] + 32ull * d->plan.natoms[s];
}

static void dataset_free(dataset *d)
{
    md_plan_free(&d->plan);
    free(d->hash);
    free(d->off);
}

/* What a read run counts. */
typedef struct tally {
    uint64_t records, bytes, bad;
    uint8_t *seen; /* [n], loader order only: exactly-once check */
    uint64_t dups;
} tally;

static void check_record(const dataset *d, tally *t, size_t i, const void *data, uint64_t len)
{
    t->records++;
    t->bytes += len;
    if (i >= d->plan.n || len != d->off[i + 1] - d->off[i] ||
        XXH3_64bits(data, (size_t)len) != d->hash[i]) {
        if (t->bad++ < 5)
            fprintf(stderr, "vls_bigdata: record %zu: wrong bytes (length %llu)\n", i,
                    (unsigned long long)len);
        return;
    }
    if (t->seen) {
        if (t->seen[i])
            t->dups++;
        t->seen[i] = 1;
    }
}

/*-*************************************
 *  Writing every engine's file in one pass over the workload
 ***************************************/
#define PARTS 4 /* vlstore4: the records in 4 files, each a contiguous quarter */

typedef struct writers {
    vls_store *vls, *vls_ra, *part[PARTS];
    FILE *raw;
#ifdef VLS_BIGDATA_LMDB
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint64_t txn_bytes;
#endif
#ifdef VLS_BIGDATA_HDF5
    hid_t h5, h5data;
    uint8_t *stage; /* one HDF5 chunk being filled */
    size_t staged;
    uint64_t h5len;
#endif
} writers;

#ifdef VLS_BIGDATA_LMDB
static void lmdb_check(int rc, const char *what)
{
    if (rc)
        die("%s: %s", what, mdb_strerror(rc));
}

static void lmdb_env(MDB_env **env, const char *path, unsigned flags)
{
    lmdb_check(mdb_env_create(env), "mdb_env_create");
    lmdb_check(mdb_env_set_mapsize(*env, 1ull << 38), "mdb_env_set_mapsize");
    lmdb_check(mdb_env_open(*env, path, MDB_NOSUBDIR | flags, 0644), path);
}
#endif

#ifdef VLS_BIGDATA_HDF5
static void h5_flush_stage(writers *w)
{
    if (!w->staged)
        return;
    hsize_t start = w->h5len, count = w->staged, newlen = w->h5len + w->staged;
    if (H5Dset_extent(w->h5data, &newlen) < 0)
        die("H5Dset_extent");
    hid_t fs = H5Dget_space(w->h5data), ms = H5Screate_simple(1, &count, NULL);
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
        H5Dwrite(w->h5data, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, w->stage) < 0)
        die("H5Dwrite of %llu bytes at %llu", (unsigned long long)count,
            (unsigned long long)start);
    H5Sclose(fs);
    H5Sclose(ms);
    w->h5len = newlen;
    w->staged = 0;
}
#endif

static int cmd_write(const char *dir, uint64_t size_mib, uint64_t seed)
{
    md_plan plan;
    if (md_plan_make(&plan, size_mib, seed) != 0)
        return 1;
    char p[4096];
    writers w;
    memset(&w, 0, sizeof w);
    vls_options o;
    vls_options_init(&o);
    path_in(p, sizeof p, dir, "vlstore.vls");
    int rc = vls_open(p, VLS_CREATE | VLS_TRUNCATE, &o, &w.vls);
    if (rc)
        die("vls_open %s: %s", p, vls_errmsg(NULL));
    for (int k = 0; k < PARTS; k++) {
        char name[32];
        snprintf(name, sizeof name, "vlstore.part%d.vls", k);
        path_in(p, sizeof p, dir, name);
        if (vls_open(p, VLS_CREATE | VLS_TRUNCATE, &o, &w.part[k]))
            die("vls_open %s: %s", p, vls_errmsg(NULL));
    }
    vls_options ora;
    vls_options_random_access(&ora);
    path_in(p, sizeof p, dir, "vlstore-ra.vls");
    if (vls_open(p, VLS_CREATE | VLS_TRUNCATE, &ora, &w.vls_ra))
        die("vls_open %s: %s", p, vls_errmsg(NULL));
    path_in(p, sizeof p, dir, "raw.bin");
    if (!(w.raw = fopen(p, "wb")))
        die("%s: %s", p, strerror(errno));
    setvbuf(w.raw, NULL, _IOFBF, 4u << 20);
#ifdef VLS_BIGDATA_LMDB
    path_in(p, sizeof p, dir, "lmdb.mdb");
    unlink(p);
    lmdb_env(&w.env, p, 0);
    lmdb_check(mdb_txn_begin(w.env, NULL, 0, &w.txn), "mdb_txn_begin");
    lmdb_check(mdb_dbi_open(w.txn, NULL, 0, &w.dbi), "mdb_dbi_open");
#endif
#ifdef VLS_BIGDATA_HDF5
    path_in(p, sizeof p, dir, "hdf5.h5");
    w.h5 = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = HDF5_CHUNK;
    hid_t space = H5Screate_simple(1, &zero, &unlimited), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (w.h5 < 0 || space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
        die("creating %s", p);
    w.h5data = H5Dcreate2(w.h5, "data", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (w.h5data < 0)
        die("H5Dcreate2 /data");
    H5Sclose(space);
    H5Pclose(dcpl);
    w.stage = xmalloc(HDF5_CHUNK);
#endif
    md_stream st;
    if (md_stream_open(&st, &plan) != 0)
        return 1;
    uint8_t *rec = xmalloc(plan.max_len);
    uint64_t *hash = xmalloc(plan.n * sizeof *hash);
    uint64_t *off = xmalloc((plan.n + 1) * sizeof *off);
    off[0] = 0;
    char key[16];
    for (size_t i = 0; i < plan.n; i++) {
        uint32_t len = md_stream_next(&st, rec);
        size_t klen = md_record_key(&plan, i, key);
        hash[i] = XXH3_64bits(rec, len);
        off[i + 1] = off[i] + len;
        vls_store *part = w.part[(uint64_t)i * PARTS / plan.n];
        if ((rc = vls_put(w.vls, key, klen, rec, len, 0)) != 0 ||
            (rc = vls_put(w.vls_ra, key, klen, rec, len, 0)) != 0 ||
            (rc = vls_put(part, key, klen, rec, len, 0)) != 0)
            die("vls_put %s: %s", key, vls_strerror(rc));
        if (fwrite(rec, 1, len, w.raw) != len)
            die("writing raw.bin: %s", strerror(errno));
#ifdef VLS_BIGDATA_LMDB
        MDB_val k = {klen, key}, v = {len, rec};
        lmdb_check(mdb_put(w.txn, w.dbi, &k, &v, MDB_APPEND), "mdb_put");
        /* bounded transactions: LMDB keeps a transaction's dirty pages in memory */
        if ((w.txn_bytes += len) >= LMDB_TXN_BYTES) {
            lmdb_check(mdb_txn_commit(w.txn), "mdb_txn_commit");
            lmdb_check(mdb_txn_begin(w.env, NULL, 0, &w.txn), "mdb_txn_begin");
            w.txn_bytes = 0;
        }
#endif
#ifdef VLS_BIGDATA_HDF5
        for (uint32_t done = 0; done < len;) {
            size_t take = HDF5_CHUNK - w.staged;
            if (take > len - done)
                take = len - done;
            memcpy(w.stage + w.staged, rec + done, take);
            w.staged += take;
            done += (uint32_t)take;
            if (w.staged == HDF5_CHUNK)
                h5_flush_stage(&w);
        }
#endif
    }
    md_stream_close(&st);
    free(rec);
    if ((rc = vls_close(w.vls)) != 0 || (rc = vls_close(w.vls_ra)) != 0)
        die("vls_close: %s", vls_strerror(rc));
    for (int k = 0; k < PARTS; k++)
        if ((rc = vls_close(w.part[k])) != 0)
            die("vls_close: %s", vls_strerror(rc));
    if (fflush(w.raw) != 0 || fsync(fileno(w.raw)) != 0)
        die("raw.bin: %s", strerror(errno));
    fclose(w.raw);
#ifdef VLS_BIGDATA_LMDB
    lmdb_check(mdb_txn_commit(w.txn), "mdb_txn_commit");
    lmdb_check(mdb_env_sync(w.env, 1), "mdb_env_sync");
    mdb_env_close(w.env);
#endif
#ifdef VLS_BIGDATA_HDF5
    h5_flush_stage(&w);
    hsize_t n1 = plan.n + 1;
    hid_t os = H5Screate_simple(1, &n1, NULL);
    hid_t ods = H5Dcreate2(w.h5, "offsets", H5T_NATIVE_UINT64, os, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    if (os < 0 || ods < 0 || H5Dwrite(ods, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off) < 0)
        die("writing /offsets");
    H5Dclose(ods);
    H5Sclose(os);
    H5Dclose(w.h5data);
    H5Fclose(w.h5);
    free(w.stage);
    path_in(p, sizeof p, dir, "hdf5.h5");
    fsync_file(p);
#endif
    path_in(p, sizeof p, dir, "hashes.bin");
    write_file(p, hash, plan.n * sizeof *hash);
    char meta[256];
    int ml = snprintf(meta, sizeof meta, "size_mib %llu seed %llu records %zu bytes %llu\n",
                      (unsigned long long)size_mib, (unsigned long long)seed, plan.n,
                      (unsigned long long)plan.total);
    path_in(p, sizeof p, dir, "meta.txt");
    write_file(p, meta, (size_t)ml);
    printf("wrote %zu records, %llu bytes, mean %.0f bytes\n", plan.n,
           (unsigned long long)plan.total, (double)plan.total / (double)plan.n);
    free(hash);
    free(off);
    md_plan_free(&plan);
    return 0;
}

/*-*************************************
 *  The decode ceiling
 ***************************************/
/* Whole-chunk decoding of the vlstore file from the page cache (one untimed pass to bring
 * it in and verify, then a timed one), at most `sample` bytes of chunks: records/s that the
 * loader's decoding allows on `threads` cores. */
static int cmd_ceiling(const char *dir, int threads, uint64_t sample)
{
    dataset d;
    dataset_load(&d, dir);
    char p[4096];
    path_in(p, sizeof p, dir, "vlstore.vls");
    vls_options o;
    vls_options_init(&o);
    o.threads = threads;
    o.cache_bytes = 0;
    vls_store *s;
    if (vls_open(p, VLS_RDONLY, &o, &s))
        die("vls_open %s: %s", p, vls_errmsg(NULL));
    uint64_t nc = vls_chunk_count(s), logical = 0, use = 0;
    for (; use < nc && logical < sample; use++) {
        uint64_t len;
        if (vls_chunk_length(s, use, &len))
            die("vls_chunk_length: %s", vls_errmsg(s));
        logical += len;
    }
    uint8_t *buf = xmalloc(64u << 20);
    double best = 0;
    for (int pass = 0; pass < 3; pass++) {
        double t0 = now_sec();
        for (uint64_t c = 0; c < use; c++) {
            uint64_t got;
            if (vls_read_chunk(s, c, buf, 64u << 20, &got))
                die("vls_read_chunk %llu: %s", (unsigned long long)c, vls_errmsg(s));
        }
        double dt = now_sec() - t0;
        if (pass > 0 && (best == 0 || dt < best))
            best = dt;
    }
    vls_stat stt = {.struct_size = sizeof stt};
    if (vls_stat_get(s, &stt))
        die("vls_stat_get: %s", vls_errmsg(s));
    double mean = (double)d.plan.total / (double)d.plan.n;
    printf("RESULT ceiling_rps=%.0f decode_GBps=%.3f ratio=%.4f mean_record=%.0f "
           "file_bytes=%llu logical_bytes=%llu threads=%d\n",
           (double)logical / best / mean, (double)logical / best / 1e9,
           (double)stt.logical_bytes / (double)stt.file_bytes, mean,
           (unsigned long long)stt.file_bytes, (unsigned long long)stt.logical_bytes, threads);
    free(buf);
    vls_close(s);
    dataset_free(&d);
    return 0;
}

/*-*************************************
 *  Reading
 ***************************************/
/* The record order of a run: loader order (from DIR/order.bin) or a seeded permutation. */
static uint32_t *load_order(const dataset *d, const char *order, uint64_t *n)
{
    if (strcmp(order, "loader") == 0) {
        char p[4096];
        path_in(p, sizeof p, d->dir, "order.bin");
        size_t len;
        uint32_t *o = read_whole(p, &len);
        if (len != d->plan.n * sizeof *o)
            die("%s: %zu bytes, expected %zu (run the vlstore loader first)", p, len,
                d->plan.n * sizeof *o);
        *n = d->plan.n;
        return o;
    }
    if (strcmp(order, "random") != 0)
        die("unknown order '%s' (loader or random)", order);
    uint32_t *o = xmalloc(d->plan.n * sizeof *o);
    for (size_t i = 0; i < d->plan.n; i++)
        o[i] = (uint32_t)i;
    bench_rng r;
    rng_seed(&r, d->seed ^ 0x5eed5eedull);
    for (size_t i = d->plan.n; i > 1; i--) {
        size_t j = (size_t)rng_below(&r, i);
        uint32_t t = o[i - 1];
        o[i - 1] = o[j];
        o[j] = t;
    }
    *n = d->plan.n;
    return o;
}

/* One epoch of the loader over DIR/vlstore.vls, or (files = PARTS) its quarters; this
 * rank's share. The whole-file, single-rank order is saved for the other engines. */
static void run_vlstore_loader(const dataset *d, int files, int threads, uint32_t rank,
                               uint32_t world, tally *t)
{
    char p[PARTS][4096];
    const char *paths[PARTS];
    for (int k = 0; k < files; k++) {
        char name[32];
        snprintf(name, sizeof name, files == 1 ? "vlstore.vls" : "vlstore.part%d.vls", k);
        path_in(p[k], sizeof p[k], d->dir, name);
        paths[k] = p[k];
    }
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.threads = threads;
    lo.rank = rank;
    lo.world = world;
    vls_loader *ld;
    if (vls_loader_open(paths, (size_t)files, &lo, &ld))
        die("vls_loader_open: %s", vls_loader_errmsg(NULL));
    uint32_t *order = xmalloc(d->plan.n * sizeof *order);
    uint64_t served = 0;
    const vls_record *recs;
    size_t n;
    int rc;
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
        for (size_t k = 0; k < n; k++) {
            long i = md_key_index(&d->plan, recs[k].key, recs[k].klen);
            check_record(d, t, i < 0 ? SIZE_MAX : (size_t)i, recs[k].data, recs[k].len);
            if (i >= 0 && served < d->plan.n)
                order[served++] = (uint32_t)i;
        }
    }
    if (rc < 0)
        die("vls_loader_next: %s", vls_loader_errmsg(ld));
    vls_loader_close(ld);
    if (files == 1 && world == 1 && served == d->plan.n) {
        char o[4096];
        path_in(o, sizeof o, d->dir, "order.bin");
        write_file(o, order, served * sizeof *order);
    }
    free(order);
}

static void run_vlstore_get_many(const dataset *d, const char *file, unsigned flags,
                                 const uint32_t *order, uint64_t n, int threads, tally *t)
{
    char p[4096];
    path_in(p, sizeof p, d->dir, file);
    vls_options o;
    vls_options_init(&o);
    o.threads = threads;
    vls_store *s;
    if (vls_open(p, VLS_RDONLY | flags, &o, &s))
        die("vls_open %s: %s", p, vls_errmsg(NULL));
    size_t cap = (size_t)BATCH * d->plan.max_len;
    uint8_t *buf = xmalloc(cap);
    char keys[BATCH][16];
    vls_key k[BATCH];
    vls_span sp[BATCH];
    for (uint64_t at = 0; at < n; at += BATCH) {
        size_t b = n - at < BATCH ? (size_t)(n - at) : BATCH;
        for (size_t j = 0; j < b; j++) {
            k[j].len = md_record_key(&d->plan, order[at + j], keys[j]);
            k[j].data = keys[j];
        }
        uint64_t needed;
        if (vls_get_many(s, b, k, buf, cap, sp, &needed))
            die("vls_get_many: %s", vls_errmsg(s));
        for (size_t j = 0; j < b; j++)
            check_record(d, t, order[at + j], buf + sp[j].offset, sp[j].length);
    }
    free(buf);
    vls_close(s);
}

static void run_raw(const dataset *d, const uint32_t *order, uint64_t n, tally *t)
{
    char p[4096];
    path_in(p, sizeof p, d->dir, "raw.bin");
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        die("%s: %s", p, strerror(errno));
    uint8_t *buf = xmalloc(d->plan.max_len);
    for (uint64_t at = 0; at < n; at++) {
        size_t i = order[at], len = (size_t)(d->off[i + 1] - d->off[i]);
        ssize_t r = pread(fd, buf, len, (off_t)d->off[i]);
        if (r != (ssize_t)len)
            die("pread %s at %llu: %s", p, (unsigned long long)d->off[i],
                r < 0 ? strerror(errno) : "short read");
        check_record(d, t, i, buf, len);
    }
    free(buf);
    close(fd);
}

#ifdef VLS_BIGDATA_LMDB
static void run_lmdb(const dataset *d, const uint32_t *order, uint64_t n, tally *t)
{
    char p[4096];
    path_in(p, sizeof p, d->dir, "lmdb.mdb");
    MDB_env *env;
    lmdb_env(&env, p, MDB_RDONLY);
    MDB_txn *txn;
    MDB_dbi dbi;
    lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
    mdb_txn_reset(txn);
    uint8_t *buf = xmalloc(d->plan.max_len);
    char key[16];
    for (uint64_t at = 0; at < n; at += BATCH) {
        size_t b = n - at < BATCH ? (size_t)(n - at) : BATCH;
        lmdb_check(mdb_txn_renew(txn), "mdb_txn_renew"); /* one read txn per batch */
        for (size_t j = 0; j < b; j++) {
            size_t i = order[at + j];
            MDB_val k = {md_record_key(&d->plan, i, key), key}, v;
            lmdb_check(mdb_get(txn, dbi, &k, &v), "mdb_get");
            if (v.mv_size <= d->plan.max_len) /* values are copied out, as every engine does */
                memcpy(buf, v.mv_data, v.mv_size);
            check_record(d, t, i, buf, v.mv_size);
        }
        mdb_txn_reset(txn);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    free(buf);
}
#endif

#ifdef VLS_BIGDATA_HDF5
static void run_hdf5(const dataset *d, const uint32_t *order, uint64_t n, tally *t)
{
    char p[4096];
    path_in(p, sizeof p, d->dir, "hdf5.h5");
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f < 0 ? -1 : H5Dopen2(f, "data", H5P_DEFAULT);
    hid_t ods = f < 0 ? -1 : H5Dopen2(f, "offsets", H5P_DEFAULT);
    uint64_t *off = xmalloc((d->plan.n + 1) * sizeof *off);
    if (ds < 0 || ods < 0 ||
        H5Dread(ods, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off) < 0)
        die("opening %s", p);
    H5Dclose(ods);
    hid_t fs = H5Dget_space(ds);
    uint8_t *buf = xmalloc(d->plan.max_len);
    for (uint64_t at = 0; at < n; at++) {
        size_t i = order[at];
        hsize_t start = off[i], count = off[i + 1] - off[i];
        hid_t ms = H5Screate_simple(1, &count, NULL);
        if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
            H5Dread(ds, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf) < 0)
            die("H5Dread of record %zu", i);
        H5Sclose(ms);
        check_record(d, t, i, buf, count);
    }
    H5Sclose(fs);
    H5Dclose(ds);
    H5Fclose(f);
    free(buf);
    free(off);
}
#endif

static int cmd_read(const char *dir, const char *engine, const char *order_name,
                    uint64_t max_records, int threads, uint32_t rank, uint32_t world)
{
    if (world == 0 || rank >= world)
        die("rank %u of world %u", rank, world);
    dataset d;
    dataset_load(&d, dir);
    tally t;
    memset(&t, 0, sizeof t);
    uint64_t n = d.plan.n;
    uint32_t *order = NULL;
    int loader = strcmp(order_name, "loader") == 0;
    int loader_files = !loader ? 0 : strcmp(engine, "vlstore") == 0 ? 1 :
                       strcmp(engine, "vlstore4") == 0 ? PARTS : 0;
    int vlstore_loader = loader_files > 0;
    if (world > 1 && !vlstore_loader)
        die("RANK WORLD are for the vlstore loader");
    if (!vlstore_loader)
        order = load_order(&d, order_name, &n);
    if (max_records && n > max_records)
        n = max_records;
    if (loader)
        t.seen = calloc(d.plan.n, 1);
    uint64_t io0 = proc_read_bytes();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_sec();
    if (vlstore_loader)
        run_vlstore_loader(&d, loader_files, threads, rank, world, &t);
    else if (strncmp(engine, "vlstore", 7) == 0 && strcmp(engine, "vlstore4") != 0) {
        /* vlstore[-ra][-pread]: 512 KiB or 64 KiB blocks, mapped or VLS_NOMMAP */
        int ra = strstr(engine, "-ra") != NULL, pr = strstr(engine, "-pread") != NULL;
        if (strlen(engine) != 7 + 3 * (size_t)ra + 6 * (size_t)pr)
            die("engine '%s' is unknown", engine);
        run_vlstore_get_many(&d, ra ? "vlstore-ra.vls" : "vlstore.vls", pr ? VLS_NOMMAP : 0,
                             order, n, threads, &t);
    }
    else if (strcmp(engine, "raw") == 0)
        run_raw(&d, order, n, &t);
#ifdef VLS_BIGDATA_LMDB
    else if (strcmp(engine, "lmdb") == 0)
        run_lmdb(&d, order, n, &t);
#endif
#ifdef VLS_BIGDATA_HDF5
    else if (strcmp(engine, "hdf5") == 0)
        run_hdf5(&d, order, n, &t);
#endif
    else
        die("engine '%s' is unknown or not built in (vlstore, vlstore4, vlstore-ra, vlstore-pread, "
            "vlstore-ra-pread, raw%s%s)",
            engine,
#ifdef VLS_BIGDATA_LMDB
            ", lmdb",
#else
            "",
#endif
#ifdef VLS_BIGDATA_HDF5
            ", hdf5"
#else
            ""
#endif
        );
    double dt = now_sec() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    uint64_t disk = proc_read_bytes() - io0;
    uint64_t missing = 0;
    if (loader && t.seen && world == 1 && n == d.plan.n) /* not for a prefix of the order */
        for (size_t i = 0; i < d.plan.n; i++)
            missing += !t.seen[i];
    if (world > 1)
        n = t.records; /* a rank's share; run.sh checks that the shares add up to the set */
    printf("RESULT engine=%s order=%s rank=%u world=%u records=%llu secs=%.3f rps=%.0f "
           "logical_MBps=%.1f disk_bytes=%llu disk_MBps=%.1f vmhwm_kb=%llu majflt=%ld bad=%llu "
           "dups=%llu missing=%llu\n",
           engine, order_name, rank, world, (unsigned long long)t.records, dt,
           (double)t.records / dt,
           (double)t.bytes / dt / 1e6, (unsigned long long)disk, (double)disk / dt / 1e6,
           (unsigned long long)proc_status_kb("VmHWM"), ru1.ru_majflt - ru0.ru_majflt,
           (unsigned long long)t.bad, (unsigned long long)t.dups, (unsigned long long)missing);
    int ok = t.bad == 0 && t.dups == 0 && missing == 0 && t.records == n;
    if (!ok)
        fprintf(stderr, "vls_bigdata: %s/%s delivered %llu of %llu records, %llu wrong, "
                "%llu twice, %llu never\n", engine, order_name,
                (unsigned long long)t.records, (unsigned long long)n,
                (unsigned long long)t.bad, (unsigned long long)t.dups,
                (unsigned long long)missing);
    free(t.seen);
    free(order);
    dataset_free(&d);
    return ok ? 0 : 1;
}

/*-*************************************
 *  Self test: mdstream == bench/workload.c
 ***************************************/
static int cmd_selftest(void)
{
    const uint64_t sizes[] = {1, 7, 40};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        bench_workload w;
        md_plan p;
        md_stream s;
        if (workload_generate(&w, sizes[k], 1234 + k) != 0 ||
            md_plan_make(&p, sizes[k], 1234 + k) != 0 || md_stream_open(&s, &p) != 0)
            return 1;
        uint8_t *rec = xmalloc(p.max_len);
        int bad = p.n != w.n || p.total != w.total || p.max_len != w.max_len;
        char key[16];
        for (size_t i = 0; !bad && i < p.n; i++) {
            uint32_t len = md_stream_next(&s, rec);
            size_t kl = md_record_key(&p, i, key);
            bad = len != w.len[i] || memcmp(rec, w.data + w.off[i], len) != 0 ||
                  kl != w.klen[i] || memcmp(key, workload_key(&w, i), kl) != 0 ||
                  md_record_len(&p, i) != len || md_key_index(&p, key, kl) != (long)i;
            if (bad)
                fprintf(stderr, "selftest: %llu MiB, record %zu differs from bench/workload.c\n",
                        (unsigned long long)sizes[k], i);
        }
        if (!bad && md_stream_next(&s, rec) != 0)
            bad = 1, fprintf(stderr, "selftest: mdstream yields more records than workload.c\n");
        printf("selftest %llu MiB: %zu records %s\n", (unsigned long long)sizes[k], p.n,
               bad ? "DIFFER" : "identical");
        free(rec);
        md_stream_close(&s);
        md_plan_free(&p);
        workload_free(&w);
        if (bad)
            return 1;
    }
    return 0;
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        die("%s: '%s' is not a number", what, s);
    return v;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "selftest") == 0)
        return cmd_selftest();
    if (argc == 5 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], parse_u64(argv[3], "SIZE_MIB"), parse_u64(argv[4], "SEED"));
    if (argc == 4 && strcmp(argv[1], "ceiling") == 0)
        return cmd_ceiling(argv[2], (int)parse_u64(argv[3], "THREADS"), 512ull << 20);
    if (((argc >= 5 && argc <= 7) || argc == 9) && strcmp(argv[1], "read") == 0)
        return cmd_read(argv[2], argv[3], argv[4], argc > 5 ? parse_u64(argv[5], "MAX_RECORDS") : 0,
                        argc > 6 ? (int)parse_u64(argv[6], "THREADS") : 1,
                        argc > 8 ? (uint32_t)parse_u64(argv[7], "RANK") : 0,
                        argc > 8 ? (uint32_t)parse_u64(argv[8], "WORLD") : 1);
    fprintf(stderr,
            "usage: vls_bigdata selftest\n"
            "       vls_bigdata write DIR SIZE_MIB SEED\n"
            "       vls_bigdata ceiling DIR THREADS\n"
            "       vls_bigdata read DIR vlstore|vlstore4|vlstore[-ra][-pread]|lmdb|hdf5|raw\n"
            "                        loader|random\n"
            "                        [MAX_RECORDS [THREADS [RANK WORLD]]]\n"
            "(bench/bigdata/run.sh drives these inside a memory- and read-limited cgroup)\n");
    return 2;
}
