/* loader.c — the block-shuffle batch loader (include/vlstore_loader.h, docs/LOADER.md).
 *
 * Uses only the public store API: vls_iter_next_chunk() to learn every record's key, length
 * and chunk when the loader opens, and vls_get_many_into() to read one "unit" — the records
 * of read_size groups — per batched read, each chunk decompressed once.
 *
 * An epoch is planned up front (plan_epoch): this rank's records in serving order, cut into
 * units. Units are read in order, by a prefetch thread or inline; the caller's batches are
 * slices of that order and point into unit buffers. A unit buffer is recycled only when no
 * batch that is still valid (the last n_buffers served) points into it. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collate.h"
#include "common/error.h"
#include "common/pool.h"
#include "vlstore_loader.h"

#define REC_ALIGN 16 /* a record read from a writer's open chunk starts 16-aligned */

typedef struct {
    uint64_t len;
    uint64_t index;   /* position in its store's storage order */
    uint64_t key_off; /* into ld->keys */
    uint64_t chunk;   /* chunk holding its first byte; UINT64_MAX: a writer's open chunk */
    uint64_t coff;    /* where it starts in that chunk */
    uint32_t klen;
    uint32_t file;
} ld_rec;

/* One chunk to decode for a read: into dst, or the task's error. */
typedef struct {
    uint32_t file;
    uint64_t chunk;
    unsigned char *dst;
    int rc;
    char msg[200];
} ld_task;

typedef struct {
    uint64_t first, count; /* records [first, first+count) of ld->rec */
} ld_group;

typedef struct ld_unit {
    uint64_t u;          /* unit number in the epoch plan */
    int rc;              /* 0, or the error that hit this read */
    char msg[256];
    unsigned char *buf;  /* decoded chunks (runs 64-aligned), then open-chunk records */
    size_t cap;
    vls_record *recs;    /* in serving order */
    size_t rcap;
    uint64_t last_batch; /* the last batch that points into this unit */
    struct ld_unit *next;
} ld_unit;

struct vls_loader;

/* A reading thread and its scratch for one read. With prefetch on there are `threads`
 * readers, each reading and decoding whole units on its own thread, so no thread waits for
 * another's chunks; with prefetch off, one reader on the caller's thread, whose chunks are
 * decoded on the pool. */
typedef struct ld_reader {
    struct vls_loader *ld;
    pthread_t thread;
    int running;
    uint64_t *order; /* record numbers in storage order */
    vls_key *rkeys;
    void **rbufs;
    size_t *rcaps;
    vls_span *rspans;
    size_t scratch_cap;
    ld_task *tasks;
    uint64_t ntasks, tasks_cap;
} ld_reader;

struct vls_loader {
    vls_loader_options o;
    vls_store **stores;
    size_t nstores;
    int own_stores;

    ld_rec *rec;
    uint64_t nrec;
    unsigned char *keys;
    uint64_t keys_len;
    ld_group *groups;
    uint64_t ngroups;
    uint64_t **chunk_start; /* per file: decoded offset of each chunk, [nchunks] = the end */
    uint64_t *nchunks;      /* per file */
    vls_pool *pool;         /* decode threads of an inline read (NULL: prefetch on, or 1 thread) */
    uint64_t data_fingerprint; /* keys and lengths, in order */

    /* the current epoch's plan for this rank */
    uint64_t epoch;
    uint64_t *seq;        /* record numbers in serving order */
    uint64_t nseq;        /* this rank's share */
    uint64_t serve_n;     /* records served (nseq, or less with drop_last) */
    uint64_t *unit_start; /* unit u: seq[unit_start[u], unit_start[u+1]) */
    uint64_t nunits;      /* units holding the served records */
    uint64_t nbatches;
    uint64_t *group_perm; /* scratch */

    /* serving state (caller's thread) */
    uint64_t next_batch;
    uint64_t cur_unit;    /* the unit being served */
    ld_unit *live_head, *live_tail; /* units still pointed into, oldest first */
    vls_record *ring;     /* n_buffers arrays of batch_size records */
    int failed;
    char msg[512];

    /* reading: the prefetch threads or the caller, never both */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ld_reader *readers;   /* [nreaders] */
    int nreaders;
    int threads_on, stop; /* threads_on: reader threads running */
    uint64_t next_read;   /* next unit to read */
    uint64_t want;        /* the unit the caller needs now */
    ld_unit *ready_head, *ready_tail; /* finished reads, in the order they finished */
    ld_unit *free_list;
    int prefetch_rc;      /* a prefetch thread could not even allocate a unit */
    uint64_t bytes_read, reads_done, wait_ns;

    ld_batches *collated; /* vls_loader_next_frames' memory sets (collate.c); NULL until used */
};

/* A failure with no loader to hold it (a failed open) goes to the calling thread's
 * handle-less message, vls_loader_errmsg(NULL) = vls_errmsg(NULL). */
static int open_fail(int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vls_seterr(NULL, rc, "%s", msg);
}

static int fail(vls_loader *ld, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->msg, sizeof ld->msg, fmt, ap);
    va_end(ap);
    return rc;
}

void vls_loader_options_init(vls_loader_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->batch_size = 64;
    o->read_size = 4;
    o->n_buffers = 2;
    o->shuffle = 1;
    o->merge_last = 1;
    o->drop_last = 0;
    o->prefetch = 1;
    o->rank = 0;
    o->world = 1;
    o->threads = 1;
}

