/* read.c — reading single records and whole chunks, and the read-only queries (size,
 * contains, count, iteration, stat). Batched reads are in batch.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

static int decode_chunk_into(vls_store *s, uint64_t ci, unsigned char *out, int threads);

int store_decode_chunk(vls_store *s, uint64_t ci, cache_item **item, unsigned char **owned,
                       const unsigned char **data)
{
    idx_chunk *c = &s->ix.c[ci];
    *item = NULL;
    *owned = NULL;
    if (s->cache && (*item = cache_get(s->cache, ci)) != NULL) {
        *data = (*item)->data;
        return VLS_OK;
    }
    unsigned char *out = malloc(c->raw ? c->raw : 1);
    if (!out)
        return vls_seterr(s, VLS_E_NOMEM, "no memory to decode chunk %llu",
                          (unsigned long long)ci);
    int rc = decode_chunk_into(s, ci, out, 1); /* batches decode chunks side by side */
    if (rc != VLS_OK) {
        free(out);
        return rc;
    }
    if (s->cache && (*item = cache_put(s->cache, ci, out, c->raw)) != NULL) {
        *data = (*item)->data;
        return VLS_OK;
    }
    *owned = out;
    *data = out;
    return VLS_OK;
}

/* Decodes chunk ci whole into out (c->raw bytes) on `threads` Blosc threads, checking its
 * payload hash once per handle. Caller holds the read lock.
 *
 * Where the compressed bytes come from depends on how often the handle reads the chunk
 * whole. The first time (when its hash is checked) they are read into a buffer with one
 * pread: a scan reads every chunk once, and one copy costs less than mapping the pages
 * (measured on a 512 MiB store: 3.7 against 3.45 GB/s, the map's page-table setup being
 * ~15 % of a first read). The second time, the chunk is read again whole — a loader's next
 * epoch — so its pages are mapped in one go (WILLNEED + POPULATE_READ) and read in place from
 * then on, with no copy. */
static int decode_chunk_into(vls_store *s, uint64_t ci, unsigned char *out, int threads)
{
    idx_chunk *c = &s->ix.c[ci];
    int err = 0, rc;
    uint64_t at = c->file_off + FMT_FRAME_HDR_SIZE;
    spare_buf *tmp = NULL;
    int first = !atomic_load_explicit(&c->verified, memory_order_acquire);
    const unsigned char *src = first ? NULL : io_view(s->io, at, c->payload);
    if (src && !atomic_load_explicit(&c->mapped, memory_order_relaxed)) {
        io_willneed(s->io, at, c->payload);
        atomic_store_explicit(&c->mapped, 1, memory_order_relaxed);
    }
    if (!src) {
        if (!(tmp = store_spare_take(s, c->payload))) {
            return vls_seterr(s, VLS_E_NOMEM, "no memory to read chunk %llu",
                              (unsigned long long)ci);
        }
        if ((rc = io_read(s->io, at, tmp->data, c->payload, &err)) != VLS_OK) {
            store_spare_give(s, tmp);
            return vls_seterr(s, rc, "chunk %llu at offset %llu: read failed: %s",
                              (unsigned long long)ci, (unsigned long long)c->file_off,
                              err ? strerror(err) : "file is shorter than the index says");
        }
        src = tmp->data;
    }
    rc = VLS_OK;
    if (first) {
        if (fmt_hash(src, c->payload) != c->hash)
            rc = vls_seterr(s, VLS_E_CHECKSUM, "chunk %llu at offset %llu: checksum mismatch",
                            (unsigned long long)ci, (unsigned long long)c->file_off);
        else
            atomic_store_explicit(&c->verified, 1, memory_order_release);
    }
    if (rc == VLS_OK) {
        char why[256];
        rc = chunk_decompress(c->codec, src, c->payload, out, c->raw, threads, why, sizeof why);
        if (rc != VLS_OK)
            vls_seterr(s, rc, "chunk %llu at offset %llu: %s", (unsigned long long)ci,
                       (unsigned long long)c->file_off, why);
    }
    store_spare_give(s, tmp);
    return rc;
}

