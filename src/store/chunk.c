/* chunk.c — Blosc wrappers (see chunk.h). Blosc return codes are translated here, once. */
#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "format.h"
#include "util.h"
#include "vlstore.h"

size_t chunk_bound(size_t raw)
{
    return raw + BLOSC_MAX_OVERHEAD;
}

static const char *compname(int codec)
{
    switch (codec) {
    case VLS_CODEC_BLOSCLZ: return BLOSC_BLOSCLZ_COMPNAME;
    case VLS_CODEC_LZ4: return BLOSC_LZ4_COMPNAME;
    case VLS_CODEC_LZ4HC: return BLOSC_LZ4HC_COMPNAME;
    case VLS_CODEC_ZLIB: return BLOSC_ZLIB_COMPNAME;
    case VLS_CODEC_ZSTD: return BLOSC_ZSTD_COMPNAME;
    default: return NULL;
    }
}

int chunk_compress(const chunk_params *p, const void *src, size_t raw, void *dst,
                   size_t *stored, uint8_t *codec_used)
{
    const char *name = compname(p->codec);
    if (name && raw <= (size_t)BLOSC_MAX_BUFFERSIZE) {
        int typesize = raw % (size_t)p->typesize == 0 ? p->typesize : 1;
        /* block_size is the block Blosc writes, which one random read decodes whole. Blosc 1
         * splits the blocks of every compressor but zstd into typesize lanes and multiplies a
         * forced block size by the typesize (floor 64 KiB; measured with c-blosc 1.21, and
         * checked by test_store_ops), so ask for block_size / typesize then. */
        size_t request = p->block_size;
        if (p->codec != VLS_CODEC_ZSTD && typesize > 1 && typesize <= 16)
            request /= (size_t)typesize;
        int n = blosc_compress_ctx(p->level, p->shuffle, (size_t)typesize, raw, src, dst,
                                   chunk_bound(raw), name, request,
                                   p->threads > 0 ? p->threads : 1);
        /* n == 0: did not fit (incompressible); n < 0: Blosc refused. Both: store raw. A
         * level-0 or memcpy'd Blosc buffer buys nothing over raw, so keep raw then too. */
        if (n > 0 && (size_t)n < raw) {
            *stored = (size_t)n;
            *codec_used = (uint8_t)p->codec;
            return VLS_OK;
        }
    }
    memcpy(dst, src, raw);
    *stored = raw;
    *codec_used = FMT_CODEC_RAW;
    return VLS_OK;
}

/* Checks the Blosc header against what the index says before Blosc sees the buffer:
 * version, sizes and block layout. Blosc 1.x trusts its header; we do not. */
static int check_blosc_header(const unsigned char *s, size_t stored, size_t raw, char *msg,
                              size_t msgcap, uint32_t *blocksize, uint32_t *typesize)
{
    if (stored < BLOSC_MIN_HEADER_LENGTH) {
        snprintf(msg, msgcap, "Blosc buffer of %zu bytes is shorter than its header", stored);
        return VLS_E_CORRUPT;
    }
    uint32_t nbytes = get_le32(s + 4), bs = get_le32(s + 8), cbytes = get_le32(s + 12);
    if (s[0] == 0 || s[0] > 3 || nbytes != raw || cbytes != stored || bs == 0 ||
        bs > nbytes || s[3] == 0) {
        snprintf(msg, msgcap, "Blosc header disagrees with the index (version %u, %u raw bytes "
                 "for %zu expected, %u stored for %zu, block size %u)", s[0], nbytes, raw, cbytes,
                 stored, bs);
        return VLS_E_CORRUPT;
    }
    /* flags: byte shuffle and bit shuffle exclude each other; a memcpy'd buffer is the
     * header plus the raw bytes; bits 5-7 name the compressor format, which must be the one
     * the index names (the caller checks it through chunk_check_format) */
    unsigned flags = s[2];
    if (((flags & BLOSC_DOSHUFFLE) && (flags & BLOSC_DOBITSHUFFLE)) ||
        ((flags & BLOSC_MEMCPYED) && (uint64_t)nbytes + BLOSC_MAX_OVERHEAD != cbytes)) {
        snprintf(msg, msgcap, "Blosc header flags 0x%02x do not fit its sizes", flags);
        return VLS_E_CORRUPT;
    }
    if (!(s[2] & BLOSC_MEMCPYED)) {
        uint64_t nblocks = (nbytes + (uint64_t)bs - 1) / bs;
        if (16 + nblocks * 4 > stored) {
            snprintf(msg, msgcap, "Blosc block table runs past the buffer");
            return VLS_E_CORRUPT;
        }
        for (uint64_t i = 0; i < nblocks; i++) {
            uint32_t start = get_le32(s + 16 + 4 * i);
            if (start < 16 + nblocks * 4 || start >= stored) {
                snprintf(msg, msgcap, "Blosc block %llu starts outside the buffer",
                         (unsigned long long)i);
                return VLS_E_CORRUPT;
            }
        }
    }
    *blocksize = bs;
    *typesize = s[3];
    return VLS_OK;
}

/* The Blosc compressor format code (flags bits 5-7) each codec writes. */
static int format_code(uint8_t codec)
{
    switch (codec) {
    case VLS_CODEC_BLOSCLZ: return BLOSC_BLOSCLZ_FORMAT;
    case VLS_CODEC_LZ4:
    case VLS_CODEC_LZ4HC: return BLOSC_LZ4_FORMAT;
    case VLS_CODEC_ZLIB: return BLOSC_ZLIB_FORMAT;
    case VLS_CODEC_ZSTD: return BLOSC_ZSTD_FORMAT;
    default: return -1;
    }
}

