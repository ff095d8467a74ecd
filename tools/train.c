/* train - train a character-level LSTM on a window stream (the Keras course's model), or on
 * the text itself cut into parallel streams with the state carried (char-rnn). */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "codec.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "par.h"
#include "sampling.h"
#include "ts.h"
#include "dataset.h"
#include "optim.h"
#include "train.h"
#include "train_mpi.h"

int mp_rank = 0, mp_size = 1;          /* train_mpi.h: alone unless under mpirun */

/* ---- options ---- */
static int opt_epochs = 1, opt_hidden = 128, opt_batch = 64, opt_threads = 0, opt_layers = 1;
static double opt_lr = 1e-3, opt_val = 0.2, opt_clip = 0, opt_dropout = 0, opt_decay_rate = 0.5;
static double opt_max_seconds = 0;
static long opt_seed = 1, opt_eval_every = 0;
static int opt_decay_every = 1;
static const char *opt_out, *opt_resume, *opt_init, *opt_log, *opt_best, *opt_schedule = "none", *opt_input;
static int opt_summary, opt_quiet, opt_progress = -1, opt_V, opt_N, opt_streams, opt_force;
static long opt_max_batches;
static int set_epochs, set_max_seconds, set_hidden, set_batch, set_lr, set_val, set_clip, set_seed, set_layers, set_cell;
static int opt_cell = CELL_LSTM;
/* --sample-every: samples printed while training (off: -1; 0: at each epoch's end) */
static long opt_sample_every = -1, opt_sample_chars = 200;
static const char *opt_sample_temps = "0.2,0.5,1.0,1.2", *opt_sample_seed;
/* regularisation (issue 16) */
static double opt_weight_drop, opt_locked_dropout, opt_input_dropout, opt_weight_decay;
static long opt_warmup;
static int set_regul;

