/*
 * engine_lmdb.c — LMDB: one environment (MDB_NOSUBDIR), one unnamed database, key -> record.
 *
 * Write: one write transaction, mdb_put with MDB_APPEND (keys arrive in sorted order, so LMDB
 * appends pages instead of splitting them: its fastest bulk load), commit (which fsyncs),
 * then mdb_env_sync(force). Reads: a read-only environment; one read transaction per get or
 * per batch (reset/renewed, LMDB's cheap path); values are copied out of the map into the
 * caller's buffer, as every engine delivers a copy. The read-only environment is opened with
 * MDB_NORDAHEAD (madvise MADV_RANDOM on the map), the read-ahead policy vlstore's map has:
 * every mmap engine reads with the same hint (docs/BENCH.md, "Read-ahead").
 */
#include "bench.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LMDB_MAPSIZE (1ull << 38) /* 256 GiB of address space; the file grows as needed */

typedef struct lmdb_impl {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* reset between uses */
} lmdb_impl;

static int lm_init(bench_engine *e)
{
    lmdb_impl *m = calloc(1, sizeof *m);
    if (!m)
        return bench_fail(e, "out of memory");
    e->impl = m;
    snprintf(e->path, sizeof e->path, "%s/store.mdb", e->dir);
    snprintf(e->settings, sizeof e->settings,
             "%s; MDB_NOSUBDIR, map size 256 GiB, default page size; one write txn with "
             "MDB_APPEND, commit + mdb_env_sync(1); read-only env with MDB_NORDAHEAD (MADV_RANDOM), "
             "read txn "
             "reset/renew per get or batch, values copied out",
             MDB_VERSION_STRING);
    return 0;
}

static int lm_env(bench_engine *e, unsigned flags)
{
    lmdb_impl *m = e->impl;
    int rc = mdb_env_create(&m->env);
    if (rc)
        return bench_fail(e, "mdb_env_create: %s", mdb_strerror(rc));
    rc = mdb_env_set_mapsize(m->env, LMDB_MAPSIZE);
    if (rc)
        return bench_fail(e, "mdb_env_set_mapsize: %s", mdb_strerror(rc));
    rc = mdb_env_set_maxreaders(m->env, 16);
    if (rc)
        return bench_fail(e, "mdb_env_set_maxreaders: %s", mdb_strerror(rc));
    rc = mdb_env_open(m->env, e->path, MDB_NOSUBDIR | flags, 0644);
    if (rc)
        return bench_fail(e, "mdb_env_open %s: %s", e->path, mdb_strerror(rc));
    return 0;
}

static void lm_close(bench_engine *e)
{
    lmdb_impl *m = e->impl;
    if (!m)
        return;
    if (m->rtxn) {
        mdb_txn_abort(m->rtxn);
        m->rtxn = NULL;
    }
    if (m->env) {
        mdb_env_close(m->env);
        m->env = NULL;
    }
}

