/*
 * custom_codec.c — a codec of your own, in a few lines, used through a depot.
 *
 * The object: one sample of a simulation's output, a timestep, an energy and a variable-length
 * float array. The record: timestep (int64) | energy (float64) | n (uint32) | 4 zero bytes |
 * n float32, little-endian (the machine's order on every host vlstore supports). unpack checks
 * the length and points `values` into the record: a zero-copy view.
 *
 * Build (installed vlstore):  cc custom_codec.c $(pkg-config --cflags --libs vlstore)
 * Run:                        ./custom_codec [STORE]     (default: an in-memory store)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vlstore_depot.h>

typedef struct sample {
    int64_t timestep;
    double energy;
    uint32_t n;
    const float *values; /* n floats */
} sample;

#define HEAD 24 /* bytes before the floats; a multiple of 8, so the floats are aligned */

static int sample_size(void *ctx, const void *obj, size_t *len)
{
    (void)ctx;
    *len = HEAD + 4 * (size_t)((const sample *)obj)->n;
    return VLS_OK;
}

static int sample_pack(void *ctx, const void *obj, void *dst, size_t cap, size_t *len)
{
    const sample *s = obj;
    unsigned char *p = dst;
    sample_size(ctx, obj, len);
    if (cap < *len)
        return VLS_E_TOOSMALL;
    memcpy(p, &s->timestep, 8);
    memcpy(p + 8, &s->energy, 8);
    memcpy(p + 16, &s->n, 4);
    memset(p + 20, 0, 4);
    memcpy(p + HEAD, s->values, 4 * (size_t)s->n);
    return VLS_OK;
}

static int sample_unpack(void *ctx, const void *rec, size_t len, void *obj, char *msg,
                         size_t msgcap)
{
    (void)ctx;
    sample *s = obj;
    const unsigned char *p = rec;
    if (len < HEAD)
        return snprintf(msg, msgcap, "%zu bytes, the header needs %d", len, HEAD),
               VLS_E_TRUNCATED;
    memcpy(&s->timestep, p, 8);
    memcpy(&s->energy, p + 8, 8);
    memcpy(&s->n, p + 16, 4);
    if (len != HEAD + 4 * (size_t)s->n)
        return snprintf(msg, msgcap, "n = %u needs %zu bytes", (unsigned)s->n,
                        HEAD + 4 * (size_t)s->n),
               VLS_E_CORRUPT;
    s->values = (const float *)(const void *)(p + HEAD); /* a view: no copy */
    return VLS_OK;
}

static const vls_depot_codec sample_codec = {
    .name = "sample",
    .obj_size = sizeof(sample),
    .align = 8, /* the depot places records at multiples of 8: values is aligned */
    .size = sample_size,
    .pack = sample_pack,
    .unpack = sample_unpack,
};

/* ------------------------------------------------------------------------------------------ */

#define N 1000

static float value(int i, uint32_t k)
{
    return (float)i + (float)k * 0.25f;
}

static int check(const sample *s, int i)
{
    if (s->timestep != (int64_t)i * 10 || s->energy != -0.5 * i || s->n != (uint32_t)(i % 97))
        return 0;
    for (uint32_t k = 0; k < s->n; k++)
        if (s->values[k] != value(i, k))
            return 0;
    return 1;
}

static int fail(vls_store *st, const char *what, int rc)
{
    fprintf(stderr, "custom_codec: %s: %s: %s\n", what, vls_strerror(rc), vls_errmsg(st));
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : NULL;
    vls_store *st;
    vls_depot *d;
    int rc = vls_open(path, VLS_CREATE | VLS_TRUNCATE, NULL, &st);
    if (rc != VLS_OK)
        return fail(NULL, "open", rc);
    if ((rc = vls_depot_open(st, &sample_codec, &d)) != VLS_OK)
        return fail(st, "depot", rc);

    /* write N samples of 0..96 floats */
    float *buf = malloc(97 * sizeof *buf);
    if (!buf)
        return fail(st, "malloc", VLS_E_NOMEM);
    for (int i = 0; i < N && rc == VLS_OK; i++) {
        sample s = {(int64_t)i * 10, -0.5 * i, (uint32_t)(i % 97), buf};
        for (uint32_t k = 0; k < s.n; k++)
            buf[k] = value(i, k);
        char key[32];
        snprintf(key, sizeof key, "sample/%d", i);
        rc = vls_depot_put_str(d, key, &s, 0);
    }
    free(buf);
    if (rc != VLS_OK || (rc = vls_commit(st)) != VLS_OK)
        return fail(st, "write", rc);

    /* read one back: a view into the depot's buffer */
    sample s;
    if ((rc = vls_depot_view_str(d, "sample/500", &s)) != VLS_OK)
        return fail(st, "view", rc);
    int ok = check(&s, 500);
    printf("sample/500: timestep %lld, energy %g, %u values, values[%u] = %g: %s\n",
           (long long)s.timestep, s.energy, (unsigned)s.n, (unsigned)s.n - 1,
           (double)s.values[s.n - 1], ok ? "ok" : "WRONG");

    /* all of them, 100 at a time, through the batched read path */
    int good = 0;
    for (int b = 0; b < N; b += 100) {
        char names[100][32];
        vls_key keys[100];
        sample got[100];
        for (int k = 0; k < 100; k++) {
            snprintf(names[k], sizeof names[k], "sample/%d", b + k);
            keys[k].data = names[k];
            keys[k].len = strlen(names[k]);
        }
        if ((rc = vls_depot_get_many(d, 100, keys, got, NULL)) != VLS_OK)
            return fail(st, "get_many", rc);
        for (int k = 0; k < 100; k++)
            good += check(&got[k], b + k);
    }
    printf("read %d samples back with vls_depot_get_many: %d correct\n", N, good);

    /* a record that is not a sample gets a clear error, not garbage */
    vls_put_str(st, "not-a-sample", "hello", 5, 0);
    rc = vls_depot_view_str(d, "not-a-sample", &s);
    printf("reading a foreign record: error %d: %s\n", rc, vls_depot_errmsg(d));

    vls_depot_close(d);
    vls_close(st);
    int all = ok && good == N && rc == VLS_E_TRUNCATED;
    printf("%s\n", all ? "custom codec OK" : "custom codec FAILED");
    return all ? 0 : 1;
}
