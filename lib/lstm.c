/* lstm.c - the seed's LSTM(H) -> Dense(V) softmax model in float32: parameters, Keras
 * initialisation, batched forward/backward on top of a kern_ops set. See lstm.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lstm.h"

/* ---------------------------------------------------------------------------------------- */
/* Parameters */

static const char *const tensor_names[LSTM_NTENSORS] = {
    "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias",
};

int lstm_tensor_shape(int k, int V, int H, uint64_t shape[2])
{
    switch (k) {
    case LSTM_KERNEL:       shape[0] = V; shape[1] = 4 * (uint64_t)H; return 2;
    case LSTM_RECURRENT:    shape[0] = H; shape[1] = 4 * (uint64_t)H; return 2;
    case LSTM_BIAS:         shape[0] = 4 * (uint64_t)H; shape[1] = 1; return 1;
    case LSTM_DENSE_KERNEL: shape[0] = H; shape[1] = V; return 2;
    case LSTM_DENSE_BIAS:   shape[0] = V; shape[1] = 1; return 1;
    }
    return 0;
}

const char *lstm_tensor_name(int k)
{
    return k >= 0 && k < LSTM_NTENSORS ? tensor_names[k] : NULL;
}

static size_t tensor_size(int k, int V, int H)
{
    uint64_t s[2];
    int rank = lstm_tensor_shape(k, V, H, s);
    return rank == 2 ? (size_t)(s[0] * s[1]) : rank == 1 ? (size_t)s[0] : 0;
}

size_t lstm_tensor_offset(int k, int V, int H)
{
    size_t off = 0;
    for (int i = 0; i < k && i < LSTM_NTENSORS; i++)
        off += tensor_size(i, V, H);
    return off;
}

size_t lstm_nparams(int V, int H)
{
    return lstm_tensor_offset(LSTM_NTENSORS, V, H);
}

void lstm_bind(lstm_params *p, float *flat, int V, int H)
{
    p->V = V;
    p->H = H;
    p->kernel    = flat + lstm_tensor_offset(LSTM_KERNEL, V, H);
    p->recurrent = flat + lstm_tensor_offset(LSTM_RECURRENT, V, H);
    p->bias      = flat + lstm_tensor_offset(LSTM_BIAS, V, H);
    p->dense_w   = flat + lstm_tensor_offset(LSTM_DENSE_KERNEL, V, H);
    p->dense_b   = flat + lstm_tensor_offset(LSTM_DENSE_BIAS, V, H);
}

/* w (fan_in, fan_out) uniform in [-l, l], l = sqrt(6 / (fan_in + fan_out)). */
static void glorot_uniform(float *w, int fan_in, int fan_out, rng_t *rng)
{
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < (size_t)fan_in * fan_out; i++)
        w[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * lim);
}

/* Keras Orthogonal for R (H, 4H): draw a (4H, H) standard normal matrix a, take Q of a = QR
 * with the signs fixed so diag(R) > 0 (what Keras does with q * sign(diag(r))), and store
 * Q^T. Modified Gram-Schmidt on the columns of a, in double and done twice per column, gives
 * exactly that Q (positive diagonal by construction). */
static void orthogonal(float *R, int H, rng_t *rng)
{
    int n = 4 * H;                                      /* rows of a */
    double *a = malloc((size_t)n * H * sizeof(double)); /* (4H, H) */
    if (!a) { fprintf(stderr, "lstm_init_keras: out of memory\n"); exit(1); }
    for (size_t i = 0; i < (size_t)n * H; i++)
        a[i] = rng_normal(rng);
    for (int j = 0; j < H; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int q = 0; q < j; q++) {
                double d = 0.0;
                for (int i = 0; i < n; i++) d += a[(size_t)i * H + q] * a[(size_t)i * H + j];
                for (int i = 0; i < n; i++) a[(size_t)i * H + j] -= d * a[(size_t)i * H + q];
            }
        double s = 0.0;
        for (int i = 0; i < n; i++) s += a[(size_t)i * H + j] * a[(size_t)i * H + j];
        s = 1.0 / sqrt(s);
        for (int i = 0; i < n; i++) a[(size_t)i * H + j] *= s;
    }
    for (int i = 0; i < n; i++)                         /* R[j][i] = Q[i][j] */
        for (int j = 0; j < H; j++)
            R[(size_t)j * n + i] = (float)a[(size_t)i * H + j];
    free(a);
}

void lstm_init_keras(lstm_params *p, rng_t *rng)
{
    int V = p->V, H = p->H;
    glorot_uniform(p->kernel, V, 4 * H, rng);
    orthogonal(p->recurrent, H, rng);
    memset(p->bias, 0, (size_t)4 * H * sizeof(float));
    for (int j = H; j < 2 * H; j++)                     /* unit_forget_bias */
        p->bias[j] = 1.0f;
    glorot_uniform(p->dense_w, H, V, rng);
    memset(p->dense_b, 0, (size_t)V * sizeof(float));
}

