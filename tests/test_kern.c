/* test_kern.c - every kernel set this CPU runs against naive double-precision code:
 * gemm_nn / gemm_tn / gemm_nt at ragged sizes with padded leading dimensions, the packed
 * one-row products in float and half precision (and the half conversions against F16C), and
 * the LSTM and GRU cells and the layer norm forward and backward against the textbook
 * formulas. Sets the CPU cannot run (or CHARPIPE_KERNELS leaves out) are reported as SKIP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kern.h"
#include "generate.h"
#include "lstm.h"
#include "rng.h"

static const kern_ops *K;           /* the set under test */

static float *randf(size_t n, double scale)
{
    float *a = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)((2.0 * rng_uniform(&rng) - 1.0) * scale);
    return a;
}

/* Max |a - ref| / max |ref| over the m x n block (rows ld apart). mag (or NULL), laid out as
 * ref: the sum of the magnitudes of the terms that made each ref (|c0| + sum |a b|), which
 * bounds float summation's error; the error is taken relative to the largest of those too,
 * so that one result summed near zero (m = n = 1) does not make rounding look large. */
static double rel_err(const float *a, const double *ref, const double *mag, int m, int n, int ld)
{
    double mx = 1e-30, err = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double r = ref[(size_t)i * ld + j];
            mx = check_max(mx, fabs(r));
            if (mag)
                mx = check_max(mx, mag[(size_t)i * ld + j]);
            double e = fabs(a[(size_t)i * ld + j] - r);
            err = check_max(err, e);
        }
    return err / mx;
}

/* The bound of a float sum of k products (and c0) relative to the sum of their magnitudes
 * (rel_err): each product and addition rounds by u = 6e-8, at most k u in all in the worst
 * order, about sqrt(k) u in a random one; 2e-7 k is the worst case three times over, 1e-5
 * covers the few-term sums. */
#define GEMM_BOUND(k) (1e-5 + 2e-7 * (k))

/* kind 0: nn, 1: tn, 2: nt. C (m, n) += op(A) . op(B) on ragged sizes. */
static void check_gemm(int kind, int m, int n, int k)
{
    int pad = 5;
    int arows = kind == 1 ? k : m, acols = kind == 1 ? m : k;
    int brows = kind == 2 ? n : k, bcols = kind == 2 ? k : n;
    int lda = acols + pad, ldb = bcols + pad + 2, ldc = n + pad + 1;
    float *A = randf((size_t)arows * lda, 1.0), *B = randf((size_t)brows * ldb, 1.0);
    float *C = randf((size_t)m * ldc, 1.0);
    double *R = malloc((size_t)m * ldc * sizeof(double)), *M = malloc((size_t)m * ldc * sizeof(double));
    for (size_t i = 0; i < (size_t)m * ldc; i++) {
        R[i] = C[i];
        M[i] = fabs(C[i]);
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0, sm = 0.0;
            for (int p = 0; p < k; p++) {
                double a = kind == 1 ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = kind == 2 ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                s += a * b;
                sm += fabs(a * b);
            }
            R[(size_t)i * ldc + j] += s;
            M[(size_t)i * ldc + j] += sm;
        }
    if (kind == 0) K->gemm_nn(m, n, k, A, lda, B, ldb, C, ldc);
    if (kind == 1) K->gemm_tn(m, n, k, A, lda, B, ldb, C, ldc);
    if (kind == 2) K->gemm_nt(m, n, k, A, lda, B, ldb, C, ldc);
    double e = rel_err(C, R, M, m, n, ldc);
    int pad_ok = 1;                         /* the padding of C must be left alone */
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++)
            pad_ok &= C[(size_t)i * ldc + j] == (float)R[(size_t)i * ldc + j];
    const char *names[] = { "nn", "tn", "nt" };
    CHECK_BOUND("gemm", e, GEMM_BOUND(k), "%s gemm_%s m=%d n=%d k=%d", K->name, names[kind], m, n, k);
    CHECK(pad_ok, "%s gemm_%s m=%d n=%d k=%d: wrote past n", K->name, names[kind], m, n, k);
    free(A); free(B); free(C); free(R); free(M);
}

static void test_gemm(void)
{
    static const int sizes[] = { 1, 3, 7, 17, 33, 65 };
    for (int kind = 0; kind < 3; kind++)
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                for (int c = 0; c < 6; c++)
                    check_gemm(kind, sizes[a], sizes[b], sizes[c]);
}

/* C (m, n) += A (m, k) . B (k, n) with B packed by pack_b, against a double reference. */
static void check_packed(int m, int n, int k)
{
    float *A = randf((size_t)m * k, 1.0), *B = randf((size_t)k * n, 1.0);
    float *Bp = malloc((size_t)k * n * sizeof(float)), *C = randf((size_t)m * n, 1.0);
    double *ref = malloc((size_t)m * n * sizeof(double));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = C[(size_t)i * n + j];
            for (int p = 0; p < k; p++)
                acc += (double)A[(size_t)i * k + p] * B[(size_t)p * n + j];
            ref[(size_t)i * n + j] = acc;
        }
    K->pack_b(k, n, B, n, Bp);
    K->gemm_nn_packed(m, n, k, A, k, Bp, C, n);
    double e = rel_err(C, ref, NULL, m, n, n);
    CHECK_BOUND("gemm_nn_packed", e, GEMM_BOUND(k), "%s gemm_nn_packed m=%d n=%d k=%d", K->name, m, n, k);
    free(A); free(B); free(Bp); free(C); free(ref);
}

/* The shapes the model uses: b = 32, H = 128 / 512, and the gemm_tn over T*b rows. */
static void test_gemm_model_shapes(void)
{
    check_gemm(0, 32, 512, 128);
    check_gemm(0, 32, 128, 512);
    check_gemm(1, 128, 512, 39 * 32);
    check_gemm(0, 32, 2048, 512);
    check_gemm(0, 32, 512, 2048);
    check_gemm(0, 5, 65, 128);
    check_gemm(1, 128, 65, 32);
    check_gemm(2, 32, 128, 65);
    check_gemm(0, 1, 512, 128);
    check_gemm(0, 301, 200, 300);       /* several groups of row tiles, two k-blocks */
    check_gemm(1, 301, 70, 300);
    check_gemm(1, 301, 37, 8 * 256 + 3);    /* gemm_tn's packed A: two groups, ragged */
    check_gemm(1, 200, 130, 2500);
    check_packed(32, 512, 128);
    check_packed(301, 200, 300);
    check_packed(5, 65, 7);
}