static void usage(void)
{
    printf(
"NAME\n"
"    train - train a character-level LSTM on a window stream or, char-rnn style, on the text\n\n"
"SYNOPSIS\n"
"    vocab < TEXT | window -n 40 | train [-e EPOCHS] [-o MODEL] [OPTIONS] [> MODEL]\n"
"    vocab < TEXT | train --streams -n 100 -b 50 [-L LAYERS] [OPTIONS] -o MODEL\n"
"    train --summary [-V VOCAB -n MAXLEN] [-H HIDDEN] [-L LAYERS] [--cell CELL] [< STREAM]\n"
"    mpirun -np R train -j THREADS [--input FILE | --input SHARD-%%d.ts] [OPTIONS] -o MODEL\n\n"
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
"    Progress goes to stderr: a bar on a terminal (with the ETA of the epoch and, when more\n"
"    follows, of the run: its epochs or its time budget, whichever ends it first, and the\n"
"    validations they bring; while validation runs, its own bar), else a line per epoch.\n"
"    The model is a charpipe stream (weights named and laid out as Keras's, see\n"
"    lib/model.h). With -o it is written atomically after every epoch; without -o the final\n"
"    model goes to stdout.\n"
"    Ctrl-C saves a checkpoint to the -o file (resumable mid-epoch) and exits with 130.\n"
"    Every output is checked before the input is read: it may not be the input itself\n"
"    (--resume FILE -o FILE is allowed), a read-only file needs -f, and its directory must\n"
"    take a new file. A symbolic link is followed (its target replaced, the link kept), a\n"
"    file keeps its permissions, and a fifo or device is written in place. A model whose\n"
"    parameters became infinite, NaN or too large to read is never written: train stops\n"
"    with an error, the file keeps the last good model; every model is read back before it\n"
"    replaces the file.\n\n"
"    Built with make MPI=1 (build/mpi/bin/train) and run under mpirun, R processes (ranks)\n"
"    train one model: every batch (the -b windows or streams) is split across the ranks,\n"
"    then across each rank's -j threads; the gradients are summed with one MPI_Allreduce\n"
"    per step and every rank takes the same step, so the model is the one train -j R*J\n"
"    makes from the same seed, up to float rounding (dropout masks too when the batch is cut\n"
"    into the same parts). Rank 0 reads stdin and sends the data to the others, or every\n"
"    rank reads --input; rank 0 alone writes the model, the log and the progress. --resume\n"
"    (read by every rank) takes any number of ranks and threads. SIGINT or SIGTERM to\n"
"    mpirun (Open MPI sends the ranks SIGTERM, then SIGKILL a second later) or SIGUSR1\n"
"    (passed on as is) stops every rank at the same step, and rank 0 saves the checkpoint.\n\n"
"OPTIONS\n"
"    -e, --epochs N      train until N epochs are complete in total (default %d, or no limit\n"
"                        with --max-seconds; resuming, the model's run's)\n"
"    -H, --hidden N      units per layer (default %d)\n"
"    -L, --layers N      stacked recurrent layers (default %d)\n"
"        --cell C        the recurrent cell: lstm; gru (Keras's GRU, reset_after: 3/4 of the\n"
"                        LSTM's weights and work per unit); lnlstm (the LSTM with each gate's\n"
"                        projections layer-normalised, as KANN's) (default lstm)\n"
"    -b, --batch N       windows per batch, or streams with --streams (default %d)\n"
"    -n N                steps per batch with --streams (default 100)\n"
"        --streams       char-rnn training on the text frames (see above)\n"
"        --lr F          Adam learning rate (default %g)\n"
"        --schedule S    learning rate schedule: none, cosine, step (default %s). cosine goes\n"
"                        from --lr to 0 over the whole run, counted from its start (resumed\n"
"                        or not): at batch i of the -e epochs' E batches its progress is i/E;\n"
"                        with --max-seconds S it is t/S after t seconds of training, and with\n"
"                        both the larger of the two, so it follows whichever ends the run first.\n"
"                        step: times --decay-rate every --decay-every epochs\n"
"        --decay-rate F, --decay-every N   for the step schedule (default %g, %d)\n"
"        --dropout F     dropout between stacked layers (default %g)\n"
"        --weight-drop F DropConnect on the recurrent kernels: one mask per batch and layer,\n"
"                        as AWD-LSTM (default 0)\n"
"        --locked-dropout F   variational dropout, one mask per sequence for all its steps,\n"
"                        on the input of the layers above the first and on the output into\n"
"                        the dense layer; with --dropout both apply (default 0)\n"
"        --input-dropout F    the same on the first layer's input: each sequence drops each\n"
"                        character of the vocabulary with rate F (default 0)\n"
"        --weight-decay F decoupled weight decay (AdamW: w -= lr F w every step, on every\n"
"                        parameter) (default 0)\n"
"        --warmup N      raise the learning rate linearly over the first N steps, then the\n"
"                        schedule's (default 0)\n"
"        --val F         validation split: fraction of the windows or of the text (default %g)\n"
"        --clip F        clip the gradient to this global norm, 0 = off (default %g)\n"
"        --seed N        RNG seed for initialisation, shuffling and dropout (default %ld)\n"
"    -j, --threads N     threads (default: all CPUs, %d here)\n"
"    -o, --output FILE   write the model to FILE after every epoch (atomic replace)\n"
"        --resume FILE   continue training from a model written by train -o; settings come\n"
"                        from the model, and the input must be the same (the model records\n"
"                        its data's size and FNV-1a hash; other data is refused). The run's -e and\n"
"                        --max-seconds are kept in the model too, so a run stopped by Ctrl-C,\n"
"                        --max-batches or kill -9 (from its last checkpoint) resumes to the\n"
"                        model the uninterrupted run makes, byte for byte, unless it has a\n"
"                        time budget: the training time spent is kept, but where a budget ends\n"
"                        (and the cosine schedule's progress by time) differs from run to run\n"
"        --init FILE     start a new run from the weights of a model (fine-tuning): its\n"
"                        hidden size, layers, cell and vocabulary (encode the new text with\n"
"                        vocab -v FILE); a fresh optimizer, schedule, epoch count, seed and\n"
"                        validation split of the new input, settings from the options\n"
"        --log FILE      append a line per epoch (and per --eval-every): epoch, train_loss,\n"
"                        val_loss (nats/char), seconds, windows or characters per second,\n"
"                        tab-separated, with a header line\n"
"        --eval-every N  also validate every N batches (logged; see --best)\n"
"        --best FILE     keep the model with the lowest validation loss in FILE\n"
"    -f, --force         replace a read-only -o, --best or --log file (a file the user made\n"
"                        read-only is refused otherwise)\n"
"        --max-seconds S stop after S seconds of training in total (validation not counted;\n"
"                        resumed runs count the model's); without -e, no epoch limit\n"
"        --sample-every N  print samples to stderr every N batches, or at the end of each\n"
"                        epoch for N = 0 or 'epoch' (as the Keras example does); stdout and\n"
"                        the model are the same as without. Each is what 'sample -m MODEL\n"
"                        --seed SEED -n CHARS -t T --rng-seed S' writes from the model at\n"
"                        that point (S the --seed; the model's default mode)\n"
"        --sample-temps LIST   temperatures of those samples, 0 = greedy\n"
"                        (default 0.2,0.5,1.0,1.2)\n"
"        --sample-chars N  characters per sample (default 200)\n"
"        --sample-seed TEXT  their seed (default: the start of the training text: the\n"
"                        first window, or 40 characters with --streams)\n"
"        --summary       print the model summary (Keras layout) and exit; V and N from -V\n"
"                        and -n, or from the stream on stdin\n"
"    -V N                vocabulary size for --summary\n"
"        --progress, --no-progress   force the progress bar on or off\n"
"    -q, --quiet         no lines about the data, the model and the settings before training\n"
"                        (the progress and the closing messages stay)\n"
"        --input PATTERN read the stream from this file instead of stdin; under mpirun every\n"
"                        rank reads it (PATTERN without %%d: the same data as from stdin) or,\n"
"                        with --streams and a %%d in PATTERN, rank r reads the shard PATTERN\n"
"                        with r for %%d: shards made with one vocabulary (vocab -v), rank r's\n"
"                        streams (its share of the -b) cut from its shard alone, the epoch as\n"
"                        long as the shortest shard allows, validation on the end of each\n"
"                        shard; ranks whose vocabularies or settings differ are refused\n"
"        --max-batches N stop after N batches (of this invocation) and report the speed (for\n"
"                        benchmarks); with -o the model is written there as a checkpoint that\n"
"                        --resume continues, without -o no model is written\n"
"        --version       print the version and the kernel set in use\n"
"    -h, --help          this help\n\n"
"ENVIRONMENT\n"
"    CHARPIPE_KERNEL     force a kernel set: scalar, avx2, avx512 (default: best for the CPU)\n\n"
"EXAMPLE\n"
"    vocab < shakespeare.txt | window -n 40 | train -e 5 -o model --log loss.tsv\n"
"    vocab < shakespeare.txt | train --streams -n 100 -b 50 -H 256 -L 2 --val 0.1 -o m\n"
"    vocab -v m < sonnets.txt | train --streams -n 100 -b 50 --init m -e 3 -o sonnets.m\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure (bad input, I/O error), 2 bad usage, 130 interrupted.\n",
        opt_epochs, opt_hidden, opt_layers, opt_batch, opt_lr, opt_schedule, opt_decay_rate,
        opt_decay_every, opt_dropout, opt_val, opt_clip, opt_seed, par_ncpu());
}

/* The model being trained and its training state. */
static model m;
static train_state st;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }
static int stop_agreed;               /* under mpirun: some rank was interrupted (train_mpi.h) */

/* 1 if the n floats at p (none when p is NULL) are all finite and at most lim in magnitude. */
static int all_within(const float *p, size_t n, double lim)
{
    for (size_t i = 0; p && i < n; i++)
        if (!(fabs(p[i]) <= lim))
            return 0;
    return 1;
}

/* Never replace a good model with one that cannot be read: the parameters within what
 * model_read accepts (finite, model_max_weight), the optimizer's moments and the carried
 * state finite. */
static void check_loadable(const char *path)
{
    size_t np = lstm_nparams(m.dim), ns = (size_t)m.dim.L * m.streams * m.dim.H;
    if (all_within(m.params, np, model_max_weight(m.dim.H)) && all_within(st.adam_m, np, FLT_MAX)
        && all_within(st.adam_v, np, FLT_MAX) && all_within(st.state_h, ns, 1)
        && all_within(st.state_c, ns, FLT_MAX))
        return;
    cli_die("the parameters became infinite, NaN or too large at epoch %lld, step %lld (try a "
            "lower --lr or --clip); %s%s", (long long)st.epochs + (st.epoch_batches > 0), (long long)st.steps,
            path ? path : "no model written", path ? " keeps the last good model" : "");
}

