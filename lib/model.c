/* model.c - reading and writing model files; see model.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "model.h"
#include "ts.h"

#define MAX_V      (1 << 21)          /* every Unicode code point fits */
#define MAX_H      8192
#define MAX_MAXLEN 100000

static const char *weight_names[LSTM_NTENSORS] = {
    "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"
};

void model_alloc(model *m, int V, int H, int maxlen, int with_adam)
{
    memset(m, 0, sizeof *m);
    m->V = V;
    m->H = H;
    m->maxlen = maxlen;
    size_t n = lstm_nparams(V, H);
    m->vocab = cli_alloc((size_t)V * sizeof *m->vocab);
    m->params = cli_alloc(n * sizeof(float));
    if (with_adam) {
        m->adam_m = cli_alloc(n * sizeof(float));
        m->adam_v = cli_alloc(n * sizeof(float));
    }
    lstm_bind(&m->p, m->params, V, H);
    m->batch = 64;
    m->lr = 1e-3;
    m->beta1 = 0.9;
    m->beta2 = 0.999;
    m->eps = 1e-7;
    m->val_split = 0.2;
    m->train_loss = m->val_loss = NAN;
}

void model_free(model *m)
{
    free(m->vocab);
    free(m->params);
    free(m->adam_m);
    free(m->adam_v);
    memset(m, 0, sizeof *m);
}

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int write_weights(ts_writer *w, const model *m, const char *prefix, const float *flat)
{
    char name[64];
    for (int k = 0; k < LSTM_NTENSORS; k++) {
        uint64_t shape[2];
        int rank = lstm_tensor_shape(k, m->V, m->H, shape);
        snprintf(name, sizeof name, "%s%s", prefix, weight_names[k]);
        if (ts_write_tensor(w, name, TS_F4, rank, shape, flat + lstm_tensor_offset(k, m->V, m->H),
                            NULL, 0) < 0)
            return -1;
    }
    return 0;
}

int model_write(const model *m, int fd, const char *label, char *err, size_t cap)
{
    ts_writer *w = ts_writer_open(fd, label);
    ts_attr_kv a[] = {
        TS_ATTR_STR("cell", "lstm"), TS_ATTR_INT("layers", 1),
        TS_ATTR_INT("hidden", m->H), TS_ATTR_INT("maxlen", m->maxlen),
        TS_ATTR_INT("vocab_size", m->V), TS_ATTR_STR("targets", "last"),
        TS_ATTR_INT("batch", m->batch), TS_ATTR_FLOAT("lr", m->lr),
        TS_ATTR_FLOAT("beta1", m->beta1), TS_ATTR_FLOAT("beta2", m->beta2),
        TS_ATTR_FLOAT("epsilon", m->eps), TS_ATTR_FLOAT("clip", m->clip),
        TS_ATTR_FLOAT("val_split", m->val_split), TS_ATTR_INT("seed", (int64_t)m->seed),
        TS_ATTR_INT("epochs", m->epochs), TS_ATTR_INT("epoch_batches", m->epoch_batches),
        TS_ATTR_FLOAT("epoch_loss_sum", m->epoch_loss_sum), TS_ATTR_INT("steps", m->steps),
        TS_ATTR_FLOAT("train_loss", m->train_loss), TS_ATTR_FLOAT("val_loss", m->val_loss),
    };
    ts_write_info(w, "model", a, (int)(sizeof a / sizeof *a));
    uint64_t vshape[1] = { (uint64_t)m->V };
    ts_attr_kv unit[2] = { TS_ATTR_STR("unit", m->byte_unit ? "byte" : "codepoint"),
                           TS_ATTR_BOOL("lower", m->lower) };
    ts_write_tensor(w, "vocab", TS_U4, 1, vshape, m->vocab, unit, 2);
    write_weights(w, m, "", m->params);
    if (m->adam_m) {
        write_weights(w, m, "adam/m/", m->adam_m);
        write_weights(w, m, "adam/v/", m->adam_v);
        uint64_t rshape[2] = { 2, 4 };
        uint64_t st[8];
        memcpy(st, m->rng_epoch.s, 32);
        memcpy(st + 4, m->rng.s, 32);
        ts_write_tensor(w, "rng", TS_U8, 2, rshape, st, NULL, 0);
    }
    const char *e = NULL;
    if (ts_writer_finish(w, &e) < 0)
        return fail(err, cap, "%s", e);
    return 0;
}

