/* generate.c - the generator: the packed step (lstm_gen), the generator's rows and their
 * state, the sampling loop and the beam search, and requests in text. See generate.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "generate.h"
#include "sampling.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* The step: stateful generation with packed weights (lstm_gen) */

/* A matrix packed for the one-row products, as floats or halves. */
typedef struct lg_mat {
    float *f;
    uint16_t *h;
} lg_mat;

struct lstm_gen {
    const kern_ops *k;
    lstm_dims dim;
    int half;
    float *embed;                 /* (V, G) layer 0's kernel + input bias (lnlstm: no bias) */
    float *zero;                  /* (G) zeros: the lnlstm's upper layers have no bias to add */
    float *bias[LSTM_MAX_LAYERS]; /* (G) a copy of each layer's bias (GRU: (2, G)) */
    float *gamma[LSTM_MAX_LAYERS];
    lg_mat kernel[LSTM_MAX_LAYERS], recurrent[LSTM_MAX_LAYERS], dense;
    float *dense_b;               /* (V) */
    float *z, *u;                 /* (G) scratch */
    int nmax;                     /* rows of a batched step (lstm_gen_step_batch) */
    float *zb, *ub;               /* (nmax, G) scratch of a batched step */
};

static int lg_pack(lg_mat *m, int half, int k, int n, const float *B)
{
    size_t sz = kern_gemv_size(k, n);
    if (half) {
        if (!(m->h = malloc(sz * sizeof(uint16_t))))
            return -1;
        kern_pack_gemv_f16(k, n, B, n, m->h);
    } else {
        if (!(m->f = malloc(sz * sizeof(float))))
            return -1;
        kern_pack_gemv(k, n, B, n, m->f);
    }
    return 0;
}

static float *lg_copy(const float *a, size_t n)
{
    float *c = malloc(n * sizeof(float));
    if (c)
        memcpy(c, a, n * sizeof(float));
    return c;
}

/* y (n) = y0 (n) + x (k) . m */
static void lg_gemv(const lstm_gen *g, int n, int k, const float *x, const lg_mat *m,
                     const float *y0, float *y)
{
    if (g->half)
        g->k->gemv_packed_f16(n, k, x, m->h, y0, y);
    else
        g->k->gemv_packed(n, k, x, m->f, y0, y);
}

lstm_gen *lstm_gen_new(const kern_ops *k, const lstm_params *p, int half)
{
    return lstm_gen_new_batch(k, p, half, 1);
}

lstm_gen *lstm_gen_new_batch(const kern_ops *k, const lstm_params *p, int half, int nmax)
{
    if (nmax < 1)
        return NULL;
    lstm_gen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    int V = p->dim.V, H = p->dim.H, L = p->dim.L, cell = p->dim.cell, G = cell_gates(cell) * H;
    g->k = k;
    g->dim = p->dim;
    g->half = half;
    g->nmax = nmax;
    int bad = !(g->embed = malloc((size_t)V * G * sizeof(float)))
           || !(g->zero = calloc((size_t)G, sizeof(float))) || !(g->z = malloc(G * sizeof(float)))
           || !(g->u = malloc(G * sizeof(float)))
           || !(g->zb = malloc((size_t)nmax * G * sizeof(float)))
           || !(g->ub = malloc((size_t)nmax * G * sizeof(float)))
           || !(g->dense_b = lg_copy(p->dense_b, (size_t)V))
           || lg_pack(&g->dense, half, H, V, p->dense_w);
    for (int l = 0; l < L && !bad; l++) {
        const lstm_layer *ly = &p->layer[l];
        bad = !(g->bias[l] = lg_copy(ly->bias, (size_t)G * (cell == CELL_GRU ? 2 : 1)))
           || (ly->gamma && !(g->gamma[l] = lg_copy(ly->gamma, (size_t)G)))
           || (l > 0 && lg_pack(&g->kernel[l], half, H, G, ly->kernel))
           || lg_pack(&g->recurrent[l], half, H, G, ly->recurrent);
    }
    if (bad) {
        lstm_gen_free(g);
        return NULL;
    }
    const float *b0 = cell == CELL_LNLSTM ? g->zero : p->layer[0].bias;
    for (int v = 0; v < V; v++)
        for (int j = 0; j < G; j++)
            g->embed[(size_t)v * G + j] = p->layer[0].kernel[(size_t)v * G + j] + b0[j];
    return g;
}

void lstm_gen_free(lstm_gen *g)
{
    if (!g)
        return;
    for (int l = 0; l < LSTM_MAX_LAYERS; l++) {
        free(g->bias[l]);
        free(g->gamma[l]);
        free(g->kernel[l].f);
        free(g->kernel[l].h);
        free(g->recurrent[l].f);
        free(g->recurrent[l].h);
    }
    free(g->dense.f);
    free(g->dense.h);
    free(g->dense_b);
    free(g->embed);
    free(g->zero);
    free(g->z);
    free(g->u);
    free(g->zb);
    free(g->ub);
    free(g);
}

