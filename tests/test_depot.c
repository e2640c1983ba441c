/* test_depot.c — the typed layer (vlstore_depot.h): every shipped codec round-trips through a
 * depot; unpacked objects are views into record memory, never copies; get_many goes through
 * the batched read path and hands out aligned views; a record from another codec, truncated or
 * with trailing bytes gets a clear error and never an out-of-bounds read (meaningful under
 * `make test-asan`); a user codec works, with and without a size function; argument errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_depot.h"

/*-*************************************
 *  Random frames
 ***************************************/
typedef struct {
    char name[32];
    int32_t n;
    int32_t *types;
    float *masses, *pos, *forces, cell[9];
    vls_frame f;
} frame_data;

static void make_frame(frame_data *fd, int32_t n, uint64_t seed, int optional)
{
    uint64_t s = seed;
    snprintf(fd->name, sizeof fd->name, "frame_%llu", (unsigned long long)seed);
    fd->n = n;
    fd->types = malloc((size_t)n * 4 + 4);
    fd->masses = malloc((size_t)n * 4 + 4);
    fd->pos = malloc((size_t)n * 12 + 4);
    fd->forces = malloc((size_t)n * 12 + 4);
    for (int32_t i = 0; i < n; i++) {
        fd->types[i] = (int32_t)(test_rand(&s) % 100);
        fd->masses[i] = (float)(test_rand(&s) % 10000) * 0.01f;
        for (int d = 0; d < 3; d++) {
            fd->pos[3 * i + d] = (float)(int64_t)(test_rand(&s) % 200000 - 100000) * 1e-3f;
            fd->forces[3 * i + d] = (float)(int64_t)(test_rand(&s) % 2000 - 1000) * 1e-2f;
        }
    }
    for (int k = 0; k < 9; k++)
        fd->cell[k] = k % 4 == 0 ? 10.0f + (float)k : 0.0f;
    vls_frame_init(&fd->f);
    fd->f.name = fd->name;
    fd->f.name_len = strlen(fd->name);
    fd->f.nsites = n;
    fd->f.types = fd->types;
    fd->f.masses = fd->masses;
    fd->f.positions = fd->pos;
    if (optional) {
        fd->f.forces = fd->forces;
        fd->f.has_energy = 1;
        fd->f.energy = -1.5 * (double)seed;
        fd->f.cell = fd->cell;
    }
}

static void free_frame(frame_data *fd)
{
    free(fd->types);
    free(fd->masses);
    free(fd->pos);
    free(fd->forces);
}

/* 1 when view v holds exactly the values of fd (compared value by value). */
static int frame_equal(const vls_frame *v, const frame_data *fd)
{
    const vls_frame *f = &fd->f;
    size_t n = (size_t)f->nsites;
    if (v->nsites != f->nsites || v->ncodim != 3 || v->name_len != f->name_len ||
        memcmp(v->name, f->name, f->name_len) != 0)
        return 0;
    if (!v->aligned)
        return 0;
    if (n && (memcmp(v->types, f->types, n * 4) || memcmp(v->masses, f->masses, n * 4) ||
              memcmp(v->positions, f->positions, n * 12)))
        return 0;
    if ((v->forces == NULL) != (f->forces == NULL) || (v->cell == NULL) != (f->cell == NULL) ||
        v->has_energy != f->has_energy)
        return 0;
    if (f->forces && n && memcmp(v->forces, f->forces, n * 12))
        return 0;
    if (f->cell && memcmp(v->cell, f->cell, 36))
        return 0;
    if (f->has_energy && v->energy != f->energy)
        return 0;
    return 1;
}

static int inside(const void *p, const void *base, size_t len)
{
    const unsigned char *b = base, *q = p;
    return q >= b && q < b + len;
}

/*-*************************************
 *  Frame codec
 ***************************************/
