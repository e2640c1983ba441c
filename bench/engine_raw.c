/*
 * engine_raw.c — the two limits the stores are measured against.
 *
 * raw-pread : the records concatenated in one file, offsets kept in memory; a get is one
 *             pread, a scan is large sequential preads. No format, no index on disk, no
 *             compression: the I/O limit.
 * raw-blosc : the records packed into chunks of vlstore's default chunk size (a record never
 *             straddles two chunks), each compressed with blosc_compress_ctx using vlstore's
 *             default codec, level, shuffle, typesize and block size, and written back to back.
 *             The chunk table stays in memory. A scan decompresses each chunk straight into
 *             the output: the codec limit for "vlstore scan >= 95% of raw Blosc decode". A
 *             get decompresses the whole chunk holding the record: the naive "Blosc store
 *             read record by record" baseline.
 */
#include "bench.h"

#include <blosc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct raw_impl {
    int fd;
    /* raw-blosc only */
    size_t nchunks;
    uint64_t *coff;   /* file offset of chunk c */
    uint32_t *csize;  /* compressed bytes */
    uint32_t *cbytes; /* uncompressed bytes */
    size_t *cfirst;   /* first record of chunk c */
    size_t *ccount;   /* records in chunk c */
    uint32_t *rchunk; /* chunk of record i */
    uint8_t *cbuf;    /* one compressed chunk */
    uint8_t *dbuf;    /* one decompressed chunk */
    size_t cap;       /* capacity of dbuf; cbuf has cap + BLOSC_MAX_OVERHEAD */
} raw_impl;

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = pwrite(fd, p, len, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = pread(fd, p, len, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO; /* short file */
            return -1;
        }
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int raw_init_common(bench_engine *e, const char *file)
{
    raw_impl *r = calloc(1, sizeof *r);
    if (!r)
        return bench_fail(e, "out of memory");
    r->fd = -1;
    e->impl = r;
    snprintf(e->path, sizeof e->path, "%s/%s", e->dir, file);
    return 0;
}

static void raw_close(bench_engine *e)
{
    raw_impl *r = e->impl;
    if (r && r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

static void raw_fini(bench_engine *e)
{
    raw_impl *r = e->impl;
    if (!r)
        return;
    raw_close(e);
    free(r->coff);
    free(r->csize);
    free(r->cbytes);
    free(r->cfirst);
    free(r->ccount);
    free(r->rchunk);
    free(r->cbuf);
    free(r->dbuf);
    free(r);
    e->impl = NULL;
}

static int raw_open(bench_engine *e, const bench_workload *w)
{
    (void)w;
    raw_impl *r = e->impl;
    raw_close(e);
    r->fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return bench_fail(e, "open %s: %s", e->path, strerror(errno));
    return 0;
}

/*-*************************************
 *  raw-pread
 ***************************************/
static int rawp_init(bench_engine *e)
{
    snprintf(e->settings, sizeof e->settings,
             "records back to back in one file, offsets in memory; get = one pread; "
             "scan = 4 MiB preads; write = pwritev of ~4 MiB of records at a time + fsync");
    return raw_init_common(e, "store.raw");
}

static int rawp_write(bench_engine *e, const bench_workload *w)
{
    int fd = open(e->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return bench_fail(e, "create %s: %s", e->path, strerror(errno));
    /* Records go out straight from their buffers, gathered into ~4 MiB pwritev calls: no
     * copy, few syscalls, and large page-cache folios like the chunked writers get. */
    struct iovec iov[256];
    size_t i = 0;
    while (i < w->n) {
        int cnt = 0;
        size_t bytes = 0, first = i;
        while (i < w->n && cnt < 256 && bytes < (4u << 20)) {
            iov[cnt].iov_base = w->data + w->off[i];
            iov[cnt].iov_len = w->len[i];
            bytes += w->len[i];
            cnt++;
            i++;
        }
        uint64_t at = w->off[first];
        ssize_t k = pwritev(fd, iov, cnt, (off_t)at);
        if (k >= 0 && (size_t)k < bytes) /* short write: finish plainly */
            k = full_pwrite(fd, w->data + at + k, bytes - (size_t)k, at + (uint64_t)k) == 0
                    ? (ssize_t)bytes
                    : -1;
        if (k < 0) {
            bench_fail(e, "pwritev %s at %llu: %s", e->path, (unsigned long long)at,
                       strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (fsync(fd) != 0) {
        bench_fail(e, "fsync %s: %s", e->path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) != 0)
        return bench_fail(e, "close %s: %s", e->path, strerror(errno));
    return 0;
}

static int rawp_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    raw_impl *r = e->impl;
    uint8_t *out = sink_dest_idx(sink, 0, w->n);
    if (!out)
        return bench_fail(e, "scan: no destination");
    const uint64_t step = 4u << 20;
    for (uint64_t at = 0; at < w->total; at += step) {
        size_t len = (size_t)(w->total - at < step ? w->total - at : step);
        if (full_pread(r->fd, out + at, len, at) != 0)
            return bench_fail(e, "pread %s at %llu: %s", e->path, (unsigned long long)at,
                              strerror(errno));
    }
    return 0;
}

static int rawp_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf,
                    size_t cap, size_t *len)
{
    raw_impl *r = e->impl;
    if (w->len[idx] > cap)
        return bench_fail(e, "get: buffer too small");
    if (full_pread(r->fd, buf, w->len[idx], w->off[idx]) != 0)
        return bench_fail(e, "pread %s record %zu: %s", e->path, idx, strerror(errno));
    *len = w->len[idx];
    return 0;
}

typedef int (*raw_get_fn)(bench_engine *e, const bench_workload *w, size_t idx, void *buf,
                          size_t cap, size_t *len);

/* The limits have no batch read of their own: a batch is its gets, back to back in b. */
static int batch_of_gets(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                         bench_batch *b, raw_get_fn get)
{
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t got = 0;
        if (get(e, w, idx[k], b->dst + at, b->cap - at, &got) != 0)
            return -1;
        b->off[k] = at;
        b->len[k] = got;
        at += got;
    }
    return 0;
}

static int rawp_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                      bench_batch *b)
{
    return batch_of_gets(e, w, idx, n, b, rawp_get);
}

const bench_engine_ops bench_engine_raw_pread = {
    .name = "raw-pread",
    .summary = "limit: uncompressed records in one file, offsets in memory, pread",
    .init = rawp_init,
    .write = rawp_write,
    .open = raw_open,
    .close = raw_close,
    .scan = rawp_scan,
    .get = rawp_get,
    .get_batch = rawp_batch,
    .fini = raw_fini,
};

/*-*************************************
 *  raw-blosc
 ***************************************/
static int rawb_init(bench_engine *e)
{
    const bench_blosc *bl = &e->cfg->blosc;
    const char *cname = NULL;
    if (blosc_compcode_to_compname(bl->codec, &cname) < 0 || !cname)
        return bench_fail(e, "raw-blosc: codec %d (vlstore's default) is not a Blosc codec",
                          bl->codec);
    snprintf(e->settings, sizeof e->settings,
             "Blosc chunks of %u KiB (records never straddle), blosc_compress_ctx codec %s "
             "level %d shuffle %d typesize %d blocksize %u, %d thread(s); chunk table in "
             "memory; get decompresses the whole chunk (no cache); fsync at end",
             bl->chunk_size >> 10, cname, bl->level, bl->shuffle, bl->typesize, bl->block_size,
             e->cfg->threads);
    return raw_init_common(e, "store.blosc");
}

static int rawb_write(bench_engine *e, const bench_workload *w)
{
    raw_impl *r = e->impl;
    const bench_blosc *bl = &e->cfg->blosc;
    const char *cname = NULL;
    blosc_compcode_to_compname(bl->codec, &cname);

    size_t cap = bl->chunk_size > w->max_len ? bl->chunk_size : w->max_len;
    free(r->cbuf);
    free(r->dbuf);
    free(r->coff);
    free(r->csize);
    free(r->cbytes);
    free(r->cfirst);
    free(r->ccount);
    free(r->rchunk);
    size_t maxchunks = w->n; /* at most one chunk per record */
    r->cap = cap;
    r->cbuf = malloc(cap + BLOSC_MAX_OVERHEAD);
    r->dbuf = malloc(cap);
    r->coff = malloc(maxchunks * sizeof *r->coff);
    r->csize = malloc(maxchunks * sizeof *r->csize);
    r->cbytes = malloc(maxchunks * sizeof *r->cbytes);
    r->cfirst = malloc(maxchunks * sizeof *r->cfirst);
    r->ccount = malloc(maxchunks * sizeof *r->ccount);
    r->rchunk = malloc(w->n * sizeof *r->rchunk);
    r->nchunks = 0;
    if (!r->cbuf || !r->dbuf || !r->coff || !r->csize || !r->cbytes || !r->cfirst ||
        !r->ccount || !r->rchunk)
        return bench_fail(e, "out of memory");

    int fd = open(e->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return bench_fail(e, "create %s: %s", e->path, strerror(errno));
    uint64_t fileoff = 0;
    size_t used = 0, first = 0;
    for (size_t i = 0; i <= w->n; i++) {
        int flush = (i == w->n) ? used > 0 : (used > 0 && used + w->len[i] > bl->chunk_size);
        if (flush) {
            int cs = blosc_compress_ctx(bl->level, bl->shuffle, (size_t)bl->typesize, used,
                                        r->dbuf, r->cbuf, used + BLOSC_MAX_OVERHEAD, cname,
                                        bench_blosc_request(bl), e->cfg->threads);
            if (cs <= 0) {
                close(fd);
                return bench_fail(e, "blosc_compress_ctx chunk %zu (%zu bytes): returned %d",
                                  r->nchunks, used, cs);
            }
            if (full_pwrite(fd, r->cbuf, (size_t)cs, fileoff) != 0) {
                bench_fail(e, "pwrite %s chunk %zu: %s", e->path, r->nchunks, strerror(errno));
                close(fd);
                return -1;
            }
            size_t c = r->nchunks++;
            r->coff[c] = fileoff;
            r->csize[c] = (uint32_t)cs;
            r->cbytes[c] = (uint32_t)used;
            r->cfirst[c] = first;
            r->ccount[c] = i - first;
            fileoff += (uint64_t)cs;
            used = 0;
            first = i;
        }
        if (i == w->n)
            break;
        memcpy(r->dbuf + used, w->data + w->off[i], w->len[i]);
        r->rchunk[i] = (uint32_t)r->nchunks;
        used += w->len[i];
    }
    if (fsync(fd) != 0) {
        bench_fail(e, "fsync %s: %s", e->path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) != 0)
        return bench_fail(e, "close %s: %s", e->path, strerror(errno));
    return 0;
}

/* Reads and decompresses chunk c into dst (cbytes[c] bytes). */
static int rawb_load(bench_engine *e, size_t c, void *dst)
{
    raw_impl *r = e->impl;
    if (full_pread(r->fd, r->cbuf, r->csize[c], r->coff[c]) != 0)
        return bench_fail(e, "pread %s chunk %zu: %s", e->path, c, strerror(errno));
    int d = blosc_decompress_ctx(r->cbuf, dst, r->cbytes[c], e->cfg->threads);
    if (d < 0 || (uint32_t)d != r->cbytes[c])
        return bench_fail(e, "blosc_decompress_ctx chunk %zu: returned %d, expected %u", c, d,
                          r->cbytes[c]);
    return 0;
}

static int rawb_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    (void)w;
    raw_impl *r = e->impl;
    for (size_t c = 0; c < r->nchunks; c++) {
        void *dst = sink_dest_idx(sink, r->cfirst[c], r->ccount[c]);
        if (!dst)
            return bench_fail(e, "scan: chunk %zu has no destination", c);
        if (rawb_load(e, c, dst) != 0)
            return -1;
    }
    return 0;
}

static int rawb_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf,
                    size_t cap, size_t *len)
{
    raw_impl *r = e->impl;
    if (w->len[idx] > cap)
        return bench_fail(e, "get: buffer too small");
    size_t c = r->rchunk[idx];
    if (rawb_load(e, c, r->dbuf) != 0)
        return -1;
    uint64_t in = w->off[idx] - w->off[r->cfirst[c]];
    memcpy(buf, r->dbuf + in, w->len[idx]);
    *len = w->len[idx];
    return 0;
}

static int rawb_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                      bench_batch *b)
{
    return batch_of_gets(e, w, idx, n, b, rawb_get);
}

const bench_engine_ops bench_engine_raw_blosc = {
    .name = "raw-blosc",
    .summary = "limit: bare Blosc chunks (vlstore's codec settings), naive whole-chunk gets",
    .init = rawb_init,
    .write = rawb_write,
    .open = raw_open,
    .close = raw_close,
    .scan = rawb_scan,
    .get = rawb_get,
    .get_batch = rawb_batch,
    .fini = raw_fini,
};