/* lstm_step's operations: z = (layer 0) the table row embed[x] or (above) bias + h_{l-1} .
 * kernel, then z += h_l . recurrent and the cell; the GRU's u = recurrent bias + h_l .
 * recurrent; finally logits = dense_b + h_top . dense. */
void lstm_gen_step(lstm_gen *g, int x, float *h, float *c, float *logits)
{
    const kern_ops *k = g->k;
    int V = g->dim.V, H = g->dim.H, L = g->dim.L, cell = g->dim.cell, G = cell_gates(cell) * H;
    float *z = g->z;
    for (int l = 0; l < L; l++) {
        float *hl = h + (size_t)l * H, *cl = c + (size_t)l * H;
        const float *z0 = g->embed + (size_t)x * G;        /* what the recurrent product adds to */
        if (l > 0) {
            lg_gemv(g, G, H, h + (size_t)(l - 1) * H, &g->kernel[l],
                     cell == CELL_LNLSTM ? g->zero : g->bias[l], z);
            z0 = z;
        }
        switch (cell) {
        case CELL_GRU:                      /* the cell overwrites z: layer 0 copies its row */
            if (l == 0)
                memcpy(z, z0, (size_t)G * sizeof(float));
            lg_gemv(g, G, H, hl, &g->recurrent[l], g->bias[l] + G, g->u);
            k->gru_cell_fwd(1, H, z, g->u, hl, hl);
            break;
        case CELL_LNLSTM:
            lg_gemv(g, G, H, hl, &g->recurrent[l], z0, z);
            k->ln_fwd(1, H, z, g->gamma[l], g->bias[l], NULL, NULL);
            k->lstm_cell_fwd(1, H, z, cl, cl, hl);
            break;
        default:
            lg_gemv(g, G, H, hl, &g->recurrent[l], z0, z);
            k->lstm_cell_fwd(1, H, z, cl, cl, hl);
        }
    }
    lg_gemv(g, V, H, h + (size_t)(L - 1) * H, &g->dense, g->dense_b, logits);
}

/* Y (m, n) = Y0 (rows ldy0 apart, 0: one row for all) + X (m, k, rows ldx apart) . M */
static void lg_gemv_rows(const lstm_gen *g, int m, int n, int k, const float *X, int ldx,
                          const lg_mat *M, const float *Y0, int ldy0, float *Y, int ldy)
{
    if (g->half)
        g->k->gemv_packed_rows_f16(m, n, k, X, ldx, M->h, Y0, ldy0, Y, ldy);
    else
        g->k->gemv_packed_rows(m, n, k, X, ldx, M->f, Y0, ldy0, Y, ldy);
}

/* lstm_gen_step's operations on n rows at once: the same products row by row (the rows'
 * kernel is gemv_packed's, bit for bit), the cells over n rows. */
void lstm_gen_step_batch(lstm_gen *g, int n, const int *x, float *h, float *c, float *logits)
{
    const kern_ops *k = g->k;
    int V = g->dim.V, H = g->dim.H, L = g->dim.L, cell = g->dim.cell, G = cell_gates(cell) * H;
    size_t nH = (size_t)n * H;
    float *z = g->zb, *u = g->ub;
    for (int l = 0; l < L; l++) {
        float *hl = h + l * nH, *cl = c + l * nH;
        if (l == 0)                              /* the table rows: z = embed[x] */
            for (int i = 0; i < n; i++)
                memcpy(z + (size_t)i * G, g->embed + (size_t)x[i] * G, (size_t)G * sizeof(float));
        else
            lg_gemv_rows(g, n, G, H, h + (l - 1) * nH, H, &g->kernel[l],
                          cell == CELL_LNLSTM ? g->zero : g->bias[l], 0, z, G);
        switch (cell) {
        case CELL_GRU:
            lg_gemv_rows(g, n, G, H, hl, H, &g->recurrent[l], g->bias[l] + G, 0, u, G);
            k->gru_cell_fwd(n, H, z, u, hl, hl);
            break;
        case CELL_LNLSTM:
            lg_gemv_rows(g, n, G, H, hl, H, &g->recurrent[l], z, G, z, G);
            k->ln_fwd(n, H, z, g->gamma[l], g->bias[l], NULL, NULL);
            k->lstm_cell_fwd(n, H, z, cl, cl, hl);
            break;
        default:
            lg_gemv_rows(g, n, G, H, hl, H, &g->recurrent[l], z, G, z, G);
            k->lstm_cell_fwd(n, H, z, cl, cl, hl);
        }
    }
    lg_gemv_rows(g, n, V, H, h + (L - 1) * nH, H, &g->dense, g->dense_b, 0, logits, V);
}

/* ---------------------------------------------------------------------------------------- */
/* The generator: rows of state */