/* Softmax at temperature 1 / s against a double reference: the probabilities to float
 * rounding (absolute error: the vector sets clamp exp's argument at -87), the index of the
 * first maximum. */
static void test_softmax(void)
{
    static const int sizes[] = { 1, 7, 8, 17, 65, 100, 256 };
    static const float scales[] = { 1.0f, 0.5f, 2.0f, 8.0f };
    for (int a = 0; a < 7; a++)
        for (int c = 0; c < 4; c++) {
            int n = sizes[a];
            float s = scales[c], *x = randf((size_t)n, 6.0);
            double *ref = malloc((size_t)n * sizeof(double)), mx = x[0], sum = 0.0, err = 0.0;
            int best = 0;
            for (int i = 1; i < n; i++)
                if (x[i] > x[best])
                    best = i;
            mx = x[best];
            for (int i = 0; i < n; i++)
                sum += ref[i] = exp(s * (x[i] - mx));
            int got = K->softmax(n, x, s);
            for (int i = 0; i < n; i++)
                err = check_max(err, fabs(x[i] - ref[i] / sum));
            CHECK(got == best, "%s softmax n=%d s=%g: index %d, want %d", K->name, n, (double)s, got, best);
            /* probabilities below 1: exp's relative error (1e-7 rounded) and the sum's and
             * the division's roundings, a few u of 1 */
            CHECK_BOUND("softmax", err, 1e-6, "%s softmax n=%d s=%g", K->name, n, (double)s);
            free(x);
            free(ref);
        }
}

/* y (n) = y0 + x (k) . B (k, n) with B packed by kern_pack_gemv (half: kern_pack_gemv_f16,
 * the reference then multiplies the rounded weights); in_place: y0 is y. Checks that y is not
 * written past n. */
static void check_gemv(int n, int k, int half, int in_place)
{
    int ldb = n + 3, pad = 9;
    float *B = randf((size_t)k * ldb, 1.0), *x = randf((size_t)k, 1.0);
    float *y0 = randf((size_t)n, 1.0), *y = randf((size_t)n + pad, 1.0);
    size_t sz = kern_gemv_size(k, n);
    float *Bp = malloc(sz * sizeof(float));
    uint16_t *Bh = malloc(sz * sizeof(uint16_t));
    double *R = malloc((size_t)n * sizeof(double)), *M = malloc((size_t)n * sizeof(double));
    if (half)
        kern_pack_gemv_f16(k, n, B, ldb, Bh);
    else
        kern_pack_gemv(k, n, B, ldb, Bp);
    for (int j = 0; j < n; j++) {
        double s = y0[j], sm = fabs(y0[j]);
        for (int p = 0; p < k; p++) {
            float b = B[(size_t)p * ldb + j];
            double t = (double)x[p] * (half ? kern_f16_to_float(kern_f16_from_float(b)) : b);
            s += t;
            sm += fabs(t);
        }
        R[j] = s;
        M[j] = sm;
    }
    float tail[9];
    memcpy(tail, y + n, sizeof tail);
    if (in_place)
        memcpy(y, y0, (size_t)n * sizeof(float));
    const float *yin = in_place ? y : y0;
    if (half)
        K->gemv_packed_f16(n, k, x, Bh, yin, y);
    else
        K->gemv_packed(n, k, x, Bp, yin, y);
    double e = rel_err(y, R, M, 1, n, n);
    CHECK_BOUND(half ? "gemv_packed_f16" : "gemv_packed", e, GEMM_BOUND(k), "%s n=%d k=%d%s",
                K->name, n, k, in_place ? " in place" : "");
    CHECK(memcmp(tail, y + n, sizeof tail) == 0, "%s gemv_packed%s n=%d k=%d: wrote past n",
          K->name, half ? "_f16" : "", n, k);
    free(B); free(x); free(y0); free(y); free(Bp); free(Bh); free(R); free(M);
}

/* Ragged sizes (n not a multiple of the vector width or the panel, k not of the row split)
 * and the model's: 4H x H for H 128 and 512, the dense layer's V = 65. */
static void test_gemv(void)
{
    static const int ns[] = { 1, 7, 8, 9, 31, 32, 33, 65, 100 }, ks[] = { 1, 2, 3, 5, 17, 33 };
    for (int half = 0; half < 2; half++) {
        for (int a = 0; a < 9; a++)
            for (int b = 0; b < 6; b++)
                check_gemv(ns[a], ks[b], half, (a + b) % 2);
        check_gemv(512, 128, half, 0);
        check_gemv(512, 128, half, 1);
        check_gemv(65, 128, half, 0);
        check_gemv(2048, 512, half, 1);
        check_gemv(384, 130, half, 0);
    }
}

/* gemv_packed_rows (half: _f16): m rows, X rows ldx apart, Y0 broadcast (ldy0 0), separate
 * or in place; every row must equal gemv_packed's for that row alone bit for bit (the
 * contract batched sampling rests on), and nothing outside the m rows of n may be written. */
