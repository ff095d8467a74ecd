/* test_dynamic.c - dynamic evaluation (lib/dynamic.h) as a library call: a segment is scored
 * before anything learns from it (a text altered after some point scores the same on every
 * segment before that point, bit for bit), the segments' scores do not depend on how the text
 * arrives (in one piece or character by character), one segment covering the whole text is the
 * static loss of one stream, and learning moves the weights toward the text and back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "dynamic.h"
#include "lstm.h"

#define V 12
#define NTEXT 403                     /* 20 segments of 20 and a last one of 2 */
#define SEG 20

static model m;

static void make_model(int cell)
{
    model_free(&m);
    if (model_alloc(&m, (lstm_dims){ V, 16, 2, cell }, 8) < 0)
        abort();
    rng_t r;
    rng_seed(&r, 11);
    lstm_init_keras(&m.p, &r);
    for (int i = 0; i < V; i++)
        m.vocab[i] = (uint32_t)('a' + i);
    m.per_position = 1;
}

/* A text with some structure (so that learning from it changes the scores) and noise. */
static void make_text(int32_t *t, unsigned seed)
{
    rng_t r;
    rng_seed(&r, seed);
    for (int i = 0; i < NTEXT; i++)
        t[i] = rng_below(&r, 4) == 0 ? (int32_t)rng_below(&r, V) : (int32_t)((i * 5 + i / 3) % V);
}

typedef struct segs {
    double loss[64];
    int n[64], count;
} segs;

static void on_segment(void *ctx, int64_t i, double loss, int n)
{
    segs *s = ctx;
    if (i == s->count && i < 64) {
        s->loss[i] = loss;
        s->n[i] = n;
    }
    s->count++;
}

/* Dynamic evaluation of t[0..len) fed in pieces of `piece` characters; each segment's score. */
static int run(const int32_t *t, int len, int piece, const dyn_opts *o, segs *s, double *total,
               float *w_out)
{
    char err[256];
    memset(s, 0, sizeof *s);
    dyn *d = dyn_new(kern_get("scalar"), &m, o, "test", err, sizeof err);
    if (!d) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    dyn_set_hook(d, on_segment, s);
    for (int a = 0; a < len; a += piece)
        if (dyn_text(d, t + a, (size_t)(len - a < piece ? len - a : piece), err, sizeof err) < 0)
            break;
    int rc = dyn_finish(d, err, sizeof err);
    double n;
    dyn_result(d, total, &n);
    if (w_out)
        memcpy(w_out, dyn_weights(d), lstm_nparams(m.dim) * sizeof(float));
    dyn_free(d);
    return rc;
}

/* The text altered from character 201 on (the first target of segment 10): segments 0 .. 9
 * score the same bits, segment 10 does not. */
static void test_later_text_changes_no_earlier_score(void)
{
    for (int cell = CELL_LSTM; cell <= CELL_LNLSTM; cell++) {
        make_model(cell);
        int32_t a[NTEXT], b[NTEXT];
        make_text(a, 3);
        memcpy(b, a, sizeof a);
        for (int i = 201; i < NTEXT; i++)
            b[i] = (a[i] + 1 + i % 5) % V;
        dyn_opts o = { .lr = 3e-3, .decay = 0.01, .segment = SEG };
        segs sa, sb;
        double ta, tb;
        CHECK(run(a, NTEXT, NTEXT, &o, &sa, &ta, NULL) == 0 && run(b, NTEXT, NTEXT, &o, &sb, &tb, NULL) == 0, "runs");
        CHECK(sa.count == 21 && sb.count == 21 && sa.n[20] == 2, "%d, %d segments, the last of %d", sa.count, sb.count, sa.n[20]);
        for (int i = 0; i < 10; i++)
            CHECK(sa.loss[i] == sb.loss[i], "cell %d segment %d: %.17g and %.17g", cell, i, sa.loss[i], sb.loss[i]);
        CHECK(sa.loss[10] != sb.loss[10], "cell %d: segment 10 does not see its altered targets", cell);
    }
}

/* The same scores whether the text comes whole or a character at a time. */
static void test_pieces_change_nothing(void)
{
    make_model(CELL_LNLSTM);
    int32_t a[NTEXT];
    make_text(a, 5);
    dyn_opts o = { .lr = 3e-3, .decay = 0.01, .segment = 7 };
    segs s1, s2;
    double t1, t2;
    CHECK(run(a, NTEXT, NTEXT, &o, &s1, &t1, NULL) == 0 && run(a, NTEXT, 1, &o, &s2, &t2, NULL) == 0, "runs");
    CHECK(t1 == t2 && s1.count == s2.count, "whole %.17g (%d segments), by characters %.17g (%d)", t1, s1.count, t2, s2.count);
}

/* One segment covering the text: the static loss of one stream (scored before any step);
 * learning lowers the loss on a text with structure; with lr 0 nothing moves at all. */
