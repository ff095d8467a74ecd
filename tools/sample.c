/* sample - generate text from a trained model. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <locale.h>
#include "cli.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "rng.h"
#include "sampling.h"
#include "utf8.h"

static const char *opt_model, *opt_seed_text;
static long opt_n = 500, opt_topk = 0, opt_rng_seed = -1;
static double opt_temp = 0, opt_topp = 1.0;
static int opt_stateful = -1, opt_skip, opt_f16;

static void usage(void)
{
    printf(
"NAME\n"
"    sample - generate text from a model trained by train\n\n"
"SYNOPSIS\n"
"    sample -m MODEL [-n CHARS] [--seed TEXT] [--stateful] [-t TEMP] [-k K] [-p P]\n"
"           [--f16] [--rng-seed N]\n\n"
"DESCRIPTION\n"
"    Writes the seed text followed by CHARS generated characters to stdout, as UTF-8\n"
"    (or raw bytes for a byte-level model), as they are produced.\n\n"
"    Window mode (the default) is the Keras course's generator: the last MAXLEN characters\n"
"    (fewer while the text is shorter) are run through the network from a zero state, the\n"
"    next character is chosen from the prediction, the window slides by one, and so on. That\n"
"    is exactly how the model was trained, and costs MAXLEN recurrent steps per character.\n\n"
"    --stateful carries the recurrent state from character to character instead: the seed\n"
"    is fed once, then one step per generated character, MAXLEN times less work. The model\n"
"    never saw states older than MAXLEN characters in training, so the text differs from\n"
"    window mode and can drift over long outputs; it is the fast way.\n\n"
"    The next character is the argmax of the prediction (greedy, as the course does) unless\n"
"    a temperature is given: then it is drawn from p^(1/TEMP), renormalised (the Keras\n"
"    example's 'diversity'), optionally restricted to the K most likely characters (top-k)\n"
"    and to the smallest set whose probability reaches P (top-p, nucleus).\n\n"
"OPTIONS\n"
"    -m, --model FILE    the model (required)\n"
"    -n, --chars N       characters to generate (default %ld)\n"
"    -s, --seed TEXT     the seed text (default: one character drawn from the vocabulary)\n"
"        --seed-file F   read the seed text from file F\n"
"        --stateful      carry the state, one step per character (fast; the default for\n"
"                        models trained with train --streams)\n"
"        --window        the course's sliding-window generator (the default otherwise)\n"
"        --f16           with --stateful: keep the weight matrices in half precision,\n"
"                        about 1.3x faster; the sums stay in float, and greedy text\n"
"                        matches float32's but where two characters are nearly tied\n"
"    -t, --temperature T sample at temperature T; 0 = greedy (default %g)\n"
"    -k, --top-k K       sample among the K most likely characters; 0 = all (default 0)\n"
"    -p, --top-p P       sample among the most likely characters whose total reaches P\n"
"                        (default 1)\n"
"        --rng-seed N    seed the sampling RNG (default: from the clock)\n"
"        --skip-unknown  drop seed characters outside the vocabulary, with a warning\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    sample -m model --seed \"that, poor contempt, or claim'd thou sle\" -n 500 -t 0.5\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage. A closed output pipe ends it quietly.\n",
        opt_n, opt_temp);
}

/* Output, written as it is produced: flushed at least every 50 ms (each character on a tty). */
static char obuf[1 << 14];
static size_t olen;
static int otty;
static double olast;

static void out_flush(void)
{
    size_t off = 0;
    while (off < olen) {
        ssize_t k = write(1, obuf + off, olen - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EPIPE) {       /* the reader has gone: end quietly, but as */
            signal(SIGPIPE, SIG_DFL);        /* a filter killed by SIGPIPE does, so that a */
            raise(SIGPIPE);                  /* pipefail pipeline does not report success */
            _exit(141);
        }
        if (k <= 0)
            cli_die("stdout: write failed: %s", strerror(errno));
        off += (size_t)k;
    }
    olen = 0;
    olast = cli_now();
}