static void test_frame_codec_roundtrips(void)
{
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_frame, &d));
    enum { N = 40 };
    frame_data fd[N];
    for (int i = 0; i < N; i++) {
        make_frame(&fd[i], i == 0 ? 0 : 1 + (i * 37) % 500, (uint64_t)i, i % 2);
        CHECK_OK(s, vls_depot_put_str(d, fd[i].name, &fd[i].f, 0));
    }
    /* view: into the depot's buffer */
    for (int i = 0; i < N; i++) {
        vls_frame v;
        CHECK_OK(s, vls_depot_view_str(d, fd[i].name, &v));
        CHECK(frame_equal(&v, &fd[i]));
    }
    /* the record bytes are exactly the frame encoder's */
    {
        void *enc, *raw;
        size_t elen, rlen;
        CHECK_OK(s, vls_frame_encode_alloc(&fd[7].f, &enc, &elen));
        CHECK_OK(s, vls_get_alloc(s, fd[7].name, strlen(fd[7].name), &raw, &rlen));
        CHECK(elen == rlen && memcmp(enc, raw, elen) == 0);
        free(enc);
        vls_free(raw);
    }
    /* views point into record memory: get into a caller buffer */
    {
        size_t len = 0;
        vls_frame v;
        CHECK_RC(s, vls_depot_get(d, fd[5].name, strlen(fd[5].name), NULL, 0, &len, &v),
                 VLS_E_TOOSMALL);
        CHECK(len == vls_frame_encoded_size(&fd[5].f));
        void *buf = malloc(len);
        CHECK_RC(s, vls_depot_get(d, fd[5].name, strlen(fd[5].name), buf, len - 1, &len, &v),
                 VLS_E_TOOSMALL);
        CHECK_OK(s, vls_depot_get(d, fd[5].name, strlen(fd[5].name), buf, len, &len, &v));
        CHECK(frame_equal(&v, &fd[5]));
        CHECK(inside(v.positions, buf, len) && inside(v.types, buf, len) &&
              inside(v.forces, buf, len) && inside(v.name, buf, len));
        /* no copy: changing the record's bytes changes what the view shows */
        float p0 = v.positions[0];
        float *pp = (float *)(uintptr_t)v.positions;
        pp[0] = p0 + 1.0f;
        CHECK(v.positions[0] == p0 + 1.0f);
        /* a buffer misaligned for the codec is refused */
        unsigned char *mis = malloc(len + 8);
        CHECK_RC(s, vls_depot_get(d, fd[5].name, strlen(fd[5].name), mis + 1, len, &len, &v),
                 VLS_E_INVAL);
        CHECK(strstr(vls_depot_errmsg(d), "aligned") != NULL);
        free(mis);
        free(buf);
    }
    /* get_alloc: the object outlives the depot and the store */
    {
        void *rec;
        size_t len;
        vls_frame v;
        CHECK_OK(s, vls_depot_get_alloc(d, fd[9].name, strlen(fd[9].name), &rec, &len, &v));
        CHECK(rec != NULL && ((uintptr_t)rec & 15) == 0);
        CHECK(inside(v.positions, rec, len) && inside(v.masses, rec, len));
        vls_depot_close(d);
        vls_close(s);
        CHECK(frame_equal(&v, &fd[9]));
        vls_free(rec);
    }
    for (int i = 0; i < N; i++)
        free_frame(&fd[i]);
}

static void test_frame_codec_refuses_bad_frames(void)
{
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_frame, &d));
    vls_frame f;
    vls_frame_init(&f);
    f.nsites = -1;
    CHECK_RC(s, vls_depot_put_str(d, "bad", &f, 0), VLS_E_INVAL);
    CHECK(strstr(vls_depot_errmsg(d), "depot 'frame' put 'bad'") != NULL);
    f.nsites = 3; /* arrays missing */
    CHECK_RC(s, vls_depot_put_str(d, "bad", &f, 0), VLS_E_INVAL);
    CHECK(test_has_key(s, "bad") == 0);
    CHECK_RC(s, vls_depot_put_str(d, "bad", NULL, 0), VLS_E_INVAL);
    vls_depot_close(d);
    vls_close(s);
}

/*-*************************************
 *  f32array codec
 ***************************************/
