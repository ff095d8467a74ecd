/* train_mpi.c - train across processes with Open MPI (make MPI=1). See train_mpi.h. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "train_mpi.h"

#define MSG 512                       /* bytes of a message gathered to rank 0 */

void mp_init(int *argc, char ***argv)
{
    int provided;
    /* the threads never call MPI: only the main thread does */
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &mp_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mp_size);
}

void mp_finish(void)
{
    MPI_Finalize();
}

void mp_agree(const char *msg)
{
    int bad = msg != NULL, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (!any)
        return;
    char mine[MSG] = "";
    if (msg)
        snprintf(mine, sizeof mine, "%s", msg);
    char *all = mp_rank == 0 ? cli_malloc((size_t)MSG * mp_size) : NULL;
    MPI_Gather(mine, MSG, MPI_CHAR, all, MSG, MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int r = 0; all && r < mp_size; r++)
        if (all[(size_t)r * MSG]) {
            fprintf(stderr, "%s: rank %d: %s\n", cli_prog, r, all + (size_t)r * MSG);
            break;
        }
    free(all);
    MPI_Finalize();
    exit(1);
}

/* n bytes at p from rank 0, in pieces MPI's int counts can hold. */
static void bcast_bytes(void *p, size_t n)
{
    for (size_t at = 0; at < n; ) {
        size_t len = n - at < (size_t)1 << 30 ? n - at : (size_t)1 << 30;
        MPI_Bcast((char *)p + at, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
        at += len;
    }
}

/* An array of n bytes from rank 0 into *p (allocated on the other ranks); nothing when
 * rank 0 has none (n 0). */
static void bcast_array(void **p, size_t n)
{
    if (n == 0)
        return;
    if (mp_rank != 0)
        *p = cli_malloc(n);
    bcast_bytes(*p, n);
}

/* Rank 0's d to every other rank (which holds an empty dataset). */
static void bcast_dataset(dataset *d)
{
    /* what rank 0 holds: the sizes, and which of the arrays it has */
    int64_t h[16] = {
        d->vocab.V, d->vocab.byte_unit, d->vocab.lower, d->N, d->ylen, (int64_t)d->n, d->plain,
        (int64_t)d->nruns, (int64_t)d->tn, !!d->x8, !!d->x16, !!d->y8, !!d->y16, !!d->t8, !!d->t16,
    };
    MPI_Bcast(h, 16, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (mp_rank != 0) {
        d->vocab.V = (int)h[0];
        d->vocab.byte_unit = (int)h[1];
        d->vocab.lower = (int)h[2];
        d->N = (int)h[3];
        d->ylen = (int)h[4];
        d->n = (size_t)h[5];
        d->plain = (int)h[6];
        d->nruns = d->runcap = (size_t)h[7];
        d->tn = d->tcap = (size_t)h[8];
    }
    size_t nx = d->n * (size_t)d->N, ny = d->n * (size_t)d->ylen;
    bcast_array((void **)&d->vocab.cp, (size_t)d->vocab.V * sizeof(uint32_t));
    bcast_array((void **)&d->runs, d->nruns * sizeof(ds_run));
    bcast_array((void **)&d->x8, h[9] ? nx : 0);
    bcast_array((void **)&d->x16, h[10] ? nx * 2 : 0);
    bcast_array((void **)&d->y8, h[11] ? ny : 0);
    bcast_array((void **)&d->y16, h[12] ? ny * 2 : 0);
    bcast_array((void **)&d->t8, h[13] ? d->tn : 0);
    bcast_array((void **)&d->t16, h[14] ? d->tn * 2 : 0);
    if (mp_rank != 0) {
        d->xcap = nx;
        d->ycap = ny;
    }
}

void mp_read_dataset(dataset *d, const char *path, int streams,
                     void (*progress)(void *ctx, size_t windows, size_t chars))
{
    char err[1200];
    int failed = 0;
    if (path || mp_rank == 0)
        failed = dataset_read(d, path, streams, progress, NULL, err, sizeof err) < 0;
    else
        dataset_init(d, streams, "stdin");
    mp_agree(failed ? err : NULL);
    if (!path)
        bcast_dataset(d);
}

/* train_comm's sum: the floats and the doubles in place. */
static int sum(void *ctx, float *g, size_t n, double *v, int nv)
{
    (void)ctx;
    for (size_t at = 0; at < n; ) {
        size_t len = n - at < (size_t)INT_MAX ? n - at : (size_t)INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, g + at, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        at += len;
    }
    if (nv > 0)
        MPI_Allreduce(MPI_IN_PLACE, v, nv, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return 0;
}

static int max(void *ctx, double *v, int nv)
{
    (void)ctx;
    MPI_Allreduce(MPI_IN_PLACE, v, nv, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return 0;
}

void mp_comm(train_comm *c)
{
    *c = (train_comm){ .rank = mp_rank, .size = mp_size, .sum = sum, .max = max };
}

void mp_bcast_double(double *x)
{
    MPI_Bcast(x, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

void mp_check_same(uint64_t h, const char *what, const char *label)
{
    uint64_t h0 = h;
    char label0[MSG];
    snprintf(label0, sizeof label0, "%s", label);
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(label0, MSG, MPI_CHAR, 0, MPI_COMM_WORLD);
    char msg[3 * MSG];
    if (h != h0)
        snprintf(msg, sizeof msg, "%s: %s differs from rank 0's (%s)", label, what, label0);
    mp_agree(h != h0 ? msg : NULL);
}

/* 64-bit FNV-1a of n bytes, continuing from h. */
static uint64_t hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}
#define HASH(h, v) hash(h, &(v), sizeof(v))

void mp_check_start(const model *m, const train_state *st, const dataset *d, const trainer *tr,
                    const train_opts *o)
{
    if (mp_size < 2)
        return;
    int sharded = tr->comm.sharded;
    uint64_t h = hash(0xcbf29ce484222325ULL, m->vocab, m->dim.V * sizeof(uint32_t));
    h = HASH(h, m->byte_unit);
    h = HASH(h, m->lower);
    mp_check_same(h, "the vocabulary", d->label);
    h = hash(h, m->params, tr->nparams * sizeof(float));
    h = hash(h, st->adam_m, tr->nparams * sizeof(float));
    h = hash(h, st->adam_v, tr->nparams * sizeof(float));
    if (st->raw)
        h = hash(h, st->raw, tr->nparams * sizeof(float));
    h = HASH(h, m->dim);
    h = HASH(h, m->maxlen);
    h = HASH(h, m->per_position);
    h = HASH(h, m->streams);
    double set[] = { st->batch, st->lr, st->beta1, st->beta2, st->eps, st->clip, st->val_split,
                     st->dropout, st->decay_rate, st->decay_every, (double)st->seed,
                     (double)st->epochs, (double)st->epoch_batches, (double)st->steps,
                     (double)tr->nbatches, sharded ? 0 : (double)d->n, sharded ? 0 : (double)d->tn,
                     d->N, d->ylen, st->weight_drop, st->locked_dropout, st->input_dropout,
                     st->weight_decay, (double)st->warmup, st->ema, st->random_starts };
    h = HASH(h, set);
    double run[] = { (double)train_epoch_limit(o, st), (double)o->max_batches, st->horizon_seconds,
                     (double)o->eval_every, o->keep_best, sharded, (double)o->checkpoint_every,
                     o->checkpoint_seconds, o->output };
    h = HASH(h, run);
    h = hash(h, st->schedule, strlen(st->schedule));
    h = HASH(h, st->rng);
    h = HASH(h, st->rng_epoch);
    if (st->state_h) {
        size_t ns = (size_t)m->dim.L * m->streams * m->dim.H * sizeof(float);
        h = hash(h, st->state_h, ns);
        h = hash(h, st->state_c, ns);
    }
    mp_check_same(h, "the model, data or settings", d->label);
}
