/* test_bf16.c - the bf16 products: the scalar semantics of vcvtneps2bf16 and vdpbf16ps (kern.h)
 * against cases computed by hand (ties to even, NaN, infinity, denormal inputs, the order of
 * the pair's adds, the flush of tiny results) and the flush against an independent exact
 * computation in integers; then every kernel set's bf16 products (gemm_nn_bf16 with
 * pack_b_bf16, gemm_tn_bf16) bit for bit against kern.h's definition written out here from
 * kern_bf16_dot, on ragged shapes, with data that takes the emulation's fast step, its checked
 * step (values down to denormals, products that must be flushed) and NaN and infinity; then the
 * training step with bf16 products (lstm.h's LSTM_BF16) against the float one within bounds
 * drawn from bf16's precision, for the three cells. Sets the CPU cannot run are reported as
 * SKIP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kern.h"
#include "lstm.h"
#include "rng.h"

static rng_t rng;

#if defined(__x86_64__)
extern const kern_ops kern_avx512bf16_on_avx2;     /* tests/kern_w16_avx2.c */
#endif

static float f_of(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
static uint32_t u_of(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

/* a pair of bf16 (element 1 in the upper half) from two bf16 bit patterns */
#define pair(e1, e0) ((uint32_t)(e1) << 16 | (uint32_t)(e0))

static void test_from_float(void)
{
    static const struct { uint32_t in; uint16_t out; const char *what; } c[] = {
        { 0x3f800000, 0x3f80, "1" },
        { 0x3f808000, 0x3f80, "a tie rounds down to the even 0x3f80" },
        { 0x3f818000, 0x3f82, "a tie rounds up to the even 0x3f82" },
        { 0xbf818000, 0xbf82, "a negative tie, to even" },
        { 0x3f808001, 0x3f81, "above the tie" },
        { 0x3f807fff, 0x3f80, "below the tie" },
        { 0x3f7fffff, 0x3f80, "just below 1 rounds to 1" },
        { 0x00ff8000, 0x0100, "a carry into the exponent" },
        { 0x0080ffff, 0x0081, "the smallest normals round" },
        { 0x00800000, 0x0080, "2^-126 stays" },
        { 0x7f7f7fff, 0x7f7f, "below the tie at the largest bf16" },
        { 0x7f7f8000, 0x7f80, "a tie past the largest bf16: infinity" },
        { 0x7f7fffff, 0x7f80, "the largest float rounds to infinity" },
        { 0x7f800000, 0x7f80, "infinity" },
        { 0xff800000, 0xff80, "-infinity" },
        { 0x7fc00000, 0x7fc0, "a quiet NaN" },
        { 0x7f800001, 0x7fc0, "a signalling NaN whose payload is all in the lower half: quiet, not infinity" },
        { 0xffa12345, 0xffe1, "a NaN keeps its sign and upper payload" },
        { 0x00000001, 0x0000, "a denormal becomes zero" },
        { 0x807fffff, 0x8000, "a negative denormal becomes -0" },
        { 0x80000000, 0x8000, "-0" },
        { 0x00000000, 0x0000, "+0" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint16_t h = kern_bf16_from_float(f_of(c[i].in));
        CHECK(h == c[i].out, "%08x (%s): 0x%04x, want 0x%04x", c[i].in, c[i].what, h, c[i].out);
    }
    CHECK(u_of(kern_bf16_to_float(0xbf82)) == 0xbf820000, "to_float puts the bits in the upper half");
    /* every bf16 that is not NaN goes through float and back unchanged, but the denormals */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        int nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f), den = (h & 0x7f80) == 0 && (h & 0x7f);
        if (!nan && !den && kern_bf16_from_float(kern_bf16_to_float((uint16_t)h)) != h)
            bad++;
    }
    CHECK(bad == 0, "%d bf16 values do not survive the round trip", bad);
}

static void test_fma(void)
{
    static const struct { float a, b, c; uint32_t want; const char *what; } t[] = {
        { 1.5f, 2.0f, 0.25f, 0x40500000, "3.25" },
        { 0x1p-70f, 0x1p-70f, 0.0f, 0x00000000, "2^-140 is flushed" },
        { -0x1p-70f, 0x1p-70f, 0.0f, 0x80000000, "-2^-140 is flushed to -0" },
        { 0x1p-100f, 0x1p-30f, 0.0f, 0x00000000, "an exact denormal result is flushed" },
        /* 2^-126 - 2^-150 is a float only with an unbounded exponent (0x1.fffffep-127): tiny,
         * flushed; fmaf's rounding to the denormal grid gives the tie's even 2^-126 */
        { -0x1p-75f, 0x1p-75f, 0x1p-126f, 0x00000000, "2^-126 - 2^-150 is tiny after rounding" },
        /* 2^-126 - 1.5 2^-151 rounds to 0x1.fffffep-127 at 24 bits: flushed (fmaf: 2^-126) */
        { -0x1.8p-76f, 0x1p-75f, 0x1p-126f, 0x00000000, "2^-126 - 1.5 2^-151 rounds below 2^-126" },
        /* 2^-126 - 2^-152 rounds up to 2^-126 at 24 bits: not tiny, kept */
        { -0x1p-76f, 0x1p-76f, 0x1p-126f, 0x00800000, "2^-126 - 2^-152 rounds to 2^-126" },
        { 0.0f, 1.0f, 0x1p-126f, 0x00800000, "2^-126 itself" },
        { 0x1p100f, 0x1p100f, 0.0f, 0x7f800000, "overflow: infinity" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        float r = kern_bf16_fma(t[i].a, t[i].b, t[i].c);
        CHECK(u_of(r) == t[i].want, "fma(%a, %a, %a) (%s): %a (%08x), want %08x", t[i].a, t[i].b,
              t[i].c, t[i].what, r, u_of(r), t[i].want);
    }
    CHECK(isnan(kern_bf16_fma(INFINITY, 0.0f, 1.0f)), "inf 0 is NaN");
    CHECK(isnan(kern_bf16_fma(INFINITY, 1.0f, -INFINITY)), "inf - inf is NaN");
}

/* An independent kern_bf16_fma for results near 2^-126: a b + c exactly, as an integer count of
 * 2^-200 (|a b|, |c| < 2^-74, a b a multiple of 2^-200, so it fits in 127 bits), rounded to 24
 * bits to nearest even, flushed when below 2^-126. */
static float ref_fma_small(float a, float b, float c)
{
    int ea, eb, ec;                                       /* |a| = ma 2^(ea - 24), ... */
    unsigned __int128 ma = (unsigned __int128)ldexp(fabsf(frexpf(a, &ea)), 24);
    unsigned __int128 mb = (unsigned __int128)ldexp(fabsf(frexpf(b, &eb)), 24);
    unsigned __int128 mc = (unsigned __int128)ldexp(fabsf(frexpf(c, &ec)), 24);
    int sp = ea + eb - 48 + 200, sc = ec - 24 + 200;     /* shifts into units of 2^-200 */
    unsigned __int128 tp = sp >= 0 ? (ma * mb) << sp : 0, tc = c != 0 ? mc << sc : 0;
    int np = (a < 0) != (b < 0), nc = c < 0, neg;
    unsigned __int128 m;                                  /* |a b + c|, and its sign */
    if (np == nc || tp >= tc) {
        m = np == nc ? tp + tc : tp - tc;
        neg = np;
    } else {
        m = tc - tp;
        neg = nc;
    }
    if (m == 0)
        return 0.0f;                                      /* (not drawn) */
    int nb = 0;
    while (nb < 128 && (m >> nb) != 0)
        nb++;
    int shift = nb > 24 ? nb - 24 : 0;
    unsigned __int128 q = m >> shift;
    if (shift > 0) {
        unsigned __int128 rem = m & (((unsigned __int128)1 << shift) - 1), half = (unsigned __int128)1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        if (q == ((unsigned __int128)1 << 24)) {
            q >>= 1;
            shift++;
        }
    }
    /* the value is q 2^(shift - 200), q in [2^23, 2^24) when nb >= 24: below 2^-126 when
     * shift - 200 + 23 < -126 */
    if (nb < 24 || shift < 51)
        return neg ? -0.0f : 0.0f;
    float r = ldexpf((float)q, shift - 200);
    return neg ? -r : r;
}

/* a bf16 value (as float) with a random significand, sign and the exponent e */
static float bf16_at(int e)
{
    float f = ldexpf(1.0f + (float)rng_below(&rng, 128) / 128.0f, e);
    return rng_below(&rng, 2) ? -f : f;
}

static void test_fma_flush_boundary(void)
{
    int bad = 0, tiny = 0, kept_near = 0;
    for (int i = 0; i < 200000; i++) {
        float a = bf16_at(-70 + (int)rng_below(&rng, 16)), b, c;
        int ea = (int)floorf(log2f(fabsf(a)));
        if (i % 3 == 0) {                                 /* c cancels a b to a few of its units */
            b = bf16_at(-125 - ea + (int)rng_below(&rng, 6));
            c = -(a * b);                                 /* exact: 16-bit significand, normal */
            for (int k = (int)rng_below(&rng, 9) - 4; k != 0; k += k > 0 ? -1 : 1)
                c = nextafterf(c, k > 0 ? INFINITY : -INFINITY);
        } else if (i % 3 == 1) {                          /* 2^-126 and a little, less a tiny a b */
            b = bf16_at(-149 - ea + (int)rng_below(&rng, 7) - 3);
            c = 0x1p-126f + (float)rng_below(&rng, 8) * 0x1p-149f;
            if (signbit(a) == signbit(b))                 /* the product takes away */
                c = -c;
        } else {                                          /* anything near 2^-126 */
            b = bf16_at(-126 - ea + (int)rng_below(&rng, 4) - 2);
            c = ldexpf((float)(rng_below(&rng, 1 << 24) | 1 << 23) / (float)(1 << 24),
                       -125 + (int)rng_below(&rng, 3)) * (rng_below(&rng, 2) ? -1.0f : 1.0f);
        }
        if (a * b + c == 0.0f && fmaf(a, b, c) == 0.0f)
            continue;                                     /* (an exact zero: not the oracle's case) */
        float r = kern_bf16_fma(a, b, c), want = ref_fma_small(a, b, c);
        if (u_of(r) != u_of(want)) {
            if (bad++ < 5)
                CHECK(0, "fma(%a, %a, %a) = %a, exact rounding %a", a, b, c, r, want);
        }
        tiny += want == 0.0f;
        kept_near += fabsf(want) == 0x1p-126f;
    }
    CHECK(bad == 0, "%d of 200000 differ", bad);
    /* the draws reach both sides of the boundary */
    CHECK(tiny > 1000 && kept_near > 100, "the draws hit the boundary too rarely: %d flushed, %d at 2^-126",
          tiny, kept_near);
}

static void test_dot(void)
{
    static const struct { float acc; uint32_t a, b, want; const char *what; } t[] = {
        /* 10 + 1.5 * 3 + 2 * 0.5 */
        { 10.0f, 0x3fc04000, 0x40403f00, 0x41780000, "15.5" },
        /* 1 + (-1)(1) = 0 first, then + 2^-30: the upper pair first (the other order loses 2^-30) */
        { 1.0f, pair(0xbf80, 0x3080), pair(0x3f80, 0x3f80), 0x30800000, "the upper pair is added first" },
        /* 1 + 2^-24 is a tie (to 1), twice: rounded after each product, not once at the end */
        { 1.0f, pair(0x3380, 0x3380), pair(0x3f80, 0x3f80), 0x3f800000, "each product's add is rounded" },
        /* 2^-133 (a bf16 denormal) 2^126 would be 2^-7: it is zero */
        { 1.0f, pair(0x0001, 0x0000), pair(0x7e80, 0x0000), 0x3f800000, "a denormal input is zero" },
        /* the accumulator 2^-140 (denormal) is zero too */
        { 0x1p-140f, 0, 0, 0x00000000, "a denormal accumulator is zero" },
        /* 0 + 0 0, then + (-2^-70)(2^-70): -2^-140, tiny: -0 */
        { 0.0f, pair(0x0000, 0x9c80), pair(0x0000, 0x1c80), 0x80000000, "a tiny result is a zero of its sign" },
        /* 2^-126 + (-1.5 2^-76)(2^-75): below 2^-126 after rounding to 24 bits: flushed */
        { 0x1p-126f, pair(0x99c0, 0x0000), pair(0x1a00, 0x0000), 0x00000000, "flushed after rounding" },
        /* 2^127 + the largest float: infinity */
        { 0x1.fffffep127f, pair(0x7f00, 0x0000), pair(0x3f80, 0x0000), 0x7f800000, "overflow" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        float r = kern_bf16_dot(t[i].acc, t[i].a, t[i].b);
        CHECK(u_of(r) == t[i].want, "dot(%a, %08x, %08x) (%s): %a (%08x), want %08x", t[i].acc,
              t[i].a, t[i].b, t[i].what, r, u_of(r), t[i].want);
    }
    CHECK(isnan(kern_bf16_dot(1.0f, pair(0x7fc0, 0), pair(0x3f80, 0))), "NaN in, NaN out");
    CHECK(isnan(kern_bf16_dot(1.0f, pair(0, 0x7f80), pair(0, 0))), "inf 0 is NaN");
    CHECK(isnan(kern_bf16_dot(-INFINITY, pair(0x7f80, 0), pair(0x3f80, 0))), "-inf + inf is NaN");
}

/* ---------------------------------------------------------------------------------------- */
/* The products of every set */

static const kern_ops *K;            /* the set under test */

enum { DATA_NORMAL, DATA_WIDE, DATA_SPECIAL };

/* n values: uniform in (-1, 1); DATA_WIDE: a quarter of them 2^-150 .. 2^-30 (denormal floats,
 * values that round to bf16 denormals, products that are tiny), some zeros; DATA_SPECIAL: a few
 * NaN and infinities among the uniform ones. */
static float *draw(size_t n, int kind)
{
    float *a = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
        uint64_t r = rng_below(&rng, 64);
        if (kind == DATA_WIDE && r < 16)
            a[i] = ldexpf(a[i], -(int)rng_below(&rng, 120) - 30);
        else if (kind == DATA_WIDE && r < 18)
            a[i] = r == 16 ? 0.0f : -0.0f;
        else if (kind == DATA_SPECIAL && r == 0)
            a[i] = rng_below(&rng, 3) == 0 ? NAN : rng_below(&rng, 2) ? INFINITY : -INFINITY;
    }
    return a;
}

/* kern.h's definition: C (m, n) += op(A) . B with op(A) (i, p) = A[p lda + i] when ta, else
 * A[i lda + p]; dot: kern_bf16_dot, or (plain) an FMA per product without the instruction's
 * flushes (to show that the data needs them). */
static void ref_products(int ta, int plain, int m, int n, int k, const float *A, int lda,
                         const float *B, int ldb, float *C, int ldc)
{
    int k2 = (k + 1) / 2;
    uint16_t *a = calloc((size_t)m * 2 * k2, 2), *b = calloc((size_t)2 * k2 * n, 2);  /* rounded */
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
            a[(size_t)i * 2 * k2 + p] = kern_bf16_from_float(ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]);
    for (int p = 0; p < k; p++)
        for (int j = 0; j < n; j++)
            b[(size_t)p * n + j] = kern_bf16_from_float(B[(size_t)p * ldb + j]);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float c = C[(size_t)i * ldc + j];
            for (int p0 = 0; p0 < k2; p0 += KERN_BF16_KB) {
                float acc = 0.0f;
                for (int p = p0; p < k2 && p < p0 + KERN_BF16_KB; p++) {
                    const uint16_t *ap = a + (size_t)i * 2 * k2 + 2 * p, *b0 = b + (size_t)2 * p * n + j;
                    if (plain)
                        acc = fmaf(kern_bf16_to_float(ap[0]), kern_bf16_to_float(b0[0]),
                                   fmaf(kern_bf16_to_float(ap[1]), kern_bf16_to_float(b0[n]), acc));
                    else
                        acc = kern_bf16_dot(acc, pair(ap[1], ap[0]), pair(b0[n], b0[0]));
                }
                c += acc;
            }
            C[(size_t)i * ldc + j] = c;
        }
    free(a);
    free(b);
}

