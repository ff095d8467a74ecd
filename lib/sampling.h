/* sampling.h - choosing the next character from a predicted distribution. */
#ifndef CHARPIPE_SAMPLING_H
#define CHARPIPE_SAMPLING_H
#include <stdint.h>
#include "rng.h"

/* The next index from probabilities p (V). t <= 0: the argmax (greedy; the first of equal
 * maxima). t > 0: drawn with probability proportional to p^(1/t), among the topk most likely
 * (topk <= 0: all) and, of those, the smallest most-likely set whose share of the total
 * reaches topp (topp >= 1: all). q (V doubles) and order (V ints) are scratch. The most
 * likely are found by selection (a heap), not a sort: O(V + r log V) for the r characters the
 * draw ranks, so the cost stays about linear in V at any size. */
int sample_choose(const float *p, int V, double t, int topk, double topp, rng_t *rng,
                  double *q, int *order);

/* The index of the first maximum of x (n): greedy choice straight from the logits (the
 * softmax does not change which is largest). */
int sample_argmax(const float *x, int n);

/* The per-sample random streams of batched sampling (sample --count): sample i of a batch
 * seeded with seed draws from rng_seed(seed + i), the stream a single run seeded with
 * seed + i draws from, so sample i is the text of that single run. */
void sample_rng_streams(rng_t *rngs, int n, uint64_t seed);

/* Beam search, one step. n beams (rows) with total log-probabilities score (n) and next-character
 * log-probabilities logp (n, V) (sample_log_softmax) are extended by every character; the K
 * best extensions (fewer when n V < K) are kept, best first: parent[j] the row extended, next[j]
 * the character, out[j] the new total (score + logp). Ties go to the lower row, then the lower
 * character, so the search is deterministic. Candidates of log-probability -inf are never kept.
 * Returns the number kept. */
int sample_beam_step(int n, int V, const double *score, const double *logp, int K, int *parent,
                     int *next, double *out);

/* logp (n) = log softmax(x (n)), in double: x - max - log(sum exp(x - max)). */
void sample_log_softmax(const float *x, int n, double *logp);

#endif
