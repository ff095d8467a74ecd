/* model.c - reading and writing model files; see model.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "frame.h"
#include "util.h"
#include "model.h"
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

int train_state_alloc(train_state *s, size_t nparams)
{
    memset(s, 0, sizeof *s);
    s->adam_m = lib_zalloc(nparams * sizeof(float));
    s->adam_v = lib_zalloc(nparams * sizeof(float));
    if (!s->adam_m || !s->adam_v) {
        train_state_free(s);
        return -1;
    }
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
    return 0;
}

void train_state_free(train_state *s)
{
    free(s->adam_m);
    free(s->adam_v);
    free(s->state_h);
    free(s->state_c);
    memset(s, 0, sizeof *s);
}

static int write_weights(ts_writer *w, const model *m, const char *prefix, const float *flat)
{
    char name[64], base[48];
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        snprintf(name, sizeof name, "%s%s", prefix, lstm_tensor_name(m->dim, k, base, sizeof base));
        if (ts_write_tensor(w, name, TS_F4, rank, shape, flat + lstm_tensor_offset(m->dim, k),
                            NULL, 0) < 0)
            return -1;
    }
    return 0;
}

int model_write(const model *m, const train_state *s, int fd, const char *label, char *err,
                size_t cap)
{
    static const train_state none;
    if (!s)
        s = &none;
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
        TS_ATTR_INT("warmup", s->warmup),
    };
    ts_write_info(w, "model", a, s == &none ? 8 : (int)(sizeof a / sizeof *a));
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

static void get_num(const ts_frame *f, const char *key, double *out)
{
    double v;
    if (ts_attr_num(f, key, &v) == 1)
        *out = v;
}

/* Copy a weight frame into dst if its name is one of prefix+weight_names; 1 if taken. */
static int take_weight(const model *m, const ts_frame *f, const char *prefix, float *dst,
                       uint64_t *seen, char *err, size_t cap)
{
    size_t pl = strlen(prefix);
    if (strncmp(f->name, prefix, pl) != 0)
        return 0;
    char base[48];
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        if (strcmp(f->name + pl, lstm_tensor_name(m->dim, k, base, sizeof base)) != 0)
            continue;
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        if (!f->is_tensor || f->dtype != TS_F4 || f->ndim != rank || f->shape[0] != shape[0]
            || (rank == 2 && f->shape[1] != shape[1]))
            return lib_fail(err, cap, "weight '%s' has the wrong dtype or shape", f->name);
        size_t off = lstm_tensor_offset(m->dim, k);
        memcpy(dst + off, f->data, f->nbytes);
        for (size_t i = 0; i < f->count; i++)
            if (!isfinite(dst[off + i]))
                return lib_fail(err, cap, "weight '%s' holds a non-finite value", f->name);
        *seen |= (uint64_t)1 << k;
        return 1;
    }
    return 0;
}

