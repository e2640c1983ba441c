/* testutil.c — see testutil.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

_Atomic long test_passed, test_failed, test_skipped;

const char *test_path(const char *name)
{
    static char paths[8][512];
    static int next;
    const char *dir = getenv("VLS_TEST_TMP");
    if (!dir || !*dir)
        dir = "/tmp";
    mkdir(dir, 0755);
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s-%ld.vls", dir, name, (long)getpid());
    unlink(p);
    return p;
}

uint64_t test_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void test_fill(void *buf, size_t len, uint64_t seed, int compressible)
{
    unsigned char *p = buf;
    uint64_t s = seed;
    if (compressible) { /* smooth float32 walk, like MD positions */
        float x = (float)(seed % 1000);
        size_t i = 0;
        for (; i + 4 <= len; i += 4) {
            x += (float)((int)(test_rand(&s) % 200) - 100) * 0.0001f;
            memcpy(p + i, &x, 4);
        }
        for (; i < len; i++)
            p[i] = (unsigned char)i;
        return;
    }
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = test_rand(&s);
        memcpy(p + i, &r, len - i < 8 ? len - i : 8);
    }
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    test_skipped++;
    fputs("SKIP: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int test_done(const char *name)
{
    printf("%s: %ld passed, %ld failed, %ld skipped\n", name, test_passed, test_failed,
           test_skipped);
    if (test_failed)
        return 1;
    if (test_passed == 0 && test_skipped == 0) {
        fprintf(stderr, "%s: FAIL: no check ran\n", name);
        return 1;
    }
    return test_skipped ? 77 : 0;
}

int test_has_key(vls_store *s, const char *key)
{
    int found = 0;
    return vls_contains(s, key, strlen(key), &found) == VLS_OK ? found : -1;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizer runtimes' allocator interface (sanitizer/allocator_interface.h, which GCC
 * does not install). */
size_t __sanitizer_get_current_allocated_bytes(void);
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static _Atomic size_t heap_peak;
static size_t heap_limit;

/* After each allocation: the whole process's live heap, as RLIMIT_AS counts the whole
 * process's address space. */
static void note_heap(const volatile void *p, size_t size)
{
    (void)p, (void)size;
    size_t now = __sanitizer_get_current_allocated_bytes();
    size_t peak = heap_peak;
    while (now > peak && !__atomic_compare_exchange_n(&heap_peak, &peak, now, 0,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

static void ignore_free(const volatile void *p)
{
    (void)p;
}

void test_limit_memory(size_t bytes)
{
    heap_limit = bytes;
    heap_peak = __sanitizer_get_current_allocated_bytes();
    __sanitizer_install_malloc_and_free_hooks(note_heap, ignore_free);
}

int test_memory_exceeded(void)
{
    if (heap_peak > heap_limit) {
        fprintf(stderr, "heap peak %zu bytes, past the limit of %zu\n", (size_t)heap_peak,
                heap_limit);
        return 1;
    }
    return 0;
}
#else
void test_limit_memory(size_t bytes)
{
    struct rlimit lim = {bytes, bytes};
    setrlimit(RLIMIT_AS, &lim);
}

int test_memory_exceeded(void)
{
    return 0;
}
#endif
