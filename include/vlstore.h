/*
 * vlstore.h — variable-length records in one compressed, chunked, crash-safe file.
 *
 * A store maps keys (byte strings, 1 B .. 64 KiB) to records (byte strings, 0 B .. many GiB).
 * Records are packed into logical chunks (default 4 MiB) that are compressed one by one with
 * Blosc and appended to the file; an index and a commit trailer follow. Nothing committed is
 * ever overwritten, so a crash at any moment leaves the file readable as of the last commit.
 * The on-disk format is specified in docs/FORMAT.md.
 *
 * Conventions (they hold for every public header: vlstore_frame.h, _depot.h, _loader.h too)
 *  - Every function returning an int status returns 0 (VLS_OK) on success or a negative
 *    VLS_E_* code. The walkers (vls_iter_next*, vls_depot_next, vls_loader_next*,
 *    vls_xyz_next) return 1 with an item, 0 at the end, negative on error: loop while the
 *    result is > 0. The few ints that are values, not statuses, say so (the -1 of
 *    vls_compressor_from_name for an unknown name; vls_frame_is_aligned, which cannot fail).
 *    No function answers a question with its return value where an error could read as
 *    "yes": vls_contains() reports through *found.
 *  - Error messages, one pattern for every handle type: vls_errmsg(store),
 *    vls_depot_errmsg(depot), vls_loader_errmsg(loader), vls_xyz_errmsg(parser) give the
 *    detail of the last failure on that handle ("chunk 17 at offset 73400320: checksum
 *    mismatch"); vls_strerror(code) names the code. Each takes NULL for the calling thread's
 *    last failure that had no handle to hold it: a failed open (vls_open, vls_depot_open,
 *    vls_loader_open*, vls_xyz_open*), a failed close, or a call without a handle
 *    (vls_compact_file, vls_recover, vls_frame_verify, vls_frame_view, ...); all four give
 *    the same string for NULL. See vls_errmsg() for how long a message lives.
 *  - Sizes: what the library reports about stored data — a record's length, an offset, a
 *    count, a position — is a uint64_t everywhere (vls_get*'s and vls_depot_get*'s *len,
 *    vls_size, the walkers, spans, chunk lengths, vls_stat, vls_record): a file can hold
 *    records larger than a 32-bit address space. What the caller hands in about its own
 *    memory — a buffer's capacity (cap), a key's length (klen), vls_put's len — is a size_t.
 *  - Threads: a store may be shared by any number of threads calling the read functions
 *    (get, get_many, size, contains, iterate, stat, verify). Functions that change the store
 *    (put, delete, commit, refresh, compact) take the handle exclusively; they may be called
 *    from any thread and simply wait for running reads.
 *  - One writer per file: a second read-write open of the same file, in this process or
 *    another, fails with VLS_E_LOCKED. Read-only handles never block and see the store as of
 *    their open (or their last vls_refresh()).
 *  - fork(): a handle belongs to the process that opened it. In a child forked after the open,
 *    writes, commit, rollback and the reads that run on the handle's thread pool (get_many,
 *    get_many_into) fail with VLS_E_FORKED (the writer lock, the write-behind thread and the
 *    pool stayed with the parent: the child hung, or both processes committed and the file
 *    failed verify); vls_close commits nothing and returns VLS_E_FORKED. Single-record reads
 *    (get, size, contains, iterate, read_chunk) still work in the child. Open the store again
 *    in the child instead (a loader's workers do).
 */
#ifndef VLSTORE_H
#define VLSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && (__GNUC__ >= 4)
#define VLS_API __attribute__((visibility("default")))
#else
#define VLS_API
#endif

/* The library's version; CMakeLists.txt reads it from here (one source). ABI policy while the
 * major version is 0: every minor release may change the ABI (struct layouts, signatures) and
 * gets its own SONAME, libvlstore.so.0.MINOR; patch releases keep the ABI. From 1.0 on the
 * SONAME follows the major version. CHANGELOG.md lists every change to the API. */
#define VLS_VERSION_MAJOR 0
#define VLS_VERSION_MINOR 2
#define VLS_VERSION_PATCH 0
#define VLS_VERSION_STRING "0.2.0"

typedef struct vls_store vls_store; /* an open store: opaque */

/*-*************************************
 *  Errors
 ***************************************/
