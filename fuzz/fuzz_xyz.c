/*
 * fuzz_xyz.c — fuzz target for the XYZ reader (src/xyz.c).
 * Properties: the reader never reads outside the input (which is not NUL-terminated), every
 * result is a frame, the end, or an error with a "fuzz:<line>:" message, and every frame it
 * produces encodes and views back.
 *
 * libFuzzer (from the source root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude fuzz/fuzz_xyz.c src/xyz.c \
 *       src/elements.c src/frame.c -o /tmp/fuzz_xyz && /tmp/fuzz_xyz -max_total_time=60
 * Replay driver: add -DVLS_FUZZ_MAIN and build with gcc, then pass files as arguments.
 */
#include "vlstore_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vls_xyz *p;
    if (vls_xyz_open_mem(buf, size, "fuzz", &p) != VLS_OK) abort();
    if (size > 2 && data[0] == 'K') vls_xyz_set_keys(p, "E", "F");
    vls_frame f;
    int rc, frames = 0;
    while ((rc = vls_xyz_next(p, &f)) == 1 && frames++ < 50) {
        void *enc;
        size_t len;
        if (vls_frame_encode_alloc(&f, &enc, &len) != VLS_OK) abort();
        vls_frame v;
        if (vls_frame_view(enc, len, &v) != VLS_OK) abort();
        size_t n = (size_t)f.nsites;
        if (v.nsites != f.nsites || (n && memcmp(v.positions, f.positions, 12 * n))) abort();
        if (n && memcmp(v.types, f.types, 4 * n)) abort();
        if (!v.forces != !f.forces || (f.forces && n && memcmp(v.forces, f.forces, 12 * n)))
            abort();
        free(enc);
    }
    if (rc < 0) {
        if (rc != VLS_E_CORRUPT && rc != VLS_E_TOOBIG && rc != VLS_E_NOMEM) abort();
        if (strncmp(vls_xyz_error(p), "fuzz:", 5) != 0) abort();
    }
    vls_xyz_close(p);
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
