/* blockread.c — a small range of a chunk from an unmapped file (VLS_NOMMAP handles, such as
 * the loader's): one pread of the blocks it needs (two the first time a chunk is touched)
 * instead of the whole chunk.
 *
 * A mapped handle reads a small range by faulting in the chunk's Blosc header page and asking
 * for the compressed bytes of the blocks that hold it (read.c). Without a map the store used
 * to read and decode the whole chunk (MiBs for one record). Here: one pread of the Blosc
 * header and block-start table at the front of the chunk, one pread of the compressed
 * blocks the range needs, placed at their own offsets in a buffer laid out like the stored
 * chunk (the bytes between are never read, by us or by Blosc), then the usual partial
 * decode. The table is kept per handle, so later reads of the chunk are one pread. What a cold get costs in reads is in docs/BENCH.md, "Bigger than memory". */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

#define HEAD_GUESS 4096u /* one page: the block table of up to 1020 blocks */

/* ---- block tables kept per handle ------------------------------------------------------
 * A chunk's Blosc header and block-start table (16 + 4 per block bytes: 272 for a 4 MiB
 * chunk of 64 KiB blocks) are kept once read, so every later small read of that chunk is one
 * pread of its blocks. Committed chunks never change, so a kept table stays right; the
 * handle frees them at close. Guarded by spare_mu (the lock of the other read buffers). */

/* Copies chunk ci's table into out (cap bytes) if kept; returns its length, or 0. */
static size_t table_get(vls_store *s, uint64_t ci, unsigned char *out, size_t cap)
{
    size_t len = 0;
    pthread_mutex_lock(&s->spare_mu);
    if (ci < s->nblock_tables && s->block_tables[ci]) {
        uint32_t n = get_le32(s->block_tables[ci]);
        if (n <= cap) {
            memcpy(out, s->block_tables[ci] + 4, n);
            len = n;
        }
    }
    pthread_mutex_unlock(&s->spare_mu);
    return len;
}

/* Keeps chunk ci's table (len bytes). Without memory it is simply not kept. */
static void table_put(vls_store *s, uint64_t ci, const unsigned char *tab, size_t len)
{
    unsigned char *copy = malloc(4 + len);
    if (!copy)
        return;
    put_le32(copy, (uint32_t)len);
    memcpy(copy + 4, tab, len);
    pthread_mutex_lock(&s->spare_mu);
    if (ci >= s->nblock_tables) {
        uint64_t n = s->ix.nc > ci ? s->ix.nc : ci + 1;
        unsigned char **t = realloc(s->block_tables, n * sizeof *t);
        if (t) {
            memset(t + s->nblock_tables, 0, (n - s->nblock_tables) * sizeof *t);
            s->block_tables = t;
            s->nblock_tables = n;
        }
    }
    if (ci < s->nblock_tables && !s->block_tables[ci]) {
        s->block_tables[ci] = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->spare_mu);
    free(copy); /* another thread kept it first, or no room */
}

void store_block_tables_free(vls_store *s)
{
    for (uint64_t i = 0; i < s->nblock_tables; i++)
        free(s->block_tables[i]);
    free(s->block_tables);
    s->block_tables = NULL;
    s->nblock_tables = 0;
}

/* ---- reading the blocks of a range ------------------------------------------------------ */
int store_read_blocks(vls_store *s, uint64_t ci, uint64_t in, size_t n, unsigned char *dst)
{
    const idx_chunk *c = &s->ix.c[ci];
    const uint64_t at = c->file_off + FMT_FRAME_HDR_SIZE;
    if (c->codec == FMT_CODEC_RAW || c->payload < 16)
        return 1;
    spare_buf *buf = store_spare_take(s, c->payload);
    if (!buf)
        return vls_seterr(s, VLS_E_NOMEM, "no memory to read chunk %llu",
                          (unsigned long long)ci);
    int err = 0, rc = VLS_OK, kept = 1;
    size_t head = table_get(s, ci, buf->data, c->payload);
    if (!head) { /* first small read of this chunk: the table, usually in one read */
        kept = 0;
        head = c->payload < HEAD_GUESS ? c->payload : HEAD_GUESS;
        rc = io_read(s->io, at, buf->data, head, &err);
        if (rc == VLS_OK) {
            uint32_t bs = get_le32(buf->data + 8);
            uint64_t table = bs ? 16 + 4 * ((c->raw + (uint64_t)bs - 1) / bs) : 0;
            if (table > c->payload)
                rc = 1; /* malformed: the whole-chunk path reports it */
            else if (table > head)
                rc = io_read(s->io, at + head, buf->data + head, (size_t)(table - head), &err);
            if (rc == VLS_OK && table > head)
                head = (size_t)table;
        }
    }
    uint64_t from = 0, to = 0;
    if (rc == VLS_OK &&
        chunk_block_span(c->codec, buf->data, c->payload, c->raw, in, n, &from, &to) != 0)
        rc = 1; /* memcpyed or odd: decode whole */
    if (rc == VLS_OK && !kept) {
        uint32_t bs = get_le32(buf->data + 8);
        table_put(s, ci, buf->data, (size_t)(16 + 4 * ((c->raw + (uint64_t)bs - 1) / bs)));
    }
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
