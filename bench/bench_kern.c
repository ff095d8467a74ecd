/* bench_kern.c - speed of every kernel set this CPU runs, single thread:
 *   peak     measured FMA throughput for the set's vector width (a loop of 12 independent
 *            multiply-add chains; the scalar set is measured with 4-wide SSE mul + add, what
 *            the compiler can do with it on the x86-64 baseline), on one core and on all
 *            cores at once (the same loop in each thread of the library's pool: what training
 *            threads can have together, less than n times one core's when the cores share a
 *            clock budget or a host)
 *   gemms    the model's hot products at b = 32: forward h . R (32 x 4H x H), backward
 *            dz . R^T (32 x H x 4H), and the per-batch gradient h^T dz (H x 4H x 39*32)
 *   train    lstm_train_batch windows/s at V = 65, T = 40 (H = 128, b = 32 and 64; H = 512)
 *   bf16     the same products as the set's bf16 products (kern.h), against the same FMA peak
 *            (vdpbf16ps does twice an FMA's flops: 200% is its peak); on a set with the
 *            instruction, its own peak (a loop of 12 independent vdpbf16ps chains)
 * Output: a table on stdout. Each figure is the best of several short rounds (the machine
 * may be shared), so it is what the code can do, not an average under load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "kern.h"
#include "lstm.h"
#include "par.h"
#include "util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#define PEAK_BODY(VWID)                                                                      \
    typedef float v __attribute__((vector_size(4 * VWID)));                                  \
    v acc[12], m = (v){0} + 0.9999999f, a = (v){0} + 1e-7f;                                   \
    for (int i = 0; i < 12; i++) acc[i] = (v){0} + (float)i;                                  \
    for (long it = 0; it < iters; it++) {                                                    \
        _Pragma("GCC unroll 12")                                                             \
        for (int i = 0; i < 12; i++) acc[i] = acc[i] * m + a;                                \
        __asm__ volatile("" : "+x"(m));               /* keep the loop from being folded */  \
    }                                                                                        \
    float s = 0;                                                                             \
    for (int i = 0; i < 12; i++) s += acc[i][0];                                             \
    return s;

static float peak_sse(long iters) { PEAK_BODY(4) }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float peak_avx2(long iters) { PEAK_BODY(8) }
__attribute__((target("avx512f,fma"))) static float peak_avx512(long iters) { PEAK_BODY(16) }
#endif

#if defined(__x86_64__)
/* 12 chains of vdpbf16ps: 16 lanes x 2 products, 64 flops each */
__attribute__((target("avx512f,avx512bf16"))) static float peak_bf16(long iters)
{
    __m512 acc[12];
    __m512i a = _mm512_set1_epi32(0x3f803f80), b = _mm512_set1_epi32(0x33803380);  /* 1, 2^-24 */
    for (int i = 0; i < 12; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)a, (__m512bh)b);
        __asm__ volatile("" : "+v"(a));               /* keep the loop from being folded */
    }
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += _mm512_cvtss_f32(acc[i]);
    return s;
}

/* GFLOP/s of that loop: the best of 5 rounds of about 0.1 s */
static double measure_peak_bf16(void)
{
    long iters = 1000000;
    volatile float sink = peak_bf16(iters);
    double t, best = 0;
    for (;;) {
        double t0 = now();
        sink += peak_bf16(iters);
        t = now() - t0;
        if (t > 0.1) break;
        iters *= 2;
    }
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        sink += peak_bf16(iters);
        t = now() - t0;
        double gf = 12.0 * 64 * iters / t * 1e-9;
        best = gf > best ? gf : best;
    }
    (void)sink;
    return best;
}
#endif

typedef struct { float (*fn)(long); long iters; float sink; } peak_job;

static void peak_part(void *ctx, int part, int nparts)
{
    peak_job *j = ctx;
    float s = j->fn(j->iters);
    if (part == 0)
        j->sink = s;
    (void)nparts;
}

static float (*peak_fn(const kern_ops *k, int *width))(long)
{
    float (*fn)(long) = peak_sse;
    *width = 4;
#if defined(__x86_64__)
    if (strcmp(k->name, "avx2") == 0) { fn = peak_avx2; *width = 8; }
    if (strncmp(k->name, "avx512", 6) == 0) { fn = peak_avx512; *width = 16; }   /* (avx512bf16 too) */
#endif
    return fn;
}

/* GFLOP/s of the multiply-add loop run on every thread of pool p at once (the best of 3
 * rounds of about 0.3 s), or 0 if there is no pool. */
