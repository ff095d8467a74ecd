/* run.h - a training run: its options, how they meet a model to resume or start from and
 * the data, and the run itself (the loop over epochs and batches, where it ends, when it
 * validates, saves and stops).
 *
 *     train_opts o;
 *     train_opts_init(&o);              // the defaults; then set fields and their given bits
 *     train_setup(&m, &st, &o, NULL, &d, 0, "stdin", err, sizeof err);   // a new run on d
 *     trainer *tr = trainer_new(k, &m, &st, &d, o.threads, err, sizeof err);
 *     train_stop why = train_run(tr, &o, &hooks);
 *
 * The run owns the epochs, the horizon (-e epochs and/or a time budget, kept in the model so
 * that a resumed run ends where the uninterrupted one would), the learning-rate schedule's
 * progress, validation (at each epoch's end and every eval_every batches), the best model,
 * progress lines (every print_every batches or print_seconds),
 * checkpoints (at epoch ends, every checkpoint_every batches or checkpoint_seconds, and when
 * asked), and why it stopped. It alone writes the train_state. What leaves the run goes
 * through the caller's hooks: progress, log lines, saving, samples. Across processes (a
 * trainer made with a train_comm) every process calls train_run; the hooks that report or
 * write are called on process 0 alone, and the processes agree at the same step on every
 * request any of them received.
 *
 * Nothing here prints, ends the process or reads the environment.
 */
#ifndef CHARPIPE_RUN_H
#define CHARPIPE_RUN_H

#include <stdint.h>
#include <stdio.h>
#include "codec.h"
#include "dataset.h"
#include "kern.h"
#include "model.h"
#include "train.h"

#define TRAIN_EUSAGE (-2)             /* returned for options that contradict each other or the model */

/* Bits of train_opts.given: which options the user gave (a resumed run refuses some of them,
 * and -e / --max-seconds replace the model's horizon only when given). */
enum {
    TRAIN_GIVEN_EPOCHS = 1 << 0, TRAIN_GIVEN_MAX_SECONDS = 1 << 1, TRAIN_GIVEN_HIDDEN = 1 << 2,
    TRAIN_GIVEN_LAYERS = 1 << 3, TRAIN_GIVEN_CELL = 1 << 4, TRAIN_GIVEN_BATCH = 1 << 5,
    TRAIN_GIVEN_STEPS = 1 << 6, TRAIN_GIVEN_LR = 1 << 7, TRAIN_GIVEN_VAL = 1 << 8,
    TRAIN_GIVEN_CLIP = 1 << 9, TRAIN_GIVEN_SEED = 1 << 10, TRAIN_GIVEN_DROPOUT = 1 << 11,
    TRAIN_GIVEN_SCHEDULE = 1 << 12, TRAIN_GIVEN_DECAY_RATE = 1 << 13,
    TRAIN_GIVEN_DECAY_EVERY = 1 << 14, TRAIN_GIVEN_WEIGHT_DROP = 1 << 15,
    TRAIN_GIVEN_LOCKED_DROPOUT = 1 << 16, TRAIN_GIVEN_INPUT_DROPOUT = 1 << 17,
    TRAIN_GIVEN_WEIGHT_DECAY = 1 << 18, TRAIN_GIVEN_WARMUP = 1 << 19, TRAIN_GIVEN_EMA = 1 << 20,
    TRAIN_GIVEN_STREAM_STARTS = 1 << 21,
};

typedef struct train_opts {
    unsigned given;                   /* TRAIN_GIVEN_* */
    /* a new run's model (a resumed run and --init take them from the model) */
    int streams;                      /* char-rnn: the text cut into `batch` streams */
    int hidden, layers, cell;         /* H, L, CELL_* */
    int steps;                        /* steps per batch with streams (0: 100) */
    /* the settings a model keeps (train_state) */
    int batch;
    double lr, val, clip, dropout;
    char schedule[16];                /* none, cosine, step */
    double decay_rate;
    int decay_every;
    long seed;
    double weight_drop, locked_dropout, input_dropout, weight_decay;
    long warmup;
    double ema;                       /* average the weights with this decay per step (0: off;
                                         train_state's ema) */
    int random_starts;                /* --streams: each epoch's streams start at a random place
                                         (train_state's) */
    /* the run's horizon, kept in the model: -e epochs in all, and/or max_seconds of training */
    int epochs;
    double max_seconds;               /* 0: none */
    /* this invocation */
    int resume;                       /* continue the run of the model given to train_setup */
    int init;                         /* a new run from a model's weights (train_setup's init) */
    int same_ok;                      /* resuming, options the model fixes may be given when they
                                         equal the model's (one command line starts the run and
                                         continues it: --continue) */
    long max_batches;                 /* stop after this many batches (0: no limit) */
    long eval_every;                  /* validate every N batches too (0: at epoch ends only) */
    int keep_best;                    /* save TRAIN_SAVE_BEST at each new best validation loss */
    int output;                       /* there is a checkpoint file: save TRAIN_SAVE_CHECKPOINT at
                                         every epoch's end and every stop; else TRAIN_SAVE_FINAL
                                         once, at the end (unless max_batches) */
    long checkpoint_every;            /* a checkpoint every N batches too (0: off) */
    double checkpoint_seconds;        /* ... or every S seconds (0: off) */
    long sample_every;                /* the sample hook every N batches; 0: at epoch ends; -1 off */
    long print_every;                 /* TRAIN_EV_PRINT every N batches this invocation trains */
    double print_seconds;             /* ... or every S seconds, whichever comes first (0: off) */
    int threads;                      /* for the caller's trainer_new */
    int precision;                    /* the steps' products, LSTM_FP32 or LSTM_BF16 (lstm.h); not
                                         kept in the model: each invocation says (train_run sets it
                                         with trainer_set_precision) */
} train_opts;

