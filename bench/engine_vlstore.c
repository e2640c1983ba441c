/*
 * engine_vlstore.c — vlstore through its public API only, under several option sets:
 *
 *   vlstore          vls_options_init() defaults
 *   vlstore-lz4      defaults with lz4 at level 1 (the fastest write; the default is level 9)
 *   vlstore-blosclz  defaults with codec blosclz          (not in the default engine list)
 *   vlstore-zstd5    defaults with codec zstd, level 5 (the next step of the ratio/speed trade)
 *   vlstore-none     defaults with codec none (chunks stored uncompressed)
 *   vlstore-ra       vls_options_random_access()
 *
 * Every variant gets the same per-handle settings as the peers: `threads` from --threads and
 * the shared cache budget as cache_bytes. Write: vls_open(CREATE|TRUNCATE), vls_put per record,
 * vls_commit (fsyncs), vls_close. Reads: a read-only handle; scan = chunk by chunk with
 * vls_read_chunk, straight into the driver's buffer when a chunk's records lie there back to
 * back (see vl_scan); get = vls_get; batch = vls_get_many; the loader epoch = vls_loader.
 *
 * Also holds bench_defaults(), which reads vlstore's defaults for the limits.
 */
#include "bench.h"

#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VLS_BENCH_NO_VLSTORE

/* The defaults documented in include/vlstore.h, for builds without the library. */
void bench_defaults(bench_blosc *b, uint64_t *cache_bytes)
{
    *cache_bytes = 64u << 20;
    b->chunk_size = 4u << 20;
    b->codec = BLOSC_LZ4;
    b->level = 9;
    b->shuffle = BLOSC_SHUFFLE;
    b->typesize = 4;
    b->block_size = 512u << 10;
}

#else

#include <vlstore.h>
#include <vlstore_loader.h>

void bench_defaults(bench_blosc *b, uint64_t *cache_bytes)
{
    vls_options o;
    vls_options_init(&o);
    *cache_bytes = o.cache_bytes;
    b->chunk_size = o.chunk_size;
    b->codec = o.codec;
    b->level = o.level;
    b->shuffle = o.shuffle;
    b->typesize = o.typesize;
    b->block_size = o.block_size;
}

typedef struct vls_impl {
    vls_options opts;
    vls_store *s;
    vls_key keys[BENCH_BATCH];
    vls_span spans[BENCH_BATCH];
} vls_impl;

static int vl_fail(bench_engine *e, const vls_store *s, int rc, const char *what)
{
    const char *detail = vls_errmsg(s);
    return bench_fail(e, "%s: %s (%d)%s%s", what, vls_strerror(rc), rc,
                      detail && *detail ? ": " : "", detail ? detail : "");
}

static int vl_init_with(bench_engine *e, const vls_options *o, const char *label)
{
    vls_impl *v = calloc(1, sizeof *v);
    if (!v)
        return bench_fail(e, "out of memory");
    v->opts = *o;
    v->opts.threads = e->cfg->threads;
    v->opts.cache_bytes = e->cfg->cache_bytes;
    /* One thread means one: write-behind compresses on a second thread, which no peer has. */
    v->opts.write_behind = e->cfg->threads > 1;
    e->impl = v;
    snprintf(e->path, sizeof e->path, "%s/store.vls", e->dir);
    const vls_options *p = &v->opts;
    snprintf(e->settings, sizeof e->settings,
             "vlstore %s, %s: chunk %u KiB, codec %s level %d, shuffle %d, typesize %d, "
             "block %u KiB, placement %s, threads %d, write-behind %s, cache %llu MiB; "
             "vls_put per record + vls_commit (fsync); reads through mmap (MADV_RANDOM, "
             "vlstore's own); scan = vls_read_chunk per chunk; batch = vls_get_many; block "
             "epoch = vls_loader (batch 64, read size 4, inline reads on %d thread(s))",
             VLS_VERSION_STRING, label, p->chunk_size >> 10, vls_compressor_name(p->codec),
             p->level, p->shuffle, p->typesize, p->block_size >> 10,
             vls_placement_name(p->placement), p->threads, p->write_behind ? "on" : "off",
             (unsigned long long)(p->cache_bytes >> 20), p->threads);
    return 0;
}

static int vl_init_default(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    return vl_init_with(e, &o, "vls_options_init defaults");
}

static int vl_init_lz4(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    o.codec = VLS_CODEC_LZ4;
    o.level = 1;
    return vl_init_with(e, &o, "defaults + lz4 level 1");
}

static int vl_init_blosclz(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    o.codec = VLS_CODEC_BLOSCLZ;
    return vl_init_with(e, &o, "defaults + codec blosclz");
}

static int vl_init_zstd5(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    o.codec = VLS_CODEC_ZSTD;
    o.level = 5;
    return vl_init_with(e, &o, "defaults + codec zstd level 5");
}

static int vl_init_none(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    o.codec = VLS_CODEC_NONE;
    return vl_init_with(e, &o, "defaults + codec none");
}

