/*
 * engine_hdf5.c — HDF5 "ragged" layout, the usual way variable-length frames go into HDF5:
 *
 *   /data     all records concatenated; 1-D, chunked (vlstore's chunk size), unlimited,
 *             element type 32-bit unsigned (every record is a multiple of 4 bytes, so this
 *             gives the Blosc filter typesize 4, the same shuffle vlstore uses)
 *   /offsets  uint64[n+1], byte offset of record i in /data
 *   /keys     fixed-length strings, key of record i
 *
 * At open the offsets and keys are read and a hash table key -> i is built in memory.
 * Two variants: "hdf5" (no filter) and "hdf5-blosc" (filter 32001 from the Debian package
 * hdf5-filter-plugin-blosc-serial, cd_values {0,0,0,0, level, shuffle, codec}: vlstore's
 * defaults; the plugin calls libblosc's global blosc_compress/blosc_decompress, so the block
 * size and thread count are given to it through blosc_set_blocksize/blosc_set_nthreads).
 *
 * Write: records are staged and appended one full chunk at a time (H5Dset_extent + H5Dwrite),
 * so no chunk is ever rewritten; then offsets and keys; H5Fclose; fsync (HDF5 never syncs).
 * Reads: with the filter, the dataset's chunk cache gets the shared cache budget (HDF5's
 * default 1 MiB is smaller than one chunk and would make every read decompress a whole
 * chunk); without it, HDF5's default cache, which unfiltered reads bypass; a get is one
 * hyperslab read; a batch is one H5Dread of the union of its hyperslabs; a scan reads
 * chunk-aligned slabs.
 */
#include "bench.h"

#include <blosc.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H5Z_FILTER_BLOSC 32001

typedef struct hdf5_impl {
    int blosc;
    hid_t file, ds, fspace, u32;
    uint64_t *offsets; /* n+1 bytes offsets */
    char *keys;        /* n * klen */
    const char **kptr;
    uint16_t *klens;
    size_t n, klen;
    bench_keytab kt;
} hdf5_impl;

/*-*************************************
 *  Errors: the innermost message of HDF5's error stack
 ***************************************/
typedef struct h5err {
    char buf[512];
    int depth;
} h5err;

static herr_t h5_walk(unsigned n, const H5E_error2_t *err, void *ctx)
{
    h5err *h = ctx;
    if (h->depth++ < 3) {
        size_t used = strlen(h->buf);
        snprintf(h->buf + used, sizeof h->buf - used, "%s%s(): %s", used ? " <- " : "",
                 err->func_name ? err->func_name : "?", err->desc ? err->desc : "?");
    }
    (void)n;
    return 0;
}

static int h5_fail(bench_engine *e, const char *what)
{
    h5err h = {{0}, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, h5_walk, &h);
    H5Eclear2(H5E_DEFAULT);
    return bench_fail(e, "%s failed: %s", what, h.buf[0] ? h.buf : "(no HDF5 error stack)");
}

/*-*************************************
 *  Setup
 ***************************************/
static int h5_global(bench_engine *e)
{
    static int done;
    if (done)
        return 0;
    if (H5open() < 0)
        return bench_fail(e, "H5open failed");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
#ifdef VLS_BENCH_HDF5_PLUGIN_DIR
    /* Where Debian's hdf5-filter-plugin-blosc-serial puts the filter, unless the user points
     * HDF5_PLUGIN_PATH elsewhere. */
    if (!getenv("HDF5_PLUGIN_PATH") && H5PLappend(VLS_BENCH_HDF5_PLUGIN_DIR) < 0)
        return h5_fail(e, "H5PLappend(" VLS_BENCH_HDF5_PLUGIN_DIR ")");
#endif
    done = 1;
    return 0;
}

static void h5_blosc_globals(const bench_engine *e)
{
    blosc_set_blocksize(bench_blosc_request(&e->cfg->blosc));
    blosc_set_nthreads(e->cfg->threads);
}

