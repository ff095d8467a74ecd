/* test_run.c - the training run as a library call (lib/run.h), as another program would make
 * it: every stop reason, the hooks' calls (checkpoints within an epoch, every N batches and on
 * request, the best model, the log), and a resumed run ending with the uninterrupted one's
 * weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "generate.h"
#include "run.h"

/* A text of V = 6 symbols, 3000 characters, in the text layout: character i is sym(i). */
static int32_t sym(size_t i) { return (int32_t)((i * 7 + i / 5) % 6); }

static void make_data(dataset *d)
{
    char err[256];
    dataset_init(d, 1, "test");
    d->vocab.V = 6;
    d->vocab.cp = malloc(6 * sizeof(uint32_t));
    for (int i = 0; i < 6; i++)
        d->vocab.cp[i] = (uint32_t)('a' + i);
    int32_t t[3000];
    for (int i = 0; i < 3000; i++)
        t[i] = sym((size_t)i);
    if (dataset_add_text(d, t, 3000, err, sizeof err) < 0 || dataset_finish(d, err, sizeof err) < 0)
        fprintf(stderr, "data: %s\n", err);
}

/* What the hooks saw. */
typedef struct seen {
    int saves[3];                     /* by TRAIN_SAVE_* */
    long ckpt_batches[64];            /* epoch_batches at each checkpoint save */
    int nckpt;
    int logs, events[16];
    int request_at, request;          /* the request hook returns `request` at its call request_at */
    int calls;
    int save_fails;
    const train_state *st;
} seen;

static int on_save(void *ctx, int what)
{
    seen *s = ctx;
    s->saves[what]++;
    if (what == TRAIN_SAVE_CHECKPOINT && s->nckpt < 64)
        s->ckpt_batches[s->nckpt++] = (long)s->st->epoch_batches;
    return s->save_fails ? -1 : 0;
}

static int on_request(void *ctx)
{
    seen *s = ctx;
    return ++s->calls == s->request_at ? s->request : 0;
}

static void on_progress(void *ctx, train_event ev, const train_status *st)
{
    (void)st;
    ((seen *)ctx)->events[ev]++;
}

static void on_log(void *ctx, double at, double tl, double vl, double secs, double rate)
{
    (void)at; (void)tl; (void)vl; (void)secs; (void)rate;
    ((seen *)ctx)->logs++;
}

typedef struct job {
    dataset d;
    model m;
    train_state st;
    trainer *tr;
    seen s;
    train_hooks h;
} job;

/* A new run (or, with resume, the run in m and st) of o on the test data. */
static int start(job *j, train_opts *o, int resume)
{
    char err[256];
    make_data(&j->d);
    if (!resume)
        memset(&j->m, 0, sizeof j->m);
    o->resume = resume;
    if (train_setup(&j->m, &j->st, o, NULL, &j->d, 0, "test", err, sizeof err) < 0) {
        CHECK(0, "train_setup: %s", err);
        return -1;
    }
    if (!(j->tr = trainer_new(kern_get("scalar"), &j->m, &j->st, &j->d, 2, err, sizeof err))) {
        CHECK(0, "trainer_new: %s", err);
        return -1;
    }
    memset(&j->s, 0, sizeof j->s);
    j->s.st = &j->st;
    j->h = (train_hooks){ .ctx = &j->s, .progress = on_progress, .log = on_log, .save = on_save,
                          .request = on_request };
    return 0;
}

static void finish(job *j)
{
    trainer_free(j->tr);
    dataset_free(&j->d);
    train_state_free(&j->st);
    model_free(&j->m);
}

/* The options of the test runs: 4 streams of 8 steps (3000 characters, 10% held out: 84
 * batches an epoch), a checkpoint file. */
static train_opts opts(void)
{
    train_opts o;
    train_opts_init(&o);
    o.streams = 1;
    o.steps = 8;
    o.batch = 4;
    o.hidden = 8;
    o.val = 0.1;
    o.output = 1;
    o.given = TRAIN_GIVEN_EPOCHS;
    return o;
}

