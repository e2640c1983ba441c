/*
 * codecs.c — the depot codecs that ship with vlstore: frames, f32 arrays, raw bytes
 * (include/vlstore_depot.h; the f32array layout is in docs/DEPOT.md).
 *
 * Each is three stateless functions behind a const vls_depot_codec. They are also the models
 * for user codecs: size exact, pack with one memcpy per array, unpack = check then point.
 *
 * Depends on: the public API only (vlstore_frame.h for the frame codec).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vlstore_depot.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "depot codecs store little-endian values viewed in place; big-endian hosts are unsupported"
#endif
#endif

/*-*************************************
 *  Frames: vlstore_frame.h's FlatBuffers encoder and verified view
 ***************************************/
static int frame_size(void *ctx, const void *obj, size_t *len)
{
    (void)ctx;
    *len = vls_frame_encoded_size(obj);
    if (*len)
        return VLS_OK;
    size_t dummy;
    int rc = vls_frame_encode(obj, NULL, 0, &dummy); /* which error: INVAL or TOOBIG */
    return rc < 0 && rc != VLS_E_TOOSMALL ? rc : VLS_E_INVAL;
}

static int frame_pack(void *ctx, const void *obj, void *dst, size_t cap, size_t *len)
{
    (void)ctx;
    return vls_frame_encode(obj, dst, cap, len);
}

static int frame_unpack(void *ctx, const void *rec, size_t len, void *obj, char *msg,
                        size_t msgcap)
{
    (void)ctx;
    int rc = vls_frame_view(rec, len, obj);
    if (rc != VLS_OK && msg && msgcap) /* the verifier's detail, from the handle-less slot */
        snprintf(msg, msgcap, "%s", vls_errmsg(NULL));
    return rc;
}

const vls_depot_codec vls_codec_frame = {
    .name = "frame",
    .obj_size = sizeof(vls_frame),
    .align = 4,
    .size = frame_size,
    .pack = frame_pack,
    .unpack = frame_unpack,
};

/*-*************************************
 *  f32array: "F32" 0x01 | u32 ndim | u64 dims[ndim] | float32 data[count]
 ***************************************/
static const unsigned char f32_magic[4] = {'F', '3', '2', 0x01};

/* The number of values of shape dims[0..ndim), or -1 when it exceeds 2^60 (so that 4 * count
 * and the record size never overflow). */
static int f32_count(uint32_t ndim, const uint64_t *dims, uint64_t *count)
{
    uint64_t c = 1;
    int zero = 0;
    for (uint32_t i = 0; i < ndim; i++)
        zero |= dims[i] == 0;
    if (zero) {
        *count = 0;
        return 0;
    }
    for (uint32_t i = 0; i < ndim; i++) {
        if (dims[i] > (UINT64_C(1) << 60) / c)
            return -1;
        c *= dims[i];
    }
    *count = c;
    return 0;
}

static int f32_size(void *ctx, const void *obj, size_t *len)
{
    (void)ctx;
    const vls_f32array *a = obj;
    uint64_t count;
    if (a->ndim > VLS_F32ARRAY_MAX_DIMS)
        return VLS_E_INVAL;
    if (f32_count(a->ndim, a->dims, &count) != 0)
        return VLS_E_TOOBIG;
    if (count && !a->data)
        return VLS_E_INVAL;
    uint64_t bytes = 8 + 8 * (uint64_t)a->ndim;
    if (count > (SIZE_MAX - bytes) / 4)
        return VLS_E_TOOBIG;
    *len = (size_t)(bytes + 4 * count);
    return VLS_OK;
}

