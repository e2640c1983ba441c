/* test_faults — write errors, a full disk, and failing system calls.
 *
 * 1. Injected faults (io.c's hook): for N = 1, 2, ... the Nth disk-changing call of an
 *    operation fails (ENOSPC, EIO, a short write; once and persistently) until the operation
 *    completes, for: put+commit; creating a store; VLS_TRUNCATE over a store; padding a torn
 *    tail at a writer's open (once); in-place compaction. Each failure must return an error code
 *    (with a message), leave a failed handle refusing further writes (VLS_E_FAILED), leave no
 *    temporary file behind, and the file must reopen exactly as of its last commit.
 * 2. Real system calls failing (a shim, below): pwrite (EINTR, short, 0 bytes, EDQUOT,
 *    EFBIG), fdatasync and fsync, pread (EINTR, EIO, end of file), fstat, flock,
 *    link (no hard links: the rename fallback; a racing creator), rename, opening the
 *    directory to sync it, mmap (reads fall back to pread), a name replaced again and again;
 *    and the paths where the OS refuses: a name too long, a missing directory, a directory or
 *    a socket given as a store. Every error path of src/io.c and the read and write error
 *    paths of src/store.c are reached (docs/RELIABILITY.md lists the few that cannot be).
 *
 * The shim: this program defines pread, pwrite, fdatasync, fsync, fstat, flock, link,
 * rename, open, stat and mmap itself. The library is linked statically, so its calls bind to these
 * definitions, which call the real ones (dlsym RTLD_NEXT) unless a failure is armed. */
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "testutil.h"

/* ---- the system-call shim ---------------------------------------------------------------- */
enum { SYS_PREAD, SYS_PWRITE, SYS_FDATASYNC, SYS_FSYNC, SYS_FSTAT, SYS_FLOCK, SYS_LINK,
       SYS_RENAME, SYS_OPENDIR, SYS_MMAP, SYS_STAT, NSYS };
static struct {
    long nth;      /* the nth call from arming fails (0: disarmed) */
    long calls;
    int err;       /* errno to fail with; 0 with ret_zero: return 0 (end of file / no bytes) */
    int ret_zero;
    int short_io;  /* pread/pwrite: do only half the bytes (a success, not a failure) */
    int once;      /* fail only the nth call, not every later one */
    int race;      /* link: do it, then fail (another process made the name meanwhile) */
} shim[NSYS];

static void shim_arm(int which, long nth, int err, int once)
{
    memset(&shim[which], 0, sizeof shim[which]);
    shim[which].nth = nth;
    shim[which].err = err;
    shim[which].once = once;
}

static void shim_off(void)
{
    memset(shim, 0, sizeof shim);
}

/* 1: fail this call (errno set by the caller), 0: go ahead. */
static int shim_hit(int which)
{
    if (shim[which].nth <= 0)
        return 0;
    long c = ++shim[which].calls;
    return c == shim[which].nth || (!shim[which].once && c > shim[which].nth);
}

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort();
    return f;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*f)(int, void *, size_t, off_t);
    if (!f)
        f = (ssize_t (*)(int, void *, size_t, off_t))real("pread");
    if (shim_hit(SYS_PREAD)) {
        if (shim[SYS_PREAD].ret_zero)
            return 0;
        if (shim[SYS_PREAD].short_io && n > 1)
            return f(fd, buf, n / 2, off);
        errno = shim[SYS_PREAD].err;
        return -1;
    }
    return f(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*f)(int, const void *, size_t, off_t);
    if (!f)
        f = (ssize_t (*)(int, const void *, size_t, off_t))real("pwrite");
    if (shim_hit(SYS_PWRITE)) {
        if (shim[SYS_PWRITE].ret_zero)
            return 0;
        if (shim[SYS_PWRITE].short_io && n > 1)
            return f(fd, buf, n / 2, off);
        errno = shim[SYS_PWRITE].err;
        return -1;
    }
    return f(fd, buf, n, off);
}

