/* kern_impl.h - the vector kernels, written once with GCC vector extensions and included by
 * each instruction-set file (kern_avx2.c, kern_avx512.c) with its own flags and sizes:
 *
 *     #define VW 8        floats per vector register
 *     #define MR 6        rows of a register tile (micro-kernel)
 *     #define NV 2        vectors across a register tile (NR = NV * VW columns)
 *     #define KC 256      depth of a k-block (a B panel of KC x NR floats stays in L1)
 *     #include "kern_impl.h"
 *
 * It defines static functions (gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, the one-row
 * products gemv_packed and gemv_packed_f16 and their several-row forms gemv_packed_rows(_f16),
 * the LSTM and GRU cells, the lnlstm's layer norm,
 * the generation's softmax, and from kern_impl_bf16.h the bf16 products pack_b_bf16,
 * gemm_nn_bf16 and gemm_tn_bf16)
 * that the including file puts into its kern_ops table. The same source is thereby used by
 * the AVX2 set (tested on this machine) and the AVX-512 set, so the two differ only in the
 * compiler's instruction selection and the tile sizes.
 *
 * Products a * b + c are contracted to FMA by GCC (-ffp-contract=fast is the GNU C default)
 * when the file is built with -mfma. exp() is a range reduction x = n ln2 + r, |r| <= ln2/2,
 * a degree-7 Taylor polynomial for e^r (relative error < 1e-8 before float rounding) and 2^n
 * built in the exponent bits.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float   vf  __attribute__((vector_size(4 * VW)));
typedef int32_t vi  __attribute__((vector_size(4 * VW)));
typedef float   vfu __attribute__((vector_size(4 * VW), aligned(4), may_alias));  /* unaligned */

#define INLINE static inline __attribute__((always_inline))

/* Load / store VW floats at any alignment. */
INLINE vf vload(const float *p) { return *(const vfu *)p; }
INLINE void vstore(float *p, vf v) { *(vfu *)p = v; }

/* Load / store the first n <= VW floats (the rest of the vector is zero). */
INLINE vf vload_n(const float *p, int n)
{
    vf v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
INLINE void vstore_n(float *p, vf v, int n) { memcpy(p, &v, (size_t)n * sizeof(float)); }

/* Load VW halves at any alignment, as floats (F16C's vcvtph2ps; AVX-512F's for 16 lanes; two
 * of F16C's when 16 lanes are built for AVX2, as tests/kern_w16_avx2.c builds them). */
INLINE vf vload_h(const uint16_t *p)
{
#if VW == 8
    return (vf)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
#elif VW == 16 && defined(__AVX512F__)
    return (vf)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#elif VW == 16
    union { vf v; __m256 h[2]; } u;
    u.h[0] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    u.h[1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 8)));
    return u.v;
#elif VW == 4                           /* WebAssembly SIMD has no conversion: kern.c's */
    vf v;
    for (int l = 0; l < VW; l++)
        v[l] = kern_f16_to_float(p[l]);
    return v;
#else
#error "kern_impl.h: vload_h knows VW 4, 8 and 16"
#endif
}

/* Lane-wise select: m ? a : b, m from a comparison (all ones or all zeros per lane). */
INLINE vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

/* x clamped to [lo, hi]: (x < lo ? lo : x), then (x > hi ? hi : x), a NaN x kept. These are
 * maxps (lo, x) and minps (hi, x) exactly, one instruction each where vsel takes two. */
INLINE vf vclamp(vf x, vf lo, vf hi)
{
#if VW == 8
    return (vf)_mm256_min_ps((__m256)hi, _mm256_max_ps((__m256)lo, (__m256)x));
#elif VW == 16 && defined(__AVX512F__)
    return (vf)_mm512_min_ps((__m512)hi, _mm512_max_ps((__m512)lo, (__m512)x));
#else
    x = vsel(x < lo, lo, x);
    return vsel(x > hi, hi, x);
#endif
}

/* e^x, sigmoid and tanh of u vectors at once (u a constant after inlining): each step for
 * all u before the next, so that u independent chains are in flight. One chain alone is
 * bound by latency (e^x is some 15 dependent operations, and a cell takes two in a row);
 * four of them keep the vector units busy. Every lane gets the same operations whatever u is. */
enum { CU = 4 };                                         /* u <= CU */

/* e^x for x in float range; clamped to [-87, 88] so 2^n stays a normal float. */
INLINE void vexp_u(const int u, vf *x)
{
    const float magic = 0x1.8p23f;                       /* adding it rounds to an integer */
    vf t[CU], r[CU], p[CU];
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        x[k] = vclamp(x[k], (vf){0} - 87.0f, (vf){0} + 88.0f);
        t[k] = x[k] * 1.44269504088896341f + magic;
    }
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        vf n = t[k] - magic;                             /* round(x / ln2) */
        r[k] = x[k] - n * 0.693359375f;                  /* ln2 split in two: exact high part */
        r[k] = r[k] - n * -2.12194440e-4f;
        p[k] = r[k] * (1.0f / 5040.0f) + (1.0f / 720.0f);
    }
#define HORNER(c)                                                                             \
    _Pragma("GCC unroll 8") for (int k = 0; k < u; k++) p[k] = p[k] * r[k] + (c)
    HORNER(1.0f / 120.0f);
    HORNER(1.0f / 24.0f);
    HORNER(1.0f / 6.0f);
    HORNER(0.5f);
    HORNER(1.0f);
    HORNER(1.0f);
