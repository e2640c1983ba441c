/* compact.c — copying the live records into a new file, reclaiming dead space. Records are
 * copied piece by piece through the streaming put, so memory stays at about two chunks even
 * for records of many GiB. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "store.h"

/* The live entries in a random order drawn from seed (Fisher-Yates over splitmix64): the
 * same seed gives the same order on every machine. NULL when memory runs out. */
static uint64_t *shuffled_order(const vls_index *ix, uint64_t seed)
{
    uint64_t *order = malloc((ix->live ? ix->live : 1) * sizeof *order), n = 0;
    if (!order)
        return NULL;
    for (uint64_t i = 0; i < ix->n; i++)
        if (ix->e[i].live)
            order[n++] = i;
    uint64_t x = seed;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        uint64_t j = z % i, t = order[i - 1]; /* modulo bias < i / 2^64: negligible */
        order[i - 1] = order[j];
        order[j] = t;
    }
    return order;
}

/* Copies the live records into dst: in storage order, or in `order` (live entry numbers,
 * src->ix.live of them) when given. */
static int copy_records(vls_store *src, vls_store *dst, const uint64_t *order)
{
    size_t bufcap = src->hdr.chunk_size;
    unsigned char *buf = malloc(bufcap);
    if (!buf)
        return vls_seterr(src, VLS_E_NOMEM, "no memory to compact");
    int rc = VLS_OK;
    uint64_t copied = 0, count = order ? src->ix.live : src->ix.n;
    for (uint64_t i = 0; rc == VLS_OK && i < count; i++) {
        const idx_entry *e = &src->ix.e[order ? order[i] : i];
        if (!e->live)
            continue;
        const unsigned char *key = idx_key(&src->ix, e);
        store_progress("records", ++copied, src->ix.live);
        XXH3_state_t *h = XXH3_createState();
        if (!h) {
            rc = VLS_E_NOMEM;
            break;
        }
        XXH3_64bits_reset(h);
        rc = store_put_begin(dst, key, e->key_len, e->len, 0);
        for (uint64_t done = 0; rc == VLS_OK && done < e->len;) {
            size_t n = e->len - done < bufcap ? (size_t)(e->len - done) : bufcap;
            int unverified = 0;
            rc = store_read_logical(src, e->off + done, n, buf, &unverified);
            if (rc == VLS_OK) {
                XXH3_64bits_update(h, buf, n);
                rc = store_put_append(dst, buf, n);
            }
            done += n;
        }
        /* never carry damaged bytes into the new file */
        if (rc == VLS_OK && XXH3_64bits_digest(h) != e->hash)
            rc = vls_seterr(src, VLS_E_CHECKSUM, "record at logical offset %llu: hash mismatch, "
                            "not copied", (unsigned long long)e->off);
        XXH3_freeState(h);
        if (rc == VLS_OK)
            rc = store_put_end(dst, key, e->key_len);
        else
            dst->streaming = 0;
    }
    free(buf);
    return rc;
}

/* vls_compact, with the records in storage order (shuffle 0) or shuffled by seed. */
static int compact_to(vls_store *s, const char *out_path, int shuffle, uint64_t seed)
{
    if (!s || !out_path)
        return vls_seterr(s, VLS_E_INVAL, "vls_compact: NULL argument");
    vls_options o = s->opts;
    o.cache_bytes = 0;
    o.threads = s->cp.threads;
    vls_store *d;
    int existed = access(out_path, F_OK) == 0;
    int rc = vls_open(out_path, VLS_CREATE | VLS_EXCL | (s->flags & VLS_NOSYNC), &o, &d);
    if (rc != VLS_OK) {
        vls_seterr(s, rc, "compact: %s", vls_errmsg(NULL));
        /* an open that failed after creating the file (out of memory) must not leave an empty
         * store that looks like the result (test_oom: test_regress_compact_leaves_output) */
        if (!existed && rc != VLS_E_EXISTS)
            io_unlink(out_path);
        return rc;
    }
    pthread_rwlock_rdlock(&s->lock);
    uint64_t *order = shuffle ? shuffled_order(&s->ix, seed) : NULL;
    if (shuffle && !order)
        rc = vls_seterr(s, VLS_E_NOMEM, "no memory for the order of %llu records",
                        (unsigned long long)s->ix.live);
    else
        rc = copy_records(s, d, order);
    free(order);
    if (rc == VLS_OK && (rc = meta_copy(d, s)) != VLS_OK)
        vls_seterr(s, rc, "compact: %s", vls_errmsg(d));
    pthread_rwlock_unlock(&s->lock);
    if (rc == VLS_OK) {
        rc = vls_commit(d);
        if (rc != VLS_OK)
            vls_seterr(s, rc, "compact: %s", vls_errmsg(d));
    } else if (d->failed) {
        vls_seterr(s, rc, "compact: %s", vls_errmsg(d));
    }
    store_free(d); /* already committed (or abandoned): nothing more to commit */
    if (rc != VLS_OK)
        io_unlink(out_path);
    return rc;
}