static void test_stop_epochs(void)
{
    job j;
    train_opts o = opts();
    o.epochs = 2;
    o.eval_every = 30;
    o.keep_best = 1;
    o.print_every = 25;
    if (start(&j, &o, 0) < 0)
        return;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_EPOCHS, "stopped: %d", why);
    /* a progress line every 25 batches, counted across the epoch's end */
    CHECK(j.s.events[TRAIN_EV_PRINT] == 2 * (int)j.tr->nbatches / 25, "%d progress lines in %ld batches",
          j.s.events[TRAIN_EV_PRINT], 2 * j.tr->nbatches);
    CHECK(j.st.epochs == 2 && j.st.steps == 2 * j.tr->nbatches, "epochs %lld, steps %lld", (long long)j.st.epochs,
          (long long)j.st.steps);
    CHECK(j.s.saves[TRAIN_SAVE_CHECKPOINT] == 2, "%d checkpoints (one an epoch)", j.s.saves[TRAIN_SAVE_CHECKPOINT]);
    /* validations every 30 steps (30, 60, 90, 120, 150) and at the 2 epoch ends */
    CHECK(j.s.saves[TRAIN_SAVE_BEST] >= 1 && j.s.logs == 5 + 2, "%d best, %d log lines",
          j.s.saves[TRAIN_SAVE_BEST], j.s.logs);
    CHECK(j.s.events[TRAIN_EV_EPOCH_END] == 2 && j.s.events[TRAIN_EV_STEP] == 2 * j.tr->nbatches,
          "%d epoch ends, %d steps", j.s.events[TRAIN_EV_EPOCH_END], j.s.events[TRAIN_EV_STEP]);
    finish(&j);
}

static void test_stop_max_batches(void)
{
    job j;
    train_opts o = opts();
    o.epochs = 3;
    o.max_batches = 10;
    if (start(&j, &o, 0) < 0)
        return;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_MAX_BATCHES, "stopped: %d", why);
    CHECK(j.st.steps == 10 && j.st.epoch_batches == 10 && j.st.state_h, "steps %lld, batches %lld, state %p",
          (long long)j.st.steps, (long long)j.st.epoch_batches, (void *)j.st.state_h);
    CHECK(j.s.nckpt == 1 && j.s.ckpt_batches[0] == 10, "%d checkpoints", j.s.nckpt);
    finish(&j);
}

static void test_stop_time(void)
{
    job j;
    train_opts o = opts();
    o.given = TRAIN_GIVEN_MAX_SECONDS;        /* a budget, no epoch limit */
    o.max_seconds = 0.05;
    if (start(&j, &o, 0) < 0)
        return;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_TIME, "stopped: %d", why);
    CHECK(j.st.train_seconds >= 0.05, "trained %gs", j.st.train_seconds);
    CHECK(j.s.events[TRAIN_EV_BUDGET_SPENT] + j.s.events[TRAIN_EV_BUDGET_END] == 1, "budget events");
    finish(&j);
}

/* Stopped on request within an epoch: the checkpoint is saved there; and a checkpoint asked
 * for goes on to the end. */
static void test_stop_requests(void)
{
    const int req[3] = { TRAIN_REQ_INTERRUPT, TRAIN_REQ_TERMINATE, TRAIN_REQ_CHECKPOINT };
    const train_stop want[3] = { TRAIN_STOP_INTERRUPT, TRAIN_STOP_TERMINATE, TRAIN_STOP_EPOCHS };
    for (int i = 0; i < 3; i++) {
        job j;
        train_opts o = opts();
        o.epochs = 2;
        if (start(&j, &o, 0) < 0)
            return;
        j.s.request_at = 2 * 17 + 1;          /* alone, the hook is called twice a step */
        j.s.request = req[i];
        train_stop why = train_run(j.tr, &o, &j.h);
        CHECK(why == want[i], "request %d: stopped %d", req[i], why);
        CHECK(j.s.nckpt >= 1 && j.s.ckpt_batches[0] == 18, "request %d: %d checkpoints, the first at batch %ld",
              req[i], j.s.nckpt, j.s.nckpt ? j.s.ckpt_batches[0] : -1);
        CHECK(i == 2 ? j.st.epochs == 2 && j.s.nckpt == 3 : j.st.steps == 18 && j.s.nckpt == 1,
              "request %d: %lld epochs, %lld steps, %d checkpoints", req[i], (long long)j.st.epochs,
              (long long)j.st.steps, j.s.nckpt);
        CHECK(j.s.events[i == 2 ? TRAIN_EV_CHECKPOINT : TRAIN_EV_STOPPED] == 1, "request %d: its event", req[i]);
        finish(&j);
    }
}