#undef HORNER
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        vi e = ((vi)t[k] - (vi)((vf){0} + magic) + 127) << 23;  /* 2^n in the exponent field */
        x[k] = p[k] * (vf)e;
    }
}

INLINE vf vexp(vf x)
{
    vexp_u(1, &x);
    return x;
}

INLINE void vsigmoid_u(const int u, vf *x)
{
    vf e[CU];
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        e[k] = -x[k];
    vexp_u(u, e);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        x[k] = 1.0f / (1.0f + e[k]);
}

/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|). */
INLINE void vtanh_u(const int u, vf *x)
{
    const vi sign = (vi){0} + (int32_t)0x80000000u;
    vf e[CU];
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        e[k] = -2.0f * (vf)((vi)x[k] & ~sign);
    vexp_u(u, e);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        x[k] = (vf)((vi)((1.0f - e[k]) / (1.0f + e[k])) | ((vi)x[k] & sign));
}

/* ---------------------------------------------------------------------------------------- */
/* Matrix products */

/* Register tile: C (mr, nv*VW) += A (mr, k) . B (k, nv*VW).
 * ta = 0: A is row-major with rows lda apart, a(r, p) = A[r*lda + p]
 * ta = 1: A is stored transposed (k, mr),       a(r, p) = A[p*lda + r]
 * B rows are ldb apart, C rows ldc apart. mr, nv, ta are constants after inlining, so the
 * loops over them unroll and the accumulators live in registers. */
INLINE void tile(const int ta, const int mr, const int nv, int k,
                 const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    if (mr > MR || nv > NV)             /* table entries beyond this set's tile: never called */
        return;
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = (vf){0};
    for (int p = 0; p < k; p++) {
        vf b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            b[v] = vload(B + (size_t)p * ldb + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            float a = ta ? A[(size_t)p * lda + r] : A[(size_t)r * lda + p];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] += a * b[v];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *c = C + (size_t)r * ldc + v * VW;
            vstore(c, vload(c) + acc[r][v]);
        }
}

typedef void tile_fn(int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* One function per (ta, mr, nv), in a table indexed [ta][mr-1][nv-1]. */
#define TILE_DEF(TA, R, V)                                                                    \
    static void tile_##TA##_##R##_##V(int k, const float *A, int lda, const float *B, int ldb, \
                                      float *C, int ldc)                                      \
    { tile(TA, R, V, k, A, lda, B, ldb, C, ldc); }
#define TILE_DEF_V(TA, R) TILE_DEF(TA, R, 1) TILE_DEF(TA, R, 2) TILE_DEF(TA, R, 3)
#define TILE_DEF_R(TA) TILE_DEF_V(TA, 1) TILE_DEF_V(TA, 2) TILE_DEF_V(TA, 3) TILE_DEF_V(TA, 4) \
    TILE_DEF_V(TA, 5) TILE_DEF_V(TA, 6) TILE_DEF_V(TA, 7) TILE_DEF_V(TA, 8)
TILE_DEF_R(0)
TILE_DEF_R(1)
#define TILE_ROW(TA, R) { tile_##TA##_##R##_1, tile_##TA##_##R##_2, tile_##TA##_##R##_3 }
#define TILE_TAB(TA) { TILE_ROW(TA, 1), TILE_ROW(TA, 2), TILE_ROW(TA, 3), TILE_ROW(TA, 4), \
                       TILE_ROW(TA, 5), TILE_ROW(TA, 6), TILE_ROW(TA, 7), TILE_ROW(TA, 8) }
static tile_fn *const tiles[2][8][3] = { TILE_TAB(0), TILE_TAB(1) };

#if MR > 8 || NV > 3
#error "kern_impl.h: tiles are generated for MR <= 8, NV <= 3"
#endif

/* Row tiles per group: the products go over the rows in groups of MT tiles (MT * MR rows, 96
 * for AVX2), so a group's rows of A for one k-block (96 x 256 floats, 96 KiB) stay in L2
 * while every column panel of B passes over them. Without the groups, a product over
 * thousands of rows (the input projection of all T b rows at once, the weight gradients)
 * streams all of A's k-block from L3 or memory once per column panel. */
#ifndef MT
#define MT 16
#endif

/* The first row of tile t of ntiles nearly equal tiles over m rows (t = ntiles gives m). */
INLINE int tile_row(int t, int m, int ntiles)
{
    return t * (m / ntiles) + (t < m % ntiles ? t : m % ntiles);
}

/* The columns nfull..n-1 of C (m, n) += A^T B (A (k, m)) that no vector covers: per column,
 * the rows in chunks of TL, p outer so that A's rows are read front to back (a sum over p
 * per element, in order, as a scalar loop would make it). */
enum { TL = 256 };
static void tn_leftover(int m, int n, int nfull, int k, const float *A, int lda,
                        const float *B, int ldb, float *C, int ldc)
{
    float acc[TL] __attribute__((aligned(64)));
    for (int j = nfull; j < n; j++)
        for (int i0 = 0; i0 < m; i0 += TL) {
            int mi = m - i0 < TL ? m - i0 : TL, mv = mi / VW * VW;
            memset(acc, 0, sizeof acc);
            for (int p = 0; p < k; p++) {
                float b = B[(size_t)p * ldb + j];
                const float *a = A + (size_t)p * lda + i0;
                for (int i = 0; i < mv; i += VW)
                    vstore(acc + i, vload(acc + i) + vload(a + i) * b);
                for (int i = mv; i < mi; i++)
                    acc[i] += a[i] * b;
            }
            for (int i = 0; i < mi; i++)
                C[(size_t)(i0 + i) * ldc + j] += acc[i];
        }
}

