/* sample - generate text from a trained model: options, I/O and the output formats over
 * lib/generate.h (the generator) and lib/prompts.h (--prompts). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "output.h"
#include "codec.h"
#include "dynamic.h"
#include "generate.h"
#include "model.h"
#include "prompts.h"
#include "sample_help.h"

static gen_request rq;                 /* the options, as the generator takes them */
static const char *opt_model, *opt_adapt, *opt_seed_file, *opt_sep = "\n---\n", *opt_stop[256];
static size_t opt_stop_len[256];
static long opt_rng_seed = -1;
static int opt_stateful = -1, opt_json, opt_beam_all, opt_prompts;

/* ---- output: stdout, written as it comes, flushed at least every 50 ms (on a tty: each
 * character); a closed pipe ends the program quietly, as a filter killed by SIGPIPE ---- */
static int otty;
static double olast;

static void so_open(void)
{
    signal(SIGPIPE, SIG_IGN);                /* EPIPE then ends us, see so_fail */
    setvbuf(stdout, NULL, _IOFBF, 1 << 14);
    otty = isatty(1);
    olast = cli_now();
}

static void so_fail(void)
{
    if (errno == EPIPE) {                    /* the reader has gone: as SIGPIPE would, so that */
        signal(SIGPIPE, SIG_DFL);            /* a pipefail pipeline does not report success */
        raise(SIGPIPE);
        _exit(141);
    }
    cli_die("stdout: write failed: %s", strerror(errno));
}

static void so_bytes(const void *p, size_t n)
{
    if (fwrite(p, 1, n, stdout) != n)
        so_fail();
}

static void so_flush(void)
{
    if (fflush(stdout) != 0)
        so_fail();
    olast = cli_now();
}

/* One sample, streamed. */
static int so_stream(void *ctx, int row, const char *s, size_t n)
{
    so_bytes(s, n);
    if (otty || cli_now() - olast > 0.05)
        so_flush();
    return (void)ctx, (void)row, 0;
}

/* s[0..n) as a JSON string, after the bytes of before */
static void so_json_str(const char *before, const char *s, size_t n, int flags)
{
    char *e = cli_malloc(CODEC_JSON_MAX(n) + 1);
    printf("%s\"", before);
    so_bytes(e, codec_json(e, s, n, flags));
    so_bytes("\"", 1);
    free(e);
}

/* --count, --beam, --json: every sample (or beam), when all are done. */
static void so_results(const gen_result *res, const model *m)
{
    int bytes = m->byte_unit ? CODEC_JSON_BYTES : 0;
    for (int i = 0; i < (opt_beam_all || !rq.beam ? res->n : 1); i++) {
        const gen_result_text *t = &res->t[i];
        if (!opt_json) {
            if (i)
                so_bytes(opt_sep, strlen(opt_sep));
            if (opt_beam_all)
                printf("log-probability %.9g\n", t->logprob);
            so_bytes(t->text, t->len);
            continue;
        }
        printf(rq.beam ? "{\"beam\": %d, \"logprob\": %.9g, \"text\": " : "{\"sample\": %d, \"text\": ", i, t->logprob);
        so_json_str("", t->text, t->len, bytes);
        if (rq.nstop && t->stop)
            so_json_str(", \"stop\": ", rq.stop[t->stop - 1], rq.stop_len[t->stop - 1], bytes);
        printf("%s}\n", rq.nstop && !t->stop ? ", \"stop\": null" : "");
    }
}