static void out_char(const model *m, int idx)
{
    unsigned char u[4];
    int n = 1;
    if (m->byte_unit)
        u[0] = (unsigned char)m->vocab[idx];
    else if ((n = utf8_encode(m->vocab[idx], u)) == 0) {
        n = 3;                               /* U+FFFD for a code point UTF-8 cannot carry */
        memcpy(u, "\xef\xbf\xbd", 3);
    }
    memcpy(obuf + olen, u, (size_t)n);
    olen += (size_t)n;
    if (otty || olen > sizeof obuf - 8 || cli_now() - olast > 0.05)
        out_flush();
}

/* The seed as vocabulary indices. */
static int *encode_seed(const model *m, const char *s, int *len)
{
    size_t n = strlen(s);
    int *idx = cli_malloc((n + 1) * sizeof *idx), k = 0, skipped = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int x;
        const char *why = "";
        int l = model_char(m, p + i, n - i, &cp, &x, &why);
        if (l <= 0)
            cli_die("--seed: invalid UTF-8 at byte %zu (%s)", i, l == 0 ? "cut off" : why);
        if (x < 0) {
            if (!opt_skip)
                cli_die("--seed: character '%.*s' (U+%04X) at position %d is not in the model's vocabulary"
                        " (--skip-unknown drops it)", l, s + i, cp, k + skipped);
            skipped++;
        } else {
            idx[k++] = x;
        }
        i += (size_t)l;
    }
    if (skipped)
        cli_warn("dropped %d seed character%s outside the vocabulary", skipped, skipped > 1 ? "s" : "");
    *len = k;
    return idx;
}