#define VLS_OK 0
#define VLS_E_INVAL -1001    /* bad argument (NULL, empty key, absurd option, ...) */
#define VLS_E_NOMEM -1002    /* an allocation failed */
#define VLS_E_IO -1003       /* a read, write, sync or rename failed (errno in the message) */
#define VLS_E_NOSPC -1004    /* no space left on the device (or quota exceeded) */
#define VLS_E_NOTFOUND -1005 /* no record under this key */
#define VLS_E_EXISTS -1006   /* key exists and VLS_NOREPLACE was given; or file exists */
#define VLS_E_TOOSMALL -1007 /* caller buffer too small; the size needed is reported */
#define VLS_E_CORRUPT -1008  /* a structure in the file is malformed */
#define VLS_E_CHECKSUM -1009 /* a checksum does not match the bytes it covers */
#define VLS_E_VERSION -1010  /* the file was written by an unknown format version */
#define VLS_E_BADMAGIC -1011 /* not a vlstore file */
#define VLS_E_TRUNCATED -1012 /* the file ends before a structure it needs */
#define VLS_E_LOCKED -1013   /* another writer holds the file */
#define VLS_E_READONLY -1014 /* the handle was opened read-only */
#define VLS_E_TOOBIG -1015   /* a size is beyond what the format or the machine supports */
#define VLS_E_CODEC -1016    /* Blosc refused to compress or decompress */
#define VLS_E_FAILED -1017   /* an earlier write or sync failed; the handle takes no more writes */
#define VLS_E_NOTDIR -1018   /* a path that must be a directory is not one */
#define VLS_E_FORKED -1019   /* the handle was opened before a fork(): open the store again */

/*! vls_strerror() :
 *  @return : a static string naming `code` (never NULL; "unknown error" for foreign codes). */
VLS_API const char *vls_strerror(int code);

/*! vls_errmsg() :
 *  The detail of the calling thread's last failure on `store`, or, with store == NULL, of its
 *  last failure that had no handle (see Conventions above; vls_errmsg(NULL) is the same
 *  string as vls_loader_errmsg(NULL), vls_depot_errmsg(NULL) and vls_xyz_errmsg(NULL)).
 *  Lifetime : the string is owned by the library and stays unchanged until the next failure
 *  on the same handle in the same thread (for NULL, the next handle-less failure in this
 *  thread); successful calls never clear it. vls_close() drops the store's message (a failed
 *  close moves it to vls_errmsg(NULL)). A store may be shared by threads, so its messages are
 *  kept per thread: each thread keeps the messages of its 8 most recently failed store
 *  handles, and an older one then reads as "" (copy a message to keep it longer).
 *  Never NULL; "" when nothing failed. */
VLS_API const char *vls_errmsg(const struct vls_store *store);

/*-*************************************
 *  Options
 ***************************************/
/* Blosc compressors (Blosc's own word for them is "codec", hence the VLS_CODEC_ names and
 * vls_options.codec; a depot codec, vlstore_depot.h, is something else: it turns C objects
 * into records). VLS_CODEC_NONE stores chunks uncompressed: reads are plain copies. */
enum vls_codec {
    VLS_CODEC_BLOSCLZ = 0,
    VLS_CODEC_LZ4 = 1,
    VLS_CODEC_LZ4HC = 2,
    VLS_CODEC_ZLIB = 4,
    VLS_CODEC_ZSTD = 5,
    VLS_CODEC_NONE = 15
};

enum vls_shuffle { VLS_SHUFFLE_NONE = 0, VLS_SHUFFLE_BYTE = 1, VLS_SHUFFLE_BIT = 2 };

/* Where records are put relative to chunk boundaries (the seed's alignment policies). */
enum vls_placement {
    VLS_PLACE_NOCROSS = 0,    /* a record that fits in one chunk never straddles two (default) */
    VLS_PLACE_CONTIGUOUS = 1, /* records back to back; they may straddle chunk boundaries */
    VLS_PLACE_START = 2       /* every record starts a new chunk */
};

/*! vls_options :
 *  Per-file settings (fixed when a file is created, stored in its header) and per-handle
 *  settings (cache, threads). Fill with vls_options_init() first, then change fields.
 *  When an existing file is opened, the per-file fields are read from the file and the
 *  values given here are ignored. */
typedef struct vls_options {
    uint32_t struct_size;  /* sizeof(vls_options); set by vls_options_init() */
    /* per file */
    uint32_t chunk_size;   /* logical chunk size in bytes, 4 KiB .. 1 GiB; default 4 MiB */
    int32_t codec;         /* enum vls_codec; default VLS_CODEC_LZ4 */
    int32_t level;         /* 0..9; default 9 (for lz4 in Blosc: its best ratio, same decode speed) */
    int32_t shuffle;       /* enum vls_shuffle; default VLS_SHUFFLE_BYTE */
    int32_t typesize;      /* element size for shuffling, 1..255; default 4 (float32) */
    uint32_t block_size;   /* the Blosc block: what one random read decodes; 0 lets Blosc
                              choose; default 512 KiB; at most chunk_size (a larger value
                              is taken as chunk_size). Blosc 1 writes at least 64 KiB blocks
                              for every codec but zstd */
    int32_t placement;     /* enum vls_placement; default VLS_PLACE_NOCROSS */
    /* per handle */
    int32_t threads;       /* threads for compression and for decoding a batch; default 1 */
    uint64_t cache_bytes;  /* decompressed-chunk cache; 0 disables; default 64 MiB */
    int32_t write_behind;  /* writers: 1 (default) compresses each full chunk on a background
                              thread while puts fill the next; 0 compresses on the caller's
                              thread. The file is written the same either way. */
    uint32_t reserved32;   /* zero */
    uint64_t reserved[7];  /* zero; room to grow without breaking callers. vls_open refuses
                              a nonzero reserved field with VLS_E_INVAL naming it (a setting
                              from a newer header this library would otherwise ignore) */
} vls_options;