#define SHIM_INT1(name, which, T1)                                                          \
    int name(T1 a)                                                                          \
    {                                                                                       \
        static int (*f)(T1);                                                                \
        if (!f)                                                                             \
            f = (int (*)(T1))real(#name);                                                   \
        if (shim_hit(which)) {                                                              \
            errno = shim[which].err;                                                        \
            return -1;                                                                      \
        }                                                                                   \
        return f(a);                                                                        \
    }
#define SHIM_INT2(name, which, T1, T2)                                                      \
    int name(T1 a, T2 b)                                                                    \
    {                                                                                       \
        static int (*f)(T1, T2);                                                            \
        if (!f)                                                                             \
            f = (int (*)(T1, T2))real(#name);                                               \
        if (shim_hit(which)) {                                                              \
            errno = shim[which].err;                                                        \
            return -1;                                                                      \
        }                                                                                   \
        return f(a, b);                                                                     \
    }
SHIM_INT1(fdatasync, SYS_FDATASYNC, int)
SHIM_INT1(fsync, SYS_FSYNC, int)
SHIM_INT2(fstat, SYS_FSTAT, int, struct stat *)
SHIM_INT2(flock, SYS_FLOCK, int, int)

int link(const char *from, const char *to)
{
    static int (*f)(const char *, const char *);
    if (!f)
        f = (int (*)(const char *, const char *))real("link");
    if (shim_hit(SYS_LINK)) {
        if (shim[SYS_LINK].race)
            f(from, to);
        errno = shim[SYS_LINK].err;
        return -1;
    }
    return f(from, to);
}

/* stat: armed, it reports another inode (the file was replaced under the name) */
int stat(const char *path, struct stat *st)
{
    static int (*f)(const char *, struct stat *);
    if (!f)
        f = (int (*)(const char *, struct stat *))real("stat");
    int rc = f(path, st);
    if (rc == 0 && shim_hit(SYS_STAT))
        st->st_ino ^= 0x5a5a;
    return rc;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    static void *(*f)(void *, size_t, int, int, int, off_t);
    if (!f)
        f = (void *(*)(void *, size_t, int, int, int, off_t))real("mmap");
    if (fd >= 0 && shim_hit(SYS_MMAP)) {
        errno = shim[SYS_MMAP].err;
        return MAP_FAILED;
    }
    return f(addr, len, prot, flags, fd, off);
}
SHIM_INT2(rename, SYS_RENAME, const char *, const char *)

/* open: only opening a directory (to sync it) is made to fail */
int open(const char *path, int flags, ...)
{
    static int (*f)(const char *, int, ...);
    mode_t mode = 0;
    if (!f)
        f = (int (*)(const char *, int, ...))real("open");
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if ((flags & O_DIRECTORY) && shim_hit(SYS_OPENDIR)) {
        errno = shim[SYS_OPENDIR].err;
        return -1;
    }
    return f(path, flags, mode);
}

/* ---- helpers ------------------------------------------------------------------------------ */
static unsigned char *rec;

static void make_base(const char *path, vls_options *o)
{
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE, o, &s));
    test_fill(rec, 100000, 1, 1);
    CHECK_OK(s, vls_put_str(s, "base", rec, 100000, 0));
    CHECK_OK(s, vls_close(s));
}

/* 1 when the store at path opens and holds the base record (and "new" whole, or absent, as
 * expect_new says: 1 present, 0 absent, -1 either), and, with "new" expected, verifies. */
static int check_contents(const char *path, int expect_new)
{
    vls_store *s;
    int ok = vls_open(path, VLS_RDONLY, NULL, &s) == VLS_OK;
    if (!ok)
        return 0;
    static unsigned char buf[300000], want[300000];
    size_t len;
    test_fill(want, 100000, 1, 1);
    ok &= vls_get_str(s, "base", buf, sizeof buf, &len) == VLS_OK && len == 100000 &&
          memcmp(buf, want, len) == 0;
    int rc = vls_get_str(s, "new", buf, sizeof buf, &len);
    if (expect_new >= 0)
        ok &= expect_new ? rc == VLS_OK : rc == VLS_E_NOTFOUND;
    if (rc == VLS_OK) { /* if the new record is visible it is whole */
        test_fill(want, 250000, 2, 0);
        ok &= len == 250000 && memcmp(buf, want, len) == 0;
    }
    /* verify also reports bytes after the last commit (a failed commit's torn tail) */
    ok &= vls_verify(s, NULL, NULL, NULL) == VLS_OK || expect_new != 1;
    vls_close(s);
    return ok;
}

/* No PATH.tmp-* file is left beside path (temporary names end in a random part). */
static int no_tmp_files(const char *path)
{
    char pattern[600];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.tmp-*", path);
    int found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return !found;
}

static void clean_tmp_files(const char *path)
{
    char pattern[600];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.tmp-create-*", path);
    if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
    globfree(&g);
}

static const struct {
    int err, persistent, short_write, expect;
} kinds[] = {{ENOSPC, 0, 0, VLS_E_NOSPC}, {ENOSPC, 1, 1, VLS_E_NOSPC},
             {EIO, 0, 0, VLS_E_IO},       {EIO, 1, 0, VLS_E_IO}};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* ---- 1. injected faults ---------------------------------------------------------------------- */
