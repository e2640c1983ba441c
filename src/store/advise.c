/* advise.c — page-cache advice on chunks (vls_chunk_advise, vls_chunk_extent): the I/O side
 * of the loader's read path (src/loader/loader.c), kept apart from the read functions.
 *
 * Why posix_fadvise and not madvise: the loader's stores are read with pread (VLS_NOMMAP), so
 * the page cache is the only copy to steer; WILLNEED queues the reads of chunks the loader
 * will decode next (the disk stays busy while the current ones decode), DONTNEED frees their
 * pages once decoded (a data set bigger than memory then neither thrashes the cache nor
 * pushes the training process out). Pages mapped by another handle are not dropped: the
 * kernel keeps mapped pages, so the advice cannot break a reader. */
#include <fcntl.h>
#include <unistd.h>

#include "store.h"

/* Chunk range [first, first+count) to file bytes [*from, *to): caller holds the read lock. */
static int chunk_range(vls_store *s, uint64_t first, uint64_t count, uint64_t *from,
                       uint64_t *to)
{
    if (count == 0 || first >= s->ix.nc || count > s->ix.nc - first)
        return vls_seterr(s, VLS_E_NOTFOUND, "no chunks %llu..%llu (the store has %llu)",
                          (unsigned long long)first,
                          (unsigned long long)(first + (count ? count - 1 : 0)),
                          (unsigned long long)s->ix.nc);
    const idx_chunk *a = &s->ix.c[first], *b = &s->ix.c[first + count - 1];
    *from = a->file_off;
    *to = b->file_off + FMT_FRAME_HDR_SIZE + b->payload;
    if (*to < *from) /* chunks are numbered in file order; a damaged index may say otherwise */
        *to = *from;
    return VLS_OK;
}

int vls_chunk_advise(vls_store *s, uint64_t first, uint64_t count, int advice)
{
    if (!s)
        return VLS_E_INVAL;
    if (advice != VLS_ADVISE_WILLNEED && advice != VLS_ADVISE_DONTNEED &&
        advice != VLS_ADVISE_EXACT)
        return vls_seterr(s, VLS_E_INVAL, "vls_chunk_advise: unknown advice %d", advice);
    uint64_t from = 0, to = 0;
    pthread_rwlock_rdlock(&s->lock);
    int rc = advice == VLS_ADVISE_EXACT ? VLS_OK : chunk_range(s, first, count, &from, &to);
    int fd = io_fd(s->io);
    pthread_rwlock_unlock(&s->lock);
    if (rc != VLS_OK || fd < 0)
        return rc;
    if (advice == VLS_ADVISE_DONTNEED) {
        /* the kernel drops only pages wholly inside the range: widen it to whole pages, or
         * the page a chunk shares with each neighbour stays (most of a small chunk). A
         * neighbour that loses its shared page reads it again if it is read. */
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        from -= from % page;
        to += (page - to % page) % page;
    }
    /* advice only: an error (a file system without page cache) changes nothing we rely on */
    (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from),
                        advice == VLS_ADVISE_WILLNEED ? POSIX_FADV_WILLNEED :
                        advice == VLS_ADVISE_DONTNEED ? POSIX_FADV_DONTNEED : POSIX_FADV_RANDOM);
    return VLS_OK;
}

int vls_chunk_extent(vls_store *s, uint64_t chunk, uint64_t *offset, uint64_t *bytes)
{
    if (!s || !offset || !bytes)
        return vls_seterr(s, VLS_E_INVAL, "vls_chunk_extent: NULL argument");
    uint64_t from = 0, to = 0;
    pthread_rwlock_rdlock(&s->lock);
    int rc = chunk_range(s, chunk, 1, &from, &to);
    pthread_rwlock_unlock(&s->lock);
    if (rc == VLS_OK) {
        *offset = from;
        *bytes = to - from;
    }
    return rc;
}
