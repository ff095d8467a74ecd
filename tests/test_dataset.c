/* test_dataset.c - the compact data store (lib/dataset.c): every window given back exactly as
 * it was added, whatever the stride, the targets and the overlap; the text held once. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "dataset.h"

static uint32_t rnd(uint32_t n) { return (uint32_t)rng_below(&rng, n); }

/* A dataset with vocabulary V and windows of N; the caller frees. */
static void make(dataset *d, int V)
{
    dataset_init(d, 0, "test");
    d->vocab.V = V;
    d->vocab.cp = malloc((size_t)V * sizeof(uint32_t));
    for (int i = 0; i < V; i++)
        d->vocab.cp[i] = (uint32_t)i + 32;
}

/* The windows of text t (len) at offsets off[0..n) with ylen 1 or N, added and read back. */
static int roundtrip(dataset *d, const int32_t *t, const size_t *off, size_t n, int N, int ylen,
                     const int32_t *ys /* NULL: the text's next characters */)
{
    char err[256];
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t *x = t + off[i];
        const int32_t *y = ys ? ys + i * ylen : ylen == 1 ? t + off[i] + N : t + off[i] + 1;
        if (dataset_add_window(d, x, y, N, ylen, err, sizeof err) < 0) {
            CHECK(0, "add_window %zu: %s", i, err);
            return 1;
        }
    }
    CHECK(d->n == n, "%zu windows held, %zu added", d->n, n);
    int32_t *x = malloc((size_t)N * 7 * sizeof *x), *y = malloc((size_t)ylen * 7 * sizeof *y);
    uint32_t rows[7];
    for (size_t i = 0; i < n && !bad; i += 1 + rnd(3)) {
        int b = (int)(n - i < 7 ? n - i : 7);
        for (int r = 0; r < b; r++)
            rows[r] = (uint32_t)rnd((uint32_t)n);           /* shuffled order, as train reads */
        rows[0] = (uint32_t)i;
        dataset_gather(d, rows, b, x, y);
        for (int r = 0; r < b && !bad; r++) {
            size_t w = rows[r];
            const int32_t *ey = ys ? ys + w * ylen : ylen == 1 ? t + off[w] + N : t + off[w] + 1;
            if (memcmp(x + (size_t)r * N, t + off[w], (size_t)N * sizeof *x) != 0
                || memcmp(y + (size_t)r * ylen, ey, (size_t)ylen * sizeof *y) != 0)
                { bad = 1; CHECK(0, "window %zu differs from what was added", w); }
        }
        dataset_gather_range(d, i, b, x, y);
        for (int r = 0; r < b && !bad; r++)
            if (memcmp(x + (size_t)r * N, t + off[i + r], (size_t)N * sizeof *x) != 0)
                { bad = 1; CHECK(0, "window %zu (gather_range) differs", i + r); }
    }
    free(x);
    free(y);
    return bad;
}

/* Windows cut from one text with every stride, both target layouts, both index widths. */
static void test_strides(void)
{
    enum { LEN = 6000 };
    int32_t *t = malloc(LEN * sizeof *t);
    size_t *off = malloc(LEN * sizeof *off);
    for (int V = 20; V <= 300; V += 280)
        for (int per = 0; per < 2; per++)
            for (int N = 1; N <= 40; N += 13)
                for (int s = 1; s <= N + 7; s += (s < N + 1 ? 2 : 3)) {
                    for (int i = 0; i < LEN; i++)
                        t[i] = (int32_t)rnd((uint32_t)V);
                    size_t n = 0;
                    for (size_t o = 0; o + N + 1 <= LEN; o += (size_t)s)
                        off[n++] = o;
                    dataset d;
                    make(&d, V);
                    int ylen = per ? N : 1;
                    if (roundtrip(&d, t, off, n, N, ylen, NULL))
                        CHECK(0, "V %d N %d stride %d ylen %d", V, N, s, ylen);
                    CHECK(!d.plain, "windows of a text went to the plain store (N %d stride %d)", N, s);
                    /* the text once: for strides up to N + 1, at most the text's length */
                    size_t need = s <= N + 1 ? LEN : n * (size_t)(N + 1);
                    CHECK(d.tn <= need && d.nruns <= 2, "N %d stride %d: %zu characters in %zu runs for %zu windows",
                          N, s, d.tn, d.nruns, n);
                    dataset_free(&d);
                }
    free(t);
    free(off);
}

