/* check.h - a minimal test harness for charpipe's C tests.
 *
 *     static void test_roundtrip(void) { CHECK(x == 1, "x is %d", x); }
 *     int main(void) { RUN(test_roundtrip); return check_summary(); }
 *
 * Each RUN prints "ok NAME" or "FAIL NAME"; tests/run.sh counts those lines. A failed CHECK
 * prints where and why on stderr and marks the running test failed; the test goes on.
 *
 * Random data. A test draws it from rng, which RUN seeds from the test's identity: its file,
 * its name and check_context's words (what main loops over: the cell, the kernel set), plus
 * the offset CHARPIPE_TEST_SEED (unset or 0: the suite's data; the seed sweep, make
 * test-seeds, runs others). So a test draws the same data whichever kernel sets the CPU
 * offers and whichever tests ran before it. CHARPIPE_TEST_SUMS=1 has RUN print
 * "# data FILE:NAME CONTEXT SUM", SUM the generator's state after the test: a fingerprint of
 * every number the test drew (tests/test_seeds.sh compares them between runs).
 *
 * Numeric checks. CHECK_BOUND(label, err, bound, ...) fails unless err < bound (a NaN fails)
 * and keeps the test's worst err / bound per label; CHARPIPE_TEST_BOUNDS=1 has RUN print them
 * as "# bound FILE:NAME:LABEL RATIO CONTEXT: MESSAGE" (tests/seeds.sh takes the worst over
 * seeds). Each bound's comment says what rounding it allows for.
 *
 * Kernel sets. CHARPIPE_KERNELS=scalar,avx2 limits the sets a test may use as the tools'
 * variable does (kern_limit); check_set(prefix, k) gives k if it can be used, else prints
 * "SKIP PREFIX_NAME: why" (the CPU cannot run it, or the limit left it out) and gives NULL.
 *
 * CHARPIPE_TEST_ONLY=NAME[,NAME...] runs only the tests named (with all their contexts). */
#ifndef CHARPIPE_CHECK_H
#define CHARPIPE_CHECK_H
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "rng.h"

static int check_npass, check_nfail, check_cur_fail;

static rng_t rng;                       /* the running test's generator (RUN seeds it) */

static struct {
    int ready, sums, bounds;
    uint64_t offset;                    /* CHARPIPE_TEST_SEED */
    const char *only, *kernels;         /* CHARPIPE_TEST_ONLY, CHARPIPE_KERNELS */
    char context[96];                   /* check_context's words */
    const char *file, *test;            /* the running test */
    int nb;                             /* its CHECK_BOUND labels so far */
    struct { const char *label; double worst; char msg[200]; } b[48];
} check_;

static inline void check_init(void)
{
    if (check_.ready)
        return;
    check_.ready = 1;
    const char *s = getenv("CHARPIPE_TEST_SEED");
    check_.offset = s ? strtoull(s, NULL, 10) : 0;
    check_.sums = getenv("CHARPIPE_TEST_SUMS") && *getenv("CHARPIPE_TEST_SUMS");
    check_.bounds = getenv("CHARPIPE_TEST_BOUNDS") && *getenv("CHARPIPE_TEST_BOUNDS");
    check_.only = getenv("CHARPIPE_TEST_ONLY");
    check_.kernels = getenv("CHARPIPE_KERNELS");
    char err[256];
    if (kern_limit(check_.kernels, err, sizeof err) < 0) {
        fprintf(stderr, "CHARPIPE_KERNELS=%s: %s\n", check_.kernels, err);
        exit(2);
    }
}

#define CHECK(cond, ...) do {                                                   \
        if (!(cond)) {                                                          \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            check_cur_fail++;                                                   \
        }                                                                       \
    } while (0)

/* err < bound, else a failure naming both; the worst err / bound of each label is kept. */
#define CHECK_BOUND(label, err, bound, ...) \
    check_bound(__FILE__, __LINE__, label, (double)(err), (double)(bound), __VA_ARGS__)