/*! vls_options_init() : fills `opts` with the defaults (documented field by field above). */
VLS_API void vls_options_init(vls_options *opts);

/*! vls_options_random_access() :
 *  Defaults tuned for single-record random reads: 64 KiB Blosc blocks (the smallest Blosc 1
 *  writes for lz4), so a small record is served by decoding less. Costs ratio (see README,
 *  "Choosing settings"). */
VLS_API void vls_options_random_access(vls_options *opts);

/* Compressor names (blosclz, lz4, lz4hc, zlib, zstd, none) and back: vls_compressor_name()
 * returns "unknown" for a value outside enum vls_codec, vls_compressor_from_name() returns -1
 * for an unknown name. Placement names (nocross, contiguous, start) likewise. */
VLS_API const char *vls_compressor_name(int codec);
VLS_API int vls_compressor_from_name(const char *name);
VLS_API const char *vls_placement_name(int placement);
VLS_API int vls_placement_from_name(const char *name);

/*-*************************************
 *  Open and close
 ***************************************/

#define VLS_RDONLY 0x80u       /* read only: the default for files; refuses writes on a memory
                                  store too (with VLS_RDWR, CREATE or TRUNCATE: VLS_E_INVAL) */
#define VLS_RDWR 0x1u          /* read and write; takes the writer lock */
#define VLS_CREATE 0x2u        /* create the file when it does not exist (implies VLS_RDWR) */
#define VLS_TRUNCATE 0x4u      /* start from an empty store even if the file exists (implies RDWR) */
#define VLS_EXCL 0x8u          /* with VLS_CREATE: fail with VLS_E_EXISTS if the file exists */
#define VLS_VERIFY_READS 0x10u /* kept for old callers: every read checks every record's hash now */
#define VLS_NOSYNC 0x20u       /* skip fsync at commit: fast, but a power loss may lose commits */
#define VLS_NOMMAP 0x40u       /* read with pread instead of mapping the file */

/*! vls_open() :
 *  Opens the store at `path`, or an in-memory store when path is NULL (memory stores are
 *  read-write unless VLS_RDONLY is given, and vanish on close). `opts` may be NULL for the
 *  defaults. For an existing file the per-file options (chunk size, codec, level, shuffle,
 *  typesize, block size, placement) come from the file and those passed are ignored, without
 *  an error: vls_stat_get() reports the settings in effect.
 *  Opening reads the tail of the file, then the index; it never reads record data.
 *  A file whose tail was torn by a crash opens as of its last complete commit; its bytes are
 *  never overwritten: a writer pads to 8 bytes and appends after them (dead space until
 *  vls_compact).
 *  @return : 0 and *out set, or a negative code with *out = NULL (detail: vls_errmsg(NULL)). */
VLS_API int vls_open(const char *path, unsigned flags, const vls_options *opts, vls_store **out);

/*! vls_close() :
 *  Commits (unless read-only), releases the lock and frees the handle.
 *  vls_close(NULL) is a no-op returning 0. The handle is freed even when the final commit
 *  fails; the return value reports that failure. It never returns 0 after data was dropped:
 *  on a handle whose earlier write or sync failed (and was not rolled back since) it returns
 *  that failure's code and commits nothing. In a process forked after the open it commits
 *  nothing and returns VLS_E_FORKED. The detail of a failure is in vls_errmsg(NULL).
 *  The store's directory is opened once, at open, and synced through that descriptor: a
 *  chdir() or a renamed parent directory after the open does not change which directory a
 *  commit makes durable. */
VLS_API int vls_close(vls_store *store);

/*! vls_commit() :
 *  Makes every put and delete so far durable: writes the pending chunk, the index changes and
 *  a commit trailer, with a sync before and after the trailer (unless VLS_NOSYNC).
 *  When it returns 0, the records survive a killed process and a power loss.
 *  After a failed write or sync (disk full, I/O error) the writer cuts the file back to its
 *  last commit (so it verifies clean and the partial chunks give their space back), drops the
 *  changes since that commit, and refuses further writes (VLS_E_FAILED) until vls_rollback();
 *  the file opens as of its last successful commit. */
VLS_API int vls_commit(vls_store *store);

/*! vls_rollback() :
 *  Drops every put and delete (and metadata change) since the last commit (like LMDB's
 *  mdb_txn_abort): the file is cut back to that commit and the handle's index and metadata
 *  reloaded from it. Also the way to go on
 *  after a failed write (the handle takes writes again when this returns 0).
 *  Writers only: VLS_E_READONLY on a read-only handle. Errors: VLS_E_IO / VLS_E_NOSPC when
 *  the file cannot be cut back (the handle then stays failed), VLS_E_FORKED. */
VLS_API int vls_rollback(vls_store *store);

