/* sampling.h - choosing the next character from a predicted distribution. */
#ifndef CHARPIPE_SAMPLING_H
#define CHARPIPE_SAMPLING_H
#include "rng.h"

/* The next index from probabilities p (V). t <= 0: the argmax (greedy; the first of equal
 * maxima). t > 0: drawn with probability proportional to p^(1/t), among the topk most likely
 * (topk <= 0: all) and, of those, the smallest most-likely set whose share of the total
 * reaches topp (topp >= 1: all). q (V doubles) and order (V ints) are scratch. */
int sample_choose(const float *p, int V, double t, int topk, double topp, rng_t *rng,
                  double *q, int *order);

/* The index of the first maximum of x (n): greedy choice straight from the logits (the
 * softmax does not change which is largest). */
int sample_argmax(const float *x, int n);

#endif
