/* recover.c — vls_recover: salvaging the intact records of a damaged file.
 *
 * Nothing in the damaged file is trusted, not even the header or the trailers:
 *  1. scan: every multiple of 8 after the header is tested for a chunk frame header and an
 *     index segment header (magic + header checksum, docs/FORMAT.md); a structure found whole
 *     is skipped over, so record bytes inside a valid frame are never taken for structures;
 *  2. history: the newest segment found is the head; its prev_offset links lead back to the
 *     newest full segment whose payload verifies. A link to a segment whose header is damaged
 *     is bridged by the next valid segment below it;
 *  3. replay: the chain is applied oldest first, as at open. A segment that cannot be used
 *     (damaged payload or header) loses its commit's ops — keys live only in the index — but
 *     its chunk entries are replaced by the frames found between it and the segment before
 *     it, so the logical offsets of every later chunk stay right;
 *  4. salvage: every chunk is checked (payload hash, decoding) and every live record read and
 *     checked against its hash through read.c's reader, on a read-only handle built over the
 *     damaged file; the records that pass go to a new store.
 * A wrong guess in 2 or 3 can only make records fail their hash: no byte is ever written to
 * the new store unless it matched the XXH3_64 that the index kept for its record.
 * Depends on store (the internal reader), io, format, index, chunk, cache. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "store.h"
#include "util.h"

#define SCAN_BLOCK (1u << 20)      /* bytes read at a time by the scan */
#define KEYS_LISTED 20             /* lost records named one by one in the report */
#define REPORT_MAX 200             /* sentences before the report says "and more" */
#define BIG_RECORD (16u << 20)     /* records above this are checked, then copied, in pieces */
#define RECOVER_CACHE (64u << 20)  /* decoded chunks kept while records are read */

typedef struct {
    uint64_t off;
    fmt_frame f;
    int whole; /* the payload lies inside the file */
    int named; /* a chunk of the rebuilt index */
} rframe;

typedef struct {
    uint64_t off;
    fmt_segment h;
    int whole; /* the payload lies inside the file */
} rseg;

typedef struct {
    uint64_t off;
    int64_t si; /* index in segs, or -1: a segment whose header is damaged */
} rlink;

typedef struct {
    void (*report)(void *, const char *);
    void *ctx;
    uint64_t said;
    vls_recover_stats *st;
    vls_store *s; /* read-only handle over the damaged file, index rebuilt here */
    uint64_t size;
    int hdr_ok;
    rframe *fr;
    size_t nfr, cfr;
    rseg *sg;
    size_t nsg, csg;
    uint64_t bad_frames, bad_segs, bad_trailers; /* magic found, header checksum wrong */
    uint64_t *tix;       /* index_offset of every valid commit trailer, in file order */
    size_t ntix, ctix;
    uint64_t meta_off, meta_limit; /* the newest valid trailer's metadata block (meta.c) */
} rstate;

static void say(rstate *r, const char *fmt, ...) VLS_PRINTF(2, 3);

static void say(rstate *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!r->report)
        return;
    if (r->said++ >= REPORT_MAX) {
        if (r->said == REPORT_MAX + 2)
            r->report(r->ctx, "(further findings are not listed)");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->report(r->ctx, msg);
}

/* A key as text for the report: printable bytes as they are, others as \xNN, cut at 48. */
static void key_text(const unsigned char *k, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        if (i == 48) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\')
            out[o++] = (char)k[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", k[i]);
    }
    out[o] = 0;
}

/* ---- 1. scan ----------------------------------------------------------------------------- */
static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int frame_plausible(const fmt_frame *f)
{
    return f->raw_size >= 1 && f->raw_size <= (1u << 30) && f->payload_size <= (1u << 31) &&
           (f->codec <= 5 || f->codec == FMT_CODEC_RAW) &&
           (f->codec != FMT_CODEC_RAW || f->payload_size == f->raw_size);
}

