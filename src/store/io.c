/* io.c — file and memory backings (see io.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "common/error.h"
#include "vlstore.h"

#define MAX_MAPS 64

typedef struct {
    uint64_t off; /* page-aligned file offset of the mapping */
    uint64_t len;
    unsigned char *ptr;
} io_map;

struct vls_io {
    int fd;               /* -1 for memory */
    uint64_t size;        /* end of file as far as we know */
    int use_mmap;
    int nmaps;
    io_map maps[MAX_MAPS];
    uint64_t mapped_end;  /* bytes [0, mapped_end) are covered by maps */
    unsigned char *mem;   /* memory backing */
    uint64_t mem_cap;
    char *path;           /* the store's name, a symlink resolved (refresh, the writer's swaps) */
    int dirfd;            /* writers: its directory, opened once: a later chdir or rename of a
                             parent cannot make a commit sync another directory (or none) */
    int dir_synced;       /* writers: its directory was synced since this handle opened it */
};

/* ---- test hooks: fault injection, simulated crashes, tracing (see io.h) ------------------ */
static long fault_nth = 0, fault_calls = 0, crash_nth = 0;
static int fault_err = 0, fault_persistent = 0, fault_short = 0, crash_torn = 0, crash_hit = 0;
static io_trace_fn trace_fn = NULL;
static void *trace_ctx = NULL;

void io_fault_set(long nth, int err, int persistent, int short_write)
{
    fault_nth = nth;
    fault_err = err;
    fault_persistent = persistent;
    fault_short = short_write;
    fault_calls = 0;
}

long io_fault_calls(void)
{
    return fault_calls;
}

void io_crash_set(long nth, int torn)
{
    crash_nth = nth;
    crash_torn = torn;
    crash_hit = 0;
    fault_calls = 0;
}

int io_crashed(void)
{
    return crash_hit;
}

void io_trace_set(io_trace_fn fn, void *ctx)
{
    trace_fn = fn;
    trace_ctx = ctx;
}

/* Every call that changes a file or a directory passes here first. Counts it (when a fault or
 * a crash is armed) and returns the errno to fail it with, or 0 to go ahead. *torn (writes
 * only, may be NULL) is set when the failing write must first write half its bytes. */
static int io_gate(int op, int fd, uint64_t off, const void *buf, size_t len, const char *path,
                   const char *path2, int *torn)
{
    if (torn)
        *torn = 0;
    if (fault_nth > 0 || crash_nth > 0)
        fault_calls++;
    if (crash_nth > 0 && fault_calls >= crash_nth) { /* the process is gone from here on */
        if (torn && crash_torn && fault_calls == crash_nth)
            *torn = 1;
        crash_hit = 1;
        return EIO;
    }
    if (fault_nth > 0 && (fault_calls == fault_nth || (fault_persistent && fault_calls > fault_nth))) {
        if (torn)
            *torn = fault_short;
        return fault_err;
    }
    if (trace_fn)
        trace_fn(trace_ctx, op, fd, off, buf, len, path, path2);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */
static int write_all(int fd, const void *buf, size_t len, uint64_t off, int *err_errno)
{
    const unsigned char *p = buf;
    int torn, fe = io_gate(IO_OP_WRITE, fd, off, buf, len, NULL, NULL, &torn);
    if (fe) {
        if (torn && len > 1)
            (void)!pwrite(fd, p, len / 2, (off_t)off); /* a torn write, then the failure */
        *err_errno = fe;
        return fe == ENOSPC ? VLS_E_NOSPC : VLS_E_IO;
    }
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            *err_errno = errno;
            return errno == ENOSPC || errno == EDQUOT ? VLS_E_NOSPC : VLS_E_IO;
        }
        if (w == 0) {
            *err_errno = ENOSPC;
            return VLS_E_NOSPC;
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return VLS_OK;
}

/* A directory that cannot be synced here (the file system does not support it, or the
 * directory may not be opened): nothing more can be done, and it is no write error. */
static int dir_sync_unsupported(int e)
{
    return e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS || e == EACCES ||
           e == EPERM || e == EROFS;
}

static int open_dir_of(const char *path);

/* fsync of dfd (when >= 0) or else of the directory holding path. */
static int sync_dir_fd(int dfd, const char *path)
{
    int fe = io_gate(IO_OP_SYNC_DIR, -1, 0, NULL, 0, path, NULL, NULL);
    if (fe) {
        errno = fe;
        return -1;
    }
    if (dfd >= 0)
        return fsync(dfd);
    if ((dfd = open_dir_of(path)) < 0)
        return -1;
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

static int sync_dir_of(const char *path)
{
    return sync_dir_fd(-1, path);
}

/* The directory holding path, opened for fsync; -1 with errno set on failure. */
static int open_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void unmap_all(vls_io *io)
{
    for (int i = 0; i < io->nmaps; i++)
        munmap(io->maps[i].ptr, io->maps[i].len);
    io->nmaps = 0;
    io->mapped_end = 0;
}

/* Maps [mapped_end, size) as one more mapping. Failure just means reads use pread. */
static void map_more(vls_io *io, uint64_t size)
{
    if (!io->use_mmap || io->fd < 0 || size <= io->mapped_end || io->nmaps >= MAX_MAPS)
        return;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = io->mapped_end - io->mapped_end % page;
    uint64_t len = size - start;
    if (len > (uint64_t)SIZE_MAX)
        return;
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, io->fd, (off_t)start);
    if (p == MAP_FAILED)
        return;
    /* Records are read at random: without this, each page fault on a cold map pulls in the
     * device's whole read-ahead window (8 MiB measured here) for a 20 KiB record. */
    madvise(p, (size_t)len, MADV_RANDOM);
    io->maps[io->nmaps].off = start;
    io->maps[io->nmaps].len = len;
    io->maps[io->nmaps].ptr = p;
    io->nmaps++;
    io->mapped_end = size;
}

/* ---- open / close ----------------------------------------------------------------------- */
int io_open_memory(vls_io **out)
{
    vls_io *io = calloc(1, sizeof *io);
    if (!io)
        return VLS_E_NOMEM;
    io->fd = -1;
    io->dirfd = -1;
    *out = io;
    return VLS_OK;
}

const char *io_resolve_link(const char *path, char buf[PATH_MAX])
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) || !realpath(path, buf))
        return path;
    return buf;
}

