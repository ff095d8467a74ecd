/* train.c - the training step and the evaluation loops, on a pool of threads. See train.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "optim.h"
#include "util.h"
#include "train.h"

/* ---- evaluation ---- */

evaluator *evaluator_new(const kern_ops *k, lstm_dims dim, int nthreads, int bmax, int T,
                         char *err, size_t cap)
{
    evaluator *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->w = calloc((size_t)nthreads, sizeof *ev->w))) {
        free(ev);
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    *ev = (evaluator){ .k = k, .dim = dim, .nthreads = nthreads, .bmax = bmax, .T = T, .w = ev->w };
    for (int i = 0; i < nthreads; i++) {
        worker *w = &ev->w[i];
        w->work = lstm_work_new(dim, T, bmax);
        w->x = malloc((size_t)bmax * T * sizeof *w->x);
        w->y = malloc((size_t)bmax * T * sizeof *w->y);
        if (!w->work || !w->x || !w->y) {
            evaluator_free(ev);
            lib_fail(err, cap, "out of memory for the work areas (%d threads of %d x %d)", nthreads, bmax, T);
            return NULL;
        }
    }
    if (!(ev->pool = par_new(nthreads))) {
        int e = errno;
        evaluator_free(ev);
        lib_fail(err, cap, "cannot start %d threads: %s", nthreads, strerror(e));
        return NULL;
    }
    return ev;
}

void evaluator_free(evaluator *ev)
{
    if (!ev)
        return;
    for (int i = 0; ev->w && i < ev->nthreads; i++) {
        worker *w = &ev->w[i];
        lstm_work_free(w->work);
        free(w->x); free(w->y); free(w->vh); free(w->vc);
        free(w->grad); free(w->h); free(w->c);
    }
    if (ev->pool)
        par_free(ev->pool);
    free(ev->w);
    free(ev);
}

/* One evaluation's arguments, for the workers (on the caller's stack: the evaluator holds
 * none of them between calls). */
typedef struct eval_job {
    evaluator *ev;
    const lstm_params *p;
    const dataset *d;
    size_t first, count;
    int B, lo, hi, per_position;      /* streams lo .. hi of B */
} eval_job;

/* Run fn on every worker (each sets its loss) and sum their losses in order. */
static double run_sum(evaluator *ev, par_fn fn, void *ctx)
{
    par_run(ev->pool, fn, ctx);
    double sum = 0;
    for (int i = 0; i < ev->nthreads; i++)
        sum += ev->w[i].loss;
    return sum;
}

static void windows_part(void *ctx, int part, int nparts)
{
    const eval_job *j = ctx;
    evaluator *ev = j->ev;
    worker *w = &ev->w[part];
    size_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    lstm_seq s = { .per_position = j->per_position };
    double sum = 0;
    for (size_t a = lo; a < hi; a += (size_t)ev->bmax) {
        int b = (int)(hi - a < (size_t)ev->bmax ? hi - a : (size_t)ev->bmax);
        dataset_gather_range(j->d, j->first + a, b, w->x, w->y);
        sum += lstm_forward_seq(ev->k, j->p, w->work, b, j->d->N, w->x, w->y, NULL, &s);
        if (part == 0 && ev->progress)
            ev->progress(ev->progress_ctx, (double)(a + (size_t)b - lo) / (double)(hi - lo));
    }
    w->loss = sum;
}

double eval_windows(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                    size_t count, int per_position)
{
    eval_job j = { .ev = ev, .p = p, .d = d, .first = first, .count = count, .per_position = per_position };
    return run_sum(ev, windows_part, &j);
}