static double measure_peak_all(const kern_ops *k, par_pool *p)
{
    if (!p)
        return 0;
    int width;
    peak_job j = { peak_fn(k, &width), 1000000, 0 };
    double best = 0;
    for (int round = 0; round < 4; round++) {
        double t0 = now();
        par_run(p, peak_part, &j);
        double t = now() - t0;
        if (round == 0) {                      /* the first: warm-up and sizing */
            j.iters = (long)(j.iters * 0.3 / (t > 1e-3 ? t : 1e-3));
            continue;
        }
        double gf = 12.0 * width * 2 * j.iters * par_size(p) / t * 1e-9;
        best = gf > best ? gf : best;
    }
    return best;
}

/* GFLOP/s of the multiply-add loop for set k (2 flops per lane per FMA): the best of 5
 * rounds of about 0.1 s. The peak is what the core can do; a round slowed by a neighbour on
 * the host would make every share printed against it too large (one round alone once gave
 * 75 GFLOP/s where 101 is the rule here, and products at "115%"). */
static double measure_peak(const kern_ops *k)
{
    int width;
    float (*fn)(long) = peak_fn(k, &width);
    long iters = 1000000;
    volatile float sink = fn(iters);
    double t, best = 0;
    for (;;) {                                 /* size a round */
        double t0 = now();
        sink += fn(iters);
        t = now() - t0;
        if (t > 0.1) break;
        iters *= 2;
    }
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        sink += fn(iters);
        t = now() - t0;
        double gf = 12.0 * width * 2 * iters / t * 1e-9;
        best = gf > best ? gf : best;
    }
    (void)sink;
    return best;
}

/* n zeroed floats at a 64-byte boundary (lib_zalloc), as the library's work areas, gradients
 * and parameters are: malloc's large blocks start 16 bytes past a page, and there the
 * 5000-row products ran 10-20% slower (rows and C tiles across cache lines). */
static float *zalloc_floats(size_t n)
{
    float *p = lib_zalloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_kern: out of memory for %zu floats\n", n);
        exit(1);
    }
    return p;
}

typedef void gemm_fn(int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                     float *C, int ldc);

static const kern_ops *packed_k;   /* when set, measure_gemm packs B and uses gemm_nn_packed */

static void packed_call(int m, int n, int k, const float *A, int lda, const float *Bp, int ldb,
                        float *C, int ldc)
{
    (void)ldb;
    packed_k->gemm_nn_packed(m, n, k, A, lda, Bp, C, ldc);
}

/* GFLOP/s of C (m, n) += op(A) . B repeated for about 0.4 s. */
static double measure_gemm(gemm_fn *f, int m, int n, int k, int ta)
{
    float *A = zalloc_floats((size_t)m * k), *B = zalloc_floats((size_t)k * n), *C = zalloc_floats((size_t)m * n);
    for (size_t i = 0; i < (size_t)m * k; i++) A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)k * n; i++) B[i] = (float)(i % 5) * 0.01f;
    if (f == packed_call) {           /* as lstm_train_batch does: B packed once, used often */
        float *Bp = zalloc_floats((size_t)k * n);
        packed_k->pack_b(k, n, B, n, Bp);
        free(B);
        B = Bp;
    }
    double best = 0.0;
    int rounds = 2.0 * m * n * k > 1e9 ? 3 : 8;     /* big products: fewer rounds */
    for (int round = 0; round < rounds; round++) {  /* best of 8 (3) rounds of >= 50 ms */
        long reps = 0;
        double t0 = now(), t;
        do {
            f(m, n, k, A, ta ? m : k, B, n, C, n);
            reps++;
            t = now() - t0;
        } while (t < 0.05);
        double gf = 2.0 * m * n * k * reps / t * 1e-9;
        best = gf > best ? gf : best;
    }
    free(A); free(B); free(C);
    return best;
}

/* GFLOP/s of k's bf16 product C (m, n) += op(A) . B (gemm_nn_bf16 with B packed once, as the
 * training packs its weights; tn: gemm_tn_bf16), repeated as measure_gemm repeats. */
