/* model.c - reading and writing model files; see model.h. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "frame.h"
#include "optim.h"
#include "util.h"
#include "model.h"
#include "codec.h"
#include "ts.h"
#include "utf8.h"

#define MAX_V      (1 << 21)          /* every Unicode code point fits */
#define MAX_H      8192
#define MAX_MAXLEN 100000

int model_alloc(model *m, lstm_dims d, int maxlen)
{
    memset(m, 0, sizeof *m);
    m->dim = d;
    m->maxlen = maxlen;
    m->vocab = lib_zalloc((size_t)d.V * sizeof *m->vocab);
    m->params = lib_zalloc(lstm_nparams(d) * sizeof(float));
    if (!m->vocab || !m->params) {
        model_free(m);
        return -1;
    }
    lstm_bind(&m->p, m->params, d);
    return 0;
}

void model_free(model *m)
{
    free(m->vocab);
    free(m->params);
    memset(m, 0, sizeof *m);
}

/* Keras's defaults, no buffers. */
static void state_defaults(train_state *s)
{
    memset(s, 0, sizeof *s);
    s->batch = 64;
    strcpy(s->schedule, "none");
    s->decay_rate = 0.5;
    s->decay_every = 1;
    s->best_val_loss = NAN;
    s->lr = 1e-3;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-7;
    s->val_split = 0.2;
    s->train_loss = s->val_loss = NAN;
}

int train_state_alloc(train_state *s, size_t nparams)
{
    state_defaults(s);
    s->adam_m = lib_zalloc(nparams * sizeof(float));
    s->adam_v = lib_zalloc(nparams * sizeof(float));
    if (!s->adam_m || !s->adam_v) {
        train_state_free(s);
        return -1;
    }
    return 0;
}

void train_state_free(train_state *s)
{
    free(s->adam_m);
    free(s->adam_v);
    free(s->state_h);
    free(s->state_c);
    free(s->raw);
    memset(s, 0, sizeof *s);
}

const char *starts_name(int random_starts) { return random_starts ? "random" : "fixed"; }

int starts_parse(const char *name)
{
    return !strcmp(name, "fixed") ? 0 : !strcmp(name, "random") ? 1 : -1;
}

static int write_weights(ts_writer *w, const model *m, const char *prefix, const float *flat)
{
    char name[64], base[48];
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        snprintf(name, sizeof name, "%s%s", prefix, lstm_tensor_name(m->dim, k, base, sizeof base));
        /* a tensor of more than TS_CHUNK_BYTES goes in pieces of about that size along its
         * first axis, consecutive frames of the same name (FORMAT.md); readers join them */
        size_t row = rank == 2 ? (size_t)shape[1] : 1, rows = (size_t)shape[0];
        size_t step = TS_CHUNK_BYTES / (row * sizeof(float));
        if (step == 0)
            step = 1;
        const float *t = flat + lstm_tensor_offset(m->dim, k);
        for (size_t a = 0; a < rows; a += step) {
            uint64_t piece[2] = { rows - a < step ? rows - a : step, shape[1] };
            if (ts_write_tensor(w, name, TS_F4, rank, piece, t + a * row, NULL, 0) < 0)
                return -1;
        }
    }
    return 0;
}

