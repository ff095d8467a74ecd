/* train.h - training and evaluating a model on a dataset, on a pool of threads.
 *
 * An evaluator is the threads and, for each, a worker: its work area (lstm_work), batch
 * buffers and carried state. It runs the model forward over a dataset, in one of the two
 * layouts train knows:
 *   eval_windows   windows first .. first + count, each from a zero state: the sum of the
 *                  losses of their targets (the last character, or every position);
 *   eval_streams   text cut into B contiguous streams, read T characters at a time with the
 *                  state carried: the sum of the losses of every character after the first
 *                  of each stream.
 * train's validation and the evaluate tool both call these, so their losses agree.
 *
 * A trainer adds what training needs: per-worker gradients and carried state, the shuffle
 * order, and train_step (gather the batch, forward and backward on every worker, reduce the
 * gradients, clip, Adam). An epoch is the shuffled training windows in batches of st->batch,
 * or the training text cut into m->streams streams, m->maxlen characters per batch.
 *
 * Across processes (data-parallel training, e.g. under MPI): the caller gives the trainer a
 * train_comm with a sum across processes. Every batch is then split by process first, then
 * by thread: process r of R takes the rows (windows or streams) [b r / R, b (r + 1) / R) of
 * the global batch of b. After the threads' gradients are summed, the process's gradient
 * and loss are summed across processes, the norm is taken of the result, and every process
 * takes the same Adam step. Dropout masks follow the global first row of each thread's
 * part, so they are the same whenever the rows are cut into the same parts. Validation is
 * split across processes the same way and its sums added. Without a train_comm (or with
 * size 1) everything is as in one process.
 *
 * Nothing here ends the process or prints; constructors return NULL with a message.
 */
#ifndef CHARPIPE_TRAIN_H
#define CHARPIPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "dataset.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "rng.h"

typedef struct worker {
    lstm_work *work;
    int32_t *x, *y;                   /* batch buffers: (bmax, T) */
    float *vh, *vc;                   /* evaluation's carried state (L, bmax, H) */
    /* training only */
    float *grad;                      /* the gradient of its part of the batch (nparams) */
    lstm_params g;                    /* views into grad */
    float *h, *c;                     /* carried state of its streams (L, bmax, H) */
    double loss, sumsq;
} worker;

typedef struct evaluator {
    const kern_ops *k;
    lstm_dims dim;
    par_pool *pool;
    int nthreads, bmax, T;            /* rows per worker at most, steps per batch at most */
    worker *w;                        /* nthreads */
    /* When set, called on the calling thread as its own share of a job (the first part, which
     * the other threads' parts keep pace with) advances: done is the fraction of it done,
     * (0 .. 1]. For a progress display; it must not touch the evaluator. */
    void (*progress)(void *ctx, double done);
    void *progress_ctx;
} evaluator;

/* Threads and work areas for up to bmax rows of T steps per thread. */
evaluator *evaluator_new(const kern_ops *k, lstm_dims dim, int nthreads, int bmax, int T,
                         char *err, size_t cap);
void evaluator_free(evaluator *ev);

/* Sum of the losses of windows first .. first + count of d (every target with
 * per_position, else the last); each thread takes a contiguous share in batches of bmax. */
double eval_windows(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                    size_t count, int per_position);

/* Sum of the losses over the text first .. first + count of d cut into B streams of
 * (count - 1) / B characters (B <= nthreads * bmax), ev->T at a time, the state carried
 * from zeros. *ntargets receives the number of characters predicted. */
double eval_streams(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                    size_t count, int B, double *ntargets);
/* The same for streams lo .. hi of the B only (hi - lo <= nthreads * bmax): a share of the
 * work, whose sums add up to eval_streams's. */
double eval_streams_range(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                          size_t count, int B, int lo, int hi, double *ntargets);

/* The processes a trainer works with (see above). */
typedef struct train_comm {
    int rank, size;                   /* this process, and how many there are */
    /* Sum across processes, in place: the floats g[0..n) (n may be 0) and the doubles
     * v[0..nv). Returns 0, or -1 on failure. */
    int (*sum)(void *ctx, float *g, size_t n, double *v, int nv);
    /* The largest across processes, in place: the doubles v[0..nv). Returns 0, or -1. */
    int (*max)(void *ctx, double *v, int nv);
    void *ctx;
    /* streams: the dataset is this process's own text (a shard), its streams cut from it
     * alone; else every process holds the same data */
    int sharded;
} train_comm;