/* ---- randomness: splitmix64, seeded per purpose so every choice is reproducible ---------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s;
} rng64;

static uint64_t rng_next(rng64 *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

static rng64 rng_for(uint64_t seed, uint64_t epoch, uint64_t purpose, uint64_t where)
{
    rng64 r = {mix64(mix64(mix64(seed) ^ epoch) ^ purpose) ^ mix64(where + 0x51ed27)};
    return r;
}

/* uniform in [0, n) without modulo bias worth speaking of (Lemire's multiply-high) */
static uint64_t rng_below(rng64 *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

static void shuffle_u64(uint64_t *a, uint64_t n, rng64 *r)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rng_below(r, i);
        uint64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static uint64_t fp_mix(uint64_t fp, uint64_t v)
{
    return mix64(fp ^ v) + 0x2545f4914f6cdd1dULL;
}

/* ---- opening: the record table and the groups ------------------------------------------ */

static int check_options(const vls_loader_options *o)
{
    if (o->struct_size != sizeof *o)
        return open_fail(VLS_E_INVAL, "loader options: struct_size %u, expected %zu "
                         "(fill them with vls_loader_options_init)", o->struct_size, sizeof *o);
    if (o->batch_size == 0)
        return open_fail(VLS_E_INVAL, "loader options: batch_size must be at least 1");
    if (o->read_size == 0)
        return open_fail(VLS_E_INVAL, "loader options: read_size must be at least 1");
    if (o->n_buffers == 0 || o->n_buffers > 1024)
        return open_fail(VLS_E_INVAL, "loader options: n_buffers %u is not in 1..1024",
                         o->n_buffers);
    if (o->world == 0 || o->rank >= o->world)
        return open_fail(VLS_E_INVAL, "loader options: rank %u of world %u (need rank < world)",
                         o->rank, o->world);
    if (o->threads < 1 || o->threads > 256)
        return open_fail(VLS_E_INVAL, "loader options: threads %d is not in 1..256", o->threads);
    /* a nonzero reserved field is a setting this library does not know: refuse, not ignore */
    if (o->reserved0 != 0)
        return open_fail(VLS_E_INVAL, "loader options: reserved0 is %u, must be 0",
                         o->reserved0);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i] != 0)
            return open_fail(VLS_E_INVAL, "loader options: reserved[%zu] is %llu, must be 0", i,
                             (unsigned long long)o->reserved[i]);
    return VLS_OK;
}

static int grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return VLS_OK;
    uint64_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    if (nc > SIZE_MAX / elem)
        return VLS_E_NOMEM;
    void *np = realloc(*p, (size_t)(nc * elem));
    if (!np)
        return VLS_E_NOMEM;
    *p = np;
    *cap = nc;
    return VLS_OK;
}

/* Reads every store's record list; forms groups (one per chunk, per file). */
static int build_table(vls_loader *ld, const char *const *names)
{
    uint64_t rcap = 0, kcap = 0, gcap = 0;
    uint64_t fp = 0x6c6f61646572ULL;
    for (size_t f = 0; f < ld->nstores; f++) {
        vls_store *s = ld->stores[f];
        uint64_t pos = 0, index = 0, prev_chunk = 0, file_first_group = ld->ngroups;
        const void *key;
        size_t klen;
        uint64_t len, chunk;
        int r;
        uint64_t coff;
        while ((r = vls_iter_next_chunk(s, &pos, &key, &klen, &len, &chunk, &coff)) == 1) {
            if (grow((void **)&ld->rec, &rcap, ld->nrec + 1, sizeof *ld->rec) ||
                grow((void **)&ld->keys, &kcap, ld->keys_len + klen, 1))
                return open_fail(VLS_E_NOMEM, "no memory for the loader's table of %llu records",
                                 (unsigned long long)ld->nrec + 1);
            ld_rec *rr = &ld->rec[ld->nrec];
            rr->len = len;
            rr->index = index++;
            rr->key_off = ld->keys_len;
            rr->klen = (uint32_t)klen;
            rr->file = (uint32_t)f;
            rr->chunk = chunk;
            rr->coff = coff;
            memcpy(ld->keys + ld->keys_len, key, klen);
            ld->keys_len += klen;
            fp = fp_mix(fp_mix(fp, vls_hash64(key, klen)), len);
            if (ld->ngroups == file_first_group || chunk != prev_chunk) {
                if (grow((void **)&ld->groups, &gcap, ld->ngroups + 1, sizeof *ld->groups))
                    return open_fail(VLS_E_NOMEM, "no memory for the loader's groups");
                ld->groups[ld->ngroups].first = ld->nrec;
                ld->groups[ld->ngroups].count = 0;
                ld->ngroups++;
                prev_chunk = chunk;
            }
            ld->groups[ld->ngroups - 1].count++;
            ld->nrec++;
        }
        if (r < 0)
            return open_fail(r, "%s: listing records: %s", names ? names[f] : "store",
                             vls_errmsg(s) ? vls_errmsg(s) : vls_strerror(r));
        fp = fp_mix(fp, 0xf11e0000ULL + f);

        /* where each chunk starts in the store's decoded bytes */
        uint64_t nc = vls_chunk_count(s);
        ld->nchunks[f] = nc;
        ld->chunk_start[f] = malloc((nc + 1) * sizeof *ld->chunk_start[f]);
        if (!ld->chunk_start[f])
            return open_fail(VLS_E_NOMEM, "no memory for the chunk table of %llu chunks",
                             (unsigned long long)nc);
        uint64_t at = 0;
        for (uint64_t c = 0; c < nc; c++) {
            uint64_t clen;
            if ((r = vls_chunk_length(s, c, &clen)) != VLS_OK)
                return open_fail(r, "%s: chunk %llu: %s", names ? names[f] : "store",
                                 (unsigned long long)c, vls_errmsg(s));
            ld->chunk_start[f][c] = at;
            at += clen;
        }
        ld->chunk_start[f][nc] = at;

        /* merge_last: a short final group joins the one before it */
        uint64_t nfg = ld->ngroups - file_first_group;
        if (ld->o.merge_last && nfg >= 2) {
            ld_group *last = &ld->groups[ld->ngroups - 1];
            uint64_t file_recs = last->first + last->count - ld->groups[file_first_group].first;
            if (last->count * 2 * nfg < file_recs) { /* count < mean / 2 */
                ld->groups[ld->ngroups - 2].count += last->count;
                ld->ngroups--;
            }
        }
    }
    ld->data_fingerprint = fp;
    return VLS_OK;
}

static uint64_t plan_fingerprint(const vls_loader *ld)
{
    const vls_loader_options *o = &ld->o;
    uint64_t fp = ld->data_fingerprint;
    uint64_t v[] = {o->batch_size, o->read_size, (uint64_t)o->shuffle, (uint64_t)o->merge_last,
                    (uint64_t)o->drop_last, o->rank, o->world, o->seed};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        fp = fp_mix(fp, v[i]);
    return fp;
}

/* ---- planning an epoch --------------------------------------------------------------- */

