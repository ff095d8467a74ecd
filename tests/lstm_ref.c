/* lstm_ref.c - textbook LSTM forward, BPTT and dense softmax cross-entropy in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lstm_ref.h"

/* Offsets of the five tensors in the flat layout. */
typedef struct { const double *W, *R, *bias, *D, *db; } ref_params;

static ref_params ref_bind(const double *p, int V, int H)
{
    ref_params r;
    r.W = p;                        /* (V, 4H) */
    r.R = r.W + (size_t)V * 4 * H;  /* (H, 4H) */
    r.bias = r.R + (size_t)H * 4 * H;  /* (4H) */
    r.D = r.bias + 4 * H;           /* (H, V) */
    r.db = r.D + (size_t)H * V;     /* (V) */
    return r;
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* One step: act (4H) receives i, f, g, o; c, h (H) are written from c_prev, h_prev. */
static void ref_cell(const ref_params *P, int H, int x, const double *h_prev,
                     const double *c_prev, double *act, double *c, double *h)
{
    for (int j = 0; j < 4 * H; j++) {
        double z = P->W[(size_t)x * 4 * H + j] + P->bias[j];
        for (int q = 0; q < H; q++)
            z += h_prev[q] * P->R[(size_t)q * 4 * H + j];
        act[j] = (j >= 2 * H && j < 3 * H) ? tanh(z) : sigmoid(z);
    }
    for (int j = 0; j < H; j++) {
        double i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
        c[j] = f * c_prev[j] + i * g;
        h[j] = o * tanh(c[j]);
    }
}

/* logits (V) = h . D + db */
static void ref_dense(const double *D, const double *db, int V, int H, const double *h,
                      double *logits)
{
    for (int v = 0; v < V; v++) {
        logits[v] = db[v];
        for (int q = 0; q < H; q++)
            logits[v] += h[q] * D[(size_t)q * V + v];
    }
}

/* In place softmax of (V). */
static void ref_softmax(double *z, int V)
{
    double mx = z[0], s = 0.0;
    for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    for (int v = 0; v < V; v++) { z[v] = exp(z[v] - mx); s += z[v]; }
    for (int v = 0; v < V; v++) z[v] /= s;
}

/* Layer l's input for window w of b under the masks m: in (T, H) = below's h_1..h_T (below is
 * (T+1, H)) times m->between[l] (T, b, H) when given. */
static void masked_input(double *in, const double *below, const ref_masks *m, int l, int w, int b,
                         int T, int H)
{
    for (int t = 0; t < T; t++)
        for (int q = 0; q < H; q++)
            in[(size_t)t * H + q] = below[(size_t)(t + 1) * H + q]
                * (m && m->between[l] ? m->between[l][((size_t)t * b + w) * H + q] : 1.0);
}

/* The multiplier of window w's input at step t, unit q of layer l (1 without a mask). */
static double between_at(const ref_masks *m, int l, int t, int w, int b, int q, int H)
{
    return m && m->between[l] ? m->between[l][((size_t)t * b + w) * H + q] : 1.0;
}

/* The multiplier of window w's one-hot input at step t (1 without a mask). */
static double input_at(const ref_masks *m, int w, int t, int T)
{
    return m && m->input ? m->input[(size_t)w * T + t] : 1.0;
}

/* The top layer's states (T+1, H) of window w as the dense layer sees them: times
 * m->output[w] (H) from row 1 on, into out; or top itself without that mask. */
static const double *masked_top(double *out, const double *top, const ref_masks *m, int w, int T,
                                int H)
{
    if (!m || !m->output)
        return top;
    for (int t = 0; t <= T; t++)
        for (int q = 0; q < H; q++)
            out[(size_t)t * H + q] = top[(size_t)t * H + q] * m->output[(size_t)w * H + q];
    return out;
}

/* The gradient at the top layer's states from dup (T, H) at the masked ones: dup *= output[w]. */
static void unmask_top(double *dup, const ref_masks *m, int w, int T, int H)
{
    for (int t = 0; m && m->output && t < T; t++)
        for (int q = 0; q < H; q++)
            dup[(size_t)t * H + q] *= m->output[(size_t)w * H + q];
}

/* The dense softmax layer on one window's top-layer states htop (T+1, H) (row 0 the initial
 * state): the sum of -log p[target] over its targets (yw: T of them with per_position, else one
 * after the last step). With gD non-NULL, adds the gradient of (that sum / ntargets) to gD, gdb
 * and writes the gradient arriving at each h_t to dup (T, H). p (V) is scratch. */
static double ref_outputs(const double *htop, const double *D, const double *db, double *gD,
                          double *gdb, double *dup, double *p, int V, int H, int T,
                          const int32_t *yw, int per_position, int ntargets)
{
    double loss = 0.0;
    memset(dup, 0, (size_t)T * H * sizeof(double));
    for (int t = per_position ? 0 : T - 1; t < T; t++) {
        const double *ht = htop + (size_t)(t + 1) * H;
        int target = per_position ? yw[t] : yw[0];
        ref_dense(D, db, V, H, ht, p);
        ref_softmax(p, V);
        loss += -log(p[target]);
        if (!gD)
            continue;
        for (int v = 0; v < V; v++) {
            double dl = (p[v] - (v == target)) / ntargets;
            gdb[v] += dl;
            for (int q = 0; q < H; q++) {
                gD[(size_t)q * V + v] += ht[q] * dl;
                dup[(size_t)t * H + q] += D[(size_t)q * V + v] * dl;
            }
        }
    }
    return loss;
}

double lstm_ref_loss(const double *params, double *grad, int V, int H, int T, int b,
                     const int32_t *x, const int32_t *y)
{
    return lstm_ref_loss_seq(params, grad, V, H, 1, T, b, x, y, 0, NULL, NULL);
}

void lstm_ref_probs(const double *params, int V, int H, int T, int b, const int32_t *x,
                    double *probs)
{
    double *h = calloc(H, sizeof(double)), *c = calloc(H, sizeof(double));
    for (int w = 0; w < b; w++) {
        memset(h, 0, H * sizeof(double));
        memset(c, 0, H * sizeof(double));
        double *p = probs + (size_t)w * V;
        for (int t = 0; t < T; t++)
            lstm_ref_step(params, V, H, x[(size_t)w * T + t], h, c, p);
        ref_softmax(p, V);
    }
    free(h); free(c);
}

void lstm_ref_step(const double *params, int V, int H, int x, double *h, double *c,
                   double *logits)
{
    ref_params P = ref_bind(params, V, H);
    double *act = malloc((size_t)4 * H * sizeof(double));
    double *hn = malloc(H * sizeof(double)), *cn = malloc(H * sizeof(double));
    ref_cell(&P, H, x, h, c, act, cn, hn);
    memcpy(h, hn, H * sizeof(double));
    memcpy(c, cn, H * sizeof(double));
    ref_dense(P.D, P.db, V, H, h, logits);
    free(act); free(hn); free(cn);
}

/* ---------------------------------------------------------------------------------------- */
/* The general reference: stacked layers, a target at every position, a carried state. */

/* ln: the layer-normalised LSTM (a fourth tensor per layer, gamma) */
static double ref_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                      const int32_t *x, const int32_t *y, int per_position,
                      const double *h0, const double *c0, int ln, const ref_masks *mk)
{
    int G = 4 * H, nt = ln ? 4 : 3;
    /* tensor offsets, layer by layer then dense (lstm_bind_l's layout) */
    size_t off[4 * 8 + 2], n = 0;
    for (int l = 0; l < L; l++) {
        off[nt * l] = n;     n += (size_t)(l == 0 ? V : H) * G;
        off[nt * l + 1] = n; n += (size_t)H * G;
        off[nt * l + 2] = n; n += G;
        if (ln) { off[nt * l + 3] = n; n += G; }
    }
    off[nt * L] = n;     n += (size_t)H * V;
    off[nt * L + 1] = n; n += V;
    if (grad)
        memset(grad, 0, n * sizeof(double));
    const double *D = params + off[nt * L], *db = params + off[nt * L + 1];
    int ntargets = per_position ? b * T : b;

    /* per window: act (L, T, 4H); c, h (L, T+1, H) with row 0 the initial state; with ln the
     * normalised projections shat (L, T, 4H) and 1/std rstd (L, T, 4) */
    double *act = calloc((size_t)L * T * G, sizeof(double));
    double *shat = calloc((size_t)L * T * G, sizeof(double)), *rstd = calloc((size_t)L * T * 4, sizeof(double));
    double *sv = calloc(G, sizeof(double));
    double *c = calloc((size_t)L * (T + 1) * H, sizeof(double));
    double *h = calloc((size_t)L * (T + 1) * H, sizeof(double));
    double *dup = calloc((size_t)T * H, sizeof(double));      /* gradient from above, per step */
    double *dnext = calloc((size_t)T * H, sizeof(double));
    double *p = calloc(V, sizeof(double)), *dz = calloc(G, sizeof(double));
    double *dh = calloc(H, sizeof(double)), *dc = calloc(H, sizeof(double));
    double *dhp = calloc(H, sizeof(double));
    double *in = calloc((size_t)T * H, sizeof(double)), *topm = calloc((size_t)(T + 1) * H, sizeof(double));
    double loss = 0.0;

    for (int w = 0; w < b; w++) {
        const int32_t *xw = x + (size_t)w * T;
        for (int l = 0; l < L; l++) {
            const double *K = params + off[nt * l], *R = params + off[nt * l + 1], *bias = params + off[nt * l + 2];
            const double *gamma = ln ? params + off[nt * l + 3] : NULL;
            double *hl = h + (size_t)l * (T + 1) * H, *cl = c + (size_t)l * (T + 1) * H;
            if (l > 0)                                  /* the input, masked: in (T, H) */
                masked_input(in, h + (size_t)(l - 1) * (T + 1) * H, mk, l, w, b, T, H);
            for (int j = 0; j < H; j++) {
                hl[j] = h0 ? h0[((size_t)l * b + w) * H + j] : 0.0;
                cl[j] = c0 ? c0[((size_t)l * b + w) * H + j] : 0.0;
            }
            for (int t = 0; t < T; t++) {
                double *a = act + ((size_t)l * T + t) * G;
                const double *hp = hl + (size_t)t * H, *cp = cl + (size_t)t * H;
                /* sv = the projections, without bias: sv[j] sums the input's terms, then the
                 * state's, each in order of q (the loops run along the rows of K and R) */
                for (int j = 0; j < G; j++)
                    sv[j] = l == 0 ? 0.0 + K[(size_t)xw[t] * G + j] * input_at(mk, w, t, T) : 0.0;
                for (int q = 0; q < H && l > 0; q++)
                    for (int j = 0; j < G; j++)
                        sv[j] += in[(size_t)t * H + q] * K[(size_t)q * G + j];
                for (int q = 0; q < H; q++)
                    for (int j = 0; j < G; j++)
                        sv[j] += hp[q] * R[(size_t)q * G + j];
                for (int blk = 0; blk < 4 && ln; blk++) {  /* normalise each gate block */
                    double mean = 0.0, var = 0.0;
                    for (int j = blk * H; j < (blk + 1) * H; j++) mean += sv[j] / H;
                    for (int j = blk * H; j < (blk + 1) * H; j++) var += (sv[j] - mean) * (sv[j] - mean) / H;
                    double rs = 1.0 / sqrt(var + 1e-5);
                    rstd[((size_t)l * T + t) * 4 + blk] = rs;
                    for (int j = blk * H; j < (blk + 1) * H; j++) {
                        shat[((size_t)l * T + t) * G + j] = (sv[j] - mean) * rs;
                        sv[j] = gamma[j] * (sv[j] - mean) * rs;
                    }
                }
                for (int j = 0; j < G; j++) {
                    double z = sv[j] + bias[j];
                    a[j] = (j >= 2 * H && j < 3 * H) ? tanh(z) : sigmoid(z);
                }
                for (int j = 0; j < H; j++) {
                    cl[(size_t)(t + 1) * H + j] = a[H + j] * cp[j] + a[j] * a[2 * H + j];
                    hl[(size_t)(t + 1) * H + j] = a[3 * H + j] * tanh(cl[(size_t)(t + 1) * H + j]);
                }
            }
        }
        loss += ref_outputs(masked_top(topm, h + (size_t)(L - 1) * (T + 1) * H, mk, w, T, H), D, db,
                            grad ? grad + off[nt * L] : NULL, grad ? grad + off[nt * L + 1] : NULL,
                            dup, p, V, H, T, per_position ? y + (size_t)w * T : y + w, per_position,
                            ntargets);
        if (!grad)
            continue;
        unmask_top(dup, mk, w, T, H);
        for (int l = L - 1; l >= 0; l--) {
            const double *K = params + off[nt * l], *R = params + off[nt * l + 1];
            const double *gamma = ln ? params + off[nt * l + 3] : NULL;
            double *gK = grad + off[nt * l], *gR = grad + off[nt * l + 1], *gb = grad + off[nt * l + 2];
            double *gg = ln ? grad + off[nt * l + 3] : NULL;
            const double *hl = h + (size_t)l * (T + 1) * H, *cl = c + (size_t)l * (T + 1) * H;
            if (l > 0)
                masked_input(in, h + (size_t)(l - 1) * (T + 1) * H, mk, l, w, b, T, H);
            memset(dh, 0, H * sizeof(double));
            memset(dc, 0, H * sizeof(double));
            memset(dnext, 0, (size_t)T * H * sizeof(double));
            for (int t = T - 1; t >= 0; t--) {
                const double *a = act + ((size_t)l * T + t) * G;
                const double *cp = cl + (size_t)t * H, *ct = cl + (size_t)(t + 1) * H;
                for (int j = 0; j < H; j++)
                    dh[j] += dup[(size_t)t * H + j];
                for (int j = 0; j < H; j++) {
                    double i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
                    double tc = tanh(ct[j]);
                    double dct = dc[j] + dh[j] * o * (1.0 - tc * tc);
                    dz[j] = dct * g * i * (1.0 - i);
                    dz[H + j] = dct * cp[j] * f * (1.0 - f);
                    dz[2 * H + j] = dct * i * (1.0 - g * g);
                    dz[3 * H + j] = dh[j] * tc * o * (1.0 - o);
                    dc[j] = dct * f;
                }
                for (int j = 0; j < G; j++)                  /* z = (gamma shat) + bias */
                    gb[j] += dz[j];
                for (int blk = 0; blk < 4 && ln; blk++) {   /* dz -> the gradient at sv */
                    const double *sh = shat + ((size_t)l * T + t) * G;
                    double rs = rstd[((size_t)l * T + t) * 4 + blk], m1 = 0.0, m2 = 0.0;
                    for (int j = blk * H; j < (blk + 1) * H; j++) {
                        gg[j] += dz[j] * sh[j];
                        m1 += dz[j] * gamma[j] / H;
                        m2 += dz[j] * gamma[j] * sh[j] / H;
                    }
                    for (int j = blk * H; j < (blk + 1) * H; j++)
                        dz[j] = rs * (dz[j] * gamma[j] - m1 - sh[j] * m2);
                }
                for (int q = 0; q < H; q++)
                    for (int j = 0; j < G; j++)
                        gR[(size_t)q * G + j] += hl[(size_t)t * H + q] * dz[j];
                for (int j = 0; j < G && l == 0; j++)
                    gK[(size_t)xw[t] * G + j] += dz[j] * input_at(mk, w, t, T);
                for (int q = 0; q < H && l > 0; q++)
                    for (int j = 0; j < G; j++)
                        gK[(size_t)q * G + j] += in[(size_t)t * H + q] * dz[j];
                for (int q = 0; q < H; q++) {
                    dhp[q] = 0.0;
                    for (int j = 0; j < G; j++) {
                        dhp[q] += R[(size_t)q * G + j] * dz[j];
                        if (l > 0)
                            dnext[(size_t)t * H + q] += K[(size_t)q * G + j] * dz[j]
                                                        * between_at(mk, l, t, w, b, q, H);
                    }
                }
                memcpy(dh, dhp, H * sizeof(double));
            }
            memcpy(dup, dnext, (size_t)T * H * sizeof(double));
        }
    }
    free(act); free(c); free(h); free(dup); free(dnext); free(p); free(dz);
    free(dh); free(dc); free(dhp); free(shat); free(rstd); free(sv); free(in); free(topm);
    return loss / ntargets;
}

