/* evaluate - a model's mean cross-entropy on a text or a window stream. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "codec.h"
#include "output.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "ts.h"
#include "score.h"
#include "dynamic.h"

static const char *opt_model;
static long opt_step = 1, opt_threads = 0, opt_streams = -1;
static int opt_json, opt_tsv, opt_skip, opt_dynamic;
static dyn_opts dopt;

static void usage(void)
{
    printf(
"NAME\n"
"    evaluate - measure a model's cross-entropy on a text\n\n"
"SYNOPSIS\n"
"    evaluate -m MODEL [-s STEP] [--json | --tsv] < TEXT\n"
"    evaluate -m MODEL --dynamic [--dynamic-lr F] [--dynamic-decay F] [--dynamic-segment N] < TEXT\n"
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
"    --dynamic adds dynamic evaluation (Krause et al. 2018), a different protocol reported\n"
"    on its own line, labelled dynamic: the text is read as one stream with the state carried,\n"
"    cut into segments of N characters, and after each segment is scored the model takes a\n"
"    gradient step on it (RMS-normalised by the gradients of the segments before, with a\n"
"    decay toward the trained weights), so it adapts to the text as it reads it; no\n"
"    character is scored by weights that learnt from it. It backpropagates through every\n"
"    character on one thread: a few thousand characters a second for a 2 x 256 model.\n"
"    With --json its figures are a \"dynamic\" object, with --tsv dynamic_* columns.\n"
"    The defaults were tuned on a held-out part of tinyshakespeare's training text\n"
"    (doc/EXPERIMENTS.md).\n\n"
"OPTIONS\n"
"    -m, --model FILE    the model (required)\n"
"    -s, --step N        evaluate every Nth window of a text (default %ld)\n"
"        --streams B     evaluate as B carried-state streams (default: the model's B for\n"
"                        --streams models; 0 = windows)\n"
"        --json          print one JSON object\n"
"        --tsv           print a header line and one tab-separated line (in the model\n"
"                        path, \\ tab newline and CR written as \\\\ \\t \\n \\r)\n"
"        --skip-unknown  drop text characters outside the vocabulary, with a warning\n"
"        --dynamic       also report the loss under dynamic evaluation (a text only)\n"
"        --dynamic-lr F  its learning rate (default %g)\n"
"        --dynamic-decay F   its decay toward the trained weights per segment (default %g)\n"
"        --dynamic-segment N characters per segment (default %d)\n"
"    -j, --threads N     threads (default: all CPUs)\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    evaluate -m model --json < valid.txt\n"
"    evaluate -m model --dynamic < valid.txt\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage.\n", opt_step, DYN_LR, DYN_DECAY, DYN_SEGMENT);
}

/* ---- the input: a text, read through the codec, or a window stream; lib/score.c scores it ---- */
static model m;
static codec cd;
static scorer *sc;
static dyn *dy;
static char err[512];

/* Dynamic evaluation's progress on a terminal (it is slow): characters scored, their loss. */
static void dynamic_progress(void *ctx, int64_t segment, double loss, int n)
{
    static double sum, chars;
    (void)ctx; (void)segment;
    sum += loss;
    chars += n;
    cli_status("evaluate: dynamic: %.0f characters, %.4f nats/char", chars, sum / chars);
}

