/* progress.h — the calling thread's progress hook (vls_progress_set), which the long
 * whole-store operations (verify, compact, recover) call as they go. Depends on nothing. */
#ifndef VLS_PROGRESS_H
#define VLS_PROGRESS_H

#include <stdint.h>

/* Reports done of total `what` ("chunks", "records", "bytes") to the thread's hook, if any. */
void store_progress(const char *what, uint64_t done, uint64_t total);

#endif