static void save(const char *path)
{
    char err[512];
    if (mp_rank != 0)                 /* rank 0 alone writes */
        return;
    check_loadable(path);
    if (!path) {
        if (model_write(&m, &st, 1, "stdout", err, sizeof err) < 0)
            cli_die("%s", err);
        return;
    }
    cli_outfile of;
    if (cli_outfile_open(&of, path) < 0)
        cli_die("%s: cannot write: %s", path, strerror(errno));
    if (model_write(&m, &st, of.fd, path, err, sizeof err) < 0) {
        cli_outfile_abort(&of);
        cli_die("%s", err);
    }
    if (of.tmp) {                     /* read it back before it replaces the file */
        model cm;
        train_state cs;
        if (model_read(&cm, &cs, of.tmp, err, sizeof err) < 0) {
            cli_outfile_abort(&of);
            cli_die("the model to write to %s does not read back (%s); %s keeps the last good model",
                    path, err, path);
        }
        model_free(&cm);
        train_state_free(&cs);
    }
    if (cli_outfile_commit(&of) < 0)
        cli_die("%s: cannot replace: %s", path, strerror(errno));
}

static void save_state(trainer *tr)
{
    if (trainer_save_state(tr) < 0)
        cli_die("out of memory for the carried state");
}

/* --best: a validation loss v lower than any before saves the model to opt_best, with the
 * streams' carried state when it comes from the middle of an epoch (so the file resumes). */
static void keep_best(trainer *tr, double v)
{
    if (!opt_best || !isfinite(v) || v >= st.best_val_loss)   /* (NAN best: none yet) */
        return;
    st.best_val_loss = v;
    if (m.streams && st.epoch_batches > 0)
        save_state(tr);
    save(opt_best);
}