struct gen {
    const kern_ops *k;
    const lstm_params *p;
    gen_opts o;
    int V, maxlen;                /* maxlen: the window's length (window mode) */
    int nmax, rows;               /* rows allocated, rows in use */
    rng_t *rng;                   /* (nmax) a random stream per row */
    float *dist, *dist2;          /* (nmax, V) the next character's logits (stateful) or
                                     probabilities (window mode), and room to reorder them */
    int ready;                    /* dist holds the rows' distributions */
    int32_t *xs;                  /* (nmax) scratch: a character per row */
    double *q;                    /* (V) the sampler's scratch */
    int *order;                   /* (V) */
    /* stateful */
    lstm_gen *lg;
    float *h, *c, *h2, *c2;       /* (L, rows, H) the state, and room to reorder it */
    int32_t *x, *x2;              /* (nmax) characters read but not yet stepped */
    int pending;
    /* window mode */
    lstm_work *w;
    int32_t *win, *win2;          /* (nmax, maxlen) each row's window, and room to reorder */
    int32_t *xb;                  /* (nmax, wlen) the windows packed for the forward pass */
    int wlen;                     /* characters in each window */
};

gen_opts gen_defaults(void)
{
    return (gen_opts){ .temperature = 0, .top_k = 0, .top_p = 1, .stateful = 0, .half = 0, .seed = 0 };
}

void gen_free(gen *g)
{
    if (!g)
        return;
    lstm_gen_free(g->lg);
    lstm_work_free(g->w);
    free(g->rng); free(g->dist); free(g->dist2); free(g->xs); free(g->q); free(g->order);
    free(g->h); free(g->c); free(g->h2); free(g->c2); free(g->x); free(g->x2);
    free(g->win); free(g->win2); free(g->xb);
    free(g);
}