uint64_t vls_chunk_count(vls_store *s)
{
    if (!s)
        return 0;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n = s->ix.nc;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

int vls_chunk_length(vls_store *s, uint64_t chunk, uint64_t *len)
{
    if (!s || !len)
        return vls_seterr(s, VLS_E_INVAL, "vls_chunk_length: NULL argument");
    int rc = VLS_OK;
    pthread_rwlock_rdlock(&s->lock);
    if (chunk >= s->ix.nc)
        rc = vls_seterr(s, VLS_E_NOTFOUND, "no chunk %llu (the store has %llu)",
                        (unsigned long long)chunk, (unsigned long long)s->ix.nc);
    else
        *len = s->ix.c[chunk].raw;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Checks the hash of every live record that lies wholly in chunk ci (decoded in data): the
 * chunk checksum proves the chunk is what the writer wrote, not that the index places each
 * record right. Records are in storage order (idx_add enforces it), so they are found by
 * binary search. Records crossing into the next chunk are left to the reader that joins the
 * chunks (vls_check_record). */
static int check_records_in_chunk(vls_store *s, uint64_t ci, const unsigned char *data)
{
    const idx_chunk *c = &s->ix.c[ci];
    uint64_t lo = 0, hi = s->ix.n;
    while (lo < hi) { /* first entry starting at or after the chunk */
        uint64_t m = lo + (hi - lo) / 2;
        if (s->ix.e[m].off < c->logical)
            lo = m + 1;
        else
            hi = m;
    }
    for (uint64_t i = lo; i < s->ix.n; i++) {
        const idx_entry *e = &s->ix.e[i];
        if (e->off >= c->logical + c->raw)
            break;
        if (!e->live || e->len > c->logical + c->raw - e->off)
            continue;
        int rc = store_check_record(s, e, data + (e->off - c->logical));
        if (rc != VLS_OK)
            return rc;
    }
    return VLS_OK;
}

int vls_read_chunk(vls_store *s, uint64_t chunk, void *dst, size_t cap, uint64_t *len)
{
    if (!s || !len || (!dst && cap))
        return vls_seterr(s, VLS_E_INVAL, "vls_read_chunk: NULL argument");
    int rc;
    pthread_rwlock_rdlock(&s->lock);
    if (chunk >= s->ix.nc) {
        rc = vls_seterr(s, VLS_E_NOTFOUND, "no chunk %llu (the store has %llu)",
                        (unsigned long long)chunk, (unsigned long long)s->ix.nc);
    } else {
        idx_chunk *c = &s->ix.c[chunk];
        *len = c->raw;
        if (cap < c->raw) {
            rc = vls_seterr(s, VLS_E_TOOSMALL, "chunk %llu decodes to %u bytes, buffer has %zu",
                            (unsigned long long)chunk, c->raw, cap);
        } else {
            rc = decode_chunk_into(s, chunk, dst, s->cp.threads);
            if (rc == VLS_OK)
                rc = check_records_in_chunk(s, chunk, dst);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

void store_release_chunk(vls_store *s, cache_item *item, unsigned char *owned)
{
    if (item)
        cache_release(s->cache, item);
    free(owned);
}

/* Copies [in, in+n) of chunk ci. Small ranges of a chunk not in the cache are decoded from
 * only the Blosc blocks that hold them (sets *unverified); others decode the chunk whole. */
static int read_from_chunk(vls_store *s, uint64_t ci, uint64_t in, size_t n, unsigned char *dst,
                           int *unverified)
{
    idx_chunk *c = &s->ix.c[ci];
    cache_item *item = NULL;
    unsigned char *owned = NULL;
    const unsigned char *data;
    int rc;
    if (s->cache && (item = cache_get(s->cache, ci)) != NULL) {
        memcpy(dst, item->data + in, n);
        cache_release(s->cache, item);
        return VLS_OK;
    }
    /* A small range is decoded from only its Blosc blocks (random access) unless it starts
     * where the previous small read of the same chunk ended: a sequential reader then gets the
     * chunk decoded whole into the cache, once. Without a cache, small reads stay partial. */
    int small = n <= c->raw / 8;
    int partial = c->codec == FMT_CODEC_RAW;
    if (small && !partial) {
        unsigned prev = atomic_exchange_explicit(&c->next_in, (unsigned)(in + n),
                                                 memory_order_relaxed);
        partial = !s->cache || prev != (unsigned)in;
    }
    if (partial) {
        char why[256];
        int err = 0;
        const unsigned char *src = io_view(s->io, c->file_off + FMT_FRAME_HDR_SIZE, c->payload);
        if (!src && c->codec == FMT_CODEC_RAW) { /* raw chunk, not mapped: read the range */
            rc = io_read(s->io, c->file_off + FMT_FRAME_HDR_SIZE + in, dst, n, &err);
            if (rc != VLS_OK)
                return vls_seterr(s, rc, "chunk %llu at offset %llu: read failed: %s",
                                  (unsigned long long)ci, (unsigned long long)c->file_off,
                                  err ? strerror(err) : "file shorter than the index says");
            *unverified = 1;
            return VLS_OK;
        }
        if (src) {
            /* a cold map faults page by page (random-access advice); read the compressed
             * bytes of the blocks this range needs in one request instead */
            uint64_t from, to;
            if (chunk_block_span(c->codec, src, c->payload, c->raw, in, n, &from, &to) == 0)
                io_willneed(s->io, c->file_off + FMT_FRAME_HDR_SIZE + from, (size_t)(to - from));
            rc = chunk_read_range(c->codec, src, c->payload, c->raw, in, n, dst, why, sizeof why);
            if (rc == VLS_OK) {
                *unverified = 1;
                return VLS_OK;
            }
            if (rc < 0)
                return vls_seterr(s, rc, "chunk %llu at offset %llu: %s", (unsigned long long)ci,
                                  (unsigned long long)c->file_off, why);
        } else if ((rc = store_read_blocks(s, ci, in, n, dst)) <= 0) { /* blockread.c */
            if (rc == VLS_OK)
                *unverified = 1;
            return rc;
        }
    }
    if ((rc = store_decode_chunk(s, ci, &item, &owned, &data)) != VLS_OK)
        return rc;
    memcpy(dst, data + in, n);
    store_release_chunk(s, item, owned);
    return VLS_OK;
}

int store_read_logical(vls_store *s, uint64_t off, uint64_t len, void *dst, int *unverified)
{
    unsigned char *d = dst;
    while (len > 0) {
        if (off >= s->ix.logical_end) /* not in the file yet */
            return store_copy_unwritten(s, off - s->ix.logical_end, len, d);
        int64_t ci = idx_chunk_at(&s->ix, off);
        if (ci < 0)
            return vls_seterr(s, VLS_E_CORRUPT, "no chunk holds logical offset %llu",
                              (unsigned long long)off);
        const idx_chunk *c = &s->ix.c[ci];
        uint64_t in = off - c->logical, n = c->raw - in;
        if (n > len)
            n = len;
        int rc = read_from_chunk(s, (uint64_t)ci, in, (size_t)n, d, unverified);
        if (rc != VLS_OK)
            return rc;
        d += n;
        off += n;
        len -= n;
    }
    return VLS_OK;
}

int store_check_record(vls_store *s, const idx_entry *e, const void *dst)
{
    if (XXH3_64bits(dst, e->len) != e->hash)
        return vls_seterr(s, VLS_E_CHECKSUM, "record \"%.*s\" (logical offset %llu, %llu bytes): "
                          "hash mismatch", (int)(e->key_len > 64 ? 64 : e->key_len),
                          (const char *)idx_key(&s->ix, e), (unsigned long long)e->off,
                          (unsigned long long)e->len);
    return VLS_OK;
}

static int lookup(vls_store *s, const void *key, size_t klen, const idx_entry **e)
{
    int rc = store_check_key(s, key, klen);
    if (rc != VLS_OK)
        return rc;
    int64_t i = idx_find(&s->ix, key, klen);
    if (i < 0)
        return vls_seterr(s, VLS_E_NOTFOUND, "no record under key \"%.*s\"",
                          (int)(klen > 64 ? 64 : klen), (const char *)key);
    *e = &s->ix.e[i];
    return VLS_OK;
}

int vls_get(vls_store *s, const void *key, size_t klen, void *buf, size_t cap, uint64_t *len)
{
    if (!s || !len || (!buf && cap))
        return vls_seterr(s, VLS_E_INVAL, "vls_get: NULL argument");
    const idx_entry *e;
    pthread_rwlock_rdlock(&s->lock);
    int rc = lookup(s, key, klen, &e);
    if (rc == VLS_OK) {
        *len = e->len;
        if (e->len > cap) {
            rc = vls_seterr(s, VLS_E_TOOSMALL, "record needs %llu bytes, buffer has %zu",
                            (unsigned long long)e->len, cap);
        } else {
            int unverified = 0;
            rc = store_read_logical(s, e->off, e->len, buf, &unverified);
            if (rc == VLS_OK) /* always: see store_check_record */
                rc = store_check_record(s, e, buf);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_get_str(vls_store *s, const char *key, void *buf, size_t cap, uint64_t *len)
{
    return vls_get(s, key, key ? strlen(key) : 0, buf, cap, len);
}

int vls_get_u64(vls_store *s, uint64_t key, void *buf, size_t cap, uint64_t *len)
{
    unsigned char k[8];
    vls_key_u64(key, k);
    return vls_get(s, k, 8, buf, cap, len);
}

int vls_get_alloc(vls_store *s, const void *key, size_t klen, void **out, uint64_t *len)
{
    if (!s || !out || !len)
        return vls_seterr(s, VLS_E_INVAL, "vls_get_alloc: NULL argument");
    *out = NULL;
    const idx_entry *e;
    pthread_rwlock_rdlock(&s->lock);
    int rc = lookup(s, key, klen, &e);
    if (rc == VLS_OK) {
        void *buf = e->len > SIZE_MAX - 1 ? NULL : malloc(e->len ? (size_t)e->len : 1);
        if (!buf) {
            rc = vls_seterr(s, VLS_E_NOMEM, "no memory for a record of %llu bytes",
                            (unsigned long long)e->len);
        } else {
            int unverified = 0;
            rc = store_read_logical(s, e->off, e->len, buf, &unverified);
            if (rc == VLS_OK)
                rc = store_check_record(s, e, buf);
            if (rc == VLS_OK) {
                *out = buf;
                *len = e->len;
            } else {
                free(buf);
            }
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

void vls_free(void *p)
{
    free(p);
}

int vls_size(vls_store *s, const void *key, size_t klen, uint64_t *len)
{
    if (!s || !len)
        return vls_seterr(s, VLS_E_INVAL, "vls_size: NULL argument");
    const idx_entry *e = NULL;
    pthread_rwlock_rdlock(&s->lock);
    int rc = lookup(s, key, klen, &e);
    if (rc == VLS_OK)
        *len = e->len;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_contains(vls_store *s, const void *key, size_t klen, int *found)
{
    if (found)
        *found = 0;
    if (!s || !found)
        return vls_seterr(s, VLS_E_INVAL, "vls_contains: NULL argument");
    int rc = store_check_key(s, key, klen);
    if (rc != VLS_OK)
        return rc;
    pthread_rwlock_rdlock(&s->lock);
    *found = idx_find(&s->ix, key, klen) >= 0;
    pthread_rwlock_unlock(&s->lock);
    return VLS_OK;
}

uint64_t vls_count(vls_store *s)
{
    if (!s)
        return 0;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n = s->ix.live;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

int vls_iter_next(vls_store *s, uint64_t *pos, const void **key, size_t *klen, uint64_t *len)
{
    return vls_iter_next_chunk(s, pos, key, klen, len, NULL, NULL);
}

int vls_iter_next_chunk(vls_store *s, uint64_t *pos, const void **key, size_t *klen,
                        uint64_t *len, uint64_t *chunk, uint64_t *offset)
{
    if (!s || !pos)
        return vls_seterr(s, VLS_E_INVAL, "vls_iter_next: NULL argument");
    int found = 0;
    pthread_rwlock_rdlock(&s->lock);
    while (*pos < s->ix.n) {
        const idx_entry *e = &s->ix.e[(*pos)++];
        if (!e->live)
            continue;
        if (key)
            *key = idx_key(&s->ix, e);
        if (klen)
            *klen = e->key_len;
        if (len)
            *len = e->len;
        if (chunk || offset) {
            int64_t ci = e->off < s->ix.logical_end ? idx_chunk_at(&s->ix, e->off) : -1;
            if (chunk)
                *chunk = ci < 0 ? UINT64_MAX : (uint64_t)ci;
            if (offset)
                *offset = ci < 0 ? 0 : e->off - s->ix.c[ci].logical;
        }
        found = 1;
        break;
    }
    pthread_rwlock_unlock(&s->lock);
    return found;
}

/* The size of the first vls_stat layout (0.2). Fields appended later are filled only for callers
 * whose struct_size covers them; a caller with a struct this small gets exactly this much. */
#define VLS_STAT_SIZE_0_2 sizeof(vls_stat)

int vls_stat_get(vls_store *s, vls_stat *st)
{
    if (!s || !st)
        return vls_seterr(s, VLS_E_INVAL, "vls_stat_get: NULL argument");
    uint32_t caller_size = st->struct_size;
    if (caller_size < VLS_STAT_SIZE_0_2)
        return vls_seterr(s, VLS_E_INVAL, "vls_stat.struct_size is %u, expected at least %zu "
                          "(set it to sizeof(vls_stat) before the call)", caller_size,
                          VLS_STAT_SIZE_0_2);
    vls_stat full;
    memset(&full, 0, sizeof full);
    pthread_rwlock_rdlock(&s->lock);
    full.records = s->ix.live;
    full.logical_bytes = s->ix.live_bytes;
    full.dead_bytes = s->ix.logical_end + s->behind_len + s->pend_len - s->ix.live_bytes;
    full.file_bytes = s->writable ? io_size(s->io) : s->committed_size;
    full.chunks = s->ix.nc;
    full.commits = s->seq;
    full.options = s->opts;
    full.format_version = s->hdr.version;
    pthread_rwlock_unlock(&s->lock);
    /* An older caller's struct is a prefix of ours: copy that much. A newer caller's is
     * longer: its fields beyond ours are not written (struct_size may even be garbage), and
     * struct_size tells it how much this library filled. */
    full.struct_size = (uint32_t)(caller_size < sizeof full ? caller_size : sizeof full);
    memcpy(st, &full, full.struct_size);
    return VLS_OK;
}

int vls_check_record(vls_store *s, const void *key, size_t klen, const void *data, size_t len)
{
    if (!s || (!data && len))
        return vls_seterr(s, VLS_E_INVAL, "vls_check_record: NULL argument");
    const idx_entry *e;
    pthread_rwlock_rdlock(&s->lock);
    int rc = lookup(s, key, klen, &e);
    if (rc == VLS_OK && e->len != len)
        rc = vls_seterr(s, VLS_E_CHECKSUM, "record \"%.*s\" is %llu bytes, not %zu",
                        (int)(klen > 64 ? 64 : klen), (const char *)key,
                        (unsigned long long)e->len, len);
    else if (rc == VLS_OK)
        rc = store_check_record(s, e, data);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- a record read in pieces ------------------------------------------------------------ */
struct vls_record_reader {
    vls_store *s;
    uint64_t generation; /* the store's, at open */
    uint64_t off, len, hash, done;
    XXH3_state_t *state;
    char key[80];        /* for messages */
    int klen;
};

int vls_record_open(vls_store *s, const void *key, size_t klen, vls_record_reader **out,
                    uint64_t *len)
{
    if (!s || !out)
        return vls_seterr(s, VLS_E_INVAL, "vls_record_open: NULL argument");
    *out = NULL;
    vls_record_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->state = XXH3_createState())) {
        free(r);
        return vls_seterr(s, VLS_E_NOMEM, "no memory for a record reader");
    }
    const idx_entry *e;
    pthread_rwlock_rdlock(&s->lock);
    int rc = lookup(s, key, klen, &e);
    if (rc == VLS_OK) {
        r->s = s;
        r->generation = s->generation;
        r->off = e->off;
        r->len = e->len;
        r->hash = e->hash;
        r->klen = (int)(klen < sizeof r->key ? klen : sizeof r->key);
        memcpy(r->key, key, (size_t)r->klen);
        XXH3_64bits_reset(r->state);
        if (len)
            *len = e->len;
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc != VLS_OK) {
        vls_record_close(r);
        return rc;
    }
    *out = r;
    return VLS_OK;
}

int vls_record_read(vls_record_reader *r, void *buf, size_t cap, size_t *got)
{
    if (!r || !got || (!buf && cap))
        return vls_seterr(r ? r->s : NULL, VLS_E_INVAL, "vls_record_read: NULL argument");
    vls_store *s = r->s;
    *got = 0;
    uint64_t n = r->len - r->done < cap ? r->len - r->done : cap;
    if (n == 0 && r->done == r->len && r->len)
        return VLS_OK; /* already at the end, and checked */
    pthread_rwlock_rdlock(&s->lock);
    int rc = VLS_OK, unverified = 0;
    if (s->generation != r->generation)
        rc = vls_seterr(s, VLS_E_INVAL, "record \"%.*s\": the store was rolled back or moved "
                        "to a replaced file while it was being read", r->klen, r->key);
    else if (n)
        rc = store_read_logical(s, r->off + r->done, n, buf, &unverified);
    if (rc == VLS_OK) {
        XXH3_64bits_update(r->state, buf, (size_t)n);
        r->done += n;
        *got = (size_t)n;
        if (r->done == r->len && XXH3_64bits_digest(r->state) != r->hash)
            rc = vls_seterr(s, VLS_E_CHECKSUM, "record \"%.*s\" (logical offset %llu, %llu "
                            "bytes): hash mismatch (discard what was read)", r->klen, r->key,
                            (unsigned long long)r->off, (unsigned long long)r->len);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

void vls_record_close(vls_record_reader *r)
{
    if (!r)
        return;
    if (r->state)
        XXH3_freeState(r->state);
    free(r);
}