/* Writes init (a new store's header) to PATH.tmp-create-PID-RANDOM (its name left in tmp)
 * and syncs it. VLS_OK with the file open in *fd; on failure the file is closed and removed.
 * The name is made with O_EXCL and 64 random bits: threads of one process, and processes in
 * two PID namespaces (both PID 1), once shared PATH.tmp-create-PID, and one truncated the file
 * the other had already linked into place, losing an acknowledged commit
 * (test_trust: test_regress_create_temp_shared). */
static int write_temp_header(const char *path, char tmp[PATH_MAX], const void *init,
                             size_t init_len, int *fd, int *err_errno)
{
    for (int tries = 0;; tries++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            static _Atomic uint64_t counter;
            r = ((uint64_t)(uintptr_t)&r << 16) ^ (uint64_t)clock() ^ ++counter;
        }
        if (snprintf(tmp, PATH_MAX, "%s.tmp-create-%ld-%016llx", path, (long)getpid(),
                     (unsigned long long)r) >= PATH_MAX) {
            *err_errno = ENAMETOOLONG;
            return VLS_E_INVAL;
        }
        *fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (*fd >= 0)
            break;
        if (errno != EEXIST || tries == 16) {
            *err_errno = errno;
            return vls_errno_code(errno);
        }
    }
    int rc = write_all(*fd, init, init_len, 0, err_errno);
    if (rc == VLS_OK) {
        int fe = io_gate(IO_OP_SYNC, *fd, 0, NULL, 0, tmp, NULL, NULL);
        if (fe || fsync(*fd) != 0) {
            *err_errno = fe ? fe : errno;
            rc = VLS_E_IO;
        }
    }
    if (rc != VLS_OK) {
        close(*fd);
        io_unlink(tmp);
    }
    return rc;
}

/* Makes a new store file at path holding init (the header): written and synced under a
 * temporary name, then hard-linked to path, which fails if path exists, so a create never
 * replaces a file that another process created meanwhile (and may already be writing: before
 * this used rename(), which did, losing that writer's commits — test_locking's
 * test_regress_create_race). Without excl, finding path already there is fine: *created = 0
 * and the caller opens that file. File systems without hard links fall back to rename(). */
