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
static inline int32_t *make_idx(size_t n, int V)
{
    int32_t *x = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)rng_below(&rng, V);
    return x;
}

/* The gradient checks' measure: |num - g| relative to the larger, or to 1e-4 if both are
 * smaller (a gradient that small is zero for training; relative to itself its differences'
 * rounding would look large). */
static inline double grad_rel(double num, double g)
{
    return fabs(num - g) / check_max(check_max(fabs(num), fabs(g)), 1e-4);
}

/* One run of Ridders' extrapolation of central differences (Numerical Recipes' dfridr) for
 * the derivative of f at p[i] (p restored afterwards): steps h, h / 1.4, h / 1.4^2, ..., each
 * difference extrapolated towards step 0 in Neville's tableau, keeping the estimate with the
 * smallest error estimate (*err) and stopping when that grows. */
static inline double ridders_from(double (*f)(const double *, const void *), const void *ctx,
                                  double *p, size_t i, double h, double *err)
{
    enum { NTAB = 10 };
    const double con = 1.4, safe = 2.0;
    double a[NTAB][NTAB], x0 = p[i], best = 0.0, e = INFINITY;
    for (int k = 0; k < NTAB; k++, h /= con) {
        p[i] = x0 + h;
        double fp = f(p, ctx);
        p[i] = x0 - h;
        double fm = f(p, ctx);
        p[i] = x0;
        a[0][k] = (fp - fm) / (2 * h);
        double fac = con * con;
        for (int j = 1; j <= k; j++, fac *= con * con) {
            a[j][k] = (a[j - 1][k] * fac - a[j - 1][k - 1]) / (fac - 1);
            double et = check_max(fabs(a[j][k] - a[j - 1][k]), fabs(a[j][k] - a[j - 1][k - 1]));
            if (et <= e) {
                e = et;
                best = a[j][k];
            }
        }
        if (k > 0 && fabs(a[k][k] - a[k - 1][k - 1]) >= safe * e)
            break;
    }
    *err = e;
    return best;
}

/* The derivative of f at p[i] by differences of its values, as exact as double allows at
 * that point: Ridders' extrapolation from a first step of 1e-3, and if its error estimate is
 * not below 1e-9 of the derivative (or of 1e-4), from 1e-2 and 1e-4 too, the estimate with
 * the smallest error estimate (*err, may be NULL). Fixed steps fail somewhere: where the
 * lnlstm's norm divides by a spread near its epsilon the loss bends within 3e-3 of a
 * parameter, so that central differences of 1e-4 truncate by 1e-5 of the derivative, while
 * steps of 1e-5 leave the loss's rounding (1e-15 / 1e-5) at 1e-6 of a gradient of 1e-4. */
static inline double diff_ridders(double (*f)(const double *, const void *), const void *ctx,
                                  double *p, size_t i, double *err)
{
    static const double h0[] = { 1e-3, 1e-2, 1e-4 };
    double best = 0.0, e = INFINITY;
    for (int k = 0; k < 3 && !(e < 1e-9 * check_max(fabs(best), 1e-4)); k++) {
        double et, d = ridders_from(f, ctx, p, i, h0[k], &et);
        if (et < e) {
            e = et;
            best = d;
        }
    }
    if (err)
        *err = e;
    return best;
}

/* The worst grad_rel over the n parameters p between g and diff_ridders of f; *at (may be
 * NULL) the parameter where it is. */
static inline double diff_check(double (*f)(const double *, const void *), const void *ctx,
                                double *p, const double *g, size_t n, size_t *at)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double rel = grad_rel(diff_ridders(f, ctx, p, i, NULL), g[i]);
        if (rel != rel || rel > worst) {          /* a NaN sticks */
            worst = rel;
            if (at)
                *at = i;
        }
    }
    return worst;
}

/* The reference's gradient (double) against diff_check of its loss: both exact but for
 * rounding in double and the differences' truncation, which the extrapolation leaves below
 * 1e-9 of a smooth derivative and near 1e-7 where the lnlstm's norm bends the loss. */
#define REF_GRAD_BOUND 1e-6
/* A float loss (or a loss summed in float) against the reference: float sums over b windows
 * of T steps of products over H, a few u each, relative to max(1, loss). */
#define LOSS_BOUND 1e-5
/* A float gradient against the reference's, relative to the tensor's largest: float sums
 * of up to b T products per element through T steps of the cell and back, a few 1e-6; more
 * where the point amplifies rounding (test_charrnn's grad_bounds). */
#define GRAD_BOUND 1e-4

/* max |a - ref| / max |ref| over n values */
static inline double max_rel(const float *a, const double *ref, size_t n)
{
    double mx = 1e-30, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx = check_max(mx, fabs(ref[i]));
        err = check_max(err, fabs(a[i] - ref[i]));
    }
    return err / mx;
}
#endif
