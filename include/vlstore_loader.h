/*
 * vlstore_loader.h — the block-shuffle batch loader: one training epoch of shuffled batches,
 * read from one or more stores in large pieces.
 *
 * How an epoch is built (docs/LOADER.md has the full description):
 *   1. Records are grouped by the chunk that holds their first byte ("groups"), in storage
 *      order, file after file. With merge_last, a file's final group is folded into the
 *      group before it when it holds fewer than half as many records as that file's
 *      groups on average (the last chunk of a file is usually a short one).
 *   2. The group order is shuffled (seed, epoch) and the records are laid end to end in that
 *      order: N records. Rank r of W takes positions [N*r/W, N*(r+1)/W) — whole groups
 *      except at most one cut at each end, and shares that differ by at most one record.
 *   3. A rank's share is read `read_size` groups at a time (one batched read, decompressing
 *      each chunk once); the records of those groups are shuffled together.
 *   4. The shuffled records are served in batches of `batch_size`; a batch may take its
 *      records from two consecutive reads. The final short batch is served unless
 *      drop_last is set; with drop_last every rank serves floor(floor(N/W)/batch_size)
 *      batches, so all ranks of a job step together.
 * Same seed and epoch give the same order on every machine; a different epoch gives a
 * different order. With shuffle off, records come in storage order.
 *
 * Threads : a loader is used by one thread at a time. With prefetch on it owns `threads`
 * background threads, each reading and decompressing a whole read, so the next `threads`
 * reads are under way while the caller consumes the current one. The stores it reads must
 * not be changed while the loader is open (readers in other handles and processes are fine).
 */
#ifndef VLSTORE_LOADER_H
#define VLSTORE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "vlstore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vls_loader vls_loader; /* opaque */

/*! vls_loader_options :
 *  Fill with vls_loader_options_init(), then change fields. */
typedef struct vls_loader_options {
    uint32_t struct_size; /* sizeof(vls_loader_options); set by vls_loader_options_init() */
    uint32_t batch_size;  /* records per batch; default 64 */
    uint32_t read_size;   /* groups (chunks) read and shuffled together; default 4 */
    uint32_t n_buffers;   /* a batch stays valid until n_buffers more batches are taken; default 2 */
    int32_t shuffle;      /* 1: shuffled epochs (default); 0: storage order */
    int32_t merge_last;   /* 1: fold a short final group into the one before (default) */
    int32_t drop_last;    /* 1: drop the final short batch; default 0 */
    int32_t prefetch;     /* 1: read ahead on `threads` background threads (default);
                             0: read inline */
    uint32_t rank;        /* this process's share: rank of world; default 0 of 1 */
    uint32_t world;
    int32_t threads;      /* reads decoded at once: prefetch on, that many background
                             readers, each decoding its own read; prefetch off, the chunks
                             of an inline read shared out over that many threads. 1..256,
                             default 1 */
    uint32_t reserved0;
    uint64_t seed;        /* default 0 */
    uint64_t epoch;       /* the epoch the loader starts in; default 0 */
    uint64_t reserved[8]; /* zero */
} vls_loader_options;

VLS_API void vls_loader_options_init(vls_loader_options *opts);

/*! vls_record :
 *  One served record. data/len is the record's bytes, key/klen its key (both views into
 *  loader memory; see vls_loader_next() for how long they stay valid). file is the index of
 *  its store in the list given to the loader; index its position in that store's storage
 *  order (0-based, counting live records only). */
typedef struct vls_record {
    const void *data;
    uint64_t len;
    const void *key;
    size_t klen;
    uint32_t file;
    uint32_t reserved;
    uint64_t index;
} vls_record;

/*! vls_loader_open() :
 *  Opens a loader over the stores paths[0..n), opened read-only by the loader and closed by
 *  vls_loader_close().
 *  vls_loader_open_stores() : the same over stores the caller opened; they must stay open
 *  and unchanged until vls_loader_close().
 *  Cost : one pass over each store's index (about 0.1 s per million records); no data read.
 *  @return : 0 and *out, or a negative VLS_E_… code (*out is then NULL and
 *  vls_loader_errmsg(NULL) says what failed: the bad option, or the store that did not
 *  open and why). */
VLS_API int vls_loader_open(const char *const *paths, size_t n, const vls_loader_options *opts,
                            vls_loader **out);
VLS_API int vls_loader_open_stores(vls_store *const *stores, size_t n,
                                   const vls_loader_options *opts, vls_loader **out);

/*! vls_loader_close() : stops the prefetch threads, frees everything; closes the stores the
 *  loader opened. Every view it served becomes invalid. NULL is a no-op. */
VLS_API void vls_loader_close(vls_loader *ld);

/*! vls_loader_next() :
 *  Serves the next batch of the current epoch: *records points at *n vls_record entries.
 *  The records' data and keys, and the array itself, stay valid until n_buffers further
 *  batches have been taken from this loader (n_buffers = 1: until the next call), or until
 *  vls_loader_start_epoch(), vls_loader_seek() or vls_loader_close().
 *  @return : 1 with a batch; 0 at the end of the epoch (then *n = 0); or a negative
 *  VLS_E_… code (an I/O or checksum error in a read; vls_loader_errmsg says which record). */
