/*
 * fuzz_xyz.c — fuzz target for the XYZ reader (src/xyz.c).
 * Properties: the reader never reads outside the input (which is not NUL-terminated), every
 * result is a frame, the end, or an error with a "fuzz:<line>:" message, and every frame it
 * produces encodes and views back.
 *
 * Built by fuzz/CMakeLists.txt: always as replay_xyz (this file + replay.c, runs a corpus; a
 * ctest test replays fuzz/corpus/xyz), and with -DVLS_BUILD_FUZZ=ON (clang) as the libFuzzer
 * binary fuzz_xyz:  fuzz_xyz -jobs=1 -max_total_time=600 CORPUS_DIR fuzz/corpus/xyz
 */
#include "vlstore_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = calloc(1, size ? size : 1); /* exact size: ASan sees any overread */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vls_xyz *p;
    if (vls_xyz_open_mem(buf, size, "fuzz", &p) != VLS_OK) abort();
    if (size > 2 && data[0] == 'K') vls_xyz_set_keys(p, "E", "F");
    if (size > 2 && data[1] == '6') vls_xyz_set_precision(p, 64);
    vls_frame f;
    int rc, frames = 0;
    while ((rc = vls_xyz_next(p, &f)) == 1 && frames++ < 50) {
        void *enc;
        size_t len;
        if (vls_frame_encode_alloc(&f, &enc, &len) != VLS_OK) abort();
        vls_frame v;
        if (vls_frame_view(enc, len, &v) != VLS_OK) abort();
        size_t n = (size_t)f.nsites;
        if (v.nsites != f.nsites || v.nprops != f.nprops || v.natom_props != f.natom_props)
            abort();
        for (size_t i = 0; i < 3 * n; i++) /* either precision */
            if (memcmp(&(double){vls_frame_real(v.positions, v.positions64, i)},
                       &(double){vls_frame_real(f.positions, f.positions64, i)}, 8))
                abort();
        if (n && memcmp(v.types, f.types, 4 * n)) abort();
        if (!v.forces != !f.forces || (f.forces && n && memcmp(v.forces, f.forces, 12 * n)) ||
            !v.forces64 != !f.forces64 || (f.forces64 && n && memcmp(v.forces64, f.forces64, 24 * n)))
            abort();
        free(enc);
    }
    if (rc < 0) {
        if (rc != VLS_E_CORRUPT && rc != VLS_E_TOOBIG && rc != VLS_E_NOMEM) abort();
        if (strncmp(vls_xyz_errmsg(p), "fuzz:", 5) != 0) abort();
    }
    vls_xyz_close(p);
    free(buf);
    return 0;
}