static int h5_init_common(bench_engine *e, int blosc)
{
    unsigned maj = 0, min = 0, rel = 0;
    if (h5_global(e) != 0)
        return -1;
    H5get_libversion(&maj, &min, &rel);
    hdf5_impl *h = calloc(1, sizeof *h);
    if (!h)
        return bench_fail(e, "out of memory");
    h->file = h->ds = h->fspace = -1;
    h->blosc = blosc;
    e->impl = h;
    snprintf(e->path, sizeof e->path, "%s/store.h5", e->dir);
    const bench_blosc *bl = &e->cfg->blosc;
    char filt[256] = "no filter";
    char cache[128] = "HDF5 default (1 MiB < one chunk: reads bypass it)";
    if (blosc)
        snprintf(cache, sizeof cache, "%llu MiB", (unsigned long long)(e->cfg->cache_bytes >> 20));
    if (blosc) {
        htri_t avail = H5Zfilter_avail(H5Z_FILTER_BLOSC);
        if (avail <= 0)
            return bench_fail(e, "HDF5 Blosc filter (id %d) not available: install "
                                 "hdf5-filter-plugin-blosc-serial or set HDF5_PLUGIN_PATH",
                              H5Z_FILTER_BLOSC);
        const char *cname = NULL;
        if (blosc_compcode_to_compname(bl->codec, &cname) < 0 || !cname)
            return bench_fail(e, "codec %d (vlstore's default) is not a Blosc codec", bl->codec);
        snprintf(filt, sizeof filt,
                 "Blosc filter 32001 (plugin), %s level %d shuffle %d typesize 4, blocksize %u, "
                 "%d thread(s)",
                 cname, bl->level, bl->shuffle, bl->block_size, e->cfg->threads);
    }
    snprintf(e->settings, sizeof e->settings,
             "HDF5 %u.%u.%u, libver latest; /data uint32 1-D chunked %u KiB, %s; /offsets "
             "uint64[n+1]; /keys fixed strings -> in-memory hash at open; appends one full chunk "
             "per H5Dwrite; H5Fclose + fsync; chunk cache %s; batch = one H5Dread of the "
             "union of hyperslabs",
             maj, min, rel, bl->chunk_size >> 10, filt, cache);
    return 0;
}

static int h5_init_plain(bench_engine *e)
{
    return h5_init_common(e, 0);
}

static int h5_init_blosc(bench_engine *e)
{
    return h5_init_common(e, 1);
}

static void h5_close(bench_engine *e)
{
    hdf5_impl *h = e->impl;
    if (!h)
        return;
    if (h->fspace >= 0)
        H5Sclose(h->fspace);
    if (h->ds >= 0)
        H5Dclose(h->ds);
    if (h->file >= 0)
        H5Fclose(h->file);
    h->file = h->ds = h->fspace = -1;
    keytab_free(&h->kt);
    free(h->offsets);
    free(h->keys);
    free(h->kptr);
    free(h->klens);
    h->offsets = NULL;
    h->keys = NULL;
    h->kptr = NULL;
    h->klens = NULL;
    H5Eclear2(H5E_DEFAULT);
}

/*-*************************************
 *  Write
 ***************************************/
