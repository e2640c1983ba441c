/* verify.c — vls_verify: every chunk's frame header, checksum and decoding, and every record's
 * hash, in one pass over the chunks in file order.
 *
 * Memory stays bounded whatever the store's size: each chunk is read with one pread and
 * decoded into a buffer that is freed before the next (nothing is left mapped, so the
 * resident set does not grow with the file, as it did when records were read back through
 * the map: 1.1 GB resident for a 1.03 GB store), and each record is hashed from the decoded
 * chunks that hold it, streaming across chunk boundaries. Beyond the index (already in
 * memory) verify holds one decoded chunk, the records sorted by offset (16 bytes each) and a
 * hash state per record that is open across a chunk boundary (one, for files the reference
 * writer made).
 *
 * Each problem is reported once: a damaged chunk is one problem naming the records it holds
 * (their own hashes are then not reported again), a record whose bytes fail its hash in a
 * sound chunk is one problem naming its key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "store.h"

#define KEYS_NAMED 10 /* keys named per problem; the rest are counted */

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

/* Appends a key to a message, quoted, bytes outside printable ASCII as \xHH. */
static void append_key(char *msg, size_t cap, const unsigned char *k, size_t klen)
{
    size_t n = strlen(msg);
    if (n + 1 < cap)
        msg[n++] = '"';
    for (size_t i = 0; i < klen && n + 5 < cap; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\')
            msg[n++] = (char)k[i];
        else
            n += (size_t)snprintf(msg + n, cap - n, "\\x%02x", k[i]);
    }
    if (n + 1 < cap)
        msg[n++] = '"';
    msg[n < cap ? n : cap - 1] = 0;
}

/* Names a record of a damaged chunk in its problem message: the first KEYS_NAMED by key. */
static void name_affected(char *msg, size_t cap, uint64_t *affected, const vls_index *ix,
                          const idx_entry *e)
{
    if ((*affected)++ >= KEYS_NAMED)
        return;
    append_key(msg, cap, idx_key(ix, e), e->key_len);
    strncat(msg, " ", cap - strlen(msg) - 1);
}

typedef struct {
    uint64_t off, entry; /* sorted by off: the order records appear in the chunks */
} by_offset;

