/* kern.c - choosing a kernel set: CPUID via __builtin_cpu_supports, or by name; the packing
 * of the one-row products' matrices, the half-precision conversions and the bf16 instructions'
 * semantics, common to all sets. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kern.h"

extern const kern_ops kern_scalar;
#if defined(__x86_64__)
extern const kern_ops kern_avx2, kern_avx512, kern_avx512bf16;
#endif
#if defined(__wasm_simd128__)
extern const kern_ops kern_simd128;   /* kern_wasm.c: a SIMD build runs only where SIMD validates */
#endif

/* Best first. */
const kern_ops *const kern_all[] = {
#if defined(__x86_64__)
    &kern_avx512bf16, &kern_avx512, &kern_avx2,
#endif
#if defined(__wasm_simd128__)
    &kern_simd128,
#endif
    &kern_scalar, NULL,
};

/* Can this CPU (and OS) run set k? */
static int kern_runs(const kern_ops *k)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &kern_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("f16c");
    if (k == &kern_avx512 || k == &kern_avx512bf16)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")
            && (k == &kern_avx512 || __builtin_cpu_supports("avx512bf16"));
#endif
#if defined(__wasm_simd128__)
    if (k == &kern_simd128)
        return 1;
#endif
    return k == &kern_scalar;
}

/* The sets kern_limit allows: bit i for kern_all[i] (all by default). */
static unsigned kern_allowed = ~0u;

static int kern_index(const kern_ops *k)
{
    for (int i = 0; kern_all[i]; i++)
        if (kern_all[i] == k)
            return i;
    return -1;
}

const char *kern_unusable(const kern_ops *k)
{
    int i = kern_index(k);
    if (i < 0 || !kern_runs(k))
        return "this CPU cannot run it";
    if (k != &kern_scalar && !(kern_allowed >> i & 1))
        return "left out by the limit on kernel sets";
    return NULL;
}

int kern_limit(const char *list, char *err, size_t cap)
{
    unsigned allowed = 0;
    const char *p = list;
    if (!list || !*list) {
        kern_allowed = ~0u;
        return 0;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = n == 0;                     /* an empty item ("scalar,") names nothing */
        for (int i = 0; kern_all[i] && n; i++)
            if (strlen(kern_all[i]->name) == n && strncmp(kern_all[i]->name, p, n) == 0) {
                allowed |= 1u << i;
                found = 1;
            }
        if (!found) {
            if (err && cap > 0) {
                size_t m = (size_t)snprintf(err, cap, "%.*s: unknown kernel set (built:",
                                            (int)(n < 200 ? n : 200), p);
                for (int i = 0; kern_all[i]; i++)
                    if (m < cap)
                        m += (size_t)snprintf(err + m, cap - m, " %s", kern_all[i]->name);
                if (m < cap)
                    snprintf(err + m, cap - m, ")");
            }
            return -1;
        }
        p += n + (p[n] == ',');
    }
    kern_allowed = allowed;
    return 0;
}

const kern_ops *kern_get(const char *name)
{
    for (int i = 0; kern_all[i]; i++)
        if (strcmp(kern_all[i]->name, name) == 0)
            return kern_unusable(kern_all[i]) ? NULL : kern_all[i];
    return NULL;
}

const kern_ops *kern_select(void)
{
    for (int i = 0; kern_all[i]; i++)
        if (!kern_unusable(kern_all[i]))
            return kern_all[i];
    return &kern_scalar;
}

const kern_ops *kern_choose(const char *name, char *err, size_t cap)
{
    if (!name || !*name)
        return kern_select();
    const kern_ops *k = kern_get(name);
    if (!k && err && cap > 0) {
        int i, limited = 0;
        for (i = 0; kern_all[i]; i++)
            if (strcmp(kern_all[i]->name, name) == 0)
                limited = kern_runs(kern_all[i]);
        size_t n = (size_t)snprintf(err, cap, limited ? "%s: not among the allowed kernel sets "
                                    "(allowed:" : "%s: unknown or not supported by this CPU "
                                    "(this CPU runs:", name);
        for (i = 0; kern_all[i]; i++)
            if ((limited ? !kern_unusable(kern_all[i]) : kern_runs(kern_all[i])) && n < cap)
                n += (size_t)snprintf(err + n, cap - n, " %s", kern_all[i]->name);
        if (n < cap)
            snprintf(err + n, cap - n, ")");
    }
    return k;
}

/* ---------------------------------------------------------------------------------------- */
/* The one-row products' packed matrices */

size_t kern_gemv_size(int k, int n)
{
    return (size_t)k * ((n + KERN_GEMV_P - 1) / KERN_GEMV_P * KERN_GEMV_P);
}

/* Column j of panel q at row p goes to q * k * P + p * P + (j - q P); padding is zeros. */
void kern_pack_gemv(int k, int n, const float *B, int ldb, float *Bp)
{
    for (int j0 = 0; j0 < n; j0 += KERN_GEMV_P)
        for (int p = 0; p < k; p++)
            for (int c = 0; c < KERN_GEMV_P; c++)
                *Bp++ = j0 + c < n ? B[(size_t)p * ldb + j0 + c] : 0.0f;
}