/* Appends nbytes (a multiple of 4) from buf at element `at` of /data. */
static int h5_append(bench_engine *e, hid_t ds, const void *buf, size_t nbytes, hsize_t at)
{
    hsize_t cnt = nbytes / 4, newdim = at + cnt;
    if (H5Dset_extent(ds, &newdim) < 0)
        return h5_fail(e, "H5Dset_extent");
    hid_t fs = H5Dget_space(ds);
    if (fs < 0)
        return h5_fail(e, "H5Dget_space");
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    int rc = 0;
    if (ms < 0)
        rc = h5_fail(e, "H5Screate_simple");
    else if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &cnt, NULL) < 0)
        rc = h5_fail(e, "H5Sselect_hyperslab");
    else if (H5Dwrite(ds, H5T_NATIVE_UINT32, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = h5_fail(e, "H5Dwrite /data");
    if (ms >= 0)
        H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

static int h5_write_small(bench_engine *e, hid_t file, const char *name, hid_t ftype,
                          hid_t mtype, hsize_t count, const void *buf)
{
    hid_t sp = H5Screate_simple(1, &count, NULL);
    if (sp < 0)
        return h5_fail(e, "H5Screate_simple");
    hid_t ds = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0)
        rc = h5_fail(e, name);
    else if (H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = h5_fail(e, "H5Dwrite");
    if (ds >= 0 && H5Dclose(ds) < 0 && rc == 0)
        rc = h5_fail(e, "H5Dclose");
    H5Sclose(sp);
    return rc;
}

static int h5_write(bench_engine *e, const bench_workload *w)
{
    hdf5_impl *h = e->impl;
    const bench_blosc *bl = &e->cfg->blosc;
    hid_t fapl = -1, file = -1, dcpl = -1, space = -1, ds = -1, strt = -1;
    uint8_t *stage = NULL;
    uint64_t *offs = NULL;
    char *keys = NULL;
    int rc = -1;

    if (h->blosc)
        h5_blosc_globals(e);
    if (bl->chunk_size % 4 != 0)
        return bench_fail(e, "chunk size %u is not a multiple of 4", bl->chunk_size);
    stage = malloc(bl->chunk_size);
    offs = malloc((w->n + 1) * sizeof *offs);
    keys = calloc(w->n, w->max_klen);
    if (!stage || !offs || !keys) {
        bench_fail(e, "out of memory");
        goto done;
    }
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) {
        h5_fail(e, "H5Pset_libver_bounds");
        goto done;
    }
    if ((file = H5Fcreate(e->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        h5_fail(e, "H5Fcreate");
        goto done;
    }
    hsize_t dim = 0, maxdim = H5S_UNLIMITED, chunk = bl->chunk_size / 4;
    if ((space = H5Screate_simple(1, &dim, &maxdim)) < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        H5Pset_chunk(dcpl, 1, &chunk) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        h5_fail(e, "dataset creation properties");
        goto done;
    }
    if (h->blosc) {
        const unsigned cd[7] = {0, 0, 0, 0, (unsigned)bl->level, (unsigned)bl->shuffle,
                                (unsigned)bl->codec};
        if (H5Pset_filter(dcpl, H5Z_FILTER_BLOSC, H5Z_FLAG_OPTIONAL, 7, cd) < 0) {
            h5_fail(e, "H5Pset_filter(blosc)");
            goto done;
        }
    }
    if ((ds = H5Dcreate2(file, "data", H5T_STD_U32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        h5_fail(e, "H5Dcreate2 /data");
        goto done;
    }

    size_t used = 0;
    hsize_t at = 0; /* elements written */
    for (size_t i = 0; i < w->n; i++) {
        const uint8_t *p = w->data + w->off[i];
        size_t left = w->len[i];
        if (left % 4 != 0) {
            bench_fail(e, "record %zu is %zu bytes, not a multiple of 4", i, left);
            goto done;
        }
        offs[i] = (uint64_t)at * 4 + used;
        memcpy(keys + i * w->max_klen, workload_key(w, i), w->klen[i]);
        while (left > 0) {
            size_t take = bl->chunk_size - used < left ? bl->chunk_size - used : left;
            memcpy(stage + used, p, take);
            used += take;
            p += take;
            left -= take;
            if (used == bl->chunk_size) {
                if (h5_append(e, ds, stage, used, at) != 0)
                    goto done;
                at += used / 4;
                used = 0;
            }
        }
    }
    if (used > 0) {
        if (h5_append(e, ds, stage, used, at) != 0)
            goto done;
        at += used / 4;
    }
    offs[w->n] = (uint64_t)at * 4;

    if ((strt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(strt, w->max_klen) < 0 ||
        H5Tset_strpad(strt, H5T_STR_NULLPAD) < 0) {
        h5_fail(e, "string type");
        goto done;
    }
    if (h5_write_small(e, file, "offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, w->n + 1, offs) != 0 ||
        h5_write_small(e, file, "keys", strt, strt, w->n, keys) != 0)
        goto done;
    if (H5Dclose(ds) < 0) {
        ds = -1;
        h5_fail(e, "H5Dclose /data");
        goto done;
    }
    ds = -1;
    if (H5Fclose(file) < 0) {
        file = -1;
        h5_fail(e, "H5Fclose");
        goto done;
    }
    file = -1;
    if (fsync_path(e->path, e->err, sizeof e->err) != 0)
        goto done;
    rc = 0;
done:
    if (strt >= 0)
        H5Tclose(strt);
    if (ds >= 0)
        H5Dclose(ds);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    free(stage);
    free(offs);
    free(keys);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/*-*************************************
 *  Read
 ***************************************/
static int h5_read_all(bench_engine *e, const char *name, hid_t mtype, void *buf,
                       hsize_t expect, size_t *typesize)
{
    hdf5_impl *h = e->impl;
    hid_t ds = H5Dopen2(h->file, name, H5P_DEFAULT);
    if (ds < 0)
        return h5_fail(e, name);
    int rc = 0;
    hid_t sp = H5Dget_space(ds);
    hsize_t dim = 0;
    if (sp < 0 || H5Sget_simple_extent_dims(sp, &dim, NULL) != 1) {
        rc = h5_fail(e, "H5Sget_simple_extent_dims");
    } else if (dim != expect) {
        rc = bench_fail(e, "/%s has %llu elements, expected %llu", name,
                        (unsigned long long)dim, (unsigned long long)expect);
    } else if (typesize) {
        hid_t ft = H5Dget_type(ds);
        *typesize = ft >= 0 ? H5Tget_size(ft) : 0;
        if (ft >= 0)
            H5Tclose(ft);
    } else if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = h5_fail(e, "H5Dread");
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int h5_open(bench_engine *e, const bench_workload *w)
{
    hdf5_impl *h = e->impl;
    hid_t dapl = -1, strt = -1;
    h5_close(e);
    if (h->blosc)
        h5_blosc_globals(e);
    if ((h->file = H5Fopen(e->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        h5_fail(e, "H5Fopen");
        goto fail;
    }
    /* Filtered: the cache holds cache_bytes of decompressed chunks; 10007 hash slots (prime,
     * many more than the chunks that fit) as the HDF5 guide advises. Unfiltered: HDF5's
     * default 1 MiB cache, smaller than a chunk, so reads go straight to the file for just
     * the bytes selected; a cache that holds chunks would copy a whole chunk on every miss. */
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        (h->blosc && H5Pset_chunk_cache(dapl, 10007, (size_t)e->cfg->cache_bytes, 0.75) < 0)) {
        h5_fail(e, "H5Pset_chunk_cache");
        goto fail;
    }
    if ((h->ds = H5Dopen2(h->file, "data", dapl)) < 0 || (h->fspace = H5Dget_space(h->ds)) < 0) {
        h5_fail(e, "H5Dopen2 /data");
        goto fail;
    }
    h->n = w->n;
    h->offsets = malloc((w->n + 1) * sizeof *h->offsets);
    if (!h->offsets) {
        bench_fail(e, "out of memory");
        goto fail;
    }
    if (h5_read_all(e, "offsets", H5T_NATIVE_UINT64, h->offsets, w->n + 1, NULL) != 0 ||
        h5_read_all(e, "keys", -1, NULL, w->n, &h->klen) != 0)
        goto fail;
    h->keys = malloc(w->n * h->klen + 1);
    h->kptr = malloc(w->n * sizeof *h->kptr);
    h->klens = malloc(w->n * sizeof *h->klens);
    if (!h->keys || !h->kptr || !h->klens) {
        bench_fail(e, "out of memory");
        goto fail;
    }
    if ((strt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(strt, h->klen) < 0 ||
        H5Tset_strpad(strt, H5T_STR_NULLPAD) < 0) {
        h5_fail(e, "string type");
        goto fail;
    }
    if (h5_read_all(e, "keys", strt, h->keys, w->n, NULL) != 0)
        goto fail;
    for (size_t i = 0; i < w->n; i++) {
        h->kptr[i] = h->keys + i * h->klen;
        h->klens[i] = (uint16_t)strnlen(h->kptr[i], h->klen);
    }
    if (keytab_build(&h->kt, w->n, h->kptr, h->klens) != 0) {
        bench_fail(e, "out of memory");
        goto fail;
    }
    H5Tclose(strt);
    H5Pclose(dapl);
    return 0;
fail:
    if (strt >= 0)
        H5Tclose(strt);
    if (dapl >= 0)
        H5Pclose(dapl);
    h5_close(e);
    return -1;
}

/* Reads elements [start, start+count) of /data into buf. */
static int h5_read_range(bench_engine *e, hsize_t start, hsize_t count, void *buf)
{
    hdf5_impl *h = e->impl;
    if (count == 0)
        return 0;
    if (H5Sselect_hyperslab(h->fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0)
        return h5_fail(e, "H5Sselect_hyperslab");
    hid_t ms = H5Screate_simple(1, &count, NULL);
    if (ms < 0)
        return h5_fail(e, "H5Screate_simple");
    int rc = 0;
    if (H5Dread(h->ds, H5T_NATIVE_UINT32, ms, h->fspace, H5P_DEFAULT, buf) < 0)
        rc = h5_fail(e, "H5Dread /data");
    H5Sclose(ms);
    return rc;
}

static int h5_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    hdf5_impl *h = e->impl;
    /* Records are stored in index order; /offsets says where. */
    for (size_t i = 0; i < h->n; i++) {
        if (h->offsets[i + 1] - h->offsets[i] != w->len[i])
            return bench_fail(e, "/offsets gives record %zu %llu bytes, expected %u", i,
                              (unsigned long long)(h->offsets[i + 1] - h->offsets[i]), w->len[i]);
    }
    uint8_t *out = sink_dest_idx(sink, 0, w->n);
    if (!out)
        return bench_fail(e, "scan: no destination");
    const hsize_t total = h->offsets[h->n] / 4, step = e->cfg->blosc.chunk_size / 4;
    for (hsize_t at = 0; at < total; at += step) {
        hsize_t cnt = total - at < step ? total - at : step;
        if (h5_read_range(e, at, cnt, out + at * 4) != 0)
            return -1;
    }
    return 0;
}

static long h5_lookup(bench_engine *e, const bench_workload *w, size_t idx)
{
    hdf5_impl *h = e->impl;
    long i = keytab_find(&h->kt, workload_key(w, idx), w->klen[idx]);
    if (i < 0)
        bench_fail(e, "key %s not in /keys", workload_key(w, idx));
    return i;
}

static int h5_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                  size_t *len)
{
    hdf5_impl *h = e->impl;
    long i = h5_lookup(e, w, idx);
    if (i < 0)
        return -1;
    uint64_t a = h->offsets[i], b = h->offsets[i + 1];
    if (b - a > cap)
        return bench_fail(e, "record %s: %llu bytes do not fit %zu", workload_key(w, idx),
                          (unsigned long long)(b - a), cap);
    if (h5_read_range(e, a / 4, (b - a) / 4, buf) != 0)
        return -1;
    *len = (size_t)(b - a);
    return 0;
}

typedef struct h5_req {
    uint64_t start, bytes;
    size_t k;
} h5_req;

static int req_cmp(const void *x, const void *y)
{
    const h5_req *a = x, *b = y;
    return (a->start > b->start) - (a->start < b->start);
}

static int h5_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                    bench_batch *b)
{
    hdf5_impl *h = e->impl;
    h5_req req[BENCH_BATCH];
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        long i = h5_lookup(e, w, idx[k]);
        if (i < 0)
            return -1;
        req[k].start = h->offsets[i];
        req[k].bytes = h->offsets[i + 1] - h->offsets[i];
        req[k].k = k;
        total += req[k].bytes;
    }
    if (total > b->cap)
        return bench_fail(e, "batch of %llu bytes does not fit %zu", (unsigned long long)total,
                          b->cap);
    /* HDF5 delivers a union of hyperslabs in file order: sort, then map back. */
    qsort(req, n, sizeof req[0], req_cmp);
    int first = 1;
    for (size_t j = 0; j < n; j++) {
        if (req[j].bytes == 0)
            continue;
        if (j > 0 && req[j].start < req[j - 1].start + req[j - 1].bytes)
            return bench_fail(e, "batch holds the same record twice");
        hsize_t s = req[j].start / 4, c = req[j].bytes / 4;
        if (H5Sselect_hyperslab(h->fspace, first ? H5S_SELECT_SET : H5S_SELECT_OR, &s, NULL,
                                &c, NULL) < 0)
            return h5_fail(e, "H5Sselect_hyperslab(OR)");
        first = 0;
    }
    uint64_t at = 0;
    for (size_t j = 0; j < n; j++) {
        b->off[req[j].k] = at;
        b->len[req[j].k] = req[j].bytes;
        at += req[j].bytes;
    }
    if (first)
        return 0; /* nothing to read */
    hsize_t cnt = total / 4;
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    if (ms < 0)
        return h5_fail(e, "H5Screate_simple");
    int rc = 0;
    if (H5Dread(h->ds, H5T_NATIVE_UINT32, ms, h->fspace, H5P_DEFAULT, b->dst) < 0)
        rc = h5_fail(e, "H5Dread /data (batch)");
    H5Sclose(ms);
    return rc;
}

static void h5_fini(bench_engine *e)
{
    h5_close(e);
    free(e->impl);
    e->impl = NULL;
}

const bench_engine_ops bench_engine_hdf5 = {
    .name = "hdf5",
    .summary = "HDF5 ragged layout (data + offsets + keys), chunked, no filter",
    .init = h5_init_plain,
    .write = h5_write,
    .open = h5_open,
    .close = h5_close,
    .scan = h5_scan,
    .get = h5_get,
    .get_batch = h5_batch,
    .fini = h5_fini,
};

const bench_engine_ops bench_engine_hdf5_blosc = {
    .name = "hdf5-blosc",
    .summary = "HDF5 ragged layout with the Blosc filter plugin (vlstore's codec settings)",
    .init = h5_init_blosc,
    .write = h5_write,
    .open = h5_open,
    .close = h5_close,
    .scan = h5_scan,
    .get = h5_get,
    .get_batch = h5_batch,
    .fini = h5_fini,
};