static long put_commit_faults(const char *path)
{
    long cases = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        for (long nth = 1;; nth++) {
            vls_options o;
            vls_options_init(&o);
            o.chunk_size = 65536; /* several chunk writes per commit */
            o.block_size = 16384;
            make_base(path, &o);
            vls_store *s;
            CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
            test_fill(rec, 250000, 2, 0);
            io_fault_set(nth, kinds[k].err, kinds[k].persistent, kinds[k].short_write);
            int rc = vls_put_str(s, "new", rec, 250000, 0);
            if (rc == VLS_OK)
                rc = vls_commit(s);
            long calls = io_fault_calls();
            io_fault_set(0, 0, 0, 0);
            cases++;
            if (rc == VLS_OK) { /* the sequence completed: N passed its last I/O call */
                CHECK(calls < nth);
                CHECK_OK(s, vls_close(s));
                CHECK(check_contents(path, 1));
                break;
            }
            CHECK(rc == kinds[k].expect);
            CHECK(vls_errmsg(s)[0] != 0);
            /* a failed handle refuses further writes, and close does not commit */
            CHECK_RC(s, vls_put_str(s, "more", "x", 1, 0), VLS_E_FAILED);
            CHECK_RC(s, vls_commit(s), VLS_E_FAILED);
            vls_close(s);
            /* the failure may hit the final sync after the trailer was written: then the new
             * record may be there (whole) or not; before that it must not be */
            CHECK(check_contents(path, -1));
            /* and the file takes new writes after reopening */
            CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
            CHECK_OK(s, vls_put_str(s, "after", "ok", 2, 0));
            CHECK_OK(s, vls_close(s));
            CHECK(check_contents(path, -1));
            if (nth > 1000) {
                CHECK(0);
                break;
            }
        }
    }
    return cases;
}

/* Creating a store: write the header to PATH.tmp-create-PID-RANDOM, sync it, link it to PATH, remove
 * the temporary name, sync the directory. A failure leaves no store and no temporary file. */
static long create_faults(const char *path)
{
    long cases = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        for (long nth = 1;; nth++) {
            unlink(path);
            vls_store *s = NULL;
            io_fault_set(nth, kinds[k].err, kinds[k].persistent, kinds[k].short_write);
            int rc = vls_open(path, VLS_CREATE | VLS_EXCL, NULL, &s);
            long calls = io_fault_calls();
            io_fault_set(0, 0, 0, 0);
            cases++;
            /* the temporary name is removed, unless removing it is what failed (then the
             * create itself succeeded), or every call fails from there on (persistent) */
            CHECK(no_tmp_files(path) || kinds[k].persistent || rc == VLS_OK);
            clean_tmp_files(path);
            if (rc == VLS_OK && calls < nth) {
                CHECK_OK(s, vls_close(s));
                break;
            }
            if (rc == VLS_OK) { /* only the directory sync failed: not reported here; the
                                 * first commit syncs the directory again (and succeeds) */
                CHECK_OK(s, vls_put_str(s, "x", "y", 1, 0));
                CHECK_OK(s, vls_close(s));
                continue;
            }
            CHECK(s == NULL && vls_errmsg(NULL)[0] != 0);
            CHECK(rc == kinds[k].expect || rc == VLS_E_IO);
            CHECK(access(path, F_OK) != 0); /* nothing half-made under the store's name */
            if (nth > 100) {
                CHECK(0);
                break;
            }
        }
    }
    return cases;
}

/* VLS_TRUNCATE over a store: a new empty store is written and synced under a temporary name,
 * locked and renamed over the old one. A failure is reported and leaves the old store whole
 * (and no temporary file, unless removing it is what failed). */
static long truncate_faults(const char *path)
{
    long cases = 0;
    vls_options o;
    vls_options_init(&o);
    for (size_t k = 0; k < NKINDS; k++) {
        for (long nth = 1;; nth++) {
            make_base(path, &o);
            vls_store *s = NULL;
            io_fault_set(nth, kinds[k].err, kinds[k].persistent, kinds[k].short_write);
            int rc = vls_open(path, VLS_TRUNCATE, NULL, &s);
            long calls = io_fault_calls();
            io_fault_set(0, 0, 0, 0);
            cases++;
            CHECK(no_tmp_files(path) || kinds[k].persistent || rc == VLS_OK);
            clean_tmp_files(path);
            if (rc == VLS_OK) { /* done, or only a directory sync or clean-up failed */
                CHECK(vls_count(s) == 0);
                CHECK_OK(s, vls_close(s));
                vls_store *r;
                CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
                CHECK(r && vls_count(r) == 0);
                vls_close(r);
                if (calls < nth)
                    break;
                continue;
            }
            CHECK(s == NULL && (rc == kinds[k].expect || rc == VLS_E_IO));
            CHECK(check_contents(path, 0));
            if (nth > 100) {
                CHECK(0);
                break;
            }
        }
    }
    return cases;
}

