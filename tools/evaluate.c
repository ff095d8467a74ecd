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
#include "output.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "ts.h"
#include "dataset.h"
#include "frame.h"
#include "train.h"

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
"    mean cross-entropy of the model's prediction of each window's next character (of every\n"
"    character after the window's first, for a model trained with a target at every\n"
"    position, as train validates it): in nats per character (the unit train reports), in\n"
"    bits per character, and as perplexity. Input starting with the gzip magic bytes is read\n"
"    as a window stream instead of text: any stream train takes (x/y frames of indices of\n"
"    any integer dtype or one-hot, y with a target at every position from window --seq).\n"
"    Memory is bounded by a chunk of the input.\n\n"
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
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    evaluate -m model --json < valid.txt\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage.\n", opt_step);
}

/* ---- the input, held a chunk of windows at a time (or, for streams, all of the text) ---- */
#define CHUNK 4096                    /* windows evaluated together */

static model m;
static evaluator *ev;
static dataset d;                     /* the windows (or text) not yet evaluated */
static double total_loss, total_targets;
static uint64_t total_windows;
static char err[512];
static int threads;

static void flush_chunk(void)
{
    if (d.n == 0)
        return;
    if (!ev && !(ev = evaluator_new(cli_kernels(), m.dim, threads, 64, m.maxlen, err, sizeof err)))
        cli_die("%s", err);                  /* (made on first use: streams size their own) */
    total_loss += eval_windows(ev, &m.p, &d, 0, d.n, d.ylen > 1);
    total_targets += (double)d.n * d.ylen;
    total_windows += d.n;
    dataset_clear(&d);
}

static void add_window(const int32_t *x, const int32_t *y, int ylen)
{
    if (dataset_add_window(&d, x, y, m.maxlen, ylen, err, sizeof err) < 0)
        cli_die("stdin: %s", err);
    if (d.n == CHUNK)
        flush_chunk();
}

/* The text cut into B streams with the state carried, as train validates. */
static void eval_text_streams(int B)
{
    if (d.tn < 2)
        cli_die("stdin: a text of %zu characters has nothing to predict", d.tn);
    if ((size_t)B > d.tn - 1)
        B = (int)(d.tn - 1);
    /* steps per chunk: the model's, but no more than a stream has (the work areas grow with
     * them, and a model's maxlen is only a claim; chunks carry the state, so the loss is the same) */
    size_t per = (d.tn - 1) / (size_t)B;
    int T = (size_t)m.maxlen < per ? m.maxlen : (int)(per > 0 ? per : 1);
    if (!(ev = evaluator_new(cli_kernels(), m.dim, threads, (B + threads - 1) / threads, T,
                             err, sizeof err)))
        cli_die("%s", err);
    total_loss = eval_streams(ev, &m.p, &d, 0, d.tn, B, &total_targets);
    total_windows = (uint64_t)total_targets;
}