/*! vls_refresh() :
 *  For a read-only handle on a file that another process appends to: loads the newest
 *  commit. When the name the handle was opened under now names another file (an in-place
 *  compaction or a truncate replaced it), the handle moves to that file. Returns 0 (also when
 *  nothing changed); when the new file cannot be opened (removed, damaged), its code, and the
 *  handle stays on the old file. On a read-write handle it does nothing.
 *  Record views and chunk numbers from before a refresh that moved files are stale. */
VLS_API int vls_refresh(vls_store *store);

/*-*************************************
 *  Writing
 ***************************************/
#define VLS_MAX_KEY 65536u     /* longest key in bytes */
#define VLS_NOREPLACE 0x1u     /* vls_put: fail with VLS_E_EXISTS if the key exists */

/*! vls_put() :
 *  Stores `len` bytes from `val` under `key` (klen bytes, 1..VLS_MAX_KEY). Replaces an
 *  existing record unless VLS_NOREPLACE. The record is readable at once through this handle;
 *  it becomes durable at the next vls_commit(). `val` is copied; nothing is retained. */
VLS_API int vls_put(vls_store *store, const void *key, size_t klen, const void *val, size_t len,
                    unsigned flags);
VLS_API int vls_put_str(vls_store *store, const char *key, const void *val, size_t len,
                        unsigned flags);
VLS_API int vls_put_u64(vls_store *store, uint64_t key, const void *val, size_t len,
                        unsigned flags);

/*! vls_delete() :
 *  Removes the record: it is gone at once for this handle, and from the file at the next
 *  commit. Its bytes stay in the file until vls_compact(). VLS_E_NOTFOUND if absent. */
VLS_API int vls_delete(vls_store *store, const void *key, size_t klen);
VLS_API int vls_delete_str(vls_store *store, const char *key);
VLS_API int vls_delete_u64(vls_store *store, uint64_t key);

/* A uint64_t key is stored as its 8 bytes in big-endian order, so integer keys list in
 * numeric order and never depend on the machine. vls_key_u64 writes that form into buf[8]. */
VLS_API void vls_key_u64(uint64_t key, unsigned char buf[8]);

/*-*************************************
 *  Reading
 ***************************************/
/*! vls_get() :
 *  Copies the record under `key` into buf[0..cap). *len receives the record's length.
 *  When cap is too small nothing is copied and VLS_E_TOOSMALL is returned with *len set to
 *  the size needed (call with cap = 0 to query the size first).
 *  A small record is decoded from only the Blosc blocks that hold it: a cold get reads the
 *  chunk's block table (once per chunk: kept per handle, or in the page cache when mapped)
 *  and then those blocks' compressed bytes in one request (docs/BENCH.md, "What a cold get
 *  costs").
 *  Threads : safe on a shared store.   Ownership : nothing retained. */
VLS_API int vls_get(vls_store *store, const void *key, size_t klen, void *buf, size_t cap,
                    uint64_t *len);
VLS_API int vls_get_str(vls_store *store, const char *key, void *buf, size_t cap,
                        uint64_t *len);
VLS_API int vls_get_u64(vls_store *store, uint64_t key, void *buf, size_t cap, uint64_t *len);

/*! vls_get_alloc() :
 *  Like vls_get() into a buffer the library allocates; the caller frees *out with vls_free().
 *  A zero-length record gives a valid non-NULL *out. */
VLS_API int vls_get_alloc(vls_store *store, const void *key, size_t klen, void **out,
                          uint64_t *len);
VLS_API void vls_free(void *p);

/*! Reading a record in pieces (a record of many GiB in bounded memory) :
 *  vls_record_open() finds the record under key and sets *len (may be NULL) to its length;
 *  vls_record_read() copies the next min(cap, bytes left) bytes into buf and sets *got (0 at
 *  the end); vls_record_close() frees the reader (NULL is a no-op). Memory: the reader holds
 *  a hash state; each read decodes at most the chunks its piece touches (bounded by the
 *  chunk size), never the whole record. The record hash is checked as the bytes go by: the
 *  call that returns the last byte returns VLS_E_CHECKSUM when they do not match, and the
 *  caller must then discard everything it read. After vls_rollback() or a vls_refresh() that
 *  moved to a replaced file, further reads fail with VLS_E_INVAL.
 *  Threads : a reader is used by one thread at a time; many readers may share a store.
 *  Errors : VLS_E_NOTFOUND (no such key), VLS_E_NOMEM, and those of vls_get. */
typedef struct vls_record_reader vls_record_reader;
VLS_API int vls_record_open(vls_store *store, const void *key, size_t klen,
                            vls_record_reader **out, uint64_t *len);
VLS_API int vls_record_read(vls_record_reader *reader, void *buf, size_t cap, size_t *got);
VLS_API void vls_record_close(vls_record_reader *reader);

