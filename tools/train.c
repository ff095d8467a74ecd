/* train - train the seed's LSTM(H) -> Dense(V) softmax model on a window stream. */
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
static int opt_epochs = 1, opt_hidden = 128, opt_batch = 64, opt_threads = 0;
static double opt_lr = 1e-3, opt_val = 0.2, opt_clip = 0;
static long opt_seed = 1;
static const char *opt_out, *opt_resume, *opt_log;
static int opt_summary, opt_progress = -1, opt_V, opt_N;
static long opt_max_batches;
static int set_hidden, set_batch, set_lr, set_val, set_clip, set_seed;

static void usage(void)
{
    printf(
"NAME\n"
"    train - train a character-level LSTM on a window stream\n\n"
"SYNOPSIS\n"
"    vocab < TEXT | window -n 40 | train [-e EPOCHS] [-o MODEL] [OPTIONS] [> MODEL]\n"
"    train --summary [-V VOCAB -n MAXLEN] [-H HIDDEN] [< WINDOWS]\n\n"
"DESCRIPTION\n"
"    Reads a charpipe stream with a 'vocab' frame and 'x' (B, N) / 'y' (B) window frames\n"
"    (indices from window, or one-hot float32 from onehot) and trains the Keras course\n"
"    model: LSTM(H) over the N characters of each window, its last hidden state into\n"
"    Dense(V) with softmax, categorical cross-entropy, Adam (Keras defaults). The windows\n"
"    are held in memory as indices; the last VAL of them (before shuffling, as Keras's\n"
"    validation_split takes them) are for validation, the rest are shuffled every epoch\n"
"    from a seeded RNG. Progress goes to stderr: a bar on a terminal, else a line per epoch.\n\n"
"    The model is a charpipe stream (weights named and laid out as Keras's, see\n"
"    lib/model.h). With -o it is written atomically after every epoch; without -o the\n"
"    final model goes to stdout. Ctrl-C saves a checkpoint to the -o file (resumable\n"
"    mid-epoch) and exits with status 130.\n\n"
"OPTIONS\n"
"    -e, --epochs N      train until N epochs are complete in total (default %d)\n"
"    -H, --hidden N      LSTM units (default %d)\n"
"    -b, --batch N       windows per batch (default %d)\n"
"        --lr F          Adam learning rate (default %g)\n"
"        --val F         validation split, fraction of windows (default %g)\n"
"        --clip F        clip the gradient to this global norm, 0 = off (default %g)\n"
"        --seed N        RNG seed for initialisation and shuffling (default %ld)\n"
"    -j, --threads N     threads (default: all CPUs, %d here)\n"
"    -o, --output FILE   write the model to FILE after every epoch (atomic replace)\n"
"        --resume FILE   continue training from a model written by train -o; settings come\n"
"                        from the model, and the input must be the same windows\n"
"        --log FILE      append a line per epoch: epoch, train_loss, val_loss (nats/char),\n"
"                        seconds, windows/s, tab-separated, with a header line\n"
"        --summary       print the model summary (Keras layout) and exit; V and N from -V\n"
"                        and -n, or from the stream on stdin\n"
"    -V N, -n N          vocabulary size and window length for --summary\n"
"        --progress, --no-progress   force the progress bar on or off\n"
"        --max-batches N train only N batches, report windows/s and write no model\n"
"                        (for benchmarks)\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"ENVIRONMENT\n"
"    CHARPIPE_KERNEL     force a kernel set: scalar, avx2, avx512 (default: best for the CPU)\n\n"
"EXAMPLE\n"
"    vocab < shakespeare.txt | window -n 40 | train -e 5 -o model --log loss.tsv\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure (bad input, I/O error), 2 bad usage, 130 interrupted.\n",
        opt_epochs, opt_hidden, opt_batch, opt_lr, opt_val, opt_clip, opt_seed, par_ncpu());
}

/* ---- the windows, held as indices ---- */
typedef struct {
    int N, V;
    size_t n, cap;
    uint8_t *x8;                      /* (n, N) when V <= 256 */
    uint16_t *x16;                    /* (n, N) otherwise */
    int32_t *y;                       /* (n) */
    uint32_t *vocab;
    int byte_unit, lower;
} dataset;

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

