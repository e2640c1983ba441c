/* commit.c — finding the newest commit, writing a commit, and following new ones.
 *
 * A commit writes the open chunk, then one index segment (the changes since the last commit,
 * or the whole index now and then), syncs, appends the commit trailer and syncs again. Nothing
 * committed is ever written over. At open (and refresh) the newest valid trailer names the
 * newest segment; segments chain back to a full one; replaying them rebuilds the index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define MAX_CHAIN 1024 /* segments between full ones: bounds the reads at open */
#define SEG_COMPRESS_MIN 4096

/* ---- finding and loading the newest commit --------------------------------------------- */

/* Reads a whole segment payload (decoded) into *out. */
static int read_segment(vls_store *s, uint64_t off, uint64_t limit, fmt_segment *seg,
                        vbuf *out)
{
    unsigned char hb[FMT_SEG_HDR_SIZE];
    int err = 0, rc;
    if (off + FMT_SEG_HDR_SIZE > limit)
        return vls_seterr(s, VLS_E_CORRUPT, "index segment at offset %llu runs past its commit",
                          (unsigned long long)off);
    if ((rc = io_read(s->io, off, hb, sizeof hb, &err)) != VLS_OK)
        return store_fail_io(s, rc, err, "reading index segment", off);
    if ((rc = fmt_segment_decode(hb, seg)) != VLS_OK)
        return vls_seterr(s, rc, "index segment at offset %llu: %s", (unsigned long long)off,
                          rc == VLS_E_CHECKSUM ? "header checksum mismatch" : "malformed header");
    uint64_t data = off + FMT_SEG_HDR_SIZE;
    if (seg->stored_size > limit - data ||
        (seg->flags & FMT_SEG_COMPRESSED ? seg->raw_size > 256 * seg->stored_size + 4096
                                         : seg->raw_size != seg->stored_size) ||
        seg->raw_size > ((uint64_t)1 << 40))
        return vls_seterr(s, VLS_E_CORRUPT, "index segment at offset %llu: sizes out of range "
                          "(%llu stored, %llu raw)", (unsigned long long)off,
                          (unsigned long long)seg->stored_size,
                          (unsigned long long)seg->raw_size);
    /* the segment is read whole: one large read, not a fault per page of the map */
    io_willneed(s->io, data, (size_t)seg->stored_size);
    const unsigned char *stored = io_view(s->io, data, (size_t)seg->stored_size);
    unsigned char *tmp = NULL;
    if (!stored) {
        tmp = malloc(seg->stored_size ? (size_t)seg->stored_size : 1);
        if (!tmp)
            return vls_seterr(s, VLS_E_NOMEM, "no memory for a %llu-byte index segment",
                              (unsigned long long)seg->stored_size);
        if ((rc = io_read(s->io, data, tmp, (size_t)seg->stored_size, &err)) != VLS_OK) {
            free(tmp);
            return store_fail_io(s, rc, err, "reading index segment", data);
        }
        stored = tmp;
    }
    rc = VLS_OK;
    char why[200];
    if (fmt_hash(stored, (size_t)seg->stored_size) != seg->payload_hash) {
        rc = vls_seterr(s, VLS_E_CHECKSUM, "index segment at offset %llu: checksum mismatch",
                        (unsigned long long)off);
    } else if ((seg->flags & FMT_SEG_COMPRESSED) &&
               chunk_check_header(VLS_CODEC_LZ4, stored, (size_t)seg->stored_size,
                                  (size_t)seg->raw_size, why, sizeof why) != VLS_OK) {
        /* before the allocation: a checksum-valid header claiming ~256 times its stored size
         * (up to 1 TiB) was allocated first and found wrong after */
        rc = vls_seterr(s, VLS_E_CORRUPT, "index segment at offset %llu: %s",
                        (unsigned long long)off, why);
    } else {
        out->len = 0;
        if (vbuf_reserve(out, (size_t)seg->raw_size + 1) != 0) {
            rc = vls_seterr(s, VLS_E_NOMEM, "no memory for a %llu-byte index",
                            (unsigned long long)seg->raw_size);
        } else if (seg->flags & FMT_SEG_COMPRESSED) {
            rc = chunk_decompress(VLS_CODEC_LZ4, stored, (size_t)seg->stored_size, out->p,
                                  (size_t)seg->raw_size, 1, why, sizeof why);
            if (rc != VLS_OK)
                rc = vls_seterr(s, rc, "index segment at offset %llu: %s",
                                (unsigned long long)off, why);
        } else {
            memcpy(out->p, stored, (size_t)seg->raw_size);
        }
        out->len = (size_t)seg->raw_size;
    }
    free(tmp);
    return rc;
}

