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
#include "output.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "rng.h"
#include "sampling.h"
#include "utf8.h"

static const char *opt_model, *opt_seed_text, *opt_seed_file;
static long opt_n = 500, opt_topk = 0, opt_rng_seed = -1, opt_count = 1, opt_beam = 0;
static double opt_temp = 0, opt_topp = 1.0;
static int opt_stateful = -1, opt_skip, opt_f16, opt_json, opt_beam_all;
static const char *opt_sep = "\n---\n";

static void usage(void)
{
    printf(
"NAME\n"
"    sample - generate text from a model trained by train\n\n"
"SYNOPSIS\n"
"    sample -m MODEL [-n CHARS] [--seed TEXT] [--stateful] [-t TEMP] [-k K] [-p P]\n"
"           [--f16] [--rng-seed N] [--count N [--separator STR] [--json]]\n"
"    sample -m MODEL --beam K [--beam-all] [--json] [-n CHARS] [--seed TEXT] [--stateful]\n\n"
"DESCRIPTION\n"
"    Writes the seed text followed by CHARS generated characters to stdout, as UTF-8\n"
"    (or raw bytes for a byte-level model), as they are produced (with --count, --json or\n"
"    --beam: when all are done).\n\n"
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
"    --count N writes N independent samples, generated together: each step is one product\n"
"    over the N rows, far cheaper than N runs. Sample i (from 0) draws from the random\n"
"    stream of seed S + i (S the --rng-seed, or a seed from the clock), so it is the text\n"
"    'sample --rng-seed S+i' writes with the same options: exactly with --stateful (the rows'\n"
"    products are the one-row product's, bit for bit); in window mode exactly with\n"
"    CHARPIPE_KERNEL=scalar, while the vector kernels sum a product over N rows in another\n"
"    order than over one, which can change a character where two are nearly tied. The\n"
"    samples are written when all are done, separated by STR, or with --json as JSON lines\n"
"    {\"sample\": i, \"text\": \"...\"} (a byte-level model's bytes >= 0x80 as \\u0080..\\u00ff).\n\n"
"    --beam K keeps the K most probable continuations at every step (beam search: the\n"
"    total log-probability of the generated characters, given the seed) and writes the most\n"
"    probable when done; --beam-all writes all K, most probable first, each after a line\n"
"    'log-probability X' (natural log, the generated characters only), or as JSON lines\n"
"    {\"beam\": i, \"logprob\": X, \"text\": \"...\"}. It is deterministic (ties go to the\n"
"    earlier beam, then the lower character) and takes no -t, -k, -p; --beam 1 is greedy.\n\n"
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
"    -c, --count N       N samples in one batch (default 1)\n"
"        --separator STR written between samples; \\n, \\t and \\\\ are understood\n"
"                        (default '\\n---\\n')\n"
"        --json          one JSON line per sample (with --count or --beam-all)\n"
"    -b, --beam K        beam search with K beams (1..1024)\n"
"        --beam-all      with --beam: write all K beams and their log-probabilities\n"
"        --skip-unknown  drop seed characters outside the vocabulary, with a warning\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    sample -m model --seed \"that, poor contempt, or claim'd thou sle\" -n 500 -t 0.5\n"
"    sample -m model --stateful --seed \"ROMEO:\" -n 200 -t 0.8 --count 8 --json\n"
"    sample -m model --stateful --seed \"ROMEO:\" -n 60 --beam 8 --beam-all\n\n"
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

/* The bytes of character idx in u: its UTF-8, or the byte of a byte-level model. */
static int char_bytes(const model *m, int idx, unsigned char u[4])
{
    int n = 1;
    if (m->byte_unit)
        u[0] = (unsigned char)m->vocab[idx];
    else if ((n = utf8_encode(m->vocab[idx], u)) == 0) {
        n = 3;                               /* U+FFFD for a code point UTF-8 cannot carry */
        memcpy(u, "\xef\xbf\xbd", 3);
    }
    return n;
}

static void out_bytes(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        size_t k = n < sizeof obuf - olen ? n : sizeof obuf - olen;
        memcpy(obuf + olen, c, k);
        olen += k;
        c += k;
        n -= k;
        if (olen == sizeof obuf)
            out_flush();
    }
}

static void out_char(const model *m, int idx)
{
    unsigned char u[4];
    out_bytes(u, (size_t)char_bytes(m, idx, u));
    if (otty || olen > sizeof obuf - 8 || cli_now() - olast > 0.05)
        out_flush();
}

/* The text of n characters, plain or as the body of a JSON string. */
static void out_text(const model *m, const int *idx, size_t n, int json)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char u[4];
        int l = char_bytes(m, idx[i], u);
        if (!json || (l > 1) || (u[0] >= 0x20 && u[0] < 0x80 && u[0] != '"' && u[0] != '\\')) {
            out_bytes(u, (size_t)l);
            continue;
        }
        char e[8];
        int k = u[0] == '"' ? snprintf(e, sizeof e, "\\\"") : u[0] == '\\' ? snprintf(e, sizeof e, "\\\\")
              : u[0] == '\n' ? snprintf(e, sizeof e, "\\n") : snprintf(e, sizeof e, "\\u%04x", u[0]);
        out_bytes(e, (size_t)k);
    }
}

