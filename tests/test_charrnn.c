/* test_charrnn.c - the char-rnn extensions of the model: stacked layers, a target at every
 * position, a carried state, dropout, weight drop and locked dropout, the GRU and
 * layer-normalised LSTM cells. The general
 * double references (LSTM, lnlstm, GRU) against finite differences, then every runnable kernel
 * set's lstm_train_seq against them, for every cell. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "lstm.h"
#include "lstm_ref.h"
#include "lstm_check.h"

static const kern_ops *K;
static int CELL;                       /* the cell under test: CELL_LSTM or CELL_GRU */
static uint64_t mask_seed;             /* the test's seed for the masks' generators */

typedef struct { int V, H, L, T, b, pp, carried; } cfg;

/* The double reference of CELL (the GRU ignores c0). */
static double ref_loss(const double *p, double *g, cfg c, const int32_t *x, const int32_t *y,
                       const double *h0, const double *c0)
{
    if (CELL == CELL_GRU)
        return gru_ref_loss_seq(p, g, c.V, c.H, c.L, c.T, c.b, x, y, c.pp, h0);
    if (CELL == CELL_LNLSTM)
        return lnlstm_ref_loss_seq(p, g, c.V, c.H, c.L, c.T, c.b, x, y, c.pp, h0, c0);
    return lstm_ref_loss_seq(p, g, c.V, c.H, c.L, c.T, c.b, x, y, c.pp, h0, c0);
}

/* The reference (ref_loss_masked; m NULL: no masks) as a function of its parameters, for
 * diff_check and diff_ridders. */
typedef struct {
    int cell, V, H, L, T, b, pp;
    const int32_t *x, *y;
    const double *h0, *c0;
    const ref_masks *m;
} ref_args;

static double ref_call(const ref_args *a, const double *p, double *g)
{
    ref_masks none;
    memset(&none, 0, sizeof none);
    return ref_loss_masked(a->cell, p, g, a->V, a->H, a->L, a->T, a->b, a->x, a->y, a->pp,
                           a->h0, a->c0, a->m ? a->m : &none);
}

static double ref_loss_at(const double *p, const void *ctx)
{
    return ref_call(ctx, p, NULL);
}

/* The bounds of a float gradient against the reference's, per tensor, at the point a, pd
 * (gd the reference's gradient there): GRAD_BOUND of the tensor's largest gradient; or, where
 * the point amplifies rounding more, 10 times its sensitivity: how far the reference's
 * gradient moves (relative to the tensor's largest) when only the parameters are rounded,
 * each times 1 + 6e-8 r with r uniform in (-1, 1), the largest of 4 draws. A float
 * computation also rounds every sum and activation, in any direction: the float errors
 * reached 1.7 times that sensitivity where it was largest (1e-4: an lnlstm whose norm
 * divides by a spread near its epsilon; a float gradient cannot be closer than that). */
static void grad_bounds(const ref_args *a, const double *pd, const double *gd, lstm_dims d,
                        double *bound)
{
    size_t n = lstm_nparams(d);
    double *pp = malloc(n * sizeof(double)), *gp = malloc(n * sizeof(double));
    rng_t r;
    rng_seed(&r, 1);
    for (int t = 0; t < lstm_ntensors(d); t++)
        bound[t] = GRAD_BOUND;
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < n; i++)
            pp[i] = pd[i] * (1 + 6e-8 * (2 * rng_uniform(&r) - 1));
        ref_call(a, pp, gp);
        for (int t = 0; t < lstm_ntensors(d); t++) {
            size_t off = lstm_tensor_offset(d, t), len = lstm_tensor_offset(d, t + 1) - off;
            double mx = 1e-30, e = 0.0;
            for (size_t i = off; i < off + len; i++) {
                mx = check_max(mx, fabs(gd[i]));
                e = check_max(e, fabs(gp[i] - gd[i]));
            }
            bound[t] = check_max(bound[t], 10 * e / mx);
        }
    }
    free(pp);
    free(gp);
}

/* (1) The general reference against differences of its loss, for every parameter. */
static void gradcheck(cfg c)
{
    size_t n = lstm_nparams((lstm_dims){ c.V, c.H, c.L, CELL }), ns = (size_t)c.L * c.b * c.H;
    double *p = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        p[i] = 0.7 * rng_normal(&rng);
    double *h0 = NULL, *c0 = NULL;
    if (c.carried) {
        h0 = malloc(ns * sizeof(double));
        c0 = malloc(ns * sizeof(double));
        for (size_t i = 0; i < ns; i++) {
            h0[i] = 0.5 * rng_normal(&rng);
            c0[i] = rng_normal(&rng);
        }
    }
    int32_t *x = make_idx((size_t)c.b * c.T, c.V), *y = make_idx((size_t)c.b * c.T, c.V);
    ref_loss(p, g, c, x, y, h0, c0);
    ref_args a = { CELL, c.V, c.H, c.L, c.T, c.b, c.pp, x, y, h0, c0, NULL };
    size_t worst_i = 0;
    double worst = diff_check(ref_loss_at, &a, p, g, n, &worst_i);
    CHECK_BOUND("ref_grad", worst, REF_GRAD_BOUND, "%s L=%d per_position=%d carried=%d: worst at parameter %zu",
                cell_name(CELL), c.L, c.pp, c.carried, worst_i);
    free(p); free(g); free(x); free(y); free(h0); free(c0);
}

