/* test_sampling.c - choosing the next character: greedy, temperature, top-k, top-p. */
#include <math.h>
#include <string.h>
#include "check.h"
#include "sampling.h"

#define V 6
static const float P[V] = { 0.05f, 0.30f, 0.10f, 0.40f, 0.05f, 0.10f };

/* Draw n times and compare the counts with expected probabilities e by a chi-square test
 * (5 degrees of freedom at most: 20.5 is the 0.999 quantile, so a correct sampler fails
 * about once in a thousand runs of a given seed; the seed is fixed, so never here). */
static double chi2(double t, int topk, double topp, const double *e, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed);
    double q[V];
    int order[V];
    long count[V] = { 0 }, n = 200000;
    for (long i = 0; i < n; i++)
        count[sample_choose(P, V, t, topk, topp, &r, q, order)]++;
    double x = 0;
    for (int i = 0; i < V; i++) {
        if (e[i] == 0) {
            if (count[i])
                return 1e9;              /* drew something impossible */
            continue;
        }
        double d = count[i] - e[i] * n;
        x += d * d / (e[i] * n);
    }
    return x;
}

static void test_greedy(void)
{
    rng_t r;
    rng_seed(&r, 1);
    double q[V];
    int order[V];
    CHECK(sample_choose(P, V, 0, 0, 1, &r, q, order) == 3, "argmax");
    CHECK(sample_choose(P, V, 1, 1, 1, &r, q, order) == 3, "top-k 1 is greedy");
    CHECK(sample_choose(P, V, 1e-4, 0, 1, &r, q, order) == 3, "temperature near 0 is greedy");
    CHECK(sample_choose(P, V, 1, 0, 0.3, &r, q, order) == 3, "top-p below the best's share is greedy");
}

static void test_distribution(void)
{
    double e[V];
    for (int i = 0; i < V; i++)
        e[i] = P[i];
    double x = chi2(1, 0, 1, e, 7);
    CHECK(x < 20.5, "t=1 matches p: chi2 %.2f", x);

    double z = 0;                        /* temperature 0.5: p^2, renormalised */
    for (int i = 0; i < V; i++)
        z += (double)P[i] * P[i];
    for (int i = 0; i < V; i++)
        e[i] = (double)P[i] * P[i] / z;
    x = chi2(0.5, 0, 1, e, 8);
    CHECK(x < 20.5, "t=0.5 matches p^2: chi2 %.2f", x);

    memset(e, 0, sizeof e);              /* top-k 2: the two best, renormalised */
    e[3] = 0.4 / 0.7;
    e[1] = 0.3 / 0.7;
    x = chi2(1, 2, 1, e, 9);
    CHECK(x < 20.5, "top-k 2: chi2 %.2f", x);

    memset(e, 0, sizeof e);              /* top-p 0.75: 0.4 + 0.3 < 0.75 <= 0.4 + 0.3 + 0.1 */
    e[3] = 0.4 / 0.8;
    e[1] = 0.3 / 0.8;
    e[2] = 0.1 / 0.8;                    /* ties at 0.10: index 2 comes first in the sort */
    x = chi2(1, 0, 0.75, e, 10);
    CHECK(x < 20.5, "top-p 0.75: chi2 %.2f", x);

    /* a wrong sampler is caught: uniform counts against p */
    double u[V];
    for (int i = 0; i < V; i++)
        u[i] = 1.0 / V;
    CHECK(chi2(1, 0, 1, u, 11) > 1000, "the test can fail");
}

static void test_reproducible(void)
{
    rng_t a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    double q[V];
    int order[V], same = 1;
    for (int i = 0; i < 1000; i++)
        same &= sample_choose(P, V, 0.8, 0, 0.9, &a, q, order) == sample_choose(P, V, 0.8, 0, 0.9, &b, q, order);
    CHECK(same, "same seed, same draws");
}

int main(void)
{
    RUN(test_greedy);
    RUN(test_distribution);
    RUN(test_reproducible);
    return check_summary();
}