/*! Writing a record in pieces (a record of many GiB in bounded memory) :
 *  vls_record_create() starts a record of len bytes under key (flags as vls_put), or of a
 *  length not known yet when len is VLS_LEN_UNKNOWN (up to 2^48 bytes); vls_record_write()
 *  appends the next n bytes; vls_record_finish() checks that exactly len bytes came, puts the
 *  record under key (replacing any record there, as vls_put) and frees the writer, whatever
 *  it returns; vls_record_cancel() drops the record and frees the writer (NULL is a no-op).
 *  The record is part of the next vls_commit() like any put. Memory: the writer holds the
 *  key and a hash state; the bytes go into the chunk being filled, never into a buffer of the
 *  record's size.
 *  One writer at a time per store. While it is open, vls_put, vls_commit and a second
 *  vls_record_create fail with VLS_E_INVAL (they would interleave with its bytes); reads and
 *  vls_delete work. vls_close cancels a record left open, frees its writer (which must not be
 *  used after) and commits the rest; vls_rollback drops the record too, and then the writer's
 *  calls fail with VLS_E_INVAL (cancel or finish still frees it).
 *  A cancelled record whose first bytes already left the chunk being filled stays in the
 *  file as unreferenced bytes (as a deleted record's do) until vls_compact.
 *  Threads : one thread at a time on a writer, like every write.
 *  Errors : VLS_E_INVAL (more bytes than len, fewer at finish, a writer already open or no
 *  longer valid), VLS_E_EXISTS (VLS_NOREPLACE), VLS_E_TOOBIG, and those of vls_put. */
#define VLS_LEN_UNKNOWN UINT64_MAX
typedef struct vls_record_writer vls_record_writer;
VLS_API int vls_record_create(vls_store *store, const void *key, size_t klen, uint64_t len,
                              unsigned flags, vls_record_writer **out);
VLS_API int vls_record_write(vls_record_writer *writer, const void *data, size_t n);
VLS_API int vls_record_finish(vls_record_writer *writer);
VLS_API void vls_record_cancel(vls_record_writer *writer);

/*! vls_size() : the record's length in *len, without reading it. */
VLS_API int vls_size(vls_store *store, const void *key, size_t klen, uint64_t *len);

/*! vls_contains() :
 *  Sets *found to 1 when the key is present, else 0, from the in-memory index (no I/O).
 *  @return : 0, or VLS_E_INVAL (NULL store or found, a key of 0 or more than VLS_MAX_KEY
 *  bytes) with *found = 0 when found is not NULL. The answer is never the return value, so
 *  an error cannot read as "present". */
VLS_API int vls_contains(vls_store *store, const void *key, size_t klen, int *found);

/*! vls_count() : the number of live records. */
VLS_API uint64_t vls_count(vls_store *store);

/*! vls_iter_next() :
 *  Walks the keys in storage order. Start with *pos = 0; each call that returns 1 fills
 *  *key and *klen (a view valid until the next change to the store) and *len (record length),
 *  and advances *pos. Returns 0 at the end, VLS_E_INVAL for a NULL store or pos (loop while
 *  the result is > 0). Records deleted meanwhile are skipped. */
VLS_API int vls_iter_next(vls_store *store, uint64_t *pos, const void **key, size_t *klen,
                          uint64_t *len);

/*! vls_iter_next_chunk() : vls_iter_next() that also reports where the record lies: *chunk,
 *  the number of the chunk holding its first byte (chunks are numbered in file order from
 *  0), and *offset, where it starts inside that chunk's decoded bytes; a record longer than
 *  the rest of its chunk continues at the start of the next chunk(s). *chunk is UINT64_MAX
 *  (and *offset 0) while the record is still in a writer's uncommitted open chunk. Records
 *  of one chunk come one after another. chunk and offset may be NULL. */
VLS_API int vls_iter_next_chunk(vls_store *store, uint64_t *pos, const void **key, size_t *klen,
                                uint64_t *len, uint64_t *chunk, uint64_t *offset);

/*! Whole chunks (the loader's read path) :
 *  vls_chunk_count() is the number of committed chunks; vls_chunk_length() sets *len to
 *  chunk's decoded size. vls_read_chunk() decodes chunk whole into dst (cap >= its decoded
 *  size, else VLS_E_TOOSMALL with *len set to the size needed), checking its checksum the
 *  first time this handle reads it; *len is the decoded size. It bypasses the chunk cache
 *  (nothing is copied twice), reads the chunk's bytes in one request, and decodes on the
 *  handle's `threads` Blosc threads. Records that lie in the chunk are then at their
 *  vls_iter_next_chunk() offsets, each checked against the hash its index entry keeps
 *  (VLS_E_CHECKSUM otherwise); a record that continues into the next chunk is not, since
 *  its bytes are not all here: check it with vls_check_record() once joined.
 *  Threads : safe on a shared store.   Errors : VLS_E_NOTFOUND for a chunk number past
 *  the end; VLS_E_CHECKSUM / VLS_E_CORRUPT / VLS_E_CODEC / VLS_E_IO as for vls_get. */
VLS_API uint64_t vls_chunk_count(vls_store *store);