static void test_ref_gradcheck(void)
{
    gradcheck((cfg){ 5, 3, 2, 4, 2, 1, 1 });     /* two layers, every position, carried state */
    gradcheck((cfg){ 4, 3, 3, 3, 2, 1, 0 });     /* three layers */
    gradcheck((cfg){ 6, 4, 2, 5, 3, 0, 1 });     /* last position only, carried */
    gradcheck((cfg){ 5, 3, 1, 6, 2, 0, 0 });     /* the seed's shape: one layer, last step */
}

/* (2) lstm_train_seq of the kernel set K against the reference. */
static void check_against_ref(cfg c)
{
    size_t n = lstm_nparams((lstm_dims){ c.V, c.H, c.L, CELL }), ns = (size_t)c.L * c.b * c.H;
    float *flat = malloc(n * sizeof(float)), *gflat = calloc(n, sizeof(float));
    lstm_params p, g;
    lstm_bind(&p, flat, (lstm_dims){ c.V, c.H, c.L, CELL });
    lstm_bind(&g, gflat, (lstm_dims){ c.V, c.H, c.L, CELL });
    lstm_init_keras(&p, &rng);
    for (size_t i = 0; i < n; i++)
        flat[i] += (float)(0.3 * rng_normal(&rng) / sqrt(c.H));
    float *h0 = NULL, *c0 = NULL;
    double *h0d = NULL, *c0d = NULL;
    if (c.carried) {
        h0 = malloc(ns * sizeof(float)); c0 = malloc(ns * sizeof(float));
        h0d = malloc(ns * sizeof(double)); c0d = malloc(ns * sizeof(double));
        for (size_t i = 0; i < ns; i++) {
            h0d[i] = h0[i] = (float)(0.5 * rng_normal(&rng));
            c0d[i] = c0[i] = (float)rng_normal(&rng);
        }
    }
    int32_t *x = make_idx((size_t)c.b * c.T, c.V), *y = make_idx((size_t)c.b * c.T, c.V);
    double *pd = malloc(n * sizeof(double)), *gd = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        pd[i] = flat[i];
    double ref = ref_loss(pd, gd, c, x, y, h0d, c0d);

    int ntargets = c.pp ? c.b * c.T : c.b;
    float *hT = malloc(ns * sizeof(float)), *cT = malloc(ns * sizeof(float));
    lstm_seq s = { .per_position = c.pp, .h0 = h0, .c0 = c0, .hT = hT, .cT = cT };
    lstm_work *w = lstm_work_new((lstm_dims){ c.V, c.H, c.L, CELL }, c.T + 1, c.b + 2);
    double loss = lstm_train_seq(K, &p, &g, w, c.b, c.T, x, y, 1.0f / ntargets, &s) / ntargets;
    CHECK_BOUND("loss", fabs(loss - ref) / check_max(1.0, ref), LOSS_BOUND, "%s %s L=%d pp=%d carried=%d: loss %.8f, reference %.8f",
                K->name, cell_name(CELL), c.L, c.pp, c.carried, loss, ref);
    char name[64];
    double bound[4 * LSTM_MAX_LAYERS + 2];
    ref_args a = { CELL, c.V, c.H, c.L, c.T, c.b, c.pp, x, y, h0d, c0d, NULL };
    grad_bounds(&a, pd, gd, (lstm_dims){ c.V, c.H, c.L, CELL }, bound);
    for (int t = 0; t < lstm_ntensors((lstm_dims){ .L = c.L, .cell = CELL }); t++) {
        size_t off = lstm_tensor_offset((lstm_dims){ c.V, c.H, c.L, CELL }, t);
        size_t len = lstm_tensor_offset((lstm_dims){ c.V, c.H, c.L, CELL }, t + 1) - off;
        double e = max_rel(gflat + off, gd + off, len);
        CHECK_BOUND("grad", e, bound[t], "%s %s V=%d H=%d L=%d T=%d b=%d pp=%d carried=%d: gradient of %s",
                    K->name, cell_name(CELL), c.V, c.H, c.L, c.T, c.b, c.pp, c.carried,
                    lstm_tensor_name((lstm_dims){ .L = c.L, .cell = CELL }, t, name, sizeof name));
    }
    double fl = lstm_forward_seq(K, &p, w, c.b, c.T, x, y, NULL, &s) / ntargets;
    /* the same float forward pass twice */
    CHECK_BOUND("fwd_loss", fabs(fl - loss) / check_max(1.0, loss), 1e-6, "%s %s: forward-only loss %.8f vs %.8f",
                K->name, cell_name(CELL), fl, loss);
    lstm_work_free(w);
    free(flat); free(gflat); free(h0); free(c0); free(h0d); free(c0d); free(x); free(y);
    free(pd); free(gd); free(hT); free(cT);
}

static void test_train_vs_ref(void)
{
    check_against_ref((cfg){ 7, 5, 2, 4, 3, 1, 1 });
    check_against_ref((cfg){ 13, 19, 3, 6, 5, 1, 0 });
    check_against_ref((cfg){ 11, 9, 2, 5, 4, 0, 1 });
    check_against_ref((cfg){ 65, 40, 2, 16, 7, 1, 1 });
    check_against_ref((cfg){ 37, 21, 1, 7, 5, 0, 0 });   /* one layer, last step, ragged sizes */
}

