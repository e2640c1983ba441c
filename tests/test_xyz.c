/*
 * test_xyz.c — the XYZ / extended-XYZ reader (vls_xyz_*) and the element table:
 *   - plain and extended XYZ written here parse to the expected frames (species, Z, masses,
 *     charges, forces, skipped columns, Lattice, pbc, energy in any case, stress, name,
 *     quoting, commas, CRLF, blank lines, missing final newline, long lines);
 *   - every syntax error is reported as "file:line: what was expected", and stays reported;
 *   - a lying atom count cannot make the reader allocate for atoms that are not there;
 *   - mutated input never crashes the reader (run under ASan);
 *   - parsed frames encode and view back unchanged;
 *   - REAL files from the Debian package xcrysden-data parse (required: the test fails if the
 *     package is missing), and, when python3-ase is installed, ASE's own extended-XYZ test file
 *     parses and our reading of the files here matches ASE's (skipped without ASE).
 * Self-contained; ends with "test_xyz: N passed, M failed".
 */
#include "vlstore_frame.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"


#define XCRYSDEN_DIR "/usr/share/doc/xcrysden/examples/XYZ"
#define ASE_EXT_XYZ "/usr/lib/python3/dist-packages/ase/test/testdata/opls_structure_ext.xyz"

static char tmpdir[PATH_MAX + 64], srcdir[PATH_MAX];

static int feq(float a, double b) { return fabs((double)a - b) <= 1e-6 * fmax(1.0, fabs(b)); }

static vls_xyz *open_text(const char *text) {
    vls_xyz *p = NULL;
    CHECK(vls_xyz_open_mem(text, strlen(text), "t.xyz", &p) == VLS_OK);
    return p;
}

/* Parses text to the end; expects error `code` whose message contains `needle` and starts
 * with "t.xyz:<line>:". */
static void expect_error(const char *text, int code, long line, const char *needle) {
    vls_xyz *p = open_text(text);
    if (!p) return;
    vls_frame f;
    int rc;
    while ((rc = vls_xyz_next(p, &f)) == 1) {
    }
    const char *msg = vls_xyz_errmsg(p);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "t.xyz:%ld: ", line);
    int ok = rc == code && strncmp(msg, prefix, strlen(prefix)) == 0 && strstr(msg, needle);
    if (!ok)
        fprintf(stderr, "expected error %d \"%s%s\", got %d \"%s\"\n", code, prefix, needle, rc,
                msg);
    CHECK(ok);
    /* errors are sticky */
    CHECK(vls_xyz_next(p, &f) == rc && f.nsites == 0);
    vls_xyz_close(p);
}

static void test_elements(void) {
    for (int z = 0; z <= VLS_ELEMENT_MAX; z++) {
        const char *s = vls_element_symbol(z);
        CHECK(s != NULL && vls_element_number(s, strlen(s)) == z);
        CHECK(z == 0 ? vls_element_mass(z) == 0.0 : vls_element_mass(z) > 0.9);
        if (z > 1 && z < 93) CHECK(vls_element_mass(z) > vls_element_mass(1)); /* sanity */
    }
    CHECK(vls_element_symbol(-1) == NULL && vls_element_symbol(119) == NULL);
    CHECK(vls_element_mass(119) == 0.0 && vls_element_mass(-3) == 0.0);
    /* spot checks against IUPAC 2021 abridged standard atomic weights */
    CHECK(vls_element_mass(1) == 1.0080 && vls_element_mass(6) == 12.011);
    CHECK(vls_element_mass(8) == 15.999 && vls_element_mass(17) == 35.45);
    CHECK(vls_element_mass(26) == 55.845 && vls_element_mass(79) == 196.97);
    CHECK(vls_element_mass(92) == 238.03 && vls_element_mass(118) == 294.0);
    CHECK(strcmp(vls_element_symbol(118), "Og") == 0 && strcmp(vls_element_symbol(26), "Fe") == 0);
    /* matching rules */
    CHECK(vls_element_number("Fe", 2) == 26 && vls_element_number("FE", 2) == 26);
    CHECK(vls_element_number("fe", 2) == 26 && vls_element_number("Cl", 2) == 17);
    CHECK(vls_element_number("CL", 2) == 17 && vls_element_number("C01", 3) == 6);
    CHECK(vls_element_number("H1", 2) == 1 && vls_element_number("Ca2", 3) == 20);
    CHECK(vls_element_number("Na+", 3) == 11 && vls_element_number("X", 1) == 0);
    CHECK(vls_element_number("Qq", 2) == -1 && vls_element_number("", 0) == -1);
    CHECK(vls_element_number("C1A", 3) == -1 && vls_element_number("123", 3) == -1);
    CHECK(vls_element_number("Fe", 1) == 9); /* length is honoured: "F" */
    CHECK(vls_element_number(NULL, 0) == -1);
}

