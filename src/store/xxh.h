/* xxh.h — libxxhash, with its runtime CPU dispatch where the library has it.
 *
 * Debian's libxxhash exports XXH3_64bits_dispatch & co. (x86-64): the same hashes, computed
 * with AVX2 when the CPU has it. Measured here on 2.7 MB buffers: 22 GB/s against 8–12 GB/s
 * for the plain SSE2 XXH3_64bits, which made the chunk checksum about a fifth of a warm
 * scan. CMake defines VLS_HAVE_XXH_DISPATCH when the library links with it; the header
 * then maps XXH3_64bits, XXH3_64bits_update and XXH3_128bits onto the dispatching entry
 * points. Include this instead of <xxhash.h> in src/. */
#ifndef VLS_XXH_H
#define VLS_XXH_H

#include <xxhash.h>
#ifdef VLS_HAVE_XXH_DISPATCH
#include <xxh_x86dispatch.h>
#endif

#endif
