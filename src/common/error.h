/* error.h — setting the per-thread, per-handle error message (see vls_errmsg). */
#ifndef VLS_ERROR_H
#define VLS_ERROR_H

#include "vlstore.h"

#if defined(__GNUC__)
#define VLS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VLS_PRINTF(a, b)
#endif

/* Records `code` and a formatted message as the calling thread's last failure on `store`
 * (NULL for failures without a handle). Returns `code` so callers can `return seterr(...)`. */
int vls_seterr(const struct vls_store *store, int code, const char *fmt, ...) VLS_PRINTF(3, 4);

/* Maps an errno value from a failed system call to a VLS_E_* code. */
int vls_errno_code(int err);

#endif
