/* meta.c — per-store metadata (vls_meta_*): a small sorted key/value document that a commit
 * writes as one metadata block and its trailer names (docs/FORMAT.md, "Metadata block").
 *
 * The handle keeps the document decoded in s->meta. A set or delete changes that copy and
 * marks the handle dirty; the next commit appends the whole document as a new block before
 * its index segment, so the block is covered by the same sync and becomes visible with the
 * same trailer as the commit's records. A commit that does not change the document repeats
 * the previous trailer's meta_offset: the block is written once and named by every later
 * trailer, and an older trailer still names the document of its time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "store.h"

void meta_doc_free(meta_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].key);
        free(d->e[i].val);
    }
    free(d->e);
    memset(d, 0, sizeof *d);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t entry_bytes(size_t klen, size_t vlen)
{
    return varint_len(klen) + klen + varint_len(vlen) + vlen;
}

/* Key order: bytes compared as unsigned, a prefix before the longer key (memcmp order). */
static int key_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Index of key in d, or -(insertion point) - 1. */
static long find(const meta_doc *d, const unsigned char *key, size_t klen)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(d->e[mid].key, d->e[mid].klen, key, klen);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

/* Copies len bytes with a NUL after them, so keys are C strings and text values print. */
static unsigned char *dup_nul(const void *p, size_t len)
{
    unsigned char *q = malloc(len + 1);
    if (q) {
        if (len)
            memcpy(q, p, len);
        q[len] = 0;
    }
    return q;
}

/* Inserts (at position at) or replaces entry `at` when replace. */
static int doc_put(meta_doc *d, size_t at, int replace, const void *key, size_t klen,
                   const void *val, size_t vlen)
{
    unsigned char *v = dup_nul(val, vlen);
    if (!v)
        return VLS_E_NOMEM;
    if (replace) {
        meta_entry *e = &d->e[at];
        d->bytes = d->bytes - entry_bytes(e->klen, e->vlen) + entry_bytes(klen, vlen);
        free(e->val);
        e->val = v;
        e->vlen = vlen;
        return VLS_OK;
    }
    unsigned char *k = dup_nul(key, klen);
    if (k && d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        meta_entry *e = realloc(d->e, cap * sizeof *e);
        if (e) {
            d->e = e;
            d->cap = cap;
        }
    }
    if (!k || d->n == d->cap) {
        free(k);
        free(v);
        return VLS_E_NOMEM;
    }
    memmove(&d->e[at + 1], &d->e[at], (d->n - at) * sizeof *d->e);
    d->e[at] = (meta_entry){k, v, klen, vlen};
    d->n++;
    d->bytes += entry_bytes(klen, vlen);
    return VLS_OK;
}

/* ---- the payload: count, then (key_len key value_len value) in key order ------------------ */
int meta_doc_decode(const unsigned char *p, size_t len, meta_doc *out, char *msg, size_t cap)
{
    const unsigned char *end = p + len;
    meta_doc d = {0};
    uint64_t count;
    int rc = VLS_E_CORRUPT;
    if (varint_get(&p, end, &count) != 0 || count > len) {
        snprintf(msg, cap, "entry count malformed");
        goto fail;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t klen, vlen;
        if (varint_get(&p, end, &klen) != 0 || klen == 0 || klen > VLS_META_MAX_KEY ||
            klen > (uint64_t)(end - p)) {
            snprintf(msg, cap, "entry %llu: key length malformed", (unsigned long long)i);
            goto fail;
        }
        const unsigned char *key = p;
        p += klen;
        if (memchr(key, 0, (size_t)klen)) {
            snprintf(msg, cap, "entry %llu: key holds a NUL byte", (unsigned long long)i);
            goto fail;
        }
        if (d.n && key_cmp(d.e[d.n - 1].key, d.e[d.n - 1].klen, key, (size_t)klen) >= 0) {
            snprintf(msg, cap, "entry %llu: keys out of order or repeated",
                     (unsigned long long)i);
            goto fail;
        }
        if (varint_get(&p, end, &vlen) != 0 || vlen > (uint64_t)(end - p)) {
            snprintf(msg, cap, "entry %llu: value length malformed", (unsigned long long)i);
            goto fail;
        }
        if (doc_put(&d, d.n, 0, key, (size_t)klen, p, (size_t)vlen) != VLS_OK) {
            snprintf(msg, cap, "out of memory");
            rc = VLS_E_NOMEM;
            goto fail;
        }
        p += vlen;
    }
    if (p != end) {
        snprintf(msg, cap, "%llu bytes after the last entry", (unsigned long long)(end - p));
        goto fail;
    }
    *out = d;
    return VLS_OK;
fail:
    meta_doc_free(&d);
    return rc;
}

int meta_doc_encode(const meta_doc *d, vbuf *out)
{
    if (vbuf_reserve(out, VARINT_MAX + d->bytes) != 0)
        return VLS_E_NOMEM;
    unsigned char *p = out->p + out->len;
    p += varint_put(p, d->n);
    for (size_t i = 0; i < d->n; i++) {
        const meta_entry *e = &d->e[i];
        p += varint_put(p, e->klen);
        memcpy(p, e->key, e->klen);
        p += e->klen;
        p += varint_put(p, e->vlen);
        if (e->vlen)
            memcpy(p, e->val, e->vlen);
        p += e->vlen;
    }
    out->len = (size_t)(p - out->p);
    return VLS_OK;
}

