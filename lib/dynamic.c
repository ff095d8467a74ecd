/* dynamic.c - dynamic evaluation: score a segment, then learn from it. See dynamic.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codec.h"
#include "lstm.h"
#include "util.h"
#include "dynamic.h"

struct dyn {
    const kern_ops *k;
    lstm_dims dim;
    dyn_opts o;
    const char *label;
    size_t n;                         /* weights */
    float *w, *w0, *grad;             /* the adapted weights, the trained ones, g (n each) */
    float *ms, *r;                    /* the sum of the segments' squared gradients; its RMS (n) */
    lstm_params p, g;                 /* views of w and grad */
    lstm_work *work;                  /* one row of up to segment steps */
    float *h, *c;                     /* the carried state (L, 1, H) */
    int32_t *buf;                     /* the segment being read: segment + 1 characters, the
                                         first the last of the segment before */
    int have;
    int64_t segments;                 /* scored */
    double loss, targets;
    dyn_hook hook;
    void *hook_ctx;
};

void dyn_opts_init(dyn_opts *o)
{
    *o = (dyn_opts){ .lr = DYN_LR, .decay = DYN_DECAY, .segment = DYN_SEGMENT };
}

void dyn_free(dyn *d)
{
    if (!d)
        return;
    free(d->w); free(d->w0); free(d->grad); free(d->ms); free(d->r);
    lstm_work_free(d->work);
    free(d->h); free(d->c); free(d->buf);
    free(d);
}

dyn *dyn_new(const kern_ops *k, const model *m, const dyn_opts *o, const char *label, char *err,
             size_t cap)
{
    if (!(o->lr >= 0 && o->lr <= 10) || !(o->decay >= 0 && o->decay <= 1) || o->segment < 1
        || o->segment > 100000) {
        lib_fail(err, cap, "dynamic evaluation: lr %g (0 to 10), decay %g (0 to 1) or segment %d (1 to 100000) "
                 "out of range", o->lr, o->decay, o->segment);
        return NULL;
    }
    dyn *d = calloc(1, sizeof *d);
    if (!d) {
        lib_fail(err, cap, "out of memory");
        return NULL;
    }
    size_t n = lstm_nparams(m->dim), ns = (size_t)m->dim.L * m->dim.H;
    *d = (dyn){ .k = k, .dim = m->dim, .o = *o, .label = label, .n = n, .have = 0 };
    d->w = lib_zalloc(n * sizeof *d->w);
    d->w0 = lib_zalloc(n * sizeof *d->w0);
    d->grad = lib_zalloc(n * sizeof *d->grad);
    d->ms = lib_zalloc(n * sizeof *d->ms);
    d->r = lib_zalloc(n * sizeof *d->r);
    d->work = lstm_work_new(m->dim, o->segment, 1);
    d->h = lib_zalloc(ns * sizeof *d->h);
    d->c = lib_zalloc(ns * sizeof *d->c);
    d->buf = malloc(((size_t)o->segment + 1) * sizeof *d->buf);
    if (!d->w || !d->w0 || !d->grad || !d->ms || !d->r || !d->work || !d->h || !d->c || !d->buf) {
        dyn_free(d);
        lib_fail(err, cap, "out of memory for dynamic evaluation (%zu weights, segments of %d)", n, o->segment);
        return NULL;
    }
    memcpy(d->w, m->params, n * sizeof *d->w);
    memcpy(d->w0, m->params, n * sizeof *d->w0);
    lstm_bind(&d->p, d->w, m->dim);
    lstm_bind(&d->g, d->grad, m->dim);
    return d;
}

/* ms += g^2, r = sqrt(ms inv) on [0, n). In groups of 4 with restrict, as adam_update
 * (optim.c), so that the -O2 build vectorises it: a segment's update touches every weight,
 * as much work as a few characters' forward and backward passes. */
static void rms_update(float *restrict ms, float *restrict r, const float *restrict g, size_t n,
                       float inv)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) {
            ms[i + l] += g[i + l] * g[i + l];
            r[i + l] = sqrtf(ms[i + l] * inv);
        }
    for (; i < n; i++) {
        ms[i] += g[i] * g[i];
        r[i] = sqrtf(ms[i] * inv);
    }
}

/* The step and the decay toward w0 on [0, n): w += -lr g / (r + eps) + lam min(r scale, most)
 * (w0 - w). */
static void step_update(float *restrict w, const float *restrict w0, const float *restrict g,
                        const float *restrict r, size_t n, float lr, float eps, float lam,
                        float scale, float most)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) {
            float rate = r[i + l] * scale;
            rate = rate < most ? rate : most;
            w[i + l] += -lr * g[i + l] / (r[i + l] + eps) + lam * rate * (w0[i + l] - w[i + l]);
        }
    for (; i < n; i++) {
        float rate = r[i] * scale;
        rate = rate < most ? rate : most;
        w[i] += -lr * g[i] / (r[i] + eps) + lam * rate * (w0[i] - w[i]);
    }
}

/* The sum of r[0, n) in double, four sums at a time (one chain of dependent additions would
 * take longer than the rest of the update). */
