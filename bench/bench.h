/*
 * bench.h — the pieces shared by the vlstore benchmark (bench/vls_bench.c is the driver).
 *
 * Files of the benchmark and what each holds:
 *   bench.h            this header: workload, engine interface, small utilities
 *   workload.c         the deterministic MD workload (PRNG, systems, frames, keys, hashes)
 *   util.c             clocks, files (fsync, page-cache eviction, sizes), key table, stats
 *   engine_vlstore.c   vlstore under several option sets
 *   engine_lmdb.c      LMDB
 *   engine_sqlite.c    SQLite
 *   engine_hdf5.c      HDF5 ragged layout, with and without the Blosc filter plugin
 *   engine_raw.c       the two limits: raw pread, raw Blosc chunks
 *   vls_bench.c        the driver's main; its other files (driver.h, options.c, phases.c,
 *                      paired.c, report.c) are listed in driver.h
 *
 * Dependency rule: engines use bench.h and their own library only; the driver uses the
 * engines only through `bench_engine_ops`. The workload never touches an engine.
 *
 * Build switch: -DVLS_BENCH_NO_VLSTORE compiles the benchmark without libvlstore (the vlstore
 * engines are then absent), for working on the peers while the library does not build.
 */
#ifndef VLS_BENCH_H
#define VLS_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/*-*************************************
 *  Blosc settings shared with the limits
 ***************************************/
/* The settings of a Blosc chunk stream. The "raw-blosc" limit and the HDF5 Blosc filter use
 * vlstore's defaults (read from vls_options_init() at run time), so the comparison
 * "vlstore vs. raw Blosc" isolates what the store adds around the codec. */
typedef struct bench_blosc {
    uint32_t chunk_size; /* bytes of records per chunk */
    int codec;           /* Blosc compressor code (BLOSC_ZSTD, ...) */
    int level;           /* 0..9 */
    int shuffle;         /* 0 none, 1 byte, 2 bit */
    int typesize;        /* shuffle element size */
    uint32_t block_size; /* Blosc block size; 0 lets Blosc choose */
} bench_blosc;

/*-*************************************
 *  Workload
 ***************************************/
/* N records held in memory, in generation order. Record i is data[off[i] .. off[i]+len[i]),
 * its key key(i) (klen[i] bytes, not NUL-terminated in the arena but followed by a NUL), and
 * hash[i] = XXH3_64bits of its bytes, computed once at generation. */
typedef struct bench_workload {
    uint64_t seed;
    size_t n;              /* records */
    size_t nsys;           /* systems */
    uint64_t total;        /* sum of record lengths */
    uint32_t max_len;      /* longest record */
    uint32_t max_klen;     /* longest key */
    uint8_t *data;         /* records back to back, total bytes */
    uint64_t *off;         /* n */
    uint32_t *len;         /* n */
    uint32_t *natoms;      /* n, atoms in record i */
    uint64_t *hash;        /* n */
    char *keys;            /* key arena */
    uint64_t *koff;        /* n, offset of key i in keys */
    uint16_t *klen;        /* n */
} bench_workload;

/* Generates about size_mib MiB of records from `seed`. Returns 0 or -1 (message on stderr). */
int workload_generate(bench_workload *w, uint64_t size_mib, uint64_t seed);
void workload_free(bench_workload *w);
static inline const char *workload_key(const bench_workload *w, size_t i)
{
    return w->keys + w->koff[i];
}

/* The benchmark's own PRNG (xoshiro256**, seeded by splitmix64): identical sequences on every
 * machine for a given seed. */
typedef struct bench_rng {
    uint64_t s[4];
} bench_rng;
void rng_seed(bench_rng *r, uint64_t seed);
uint64_t rng_next(bench_rng *r);
uint64_t rng_below(bench_rng *r, uint64_t bound); /* uniform in [0, bound), bound > 0 */
double rng_unit(bench_rng *r);                    /* uniform in [0, 1) */
double rng_gauss(bench_rng *r);                   /* standard normal */