static void test_plain(void) {
    const char *text = "3\n"
                       "water molecule, step 1\n"
                       "O 0.0 0.0 0.119262\n"
                       "H\t0.0  0.763239 -0.477047\n"
                       "  H 0.0 -0.763239 -0.477047   \n"
                       "\n"
                       "2\r\n"
                       "\r\n"
                       "C 1 2 3 extra columns are ignored in plain XYZ\r\n"
                       "O01 4 5 6e-1";
    vls_xyz *p = open_text(text);
    vls_frame f;
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.nsites == 3 && f.ncodim == 3);
    CHECK(f.name_len == 7 && strcmp(f.name, "frame_0") == 0);
    CHECK(strcmp(vls_xyz_comment(p), "water molecule, step 1") == 0);
    CHECK(f.types[0] == 8 && f.types[1] == 1 && f.types[2] == 1);
    CHECK(feq(f.masses[0], 15.999) && feq(f.masses[1], 1.008));
    CHECK(feq(f.positions[2], 0.119262) && feq(f.positions[4], 0.763239) &&
          feq(f.positions[8], -0.477047));
    CHECK(!f.forces && !f.cell && !f.pbc && !f.charges && !f.stress && !f.has_energy);
    CHECK(vls_xyz_line(p) == 5);
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.nsites == 2 && strcmp(f.name, "frame_1") == 0 && vls_xyz_comment(p)[0] == '\0');
    CHECK(f.types[0] == 6 && f.types[1] == 8 && feq(f.positions[5], 0.6));
    CHECK(vls_xyz_next(p, &f) == 0);
    CHECK(vls_xyz_next(p, &f) == 0);
    CHECK(vls_xyz_errmsg(p)[0] == '\0');
    vls_xyz_close(p);

    /* zero atoms, and an empty input */
    p = open_text("0\nnothing here\n0\n\n");
    CHECK(vls_xyz_next(p, &f) == 1 && f.nsites == 0);
    CHECK(vls_xyz_next(p, &f) == 1 && f.nsites == 0);
    CHECK(vls_xyz_next(p, &f) == 0);
    vls_xyz_close(p);
    p = open_text("");
    CHECK(vls_xyz_next(p, &f) == 0);
    vls_xyz_close(p);
    p = open_text("\n  \n\t\n");
    CHECK(vls_xyz_next(p, &f) == 0);
    vls_xyz_close(p);
}