static int vl_init_ra(bench_engine *e)
{
    vls_options o;
    vls_options_init(&o);
    vls_options_random_access(&o);
    return vl_init_with(e, &o, "vls_options_random_access");
}

static void vl_close(bench_engine *e)
{
    vls_impl *v = e->impl;
    if (v && v->s) {
        vls_close(v->s); /* read-only: nothing to commit, nothing to report */
        v->s = NULL;
    }
}

static int vl_write(bench_engine *e, const bench_workload *w)
{
    vls_impl *v = e->impl;
    vls_store *s = NULL;
    int rc = vls_open(e->path, VLS_CREATE | VLS_TRUNCATE, &v->opts, &s);
    if (rc)
        return vl_fail(e, NULL, rc, "vls_open(CREATE|TRUNCATE)");
    for (size_t i = 0; i < w->n; i++) {
        rc = vls_put(s, workload_key(w, i), w->klen[i], w->data + w->off[i], w->len[i], 0);
        if (rc) {
            vl_fail(e, s, rc, "vls_put");
            vls_close(s);
            return -1;
        }
    }
    rc = vls_commit(s);
    if (rc) {
        vl_fail(e, s, rc, "vls_commit");
        vls_close(s);
        return -1;
    }
    rc = vls_close(s);
    if (rc)
        return vl_fail(e, NULL, rc, "vls_close");
    return 0;
}

static int vl_open(bench_engine *e, const bench_workload *w)
{
    vls_impl *v = e->impl;
    vl_close(e);
    int rc = vls_open(e->path, VLS_RDONLY, &v->opts, &v->s);
    if (rc)
        return vl_fail(e, NULL, rc, "vls_open(RDONLY)");
    uint64_t count = vls_count(v->s);
    if (count != w->n) {
        bench_fail(e, "vls_count = %llu, expected %zu", (unsigned long long)count, w->n);
        vl_close(e);
        return -1;
    }
    return 0;
}

/* Chunk by chunk: the records of a chunk are listed (vls_iter_next_chunk); when they fill the
 * chunk exactly and their sink places lie back to back (the usual case: the driver lays
 * records out in generation order), the chunk is decoded straight into the sink with
 * vls_read_chunk, as the raw Blosc limit does; otherwise into a scratch buffer and copied. */
static int vl_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    (void)w;
    vls_impl *v = e->impl;
    uint64_t pos = 0, len, chunk, coff, clen;
    const void *key;
    size_t klen, got;
    unsigned char *scratch = NULL;
    size_t scap = 0;
    int rc, more = vls_iter_next_chunk(v->s, &pos, &key, &klen, &len, &chunk, &coff);
    typedef struct { void *dst; uint64_t off, len; } place;
    place *pl = NULL;
    size_t npl = 0, cpl = 0;
    while (more == 1) {
        uint64_t c = chunk;
        npl = 0;
        int direct = coff == 0, any = 0;
        unsigned char *base = NULL;
        uint64_t end = 0;
        while (more == 1 && chunk == c) {
            void *dst = sink_dest_key(sink, key, klen, len);
            if (npl == cpl) {
                cpl = cpl ? 2 * cpl : 256;
                pl = realloc(pl, cpl * sizeof *pl);
                if (!pl)
                    return bench_fail(e, "out of memory");
            }
            pl[npl++] = (place){dst, coff, len};
            if (!dst || coff != end || (any && (unsigned char *)dst != base + coff))
                direct = 0;
            if (!any)
                base = dst;
            any = 1;
            end = coff + len;
            more = vls_iter_next_chunk(v->s, &pos, &key, &klen, &len, &chunk, &coff);
        }
        if (c == UINT64_MAX)
            return bench_fail(e, "scan: records outside committed chunks");
        if ((rc = vls_chunk_length(v->s, c, &clen)) != 0)
            return vl_fail(e, v->s, rc, "vls_chunk_length");
        if (direct && end == clen) {
            if ((rc = vls_read_chunk(v->s, c, base, (size_t)clen, &got)) != 0)
                return vl_fail(e, v->s, rc, "vls_read_chunk (scan)");
            continue;
        }
        if (clen > scap) {
            free(scratch);
            scap = (size_t)clen;
            if (!(scratch = malloc(scap)))
                return bench_fail(e, "out of memory");
        }
        if ((rc = vls_read_chunk(v->s, c, scratch, scap, &got)) != 0)
            return vl_fail(e, v->s, rc, "vls_read_chunk (scan)");
        for (size_t i = 0; i < npl; i++) /* a record running on into the next chunk is rare */
            if (pl[i].dst && pl[i].off + pl[i].len <= clen)
                memcpy(pl[i].dst, scratch + pl[i].off, (size_t)pl[i].len);
            else if (pl[i].dst)
                return bench_fail(e, "scan: a record spans chunks; not handled by this scan");
    }
    free(scratch);
    free(pl);
    if (more < 0)
        return vl_fail(e, v->s, more, "vls_iter_next_chunk");
    return 0;
}

