/* collate.c — frame records to one set of contiguous batch arrays (vls_frame_batch_collate,
 * include/vlstore_loader.h "Frame batches"), and the loader's reused memory for them.
 *
 * Frames are read through the public frame API only (vls_frame_view). Two passes: the
 * first verifies every record and sums the sizes (so the layout is known before anything is
 * written, and a bad record leaves the caller's memory untouched), the second copies each
 * array once into its place. Records may sit at any address (back to back in a get_many
 * buffer), so elements that change type (int32 types -> int64) are read with memcpy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collate.h"
#include "common/error.h"
#include "vlstore_frame.h"

#define BATCH_ALIGN 64

static const struct {
    const char *name;
    uint32_t dtype;
    uint32_t itemsize;
} array_spec[VLS_BATCH_NARRAYS] = {
    [VLS_BATCH_POS] = {"pos", VLS_DTYPE_F32, 4},
    [VLS_BATCH_FORCES] = {"forces", VLS_DTYPE_F32, 4},
    [VLS_BATCH_ATOMIC_NUMBERS] = {"atomic_numbers", VLS_DTYPE_I64, 8},
    [VLS_BATCH_MASSES] = {"masses", VLS_DTYPE_F32, 4},
    [VLS_BATCH_CHARGES] = {"charges", VLS_DTYPE_F32, 4},
    [VLS_BATCH_BATCH] = {"batch", VLS_DTYPE_I64, 8},
    [VLS_BATCH_NATOMS] = {"natoms", VLS_DTYPE_I64, 8},
    [VLS_BATCH_PTR] = {"ptr", VLS_DTYPE_I64, 8},
    [VLS_BATCH_ENERGY] = {"energy", VLS_DTYPE_F64, 8},
    [VLS_BATCH_CELL] = {"cell", VLS_DTYPE_F32, 4},
    [VLS_BATCH_PBC] = {"pbc", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_STRESS] = {"stress", VLS_DTYPE_F32, 4},
    [VLS_BATCH_HAS_ENERGY] = {"has_energy", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_HAS_FORCES] = {"has_forces", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_HAS_CELL] = {"has_cell", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_HAS_PBC] = {"has_pbc", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_HAS_STRESS] = {"has_stress", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_HAS_CHARGES] = {"has_charges", VLS_DTYPE_BOOL, 1},
    [VLS_BATCH_KEYS] = {"keys", VLS_DTYPE_U8, 1},
    [VLS_BATCH_KEY_PTR] = {"key_ptr", VLS_DTYPE_I64, 8},
};

/* The real-valued arrays a float64 frame (format v2) can carry: a batch's array of one of
 * these is float64 when any of its frames holds that array in float64 (the float32 frames are
 * widened, exactly), float32 otherwise. Nothing is narrowed. */
static int is_real_array(int i)
{
    return i == VLS_BATCH_POS || i == VLS_BATCH_FORCES || i == VLS_BATCH_MASSES ||
           i == VLS_BATCH_CHARGES || i == VLS_BATCH_CELL || i == VLS_BATCH_STRESS;
}

/* Which real arrays of frame f are float64, as a bit mask over VLS_BATCH_* indices. */
static uint32_t frame_wide_arrays(const vls_frame *f)
{
    return (f->positions64 ? 1u << VLS_BATCH_POS : 0) | (f->forces64 ? 1u << VLS_BATCH_FORCES : 0) |
           (f->masses64 ? 1u << VLS_BATCH_MASSES : 0) |
           (f->charges64 ? 1u << VLS_BATCH_CHARGES : 0) | (f->cell64 ? 1u << VLS_BATCH_CELL : 0) |
           (f->stress64 ? 1u << VLS_BATCH_STRESS : 0);
}

/* Shapes and offsets of every array for B frames, N atoms of D coordinates, K key bytes, the
 * real arrays named in `wide` as float64; data pointers are left NULL. */
