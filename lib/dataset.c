/* dataset.c - training data in memory: the text once, windows as runs over it. See dataset.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dataset.h"
#include "util.h"

#define MAX_N 100000                  /* the longest window accepted */

/* Room for need items of size item in *p (capacity *cap items, doubled as it grows). */
static int grow(void *pp, size_t *cap, size_t need, size_t item)
{
    void **p = pp;
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * item);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static inline int wide(const dataset *d) { return d->vocab.V > 256; }

static inline int32_t tat(const dataset *d, size_t i) { return d->t8 ? d->t8[i] : d->t16[i]; }

void dataset_init(dataset *d, int want_text, const char *label)
{
    memset(d, 0, sizeof *d);
    d->want_text = want_text;
    d->label = label ? label : "input";
}

void dataset_clear(dataset *d)
{
    d->nruns = d->tn = d->n = 0;      /* the buffers stay, for the next chunk; and so do the */
                                      /* rows of an x tensor whose y is still to come */
    d->plain = 0;
}

void dataset_free(dataset *d)
{
    free(d->runs); free(d->x8); free(d->x16); free(d->y8); free(d->y16); free(d->t8); free(d->t16);
    free(d->tmp);
    free(d->span);
    frame_vocab_free(&d->vocab);
    frame_vocab_free(&d->other);
    memset(d, 0, sizeof *d);
}

