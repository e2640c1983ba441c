/* index.c — in-memory index and segment payload coding (see index.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xxh.h"

#include "format.h"
#include "index.h"
#include "vlstore.h"

#define OP_PUT 1
#define OP_DELETE 2

void idx_init(vls_index *ix)
{
    memset(ix, 0, sizeof *ix);
}

void idx_free(vls_index *ix)
{
    free(ix->e);
    free(ix->keys);
    free(ix->slots);
    free(ix->c);
    memset(ix, 0, sizeof *ix);
}

void idx_reset(vls_index *ix)
{
    ix->n = 0;
    ix->keys_len = 0;
    if (ix->slots)
        memset(ix->slots, 0, ix->nslots * sizeof *ix->slots);
    ix->live = ix->live_bytes = 0;
    ix->nc = 0;
    ix->logical_end = 0;
}

static uint64_t key_hash(const void *key, size_t klen)
{
    return XXH3_64bits(key, klen);
}

static int64_t probe(const vls_index *ix, const void *key, size_t klen, uint64_t h,
                     uint64_t *slot_out)
{
    uint64_t mask = ix->nslots - 1, tag = h >> 32;
    for (uint64_t s = h & mask;; s = (s + 1) & mask) {
        uint64_t v = ix->slots[s];
        if (v == 0) {
            *slot_out = s;
            return -1;
        }
        if ((v >> 32) == tag) {
            const idx_entry *e = &ix->e[(v & 0xffffffffu) - 1];
            if (e->key_len == klen && memcmp(ix->keys + e->key_off, key, klen) == 0) {
                *slot_out = s;
                return (int64_t)((v & 0xffffffffu) - 1);
            }
        }
    }
}

int64_t idx_find(const vls_index *ix, const void *key, size_t klen)
{
    uint64_t slot;
    if (ix->nslots == 0)
        return -1;
    return probe(ix, key, klen, key_hash(key, klen), &slot);
}

/* Doubles the table (kept at most half full) and re-inserts the live entries. */
static int grow_slots(vls_index *ix)
{
    uint64_t n = ix->nslots ? ix->nslots * 2 : 1024;
    uint64_t *s = calloc(n, sizeof *s);
    if (!s)
        return VLS_E_NOMEM;
    free(ix->slots);
    ix->slots = s;
    ix->nslots = n;
    for (uint64_t i = 0; i < ix->n; i++) {
        const idx_entry *e = &ix->e[i];
        if (!e->live)
            continue;
        uint64_t h = key_hash(ix->keys + e->key_off, e->key_len), slot;
        probe(ix, ix->keys + e->key_off, e->key_len, h, &slot);
        s[slot] = ((h >> 32) << 32) | (i + 1);
    }
    return VLS_OK;
}

/* Makes room for `more` entries and `key_bytes` of keys in one step (opening a store applies
 * a million entries; growing the table by doubling would rehash it twenty times). */
static int idx_reserve(vls_index *ix, uint64_t more, uint64_t key_bytes)
{
    uint64_t want = ix->nslots ? ix->nslots : 1024;
    while ((ix->live + more) * 2 > want)
        want *= 2;
    while (ix->nslots < want)
        if (grow_slots(ix) != VLS_OK)
            return VLS_E_NOMEM;
    if (ix->n + more > ix->cap) {
        idx_entry *e = realloc(ix->e, (ix->n + more) * sizeof *e);
        if (!e)
            return VLS_E_NOMEM;
        ix->e = e;
        ix->cap = ix->n + more;
    }
    if (ix->keys_len + key_bytes > ix->keys_cap) {
        unsigned char *k = realloc(ix->keys, ix->keys_len + key_bytes);
        if (!k)
            return VLS_E_NOMEM;
        ix->keys = k;
        ix->keys_cap = ix->keys_len + key_bytes;
    }
    return VLS_OK;
}

static int idx_add_hashed(vls_index *ix, const void *key, size_t klen, uint64_t h,
                          uint64_t off, uint64_t len, uint64_t hash);

int idx_add(vls_index *ix, const void *key, size_t klen, uint64_t off, uint64_t len,
            uint64_t hash)
{
    return idx_add_hashed(ix, key, klen, key_hash(key, klen), off, len, hash);
}