static void test_f32array_roundtrips_and_layout(void)
{
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_f32array, &d));
    static const struct {
        uint32_t ndim;
        uint64_t dims[8];
    } shapes[] = {{0, {0}},          {1, {1}},          {1, {17}},          {2, {3, 5}},
                  {3, {300, 1200, 3}}, {3, {4, 0, 2}}, {8, {1, 2, 1, 3, 1, 2, 1, 2}}, {1, {0}}};
    enum { NS = sizeof shapes / sizeof shapes[0] };
    for (int k = 0; k < NS; k++) {
        vls_f32array a;
        memset(&a, 0, sizeof a);
        a.ndim = shapes[k].ndim;
        uint64_t count = 1;
        for (uint32_t i = 0; i < a.ndim; i++)
            count *= (a.dims[i] = shapes[k].dims[i]);
        float *data = malloc(count * 4 + 4);
        for (uint64_t i = 0; i < count; i++)
            data[i] = (float)i * 0.5f - 7.0f;
        a.data = count ? data : NULL;
        char key[16];
        snprintf(key, sizeof key, "a%d", k);
        CHECK_OK(s, vls_depot_put_str(d, key, &a, 0));

        /* the documented layout, byte by byte */
        void *raw;
        size_t rlen;
        CHECK_OK(s, vls_get_alloc(s, key, strlen(key), &raw, &rlen));
        const unsigned char *r = raw;
        size_t head = 8 + 8 * (size_t)a.ndim;
        CHECK(rlen == head + 4 * count);
        CHECK(memcmp(r, "F32\x01", 4) == 0);
        uint32_t nd;
        memcpy(&nd, r + 4, 4);
        CHECK(nd == a.ndim);
        for (uint32_t i = 0; i < a.ndim; i++) {
            uint64_t dim;
            memcpy(&dim, r + 8 + 8 * i, 8);
            CHECK(dim == a.dims[i]);
        }
        CHECK(count == 0 || memcmp(r + head, data, 4 * count) == 0);
        vls_free(raw);

        vls_f32array v;
        CHECK_OK(s, vls_depot_view_str(d, key, &v));
        CHECK(v.ndim == a.ndim && v.count == count);
        CHECK(memcmp(v.dims, a.dims, 8 * a.ndim) == 0);
        CHECK(count ? (v.data && ((uintptr_t)v.data & 3) == 0 &&
                       memcmp(v.data, data, 4 * count) == 0)
                    : v.data == NULL);
        void *rec;
        CHECK_OK(s, vls_depot_get_alloc(d, key, strlen(key), &rec, &rlen, &v));
        CHECK(count == 0 || inside(v.data, rec, rlen));
        vls_free(rec);
        free(data);
    }
    /* pack refuses what it cannot store */
    vls_f32array a;
    memset(&a, 0, sizeof a);
    a.ndim = 9;
    CHECK_RC(s, vls_depot_put_str(d, "x", &a, 0), VLS_E_INVAL);
    a.ndim = 1;
    a.dims[0] = 4; /* data NULL */
    CHECK_RC(s, vls_depot_put_str(d, "x", &a, 0), VLS_E_INVAL);
    a.ndim = 2;
    a.dims[0] = a.dims[1] = UINT64_C(1) << 40;
    CHECK_RC(s, vls_depot_put_str(d, "x", &a, 0), VLS_E_TOOBIG);
    vls_depot_close(d);
    vls_close(s);
}

/*-*************************************
 *  bytes codec
 ***************************************/
static void test_bytes_roundtrip(void)
{
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_bytes, &d));
    unsigned char data[5000];
    test_fill(data, sizeof data, 1, 0);
    size_t lens[] = {0, 1, 7, 4095, 4096, 4097, 5000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char key[16];
        snprintf(key, sizeof key, "b%zu", k);
        vls_bytes b = {lens[k] ? data : NULL, lens[k]};
        CHECK_OK(s, vls_depot_put_str(d, key, &b, 0));
        vls_bytes v;
        CHECK_OK(s, vls_depot_view_str(d, key, &v));
        CHECK(v.data != NULL && v.len == lens[k] && memcmp(v.data, data, lens[k]) == 0);
    }
    vls_bytes b = {NULL, 3};
    CHECK_RC(s, vls_depot_put_str(d, "x", &b, 0), VLS_E_INVAL);
    vls_depot_close(d);
    vls_close(s);
}

/*-*************************************
 *  A user codec: {int64 step, double energy, n floats}; with and without a size function
 ***************************************/
typedef struct {
    int64_t step;
    double energy;
    uint32_t n;
    const float *v;
} sample;