/* Append n indices to the characters. */
static int text_push(dataset *d, const int32_t *v, size_t n)
{
    if (wide(d)) {
        if (grow(&d->t16, &d->tcap, d->tn + n, 2) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            d->t16[d->tn + i] = (uint16_t)v[i];
    } else {
        if (grow(&d->t8, &d->tcap, d->tn + n, 1) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            d->t8[d->tn + i] = (uint8_t)v[i];
    }
    d->tn += n;
    return 0;
}

int dataset_add_text(dataset *d, const int32_t *t, size_t n, char *err, size_t cap)
{
    if (text_push(d, t, n) < 0)
        return lib_fail(err, cap, "out of memory for %zu characters of text", d->tn + n);
    return 0;
}

/* ---- windows ---- */

/* The run holding window i (runs are in order of their first window). */
static const ds_run *run_of(const dataset *d, size_t i)
{
    size_t lo = 0, hi = d->nruns - 1;
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        if (d->runs[mid].first <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return &d->runs[lo];
}

static size_t span_at(const dataset *d, size_t i)
{
    const ds_run *r = run_of(d, i);
    return (size_t)(r->off + (i - r->first) * r->stride);
}

/* Window i into x (N) and y (ylen). */
static void window_at(const dataset *d, size_t i, int32_t *x, int32_t *y)
{
    int N = d->N, Y = d->ylen;
    if (d->plain) {
        for (int t = 0; t < N; t++)
            x[t] = d->x8 ? d->x8[i * N + t] : d->x16[i * N + t];
        for (int t = 0; t < Y; t++)
            y[t] = d->y8 ? d->y8[i * Y + t] : d->y16[i * Y + t];
        return;
    }
    size_t o = span_at(d, i);
    for (int t = 0; t < N; t++)
        x[t] = tat(d, o + t);
    if (Y == 1)
        y[0] = tat(d, o + N);
    else
        for (int t = 0; t < Y; t++)
            y[t] = tat(d, o + 1 + t);
}

static void put(const dataset *d, uint8_t *p8, uint16_t *p16, size_t off, const int32_t *v, size_t n)
{
    if (wide(d))
        for (size_t i = 0; i < n; i++)
            p16[off + i] = (uint16_t)v[i];
    else
        for (size_t i = 0; i < n; i++)
            p8[off + i] = (uint8_t)v[i];
}

/* Append one window to the plain arrays. */
static int plain_push(dataset *d, const int32_t *x, const int32_t *y)
{
    int N = d->N, Y = d->ylen, w = wide(d) ? 2 : 1;
    if ((wide(d) ? grow(&d->x16, &d->xcap, d->n + 1, (size_t)N * w) : grow(&d->x8, &d->xcap, d->n + 1, (size_t)N))
        || (wide(d) ? grow(&d->y16, &d->ycap, d->n + 1, (size_t)Y * w) : grow(&d->y8, &d->ycap, d->n + 1, (size_t)Y)))
        return -1;
    put(d, d->x8, d->x16, d->n * N, x, (size_t)N);
    put(d, d->y8, d->y16, d->n * Y, y, (size_t)Y);
    d->n++;
    return 0;
}

/* From runs over the text to plain arrays: for windows that are not spans of a text. */
static int to_plain(dataset *d)
{
    dataset p = *d;                   /* the plain store, built beside the compact one */
    p.plain = 1;
    p.n = 0;
    p.x8 = p.y8 = NULL;
    p.x16 = p.y16 = NULL;
    p.xcap = p.ycap = 0;
    int32_t *x = malloc(((size_t)d->N + d->ylen) * sizeof *x);
    if (!x)
        return -1;
    for (size_t i = 0; i < d->n; i++) {
        window_at(d, i, x, x + d->N);
        if (plain_push(&p, x, x + d->N) < 0) {
            free(x); free(p.x8); free(p.x16); free(p.y8); free(p.y16);
            return -1;
        }
    }
    free(x);
    free(d->runs); free(d->t8); free(d->t16);
    free(d->x8); free(d->x16); free(d->y8); free(d->y16);   /* (a cleared chunk's, if any) */
    p.runs = NULL; p.nruns = p.runcap = 0;
    p.t8 = NULL; p.t16 = NULL; p.tn = p.tcap = 0;
    *d = p;
    return 0;
}

/* Does the span (N + 1) continue the text as a window starting at `at` (<= tn)? The part of
 * it the text already holds must match. */
static int continues(const dataset *d, size_t at, const int32_t *span)
{
    for (size_t j = 0; at + j < d->tn; j++)
        if (span[j] != tat(d, at + j))
            return 0;
    return 1;
}

/* Append a window given as its span of N + 1 characters. The last window of the last run
 * always ends where the text ends, so a window that moves on by s from it starts at
 * tn - (N + 1) + s and adds its last s characters. */
static int span_push(dataset *d, const int32_t *span)
{
    size_t N1 = (size_t)d->N + 1;
    if (d->nruns > 0) {
        ds_run *r = &d->runs[d->nruns - 1];
        size_t last = d->tn - N1, c = d->n - (size_t)r->first;
        size_t s = 0;
        if (c >= 2)
            s = continues(d, last + r->stride, span) ? r->stride : 0;
        else                          /* a second window fixes the stride: the least that fits */
            for (size_t t = 1; t <= N1 && !s; t++)
                if (continues(d, last + t, span))
                    s = t;            /* (t = N + 1 always fits: nothing overlaps) */
        if (s) {
            if (text_push(d, span + N1 - s, s) < 0)
                return -1;
            r->stride = (uint32_t)s;
            d->n++;
            return 0;
        }
    }
    if (grow(&d->runs, &d->runcap, d->nruns + 1, sizeof *d->runs) < 0)
        return -1;
    d->runs[d->nruns++] = (ds_run){ .first = d->n, .off = d->tn, .stride = (uint32_t)N1 };
    if (text_push(d, span, N1) < 0)
        return -1;
    d->n++;
    return 0;
}

int dataset_add_window(dataset *d, const int32_t *x, const int32_t *y, int N, int ylen,
                       char *err, size_t cap)
{
    if (d->N == 0) {
        d->N = N;
        d->ylen = ylen;
    }
    if (N != d->N || ylen != d->ylen)
        return lib_fail(err, cap, "windows of %d -> %d after windows of %d -> %d", N, ylen, d->N, d->ylen);
    int is_span = 1;
    for (int t = 0; ylen > 1 && t + 1 < N; t++)
        if (y[t] != x[t + 1])
            is_span = 0;
    if (!is_span && !d->plain && to_plain(d) < 0)
        return lib_fail(err, cap, "out of memory for %zu windows", d->n);
    int rc;
    if (d->plain)
        rc = plain_push(d, x, y);
    else {
        if (!d->span && !(d->span = malloc(((size_t)N + 1) * sizeof *d->span)))
            return lib_fail(err, cap, "out of memory");
        memcpy(d->span, x, (size_t)N * sizeof *x);
        d->span[N] = y[ylen - 1];
        rc = span_push(d, d->span);
    }
    if (rc < 0)
        return lib_fail(err, cap, "out of memory for %zu windows", d->n + 1);
    return 0;
}

void dataset_gather(const dataset *d, const uint32_t *rows, int b, int32_t *x, int32_t *y)
{
    for (int s = 0; s < b; s++)
        window_at(d, rows[s], x + (size_t)s * d->N, y + (size_t)s * d->ylen);
}

void dataset_gather_range(const dataset *d, size_t first, int b, int32_t *x, int32_t *y)
{
    for (int s = 0; s < b; s++)
        window_at(d, first + s, x + (size_t)s * d->N, y + (size_t)s * d->ylen);
}

void dataset_slice(const dataset *d, size_t start, size_t n, int lo, int b, size_t off, int T,
                   int32_t *x, int32_t *y)
{
    for (int s = 0; s < b; s++) {
        size_t base = start + (size_t)(lo + s) * n, k = off % n;
        for (int t = 0; t < T; t++) {
            x[(size_t)s * T + t] = tat(d, base + k);
            y[(size_t)s * T + t] = tat(d, base + k + 1);
            if (++k == n)
                k = 0;
        }
    }
}

static uint64_t fnv1a_u32(uint64_t h, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t dataset_fingerprint(const dataset *d, uint64_t *size)
{
    uint64_t h = 0xcbf29ce484222325ULL;            /* FNV-1a 64's offset basis */
    if (d->want_text) {
        for (size_t i = 0; i < d->tn; i++)
            h = fnv1a_u32(h, (uint32_t)tat(d, i));
        *size = d->tn;
        return h;
    }
    h = fnv1a_u32(fnv1a_u32(h, (uint32_t)d->N), (uint32_t)d->ylen);
    int N = d->N, Y = d->ylen;                     /* (window_at's reads, without a buffer) */
    for (size_t i = 0; i < d->n; i++) {
        if (d->plain) {
            for (int t = 0; t < N; t++)
                h = fnv1a_u32(h, d->x8 ? d->x8[i * N + t] : d->x16[i * N + t]);
            for (int t = 0; t < Y; t++)
                h = fnv1a_u32(h, d->y8 ? d->y8[i * Y + t] : d->y16[i * Y + t]);
            continue;
        }
        size_t o = span_at(d, i);
        for (int t = 0; t < N; t++)
            h = fnv1a_u32(h, (uint32_t)tat(d, o + t));
        for (int t = 0; t < Y; t++)
            h = fnv1a_u32(h, (uint32_t)tat(d, Y == 1 ? o + N : o + 1 + t));
    }
    *size = d->n;
    return h;
}

size_t dataset_bytes(const dataset *d)
{
    int w = wide(d) ? 2 : 1;
    if (d->plain)
        return d->n * ((size_t)d->N + d->ylen) * w;
    return d->tn * w + d->nruns * sizeof *d->runs;
}

/* ---- frames ---- */

static int tmp_room(dataset *d, size_t n)
{
    if (n <= d->tmpcap)
        return 0;
    int32_t *t = realloc(d->tmp, n * sizeof *t);
    if (!t)
        return -1;
    d->tmp = t;
    d->tmpcap = n;
    return 0;
}

/* The first count indices of f into tmp[off ..]. */
static int decode(dataset *d, const ts_frame *f, size_t off, size_t count, const char *what, char *err, size_t cap)
{
    char msg[256];
    if (tmp_room(d, off + count) < 0)
        return lib_fail(err, cap, "%s: out of memory for a frame of %zu values", d->label, off + count);
    if (frame_indices(f, count, d->vocab.V, d->tmp + off, what, msg, sizeof msg) < 0)
        return lib_fail(err, cap, "%s: %s", d->label, msg);
    return 0;
}

/* The frame before f was the last piece of its tensor: a later vocab tensor is compared with
 * the vocabulary, and a y tensor must have had all of its x's rows. */
static int end_tensor(dataset *d, char *err, size_t cap)
{
    const char *L = d->label;
    if (d->vocab_open == 2) {
        int same = frame_vocab_same(&d->vocab, &d->other);
        frame_vocab_free(&d->other);
        if (!same && d->vocab_fixed)
            return lib_fail(err, cap, "%s: the stream's vocabulary differs from the model's (encode with vocab -v MODEL)", L);
        if (!same)
            return lib_fail(err, cap, "%s: a second, different vocab frame (streams of different texts?)", L);
    }
    d->vocab_open = 0;
    if (d->yopen && d->ytaken < d->yrows)
        return lib_fail(err, cap, "%s: a y frame of %zu rows does not match the x frame before it (%zu)",
                        L, d->ytaken, d->yrows);
    d->yopen = 0;
    d->ytaken = d->yrows = 0;
    return 0;
}

/* A piece of a vocab tensor: the first sets the vocabulary, a later one is compared with it. */
static int vocab_piece(dataset *d, const ts_frame *f, char *err, size_t cap)
{
    char msg[256];
    int rc;
    if (f->piece == 0)                /* the first vocab read, or a later one to compare */
        d->vocab_open = d->vocab.V == 0 ? 1 : 2;
    if (d->vocab_open == 1)
        rc = frame_vocab_take(&d->vocab, f, FRAME_MAX_V, msg, sizeof msg);
    else
        rc = frame_vocab_take(&d->other, f, FRAME_ANY_V, msg, sizeof msg);
    return rc < 0 ? lib_fail(err, cap, "%s: %s", d->label, msg) : 0;
}

int dataset_add_frame(dataset *d, const ts_frame *f, char *err, size_t cap)
{
    const char *L = d->label;
    int is_x = strcmp(f->name, "x") == 0, is_y = strcmp(f->name, "y") == 0;
    int is_text = strcmp(f->name, "text") == 0;
    if (f->piece == 0 && end_tensor(d, err, cap) < 0)
        return -1;
    if (strcmp(f->name, "vocab") == 0)
        return vocab_piece(d, f, err, cap);
    if (!is_x && !is_y && !is_text)
        return 0;                                 /* other frames: not ours */
    if (!d->vocab.V)
        return lib_fail(err, cap, "%s: %s before any vocab frame (is this the output of vocab?)", L, f->name);
    if (!f->is_tensor)
        return lib_fail(err, cap, "%s: %s is not a tensor", L, f->name);
    if (is_text) {
        if (!d->want_text) {
            d->saw_text = 1;
            return 0;                             /* windows are what counts then */
        }
        if (!frame_is_index_dtype(f->dtype) || f->ndim != 1)
            return lib_fail(err, cap, "%s: text frames must be (n,) indices", L);
        size_t n = f->shape[0];
        if (decode(d, f, 0, n, "text", err, cap) < 0)
            return -1;
        return dataset_add_text(d, d->tmp, n, err, cap);
    }
    char layout[16] = "";
    if (is_x && ts_attr_str(f, "layout", layout, sizeof layout) == 1 && strcmp(layout, "streams") == 0)
        return lib_fail(err, cap, "%s: window --streams frames (pieces of streams, to be read in order with "
                        "the state carried) are not independent windows: give vocab's output (train "
                        "--streams -n N -b B trains on it as streams) or the windows of 'window -n N'", L);
    if (d->want_text)
        return lib_fail(err, cap, "%s: --streams trains on the text: give it vocab's output, not windows", L);
    int onehot = !frame_is_index_dtype(f->dtype);
    if (is_x) {
        if (d->pending && f->piece == 0)
            return lib_fail(err, cap, "%s: two x frames without a y frame between them", L);
        if (onehot && (f->dtype != TS_F4 || f->ndim != 3 || f->shape[2] != (uint64_t)d->vocab.V))
            return lib_fail(err, cap, "%s: float x must be f4 (B, N, V=%d), got %s with %d dimensions",
                        L, d->vocab.V, ts_dtype_name(f->dtype), f->ndim);
        if (!onehot && f->ndim != 2)
            return lib_fail(err, cap, "%s: x must be (B, N) indices or (B, N, V) one-hot, got %d dimensions", L, f->ndim);
        if (f->shape[1] == 0 || f->shape[1] > MAX_N)
            return lib_fail(err, cap, "%s: window length %llu is out of range", L, (unsigned long long)f->shape[1]);
        if (d->N == 0)
            d->N = (int)f->shape[1];
        else if ((uint64_t)d->N != f->shape[1])
            return lib_fail(err, cap, "%s: windows of %llu after windows of %d", L, (unsigned long long)f->shape[1], d->N);
        size_t B = f->shape[0], cells = B * (size_t)d->N;
        /* x waits in tmp (first) for its y, decoded after it in tmp; the pieces of a split x
         * one after the other */
        if (decode(d, f, d->pending * (size_t)d->N, cells, "x", err, cap) < 0)
            return -1;
        d->pending += B;
        return 0;
    }
    /* y: its rows (this piece's B) go with the x rows after those taken by its pieces before */
    if (f->piece == 0) {              /* a y tensor goes with the x rows waiting */
        d->yopen = 1;
        d->yrows = d->pending;
        d->ytaken = 0;
    }
    size_t B = f->ndim ? f->shape[0] : 0, xcells = d->yrows * (size_t)d->N;
    if (f->ndim == 0 || B > d->yrows - d->ytaken)
        return lib_fail(err, cap, "%s: a y frame of %llu rows does not match the x frame before it (%zu)",
                    L, (unsigned long long)(d->ytaken + B), d->yrows);
    int ylen = f->ndim - onehot == 2 ? (int)f->shape[1] : 1;
    if (onehot && (f->dtype != TS_F4 || (f->ndim != 2 && f->ndim != 3) || f->shape[f->ndim - 1] != (uint64_t)d->vocab.V))
        return lib_fail(err, cap, "%s: float y must be f4 (B, V=%d) or (B, N, V)", L, d->vocab.V);
    if (!onehot && f->ndim != 1 && f->ndim != 2)
        return lib_fail(err, cap, "%s: y must be (B) or (B, N) indices, or one-hot", L);
    if (ylen != 1 && ylen != d->N)
        return lib_fail(err, cap, "%s: y (B, %d) does not match windows of %d", L, ylen, d->N);
    if (d->ylen == 0)
        d->ylen = ylen;
    else if (d->ylen != ylen)
        return lib_fail(err, cap, "%s: y frames change from %d to %d targets per window", L, d->ylen, ylen);
    size_t ycells = B * (size_t)ylen;
    if (tmp_room(d, xcells + ycells) < 0)
        return lib_fail(err, cap, "%s: out of memory for a frame of %zu values", L, xcells + ycells);
    char msg[256];
    if (frame_indices(f, ycells, d->vocab.V, d->tmp + xcells, "y", msg, sizeof msg) < 0)
        return lib_fail(err, cap, "%s: %s", L, msg);
    for (size_t s = 0; s < B; s++)
        if (dataset_add_window(d, d->tmp + (d->ytaken + s) * d->N, d->tmp + xcells + s * ylen, d->N, ylen,
                               err, cap) < 0)
            return -1;
    d->ytaken += B;
    d->pending = d->yrows - d->ytaken;  /* (0 once every x row has its y: a further piece is refused) */
    return 0;
}

int dataset_end(dataset *d, char *err, size_t cap)
{
    if (end_tensor(d, err, cap) < 0)
        return -1;
    if (d->pending)
        return lib_fail(err, cap, "%s: the last x frame has no y frame", d->label);
    return 0;
}

int dataset_finish(dataset *d, char *err, size_t cap)
{
    const char *L = d->label;
    if (dataset_end(d, err, cap) < 0)
        return -1;
    if (!d->vocab.V)
        return lib_fail(err, cap, "%s: no vocab frame (expected the output of vocab | window)", L);
    if (d->want_text && d->tn == 0)
        return lib_fail(err, cap, "%s: no text frames (--streams trains on the output of vocab)", L);
    if (!d->want_text && d->n == 0 && d->saw_text)
        return lib_fail(err, cap, "%s: no windows in the input, only text (vocab's output): add a window "
                        "stage ('vocab | window -n 40 | train') or train on the text with --streams", L);
    if (!d->want_text && d->n == 0)
        return lib_fail(err, cap, "%s: no windows in the input", L);
    free(d->tmp);
    d->tmp = NULL;
    d->tmpcap = 0;
    return 0;
}

int dataset_read(dataset *d, const char *path, int want_text,
                 void (*progress)(void *ctx, size_t windows, size_t chars), void *ctx,
                 char *err, size_t cap)
{
    int fd = path ? open(path, O_RDONLY) : 0;
    const char *label = path ? path : "stdin";
    dataset_init(d, want_text, label);
    if (fd < 0)
        return lib_fail(err, cap, "%s: %s", path, strerror(errno));
    ts_reader *r = ts_reader_open(fd, label);
    ts_frame f;
    int rc = r ? 0 : lib_fail(err, cap, "%s: out of memory", label), got;
    while (rc == 0 && (got = ts_read(r, &f)) != 0) {
        if (got < 0)
            rc = lib_fail(err, cap, "%s", ts_reader_error(r));
        else if ((rc = dataset_add_frame(d, &f, err, cap)) == 0 && progress)
            progress(ctx, d->n, d->tn);
    }
    if (rc == 0)
        rc = dataset_finish(d, err, cap);
    ts_reader_close(r);
    if (path)
        close(fd);
    return rc;
}

int dataset_dims(ts_reader *r, const char *label, int *V, int *N, char *err, size_t cap)
{
    dataset d;
    ts_frame f;
    int rc = 0;
    dataset_init(&d, 0, label);
    while ((!*V || !*N) && (rc = ts_read(r, &f)) > 0) {
        int vocab = strcmp(f.name, "vocab") == 0;
        if (vocab && !*V && dataset_add_frame(&d, &f, err, cap) < 0)
            goto fail;
        if (!vocab && d.vocab.V)      /* (known once a frame that is not one of its pieces comes) */
            *V = d.vocab.V;
        if (strcmp(f.name, "x") == 0 && !*N) {
            if (!f.is_tensor || f.ndim < 2 || f.shape[1] < 1 || f.shape[1] > 100000) {
                lib_fail(err, cap, "%s: x must be (B, N) windows, N from 1 to 100000", label);
                goto fail;
            }
            *N = (int)f.shape[1];
        }
    }
    if ((!*V || !*N) && rc < 0) {
        lib_fail(err, cap, "%s", ts_reader_error(r));
        goto fail;
    }
    if (!*V)
        *V = d.vocab.V;
    dataset_free(&d);
    return *V && *N ? 0 : lib_fail(err, cap, "%s: no vocab and x frames to take V and N from", label);
fail:
    dataset_free(&d);
    return -1;
}

int dataset_prefix(const dataset *d, int32_t *idx, int max)
{
    if (d->want_text) {
        int n = d->tn < (size_t)max ? (int)d->tn : max;
        for (int i = 0; i < n; i++)
            idx[i] = d->t8 ? d->t8[i] : d->t16[i];
        return n;
    }
    if (d->n == 0 || max < d->N)
        return 0;
    int32_t *y = malloc((size_t)d->ylen * sizeof *y);
    if (!y)
        return -1;
    dataset_gather_range(d, 0, 1, idx, y);
    free(y);
    return d->N;
}