#define BAD_CHUNK(why, c, raw, max)                                                        \
    (snprintf(why, sizeof why, "chunk %llu claims %u decoded bytes, more than the file's "       \
              "chunk size %u", (unsigned long long)(c), (raw), (max)),                     \
     VLS_E_CORRUPT)

/* Rebuilds ix from the segment chain ending at the trailer t. */
static int load_chain(vls_store *s, const fmt_trailer *t, vls_index *ix, uint64_t *chain_len,
                      uint64_t *chain_bytes, uint64_t *full_bytes)
{
    uint64_t *offs = NULL, n = 0, cap = 0, off = t->index_offset;
    fmt_segment seg;
    vbuf payload = {0};
    int rc = VLS_OK;
    /* walk back to the newest full segment, remembering the way */
    for (;;) {
        unsigned char hb[FMT_SEG_HDR_SIZE];
        int err = 0;
        if (off < FMT_HEADER_SIZE || off + FMT_SEG_HDR_SIZE > t->self_offset) {
            rc = vls_seterr(s, VLS_E_CORRUPT, "index chain points to offset %llu, outside the "
                            "file", (unsigned long long)off);
            goto out;
        }
        if ((rc = io_read(s->io, off, hb, sizeof hb, &err)) != VLS_OK) {
            rc = store_fail_io(s, rc, err, "reading index segment", off);
            goto out;
        }
        if ((rc = fmt_segment_decode(hb, &seg)) != VLS_OK) {
            rc = vls_seterr(s, rc, "index segment at offset %llu: %s", (unsigned long long)off,
                            rc == VLS_E_CHECKSUM ? "header checksum mismatch" : "malformed header");
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *o = realloc(offs, cap * sizeof *o);
            if (!o) {
                rc = vls_seterr(s, VLS_E_NOMEM, "no memory for the index chain");
                goto out;
            }
            offs = o;
        }
        offs[n++] = off;
        if (seg.flags & FMT_SEG_FULL)
            break;
        if (seg.prev_offset >= off || n > 4 * MAX_CHAIN) {
            rc = vls_seterr(s, VLS_E_CORRUPT, "index segment at offset %llu: bad link to %llu",
                            (unsigned long long)off, (unsigned long long)seg.prev_offset);
            goto out;
        }
        off = seg.prev_offset;
    }
    idx_reset(ix);
    *chain_bytes = 0;
    for (uint64_t i = n; i-- > 0;) {
        char why[256];
        uint64_t limit = i ? offs[i - 1] : t->self_offset, nc_before = ix->nc;
        if ((rc = read_segment(s, offs[i], limit, &seg, &payload)) != VLS_OK)
            goto out;
        rc = idx_apply_payload(ix, payload.p, payload.len, FMT_HEADER_SIZE, offs[i], why,
                               sizeof why);
        /* a chunk never decodes to more than the file's chunk size: a larger claim is a lie
         * that a failed decode would otherwise allocate (up to 1 GiB a try) */
        for (uint64_t c = nc_before; rc == VLS_OK && c < ix->nc; c++)
            if (ix->c[c].raw > s->hdr.chunk_size)
                rc = BAD_CHUNK(why, c, ix->c[c].raw, s->hdr.chunk_size);
        if (rc != VLS_OK) {
            rc = vls_seterr(s, rc, "index segment at offset %llu: %s", (unsigned long long)offs[i],
                            rc == VLS_E_NOMEM ? "out of memory" : why);
            goto out;
        }
        if (i == n - 1)
            *full_bytes = payload.len;
        else
            *chain_bytes += payload.len;
    }
    *chain_len = n - 1;
out:
    free(offs);
    vbuf_free(&payload);
    return rc;
}

/* Looks for the newest valid trailer at or before `end`: the last 64 bytes first, then every
 * 8-byte-aligned position going back (a torn tail after a crash). Returns 1 if found, 0 if
 * there is none, or a negative code when a read fails: a trailer that could not be read is
 * not "no trailer" (an older commit, or an empty store, would open in its place, and a writer
 * would append after it: test_faults' test_regress_trailer_read_error). */
