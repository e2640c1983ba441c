/* collate.h — private to src/loader/: the loader's reused memory for collated frame batches
 * (vls_loader_next_frames). The collation itself is public: vls_frame_batch_collate(). */
#ifndef VLS_LOADER_COLLATE_H
#define VLS_LOADER_COLLATE_H

#include <stddef.h>

#include "vlstore_loader.h"

typedef struct ld_batches ld_batches;

/* Collates recs[0..n) into the next of n_buffers memory sets of *sets (created on first use,
 * grown as needed) and points *out at it. Returns 0 or a negative VLS_E_… code with the
 * detail in msg[0..msgcap). */
int ld_batches_collate(ld_batches **sets, unsigned n_buffers, const vls_record *recs, size_t n,
                       const vls_frame_batch **out, char *msg, size_t msgcap);

/* Frees every set. NULL is a no-op. */
void ld_batches_free(ld_batches *sets);

#endif /* VLS_LOADER_COLLATE_H */
