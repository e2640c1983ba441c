/* store.h — the store handle, shared by the modules that implement the public API:
 * open.c (open, close), write.c (put, delete), commit.c (finding and writing commits,
 * refresh), read.c (get, chunk reads, queries), spare.c (read buffers), batch.c (get_many),
 * verify.c, compact.c, recover.c. Depends on io, format, index, chunk, cache, pool. */
#ifndef VLS_STORE_H
#define VLS_STORE_H

#include <pthread.h>
#include <sys/types.h>
#include "xxh.h"

#include "cache.h"
#include "chunk.h"
#include "common/error.h"
#include "format.h"
#include "index.h"
#include "compressor.h"
#include "io.h"
#include "meta.h"
#include "common/pool.h"
#include "vlstore.h"

/* A kept buffer for compressed chunk bytes read with pread (spare.c). */
typedef struct spare_buf {
    struct spare_buf *next;
    size_t cap;
    unsigned char data[];
} spare_buf;

struct vls_store {
    vls_io *io;
    unsigned flags;
    int writable;
    int failed;              /* 0, or the code of the write or sync that failed: no more
                                writes until vls_rollback; vls_close returns it */
    pid_t pid;               /* the process that opened the handle (see store_check_fork) */
    uint64_t generation;     /* changes when bytes a reader may hold offsets into go away
                                (rollback, a refresh onto a replaced file): record readers */
    fmt_header hdr;
    vls_options opts;        /* effective settings */
    chunk_params cp;
    vls_index ix;
    pthread_rwlock_t lock;   /* readers shared, changes exclusive */
    vls_cache *cache;
    vls_pool *pool;
    /* buffers for compressed chunks read with pread, kept for reuse: a fresh multi-MiB
     * buffer per read costs page faults on every copy into it */
    pthread_mutex_t spare_mu;
    struct spare_buf *spare; /* a stack of at most SPARE_MAX */
    int nspare;
    unsigned char **block_tables; /* blockread.c: chunk i's Blosc block table once read, */
    uint64_t nblock_tables;       /* length-prefixed; also under spare_mu */

    /* the committed state */
    uint64_t seq;            /* newest commit seen */
    uint64_t committed_size; /* end of the newest trailer (header size when none) */
    uint64_t seg_offset;     /* newest index segment (0: none) */
    uint64_t chain_len;      /* segments since the last full one */
    uint64_t chain_bytes;    /* their payload bytes */
    uint64_t full_bytes;     /* payload bytes of the last full segment */
    uint64_t committed_nc;   /* chunks listed by committed segments */
    meta_doc meta;           /* the metadata document (meta.c), with uncommitted changes */
    uint64_t meta_offset;    /* its block in the newest commit (0: none) */
    int meta_dirty;          /* changed since that commit */

    /* changes since the last commit (writers) */
    vbuf ops;
    uint64_t nops, ops_prev_end;
    int dirty;
    unsigned char *pend;     /* the open chunk: logical bytes [ix.logical_end + behind_len,
                                +pend_len) */
    uint64_t pend_len;
    unsigned char *zbuf;     /* frame header + compressed chunk + padding */
    size_t zcap;
    /* write-behind (opts.write_behind): the last full chunk, compressed into zbuf by the
     * compressor thread while pend fills; logical bytes [ix.logical_end, +behind_len). It is
     * appended and indexed by the next flush or the commit, on the writer's thread. */
    vls_compressor *compressor;
    unsigned char *behind;   /* its raw bytes (pend and behind swap at each hand-over) */
    uint64_t behind_len;     /* 0: none under way */
    int behind_off;          /* the thread or its buffer could not be had: compress inline */

    /* a record being written piece by piece (store_put_begin/append/end) */
    int streaming;
    int stream_open_length; /* vls_record_create with VLS_LEN_UNKNOWN: stream_len is a cap */
    vls_record_writer *writer; /* the open public writer, freed by vls_close if left open */
    uint64_t stream_off, stream_len, stream_done;
    XXH3_state_t *stream_hash;
};

/* An empty handle (locks ready, empty index), and freeing one with all it holds: for
 * vls_open, and for vls_recover's handle over a damaged file. */
vls_store *store_alloc(void);
void store_free(vls_store *s);

