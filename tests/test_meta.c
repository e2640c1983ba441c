/* test_meta.c — per-store metadata (vls_meta_*, docs/FORMAT.md "Metadata block"):
 *   - set/get/delete/count/next, and the errors (read-only, too small, not found, bad key,
 *     too big);
 *   - it is part of a commit: uncommitted metadata dies with a killed writer; a crash at every
 *     write of a commit leaves the old document or the new one, never a mix; an older commit's
 *     trailer still names the document of its time;
 *   - old files (tests/golden/v1-small.vls, written before metadata existed) open with none,
 *     and take metadata from a new writer;
 *   - compaction keeps it, vls_refresh follows it, a damaged block is reported by name. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

/* The value under key as a C string in a static buffer, or "<rc>" when absent. */
static const char *meta(vls_store *s, const char *key)
{
    static char buf[256];
    uint64_t len;
    int rc = vls_meta_get(s, key, buf, sizeof buf - 1, &len);
    if (rc != VLS_OK)
        snprintf(buf, sizeof buf, "<%d>", rc);
    else
        buf[len] = 0;
    return buf;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int copy_prefix(const char *from, const char *to, uint64_t len)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out;
    char buf[4096];
    while (ok && len) {
        size_t n = fread(buf, 1, len < sizeof buf ? (size_t)len : sizeof buf, in);
        ok = n > 0 && fwrite(buf, 1, n, out) == n;
        len -= n;
    }
    if (in)
        fclose(in);
    if (out)
        ok &= fclose(out) == 0;
    return ok ? 0 : -1;
}

static void test_basics(void)
{
    const char *p = test_path("meta-basics");
    vls_store *s;
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, NULL, &s));
    CHECK(vls_meta_count(s) == 0);
    CHECK_OK(s, vls_meta_set(s, "units", "eV/Angstrom", 11));
    CHECK_OK(s, vls_meta_set(s, "level_of_theory", "PBE-D3", 6));
    CHECK_OK(s, vls_meta_set(s, "e0s", "{\"H\": -13.6}", 12));
    CHECK_OK(s, vls_meta_set(s, "empty", NULL, 0));
    CHECK_OK(s, vls_meta_set(s, "units", "eV/A", 4)); /* replaces */
    CHECK(vls_meta_count(s) == 4);
    CHECK(!strcmp(meta(s, "units"), "eV/A"));
    CHECK(!strcmp(meta(s, "empty"), ""));
    /* errors */
    uint64_t len = 0;
    char small[2];
    CHECK_RC(s, vls_meta_get(s, "level_of_theory", small, sizeof small, &len), VLS_E_TOOSMALL);
    CHECK(len == 6);
    CHECK_RC(s, vls_meta_get(s, "nope", small, sizeof small, &len), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_meta_delete(s, "nope"), VLS_E_NOTFOUND);
    CHECK_RC(s, vls_meta_set(s, "", "x", 1), VLS_E_INVAL);
    CHECK_RC(s, vls_meta_set(s, NULL, "x", 1), VLS_E_INVAL);
    char *longkey = malloc(VLS_META_MAX_KEY + 2);
    memset(longkey, 'k', VLS_META_MAX_KEY + 1);
    longkey[VLS_META_MAX_KEY + 1] = 0;
    CHECK_RC(s, vls_meta_set(s, longkey, "x", 1), VLS_E_INVAL);
    longkey[VLS_META_MAX_KEY] = 0;
    CHECK_OK(s, vls_meta_set(s, longkey, "x", 1));
    CHECK_OK(s, vls_meta_delete(s, longkey));
    free(longkey);
    char *big = calloc(VLS_META_MAX_BYTES, 1);
    CHECK_RC(s, vls_meta_set(s, "big", big, VLS_META_MAX_BYTES), VLS_E_TOOBIG);
    free(big);
    CHECK(strstr(vls_errmsg(s), "exceed") != NULL);
    CHECK_OK(s, vls_meta_delete(s, "empty"));
    CHECK(vls_meta_count(s) == 3);
    /* key order, views */
    uint64_t pos = 0;
    const char *k;
    const void *v;
    const char *want[] = {"e0s", "level_of_theory", "units"};
    int n = 0;
    while (vls_meta_next(s, &pos, &k, &v, &len) == 1) {
        CHECK(n < 3 && !strcmp(k, want[n]));
        CHECK(((const char *)v)[len] == 0);
        n++;
    }
    CHECK(n == 3);
    CHECK_OK(s, vls_close(s));

    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    CHECK(vls_meta_count(s) == 3);
    CHECK(!strcmp(meta(s, "e0s"), "{\"H\": -13.6}"));
    CHECK(!strcmp(meta(s, "units"), "eV/A"));
    CHECK_RC(s, vls_meta_set(s, "units", "x", 1), VLS_E_READONLY);
    CHECK_RC(s, vls_meta_delete(s, "units"), VLS_E_READONLY);
    vls_close(s);

    /* a metadata-only change is a commit of its own; removing every key leaves none */
    CHECK_OK(NULL, vls_open(p, VLS_RDWR, NULL, &s));
    CHECK_OK(s, vls_meta_delete(s, "units"));
    CHECK_OK(s, vls_commit(s));
    CHECK_OK(s, vls_meta_delete(s, "e0s"));
    CHECK_OK(s, vls_meta_delete(s, "level_of_theory"));
    CHECK_OK(s, vls_close(s));
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    CHECK(vls_meta_count(s) == 0);
    CHECK(vls_count(s) == 0);
    vls_close(s);

    /* in-memory stores carry it too */
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "a", "1", 1));
    CHECK_OK(s, vls_commit(s));
    CHECK(!strcmp(meta(s, "a"), "1"));
    vls_close(s);
    CHECK(vls_meta_count(NULL) == 0);
    unlink(p);
}