static int find_trailer(vls_store *s, uint64_t end, fmt_trailer *t)
{
    unsigned char tb[FMT_TRAILER_SIZE];
    int err = 0, rc;
    if (end < FMT_HEADER_SIZE + FMT_TRAILER_SIZE)
        return 0;
    uint64_t at = end - FMT_TRAILER_SIZE;
    if (at % 8 == 0) {
        if ((rc = io_read(s->io, at, tb, sizeof tb, &err)) != VLS_OK)
            return store_fail_io(s, rc, err, "reading the newest commit trailer", at);
        if (fmt_trailer_decode(tb, s->hdr.file_id, at, t) == VLS_OK)
            return 1;
    }
    /* scan back in blocks */
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = malloc(BLOCK + FMT_TRAILER_SIZE);
    if (!buf)
        return vls_seterr(s, VLS_E_NOMEM, "no memory to look for the newest commit");
    uint64_t hi = (end - FMT_TRAILER_SIZE) & ~(uint64_t)7; /* highest candidate */
    int found = 0;
    while (!found && hi >= FMT_HEADER_SIZE) {
        uint64_t lo = hi >= FMT_HEADER_SIZE + BLOCK ? hi - BLOCK : FMT_HEADER_SIZE;
        size_t len = (size_t)(hi - lo) + FMT_TRAILER_SIZE;
        if ((rc = io_read(s->io, lo, buf, len, &err)) != VLS_OK) {
            free(buf);
            return store_fail_io(s, rc, err, "looking for the newest commit trailer: reading", lo);
        }
        for (uint64_t p = hi;; p -= 8) {
            const unsigned char *c = buf + (p - lo);
            if (c[0] == FMT_TRAILER_MAGIC[0] && memcmp(c, FMT_TRAILER_MAGIC, 8) == 0 &&
                fmt_trailer_decode(c, s->hdr.file_id, p, t) == VLS_OK) {
                found = 1;
                break;
            }
            if (p == lo)
                break;
        }
        if (lo == FMT_HEADER_SIZE)
            break;
        hi = lo - 8;
    }
    free(buf);
    return found;
}

int store_load_latest(vls_store *s)
{
    fmt_trailer t;
    uint64_t size = io_size(s->io);
    int found = find_trailer(s, size, &t);
    if (found < 0)
        return found;
    if (!found) {
        idx_reset(&s->ix);
        s->seq = 0;
        s->committed_size = FMT_HEADER_SIZE;
        s->seg_offset = 0;
        s->chain_len = s->chain_bytes = s->full_bytes = 0;
        s->committed_nc = 0;
        return meta_load(s, 0, 0);
    }
    int rc = load_chain(s, &t, &s->ix, &s->chain_len, &s->chain_bytes, &s->full_bytes);
    if (rc == VLS_OK)
        rc = meta_load(s, t.meta_offset, t.self_offset);
    if (rc != VLS_OK)
        return rc;
    s->seq = t.seq;
    s->committed_size = t.self_offset + FMT_TRAILER_SIZE;
    s->seg_offset = t.index_offset;
    s->committed_nc = s->ix.nc;
    return VLS_OK;
}

/* ---- commit ----------------------------------------------------------------------------- */
static int append_synced(vls_store *s, const void *buf, size_t len, const char *what)
{
    int err = 0, rc;
    uint64_t at = io_size(s->io);
    if ((rc = io_append(s->io, buf, len, &err)) != VLS_OK)
        return store_fail(s, store_fail_io(s, rc, err, what, at));
    if (!(s->flags & VLS_NOSYNC) && (rc = io_sync(s->io, &err)) != VLS_OK)
        return store_fail(s, store_fail_io(s, rc, err, "sync after writing", at));
    return VLS_OK;
}

int store_drop_uncommitted(vls_store *s)
{
    int err = 0, rc;
    if (s->behind_len) { /* the compressor thread writes into zbuf: let it finish */
        size_t stored;
        uint8_t codec;
        compressor_wait(s->compressor, &stored, &codec);
        s->behind_len = 0;
    }
    s->pend_len = 0;
    s->streaming = 0;
    s->stream_open_length = 0;
    s->generation++;
    s->ops.len = 0;
    s->nops = 0;
    s->ops_prev_end = 0;
    s->dirty = 0;
    if (s->cache) /* it may hold chunks that are about to go */
        cache_clear(s->cache);
    if ((rc = io_truncate(s->io, s->committed_size, &err)) != VLS_OK)
        return vls_seterr(s, rc, "cutting the file back to its last commit (offset %llu) "
                          "failed: %s", (unsigned long long)s->committed_size, strerror(err));
    /* the index as of the last commit: replayed from the file (it ends with that commit now) */
    uint64_t seq = s->seq;
    if ((rc = store_load_latest(s)) != VLS_OK)
        return rc;
    if (s->seq != seq)
        return vls_seterr(s, VLS_E_CORRUPT, "after cutting back to commit %llu the file opens "
                          "at commit %llu", (unsigned long long)seq, (unsigned long long)s->seq);
    return VLS_OK;
}