/* ---- store hooks -------------------------------------------------------------------------- */
int meta_load(vls_store *s, uint64_t off, uint64_t limit)
{
    meta_doc d = {0};
    if (off != 0) {
        unsigned char hb[FMT_META_HDR_SIZE];
        char why[200];
        int err = 0, rc;
        if (off < FMT_HEADER_SIZE || off % 8 || off > limit || limit - off < FMT_META_HDR_SIZE)
            return vls_seterr(s, VLS_E_CORRUPT, "the commit trailer names a metadata block at "
                              "offset %llu, outside its commit", (unsigned long long)off);
        if ((rc = io_read(s->io, off, hb, sizeof hb, &err)) != VLS_OK)
            return vls_seterr(s, rc, "reading the metadata block at offset %llu: %s",
                              (unsigned long long)off, err ? strerror(err) : vls_strerror(rc));
        if (get_le32(hb) != FMT_META_MAGIC || get_le32(hb + 4) != 0)
            return vls_seterr(s, VLS_E_CORRUPT, "metadata block at offset %llu: malformed header",
                              (unsigned long long)off);
        if (get_le64(hb + 24) != fmt_hash(hb, 24))
            return vls_seterr(s, VLS_E_CHECKSUM, "metadata block at offset %llu: header checksum "
                              "mismatch", (unsigned long long)off);
        uint64_t size = get_le64(hb + 8);
        if (size > VLS_META_MAX_BYTES || size > limit - off - FMT_META_HDR_SIZE)
            return vls_seterr(s, VLS_E_CORRUPT, "metadata block at offset %llu: size %llu out "
                              "of range", (unsigned long long)off, (unsigned long long)size);
        unsigned char *p = malloc(size ? (size_t)size : 1);
        if (!p)
            return vls_seterr(s, VLS_E_NOMEM, "no memory for the metadata");
        rc = io_read(s->io, off + FMT_META_HDR_SIZE, p, (size_t)size, &err);
        if (rc != VLS_OK)
            vls_seterr(s, rc, "reading the metadata block at offset %llu: %s",
                       (unsigned long long)off, err ? strerror(err) : vls_strerror(rc));
        else if (fmt_hash(p, (size_t)size) != get_le64(hb + 16))
            rc = vls_seterr(s, VLS_E_CHECKSUM, "metadata block at offset %llu: checksum mismatch",
                            (unsigned long long)off);
        else if ((rc = meta_doc_decode(p, (size_t)size, &d, why, sizeof why)) != VLS_OK)
            vls_seterr(s, rc, "metadata block at offset %llu: %s", (unsigned long long)off, why);
        free(p);
        if (rc != VLS_OK)
            return rc;
    }
    meta_doc_free(&s->meta);
    s->meta = d;
    s->meta_offset = off;
    s->meta_dirty = 0;
    return VLS_OK;
}

int meta_append(vls_store *s, uint64_t *meta_offset)
{
    *meta_offset = s->meta_offset;
    if (!s->meta_dirty)
        return VLS_OK;
    if (s->meta.n == 0) {
        *meta_offset = 0;
        return VLS_OK;
    }
    vbuf b = {0};
    if (vbuf_reserve(&b, FMT_META_HDR_SIZE) != 0)
        return vls_seterr(s, VLS_E_NOMEM, "no memory to encode the metadata");
    b.len = FMT_META_HDR_SIZE;
    if (meta_doc_encode(&s->meta, &b) != VLS_OK || vbuf_reserve(&b, 8) != 0) {
        vbuf_free(&b);
        return vls_seterr(s, VLS_E_NOMEM, "no memory to encode the metadata");
    }
    uint64_t size = b.len - FMT_META_HDR_SIZE;
    memset(b.p, 0, FMT_META_HDR_SIZE);
    put_le32(b.p, FMT_META_MAGIC);
    put_le64(b.p + 8, size);
    put_le64(b.p + 16, fmt_hash(b.p + FMT_META_HDR_SIZE, (size_t)size));
    put_le64(b.p + 24, fmt_hash(b.p, 24));
    size_t padded = (size_t)align8(b.len);
    memset(b.p + b.len, 0, padded - b.len);
    int err = 0;
    uint64_t at = io_size(s->io);
    int rc = io_append(s->io, b.p, padded, &err);
    vbuf_free(&b);
    if (rc != VLS_OK) /* like any failed write: cut back to the last commit, refuse more */
        return store_fail(s, vls_seterr(s, rc, "writing the metadata block at offset %llu: %s",
                                        (unsigned long long)at, strerror(err)));
    *meta_offset = at;
    return VLS_OK;
}

