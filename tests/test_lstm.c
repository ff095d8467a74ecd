/* test_lstm.c - the model's math: the double reference against finite differences, then every
 * runnable kernel set's lstm_train_batch / lstm_forward_batch / lstm_step against the
 * reference, gradient splitting, Keras initialisation and the parameter layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "lstm.h"
#include "lstm_ref.h"
#include "lstm_check.h"


/* A model with Keras init plus noise on every tensor (so biases and gates are not trivial). */
static float *make_params(int V, int H, lstm_params *p)
{
    size_t n = lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM });
    float *flat = malloc(n * sizeof(float));
    lstm_bind(p, flat, (lstm_dims){ V, H, 1, CELL_LSTM });
    lstm_init_keras(p, &rng);
    for (size_t i = 0; i < n; i++)
        flat[i] += (float)(0.3 * rng_normal(&rng) / sqrt(H));
    return flat;
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

/* (1) The reference's gradient against differences of its loss, every parameter. */
typedef struct { int V, H, T, b; const int32_t *x, *y; } ref_args;

static double ref_loss_at(const double *p, const void *ctx)
{
    const ref_args *a = ctx;
    return lstm_ref_loss(p, NULL, a->V, a->H, a->T, a->b, a->x, a->y);
}

static void test_ref_gradcheck(void)
{
    int V = 5, H = 3, T = 4, b = 3;
    size_t n = lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM });
    double *p = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        p[i] = 0.8 * rng_normal(&rng);
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx(b, V);
    lstm_ref_loss(p, g, V, H, T, b, x, y);
    ref_args a = { V, H, T, b, x, y };
    size_t worst_i = 0;
    double worst = diff_check(ref_loss_at, &a, p, g, n, &worst_i);
    CHECK_BOUND("ref_grad", worst, REF_GRAD_BOUND, "the reference's gradient, worst at parameter %zu", worst_i);
    /* the check must be able to fail: 1% off the largest gradient is caught */
    size_t big = 0;
    for (size_t i = 1; i < n; i++)
        if (fabs(g[i]) > fabs(g[big]))
            big = i;
    double num = diff_ridders(ref_loss_at, &a, p, big, NULL);
    CHECK(grad_rel(num, 1.01 * g[big]) > 10 * REF_GRAD_BOUND, "a 1%% error went unnoticed");
    free(p); free(g); free(x); free(y);
}

/* (2) train_batch and forward_batch of set k against the reference. */
static void check_against_ref(const kern_ops *k, int V, int H, int T, int b)
{
    lstm_params p, g;
    float *flat = make_params(V, H, &p);
    size_t n = lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM });
    float *gflat = calloc(n, sizeof(float));
    lstm_bind(&g, gflat, (lstm_dims){ V, H, 1, CELL_LSTM });
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx(b, V);
    double *pd = to_double(flat, n), *gd = malloc(n * sizeof(double));
    double ref_loss = lstm_ref_loss(pd, gd, V, H, T, b, x, y);

    lstm_work *w = lstm_work_new((lstm_dims){ V, H, 1, CELL_LSTM }, T + 2, b + 3);    /* a larger work area must do */
    double loss = lstm_train_batch(k, &p, &g, w, b, T, x, y, 1.0f / b);
    CHECK_BOUND("loss", fabs(loss / b - ref_loss) / check_max(1.0, ref_loss), LOSS_BOUND,
                "%s V=%d H=%d T=%d b=%d: loss %.8f, reference %.8f", k->name, V, H, T, b, loss / b, ref_loss);
    char name[64];
    for (int t = 0; t < lstm_ntensors((lstm_dims){ .L = 1, .cell = CELL_LSTM }); t++) {
        size_t off = lstm_tensor_offset((lstm_dims){ V, H, 1, CELL_LSTM }, t);
        size_t len = lstm_tensor_offset((lstm_dims){ V, H, 1, CELL_LSTM }, t + 1) - off;
        double e = max_rel(gflat + off, gd + off, len);
        CHECK_BOUND("grad", e, GRAD_BOUND, "%s V=%d H=%d T=%d b=%d: gradient of %s", k->name, V, H, T, b,
                    lstm_tensor_name((lstm_dims){ .L = 1, .cell = CELL_LSTM }, t, name, sizeof name));
    }

    float *probs = malloc((size_t)b * V * sizeof(float));
    double *ref_probs = malloc((size_t)b * V * sizeof(double));
    lstm_ref_probs(pd, V, H, T, b, x, ref_probs);
    double floss = lstm_forward_batch(k, &p, w, b, T, x, y, probs);
    /* probabilities: the logits' float error (sums over H), through exp */
    CHECK_BOUND("probs", max_rel(probs, ref_probs, (size_t)b * V), 1e-4, "%s V=%d H=%d T=%d b=%d: probabilities",
                k->name, V, H, T, b);
    /* the same float forward pass twice, summed in float over b windows */
    CHECK_BOUND("fwd_loss", fabs(floss - loss) / fabs(loss), 1e-6, "%s: forward loss %.8f, train loss %.8f",
                k->name, floss, loss);
    CHECK(lstm_forward_batch(k, &p, w, b, T, x, NULL, probs) == 0.0, "y = NULL returns a loss");
    lstm_work_free(w);
    free(flat); free(gflat); free(x); free(y); free(pd); free(gd); free(probs); free(ref_probs);
}

