/* lstm.c - the seed's LSTM(H) -> Dense(V) softmax model in float32: parameters, Keras
 * initialisation, batched forward/backward on top of a kern_ops set. See lstm.h.
 *
 * Forward and backward are built from one static function per layer kind and direction, in
 * the style of llm.c's train_gpt2.c: embed_ (layer 0's input projection), dropout_ and
 * input_ (the input of the layers above), lstm_, lnlstm_ and gru_ (the recurrences) and
 * dense_ (logits, softmax and loss), each _forward with its _backward. forward() and
 * lstm_train_seq() run them layer by layer; lstm_step() reuses the pieces for one step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lstm.h"

/* ---------------------------------------------------------------------------------------- */
/* Parameters */

static const char *const cell_names[] = { "lstm", "gru", "lnlstm" };

const char *cell_name(int cell) { return cell >= 0 && cell <= CELL_LNLSTM ? cell_names[cell] : "?"; }

int cell_parse(const char *name)
{
    for (int c = 0; c <= CELL_LNLSTM; c++)
        if (strcmp(name, cell_names[c]) == 0)
            return c;
    return -1;
}

const char *lstm_precision_name(int precision)
{
    return precision == LSTM_FP32 ? "fp32" : precision == LSTM_BF16 ? "bf16" : "?";
}

int lstm_precision_parse(const char *name)
{
    return strcmp(name, "fp32") == 0 ? LSTM_FP32 : strcmp(name, "bf16") == 0 ? LSTM_BF16 : -1;
}

int lstm_ntensors(lstm_dims d) { return cell_tensors(d.cell) * d.L + 2; }

int lstm_tensor_shape(lstm_dims d, int k, uint64_t shape[2])
{
    int V = d.V, H = d.H, L = d.L, cell = d.cell;
    uint64_t G = (uint64_t)cell_gates(cell) * H;
    int nt = cell_tensors(cell);
    shape[1] = 1;
    if (k < 0 || k >= nt * L + 2)
        return 0;
    if (k == nt * L) {                              /* dense kernel */
        shape[0] = H; shape[1] = V;
        return 2;
    }
    if (k == nt * L + 1) {                          /* dense bias */
        shape[0] = V;
        return 1;
    }
    switch (k % nt) {
    case 0:  shape[0] = k == 0 ? (uint64_t)V : (uint64_t)H; shape[1] = G; return 2;
    case 1:  shape[0] = H; shape[1] = G; return 2;
    case 2:
        if (cell == CELL_GRU) {                     /* (2, 3H): input and recurrent biases */
            shape[0] = 2; shape[1] = G;
            return 2;
        }
        shape[0] = G;
        return 1;
    default:                                        /* lnlstm: gamma (4H) */
        shape[0] = G;
        return 1;
    }
}

size_t lstm_tensor_offset(lstm_dims d, int k)
{
    size_t off = 0;
    for (int i = 0; i < k && i < lstm_ntensors(d); i++) {
        uint64_t s[2];
        lstm_tensor_shape(d, i, s);
        off += (size_t)(s[0] * s[1]);
    }
    return off;
}

size_t lstm_nparams(lstm_dims d)
{
    return lstm_tensor_offset(d, lstm_ntensors(d));
}

const char *lstm_tensor_name(lstm_dims d, int k, char *buf, size_t cap)
{
    int L = d.L, cell = d.cell;
    static const char *const what[4] = { "kernel", "recurrent_kernel", "bias", "gamma" };
    int nt = cell_tensors(cell);
    if (k == nt * L || k == nt * L + 1)
        snprintf(buf, cap, "dense/%s", k == nt * L ? "kernel" : "bias");
    else if (k / nt == 0)
        snprintf(buf, cap, "%s/%s", cell_name(cell), what[k % nt]);
    else
        snprintf(buf, cap, "%s_%d/%s", cell_name(cell), k / nt, what[k % nt]);
    return buf;
}

void lstm_bind(lstm_params *p, float *flat, lstm_dims d)
{
    memset(p, 0, sizeof *p);
    p->dim = d;
    int nt = cell_tensors(d.cell);
    for (int l = 0; l < d.L; l++) {
        p->layer[l].kernel    = flat + lstm_tensor_offset(d, nt * l);
        p->layer[l].recurrent = flat + lstm_tensor_offset(d, nt * l + 1);
        p->layer[l].bias      = flat + lstm_tensor_offset(d, nt * l + 2);
        if (nt == 4)
            p->layer[l].gamma = flat + lstm_tensor_offset(d, nt * l + 3);
    }
    p->dense_w   = flat + lstm_tensor_offset(d, nt * d.L);
    p->dense_b   = flat + lstm_tensor_offset(d, nt * d.L + 1);
}


/* w (fan_in, fan_out) uniform in [-l, l], l = sqrt(6 / (fan_in + fan_out)). */
static void glorot_uniform(float *w, int fan_in, int fan_out, rng_t *rng)
{
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < (size_t)fan_in * fan_out; i++)
        w[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * lim);
}

/* Keras Orthogonal for R (H, G): draw a (G, H) standard normal matrix a, take Q of a = QR
 * with the signs fixed so diag(R) > 0 (what Keras does with q * sign(diag(r))), and store
 * Q^T. Modified Gram-Schmidt on the columns of a, in double and done twice per column, gives
 * exactly that Q (positive diagonal by construction). Returns -1 when out of memory, else 0. */
static int orthogonal(float *R, int H, int G, rng_t *rng)
{
    int n = G;                                          /* rows of a */
    double *a = malloc((size_t)n * H * sizeof(double)); /* a^T (H, G): columns contiguous */
    if (!a)
        return -1;
    for (int i = 0; i < n; i++)                         /* drawn in a's row-major order */
        for (int j = 0; j < H; j++)
            a[(size_t)j * n + i] = rng_normal(rng);
    for (int j = 0; j < H; j++) {
        double *aj = a + (size_t)j * n;
        for (int pass = 0; pass < 2; pass++)
            for (int q = 0; q < j; q++) {
                const double *aq = a + (size_t)q * n;
                double d = 0.0;
                for (int i = 0; i < n; i++) d += aq[i] * aj[i];
                for (int i = 0; i < n; i++) aj[i] -= d * aq[i];
            }
        double s = 0.0;
        for (int i = 0; i < n; i++) s += aj[i] * aj[i];
        s = 1.0 / sqrt(s);
        for (int i = 0; i < n; i++) aj[i] *= s;
    }
    for (size_t i = 0; i < (size_t)n * H; i++)          /* R[j][i] = Q[i][j] = a^T[j][i] */
        R[i] = (float)a[i];
    free(a);
    return 0;
}