/* (3) The carried state: a sequence cut in two, the second half started from the first's
 * final state, gives the losses of the whole. */
static void test_carried_state(void)
{
    int V = 9, H = 12, L = 2, T = 10, b = 3, T1 = 4;
    size_t n = lstm_nparams((lstm_dims){ V, H, L, CELL }), ns = (size_t)L * b * H;
    float *flat = malloc(n * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, (lstm_dims){ V, H, L, CELL });
    lstm_init_keras(&p, &rng);
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    int32_t *x1 = malloc((size_t)b * T * sizeof(int32_t)), *y1 = malloc((size_t)b * T * sizeof(int32_t));
    int32_t *x2 = malloc((size_t)b * T * sizeof(int32_t)), *y2 = malloc((size_t)b * T * sizeof(int32_t));
    for (int r = 0; r < b; r++)
        for (int t = 0; t < T; t++) {
            if (t < T1) { x1[r * T1 + t] = x[r * T + t]; y1[r * T1 + t] = y[r * T + t]; }
            else { x2[r * (T - T1) + t - T1] = x[r * T + t]; y2[r * (T - T1) + t - T1] = y[r * T + t]; }
        }
    float *hT = malloc(ns * sizeof(float)), *cT = malloc(ns * sizeof(float));
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, L, CELL }, T, b);
    lstm_seq whole = { .per_position = 1 };
    double all = lstm_forward_seq(K, &p, w, b, T, x, y, NULL, &whole);
    lstm_seq first = { .per_position = 1, .hT = hT, .cT = cT };
    double a = lstm_forward_seq(K, &p, w, b, T1, x1, y1, NULL, &first);
    lstm_seq second = { .per_position = 1, .h0 = hT, .c0 = cT };
    double c = lstm_forward_seq(K, &p, w, b, T - T1, x2, y2, NULL, &second);
    /* float sums of the b T losses in two groupings */
    CHECK_BOUND("halves", fabs(a + c - all) / all, 1e-5, "%s %s: halves %.8f + %.8f, whole %.8f", K->name,
                cell_name(CELL), a, c, all);
    lstm_seq fresh = { .per_position = 1 };
    double c0 = lstm_forward_seq(K, &p, w, b, T - T1, x2, y2, NULL, &fresh);
    CHECK(fabs(c0 - c) > 1e-6, "the state made no difference");
    lstm_work_free(w);
    free(flat); free(x); free(y); free(x1); free(y1); free(x2); free(y2); free(hT); free(cT);
}

/* (4) Stacked stateful generation: lstm_step_l T times equals the batch forward's last step. */
static void test_step_layers(void)
{
    int V = 10, H = 14, L = 3, T = 6;
    size_t n = lstm_nparams((lstm_dims){ V, H, L, CELL });
    float *flat = malloc(n * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, (lstm_dims){ V, H, L, CELL });
    lstm_init_keras(&p, &rng);
    int32_t *x = make_idx(T, V);
    float *h = calloc((size_t)L * H, sizeof(float)), *c = calloc((size_t)L * H, sizeof(float));
    float *logits = malloc(V * sizeof(float)), *scratch = malloc(LSTM_STEP_SCRATCH(H) * sizeof(float));
    float *probs = malloc(V * sizeof(float));
    for (int t = 0; t < T; t++)
        lstm_step(K, &p, x[t], h, c, logits, scratch);
    lstm_softmax(logits, V);
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, L, CELL }, T, 1);
    lstm_forward_seq(K, &p, w, 1, T, x, NULL, probs, NULL);
    double e = 0;
    for (int v = 0; v < V; v++)
        e = check_max(e, fabs(probs[v] - logits[v]));
    /* probabilities below 1 from the same cell on one row and on a batch: a few u */
    CHECK_BOUND("step_vs_batch", e, 1e-6, "%s %s: step and batch probabilities", K->name, cell_name(CELL));
    lstm_work_free(w);
    free(flat); free(x); free(h); free(c); free(logits); free(scratch); free(probs);
}

