/*
 * test_xyz_locale.c — XYZ numbers parse the same under a comma-decimal LC_NUMERIC (de_DE):
 * the reader uses the C locale whatever setlocale() set (issue 15).
 * The de_DE locale is compiled into the scratch directory with localedef (Debian's `locales`
 * package) and found through LOCPATH; when that is impossible the test exits 77 (skipped, as
 * ctest reports it), never passes without checking.
 */
#include "vlstore_frame.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static int comma_locale(void) {
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "nl_NL.UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_NUMERIC, names[i])) return 1;
    /* Not installed: compile one into the scratch directory. */
    char dir[4096], cmd[8400];
    snprintf(dir, sizeof dir, "%s", test_path("locales"));
    mkdir(dir, 0777);
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
    if (system(cmd) != 0) return 0;
    setenv("LOCPATH", dir, 1);
    return setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
}

int main(void) {
    if (!comma_locale()) {
        fprintf(stderr, "test_xyz_locale: SKIP: no comma-decimal locale and localedef could not "
                        "make one (install the Debian package locales)\n");
        return 77;
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    CHECK(strcmp(probe, "1,5") == 0); /* the locale is really in effect */
    fprintf(stderr, "LC_NUMERIC=%s prints 1.5 as %s\n", setlocale(LC_NUMERIC, NULL), probe);

    const char *text = "2\nLattice=\"4.5 0 0 0 4.5 0 0 0 4.5\" energy=-1.25 note=2.5 "
                       "Properties=species:S:1:pos:R:3:q:R:1\n"
                       "H 0.5 1.25 -3.75 0.125\nO 1e-3 2.5E2 .5 -7.5\n";
    for (int bits = 32; bits <= 64; bits += 32) {
        vls_xyz *p;
        vls_frame f;
        CHECK(vls_xyz_open_mem(text, strlen(text), "locale.xyz", &p) == VLS_OK);
        CHECK(vls_xyz_set_precision(p, bits) == VLS_OK);
        int rc = vls_xyz_next(p, &f);
        if (rc != 1) fprintf(stderr, "%s\n", vls_xyz_errmsg(p));
        CHECK(rc == 1);
        if (rc == 1) {
            CHECK(f.has_energy && f.energy == -1.25);
            double pos[6];
            for (int i = 0; i < 6; i++)
                pos[i] = bits == 64 ? f.positions64[i] : (double)f.positions[i];
            CHECK(pos[0] == 0.5 && pos[1] == 1.25 && pos[2] == -3.75);
            CHECK(pos[3] == 1e-3f || pos[3] == 1e-3);
            CHECK(pos[4] == 250 && pos[5] == 0.5);
            CHECK(bits == 64 ? f.cell64[0] == 4.5 : f.cell[0] == 4.5f);
            vls_prop v;
            CHECK(vls_frame_find_prop(&f, 0, "note", &v) == VLS_OK && v.dtype == VLS_DT_F64);
            CHECK(vls_frame_find_prop(&f, 1, "q", &v) == VLS_OK && v.count == 2);
        }
        vls_xyz_close(p);
    }
    return test_done("test_xyz_locale");
}