static int plan_epoch(vls_loader *ld, uint64_t epoch)
{
    const vls_loader_options *o = &ld->o;
    uint64_t N = ld->nrec, W = o->world, r = o->rank;
    uint64_t lo = (uint64_t)(((unsigned __int128)N * r) / W);
    uint64_t hi = (uint64_t)(((unsigned __int128)N * (r + 1)) / W);

    ld->epoch = epoch;
    ld->nseq = hi - lo;
    if (o->drop_last) {
        uint64_t even = N / W; /* the smallest share: every rank serves the same batches */
        ld->serve_n = even / o->batch_size * o->batch_size;
    } else {
        ld->serve_n = ld->nseq;
    }
    ld->nbatches = (ld->serve_n + o->batch_size - 1) / o->batch_size;

    for (uint64_t g = 0; g < ld->ngroups; g++)
        ld->group_perm[g] = g;
    if (o->shuffle) {
        rng64 rg = rng_for(o->seed, epoch, 1, 0);
        shuffle_u64(ld->group_perm, ld->ngroups, &rg);
    }

    /* walk the groups in epoch order; keep the pieces inside [lo, hi); every read_size
     * pieces form a unit */
    uint64_t pos = 0, n = 0, units = 0, in_unit = 0;
    for (uint64_t k = 0; k < ld->ngroups && pos < hi; k++) {
        const ld_group *g = &ld->groups[ld->group_perm[k]];
        uint64_t a = pos, b = pos + g->count;
        pos = b;
        if (b <= lo)
            continue;
        uint64_t from = a < lo ? lo - a : 0, to = b > hi ? hi - a : g->count;
        if (in_unit == 0)
            ld->unit_start[units++] = n;
        in_unit = (in_unit + 1) % o->read_size;
        for (uint64_t i = from; i < to; i++)
            ld->seq[n++] = g->first + i;
    }
    ld->unit_start[units] = n;
    if (o->shuffle)
        for (uint64_t u = 0; u < units; u++) {
            rng64 ru = rng_for(o->seed, epoch, 2, lo + ld->unit_start[u]);
            shuffle_u64(ld->seq + ld->unit_start[u], ld->unit_start[u + 1] - ld->unit_start[u],
                        &ru);
        }
    /* only the units that hold served records are read */
    ld->nunits = 0;
    while (ld->nunits < units && ld->unit_start[ld->nunits] < ld->serve_n)
        ld->nunits++;
    return VLS_OK;
}

/* ---- reading one unit ------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int reserve_scratch(ld_reader *rd, size_t n)
{
    if (n <= rd->scratch_cap)
        return VLS_OK;
    size_t c = rd->scratch_cap ? rd->scratch_cap : 256;
    while (c < n)
        c *= 2;
    uint64_t *order = realloc(rd->order, c * sizeof *order);
    if (order)
        rd->order = order;
    vls_key *k = realloc(rd->rkeys, c * sizeof *k);
    if (k)
        rd->rkeys = k;
    void **b = realloc(rd->rbufs, c * sizeof *b);
    if (b)
        rd->rbufs = b;
    size_t *cp = realloc(rd->rcaps, c * sizeof *cp);
    if (cp)
        rd->rcaps = cp;
    vls_span *sp = realloc(rd->rspans, c * sizeof *sp);
    if (sp)
        rd->rspans = sp;
    if (!order || !k || !b || !cp || !sp)
        return VLS_E_NOMEM;
    rd->scratch_cap = c;
    return VLS_OK;
}

static uint64_t align_up(uint64_t v)
{
    return (v + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
}

/* A key for a message: "text" when printable, else hex; shortened to fit. */
static const char *key_text(const unsigned char *k, size_t n, char *out, size_t cap)
{
    int printable = 1;
    for (size_t i = 0; i < n; i++)
        printable &= k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"';
    size_t o = 0;
    if (printable) {
        out[o++] = '"';
        for (size_t i = 0; i < n && o + 5 < cap; i++)
            out[o++] = (char)k[i];
        if (o + 5 >= cap)
            out[o++] = '.', out[o++] = '.';
        out[o++] = '"';
    } else {
        for (size_t i = 0; i < n && o + 6 < cap; i++)
            o += (size_t)snprintf(out + o, cap - o, "%02x", k[i]);
        if (2 * n + 6 >= cap)
            out[o++] = '.', out[o++] = '.';
    }
    out[o] = 0;
    return out;
}

static int unit_fail(ld_unit *un, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(un->msg, sizeof un->msg, fmt, ap);
    va_end(ap);
    un->rc = rc;
    return rc;
}

static int add_task(ld_reader *rd, uint32_t file, uint64_t chunk)
{
    if (rd->ntasks == rd->tasks_cap) {
        uint64_t nc = rd->tasks_cap ? rd->tasks_cap * 2 : 64;
        ld_task *t = realloc(rd->tasks, nc * sizeof *t);
        if (!t)
            return VLS_E_NOMEM;
        rd->tasks = t;
        rd->tasks_cap = nc;
    }
    ld_task *t = &rd->tasks[rd->ntasks++];
    t->file = file;
    t->chunk = chunk;
    t->dst = NULL;
    t->rc = 0;
    t->msg[0] = 0;
    return VLS_OK;
}

static void run_task(void *arg, size_t i)
{
    ld_reader *rd = arg;
    const vls_loader *ld = rd->ld;
    ld_task *t = &rd->tasks[i];
    vls_store *s = ld->stores[t->file];
    uint64_t want = ld->chunk_start[t->file][t->chunk + 1] - ld->chunk_start[t->file][t->chunk];
    uint64_t got = 0;
    t->rc = vls_read_chunk(s, t->chunk, t->dst, (size_t)want, &got);
    if (t->rc == VLS_OK && got != want)
        t->rc = VLS_E_CORRUPT;
    if (t->rc != VLS_OK)
        snprintf(t->msg, sizeof t->msg, "%s", vls_errmsg(s) && *vls_errmsg(s) ?
                 vls_errmsg(s) : vls_strerror(t->rc));
}

/* The last chunk holding a byte of record r (a long record continues into the next ones). */
static uint64_t last_chunk_of(const vls_loader *ld, const ld_rec *r)
{
    const uint64_t *cs = ld->chunk_start[r->file];
    uint64_t end = cs[r->chunk] + r->coff + r->len, c = r->chunk;
    while (c + 1 < ld->nchunks[r->file] && cs[c + 1] < end)
        c++;
    return c;
}

