/* train - train a character-level LSTM on a window stream (the Keras course's model), or on
 * the text itself cut into parallel streams with the state carried (char-rnn). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "cli.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "ts.h"

/* ---- options ---- */
static int opt_epochs = 1, opt_hidden = 128, opt_batch = 64, opt_threads = 0, opt_layers = 1;
static double opt_lr = 1e-3, opt_val = 0.2, opt_clip = 0, opt_dropout = 0, opt_decay_rate = 0.5;
static double opt_max_seconds = 0;
static long opt_seed = 1, opt_eval_every = 0;
static int opt_decay_every = 1;
static const char *opt_out, *opt_resume, *opt_log, *opt_best, *opt_schedule = "none";
static int opt_summary, opt_progress = -1, opt_V, opt_N, opt_streams;
static long opt_max_batches;
static int set_hidden, set_batch, set_lr, set_val, set_clip, set_seed, set_layers, set_cell;
static int opt_cell = CELL_LSTM;

static void usage(void)
{
    printf(
"NAME\n"
"    train - train a character-level LSTM on a window stream or, char-rnn style, on the text\n\n"
"SYNOPSIS\n"
"    vocab < TEXT | window -n 40 | train [-e EPOCHS] [-o MODEL] [OPTIONS] [> MODEL]\n"
"    vocab < TEXT | train --streams -n 100 -b 50 [-L LAYERS] [OPTIONS] -o MODEL\n"
"    train --summary [-V VOCAB -n MAXLEN] [-H HIDDEN] [-L LAYERS] [--cell CELL] [< STREAM]\n\n"
"DESCRIPTION\n"
"    Reads a charpipe stream with a 'vocab' frame and 'x' (B, N) / 'y' (B) window frames\n"
"    (indices from window, or one-hot float32 from onehot) and trains the Keras course\n"
"    model: LSTM(H) over the N characters of each window, its last hidden state into\n"
"    Dense(V) with softmax, categorical cross-entropy, Adam (Keras defaults). The windows\n"
"    are held in memory as indices; the last VAL of them (before shuffling, as Keras's\n"
"    validation_split takes them) are for validation, the rest are shuffled every epoch\n"
"    from a seeded RNG. With y (B, N) frames (window --seq) every position is a target.\n\n"
"    --streams trains char-rnn style on the 'text' frames of vocab instead: the last VAL of\n"
"    the text is held out, the rest is cut into B (-b) contiguous streams, and each batch is\n"
"    the next N (-n) characters of every stream with a target at every position; the LSTM\n"
"    state is carried from batch to batch (truncated back-propagation through N steps) and\n"
"    reset at each epoch. Validation runs the held-out text the same way.\n\n"
"    Progress goes to stderr: a bar on a terminal, else a line per epoch. The model is a\n"
"    charpipe stream (weights named and laid out as Keras's, see lib/model.h). With -o it is\n"
"    written atomically after every epoch; without -o the final model goes to stdout.\n"
"    Ctrl-C saves a checkpoint to the -o file (resumable mid-epoch) and exits with 130.\n\n"
"OPTIONS\n"
"    -e, --epochs N      train until N epochs are complete in total (default %d)\n"
"    -H, --hidden N      units per layer (default %d)\n"
"    -L, --layers N      stacked recurrent layers (default %d)\n"
"        --cell C        the recurrent cell: lstm; gru (Keras's GRU, reset_after: 3/4 of the\n"
"                        LSTM's weights and work per unit); lnlstm (the LSTM with each gate's\n"
"                        projections layer-normalised, as KANN's) (default lstm)\n"
"    -b, --batch N       windows per batch, or streams with --streams (default %d)\n"
"    -n N                steps per batch with --streams (default 100)\n"
"        --streams       char-rnn training on the text frames (see above)\n"
"        --lr F          Adam learning rate (default %g)\n"
"        --schedule S    learning rate schedule: none, cosine (to 0 over the run: the epochs,\n"
"                        or --max-seconds), step (times --decay-rate every --decay-every\n"
"                        epochs) (default %s)\n"
"        --decay-rate F, --decay-every N   for the step schedule (default %g, %d)\n"
"        --dropout F     dropout between stacked layers (default %g)\n"
"        --val F         validation split: fraction of the windows or of the text (default %g)\n"
"        --clip F        clip the gradient to this global norm, 0 = off (default %g)\n"
"        --seed N        RNG seed for initialisation, shuffling and dropout (default %ld)\n"
"    -j, --threads N     threads (default: all CPUs, %d here)\n"
"    -o, --output FILE   write the model to FILE after every epoch (atomic replace)\n"
"        --resume FILE   continue training from a model written by train -o; settings come\n"
"                        from the model, and the input must be the same\n"
"        --log FILE      append a line per epoch (and per --eval-every): epoch, train_loss,\n"
"                        val_loss (nats/char), seconds, windows or characters per second,\n"
"                        tab-separated, with a header line\n"
"        --eval-every N  also validate every N batches (logged; see --best)\n"
"        --best FILE     keep the model with the lowest validation loss in FILE\n"
"        --max-seconds S stop after S seconds of training (validation not counted)\n"
"        --summary       print the model summary (Keras layout) and exit; V and N from -V\n"
"                        and -n, or from the stream on stdin\n"
"    -V N                vocabulary size for --summary\n"
"        --progress, --no-progress   force the progress bar on or off\n"
"        --max-batches N train only N batches, report the speed and write no model\n"
"                        (for benchmarks)\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"ENVIRONMENT\n"
"    CHARPIPE_KERNEL     force a kernel set: scalar, avx2, avx512 (default: best for the CPU)\n\n"
"EXAMPLE\n"
"    vocab < shakespeare.txt | window -n 40 | train -e 5 -o model --log loss.tsv\n"
"    vocab < shakespeare.txt | train --streams -n 100 -b 50 -H 256 -L 2 --val 0.1 -o m\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure (bad input, I/O error), 2 bad usage, 130 interrupted.\n",
        opt_epochs, opt_hidden, opt_layers, opt_batch, opt_lr, opt_schedule, opt_decay_rate,
        opt_decay_every, opt_dropout, opt_val, opt_clip, opt_seed, par_ncpu());
}

/* ---- the input, held as indices ---- */
typedef struct {
    int V;
    uint32_t *vocab;
    int byte_unit, lower;
    /* windows: x (n, N), y (n) or (n, N) */
    int N, ylen;
    size_t n, cap, ycap;
    uint8_t *x8, *y8;                 /* when V <= 256 */
    uint16_t *x16, *y16;              /* otherwise */
    /* streams: the text */
    size_t tn, tcap;
    uint8_t *t8;
    uint16_t *t16;
} dataset;