static void test_extended(void) {
    const char *text =
        "2\n"
        "Lattice=\"10.0 0.0 0.0 0.0 11.0 0.0 0.0 0.0 12.0\" "
        "Properties=species:S:1:pos:R:3:forces:R:3 energy=-12.5 pbc=\"T T F\" "
        "stress=\"1 2 3 4 5 6 7 8 9\" name=\"my frame\" config_type=bulk is_relaxed\n"
        "Si 0.0 0.0 0.0 0.1 0.2 0.3\n"
        "Si 1.35 1.35 1.35 -0.1 -0.2 -0.3\n"
        "3\n"
        "Properties=Z:I:1:velo:R:3:pos:R:3:masses:R:1:flag:L:1:charges:R:1:label:S:1 "
        "ENERGY=7 Lattice={5,0,0, 0,5,0, 0,0,5} stress=\"1 2 3 4 5 6\"\n"
        "8 9 9 9 0.5 0.5 0.5 16.5 T -0.8 ox\n"
        "1 9 9 9 1.5 0.5 0.5 2.0 F 0.4 hy\n"
        "1 9 9 9 0.5 1.5 0.5 2.0 T 0.4 hy\n"
        "1\n"
        "a \"quoted \\\" value\" = 3 free text b=\"x y\" Energy = -1e-3\n"
        "X 0 0 0\n";
    vls_xyz *p = open_text(text);
    vls_frame f;
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.nsites == 2 && f.name_len == 8 && strcmp(f.name, "my frame") == 0);
    CHECK(f.types[0] == 14 && f.types[1] == 14 && feq(f.masses[0], 28.085));
    CHECK(f.forces && feq(f.forces[0], 0.1) && feq(f.forces[5], -0.3));
    CHECK(feq(f.positions[3], 1.35));
    CHECK(f.has_energy && f.energy == -12.5);
    CHECK(f.cell && f.cell[0] == 10.0f && f.cell[4] == 11.0f && f.cell[8] == 12.0f &&
          f.cell[1] == 0.0f);
    CHECK(f.pbc && f.pbc[0] == 1 && f.pbc[1] == 1 && f.pbc[2] == 0);
    CHECK(f.stress && f.stress[0] == 1.0f && f.stress[8] == 9.0f && f.stress[1] == 2.0f);
    CHECK(!f.charges);

    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.nsites == 3 && strcmp(f.name, "frame_1") == 0);
    CHECK(f.types[0] == 8 && f.types[1] == 1 && f.types[2] == 1);
    CHECK(f.masses[0] == 16.5f && f.masses[1] == 2.0f); /* the masses column wins */
    CHECK(feq(f.positions[0], 0.5) && feq(f.positions[3], 1.5) && feq(f.positions[7], 1.5));
    CHECK(f.charges && feq(f.charges[0], -0.8) && feq(f.charges[2], 0.4));
    CHECK(!f.forces && f.has_energy && f.energy == 7.0);
    CHECK(f.cell && f.cell[0] == 5.0f && f.cell[8] == 5.0f);
    CHECK(f.pbc && f.pbc[0] && f.pbc[1] && f.pbc[2]); /* Lattice implies pbc T T T */
    /* Voigt xx yy zz yz xz xy = 1 2 3 4 5 6 */
    CHECK(f.stress && f.stress[0] == 1 && f.stress[4] == 2 && f.stress[8] == 3);
    CHECK(f.stress[5] == 4 && f.stress[7] == 4 && f.stress[2] == 5 && f.stress[6] == 5);
    CHECK(f.stress[1] == 6 && f.stress[3] == 6);

    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.nsites == 1 && f.types[0] == 0 && f.masses[0] == 0.0f);
    CHECK(f.has_energy && f.energy == -1e-3 && !f.cell && !f.pbc);
    CHECK(vls_xyz_next(p, &f) == 0);
    vls_xyz_close(p);

    /* Free text with '=' that does not parse: still a plain comment. */
    p = open_text("1\nE = \"unbalanced quote\n He 1 2 3\n");
    CHECK(vls_xyz_next(p, &f) == 1 && f.types[0] == 2 && !f.has_energy);
    vls_xyz_close(p);

    /* Other key names for energy and forces (MACE-style data sets). */
    const char *ref = "1\nProperties=species:S:1:pos:R:3:REF_forces:R:3:forces:R:3 "
                      "REF_energy=-3.5 energy=99\nH 0 0 0 1 2 3 7 8 9\n";
    p = open_text(ref);
    CHECK(vls_xyz_set_keys(p, "REF_energy", "REF_forces") == VLS_OK);
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.has_energy && f.energy == -3.5 && f.forces && f.forces[0] == 1.0f &&
          f.forces[2] == 3.0f);
    vls_xyz_close(p);
    p = open_text(ref);
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.has_energy && f.energy == 99 && f.forces && f.forces[0] == 7.0f);
    vls_xyz_close(p);
    CHECK(vls_xyz_set_keys(NULL, "a", "b") == VLS_E_INVAL);
}

