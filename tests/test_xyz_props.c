/*
 * test_xyz_props.c — the XYZ reader keeps everything, typed as ASE's extxyz reader types it:
 *   - comment-line values: int64, float64, bool, string, JSON, empty (an empty int64 array),
 *     3x3 virial (Fortran order), "uid" always a string, "a = b" spacing, the last of a
 *     repeated key, bare keys True;
 *   - every Properties column that is not a core field becomes a per-atom property of the
 *     column's type and width (R float64/float32, I int32, L bool, S string);
 *   - precision 64 gives float64 arrays bit-identical to strtod of the text;
 *   - REF_energy / REF_forces / REF_stress are recognised and their source key recorded;
 *   - what cannot be kept is reported by vls_xyz_dropped(); malformed columns are errors
 *     naming file:line and column.
 */
#include "vlstore_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static vls_xyz *open_text(const char *text, int bits) {
    vls_xyz *p = NULL;
    CHECK(vls_xyz_open_mem(text, strlen(text), "t.xyz", &p) == VLS_OK);
    CHECK(vls_xyz_set_precision(p, bits) == VLS_OK);
    return p;
}

static int find(const vls_frame *f, int per_atom, const char *name, vls_prop *out) {
    int rc = vls_frame_find_prop(f, per_atom, name, out);
    if (rc) fprintf(stderr, "property %s not found\n", name);
    return rc == VLS_OK;
}

static double f64(const vls_prop *p, size_t i) {
    double v;
    memcpy(&v, (const char *)p->data + 8 * i, 8);
    return v;
}

static long long i64(const vls_prop *p, size_t i) {
    long long v;
    memcpy(&v, (const char *)p->data + 8 * i, 8);
    return v;
}