static int f32_pack(void *ctx, const void *obj, void *dst, size_t cap, size_t *len)
{
    const vls_f32array *a = obj;
    int rc = f32_size(ctx, obj, len);
    if (rc != VLS_OK)
        return rc;
    if (cap < *len)
        return VLS_E_TOOSMALL;
    unsigned char *p = dst;
    uint32_t ndim = a->ndim;
    memcpy(p, f32_magic, 4);
    memcpy(p + 4, &ndim, 4);
    memcpy(p + 8, a->dims, 8 * (size_t)ndim);
    size_t head = 8 + 8 * (size_t)ndim;
    if (*len > head)
        memcpy(p + head, a->data, *len - head);
    return VLS_OK;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int f32_fail(char *msg, size_t msgcap, int rc, const char *fmt, ...)
{
    if (msg && msgcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msgcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int f32_unpack(void *ctx, const void *rec, size_t len, void *obj, char *msg,
                      size_t msgcap)
{
    (void)ctx;
    const unsigned char *p = rec;
    vls_f32array *a = obj;
    memset(a, 0, sizeof *a);
    if (len < 4)
        return f32_fail(msg, msgcap, VLS_E_TRUNCATED,
                        "%zu bytes, shorter than the 8-byte header", len);
    if (memcmp(p, f32_magic, 3) != 0)
        return f32_fail(msg, msgcap, VLS_E_CORRUPT,
                        "bad magic %02x %02x %02x (\"F32\" expected): not an f32array record",
                        p[0], p[1], p[2]);
    if (p[3] != f32_magic[3])
        return f32_fail(msg, msgcap, VLS_E_CORRUPT, "layout version %u (1 expected)", p[3]);
    if (len < 8)
        return f32_fail(msg, msgcap, VLS_E_TRUNCATED,
                        "%zu bytes, shorter than the 8-byte header", len);
    uint32_t ndim;
    memcpy(&ndim, p + 4, 4);
    if (ndim > VLS_F32ARRAY_MAX_DIMS)
        return f32_fail(msg, msgcap, VLS_E_CORRUPT, "ndim %u (at most %d)", ndim,
                        VLS_F32ARRAY_MAX_DIMS);
    size_t head = 8 + 8 * (size_t)ndim;
    if (len < head)
        return f32_fail(msg, msgcap, VLS_E_TRUNCATED,
                        "%zu bytes, shorter than the %zu-byte header", len, head);
    uint64_t dims[VLS_F32ARRAY_MAX_DIMS], count;
    memcpy(dims, p + 8, 8 * (size_t)ndim);
    if (f32_count(ndim, dims, &count) != 0)
        return f32_fail(msg, msgcap, VLS_E_CORRUPT, "the dims' product overflows (ndim %u)",
                        ndim);
    uint64_t want = (len - head) / 4 < count ? UINT64_MAX : head + 4 * count;
    if (want != len)
        return f32_fail(msg, msgcap, len < want ? VLS_E_TRUNCATED : VLS_E_CORRUPT,
                        "%zu bytes of floats, the shape needs %llu", len - head,
                        (unsigned long long)(4 * count));
    a->ndim = ndim;
    memcpy(a->dims, dims, sizeof dims[0] * ndim);
    a->count = count;
    a->data = count ? (const float *)(const void *)(p + head) : NULL;
    return VLS_OK;
}

const vls_depot_codec vls_codec_f32array = {
    .name = "f32array",
    .obj_size = sizeof(vls_f32array),
    .align = 4,
    .size = f32_size,
    .pack = f32_pack,
    .unpack = f32_unpack,
};

/*-*************************************
 *  Raw bytes
 ***************************************/
static int bytes_size(void *ctx, const void *obj, size_t *len)
{
    (void)ctx;
    const vls_bytes *b = obj;
    if (!b->data && b->len)
        return VLS_E_INVAL;
    *len = b->len;
    return VLS_OK;
}

static int bytes_pack(void *ctx, const void *obj, void *dst, size_t cap, size_t *len)
{
    const vls_bytes *b = obj;
    int rc = bytes_size(ctx, obj, len);
    if (rc != VLS_OK)
        return rc;
    if (cap < b->len)
        return VLS_E_TOOSMALL;
    if (b->len)
        memcpy(dst, b->data, b->len);
    return VLS_OK;
}

static int bytes_unpack(void *ctx, const void *rec, size_t len, void *obj, char *msg,
                        size_t msgcap)
{
    (void)ctx;
    (void)msg;
    (void)msgcap;
    vls_bytes *b = obj;
    b->data = rec;
    b->len = len;
    return VLS_OK;
}

const vls_depot_codec vls_codec_bytes = {
    .name = "bytes",
    .obj_size = sizeof(vls_bytes),
    .align = 1,
    .size = bytes_size,
    .pack = bytes_pack,
    .unpack = bytes_unpack,
};
