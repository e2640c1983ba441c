/* chunk.h — compressing and decoding one chunk with Blosc (the _ctx functions only, which are
 * thread-safe), and reading a byte range out of a chunk without decoding all of it.
 * Depends on libblosc and format.h. */
#ifndef VLS_CHUNK_H
#define VLS_CHUNK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int codec;       /* Blosc codec number, or FMT_CODEC_RAW */
    int level, shuffle, typesize, threads;
    uint32_t block_size;
} chunk_params;

/* Upper bound on the stored size of a raw chunk of `raw` bytes. */
size_t chunk_bound(size_t raw);

/* Compresses src[0..raw) into dst (capacity chunk_bound(raw)). Stores the chunk raw when the
 * codec is none or compression does not help. Returns 0 and sets *stored and *codec_used. */
int chunk_compress(const chunk_params *p, const void *src, size_t raw, void *dst,
                   size_t *stored, uint8_t *codec_used);

/* Decodes a whole chunk. Returns 0 or VLS_E_CODEC/VLS_E_CORRUPT (msg says why). */
/* Checks a stored chunk's framing against what the index says, before anything is allocated
 * or Blosc sees it: raw chunks hold exactly raw bytes; a Blosc buffer's every header field
 * (version, flags, typesize, nbytes = raw, blocksize, cbytes = stored, its block table, the
 * compressor format = codec) is consistent, so no crafted input reaches Blosc 1's asserts.
 * VLS_OK or VLS_E_CORRUPT with msg. */
int chunk_check_header(uint8_t codec, const void *src, size_t stored, size_t raw, char *msg,
                       size_t msgcap);
int chunk_decompress(uint8_t codec, const void *src, size_t stored, void *dst, size_t raw,
                     int threads, char *msg, size_t msgcap);

/* Copies bytes [off, off+len) of the decoded chunk into dst, decoding only the Blosc blocks
 * that hold them. Returns 0; 1 when the chunk cannot be read this way (caller decodes it
 * whole); or VLS_E_CODEC/VLS_E_CORRUPT. */
int chunk_read_range(uint8_t codec, const void *src, size_t stored, size_t raw, uint64_t off,
                     size_t len, void *dst, char *msg, size_t msgcap);

/* Where the compressed bytes of the Blosc blocks holding decoded bytes [off, off+len) lie in
 * the stored chunk: [*from, *to). Reads only the Blosc header and block-start table (which
 * lie at the front of src). Returns 0, or -1 when the chunk is raw, memcpyed or malformed
 * (the caller then does without the hint). */
int chunk_block_span(uint8_t codec, const void *src, size_t stored, size_t raw, uint64_t off,
                     size_t len, uint64_t *from, uint64_t *to);

#endif