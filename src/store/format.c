/* format.c — byte layouts of docs/FORMAT.md. Every structure ends with an XXH3_64 of the
 * bytes before it, so a torn or flipped header is told apart from a valid one. */
#include <stdio.h>
#include <string.h>
#include "xxh.h"

#include "format.h"
#include "util.h"
#include "vlstore.h"

const unsigned char FMT_MAGIC[8] = {0x89, 'V', 'L', 'S', '\r', '\n', 0x1a, '\n'};
const unsigned char FMT_TRAILER_MAGIC[8] = {'V', 'L', 'S', 'C', 'O', 'M', 'M', 'T'};

uint64_t fmt_hash(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

/* ---- file header: 64 bytes at offset 0 -------------------------------------------------- */
void fmt_header_encode(const fmt_header *h, unsigned char out[FMT_HEADER_SIZE])
{
    memset(out, 0, FMT_HEADER_SIZE);
    memcpy(out, FMT_MAGIC, 8);
    put_le32(out + 8, h->version);
    put_le32(out + 12, FMT_HEADER_SIZE);
    put_le64(out + 16, h->file_id);
    put_le32(out + 24, h->chunk_size);
    put_le32(out + 28, h->block_size);
    out[32] = h->codec;
    out[33] = h->level;
    out[34] = h->shuffle;
    out[35] = h->typesize;
    out[36] = h->placement;
    put_le64(out + 56, fmt_hash(out, 56));
}

int fmt_header_decode(const unsigned char in[FMT_HEADER_SIZE], fmt_header *h, char *msg,
                      size_t msgcap)
{
    if (memcmp(in, FMT_MAGIC, 8) != 0) {
        snprintf(msg, msgcap, "header at offset 0: magic bytes are not those of a vlstore file");
        return VLS_E_BADMAGIC;
    }
    h->version = get_le32(in + 8);
    if (h->version != FMT_VERSION) {
        snprintf(msg, msgcap, "header at offset 0: format version %u, this library reads %u",
                 h->version, FMT_VERSION);
        return VLS_E_VERSION;
    }
    if (get_le64(in + 56) != fmt_hash(in, 56)) {
        snprintf(msg, msgcap, "header at offset 0: checksum mismatch");
        return VLS_E_CHECKSUM;
    }
    if (get_le32(in + 12) != FMT_HEADER_SIZE) {
        snprintf(msg, msgcap, "header at offset 0: header size %u, expected %u",
                 get_le32(in + 12), FMT_HEADER_SIZE);
        return VLS_E_CORRUPT;
    }
    h->file_id = get_le64(in + 16);
    h->chunk_size = get_le32(in + 24);
    h->block_size = get_le32(in + 28);
    h->codec = in[32];
    h->level = in[33];
    h->shuffle = in[34];
    h->typesize = in[35];
    h->placement = in[36];
    if (h->chunk_size < 4096 || h->chunk_size > (1u << 30) || h->level > 9 || h->shuffle > 2 ||
        h->typesize == 0 || h->placement > 2 ||
        (h->codec > 5 && h->codec != FMT_CODEC_RAW) || h->codec == 3) {
        snprintf(msg, msgcap, "header at offset 0: settings out of range (chunk size %u, codec %u,"
                 " level %u, shuffle %u, typesize %u, placement %u)", h->chunk_size, h->codec,
                 h->level, h->shuffle, h->typesize, h->placement);
        return VLS_E_CORRUPT;
    }
    return VLS_OK;
}

/* ---- chunk frame header: 32 bytes before each chunk's payload --------------------------- */
void fmt_frame_encode(const fmt_frame *f, unsigned char out[FMT_FRAME_HDR_SIZE])
{
    memset(out, 0, FMT_FRAME_HDR_SIZE);
    put_le32(out, FMT_FRAME_MAGIC);
    put_le32(out + 4, f->payload_size);
    put_le32(out + 8, f->raw_size);
    out[12] = f->codec;
    put_le64(out + 16, f->payload_hash);
    put_le64(out + 24, fmt_hash(out, 24));
}

int fmt_frame_decode(const unsigned char in[FMT_FRAME_HDR_SIZE], fmt_frame *f)
{
    if (get_le32(in) != FMT_FRAME_MAGIC)
        return VLS_E_CORRUPT;
    if (get_le64(in + 24) != fmt_hash(in, 24))
        return VLS_E_CHECKSUM;
    f->payload_size = get_le32(in + 4);
    f->raw_size = get_le32(in + 8);
    f->codec = in[12];
    f->payload_hash = get_le64(in + 16);
    return VLS_OK;
}

/* ---- index segment header: 56 bytes before each segment's payload ----------------------- */
void fmt_segment_encode(const fmt_segment *s, unsigned char out[FMT_SEG_HDR_SIZE])
{
    memset(out, 0, FMT_SEG_HDR_SIZE);
    put_le32(out, FMT_SEG_MAGIC);
    put_le32(out + 4, s->flags);
    put_le64(out + 8, s->stored_size);
    put_le64(out + 16, s->raw_size);
    put_le64(out + 24, s->prev_offset);
    put_le64(out + 32, s->seq);
    put_le64(out + 40, s->payload_hash);
    put_le64(out + 48, fmt_hash(out, 48));
}

int fmt_segment_decode(const unsigned char in[FMT_SEG_HDR_SIZE], fmt_segment *s)
{
    if (get_le32(in) != FMT_SEG_MAGIC)
        return VLS_E_CORRUPT;
    if (get_le64(in + 48) != fmt_hash(in, 48))
        return VLS_E_CHECKSUM;
    s->flags = get_le32(in + 4);
    s->stored_size = get_le64(in + 8);
    s->raw_size = get_le64(in + 16);
    s->prev_offset = get_le64(in + 24);
    s->seq = get_le64(in + 32);
    s->payload_hash = get_le64(in + 40);
    if (s->flags & ~(uint32_t)(FMT_SEG_FULL | FMT_SEG_COMPRESSED))
        return VLS_E_CORRUPT;
    return VLS_OK;
}

/* ---- commit trailer: 64 bytes, last thing a commit writes ------------------------------- */
void fmt_trailer_encode(const fmt_trailer *t, unsigned char out[FMT_TRAILER_SIZE])
{
    memset(out, 0, FMT_TRAILER_SIZE);
    memcpy(out, FMT_TRAILER_MAGIC, 8);
    put_le64(out + 8, t->file_id);
    put_le64(out + 16, t->seq);
    put_le64(out + 24, t->index_offset);
    put_le64(out + 32, t->self_offset);
    put_le64(out + 40, t->records);
    put_le64(out + 48, t->meta_offset);
    put_le64(out + 56, fmt_hash(out, 56));
}

int fmt_trailer_decode(const unsigned char in[FMT_TRAILER_SIZE], uint64_t file_id, uint64_t at,
                       fmt_trailer *t)
{
    if (memcmp(in, FMT_TRAILER_MAGIC, 8) != 0)
        return VLS_E_CORRUPT;
    if (get_le64(in + 56) != fmt_hash(in, 56))
        return VLS_E_CHECKSUM;
    t->file_id = get_le64(in + 8);
    t->seq = get_le64(in + 16);
    t->index_offset = get_le64(in + 24);
    t->self_offset = get_le64(in + 32);
    t->records = get_le64(in + 40);
    t->meta_offset = get_le64(in + 48); /* reserved (zero) before metadata existed */
    if (t->file_id != file_id || t->self_offset != at || t->index_offset >= at ||
        t->index_offset < FMT_HEADER_SIZE || t->seq == 0)
        return VLS_E_CORRUPT;
    return VLS_OK;
}
