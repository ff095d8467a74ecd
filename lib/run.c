/* run.c - a training run: options, setup, the loop, its stops. See run.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "generate.h"
#include "optim.h"
#include "par.h"
#include "util.h"
#include "run.h"

void train_opts_init(train_opts *o)
{
    *o = (train_opts){ .hidden = 128, .layers = 1, .cell = CELL_LSTM, .batch = 64, .lr = 1e-3,
                       .val = 0.2, .decay_rate = 0.5, .decay_every = 1, .seed = 1, .epochs = 1,
                       .sample_every = -1, .threads = par_ncpu() };
    strcpy(o->schedule, "none");
}

/* ---- the options against a model ---- */

#define SETTINGS (TRAIN_GIVEN_LR | TRAIN_GIVEN_VAL | TRAIN_GIVEN_CLIP | TRAIN_GIVEN_SEED)
#define REGUL (TRAIN_GIVEN_WEIGHT_DROP | TRAIN_GIVEN_LOCKED_DROPOUT | TRAIN_GIVEN_INPUT_DROPOUT \
               | TRAIN_GIVEN_WEIGHT_DECAY | TRAIN_GIVEN_WARMUP | TRAIN_GIVEN_EMA \
               | TRAIN_GIVEN_STREAM_STARTS)
#define SCHEDULE (TRAIN_GIVEN_DROPOUT | TRAIN_GIVEN_SCHEDULE | TRAIN_GIVEN_DECAY_RATE \
                  | TRAIN_GIVEN_DECAY_EVERY)

static int usage(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
    snprintf(err, cap, fmt, a, b);
    return TRAIN_EUSAGE;
}

int train_opts_check(const train_opts *o, char *err, size_t cap)
{
    if (o->init && o->resume)
        return usage(err, cap, "--init starts a new run from a model's weights, --resume continues one: not both", "", "");
    if (o->same_ok && (o->resume || o->init || !o->output))
        return usage(err, cap, "--continue resumes the -o file's run when there is one: it needs -o, and not "
                     "--resume or --init", "", "");
    if ((o->checkpoint_every || o->checkpoint_seconds) && !o->output)
        return usage(err, cap, "--checkpoint-every writes the -o file: give -o FILE", "", "");
    if (o->random_starts && !o->streams)
        return usage(err, cap, "--stream-starts is for --streams: windows are shuffled every epoch already", "", "");
    return 0;
}

