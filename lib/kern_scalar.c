/* kern_scalar.c - the portable kernel set: plain C loops, libm's expf/tanhf, no intrinsics; its
 * bf16 products are kern.c's emulation of vdpbf16ps, element by element.
 * It is the specification the vector sets follow, and runs on any architecture. The loops are
 * ordered so the innermost one walks contiguous memory (the compiler may vectorise it). */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "kern.h"

/* C (m, n) += A (m, k) . B (k, n) */
static void gemm_nn(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *c = C + (size_t)i * ldc;
        for (int p = 0; p < k; p++) {
            float a = A[(size_t)i * lda + p];
            const float *b = B + (size_t)p * ldb;
            for (int j = 0; j < n; j++)
                c[j] += a * b[j];
        }
    }
}

/* C (m, n) += A^T . B,  A is (k, m), B is (k, n) */
static void gemm_tn(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    for (int p = 0; p < k; p++) {
        const float *b = B + (size_t)p * ldb;
        for (int i = 0; i < m; i++) {
            float a = A[(size_t)p * lda + i];
            float *c = C + (size_t)i * ldc;
            for (int j = 0; j < n; j++)
                c[j] += a * b[j];
        }
    }
}

/* C (m, n) += A . B^T,  A is (m, k), B is (n, k) */
static void gemm_nt(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const float *a = A + (size_t)i * lda, *b = B + (size_t)j * ldb;
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += a[p] * b[p];
            C[(size_t)i * ldc + j] += s;
        }
}

/* Packed B is B (k, n) with rows n apart. */
static void pack_b(int k, int n, const float *B, int ldb, float *Bp)
{
    for (int p = 0; p < k; p++)
        for (int j = 0; j < n; j++)
            Bp[(size_t)p * n + j] = B[(size_t)p * ldb + j];
}

static void gemm_nn_packed(int m, int n, int k, const float *A, int lda, const float *Bp,
                           float *C, int ldc)
{
    gemm_nn(m, n, k, A, lda, Bp, n, C, ldc);
}

/* y (n) = y0 (n) + x (k) . B, B packed by kern_pack_gemv: panels of KERN_GEMV_P columns. */
static void gemv_packed(int n, int k, const float *x, const float *Bp, const float *y0, float *y)
{
    if (y != y0)
        memcpy(y, y0, (size_t)n * sizeof(float));
    for (int j0 = 0; j0 < n; j0 += KERN_GEMV_P) {
        const float *b = Bp + (size_t)j0 * k;
        int w = n - j0 < KERN_GEMV_P ? n - j0 : KERN_GEMV_P;
        for (int p = 0; p < k; p++)
            for (int c = 0; c < w; c++)
                y[j0 + c] += x[p] * b[(size_t)p * KERN_GEMV_P + c];
    }
}

/* The same with B packed as halves, converted in C. */
static void gemv_packed_f16(int n, int k, const float *x, const uint16_t *Bp, const float *y0,
                            float *y)
{
    if (y != y0)
        memcpy(y, y0, (size_t)n * sizeof(float));
    for (int j0 = 0; j0 < n; j0 += KERN_GEMV_P) {
        const uint16_t *b = Bp + (size_t)j0 * k;
        int w = n - j0 < KERN_GEMV_P ? n - j0 : KERN_GEMV_P;
        for (int p = 0; p < k; p++)
            for (int c = 0; c < w; c++)
                y[j0 + c] += x[p] * kern_f16_to_float(b[(size_t)p * KERN_GEMV_P + c]);
    }
}

/* Y (m, n) = Y0 + X (m, k) . B: gemv_packed row by row (the reference is the definition). */
static void gemv_packed_rows(int m, int n, int k, const float *X, int ldx, const float *Bp,
                             const float *Y0, int ldy0, float *Y, int ldy)
{
    for (int i = 0; i < m; i++)
        gemv_packed(n, k, X + (size_t)i * ldx, Bp, Y0 + (size_t)i * ldy0, Y + (size_t)i * ldy);
}

