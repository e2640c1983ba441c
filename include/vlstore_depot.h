/*
 * vlstore_depot.h — the typed layer: depots and codecs (the seed's `Depot` and `Codec`).
 *
 * A *codec* turns objects of one C type into record bytes and back. A *depot* pairs an open
 * store with a codec: vls_depot_put() sizes, packs and stores an object; the get functions read
 * a record and unpack it into an object of the codec's type. Three codecs ship:
 *
 *   vls_codec_frame    object: vls_frame     MD frames as FlatBuffers (vlstore_frame.h), verified
 *   vls_codec_f32array object: vls_f32array  an n-d float32 array (small header + raw floats)
 *   vls_codec_bytes    object: vls_bytes     the record's bytes as they are
 *
 * and a user adds one by filling a vls_depot_codec (examples/custom_codec.c does it in about
 * thirty lines). docs/DEPOT.md is the reference: the codec contract, the ownership rules and
 * the f32array record layout.
 *
 * Ownership, in one rule: unpacking never copies and never allocates. An unpacked object is a
 * *view*: its pointers point into the record bytes it was unpacked from. Who owns those bytes,
 * and so how long the view lives, is fixed by which function you call, never at run time:
 *   vls_depot_view(), vls_depot_get_many(), vls_depot_next()
 *       the depot's own buffer: valid until the next read call on the same depot
 *       (view, get_many, next) or vls_depot_close();
 *   vls_depot_get()       your buffer: valid as long as you keep it unchanged;
 *   vls_depot_get_alloc() a buffer the depot allocates and hands to you (*rec): valid until
 *                         you vls_free() it, even after the depot and the store are closed.
 * So an object that must outlive the depot comes from vls_depot_get_alloc().
 *
 * Errors are the VLS_E_* codes of vlstore.h. The detail goes to the store's message (kept as
 * vlstore.h, Conventions, describes): vls_depot_errmsg(d), the same string as
 * vls_errmsg(vls_depot_store(d)), e.g.
 *   "depot 'frame' get 'frame_7': record is not a valid frame: positions: 21 floats, ...".
 * A record that the codec rejects (written by another codec, truncated, damaged) gives the
 * codec's code, VLS_E_CORRUPT or VLS_E_TRUNCATED, never an out-of-bounds read.
 *
 * Threads: a depot holds reusable buffers, so it is used by one thread at a time. The store
 * under it may be shared: give each thread its own depot on the same store. The shipped codecs
 * keep no state and may be used by any number of depots at once.
 */
#ifndef VLSTORE_DEPOT_H
#define VLSTORE_DEPOT_H

#include <stddef.h>
#include <stdint.h>

#include "vlstore.h"
#include "vlstore_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/*-*************************************
 *  Codecs
 ***************************************/

/* Largest record alignment a codec may ask for. */
#define VLS_DEPOT_MAX_ALIGN 64u

/*! vls_depot_codec :
 *  A codec for objects of one C type, its *object type* (e.g. vls_frame). The same type is
 *  pack's input and unpack's output. (Named "depot codec" to keep it apart from enum vls_codec,
 *  the Blosc compressor of a store.)
 *
 *  size   (optional, may be NULL) : sets *len to the number of bytes pack needs for obj,
 *         exactly or as an upper bound. Returns 0 or a negative VLS_E_* code (VLS_E_INVAL for
 *         an object the codec cannot store). Without it the depot calls pack on its current
 *         buffer and grows it on VLS_E_TOOSMALL.
 *  pack   : writes obj's record into dst[0..cap) and sets *len to the bytes written. When cap
 *         is too small it returns VLS_E_TOOSMALL with *len = the size needed (the depot then
 *         grows its buffer and calls pack once more). dst is aligned to `align` (at least 16).
 *         Must not keep dst or obj.
 *  unpack : checks rec[0..len) and fills *obj with a view of it. Rules:
 *         - never read outside rec[0..len), whatever the bytes (records can be damaged, or
 *           written by another codec): reject with VLS_E_CORRUPT, or VLS_E_TRUNCATED when the
 *           record ends early, and, if msg is not NULL, write a NUL-terminated reason into
 *           msg[0..msgcap). (This buffer is part of the callback contract: the depot puts
 *           the reason into its own message, so a codec needs no error state of its own.)
 *         - *obj may point into rec (this is the point) and into static or ctx memory, nothing
 *           else: no allocation, no copy of array data;
 *         - rec is aligned to `align` when the depot calls it; len may be 0.
 *  ctx    : passed to the three functions; must outlive every depot using the codec.
 *  name   : names the codec in messages ("frame").
 *  obj_size : sizeof the object type; vls_depot_get_many() fills an array of them.
 *  align  : alignment (a power of two, 1..VLS_DEPOT_MAX_ALIGN; 0 means 1) that unpack needs
 *         for rec so that the view's typed pointers are aligned. The depot places every record
 *         it reads at a multiple of it.
 *  Fill the struct with a designated initializer (unnamed fields are zero) and keep reserved
 *  zero: fields may be added there later. vls_depot_open() copies the struct. */