/* --separator's text with \n, \t and \\ replaced. */
static char *unescape(const char *s)
{
    char *o = cli_malloc(strlen(s) + 1), *q = o;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == 'n' || s[1] == 't' || s[1] == '\\')) {
            s++;
            *q++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
        } else
            *q++ = *s;
    }
    *q = 0;
    return o;
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

/* The next character of a sample from its logits (stateful; the softmax is taken in place
 * when sampling) or its probabilities (window mode, logits NULL), as the single run chooses. */
static int choose(const kern_ops *k, float *logits, const float *probs, int V, rng_t *rng,
                  double *q, int *order)
{
    if (!logits)
        return sample_choose(probs, V, opt_temp, (int)opt_topk, opt_topp, rng, q, order);
    if (opt_temp <= 0)
        return sample_argmax(logits, V);
    k->softmax(V, logits, (float)(1.0 / opt_temp));
    return sample_choose(logits, V, 1.0, (int)opt_topk, opt_topp, rng, q, order);
}

/* Window mode for n rows: x (n, T) the rows' last T characters, from wins (n, maxlen). */
static void pack_windows(int32_t *x, const int32_t *wins, int n, int maxlen, int T)
{
    for (int i = 0; i < n; i++)
        memcpy(x + (size_t)i * T, wins + (size_t)i * maxlen, (size_t)T * sizeof *x);
}

/* Row r's window (maxlen, of which len used) extended by c, into dst. */
static void slide(int32_t *dst, const int32_t *src, int len, int maxlen, int c)
{
    if (len < maxlen) {
        memmove(dst, src, (size_t)len * sizeof *dst);
        dst[len] = c;
    } else {
        memmove(dst, src + 1, (size_t)(maxlen - 1) * sizeof *dst);
        dst[maxlen - 1] = c;
    }
}

/* --count: cnt samples of n characters after their seeds, one batch; txt (cnt, seedlen + n)
 * holds each seed (already there) and receives the generated characters. */
static void gen_batch(const kern_ops *k, const model *m, int cnt, int *txt, int seedlen, long n,
                      rng_t *rngs)
{
    int V = m->dim.V, H = m->dim.H, L = m->dim.L, N = m->maxlen;
    size_t w = (size_t)seedlen + (size_t)n;
    float *lg = cli_alloc((size_t)cnt * V * sizeof(float));
    double *q = cli_malloc((size_t)V * sizeof *q);
    int *order = cli_malloc((size_t)V * sizeof *order), *x = cli_malloc((size_t)cnt * sizeof *x);
    if (opt_stateful) {
        size_t sz = (size_t)L * cnt * H * sizeof(float);
        float *h = cli_alloc(sz), *c = cli_alloc(sz);
        lstm_gen *g = lstm_gen_new_batch(k, &m->p, opt_f16, cnt);
        if (!g)
            cli_die("out of memory");
        for (size_t t = 0; t < w; t++) {
            if (t >= (size_t)seedlen)             /* the logits of the step before choose */
                for (int i = 0; i < cnt; i++)
                    txt[i * w + t] = choose(k, lg + (size_t)i * V, NULL, V, &rngs[i], q, order);
            if (t + 1 == w)
                break;
            for (int i = 0; i < cnt; i++)
                x[i] = txt[i * w + t];
            lstm_gen_step_batch(g, cnt, x, h, c, lg);
        }
        lstm_gen_free(g);
        free(h);
        free(c);
    } else {
        lstm_work *wk = lstm_work_new(m->dim, N, cnt);
        int32_t *wins = cli_malloc((size_t)cnt * N * sizeof *wins), *xb = cli_malloc((size_t)cnt * N * sizeof *xb);
        if (!wk)
            cli_die("out of memory");
        int wlen = seedlen < N ? seedlen : N;
        for (int i = 0; i < cnt; i++)
            for (int j = 0; j < wlen; j++)
                wins[(size_t)i * N + j] = txt[i * w + (size_t)(seedlen - wlen + j)];
        for (long t = 0; t < n; t++) {
            pack_windows(xb, wins, cnt, N, wlen);
            lstm_forward_batch(k, &m->p, wk, cnt, wlen, xb, NULL, lg);
            for (int i = 0; i < cnt; i++) {
                int ch = choose(k, NULL, lg + (size_t)i * V, V, &rngs[i], q, order);
                txt[i * w + (size_t)seedlen + (size_t)t] = ch;
                slide(wins + (size_t)i * N, wins + (size_t)i * N, wlen, N, ch);
            }
            if (wlen < N)
                wlen++;
        }
        lstm_work_free(wk);
        free(wins);
        free(xb);
    }
    free(lg);
    free(q);
    free(order);
    free(x);
}

