/* bench_sample.c - the sampler's restricted draws (top-k, top-p) at every vocabulary size:
 * sample_choose (selection by a heap) beside the sorting implementation it replaced (all V
 * ranked by a sort, here qsort on the same order, before the draw), microseconds per draw at
 * V = 65, 4,096 and 65,536, and their ratio. The probabilities are a softmax of random
 * logits; the draws are checked to agree. Stateful generation takes the temperature in its
 * softmax and draws at t = 1 (the first three rows); window mode raises p to 1/t in the draw,
 * V exp and log calls that cost more than the selection (the last row). Output: a table on stdout; each figure is the best
 * of 3 rounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "rng.h"
#include "sampling.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static const double *sq;
static int cmp(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sq[i] != sq[j])
        return sq[i] > sq[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* The sorting implementation: rank all V, then the same sums and walk as sample_choose. */
static int sort_choose(const float *p, int V, double t, int topk, double topp, rng_t *rng,
                       double *q, int *order)
{
    int best = sample_argmax(p, V);
    double lbest = log(p[best] > 0 ? p[best] : 1e-45);
    for (int i = 0; i < V; i++) {
        q[i] = t == 1 ? p[i] : p[i] > 0 ? exp((log(p[i]) - lbest) / t) : 0;
        order[i] = i;
    }
    sq = q;
    qsort(order, (size_t)V, sizeof *order, cmp);
    int n = topk > 0 && topk < V ? topk : V;
    double total = 0, run = 0;
    if (topp < 1) {
        for (int i = 0; i < n; i++)
            total += q[order[i]];
        for (int i = 0; i < n; i++)
            if ((run += q[order[i]]) >= topp * total) {
                n = i + 1;
                break;
            }
    }
    total = 0;
    for (int i = 0; i < n; i++)
        total += q[order[i]];
    double u = rng_uniform(rng) * total;
    for (int i = 0; i < n; i++)
        if ((u -= q[order[i]]) < 0)
            return order[i];
    return order[n - 1];
}

int main(void)
{
    static const int sizes[] = { 65, 4096, 65536 };
    static const struct { const char *name; double t; int k; double p; } modes[] = {
        { "-k 40", 1, 40, 1 }, { "-p 0.9", 1, 0, 0.9 }, { "-k 40 -p 0.9", 1, 40, 0.9 },
        { "-k 40, window -t 0.8", 0.8, 40, 1 },
    };
    printf("%-22s %7s %14s %14s %8s\n", "sampler", "V", "select us/draw", "sort us/draw", "ratio");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int V = sizes[s];
        float *p = malloc((size_t)V * sizeof *p);
        double *q = malloc((size_t)V * sizeof *q), sum = 0;
        int *order = malloc((size_t)V * sizeof *order);
        rng_t r;
        rng_seed(&r, 1);
        for (int i = 0; i < V; i++)
            sum += (p[i] = (float)exp(2.5 * rng_normal(&r)));
        for (int i = 0; i < V; i++)
            p[i] = (float)(p[i] / sum);
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            int draws = V > 10000 ? 20 : 2000, agree = 1;
            double best[2] = { 1e9, 1e9 };
            for (int round = 0; round < 3; round++)
                for (int which = 0; which < 2; which++) {
                    rng_t a;
                    rng_seed(&a, 7);
                    long sink = 0;
                    double t0 = now();
                    for (int d = 0; d < draws; d++)
                        sink += which ? sort_choose(p, V, modes[m].t, modes[m].k, modes[m].p, &a, q, order)
                                      : sample_choose(p, V, modes[m].t, modes[m].k, modes[m].p, &a, q, order);
                    double us = (now() - t0) / draws * 1e6;
                    best[which] = us < best[which] ? us : best[which];
                    static long first;
                    if (which == 0)
                        first = sink;
                    else
                        agree &= first == sink;
                }
            printf("%-22s %7d %14.1f %14.1f %7.1fx%s\n", modes[m].name, V, best[0], best[1],
                   best[1] / best[0], agree ? "" : "  (the draws differ!)");
        }
        free(p);
        free(q);
        free(order);
    }
    return 0;
}