/* B's panel (kc, nv*VW), rows ldb apart -> bp, contiguous. (nv = NV as a constant: the
 * compiler would make the general loop a call to memcpy for each row.) */
INLINE void copy_panel(float *bp, const float *bb, int ldb, int kc, int nv)
{
    if (nv == NV)
        for (int p = 0; p < kc; p++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                vstore(bp + (p * NV + v) * VW, vload(bb + (size_t)p * ldb + v * VW));
    else
        for (int p = 0; p < kc; p++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                if (v < nv)
                    vstore(bp + (p * nv + v) * VW, vload(bb + (size_t)p * ldb + v * VW));
}

/* gemm_tn over many rows of A and B (a weight gradient summed over T b rows, k at least
 * 1024) copies each group's k-block of A (kc rows lda apart, of which the group's tiles take
 * columns) into ap, tile by tile, as kc rows of the tile's mr values. The tiles then read A
 * front to back instead of one short piece of each of kc rows lda apart (the rows of h, H
 * floats apart), which the prefetchers follow badly. Such groups are MTA tiles, about 256
 * rows (a k-block of A 256 KiB, read from L2), rather than MT: every group copies each panel
 * of B's k-block again, and B there (dz over T b rows) comes from memory. Measured on one
 * core (AVX2, quiet, two rounds): the seed model's 128 x 512 over 1248 rows 81 -> 88
 * GFLOP/s, the 2 x 256 char-rnn's 256 x 1024 over 2500 78 -> 88, the 2 x 512's 512 x 2048
 * over 5000 73 -> 90. */
enum { MTA = (256 + MR - 1) / MR };
static void pack_a_group(float *ap, const float *A, int lda, int kc, int t0, int t1, int m,
                         int ntiles)
{
    for (int t = t0; t < t1; t++) {
        int i0 = tile_row(t, m, ntiles), mr = tile_row(t + 1, m, ntiles) - i0;
        const float *a = A + i0;
        if (mr == MR)                       /* a constant size: inline moves, not a call */
            for (int p = 0; p < kc; p++, ap += MR)
                memcpy(ap, a + (size_t)p * lda, MR * sizeof(float));
        else
            for (int p = 0; p < kc; p++, ap += mr)
#pragma GCC unroll 16
                for (int r = 0; r < MR; r++)
                    if (r < mr)
                        ap[r] = a[(size_t)p * lda + r];
    }
}

/* C (m, n) += op(A) (m, k) . B (k, n); op(A) = A (m, k) if ta = 0, A^T with A (k, m) if ta = 1.
 * Loop order: k-blocks of KC, then column panels of NR = NV*VW, then row tiles. Each B panel
 * (kc, NR) is first copied to a contiguous buffer on the stack when B's rows are 1 KiB or
 * more apart (4H floats at H >= 64: a power of two, which maps a panel onto a few L1 sets
 * and evicts it between row tiles); packed, it stays in L1 while every row tile uses it.
 * (Measured on Zen 4: h . R at H=128 goes from 41 to 60 GFLOP/s; for B rows 512 bytes
 * apart, as in the backward product with R^T, packing was slower than not.) The m rows are split into
 * ceil(m / MR) tiles of nearly equal height (32 = 6+6+5+5+5+5 rather than 6*5 + 2: a short
 * tile has too few accumulators to hide the FMA latency). Columns past the last full vector
 * are done by a plain loop. ap: NULL, or (ta = 1) room for MTA * MR * KC floats to copy A
 * into, as above. */
static void gemm_any(int ta, int m, int n, int k, const float *A, int lda,
                     const float *B, int ldb, float *C, int ldc, float *ap)
{
    float bp[KC * NV * VW] __attribute__((aligned(64)));
    int nfull = n / VW * VW;
    int ntiles = (m + MR - 1) / MR;
    /* B's rows >= 1 KiB apart: the panel would thrash L1; with A copied, always (the copy
     * streams B's rows in once per group) */
    int pack = ntiles > 1 && (ldb >= 256 || ap);
    int mt = ap ? MTA : MT;
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        for (int t0 = 0; t0 < ntiles; t0 += mt) {        /* a group of rows, its A in L2 */
            int t1 = t0 + mt < ntiles ? t0 + mt : ntiles;
            if (ap)
                pack_a_group(ap, A + (size_t)p0 * lda, lda, kc, t0, t1, m, ntiles);
            for (int j0 = 0; j0 < nfull; j0 += NV * VW) {
                int nv = (nfull - j0) / VW < NV ? (nfull - j0) / VW : NV;
                const float *bb = B + (size_t)p0 * ldb + j0;
                int lb = ldb;
                if (pack) {
                    copy_panel(bp, bb, ldb, kc, nv);
                    bb = bp;
                    lb = nv * VW;
                }
                const float *pa = ap;               /* the group's tiles, one after another */
                for (int t = t0; t < t1; t++) {
                    int i0 = tile_row(t, m, ntiles), mr = tile_row(t + 1, m, ntiles) - i0;
                    float *c = C + (size_t)i0 * ldc + j0;
                    if (ap) {
                        tiles[1][mr - 1][nv - 1](kc, pa, mr, bb, lb, c, ldc);
                        pa += (size_t)kc * mr;
                    } else {
                        const float *a = ta ? A + (size_t)p0 * lda + i0 : A + (size_t)i0 * lda + p0;
                        tiles[ta][mr - 1][nv - 1](kc, a, lda, bb, lb, c, ldc);
                    }
                }
            }
        }
    }
    if (ta) {
        tn_leftover(m, n, nfull, k, A, lda, B, ldb, C, ldc);
        return;
    }
    for (int i = 0; i < m; i++)
        for (int j = nfull; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += A[(size_t)i * lda + p] * B[(size_t)p * ldb + j];
            C[(size_t)i * ldc + j] += s;
        }
}

/* y (n) += x (k) . B (k, n): one row, as in generation. A register tile of one row has too
 * few accumulators to hide the FMA latency, so this walks 8 vectors of columns at a time. */
static void gemv(int n, int k, const float *x, const float *B, int ldb, float *y)
{
    enum { NG = 8 };
    int j = 0;
    for (; j + NG * VW <= n; j += NG * VW) {
        vf acc[NG];
#pragma GCC unroll 8
        for (int v = 0; v < NG; v++)
            acc[v] = (vf){0};
        for (int p = 0; p < k; p++) {
            float a = x[p];
            const float *b = B + (size_t)p * ldb + j;
#pragma GCC unroll 8
            for (int v = 0; v < NG; v++)
                acc[v] += a * vload(b + v * VW);
        }
#pragma GCC unroll 8
        for (int v = 0; v < NG; v++)
            vstore(y + j + v * VW, vload(y + j + v * VW) + acc[v]);
    }
    for (; j + VW <= n; j += VW) {
        vf acc0 = {0}, acc1 = {0};
        int p = 0;
        for (; p + 1 < k; p += 2) {
            acc0 += x[p] * vload(B + (size_t)p * ldb + j);
            acc1 += x[p + 1] * vload(B + (size_t)(p + 1) * ldb + j);
        }
        if (p < k)
            acc0 += x[p] * vload(B + (size_t)p * ldb + j);
        vstore(y + j, vload(y + j) + acc0 + acc1);
    }
    for (; j < n; j++) {
        float s = 0.0f;
        for (int p = 0; p < k; p++)
            s += x[p] * B[(size_t)p * ldb + j];
        y[j] += s;
    }
}

/* C (m, n) += A (m, k) . B (k, n) */
static void gemm_nn(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    if (m == 1)
        gemv(n, k, A, B, ldb, C);
    else
        gemm_any(0, m, n, k, A, lda, B, ldb, C, ldc, NULL);
}

/* Packed B (k, n): for each k-block of KC rows (the last may be shorter), its column panels
 * of NV*VW columns (the last may have fewer vectors), each as kc contiguous rows of its
 * width; then the n - n/VW*VW leftover columns, each as k contiguous floats. k * n floats. */
static void pack_b(int k, int n, const float *B, int ldb, float *Bp)
{
    int nfull = n / VW * VW;
    float *o = Bp;
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        for (int j0 = 0; j0 < nfull; j0 += NV * VW) {
            int w = nfull - j0 < NV * VW ? nfull - j0 : NV * VW;
            for (int p = 0; p < kc; p++, o += w)
                memcpy(o, B + (size_t)(p0 + p) * ldb + j0, (size_t)w * sizeof(float));
        }
    }
    for (int j = nfull; j < n; j++)
        for (int p = 0; p < k; p++)
            *o++ = B[(size_t)p * ldb + j];
}