static int sample_size(void *ctx, const void *obj, size_t *len)
{
    (void)ctx;
    *len = 24 + 4 * (size_t)((const sample *)obj)->n;
    return VLS_OK;
}

static int sample_pack(void *ctx, const void *obj, void *dst, size_t cap, size_t *len)
{
    const sample *x = obj;
    sample_size(ctx, obj, len);
    if (cap < *len)
        return VLS_E_TOOSMALL;
    unsigned char *p = dst;
    memcpy(p, &x->step, 8);
    memcpy(p + 8, &x->energy, 8);
    memcpy(p + 16, &x->n, 4);
    memset(p + 20, 0, 4);
    memcpy(p + 24, x->v, 4 * (size_t)x->n);
    return VLS_OK;
}

static int sample_unpack(void *ctx, const void *rec, size_t len, void *obj, char *msg,
                         size_t cap)
{
    (void)ctx;
    sample *x = obj;
    const unsigned char *p = rec;
    if (len < 24)
        return snprintf(msg, cap, "%zu bytes, header needs 24", len), VLS_E_TRUNCATED;
    memcpy(&x->step, p, 8);
    memcpy(&x->energy, p + 8, 8);
    memcpy(&x->n, p + 16, 4);
    if (len != 24 + 4 * (size_t)x->n)
        return snprintf(msg, cap, "n = %u needs %zu bytes", (unsigned)x->n,
                        24 + 4 * (size_t)x->n),
               VLS_E_CORRUPT;
    x->v = (const float *)(const void *)(p + 24);
    return VLS_OK;
}

static const vls_depot_codec sample_codec = {.name = "sample",
                                             .obj_size = sizeof(sample),
                                             .align = 8,
                                             .size = sample_size,
                                             .pack = sample_pack,
                                             .unpack = sample_unpack};

static void test_custom_codec_works(int with_size)
{
    vls_depot_codec c = sample_codec;
    if (!with_size)
        c.size = NULL; /* the depot grows its buffer on VLS_E_TOOSMALL */
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &c, &d));
    float vals[3000];
    for (int i = 0; i < 3000; i++)
        vals[i] = (float)i;
    for (uint32_t k = 0; k < 20; k++) {
        sample x = {(int64_t)k * 1000, -3.25 * k, k * 150 + k % 2, vals};
        CHECK_OK(s, vls_depot_put(d, &k, sizeof k, &x, 0));
    }
    for (uint32_t k = 0; k < 20; k++) {
        sample y;
        CHECK_OK(s, vls_depot_view(d, &k, sizeof k, &y));
        CHECK(y.step == (int64_t)k * 1000 && y.energy == -3.25 * k && y.n == k * 150 + k % 2);
        CHECK(memcmp(y.v, vals, 4 * (size_t)y.n) == 0 && ((uintptr_t)y.v & 7) == 0);
    }
    /* get_many: records of 24 + 4n bytes, n odd for half of them, so the depot must move
     * records to keep each at a multiple of 8 */
    {
        uint32_t kk[20];
        vls_key keys[20];
        sample got[20];
        int st[20], good = 0;
        for (uint32_t i = 0; i < 20; i++) {
            kk[i] = (i * 7 + 3) % 20;
            keys[i].data = &kk[i];
            keys[i].len = sizeof kk[i];
        }
        CHECK_OK(s, vls_depot_get_many(d, 20, keys, got, st));
        for (uint32_t i = 0; i < 20; i++)
            good += st[i] == 0 && got[i].step == (int64_t)kk[i] * 1000 &&
                    got[i].n == kk[i] * 150 + kk[i] % 2 && ((uintptr_t)got[i].v & 7) == 0 &&
                    memcmp(got[i].v, vals, 4 * (size_t)got[i].n) == 0;
        CHECK(good == 20);
    }
    /* a record that is not a sample */
    CHECK_OK(s, vls_put_str(s, "junk", "0123456789abcdef0123456789", 26, 0));
    sample y;
    CHECK_RC(s, vls_depot_view_str(d, "junk", &y), VLS_E_CORRUPT);
    CHECK(strstr(vls_depot_errmsg(d), "depot 'sample' view 'junk': record of 26 bytes is not a "
                                      "valid sample: n = ") != NULL);
    CHECK(y.v == NULL && y.n == 0); /* zeroed */
    vls_depot_close(d);
    vls_close(s);
}