int model_write(const model *m, const train_state *s, int fd, const char *label, char *err,
                size_t cap)
{
    static const train_state none;
    if (!s)
        s = &none;
    /* a model model_read refuses is not written (the dimensions and layout it checks first) */
    if (m->dim.V < 1 || m->dim.V > MAX_V || m->dim.H < 1 || m->dim.H > MAX_H || m->dim.L < 1
        || m->dim.L > LSTM_MAX_LAYERS || m->dim.cell < CELL_LSTM || m->dim.cell > CELL_LNLSTM
        || m->maxlen < 1 || m->maxlen > MAX_MAXLEN || m->streams < 0 || m->streams > (1 << 20)
        || (m->streams && !m->per_position))
        return lib_fail(err, cap, "%s: refusing to write a model that readers refuse (vocabulary %d, hidden %d, "
                        "layers %d, cell %d, maxlen %d, streams %d%s)", label, m->dim.V, m->dim.H, m->dim.L,
                        m->dim.cell, m->maxlen, m->streams, m->streams && !m->per_position ? " without a target at every step" : "");
    ts_writer *w = ts_writer_open(fd, label);
    if (!w)
        return lib_fail(err, cap, "%s: out of memory", label);
    ts_attr_kv a[] = {
        TS_ATTR_STR("cell", cell_name(m->dim.cell)), TS_ATTR_INT("layers", m->dim.L),
        TS_ATTR_INT("hidden", m->dim.H), TS_ATTR_INT("maxlen", m->maxlen),
        TS_ATTR_INT("vocab_size", m->dim.V), TS_ATTR_STR("targets", m->per_position ? "every" : "last"),
        TS_ATTR_STR("layout", m->streams ? "streams" : "windows"), TS_ATTR_INT("streams", m->streams),
        /* the training state's, when there is one */
        TS_ATTR_FLOAT("dropout", s->dropout), TS_ATTR_STR("schedule", s->schedule),
        TS_ATTR_FLOAT("decay_rate", s->decay_rate), TS_ATTR_INT("decay_every", s->decay_every),
        TS_ATTR_FLOAT("best_val_loss", s->best_val_loss),
        TS_ATTR_INT("batch", s->batch), TS_ATTR_FLOAT("lr", s->lr),
        TS_ATTR_FLOAT("beta1", s->beta1), TS_ATTR_FLOAT("beta2", s->beta2),
        TS_ATTR_FLOAT("epsilon", s->eps), TS_ATTR_FLOAT("clip", s->clip),
        TS_ATTR_FLOAT("val_split", s->val_split), TS_ATTR_INT("seed", (int64_t)s->seed),
        TS_ATTR_INT("epochs", s->epochs), TS_ATTR_INT("epoch_batches", s->epoch_batches),
        TS_ATTR_FLOAT("epoch_loss_sum", s->epoch_loss_sum), TS_ATTR_INT("steps", s->steps),
        TS_ATTR_FLOAT("train_loss", s->train_loss), TS_ATTR_FLOAT("val_loss", s->val_loss),
        /* regularisation (issue 16); absent in older files, read as 0 (off) */
        TS_ATTR_FLOAT("weight_drop", s->weight_drop), TS_ATTR_FLOAT("locked_dropout", s->locked_dropout),
        TS_ATTR_FLOAT("input_dropout", s->input_dropout), TS_ATTR_FLOAT("weight_decay", s->weight_decay),
        TS_ATTR_INT("warmup", s->warmup), TS_ATTR_FLOAT("ema", s->ema),
        TS_ATTR_STR("stream_starts", starts_name(s->random_starts)),
        /* the run's horizon (train_state): where the run ends, for the schedule and --resume */
        TS_ATTR_INT("horizon_epochs", s->horizon_epochs), TS_ATTR_FLOAT("horizon_seconds", s->horizon_seconds),
        TS_ATTR_FLOAT("train_seconds", s->horizon_seconds > 0 ? s->train_seconds : 0),
    };
    /* issue 14: the training data's fingerprint (--resume checks its input), when recorded */
    char fp[32];
    snprintf(fp, sizeof fp, "fnv1a64:%016llx", (unsigned long long)s->data_hash);
    ts_attr_kv a_fp[sizeof a / sizeof *a + 2];
    int na = s == &none ? 8 : (int)(sizeof a / sizeof *a);
    memcpy(a_fp, a, (size_t)na * sizeof *a);
    if (s->has_data_fp) {
        a_fp[na++] = TS_ATTR_INT("data_size", (int64_t)s->data_size);
        a_fp[na++] = TS_ATTR_STR("data_hash", fp);
    }
    ts_write_info(w, "model", a_fp, na);
    uint64_t vshape[1] = { (uint64_t)m->dim.V };
    ts_attr_kv unit[2] = { TS_ATTR_STR("unit", m->byte_unit ? "byte" : "codepoint"),
                           TS_ATTR_BOOL("lower", m->lower) };
    ts_write_tensor(w, "vocab", TS_U4, 1, vshape, m->vocab, unit, 2);
    write_weights(w, m, "", m->params);
    if (s->adam_m) {
        write_weights(w, m, "adam/m/", s->adam_m);
        write_weights(w, m, "adam/v/", s->adam_v);
        uint64_t rshape[2] = { 2, 4 };
        uint64_t st[8];
        memcpy(st, s->rng_epoch.s, 32);
        memcpy(st + 4, s->rng.s, 32);
        ts_write_tensor(w, "rng", TS_U8, 2, rshape, st, NULL, 0);
        if (s->raw)                   /* the weights training updates (the above: their average) */
            write_weights(w, m, "raw/", s->raw);
    }
    if (s->state_h && m->streams) {
        uint64_t sshape[3] = { (uint64_t)m->dim.L, (uint64_t)m->streams, (uint64_t)m->dim.H };
        ts_write_tensor(w, "state/h", TS_F4, 3, sshape, s->state_h, NULL, 0);
        ts_write_tensor(w, "state/c", TS_F4, 3, sshape, s->state_c, NULL, 0);
    }
    const char *e = NULL;
    if (ts_writer_finish(w, &e) < 0)
        return lib_fail(err, cap, "%s", e);
    return 0;
}

static int get_int(const ts_frame *f, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t cap)
{
    if (ts_attr_int(f, key, out) != 1 || *out < lo || *out > hi)
        return lib_fail(err, cap, "model attribute '%s' is missing or out of range", key);
    return 0;
}

/* ---- validation of a model file (issue 17) ----
 * A model file is untrusted input. Everything it says is checked before it is used: the
 * dimensions against fixed limits, every training attribute against the range train itself
 * accepts and against the others (layout, streams, batch, targets), every tensor's dtype and
 * shape against the dimensions, every value for what training can produce. Nothing is
 * allocated from a claimed size: a weight's buffer grows with the rows actually read (a
 * tensor may come split over consecutive frames along its first axis, FORMAT.md), and the
 * model is assembled only when every tensor is complete. */