static void test_stop_nothing(void)
{
    job j;
    train_opts o = opts();
    o.epochs = 1;
    if (start(&j, &o, 0) < 0)
        return;
    CHECK(train_run(j.tr, &o, &j.h) == TRAIN_STOP_EPOCHS, "first run");
    trainer_free(j.tr);
    dataset_free(&j.d);
    o.given = 0;                              /* resumed: the model's horizon, reached */
    if (start(&j, &o, 1) < 0)
        return;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_NOTHING && j.s.events[TRAIN_EV_NOTHING] == 1 && j.st.steps == j.tr->nbatches,
          "stopped: %d, steps %lld", why, (long long)j.st.steps);
    finish(&j);
}

static void test_stop_diverged(void)
{
    job j;
    train_opts o = opts();
    if (start(&j, &o, 0) < 0)
        return;
    j.m.params[0] = NAN;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_DIVERGED && strstr(trainer_error(j.tr), "nan at epoch 1 batch 1 (try a lower --lr"),
          "stopped: %d: %s", why, trainer_error(j.tr));
    CHECK(j.s.saves[TRAIN_SAVE_CHECKPOINT] == 0, "saved a diverged model");
    finish(&j);
}

static void test_stop_error(void)
{
    job j;
    train_opts o = opts();
    if (start(&j, &o, 0) < 0)
        return;
    j.s.save_fails = 1;
    train_stop why = train_run(j.tr, &o, &j.h);
    CHECK(why == TRAIN_STOP_ERROR && strstr(trainer_error(j.tr), "could not be saved"), "stopped: %d: %s", why,
          trainer_error(j.tr));
    CHECK(j.st.epochs == 1, "the save at the first epoch's end failed: %lld epochs", (long long)j.st.epochs);
    finish(&j);
}

/* --checkpoint-every: checkpoints every N steps of the run (not at an epoch's last batch,
 * where the epoch's end saves); resumed from one, the uninterrupted run's weights. */
static void test_checkpoint_every_resumes(void)
{
    job a, b;
    train_opts o = opts();
    o.epochs = 2;
    o.dropout = 0.1;
    o.layers = 2;
    strcpy(o.schedule, "cosine");
    if (start(&a, &o, 0) < 0)
        return;
    CHECK(train_run(a.tr, &o, &a.h) == TRAIN_STOP_EPOCHS, "uninterrupted");
    o.checkpoint_every = 25;
    o.max_batches = 60;
    if (start(&b, &o, 0) < 0)
        return;
    CHECK(train_run(b.tr, &o, &b.h) == TRAIN_STOP_MAX_BATCHES, "stopped");
    long nb = b.tr->nbatches;
    CHECK(nb == 84 && b.s.nckpt == 3 && b.s.ckpt_batches[0] == 25 && b.s.ckpt_batches[1] == 50
          && b.s.ckpt_batches[2] == 60, "%ld batches an epoch, %d checkpoints at %ld, %ld, %ld", nb, b.s.nckpt,
          b.s.ckpt_batches[0], b.s.ckpt_batches[1], b.s.ckpt_batches[2]);
    trainer_free(b.tr);
    dataset_free(&b.d);
    o.given = 0;
    o.max_batches = 0;
    if (start(&b, &o, 1) < 0)
        return;
    CHECK(train_run(b.tr, &o, &b.h) == TRAIN_STOP_EPOCHS, "resumed");
    /* checkpoints at steps 75, 100, 125, 150 (84 an epoch: batches 75, 16, 41, 66 of theirs)
     * and at both epochs' ends (batch 0 once the epoch is counted) */
    CHECK(b.s.nckpt == 6 && b.s.ckpt_batches[0] == 75 && b.s.ckpt_batches[1] == 0 && b.s.ckpt_batches[2] == 16,
          "%d checkpoints: %ld %ld %ld", b.s.nckpt, b.s.ckpt_batches[0], b.s.ckpt_batches[1], b.s.ckpt_batches[2]);
    size_t np = lstm_nparams(a.m.dim);
    CHECK(b.st.steps == a.st.steps && memcmp(a.m.params, b.m.params, np * sizeof(float)) == 0
          && memcmp(a.st.adam_v, b.st.adam_v, np * sizeof(float)) == 0, "the resumed run's weights differ");
    finish(&a);
    finish(&b);
}