/* Makes room for count records in un->recs and the reader's scratch. */
static int reserve_unit_records(ld_reader *rd, ld_unit *un, uint64_t count)
{
    if (reserve_scratch(rd, count) != VLS_OK)
        return unit_fail(un, VLS_E_NOMEM, "no memory to read %llu records",
                         (unsigned long long)count);
    if (count > un->rcap) {
        vls_record *nr = realloc(un->recs, count * sizeof *nr);
        if (!nr)
            return unit_fail(un, VLS_E_NOMEM, "no memory to read %llu records",
                             (unsigned long long)count);
        un->recs = nr;
        un->rcap = count;
    }
    return VLS_OK;
}

/* Lists the chunks to decode (rd->tasks), in storage order, each once, and sums the bytes
 * the unit buffer needs (*total): decoded runs 64-aligned, then the open-chunk records. */
static int plan_chunk_reads(ld_reader *rd, ld_unit *un, const uint64_t *order, uint64_t count,
                            uint64_t *total)
{
    const vls_loader *ld = rd->ld;
    rd->ntasks = 0;
    *total = 0;
    for (uint64_t i = 0; i < count; i++) {
        const ld_rec *r = &ld->rec[order[i]];
        if (r->chunk == UINT64_MAX) {
            *total += align_up(r->len);
            continue;
        }
        uint64_t last = last_chunk_of(ld, r);
        for (uint64_t c = r->chunk; c <= last; c++) {
            const ld_task *prev = rd->ntasks ? &rd->tasks[rd->ntasks - 1] : NULL;
            if (prev && prev->file == r->file && prev->chunk >= c)
                continue; /* already listed (records of one chunk come together) */
            int run = prev && prev->file == r->file && prev->chunk + 1 == c;
            if (add_task(rd, r->file, c) != VLS_OK)
                return unit_fail(un, VLS_E_NOMEM, "no memory to plan a read");
            const uint64_t *cs = ld->chunk_start[r->file];
            *total += (run ? 0 : 64) + cs[c + 1] - cs[c]; /* a new run starts 64-aligned */
        }
    }
    return VLS_OK;
}

/* Makes un->buf hold at least total bytes. */
static int reserve_unit_buffer(ld_unit *un, uint64_t total)
{
    if (total <= un->cap && un->buf)
        return VLS_OK;
    /* reads differ a little in size; a quarter more room lets a recycled buffer serve the
     * next read instead of being freed and faulted in again (measured: fresh pages were a
     * fifth of an epoch's time) */
    free(un->buf);
    un->buf = NULL;
    un->cap = 0;
    void *p = NULL;
    uint64_t want = total + total / 4 + 4096;
    if (total > SIZE_MAX / 2 || posix_memalign(&p, 64, (size_t)want))
        return unit_fail(un, VLS_E_NOMEM, "no memory for a read of %llu bytes",
                         (unsigned long long)total);
    un->buf = p;
    un->cap = (size_t)want;
    return VLS_OK;
}

/* Places the chunks in un->buf (a run of consecutive chunks of one file back to back) and
 * decodes them on the pool. *end receives the first byte after the last chunk. */
static int decode_planned_chunks(ld_reader *rd, ld_unit *un, uint64_t *end)
{
    vls_loader *ld = rd->ld;
    uint64_t off = 0;
    for (uint64_t t = 0; t < rd->ntasks; t++) {
        ld_task *tk = &rd->tasks[t];
        const ld_task *prev = t ? &rd->tasks[t - 1] : NULL;
        const uint64_t *cs = ld->chunk_start[tk->file];
        if (!(prev && prev->file == tk->file && prev->chunk + 1 == tk->chunk))
            off = (off + 63) & ~(uint64_t)63;
        tk->dst = un->buf + off;
        off += cs[tk->chunk + 1] - cs[tk->chunk];
    }
    *end = off;
    pool_run(ld->pool, (size_t)rd->ntasks, run_task, rd);
    for (uint64_t t = 0; t < rd->ntasks; t++)
        if (rd->tasks[t].rc != VLS_OK)
            return unit_fail(un, rd->tasks[t].rc, "file %u, chunk %llu: %s", rd->tasks[t].file,
                             (unsigned long long)rd->tasks[t].chunk, rd->tasks[t].msg);
    return VLS_OK;
}

/* Points rd->rbufs[i] at record order[i]'s bytes: inside the task that decoded its first
 * chunk, or (open-chunk records) at room after the chunks, from off on, with its key. */
static void locate_records(ld_reader *rd, ld_unit *un, const uint64_t *order, uint64_t count,
                           uint64_t off)
{
    const vls_loader *ld = rd->ld;
    uint64_t t = 0;
    for (uint64_t i = 0; i < count; i++) {
        const ld_rec *r = &ld->rec[order[i]];
        if (r->chunk == UINT64_MAX) {
            rd->rkeys[i].data = ld->keys + r->key_off;
            rd->rkeys[i].len = r->klen;
            rd->rbufs[i] = un->buf + off;
            rd->rcaps[i] = (size_t)r->len;
            off += align_up(r->len);
            continue;
        }
        while (rd->tasks[t].file != r->file || rd->tasks[t].chunk != r->chunk)
            t++; /* tasks and records are both in storage order */
        rd->rbufs[i] = rd->tasks[t].dst + r->coff;
    }
}

/* vls_read_chunk checked every record lying wholly in a chunk; a record that crosses into
 * the next chunk is whole only now that its chunks lie back to back: check its hash here, so
 * every record served has been checked (test_trust's moved-record cases). */
static int check_joined_records(ld_reader *rd, ld_unit *un, const uint64_t *order,
                                uint64_t count)
{
    const vls_loader *ld = rd->ld;
    for (uint64_t i = 0; i < count; i++) {
        const ld_rec *r = &ld->rec[order[i]];
        if (r->chunk == UINT64_MAX || last_chunk_of(ld, r) == r->chunk)
            continue;
        vls_store *s = ld->stores[r->file];
        int rc = vls_check_record(s, ld->keys + r->key_off, r->klen, rd->rbufs[i],
                                  (size_t)r->len);
        if (rc != VLS_OK) {
            char kbuf[80];
            return unit_fail(un, rc, "file %u, record %llu, key %s: %s", r->file,
                             (unsigned long long)r->index,
                             key_text(ld->keys + r->key_off, r->klen, kbuf, sizeof kbuf),
                             vls_errmsg(s));
        }
    }
    return VLS_OK;
}