static int vl_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                  size_t *len)
{
    vls_impl *v = e->impl;
    int rc = vls_get(v->s, workload_key(w, idx), w->klen[idx], buf, cap, len);
    if (rc)
        return vl_fail(e, v->s, rc, "vls_get");
    return 0;
}

static int vl_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                    bench_batch *b)
{
    vls_impl *v = e->impl;
    for (size_t k = 0; k < n; k++) {
        v->keys[k].data = workload_key(w, idx[k]);
        v->keys[k].len = w->klen[idx[k]];
    }
    uint64_t needed = 0;
    int rc = vls_get_many(v->s, n, v->keys, b->dst, b->cap, v->spans, &needed);
    if (rc == VLS_E_TOOSMALL)
        return bench_fail(e, "vls_get_many: needs %llu bytes, buffer has %zu",
                          (unsigned long long)needed, b->cap);
    if (rc)
        return vl_fail(e, v->s, rc, "vls_get_many");
    for (size_t k = 0; k < n; k++) {
        if (v->spans[k].status)
            return bench_fail(e, "vls_get_many: record %s: %s", workload_key(w, idx[k]),
                              vls_strerror(v->spans[k].status));
        b->off[k] = v->spans[k].offset;
        b->len[k] = v->spans[k].length;
    }
    return 0;
}

static void vl_fini(bench_engine *e)
{
    vl_close(e);
    free(e->impl);
    e->impl = NULL;
}

/* The loader over the store, reading inline (prefetch off) on `threads` threads, so every
 * read and decode happens inside vls_loader_next() on the caller's thread(s), as a peer's
 * batch read does inside its call: the loader gets no helper thread the peers lack. The timed
 * epoch is the loader's second (epoch 1): what epochs 2..N of a training job see, with its
 * read buffers and the file's mapping in place, as the peers' epochs run on handles the
 * earlier phases used. Each batch is logged (key, length, hash) between the calls, outside
 * the timer. */
static int vl_loader_epoch(bench_engine *e, const bench_workload *w, bench_epoch_log *log,
                           double *secs)
{
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.batch_size = BENCH_BATCH;
    o.threads = e->cfg->threads;
    o.prefetch = 0;
    o.seed = w->seed;
    const char *path = e->path;
    vls_loader *ld;
    const vls_record *recs;
    size_t n;
    int rc = vls_loader_open(&path, 1, &o, &ld);
    if (rc)
        return bench_fail(e, "vls_loader_open: %s", vls_loader_errmsg(NULL));
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1) /* epoch 0, untimed */
        ;
    double busy = 0;
    if (rc == 0)
        rc = vls_loader_start_epoch(ld, 1);
    while (rc == 0) {
        double t0 = now_sec();
        rc = vls_loader_next(ld, &recs, &n);
        busy += now_sec() - t0;
        if (rc != 1)
            break;
        for (size_t i = 0; i < n; i++)
            epoch_log_record(log, w, recs[i].key, recs[i].klen, recs[i].data, recs[i].len);
        epoch_log_batch(log, n);
        rc = 0;
    }
    if (rc < 0) {
        bench_fail(e, "vls_loader_next: %s", vls_loader_errmsg(ld));
        vls_loader_close(ld);
        return -1;
    }
    vls_loader_close(ld);
    *secs = busy;
    return 0;
}

#define VLS_ENGINE(sym, nm, init_fn, sum)                                                     \
    const bench_engine_ops sym = {                                                              \
        .name = nm,                                                                             \
        .summary = sum,                                                                         \
        .init = init_fn,                                                                        \
        .write = vl_write,                                                                      \
        .open = vl_open,                                                                        \
        .close = vl_close,                                                                      \
        .scan = vl_scan,                                                                        \
        .get = vl_get,                                                                          \
        .get_batch = vl_batch,                                                                  \
        .fini = vl_fini,                                                                        \
        .loader_epoch = vl_loader_epoch,                                                        \
    }

VLS_ENGINE(bench_engine_vlstore, "vlstore", vl_init_default, "vlstore, vls_options_init defaults");
VLS_ENGINE(bench_engine_vlstore_lz4, "vlstore-lz4", vl_init_lz4, "vlstore, lz4 level 1");
VLS_ENGINE(bench_engine_vlstore_blosclz, "vlstore-blosclz", vl_init_blosclz,
           "vlstore, codec blosclz");
VLS_ENGINE(bench_engine_vlstore_zstd5, "vlstore-zstd5", vl_init_zstd5,
           "vlstore, codec zstd level 5");
VLS_ENGINE(bench_engine_vlstore_none, "vlstore-none", vl_init_none,
           "vlstore, codec none (uncompressed chunks)");
VLS_ENGINE(bench_engine_vlstore_ra, "vlstore-ra", vl_init_ra, "vlstore, vls_options_random_access");

#endif /* VLS_BENCH_NO_VLSTORE */

const char *bench_codec_name(int codec)
{
    switch (codec) {
    case 0: return "blosclz";
    case 1: return "lz4";
    case 2: return "lz4hc";
    case 3: return "snappy";
    case 4: return "zlib";
    case 5: return "zstd";
    case 15: return "none";
    default: return "?";
    }
}