/* --stream-starts random: each epoch's streams start at an offset into their share of the
 * text drawn from the epoch's RNG (fixed: 0), and every batch reads the text from there,
 * wrapping round the share; the next epoch draws another. */
static void test_random_starts(void)
{
    for (int random = 0; random < 2; random++) {
        job a;
        train_opts o = opts();
        o.random_starts = random;
        if (start(&a, &o, 0) < 0)
            return;
        trainer *tr = a.tr;
        size_t ps = tr->per_stream, starts[4];
        int wrapped = 0, bad = 0, T = tr->N;
        for (int e = 0; e < 4; e++) {
            rng_t r = a.st.rng_epoch;
            trainer_epoch_begin(tr, &r);
            starts[e] = tr->start;
            CHECK(random ? tr->start < ps : tr->start == 0, "epoch %d starts at %zu of %zu", e, tr->start, ps);
            if (e == 1)                   /* one epoch's batches: worker 0's rows, streams 0 and 1 */
                for (long bi = 0; bi < tr->nbatches; bi++) {
                    train_step(tr, bi, 1e-3f);
                    for (int s = 0; s < 2; s++)
                        for (int k = 0; k < T; k++) {
                            size_t at = (tr->start + (size_t)bi * T + k) % ps;
                            wrapped |= at < tr->start;
                            bad |= tr->ev->w[0].x[s * T + k] != sym(s * ps + at)
                                   || tr->ev->w[0].y[s * T + k] != sym(s * ps + at + 1);
                        }
                }
            trainer_epoch_end(tr, &r);
        }
        CHECK(!bad, "%s starts: a batch is not the text from the epoch's start", random ? "random" : "fixed");
        CHECK(wrapped == random, "%s starts: the streams %s round their share", random ? "random" : "fixed",
              wrapped ? "wrapped" : "did not wrap");
        if (random)
            CHECK(starts[0] != starts[1] || starts[1] != starts[2] || starts[2] != starts[3],
                  "the same start (%zu) every epoch", starts[0]);
        finish(&a);
    }
}

/* The loss log's lines: TSV under its header, JSON with null for what is not finite. */
static void test_log_line(void)
{
    char line[1024];
    int n = train_log_line(line, sizeof line, 0, 1, "chars", 0.5, 2.25, 2.5, 1.25, 1000);
    const char *tsv = "epoch\ttrain_loss\tval_loss\tseconds\tchars_per_s\n0.5\t2.250000\t2.500000\t1.250\t1000.0\n";
    CHECK(n == (int)strlen(tsv) && strcmp(line, tsv) == 0, "TSV with its header: %s", line);
    n = train_log_line(line, sizeof line, 0, 0, "chars", 1, 2, 3, 4, 5);
    CHECK(strcmp(line, "1\t2.000000\t3.000000\t4.000\t5.0\n") == 0 && n == 30, "TSV: %s", line);
    n = train_log_line(line, sizeof line, 1, 1, "windows", 2, NAN, 1.5, 0.5, INFINITY);
    const char *json = "{\"epoch\": 2, \"train_loss\": null, \"val_loss\": 1.500000, \"seconds\": 0.500, "
                       "\"windows_per_s\": null}\n";
    CHECK(n == (int)strlen(json) && strcmp(line, json) == 0, "JSON (no header): %s", line);
    n = train_log_line(line, 20, 0, 1, "chars", 1, 2, 3, 4, 5);
    CHECK(n == 19 && strlen(line) == 19, "a short buffer: %d bytes, the line cut", n);
}

/* Which options contradict each other. */
static void test_opts_check(void)
{
    char err[256];
    train_opts o = opts();
    CHECK(train_opts_check(&o, err, sizeof err) == 0, "the test options: %s", err);
    o.init = o.resume = 1;
    CHECK(train_opts_check(&o, err, sizeof err) == TRAIN_EUSAGE && strstr(err, "--init"), "--init and --resume: %s", err);
    o = opts();
    o.same_ok = 1;
    o.output = 0;
    CHECK(train_opts_check(&o, err, sizeof err) == TRAIN_EUSAGE && strstr(err, "--continue"), "--continue without -o: %s", err);
    o = opts();
    o.output = 0;
    o.checkpoint_seconds = 5;
    CHECK(train_opts_check(&o, err, sizeof err) == TRAIN_EUSAGE && strstr(err, "--checkpoint-every"),
          "checkpoints without -o: %s", err);
    o = opts();
    o.random_starts = 1;
    CHECK(train_opts_check(&o, err, sizeof err) == 0, "random starts with streams: %s", err);
    o.streams = 0;
    CHECK(train_opts_check(&o, err, sizeof err) == TRAIN_EUSAGE && strstr(err, "--stream-starts"),
          "random starts of windows: %s", err);
}