/*! vls_check_record() :
 *  Checks len bytes at data against the length and hash the index keeps for key: 0 when they
 *  match, VLS_E_CHECKSUM when not, VLS_E_NOTFOUND for an unknown key. For readers that join a
 *  record crossing chunk boundaries from vls_read_chunk() results (the loader does).
 *  Threads : safe on a shared store.   Cost : one XXH3 pass over len bytes (~20 GB/s). */
VLS_API int vls_check_record(vls_store *store, const void *key, size_t klen, const void *data,
                             size_t len);
VLS_API int vls_chunk_length(vls_store *store, uint64_t chunk, uint64_t *len);
VLS_API int vls_read_chunk(vls_store *store, uint64_t chunk, void *dst, size_t cap,
                           uint64_t *len);

/*-*************************************
 *  Chunk I/O advice (the loader's read path at storage speed; src/store/advise.c)
 ***************************************/
/*! vls_chunk_advise() :
 *  Tells the OS how the stored bytes of chunks [first, first+count) will be used, so a reader
 *  of a data set bigger than memory keeps the disk busy and the page cache small:
 *   VLS_ADVISE_WILLNEED : start reading them into the page cache now, in the background
 *                         (posix_fadvise WILLNEED), so a later vls_read_chunk finds them there;
 *   VLS_ADVISE_DONTNEED : drop them from the page cache (after they were read and decoded);
 *   VLS_ADVISE_EXACT    : for the whole file (first and count are not used): reads through
 *                         this handle fetch what they ask and no more (posix_fadvise RANDOM:
 *                         no kernel readahead past a read's end). For a reader that asks
 *                         for every chunk it wants with WILLNEED and drops it after: the
 *                         readahead past one chunk's end otherwise reads into a neighbour
 *                         already dropped (measured: +37 % bytes from disk).
 *  Advice only: the call never reads or waits for data, and the OS may ignore it. Memory
 *  stores and chunks still in a writer's open chunk are not touched.
 *  vls_chunk_extent() : where chunk's frame lies in the file (*offset, *bytes: header and
 *  payload), e.g. to tell which chunks of a read are neighbours on disk.
 *  Threads : safe on a shared store.   Errors : VLS_E_NOTFOUND for chunks past the end,
 *  VLS_E_INVAL for a NULL store or an unknown advice. */
#define VLS_ADVISE_WILLNEED 1
#define VLS_ADVISE_DONTNEED 2
#define VLS_ADVISE_EXACT 3
VLS_API int vls_chunk_advise(vls_store *store, uint64_t first, uint64_t count, int advice);
VLS_API int vls_chunk_extent(vls_store *store, uint64_t chunk, uint64_t *offset,
                             uint64_t *bytes);

/*! Batched reads (the seed's fused_get) :
 *  vls_get_many() reads the records named by keys[0..n) into one caller buffer, decoding each
 *  needed chunk once no matter how many requested records it holds, on up to `threads`
 *  threads. spans[i] receives record i's offset and length inside dst, records placed in
 *  request order, back to back. A key that does not exist gets spans[i].status =
 *  VLS_E_NOTFOUND and length 0; the call then returns VLS_E_NOTFOUND after serving every
 *  other key. vls_get_many_size() reports the total bytes needed (missing keys count 0).
 *  When cap is too small nothing is read and VLS_E_TOOSMALL is returned with *needed set.
 *  Threads : safe on a shared store.   Ownership : nothing retained. */
typedef struct vls_key {
    const void *data;
    size_t len;
} vls_key;

typedef struct vls_span {
    uint64_t offset; /* where the record starts in dst */
    uint64_t length; /* its length (0 for a missing key) */
    int status;      /* 0, or VLS_E_NOTFOUND, or the error that hit this record */
} vls_span;

VLS_API int vls_get_many_size(vls_store *store, size_t n, const vls_key *keys, uint64_t *total);
VLS_API int vls_get_many(vls_store *store, size_t n, const vls_key *keys, void *dst, size_t cap,
                         vls_span *spans, uint64_t *needed);

/*! vls_get_many_into() : like vls_get_many() but record i goes to bufs[i] (capacity caps[i]);
 *  a record too big for its buffer gets status VLS_E_TOOSMALL and length = size needed. */
VLS_API int vls_get_many_into(vls_store *store, size_t n, const vls_key *keys, void *const *bufs,
                              const size_t *caps, vls_span *spans);

/*-*************************************
 *  Whole-store operations
 ***************************************/
/*! vls_stat :
 *  Growable by its size field: set struct_size to sizeof(vls_stat) before calling
 *  vls_stat_get (`vls_stat st = {.struct_size = sizeof st};`). Fields are only ever appended;
 *  the library fills the fields it knows, never writes past its own sizeof(vls_stat), and
 *  sets struct_size to the bytes it filled, so a program built against a newer header can
 *  tell which of its fields an older library did not fill (they keep their values). */