static void test_comment_typing(void) {
    const char *text =
        "1\n"
        "Properties=species:S:1:pos:R:3 i=3 big=99999999999999999999 f=-1.5e-3 arr=\"1 2 3\" "
        "mixed=\"1 2.5\" flag=T flags=\"T F T\" word=bulk words=\"a b\" "
        "js=\"_JSON {\\\"a\\\": [1, null]}\" virial=\"1 2 3 4 5 6 7 8 9\" uid=12 bare "
        "spaced = 7 dup=1 dup=2 nan=nan tru=True config_type=\"water cluster\" empty=\n"
        "O 0 0 0\n";
    vls_xyz *p = open_text(text, 64);
    vls_frame f;
    vls_prop v;
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(find(&f, 0, "i", &v) && v.dtype == VLS_DT_I64 && v.ndim == 0 && i64(&v, 0) == 3);
    /* (an empty value can only end the line: ASE's splitter glues the next key to it) */
    /* beyond int64: float, as numpy's int conversion overflows */
    CHECK(find(&f, 0, "big", &v) && v.dtype == VLS_DT_F64 && f64(&v, 0) == 1e20);
    CHECK(find(&f, 0, "f", &v) && v.dtype == VLS_DT_F64 && f64(&v, 0) == -1.5e-3);
    CHECK(find(&f, 0, "arr", &v) && v.dtype == VLS_DT_I64 && v.ndim == 1 && v.shape[0] == 3 &&
          i64(&v, 2) == 3);
    CHECK(find(&f, 0, "mixed", &v) && v.dtype == VLS_DT_F64 && v.count == 2 && f64(&v, 1) == 2.5);
    CHECK(find(&f, 0, "flag", &v) && v.dtype == VLS_DT_BOOL && v.ndim == 0 &&
          ((const uint8_t *)v.data)[0] == 1);
    CHECK(find(&f, 0, "flags", &v) && v.dtype == VLS_DT_BOOL && v.count == 3 &&
          ((const uint8_t *)v.data)[1] == 0);
    CHECK(find(&f, 0, "word", &v) && v.dtype == VLS_DT_STR && v.ndim == 0 &&
          strcmp(vls_prop_string(&v, 0, NULL), "bulk") == 0);
    CHECK(find(&f, 0, "words", &v) && v.dtype == VLS_DT_STR &&
          strcmp(vls_prop_string(&v, 0, NULL), "a b") == 0);
    CHECK(find(&f, 0, "empty", &v) && v.dtype == VLS_DT_I64 && v.ndim == 1 && v.count == 0);
    CHECK(find(&f, 0, "js", &v) && v.dtype == VLS_DT_STR && v.kind == VLS_PROP_JSON &&
          strcmp(vls_prop_string(&v, 0, NULL), "{\"a\": [1, null]}") == 0);
    /* virial: 3x3 in Fortran order, so row 0 is 1 4 7 */
    CHECK(find(&f, 0, "virial", &v) && v.dtype == VLS_DT_I64 && v.ndim == 2 &&
          v.shape[0] == 3 && v.shape[1] == 3 && i64(&v, 1) == 4 && i64(&v, 3) == 2);
    CHECK(find(&f, 0, "uid", &v) && v.dtype == VLS_DT_STR);
    CHECK(find(&f, 0, "bare", &v) && v.dtype == VLS_DT_BOOL);
    CHECK(find(&f, 0, "spaced", &v) && v.dtype == VLS_DT_I64 && i64(&v, 0) == 7);
    CHECK(find(&f, 0, "dup", &v) && i64(&v, 0) == 2);
    CHECK(find(&f, 0, "nan", &v) && v.dtype == VLS_DT_F64 && f64(&v, 0) != f64(&v, 0));
    CHECK(find(&f, 0, "tru", &v) && v.dtype == VLS_DT_STR); /* ASE: only T and F are bools */
    CHECK(find(&f, 0, "config_type", &v) &&
          strcmp(vls_prop_string(&v, 0, NULL), "water cluster") == 0);
    CHECK(vls_frame_find_prop(&f, 0, "Properties", &v) == VLS_E_NOTFOUND);
    size_t ndup = 0;
    for (size_t i = 0; i < f.nprops; i++)
        if (vls_frame_prop(&f, 0, i, &v) == VLS_OK && v.name_len == 3 && !memcmp(v.name, "dup", 3))
            ndup++;
    CHECK(ndup == 1);
    CHECK(strcmp(vls_xyz_dropped(p), "") == 0);

    /* Everything encodes and views back. */
    void *buf;
    size_t len;
    CHECK(vls_frame_encode_alloc(&f, &buf, &len) == VLS_OK);
    vls_frame w;
    CHECK(vls_frame_view(buf, len, &w) == VLS_OK && w.nprops == f.nprops);
    free(buf);
    vls_xyz_close(p);
}

