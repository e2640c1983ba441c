/* write.c — writing records: each is appended to the open chunk (s->pend); a full chunk is
 * compressed (on the write-behind thread by default) and appended to the file as a frame.
 * Nothing reaches the index on disk before the commit (commit.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

int store_check_writable(vls_store *s)
{
    if (!s->writable)
        return vls_seterr(s, VLS_E_READONLY, "the store was opened read-only");
    int rc = store_check_fork(s, "writing");
    if (rc != VLS_OK)
        return rc;
    if (s->failed)
        return vls_seterr(s, VLS_E_FAILED, "an earlier write or sync failed (%s); the changes "
                          "since the last commit were dropped: call vls_rollback to go on, or "
                          "reopen the store", vls_strerror(s->failed));
    return VLS_OK;
}

int store_check_key(vls_store *s, const void *key, size_t klen)
{
    if (!key || klen == 0 || klen > VLS_MAX_KEY)
        return vls_seterr(s, VLS_E_INVAL, "keys are 1 to %u bytes (got %zu%s)", VLS_MAX_KEY, klen,
                          key ? "" : ", NULL");
    return VLS_OK;
}

/* Appends the compressed chunk in zbuf (stored payload bytes, raw bytes decoded) as a frame
 * and indexes it. */
static int append_frame(vls_store *s, uint64_t raw, size_t stored, uint8_t codec)
{
    int rc, err = 0;
    fmt_frame f = {(uint32_t)stored, (uint32_t)raw, codec,
                   fmt_hash(s->zbuf + FMT_FRAME_HDR_SIZE, stored)};
    fmt_frame_encode(&f, s->zbuf);
    size_t total = (size_t)align8(FMT_FRAME_HDR_SIZE + stored);
    memset(s->zbuf + FMT_FRAME_HDR_SIZE + stored, 0, total - FMT_FRAME_HDR_SIZE - stored);
    uint64_t at = io_size(s->io);
    if ((rc = io_append(s->io, s->zbuf, total, &err)) != VLS_OK)
        return store_fail(s, store_fail_io(s, rc, err, "writing a chunk", at));
    if ((rc = idx_add_chunk(&s->ix, at, f.payload_size, f.raw_size, codec, f.payload_hash)) !=
        VLS_OK)
        return store_fail(s, vls_seterr(s, rc, "no memory for the chunk table"));
    atomic_store(&s->ix.c[s->ix.nc - 1].verified, 1);
    return VLS_OK;
}

/* Waits for the chunk being compressed behind, then appends and indexes it. On failure the
 * handle is failed and the chunk stays readable as unwritten bytes. */
static int finish_behind(vls_store *s)
{
    if (s->behind_len == 0)
        return VLS_OK;
    size_t stored;
    uint8_t codec;
    compressor_wait(s->compressor, &stored, &codec);
    int rc = append_frame(s, s->behind_len, stored, codec);
    if (rc == VLS_OK)
        s->behind_len = 0;
    return rc;
}

/* Hands the full open chunk to the compressor thread and starts an empty one. Returns 0 when
 * write-behind is off or cannot be had (the caller compresses inline). */
static int start_behind(vls_store *s)
{
    if (!s->opts.write_behind || s->behind_off)
        return 0;
    if (!s->behind && !(s->behind = malloc(s->hdr.chunk_size)))
        s->behind_off = 1;
    if (!s->behind_off && !s->compressor && !(s->compressor = compressor_new()))
        s->behind_off = 1;
    if (s->behind_off)
        return 0;
    unsigned char *full = s->pend;
    s->pend = s->behind;
    s->behind = full;
    s->behind_len = s->pend_len;
    s->pend_len = 0;
    compressor_start(s->compressor, &s->cp, s->behind, (size_t)s->behind_len,
                     s->zbuf + FMT_FRAME_HDR_SIZE);
    return 1;
}

/* Writes out the open chunk: hands it to the compressor thread when `behind` is set and
 * write-behind is on, else compresses and appends it here. Either way the chunk compressed
 * behind before it is appended first, so frames reach the file in order. */
int store_flush_chunk(vls_store *s, int behind)
{
    int rc = finish_behind(s);
    if (rc != VLS_OK || s->pend_len == 0 || (behind && start_behind(s)))
        return rc;
    size_t stored;
    uint8_t codec;
    chunk_compress(&s->cp, s->pend, (size_t)s->pend_len, s->zbuf + FMT_FRAME_HDR_SIZE, &stored,
                   &codec);
    if ((rc = append_frame(s, s->pend_len, stored, codec)) == VLS_OK)
        s->pend_len = 0;
    return rc;
}

int store_copy_unwritten(vls_store *s, uint64_t in, uint64_t len, void *dst)
{
    unsigned char *d = dst;
    if (in > s->behind_len + s->pend_len || len > s->behind_len + s->pend_len - in)
        return vls_seterr(s, VLS_E_CORRUPT, "record at logical offset %llu lies past the "
                          "stored data", (unsigned long long)(s->ix.logical_end + in));
    if (in < s->behind_len) {
        uint64_t n = s->behind_len - in < len ? s->behind_len - in : len;
        memcpy(d, s->behind + in, (size_t)n);
        d += n;
        len -= n;
        in += n;
    }
    if (len)
        memcpy(d, s->pend + (in - s->behind_len), (size_t)len);
    return VLS_OK;
}