/* idx_add with the key's table hash h already computed (see idx_apply_payload). */
static int idx_add_hashed(vls_index *ix, const void *key, size_t klen, uint64_t h,
                          uint64_t off, uint64_t len, uint64_t hash)
{
    if (ix->n >= 0xfffffffeu)
        return VLS_E_TOOBIG;
    /* records are in storage order (a writer appends; a full segment lists them in order):
     * whole-chunk reads find a chunk's records by binary search on it */
    if (ix->n && off < ix->e[ix->n - 1].off)
        return VLS_E_CORRUPT;
    if ((ix->live + 1) * 2 > ix->nslots && grow_slots(ix) != VLS_OK)
        return VLS_E_NOMEM;
    if (ix->n == ix->cap) {
        uint64_t cap = ix->cap ? ix->cap * 2 : 1024;
        idx_entry *e = realloc(ix->e, cap * sizeof *e);
        if (!e)
            return VLS_E_NOMEM;
        ix->e = e;
        ix->cap = cap;
    }
    if (ix->keys_len + klen > ix->keys_cap) {
        uint64_t cap = ix->keys_cap ? ix->keys_cap : 65536;
        while (cap < ix->keys_len + klen)
            cap *= 2;
        unsigned char *k = realloc(ix->keys, cap);
        if (!k)
            return VLS_E_NOMEM;
        ix->keys = k;
        ix->keys_cap = cap;
    }
    uint64_t slot;
    int64_t old = probe(ix, key, klen, h, &slot);
    if (old >= 0) /* callers kill the old entry first; keep the table consistent anyway */
        idx_kill(ix, (uint64_t)old), probe(ix, key, klen, h, &slot);
    idx_entry *e = &ix->e[ix->n];
    e->key_off = ix->keys_len;
    e->key_len = (uint32_t)klen;
    e->off = off;
    e->len = len;
    e->hash = hash;
    e->live = 1;
    memcpy(ix->keys + ix->keys_len, key, klen);
    ix->keys_len += klen;
    ix->slots[slot] = ((h >> 32) << 32) | (ix->n + 1);
    ix->n++;
    ix->live++;
    ix->live_bytes += len;
    return VLS_OK;
}

void idx_kill(vls_index *ix, uint64_t i)
{
    idx_entry *e = &ix->e[i];
    if (!e->live)
        return;
    uint64_t slot, mask = ix->nslots - 1;
    probe(ix, ix->keys + e->key_off, e->key_len, key_hash(ix->keys + e->key_off, e->key_len),
          &slot);
    /* Linear probing: delete by shifting later members of the cluster back (no tombstones). */
    uint64_t hole = slot;
    for (uint64_t s = (hole + 1) & mask; ix->slots[s] != 0; s = (s + 1) & mask) {
        const idx_entry *o = &ix->e[(ix->slots[s] & 0xffffffffu) - 1];
        uint64_t home = key_hash(ix->keys + o->key_off, o->key_len) & mask;
        /* move s into the hole unless its home lies cyclically in (hole, s] */
        int stays = hole <= s ? (home > hole && home <= s) : (home > hole || home <= s);
        if (!stays) {
            ix->slots[hole] = ix->slots[s];
            hole = s;
        }
    }
    ix->slots[hole] = 0;
    e->live = 0;
    ix->live--;
    ix->live_bytes -= e->len;
}

int idx_add_chunk(vls_index *ix, uint64_t file_off, uint32_t payload, uint32_t raw,
                  uint8_t codec, uint64_t hash)
{
    if (ix->nc == ix->cc) {
        uint64_t cap = ix->cc ? ix->cc * 2 : 256;
        idx_chunk *c = realloc(ix->c, cap * sizeof *c);
        if (!c)
            return VLS_E_NOMEM;
        ix->c = c;
        ix->cc = cap;
    }
    idx_chunk *c = &ix->c[ix->nc++];
    c->file_off = file_off;
    c->logical = ix->logical_end;
    c->payload = payload;
    c->raw = raw;
    c->codec = codec;
    c->hash = hash;
    atomic_init(&c->verified, 0);
    atomic_init(&c->mapped, 0);
    atomic_init(&c->next_in, UINT32_MAX);
    ix->logical_end += raw;
    return VLS_OK;
}

int64_t idx_chunk_at(const vls_index *ix, uint64_t off)
{
    if (off >= ix->logical_end || ix->nc == 0)
        return -1;
    uint64_t lo = 0, hi = ix->nc; /* find the last chunk with logical <= off */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ix->c[mid].logical <= off)
            lo = mid;
        else
            hi = mid;
    }
    return (int64_t)lo;
}