static int scan(rstate *r)
{
    unsigned char *buf = malloc(SCAN_BLOCK + FMT_TRAILER_SIZE);
    if (!buf)
        return vls_seterr(NULL, VLS_E_NOMEM, "no memory to scan the file");
    uint64_t next = FMT_HEADER_SIZE; /* structures found whole are skipped */
    for (uint64_t blk = FMT_HEADER_SIZE; blk < r->size; blk += SCAN_BLOCK) {
        store_progress("bytes", blk, r->size);
        uint64_t end = r->size - blk > SCAN_BLOCK + FMT_TRAILER_SIZE ? blk + SCAN_BLOCK +
                       FMT_TRAILER_SIZE : r->size;
        uint64_t stop = r->size - blk > SCAN_BLOCK ? blk + SCAN_BLOCK : r->size;
        int err = 0, rc = io_read(r->s->io, blk, buf, (size_t)(end - blk), &err);
        if (rc != VLS_OK) {
            free(buf);
            return vls_seterr(NULL, rc == VLS_E_TRUNCATED ? VLS_E_IO : rc, "reading "
                              "offset %llu failed: %s", (unsigned long long)blk,
                              err ? strerror(err) : "the file shrank");
        }
        for (uint64_t p = blk; p < stop; p += 8) {
            if (p < next) {
                p = next - 8;
                continue;
            }
            const unsigned char *c = buf + (p - blk);
            uint64_t avail = r->size - p;
            if (avail < FMT_FRAME_HDR_SIZE)
                break;
            uint32_t magic = get_le32(c);
            if (magic == FMT_FRAME_MAGIC) {
                fmt_frame f;
                if (fmt_frame_decode(c, &f) != VLS_OK || !frame_plausible(&f)) {
                    r->bad_frames++;
                    continue;
                }
                if (grow((void **)&r->fr, &r->cfr, r->nfr, sizeof *r->fr) != 0)
                    goto nomem;
                rframe *x = &r->fr[r->nfr++];
                x->off = p;
                x->f = f;
                x->whole = f.payload_size <= avail - FMT_FRAME_HDR_SIZE;
                x->named = 0;
                next = x->whole ? align8(p + FMT_FRAME_HDR_SIZE + f.payload_size)
                                : p + FMT_FRAME_HDR_SIZE;
            } else if (magic == FMT_SEG_MAGIC && avail >= FMT_SEG_HDR_SIZE) {
                fmt_segment h;
                if (fmt_segment_decode(c, &h) != VLS_OK) {
                    r->bad_segs++;
                    continue;
                }
                if (grow((void **)&r->sg, &r->csg, r->nsg, sizeof *r->sg) != 0)
                    goto nomem;
                rseg *x = &r->sg[r->nsg++];
                x->off = p;
                x->h = h;
                x->whole = h.stored_size <= avail - FMT_SEG_HDR_SIZE;
                next = x->whole ? align8(p + FMT_SEG_HDR_SIZE + h.stored_size)
                                : p + FMT_SEG_HDR_SIZE;
            } else if (avail >= FMT_TRAILER_SIZE && memcmp(c, FMT_TRAILER_MAGIC, 8) == 0) {
                fmt_trailer t;
                uint64_t id = r->hdr_ok ? r->s->hdr.file_id : get_le64(c + 8);
                if (fmt_trailer_decode(c, id, p, &t) != VLS_OK) {
                    r->bad_trailers++;
                    continue;
                }
                if (grow((void **)&r->tix, &r->ctix, r->ntix, sizeof *r->tix) != 0)
                    goto nomem;
                r->tix[r->ntix++] = t.index_offset;
                r->meta_off = t.meta_offset;
                r->meta_limit = p;
                next = p + FMT_TRAILER_SIZE;
            }
        }
    }
    free(buf);
    store_progress("bytes", r->size, r->size);
    return VLS_OK;
nomem:
    free(buf);
    return vls_seterr(NULL, VLS_E_NOMEM, "no memory for the list of structures");
}

