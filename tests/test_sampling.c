/* test_sampling.c - choosing the next character: greedy, temperature, top-k, top-p. */
#include <math.h>
#include <stdlib.h>
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

/* The sorting implementation sample_choose replaced (issue 31), as the reference for its
 * selection: the restricted draw ranks all V by sorting (q descending, the lower index first
 * among equals: the order its insertion sort gave, here by qsort on that total order) and
 * sums and walks them in that order. */
static const double *ref_q;
static int ref_cmp(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (ref_q[i] != ref_q[j])
        return ref_q[i] > ref_q[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static int ref_choose(const float *p, int nv, double t, int topk, double topp, rng_t *r, double *q, int *order)
{
    int best = sample_argmax(p, nv);
    if (t == 1)
        for (int i = 0; i < nv; i++)
            q[i] = p[i];
    else {
        double lbest = log(p[best] > 0 ? p[best] : 1e-45);
        for (int i = 0; i < nv; i++)
            q[i] = p[i] > 0 ? exp((log(p[i]) - lbest) / t) : 0;
    }
    int n = nv;
    for (int i = 0; i < nv; i++)
        order[i] = i;
    ref_q = q;
    qsort(order, (size_t)nv, sizeof *order, ref_cmp);
    if (topk > 0 && topk < n)
        n = topk;
    if (topp < 1) {
        double total = 0, run = 0;
        for (int i = 0; i < n; i++)
            total += q[order[i]];
        for (int i = 0; i < n; i++) {
            run += q[order[i]];
            if (run >= topp * total) {
                n = i + 1;
                break;
            }
        }
    }
    double total = 0;
    for (int i = 0; i < n; i++)
        total += q[order[i]];
    double u = rng_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        u -= q[order[i]];
        if (u < 0)
            return order[i];
    }
    return order[n - 1];
}

/* Probabilities (nv) from random logits of spread s; ties when coarse (logits on a grid of
 * 0.5, so many characters share a probability) and zeros when some logits are far below. */
static void random_probs(float *p, int nv, double s, int coarse, rng_t *r)
{
    double mx = -1e300, sum = 0;
    double *l = malloc((size_t)nv * sizeof *l);
    for (int i = 0; i < nv; i++) {
        l[i] = s * rng_normal(r);
        if (coarse)
            l[i] = 0.5 * floor(l[i] / 0.5);
        if (coarse && rng_below(r, 50) == 0)
            l[i] = -200;
        mx = l[i] > mx ? l[i] : mx;
    }
    for (int i = 0; i < nv; i++)
        sum += exp(l[i] - mx);
    for (int i = 0; i < nv; i++)
        p[i] = (float)(exp(l[i] - mx) / sum);
    free(l);
}

/* top-k and top-p by selection choose what the sorting implementation chooses: the same
 * character from the same random stream, on V = 65,536 (the largest vocabulary) and on small
 * ones, with ties and zeros, for temperatures, k and p across their range. */
static void test_selection_is_sort(void)
{
    static const struct { double t; int k; double p; } cases[] = {
        { 0.8, 40, 1 }, { 1, 0, 0.9 }, { 0.5, 1000, 0.95 }, { 1.3, 0, 0.5 }, { 1, 1, 1 },
        { 0.7, 0, 0.999 }, { 1, 65536, 1 }, { 2.0, 5000, 0.3 }, { 1, 0, 1e-9 },
    };
    int nv = 65536, bad = 0, draws = 0;
    float *p = malloc((size_t)nv * sizeof *p);
    double *q = malloc((size_t)nv * sizeof *q), *q2 = malloc((size_t)nv * sizeof *q2);
    int *o = malloc((size_t)nv * sizeof *o), *o2 = malloc((size_t)nv * sizeof *o2);
    rng_t r;
    rng_seed(&r, 31);
    for (int big = 1; big >= 0; big--)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            int trials = big ? 3 : 200;
            for (int trial = 0; trial < trials; trial++) {
                int n = big ? nv : 1 + (int)rng_below(&r, 300);
                random_probs(p, n, 0.5 + 3 * rng_uniform(&r), trial % 2, &r);
                rng_t a, b;
                rng_seed(&a, 1000 + (uint64_t)trial);
                b = a;
                for (int d = 0; d < 4; d++, draws++) {
                    int x = sample_choose(p, n, cases[c].t, cases[c].k, cases[c].p, &a, q, o);
                    int y = ref_choose(p, n, cases[c].t, cases[c].k, cases[c].p, &b, q2, o2);
                    if (x != y && bad++ < 5)
                        fprintf(stderr, "  V=%d t=%g k=%d p=%g: chose %d, the sort %d\n", n,
                                cases[c].t, cases[c].k, cases[c].p, x, y);
                }
            }
        }
    CHECK(bad == 0, "%d of %d draws differ from the sorting implementation", bad, draws);
    /* the test can fail: a selection that broke ties the other way would be caught */
    float tie[4] = { 0.25f, 0.25f, 0.25f, 0.25f };
    rng_t a;
    rng_seed(&a, 5);
    CHECK(sample_choose(tie, 4, 1, 1, 1, &a, q, o) == 0, "top-k 1 of equals is the first");
    int seen[4] = { 0 };
    for (int i = 0; i < 200; i++)
        seen[sample_choose(tie, 4, 1, 0, 0.3, &a, q, o)]++;
    CHECK(seen[0] && seen[1] && !seen[2] && !seen[3], "top-p 0.3 of four equals: the first two (%d %d %d %d)",
          seen[0], seen[1], seen[2], seen[3]);
    /* a cut exactly on the boundary (0.25 + 0.25 >= 0.5 of 1): the rank-order total decides */
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 200; i++)
        seen[sample_choose(tie, 4, 1, 0, 0.5, &a, q, o)]++;
    CHECK(seen[0] && seen[1] && !seen[2] && !seen[3], "top-p 0.5 of four equals: the first two (%d %d %d %d)",
          seen[0], seen[1], seen[2], seen[3]);
    free(p);
    free(q);
    free(q2);
    free(o);
    free(o2);
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
    RUN(test_selection_is_sort);
    return check_summary();
}