int store_put_begin(vls_store *s, const void *key, size_t klen, uint64_t len, unsigned flags)
{
    int rc;
    if ((rc = store_check_writable(s)) != VLS_OK || (rc = store_check_key(s, key, klen)) != VLS_OK)
        return rc;
    if (s->streaming)
        return vls_seterr(s, VLS_E_INVAL, "another record is still being written");
    if ((flags & VLS_NOREPLACE) && idx_find(&s->ix, key, klen) >= 0)
        return vls_seterr(s, VLS_E_EXISTS, "key exists and VLS_NOREPLACE was given");
    uint64_t chunk = s->hdr.chunk_size;
    if (len > ((uint64_t)1 << 48))
        return vls_seterr(s, VLS_E_TOOBIG, "record of %llu bytes is beyond 2^48",
                          (unsigned long long)len);
    /* placement: where the record starts relative to chunk boundaries */
    int fresh = 0;
    if (s->hdr.placement == VLS_PLACE_START)
        fresh = 1;
    else if (s->hdr.placement == VLS_PLACE_NOCROSS)
        fresh = len > chunk ? 1 : s->pend_len + len > chunk;
    if (fresh && (rc = store_flush_chunk(s, 1)) != VLS_OK)
        return rc;
    if (!s->stream_hash && !(s->stream_hash = XXH3_createState()))
        return vls_seterr(s, VLS_E_NOMEM, "no memory for a hash state");
    XXH3_64bits_reset(s->stream_hash);
    s->streaming = 1;
    s->stream_open_length = 0;
    s->stream_off = s->ix.logical_end + s->behind_len + s->pend_len;
    s->stream_len = len;
    s->stream_done = 0;
    return VLS_OK;
}

int store_put_append(vls_store *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    int rc;
    if (!s->streaming || len > s->stream_len - s->stream_done)
        return vls_seterr(s, VLS_E_INVAL, "more bytes appended than the record's length");
    XXH3_64bits_update(s->stream_hash, data, len);
    s->stream_done += len;
    while (len > 0) {
        uint64_t room = s->hdr.chunk_size - s->pend_len;
        size_t n = len < room ? len : (size_t)room;
        memcpy(s->pend + s->pend_len, p, n);
        s->pend_len += n;
        p += n;
        len -= n;
        if (s->pend_len == s->hdr.chunk_size && (rc = store_flush_chunk(s, 1)) != VLS_OK) {
            s->streaming = 0;
            return rc;
        }
    }
    return VLS_OK;
}

void store_put_abandon(vls_store *s)
{
    if (!s->streaming)
        return;
    /* the logical offset of the chunk being filled (pend): the record's bytes are all still
     * there when it starts at or after it */
    uint64_t pend_start = s->ix.logical_end + s->behind_len;
    if (s->stream_off >= pend_start && s->stream_off - pend_start <= s->pend_len)
        s->pend_len = s->stream_off - pend_start;
    s->streaming = 0;
    s->stream_open_length = 0;
}

int store_put_end(vls_store *s, const void *key, size_t klen)
{
    int rc;
    if (!s->streaming || s->stream_done != s->stream_len) {
        s->streaming = 0;
        return vls_seterr(s, VLS_E_INVAL, "record ended before its announced length");
    }
    s->streaming = 0;
    s->stream_open_length = 0;
    uint64_t hash = XXH3_64bits_digest(s->stream_hash);
    int64_t old = idx_find(&s->ix, key, klen);
    if (old >= 0)
        idx_kill(&s->ix, (uint64_t)old);
    if ((rc = idx_add(&s->ix, key, klen, s->stream_off, s->stream_len, hash)) != VLS_OK ||
        (rc = idx_log_put(&s->ops, &s->ops_prev_end, key, klen, s->stream_off, s->stream_len,
                          hash)) != VLS_OK) {
        /* the in-memory index no longer matches what the next commit writes */
        return store_fail(s, vls_seterr(s, rc, "no memory to index the record"));
    }
    s->nops++;
    s->dirty = 1;
    return VLS_OK;
}