typedef struct vls_stat {
    uint32_t struct_size;   /* in: sizeof(vls_stat) as the caller knows it; out: bytes filled */
    uint32_t format_version;
    uint64_t records;       /* live records */
    uint64_t logical_bytes; /* sum of live record lengths */
    uint64_t dead_bytes;    /* record bytes still in the file but deleted or replaced */
    uint64_t file_bytes;    /* size of the committed file */
    uint64_t chunks;        /* chunk frames */
    uint64_t commits;       /* commit sequence number of the state seen */
    vls_options options;    /* the file's settings and this handle's */
} vls_stat;

/*! vls_stat_get() :
 *  Fills *st (see vls_stat for struct_size). Threads : safe on a shared store.
 *  @return : 0; VLS_E_INVAL for a NULL argument or a struct_size smaller than the first
 *  vls_stat layout (0: the caller forgot to set it). */
VLS_API int vls_stat_get(vls_store *store, vls_stat *st);

/*! vls_verify() :
 *  Reads every chunk, the index and every record, checking each checksum and each record's
 *  hash. Each problem found is passed to `report` (may be NULL) as a sentence, once: a
 *  damaged chunk is one problem that names the keys of the records lying in it (the first
 *  10, then a count), a record failing its hash in a sound chunk one problem naming its key.
 *  Cost : one pass, each chunk read and decoded once; memory beyond the index: one decoded
 *  chunk and 16 bytes per record, whatever the file's size or the records' lengths.
 *  SIGBUS: a handle that maps the file (the default) is killed by SIGBUS when the file is
 *  cut short by another process or a mapped page hits a media error; open with VLS_NOMMAP
 *  (vlstore verify does; vls_recover always reads with pread) to get VLS_E_IO /
 *  VLS_E_TRUNCATED instead.
 *  @return : 0 when sound, else the code of the first problem (VLS_E_CHECKSUM, ...).
 *  *problems (may be NULL) receives the number of problems found. */
VLS_API int vls_verify(vls_store *store, void (*report)(void *ctx, const char *problem),
                       void *ctx, uint64_t *problems);

/*! vls_verify_flags() :
 *  vls_verify() with flags. A crash is not damage: bytes after the last valid commit that
 *  hold no complete commit trailer are an interrupted write (a killed import); the store
 *  opens at its last commit with nothing lost, so they are reported as a note (a report line
 *  starting "note: ", not counted in *problems) and the call returns 0. A complete
 *  trailer-shaped record there that fails its checksum is damage (VLS_E_CHECKSUM), as is any
 *  broken index chain (the store does not open). With VLS_VERIFY_STRICT the torn tail counts
 *  as a problem too (VLS_E_CORRUPT). vls_verify(s, ...) is vls_verify_flags(s, 0, ...). */
#define VLS_VERIFY_STRICT 0x1u
VLS_API int vls_verify_flags(vls_store *store, unsigned flags,
                             void (*report)(void *ctx, const char *problem),
                             void *ctx, uint64_t *problems);

/*! vls_compact() :
 *  Writes the live records of `store`, in storage order, to a new store at out_path with the
 *  same settings, reclaiming dead space. Memory stays bounded (about two chunks). The new file
 *  is synced before this returns. The source handle is not changed. */
VLS_API int vls_compact(vls_store *store, const char *out_path);

/*! vls_compact_file() :
 *  Compacts the file at `path`. With out_path NULL it works in place: the new file is written
 *  beside the old one, synced, then renamed over it, so a crash leaves either the old or the
 *  new store, never a mix. Takes the writer lock for the duration. */
VLS_API int vls_compact_file(const char *path, const char *out_path);

/*! vls_compact_shuffled() / vls_compact_file_shuffled() :
 *  vls_compact() and vls_compact_file() writing the records in a random order drawn from
 *  `seed` (the same seed gives the same order) instead of storage order: a block-shuffled
 *  epoch then mixes the whole dataset even when it was written in time order (docs/LOADER.md,
 *  "Shuffle on write"). Costs 8 bytes of memory per record and random reads of the source. */
VLS_API int vls_compact_shuffled(vls_store *store, const char *out_path, uint64_t seed);
VLS_API int vls_compact_file_shuffled(const char *path, const char *out_path, uint64_t seed);

/*! vls_recover() :
 *  Salvages every intact record of a damaged file into a new store at out_path (created;
 *  never overwritten: VLS_E_EXISTS if it exists). It trusts neither the header nor the
 *  trailers: it scans the file for chunk frames and index segments by their magic and
 *  checksum (docs/FORMAT.md), replays the newest chain of index segments that verify, checks
 *  every chunk's payload hash and every record's hash, and writes the records that pass, in
 *  storage order, with the damaged file's settings (the defaults if its header is damaged).
 *  Each thing skipped is passed to `report` (may be NULL) as a sentence: "chunk at offset X:
 *  checksum mismatch", the keys of lost records (the first 20), damaged index segments.
 *  What cannot be salvaged: records whose bytes fail their hash; and records that no surviving
 *  index segment names — keys live only in the index, so bytes without an index entry cannot
 *  be named (they are counted, not written). A damaged segment loses its commit's changes:
 *  records that commit deleted or replaced then come back in their previous versions.
 *  The damaged file is only read. `st` (may be NULL) receives the counts.
 *  @return : 0 when out_path was written (st->lost == 0 means nothing was lost);
 *  VLS_E_BADMAGIC when the file holds no vlstore structure at all; VLS_E_EXISTS, VLS_E_IO,
 *  VLS_E_NOSPC, VLS_E_NOMEM when reading or writing failed (detail: vls_errmsg(NULL)). */