int lstm_init_keras(lstm_params *p, rng_t *rng)
{
    int V = p->dim.V, H = p->dim.H, G = cell_gates(p->dim.cell) * H, gru = p->dim.cell == CELL_GRU;
    for (int l = 0; l < p->dim.L; l++) {
        glorot_uniform(p->layer[l].kernel, l == 0 ? V : H, G, rng);
        if (orthogonal(p->layer[l].recurrent, H, G, rng) < 0)
            return -1;
        memset(p->layer[l].bias, 0, (size_t)(gru ? 2 : 1) * G * sizeof(float));
        for (int j = H; j < 2 * H && !gru; j++)         /* LSTM: unit_forget_bias */
            p->layer[l].bias[j] = 1.0f;
        for (int j = 0; j < G && p->layer[l].gamma; j++)
            p->layer[l].gamma[j] = 1.0f;
    }
    glorot_uniform(p->dense_w, H, V, rng);
    memset(p->dense_b, 0, (size_t)V * sizeof(float));
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Work area */

struct lstm_work {
    int V, H, L, cell, T, bmax;
    float *z[LSTM_MAX_LAYERS];    /* (T, b, G) activations of every step; dz in the backward pass */
    float *u[LSTM_MAX_LAYERS];    /* GRU: (T, b, G) recurrent pre-activations; du backward.
                                     lnlstm: (T, b, G) the normalised projections */
    float *rstd[LSTM_MAX_LAYERS]; /* lnlstm: (T, b, 4) 1 / standard deviation of each block */
    float *c[LSTM_MAX_LAYERS];    /* (T+1, b, H) cell states, slice 0 = the initial state */
    float *h[LSTM_MAX_LAYERS];    /* (T+1, b, H) hidden states, slice 0 = the initial state */
    float *mask[LSTM_MAX_LAYERS]; /* (T, b, H) dropout multipliers of layer l's input (l >= 1) */
    float *xin;     /* (T, b, H) a layer's input after dropout (the top layer's after forward) */
    float *dup;     /* (T, b, H) gradient arriving from above: the outputs, or the next layer */
    float *rt;      /* (G, H) a recurrent or input kernel transposed */
    float *rp;      /* (H, G) the recurrent kernel, packed for gemm_nn_packed */
    float *rtp;     /* (G, H) its transpose, packed */
    float *wdt;     /* (V, H) the dense kernel transposed */
    float *probs;   /* (T, b, V) logits, then softmax, then dlogits */
    float *dh;      /* (b, H) */
    float *dc;      /* (b, H) */
    /* regularisation (lstm_seq's weight_drop, locked_dropout, input_dropout) */
    uint64_t wbase[LSTM_MAX_LAYERS]; /* the seed of layer l's weight-drop mask (drawn again
                                        backward rather than stored: (L, H, G) floats) */
    float *wr;      /* (H, G) a recurrent kernel after weight drop, one layer at a time */
    float *dwr;     /* (H, G) the gradient of the dropped kernel */
    float *lock0;   /* (b, T) the multiplier of layer 0's input at each position (x's layout):
                       the sequence's locked mask of the character there */
    float *lockh;   /* (b, H) a layer's locked input masks */
    float *lockout; /* (b, H) the locked masks on the top layer's output */
    float *hout;    /* (T, b, H) the top layer's output after them */
    void *mem;
    /* bf16 products (lstm_work_bf16): a weight matrix packed, their workspace */
    uint32_t *bpack;
    void *bwork;
};

static size_t round16(size_t nfloats) { return (nfloats + 15) / 16 * 16; }

lstm_work *lstm_work_new(lstm_dims d, int T, int bmax)
{
    int V = d.V, H = d.H, L = d.L, cell = d.cell;
    if (L < 1 || L > LSTM_MAX_LAYERS)
        return NULL;
    lstm_work *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->V = V; w->H = H; w->L = L; w->cell = cell; w->T = T; w->bmax = bmax;
    int gru = cell == CELL_GRU, ln = cell == CELL_LNLSTM;
    size_t G = (size_t)cell_gates(cell) * H, tb = (size_t)T * bmax;
    size_t nz = round16(tb * G), nc = round16((tb + bmax) * H), nx = round16(tb * H);
    size_t nrt = round16(G * H), np = round16(tb * V), nd = round16((size_t)bmax * H);
    size_t nw = round16((size_t)V * H);
    size_t nr = round16(tb * 4);
    size_t total = L * ((1 + gru + ln) * nz + ln * nr + 2 * nc) + (L - 1) * nx + 2 * nx + 3 * nrt
                 + nw + np + 2 * nd
                 + 2 * nrt + round16(tb) + 2 * nd + nx;   /* regularisation */
    if (posix_memalign(&w->mem, 64, total * sizeof(float))) {
        free(w);
        return NULL;
    }
    memset(w->mem, 0, total * sizeof(float));
    float *m = w->mem;
    for (int l = 0; l < L; l++) {
        w->z[l] = m; m += nz;
        if (gru || ln) { w->u[l] = m; m += nz; }
        if (ln) { w->rstd[l] = m; m += nr; }
        w->c[l] = m; m += nc;
        w->h[l] = m; m += nc;
        if (l > 0) { w->mask[l] = m; m += nx; }
    }
    w->xin = m;   m += nx;
    w->dup = m;   m += nx;
    w->rt = m;    m += nrt;
    w->rp = m;    m += nrt;
    w->rtp = m;   m += nrt;
    w->wdt = m;   m += nw;
    w->probs = m; m += np;
    w->dh = m;    m += nd;
    w->dc = m;    m += nd;
    w->wr = m;      m += nrt;
    w->dwr = m;     m += nrt;
    w->lock0 = m;   m += round16(tb);
    w->lockh = m;   m += nd;
    w->lockout = m; m += nd;
    w->hout = m;
    return w;
}


void lstm_work_free(lstm_work *w)
{
    if (w) {
        free(w->mem);
        free(w->bpack);
        free(w->bwork);
        free(w);
    }
}

/* The bf16 products' pack holds one weight matrix (H, G) or its transpose; their workspace the
 * largest product: a step's (b rows), the weight gradients (over T b rows) and, with layers
 * above the first, their input projections and its gradient (T b rows). */
int lstm_work_bf16(lstm_work *w)
{
    if (w->bpack)
        return 0;
    int H = w->H, G = cell_gates(w->cell) * H, b = w->bmax, tb = w->T * w->bmax;
    size_t np = kern_bf16_pack_size(H, G), npt = kern_bf16_pack_size(G, H);
    size_t ws = kern_bf16_work_size(b, G, H), wt = kern_bf16_work_size(b, H, G);
    size_t wg = kern_bf16_work_size(H, G, tb);
    if (wt > ws) ws = wt;
    if (wg > ws) ws = wg;
    if (w->L > 1) {
        size_t wi = kern_bf16_work_size(tb, G, H), wd = kern_bf16_work_size(tb, H, G);
        if (wi > ws) ws = wi;
        if (wd > ws) ws = wd;
    }
    if (posix_memalign((void **)&w->bpack, 64, (np > npt ? np : npt) * sizeof(uint32_t))) {
        w->bpack = NULL;
        return -1;
    }
    if (posix_memalign(&w->bwork, 64, ws)) {
        free(w->bpack);
        w->bpack = NULL;
        w->bwork = NULL;
        return -1;
    }
    return 0;
}

/* Whether w was made for p's dims and holds b rows of T steps. */
static int dims_fit(const lstm_params *p, const lstm_work *w, int b, int T)
{
    return p->dim.V == w->V && p->dim.H == w->H && p->dim.L == w->L && p->dim.cell == w->cell
        && T <= w->T && b <= w->bmax && b >= 1 && T >= 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Small helpers */

/* y (n) = a (n) + b (n). Written in groups of 4 with restrict so the baseline -O2 build
 * vectorises it (GCC's cheap cost model will not for a plain loop of unknown length). */
static void add_rows4(float *restrict y, const float *restrict a, const float *restrict b, int n)
{
    int j = 0;
    for (; j + 4 <= n; j += 4)
        for (int l = 0; l < 4; l++)
            y[j + l] = a[j + l] + b[j + l];
    for (; j < n; j++)
        y[j] = a[j] + b[j];
}

/* y (n) += a (n) */
static void acc_rows4(float *restrict y, const float *restrict a, int n)
{
    int j = 0;
    for (; j + 4 <= n; j += 4)
        for (int l = 0; l < 4; l++)
            y[j + l] += a[j + l];
    for (; j < n; j++)
        y[j] += a[j];
}

/* The start of a layer's pre-activations before the products add to them: rows (n, G) each
 * = bias, or zeros when bias is NULL (the lnlstm adds its bias after the norm). */
static void bias_rows(float *Z, size_t n, const float *bias, int G)
{
    if (!bias)
        memset(Z, 0, n * G * sizeof(float));
    else
        for (size_t r = 0; r < n; r++)
            memcpy(Z + r * G, bias, (size_t)G * sizeof(float));
}

/* rt (G, H) = r (H, G)^T, in 16 x 16 blocks. */
static void transpose(float *restrict rt, const float *restrict r, int H, int G)
{
    for (int i0 = 0; i0 < H; i0 += 16)
        for (int j0 = 0; j0 < G; j0 += 16)
            for (int i = i0; i < i0 + 16 && i < H; i++)
                for (int j = j0; j < j0 + 16 && j < G; j++)
                    rt[(size_t)j * H + i] = r[(size_t)i * G + j];
}

/* Softmax in place; returns log(sum exp(logits - max)) with the max in *max (apart, so that a
 * loss taken from them keeps its precision when the logits are huge). */
static double softmax_log_sum(float *logits, int n, float *max)
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
    *max = mx;
    return log(s);
}

double lstm_softmax(float *logits, int n)
{
    float mx;
    double ls = softmax_log_sum(logits, n, &mx);
    return ls + mx;
}

/* y (n) += a (n) and z (n) += a (n), a read once */
static void acc2_rows4(float *restrict y, float *restrict z, const float *restrict a, int n)
{
    int j = 0;
    for (; j + 4 <= n; j += 4)
        for (int l = 0; l < 4; l++) {
            y[j + l] += a[j + l];
            z[j + l] += a[j + l];
        }
    for (; j < n; j++) {
        y[j] += a[j];
        z[j] += a[j];
    }
}

/* What a backward pass sums step by step while dz_t (b, G) is still in cache, rather than in
 * passes over all T b rows at the end (from L3 at the seed model's sizes): the bias gradient
 * (the column sums of dz_t, and of du_t for the GRU's recurrent bias) and, for layer 0, the
 * gradient of the embedding, a scatter-add of dz_t's rows into the rows of the characters
 * that were input (times lock, the input's locked-dropout multipliers, when given). */
typedef struct {
    float *dbias;           /* (G) or NULL (the lnlstm's bias gradient comes from ln_bwd) */
    float *dbias_u;         /* (G) the GRU's recurrent bias, or NULL */
    float *dkernel;         /* (V, G) layer 0's kernel gradient, or NULL (layers above) */
    const int32_t *x;       /* (b, T) layer 0's input */
    const float *lock;      /* (b, T) or NULL */
    int T;
} step_sums;

static void step_sums_add(const step_sums *ss, const float *dz, const float *du, int t, int b,
                          int G)
{
    for (int r = 0; r < b; r++) {
        const float *dzr = dz + (size_t)r * G;
        size_t at = (size_t)r * ss->T + t;                  /* x's and lock's (b, T) layout */
        float *dk = ss->dkernel ? ss->dkernel + (size_t)ss->x[at] * G : NULL;
        if (dk && ss->lock) {                               /* dk += dz_t times the multiplier */
            float m = ss->lock[at];
            for (int j = 0; j < G; j++)
                dk[j] += dzr[j] * m;
            dk = NULL;
        }
        if (dk && ss->dbias)                                /* both from one read of dz_t */
            acc2_rows4(ss->dbias, dk, dzr, G);
        else if (dk)
            acc_rows4(dk, dzr, G);
        else if (ss->dbias)
            acc_rows4(ss->dbias, dzr, G);
        if (ss->dbias_u)
            acc_rows4(ss->dbias_u, du + (size_t)r * G, G);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Layers: one function per layer kind and direction, as in llm.c's train_gpt2.c. Each opens
 * with the shapes of its arrays; n is a count of rows (T b for all steps of b sequences,
 * time-major: row t b + r is step t of sequence r). */

/* Layer 0's input projection, a row gather: z is (T, b, G), x (b, T) character indices,
 * kernel (V, G), bias (G) or NULL. z_t = kernel[x_t] + bias, or kernel[x_t] alone. */
static void embed_forward(float *z, const int32_t *x, const float *kernel, const float *bias,
                          int b, int T, int G)
{
    for (int t = 0; t < T; t++)
        for (int r = 0; r < b; r++) {
            float *zr = z + ((size_t)t * b + r) * G;
            const float *kr = kernel + (size_t)x[(size_t)r * T + t] * G;
            if (bias)
                add_rows4(zr, kr, bias, G);
            else
                memcpy(zr, kr, (size_t)G * sizeof(float));
        }
}

/* Locked dropout on layer 0's one-hot input: lock (b, T) receives, at each position of x
 * (b, T), the multiplier of its character in its sequence, 1 / keep with probability keep,
 * else 0. A character's multiplier comes from a generator seeded from base, the row's place
 * in the whole batch (row0 + r) and the character alone, so it is the same at every step of
 * the sequence (the mask over the vocabulary is never stored: it would be (b, V)). */
static void input_masks(float *lock, const int32_t *x, float keep, uint64_t base, int row0, int b,
                        int T)
{
    for (int r = 0; r < b; r++)
        for (int t = 0; t < T; t++) {
            rng_t rr;
            uint64_t c = (uint64_t)x[(size_t)r * T + t];
            rng_seed(&rr, base + (uint64_t)(row0 + r) * 0x9e3779b97f4a7c15ULL + c * 0xd1b54a32d192ed03ULL);
            lock[(size_t)r * T + t] = rng_uniform(&rr) < keep ? 1.0f / keep : 0.0f;
        }
}

/* embed_forward with locked dropout on the one-hot input: lock is (b, T) from input_masks.
 * z_t = kernel[x_t] * lock[r][t] + bias (bias alone when NULL). */
static void embed_locked_forward(float *z, const int32_t *x, const float *kernel, const float *bias,
                                 const float *lock, int b, int T, int G)
{
    for (int t = 0; t < T; t++)
        for (int r = 0; r < b; r++) {
            float *zr = z + ((size_t)t * b + r) * G;
            const float *kr = kernel + (size_t)x[(size_t)r * T + t] * G;
            float mk = lock[(size_t)r * T + t];
            for (int j = 0; j < G; j++)
                zr[j] = kr[j] * mk + (bias ? bias[j] : 0.0f);
        }
}

/* Dropout on the input of a layer above the first (training): out, mask and inp are
 * (T, b, H). mask = 1 / keep with probability keep, else 0; out = inp * mask. Row r's masks
 * (its T x H) come from a generator of their own, seeded from base and the row's place in the
 * whole batch (row0 + r), so a batch split into parts (threads, processes) draws the masks it
 * draws whole. */
static void dropout_forward(float *out, float *mask, const float *inp, float keep,
                            uint64_t base, int row0, int b, int T, int H)
{
    for (int r = 0; r < b; r++) {
        rng_t rr;
        rng_seed(&rr, base + (uint64_t)(row0 + r) * 0x9e3779b97f4a7c15ULL);
        for (int t = 0; t < T; t++) {
            size_t o = ((size_t)t * b + r) * H;
            for (int j = 0; j < H; j++) {
                mask[o + j] = rng_uniform(&rr) < keep ? 1.0f / keep : 0.0f;
                out[o + j] = inp[o + j] * mask[o + j];
            }
        }
    }
}

/* out, inp and mask are (n): out = inp * mask again, from the mask forward drew. */
static void dropout_apply(float *out, const float *inp, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] * mask[i];
}

/* Its gradient: dinp and mask are (n); dinp *= mask in place. */
static void dropout_backward(float *dinp, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] *= mask[i];
}

/* Locked (variational) dropout masks: lock is (b, n), one row of n multipliers per sequence,
 * each 1 / keep with probability keep, else 0. Row r's come from a generator seeded from base
 * and the row's place in the whole batch (row0 + r), as dropout_forward's do. */
static void locked_masks(float *lock, float keep, uint64_t base, int row0, int b, int n)
{
    for (int r = 0; r < b; r++) {
        rng_t rr;
        rng_seed(&rr, base + (uint64_t)(row0 + r) * 0x9e3779b97f4a7c15ULL);
        for (int j = 0; j < n; j++)
            lock[(size_t)r * n + j] = rng_uniform(&rr) < keep ? 1.0f / keep : 0.0f;
    }
}

/* x (rows, n) *= lock (b, n) row by row, row q of x taking lock's row q % b (x time-major:
 * row t b + r is step t of sequence r, so every step of a sequence shares its mask). Serves
 * forward (on the activations and the dropout masks) and backward (on their gradients). */
static void locked_apply(float *x, const float *lock, size_t rows, int b, int n)
{
    for (size_t q = 0; q < rows; q++) {
        float *xq = x + q * n;
        const float *lq = lock + (q % b) * n;
        for (int j = 0; j < n; j++)
            xq[j] *= lq[j];
    }
}

/* Weight drop (DropConnect) on a recurrent kernel: mask (n = H G) multipliers, 1 / keep with
 * probability keep, else 0, from a generator seeded from base alone (one mask for the whole
 * batch, whatever part of it a call has); drawn again for the backward pass. */
static void weightdrop_mask(float *mask, float keep, uint64_t base, size_t n)
{
    rng_t rr;
    rng_seed(&rr, base);
    for (size_t i = 0; i < n; i++)
        mask[i] = rng_uniform(&rr) < keep ? 1.0f / keep : 0.0f;
}

/* rd and r are (H, G): rd = r * mask, the kernel the recurrence uses. */
static void weightdrop_forward(float *rd, const float *r, float keep, uint64_t base, size_t n)
{
    weightdrop_mask(rd, keep, base, n);
    for (size_t i = 0; i < n; i++)
        rd[i] *= r[i];
}

/* Its gradient: dr and drd are (H, G), drd the gradient of the dropped kernel; dr += drd *
 * mask, the mask's draws made again one at a time. */
static void weightdrop_backward(float *dr, const float *drd, float keep, uint64_t base, size_t n)
{
    rng_t rr;
    rng_seed(&rr, base);
    for (size_t i = 0; i < n; i++)
        dr[i] += drd[i] * (rng_uniform(&rr) < keep ? 1.0f / keep : 0.0f);
}

/* The products with a weight matrix in the call's precision (lstm_seq.precision): float
 * (bf NULL: pack_b into fpack, gemm_nn_packed, gemm_tn), or bf16 (kern.h's bf16 products:
 * pack_b_bf16 into bf->pack, their workspace bf->work). */
typedef struct bf16_buf {
    uint32_t *pack;
    void *work;
} bf16_buf;

/* B (K, N), rows N apart, packed for wmul */
static void wpack(const kern_ops *k, const bf16_buf *bf, int K, int N, const float *B, float *fpack)
{
    if (bf)
        k->pack_b_bf16(K, N, B, N, bf->pack);
    else
        k->pack_b(K, N, B, N, fpack);
}

/* C (m, N) += A (m, K) . the B wpack packed */
static void wmul(const kern_ops *k, const bf16_buf *bf, int m, int N, int K, const float *A,
                 int lda, const float *fpack, float *C, int ldc)
{
    if (bf)
        k->gemm_nn_bf16(m, N, K, A, lda, bf->pack, C, ldc, bf->work);
    else
        k->gemm_nn_packed(m, N, K, A, lda, fpack, C, ldc);
}

/* C (m, N) += A^T . B,  A (K, m), B (K, N): a weight gradient */
static void wgrad(const kern_ops *k, const bf16_buf *bf, int m, int N, int K, const float *A,
                  int lda, const float *B, int ldb, float *C, int ldc)
{
    if (bf)
        k->gemm_tn_bf16(m, N, K, A, lda, B, ldb, C, ldc, bf->work);
    else
        k->gemm_tn(m, N, K, A, lda, B, ldb, C, ldc);
}

/* The input projection of a layer above the first, all rows at once: z is (n, G), inp
 * (n, H) (the layer below's h, after dropout), kernel (H, G), bias (G) or NULL, kp (H, G)
 * scratch (NULL for fewer than 8 rows). z = inp . kernel + bias (no bias when NULL). For more than a few rows the kernel
 * is packed once (pack_b), so the product reads it as the recurrent product reads R; bf16
 * products always pack. */
static void input_forward(const kern_ops *k, const bf16_buf *bf, float *z, const float *inp,
                          const float *kernel, const float *bias, float *kp, size_t n, int H,
                          int G)
{
    bias_rows(z, n, bias, G);
    if (n >= 8 || bf) {
        wpack(k, bf, H, G, kernel, kp);
        wmul(k, bf, (int)n, G, H, inp, H, kp, z, G);
    } else
        k->gemm_nn((int)n, G, H, inp, H, kernel, G, z, G);
}

/* Its backward: dkernel is (H, G), dinp (n, H), dz (n, G), inp (n, H) as forward multiplied
 * it, kernel (H, G), kt and ktp (G, H) scratch. dkernel += inp^T dz; dinp = dz . kernel^T
 * (written, not added: the gradient for the layer below's h), with kernel^T packed. */
static void input_backward(const kern_ops *k, const bf16_buf *bf, float *dkernel, float *dinp,
                           const float *dz, const float *inp, const float *kernel, float *kt,
                           float *ktp, size_t n, int H, int G)
{
    wgrad(k, bf, H, G, (int)n, inp, H, dz, G, dkernel, G);
    transpose(kt, kernel, H, G);
    memset(dinp, 0, n * H * sizeof(float));
    wpack(k, bf, G, H, kt, ktp);
    wmul(k, bf, (int)n, H, G, dz, G, ktp, dinp, H);
}

/* The target of output row q, or -1 without y: y is (b), one target after the last step, or
 * with per_position (pp) (b, T), a target after every step and rows q = t b + r. */
static int target_of(const int32_t *y, size_t q, int pp, int b, int T)
{
    return !y ? -1 : pp ? y[(q % b) * T + q / b] : y[q];
}

/* The dense layer's logits: logits is (n, V), inp (n, H), dense_w (H, V), dense_b (V).
 * logits = inp . dense_w + dense_b. */
static void logits_forward(const kern_ops *k, float *logits, const float *inp,
                           const float *dense_w, const float *dense_b, size_t n, int H, int V)
{
    for (size_t r = 0; r < n; r++)
        memcpy(logits + r * V, dense_b, (size_t)V * sizeof(float));
    k->gemm_nn((int)n, V, H, inp, H, dense_w, V, logits, V);
}

/* The dense layer, softmax and cross-entropy: probs is (n, V), inp (n, H), dense_w (H, V),
 * dense_b (V), y as target_of reads it (NULL: no loss). probs = softmax(inp . dense_w +
 * dense_b); returns the sum over the rows with a target of -log probs[target]. */
static double dense_forward(const kern_ops *k, float *probs, const float *inp,
                            const float *dense_w, const float *dense_b, const int32_t *y, int pp,
                            int b, int T, size_t n, int H, int V)
{
    logits_forward(k, probs, inp, dense_w, dense_b, n, H, V);
    double loss = 0.0;
    for (size_t q = 0; q < n; q++) {
        float *pr = probs + q * V;
        int target = target_of(y, q, pp, b, T);
        float zy = target >= 0 ? pr[target] : 0.0f;
        float mx;
        double ls = softmax_log_sum(pr, V, &mx);
        if (target >= 0)              /* -log p = log sum exp(z - max) - (zy - max): (log sum +
                                         max) - zy would lose the sum when max is ~1e16 or more */
            loss += ls - ((double)zy - mx);
    }
    return loss;
}

/* Its backward: ddense_w is (H, V), ddense_b (V), dinp (n, H), probs (n, V) the softmax, inp
 * (n, H), dense_w (H, V), wt (V, H) scratch, y (not NULL) as target_of reads it.
 * probs becomes dlogits = (probs - onehot(y)) * gscale; ddense_b += its column sums;
 * ddense_w += inp^T dlogits; dinp += dlogits . dense_w^T. */
static void dense_backward(const kern_ops *k, float *ddense_w, float *ddense_b, float *dinp,
                           float *probs, const float *inp, const float *dense_w, float *wt,
                           const int32_t *y, int pp, int b, int T, size_t n, int H, int V,
                           float gscale)
{
    for (size_t q = 0; q < n; q++) {
        float *d = probs + q * V;
        d[target_of(y, q, pp, b, T)] -= 1.0f;
        for (int v = 0; v < V; v++) {
            d[v] *= gscale;
            ddense_b[v] += d[v];
        }
    }
    k->gemm_tn(H, V, (int)n, inp, H, probs, V, ddense_w, V);
    transpose(wt, dense_w, H, V);
    k->gemm_nn((int)n, H, V, probs, V, wt, H, dinp, H);
}

/* The recurrences. Common to all: z is (T, b, G) and holds the input projections on entry
 * (from embed_forward or input_forward); h (and c, the LSTMs' cell state) are (T+1, b, H),
 * slice 0 the initial state, read only when carried (else it is zeros and the first step
 * skips the recurrent product); recurrent is (H, G); rp (H, G) scratch for it packed (bf:
 * bf16 products, packed in bf->pack). */

/* The LSTM over T steps: z (T, b, 4H) becomes the activations i, f, g, o; h, c (T+1, b, H)
 * receive h_1..h_T, c_1..c_T. z_t += h_{t-1} . recurrent, then the cell. */
static void lstm_forward(const kern_ops *k, const bf16_buf *bf, float *z, float *h, float *c,
                         const float *recurrent, float *rp, int carried, int b, int T, int H)
{
    int G = 4 * H;
    size_t bH = (size_t)b * H;
    if (T > 1 || carried)                            /* packed once for all steps */
        wpack(k, bf, H, G, recurrent, rp);
    for (int t = 0; t < T; t++) {
        float *zt = z + (size_t)t * b * G, *hp = h + (size_t)t * bH, *cp = c + (size_t)t * bH;
        int first = t == 0 && !carried;              /* h_{t-1} = c_{t-1} = 0 */
        if (!first)
            wmul(k, bf, b, G, H, hp, H, rp, zt, G);
        k->lstm_cell_fwd(b, H, zt, first ? NULL : cp, cp + bH, hp + bH);
    }
}

/* The layer-normalised LSTM: as lstm_forward, z (T, b, 4H) holding the projections without
 * bias; gamma and bias (4H); shat (T, b, 4H) and rstd (T, b, 4) receive the normalised
 * projections and 1 / standard deviation of each block for the backward pass.
 * s_t = z_t + h_{t-1} . recurrent, z_t = gamma * norm(s_t) + bias, then the cell. */
static void lnlstm_forward(const kern_ops *k, const bf16_buf *bf, float *z, float *shat,
                           float *rstd, float *h, float *c, const float *recurrent,
                           const float *gamma, const float *bias, float *rp, int carried, int b,
                           int T, int H)
{
    int G = 4 * H;
    size_t bH = (size_t)b * H;
    if (T > 1 || carried)
        wpack(k, bf, H, G, recurrent, rp);
    for (int t = 0; t < T; t++) {
        float *zt = z + (size_t)t * b * G, *hp = h + (size_t)t * bH, *cp = c + (size_t)t * bH;
        int first = t == 0 && !carried;
        if (!first)
            wmul(k, bf, b, G, H, hp, H, rp, zt, G);
        k->ln_fwd(b, H, zt, gamma, bias, shat + (size_t)t * b * G, rstd + (size_t)t * b * 4);
        k->lstm_cell_fwd(b, H, zt, first ? NULL : cp, cp + bH, hp + bH);
    }
}

/* The GRU over T steps: z (T, b, 3H) (input projections + input bias) becomes the
 * activations z, r, n; u (T, b, 3H) receives the recurrent pre-activations
 * u_t = h_{t-1} . recurrent + rbias, rbias (3H) the recurrent bias; h (T+1, b, H) h_1..h_T. */
static void gru_forward(const kern_ops *k, const bf16_buf *bf, float *z, float *u, float *h,
                        const float *recurrent, const float *rbias, float *rp, int carried, int b,
                        int T, int H)
{
    int G = 3 * H;
    size_t bH = (size_t)b * H;
    if (T > 1 || carried)
        wpack(k, bf, H, G, recurrent, rp);
    for (int t = 0; t < T; t++) {
        float *zt = z + (size_t)t * b * G, *ut = u + (size_t)t * b * G, *hp = h + (size_t)t * bH;
        int first = t == 0 && !carried;
        bias_rows(ut, (size_t)b, rbias, G);
        if (!first)
            wmul(k, bf, b, G, H, hp, H, rp, ut, G);
        k->gru_cell_fwd(b, H, zt, ut, first ? NULL : hp, hp + bH);
    }
}

/* For the backward passes: rtp (G, H) = recurrent (H, G)^T packed, rt (G, H) scratch. */
static void pack_transposed(const kern_ops *k, const bf16_buf *bf, float *rtp, float *rt,
                            const float *recurrent, int H, int G)
{
    transpose(rt, recurrent, H, G);
    wpack(k, bf, G, H, rt, rtp);
}

/* drecurrent is (H, G), h (T+1, b, H), du (T, b, G) the gradient of what h_{t-1} multiplies.
 * drecurrent += sum_t h_{t-1}^T du_t, all steps at once (h_0 = 0 skipped unless carried). */
static void recurrent_dweights(const kern_ops *k, const bf16_buf *bf, float *drecurrent,
                               const float *h, const float *du, int carried, int b, int T, int H,
                               int G)
{
    size_t bH = (size_t)b * H;
    int t0 = carried ? 0 : 1;
    if (T > t0)
        wgrad(k, bf, H, G, (T - t0) * b, h + (size_t)t0 * bH, H, du + (size_t)t0 * b * G, G,
              drecurrent, G);
}

/* The backward passes, common to all: z (T, b, G) holds forward's activations and becomes
 * dz, the gradient of the input projections (layer 0's embedding gradient is summed step by
 * step through ss, the layers above take input_backward after); h, c (T+1, b, H) as forward
 * left them; dup (T, b, H) the gradient arriving at h_1..h_T from above; drecurrent (H, G)
 * and ss's sums accumulate; rt, rtp (G, H) and dh, dc (b, H) scratch. */

/* The LSTM's: ss->dbias (4H). */
static void lstm_backward(const kern_ops *k, const bf16_buf *bf, float *z, const float *h,
                          const float *c,
                          const float *dup, const float *recurrent, float *drecurrent,
                          const step_sums *ss, float *rt, float *rtp, float *dh, float *dc,
                          int carried, int b, int T, int H)
{
    int G = 4 * H;
    size_t bH = (size_t)b * H;
    pack_transposed(k, bf, rtp, rt, recurrent, H, G);
    memset(dh, 0, bH * sizeof(float));
    memset(dc, 0, bH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        float *dz = z + (size_t)t * b * G;
        const float *cp = c + (size_t)t * bH;
        int first = t == 0 && !carried;
        acc_rows4(dh, dup + (size_t)t * bH, (int)bH);  /* + the gradient from above */
        k->lstm_cell_bwd(b, H, dz, first ? NULL : cp, cp + bH, dh, dc);
        step_sums_add(ss, dz, NULL, t, b, G);
        memset(dh, 0, bH * sizeof(float));
        if (t > 0)                                      /* dh_{t-1} = dz . recurrent^T */
            wmul(k, bf, b, H, G, dz, G, rtp, dh, H);
    }
    recurrent_dweights(k, bf, drecurrent, h, z, carried, b, T, H, G);
}

/* The lnlstm's: gamma (4H), shat (T, b, 4H) and rstd (T, b, 4) from lnlstm_forward; dgamma
 * and dbias (4H) accumulate step by step (ln_bwd; ss has no dbias). z becomes ds, the
 * gradient of the projections. */
static void lnlstm_backward(const kern_ops *k, const bf16_buf *bf, float *z, const float *shat,
                            const float *rstd,
                            const float *h, const float *c, const float *dup,
                            const float *recurrent, const float *gamma, float *drecurrent,
                            float *dgamma, float *dbias, const step_sums *ss, float *rt,
                            float *rtp, float *dh, float *dc, int carried, int b, int T, int H)
{
    int G = 4 * H;
    size_t bH = (size_t)b * H;
    pack_transposed(k, bf, rtp, rt, recurrent, H, G);
    memset(dh, 0, bH * sizeof(float));
    memset(dc, 0, bH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        float *dz = z + (size_t)t * b * G;
        const float *cp = c + (size_t)t * bH;
        int first = t == 0 && !carried;
        acc_rows4(dh, dup + (size_t)t * bH, (int)bH);
        k->lstm_cell_bwd(b, H, dz, first ? NULL : cp, cp + bH, dh, dc);
        memset(dh, 0, bH * sizeof(float));
        k->ln_bwd(b, H, dz, gamma, shat + (size_t)t * b * G, rstd + (size_t)t * b * 4,
                  dgamma, dbias);                       /* dz -> ds, dgamma and dbias */
        step_sums_add(ss, dz, NULL, t, b, G);
        if (t > 0)                                      /* dh_{t-1} = ds . recurrent^T */
            wmul(k, bf, b, H, G, dz, G, rtp, dh, H);
    }
    recurrent_dweights(k, bf, drecurrent, h, z, carried, b, T, H, G);
}

/* The GRU's: u (T, b, 3H) the recurrent pre-activations becomes du; ss->dbias and dbias_u the
 * rows of the bias (2, 3H), the input bias's gradient and the recurrent bias's; no c or dc. */
static void gru_backward(const kern_ops *k, const bf16_buf *bf, float *z, float *u, const float *h,
                         const float *dup,
                         const float *recurrent, float *drecurrent, const step_sums *ss,
                         float *rt, float *rtp, float *dh, int carried, int b, int T, int H)
{
    int G = 3 * H;
    size_t bH = (size_t)b * H;
    pack_transposed(k, bf, rtp, rt, recurrent, H, G);
    memset(dh, 0, bH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        float *dz = z + (size_t)t * b * G, *du = u + (size_t)t * b * G;
        const float *hp = h + (size_t)t * bH;
        int first = t == 0 && !carried;
        acc_rows4(dh, dup + (size_t)t * bH, (int)bH);
        k->gru_cell_bwd(b, H, dz, du, first ? NULL : hp, dh);   /* dh becomes dh * z */
        step_sums_add(ss, dz, du, t, b, G);
        if (t > 0)                                      /* dh_{t-1} += du . recurrent^T */
            wmul(k, bf, b, H, G, du, G, rtp, dh, H);
    }
    recurrent_dweights(k, bf, drecurrent, h, u, carried, b, T, H, G);
}

/* ---------------------------------------------------------------------------------------- */
/* The model: the layers in order */

/* Layer l's initial state: h, c (T+1, b, H) get slice 0 from s->h0, s->c0 (L, b, H) when
 * carried (the GRU has no c0), else zeros. */
static void state_load(float *h, float *c, const lstm_seq *s, int l, int gru, size_t bH)
{
    if (s && s->h0) {
        memcpy(h, s->h0 + l * bH, bH * sizeof(float));
        if (!gru)
            memcpy(c, s->c0 + l * bH, bH * sizeof(float));
    } else {
        memset(h, 0, bH * sizeof(float));
        memset(c, 0, bH * sizeof(float));
    }
}

/* Layer l's state after the last step into s->hT, s->cT (L, b, H) when they are given (the
 * GRU's cT is zeros); h, c are (T+1, b, H). */
static void state_save(const lstm_seq *s, int l, const float *h, const float *c, int gru, int T,
                       size_t bH)
{
    if (s && s->hT) {
        memcpy(s->hT + l * bH, h + (size_t)T * bH, bH * sizeof(float));
        if (s->cT && gru)
            memset(s->cT + l * bH, 0, bH * sizeof(float));
        else if (s->cT)
            memcpy(s->cT + l * bH, c + (size_t)T * bH, bH * sizeof(float));
    }
}

/* The keep probabilities of the training-time masks (1: none), from lstm_seq's rates. */
typedef struct keeps {
    float drop, wdrop, locked, input;
} keeps;

static keeps keeps_of(const lstm_seq *s, int train)
{
    keeps kp = { 1.0f, 1.0f, 1.0f, 1.0f };
    if (train && s) {
        if (s->dropout > 0) kp.drop = 1.0f - s->dropout;
        if (s->weight_drop > 0) kp.wdrop = 1.0f - s->weight_drop;
        if (s->locked_dropout > 0) kp.locked = 1.0f - s->locked_dropout;
        if (s->input_dropout > 0) kp.input = 1.0f - s->input_dropout;
    }
    return kp;
}

/* Forward over b sequences x (b, T) through all layers: fills z, c, h of every layer and
 * step, and w->probs with the softmax after the last step ((b, V)) or after every step
 * ((T, b, V), time-major) with per_position. Returns the sum of the losses when y is given.
 * With train set, dropout (s->dropout) is applied to the input of layers above the first,
 * and the regularisation of lstm_seq (weight drop, locked dropout) where it says. The masks'
 * seeds are drawn from s->rng in a fixed order: per layer, input dropout (layer 0) or dropout
 * then locked dropout (above), then weight drop; last the output's locked dropout. bf: the
 * recurrent layers' products in bf16 (NULL: float). */
static double forward(const kern_ops *k, const bf16_buf *bf, const lstm_params *p, lstm_work *w,
                      int b, int T, const int32_t *x, const int32_t *y, const lstm_seq *s,
                      int train)
{
    int V = p->dim.V, H = p->dim.H, L = p->dim.L, cell = p->dim.cell, G = cell_gates(cell) * H;
    int pp = s && s->per_position, carried = s && s->h0;
    size_t bH = (size_t)b * H, tb = (size_t)T * b;
    keeps kp = keeps_of(s, train);
    float keep = kp.drop;
    for (int l = 0; l < L; l++) {
        const lstm_layer *ly = &p->layer[l];
        float *Z = w->z[l];
        state_load(w->h[l], w->c[l], s, l, cell == CELL_GRU, bH);
        const float *bias = cell == CELL_LNLSTM ? NULL : ly->bias;  /* (the lnlstm's: after the norm) */
        if (l == 0 && kp.input < 1.0f) {
            input_masks(w->lock0, x, kp.input, rng_u64(s->rng), s->row0, b, T);
            embed_locked_forward(Z, x, ly->kernel, bias, w->lock0, b, T, G);
        } else if (l == 0)
            embed_forward(Z, x, ly->kernel, bias, b, T, G);
        else {
            const float *X = w->h[l - 1] + bH;           /* layer l-1's h_1..h_T: (T b, H) */
            if (keep < 1.0f) {
                dropout_forward(w->xin, w->mask[l], X, keep, rng_u64(s->rng), s->row0, b, T, H);
                X = w->xin;
            }
            if (kp.locked < 1.0f) {                      /* mask[l] *= the row's locked mask */
                locked_masks(w->lockh, kp.locked, rng_u64(s->rng), s->row0, b, H);
                if (keep >= 1.0f)
                    for (size_t i = 0; i < tb * H; i++)
                        w->mask[l][i] = 1.0f;
                locked_apply(w->mask[l], w->lockh, tb, b, H);
                dropout_apply(w->xin, w->h[l - 1] + bH, w->mask[l], tb * H);
                X = w->xin;
            }
            input_forward(k, bf, Z, X, ly->kernel, bias, w->rp, tb, H, G);
        }
        const float *R = ly->recurrent;
        if (kp.wdrop < 1.0f) {
            w->wbase[l] = rng_u64(s->rng);
            weightdrop_forward(w->wr, R, kp.wdrop, w->wbase[l], (size_t)H * G);
            R = w->wr;
        }
        switch (cell) {
        case CELL_GRU:
            gru_forward(k, bf, Z, w->u[l], w->h[l], R, ly->bias + G, w->rp, carried, b, T, H);
            break;
        case CELL_LNLSTM:
            lnlstm_forward(k, bf, Z, w->u[l], w->rstd[l], w->h[l], w->c[l], R, ly->gamma,
                           ly->bias, w->rp, carried, b, T, H);
            break;
        default:
            lstm_forward(k, bf, Z, w->h[l], w->c[l], R, w->rp, carried, b, T, H);
        }
        state_save(s, l, w->h[l], w->c[l], cell == CELL_GRU, T, bH);
    }
    size_t rows = pp ? tb : (size_t)b;                   /* logits of the last step, or of every step */
    const float *top = w->h[L - 1] + (pp ? bH : (size_t)T * bH);
    if (kp.locked < 1.0f) {                              /* the output's locked dropout */
        locked_masks(w->lockout, kp.locked, rng_u64(s->rng), s->row0, b, H);
        memcpy(w->hout, top, rows * H * sizeof(float));
        locked_apply(w->hout, w->lockout, rows, b, H);
        top = w->hout;
    }
    return dense_forward(k, w->probs, top, p->dense_w, p->dense_b, y, pp, b, T, rows, H, V);
}

/* The products' precision s asks for: *bf NULL (float) or w's bf16 buffers; -1 when w has none
 * for bf16 or the precision is unknown. */
static int precision_of(const lstm_seq *s, lstm_work *w, bf16_buf *buf, const bf16_buf **bf)
{
    int prec = s ? s->precision : LSTM_FP32;
    *buf = (bf16_buf){ w->bpack, w->bwork };
    *bf = prec == LSTM_BF16 ? buf : NULL;
    return prec == LSTM_FP32 || (prec == LSTM_BF16 && w->bpack) ? 0 : -1;
}

double lstm_forward_seq(const kern_ops *k, const lstm_params *p, lstm_work *w, int b, int T,
                        const int32_t *x, const int32_t *y, float *probs, const lstm_seq *s)
{
    bf16_buf buf;
    const bf16_buf *bf;
    if (!dims_fit(p, w, b, T) || precision_of(s, w, &buf, &bf) < 0)
        return NAN;
    double loss = forward(k, bf, p, w, b, T, x, y, s, 0);
    if (probs)
        memcpy(probs, w->probs, (s && s->per_position ? (size_t)T : 1) * b * p->dim.V * sizeof(float));
    return loss;
}

double lstm_forward_batch(const kern_ops *k, const lstm_params *p, lstm_work *w,
                          int b, int T, const int32_t *x, const int32_t *y, float *probs)
{
    return lstm_forward_seq(k, p, w, b, T, x, y, probs, NULL);
}

double lstm_train_seq(const kern_ops *k, const lstm_params *p, lstm_params *g, lstm_work *w,
                      int b, int T, const int32_t *x, const int32_t *y, float gscale,
                      const lstm_seq *s)
{
    bf16_buf buf;
    const bf16_buf *bf;
    if (!dims_fit(p, w, b, T) || precision_of(s, w, &buf, &bf) < 0)
        return NAN;
    int V = p->dim.V, H = p->dim.H, L = p->dim.L, cell = p->dim.cell, G = cell_gates(cell) * H;
    int pp = s && s->per_position, carried = s && s->h0;
    size_t bH = (size_t)b * H, tb = (size_t)T * b;
    keeps kp = keeps_of(s, 1);
    int masked = kp.drop < 1.0f || kp.locked < 1.0f;   /* the layers above the first: mask[l] */
    double loss = forward(k, bf, p, w, b, T, x, y, s, 1);

    /* dup (T, b, H): the gradient arriving at the top layer's h_t from the outputs (of the
     * last step alone without per_position) */
    size_t rows = pp ? tb : (size_t)b;
    const float *top = kp.locked < 1.0f ? w->hout : w->h[L - 1] + (pp ? bH : (size_t)T * bH);
    float *dtop = w->dup + (pp ? 0 : (size_t)(T - 1) * bH);
    memset(w->dup, 0, tb * H * sizeof(float));
    dense_backward(k, g->dense_w, g->dense_b, dtop, w->probs,
                   top, p->dense_w, w->wdt, y, pp, b, T, rows, H, V, gscale);
    if (kp.locked < 1.0f)
        locked_apply(dtop, w->lockout, rows, b, H);

    for (int l = L - 1; l >= 0; l--) {
        const lstm_layer *ly = &p->layer[l];
        lstm_layer *gl = &g->layer[l];
        float *Z = w->z[l];                                     /* becomes dz */
        int wd = kp.wdrop < 1.0f;                   /* the recurrence used the dropped kernel */
        const float *R = ly->recurrent;
        float *dR = gl->recurrent;
        if (wd) {                                   /* the kernel forward used, drawn again */
            weightdrop_forward(w->wr, R, kp.wdrop, w->wbase[l], (size_t)H * G);
            R = w->wr;
            dR = w->dwr;
            memset(w->dwr, 0, (size_t)H * G * sizeof(float));
        }
        step_sums ss = { cell == CELL_LNLSTM ? NULL : gl->bias,
                         cell == CELL_GRU ? gl->bias + G : NULL,
                         l == 0 ? gl->kernel : NULL, x,
                         l == 0 && kp.input < 1.0f ? w->lock0 : NULL, T };
        switch (cell) {
        case CELL_GRU:
            gru_backward(k, bf, Z, w->u[l], w->h[l], w->dup, R, dR, &ss,
                         w->rt, w->rtp, w->dh, carried, b, T, H);
            break;
        case CELL_LNLSTM:
            lnlstm_backward(k, bf, Z, w->u[l], w->rstd[l], w->h[l], w->c[l], w->dup, R,
                            ly->gamma, dR, gl->gamma, gl->bias, &ss, w->rt, w->rtp, w->dh,
                            w->dc, carried, b, T, H);
            break;
        default:
            lstm_backward(k, bf, Z, w->h[l], w->c[l], w->dup, R, dR, &ss,
                          w->rt, w->rtp, w->dh, w->dc, carried, b, T, H);
        }
        if (wd)
            weightdrop_backward(gl->recurrent, w->dwr, kp.wdrop, w->wbase[l], (size_t)H * G);
        if (l > 0) {
            const float *X = w->h[l - 1] + bH;                 /* layer l's input, as forward saw it */
            if (masked) {
                if (l < L - 1)                      /* xin holds the top layer's: rebuild layer l's */
                    dropout_apply(w->xin, X, w->mask[l], tb * H);
                X = w->xin;
            }
            input_backward(k, bf, gl->kernel, w->dup, Z, X, ly->kernel, w->rt, w->rtp, tb, H, G);
            if (masked)
                dropout_backward(w->dup, w->mask[l], tb * H);
        }
    }
    return loss;
}

lstm_masks lstm_work_masks(const lstm_work *w, const lstm_seq *s, float *wdrop)
{
    lstm_masks m;
    memset(&m, 0, sizeof m);
    keeps kp = keeps_of(s, 1);
    size_t HG = (size_t)w->H * cell_gates(w->cell) * w->H;
    for (int l = 0; l < w->L; l++) {
        if (kp.wdrop < 1.0f && wdrop) {
            weightdrop_mask(wdrop + l * HG, kp.wdrop, w->wbase[l], HG);
            m.wdrop[l] = wdrop + l * HG;
        }
        m.between[l] = l > 0 && (kp.drop < 1.0f || kp.locked < 1.0f) ? w->mask[l] : NULL;
    }
    m.input = kp.input < 1.0f ? w->lock0 : NULL;
    m.output = kp.locked < 1.0f ? w->lockout : NULL;
    return m;
}

double lstm_train_batch(const kern_ops *k, const lstm_params *p, lstm_params *g,
                        lstm_work *w, int b, int T, const int32_t *x, const int32_t *y,
                        float gscale)
{
    return lstm_train_seq(k, p, g, w, b, T, x, y, gscale, NULL);
}

void lstm_step(const kern_ops *k, const lstm_params *p, int x, float *h, float *c,
                 float *logits, float *scratch)
{
    int V = p->dim.V, H = p->dim.H, L = p->dim.L, cell = p->dim.cell, G = cell_gates(cell) * H;
    int32_t x1 = x;
    for (int l = 0; l < L; l++) {
        const lstm_layer *ly = &p->layer[l];
        float *hl = h + (size_t)l * H, *cl = c + (size_t)l * H, *z = scratch;
        const float *bias = cell == CELL_LNLSTM ? NULL : ly->bias;  /* (the lnlstm's: after the norm) */
        if (l == 0)
            embed_forward(z, &x1, ly->kernel, bias, 1, 1, G);
        else
            input_forward(k, NULL, z, h + (size_t)(l - 1) * H, ly->kernel, bias, NULL, 1, H, G);
        /* one step of the cell, h and c in place; a single product: the recurrent kernel unpacked */
        switch (cell) {
        case CELL_GRU: {                        /* u (scratch + G) = h . recurrent + recurrent bias */
            float *u = scratch + G;
            input_forward(k, NULL, u, hl, ly->recurrent, ly->bias + G, NULL, 1, H, G);
            k->gru_cell_fwd(1, H, z, u, hl, hl);
            break;
        }
        case CELL_LNLSTM:
            k->gemm_nn(1, G, H, hl, H, ly->recurrent, G, z, G);
            k->ln_fwd(1, H, z, ly->gamma, ly->bias, NULL, NULL);
            k->lstm_cell_fwd(1, H, z, cl, cl, hl);
            break;
        default:
            k->gemm_nn(1, G, H, hl, H, ly->recurrent, G, z, G);
            k->lstm_cell_fwd(1, H, z, cl, cl, hl);
        }
    }
    logits_forward(k, logits, h + (size_t)(L - 1) * H, p->dense_w, p->dense_b, 1, H, V);
}