/* ---- payload coding ---------------------------------------------------------------------- */
int idx_log_put(vbuf *ops, uint64_t *prev_end, const void *key, size_t klen, uint64_t off,
                uint64_t len, uint64_t hash)
{
    if (vbuf_reserve(ops, 1 + 3 * VARINT_MAX + klen + 8) != 0)
        return VLS_E_NOMEM;
    unsigned char *p = ops->p + ops->len;
    *p++ = OP_PUT;
    p += varint_put(p, klen);
    memcpy(p, key, klen);
    p += klen;
    p += varint_put(p, zigzag_enc((int64_t)(off - *prev_end)));
    p += varint_put(p, len);
    put_le64(p, hash);
    p += 8;
    ops->len = (size_t)(p - ops->p);
    *prev_end = off + len;
    return VLS_OK;
}

int idx_log_delete(vbuf *ops, const void *key, size_t klen)
{
    if (vbuf_reserve(ops, 1 + VARINT_MAX + klen) != 0)
        return VLS_E_NOMEM;
    unsigned char *p = ops->p + ops->len;
    *p++ = OP_DELETE;
    p += varint_put(p, klen);
    memcpy(p, key, klen);
    p += klen;
    ops->len = (size_t)(p - ops->p);
    return VLS_OK;
}

int idx_encode_payload(const vls_index *ix, uint64_t chunk_from, int full, const vbuf *ops,
                       uint64_t nops, vbuf *out)
{
    out->len = 0;
    if (vbuf_reserve(out, 2 * VARINT_MAX + (ix->nc - chunk_from) * (3 * VARINT_MAX + 9)) != 0)
        return VLS_E_NOMEM;
    unsigned char *p = out->p;
    p += varint_put(p, ix->nc - chunk_from);
    for (uint64_t i = chunk_from; i < ix->nc; i++) {
        const idx_chunk *c = &ix->c[i];
        p += varint_put(p, c->file_off);
        p += varint_put(p, c->payload);
        p += varint_put(p, c->raw);
        *p++ = c->codec;
        put_le64(p, c->hash);
        p += 8;
    }
    out->len = (size_t)(p - out->p);
    if (!full) {
        if (vbuf_reserve(out, VARINT_MAX + ops->len) != 0)
            return VLS_E_NOMEM;
        out->len += varint_put(out->p + out->len, nops);
        if (ops->len)
            memcpy(out->p + out->len, ops->p, ops->len);
        out->len += ops->len;
        return VLS_OK;
    }
    if (vbuf_reserve(out, VARINT_MAX) != 0)
        return VLS_E_NOMEM;
    out->len += varint_put(out->p + out->len, ix->live);
    vbuf tmp = *out;
    uint64_t prev_end = 0;
    for (uint64_t i = 0; i < ix->n; i++) {
        const idx_entry *e = &ix->e[i];
        if (!e->live)
            continue;
        if (idx_log_put(&tmp, &prev_end, ix->keys + e->key_off, e->key_len, e->off, e->len,
                        e->hash) != VLS_OK) {
            *out = tmp;
            return VLS_E_NOMEM;
        }
    }
    *out = tmp;
    return VLS_OK;
}

#define BAD(...) (snprintf(msg, msgcap, __VA_ARGS__), VLS_E_CORRUPT)