static double measure_gemm_bf16(const kern_ops *k, int m, int n, int kk, int tn)
{
    float *A = zalloc_floats((size_t)m * kk), *B = zalloc_floats((size_t)kk * n), *C = zalloc_floats((size_t)m * n);
    for (size_t i = 0; i < (size_t)m * kk; i++) A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)kk * n; i++) B[i] = (float)(i % 5) * 0.01f;
    uint32_t *Bp = lib_zalloc(kern_bf16_pack_size(kk, n) * sizeof(uint32_t));
    void *w = lib_zalloc(kern_bf16_work_size(m, n, kk));
    if (!Bp || !w) {
        fprintf(stderr, "bench_kern: out of memory for a bf16 product\n");
        exit(1);
    }
    if (!tn)
        k->pack_b_bf16(kk, n, B, n, Bp);
    double best = 0.0;
    int rounds = 2.0 * m * n * kk > 1e9 ? 3 : 8;
    for (int round = 0; round < rounds; round++) {
        long reps = 0;
        double t0 = now(), t;
        do {
            if (tn)
                k->gemm_tn_bf16(m, n, kk, A, m, B, n, C, n, w);
            else
                k->gemm_nn_bf16(m, n, kk, A, kk, Bp, C, n, w);
            reps++;
            t = now() - t0;
        } while (t < 0.05);
        double gf = 2.0 * m * n * kk * reps / t * 1e-9;
        best = gf > best ? gf : best;
    }
    free(A); free(B); free(C); free(Bp); free(w);
    return best;
}

/* lstm_train_batch windows/s. */
static double measure_train(const kern_ops *k, int V, int H, int T, int b)
{
    size_t n = lstm_nparams((lstm_dims){ V, H, 1, CELL_LSTM });
    float *pf = zalloc_floats(n), *gf = zalloc_floats(n);
    lstm_params p, g;
    lstm_bind(&p, pf, (lstm_dims){ V, H, 1, CELL_LSTM });
    lstm_bind(&g, gf, (lstm_dims){ V, H, 1, CELL_LSTM });
    rng_t rng;
    rng_seed(&rng, 1);
    lstm_init_keras(&p, &rng);
    int32_t *x = malloc((size_t)b * T * sizeof(int32_t)), *y = malloc(b * sizeof(int32_t));
    for (int i = 0; i < b * T; i++) x[i] = (int32_t)rng_below(&rng, V);
    for (int i = 0; i < b; i++) y[i] = (int32_t)rng_below(&rng, V);
    lstm_work *w = lstm_work_new((lstm_dims){ V, H, 1, CELL_LSTM }, T, b);
    lstm_train_batch(k, &p, &g, w, b, T, x, y, 1.0f / b);       /* warm up */
    double best = 0.0, start = now();
    for (int round = 0; round < 6 && (round < 1 || now() - start < 1.0); round++) {
        /* best of up to 6 rounds of >= 100 ms, at most about 1 s in all */
        long reps = 0;
        double t0 = now(), t;
        do {
            lstm_train_batch(k, &p, &g, w, b, T, x, y, 1.0f / b);
            reps++;
            t = now() - t0;
        } while (t < 0.1);
        double wps = (double)b * reps / t;
        best = wps > best ? wps : best;
    }
    lstm_work_free(w);
    free(pf); free(gf); free(x); free(y);
    return best;
}

/* The set's bf16 products: the b = 32 products (what) and the char-rnn 2 x 512 ones (big), as
 * the float table has them, against the FMA peak; the instruction's own peak where it runs. */
static void bench_bf16(const kern_ops *k, double peak, const char *const what[3],
                       const char *const big[5])
{
    printf("  bf16 products (%s)%*s %8s %8s\n", k->bf16_native ? "vdpbf16ps" : "emulated",
           k->bf16_native ? 18 : 19, "", "H=128", "H=512");
#if defined(__x86_64__)
    if (k->bf16_native) {
        double bp = measure_peak_bf16();
        printf("  %-44s %6.1f (%3.0f%%)\n", "peak: 12 chains of vdpbf16ps", bp, 100 * bp / peak);
    }
#endif
    for (int g = 0; g < 3; g++) {
        printf("  %-44s", what[g]);
        for (int H = 128; H <= 512; H *= 4) {
            double gf = g == 0 ? measure_gemm_bf16(k, 32, 4 * H, H, 0)
                      : g == 1 ? measure_gemm_bf16(k, 32, H, 4 * H, 0)
                               : measure_gemm_bf16(k, H, 4 * H, 39 * 32, 1);
            printf(" %6.1f (%3.0f%%)", gf, 100 * gf / peak);
        }
        printf("\n");
    }
    printf("  %-44s %8s\n", "char-rnn 2x512 products in bf16", "GFLOP/s");
    for (int g = 0; g < 5; g++) {
        int H = 512;
        double gf = g == 0 ? measure_gemm_bf16(k, 5000, 4 * H, H, 0)
                  : g == 1 ? measure_gemm_bf16(k, 5000, H, 4 * H, 0)
                  : g == 2 ? measure_gemm_bf16(k, H, 4 * H, 5000, 1)
                  : g == 3 ? measure_gemm_bf16(k, 50, 4 * H, H, 0)
                           : measure_gemm_bf16(k, 50, H, 4 * H, 0);
        printf("  %-44s %6.1f (%3.0f%%)\n", big[g], gf, 100 * gf / peak);
    }
}