/* (5) Dropout: reproducible from the RNG, a different loss than without, and (rate 0) the same. */
static void test_dropout(void)
{
    int V = 8, H = 10, L = 2, T = 5, b = 4;
    size_t n = lstm_nparams((lstm_dims){ V, H, L, CELL });
    float *flat = malloc(n * sizeof(float)), *g1 = calloc(n, sizeof(float)), *g2 = calloc(n, sizeof(float));
    lstm_params p, ga, gb;
    lstm_bind(&p, flat, (lstm_dims){ V, H, L, CELL });
    lstm_bind(&ga, g1, (lstm_dims){ V, H, L, CELL });
    lstm_bind(&gb, g2, (lstm_dims){ V, H, L, CELL });
    lstm_init_keras(&p, &rng);
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, L, CELL }, T, b);
    rng_t r1, r2;
    uint64_t ms = rng_u64(&rng);
    rng_seed(&r1, ms);
    rng_seed(&r2, ms);
    lstm_seq s1 = { .per_position = 1, .dropout = 0.5f, .rng = &r1 }, s2 = s1;
    s2.rng = &r2;
    double a = lstm_train_seq(K, &p, &ga, w, b, T, x, y, 1.0f, &s1);
    double c = lstm_train_seq(K, &p, &gb, w, b, T, x, y, 1.0f, &s2);
    CHECK(a == c && memcmp(g1, g2, n * sizeof(float)) == 0, "same RNG, different results");
    lstm_seq plain = { .per_position = 1 };
    double d = lstm_forward_seq(K, &p, w, b, T, x, y, NULL, &plain);
    CHECK(fabs(a - d) > 1e-6, "dropout 0.5 changed nothing");
    memset(g1, 0, n * sizeof(float));
    memset(g2, 0, n * sizeof(float));
    lstm_seq zero = { .per_position = 1, .dropout = 0.0f, .rng = &r1 };
    double e = lstm_train_seq(K, &p, &ga, w, b, T, x, y, 1.0f, &zero);
    double f = lstm_train_seq(K, &p, &gb, w, b, T, x, y, 1.0f, &plain);
    CHECK(e == f && memcmp(g1, g2, n * sizeof(float)) == 0, "dropout 0 differs from none");
    /* a batch split in two parts (as threads or processes split it: each part from the same
     * RNG, told where its rows sit) draws the masks of the whole: the same loss and gradient */
    memset(g1, 0, n * sizeof(float));
    memset(g2, 0, n * sizeof(float));
    rng_seed(&r1, ms + 1);
    lstm_seq whole = { .per_position = 1, .dropout = 0.5f, .rng = &r1 };
    double wl = lstm_train_seq(K, &p, &ga, w, b, T, x, y, 1.0f, &whole);
    double pl = 0;
    for (int lo = 0; lo < b; lo += 3) {
        int pb = b - lo < 3 ? b - lo : 3;
        rng_seed(&r2, ms + 1);
        lstm_seq part = { .per_position = 1, .dropout = 0.5f, .rng = &r2, .row0 = lo };
        pl += lstm_train_seq(K, &p, &gb, w, pb, T, x + (size_t)lo * T, y + (size_t)lo * T, 1.0f, &part);
    }
    double ge = 0, gm = 0;
    for (size_t i = 0; i < n; i++) {
        ge = check_max(ge, fabs((double)g1[i] - g2[i]));
        gm = check_max(gm, fabs((double)g1[i]));
    }
    /* the same float sums in another grouping (the parts' gradients added up) */
    CHECK_BOUND("parts_loss", fabs(wl - pl) / fabs(wl), 1e-5, "%s %s: a batch in parts: loss %.7g vs whole %.7g",
                K->name, cell_name(CELL), pl, wl);
    CHECK_BOUND("parts_grad", ge / gm, 1e-5, "%s %s: a batch in parts: gradient", K->name, cell_name(CELL));
    lstm_work_free(w);
    free(flat); free(g1); free(g2); free(x); free(y);
}

static double *to_double(const float *a, size_t n)
{
    if (!a)
        return NULL;
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

/* The masks the last lstm_train_seq on w drew with the settings s (lstm_work_masks: fm), in
 * double for the reference; wdf holds L H G floats. free_masks frees them. */
static ref_masks masks_of(lstm_work *w, const lstm_seq *s, lstm_dims d, int T, int b, float *wdf,
                          lstm_masks *fm)
{
    int G = cell_gates(d.cell) * d.H;
    ref_masks m;
    memset(&m, 0, sizeof m);
    *fm = lstm_work_masks(w, s, wdf);
    for (int l = 0; l < d.L; l++) {
        m.wdrop[l] = to_double(fm->wdrop[l], (size_t)d.H * G);
        m.between[l] = to_double(fm->between[l], (size_t)T * b * d.H);
    }
    m.input = to_double(fm->input, (size_t)b * T);
    m.output = to_double(fm->output, (size_t)b * d.H);
    return m;
}

static void free_masks(ref_masks *m)
{
    for (int l = 0; l < 8; l++) {
        free((void *)m->wdrop[l]);
        free((void *)m->between[l]);
    }
    free((void *)m->input);
    free((void *)m->output);
}

/* The gradient g of the summed loss that K's lstm_train_seq gave with the settings s (masks
 * drawn on w) against differences in double of the reference under the same masks
 * (diff_ridders), every parameter: what is measured is the float gradient's own rounding
 * (differencing the float loss measured the loss's rounding over eps instead), against
 * grad_bounds. */
static void grad_vs_differences(const char *what, lstm_dims d, int T, int b, const float *flat,
                                const float *g, lstm_work *w, const lstm_seq *s,
                                const int32_t *x, const int32_t *y)
{
    size_t n = lstm_nparams(d), ns = (size_t)d.L * b * d.H;
    float *wdf = malloc((size_t)d.L * d.H * cell_gates(d.cell) * d.H * sizeof(float));
    lstm_masks fm;
    ref_masks m = masks_of(w, s, d, T, b, wdf, &fm);
    double *pd = to_double(flat, n), *num = malloc(n * sizeof(double));
    double *h0 = to_double(s->h0, ns), *c0 = to_double(s->c0, ns);
    int ntargets = s->per_position ? b * T : b;
    ref_args a = { d.cell, d.V, d.H, d.L, T, b, s->per_position, x, y, h0, c0, &m };
    for (size_t i = 0; i < n; i++)
        num[i] = diff_ridders(ref_loss_at, &a, pd, i, NULL) * ntargets;
    double *gd = malloc(n * sizeof(double)), bound[4 * LSTM_MAX_LAYERS + 2];
    ref_call(&a, pd, gd);
    grad_bounds(&a, pd, gd, d, bound);
    char name[64];
    for (int t = 0; t < lstm_ntensors(d); t++) {      /* every tensor of every layer */
        size_t off = lstm_tensor_offset(d, t), len = lstm_tensor_offset(d, t + 1) - off;
        double e = max_rel(g + off, num + off, len);
        CHECK_BOUND("grad_vs_diff", e, bound[t], "%s %s pp=%d: %s, gradient of %s", K->name,
                    cell_name(d.cell), s->per_position, what, lstm_tensor_name(d, t, name, sizeof name));
    }
    free_masks(&m);
    free(wdf); free(pd); free(num); free(h0); free(c0); free(gd);
}

/* (6) The gradient with dropout on against the reference's differences under its masks.
 * Three layers, so a layer in the middle has dropout both on its input and on its output. */
static void test_dropout_gradient(void)
{
    mask_seed = rng_u64(&rng);
    int V = 6, H = 5, L = 3, T = 4, b = 3;
    lstm_dims d = { V, H, L, CELL };
    size_t n = lstm_nparams(d);
    float *flat = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float));
    lstm_params p, gp;
    lstm_bind(&p, flat, d);
    lstm_bind(&gp, g, d);
    lstm_init_keras(&p, &rng);
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    lstm_work *w = lstm_work_new(d, T, b);
    rng_t r;
    rng_seed(&r, mask_seed);
    lstm_seq s = { .per_position = 1, .dropout = 0.4f, .rng = &r };
    lstm_train_seq(K, &p, &gp, w, b, T, x, y, 1.0f, &s);
    grad_vs_differences("with dropout", d, T, b, flat, g, w, &s, x, y);
    lstm_work_free(w);
    free(flat); free(g); free(x); free(y);
}