VLS_API int vls_loader_next(vls_loader *ld, const vls_record **records, size_t *n);

/*! vls_loader_start_epoch() : restarts at the beginning of `epoch` (a fresh order). */
VLS_API int vls_loader_start_epoch(vls_loader *ld, uint64_t epoch);

/*! vls_loader_position : where a loader stands, to save and restore (resume).
 *  batch is the number of batches already served in the epoch. fingerprint identifies the
 *  dataset and the settings that shape the order (record keys and lengths, batch_size,
 *  read_size, shuffle, merge_last, drop_last, rank, world, seed); seeking with a position
 *  taken from a different dataset or settings fails with VLS_E_INVAL. */
typedef struct vls_loader_position {
    uint64_t epoch;
    uint64_t batch;
    uint64_t fingerprint;
} vls_loader_position;

/*! vls_loader_tell() / vls_loader_seek() :
 *  tell fills *pos; seek makes the next vls_loader_next() serve batch pos->batch of epoch
 *  pos->epoch, exactly as an uninterrupted run would have, reading only what that needs. */
VLS_API int vls_loader_tell(const vls_loader *ld, vls_loader_position *pos);
VLS_API int vls_loader_seek(vls_loader *ld, const vls_loader_position *pos);

/*! vls_loader_info : the shape of the current epoch for this rank. */
typedef struct vls_loader_info {
    uint64_t records;       /* records in the whole dataset (all files) */
    uint64_t groups;        /* groups after merge_last */
    uint64_t rank_records;  /* records this rank serves this epoch (after drop_last) */
    uint64_t rank_batches;  /* batches this rank serves this epoch */
    uint64_t rank_reads;    /* batched reads this rank makes this epoch */
    uint64_t epoch;
    uint64_t bytes_read;    /* record bytes read so far by this loader (all epochs) */
    uint64_t reads_done;    /* batched reads done so far (all epochs) */
    uint64_t wait_ns;       /* time vls_loader_next() spent waiting for a read */
} vls_loader_info;

VLS_API int vls_loader_info_get(vls_loader *ld, vls_loader_info *info);

/*! vls_loader_errmsg() :
 *  The detail of the last failure on this loader ("" when none); with ld == NULL, of the
 *  calling thread's last failure without a handle, e.g. a failed vls_loader_open*()
 *  ("stores/b.vls: bad magic …"; see vlstore.h, Conventions). Owned by the loader (it is used
 *  by one thread at a time), unchanged until its next failure or vls_loader_close();
 *  successful calls leave it alone. Never NULL. */
VLS_API const char *vls_loader_errmsg(const vls_loader *ld);

/*-*************************************
 *  Collated frame batches: a batch of frame records as contiguous arrays
 ***************************************/

/*! Frame batches :
 *  A batch of B frame records (vlstore_frame.h) decoded into one set of contiguous arrays, in
 *  the shape PyTorch Geometric and fairchem models take: the atoms of all frames concatenated
 *  (ΣN = natoms_total), per-frame values stacked. Each record is verified and viewed through
 *  vls_frame_view() and its arrays copied once, straight from where the record lies (a loader's
 *  decoded chunk, a vls_get_many buffer) into the batch; element types are kept (float32 stays
 *  float32, the float64 energy stays float64), except that atom types widen to int64
 *  (what nn.Embedding and torch indexing take).
 *
 *  An optional field is never dropped for the whole batch because some frames lack it: every
 *  array below is always present, a frame lacking the field is filled (NaN for energy, forces,
 *  stress and charges; 0 for cell and pbc) and its has_<field> mask entry is 0.
 *
 *  All frames of a batch must have the same ncodim (coordinates per site; 3 for ordinary
 *  space); D below is that value (3 for an empty batch).
 *
 *  index  name            dtype    shape        meaning
 *  POS           pos             float32  ΣN x D       positions
 *  FORCES        forces          float32  ΣN x D       forces (NaN rows: has_forces = 0)
 *  ATOMIC_NUMBERS atomic_numbers int64    ΣN           the frames' site types
 *  MASSES        masses          float32  ΣN
 *  CHARGES       charges         float32  ΣN           (NaN: has_charges = 0)
 *  BATCH         batch           int64    ΣN           atom -> frame index (0..B-1)
 *  NATOMS        natoms          int64    B            atoms per frame
 *  PTR           ptr             int64    B+1          frame i's atoms are [ptr[i], ptr[i+1])
 *  ENERGY        energy          float64  B            (NaN: has_energy = 0)
 *  CELL          cell            float32  B x 3 x 3    lattice vectors as rows (0: has_cell = 0)
 *  PBC           pbc             bool     B x 3        periodic along a, b, c (0 when absent)
 *  STRESS        stress          float32  B x 3 x 3    (NaN: has_stress = 0)
 *  HAS_ENERGY .. HAS_CHARGES     bool     B            per-frame presence masks
 *  KEYS          keys            uint8    Σ key bytes  the records' keys back to back
 *  KEY_PTR       key_ptr         int64    B+1          key i is keys[key_ptr[i], key_ptr[i+1])
 *  bool is one byte holding 0 or 1. Every array starts 64-byte aligned.
 *  float32 above is the dtype of a batch of float32 frames. pos, forces, masses, charges, cell
 *  and stress are float64 (VLS_DTYPE_F64) in a batch where any frame holds that array in
 *  float64 (frame format v2): the float32 frames' values are widened, exactly, and nothing is
 *  narrowed. Each array reports its dtype; read it rather than assume float32. */