static void batch_layout(vls_frame_batch *b, uint64_t B, uint64_t N, uint32_t D, uint64_t K,
                         uint32_t wide)
{
    memset(b, 0, sizeof *b);
    b->nframes = B;
    b->natoms_total = N;
    b->ncodim = D;
    uint64_t off = 0;
    for (int i = 0; i < VLS_BATCH_NARRAYS; i++) {
        vls_batch_array *a = &b->arrays[i];
        a->name = array_spec[i].name;
        a->dtype = array_spec[i].dtype;
        uint32_t itemsize = array_spec[i].itemsize;
        if (is_real_array(i) && (wide >> i & 1u))
            a->dtype = VLS_DTYPE_F64, itemsize = 8;
        switch (i) {
        case VLS_BATCH_POS:
        case VLS_BATCH_FORCES: a->ndim = 2, a->shape[0] = N, a->shape[1] = D; break;
        case VLS_BATCH_ATOMIC_NUMBERS:
        case VLS_BATCH_MASSES:
        case VLS_BATCH_CHARGES:
        case VLS_BATCH_BATCH: a->ndim = 1, a->shape[0] = N; break;
        case VLS_BATCH_PTR:
        case VLS_BATCH_KEY_PTR: a->ndim = 1, a->shape[0] = B + 1; break;
        case VLS_BATCH_CELL:
        case VLS_BATCH_STRESS: a->ndim = 3, a->shape[0] = B, a->shape[1] = a->shape[2] = 3; break;
        case VLS_BATCH_PBC: a->ndim = 2, a->shape[0] = B, a->shape[1] = 3; break;
        case VLS_BATCH_KEYS: a->ndim = 1, a->shape[0] = K; break;
        default: a->ndim = 1, a->shape[0] = B; break; /* natoms, energy, the masks */
        }
        uint64_t count = 1;
        for (uint32_t d = 0; d < a->ndim; d++)
            count *= a->shape[d];
        a->nbytes = count * itemsize;
        a->offset = off;
        off = (off + a->nbytes + (BATCH_ALIGN - 1)) & ~(uint64_t)(BATCH_ALIGN - 1);
    }
    b->nbytes = off;
}

/* A key as text for a message: printable ASCII as is, other bytes as \xHH, cut at 48. */
static const char *key_text(const vls_record *r, char *out, size_t cap)
{
    const unsigned char *k = r->key;
    size_t o = 0;
    for (size_t i = 0; k && i < r->klen && i < 48 && o + 5 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, k[i] >= 0x20 && k[i] < 0x7f ? "%c" : "\\x%02x",
                              k[i]);
    if (r->klen > 48 && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o < cap ? o : cap - 1] = 0;
    return out;
}

#define ARR(b, i, type) ((type *)(b)->arrays[i].data)

/* Copies `count` values into batch array `which` of `out`, from element `at` on, from whichever
 * of src (float32) / src64 (float64) the frame has, or writes `fill` when it has neither;
 * returns 1 when the frame has the array. The batch array is float32 or float64 (see
 * is_real_array); a float64 source only meets a float64 array, so nothing is narrowed. */
static uint8_t copy_real(vls_frame_batch *out, int which, uint64_t at, const float *src,
                         const double *src64, uint64_t count, double fill)
{
    if (out->arrays[which].dtype == VLS_DTYPE_F64) {
        double *dst = ARR(out, which, double) + at;
        for (uint64_t j = 0; j < count; j++)
            dst[j] = (src || src64) ? vls_frame_real(src, src64, (size_t)j) : fill;
    } else {
        float *dst = ARR(out, which, float) + at;
        if (src && count)
            memcpy(dst, src, count * sizeof *dst);
        else
            for (uint64_t j = 0; j < count; j++)
                dst[j] = (float)fill;
    }
    return src || src64;
}

/* vls_frame_batch_collate with the detail of a failure in msg[0..msgcap): the loader wraps it
 * into its own message, the public function into the thread's handle-less one. */
