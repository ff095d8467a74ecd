/* par.c - fork-join thread pool; see par.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>
#include "par.h"

/* A thread that finds no work waits SPIN_NS spinning before it sleeps on a condition
 * variable: a training step calls par_run several times with little between, and waking a
 * sleeping thread costs tens of microseconds (more on a virtual machine, where the idle CPU
 * has been handed back to the host). The caller waits for the others the same way. */
enum { SPIN_NS = 200000 };

struct par_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong generation;          /* bumped for each par_run (and to quit) */
    atomic_int pending;               /* workers still running the current job */
    atomic_int quit;
    int sleeping;                     /* workers waiting on go (under mu) */
    int waiting;                      /* the caller waits on done (under mu) */
    par_fn fn;                        /* the job: written before generation is bumped */
    void *ctx;
};

typedef struct { par_pool *p; int part; } worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Spin until cond(p, arg) holds or SPIN_NS pass; 1 if it holds. */
static int spin(int (*cond)(par_pool *, unsigned long), par_pool *p, unsigned long arg)
{
    long long end = 0;
    for (int i = 0;; i++) {
        if (cond(p, arg))
            return 1;
        if ((i & 63) == 0) {              /* the clock now and then, not every turn */
            long long t = now_ns();
            if (!end)
                end = t + SPIN_NS;
            else if (t > end)
                return 0;
        }
        if (i < 256)
            cpu_relax();
        else
            sched_yield();                /* another thread may need this CPU */
    }
}

static int new_job(par_pool *p, unsigned long seen)
{
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen;
}

static int all_done(par_pool *p, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

static void *worker(void *arg)
{
    worker_arg *a = arg;
    par_pool *p = a->p;
    unsigned long seen = 0;
    for (;;) {
        if (!spin(new_job, p, seen)) {
            pthread_mutex_lock(&p->mu);
            p->sleeping++;
            while (!new_job(p, seen))
                pthread_cond_wait(&p->go, &p->mu);
            p->sleeping--;
            pthread_mutex_unlock(&p->mu);
        }
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (atomic_load(&p->quit))
            break;
        p->fn(p->ctx, a->part, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);       /* the last one: wake the caller if it sleeps */
            if (p->waiting)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    free(a);
    return NULL;
}

/* Stop and join workers 1..started-1, free the pool. */
static void pool_end(par_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
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
        atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
        if (p->sleeping)
            pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    if (p->n > 1 && !spin(all_done, p, 0)) {
        pthread_mutex_lock(&p->mu);
        p->waiting = 1;
        while (!all_done(p, 0))
            pthread_cond_wait(&p->done, &p->mu);
        p->waiting = 0;
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