/*-*************************************
 *  get_many through the depot
 ***************************************/
static void test_get_many_aligned_views(void)
{
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 64 * 1024; /* many chunks */
    o.block_size = 16 * 1024;
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(NULL, 0, &o, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_f32array, &d));
    enum { N = 200 };
    float *vals = malloc(4 * 4000);
    for (int i = 0; i < 4000; i++)
        vals[i] = (float)i * 0.25f;
    for (int i = 0; i < N; i++) {
        /* ndim 1, odd length: records of 16 + 4k bytes, not all multiples of 8 */
        vls_f32array a;
        memset(&a, 0, sizeof a);
        a.ndim = 1;
        a.dims[0] = (uint64_t)(i * 13) % 4000 + 1;
        a.data = vals + i % 7;
        unsigned char k[8];
        vls_key_u64((uint64_t)i, k);
        CHECK_OK(s, vls_depot_put(d, k, 8, &a, 0));
    }
    CHECK_OK(s, vls_commit(s));
    unsigned char kb[N][8];
    vls_key keys[N];
    for (int i = 0; i < N; i++) {
        int r = (i * 71 + 3) % N; /* shuffled order */
        vls_key_u64((uint64_t)r, kb[i]);
        keys[i].data = kb[i];
        keys[i].len = 8;
    }
    vls_f32array *objs = malloc(N * sizeof *objs);
    int status[N];
    for (int round = 0; round < 2; round++) { /* the second reuses the buffers */
        CHECK_OK(s, vls_depot_get_many(d, N, keys, objs, status));
        int good = 0;
        for (int i = 0; i < N; i++) {
            int r = (i * 71 + 3) % N;
            uint64_t want = (uint64_t)(r * 13) % 4000 + 1;
            good += status[i] == 0 && objs[i].ndim == 1 && objs[i].count == want &&
                    ((uintptr_t)objs[i].data & 3) == 0 &&
                    memcmp(objs[i].data, vals + r % 7, 4 * want) == 0;
        }
        CHECK(good == N);
    }
    /* a missing key: the others are served, its status says why */
    keys[10].data = "nope";
    keys[10].len = 4;
    CHECK_RC(s, vls_depot_get_many(d, N, keys, objs, status), VLS_E_NOTFOUND);
    CHECK(status[10] == VLS_E_NOTFOUND && objs[10].data == NULL && status[11] == 0 &&
          objs[11].count > 0);
    CHECK(strstr(vls_depot_errmsg(d), "'nope'") != NULL);
    /* a record of another codec in the batch */
    CHECK_OK(s, vls_put_str(s, "raw", "hello, world", 12, 0));
    keys[10].data = "raw";
    keys[10].len = 3;
    CHECK_RC(s, vls_depot_get_many(d, N, keys, objs, status), VLS_E_CORRUPT);
    CHECK(status[10] == VLS_E_CORRUPT && status[9] == 0 && status[11] == 0);
    CHECK(strstr(vls_depot_errmsg(d), "bad magic") != NULL);
    CHECK_OK(s, vls_depot_get_many(d, 0, NULL, NULL, NULL));
    free(objs);
    free(vals);
    vls_depot_close(d);
    vls_close(s);
}

/*-*************************************
 *  Bad records: wrong codec, truncated, trailing bytes
 ***************************************/