/* An optional integer attribute in [lo, hi]: absent keeps *out (an older file); present
 * with another type or out of range is an error. */
static int opt_int(const ts_frame *f, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t cap)
{
    int64_t v;
    int rc = ts_attr_int(f, key, &v);
    if (rc == 0)
        return 0;
    if (rc < 0 || v < lo || v > hi)
        return lib_fail(err, cap, "model attribute '%s' is out of range (%lld to %lld)", key,
                        (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

/* An optional number in [lo, hi] (NaN allowed when nan_ok: "none yet"). */
static int opt_num(const ts_frame *f, const char *key, double lo, double hi, int nan_ok,
                   double *out, char *err, size_t cap)
{
    double v;
    int rc = ts_attr_num(f, key, &v);
    if (rc == 0)
        return 0;
    if (rc < 0 || !(isnan(v) ? nan_ok : v >= lo && v <= hi))
        return lib_fail(err, cap, "model attribute '%s' is out of range (%g to %g)", key, lo, hi);
    *out = v;
    return 0;
}

/* The training settings and progress of the model frame into t, each checked. The ranges
 * are train's own options' (tools/train.c). */
static int read_settings(const ts_frame *f, const model *m, train_state *t, char *err, size_t cap)
{
    int64_t batch = t->batch, de = t->decay_every, seed = 0, ep = 0, eb = 0, steps = 0;
    if (opt_int(f, "batch", 1, 1 << 20, &batch, err, cap) < 0
        || opt_int(f, "decay_every", 1, 1000000, &de, err, cap) < 0
        || opt_int(f, "seed", 0, INT64_MAX, &seed, err, cap) < 0
        || opt_int(f, "epochs", 0, INT64_MAX / 2, &ep, err, cap) < 0
        || opt_int(f, "epoch_batches", 0, INT64_MAX / 2, &eb, err, cap) < 0
        || opt_int(f, "steps", 0, INT64_MAX / 2, &steps, err, cap) < 0
        || opt_num(f, "lr", 0, 10, 0, &t->lr, err, cap) < 0
        || opt_num(f, "beta1", 0, 0.999999, 0, &t->beta1, err, cap) < 0
        || opt_num(f, "beta2", 0, 0.999999, 0, &t->beta2, err, cap) < 0
        || opt_num(f, "epsilon", 1e-30, 1, 0, &t->eps, err, cap) < 0
        || opt_num(f, "clip", 0, 1e9, 0, &t->clip, err, cap) < 0
        || opt_num(f, "val_split", 0, 0.99, 0, &t->val_split, err, cap) < 0
        || opt_num(f, "dropout", 0, 0.95, 0, &t->dropout, err, cap) < 0
        || opt_num(f, "decay_rate", 0, 1, 0, &t->decay_rate, err, cap) < 0
        || opt_num(f, "epoch_loss_sum", 0, 1e300, 0, &t->epoch_loss_sum, err, cap) < 0
        || opt_num(f, "train_loss", 0, 1e300, 1, &t->train_loss, err, cap) < 0
        || opt_num(f, "val_loss", 0, 1e300, 1, &t->val_loss, err, cap) < 0
        || opt_num(f, "best_val_loss", 0, 1e300, 1, &t->best_val_loss, err, cap) < 0)
        return -1;
    t->batch = (int)batch;
    t->decay_every = (int)de;
    t->seed = (uint64_t)seed;
    t->epochs = ep;
    t->epoch_batches = eb;
    t->steps = steps;
    int rc = ts_attr_str(f, "schedule", t->schedule, sizeof t->schedule);
    if (rc < 0 || (rc == 1 && !schedule_known(t->schedule)))
        return lib_fail(err, cap, "model attribute 'schedule' is not none, cosine or step");
    /* Adam's bound on its moments (below) needs beta1^2 < beta2, as Adam's analysis does */
    if (t->beta1 * t->beta1 >= t->beta2)
        return lib_fail(err, cap, "model attributes 'beta1' %g and 'beta2' %g: beta1^2 must be below beta2",
                        t->beta1, t->beta2);
    if (t->steps < t->epoch_batches)
        return lib_fail(err, cap, "model attributes: %lld steps, fewer than the %lld batches of the current epoch",
                        (long long)t->steps, (long long)t->epoch_batches);
    /* a stream layout trains its B streams as the batch: one row per stream */
    if (m->streams && t->batch != m->streams && ts_attr(f, "batch"))
        return lib_fail(err, cap, "model attributes 'streams' %d and 'batch' %d differ (a stream layout has one row per stream)",
                        m->streams, t->batch);
    if (m->streams)
        t->batch = m->streams;

    /* regularisation (issue 16), the run's horizon, the data's fingerprint (issue 14): each
     * absent in older files (then off, no limit, not checked) */
    int64_t warmup = 0, hep = 0, dsize = 0;
    if (opt_num(f, "weight_drop", 0, 0.95, 0, &t->weight_drop, err, cap) < 0
        || opt_num(f, "locked_dropout", 0, 0.95, 0, &t->locked_dropout, err, cap) < 0
        || opt_num(f, "input_dropout", 0, 0.95, 0, &t->input_dropout, err, cap) < 0
        || opt_num(f, "weight_decay", 0, 10, 0, &t->weight_decay, err, cap) < 0
        || opt_num(f, "ema", 0, 0.999999, 0, &t->ema, err, cap) < 0
        || opt_int(f, "warmup", 0, INT64_C(1) << 40, &warmup, err, cap) < 0
        || opt_int(f, "horizon_epochs", 0, 1000000, &hep, err, cap) < 0
        || opt_num(f, "horizon_seconds", 0, 1e9, 0, &t->horizon_seconds, err, cap) < 0
        || opt_num(f, "train_seconds", 0, 1e12, 0, &t->train_seconds, err, cap) < 0
        || opt_int(f, "data_size", 0, INT64_MAX, &dsize, err, cap) < 0)
        return -1;
    t->warmup = warmup;
    t->horizon_epochs = hep;
    char starts[16];
    rc = ts_attr_str(f, "stream_starts", starts, sizeof starts);
    t->random_starts = rc == 1 ? starts_parse(starts) : 0;
    if (rc < 0 || t->random_starts < 0)
        return lib_fail(err, cap, "model attribute 'stream_starts' is not fixed or random");
    char fp[32] = "";
    unsigned long long hash;
    int used = 0;
    rc = ts_attr_str(f, "data_hash", fp, sizeof fp);
    if (rc < 0 || (rc == 1 && !(sscanf(fp, "fnv1a64:%16llx%n", &hash, &used) == 1 && used == 24
                                && fp[used] == 0 && ts_attr(f, "data_size"))))
        return lib_fail(err, cap, "model attribute 'data_hash' is not fnv1a64: and 16 hex digits beside a data_size");
    if (rc == 1) {
        t->has_data_fp = 1;
        t->data_size = (uint64_t)dsize;
        t->data_hash = hash;
    }
    return 0;
}

/* The largest weight magnitude accepted for a model of H hidden units. A pre-activation sums
 * at most 2H + 2 terms of a weight times an input in [-1, 1] (one-hot characters, tanh and
 * sigmoid outputs), so below this bound every pre-activation and logit stays under
 * sqrt(FLT_MAX) and the product of two of them (a gradient times an activation) is finite:
 * the forward and backward passes cannot overflow. Training with Adam moves a weight by
 * about lr per step from an initialisation below 3, so no trained model comes near it. */
double model_max_weight(int H)
{
    return sqrt(FLT_MAX) / (2.0 * H + 2);
}

/* Adam's first moment is bounded by its second: with m = (1-b1) sum b1^k g, v = (1-b2)
 * sum b2^k g^2, Cauchy-Schwarz gives m^2 <= (1-b1)^2 / ((1-b2) (1-b1^2/b2)) v. A file whose
 * moments break this (v < 0, or m large where v is small) was not written by Adam, and its
 * next update lr m / (sqrt(v) + eps) could be anything. 1% and 1e-20 of slack for rounding. */
static int check_moments(const float *mm, const float *vv, size_t n, double b1, double b2,
                         size_t *bad)
{
    double c = (1 - b1) / sqrt((1 - b2) * (1 - b1 * b1 / b2)) * 1.01;
    for (size_t i = 0; i < n; i++)
        if (!(vv[i] >= 0) || !(fabs(mm[i]) <= c * sqrt(vv[i]) + 1e-20)) {
            *bad = i;
            return -1;
        }
    return 0;
}

enum { G_PARAMS, G_ADAM_M, G_ADAM_V, G_RAW, NGROUPS };
static const char *const group_prefix[NGROUPS] = { "", "adam/m/", "adam/v/", "raw/" };
#define MAX_TENSORS (4 * LSTM_MAX_LAYERS + 2)

typedef struct reading {
    float *t[NGROUPS][MAX_TENSORS];   /* each tensor's rows read so far */
    uint64_t rows[NGROUPS][MAX_TENSORS];
    int last_g, last_k;               /* the tensor the previous frame belonged to, or -1 */
} reading;

static void reading_free(reading *rd)
{
    for (int g = 0; g < NGROUPS; g++)
        for (int k = 0; k < MAX_TENSORS; k++)
            free(rd->t[g][k]);
}

/* If f is a piece of tensor prefix+name of group g, append its rows: 1 if taken, 0 if the
 * frame is not one of these, -1 on an error. */
static int take_piece(reading *rd, const model *m, const ts_frame *f, int g, char *err, size_t cap)
{
    const char *prefix = group_prefix[g];
    size_t pl = strlen(prefix);
    if (strncmp(f->name, prefix, pl) != 0)
        return 0;
    char base[48];
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        if (strcmp(f->name + pl, lstm_tensor_name(m->dim, k, base, sizeof base)) != 0)
            continue;
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        uint64_t have = rd->rows[g][k], row = rank == 2 ? shape[1] : 1;
        if (!f->is_tensor || f->dtype != TS_F4 || f->ndim != rank || f->shape[0] == 0
            || f->shape[0] > shape[0] - have || (rank == 2 && f->shape[1] != shape[1]))
            return lib_fail(err, cap, have == shape[0] ? "weight '%s' appears twice"
                            : "weight '%s' has the wrong dtype or shape", f->name);
        if (have > 0 && (rd->last_g != g || rd->last_k != k))
            return lib_fail(err, cap, "weight '%s' is split over frames that are not consecutive", f->name);
        float *p = realloc(rd->t[g][k], (size_t)(have + f->shape[0]) * row * sizeof(float));
        if (!p)
            return lib_fail(err, cap, "out of memory for weight '%s'", f->name);
        rd->t[g][k] = p;
        p += have * row;
        memcpy(p, f->data, f->nbytes);
        double lim = g == G_PARAMS || g == G_RAW ? model_max_weight(m->dim.H) : FLT_MAX;
        for (size_t i = 0; i < f->count; i++)
            if (!isfinite(p[i]))
                return lib_fail(err, cap, "weight '%s' holds a non-finite value", f->name);
            else if (fabs(p[i]) > lim)
                return lib_fail(err, cap, "weight '%s' holds %g, beyond the %g a model of %d hidden units can use",
                                f->name, p[i], lim, m->dim.H);
        rd->rows[g][k] = have + f->shape[0];
        rd->last_g = g;
        rd->last_k = k;
        return 1;
    }
    return 0;
}

/* Group g complete (1), absent (0, the optimizer's moments only), or in part (-1, naming the
 * first tensor missing or cut short in err). */
static int group_state(const reading *rd, const model *m, int g, char *err, size_t cap)
{
    int n = lstm_ntensors(m->dim), full = 0, any = 0;
    uint64_t shape[2];
    char base[48];
    for (int k = 0; k < n; k++) {
        lstm_tensor_shape(m->dim, k, shape);
        full += rd->rows[g][k] == shape[0];
        any += rd->rows[g][k] > 0;
    }
    if (full == n)
        return 1;
    if (!any && g != G_PARAMS)
        return 0;
    for (int k = 0; k < n; k++) {
        lstm_tensor_shape(m->dim, k, shape);
        if (rd->rows[g][k] != shape[0]) {
            const char *name = lstm_tensor_name(m->dim, k, base, sizeof base);
            if (rd->rows[g][k] == 0)
                return lib_fail(err, cap, "weight '%s%s' is missing", group_prefix[g], name);
            return lib_fail(err, cap, "weight '%s%s' is cut short (%llu of %llu rows)", group_prefix[g],
                            name, (unsigned long long)rd->rows[g][k], (unsigned long long)shape[0]);
        }
    }
    return -1;
}

/* Move group g's tensors into the flat array dst (laid out as the parameters). */
static void assemble(reading *rd, const model *m, int g, float *dst)
{
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        memcpy(dst + lstm_tensor_offset(m->dim, k), rd->t[g][k],
               (size_t)shape[0] * (rank == 2 ? shape[1] : 1) * sizeof(float));
        free(rd->t[g][k]);
        rd->t[g][k] = NULL;
    }
}

static int rng_zero(const rng_t *r)
{
    return !(r->s[0] | r->s[1] | r->s[2] | r->s[3]);
}
/* ---- end of the validation helpers ---- */

int model_read(model *m, train_state *s, const char *path, char *err, size_t cap)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    if (fd < 0)
        return lib_fail(err, cap, "%s: %s", path, strerror(errno));
    const char *label = strcmp(path, "-") == 0 ? "stdin" : path;
    ts_reader *r = ts_reader_open(fd, label);
    if (!r) {
        if (fd != 0)
            close(fd);
        return lib_fail(err, cap, "%s: out of memory", label);
    }
    /* Everything read is kept here, checked, and becomes m (and s) only at the end. */
    model hd;                         /* the model frame's dimensions and layout */
    train_state t;                    /* its training settings, RNG and carried state */
    reading rd;
    frame_vocab voc = { 0 };
    memset(&hd, 0, sizeof hd);
    memset(&rd, 0, sizeof rd);
    state_defaults(&t);
    rd.last_g = -1;
    ts_frame f;
    int rc, have_model = 0, have_vocab = 0, have_rng = 0, bad = 0, rng_rows = 0;
    uint64_t rng_words[8] = { 0 };
    size_t state_rows[2] = { 0, 0 };
    char msg[256] = "";
    memset(m, 0, sizeof *m);
    while (!bad && (rc = ts_read(r, &f)) > 0) {
        int piece = 0;
        if (strcmp(f.name, "model") == 0 && !have_model) {
            int64_t V, H, N, layers, streams = 0;
            char cell[16] = "", targets[16] = "last", layout[16] = "windows";
            int cellk = ts_attr_str(&f, "cell", cell, sizeof cell) == 1 ? cell_parse(cell) : -1;
            if (cellk < 0) {
                bad = lib_fail(msg, sizeof msg, "model cell '%s' is not supported (lstm, gru, lnlstm)", cell);
                break;
            }
            if (get_int(&f, "layers", 1, LSTM_MAX_LAYERS, &layers, msg, sizeof msg) < 0
                || get_int(&f, "vocab_size", 1, MAX_V, &V, msg, sizeof msg) < 0
                || get_int(&f, "hidden", 1, MAX_H, &H, msg, sizeof msg) < 0
                || get_int(&f, "maxlen", 1, MAX_MAXLEN, &N, msg, sizeof msg) < 0) {
                bad = -1;
                break;
            }
            hd.dim = (lstm_dims){ (int)V, (int)H, (int)layers, cellk };
            hd.maxlen = (int)N;
            if (ts_attr_str(&f, "targets", targets, sizeof targets) < 0
                || (strcmp(targets, "every") != 0 && strcmp(targets, "last") != 0)) {
                bad = lib_fail(msg, sizeof msg, "model attribute 'targets' is not every or last");
                break;
            }
            if (ts_attr_str(&f, "layout", layout, sizeof layout) < 0
                || (strcmp(layout, "streams") != 0 && strcmp(layout, "windows") != 0)) {
                bad = lib_fail(msg, sizeof msg, "model attribute 'layout' is not windows or streams");
                break;
            }
            hd.per_position = strcmp(targets, "every") == 0;
            if (strcmp(layout, "streams") == 0) {
                if (get_int(&f, "streams", 1, 1 << 20, &streams, msg, sizeof msg) < 0) {
                    bad = -1;
                    break;
                }
                if (!hd.per_position) {
                    bad = lib_fail(msg, sizeof msg, "model attributes: a stream layout has a target after every step, not 'last'");
                    break;
                }
            }
            hd.streams = (int)streams;
            if (read_settings(&f, &hd, &t, msg, sizeof msg) < 0) {
                bad = -1;
                break;
            }
            have_model = 1;
        } else if (!have_model) {
            if (strcmp(f.name, "vocab") == 0 || strcmp(f.name, "x") == 0 || strcmp(f.name, "text") == 0)
                bad = lib_fail(msg, sizeof msg, "not a model (a data stream: frame '%s' before any 'model' frame)", f.name);
            /* else: unknown frames before the model are skipped */
        } else if (strcmp(f.name, "vocab") == 0) {      /* (in pieces: joined) */
            if (have_vocab && f.piece == 0) {
                bad = lib_fail(msg, sizeof msg, "the vocab frame appears twice");
                break;
            }
            if (frame_vocab_take(&voc, &f, FRAME_ANY_V, msg, sizeof msg) < 0) {
                bad = -1;
                break;
            }
            have_vocab = 1;
            if (voc.V > hd.dim.V) {
                bad = lib_fail(msg, sizeof msg, "vocab frame does not match vocab_size %d", hd.dim.V);
                break;
            }
        } else if (!s && (strncmp(f.name, "adam/", 5) == 0 || strncmp(f.name, "state/", 6) == 0
                          || strncmp(f.name, "raw/", 4) == 0 || strcmp(f.name, "rng") == 0)) {
            rd.last_g = -1;           /* the training state: not asked for */
            continue;
        } else if (strcmp(f.name, "state/h") == 0 || strcmp(f.name, "state/c") == 0) {
            /* (L, streams, H), whole or in pieces along L */
            float **dst = f.name[6] == 'h' ? &t.state_h : &t.state_c;
            size_t *rows = f.name[6] == 'h' ? &state_rows[0] : &state_rows[1];
            if (!hd.streams || !f.is_tensor || f.dtype != TS_F4 || f.ndim != 3 || (f.piece == 0 && *dst)
                || f.shape[0] > (uint64_t)hd.dim.L - *rows
                || f.shape[1] != (uint64_t)hd.streams || f.shape[2] != (uint64_t)hd.dim.H) {
                bad = lib_fail(msg, sizeof msg, "frame '%s' does not match the model", f.name);
                break;
            }
            if (!*dst && !(*dst = malloc((size_t)hd.dim.L * hd.streams * hd.dim.H * sizeof(float)))) {
                bad = lib_fail(msg, sizeof msg, "out of memory");
                break;
            }
            float *p = *dst + *rows * hd.streams * hd.dim.H;
            memcpy(p, f.data, f.nbytes);
            *rows += f.shape[0];
            /* h = o tanh(c) (or a GRU's mix of tanh and h) lies in [-1, 1]; c is finite */
            for (size_t i = 0; i < f.count; i++)
                if (!isfinite(p[i]) || (dst == &t.state_h && fabsf(p[i]) > 1)) {
                    bad = lib_fail(msg, sizeof msg, "frame '%s' holds %g, %s", f.name, p[i],
                                   dst == &t.state_h ? "outside [-1, 1]" : "not finite");
                    break;
                }
        } else if (strcmp(f.name, "rng") == 0) {
            /* u8 (2, 4): the epoch's and the run's xoshiro256** state, whole or in pieces */
            if (!f.is_tensor || f.dtype != TS_U8 || f.ndim != 2 || f.shape[1] != 4
                || f.shape[0] > 2 - (uint64_t)rng_rows || (f.piece == 0 && rng_rows)) {
                bad = lib_fail(msg, sizeof msg, "rng frame has the wrong shape");
                break;
            }
            memcpy(rng_words + rng_rows * 4, f.data, f.nbytes);
            rng_rows += (int)f.shape[0];
            have_rng = rng_rows == 2;
            memcpy(t.rng_epoch.s, rng_words, 32);
            memcpy(t.rng.s, rng_words + 4, 32);
            if (have_rng && (rng_zero(&t.rng_epoch) || rng_zero(&t.rng)))      /* xoshiro's fixed point */
                bad = lib_fail(msg, sizeof msg, "rng frame holds an all-zero state (the generator would never leave it)");
        } else {
            for (int g = s ? G_RAW : G_PARAMS; g >= G_PARAMS && !piece; g--)
                if ((piece = take_piece(&rd, &hd, &f, g, msg, sizeof msg)) < 0)
                    bad = -1;
        }
        if (piece <= 0)
            rd.last_g = -1;           /* the next piece of a tensor must follow this one */
    }
    if (!bad && rc < 0)
        bad = lib_fail(msg, sizeof msg, "%s", ts_reader_error(r));
    ts_reader_close(r);
    if (fd != 0)
        close(fd);
    int gm = 0, gv = 0, gr = 0;
    if (!bad && !have_model)
        bad = lib_fail(msg, sizeof msg, "not a model (no 'model' frame)");
    if (!bad && !have_vocab)
        bad = lib_fail(msg, sizeof msg, "model has no vocab frame");
    if (!bad && voc.V != hd.dim.V)
        bad = lib_fail(msg, sizeof msg, "vocab frame does not match vocab_size %d", hd.dim.V);
    if (!bad && rng_rows && !have_rng)
        bad = lib_fail(msg, sizeof msg, "rng frame has the wrong shape");
    if (!bad && ((t.state_h && state_rows[0] != (size_t)hd.dim.L) || (t.state_c && state_rows[1] != (size_t)hd.dim.L)))
        bad = lib_fail(msg, sizeof msg, "frame 'state/%c' does not match the model", t.state_h && state_rows[0] != (size_t)hd.dim.L ? 'h' : 'c');
    if (!bad && group_state(&rd, &hd, G_PARAMS, msg, sizeof msg) < 0)
        bad = -1;
    if (!bad && s && ((gm = group_state(&rd, &hd, G_ADAM_M, msg, sizeof msg)) < 0
                      || (gv = group_state(&rd, &hd, G_ADAM_V, msg, sizeof msg)) < 0))
        bad = -1;
    if (!bad && s && (gm != gv || gm != have_rng))
        bad = lib_fail(msg, sizeof msg, "the optimizer state is incomplete (it needs adam/m, adam/v and rng)");
    /* an averaged model (ema > 0) keeps the weights training updates beside the optimizer's
     * state, and only it has them */
    if (!bad && s && (gr = group_state(&rd, &hd, G_RAW, msg, sizeof msg)) < 0)
        bad = -1;
    if (!bad && s && gm && gr != (t.ema > 0))
        bad = lib_fail(msg, sizeof msg, gr ? "raw/ weights in a model that keeps no average (ema 0)"
                                           : "the model averages its weights (ema %g) but has no raw/ weights", t.ema);
    if (!bad && s && gr && !gm)
        bad = lib_fail(msg, sizeof msg, "raw/ weights without the optimizer state");
    if (!bad && !t.state_h != !t.state_c)
        bad = lib_fail(msg, sizeof msg, "the carried state needs both state/h and state/c");
    if (!bad && t.state_h && !gm)
        bad = lib_fail(msg, sizeof msg, "a carried state without the optimizer state");
    size_t nparams = have_model ? lstm_nparams(hd.dim) : 0, at;
    /* Assemble: the model, then the optimizer's moments, checked as a whole. */
    if (!bad && model_alloc(m, hd.dim, hd.maxlen) < 0)
        bad = lib_fail(msg, sizeof msg, "out of memory");
    if (!bad) {
        m->per_position = hd.per_position;
        m->streams = hd.streams;
        memcpy(m->vocab, voc.cp, (size_t)voc.V * sizeof *m->vocab);
        m->byte_unit = voc.byte_unit;
        m->lower = voc.lower;
        assemble(&rd, &hd, G_PARAMS, m->params);
        if (gm) {
            t.adam_m = malloc(nparams * sizeof(float));
            t.adam_v = malloc(nparams * sizeof(float));
            if (!t.adam_m || !t.adam_v) {
                bad = lib_fail(msg, sizeof msg, "out of memory");
            } else {
                assemble(&rd, &hd, G_ADAM_M, t.adam_m);
                assemble(&rd, &hd, G_ADAM_V, t.adam_v);
                if (gr && !(t.raw = lib_zalloc(nparams * sizeof(float))))
                    bad = lib_fail(msg, sizeof msg, "out of memory");
                else if (gr)
                    assemble(&rd, &hd, G_RAW, t.raw);
                if (check_moments(t.adam_m, t.adam_v, nparams, t.beta1, t.beta2, &at) < 0)
                    bad = lib_fail(msg, sizeof msg, "the optimizer state is not Adam's (parameter %zu: m %g, v %g)",
                                   at, t.adam_m[at], t.adam_v[at]);
            }
        }
    }
    reading_free(&rd);
    frame_vocab_free(&voc);
    if (bad || !s) {
        free(t.adam_m);
        free(t.adam_v);
        free(t.raw);
        free(t.state_h);
        free(t.state_c);
    }
    if (bad) {
        model_free(m);
        if (s)
            memset(s, 0, sizeof *s);  /* nothing held: train_state_free(s) is harmless */
        if (strncmp(msg, label, strlen(label)) == 0)
            return lib_fail(err, cap, "%s", msg);
        return lib_fail(err, cap, "%s: %s", label, msg);
    }
    if (s)
        *s = t;
    return 0;
}

