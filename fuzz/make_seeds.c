/*
 * make_seeds.c — writes the seed inputs of the fuzz corpora, so they can be remade:
 *   make_seeds DIR      writes DIR/open/seed-*.vls, DIR/frame/seed-*.bin, DIR/xyz/seed-*.xyz
 * open:  small valid stores covering the format's paths — empty, one raw chunk, several
 *        commits with deletes and replacements, every codec, every placement, records that
 *        span chunks, zero-length records, a compressed index segment, a chain with a second
 *        full segment, a torn tail;
 * frame: frames with and without each optional field;
 * xyz:   plain XYZ and extended XYZ (Lattice, Properties, energy, pbc), several frames.
 * The committed corpora (fuzz/corpus/<target>/) are these seeds plus what fuzzing added after
 * minimisation (libFuzzer -merge=1); tests/golden/ files were copied in by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vlstore.h"
#include "vlstore_frame.h"

static const char *dir;

static void die(const char *what, int rc)
{
    fprintf(stderr, "make_seeds: %s: %s (%s)\n", what, vls_strerror(rc), vls_errmsg(NULL));
    exit(1);
}

static void fill(unsigned char *p, size_t n, unsigned seed, int smooth)
{
    unsigned x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = smooth ? (unsigned char)(i / 7 + seed) : (unsigned char)(x >> 16);
    }
}

static vls_store *create(const char *name, int codec, int placement, int shuffle,
                         uint32_t block)
{
    char path[1024];
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 4096;
    o.block_size = block;
    o.codec = codec;
    o.placement = placement;
    o.shuffle = shuffle;
    snprintf(path, sizeof path, "%s/open/%s", dir, name);
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE | VLS_TRUNCATE | VLS_NOSYNC, &o, &s);
    if (rc != VLS_OK)
        die(path, rc);
    return s;
}

static void put(vls_store *s, const char *key, size_t len, unsigned seed, int smooth)
{
    static unsigned char buf[20000];
    fill(buf, len, seed, smooth);
    int rc = vls_put_str(s, key, buf, len, 0);
    if (rc != VLS_OK)
        die(key, rc);
}

static void commit(vls_store *s)
{
    int rc = vls_commit(s);
    if (rc != VLS_OK)
        die("commit", rc);
}

static void stores(void)
{
    vls_store *s;
    s = create("seed-empty.vls", VLS_CODEC_LZ4, VLS_PLACE_NOCROSS, VLS_SHUFFLE_BYTE, 1024);
    vls_close(s);

    s = create("seed-one-raw.vls", VLS_CODEC_ZSTD, VLS_PLACE_NOCROSS, VLS_SHUFFLE_BYTE, 1024);
    put(s, "hello", 5, 1, 0);
    vls_close(s);

    /* three commits: puts, a delete, a replacement, a zero-length record, a record spanning
     * three chunks */
    static const int codecs[] = {VLS_CODEC_ZSTD, VLS_CODEC_LZ4, VLS_CODEC_BLOSCLZ,
                                 VLS_CODEC_ZLIB, VLS_CODEC_LZ4HC, VLS_CODEC_NONE};
    static const char *const names[] = {"zstd", "lz4", "blosclz", "zlib", "lz4hc", "none"};
    for (int c = 0; c < 6; c++) {
        char name[64];
        snprintf(name, sizeof name, "seed-commits-%s.vls", names[c]);
        s = create(name, codecs[c], c % 3, c == 2 ? VLS_SHUFFLE_BIT : VLS_SHUFFLE_BYTE,
                   c == 1 ? 0 : 1024);
        put(s, "a", 1500, 1, 1);
        put(s, "b", 0, 2, 0);
        put(s, "c", 2500, 3, 0);
        commit(s);
        put(s, "d", 9000, 4, 1);
        put(s, "a", 700, 5, 1);
        vls_delete_str(s, "c");
        commit(s);
        vls_delete_str(s, "b");
        commit(s);
        put(s, "e", 300, 6, 0);
        vls_close(s);
    }

    /* an index segment big enough to be compressed */
    s = create("seed-compressed-index.vls", VLS_CODEC_LZ4, VLS_PLACE_CONTIGUOUS,
               VLS_SHUFFLE_BYTE, 1024);
    for (int i = 0; i < 300; i++) {
        char key[32];
        snprintf(key, sizeof key, "frame/%06d", i);
        put(s, key, 10, (unsigned)i, 1);
    }
    vls_close(s);

    /* enough delta segments for a second full one */
    s = create("seed-two-full.vls", VLS_CODEC_LZ4, VLS_PLACE_NOCROSS, VLS_SHUFFLE_BYTE, 1024);
    for (int c = 0; c < 30; c++) {
        for (int i = 0; i < 40; i++) {
            char key[80];
            snprintf(key, sizeof key, "c%02d/a-rather-long-key-to-grow-the-index-quickly-%02d",
                     c, i);
            put(s, key, 4, (unsigned)(c * 40 + i), 0);
        }
        commit(s);
    }
    vls_close(s);

    /* a torn tail: the last commit cut in the middle of its index segment */
    s = create("seed-torn-tail.vls", VLS_CODEC_ZSTD, VLS_PLACE_NOCROSS, VLS_SHUFFLE_BYTE, 1024);
    put(s, "kept", 1000, 7, 1);
    commit(s);
    put(s, "torn", 1000, 8, 1);
    vls_close(s);
    char path[1024];
    snprintf(path, sizeof path, "%s/open/seed-torn-tail.vls", dir);
    struct stat st;
    if (stat(path, &st) != 0 || truncate(path, st.st_size - 70) != 0)
        die("truncate", VLS_E_IO);
}

