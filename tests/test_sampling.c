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

/* sample_log_softmax against the textbook log(exp(x_i) / sum exp(x_j)) (small x: no overflow)
 * and a shift of 1000 that the naive formula could not survive. */
static void test_log_softmax(void)
{
    float x[5] = { 0.5f, -1.25f, 2.0f, 0.0f, 2.0f }, y[5];
    double lp[5], ly[5], sum = 0, err = 0;
    for (int i = 0; i < 5; i++)
        sum += exp(x[i]);
    sample_log_softmax(x, 5, lp);
    for (int i = 0; i < 5; i++) {
        err = fmax(err, fabs(lp[i] - log(exp(x[i]) / sum)));
        y[i] = x[i] + 1000.0f;
    }
    sample_log_softmax(y, 5, ly);
    for (int i = 0; i < 5; i++)
        err = fmax(err, fabs(ly[i] - lp[i]));
    CHECK(err < 1e-12, "log softmax off by %.3g", err);
}

/* sample_beam_step against a brute force: every (row, character) candidate ranked by total
 * (higher first, then lower row, then lower character), the first K kept; with ties (scores
 * on a coarse grid) and -inf candidates (never kept). */
static void test_beam_step(void)
{
    rng_t r;
    rng_seed(&r, 7);
    int bad = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int n = 1 + (int)rng_below(&r, 4), nv = 1 + (int)rng_below(&r, 6), K = 1 + (int)rng_below(&r, 9);
        double score[4], logp[4 * 6], out[9], cs[24];
        int parent[9], next[9], cr[24], cv[24], nc = 0;
        for (int i = 0; i < n; i++)
            score[i] = -(double)rng_below(&r, 4);
        for (int i = 0; i < n * nv; i++)
            logp[i] = rng_below(&r, 8) == 0 ? -INFINITY : -(double)rng_below(&r, 5) * 0.5;
        for (int i = 0; i < n; i++)              /* brute force: insertion sort, stable */
            for (int v = 0; v < nv; v++) {
                double s = score[i] + logp[i * nv + v];
                if (s == -INFINITY)
                    continue;
                int j = nc++;
                while (j > 0 && cs[j - 1] < s) {
                    cs[j] = cs[j - 1]; cr[j] = cr[j - 1]; cv[j] = cv[j - 1];
                    j--;
                }
                cs[j] = s; cr[j] = i; cv[j] = v;
            }
        int want = nc < K ? nc : K, got = sample_beam_step(n, nv, score, logp, K, parent, next, out);
        bad += got != want;
        for (int j = 0; j < want && got == want; j++)
            bad += out[j] != cs[j] || parent[j] != cr[j] || next[j] != cv[j];
    }
    CHECK(bad == 0, "%d beam steps differ from the brute force", bad);
}

/* Batched sampling's streams are single runs' streams: stream i = rng_seed(seed + i). */
static void test_rng_streams(void)
{
    rng_t s[3], one;
    sample_rng_streams(s, 3, 40);
    rng_seed(&one, 42);
    CHECK(rng_u64(&s[2]) == rng_u64(&one) && rng_u64(&s[0]) != rng_u64(&s[1]), "streams");
}

int main(void)
{
    RUN(test_log_softmax);
    RUN(test_beam_step);
    RUN(test_rng_streams);
    RUN(test_greedy);
    RUN(test_distribution);
    RUN(test_reproducible);
    return check_summary();
}
