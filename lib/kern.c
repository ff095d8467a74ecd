/* kern.c - choosing a kernel set: CPUID via __builtin_cpu_supports, or by name; the packing
 * of the one-row products' matrices and the half-precision conversions, common to all sets. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kern.h"

extern const kern_ops kern_scalar;
#if defined(__x86_64__)
extern const kern_ops kern_avx2, kern_avx512;
#endif
#if defined(__wasm_simd128__)
extern const kern_ops kern_simd128;   /* kern_wasm.c: a SIMD build runs only where SIMD validates */
#endif

/* Best first. */
const kern_ops *const kern_all[] = {
#if defined(__x86_64__)
    &kern_avx512, &kern_avx2,
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
    if (k == &kern_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
#if defined(__wasm_simd128__)
    if (k == &kern_simd128)
        return 1;
#endif
    return k == &kern_scalar;
}

const kern_ops *kern_get(const char *name)
{
    for (int i = 0; kern_all[i]; i++)
        if (strcmp(kern_all[i]->name, name) == 0)
            return kern_runs(kern_all[i]) ? kern_all[i] : NULL;
    return NULL;
}

const kern_ops *kern_select(void)
{
    static const kern_ops *chosen;
    if (chosen)
        return chosen;
    for (int i = 0; kern_all[i]; i++)
        if (kern_runs(kern_all[i]))
            return chosen = kern_all[i];
    return chosen = &kern_scalar;
}

const kern_ops *kern_choose(const char *name, char *err, size_t cap)
{
    if (!name || !*name)
        return kern_select();
    const kern_ops *k = kern_get(name);
    if (!k && err && cap > 0) {
        size_t n = (size_t)snprintf(err, cap, "%s: unknown or not supported by this CPU "
                                    "(this CPU runs:", name);
        for (int i = 0; kern_all[i]; i++)
            if (kern_runs(kern_all[i]) && n < cap)
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