double lstm_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                         const int32_t *x, const int32_t *y, int per_position,
                         const double *h0, const double *c0)
{
    return ref_seq(params, grad, V, H, L, T, b, x, y, per_position, h0, c0, 0, NULL);
}

double lnlstm_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                           const int32_t *x, const int32_t *y, int per_position,
                           const double *h0, const double *c0)
{
    return ref_seq(params, grad, V, H, L, T, b, x, y, per_position, h0, c0, 1, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* The GRU: per window, every layer forward, the outputs, then BPTT layer by layer. */

static double gru_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                      const int32_t *x, const int32_t *y, int per_position, const double *h0,
                      const ref_masks *mk);

double gru_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                        const int32_t *x, const int32_t *y, int per_position, const double *h0)
{
    return gru_seq(params, grad, V, H, L, T, b, x, y, per_position, h0, NULL);
}

static double gru_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                      const int32_t *x, const int32_t *y, int per_position, const double *h0,
                      const ref_masks *mk)
{
    int G = 3 * H;
    size_t off[3 * 8 + 2], n = 0;
    for (int l = 0; l < L; l++) {
        off[3 * l] = n;     n += (size_t)(l == 0 ? V : H) * G;
        off[3 * l + 1] = n; n += (size_t)H * G;
        off[3 * l + 2] = n; n += 2 * (size_t)G;
    }
    off[3 * L] = n;     n += (size_t)H * V;
    off[3 * L + 1] = n; n += V;
    if (grad)
        memset(grad, 0, n * sizeof(double));
    const double *D = params + off[3 * L], *db = params + off[3 * L + 1];
    int ntargets = per_position ? b * T : b;

    /* per window and layer: gates z, r, n (T, 3H) as g; u_h (T, H) = h_{t-1} . R_h + b_rec_h;
     * h (T+1, H), row 0 the initial state */
    double *gate = calloc((size_t)L * T * G, sizeof(double));
    double *uh = calloc((size_t)L * T * H, sizeof(double));
    double *h = calloc((size_t)L * (T + 1) * H, sizeof(double));
    double *dup = calloc((size_t)T * H, sizeof(double)), *dnext = calloc((size_t)T * H, sizeof(double));
    double *p = calloc(V, sizeof(double)), *da = calloc(G, sizeof(double)), *du = calloc(G, sizeof(double));
    double *dh = calloc(H, sizeof(double)), *dhp = calloc(H, sizeof(double));
    double *in = calloc((size_t)T * H, sizeof(double)), *topm = calloc((size_t)(T + 1) * H, sizeof(double));
    double loss = 0.0;

    for (int w = 0; w < b; w++) {
        const int32_t *xw = x + (size_t)w * T;
        for (int l = 0; l < L; l++) {
            const double *K = params + off[3 * l], *R = params + off[3 * l + 1];
            const double *bin = params + off[3 * l + 2], *brec = bin + G;
            double *hl = h + (size_t)l * (T + 1) * H;
            if (l > 0)
                masked_input(in, h + (size_t)(l - 1) * (T + 1) * H, mk, l, w, b, T, H);
            for (int j = 0; j < H; j++)
                hl[j] = h0 ? h0[((size_t)l * b + w) * H + j] : 0.0;
            for (int t = 0; t < T; t++) {
                const double *hp = hl + (size_t)t * H;
                double *g = gate + ((size_t)l * T + t) * G, *u = uh + ((size_t)l * T + t) * H;
                for (int j = 0; j < H; j++) {
                    double a[3], rec[3];                 /* gates z, r, h at unit j */
                    for (int q = 0; q < 3; q++) {
                        int col = q * H + j;
                        a[q] = bin[col];
                        rec[q] = brec[col];
                        if (l == 0)
                            a[q] += K[(size_t)xw[t] * G + col] * input_at(mk, w, t, T);
                        else
                            for (int i = 0; i < H; i++)
                                a[q] += in[(size_t)t * H + i] * K[(size_t)i * G + col];
                        for (int i = 0; i < H; i++)
                            rec[q] += hp[i] * R[(size_t)i * G + col];
                    }
                    double z = sigmoid(a[0] + rec[0]), r = sigmoid(a[1] + rec[1]);
                    double nn = tanh(a[2] + r * rec[2]);
                    g[j] = z; g[H + j] = r; g[2 * H + j] = nn;
                    u[j] = rec[2];
                    hl[(size_t)(t + 1) * H + j] = z * hp[j] + (1.0 - z) * nn;
                }
            }
        }
        loss += ref_outputs(masked_top(topm, h + (size_t)(L - 1) * (T + 1) * H, mk, w, T, H), D, db,
                            grad ? grad + off[3 * L] : NULL, grad ? grad + off[3 * L + 1] : NULL,
                            dup, p, V, H, T, per_position ? y + (size_t)w * T : y + w, per_position,
                            ntargets);
        if (!grad)
            continue;
        unmask_top(dup, mk, w, T, H);
        for (int l = L - 1; l >= 0; l--) {
            const double *K = params + off[3 * l], *R = params + off[3 * l + 1];
            double *gK = grad + off[3 * l], *gR = grad + off[3 * l + 1];
            double *gbin = grad + off[3 * l + 2], *gbrec = gbin + G;
            const double *hl = h + (size_t)l * (T + 1) * H;
            if (l > 0)
                masked_input(in, h + (size_t)(l - 1) * (T + 1) * H, mk, l, w, b, T, H);
            memset(dh, 0, H * sizeof(double));
            memset(dnext, 0, (size_t)T * H * sizeof(double));
            for (int t = T - 1; t >= 0; t--) {
                const double *g = gate + ((size_t)l * T + t) * G, *u = uh + ((size_t)l * T + t) * H;
                const double *hp = hl + (size_t)t * H;
                for (int j = 0; j < H; j++)
                    dh[j] += dup[(size_t)t * H + j];
                for (int j = 0; j < H; j++) {
                    double z = g[j], r = g[H + j], nn = g[2 * H + j];
                    /* h = z hp + (1 - z) n,  n = tanh(a_h + r u_h) */
                    double dn = dh[j] * (1.0 - z) * (1.0 - nn * nn);
                    da[j] = du[j] = dh[j] * (hp[j] - nn) * z * (1.0 - z);
                    da[H + j] = du[H + j] = dn * u[j] * r * (1.0 - r);
                    da[2 * H + j] = dn;
                    du[2 * H + j] = dn * r;
                    dhp[j] = dh[j] * z;                   /* the direct path to h_{t-1} */
                }
                for (int col = 0; col < G; col++) {
                    gbin[col] += da[col];
                    gbrec[col] += du[col];
                    for (int i = 0; i < H; i++)
                        gR[(size_t)i * G + col] += hp[i] * du[col];
                    if (l == 0)
                        gK[(size_t)xw[t] * G + col] += da[col] * input_at(mk, w, t, T);
                    else
                        for (int i = 0; i < H; i++)
                            gK[(size_t)i * G + col] += in[(size_t)t * H + i] * da[col];
                }
                for (int i = 0; i < H; i++)
                    for (int col = 0; col < G; col++) {
                        dhp[i] += R[(size_t)i * G + col] * du[col];
                        if (l > 0)
                            dnext[(size_t)t * H + i] += K[(size_t)i * G + col] * da[col]
                                                        * between_at(mk, l, t, w, b, i, H);
                    }
                memcpy(dh, dhp, H * sizeof(double));
            }
            memcpy(dup, dnext, (size_t)T * H * sizeof(double));
        }
    }
    free(gate); free(uh); free(h); free(dup); free(dnext); free(p); free(da); free(du);
    free(dh); free(dhp); free(in); free(topm);
    return loss / ntargets;
}