int main(void)
{
    printf("charpipe kernel benchmark, one thread; GFLOP/s (%% of the measured peak)\n\n");
    par_pool *pool = par_ncpu() > 1 ? par_new(par_ncpu()) : NULL;
    for (int i = 0; kern_all[i]; i++) {
        const kern_ops *k = kern_get(kern_all[i]->name);
        if (!k) {
            printf("%-7s SKIP: this CPU cannot run this kernel set\n\n", kern_all[i]->name);
            continue;
        }
        double peak = measure_peak(k), all = measure_peak_all(k, pool);
        if (all > 0 && all / par_size(pool) > peak)   /* one core does at least its share of all */
            peak = all / par_size(pool);
        printf("%-7s peak %.1f GFLOP/s (%s)", k->name, peak,
               strcmp(k->name, "scalar") == 0 ? "SSE mul+add, 4 lanes" : "FMA");
        if (all > 0)
            printf("; %d cores at once: %.1f GFLOP/s (%.2fx one)", par_size(pool), all,
                   all / peak);
        printf("\n");
        printf("  %-44s %8s %8s\n", "gemm (b = 32)", "H=128", "H=512");
        packed_k = k;
        static const char *what[3] = { "forward  h . R     (32, 4H, H)  [packed R]",
                                       "backward dz . R^T  (32, H, 4H)  [packed]",
                                       "grad R   h^T dz    (H, 4H, 39*32)"          };
        for (int g = 0; g < 3; g++) {
            printf("  %-44s", what[g]);
            for (int H = 128; H <= 512; H *= 4) {
                double gf = g == 0 ? measure_gemm(packed_call, 32, 4 * H, H, 0)
                          : g == 1 ? measure_gemm(packed_call, 32, H, 4 * H, 0)
                                   : measure_gemm(k->gemm_tn, H, 4 * H, 39 * 32, 1);
                printf(" %6.1f (%3.0f%%)", gf, 100 * gf / peak);
            }
            printf("\n");
        }
        /* char-rnn 2 x 512 (train --streams -n 100 -b 50 -H 512 -L 2): T b = 5000 rows */
        printf("  %-44s %8s\n", "char-rnn 2x512 products (T b = 100 * 50)", "GFLOP/s");
        static const char *big[5] = { "input fwd  X . K     (5000, 4H, H)",
                                       "input bwd  dz . K^T  (5000, H, 4H)",
                                       "grad K, R  X^T dz    (H, 4H, 5000)",
                                       "recur fwd  h . R     (50, 4H, H)  [packed]",
                                       "recur bwd  dz . R^T  (50, H, 4H)  [packed]" };
        for (int g = 0; g < 5; g++) {
            int H = 512;
            double gf = g == 0 ? measure_gemm(k->gemm_nn, 5000, 4 * H, H, 0)
                      : g == 1 ? measure_gemm(k->gemm_nn, 5000, H, 4 * H, 0)
                      : g == 2 ? measure_gemm(k->gemm_tn, H, 4 * H, 5000, 1)
                      : g == 3 ? measure_gemm(packed_call, 50, 4 * H, H, 0)
                               : measure_gemm(packed_call, 50, H, 4 * H, 0);
            printf("  %-44s %6.1f (%3.0f%%)\n", big[g], gf, 100 * gf / peak);
        }
        if (strcmp(k->name, "scalar") != 0)    /* (the scalar set's are the oracle: slow by design) */
            bench_bf16(k, peak, what, big);
        static const int cfg[3][2] = { { 128, 32 }, { 128, 64 }, { 512, 32 } };
        printf("  lstm_train_batch V=65 T=40 (GFLOP/s counts the 3 recurrent products, "
               "6*T*H*4H per window):\n   ");
        for (int c = 0; c < 3; c++) {
            int H = cfg[c][0], b = cfg[c][1];
            double wps = measure_train(k, 65, H, 40, b);
            double flop = 3.0 * 40 * 2 * H * 4 * H;            /* per window, recurrent part */
            printf("  H=%d b=%d: %.0f win/s (%.1f GFLOP/s, %.0f%%)", H, b, wps, wps * flop * 1e-9,
                   100 * wps * flop * 1e-9 / peak);
            printf(c < 2 ? ";" : "\n");
        }
        printf("\n");
    }
    if (pool)
        par_free(pool);
    return 0;
}