static int64_t seg_at(const rstate *r, uint64_t off)
{
    size_t lo = 0, hi = r->nsg;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->sg[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nsg && r->sg[lo].off == off ? (int64_t)lo : -1;
}

/* The highest segment that starts below off, or -1. */
static int64_t seg_below(const rstate *r, uint64_t off)
{
    int64_t i = (int64_t)r->nsg - 1;
    while (i >= 0 && r->sg[i].off >= off)
        i--;
    return i;
}

static rframe *frame_at(const rstate *r, uint64_t off)
{
    size_t lo = 0, hi = r->nfr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->fr[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nfr && r->fr[lo].off == off ? &r->fr[lo] : NULL;
}

/* Reads, checks and decodes a segment's payload into out. */
static int seg_payload(rstate *r, const rseg *g, vbuf *out, char *why, size_t cap)
{
    const fmt_segment *h = &g->h;
    if (!g->whole) {
        snprintf(why, cap, "its payload runs past the end of the file");
        return VLS_E_TRUNCATED;
    }
    if ((h->flags & FMT_SEG_COMPRESSED ? h->raw_size > 256 * h->stored_size + 4096
                                       : h->raw_size != h->stored_size) ||
        h->raw_size > ((uint64_t)1 << 40) || h->raw_size >= SIZE_MAX) {
        snprintf(why, cap, "sizes out of range (%llu stored, %llu raw)",
                 (unsigned long long)h->stored_size, (unsigned long long)h->raw_size);
        return VLS_E_CORRUPT;
    }
    uint64_t data = g->off + FMT_SEG_HDR_SIZE;
    const unsigned char *stored = io_view(r->s->io, data, (size_t)h->stored_size);
    unsigned char *tmp = NULL;
    int err = 0, rc;
    if (!stored) {
        if (!(tmp = malloc(h->stored_size ? (size_t)h->stored_size : 1))) {
            snprintf(why, cap, "no memory for its %llu bytes", (unsigned long long)h->stored_size);
            return VLS_E_NOMEM;
        }
        if ((rc = io_read(r->s->io, data, tmp, (size_t)h->stored_size, &err)) != VLS_OK) {
            free(tmp);
            snprintf(why, cap, "read failed: %s", err ? strerror(err) : "the file shrank");
            return rc;
        }
        stored = tmp;
    }
    rc = VLS_OK;
    out->len = 0;
    if (fmt_hash(stored, (size_t)h->stored_size) != h->payload_hash) {
        snprintf(why, cap, "payload checksum mismatch");
        rc = VLS_E_CHECKSUM;
    } else if (vbuf_reserve(out, (size_t)h->raw_size + 1) != 0) {
        snprintf(why, cap, "no memory for its %llu bytes", (unsigned long long)h->raw_size);
        rc = VLS_E_NOMEM;
    } else if (h->flags & FMT_SEG_COMPRESSED) {
        rc = chunk_decompress(VLS_CODEC_LZ4, stored, (size_t)h->stored_size, out->p,
                              (size_t)h->raw_size, 1, why, cap);
    } else {
        memcpy(out->p, stored, (size_t)h->raw_size);
    }
    if (rc == VLS_OK)
        out->len = (size_t)h->raw_size;
    free(tmp);
    return rc;
}

/* ---- 2. history ---------------------------------------------------------------------------- */
static int push_link(rlink **ch, size_t *n, size_t *cap, uint64_t off, int64_t si)
{
    if (grow((void **)ch, cap, *n, sizeof **ch) != 0)
        return -1;
    (*ch)[*n].off = off;
    (*ch)[*n].si = si;
    (*n)++;
    return 0;
}

/* Builds the chain from the head back to the newest usable full segment (or to the first
 * commit), oldest first. */
static int build_chain(rstate *r, rlink **out, size_t *nout)
{
    rlink *ch = NULL;
    size_t n = 0, cap = 0;
    vbuf pl = {0};
    int64_t cur = (int64_t)r->nsg - 1;
    while (cur >= 0) {
        const rseg *g = &r->sg[cur];
        if (push_link(&ch, &n, &cap, g->off, cur) != 0)
            goto nomem;
        if (g->h.flags & FMT_SEG_FULL) {
            char why[256];
            int rc = seg_payload(r, g, &pl, why, sizeof why);
            if (rc == VLS_OK)
                break;
            if (rc == VLS_E_NOMEM)
                goto nomem;
        }
        uint64_t prev = g->h.prev_offset;
        if (prev == 0)
            break;
        if (prev >= g->off) { /* a link forwards: only a forged header has one */
            cur = seg_below(r, g->off);
            continue;
        }
        int64_t j = seg_at(r, prev);
        if (j < 0) { /* the previous segment's header is damaged: bridge the gap */
            if (push_link(&ch, &n, &cap, prev, -1) != 0)
                goto nomem;
            j = seg_below(r, prev);
        }
        cur = j;
    }
    vbuf_free(&pl);
    for (size_t i = 0; i < n / 2; i++) {
        rlink t = ch[i];
        ch[i] = ch[n - 1 - i];
        ch[n - 1 - i] = t;
    }
    *out = ch;
    *nout = n;
    return VLS_OK;
nomem:
    vbuf_free(&pl);
    free(ch);
    return vls_seterr(NULL, VLS_E_NOMEM, "no memory for the index chain");
}

/* ---- 3. replay ----------------------------------------------------------------------------- */
static int replay(rstate *r, const rlink *ch, size_t n, uint64_t *last_used)
{
    vls_index *ix = &r->s->ix;
    vbuf pl = {0};
    uint64_t prev_end = FMT_HEADER_SIZE;
    *last_used = 0;
    for (size_t i = 0; i < n; i++) {
        const rlink *l = &ch[i];
        const rseg *g = l->si >= 0 ? &r->sg[l->si] : NULL;
        char why[256];
        int rc = VLS_E_CORRUPT, usable = 0;
        if (g) {
            rc = seg_payload(r, g, &pl, why, sizeof why);
            if (rc == VLS_E_NOMEM)
                goto nomem;
            if (rc == VLS_OK) {
                if (g->h.flags & FMT_SEG_FULL)
                    idx_reset(ix);
                uint64_t nc = ix->nc;
                rc = idx_apply_payload(ix, pl.p, pl.len, FMT_HEADER_SIZE, g->off, why,
                                       sizeof why);
                if (rc == VLS_E_NOMEM)
                    goto nomem;
                usable = rc == VLS_OK;
                if (!usable)
                    ix->nc = nc; /* keep the chunk table as it was (its logical_end too) */
                if (!usable && ix->nc)
                    ix->logical_end = ix->c[ix->nc - 1].logical + ix->c[ix->nc - 1].raw;
                else if (!usable)
                    ix->logical_end = 0;
            }
        } else {
            snprintf(why, sizeof why, "its header is damaged");
        }
        if (usable) {
            r->st->segments++;
            *last_used = l->off;
        } else {
            /* Keep the logical stream whole: the chunks this commit wrote are the frames
             * between the previous segment and this one. */
            uint64_t added = 0;
            for (size_t k = 0; k < r->nfr; k++) {
                const rframe *f = &r->fr[k];
                if (f->off < prev_end || f->off >= l->off)
                    continue;
                if (idx_add_chunk(ix, f->off, f->f.payload_size, f->f.raw_size, f->f.codec,
                                  f->f.payload_hash) != VLS_OK)
                    goto nomem;
                added++;
            }
            r->st->segments_lost++;
            if (g)
                say(r, "index segment at offset %llu (commit %llu): %s; the changes of that "
                    "commit are lost: records it put cannot be named, records it deleted or "
                    "replaced come back as they were before it (%llu chunk frame(s) found "
                    "before it keep their place in the data)", (unsigned long long)l->off,
                    (unsigned long long)g->h.seq, why, (unsigned long long)added);
            else
                say(r, "index segment at offset %llu: %s (a later segment links to it); the "
                    "changes of that commit are lost: records it put cannot be named, records "
                    "it deleted or replaced come back as they were before it (%llu chunk "
                    "frame(s) found before it keep their place in the data)",
                    (unsigned long long)l->off, why, (unsigned long long)added);
        }
        prev_end = g && g->whole ? align8(g->off + FMT_SEG_HDR_SIZE + g->h.stored_size)
                                 : l->off + 8;
    }
    vbuf_free(&pl);
    return VLS_OK;
nomem:
    vbuf_free(&pl);
    return vls_seterr(NULL, VLS_E_NOMEM, "no memory for the index");
}

/* ---- 4. salvage ---------------------------------------------------------------------------- */
static int out_fail(rstate *r, vls_store *out, int rc)
{
    char why[1024];
    (void)r;
    snprintf(why, sizeof why, "%s", vls_errmsg(out)); /* vls_seterr overwrites it */
    return vls_seterr(NULL, rc, "writing the new store failed: %s", why);
}

/* Reads logical bytes [off, off+n) into dst. Chunks that passed their check are read the
 * normal way; from a damaged chunk (bad[ci]) only the Blosc blocks that hold the range are
 * decoded, without its payload hash: the caller checks the record's hash, which is what
 * decides. A flip in one Blosc block of a chunk so costs only the records in that block. */
static int read_range(rstate *r, const unsigned char *bad, uint64_t off, uint64_t n,
                      unsigned char *dst)
{
    vls_store *s = r->s;
    vls_index *ix = &s->ix;
    while (n > 0) {
        int64_t ci = idx_chunk_at(ix, off);
        if (ci < 0)
            return vls_seterr(s, VLS_E_CORRUPT, "no chunk holds logical offset %llu",
                              (unsigned long long)off);
        const idx_chunk *c = &ix->c[ci];
        uint64_t in = off - c->logical, k = c->raw - in;
        if (k > n)
            k = n;
        int unverified = 0, rc = VLS_OK;
        if (!bad[ci]) {
            rc = store_read_logical(s, off, k, dst, &unverified);
        } else {
            char why[256];
            int err = 0;
            uint64_t at = c->file_off + FMT_FRAME_HDR_SIZE;
            const unsigned char *src = io_view(s->io, at, c->payload);
            unsigned char *tmp = NULL, *whole = NULL;
            if (!src) {
                if (!(tmp = malloc(c->payload ? c->payload : 1)))
                    return vls_seterr(s, VLS_E_NOMEM, "no memory to read chunk %llu",
                                      (unsigned long long)ci);
                rc = io_read(s->io, at, tmp, c->payload, &err);
                if (rc != VLS_OK)
                    rc = vls_seterr(s, rc, "chunk %llu at offset %llu is cut short",
                                    (unsigned long long)ci, (unsigned long long)c->file_off);
                src = tmp;
            }
            if (rc == VLS_OK)
                rc = chunk_read_range(c->codec, src, c->payload, c->raw, in, (size_t)k, dst, why,
                                      sizeof why);
            if (rc == 1) { /* not readable by blocks: decode it whole */
                if (!(whole = malloc(c->raw)))
                    rc = vls_seterr(s, VLS_E_NOMEM, "no memory to decode chunk %llu",
                                    (unsigned long long)ci);
                else if ((rc = chunk_decompress(c->codec, src, c->payload, whole, c->raw, 1, why,
                                                sizeof why)) == VLS_OK)
                    memcpy(dst, whole + in, (size_t)k);
            }
            if (rc != VLS_OK && rc != VLS_E_NOMEM && rc != VLS_E_TRUNCATED &&
                rc != VLS_E_IO)
                vls_seterr(s, rc, "chunk %llu at offset %llu (damaged): %s",
                           (unsigned long long)ci, (unsigned long long)c->file_off, why);
            free(whole);
            free(tmp);
        }
        if (rc != VLS_OK)
            return rc;
        dst += k;
        off += k;
        n -= k;
    }
    return VLS_OK;
}

/* Copies record e (checked against its hash first) into out. Returns 0, 1 when the record is
 * damaged (why says how), or a negative code when writing failed. */
static int copy_record(rstate *r, const unsigned char *bad, const idx_entry *e, vls_store *out,
                       unsigned char **buf, char *why, size_t cap)
{
    vls_store *s = r->s;
    const unsigned char *key = idx_key(&s->ix, e);
    int rc;
    if (e->len <= BIG_RECORD) {
        unsigned char *b = realloc(*buf, e->len ? (size_t)e->len : 1);
        if (!b)
            return vls_seterr(NULL, VLS_E_NOMEM, "no memory for a record of %llu bytes",
                              (unsigned long long)e->len);
        *buf = b;
        rc = read_range(r, bad, e->off, e->len, b);
        if (rc == VLS_OK)
            rc = store_check_record(s, e, b);
        if (rc != VLS_OK)
            snprintf(why, cap, "%s", vls_errmsg(s));
        if (rc == VLS_E_NOMEM)
            return vls_seterr(NULL, rc, "%s", why);
        if (rc != VLS_OK)
            return 1;
        rc = vls_put(out, key, e->key_len, b, (size_t)e->len, 0);
        return rc == VLS_OK ? VLS_OK : out_fail(r, out, rc);
    }
    /* a big record: hash it piece by piece first, then copy it the same way */
    unsigned char *b = realloc(*buf, BIG_RECORD);
    XXH3_state_t *h = XXH3_createState();
    if (!b || !h) {
        if (b)
            *buf = b;
        XXH3_freeState(h);
        return vls_seterr(NULL, VLS_E_NOMEM, "no memory to check a record");
    }
    *buf = b;
    XXH3_64bits_reset(h);
    rc = VLS_OK;
    for (uint64_t done = 0; rc == VLS_OK && done < e->len; done += BIG_RECORD) {
        size_t n = e->len - done < BIG_RECORD ? (size_t)(e->len - done) : BIG_RECORD;
        rc = read_range(r, bad, e->off + done, n, b);
        if (rc == VLS_OK)
            XXH3_64bits_update(h, b, n);
    }
    if (rc == VLS_OK && XXH3_64bits_digest(h) != e->hash)
        rc = vls_seterr(s, VLS_E_CHECKSUM, "record hash mismatch");
    XXH3_freeState(h);
    if (rc == VLS_E_NOMEM)
        return vls_seterr(NULL, rc, "no memory to check a record");
    if (rc != VLS_OK) {
        snprintf(why, cap, "%s", vls_errmsg(s));
        return 1;
    }
    rc = store_put_begin(out, key, e->key_len, e->len, 0);
    for (uint64_t done = 0; rc == VLS_OK && done < e->len; done += BIG_RECORD) {
        size_t n = e->len - done < BIG_RECORD ? (size_t)(e->len - done) : BIG_RECORD;
        int r2 = read_range(r, bad, e->off + done, n, b);
        if (r2 != VLS_OK) { /* it read a moment ago: the damaged file is changing under us */
            out->streaming = 0;
            snprintf(why, cap, "%s", vls_errmsg(s));
            return vls_seterr(NULL, r2, "the damaged file changed while it was read: %s", why);
        }
        rc = store_put_append(out, b, n);
    }
    if (rc == VLS_OK)
        rc = store_put_end(out, key, e->key_len);
    out->streaming = 0;
    return rc == VLS_OK ? VLS_OK : out_fail(r, out, rc);
}

static int salvage(rstate *r, vls_store *out)
{
    vls_store *s = r->s;
    vls_index *ix = &s->ix;
    unsigned char *bad = calloc(ix->nc ? ix->nc : 1, 1), *buf = NULL;
    if (!bad)
        return vls_seterr(NULL, VLS_E_NOMEM, "no memory");
    /* every chunk: payload hash and decoding; frame headers are only cross-checked */
    for (uint64_t ci = 0; ci < ix->nc; ci++) {
        const idx_chunk *c = &ix->c[ci];
        cache_item *item;
        unsigned char *owned;
        const unsigned char *data;
        rframe *f = frame_at(r, c->file_off);
        if (f)
            f->named = 1;
        r->st->chunks++;
        int rc = store_decode_chunk(s, ci, &item, &owned, &data);
        if (rc == VLS_E_NOMEM) {
            free(bad);
            return vls_seterr(NULL, rc, "no memory to decode chunk %llu",
                              (unsigned long long)ci);
        }
        if (rc != VLS_OK) {
            bad[ci] = 1;
            r->st->chunks_damaged++;
            say(r, "%s (its records are read block by block and kept if their hash matches)",
                vls_errmsg(s));
            continue;
        }
        store_release_chunk(s, item, owned);
        if (!f || f->f.payload_size != c->payload || f->f.raw_size != c->raw ||
            f->f.codec != c->codec || f->f.payload_hash != c->hash)
            say(r, "chunk %llu at offset %llu: frame header damaged (the index still "
                "describes the chunk, whose data verified)", (unsigned long long)ci,
                (unsigned long long)c->file_off);
    }
    int rc = VLS_OK;
    for (uint64_t i = 0; i < ix->n; i++) {
        const idx_entry *e = &ix->e[i];
        char why[700], kt[200];
        if (!e->live)
            continue;
        rc = copy_record(r, bad, e, out, &buf, why, sizeof why);
        store_progress("records", i + 1, ix->n);
        if (rc < 0)
            break;
        if (rc == 1) {
            r->st->records_lost++;
            if (r->st->records_lost <= KEYS_LISTED) {
                key_text(idx_key(ix, e), e->key_len, kt, sizeof kt);
                say(r, "record \"%s\" (%llu bytes) lost: %s", kt, (unsigned long long)e->len,
                    why);
            }
        } else {
            r->st->records++;
            r->st->bytes += e->len;
        }
        rc = VLS_OK;
    }
    if (rc == VLS_OK && r->st->records_lost > KEYS_LISTED)
        say(r, "%llu records lost in all (the first %d are named above)",
            (unsigned long long)r->st->records_lost, KEYS_LISTED);
    free(buf);
    free(bad);
    return rc;
}

/* Frames that no index names: after the newest usable segment they are a lost (or a crashed)
 * commit's data; before it, dead space. */
static void count_unnamed(rstate *r, uint64_t last_used)
{
    uint64_t first = 0;
    for (size_t k = 0; k < r->nfr; k++) {
        const rframe *f = &r->fr[k];
        if (f->named)
            continue;
        if (f->off > last_used) {
            if (r->st->unnamed_chunks++ == 0)
                first = f->off;
            r->st->unnamed_bytes += f->f.payload_size;
        } else {
            r->st->dead_chunks++;
        }
    }
    if (r->st->unnamed_chunks) {
        if (r->nsg == 0)
            say(r, "no index segment survived: %llu chunk frame(s) (%llu stored bytes, the "
                "first at offset %llu) hold records whose keys are lost; without keys they "
                "cannot be named and are not recovered", (unsigned long long)r->st->unnamed_chunks,
                (unsigned long long)r->st->unnamed_bytes, (unsigned long long)first);
        else
            say(r, "%llu chunk frame(s) (%llu stored bytes, the first at offset %llu) after the "
                "newest usable index segment are named by no index: records of a lost commit "
                "(or of one a crash interrupted); without keys they cannot be named and are "
                "not recovered", (unsigned long long)r->st->unnamed_chunks,
                (unsigned long long)r->st->unnamed_bytes, (unsigned long long)first);
    }
    if (r->st->dead_chunks)
        say(r, "%llu chunk frame(s) before the newest usable index segment are named by no "
            "index (dead space left by interrupted commits, normally): not recovered",
            (unsigned long long)r->st->dead_chunks);
}

/* ---- the whole -------------------------------------------------------------------------- */
static int read_header(rstate *r, vls_options *o)
{
    unsigned char hb[FMT_HEADER_SIZE];
    char msg[300];
    int err = 0;
    vls_options_init(o);
    if (r->size < FMT_HEADER_SIZE ||
        io_read(r->s->io, 0, hb, sizeof hb, &err) != VLS_OK) {
        say(r, "file header: the file is %llu bytes long, shorter than its header; the new "
            "store gets the default settings", (unsigned long long)r->size);
        return VLS_OK;
    }
    fmt_header *h = &r->s->hdr;
    int rc = fmt_header_decode(hb, h, msg, sizeof msg);
    if (rc == VLS_E_VERSION && get_le64(hb + 56) == fmt_hash(hb, 56))
        return vls_seterr(NULL, rc, "%s", msg); /* a newer format, not damage */
    if (rc != VLS_OK) {
        say(r, "%s; the new store gets the default settings", msg);
        return VLS_OK;
    }
    r->hdr_ok = 1;
    o->chunk_size = h->chunk_size;
    o->codec = h->codec;
    o->level = h->level;
    o->shuffle = h->shuffle;
    o->typesize = h->typesize;
    o->placement = h->placement;
    o->block_size = h->block_size <= h->chunk_size ? h->block_size : 0;
    return VLS_OK;
}

int vls_recover(const char *damaged_path, const char *out_path,
                void (*report)(void *ctx, const char *what), void *ctx,
                vls_recover_stats *st)
{
    vls_recover_stats local;
    rstate r;
    vls_options o;
    rlink *chain = NULL;
    size_t nchain = 0;
    uint64_t last_used = 0;
    int rc, err = 0;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (!damaged_path || !out_path)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_recover: NULL path");
    memset(&r, 0, sizeof r);
    r.report = report;
    r.ctx = ctx;
    r.st = st;
    if (!(r.s = store_alloc()))
        return vls_seterr(NULL, VLS_E_NOMEM, "no memory");
    /* read with pread, never mapped: a damaged file may be cut short or sit on failing media
     * while we read it, and a mapped read past its end or on a bad sector is SIGBUS */
    rc = io_open_file(damaged_path, 0, 0, 0, 0, NULL, 0, 0, &r.s->io, &err);
    if (rc != VLS_OK) {
        vls_seterr(NULL, rc, "%s: %s", damaged_path,
                   err ? strerror(err) : vls_strerror(rc));
        goto out;
    }
    r.size = io_size(r.s->io);
    if ((rc = read_header(&r, &o)) != VLS_OK || (rc = scan(&r)) != VLS_OK)
        goto out;
    if (!r.hdr_ok && r.nsg == 0 && r.nfr == 0) {
        rc = vls_seterr(NULL, VLS_E_BADMAGIC, "%s holds no vlstore header, index "
                        "segment or chunk frame", damaged_path);
        goto out;
    }
    if (r.bad_frames || r.bad_segs || r.bad_trailers)
        say(&r, "%llu chunk frame header(s), %llu index segment header(s) and %llu commit "
            "trailer(s) have their magic bytes but fail their checksum",
            (unsigned long long)r.bad_frames, (unsigned long long)r.bad_segs,
            (unsigned long long)r.bad_trailers);
    if ((rc = build_chain(&r, &chain, &nchain)) != VLS_OK ||
        (rc = replay(&r, chain, nchain, &last_used)) != VLS_OK)
        goto out;
    int named = 0;
    for (size_t k = 0; k < r.ntix && !named; k++)
        named = r.tix[k] == last_used;
    /* a crash is not damage: a segment no trailer names, with no damaged trailer in the
     * file, is a commit a crash interrupted (as vls_verify's torn-tail note) */
    if (last_used && !named)
        say(&r, "the newest usable index segment (offset %llu) is named by no valid commit "
            "trailer (%s): its records are recovered too", (unsigned long long)last_used,
            r.bad_trailers ? "a commit trailer in the file is damaged" :
                             "no damaged trailer was found: a crash interrupted that commit, "
                             "which is not damage");
    if (!(r.s->cache = cache_new(RECOVER_CACHE))) {
        rc = vls_seterr(NULL, VLS_E_NOMEM, "no memory for a chunk cache");
        goto out;
    }
    vls_store *out;
    rc = vls_open(out_path, VLS_CREATE | VLS_EXCL, &o, &out);
    if (rc != VLS_OK) /* vls_open's message names out_path and the reason */
        goto out;
    rc = salvage(&r, out);
    count_unnamed(&r, last_used);
    if (rc == VLS_OK && r.meta_off) {
        /* the metadata of the newest commit whose trailer survived, if its block is whole */
        if (meta_load(r.s, r.meta_off, r.meta_limit) == VLS_OK)
            rc = meta_copy(out, r.s) == VLS_OK ? VLS_OK : out_fail(&r, out, VLS_E_NOMEM);
        else
            say(&r, "%s: the store's metadata is not recovered", vls_errmsg(r.s));
    }
    if (rc == VLS_OK && (rc = vls_commit(out)) != VLS_OK)
        out_fail(&r, out, rc);
    if (rc != VLS_OK) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", vls_errmsg(NULL));
        store_free(out); /* close must not commit what is left */
        unlink(out_path);
        vls_seterr(NULL, rc, "%s", keep);
    } else {
        vls_close(out);
    }
    st->lost = st->records_lost + st->segments_lost + st->unnamed_chunks;
out:
    free(chain);
    free(r.fr);
    free(r.sg);
    free(r.tix);
    store_free(r.s);
    return rc;
}
