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
    int n = V;
    if (topk > 0 || topp < 1) {
        for (int i = 0; i < V; i++)
            order[i] = i;
        for (int i = 1; i < V; i++) {          /* insertion sort by q, descending (V is small) */
            int o = order[i], j = i;
            while (j > 0 && q[order[j - 1]] < q[o]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = o;
        }
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
        double u = rng_uniform(rng) * total;
        for (int i = 0; i < n; i++) {
            u -= q[order[i]];
            if (u < 0)
                return order[i];
        }
        return order[n - 1];
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

int sample_text(const kern_ops *k, const lstm_params *p, int maxlen, const int *seed,
                int seedlen, int n, double t, rng_t *rng, int *out)
{
    int V = p->dim.V, H = p->dim.H, L = p->dim.L, ok = 0;
    float *probs = malloc((size_t)V * sizeof *probs);
    double *q = malloc((size_t)V * sizeof *q);
    int *order = malloc((size_t)V * sizeof *order);
    if (maxlen <= 0) {
        float *h = calloc((size_t)L * H, sizeof *h), *c = calloc((size_t)L * H, sizeof *c);
        lstm_gen *g = lstm_gen_new(k, p, 0);
        if ((ok = probs && q && order && h && c && g)) {
            for (int i = 0; i < seedlen; i++)
                lstm_gen_step(g, seed[i], h, c, probs);      /* probs holds the logits */
            for (int i = 0; i < n; i++) {
                int x;
                if (t <= 0)
                    x = sample_argmax(probs, V);
                else {
                    k->softmax(V, probs, (float)(1.0 / t));
                    x = sample_choose(probs, V, 1.0, 0, 1.0, rng, q, order);
                }
                out[i] = x;
                if (i + 1 < n)
                    lstm_gen_step(g, x, h, c, probs);
            }
        }
        lstm_gen_free(g);
        free(h);
        free(c);
    } else {
        lstm_work *w = lstm_work_new(p->dim, maxlen, 1);
        int32_t *win = malloc((size_t)maxlen * sizeof *win);
        int wlen = seedlen < maxlen ? seedlen : maxlen;
        if ((ok = probs && q && order && w && win && wlen > 0)) {
            for (int i = 0; i < wlen; i++)
                win[i] = seed[seedlen - wlen + i];
            for (int i = 0; i < n; i++) {
                lstm_forward_batch(k, p, w, 1, wlen, win, NULL, probs);
                int x = sample_choose(probs, V, t, 0, 1.0, rng, q, order);
                out[i] = x;
                if (wlen < maxlen)
                    win[wlen++] = x;
                else {
                    memmove(win, win + 1, (size_t)(maxlen - 1) * sizeof *win);
                    win[maxlen - 1] = x;
                }
            }
        }
        lstm_work_free(w);
        free(win);
    }
    free(probs);
    free(q);
    free(order);
    return ok ? 0 : -1;
}