/* Reads the records still in a writer's open chunk (its own store handle), file by file. */
static int read_open_chunk_records(ld_reader *rd, ld_unit *un, const uint64_t *order,
                                   uint64_t count)
{
    const vls_loader *ld = rd->ld;
    for (uint64_t i = 0; i < count;) {
        const ld_rec *r = &ld->rec[order[i]];
        if (r->chunk != UINT64_MAX) {
            i++;
            continue;
        }
        uint64_t j = i;
        while (j < count && ld->rec[order[j]].chunk == UINT64_MAX &&
               ld->rec[order[j]].file == r->file)
            j++;
        vls_store *s = ld->stores[r->file];
        int rc = vls_get_many_into(s, (size_t)(j - i), rd->rkeys + i, rd->rbufs + i,
                                   rd->rcaps + i, rd->rspans + i);
        if (rc != VLS_OK) {
            for (uint64_t k = i; k < j; k++) {
                const ld_rec *rk = &ld->rec[order[k]];
                int st = rd->rspans[k].status;
                if (st == VLS_OK)
                    continue;
                const char *why = st == VLS_E_NOTFOUND ? "the record is gone (the store was "
                                  "changed under the loader)" :
                                  st == VLS_E_TOOSMALL ? "the record grew (the store was changed "
                                  "under the loader)" : vls_errmsg(s) ? vls_errmsg(s) :
                                  vls_strerror(st);
                char kbuf[80];
                return unit_fail(un, st, "file %u, record %llu, key %s: %s", rk->file,
                                 (unsigned long long)rk->index,
                                 key_text(ld->keys + rk->key_off, rk->klen, kbuf, sizeof kbuf),
                                 why);
            }
            return unit_fail(un, rc, "file %u: %s", r->file, vls_errmsg(s) ? vls_errmsg(s) :
                             vls_strerror(rc));
        }
        i = j;
    }
    return VLS_OK;
}

/* Lays un->recs out in serving order seq[], finding each record's place by binary search in
 * order[] (storage order). */
static void lay_out_serving_order(ld_reader *rd, ld_unit *un, const uint64_t *seq,
                                  const uint64_t *order, uint64_t count)
{
    const vls_loader *ld = rd->ld;
    for (uint64_t p = 0; p < count; p++) {
        uint64_t want = seq[p], lo = 0, hi = count;
        while (hi - lo > 1) {
            uint64_t m = lo + (hi - lo) / 2;
            if (order[m] <= want)
                lo = m;
            else
                hi = m;
        }
        const ld_rec *rr = &ld->rec[want];
        vls_record *out = &un->recs[p];
        out->data = rd->rbufs[lo];
        out->len = rr->len;
        out->key = ld->keys + rr->key_off;
        out->klen = rr->klen;
        out->file = rr->file;
        out->reserved = 0;
        out->index = rr->index;
    }
    uint64_t last = ld->unit_start[un->u + 1];
    if (last > ld->serve_n)
        last = ld->serve_n;
    un->last_batch = (last - 1) / ld->o.batch_size;
}

/* ---- storage I/O: exact reads, drop-behind (docs/BENCH.md, "Bigger than memory") -------
 * A unit's chunks are read with one pread each into the store's read buffers and decoded
 * into the unit buffer: the stores the loader opens are VLS_NOMMAP (no page faults, in any
 * epoch) and VLS_ADVISE_EXACT (the kernel reads what a pread asks, no readahead past it).
 * The prefetch thread(s) keep the next unit's reads in flight while the caller consumes.
 * Once a unit's chunks are decoded their pages are dropped (DONTNEED), so an epoch over a
 * data set bigger than memory does not fill the page cache with what it has consumed.
 * Measured (docs/BENCH.md, "Bigger than memory"): asking for the next 1, 2, 4, 8 units
 * with WILLNEED on top lost 10 %, 11 %, 19 %, 39 % of the records/s on a throttled disk
 * (the reads it queues delay the pread the reader waits for), so the loader does not. */

/* After unit u's chunks are decoded (rd->tasks): drop their stored bytes from the cache. */
static void drop_behind(ld_reader *rd)
{
    const vls_loader *ld = rd->ld;
    for (uint64_t i = 0; i < rd->ntasks;) {
        uint64_t j = i + 1;
        while (j < rd->ntasks && rd->tasks[j].file == rd->tasks[i].file &&
               rd->tasks[j].chunk == rd->tasks[j - 1].chunk + 1)
            j++;
        vls_chunk_advise(ld->stores[rd->tasks[i].file], rd->tasks[i].chunk, j - i,
                         VLS_ADVISE_DONTNEED);
        i = j;
    }
}

/* Reads unit un->u. Every chunk the unit's records touch is decoded whole, straight into the
 * unit buffer (runs of consecutive chunks back to back, so a record that crosses chunks is
 * contiguous), the chunks of a read on the decode threads. A record then sits at its own
 * offset in its chunk and keeps the alignment it was written with. Records still in a
 * writer's open chunk are read with vls_get_many_into. Then un->recs is laid out in serving
 * order. */
static int read_unit(ld_reader *rd, ld_unit *un)
{
    vls_loader *ld = rd->ld;
    uint64_t first = ld->unit_start[un->u], count = ld->unit_start[un->u + 1] - first;
    const uint64_t *seq = ld->seq + first;
    uint64_t total, chunks_end;
    int rc;
    un->rc = 0;
    un->msg[0] = 0;
    if ((rc = reserve_unit_records(rd, un, count)) != VLS_OK)
        return rc;
    uint64_t *order = rd->order; /* record numbers in storage order (file, then position) */
    memcpy(order, seq, count * sizeof *order);
    qsort(order, count, sizeof *order, cmp_u64);
    if ((rc = plan_chunk_reads(rd, un, order, count, &total)) != VLS_OK ||
        (rc = reserve_unit_buffer(un, total)) != VLS_OK ||
        (rc = decode_planned_chunks(rd, un, &chunks_end)) != VLS_OK)
        return rc;
    drop_behind(rd);
    locate_records(rd, un, order, count, chunks_end);
    if ((rc = check_joined_records(rd, un, order, count)) != VLS_OK ||
        (rc = read_open_chunk_records(rd, un, order, count)) != VLS_OK)
        return rc;
    lay_out_serving_order(rd, un, seq, order, count);
    return VLS_OK;
}

