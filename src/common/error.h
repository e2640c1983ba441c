/* error.h — setting the per-thread, per-handle error messages (see vls_errmsg). */
#ifndef VLS_ERROR_H
#define VLS_ERROR_H

#include "vlstore.h"

#if defined(__GNUC__)
#define VLS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VLS_PRINTF(a, b)
#endif

/* Records a formatted message as the calling thread's last failure on `owner`, a handle of
 * any type (NULL for a failure without a handle: a failed open, a handle-less call). Returns
 * `code` so callers can `return vls_seterr(...)`. */
int vls_seterr(const void *owner, int code, const char *fmt, ...) VLS_PRINTF(3, 4);

/* The calling thread's message for owner (NULL: its last handle-less failure); "" if none. */
const char *vls_errmsg_of(const void *owner);

/* For a handle being freed: drops its message in the calling thread, so a later handle at the
 * same address does not inherit it. With code != VLS_OK (the close itself failed) the message
 * moves to the handle-less slot, where vls_errmsg(NULL) finds it. */
void vls_errforget(const void *owner, int code);

/* Maps an errno value from a failed system call to a VLS_E_* code. */
int vls_errno_code(int err);

#endif
