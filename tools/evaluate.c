/* evaluate - a model's mean cross-entropy on a text or a window stream. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <locale.h>
#include "cli.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "ts.h"

static const char *opt_model;
static long opt_step = 1, opt_threads = 0, opt_streams = -1;
static int opt_json, opt_tsv, opt_skip;

static void usage(void)
{
    printf(
"NAME\n"
"    evaluate - measure a model's cross-entropy on a text\n\n"
"SYNOPSIS\n"
"    evaluate -m MODEL [-s STEP] [--json | --tsv] < TEXT\n"
"    vocab -v MODEL < TEXT | window -n MAXLEN | evaluate -m MODEL\n\n"
"DESCRIPTION\n"
"    Encodes the text on stdin with the model's vocabulary, cuts it into the windows that\n"
"    'window -n MAXLEN -s STEP' would give (every window, STEP 1, by default) and reports the\n"
"    mean cross-entropy of the model's prediction of each window's next character: in nats\n"
"    per character (the unit train reports), in bits per character, and as perplexity.\n"
"    Input starting with the gzip magic bytes is read as a window stream (x/y frames, as\n"
"    indices or one-hot) instead of text. Memory is bounded by a chunk of the input.\n\n"
"    A model trained with train --streams (char-rnn) is evaluated as train validates it:\n"
"    the text is cut into B contiguous streams (--streams, default the model's), read MAXLEN\n"
"    characters at a time with the state carried, and every character after the first of a\n"
"    stream is predicted. That holds the text in memory.\n\n"
"OPTIONS\n"
"    -m, --model FILE    the model (required)\n"
"    -s, --step N        evaluate every Nth window of a text (default %ld)\n"
"        --streams B     evaluate as B carried-state streams (default: the model's B for\n"
"                        --streams models; 0 = windows)\n"
"        --json          print one JSON object\n"
"        --tsv           print a header line and one tab-separated line\n"
"        --skip-unknown  drop text characters outside the vocabulary, with a warning\n"
"    -j, --threads N     threads (default: all CPUs)\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    evaluate -m model --json < valid.txt\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage.\n", opt_step);
}

/* ---- evaluating batches of windows in parallel ---- */
#define CHUNK 4096                    /* windows per parallel chunk */

typedef struct {
    const kern_ops *k;
    const model *m;
    int nparts, bpart;
    lstm_work **work;
    const int32_t *x, *y;             /* the chunk: (n, N), (n) */
    size_t n;
    double *loss;
} evaluator;

static void eval_part(void *ctx, int part, int nparts)
{
    evaluator *ev = ctx;
    size_t lo = ev->n * part / nparts, hi = ev->n * (part + 1) / nparts;
    int N = ev->m->maxlen;
    double sum = 0;
    for (size_t a = lo; a < hi; a += (size_t)ev->bpart) {
        int b = (int)(hi - a < (size_t)ev->bpart ? hi - a : (size_t)ev->bpart);
        sum += lstm_forward_batch(ev->k, &ev->m->p, ev->work[part], b, N, ev->x + a * N, ev->y + a, NULL);
    }
    ev->loss[part] = sum;
}

static int32_t *cx, *cy;              /* the chunk being filled */
static size_t cn;
static double total_loss;
static uint64_t total_windows;

static void flush_chunk(evaluator *ev, par_pool *pool)
{
    if (cn == 0)
        return;
    ev->x = cx;
    ev->y = cy;
    ev->n = cn;
    par_run(pool, eval_part, ev);
    for (int i = 0; i < ev->nparts; i++)
        total_loss += ev->loss[i];
    total_windows += cn;
    cn = 0;
}

/* ---- streams: the whole text, cut into B streams with the state carried ---- */
static int32_t *all;                  /* the text as indices */
static size_t alln, allcap;

typedef struct {
    evaluator *ev;
    int B;
    size_t n;                         /* characters per stream */
    float **h, **c;                   /* per part state (L, b, H) */
    int32_t **x, **y;                 /* per part chunk (b, N) */
} streamer;

static void stream_part(void *ctx, int part, int nparts)
{
    streamer *st = ctx;
    evaluator *ev = st->ev;
    const model *m = ev->m;
    int lo = st->B * part / nparts, hi = st->B * (part + 1) / nparts, b = hi - lo, N = m->maxlen;
    double sum = 0;
    lstm_seq s = { .per_position = 1, .h0 = st->h[part], .c0 = st->c[part], .hT = st->h[part], .cT = st->c[part] };
    for (size_t a = 0; b > 0 && a < st->n; a += (size_t)N) {
        int T = (int)(st->n - a < (size_t)N ? st->n - a : (size_t)N);
        for (int r = 0; r < b; r++)
            for (int t = 0; t < T; t++) {
                size_t q = (size_t)(lo + r) * st->n + a + t;
                st->x[part][r * T + t] = all[q];
                st->y[part][r * T + t] = all[q + 1];
            }
        sum += lstm_forward_seq(ev->k, &m->p, ev->work[part], b, T, st->x[part], st->y[part], NULL, &s);
    }
    ev->loss[part] = sum;
}

