/* sampling.c - choosing the next character; see sampling.h. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "sampling.h"

int sample_argmax(const float *x, int n)
{
    int best = 0;
    float mx = x[0];                  /* held, not reloaded: x[best] made a chain through memory */
    for (int i = 1; i < n; i++)
        if (x[i] > mx) {
            mx = x[i];
            best = i;
        }
    return best;
}

/* Character a ranks before b in the order a restricted draw walks: the larger q first, and
 * of equal q the lower index (the order a stable sort by q, descending, gives). */
static inline int ranks_before(const double *q, int a, int b)
{
    return q[a] > q[b] || (q[a] == q[b] && a < b);
}

/* Restore the heap below slot i of h (n entries): each slot ranks before its children. */
static void sift_down(const double *q, int *h, int n, int i)
{
    int x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ranks_before(q, h[c + 1], h[c]))
            c++;
        if (!ranks_before(q, h[c], x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* The ranking of top-k and top-p by selection: order[0..V) is made a heap (O(V)), and each
 * pop moves the next character in rank to the end of what remains, so after r pops the first
 * r in rank are order[V-1], order[V-2], ..., order[V-r]: O(V + r log V) for the r a draw
 * looks at, where a full sort costs O(V log V) (or, by insertion, O(V^2)). RANK(i) is the
 * character of rank i (from 0), valid for i < ranked. */
#define RANK(i) order[V - 1 - (i)]
static int rank_more(const double *q, int *order, int V, int ranked, int want)
{
    if (want > V)
        want = V;
    for (; ranked < want; ranked++) {
        int last = V - 1 - ranked;           /* the heap is order[0..last] */
        int top = order[0];
        order[0] = order[last];
        order[last] = top;
        sift_down(q, order, last, 0);
    }
    return ranked;
}

int sample_choose(const float *p, int V, double t, int topk, double topp, rng_t *rng, double *q, int *order)
{
    if (t == 1 && topk <= 0 && topp >= 1) {      /* plain sampling, as generation does it */
        double total = 0;
        for (int i = 0; i < V; i++)
            total += p[i];
        double u = rng_uniform(rng) * total;
        for (int i = 0; i < V; i++) {
            u -= p[i];
            if (u < 0 && p[i] > 0)
                return i;
        }
        return sample_argmax(p, V);              /* rounding left u >= 0 */
    }
    int best = sample_argmax(p, V);
    if (t <= 0)
        return best;
    if (t == 1)                                  /* q = p^(1/t), relative to the best */
        for (int i = 0; i < V; i++)
            q[i] = p[i];
    else {
        double lbest = log(p[best] > 0 ? p[best] : 1e-45);
        for (int i = 0; i < V; i++)
            q[i] = p[i] > 0 ? exp((log(p[i]) - lbest) / t) : 0;
    }
    if (topk > 0 || topp < 1) {
        /* The draw is among the n best in rank (ties: the lower index first), summed and
         * walked in rank order: the same sums, so the same character, as sorting all V. */
        for (int i = 0; i < V; i++)
            order[i] = i;
        for (int i = V / 2 - 1; i >= 0; i--)
            sift_down(q, order, V, i);
        int n = topk > 0 && topk < V ? topk : V, ranked = 0;
        if (topp < 1) {
            double total = 0, run = 0, before = 0;
            if (n < V) {                         /* top-k first: the total of the k best */
                ranked = rank_more(q, order, V, 0, n);
                for (int i = 0; i < n; i++)
                    total += q[RANK(i)];
            } else {                             /* of all V: summed in index order, which can */
                for (int i = 0; i < V; i++)      /* differ from the rank order's sum in its */
                    total += q[i];               /* last bits (checked below) */
            }
            int m = n;
            for (int i = 0; i < n; i++) {
                if (i == ranked)
                    ranked = rank_more(q, order, V, ranked, ranked < 64 ? 64 : 2 * ranked);
                before = run;
                run += q[RANK(i)];
                if (run >= topp * total) {
                    m = i + 1;
                    break;
                }
            }
            if (n == V) {
                /* The nucleus ends at m by the index-order total. A sum of V non-negative
                 * terms in any order is within 2 V eps of the exact one, so the rank-order
                 * total would end it there too unless the cut lies that close; then (never
                 * seen on real distributions) rank them all and sum as a full sort would. */
                double d = (4.0 * V + 8) * 0x1p-53;
                if (!((m == V || run >= topp * total * (1 + d)) && (m == 1 || before < topp * total * (1 - d)))) {
                    ranked = rank_more(q, order, V, ranked, V);
                    total = run = 0;
                    for (int i = 0; i < V; i++)
                        total += q[RANK(i)];
                    m = V;
                    for (int i = 0; i < V; i++) {
                        run += q[RANK(i)];
                        if (run >= topp * total) {
                            m = i + 1;
                            break;
                        }
                    }
                }
            }
            n = m;
        }
        ranked = rank_more(q, order, V, ranked, n);
        double total = 0;
        for (int i = 0; i < n; i++)
            total += q[RANK(i)];
        double u = rng_uniform(rng) * total;
        for (int i = 0; i < n; i++) {
            u -= q[RANK(i)];
            if (u < 0)
                return RANK(i);
        }
        return RANK(n - 1);
    }
    double total = 0;
    for (int i = 0; i < V; i++)
        total += q[i];
    double u = rng_uniform(rng) * total;
    for (int i = 0; i < V; i++) {
        u -= q[i];
        if (u < 0 && q[i] > 0)
            return i;
    }
    return best;
}
#undef RANK


void sample_rng_streams(rng_t *rngs, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++)
        rng_seed(&rngs[i], seed + (uint64_t)i);
}

void sample_log_softmax(const float *x, int n, double *logp)
{
    double mx = x[sample_argmax(x, n)], sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < n; i++)
        logp[i] = (double)x[i] - lse;
}

int sample_beam_step(int n, int V, const double *score, const double *logp, int K, int *parent,
                     int *next, double *out)
{
    int kept = 0;
    for (int r = 0; r < n; r++)
        for (int v = 0; v < V; v++) {
            double s = score[r] + logp[(size_t)r * V + v];
            if (s == -INFINITY || s != s || (kept == K && !(s > out[K - 1])))
                continue;                       /* not better than the K kept: ties keep the first */
            int j = kept < K ? kept++ : K - 1;
            while (j > 0 && s > out[j - 1]) {   /* insert, the list best first */
                out[j] = out[j - 1];
                parent[j] = parent[j - 1];
                next[j] = next[j - 1];
                j--;
            }
            out[j] = s;
            parent[j] = r;
            next[j] = v;
        }
    return kept;
}