/* ---- text input ---- */
static void eval_text(const unsigned char *first, size_t nfirst)
{
    int N = m.maxlen, pp = m.per_position;
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
            int l = model_char(&m, in + i, len - i, &cp, &x, &why);
            if (l == 0 && !eof)
                break;                               /* the rest of it comes with the next read */
            if (l <= 0)
                cli_die("stdin: invalid UTF-8 at byte %llu (%s)", (unsigned long long)(byteoff + i),
                        l == 0 ? "sequence cut off at the end" : why);
            if (x < 0) {
                if (!opt_skip) {
                    char ch[8] = "";
                    if (!m.byte_unit && cp >= 32)
                        snprintf(ch, sizeof ch, "'%.*s' ", l, (const char *)in + i);
                    cli_die("stdin: character %s(U+%04X) at character %llu (byte %llu) is not in the model's"
                            " vocabulary (--skip-unknown drops it)", ch, cp,
                            (unsigned long long)(pos + skipped), (unsigned long long)(byteoff + i));
                }
                skipped++;
            } else {
                int32_t xi = x;
                if (opt_streams > 0) {               /* keep it all: cut into streams later */
                    if (dataset_add_text(&d, &xi, 1, err, sizeof err) < 0)
                        cli_die("stdin: %s", err);
                } else {                             /* the last N characters, for windows */
                    if (have == (size_t)2 * (N + 1)) {
                        memmove(buf, buf + have - N, (size_t)N * sizeof *buf);
                        have = (size_t)N;
                    }
                    buf[have++] = x;
                    /* the window ending here: text[i0 .. i0+N) -> text[i0+N] (or, with a
                     * target at every position, text[i0+1 .. i0+N]), i0 = pos - N */
                    if (pos >= (uint64_t)N && (pos - N) % (uint64_t)opt_step == 0) {
                        const int32_t *w = buf + have - 1 - N;
                        add_window(w, pp ? w + 1 : w + N, pp ? N : 1);
                    }
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

/* ---- window stream input: every stream train takes ---- */
static void eval_stream(const unsigned char *first, size_t nfirst)
{
    ts_reader *r = cli_reader_open(0, "stdin");
    if (ts_reader_unread(r, first, nfirst) < 0)
        cli_die("stdin: cannot take back the first bytes of the input");
    ts_frame f;
    int rc;
    while ((rc = ts_read(r, &f)) > 0) {
        if (strcmp(f.name, "x") == 0 && f.ndim >= 2 && f.shape[1] != (uint64_t)m.maxlen)
            cli_die("stdin: windows of %llu, but the model reads windows of %d", (unsigned long long)f.shape[1],
                    m.maxlen);
        if (dataset_add_frame(&d, &f, err, sizeof err) < 0)
            cli_die("%s", err);
        if (d.n >= CHUNK)
            flush_chunk();
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (dataset_end(&d, err, sizeof err) < 0)
        cli_die("%s", err);
    ts_reader_close(r);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_uses_kernels = 1;
    enum { O_JSON = 256, O_TSV, O_SKIP, O_STREAMS };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "step", 1, 0, 's' }, { "json", 0, 0, O_JSON },
        { "tsv", 0, 0, O_TSV }, { "skip-unknown", 0, 0, O_SKIP }, { "streams", 1, 0, O_STREAMS }, { "threads", 1, 0, 'j' },
        { "help", 0, 0, 'h' }, CLI_VERSION_OPTION, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = cli_getopt(argc, argv, "m:s:j:h", longopts)) != -1) {
        switch (c) {
        case 'm': opt_model = cli_path("-m", optarg); break;
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
    out_input_fd(0, "stdin", 0);      /* (a text or a stream: a terminal is refused above) */
    out_input(opt_model, 0);
    out_stdout(0);
    out_check(0);

    if (model_read(&m, NULL, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (m.lower && !m.byte_unit && !setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8"))
        cli_die("the model lowercases its input, but the C.UTF-8 locale is not available");
    if (opt_threads == 0)
        opt_threads = par_ncpu();
    if (opt_streams < 0)
        opt_streams = m.streams;
    threads = (int)opt_threads;
    dataset_init(&d, 0, "stdin");           /* read with the model's vocabulary */
    d.vocab = (frame_vocab){ .V = m.dim.V, .cp = cli_malloc(m.dim.V * sizeof(uint32_t)),
                             .byte_unit = m.byte_unit, .lower = m.lower };
    d.vocab_fixed = 1;
    memcpy(d.vocab.cp, m.vocab, m.dim.V * sizeof(uint32_t));

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
    if (nfirst == 2 && first[0] == 0x1f && first[1] == 0x8b)
        eval_stream(first, nfirst);          /* a window stream: its windows are what counts */
    else {
        eval_text(first, nfirst);
        if (opt_streams > 0)
            eval_text_streams((int)opt_streams);
    }
    flush_chunk();
    if (total_windows == 0)
        cli_die("stdin: no windows to evaluate");
    if (!isfinite(total_loss))        /* (eval_streams gives NaN when out of memory, too) */
        cli_die("%s: the loss is not finite (the model's outputs overflow, or out of memory)", opt_model);
    double secs = cli_now() - t0;
    double nats = total_loss / total_targets, bits = nats / log(2.0), ppl = exp(nats);
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
    evaluator_free(ev);
    dataset_free(&d);
    model_free(&m);
    return 0;
}