static int collate(const vls_record *recs, size_t n, void *buf, size_t cap, size_t *needed,
                   vls_frame_batch *out, char *msg, size_t msgcap)
{
    char fmsg[200], kt[200];
    char dummy[1];
    if (!msg || msgcap == 0) {
        msg = dummy;
        msgcap = sizeof dummy;
    }
    msg[0] = 0;
    if (needed)
        *needed = 0;
    if ((n && !recs) || !out || (cap && !buf)) {
        snprintf(msg, msgcap, "vls_frame_batch_collate: NULL argument");
        return VLS_E_INVAL;
    }
    if ((uintptr_t)buf % BATCH_ALIGN) {
        snprintf(msg, msgcap, "vls_frame_batch_collate: the buffer is not %d-byte aligned",
                 BATCH_ALIGN);
        return VLS_E_INVAL;
    }

    /* pass 1: verify, and sum atoms and key bytes */
    uint64_t N = 0, K = 0;
    uint32_t D = 0, wide = 0;
    vls_frame f;
    for (size_t i = 0; i < n; i++) {
        int rc = vls_frame_view(recs[i].data, (size_t)recs[i].len, &f);
        if (rc != VLS_OK) {
            snprintf(fmsg, sizeof fmsg, "%s", vls_errmsg(NULL));
            snprintf(msg, msgcap, "batch record %zu (key \"%s\") is not a valid frame: %s", i,
                     key_text(&recs[i], kt, sizeof kt), fmsg);
            return rc == VLS_E_INVAL ? VLS_E_CORRUPT : rc;
        }
        if (f.nsites > 0 && (!f.types || !(f.masses || f.masses64) ||
                             !(f.positions || f.positions64))) {
            /* a frame whose arrays come in a form this collation does not read (a newer
             * frame format): refuse rather than guess. float64 arrays (format v2) are
             * collated as float64 (frame_wide_arrays). */
            snprintf(msg, msgcap, "batch record %zu (key \"%s\") has no float32 types, "
                     "masses or positions to collate", i, key_text(&recs[i], kt, sizeof kt));
            return VLS_E_INVAL;
        }
        if (D == 0)
            D = (uint32_t)f.ncodim;
        else if ((uint32_t)f.ncodim != D) {
            snprintf(msg, msgcap, "batch record %zu (key \"%s\") has %d coordinates per site, "
                     "the batch's first frame %u: a batch needs one ncodim", i,
                     key_text(&recs[i], kt, sizeof kt), (int)f.ncodim, (unsigned)D);
            return VLS_E_INVAL;
        }
        N += (uint64_t)f.nsites;
        K += recs[i].klen;
        wide |= frame_wide_arrays(&f);
    }
    batch_layout(out, n, N, D ? D : 3, K, wide);
    if (needed)
        *needed = (size_t)out->nbytes;
    if (out->nbytes > cap) {
        snprintf(msg, msgcap, "the batch needs %llu bytes, the buffer holds %zu",
                 (unsigned long long)out->nbytes, cap);
        return VLS_E_TOOSMALL;
    }
    for (int i = 0; i < VLS_BATCH_NARRAYS; i++)
        out->arrays[i].data = (char *)buf + out->arrays[i].offset;

    /* pass 2: copy (the records were verified above; the views cannot fail now) */
    uint64_t a = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        vls_frame_view(recs[i].data, (size_t)recs[i].len, &f);
        uint64_t ns = (uint64_t)f.nsites;
        copy_real(out, VLS_BATCH_POS, a * D, f.positions, f.positions64, ns * D, NAN);
        copy_real(out, VLS_BATCH_MASSES, a, f.masses, f.masses64, ns, NAN);
        int64_t *z = ARR(out, VLS_BATCH_ATOMIC_NUMBERS, int64_t) + a;
        int64_t *bi = ARR(out, VLS_BATCH_BATCH, int64_t) + a;
        for (uint64_t s = 0; s < ns; s++) {
            int32_t t;
            memcpy(&t, (const char *)f.types + 4 * s, sizeof t);
            z[s] = t;
            bi[s] = (int64_t)i;
        }
        ARR(out, VLS_BATCH_HAS_FORCES, uint8_t)[i] =
            copy_real(out, VLS_BATCH_FORCES, a * D, f.forces, f.forces64, ns * D, NAN);
        ARR(out, VLS_BATCH_HAS_CHARGES, uint8_t)[i] =
            copy_real(out, VLS_BATCH_CHARGES, a, f.charges, f.charges64, ns, NAN);
        ARR(out, VLS_BATCH_HAS_STRESS, uint8_t)[i] =
            copy_real(out, VLS_BATCH_STRESS, 9 * i, f.stress, f.stress64, 9, NAN);
        ARR(out, VLS_BATCH_HAS_CELL, uint8_t)[i] =
            copy_real(out, VLS_BATCH_CELL, 9 * i, f.cell, f.cell64, 9, 0.0);
        uint8_t *pbc = ARR(out, VLS_BATCH_PBC, uint8_t) + 3 * i;
        ARR(out, VLS_BATCH_HAS_PBC, uint8_t)[i] = f.pbc != NULL;
        for (int d = 0; d < 3; d++)
            pbc[d] = f.pbc ? f.pbc[d] != 0 : 0; /* bool: exactly 0 or 1 */
        ARR(out, VLS_BATCH_HAS_ENERGY, uint8_t)[i] = f.has_energy != 0;
        ARR(out, VLS_BATCH_ENERGY, double)[i] = f.has_energy ? f.energy : NAN;
        ARR(out, VLS_BATCH_NATOMS, int64_t)[i] = (int64_t)ns;
        ARR(out, VLS_BATCH_PTR, int64_t)[i] = (int64_t)a;
        ARR(out, VLS_BATCH_KEY_PTR, int64_t)[i] = (int64_t)k;
        if (recs[i].klen)
            memcpy(ARR(out, VLS_BATCH_KEYS, unsigned char) + k, recs[i].key, recs[i].klen);
        a += ns;
        k += recs[i].klen;
    }
    ARR(out, VLS_BATCH_PTR, int64_t)[n] = (int64_t)a;
    ARR(out, VLS_BATCH_KEY_PTR, int64_t)[n] = (int64_t)k;
    return VLS_OK;
}

