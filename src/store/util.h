/* util.h — little helpers shared by the modules: fixed-width little-endian integers, LEB128
 * varints, overflow-checked arithmetic. Header-only, depends on nothing. */
#ifndef VLS_UTIL_H
#define VLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void put_le64(unsigned char *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t get_le64(const unsigned char *p)
{
    return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

/* Unsigned LEB128: 7 bits per byte, low groups first, high bit = more. At most 10 bytes. */
#define VARINT_MAX 10

static inline size_t varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint from [*pp, end). Returns 0 and advances *pp, or -1 if it is truncated or
 * longer than 64 bits. */
static inline int varint_get(const unsigned char **pp, const unsigned char *end, uint64_t *out)
{
    const unsigned char *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0;
    while (p < end) {
        unsigned char b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            *pp = p;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

static inline uint64_t zigzag_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zigzag_dec(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint64_t align8(uint64_t v)
{
    return (v + 7) & ~(uint64_t)7;
}

/* a + b without wrapping; returns 0 on success, -1 if it would overflow. */
static inline int add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b)
        return -1;
    *out = a + b;
    return 0;
}


/* ---- a growable byte buffer ---------------------------------------------------------- */
#include <stdlib.h>

typedef struct {
    unsigned char *p;
    size_t len, cap;
} vbuf;

/* Makes room for `extra` more bytes. Returns 0, or -1 when memory runs out. */
static inline int vbuf_reserve(vbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void vbuf_free(vbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif /* VLS_UTIL_H */