static void check_gemv_rows(int m, int n, int k, int half, int y0mode)
{
    int ldx = k + 2, ldy = n + 5;
    float *B = randf((size_t)k * n, 1.0), *X = randf((size_t)m * ldx, 1.0);
    float *Y0 = randf((size_t)m * ldy, 1.0), *Y = randf((size_t)m * ldy + 8, 1.0);
    float *Yc = malloc(((size_t)m * ldy + 8) * sizeof(float)), *row = malloc((size_t)n * sizeof(float));
    memcpy(Yc, Y, ((size_t)m * ldy + 8) * sizeof(float));
    size_t sz = kern_gemv_size(k, n);
    float *Bp = malloc(sz * sizeof(float));
    uint16_t *Bh = malloc(sz * sizeof(uint16_t));
    if (half)
        kern_pack_gemv_f16(k, n, B, n, Bh);
    else
        kern_pack_gemv(k, n, B, n, Bp);
    int ldy0 = y0mode == 0 ? 0 : ldy;            /* 0 broadcast, 1 own rows, 2 in place */
    const float *y0 = Y0;
    if (y0mode == 2) {
        for (int i = 0; i < m; i++)
            memcpy(Y + (size_t)i * ldy, Y0 + (size_t)i * ldy, (size_t)n * sizeof(float));
        memcpy(Yc, Y, ((size_t)m * ldy + 8) * sizeof(float));
        y0 = Y;
    }
    if (half)
        K->gemv_packed_rows_f16(m, n, k, X, ldx, Bh, y0, ldy0, Y, ldy);
    else
        K->gemv_packed_rows(m, n, k, X, ldx, Bp, y0, ldy0, Y, ldy);
    int same = 1, untouched = 1;
    for (int i = 0; i < m; i++) {
        const float *r0 = (y0mode == 2 ? Yc : Y0) + (size_t)i * ldy0;
        if (half)
            K->gemv_packed_f16(n, k, X + (size_t)i * ldx, Bh, r0, row);
        else
            K->gemv_packed(n, k, X + (size_t)i * ldx, Bp, r0, row);
        same &= memcmp(row, Y + (size_t)i * ldy, (size_t)n * sizeof(float)) == 0;
        untouched &= memcmp(Yc + (size_t)i * ldy + n, Y + (size_t)i * ldy + n,
                            (size_t)(ldy - n) * sizeof(float)) == 0;
    }
    untouched &= memcmp(Yc + (size_t)m * ldy, Y + (size_t)m * ldy, 8 * sizeof(float)) == 0;
    CHECK(same, "%s gemv_packed_rows%s m=%d n=%d k=%d y0 mode %d: a row differs from gemv_packed's",
          K->name, half ? "_f16" : "", m, n, k, y0mode);
    CHECK(untouched, "%s gemv_packed_rows%s m=%d n=%d k=%d: wrote outside the rows",
          K->name, half ? "_f16" : "", m, n, k);
    free(B); free(X); free(Y0); free(Y); free(Yc); free(row); free(Bp); free(Bh);
}

/* Row counts around the group of 4, ragged columns and depths, and the model's shapes. */
static void test_gemv_rows(void)
{
    static const int ms[] = { 1, 2, 3, 4, 5, 7, 9, 64 }, ns[] = { 1, 9, 33, 65, 100 };
    static const int ks[] = { 1, 3, 17, 33 };
    for (int half = 0; half < 2; half++) {
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 5; b++)
                for (int c = 0; c < 4; c++)
                    check_gemv_rows(ms[a], ns[b], ks[c], half, (a + b + c) % 3);
        check_gemv_rows(8, 512, 128, half, 2);
        check_gemv_rows(5, 65, 128, half, 0);
    }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_from_float(float f)
{
    return (uint16_t)__builtin_ia32_vcvtps2ph((float __attribute__((vector_size(16)))){ f }, 0)[0];
}
__attribute__((target("f16c"))) static float hw_to_float(uint16_t h)
{
    return __builtin_ia32_vcvtph2ps((short __attribute__((vector_size(16)))){ (short)h })[0];
}
#endif

/* kern_f16_from_float / kern_f16_to_float: every half goes to the float F16C gives and back to
 * itself; floats across the half range (subnormals, ties, overflow) round as F16C rounds. */
static void test_f16_convert(void)
{
    int bad_rt = 0, bad_hw = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_f16_to_float((uint16_t)h);
        uint16_t back = kern_f16_from_float(f);
        int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        bad_rt += nan ? !isnan(f) || (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) : back != h;
    }
    CHECK(bad_rt == 0, "%d halves do not survive half -> float -> half", bad_rt);
    CHECK(kern_f16_from_float(65504.0f) == 0x7bff && kern_f16_from_float(65520.0f) == 0x7c00
          && kern_f16_from_float(-1.0f) == 0xbc00 && kern_f16_from_float(0x1p-24f) == 1
          && kern_f16_from_float(0x1p-25f) == 0 && kern_f16_from_float(0x1.8p-25f) == 1,
          "half rounding at the edges");
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("f16c")) {
        SKIP("f16_against_f16c", "this CPU has no F16C");
        return;
    }
    for (uint32_t h = 0; h < 65536; h++) {
        float a = kern_f16_to_float((uint16_t)h), b = hw_to_float((uint16_t)h);
        bad_hw += !(memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)));
    }
    for (int i = 0; i < 400000; i++) {
        /* random bit patterns with exponents from 2^-30 to 2^17, and exact ties */
        uint32_t u = (uint32_t)rng_below(&rng, 1u << 23) | (uint32_t)(97 + rng_below(&rng, 48)) << 23
                     | (uint32_t)rng_below(&rng, 2) << 31;
        if (i % 4 == 0)
            u = (u & ~0x1fffu) | 0x1000u;
        float f;
        memcpy(&f, &u, sizeof f);
        bad_hw += kern_f16_from_float(f) != hw_from_float(f);
    }
    CHECK(bad_hw == 0, "%d conversions differ from F16C's", bad_hw);
#endif
}

/* lstm_gen_step (the packed one-row products) equals lstm_step to float rounding, for each
 * cell, 1 and 2 layers, over 30 steps of random characters from Keras-initialised weights
 * (ragged H); with half-precision weights it equals lstm_step on the weights it stores as
 * halves (the recurrent kernels, the upper layers' kernels, the dense kernel) rounded to
 * half, to the same float rounding. */
