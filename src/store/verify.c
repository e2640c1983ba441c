/* verify.c — vls_verify: every chunk's checksum and decoding, then every record's hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

typedef struct {
    void (*report)(void *, const char *);
    void *ctx;
    uint64_t problems;
    int first;
} verify_state;

static void problem(verify_state *v, int code, const char *what)
{
    v->problems++;
    if (v->first == VLS_OK)
        v->first = code;
    if (v->report)
        v->report(v->ctx, what);
}

/* Bytes after the last valid commit: a crash (a kill mid-commit) leaves an uncommitted tail
 * that is no damage — the store opens at its last commit with nothing lost — while a commit
 * trailer there that fails its checksum means the newest commit itself was damaged. Returns
 * VLS_OK for a torn tail (1 in *torn), VLS_E_CHECKSUM when a complete trailer-shaped record
 * (magic at an 8-aligned offset) lies in it, or a read error. */
static int classify_tail(vls_store *s, uint64_t from, uint64_t size, uint64_t *bad_at)
{
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = malloc(BLOCK + FMT_TRAILER_SIZE);
    if (!buf)
        return VLS_E_NOMEM;
    uint64_t p = (from + 7) & ~(uint64_t)7;
    int rc = VLS_OK;
    while (rc == VLS_OK && p + FMT_TRAILER_SIZE <= size) {
        uint64_t n = size - p < BLOCK + FMT_TRAILER_SIZE ? size - p : BLOCK + FMT_TRAILER_SIZE;
        int err = 0;
        if ((rc = io_read(s->io, p, buf, (size_t)n, &err)) != VLS_OK)
            break;
        uint64_t q;
        for (q = 0; q + FMT_TRAILER_SIZE <= n; q += 8) {
            fmt_trailer t;
            if (memcmp(buf + q, FMT_TRAILER_MAGIC, 8) == 0 &&
                fmt_trailer_decode(buf + q, s->hdr.file_id, p + q, &t) != VLS_OK) {
                *bad_at = p + q;
                rc = VLS_E_CHECKSUM;
                break;
            }
        }
        p += q;
    }
    free(buf);
    return rc;
}

int vls_verify(vls_store *s, void (*report)(void *ctx, const char *problem), void *ctx,
               uint64_t *problems)
{
    return vls_verify_flags(s, 0, report, ctx, problems);
}