/* The settings every regularisation test uses: every option on, the masks from mask_seed. */
static lstm_seq regul_seq(rng_t *r, int pp, const float *h0, const float *c0)
{
    rng_seed(r, mask_seed);
    return (lstm_seq){ .per_position = pp, .h0 = h0, .c0 = c0, .dropout = 0.3f, .rng = r,
                       .weight_drop = 0.4f, .locked_dropout = 0.3f, .input_dropout = 0.3f };
}

/* (7a) The double reference under masks (weight drop, dropout, locked dropout; 0 or 1 / keep
 * at random) against central differences, for every parameter, with a carried state. */
static double *rand_mask(size_t n, double keep)
{
    double *m = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        m[i] = rng_uniform(&rng) < keep ? 1.0 / keep : 0.0;
    return m;
}

static void test_ref_masked_gradcheck(void)
{
    int V = 5, H = 3, L = 3, T = 4, b = 2, G = cell_gates(CELL) * H;
    size_t n = lstm_nparams((lstm_dims){ V, H, L, CELL }), ns = (size_t)L * b * H;
    for (int pp = 1; pp >= 0; pp--) {
        double *p = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            p[i] = 0.7 * rng_normal(&rng);
        double *h0 = malloc(ns * sizeof(double)), *c0 = malloc(ns * sizeof(double));
        for (size_t i = 0; i < ns; i++) {
            h0[i] = 0.5 * rng_normal(&rng);
            c0[i] = rng_normal(&rng);
        }
        ref_masks m;
        memset(&m, 0, sizeof m);
        for (int l = 0; l < L; l++) {
            m.wdrop[l] = rand_mask((size_t)H * G, 0.6);
            m.between[l] = l > 0 ? rand_mask((size_t)T * b * H, 0.5) : NULL;
        }
        m.input = rand_mask((size_t)b * T, 0.7);
        m.output = rand_mask((size_t)b * H, 0.7);
        int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
        const double *hh = h0, *cc = c0;   /* (without a carried state, a dropped first input
                                              leaves the lnlstm's norm too steep to difference) */
        ref_loss_masked(CELL, p, g, V, H, L, T, b, x, y, pp, hh, cc, &m);
        ref_args a = { CELL, V, H, L, T, b, pp, x, y, hh, cc, &m };
        size_t worst_i = 0;
        double worst = diff_check(ref_loss_at, &a, p, g, n, &worst_i);
        CHECK_BOUND("ref_grad_masked", worst, REF_GRAD_BOUND, "%s pp=%d: the reference under masks, worst at parameter %zu",
                    cell_name(CELL), pp, worst_i);
        for (int l = 0; l < L; l++) {
            free((void *)m.wdrop[l]);
            free((void *)m.between[l]);
        }
        free((void *)m.input); free((void *)m.output);
        free(p); free(g); free(h0); free(c0); free(x); free(y);
    }
}

/* (7b) lstm_train_seq of the kernel set K with every option on against the double reference
 * under the masks it drew (lstm_work_masks). */
static int input_zeros, input_n;       /* regul_against_ref's input masks: dropped, all */