static void eval_streams(evaluator *ev, par_pool *pool, int B)
{
    const model *m = ev->m;
    if (alln < 2)
        cli_die("stdin: a text of %zu characters has nothing to predict", alln);
    if ((size_t)B > alln - 1)
        B = (int)(alln - 1);
    streamer st = { .ev = ev, .B = B, .n = (alln - 1) / (size_t)B };
    int P = ev->nparts, bmax = (B + P - 1) / P;
    st.h = cli_malloc(P * sizeof *st.h);
    st.c = cli_malloc(P * sizeof *st.c);
    st.x = cli_malloc(P * sizeof *st.x);
    st.y = cli_malloc(P * sizeof *st.y);
    for (int i = 0; i < P; i++) {
        lstm_work_free(ev->work[i]);          /* sized for this many streams */
        ev->work[i] = lstm_work_new(m->dim, m->maxlen, bmax);
        st.h[i] = cli_alloc((size_t)m->dim.L * bmax * m->dim.H * sizeof(float));
        st.c[i] = cli_alloc((size_t)m->dim.L * bmax * m->dim.H * sizeof(float));
        st.x[i] = cli_malloc((size_t)bmax * m->maxlen * sizeof(int32_t));
        st.y[i] = cli_malloc((size_t)bmax * m->maxlen * sizeof(int32_t));
    }
    par_run(pool, stream_part, &st);
    for (int i = 0; i < P; i++) {
        total_loss += ev->loss[i];
        free(st.h[i]); free(st.c[i]); free(st.x[i]); free(st.y[i]);
    }
    total_windows = (uint64_t)B * st.n;
    free(st.h); free(st.c); free(st.x); free(st.y);
}

static void add_window(evaluator *ev, par_pool *pool, const int32_t *x, int32_t y)
{
    int N = ev->m->maxlen;
    memcpy(cx + cn * N, x, (size_t)N * sizeof *x);
    cy[cn++] = y;
    if (cn == CHUNK)
        flush_chunk(ev, pool);
}