/* A reader with the store mapped took SIGBUS when another handle started the file over with
 * VLS_TRUNCATE, which cut it short in place. Now the reader keeps reading the old file. */
static void test_regress_truncate_under_reader(const char *path)
{
    vls_options o;
    vls_options_init(&o);
    o.cache_bytes = 0;
    make_base(path, &o);
    vls_store *r, *w;
    static unsigned char buf[100000], want[100000];
    size_t len;
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, &o, &r)); /* mapped */
    CHECK_OK(NULL, vls_open(path, VLS_TRUNCATE, NULL, &w));
    CHECK(vls_count(w) == 0);
    CHECK_OK(w, vls_put_str(w, "fresh", "x", 1, 0));
    CHECK_OK(w, vls_close(w));
    test_fill(want, 100000, 1, 1);
    CHECK_OK(r, vls_get_str(r, "base", buf, sizeof buf, &len));
    CHECK(len == 100000 && memcmp(buf, want, len) == 0);
    CHECK_OK(r, vls_verify(r, NULL, NULL, NULL));
    vls_close(r);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &r));
    CHECK(r && vls_count(r) == 1 && test_has_key(r, "fresh") == 1);
    vls_close(r);
    CHECK(no_tmp_files(path));
}

/* A writer's open pads a torn tail to 8 bytes: when that write fails, the open fails and the
 * file still opens as its last commit. */
static long pad_faults(const char *path)
{
    vls_options o;
    vls_options_init(&o);
    make_base(path, &o);
    FILE *f = fopen(path, "ab");
    fwrite("torn", 1, 3, f); /* a torn tail: the size is no longer a multiple of 8 */
    fclose(f);
    vls_store *s = NULL;
    io_fault_set(1, ENOSPC, 0, 0);
    CHECK_RC(NULL, vls_open(path, VLS_RDWR, NULL, &s), VLS_E_NOSPC);
    io_fault_set(0, 0, 0, 0);
    CHECK(s == NULL && strstr(vls_errmsg(NULL), "torn tail") != NULL);
    CHECK(check_contents(path, 0));
    return 1;
}

/* In-place compaction: a new file PATH.tmp-compact-PID is written, synced, renamed over PATH,
 * and the directory synced. A failure leaves PATH as it was and no temporary file. */
static long compact_faults(const char *path)
{
    long cases = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        for (long nth = 1;; nth++) {
            vls_options o;
            vls_options_init(&o);
            o.chunk_size = 65536;
            o.block_size = 16384;
            make_base(path, &o);
            vls_store *s;
            CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
            test_fill(rec, 250000, 2, 0);
            CHECK_OK(s, vls_put_str(s, "new", rec, 250000, 0));
            CHECK_OK(s, vls_put_str(s, "dead", rec, 50000, 0));
            CHECK_OK(s, vls_delete_str(s, "dead"));
            CHECK_OK(s, vls_close(s));
            io_fault_set(nth, kinds[k].err, kinds[k].persistent, kinds[k].short_write);
            int rc = vls_compact_file(path, NULL);
            long calls = io_fault_calls();
            io_fault_set(0, 0, 0, 0);
            cases++;
            /* temporary files are removed, unless removing one is what failed (the compaction
             * itself then succeeds) or every call fails (persistent); the next compaction
             * removes what is left */
            CHECK(no_tmp_files(path) || kinds[k].persistent || rc == VLS_OK);
            CHECK(check_contents(path, 1)); /* the old file or the new one: both whole */
            if (!no_tmp_files(path)) {
                CHECK_OK(NULL, vls_compact_file(path, NULL));
                CHECK(no_tmp_files(path));
            }
            if (rc == VLS_OK && calls < nth)
                break;
            if (rc != VLS_OK)
                CHECK(vls_errmsg(NULL)[0] != 0);
            if (nth > 200) {
                CHECK(0);
                break;
            }
        }
    }
    return cases;
}

/* A message that wraps the previous one ("compact: %s", vls_errmsg(...)) came out empty or
 * garbled: vls_seterr formatted into the buffer it was reading. */
