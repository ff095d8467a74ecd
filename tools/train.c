/* train - train a character-level LSTM on a window stream (the Keras course's model), or on
 * the text itself cut into parallel streams with the state carried (char-rnn). The run is
 * lib/run.h's: this file holds the options, the files, the screen and the signals. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "model.h"
#include "optim.h"
#include "output.h"
#include "run.h"
#include "train_help.h"
#include "train_mpi.h"

int mp_rank = 0, mp_size = 1;          /* train_mpi.h: alone unless under mpirun */

/* ---- options: the run's (train_opts), and the files and the screen ---- */
static train_opts o;
static const char *opt_out, *opt_resume, *opt_init, *opt_log, *opt_best, *opt_input;
static int opt_summary, opt_quiet, opt_progress = -1, opt_V, opt_force, opt_json;
static long opt_sample_chars = 200;
static const char *opt_sample_temps = "0.2,0.5,1.0,1.2", *opt_sample_seed;
static double stemps[16];             /* --sample-temps */
static int nstemps;

static char input[1024];              /* this rank's --input file (with %d: the rank's) */
static model m, init_m;               /* the model being trained; --init's */
static train_state st;                /* its training state (written by lib/run.c alone) */

/* The options, as tools/cli.h's cli_options reads them; those with an O_ key are read below. */
enum { O_SCHED = 256, O_CELL, O_SEVERY, O_CKPT, O_PRINT, O_LOGFMT, O_PRECISION, O_STARTS };
static const cli_opt opts[] = {
    { "epochs", 'e', CLI_INT, &o.epochs, 0, 1000000, TRAIN_GIVEN_EPOCHS },
    { "hidden", 'H', CLI_INT, &o.hidden, 1, 8192, TRAIN_GIVEN_HIDDEN },
    { "layers", 'L', CLI_INT, &o.layers, 1, LSTM_MAX_LAYERS, TRAIN_GIVEN_LAYERS },
    { "batch", 'b', CLI_INT, &o.batch, 1, 1 << 20, TRAIN_GIVEN_BATCH },
    { "lr", 0, CLI_DOUBLE, &o.lr, 0, 10, TRAIN_GIVEN_LR },
    { "val", 0, CLI_DOUBLE, &o.val, 0, 0.99, TRAIN_GIVEN_VAL },
    { "clip", 0, CLI_DOUBLE, &o.clip, 0, 1e9, TRAIN_GIVEN_CLIP },
    { "seed", 0, CLI_LONG, &o.seed, 0, 0x7fffffffL, TRAIN_GIVEN_SEED },
    { "threads", 'j', CLI_INT, &o.threads, 1, 256, 0 },
    { "output", 'o', CLI_PATH, &opt_out, 0, 0, 0 },
    { "resume", 0, CLI_PATH, &opt_resume, 0, 0, 0 },
    { "log", 0, CLI_PATH, &opt_log, 0, 0, 0 },
    { "summary", 0, CLI_SET, &opt_summary, 0, 0, 0 },
    { "progress", 0, CLI_SET, &opt_progress, 0, 0, 0 },
    { "no-progress", 0, CLI_CLEAR, &opt_progress, 0, 0, 0 },
    { "max-batches", 0, CLI_LONG, &o.max_batches, 1, 1L << 40, 0 },
    { "streams", 0, CLI_SET, &o.streams, 0, 0, 0 },
    { "dropout", 0, CLI_DOUBLE, &o.dropout, 0, 0.95, TRAIN_GIVEN_DROPOUT },
    { "schedule", O_SCHED, CLI_ARG, NULL, 0, 0, TRAIN_GIVEN_SCHEDULE },
    { "decay-rate", 0, CLI_DOUBLE, &o.decay_rate, 0, 1, TRAIN_GIVEN_DECAY_RATE },
    { "decay-every", 0, CLI_INT, &o.decay_every, 1, 1000000, TRAIN_GIVEN_DECAY_EVERY },
    { "eval-every", 0, CLI_LONG, &o.eval_every, 1, 1L << 40, 0 },
    { "best", 0, CLI_PATH, &opt_best, 0, 0, 0 },
    { "max-seconds", 0, CLI_DOUBLE, &o.max_seconds, 0.001, 1e9, TRAIN_GIVEN_MAX_SECONDS },
    { "cell", O_CELL, CLI_ARG, NULL, 0, 0, TRAIN_GIVEN_CELL },
    { "input", 0, CLI_PATH, &opt_input, 0, 0, 0 },
    { "init", 0, CLI_PATH, &opt_init, 0, 0, 0 },
    { "help", 'h', CLI_NOARG, NULL, 0, 0, 0 },
    { "version", CLI_OPT_VERSION, CLI_NOARG, NULL, 0, 0, 0 },  /* (cli_getopt answers it) */
    { "sample-every", O_SEVERY, CLI_ARG, NULL, 0, 0, 0 },
    { "sample-temps", 0, CLI_STR, &opt_sample_temps, 0, 0, 0 },
    { "sample-chars", 0, CLI_LONG, &opt_sample_chars, 1, 1 << 20, 0 },
    { "sample-seed", 0, CLI_STR, &opt_sample_seed, 0, 0, 0 },
    { "weight-drop", 0, CLI_DOUBLE, &o.weight_drop, 0, 0.95, TRAIN_GIVEN_WEIGHT_DROP },
    { "locked-dropout", 0, CLI_DOUBLE, &o.locked_dropout, 0, 0.95, TRAIN_GIVEN_LOCKED_DROPOUT },
    { "input-dropout", 0, CLI_DOUBLE, &o.input_dropout, 0, 0.95, TRAIN_GIVEN_INPUT_DROPOUT },
    { "weight-decay", 0, CLI_DOUBLE, &o.weight_decay, 0, 10, TRAIN_GIVEN_WEIGHT_DECAY },
    { "warmup", 0, CLI_LONG, &o.warmup, 0, 1L << 40, TRAIN_GIVEN_WARMUP },
    { "checkpoint-every", O_CKPT, CLI_ARG, NULL, 0, 0, 0 },
    { "continue", 0, CLI_SET, &o.same_ok, 0, 0, 0 },
    { "print-every", O_PRINT, CLI_ARG, NULL, 0, 0, 0 },
    { "log-format", O_LOGFMT, CLI_ARG, NULL, 0, 0, 0 },
    { "precision", O_PRECISION, CLI_ARG, NULL, 0, 0, 0 },
    { "stream-starts", O_STARTS, CLI_ARG, NULL, 0, 0, TRAIN_GIVEN_STREAM_STARTS },
    { "ema", 0, CLI_DOUBLE, &o.ema, 0, 0.999999, TRAIN_GIVEN_EMA },
    { "quiet", 'q', CLI_SET, &opt_quiet, 0, 0, 0 },
    { "force", 'f', CLI_SET, &opt_force, 0, 0, 0 },
    { NULL, 'V', CLI_INT, &opt_V, 1, 65536, 0 },
    { NULL, 'n', CLI_INT, &o.steps, 1, 100000, TRAIN_GIVEN_STEPS },
};

