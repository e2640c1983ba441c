/* testutil.h — the small harness every C test uses: CHECK counts and reports, scratch paths,
 * deterministic random bytes. Each test ends with test_done(), printing
 * "N passed, M failed, S skipped". */
#ifndef VLS_TESTUTIL_H
#define VLS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vlstore.h"

/* atomic: a test may count checks from several threads */
extern _Atomic long test_passed, test_failed, test_skipped;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond)                                                                          \
            test_passed++;                                                                 \
        else {                                                                             \
            test_failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                  \
    } while (0)

/* CHECK that a vlstore call returned `want`, printing the handle's message otherwise. */
#define CHECK_RC(store, call, want)                                                        \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ == (want))                                                                 \
            test_passed++;                                                                 \
        else {                                                                             \
            test_failed++;                                                                 \
            fprintf(stderr, "%s:%d: %s returned %d (%s: %s), expected %d\n", __FILE__,     \
                    __LINE__, #call, rc_, vls_strerror(rc_), vls_errmsg(store), want);     \
        }                                                                                  \
    } while (0)

#define CHECK_OK(store, call) CHECK_RC(store, call, VLS_OK)

/* A fresh path under the scratch directory ($VLS_TEST_TMP or /tmp), removed if present. */
const char *test_path(const char *name);
uint64_t test_rand(uint64_t *state);
/* vls_contains() as a value: 1 present, 0 absent, -1 when the call failed (never "present"). */
int test_has_key(vls_store *s, const char *key);
void test_fill(void *buf, size_t len, uint64_t seed, int compressible);
/* Counts a check that cannot run here (a package is missing), printing why: the test then
 * reports "Skipped" to ctest (exit 77), never a pass. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Bounds what this process may allocate from now on (call it in a forked child). A normal
 * build sets RLIMIT_AS, so an allocation past the limit fails. Under AddressSanitizer or
 * ThreadSanitizer, which reserve terabytes of address space and cannot start under such a
 * limit, malloc/free hooks count the live heap bytes instead, and test_memory_exceeded()
 * says afterwards whether their peak went past the limit: the same check, made on the heap. */
void test_limit_memory(size_t bytes);
/* 1 when the peak of live heap bytes counted since test_limit_memory() went past its limit
 * (sanitizer builds; 0 otherwise, where the limit itself made the allocation fail). */
int test_memory_exceeded(void);
/* Prints the summary line and returns the exit status: 1 when a check failed or none ran at all
 * (a test that proved nothing fails), 77 (ctest's SKIP_RETURN_CODE) when one was skipped, else 0. */
int test_done(const char *name);

#endif
