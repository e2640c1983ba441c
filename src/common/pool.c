/* pool.c — see pool.h. Tasks are claimed with an atomic counter, so uneven chunks balance. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pool.h"

struct vls_pool {
    pthread_mutex_t run_mu; /* one batch at a time */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    int nthreads, stop;
    unsigned long generation;
    int active; /* workers still inside the current batch */
    void (*fn)(void *, size_t);
    void *arg;
    size_t ntasks;
    atomic_size_t next;
    pthread_t *threads;
};

static void work(vls_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->ntasks)
            break;
        p->fn(p->arg, i);
    }
}

static void *worker(void *arg)
{
    vls_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

vls_pool *pool_new(int nthreads)
{
    if (nthreads <= 1)
        return NULL;
    vls_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->run_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < nthreads - 1; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->nthreads++;
    }
    return p;
}

void pool_free(vls_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run_mu);
    free(p->threads);
    free(p);
}

void pool_run(vls_pool *p, size_t ntasks, void (*fn)(void *arg, size_t i), void *arg)
{
    if (!p || ntasks <= 1 || p->nthreads == 0 || pthread_mutex_trylock(&p->run_mu) != 0) {
        for (size_t i = 0; i < ntasks; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->active = p->nthreads;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run_mu);
}
