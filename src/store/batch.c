/* batch.c — batched reads (vls_get_many): the requested records are cut into per-chunk
 * pieces, pieces are grouped by chunk, and each chunk is decoded once — on the store's
 * thread pool when the batch touches several chunks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

typedef struct {
    uint64_t chunk; /* UINT64_MAX: the writer's open chunk */
    uint64_t in;    /* offset inside the chunk */
    uint64_t len;
    unsigned char *dst;
    size_t rec;     /* request index */
} piece;

typedef struct {
    vls_store *s;
    piece *pieces;
    size_t *group_start; /* groups: pieces [group_start[g], group_start[g+1]) share a chunk */
    vls_span *spans;
    /* The message of the failure of the lowest-numbered record: vls_seterr() on a pool thread
     * lands in that thread's message, which the caller never sees (vls_get_many with threads=4
     * returned VLS_E_CHECKSUM with an empty vls_errmsg: test_trust's
     * test_regress_errmsg_from_worker). */
    pthread_mutex_t err_mu;
    size_t err_rec;      /* SIZE_MAX: none yet */
    char err_msg[1024];
} batch_job;

/* Record rec failed with rc on this thread: its status, and the message if it is the first. */
static void piece_failed(batch_job *j, size_t rec, int rc)
{
    j->spans[rec].status = rc;
    pthread_mutex_lock(&j->err_mu);
    if (rec < j->err_rec) {
        j->err_rec = rec;
        snprintf(j->err_msg, sizeof j->err_msg, "%s", vls_errmsg(j->s));
    }
    pthread_mutex_unlock(&j->err_mu);
}

static int cmp_piece(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    if (x->chunk != y->chunk)
        return x->chunk < y->chunk ? -1 : 1;
    return x->in < y->in ? -1 : x->in > y->in;
}

/* Serves every piece of one chunk: whole-chunk decode when the pieces cover much of it,
 * else each piece from its own Blosc blocks. Errors land in the pieces' spans. */
static void serve_group(void *arg, size_t g)
{
    batch_job *j = arg;
    vls_store *s = j->s;
    piece *p = j->pieces + j->group_start[g], *end = j->pieces + j->group_start[g + 1];
    if (p->chunk == UINT64_MAX) {
        for (; p < end; p++) {
            int rc = store_copy_unwritten(s, p->in, p->len, p->dst);
            if (rc != VLS_OK)
                piece_failed(j, p->rec, rc);
        }
        return;
    }
    const idx_chunk *c = &s->ix.c[p->chunk];
    uint64_t want = 0;
    for (piece *q = p; q < end; q++)
        want += q->len;
    if (want <= c->raw / 8) {
        for (; p < end; p++) {
            int unverified = 0;
            int rc = store_read_logical(s, c->logical + p->in, p->len, p->dst, &unverified);
            if (rc != VLS_OK)
                piece_failed(j, p->rec, rc);
        }
        return;
    }
    cache_item *item;
    unsigned char *owned;
    const unsigned char *data;
    int rc = store_decode_chunk(s, p->chunk, &item, &owned, &data);
    for (; p < end; p++) {
        if (rc != VLS_OK)
            piece_failed(j, p->rec, rc);
        else
            memcpy(p->dst, data + p->in, (size_t)p->len);
    }
    if (rc == VLS_OK)
        store_release_chunk(s, item, owned);
}

/* The common core: record i goes to dsts[i] (already sized). Caller holds the read lock and
 * has filled spans[i].status (0 or VLS_E_NOTFOUND) and entries. */