int meta_copy(vls_store *dst, const vls_store *src)
{
    for (size_t i = 0; i < src->meta.n; i++) {
        const meta_entry *e = &src->meta.e[i];
        if (doc_put(&dst->meta, dst->meta.n, 0, e->key, e->klen, e->val, e->vlen) != VLS_OK)
            return vls_seterr(dst, VLS_E_NOMEM, "no memory to copy the metadata");
    }
    if (src->meta.n) {
        dst->meta_dirty = 1;
        dst->dirty = 1;
    }
    return VLS_OK;
}

/* ---- public API ------------------------------------------------------------------------- */
static int check_key(vls_store *s, const char *key, size_t *klen, const char *fn)
{
    if (!s || !key)
        return vls_seterr(s, VLS_E_INVAL, "%s: NULL argument", fn);
    *klen = strlen(key);
    if (*klen == 0 || *klen > VLS_META_MAX_KEY)
        return vls_seterr(s, VLS_E_INVAL, "%s: metadata key of %zu bytes (1 to %u allowed)", fn,
                          *klen, VLS_META_MAX_KEY);
    return VLS_OK;
}

int vls_meta_get(vls_store *s, const char *key, void *buf, size_t cap, uint64_t *len)
{
    size_t klen;
    int rc = check_key(s, key, &klen, "vls_meta_get");
    if (rc != VLS_OK)
        return rc;
    if (!len || (cap && !buf))
        return vls_seterr(s, VLS_E_INVAL, "vls_meta_get: NULL argument");
    pthread_rwlock_rdlock(&s->lock);
    long i = find(&s->meta, (const unsigned char *)key, klen);
    if (i < 0) {
        rc = vls_seterr(s, VLS_E_NOTFOUND, "no metadata under '%.200s'", key);
    } else {
        const meta_entry *e = &s->meta.e[i];
        *len = e->vlen;
        if (e->vlen > cap)
            rc = vls_seterr(s, VLS_E_TOOSMALL, "metadata '%.200s' is %zu bytes, the buffer %zu",
                            key, e->vlen, cap);
        else if (e->vlen)
            memcpy(buf, e->val, e->vlen);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* A set (val != NULL) or a delete, under the write lock. */
static int meta_change(vls_store *s, const char *key, const void *val, size_t vlen,
                       const char *fn)
{
    size_t klen;
    int rc = check_key(s, key, &klen, fn);
    if (rc != VLS_OK)
        return rc;
    if (!s->writable)
        return vls_seterr(s, VLS_E_READONLY, "%s: the store is open read-only", fn);
    if (s->failed)
        return vls_seterr(s, VLS_E_FAILED, "%s: an earlier write failed", fn);
    pthread_rwlock_wrlock(&s->lock);
    long i = find(&s->meta, (const unsigned char *)key, klen);
    if (!val) {
        if (i < 0) {
            rc = vls_seterr(s, VLS_E_NOTFOUND, "no metadata under '%.200s'", key);
        } else {
            meta_entry *e = &s->meta.e[i];
            s->meta.bytes -= entry_bytes(e->klen, e->vlen);
            free(e->key);
            free(e->val);
            memmove(e, e + 1, (s->meta.n - (size_t)i - 1) * sizeof *e);
            s->meta.n--;
        }
    } else {
        size_t old = i >= 0 ? entry_bytes(klen, s->meta.e[i].vlen) : 0;
        if (vlen > VLS_META_MAX_BYTES ||
            s->meta.bytes - old + entry_bytes(klen, vlen) + VARINT_MAX > VLS_META_MAX_BYTES)
            rc = vls_seterr(s, VLS_E_TOOBIG, "%s: the metadata would exceed %u bytes", fn,
                            VLS_META_MAX_BYTES);
        else if (doc_put(&s->meta, i >= 0 ? (size_t)i : (size_t)(-i - 1), i >= 0, key, klen,
                         val, vlen) != VLS_OK)
            rc = vls_seterr(s, VLS_E_NOMEM, "%s: out of memory", fn);
    }
    if (rc == VLS_OK)
        s->meta_dirty = s->dirty = 1;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int vls_meta_set(vls_store *s, const char *key, const void *val, size_t len)
{
    static const char empty = 0;
    if (!val && len)
        return vls_seterr(s, VLS_E_INVAL, "vls_meta_set: value is NULL");
    return meta_change(s, key, val ? val : &empty, len, "vls_meta_set");
}

int vls_meta_delete(vls_store *s, const char *key)
{
    return meta_change(s, key, NULL, 0, "vls_meta_delete");
}

uint64_t vls_meta_count(vls_store *s)
{
    if (!s)
        return 0;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n = s->meta.n;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

int vls_meta_next(vls_store *s, uint64_t *pos, const char **key, const void **val,
                  uint64_t *len)
{
    if (!s || !pos || !key || !val || !len)
        return vls_seterr(s, VLS_E_INVAL, "vls_meta_next: NULL argument");
    pthread_rwlock_rdlock(&s->lock);
    int more = *pos < s->meta.n;
    if (more) {
        const meta_entry *e = &s->meta.e[*pos];
        *key = (const char *)e->key;
        *val = e->val;
        *len = e->vlen;
        (*pos)++;
    }
    pthread_rwlock_unlock(&s->lock);
    return more;
}