static void ds_grow(dataset *d, size_t more)
{
    if (d->n + more <= d->cap)
        return;
    size_t cap = d->cap ? d->cap : 4096;
    while (cap < d->n + more)
        cap *= 2;
    if (d->V <= 256)
        d->x8 = cli_realloc(d->x8, cap * d->N);
    else
        d->x16 = cli_realloc(d->x16, cap * d->N * sizeof(uint16_t));
    d->y = cli_realloc(d->y, cap * sizeof(int32_t));
    d->cap = cap;
}

static void read_windows(dataset *d)
{
    ts_reader *r = ts_reader_open(0, "stdin");
    ts_frame f;
    int rc;
    size_t pending = 0;               /* windows of the last x frame still waiting for their y */
    int32_t *tmp = NULL;
    size_t tmpcap = 0;
    double t0 = cli_now(), last = t0;
    int tty = isatty(2);
    memset(d, 0, sizeof *d);
    while ((rc = ts_read(r, &f)) > 0) {
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
        } else if (strcmp(f.name, "x") == 0) {
            if (!d->vocab)
                cli_die("stdin: windows before any vocab frame (is this the output of vocab | window?)");
            if (pending)
                cli_die("stdin: two x frames without a y frame between them");
            if (!f.is_tensor)
                cli_die("stdin: x is not a tensor");
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
            ds_grow(d, B);
            if (cells > tmpcap) {
                tmpcap = cells;
                tmp = cli_realloc(tmp, tmpcap * sizeof *tmp);
            }
            if (onehot)
                onehot_to_index(&f, cells, d->V, tmp, "x");
            else if (f.dtype == TS_U1) {                /* the common case, kept fast */
                const uint8_t *p = f.data;
                uint8_t mx = 0;
                for (size_t i = 0; i < cells; i++) {
                    tmp[i] = p[i];
                    mx = p[i] > mx ? p[i] : mx;
                }
                if (cells && mx >= d->V)
                    cli_die("stdin: x holds index %d, outside the vocabulary of %d", mx, d->V);
            } else
                for (size_t i = 0; i < cells; i++) {
                    int64_t v = index_at(&f, i);
                    if (v < 0 || v >= d->V)
                        cli_die("stdin: x holds index %lld, outside the vocabulary of %d", (long long)v, d->V);
                    tmp[i] = (int32_t)v;
                }
            size_t off = d->n * (size_t)d->N;
            for (size_t i = 0; i < cells; i++) {
                if (d->V <= 256)
                    d->x8[off + i] = (uint8_t)tmp[i];
                else
                    d->x16[off + i] = (uint16_t)tmp[i];
            }
            pending = B;
        } else if (strcmp(f.name, "y") == 0) {
            if (!f.is_tensor)
                cli_die("stdin: y is not a tensor");
            if (f.shape[0] != pending || (pending == 0 && f.count > 0))
                cli_die("stdin: a y frame of %llu rows does not match the x frame before it (%zu)",
                        f.ndim ? (unsigned long long)f.shape[0] : 0ULL, pending);
            int onehot = !is_int_dtype(f.dtype);
            if (!onehot && f.ndim == 2)
                cli_die("stdin: per-position targets y (B, N) (window --seq) are not supported by this train");
            if (onehot && (f.dtype != TS_F4 || f.ndim != 2 || f.shape[1] != (uint64_t)d->V))
                cli_die("stdin: float y must be f4 (B, V=%d)", d->V);
            if (!onehot && f.ndim != 1)
                cli_die("stdin: y must be (B) indices or (B, V) one-hot");
            if (onehot)
                onehot_to_index(&f, pending, d->V, d->y + d->n, "y");
            else
                for (size_t i = 0; i < pending; i++) {
                    int64_t v = index_at(&f, i);
                    if (v < 0 || v >= d->V)
                        cli_die("stdin: y holds index %lld, outside the vocabulary of %d", (long long)v, d->V);
                    d->y[d->n + i] = (int32_t)v;
                }
            d->n += pending;
            pending = 0;
            if (tty && cli_now() - last > 0.2) {
                fprintf(stderr, "\rreading windows: %zu", d->n);
                last = cli_now();
            }
        }
        /* other frames: not ours */
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (tty && last > t0)
        fprintf(stderr, "\r%40s\r", "");
    if (pending)
        cli_die("stdin: the last x frame has no y frame");
    if (!d->vocab)
        cli_die("stdin: no vocab frame (expected the output of vocab | window)");
    if (d->n == 0)
        cli_die("stdin: no windows in the input");
    ts_reader_close(r);
    free(tmp);
}