static int run_batch(vls_store *s, size_t n, const idx_entry *const *entries,
                     unsigned char *const *dsts, vls_span *spans)
{
    size_t npieces = 0, cap = n + 16;
    if (n > SIZE_MAX / sizeof(piece) - 16) /* cap * sizeof cannot overflow from here on */
        return vls_seterr(s, VLS_E_TOOBIG, "a batch of %zu records is beyond this machine", n);
    piece *pieces = malloc(cap * sizeof *pieces);
    if (!pieces)
        return vls_seterr(s, VLS_E_NOMEM, "no memory for a batch of %zu records", n);
    for (size_t i = 0; i < n; i++) {
        const idx_entry *e = entries[i];
        if (!e || e->len == 0)
            continue;
        uint64_t off = e->off, len = e->len;
        unsigned char *d = dsts[i];
        while (len > 0) {
            if (npieces == cap) {
                piece *np = cap <= SIZE_MAX / 2 / sizeof *np ? realloc(pieces, 2 * cap *
                                                                       sizeof *np) : NULL;
                if (!np) {
                    free(pieces);
                    return vls_seterr(s, VLS_E_NOMEM, "no memory for a batch of %zu records", n);
                }
                cap *= 2;
                pieces = np;
            }
            piece *p = &pieces[npieces++];
            p->rec = i;
            p->dst = d;
            if (off >= s->ix.logical_end) {
                p->chunk = UINT64_MAX;
                p->in = off - s->ix.logical_end;
                p->len = len;
            } else {
                int64_t ci = idx_chunk_at(&s->ix, off);
                if (ci < 0) { /* cannot happen for a loaded index; never read blindly */
                    spans[i].status = VLS_E_CORRUPT;
                    npieces--;
                    break;
                }
                const idx_chunk *c = &s->ix.c[ci];
                p->chunk = (uint64_t)ci;
                p->in = off - c->logical;
                p->len = c->raw - p->in < len ? c->raw - p->in : len;
            }
            d += p->len;
            off += p->len;
            len -= p->len;
        }
    }
    qsort(pieces, npieces, sizeof *pieces, cmp_piece);
    size_t ngroups = 0;
    size_t *starts = malloc((npieces + 1) * sizeof *starts);
    if (!starts) {
        free(pieces);
        return vls_seterr(s, VLS_E_NOMEM, "no memory for a batch of %zu records", n);
    }
    for (size_t i = 0; i < npieces; i++)
        if (i == 0 || pieces[i].chunk != pieces[i - 1].chunk)
            starts[ngroups++] = i;
    starts[ngroups] = npieces;
    batch_job job = {.s = s, .pieces = pieces, .group_start = starts, .spans = spans,
                     .err_rec = SIZE_MAX};
    pthread_mutex_init(&job.err_mu, NULL);
    pool_run(s->pool, ngroups, serve_group, &job);

    /* every record against the hash its index entry keeps, whatever path read it: a chunk
     * checksum proves the chunk is what the writer wrote, not that the index places the
     * record right (a record moved by one byte under valid checksums read back wrong) */
    int rc = VLS_OK;
    for (size_t i = 0; i < n; i++) {
        if (spans[i].status == VLS_OK && entries[i] &&
            store_check_record(s, entries[i], dsts[i]) != VLS_OK)
            piece_failed(&job, i, VLS_E_CHECKSUM);
        if (spans[i].status != VLS_OK && rc == VLS_OK) {
            rc = spans[i].status;
            if (job.err_rec == i)
                vls_seterr(s, rc, "record %zu of the batch: %s", i, job.err_msg);
        }
    }
    pthread_mutex_destroy(&job.err_mu);
    free(starts);
    free(pieces);
    return rc;
}

/* After a failure of the whole call (out of memory, buffer too small), no span may still say
 * 0 for a record that was not read (test_oom found 251 that did). */
static void fail_spans(size_t n, vls_span *spans, int rc)
{
    for (size_t i = 0; i < n; i++)
        if (spans[i].status == VLS_OK) {
            spans[i].status = rc;
            if (rc != VLS_E_TOOSMALL)
                spans[i].length = 0;
        }
}

/* Resolves keys; fills entries and spans (status, length). Returns total bytes. */
static uint64_t resolve(vls_store *s, size_t n, const vls_key *keys, const idx_entry **entries,
                        vls_span *spans)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t k = keys[i].data && keys[i].len ? idx_find(&s->ix, keys[i].data, keys[i].len)
                                                : -1;
        entries[i] = k >= 0 ? &s->ix.e[k] : NULL;
        if (spans) {
            spans[i].offset = total;
            spans[i].length = entries[i] ? entries[i]->len : 0;
            spans[i].status = entries[i] ? VLS_OK : VLS_E_NOTFOUND;
        }
        if (entries[i])
            total += entries[i]->len;
    }
    return total;
}

int vls_get_many_size(vls_store *s, size_t n, const vls_key *keys, uint64_t *total)
{
    if (!s || (!keys && n) || !total)
        return vls_seterr(s, VLS_E_INVAL, "vls_get_many_size: NULL argument");
    *total = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        int64_t k = keys[i].data && keys[i].len ? idx_find(&s->ix, keys[i].data, keys[i].len)
                                                : -1;
        if (k >= 0)
            *total += s->ix.e[k].len;
    }
    pthread_rwlock_unlock(&s->lock);
    return VLS_OK;
}