/*-*************************************
 *  Key table (key bytes -> record index)
 ***************************************/
/* An open-addressing hash table over keys held elsewhere (it keeps pointers, not copies).
 * Used by the driver to place scanned records, and by engines without their own index
 * (HDF5, which builds one from its keys dataset at open). */
typedef struct bench_keytab {
    uint32_t *slot; /* index + 1, 0 = empty */
    size_t mask;
    const char *const *kptr; /* kptr[i] points to key i */
    const uint16_t *klen;
} bench_keytab;
int keytab_build(bench_keytab *t, size_t n, const char *const *kptr, const uint16_t *klen);
/* Returns the index of the key, or -1. */
long keytab_find(const bench_keytab *t, const void *key, size_t klen);
void keytab_free(bench_keytab *t);

/*-*************************************
 *  Engines
 ***************************************/
typedef struct bench_config {
    int threads;         /* threads for engines that can use them (vlstore, Blosc) */
    uint64_t cache_bytes; /* in-process cache budget given to every engine that has one */
    bench_blosc blosc;   /* vlstore's defaults */
} bench_config;

/* Where a scan puts records: the driver owns `out` (laid out like the workload) and `seen`. */
typedef struct bench_scan_sink {
    const bench_workload *w;
    const bench_keytab *kt;
    uint8_t *out;
    uint8_t *seen;     /* n flags */
    uint64_t unknown;  /* records whose key was not found or whose length differed */
    uint64_t dups;     /* records delivered twice */
} bench_scan_sink;

/* Destination for the record with this key and length, or NULL (counted in sink->unknown).
 * The caller then writes exactly len bytes there. */
void *sink_dest_key(bench_scan_sink *s, const void *key, size_t klen, uint64_t len);
/* Destination for records [first, first+count) by index (engines that store by index). */
void *sink_dest_idx(bench_scan_sink *s, size_t first, size_t count);

/* A batch read's result: record k of the request is dst[off[k] .. off[k]+len[k]). */
#define BENCH_BATCH 64
typedef struct bench_batch {
    uint8_t *dst;
    size_t cap;
    uint64_t off[BENCH_BATCH];
    uint64_t len[BENCH_BATCH];
} bench_batch;

typedef struct bench_engine bench_engine;

/* What a loader served, in order: a record's index (or -1 for a key the workload does not
 * have), the batch sizes, and the records that failed the length + XXH3 check. The driver
 * owns the arrays (idx: cap entries, batch_len: bcap entries); entries past a cap are counted
 * in n / nbatch but not stored. */
typedef struct bench_epoch_log {
    const bench_keytab *kt;
    long *idx;
    size_t cap, n;
    uint32_t *batch_len;
    size_t bcap, nbatch;
    uint64_t bad;        /* delivered, but wrong length or bytes */
    char bad_what[256];  /* the first bad or unknown record */
} bench_epoch_log;

/* Logs one served record, then the end of its batch (n records); both are called outside
 * the timed interval. */
void epoch_log_record(bench_epoch_log *log, const bench_workload *w, const void *key,
                      size_t klen, const void *data, uint64_t len);
void epoch_log_batch(bench_epoch_log *log, size_t n);

/* One engine. Every function returns 0, or -1 with a message in e->err naming the call that
 * failed and the library's own error text. Records are looked up by their key
 * (workload_key(w, idx)); only the two raw limits use idx directly, standing for a perfect
 * in-memory index. */