static void streams_part(void *ctx, int part, int nparts)
{
    const eval_job *j = ctx;
    evaluator *ev = j->ev;
    worker *w = &ev->w[part];
    int share = j->hi - j->lo;
    int lo = j->lo + share * part / nparts, hi = j->lo + share * (part + 1) / nparts, b = hi - lo;
    size_t n = (j->count - 1) / (size_t)j->B;
    size_t ns = (size_t)ev->dim.L * b * ev->dim.H;
    double sum = 0;
    if (b > 0) {
        memset(w->vh, 0, ns * sizeof(float));
        memset(w->vc, 0, ns * sizeof(float));
    }
    lstm_seq s = { .per_position = 1, .h0 = w->vh, .c0 = w->vc, .hT = w->vh, .cT = w->vc };
    for (size_t a = 0; b > 0 && a < n; a += (size_t)ev->T) {
        int T = (int)(n - a < (size_t)ev->T ? n - a : (size_t)ev->T);
        dataset_slice(j->d, j->first, n, lo, b, a, T, w->x, w->y);
        sum += lstm_forward_seq(ev->k, j->p, w->work, b, T, w->x, w->y, NULL, &s);
        if (part == 0 && ev->progress)
            ev->progress(ev->progress_ctx, (double)(a + (size_t)T) / (double)n);
    }
    w->loss = sum;
}

double eval_streams(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                    size_t count, int B, double *ntargets)
{
    return eval_streams_range(ev, p, d, first, count, B, 0, B, ntargets);
}

double eval_streams_range(evaluator *ev, const lstm_params *p, const dataset *d, size_t first,
                          size_t count, int B, int lo, int hi, double *ntargets)
{
    size_t n = count > 1 ? (count - 1) / (size_t)B : 0;
    *ntargets = (double)n * (hi - lo);
    if (n == 0)
        return 0;
    size_t ns = (size_t)ev->dim.L * ev->bmax * ev->dim.H;
    for (int i = 0; i < ev->nthreads; i++)     /* the carried state, made on first use */
        if (!ev->w[i].vh) {
            ev->w[i].vh = lib_zalloc(ns * sizeof(float));
            ev->w[i].vc = lib_zalloc(ns * sizeof(float));
            if (!ev->w[i].vh || !ev->w[i].vc)
                return NAN;
        }
    eval_job j = { .ev = ev, .p = p, .d = d, .first = first, .count = count, .B = B, .lo = lo, .hi = hi };
    return run_sum(ev, streams_part, &j);
}

/* ---- training ---- */

trainer *trainer_new(const kern_ops *k, model *m, train_state *st, const dataset *d,
                     int nthreads, char *err, size_t cap)
{
    return trainer_new_comm(k, m, st, d, nthreads, NULL, err, cap);
}

/* This process's share lo .. hi of n rows. */
static void share(const train_comm *c, int n, int *lo, int *hi)
{
    *lo = (int)((int64_t)n * c->rank / c->size);
    *hi = (int)((int64_t)n * (c->rank + 1) / c->size);
}