/* (codec.h reads text for any vocabulary; these are its calls on a model's) */
static codec model_codec(const model *m)
{
    return (codec){ .vocab = m->vocab, .V = m->dim.V, .byte_unit = m->byte_unit, .lower = m->lower };
}

int model_index(const model *m, uint32_t cp)
{
    codec c = model_codec(m);
    return codec_index(&c, cp);
}

int model_char(const model *m, const unsigned char *p, size_t n, uint32_t *cp, int *index,
               const char **why)
{
    codec c = model_codec(m);
    return codec_char(&c, p, n, cp, index, why);
}

/* 1 if the n floats at p (none when p is NULL) are all finite and at most lim in magnitude. */
static int all_within(const float *p, size_t n, double lim)
{
    for (size_t i = 0; p && i < n; i++)
        if (!(fabs(p[i]) <= lim))
            return 0;
    return 1;
}

int model_loadable(const model *m, const train_state *s)
{
    size_t np = lstm_nparams(m->dim), ns = (size_t)m->dim.L * m->streams * m->dim.H;
    return all_within(m->params, np, model_max_weight(m->dim.H))
           && (!s || (all_within(s->adam_m, np, FLT_MAX) && all_within(s->adam_v, np, FLT_MAX)
                      && all_within(s->raw, np, model_max_weight(m->dim.H))
                      && all_within(s->state_h, ns, 1) && all_within(s->state_c, ns, FLT_MAX)));
}