/* Elements of C (m, n) (rows ld apart) that differ from R but for NaN against NaN; the columns
 * past n must be R's exactly. */
static int count_diff(const float *C, const float *R, int m, int n, int ld, int *first)
{
    int d = 0;
    *first = -1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ld; j++) {
            float c = C[(size_t)i * ld + j], r = R[(size_t)i * ld + j];
            int ok = (j < n && c != c && r != r) || u_of(c) == u_of(r);
            if (!ok && d++ == 0)
                *first = i * ld + j;
        }
    return d;
}

/* 64-byte aligned memory with 64 guard bytes of 0xa5 after n bytes */
static void *guarded(size_t n)
{
    unsigned char *p = aligned_alloc(64, (n + 64 + 63) / 64 * 64);
    memset(p, 0xa5, (n + 64 + 63) / 64 * 64);
    return p;
}
static int guard_ok(const void *p, size_t n)
{
    const unsigned char *g = (const unsigned char *)p + n;
    for (int i = 0; i < 64; i++)
        if (g[i] != 0xa5)
            return 0;
    return 1;
}

/* kind 0: gemm_nn_bf16 with pack_b_bf16, 1: gemm_tn_bf16; against the definition */
static int check_products(int tn, int m, int n, int k, int data)
{
    int lda = (tn ? m : k) + 3, ldb = n + 5, ldc = n + 2;
    float *A = draw((size_t)(tn ? k : m) * lda, data), *B = draw((size_t)k * ldb, data);
    float *C = draw((size_t)m * ldc, DATA_NORMAL);
    if (data == DATA_WIDE)                     /* half the rows start at zero: a tiny sum shows */
        memset(C, 0, (size_t)(m / 2) * ldc * sizeof(float));
    float *R = malloc((size_t)m * ldc * sizeof(float)), *P = malloc((size_t)m * ldc * sizeof(float));
    memcpy(R, C, (size_t)m * ldc * sizeof(float));
    memcpy(P, C, (size_t)m * ldc * sizeof(float));
    ref_products(tn, 0, m, n, k, A, lda, B, ldb, R, ldc);
    size_t ws = kern_bf16_work_size(m, n, k), ps = kern_bf16_pack_size(k, n) * sizeof(uint32_t);
    void *work = guarded(ws);
    uint32_t *Bp = guarded(ps);
    if (tn)
        K->gemm_tn_bf16(m, n, k, A, lda, B, ldb, C, ldc, work);
    else {
        K->pack_b_bf16(k, n, B, ldb, Bp);
        K->gemm_nn_bf16(m, n, k, A, lda, Bp, C, ldc, work);
    }
    int first, d = count_diff(C, R, m, n, ldc, &first);
    CHECK(d == 0, "%s gemm_%s_bf16 m=%d n=%d k=%d data %d: %d elements differ, first (%d, %d): %a, want %a",
          K->name, tn ? "tn" : "nn", m, n, k, data, d, first / ldc, first % ldc, C[first < 0 ? 0 : first],
          R[first < 0 ? 0 : first]);
    CHECK(guard_ok(work, ws) && guard_ok(Bp, ps), "%s gemm_%s_bf16 m=%d n=%d k=%d: wrote past the "
          "workspace or the pack", K->name, tn ? "tn" : "nn", m, n, k);
    int flushes = 0;                                        /* what the flushes changed */
    if (data == DATA_WIDE) {
        ref_products(tn, 1, m, n, k, A, lda, B, ldb, P, ldc);
        flushes = count_diff(P, R, m, n, ldc, &first);
    }
    free(A); free(B); free(C); free(R); free(P); free(work); free(Bp);
    return flushes;
}

