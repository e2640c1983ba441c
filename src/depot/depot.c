/*
 * depot.c — the typed layer: a store plus a codec (include/vlstore_depot.h, docs/DEPOT.md).
 *
 * A depot owns three reusable, aligned buffers: the pack buffer (put), the read buffer (view,
 * get_many, next) and the span array of a batch. Unpacking never copies: objects are views
 * into whichever buffer the record was read into, so the ownership of an object is the
 * ownership of that buffer, fixed by the function called.
 *
 * Depends on: the public API (vlstore.h) and error.h for the store's message.
 */
#include "vlstore_depot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

struct vls_depot {
    vls_store *s;
    vls_depot_codec c;
    size_t align;        /* the codec's, at least 1 */
    size_t buf_align;    /* what our buffers get: max(align, 16) */
    unsigned char *pbuf; /* pack buffer */
    size_t pcap;
    unsigned char *rbuf; /* read buffer */
    size_t rcap;
    vls_span *spans; /* batch spans */
    size_t nspans;
};

#define MIN_BUF 4096u
#define TRIES 4 /* reads retried when a writer changed a record's size in between */

/* Where an empty record is "read" from, so unpack always gets an aligned non-NULL pointer. */
static _Alignas(64) const unsigned char empty_rec[64];

/* Replaces *buf with a fresh aligned buffer of at least `need` bytes (contents not kept). */
static int grow(unsigned char **buf, size_t *cap, size_t need, size_t align)
{
    if (need <= *cap && *buf)
        return VLS_OK;
    size_t want = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (want < need)
        want = need;
    if (want < MIN_BUF)
        want = MIN_BUF;
    void *p = NULL;
    if (posix_memalign(&p, align, want) != 0) {
        /* the doubling may have been too greedy: try the exact size */
        if (want == need || posix_memalign(&p, align, need) != 0)
            return VLS_E_NOMEM;
        want = need;
    }
    free(*buf);
    *buf = p;
    *cap = want;
    return VLS_OK;
}

/* Writes key[0..klen) into out as printable text for a message: at most 64 bytes, others as
 * \xNN. */