/* ---- training ---- */
typedef struct {
    const kern_ops *k;
    model *m;
    const dataset *d;
    int nparts, bpart;                /* threads, rows per thread at most */
    lstm_work **work;
    float **grad;                     /* per thread, nparams floats */
    lstm_params *gp;                  /* views into grad[i] */
    int32_t **xb, **yb;               /* per thread batch buffers */
    double *loss;                     /* per thread */
    double *sumsq;
    size_t nparams;
    /* the current job */
    const uint32_t *rows;             /* window indices of this batch */
    int b;
    size_t first, count;              /* validation range */
    float scale;                      /* gradient scale after clipping */
} trainer;

static void gather(const dataset *d, const uint32_t *rows, int b, int32_t *x, int32_t *y)
{
    int N = d->N;
    for (int s = 0; s < b; s++) {
        size_t w = rows[s];
        if (d->x8)
            for (int t = 0; t < N; t++)
                x[(size_t)s * N + t] = d->x8[w * N + t];
        else
            for (int t = 0; t < N; t++)
                x[(size_t)s * N + t] = d->x16[w * N + t];
        y[s] = d->y[w];
    }
}

static void train_part(void *ctx, int part, int nparts)
{
    trainer *tr = ctx;
    int lo = tr->b * part / nparts, hi = tr->b * (part + 1) / nparts;
    memset(tr->grad[part], 0, tr->nparams * sizeof(float));
    tr->loss[part] = 0;
    if (hi == lo)
        return;
    gather(tr->d, tr->rows + lo, hi - lo, tr->xb[part], tr->yb[part]);
    tr->loss[part] = lstm_train_batch(tr->k, &tr->m->p, &tr->gp[part], tr->work[part], hi - lo,
                                      tr->d->N, tr->xb[part], tr->yb[part], 1.0f / tr->b);
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
    float alpha = (float)(m->lr * sqrt(1 - pow(m->beta2, t)) / (1 - pow(m->beta1, t)));
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
    size_t lo = tr->count * part / nparts, hi = tr->count * (part + 1) / nparts;
    uint32_t rows[1024];
    double sum = 0;
    for (size_t a = lo; a < hi; a += (size_t)tr->bpart) {
        int b = (int)(hi - a < (size_t)tr->bpart ? hi - a : (size_t)tr->bpart);
        for (int s = 0; s < b; s++)
            rows[s] = (uint32_t)(tr->first + a + s);
        gather(tr->d, rows, b, tr->xb[part], tr->yb[part]);
        sum += lstm_forward_batch(tr->k, &tr->m->p, tr->work[part], b, tr->d->N,
                                  tr->xb[part], tr->yb[part], NULL);
    }
    tr->loss[part] = sum;
}

static void trainer_free(trainer *tr)
{
    for (int i = 0; i < tr->nparts; i++) {
        lstm_work_free(tr->work[i]);
        free(tr->grad[i]);
        free(tr->xb[i]);
        free(tr->yb[i]);
    }
    free(tr->work); free(tr->grad); free(tr->gp); free(tr->xb); free(tr->yb);
    free(tr->loss); free(tr->sumsq);
}

static void ds_free(dataset *d)
{
    free(d->x8); free(d->x16); free(d->y); free(d->vocab);
}