/* C (m, n) += A (m, k) . B (k, n), B packed by pack_b: gemm_any's loops without the copying. */
static void gemm_nn_packed(int m, int n, int k, const float *A, int lda, const float *Bp,
                           float *C, int ldc)
{
    int nfull = n / VW * VW;
    int ntiles = (m + MR - 1) / MR;
    const float *bb = Bp;
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        for (int t0 = 0; t0 < ntiles; t0 += MT) {        /* groups of rows, as gemm_any */
            int t1 = t0 + MT < ntiles ? t0 + MT : ntiles;
            const float *pb = bb;
            for (int j0 = 0; j0 < nfull; j0 += NV * VW) {
                int nv = (nfull - j0) / VW < NV ? (nfull - j0) / VW : NV;
                for (int t = t0; t < t1; t++) {
                    int i0 = tile_row(t, m, ntiles), mr = tile_row(t + 1, m, ntiles) - i0;
                    tiles[0][mr - 1][nv - 1](kc, A + (size_t)i0 * lda + p0, lda, pb, nv * VW,
                                             C + (size_t)i0 * ldc + j0, ldc);
                }
                pb += (size_t)kc * nv * VW;
            }
        }
        bb += (size_t)kc * nfull;
    }
    for (int i = 0; i < m; i++)                  /* leftover columns: bb holds them */
        for (int j = nfull; j < n; j++) {
            const float *a = A + (size_t)i * lda, *b = bb + (size_t)(j - nfull) * k;
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += a[p] * b[p];
            C[(size_t)i * ldc + j] += s;
        }
}

/* ---------------------------------------------------------------------------------------- */
/* One-row products with B packed by kern_pack_gemv (generation) */

/* A panel of GP columns is GV vectors; its k rows are split into GS interleaved partial sums
 * (rows p, p + GS, ... in sum p % GS), so GV * GS = 8 accumulators hide the FMA latency
 * while B streams through once, in order. */
