/* kern_impl_bf16.h - the bf16 products of kern.h (pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16) in
 * GCC vector extensions, included at the end of kern_impl.h (its vectors, loads, tile_row and
 * MT come from there) by every vector set.
 *
 * The products are float register tiles like kern_impl.h's, each step dpbf16(acc, a, b): lane
 * j of acc += the pair of bf16 in lane j of a times the pair in lane j of b, as vdpbf16ps does
 * (kern.h). A's pair (two consecutive k of a row) is broadcast to every lane; B's words hold
 * a pair of rows of B (2p, 2p + 1) in each column. With KERN_BF16_NATIVE 1 (kern_avx512bf16.c)
 * dpbf16 is that instruction; else (every other set, and the AVX512_BF16 set's code built for
 * AVX2 in tests/kern_w16_avx2.c) it is an exact emulation, two float FMAs:
 *
 * - Fast: the upper products (a & 0xffff0000 as float, exact in float) added to acc with one
 *   FMA, then the lower ones (a << 16). This is the instruction's arithmetic except for its
 *   treatment of denormals: inputs taken as zero and tiny results flushed. Neither can happen
 *   when no value of A or B is "small" (nonzero and below 2^-50, denormals included): every
 *   product is then 0 or at least 2^-100 in magnitude, on a grid of 2^-114 or finer, and an
 *   accumulator (0, or a sum of such) that is not zero is at least 2^-126 (it is either a sum
 *   of such terms on a grid of 2^-124, or above 2^-101). The conversions count the small
 *   values; a product takes the fast step when there are none.
 * - Checked (some small value): inputs flushed in vector code, and after each FMA the lanes whose
 *   float result is nonzero and at most 2^-126 (denormal, or 2^-126 itself) done again by
 *   kern_bf16_fma, the scalar emulation, which decides as the instruction does.
 *
 * Each set picks MRB (rows of a tile; MR when not set); every choice gives the same bits. */

#if KERN_BF16_NATIVE && VW != 16
#error "kern_impl_bf16.h: vdpbf16ps is used with 16 lanes"
#endif
#if NV > 2
#error "kern_impl_bf16.h: tiles are generated for NV <= 2"
#endif
#ifndef MRB
#define MRB MR
#endif

typedef uint32_t vu  __attribute__((vector_size(4 * VW)));
typedef uint32_t vuu __attribute__((vector_size(4 * VW), aligned(4), may_alias));  /* unaligned */
typedef uint16_t vh  __attribute__((vector_size(2 * VW)));
typedef uint32_t w32 __attribute__((may_alias));   /* a word of pairs, read from uint16 rows */

INLINE vu vload_w(const uint32_t *p) { return *(const vuu *)p; }
INLINE void vstore_w(uint32_t *p, vu v) { *(vuu *)p = v; }

/* w in every lane. The emulation splits it into its two halves with vector operations: without
 * the barrier GCC splits it as an integer and broadcasts each half, which made the AVX2 set's
 * products a third slower. (A 16-lane vector built for AVX2 fits no register: no barrier.) */
INLINE vu vbcast(uint32_t w)
{
    vu a = (vu){0} + w;
#if !KERN_BF16_NATIVE && VW == 8
    __asm__("" : "+x"(a));
#elif !KERN_BF16_NATIVE && defined(__AVX512F__)
    __asm__("" : "+v"(a));
#endif
    return a;
}

