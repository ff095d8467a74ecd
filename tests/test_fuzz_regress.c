/* test_fuzz_regress.c - replay the fuzzers' findings (tests/fuzz/regress/) without libFuzzer.
 *
 * Every file there is an input that once crashed, hung or broke an invariant in one of the
 * harnesses of tests/fuzz/; its name says which: ts-* for fuzz_ts.c, utf8-* for fuzz_utf8.c,
 * model-* for fuzz_model.c (decompressed frames of a model file).
 * The harnesses are included here and run on each file (and on the seeds made below), so a
 * regression aborts this program (counted as a failure by run.sh), and under `make check-san`
 * ASan and UBSan watch the replay as they did the fuzzing.
 */
#define LLVMFuzzerTestOneInput fuzz_ts_one
#include "fuzz/fuzz_ts.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_utf8_one
#include "fuzz/fuzz_utf8.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput

#include <dirent.h>
#include <errno.h>
#include "check.h"

static int replayed;

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    size_t k;
    while (p && (k = fread(p + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap)
            p = realloc(p, cap *= 2);
    }
    fclose(f);
    *n = len;
    return p;
}

static void test_regress_files(void)
{
    const char *tests = getenv("TESTS");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/regress", tests ? tests : "tests");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "%s: %s", dir, strerror(errno));
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int ts = strncmp(e->d_name, "ts-", 3) == 0, u8 = strncmp(e->d_name, "utf8-", 5) == 0;
        int mod = strncmp(e->d_name, "model-", 6) == 0;
        if (!ts && !u8 && !mod)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = 0;
        unsigned char *p = slurp(path, &n);
        CHECK(p != NULL, "%s: cannot read", path);
        if (!p)
            continue;
        fprintf(stderr, "replay %s (%zu bytes)\n", e->d_name, n);
        if (ts)
            fuzz_ts_one(p, n);
        else if (mod)
            fuzz_model_one(p, n);
        else
            fuzz_utf8_one(p, n);
        replayed++;
        free(p);
    }
    closedir(d);
    CHECK(replayed > 0, "no regression inputs in %s", dir);
}

/* A few inputs made here, so the harnesses' own checks run in every build. */
static void test_harness_smoke(void)
{
    static const unsigned char utf8[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xff\xe2\x82";
    fuzz_utf8_one(utf8, sizeof utf8 - 1);
    for (size_t i = 0; i <= sizeof utf8 - 1; i++)
        fuzz_utf8_one(utf8 + i, sizeof utf8 - 1 - i);
    fuzz_ts_one((const uint8_t *)"", 0);
    fuzz_ts_one((const uint8_t *)"\x1f\x8b", 2);
    fuzz_ts_one((const uint8_t *)"not a stream", 12);
    fuzz_model_one((const uint8_t *)"", 0);
    fuzz_model_one((const uint8_t *)"\x81\xa4name\xa5model", 13);
}

int main(void)
{
    RUN(test_regress_files);
    RUN(test_harness_smoke);
    if (fuzz_ts_memfd >= 0)
        close(fuzz_ts_memfd);
    if (fuzz_ts_null >= 0)
        close(fuzz_ts_null);
    if (fuzz_model_memfd >= 0)
        close(fuzz_model_memfd);
    if (fuzz_model_null >= 0)
        close(fuzz_model_null);
    return check_summary();
}
