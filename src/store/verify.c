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

int vls_verify(vls_store *s, void (*report)(void *ctx, const char *problem), void *ctx,
               uint64_t *problems)
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
    /* 2. records: read each and compare its hash */
    for (uint64_t i = 0; bad && i < s->ix.n; i++) {
        const idx_entry *e = &s->ix.e[i];
        if (!e->live)
            continue;
        void *buf = malloc(e->len ? (size_t)e->len : 1);
        if (!buf) {
            problem(&v, VLS_E_NOMEM, "no memory to read a record");
            break;
        }
        int unverified = 0;
        int rc = store_read_logical(s, e->off, e->len, buf, &unverified);
        if (rc == VLS_OK)
            rc = store_check_record(s, e, buf);
        if (rc != VLS_OK)
            problem(&v, rc, vls_errmsg(s));
        free(buf);
    }
    if (!bad)
        problem(&v, VLS_E_NOMEM, "no memory to verify");
    free(bad);
    /* 3. bytes after the last commit (a torn tail, or a damaged newest trailer) */
    uint64_t size = io_size(s->io);
    if (!s->writable && size > s->committed_size) {
        snprintf(msg, sizeof msg, "%llu bytes after the last valid commit at offset %llu (a torn "
                 "write from a crash, or a damaged newest commit)",
                 (unsigned long long)(size - s->committed_size),
                 (unsigned long long)s->committed_size);
        problem(&v, VLS_E_CORRUPT, msg);
    }
    pthread_rwlock_unlock(&s->lock);
    if (problems)
        *problems = v.problems;
    if (v.first != VLS_OK)
        vls_seterr(s, v.first, "%llu problem(s) found", (unsigned long long)v.problems);
    return v.first;
}
