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
/* Rank 0's d to every other rank (which holds an empty dataset). */
void mp_bcast_dataset(dataset *d);
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
static inline void mp_bcast_dataset(dataset *d) { (void)d; }
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

#endif