static void eval_text(const unsigned char *first, size_t nfirst)
{
    int32_t idx[65536 + 4];
    codec_pos at = { 0 };
    unsigned char in[65536 + 4];
    memcpy(in, first, nfirst);
    size_t len = nfirst;
    for (int eof = 0; !eof || len > 0;) {
        if (!eof) {
            ssize_t r = read(0, in + len, sizeof in - 4 - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                cli_die("stdin: read failed: %s", strerror(errno));
            eof = r == 0;
            len += (size_t)(r > 0 ? r : 0);
        }
        size_t k, used;
        int rc = codec_encode(&cd, in, len, !eof, opt_skip ? CODEC_SKIP : CODEC_REFUSE, 0, idx, &k, &used, &at);
        if (score_text(sc, idx, k, err, sizeof err) < 0)
            cli_die("%s", err);
        if (dy && dyn_text(dy, idx, k, err, sizeof err) < 0)
            cli_die("%s", err);
        if (rc < 0) {
            char msg[256];
            cli_die("stdin: %s%s", codec_error(&cd, rc, &at, msg, sizeof msg),
                    rc == CODEC_EUNKNOWN ? " (--skip-unknown drops it)" : "");
        }
        memmove(in, in + used, len - used);
        len -= used;
        if (eof && len == 0)
            break;
    }
    if (at.skipped)
        cli_warn("dropped %llu characters outside the vocabulary", (unsigned long long)at.skipped);
}

static void eval_stream(const unsigned char *first, size_t nfirst)
{
    ts_reader *r = cli_reader_open(0, "stdin");
    if (ts_reader_unread(r, first, nfirst) < 0)
        cli_die("stdin: cannot take back the first bytes of the input");
    ts_frame f;
    int rc;
    while ((rc = ts_read(r, &f)) > 0)
        if (score_frame(sc, &f, err, sizeof err) < 0)
            cli_die("%s", err);
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    ts_reader_close(r);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_uses_kernels = 1;
    enum { O_JSON = 256, O_TSV, O_SKIP, O_STREAMS, O_DYN, O_DLR, O_DDECAY, O_DSEG };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "step", 1, 0, 's' }, { "json", 0, 0, O_JSON },
        { "tsv", 0, 0, O_TSV }, { "skip-unknown", 0, 0, O_SKIP }, { "streams", 1, 0, O_STREAMS }, { "threads", 1, 0, 'j' },
        { "dynamic", 0, 0, O_DYN }, { "dynamic-lr", 1, 0, O_DLR }, { "dynamic-decay", 1, 0, O_DDECAY },
        { "dynamic-segment", 1, 0, O_DSEG }, { "help", 0, 0, 'h' }, CLI_VERSION_OPTION, { 0, 0, 0, 0 }
    };
    int c, dgiven = 0;
    dyn_opts_init(&dopt);
    while ((c = cli_getopt(argc, argv, "m:s:j:h", longopts)) != -1) {
        switch (c) {
        case 'm': opt_model = cli_path("-m", optarg); break;
        case 's': opt_step = cli_long("-s", optarg, 1, 1L << 30); break;
        case 'j': opt_threads = cli_long("-j", optarg, 1, 256); break;
        case O_JSON: opt_json = 1; break;
        case O_TSV: opt_tsv = 1; break;
        case O_SKIP: opt_skip = 1; break;
        case O_STREAMS: opt_streams = cli_long("--streams", optarg, 0, 1 << 20); break;
        case O_DYN: opt_dynamic = 1; break;
        case O_DLR: dopt.lr = cli_double("--dynamic-lr", optarg, 0, 10); dgiven = 1; break;
        case O_DDECAY: dopt.decay = cli_double("--dynamic-decay", optarg, 0, 1); dgiven = 1; break;
        case O_DSEG: dopt.segment = (int)cli_long("--dynamic-segment", optarg, 1, 100000); dgiven = 1; break;
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
    if (dgiven && !opt_dynamic)
        cli_usage_error("--dynamic-lr, --dynamic-decay and --dynamic-segment apply to --dynamic");
    if (isatty(0))
        cli_usage_error("stdin is a terminal; give the text on stdin: evaluate -m MODEL < TEXT");
    out_input_fd(0, "stdin", 0);      /* (a text or a stream: a terminal is refused above) */
    out_input(opt_model, 0);
    out_stdout(0);
    out_check(0);

    if (model_read(&m, NULL, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (codec_init(&cd, m.vocab, m.dim.V, m.byte_unit, m.lower, err, sizeof err) < 0)
        cli_die("%s: %s", opt_model, err);
    if (opt_threads == 0)
        opt_threads = par_ncpu();
    if (opt_streams < 0)
        opt_streams = m.streams;
    if (!(sc = score_new(cli_kernels(), &m, (int)opt_threads, opt_step, (int)opt_streams, "stdin", err, sizeof err)))
        cli_die("%s", err);
    if (opt_dynamic && !(dy = dyn_new(cli_kernels(), &m, &dopt, "stdin", err, sizeof err)))
        cli_die("%s", err);
    if (dy && isatty(2))
        dyn_set_hook(dy, dynamic_progress, NULL);
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
    double t0 = cli_now(), nats, targets;
    uint64_t total_windows;
    if (nfirst == 2 && first[0] == 0x1f && first[1] == 0x8b) {
        if (dy)
            cli_usage_error("--dynamic reads a text, and stdin is a stream (gzip): evaluate -m MODEL --dynamic < TEXT");
        eval_stream(first, nfirst);          /* a window stream: its windows are what counts */
    } else {
        eval_text(first, nfirst);
    }
    if (score_finish(sc, &nats, &targets, &total_windows, err, sizeof err) < 0)
        cli_die("%s", err);
    double dnats = 0, dn = 0;                /* dynamic evaluation: its loss, its characters */
    if (dy) {
        if (dyn_finish(dy, err, sizeof err) < 0)
            cli_die("%s", err);
        cli_status_clear();
        double sum;
        dyn_result(dy, &sum, &dn);
        if (dn == 0)
            cli_die("stdin: dynamic evaluation: a text of one character has nothing to predict");
        dnats = sum / dn;
    }
    double secs = cli_now() - t0, bits = nats / log(2.0), ppl = exp(nats);
    size_t plen = strlen(opt_model);           /* the model path, escaped for the format */
    char *name = cli_malloc(CODEC_JSON_MAX(plen) + 1);
    name[opt_json ? codec_json(name, opt_model, plen, 0) : codec_tsv(name, opt_model, plen)] = 0;
    double dbits = dnats / log(2.0), dppl = exp(dnats);
    if (opt_json) {
        printf("{\"model\": \"%s\", \"windows\": %llu, \"maxlen\": %d, \"loss_nats\": %.6f, "
               "\"bits_per_char\": %.6f, \"perplexity\": %.4f, \"seconds\": %.3f",
               name, (unsigned long long)total_windows, m.maxlen, nats, bits, ppl, secs);
        if (dy)
            printf(", \"dynamic\": {\"loss_nats\": %.6f, \"bits_per_char\": %.6f, \"perplexity\": %.4f, "
                   "\"characters\": %.0f, \"segment\": %d, \"lr\": %g, \"decay\": %g}", dnats, dbits, dppl, dn,
                   dopt.segment, dopt.lr, dopt.decay);
        printf("}\n");
    } else if (opt_tsv) {
        printf("model\twindows\tmaxlen\tloss_nats\tbits_per_char\tperplexity\tseconds%s\n"
               "%s\t%llu\t%d\t%.6f\t%.6f\t%.4f\t%.3f",
               dy ? "\tdynamic_loss_nats\tdynamic_bits_per_char\tdynamic_perplexity\tdynamic_characters"
                    "\tdynamic_segment\tdynamic_lr\tdynamic_decay" : "",
               name, (unsigned long long)total_windows, m.maxlen, nats, bits, ppl, secs);
        if (dy)
            printf("\t%.6f\t%.6f\t%.4f\t%.0f\t%d\t%g\t%g", dnats, dbits, dppl, dn, dopt.segment, dopt.lr, dopt.decay);
        printf("\n");
    } else {
        printf("%.4f nats/char  %.4f bits/char  perplexity %.3f  (%llu windows of %d)\n",
               nats, bits, ppl, (unsigned long long)total_windows, m.maxlen);
        if (dy)
            printf("%.4f nats/char  %.4f bits/char  perplexity %.3f  dynamic (one stream of %.0f characters, "
                   "segments of %d, lr %g, decay %g)\n", dnats, dbits, dppl, dn, dopt.segment, dopt.lr, dopt.decay);
    }
    free(name);                       /* (printf has it: freed before a failed write ends us) */
    if (fflush(stdout) != 0 || ferror(stdout))
        cli_die("stdout: write failed: %s", strerror(errno));
    score_free(sc);
    dyn_free(dy);
    model_free(&m);
    return 0;
}