/* One line of the loss log; seconds and the rate cover the time since the previous line. */
static void append_log(const char *path, double epoch, double tl, double vl, double secs, double rate,
                       const char *unit)
{
    if (mp_rank != 0)
        return;
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

static void parse_options(int argc, char **argv)
{
    enum { O_LR = 256, O_VAL, O_CLIP, O_SEED, O_RESUME, O_LOG, O_SUMMARY, O_PROGRESS, O_NOPROGRESS,
           O_VERSION, O_MAXB, O_STREAMS, O_DROPOUT, O_SCHED, O_DRATE, O_DEVERY, O_EVAL, O_BEST, O_MAXS, O_CELL, O_INPUT,
           O_SEVERY, O_STEMPS, O_SCHARS, O_SSEED,
           O_WDROP, O_LOCKED, O_INDROP, O_WDECAY, O_WARMUP, O_INIT };
    static const struct option longopts[] = {
        { "epochs", 1, 0, 'e' }, { "hidden", 1, 0, 'H' }, { "layers", 1, 0, 'L' },
        { "batch", 1, 0, 'b' }, { "lr", 1, 0, O_LR }, { "val", 1, 0, O_VAL }, { "clip", 1, 0, O_CLIP },
        { "seed", 1, 0, O_SEED }, { "threads", 1, 0, 'j' }, { "output", 1, 0, 'o' },
        { "resume", 1, 0, O_RESUME }, { "log", 1, 0, O_LOG }, { "summary", 0, 0, O_SUMMARY },
        { "progress", 0, 0, O_PROGRESS }, { "no-progress", 0, 0, O_NOPROGRESS },
        { "version", 0, 0, O_VERSION }, { "max-batches", 1, 0, O_MAXB }, { "streams", 0, 0, O_STREAMS },
        { "dropout", 1, 0, O_DROPOUT }, { "schedule", 1, 0, O_SCHED }, { "decay-rate", 1, 0, O_DRATE },
        { "decay-every", 1, 0, O_DEVERY }, { "eval-every", 1, 0, O_EVAL }, { "best", 1, 0, O_BEST },
        { "max-seconds", 1, 0, O_MAXS }, { "cell", 1, 0, O_CELL }, { "input", 1, 0, O_INPUT }, { "init", 1, 0, O_INIT }, { "help", 0, 0, 'h' },
        { "sample-every", 1, 0, O_SEVERY }, { "sample-temps", 1, 0, O_STEMPS },
        { "sample-chars", 1, 0, O_SCHARS }, { "sample-seed", 1, 0, O_SSEED },
        { "weight-drop", 1, 0, O_WDROP }, { "locked-dropout", 1, 0, O_LOCKED },
        { "input-dropout", 1, 0, O_INDROP }, { "weight-decay", 1, 0, O_WDECAY }, { "warmup", 1, 0, O_WARMUP },
        { "quiet", 0, 0, 'q' }, { "force", 0, 0, 'f' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "e:H:L:b:j:o:V:n:fqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': opt_epochs = (int)cli_long("-e", optarg, 0, 1000000); set_epochs = 1; break;
        case 'H': opt_hidden = (int)cli_long("-H", optarg, 1, 8192); set_hidden = 1; break;
        case 'L': opt_layers = (int)cli_long("-L", optarg, 1, LSTM_MAX_LAYERS); set_layers = 1; break;
        case 'b': opt_batch = (int)cli_long("-b", optarg, 1, 1 << 20); set_batch = 1; break;
        case 'j': opt_threads = (int)cli_long("-j", optarg, 1, 256); break;
        case 'o': opt_out = optarg; break;
        case 'f': opt_force = 1; break;
        case 'V': opt_V = (int)cli_long("-V", optarg, 1, 65536); break;
        case 'n': opt_N = (int)cli_long("-n", optarg, 1, 100000); break;   /* 0: not given */
        case O_LR: opt_lr = cli_double("--lr", optarg, 0, 10); set_lr = 1; break;
        case O_VAL: opt_val = cli_double("--val", optarg, 0, 0.99); set_val = 1; break;
        case O_CLIP: opt_clip = cli_double("--clip", optarg, 0, 1e9); set_clip = 1; break;
        case O_SEED: opt_seed = cli_long("--seed", optarg, 0, 0x7fffffffL); set_seed = 1; break;
        case O_RESUME: opt_resume = optarg; break;
        case O_INIT: opt_init = optarg; break;
        case O_LOG: opt_log = optarg; break;
        case O_SUMMARY: opt_summary = 1; break;
        case O_PROGRESS: opt_progress = 1; break;
        case O_NOPROGRESS: opt_progress = 0; break;
        case O_MAXB: opt_max_batches = cli_long("--max-batches", optarg, 1, 1L << 40); break;
        case O_STREAMS: opt_streams = 1; break;
        case O_DROPOUT: opt_dropout = cli_double("--dropout", optarg, 0, 0.95); break;
        case O_SCHED:
            if (!schedule_known(optarg))
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
        case O_INPUT: opt_input = optarg; break;
        case O_SEVERY:
            opt_sample_every = strcmp(optarg, "epoch") ? cli_long("--sample-every", optarg, 0, 1L << 40) : 0;
            break;
        case O_STEMPS: opt_sample_temps = optarg; break;
        case O_SCHARS: opt_sample_chars = cli_long("--sample-chars", optarg, 1, 1 << 20); break;
        case O_SSEED: opt_sample_seed = optarg; break;
        case O_WDROP: opt_weight_drop = cli_double("--weight-drop", optarg, 0, 0.95); set_regul = 1; break;
        case O_LOCKED: opt_locked_dropout = cli_double("--locked-dropout", optarg, 0, 0.95); set_regul = 1; break;
        case O_INDROP: opt_input_dropout = cli_double("--input-dropout", optarg, 0, 0.95); set_regul = 1; break;
        case O_WDECAY: opt_weight_decay = cli_double("--weight-decay", optarg, 0, 10); set_regul = 1; break;
        case O_WARMUP: opt_warmup = cli_long("--warmup", optarg, 0, 1L << 40); set_regul = 1; break;
        case O_MAXS: opt_max_seconds = cli_double("--max-seconds", optarg, 0.001, 1e9); set_max_seconds = 1; break;
        case O_VERSION: printf("charpipe train 0.2 (kernels: %s)\n", cli_kernels()->name); exit(0);
        case 'q': opt_quiet = 1; break;
        case 'h': usage(); exit(0);
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (opt_init && opt_resume)
        cli_usage_error("--init starts a new run from a model's weights, --resume continues one: not both");
    if (opt_input) {                  /* at most one %d, no other conversion */
        const char *pc = strchr(opt_input, '%');
        if (pc && (pc[1] != 'd' || strchr(pc + 2, '%')))
            cli_usage_error("--input: '%s' may hold one %%d (the rank) and no other %%", opt_input);
        if (pc && !opt_streams)
            cli_usage_error("--input: shards (%%d) are for --streams; windows come whole to every rank");
    }
}

/* --resume: the model and its training state, checked against the options given. */
static void load_resume(void)
{
    char err[512];
    if (model_read(&m, &st, opt_resume, err, sizeof err) < 0)
        cli_die("%s", err);
    if (!st.adam_m)
        cli_die("%s: the model has no optimizer state to resume from", opt_resume);
    if ((set_hidden && opt_hidden != m.dim.H) || (set_batch && opt_batch != st.batch)
        || (set_layers && opt_layers != m.dim.L) || (set_cell && opt_cell != m.dim.cell)
        || (m.streams && opt_N && opt_N != m.maxlen))
        cli_usage_error("--resume takes the hidden size, layers, cell, batch and steps from the model "
                        "(%d, %d, %s, %d, %d)", m.dim.H, m.dim.L, cell_name(m.dim.cell), st.batch, m.maxlen);
    if (set_lr || set_val || set_clip || set_seed)
        cli_usage_error("--resume takes --lr, --val, --clip and --seed from the model");
    if (set_regul)
        cli_usage_error("--resume takes --weight-drop, --locked-dropout, --input-dropout, "
                        "--weight-decay and --warmup from the model");
    if (!!m.streams != opt_streams)
        cli_usage_error("%s was trained %s --streams; resume it the same way", opt_resume,
                        m.streams ? "with" : "without");
}

/* --init: the model whose weights start the run; its shape replaces -H, -L and --cell. */
static model init_m;

static void load_init(void)
{
    char err[512];
    if (model_read(&init_m, NULL, opt_init, err, sizeof err) < 0)
        cli_die("%s", err);
    if ((set_hidden && opt_hidden != init_m.dim.H) || (set_layers && opt_layers != init_m.dim.L)
        || (set_cell && opt_cell != init_m.dim.cell))
        cli_usage_error("--init takes the hidden size, layers and cell from the model (%d, %d, %s)",
                        init_m.dim.H, init_m.dim.L, cell_name(init_m.dim.cell));
    opt_hidden = init_m.dim.H;
    opt_layers = init_m.dim.L;
    opt_cell = init_m.dim.cell;
}

/* --init: the input must be encoded with the model's vocabulary. */
static void check_init_vocab(const dataset *d)
{
    if (init_m.dim.V != d->vocab.V || init_m.byte_unit != d->vocab.byte_unit || init_m.lower != d->vocab.lower
        || memcmp(init_m.vocab, d->vocab.cp, d->vocab.V * sizeof(uint32_t)) != 0)
        cli_die("%s: the input's vocabulary (%d symbols) is not the model's (%d); encode the new text with "
                "the model's: vocab -v %s < TEXT | ...", opt_init, d->vocab.V, init_m.dim.V, opt_init);
}

/* A fresh model for the data d, initialised as Keras does. */
static void new_model(const dataset *d, int N)
{
    if (model_alloc(&m, (lstm_dims){ d->vocab.V, opt_hidden, opt_layers, opt_cell }, N) < 0
        || train_state_alloc(&st, lstm_nparams(m.dim)) < 0)
        cli_die("out of memory (a model of %d hidden units, %d layers)", opt_hidden, opt_layers);
    memcpy(m.vocab, d->vocab.cp, d->vocab.V * sizeof(uint32_t));
    m.byte_unit = d->vocab.byte_unit;
    m.lower = d->vocab.lower;
    st.batch = opt_batch;
    st.lr = opt_lr;
    st.clip = opt_clip;
    st.val_split = opt_val;
    st.dropout = opt_dropout;
    st.weight_drop = opt_weight_drop;
    st.locked_dropout = opt_locked_dropout;
    st.input_dropout = opt_input_dropout;
    st.weight_decay = opt_weight_decay;
    st.warmup = opt_warmup;
    snprintf(st.schedule, sizeof st.schedule, "%s", opt_schedule);
    st.decay_rate = opt_decay_rate;
    st.decay_every = opt_decay_every;
    m.per_position = opt_streams || d->ylen > 1;
    m.streams = opt_streams ? opt_batch : 0;
    st.seed = (uint64_t)opt_seed;
    rng_seed(&st.rng, st.seed);
    if (lstm_init_keras(&m.p, &st.rng) < 0)
        cli_die("out of memory");
    st.rng_epoch = st.rng;
}

/* --sample-every: the temperatures, the seed as indices, printing. */
static double stemps[16];
static int nstemps, *sseed, sseedlen;
static codec scodec;                         /* the model's vocabulary */

static void samples_setup(const dataset *d)
{
    char *list = cli_malloc(strlen(opt_sample_temps) + 1), *save = NULL;
    strcpy(list, opt_sample_temps);
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (nstemps == 16)
            cli_usage_error("--sample-temps: at most 16 temperatures");
        stemps[nstemps++] = cli_double("--sample-temps", t, 0, 100);
    }
    free(list);
    if (!nstemps)
        cli_usage_error("--sample-temps: no temperature in '%s'", opt_sample_temps);
    char err[256];
    if (codec_init(&scodec, m.vocab, m.dim.V, m.byte_unit, m.lower, err, sizeof err) < 0)
        cli_die("%s", err);
    if (opt_sample_seed) {                   /* the text as the model reads it */
        size_t n = strlen(opt_sample_seed), k, used;
        codec_pos at = { 0 };
        char msg[256];
        sseed = cli_malloc((n + 1) * sizeof *sseed);
        int rc = codec_encode(&scodec, opt_sample_seed, n, 0, CODEC_REFUSE, 0, sseed, &k, &used, &at);
        if (rc < 0)
            cli_usage_error("--sample-seed: %s", codec_error(&scodec, rc, &at, msg, sizeof msg));
        sseedlen = (int)k;
    } else if (d->want_text) {               /* the start of the text */
        sseedlen = d->tn < 40 ? (int)d->tn : 40;
        sseed = cli_malloc((size_t)(sseedlen + 1) * sizeof *sseed);
        for (int i = 0; i < sseedlen; i++)
            sseed[i] = d->t8 ? d->t8[i] : d->t16[i];
    } else {                                 /* the first window */
        int32_t *y = cli_malloc((size_t)d->ylen * sizeof *y);
        sseed = cli_malloc((size_t)d->N * sizeof *sseed);
        dataset_gather_range(d, 0, 1, sseed, y);
        sseedlen = d->N;
        free(y);
    }
    if (sseedlen == 0)
        cli_usage_error("--sample-seed: an empty seed");
}

static void put_chars(const int *idx, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char u[4];
        fwrite(u, 1, (size_t)codec_decode_char(&scodec, idx[i], u), stderr);
    }
}

/* The samples at this point of training, one per temperature, on stderr; each from an RNG
 * seeded with the training seed, so 'sample --rng-seed SEED' reproduces it from the model. */
static void print_samples(const kern_ops *k, double at)
{
    int *out = cli_malloc((size_t)opt_sample_chars * sizeof *out);
    if (opt_progress)
        fputc('\n', stderr);
    for (int i = 0; i < nstemps; i++) {
        rng_t r;
        rng_seed(&r, st.seed);
        if (sample_text(k, &m.p, m.streams ? 0 : m.maxlen, sseed, sseedlen, (int)opt_sample_chars,
                        stemps[i], &r, out) < 0)
            cli_die("out of memory");
        fprintf(stderr, "%s: sample at epoch %.2f, temperature %g:\n", cli_prog, at, stemps[i]);
        put_chars(sseed, sseedlen);
        put_chars(out, (int)opt_sample_chars);
        fputc('\n', stderr);
    }
    fflush(stderr);
    free(out);
}

/* The run's horizon, where it ends: after -e epochs in total and/or --max-seconds of training
 * in total. Resuming, the model's (train_state) unless given again; a model from before
 * horizons were kept ends after -e (default 1) as then. epoch_limit: -1 for none. */
static int64_t epoch_limit;
static void set_horizon(void)
{
    int known = opt_resume && (st.horizon_epochs > 0 || st.horizon_seconds > 0);
    if (set_max_seconds || !opt_resume)
        st.horizon_seconds = opt_max_seconds;
    if (set_epochs)
        st.horizon_epochs = opt_epochs;
    else if (!known)
        st.horizon_epochs = st.horizon_seconds > 0 ? 0 : opt_epochs;
    if (st.horizon_seconds <= 0)
        st.train_seconds = 0;
    epoch_limit = set_epochs || st.horizon_epochs > 0 ? st.horizon_epochs : -1;
}

/* The schedule's progress through the run (0 .. 1): the batches done of the epochs' batches,
 * or the seconds of training done of the time budget, whichever is further on. Both count
 * from the start of the run, so a resumed run follows the uninterrupted one's curve. */
static double run_progress(long nbatches, double secs)
{
    double p = 0;
    if (epoch_limit > 0)
        p = ((double)st.epochs * nbatches + (double)st.epoch_batches) / ((double)epoch_limit * nbatches);
    if (st.horizon_seconds > 0 && secs / st.horizon_seconds > p)
        p = secs / st.horizon_seconds;
    return p;
}

/* Validation, with its progress on the bar (a validation of many windows takes a while). */
static double last_val_secs = -1;     /* how long the last validation took (-1: none yet) */
static double val_started, val_drawn;
static void val_progress(void *ctx, double done)
{
    (void)ctx;
    double now = cli_now();
    if (val_drawn > 0 && now - val_drawn < 0.1 && done < 1)
        return;
    val_drawn = now;
    cli_bar_validating(done, now - val_started);
}

static double validate(trainer *tr)
{
    val_started = cli_now();
    val_drawn = 0;
    tr->ev->progress = opt_progress ? val_progress : NULL;
    double v = trainer_validate(tr);
    tr->ev->progress = NULL;
    last_val_secs = cli_now() - val_started;
    if (val_drawn > 0)
        fputs("\r\033[K", stderr);
    return v;
}

/* The time `batches` more batches take from batch pos of an epoch of nbatches, at spb seconds
 * a batch, with the validations they bring (at each epoch's end, every --eval-every, and
 * one at a budget's end) at the last one's time. */
static double eta(double batches, long pos, long nbatches, double spb, int budget_end)
{
    double nval = floor((pos + batches) / nbatches) + (opt_eval_every ? floor(batches / opt_eval_every) : 0)
                  + budget_end;
    return batches * spb + (last_val_secs > 0 ? nval * last_val_secs : 0);
}

/* --max-batches: the speed of the batches this process trained. */
static void bench_report(long steps, double secs, double per_batch, double loss, const char *unit)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double w = (double)steps * per_batch;
    fprintf(stderr, "%s: benchmark: %ld batches of %d, %.0f %s in %.3fs: %.1f %s/s, loss %.4f, peak RSS %.1f MB%s\n",
            cli_prog, steps, st.batch, w, unit, secs, w / secs, unit, loss, ru.ru_maxrss / 1024.0,
            opt_out ? "" : " (no model written: give -o to keep it)");
}

