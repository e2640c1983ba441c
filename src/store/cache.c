/* cache.c — LRU of decoded chunks (see cache.h). A short list walk under one mutex: the cache
 * holds tens of chunks, so a hash table would not pay for itself. */
#include <pthread.h>
#include <stdlib.h>

#include "cache.h"

struct vls_cache {
    pthread_mutex_t mu;
    uint64_t capacity, used;
    cache_item *head, *tail; /* most recently used first */
};

vls_cache *cache_new(uint64_t capacity)
{
    vls_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->capacity = capacity;
    return c;
}

static void unlink_item(vls_cache *c, cache_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        c->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        c->tail = it->prev;
    it->prev = it->next = NULL;
}

static void push_front(vls_cache *c, cache_item *it)
{
    it->prev = NULL;
    it->next = c->head;
    if (c->head)
        c->head->prev = it;
    c->head = it;
    if (!c->tail)
        c->tail = it;
}

static void drop(vls_cache *c, cache_item *it)
{
    unlink_item(c, it);
    c->used -= it->len;
    it->evicted = 1;
    if (it->refs == 0) {
        free(it->data);
        free(it);
    }
}

void cache_free(vls_cache *c)
{
    if (!c)
        return;
    cache_clear(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void cache_clear(vls_cache *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->head)
        drop(c, c->head);
    pthread_mutex_unlock(&c->mu);
}

cache_item *cache_get(vls_cache *c, uint64_t chunk)
{
    pthread_mutex_lock(&c->mu);
    cache_item *it = c->head;
    while (it && it->chunk != chunk)
        it = it->next;
    if (it) {
        it->refs++;
        if (it != c->head) {
            unlink_item(c, it);
            push_front(c, it);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return it;
}

cache_item *cache_put(vls_cache *c, uint64_t chunk, unsigned char *data, size_t len)
{
    if (len > c->capacity)
        return NULL;
    cache_item *it = malloc(sizeof *it);
    if (!it)
        return NULL;
    pthread_mutex_lock(&c->mu);
    for (cache_item *o = c->head; o; o = o->next) {
        if (o->chunk == chunk) { /* lost a race with another reader: use theirs */
            o->refs++;
            pthread_mutex_unlock(&c->mu);
            free(it);
            free(data);
            return o;
        }
    }
    /* make room: evict from the cold end (pinned items leave the list, freed on release) */
    while (c->used + len > c->capacity && c->tail)
        drop(c, c->tail);
    it->chunk = chunk;
    it->data = data;
    it->len = len;
    it->refs = 1;
    it->evicted = 0;
    push_front(c, it);
    c->used += len;
    pthread_mutex_unlock(&c->mu);
    return it;
}

void cache_release(vls_cache *c, cache_item *it)
{
    pthread_mutex_lock(&c->mu);
    int free_it = --it->refs == 0 && it->evicted;
    pthread_mutex_unlock(&c->mu);
    if (free_it) {
        free(it->data);
        free(it);
    }
}
