/* spare.c — buffers for compressed chunks read with pread, kept on the handle for reuse: a
 * fresh multi-MiB buffer per read costs page faults on every copy into it. */
#include <stdlib.h>

#include "store.h"

#define SPARE_MAX 8 /* kept; more concurrent readers allocate and free their own */

/* A buffer of at least len bytes: a kept one when one is big enough, else a new one. */
spare_buf *store_spare_take(vls_store *s, size_t len)
{
    pthread_mutex_lock(&s->spare_mu);
    spare_buf **pp = &s->spare, *b;
    while ((b = *pp) != NULL && b->cap < len)
        pp = &b->next;
    if (b) {
        *pp = b->next;
        s->nspare--;
    }
    pthread_mutex_unlock(&s->spare_mu);
    if (b)
        return b;
    size_t cap = len < ((size_t)1 << 20) ? (size_t)1 << 20 : len + len / 4;
    if (cap > SIZE_MAX - sizeof *b || !(b = malloc(sizeof *b + cap)))
        return NULL;
    b->cap = cap;
    return b;
}

void store_spare_give(vls_store *s, spare_buf *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&s->spare_mu);
    if (s->nspare < SPARE_MAX) {
        b->next = s->spare;
        s->spare = b;
        s->nspare++;
        b = NULL;
    }
    pthread_mutex_unlock(&s->spare_mu);
    free(b);
}

void store_spare_free_all(vls_store *s)
{
    while (s->spare) {
        spare_buf *n = s->spare->next;
        free(s->spare);
        s->spare = n;
    }
}
