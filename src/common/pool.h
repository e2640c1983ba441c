/* pool.h — a small fixed thread pool that runs one batch of tasks at a time; the calling
 * thread works too. Used to decode the chunks of a batched read in parallel. */
#ifndef VLS_POOL_H
#define VLS_POOL_H

#include <stddef.h>

typedef struct vls_pool vls_pool;

/* Starts nthreads-1 workers (the caller is the n-th). NULL on failure or nthreads <= 1. */
vls_pool *pool_new(int nthreads);
void pool_free(vls_pool *p);
/* Runs fn(arg, i) for i in [0, ntasks) and returns when all are done. If the pool is busy
 * with another caller's batch (or p is NULL), the caller runs the tasks itself. */
void pool_run(vls_pool *p, size_t ntasks, void (*fn)(void *arg, size_t i), void *arg);

#endif