static void write_bytes(const char *sub, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die(path, VLS_E_IO);
}

static void frames(void)
{
    int32_t types[5] = {1, 8, 1, 6, 26};
    float masses[5] = {1.008f, 15.999f, 1.008f, 12.011f, 55.845f};
    float pos[15], frc[15], cell[9] = {10, 0, 0, 0, 10, 0, 0, 0, 10}, stress[9] = {1, 2, 3, 4, 5,
                                                                                 6, 7, 8, 9};
    float charges[5] = {0.4f, -0.8f, 0.4f, 0, 0};
    uint8_t pbc[3] = {1, 1, 0};
    for (int i = 0; i < 15; i++) {
        pos[i] = (float)i * 0.5f;
        frc[i] = (float)(i % 4) - 1.5f;
    }
    for (int v = 0; v < 6; v++) {
        vls_frame f;
        vls_frame_init(&f);
        f.name = v == 0 ? "" : "water-and-iron";
        f.name_len = strlen(f.name);
        f.nsites = v == 0 ? 0 : v == 1 ? 1 : 5;
        f.types = types;
        f.masses = masses;
        f.positions = pos;
        if (v >= 2)
            f.forces = frc;
        if (v >= 3) {
            f.has_energy = 1;
            f.energy = -123.456;
        }
        if (v >= 4) {
            f.cell = cell;
            f.pbc = pbc;
        }
        if (v >= 5) {
            f.charges = charges;
            f.stress = stress;
        }
        void *buf;
        size_t len;
        int rc = vls_frame_encode_alloc(&f, &buf, &len);
        if (rc != VLS_OK)
            die("frame", rc);
        char name[32];
        snprintf(name, sizeof name, "seed-frame-%d.bin", v);
        write_bytes("frame", name, buf, len);
        vls_free(buf);
    }
}

static void xyz(void)
{
    static const char *const files[][2] = {
        {"seed-plain.xyz", "3\nwater\nO 0.0 0.0 0.0\nH 0.757 0.586 0.0\nH -0.757 0.586 0.0\n"},
        {"seed-two-frames.xyz", "2\nfirst\nC 0 0 0\nO 1.128 0 0\n2\nsecond\nC 0 0 0.1\n"
                                "O 1.13 0 0.1\n"},
        {"seed-extxyz.xyz",
         "2\nLattice=\"5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0\" Properties=species:S:1:pos:R:3:"
         "forces:R:3 energy=-10.5 pbc=\"T T F\"\nNa 0.0 0.0 0.0 0.1 0.0 0.0\nCl 2.5 2.5 2.5 "
         "-0.1 0.0 0.0\n"},
        {"seed-extxyz-keys.xyz",
         "1\nProperties=species:S:1:pos:R:3:forces:R:3 energy=1.25 pbc=\"F F F\"\nAr 1 2 3 0 0 0\n"},
        {"seed-numbers.xyz", "2\n\n8 0 0 0\n1 0 0 0.96\n"},
        {"seed-crlf.xyz", "1\r\ncomment\r\nHe 0.0 0.0 0.0\r\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        write_bytes("xyz", files[i][0], files[i][1], strlen(files[i][1]));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    static const char *const subs[] = {"", "/open", "/frame", "/xyz"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s", dir, subs[i]);
        mkdir(path, 0755);
    }
    stores();
    frames();
    xyz();
    return 0;
}