/*-*************************************
 *  The loader's reused memory sets
 ***************************************/

typedef struct {
    void *buf; /* BATCH_ALIGN-aligned, cap bytes */
    size_t cap;
    vls_frame_batch batch;
} batch_set;

struct ld_batches {
    unsigned n, next; /* n sets, used in turn */
    batch_set set[];
};

int vls_frame_batch_collate(const vls_record *recs, size_t n, void *buf, size_t cap,
                            size_t *needed, vls_frame_batch *out)
{
    char msg[512];
    int rc = collate(recs, n, buf, cap, needed, out, msg, sizeof msg);
    return rc == VLS_OK ? rc : vls_seterr(NULL, rc, "%s", msg);
}

int ld_batches_collate(ld_batches **sets, unsigned n_buffers, const vls_record *recs, size_t n,
                       const vls_frame_batch **out, char *msg, size_t msgcap)
{
    ld_batches *bs = *sets;
    if (!bs) {
        bs = calloc(1, sizeof *bs + (size_t)n_buffers * sizeof bs->set[0]);
        if (!bs) {
            snprintf(msg, msgcap, "no memory for the batch sets");
            return VLS_E_NOMEM;
        }
        bs->n = n_buffers;
        *sets = bs;
    }
    batch_set *s = &bs->set[bs->next];
    size_t needed = 0;
    int rc = collate(recs, n, s->buf, s->cap, &needed, &s->batch, msg, msgcap);
    if (rc == VLS_E_TOOSMALL) {
        /* grow by half again, so a slowly growing batch size does not reallocate each time;
         * the contents need not survive, so free + allocate rather than realloc (which would
         * not keep the alignment anyway) */
        size_t cap = needed + needed / 2;
        cap = (cap + BATCH_ALIGN - 1) & ~(size_t)(BATCH_ALIGN - 1);
        free(s->buf);
        s->cap = 0;
        s->buf = aligned_alloc(BATCH_ALIGN, cap);
        if (!s->buf) {
            snprintf(msg, msgcap, "no memory for a batch of %zu bytes", needed);
            return VLS_E_NOMEM;
        }
        s->cap = cap;
        rc = collate(recs, n, s->buf, s->cap, &needed, &s->batch, msg, msgcap);
    }
    if (rc != VLS_OK)
        return rc;
    bs->next = (bs->next + 1) % bs->n;
    *out = &s->batch;
    return VLS_OK;
}

void ld_batches_free(ld_batches *sets)
{
    if (!sets)
        return;
    for (unsigned i = 0; i < sets->n; i++)
        free(sets->set[i].buf);
    free(sets);
}