/* A writer killed before its commit loses its metadata with its records. */
static void test_uncommitted_dies_with_writer(void)
{
    const char *p = test_path("meta-kill");
    vls_store *s;
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "source", "run1", 4));
    CHECK_OK(s, vls_put_str(s, "k", "v", 1, 0));
    CHECK_OK(s, vls_close(s));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        vls_store *w;
        if (vls_open(p, VLS_RDWR, NULL, &w) != VLS_OK)
            _exit(1);
        vls_meta_set(w, "source", "run2", 4);
        vls_meta_set(w, "extra", "x", 1);
        vls_put_str(w, "k2", "v", 1, 0);
        _exit(0); /* killed: no commit */
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    CHECK(!strcmp(meta(s, "source"), "run1"));
    CHECK(vls_meta_count(s) == 1);
    CHECK(vls_count(s) == 1);
    vls_close(s);
    unlink(p);
}

/* A crash before every disk call of a commit that changes metadata and records (and, torn, in
 * the middle of every write) gives the old state or the new one, whole. */
static void test_crash_at_every_call(void)
{
    const char *base = test_path("meta-crash-base");
    const char *p = test_path("meta-crash");
    vls_store *s;
    CHECK_OK(NULL, vls_open(base, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "units", "old", 3));
    CHECK_OK(s, vls_put_str(s, "a", "1", 1, 0));
    CHECK_OK(s, vls_close(s));
    uint64_t base_len = file_size(base);
    int olds = 0, news = 0, mixed = 0;
    for (long n = 1; n < 100; n++) {
        for (int torn = 0; torn < 2; torn++) {
            CHECK(copy_prefix(base, p, base_len) == 0);
            CHECK_OK(NULL, vls_open(p, VLS_RDWR, NULL, &s));
            CHECK_OK(s, vls_meta_set(s, "units", "new", 3));
            CHECK_OK(s, vls_meta_set(s, "added", "yes", 3));
            CHECK_OK(s, vls_put_str(s, "b", "2", 1, 0));
            io_crash_set(n, torn);
            int rc = vls_commit(s);
            int crashed = io_crashed();
            io_crash_set(0, 0);
            s->failed = 1; /* the process is dead: nothing more reaches the file */
            vls_close(s);
            CHECK(crashed || rc == VLS_OK);
            CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
            if (!s)
                continue;
            int is_old = !strcmp(meta(s, "units"), "old") && vls_meta_count(s) == 1 &&
                         vls_count(s) == 1;
            int is_new = !strcmp(meta(s, "units"), "new") && !strcmp(meta(s, "added"), "yes") &&
                         vls_count(s) == 2;
            olds += is_old;
            news += is_new;
            mixed += !is_old && !is_new;
            vls_close(s);
            if (!crashed)
                goto done;
        }
    }
done:
    CHECK(mixed == 0);
    CHECK(olds > 0 && news > 0);
    printf("crash points: %d gave the old state, %d the new, %d mixed\n", olds, news, mixed);
    unlink(base);
    unlink(p);
}

/* Every trailer names the document of its commit: the file cut after commit 1 reads as of
 * commit 1, after commit 2 as of commit 2 (whose block commit 3 names again). */
static void test_older_commits_keep_theirs(void)
{
    const char *p = test_path("meta-history");
    const char *cut = test_path("meta-history-cut");
    vls_store *s;
    uint64_t ends[3];
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "v", "one", 3));
    CHECK_OK(s, vls_commit(s));
    ends[0] = file_size(p);
    CHECK_OK(s, vls_meta_set(s, "v", "two", 3));
    CHECK_OK(s, vls_commit(s));
    ends[1] = file_size(p);
    CHECK_OK(s, vls_put_str(s, "rec", "x", 1, 0)); /* records only: the block is named again */
    CHECK_OK(s, vls_commit(s));
    ends[2] = file_size(p);
    CHECK_OK(s, vls_close(s));
    const char *want[] = {"one", "two", "two"};
    for (int i = 0; i < 3; i++) {
        CHECK(copy_prefix(p, cut, ends[i]) == 0);
        CHECK_OK(NULL, vls_open(cut, VLS_RDONLY, NULL, &s));
        if (s) {
            CHECK(!strcmp(meta(s, "v"), want[i]));
            vls_close(s);
        }
    }
    /* commit 3 wrote no new block: it costs a segment and a trailer only */
    CHECK(ends[2] - ends[1] < 256);
    unlink(p);
    unlink(cut);
}

