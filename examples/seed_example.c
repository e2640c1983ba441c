/*
 * seed_example.c — the example of the Python vlstore README, in C.
 *
 * Python (the seed)                                  C (here)
 *   SChunkStore(chunksize=2**22, location=FILENAME)    vls_open(FILENAME, VLS_CREATE, &opts, &s)
 *   Depot(codec=BackedAtomicDataCodec, backing=...)    vls_depot_open(s, &vls_codec_frame, &d)
 *   BackedAtomicData.from_values(name=..., ...)        a vls_frame pointing at your arrays
 *   d.put(name, new)                                   vls_depot_put_str(d, name, &frame, 0)
 *   leaving the `with` block (flush)                   vls_commit(s); vls_close(s)
 *   retrieved = d.get("frame_0")                       vls_depot_view_str(d, "frame_0", &view)
 *
 * Build (installed vlstore):  cc seed_example.c $(pkg-config --cflags --libs vlstore)
 * Run:                        ./seed_example [FILENAME]      (default: mol.store)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vlstore_depot.h>

#define N_FRAMES 300 /* number of time snapshots */
#define NSITES 1200  /* atoms in each snapshot */

static uint64_t rng = 12345; /* a fixed seed: the same data every run */
static float rand01(void)   /* uniform in [0, 1), like numpy's rand() */
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)(rng >> 40) * (1.0f / 16777216.0f);
}

static int die(vls_store *s, const char *what, int rc)
{
    fprintf(stderr, "seed_example: %s: %s: %s\n", what, vls_strerror(rc), vls_errmsg(s));
    return 1;
}

int main(int argc, char **argv)
{
    const char *filename = argc > 1 ? argv[1] : "mol.store";

    /* TYPES = arange(NSITES); MASSES = rand(NSITES); POSITIONS, FORCES = rand(N_FRAMES, NSITES, 3) */
    static int32_t types[NSITES];
    static float masses[NSITES];
    float *positions = malloc(sizeof(float) * N_FRAMES * NSITES * 3);
    float *forces = malloc(sizeof(float) * N_FRAMES * NSITES * 3);
    if (!positions || !forces)
        return die(NULL, "malloc", VLS_E_NOMEM);
    for (int i = 0; i < NSITES; i++) {
        types[i] = i;
        masses[i] = rand01();
    }
    for (size_t k = 0; k < (size_t)N_FRAMES * NSITES * 3; k++)
        positions[k] = rand01();
    for (size_t k = 0; k < (size_t)N_FRAMES * NSITES * 3; k++)
        forces[k] = rand01();

    /* Store it: a store on disk (NULL would make an in-memory one), and a depot that turns
     * frames into FlatBuffers records and back. */
    vls_options opts;
    vls_options_init(&opts);
    opts.chunk_size = 1u << 22;
    vls_store *s;
    vls_depot *d;
    int rc = vls_open(filename, VLS_CREATE | VLS_TRUNCATE, &opts, &s);
    if (rc != VLS_OK)
        return die(NULL, "open", rc);
    if ((rc = vls_depot_open(s, &vls_codec_frame, &d)) != VLS_OK)
        return die(s, "depot", rc);
    for (int ident = 0; ident < N_FRAMES; ident++) {
        char name[32];
        snprintf(name, sizeof name, "frame_%d", ident);
        vls_frame f; /* points at our arrays: nothing is copied until the put */
        vls_frame_init(&f);
        f.name = name;
        f.name_len = strlen(name);
        f.nsites = NSITES;
        f.types = types;
        f.masses = masses;
        f.positions = positions + (size_t)ident * NSITES * 3;
        f.forces = forces + (size_t)ident * NSITES * 3;
        if ((rc = vls_depot_put_str(d, name, &f, 0)) != VLS_OK)
            return die(s, "put", rc);
    }
    vls_depot_close(d);
    if ((rc = vls_close(s)) != VLS_OK) /* commits: our data is on disk */
        return die(NULL, "close", rc);
    printf("wrote %d frames of %d atoms to %s\n", N_FRAMES, NSITES, filename);

    /* Load it again: parameters come from the file. */
    if ((rc = vls_open(filename, VLS_RDONLY, NULL, &s)) != VLS_OK)
        return die(NULL, "reopen", rc);
    if ((rc = vls_depot_open(s, &vls_codec_frame, &d)) != VLS_OK)
        return die(s, "depot", rc);
    vls_frame retrieved; /* a verified view into the record: valid until the next read */
    if ((rc = vls_depot_view_str(d, "frame_0", &retrieved)) != VLS_OK)
        return die(s, "get frame_0", rc);
    int same = retrieved.nsites == NSITES &&
               memcmp(retrieved.types, types, sizeof types) == 0 &&
               memcmp(retrieved.masses, masses, sizeof masses) == 0 &&
               memcmp(retrieved.positions, positions, sizeof(float) * NSITES * 3) == 0 &&
               memcmp(retrieved.forces, forces, sizeof(float) * NSITES * 3) == 0;
    printf("frame_0: name \"%.*s\", %d sites, position of atom 0 (%g, %g, %g): %s\n",
           (int)retrieved.name_len, retrieved.name, (int)retrieved.nsites,
           (double)retrieved.positions[0], (double)retrieved.positions[1],
           (double)retrieved.positions[2], same ? "same as written" : "DIFFERENT");
    vls_depot_close(d);
    vls_close(s);
    free(positions);
    free(forces);
    return same ? 0 : 1;
}