/* ---- text input ---- */
static void eval_text(evaluator *ev, par_pool *pool, const unsigned char *first, size_t nfirst)
{
    const model *m = ev->m;
    int N = m->maxlen;
    /* a ring of the last N+1 indices, kept linear: buf holds up to 2(N+1) */
    int32_t *buf = cli_malloc((size_t)2 * (N + 1) * sizeof *buf);
    size_t have = 0;                  /* indices in buf */
    uint64_t pos = 0;                 /* characters seen */
    uint64_t skipped = 0, byteoff = 0;
    unsigned char in[65536 + 4];
    size_t carry = 0;
    memcpy(in, first, nfirst);
    size_t len = nfirst;
    int eof = 0;
    while (!eof || len > 0) {
        if (!eof) {
            ssize_t r = read(0, in + len, sizeof in - 4 - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                cli_die("stdin: read failed: %s", strerror(errno));
            if (r == 0)
                eof = 1;
            len += (size_t)r;
        }
        size_t i = 0;
        while (i < len) {
            uint32_t cp;
            int x;
            const char *why = "";
            int l = model_char(m, in + i, len - i, &cp, &x, &why);
            if (l == 0 && !eof)
                break;                               /* the rest of it comes with the next read */
            if (l <= 0)
                cli_die("stdin: invalid UTF-8 at byte %llu (%s)", (unsigned long long)(byteoff + i),
                        l == 0 ? "sequence cut off at the end" : why);
            if (x < 0) {
                if (!opt_skip) {
                    char ch[8] = "";
                    if (!m->byte_unit && cp >= 32)
                        snprintf(ch, sizeof ch, "'%.*s' ", l, (const char *)in + i);
                    cli_die("stdin: character %s(U+%04X) at character %llu (byte %llu) is not in the model's"
                            " vocabulary (--skip-unknown drops it)", ch, cp,
                            (unsigned long long)(pos + skipped), (unsigned long long)(byteoff + i));
                }
                skipped++;
            } else {
                if (opt_streams > 0) {               /* keep it all: cut into streams later */
                    if (alln == allcap)
                        all = cli_realloc(all, (allcap = allcap ? 2 * allcap : 65536) * sizeof *all);
                    all[alln++] = x;
                } else {                             /* the last N characters, for windows */
                    if (have == (size_t)2 * (N + 1)) {
                        memmove(buf, buf + have - N, (size_t)N * sizeof *buf);
                        have = (size_t)N;
                    }
                    buf[have++] = x;
                    /* the window ending here: text[i0 .. i0+N) -> text[i0+N], i0 = pos - N */
                    if (pos >= (uint64_t)N && (pos - N) % (uint64_t)opt_step == 0)
                        add_window(ev, pool, buf + have - 1 - N, x);
                }
                pos++;
            }
            i += (size_t)l;
        }
        byteoff += i;
        carry = len - i;
        memmove(in, in + i, carry);
        len = carry;
        if (eof && len == 0)
            break;
    }
    if (skipped)
        cli_warn("dropped %llu characters outside the vocabulary", (unsigned long long)skipped);
    if (pos == 0)
        cli_die("stdin: empty input");
    if (pos <= (uint64_t)N && opt_streams <= 0)
        cli_die("stdin: a text of %llu characters has no window of %d and its next character",
                (unsigned long long)pos, N);
    free(buf);
}

/* ---- window stream input ---- */
static int onehot_index(const unsigned char *p, int V)
{
    int hot = -1;
    for (int v = 0; v < V; v++) {
        float f;
        memcpy(&f, p + (size_t)v * 4, 4);
        if (f == 1.0f && hot < 0)
            hot = v;
        else if (f != 0.0f)
            return -1;
    }
    return hot;
}

static int64_t get_index(const ts_frame *f, size_t i, int V)
{
    const unsigned char *p = (const unsigned char *)f->data;
    switch (f->dtype) {
    case TS_U1: return p[i];
    case TS_U2: return p[2 * i] | p[2 * i + 1] << 8;
    case TS_U4: case TS_I4: {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        return f->dtype == TS_I4 ? (int32_t)v : (int64_t)v;
    }
    case TS_F4: return onehot_index(p + i * (size_t)V * 4, V);
    default: return -1;
    }
}

static void eval_stream(evaluator *ev, par_pool *pool, const unsigned char *first, size_t nfirst)
{
    const model *m = ev->m;
    int N = m->maxlen, V = m->dim.V;
    ts_reader *r = cli_reader_open(0, "stdin");
    if (ts_reader_unread(r, first, nfirst) < 0)
        cli_die("stdin: cannot take back the first bytes of the input");
    ts_frame f;
    int rc;
    size_t pending = 0;
    int32_t *xs = NULL;
    size_t xcap = 0;
    while ((rc = ts_read(r, &f)) > 0) {
        if (strcmp(f.name, "vocab") == 0) {
            if (!f.is_tensor || f.dtype != TS_U4 || f.shape[0] != (uint64_t)V
                || memcmp(f.data, m->vocab, f.nbytes) != 0)
                cli_die("stdin: the stream's vocabulary differs from the model's (encode with vocab -v MODEL)");
        } else if (strcmp(f.name, "x") == 0) {
            int oh = f.dtype == TS_F4;
            if (!f.is_tensor || f.ndim != 2 + oh || f.shape[1] != (uint64_t)N || (oh && f.shape[2] != (uint64_t)V))
                cli_die("stdin: x must be (B, %d) indices or (B, %d, %d) one-hot", N, N, V);
            if (pending)
                cli_die("stdin: two x frames without a y frame between them");
            pending = f.shape[0];
            if (pending * N > xcap) {
                xcap = pending * N;
                xs = cli_realloc(xs, xcap * sizeof *xs);
            }
            for (size_t i = 0; i < pending * N; i++) {
                int64_t v = get_index(&f, i, V);
                if (v < 0 || v >= V)
                    cli_die("stdin: x holds an index outside the vocabulary of %d (or a non-one-hot row)", V);
                xs[i] = (int32_t)v;
            }
        } else if (strcmp(f.name, "y") == 0) {
            int oh = f.dtype == TS_F4;
            if (!f.is_tensor || f.ndim != 1 + oh || f.shape[0] != pending || (oh && f.shape[1] != (uint64_t)V))
                cli_die("stdin: y must be (B) indices or (B, %d) one-hot matching the x frame before it", V);
            for (size_t s = 0; s < pending; s++) {
                int64_t v = get_index(&f, s, V);
                if (v < 0 || v >= V)
                    cli_die("stdin: y holds an index outside the vocabulary of %d", V);
                add_window(ev, pool, xs + s * N, (int32_t)v);
            }
            pending = 0;
        }
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (pending)
        cli_die("stdin: the last x frame has no y frame");
    ts_reader_close(r);
    free(xs);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_JSON = 256, O_TSV, O_SKIP, O_STREAMS };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "step", 1, 0, 's' }, { "json", 0, 0, O_JSON },
        { "tsv", 0, 0, O_TSV }, { "skip-unknown", 0, 0, O_SKIP }, { "streams", 1, 0, O_STREAMS }, { "threads", 1, 0, 'j' },
        { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:s:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': opt_model = optarg; break;
        case 's': opt_step = cli_long("-s", optarg, 1, 1L << 30); break;
        case 'j': opt_threads = cli_long("-j", optarg, 1, 256); break;
        case O_JSON: opt_json = 1; break;
        case O_TSV: opt_tsv = 1; break;
        case O_SKIP: opt_skip = 1; break;
        case O_STREAMS: opt_streams = cli_long("--streams", optarg, 0, 1 << 20); break;
        case 'h': usage(); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt_model)
        cli_usage_error("a model is required (-m MODEL)");
    if (opt_json && opt_tsv)
        cli_usage_error("--json and --tsv exclude each other");
    if (isatty(0))
        cli_usage_error("stdin is a terminal; give the text on stdin: evaluate -m MODEL < TEXT");

    model m;
    char err[512];
    if (model_read(&m, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (m.lower && !m.byte_unit && !setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8"))
        cli_die("the model lowercases its input, but the C.UTF-8 locale is not available");
    if (opt_threads == 0)
        opt_threads = par_ncpu();
    evaluator ev = { .k = cli_kernels(), .m = &m, .nparts = (int)opt_threads, .bpart = 64 };
    ev.work = cli_alloc((size_t)opt_threads * sizeof *ev.work);   /* made below, for the layout */
    ev.loss = cli_malloc((size_t)opt_threads * sizeof *ev.loss);
    if (opt_streams < 0)
        opt_streams = m.streams;
    par_pool *pool = par_new((int)opt_threads);
    if (!pool)
        cli_die("cannot start %ld threads", opt_threads);

    unsigned char first[2];
    size_t nfirst = 0;
    while (nfirst < 2) {
        ssize_t r = read(0, first + nfirst, 2 - nfirst);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            cli_die("stdin: read failed: %s", strerror(errno));
        if (r == 0)
            break;
        nfirst += (size_t)r;
    }
    if (nfirst == 0)
        cli_die("stdin: empty input");
    double t0 = cli_now();
    int is_stream = nfirst == 2 && first[0] == 0x1f && first[1] == 0x8b;
    if (is_stream)
        opt_streams = 0;                     /* a window stream: its windows are what counts */
    if (opt_streams <= 0) {                  /* windows in chunks (eval_streams sizes its own) */
        for (int i = 0; i < opt_threads; i++)
            ev.work[i] = lstm_work_new(m.dim, m.maxlen, ev.bpart);
        cx = cli_malloc((size_t)CHUNK * m.maxlen * sizeof *cx);
        cy = cli_malloc((size_t)CHUNK * sizeof *cy);
    }
    if (is_stream)
        eval_stream(&ev, pool, first, nfirst);
    else
        eval_text(&ev, pool, first, nfirst);
    if (opt_streams > 0)
        eval_streams(&ev, pool, (int)opt_streams);
    flush_chunk(&ev, pool);
    if (total_windows == 0)
        cli_die("stdin: no windows to evaluate");
    double secs = cli_now() - t0;
    double nats = total_loss / (double)total_windows, bits = nats / log(2.0), ppl = exp(nats);
    char name[512];
    size_t o = 0;                     /* the model path as a JSON string body */
    for (const char *p = opt_model; *p && o + 7 < sizeof name; p++) {
        if (*p == '"' || *p == '\\')
            name[o++] = '\\';
        if ((unsigned char)*p < 32)
            o += (size_t)snprintf(name + o, sizeof name - o, "\\u%04x", *p);
        else
            name[o++] = *p;
    }
    name[o] = 0;
    if (opt_json)
        printf("{\"model\": \"%s\", \"windows\": %llu, \"maxlen\": %d, \"loss_nats\": %.6f, "
               "\"bits_per_char\": %.6f, \"perplexity\": %.4f, \"seconds\": %.3f}\n",
               name, (unsigned long long)total_windows, m.maxlen, nats, bits, ppl, secs);
    else if (opt_tsv)
        printf("model\twindows\tmaxlen\tloss_nats\tbits_per_char\tperplexity\tseconds\n"
               "%s\t%llu\t%d\t%.6f\t%.6f\t%.4f\t%.3f\n",
               opt_model, (unsigned long long)total_windows, m.maxlen, nats, bits, ppl, secs);
    else
        printf("%.4f nats/char  %.4f bits/char  perplexity %.3f  (%llu windows of %d)\n",
               nats, bits, ppl, (unsigned long long)total_windows, m.maxlen);
    if (fflush(stdout) != 0 || ferror(stdout))
        cli_die("stdout: write failed: %s", strerror(errno));
    par_free(pool);
    for (int i = 0; i < opt_threads; i++)
        lstm_work_free(ev.work[i]);
    free(ev.work);
    free(ev.loss);
    free(cx);
    free(all);
    free(cy);
    model_free(&m);
    return 0;
}