/* The samples of a run: the prompt (the start of the text, or a seed read as the model reads
 * it), and each sample what gen_text writes from the same prompt and seed (sample -m MODEL
 * --rng-seed SEED). */
static void test_samples(void)
{
    job j;
    train_opts o = opts();
    char err[256];
    if (start(&j, &o, 0) < 0)
        return;
    train_samples s;
    CHECK(train_samples_init(&s, &j.m, &j.d, "fab", err, sizeof err) == 0 && s.plen == 3 && s.prompt[0] == 5,
          "a seed: %d indices (%s)", s.plen, err);
    train_samples_free(&s);
    CHECK(train_samples_init(&s, &j.m, &j.d, "fxb", err, sizeof err) == TRAIN_EUSAGE && strstr(err, "--sample-seed: "),
          "a seed outside the vocabulary: %s", err);
    train_samples_free(&s);
    CHECK(train_samples_init(&s, &j.m, &j.d, "", err, sizeof err) == TRAIN_EUSAGE && strstr(err, "empty"),
          "an empty seed: %s", err);
    train_samples_free(&s);
    CHECK(train_samples_init(&s, &j.m, &j.d, NULL, err, sizeof err) == 0 && s.plen == 40, "the text's start: %d", s.plen);
    for (double t = 0; t <= 1; t += 1) {
        char *text = NULL, prompt[41];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int rc = train_sample(&s, kern_get("scalar"), &j.m, &j.st, t, 30, f, err, sizeof err);
        fclose(f);
        for (int i = 0; i < 40; i++)
            prompt[i] = (char)('a' + s.prompt[i]);
        gen_request rq = gen_request_defaults();
        rq.prompt = prompt, rq.prompt_len = 40, rq.n = 30;
        rq.o.stateful = 1, rq.o.seed = j.st.seed, rq.o.temperature = t;
        gen_result res;
        codec cd;
        codec_init(&cd, j.m.vocab, j.m.dim.V, 0, 0, err, sizeof err);
        int g = gen_text(kern_get("scalar"), &j.m, &cd, &rq, NULL, NULL, &res, err, sizeof err);
        CHECK(rc == 0 && g == 0 && len == 70 && res.t[0].len == 70 && memcmp(text, res.t[0].text, 70) == 0,
              "temperature %g: the sample is gen_text's: %.*s", t, (int)len, text);
        gen_result_free(&res);
        free(text);
    }
    train_samples_free(&s);
    finish(&j);
}

/* train_save: the model read back from the file it wrote; a diverged model refused. */
static void test_save(void)
{
    job j;
    train_opts o = opts();
    char err[512], path[] = "/tmp/test_run_XXXXXX";
    if (start(&j, &o, 0) < 0)
        return;
    int fd = mkstemp(path);
    CHECK(fd >= 0 && train_save(&j.m, &j.st, fd, path, path, err, sizeof err) == 0, "saved and read back: %s", err);
    if (fd >= 0)
        close(fd);
    j.m.params[0] = NAN;
    CHECK(train_save(&j.m, &j.st, -1, path, path, err, sizeof err) < 0 && strstr(err, "infinite, NaN")
          && strstr(err, "keeps the last good model"), "a diverged model: %s", err);
    unlink(path);
    finish(&j);
}

int main(void)
{
    RUN(test_stop_epochs);
    RUN(test_stop_max_batches);
    RUN(test_stop_time);
    RUN(test_stop_requests);
    RUN(test_stop_nothing);
    RUN(test_stop_diverged);
    RUN(test_stop_error);
    RUN(test_checkpoint_every_resumes);
    RUN(test_random_starts);
    RUN(test_log_line);
    RUN(test_opts_check);
    RUN(test_samples);
    RUN(test_save);
    return check_summary();
}