/* v in as few digits as read back the same (15, else 17) */
static void shortest(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

/* --continue: the settings given must be the model's; the first that is not, into err. */
static int same_settings(const train_opts *o, const train_state *st, const char *label,
                         char *err, size_t cap)
{
    const struct { unsigned bit; const char *name; double given, model; } set[] = {
        { TRAIN_GIVEN_LR, "--lr", o->lr, st->lr },
        { TRAIN_GIVEN_VAL, "--val", o->val, st->val_split },
        { TRAIN_GIVEN_CLIP, "--clip", o->clip, st->clip },
        { TRAIN_GIVEN_SEED, "--seed", (double)o->seed, (double)st->seed },
        { TRAIN_GIVEN_DROPOUT, "--dropout", o->dropout, st->dropout },
        { TRAIN_GIVEN_DECAY_RATE, "--decay-rate", o->decay_rate, st->decay_rate },
        { TRAIN_GIVEN_DECAY_EVERY, "--decay-every", o->decay_every, st->decay_every },
        { TRAIN_GIVEN_WEIGHT_DROP, "--weight-drop", o->weight_drop, st->weight_drop },
        { TRAIN_GIVEN_LOCKED_DROPOUT, "--locked-dropout", o->locked_dropout, st->locked_dropout },
        { TRAIN_GIVEN_INPUT_DROPOUT, "--input-dropout", o->input_dropout, st->input_dropout },
        { TRAIN_GIVEN_WEIGHT_DECAY, "--weight-decay", o->weight_decay, st->weight_decay },
        { TRAIN_GIVEN_WARMUP, "--warmup", (double)o->warmup, (double)st->warmup },
        { TRAIN_GIVEN_EMA, "--ema", o->ema, st->ema },
    };
    char g[64], mv[64];
    const char *name = NULL;
    for (size_t i = 0; !name && i < sizeof set / sizeof *set; i++)
        if ((o->given & set[i].bit) && set[i].given != set[i].model) {
            name = set[i].name;
            shortest(g, sizeof g, set[i].given);
            shortest(mv, sizeof mv, set[i].model);
        }
    if (!name && (o->given & TRAIN_GIVEN_SCHEDULE) && strcmp(o->schedule, st->schedule) != 0) {
        name = "--schedule";
        snprintf(g, sizeof g, "%s", o->schedule);
        snprintf(mv, sizeof mv, "%s", st->schedule);
    }
    if (!name && (o->given & TRAIN_GIVEN_STREAM_STARTS) && o->random_starts != st->random_starts) {
        name = "--stream-starts";
        snprintf(g, sizeof g, "%s", starts_name(o->random_starts));
        snprintf(mv, sizeof mv, "%s", starts_name(st->random_starts));
    }
    if (!name)
        return 0;
    snprintf(err, cap, "--continue: the run in %s has %s %s, not %s: a resumed run keeps the settings "
             "it started with (to change them, start a new run from its weights: --init %s)",
             label, name, mv, g, label);
    return TRAIN_EUSAGE;
}

/* The options against a model: for a resumed run (st its training state) the options the
 * model fixes, for --init (st NULL) its shape; label names the model. */
static int check_model(const train_opts *o, const model *m, const train_state *st,
                       const char *label, char *err, size_t cap)
{
    unsigned g = o->given;
    if (!st) {                        /* --init: the shape is the model's */
        if (((g & TRAIN_GIVEN_HIDDEN) && o->hidden != m->dim.H) || ((g & TRAIN_GIVEN_LAYERS) && o->layers != m->dim.L)
            || ((g & TRAIN_GIVEN_CELL) && o->cell != m->dim.cell)) {
            snprintf(err, cap, "--init takes the hidden size, layers and cell from the model (%d, %d, %s)",
                     m->dim.H, m->dim.L, cell_name(m->dim.cell));
            return TRAIN_EUSAGE;
        }
        return 0;
    }
    if (!st->adam_m)
        return lib_fail(err, cap, "%s: the model has no optimizer state to resume from", label);
    if (((g & TRAIN_GIVEN_HIDDEN) && o->hidden != m->dim.H) || ((g & TRAIN_GIVEN_BATCH) && o->batch != st->batch)
        || ((g & TRAIN_GIVEN_LAYERS) && o->layers != m->dim.L) || ((g & TRAIN_GIVEN_CELL) && o->cell != m->dim.cell)
        || (m->streams && o->steps && o->steps != m->maxlen)) {
        snprintf(err, cap, "--resume takes the hidden size, layers, cell, batch and steps from the model "
                 "(%d, %d, %s, %d, %d)", m->dim.H, m->dim.L, cell_name(m->dim.cell), st->batch, m->maxlen);
        return TRAIN_EUSAGE;
    }
    if (o->same_ok) {
        if (same_settings(o, st, label, err, cap) < 0)
            return TRAIN_EUSAGE;
    } else if (g & SETTINGS) {
        return usage(err, cap, "--resume takes --lr, --val, --clip and --seed from the model", "", "");
    } else if (g & REGUL) {
        return usage(err, cap, "--resume takes --weight-drop, --locked-dropout, --input-dropout, "
                     "--weight-decay, --warmup, --ema and --stream-starts from the model", "", "");
    } else if (g & SCHEDULE) {
        return usage(err, cap, "--resume takes --dropout, --schedule, --decay-rate and --decay-every "
                     "from the model", "", "");
    }
    if (!!m->streams != o->streams)
        return usage(err, cap, "%s was trained %s --streams; resume it the same way", label,
                     m->streams ? "with" : "without");
    return 0;
}

int train_read_model(const train_opts *o, model *m, train_state *st, const char *path,
                     char *err, size_t cap)
{
    if (model_read(m, st, path, err, cap) < 0)
        return -1;
    int rc = check_model(o, m, st, path, err, cap);
    if (rc < 0) {
        model_free(m);
        if (st)
            train_state_free(st);
    }
    return rc;
}

/* A symbol for a message: the character when printable ASCII, else U+XXXX (or a byte). */
static void symbol(char *out, size_t cap, uint32_t c, int byte_unit)
{
    if (c > 0x20 && c < 0x7f)
        snprintf(out, cap, "'%c'", (char)c);
    else
        snprintf(out, cap, byte_unit ? "byte 0x%02X" : "U+%04X", (unsigned)c);
}

const char *train_vocab_differs(const model *m, const frame_vocab *v, char *why, size_t cap)
{
    if (m->byte_unit != v->byte_unit) {
        snprintf(why, cap, "the model's symbols are %s, the input's %s", m->byte_unit ? "bytes" : "code points",
                 v->byte_unit ? "bytes (vocab --bytes)" : "code points (vocab without --bytes)");
    } else if (m->lower != v->lower) {
        snprintf(why, cap, "the model's text was %slowercased, the input's %s", m->lower ? "" : "not ",
                 v->lower ? "was (vocab --lower)" : "was not (vocab --lower)");
    } else if (m->dim.V != v->V) {
        snprintf(why, cap, "the model has %d symbols, the input %d", m->dim.V, v->V);
    } else {
        int i = 0;
        while (i < v->V && m->vocab[i] == v->cp[i])
            i++;
        if (i == v->V)
            return NULL;
        char a[32], b[32];
        symbol(a, sizeof a, m->vocab[i], m->byte_unit);
        symbol(b, sizeof b, v->cp[i], v->byte_unit);
        snprintf(why, cap, "symbol %d is %s in the model, %s in the input", i, a, b);
    }
    return why;
}

/* A fresh model for the data d, initialised as Keras does. */
static int new_model(model *m, train_state *st, const train_opts *o, lstm_dims dim, int N,
                     const dataset *d, char *err, size_t cap)
{
    if (model_alloc(m, dim, N) < 0 || train_state_alloc(st, lstm_nparams(m->dim)) < 0)
        return lib_fail(err, cap, "out of memory (a model of %d hidden units, %d layers)", dim.H, dim.L);
    memcpy(m->vocab, d->vocab.cp, d->vocab.V * sizeof(uint32_t));
    m->byte_unit = d->vocab.byte_unit;
    m->lower = d->vocab.lower;
    st->batch = o->batch;
    st->lr = o->lr;
    st->clip = o->clip;
    st->val_split = o->val;
    st->dropout = o->dropout;
    st->weight_drop = o->weight_drop;
    st->locked_dropout = o->locked_dropout;
    st->input_dropout = o->input_dropout;
    st->weight_decay = o->weight_decay;
    st->warmup = o->warmup;
    st->ema = o->ema;
    st->random_starts = o->random_starts;
    snprintf(st->schedule, sizeof st->schedule, "%s", o->schedule);
    st->decay_rate = o->decay_rate;
    st->decay_every = o->decay_every;
    m->per_position = o->streams || d->ylen > 1;
    m->streams = o->streams ? o->batch : 0;
    st->seed = (uint64_t)o->seed;
    rng_seed(&st->rng, st->seed);
    if (lstm_init_keras(&m->p, &st->rng) < 0)
        return lib_fail(err, cap, "out of memory");
    st->rng_epoch = st->rng;
    return 0;
}

int64_t train_epoch_limit(const train_opts *o, const train_state *st)
{
    return (o->given & TRAIN_GIVEN_EPOCHS) || st->horizon_epochs > 0 ? st->horizon_epochs : -1;
}

/* The run's horizon, where it ends: after -e epochs in total and/or max_seconds of training
 * in total. Resuming, the model's unless given again; a model from before horizons were kept
 * ends after -e (default 1) as then. */
static void set_horizon(train_state *st, const train_opts *o)
{
    int known = o->resume && (st->horizon_epochs > 0 || st->horizon_seconds > 0);
    if ((o->given & TRAIN_GIVEN_MAX_SECONDS) || !o->resume)
        st->horizon_seconds = o->max_seconds;
    if (o->given & TRAIN_GIVEN_EPOCHS)
        st->horizon_epochs = o->epochs;
    else if (!known)
        st->horizon_epochs = st->horizon_seconds > 0 ? 0 : o->epochs;
    if (st->horizon_seconds <= 0)
        st->train_seconds = 0;
}

int train_setup(model *m, train_state *st, const train_opts *o, const model *init,
                const dataset *d, int sharded, const char *label, char *err, size_t cap)
{
    char why[160];
    int rc;
    if (!o->streams && o->steps && o->steps != d->N) {
        snprintf(err, cap, "-n %d: the windows are %d long (-n applies to --streams and --summary)", o->steps, d->N);
        return TRAIN_EUSAGE;
    }
    if (o->resume) {
        if ((rc = check_model(o, m, st, label, err, cap)) < 0)
            return rc;
        if (train_vocab_differs(m, &d->vocab, why, sizeof why))
            return lib_fail(err, cap, "%s: the model's vocabulary differs from the input's: %s", label, why);
        if (!o->streams && m->maxlen != d->N)
            return lib_fail(err, cap, "%s: the model was trained on windows of %d, the input has %d", label, m->maxlen, d->N);
        if (!o->streams && m->per_position != (d->ylen > 1))
            return lib_fail(err, cap, "%s: the model was trained with %s targets", label,
                            m->per_position ? "per-position" : "last-step");
    } else {
        lstm_dims dim = { d->vocab.V, o->hidden, o->layers, o->cell };
        if (init) {
            if ((rc = check_model(o, init, NULL, label, err, cap)) < 0)
                return rc;
            if (train_vocab_differs(init, &d->vocab, why, sizeof why))
                return lib_fail(err, cap, "%s: the input's vocabulary (%d symbols) is not the model's (%d): %s; "
                                "encode the new text with the model's: vocab -v %s < TEXT | ...", label,
                                d->vocab.V, init->dim.V, why, label);
            dim = init->dim;
        }
        if (new_model(m, st, o, dim, o->streams ? (o->steps ? o->steps : 100) : d->N, d, err, cap) < 0)
            return -1;
        if (init)                     /* its weights; all else (optimizer, RNG, epochs) is new */
            memcpy(m->params, init->params, lstm_nparams(m->dim) * sizeof(float));
        /* averaging: training updates st->raw from the initial weights, m holds the average */
        size_t np = lstm_nparams(m->dim);
        if (st->ema > 0 && !(st->raw = lib_zalloc(np * sizeof(float))))
            return lib_fail(err, cap, "out of memory for the averaged weights");
        if (st->raw)
            memcpy(st->raw, m->params, np * sizeof(float));
    }
    /* The data's fingerprint: a resumed run is refused on other data. With shards each
     * process holds different data and none is recorded (nor checked). */
    uint64_t size = 0, hash = sharded ? 0 : dataset_fingerprint(d, &size);
    if (o->resume && st->has_data_fp && !sharded && (size != st->data_size || hash != st->data_hash))
        return lib_fail(err, cap, "%s: the input is not the data the model was trained on (%llu %s, fnv1a64:%016llx; "
                        "this input: %llu, fnv1a64:%016llx); to train it on other data, start a new run from its "
                        "weights: train --init %s", label, (unsigned long long)st->data_size,
                        o->streams ? "characters" : "windows", (unsigned long long)st->data_hash,
                        (unsigned long long)size, (unsigned long long)hash, label);
    st->has_data_fp = !sharded;
    st->data_size = size;
    st->data_hash = hash;
    set_horizon(st, o);
    return 0;
}

/* ---- the run ---- */

enum { REQ_TIMER = 8 };               /* a checkpoint by the clock or the batch count */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct run {
    trainer *tr;
    model *m;
    train_state *st;
    const train_opts *o;
    const train_hooks *h;
    int rank0;                        /* reports and writes */
    int64_t limit;                    /* epochs (-1: none) */
    long nbatches;
    double per_batch;                 /* windows or characters in a full batch */
    double train_secs;                /* training time of the run so far */
    double since_log, items_since_log;   /* since the last log line */
    double last_val_secs;             /* how long the last validation took (-1: none yet) */
    double val_started;
    double last_ckpt;                 /* when the last timed checkpoint was written */
    double printed_at;                /* when the last progress line was due (0: none yet) */
    long since_print;                 /* batches since */
    train_status s;
} run;

static void event(run *r, train_event ev)
{
    if (r->rank0 && r->h->progress)
        r->h->progress(r->h->ctx, ev, &r->s);
}

static int fail(run *r, const char *msg)
{
    snprintf(r->tr->error, sizeof r->tr->error, "%s", msg);
    return -1;
}

static int save(run *r, int what)
{
    if (!r->rank0 || !r->h->save)
        return 0;
    return r->h->save(r->h->ctx, what) < 0 ? fail(r, "the model could not be saved") : 0;
}

/* The streams' carried state into the training state, for a checkpoint within an epoch
 * (every process takes part). */
static int keep_state(run *r)
{
    if (r->m->streams && trainer_save_state(r->tr) < 0)
        return fail(r, "out of memory for the carried state");
    return 0;
}

static void val_progress(void *ctx, double done)
{
    run *r = ctx;
    r->h->validating(r->h->ctx, done, now() - r->val_started);
}

static double validate(run *r)
{
    r->val_started = now();
    if (r->rank0 && r->h->validating) {
        r->tr->ev->progress = val_progress;
        r->tr->ev->progress_ctx = r;
    }
    double v = trainer_validate(r->tr);
    r->tr->ev->progress = NULL;
    r->last_val_secs = now() - r->val_started;
    return v;
}

static void log_line(run *r, double at, double tl, double vl)
{
    if (r->rank0 && r->h->log)
        r->h->log(r->h->ctx, at, tl, vl, r->since_log, r->items_since_log / r->since_log);
    r->since_log = r->items_since_log = 0;
}

/* A validation loss v lower than any before saves the best model, with the streams' carried
 * state when it comes from the middle of an epoch (so the file resumes). */
static int keep_best(run *r, double v)
{
    train_state *st = r->st;
    if (!r->o->keep_best || !isfinite(v) || v >= st->best_val_loss)   /* (NAN best: none yet) */
        return 0;
    st->best_val_loss = v;
    if (st->epoch_batches > 0 && keep_state(r) < 0)
        return -1;
    return save(r, TRAIN_SAVE_BEST);
}

/* The schedule's progress through the run (0 .. 1): the batches done of the epochs' batches,
 * or the seconds of training done of the time budget, whichever is further on. Both count
 * from the start of the run, so a resumed run follows the uninterrupted one's curve. */
static double progress(const run *r)
{
    const train_state *st = r->st;
    double p = 0;
    if (r->limit > 0)
        p = ((double)st->epochs * r->nbatches + (double)st->epoch_batches) / ((double)r->limit * r->nbatches);
    if (st->horizon_seconds > 0 && r->train_secs / st->horizon_seconds > p)
        p = r->train_secs / st->horizon_seconds;
    return p;
}

/* The time `batches` more batches take from batch pos of an epoch, at spb seconds a batch,
 * with the validations they bring (at each epoch's end, every eval_every, and one at a
 * budget's end) at the last one's time. */
static double eta(const run *r, double batches, long pos, double spb, int budget_end)
{
    double nval = floor((pos + batches) / r->nbatches)
                  + (r->o->eval_every ? floor(batches / r->o->eval_every) : 0) + budget_end;
    return batches * spb + (r->last_val_secs > 0 ? nval * r->last_val_secs : 0);
}

/* The ETAs of the epoch and of the run after batch bi: the batches left (the epochs', or as
 * many as the time budget leaves), their validations, at this epoch's pace. */
static void etas(run *r, long bi, double tbar)
{
    const train_state *st = r->st;
    double spb = tbar / (double)(bi + 1 - r->s.first_batch), left = r->nbatches - bi - 1;
    double to_go = r->limit >= 0 ? (double)(r->limit - st->epochs - 1) * r->nbatches + left : -1;
    int budget_end = 0;
    if (st->horizon_seconds > 0) {
        double by_time = ceil((st->horizon_seconds - r->train_secs) / spb);
        by_time = by_time > 0 ? by_time : 0;
        if (to_go < 0 || by_time < to_go)
            to_go = by_time, budget_end = 1;
    }
    r->s.eta_epoch = eta(r, to_go < left ? to_go : left, bi + 1, spb, budget_end && to_go < left);
    r->s.eta_run = to_go > left ? eta(r, to_go, bi + 1, spb, budget_end) : -1;
}

/* A progress line is due: print_every batches or print_seconds after the last (the clock
 * starts at the first batch). */
static int print_due(run *r)
{
    double t = now();
    if (r->printed_at == 0)
        r->printed_at = t;
    if (!(r->o->print_every && ++r->since_print >= r->o->print_every)
        && !(r->o->print_seconds > 0 && t - r->printed_at >= r->o->print_seconds))
        return 0;
    r->printed_at = t;
    r->since_print = 0;
    return 1;
}

/* Rank 0's value of x on every process. */
static int from_rank0(const trainer *tr, double *x)
{
    if (tr->comm.size < 2)
        return 0;
    double v = tr->comm.rank == 0 ? *x : 0;
    if (tr->comm.sum(tr->comm.ctx, NULL, 0, &v, 1) < 0)
        return -1;
    *x = v;
    return 0;
}

/* A checkpoint within an epoch: the carried state, then the checkpoint file. */
static int checkpoint(run *r)
{
    if (keep_state(r) < 0)
        return -1;
    return r->o->output ? save(r, TRAIN_SAVE_CHECKPOINT) : 0;
}

train_stop train_run(trainer *tr, const train_opts *o, const train_hooks *h)
{
    model *m = tr->m;
    train_state *st = tr->st;
    run R = { .tr = tr, .m = m, .st = st, .o = o, .h = h, .rank0 = tr->comm.rank == 0,
              .limit = train_epoch_limit(o, st), .nbatches = tr->nbatches,
              .per_batch = (double)st->batch * (m->streams ? tr->N : 1),
              .train_secs = st->train_seconds, .last_val_secs = -1, .last_ckpt = now() };
    run *r = &R;
    train_status *s = &R.s;
    s->epoch_limit = R.limit;
    s->nbatches = R.nbatches;
    s->horizon_seconds = st->horizon_seconds;
    int budget = st->horizon_seconds > 0 && R.train_secs >= st->horizon_seconds;   /* spent */
    int stop = 0, saved = 0;          /* saved: the checkpoint file holds the current model */
    int last_epoch = 0;               /* the run ends with this epoch's end */
    int max_hit = 0, pending = 0;     /* a checkpoint asked for at an epoch's last batch */
    train_stop why = TRAIN_STOP_EPOCHS;
    if (trainer_set_precision(tr, o->precision, tr->error, sizeof tr->error) < 0)
        return TRAIN_STOP_ERROR;
    if ((budget || (R.limit >= 0 && st->epochs >= R.limit)) && o->resume) {
        why = TRAIN_STOP_NOTHING;
        s->train_seconds = R.train_secs;
        s->epoch = st->epochs;
        event(r, TRAIN_EV_NOTHING);
    }
    stop = budget;
    while ((R.limit < 0 || st->epochs < R.limit) && !stop) {
        rng_t rng = st->rng_epoch;
        trainer_epoch_begin(tr, &rng);
        s->epoch = st->epochs + 1;
        event(r, TRAIN_EV_EPOCH_BEGIN);
        double t0 = now(), tbar = 0;
        s->first_batch = (long)st->epoch_batches;
        for (long bi = s->first_batch; bi < R.nbatches; bi++) {
            /* requests: this process's (a signal; rank 0's clock for timed checkpoints),
             * summed across the processes with the step's gradient */
            int req = h->request ? h->request(h->ctx) : 0;
            if (o->checkpoint_seconds > 0 && R.rank0 && now() - R.last_ckpt >= o->checkpoint_seconds)
                req |= REQ_TIMER;
            double shared[4];
            for (int i = 0; i < 4; i++)
                shared[i] = req >> i & 1;
            double ts = now();
            train_step_shared(tr, bi, trainer_lr(tr, progress(r)), shared, 4);
            if (tr->comm.size > 1) {          /* what any process asked for */
                req = 0;
                for (int i = 0; i < 4; i++)
                    req |= shared[i] > 0 ? 1 << i : 0;
            } else if (h->request) {          /* alone: what came during the step too */
                req |= h->request(h->ctx);
            }
            s->run_steps++;
            double dt = now() - ts;
            R.train_secs += dt;
            if (st->horizon_seconds > 0 && from_rank0(tr, &R.train_secs) < 0) {   /* for the schedule and the budget */
                fail(r, "the processes could not agree on the training time");
                return TRAIN_STOP_ERROR;
            }
            st->train_seconds = R.train_secs;
            s->train_seconds = R.train_secs;
            s->step_seconds += dt;
            R.since_log += dt;
            tbar += dt;
            size_t a = (size_t)bi * st->batch;
            R.items_since_log += m->streams ? R.per_batch
                                 : (double)(tr->ntrain - a < (size_t)st->batch ? tr->ntrain - a : (size_t)st->batch);
            double loss = st->epoch_loss_sum / trainer_targets(tr, bi + 1);   /* so far this epoch */
            s->batch = bi + 1;
            s->at = st->epochs + (double)(bi + 1) / R.nbatches;
            s->loss = loss;
            if (!isfinite(st->epoch_loss_sum)) {
                snprintf(tr->error, sizeof tr->error, "the loss became %f at epoch %lld batch %ld (try a lower --lr or --clip)",
                         st->epoch_loss_sum, (long long)st->epochs + 1, bi + 1);
                return TRAIN_STOP_DIVERGED;
            }
            if (o->max_batches && s->run_steps >= o->max_batches) {
                max_hit = 1;
                event(r, TRAIN_EV_MAX_BATCHES);
                if (bi + 1 == R.nbatches) {   /* the epoch ends as usual, and the run with it */
                    last_epoch = 1;
                } else {                      /* a checkpoint in the middle of the epoch */
                    event(r, TRAIN_EV_STOPPING);
                    if (o->output && checkpoint(r) < 0)
                        return TRAIN_STOP_ERROR;
                    return TRAIN_STOP_MAX_BATCHES;
                }
            }
            if (req & (TRAIN_REQ_INTERRUPT | TRAIN_REQ_TERMINATE)) {
                event(r, TRAIN_EV_STOPPING);
                if (checkpoint(r) < 0)
                    return TRAIN_STOP_ERROR;
                s->request = req;
                s->saved = o->output;
                event(r, TRAIN_EV_STOPPED);
                return req & TRAIN_REQ_TERMINATE ? TRAIN_STOP_TERMINATE : TRAIN_STOP_INTERRUPT;
            }
            if (st->horizon_seconds > 0 && R.train_secs >= st->horizon_seconds && !last_epoch) {
                why = TRAIN_STOP_TIME;
                if (bi + 1 == R.nbatches) {   /* the epoch ends as usual, and the run with it */
                    last_epoch = 1;
                } else {
                    /* the time budget is spent: validate, log and save as at an epoch's end */
                    event(r, TRAIN_EV_STOPPING);
                    if (keep_state(r) < 0)
                        return TRAIN_STOP_ERROR;
                    st->train_loss = loss;
                    st->val_loss = validate(r);
                    s->val_loss = st->val_loss;
                    event(r, TRAIN_EV_BUDGET_SPENT);
                    log_line(r, s->at, st->train_loss, st->val_loss);
                    if (keep_best(r, st->val_loss) < 0)
                        return TRAIN_STOP_ERROR;
                    stop = 1;
                    break;
                }
            }
            if (o->eval_every && st->steps % o->eval_every == 0 && bi + 1 < R.nbatches) {
                double v = validate(r);
                log_line(r, s->at, loss, v);
                s->val_loss = v;
                event(r, TRAIN_EV_VALIDATED);
                if (keep_best(r, v) < 0)
                    return TRAIN_STOP_ERROR;
            }
            if (o->sample_every > 0 && st->steps % o->sample_every == 0 && R.rank0 && h->sample)
                h->sample(h->ctx, s->at);
            if (o->checkpoint_every > 0 && st->steps % o->checkpoint_every == 0)
                req |= REQ_TIMER;
            if (req & (TRAIN_REQ_CHECKPOINT | REQ_TIMER)) {
                R.last_ckpt = now();
                s->request = req & TRAIN_REQ_CHECKPOINT;
                s->saved = o->output;
                if (bi + 1 == R.nbatches) {   /* the epoch's end is about to save */
                    pending = req;
                } else {
                    if (checkpoint(r) < 0)
                        return TRAIN_STOP_ERROR;
                    event(r, TRAIN_EV_CHECKPOINT);
                }
            }
            if (h->progress && R.rank0)
                etas(r, bi, tbar);
            s->rate = (double)(bi + 1 - s->first_batch) * R.per_batch / tbar;
            event(r, TRAIN_EV_STEP);
            if ((o->print_every || o->print_seconds > 0) && print_due(r))
                event(r, TRAIN_EV_PRINT);
        }
        if (stop)
            break;
        double items = m->streams ? (double)(R.nbatches - s->first_batch) * R.per_batch
                                  : (double)tr->ntrain - (double)s->first_batch * st->batch;
        s->seconds = now() - t0;
        s->rate = tbar > 0 && items > 0 ? items / tbar : 0;
        st->train_loss = st->epoch_loss_sum / trainer_targets(tr, R.nbatches);
        st->val_loss = validate(r);
        trainer_epoch_end(tr, &rng);
        s->epoch = st->epochs;
        s->batch = R.nbatches;
        s->at = (double)st->epochs;
        s->loss = st->train_loss;
        s->val_loss = st->val_loss;
        event(r, TRAIN_EV_EPOCH_END);
        log_line(r, (double)st->epochs, st->train_loss, st->val_loss);
        if (keep_best(r, st->val_loss) < 0)
            return TRAIN_STOP_ERROR;
        if (o->sample_every == 0 && R.rank0 && h->sample)
            h->sample(h->ctx, (double)st->epochs);
        if (o->output && save(r, TRAIN_SAVE_CHECKPOINT) < 0)
            return TRAIN_STOP_ERROR;
        saved = 1;
        R.last_ckpt = now();
        if (last_epoch && why == TRAIN_STOP_TIME)
            event(r, TRAIN_EV_BUDGET_END);
        if (pending) {
            s->request = pending & TRAIN_REQ_CHECKPOINT;
            event(r, TRAIN_EV_CHECKPOINT);
            pending = 0;
        }
        if (last_epoch)
            break;
    }
    if (o->output && (stop || !saved)) {
        if (save(r, TRAIN_SAVE_CHECKPOINT) < 0)
            return TRAIN_STOP_ERROR;
    } else if (!o->output && !o->max_batches) {
        if (save(r, TRAIN_SAVE_FINAL) < 0)
            return TRAIN_STOP_ERROR;
    }
    if (why == TRAIN_STOP_EPOCHS && max_hit)
        why = TRAIN_STOP_MAX_BATCHES;
    return why;
}

/* ---- saving ---- */

int train_save(const model *m, const train_state *st, int fd, const char *path,
               const char *readback, char *err, size_t cap)
{
    char why[512];
    model cm;
    train_state cs;
    if (!model_loadable(m, st))       /* never replace a good model with one that cannot be read */
        return lib_fail(err, cap, "the parameters became infinite, NaN or too large at epoch %lld, step %lld (try a "
                        "lower --lr or --clip); %s%s", (long long)st->epochs + (st->epoch_batches > 0),
                        (long long)st->steps, path ? path : "no model written",
                        path ? " keeps the last good model" : "");
    if (model_write(m, st, fd, path ? path : "stdout", err, cap) < 0)
        return -1;
    if (!readback)
        return 0;
    if (model_read(&cm, &cs, readback, why, sizeof why) < 0)
        return lib_fail(err, cap, "the model to write to %s does not read back (%s); %s keeps the last good model",
                        path, why, path);
    model_free(&cm);
    train_state_free(&cs);
    return 0;
}

/* ---- samples during the run ---- */

int train_samples_init(train_samples *s, const model *m, const dataset *d, const char *seed,
                       char *err, size_t cap)
{
    memset(s, 0, sizeof *s);
    if (codec_init(&s->cd, m->vocab, m->dim.V, m->byte_unit, m->lower, err, cap) < 0)
        return -1;
    size_t n = seed ? strlen(seed) : 40;
    if (!(s->prompt = malloc((n + (size_t)d->N + 1) * sizeof *s->prompt)))
        return lib_fail(err, cap, "out of memory");
    if (!seed) {                      /* the start of the text, or the first window */
        if ((s->plen = dataset_prefix(d, s->prompt, d->want_text ? 40 : d->N)) < 0)
            return lib_fail(err, cap, "out of memory");
    } else {                          /* the text as the model reads it */
        size_t k, used;
        codec_pos at = { 0 };
        char why[256];
        int rc = codec_encode(&s->cd, seed, n, 0, CODEC_REFUSE, 0, s->prompt, &k, &used, &at);
        if (rc < 0) {
            snprintf(err, cap, "--sample-seed: %s", codec_error(&s->cd, rc, &at, why, sizeof why));
            return TRAIN_EUSAGE;
        }
        s->plen = (int)k;
    }
    return s->plen == 0 ? usage(err, cap, "--sample-seed: an empty seed", "", "") : 0;
}

void train_samples_free(train_samples *s)
{
    free(s->prompt);
    s->prompt = NULL;
}

typedef struct text_out {
    const codec *cd;
    FILE *f;
} text_out;

static int put_chars(void *ctx, int row, const int32_t *x, size_t n)
{
    const text_out *t = ctx;
    unsigned char u[4];
    for (size_t i = 0; i < n; i++)
        fwrite(u, 1, (size_t)codec_decode_char(t->cd, x[i], u), t->f);
    return (void)row, 0;
}

int train_sample(const train_samples *s, const kern_ops *k, const model *m,
                 const train_state *st, double t, long n, FILE *f, char *err, size_t cap)
{
    gen_opts go = gen_defaults();
    go.stateful = m->streams > 0;
    go.seed = st->seed;
    go.temperature = t;
    gen *g = gen_new(k, &m->p, m->maxlen, &go, 1, err, cap);
    if (!g)
        return -1;
    text_out out = { &s->cd, f };
    put_chars(&out, 0, s->prompt, (size_t)s->plen);
    int rc = gen_sample(g, s->prompt, s->plen, NULL, n, NULL, put_chars, &out, NULL, err, cap);
    gen_free(g);
    return rc < 0 ? -1 : 0;
}

/* v as a JSON number (fmt), or null when it is not finite */
static const char *json_num(char *buf, size_t cap, const char *fmt, double v)
{
    snprintf(buf, cap, isfinite(v) ? fmt : "null", v);
    return buf;
}

int train_log_line(char *line, size_t cap, int json, int header, const char *unit, double at,
                   double train_loss, double val_loss, double seconds, double rate)
{
    char tl[320], vl[320], r[320];
    int n;
    if (json)
        n = snprintf(line, cap, "{\"epoch\": %.6g, \"train_loss\": %s, \"val_loss\": %s, \"seconds\": %.3f, "
                     "\"%s_per_s\": %s}\n", at, json_num(tl, sizeof tl, "%.6f", train_loss),
                     json_num(vl, sizeof vl, "%.6f", val_loss), seconds, unit, json_num(r, sizeof r, "%.1f", rate));
    else if ((n = header ? snprintf(line, cap, "epoch\ttrain_loss\tval_loss\tseconds\t%s_per_s\n", unit) : 0) < (int)cap)
        n += snprintf(line + n, cap - n, "%.6g\t%.6f\t%.6f\t%.3f\t%.1f\n", at, train_loss, val_loss, seconds, rate);
    return n < (int)cap ? n : (int)cap - 1;
}

void trainer_info(const trainer *tr, train_info *info)
{
    *info = (train_info){ tr->nbatches, tr->ntrain, tr->nval, tr->per_stream };
}

const char *trainer_error(const trainer *tr)
{
    return tr->error;
}