static void parse_options(int argc, char **argv)
{
    int c;
    unsigned g = 0;
    while ((c = cli_options(argc, argv, opts, sizeof opts / sizeof *opts, &g)) != -1) {
        switch (c) {
        case O_SCHED:
            if (!schedule_known(optarg))
                cli_usage_error("--schedule: '%s' is not none, cosine or step", optarg);
            snprintf(o.schedule, sizeof o.schedule, "%s", optarg);
            break;
        case O_CELL:
            if ((o.cell = cell_parse(optarg)) < 0)
                cli_usage_error("--cell: '%s' is not lstm, gru or lnlstm", optarg);
            break;
        case O_SEVERY:
            o.sample_every = strcmp(optarg, "epoch") ? cli_long("--sample-every", optarg, 0, 1L << 40) : 0;
            break;
        case O_CKPT: cli_every("--checkpoint-every", optarg, &o.checkpoint_every, &o.checkpoint_seconds); break;
        case O_PRINT: cli_every("--print-every", optarg, &o.print_every, &o.print_seconds); break;
        case O_LOGFMT:
            if (strcmp(optarg, "tsv") && strcmp(optarg, "json"))
                cli_usage_error("--log-format: '%s' is not tsv or json", optarg);
            opt_json = !strcmp(optarg, "json");
            break;
        case O_PRECISION:
            if ((o.precision = lstm_precision_parse(optarg)) < 0)
                cli_usage_error("--precision: '%s' is not fp32 or bf16", optarg);
            break;
        case O_STARTS:
            if ((o.random_starts = starts_parse(optarg)) < 0)
                cli_usage_error("--stream-starts: '%s' is not fixed or random", optarg);
            break;
        case 'h': usage(&o); exit(0);
        }
    }
    o.given = g;
    if (opt_V && !opt_summary)
        cli_usage_error("-V %d: the vocabulary size is for --summary (training takes it from the stream)", opt_V);
    o.resume = opt_resume != NULL, o.init = opt_init != NULL, o.output = opt_out != NULL;
    char err[256];
    if (train_opts_check(&o, err, sizeof err) < 0)
        cli_usage_error("%s", err);
    if (o.sample_every >= 0) {        /* --sample-temps: a list of at most 16 */
        char *list = strcpy(cli_malloc(strlen(opt_sample_temps) + 1), opt_sample_temps), *at;
        for (char *t = strtok_r(list, ",", &at); t; t = strtok_r(NULL, ",", &at)) {
            if (nstemps == 16)
                cli_usage_error("--sample-temps: at most 16 temperatures");
            stemps[nstemps++] = cli_double("--sample-temps", t, 0, 100);
        }
        if (!nstemps)
            cli_usage_error("--sample-temps: no temperature in '%s'", opt_sample_temps);
        free(list);
    }
    if (opt_input) {                  /* at most one %d, no other conversion */
        const char *pc = strchr(opt_input, '%');
        if (pc && (pc[1] != 'd' || strchr(pc + 2, '%')))
            cli_usage_error("--input: '%s' may hold one %%d (the rank) and no other %%", opt_input);
        if (pc && !o.streams)
            cli_usage_error("--input: shards (%%d) are for --streams; windows come whole to every rank");
    }
}

