/* io.h — the one small I/O layer beneath the store: a file on disk or a buffer in memory.
 * Everything the store writes goes through io_append/io_sync (and io_rename,
 * io_unlink, io_sync_dir for compaction); reads go through
 * io_read/io_view. Depends on nothing but libc. Not thread-safe for writes; concurrent
 * io_read/io_view calls are safe as long as no write runs at the same time. */
#ifndef VLS_IO_H
#define VLS_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct vls_io vls_io;

/* Opens `path` (read-only unless writable). With create, a new file is made first under a
 * temporary name, given `init` bytes (the file header), synced and renamed into place, so a
 * crash never leaves a half-made store behind. A writable open also takes the writer lock
 * (VLS_E_LOCKED if another writer has it) on the file that path names once the lock is held
 * (it reopens if the file was replaced meanwhile), and reads the size under the lock.
 * Errors are VLS_E_* codes with *err_errno set. */
int io_open_file(const char *path, int writable, int create, int excl, int truncate,
                 const void *init, size_t init_len, int use_mmap, vls_io **out, int *err_errno);
int io_open_memory(vls_io **out);
void io_close(vls_io *io);

int io_is_memory(const vls_io *io);
uint64_t io_size(const vls_io *io);              /* bytes written so far (end of file) */
int io_lock_writer(vls_io *io, int *err_errno);  /* exclusive non-blocking lock */

/* Reads exactly len bytes at off into buf. VLS_E_TRUNCATED if the file is shorter. */
int io_read(vls_io *io, uint64_t off, void *buf, size_t len, int *err_errno);

/* Returns a pointer to bytes [off, off+len) when they are mapped (file) or resident (memory),
 * else NULL — callers then use io_read. The pointer is valid until the next write or close. */
const unsigned char *io_view(vls_io *io, uint64_t off, size_t len);

/* Hints that bytes [off, off+len) will be read soon and in full (a whole chunk): the kernel
 * starts reading them in large requests, which the random-access advice on maps otherwise
 * prevents. No effect on memory backings or unmapped ranges. */
void io_willneed(vls_io *io, uint64_t off, size_t len);

/* The file descriptor of a file backing (for posix_fadvise, src/store/advise.c), -1 for a
 * memory store. */
int io_fd(const vls_io *io);
/* Re-reads the file size and maps what is new (read-only handles following a writer). */
int io_refresh(vls_io *io, int *err_errno);
/* Maps [0, size) as far as the file goes; used after commits so reads come from memory. */
void io_map_committed(vls_io *io, uint64_t size);

int io_append(vls_io *io, const void *buf, size_t len, int *err_errno);
/* Cuts the file (or memory backing) back to size bytes; nothing when it is not longer. Used to
 * drop what a writer appended after its last commit (a failed write, vls_rollback). */
int io_truncate(vls_io *io, uint64_t size, int *err_errno);

/* 1 when the name the file was opened under now names another file (or none): an in-place
 * compaction or a truncate replaced it. 0 for memory backings; VLS_E_IO with *err_errno
 * when the open file cannot be stat'ed. */
int io_replaced(vls_io *io, int *err_errno);
/* The name the file was opened under, a symlink resolved (NULL for memory backings). */
const char *io_path(const vls_io *io);
/* path, or (when path is a symbolic link that resolves) its target written into buf. */
const char *io_resolve_link(const char *path, char buf[4096]);
int io_sync(vls_io *io, int *err_errno);

/* Directory entries, for compaction's swap and clean-up. io_rename: 0 or VLS_E_IO with
 * *err_errno. io_unlink and io_sync_dir return 0 or -1 with errno set, like unlink(2). */
int io_rename(const char *from, const char *to, int *err_errno);
int io_unlink(const char *path);
/* fsync of the directory holding path; a directory the file system cannot sync, or that may
 * not be opened, counts as done */
int io_sync_dir(const char *path);
/* Writers: syncs the store's directory once per handle, so the file's name is durable before
 * the first commit reports success (a create's or VLS_TRUNCATE's own sync may have failed,
 * or an earlier handle's). VLS_OK, or the errno's code (VLS_E_IO, VLS_E_NOSPC...) with
 * *err_errno. */
int io_sync_dir_once(vls_io *io, int *err_errno);

/* ---- test hooks (process-wide; not thread-safe; used only by tests) ----
 * Every call that changes the disk is numbered: appends and other writes, syncs (file and
 * directory), truncates, renames, links and unlinks (the IO_OP_* kinds below). Counting runs
 * while a fault or a crash is armed; io_fault_calls() reports the calls since the last
 * io_fault_set() or io_crash_set().
 *
 * io_fault_set (tests/test_faults.c): the Nth call from now fails with `err` (EIO, ENOSPC...),
 * and with persistent != 0 every later one too; short_write makes a failing write write half
 * its bytes first. nth = 0 disarms.
 *
 * io_crash_set (tests/test_crash_points.c): simulates the process dying just before call
 * `nth`: that call and every later one do nothing and fail with EIO, so the files stay exactly
 * as the dead process left them while the library unwinds (nothing it does while unwinding,
 * such as removing a temporary file, reaches the disk). With torn != 0, call nth, if it is a
 * write, first writes the first half of its bytes. io_crashed() tells whether the crash point
 * was reached. nth = 0 disarms.
 *
 * io_trace_set (tests/test_power_loss.c): fn is called before each call that goes ahead, with
 * what it is about to do: fd (-1 for directory operations), offset and bytes for writes, the
 * new size (in off) for truncates, path and path2 for renames, links and unlinks (and path
 * for creating a file's first sync, directory syncs). fn = NULL disarms. */
enum { IO_OP_WRITE = 1, IO_OP_SYNC, IO_OP_TRUNCATE, IO_OP_RENAME, IO_OP_LINK, IO_OP_UNLINK,
       IO_OP_SYNC_DIR };
typedef void (*io_trace_fn)(void *ctx, int op, int fd, uint64_t off, const void *buf,
                            size_t len, const char *path, const char *path2);
void io_fault_set(long nth, int err, int persistent, int short_write);
long io_fault_calls(void);
void io_crash_set(long nth, int torn);
int io_crashed(void);
void io_trace_set(io_trace_fn fn, void *ctx);

#endif
