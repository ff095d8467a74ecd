/* par.c - fork-join thread pool; see par.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include "par.h"

struct par_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation;         /* bumped for each par_run */
    int pending;                      /* workers still running the current job */
    int quit;
    par_fn fn;
    void *ctx;
};

typedef struct { par_pool *p; int part; } worker_arg;

static void *worker(void *arg)
{
    worker_arg *a = arg;
    par_pool *p = a->p;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->generation == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = p->generation;
        par_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, a->part, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    free(a);
    return NULL;
}

/* Stop and join workers 1..started-1, free the pool. */
static void pool_end(par_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

par_pool *par_new(int nthreads)
{
    par_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = nthreads < 1 ? 1 : nthreads;
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    if (!p->threads || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->threads);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->go, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p->threads);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->mu);
        free(p->threads);
        free(p);
        return NULL;
    }
    for (int i = 1; i < p->n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->part = i;
        }
        int rc = a ? pthread_create(&p->threads[i], NULL, worker, a) : ENOMEM;
        if (rc != 0) {
            free(a);
            pool_end(p, i);
            errno = rc;               /* EAGAIN: no memory for its stack, or too many threads */
            return NULL;
        }
    }
    return p;
}

int par_size(const par_pool *p) { return p->n; }

void par_run(par_pool *p, par_fn fn, void *ctx)
{
    if (p->n > 1 && pthread_mutex_lock(&p->mu) != 0) {
        /* the workers cannot be reached (a broken mutex): every part on this thread, in
         * order, gives the same result */
        for (int i = 0; i < p->n; i++)
            fn(ctx, i, p->n);
        return;
    }
    if (p->n > 1) {
        p->fn = fn;
        p->ctx = ctx;
        p->pending = p->n - 1;
        p->generation++;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void par_free(par_pool *p)
{
    if (p)
        pool_end(p, p->n);
}

int par_ncpu(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