static void summary_only(void)
{
    int V = opt_V, N = o.steps;
    char err[512];
    if (!V || !N) {                   /* the vocabulary and the first x, read as train reads them */
        if (isatty(0))
            cli_usage_error("--summary needs -V and -n, or a window stream on stdin");
        ts_reader *r = cli_reader_open(0, "stdin");
        if (dataset_dims(r, "stdin", &V, &N, err, sizeof err) < 0)
            cli_die("%s", err);
        ts_reader_close(r);
    }
    model_summary(stdout, (lstm_dims){ V, o.hidden, o.layers, o.cell }, N, o.streams);
}

/* ---- outputs: checked before the input is read; the model written atomically ---- */

/* Every output can be written and is none of the inputs, before any time goes to the input
 * (rank 0 writes; its input is stdin or its --input file). */
static void check_outputs(void)
{
    if (opt_input)
        out_input(input, 0);
    else
        out_input_fd(0, "stdin", 0);  /* (a terminal: refused below, with a hint) */
    out_input(opt_resume, OUT_READ_FIRST);   /* --resume F -o F replaces F */
    out_input(opt_init, 0);
    if (!opt_out && !o.max_batches)
        out_stdout(OUT_BINARY);
    out_path("-o", opt_out, OUT_BINARY);
    out_path("--best", opt_best, OUT_BINARY);
    out_path("--log", opt_log, OUT_APPEND);
    out_check(opt_force);
}

/* The model to path (NULL: stdout), read back before it replaces the file. */
static void save(const char *path)
{
    char err[1024];
    out_file of = { .fd = 1 };
    if (path && out_open(&of, path) < 0)
        cli_die("%s: cannot write: %s", path, strerror(errno));
    if (train_save(&m, &st, of.fd, path, of.tmp, err, sizeof err) < 0) {
        if (path)
            out_abort(&of);
        cli_die("%s", err);
    }
    if (path && out_commit(&of) < 0)
        cli_die("%s: cannot replace: %s", path, strerror(errno));
}

static int save_hook(void *ctx, int what)
{
    (void)ctx;
    save(what == TRAIN_SAVE_BEST ? opt_best : what == TRAIN_SAVE_CHECKPOINT ? opt_out : NULL);
    return 0;
}