typedef struct vls_recover_stats {
    uint64_t records;        /* records written to the new store */
    uint64_t bytes;          /* their total length */
    uint64_t records_lost;   /* records the surviving index names whose bytes are damaged */
    uint64_t chunks;         /* chunks the surviving index names */
    uint64_t chunks_damaged; /* of those, chunks failing their payload hash or decoding */
    uint64_t segments;       /* index segments replayed */
    uint64_t segments_lost;  /* index segments of the history found damaged or missing */
    uint64_t unnamed_chunks; /* chunk frames after the newest surviving segment that no index
                                names (a lost commit's data, or a crashed commit's) */
    uint64_t unnamed_bytes;  /* their stored size */
    uint64_t dead_chunks;    /* unnamed frames before it: dead space of interrupted commits */
    uint64_t lost;           /* records_lost + segments_lost + unnamed_chunks; 0: complete */
    uint64_t reserved[5];
} vls_recover_stats;

VLS_API int vls_recover(const char *damaged_path, const char *out_path,
                        void (*report)(void *ctx, const char *what), void *ctx,
                        vls_recover_stats *st);

/*-*************************************
 *  Per-store metadata (docs/FORMAT.md, "Metadata block")
 ***************************************/
/* A store carries one small key/value document beside its records: units, level of theory,
 * source, reference atomic energies, whatever the user sets. Keys are NUL-terminated names;
 * values are bytes (text by convention). It is part of a commit like the records: a set or
 * delete is seen at once through this handle and written by the next vls_commit(),
 * atomically with that commit's records; a crash before then loses it with them. Files
 * written before metadata existed have none. Readers see the document of the commit they
 * opened (vls_refresh() moves them on). */
#define VLS_META_MAX_KEY 4096u            /* longest metadata key in bytes */
#define VLS_META_MAX_BYTES (16u << 20)    /* largest encoded document */

/*! vls_meta_get() :
 *  Copies the value under `key` (1..VLS_META_MAX_KEY bytes) into buf[0..cap); *len receives
 *  its length. VLS_E_TOOSMALL (nothing copied, *len = size needed) when cap is too small;
 *  call with cap = 0 to ask the size. VLS_E_NOTFOUND when the key has no value.
 *  Threads : safe on a shared store.   Ownership : nothing retained. */
VLS_API int vls_meta_get(vls_store *store, const char *key, void *buf, size_t cap,
                         uint64_t *len);

/*! vls_meta_set() / vls_meta_delete() :
 *  Set `key` to len bytes of val (len 0 allowed), or remove it (VLS_E_NOTFOUND if absent).
 *  Writers only (VLS_E_READONLY). VLS_E_TOOBIG when the encoded document would exceed
 *  VLS_META_MAX_BYTES. Durable at the next vls_commit(). `val` is copied. */
VLS_API int vls_meta_set(vls_store *store, const char *key, const void *val, size_t len);
VLS_API int vls_meta_delete(vls_store *store, const char *key);

/*! vls_meta_count() : the number of metadata keys (0 for NULL). */
VLS_API uint64_t vls_meta_count(vls_store *store);

/*! vls_meta_next() :
 *  Walks the metadata in key byte order. Start with *pos = 0; each call that returns 1 sets
 *  *key (NUL-terminated), *val (followed by a NUL byte not counted in *len) and *len, and
 *  advances *pos; 0 at the end. The views are valid until the next vls_meta_set(),
 *  vls_meta_delete(), vls_refresh() or vls_close() on this handle. */
VLS_API int vls_meta_next(vls_store *store, uint64_t *pos, const char **key, const void **val,
                          uint64_t *len);

/*! vls_progress_set() :
 *  Long whole-store operations called later on this thread (vls_verify, vls_compact,
 *  vls_compact_file, vls_recover) call fn(ctx, what, done, total) as they go: `what` names
 *  the unit ("chunks", "records", "bytes"), done counts up to total, and a new `what`
 *  starts a new phase. Calls come from the calling thread, at most once per chunk or record.
 *  fn NULL turns it off. The setting is the calling thread's own. */
typedef void (*vls_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);
VLS_API void vls_progress_set(vls_progress_fn fn, void *ctx);

/*-*************************************
 *  Hashes (libxxhash)
 ***************************************/
/* The 64-bit hash kept for every record (XXH3_64bits, seed 0). */
VLS_API uint64_t vls_hash64(const void *data, size_t len);
/* The seed's 128-bit content hash (XXH3_128bits, seed 0): out[0..16) big-endian canonical. */
VLS_API void vls_hash128(const void *data, size_t len, unsigned char out[16]);

#ifdef __cplusplus
}
#endif
#endif /* VLSTORE_H */