static void test_old_file_has_none(void)
{
    char golden[PATH_MAX];
    snprintf(golden, sizeof golden, "%s", __FILE__);
    char *slash = strrchr(golden, '/');
    snprintf(slash ? slash + 1 : golden, sizeof golden - (size_t)(slash ? slash + 1 - golden : 0),
             "golden/v1-small.vls");
    const char *p = test_path("meta-golden");
    vls_store *s;
    int rc = vls_open(golden, VLS_RDONLY, NULL, &s);
    CHECK_OK(NULL, rc);
    if (rc != VLS_OK)
        return;
    uint64_t records = vls_count(s);
    CHECK(records > 0);
    CHECK(vls_meta_count(s) == 0);
    uint64_t len;
    CHECK_RC(s, vls_meta_get(s, "units", NULL, 0, &len), VLS_E_NOTFOUND);
    vls_close(s);
    /* a new writer adds metadata to an old file */
    CHECK(copy_prefix(golden, p, file_size(golden)) == 0);
    CHECK_OK(NULL, vls_open(p, VLS_RDWR, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "source", "golden", 6));
    CHECK_OK(s, vls_close(s));
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    CHECK(!strcmp(meta(s, "source"), "golden"));
    CHECK(vls_count(s) == records);
    uint64_t problems = 1;
    CHECK_OK(s, vls_verify(s, NULL, NULL, &problems));
    CHECK(problems == 0);
    vls_close(s);
    unlink(p);
}

static void test_compact_refresh_damage(void)
{
    const char *p = test_path("meta-compact");
    const char *out = test_path("meta-compacted");
    vls_store *s, *r;
    CHECK_OK(NULL, vls_open(p, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "units", "eV", 2));
    CHECK_OK(s, vls_put_str(s, "a", "1", 1, 0));
    CHECK_OK(s, vls_commit(s));
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &r));
    CHECK_OK(s, vls_meta_set(s, "units", "Ha", 2));
    CHECK_OK(s, vls_commit(s));
    CHECK(!strcmp(meta(r, "units"), "eV")); /* a reader sees its commit's document */
    CHECK_OK(r, vls_refresh(r));
    CHECK(!strcmp(meta(r, "units"), "Ha"));
    vls_close(r);
    CHECK_OK(s, vls_close(s));

    /* a reader follows an in-place compaction (the file replaced) to its metadata */
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &r));
    CHECK_OK(NULL, vls_open(p, VLS_RDWR, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "units", "Ry", 2));
    CHECK_OK(s, vls_close(s));
    CHECK_OK(NULL, vls_compact_file(p, NULL));
    CHECK(!strcmp(meta(r, "units"), "Ha"));
    CHECK_OK(r, vls_refresh(r));
    CHECK(!strcmp(meta(r, "units"), "Ry"));
    vls_close(r);
    CHECK_OK(NULL, vls_open(p, VLS_RDWR, NULL, &s));
    CHECK_OK(s, vls_meta_set(s, "units", "Ha", 2));
    CHECK_OK(s, vls_close(s));

    CHECK_OK(NULL, vls_compact_file(p, out));
    CHECK_OK(NULL, vls_open(out, VLS_RDONLY, NULL, &s));
    CHECK(!strcmp(meta(s, "units"), "Ha"));
    CHECK(vls_count(s) == 1);
    vls_close(s);
    CHECK_OK(NULL, vls_compact_file(p, NULL)); /* in place */
    CHECK_OK(NULL, vls_open(p, VLS_RDONLY, NULL, &s));
    CHECK(!strcmp(meta(s, "units"), "Ha"));
    vls_close(s);

    /* flip a byte of the block's value: the open names the metadata block */
    FILE *f = fopen(out, "r+b");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    char *at = memmem(buf, n, "units\002Ha", 8);
    CHECK(at != NULL);
    if (at) {
        fseek(f, (long)(at - buf) + 6, SEEK_SET);
        fputc('X', f);
    }
    fclose(f);
    int rc = vls_open(out, VLS_RDONLY, NULL, &s);
    CHECK(rc == VLS_E_CHECKSUM);
    CHECK(strstr(vls_errmsg(NULL), "metadata block") != NULL);
    if (rc == VLS_OK)
        vls_close(s);
    unlink(p);
    unlink(out);
}

int main(void)
{
    test_basics();
    test_uncommitted_dies_with_writer();
    test_crash_at_every_call();
    test_older_commits_keep_theirs();
    test_old_file_has_none();
    test_compact_refresh_damage();
    return test_done("test_meta");
}
