/* progress.c — a per-thread progress hook. Per thread, like the error message, so a library
 * call on one thread never reports into another thread's display, and the signatures of
 * vls_verify, vls_compact and vls_recover stay as they were. */
#include <stddef.h>

#include "progress.h"
#include "vlstore.h"

static _Thread_local vls_progress_fn tls_fn;
static _Thread_local void *tls_ctx;

void vls_progress_set(vls_progress_fn fn, void *ctx)
{
    tls_fn = fn;
    tls_ctx = ctx;
}

void store_progress(const char *what, uint64_t done, uint64_t total)
{
    if (tls_fn)
        tls_fn(tls_ctx, what, done, total);
}