typedef struct vls_depot_codec {
    const char *name;
    size_t obj_size;
    size_t align;
    int (*size)(void *ctx, const void *obj, size_t *len);
    int (*pack)(void *ctx, const void *obj, void *dst, size_t cap, size_t *len);
    int (*unpack)(void *ctx, const void *rec, size_t len, void *obj, char *msg, size_t msgcap);
    void *ctx;
    void *reserved[4];
} vls_depot_codec;

/*! vls_codec_frame :
 *  Object type vls_frame (vlstore_frame.h). pack = vls_frame_encode (a FlatBuffer of
 *  schema/fbsites.fbs); unpack = vls_frame_view: the verifier checks every offset, length
 *  and alignment, then the frame's arrays point into the record. align 4: every array element
 *  is at most 4 bytes wide and the view copies the double energy out (docs/FRAME.md), and
 *  frames are multiples of 4 bytes, so records in a batch never need moving. */
VLS_API extern const vls_depot_codec vls_codec_frame;

/*! vls_f32array :
 *  An n-dimensional float32 array, row-major (C order). ndim 0..VLS_F32ARRAY_MAX_DIMS; ndim 0
 *  is a scalar (one value). As pack input give ndim, dims[0..ndim) and data (count is
 *  ignored; data may be NULL only when the product of dims is 0). As unpack output, count is
 *  the product of dims and data points into the record (NULL when count is 0). */
#define VLS_F32ARRAY_MAX_DIMS 8
typedef struct vls_f32array {
    uint32_t ndim;
    uint64_t dims[VLS_F32ARRAY_MAX_DIMS];
    uint64_t count;
    const float *data;
} vls_f32array;

/*! vls_codec_f32array :
 *  The seed's flatfloatndarray_codec, with the shape kept. Record layout (little-endian):
 *    bytes 0..3    magic "F32" and the layout version 0x01
 *    bytes 4..7    ndim, u32, 0..8
 *    bytes 8..     dims, ndim u64 values
 *    then          the count float32 values, raw (count = product of dims, 1 when ndim 0)
 *  The floats start at 8 + 8*ndim, a multiple of 8; the record is exactly that header plus
 *  4*count bytes. unpack checks the magic, ndim, the product (overflow) and the exact length.
 *  align 4 (the floats start at a multiple of 8 from the record's start). */
VLS_API extern const vls_depot_codec vls_codec_f32array;

/*! vls_bytes : a record's bytes. As pack input, data[0..len) (data may be NULL when len is
 *  0); as unpack output, a view of the record (data is never NULL, even for len 0). */
typedef struct vls_bytes {
    const void *data;
    size_t len;
} vls_bytes;

/*! vls_codec_bytes : object type vls_bytes, stored as is. Every record is valid. align 1. */
VLS_API extern const vls_depot_codec vls_codec_bytes;

/*-*************************************
 *  Depots
 ***************************************/
typedef struct vls_depot vls_depot; /* opaque */

/*! vls_depot_open() :
 *  Pairs `store` with a copy of *codec. The depot borrows the store: it neither commits nor
 *  closes it, and the store must outlive the depot. Any number of depots may share a store.
 *  Cost: one small allocation; buffers grow on first use.
 * @return : 0 and *out set; VLS_E_INVAL (NULL argument, codec without pack or unpack, obj_size
 *           0, align not a power of two or above VLS_DEPOT_MAX_ALIGN), VLS_E_NOMEM. *out is
 *           NULL on failure, and vls_depot_errmsg(NULL) says why. */
VLS_API int vls_depot_open(vls_store *store, const vls_depot_codec *codec, vls_depot **out);

/*! vls_depot_close() : frees the depot and its buffers; every view into them ends. Does not
 *  touch the store (commit or close it yourself). vls_depot_close(NULL) does nothing. */
VLS_API void vls_depot_close(vls_depot *d);

/*! vls_depot_store() : the store under the depot.
 *  vls_depot_errmsg() : the detail of the last failure on the depot, which is its store's
 *  vls_errmsg(); with NULL, the calling thread's last handle-less failure (vls_errmsg(NULL)),
 *  e.g. a failed vls_depot_open(). */
VLS_API vls_store *vls_depot_store(const vls_depot *d);
VLS_API const char *vls_depot_errmsg(const vls_depot *d);