int store_fail(vls_store *s, int rc)
{
    char why[1024];
    snprintf(why, sizeof why, "%s", vls_errmsg(s));
    if (!s->failed)
        s->failed = rc;
    int cut = store_drop_uncommitted(s);
    if (cut != VLS_OK)
        return vls_seterr(s, rc, "%s (then %s)", why, vls_errmsg(s));
    return vls_seterr(s, rc, "%s; the changes since the last commit were dropped", why);
}

int vls_rollback(vls_store *s)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_rollback: store is NULL");
    if (!s->writable)
        return vls_seterr(s, VLS_E_READONLY, "vls_rollback: the store was opened read-only");
    int rc = store_check_fork(s, "vls_rollback");
    if (rc != VLS_OK)
        return rc;
    pthread_rwlock_wrlock(&s->lock);
    rc = store_drop_uncommitted(s);
    if (rc == VLS_OK)
        s->failed = 0; /* the file and the handle are the last commit again */
    else if (!s->failed)
        s->failed = rc;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int store_commit_locked(vls_store *s)
{
    int rc;
    if ((rc = store_check_writable(s)) != VLS_OK)
        return rc;
    if (s->streaming) /* its bytes sit between the records a commit would index */
        return vls_seterr(s, VLS_E_INVAL, "a record is still being written "
                          "(vls_record_create): finish or cancel it before committing");
    if (!s->dirty)
        return VLS_OK;
    int err = 0;
    if (!(s->flags & VLS_NOSYNC) && (rc = io_sync_dir_once(s->io, &err)) != VLS_OK)
        return store_fail(s, store_fail_io(s, rc, err, "syncing the store's directory (without "
                                           "it the file's name may not survive a power loss)",
                                           0));
    uint64_t meta_at;
    if ((rc = store_flush_chunk(s, 0)) != VLS_OK || (rc = meta_append(s, &meta_at)) != VLS_OK)
        return rc;

    /* a full segment now and then keeps the chain (reads at open) short and its bytes
     * proportional to the index: rewrite when the deltas outgrow the last full copy */
    int full = s->seg_offset == 0 || s->chain_len + 1 >= MAX_CHAIN ||
               s->chain_bytes + s->ops.len > (s->full_bytes > 65536 ? s->full_bytes : 65536);
    vbuf payload = {0}, seg = {0};
    rc = idx_encode_payload(&s->ix, full ? 0 : s->committed_nc, full, &s->ops, s->nops, &payload);
    if (rc != VLS_OK) {
        vbuf_free(&payload);
        return vls_seterr(s, rc, "no memory to encode the index");
    }
    if (vbuf_reserve(&seg, FMT_SEG_HDR_SIZE + chunk_bound(payload.len) + 8) != 0) {
        vbuf_free(&payload);
        return vls_seterr(s, VLS_E_NOMEM, "no memory to encode the index");
    }
    fmt_segment sh = {full ? FMT_SEG_FULL : 0, payload.len, payload.len, s->seg_offset,
                      s->seq + 1, 0};
    size_t stored = payload.len;
    uint8_t codec = FMT_CODEC_RAW;
    if (payload.len >= SEG_COMPRESS_MIN) {
        chunk_params cp = {VLS_CODEC_LZ4, 5, VLS_SHUFFLE_NONE, 1, 1, 0};
        chunk_compress(&cp, payload.p, payload.len, seg.p + FMT_SEG_HDR_SIZE, &stored, &codec);
    }
    if (codec == FMT_CODEC_RAW) {
        memcpy(seg.p + FMT_SEG_HDR_SIZE, payload.p, payload.len);
    } else {
        sh.flags |= FMT_SEG_COMPRESSED;
    }
    sh.stored_size = stored;
    sh.payload_hash = fmt_hash(seg.p + FMT_SEG_HDR_SIZE, stored);
    fmt_segment_encode(&sh, seg.p);
    seg.len = (size_t)align8(FMT_SEG_HDR_SIZE + stored);
    memset(seg.p + FMT_SEG_HDR_SIZE + stored, 0, seg.len - FMT_SEG_HDR_SIZE - stored);

    uint64_t seg_at = io_size(s->io);
    rc = append_synced(s, seg.p, seg.len, "writing the index");
    vbuf_free(&seg);
    if (rc == VLS_OK) {
        fmt_trailer t = {s->hdr.file_id, s->seq + 1, seg_at, io_size(s->io), s->ix.live,
                         meta_at};
        unsigned char tb[FMT_TRAILER_SIZE];
        fmt_trailer_encode(&t, tb);
        rc = append_synced(s, tb, sizeof tb, "writing the commit trailer");
        if (rc == VLS_OK) {
            s->seq++;
            s->seg_offset = seg_at;
            s->committed_size = io_size(s->io);
            s->committed_nc = s->ix.nc;
            s->meta_offset = meta_at;
            s->meta_dirty = 0;
            if (full) {
                s->full_bytes = payload.len;
                s->chain_len = s->chain_bytes = 0;
            } else {
                s->chain_len++;
                s->chain_bytes += payload.len;
            }
            s->ops.len = 0;
            s->nops = 0;
            s->ops_prev_end = 0;
            s->dirty = 0;
            io_map_committed(s->io, s->committed_size);
        }
    }
    vbuf_free(&payload);
    return rc;
}