trainer *trainer_new_comm(const kern_ops *k, model *m, train_state *st, const dataset *d,
                          int nthreads, const train_comm *comm, char *err, size_t cap)
{
    trainer *tr = calloc(1, sizeof *tr);
    if (!tr) {
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    tr->comm = comm && comm->size > 1 ? *comm : (train_comm){ .rank = 0, .size = 1 };
    if (!m->streams)
        tr->comm.sharded = 0;
    tr->m = m;
    tr->st = st;
    tr->d = d;
    tr->N = m->maxlen;
    tr->nparams = lstm_nparams(m->dim);
    if (st->ema > 0 && !st->raw) {
        lib_fail(err, cap, "%s: the model averages its weights but has not the weights it trains", d->label);
        goto bad;
    }
    if (st->raw)
        lstm_bind(&tr->wp, st->raw, m->dim);
    else
        tr->wp = m->p;
    const char *L = d->label;
    /* what an epoch is: shuffled windows, or the training text cut into streams */
    if (m->streams) {
        share(&tr->comm, m->streams, &tr->slo, &tr->shi);
        int B = tr->comm.sharded ? tr->shi - tr->slo : m->streams;   /* streams cut from d */
        tr->nval = (size_t)((double)d->tn * st->val_split);
        tr->ntrain = d->tn - tr->nval;
        tr->per_stream = tr->ntrain > 0 && B > 0 ? (tr->ntrain - 1) / (size_t)B : 0;
        tr->nbatches = (long)(tr->per_stream / (size_t)tr->N);
        long own = tr->nbatches;
        if (tr->comm.sharded) {               /* the epoch: as many batches as every shard has */
            double v = -(double)own;          /* (every process takes part, even one that fails) */
            if (tr->comm.max(tr->comm.ctx, &v, 1) < 0) {
                lib_fail(err, cap, "%s: the processes could not agree on the epoch's length", L);
                goto bad;
            }
            tr->nbatches = (long)-v;
        }
        if (own == 0) {
            lib_fail(err, cap, "%s: %zu characters of training text are too few for %d streams of %d steps",
                     L, tr->ntrain, B, tr->N);
            goto bad;
        }
    } else {
        if (d->n > UINT32_MAX) {
            lib_fail(err, cap, "%s: more than 2^32 windows", L);
            goto bad;
        }
        tr->ntrain = (size_t)((double)d->n * (1.0 - st->val_split));
        tr->nval = d->n - tr->ntrain;
        if (tr->ntrain == 0) {
            lib_fail(err, cap, "%s: %zu windows leave none for training after the validation split", L, d->n);
            goto bad;
        }
        tr->nbatches = (long)((tr->ntrain + st->batch - 1) / st->batch);
        if (!(tr->perm = malloc(tr->ntrain * sizeof *tr->perm))) {
            lib_fail(err, cap, "out of memory for the order of %zu windows", tr->ntrain);
            goto bad;
        }
    }
    if (st->epoch_batches > tr->nbatches) {   /* a resumed model's place in its epoch */
        lib_fail(err, cap, "%s: the model stopped after batch %lld of an epoch, but this input makes epochs of %ld batches",
                 L, (long long)st->epoch_batches, tr->nbatches);
        goto bad;
    }
    int most = (st->batch + tr->comm.size - 1) / tr->comm.size;   /* rows per process at most */
    int bpart = (most + nthreads - 1) / nthreads;   /* rows (windows or streams) per thread */
    if (!m->streams && bpart > 1024)
        bpart = 1024;
    if (!(tr->ev = evaluator_new(k, m->dim, nthreads, bpart, tr->N, err, cap)))
        goto bad;
    size_t ns = m->streams ? (size_t)m->dim.L * bpart * m->dim.H : 0;
    for (int i = 0; i < nthreads; i++) {
        worker *w = &tr->ev->w[i];
        w->grad = lib_zalloc(tr->nparams * sizeof(float));
        if (!w->grad)
            goto oom;
        lstm_bind(&w->g, w->grad, m->dim);
        if (ns) {
            w->h = lib_zalloc(ns * sizeof(float));
            w->c = lib_zalloc(ns * sizeof(float));
            w->vh = lib_zalloc(ns * sizeof(float));
            w->vc = lib_zalloc(ns * sizeof(float));
            if (!w->h || !w->c || !w->vh || !w->vc)
                goto oom;
        }
    }
    return tr;
oom:
    lib_fail(err, cap, "out of memory for the gradients of %d threads", nthreads);
bad:
    trainer_free(tr);
    return NULL;
}

int trainer_set_precision(trainer *tr, int precision, char *err, size_t cap)
{
    if (precision != LSTM_FP32 && precision != LSTM_BF16)
        return lib_fail(err, cap, "unknown precision %d", precision);
    for (int i = 0; precision == LSTM_BF16 && i < tr->ev->nthreads; i++)
        if (lstm_work_bf16(tr->ev->w[i].work) < 0)
            return lib_fail(err, cap, "out of memory for the bf16 products' scratch (%d threads)",
                            tr->ev->nthreads);
    tr->precision = precision;
    return 0;
}

void trainer_free(trainer *tr)
{
    if (!tr)
        return;
    evaluator_free(tr->ev);
    free(tr->perm);
    free(tr);
}

static void shuffle(uint32_t *perm, size_t n, rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0 && n > 1; i--) {
        size_t j = rng_below(rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* The carried state of every stream, between the workers' parts and the model's (L, B, H). */
static void state_copy(trainer *tr, int to_model)
{
    model *m = tr->m;
    train_state *st = tr->st;
    int P = tr->ev->nthreads, n = tr->shi - tr->slo;
    for (int part = 0; part < P; part++) {
        worker *w = &tr->ev->w[part];
        int lo = tr->slo + n * part / P, hi = tr->slo + n * (part + 1) / P, b = hi - lo;
        for (int l = 0; l < m->dim.L; l++) {
            size_t mo = ((size_t)l * m->streams + lo) * m->dim.H, po = (size_t)l * b * m->dim.H;
            size_t len = (size_t)b * m->dim.H;
            if (to_model) {
                memcpy(st->state_h + mo, w->h + po, len * sizeof(float));
                memcpy(st->state_c + mo, w->c + po, len * sizeof(float));
            } else if (st->state_h) {
                memcpy(w->h + po, st->state_h + mo, len * sizeof(float));
                memcpy(w->c + po, st->state_c + mo, len * sizeof(float));
            } else {
                memset(w->h + po, 0, len * sizeof(float));
                memset(w->c + po, 0, len * sizeof(float));
            }
        }
    }
}

int trainer_save_state(trainer *tr)
{
    model *m = tr->m;
    train_state *st = tr->st;
    size_t ns = (size_t)m->dim.L * m->streams * m->dim.H;
    if (!st->state_h) {
        st->state_h = lib_zalloc(ns * sizeof(float));
        st->state_c = lib_zalloc(ns * sizeof(float));
        if (!st->state_h || !st->state_c) {
            free(st->state_h);
            free(st->state_c);
            st->state_h = st->state_c = NULL;
            return -1;
        }
    }
    if (tr->comm.size > 1) {                  /* every process's streams into the whole */
        memset(st->state_h, 0, ns * sizeof(float));
        memset(st->state_c, 0, ns * sizeof(float));
        state_copy(tr, 1);
        if (tr->comm.sum(tr->comm.ctx, st->state_h, ns, NULL, 0) < 0
            || tr->comm.sum(tr->comm.ctx, st->state_c, ns, NULL, 0) < 0)
            return -1;
        return 0;
    }
    state_copy(tr, 1);
    return 0;
}

void trainer_epoch_begin(trainer *tr, rng_t *r)
{
    if (tr->m->streams) {
        state_copy(tr, 0);                    /* zeros, or the checkpoint's carried state */
        /* random starts: the model meets a zero state at other places each epoch, not at
         * the same B (drawn again from the same RNG when a checkpoint resumes the epoch) */
        tr->start = tr->st->random_starts ? (size_t)rng_below(r, tr->per_stream) : 0;
    } else
        shuffle(tr->perm, tr->ntrain, r);
}

/* One step's arguments, for the workers (on train_step's stack: the trainer holds none of
 * them between calls). */
typedef struct step_job {
    trainer *tr;
    const uint32_t *rows;             /* windows: the batch's rows of the shuffle order */
    int b;                            /* rows in the (global) batch */
    int rlo, rhi;                     /* this process's share of them */
    size_t off;                       /* streams: the batch's first step in each stream */
    float lr, scale;                  /* the learning rate; the gradient's clipping factor */
} step_job;

/* Forward and backward of one worker's share of the batch, into its own gradient. */
static void train_part(void *ctx, int part, int nparts)
{
    const step_job *j = ctx;
    trainer *tr = j->tr;
    model *m = tr->m;
    train_state *st = tr->st;
    worker *w = &tr->ev->w[part];
    int rb = j->rhi - j->rlo;         /* this process's rows, lo .. hi of them this part's */
    int lo = j->rlo + rb * part / nparts, hi = j->rlo + rb * (part + 1) / nparts, b = hi - lo;
    int pp = m->per_position;
    memset(w->grad, 0, tr->nparams * sizeof(float));
    w->loss = 0;
    if (b == 0)
        return;
    rng_t r;                          /* dropout masks: a function of the seed, the step and
                                         each row's place in the global batch (lstm.h) */
    rng_seed(&r, st->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)st->steps * 1000003);
    lstm_seq s = { .per_position = pp, .dropout = (float)st->dropout, .rng = &r, .row0 = lo,
                   .weight_drop = (float)st->weight_drop, .locked_dropout = (float)st->locked_dropout,
                   .input_dropout = (float)st->input_dropout, .precision = tr->precision };
    if (m->streams) {
        int at = tr->comm.sharded ? lo - tr->slo : lo;    /* a shard holds its streams alone */
        dataset_slice(tr->d, 0, tr->per_stream, at, b, j->off, tr->N, w->x, w->y);
        s.h0 = s.hT = w->h;
        s.c0 = s.cT = w->c;
    } else {
        dataset_gather(tr->d, j->rows + lo, b, w->x, w->y);
    }
    float gscale = 1.0f / ((float)j->b * (pp ? tr->N : 1));
    w->loss = lstm_train_seq(tr->ev->k, &tr->wp, &w->g, w->work, b, tr->N, w->x, w->y, gscale, &s);
}

/* Sum the workers' gradients into worker 0's, a slice per thread; squared norm per slice. */
static void reduce_part(void *ctx, int part, int nparts)
{
    trainer *tr = ((const step_job *)ctx)->tr;
    size_t lo = tr->nparams * part / nparts, hi = tr->nparams * (part + 1) / nparts;
    float *g = tr->ev->w[0].grad;
    for (int t = 1; t < tr->ev->nthreads; t++) {
        const float *o = tr->ev->w[t].grad;
        for (size_t i = lo; i < hi; i++)
            g[i] += o[i];
    }
    tr->ev->w[part].sumsq = grad_sumsq(g, lo, hi);
}

/* The squared norm of worker 0's gradient, a slice per thread. */
static void sumsq_part(void *ctx, int part, int nparts)
{
    trainer *tr = ((const step_job *)ctx)->tr;
    size_t lo = tr->nparams * part / nparts, hi = tr->nparams * (part + 1) / nparts;
    tr->ev->w[part].sumsq = grad_sumsq(tr->ev->w[0].grad, lo, hi);
}

static void adam_part(void *ctx, int part, int nparts)
{
    const step_job *j = ctx;
    trainer *tr = j->tr;
    model *m = tr->m;
    train_state *st = tr->st;
    size_t lo = tr->nparams * part / nparts, hi = tr->nparams * (part + 1) / nparts;
    adam_hp hp = { st->beta1, st->beta2, st->eps, st->weight_decay };
    float *w = st->raw ? st->raw : m->params;
    adam_update(w, st->adam_m, st->adam_v, tr->ev->w[0].grad, lo, hi, j->scale, j->lr, hp, st->steps);
    if (st->raw)                              /* the model's weights: their average */
        ema_update(m->params, st->raw, lo, hi, st->ema, st->steps);
}

double train_step(trainer *tr, long bi, float lr)
{
    return train_step_shared(tr, bi, lr, NULL, 0);
}

double train_step_shared(trainer *tr, long bi, float lr, double *shared, int nshared)
{
    model *m = tr->m;
    train_state *st = tr->st;
    evaluator *ev = tr->ev;
    step_job j = { .tr = tr, .lr = lr };
    if (m->streams) {
        j.b = m->streams;
        j.off = tr->start + (size_t)bi * tr->N;
        j.rlo = tr->slo;
        j.rhi = tr->shi;
    } else {
        size_t a = (size_t)bi * st->batch;
        j.rows = tr->perm + a;
        j.b = (int)(tr->ntrain - a < (size_t)st->batch ? tr->ntrain - a : (size_t)st->batch);
        share(&tr->comm, j.b, &j.rlo, &j.rhi);
    }
    double loss = run_sum(ev, train_part, &j);
    par_run(ev->pool, reduce_part, &j);
    /* Worker 0 holds this process's gradient of the batch: with other processes, sum theirs
     * into it (and the loss, and the shared values), then take the norm of the whole, so that
     * every process takes the same optimizer step. Alone, the norm came with the reduction. */
    if (tr->comm.size > 1) {
        double v[1 + TRAIN_MAX_SHARED] = { loss };
        if (nshared < 0 || nshared > TRAIN_MAX_SHARED)
            return NAN;
        if (nshared)
            memcpy(v + 1, shared, (size_t)nshared * sizeof *v);
        if (tr->comm.sum(tr->comm.ctx, ev->w[0].grad, tr->nparams, v, 1 + nshared) < 0)
            return NAN;
        loss = v[0];
        if (nshared)
            memcpy(shared, v + 1, (size_t)nshared * sizeof *v);
        par_run(ev->pool, sumsq_part, &j);
    }
    double ss = 0;
    for (int i = 0; i < ev->nthreads; i++)
        ss += ev->w[i].sumsq;
    j.scale = clip_scale(sqrt(ss), st->clip);
    st->steps++;
    par_run(ev->pool, adam_part, &j);
    st->epoch_batches = bi + 1;
    st->epoch_loss_sum += loss;
    return loss;
}

double trainer_targets(const trainer *tr, long batches)
{
    const model *m = tr->m;
    if (m->streams)
        return (double)batches * ((double)tr->st->batch * tr->N);
    size_t w = (size_t)batches * tr->st->batch;
    return (double)(w < tr->ntrain ? w : tr->ntrain) * (m->per_position ? tr->N : 1);
}

float trainer_lr(const trainer *tr, double progress)
{
    const train_state *st = tr->st;
    return (float)(schedule_lr(st->schedule, st->lr, progress, st->epochs, st->decay_rate, st->decay_every)
                   * warmup_factor(st->steps + 1, st->warmup));   /* (the step about to be taken) */
}

void trainer_epoch_end(trainer *tr, const rng_t *r)
{
    train_state *st = tr->st;
    st->epochs++;
    st->epoch_batches = 0;
    st->epoch_loss_sum = 0;
    st->rng_epoch = *r;
    st->rng = *r;
    free(st->state_h);                        /* the next epoch starts from a zero state */
    free(st->state_c);
    st->state_h = st->state_c = NULL;
}

double trainer_validate(trainer *tr)
{
    model *m = tr->m;
    double n, sum;
    if (tr->comm.size > 1) {                  /* this process's share, then the sums of all */
        if (m->streams && tr->comm.sharded) {
            sum = eval_streams(tr->ev, &m->p, tr->d, tr->ntrain, tr->nval, tr->shi - tr->slo, &n);
        } else if (m->streams) {
            sum = eval_streams_range(tr->ev, &m->p, tr->d, tr->ntrain, tr->nval, m->streams,
                                     tr->slo, tr->shi, &n);
        } else {
            size_t lo = tr->nval * tr->comm.rank / tr->comm.size;
            size_t hi = tr->nval * (tr->comm.rank + 1) / tr->comm.size;
            n = (double)(hi - lo) * (m->per_position ? tr->N : 1);
            sum = n > 0 ? eval_windows(tr->ev, &m->p, tr->d, tr->ntrain + lo, hi - lo, m->per_position) : 0;
        }
        double v[2] = { sum, n };
        if (tr->comm.sum(tr->comm.ctx, NULL, 0, v, 2) < 0)
            return NAN;
        sum = v[0];
        n = v[1];
    } else if (m->streams) {
        sum = eval_streams(tr->ev, &m->p, tr->d, tr->ntrain, tr->nval, m->streams, &n);
    } else {
        n = (double)tr->nval * (m->per_position ? tr->N : 1);
        sum = n > 0 ? eval_windows(tr->ev, &m->p, tr->d, tr->ntrain, tr->nval, m->per_position) : 0;
    }
    return n > 0 ? sum / n : NAN;
}