/* One line of the loss log (--log), as lib/run.h writes it. */
static void log_hook(void *ctx, double epoch, double tl, double vl, double secs, double rate)
{
    char line[1024];
    int fd = out_open_append(opt_log);
    if (fd < 0)
        cli_die("%s: %s", opt_log, strerror(errno));
    int n = train_log_line(line, sizeof line, opt_json, lseek(fd, 0, SEEK_END) == 0,
                           m.streams ? "chars" : "windows", epoch, tl, vl, secs, rate);
    if (write(fd, line, (size_t)n) != n || close(fd) < 0)
        cli_die("%s: write failed: %s", opt_log, strerror(errno));
    (void)ctx;
}

/* --sample-every: the samples at this point of training, one per temperature */
static train_samples samples;

static void sample_hook(void *ctx, double at)
{
    char err[256];
    if (opt_progress)
        fputc('\n', stderr);
    for (int i = 0; i < nstemps; i++) {
        fprintf(stderr, "%s: sample at epoch %.2f, temperature %g:\n", cli_prog, at, stemps[i]);
        if (train_sample(&samples, cli_kernels(), &m, &st, stemps[i], opt_sample_chars, stderr, err, sizeof err) < 0)
            cli_die("%s", err);
        fputc('\n', stderr);
    }
    fflush(stderr);
    (void)ctx;
}

/* ---- the screen: a bar on a terminal, else lines ---- */
static void validating_hook(void *ctx, double done, double elapsed)
{
    cli_bar_validating(done, elapsed);
    (void)ctx;
}

/* The epoch as "E/LIMIT", or "E" when the run has no limit in epochs. */
static const char *epoch_of(char *buf, size_t cap, const train_status *s)
{
    int n = snprintf(buf, cap, "%lld", (long long)s->epoch);
    if (s->epoch_limit >= 0)
        snprintf(buf + n, cap - n, "/%lld", (long long)s->epoch_limit);
    return buf;
}

/* --print-every: a line, when the bar is off */
static void print_line(const train_status *s, const char *unit)
{
    char ep[48], e[32], r[32] = "";
    cli_hms(e, sizeof e, s->eta_epoch);
    if (s->eta_run >= 0)
        cli_hms(r, sizeof r, s->eta_run);
    fprintf(stderr, "%s: epoch %s, batch %ld/%ld: loss %.4f, %.0f %s/s, ETA %s%s%s%s\n", cli_prog,
            epoch_of(ep, sizeof ep, s), s->batch, s->nbatches, s->loss, s->rate, unit, e, *r ? " (run " : "", r,
            *r ? ")" : "");
}

/* --max-batches: the speed of the batches this process trained. */
static void bench_report(const train_status *s, const char *unit)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double w = (double)s->run_steps * st.batch * (m.streams ? m.maxlen : 1);
    fprintf(stderr, "%s: benchmark: %ld batches of %d, %.0f %s in %.3fs: %.1f %s/s, loss %.4f, peak RSS %.1f MB%s\n",
            cli_prog, s->run_steps, st.batch, w, unit, s->step_seconds, w / s->step_seconds, unit, s->loss,
            ru.ru_maxrss / 1024.0, opt_out ? "" : " (no model written: give -o to keep it)");
}