static double sum4(const float *r, size_t n)
{
    double s[4] = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++)
            s[l] += r[i + l];
    for (; i < n; i++)
        s[0] += r[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The update after a segment's gradient (dynamic.h): the RMS of the gradients so far, then
 * the normalised step and the scaled decay toward the trained weights. */
static void adapt(dyn *d)
{
    size_t n = d->n;
    rms_update(d->ms, d->r, d->grad, n, (float)(1.0 / (double)d->segments));
    double rsum = sum4(d->r, n);
    /* with no decay, or every gradient zero so far (the weights are w0), no decay term */
    float lam = (float)d->o.decay, most = d->o.decay > 0 ? (float)(1.0 / d->o.decay) : 0;
    float scale = rsum > 0 && lam > 0 ? (float)((double)n / rsum) : 0;   /* 1 / mean(r) */
    step_update(d->w, d->w0, d->grad, d->r, n, (float)d->o.lr, (float)DYN_EPS, lam, scale, most);
}

/* The segment buf[0 .. T] (T steps): scored, then learnt from. */
static int segment(dyn *d, int T, char *err, size_t cap)
{
    memset(d->grad, 0, d->n * sizeof *d->grad);
    lstm_seq s = { .per_position = 1, .h0 = d->h, .c0 = d->c, .hT = d->h, .cT = d->c };
    double loss = lstm_train_seq(d->k, &d->p, &d->g, d->work, 1, T, d->buf, d->buf + 1, 1.0f / (float)T, &s);
    if (!isfinite(loss))
        return lib_fail(err, cap, "%s: dynamic evaluation: the loss became %g after %lld segments (try a lower "
                        "learning rate)", d->label, loss, (long long)d->segments);
    if (d->hook)
        d->hook(d->hook_ctx, d->segments, loss, T);
    d->loss += loss;
    d->targets += T;
    d->segments++;
    adapt(d);
    d->buf[0] = d->buf[T];
    d->have = 1;
    return 0;
}

int dyn_text(dyn *d, const int32_t *x, size_t n, char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (x[i] < 0 || x[i] >= d->dim.V)
            return lib_fail(err, cap, "%s: index %d is not below V = %d", d->label, (int)x[i], d->dim.V);
        d->buf[d->have++] = x[i];
        if (d->have == d->o.segment + 1 && segment(d, d->o.segment, err, cap) < 0)
            return -1;
    }
    return 0;
}

int dyn_finish(dyn *d, char *err, size_t cap)
{
    return d->have > 1 ? segment(d, d->have - 1, err, cap) : 0;
}

void dyn_set_hook(dyn *d, dyn_hook fn, void *ctx)
{
    d->hook = fn;
    d->hook_ctx = ctx;
}

void dyn_result(const dyn *d, double *loss, double *targets)
{
    *loss = d->loss;
    *targets = d->targets;
}

const float *dyn_weights(const dyn *d)
{
    return d->w;
}

int dyn_adapt_file(const kern_ops *k, model *m, const char *path, const dyn_opts *o,
                   double *nats, uint64_t *skipped, char *err, size_t cap)
{
    codec cd;
    if (codec_init(&cd, m->vocab, m->dim.V, m->byte_unit, m->lower, err, cap) < 0)
        return -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return lib_fail(err, cap, "%s: %s", path, strerror(errno));
    dyn *d = dyn_new(k, m, o, path, err, cap);
    enum { BLOCK = 65536 };
    unsigned char *in = malloc(BLOCK + 4);
    int32_t *idx = malloc((BLOCK + 4) * sizeof *idx);
    int rc = d && in && idx ? 0 : d ? lib_fail(err, cap, "out of memory") : -1;
    codec_pos at = { 0 };
    size_t len = 0;
    for (int eof = 0; rc == 0 && (!eof || len > 0);) {
        if (!eof) {
            ssize_t r = read(fd, in + len, BLOCK - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = lib_fail(err, cap, "%s: read failed: %s", path, strerror(errno));
                break;
            }
            eof = r == 0;
            len += (size_t)(r > 0 ? r : 0);
        }
        size_t n, used;
        char msg[256];
        int e = codec_encode(&cd, in, len, !eof, CODEC_SKIP, 0, idx, &n, &used, &at);
        if (dyn_text(d, idx, n, err, cap) < 0)
            rc = -1;
        else if (e < 0)
            rc = lib_fail(err, cap, "%s: %s", path, codec_error(&cd, e, &at, msg, sizeof msg));
        memmove(in, in + used, len - used);
        len -= used;
        if (eof && len == 0)
            break;
    }
    close(fd);
    double loss, n = 0;
    if (rc == 0 && (rc = dyn_finish(d, err, cap)) == 0) {
        dyn_result(d, &loss, &n);
        if (n > 0)
            memcpy(m->params, dyn_weights(d), lstm_nparams(m->dim) * sizeof(float));
    }
    *nats = n > 0 ? loss / n : NAN;
    *skipped = at.skipped;
    free(in);
    free(idx);
    dyn_free(d);
    return rc;
}