static void test_products(void)
{
    static const int ms[] = { 1, 2, 5, 9, 17, 34 }, ns[] = { 1, 3, 8, 15, 33, 65 };
    static const int ks[] = { 1, 2, 7, 16, 33, 2 * KERN_BF16_KB + 3 };
    int flushes = 0;
    for (int tn = 0; tn < 2; tn++)
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                for (int c = 0; c < 6; c++)
                    for (int data = 0; data < 3; data++)
                        if ((data == DATA_NORMAL || (a + b + c) % 3 == data) && (c < 5 || (a + b) % 4 == 0))
                            flushes += check_products(tn, ms[a], ns[b], ks[c], data);
    CHECK(flushes > 0, "the wide data never needed the instruction's flushes");
}

/* The cases of test_dot that a product can hold (its sums start at +0 and take floats), through
 * the set's gemm_nn_bf16 and gemm_tn_bf16: on a CPU with AVX512_BF16 they name the rule in
 * which the instruction and kern.h's reading of Intel's pseudo-code part, if they ever do. */
static void test_products_cases(void)
{
    static const struct { float a[4], b[4], c0; uint32_t want; const char *what; } t[] = {
        { { 1, 0, 0x1p-30f, -1 }, { 1, 0, 1, 1 }, 0, 0x30800000, "the upper pair is added first" },
        { { 1, 0, 0x1p-24f, 0x1p-24f }, { 1, 1, 1, 1 }, 0, 0x3f800000, "each product's add is rounded" },
        { { -0x1p-70f, 0, 0, 0 }, { 0x1p-70f, 0, 0, 0 }, -0.0f, 0x80000000, "a tiny result is a zero of its sign" },
        { { 0x1p-63f, 0, 0, -0x1.8p-76f }, { 0x1p-63f, 0, 0, 0x1p-75f }, 0, 0x00000000,
          "2^-126 - 1.5 2^-151 is flushed (tiny after rounding to 24 bits)" },
        { { 0x1p-63f, 0, 0, -0x1p-76f }, { 0x1p-63f, 0, 0, 0x1p-76f }, 0, 0x00800000,
          "2^-126 - 2^-152 rounds to 2^-126 and stays" },
        { { 1.5f, 2, 0.25f, 3 }, { 3, 0.5f, 8, -1 }, 10, 0x41680000, "10 + (1 + 4.5 - 3 + 2) = 14.5" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int k = t[i].a[2] == 0 && t[i].a[3] == 0 && t[i].b[2] == 0 && t[i].b[3] == 0 ? 2 : 4;
        uint32_t *Bp = guarded(kern_bf16_pack_size(k, 1) * sizeof(uint32_t));
        void *work = guarded(kern_bf16_work_size(1, 1, k));
        float c[2] = { t[i].c0, t[i].c0 };
        K->pack_b_bf16(k, 1, t[i].b, 1, Bp);
        K->gemm_nn_bf16(1, 1, k, t[i].a, k, Bp, &c[0], 1, work);
        K->gemm_tn_bf16(1, 1, k, t[i].a, 1, t[i].b, 1, &c[1], 1, work);
        for (int tn = 0; tn < 2; tn++)
            CHECK(u_of(c[tn]) == t[i].want, "%s gemm_%s_bf16 (%s): %a (%08x), want %08x", K->name,
                  tn ? "tn" : "nn", t[i].what, c[tn], u_of(c[tn]), t[i].want);
        free(Bp);
        free(work);
    }
}

/* The shapes of training: a step's recurrent product (b = 32, H = 128, 4H gates), its
 * backward product, the weight gradient over T b rows, more rows than a group of tiles, more
 * than one k-block. */
static void test_products_model_shapes(void)
{
    check_products(0, 32, 512, 128, DATA_NORMAL);
    check_products(0, 32, 128, 512, DATA_NORMAL);
    check_products(1, 128, 512, 40 * 32, DATA_NORMAL);
    check_products(0, 300, 40, 1100, DATA_NORMAL);
    check_products(1, 300, 40, 1100, DATA_WIDE);
    check_products(0, 37, 300, 1100, DATA_WIDE);
}

/* ---------------------------------------------------------------------------------------- */
/* The training step in bf16 */

enum { TV = 13, TH = 19, TL = 2, TT = 8, TB = 6 };     /* an odd H: the GRU's 3H is odd too */
static const double U = 0x1p-9;                         /* bf16's unit roundoff */

typedef struct step {
    lstm_dims d;
    float *flat, *rounded;      /* the parameters; the same with every product's weights in bf16 */
    lstm_params p, pr;
    int32_t *x, *y;
    float *h0, *c0;
    lstm_work *w;
} step;

static void step_new(step *t, int cell)
{
    t->d = (lstm_dims){ TV, TH, TL, cell };
    size_t n = lstm_nparams(t->d), ns = (size_t)TL * TB * TH;
    t->flat = malloc(n * sizeof(float));
    t->rounded = malloc(n * sizeof(float));
    lstm_bind(&t->p, t->flat, t->d);
    lstm_init_keras(&t->p, &rng);
    for (size_t i = 0; i < n; i++)                      /* (so biases and gates are not trivial) */
        t->flat[i] += (float)(0.3 * rng_normal(&rng) / sqrt(TH));
    memcpy(t->rounded, t->flat, n * sizeof(float));
    lstm_bind(&t->pr, t->rounded, t->d);
    size_t G = (size_t)cell_gates(cell) * TH;
    for (int l = 0; l < TL; l++)
        for (size_t i = 0; i < TH * G; i++) {
            t->pr.layer[l].recurrent[i] = kern_bf16_to_float(kern_bf16_from_float(t->pr.layer[l].recurrent[i]));
            if (l > 0)
                t->pr.layer[l].kernel[i] = kern_bf16_to_float(kern_bf16_from_float(t->pr.layer[l].kernel[i]));
        }
    t->x = malloc(TB * TT * sizeof(int32_t));
    t->y = malloc(TB * TT * sizeof(int32_t));
    for (int i = 0; i < TB * TT; i++) {
        t->x[i] = (int32_t)rng_below(&rng, TV);
        t->y[i] = (int32_t)rng_below(&rng, TV);
    }
    t->h0 = malloc(ns * sizeof(float));
    t->c0 = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++) {
        t->h0[i] = (float)(0.5 * rng_normal(&rng));
        t->c0[i] = (float)rng_normal(&rng);
    }
    t->w = lstm_work_new(t->d, TT, TB);
}

