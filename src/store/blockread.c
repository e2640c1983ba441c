/* blockread.c — a small range of a chunk from an unmapped file (VLS_NOMMAP handles, such as
 * the loader's): two preads instead of the whole chunk.
 *
 * A mapped handle reads a small range by faulting in the chunk's Blosc header page and asking
 * for the compressed bytes of the blocks that hold it (read.c). Without a map the store used
 * to read and decode the whole chunk (MiBs for one record). Here: one pread of the Blosc
 * header and block-start table at the front of the chunk, one pread of the compressed
 * blocks the range needs, placed at their own offsets in a buffer laid out like the stored
 * chunk (the bytes between are never read, by us or by Blosc), then the usual partial
 * decode. What a cold get costs in reads is in docs/BENCH.md, "Bigger than memory". */
#include <string.h>

#include "store.h"
#include "util.h"

#define HEAD_GUESS 4096u /* one page: the block table of up to 1020 blocks */

int store_read_blocks(vls_store *s, uint64_t ci, uint64_t in, size_t n, unsigned char *dst)
{
    const idx_chunk *c = &s->ix.c[ci];
    const uint64_t at = c->file_off + FMT_FRAME_HDR_SIZE;
    if (c->codec == FMT_CODEC_RAW || c->payload < 16)
        return 1;
    /* the header says the block size, hence the table's length: usually one read */
    size_t head = c->payload < HEAD_GUESS ? c->payload : HEAD_GUESS;
    spare_buf *buf = store_spare_take(s, c->payload);
    if (!buf)
        return vls_seterr(s, VLS_E_NOMEM, "no memory to read chunk %llu",
                          (unsigned long long)ci);
    int err = 0, rc = io_read(s->io, at, buf->data, head, &err);
    if (rc == VLS_OK) {
        uint32_t bs = get_le32(buf->data + 8);
        uint64_t table = bs ? 16 + 4 * ((c->raw + (uint64_t)bs - 1) / bs) : 0;
        if (table > head && table <= c->payload)
            rc = io_read(s->io, at + head, buf->data + head, (size_t)(table - head), &err);
        if (rc == VLS_OK && table > head && table > c->payload)
            rc = 1; /* malformed: the whole-chunk path reports it */
        if (table > head)
            head = (size_t)table;
    }
    uint64_t from = 0, to = 0;
    if (rc == VLS_OK &&
        chunk_block_span(c->codec, buf->data, c->payload, c->raw, in, n, &from, &to) != 0)
        rc = 1; /* memcpyed or odd: decode whole */
    if (rc == VLS_OK && to > head) {
        if (from < head)
            from = head;
        rc = io_read(s->io, at + from, buf->data + from, (size_t)(to - from), &err);
    }
    if (rc == VLS_OK) {
        char why[256];
        rc = chunk_read_range(c->codec, buf->data, c->payload, c->raw, in, n, dst, why,
                              sizeof why);
        if (rc < 0)
            vls_seterr(s, rc, "chunk %llu at offset %llu: %s", (unsigned long long)ci,
                       (unsigned long long)c->file_off, why);
    } else if (rc < 0) {
        vls_seterr(s, rc, "chunk %llu at offset %llu: read failed: %s", (unsigned long long)ci,
                   (unsigned long long)c->file_off,
                   err ? strerror(err) : "file shorter than the index says");
    }
    store_spare_give(s, buf);
    return rc;
}
