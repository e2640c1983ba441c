/* hash.c — the record hashes (libxxhash). */
#include "xxh.h"

#include "vlstore.h"

uint64_t vls_hash64(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

void vls_hash128(const void *data, size_t len, unsigned char out[16])
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    for (int i = 0; i < 16; i++)
        out[i] = c.digest[i];
}