static const kern_ops *K;

static void test_train_vs_ref(void)
{
    check_against_ref(K, 5, 3, 4, 3);
    check_against_ref(K, 37, 21, 7, 5);
    check_against_ref(K, 11, 8, 1, 2);          /* T = 1: no recurrent product */
    check_against_ref(K, 65, 128, 40, 32);
}

/* (3) Two halves with gscale = 1/b sum to one call on all b windows. */
static void test_gscale_split(void)
{
    int V = 37, H = 21, T = 7, b = 6;
    lstm_params p, g1, g2;
    float *flat = make_params(V, H, &p);
    size_t n = lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM });
    float *a = calloc(n, sizeof(float)), *c = calloc(n, sizeof(float));
    lstm_bind(&g1, a, (lstm_dims){ V, H, 1, CELL_LSTM });
    lstm_bind(&g2, c, (lstm_dims){ V, H, 1, CELL_LSTM });
    int32_t *x = make_idx((size_t)b * T, V), *y = make_idx(b, V);
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, 1, CELL_LSTM }, T, b);
    double l_all = lstm_train_batch(K, &p, &g1, w, b, T, x, y, 1.0f / b);
    double l_1 = lstm_train_batch(K, &p, &g2, w, 2, T, x, y, 1.0f / b);
    double l_2 = lstm_train_batch(K, &p, &g2, w, b - 2, T, x + 2 * T, y + 2, 1.0f / b);
    /* the same float sums in another grouping: a few u of the sums of b terms */
    CHECK_BOUND("parts_loss", fabs(l_1 + l_2 - l_all) / l_all, 1e-5, "%s loss %.8f + %.8f, whole %.8f", K->name, l_1, l_2, l_all);
    double mx = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        mx = check_max(mx, fabs(a[i]));
        err = check_max(err, fabs(a[i] - c[i]));
    }
    CHECK_BOUND("parts_grad", err / mx, 1e-5, "%s split gradient", K->name);
    lstm_work_free(w);
    free(flat); free(a); free(c); free(x); free(y);
}

/* (4) lstm_step T times from the zero state gives forward_batch's distribution, and the
 * reference's logits. */
static void test_step(void)
{
    int V = 37, H = 21, T = 9, b = 3;
    lstm_params p;
    float *flat = make_params(V, H, &p);
    double *pd = to_double(flat, lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM }));
    int32_t *x = make_idx((size_t)b * T, V);
    float *probs = malloc((size_t)b * V * sizeof(float));
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, 1, CELL_LSTM }, T, b);
    lstm_forward_batch(K, &p, w, b, T, x, NULL, probs);
    float *h = malloc(H * sizeof(float)), *c = malloc(H * sizeof(float));
    float *logits = malloc(V * sizeof(float)), *scratch = malloc(LSTM_STEP_SCRATCH(H) * sizeof(float));
    double *hd = malloc(H * sizeof(double)), *cd = malloc(H * sizeof(double));
    double *ld = malloc(V * sizeof(double));
    for (int r = 0; r < b; r++) {
        memset(h, 0, H * sizeof(float)); memset(c, 0, H * sizeof(float));
        memset(hd, 0, H * sizeof(double)); memset(cd, 0, H * sizeof(double));
        double elog = 0, mlog = 1e-30;
        for (int t = 0; t < T; t++) {
            lstm_step(K, &p, x[r * T + t], h, c, logits, scratch);
            lstm_ref_step(pd, V, H, x[r * T + t], hd, cd, ld);
            for (int v = 0; v < V; v++) {
                elog = check_max(elog, fabs(logits[v] - ld[v]));
                mlog = check_max(mlog, fabs(ld[v]));
            }
        }
        /* float sums of H + V terms per step, carried over T steps */
        CHECK_BOUND("step_logits", elog / mlog, 1e-5, "%s window %d: step logits", K->name, r);
        double lse = lstm_softmax(logits, V), e = 0;
        for (int v = 0; v < V; v++)
            e = check_max(e, fabs(logits[v] - probs[(size_t)r * V + v]));
        /* the same cell on one row and on b, the products in other orders: probabilities
         * (below 1) a few u apart */
        CHECK_BOUND("step_vs_batch", e, 1e-6, "%s window %d: step and batch probabilities", K->name, r);
        CHECK(isfinite(lse), "log-sum-exp not finite");
    }
    lstm_work_free(w);
    free(flat); free(pd); free(x); free(probs); free(h); free(c); free(logits); free(scratch);
    free(hd); free(cd); free(ld);
}