gen *gen_new(const kern_ops *k, const lstm_params *p, int maxlen, const gen_opts *o, int nmax,
             char *err, size_t cap)
{
    if (nmax < 1) {
        lib_fail(err, cap, "generate: %d rows (samples or beams): at least 1", nmax);
        return NULL;
    }
    if (!(o->temperature >= 0) || o->top_k < 0 || !(o->top_p > 0 && o->top_p <= 1)) {
        lib_fail(err, cap, "generate: temperature %g, top-k %d, top-p %g: the temperature must be >= 0,"
                 " k >= 0 and p in (0, 1]", o->temperature, o->top_k, o->top_p);
        return NULL;
    }
    if (o->half && !o->stateful) {
        lib_fail(err, cap, "generate: half-precision weights are for stateful generation");
        return NULL;
    }
    if (!o->stateful && maxlen < 1) {
        lib_fail(err, cap, "generate: a window of %d characters", maxlen);
        return NULL;
    }
    gen *g = calloc(1, sizeof *g);
    if (!g) {
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    int V = p->dim.V, H = p->dim.H, L = p->dim.L;
    size_t nV = (size_t)nmax * V, LnH = (size_t)L * nmax * H, nN = (size_t)nmax * (maxlen > 0 ? maxlen : 1);
    *g = (gen){ .k = k, .p = p, .o = *o, .V = V, .maxlen = maxlen, .nmax = nmax, .rows = nmax };
    int bad = !(g->rng = malloc((size_t)nmax * sizeof *g->rng))
           || !(g->dist = lib_zalloc(nV * sizeof(float))) || !(g->dist2 = lib_zalloc(nV * sizeof(float)))
           || !(g->xs = malloc((size_t)nmax * sizeof *g->xs))
           || !(g->q = malloc((size_t)V * sizeof *g->q)) || !(g->order = malloc((size_t)V * sizeof *g->order));
    if (!bad && o->stateful)
        bad = !(g->lg = lstm_gen_new_batch(k, p, o->half, nmax))
           || !(g->h = lib_zalloc(LnH * sizeof(float))) || !(g->c = lib_zalloc(LnH * sizeof(float)))
           || !(g->h2 = lib_zalloc(LnH * sizeof(float))) || !(g->c2 = lib_zalloc(LnH * sizeof(float)))
           || !(g->x = malloc((size_t)nmax * sizeof *g->x)) || !(g->x2 = malloc((size_t)nmax * sizeof *g->x2));
    else if (!bad)
        bad = !(g->w = lstm_work_new(p->dim, maxlen, nmax))
           || !(g->win = malloc(nN * sizeof *g->win)) || !(g->win2 = malloc(nN * sizeof *g->win2))
           || !(g->xb = malloc(nN * sizeof *g->xb));
    if (bad) {
        gen_free(g);
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    sample_rng_streams(g->rng, nmax, o->seed);
    return g;
}

rng_t *gen_rng(gen *g, int r)
{
    return &g->rng[r];
}

/* Back to no text read, on `rows` rows (the random streams go on). */
static void reset(gen *g, int rows)
{
    g->rows = rows;
    g->ready = g->pending = g->wlen = 0;
    if (g->o.stateful) {
        size_t LnH = (size_t)g->p->dim.L * g->nmax * g->p->dim.H;
        memset(g->h, 0, LnH * sizeof(float));
        memset(g->c, 0, LnH * sizeof(float));
    }
}

/* Stateful: the step of the characters read last, which leaves the next distribution. */
static void step_pending(gen *g)
{
    if (g->pending) {                            /* (one row: the one-row product, the same
                                                     bits, faster than the rows' at m = 1) */
        if (g->rows == 1)
            lstm_gen_step(g->lg, g->x[0], g->h, g->c, g->dist);
        else
            lstm_gen_step_batch(g->lg, g->rows, g->x, g->h, g->c, g->dist);
        g->pending = 0;
        g->ready = 1;
    }
}

/* Every row reads its character x[r]: stateful, the step is taken when it is needed (a
 * distribution, or the next character); window mode, the window slides. */
static void feed(gen *g, const int32_t *x)
{
    if (g->o.stateful) {
        step_pending(g);
        memcpy(g->x, x, (size_t)g->rows * sizeof *x);
        g->pending = 1;
    } else {
        int N = g->maxlen;
        for (int r = 0; r < g->rows; r++) {
            int32_t *w = g->win + (size_t)r * N;
            if (g->wlen == N)
                memmove(w, w + 1, (size_t)(N - 1) * sizeof *w);
            w[g->wlen < N ? g->wlen : N - 1] = x[r];
        }
        if (g->wlen < N)
            g->wlen++;
    }
    g->ready = 0;
}

/* Every row reads text[0..n). */
static void prime(gen *g, const int32_t *text, int n)
{
    for (int t = 0; t < n; t++) {
        for (int r = 0; r < g->rows; r++)
            g->xs[r] = text[t];
        feed(g, g->xs);
    }
}

/* The rows' next-character distributions into dist (rows, V). */
static void distribution(gen *g)
{
    if (g->ready)
        return;
    if (g->o.stateful) {
        step_pending(g);
        return;
    }
    int N = g->maxlen, T = g->wlen;
    for (int r = 0; r < g->rows; r++)
        memcpy(g->xb + (size_t)r * T, g->win + (size_t)r * N, (size_t)T * sizeof *g->xb);
    lstm_forward_batch(g->k, g->p, g->w, g->rows, T, g->xb, NULL, g->dist);
    g->ready = 1;
}

/* Each row's next character, x (rows), drawn from its own stream as the options say. */
static void choose(gen *g, int32_t *x)
{
    const gen_opts *o = &g->o;
    int V = g->V;
    distribution(g);
    for (int r = 0; r < g->rows; r++) {
        float *d = g->dist + (size_t)r * V;
        if (!o->stateful)                  /* probabilities: p^(1/t) in the draw */
            x[r] = sample_choose(d, V, o->temperature, o->top_k, o->top_p, &g->rng[r], g->q, g->order);
        else if (o->temperature <= 0)      /* greedy: the largest logit, no softmax */
            x[r] = sample_argmax(d, V);
        else {                             /* p^(1/t) renormalised = softmax(logits / t) */
            g->k->softmax(V, d, (float)(1.0 / o->temperature));
            x[r] = sample_choose(d, V, 1.0, o->top_k, o->top_p, &g->rng[r], g->q, g->order);
        }
    }
}

/* logp (rows, V): the log-probabilities of each row's next character. */
static void log_probs(gen *g, double *logp)
{
    int V = g->V;
    distribution(g);
    for (int r = 0; r < g->rows; r++) {
        const float *d = g->dist + (size_t)r * V;
        double *lp = logp + (size_t)r * V;
        if (g->o.stateful)
            sample_log_softmax(d, V, lp);
        else
            for (int j = 0; j < V; j++)
                lp[j] = d[j] > 0 ? log((double)d[j]) : -INFINITY;
    }
}

/* Keep n rows: row j becomes a copy of row parent[j] (its state or window, what it has read
 * and not stepped, and its distribution). For the beam search, whose rows draw nothing. */
static void select_rows(gen *g, const int *parent, int n)
{
    int V = g->V;
    if (g->o.stateful) {
        int L = g->p->dim.L, H = g->p->dim.H;
        for (int l = 0; l < L; l++)           /* (L, rows, H) -> (L, n, H) */
            for (int j = 0; j < n; j++) {
                size_t to = ((size_t)l * n + j) * H, from = ((size_t)l * g->rows + parent[j]) * H;
                memcpy(g->h2 + to, g->h + from, (size_t)H * sizeof(float));
                memcpy(g->c2 + to, g->c + from, (size_t)H * sizeof(float));
            }
        float *t = g->h; g->h = g->h2; g->h2 = t;
        t = g->c; g->c = g->c2; g->c2 = t;
        for (int j = 0; j < n; j++)
            g->x2[j] = g->x[parent[j]];
        int32_t *tx = g->x; g->x = g->x2; g->x2 = tx;
    } else {
        int N = g->maxlen;
        for (int j = 0; j < n; j++)
            memcpy(g->win2 + (size_t)j * N, g->win + (size_t)parent[j] * N, (size_t)g->wlen * sizeof *g->win);
        int32_t *t = g->win; g->win = g->win2; g->win2 = t;
    }
    if (g->ready) {
        for (int j = 0; j < n; j++)
            memcpy(g->dist2 + (size_t)j * V, g->dist + (size_t)parent[j] * V, (size_t)V * sizeof(float));
        float *t = g->dist; g->dist = g->dist2; g->dist2 = t;
    }
    g->rows = n;
}

/* ---------------------------------------------------------------------------------------- */
/* Stop strings */

static int stops_longest(const gen_stops *st)
{
    int S = 0;
    for (int i = 0; st && i < st->n; i++)
        S = st->len[i] > S ? st->len[i] : S;
    return S;
}

/* The stop string that text (n characters, the last generated) ends with: the longest, its
 * number; -1 for none. */
static int stop_ending(const gen_stops *st, const int32_t *text, long n)
{
    int best = -1;
    for (int i = 0; st && i < st->n; i++) {
        int L = st->len[i];
        if (L <= n && memcmp(text + n - L, st->s[i], (size_t)L * sizeof *text) == 0
            && (best < 0 || L > st->len[best]))
            best = i;
    }
    return best;
}

/* The stop string that the text h[0..t) followed by c ends with (the longest), or -1. */
static int stop_after(const gen_stops *st, const int32_t *h, long t, int32_t c)
{
    int best = -1;
    for (int i = 0; st && i < st->n; i++) {
        int L = st->len[i];
        if (L <= t + 1 && st->s[i][L - 1] == c
            && memcmp(h + t - (L - 1), st->s[i], (size_t)(L - 1) * sizeof *h) == 0
            && (best < 0 || L > st->len[best]))
            best = i;
    }
    return best;
}

/* How many of the last characters of text (n) could begin a stop string: the longest suffix
 * that is a proper prefix of one. Those are held back until it is known. */
static int stop_prefix(const gen_stops *st, const int32_t *text, int n)
{
    int hold = 0;
    for (int i = 0; st && i < st->n; i++)
        for (int h = st->len[i] - 1 < n ? st->len[i] - 1 : n; h > hold; h--)
            if (memcmp(text + n - h, st->s[i], (size_t)h * sizeof *text) == 0) {
                hold = h;
                break;
            }
    return hold;
}

/* ---------------------------------------------------------------------------------------- */
/* The sampling loop */

int gen_sample(gen *g, const int32_t *prompt, int plen, int32_t *first, long n,
               const gen_stops *stops, gen_emit_fn emit, void *ctx, int *stopped,
               char *err, size_t cap)
{
    int rows = g->nmax, S = stops_longest(stops), live = rows, rc = 0;
    reset(g, rows);
    if (prompt && plen < 1)
        return lib_fail(err, cap, "generate: an empty prompt");
    if (prompt)
        prime(g, prompt, plen);
    else {                                       /* each row's first character, from its stream */
        for (int r = 0; r < rows; r++)
            first[r] = (int32_t)rng_below(&g->rng[r], (uint64_t)g->V);
        feed(g, first);
    }
    /* with stop strings, each row's last characters not yet handed over: tail (rows, S) */
    int32_t *x = malloc((size_t)rows * sizeof *x), *tail = S ? malloc((size_t)rows * S * sizeof *tail) : NULL;
    int *tlen = calloc((size_t)rows, sizeof *tlen), *done = calloc((size_t)rows, sizeof *done);
    if (!x || (S && !tail) || !tlen || !done) {
        free(x); free(tail); free(tlen); free(done);
        return lib_fail(err, cap, "out of memory");
    }
    if (stopped)
        memset(stopped, 0, (size_t)rows * sizeof *stopped);
    for (long i = 0; i < n && live > 0 && !rc; i++) {
        choose(g, x);
        for (int r = 0; r < rows && !rc; r++) {
            if (done[r])
                continue;
            if (!S) {
                rc = emit ? emit(ctx, r, &x[r], 1) : 0;
                continue;
            }
            int32_t *t = tail + (size_t)r * S;
            t[tlen[r]++] = x[r];
            int s = stop_ending(stops, t, tlen[r]);
            if (s >= 0) {                        /* the text ends before the stop string */
                int keep = tlen[r] - stops->len[s];
                rc = emit && keep > 0 ? emit(ctx, r, t, (size_t)keep) : 0;
                done[r] = 1;
                live--;
                if (stopped)
                    stopped[r] = s + 1;
                continue;
            }
            int out = tlen[r] - stop_prefix(stops, t, tlen[r]);
            if (out > 0) {
                rc = emit ? emit(ctx, r, t, (size_t)out) : 0;
                memmove(t, t + out, (size_t)(tlen[r] - out) * sizeof *t);
                tlen[r] -= out;
            }
        }
        if (i + 1 < n && live > 0)
            feed(g, x);
    }
    for (int r = 0; r < rows && !rc; r++)        /* what was held back, where no stop came */
        if (!done[r] && S && tlen[r] > 0)
            rc = emit ? emit(ctx, r, tail + (size_t)r * S, (size_t)tlen[r]) : 0;
    free(x); free(tail); free(tlen); free(done);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The beam search */

int gen_beam(gen *g, const int32_t *prompt, int plen, long n, const gen_stops *stops,
             int32_t *hist, int *len, double *score, int *stopped, char *err, size_t cap)
{
    int K = g->nmax, V = g->V, ncand = stops && stops->n ? 2 * K : K;
    if (plen < 1)
        return lib_fail(err, cap, "generate: an empty prompt");
    reset(g, 1);
    prime(g, prompt, plen);
    if (n <= 0) {                                /* nothing to search: the prompt alone */
        len[0] = 0;
        score[0] = 0;
        stopped[0] = 0;
        return 1;
    }
    /* the unfinished beams: histories lh (rows, n), scores ls; the finished: fh, fs, flen,
     * fstop, best first */
    size_t Kn = (size_t)K * n;
    int32_t *lh = malloc(Kn * sizeof *lh), *lh2 = malloc(Kn * sizeof *lh2), *fh = malloc(Kn * sizeof *fh);
    double *logp = malloc((size_t)K * V * sizeof *logp), *ls = malloc((size_t)K * sizeof *ls);
    double *cs = malloc((size_t)ncand * sizeof *cs), *fs = malloc((size_t)K * sizeof *fs);
    int *cp = malloc((size_t)ncand * sizeof *cp), *cx = malloc((size_t)ncand * sizeof *cx);
    int *keep = malloc((size_t)K * sizeof *keep), *flen = malloc((size_t)K * sizeof *flen);
    int *fstop = malloc((size_t)K * sizeof *fstop);
    int32_t *next = malloc((size_t)K * sizeof *next);
    int rc = 0, nfin = 0;
    long have = 0;                               /* characters each unfinished beam has */
    if (!lh || !lh2 || !fh || !logp || !ls || !cs || !fs || !cp || !cx || !keep || !flen || !fstop || !next) {
        rc = lib_fail(err, cap, "out of memory");
        goto out;
    }
    ls[0] = 0;
    for (long t = 0; t < n && g->rows > 0; t++) {
        log_probs(g, logp);
        int kept = sample_beam_step(g->rows, V, ls, logp, ncand, cp, cx, cs);
        if (kept < 1 && nfin == 0) {
            rc = lib_fail(err, cap, "beam search: no continuation has a non-zero probability");
            goto out;
        }
        int nl = 0;
        for (int j = 0; j < kept; j++) {        /* best first */
            const int32_t *ph = lh + (size_t)cp[j] * n;
            int s = stop_after(stops, ph, t, cx[j]);
            if (s >= 0) {                        /* finished: into the list, best first */
                if (nfin == K && !(cs[j] > fs[K - 1]))
                    continue;
                int f = nfin < K ? nfin++ : K - 1;
                while (f > 0 && cs[j] > fs[f - 1]) {
                    fs[f] = fs[f - 1];
                    flen[f] = flen[f - 1];
                    fstop[f] = fstop[f - 1];
                    memcpy(fh + (size_t)f * n, fh + (size_t)(f - 1) * n, (size_t)flen[f] * sizeof *fh);
                    f--;
                }
                fs[f] = cs[j];
                flen[f] = (int)(t + 1 - stops->len[s]);
                fstop[f] = s + 1;                /* (flen <= t: the stop string is >= 1) */
                memcpy(fh + (size_t)f * n, ph, (size_t)flen[f] * sizeof *fh);
            } else if (nl < K) {                 /* a beam goes on */
                memcpy(lh2 + (size_t)nl * n, ph, (size_t)t * sizeof *lh2);
                lh2[(size_t)nl * n + t] = cx[j];
                keep[nl] = cp[j];
                next[nl] = cx[j];
                cs[nl] = cs[j];                  /* (j >= nl: cs[j] is read before it is overwritten) */
                nl++;
            }
        }
        int32_t *th = lh; lh = lh2; lh2 = th;
        memcpy(ls, cs, (size_t)nl * sizeof *ls);
        select_rows(g, keep, nl);
        have = t + 1;
        if (nl > 0 && t + 1 < n)
            feed(g, next);
        if (nfin == K && (nl == 0 || !(ls[0] > fs[K - 1])))
            break;                               /* no beam can beat the finished any more */
    }
    /* the results: the finished and the unfinished (all of length have), best first, the
     * finished first among equals */
    int a = 0, b = 0, nr = 0, nl = g->rows;
    while (nr < K && (a < nfin || b < nl)) {
        int fin = b >= nl || (a < nfin && !(ls[b] > fs[a]));
        const int32_t *src = fin ? fh + (size_t)a * n : lh + (size_t)b * n;
        len[nr] = fin ? flen[a] : (int)have;
        score[nr] = fin ? fs[a] : ls[b];
        stopped[nr] = fin ? fstop[a] : 0;
        memcpy(hist + (size_t)nr * n, src, (size_t)len[nr] * sizeof *hist);
        fin ? a++ : b++;
        nr++;
    }
    rc = nr;
out:
    free(lh); free(lh2); free(fh); free(logp); free(ls); free(cs); free(fs); free(cp); free(cx);
    free(keep); free(flen); free(fstop); free(next);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* A request in text */

gen_request gen_request_defaults(void)
{
    return (gen_request){ .n = 500, .count = 1, .o = gen_defaults() };
}

void gen_result_free(gen_result *res)
{
    if (!res)
        return;
    for (int i = 0; i < res->n; i++)
        free(res->t[i].text);
    free(res->t);
    memset(res, 0, sizeof *res);
}

/* A text growing by appends. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static int tbuf_put(tbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* What gen_sample's characters become: text, for the caller's emit and the result. */
typedef struct text_sink {
    const codec *cd;
    gen_text_emit_fn emit;
    void *ctx;
    tbuf *buf;                        /* (rows) the texts, or NULL */
    const char *prompt;               /* the prompt's text, common to all rows */
    size_t prompt_len;
    const int32_t *first;             /* or each row's first character (no prompt) */
    int *started;                     /* (rows) the row's prompt was handed over */
    int oom;
} text_sink;

static int sink_put(text_sink *k, int row, const char *s, size_t n)
{
    if (k->buf && tbuf_put(&k->buf[row], s, n) < 0) {
        k->oom = 1;
        return -1;
    }
    return k->emit && n ? k->emit(k->ctx, row, s, n) : 0;
}

/* A row's prompt, before its first character. */
static int sink_start(text_sink *k, int row)
{
    if (k->started[row])
        return 0;
    k->started[row] = 1;
    if (k->prompt)
        return sink_put(k, row, k->prompt, k->prompt_len);
    unsigned char u[4];
    return sink_put(k, row, (const char *)u, (size_t)codec_decode_char(k->cd, k->first[row], u));
}

static int sink_emit(void *ctx, int row, const int32_t *x, size_t n)
{
    text_sink *k = ctx;
    int rc = sink_start(k, row);
    char buf[256];
    for (size_t i = 0; i < n && !rc; i += 64) {
        size_t m = n - i < 64 ? n - i : 64;
        rc = sink_put(k, row, buf, codec_decode(k->cd, x + i, m, buf));
    }
    return rc;
}

int gen_text(const kern_ops *k, const model *m, const codec *cd, const gen_request *r,
             gen_text_emit_fn emit, void *ctx, gen_result *res, char *err, size_t cap)
{
    const char *label = r->prompt_label ? r->prompt_label : "prompt";
    int rows = r->beam > 0 ? r->beam : r->count, V = m->dim.V, rc = 0, plen = 0;
    int collect = res && !emit;                  /* the texts into res, or handed over */
    if (res)
        memset(res, 0, sizeof *res);
    if (rows < 1 || r->n < 0)
        return lib_fail(err, cap, "generate: %d samples of %ld characters", rows, r->n);
    if (r->prompt && r->prompt_len == 0)
        return lib_fail(err, cap, "%s: empty: give at least one character (or none at all, to start"
                        " from one drawn at random)", label);
    /* everything this request holds, freed at the end */
    int32_t *pidx = NULL, **sidx = NULL, *first = NULL, *hist = NULL;
    int *slen = NULL, *snum = NULL, *stopped = NULL, *blen = NULL, *started = NULL;
    double *bscore = NULL;
    char *ptext = NULL;
    tbuf *bufs = NULL;
    gen *g = NULL;
    gen_stops st = { 0 };
    size_t k0, used;
    /* the prompt, as the model reads it */
    if (r->prompt) {
        codec_pos at = { 0 };
        char msg[256];
        if (!(pidx = malloc(r->prompt_len * sizeof *pidx))) {
            rc = lib_fail(err, cap, "out of memory");
            goto out;
        }
        int e = codec_encode(cd, r->prompt, r->prompt_len, 0, r->skip_unknown ? CODEC_SKIP : CODEC_REFUSE,
                             0, pidx, &k0, &used, &at);
        if (e < 0) {
            lib_fail(err, cap, "%s: %s", label, codec_error(cd, e, &at, msg, sizeof msg));
            rc = e == CODEC_EUNKNOWN ? GEN_EUNKNOWN : -1;
            goto out;
        }
        if (k0 == 0) {
            rc = lib_fail(err, cap, "%s: none of its %llu characters is in the vocabulary", label,
                          (unsigned long long)at.chars);
            goto out;
        }
        if (k0 > 0x7fffffff) {
            rc = lib_fail(err, cap, "%s: longer than %d characters", label, 0x7fffffff);
            goto out;
        }
        plen = (int)k0;
        if (res)
            res->skipped = at.skipped;
    }
    /* the stop strings as indices; one with a character outside the vocabulary never occurs */
    if (r->nstop > 0) {
        sidx = calloc((size_t)r->nstop, sizeof *sidx);
        slen = calloc((size_t)r->nstop, sizeof *slen);
        snum = calloc((size_t)r->nstop, sizeof *snum);
        if (!sidx || !slen || !snum) {
            rc = lib_fail(err, cap, "out of memory");
            goto out;
        }
    }
    for (int i = 0; i < r->nstop; i++) {
        codec_pos at = { 0 };
        char msg[256];
        if (r->stop_len[i] == 0 || r->stop_len[i] > (1u << 20)) {
            rc = lib_fail(err, cap, "stop string %d: %s", i + 1, r->stop_len[i] ? "longer than 1 MiB" : "empty");
            goto out;
        }
        if (!(sidx[st.n] = malloc(r->stop_len[i] * sizeof **sidx))) {
            rc = lib_fail(err, cap, "out of memory");
            goto out;
        }
        int e = codec_encode(cd, r->stop[i], r->stop_len[i], 0, CODEC_REFUSE, 0, sidx[st.n], &k0, &used, &at);
        if (e == CODEC_EUNKNOWN) {
            if (res)
                res->stops_unused++;
            free(sidx[st.n]);
            sidx[st.n] = NULL;
            continue;
        }
        if (e < 0) {
            rc = lib_fail(err, cap, "stop string %d: %s", i + 1, codec_error(cd, e, &at, msg, sizeof msg));
            goto out;
        }
        slen[st.n] = (int)k0;
        snum[st.n++] = i;
    }
    st.s = (const int32_t *const *)sidx;
    st.len = slen;

    if (!(g = gen_new(k, &m->p, m->maxlen, &r->o, rows, err, cap))) {
        rc = -1;
        goto out;
    }
    if (!(first = malloc((size_t)rows * sizeof *first)) || !(stopped = calloc((size_t)rows, sizeof *stopped))
        || !(started = calloc((size_t)rows, sizeof *started))
        || (collect && !(bufs = calloc((size_t)rows, sizeof *bufs)))
        || (collect && !(res->t = calloc((size_t)rows, sizeof *res->t)))) {
        rc = lib_fail(err, cap, "out of memory");
        goto out;
    }
    size_t ptlen = 0;
    if (pidx) {                                  /* the prompt's text, as the model read it */
        if (!(ptext = malloc((size_t)plen * 4 + 1))) {
            rc = lib_fail(err, cap, "out of memory");
            goto out;
        }
        ptlen = codec_decode(cd, pidx, (size_t)plen, ptext);
    }
    text_sink sink = { .cd = cd, .emit = emit, .ctx = ctx, .buf = bufs, .prompt = ptext,
                       .prompt_len = ptlen, .first = first, .started = started };
    int nres = rows;
    if (r->beam > 0) {
        int32_t one;
        if (!pidx) {                             /* the first stream's character, as one sample's */
            one = (int32_t)rng_below(gen_rng(g, 0), (uint64_t)V);
            first[0] = one;
        }
        size_t hn = (size_t)rows * (size_t)(r->n > 0 ? r->n : 1);
        if (!(hist = malloc(hn * sizeof *hist)) || !(blen = malloc((size_t)rows * sizeof *blen))
            || !(bscore = malloc((size_t)rows * sizeof *bscore))) {
            rc = lib_fail(err, cap, "out of memory");
            goto out;
        }
        nres = gen_beam(g, pidx ? pidx : &one, pidx ? plen : 1, r->n, &st, hist, blen, bscore, stopped, err, cap);
        if (nres < 0) {
            rc = -1;
            goto out;
        }
        for (int j = 0; j < nres && !rc; j++) {
            first[j] = first[0];
            rc = sink_emit(&sink, j, hist + (size_t)j * (r->n > 0 ? r->n : 1), (size_t)blen[j]);
        }
    } else {
        rc = gen_sample(g, pidx, plen, first, r->n, &st, sink_emit, &sink, stopped, err, cap);
        for (int j = 0; j < rows && !rc; j++)    /* a row that generated nothing */
            rc = sink_start(&sink, j);
    }
    if (sink.oom) {
        rc = lib_fail(err, cap, "out of memory");
        goto out;
    }
    if (rc == 0 && collect) {
        res->n = nres;
        for (int j = 0; j < nres; j++) {
            if (!bufs[j].p && tbuf_put(&bufs[j], "", 0) < 0) {
                rc = lib_fail(err, cap, "out of memory");
                goto out;
            }
            res->t[j] = (gen_result_text){ .text = bufs[j].p, .len = bufs[j].len,
                                           .stop = stopped[j] ? snum[stopped[j] - 1] + 1 : 0,
                                           .logprob = r->beam > 0 ? bscore[j] : 0 };
            unsigned char u[4];
            res->t[j].prompt_len = pidx ? ptlen : (size_t)codec_decode_char(cd, first[j], u);
            bufs[j].p = NULL;
        }
    }
out:
    if (rc != 0 && res) {
        free(res->t);
        res->t = NULL;
        res->n = 0;
    }
    for (int j = 0; bufs && j < rows; j++)
        free(bufs[j].p);
    for (int i = 0; sidx && i < r->nstop; i++)
        free(sidx[i]);
    free(bufs); free(sidx); free(slen); free(snum); free(pidx); free(first); free(stopped);
    free(started); free(hist); free(blen); free(bscore); free(ptext);
    gen_free(g);
    return rc;
}