int idx_apply_payload(vls_index *ix, const unsigned char *p, size_t len, uint64_t min_off,
                      uint64_t max_off, char *msg, size_t msgcap)
{
    const unsigned char *end = p + len;
    uint64_t nchunks, nops;
    if (varint_get(&p, end, &nchunks) != 0 || nchunks > len)
        return BAD("chunk count unreadable");
    for (uint64_t i = 0; i < nchunks; i++) {
        uint64_t off, payload, raw;
        if (varint_get(&p, end, &off) != 0 || varint_get(&p, end, &payload) != 0 ||
            varint_get(&p, end, &raw) != 0 || end - p < 9)
            return BAD("chunk entry %llu truncated", (unsigned long long)i);
        uint8_t codec = *p++;
        uint64_t hash = get_le64(p);
        p += 8;
        if (off < min_off || off >= max_off || payload > (1u << 31) || raw > (1u << 30) ||
            raw == 0 || off + FMT_FRAME_HDR_SIZE + payload > max_off ||
            (codec > 5 && codec != FMT_CODEC_RAW))
            return BAD("chunk entry %llu out of range (offset %llu, %llu stored bytes, %llu raw)",
                       (unsigned long long)i, (unsigned long long)off,
                       (unsigned long long)payload, (unsigned long long)raw);
        if (idx_add_chunk(ix, off, (uint32_t)payload, (uint32_t)raw, codec, hash) != VLS_OK)
            return VLS_E_NOMEM;
    }
    if (varint_get(&p, end, &nops) != 0 || nops > len)
        return BAD("record count unreadable");
    /* every entry takes at least 2 bytes beside its key: room for all of them at once */
    if (idx_reserve(ix, nops, (uint64_t)(end - p)) != VLS_OK)
        return VLS_E_NOMEM;
    /* Puts are inserted a few entries behind parsing, with each one's table slot prefetched
     * when it is parsed: the table is far larger than the CPU caches, and waiting for one
     * slot at a time was 40 % of opening a store of a million records. */
    enum { AHEAD = 16 };
    struct {
        const unsigned char *key;
        uint64_t klen, h, off, len, hash;
    } ring[AHEAD];
    uint64_t head = 0, tail = 0; /* ring holds entries [tail, head) */
#define FLUSH_TO(keep)                                                                     \
    while (head - tail > (keep)) {                                                         \
        int rc_ = idx_add_hashed(ix, ring[tail % AHEAD].key, (size_t)ring[tail % AHEAD].klen, \
                                 ring[tail % AHEAD].h, ring[tail % AHEAD].off,            \
                                 ring[tail % AHEAD].len, ring[tail % AHEAD].hash);        \
        if (rc_ == VLS_E_CORRUPT)                                                          \
            return BAD("record at logical offset %llu out of storage order",               \
                       (unsigned long long)ring[tail % AHEAD].off);                        \
        if (rc_ != VLS_OK)                                                                 \
            return rc_;                                                                    \
        tail++;                                                                            \
    }
    uint64_t prev_end = 0;
    for (uint64_t i = 0; i < nops; i++) {
        uint64_t klen, delta, rlen, roff;
        if (p >= end)
            return BAD("record entry %llu truncated", (unsigned long long)i);
        int op = *p++;
        if ((op != OP_PUT && op != OP_DELETE) || varint_get(&p, end, &klen) != 0 || klen == 0 ||
            klen > VLS_MAX_KEY || (uint64_t)(end - p) < klen)
            return BAD("record entry %llu malformed", (unsigned long long)i);
        const unsigned char *key = p;
        p += klen;
        if (op == OP_DELETE) {
            FLUSH_TO(0); /* in order: a delete may name a key put just before it */
            int64_t old = idx_find(ix, key, klen);
            if (old >= 0)
                idx_kill(ix, (uint64_t)old);
            continue;
        }
        if (varint_get(&p, end, &delta) != 0 || varint_get(&p, end, &rlen) != 0 || end - p < 8)
            return BAD("record entry %llu truncated", (unsigned long long)i);
        uint64_t hash = get_le64(p);
        p += 8;
        roff = prev_end + (uint64_t)zigzag_dec(delta);
        if (roff > ix->logical_end || rlen > ix->logical_end - roff)
            return BAD("record entry %llu lies outside the stored chunks (offset %llu, length "
                       "%llu, chunks end at %llu)", (unsigned long long)i,
                       (unsigned long long)roff, (unsigned long long)rlen,
                       (unsigned long long)ix->logical_end);
        prev_end = roff + rlen;
        /* the table is reserved above, so slots stay put while entries wait in the ring;
         * idx_add_hashed replaces an older entry of the same key itself */
        uint64_t h = key_hash(key, (size_t)klen);
        __builtin_prefetch(&ix->slots[h & (ix->nslots - 1)]);
        ring[head % AHEAD].key = key;
        ring[head % AHEAD].klen = klen;
        ring[head % AHEAD].h = h;
        ring[head % AHEAD].off = roff;
        ring[head % AHEAD].len = rlen;
        ring[head % AHEAD].hash = hash;
        head++;
        FLUSH_TO(AHEAD - 1);
    }
    FLUSH_TO(0);
#undef FLUSH_TO
    if (p != end)
        return BAD("%llu unexpected bytes after the last entry", (unsigned long long)(end - p));
    return VLS_OK;
}