static char *read_seed_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        cli_die("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *s = cli_malloc(cap);
    size_t k;
    while ((k = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap)
            s = cli_realloc(s, cap *= 2);
    }
    if (ferror(f))
        cli_die("%s: read failed", path);
    fclose(f);
    if (memchr(s, 0, n))
        cli_die("%s: the seed holds a NUL byte", path);
    s[n] = 0;
    return s;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_STATEFUL = 256, O_WINDOW, O_RNG, O_SKIP, O_SEEDFILE, O_F16 };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "chars", 1, 0, 'n' }, { "seed", 1, 0, 's' }, { "seed-file", 1, 0, O_SEEDFILE },
        { "stateful", 0, 0, O_STATEFUL }, { "window", 0, 0, O_WINDOW }, { "f16", 0, 0, O_F16 },
        { "temperature", 1, 0, 't' }, { "top-k", 1, 0, 'k' }, { "top-p", 1, 0, 'p' },
        { "rng-seed", 1, 0, O_RNG }, { "skip-unknown", 0, 0, O_SKIP }, { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:n:s:t:k:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': opt_model = optarg; break;
        case 'n': opt_n = cli_long("-n", optarg, 0, 1L << 40); break;
        case 's': opt_seed_text = optarg; break;
        case O_SEEDFILE: opt_seed_text = read_seed_file(optarg); break;
        case O_STATEFUL: opt_stateful = 1; break;
        case O_WINDOW: opt_stateful = 0; break;
        case O_F16: opt_f16 = 1; break;
        case 't': opt_temp = cli_double("-t", optarg, 0, 100); break;
        case 'k': opt_topk = cli_long("-k", optarg, 0, 1 << 21); break;
        case 'p': opt_topp = cli_double("-p", optarg, 1e-9, 1); break;
        case O_RNG: opt_rng_seed = cli_long("--rng-seed", optarg, 0, 0x7fffffffL); break;
        case O_SKIP: opt_skip = 1; break;
        case 'h': usage(); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt_model)
        cli_usage_error("a model is required (-m MODEL)");
    cli_refuse_stdout_input(0, &opt_model, 1);
    if ((opt_topk || opt_topp < 1) && opt_temp == 0)
        cli_warn("-k and -p take effect only with a temperature (-t); generating greedily");

    model m;
    char err[512];
    if (model_read(&m, NULL, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (m.lower && !m.byte_unit && !setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8"))
        cli_die("the model lowercases its input, but the C.UTF-8 locale is not available");
    const kern_ops *k = cli_kernels();
    rng_t rng;
    rng_seed(&rng, opt_rng_seed >= 0 ? (uint64_t)opt_rng_seed : (uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid());

    int seedlen;
    int *seed;
    if (opt_seed_text) {
        seed = encode_seed(&m, opt_seed_text, &seedlen);
        if (seedlen == 0)
            cli_die("--seed: no characters of the seed are in the vocabulary");
    } else {
        seed = cli_malloc(sizeof *seed);
        seed[0] = (int)rng_below(&rng, (uint64_t)m.dim.V);
        seedlen = 1;
    }

    signal(SIGPIPE, SIG_IGN);                /* EPIPE then ends us quietly, see out_flush */
    otty = isatty(1);
    olast = cli_now();
    int V = m.dim.V, H = m.dim.H, N = m.maxlen;
    float *probs = cli_alloc((size_t)V * sizeof(float));
    double *q = cli_malloc((size_t)V * sizeof *q);
    int *order = cli_malloc((size_t)V * sizeof *order);
    for (int i = 0; i < seedlen; i++)
        out_char(&m, seed[i]);

    if (opt_stateful < 0)             /* char-rnn models carry their state: stateful is natural */
        opt_stateful = m.streams > 0;
    if (opt_f16 && !opt_stateful)
        cli_usage_error("--f16 is for --stateful generation");
    if (opt_stateful) {              /* the weights packed once for the one-row products */
        size_t LH = (size_t)m.dim.L * H;
        float *h = cli_alloc(LH * sizeof(float)), *cst = cli_alloc(LH * sizeof(float));
        lstm_gen *g = lstm_gen_new(k, &m.p, opt_f16);
        if (!g)
            cli_die("out of memory");
        for (int i = 0; i < seedlen; i++)
            lstm_gen_step(g, seed[i], h, cst, probs);
        for (long i = 0; i < opt_n; i++) {  /* probs holds the logits */
            int x;
            if (opt_temp <= 0)                 /* greedy: the largest logit, no softmax */
                x = sample_argmax(probs, V);
            else {                             /* p^(1/t) renormalised = softmax(logits / t) */
                k->softmax(V, probs, (float)(1.0 / opt_temp));
                x = sample_choose(probs, V, 1.0, (int)opt_topk, opt_topp, &rng, q, order);
            }
            out_char(&m, x);
            lstm_gen_step(g, x, h, cst, probs);
        }
        lstm_gen_free(g);
        free(h);
        free(cst);
    } else {
        lstm_work *w = lstm_work_new(m.dim, N, 1);
        int32_t *win = cli_malloc((size_t)N * sizeof *win);
        int wlen = seedlen < N ? seedlen : N;
        for (int i = 0; i < wlen; i++)
            win[i] = seed[seedlen - wlen + i];
        for (long i = 0; i < opt_n; i++) {
            lstm_forward_batch(k, &m.p, w, 1, wlen, win, NULL, probs);
            int x = sample_choose(probs, V, opt_temp, (int)opt_topk, opt_topp, &rng, q, order);
            out_char(&m, x);
            if (wlen < N)
                win[wlen++] = x;
            else {
                memmove(win, win + 1, (size_t)(N - 1) * sizeof *win);
                win[N - 1] = x;
            }
        }
        lstm_work_free(w);
        free(win);
    }
    out_flush();
    if (otty && !m.byte_unit)
        (void)!write(1, "\n", 1);
    free(probs);
    free(q);
    free(order);
    free(seed);
    model_free(&m);
    return 0;
}