static void gemv_packed_rows_f16(int m, int n, int k, const float *X, int ldx,
                                 const uint16_t *Bp, const float *Y0, int ldy0, float *Y,
                                 int ldy)
{
    for (int i = 0; i < m; i++)
        gemv_packed_f16(n, k, X + (size_t)i * ldx, Bp, Y0 + (size_t)i * ldy0,
                        Y + (size_t)i * ldy);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* z (b, 4H) pre-activations -> activations i, f, g, o in place; c_prev (b, H) or NULL;
 * writes c (b, H), h (b, H). c may be the same array as c_prev. */
static void lstm_cell_fwd(int b, int H, float *z, const float *c_prev, float *c, float *h)
{
    for (int r = 0; r < b; r++) {
        float *zi = z + (size_t)r * 4 * H, *zf = zi + H, *zg = zi + 2 * H, *zo = zi + 3 * H;
        for (int j = 0; j < H; j++) {
            float i = sigmoidf(zi[j]), f = sigmoidf(zf[j]), g = tanhf(zg[j]), o = sigmoidf(zo[j]);
            float cp = c_prev ? c_prev[(size_t)r * H + j] : 0.0f;
            float cn = f * cp + i * g;
            zi[j] = i; zf[j] = f; zg[j] = g; zo[j] = o;
            c[(size_t)r * H + j] = cn;
            h[(size_t)r * H + j] = o * tanhf(cn);
        }
    }
}

/* act (b, 4H) activations i, f, g, o -> dz in place; c_prev (b, H) or NULL, c (b, H);
 * dh (b, H) gradient at h_t; dc (b, H) gradient at c_t in, at c_{t-1} out. */
static void lstm_cell_bwd(int b, int H, float *act, const float *c_prev, const float *c,
                          const float *dh, float *dc)
{
    for (int r = 0; r < b; r++) {
        float *ai = act + (size_t)r * 4 * H, *af = ai + H, *ag = ai + 2 * H, *ao = ai + 3 * H;
        for (int j = 0; j < H; j++) {
            size_t q = (size_t)r * H + j;
            float i = ai[j], f = af[j], g = ag[j], o = ao[j];
            float tc = tanhf(c[q]);
            float cp = c_prev ? c_prev[q] : 0.0f;
            float dct = dc[q] + dh[q] * o * (1.0f - tc * tc);     /* total gradient at c_t */
            ai[j] = dct * g * i * (1.0f - i);
            af[j] = dct * cp * f * (1.0f - f);
            ag[j] = dct * i * (1.0f - g * g);
            ao[j] = dh[q] * tc * o * (1.0f - o);
            dc[q] = dct * f;
        }
    }
}

/* a (b, 3H) input pre-activations -> activations z, r, n in place; u (b, 3H) recurrent
 * pre-activations; h_prev (b, H) or NULL; writes h (b, H), which may be h_prev. */
static void gru_cell_fwd(int b, int H, float *a, const float *u, const float *h_prev, float *h)
{
    for (int r = 0; r < b; r++) {
        float *az = a + (size_t)r * 3 * H, *ar = az + H, *ah = az + 2 * H;
        const float *uz = u + (size_t)r * 3 * H, *ur = uz + H, *uh = uz + 2 * H;
        for (int j = 0; j < H; j++) {
            float z = sigmoidf(az[j] + uz[j]), rr = sigmoidf(ar[j] + ur[j]);
            float n = tanhf(ah[j] + rr * uh[j]);
            float hp = h_prev ? h_prev[(size_t)r * H + j] : 0.0f;
            az[j] = z; ar[j] = rr; ah[j] = n;
            h[(size_t)r * H + j] = z * hp + (1.0f - z) * n;
        }
    }
}

/* act (b, 3H) activations z, r, n -> da in place; u (b, 3H) -> du in place; h_prev (b, H) or
 * NULL; dh (b, H) gradient at h_t in, dh * z out. */
static void gru_cell_bwd(int b, int H, float *act, float *u, const float *h_prev, float *dh)
{
    for (int r = 0; r < b; r++) {
        float *az = act + (size_t)r * 3 * H, *ar = az + H, *ah = az + 2 * H;
        float *uz = u + (size_t)r * 3 * H, *ur = uz + H, *uh = uz + 2 * H;
        for (int j = 0; j < H; j++) {
            size_t q = (size_t)r * H + j;
            float z = az[j], rr = ar[j], n = ah[j];
            float hp = h_prev ? h_prev[q] : 0.0f;
            float dn = dh[q] * (1.0f - z) * (1.0f - n * n);      /* at n's pre-activation */
            float dz = dh[q] * (hp - n) * z * (1.0f - z);
            float dr = dn * uh[j] * rr * (1.0f - rr);
            az[j] = dz; ar[j] = dr; ah[j] = dn;
            uz[j] = dz; ur[j] = dr; uh[j] = dn * rr;
            dh[q] *= z;
        }
    }
}

/* Layer norm of b rows of 4 gate blocks of H: see kern.h. */
static void ln_fwd(int b, int H, float *s, const float *gamma, const float *bias, float *shat,
                   float *rstd)
{
    for (int r = 0; r < b * 4; r++) {
        float *x = s + (size_t)r * H;
        const float *g = gamma + (size_t)(r % 4) * H, *be = bias + (size_t)(r % 4) * H;
        float mean = 0.0f, var = 0.0f;
        for (int j = 0; j < H; j++)
            mean += x[j];
        mean /= H;
        for (int j = 0; j < H; j++)
            var += (x[j] - mean) * (x[j] - mean);
        float rs = 1.0f / sqrtf(var / H + 1e-5f);
        for (int j = 0; j < H; j++) {
            float xh = (x[j] - mean) * rs;
            if (shat)
                shat[(size_t)r * H + j] = xh;
            x[j] = g[j] * xh + be[j];
        }
        if (rstd)
            rstd[r] = rs;
    }
}

static void ln_bwd(int b, int H, float *dz, const float *gamma, const float *shat,
                   const float *rstd, float *dgamma, float *dbias)
{
    for (int r = 0; r < b * 4; r++) {
        float *d = dz + (size_t)r * H;
        const float *xh = shat + (size_t)r * H, *g = gamma + (size_t)(r % 4) * H;
        float *dg = dgamma + (size_t)(r % 4) * H, *db = dbias + (size_t)(r % 4) * H;
        float m1 = 0.0f, m2 = 0.0f;               /* means of dshat and dshat * shat */
        for (int j = 0; j < H; j++) {
            dg[j] += d[j] * xh[j];
            db[j] += d[j];
            float dx = d[j] * g[j];
            m1 += dx;
            m2 += dx * xh[j];
        }
        m1 /= H;
        m2 /= H;
        for (int j = 0; j < H; j++)
            d[j] = rstd[r] * (d[j] * g[j] - m1 - xh[j] * m2);
    }
}

/* Softmax for generation at temperature 1 / s: see kern.h. */
static int softmax(int n, float *x, float s)
{
    int best = 0;
    float mx = x[0];                  /* held in a register: reloading x[best] is a chain */
    for (int i = 1; i < n; i++)
        if (x[i] > mx) {
            mx = x[i];
            best = i;
        }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf((x[i] - mx) * s);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] *= inv;
    return best;
}