typedef struct bench_engine_ops {
    const char *name;
    const char *summary; /* one line for --help */
    /* Checks availability, fills e->settings. May allocate e->impl. */
    int (*init)(bench_engine *e);
    /* Creates the store in e->dir, puts every record, makes it durable (fsync), closes. */
    int (*write)(bench_engine *e, const bench_workload *w);
    /* Opens the store read-only (after write, or again after eviction). */
    int (*open)(bench_engine *e, const bench_workload *w);
    /* Closes what open() opened; safe to call when not open. */
    void (*close)(bench_engine *e);
    /* Reads every record in the engine's storage order into the sink. */
    int (*scan)(bench_engine *e, const bench_workload *w, bench_scan_sink *sink);
    /* Reads one record into buf[0..cap); *len = its length. */
    int (*get)(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
               size_t *len);
    /* Reads records idx[0..n) (n <= BENCH_BATCH) into b, with the engine's own batch read. */
    int (*get_batch)(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                     bench_batch *b);
    /* Frees e->impl. */
    void (*fini)(bench_engine *e);
    /* Optional (vlstore only): the engine's own block-shuffled loader (batches of 64, read
     * size 4, seed = the workload's seed), reading inline on the calling thread. Epoch 0 runs
     * untimed; epoch 1 is timed: *secs = time inside the loader's calls only. Every record
     * of epoch 1 goes to `log` between those calls, outside the timer. */
    int (*loader_epoch)(bench_engine *e, const bench_workload *w, bench_epoch_log *log,
                        double *secs);
} bench_engine_ops;

struct bench_engine {
    const bench_engine_ops *ops;
    const bench_config *cfg;
    char dir[PATH_MAX / 2]; /* the engine's own directory; all its files live here */
    char path[PATH_MAX];  /* main file: dir/store.<ext>, set by init */
    char settings[1024];  /* human-readable settings, for results.md */
    char err[2048];
    void *impl;
};

/* Formats into e->err and returns -1, so engines can write `return bench_fail(e, ...)`. */
int bench_fail(bench_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const bench_engine_ops bench_engine_lmdb, bench_engine_sqlite, bench_engine_sqlite_mmap,
    bench_engine_hdf5, bench_engine_hdf5_blosc, bench_engine_raw_pread, bench_engine_raw_blosc;
#ifndef VLS_BENCH_NO_VLSTORE
extern const bench_engine_ops bench_engine_vlstore, bench_engine_vlstore_lz4,
    bench_engine_vlstore_blosclz, bench_engine_vlstore_zstd5, bench_engine_vlstore_none,
    bench_engine_vlstore_ra;
#endif

/* The block size to hand Blosc so that the block it writes is b->block_size, as vlstore does
 * (src/chunk.c): Blosc 1 multiplies a forced block size by the typesize for every compressor
 * but zstd. Every Blosc engine uses it, so "the same settings" means the same written block. */
size_t bench_blosc_request(const bench_blosc *b);

/* vlstore's defaults (vls_options_init): the Blosc settings and the cache size, or the values
 * documented in vlstore.h when built without vlstore. */
void bench_defaults(bench_blosc *b, uint64_t *cache_bytes);
const char *bench_codec_name(int codec);

/*-*************************************
 *  Utilities
 ***************************************/
double now_sec(void); /* CLOCK_MONOTONIC seconds */
/* The median of v[0..n), n > 0, sorted in place (the mean of the middle two for even n). */
double bench_median(double *v, size_t n);
/* fsync a file by path (for engines whose library does not sync), and a directory. */
int fsync_path(const char *path, char *err, size_t errcap);
/* Sum of st_size over the regular files in dir (not recursive). */
uint64_t dir_bytes(const char *dir);
/* Reads every file under dir, back to back, into buf (exactly cap bytes in all). 0 or -1. */
int dir_read_all(const char *dir, unsigned char *buf, uint64_t cap);
/* posix_fadvise(DONTNEED) on every regular file in dir. Returns files evicted or -1. */
int dir_evict(const char *dir);
/* Reads every regular file in dir once, so it sits in the page cache. */
int dir_prewarm(const char *dir);
/* mkdir for one level; removes every file in dir and dir itself. */
int dir_make(const char *dir);
void dir_remove(const char *dir);

#endif /* VLS_BENCH_H */