static void test_regress_errmsg_wraps_itself(const char *path)
{
    vls_options o;
    vls_options_init(&o);
    make_base(path, &o);
    io_fault_set(1, EIO, 0, 0); /* the compacted file's first write */
    CHECK_RC(NULL, vls_compact_file(path, NULL), VLS_E_IO);
    io_fault_set(0, 0, 0, 0);
    CHECK(strstr(vls_errmsg(NULL), "compact: ") != NULL);
    CHECK(strstr(vls_errmsg(NULL), strerror(EIO)) != NULL);
    /* an open that fails in the index: the path, then the reason */
    FILE *f = fopen(path, "r+b");
    char seg[4];
    long at = -1;
    for (long p = 64; f && fseek(f, p, SEEK_SET) == 0 && fread(seg, 1, 4, f) == 4; p += 8)
        if (memcmp(seg, "VLIX", 4) == 0)
            at = p;
    CHECK(at > 0);
    fseek(f, at + 60, SEEK_SET); /* in the newest segment's payload */
    int c = fgetc(f);
    fseek(f, at + 60, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    vls_store *s;
    CHECK_RC(NULL, vls_open(path, VLS_RDONLY, NULL, &s), VLS_E_CHECKSUM);
    CHECK(strncmp(vls_errmsg(NULL), path, strlen(path)) == 0);
    CHECK(strstr(vls_errmsg(NULL), "index segment at offset") != NULL);
}

/* A read error while looking for the newest commit trailer was taken for "no trailer here":
 * the store opened silently as an older commit (or empty), and a writer then appended after
 * it, so the newer commits were lost for good. Now the open fails with VLS_E_IO. */
static void test_regress_trailer_read_error(const char *path)
{
    vls_options o;
    vls_options_init(&o);
    make_base(path, &o);
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
    test_fill(rec, 250000, 2, 0);
    CHECK_OK(s, vls_put_str(s, "new", rec, 250000, 0));
    CHECK_OK(s, vls_close(s));
    for (int torn = 0; torn < 2; torn++) {
        if (torn) { /* the search then starts with the backward scan */
            FILE *f = fopen(path, "ab");
            fwrite("a torn tail", 1, 11, f);
            fclose(f);
        }
        /* every read after the header's fails: the trailer search cannot read */
        shim_arm(SYS_PREAD, 2, EIO, 0);
        s = NULL;
        int rc = vls_open(path, VLS_RDWR, NULL, &s);
        shim_off();
        CHECK(rc == VLS_E_IO && s == NULL);
        CHECK(strstr(vls_errmsg(NULL), strerror(EIO)) != NULL);
        if (s) { /* the bug: a writer on an empty store appends over the real one */
            CHECK_OK(s, vls_put_str(s, "after", "x", 1, 0));
            vls_close(s);
        }
        CHECK(check_contents(path, torn ? -1 : 1));
        CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
        CHECK(s && vls_count(s) == 2 && test_has_key(s, "new") == 1);
        vls_close(s);
    }
}

/* ---- 2. real system calls failing ------------------------------------------------------------ */
static long syscall_faults(const char *path)
{
    long cases = 0;
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 65536;
    o.block_size = 16384;
    vls_store *s = NULL;

    /* pwrite: EINTR and short writes are retried, and the commit succeeds */
    static const struct {
        int err, ret_zero, short_io, want;
    } writes[] = {{EINTR, 0, 0, VLS_OK},       {0, 0, 1, VLS_OK},
                  {0, 1, 0, VLS_E_NOSPC},      {EDQUOT, 0, 0, VLS_E_NOSPC},
                  {ENOSPC, 0, 0, VLS_E_NOSPC}, {EFBIG, 0, 0, VLS_E_IO}};
    for (size_t w = 0; w < sizeof writes / sizeof writes[0]; w++) {
        make_base(path, &o);
        CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
        test_fill(rec, 250000, 2, 0);
        shim_arm(SYS_PWRITE, 1, writes[w].err, 1);
        shim[SYS_PWRITE].ret_zero = writes[w].ret_zero;
        shim[SYS_PWRITE].short_io = writes[w].short_io;
        int rc = vls_put_str(s, "new", rec, 250000, 0);
        if (rc == VLS_OK)
            rc = vls_commit(s);
        shim_off();
        CHECK_RC(s, rc, writes[w].want);
        if (rc != VLS_OK) {
            CHECK(strstr(vls_errmsg(s), "failed") != NULL);
            CHECK_RC(s, vls_commit(s), VLS_E_FAILED);
        }
        vls_close(s);
        CHECK(check_contents(path, writes[w].want == VLS_OK ? 1 : 0));
        cases++;
    }

    /* fdatasync (commit) and fsync (creating a store) fail for real */
    static const int sync_errs[] = {EIO, ENOSPC};
    for (int e = 0; e < 2; e++) {
        make_base(path, &o);
        CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
        test_fill(rec, 250000, 2, 0);
        CHECK_OK(s, vls_put_str(s, "new", rec, 250000, 0));
        shim_arm(SYS_FDATASYNC, 1, sync_errs[e], 1);
        CHECK_RC(s, vls_commit(s), sync_errs[e] == EIO ? VLS_E_IO : VLS_E_NOSPC);
        shim_off();
        CHECK_RC(s, vls_put_str(s, "more", "x", 1, 0), VLS_E_FAILED);
        vls_close(s);
        CHECK(check_contents(path, 0));
        cases++;
    }
    unlink(path);
    shim_arm(SYS_FSYNC, 1, EIO, 1);
    CHECK_RC(NULL, vls_open(path, VLS_CREATE, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK(access(path, F_OK) != 0 && no_tmp_files(path));
    cases++;

    /* the directory cannot be opened to sync it: the create still succeeds (best effort) */
    shim_arm(SYS_OPENDIR, 1, EACCES, 1);
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_EXCL, NULL, &s));
    shim_off();
    CHECK_OK(s, vls_close(s));
    cases++;

    /* A writer syncs the store's directory before its first commit reports success (the
     * create's own sync may have failed). A write error there fails the commit, names the
     * directory, fails the handle, and leaves the file as of its last commit; a directory the
     * file system cannot sync (EINVAL) or may not be opened (EACCES) counts as done. */
    static const struct { int sys, err, want; } dirs[] = {
        {SYS_FSYNC, EIO, VLS_E_IO}, {SYS_FSYNC, ENOSPC, VLS_E_NOSPC},
        {SYS_FSYNC, EINVAL, VLS_OK}, {SYS_OPENDIR, EACCES, VLS_OK}};
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        make_base(path, &o);
        CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
        test_fill(rec, 250000, 2, 0);
        CHECK_OK(s, vls_put_str(s, "new", rec, 250000, 0));
        shim_arm(dirs[d].sys, 1, dirs[d].err, 0);
        CHECK_RC(s, vls_commit(s), dirs[d].want);
        shim_off();
        if (dirs[d].want != VLS_OK) {
            CHECK(strstr(vls_errmsg(s), "directory") != NULL);
            CHECK_RC(s, vls_put_str(s, "more", "x", 1, 0), VLS_E_FAILED);
            vls_close(s);
            CHECK(check_contents(path, 0));
        } else {
            CHECK_OK(s, vls_close(s));
            CHECK(check_contents(path, 1));
        }
        cases++;
    }
    /* ... and only once per handle: a second commit does not sync the directory again */
    make_base(path, &o);
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
    CHECK_OK(s, vls_put_str(s, "a", "x", 1, 0));
    CHECK_OK(s, vls_commit(s));
    shim_arm(SYS_FSYNC, 1, EIO, 0);
    CHECK_OK(s, vls_put_str(s, "b", "y", 1, 0));
    CHECK_OK(s, vls_commit(s));
    shim_off();
    CHECK_OK(s, vls_close(s));
    cases++;

    /* no hard links on this file system: a create falls back to rename(); a failing rename */
    unlink(path);
    shim_arm(SYS_LINK, 1, EPERM, 1);
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    shim_off();
    CHECK_OK(s, vls_put_str(s, "k", "v", 1, 0));
    CHECK_OK(s, vls_close(s));
    CHECK(no_tmp_files(path));
    shim_arm(SYS_LINK, 1, EPERM, 1);
    CHECK_RC(NULL, vls_open(path, VLS_CREATE | VLS_EXCL, NULL, &s), VLS_E_EXISTS);
    shim_off();
    unlink(path);
    shim_arm(SYS_LINK, 1, ENOTSUP, 1);
    shim_arm(SYS_RENAME, 1, EIO, 1);
    CHECK_RC(NULL, vls_open(path, VLS_CREATE, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK(access(path, F_OK) != 0 && no_tmp_files(path));
    shim_arm(SYS_LINK, 1, EIO, 1); /* a plain link failure */
    CHECK_RC(NULL, vls_open(path, VLS_CREATE, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK(access(path, F_OK) != 0 && no_tmp_files(path));
    cases += 4;

    /* in-place compaction whose rename fails for real: the old store stays */
    make_base(path, &o);
    shim_arm(SYS_RENAME, 1, EXDEV, 1);
    CHECK_RC(NULL, vls_compact_file(path, NULL), VLS_E_IO);
    shim_off();
    CHECK(check_contents(path, 0) && no_tmp_files(path));
    cases++;

    /* pread: reads retry EINTR; EIO and an early end of file are errors with a message */
    make_base(path, &o);
    vls_options ro;
    vls_options_init(&ro);
    ro.cache_bytes = 0;
    shim_arm(SYS_PREAD, 1, EINTR, 1);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, &ro, &s));
    shim_off();
    vls_close(s);
    for (long nth = 1;; nth++) { /* the Nth read of an open fails: the open fails cleanly */
        shim_arm(SYS_PREAD, nth, EIO, 1);
        s = NULL;
        int rc = vls_open(path, VLS_RDONLY | VLS_NOMMAP, &ro, &s);
        long calls = shim[SYS_PREAD].calls;
        shim_off();
        cases++;
        if (rc == VLS_OK) {
            /* a failed read of the trailer search only means an older commit or none */
            vls_close(s);
            if (calls < nth)
                break;
            continue;
        }
        CHECK(rc == VLS_E_IO && s == NULL);
        CHECK(strstr(vls_errmsg(NULL), strerror(EIO)) != NULL);
        if (nth > 50) {
            CHECK(0);
            break;
        }
    }
    static unsigned char buf[300000];
    size_t len;
    static const struct {
        int err, ret_zero, short_io, want;
    } reads[] = {{EIO, 0, 0, VLS_E_IO}, {0, 1, 0, VLS_E_TRUNCATED}, {0, 0, 1, VLS_OK}};
    static const int codecs[] = {VLS_CODEC_LZ4, VLS_CODEC_NONE}; /* decoded whole; copied */
    for (int c = 0; c < 2; c++) {
        vls_options wo = o;
        wo.codec = codecs[c];
        make_base(path, &wo);
        for (size_t r = 0; r < sizeof reads / sizeof reads[0]; r++) {
            CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, &ro, &s));
            shim_arm(SYS_PREAD, 1, reads[r].err, 0);
            shim[SYS_PREAD].ret_zero = reads[r].ret_zero;
            shim[SYS_PREAD].short_io = reads[r].short_io;
            shim[SYS_PREAD].once = reads[r].short_io;
            CHECK_RC(s, vls_get_str(s, "base", buf, sizeof buf, &len), reads[r].want);
            shim_off();
            if (reads[r].want != VLS_OK)
                CHECK(strstr(vls_errmsg(s), "read failed") != NULL);
            CHECK_OK(s, vls_get_str(s, "base", buf, sizeof buf, &len)); /* not sticky */
            vls_close(s);
            cases++;
        }
    }

    /* fstat fails: at open, and when a reader refreshes */
    shim_arm(SYS_FSTAT, 1, EIO, 1);
    CHECK_RC(NULL, vls_open(path, VLS_RDONLY, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    shim_arm(SYS_FSTAT, 1, EIO, 1);
    CHECK_RC(s, vls_refresh(s), VLS_E_IO);
    shim_off();
    CHECK(strstr(vls_errmsg(s), "refresh") != NULL);
    CHECK_OK(s, vls_refresh(s));
    /* a writer commits; the reader's refresh cannot read the new trailer: an error, and the
     * reader keeps its commit */
    vls_store *w;
    CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &w));
    CHECK_OK(w, vls_put_str(w, "later", "x", 1, 0));
    CHECK_OK(w, vls_close(w));
    shim_arm(SYS_PREAD, 1, EIO, 0);
    CHECK_RC(s, vls_refresh(s), VLS_E_IO);
    shim_off();
    CHECK(test_has_key(s, "later") == 0 && test_has_key(s, "base") == 1);
    CHECK_OK(s, vls_refresh(s));
    CHECK(test_has_key(s, "later") == 1);
    vls_close(s);
    cases += 3;

    /* flock fails other than by contention */
    shim_arm(SYS_FLOCK, 1, ENOLCK, 1);
    CHECK_RC(NULL, vls_open(path, VLS_RDWR, NULL, &s), VLS_E_IO);
    shim_off();
    cases++;

    /* starting over (VLS_TRUNCATE) cannot lock its new file, or rename it: the old stays */
    make_base(path, &o);
    shim_arm(SYS_FLOCK, 2, ENOLCK, 1);
    CHECK_RC(NULL, vls_open(path, VLS_TRUNCATE, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK(check_contents(path, 0) && no_tmp_files(path));
    shim_arm(SYS_RENAME, 1, EIO, 1);
    CHECK_RC(NULL, vls_open(path, VLS_TRUNCATE, NULL, &s), VLS_E_IO);
    shim_off();
    CHECK(check_contents(path, 0) && no_tmp_files(path));
    cases += 2;

    /* mmap fails: reads go through pread */
    make_base(path, &o);
    shim_arm(SYS_MMAP, 1, ENOMEM, 0);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    CHECK_OK(s, vls_get_str(s, "base", buf, sizeof buf, &len));
    shim_off();
    vls_close(s);
    CHECK(check_contents(path, 0));
    /* the lock's own fstat fails (the size is re-read under the lock) */
    shim_arm(SYS_FSTAT, 2, EIO, 1);
    CHECK_RC(NULL, vls_open(path, VLS_RDWR, NULL, &s), VLS_E_IO);
    shim_off();
    /* the name keeps naming another file after each lock (compactions without end) */
    shim_arm(SYS_STAT, 1, 0, 0);
    CHECK_RC(NULL, vls_open(path, VLS_RDWR, NULL, &s), VLS_E_LOCKED);
    shim_off();
    cases += 3;

    /* another process creates the store between our stat and our link: without VLS_EXCL we
     * open its file, with VLS_EXCL we refuse; the same where hard links are missing */
    unlink(path);
    shim_arm(SYS_LINK, 1, EEXIST, 1);
    shim[SYS_LINK].race = 1;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    shim_off();
    CHECK_OK(s, vls_close(s));
    CHECK(no_tmp_files(path));
    static const int link_errs[] = {EEXIST, EPERM};
    for (int e = 0; e < 2; e++) {
        unlink(path);
        shim_arm(SYS_LINK, 1, link_errs[e], 1);
        shim[SYS_LINK].race = 1;
        CHECK_RC(NULL, vls_open(path, VLS_CREATE | VLS_EXCL, NULL, &s), VLS_E_EXISTS);
        shim_off();
        CHECK(no_tmp_files(path));
    }
    cases += 3;

    /* a reader (pread) on a file cut short behind its back: errors, no crash */
    make_base(path, &o);
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, &ro, &s));
    CHECK(truncate(path, 100) == 0);
    CHECK_OK(s, vls_refresh(s)); /* no commit in 100 bytes: the handle keeps its own */
    CHECK_RC(s, vls_get_str(s, "base", buf, sizeof buf, &len), VLS_E_TRUNCATED);
    vls_close(s);
    cases++;

    /* a relative path (the directory to sync is ".") and a missing store */
    char cwd[4096], rel[64];
    if (getcwd(cwd, sizeof cwd)) {
        char dirbuf[600];
        snprintf(dirbuf, sizeof dirbuf, "%s", path);
        char *slash = strrchr(dirbuf, '/');
        if (slash) {
            *slash = 0;
            CHECK(chdir(dirbuf[0] ? dirbuf : "/") == 0);
        }
        snprintf(rel, sizeof rel, "faults-relative-%ld.vls", (long)getpid());
        unlink(rel);
        CHECK_OK(NULL, vls_open(rel, VLS_CREATE | VLS_EXCL, NULL, &s));
        CHECK_OK(s, vls_close(s));
        unlink(rel);
        CHECK_RC(NULL, vls_open(rel, VLS_RDONLY, NULL, &s), VLS_E_NOTFOUND);
        CHECK(chdir(cwd) == 0);
    }
    cases += 2;

    /* where the OS refuses before any write */
    char longp[5000];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    CHECK_RC(NULL, vls_open(longp, VLS_CREATE, NULL, &s), VLS_E_INVAL); /* name too long */
    char dir[600];
    snprintf(dir, sizeof dir, "%s.no-such-dir/store.vls", path);
    CHECK_RC(NULL, vls_open(dir, VLS_CREATE, NULL, &s), VLS_E_NOTFOUND);
    snprintf(dir, sizeof dir, "%s.dir", path);
    mkdir(dir, 0755);
    CHECK_RC(NULL, vls_open(dir, VLS_RDONLY, NULL, &s), VLS_E_INVAL);
    rmdir(dir);
    /* a socket has a name but cannot be opened as a file */
    snprintf(dir, sizeof dir, "%s.sock", path);
    unlink(dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd >= 0 && strlen(dir) < sizeof sa.sun_path) {
        strcpy(sa.sun_path, dir);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            CHECK_RC(NULL, vls_open(dir, VLS_RDONLY, NULL, &s), VLS_E_IO);
            CHECK(strstr(vls_errmsg(NULL), "cannot open") != NULL);
        }
        close(fd);
        unlink(dir);
    }
    cases += 4;
    return cases;
}

int main(void)
{
    const char *path = test_path("faults");
    rec = malloc(250000);
    signal(SIGXFSZ, SIG_IGN);
    long n1 = put_commit_faults(path);
    long n2 = create_faults(path);
    long n3 = truncate_faults(path);
    long n4 = pad_faults(path);
    long n5 = compact_faults(path);
    long n6 = syscall_faults(path);
    test_regress_errmsg_wraps_itself(path);
    test_regress_trailer_read_error(path);
    test_regress_truncate_under_reader(path);
    printf("injected faults (ENOSPC/EIO, once/persistent, short writes): %ld put+commit, %ld "
           "create, %ld truncate, %ld torn-tail pad, %ld compaction cases; %ld failing system "
           "calls\n", n1, n2, n3, n4, n5, n6);
    unlink(path);
    free(rec);
    return test_done("test_faults");
}
