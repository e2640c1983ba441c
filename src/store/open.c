/* open.c — the handle's life: options checked, file opened and locked, header read, newest
 * commit loaded, writer buffers made; and close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

int store_fail_io(vls_store *s, int rc, int err, const char *what, uint64_t off)
{
    if (s->writable && !s->failed)
        s->failed = rc;
    return vls_seterr(s, rc, "%s at offset %llu failed: %s", what, (unsigned long long)off,
                      err ? strerror(err) : vls_strerror(rc));
}

static uint64_t new_file_id(void)
{
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id || id == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return id | 1;
}

static int check_options(const vls_options *o, char *msg, size_t cap)
{
    if (o->struct_size != sizeof *o) {
        snprintf(msg, cap, "options.struct_size is %u, expected %zu (call vls_options_init)",
                 o->struct_size, sizeof *o);
        return VLS_E_INVAL;
    }
    if (o->chunk_size < 4096 || o->chunk_size > (1u << 30)) {
        snprintf(msg, cap, "chunk size %u outside 4096 .. 1 GiB", o->chunk_size);
        return VLS_E_INVAL;
    }
    if (vls_compressor_name(o->codec)[0] == 'u' || o->level < 0 || o->level > 9 || o->shuffle < 0 ||
        o->shuffle > 2 || o->typesize < 1 || o->typesize > 255 || o->placement < 0 ||
        o->placement > 2 || o->threads < 0 || o->threads > 256) {
        snprintf(msg, cap, "option out of range (codec %d, level %d, shuffle %d, typesize %d, "
                 "placement %d, threads %d, block size %u)", o->codec, o->level, o->shuffle,
                 o->typesize, o->placement, o->threads, o->block_size);
        return VLS_E_INVAL;
    }
    if (o->write_behind != 0 && o->write_behind != 1) {
        snprintf(msg, cap, "write_behind is %d, not 0 or 1", o->write_behind);
        return VLS_E_INVAL;
    }
    /* A nonzero reserved field is a setting from a newer vlstore.h that this library would
     * silently ignore: refuse it instead. */
    if (o->reserved32 != 0) {
        snprintf(msg, cap, "options.reserved32 is %u, must be 0", o->reserved32);
        return VLS_E_INVAL;
    }
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i] != 0) {
            snprintf(msg, cap, "options.reserved[%zu] is %llu, must be 0", i,
                     (unsigned long long)o->reserved[i]);
            return VLS_E_INVAL;
        }
    return VLS_OK;
}

int store_check_fork(vls_store *s, const char *what)
{
    if (getpid() == s->pid)
        return VLS_OK;
    return vls_seterr(s, VLS_E_FORKED, "%s: the store was opened by process %ld, before a "
                      "fork(); its writer lock, write-behind thread and thread pool stay with "
                      "that process: open the store again in this one", what, (long)s->pid);
}

vls_store *store_alloc(void)
{
    vls_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pid = getpid();
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->spare_mu, NULL);
    idx_init(&s->ix);
    return s;
}

