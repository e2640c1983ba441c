/* meta.h — per-store metadata: the small key/value document a commit trailer names
 * (docs/FORMAT.md, "Metadata block"). The block's encoding and checks, the handle's decoded
 * copy, and the hooks open, refresh, commit and compaction call. Depends on format and util. */
#ifndef VLS_META_H
#define VLS_META_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define FMT_META_MAGIC 0x444d4c56u /* "VLMD" little-endian */
#define FMT_META_HDR_SIZE 32u

typedef struct {
    unsigned char *key; /* NUL-terminated copy (keys hold no NUL byte) */
    unsigned char *val; /* its own allocation, vlen bytes (+ a NUL for convenience) */
    size_t klen, vlen;
} meta_entry;

/* The decoded document: entries sorted by key bytes, keys unique. */
typedef struct {
    meta_entry *e;
    size_t n, cap;
    size_t bytes; /* encoded payload size, kept to enforce VLS_META_MAX_BYTES */
} meta_doc;

void meta_doc_free(meta_doc *d);

/* Payload <-> document. decode checks the payload rules of FORMAT.md (RM4) and returns 0 or
 * VLS_E_CORRUPT / VLS_E_NOMEM with msg filled. encode returns 0 or VLS_E_NOMEM. */
int meta_doc_decode(const unsigned char *p, size_t len, meta_doc *out, char *msg, size_t cap);
int meta_doc_encode(const meta_doc *d, vbuf *out);

struct vls_store;

/* Loads the document the trailer names (meta_offset 0: none) into s->meta, replacing what was
 * there only on success. limit is the trailer's self_offset. Errors are set on s. */
int meta_load(struct vls_store *s, uint64_t meta_offset, uint64_t limit);

/* Commit hook: when the document changed since the last commit, appends a metadata block
 * (no sync: the commit's segment sync covers it) and sets *meta_offset to it (0 when the
 * document is now empty); otherwise *meta_offset keeps the committed one. Errors are set on s
 * and mark it failed like any other write. */
int meta_append(struct vls_store *s, uint64_t *meta_offset);

/* Compaction hook: gives dst a copy of src's document, to be written with dst's commit. */
int meta_copy(struct vls_store *dst, const struct vls_store *src);

#endif