static void test_errors(void) {
    expect_error("3\nwater\nO 0 0 0\nH 0.5\nH 0 -1 0\n", VLS_E_CORRUPT, 4,
                 "expected 4 columns (species pos), got 2");
    expect_error("3\nwater\nO 0 0 0\nH 0 1 0\n", VLS_E_CORRUPT, 4,
                 "expected atom line 3 of 3 (frame starting at line 1), got the end of the file");
    expect_error("abc\n", VLS_E_CORRUPT, 1, "expected the atom count");
    expect_error("-2\nx\n", VLS_E_CORRUPT, 1, "expected the atom count");
    expect_error("1\n", VLS_E_CORRUPT, 1, "expected the comment line");
    expect_error("1\n\nQq 0 0 0\n", VLS_E_CORRUPT, 3, "column 1 (species): unknown element 'Qq'");
    expect_error("1\n\nC 0 1.2.3 0\n", VLS_E_CORRUPT, 3,
                 "column 3 (pos): expected a number, got '1.2.3'");
    expect_error("1\nProperties=species:S:1:forces:R:3\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "no 'pos:R:3' column");
    expect_error("1\nProperties=species:S:1:pos:R:2\nC 0 0\n", VLS_E_CORRUPT, 2,
                 "column 'pos' must be R:3, got R:2");
    expect_error("1\nProperties=species:S:1:pos:R:3:pos:R:3\nC 0 0 0 0 0 0\n", VLS_E_CORRUPT,
                 2, "given twice");
    expect_error("1\nProperties=species:S:1:pos:Q:3\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "Properties: expected name:type:count");
    expect_error("1\nProperties=species:S:1:pos\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "Properties: expected name:type:count");
    expect_error("1\nProperties=pos:R:3\nC 0 0 0\n", VLS_E_CORRUPT, 2, "neither");
    expect_error("1\nProperties=species:S:1:pos:R:3\nC 0 0 0 9\n", VLS_E_CORRUPT, 3,
                 "expected 4 columns (species pos), got more than 4");
    expect_error("1\nProperties=species:S:1:pos:R:3:forces:R:3\nC 0 0 0 1 2\n", VLS_E_CORRUPT,
                 3, "expected 7 columns (species pos forces), got 6");
    expect_error("1\nLattice=\"1 0 0 0 1 0 0 0\"\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "Lattice: expected 9 numbers");
    expect_error("1\nLattice=\"1 0 0 0 1 0 0 0 1 1\"\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "Lattice: expected 9 numbers");
    expect_error("1\nLattice=\"1 0 0 0 1 0 0 0 x\"\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "Lattice: expected 9 numbers");
    expect_error("1\npbc=\"T T\"\nC 0 0 0\n", VLS_E_CORRUPT, 2, "pbc: expected 3 of T/F");
    expect_error("1\npbc=\"T T Y\"\nC 0 0 0\n", VLS_E_CORRUPT, 2, "pbc: expected 3 of T/F");
    expect_error("1\nenergy=abc\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "energy: expected a number, got 'abc'");
    expect_error("1\nstress=\"1 2 3\"\nC 0 0 0\n", VLS_E_CORRUPT, 2, "stress: expected 9");
    expect_error("1\nProperties=\"species:S:1:pos:R:3\nC 0 0 0\n", VLS_E_CORRUPT, 2,
                 "comment line: unterminated quoted value of key 'Properties'");
    expect_error("99999999999\nx\n", VLS_E_TOOBIG, 1, "too large");
    expect_error("1\nProperties=species:S:1:pos:R:3:Z:I:1\nC 0 0 0 1.5\n", VLS_E_CORRUPT, 3,
                 "column 5 (Z): expected an integer, got '1.5'");
    /* an error in a later frame names its line */
    expect_error("1\n\nC 0 0 0\n2\n\nC 0 0 0\nC 0 0\n", VLS_E_CORRUPT, 7,
                 "expected 4 columns (species pos), got 3");

    /* A lying atom count: the reader fails at the end of the file without trying to
     * allocate for 10^8 atoms up front (ASan's allocator would report a 4 GB request). */
    expect_error("100000000\n\nC 0 0 0\n", VLS_E_CORRUPT, 3, "expected atom line 2 of 100000000");
    expect_error("2147483647\n\nC 0 0 0\n", VLS_E_TOOBIG, 1, "too large for a frame");

    vls_xyz *p = (vls_xyz *)1;
    CHECK(vls_xyz_open("/nonexistent/dir/file.xyz", &p) == VLS_E_IO && p == NULL);
    /* a failed open has no parser to hold its message: it is the thread's handle-less one */
    CHECK(strstr(vls_xyz_errmsg(NULL), "/nonexistent/dir/file.xyz") != NULL);
    CHECK(strcmp(vls_xyz_errmsg(NULL), vls_errmsg(NULL)) == 0);
    CHECK(vls_xyz_open(NULL, &p) == VLS_E_INVAL);
    CHECK(strstr(vls_xyz_errmsg(NULL), "NULL") != NULL);
    CHECK(vls_xyz_open_mem(NULL, 3, NULL, &p) == VLS_E_INVAL);
    CHECK(vls_xyz_open_file(NULL, NULL, &p) == VLS_E_INVAL);
    CHECK(vls_xyz_next(NULL, NULL) == VLS_E_INVAL);
    vls_xyz_close(NULL);
    CHECK(vls_xyz_line(NULL) == 0);
}

/* Writes a big extended-XYZ file (long comment line, several frames) and reads it from a file,
 * from a FILE*, and from memory: the three must agree; frames must survive encode + view. */
static void test_file_and_encode(void) {
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/big.xyz", tmpdir);
    FILE *w = fopen(path, "w");
    CHECK(w != NULL);
    if (!w) return;
    const int nframes = 4, natoms = 2500;
    for (int k = 0; k < nframes; k++) {
        fprintf(w, "%d\n", natoms + k);
        fprintf(w, "Properties=species:S:1:pos:R:3:forces:R:3 energy=%d.25 junk=\"", -k);
        for (int j = 0; j < 30000; j++) fputc('a' + j % 26, w); /* a line > the read buffer */
        fprintf(w, "\" Lattice=\"20 0 0 0 20 0 0 0 20\"\n");
        for (int i = 0; i < natoms + k; i++)
            fprintf(w, "%s %.6f %.6f %.6f %.5f %.5f %.5f\n", (i % 3) ? "H" : "O", i * 0.001,
                    k + i * 0.002, -i * 0.003, i * 1e-4, -i * 1e-4, (double)k);
    }
    CHECK(fclose(w) == 0);

    vls_xyz *a = NULL, *b = NULL, *c = NULL;
    CHECK(vls_xyz_open(path, &a) == VLS_OK);
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    CHECK(vls_xyz_open_file(fp, "stream", &b) == VLS_OK);
    /* whole file in memory */
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *mem = malloc((size_t)size);
    FILE *fp2 = fopen(path, "rb");
    CHECK(fp2 && fread(mem, 1, (size_t)size, fp2) == (size_t)size);
    if (fp2) fclose(fp2);
    CHECK(vls_xyz_open_mem(mem, (size_t)size, NULL, &c) == VLS_OK);

    for (int k = 0; k < nframes; k++) {
        vls_frame fa, fb, fc;
        CHECK(vls_xyz_next(a, &fa) == 1);
        CHECK(vls_xyz_next(b, &fb) == 1);
        CHECK(vls_xyz_next(c, &fc) == 1);
        size_t n = (size_t)(natoms + k);
        CHECK(fa.nsites == (int32_t)n && fb.nsites == fa.nsites && fc.nsites == fa.nsites);
        CHECK(memcmp(fa.positions, fb.positions, 12 * n) == 0);
        CHECK(memcmp(fa.positions, fc.positions, 12 * n) == 0);
        CHECK(memcmp(fa.forces, fc.forces, 12 * n) == 0 && memcmp(fa.types, fc.types, 4 * n) == 0);
        CHECK(fa.has_energy && fa.energy == -k + 0.25 * (k ? -1 : 1));
        CHECK(fa.cell && fa.cell[4] == 20.0f && fa.pbc && fa.pbc[2] == 1);
        CHECK(feq(fa.positions[3 * 100 + 1], k + 0.2) && fa.types[0] == 8 && fa.types[1] == 1);
        CHECK(feq(fa.forces[3 * 100 + 2], (double)k));
        CHECK(strlen(vls_xyz_comment(a)) > 30000);

        /* parsed frame -> FlatBuffer -> view: unchanged */
        void *buf;
        size_t len;
        CHECK(vls_frame_encode_alloc(&fa, &buf, &len) == VLS_OK);
        vls_frame v;
        CHECK(vls_frame_view(buf, len, &v) == VLS_OK);
        CHECK(v.nsites == fa.nsites && memcmp(v.positions, fa.positions, 12 * n) == 0);
        CHECK(memcmp(v.masses, fa.masses, 4 * n) == 0 && memcmp(v.forces, fa.forces, 12 * n) == 0);
        CHECK(v.has_energy && v.energy == fa.energy && memcmp(v.cell, fa.cell, 36) == 0);
        CHECK(v.name_len == fa.name_len && memcmp(v.name, fa.name, v.name_len) == 0);
        free(buf);
    }
    vls_frame f;
    CHECK(vls_xyz_next(a, &f) == 0 && vls_xyz_next(b, &f) == 0 && vls_xyz_next(c, &f) == 0);
    vls_xyz_close(a);
    vls_xyz_close(b);
    vls_xyz_close(c);
    fclose(fp); /* vls_xyz_open_file does not close it */
    free(mem);
    remove(path);
}

/* Mutated input never crashes, and every result is 1, 0 or an error code with a message. */
static void test_fuzz(void) {
    const char *base = "3\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3:Z:I:1:"
                       "forces:R:3 energy=-1.5 pbc=\"T F T\" name=x stress=\"1 2 3 4 5 6\"\n"
                       "O 0 0 0 8 1 2 3\nH 1 0 0 1 4 5 6\nH 0 1 0 1 7 8 9\n"
                       "2\nplain\nC 0 0 0\nN 1 1 1\n";
    size_t n = strlen(base);
    char *t = malloc(n + 1);
    uint64_t s = 0x1234567;
    static const char alphabet[] = "0123456789 \t\n\"=:{}TFSRIL.-eHCOX,\\";
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(t, base, n + 1);
        int muts = 1 + (int)(iter % 5);
        for (int m = 0; m < muts; m++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t at = (size_t)(s % n);
            t[at] = alphabet[(s >> 20) % (sizeof alphabet - 1)];
        }
        size_t len = (iter % 7 == 0) ? (size_t)((s >> 30) % (n + 1)) : n;
        char *exact = malloc(len ? len : 1); /* not NUL-terminated: ASan sees overreads */
        memcpy(exact, t, len);
        vls_xyz *p;
        CHECK(vls_xyz_open_mem(exact, len, "fuzz", &p) == VLS_OK);
        vls_frame f;
        int rc, frames = 0;
        while ((rc = vls_xyz_next(p, &f)) == 1 && frames < 10) {
            frames++;
            volatile float acc = 0;
            for (int32_t i = 0; i < 3 * f.nsites; i++) acc += f.positions[i];
            for (int32_t i = 0; i < f.nsites; i++) acc += f.masses[i] + (float)f.types[i];
            if (f.forces)
                for (int32_t i = 0; i < 3 * f.nsites; i++) acc += f.forces[i];
            (void)acc;
        }
        CHECK(rc == 1 || rc == 0 || rc == VLS_E_CORRUPT || rc == VLS_E_TOOBIG);
        if (rc < 0) CHECK(strncmp(vls_xyz_errmsg(p), "fuzz:", 5) == 0);
        vls_xyz_close(p);
        free(exact);
    }
    free(t);
}

/* Prints all frames of `path` as a JSON list (for the ASE comparison). */
static int dump_json(const char *path, const char *json_path) {
    vls_xyz *p;
    if (vls_xyz_open(path, &p) != VLS_OK) return -1;
    FILE *out = fopen(json_path, "w");
    if (!out) {
        vls_xyz_close(p);
        return -1;
    }
    vls_frame f;
    int rc, k = 0;
    fputs("[", out);
    while ((rc = vls_xyz_next(p, &f)) == 1) {
        if (k++) fputs(",", out);
        vls_frame_write_json(out, &f, VLS_JSON_COMPACT);
    }
    fputs("]\n", out);
    fclose(out);
    if (rc < 0) fprintf(stderr, "%s\n", vls_xyz_errmsg(p));
    vls_xyz_close(p);
    return rc;
}

static int ase_available(void) {
    return system("/usr/bin/python3 -c 'import ase.io' >/dev/null 2>&1") == 0;
}

static void compare_with_ase(const char *xyz) {
    char json[PATH_MAX + 128], cmd[3 * PATH_MAX + 256];
    const char *base = strrchr(xyz, '/');
    snprintf(json, sizeof json, "%s/%s.ours.json", tmpdir, base ? base + 1 : xyz);
    CHECK(dump_json(xyz, json) == 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/xyz_ase_check.py' '%s' '%s'", srcdir,
             xyz, json);
    fflush(NULL);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "ASE disagrees on %s\n", xyz);
    CHECK(rc == 0);
}

/* Files shipped by Debian packages. */
static void test_real_files(void) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/anim.xyz", XCRYSDEN_DIR);
    if (access(path, R_OK) != 0) {
        fprintf(stderr,
                "test_xyz: the real XYZ files of the Debian package xcrysden-data are missing "
                "(%s): install it with `apt-get install xcrysden-data` (scripts/deps.sh test)\n",
                path);
        int xcrysden_data_installed = 0;
        CHECK(xcrysden_data_installed);
        return;
    }
    /* anim.xyz: 5 frames of benzene (6 C then 6 H), comments benzene.1 .. benzene.5 */
    vls_xyz *p;
    vls_frame f;
    CHECK(vls_xyz_open(path, &p) == VLS_OK);
    int k = 0, rc;
    while ((rc = vls_xyz_next(p, &f)) == 1) {
        char want[32];
        snprintf(want, sizeof want, "benzene.%d", k + 1);
        CHECK(strcmp(vls_xyz_comment(p), want) == 0);
        CHECK(f.nsites == 12);
        double mass = 0;
        for (int i = 0; i < 12; i++) {
            CHECK(f.types[i] == (i < 6 ? 6 : 1));
            mass += f.masses[i];
        }
        CHECK(fabs(mass - (6 * 12.011 + 6 * 1.008)) < 1e-4);
        if (k == 0) CHECK(feq(f.positions[5], 1.1) && feq(f.positions[6], 0.971242));
        k++;
    }
    CHECK(rc == 0 && k == 5);
    vls_xyz_close(p);

    struct {
        const char *file;
        int32_t nsites;
        int first_z, last_z;
        double x0;
    } files[] = {{"bucky.xyz", 60, 6, 6, 1.22650},
                 {"mol1.xyz", 13, 6, 9, 2.325243}, /* labels: C01 H1 F1 ... */
                 {"mol2.xyz", 15, 6, 1, -2.567869}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", XCRYSDEN_DIR, files[i].file);
        CHECK(vls_xyz_open(path, &p) == VLS_OK);
        if (!p) continue;
        rc = vls_xyz_next(p, &f);
        if (rc != 1) fprintf(stderr, "%s\n", vls_xyz_errmsg(p));
        CHECK(rc == 1);
        if (rc == 1) {
            CHECK(f.nsites == files[i].nsites);
            CHECK(f.types[0] == files[i].first_z && f.types[f.nsites - 1] == files[i].last_z);
            CHECK(feq(f.positions[0], files[i].x0));
        }
        CHECK(vls_xyz_next(p, &f) == 0);
        vls_xyz_close(p);
    }
    snprintf(path, sizeof path, "%s/mol1.xyz", XCRYSDEN_DIR);
    CHECK(vls_xyz_open(path, &p) == VLS_OK);
    if (p && vls_xyz_next(p, &f) == 1) {
        static const int32_t want[13] = {6, 1, 9, 9, 8, 6, 9, 9, 8, 6, 1, 9, 9};
        CHECK(memcmp(f.types, want, sizeof want) == 0);
    }
    vls_xyz_close(p);

    /* ASE's extended-XYZ test file (python3-ase): optional. Lattice with commas, extra
     * molid:I:1 and type:S:1 columns to skip. */
    if (access(ASE_EXT_XYZ, R_OK) != 0) {
        test_skip("test_xyz: %s not installed: ASE checks (apt-get install python3-ase)",
                  ASE_EXT_XYZ);
        return;
    }
    CHECK(vls_xyz_open(ASE_EXT_XYZ, &p) == VLS_OK);
    rc = vls_xyz_next(p, &f);
    if (rc != 1) fprintf(stderr, "%s\n", vls_xyz_errmsg(p));
    CHECK(rc == 1);
    if (rc == 1) {
        CHECK(f.nsites == 3 && f.types[0] == 8 && f.types[1] == 6 && f.types[2] == 1);
        CHECK(f.cell && feq(f.cell[0], 1.9838361957031476) && feq(f.cell[8], -1.983836195703147));
        CHECK(f.pbc && f.pbc[0] && f.pbc[1] && f.pbc[2]);
        CHECK(feq(f.positions[8], -1.16113002));
    }
    vls_xyz_close(p);
    if (ase_available()) {
        compare_with_ase(ASE_EXT_XYZ);
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", XCRYSDEN_DIR, files[i].file);
            if (i != 1) compare_with_ase(path); /* ASE rejects mol1.xyz's "C01" labels */
        }
        snprintf(path, sizeof path, "%s/anim.xyz", XCRYSDEN_DIR);
        compare_with_ase(path);
    } else {
        test_skip("test_xyz: ASE not importable by /usr/bin/python3: comparison of the real "
                  "files (apt-get install python3-ase)");
    }
}

/* Our extended-XYZ files, read by ASE too (when installed). */
static void test_against_ase(void) {
    if (!ase_available()) {
        test_skip("test_xyz: ASE not importable by /usr/bin/python3: ASE comparison "
                  "(apt-get install python3-ase)");
        return;
    }
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/ase_cmp.xyz", tmpdir);
    FILE *w = fopen(path, "w");
    CHECK(w != NULL);
    if (!w) return;
    fputs("2\nLattice=\"10.0 0.0 0.0 0.0 11.0 0.0 0.0 0.0 12.0\" "
          "Properties=species:S:1:pos:R:3:forces:R:3 energy=-12.5 pbc=\"T T F\"\n"
          "Si 0.0 0.0 0.0 0.1 0.2 0.3\nSi 1.35 1.35 1.35 -0.1 -0.2 -0.3\n"
          "3\nProperties=species:S:1:pos:R:3:molid:I:1 Lattice=\"5,0,0 0,5,0 0,0,5\"\n"
          "O 0.5 0.5 0.5 1\nH 1.5 0.5 0.5 1\nH 0.5 1.5 0.5 1\n"
          "2\na plain comment\nCu 0 0 0\nAu 1 1 1\n",
          w);
    CHECK(fclose(w) == 0);
    compare_with_ase(path);
}

int main(void) {
    const char *t = getenv("VLS_TEST_TMP");
    char abst[PATH_MAX];
    if (t && *t) {
        mkdir(t, 0777);
        snprintf(tmpdir, sizeof tmpdir, "%s/xyz", realpath(t, abst) ? abst : t);
    } else {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/vls_test_xyz.%ld", (long)getpid());
    }
    if (mkdir(tmpdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", tmpdir);
        return 1;
    }
    const char *s = getenv("VLS_SOURCE_DIR");
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s", (s && *s) ? s : __FILE__);
    if (!(s && *s)) { /* <src>/tests/test_xyz.c -> <src> */
        for (int k = 0; k < 2; k++) {
            char *slash = strrchr(src, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(src, sizeof src, "%s", k ? "." : "..");
        }
    }
    if (!realpath(src, srcdir)) snprintf(srcdir, sizeof srcdir, "%s", src);

    test_elements();
    test_plain();
    test_extended();
    test_errors();
    test_file_and_encode();
    test_fuzz();
    test_real_files();
    test_against_ase();
    return test_done("test_xyz");
}