enum { GP = KERN_GEMV_P, GV = GP / VW, GS = GV >= 8 ? 1 : 8 / GV };

/* y (n) = y0 (n) + x (k) . B, B packed as floats (Bf) or, with half, as halves (Bh). */
INLINE void gemv_any(const int half, int n, int k, const float *x, const float *Bf,
                     const uint16_t *Bh, const float *y0, float *y)
{
    for (int j0 = 0; j0 < n; j0 += GP) {
        size_t off = (size_t)j0 * k;
        vf acc[GS][GV];
#pragma GCC unroll 8
        for (int s = 0; s < GS; s++)
#pragma GCC unroll 8
            for (int v = 0; v < GV; v++)
                acc[s][v] = (vf){0};
        int p = 0;
        for (; p + GS <= k; p += GS)
#pragma GCC unroll 8
            for (int s = 0; s < GS; s++) {
                float a = x[p + s];
                size_t o = off + (size_t)(p + s) * GP;
#pragma GCC unroll 8
                for (int v = 0; v < GV; v++)
                    acc[s][v] += a * (half ? vload_h(Bh + o + v * VW) : vload(Bf + o + v * VW));
            }
        for (; p < k; p++) {
            size_t o = off + (size_t)p * GP;
#pragma GCC unroll 8
            for (int v = 0; v < GV; v++)
                acc[0][v] += x[p] * (half ? vload_h(Bh + o + v * VW) : vload(Bf + o + v * VW));
        }
#pragma GCC unroll 8
        for (int v = 0; v < GV; v++) {
#pragma GCC unroll 8
            for (int s = 1; s < GS; s++)
                acc[0][v] += acc[s][v];
            int l = n - j0 - v * VW;                    /* columns of this vector in y */
            if (l >= VW)
                vstore(y + j0 + v * VW, vload(y0 + j0 + v * VW) + acc[0][v]);
            else if (l > 0)
                vstore_n(y + j0 + v * VW, vload_n(y0 + j0 + v * VW, l) + acc[0][v], l);
        }
    }
}

static void gemv_packed(int n, int k, const float *x, const float *Bp, const float *y0, float *y)
{
    gemv_any(0, n, k, x, Bp, NULL, y0, y);
}

static void gemv_packed_f16(int n, int k, const float *x, const uint16_t *Bp, const float *y0,
                            float *y)
{
    gemv_any(1, n, k, x, NULL, Bp, y0, y);
}

/* Several rows: for a tile of up to GR rows and GC vectors of a panel's columns, each
 * element keeps the GS partial sums gemv_any keeps (the same rows of B in the same sums,
 * combined in the same order), so every row is bit for bit gemv_any's; a vector of B is
 * loaded once for the GR rows and a value of X once for the GC vectors. GR x GC x GS
 * accumulators: 12 of the 16 registers (AVX2), 24 of the 32 (AVX-512). */
enum { GR = 3, GC = 2 };

INLINE void gemv_rows_tile(const int half, const int mr, const int nc, int k, const float *X,
                           int ldx, const float *Bf, const uint16_t *Bh, size_t off,
                           const float *Y0, int ldy0, float *Y, int ldy, int l)
{
    vf acc[GR][GC][GS];
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++)
#pragma GCC unroll 8
            for (int s = 0; s < GS; s++)
                acc[r][c][s] = (vf){0};
    int p = 0;
    for (; p + GS <= k; p += GS)
#pragma GCC unroll 8
        for (int s = 0; s < GS; s++) {
            size_t o = off + (size_t)(p + s) * GP;
            vf b[GC];
#pragma GCC unroll 4
            for (int c = 0; c < nc; c++)
                b[c] = half ? vload_h(Bh + o + c * VW) : vload(Bf + o + c * VW);
#pragma GCC unroll 4
            for (int r = 0; r < mr; r++) {
                float a = X[(size_t)r * ldx + p + s];
#pragma GCC unroll 4
                for (int c = 0; c < nc; c++)
                    acc[r][c][s] += a * b[c];
            }
        }
    for (; p < k; p++) {
        size_t o = off + (size_t)p * GP;
        vf b[GC];
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++)
            b[c] = half ? vload_h(Bh + o + c * VW) : vload(Bf + o + c * VW);
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < nc; c++)
                acc[r][c][0] += X[(size_t)r * ldx + p] * b[c];
    }
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) {
#pragma GCC unroll 8
            for (int s = 1; s < GS; s++)
                acc[r][c][0] += acc[r][c][s];
            const float *y0 = Y0 + (size_t)r * ldy0 + c * VW;
            float *y = Y + (size_t)r * ldy + c * VW;
            int lc = l - c * VW;                        /* columns of this vector in Y */
            if (lc >= VW)
                vstore(y, vload(y0) + acc[r][c][0]);
            else if (lc > 0)                            /* (always: nc counts such vectors) */
                vstore_n(y, vload_n(y0, lc) + acc[r][c][0], lc);
        }
}

#define GEMV_ROWS_TILE(MR, NC) \
    gemv_rows_tile(half, MR, NC, k, x, ldx, Bf, Bh, off, y0, ldy0, y, ldy, l)