static int get_int(const ts_frame *f, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t cap)
{
    if (ts_attr_int(f, key, out) != 1 || *out < lo || *out > hi)
        return fail(err, cap, "model attribute '%s' is missing or out of range", key);
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
                       unsigned *seen, char *err, size_t cap)
{
    size_t pl = strlen(prefix);
    if (strncmp(f->name, prefix, pl) != 0)
        return 0;
    for (int k = 0; k < LSTM_NTENSORS; k++) {
        if (strcmp(f->name + pl, weight_names[k]) != 0)
            continue;
        uint64_t shape[2];
        int rank = lstm_tensor_shape(k, m->V, m->H, shape);
        if (!f->is_tensor || f->dtype != TS_F4 || f->ndim != rank || f->shape[0] != shape[0]
            || (rank == 2 && f->shape[1] != shape[1]))
            return fail(err, cap, "weight '%s' has the wrong dtype or shape", f->name);
        memcpy(dst + lstm_tensor_offset(k, m->V, m->H), f->data, f->nbytes);
        for (size_t i = 0; i < f->count; i++)
            if (!isfinite(dst[lstm_tensor_offset(k, m->V, m->H) + i]))
                return fail(err, cap, "weight '%s' holds a non-finite value", f->name);
        *seen |= 1u << k;
        return 1;
    }
    return 0;
}

