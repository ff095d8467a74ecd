/* pthread.h for the WebAssembly build (make wasm): wasi-libc has no threads, and the page
 * runs the generator in one worker. What lib/ uses of threads, single-threaded: a "once" runs
 * its function the first time; a thread cannot be created (ts.c's parallel gzip writer then
 * compresses in the calling thread, as it does when pthread_create fails anywhere). */
#ifndef CHARPIPE_WASM_PTHREAD_H
#define CHARPIPE_WASM_PTHREAD_H

#include <errno.h>
#include <sys/types.h>                  /* pthread_t, pthread_attr_t */

typedef int pthread_once_t;
#define PTHREAD_ONCE_INIT 0

static inline int pthread_once(pthread_once_t *once, void (*fn)(void))
{
    if (!*once) {
        *once = 1;
        fn();
    }
    return 0;
}

static inline int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    (void)t; (void)a; (void)fn; (void)arg;
    return EAGAIN;
}

static inline int pthread_join(pthread_t t, void **ret)
{
    (void)t; (void)ret;
    return ESRCH;
}

#endif