INLINE void gemv_rows_any(const int half, int m, int n, int k, const float *X, int ldx,
                          const float *Bf, const uint16_t *Bh, const float *Y0, int ldy0,
                          float *Y, int ldy)
{
    for (int j0 = 0; j0 < n; j0 += GP)
        for (int v = 0; v < GV && j0 + v * VW < n; v += GC) {
            int j = j0 + v * VW, l = n - j;             /* columns from this tile's first */
            int nc = GC < GV - v ? GC : GV - v;         /* its vectors that hold columns */
            if (nc > (l + VW - 1) / VW)
                nc = (l + VW - 1) / VW;
            size_t off = (size_t)j0 * k + (size_t)v * VW;
            for (int i = 0; i < m; i += GR) {
                const float *x = X + (size_t)i * ldx, *y0 = Y0 + (size_t)i * ldy0 + j;
                float *y = Y + (size_t)i * ldy + j;
                int mr = m - i < GR ? m - i : GR;
                if (nc == GC)
                    switch (mr) {
                    case 1: GEMV_ROWS_TILE(1, GC); break;
                    case 2: GEMV_ROWS_TILE(2, GC); break;
                    default: GEMV_ROWS_TILE(GR, GC);
                    }
                else
                    switch (mr) {
                    case 1: GEMV_ROWS_TILE(1, 1); break;
                    case 2: GEMV_ROWS_TILE(2, 1); break;
                    default: GEMV_ROWS_TILE(GR, 1);
                    }
            }
        }
}

static void gemv_packed_rows(int m, int n, int k, const float *X, int ldx, const float *Bp,
                             const float *Y0, int ldy0, float *Y, int ldy)
{
    gemv_rows_any(0, m, n, k, X, ldx, Bp, NULL, Y0, ldy0, Y, ldy);
}

static void gemv_packed_rows_f16(int m, int n, int k, const float *X, int ldx,
                                 const uint16_t *Bp, const float *Y0, int ldy0, float *Y,
                                 int ldy)
{
    gemv_rows_any(1, m, n, k, X, ldx, NULL, Bp, Y0, ldy0, Y, ldy);
}

/* C (m, n) += A^T . B,  A is (k, m), B is (k, n) */
static void gemm_tn(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    /* the group's A block: 258 KiB (AVX2), too much for the stack of a small thread; NULL
     * (a small product, or no memory) runs without the copy */
    float *ap = k >= 4 * KC && m >= MT * MR && n >= NV * VW
                ? malloc((size_t)MTA * MR * KC * sizeof(float)) : NULL;
    gemm_any(1, m, n, k, A, lda, B, ldb, C, ldc, ap);
    free(ap);
}

/* C (m, n) += A . B^T,  A is (m, k), B is (n, k): dot products of rows (not a hot path). */
static void gemm_nt(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc)
{
    int kfull = k / VW * VW;
    for (int i = 0; i < m; i++) {
        const float *a = A + (size_t)i * lda;
        for (int j = 0; j < n; j++) {
            const float *b = B + (size_t)j * ldb;
            vf acc = {0};
            int p = 0;
            for (; p < kfull; p += VW)
                acc += vload(a + p) * vload(b + p);
            if (p < k)
                acc += vload_n(a + p, k - p) * vload_n(b + p, k - p);
            float s = 0.0f;
            for (int l = 0; l < VW; l++)
                s += acc[l];
            C[(size_t)i * ldc + j] += s;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* LSTM cell */

/* Load / store u vectors from p on, VW floats apart, the last of them n <= VW lanes. */
INLINE void vload_u(const int u, int n, vf *v, const float *p)
{
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        v[k] = k < u - 1 ? vload(p + k * VW) : vload_n(p + k * VW, n);
}

INLINE void vstore_u(const int u, int n, float *p, const vf *v)
{
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        if (k < u - 1)
            vstore(p + k * VW, v[k]);
        else
            vstore_n(p + k * VW, v[k], n);
    }
}

/* The lanes j .. j + (u - 1) VW + n of one row of a cell: u vectors, the last n <= VW lanes
 * (constant u, and n = VW, compile to plain vector loads and stores). Each cell's loop goes
 * CU vectors at a time, then one, then the row's leftover lanes. */
#define CELL_LOOP(H, lanes)                                                                   \
    do {                                                                                     \
        int j = 0;                                                                           \
        for (; j + CU * VW <= (H); j += CU * VW)                                             \
            lanes(CU, VW, j);                                                                \
        for (; j + VW <= (H); j += VW)                                                       \
            lanes(1, VW, j);                                                                 \
        if (j < (H))                                                                         \
            lanes(1, (H) - j, j);                                                            \
    } while (0)

/* zr (4H) one row of z, from lane j; cp, c, h from lane j */
INLINE void cell_fwd_lanes(const int u, int n, int H, float *zr, const float *cp, float *c, float *h)
{
    vf i[CU], f[CU], g[CU], o[CU], cn[CU], tc[CU], cpv[CU];
    vload_u(u, n, i, zr);
    vload_u(u, n, f, zr + H);
    vload_u(u, n, g, zr + 2 * H);
    vload_u(u, n, o, zr + 3 * H);
    vsigmoid_u(u, i);
    vsigmoid_u(u, f);
    vtanh_u(u, g);
    vsigmoid_u(u, o);
    if (cp)
        vload_u(u, n, cpv, cp);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        cn[k] = i[k] * g[k];
        if (cp)
            cn[k] += f[k] * cpv[k];
        tc[k] = cn[k];
    }
    vtanh_u(u, tc);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        tc[k] = o[k] * tc[k];                                /* h */
    vstore_u(u, n, zr, i);
    vstore_u(u, n, zr + H, f);
    vstore_u(u, n, zr + 2 * H, g);
    vstore_u(u, n, zr + 3 * H, o);
    vstore_u(u, n, c, cn);
    vstore_u(u, n, h, tc);
}

/* z (b, 4H) pre-activations -> activations i, f, g, o in place; c_prev (b, H) or NULL;
 * writes c (b, H), h (b, H). c may be the same array as c_prev. */
static void lstm_cell_fwd(int b, int H, float *z, const float *c_prev, float *c, float *h)
{
    for (int r = 0; r < b; r++) {
        float *zr = z + (size_t)r * 4 * H;
        const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
        float *cr = c + (size_t)r * H, *hr = h + (size_t)r * H;
#define LANES(u, n, j) cell_fwd_lanes(u, n, H, zr + j, cp ? cp + j : NULL, cr + j, hr + j)
        CELL_LOOP(H, LANES);
#undef LANES
    }
}

INLINE void cell_bwd_lanes(const int u, int n, int H, float *ar, const float *cp, const float *c,
                           const float *dh, float *dc)
{
    vf tc[CU];
    vload_u(u, n, tc, c);
    vtanh_u(u, tc);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++) {
        int m = k < u - 1 ? VW : n, off = k * VW;         /* vector k: its lanes, its place */
        vf i = vload_n(ar + off, m), f = vload_n(ar + H + off, m), g = vload_n(ar + 2 * H + off, m);
        vf o = vload_n(ar + 3 * H + off, m);
        vf dhv = vload_n(dh + off, m);
        vf dct = vload_n(dc + off, m) + dhv * o * (1.0f - tc[k] * tc[k]);  /* gradient at c_t */
        vf cpv = cp ? vload_n(cp + off, m) : (vf){0};
        vstore_n(ar + off, dct * g * i * (1.0f - i), m);
        vstore_n(ar + H + off, dct * cpv * f * (1.0f - f), m);
        vstore_n(ar + 2 * H + off, dct * i * (1.0f - g * g), m);
        vstore_n(ar + 3 * H + off, dhv * tc[k] * o * (1.0f - o), m);
        vstore_n(dc + off, dct * f, m);
    }
}