static void step_free(step *t)
{
    lstm_work_free(t->w);
    free(t->flat); free(t->rounded); free(t->x); free(t->y); free(t->h0); free(t->c0);
}

/* The gradient (into g, nparams floats) and the loss of one step on parameters p, carried
 * state and dropout as char-rnn trains, with the products in precision prec. */
static double step_grad(const kern_ops *k, step *t, const lstm_params *p, int prec, float *g)
{
    lstm_params gp;
    memset(g, 0, lstm_nparams(t->d) * sizeof(float));
    lstm_bind(&gp, g, t->d);
    rng_t r;
    rng_seed(&r, 11);                                   /* the same dropout masks every time */
    lstm_seq s = { .per_position = 1, .h0 = t->h0, .c0 = t->c0, .dropout = 0.2f, .rng = &r,
                   .precision = prec };
    return lstm_train_seq(k, p, &gp, t->w, TB, TT, t->x, t->y, 1.0f / (TB * TT), &s);
}

/* max |a - b| over n values, and max |b| into *mx */
static double max_diff(const float *a, const float *b, size_t n, double *mx)
{
    double d = 0;
    *mx = 1e-30;
    for (size_t i = 0; i < n; i++) {
        d = check_max(d, fabs((double)a[i] - b[i]));
        *mx = check_max(*mx, fabs(b[i]));
    }
    return d;
}