void kern_pack_gemv_f16(int k, int n, const float *B, int ldb, uint16_t *Bp)
{
    for (int j0 = 0; j0 < n; j0 += KERN_GEMV_P)
        for (int p = 0; p < k; p++)
            for (int c = 0; c < KERN_GEMV_P; c++)
                *Bp++ = j0 + c < n ? kern_f16_from_float(B[(size_t)p * ldb + j0 + c]) : 0;
}

/* Round to nearest, ties to even, as vcvtps2ph with imm 0: overflow gives infinity, values
 * below 2^-14 become subnormal halves, NaN stays NaN. */
uint16_t kern_f16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u)                               /* infinity, NaN (made quiet) */
        return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0);
    if (a >= 0x477ff000u)                               /* rounds past 65504: infinity */
        return sign | 0x7c00;
    if (a >= 0x38800000u) {                             /* a normal half: rebias, round */
        uint32_t m = a - 0x38000000u;
        m += 0xfffu + ((m >> 13) & 1);
        return sign | (uint16_t)(m >> 13);
    }
    int s = 126 - (int)(a >> 23);                       /* subnormal: units of 2^-24 */
    if (s > 24)
        return sign;
    uint32_t M = (a & 0x7fffffu) | 0x800000u, m = M >> s, rem = M & ((1u << s) - 1);
    uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (m & 1)))
        m++;
    return sign | (uint16_t)m;
}

float kern_f16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    float f;
    if (e == 0x1f)
        u = sign | 0x7f800000u | (m << 13);
    else if (e == 0) {                                  /* subnormal (or zero): m 2^-24 */
        f = (float)m * 0x1p-24f;
        memcpy(&u, &f, sizeof u);
        u |= sign;
    } else
        u = sign | ((e + 112) << 23) | (m << 13);
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---------------------------------------------------------------------------------------- */
/* bf16: vcvtneps2bf16 and vdpbf16ps in portable C (kern.h) */

uint16_t kern_bf16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)                                /* NaN: its upper half, made quiet */
        return (uint16_t)((u >> 16) | 0x40);
    if (a < 0x00800000u)                                /* zero or denormal: a signed zero */
        return (uint16_t)((u >> 16) & 0x8000);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);  /* to nearest even; inf stays */
}

float kern_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* x, or a zero of its sign when x is denormal (the instruction's inputs) */
static float bf16_daz(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0)
        u &= 0x80000000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* fmaf rounds a result below 2^-126 to the denormal grid (2^-149 apart); the instruction
 * rounds to 24 bits as if the exponent had no bound, and flushes what is then below 2^-126.
 * The two differ only for results that fmaf makes nonzero and at most 2^-126: those are done
 * again with a and c scaled by 2^32, where nothing is denormal. (a b + c can only be that
 * small and nonzero when the finer of the two terms' spacings is below 2^-125: then both terms
 * are below 2^-76 in magnitude, the normal factor a below 2^50, and nothing scaled overflows.) */
float kern_bf16_fma(float a, float b, float c)
{
    float r = fmaf(a, b, c);
    if (!(fabsf(r) <= 0x1p-126f) || r == 0.0f)         /* normal, infinite, NaN or zero */
        return r;
    float s = fmaf(a * 0x1p32f, b, c * 0x1p32f);        /* 2^32 (a b + c), one rounding */
    return fabsf(s) < 0x1p-94f ? copysignf(0.0f, s) : s * 0x1p-32f;
}

float kern_bf16_dot(float acc, uint32_t a, uint32_t b)
{
    float a1 = bf16_daz(kern_bf16_to_float((uint16_t)(a >> 16)));
    float b1 = bf16_daz(kern_bf16_to_float((uint16_t)(b >> 16)));
    float a0 = bf16_daz(kern_bf16_to_float((uint16_t)a)), b0 = bf16_daz(kern_bf16_to_float((uint16_t)b));
    acc = kern_bf16_fma(a1, b1, bf16_daz(acc));         /* the upper pair first */
    return kern_bf16_fma(a0, b0, acc);
}

/* Words of a packed matrix (kern.h): the header, then ceil(k / 2) rows of pairs, each at most
 * n rounded up to 16 (the widest vector) words. */
size_t kern_bf16_pack_size(int k, int n)
{
    return KERN_BF16_HEAD + (size_t)((k + 1) / 2) * (size_t)((n + 15) / 16 * 16);
}

/* gemm_nn_bf16 rounds A (m, k) into rows of ceil(k / 2) pairs; gemm_tn_bf16 packs a k-block at
 * a time, A^T's and B's pairs, each row of them at most 16-rounded m or n words. */
size_t kern_bf16_work_size(int m, int n, int k)
{
    size_t k2 = (size_t)((k + 1) / 2), kb = k2 < KERN_BF16_KB ? k2 : KERN_BF16_KB;
    size_t nn = (size_t)m * k2 * 4, tn = kb * (size_t)((m + 15) / 16 * 16 + (n + 15) / 16 * 16) * 4;
    return ((nn > tn ? nn : tn) + 63) / 64 * 64;
}