static int lm_write(bench_engine *e, const bench_workload *w)
{
    lmdb_impl *m = e->impl;
    if (lm_env(e, 0) != 0) {
        lm_close(e);
        return -1;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc) {
        bench_fail(e, "mdb_txn_begin: %s", mdb_strerror(rc));
        goto fail;
    }
    rc = mdb_dbi_open(txn, NULL, 0, &m->dbi);
    if (rc) {
        bench_fail(e, "mdb_dbi_open: %s", mdb_strerror(rc));
        goto fail;
    }
    for (size_t i = 0; i < w->n; i++) {
        MDB_val k = {w->klen[i], (void *)(uintptr_t)workload_key(w, i)};
        MDB_val v = {w->len[i], w->data + w->off[i]};
        rc = mdb_put(txn, m->dbi, &k, &v, MDB_APPEND);
        if (rc) {
            bench_fail(e, "mdb_put %s: %s", workload_key(w, i), mdb_strerror(rc));
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        bench_fail(e, "mdb_txn_commit: %s", mdb_strerror(rc));
        goto fail;
    }
    rc = mdb_env_sync(m->env, 1);
    if (rc) {
        bench_fail(e, "mdb_env_sync: %s", mdb_strerror(rc));
        goto fail;
    }
    lm_close(e);
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    lm_close(e);
    return -1;
}

static int lm_open(bench_engine *e, const bench_workload *w)
{
    (void)w;
    lmdb_impl *m = e->impl;
    lm_close(e);
    if (lm_env(e, MDB_RDONLY | MDB_NORDAHEAD) != 0)
        goto fail;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &m->rtxn);
    if (rc) {
        bench_fail(e, "mdb_txn_begin(RDONLY): %s", mdb_strerror(rc));
        goto fail;
    }
    rc = mdb_dbi_open(m->rtxn, NULL, 0, &m->dbi);
    if (rc) {
        bench_fail(e, "mdb_dbi_open: %s", mdb_strerror(rc));
        goto fail;
    }
    mdb_txn_reset(m->rtxn);
    return 0;
fail:
    lm_close(e);
    return -1;
}

static int lm_renew(bench_engine *e)
{
    lmdb_impl *m = e->impl;
    int rc = mdb_txn_renew(m->rtxn);
    if (rc)
        return bench_fail(e, "mdb_txn_renew: %s", mdb_strerror(rc));
    return 0;
}

static int lm_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    (void)w;
    lmdb_impl *m = e->impl;
    if (lm_renew(e) != 0)
        return -1;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(m->rtxn, m->dbi, &cur);
    if (rc) {
        mdb_txn_reset(m->rtxn);
        return bench_fail(e, "mdb_cursor_open: %s", mdb_strerror(rc));
    }
    MDB_val k, v;
    int op = MDB_FIRST;
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        void *dst = sink_dest_key(sink, k.mv_data, k.mv_size, v.mv_size);
        if (dst)
            memcpy(dst, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(m->rtxn);
    if (rc != MDB_NOTFOUND)
        return bench_fail(e, "mdb_cursor_get: %s", mdb_strerror(rc));
    return 0;
}

/* One lookup inside the current read txn. */
static int lm_get1(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                   size_t *len)
{
    lmdb_impl *m = e->impl;
    MDB_val k = {w->klen[idx], (void *)(uintptr_t)workload_key(w, idx)};
    MDB_val v;
    int rc = mdb_get(m->rtxn, m->dbi, &k, &v);
    if (rc)
        return bench_fail(e, "mdb_get %s: %s", workload_key(w, idx), mdb_strerror(rc));
    if (v.mv_size > cap)
        return bench_fail(e, "mdb_get %s: %zu bytes do not fit %zu", workload_key(w, idx),
                          v.mv_size, cap);
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

static int lm_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                  size_t *len)
{
    lmdb_impl *m = e->impl;
    if (lm_renew(e) != 0)
        return -1;
    int rc = lm_get1(e, w, idx, buf, cap, len);
    mdb_txn_reset(m->rtxn);
    return rc;
}

static int lm_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                    bench_batch *b)
{
    lmdb_impl *m = e->impl;
    if (lm_renew(e) != 0)
        return -1;
    uint64_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t got = 0;
        rc = lm_get1(e, w, idx[k], b->dst + at, b->cap - at, &got);
        b->off[k] = at;
        b->len[k] = got;
        at += got;
    }
    mdb_txn_reset(m->rtxn);
    return rc;
}

static void lm_fini(bench_engine *e)
{
    lm_close(e);
    free(e->impl);
    e->impl = NULL;
}

const bench_engine_ops bench_engine_lmdb = {
    .name = "lmdb",
    .summary = "LMDB, one env + one DB, key -> record, MDB_APPEND bulk load",
    .init = lm_init,
    .write = lm_write,
    .open = lm_open,
    .close = lm_close,
    .scan = lm_scan,
    .get = lm_get,
    .get_batch = lm_batch,
    .fini = lm_fini,
};