/* The bf16 step's gradient against the float step's. A product whose operands are rounded to
 * bf16 is off by at most 2u of the sum of its terms' magnitudes (u = 2^-9); through the steps
 * and layers the float and bf16 gradients of the LSTM and the GRU stay within a few u of each
 * tensor's largest (measured: at most 4u over 1000 draws of models up to H 48, T 13): the
 * bound is 16u. The lnlstm normalises each gate block by its spread, which magnifies any
 * rounding in an ill-conditioned draw: there the float gradient moves as far (up to 27% in
 * 800 draws) when only the weights are rounded to bf16. Its bound is 4 times that movement
 * plus 16u of the largest gradient (measured: at most 1.6 times). And bf16 is in effect:
 * the gradients differ by at least u/32 of the largest (measured: at least 0.09u). */
static void check_train_bf16(int cell)
{
    step t;
    step_new(&t, cell);
    size_t n = lstm_nparams(t.d);
    float *g32 = malloc(n * sizeof(float)), *g16 = malloc(n * sizeof(float));
    float *gw = malloc(n * sizeof(float)), *g16b = malloc(n * sizeof(float));
    double l32 = step_grad(K, &t, &t.p, LSTM_FP32, g32);
    double l16 = step_grad(K, &t, &t.p, LSTM_BF16, g16);
    CHECK(isnan(l16), "%s %s: bf16 on a work area without lstm_work_bf16 is NAN, not %g", K->name,
          cell_name(cell), l16);
    CHECK(lstm_work_bf16(t.w) == 0, "lstm_work_bf16: out of memory");
    l16 = step_grad(K, &t, &t.p, LSTM_BF16, g16);
    step_grad(K, &t, &t.pr, LSTM_FP32, gw);
    double mx, all = max_diff(g16, g32, n, &mx), moved = max_diff(gw, g32, n, &mx);
    char name[64];
    if (cell == CELL_LNLSTM)
        CHECK(all <= 4 * (moved + 16 * U * mx), "%s %s: the bf16 gradient is %.3g of the largest away, "
              "rounding the weights alone %.3g", K->name, cell_name(cell), all / mx, moved / mx);
    else
        for (int k = 0; k < lstm_ntensors(t.d); k++) {
            size_t o = lstm_tensor_offset(t.d, k), e = lstm_tensor_offset(t.d, k + 1);
            double tm, d = max_diff(g16 + o, g32 + o, e - o, &tm);
            CHECK(d <= 16 * U * tm, "%s %s: the gradient of %s is %.3g u of its largest from float's",
                  K->name, cell_name(cell), lstm_tensor_name(t.d, k, name, sizeof name), d / tm / U);
        }
    CHECK(all >= U / 32 * mx, "%s %s: the bf16 gradient is float's within %.3g u: is bf16 in effect?",
          K->name, cell_name(cell), all / mx / U);
    CHECK(fabs(l16 - l32) <= 16 * U * fabs(l32), "%s %s: loss %.6f in bf16, %.6f in float", K->name,
          cell_name(cell), l16, l32);
    /* the same again: the bf16 step is a function of its inputs */
    double l16b = step_grad(K, &t, &t.p, LSTM_BF16, g16b);
    CHECK(l16b == l16 && memcmp(g16, g16b, n * sizeof(float)) == 0, "%s %s: two bf16 steps differ",
          K->name, cell_name(cell));
    /* forward only: the training step's loss */
    rng_t r;
    rng_seed(&r, 11);
    lstm_seq s = { .per_position = 1, .h0 = t.h0, .c0 = t.c0, .precision = LSTM_BF16 };
    double lf = lstm_forward_seq(K, &t.p, t.w, TB, TT, t.x, t.y, NULL, &s);
    s.precision = LSTM_FP32;
    double lf32 = lstm_forward_seq(K, &t.p, t.w, TB, TT, t.x, t.y, NULL, &s);
    CHECK(fabs(lf - lf32) <= 16 * U * fabs(lf32) && lf != lf32, "%s %s: forward loss %.6f in bf16, "
          "%.6f in float", K->name, cell_name(cell), lf, lf32);
    s.precision = 7;
    CHECK(isnan(lstm_forward_seq(K, &t.p, t.w, TB, TT, t.x, t.y, NULL, &s)), "an unknown precision is NAN");
    step_free(&t);
    free(g32); free(g16); free(gw); free(g16b);
}