static void check_gen(int cell, int L, int H, int V)
{
    lstm_dims d = { V, H, L, cell };
    float *flat = malloc(lstm_nparams(d) * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, d);
    lstm_init_keras(&p, &rng);
    for (int l = 0; l < L; l++)                    /* biases away from zero: they are added */
        for (int j = 0; j < cell_gates(cell) * H * (cell == CELL_GRU ? 2 : 1); j++)
            p.layer[l].bias[j] += (float)(0.2 * (2 * rng_uniform(&rng) - 1));
    float *flat16 = malloc(lstm_nparams(d) * sizeof(float));
    memcpy(flat16, flat, lstm_nparams(d) * sizeof(float));
    lstm_params p16;
    lstm_bind(&p16, flat16, d);
    int G = cell_gates(cell) * H;
    for (int l = 0; l < L; l++)
        for (int j = 0; j < H * G; j++) {
            float *r = &p16.layer[l].recurrent[j], *k = l > 0 ? &p16.layer[l].kernel[j] : NULL;
            *r = kern_f16_to_float(kern_f16_from_float(*r));
            if (k)
                *k = kern_f16_to_float(kern_f16_from_float(*k));
        }
    for (int j = 0; j < H * V; j++)
        p16.dense_w[j] = kern_f16_to_float(kern_f16_from_float(p16.dense_w[j]));
    /* three copies with every weight one unit in the last place up or down, at random */
    size_t np = lstm_nparams(d);
    float *flatu = malloc(3 * np * sizeof(float));
    lstm_params pu[3];
    rng_t ur;
    rng_seed(&ur, 1);
    for (int m = 0; m < 3; m++) {
        lstm_bind(&pu[m], flatu + m * np, d);
        for (size_t i = 0; i < np; i++)
            flatu[m * np + i] = nextafterf(flat[i], rng_below(&ur, 2) ? INFINITY : -INFINITY);
    }
    size_t LH = (size_t)L * H;
    float *h[7], *c[7], *lg[7], *scratch = malloc(LSTM_STEP_SCRATCH(H) * sizeof(float));
    for (int m = 0; m < 7; m++) {
        h[m] = calloc(LH, sizeof(float));
        c[m] = calloc(LH, sizeof(float));
        lg[m] = malloc((size_t)V * sizeof(float));
    }
    lstm_gen *g32 = lstm_gen_new(K, &p, 0), *g16 = lstm_gen_new(K, &p, 1);
    CHECK(g32 && g16, "lstm_gen_new failed");
    double e32 = 0, e16 = 0, d16 = 0, sens = 0;
    for (int t = 0; t < 30 && g32 && g16; t++) {
        int x = (int)rng_below(&rng, (uint64_t)V);
        lstm_step(K, &p, x, h[0], c[0], lg[0], scratch);
        lstm_gen_step(g32, x, h[1], c[1], lg[1]);
        lstm_gen_step(g16, x, h[2], c[2], lg[2]);
        lstm_step(K, &p16, x, h[3], c[3], lg[3], scratch);
        for (int m = 4; m < 7; m++)
            lstm_step(K, &pu[m - 4], x, h[m], c[m], lg[m], scratch);
        double mx = 1e-30, mx16 = 1e-30;
        for (int v = 0; v < V; v++) {
            mx = check_max(mx, fabs(lg[0][v]));
            mx16 = check_max(mx16, fabs(lg[3][v]));
        }
        for (int v = 0; v < V; v++) {
            e32 = check_max(e32, fabs(lg[1][v] - lg[0][v]) / mx);
            e16 = check_max(e16, fabs(lg[2][v] - lg[3][v]) / mx16);
            d16 = check_max(d16, fabs(lg[2][v] - lg[0][v]) / mx);
            for (int m = 4; m < 7; m++)
                sens = check_max(sens, fabs(lg[m][v] - lg[0][v]) / mx);
        }
        for (size_t j = 0; j < LH; j++) {
            e32 = check_max(e32, check_max(fabs(h[1][j] - h[0][j]), fabs(c[1][j] - c[0][j])));
            e16 = check_max(e16, check_max(fabs(h[2][j] - h[3][j]), fabs(c[2][j] - c[3][j])));
            for (int m = 4; m < 7; m++)
                sens = check_max(sens, check_max(fabs(h[m][j] - h[0][j]), fabs(c[m][j] - c[0][j])));
        }
    }
    /* Two float computations of the same steps, the products summed in other orders: 1e-5
     * (the LSTM's and GRU's differences stay near 1e-6), or 10 times how far the steps move
     * when the weights move by one unit (sens, the largest of three draws) where the point
     * amplifies rounding more: the lnlstm divides each gate block by its standard deviation,
     * and where that is small its differences reached 8e-5 (twice sens at most). */
    double bound = check_max(1e-5, 10 * sens);
    CHECK_BOUND("gen_step_f32", e32, bound, "%s lstm_gen_step %s L=%d H=%d", K->name, cell_name(cell), L, H);
    CHECK_BOUND("gen_step_f16", e16, bound, "%s lstm_gen_step f16 %s L=%d H=%d", K->name, cell_name(cell), L, H);
    /* (and the halves are used: the logits differ from float32's by their rounding, 2^-11) */
    CHECK(d16 > 1e-5, "%s lstm_gen_step f16 %s L=%d H=%d: the same logits as float32's", K->name,
          cell_name(cell), L, H);
    lstm_gen_free(g32);
    lstm_gen_free(g16);
    for (int m = 0; m < 7; m++) {
        free(h[m]); free(c[m]); free(lg[m]);
    }
    free(flatu);
    free(scratch);
    free(flat);
    free(flat16);
}

static void test_gen_step(void)
{
    for (int cell = CELL_LSTM; cell <= CELL_LNLSTM; cell++) {
        check_gen(cell, 1, 13, 11);
        check_gen(cell, 2, 40, 65);
        check_gen(cell, 1, 128, 65);
    }
}

/* lstm_gen_step_batch over n rows (each its own characters) equals lstm_gen_step run on each
 * row alone, bit for bit (logits and state), float32 and f16, each cell, 1 and 2 layers:
 * what makes sample --count's samples those of single runs. */
