/* compressor.c — see compressor.h. */
#include <pthread.h>
#include <stdlib.h>

#include "compressor.h"

struct vls_compressor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    int busy; /* a job was handed over and is not finished */
    /* the job */
    const chunk_params *p;
    const void *src;
    size_t raw;
    void *dst;
    size_t stored;
    uint8_t codec;
};

static void *compressor_main(void *arg)
{
    vls_compressor *z = arg;
    pthread_mutex_lock(&z->mu);
    for (;;) {
        while (!z->stop && !z->busy)
            pthread_cond_wait(&z->cv, &z->mu);
        if (z->stop && !z->busy)
            break;
        pthread_mutex_unlock(&z->mu);
        size_t stored = 0;
        uint8_t codec = 0;
        chunk_compress(z->p, z->src, z->raw, z->dst, &stored, &codec);
        pthread_mutex_lock(&z->mu);
        z->stored = stored;
        z->codec = codec;
        z->busy = 0;
        pthread_cond_broadcast(&z->cv);
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

vls_compressor *compressor_new(void)
{
    vls_compressor *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    if (pthread_create(&z->thread, NULL, compressor_main, z) != 0) {
        pthread_cond_destroy(&z->cv);
        pthread_mutex_destroy(&z->mu);
        free(z);
        return NULL;
    }
    return z;
}

void compressor_free(vls_compressor *z)
{
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    pthread_join(z->thread, NULL);
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    free(z);
}

void compressor_start(vls_compressor *z, const chunk_params *p, const void *src, size_t raw,
                      void *dst)
{
    pthread_mutex_lock(&z->mu);
    z->p = p;
    z->src = src;
    z->raw = raw;
    z->dst = dst;
    z->busy = 1;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
}

void compressor_wait(vls_compressor *z, size_t *stored, uint8_t *codec_used)
{
    pthread_mutex_lock(&z->mu);
    while (z->busy)
        pthread_cond_wait(&z->cv, &z->mu);
    *stored = z->stored;
    *codec_used = z->codec;
    pthread_mutex_unlock(&z->mu);
}