/* ---------------------------------------------------------------------------------------- */
/* Work area */

struct lstm_work {
    int V, H, T, bmax;
    float *z;       /* (T, b, 4H) activations of every step; dz in the backward pass */
    float *c;       /* (T+1, b, H) cell states, slice 0 = zeros (c_0) */
    float *h;       /* (T+1, b, H) hidden states, slice 0 = zeros (h_0) */
    float *rt;      /* (4H, H) recurrent kernel transposed */
    float *rp;      /* recurrent kernel (H, 4H), packed for gemm_nn_packed */
    float *rtp;     /* its transpose (4H, H), packed */
    float *probs;   /* (b, V) logits, then softmax, then dlogits */
    float *dh;      /* (b, H) */
    float *dc;      /* (b, H) */
    void *mem;
};

static size_t round64(size_t nfloats) { return (nfloats + 15) / 16 * 16; }

lstm_work *lstm_work_new(int V, int H, int T, int bmax)
{
    lstm_work *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->V = V; w->H = H; w->T = T; w->bmax = bmax;
    size_t nz = round64((size_t)T * bmax * 4 * H), nc = round64((size_t)(T + 1) * bmax * H);
    size_t nrt = round64((size_t)4 * H * H), np = round64((size_t)bmax * V);
    size_t nd = round64((size_t)bmax * H);
    size_t total = nz + 2 * nc + 3 * nrt + np + 2 * nd;
    if (posix_memalign(&w->mem, 64, total * sizeof(float))) {
        free(w);
        return NULL;
    }
    memset(w->mem, 0, total * sizeof(float));
    float *m = w->mem;
    w->z = m;     m += nz;
    w->c = m;     m += nc;
    w->h = m;     m += nc;
    w->rt = m;    m += nrt;
    w->rp = m;    m += nrt;
    w->rtp = m;   m += nrt;
    w->probs = m; m += np;
    w->dh = m;    m += nd;
    w->dc = m;
    return w;
}

void lstm_work_free(lstm_work *w)
{
    if (w) {
        free(w->mem);
        free(w);
    }
}

static void check_dims(const lstm_params *p, const lstm_work *w, int b, int T, const char *fn)
{
    if (p->V != w->V || p->H != w->H || T > w->T || b > w->bmax || b < 1 || T < 1) {
        fprintf(stderr, "%s: work area (V=%d H=%d T=%d bmax=%d) does not fit V=%d H=%d T=%d b=%d\n",
                fn, w->V, w->H, w->T, w->bmax, p->V, p->H, T, b);
        abort();
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Forward and backward */

/* y (n) = a (n) + b (n), n a multiple of 4 (4H). Written in groups of 4 with restrict so the
 * baseline -O2 build vectorises it (GCC's cheap cost model will not for a plain loop of
 * unknown length). */
static void add_rows4(float *restrict y, const float *restrict a, const float *restrict b, int n)
{
    for (int j = 0; j < n; j += 4)
        for (int l = 0; l < 4; l++)
            y[j + l] = a[j + l] + b[j + l];
}

/* y (n) += a (n), n a multiple of 4. */
static void acc_rows4(float *restrict y, const float *restrict a, int n)
{
    for (int j = 0; j < n; j += 4)
        for (int l = 0; l < 4; l++)
            y[j + l] += a[j + l];
}

/* rt (4H, H) = r (H, 4H)^T, in 16 x 16 blocks. */
static void transpose(float *restrict rt, const float *restrict r, int H)
{
    int G = 4 * H;
    for (int i0 = 0; i0 < H; i0 += 16)
        for (int j0 = 0; j0 < G; j0 += 16)
            for (int i = i0; i < i0 + 16 && i < H; i++)
                for (int j = j0; j < j0 + 16 && j < G; j++)
                    rt[(size_t)j * H + i] = r[(size_t)i * G + j];
}

double lstm_softmax(float *logits, int n)
{
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        logits[i] = expf(logits[i] - mx);
        s += logits[i];
    }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++)
        logits[i] *= inv;
    return log(s) + mx;
}

/* Forward over b windows x (b, T): fills w->z, w->c, w->h for every step and w->probs (b, V)
 * with the softmax. Returns the sum of the losses if y is not NULL, else 0. */