static void progress_hook(void *ctx, train_event ev, const train_status *s)
{
    (void)ctx;
    const char *unit = m.streams ? "chars" : "windows", *sig = s->request & TRAIN_REQ_TERMINATE ? "terminated" : "interrupted";
    char ep[48];
    cli_bar_clear();                  /* the validation's bar */
    switch (ev) {
    case TRAIN_EV_NOTHING:
        cli_warn("the model has %lld epochs and %.0fs of training already; nothing to train (raise -e or --max-seconds)",
                 (long long)s->epoch, s->train_seconds);
        break;
    case TRAIN_EV_EPOCH_BEGIN:
        if (opt_progress)
            fprintf(stderr, "Epoch %s\n", epoch_of(ep, sizeof ep, s));
        break;
    case TRAIN_EV_PRINT:
        if (!opt_progress)
            print_line(s, unit);
        break;
    case TRAIN_EV_STEP:
        if (opt_progress)
            cli_bar(s->batch, s->nbatches, s->eta_epoch, s->eta_run, s->loss, s->rate, 0, 0, unit);
        break;
    case TRAIN_EV_MAX_BATCHES: bench_report(s, unit); break;
    case TRAIN_EV_STOPPING:
        if (opt_progress)
            fputc('\n', stderr);
        break;
    case TRAIN_EV_VALIDATED:
        if (!opt_progress)
            fprintf(stderr, "%s: epoch %.2f: loss %.4f, val_loss %.4f\n", cli_prog, s->at, s->loss, s->val_loss);
        break;
    case TRAIN_EV_EPOCH_END:
        if (opt_progress)
            cli_bar(s->nbatches, s->nbatches, s->seconds, -1, s->loss, s->rate, 1, s->val_loss, unit);
        else
            fprintf(stderr, "%s: epoch %s: loss %.4f, val_loss %.4f, %.1fs, %.0f %s/s\n", cli_prog,
                    epoch_of(ep, sizeof ep, s), s->loss, s->val_loss, s->seconds, s->rate, unit);
        break;
    case TRAIN_EV_BUDGET_SPENT:
        fprintf(stderr, "%s: time budget of %.0fs spent at epoch %lld batch %ld/%ld: loss %.4f, val_loss %.4f\n",
                cli_prog, s->horizon_seconds, (long long)s->epoch, s->batch, s->nbatches, s->loss, s->val_loss);
        break;
    case TRAIN_EV_BUDGET_END:
        fprintf(stderr, "%s: time budget of %.0fs spent at the end of epoch %lld\n", cli_prog,
                s->horizon_seconds, (long long)s->epoch);
        break;
    case TRAIN_EV_CHECKPOINT:         /* (those asked for by SIGUSR1 are said) */
        if (s->request && s->saved)
            fprintf(stderr, "%s: SIGUSR1: checkpoint at epoch %lld, batch %ld/%ld saved to %s\n", cli_prog,
                    (long long)s->epoch, s->batch, s->nbatches, opt_out);
        else if (s->request)
            cli_warn("SIGUSR1: no checkpoint written (use -o FILE to keep checkpoints)");
        break;
    case TRAIN_EV_STOPPED:
        if (s->saved)
            cli_warn("%s: checkpoint at epoch %lld, batch %ld/%ld saved to %s (continue with --resume)",
                     sig, (long long)s->epoch, s->batch, s->nbatches, opt_out);
        else
            cli_warn("%s: no model written (use -o FILE to keep checkpoints)", sig);
        break;
    }
}

/* What the run is about to do: the data, the model, the processes. */
static void report_start(const dataset *d, const trainer *tr, const kern_ops *k, double t_read)
{
    train_info ti;
    trainer_info(tr, &ti);
    if (m.streams)
        fprintf(stderr, "%s: %zu characters (%zu for training in %d streams of %zu, %zu held out), read in %.1fs\n",
                cli_prog, d->tn, ti.ntrain, m.streams, ti.per_stream, ti.nval, t_read);
    else
        fprintf(stderr, "%s: %zu windows of %d (%zu for training, %zu for validation), %.1f MB in memory, read in %.1fs\n",
                cli_prog, d->n, d->N, ti.ntrain, ti.nval, (dataset_bytes(d) + ti.ntrain * 4.0) / 1e6, t_read);
    model_summary(stderr, m.dim, m.maxlen, m.per_position);
    char ranks[32] = "";
    if (mp_size > 1)
        snprintf(ranks, sizeof ranks, "%d ranks of ", mp_size);
    fprintf(stderr, "%s: kernels %s%s, %s%d thread%s, batch %d, %s\n", cli_prog, k->name,
            o.precision == LSTM_BF16 ? " (bf16 products)" : "", ranks, o.threads,
            o.threads > 1 ? "s" : "", st.batch, opt_resume ? "resuming" : opt_init ? "fresh start from --init weights" : "fresh start");
}

/* ---- signals and launch: SIGINT and SIGTERM stop with a checkpoint, SIGUSR1 asks for one ---- */
static int request_hook(void *ctx)
{
    int stop = cli_signal_stop();
    (void)ctx;
    return (stop == SIGTERM ? TRAIN_REQ_TERMINATE : stop ? TRAIN_REQ_INTERRUPT : 0)
           | (cli_signal_usr1() ? TRAIN_REQ_CHECKPOINT : 0);
}