/* ---- units: free list, prefetch thread ----------------------------------------------- */

static ld_unit *take_free_unit(vls_loader *ld)
{
    ld_unit *un = ld->free_list;
    if (un) {
        ld->free_list = un->next;
        un->next = NULL;
        return un;
    }
    return calloc(1, sizeof *un);
}

static void unit_free(ld_unit *un)
{
    if (!un)
        return;
    free(un->buf);
    free(un->recs);
    free(un);
}

static void push(ld_unit **head, ld_unit **tail, ld_unit *un)
{
    un->next = NULL;
    if (*tail)
        (*tail)->next = un;
    else
        *head = un;
    *tail = un;
}

/* Adds a finished read to the counters vls_loader_info reports. The prefetch thread calls
 * it under ld->mu; the inline path has no other thread. */
static void count_read(vls_loader *ld, const ld_unit *un)
{
    if (un->rc != VLS_OK)
        return;
    ld->reads_done++;
    for (uint64_t p = 0; p < ld->unit_start[un->u + 1] - ld->unit_start[un->u]; p++)
        ld->bytes_read += un->recs[p].len;
}

/* A prefetch thread: claims the next unit to read, while fewer than nreaders units past the
 * one the caller wants are claimed (so each reader has one to work on), reads it and adds
 * it to the ready list. */
static void *prefetch_main(void *arg)
{
    ld_reader *rd = arg;
    vls_loader *ld = rd->ld;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->stop && (ld->next_read >= ld->nunits ||
                             ld->next_read > ld->want + (uint64_t)ld->nreaders))
            pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop)
            break;
        ld_unit *un = take_free_unit(ld);
        uint64_t u = ld->next_read++;
        pthread_mutex_unlock(&ld->mu);
        if (un) {
            un->u = u;
            read_unit(rd, un);
        }
        pthread_mutex_lock(&ld->mu);
        if (!un) { /* no memory for the unit itself */
            ld->prefetch_rc = VLS_E_NOMEM;
            pthread_cond_broadcast(&ld->cv);
            break;
        }
        count_read(ld, un);
        push(&ld->ready_head, &ld->ready_tail, un);
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void stop_prefetch(vls_loader *ld)
{
    if (!ld->threads_on)
        return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    for (int i = 0; i < ld->nreaders; i++)
        if (ld->readers[i].running) {
            pthread_join(ld->readers[i].thread, NULL);
            ld->readers[i].running = 0;
        }
    ld->threads_on = 0;
    ld->stop = 0;
    ld->prefetch_rc = 0;
}

/* Moves every unit back to the free list (after the prefetch thread has stopped). */
static void recycle_all(vls_loader *ld)
{
    ld_unit *lists[2] = {ld->live_head, ld->ready_head};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            ld_unit *n = lists[i]->next;
            lists[i]->next = ld->free_list;
            ld->free_list = lists[i];
            lists[i] = n;
        }
    ld->live_head = ld->live_tail = ld->ready_head = ld->ready_tail = NULL;
}

/* Positions the loader at batch `batch` of `epoch` and starts reading. */
static int start_at(vls_loader *ld, uint64_t epoch, uint64_t batch)
{
    stop_prefetch(ld);
    recycle_all(ld);
    ld->failed = 0;
    int rc = plan_epoch(ld, epoch);
    if (rc != VLS_OK)
        return rc;
    if (batch > ld->nbatches)
        return fail(ld, VLS_E_INVAL, "batch %llu is past the end of epoch %llu (%llu batches)",
                    (unsigned long long)batch, (unsigned long long)epoch,
                    (unsigned long long)ld->nbatches);
    ld->next_batch = batch;
    uint64_t p = batch * ld->o.batch_size, u = 0;
    while (u < ld->nunits && ld->unit_start[u + 1] <= p)
        u++;
    ld->cur_unit = u;
    ld->next_read = u;
    ld->want = u;
    if (ld->o.prefetch && ld->nunits > u) {
        /* if not all readers start, those running read ahead in turn: fewer reads at once */
        for (int i = 0; i < ld->nreaders; i++) {
            int e = pthread_create(&ld->readers[i].thread, NULL, prefetch_main, &ld->readers[i]);
            if (e != 0) {
                if (i == 0)
                    return fail(ld, VLS_E_NOMEM, "cannot start the prefetch thread: %s",
                                strerror(e));
                break;
            }
            ld->readers[i].running = 1;
            ld->threads_on = 1;
        }
    }
    return VLS_OK;
}

/* ---- public API ------------------------------------------------------------------------- */

static int open_common(vls_loader *ld, const char *const *names, vls_loader **out)
{
    int rc = build_table(ld, names);
    if (rc != VLS_OK)
        goto fail;
    uint64_t n = ld->nrec ? ld->nrec : 1, g = ld->ngroups ? ld->ngroups : 1;
    ld->seq = malloc(n * sizeof *ld->seq);
    ld->unit_start = malloc((g + 2) * sizeof *ld->unit_start);
    ld->group_perm = malloc(g * sizeof *ld->group_perm);
    ld->ring = calloc((size_t)ld->o.n_buffers * ld->o.batch_size, sizeof *ld->ring);
    if (!ld->seq || !ld->unit_start || !ld->group_perm || !ld->ring) {
        rc = open_fail(VLS_E_NOMEM, "no memory for a loader over %llu records",
                       (unsigned long long)ld->nrec);
        goto fail;
    }
    if (pthread_mutex_init(&ld->mu, NULL) != 0 || pthread_cond_init(&ld->cv, NULL) != 0) {
        rc = open_fail(VLS_E_NOMEM, "cannot create the loader's lock");
        goto fail;
    }
    if ((rc = start_at(ld, ld->o.epoch, 0)) != VLS_OK) {
        open_fail(rc, "%s", ld->msg);
        goto fail;
    }
    *out = ld;
    return VLS_OK;
fail:
    vls_loader_close(ld);
    return rc;
}