/* The per-record arrays of a batch, after the checks every batch makes: the handle's pool
 * belongs to the process that opened it, and n * sizeof must not wrap (a huge n then
 * allocated a few bytes and was written far past them). On failure every span says why. */
static int batch_start(vls_store *s, size_t n, vls_span *spans, const idx_entry ***entries,
                       unsigned char ***dsts)
{
    int rc = store_check_fork(s, "batched read");
    if (rc == VLS_OK && n > SIZE_MAX / sizeof **dsts)
        rc = vls_seterr(s, VLS_E_TOOBIG, "a batch of %zu records is beyond this machine", n);
    if (rc == VLS_OK) {
        *entries = malloc((n ? n : 1) * sizeof **entries);
        *dsts = calloc(n ? n : 1, sizeof **dsts);
        if (!*entries || !*dsts) {
            free(*entries);
            free(*dsts);
            rc = vls_seterr(s, VLS_E_NOMEM, "no memory for a batch of %zu records", n);
        }
    }
    if (rc != VLS_OK && n <= SIZE_MAX / sizeof **dsts)
        for (size_t i = 0; i < n; i++)
            spans[i] = (vls_span){0, 0, rc};
    return rc;
}

int vls_get_many(vls_store *s, size_t n, const vls_key *keys, void *dst, size_t cap,
                 vls_span *spans, uint64_t *needed)
{
    if (!s || (!keys && n) || !spans || (!dst && cap))
        return vls_seterr(s, VLS_E_INVAL, "vls_get_many: NULL argument");
    const idx_entry **entries;
    unsigned char **dsts;
    int rc = batch_start(s, n, spans, &entries, &dsts);
    if (rc != VLS_OK)
        return rc;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t total = resolve(s, n, keys, entries, spans);
    if (needed)
        *needed = total;
    int missing = 0;
    if (total > cap) {
        rc = vls_seterr(s, VLS_E_TOOSMALL, "batch needs %llu bytes, buffer has %zu",
                        (unsigned long long)total, cap);
        fail_spans(n, spans, rc); /* nothing was read */
    } else {
        for (size_t i = 0; i < n; i++) {
            dsts[i] = (unsigned char *)dst + spans[i].offset;
            missing |= entries[i] == NULL;
        }
        rc = run_batch(s, n, entries, dsts, spans);
        if (rc == VLS_E_NOMEM)
            fail_spans(n, spans, rc);
        if (rc == VLS_E_NOTFOUND || (rc == VLS_OK && missing))
            rc = vls_seterr(s, VLS_E_NOTFOUND, "some keys of the batch do not exist (see spans)");
    }
    pthread_rwlock_unlock(&s->lock);
    free(entries);
    free(dsts);
    return rc;
}

int vls_get_many_into(vls_store *s, size_t n, const vls_key *keys, void *const *bufs,
                      const size_t *caps, vls_span *spans)
{
    if (!s || (!keys && n) || !spans || (n && (!bufs || !caps)))
        return vls_seterr(s, VLS_E_INVAL, "vls_get_many_into: NULL argument");
    const idx_entry **entries;
    unsigned char **dsts;
    int rc = batch_start(s, n, spans, &entries, &dsts);
    if (rc != VLS_OK)
        return rc;
    pthread_rwlock_rdlock(&s->lock);
    resolve(s, n, keys, entries, spans);
    for (size_t i = 0; i < n; i++) {
        spans[i].offset = 0;
        dsts[i] = bufs[i];
        if (entries[i] && entries[i]->len > caps[i]) {
            spans[i].status = VLS_E_TOOSMALL;
            entries[i] = NULL; /* not read */
        }
    }
    rc = run_batch(s, n, entries, dsts, spans);
    if (rc == VLS_E_NOMEM)
        fail_spans(n, spans, rc);
    if (rc == VLS_OK)
        for (size_t i = 0; i < n && rc == VLS_OK; i++)
            rc = spans[i].status;
    if (rc == VLS_E_NOTFOUND)
        vls_seterr(s, rc, "some keys of the batch do not exist (see spans)");
    else if (rc == VLS_E_TOOSMALL)
        vls_seterr(s, rc, "some buffers are too small (see spans: length = size needed)");
    pthread_rwlock_unlock(&s->lock);
    free(entries);
    free(dsts);
    return rc;
}
