/* clocale.h — the C locale as a locale_t, for code that must parse or print numbers with '.'
 * whatever LC_NUMERIC the program set (JSON, XYZ): pass it to strtod_l, or make it the calling
 * thread's locale for a while with uselocale() (per thread; the process locale is untouched). */
#ifndef VLS_CLOCALE_H
#define VLS_CLOCALE_H

#include <locale.h>

/* The process's one C locale object, made on first use and never freed (thread-safe).
 * (locale_t)0 only if it could not be made (out of memory). */
locale_t vls_c_locale(void);

#endif