static void check_gen_batch(int cell, int L, int H, int V, int n, int half)
{
    lstm_dims d = { V, H, L, cell };
    float *flat = malloc(lstm_nparams(d) * sizeof(float));
    lstm_params p;
    lstm_bind(&p, flat, d);
    lstm_init_keras(&p, &rng);
    size_t LH = (size_t)L * H, nH = (size_t)n * H;
    float *hb = calloc((size_t)n * LH, sizeof(float)), *cb = calloc((size_t)n * LH, sizeof(float));
    float *lb = malloc((size_t)n * V * sizeof(float)), *h1 = calloc((size_t)n * LH, sizeof(float));
    float *c1 = calloc((size_t)n * LH, sizeof(float)), *l1 = malloc((size_t)V * sizeof(float));
    int *x = malloc((size_t)n * sizeof *x), same = 1;
    lstm_gen *gb = lstm_gen_new_batch(K, &p, half, n), *g1 = lstm_gen_new(K, &p, half);
    CHECK(gb && g1, "lstm_gen_new_batch failed");
    for (int t = 0; t < 12 && gb && g1; t++) {
        for (int i = 0; i < n; i++)
            x[i] = (int)rng_below(&rng, (uint64_t)V);
        lstm_gen_step_batch(gb, n, x, hb, cb, lb);
        for (int i = 0; i < n; i++) {          /* row i's state: (L, H) of h1 + i LH */
            float *hi = h1 + (size_t)i * LH, *ci = c1 + (size_t)i * LH;
            lstm_gen_step(g1, x[i], hi, ci, l1);
            same &= memcmp(l1, lb + (size_t)i * V, (size_t)V * sizeof(float)) == 0;
            for (int l = 0; l < L; l++)
                same &= memcmp(hi + (size_t)l * H, hb + l * nH + (size_t)i * H, H * sizeof(float)) == 0
                     && (cell == CELL_GRU
                         || memcmp(ci + (size_t)l * H, cb + l * nH + (size_t)i * H, H * sizeof(float)) == 0);
        }
    }
    CHECK(same, "%s lstm_gen_step_batch %s L=%d H=%d n=%d%s: a row differs from lstm_gen_step's",
          K->name, cell_name(cell), L, H, n, half ? " f16" : "");
    lstm_gen_free(gb);
    lstm_gen_free(g1);
    free(flat); free(hb); free(cb); free(lb); free(h1); free(c1); free(l1); free(x);
}

static void test_gen_batch(void)
{
    for (int cell = CELL_LSTM; cell <= CELL_LNLSTM; cell++)
        for (int half = 0; half < 2; half++) {
            check_gen_batch(cell, 1, 13, 11, 5, half);
            check_gen_batch(cell, 2, 40, 65, 7, half);
        }
}

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