/* (5) Keras initialisation. */
static void test_init(void)
{
    int V = 36, H = 40;
    lstm_params p;
    float *flat = malloc(lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM }) * sizeof(float));
    lstm_bind(&p, flat, (lstm_dims){ V, H, 1, CELL_LSTM });
    CHECK(lstm_init_keras(&p, &rng) == 0, "lstm_init_keras: out of memory");
    double lk = sqrt(6.0 / (V + 4 * H)), ld = sqrt(6.0 / (H + V)), mk = 0, md = 0;
    for (int i = 0; i < V * 4 * H; i++) mk = check_max(mk, fabs(p.layer[0].kernel[i]));
    for (int i = 0; i < H * V; i++) md = check_max(md, fabs(p.dense_w[i]));
    CHECK(mk <= lk && mk > 0.9 * lk, "kernel max %.4f, Glorot limit %.4f", mk, lk);
    CHECK(md <= ld && md > 0.8 * ld, "dense kernel max %.4f, Glorot limit %.4f", md, ld);
    double e = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) {
            double s = 0;
            for (int q = 0; q < 4 * H; q++)
                s += (double)p.layer[0].recurrent[i * 4 * H + q] * p.layer[0].recurrent[j * 4 * H + q];
            e = check_max(e, fabs(s - (i == j)));
        }
    /* a double Gram-Schmidt's result rounded to float: sums of 4H products of rounded
     * entries, a few u */
    CHECK_BOUND("orthogonal", e, 1e-5, "R R^T - I");
    int bias_ok = 1;
    for (int j = 0; j < 4 * H; j++)
        bias_ok &= p.layer[0].bias[j] == (j >= H && j < 2 * H ? 1.0f : 0.0f);
    for (int v = 0; v < V; v++)
        bias_ok &= p.dense_b[v] == 0.0f;
    CHECK(bias_ok, "biases: forget block 1, the rest 0");
    /* the same seed gives the same parameters */
    rng_t r1, r2;
    rng_seed(&r1, 7); rng_seed(&r2, 7);
    float *f2 = malloc(lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM }) * sizeof(float));
    lstm_params q;
    lstm_bind(&q, f2, (lstm_dims){ V, H, 1, CELL_LSTM });
    lstm_init_keras(&p, &r1);
    lstm_init_keras(&q, &r2);
    CHECK(memcmp(flat, f2, lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM }) * sizeof(float)) == 0, "init is not reproducible");
    free(flat); free(f2);
}

/* (6) Layout: counts, names, shapes, offsets. */
static void test_layout(void)
{
    CHECK(lstm_nparams((lstm_dims){ 36, 128, 1, CELL_LSTM }) == 84480 + 4644, "nparams(36, 128) = %zu", lstm_nparams((lstm_dims){ 36, 128, 1, CELL_LSTM }));
    CHECK(lstm_nparams((lstm_dims){ 65, 128, 1, CELL_LSTM }) == (size_t)65 * 512 + 128 * 512 + 512 + 128 * 65 + 65, "nparams(65, 128)");
    static const char *names[] = { "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias" };
    char name[64];
    CHECK(lstm_ntensors((lstm_dims){ .L = 1, .cell = CELL_LSTM }) == 5, "one layer: five tensors");
    for (int k = 0; k < lstm_ntensors((lstm_dims){ .L = 1, .cell = CELL_LSTM }); k++)
        CHECK(strcmp(lstm_tensor_name((lstm_dims){ .L = 1, .cell = CELL_LSTM }, k, name, sizeof name), names[k]) == 0, "tensor %d is %s", k, name);
    uint64_t s[2];   /* tensors 1, 4, 2: the recurrent kernel, the dense bias, the bias */
    CHECK(lstm_tensor_shape((lstm_dims){ 36, 128, 1, CELL_LSTM }, 1, s) == 2 && s[0] == 128 && s[1] == 512, "recurrent shape");
    CHECK(lstm_tensor_shape((lstm_dims){ 36, 128, 1, CELL_LSTM }, 4, s) == 1 && s[0] == 36, "dense_bias shape");
    CHECK(lstm_tensor_offset((lstm_dims){ 36, 128, 1, CELL_LSTM }, 2) == 36 * 512 + 128 * 512, "bias offset");
    float *flat = malloc(lstm_nparams((lstm_dims){ 36, 128, 1, CELL_LSTM }) * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, (lstm_dims){ 36, 128, 1, CELL_LSTM });
    CHECK(p.dense_b + 36 == flat + lstm_nparams((lstm_dims){ 36, 128, 1, CELL_LSTM }), "bind does not end at nparams");
    CHECK(p.layer[0].recurrent == flat + 36 * 512 && p.dense_w == p.layer[0].bias + 512, "bind offsets");
    free(flat);
}

int main(void)
{
    RUN(test_layout);
    RUN(test_init);
    RUN(test_ref_gradcheck);
    for (int i = 0; kern_all[i]; i++) {
        if (!(K = check_set("lstm", kern_all[i])))
            continue;
        printf("# kernel set %s\n", K->name);
        check_context("set=%s", K->name);
        RUN(test_train_vs_ref);
        RUN(test_gscale_split);
        RUN(test_step);
    }
    return check_summary();
}
