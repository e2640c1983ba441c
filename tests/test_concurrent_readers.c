/* test_concurrent_readers — many threads read one shared handle at once (get, get_many,
 * size, iterate) while every result is checked byte for byte. Built with ThreadSanitizer by
 * `make test-tsan` (label "concurrency"). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NREC 400
#define NTHREADS 4

static vls_store *shared;
static size_t lens[NREC];
static long errors_seen[NTHREADS];

static void *reader(void *arg)
{
    long id = (long)(intptr_t)arg, bad = 0;
    uint64_t rng = (uint64_t)id + 1;
    unsigned char *want = malloc(70000), *got = malloc(70000), *all = malloc(8 * 70000);
    for (int round = 0; round < 300; round++) {
        int i = (int)(test_rand(&rng) % NREC);
        char key[16];
        size_t len;
        snprintf(key, sizeof key, "k%d", i);
        test_fill(want, lens[i], (uint64_t)i, 1);
        if (vls_get_str(shared, key, got, 70000, &len) != VLS_OK || len != lens[i] ||
            memcmp(want, got, len) != 0)
            bad++;
        vls_key keys[8];
        char names[8][16];
        vls_span spans[8];
        int idx[8];
        for (int k = 0; k < 8; k++) {
            idx[k] = (int)(test_rand(&rng) % NREC);
            snprintf(names[k], 16, "k%d", idx[k]);
            keys[k].data = names[k];
            keys[k].len = strlen(names[k]);
        }
        if (vls_get_many(shared, 8, keys, all, 8 * 70000, spans, NULL) != VLS_OK) {
            bad++;
            continue;
        }
        for (int k = 0; k < 8; k++) {
            test_fill(want, lens[idx[k]], (uint64_t)idx[k], 1);
            if (spans[k].length != lens[idx[k]] ||
                memcmp(all + spans[k].offset, want, lens[idx[k]]) != 0)
                bad++;
        }
        uint64_t pos = 0, n = 0, l;
        if (round % 50 == 0) {
            while (vls_iter_next(shared, &pos, NULL, NULL, &l) == 1)
                n++;
            bad += n != NREC;
        }
    }
    errors_seen[id] = bad;
    free(want);
    free(got);
    free(all);
    return NULL;
}

int main(void)
{
    const char *path = test_path("concurrent");
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 256 * 1024;
    o.cache_bytes = 512 * 1024; /* small: threads race on insert and eviction */
    o.threads = 2;
    vls_store *w;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_NOSYNC, &o, &w));
    unsigned char *buf = malloc(70000);
    for (int i = 0; i < NREC; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        lens[i] = (size_t)(i * 7919) % 65000;
        test_fill(buf, lens[i], (uint64_t)i, 1);
        CHECK_OK(w, vls_put_str(w, key, buf, lens[i], 0));
    }
    CHECK_OK(w, vls_close(w));
    free(buf);
    for (int cached = 0; cached < 2; cached++) {
        o.cache_bytes = cached ? 512 * 1024 : 0;
        CHECK_OK(NULL, vls_open(path, VLS_RDONLY, &o, &shared));
        pthread_t t[NTHREADS];
        for (long i = 0; i < NTHREADS; i++)
            pthread_create(&t[i], NULL, reader, (void *)(intptr_t)i);
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < NTHREADS; i++)
            CHECK(errors_seen[i] == 0);
        vls_close(shared);
    }
    return test_done("test_concurrent_readers");
}