static void test_columns_and_float64(void) {
    const char *text =
        "2\n"
        "Properties=species:S:1:pos:R:3:REF_forces:R:3:energies:R:1:tags:I:2:fixed:L:1:"
        "lbl:S:1:masses:R:1 REF_energy=-10.123456789012345 REF_stress=\"1 2 3 4 5 6 7 8 9\" "
        "Lattice=\"4.1 0 0 0 4.2 0 0 0 4.3\"\n"
        "H 0.12345678901234567 1 2 0.5 0.25 0.125 -1.25 7 8 T first 1.5\n"
        "O 3 4 5 6 7 8 -2.5 9 10 F second 16.25\n";
    vls_xyz *p = open_text(text, 64);
    vls_frame f;
    vls_prop v;
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.positions64 && !f.positions && f.positions64[0] == strtod("0.12345678901234567", NULL));
    CHECK(f.forces64 && f.forces64[2] == 0.125);
    CHECK(f.has_energy && f.energy == strtod("-10.123456789012345", NULL));
    CHECK(f.stress64 && f.stress64[1] == 2 && f.cell64 && f.cell64[4] == 4.2);
    CHECK(f.masses64 && f.masses64[1] == 16.25);
    CHECK(find(&f, 0, "vlstore:energy_key", &v) &&
          strcmp(vls_prop_string(&v, 0, NULL), "REF_energy") == 0);
    CHECK(find(&f, 0, "vlstore:stress_key", &v) &&
          strcmp(vls_prop_string(&v, 0, NULL), "REF_stress") == 0);
    CHECK(vls_frame_find_prop(&f, 1, "REF_forces", &v) == VLS_E_NOTFOUND); /* it is the forces */
    CHECK(find(&f, 1, "energies", &v) && v.dtype == VLS_DT_F64 && v.ndim == 1 &&
          v.shape[0] == 2 && f64(&v, 1) == -2.5);
    CHECK(find(&f, 1, "tags", &v) && v.dtype == VLS_DT_I32 && v.ndim == 2 && v.shape[1] == 2 &&
          ((const int32_t *)v.data)[3] == 10);
    CHECK(find(&f, 1, "fixed", &v) && v.dtype == VLS_DT_BOOL &&
          ((const uint8_t *)v.data)[0] == 1 && ((const uint8_t *)v.data)[1] == 0);
    CHECK(find(&f, 1, "lbl", &v) && v.dtype == VLS_DT_STR &&
          strcmp(vls_prop_string(&v, 1, NULL), "second") == 0);
    CHECK(find(&f, 1, "masses", &v) && v.dtype == VLS_DT_F64 && f64(&v, 0) == 1.5);
    vls_xyz_close(p);

    /* Precision 32: the same columns as float32. */
    p = open_text(text, 32);
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(f.positions && !f.positions64 && f.forces && f.cell && f.stress);
    CHECK(find(&f, 1, "energies", &v) && v.dtype == VLS_DT_F32);
    vls_xyz_close(p);
    vls_xyz *q = NULL;
    CHECK(vls_xyz_open_mem("", 0, NULL, &q) == VLS_OK);
    CHECK(vls_xyz_set_precision(q, 16) == VLS_E_INVAL);
    vls_xyz_close(q);
}

static void test_dropped_and_errors(void) {
    vls_xyz *p = open_text("1\nplain\nC 0 0 0 9 9\n", 64);
    vls_frame f;
    CHECK(vls_xyz_next(p, &f) == 1);
    CHECK(strstr(vls_xyz_dropped(p), "columns after species x y z") != NULL);
    vls_xyz_close(p);

    struct {
        const char *text, *want;
    } bad[] = {
        {"1\nProperties=species:S:1:pos:R:3:ok:L:1\nC 0 0 0 yes\n",
         "t.xyz:3: column 5 (ok): expected T or F, got 'yes'"},
        {"1\nProperties=species:S:1:pos:R:3:n:I:1\nC 0 0 0 3000000000\n",
         "t.xyz:3: column 5 (n): expected an integer"},
        {"1\nProperties=species:S:1:pos:R:3:q:X:1\nC 0 0 0 1\n",
         "t.xyz:2: Properties: expected name:type:count with type S, R, I or L"},
        {"1\nProperties=species:S:1:pos:R:3:e:R:2\nC 0 0 0 1\n",
         "t.xyz:3: expected 6 columns (species pos e), got 5"},
        {"1\nREF_energy=oops\nC 0 0 0\n", "t.xyz:2: REF_energy: expected a number"},
        {"2\nx=1\nC 0 0 0\n", "t.xyz:3: expected atom line 2 of 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = open_text(bad[i].text, 64);
        int rc = vls_xyz_next(p, &f);
        int ok = rc == VLS_E_CORRUPT && strstr(vls_xyz_errmsg(p), bad[i].want) != NULL;
        if (!ok) fprintf(stderr, "case %zu: got %d '%s'\n", i, rc, vls_xyz_errmsg(p));
        CHECK(ok);
        vls_xyz_close(p);
    }
}

int main(void) {
    test_comment_typing();
    test_columns_and_float64();
    test_dropped_and_errors();
    return test_done("test_xyz_props");
}