static void regul_against_ref(int V, int H, int L, int T, int b, int pp)
{
    lstm_dims dm = { V, H, L, CELL };
    int G = cell_gates(CELL) * H;
    size_t n = lstm_nparams(dm), ns = (size_t)L * b * H;
    float *flat = malloc(n * sizeof(float)), *gflat = calloc(n, sizeof(float));
    lstm_params p, g;
    lstm_bind(&p, flat, dm);
    lstm_bind(&g, gflat, dm);
    lstm_init_keras(&p, &rng);
    for (size_t i = 0; i < n; i++)
        flat[i] += (float)(0.3 * rng_normal(&rng) / sqrt(H));
    float *h0 = malloc(ns * sizeof(float)), *c0 = malloc(ns * sizeof(float));
    double *h0d = malloc(ns * sizeof(double)), *c0d = malloc(ns * sizeof(double));
    for (size_t i = 0; i < ns; i++) {
        h0d[i] = h0[i] = (float)(0.5 * rng_normal(&rng));
        c0d[i] = c0[i] = (float)rng_normal(&rng);
    }
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    int ntargets = pp ? b * T : b;
    rng_t r;
    lstm_seq s = regul_seq(&r, pp, pp ? h0 : NULL, pp ? c0 : NULL);
    lstm_work *w = lstm_work_new(dm, T, b);
    double loss = lstm_train_seq(K, &p, &g, w, b, T, x, y, 1.0f / ntargets, &s) / ntargets;
    float *wdf = malloc((size_t)L * H * G * sizeof(float));
    lstm_masks fm;
    ref_masks m = masks_of(w, &s, dm, T, b, wdf, &fm);
    /* the input's mask is locked: a character has one multiplier in its sequence (and over
     * the test's calls, some are dropped and some kept: test_regul_vs_ref) */
    int locked = 1;
    for (int row = 0; fm.input && row < b; row++)
        for (int t = 0; t < T; t++) {
            const float *mr = fm.input + (size_t)row * T;
            const int32_t *xr = x + (size_t)row * T;
            input_zeros += mr[t] == 0.0f;
            input_n++;
            for (int u = 0; u < t; u++)
                if (xr[u] == xr[t] && mr[u] != mr[t])
                    locked = 0;
        }
    CHECK(locked, "%s %s: input masks not locked per character", K->name, cell_name(CELL));
    int all = fm.input && fm.output;
    for (int l = 0; l < L; l++)
        all = all && fm.wdrop[l] && (l == 0 || fm.between[l]);
    CHECK(all, "%s %s: lstm_work_masks lacks a mask", K->name, cell_name(CELL));
    double *pd = malloc(n * sizeof(double)), *gd = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        pd[i] = flat[i];
    double ref = ref_loss_masked(CELL, pd, gd, V, H, L, T, b, x, y, pp, pp ? h0d : NULL, pp ? c0d : NULL, &m);
    CHECK_BOUND("loss", fabs(loss - ref) / check_max(1.0, ref), LOSS_BOUND, "%s %s L=%d pp=%d with the options on: loss %.8f, reference %.8f",
                K->name, cell_name(CELL), L, pp, loss, ref);
    char name[64];
    double bound[4 * LSTM_MAX_LAYERS + 2];
    ref_args a = { CELL, V, H, L, T, b, pp, x, y, pp ? h0d : NULL, pp ? c0d : NULL, &m };
    grad_bounds(&a, pd, gd, dm, bound);
    for (int t = 0; t < lstm_ntensors(dm); t++) {
        size_t off = lstm_tensor_offset(dm, t), len = lstm_tensor_offset(dm, t + 1) - off;
        double e = max_rel(gflat + off, gd + off, len);
        CHECK_BOUND("grad", e, bound[t], "%s %s V=%d H=%d L=%d T=%d b=%d pp=%d with the options on: gradient of %s",
                    K->name, cell_name(CELL), V, H, L, T, b, pp, lstm_tensor_name(dm, t, name, sizeof name));
    }
    free_masks(&m);
    lstm_work_free(w);
    free(flat); free(gflat); free(h0); free(c0); free(h0d); free(c0d); free(x); free(y); free(pd); free(gd);
    free(wdf);
}

static void test_regul_vs_ref(void)
{
    mask_seed = rng_u64(&rng);
    input_zeros = input_n = 0;
    regul_against_ref(7, 5, 2, 4, 3, 1);
    regul_against_ref(13, 19, 3, 6, 5, 1);
    regul_against_ref(11, 9, 2, 5, 4, 0);
    regul_against_ref(37, 21, 2, 7, 9, 1);             /* ragged sizes, more rows than a group */
    /* (on 100-odd distinct characters of rows, all kept or all dropped at rates 0.3 would
     * have probability 0.7^100, 0.3^100) */
    CHECK(input_zeros > 0 && input_zeros < input_n, "%s %s: %d of %d inputs dropped", K->name,
          cell_name(CELL), input_zeros, input_n);
}

/* (7) The regularisation of lstm_seq (weight drop, locked dropout on every layer's input and
 * on the output, beside the per-step dropout), all on at once: the scalar set's gradient (the
 * specification; test_regul_parts checks every other set against it) against central
 * differences of the reference under the masks it drew, with a carried state and three
 * layers; and with a target after the last step only (the output's locked mask on one row per
 * sequence). */