int chunk_check_header(uint8_t codec, const void *src, size_t stored, size_t raw, char *msg,
                       size_t msgcap)
{
    uint32_t bs, ts;
    if (codec == FMT_CODEC_RAW) {
        if (stored == raw)
            return VLS_OK;
        snprintf(msg, msgcap, "raw chunk holds %zu bytes, index says %zu", stored, raw);
        return VLS_E_CORRUPT;
    }
    int rc = check_blosc_header(src, stored, raw, msg, msgcap, &bs, &ts);
    if (rc != VLS_OK)
        return rc;
    const unsigned char *s = src;
    if (!(s[2] & BLOSC_MEMCPYED) && (s[2] >> 5) != format_code(codec)) {
        snprintf(msg, msgcap, "Blosc header names compressor format %u, the index codec %u",
                 s[2] >> 5, codec);
        return VLS_E_CORRUPT;
    }
    return VLS_OK;
}

int chunk_decompress(uint8_t codec, const void *src, size_t stored, void *dst, size_t raw,
                     int threads, char *msg, size_t msgcap)
{
    if (codec == FMT_CODEC_RAW) {
        if (stored != raw) {
            snprintf(msg, msgcap, "raw chunk holds %zu bytes, index says %zu", stored, raw);
            return VLS_E_CORRUPT;
        }
        memcpy(dst, src, raw);
        return VLS_OK;
    }
    int rc = chunk_check_header(codec, src, stored, raw, msg, msgcap);
    if (rc != VLS_OK)
        return rc;
    int n = blosc_decompress_ctx(src, dst, raw, threads > 0 ? threads : 1);
    if (n < 0 || (size_t)n != raw) {
        snprintf(msg, msgcap, "Blosc could not decode the chunk (returned %d for %zu bytes)", n,
                 raw);
        return VLS_E_CODEC;
    }
    return VLS_OK;
}

int chunk_block_span(uint8_t codec, const void *src, size_t stored, size_t raw, uint64_t off,
                     size_t len, uint64_t *from, uint64_t *to)
{
    const unsigned char *b = src;
    char msg[8];
    uint32_t bs, ts;
    if (codec == FMT_CODEC_RAW || len == 0 || off > raw || len > raw - off ||
        check_blosc_header(src, stored, raw, msg, sizeof msg, &bs, &ts) != VLS_OK ||
        (b[2] & 0x2) || bs == 0)
        return -1;
    uint64_t nblocks = (raw + bs - 1) / bs, first = off / bs, last = (off + len - 1) / bs;
    if (BLOSC_MIN_HEADER_LENGTH + 4 * nblocks > stored)
        return -1;
    *from = get_le32(b + BLOSC_MIN_HEADER_LENGTH + 4 * first);
    *to = last + 1 < nblocks ? get_le32(b + BLOSC_MIN_HEADER_LENGTH + 4 * (last + 1)) : stored;
    if (*from > *to || *to > stored)
        return -1;
    return 0;
}

int chunk_read_range(uint8_t codec, const void *src, size_t stored, size_t raw, uint64_t off,
                     size_t len, void *dst, char *msg, size_t msgcap)
{
    if (off > raw || len > raw - off) {
        snprintf(msg, msgcap, "range %llu+%zu outside a chunk of %zu bytes",
                 (unsigned long long)off, len, raw);
        return VLS_E_CORRUPT;
    }
    if (codec == FMT_CODEC_RAW) {
        if (stored != raw) {
            snprintf(msg, msgcap, "raw chunk holds %zu bytes, index says %zu", stored, raw);
            return VLS_E_CORRUPT;
        }
        memcpy(dst, (const unsigned char *)src + off, len);
        return VLS_OK;
    }
    uint32_t bs, ts;
    int rc = check_blosc_header(src, stored, raw, msg, msgcap, &bs, &ts);
    if (rc == VLS_OK)
        rc = chunk_check_header(codec, src, stored, raw, msg, msgcap);
    if (rc != VLS_OK)
        return rc;
    if (len == 0)
        return VLS_OK;
    /* blosc_getitem works in whole items of the buffer's typesize. */
    uint64_t first = off / ts, last = (off + len + ts - 1) / ts;
    if (last * ts > raw || last - first > (uint64_t)INT32_MAX / ts)
        return 1;
    size_t span = (size_t)((last - first) * ts);
    unsigned char stackbuf[4096];
    unsigned char *tmp = span <= sizeof stackbuf ? stackbuf : malloc(span);
    if (!tmp)
        return VLS_E_NOMEM;
    int n = blosc_getitem(src, (int)first, (int)(last - first), tmp);
    if (n < 0 || (size_t)n != span) {
        if (tmp != stackbuf)
            free(tmp);
        snprintf(msg, msgcap, "Blosc could not decode bytes %llu..%llu of the chunk (returned %d)",
                 (unsigned long long)off, (unsigned long long)(off + len), n);
        return VLS_E_CODEC;
    }
    memcpy(dst, tmp + (off - first * ts), len);
    if (tmp != stackbuf)
        free(tmp);
    return VLS_OK;
}