static double forward(const kern_ops *k, const lstm_params *p, lstm_work *w,
                      int b, int T, const int32_t *x, const int32_t *y)
{
    int V = p->V, H = p->H, G = 4 * H;
    memset(w->c, 0, (size_t)b * H * sizeof(float));     /* c_0, h_0 */
    memset(w->h, 0, (size_t)b * H * sizeof(float));
    if (T > 1)                                           /* packed once for all steps */
        k->pack_b(H, G, p->recurrent, G, w->rp);
    for (int t = 0; t < T; t++) {
        float *z = w->z + (size_t)t * b * G;
        float *hp = w->h + (size_t)t * b * H, *cp = w->c + (size_t)t * b * H;
        for (int r = 0; r < b; r++) {                    /* z = kernel[x_t] + bias */
            const float *kr = p->kernel + (size_t)x[(size_t)r * T + t] * G;
            add_rows4(z + (size_t)r * G, kr, p->bias, G);
        }
        if (t > 0)                                       /* z += h_{t-1} . recurrent */
            k->gemm_nn_packed(b, G, H, hp, H, w->rp, z, G);
        k->lstm_cell_fwd(b, H, z, t > 0 ? cp : NULL, cp + (size_t)b * H, hp + (size_t)b * H);
    }
    const float *hT = w->h + (size_t)T * b * H;
    for (int r = 0; r < b; r++)                          /* logits = h_T . dense_w + dense_b */
        memcpy(w->probs + (size_t)r * V, p->dense_b, (size_t)V * sizeof(float));
    k->gemm_nn(b, V, H, hT, H, p->dense_w, V, w->probs, V);
    double loss = 0.0;
    for (int r = 0; r < b; r++) {
        float *pr = w->probs + (size_t)r * V;
        float zy = y ? pr[y[r]] : 0.0f;
        double lse = lstm_softmax(pr, V);
        if (y)
            loss += lse - zy;
    }
    return loss;
}

double lstm_forward_batch(const kern_ops *k, const lstm_params *p, lstm_work *w,
                          int b, int T, const int32_t *x, const int32_t *y, float *probs)
{
    check_dims(p, w, b, T, "lstm_forward_batch");
    double loss = forward(k, p, w, b, T, x, y);
    if (probs)
        memcpy(probs, w->probs, (size_t)b * p->V * sizeof(float));
    return loss;
}

double lstm_train_batch(const kern_ops *k, const lstm_params *p, lstm_params *g,
                        lstm_work *w, int b, int T, const int32_t *x, const int32_t *y,
                        float gscale)
{
    check_dims(p, w, b, T, "lstm_train_batch");
    int V = p->V, H = p->H, G = 4 * H;
    double loss = forward(k, p, w, b, T, x, y);

    /* dlogits (b, V) = (p - onehot(y)) * gscale, in place of the probabilities */
    float *dl = w->probs;
    for (int r = 0; r < b; r++) {
        float *d = dl + (size_t)r * V;
        d[y[r]] -= 1.0f;
        for (int v = 0; v < V; v++) {
            d[v] *= gscale;
            g->dense_b[v] += d[v];
        }
    }
    const float *hT = w->h + (size_t)T * b * H;
    k->gemm_tn(H, V, b, hT, H, dl, V, g->dense_w, V);            /* dW_d (H, V) += h_T^T dl */
    memset(w->dh, 0, (size_t)b * H * sizeof(float));
    k->gemm_nt(b, H, V, dl, V, p->dense_w, V, w->dh, H);        /* dh (b, H) = dl . W_d^T */
    memset(w->dc, 0, (size_t)b * H * sizeof(float));

    transpose(w->rt, p->recurrent, H);                          /* rt (4H, H) = recurrent^T */
    k->pack_b(G, H, w->rt, H, w->rtp);

    for (int t = T - 1; t >= 0; t--) {
        float *dz = w->z + (size_t)t * b * G;
        const float *cp = w->c + (size_t)t * b * H;
        k->lstm_cell_bwd(b, H, dz, t > 0 ? cp : NULL, cp + (size_t)b * H, w->dh, w->dc);
        for (int r = 0; r < b; r++) {                           /* dkernel[x_t], dbias */
            const float *dr = dz + (size_t)r * G;
            acc_rows4(g->kernel + (size_t)x[(size_t)r * T + t] * G, dr, G);
            acc_rows4(g->bias, dr, G);
        }
        if (t > 0) {                                            /* dh_{t-1} = dz . recurrent^T */
            memset(w->dh, 0, (size_t)b * H * sizeof(float));
            k->gemm_nn_packed(b, H, G, dz, G, w->rtp, w->dh, H);
        }
    }
    /* drecurrent (H, 4H) += sum_t h_{t-1}^T dz_t, all steps at once; h_0 = 0 so t >= 1:
     * A = h_1..h_{T-1} stacked ((T-1) b, H), B = dz_1..dz_{T-1} ((T-1) b, 4H). */
    if (T > 1)
        k->gemm_tn(H, G, (T - 1) * b, w->h + (size_t)b * H, H, w->z + (size_t)b * G, G,
                   g->recurrent, G);
    return loss;
}

void lstm_step(const kern_ops *k, const lstm_params *p, int x, float *h, float *c,
               float *logits, float *scratch)
{
    int V = p->V, H = p->H, G = 4 * H;
    const float *kr = p->kernel + (size_t)x * G;
    add_rows4(scratch, kr, p->bias, G);
    k->gemm_nn(1, G, H, h, H, p->recurrent, G, scratch, G);
    k->lstm_cell_fwd(1, H, scratch, c, c, h);
    memcpy(logits, p->dense_b, (size_t)V * sizeof(float));
    k->gemm_nn(1, V, H, h, H, p->dense_w, V, logits, V);
}