static void commas(char *buf, size_t cap, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
}

void model_summary(FILE *out, lstm_dims d, int maxlen, int per_position)
{
    int V = d.V, H = d.H, L = d.L, cell = d.cell;
    long long total = 0;
    char buf[32], shape[32], name[32];
    const char *rule = "_________________________________________________________________";
    const char *dbl  = "=================================================================";
    fprintf(out, "Model: \"sequential\"   (input: (None, %d) characters of a %d-symbol vocabulary)\n",
            maxlen, V);
    fprintf(out, "%s\n %-27s %-25s %-10s\n%s\n", rule, "Layer (type)", "Output Shape", "Param #", dbl);
    for (int l = 0; l < L; l++) {
        int nt = cell_tensors(cell);
        long long n = (long long)(lstm_tensor_offset(d, nt * (l + 1))
                                  - lstm_tensor_offset(d, nt * l));
        total += n;
        const char *type = cell == CELL_GRU ? "GRU" : cell == CELL_LNLSTM ? "LayerNormLSTM" : "LSTM";
        if (l == 0)
            snprintf(name, sizeof name, "%s (%s)", cell_name(cell), type);
        else
            snprintf(name, sizeof name, "%s_%d (%s)", cell_name(cell), l, type);
        if (per_position || l < L - 1)
            snprintf(shape, sizeof shape, "(None, %d, %d)", maxlen, H);
        else
            snprintf(shape, sizeof shape, "(None, %d)", H);
        fprintf(out, " %-27s %-25s %-10lld\n\n", name, shape, n);
    }
    long long dense = (long long)H * V + V;
    total += dense;
    if (per_position)
        snprintf(shape, sizeof shape, "(None, %d, %d)", maxlen, V);
    else
        snprintf(shape, sizeof shape, "(None, %d)", V);
    fprintf(out, " %-27s %-25s %-10lld\n\n", per_position ? "dense (TimeDistributed)" : "dense (Dense)", shape, dense);
    commas(buf, sizeof buf, total);
    fprintf(out, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: 0\n%s\n",
            dbl, buf, buf, rule);
}