void store_free(vls_store *s)
{
    if (!s)
        return;
    vls_errforget(s, VLS_OK); /* a later handle at this address starts without a message */
    /* In a forked child the threads of the write-behind compressor and the pool do not exist:
     * joining them would hang. Their memory is left to the process's end. */
    int forked = getpid() != s->pid;
    if (!forked)
        compressor_free(s->compressor); /* first: it may be writing into zbuf */
    free(s->behind);
    store_spare_free_all(s);
    store_block_tables_free(s);
    pthread_mutex_destroy(&s->spare_mu);
    io_close(s->io);
    idx_free(&s->ix);
    meta_doc_free(&s->meta);
    cache_free(s->cache);
    if (!forked)
        pool_free(s->pool);
    vbuf_free(&s->ops);
    free(s->pend);
    free(s->zbuf);
    if (s->stream_hash)
        XXH3_freeState(s->stream_hash);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* The header a new file starts with, from the caller's options. */
static void encode_new_header(const vls_options *opts, unsigned char hb[FMT_HEADER_SIZE])
{
    /* a block never exceeds its chunk: a small chunk_size caps the default block size */
    uint32_t block = opts->block_size < opts->chunk_size ? opts->block_size : opts->chunk_size;
    fmt_header h = {FMT_VERSION, new_file_id(), opts->chunk_size, block,
                    (uint8_t)(opts->codec == VLS_CODEC_NONE ? (int)FMT_CODEC_RAW : opts->codec),
                    (uint8_t)opts->level, (uint8_t)opts->shuffle, (uint8_t)opts->typesize,
                    (uint8_t)opts->placement};
    fmt_header_encode(&h, hb);
}

/* Opens (or creates) the file, or a memory store when path is NULL, and takes the writer
 * lock for a writable handle. Errors are reported on the thread (no handle yet). */
static int open_backing(vls_store *s, const char *path, const vls_options *opts)
{
    unsigned char hb[FMT_HEADER_SIZE];
    unsigned flags = s->flags;
    int rc, err = 0;
    encode_new_header(opts, hb);
    if (!path) {
        rc = io_open_memory(&s->io);
        if (rc == VLS_OK)
            rc = io_append(s->io, hb, sizeof hb, &err);
    } else {
        rc = io_open_file(path, s->writable, (flags & VLS_CREATE) != 0, (flags & VLS_EXCL) != 0,
                          (flags & VLS_TRUNCATE) != 0, hb, sizeof hb, !(flags & VLS_NOMMAP),
                          &s->io, &err);
        if (rc == VLS_OK && s->writable)
            rc = io_lock_writer(s->io, &err);
    }
    if (rc == VLS_OK)
        return VLS_OK;
    const char *p = path ? path : "(memory)";
    if (rc == VLS_E_LOCKED)
        return vls_seterr(NULL, rc, "%s: another writer has the store open", p);
    if (rc == VLS_E_NOTFOUND)
        return vls_seterr(NULL, rc, "%s: no such file (open with VLS_CREATE to make one)", p);
    return vls_seterr(NULL, rc, "%s: cannot open: %s", p, err ? strerror(err) : vls_strerror(rc));
}

/* Reads and checks the file header into s->hdr. */
static int read_header(vls_store *s, const char *path)
{
    unsigned char hb[FMT_HEADER_SIZE];
    char msg[512];
    int rc, err = 0;
    uint64_t size = io_size(s->io);
    if (size < FMT_HEADER_SIZE) {
        /* a short file is a truncated store only if it starts like one */
        size_t have = (size_t)size < 8 ? (size_t)size : 8;
        int ours = size > 0 && io_read(s->io, 0, hb, have, &err) == VLS_OK &&
                   memcmp(hb, FMT_MAGIC, have) == 0;
        return vls_seterr(NULL, ours ? VLS_E_TRUNCATED : VLS_E_BADMAGIC,
                          "%s: file is %llu bytes, shorter than the %u-byte header", path,
                          (unsigned long long)size, FMT_HEADER_SIZE);
    }
    if ((rc = io_read(s->io, 0, hb, sizeof hb, &err)) == VLS_OK)
        rc = fmt_header_decode(hb, &s->hdr, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "reading the header failed: %s", strerror(err));
    if (rc != VLS_OK)
        return vls_seterr(NULL, rc, "%s: %s", path ? path : "(memory)", msg);
    return VLS_OK;
}

/* The file's settings win over the caller's for an existing file; threads stay the caller's. */
static void adopt_file_settings(vls_store *s, const vls_options *opts)
{
    s->opts.chunk_size = s->hdr.chunk_size;
    s->opts.block_size = s->hdr.block_size;
    s->opts.codec = s->hdr.codec == FMT_CODEC_RAW ? VLS_CODEC_NONE : s->hdr.codec;
    s->opts.level = s->hdr.level;
    s->opts.shuffle = s->hdr.shuffle;
    s->opts.typesize = s->hdr.typesize;
    s->opts.placement = s->hdr.placement;
    s->cp.codec = s->hdr.codec;
    s->cp.level = s->hdr.level;
    s->cp.shuffle = s->hdr.shuffle;
    s->cp.typesize = s->hdr.typesize;
    s->cp.block_size = s->hdr.block_size;
    s->cp.threads = opts->threads > 0 ? opts->threads : 1;
}

/* The decoded-chunk cache and the thread pool batched reads run on. */
static int make_reader_parts(vls_store *s, const vls_options *opts)
{
    if (opts->cache_bytes > 0 && !(s->cache = cache_new(opts->cache_bytes)))
        return vls_seterr(NULL, VLS_E_NOMEM, "vls_open: no memory for the cache");
    s->pool = pool_new(s->cp.threads);
    return VLS_OK;
}

/* A writer's chunk buffers, and the file end padded to 8 bytes. */
static int make_writer_parts(vls_store *s, const char *path)
{
    int rc, err = 0;
    s->zcap = FMT_FRAME_HDR_SIZE + chunk_bound(s->hdr.chunk_size) + 8;
    s->pend = malloc(s->hdr.chunk_size);
    s->zbuf = malloc(s->zcap);
    if (!s->pend || !s->zbuf)
        return vls_seterr(NULL, VLS_E_NOMEM, "vls_open: no memory for chunk buffers");
    /* Bytes after the last commit are a torn tail from a crash. They are never overwritten
     * (they are dead space until compaction), but new frames start 8-aligned. */
    uint64_t size = io_size(s->io);
    if (size % 8) {
        static const unsigned char zeros[8];
        if ((rc = io_append(s->io, zeros, 8 - size % 8, &err)) != VLS_OK)
            return vls_seterr(NULL, rc, "%s: cannot pad the torn tail: %s", path, strerror(err));
    }
    return VLS_OK;
}

int vls_open(const char *path, unsigned flags, const vls_options *opts, vls_store **out)
{
    char msg[512];
    vls_options defaults;
    int rc;
    if (!out)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_open: out is NULL");
    *out = NULL;
    if (!opts) {
        vls_options_init(&defaults);
        opts = &defaults;
    }
    if ((rc = check_options(opts, msg, sizeof msg)) != VLS_OK)
        return vls_seterr(NULL, rc, "vls_open: %s", msg);
    if ((flags & VLS_RDONLY) && (flags & (VLS_RDWR | VLS_CREATE | VLS_TRUNCATE)))
        return vls_seterr(NULL, VLS_E_INVAL, "vls_open: VLS_RDONLY together with VLS_RDWR, "
                          "VLS_CREATE or VLS_TRUNCATE");
    if (flags & (VLS_CREATE | VLS_TRUNCATE))
        flags |= VLS_RDWR;
    if (!path && !(flags & VLS_RDONLY)) /* a memory store is read-write unless asked not */
        flags |= VLS_RDWR;

    vls_store *s = store_alloc();
    if (!s)
        return vls_seterr(NULL, VLS_E_NOMEM, "vls_open: no memory for the handle");
    s->flags = flags;
    s->writable = (flags & VLS_RDWR) != 0;
    s->opts = *opts;

    if ((rc = open_backing(s, path, opts)) != VLS_OK || (rc = read_header(s, path)) != VLS_OK)
        goto fail;
    adopt_file_settings(s, opts);
    if ((rc = store_load_latest(s)) != VLS_OK) {
        vls_seterr(NULL, rc, "%s: %s", path ? path : "(memory)", vls_errmsg(s));
        goto fail;
    }
    if ((rc = make_reader_parts(s, opts)) != VLS_OK ||
        (s->writable && (rc = make_writer_parts(s, path)) != VLS_OK))
        goto fail;
    *out = s;
    return VLS_OK;
fail:
    store_free(s);
    return rc;
}

int vls_close(vls_store *s)
{
    if (!s)
        return VLS_OK;
    int rc = VLS_OK;
    if (s->writable && getpid() != s->pid) {
        rc = store_check_fork(s, "vls_close (nothing committed)");
    } else if (s->failed) {
        /* a failed write dropped changes: never report success (the caller may have ignored
         * the put's error; test_trust: test_regress_close_after_failed_write) */
        rc = vls_seterr(s, s->failed, "vls_close: an earlier write or sync failed (%s); the "
                        "changes since the last commit were not saved", vls_strerror(s->failed));
    } else if (s->writable) {
        pthread_rwlock_wrlock(&s->lock);
        if (s->writer) /* a vls_record_writer left open: its record is not kept */
            store_put_abandon(s);
        pthread_rwlock_unlock(&s->lock);
        rc = vls_commit(s);
    }
    vls_errforget(s, rc); /* a failure's detail moves to vls_errmsg(NULL) */
    free(s->writer);
    store_free(s);
    return rc;
}