int vls_verify_flags(vls_store *s, unsigned flags, void (*report)(void *ctx, const char *problem),
                     void *ctx, uint64_t *problems)
{
    if (!s)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_verify: store is NULL");
    verify_state v = {report, ctx, 0, VLS_OK};
    char msg[600];
    pthread_rwlock_rdlock(&s->lock);
    /* 1. chunks: frame header agrees with the index, payload hash, Blosc decodes it */
    unsigned char *bad = calloc(s->ix.nc ? s->ix.nc : 1, 1);
    for (uint64_t ci = 0; bad && ci < s->ix.nc; ci++) {
        idx_chunk *c = &s->ix.c[ci];
        unsigned char fh[FMT_FRAME_HDR_SIZE];
        fmt_frame f;
        int err = 0, rc = io_read(s->io, c->file_off, fh, sizeof fh, &err);
        if (rc == VLS_OK && (rc = fmt_frame_decode(fh, &f)) == VLS_OK &&
            (f.payload_size != c->payload || f.raw_size != c->raw || f.codec != c->codec ||
             f.payload_hash != c->hash))
            rc = VLS_E_CORRUPT;
        if (rc != VLS_OK) {
            snprintf(msg, sizeof msg, "chunk %llu at offset %llu: frame header %s",
                     (unsigned long long)ci, (unsigned long long)c->file_off,
                     rc == VLS_E_CHECKSUM ? "checksum mismatch" : "disagrees with the index");
            problem(&v, rc, msg);
            bad[ci] = 1;
            continue;
        }
        atomic_store(&c->verified, 0); /* force the payload check */
        cache_item *item;
        unsigned char *owned;
        const unsigned char *data;
        if (s->cache)
            cache_clear(s->cache);
        rc = store_decode_chunk(s, ci, &item, &owned, &data);
        if (rc != VLS_OK) {
            problem(&v, rc, vls_errmsg(s));
            bad[ci] = 1;
            continue;
        }
        store_release_chunk(s, item, owned);
    }
    /* 2. records: read each in pieces and compare its hash; memory stays bounded by the
     * piece and the chunk size, whatever the record's length (a 2.5 GiB record needed 2.6 GB
     * resident) */
    enum { PIECE = 1 << 20 };
    unsigned char *piece = malloc(PIECE);
    XXH3_state_t *hs = XXH3_createState();
    if (!piece || !hs)
        problem(&v, VLS_E_NOMEM, "no memory to read the records");
    for (uint64_t i = 0; bad && piece && hs && i < s->ix.n; i++) {
        const idx_entry *e = &s->ix.e[i];
        if (!e->live)
            continue;
        int rc = VLS_OK, unverified = 0;
        XXH3_64bits_reset(hs);
        for (uint64_t done = 0; rc == VLS_OK && done < e->len;) {
            uint64_t n = e->len - done < PIECE ? e->len - done : PIECE;
            rc = store_read_logical(s, e->off + done, n, piece, &unverified);
            XXH3_64bits_update(hs, piece, (size_t)n);
            done += n;
        }
        if (rc == VLS_OK && XXH3_64bits_digest(hs) != e->hash)
            rc = vls_seterr(s, VLS_E_CHECKSUM, "record \"%.*s\" (logical offset %llu, %llu "
                            "bytes): hash mismatch", (int)(e->key_len > 64 ? 64 : e->key_len),
                            (const char *)idx_key(&s->ix, e), (unsigned long long)e->off,
                            (unsigned long long)e->len);
        if (rc != VLS_OK)
            problem(&v, rc, vls_errmsg(s));
    }
    free(piece);
    if (hs)
        XXH3_freeState(hs);
    if (!bad)
        problem(&v, VLS_E_NOMEM, "no memory to verify");
    free(bad);
    /* 3. bytes after the last commit: a torn tail from a crash (a note), or a damaged newest
     * commit (a problem) */
    uint64_t size = io_size(s->io), bad_at = 0;
    if (!s->writable && size > s->committed_size) {
        int rc = classify_tail(s, s->committed_size, size, &bad_at);
        uint64_t tail = size - s->committed_size;
        if (rc == VLS_E_CHECKSUM) {
            snprintf(msg, sizeof msg, "commit trailer at offset %llu, after the last valid "
                     "commit at offset %llu, fails its checksum: the newest commit is damaged "
                     "(the store opens at the one before)", (unsigned long long)bad_at,
                     (unsigned long long)s->committed_size);
            problem(&v, VLS_E_CHECKSUM, msg);
        } else if (rc != VLS_OK) {
            snprintf(msg, sizeof msg, "reading the %llu bytes after the last commit failed: %s",
                     (unsigned long long)tail, vls_strerror(rc));
            problem(&v, rc, msg);
        } else if (flags & VLS_VERIFY_STRICT) {
            snprintf(msg, sizeof msg, "%llu uncommitted bytes after the last valid commit at "
                     "offset %llu (a write interrupted by a crash; nothing committed is lost)",
                     (unsigned long long)tail, (unsigned long long)s->committed_size);
            problem(&v, VLS_E_CORRUPT, msg);
        } else if (report) {
            snprintf(msg, sizeof msg, "note: %llu uncommitted bytes after the last valid commit "
                     "at offset %llu: a write interrupted by a crash; nothing committed is lost "
                     "(not counted as a problem; --strict / VLS_VERIFY_STRICT counts it)",
                     (unsigned long long)tail, (unsigned long long)s->committed_size);
            report(ctx, msg);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (problems)
        *problems = v.problems;
    if (v.first != VLS_OK)
        vls_seterr(s, v.first, "%llu problem(s) found", (unsigned long long)v.problems);
    return v.first;
}
