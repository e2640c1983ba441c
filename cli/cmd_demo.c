/* cmd_demo.c — `vlstore demo [FILE]`: stores a few hundred synthetic MD-like records, reads
 * them back (one by one and in batches), checks every byte and prints what it did and how
 * fast. The main job of `make demo`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A deterministic frame: n atoms of int32 type, float32 mass, 3 positions, 3 forces. */
static size_t make_record(uint64_t i, unsigned char **out)
{
    uint32_t n = 50 + (uint32_t)((i * 2654435761u) % 1150);
    size_t len = (size_t)n * 32;
    unsigned char *p = malloc(len);
    if (!p)
        return 0;
    int32_t *types = (int32_t *)(void *)p;
    float *f = (float *)(void *)(p + 4 * n);
    for (uint32_t a = 0; a < n; a++) {
        types[a] = (int32_t)(1 + a % 8);
        f[a] = 1.008f * (float)(1 + a % 8);
        for (int d = 0; d < 3; d++) {
            f[n + 3 * a + d] = (float)a * 0.1f + (float)d + (float)i * 0.001f;
            f[4 * n + 3 * a + d] = (float)((a * 7 + d * 3 + i) % 100) * 0.01f - 0.5f;
        }
    }
    *out = p;
    return len;
}

int cmd_demo(int argc, char **argv)
{
    static const char use[] = "usage: vlstore demo [FILE]\n"
                              "Writes 300 synthetic MD frames to FILE (default: a temporary "
                              "file),\nreads them back and checks them, printing timings.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    if (argc > 2)
        return cli_usage(use);
    char tmp[] = "/tmp/vlstore-demo-XXXXXX";
    const char *path = argc == 2 ? argv[1] : NULL;
    if (!path) {
        int fd = mkstemp(tmp);
        if (fd < 0)
            return perror("vlstore demo"), EXIT_FAIL;
        close(fd);
        unlink(tmp);
        path = tmp;
    }
    enum { N = 300 };
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE | VLS_TRUNCATE, NULL, &s);
    if (rc != VLS_OK)
        return cli_fail("demo", NULL, rc);
    double t0 = cli_now();
    size_t total = 0;
    for (uint64_t i = 0; i < N && rc == VLS_OK; i++) {
        unsigned char *rec;
        size_t len = make_record(i, &rec);
        char key[32];
        snprintf(key, sizeof key, "frame_%llu", (unsigned long long)i);
        rc = len ? vls_put_str(s, key, rec, len, 0) : VLS_E_NOMEM;
        total += len;
        free(rec);
    }
    if (rc == VLS_OK)
        rc = vls_commit(s);
    double t_write = cli_now() - t0;
    if (rc != VLS_OK) {
        cli_fail("demo", s, rc);
        vls_close(s);
        return EXIT_FAIL;
    }
    vls_close(s);
    printf("wrote %d frames (%.1f MB) to %s in %.3f s: %.0f MB/s including the fsync\n", N,
           total / 1e6, path, t_write, total / 1e6 / t_write);

    if ((rc = vls_open(path, VLS_RDONLY, NULL, &s)) != VLS_OK)
        return cli_fail("demo", NULL, rc);
    vls_stat st;
    vls_stat_get(s, &st);
    printf("file is %.1f MB: compression ratio %.2f (%s, level %d, byte shuffle), %llu chunks\n",
           st.file_bytes / 1e6, (double)st.logical_bytes / (double)st.file_bytes,
           vls_codec_name(st.options.codec), st.options.level, (unsigned long long)st.chunks);
    int bad = 0;
    t0 = cli_now();
    for (uint64_t i = 0; i < N; i++) {
        unsigned char *want, *got;
        size_t wlen = make_record(i, &want), glen;
        char key[32];
        snprintf(key, sizeof key, "frame_%llu", (unsigned long long)i);
        rc = vls_get_alloc(s, key, strlen(key), (void **)&got, &glen);
        if (rc != VLS_OK || glen != wlen || memcmp(want, got, wlen) != 0) {
            if (rc != VLS_OK)
                cli_fail("demo", s, rc);
            bad++;
        }
        free(want);
        if (rc == VLS_OK)
            vls_free(got);
    }
    double t_read = cli_now() - t0;
    printf("read back all %d frames one by one in %.3f s (%.0f MB/s): %s\n", N, t_read,
           total / 1e6 / t_read, bad ? "MISMATCH" : "every byte matches");

    /* batched: 64 frames at a time, the training-loop read */
    vls_key keys[64];
    char names[64][32];
    vls_span spans[64];
    unsigned char *buf = malloc(64 * 1200 * 32);
    t0 = cli_now();
    for (int b = 0; b < N && buf; b += 64) {
        int n = N - b < 64 ? N - b : 64;
        for (int k = 0; k < n; k++) {
            snprintf(names[k], 32, "frame_%d", (b + k * 37) % N);
            keys[k].data = names[k];
            keys[k].len = strlen(names[k]);
        }
        rc = vls_get_many(s, (size_t)n, keys, buf, 64 * 1200 * 32, spans, NULL);
        if (rc != VLS_OK) {
            cli_fail("demo", s, rc);
            bad++;
            break;
        }
    }
    double t_batch = cli_now() - t0;
    printf("read all frames again in batches of 64 with vls_get_many in %.3f s\n", t_batch);
    free(buf);
    vls_close(s);
    if (path == tmp)
        unlink(tmp);
    return bad ? EXIT_FAIL : EXIT_OK;
}