static int create_via_rename(const char *path, int excl, const void *init, size_t init_len,
                             int *err_errno, int *created)
{
    char tmp[PATH_MAX];
    int fd;
    *created = 0;
    int rc = write_temp_header(path, tmp, init, init_len, &fd, err_errno);
    if (rc != VLS_OK)
        return rc;
    close(fd);
    int fe = io_gate(IO_OP_LINK, -1, 0, NULL, 0, tmp, path, NULL);
    int e = fe ? fe : link(tmp, path) != 0 ? errno : 0;
    if (e == 0) {
        *created = 1;
    } else if (e == EEXIST) {
        *err_errno = e;
        rc = excl ? VLS_E_EXISTS : VLS_OK; /* another process created it first */
    } else if (!fe && (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS)) {
        /* no hard links here (the exclusive create then has a small race) */
        if (excl && access(path, F_OK) == 0) {
            *err_errno = EEXIST;
            rc = VLS_E_EXISTS;
        } else if ((rc = io_rename(tmp, path, err_errno)) == VLS_OK) {
            *created = 1;
        }
    } else {
        *err_errno = e;
        rc = VLS_E_IO;
    }
    io_unlink(tmp); /* fails harmlessly after a rename */
    return rc;
}

/* VLS_TRUNCATE over an existing file, whose lock io holds: the empty store is made as a new
 * file (header written and synced under PATH.tmp-create-PID, locked, renamed over PATH, the
 * directory synced) and io moves to it. The old file is never cut short in place: a reader
 * that has it mapped took SIGBUS on its next read past the new end (test_faults:
 * test_regress_truncate_under_reader); it now keeps reading the old file. A crash leaves the
 * old store or the new one, never a new header in front of old bytes. */
static int start_over(vls_io *io, const char *path, const void *init, size_t init_len,
                      int *err_errno)
{
    char tmp[PATH_MAX];
    int fd;
    int rc = write_temp_header(path, tmp, init, init_len, &fd, err_errno);
    if (rc != VLS_OK)
        return rc;
    /* nobody else knows the new file yet, so its lock cannot be refused */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *err_errno = errno;
        rc = VLS_E_IO;
    }
    if (rc == VLS_OK)
        rc = io_rename(tmp, path, err_errno);
    if (rc != VLS_OK) {
        close(fd);
        io_unlink(tmp);
        return rc;
    }
    io->dir_synced = sync_dir_fd(io->dirfd, path) == 0; /* if not, the first commit retries */
    unmap_all(io);
    close(io->fd); /* and its lock: a writer waiting for it finds PATH renamed, and retries */
    io->fd = fd;
    io->size = init_len;
    return VLS_OK;
}

int io_open_file(const char *path, int writable, int create, int excl, int truncate,
                 const void *init, size_t init_len, int use_mmap, vls_io **out, int *err_errno)
{
    char resolved[PATH_MAX];
    *out = NULL;
    *err_errno = 0;
    /* a symlinked store is its target: a truncate or a compaction renames a new file over
     * the target, not over the link (which it replaced by a regular file, leaving the real
     * store untouched: test_trust's test_regress_symlink_truncate) */
    path = io_resolve_link(path, resolved);
    struct stat st;
    int created = 0, dir_synced = 0, rc;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        *err_errno = EISDIR;
        return VLS_E_INVAL;
    }
    if (exists && create && excl) {
        *err_errno = EEXIST;
        return VLS_E_EXISTS;
    }
    if (!exists) {
        if (!create) {
            *err_errno = ENOENT;
            return VLS_E_NOTFOUND;
        }
        rc = create_via_rename(path, excl, init, init_len, err_errno, &created);
        if (rc != VLS_OK)
            return rc;
        if (created) {
            truncate = 0;
            /* if this fails, the first commit syncs the directory again */
            dir_synced = sync_dir_of(path) == 0;
        }
    }
    vls_io *io;
    for (int tries = 0;; tries++) {
        int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            *err_errno = errno;
            return vls_errno_code(errno);
        }
        io = calloc(1, sizeof *io);
        if (!io) {
            close(fd);
            return VLS_E_NOMEM;
        }
        io->fd = fd;
        io->dirfd = -1;
        io->use_mmap = use_mmap;
        if (fstat(fd, &st) != 0) {
            *err_errno = errno;
            io_close(io);
            return VLS_E_IO;
        }
        io->size = (uint64_t)st.st_size;
        if (!writable)
            break;
        /* A writer locks the file, then checks that it is still the one named path: an
         * in-place compaction renames a new file over it, and a writer that waited for the
         * compaction's lock would otherwise append to the replaced file, which has no name any
         * more (test_locking: test_regress_lock_replaced_file). Then it opens the new one. */
        struct stat now;
        rc = io_lock_writer(io, err_errno);
        if (rc == VLS_OK && stat(path, &now) == 0 && now.st_dev == st.st_dev &&
            now.st_ino == st.st_ino)
            break;
        io_close(io);
        if (rc != VLS_OK)
            return rc;
        if (tries == 100) { /* replaced again and again: somebody else is at work */
            *err_errno = EWOULDBLOCK;
            return VLS_E_LOCKED;
        }
    }
    if (!(io->path = strdup(path))) {
        io_close(io);
        return VLS_E_NOMEM;
    }
    if (writable) {
        io->dir_synced = dir_synced; /* by the create just now */
        /* kept from now on; a directory that may not be opened is synced by path (or counts
         * as done) as before */
        io->dirfd = open_dir_of(path);
    }
    if (truncate) {
        /* The caller asked for an empty store over an existing file: it is locked (above), so
         * we never wipe a file another writer is using. */
        rc = start_over(io, path, init, init_len, err_errno);
        if (rc != VLS_OK) {
            io_close(io);
            return rc;
        }
    }
    map_more(io, io->size);
    *out = io;
    return VLS_OK;
}

