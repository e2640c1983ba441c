/* io.h — the one small I/O layer beneath the store: a file on disk or a buffer in memory.
 * Everything the store writes goes through io_append/io_sync/io_truncate; reads go through
 * io_read/io_view. Depends on nothing but libc. Not thread-safe for writes; concurrent
 * io_read/io_view calls are safe as long as no write runs at the same time. */
#ifndef VLS_IO_H
#define VLS_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct vls_io vls_io;

/* Opens `path` (read-only unless writable). With create, a new file is made first under a
 * temporary name, given `init` bytes (the file header), synced and renamed into place, so a
 * crash never leaves a half-made store behind. Errors are VLS_E_* codes with *err_errno set. */
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

/* Re-reads the file size and maps what is new (read-only handles following a writer). */
int io_refresh(vls_io *io, int *err_errno);
/* Maps [0, size) as far as the file goes; used after commits so reads come from memory. */
void io_map_committed(vls_io *io, uint64_t size);

int io_append(vls_io *io, const void *buf, size_t len, int *err_errno);
int io_sync(vls_io *io, int *err_errno);
int io_truncate(vls_io *io, uint64_t size, int *err_errno);

/* Fault injection for tests (tests/test_faults.c): when set, the Nth I/O call from now
 * (counting appends, syncs and truncates) fails with `err` (EIO, ENOSPC...), and with
 * persistent != 0 every later one too. short_write makes a failing append write half first.
 * io_fault_calls counts the calls made since the last io_fault_set. Process-wide. */
void io_fault_set(long nth, int err, int persistent, int short_write);
long io_fault_calls(void);

#endif