static vls_loader *loader_new(const vls_loader_options *opts, size_t n, int *rc)
{
    vls_loader_options defaults;
    if (!opts) {
        vls_loader_options_init(&defaults);
        opts = &defaults;
    }
    if ((*rc = check_options(opts)) != VLS_OK)
        return NULL;
    vls_loader *ld = calloc(1, sizeof *ld);
    if (ld)
        ld->stores = calloc(n ? n : 1, sizeof *ld->stores);
    if (!ld || !ld->stores) {
        free(ld);
        *rc = open_fail(VLS_E_NOMEM, "no memory for a loader");
        return NULL;
    }
    ld->o = *opts;
    ld->nstores = n;
    ld->chunk_start = calloc(n ? n : 1, sizeof *ld->chunk_start);
    ld->nchunks = calloc(n ? n : 1, sizeof *ld->nchunks);
    /* prefetch on: `threads` readers, each decoding its own reads; off: one reader (the
     * caller) whose reads are decoded on a pool of `threads` */
    ld->nreaders = opts->prefetch && opts->threads > 1 ? opts->threads : 1;
    ld->readers = calloc((size_t)ld->nreaders, sizeof *ld->readers);
    if (!ld->chunk_start || !ld->nchunks || !ld->readers) {
        free(ld->chunk_start);
        free(ld->nchunks);
        free(ld->readers);
        free(ld->stores);
        free(ld);
        *rc = open_fail(VLS_E_NOMEM, "no memory for a loader");
        return NULL;
    }
    for (int i = 0; i < ld->nreaders; i++)
        ld->readers[i].ld = ld;
    if (!opts->prefetch) /* NULL for 1 thread, or when threads cannot start */
        ld->pool = pool_new(opts->threads);
    return ld;
}

int vls_loader_open(const char *const *paths, size_t n, const vls_loader_options *opts,
                    vls_loader **out)
{
    if (!out)
        return open_fail(VLS_E_INVAL, "vls_loader_open: NULL out");
    *out = NULL;
    if (!paths && n)
        return open_fail(VLS_E_INVAL, "vls_loader_open: NULL paths");
    int rc;
    vls_loader *ld = loader_new(opts, n, &rc);
    if (!ld)
        return rc;
    ld->own_stores = 1;
    vls_options so;
    vls_options_init(&so);
    so.cache_bytes = 0; /* chunks are decoded straight into the loader's buffers */
    for (size_t f = 0; f < n; f++) {
        /* pread, never the map: every epoch reads a chunk in one request, and the pages
         * drop_behind() releases are not held by a mapping */
        rc = vls_open(paths[f], VLS_RDONLY | VLS_NOMMAP, &so, &ld->stores[f]);
        if (rc == VLS_OK) /* the loader reads whole chunks: no readahead past them */
            vls_chunk_advise(ld->stores[f], 0, 0, VLS_ADVISE_EXACT);
        if (rc != VLS_OK) {
            const char *m = vls_errmsg(NULL);
            open_fail(rc, "%s: %s", paths[f], m && *m ? m : vls_strerror(rc));
            vls_loader_close(ld);
            return rc;
        }
    }
    return open_common(ld, paths, out);
}

int vls_loader_open_stores(vls_store *const *stores, size_t n, const vls_loader_options *opts,
                           vls_loader **out)
{
    if (!out)
        return open_fail(VLS_E_INVAL, "vls_loader_open_stores: NULL out");
    *out = NULL;
    if (!stores && n)
        return open_fail(VLS_E_INVAL, "vls_loader_open_stores: NULL stores");
    for (size_t f = 0; f < n; f++)
        if (!stores[f])
            return open_fail(VLS_E_INVAL, "vls_loader_open_stores: store %zu is NULL", f);
    int rc;
    vls_loader *ld = loader_new(opts, n, &rc);
    if (!ld)
        return rc;
    memcpy(ld->stores, stores, n * sizeof *stores);
    return open_common(ld, NULL, out);
}