int vls_put(vls_store *s, const void *key, size_t klen, const void *val, size_t len,
            unsigned flags)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_put: store is NULL");
    if (!val && len > 0)
        return vls_seterr(s, VLS_E_INVAL, "vls_put: value is NULL");
    pthread_rwlock_wrlock(&s->lock);
    int rc = store_put_begin(s, key, klen, len, flags);
    if (rc == VLS_OK) { /* else an open vls_record_writer's record stays as it was */
        if (len)
            rc = store_put_append(s, val, len);
        if (rc == VLS_OK)
            rc = store_put_end(s, key, klen);
        s->streaming = 0;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_put_str(vls_store *s, const char *key, const void *val, size_t len, unsigned flags)
{
    return vls_put(s, key, key ? strlen(key) : 0, val, len, flags);
}

/* The public piecewise writer: the store's streaming put (store_put_begin/append/end) held
 * open across calls, with the key kept for the end. generation tells a writer that a
 * rollback or a close-time cancel dropped its record. */
struct vls_record_writer {
    vls_store *s;
    uint64_t generation;
    size_t klen;
    unsigned char key[];
};

/* The writer's record is still the one being written. Caller holds the write lock. */
static int writer_check(vls_record_writer *w, const char *what)
{
    vls_store *s = w->s;
    if (s->generation != w->generation || !s->streaming)
        return vls_seterr(s, VLS_E_INVAL, "%s: the record's writer is no longer valid (a "
                          "rollback, or a failed write, dropped the record)", what);
    return store_check_writable(s);
}

int vls_record_create(vls_store *s, const void *key, size_t klen, uint64_t len, unsigned flags,
                      vls_record_writer **out)
{
    if (!s || !out)
        return vls_seterr(s, VLS_E_INVAL, "vls_record_create: NULL argument");
    *out = NULL;
    int rc = store_check_key(s, key, klen);
    if (rc != VLS_OK)
        return rc;
    vls_record_writer *w = malloc(sizeof *w + klen);
    if (!w)
        return vls_seterr(s, VLS_E_NOMEM, "no memory for a record writer");
    int open_length = len == VLS_LEN_UNKNOWN;
    pthread_rwlock_wrlock(&s->lock);
    /* an unknown length is placed as a record longer than a chunk, and capped at 2^48 */
    rc = store_put_begin(s, key, klen, open_length ? (uint64_t)1 << 48 : len, flags);
    if (rc == VLS_OK) {
        s->stream_open_length = open_length;
        w->s = s;
        w->generation = s->generation;
        w->klen = klen;
        memcpy(w->key, key, klen);
        s->writer = *out = w;
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc != VLS_OK)
        free(w);
    return rc;
}

int vls_record_write(vls_record_writer *w, const void *data, size_t n)
{
    if (!w)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_record_write: writer is NULL");
    vls_store *s = w->s;
    if (!data && n > 0)
        return vls_seterr(s, VLS_E_INVAL, "vls_record_write: data is NULL");
    pthread_rwlock_wrlock(&s->lock);
    int rc = writer_check(w, "vls_record_write");
    if (rc == VLS_OK && n)
        rc = store_put_append(s, data, n);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_record_finish(vls_record_writer *w)
{
    if (!w)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_record_finish: writer is NULL");
    vls_store *s = w->s;
    pthread_rwlock_wrlock(&s->lock);
    int rc = writer_check(w, "vls_record_finish");
    if (rc == VLS_OK) {
        if (s->stream_open_length)
            s->stream_len = s->stream_done;
        if (s->stream_done != s->stream_len) {
            rc = vls_seterr(s, VLS_E_INVAL, "vls_record_finish: %llu of the record's %llu "
                            "bytes were written; the record was dropped",
                            (unsigned long long)s->stream_done,
                            (unsigned long long)s->stream_len);
            store_put_abandon(s);
        } else {
            rc = store_put_end(s, w->key, w->klen);
        }
    }
    if (s->writer == w)
        s->writer = NULL;
    pthread_rwlock_unlock(&s->lock);
    free(w);
    return rc;
}

void vls_record_cancel(vls_record_writer *w)
{
    if (!w)
        return;
    vls_store *s = w->s;
    pthread_rwlock_wrlock(&s->lock);
    if (s->generation == w->generation)
        store_put_abandon(s);
    if (s->writer == w)
        s->writer = NULL;
    pthread_rwlock_unlock(&s->lock);
    free(w);
}

void vls_key_u64(uint64_t key, unsigned char buf[8])
{
    for (int i = 7; i >= 0; i--, key >>= 8)
        buf[i] = (unsigned char)key;
}

int vls_put_u64(vls_store *s, uint64_t key, const void *val, size_t len, unsigned flags)
{
    unsigned char k[8];
    vls_key_u64(key, k);
    return vls_put(s, k, 8, val, len, flags);
}

int vls_delete(vls_store *s, const void *key, size_t klen)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_delete: store is NULL");
    pthread_rwlock_wrlock(&s->lock);
    int rc = store_check_writable(s);
    if (rc == VLS_OK)
        rc = store_check_key(s, key, klen);
    if (rc == VLS_OK) {
        int64_t i = idx_find(&s->ix, key, klen);
        if (i < 0) {
            rc = vls_seterr(s, VLS_E_NOTFOUND, "no record under this key");
        } else if ((rc = idx_log_delete(&s->ops, key, klen)) != VLS_OK) {
            rc = vls_seterr(s, rc, "no memory to log the delete");
        } else {
            idx_kill(&s->ix, (uint64_t)i);
            s->nops++;
            s->dirty = 1;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_delete_str(vls_store *s, const char *key)
{
    return vls_delete(s, key, key ? strlen(key) : 0);
}

int vls_delete_u64(vls_store *s, uint64_t key)
{
    unsigned char k[8];
    vls_key_u64(key, k);
    return vls_delete(s, k, 8);
}