/* ---- bf16 products: kern.h's definition, as plainly as it reads ---- */

/* Pair p of k values x[0], x[stride], ...: element 2p in the low half (bf16), 2p + 1 in the
 * upper (zero past k). */
static uint32_t bf16_pair(const float *x, size_t stride, int p, int k)
{
    uint32_t lo = kern_bf16_from_float(x[(size_t)2 * p * stride]);
    uint32_t hi = 2 * p + 1 < k ? kern_bf16_from_float(x[(size_t)(2 * p + 1) * stride]) : 0;
    return hi << 16 | lo;
}

/* c plus the sums of k2 pairs a[p as] . b[p bs], a block of KERN_BF16_KB pairs at a time */
static float bf16_sums(float c, const uint32_t *a, size_t as, const uint32_t *b, size_t bs, int k2)
{
    for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
        float acc = 0.0f;
        for (int p = p0; p < k2 && p < p0 + KERN_BF16_KB; p++)
            acc = kern_bf16_dot(acc, a[p * as], b[p * bs]);
        c += acc;
    }
    return c;
}

/* Packed B is the header (zeros), then B's pairs of rows: word (p, j) at p n + j. */
static void pack_b_bf16(int k, int n, const float *B, int ldb, uint32_t *Bp)
{
    memset(Bp, 0, KERN_BF16_HEAD * sizeof *Bp);
    for (int p = 0; p < (k + 1) / 2; p++)
        for (int j = 0; j < n; j++)
            Bp[KERN_BF16_HEAD + (size_t)p * n + j] = bf16_pair(B + j, (size_t)ldb, p, k);
}

/* C (m, n) += A (m, k) . B, B packed; work holds A's rows as pairs (m, ceil(k / 2)). */
static void gemm_nn_bf16(int m, int n, int k, const float *A, int lda, const uint32_t *Bp,
                         float *C, int ldc, void *work)
{
    int k2 = (k + 1) / 2;
    uint32_t *a = work;
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k2; p++)
            a[(size_t)i * k2 + p] = bf16_pair(A + (size_t)i * lda, 1, p, k);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            C[(size_t)i * ldc + j] = bf16_sums(C[(size_t)i * ldc + j], a + (size_t)i * k2, 1,
                                               Bp + KERN_BF16_HEAD + j, (size_t)n, k2);
}

/* C (m, n) += A^T . B,  A (k, m), B (k, n): a k-block at a time, its pairs of rows of A and B
 * in work (kc, m) and (kc, n). */
static void gemm_tn_bf16(int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                         float *C, int ldc, void *work)
{
    int k2 = (k + 1) / 2;
    for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
        int kc = k2 - p0 < KERN_BF16_KB ? k2 - p0 : KERN_BF16_KB;
        uint32_t *a = work, *b = a + (size_t)kc * m;
        for (int p = 0; p < kc; p++) {
            for (int i = 0; i < m; i++)
                a[(size_t)p * m + i] = bf16_pair(A + i, (size_t)lda, p0 + p, k);
            for (int j = 0; j < n; j++)
                b[(size_t)p * n + j] = bf16_pair(B + j, (size_t)ldb, p0 + p, k);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                C[(size_t)i * ldc + j] = bf16_sums(C[(size_t)i * ldc + j], a + i, (size_t)m,
                                                   b + j, (size_t)n, kc);
    }
}

const kern_ops kern_scalar = {
    "scalar", 1, gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, gemv_packed,
    gemv_packed_f16, lstm_cell_fwd, lstm_cell_bwd,
    gru_cell_fwd, gru_cell_bwd, ln_fwd, ln_bwd, softmax, gemv_packed_rows,
    gemv_packed_rows_f16, pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16, 0,
};