/* The defaults: Keras's (batch 64, lr 1e-3, val 0.2, H 128, one LSTM layer, one epoch), and a
 * thread for every CPU this process may use. */
void train_opts_init(train_opts *o);

/* The options against each other, before any file is read: --init or --resume (resume), not
 * both; --continue (same_ok) and checkpoints need an output. 0, or TRAIN_EUSAGE with a
 * message. */
int train_opts_check(const train_opts *o, char *err, size_t cap);

/* The model file path for a run, read (model_read) and checked against the options before
 * the data is read: with st, a run to resume (st receives its training state; the options
 * the model fixes are checked), with st NULL, --init's weights (their shape is checked).
 * train_setup checks the same again. Returns 0, or -1 or TRAIN_EUSAGE with a message in err
 * (and m, st freed). */
int train_read_model(const train_opts *o, model *m, train_state *st, const char *path,
                     char *err, size_t cap);

/* Why two vocabularies differ (the unit, lowercasing, the size, the first differing symbol)
 * into why, or NULL when they are the same. The one comparison for --resume and --init. */
const char *train_vocab_differs(const model *m, const frame_vocab *v, char *why, size_t cap);

/* The run's model and training state from the options and the data d: with o->resume, m and
 * st hold the model being resumed (model_read); with init (a model), a new run from its
 * weights and shape; else a new model initialised as Keras does. Checks the options against
 * the model, the vocabularies, the window length and targets, and the data's fingerprint
 * (recorded unless sharded: each process then holds its own shard), and sets the horizon.
 * label names the model file. Returns 0, -1 or TRAIN_EUSAGE with a message in err. */
int train_setup(model *m, train_state *st, const train_opts *o, const model *init,
                const dataset *d, int sharded, const char *label, char *err, size_t cap);

/* Epochs the run ends after (-1: none, a time budget alone) */
int64_t train_epoch_limit(const train_opts *o, const train_state *st);

/* Why train_run returned. */
typedef enum train_stop {
    TRAIN_STOP_EPOCHS,                /* the horizon's epochs are complete */
    TRAIN_STOP_TIME,                  /* the time budget is spent */
    TRAIN_STOP_MAX_BATCHES,           /* max_batches were trained */
    TRAIN_STOP_NOTHING,               /* a resumed run had already reached its horizon */
    TRAIN_STOP_INTERRUPT,             /* asked to stop (TRAIN_REQ_INTERRUPT): checkpoint saved */
    TRAIN_STOP_TERMINATE,             /* asked to stop (TRAIN_REQ_TERMINATE): checkpoint saved */
    TRAIN_STOP_DIVERGED,              /* the loss became infinite or NaN (trainer_error says where) */
    TRAIN_STOP_ERROR,                 /* a hook or the processes failed (trainer_error) */
} train_stop;

/* Requests, as the request hook returns them (bits). */
enum { TRAIN_REQ_CHECKPOINT = 1, TRAIN_REQ_INTERRUPT = 2, TRAIN_REQ_TERMINATE = 4 };

/* What the progress hook is told. */
typedef enum train_event {
    TRAIN_EV_NOTHING,                 /* resumed with nothing left to train (before the save) */
    TRAIN_EV_EPOCH_BEGIN,
    TRAIN_EV_STEP,                    /* a batch was trained */
    TRAIN_EV_MAX_BATCHES,             /* the max_batches-th batch: run_steps, step_seconds */
    TRAIN_EV_STOPPING,                /* the run stops within an epoch (before it saves) */
    TRAIN_EV_VALIDATED,               /* a validation within an epoch (eval_every) */
    TRAIN_EV_EPOCH_END,               /* an epoch complete and validated */
    TRAIN_EV_BUDGET_SPENT,            /* the time budget ended within an epoch (validated) */
    TRAIN_EV_BUDGET_END,              /* ... or with this epoch (after its save) */
    TRAIN_EV_CHECKPOINT,              /* a checkpoint written on request or by the clock; saved:
                                         0 when there is no checkpoint file */
    TRAIN_EV_STOPPED,                 /* asked to stop: the checkpoint saved (saved 0: no file) */
    TRAIN_EV_PRINT,                   /* after a STEP: time for a progress line (print_every) */
} train_event;