/* act (b, 4H) activations i, f, g, o -> dz in place; c_prev (b, H) or NULL, c (b, H);
 * dh (b, H) gradient at h_t; dc (b, H) gradient at c_t in, at c_{t-1} out. */
static void lstm_cell_bwd(int b, int H, float *act, const float *c_prev, const float *c,
                          const float *dh, float *dc)
{
    for (int r = 0; r < b; r++) {
        float *ar = act + (size_t)r * 4 * H;
        const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
        const float *cr = c + (size_t)r * H, *dhr = dh + (size_t)r * H;
        float *dcr = dc + (size_t)r * H;
#define LANES(u, n, j) cell_bwd_lanes(u, n, H, ar + j, cp ? cp + j : NULL, cr + j, dhr + j, dcr + j)
        CELL_LOOP(H, LANES);
#undef LANES
    }
}

/* ---------------------------------------------------------------------------------------- */
/* GRU cell */

INLINE void gru_fwd_lanes(const int u, int n, int H, float *ar, const float *ur, const float *hp,
                          float *h)
{
    vf z[CU], r[CU], nn[CU], a[CU], hpv[CU];
    vload_u(u, n, z, ar);
    vload_u(u, n, a, ur);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        z[k] += a[k];
    vload_u(u, n, r, ar + H);
    vload_u(u, n, a, ur + H);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        r[k] += a[k];
    vsigmoid_u(u, z);
    vsigmoid_u(u, r);
    vload_u(u, n, nn, ar + 2 * H);
    vload_u(u, n, a, ur + 2 * H);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        nn[k] += r[k] * a[k];
    vtanh_u(u, nn);
    if (hp)
        vload_u(u, n, hpv, hp);
    else
#pragma GCC unroll 8
        for (int k = 0; k < u; k++)
            hpv[k] = (vf){0};
    vstore_u(u, n, ar, z);
    vstore_u(u, n, ar + H, r);
    vstore_u(u, n, ar + 2 * H, nn);
#pragma GCC unroll 8
    for (int k = 0; k < u; k++)
        a[k] = nn[k] + z[k] * (hpv[k] - nn[k]);
    vstore_u(u, n, h, a);
}

/* a (b, 3H) input pre-activations -> z, r, n in place; u (b, 3H) recurrent pre-activations;
 * h_prev (b, H) or NULL; writes h (b, H), which may be h_prev. */
static void gru_cell_fwd(int b, int H, float *a, const float *u, const float *h_prev, float *h)
{
    for (int r = 0; r < b; r++) {
        float *ar = a + (size_t)r * 3 * H;
        const float *ur = u + (size_t)r * 3 * H;
        const float *hp = h_prev ? h_prev + (size_t)r * H : NULL;
        float *hr = h + (size_t)r * H;
#define LANES(u, n, j) gru_fwd_lanes(u, n, H, ar + j, ur + j, hp ? hp + j : NULL, hr + j)
        CELL_LOOP(H, LANES);
#undef LANES
    }
}

