/* test_bf16.c - the bf16 products: the scalar semantics of vcvtneps2bf16 and vdpbf16ps (kern.h)
 * against cases computed by hand (ties to even, NaN, infinity, denormal inputs, the order of
 * the pair's adds, the flush of tiny results) and the flush against an independent exact
 * computation in integers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kern.h"
#include "rng.h"

static rng_t rng;

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
    int ea, eb, ec;
    __int128 ma = (__int128)ldexp(frexpf(a, &ea), 24), mb = (__int128)ldexp(frexpf(b, &eb), 24);
    __int128 mc = (__int128)ldexp(frexpf(c, &ec), 24);
    /* a = ma 2^(ea - 24) ... */
    int sp = ea + eb - 48 + 200, sc = ec - 24 + 200;     /* shifts into units of 2^-200 */
    __int128 s = (sp >= 0 ? (ma * mb) << sp : 0) + (c != 0 ? mc << sc : 0);
    int neg = s < 0;
    unsigned __int128 m = neg ? -(unsigned __int128)s : (unsigned __int128)s;
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

int main(void)
{
    /* KSEED=N draws other data: the checks must hold for any */
    rng_seed(&rng, getenv("KSEED") ? strtoull(getenv("KSEED"), NULL, 10) : 30);
    RUN(test_from_float);
    RUN(test_fma);
    RUN(test_fma_flush_boundary);
    RUN(test_dot);
    return check_summary();
}