void vls_loader_close(vls_loader *ld)
{
    if (!ld)
        return;
    stop_prefetch(ld);
    if (ld->ring) /* the lock was set up only after ring was allocated */
        recycle_all(ld);
    while (ld->free_list) {
        ld_unit *n = ld->free_list->next;
        unit_free(ld->free_list);
        ld->free_list = n;
    }
    if (ld->own_stores)
        for (size_t f = 0; f < ld->nstores; f++)
            vls_close(ld->stores[f]);
    pool_free(ld->pool);
    for (int i = 0; ld->readers && i < ld->nreaders; i++) {
        ld_reader *rd = &ld->readers[i];
        free(rd->tasks);
        free(rd->order);
        free(rd->rkeys);
        free(rd->rbufs);
        free(rd->rcaps);
        free(rd->rspans);
    }
    free(ld->readers);
    for (size_t f = 0; f < ld->nstores; f++)
        free(ld->chunk_start[f]);
    free(ld->chunk_start);
    free(ld->nchunks);
    if (ld->ring) {
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
    }
    free(ld->stores);
    free(ld->rec);
    free(ld->keys);
    free(ld->groups);
    free(ld->seq);
    free(ld->unit_start);
    free(ld->group_perm);
    free(ld->ring);
    ld_batches_free(ld->collated);
    free(ld);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The unit being served next, read inline or waited for. NULL with ld->failed set on error. */
static ld_unit *get_unit(vls_loader *ld, uint64_t u)
{
    if (!ld->threads_on) {
        ld_unit *un = take_free_unit(ld);
        if (!un) {
            ld->failed = fail(ld, VLS_E_NOMEM, "no memory for a read");
            return NULL;
        }
        un->u = u;
        uint64_t t0 = now_ns();
        read_unit(&ld->readers[0], un);
        ld->wait_ns += now_ns() - t0;
        count_read(ld, un);
        ld->next_read = u + 1;
        return un;
    }
    pthread_mutex_lock(&ld->mu);
    ld->want = u;
    pthread_cond_broadcast(&ld->cv);
    uint64_t t0 = now_ns();
    ld_unit *un = NULL, *prev = NULL; /* readers finish in any order: look for unit u */
    while (!ld->prefetch_rc) {
        for (prev = NULL, un = ld->ready_head; un && un->u != u; prev = un, un = un->next)
            ;
        if (un)
            break;
        pthread_cond_wait(&ld->cv, &ld->mu);
    }
    ld->wait_ns += now_ns() - t0;
    if (!ld->prefetch_rc) {
        if (prev)
            prev->next = un->next;
        else
            ld->ready_head = un->next;
        if (ld->ready_tail == un)
            ld->ready_tail = prev;
        un->next = NULL;
    } else {
        un = NULL;
        ld->failed = fail(ld, ld->prefetch_rc, "no memory for a read");
    }
    pthread_mutex_unlock(&ld->mu);
    return un;
}

int vls_loader_next(vls_loader *ld, const vls_record **records, size_t *n)
{
    if (!ld || !records || !n)
        return ld ? fail(ld, VLS_E_INVAL, "vls_loader_next: NULL argument")
                  : open_fail(VLS_E_INVAL, "vls_loader_next: NULL loader");
    *records = NULL;
    *n = 0;
    if (ld->failed)
        return ld->failed;
    if (ld->next_batch >= ld->nbatches)
        return 0;
    uint64_t j = ld->next_batch, B = ld->o.batch_size;
    uint64_t p0 = j * B, p1 = p0 + B < ld->serve_n ? p0 + B : ld->serve_n;

    /* batches j-n_buffers and older are no longer valid: recycle units only they used */
    pthread_mutex_lock(&ld->mu);
    while (ld->live_head && ld->live_head->last_batch + ld->o.n_buffers <= j) {
        ld_unit *un = ld->live_head;
        ld->live_head = un->next;
        if (!ld->live_head)
            ld->live_tail = NULL;
        un->next = ld->free_list;
        ld->free_list = un;
    }
    pthread_mutex_unlock(&ld->mu);

    vls_record *out = ld->ring + (size_t)(j % ld->o.n_buffers) * B;
    for (uint64_t p = p0; p < p1;) {
        while (ld->cur_unit < ld->nunits && ld->unit_start[ld->cur_unit + 1] <= p)
            ld->cur_unit++;
        ld_unit *un = ld->live_tail && ld->live_tail->u == ld->cur_unit ? ld->live_tail : NULL;
        if (!un) {
            un = get_unit(ld, ld->cur_unit);
            if (!un)
                return ld->failed;
            if (un->rc != VLS_OK) {
                ld->failed = fail(ld, un->rc, "%s", un->msg);
                pthread_mutex_lock(&ld->mu);
                un->next = ld->free_list;
                ld->free_list = un;
                pthread_mutex_unlock(&ld->mu);
                return ld->failed;
            }
            pthread_mutex_lock(&ld->mu);
            push(&ld->live_head, &ld->live_tail, un);
            pthread_mutex_unlock(&ld->mu);
        }
        uint64_t ustart = ld->unit_start[un->u], uend = ld->unit_start[un->u + 1];
        uint64_t take = (uend < p1 ? uend : p1) - p;
        memcpy(out + (p - p0), un->recs + (p - ustart), (size_t)take * sizeof *out);
        p += take;
    }
    ld->next_batch++;
    *records = out;
    *n = (size_t)(p1 - p0);
    return 1;
}

int vls_loader_start_epoch(vls_loader *ld, uint64_t epoch)
{
    if (!ld)
        return VLS_E_INVAL;
    return start_at(ld, epoch, 0);
}

int vls_loader_tell(const vls_loader *ld, vls_loader_position *pos)
{
    if (!ld || !pos)
        return VLS_E_INVAL;
    pos->epoch = ld->epoch;
    pos->batch = ld->next_batch;
    pos->fingerprint = plan_fingerprint(ld);
    return VLS_OK;
}

int vls_loader_seek(vls_loader *ld, const vls_loader_position *pos)
{
    if (!ld || !pos)
        return ld ? fail(ld, VLS_E_INVAL, "vls_loader_seek: NULL position")
                  : open_fail(VLS_E_INVAL, "vls_loader_seek: NULL loader");
    if (pos->fingerprint != plan_fingerprint(ld))
        return fail(ld, VLS_E_INVAL, "the saved position belongs to another dataset or to "
                    "other loader settings (fingerprint %016llx, this loader %016llx)",
                    (unsigned long long)pos->fingerprint,
                    (unsigned long long)plan_fingerprint(ld));
    return start_at(ld, pos->epoch, pos->batch);
}

int vls_loader_info_get(vls_loader *ld, vls_loader_info *info)
{
    if (!ld || !info)
        return VLS_E_INVAL;
    memset(info, 0, sizeof *info);
    info->records = ld->nrec;
    info->groups = ld->ngroups;
    info->rank_records = ld->serve_n;
    info->rank_batches = ld->nbatches;
    info->rank_reads = ld->nunits;
    info->epoch = ld->epoch;
    pthread_mutex_lock(&ld->mu); /* the counters are shared with the prefetch thread */
    info->bytes_read = ld->bytes_read;
    info->reads_done = ld->reads_done;
    info->wait_ns = ld->wait_ns;
    pthread_mutex_unlock(&ld->mu);
    return VLS_OK;
}

const char *vls_loader_errmsg(const vls_loader *ld)
{
    return ld ? ld->msg : vls_errmsg(NULL);
}

/*-*************************************
 *  Collated frame batches (the collation itself is in collate.c)
 ***************************************/

int vls_loader_next_frames(vls_loader *ld, const vls_frame_batch **batch)
{
    if (!ld || !batch)
        return ld ? fail(ld, VLS_E_INVAL, "vls_loader_next_frames: NULL argument")
                  : open_fail(VLS_E_INVAL, "vls_loader_next_frames: NULL loader");
    *batch = NULL;
    const vls_record *recs;
    size_t n;
    int rc = vls_loader_next(ld, &recs, &n);
    if (rc <= 0)
        return rc;
    char msg[sizeof ld->msg];
    rc = ld_batches_collate(&ld->collated, ld->o.n_buffers, recs, n, batch, msg, sizeof msg);
    if (rc != VLS_OK)
        return fail(ld, rc, "batch %llu of epoch %llu: %s",
                    (unsigned long long)(ld->next_batch - 1), (unsigned long long)ld->epoch,
                    msg);
    return 1;
}