static inline int32_t xat(const dataset *d, size_t i) { return d->x8 ? d->x8[i] : d->x16[i]; }
static inline int32_t yat(const dataset *d, size_t i) { return d->y8 ? d->y8[i] : d->y16[i]; }
static inline int32_t tat(const dataset *d, size_t i) { return d->t8 ? d->t8[i] : d->t16[i]; }

static int64_t index_at(const ts_frame *f, size_t i)
{
    const unsigned char *p = (const unsigned char *)f->data + i * ts_dtype_size(f->dtype);
    switch (f->dtype) {
    case TS_U1: return p[0];
    case TS_U2: return p[0] | p[1] << 8;
    case TS_U4: return (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    case TS_I4: return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    case TS_I2: return (int16_t)(p[0] | p[1] << 8);
    case TS_I1: return (int8_t)p[0];
    default: {
        uint64_t v = 0;
        memcpy(&v, p, 8);
        return f->dtype == TS_U8 && v > INT64_MAX ? -1 : (int64_t)v;
    }
    }
}

static int is_int_dtype(ts_dtype t) { return t != TS_F4 && t != TS_F8; }

/* Index of the one 1.0 in each of the rows of V floats; dies if a row is not one-hot. */
static void onehot_to_index(const ts_frame *f, size_t rows, int V, int32_t *out, const char *what)
{
    const unsigned char *p = f->data;
    for (size_t r = 0; r < rows; r++) {
        int hot = -1, ok = 1;
        for (int v = 0; v < V; v++) {
            float x;
            memcpy(&x, p + ((size_t)r * V + v) * 4, 4);
            if (x == 1.0f && hot < 0)
                hot = v;
            else if (x != 0.0f)
                ok = 0;
        }
        if (!ok || hot < 0)
            cli_die("stdin: %s is float32 but row %zu is not one-hot (exactly one 1.0, the rest 0)", what, r);
        out[r] = hot;
    }
}

static void *grow(void *p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    *cap = c;
    return cli_realloc(p, c * item);
}

/* Store n indices from tmp at 8 or 16 bits. */
static void put_idx(const dataset *d, uint8_t *p8, uint16_t *p16, size_t off, const int32_t *v, size_t n)
{
    if (d->V <= 256)
        for (size_t i = 0; i < n; i++)
            p8[off + i] = (uint8_t)v[i];
    else
        for (size_t i = 0; i < n; i++)
            p16[off + i] = (uint16_t)v[i];
}

/* The indices of an index tensor (any integer dtype) or one-hot rows (f4 (..., V)) into out;
 * dies naming what if one is out of range or a float row is not one-hot. */
static void indices(const ts_frame *f, const dataset *d, size_t count, int32_t *out, const char *what)
{
    if (!is_int_dtype(f->dtype)) {
        onehot_to_index(f, count, d->V, out, what);
        return;
    }
    if (f->dtype == TS_U1) {                        /* the common case, kept fast */
        const uint8_t *p = f->data;
        uint8_t mx = 0;
        for (size_t i = 0; i < count; i++) {
            out[i] = p[i];
            mx = p[i] > mx ? p[i] : mx;
        }
        if (count && mx >= d->V)
            cli_die("stdin: %s holds index %d, outside the vocabulary of %d", what, mx, d->V);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t v = index_at(f, i);
        if (v < 0 || v >= d->V)
            cli_die("stdin: %s holds index %lld, outside the vocabulary of %d", what, (long long)v, d->V);
        out[i] = (int32_t)v;
    }
}

static void read_input(dataset *d, int streams)
{
    ts_reader *r = cli_reader_open(0, "stdin");
    ts_frame f;
    int rc;
    size_t pending = 0;               /* windows of the last x frame still waiting for their y */
    int32_t *tmp = NULL;
    size_t tmpcap = 0;
    double t0 = cli_now(), last = t0;
    int tty = isatty(2);
    memset(d, 0, sizeof *d);
    while ((rc = ts_read(r, &f)) > 0) {
        int is_x = strcmp(f.name, "x") == 0, is_y = strcmp(f.name, "y") == 0;
        int is_text = strcmp(f.name, "text") == 0;
        if (strcmp(f.name, "vocab") == 0) {
            if (!f.is_tensor || f.dtype != TS_U4 || f.ndim != 1 || f.shape[0] == 0)
                cli_die("stdin: the vocab frame must be u4 (V,) with V > 0");
            if (f.shape[0] > 65536)
                cli_die("stdin: a vocabulary of %llu symbols is more than train supports (65536)",
                        (unsigned long long)f.shape[0]);
            char unit[16] = "codepoint";
            ts_attr_str(&f, "unit", unit, sizeof unit);
            if (d->vocab) {
                if (f.shape[0] != (uint64_t)d->V || memcmp(d->vocab, f.data, f.nbytes) != 0)
                    cli_die("stdin: a second, different vocab frame (streams of different texts?)");
                continue;
            }
            d->V = (int)f.shape[0];
            d->vocab = cli_malloc(f.nbytes);
            memcpy(d->vocab, f.data, f.nbytes);
            d->byte_unit = strcmp(unit, "byte") == 0;
            int64_t lw = 0;
            d->lower = ts_attr_int(&f, "lower", &lw) == 1 && lw;
            for (int i = 1; i < d->V; i++)
                if (d->vocab[i] <= d->vocab[i - 1])
                    cli_die("stdin: the vocab frame is not in ascending order");
            continue;
        }
        if (!is_x && !is_y && !is_text)
            continue;                                /* other frames: not ours */
        if (!d->vocab)
            cli_die("stdin: %s before any vocab frame (is this the output of vocab?)", f.name);
        if (!f.is_tensor)
            cli_die("stdin: %s is not a tensor", f.name);
        if (is_text) {
            if (!streams)
                continue;                            /* windows are what counts without --streams */
            if (!is_int_dtype(f.dtype) || f.ndim != 1)
                cli_die("stdin: text frames must be (n,) indices");
            size_t n = f.shape[0];
            if (n > tmpcap)
                tmp = cli_realloc(tmp, (tmpcap = n) * sizeof *tmp);
            indices(&f, d, n, tmp, "text");
            if (d->V <= 256)
                d->t8 = grow(d->t8, &d->tcap, d->tn + n, 1);
            else
                d->t16 = grow(d->t16, &d->tcap, d->tn + n, 2);
            put_idx(d, d->t8, d->t16, d->tn, tmp, n);
            d->tn += n;
            continue;
        }
        if (streams)
            cli_die("stdin: --streams trains on the text: give it vocab's output, not windows");
        if (is_x) {
            if (pending)
                cli_die("stdin: two x frames without a y frame between them");
            int onehot = !is_int_dtype(f.dtype);
            if (onehot && (f.dtype != TS_F4 || f.ndim != 3 || f.shape[2] != (uint64_t)d->V))
                cli_die("stdin: float x must be f4 (B, N, V=%d), got %s with %d dimensions",
                        d->V, ts_dtype_name(f.dtype), f.ndim);
            if (!onehot && f.ndim != 2)
                cli_die("stdin: x must be (B, N) indices or (B, N, V) one-hot, got %d dimensions", f.ndim);
            if (f.shape[1] == 0 || f.shape[1] > 100000)
                cli_die("stdin: window length %llu is out of range", (unsigned long long)f.shape[1]);
            if (d->N == 0)
                d->N = (int)f.shape[1];
            else if ((uint64_t)d->N != f.shape[1])
                cli_die("stdin: windows of %llu after windows of %d", (unsigned long long)f.shape[1], d->N);
            size_t B = f.shape[0], cells = B * (size_t)d->N;
            if (cells > tmpcap)
                tmp = cli_realloc(tmp, (tmpcap = cells) * sizeof *tmp);
            indices(&f, d, cells, tmp, "x");
            if (d->V <= 256)
                d->x8 = grow(d->x8, &d->cap, d->n + B, (size_t)d->N);
            else
                d->x16 = grow(d->x16, &d->cap, d->n + B, (size_t)d->N * 2);
            put_idx(d, d->x8, d->x16, d->n * (size_t)d->N, tmp, cells);
            pending = B;
        } else {                                     /* y */
            if (f.ndim == 0 || f.shape[0] != pending)
                cli_die("stdin: a y frame of %llu rows does not match the x frame before it (%zu)",
                        f.ndim ? (unsigned long long)f.shape[0] : 0ULL, pending);
            int onehot = !is_int_dtype(f.dtype);
            int ylen = f.ndim - onehot == 2 ? (int)f.shape[1] : 1;
            if (onehot && (f.dtype != TS_F4 || (f.ndim != 2 && f.ndim != 3) || f.shape[f.ndim - 1] != (uint64_t)d->V))
                cli_die("stdin: float y must be f4 (B, V=%d) or (B, N, V)", d->V);
            if (!onehot && f.ndim != 1 && f.ndim != 2)
                cli_die("stdin: y must be (B) or (B, N) indices, or one-hot");
            if (ylen != 1 && ylen != d->N)
                cli_die("stdin: y (B, %d) does not match windows of %d", ylen, d->N);
            if (d->ylen == 0)
                d->ylen = ylen;
            else if (d->ylen != ylen)
                cli_die("stdin: y frames change from %d to %d targets per window", d->ylen, ylen);
            size_t cells = pending * (size_t)ylen;
            if (cells > tmpcap)
                tmp = cli_realloc(tmp, (tmpcap = cells) * sizeof *tmp);
            indices(&f, d, cells, tmp, "y");
            if (d->V <= 256)
                d->y8 = grow(d->y8, &d->ycap, d->n + pending, (size_t)ylen);
            else
                d->y16 = grow(d->y16, &d->ycap, d->n + pending, (size_t)ylen * 2);
            put_idx(d, d->y8, d->y16, d->n * (size_t)ylen, tmp, cells);
            d->n += pending;
            pending = 0;
        }
        if (tty && cli_now() - last > 0.2) {
            fprintf(stderr, "\rreading: %zu windows, %zu characters", d->n, d->tn);
            last = cli_now();
        }
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (tty && last > t0)
        fprintf(stderr, "\r%60s\r", "");
    if (pending)
        cli_die("stdin: the last x frame has no y frame");
    if (!d->vocab)
        cli_die("stdin: no vocab frame (expected the output of vocab | window)");
    if (streams && d->tn == 0)
        cli_die("stdin: no text frames (--streams trains on the output of vocab)");
    if (!streams && d->n == 0)
        cli_die("stdin: no windows in the input%s", "");
    ts_reader_close(r);
    free(tmp);
}

static void ds_free(dataset *d)
{
    free(d->x8); free(d->x16); free(d->y8); free(d->y16); free(d->t8); free(d->t16); free(d->vocab);
}

/* ---- training ---- */
typedef struct {
    const kern_ops *k;
    model *m;
    const dataset *d;
    int nparts, bpart;                /* threads, rows (windows or streams) per thread at most */
    int N, pp;                        /* steps per sequence; a target at every step */
    lstm_work **work;
    float **grad;                     /* per thread, nparams floats */
    lstm_params *gp;                  /* views into grad[i] */
    int32_t **xb, **yb;               /* per thread batch buffers */
    float **sh, **sc;                 /* per thread carried state (L, bpart, H) (streams) */
    float **vh, **vc;                 /* the same for validation */
    double *loss;                     /* per thread */
    double *sumsq;
    size_t nparams;
    float lr;                         /* the learning rate of this step */
    /* streams: the training text (from 0) cut into m->streams streams of `n` characters */
    size_t n;
    /* the current job */
    const uint32_t *rows;             /* window indices of this batch */
    int b;
    size_t off;                       /* streams: offset of this batch in every stream */
    size_t first, count;              /* validation range (windows) or text (streams) */
    float scale;                      /* gradient scale after clipping */
} trainer;

/* Windows rows[0..b) into x (b, N), y (b, ylen). */
static void gather(const dataset *d, const uint32_t *rows, int b, int32_t *x, int32_t *y)
{
    int N = d->N, Y = d->ylen;
    for (int s = 0; s < b; s++) {
        size_t w = rows[s];
        for (int t = 0; t < N; t++)
            x[(size_t)s * N + t] = xat(d, w * N + t);
        for (int t = 0; t < Y; t++)
            y[(size_t)s * Y + t] = yat(d, w * Y + t);
    }
}

/* Streams lo..lo+b of a text cut (start, n per stream): steps off..off+T into x, y (b, T). */
static void slice(const dataset *d, size_t start, size_t n, int lo, int b, size_t off, int T,
                  int32_t *x, int32_t *y)
{
    for (int s = 0; s < b; s++) {
        size_t base = start + (size_t)(lo + s) * n + off;
        for (int t = 0; t < T; t++) {
            x[(size_t)s * T + t] = tat(d, base + t);
            y[(size_t)s * T + t] = tat(d, base + t + 1);
        }
    }
}

static void train_part(void *ctx, int part, int nparts)
{
    trainer *tr = ctx;
    model *m = tr->m;
    int lo = tr->b * part / nparts, hi = tr->b * (part + 1) / nparts, b = hi - lo;
    memset(tr->grad[part], 0, tr->nparams * sizeof(float));
    tr->loss[part] = 0;
    if (b == 0)
        return;
    rng_t r;                          /* dropout masks: a function of the seed, step and part */
    rng_seed(&r, m->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)m->steps * 1000003 + (uint64_t)lo);
    lstm_seq s = { .per_position = tr->pp, .dropout = (float)m->dropout, .rng = &r };
    if (m->streams) {
        slice(tr->d, 0, tr->n, lo, b, tr->off, tr->N, tr->xb[part], tr->yb[part]);
        s.h0 = s.hT = tr->sh[part];
        s.c0 = s.cT = tr->sc[part];
    } else {
        gather(tr->d, tr->rows + lo, b, tr->xb[part], tr->yb[part]);
    }
    float gscale = 1.0f / ((float)tr->b * (tr->pp ? tr->N : 1));
    tr->loss[part] = lstm_train_seq(tr->k, &m->p, &tr->gp[part], tr->work[part], b, tr->N,
                                    tr->xb[part], tr->yb[part], gscale, &s);
}

/* Sum the threads' gradients into grad[0], slice by slice; squared norm per slice. */
static void reduce_part(void *ctx, int part, int nparts)
{
    trainer *tr = ctx;
    size_t lo = tr->nparams * part / nparts, hi = tr->nparams * (part + 1) / nparts;
    float *g = tr->grad[0];
    double ss = 0;
    for (int t = 1; t < tr->nparts; t++) {
        const float *o = tr->grad[t];
        for (size_t i = lo; i < hi; i++)
            g[i] += o[i];
    }
    for (size_t i = lo; i < hi; i++)
        ss += (double)g[i] * g[i];
    tr->sumsq[part] = ss;
}

/* Adam (Keras's form, with epsilon outside the square root of the bias-corrected v). */
static void adam_part(void *ctx, int part, int nparts)
{
    trainer *tr = ctx;
    model *m = tr->m;
    size_t lo = tr->nparams * part / nparts, hi = tr->nparams * (part + 1) / nparts;
    double t = (double)m->steps;
    float alpha = (float)(tr->lr * sqrt(1 - pow(m->beta2, t)) / (1 - pow(m->beta1, t)));
    float b1 = (float)m->beta1, b2 = (float)m->beta2, eps = (float)m->eps, s = tr->scale;
    float *w = m->params, *mm = m->adam_m, *vv = m->adam_v;
    const float *g = tr->grad[0];
    for (size_t i = lo; i < hi; i++) {
        float gi = g[i] * s;
        mm[i] = b1 * mm[i] + (1 - b1) * gi;
        vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
        w[i] -= alpha * mm[i] / (sqrtf(vv[i]) + eps);
    }
}

static void val_part(void *ctx, int part, int nparts)
{
    trainer *tr = ctx;
    const model *m = tr->m;
    double sum = 0;
    if (m->streams) {                 /* the held-out text cut into streams, state carried */
        int lo = m->streams * part / nparts, hi = m->streams * (part + 1) / nparts, b = hi - lo;
        size_t n = (tr->count - 1) / (size_t)m->streams;
        size_t ns = (size_t)m->dim.L * b * m->dim.H;
        memset(tr->vh[part], 0, ns * sizeof(float));
        memset(tr->vc[part], 0, ns * sizeof(float));
        lstm_seq s = { .per_position = 1, .h0 = tr->vh[part], .c0 = tr->vc[part],
                       .hT = tr->vh[part], .cT = tr->vc[part] };
        for (size_t a = 0; b > 0 && a < n; a += (size_t)tr->N) {
            int T = (int)(n - a < (size_t)tr->N ? n - a : (size_t)tr->N);
            slice(tr->d, tr->first, n, lo, b, a, T, tr->xb[part], tr->yb[part]);
            sum += lstm_forward_seq(tr->k, &m->p, tr->work[part], b, T, tr->xb[part], tr->yb[part],
                                    NULL, &s);
        }
    } else {
        size_t lo = tr->count * part / nparts, hi = tr->count * (part + 1) / nparts;
        uint32_t rows[1024];
        lstm_seq s = { .per_position = tr->pp };
        for (size_t a = lo; a < hi; a += (size_t)tr->bpart) {
            int b = (int)(hi - a < (size_t)tr->bpart ? hi - a : (size_t)tr->bpart);
            for (int i = 0; i < b; i++)
                rows[i] = (uint32_t)(tr->first + a + i);
            gather(tr->d, rows, b, tr->xb[part], tr->yb[part]);
            sum += lstm_forward_seq(tr->k, &m->p, tr->work[part], b, tr->N, tr->xb[part], tr->yb[part],
                                    NULL, &s);
        }
    }
    tr->loss[part] = sum;
}

static double train_step(trainer *tr, par_pool *pool)
{
    par_run(pool, train_part, tr);
    double loss = 0;
    for (int i = 0; i < tr->nparts; i++)
        loss += tr->loss[i];
    par_run(pool, reduce_part, tr);
    double ss = 0;
    for (int i = 0; i < tr->nparts; i++)
        ss += tr->sumsq[i];
    double norm = sqrt(ss);
    tr->scale = 1.0f;
    if (tr->m->clip > 0 && norm > tr->m->clip)
        tr->scale = (float)(tr->m->clip / norm);
    tr->m->steps++;
    par_run(pool, adam_part, tr);
    return loss;
}

/* Mean validation loss per target: windows first..first+count, or (streams) the text from
 * first, count characters long. NAN when there is nothing to validate on. */
static double validate(trainer *tr, par_pool *pool, size_t first, size_t count)
{
    const model *m = tr->m;
    double n = m->streams ? (double)((count > 0 ? count - 1 : 0) / (size_t)m->streams) * m->streams
                          : (double)count * (tr->pp ? tr->N : 1);
    if (n <= 0)
        return NAN;
    tr->first = first;
    tr->count = count;
    par_run(pool, val_part, tr);
    double sum = 0;
    for (int i = 0; i < tr->nparts; i++)
        sum += tr->loss[i];
    return sum / n;
}

/* The carried state of every stream, between the threads' parts and the model's (L, B, H). */
static void state_copy(trainer *tr, int to_model)
{
    model *m = tr->m;
    size_t ns = (size_t)m->dim.L * m->streams * m->dim.H;
    if (to_model && !m->state_h) {
        m->state_h = cli_alloc(ns * sizeof(float));
        m->state_c = cli_alloc(ns * sizeof(float));
    }
    for (int part = 0; part < tr->nparts; part++) {
        int lo = m->streams * part / tr->nparts, hi = m->streams * (part + 1) / tr->nparts, b = hi - lo;
        for (int l = 0; l < m->dim.L; l++) {
            size_t mo = ((size_t)l * m->streams + lo) * m->dim.H, po = (size_t)l * b * m->dim.H, len = (size_t)b * m->dim.H;
            if (to_model) {
                memcpy(m->state_h + mo, tr->sh[part] + po, len * sizeof(float));
                memcpy(m->state_c + mo, tr->sc[part] + po, len * sizeof(float));
            } else if (m->state_h) {
                memcpy(tr->sh[part] + po, m->state_h + mo, len * sizeof(float));
                memcpy(tr->sc[part] + po, m->state_c + mo, len * sizeof(float));
            } else {
                memset(tr->sh[part] + po, 0, len * sizeof(float));
                memset(tr->sc[part] + po, 0, len * sizeof(float));
            }
        }
    }
}

static void trainer_free(trainer *tr)
{
    for (int i = 0; i < tr->nparts; i++) {
        lstm_work_free(tr->work[i]);
        free(tr->grad[i]); free(tr->xb[i]); free(tr->yb[i]);
        free(tr->sh[i]); free(tr->sc[i]); free(tr->vh[i]); free(tr->vc[i]);
    }
    free(tr->work); free(tr->grad); free(tr->gp); free(tr->xb); free(tr->yb);
    free(tr->sh); free(tr->sc); free(tr->vh); free(tr->vc);
    free(tr->loss); free(tr->sumsq);
}

static void shuffle(uint32_t *perm, size_t n, rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0 && n > 1; i--) {
        size_t j = rng_below(rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* The learning rate after `done` of `total` steps (or that fraction of --max-seconds). */
static double schedule_lr(const model *m, double progress)
{
    if (strcmp(m->schedule, "cosine") == 0)
        return m->lr * 0.5 * (1.0 + cos(M_PI * (progress < 1 ? progress : 1)));
    if (strcmp(m->schedule, "step") == 0)
        return m->lr * pow(m->decay_rate, (double)(m->epochs / m->decay_every));
    return m->lr;
}

static void fmt_time(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void bar(long done, long total, double elapsed, double loss, double wps, int final,
                double val_loss, const char *unit)
{
    char buf[64];
    int width = 30, fill = total ? (int)((double)done / total * width) : width;
    fprintf(stderr, "\r%*ld/%ld [", (int)snprintf(NULL, 0, "%ld", total), done, total);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    if (final) {
        fmt_time(buf, sizeof buf, elapsed);
        fprintf(stderr, "] - %s - loss: %.4f - val_loss: %.4f - %.0f %s/s\033[K\n", buf, loss,
                val_loss, wps, unit);
    } else {
        fmt_time(buf, sizeof buf, done ? elapsed / done * (total - done) : 0);
        fprintf(stderr, "] - ETA: %s - loss: %.4f - %.0f %s/s\033[K", buf, loss, wps, unit);
    }
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static void save(const model *m, const char *path);

/* --best: a validation loss v lower than any before saves the model to opt_best, with the
 * streams' carried state when it comes from the middle of an epoch (so the file resumes). */
static void keep_best(model *m, trainer *tr, double v)
{
    if (!opt_best || !isfinite(v) || v >= m->best_val_loss)   /* (NAN best: none yet) */
        return;
    m->best_val_loss = v;
    if (m->streams && m->epoch_batches > 0)
        state_copy(tr, 1);
    save(m, opt_best);
}

static void save(const model *m, const char *path)
{
    char err[512];
    if (!path) {
        if (model_write(m, 1, "stdout", err, sizeof err) < 0)
            cli_die("%s", err);
        return;
    }
    cli_outfile of;
    if (cli_outfile_open(&of, path) < 0)
        cli_die("%s: cannot write: %s", path, strerror(errno));
    if (model_write(m, of.fd, path, err, sizeof err) < 0) {
        cli_outfile_abort(&of);
        cli_die("%s", err);
    }
    if (cli_outfile_commit(&of) < 0)
        cli_die("%s: cannot replace: %s", path, strerror(errno));
}

/* One line of the loss log; seconds and the rate cover the time since the previous line. */
static void append_log(const char *path, double epoch, double tl, double vl, double secs, double rate,
                       const char *unit)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        cli_die("%s: %s", path, strerror(errno));
    char line[256];
    int n = 0;
    if (lseek(fd, 0, SEEK_END) == 0)
        n = snprintf(line, sizeof line, "epoch\ttrain_loss\tval_loss\tseconds\t%s_per_s\n", unit);
    n += snprintf(line + n, sizeof line - n, "%.6g\t%.6f\t%.6f\t%.3f\t%.1f\n", epoch, tl, vl, secs, rate);
    if (write(fd, line, (size_t)n) != n || close(fd) < 0)
        cli_die("%s: write failed: %s", path, strerror(errno));
}

static void summary_only(void)
{
    int V = opt_V, N = opt_N;
    if (!V || !N) {
        if (isatty(0))
            cli_usage_error("--summary needs -V and -n, or a window stream on stdin");
        ts_reader *r = cli_reader_open(0, "stdin");
        ts_frame f;
        int rc = 0;
        while ((!V || !N) && (rc = ts_read(r, &f)) > 0) {
            if (strcmp(f.name, "vocab") == 0 && f.ndim == 1 && !V)
                V = (int)f.shape[0];
            if (strcmp(f.name, "x") == 0 && f.ndim >= 2 && !N)
                N = (int)f.shape[1];
        }
        if ((!V || !N) && rc < 0)
            cli_die("%s", ts_reader_error(r));
        if (!V || !N)
            cli_die("stdin: no vocab and x frames to take V and N from");
        ts_reader_close(r);
    }
    model_summary(stdout, (lstm_dims){ V, opt_hidden, opt_layers, opt_cell }, N, opt_streams);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_LR = 256, O_VAL, O_CLIP, O_SEED, O_RESUME, O_LOG, O_SUMMARY, O_PROGRESS, O_NOPROGRESS,
           O_VERSION, O_MAXB, O_STREAMS, O_DROPOUT, O_SCHED, O_DRATE, O_DEVERY, O_EVAL, O_BEST, O_MAXS, O_CELL };
    static const struct option longopts[] = {
        { "epochs", 1, 0, 'e' }, { "hidden", 1, 0, 'H' }, { "layers", 1, 0, 'L' },
        { "batch", 1, 0, 'b' }, { "lr", 1, 0, O_LR }, { "val", 1, 0, O_VAL }, { "clip", 1, 0, O_CLIP },
        { "seed", 1, 0, O_SEED }, { "threads", 1, 0, 'j' }, { "output", 1, 0, 'o' },
        { "resume", 1, 0, O_RESUME }, { "log", 1, 0, O_LOG }, { "summary", 0, 0, O_SUMMARY },
        { "progress", 0, 0, O_PROGRESS }, { "no-progress", 0, 0, O_NOPROGRESS },
        { "version", 0, 0, O_VERSION }, { "max-batches", 1, 0, O_MAXB }, { "streams", 0, 0, O_STREAMS },
        { "dropout", 1, 0, O_DROPOUT }, { "schedule", 1, 0, O_SCHED }, { "decay-rate", 1, 0, O_DRATE },
        { "decay-every", 1, 0, O_DEVERY }, { "eval-every", 1, 0, O_EVAL }, { "best", 1, 0, O_BEST },
        { "max-seconds", 1, 0, O_MAXS }, { "cell", 1, 0, O_CELL }, { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "e:H:L:b:j:o:V:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': opt_epochs = (int)cli_long("-e", optarg, 0, 1000000); break;
        case 'H': opt_hidden = (int)cli_long("-H", optarg, 1, 8192); set_hidden = 1; break;
        case 'L': opt_layers = (int)cli_long("-L", optarg, 1, LSTM_MAX_LAYERS); set_layers = 1; break;
        case 'b': opt_batch = (int)cli_long("-b", optarg, 1, 1 << 20); set_batch = 1; break;
        case 'j': opt_threads = (int)cli_long("-j", optarg, 1, 256); break;
        case 'o': opt_out = optarg; break;
        case 'V': opt_V = (int)cli_long("-V", optarg, 1, 65536); break;
        case 'n': opt_N = (int)cli_long("-n", optarg, 1, 100000); break;   /* 0: not given */
        case O_LR: opt_lr = cli_double("--lr", optarg, 0, 10); set_lr = 1; break;
        case O_VAL: opt_val = cli_double("--val", optarg, 0, 0.99); set_val = 1; break;
        case O_CLIP: opt_clip = cli_double("--clip", optarg, 0, 1e9); set_clip = 1; break;
        case O_SEED: opt_seed = cli_long("--seed", optarg, 0, 0x7fffffffL); set_seed = 1; break;
        case O_RESUME: opt_resume = optarg; break;
        case O_LOG: opt_log = optarg; break;
        case O_SUMMARY: opt_summary = 1; break;
        case O_PROGRESS: opt_progress = 1; break;
        case O_NOPROGRESS: opt_progress = 0; break;
        case O_MAXB: opt_max_batches = cli_long("--max-batches", optarg, 1, 1L << 40); break;
        case O_STREAMS: opt_streams = 1; break;
        case O_DROPOUT: opt_dropout = cli_double("--dropout", optarg, 0, 0.95); break;
        case O_SCHED:
            if (strcmp(optarg, "none") && strcmp(optarg, "cosine") && strcmp(optarg, "step"))
                cli_usage_error("--schedule: '%s' is not none, cosine or step", optarg);
            opt_schedule = optarg;
            break;
        case O_DRATE: opt_decay_rate = cli_double("--decay-rate", optarg, 0, 1); break;
        case O_DEVERY: opt_decay_every = (int)cli_long("--decay-every", optarg, 1, 1000000); break;
        case O_EVAL: opt_eval_every = cli_long("--eval-every", optarg, 1, 1L << 40); break;
        case O_BEST: opt_best = optarg; break;
        case O_CELL:
            if ((opt_cell = cell_parse(optarg)) < 0)
                cli_usage_error("--cell: '%s' is not lstm, gru or lnlstm", optarg);
            set_cell = 1;
            break;
        case O_MAXS: opt_max_seconds = cli_double("--max-seconds", optarg, 0.001, 1e9); break;
        case O_VERSION: printf("charpipe train 0.2 (kernels: %s)\n", cli_kernels()->name); return 0;
        case 'h': usage(); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (opt_summary) {
        summary_only();
        return 0;
    }
    if (!opt_out && !opt_max_batches)
        cli_refuse_tty(1);
    if (isatty(0))
        cli_usage_error("stdin is a terminal; pipe windows in: vocab < TEXT | window -n 40 | train");
    if (opt_progress < 0)
        opt_progress = isatty(2);
    if (opt_threads == 0)
        opt_threads = par_ncpu();
    const kern_ops *k = cli_kernels();

    /* Check that the outputs can be written before spending time on the input. */
    const char *outs[2] = { opt_out, opt_best };
    for (int i = 0; i < 2; i++)
        if (outs[i]) {
            cli_outfile probe;
            if (cli_outfile_open(&probe, outs[i]) < 0)
                cli_die("%s: cannot write: %s", outs[i], strerror(errno));
            cli_outfile_abort(&probe);
        }

    model m;
    if (opt_resume) {
        char err[512];
        if (model_read(&m, opt_resume, err, sizeof err) < 0)
            cli_die("%s", err);
        if (!m.adam_m)
            cli_die("%s: the model has no optimizer state to resume from", opt_resume);
        if ((set_hidden && opt_hidden != m.dim.H) || (set_batch && opt_batch != m.batch)
            || (set_layers && opt_layers != m.dim.L) || (set_cell && opt_cell != m.dim.cell)
            || (m.streams && opt_N && opt_N != m.maxlen))
            cli_usage_error("--resume takes the hidden size, layers, cell, batch and steps from the model "
                            "(%d, %d, %s, %d, %d)", m.dim.H, m.dim.L, cell_name(m.dim.cell), m.batch, m.maxlen);
        if (set_lr || set_val || set_clip || set_seed)
            cli_usage_error("--resume takes --lr, --val, --clip and --seed from the model");
        if (!!m.streams != opt_streams)
            cli_usage_error("%s was trained %s --streams; resume it the same way", opt_resume,
                            m.streams ? "with" : "without");
    }

    dataset d;
    double t_read = cli_now();
    read_input(&d, opt_streams);
    t_read = cli_now() - t_read;
    int N = opt_streams ? (opt_resume ? m.maxlen : (opt_N ? opt_N : 100)) : d.N;
    if (!opt_streams && opt_N && opt_N != d.N)
        cli_usage_error("-n %d: the windows are %d long (-n applies to --streams and --summary)", opt_N, d.N);

    if (opt_resume) {
        if (m.dim.V != d.V || memcmp(m.vocab, d.vocab, d.V * sizeof(uint32_t)) != 0)
            cli_die("%s: the model's vocabulary differs from the input's", opt_resume);
        if (!opt_streams && m.maxlen != d.N)
            cli_die("%s: the model was trained on windows of %d, the input has %d", opt_resume, m.maxlen, d.N);
        if (!opt_streams && m.per_position != (d.ylen > 1))
            cli_die("%s: the model was trained with %s targets", opt_resume, m.per_position ? "per-position" : "last-step");
    } else {
        if (model_alloc(&m, (lstm_dims){ d.V, opt_hidden, opt_layers, opt_cell }, N, 1) < 0)
            cli_die("out of memory (a model of %d hidden units, %d layers)", opt_hidden, opt_layers);
        memcpy(m.vocab, d.vocab, d.V * sizeof(uint32_t));
        m.byte_unit = d.byte_unit;
        m.lower = d.lower;
        m.batch = opt_batch;
        m.lr = opt_lr;
        m.clip = opt_clip;
        m.val_split = opt_val;
        m.dropout = opt_dropout;
        snprintf(m.schedule, sizeof m.schedule, "%s", opt_schedule);
        m.decay_rate = opt_decay_rate;
        m.decay_every = opt_decay_every;
        m.per_position = opt_streams || d.ylen > 1;
        m.streams = opt_streams ? opt_batch : 0;
        m.seed = (uint64_t)opt_seed;
        rng_seed(&m.rng, m.seed);
        lstm_init_keras(&m.p, &m.rng);
        m.rng_epoch = m.rng;
    }

    /* What an epoch is: shuffled windows, or the training text cut into streams. */
    size_t ntrain, nval, per_stream = 0;     /* validation: the nval after the ntrain */
    long nbatches;
    const char *unit = m.streams ? "chars" : "windows";
    if (m.streams) {
        nval = (size_t)((double)d.tn * m.val_split);
        ntrain = d.tn - nval;
        per_stream = ntrain > 0 ? (ntrain - 1) / (size_t)m.streams : 0;
        nbatches = (long)(per_stream / (size_t)N);
        if (nbatches == 0)
            cli_die("stdin: %zu characters of training text are too few for %d streams of %d steps",
                    ntrain, m.streams, N);
        fprintf(stderr, "%s: %zu characters (%zu for training in %d streams of %zu, %zu held out), read in %.1fs\n",
                cli_prog, d.tn, ntrain, m.streams, per_stream, nval, t_read);
    } else {
        if (d.n > UINT32_MAX)
            cli_die("stdin: more than 2^32 windows");
        ntrain = (size_t)((double)d.n * (1.0 - m.val_split));
        nval = d.n - ntrain;
        if (ntrain == 0)
            cli_die("stdin: %zu windows leave none for training after the validation split", d.n);
        nbatches = (long)((ntrain + m.batch - 1) / m.batch);
        fprintf(stderr, "%s: %zu windows of %d (%zu for training, %zu for validation), %.1f MB in memory, read in %.1fs\n",
                cli_prog, d.n, d.N, ntrain, nval,
                (d.n * (double)d.N * (d.x8 ? 1 : 2) + d.n * (double)d.ylen * (d.y8 ? 1 : 2)) / 1e6, t_read);
    }
    model_summary(stderr, m.dim, m.maxlen, m.per_position);
    fprintf(stderr, "%s: kernels %s, %d thread%s, batch %d, %s\n", cli_prog, k->name, opt_threads,
            opt_threads > 1 ? "s" : "", m.batch, opt_resume ? "resuming" : "fresh start");

    /* Work areas. */
    trainer tr = { .k = k, .m = &m, .d = &d, .nparts = opt_threads, .N = N, .pp = m.per_position,
                   .n = per_stream };
    tr.bpart = (m.batch + opt_threads - 1) / opt_threads;
    if (!m.streams && tr.bpart > 1024)
        tr.bpart = 1024;
    tr.nparams = lstm_nparams(m.dim);
    int P = opt_threads, ylen = m.per_position ? N : 1;
    tr.work = cli_malloc(P * sizeof *tr.work);
    tr.grad = cli_malloc(P * sizeof *tr.grad);
    tr.gp = cli_malloc(P * sizeof *tr.gp);
    tr.xb = cli_malloc(P * sizeof *tr.xb);
    tr.yb = cli_malloc(P * sizeof *tr.yb);
    tr.sh = cli_malloc(P * sizeof *tr.sh);
    tr.sc = cli_malloc(P * sizeof *tr.sc);
    tr.vh = cli_malloc(P * sizeof *tr.vh);
    tr.vc = cli_malloc(P * sizeof *tr.vc);
    tr.loss = cli_malloc(P * sizeof *tr.loss);
    tr.sumsq = cli_malloc(P * sizeof *tr.sumsq);
    size_t ns = m.streams ? (size_t)m.dim.L * tr.bpart * m.dim.H : 0;   /* carried state: streams only */
    for (int i = 0; i < P; i++) {
        tr.work[i] = lstm_work_new(m.dim, N, tr.bpart);
        if (!tr.work[i])
            cli_die("out of memory for the work area");
        tr.grad[i] = cli_alloc(tr.nparams * sizeof(float));
        lstm_bind(&tr.gp[i], tr.grad[i], m.dim);
        tr.xb[i] = cli_malloc((size_t)tr.bpart * N * sizeof(int32_t));
        tr.yb[i] = cli_malloc((size_t)tr.bpart * ylen * sizeof(int32_t));
        tr.sh[i] = ns ? cli_alloc(ns * sizeof(float)) : NULL;
        tr.sc[i] = ns ? cli_alloc(ns * sizeof(float)) : NULL;
        tr.vh[i] = ns ? cli_alloc(ns * sizeof(float)) : NULL;
        tr.vc[i] = ns ? cli_alloc(ns * sizeof(float)) : NULL;
    }
    par_pool *pool = par_new(P);
    if (!pool)
        cli_die("cannot start %d threads", P);
    uint32_t *perm = m.streams ? NULL : cli_malloc(ntrain * sizeof *perm);
    int status = 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double per_batch = (double)m.batch * (m.streams ? N : 1);   /* windows or characters */
    long total_steps = (long)(opt_epochs - m.epochs) * nbatches - (long)m.epoch_batches;
    long run_steps = 0;
    double train_secs = 0, since_log = 0, items_since_log = 0;
    int stop = 0;
    int saved = 0;                       /* the -o file holds the current model */
    if (m.epochs >= opt_epochs && opt_resume)
        cli_warn("the model has %lld epochs already; nothing to train (raise -e)", (long long)m.epochs);
    while (m.epochs < opt_epochs && !stop) {
        rng_t r = m.rng_epoch;
        if (m.streams)
            state_copy(&tr, 0);                  /* zeros, or the checkpoint's carried state */
        else
            shuffle(perm, ntrain, &r);
        if (opt_progress)
            fprintf(stderr, "Epoch %lld/%d\n", (long long)m.epochs + 1, opt_epochs);
        double t0 = cli_now(), last = 0, loss_sum = m.epoch_loss_sum, tbar = 0;
        long first_batch = (long)m.epoch_batches;
        double targets_per_batch = (double)m.batch * (m.per_position ? N : 1);
        for (long bi = first_batch; bi < nbatches; bi++) {
            double ts = cli_now();
            if (m.streams) {
                tr.b = m.batch;
                tr.off = (size_t)bi * N;
            } else {
                size_t a = (size_t)bi * m.batch;
                tr.rows = perm + a;
                tr.b = (int)(ntrain - a < (size_t)m.batch ? ntrain - a : (size_t)m.batch);
            }
            double progress = opt_max_seconds > 0 ? train_secs / opt_max_seconds
                                                  : (double)run_steps / (total_steps > 0 ? total_steps : 1);
            tr.lr = (float)schedule_lr(&m, progress);
            loss_sum += train_step(&tr, pool);
            run_steps++;
            double dt = cli_now() - ts;
            train_secs += dt;
            since_log += dt;
            tbar += dt;
            items_since_log += m.streams ? per_batch : tr.b;
            m.epoch_batches = bi + 1;
            m.epoch_loss_sum = loss_sum;
            double seen = m.streams ? (double)(bi + 1) * targets_per_batch
                                    : (double)((size_t)(bi + 1) * m.batch < ntrain ? (size_t)(bi + 1) * m.batch : ntrain)
                                      * (m.per_position ? N : 1);
            if (!isfinite(loss_sum))
                cli_die("the loss became %f at epoch %lld batch %ld (try a lower --lr or --clip)",
                        loss_sum, (long long)m.epochs + 1, bi + 1);
            if (opt_max_batches && bi + 1 - first_batch >= opt_max_batches) {
                struct rusage ru;
                getrusage(RUSAGE_SELF, &ru);
                double w = (double)(bi + 1 - first_batch) * per_batch;
                fprintf(stderr, "%s: benchmark: %ld batches of %d, %.0f %s in %.3fs: %.1f %s/s, "
                        "loss %.4f, peak RSS %.1f MB\n", cli_prog, bi + 1 - first_batch, m.batch, w, unit,
                        tbar, w / tbar, unit, loss_sum / seen, ru.ru_maxrss / 1024.0);
                goto done;
            }
            if (interrupted || (opt_max_seconds > 0 && train_secs >= opt_max_seconds)) {
                if (opt_progress)
                    fputc('\n', stderr);
                if (m.streams)
                    state_copy(&tr, 1);
                if (interrupted) {
                    if (opt_out) {
                        save(&m, opt_out);
                        cli_warn("interrupted: checkpoint at epoch %lld, batch %ld/%ld saved to %s (continue with --resume)",
                                 (long long)m.epochs + 1, bi + 1, nbatches, opt_out);
                    } else {
                        cli_warn("interrupted: no model written (use -o FILE to keep checkpoints)");
                    }
                    status = 130;
                    goto done;
                }
                /* the time budget is spent: validate, log and save as at an epoch's end */
                m.train_loss = loss_sum / seen;
                m.val_loss = validate(&tr, pool, ntrain, nval);
                fprintf(stderr, "%s: time budget of %.0fs spent at epoch %lld batch %ld/%ld: loss %.4f, val_loss %.4f\n",
                        cli_prog, opt_max_seconds, (long long)m.epochs + 1, bi + 1, nbatches, m.train_loss, m.val_loss);
                if (opt_log)
                    append_log(opt_log, m.epochs + (double)(bi + 1) / nbatches, m.train_loss, m.val_loss,
                               since_log, items_since_log / since_log, unit);
                keep_best(&m, &tr, m.val_loss);
                stop = 1;
                break;
            }
            if (opt_eval_every && m.steps % opt_eval_every == 0 && bi + 1 < nbatches) {
                double v = validate(&tr, pool, ntrain, nval);
                if (opt_log)
                    append_log(opt_log, m.epochs + (double)(bi + 1) / nbatches, loss_sum / seen, v,
                               since_log, items_since_log / since_log, unit);
                since_log = items_since_log = 0;
                if (!opt_progress)
                    fprintf(stderr, "%s: epoch %.2f: loss %.4f, val_loss %.4f\n", cli_prog,
                            m.epochs + (double)(bi + 1) / nbatches, loss_sum / seen, v);
                keep_best(&m, &tr, v);
            }
            double now = cli_now();
            if (opt_progress && (now - last > 0.1 || bi + 1 == nbatches)) {
                bar(bi + 1, nbatches, now - t0, loss_sum / seen, (double)(bi + 1 - first_batch) * per_batch / tbar,
                    0, 0, unit);
                last = now;
            }
        }
        if (stop)
            break;
        double secs = cli_now() - t0;
        double rate = (double)(nbatches - first_batch) * per_batch / tbar;
        if (!m.streams)
            rate = (double)(ntrain - (size_t)first_batch * m.batch) / tbar;
        m.train_loss = loss_sum / (m.streams ? (double)nbatches * targets_per_batch
                                              : (double)ntrain * (m.per_position ? N : 1));
        m.val_loss = validate(&tr, pool, ntrain, nval);
        m.epochs++;
        m.epoch_batches = 0;
        m.epoch_loss_sum = 0;
        m.rng_epoch = r;
        m.rng = r;
        free(m.state_h);                         /* the next epoch starts from a zero state */
        free(m.state_c);
        m.state_h = m.state_c = NULL;
        if (opt_progress)
            bar(nbatches, nbatches, secs, m.train_loss, rate, 1, m.val_loss, unit);
        else
            fprintf(stderr, "%s: epoch %lld/%d: loss %.4f, val_loss %.4f, %.1fs, %.0f %s/s\n",
                    cli_prog, (long long)m.epochs, opt_epochs, m.train_loss, m.val_loss, secs, rate, unit);
        if (opt_log)
            append_log(opt_log, (double)m.epochs, m.train_loss, m.val_loss, since_log,
                       items_since_log / since_log, unit);
        since_log = items_since_log = 0;
        keep_best(&m, &tr, m.val_loss);
        if (opt_out)
            save(&m, opt_out);
        saved = 1;
    }
    if (opt_out && (stop || !saved))
        save(&m, opt_out);
    else if (!opt_out)
        save(&m, NULL);
done:
    par_free(pool);
    free(perm);
    trainer_free(&tr);
    ds_free(&d);
    model_free(&m);
    return status;
}