int model_read(model *m, const char *path, char *err, size_t cap)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    if (fd < 0)
        return fail(err, cap, "%s: %s", path, strerror(errno));
    ts_reader *r = ts_reader_open(fd, strcmp(path, "-") == 0 ? "stdin" : path);
    ts_frame f;
    int rc, have_model = 0, have_vocab = 0, have_rng = 0, bad = 0;
    unsigned seen = 0, seen_m = 0, seen_v = 0;
    char msg[256] = "";
    memset(m, 0, sizeof *m);
    while (!bad && (rc = ts_read(r, &f)) > 0) {
        if (strcmp(f.name, "model") == 0 && !have_model) {
            int64_t V, H, N, layers;
            char cell[16] = "";
            if (ts_attr_str(&f, "cell", cell, sizeof cell) != 1 || strcmp(cell, "lstm") != 0) {
                bad = fail(msg, sizeof msg, "model cell '%s' is not supported", cell);
                break;
            }
            if (get_int(&f, "layers", 1, 1, &layers, msg, sizeof msg) < 0
                || get_int(&f, "vocab_size", 1, MAX_V, &V, msg, sizeof msg) < 0
                || get_int(&f, "hidden", 1, MAX_H, &H, msg, sizeof msg) < 0
                || get_int(&f, "maxlen", 1, MAX_MAXLEN, &N, msg, sizeof msg) < 0) {
                bad = -1;
                break;
            }
            model_alloc(m, (int)V, (int)H, (int)N, 1);
            int64_t v;
            if (ts_attr_int(&f, "batch", &v) == 1 && v > 0 && v < (1 << 24)) m->batch = (int)v;
            if (ts_attr_int(&f, "seed", &v) == 1) m->seed = (uint64_t)v;
            if (ts_attr_int(&f, "epochs", &v) == 1 && v >= 0) m->epochs = v;
            if (ts_attr_int(&f, "epoch_batches", &v) == 1 && v >= 0) m->epoch_batches = v;
            if (ts_attr_int(&f, "steps", &v) == 1 && v >= 0) m->steps = v;
            get_num(&f, "lr", &m->lr);
            get_num(&f, "beta1", &m->beta1);
            get_num(&f, "beta2", &m->beta2);
            get_num(&f, "epsilon", &m->eps);
            get_num(&f, "clip", &m->clip);
            get_num(&f, "val_split", &m->val_split);
            get_num(&f, "epoch_loss_sum", &m->epoch_loss_sum);
            get_num(&f, "train_loss", &m->train_loss);
            get_num(&f, "val_loss", &m->val_loss);
            have_model = 1;
        } else if (!have_model) {
            if (strcmp(f.name, "vocab") == 0 || strcmp(f.name, "x") == 0 || strcmp(f.name, "text") == 0)
                bad = fail(msg, sizeof msg, "not a model (a data stream: frame '%s' before any 'model' frame)", f.name);
            /* else: unknown frames before the model are skipped */
        } else if (strcmp(f.name, "vocab") == 0) {
            if (!f.is_tensor || f.dtype != TS_U4 || f.ndim != 1 || f.shape[0] != (uint64_t)m->V) {
                bad = fail(msg, sizeof msg, "vocab frame does not match vocab_size %d", m->V);
                break;
            }
            memcpy(m->vocab, f.data, f.nbytes);
            char unit[16] = "";
            m->byte_unit = ts_attr_str(&f, "unit", unit, sizeof unit) == 1 && strcmp(unit, "byte") == 0;
            int64_t lw = 0;
            m->lower = ts_attr_int(&f, "lower", &lw) == 1 && lw;
            for (int i = 1; i < m->V; i++)
                if (m->vocab[i] <= m->vocab[i - 1]) {
                    bad = fail(msg, sizeof msg, "the vocabulary is not in ascending order");
                    break;
                }
            have_vocab = 1;
        } else if (strcmp(f.name, "rng") == 0) {
            if (!f.is_tensor || f.dtype != TS_U8 || f.count != 8) {
                bad = fail(msg, sizeof msg, "rng frame has the wrong shape");
                break;
            }
            memcpy(m->rng_epoch.s, f.data, 32);
            memcpy(m->rng.s, (const char *)f.data + 32, 32);
            have_rng = 1;
        } else {
            int t = take_weight(m, &f, "adam/m/", m->adam_m, &seen_m, msg, sizeof msg);
            if (t == 0)
                t = take_weight(m, &f, "adam/v/", m->adam_v, &seen_v, msg, sizeof msg);
            if (t == 0)
                t = take_weight(m, &f, "", m->params, &seen, msg, sizeof msg);
            if (t < 0)
                bad = -1;
        }
    }
    if (!bad && rc < 0)
        bad = fail(msg, sizeof msg, "%s", ts_reader_error(r));
    ts_reader_close(r);
    if (fd != 0)
        close(fd);
    const char *label = strcmp(path, "-") == 0 ? "stdin" : path;
    unsigned all = (1u << LSTM_NTENSORS) - 1;
    if (!bad && !have_model)
        bad = fail(msg, sizeof msg, "not a model (no 'model' frame)");
    if (!bad && !have_vocab)
        bad = fail(msg, sizeof msg, "model has no vocab frame");
    if (!bad && seen != all)
        bad = fail(msg, sizeof msg, "model lacks some weights");
    if (bad) {
        if (have_model)
            model_free(m);
        if (strncmp(msg, label, strlen(label)) == 0)
            return fail(err, cap, "%s", msg);
        return fail(err, cap, "%s: %s", label, msg);
    }
    if (seen_m != all || seen_v != all || !have_rng) {   /* no optimizer state: cannot resume */
        free(m->adam_m);
        free(m->adam_v);
        m->adam_m = m->adam_v = NULL;
    }
    return 0;
}

int model_index(const model *m, uint32_t cp)
{
    int lo = 0, hi = m->V - 1;                /* the vocabulary is sorted ascending */
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

void model_summary(FILE *out, int V, int H, int maxlen)
{
    long long lstm = 4LL * ((long long)H * (V + H) + H), dense = (long long)H * V + V;
    char total[32], shape[32];
    commas(total, sizeof total, lstm + dense);
    const char *rule = "_________________________________________________________________";
    const char *dbl  = "=================================================================";
    fprintf(out, "Model: \"sequential\"   (input: (None, %d) characters of a %d-symbol vocabulary)\n",
            maxlen, V);
    fprintf(out, "%s\n %-27s %-25s %-10s\n%s\n", rule, "Layer (type)", "Output Shape", "Param #", dbl);
    snprintf(shape, sizeof shape, "(None, %d)", H);
    fprintf(out, " %-27s %-25s %-10lld\n\n", "lstm (LSTM)", shape, lstm);
    snprintf(shape, sizeof shape, "(None, %d)", V);
    fprintf(out, " %-27s %-25s %-10lld\n\n", "dense (Dense)", shape, dense);
    fprintf(out, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: 0\n%s\n",
            dbl, total, total, rule);
}