static double read_started;
static void reading(void *ctx, size_t windows, size_t chars)
{
    static double last;
    (void)ctx;
    if (cli_now() - last > 0.2) {
        fprintf(stderr, "\rreading: %zu windows, %zu characters", windows, chars);
        last = cli_now();
    }
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    parse_options(argc, argv);
    if (opt_summary) {
        summary_only();
        return 0;
    }
    mp_init(&argc, &argv);
    int rank0 = mp_rank == 0;         /* rank 0 alone writes and reports */
    if (!opt_out && !opt_max_batches && rank0) {
        cli_refuse_tty(1);
        const char *ins[2] = { opt_resume, opt_input };   /* (a %d pattern names no file) */
        cli_refuse_stdout_input(!opt_input, ins, 2);
    }
    if (!opt_input && rank0 && isatty(0))
        cli_usage_error("stdin is a terminal; pipe windows in: vocab < TEXT | window -n 40 | train");
    if (opt_progress < 0 || !rank0)
        opt_progress = rank0 && isatty(2);
    if (opt_threads == 0)
        opt_threads = par_ncpu();
    const kern_ops *k = cli_kernels();

    /* Check that the outputs can be written, and are not the input, before spending time on
     * the input (rank 0 writes; its input is stdin or its --input file). */
    if (rank0 && (opt_out || opt_best || opt_log)) {
        int in = 0;
        if (opt_input) {
            char path0[1024];
            snprintf(path0, sizeof path0, opt_input, 0);   /* at most one %d, checked */
            struct stat sb;           /* (a fifo is not opened here: that would unblock its
                                         writer, then leave it without a reader) */
            in = stat(path0, &sb) == 0 && S_ISREG(sb.st_mode) ? open(path0, O_RDONLY) : -1;
        }
        const char *outs[3] = { opt_out, opt_best, opt_log };
        for (int i = 0; i < 3; i++)
            if (outs[i])
                cli_output_check(outs[i], opt_force ? CLI_OUT_FORCE : 0, &in, in >= 0);
        if (in > 0)
            close(in);
        for (int i = 0; i < 2; i++)   /* a log appended to a model would damage it */
            if (opt_log && outs[i] && cli_same_file(opt_log, outs[i]))
                cli_usage_error("--log %s: is also the %s file", opt_log, i ? "--best" : "-o");
    }
    if (opt_resume)
        load_resume();
    if (opt_init)
        load_init();

    dataset d;
    char err[512], msg[1200];
    static char input[1024];          /* the file this rank reads (--input) */
    int sharded = opt_input && strchr(opt_input, '%');
    read_started = cli_now();
    int tty = rank0 && isatty(2);
    const char *fail = NULL;
    if (opt_input) {                  /* every rank reads its file */
        if (sharded)
            snprintf(input, sizeof input, opt_input, mp_rank);   /* one %d, checked */
        else
            snprintf(input, sizeof input, "%s", opt_input);
        int fd = open(input, O_RDONLY);
        if (fd < 0) {
            snprintf(msg, sizeof msg, "%s: %s", input, strerror(errno));
            fail = msg;
            dataset_init(&d, opt_streams, input);
        } else {
            ts_reader *rd = cli_reader_open(fd, input);
            if (dataset_read(&d, rd, opt_streams, input, tty ? reading : NULL, NULL, err, sizeof err) < 0)
                fail = err;
            ts_reader_close(rd);
            close(fd);
        }
        mp_agree(fail);
    } else if (rank0) {               /* rank 0 reads stdin, and sends the data on */
        ts_reader *rd = cli_reader_open(0, "stdin");
        if (dataset_read(&d, rd, opt_streams, "stdin", tty ? reading : NULL, NULL, err, sizeof err) < 0)
            fail = err;
        ts_reader_close(rd);
        mp_agree(fail);
        mp_bcast_dataset(&d);
    } else {
        dataset_init(&d, opt_streams, "stdin");
        mp_agree(NULL);
        mp_bcast_dataset(&d);
    }
    if (tty && cli_now() - read_started > 0.2)
        fprintf(stderr, "\r%60s\r", "");
    double t_read = cli_now() - read_started;
    int N = opt_streams ? (opt_resume ? m.maxlen : (opt_N ? opt_N : 100)) : d.N;
    if (!opt_streams && opt_N && opt_N != d.N)
        cli_usage_error("-n %d: the windows are %d long (-n applies to --streams and --summary)", opt_N, d.N);
    if (opt_resume) {
        if (m.dim.V != d.vocab.V || memcmp(m.vocab, d.vocab.cp, d.vocab.V * sizeof(uint32_t)) != 0)
            cli_die("%s: the model's vocabulary differs from the input's", opt_resume);
        if (!opt_streams && m.maxlen != d.N)
            cli_die("%s: the model was trained on windows of %d, the input has %d", opt_resume, m.maxlen, d.N);
        if (!opt_streams && m.per_position != (d.ylen > 1))
            cli_die("%s: the model was trained with %s targets", opt_resume, m.per_position ? "per-position" : "last-step");
    } else {
        if (opt_init)
            check_init_vocab(&d);
        new_model(&d, N);
        if (opt_init) {               /* its weights; all else (optimizer, RNG, epochs) is new */
            memcpy(m.params, init_m.params, lstm_nparams(m.dim) * sizeof(float));
            model_free(&init_m);
        }
    }
    /* The data's fingerprint: --resume is refused on other data. With shards (--input
     * FILE-%d) each rank holds different data and none is recorded (nor checked). */
    uint64_t fp_size = 0, fp_hash = sharded ? 0 : dataset_fingerprint(&d, &fp_size);
    if (opt_resume && st.has_data_fp && !sharded && (fp_size != st.data_size || fp_hash != st.data_hash))
        cli_die("%s: the input is not the data the model was trained on (%llu %s, fnv1a64:%016llx; this "
                "input: %llu, fnv1a64:%016llx); to train it on other data, start a new run from its "
                "weights: train --init %s", opt_resume, (unsigned long long)st.data_size,
                opt_streams ? "characters" : "windows", (unsigned long long)st.data_hash,
                (unsigned long long)fp_size, (unsigned long long)fp_hash, opt_resume);
    st.has_data_fp = !sharded;
    st.data_size = fp_size;
    st.data_hash = fp_hash;

    if (opt_sample_every >= 0 && rank0)
        samples_setup(&d);

    set_horizon();

    train_comm comm;
    mp_comm(&comm, &interrupted, &stop_agreed);
    comm.sharded = sharded;
    trainer *tr = trainer_new_comm(k, &m, &st, &d, opt_threads, &comm, err, sizeof err);
    mp_agree(tr ? NULL : err);
    if (sharded)                      /* the epoch: as many batches as every shard has */
        tr->nbatches = mp_min(tr->nbatches);
    double run[] = { (double)epoch_limit, (double)opt_max_batches, st.horizon_seconds, (double)opt_eval_every,
                     !!opt_best, sharded };
    mp_check_start(&m, &st, &d, tr, run, sizeof run / sizeof *run);
    long nbatches = tr->nbatches;
    size_t ntrain = tr->ntrain;
    const char *unit = m.streams ? "chars" : "windows";
    if (rank0 && !opt_quiet) {
        if (m.streams)
            fprintf(stderr, "%s: %zu characters (%zu for training in %d streams of %zu, %zu held out), read in %.1fs\n",
                    cli_prog, d.tn, ntrain, m.streams, tr->per_stream, tr->nval, t_read);
        else
            fprintf(stderr, "%s: %zu windows of %d (%zu for training, %zu for validation), %.1f MB in memory, read in %.1fs\n",
                    cli_prog, d.n, d.N, ntrain, tr->nval, (dataset_bytes(&d) + ntrain * 4.0) / 1e6, t_read);
        model_summary(stderr, m.dim, m.maxlen, m.per_position);
        if (mp_size > 1)
            fprintf(stderr, "%s: kernels %s, %d ranks of %d thread%s, batch %d, %s\n", cli_prog, k->name,
                    mp_size, opt_threads, opt_threads > 1 ? "s" : "", st.batch, opt_resume ? "resuming" : opt_init ? "fresh start from --init weights" : "fresh start");
        else
            fprintf(stderr, "%s: kernels %s, %d thread%s, batch %d, %s\n", cli_prog, k->name, opt_threads,
                    opt_threads > 1 ? "s" : "", st.batch, opt_resume ? "resuming" : opt_init ? "fresh start from --init weights" : "fresh start");
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (mp_size > 1)                  /* mpirun passes SIGUSR1 on and waits for the ranks */
        sigaction(SIGUSR1, &sa, NULL);

    int status = 0;
    double per_batch = (double)st.batch * (m.streams ? N : 1);   /* windows or characters */
    long run_steps = 0;                  /* batches trained by this process */
    double step_secs = 0;                /* ... and the seconds they took */
    double train_secs = st.train_seconds, since_log = 0, items_since_log = 0;
    int stop = 0, saved = 0;             /* saved: the -o file holds the current model */
    int last_epoch = 0;                  /* the run ends with this epoch's end */
    const char *why_stop = NULL;
    stop = st.horizon_seconds > 0 && train_secs >= st.horizon_seconds;
    if ((stop || (epoch_limit >= 0 && st.epochs >= epoch_limit)) && opt_resume && rank0)
        cli_warn("the model has %lld epochs and %.0fs of training already; nothing to train (raise -e or --max-seconds)",
                 (long long)st.epochs, train_secs);
    while ((epoch_limit < 0 || st.epochs < epoch_limit) && !stop) {
        rng_t r = st.rng_epoch;
        trainer_epoch_begin(tr, &r);
        if (opt_progress && epoch_limit >= 0)
            fprintf(stderr, "Epoch %lld/%lld\n", (long long)st.epochs + 1, (long long)epoch_limit);
        else if (opt_progress)
            fprintf(stderr, "Epoch %lld\n", (long long)st.epochs + 1);
        double t0 = cli_now(), last = 0, tbar = 0;
        long first_batch = (long)st.epoch_batches;
        for (long bi = first_batch; bi < nbatches; bi++) {
            double ts = cli_now();
            train_step(tr, bi, trainer_lr(tr, run_progress(nbatches, train_secs)));
            run_steps++;
            double dt = cli_now() - ts;
            train_secs += dt;
            if (st.horizon_seconds > 0)   /* rank 0's clock, for the schedule and the budget */
                mp_bcast_double(&train_secs);
            st.train_seconds = train_secs;
            step_secs += dt;
            since_log += dt;
            tbar += dt;
            items_since_log += m.streams ? per_batch : tr->b;
            double loss = st.epoch_loss_sum / trainer_targets(tr, bi + 1);   /* so far this epoch */
            double at = st.epochs + (double)(bi + 1) / nbatches;
            if (!isfinite(st.epoch_loss_sum) && !rank0) {
                mp_finish();
                exit(1);
            }
            if (!isfinite(st.epoch_loss_sum))
                cli_die("the loss became %f at epoch %lld batch %ld (try a lower --lr or --clip)",
                        st.epoch_loss_sum, (long long)st.epochs + 1, bi + 1);
            if (opt_max_batches && run_steps >= opt_max_batches) {
                if (rank0)
                    bench_report(run_steps, step_secs, per_batch, loss, unit);
                if (bi + 1 == nbatches) {     /* the epoch ends as usual, and the run with it */
                    last_epoch = 1;
                } else {                      /* a checkpoint in the middle of the epoch */
                    if (opt_progress)
                        fputc('\n', stderr);
                    if (opt_out && m.streams)
                        save_state(tr);
                    if (opt_out)
                        save(opt_out);
                    goto done;
                }
            }
            if (mp_size > 1 ? stop_agreed : interrupted) {
                if (opt_progress)
                    fputc('\n', stderr);
                if (m.streams)
                    save_state(tr);
                if (!rank0) {
                } else if (opt_out) {
                    save(opt_out);
                    cli_warn("interrupted: checkpoint at epoch %lld, batch %ld/%ld saved to %s (continue with --resume)",
                             (long long)st.epochs + 1, bi + 1, nbatches, opt_out);
                } else {
                    cli_warn("interrupted: no model written (use -o FILE to keep checkpoints)");
                }
                status = 130;
                goto done;
            }
            if (st.horizon_seconds > 0 && train_secs >= st.horizon_seconds && !last_epoch) {
                why_stop = "time budget";
                if (bi + 1 == nbatches) {     /* the epoch ends as usual, and the run with it */
                    last_epoch = 1;
                } else {
                    /* the time budget is spent: validate, log and save as at an epoch's end */
                    if (opt_progress)
                        fputc('\n', stderr);
                    if (m.streams)
                        save_state(tr);
                    st.train_loss = loss;
                    st.val_loss = validate(tr);
                    if (rank0)
                        fprintf(stderr, "%s: time budget of %.0fs spent at epoch %lld batch %ld/%ld: loss %.4f, val_loss %.4f\n",
                                cli_prog, st.horizon_seconds, (long long)st.epochs + 1, bi + 1, nbatches,
                                st.train_loss, st.val_loss);
                    if (opt_log)
                        append_log(opt_log, at, st.train_loss, st.val_loss, since_log, items_since_log / since_log, unit);
                    keep_best(tr, st.val_loss);
                    stop = 1;
                    break;
                }
            }
            if (opt_eval_every && st.steps % opt_eval_every == 0 && bi + 1 < nbatches) {
                double v = validate(tr);
                if (opt_log)
                    append_log(opt_log, at, loss, v, since_log, items_since_log / since_log, unit);
                since_log = items_since_log = 0;
                if (!opt_progress && rank0)
                    fprintf(stderr, "%s: epoch %.2f: loss %.4f, val_loss %.4f\n", cli_prog, at, loss, v);
                keep_best(tr, v);
                last = 0;                     /* (the bar was cleared: draw it again) */
            }
            if (opt_sample_every > 0 && st.steps % opt_sample_every == 0 && rank0)
                print_samples(k, at);
            double now = cli_now();
            if (opt_progress && (now - last > 0.1 || bi + 1 == nbatches)) {
                /* ETAs of the epoch and of the run: the batches left (the epochs', or as many
                 * as the time budget leaves), their validations, at this epoch's pace */
                double spb = tbar / (double)(bi + 1 - first_batch), left = nbatches - bi - 1;
                double to_go = epoch_limit >= 0 ? (double)(epoch_limit - st.epochs - 1) * nbatches + left : -1;
                int budget_end = 0;
                if (st.horizon_seconds > 0) {
                    double by_time = ceil((st.horizon_seconds - train_secs) / spb);
                    by_time = by_time > 0 ? by_time : 0;
                    if (to_go < 0 || by_time < to_go)
                        to_go = by_time, budget_end = 1;
                }
                double e_epoch = eta(to_go < left ? to_go : left, bi + 1, nbatches, spb, budget_end && to_go < left);
                double e_run = eta(to_go, bi + 1, nbatches, spb, budget_end);
                cli_bar(bi + 1, nbatches, e_epoch, to_go > left ? e_run : -1, loss,
                        (double)(bi + 1 - first_batch) * per_batch / tbar, 0, 0, unit);
                last = now;
            }
        }
        if (stop)
            break;
        double secs = cli_now() - t0;
        double items = m.streams ? (double)(nbatches - first_batch) * per_batch
                                 : (double)ntrain - (double)first_batch * st.batch;
        double rate = tbar > 0 && items > 0 ? items / tbar : 0;
        st.train_loss = st.epoch_loss_sum / trainer_targets(tr, nbatches);
        st.val_loss = validate(tr);
        trainer_epoch_end(tr, &r);
        if (opt_progress)
            cli_bar(nbatches, nbatches, secs, -1, st.train_loss, rate, 1, st.val_loss, unit);
        else if (rank0 && epoch_limit >= 0)
            fprintf(stderr, "%s: epoch %lld/%lld: loss %.4f, val_loss %.4f, %.1fs, %.0f %s/s\n", cli_prog,
                    (long long)st.epochs, (long long)epoch_limit, st.train_loss, st.val_loss, secs, rate, unit);
        else if (rank0)
            fprintf(stderr, "%s: epoch %lld: loss %.4f, val_loss %.4f, %.1fs, %.0f %s/s\n", cli_prog,
                    (long long)st.epochs, st.train_loss, st.val_loss, secs, rate, unit);
        if (opt_log)
            append_log(opt_log, (double)st.epochs, st.train_loss, st.val_loss, since_log,
                       items_since_log / since_log, unit);
        since_log = items_since_log = 0;
        keep_best(tr, st.val_loss);
        if (opt_sample_every == 0 && rank0)
            print_samples(k, (double)st.epochs);
        if (opt_out)
            save(opt_out);
        saved = 1;
        if (last_epoch && why_stop && rank0)
            fprintf(stderr, "%s: time budget of %.0fs spent at the end of epoch %lld\n", cli_prog,
                    st.horizon_seconds, (long long)st.epochs);
        if (last_epoch)
            break;
    }
    if (opt_out && (stop || !saved))
        save(opt_out);
    else if (!opt_out && !opt_max_batches)
        save(NULL);
done:
    trainer_free(tr);
    dataset_free(&d);
    train_state_free(&st);
    model_free(&m);
    mp_finish();
    return status;
}