static void test_bad_records_get_clear_errors(void)
{
    vls_store *s;
    vls_depot *df, *da, *db;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_frame, &df));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_f32array, &da));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_bytes, &db));
    frame_data fd;
    make_frame(&fd, 50, 3, 1);
    CHECK_OK(s, vls_depot_put_str(df, "frame", &fd.f, 0));
    vls_f32array a;
    memset(&a, 0, sizeof a);
    a.ndim = 2;
    a.dims[0] = 50;
    a.dims[1] = 3;
    a.data = fd.pos;
    CHECK_OK(s, vls_depot_put_str(da, "array", &a, 0));

    vls_frame v;
    vls_f32array av;
    /* wrong codec, both ways */
    int rc = vls_depot_view_str(df, "array", &v);
    CHECK(rc == VLS_E_CORRUPT || rc == VLS_E_TRUNCATED);
    CHECK(strstr(vls_depot_errmsg(df), "is not a valid frame") != NULL);
    CHECK(v.positions == NULL && v.nsites == 0);
    CHECK_RC(s, vls_depot_view_str(da, "frame", &av), VLS_E_CORRUPT);
    CHECK(strstr(vls_depot_errmsg(da), "depot 'f32array' view 'frame'") != NULL &&
          strstr(vls_depot_errmsg(da), "not an f32array record") != NULL);

    /* every truncation of either record, and trailing bytes */
    vls_bytes fb, ab;
    void *frec, *arec;
    size_t flen, alen;
    CHECK_OK(s, vls_get_alloc(s, "frame", 5, &frec, &flen));
    CHECK_OK(s, vls_get_alloc(s, "array", 5, &arec, &alen));
    int frame_bad = 0, array_bad = 0;
    for (size_t cut = 0; cut < flen; cut += 1 + cut / 64) {
        fb.data = frec;
        fb.len = cut;
        CHECK_OK(s, vls_depot_put_str(db, "cut", &fb, 0));
        rc = vls_depot_view_str(df, "cut", &v);
        frame_bad += rc == VLS_E_TRUNCATED || rc == VLS_E_CORRUPT;
    }
    for (size_t cut = 0; cut < alen; cut++) {
        ab.data = arec;
        ab.len = cut;
        CHECK_OK(s, vls_depot_put_str(db, "cut", &ab, 0));
        rc = vls_depot_view_str(da, "cut", &av);
        array_bad += rc == VLS_E_TRUNCATED;
    }
    CHECK(array_bad == (int)alen);
    int cuts = 0;
    for (size_t cut = 0; cut < flen; cut += 1 + cut / 64)
        cuts++;
    CHECK(frame_bad == cuts);
    CHECK(strstr(vls_depot_errmsg(da), "the shape needs 600") != NULL);
    unsigned char *longer = malloc(alen + 4);
    memcpy(longer, arec, alen);
    memset(longer + alen, 0, 4);
    ab.data = longer;
    ab.len = alen + 4;
    CHECK_OK(s, vls_depot_put_str(db, "long", &ab, 0));
    CHECK_RC(s, vls_depot_view_str(da, "long", &av), VLS_E_CORRUPT);
    /* a damaged header: ndim out of range, version */
    longer[4] = 9;
    CHECK_OK(s, vls_depot_put_str(db, "long", &ab, 0));
    CHECK_RC(s, vls_depot_view_str(da, "long", &av), VLS_E_CORRUPT);
    CHECK(strstr(vls_depot_errmsg(da), "ndim 9") != NULL);
    longer[4] = 2;
    longer[3] = 2;
    CHECK_OK(s, vls_depot_put_str(db, "long", &ab, 0));
    CHECK_RC(s, vls_depot_view_str(da, "long", &av), VLS_E_CORRUPT);
    CHECK(strstr(vls_depot_errmsg(da), "layout version 2") != NULL);
    /* a product of dims that overflows */
    longer[3] = 1;
    uint64_t huge = UINT64_C(1) << 40;
    memcpy(longer + 8, &huge, 8);
    memcpy(longer + 16, &huge, 8);
    CHECK_OK(s, vls_depot_put_str(db, "long", &ab, 0));
    CHECK_RC(s, vls_depot_view_str(da, "long", &av), VLS_E_CORRUPT);
    CHECK(strstr(vls_depot_errmsg(da), "overflows") != NULL);
    /* vls_depot_unpack on bytes from elsewhere */
    CHECK_OK(s, vls_depot_unpack(df, frec, flen, &v));
    CHECK(frame_equal(&v, &fd) && inside(v.positions, frec, flen));
    CHECK_RC(s, vls_depot_unpack(df, frec, flen - 4, &v), VLS_E_TRUNCATED);
    CHECK(strstr(vls_depot_errmsg(df), "depot 'frame' unpack: record of") != NULL);
    /* not found is the store's error */
    CHECK_RC(s, vls_depot_view_str(df, "absent", &v), VLS_E_NOTFOUND);
    free(longer);
    vls_free(frec);
    vls_free(arec);
    free_frame(&fd);
    vls_depot_close(df);
    vls_depot_close(da);
    vls_depot_close(db);
    vls_close(s);
}

