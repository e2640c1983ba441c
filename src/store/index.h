/* index.h — the in-memory index: records (key -> logical offset, length, hash) in storage
 * order with a hash table over the keys, and the chunk table (chunk -> file position).
 * Also the index segment payload encoding (docs/FORMAT.md, "Index segment payload").
 * Depends on util.h and libxxhash. Not thread-safe; the store serialises changes. */
#ifndef VLS_INDEX_H
#define VLS_INDEX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    uint64_t key_off; /* key bytes in the key arena */
    uint64_t off;     /* logical offset of the record's first byte */
    uint64_t len;
    uint64_t hash;    /* XXH3_64 of the record */
    uint32_t key_len;
    uint32_t live;    /* 0 once deleted or replaced */
} idx_entry;

typedef struct {
    uint64_t file_off; /* where the frame header starts */
    uint64_t logical;  /* logical offset of the chunk's first byte */
    uint64_t hash;     /* XXH3_64 of the stored payload */
    uint32_t payload;  /* stored bytes */
    uint32_t raw;      /* bytes after decoding */
    uint8_t codec;
    atomic_uchar verified; /* payload hash checked once by this handle */
    atomic_uchar mapped;   /* its pages were mapped in one go (a second whole read) */
    atomic_uint next_in;   /* where the last small read of it ended (sequential detection) */
} idx_chunk;

typedef struct {
    idx_entry *e;
    uint64_t n, cap;
    unsigned char *keys;
    uint64_t keys_len, keys_cap;
    uint64_t *slots; /* (key hash high 32 bits << 32) | (entry + 1); 0 = empty */
    uint64_t nslots; /* power of two */
    uint64_t live, live_bytes;
    idx_chunk *c;
    uint64_t nc, cc;
    uint64_t logical_end; /* end of the last chunk */
} vls_index;

void idx_init(vls_index *ix);
void idx_free(vls_index *ix);
void idx_reset(vls_index *ix);

static inline const unsigned char *idx_key(const vls_index *ix, const idx_entry *e)
{
    return ix->keys + e->key_off;
}

/* Returns the live entry for key, or -1. */
int64_t idx_find(const vls_index *ix, const void *key, size_t klen);
/* Adds a live entry (the caller has removed any older one). Returns 0 or VLS_E_NOMEM. */
int idx_add(vls_index *ix, const void *key, size_t klen, uint64_t off, uint64_t len,
            uint64_t hash);
/* Marks entry i dead and removes it from the hash table. */
void idx_kill(vls_index *ix, uint64_t i);

int idx_add_chunk(vls_index *ix, uint64_t file_off, uint32_t payload, uint32_t raw,
                  uint8_t codec, uint64_t hash);
/* The chunk holding logical byte `off`, or -1 if none. */
int64_t idx_chunk_at(const vls_index *ix, uint64_t off);

/* ---- segment payloads ---- */
/* Appends a put or a delete to an ops buffer (the changes since the last commit). */
int idx_log_put(vbuf *ops, uint64_t *prev_end, const void *key, size_t klen, uint64_t off,
                uint64_t len, uint64_t hash);
int idx_log_delete(vbuf *ops, const void *key, size_t klen);

/* Builds a payload from chunks [chunk_from, nc) and either the ops log (delta) or every live
 * entry (full). */
int idx_encode_payload(const vls_index *ix, uint64_t chunk_from, int full, const vbuf *ops,
                       uint64_t nops, vbuf *out);

/* Applies a payload to ix (after idx_reset for a full one). chunk positions must lie in
 * [min_off, max_off). On a malformed payload returns VLS_E_CORRUPT and writes why to msg. */
int idx_apply_payload(vls_index *ix, const unsigned char *p, size_t len, uint64_t min_off,
                      uint64_t max_off, char *msg, size_t msgcap);

#endif