/* ---- the data ---- */
static void reading(void *ctx, size_t windows, size_t chars)
{
    cli_status("reading: %zu windows, %zu characters", windows, chars);
    (void)ctx;
}

/* A library call's failure: TRAIN_EUSAGE is bad usage (exit 2), -1 a failure (exit 1). */
static void or_die(int rc, const char *err)
{
    if (rc == TRAIN_EUSAGE)
        cli_usage_error("%s", err);
    if (rc < 0)
        cli_die("%s", err);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli_uses_kernels = 1;
    train_opts_init(&o);
    parse_options(argc, argv);
    if (opt_summary) {
        summary_only();
        return 0;
    }
    mp_init(&argc, &argv);
    int rank0 = mp_rank == 0;         /* rank 0 alone writes and reports */
    cli_refuse_slurm_copies(mp_size);
    if (o.same_ok) {                  /* --continue: resume when the -o file exists (rank 0 decides) */
        struct stat sb;
        double exists = rank0 && stat(opt_out, &sb) == 0 && S_ISREG(sb.st_mode);
        mp_bcast_double(&exists);
        opt_resume = exists ? opt_out : NULL;
    }
    o.resume = opt_resume != NULL;
    if (opt_input)                    /* (at most one %d, checked) */
        snprintf(input, sizeof input, opt_input, mp_rank);
    if (rank0)                        /* every output checked before any input is read */
        check_outputs();
    if (!opt_input && rank0 && isatty(0))
        cli_usage_error("stdin is a terminal; pipe windows in: vocab < TEXT | window -n 40 | train");
    if (opt_progress < 0 || !rank0)
        opt_progress = rank0 && isatty(2);
    const kern_ops *k = cli_kernels();
    if (o.precision == LSTM_BF16 && !k->bf16_native && rank0 && !opt_quiet)
        fprintf(stderr, "%s: --precision bf16: the kernels (%s) have no AVX512_BF16: the bf16 products run "
                "on an exact emulation of it, slower\n", cli_prog, k->name);
    char err[512];
    if (opt_resume)                   /* the models, checked against the options before the data is read */
        or_die(train_read_model(&o, &m, &st, opt_resume, err, sizeof err), err);
    if (opt_init)
        or_die(train_read_model(&o, &init_m, NULL, opt_init, err, sizeof err), err);

    dataset d;
    int sharded = opt_input && strchr(opt_input, '%');
    double t_read = cli_now();        /* every rank reads its --input file, or rank 0 stdin */
    mp_read_dataset(&d, opt_input ? input : NULL, o.streams, rank0 && isatty(2) ? reading : NULL);
    cli_status_clear();
    t_read = cli_now() - t_read;
    or_die(train_setup(&m, &st, &o, opt_init ? &init_m : NULL, &d, sharded, opt_resume ? opt_resume : opt_init,
                       err, sizeof err), err);
    if (opt_init)
        model_free(&init_m);
    if (o.sample_every >= 0 && rank0)
        or_die(train_samples_init(&samples, &m, &d, opt_sample_seed, err, sizeof err), err);

    trainer *tr = mp_trainer_new(k, &m, &st, &d, &o, sharded);
    if (rank0 && !opt_quiet)
        report_start(&d, tr, k, t_read);
    cli_catch_signals();
    o.keep_best = opt_best != NULL;
    train_hooks hooks = { .progress = progress_hook, .validating = opt_progress ? validating_hook : NULL,
                          .log = opt_log ? log_hook : NULL, .save = save_hook, .sample = sample_hook,
                          .request = request_hook };
    train_stop why = train_run(tr, &o, &hooks);
    if (why == TRAIN_STOP_DIVERGED || why == TRAIN_STOP_ERROR) {
        if (rank0)
            cli_die("%s", trainer_error(tr));
        mp_finish();
        exit(1);
    }
    trainer_free(tr);
    train_samples_free(&samples);
    dataset_free(&d);
    train_state_free(&st);
    model_free(&m);
    mp_finish();
    return why == TRAIN_STOP_INTERRUPT ? 130 : why == TRAIN_STOP_TERMINATE ? 143 : 0;
}
