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

static gen_request rq;                 /* the options, as the generator takes them */
static const char *opt_model, *opt_adapt, *opt_seed_file, *opt_sep = "\n---\n", *opt_stop[256];
static size_t opt_stop_len[256];
static long opt_rng_seed = -1;
static int opt_stateful = -1, opt_json, opt_beam_all, opt_prompts;

static void usage(void)
{
    printf(
"NAME\n"
"    sample - generate text from a model trained by train\n\n"
"SYNOPSIS\n"
"    sample -m MODEL [-n CHARS] [--seed TEXT] [--stateful] [-t TEMP] [-k K] [-p P] [--stop STR]\n"
"           [--f16] [--rng-seed N] [--count N [--separator STR] [--json]]\n"
"    sample -m MODEL --beam K [--beam-all] [--json] [-n CHARS] [--seed TEXT] [--stop STR]\n"
"    sample -m MODEL --prompts [OPTIONS] < REQUESTS\n\n"
"DESCRIPTION\n"
"    Writes the seed followed by CHARS generated characters to stdout, as UTF-8 (bytes for a\n"
"    byte-level model), as they come (with --count, --json or --beam: when all are done).\n"
"    Window mode (the default) runs the last MAXLEN characters from a zero state for each\n"
"    next one, as the model was trained (the course's generator); --stateful carries the\n"
"    state instead: MAXLEN times less work, a text that differs and can drift. The next\n"
"    character is the most likely, or with -t drawn from p^(1/TEMP) renormalised, among the\n"
"    K most likely (-k) and the fewest whose probability reaches P (-p).\n\n"
"    --count N generates N samples together. Sample i draws from seed S + i (S: --rng-seed,\n"
"    else the clock): it is what 'sample --rng-seed S+i' writes, exactly with --stateful; in\n"
"    window mode exactly with CHARPIPE_KERNEL=scalar (vector kernels sum N rows in another\n"
"    order, which can change a near tie). --json writes {\"sample\": i, \"text\": \"...\"} lines\n"
"    (a byte-level model's bytes >= 0x80 as \\u0080..\\u00ff). --beam K keeps the K most\n"
"    probable continuations and writes the best, --beam-all all K after 'log-probability X'\n"
"    (natural log of the generated characters) or as {\"beam\": i, \"logprob\": X, \"text\": ..};\n"
"    deterministic, no -t -k -p; --beam 1 is greedy.\n\n"
"    --stop STR ends a sample where STR has just been generated (the seed is not searched);\n"
"    STR is not written. With --json, \"stop\" names it (null: none came). A beam that meets\n"
"    it is finished there, its log-probability counting STR.\n\n"
"    --prompts loads the model once and answers requests from stdin, a JSON object a line,\n"
"    each field optional (missing: the command line's value):\n"
"      {\"prompt\": \"ROMEO:\", \"n\": 200, \"temperature\": 0.8, \"top_k\": 40, \"top_p\": 0.9,\n"
"       \"seed\": 7, \"stop\": [\"\\n\\n\"], \"count\": 2, \"beam\": 0, \"id\": \"any\"}\n"
"    with a line each, flushed: {\"id\": .., \"seed\": 7, \"samples\": [{\"text\": \"ROMEO: ..\",\n"
"    \"completion\": \" ..\", \"stop\": \"\\n\\n\"}]} (text: what sample would write) or {\"id\": ..,\n"
"    \"line\": N, \"error\": \"..\"}. The end of stdin ends it.\n\n"
"OPTIONS\n"
"    -m, --model FILE    the model (required)\n"
"    -n, --chars N       characters to generate (default %ld)\n"
"    -s, --seed TEXT     the seed text (default: one character drawn from the vocabulary)\n"
"        --seed-file F   the seed text is file F's bytes\n"
"        --adapt F       first adapt the model to the text of file F: dynamic evaluation over\n"
"                        it (evaluate --dynamic's defaults), its weights then generate\n"
"        --stateful      carry the state (the default for models of train --streams)\n"
"        --window        the sliding-window generator (the default otherwise)\n"
"        --f16           with --stateful: half-precision weights, about 1.3x faster\n"
"    -t, --temperature T sample at temperature T; 0 = greedy (default %g)\n"
"    -k, --top-k K       among the K most likely characters; 0 = all (default 0)\n"
"    -p, --top-p P       among the most likely whose total reaches P (default 1)\n"
"        --stop STR      end a sample at STR, not written (repeatable)\n"
"        --rng-seed N    seed the sampling RNG (default: from the clock)\n"
"    -c, --count N       N samples in one batch (default 1)\n"
"        --separator STR between samples (default '\\n---\\n')\n"
"        --json          one JSON line per sample (with --count or --beam-all)\n"
"    -b, --beam K        beam search with K beams (1..1024)\n"
"        --beam-all      with --beam: write all K beams and their log-probabilities\n"
"        --prompts       answer JSON-line requests from stdin\n"
"        --skip-unknown  drop seed characters outside the vocabulary, with a warning\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n"
"    In --stop and --separator, \\n, \\t and \\\\ stand for a newline, a tab, a backslash.\n\n"
"EXAMPLE\n"
"    sample -m model --seed \"that, poor contempt, or claim'd thou sle\" -n 500 -t 0.5\n"
"    sample -m model --stateful --seed \"ROMEO:\" -n 200 -t 0.8 --count 8 --json --stop '\\n\\n'\n"
"    echo '{\"prompt\": \"ROMEO:\", \"n\": 60, \"seed\": 1}' | sample -m model --prompts\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage. A closed output pipe ends it quietly.\n",
        rq.n, rq.o.temperature);
}

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

static void so_json_str(const char *s, size_t n, int flags)
{
    char *e = cli_malloc(CODEC_JSON_MAX(n) + 1);
    so_bytes("\"", 1);
    so_bytes(e, codec_json(e, s, n, flags));
    so_bytes("\"", 1);
    free(e);
}

/* --count, --beam, --json: every sample (or beam), when all are done. */
static void so_results(const gen_result *res, const model *m)
{
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
        so_json_str(t->text, t->len, m->byte_unit ? CODEC_JSON_BYTES : 0);
        if (rq.nstop && t->stop) {
            so_bytes(", \"stop\": ", 10);
            so_json_str(rq.stop[t->stop - 1], rq.stop_len[t->stop - 1], m->byte_unit ? CODEC_JSON_BYTES : 0);
        }
        so_bytes(rq.nstop && !t->stop ? ", \"stop\": null}\n" : "}\n", rq.nstop && !t->stop ? 16 : 2);
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
    for (ssize_t k; (k = read(fd, s + n, cap - n)) != 0; n += k > 0 ? (size_t)k : 0) {
        if (k < 0 && errno != EINTR)
            cli_die("--seed-file: %s: read failed: %s", path, strerror(errno));
        if (n + 1 >= cap)
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
        case 'h': usage(); return 0;
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
