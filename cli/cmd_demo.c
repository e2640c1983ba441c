/* cmd_demo.c — `vlstore demo [FILE]`: the seed README's example, in C. 300 frames of 1200 atoms
 * (types 0..1199, random masses, random positions and forces, a fixed seed) are written as
 * frame records "frame_<i>" through a depot with the frame codec, committed durably, the store
 * is closed and reopened, and frames are read back through verified zero-copy views and
 * compared value by value with what was written. Prints what it did and how fast. The main
 * job of `make demo`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vlstore_depot.h"

enum { N_FRAMES = 300, NSITES = 1200, BATCH = 64 };
#define DEMO_SEED 20240601u

/* splitmix64, and a float in [0, 1) from its top 24 bits (numpy's rand() is uniform too) */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float next_f32(uint64_t *s)
{
    return (float)(next_u64(s) >> 40) * (1.0f / 16777216.0f);
}

/* The trajectory, as the seed's numpy arrays: TYPES, MASSES, POSITIONS[f], FORCES[f]. */
typedef struct {
    int32_t types[NSITES];
    float masses[NSITES];
    float *positions; /* N_FRAMES * NSITES * 3 */
    float *forces;
} trajectory;

static void frame_of(const trajectory *t, int i, char name[32], vls_frame *f)
{
    snprintf(name, 32, "frame_%d", i);
    vls_frame_init(f);
    f->name = name;
    f->name_len = strlen(name);
    f->nsites = NSITES;
    f->types = t->types;
    f->masses = t->masses;
    f->positions = t->positions + (size_t)i * NSITES * 3;
    f->forces = t->forces + (size_t)i * NSITES * 3;
}

/* Number of values of view v that differ from frame i as written (0 = identical). Compares
 * value by value, so it also proves the view's pointers and counts. */