static const char *show_key(char *out, size_t cap, const void *key, size_t klen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *k = key;
    size_t o = 0, i;
    if (!key)
        klen = 0;
    for (i = 0; i < klen && i < 64 && o + 5 < cap; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\') {
            out[o++] = (char)k[i];
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[k[i] >> 4];
            out[o++] = hex[k[i] & 15];
        }
    }
    if (i < klen && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int depot_err(vls_depot *d, int rc, const char *op, const void *key, size_t klen,
                     const char *what)
{
    char k[300];
    if (key)
        return vls_seterr(d->s, rc, "depot '%s' %s '%s': %s", d->c.name, op,
                          show_key(k, sizeof k, key, klen), what);
    return vls_seterr(d->s, rc, "depot '%s' %s: %s", d->c.name, op, what);
}

/*-*************************************
 *  Open, close
 ***************************************/
int vls_depot_open(vls_store *store, const vls_depot_codec *codec, vls_depot **out)
{
    if (out)
        *out = NULL;
    if (!store || !codec || !out)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_depot_open: NULL argument");
    size_t align = codec->align ? codec->align : 1;
    if (!codec->pack || !codec->unpack || codec->obj_size == 0)
        return vls_seterr(NULL, VLS_E_INVAL,
                          "vls_depot_open: codec '%s' needs pack, unpack and obj_size",
                          codec->name ? codec->name : "?");
    if ((align & (align - 1)) != 0 || align > VLS_DEPOT_MAX_ALIGN)
        return vls_seterr(NULL, VLS_E_INVAL,
                          "vls_depot_open: codec '%s' asks for alignment %zu (a power of two "
                          "up to %u expected)",
                          codec->name ? codec->name : "?", codec->align, VLS_DEPOT_MAX_ALIGN);
    for (size_t i = 0; i < sizeof codec->reserved / sizeof codec->reserved[0]; i++)
        if (codec->reserved[i])
            return vls_seterr(NULL, VLS_E_INVAL, "vls_depot_open: codec '%s' has reserved[%zu] "
                              "set (must be NULL)", codec->name ? codec->name : "?", i);
    vls_depot *d = calloc(1, sizeof *d);
    if (!d)
        return vls_seterr(NULL, VLS_E_NOMEM, "vls_depot_open: no memory");
    d->s = store;
    d->c = *codec;
    if (!d->c.name)
        d->c.name = "?";
    d->align = align;
    d->buf_align = align < 16 ? 16 : align;
    *out = d;
    return VLS_OK;
}

void vls_depot_close(vls_depot *d)
{
    if (!d)
        return;
    free(d->pbuf);
    free(d->rbuf);
    free(d->spans);
    free(d);
}

vls_store *vls_depot_store(const vls_depot *d)
{
    return d ? d->s : NULL;
}

const char *vls_depot_errmsg(const vls_depot *d)
{
    return vls_errmsg(d ? d->s : NULL);
}

/*-*************************************
 *  Writing
 ***************************************/
int vls_depot_put(vls_depot *d, const void *key, size_t klen, const void *obj, unsigned flags)
{
    if (!d)
        return VLS_E_INVAL;
    if (!obj)
        return depot_err(d, VLS_E_INVAL, "put", key, klen, "object is NULL");
    void *ctx = d->c.ctx;
    size_t need = MIN_BUF, len = 0;
    int rc;
    if (d->c.size) {
        rc = d->c.size(ctx, obj, &need);
        if (rc != VLS_OK) {
            char what[160];
            snprintf(what, sizeof what, "the codec cannot size the object (%s)",
                     vls_strerror(rc < 0 ? rc : VLS_E_INVAL));
            return depot_err(d, rc < 0 ? rc : VLS_E_INVAL, "put", key, klen, what);
        }
    }
    if (grow(&d->pbuf, &d->pcap, need ? need : 1, d->buf_align) != VLS_OK)
        return depot_err(d, VLS_E_NOMEM, "put", key, klen, "no memory for the pack buffer");
    rc = d->c.pack(ctx, obj, d->pbuf, d->pcap, &len);
    if (rc == VLS_E_TOOSMALL && len > d->pcap) {
        if (grow(&d->pbuf, &d->pcap, len, d->buf_align) != VLS_OK)
            return depot_err(d, VLS_E_NOMEM, "put", key, klen, "no memory for the pack buffer");
        rc = d->c.pack(ctx, obj, d->pbuf, d->pcap, &len);
    }
    if (rc != VLS_OK) {
        char what[160];
        snprintf(what, sizeof what, "the codec cannot pack the object (%s)",
                 vls_strerror(rc < 0 ? rc : VLS_E_INVAL));
        return depot_err(d, rc < 0 ? rc : VLS_E_INVAL, "put", key, klen, what);
    }
    if (len > d->pcap)
        return depot_err(d, VLS_E_INVAL, "put", key, klen,
                         "the codec reported more bytes than the buffer holds");
    return vls_put(d->s, key, klen, d->pbuf, len, flags);
}

int vls_depot_put_str(vls_depot *d, const char *key, const void *obj, unsigned flags)
{
    return vls_depot_put(d, key, key ? strlen(key) : 0, obj, flags);
}

/*-*************************************
 *  Unpacking
 ***************************************/
/* Unpacks with the codec, zeroing *obj and setting the store's message on failure. */
static int unpack(vls_depot *d, const char *op, const void *key, size_t klen, const void *rec,
                  size_t len, void *obj)
{
    if (!rec) {
        if (len)
            return depot_err(d, VLS_E_INVAL, op, key, klen, "record is NULL");
        rec = empty_rec;
    }
    if ((uintptr_t)rec & (d->align - 1)) {
        char what[160];
        snprintf(what, sizeof what, "record buffer is not aligned to %zu bytes", d->align);
        memset(obj, 0, d->c.obj_size);
        return depot_err(d, VLS_E_INVAL, op, key, klen, what);
    }
    char msg[200] = "";
    int rc = d->c.unpack(d->c.ctx, rec, len, obj, msg, sizeof msg);
    if (rc == VLS_OK)
        return VLS_OK;
    if (rc > 0)
        rc = VLS_E_CORRUPT;
    memset(obj, 0, d->c.obj_size);
    msg[sizeof msg - 1] = '\0';
    char what[300];
    snprintf(what, sizeof what, "record of %zu bytes is not a valid %s: %s", len, d->c.name,
             msg[0] ? msg : vls_strerror(rc));
    return depot_err(d, rc, op, key, klen, what);
}

int vls_depot_unpack(vls_depot *d, const void *rec, size_t len, void *obj)
{
    if (!d || !obj)
        return d ? depot_err(d, VLS_E_INVAL, "unpack", NULL, 0, "NULL argument") : VLS_E_INVAL;
    return unpack(d, "unpack", NULL, 0, rec, len, obj);
}

/*-*************************************
 *  Reading one record
 ***************************************/
static int check_read_args(vls_depot *d, const char *op, const void *key, size_t klen,
                           void *obj)
{
    if (!d)
        return VLS_E_INVAL;
    if (!obj)
        return depot_err(d, VLS_E_INVAL, op, key, klen, "object is NULL");
    return VLS_OK;
}

int vls_depot_view(vls_depot *d, const void *key, size_t klen, void *obj)
{
    int rc = check_read_args(d, "view", key, klen, obj);
    if (rc != VLS_OK)
        return rc;
    if (grow(&d->rbuf, &d->rcap, 1, d->buf_align) != VLS_OK)
        return depot_err(d, VLS_E_NOMEM, "view", key, klen, "no memory for the read buffer");
    size_t len = 0;
    for (int t = 0;; t++) {
        rc = vls_get(d->s, key, klen, d->rbuf, d->rcap, &len);
        if (rc != VLS_E_TOOSMALL || t == TRIES)
            break;
        if (grow(&d->rbuf, &d->rcap, len, d->buf_align) != VLS_OK)
            return depot_err(d, VLS_E_NOMEM, "view", key, klen, "no memory for the read buffer");
    }
    if (rc != VLS_OK) {
        memset(obj, 0, d->c.obj_size);
        return rc;
    }
    return unpack(d, "view", key, klen, d->rbuf, len, obj);
}

int vls_depot_view_str(vls_depot *d, const char *key, void *obj)
{
    return vls_depot_view(d, key, key ? strlen(key) : 0, obj);
}

int vls_depot_get(vls_depot *d, const void *key, size_t klen, void *buf, size_t cap,
                  uint64_t *len, void *obj)
{
    int rc = check_read_args(d, "get", key, klen, obj);
    if (rc != VLS_OK)
        return rc;
    if (!len || (!buf && cap))
        return depot_err(d, VLS_E_INVAL, "get", key, klen, "NULL argument");
    memset(obj, 0, d->c.obj_size);
    if (buf && ((uintptr_t)buf & (d->align - 1))) {
        char what[120];
        snprintf(what, sizeof what, "buffer is not aligned to %zu bytes", d->align);
        return depot_err(d, VLS_E_INVAL, "get", key, klen, what);
    }
    rc = vls_get(d->s, key, klen, buf, cap, len);
    if (rc != VLS_OK)
        return rc;
    return unpack(d, "get", key, klen, buf, (size_t)*len, obj); /* *len <= cap */
}

int vls_depot_get_alloc(vls_depot *d, const void *key, size_t klen, void **rec,
                        uint64_t *len, void *obj)
{
    if (rec)
        *rec = NULL;
    int rc = check_read_args(d, "get_alloc", key, klen, obj);
    if (rc != VLS_OK)
        return rc;
    if (!rec)
        return depot_err(d, VLS_E_INVAL, "get_alloc", key, klen, "rec is NULL");
    memset(obj, 0, d->c.obj_size);
    uint64_t size;
    if ((rc = vls_size(d->s, key, klen, &size)) != VLS_OK)
        return rc;
    for (int t = 0;; t++) {
        if (size > SIZE_MAX - d->buf_align)
            return depot_err(d, VLS_E_TOOBIG, "get_alloc", key, klen,
                             "record too big for this machine");
        void *p = NULL;
        if (posix_memalign(&p, d->buf_align, size ? (size_t)size : 1) != 0)
            return depot_err(d, VLS_E_NOMEM, "get_alloc", key, klen,
                             "no memory for the record");
        uint64_t got = 0;
        rc = vls_get(d->s, key, klen, p, (size_t)size, &got);
        if (rc == VLS_OK)
            rc = unpack(d, "get_alloc", key, klen, p, (size_t)got, obj);
        if (rc == VLS_OK) {
            *rec = p;
            if (len)
                *len = got;
            return VLS_OK;
        }
        free(p);
        if (rc != VLS_E_TOOSMALL || t == TRIES)
            return rc;
        size = got; /* a writer replaced the record meanwhile */
    }
}

/*-*************************************
 *  Batched reads
 ***************************************/
int vls_depot_get_many(vls_depot *d, size_t n, const vls_key *keys, void *objs, int *status)
{
    if (!d)
        return VLS_E_INVAL;
    if (n && (!keys || !objs))
        return depot_err(d, VLS_E_INVAL, "get_many", NULL, 0, "NULL argument");
    if (n == 0)
        return VLS_OK;
    unsigned char *o = objs;
    const size_t osz = d->c.obj_size, pad = d->align - 1;
    if (n > SIZE_MAX / osz || n > SIZE_MAX / sizeof(vls_span) || (pad && n > SIZE_MAX / 2 / pad))
        return depot_err(d, VLS_E_TOOBIG, "get_many", NULL, 0, "batch too large");
    memset(objs, 0, n * osz);
    if (n > d->nspans) {
        vls_span *sp = malloc(n * sizeof *sp);
        if (!sp)
            return depot_err(d, VLS_E_NOMEM, "get_many", NULL, 0, "no memory for the spans");
        free(d->spans);
        d->spans = sp;
        d->nspans = n;
    }
    vls_span *sp = d->spans;
    uint64_t total = 0;
    int rc = vls_get_many_size(d->s, n, keys, &total);
    for (int t = 0; rc == VLS_OK || rc == VLS_E_TOOSMALL; t++) {
        /* room for every record plus the padding that aligns each one */
        if (total > SIZE_MAX / 2 - n * pad)
            return depot_err(d, VLS_E_TOOBIG, "get_many", NULL, 0, "batch too large");
        if (grow(&d->rbuf, &d->rcap, (size_t)total + n * pad, d->buf_align) != VLS_OK)
            return depot_err(d, VLS_E_NOMEM, "get_many", NULL, 0,
                             "no memory for the batch buffer");
        uint64_t needed = 0;
        rc = vls_get_many(d->s, n, keys, d->rbuf, d->rcap - n * pad, sp, &needed);
        if (rc != VLS_E_TOOSMALL || t == TRIES)
            break;
        total = needed; /* a writer changed the batch meanwhile */
    }
    if (rc != VLS_OK && rc != VLS_E_NOTFOUND) /* NOTFOUND: the others were served */
        return rc;

    /* Align: record i moves to off'[i] = align_up(off'[i-1] + len[i-1]) >= its offset now.
     * Moving from the last record to the first never overwrites a record not yet moved. */
    if (pad) {
        uint64_t *dst = NULL;
        uint64_t at = 0;
        int moves = 0;
        for (size_t i = 0; i < n; i++) {
            at = (at + pad) & ~(uint64_t)pad;
            if (at != sp[i].offset)
                moves = 1;
            at += sp[i].length;
        }
        if (moves) {
            dst = malloc(n * sizeof *dst);
            if (!dst)
                return depot_err(d, VLS_E_NOMEM, "get_many", NULL, 0, "no memory");
            at = 0;
            for (size_t i = 0; i < n; i++) {
                at = (at + pad) & ~(uint64_t)pad;
                dst[i] = at;
                at += sp[i].length;
            }
            for (size_t i = n; i-- > 0;) {
                if (sp[i].length && dst[i] != sp[i].offset)
                    memmove(d->rbuf + dst[i], d->rbuf + sp[i].offset, (size_t)sp[i].length);
                sp[i].offset = dst[i];
            }
            free(dst);
        }
    }

    /* Unpack every record; the message reported is that of the first failure. */
    int first = VLS_OK;
    char first_msg[512] = "";
    for (size_t i = 0; i < n; i++) {
        int r = sp[i].status;
        if (r == VLS_OK) {
            r = unpack(d, "get_many", keys[i].data, keys[i].len, d->rbuf + sp[i].offset,
                       (size_t)sp[i].length, o + i * osz);
        } else {
            char what[100];
            snprintf(what, sizeof what, "record %zu of the batch: %s", i,
                     r == VLS_E_NOTFOUND ? "no record under this key" : vls_strerror(r));
            depot_err(d, r, "get_many", keys[i].data, keys[i].len, what);
        }
        if (status)
            status[i] = r;
        if (r != VLS_OK && first == VLS_OK) {
            first = r;
            snprintf(first_msg, sizeof first_msg, "%s", vls_errmsg(d->s));
        }
    }
    if (first != VLS_OK)
        vls_seterr(d->s, first, "%s", first_msg);
    return first;
}

/*-*************************************
 *  Iteration
 ***************************************/
int vls_depot_next(vls_depot *d, uint64_t *pos, const void **key, size_t *klen, void *obj)
{
    int rc = check_read_args(d, "next", NULL, 0, obj);
    if (rc != VLS_OK)
        return rc;
    const void *k;
    size_t kl;
    uint64_t len;
    int found = vls_iter_next(d->s, pos, &k, &kl, &len);
    if (found <= 0)
        return found;
    if (key)
        *key = k;
    if (klen)
        *klen = kl;
    rc = vls_depot_view(d, k, kl, obj);
    return rc == VLS_OK ? 1 : rc;
}
