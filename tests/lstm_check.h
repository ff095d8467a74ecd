/* lstm_check.h - helpers shared by the model tests (test_lstm.c, test_charrnn.c): random
 * index tensors (from check.h's rng) and the error measure every comparison with the
 * reference uses. */
#ifndef CHARPIPE_LSTM_CHECK_H
#define CHARPIPE_LSTM_CHECK_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "check.h"
#include "rng.h"

/* n indices uniform in [0, V). */
static int32_t *make_idx(size_t n, int V)
{
    int32_t *x = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)rng_below(&rng, V);
    return x;
}

/* max |a - ref| / max |ref| over n values */
static double max_rel(const float *a, const double *ref, size_t n)
{
    double mx = 1e-30, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx = check_max(mx, fabs(ref[i]));
        err = check_max(err, fabs(a[i] - ref[i]));
    }
    return err / mx;
}
#endif