typedef struct trainer {
    evaluator *ev;
    model *m;
    train_state *st;                  /* its optimizer state, settings and progress */
    const dataset *d;
    size_t nparams;
    lstm_params wp;                   /* the weights training updates: st->raw's when the model
                                         averages them (st->ema), else m->p */
    int N;                            /* steps per window or batch */
    /* what an epoch is */
    size_t ntrain, nval;              /* windows, or characters of text (validation after) */
    size_t per_stream;                /* streams: training characters per stream */
    long nbatches;                    /* per epoch (with shards, the fewest of any process) */
    size_t start;                     /* streams: where in its share of the text each stream
                                         starts this epoch (0, or random: st->random_starts) */
    uint32_t *perm;                   /* windows: the shuffle order of the training windows */
    train_comm comm;                  /* size 1 when alone */
    int precision;                    /* the steps' products: LSTM_FP32 or LSTM_BF16 (lstm.h) */
    int slo, shi;                     /* streams: this process's share of the m->streams */
    char error[512];                  /* why the last run stopped with an error (run.h) */
} trainer;

/* A trainer for m with its training state st on d: the validation split, work areas for
 * nthreads threads. */
trainer *trainer_new(const kern_ops *k, model *m, train_state *st, const dataset *d,
                     int nthreads, char *err, size_t cap);
/* The same as one of comm->size processes (comm NULL: alone). */
trainer *trainer_new_comm(const kern_ops *k, model *m, train_state *st, const dataset *d,
                          int nthreads, const train_comm *comm, char *err, size_t cap);
void trainer_free(trainer *tr);

/* The precision of the training steps' products (lstm.h's LSTM_FP32, the default, or
 * LSTM_BF16), from the next step on; validation stays float. 0, or -1 with the reason in err
 * (out of memory for bf16's scratch, an unknown precision). The parameters and the optimizer
 * state are the same float ones either way: a run may change it when it is resumed. */
int trainer_set_precision(trainer *tr, int precision, char *err, size_t cap);

/* The start of an epoch: the windows shuffled with r, or the streams' carried state loaded
 * from st's (zeros if it has none) and, with st->random_starts, their start drawn from r. */
void trainer_epoch_begin(trainer *tr, rng_t *r);

/* Batch bi of the epoch with learning rate lr: returns the sum of its losses (of the whole
 * batch, across processes), and counts it in st (steps, epoch_batches, epoch_loss_sum).
 * NAN if the sum across processes failed. Its arguments live on its own stack while the
 * threads work, not in the trainer. */
double train_step(trainer *tr, long bi, float lr);
/* The same, with shared[0..nshared) (nshared <= TRAIN_MAX_SHARED) summed across processes
 * in place with the step's gradient (alone: unchanged): how processes agree, at the same
 * step and at no extra cost, on what one of them asks for (a signal, a clock). */
#define TRAIN_MAX_SHARED 8
double train_step_shared(trainer *tr, long bi, float lr, double *shared, int nshared);

/* Targets (characters predicted) in the first `batches` batches of an epoch. */
double trainer_targets(const trainer *tr, long batches);

/* The learning rate of st's schedule at progress (0 .. 1) through the run, times the warm-up
 * factor of the next Adam step (optim.h's warmup_factor with st->warmup). */
float trainer_lr(const trainer *tr, double progress);

/* An epoch is complete: count it, and start the next from the RNG r and a zero state. */
void trainer_epoch_end(trainer *tr, const rng_t *r);

/* Mean validation loss per target (NAN when there is nothing to validate on). */
double trainer_validate(trainer *tr);

/* The carried state of every stream into st->state_h, state_c (for a checkpoint): across
 * processes, every process's streams summed into the whole (L, B, H) on every process.
 * Returns -1 if out of memory (or the sum failed). */
int trainer_save_state(trainer *tr);

#endif