enum {
    VLS_BATCH_POS,
    VLS_BATCH_FORCES,
    VLS_BATCH_ATOMIC_NUMBERS,
    VLS_BATCH_MASSES,
    VLS_BATCH_CHARGES,
    VLS_BATCH_BATCH,
    VLS_BATCH_NATOMS,
    VLS_BATCH_PTR,
    VLS_BATCH_ENERGY,
    VLS_BATCH_CELL,
    VLS_BATCH_PBC,
    VLS_BATCH_STRESS,
    VLS_BATCH_HAS_ENERGY,
    VLS_BATCH_HAS_FORCES,
    VLS_BATCH_HAS_CELL,
    VLS_BATCH_HAS_PBC,
    VLS_BATCH_HAS_STRESS,
    VLS_BATCH_HAS_CHARGES,
    VLS_BATCH_KEYS,
    VLS_BATCH_KEY_PTR,
    VLS_BATCH_NARRAYS /* number of arrays in a batch */
};

/* Element types of batch arrays. */
enum { VLS_DTYPE_BOOL = 1, VLS_DTYPE_U8, VLS_DTYPE_I64, VLS_DTYPE_F32, VLS_DTYPE_F64 };

/*! vls_batch_array : one array of a frame batch (C order). */
typedef struct vls_batch_array {
    const char *name;  /* "pos", "forces", ... (static storage) */
    void *data;        /* the elements; 64-byte aligned */
    uint64_t offset;   /* data's offset from the start of the batch's memory */
    uint64_t nbytes;   /* itemsize * the product of shape[0..ndim) */
    uint64_t shape[3];
    uint32_t ndim;     /* 1..3 */
    uint32_t dtype;    /* VLS_DTYPE_* */
} vls_batch_array;

/*! vls_frame_batch : B frames as arrays (see "Frame batches" above). */
typedef struct vls_frame_batch {
    uint64_t nframes;      /* B */
    uint64_t natoms_total; /* ΣN */
    uint32_t ncodim;       /* D */
    uint32_t reserved;
    uint64_t nbytes;       /* the batch's memory in use: the end of the last array */
    vls_batch_array arrays[VLS_BATCH_NARRAYS];
} vls_frame_batch;

/*! vls_frame_batch_collate() :
 *  Collates the frame records recs[0..n) (data/len, key/klen; file and index are ignored) into
 *  the caller's memory buf[0..cap), which must be 64-byte aligned, and describes the arrays
 *  in *out (pointers into buf).
 *  Ownership : nothing retained; buf is the caller's.   Threads : safe (no shared state).
 *  Cost : one verification and one copy of each record's arrays.
 *  A failure is described in the calling thread's handle-less message, vls_errmsg(NULL) (also
 *  vls_loader_errmsg(NULL)), naming the record by its position and key.
 * @return : 0; VLS_E_TOOSMALL when cap is less than the bytes needed, which are stored in
 *  *needed (always set when needed is not NULL); VLS_E_CORRUPT or VLS_E_TRUNCATED (as
 *  vls_frame_verify) when a record is not a valid frame; VLS_E_INVAL for NULL arguments, an
 *  unaligned buf, frames of different ncodim, or a frame with sites but without types,
 *  masses or positions (a later frame format this version does not collate). A float64 array
 *  of any frame (frame format v2) makes that batch array float64 (see "Frame batches"). */
VLS_API int vls_frame_batch_collate(const vls_record *recs, size_t n, void *buf, size_t cap,
                                    size_t *needed, vls_frame_batch *out);

/*! vls_loader_next_frames() :
 *  vls_loader_next() with the batch's records collated (vls_frame_batch_collate) into memory
 *  the loader owns and reuses: n_buffers sets, used in turn. *batch and its arrays stay valid
 *  until n_buffers further vls_loader_next_frames() calls on this loader, or until
 *  vls_loader_close(); vls_loader_start_epoch() and vls_loader_seek() do not invalidate them.
 *  A set grows (and is never shrunk) to hold the largest batch it has served.
 *  Mixing with vls_loader_next() is allowed: each call takes the next batch of the epoch.
 * @return : 1 with a batch; 0 at the end of the epoch; a negative VLS_E_… code (as
 *  vls_loader_next, or the errors of vls_frame_batch_collate, VLS_E_NOMEM);
 *  vls_loader_errmsg() says which record. After a collation error the loader has moved past
 *  that batch. */
VLS_API int vls_loader_next_frames(vls_loader *ld, const vls_frame_batch **batch);

#ifdef __cplusplus
}
#endif

#endif /* VLSTORE_LOADER_H */