/* Some lane of m is not zero. */
INLINE int vany(vu m)
{
#if VW == 8
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#elif VW == 16 && defined(__AVX512F__)
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#else
    union { vu v; uint32_t w[VW]; } u = { m };
    uint32_t any = 0;
    for (int l = 0; l < VW; l++)
        any |= u.w[l];
    return any != 0;
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* The step */

#if KERN_BF16_NATIVE

/* vdpbf16ps: acc + a's upper bf16 times b's, then + the lower ones (kern.h) */
INLINE vf dpbf16(vf acc, vu a, vu b)
{
    return (vf)_mm512_dpbf16_ps((__m512)acc, (__m512bh)a, (__m512bh)b);
}

#else

/* a b + c with one rounding (the FMA instruction: a * b + c in vector code may be contracted
 * or not, which would change the bits) */
INLINE vf vfma(vf a, vf b, vf c)
{
#if VW == 8
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#elif VW == 16 && defined(__AVX512F__)
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif VW == 16
    union { vf v; __m256 h[2]; } x = { a }, y = { b }, z = { c };
    z.h[0] = _mm256_fmadd_ps(x.h[0], y.h[0], z.h[0]);
    z.h[1] = _mm256_fmadd_ps(x.h[1], y.h[1], z.h[1]);
    return z.v;
#else                                   /* no vector FMA (WebAssembly SIMD): lane by lane */
    vf r;
    for (int l = 0; l < VW; l++)
        r[l] = fmaf(a[l], b[l], c[l]);
    return r;
#endif
}

/* The upper and the lower bf16 of each lane as floats. */
INLINE vf bf16_hi(vu w) { return (vf)(w & 0xffff0000u); }
INLINE vf bf16_lo(vu w) { return (vf)(w << 16); }

/* The fast step: exact when no input is small (above). */
INLINE vf dpbf16(vf acc, vu a, vu b)
{
    acc = vfma(bf16_hi(a), bf16_hi(b), acc);
    return vfma(bf16_lo(a), bf16_lo(b), acc);
}

/* x, with its denormal lanes made zeros of their sign */
INLINE vf vdaz(vf x)
{
    vu u = (vu)x, den = (vu)((u & 0x7f800000u) == 0);
    return (vf)(u & (~den | 0x80000000u));
}

/* a b + c as vdpbf16ps adds it: lanes whose float result is not zero and at most 2^-126 in
 * magnitude go to kern_bf16_fma (rare: they need small values). */
INLINE vf vfma_ftz(vf a, vf b, vf c)
{
    vf r = vfma(a, b, c);
    vu t = (vu)((((vu)r & 0x7fffffffu) - 1u) < 0x00800000u);
    if (__builtin_expect(vany(t), 0))
        for (int l = 0; l < VW; l++)
            if (t[l])
                r[l] = kern_bf16_fma(a[l], b[l], c[l]);
    return r;
}

/* The checked step: vdpbf16ps whatever the inputs (above). */
INLINE vf dpbf16_checked(vf acc, vu a, vu b)
{
    acc = vfma_ftz(vdaz(bf16_hi(a)), vdaz(bf16_hi(b)), vdaz(acc));
    return vfma_ftz(vdaz(bf16_lo(a)), vdaz(bf16_lo(b)), acc);
}

#endif

/* ---------------------------------------------------------------------------------------- */
/* Rounding to bf16 */

/* VW floats -> their bf16 (kern_bf16_from_float) in the low half of each lane. */
INLINE vu vbf16(vf x)
{
    vu u = (vu)x;
    vi a = (vi)(u & 0x7fffffffu);
    vu nan = (vu)(a > 0x7f800000), zero = (vu)(a < 0x00800000);
    vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;          /* to nearest even; inf stays */
    r = (r & ~nan) | (((u >> 16) | 0x40u) & nan);           /* NaN: its upper half, quiet */
    return (r & ~zero) | ((u >> 16) & 0x8000u & zero);      /* zero, denormal: a signed zero */
}

/* The lanes of w (a bf16 in each low half) whose value is small: not zero, below 2^-50. */
INLINE vu vsmall(vu w)
{
    return (vu)(((w & 0x7fffu) - 1u) < ((127u - 50u) << 7) - 1u);
}

/* Lanes of pairs from two rows: bf16(r0[j]) | bf16(r1[j]) << 16 for j < l (<= VW), zeros after
 * (and for r1 NULL: the zero that pads an odd k); the small values are or-ed into *sm. */
INLINE vu vpair(const float *r0, const float *r1, int l, vu *sm)
{
    vf x0 = l == VW ? vload(r0) : vload_n(r0, l), x1 = {0};
    if (r1)
        x1 = l == VW ? vload(r1) : vload_n(r1, l);
    vu w0 = vbf16(x0), w1 = vbf16(x1);
    *sm |= vsmall(w0) | vsmall(w1);
    return w0 | w1 << 16;
}

/* Ab (m, ldab) = A (m, k) rounded to bf16, each row zero-padded from k to ldab (even): its
 * words are the rows' pairs. Returns whether some value is small. */
static int bf16_rows(int m, int k, const float *A, int lda, uint16_t *Ab, int ldab)
{
    vu sm = {0};
    for (int i = 0; i < m; i++) {
        const float *a = A + (size_t)i * lda;
        uint16_t *o = Ab + (size_t)i * ldab;
        int j = 0;
        for (; j + VW <= k; j += VW) {
            vu w = vbf16(vload(a + j));
            sm |= vsmall(w);
            vh h = __builtin_convertvector(w, vh);
            memcpy(o + j, &h, sizeof h);
        }
        if (j < k) {
            vu w = vbf16(vload_n(a + j, k - j));
            sm |= vsmall(w);
            vh h = __builtin_convertvector(w, vh);
            memcpy(o + j, &h, (size_t)(k - j) * sizeof *o);
        }
        memset(o + k, 0, (size_t)(ldab - k) * sizeof *o);
    }
    return vany(sm);
}

/* Pairs p0 .. p0 + kc of B (k, n) as the tiles read them: for each panel of NV VW columns (the
 * last has nv = ceil(columns left / VW) vectors, lanes past n zero), kc rows of nv VW words.
 * kc roundup(n, VW) words from o; the small values or-ed into *sm. */
static void pack_block(uint32_t *o, int p0, int kc, int k, int n, const float *B, int ldb, vu *sm)
{
    for (int j0 = 0; j0 < n; j0 += NV * VW) {
        int nv = (n - j0 + VW - 1) / VW < NV ? (n - j0 + VW - 1) / VW : NV;
        for (int p = p0; p < p0 + kc; p++) {
            const float *r0 = B + (size_t)2 * p * ldb + j0, *r1 = 2 * p + 1 < k ? r0 + ldb : NULL;
            for (int v = 0; v < nv; v++, o += VW) {
                int l = n - j0 - v * VW < VW ? n - j0 - v * VW : VW;
                vstore_w(o, vpair(r0 + v * VW, r1 ? r1 + v * VW : NULL, l, sm));
            }
        }
    }
}

/* Pairs p0 .. p0 + kc of the rows of A (k, m) (A^T's pairs): kc rows of ldm (m rounded up to
 * VW) words, word (p, i) = bf16(A[2p][i]) | bf16(A[2p + 1][i]) << 16. */
static void pack_at(uint32_t *o, int p0, int kc, int k, int m, int ldm, const float *A, int lda,
                    vu *sm)
{
    for (int p = p0; p < p0 + kc; p++, o += ldm) {
        const float *r0 = A + (size_t)2 * p * lda, *r1 = 2 * p + 1 < k ? r0 + lda : NULL;
        for (int i = 0; i < m; i += VW) {
            int l = m - i < VW ? m - i : VW;
            vstore_w(o + i, vpair(r0 + i, r1 ? r1 + i : NULL, l, sm));
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The products */

/* Register tile: C (mr, the first ncol of nv VW columns) += A's kc pairs of mr rows . B's
 * panel (kc rows of nv VW words). Row r's pair p is the word A[r rs + p ps]. chk: the checked
 * step (some input is small; never with the instruction). */
INLINE void tile_bf16(const int chk, const int mr, const int nv, int kc, const w32 *A, int rs,
                      int ps, const uint32_t *B, float *C, int ldc, int ncol)
{
    if (mr > MRB || nv > NV)            /* table entries beyond this set's tile: never called */
        return;
    vf acc[MRB][NV];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = (vf){0};
    for (int p = 0; p < kc; p++, A += ps, B += nv * VW) {
        vu b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            b[v] = vload_w(B + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            vu a = vbcast(A[(size_t)r * rs]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
#if KERN_BF16_NATIVE
                acc[r][v] = dpbf16(acc[r][v], a, b[v]), (void)chk;
#else
                acc[r][v] = chk ? dpbf16_checked(acc[r][v], a, b[v]) : dpbf16(acc[r][v], a, b[v]);
#endif
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *c = C + (size_t)r * ldc + v * VW;
            int l = ncol - v * VW;              /* columns of this vector in C */
            if (l >= VW)
                vstore(c, vload(c) + acc[r][v]);
            else if (l > 0)                     /* (always: nv counts such vectors) */
                vstore_n(c, vload_n(c, l) + acc[r][v], l);
        }
}

typedef void tile_bf16_fn(int kc, const w32 *A, int rs, int ps, const uint32_t *B, float *C,
                          int ldc, int ncol);

/* One function per (chk, mr, nv), in a table indexed [chk][mr-1][nv-1]. */
#define TILEB_DEF(CHK, R, V)                                                                   \
    static void tileb_##CHK##_##R##_##V(int kc, const w32 *A, int rs, int ps,                  \
                                        const uint32_t *B, float *C, int ldc, int ncol)        \
    { tile_bf16(CHK, R, V, kc, A, rs, ps, B, C, ldc, ncol); }
#define TILEB_DEF_V(CHK, R) TILEB_DEF(CHK, R, 1) TILEB_DEF(CHK, R, 2)
#define TILEB_DEF_R(CHK) TILEB_DEF_V(CHK, 1) TILEB_DEF_V(CHK, 2) TILEB_DEF_V(CHK, 3)          \
    TILEB_DEF_V(CHK, 4) TILEB_DEF_V(CHK, 5) TILEB_DEF_V(CHK, 6) TILEB_DEF_V(CHK, 7)           \
    TILEB_DEF_V(CHK, 8)
#define TILEB_ROW(CHK, R) { tileb_##CHK##_##R##_1, tileb_##CHK##_##R##_2 }
#define TILEB_TAB(CHK) { TILEB_ROW(CHK, 1), TILEB_ROW(CHK, 2), TILEB_ROW(CHK, 3),               \
                         TILEB_ROW(CHK, 4), TILEB_ROW(CHK, 5), TILEB_ROW(CHK, 6),               \
                         TILEB_ROW(CHK, 7), TILEB_ROW(CHK, 8) }
#if MRB > 8
#error "kern_impl_bf16.h: tiles are generated for MRB <= 8"
#endif
TILEB_DEF_R(0)
#if KERN_BF16_NATIVE
static tile_bf16_fn *const tiles_bf16[1][8][2] = { TILEB_TAB(0) };
#else
TILEB_DEF_R(1)
static tile_bf16_fn *const tiles_bf16[2][8][2] = { TILEB_TAB(0), TILEB_TAB(1) };
#endif

/* C (m, n) += the kc pairs of A's rows . B's k-block (packed as pack_block packs it), row r's
 * pair p the word A[r rs + p ps]: groups of MT row tiles (their A stays in cache), the
 * block's column panels, the group's tiles. */
static void gemm_bf16_block(int chk, int m, int n, int kc, const w32 *A, int rs, int ps,
                            const uint32_t *B, float *C, int ldc)
{
    int ntiles = (m + MRB - 1) / MRB;
    for (int t0 = 0; t0 < ntiles; t0 += MT) {
        int t1 = t0 + MT < ntiles ? t0 + MT : ntiles;
        const uint32_t *pb = B;
        for (int j0 = 0; j0 < n; j0 += NV * VW) {
            int nv = (n - j0 + VW - 1) / VW < NV ? (n - j0 + VW - 1) / VW : NV;
            for (int t = t0; t < t1; t++) {
                int i0 = tile_row(t, m, ntiles), mr = tile_row(t + 1, m, ntiles) - i0;
                tiles_bf16[chk][mr - 1][nv - 1](kc, A + (size_t)i0 * rs, rs, ps, pb,
                                                 C + (size_t)i0 * ldc + j0, ldc, n - j0);
            }
            pb += (size_t)kc * nv * VW;
        }
    }
}

/* Packed B: the header (word 0: some value is small), then for each k-block of KERN_BF16_KB
 * pairs (kc in the last) pack_block's kc roundup(n, VW) words. */
static void pack_b_bf16(int k, int n, const float *B, int ldb, uint32_t *Bp)
{
    int k2 = (k + 1) / 2;
    size_t nr = (size_t)(n + VW - 1) / VW * VW;
    vu sm = {0};
    memset(Bp, 0, KERN_BF16_HEAD * sizeof *Bp);
    for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
        int kc = k2 - p0 < KERN_BF16_KB ? k2 - p0 : KERN_BF16_KB;
        pack_block(Bp + KERN_BF16_HEAD + (size_t)p0 * nr, p0, kc, k, n, B, ldb, &sm);
    }
    Bp[0] = (uint32_t)vany(sm);
}

/* C (m, n) += A (m, k) . B, B packed: A rounded into work as rows of pairs, then each k-block. */
static void gemm_nn_bf16(int m, int n, int k, const float *A, int lda, const uint32_t *Bp,
                         float *C, int ldc, void *work)
{
    int k2 = (k + 1) / 2;
    size_t nr = (size_t)(n + VW - 1) / VW * VW;
    int small = bf16_rows(m, k, A, lda, work, 2 * k2);
    int chk = !KERN_BF16_NATIVE && (small || Bp[0]);
    const w32 *a = work;
    for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
        int kc = k2 - p0 < KERN_BF16_KB ? k2 - p0 : KERN_BF16_KB;
        gemm_bf16_block(chk, m, n, kc, a + p0, k2, 1, Bp + KERN_BF16_HEAD + (size_t)p0 * nr, C, ldc);
    }
}

/* C (m, n) += A^T . B,  A (k, m), B (k, n): each k-block's pairs of rows of A and of B packed
 * into work, then its products. */
static void gemm_tn_bf16(int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                         float *C, int ldc, void *work)
{
    int k2 = (k + 1) / 2, ldm = (m + VW - 1) / VW * VW;
    int kb = k2 < KERN_BF16_KB ? k2 : KERN_BF16_KB;
    uint32_t *at = work, *bb = at + (size_t)kb * ldm;
    for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
        int kc = k2 - p0 < KERN_BF16_KB ? k2 - p0 : KERN_BF16_KB;
        vu sm = {0};
        pack_at(at, p0, kc, k, m, ldm, A, lda, &sm);
        pack_block(bb, p0, kc, k, n, B, ldb, &sm);
        gemm_bf16_block(!KERN_BF16_NATIVE && vany(sm), m, n, kc, at, 1, ldm, bb, C, ldc);
    }
}