typedef struct train_status {
    int64_t epoch;                    /* the epoch in progress, from 1 (EPOCH_END: completed) */
    int64_t epoch_limit;              /* -1: none */
    long batch, nbatches;             /* batches done of the epoch's */
    long first_batch;                 /* where this invocation started the epoch */
    double at;                        /* epochs done, with the fraction of this one */
    double loss;                      /* mean training loss so far this epoch (EPOCH_END: all) */
    double val_loss;                  /* VALIDATED, EPOCH_END, BUDGET_SPENT */
    double seconds;                   /* EPOCH_END: the epoch's (wall clock) */
    double rate;                      /* windows or characters a second of training, this epoch */
    double eta_epoch, eta_run;        /* STEP: seconds to the epoch's end and to the run's, with
                                         the validations on the way (eta_run -1: this epoch ends it) */
    double train_seconds, horizon_seconds;   /* training time so far; the budget (0: none) */
    long run_steps;                   /* batches this invocation trained ... */
    double step_seconds;              /* ... and their seconds */
    int request;                      /* CHECKPOINT, STOPPED: the TRAIN_REQ_* bits agreed */
    int saved;                        /* CHECKPOINT, STOPPED: a checkpoint was written */
} train_status;

enum { TRAIN_SAVE_CHECKPOINT, TRAIN_SAVE_BEST, TRAIN_SAVE_FINAL };

typedef struct train_hooks {
    void *ctx;
    void (*progress)(void *ctx, train_event ev, const train_status *s);
    /* during a validation: done (0 .. 1] of it after elapsed seconds */
    void (*validating)(void *ctx, double done, double elapsed);
    /* a line of the loss log: at epochs, losses, the seconds since the last line and the
     * windows or characters a second in them */
    void (*log)(void *ctx, double at, double train_loss, double val_loss, double seconds,
                double rate);
    /* write the model and its training state: the checkpoint file, the best model, or (no
     * checkpoint file) the final model. 0, or -1 (the run stops: TRAIN_STOP_ERROR). */
    int (*save)(void *ctx, int what);
    void (*sample)(void *ctx, double at);
    /* Called on every process before each step: TRAIN_REQ_* bits asked for since the last
     * call (a signal, say). NULL: none. */
    int (*request)(void *ctx);
} train_hooks;

/* Train until the horizon, max_batches, or a request to stop. */
train_stop train_run(trainer *tr, const train_opts *o, const train_hooks *h);

/* A line of the loss log, as train --log writes it, from the log hook's values: tab-separated
 * "epoch train_loss val_loss seconds UNIT_per_s" (after that header line when header), or with
 * json a JSON object of those names (null for a value that is not finite); unit is "windows"
 * or "chars". Into line (1024 bytes hold any line); returns its length. */
int train_log_line(char *line, size_t cap, int json, int header, const char *unit, double at,
                   double train_loss, double val_loss, double seconds, double rate);

/* The model and its training state written to fd, as the save hook writes them: refused when
 * the model would not read back (model_loadable: the parameters diverged), and when readback
 * (the file just written) is not NULL, read back from it. path names the file in messages
 * (NULL: stdout). Returns 0, or -1 with a message. */
int train_save(const model *m, const train_state *st, int fd, const char *path,
               const char *readback, char *err, size_t cap);

/* The samples of the model during the run (train --sample-every): each one what 'sample -m
 * MODEL --rng-seed SEED' writes from the model at that point (SEED the run's --seed), read
 * after the same prompt. */
typedef struct train_samples {
    codec cd;                         /* the model's vocabulary */
    int32_t *prompt;                  /* the prompt as indices */
    int plen;
} train_samples;

/* The prompt: seed, a text read as the model reads it, or with seed NULL the start of the
 * data d (its first 40 characters of text, or its first window). Returns 0, -1, or
 * TRAIN_EUSAGE when seed is empty or holds a character outside the vocabulary; the message
 * in err. m must outlive s (its vocabulary is kept by pointer). */
int train_samples_init(train_samples *s, const model *m, const dataset *d, const char *seed,
                       char *err, size_t cap);
void train_samples_free(train_samples *s);

/* One sample at temperature t into f: the prompt, then n characters drawn from st's seed
 * (stateful for a char-rnn model, else by windows). Returns 0, or -1 with a message. */
int train_sample(const train_samples *s, const kern_ops *k, const model *m,
                 const train_state *st, double t, long n, FILE *f, char *err, size_t cap);

/* What an epoch is, for the caller's report. */
typedef struct train_info {
    long nbatches;                    /* per epoch */
    size_t ntrain, nval;              /* windows, or characters of text */
    size_t per_stream;                /* streams: training characters per stream */
} train_info;
void trainer_info(const trainer *tr, train_info *info);

/* The message of the last TRAIN_STOP_DIVERGED or TRAIN_STOP_ERROR. */
const char *trainer_error(const trainer *tr);

#endif
