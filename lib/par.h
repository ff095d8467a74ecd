/* par.h - a tiny fixed pool of threads that run one function together (fork-join).
 *
 *     par_pool *p = par_new(2);
 *     par_run(p, work, ctx);      // work(ctx, 0, 2) and work(ctx, 1, 2) in parallel; returns
 *                                 // when both are done (the calling thread runs part 0)
 *     par_free(p);
 */
#ifndef CHARPIPE_PAR_H
#define CHARPIPE_PAR_H

typedef struct par_pool par_pool;
typedef void (*par_fn)(void *ctx, int part, int nparts);

par_pool *par_new(int nthreads);          /* nthreads >= 1; NULL (errno set) if they cannot be started */
int  par_size(const par_pool *p);
void par_run(par_pool *p, par_fn fn, void *ctx);
void par_free(par_pool *p);

/* Number of CPUs this process may run on (at least 1). */
int par_ncpu(void);

#endif
