/* rng.h - a small seedable random number generator (xoshiro256**), with its state exposed
 * so a model file can store it and a resumed run continue the same sequence. */
#ifndef CHARPIPE_RNG_H
#define CHARPIPE_RNG_H
#include <stdint.h>

typedef struct rng_t { uint64_t s[4]; } rng_t;

void     rng_seed(rng_t *r, uint64_t seed);     /* via splitmix64, never all-zero */
uint64_t rng_u64(rng_t *r);
double   rng_uniform(rng_t *r);                 /* [0, 1), 53 bits */
uint64_t rng_below(rng_t *r, uint64_t n);       /* uniform in [0, n), unbiased; n > 0 */
double   rng_normal(rng_t *r);                  /* standard normal (Box-Muller) */

#endif
