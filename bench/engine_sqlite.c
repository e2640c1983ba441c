/*
 * engine_sqlite.c — SQLite: CREATE TABLE r (id INTEGER PRIMARY KEY, k BLOB UNIQUE NOT NULL,
 * v BLOB NOT NULL). Records live in rowid order (= write order); lookups go through the
 * unique index on k.
 *
 * Write: journal_mode=WAL, synchronous=FULL, cache_size = the shared cache budget; one
 * transaction of prepared INSERTs, COMMIT (fsyncs the WAL), then wal_checkpoint(TRUNCATE) so
 * the data sits in the database file, synced, and the WAL is empty: the durable end state.
 * Reads: a query_only connection with the same cache budget, SQLite's default I/O (read(),
 * no mmap) — or, for "sqlite-mmap", mmap_size = 1 GiB, SQLite's counterpart of the map LMDB
 * and vlstore read through — prepared statements, one read transaction per get or batch.
 * sqlite-mmap maps with MADV_RANDOM, as vlstore and LMDB (MDB_NORDAHEAD) do: SQLite has no
 * setting for it, so the unix VFS's "mmap" system call is replaced by one that adds the hint
 * (xSetSystemCall, SQLite's own hook for this), from init to fini.
 */
#include "bench.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

typedef struct sqlite_impl {
    int mmap; /* sqlite-mmap: reads through a 1 GiB mmap_size */
    sqlite3 *db;
    sqlite3_stmt *get;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
} sqlite_impl;

static int sq_init_with(bench_engine *e, int use_mmap)
{
    sqlite_impl *s = calloc(1, sizeof *s);
    if (!s)
        return bench_fail(e, "out of memory");
    s->mmap = use_mmap;
    e->impl = s;
    snprintf(e->path, sizeof e->path, "%s/store.sqlite", e->dir);
    snprintf(e->settings, sizeof e->settings,
             "SQLite %s; table (id INTEGER PRIMARY KEY, k BLOB UNIQUE, v BLOB), page size "
             "%d; WAL, synchronous=FULL, one transaction of prepared INSERTs, then "
             "wal_checkpoint(TRUNCATE); cache_size %llu MiB; reads %s; read txn per get or "
             "batch",
             sqlite3_libversion(), 4096, (unsigned long long)(e->cfg->cache_bytes >> 20),
             use_mmap ? "through mmap (mmap_size 1 GiB, MADV_RANDOM)"
                      : "through read() (SQLite's default, mmap off)");
    return 0;
}

static int sq_init(bench_engine *e)
{
    return sq_init_with(e, 0);
}

/* The unix VFS's mmap, plus the random-access hint. */
static void *mmap_random(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED)
        madvise(p, len, MADV_RANDOM);
    return p;
}

static int sq_init_mmap(bench_engine *e)
{
    sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
    if (!vfs || vfs->iVersion < 3 || !vfs->xSetSystemCall ||
        vfs->xSetSystemCall(vfs, "mmap", (sqlite3_syscall_ptr)mmap_random) != SQLITE_OK)
        return bench_fail(e, "this SQLite's VFS cannot replace its mmap call (xSetSystemCall)");
    return sq_init_with(e, 1);
}