/*! vls_depot_put() :
 *  Packs *obj with the codec into the depot's pack buffer (grown as needed, then reused) and
 *  stores it under key[0..klen) with vls_put (flags: VLS_NOREPLACE). Durable at the store's
 *  next vls_commit(). Nothing is retained.
 *  Cost: codec size + pack (for frames, about one memcpy of the arrays) + vls_put's copy.
 * @return : 0; the codec's error (VLS_E_INVAL for an object it cannot pack, VLS_E_TOOBIG);
 *           VLS_E_NOMEM; or any vls_put() error (VLS_E_EXISTS, VLS_E_READONLY, ...). */
VLS_API int vls_depot_put(vls_depot *d, const void *key, size_t klen, const void *obj,
                          unsigned flags);
VLS_API int vls_depot_put_str(vls_depot *d, const char *key, const void *obj, unsigned flags);

/*! vls_depot_view() :
 *  Reads the record under key into the depot's read buffer and unpacks it into *obj, a view
 *  valid until the next vls_depot_view / get_many / next on this depot or its close.
 *  No allocation once the buffer has grown to the largest record read.
 * @return : 0; VLS_E_NOTFOUND; the codec's VLS_E_CORRUPT / VLS_E_TRUNCATED for a record it
 *           rejects; VLS_E_NOMEM; any vls_get() error. On failure *obj is zeroed. */
VLS_API int vls_depot_view(vls_depot *d, const void *key, size_t klen, void *obj);
VLS_API int vls_depot_view_str(vls_depot *d, const char *key, void *obj);

/*! vls_depot_get() :
 *  Reads the record into your buffer buf[0..cap) and unpacks it into *obj, which then borrows
 *  buf. buf must be aligned to the codec's align (4 for frames and f32arrays; malloc's are).
 *  *len receives the record's length. When cap is too small nothing is read and
 *  VLS_E_TOOSMALL is returned with *len = the size needed (call with cap 0 to ask).
 * @return : as vls_depot_view; VLS_E_TOOSMALL; VLS_E_INVAL for a misaligned buf. */
VLS_API int vls_depot_get(vls_depot *d, const void *key, size_t klen, void *buf, size_t cap,
                          uint64_t *len, void *obj);

/*! vls_depot_get_alloc() :
 *  Reads the record into a buffer allocated for you (aligned to the codec's align) and
 *  unpacks it into *obj. *rec owns the bytes (release with vls_free()); *obj borrows them and
 *  stays valid until then, independently of the depot and the store. *len (may be NULL)
 *  receives the record's length. On failure *rec is NULL and nothing needs freeing.
 * @return : as vls_depot_view. */
VLS_API int vls_depot_get_alloc(vls_depot *d, const void *key, size_t klen, void **rec,
                                uint64_t *len, void *obj);

/*! vls_depot_get_many() :
 *  The batched read: fetches the records named by keys[0..n) with one vls_get_many() into the
 *  depot's batch buffer (each chunk decoded once, however many of the records it holds), then
 *  unpacks record i into objs[i] (objs is an array of n objects of the codec's type). Records
 *  are placed at multiples of the codec's align (moved only when a record's length is not a
 *  multiple of it). The views are valid until the next read call on this depot or its close.
 *  status (may be NULL) receives each record's result: 0, VLS_E_NOTFOUND, or the codec's error.
 *  Every record is served even when some fail; a failed record's object is zeroed.
 * @return : 0 when every record was read and unpacked, else the first failure's code in key
 *           order (VLS_E_NOTFOUND when a key is missing), VLS_E_NOMEM, or a vls_get_many()
 *           error. */
VLS_API int vls_depot_get_many(vls_depot *d, size_t n, const vls_key *keys, void *objs,
                               int *status);

/*! vls_depot_unpack() :
 *  Unpacks rec[0..len), bytes you got elsewhere (vls_get_many, a loader, a file), with the
 *  depot's codec, with the depot's checks and messages. rec must be aligned to the codec's
 *  align. *obj borrows rec. Does not read the store. */
VLS_API int vls_depot_unpack(vls_depot *d, const void *rec, size_t len, void *obj);

/*! vls_depot_next() :
 *  Walks the records in storage order (vls_iter_next), unpacking each. Start with *pos = 0.
 *  Returns 1 with *key and *klen (valid until the next change to the store; either may be NULL)
 *  and *obj (a view valid until the next read call on this depot), 0 at the end, or a negative
 *  code when a record cannot be read or unpacked (*pos has moved past it, so the walk may go
 *  on). Every record of the store is visited: keep one codec per store, or check the error. */
VLS_API int vls_depot_next(vls_depot *d, uint64_t *pos, const void **key, size_t *klen,
                           void *obj);

#ifdef __cplusplus
}
#endif

#endif /* VLSTORE_DEPOT_H */