/* Removes PATH.tmp-compact-<pid> files (and PATH.tmp-compact-<pid>.tmp-create-<pid>, from the
 * creation of one) left by compactions that died (killed, power loss).
 * Safe while we hold the writer lock on PATH: a compaction that is still running holds it
 * until its temporary file has been renamed over PATH. */
static void remove_stale_temps(const char *path)
{
    char dir[PATH_MAX], name[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    else
        strcpy(dir, ".");
    size_t blen = strlen(base), plen = sizeof ".tmp-compact-" - 1;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp-compact-", plen) != 0)
            continue;
        const char *pid = n + blen + plen;
        size_t digits = strspn(pid, "0123456789");
        /* PATH.tmp-compact-PID, or the temporary of its own creation
         * (…-PID.tmp-create-PID-RANDOM, RANDOM in hex) */
        const char *create = pid + digits + 12;
        if (!digits || (pid[digits] && (strncmp(pid + digits, ".tmp-create-", 12) != 0 ||
                                        !*create ||
                                        strspn(create, "0123456789-abcdef") != strlen(create))))
            continue;
        if (snprintf(name, sizeof name, "%s/%s", dir, n) < (int)sizeof name)
            io_unlink(name);
    }
    closedir(d);
}

int vls_compact(vls_store *s, const char *out_path)
{
    return compact_to(s, out_path, 0, 0);
}

int vls_compact_shuffled(vls_store *s, const char *out_path, uint64_t seed)
{
    return compact_to(s, out_path, 1, seed);
}

static int compact_file(const char *path, const char *out_path, int shuffle, uint64_t seed)
{
    vls_store *s;
    char resolved[PATH_MAX];
    if (!path)
        return vls_seterr(NULL, VLS_E_INVAL, "vls_compact_file: path is NULL");
    /* a symlinked store is compacted where it lives: the new file is renamed over the link's
     * target (renamed over the link, it replaced the link and left the store untouched) */
    path = io_resolve_link(path, resolved);
    /* Take the writer lock so nobody appends while we copy. */
    int rc = vls_open(path, VLS_RDWR, NULL, &s);
    if (rc != VLS_OK)
        return rc;
    char tmp[PATH_MAX];
    const char *target = out_path;
    if (!out_path) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp-compact-%ld", path, (long)getpid()) >=
            (int)sizeof tmp) {
            store_free(s);
            return vls_seterr(NULL, VLS_E_INVAL, "%s: path too long", path);
        }
        remove_stale_temps(path);
        target = tmp;
    }
    rc = compact_to(s, target, shuffle, seed);
    if (rc != VLS_OK) {
        vls_seterr(NULL, rc, "%s", vls_errmsg(s));
    } else if (!out_path) {
        /* the new file is complete and synced: swap it in, then make the rename durable */
        int err = 0;
        if (io_rename(tmp, path, &err) != VLS_OK) {
            rc = vls_seterr(NULL, VLS_E_IO, "%s: rename of the compacted file failed: %s", path,
                            strerror(err));
            io_unlink(tmp);
        } else if (io_sync_dir(path) != 0) {
            /* the compacted file is in place and whole; only the swap may not be durable */
            rc = vls_seterr(NULL, VLS_E_IO, "%s: compacted, but syncing its directory failed "
                            "(%s): after a power loss the file from before the compaction, "
                            "with the same records, may come back", path, strerror(errno));
        }
    }
    store_free(s); /* nothing to commit on the old file */
    return rc;
}

int vls_compact_file(const char *path, const char *out_path)
{
    return compact_file(path, out_path, 0, 0);
}

int vls_compact_file_shuffled(const char *path, const char *out_path, uint64_t seed)
{
    return compact_file(path, out_path, 1, seed);
}