static void test_regul_gradient(void)
{
    mask_seed = rng_u64(&rng);
    int V = 6, H = 5, L = 3, T = 4, b = 3;
    lstm_dims d = { V, H, L, CELL };
    size_t n = lstm_nparams(d), ns = (size_t)L * b * H;
    float *flat = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    float *h0 = malloc(ns * sizeof(float)), *c0 = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++) {
        h0[i] = (float)(0.5 * rng_normal(&rng));
        c0[i] = (float)rng_normal(&rng);
    }
    lstm_params p, gp;
    lstm_bind(&p, flat, d);
    lstm_bind(&gp, g, d);
    lstm_init_keras(&p, &rng);
    for (size_t i = 0; i < n; i++)    /* off the initialisation's zero biases */
        flat[i] += (float)(0.2 * rng_normal(&rng));
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    lstm_work *w = lstm_work_new(d, T, b);
    for (int pp = 1; pp >= 0; pp--) {
        rng_t r;
        lstm_seq s = regul_seq(&r, pp, pp ? h0 : NULL, pp ? c0 : NULL);
        memset(g, 0, n * sizeof(float));
        double l0 = lstm_train_seq(K, &p, &gp, w, b, T, x, y, 1.0f, &s);
        grad_vs_differences("with weight drop and locked dropout", d, T, b, flat, g, w, &s, x, y);
        lstm_seq plain = { .per_position = pp, .h0 = s.h0, .c0 = s.c0 };
        double lf = lstm_forward_seq(K, &p, w, b, T, x, y, NULL, &plain);
        CHECK(fabs(l0 - lf) > 1e-4, "%s %s pp=%d: the masks changed nothing", K->name, cell_name(CELL), pp);
    }
    lstm_work_free(w);
    free(flat); free(g); free(x); free(y); free(h0); free(c0);
}

/* (8) The same options: rates 0 are no options (bit for bit); a batch cut into parts (threads,
 * processes) draws the masks of the whole; and this kernel set agrees with the scalar set's
 * loss and gradient under the same masks. */
static void test_regul_parts(void)
{
    int V = 7, H = 9, L = 2, T = 6, b = 5;
    lstm_dims d = { V, H, L, CELL };
    size_t n = lstm_nparams(d);
    float *flat = malloc(n * sizeof(float)), *g1 = calloc(n, sizeof(float)), *g2 = calloc(n, sizeof(float));
    lstm_params p, ga, gb;
    lstm_bind(&p, flat, d);
    lstm_bind(&ga, g1, d);
    lstm_bind(&gb, g2, d);
    lstm_init_keras(&p, &rng);
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx((size_t)b * T, V);
    lstm_work *w = lstm_work_new(d, T, b);
    rng_t r1, r2;
    mask_seed = rng_u64(&rng);
    rng_seed(&r1, mask_seed);
    rng_seed(&r2, mask_seed);
    lstm_seq zero = { .per_position = 1, .rng = &r1 }, plain = { .per_position = 1, .rng = &r2 };
    double e = lstm_train_seq(K, &p, &ga, w, b, T, x, y, 1.0f, &zero);
    double f = lstm_train_seq(K, &p, &gb, w, b, T, x, y, 1.0f, &plain);
    CHECK(e == f && memcmp(g1, g2, n * sizeof(float)) == 0 && memcmp(&r1, &r2, sizeof r1) == 0,
          "rates 0 differ from none");
    memset(g1, 0, n * sizeof(float));
    memset(g2, 0, n * sizeof(float));
    lstm_seq whole = regul_seq(&r1, 1, NULL, NULL);
    double wl = lstm_train_seq(K, &p, &ga, w, b, T, x, y, 1.0f, &whole);
    double pl = 0;
    for (int lo = 0; lo < b; lo += 2) {
        int pb = b - lo < 2 ? b - lo : 2;
        lstm_seq part = regul_seq(&r2, 1, NULL, NULL);
        part.row0 = lo;
        pl += lstm_train_seq(K, &p, &gb, w, pb, T, x + (size_t)lo * T, y + (size_t)lo * T, 1.0f, &part);
    }
    double ge = 0, gm = 0;
    for (size_t i = 0; i < n; i++) {
        ge = check_max(ge, fabs((double)g1[i] - g2[i]));
        gm = check_max(gm, fabs((double)g1[i]));
    }
    CHECK_BOUND("parts_loss", fabs(wl - pl) / fabs(wl), 1e-5, "%s %s: a batch in parts with the options on: loss %.7g vs whole %.7g",
                K->name, cell_name(CELL), pl, wl);
    CHECK_BOUND("parts_grad", ge / gm, 1e-5, "%s %s: a batch in parts with the options on: gradient", K->name, cell_name(CELL));
    /* the scalar set under the same masks */
    const kern_ops *S = kern_get("scalar");
    memset(g2, 0, n * sizeof(float));
    lstm_seq sc = regul_seq(&r2, 1, NULL, NULL);
    double sl = lstm_train_seq(S, &p, &gb, w, b, T, x, y, 1.0f, &sc);
    ge = 0;
    for (size_t i = 0; i < n; i++)
        ge = check_max(ge, fabs((double)g1[i] - g2[i]));
    /* two float computations of the same loss and gradient (the bounds against the reference) */
    CHECK_BOUND("vs_scalar_loss", fabs(wl - sl) / fabs(sl), LOSS_BOUND, "%s %s: with the options on, loss %.7g vs scalar %.7g",
                K->name, cell_name(CELL), wl, sl);
    CHECK_BOUND("vs_scalar_grad", ge / gm, GRAD_BOUND, "%s %s: with the options on, gradient against the scalar set's",
                K->name, cell_name(CELL));
    lstm_work_free(w);
    free(flat); free(g1); free(g2); free(x); free(y);
}