static long mismatches(const trajectory *t, int i, const vls_frame *v)
{
    char name[32];
    vls_frame w;
    frame_of(t, i, name, &w);
    if (v->nsites != NSITES || v->ncodim != 3 || !v->aligned || v->name_len != w.name_len ||
        memcmp(v->name, name, w.name_len) != 0 || !v->types || !v->masses || !v->positions ||
        !v->forces)
        return -1;
    long bad = 0;
    for (int a = 0; a < NSITES; a++) {
        bad += v->types[a] != w.types[a];
        bad += v->masses[a] != w.masses[a];
        for (int d = 0; d < 3; d++) {
            bad += v->positions[3 * a + d] != w.positions[3 * a + d];
            bad += v->forces[3 * a + d] != w.forces[3 * a + d];
        }
    }
    return bad;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int demo_fail(vls_store *s, int rc)
{
    cli_fail("demo", s, rc);
    return EXIT_FAIL;
}

static int write_frames(const char *path, const trajectory *t, double *t_put, double *t_commit,
                        uint64_t *bytes)
{
    vls_store *s;
    vls_depot *d;
    int rc = vls_open(path, VLS_CREATE | VLS_TRUNCATE, NULL, &s);
    if (rc != VLS_OK)
        return demo_fail(NULL, rc);
    if ((rc = vls_depot_open(s, &vls_codec_frame, &d)) != VLS_OK) {
        demo_fail(s, rc);
        vls_close(s);
        return EXIT_FAIL;
    }
    *bytes = 0;
    double t0 = cli_now();
    for (int i = 0; i < N_FRAMES && rc == VLS_OK; i++) {
        char name[32];
        vls_frame f;
        frame_of(t, i, name, &f);
        rc = vls_depot_put_str(d, name, &f, 0);
        *bytes += vls_frame_encoded_size(&f);
    }
    double t1 = cli_now();
    if (rc == VLS_OK)
        rc = vls_commit(s); /* durable: survives a kill or a power loss from here */
    *t_put = t1 - t0;
    *t_commit = cli_now() - t1;
    if (rc != VLS_OK)
        demo_fail(s, rc);
    vls_depot_close(d);
    int crc = vls_close(s);
    if (rc == VLS_OK && crc != VLS_OK)
        rc = demo_fail(NULL, crc);
    return rc == VLS_OK ? EXIT_OK : EXIT_FAIL;
}

static int read_back(const char *path, const trajectory *t, uint64_t bytes)
{
    vls_store *s;
    vls_depot *d;
    int rc = vls_open(path, VLS_RDONLY, NULL, &s);
    if (rc != VLS_OK)
        return demo_fail(NULL, rc);
    if ((rc = vls_depot_open(s, &vls_codec_frame, &d)) != VLS_OK) {
        demo_fail(s, rc);
        vls_close(s);
        return EXIT_FAIL;
    }
    vls_stat st = {.struct_size = sizeof st};
    vls_stat_get(s, &st);
    printf("file: %.2f MB for %.2f MB of frames: compression ratio %.3f (%s level %d, %s "
           "shuffle, %u KiB chunks), %llu chunks\n",
           st.file_bytes / 1e6, st.logical_bytes / 1e6,
           (double)st.logical_bytes / (double)st.file_bytes, vls_compressor_name(st.options.codec),
           st.options.level,
           st.options.shuffle == VLS_SHUFFLE_BYTE  ? "byte"
           : st.options.shuffle == VLS_SHUFFLE_BIT ? "bit"
                                                   : "no",
           st.options.chunk_size / 1024, (unsigned long long)st.chunks);
    if (st.records != N_FRAMES)
        fprintf(stderr, "vlstore demo: the reopened store has %llu records, expected %d\n",
                (unsigned long long)st.records, N_FRAMES);
    long bad = st.records == N_FRAMES ? 0 : 1;

    /* frame 0 on the freshly opened store: one read, one chunk decode, verify, view */
    vls_frame v;
    double t0 = cli_now();
    rc = vls_depot_view_str(d, "frame_0", &v);
    double t_first = cli_now() - t0;
    if (rc != VLS_OK) {
        demo_fail(s, rc);
        bad++;
    } else {
        long m = mismatches(t, 0, &v);
        printf("frame_0 read back through a verified zero-copy view in %.0f us (fresh handle): "
               "\"%.*s\", %d atoms: ",
               t_first * 1e6, (int)v.name_len, v.name, (int)v.nsites);
        if (m == 0)
            printf("all %d values (types, masses, positions, forces) match\n", NSITES * 8);
        else
            printf("MISMATCH (%ld values differ)\n", m);
        bad += m != 0;
    }

    /* a few others, then every frame one by one, timing each view */
    static const int some[] = {1, 42, 150, 299};
    int some_ok = 0;
    for (size_t k = 0; k < sizeof some / sizeof some[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "frame_%d", some[k]);
        rc = vls_depot_view_str(d, name, &v);
        some_ok += rc == VLS_OK && mismatches(t, some[k], &v) == 0;
    }
    printf("frames 1, 42, 150, 299: %s\n",
           some_ok == 4 ? "every value matches" : "MISMATCH");
    bad += some_ok != 4;

    double lat[N_FRAMES];
    long all_bad = 0;
    t0 = cli_now();
    for (int i = 0; i < N_FRAMES; i++) {
        char name[32];
        snprintf(name, sizeof name, "frame_%d", (i * 97) % N_FRAMES); /* scattered order */
        double a = cli_now();
        rc = vls_depot_view_str(d, name, &v);
        lat[i] = cli_now() - a;
        all_bad += rc != VLS_OK || mismatches(t, (i * 97) % N_FRAMES, &v) != 0;
    }
    double t_one = cli_now() - t0;
    qsort(lat, N_FRAMES, sizeof lat[0], cmp_double);
    printf("all %d frames one by one, in scattered order: view p50 %.0f us, p99 %.0f us "
           "(%.0f MB/s including the checks): %s\n",
           N_FRAMES, lat[N_FRAMES / 2] * 1e6, lat[N_FRAMES * 99 / 100] * 1e6,
           bytes / 1e6 / t_one, all_bad ? "MISMATCH" : "every value matches");
    bad += all_bad;

    /* the training-loop read: batches of 64 through vls_depot_get_many */
    static vls_frame views[BATCH];
    vls_key keys[BATCH];
    char names[BATCH][32];
    int status[BATCH];
    long batch_bad = 0;
    t0 = cli_now();
    for (int b = 0; b < N_FRAMES; b += BATCH) {
        int n = N_FRAMES - b < BATCH ? N_FRAMES - b : BATCH;
        for (int k = 0; k < n; k++) {
            snprintf(names[k], sizeof names[k], "frame_%d", (b + k) * 7 % N_FRAMES);
            keys[k].data = names[k];
            keys[k].len = strlen(names[k]);
        }
        rc = vls_depot_get_many(d, (size_t)n, keys, views, status);
        if (rc != VLS_OK) {
            demo_fail(s, rc);
            batch_bad++;
            break;
        }
        for (int k = 0; k < n; k++)
            batch_bad += mismatches(t, (b + k) * 7 % N_FRAMES, &views[k]) != 0;
    }
    double t_batch = cli_now() - t0;
    printf("all %d frames again in batches of %d with vls_depot_get_many: %.1f ms (%.0f MB/s): "
           "%s\n",
           N_FRAMES, BATCH, t_batch * 1e3, bytes / 1e6 / t_batch,
           batch_bad ? "MISMATCH" : "every value matches");
    bad += batch_bad;
    vls_depot_close(d);
    vls_close(s);
    return bad ? EXIT_FAIL : EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore demo [FILE]\n"
        "Runs the seed README's example: writes 300 MD frames of 1200 atoms (random masses,\n"
        "positions and forces, fixed seed) as FlatBuffers frame records through a depot to FILE\n"
        "(default: a temporary file, removed afterwards), commits, reopens, reads frames back\n"
        "through verified zero-copy views, compares every value and prints timings.\n";
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
        unlink(tmp); /* the store creates it under a temporary name and renames it in */
        path = tmp;
    }

    /* the seed's data: TYPES = arange(NSITES), MASSES = rand(NSITES),
     * POSITIONS, FORCES = rand(N_FRAMES, NSITES, 3) */
    trajectory *t = malloc(sizeof *t);
    size_t nval = (size_t)N_FRAMES * NSITES * 3;
    if (t) {
        t->positions = malloc(nval * sizeof(float));
        t->forces = malloc(nval * sizeof(float));
    }
    if (!t || !t->positions || !t->forces) {
        if (t) {
            free(t->positions);
            free(t->forces);
        }
        free(t);
        fprintf(stderr, "vlstore demo: out of memory\n");
        return EXIT_FAIL;
    }
    uint64_t seed = DEMO_SEED;
    for (int a = 0; a < NSITES; a++) {
        t->types[a] = a;
        t->masses[a] = next_f32(&seed);
    }
    for (size_t k = 0; k < nval; k++)
        t->positions[k] = next_f32(&seed);
    for (size_t k = 0; k < nval; k++)
        t->forces[k] = next_f32(&seed);
    printf("vlstore demo: the seed README's example in C: %d frames of %d atoms (types 0..%d, "
           "random masses,\n  positions and forces, seed %u), written as FlatBuffers frames "
           "through a depot (vls_codec_frame)\n",
           N_FRAMES, NSITES, NSITES - 1, DEMO_SEED);

    double t_put = 0, t_commit = 0;
    uint64_t bytes = 0;
    int rc = write_frames(path, t, &t_put, &t_commit, &bytes);
    if (rc == EXIT_OK) {
        printf("wrote %d frames (%.2f MB, %.1f KB per frame) to %s%s\n", N_FRAMES, bytes / 1e6,
               bytes / 1e3 / N_FRAMES, path,
               path == tmp ? " (temporary)" : "");
        printf("  put: %.1f ms, %.0f MB/s, %.0f frames/s (encode + store); commit with fsync: "
               "%.1f ms;\n  write including the commit: %.0f MB/s, %.0f frames/s\n",
               t_put * 1e3, bytes / 1e6 / t_put, N_FRAMES / t_put, t_commit * 1e3,
               bytes / 1e6 / (t_put + t_commit), N_FRAMES / (t_put + t_commit));
        printf("closed the store; reopened it read-only\n");
        rc = read_back(path, t, bytes);
    }
    if (path == tmp)
        unlink(tmp);
    free(t->positions);
    free(t->forces);
    free(t);
    printf("%s\n", rc == EXIT_OK ? "demo OK" : "demo FAILED");
    return rc;
}