static int sq_exec(bench_engine *e, const char *sql)
{
    sqlite_impl *s = e->impl;
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        bench_fail(e, "sqlite3_exec \"%s\": %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_prepare(bench_engine *e, const char *sql, sqlite3_stmt **st)
{
    sqlite_impl *s = e->impl;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return bench_fail(e, "sqlite3_prepare_v2 \"%s\": %s", sql, sqlite3_errmsg(s->db));
    return 0;
}

static void sq_close(bench_engine *e)
{
    sqlite_impl *s = e->impl;
    if (!s)
        return;
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    s->get = s->begin = s->commit = NULL;
    if (s->db) {
        sqlite3_close_v2(s->db);
        s->db = NULL;
    }
}

static int sq_open_db(bench_engine *e, int flags)
{
    sqlite_impl *s = e->impl;
    int rc = sqlite3_open_v2(e->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return bench_fail(e, "sqlite3_open_v2 %s: %s", e->path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%llu",
             (unsigned long long)(e->cfg->cache_bytes >> 10));
    return sq_exec(e, sql);
}

static int sq_write(bench_engine *e, const bench_workload *w)
{
    sqlite_impl *s = e->impl;
    sqlite3_stmt *ins = NULL;
    if (sq_open_db(e, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) != 0)
        goto fail;
    if (sq_exec(e, "PRAGMA page_size=4096") != 0 || sq_exec(e, "PRAGMA journal_mode=WAL") != 0 ||
        sq_exec(e, "PRAGMA synchronous=FULL") != 0 ||
        sq_exec(e, "CREATE TABLE r (id INTEGER PRIMARY KEY, k BLOB UNIQUE NOT NULL, "
                   "v BLOB NOT NULL)") != 0 ||
        sq_exec(e, "BEGIN") != 0)
        goto fail;
    if (sq_prepare(e, "INSERT INTO r(k, v) VALUES(?1, ?2)", &ins) != 0)
        goto fail;
    for (size_t i = 0; i < w->n; i++) {
        int rc = sqlite3_bind_blob(ins, 1, workload_key(w, i), w->klen[i], SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(ins, 2, w->data + w->off[i], (int)w->len[i], SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            bench_fail(e, "sqlite3_bind_blob %s: %s", workload_key(w, i), sqlite3_errmsg(s->db));
            goto fail;
        }
        rc = sqlite3_step(ins);
        if (rc != SQLITE_DONE) {
            bench_fail(e, "INSERT %s: %s", workload_key(w, i), sqlite3_errmsg(s->db));
            goto fail;
        }
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    ins = NULL;
    if (sq_exec(e, "COMMIT") != 0)
        goto fail;
    int nlog = -1, nckpt = -1;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
    if (rc != SQLITE_OK) {
        bench_fail(e, "sqlite3_wal_checkpoint_v2(TRUNCATE): %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    sq_close(e);
    return 0;
fail:
    sqlite3_finalize(ins);
    sq_close(e);
    return -1;
}

static int sq_open(bench_engine *e, const bench_workload *w)
{
    (void)w;
    sqlite_impl *s = e->impl;
    sq_close(e);
    /* Read-write connection with query_only: a read-only one cannot create the WAL-index
     * (-shm) file that reading a WAL database needs. */
    if (sq_open_db(e, SQLITE_OPEN_READWRITE) != 0 || sq_exec(e, "PRAGMA query_only=1") != 0 ||
        (s->mmap && sq_exec(e, "PRAGMA mmap_size=1073741824") != 0) ||
        sq_prepare(e, "SELECT v FROM r WHERE k = ?1", &s->get) != 0 ||
        sq_prepare(e, "BEGIN", &s->begin) != 0 || sq_prepare(e, "COMMIT", &s->commit) != 0) {
        sq_close(e);
        return -1;
    }
    return 0;
}

static int sq_step_done(bench_engine *e, sqlite3_stmt *st, const char *what)
{
    sqlite_impl *s = e->impl;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return bench_fail(e, "%s: %s", what, sqlite3_errmsg(s->db));
    return 0;
}

static int sq_scan(bench_engine *e, const bench_workload *w, bench_scan_sink *sink)
{
    (void)w;
    sqlite_impl *s = e->impl;
    sqlite3_stmt *st = NULL;
    if (sq_prepare(e, "SELECT k, v FROM r ORDER BY id", &st) != 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *k = sqlite3_column_blob(st, 0);
        int kl = sqlite3_column_bytes(st, 0);
        const void *v = sqlite3_column_blob(st, 1);
        int vl = sqlite3_column_bytes(st, 1);
        void *dst = sink_dest_key(sink, k, (size_t)kl, (uint64_t)vl);
        if (dst && vl > 0)
            memcpy(dst, v, (size_t)vl);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return bench_fail(e, "SELECT k, v scan: %s", sqlite3_errmsg(s->db));
    return 0;
}

static int sq_get1(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                   size_t *len)
{
    sqlite_impl *s = e->impl;
    int rc = sqlite3_bind_blob(s->get, 1, workload_key(w, idx), w->klen[idx], SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return bench_fail(e, "sqlite3_bind_blob: %s", sqlite3_errmsg(s->db));
    rc = sqlite3_step(s->get);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s->get);
        if (rc == SQLITE_DONE)
            return bench_fail(e, "SELECT %s: no such row", workload_key(w, idx));
        return bench_fail(e, "SELECT %s: %s", workload_key(w, idx), sqlite3_errmsg(s->db));
    }
    const void *v = sqlite3_column_blob(s->get, 0);
    size_t vl = (size_t)sqlite3_column_bytes(s->get, 0);
    if (vl > cap) {
        sqlite3_reset(s->get);
        return bench_fail(e, "SELECT %s: %zu bytes do not fit %zu", workload_key(w, idx), vl,
                          cap);
    }
    if (vl)
        memcpy(buf, v, vl);
    *len = vl;
    sqlite3_reset(s->get);
    return 0;
}

static int sq_get(bench_engine *e, const bench_workload *w, size_t idx, void *buf, size_t cap,
                  size_t *len)
{
    /* A lone statement runs in its own implicit read transaction. */
    return sq_get1(e, w, idx, buf, cap, len);
}

static int sq_batch(bench_engine *e, const bench_workload *w, const size_t *idx, size_t n,
                    bench_batch *b)
{
    sqlite_impl *s = e->impl;
    if (sq_step_done(e, s->begin, "BEGIN") != 0)
        return -1;
    uint64_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t got = 0;
        rc = sq_get1(e, w, idx[k], b->dst + at, b->cap - at, &got);
        b->off[k] = at;
        b->len[k] = got;
        at += got;
    }
    if (sq_step_done(e, s->commit, "COMMIT") != 0)
        return -1;
    return rc;
}

static void sq_fini(bench_engine *e)
{
    sqlite_impl *s = e->impl;
    sq_close(e);
    if (s && s->mmap) {
        sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
        vfs->xSetSystemCall(vfs, "mmap", NULL); /* back to the real mmap */
    }
    free(e->impl);
    e->impl = NULL;
}

const bench_engine_ops bench_engine_sqlite = {
    .name = "sqlite",
    .summary = "SQLite table (id, k UNIQUE, v BLOB), WAL, synchronous=FULL",
    .init = sq_init,
    .write = sq_write,
    .open = sq_open,
    .close = sq_close,
    .scan = sq_scan,
    .get = sq_get,
    .get_batch = sq_batch,
    .fini = sq_fini,
};

const bench_engine_ops bench_engine_sqlite_mmap = {
    .name = "sqlite-mmap",
    .summary = "the same, reading through mmap (mmap_size 1 GiB, MADV_RANDOM)",
    .init = sq_init_mmap,
    .write = sq_write,
    .open = sq_open,
    .close = sq_close,
    .scan = sq_scan,
    .get = sq_get,
    .get_batch = sq_batch,
    .fini = sq_fini,
};