/* --prompts: a request a line, an answer a line, flushed. */
static void serve(const model *m, const codec *cd)
{
    prompts p = { .k = cli_kernels(), .m = m, .cd = cd, .base = rq };
    char *line = NULL;
    size_t cap = 0;
    for (long lineno = 1, n; (n = prompts_read_line(stdin, &line, &cap)) != -1; lineno++) {
        if (n < 0)
            cli_die("stdin: read failed: %s", strerror(errno));
        if (opt_rng_seed < 0)                /* a request without a seed: one from the clock */
            p.base.o.seed = ((uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid()) & 0x7fffffff;
        if (prompts_answer(&p, line, (size_t)n, lineno) < 0)
            cli_die("out of memory");
        so_bytes(p.out, p.len);
        so_flush();
    }
    free(line);
    prompts_free(&p);
}

/* --separator and --stop: \n, \t and \\ replaced. */
static char *unescape(const char *s, size_t *len)
{
    char *o = cli_malloc(strlen(s) + 1), *q = o;
    for (; *s; s++)
        *q++ = *s == '\\' && strchr("nt\\", s[1]) && s[1] ? (++s, *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\') : *s;
    *q = 0;
    if (len)
        *len = (size_t)(q - o);
    return o;
}

/* --seed-file: the file's bytes, all of them (a NUL is a character like any other). */
static void read_seed_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0)
        cli_die("--seed-file: %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        cli_die("--seed-file: %s: is a directory, not a file", path);
    size_t cap = 4096, n = 0;
    char *s = cli_malloc(cap);
    for (ssize_t k; (k = read(fd, s + n, cap - n)) != 0; ) {
        if (k < 0 && errno != EINTR)
            cli_die("--seed-file: %s: read failed: %s", path, strerror(errno));
        if ((n += k > 0 ? (size_t)k : 0) == cap)
            s = cli_realloc(s, cap *= 2);
    }
    close(fd);
    rq.prompt = s;
    rq.prompt_len = n;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_uses_kernels = 1;
    rq = gen_request_defaults();
    rq.prompt_label = "--seed";
    enum { O_STATEFUL = 256, O_WINDOW, O_RNG, O_SKIP, O_SEEDFILE, O_F16, O_SEP, O_JSON, O_BEAMALL,
           O_STOP, O_PROMPTS, O_ADAPT };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "chars", 1, 0, 'n' }, { "seed", 1, 0, 's' }, { "seed-file", 1, 0, O_SEEDFILE },
        { "stateful", 0, 0, O_STATEFUL }, { "window", 0, 0, O_WINDOW }, { "f16", 0, 0, O_F16 },
        { "temperature", 1, 0, 't' }, { "top-k", 1, 0, 'k' }, { "top-p", 1, 0, 'p' },
        { "rng-seed", 1, 0, O_RNG }, { "skip-unknown", 0, 0, O_SKIP }, { "help", 0, 0, 'h' }, CLI_VERSION_OPTION,
        { "count", 1, 0, 'c' }, { "separator", 1, 0, O_SEP }, { "json", 0, 0, O_JSON },
        { "beam", 1, 0, 'b' }, { "beam-all", 0, 0, O_BEAMALL }, { "stop", 1, 0, O_STOP },
        { "prompts", 0, 0, O_PROMPTS }, { "adapt", 1, 0, O_ADAPT }, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = cli_getopt(argc, argv, "m:n:s:t:k:p:c:b:h", longopts)) != -1) {
        switch (c) {
        case 'm': opt_model = cli_path("-m", optarg); break;
        case 'n': rq.n = cli_long("-n", optarg, 0, 1L << 40); break;
        case 's': rq.prompt = optarg, rq.prompt_len = strlen(optarg); opt_seed_file = NULL; break;
        case O_SEEDFILE: opt_seed_file = cli_path("--seed-file", optarg); rq.prompt = NULL; break;
        case O_STATEFUL: opt_stateful = 1; break;
        case O_WINDOW: opt_stateful = 0; break;
        case O_F16: rq.o.half = 1; break;
        case 't': rq.o.temperature = cli_double("-t", optarg, 0, 100); break;
        case 'k': rq.o.top_k = (int)cli_long("-k", optarg, 0, 1 << 21); break;
        case 'p': rq.o.top_p = cli_double("-p", optarg, 1e-9, 1); break;
        case O_RNG: opt_rng_seed = cli_long("--rng-seed", optarg, 0, 0x7fffffffL); break;
        case O_SKIP: rq.skip_unknown = 1; break;
        case 'c': rq.count = (int)cli_long("--count", optarg, 1, 1 << 16); break;
        case O_SEP: opt_sep = unescape(optarg, NULL); break;
        case O_JSON: opt_json = 1; break;
        case 'b': rq.beam = (int)cli_long("--beam", optarg, 1, 1024); break;
        case O_BEAMALL: opt_beam_all = 1; break;
        case O_STOP:
            if (!*optarg || rq.nstop == 256)
                cli_usage_error("--stop: %s", *optarg ? "at most 256 stop strings" : "an empty string");
            opt_stop[rq.nstop] = unescape(optarg, &opt_stop_len[rq.nstop]), rq.nstop++;
            break;
        case O_PROMPTS: opt_prompts = 1; break;
        case O_ADAPT: opt_adapt = cli_path("--adapt", optarg); break;
        case 'h': usage(&rq); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    rq.stop = opt_stop, rq.stop_len = opt_stop_len;
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt_model)
        cli_usage_error("a model is required (-m MODEL)");
    if (rq.beam && (rq.o.temperature > 0 || rq.o.top_k || rq.o.top_p < 1))
        cli_usage_error("--beam chooses the most probable continuations: no -t, -k or -p");
    if (rq.beam && rq.count > 1)
        cli_usage_error("--beam writes the best continuation (all K with --beam-all), not --count samples");
    if (opt_beam_all && !rq.beam)
        cli_usage_error("--beam-all is for --beam K");
    if (opt_prompts && (opt_json || opt_beam_all))
        cli_usage_error("--prompts answers in JSON lines of its own: no --json or --beam-all");
    out_input(opt_model, 0);
    out_input(opt_seed_file, 0);
    out_input(opt_adapt, 0);
    if (opt_prompts)
        out_input_fd(0, "stdin", 0);
    out_stdout(0);
    out_check(0);
    if (opt_seed_file)                /* (read once the output is checked) */
        read_seed_file(opt_seed_file);
    if ((rq.o.top_k || rq.o.top_p < 1) && rq.o.temperature == 0 && !opt_prompts)
        cli_warn("-k and -p take effect only with a temperature (-t); generating greedily");

    model m;
    codec cd;
    char err[512];
    if (model_read(&m, NULL, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (codec_init(&cd, m.vocab, m.dim.V, m.byte_unit, m.lower, err, sizeof err) < 0)
        cli_die("%s: %s", opt_model, err);
    dyn_opts adapt;                   /* --adapt: the weights adapted to a text (lib/dynamic.h) */
    double adapt_nats;
    uint64_t adapt_skipped;
    dyn_opts_init(&adapt);
    if (opt_adapt && dyn_adapt_file(cli_kernels(), &m, opt_adapt, &adapt, &adapt_nats, &adapt_skipped, err, sizeof err) < 0)
        cli_die("--adapt: %s", err);
    rq.o.stateful = opt_stateful < 0 ? m.streams > 0 : opt_stateful;  /* char-rnn models: stateful */
    if (rq.o.half && !rq.o.stateful)
        cli_usage_error("--f16 is for --stateful generation");
    rq.o.seed = opt_rng_seed >= 0 ? (uint64_t)opt_rng_seed : (uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid();
    so_open();
    if (opt_prompts)
        serve(&m, &cd);
    else {
        int batch = rq.beam || rq.count > 1 || opt_json;
        gen_result res;
        int rc = gen_text(cli_kernels(), &m, &cd, &rq, batch ? NULL : so_stream, NULL, &res, err, sizeof err);
        if (rc < 0)
            cli_die("%s%s", err, rc == GEN_EUNKNOWN ? " (--skip-unknown drops it)" : "");
        if (batch)
            so_results(&res, &m);
        so_flush();
        if (otty && !opt_json && !m.byte_unit)
            (void)!write(1, "\n", 1);
        if (res.skipped)
            cli_warn("dropped %llu seed character%s outside the vocabulary", (unsigned long long)res.skipped,
                     res.skipped > 1 ? "s" : "");
        if (res.stops_unused)
            cli_warn("%d --stop string%s a character outside the vocabulary: never met", res.stops_unused,
                     res.stops_unused > 1 ? "s hold" : " holds");
        gen_result_free(&res);
    }
    model_free(&m);
    return 0;
}