int vls_commit(vls_store *s)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_commit: store is NULL");
    pthread_rwlock_wrlock(&s->lock);
    int rc = store_commit_locked(s);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* The file this read-only handle has open is no longer the one its name names: an in-place
 * compaction or a truncate renamed a new file over it, and new commits go to that one (the
 * handle stayed on the old file and never saw them: test_trust's
 * test_regress_refresh_after_compaction). Opens the new file and moves the handle onto it.
 * Caller holds the write lock. */
static int follow_replaced_file(vls_store *s)
{
    vls_options o = s->opts;
    o.cache_bytes = 0;
    vls_store *fresh;
    const char *path = io_path(s->io);
    int rc = vls_open(path, s->flags, &o, &fresh);
    if (rc != VLS_OK)
        return vls_seterr(s, rc, "refresh: %s was replaced, and opening the new file failed: %s",
                          path, vls_errmsg(NULL));
    vls_io *io = s->io;
    vls_index ix = s->ix;
    meta_doc meta = s->meta;
    s->io = fresh->io;
    s->ix = fresh->ix;
    s->meta = fresh->meta;
    s->meta_offset = fresh->meta_offset;
    fresh->io = io;
    fresh->ix = ix;
    fresh->meta = meta;
    s->hdr = fresh->hdr;
    s->cp = fresh->cp;
    s->opts.chunk_size = fresh->opts.chunk_size;
    s->seq = fresh->seq;
    s->committed_size = fresh->committed_size;
    s->seg_offset = fresh->seg_offset;
    s->chain_len = fresh->chain_len;
    s->chain_bytes = fresh->chain_bytes;
    s->full_bytes = fresh->full_bytes;
    s->committed_nc = fresh->committed_nc;
    if (s->cache) /* chunk numbers now name the new file's chunks */
        cache_clear(s->cache);
    s->generation++;
    store_free(fresh); /* with the old file, index and metadata */
    return VLS_OK;
}

int vls_refresh(vls_store *s)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_refresh: store is NULL");
    if (s->writable)
        return VLS_OK;
    pthread_rwlock_wrlock(&s->lock);
    int err = 0, rc = io_replaced(s->io, &err);
    if (rc != 0) {
        rc = rc > 0 ? follow_replaced_file(s) : vls_seterr(s, rc, "refresh: %s", strerror(err));
        pthread_rwlock_unlock(&s->lock);
        return rc;
    }
    rc = io_refresh(s->io, &err);
    if (rc != VLS_OK) {
        rc = vls_seterr(s, rc, "refresh: %s", strerror(err));
    } else if (io_size(s->io) != s->committed_size) {
        fmt_trailer t;
        int found = find_trailer(s, io_size(s->io), &t);
        if (found < 0) {
            rc = found;
        } else if (found && t.seq != s->seq) {
            vls_index fresh;
            uint64_t cl = 0, cb = 0, fb = 0;
            idx_init(&fresh);
            rc = load_chain(s, &t, &fresh, &cl, &cb, &fb);
            if (rc == VLS_OK)
                rc = meta_load(s, t.meta_offset, t.self_offset);
            if (rc == VLS_OK) {
                idx_free(&s->ix);
                s->ix = fresh;
                s->seq = t.seq;
                s->committed_size = t.self_offset + FMT_TRAILER_SIZE;
                s->seg_offset = t.index_offset;
                s->committed_nc = s->ix.nc;
                s->chain_len = cl;
                s->chain_bytes = cb;
                s->full_bytes = fb;
                if (s->cache) /* chunk numbers are stable, but stay on the safe side */
                    cache_clear(s->cache);
            } else {
                idx_free(&fresh);
            }
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}
