/* dynamic.h - dynamic evaluation (Krause, Kahembwe, Murray and Renals 2018, "Dynamic
 * Evaluation of Neural Sequence Models"): a model's cross-entropy on a text read as one
 * stream with the state carried, its weights adapted to the text as it is scored.
 *
 * The text is cut into segments of `segment` characters (the last may be shorter), each
 * predicting the character after each of its own. Segment i (1, 2, ...) is first scored with
 * the weights w_(i-1) and the state the segment before left, then learnt from:
 *   g     = the gradient of the segment's mean loss at w_(i-1) (back-propagated through the
 *           segment alone, from the state it started with)
 *   ms   += g^2,  r = sqrt(ms / i)   (per weight: the root mean square of the gradients of
 *           the segments scored so far; Krause et al. take it from the training data, which
 *           a model file does not carry)
 *   w_i   = w_(i-1) - lr g / (r + eps)
 *           + decay min(r / mean(r), 1 / decay) (w_0 - w_(i-1))
 * (the RMS-normalised step and the RMS-scaled decay toward the trained weights w_0 of their
 * paper; mean(r) over every weight; eps = DYN_EPS). The state carried into the next segment is
 * the one the scoring pass left. So a character's score depends on the text before it alone:
 * nothing learns from a segment before the whole of it is scored.
 *
 * Nothing here prints or ends the process; failures return -1 with a message in err.
 */
#ifndef CHARPIPE_DYNAMIC_H
#define CHARPIPE_DYNAMIC_H

#include <stddef.h>
#include <stdint.h>
#include "kern.h"
#include "model.h"

/* The defaults, tuned on a held-out part of tinyshakespeare's training text
 * (pipelines/dyntune.sh; doc/EXPERIMENTS.md). */
#define DYN_LR      2e-4
#define DYN_DECAY   1e-3
#define DYN_SEGMENT 20
#define DYN_EPS     1e-5

typedef struct dyn_opts {
    double lr;                        /* the step: lr g / (r + eps) */
    double decay;                     /* lambda, toward the trained weights per segment (0 .. 1] */
    int segment;                      /* characters per segment (1 .. 100,000) */
} dyn_opts;

/* The defaults above. */
void dyn_opts_init(dyn_opts *o);

typedef struct dyn dyn;

/* Dynamic evaluation of m (copied: m may go away) with the options o. label names the input
 * in messages. NULL (with a message in err) when out of memory or an option is out of range. */
dyn *dyn_new(const kern_ops *k, const model *m, const dyn_opts *o, const char *label, char *err,
             size_t cap);
void dyn_free(dyn *d);

/* The next n characters of the text, as vocabulary indices (< V): every segment they complete
 * is scored, then learnt from. */
int dyn_text(dyn *d, const int32_t *x, size_t n, char *err, size_t cap);

/* After all the text: the last, shorter segment scored (and learnt from). */
int dyn_finish(dyn *d, char *err, size_t cap);

/* Called after each segment is scored (before it is learnt from): its number (from 0), the
 * sum of its characters' losses and their count. For progress, and for tests. NULL: none. */
typedef void (*dyn_hook)(void *ctx, int64_t segment, double loss, int n);
void dyn_set_hook(dyn *d, dyn_hook fn, void *ctx);

/* The sum of the losses (nats) of the characters scored so far, and how many there are. */
void dyn_result(const dyn *d, double *loss, double *targets);

/* The adapted weights now, laid out as the model's (lstm_nparams floats). */
const float *dyn_weights(const dyn *d);

/* m adapted to the text in the file at path (sample --adapt): the file read as the model reads
 * text (characters outside its vocabulary skipped, counted in *skipped), dynamic evaluation
 * with o over all of it, and the adapted weights written into m's. Its mean loss under
 * dynamic evaluation into *nats (NAN for a text of fewer than two characters, which leaves m
 * as it was). Returns 0, or -1 with a message in err. */
int dyn_adapt_file(const kern_ops *k, model *m, const char *path, const dyn_opts *o,
                   double *nats, uint64_t *skipped, char *err, size_t cap);

#endif