static double train_step(trainer *tr, par_pool *pool, const uint32_t *rows, int b)
{
    tr->rows = rows;
    tr->b = b;
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

static double validate(trainer *tr, par_pool *pool, size_t first, size_t count)
{
    if (count == 0)
        return NAN;
    tr->first = first;
    tr->count = count;
    par_run(pool, val_part, tr);
    double sum = 0;
    for (int i = 0; i < tr->nparts; i++)
        sum += tr->loss[i];
    return sum / (double)count;
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

static void fmt_time(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void bar(long done, long total, double elapsed, double loss, double wps, int final,
                double val_loss)
{
    char buf[64];
    int width = 30, fill = total ? (int)((double)done / total * width) : width;
    fprintf(stderr, "\r%*ld/%ld [", (int)snprintf(NULL, 0, "%ld", total), done, total);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    if (final) {
        fmt_time(buf, sizeof buf, elapsed);
        fprintf(stderr, "] - %s - loss: %.4f - val_loss: %.4f - %.0f windows/s\033[K\n", buf, loss,
                val_loss, wps);
    } else {
        fmt_time(buf, sizeof buf, done ? elapsed / done * (total - done) : 0);
        fprintf(stderr, "] - ETA: %s - loss: %.4f - %.0f windows/s\033[K", buf, loss, wps);
    }
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

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

static void append_log(const char *path, int64_t epoch, double tl, double vl, double secs, double wps)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        cli_die("%s: %s", path, strerror(errno));
    char line[256];
    int n = 0;
    if (lseek(fd, 0, SEEK_END) == 0)
        n = snprintf(line, sizeof line, "epoch\ttrain_loss\tval_loss\tseconds\twindows_per_s\n");
    n += snprintf(line + n, sizeof line - n, "%lld\t%.6f\t%.6f\t%.3f\t%.1f\n", (long long)epoch, tl, vl,
                  secs, wps);
    if (write(fd, line, (size_t)n) != n || close(fd) < 0)
        cli_die("%s: write failed: %s", path, strerror(errno));
}

static void summary_only(void)
{
    int V = opt_V, N = opt_N;
    if (!V || !N) {
        if (isatty(0))
            cli_usage_error("--summary needs -V and -n, or a window stream on stdin");
        ts_reader *r = ts_reader_open(0, "stdin");
        ts_frame f;
        int rc;
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
    model_summary(stdout, V, opt_hidden, N);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_LR = 256, O_VAL, O_CLIP, O_SEED, O_RESUME, O_LOG, O_SUMMARY, O_PROGRESS, O_NOPROGRESS, O_VERSION, O_MAXB };
    static const struct option longopts[] = {
        { "epochs", 1, 0, 'e' }, { "hidden", 1, 0, 'H' }, { "batch", 1, 0, 'b' },
        { "lr", 1, 0, O_LR }, { "val", 1, 0, O_VAL }, { "clip", 1, 0, O_CLIP },
        { "seed", 1, 0, O_SEED }, { "threads", 1, 0, 'j' }, { "output", 1, 0, 'o' },
        { "resume", 1, 0, O_RESUME }, { "log", 1, 0, O_LOG }, { "summary", 0, 0, O_SUMMARY },
        { "progress", 0, 0, O_PROGRESS }, { "no-progress", 0, 0, O_NOPROGRESS },
        { "version", 0, 0, O_VERSION }, { "max-batches", 1, 0, O_MAXB }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "e:H:b:j:o:V:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': opt_epochs = (int)cli_long("-e", optarg, 0, 1000000); break;
        case 'H': opt_hidden = (int)cli_long("-H", optarg, 1, 8192); set_hidden = 1; break;
        case 'b': opt_batch = (int)cli_long("-b", optarg, 1, 1 << 20); set_batch = 1; break;
        case 'j': opt_threads = (int)cli_long("-j", optarg, 1, 256); break;
        case 'o': opt_out = optarg; break;
        case 'V': opt_V = (int)cli_long("-V", optarg, 1, 65536); break;
        case 'n': opt_N = (int)cli_long("-n", optarg, 1, 100000); break;
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
        case O_VERSION: printf("charpipe train 0.1 (kernels: %s)\n", kern_select()->name); return 0;
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
    const kern_ops *k = kern_select();

    /* Check that the outputs can be written before spending time on the input. */
    if (opt_out) {
        cli_outfile probe;
        if (cli_outfile_open(&probe, opt_out) < 0)
            cli_die("%s: cannot write: %s", opt_out, strerror(errno));
        cli_outfile_abort(&probe);
    }

    model m;
    if (opt_resume) {
        char err[512];
        if (model_read(&m, opt_resume, err, sizeof err) < 0)
            cli_die("%s", err);
        if (!m.adam_m)
            cli_die("%s: the model has no optimizer state to resume from", opt_resume);
        if ((set_hidden && opt_hidden != m.H) || (set_batch && opt_batch != m.batch))
            cli_usage_error("--resume takes the hidden size and batch from the model (%d, %d)", m.H, m.batch);
        if (set_lr || set_val || set_clip || set_seed)
            cli_usage_error("--resume takes --lr, --val, --clip and --seed from the model");
    }

    dataset d;
    double t_read = cli_now();
    read_windows(&d);
    t_read = cli_now() - t_read;

    if (opt_resume) {
        if (m.V != d.V || memcmp(m.vocab, d.vocab, d.V * sizeof(uint32_t)) != 0)
            cli_die("%s: the model's vocabulary differs from the input's", opt_resume);
        if (m.maxlen != d.N)
            cli_die("%s: the model was trained on windows of %d, the input has %d", opt_resume, m.maxlen, d.N);
    } else {
        model_alloc(&m, d.V, opt_hidden, d.N, 1);
        memcpy(m.vocab, d.vocab, d.V * sizeof(uint32_t));
        m.byte_unit = d.byte_unit;
        m.lower = d.lower;
        m.batch = opt_batch;
        m.lr = opt_lr;
        m.clip = opt_clip;
        m.val_split = opt_val;
        m.seed = (uint64_t)opt_seed;
        rng_seed(&m.rng, m.seed);
        lstm_init_keras(&m.p, &m.rng);
        m.rng_epoch = m.rng;
    }

    size_t ntrain = (size_t)((double)d.n * (1.0 - m.val_split)), nval = d.n - ntrain;
    if (ntrain == 0)
        cli_die("stdin: %zu windows leave none for training after the validation split", d.n);
    if (d.n > UINT32_MAX)
        cli_die("stdin: more than 2^32 windows");
    long nbatches = (long)((ntrain + m.batch - 1) / m.batch);

    fprintf(stderr, "%s: %zu windows of %d (%zu for training, %zu for validation), %.1f MB in memory, read in %.1fs\n",
            cli_prog, d.n, d.N, ntrain, nval,
            (d.n * (double)d.N * (d.x8 ? 1 : 2) + d.n * 4.0) / 1e6, t_read);
    model_summary(stderr, m.V, m.H, m.maxlen);
    fprintf(stderr, "%s: kernels %s, %d thread%s, batch %d, %s\n", cli_prog, k->name, opt_threads,
            opt_threads > 1 ? "s" : "", m.batch, opt_resume ? "resuming" : "fresh start");

    /* Work areas. */
    trainer tr = { .k = k, .m = &m, .d = &d, .nparts = opt_threads };
    tr.bpart = (m.batch + opt_threads - 1) / opt_threads;
    if (tr.bpart > 1024)
        tr.bpart = 1024;
    tr.nparams = lstm_nparams(m.V, m.H);
    tr.work = cli_malloc(opt_threads * sizeof *tr.work);
    tr.grad = cli_malloc(opt_threads * sizeof *tr.grad);
    tr.gp = cli_malloc(opt_threads * sizeof *tr.gp);
    tr.xb = cli_malloc(opt_threads * sizeof *tr.xb);
    tr.yb = cli_malloc(opt_threads * sizeof *tr.yb);
    tr.loss = cli_malloc(opt_threads * sizeof *tr.loss);
    tr.sumsq = cli_malloc(opt_threads * sizeof *tr.sumsq);
    int bwork = tr.bpart;             /* a part gets at most ceil(batch / threads) rows */
    for (int i = 0; i < opt_threads; i++) {
        tr.work[i] = lstm_work_new(m.V, m.H, d.N, bwork);
        tr.grad[i] = cli_alloc(tr.nparams * sizeof(float));
        lstm_bind(&tr.gp[i], tr.grad[i], m.V, m.H);
        tr.xb[i] = cli_malloc((size_t)bwork * d.N * sizeof(int32_t));
        tr.yb[i] = cli_malloc((size_t)bwork * sizeof(int32_t));
    }
    par_pool *pool = par_new(opt_threads);
    uint32_t *perm = cli_malloc(ntrain * sizeof *perm);
    int status = 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (m.epochs >= opt_epochs)
        cli_warn("the model has %lld epochs already; nothing to train (raise -e)", (long long)m.epochs);
    while (m.epochs < opt_epochs) {
        rng_t r = m.rng_epoch;
        shuffle(perm, ntrain, &r);
        if (opt_progress)
            fprintf(stderr, "Epoch %lld/%d\n", (long long)m.epochs + 1, opt_epochs);
        double t0 = cli_now(), last = 0, loss_sum = m.epoch_loss_sum;
        long first_batch = (long)m.epoch_batches;
        for (long bi = first_batch; bi < nbatches; bi++) {
            size_t a = (size_t)bi * m.batch;
            int b = (int)(ntrain - a < (size_t)m.batch ? ntrain - a : (size_t)m.batch);
            loss_sum += train_step(&tr, pool, perm + a, b);
            m.epoch_batches = bi + 1;
            m.epoch_loss_sum = loss_sum;
            if (!isfinite(loss_sum))
                cli_die("the loss became %f at epoch %lld batch %ld (try a lower --lr or --clip)",
                        loss_sum, (long long)m.epochs + 1, bi + 1);
            if (interrupted) {
                if (opt_progress)
                    fputc('\n', stderr);
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
            double now = cli_now();
            if (opt_max_batches && bi + 1 - first_batch >= opt_max_batches) {
                double w = (double)(bi + 1 - first_batch) * m.batch;
                struct rusage ru;
                getrusage(RUSAGE_SELF, &ru);
                fprintf(stderr, "%s: benchmark: %ld batches of %d, %.0f windows in %.3fs: %.1f windows/s, "
                        "loss %.4f, peak RSS %.1f MB\n", cli_prog, bi + 1 - first_batch, m.batch, w,
                        now - t0, w / (now - t0), loss_sum / ((double)(bi + 1) * m.batch), ru.ru_maxrss / 1024.0);
                goto done;
            }
            if (opt_progress && (now - last > 0.1 || bi + 1 == nbatches)) {
                size_t done = (size_t)(bi + 1 - first_batch) * m.batch;
                bar(bi + 1, nbatches, now - t0, loss_sum / ((double)(bi + 1) * m.batch),
                    done / (now - t0), 0, 0);
                last = now;
            }
        }
        double secs = cli_now() - t0;
        double wps = (double)(ntrain - (size_t)first_batch * m.batch) / secs;
        m.train_loss = loss_sum / (double)ntrain;
        m.val_loss = validate(&tr, pool, ntrain, nval);
        m.epochs++;
        m.epoch_batches = 0;
        m.epoch_loss_sum = 0;
        m.rng_epoch = r;
        m.rng = r;
        if (opt_progress)
            bar(nbatches, nbatches, secs, m.train_loss, wps, 1, m.val_loss);
        else
            fprintf(stderr, "%s: epoch %lld/%d: loss %.4f, val_loss %.4f, %.1fs, %.0f windows/s\n",
                    cli_prog, (long long)m.epochs, opt_epochs, m.train_loss, m.val_loss, secs, wps);
        if (opt_log)
            append_log(opt_log, m.epochs, m.train_loss, m.val_loss, secs, wps);
        if (opt_out)
            save(&m, opt_out);
    }
    if (!opt_out)
        save(&m, NULL);
done:
    par_free(pool);
    free(perm);
    trainer_free(&tr);
    ds_free(&d);
    model_free(&m);
    return status;
}
