/* cache.h — a bounded, thread-safe LRU cache of decoded chunks, shared by the reading
 * threads of one store. Items are pinned while in use and freed only when unpinned. */
#ifndef VLS_CACHE_H
#define VLS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vls_cache vls_cache;

typedef struct cache_item {
    uint64_t chunk;
    unsigned char *data;
    size_t len;
    int refs;    /* pins; guarded by the cache mutex */
    int evicted; /* dropped from the list; freed when refs reaches 0 */
    struct cache_item *prev, *next;
} cache_item;

vls_cache *cache_new(uint64_t capacity);
void cache_free(vls_cache *c);
/* Returns the pinned item for chunk, or NULL. */
cache_item *cache_get(vls_cache *c, uint64_t chunk);
/* Inserts data (malloc'd, ownership taken) for chunk and returns it pinned. If another thread
 * inserted the same chunk meanwhile, frees data and returns that item instead. Returns NULL
 * when the item is larger than the whole cache (data is then left with the caller). */
cache_item *cache_put(vls_cache *c, uint64_t chunk, unsigned char *data, size_t len);
void cache_release(vls_cache *c, cache_item *it);
void cache_clear(vls_cache *c);

#endif