INLINE void gru_bwd_lanes(int n, int H, float *ar, float *ur, const float *hp, float *dh)
{
    vf z = vload_n(ar, n), r = vload_n(ar + H, n), nn = vload_n(ar + 2 * H, n);
    vf hpv = hp ? vload_n(hp, n) : (vf){0};
    vf dhv = vload_n(dh, n);
    vf dn = dhv * (1.0f - z) * (1.0f - nn * nn);
    vf dz = dhv * (hpv - nn) * z * (1.0f - z);
    vf dr = dn * vload_n(ur + 2 * H, n) * r * (1.0f - r);
    vstore_n(ar, dz, n);
    vstore_n(ar + H, dr, n);
    vstore_n(ar + 2 * H, dn, n);
    vstore_n(ur, dz, n);
    vstore_n(ur + H, dr, n);
    vstore_n(ur + 2 * H, dn * r, n);
    vstore_n(dh, dhv * z, n);
}

/* act (b, 3H) z, r, n -> da in place; u (b, 3H) -> du in place; h_prev (b, H) or NULL;
 * dh (b, H) gradient at h_t in, dh * z out. */
static void gru_cell_bwd(int b, int H, float *act, float *u, const float *h_prev, float *dh)
{
    for (int r = 0; r < b; r++) {
        float *ar = act + (size_t)r * 3 * H, *ur = u + (size_t)r * 3 * H;
        const float *hp = h_prev ? h_prev + (size_t)r * H : NULL;
        float *dhr = dh + (size_t)r * H;
        int j = 0;
        for (; j + VW <= H; j += VW)
            gru_bwd_lanes(VW, H, ar + j, ur + j, hp ? hp + j : NULL, dhr + j);
        if (j < H)
            gru_bwd_lanes(H - j, H, ar + j, ur + j, hp ? hp + j : NULL, dhr + j);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Layer norm (lnlstm): b rows of 4 gate blocks of H, see kern.h */

INLINE float vsum(vf v)
{
    float s = 0.0f;
    for (int l = 0; l < VW; l++)
        s += v[l];
    return s;
}

static void ln_fwd(int b, int H, float *s, const float *gamma, const float *bias, float *shat,
                   float *rstd)
{
    int hf = H / VW * VW;
    for (int r = 0; r < b * 4; r++) {
        float *x = s + (size_t)r * H;
        const float *g = gamma + (size_t)(r % 4) * H, *be = bias + (size_t)(r % 4) * H;
        vf acc = {0};
        float sum = 0.0f;
        for (int j = 0; j < hf; j += VW)
            acc += vload(x + j);
        for (int j = hf; j < H; j++)
            sum += x[j];
        float mean = (vsum(acc) + sum) / H;
        vf dev = {0};
        float var = 0.0f;
        for (int j = 0; j < hf; j += VW) {
            vf d = vload(x + j) - mean;
            dev += d * d;
        }
        for (int j = hf; j < H; j++)
            var += (x[j] - mean) * (x[j] - mean);
        float rs = 1.0f / sqrtf((vsum(dev) + var) / H + 1e-5f);
        for (int j = 0; j < hf; j += VW) {
            vf xh = (vload(x + j) - mean) * rs;
            if (shat)
                vstore(shat + (size_t)r * H + j, xh);
            vstore(x + j, vload(g + j) * xh + vload(be + j));
        }
        for (int j = hf; j < H; j++) {
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
    int hf = H / VW * VW;
    for (int r = 0; r < b * 4; r++) {
        float *d = dz + (size_t)r * H;
        const float *xh = shat + (size_t)r * H, *g = gamma + (size_t)(r % 4) * H;
        float *dg = dgamma + (size_t)(r % 4) * H, *db = dbias + (size_t)(r % 4) * H;
        vf a1 = {0}, a2 = {0};
        float m1 = 0.0f, m2 = 0.0f;               /* sums of dshat and dshat * shat */
        for (int j = 0; j < hf; j += VW) {
            vf dv = vload(d + j), xv = vload(xh + j);
            vstore(dg + j, vload(dg + j) + dv * xv);
            vstore(db + j, vload(db + j) + dv);
            vf dx = dv * vload(g + j);
            a1 += dx;
            a2 += dx * xv;
        }
        for (int j = hf; j < H; j++) {
            dg[j] += d[j] * xh[j];
            db[j] += d[j];
            float dx = d[j] * g[j];
            m1 += dx;
            m2 += dx * xh[j];
        }
        m1 = (m1 + vsum(a1)) / H;
        m2 = (m2 + vsum(a2)) / H;
        float rs = rstd[r];
        for (int j = 0; j < hf; j += VW)
            vstore(d + j, rs * (vload(d + j) * vload(g + j) - m1 - vload(xh + j) * m2));
        for (int j = hf; j < H; j++)
            d[j] = rs * (d[j] * g[j] - m1 - xh[j] * m2);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Softmax for generation, see kern.h */

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
    int nf = n / VW * VW;
    vf acc = {0};
    for (int j = 0; j < nf; j += VW) {
        vf e = vexp((vload(x + j) - mx) * s);
        vstore(x + j, e);
        acc += e;
    }
    if (nf < n) {
        vf e = vexp((vload_n(x + nf, n - nf) - mx) * s);
        vstore_n(x + nf, e, n - nf);
        for (int l = 0; l < n - nf; l++)
            sum += e[l];
    }
    float inv = 1.0f / (vsum(acc) + sum);
    for (int j = 0; j < nf; j += VW)
        vstore(x + j, vload(x + j) * inv);
    for (int j = nf; j < n; j++)
        x[j] *= inv;
    return best;
}

/* ---------------------------------------------------------------------------------------- */
/* The bf16 products */

#ifndef KERN_BF16_NATIVE
#define KERN_BF16_NATIVE 0
#endif
#include "kern_impl_bf16.h"
