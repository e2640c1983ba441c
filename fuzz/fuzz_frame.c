/*
 * fuzz_frame.c — fuzz target for the frame verifier/view (src/frame.c).
 * Properties: vls_frame_view() never reads outside the input (ASan), and whatever it accepts
 * re-encodes and views back to the same values.
 *
 * Built by fuzz/CMakeLists.txt: always as replay_frame (this file + replay.c, runs a corpus; a
 * ctest test replays fuzz/corpus/frame), and with -DVLS_BUILD_FUZZ=ON (clang) as the libFuzzer
 * binary fuzz_frame:  fuzz_frame -jobs=1 -max_total_time=600 CORPUS_DIR fuzz/corpus/frame
 */
#include "vlstore_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* exact-size heap copy: ASan reports any read past the end; malloc'd, so aligned */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vls_frame v;
    int rc = vls_frame_view(buf, size, &v);
    if (rc == VLS_OK) {
        void *enc;
        size_t len;
        if (vls_frame_encode_alloc(&v, &enc, &len) != VLS_OK) abort();
        vls_frame w;
        if (vls_frame_view(enc, len, &w) != VLS_OK) abort();
        size_t n = (size_t)v.nsites, nd = n * (size_t)v.ncodim;
        if (w.nsites != v.nsites || w.ncodim != v.ncodim || w.name_len != v.name_len) abort();
        if (memcmp(w.name, v.name, v.name_len + 1)) abort();
        if (n && (memcmp(w.types, v.types, 4 * n) || memcmp(w.masses, v.masses, 4 * n))) abort();
        if (nd && memcmp(w.positions, v.positions, 4 * nd)) abort();
        if (!w.forces != !v.forces || (v.forces && nd && memcmp(w.forces, v.forces, 4 * nd)))
            abort();
        if (!w.has_energy != !v.has_energy ||
            (v.has_energy && memcmp(&w.energy, &v.energy, sizeof(double))))
            abort();
        if (!w.cell != !v.cell || (v.cell && memcmp(w.cell, v.cell, 36))) abort();
        if (!w.stress != !v.stress || (v.stress && memcmp(w.stress, v.stress, 36))) abort();
        if (!w.charges != !v.charges || (v.charges && n && memcmp(w.charges, v.charges, 4 * n)))
            abort();
        if (!w.pbc != !v.pbc) abort();
        free(enc);
    } else if (rc != VLS_E_CORRUPT && rc != VLS_E_TRUNCATED) {
        abort();
    }
    free(buf);
    return 0;
}
