/* check.h - a minimal test harness for charpipe's C tests.
 *
 *     static void test_roundtrip(void) { CHECK(x == 1, "x is %d", x); }
 *     int main(void) { RUN(test_roundtrip); return check_summary(); }
 *
 * Each RUN prints "ok NAME" or "FAIL NAME"; tests/run.sh counts those lines. A failed CHECK
 * prints where and why on stderr and marks the running test failed; the test goes on. */
#ifndef CHARPIPE_CHECK_H
#define CHARPIPE_CHECK_H
#include <stdio.h>

static int check_npass, check_nfail, check_cur_fail;

#define CHECK(cond, ...) do {                                                   \
        if (!(cond)) {                                                          \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            check_cur_fail++;                                                   \
        }                                                                       \
    } while (0)

#define RUN(fn) do {                                                            \
        check_cur_fail = 0;                                                     \
        fn();                                                                   \
        fflush(stderr);                                                         \
        printf("%s %s\n", check_cur_fail ? "FAIL" : "ok", #fn);                 \
        fflush(stdout);                                                         \
        if (check_cur_fail) check_nfail++; else check_npass++;                  \
    } while (0)

/* Print "SKIP NAME: reason" (counted as skipped by run.sh). */
#define SKIP(name, why) do { printf("SKIP %s: %s\n", name, why); fflush(stdout); } while (0)

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