/*-*************************************
 *  Iteration, persistence, argument checks
 ***************************************/
static void test_next_and_reopen(void)
{
    const char *path = test_path("depot");
    vls_store *s;
    vls_depot *d;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_frame, &d));
    frame_data fd[10];
    for (int i = 0; i < 10; i++) {
        make_frame(&fd[i], 100 + i, (uint64_t)i + 100, 1);
        CHECK_OK(s, vls_depot_put_str(d, fd[i].name, &fd[i].f, 0));
    }
    CHECK_RC(s, vls_depot_put_str(d, fd[0].name, &fd[0].f, VLS_NOREPLACE), VLS_E_EXISTS);
    vls_depot_close(d);
    CHECK_OK(s, vls_close(s));

    CHECK_OK(NULL, vls_open(path, VLS_RDONLY, NULL, &s));
    CHECK_OK(s, vls_depot_open(s, &vls_codec_frame, &d));
    uint64_t pos = 0;
    const void *key;
    size_t klen;
    vls_frame v;
    int seen = 0, rc;
    while ((rc = vls_depot_next(d, &pos, &key, &klen, &v)) == 1) {
        int i = -1;
        for (int k = 0; k < 10; k++)
            if (klen == strlen(fd[k].name) && !memcmp(key, fd[k].name, klen))
                i = k;
        seen += i >= 0 && frame_equal(&v, &fd[i]);
    }
    CHECK(rc == 0 && seen == 10);
    CHECK_RC(s, vls_depot_put_str(d, "x", &fd[0].f, 0), VLS_E_READONLY);
    vls_depot_close(d);
    vls_close(s);
    for (int i = 0; i < 10; i++)
        free_frame(&fd[i]);
}

static void test_open_checks_the_codec(void)
{
    vls_store *s;
    vls_depot *d = (vls_depot *)1;
    CHECK_OK(NULL, vls_open(NULL, 0, NULL, &s));
    vls_depot_codec c = sample_codec;
    c.align = 3;
    CHECK_RC(s, vls_depot_open(s, &c, &d), VLS_E_INVAL);
    CHECK(d == NULL);
    c.align = 128;
    CHECK_RC(s, vls_depot_open(s, &c, &d), VLS_E_INVAL);
    c = sample_codec;
    c.unpack = NULL;
    CHECK_RC(s, vls_depot_open(s, &c, &d), VLS_E_INVAL);
    c = sample_codec;
    c.obj_size = 0;
    CHECK_RC(s, vls_depot_open(s, &c, &d), VLS_E_INVAL);
    CHECK_RC(s, vls_depot_open(NULL, &vls_codec_frame, &d), VLS_E_INVAL);
    CHECK_RC(s, vls_depot_open(s, NULL, &d), VLS_E_INVAL);
    c = sample_codec;
    c.align = 64; /* the largest: buffers follow it */
    CHECK_OK(s, vls_depot_open(s, &c, &d));
    float v[5] = {1, 2, 3, 4, 5};
    sample x = {1, 2.0, 5, v}, y;
    void *rec;
    CHECK_OK(s, vls_depot_put_str(d, "x", &x, 0));
    CHECK_OK(s, vls_depot_get_alloc(d, "x", 1, &rec, NULL, &y));
    CHECK(((uintptr_t)rec & 63) == 0 && y.n == 5 && y.v[4] == 5.0f);
    vls_free(rec);
    CHECK_RC(s, vls_depot_get_alloc(d, "none", 4, &rec, NULL, &y), VLS_E_NOTFOUND);
    CHECK(rec == NULL);
    CHECK(vls_depot_store(d) == s);
    vls_depot_close(d);
    vls_depot_close(NULL);
    vls_close(s);
}

int main(void)
{
    test_frame_codec_roundtrips();
    test_frame_codec_refuses_bad_frames();
    test_f32array_roundtrips_and_layout();
    test_bytes_roundtrip();
    test_custom_codec_works(1);
    test_custom_codec_works(0);
    test_get_many_aligned_views();
    test_bad_records_get_clear_errors();
    test_next_and_reopen();
    test_open_checks_the_codec();
    return test_done("test_depot");
}
