/* compressor.h — one background thread that compresses one chunk at a time, so a writer
 * fills its next chunk while the last full one is being compressed ("write-behind").
 *
 * The thread only compresses: it reads src and writes dst, both owned by the caller until
 * compressor_wait() returns. Appending the frame to the file and indexing it stay on the
 * writer's thread, in order, so the file is written exactly as without the thread.
 * Depends on chunk.h and pthreads. */
#ifndef VLS_COMPRESSOR_H
#define VLS_COMPRESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

typedef struct vls_compressor vls_compressor;

/* Starts the thread. NULL when it cannot start (the writer then compresses inline). */
vls_compressor *compressor_new(void);

/* Waits for a job under way, then stops and joins the thread. */
void compressor_free(vls_compressor *z);

/* Hands over one chunk: chunk_compress(p, src, raw, dst, ...) on the thread. At most one job
 * at a time: call compressor_wait() before the next. p, src and dst must stay untouched
 * (src may be read) until then. */
void compressor_start(vls_compressor *z, const chunk_params *p, const void *src, size_t raw,
                      void *dst);

/* Waits for the job to finish; *stored and *codec_used as chunk_compress gives them. */
void compressor_wait(vls_compressor *z, size_t *stored, uint8_t *codec_used);

#endif