/* --beam K: the K most probable continuations of n characters after the seed; on return
 * hist (K, n) holds them, best first, and score (K) their log-probabilities. Returns how
 * many there are: K, or fewer when there are fewer continuations (V^n < K). Stateful: the
 * beams' states (L, rows, H) step together (lstm_gen_step_batch); window mode: their windows
 * run as one batch. */
static int gen_beam(const kern_ops *k, const model *m, int K, const int *seed, int seedlen,
                    long n, int *hist, double *score)
{
    int V = m->dim.V, H = m->dim.H, L = m->dim.L, N = m->maxlen, rows = 1;
    float *lg = cli_alloc((size_t)K * V * sizeof(float));
    double *logp = cli_malloc((size_t)K * V * sizeof *logp), *nscore = cli_malloc((size_t)K * sizeof *nscore);
    int *parent = cli_malloc((size_t)K * sizeof *parent), *next = cli_malloc((size_t)K * sizeof *next);
    int *nhist = cli_malloc((size_t)K * (size_t)(n > 0 ? n : 1) * sizeof *nhist);
    lstm_gen *g = NULL;
    lstm_work *wk = NULL;
    float *h = NULL, *c = NULL, *h2 = NULL, *c2 = NULL;
    int32_t *wins = NULL, *wins2 = NULL, *xb = NULL;
    int wlen = seedlen < N ? seedlen : N;
    score[0] = 0;
    if (opt_stateful) {                           /* h, c (L, rows, H) */
        size_t sz = (size_t)L * K * H * sizeof(float);
        h = cli_alloc(sz), c = cli_alloc(sz), h2 = cli_alloc(sz), c2 = cli_alloc(sz);
        if (!(g = lstm_gen_new_batch(k, &m->p, opt_f16, K)))
            cli_die("out of memory");
        for (int t = 0; t < seedlen; t++)
            lstm_gen_step_batch(g, 1, &seed[t], h, c, lg);
    } else {
        if (!(wk = lstm_work_new(m->dim, N, K)))
            cli_die("out of memory");
        wins = cli_malloc((size_t)K * N * sizeof *wins);
        wins2 = cli_malloc((size_t)K * N * sizeof *wins2);
        xb = cli_malloc((size_t)K * N * sizeof *xb);
        for (int j = 0; j < wlen; j++)
            wins[j] = seed[seedlen - wlen + j];
    }
    for (long t = 0; t < n; t++) {
        if (opt_stateful)
            for (int r = 0; r < rows; r++)
                sample_log_softmax(lg + (size_t)r * V, V, logp + (size_t)r * V);
        else {
            pack_windows(xb, wins, rows, N, wlen);
            lstm_forward_batch(k, &m->p, wk, rows, wlen, xb, NULL, lg);
            for (size_t j = 0; j < (size_t)rows * V; j++)
                logp[j] = lg[j] > 0 ? log((double)lg[j]) : -INFINITY;
        }
        int kept = sample_beam_step(rows, V, score, logp, K, parent, next, nscore);
        if (kept < 1)
            cli_die("beam search: no continuation has a non-zero probability");
        for (int j = 0; j < kept; j++) {          /* the kept beams' histories and states */
            memcpy(nhist + (size_t)j * n, hist + (size_t)parent[j] * n, (size_t)t * sizeof *hist);
            nhist[(size_t)j * n + t] = next[j];
            score[j] = nscore[j];
            if (opt_stateful)
                for (int l = 0; l < L; l++) {
                    memcpy(h2 + ((size_t)l * kept + j) * H, h + ((size_t)l * rows + parent[j]) * H, H * sizeof(float));
                    memcpy(c2 + ((size_t)l * kept + j) * H, c + ((size_t)l * rows + parent[j]) * H, H * sizeof(float));
                }
            else
                slide(wins2 + (size_t)j * N, wins + (size_t)parent[j] * N, wlen, N, next[j]);
        }
        memcpy(hist, nhist, (size_t)kept * n * sizeof *hist);
        rows = kept;
        if (opt_stateful) {
            float *th = h, *tc = c;
            h = h2, c = c2, h2 = th, c2 = tc;
            if (t + 1 < n)
                lstm_gen_step_batch(g, rows, next, h, c, lg);
        } else {
            int32_t *tw = wins;
            wins = wins2, wins2 = tw;
            if (wlen < N)
                wlen++;
        }
    }
    lstm_gen_free(g);
    lstm_work_free(wk);
    free(h); free(c); free(h2); free(c2); free(wins); free(wins2); free(xb);
    free(lg); free(logp); free(nscore); free(parent); free(next); free(nhist);
    return n > 0 ? rows : 1;
}