static void check_cell(int b, int H, int with_prev)
{
    int G = 4 * H;
    float *z = randf((size_t)b * G, 6.0), *cp = with_prev ? randf((size_t)b * H, 3.0) : NULL;
    float *c = malloc((size_t)b * H * sizeof(float)), *h = malloc((size_t)b * H * sizeof(float));
    float *dh = randf((size_t)b * H, 1.0), *dc = randf((size_t)b * H, 1.0);
    float *z0 = malloc((size_t)b * G * sizeof(float)), *dc0 = malloc((size_t)b * H * sizeof(float));
    memcpy(z0, z, (size_t)b * G * sizeof(float));
    memcpy(dc0, dc, (size_t)b * H * sizeof(float));
    /* a few extreme pre-activations: saturation must not give inf or nan */
    z[0] = 120.0f; z[G - 1] = -120.0f; z[2 * H % G] = -95.0f; z0[0] = z[0]; z0[G - 1] = z[G - 1];
    z0[2 * H % G] = z[2 * H % G];

    K->lstm_cell_fwd(b, H, z, cp, c, h);
    double ea = 0, ec = 0, eh = 0;
    for (int r = 0; r < b; r++)
        for (int j = 0; j < H; j++) {
            const float *zr = z0 + (size_t)r * G;
            double i = sig(zr[j]), f = sig(zr[H + j]), g = tanh(zr[2 * H + j]), o = sig(zr[3 * H + j]);
            double cpv = cp ? cp[(size_t)r * H + j] : 0.0;
            double cn = f * cpv + i * g, hn = o * tanh(cn);
            const float *ar = z + (size_t)r * G;
            ea = check_max(ea, check_max(check_max(fabs(ar[j] - i), fabs(ar[H + j] - f)),
                               check_max(fabs(ar[2 * H + j] - g), fabs(ar[3 * H + j] - o))));
            ec = check_max(ec, fabs(c[(size_t)r * H + j] - cn) / check_max(1.0, fabs(cn)));
            eh = check_max(eh, fabs(h[(size_t)r * H + j] - hn));
        }
    /* activations in (0, 1) or (-1, 1): exp's error (below 1e-8) and the roundings of the
     * sum and division, a few u; c = f c' + i g and h = o tanh(c) a few u more, c relative
     * to max(1, |c|) */
    CHECK_BOUND("cell_fwd_act", ea, 1e-6, "%s cell_fwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("cell_fwd_c", ec, 1e-6, "%s cell_fwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("cell_fwd_h", eh, 1e-6, "%s cell_fwd b=%d H=%d", K->name, b, H);

    /* backward from the (float) activations the forward pass produced */
    double *ref_dz = malloc((size_t)b * G * sizeof(double)), *ref_dc = malloc((size_t)b * H * sizeof(double));
    double mz = 1e-30, mc = 1e-30;
    for (int r = 0; r < b; r++)
        for (int j = 0; j < H; j++) {
            const float *ar = z + (size_t)r * G;
            size_t q = (size_t)r * H + j;
            double i = ar[j], f = ar[H + j], g = ar[2 * H + j], o = ar[3 * H + j];
            double tc = tanh((double)c[q]), cpv = cp ? cp[q] : 0.0;
            double dct = dc0[q] + dh[q] * o * (1 - tc * tc);
            double *d = ref_dz + (size_t)r * G;
            d[j] = dct * g * i * (1 - i);
            d[H + j] = dct * cpv * f * (1 - f);
            d[2 * H + j] = dct * i * (1 - g * g);
            d[3 * H + j] = dh[q] * tc * o * (1 - o);
            ref_dc[q] = dct * f;
            for (int s = 0; s < 4; s++) mz = check_max(mz, fabs(d[s * H + j]));
            mc = check_max(mc, fabs(ref_dc[q]));
        }
    K->lstm_cell_bwd(b, H, z, cp, c, dh, dc);
    double edz = 0, edc = 0;
    for (size_t q = 0; q < (size_t)b * G; q++)
        edz = check_max(edz, fabs(z[q] - ref_dz[q]) / mz);
    for (size_t q = 0; q < (size_t)b * H; q++)
        edc = check_max(edc, fabs(dc[q] - ref_dc[q]) / mc);
    int finite = 1;
    for (size_t q = 0; q < (size_t)b * G; q++)
        finite &= isfinite(z[q]);
    CHECK(finite, "%s cell_bwd b=%d H=%d: not finite", K->name, b, H);
    /* each dz a product of four or five float factors (a few u of itself), relative to the
     * largest of only 4 b H of them, which with H 1 can be ten times smaller than the rest */
    CHECK_BOUND("cell_bwd_dz", edz, 1e-5, "%s cell_bwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("cell_bwd_dc", edc, 1e-5, "%s cell_bwd b=%d H=%d", K->name, b, H);
    free(z); free(cp); free(c); free(h); free(dh); free(dc); free(z0); free(dc0);
    free(ref_dz); free(ref_dc);
}

static void test_cell(void)
{
    static const int Hs[] = { 1, 3, 7, 8, 17, 33, 49, 65, 97, 128 };
    for (int i = 0; i < (int)(sizeof Hs / sizeof *Hs); i++) {
        check_cell(1, Hs[i], 1);
        check_cell(5, Hs[i], 1);
        check_cell(3, Hs[i], 0);
    }
}

/* The GRU cell (Keras reset_after): z = s(a_z + u_z), r = s(a_r + u_r), n = tanh(a_h + r u_h),
 * h = z h_prev + (1 - z) n; backward by the chain rule, in double from the float activations. */
static void check_gru_cell(int b, int H, int with_prev, int in_place)
{
    int G = 3 * H;
    size_t bG = (size_t)b * G, bH = (size_t)b * H;
    float *a = randf(bG, 6.0), *u = randf(bG, 6.0), *hp = with_prev ? randf(bH, 1.0) : NULL;
    float *h = malloc(bH * sizeof(float)), *dh = randf(bH, 1.0);
    float *a0 = malloc(bG * sizeof(float)), *u0 = malloc(bG * sizeof(float)), *dh0 = malloc(bH * sizeof(float));
    float *hp0 = hp ? malloc(bH * sizeof(float)) : NULL;
    a[0] = 120.0f; a[G - 1] = -120.0f; u[H] = -95.0f;          /* saturation: no inf, no nan */
    memcpy(a0, a, bG * sizeof(float));
    memcpy(u0, u, bG * sizeof(float));
    memcpy(dh0, dh, bH * sizeof(float));
    if (hp)
        memcpy(hp0, hp, bH * sizeof(float));
    float *hout = in_place && hp ? hp : h;                     /* h may be h_prev (generation) */
    K->gru_cell_fwd(b, H, a, u, hp, hout);
    double ea = 0, eh = 0;
    for (int r = 0; r < b; r++)
        for (int j = 0; j < H; j++) {
            const float *ar = a0 + (size_t)r * G, *ur = u0 + (size_t)r * G;
            double z = sig((double)ar[j] + ur[j]), rr = sig((double)ar[H + j] + ur[H + j]);
            double n = tanh(ar[2 * H + j] + rr * ur[2 * H + j]);
            double hpv = hp0 ? hp0[(size_t)r * H + j] : 0.0, hn = z * hpv + (1 - z) * n;
            const float *act = a + (size_t)r * G;
            ea = check_max(ea, check_max(fabs(act[j] - z), check_max(fabs(act[H + j] - rr), fabs(act[2 * H + j] - n))));
            eh = check_max(eh, fabs(hout[(size_t)r * H + j] - hn));
        }
    /* the float sum a_h + r u_h (|a_h|, |u_h| <= 6) rounds by up to 12 u = 7e-7, through
     * tanh' <= 1, plus the activation's own rounding: below 8e-7 */
    CHECK_BOUND("gru_fwd_act", ea, 1e-6, "%s gru_cell_fwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("gru_fwd_h", eh, 1e-6, "%s gru_cell_fwd b=%d H=%d", K->name, b, H);

    double *rda = malloc(bG * sizeof(double)), *rdu = malloc(bG * sizeof(double)), *rdh = malloc(bH * sizeof(double));
    double ma = 1e-30, mh = 1e-30;
    for (int r = 0; r < b; r++)
        for (int j = 0; j < H; j++) {
            const float *act = a + (size_t)r * G;
            size_t q = (size_t)r * H + j;
            double z = act[j], rr = act[H + j], n = act[2 * H + j], uh = u0[(size_t)r * G + 2 * H + j];
            double hpv = hp0 ? hp0[q] : 0.0, g = dh0[q];
            double dn = g * (1 - z) * (1 - n * n);
            double *da = rda + (size_t)r * G, *du = rdu + (size_t)r * G;
            da[j] = du[j] = g * (hpv - n) * z * (1 - z);
            da[H + j] = du[H + j] = dn * uh * rr * (1 - rr);
            da[2 * H + j] = dn;
            du[2 * H + j] = dn * rr;
            rdh[q] = g * z;
            for (int s = 0; s < 3; s++) ma = check_max(ma, check_max(fabs(da[s * H + j]), fabs(du[s * H + j])));
            mh = check_max(mh, fabs(rdh[q]));
        }
    /* The errors are taken relative to the largest gradient, but not to one far below the
     * incoming gradient dh: the factors 1 - n^2 and 1 - r come from float activations, and
     * unfused (the -O1 sanitizer build) 1 - n * n errs by up to 1.2e-7 absolute, so every
     * gradient carries absolute errors of about |dh| 1e-7 however small it is. (With H 3, one
     * row and saturated gates all of them were below 1.6e-4 and 4e-9 of rounding read as
     * 2.8e-5.) */
    for (size_t q = 0; q < bH; q++)
        ma = check_max(ma, 1e-2 * fabs(dh0[q]));
    K->gru_cell_bwd(b, H, a, u, hp0, dh);
    double eda = 0, edu = 0, edh = 0;
    int finite = 1;
    for (size_t q = 0; q < bG; q++) {
        eda = check_max(eda, fabs(a[q] - rda[q]) / ma);
        edu = check_max(edu, fabs(u[q] - rdu[q]) / ma);
        finite &= isfinite(a[q]) && isfinite(u[q]);
    }
    for (size_t q = 0; q < bH; q++)
        edh = check_max(edh, fabs(dh[q] - rdh[q]) / mh);
    CHECK(finite, "%s gru_cell_bwd b=%d H=%d: not finite", K->name, b, H);
    /* products of a few float factors, relative to the largest (above) */
    CHECK_BOUND("gru_bwd_da", eda, 1e-5, "%s gru_cell_bwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("gru_bwd_du", edu, 1e-5, "%s gru_cell_bwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("gru_bwd_dh", edh, 1e-5, "%s gru_cell_bwd b=%d H=%d", K->name, b, H);
    free(a); free(u); free(hp); free(h); free(dh); free(a0); free(u0); free(dh0); free(hp0);
    free(rda); free(rdu); free(rdh);
}

static void test_gru_cell(void)
{
    static const int Hs[] = { 1, 3, 7, 8, 17, 33, 49, 65, 97, 128 };
    for (int i = 0; i < (int)(sizeof Hs / sizeof *Hs); i++) {
        check_gru_cell(1, Hs[i], 1, 1);
        check_gru_cell(5, Hs[i], 1, 0);
        check_gru_cell(3, Hs[i], 0, 0);
    }
}

/* The lnlstm's layer norm: each gate block of H normalised to mean 0, variance 1 (eps 1e-5),
 * then gamma * shat + bias; backward by the textbook formula
 * ds = rstd (dz gamma - mean(dz gamma) - shat mean(dz gamma shat)), in double. */
static void check_ln(int b, int H)
{
    int G = 4 * H;
    size_t n = (size_t)b * G;
    float *s = randf(n, 3.0), *gamma = randf(G, 1.0), *bias = randf(G, 1.0), *dz = randf(n, 1.0);
    float *s0 = malloc(n * sizeof(float)), *dz0 = malloc(n * sizeof(float)), *shat = malloc(n * sizeof(float));
    float *rstd = malloc((size_t)b * 4 * sizeof(float)), *dg = calloc(G, sizeof(float)), *db = calloc(G, sizeof(float));
    for (size_t i = 0; i < n; i++)
        s[i] += (float)(i % 7);                 /* a mean far from 0 */
    memcpy(s0, s, n * sizeof(float));
    memcpy(dz0, dz, n * sizeof(float));
    K->ln_fwd(b, H, s, gamma, bias, shat, rstd);
    double *xh = malloc(n * sizeof(double)), *rs = malloc((size_t)b * 4 * sizeof(double));
    double *rds = malloc(n * sizeof(double)), *rdg = calloc(G, sizeof(double)), *rdb = calloc(G, sizeof(double));
    double eo = 0, eh = 0, mo = 1e-30, mds = 1e-30;
    for (int r = 0; r < b * 4; r++) {
        const float *x = s0 + (size_t)r * H;
        double mean = 0, var = 0;
        for (int j = 0; j < H; j++) mean += x[j];
        mean /= H;
        for (int j = 0; j < H; j++) var += (x[j] - mean) * (x[j] - mean);
        rs[r] = 1.0 / sqrt(var / H + 1e-5);
        double m1 = 0, m2 = 0;
        for (int j = 0; j < H; j++) {
            size_t q = (size_t)r * H + j;
            int gj = (r % 4) * H + j;
            xh[q] = (x[j] - mean) * rs[r];
            double out = gamma[gj] * xh[q] + bias[gj];
            eo = check_max(eo, fabs(s[q] - out));
            mo = check_max(mo, fabs(out));
            eh = check_max(eh, fabs(shat[q] - xh[q]));
            rdg[gj] += dz0[q] * xh[q];
            rdb[gj] += dz0[q];
            m1 += dz0[q] * gamma[gj] / H;
            m2 += dz0[q] * gamma[gj] * xh[q] / H;
        }
        for (int j = 0; j < H; j++) {
            size_t q = (size_t)r * H + j;
            rds[q] = rs[r] * (dz0[q] * gamma[(r % 4) * H + j] - m1 - xh[q] * m2);
            mds = check_max(mds, fabs(rds[q]));
        }
    }
    double ers = 0;
    for (int r = 0; r < b * 4; r++)
        ers = check_max(ers, fabs(rstd[r] - rs[r]) / rs[r]);
    /* the mean and variance are float sums of H terms (a mean up to 6 beside a spread of 3:
     * a few u of 6 in s - mean), the normalised values up to sqrt(H) = 11 */
    CHECK_BOUND("ln_fwd_out", eo / mo, 1e-5, "%s ln_fwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("ln_fwd_shat", eh, 1e-4, "%s ln_fwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("ln_fwd_rstd", ers, 1e-5, "%s ln_fwd b=%d H=%d", K->name, b, H);
    K->ln_bwd(b, H, dz, gamma, shat, rstd, dg, db);
    double eds = 0, edg = 0, edb = 0, mg = 1e-30, mb = 1e-30;
    for (size_t q = 0; q < n; q++)
        eds = check_max(eds, fabs(dz[q] - rds[q]) / mds);
    for (int j = 0; j < G; j++) {
        mg = check_max(mg, fabs(rdg[j]));
        mb = check_max(mb, fabs(rdb[j]));
    }
    for (int j = 0; j < G; j++) {
        edg = check_max(edg, fabs(dg[j] - rdg[j]) / mg);
        edb = check_max(edb, fabs(db[j] - rdb[j]) / mb);
    }
    /* ds = rstd (dz gamma - mean - shat mean(dz gamma shat)): terms of the size of dz gamma
     * that cancel, relative to the largest ds, which for H = 3 can be far smaller */
    CHECK_BOUND("ln_bwd_ds", eds, 1e-4, "%s ln_bwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("ln_bwd_dgamma", edg, 1e-5, "%s ln_bwd b=%d H=%d", K->name, b, H);
    CHECK_BOUND("ln_bwd_dbias", edb, 1e-5, "%s ln_bwd b=%d H=%d", K->name, b, H);
    free(s); free(gamma); free(bias); free(dz); free(s0); free(dz0); free(shat); free(rstd); free(dg); free(db);
    free(xh); free(rs); free(rds); free(rdg); free(rdb);
}

static void test_layer_norm(void)
{
    /* (not H = 2: two normalised values are always -1 and 1, so the gradient through them
     * is zero up to eps and a relative error means nothing) */
    static const int Hs[] = { 3, 4, 7, 8, 17, 33, 65, 128 };
    for (int i = 0; i < (int)(sizeof Hs / sizeof *Hs); i++) {
        check_ln(1, Hs[i]);
        check_ln(5, Hs[i]);
    }
}

/* exp accuracy over the whole range through the cell: sigmoid(z) for z in [-20, 20]. */
static void test_sigmoid_accuracy(void)
{
    int n = 4001, H = n;
    float *z = calloc((size_t)4 * H, sizeof(float)), *c = malloc(H * sizeof(float));
    float *h = malloc(H * sizeof(float));
    for (int j = 0; j < n; j++)
        z[j] = z[2 * H + j] = -20.0f + 40.0f * j / (n - 1);
    float *zin = malloc(H * sizeof(float));
    memcpy(zin, z, H * sizeof(float));
    K->lstm_cell_fwd(1, H, z, NULL, c, h);
    double ei = 0, eg = 0;
    for (int j = 0; j < n; j++) {
        double v = zin[j], s = sig(v), t = tanh(v);
        ei = check_max(ei, fabs(z[j] - s) / s);
        eg = check_max(eg, fabs(z[2 * H + j] - t));
    }
    /* exp's error (below 1e-8) and a division, relative; the argument itself is exact */
    CHECK_BOUND("sigmoid_rel", ei, 1e-6, "%s sigmoid over [-20, 20]", K->name);
    CHECK_BOUND("tanh_abs", eg, 1e-6, "%s tanh over [-20, 20]", K->name);
    free(z); free(zin); free(c); free(h);
}

static void test_dispatch(void)
{
    const kern_ops *k = kern_select();
    CHECK(k != NULL && kern_get(k->name) == k, "kern_select gave an unusable set");
    CHECK(kern_get("scalar") != NULL, "scalar set not available");
    CHECK(kern_get("no-such-set") == NULL, "unknown name accepted");

    /* kern_limit: the sets left out are out of kern_select, kern_choose and kern_get, with
     * their reason; scalar always stays; an unknown name changes nothing */
    const kern_ops *best = kern_select();
    char err[256] = "";
    CHECK(kern_limit("scalar", err, sizeof err) == 0, "kern_limit(scalar): %s", err);
    CHECK(kern_select() == kern_get("scalar"), "limited to scalar, kern_select gave %s", kern_select()->name);
    for (int i = 0; kern_all[i]; i++) {
        const char *why = kern_unusable(kern_all[i]);
        if (kern_all[i] == kern_get("scalar"))
            CHECK(why == NULL, "scalar left out: %s", why);
        else
            CHECK(why != NULL && kern_get(kern_all[i]->name) == NULL, "%s not left out", kern_all[i]->name);
    }
    if (best != kern_get("scalar")) {
        CHECK(strstr(kern_unusable(best), "limit") != NULL, "%s: %s", best->name, kern_unusable(best));
        CHECK(kern_choose(best->name, err, sizeof err) == NULL && strstr(err, "not among the allowed kernel sets (allowed: scalar)"),
              "kern_choose(%s) under the limit: %s", best->name, err);
    }
    /* a list with empty items naming the first set built (avx512bf16 on x86-64, simd128 in
     * WebAssembly, scalar elsewhere): the others but scalar are left out */
    char list[64];
    snprintf(list, sizeof list, ",%s,,", kern_all[0]->name);
    CHECK(kern_limit(list, err, sizeof err) == 0, "kern_limit(%s): %s", list, err);
    for (int i = 1; kern_all[i]; i++)
        CHECK(kern_all[i] == kern_get("scalar") ? kern_get("scalar") != NULL : kern_unusable(kern_all[i]) != NULL,
              "limited to %s: %s %s", list, kern_all[i]->name, kern_all[i] == kern_get("scalar") ? "left out" : "allowed");
    CHECK(kern_limit("scalar,nosuch", err, sizeof err) == -1 && strstr(err, "nosuch: unknown kernel set (built:"),
          "kern_limit(nosuch): %s", err);
    for (int i = 1; kern_all[i]; i++)   /* a refused list leaves the limit as it was */
        CHECK(kern_all[i] == kern_get("scalar") || kern_unusable(kern_all[i]) != NULL,
              "kern_limit(nosuch) lifted the limit on %s", kern_all[i]->name);
    CHECK(kern_limit(NULL, err, sizeof err) == 0, "kern_limit(NULL): %s", err);
    for (int i = 0; kern_all[i]; i++)
        CHECK(!kern_unusable(kern_all[i]) || !strstr(kern_unusable(kern_all[i]), "limit"),
              "the limit lifted, %s still left out", kern_all[i]->name);
    CHECK(kern_limit(check_.kernels, err, sizeof err) == 0 && kern_select() == best,
          "CHARPIPE_KERNELS's limit back: %s", err);
}

int main(void)
{
    RUN(test_dispatch);
    RUN(test_f16_convert);
    for (int i = 0; kern_all[i]; i++) {
        if (!(K = check_set("kern", kern_all[i])))
            continue;
        printf("# kernel set %s\n", K->name);
        check_context("set=%s", K->name);
        RUN(test_gemm);
        RUN(test_gemm_model_shapes);
        RUN(test_gemv);
        RUN(test_gemv_rows);
        RUN(test_gen_step);
        RUN(test_gen_batch);
        RUN(test_cell);
        RUN(test_gru_cell);
        RUN(test_layer_norm);
        RUN(test_sigmoid_accuracy);
        RUN(test_softmax);
    }
    return check_summary();
}