/* Windows at random places (no stride), a periodic text (strides that look alike), and
 * per-position targets that are not the next character (the plain store). */
static void test_irregular(void)
{
    enum { LEN = 4000, N = 12 };
    int32_t t[LEN];
    size_t off[LEN];
    for (int i = 0; i < LEN; i++)
        t[i] = (int32_t)rnd(7);
    size_t n = 0;
    for (size_t i = 0; i < 500; i++)
        off[n++] = rnd(LEN - N - 1);
    dataset d;
    make(&d, 7);
    CHECK(!roundtrip(&d, t, off, n, N, 1, NULL), "random windows");
    CHECK(d.tn <= n * (N + 1), "random windows take %zu characters, more than as they came", d.tn);
    dataset_free(&d);

    for (int i = 0; i < LEN; i++)
        t[i] = "abcabcabd"[i % 9] - 'a';             /* period 9, with period-3 stretches */
    n = 0;
    for (size_t o = 0; o + N + 1 <= LEN; o += 3)
        off[n++] = o;
    make(&d, 4);
    CHECK(!roundtrip(&d, t, off, n, N, N, NULL), "periodic text, stride 3, per position");
    CHECK(!d.plain && d.tn <= LEN, "periodic text: plain %d, %zu characters", d.plain, d.tn);
    dataset_free(&d);

    /* span windows first, then one whose targets are not x moved on by one: all plain */
    int32_t *ys = malloc(n * N * sizeof *ys);
    for (size_t i = 0; i < n; i++)
        memcpy(ys + i * N, t + off[i] + 1, N * sizeof *ys);
    ys[(n / 2) * N + 3] = (ys[(n / 2) * N + 3] + 1) % 4;
    make(&d, 4);
    CHECK(!roundtrip(&d, t, off, n, N, N, ys), "targets that are not the next character");
    CHECK(d.plain, "windows that are not spans of a text stay compact");
    dataset_free(&d);
    free(ys);
}

/* Text: held once, sliced into streams. */
static void test_text(void)
{
    enum { LEN = 1001 };
    int32_t t[LEN], x[3 * 9], y[3 * 9];
    char err[256];
    for (int i = 0; i < LEN; i++)
        t[i] = (int32_t)rnd(300);
    dataset d;
    make(&d, 300);
    CHECK(dataset_add_text(&d, t, 400, err, sizeof err) == 0 && dataset_add_text(&d, t + 400, LEN - 400, err, sizeof err) == 0,
          "add_text: %s", err);
    CHECK(d.tn == LEN && dataset_bytes(&d) == 2 * LEN, "%zu characters in %zu bytes", d.tn, dataset_bytes(&d));
    size_t n = 100;                                    /* streams of 100 from character 5 */
    dataset_slice(&d, 5, n, 2, 3, 17, 9, x, y);
    int bad = 0;
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 9; k++) {
            size_t at = 5 + (size_t)(2 + s) * n + 17 + k;
            bad |= x[s * 9 + k] != t[at] || y[s * 9 + k] != t[at + 1];
        }
    CHECK(!bad, "slice differs from the text");
    dataset_slice(&d, 5, n, 2, 3, 95, 9, x, y);        /* steps 95 .. 103: wrapping at 100 */
    bad = 0;
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 9; k++) {
            size_t at = 5 + (size_t)(2 + s) * n + (95 + k) % n;
            bad |= x[s * 9 + k] != t[at] || y[s * 9 + k] != t[at + 1];
        }
    CHECK(!bad, "a slice past a stream's end does not wrap round it");
    dataset_free(&d);
}

int main(void)
{
    RUN(test_strides);
    RUN(test_irregular);
    RUN(test_text);
    return check_summary();
}