__attribute__((format(printf, 6, 7)))
static inline void check_bound(const char *file, int line, const char *label, double err, double bound,
                        const char *fmt, ...)
{
    double r = err / bound;
    int i = 0, bad = !(err < bound);
    while (i < check_.nb && strcmp(check_.b[i].label, label) != 0)
        i++;
    if (i == check_.nb && i < (int)(sizeof check_.b / sizeof *check_.b)) {
        check_.b[check_.nb++].label = label;
        check_.b[i].worst = -1;
    }
    int worse = i < check_.nb && (r != r || r > check_.b[i].worst) && check_.b[i].worst == check_.b[i].worst;
    if (!bad && !worse)
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (worse) {
        check_.b[i].worst = r;
        memcpy(check_.b[i].msg, msg, sizeof msg);
    }
    if (bad) {
        fprintf(stderr, "  %s:%d: %s: error %.3g, bound %.3g: %s\n", file, line, label, err, bound, msg);
        check_cur_fail++;
    }
}

/* The words RUN adds to the identity of the tests that follow ("cell=gru set=avx2"). */
__attribute__((format(printf, 1, 2)))
static inline void check_context(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(check_.context, sizeof check_.context, fmt, ap);
    va_end(ap);
}

static inline uint64_t check_fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
    return h;
}

/* Whether CHARPIPE_TEST_ONLY (if set) names test NAME. */
static inline int check_selected(const char *name)
{
    size_t n = strlen(name);
    if (!check_.only)
        return 1;
    for (const char *p = check_.only; *p; ) {
        size_t m = strcspn(p, ",");
        if (m == n && strncmp(p, name, n) == 0)
            return 1;
        p += m + (p[m] == ',');
    }
    return 0;
}

/* Whether test NAME (of FILE) runs; if so, rng seeded from its identity. */
static inline int check_begin(const char *file, const char *name)
{
    check_init();
    if (!check_selected(name))
        return 0;
    const char *slash = strrchr(file, '/');
    check_.file = slash ? slash + 1 : file;
    check_.test = name;
    check_.nb = 0;
    check_cur_fail = 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    h = check_fnv(h, check_.file, strlen(check_.file) + 1);
    h = check_fnv(h, name, strlen(name) + 1);
    h = check_fnv(h, check_.context, strlen(check_.context));
    rng_seed(&rng, h + check_.offset * 0x9e3779b97f4a7c15ULL);
    return 1;
}

static inline void check_end(void)
{
    fflush(stderr);
    printf("%s %s\n", check_cur_fail ? "FAIL" : "ok", check_.test);
    if (check_.sums)
        printf("# data %s:%s %s %016llx\n", check_.file, check_.test,
               check_.context[0] ? check_.context : "-",
               (unsigned long long)check_fnv(0xcbf29ce484222325ULL, rng.s, sizeof rng.s));
    for (int i = 0; check_.bounds && i < check_.nb; i++)
        printf("# bound %s:%s:%s %.4g %s: %s\n", check_.file, check_.test, check_.b[i].label,
               check_.b[i].worst, check_.context[0] ? check_.context : "-", check_.b[i].msg);
    fflush(stdout);
    if (check_cur_fail) check_nfail++; else check_npass++;
}

#define RUN(fn) do {                                                            \
        if (check_begin(__FILE__, #fn)) {                                       \
            fn();                                                               \
            check_end();                                                        \
        }                                                                       \
    } while (0)

/* Print "SKIP NAME: reason" (counted as skipped by run.sh). */
#define SKIP(name, why) do { printf("SKIP %s: %s\n", name, why); fflush(stdout); } while (0)

/* k if this program may use it, else NULL after "SKIP PREFIX_NAME: why". */
static inline const kern_ops *check_set(const char *prefix, const kern_ops *k)
{
    check_init();
    const char *why = kern_unusable(k);
    if (!why)
        return k;
    char name[64], msg[160];
    snprintf(name, sizeof name, "%s_%s", prefix, k->name);
    if (strstr(why, "limit"))
        snprintf(msg, sizeof msg, "left out by CHARPIPE_KERNELS=%s", check_.kernels);
    else
        snprintf(msg, sizeof msg, "this CPU cannot run this kernel set");
    SKIP(name, msg);
    return NULL;
}

/* The larger of a and b, NaN if either is NaN (fmax drops a NaN, so an error measure built
 * with it would pass a NaN result). For accumulating errors and magnitudes in tests. */
static inline double check_max(double a, double b)
{
    return a != a || b != b ? a + b : a > b ? a : b;
}

static inline int check_summary(void)
{
    return check_nfail ? 1 : 0;
}
#endif
