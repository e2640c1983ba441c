/* format.h — the on-disk structures of docs/FORMAT.md: file header, chunk frame header,
 * index segment header and commit trailer. Pure encoding/decoding and validation; no I/O.
 * Depends on util.h and libxxhash only. */
#ifndef VLS_FORMAT_H
#define VLS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_VERSION 1u
#define FMT_HEADER_SIZE 64u
#define FMT_FRAME_HDR_SIZE 32u
#define FMT_SEG_HDR_SIZE 56u
#define FMT_TRAILER_SIZE 64u

extern const unsigned char FMT_MAGIC[8];  /* file header */
#define FMT_FRAME_MAGIC 0x4b434c56u       /* "VLCK" little-endian */
#define FMT_SEG_MAGIC 0x58494c56u         /* "VLIX" */
extern const unsigned char FMT_TRAILER_MAGIC[8];

#define FMT_CODEC_RAW 15u /* a chunk stored without compression */

typedef struct {
    uint32_t version;
    uint64_t file_id;
    uint32_t chunk_size;
    uint32_t block_size;
    uint8_t codec, level, shuffle, typesize, placement;
} fmt_header;

typedef struct {
    uint32_t payload_size; /* stored bytes following the frame header */
    uint32_t raw_size;     /* bytes after decoding */
    uint8_t codec;         /* a Blosc codec number, or FMT_CODEC_RAW */
    uint64_t payload_hash; /* XXH3_64 of the stored payload */
} fmt_frame;

#define FMT_SEG_FULL 0x1u       /* the segment holds the whole index, not changes */
#define FMT_SEG_COMPRESSED 0x2u /* the payload is one Blosc buffer */

typedef struct {
    uint32_t flags;
    uint64_t stored_size;  /* payload bytes in the file */
    uint64_t raw_size;     /* payload bytes after decoding */
    uint64_t prev_offset;  /* previous segment of the chain (0: none) */
    uint64_t seq;          /* the commit that wrote it */
    uint64_t payload_hash; /* XXH3_64 of the stored payload */
} fmt_segment;

typedef struct {
    uint64_t file_id;
    uint64_t seq;          /* commit number, 1, 2, ... */
    uint64_t index_offset; /* newest index segment */
    uint64_t self_offset;  /* where this trailer starts */
    uint64_t records;      /* live records after this commit (informative) */
    uint64_t meta_offset;  /* the store's metadata block (0: none; meta.h) */
} fmt_trailer;

void fmt_header_encode(const fmt_header *h, unsigned char out[FMT_HEADER_SIZE]);
/* Returns 0, VLS_E_BADMAGIC, VLS_E_VERSION or VLS_E_CHECKSUM/VLS_E_CORRUPT; msg explains. */
int fmt_header_decode(const unsigned char in[FMT_HEADER_SIZE], fmt_header *h, char *msg,
                      size_t msgcap);

void fmt_frame_encode(const fmt_frame *f, unsigned char out[FMT_FRAME_HDR_SIZE]);
int fmt_frame_decode(const unsigned char in[FMT_FRAME_HDR_SIZE], fmt_frame *f);

void fmt_segment_encode(const fmt_segment *s, unsigned char out[FMT_SEG_HDR_SIZE]);
int fmt_segment_decode(const unsigned char in[FMT_SEG_HDR_SIZE], fmt_segment *s);

void fmt_trailer_encode(const fmt_trailer *t, unsigned char out[FMT_TRAILER_SIZE]);
/* Valid only if magic, checksum and file_id match and self_offset equals `at`. */
int fmt_trailer_decode(const unsigned char in[FMT_TRAILER_SIZE], uint64_t file_id, uint64_t at,
                       fmt_trailer *t);

uint64_t fmt_hash(const void *data, size_t len);

#endif