static void test_layout(void)
{
    char name[64];
    CHECK(lstm_nparams((lstm_dims){ 65, 128, 1, CELL_LSTM }) == (size_t)4 * 128 * (65 + 128 + 1) + 128 * 65 + 65,
          "one layer: the seed's model, Keras's count");
    CHECK(lstm_nparams((lstm_dims){ 65, 512, 2, CELL_LSTM }) == (size_t)4 * (512 * (65 + 512) + 512) + 4 * (512 * 1024 + 512) + 512 * 65 + 65,
          "two layers: Keras's count");
    CHECK(strcmp(lstm_tensor_name((lstm_dims){ .L = 2, .cell = CELL_LSTM }, 4, name, sizeof name), "lstm_1/recurrent_kernel") == 0, "%s", name);
    CHECK(strcmp(lstm_tensor_name((lstm_dims){ .L = 2, .cell = CELL_LSTM }, 6, name, sizeof name), "dense/kernel") == 0, "%s", name);
    uint64_t s[2];
    CHECK(lstm_tensor_shape((lstm_dims){ 65, 32, 2, CELL_LSTM }, 3, s) == 2 && s[0] == 32 && s[1] == 128, "layer 1 kernel (H, 4H)");
    /* Keras's GRU(128) on 65 inputs with reset_after: 3 * 128 * (65 + 128) + 2 * 3 * 128 */
    CHECK(lstm_nparams((lstm_dims){ 65, 128, 1, CELL_GRU }) == 3 * 128 * (65 + 128) + 2 * 3 * 128 + 128 * 65 + 65,
          "GRU: Keras's count");
    CHECK(lstm_nparams((lstm_dims){ 65, 128, 1, CELL_LNLSTM }) == lstm_nparams((lstm_dims){ 65, 128, 1, CELL_LSTM }) + 4 * 128,
          "lnlstm: the LSTM's and gamma");
    CHECK(cell_parse("lnlstm") == CELL_LNLSTM, "cell name lnlstm");
    CHECK(strcmp(lstm_tensor_name((lstm_dims){ .L = 2, .cell = CELL_GRU }, 5, name, sizeof name), "gru_1/bias") == 0, "%s", name);
    CHECK(lstm_tensor_shape((lstm_dims){ 65, 32, 2, CELL_GRU }, 2, s) == 2 && s[0] == 2 && s[1] == 96, "GRU bias (2, 3H)");
    CHECK(lstm_tensor_shape((lstm_dims){ 65, 32, 2, CELL_GRU }, 1, s) == 2 && s[0] == 32 && s[1] == 96, "GRU recurrent (H, 3H)");
    CHECK(cell_parse("gru") == CELL_GRU && cell_parse("lstm") == CELL_LSTM && cell_parse("rnn") < 0, "cell names");
}

/* The GRU's initialisation as Keras's: zero biases (no forget-gate 1), an orthogonal (H, 3H)
 * recurrent kernel (R R^T = I). */
static void test_gru_init(void)
{
    int V = 11, H = 9, G = 3 * H;
    float *flat = malloc(lstm_nparams((lstm_dims){ V, H, 1, CELL_GRU }) * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, (lstm_dims){ V, H, 1, CELL_GRU });
    lstm_init_keras(&p, &rng);
    double bmax = 0, err = 0;
    for (int j = 0; j < 2 * G; j++)
        bmax = check_max(bmax, fabs(p.layer[0].bias[j]));
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) {
            double d = 0;
            for (int q = 0; q < G; q++)
                d += (double)p.layer[0].recurrent[i * G + q] * p.layer[0].recurrent[j * G + q];
            err = check_max(err, fabs(d - (i == j)));
        }
    CHECK(bmax == 0.0, "GRU biases start at zero (max %g)", bmax);
    /* (as test_lstm's: a double Gram-Schmidt's result rounded to float, a few u) */
    CHECK_BOUND("orthogonal", err, 1e-5, "GRU recurrent kernel R R^T - I");
    free(flat);
}

int main(void)
{
    RUN(test_layout);
    RUN(test_gru_init);
    for (CELL = CELL_LSTM; CELL <= CELL_LNLSTM; CELL++) {
        printf("# cell %s\n", cell_name(CELL));
        check_context("cell=%s", cell_name(CELL));
        RUN(test_ref_gradcheck);
        RUN(test_ref_masked_gradcheck);
        K = kern_get("scalar");       /* the specification; the others are checked against it */
        check_context("cell=%s set=%s", cell_name(CELL), K->name);
        RUN(test_regul_gradient);
        for (int i = 0; kern_all[i]; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "charrnn_%s", cell_name(CELL));
            if (!(K = check_set(prefix, kern_all[i])))
                continue;
            printf("# kernel set %s, cell %s\n", K->name, cell_name(CELL));
            check_context("cell=%s set=%s", cell_name(CELL), K->name);
            RUN(test_train_vs_ref);
            RUN(test_carried_state);
            RUN(test_step_layers);
            RUN(test_dropout);
            RUN(test_dropout_gradient);
            RUN(test_regul_vs_ref);
            RUN(test_regul_parts);
        }
    }
    return check_summary();
}
