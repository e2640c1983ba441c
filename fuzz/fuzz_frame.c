/*
 * fuzz_frame.c — fuzz target for the frame verifier/view (src/frame.c).
 * Properties: vls_frame_view() never reads outside the input (ASan), and whatever it accepts
 * (v1 and v2 frames: float64 arrays, named properties) re-encodes and views back to the same
 * values.
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
        if (n && memcmp(w.types, v.types, 4 * n)) abort();
        /* (an absent and an empty vector are the same when there are no sites) */
        if (n && (!w.masses != !v.masses || (v.masses && memcmp(w.masses, v.masses, 4 * n))))
            abort();
        if (nd && (!w.positions != !v.positions ||
                   (v.positions && memcmp(w.positions, v.positions, 4 * nd))))
            abort();
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
        const struct {
            const double *v, *w;
            size_t n;
        } twins[] = {{v.positions64, w.positions64, nd}, {v.forces64, w.forces64, nd},
                     {v.masses64, w.masses64, n},        {v.charges64, w.charges64, n},
                     {v.cell64, w.cell64, 9},            {v.stress64, w.stress64, 9}};
        for (size_t k = 0; k < sizeof twins / sizeof twins[0]; k++)
            if (!twins[k].v != !twins[k].w ||
                (twins[k].v && twins[k].n && memcmp(twins[k].v, twins[k].w, 8 * twins[k].n)))
                abort();
        for (int pa = 0; pa < 2; pa++) {
            size_t np = pa ? v.natom_props : v.nprops;
            if (np != (pa ? w.natom_props : w.nprops)) abort();
            for (size_t i = 0; i < np; i++) {
                vls_prop a, b;
                if (vls_frame_prop(&v, pa, i, &a) || vls_frame_prop(&w, pa, i, &b)) abort();
                if (a.name_len != b.name_len || memcmp(a.name, b.name, a.name_len) ||
                    a.dtype != b.dtype || a.kind != b.kind || a.ndim != b.ndim ||
                    a.count != b.count || (a.ndim && memcmp(a.shape, b.shape, 4 * (size_t)a.ndim)))
                    abort();
                if (a.dtype == VLS_DT_STR) {
                    for (size_t k = 0; k < a.count; k++) {
                        size_t la, lb;
                        const char *sa = vls_prop_string(&a, k, &la);
                        const char *sb = vls_prop_string(&b, k, &lb);
                        if (!sa || !sb || la != lb || memcmp(sa, sb, la)) abort();
                    }
                } else if (a.dtype == VLS_DT_BOOL) { /* the encoder writes bools as 0/1 */
                    for (size_t k = 0; k < a.count; k++)
                        if ((((const uint8_t *)a.data)[k] != 0) != ((const uint8_t *)b.data)[k])
                            abort();
                } else if (a.count &&
                           memcmp(a.data, b.data, a.count * vls_dtype_size(a.dtype))) {
                    abort();
                }
            }
        }
        free(enc);
    } else if (rc != VLS_E_CORRUPT && rc != VLS_E_TRUNCATED) {
        abort();
    }
    free(buf);
    return 0;
}