int model_read(model *m, train_state *s, const char *path, char *err, size_t cap)
{
    train_state scratch;              /* the training state's frames are read only when asked */
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    if (fd < 0)
        return lib_fail(err, cap, "%s: %s", path, strerror(errno));
    ts_reader *r = ts_reader_open(fd, strcmp(path, "-") == 0 ? "stdin" : path);
    if (!r) {
        if (fd != 0)
            close(fd);
        return lib_fail(err, cap, "%s: out of memory", strcmp(path, "-") == 0 ? "stdin" : path);
    }
    ts_frame f;
    int rc, have_model = 0, have_vocab = 0, have_rng = 0, bad = 0;
    uint64_t seen = 0, seen_m = 0, seen_v = 0;
    char msg[256] = "";
    memset(m, 0, sizeof *m);
    while (!bad && (rc = ts_read(r, &f)) > 0) {
        if (strcmp(f.name, "model") == 0 && !have_model) {
            int64_t V, H, N, layers, streams = 0;
            char cell[16] = "";
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
            if (model_alloc(m, (lstm_dims){ (int)V, (int)H, (int)layers, cellk }, (int)N) < 0) {
                bad = lib_fail(msg, sizeof msg, "out of memory");
                break;
            }
            if (s && train_state_alloc(s, lstm_nparams(m->dim)) < 0) {
                model_free(m);
                bad = lib_fail(msg, sizeof msg, "out of memory");
                break;
            }
            have_model = 1;           /* (from here on, a failure frees what was made) */
            if (!s)                   /* the settings are parsed into a scratch copy, then dropped */
                memset(&scratch, 0, sizeof scratch);
            train_state *t = s ? s : &scratch;
            char targets[16] = "last", layout[16] = "windows";
            ts_attr_str(&f, "targets", targets, sizeof targets);
            ts_attr_str(&f, "layout", layout, sizeof layout);
            m->per_position = strcmp(targets, "every") == 0;
            if (strcmp(layout, "streams") == 0
                && (ts_attr_int(&f, "streams", &streams) != 1 || streams < 1 || streams > (1 << 20))) {
                bad = lib_fail(msg, sizeof msg, "model attribute 'streams' is missing or out of range");
                break;
            }
            m->streams = strcmp(layout, "streams") == 0 ? (int)streams : 0;
            ts_attr_str(&f, "schedule", t->schedule, sizeof t->schedule);
            get_num(&f, "dropout", &t->dropout);
            get_num(&f, "decay_rate", &t->decay_rate);
            get_num(&f, "best_val_loss", &t->best_val_loss);
            int64_t de;
            if (ts_attr_int(&f, "decay_every", &de) == 1 && de > 0 && de < (1 << 30)) t->decay_every = (int)de;
            int64_t v;
            if (ts_attr_int(&f, "batch", &v) == 1 && v > 0 && v < (1 << 24)) t->batch = (int)v;
            if (ts_attr_int(&f, "seed", &v) == 1) t->seed = (uint64_t)v;
            if (ts_attr_int(&f, "epochs", &v) == 1 && v >= 0) t->epochs = v;
            if (ts_attr_int(&f, "epoch_batches", &v) == 1 && v >= 0) t->epoch_batches = v;
            if (ts_attr_int(&f, "steps", &v) == 1 && v >= 0) t->steps = v;
            get_num(&f, "lr", &t->lr);
            get_num(&f, "beta1", &t->beta1);
            get_num(&f, "beta2", &t->beta2);
            get_num(&f, "epsilon", &t->eps);
            get_num(&f, "clip", &t->clip);
            get_num(&f, "val_split", &t->val_split);
            get_num(&f, "epoch_loss_sum", &t->epoch_loss_sum);
            get_num(&f, "train_loss", &t->train_loss);
            get_num(&f, "val_loss", &t->val_loss);
            /* regularisation (issue 16): rates in [0, 1), decay and warm-up >= 0; else off */
            get_num(&f, "weight_drop", &t->weight_drop);
            get_num(&f, "locked_dropout", &t->locked_dropout);
            get_num(&f, "input_dropout", &t->input_dropout);
            get_num(&f, "weight_decay", &t->weight_decay);
            if (ts_attr_int(&f, "warmup", &v) == 1 && v >= 0) t->warmup = v;
            if (!(t->weight_drop >= 0 && t->weight_drop < 1 && t->locked_dropout >= 0
                  && t->locked_dropout < 1 && t->input_dropout >= 0 && t->input_dropout < 1
                  && t->weight_decay >= 0 && t->weight_decay < 1e3)) {
                bad = lib_fail(msg, sizeof msg, "model attributes weight_drop, locked_dropout, "
                               "input_dropout or weight_decay out of range");
                break;
            }
        } else if (!have_model) {
            if (strcmp(f.name, "vocab") == 0 || strcmp(f.name, "x") == 0 || strcmp(f.name, "text") == 0)
                bad = lib_fail(msg, sizeof msg, "not a model (a data stream: frame '%s' before any 'model' frame)", f.name);
            /* else: unknown frames before the model are skipped */
        } else if (strcmp(f.name, "vocab") == 0) {
            frame_vocab v;
            if (frame_vocab_read(&f, FRAME_ANY_V, &v, msg, sizeof msg) < 0) {
                bad = -1;
                break;
            }
            if (v.V != m->dim.V) {
                frame_vocab_free(&v);
                bad = lib_fail(msg, sizeof msg, "vocab frame does not match vocab_size %d", m->dim.V);
                break;
            }
            memcpy(m->vocab, v.cp, (size_t)v.V * sizeof *m->vocab);
            m->byte_unit = v.byte_unit;
            m->lower = v.lower;
            frame_vocab_free(&v);
            have_vocab = 1;
        } else if (!s && (strncmp(f.name, "adam/", 5) == 0 || strncmp(f.name, "state/", 6) == 0
                          || strcmp(f.name, "rng") == 0)) {
            continue;                 /* the training state: not asked for */
        } else if (strcmp(f.name, "state/h") == 0 || strcmp(f.name, "state/c") == 0) {
            if (!m->streams || !f.is_tensor || f.dtype != TS_F4 || f.ndim != 3 || f.shape[0] != (uint64_t)m->dim.L
                || f.shape[1] != (uint64_t)m->streams || f.shape[2] != (uint64_t)m->dim.H) {
                bad = lib_fail(msg, sizeof msg, "frame '%s' does not match the model", f.name);
                break;
            }
            float **dst = f.name[6] == 'h' ? &s->state_h : &s->state_c;
            if (!*dst && !(*dst = lib_zalloc(f.nbytes))) {
                bad = lib_fail(msg, sizeof msg, "out of memory");
                break;
            }
            memcpy(*dst, f.data, f.nbytes);
        } else if (strcmp(f.name, "rng") == 0) {
            if (!f.is_tensor || f.dtype != TS_U8 || f.count != 8) {
                bad = lib_fail(msg, sizeof msg, "rng frame has the wrong shape");
                break;
            }
            memcpy(s->rng_epoch.s, f.data, 32);
            memcpy(s->rng.s, (const char *)f.data + 32, 32);
            have_rng = 1;
        } else {
            int t = s ? take_weight(m, &f, "adam/m/", s->adam_m, &seen_m, msg, sizeof msg) : 0;
            if (t == 0 && s)
                t = take_weight(m, &f, "adam/v/", s->adam_v, &seen_v, msg, sizeof msg);
            if (t == 0)
                t = take_weight(m, &f, "", m->params, &seen, msg, sizeof msg);
            if (t < 0)
                bad = -1;
        }
    }
    if (!bad && rc < 0)
        bad = lib_fail(msg, sizeof msg, "%s", ts_reader_error(r));
    ts_reader_close(r);
    if (fd != 0)
        close(fd);
    const char *label = strcmp(path, "-") == 0 ? "stdin" : path;
    uint64_t all = have_model ? ((uint64_t)1 << lstm_ntensors(m->dim)) - 1 : 0;
    if (!bad && !have_model)
        bad = lib_fail(msg, sizeof msg, "not a model (no 'model' frame)");
    if (!bad && !have_vocab)
        bad = lib_fail(msg, sizeof msg, "model has no vocab frame");
    if (!bad && seen != all)
        bad = lib_fail(msg, sizeof msg, "model lacks some weights");
    if (bad) {
        if (have_model) {
            model_free(m);
            if (s)
                train_state_free(s);
        }
        if (strncmp(msg, label, strlen(label)) == 0)
            return lib_fail(err, cap, "%s", msg);
        return lib_fail(err, cap, "%s: %s", label, msg);
    }
    if (!s)
        return 0;
    if (!s->state_h != !s->state_c) {
        free(s->state_h);
        free(s->state_c);
        s->state_h = s->state_c = NULL;
    }
    if (seen_m != all || seen_v != all || !have_rng) {   /* no optimizer state: cannot resume */
        free(s->adam_m);
        free(s->adam_v);
        s->adam_m = s->adam_v = NULL;
    }
    return 0;
}

int model_index(const model *m, uint32_t cp)
{
    int lo = 0, hi = m->dim.V - 1;                /* the vocabulary is sorted ascending */
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->vocab[mid] == cp)
            return mid;
        if (m->vocab[mid] < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int model_char(const model *m, const unsigned char *p, size_t n, uint32_t *cp, int *index,
               const char **why)
{
    int len = 1, bad;
    if (m->byte_unit)
        *cp = p[0];
    else if ((len = utf8_decode(p, n, cp, why, &bad)) <= 0)
        return len;
    if (m->lower)
        *cp = utf8_lower(*cp, m->byte_unit);
    *index = model_index(m, *cp);
    return len;
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