/* ---------------------------------------------------------------------------------------- */
/* Under masks: weight drop as a change of parameters (R -> R * wdrop, the gradient times
 * wdrop: the chain rule of an elementwise product), the rest inside ref_seq and gru_seq. */

double ref_loss_masked(int cell, const double *params, double *grad, int V, int H, int L, int T,
                       int b, const int32_t *x, const int32_t *y, int per_position,
                       const double *h0, const double *c0, const ref_masks *m)
{
    int G = (cell == 1 ? 3 : 4) * H, nt = cell == 2 ? 4 : 3;
    size_t n = 0, roff[8];
    for (int l = 0; l < L; l++) {                      /* the parameters, and where each R is */
        n += (size_t)(l == 0 ? V : H) * G;
        roff[l] = n;
        n += (size_t)H * G + (size_t)(cell == 1 ? 2 : 1) * G + (nt == 4 ? (size_t)G : 0);
    }
    n += (size_t)H * V + V;
    double *pm = malloc(n * sizeof(double));
    memcpy(pm, params, n * sizeof(double));
    for (int l = 0; l < L; l++)
        for (size_t i = 0; m->wdrop[l] && i < (size_t)H * G; i++)
            pm[roff[l] + i] *= m->wdrop[l][i];
    double loss = cell == 1 ? gru_seq(pm, grad, V, H, L, T, b, x, y, per_position, h0, m)
                            : ref_seq(pm, grad, V, H, L, T, b, x, y, per_position, h0, c0, cell == 2, m);
    for (int l = 0; grad && l < L; l++)
        for (size_t i = 0; m->wdrop[l] && i < (size_t)H * G; i++)
            grad[roff[l] + i] *= m->wdrop[l][i];
    free(pm);
    return loss;
}