void io_close(vls_io *io)
{
    if (!io)
        return;
    unmap_all(io);
    if (io->fd >= 0)
        close(io->fd); /* also releases the flock */
    if (io->dirfd >= 0)
        close(io->dirfd);
    free(io->mem);
    free(io->path);
    free(io);
}

int io_is_memory(const vls_io *io)
{
    return io->fd < 0;
}

uint64_t io_size(const vls_io *io)
{
    return io->size;
}

int io_lock_writer(vls_io *io, int *err_errno)
{
    if (io->fd < 0)
        return VLS_OK;
    /* flock locks belong to the open file description, so a second open in the same process
     * conflicts too — exactly the one-writer rule we want. */
    if (flock(io->fd, LOCK_EX | LOCK_NB) != 0) {
        *err_errno = errno;
        return errno == EWOULDBLOCK ? VLS_E_LOCKED : VLS_E_IO;
    }
    /* The size read at open may predate the lock: the writer that held it may have committed
     * since. Appending at a stale end would write over that commit
     * (test_locking: test_regress_lock_stale_size). */
    struct stat st;
    if (fstat(io->fd, &st) != 0) {
        *err_errno = errno;
        return VLS_E_IO;
    }
    io->size = (uint64_t)st.st_size;
    map_more(io, io->size);
    return VLS_OK;
}

/* ---- reads ------------------------------------------------------------------------------ */
const unsigned char *io_view(vls_io *io, uint64_t off, size_t len)
{
    uint64_t end;
    if (off > UINT64_MAX - len)
        return NULL;
    end = off + len;
    if (io->fd < 0)
        return end <= io->size ? io->mem + off : NULL;
    for (int i = io->nmaps - 1; i >= 0; i--) {
        const io_map *m = &io->maps[i];
        if (off >= m->off && end <= m->off + m->len)
            return m->ptr + (off - m->off);
    }
    return NULL;
}

