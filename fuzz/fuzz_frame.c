/*
 * fuzz_frame.c — fuzz target for the frame verifier/view (src/frame.c).
 * Properties: vls_frame_view() never reads outside the input (ASan), and whatever it accepts
 * re-encodes and views back to the same values.
 *
 * libFuzzer (from the source root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude fuzz/fuzz_frame.c src/frame.c \
 *       -o /tmp/fuzz_frame && /tmp/fuzz_frame -max_total_time=60 tests/golden/frame
 * Replay driver without libFuzzer (any C compiler):
 *   gcc -g -DVLS_FUZZ_MAIN -fsanitize=address,undefined -Iinclude fuzz/fuzz_frame.c \
 *       src/frame.c -o /tmp/replay_frame && /tmp/replay_frame tests/golden/frame/vlstore-v1.bin
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
    char msg[128];
    int rc = vls_frame_view_msg(buf, size, &v, msg, sizeof msg);
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

#ifdef VLS_FUZZ_MAIN
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
        size_t got = fread(d, 1, (size_t)n, f);
        fclose(f);
        LLVMFuzzerTestOneInput(d, got);
        free(d);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
#endif