/* Records a failed read or write (what, where, errno err) in the handle's message; a failed
 * write also fails a writable handle (no more writes). Returns rc. (open.c) */
int store_fail_io(vls_store *s, int rc, int err, const char *what, uint64_t off);

/* A write, a sync or an in-memory index update failed (its message already set): the handle
 * takes no more writes (s->failed keeps rc; vls_close returns it) and what was appended since
 * the last commit is cut off, so the file is its last commit again (commit.c). Returns rc. */
int store_fail(vls_store *s, int rc);
/* Drops everything since the last commit: the chunk being compressed, the open chunk, the
 * logged changes, the bytes appended to the file; the index is reloaded from the last commit.
 * Caller holds the write lock (commit.c). */
int store_drop_uncommitted(vls_store *s);
/* VLS_E_FORKED with a message naming `what` when called in a process forked after the
 * handle was opened (its writer lock, write-behind thread and thread pool stayed with the
 * parent), else VLS_OK (open.c). */
int store_check_fork(vls_store *s, const char *what);

/* VLS_E_READONLY / VLS_E_FAILED / VLS_E_FORKED with a message when s may not be written
 * (write.c). */
int store_check_writable(vls_store *s);
/* VLS_E_INVAL with a message unless key is 1 to VLS_MAX_KEY bytes (write.c). */
int store_check_key(vls_store *s, const void *key, size_t klen);

/* Writes out the open chunk (handing it to the write-behind thread when `behind` is set and
 * write-behind is on), after the chunk compressed behind before it (write.c). */
int store_flush_chunk(vls_store *s, int behind);

/* Loads the newest commit into s: ix, seq, committed_size, chain state (commit.c). */
int store_load_latest(vls_store *s);
/* vls_commit with the write lock held (commit.c). */
int store_commit_locked(vls_store *s);

/* A buffer of at least len bytes (a kept one when one is big enough), NULL when out of
 * memory; give it back when done; free_all at handle close (spare.c). */
/* blockread.c: bytes [in, in+n) of chunk ci of an unmapped file, from a pread of its block
 * table and one of the blocks they lie in. 0; 1 when the chunk must be decoded whole
 * instead; or a negative VLS_E_ code (message set). Caller holds the read lock. */
int store_read_blocks(vls_store *s, uint64_t ci, uint64_t in, size_t n, unsigned char *dst);
void store_block_tables_free(vls_store *s);
spare_buf *store_spare_take(vls_store *s, size_t len);
void store_spare_give(vls_store *s, spare_buf *b);
void store_spare_free_all(vls_store *s);

/* Reads logical bytes [off, off+len) into dst. *unverified is set when some byte came from a
 * chunk whose checksum was not checked (partial decode) — the caller then checks the record
 * hash. Caller holds the read lock. */
int store_read_logical(vls_store *s, uint64_t off, uint64_t len, void *dst, int *unverified);

/* Copies bytes [in, in+len) of what is not yet in the file: the chunk being compressed behind,
 * then the open chunk (in counts from ix.logical_end). VLS_E_CORRUPT past their end. Caller
 * holds the read lock. */
int store_copy_unwritten(vls_store *s, uint64_t in, uint64_t len, void *dst);

/* Checks a record read into dst against its index hash. */
int store_check_record(vls_store *s, const idx_entry *e, const void *dst);

/* Decodes chunk ci whole, checking its payload hash once. Returns a pinned cache item when the
 * cache is on, else fills *owned (caller frees). *data points at the decoded bytes. */
int store_decode_chunk(vls_store *s, uint64_t ci, cache_item **item, unsigned char **owned,
                       const unsigned char **data);
void store_release_chunk(vls_store *s, cache_item *item, unsigned char *owned);

/* Streaming put: begin with the total length, append pieces, end. Used by compaction. */
int store_put_begin(vls_store *s, const void *key, size_t klen, uint64_t len, unsigned flags);
int store_put_append(vls_store *s, const void *data, size_t len);
int store_put_end(vls_store *s, const void *key, size_t klen);
/* Abandons the record being written: its bytes are dropped when none has left the chunk
 * being filled, else left unreferenced (write.c). */
void store_put_abandon(vls_store *s);

#endif