/* --count, --json, --beam: generate, then write every sample (or beam). seed is the --seed
 * text (seedlen characters), or the character the first stream drew when none was given:
 * then every sample draws its own from its stream, as its single run would. */
static void batch_main(const kern_ops *k, const model *m, const int *seed, int seedlen,
                       uint64_t seed0)
{
    int cnt = opt_beam ? (int)opt_beam : (int)opt_count;
    size_t w = (size_t)seedlen + (size_t)opt_n;
    int *txt = cli_malloc((size_t)cnt * w * sizeof *txt);
    double *score = cli_malloc((size_t)cnt * sizeof *score);
    int shown = cnt;
    if (opt_beam) {
        int *hist = cli_malloc((size_t)cnt * (size_t)(opt_n > 0 ? opt_n : 1) * sizeof *hist);
        shown = gen_beam(k, m, cnt, seed, seedlen, opt_n, hist, score);
        for (int j = 0; j < shown; j++) {       /* (K, n) histories -> (K, seed + n) texts */
            memcpy(txt + j * w, seed, (size_t)seedlen * sizeof *txt);
            memcpy(txt + j * w + seedlen, hist + (size_t)j * opt_n, (size_t)opt_n * sizeof *txt);
        }
        free(hist);
        if (!opt_beam_all)
            shown = 1;
    } else {
        rng_t *rngs = cli_malloc((size_t)cnt * sizeof *rngs);
        sample_rng_streams(rngs, cnt, seed0);
        for (int i = 0; i < cnt; i++) {
            if (opt_seed_text)
                memcpy(txt + i * w, seed, (size_t)seedlen * sizeof *txt);
            else
                txt[i * w] = (int)rng_below(&rngs[i], (uint64_t)m->dim.V);
        }
        gen_batch(k, m, cnt, txt, seedlen, opt_n, rngs);
        free(rngs);
    }
    char *sep = unescape(opt_sep);
    for (int i = 0; i < shown; i++) {
        char head[96];
        if (opt_json && opt_beam)
            snprintf(head, sizeof head, "{\"beam\": %d, \"logprob\": %.9g, \"text\": \"", i, score[i]);
        else if (opt_json)
            snprintf(head, sizeof head, "{\"sample\": %d, \"text\": \"", i);
        else if (opt_beam_all)
            snprintf(head, sizeof head, "log-probability %.9g\n", score[i]);
        else
            head[0] = 0;
        if (i && !opt_json)
            out_bytes(sep, strlen(sep));
        out_bytes(head, strlen(head));
        out_text(m, txt + i * w, w, opt_json);
        if (opt_json)
            out_bytes("\"}\n", 3);
    }
    out_flush();
    if (otty && !opt_json && !m->byte_unit)
        (void)!write(1, "\n", 1);
    free(sep);
    free(txt);
    free(score);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_uses_kernels = 1;
    enum { O_STATEFUL = 256, O_WINDOW, O_RNG, O_SKIP, O_SEEDFILE, O_F16, O_SEP, O_JSON, O_BEAMALL };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "chars", 1, 0, 'n' }, { "seed", 1, 0, 's' }, { "seed-file", 1, 0, O_SEEDFILE },
        { "stateful", 0, 0, O_STATEFUL }, { "window", 0, 0, O_WINDOW }, { "f16", 0, 0, O_F16 },
        { "temperature", 1, 0, 't' }, { "top-k", 1, 0, 'k' }, { "top-p", 1, 0, 'p' },
        { "rng-seed", 1, 0, O_RNG }, { "skip-unknown", 0, 0, O_SKIP }, { "help", 0, 0, 'h' }, CLI_VERSION_OPTION,
        { "count", 1, 0, 'c' }, { "separator", 1, 0, O_SEP }, { "json", 0, 0, O_JSON },
        { "beam", 1, 0, 'b' }, { "beam-all", 0, 0, O_BEAMALL },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = cli_getopt(argc, argv, "m:n:s:t:k:p:c:b:h", longopts)) != -1) {
        switch (c) {
        case 'm': opt_model = cli_path("-m", optarg); break;
        case 'n': opt_n = cli_long("-n", optarg, 0, 1L << 40); break;
        case 's': opt_seed_text = optarg; opt_seed_file = NULL; break;
        case O_SEEDFILE: opt_seed_file = cli_path("--seed-file", optarg); opt_seed_text = NULL; break;
        case O_STATEFUL: opt_stateful = 1; break;
        case O_WINDOW: opt_stateful = 0; break;
        case O_F16: opt_f16 = 1; break;
        case 't': opt_temp = cli_double("-t", optarg, 0, 100); break;
        case 'k': opt_topk = cli_long("-k", optarg, 0, 1 << 21); break;
        case 'p': opt_topp = cli_double("-p", optarg, 1e-9, 1); break;
        case O_RNG: opt_rng_seed = cli_long("--rng-seed", optarg, 0, 0x7fffffffL); break;
        case O_SKIP: opt_skip = 1; break;
        case 'c': opt_count = cli_long("--count", optarg, 1, 1 << 16); break;
        case O_SEP: opt_sep = optarg; break;
        case O_JSON: opt_json = 1; break;
        case 'b': opt_beam = cli_long("--beam", optarg, 1, 1024); break;
        case O_BEAMALL: opt_beam_all = 1; break;
        case 'h': usage(); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt_model)
        cli_usage_error("a model is required (-m MODEL)");
    if (opt_beam && (opt_temp > 0 || opt_topk || opt_topp < 1))
        cli_usage_error("--beam chooses the most probable continuations: no -t, -k or -p");
    if (opt_beam && opt_count > 1)
        cli_usage_error("--beam writes the best continuation (all K with --beam-all), not --count samples");
    if (opt_beam_all && !opt_beam)
        cli_usage_error("--beam-all is for --beam K");
    out_input(opt_model, 0);
    out_input(opt_seed_file, 0);
    out_stdout(0);
    out_check(0);
    if (opt_seed_file)                /* (read once the output is checked) */
        opt_seed_text = read_seed_file(opt_seed_file);
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
    uint64_t seed0 = opt_rng_seed >= 0 ? (uint64_t)opt_rng_seed : (uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid();
    rng_seed(&rng, seed0);

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
    if (opt_stateful < 0)             /* char-rnn models carry their state: stateful is natural */
        opt_stateful = m.streams > 0;
    if (opt_f16 && !opt_stateful)
        cli_usage_error("--f16 is for --stateful generation");
    if (opt_beam || opt_count > 1 || opt_json) {
        batch_main(k, &m, seed, seedlen, seed0);
        free(seed);
        model_free(&m);
        return 0;
    }
    int V = m.dim.V, H = m.dim.H, N = m.maxlen;
    float *probs = cli_alloc((size_t)V * sizeof(float));
    double *q = cli_malloc((size_t)V * sizeof *q);
    int *order = cli_malloc((size_t)V * sizeof *order);
    for (int i = 0; i < seedlen; i++)
        out_char(&m, seed[i]);
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
