/*
 * util.c — clocks, files, the key table, the scan sink and the loader's epoch log.
 */
#include "bench.h"

#include <blosc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bench_fail(bench_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return -1;
}

/*-*************************************
 *  Files
 ***************************************/
int fsync_path(const char *path, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "open %s for fsync: %s", path, strerror(errno));
        return -1;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errcap, "fsync %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Calls fn(path, st, ctx) for each regular file in dir. */
static int dir_each(const char *dir, int (*fn)(const char *, const struct stat *, void *),
                    void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    int count = 0;
    char p[PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (fn(p, &st, ctx) == 0)
            count++;
    }
    closedir(d);
    return count;
}

static int add_size(const char *p, const struct stat *st, void *ctx)
{
    (void)p;
    *(uint64_t *)ctx += (uint64_t)st->st_size;
    return 0;
}

uint64_t dir_bytes(const char *dir)
{
    uint64_t total = 0;
    dir_each(dir, add_size, &total);
    return total;
}

typedef struct {
    unsigned char *buf;
    uint64_t cap, at;
} read_all_ctx;

static int read_one(const char *p, const struct stat *st, void *ctx)
{
    read_all_ctx *c = ctx;
    if ((uint64_t)st->st_size > c->cap - c->at)
        return -1;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t k = 1;
    while (c->at < c->cap && (k = read(fd, c->buf + c->at, (size_t)(c->cap - c->at))) > 0)
        c->at += (uint64_t)k;
    close(fd);
    return k < 0 ? -1 : 0;
}

int dir_read_all(const char *dir, unsigned char *buf, uint64_t cap)
{
    read_all_ctx c = {buf, cap, 0};
    return dir_each(dir, read_one, &c) >= 0 && c.at == cap ? 0 : -1;
}

static int evict_one(const char *p, const struct stat *st, void *ctx)
{
    (void)st;
    (void)ctx;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return rc == 0 ? 0 : -1;
}

int dir_evict(const char *dir)
{
    return dir_each(dir, evict_one, NULL);
}

static int prewarm_one(const char *p, const struct stat *st, void *ctx)
{
    (void)st;
    uint8_t *buf = ctx;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ssize_t k;
    while ((k = read(fd, buf, 1 << 20)) > 0)
        ;
    close(fd);
    return k == 0 ? 0 : -1;
}

int dir_prewarm(const char *dir)
{
    uint8_t *buf = malloc(1 << 20);
    if (!buf)
        return -1;
    int n = dir_each(dir, prewarm_one, buf);
    free(buf);
    return n;
}

int dir_make(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int unlink_one(const char *p, const struct stat *st, void *ctx)
{
    (void)st;
    (void)ctx;
    return unlink(p);
}

void dir_remove(const char *dir)
{
    dir_each(dir, unlink_one, NULL);
    rmdir(dir);
}

/*-*************************************
 *  Key table
 ***************************************/
int keytab_build(bench_keytab *t, size_t n, const char *const *kptr, const uint16_t *klen)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    if (!t->slot)
        return -1;
    t->mask = cap - 1;
    t->kptr = kptr;
    t->klen = klen;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)XXH3_64bits(kptr[i], klen[i]) & t->mask;
        while (t->slot[h] != 0)
            h = (h + 1) & t->mask;
        t->slot[h] = (uint32_t)(i + 1);
    }
    return 0;
}

long keytab_find(const bench_keytab *t, const void *key, size_t klen)
{
    size_t h = (size_t)XXH3_64bits(key, klen) & t->mask;
    for (;;) {
        uint32_t v = t->slot[h];
        if (v == 0)
            return -1;
        size_t i = v - 1;
        if (t->klen[i] == klen && memcmp(t->kptr[i], key, klen) == 0)
            return (long)i;
        h = (h + 1) & t->mask;
    }
}

void keytab_free(bench_keytab *t)
{
    free(t->slot);
    t->slot = NULL;
}

/*-*************************************
 *  Scan sink
 ***************************************/
void *sink_dest_key(bench_scan_sink *s, const void *key, size_t klen, uint64_t len)
{
    long i = keytab_find(s->kt, key, klen);
    if (i < 0 || s->w->len[i] != len) {
        s->unknown++;
        return NULL;
    }
    if (s->seen[i])
        s->dups++;
    s->seen[i] = 1;
    return s->out + s->w->off[i];
}

void *sink_dest_idx(bench_scan_sink *s, size_t first, size_t count)
{
    if (first + count > s->w->n || count == 0) {
        s->unknown++;
        return NULL;
    }
    for (size_t i = first; i < first + count; i++) {
        if (s->seen[i])
            s->dups++;
        s->seen[i] = 1;
    }
    return s->out + s->w->off[first];
}

/*-*************************************
 *  Epoch log (what a loader served)
 ***************************************/
void epoch_log_record(bench_epoch_log *log, const bench_workload *w, const void *key,
                      size_t klen, const void *data, uint64_t len)
{
    long i = keytab_find(log->kt, key, klen);
    if (i >= 0 && (len != w->len[i] || XXH3_64bits(data, (size_t)len) != w->hash[i]) &&
        log->bad++ == 0)
        snprintf(log->bad_what, sizeof log->bad_what, "record %s: %s", workload_key(w, (size_t)i),
                 len != w->len[i] ? "wrong length" : "wrong bytes");
    if (i < 0 && !log->bad_what[0])
        snprintf(log->bad_what, sizeof log->bad_what, "a key the workload does not have");
    if (log->n < log->cap)
        log->idx[log->n] = i;
    log->n++;
}

void epoch_log_batch(bench_epoch_log *log, size_t n)
{
    if (log->nbatch < log->bcap)
        log->batch_len[log->nbatch] = (uint32_t)n;
    log->nbatch++;
}

size_t bench_blosc_request(const bench_blosc *b)
{
    if (b->codec != BLOSC_ZSTD && b->typesize > 1 && b->typesize <= 16)
        return b->block_size / (size_t)b->typesize;
    return b->block_size;
}

static int cmp_double_asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double_asc);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
