/* train_mpi.h - what train does across processes under Open MPI (built with make MPI=1),
 * kept out of train.c and out of the library. Without CHARPIPE_MPI every call is a no-op for
 * the one process there is (mp_size 1), so train.c reads the same either way.
 *
 * Rank 0 reads stdin (Open MPI hands it to rank 0 alone) and sends the data to the others,
 * or every rank reads its own file (--input). Every rank trains its share of each batch
 * (lib/train.h: train_comm) and takes the same optimizer step; rank 0 alone writes.
 */
#ifndef CHARPIPE_TRAIN_MPI_H
#define CHARPIPE_TRAIN_MPI_H

#include <stdint.h>
#include "cli.h"
#include "dataset.h"
#include "run.h"
#include "train.h"

extern int mp_rank, mp_size;          /* this process, and how many (0 and 1 alone) */

#ifdef CHARPIPE_MPI
/* Start (MPI_Init) and stop (MPI_Finalize) the processes. */
void mp_init(int *argc, char ***argv);
void mp_finish(void);
/* Every rank calls it: msg NULL means all is well here. When some rank has a message, rank 0
 * prints the first ("rank R: MESSAGE") and every rank stops with exit status 1. */
void mp_agree(const char *msg);
/* The data into d: with path, every rank reads its own file; without, rank 0 reads stdin and
 * sends the data to the others. progress as dataset_read's. A rank that cannot read stops
 * them all (mp_agree). */
void mp_read_dataset(dataset *d, const char *path, int streams,
                     void (*progress)(void *ctx, size_t windows, size_t chars));
/* A train_comm summing (and taking the largest) across the ranks with MPI_Allreduce. */
void mp_comm(train_comm *c);
/* Rank 0's x to every rank. */
void mp_bcast_double(double *x);
/* Refuse to train unless every rank's h is rank 0's: the rank that differs says what
 * (`what` differs from rank 0's, naming its input `label`). */
void mp_check_same(uint64_t h, const char *what, const char *label);
/* Before the first step: refuse to train unless every rank has rank 0's vocabulary, and then
 * its model, optimizer state, settings, progress, data sizes and the run's options o. */
void mp_check_start(const model *m, const train_state *st, const dataset *d, const trainer *tr,
                    const train_opts *o);
#else
static inline void mp_init(int *argc, char ***argv) { (void)argc; (void)argv; }
static inline void mp_finish(void) {}
static inline void mp_agree(const char *msg)
{
    if (msg)
        cli_die("%s", msg);
}
static inline void mp_read_dataset(dataset *d, const char *path, int streams,
                                   void (*progress)(void *ctx, size_t windows, size_t chars))
{
    char err[1200];
    if (dataset_read(d, path, streams, progress, NULL, err, sizeof err) < 0)
        cli_die("%s", err);
}
static inline void mp_comm(train_comm *c)
{
    *c = (train_comm){ .rank = 0, .size = 1 };
}
static inline void mp_bcast_double(double *x) { (void)x; }
static inline void mp_check_same(uint64_t h, const char *what, const char *label)
{
    (void)h; (void)what; (void)label;
}
static inline void mp_check_start(const model *m, const train_state *st, const dataset *d,
                                  const trainer *tr, const train_opts *o)
{
    (void)m; (void)st; (void)d; (void)tr; (void)o;
}
#endif

/* This rank's trainer, its sums taken across the ranks (mp_comm; sharded: each holds its own
 * data): every rank stops when one cannot make it, or when they would not start from the same
 * model, data and settings (mp_check_start). */
static inline trainer *mp_trainer_new(const kern_ops *k, model *m, train_state *st, const dataset *d,
                                      const train_opts *o, int sharded)
{
    char err[512];
    train_comm comm;
    mp_comm(&comm);
    comm.sharded = sharded;
    trainer *tr = trainer_new_comm(k, m, st, d, o->threads, &comm, err, sizeof err);
    mp_agree(tr ? NULL : err);
    mp_check_start(m, st, d, tr, o);
    return tr;
}

#endif