void io_willneed(vls_io *io, uint64_t off, size_t len)
{
    const unsigned char *p = io_view(io, off, len);
    if (!p || io->fd < 0 || len == 0)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p - (uintptr_t)p % page;
    size_t span = len + ((uintptr_t)p - a);
    /* WILLNEED starts large reads of what is not cached; POPULATE_READ (Linux 5.14) then maps
     * the range in one call instead of one page fault per 4 KiB page as the chunk is decoded
     * (measured: ~20% of a warm loader epoch). Older kernels reject it: faults then. */
    madvise((void *)a, span, MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
    madvise((void *)a, span, MADV_POPULATE_READ);
#endif
}

int io_fd(const vls_io *io)
{
    return io->fd;
}

int io_read(vls_io *io, uint64_t off, void *buf, size_t len, int *err_errno)
{
    if (off > UINT64_MAX - len || off + len > io->size) {
        *err_errno = 0;
        return VLS_E_TRUNCATED;
    }
    if (io->fd < 0) {
        memcpy(buf, io->mem + off, len);
        return VLS_OK;
    }
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = pread(io->fd, p, len, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *err_errno = errno;
            return VLS_E_IO;
        }
        if (r == 0) {
            *err_errno = 0;
            return VLS_E_TRUNCATED;
        }
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return VLS_OK;
}

int io_refresh(vls_io *io, int *err_errno)
{
    if (io->fd < 0)
        return VLS_OK;
    struct stat st;
    if (fstat(io->fd, &st) != 0) {
        *err_errno = errno;
        return VLS_E_IO;
    }
    io->size = (uint64_t)st.st_size;
    map_more(io, io->size);
    return VLS_OK;
}

void io_map_committed(vls_io *io, uint64_t size)
{
    map_more(io, size);
}

/* ---- writes ----------------------------------------------------------------------------- */
int io_append(vls_io *io, const void *buf, size_t len, int *err_errno)
{
    if (len == 0)
        return VLS_OK;
    if (io->fd < 0) {
        uint64_t need = io->size + len;
        if (need > io->mem_cap) {
            uint64_t cap = io->mem_cap ? io->mem_cap : 65536;
            while (cap < need)
                cap *= 2;
            unsigned char *m = realloc(io->mem, (size_t)cap);
            if (!m) {
                *err_errno = ENOMEM;
                return VLS_E_NOMEM;
            }
            io->mem = m;
            io->mem_cap = cap;
        }
        memcpy(io->mem + io->size, buf, len);
        io->size = need;
        return VLS_OK;
    }
    int rc = write_all(io->fd, buf, len, io->size, err_errno);
    if (rc == VLS_OK)
        io->size += len;
    return rc;
}

int io_sync(vls_io *io, int *err_errno)
{
    if (io->fd < 0)
        return VLS_OK;
    int fe = io_gate(IO_OP_SYNC, io->fd, 0, NULL, 0, NULL, NULL, NULL);
    if (fe) {
        *err_errno = fe;
        return fe == ENOSPC ? VLS_E_NOSPC : VLS_E_IO;
    }
    if (fdatasync(io->fd) != 0) {
        *err_errno = errno;
        return errno == ENOSPC || errno == EDQUOT ? VLS_E_NOSPC : VLS_E_IO;
    }
    return VLS_OK;
}

int io_truncate(vls_io *io, uint64_t size, int *err_errno)
{
    if (size > io->size)
        return VLS_OK;
    if (io->fd < 0) {
        io->size = size;
        return VLS_OK;
    }
    int fe = io_gate(IO_OP_TRUNCATE, io->fd, size, NULL, 0, NULL, NULL, NULL);
    if (fe || ftruncate(io->fd, (off_t)size) != 0) {
        *err_errno = fe ? fe : errno;
        return vls_errno_code(*err_errno);
    }
    io->size = size;
    if (size < io->mapped_end) { /* never happens for a writer (it maps committed bytes) */
        unmap_all(io);
        map_more(io, size);
    }
    return VLS_OK;
}

int io_replaced(vls_io *io, int *err_errno)
{
    struct stat a, b;
    if (io->fd < 0 || !io->path)
        return 0;
    if (fstat(io->fd, &a) != 0) {
        *err_errno = errno;
        return VLS_E_IO;
    }
    if (stat(io->path, &b) != 0)
        return errno == ENOENT ? 1 : 0;
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

const char *io_path(const vls_io *io)
{
    return io->path;
}

/* ---- directory entries ------------------------------------------------------------------- */
int io_rename(const char *from, const char *to, int *err_errno)
{
    int fe = io_gate(IO_OP_RENAME, -1, 0, NULL, 0, from, to, NULL);
    if (fe || rename(from, to) != 0) {
        *err_errno = fe ? fe : errno;
        return VLS_E_IO;
    }
    return VLS_OK;
}

int io_unlink(const char *path)
{
    int fe = io_gate(IO_OP_UNLINK, -1, 0, NULL, 0, path, NULL, NULL);
    if (fe) {
        errno = fe;
        return -1;
    }
    return unlink(path);
}

int io_sync_dir_once(vls_io *io, int *err_errno)
{
    if (io->fd < 0 || !io->path || io->dir_synced)
        return VLS_OK;
    if (sync_dir_fd(io->dirfd, io->path) != 0 && !dir_sync_unsupported(errno)) {
        *err_errno = errno;
        return vls_errno_code(errno);
    }
    io->dir_synced = 1;
    return VLS_OK;
}

int io_sync_dir(const char *path)
{
    if (sync_dir_of(path) != 0)
        return dir_sync_unsupported(errno) ? 0 : -1;
    return 0;
}