static int cmp_offset(const void *a, const void *b)
{
    const by_offset *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

typedef struct {
    uint64_t entry;
    XXH3_state_t *h; /* NULL: the record lies in a damaged chunk; its bytes are skipped */
} open_record;

typedef struct {
    vls_store *s;
    verify_state *v;
    open_record *open; /* records begun in an earlier chunk, not yet ended */
    size_t nopen, capopen;
} record_pass;

static void check_hash(record_pass *p, uint64_t entry, uint64_t got)
{
    const idx_entry *e = &p->s->ix.e[entry];
    if (got == e->hash)
        return;
    char msg[600];
    snprintf(msg, sizeof msg, "record at logical offset %llu (%llu bytes): hash mismatch: key ",
             (unsigned long long)e->off, (unsigned long long)e->len);
    append_key(msg, sizeof msg, idx_key(&p->s->ix, e), e->key_len);
    problem(p->v, VLS_E_CHECKSUM, msg);
}

static int open_add(record_pass *p, uint64_t entry, XXH3_state_t *h)
{
    if (p->nopen == p->capopen) {
        size_t cap = p->capopen ? p->capopen * 2 : 4;
        open_record *o = realloc(p->open, cap * sizeof *o);
        if (!o)
            return VLS_E_NOMEM;
        p->open = o;
        p->capopen = cap;
    }
    p->open[p->nopen++] = (open_record){entry, h};
    return VLS_OK;
}

/* Feeds chunk [cs, ce) (data NULL when the chunk is damaged: its records are named in msg
 * instead) to the records open across its start, then to those that start in it
 * (order[*next...]). Returns VLS_OK or VLS_E_NOMEM. */
static int feed_chunk(record_pass *p, uint64_t cs, uint64_t ce, const unsigned char *data,
                      const by_offset *order, uint64_t norder, uint64_t *next, char *msg,
                      size_t cap, uint64_t *affected)
{
    const vls_index *ix = &p->s->ix;
    for (size_t i = 0; i < p->nopen;) {
        open_record *o = &p->open[i];
        const idx_entry *e = &ix->e[o->entry];
        uint64_t end = e->off + e->len, upto = end < ce ? end : ce;
        if (!data && o->h) { /* damaged: this record is named here, once */
            XXH3_freeState(o->h);
            o->h = NULL;
            name_affected(msg, cap, affected, ix, e);
        }
        if (o->h)
            XXH3_64bits_update(o->h, data, (size_t)(upto - cs));
        if (end <= ce) {
            if (o->h) {
                check_hash(p, o->entry, XXH3_64bits_digest(o->h));
                XXH3_freeState(o->h);
            }
            p->open[i] = p->open[--p->nopen];
        } else {
            i++;
        }
    }
    for (; *next < norder && order[*next].off < ce; (*next)++) {
        uint64_t entry = order[*next].entry;
        const idx_entry *e = &ix->e[entry];
        uint64_t end = e->off + e->len;
        if (!data) {
            name_affected(msg, cap, affected, ix, e);
            if (end > ce && open_add(p, entry, NULL) != VLS_OK)
                return VLS_E_NOMEM;
        } else if (end <= ce) {
            check_hash(p, entry, XXH3_64bits(data + (e->off - cs), (size_t)e->len));
        } else {
            XXH3_state_t *h = XXH3_createState();
            if (!h || XXH3_64bits_reset(h) != XXH_OK || open_add(p, entry, h) != VLS_OK) {
                if (h)
                    XXH3_freeState(h);
                return VLS_E_NOMEM;
            }
            XXH3_64bits_update(h, data + (e->off - cs), (size_t)(ce - e->off));
        }
    }
    return VLS_OK;
}

/* Records whose bytes are not (all) in committed chunks: a writer's unwritten open chunk, or
 * zero-length records at the very end. Read in 1 MiB pieces, whatever their length. */
static int check_rest(record_pass *p, uint64_t entry)
{
    vls_store *s = p->s;
    const idx_entry *e = &s->ix.e[entry];
    size_t bufcap = 1 << 20;
    unsigned char *buf = malloc(bufcap);
    XXH3_state_t *h = XXH3_createState();
    int rc = buf && h && XXH3_64bits_reset(h) == XXH_OK ? VLS_OK : VLS_E_NOMEM;
    for (uint64_t done = 0; rc == VLS_OK && done < e->len;) {
        size_t n = e->len - done < bufcap ? (size_t)(e->len - done) : bufcap;
        int unverified = 0;
        rc = store_read_logical(s, e->off + done, n, buf, &unverified);
        if (rc == VLS_OK)
            XXH3_64bits_update(h, buf, n);
        done += n;
    }
    if (rc == VLS_OK)
        check_hash(p, entry, XXH3_64bits_digest(h));
    else if (rc != VLS_E_NOMEM)
        problem(p->v, rc, vls_errmsg(s));
    free(buf);
    if (h)
        XXH3_freeState(h);
    return rc == VLS_E_NOMEM ? rc : VLS_OK;
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
    record_pass p = {s, &v, NULL, 0, 0};
    char msg[1200];
    pthread_rwlock_rdlock(&s->lock);
    /* the live records in the order their bytes appear */
    uint64_t norder = 0, next = 0;
    by_offset *order = malloc((s->ix.live ? s->ix.live : 1) * sizeof *order);
    for (uint64_t i = 0; order && i < s->ix.n; i++)
        if (s->ix.e[i].live)
            order[norder++] = (by_offset){s->ix.e[i].off, i};
    if (order)
        qsort(order, norder, sizeof *order, cmp_offset);
    int rc = order ? VLS_OK : VLS_E_NOMEM;

    /* 1. every chunk: frame header agrees with the index, payload hash, Blosc decodes it;
     *    and the records it holds, hashed from its decoded bytes */
    for (uint64_t ci = 0; rc == VLS_OK && ci < s->ix.nc; ci++) {
        idx_chunk *c = &s->ix.c[ci];
        unsigned char fh[FMT_FRAME_HDR_SIZE];
        fmt_frame f;
        cache_item *item = NULL;
        unsigned char *owned = NULL;
        const unsigned char *data = NULL;
        int err = 0, crc = io_read(s->io, c->file_off, fh, sizeof fh, &err);
        if (crc == VLS_OK && (crc = fmt_frame_decode(fh, &f)) == VLS_OK &&
            (f.payload_size != c->payload || f.raw_size != c->raw || f.codec != c->codec ||
             f.payload_hash != c->hash))
            crc = VLS_E_CORRUPT;
        if (crc != VLS_OK) {
            snprintf(msg, sizeof msg, "chunk %llu at offset %llu: frame header %s",
                     (unsigned long long)ci, (unsigned long long)c->file_off,
                     crc == VLS_E_CHECKSUM ? "checksum mismatch" : "disagrees with the index");
        } else {
            atomic_store(&c->verified, 0); /* force the payload check */
            if (s->cache)
                cache_clear(s->cache);
            if ((crc = store_decode_chunk(s, ci, &item, &owned, &data)) == VLS_E_NOMEM) {
                rc = VLS_E_NOMEM; /* not the chunk's fault: stop, and say so below */
                break;
            }
            if (crc != VLS_OK)
                snprintf(msg, sizeof msg, "%s", vls_errmsg(s));
        }
        uint64_t affected = 0;
        size_t head = crc != VLS_OK ? strlen(msg) : 0; /* msg is only set for a bad chunk */
        if (crc != VLS_OK)
            strncat(msg, "; records affected: ", sizeof msg - head - 1);
        rc = feed_chunk(&p, c->logical, c->logical + c->raw, crc == VLS_OK ? data : NULL, order,
                        norder, &next, msg, sizeof msg, &affected);
        if (crc != VLS_OK) {
            size_t n = strlen(msg);
            if (affected == 0)
                snprintf(msg + head, sizeof msg - head, " (no live record lies in it)");
            else if (affected > KEYS_NAMED && n + 40 < sizeof msg)
                snprintf(msg + n, sizeof msg - n, "and %llu more (%llu in all)",
                         (unsigned long long)(affected - KEYS_NAMED),
                         (unsigned long long)affected);
            else if (n > 0 && msg[n - 1] == ' ')
                msg[n - 1] = 0;
            problem(&v, crc, msg);
        } else {
            store_release_chunk(s, item, owned);
        }
        store_progress("chunks", ci + 1, s->ix.nc);
    }
    /* 2. records not wholly in committed chunks: a writer's open chunk, and zero-length
     *    records at the stream's end */
    for (size_t i = 0; i < p.nopen; i++) {
        if (p.open[i].h) {
            XXH3_freeState(p.open[i].h);
            if (rc == VLS_OK)
                rc = check_rest(&p, p.open[i].entry);
        }
    }
    for (; rc == VLS_OK && next < norder; next++)
        rc = check_rest(&p, order[next].entry);
    if (rc == VLS_E_NOMEM)
        problem(&v, VLS_E_NOMEM, "no memory to verify");
    free(p.open);
    free(order);
    /* 3. bytes after the last commit: a torn tail from a crash (a note), or a damaged newest
     * commit (a problem) */
    uint64_t size = io_size(s->io), bad_at = 0;
    if (!s->writable && size > s->committed_size) {
        int trc = classify_tail(s, s->committed_size, size, &bad_at);
        uint64_t tail = size - s->committed_size;
        if (trc == VLS_E_CHECKSUM) {
            snprintf(msg, sizeof msg, "commit trailer at offset %llu, after the last valid "
                     "commit at offset %llu, fails its checksum: the newest commit is damaged "
                     "(the store opens at the one before)", (unsigned long long)bad_at,
                     (unsigned long long)s->committed_size);
            problem(&v, VLS_E_CHECKSUM, msg);
        } else if (trc != VLS_OK) {
            snprintf(msg, sizeof msg, "reading the %llu bytes after the last commit failed: %s",
                     (unsigned long long)tail, vls_strerror(trc));
            problem(&v, trc, msg);
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
