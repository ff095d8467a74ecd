/* kern.c - choosing a kernel set: CPUID via __builtin_cpu_supports, or by name. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "kern.h"

extern const kern_ops kern_scalar;
#if defined(__x86_64__)
extern const kern_ops kern_avx2, kern_avx512;
#endif

/* Best first. */
const kern_ops *const kern_all[] = {
#if defined(__x86_64__)
    &kern_avx512, &kern_avx2,
#endif
    &kern_scalar, NULL,
};

/* Can this CPU (and OS) run set k? */
static int kern_runs(const kern_ops *k)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &kern_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == &kern_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma");
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
