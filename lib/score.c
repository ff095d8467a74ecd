/* score.c - a model's cross-entropy on a text or a window stream; see score.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dataset.h"
#include "frame.h"
#include "score.h"
#include "train.h"
#include "util.h"

#define CHUNK 4096                    /* windows evaluated together */

struct scorer {
    const kern_ops *k;
    const model *m;
    int nthreads, streams, text, stream;
    long step;
    const char *label;
    evaluator *ev;                    /* made on first use: streams size their own */
    dataset d;                        /* the windows (or text) not yet evaluated */
    int32_t *ring;                    /* the text's last N + 1 indices, kept linear in 2 (N + 1) */
    size_t have;
    uint64_t pos;                     /* characters of text read */
    double loss, targets;
    uint64_t windows;
};

scorer *score_new(const kern_ops *k, const model *m, int nthreads, long step, int streams,
                  const char *label, char *err, size_t cap)
{
    scorer *s = calloc(1, sizeof *s);
    uint32_t *cp = malloc((size_t)m->dim.V * sizeof *cp);
    if (s)
        s->ring = malloc((size_t)2 * (m->maxlen + 1) * sizeof *s->ring);
    if (!s || !cp || !s->ring) {
        free(cp);
        if (s)
            free(s->ring);
        free(s);
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    *s = (scorer){ .k = k, .m = m, .nthreads = nthreads > 0 ? nthreads : 1, .streams = streams,
                   .step = step > 0 ? step : 1, .label = label, .ring = s->ring };
    dataset_init(&s->d, 0, label);    /* read with the model's vocabulary */
    memcpy(cp, m->vocab, (size_t)m->dim.V * sizeof *cp);
    s->d.vocab = (frame_vocab){ .V = m->dim.V, .cp = cp, .byte_unit = m->byte_unit, .lower = m->lower };
    s->d.vocab_fixed = 1;             /* a stream's vocab frames (pieces joined) must be the model's */
    return s;
}

void score_free(scorer *s)
{
    if (!s)
        return;
    evaluator_free(s->ev);
    dataset_free(&s->d);
    free(s->ring);
    free(s);
}

/* The windows held so far, evaluated. */
static int flush_chunk(scorer *s, char *err, size_t cap)
{
    if (s->d.n == 0)
        return 0;
    if (!s->ev && !(s->ev = evaluator_new(s->k, s->m->dim, s->nthreads, 64, s->m->maxlen, err, cap)))
        return -1;
    s->loss += eval_windows(s->ev, &s->m->p, &s->d, 0, s->d.n, s->d.ylen > 1);
    s->targets += (double)s->d.n * s->d.ylen;
    s->windows += s->d.n;
    dataset_clear(&s->d);
    return 0;
}

static int add_window(scorer *s, const int32_t *x, const int32_t *y, int ylen, char *err, size_t cap)
{
    char msg[400];
    if (dataset_add_window(&s->d, x, y, s->m->maxlen, ylen, msg, sizeof msg) < 0)
        return lib_fail(err, cap, "%s: %s", s->label, msg);
    return s->d.n == CHUNK ? flush_chunk(s, err, cap) : 0;
}

int score_text(scorer *s, const int32_t *x, size_t n, char *err, size_t cap)
{
    int N = s->m->maxlen, pp = s->m->per_position;
    char msg[400];
    if (s->stream)
        return lib_fail(err, cap, "%s: text after window frames", s->label);
    s->text = 1;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < 0 || x[i] >= s->m->dim.V)
            return lib_fail(err, cap, "%s: index %d is not below V = %d", s->label, (int)x[i], s->m->dim.V);
        if (s->streams > 0) {                    /* keep it all: cut into streams at the end */
            if (dataset_add_text(&s->d, &x[i], 1, msg, sizeof msg) < 0)
                return lib_fail(err, cap, "%s: %s", s->label, msg);
        } else {                                 /* the last N + 1 characters, for windows */
            if (s->have == (size_t)2 * (N + 1)) {
                memmove(s->ring, s->ring + s->have - N, (size_t)N * sizeof *s->ring);
                s->have = (size_t)N;
            }
            s->ring[s->have++] = x[i];
            /* the window ending here: text[i0 .. i0+N) -> text[i0+N] (or, with a target at
             * every position, text[i0+1 .. i0+N]), i0 = pos - N */
            if (s->pos >= (uint64_t)N && (s->pos - N) % (uint64_t)s->step == 0) {
                const int32_t *w = s->ring + s->have - 1 - N;
                if (add_window(s, w, pp ? w + 1 : w + N, pp ? N : 1, err, cap) < 0)
                    return -1;
            }
        }
        s->pos++;
    }
    return 0;
}

int score_frame(scorer *s, const ts_frame *f, char *err, size_t cap)
{
    char msg[400];
    if (s->text)
        return lib_fail(err, cap, "%s: window frames after text", s->label);
    s->stream = 1;
    if (strcmp(f->name, "x") == 0 && f->ndim >= 2 && f->shape[1] != (uint64_t)s->m->maxlen)
        return lib_fail(err, cap, "%s: windows of %llu, but the model reads windows of %d", s->label,
                        (unsigned long long)f->shape[1], s->m->maxlen);
    if (dataset_add_frame(&s->d, f, msg, sizeof msg) < 0)
        return lib_fail(err, cap, "%s", msg);
    return s->d.n >= CHUNK ? flush_chunk(s, err, cap) : 0;
}

int score_finish(scorer *s, double *nats, double *targets, uint64_t *windows, char *err, size_t cap)
{
    int N = s->m->maxlen;
    char msg[400];
    if (s->stream && dataset_end(&s->d, msg, sizeof msg) < 0)
        return lib_fail(err, cap, "%s", msg);
    if (s->text && s->pos == 0)
        return lib_fail(err, cap, "%s: empty input", s->label);
    if (s->text && s->streams > 0) {             /* the text cut into B streams, the state carried */
        size_t tn = s->d.tn;
        int B = s->streams;
        if (tn < 2)
            return lib_fail(err, cap, "%s: a text of %zu characters has nothing to predict", s->label, tn);
        if ((size_t)B > tn - 1)
            B = (int)(tn - 1);
        /* steps per chunk: the model's, but no more than a stream has (the work areas grow with
         * them, and a model's maxlen is only a claim; chunks carry the state: the same loss) */
        size_t per = (tn - 1) / (size_t)B;
        int T = (size_t)N < per ? N : (int)(per > 0 ? per : 1), th = s->nthreads;
        if (!(s->ev = evaluator_new(s->k, s->m->dim, th, (B + th - 1) / th, T, err, cap)))
            return -1;
        s->loss = eval_streams(s->ev, &s->m->p, &s->d, 0, tn, B, &s->targets);
        s->windows = (uint64_t)s->targets;
    } else {
        if (s->text && s->pos <= (uint64_t)N)
            return lib_fail(err, cap, "%s: a text of %llu characters has no window of %d and its next"
                            " character", s->label, (unsigned long long)s->pos, N);
        if (flush_chunk(s, err, cap) < 0)
            return -1;
    }
    if (s->windows == 0)
        return lib_fail(err, cap, "%s: no windows to evaluate", s->label);
    if (!isfinite(s->loss))           /* (eval_streams gives NaN when out of memory, too) */
        return lib_fail(err, cap, "the loss is not finite (the model's outputs overflow, or out of memory)");
    *nats = s->loss / s->targets;
    *targets = s->targets;
    *windows = s->windows;
    return 0;
}