static void test_one_segment_is_static(void)
{
    make_model(CELL_LSTM);
    int32_t a[NTEXT];
    make_text(a, 7);
    lstm_work *w = lstm_work_new(m.dim, NTEXT - 1, 1);
    float h[2 * 16] = { 0 }, c[2 * 16] = { 0 };
    lstm_seq s = { .per_position = 1, .h0 = h, .c0 = c };
    double stat = lstm_forward_seq(kern_get("scalar"), &m.p, w, 1, NTEXT - 1, a, a + 1, NULL, &s);
    lstm_work_free(w);
    dyn_opts whole = { .lr = 0.1, .decay = 0.01, .segment = NTEXT - 1 };
    dyn_opts still = { .lr = 0, .decay = 0, .segment = 10 };
    dyn_opts learn = { .lr = 3e-3, .decay = 0.001, .segment = 10 };
    segs s1;
    double t1, t2, t3;
    size_t np = lstm_nparams(m.dim);
    float *w2 = malloc(np * sizeof *w2), *w3 = malloc(np * sizeof *w3);
    CHECK(run(a, NTEXT, 50, &whole, &s1, &t1, NULL) == 0, "run");
    CHECK(fabs(t1 - stat) <= 1e-9 * stat && s1.count == 1, "one segment %.9g, static %.9g", t1, stat);
    CHECK(run(a, NTEXT, 50, &still, &s1, &t2, w2) == 0 && run(a, NTEXT, 50, &learn, &s1, &t3, w3) == 0, "runs");
    CHECK(fabs(t2 - stat) <= 1e-4 * stat, "lr 0: %.9g, static %.9g", t2, stat);
    CHECK(memcmp(w2, m.params, np * sizeof *w2) == 0, "lr 0 and decay 0 moved the weights");
    CHECK(t3 < t2 - 0.05 * (NTEXT - 1), "learning: %.4f nats/char, static %.4f", t3 / (NTEXT - 1), t2 / (NTEXT - 1));
    double moved = 0;
    for (size_t i = 0; i < np; i++)
        moved = check_max(moved, fabs(w3[i] - m.params[i]));
    CHECK(moved > 1e-3 && moved < 1, "the weights moved by %g", moved);
    free(w2);
    free(w3);
}

/* Options out of range and indices out of the vocabulary are refused with a message. */
static void test_refusals(void)
{
    make_model(CELL_GRU);
    char err[256] = "";
    dyn_opts bad = { .lr = 1e-3, .decay = 0.01, .segment = 0 };
    CHECK(dyn_new(kern_get("scalar"), &m, &bad, "t", err, sizeof err) == NULL && strstr(err, "segment"), "%s", err);
    dyn_opts o;
    dyn_opts_init(&o);
    dyn *d = dyn_new(kern_get("scalar"), &m, &o, "t", err, sizeof err);
    int32_t x[3] = { 1, V, 2 };
    CHECK(d && dyn_text(d, x, 3, err, sizeof err) < 0 && strstr(err, "not below"), "%s", err);
    dyn_free(d);
}

/* sample --adapt: the model's weights become dynamic evaluation's after the file's text (its
 * characters outside the vocabulary skipped); a text of one character leaves them; a file
 * that cannot be read is an error naming it. */
static void test_adapt_file(void)
{
    make_model(CELL_LNLSTM);
    int32_t a[NTEXT];
    make_text(a, 9);
    FILE *f = fopen("adapt.txt", "w");
    for (int i = 0; f && i < NTEXT; i++)
        fprintf(f, "%c%s", 'a' + a[i], i % 50 == 7 ? "\xc3\xa9" : "");   /* an e-acute now and then: skipped */
    if (!f || fclose(f) != 0)
        abort();
    dyn_opts o = { .lr = 3e-3, .decay = 0.01, .segment = 9 };
    size_t np = lstm_nparams(m.dim);
    float *want = malloc(np * sizeof *want), *w0 = malloc(np * sizeof *w0);
    segs s;
    double total, nats;
    uint64_t skipped;
    char err[256] = "";
    CHECK(run(a, NTEXT, NTEXT, &o, &s, &total, want) == 0, "run");
    memcpy(w0, m.params, np * sizeof *w0);
    CHECK(dyn_adapt_file(kern_get("scalar"), &m, "adapt.txt", &o, &nats, &skipped, err, sizeof err) == 0, "%s", err);
    CHECK(memcmp(m.params, want, np * sizeof *want) == 0 && memcmp(m.params, w0, np * sizeof *w0) != 0,
          "the adapted weights are not dynamic evaluation's");
    CHECK(fabs(nats - total / (NTEXT - 1)) < 1e-12 && skipped == 8, "nats %.9g (want %.9g), %llu skipped", nats,
          total / (NTEXT - 1), (unsigned long long)skipped);
    f = fopen("one.txt", "w");
    if (!f || fputs("b", f) < 0 || fclose(f) != 0)
        abort();
    memcpy(w0, m.params, np * sizeof *w0);
    CHECK(dyn_adapt_file(kern_get("scalar"), &m, "one.txt", &o, &nats, &skipped, err, sizeof err) == 0 && isnan(nats)
          && memcmp(m.params, w0, np * sizeof *w0) == 0, "one character: %s, nats %g", err, nats);
    CHECK(dyn_adapt_file(kern_get("scalar"), &m, "missing.txt", &o, &nats, &skipped, err, sizeof err) < 0
          && strstr(err, "missing.txt"), "%s", err);
    free(want);
    free(w0);
}

int main(void)
{
    RUN(test_later_text_changes_no_earlier_score);
    RUN(test_pieces_change_nothing);
    RUN(test_one_segment_is_static);
    RUN(test_refusals);
    RUN(test_adapt_file);
    model_free(&m);
    return check_summary();
}