/* Which products a step runs: a set that counts the calls into another (inner). */
static const kern_ops *inner;
static int n_nn, n_tn, n_packed, n_pack, n_nn16, n_tn16, n_pack16;
static void c_gemm_nn(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{ n_nn++; inner->gemm_nn(m, n, k, A, lda, B, ldb, C, ldc); }
static void c_gemm_tn(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{ n_tn++; inner->gemm_tn(m, n, k, A, lda, B, ldb, C, ldc); }
static void c_pack_b(int k, int n, const float *B, int ldb, float *Bp)
{ n_pack++; inner->pack_b(k, n, B, ldb, Bp); }
static void c_gemm_nn_packed(int m, int n, int k, const float *A, int lda, const float *Bp, float *C, int ldc)
{ n_packed++; inner->gemm_nn_packed(m, n, k, A, lda, Bp, C, ldc); }
static void c_pack_b_bf16(int k, int n, const float *B, int ldb, uint32_t *Bp)
{ n_pack16++; inner->pack_b_bf16(k, n, B, ldb, Bp); }
static void c_gemm_nn_bf16(int m, int n, int k, const float *A, int lda, const uint32_t *Bp, float *C, int ldc, void *work)
{ n_nn16++; inner->gemm_nn_bf16(m, n, k, A, lda, Bp, C, ldc, work); }
static void c_gemm_tn_bf16(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc, void *work)
{ n_tn16++; inner->gemm_tn_bf16(m, n, k, A, lda, B, ldb, C, ldc, work); }

/* A bf16 step runs every recurrent and input product in bf16 (none falls back to float) and the
 * dense layer's three in float; a float step runs none in bf16. Counted for L = 2 and T steps:
 * packs R, K1 forward and their transposes backward; a recurrent product per step and layer
 * forward (the state is carried), per step but the first backward, one input product each way;
 * a weight gradient for each R and for K1. */
static void test_train_bf16_products(void)
{
    kern_ops counting = *K;
    inner = K;
    counting.gemm_nn = c_gemm_nn;
    counting.gemm_tn = c_gemm_tn;
    counting.pack_b = c_pack_b;
    counting.gemm_nn_packed = c_gemm_nn_packed;
    counting.pack_b_bf16 = c_pack_b_bf16;
    counting.gemm_nn_bf16 = c_gemm_nn_bf16;
    counting.gemm_tn_bf16 = c_gemm_tn_bf16;
    for (int cell = 0; cell <= CELL_LNLSTM; cell++) {
        step t;
        step_new(&t, cell);
        lstm_work_bf16(t.w);
        float *g = malloc(lstm_nparams(t.d) * sizeof(float));
        for (int prec = LSTM_FP32; prec <= LSTM_BF16; prec++) {
            n_nn = n_tn = n_packed = n_pack = n_nn16 = n_tn16 = n_pack16 = 0;
            step_grad(&counting, &t, &t.p, prec, g);
            int f32 = prec == LSTM_FP32;
            CHECK(n_nn == 2 && n_tn == (f32 ? 1 + 2 * TL - 1 : 1), "%s %s: float gemm_nn %d times, gemm_tn %d",
                  cell_name(cell), lstm_precision_name(prec), n_nn, n_tn);
            CHECK(n_pack == (f32 ? 4 * TL - 2 : 0) && n_packed == (f32 ? 2 * TL * TT + TL - 2 : 0),
                  "%s %s: float pack_b %d times, gemm_nn_packed %d", cell_name(cell), lstm_precision_name(prec),
                  n_pack, n_packed);
            CHECK(n_pack16 == (f32 ? 0 : 4 * TL - 2) && n_nn16 == (f32 ? 0 : 2 * TL * TT + TL - 2)
                  && n_tn16 == (f32 ? 0 : 2 * TL - 1), "%s %s: pack_b_bf16 %d times, gemm_nn_bf16 %d, "
                  "gemm_tn_bf16 %d", cell_name(cell), lstm_precision_name(prec), n_pack16, n_nn16, n_tn16);
        }
        free(g);
        step_free(&t);
    }
}

/* The bf16 step of every set against the scalar set's (the cells' float math differs a little
 * between sets, and a product's input can then round to the next bf16): within 1e-3 of the
 * largest gradient for the LSTM and the GRU (measured: 2e-5); the lnlstm's conditioning (above)
 * leaves it out. The AVX2 set and the AVX512_BF16 set's code built for AVX2 run the same
 * arithmetic lane by lane: their LSTM and GRU gradients are the same bits. */
static void test_train_bf16_sets(void)
{
    extern const kern_ops *const kern_all[];
    const kern_ops *sets[8];
    int ns = 0;
    for (int i = 0; kern_all[i]; i++)
        if (kern_get(kern_all[i]->name))
            sets[ns++] = kern_get(kern_all[i]->name);
#if defined(__x86_64__)
    if (kern_get("avx2"))
        sets[ns++] = &kern_avx512bf16_on_avx2;
#endif
    for (int cell = CELL_LSTM; cell <= CELL_GRU; cell++) {
        step t;
        step_new(&t, cell);
        lstm_work_bf16(t.w);
        size_t n = lstm_nparams(t.d);
        float *g = malloc(n * ns * sizeof(float)), *ref = NULL, *avx2 = NULL;
        for (int i = 0; i < ns; i++) {
            step_grad(sets[i], &t, &t.p, LSTM_BF16, g + i * n);
            if (sets[i] == kern_get("scalar"))
                ref = g + i * n;
            if (sets[i] == kern_get("avx2"))
                avx2 = g + i * n;
        }
        for (int i = 0; i < ns; i++) {
            double mx, d = max_diff(g + i * n, ref, n, &mx);
            const char *name = sets[i]->name;
#if defined(__x86_64__)
            if (sets[i] == &kern_avx512bf16_on_avx2) {
                name = "avx512bf16 built for AVX2";
                CHECK(!avx2 || memcmp(g + i * n, avx2, n * sizeof(float)) == 0, "%s: the avx512bf16 set's code "
                      "built for AVX2 and the avx2 set differ", cell_name(cell));
            }
#endif
            CHECK(d <= 1e-3 * mx, "%s %s: %.3g of the largest from the scalar set's bf16 gradient", name,
                  cell_name(cell), d / mx);
        }
        free(g);
        step_free(&t);
    }
}

static void test_train_bf16(void)
{
    check_train_bf16(CELL_LSTM);
    check_train_bf16(CELL_GRU);
    check_train_bf16(CELL_LNLSTM);
}

int main(void)
{
    /* KSEED=N draws other data: the checks must hold for any */
    rng_seed(&rng, getenv("KSEED") ? strtoull(getenv("KSEED"), NULL, 10) : 30);
    RUN(test_from_float);
    RUN(test_fma);
    RUN(test_fma_flush_boundary);
    RUN(test_dot);
    for (int i = 0; kern_all[i]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bf16_%s", kern_all[i]->name);
        if (!(K = kern_get(kern_all[i]->name))) {
            SKIP(name, strcmp(kern_all[i]->name, "avx512bf16") == 0
                       ? "this CPU lacks AVX512_BF16: vdpbf16ps itself is not run (its set's code is, built for AVX2, below)"
                       : "this CPU cannot run this kernel set");
            continue;
        }
        printf("# kernel set %s (bf16 products %s)\n", K->name, K->bf16_native ? "on vdpbf16ps" : "emulated");
        RUN(test_products_cases);
        RUN(test_products);
        RUN(test_products_model_shapes);
        RUN(test_train_bf16);
    }
#if defined(__x86_64__)
    /* the AVX512_BF16 set's code with the emulated step, built for AVX2 (tests/kern_w16_avx2.c) */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        K = &kern_avx512bf16_on_avx2;
        printf("# the avx512bf16 set's code built for AVX2, the step emulated\n");
        RUN(test_products_cases);
        RUN(test_products);
        RUN(test_products_model_shapes);
        RUN(test_train_bf16);
    } else
        SKIP("bf16_avx512bf16_on_avx2", "this CPU cannot run AVX2");
#endif
    printf("# every set\n");
    K = kern_get("scalar");
    RUN(test_train_bf16_products);
    RUN(test_train_bf16_sets);
    return check_summary();
}
