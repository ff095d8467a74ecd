/* safetensors.c - writing a model as safetensors; see safetensors.h and EXPORT.md. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "safetensors.h"
#include "utf8.h"
#include "util.h"

/* ---- a growing string for the JSON header ---- */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* s as a JSON string, quotes included (bytes >= 0x80 pass through: UTF-8, checked by
 * st_check, stays UTF-8). */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* What safetensors readers refuse, refused before anything is written: a name or metadata
 * string that is not UTF-8 (the header is JSON: UTF-8), a tensor named __metadata__, two
 * tensors or two metadata keys of one name, a rank other than 1 or 2 (all this writer
 * writes), a size that overflows. -1 with a message. */
static int st_check(const char *label, const st_tensor *t, int n, const st_meta *meta, int nm,
                    char *err, size_t cap)
{
#define REFUSE(...) do { char m_[256]; snprintf(m_, sizeof m_, __VA_ARGS__); \
        return lib_fail(err, cap, "%s: refusing to write a safetensors file that readers refuse: %s", label, m_); } while (0)
    if (n < 0 || nm < 0 || (n > 0 && !t) || (nm > 0 && !meta))
        REFUSE("%d tensors, %d metadata entries", n, nm);
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name ? t[i].name : "";
        if (!t[i].name || !utf8_valid(name, strlen(name)))
            REFUSE("tensor %d's name is not UTF-8", i);
        if (strcmp(name, "__metadata__") == 0)
            REFUSE("a tensor named __metadata__ (the metadata's key)");
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, name) == 0)
                REFUSE("two tensors named '%.100s'", name);
        if ((t[i].rank != 1 && t[i].rank != 2) || (t[i].shape[0] && !t[i].data))
            REFUSE("tensor '%.100s': rank %d (1 or 2) or no data", name, t[i].rank);
        uint64_t r1 = t[i].rank == 2 ? t[i].shape[1] : 1;
        if (r1 && t[i].shape[0] > UINT64_MAX / 4 / r1)
            REFUSE("tensor '%.100s': shape too large", name);
    }
    for (int i = 0; i < nm; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_valid(meta[i].key, strlen(meta[i].key)))
            REFUSE("metadata key %d is not UTF-8", i);
        if (!utf8_valid(meta[i].value, strlen(meta[i].value)))
            REFUSE("metadata '%.100s': the value is not UTF-8", meta[i].key);
        for (int j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0)
                REFUSE("two metadata keys '%.100s'", meta[i].key);
    }
    return 0;
#undef REFUSE
}

int st_write(int fd, const char *label, const st_tensor *t, int n, const st_meta *meta, int nm,
             char *err, size_t cap)
{
    if (st_check(label, t, n, meta, nm, err, cap) < 0)
        return -1;
    sbuf b = { 0 };
    uint64_t off = 0;
    sb_put(&b, "{", 1);
    if (nm > 0) {
        sb_put(&b, "\"__metadata__\":{", 16);
        for (int i = 0; i < nm; i++) {
            if (i)
                sb_put(&b, ",", 1);
            sb_json_str(&b, meta[i].key);
            sb_put(&b, ":", 1);
            sb_json_str(&b, meta[i].value);
        }
        sb_put(&b, "}", 1);
    }
    for (int i = 0; i < n; i++) {
        uint64_t count = t[i].shape[0] * (t[i].rank == 2 ? t[i].shape[1] : 1);
        if (nm > 0 || i > 0)
            sb_put(&b, ",", 1);
        sb_json_str(&b, t[i].name);
        sb_printf(&b, ":{\"dtype\":\"F32\",\"shape\":[%llu", (unsigned long long)t[i].shape[0]);
        if (t[i].rank == 2)
            sb_printf(&b, ",%llu", (unsigned long long)t[i].shape[1]);
        sb_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                  (unsigned long long)(off + 4 * count));
        off += 4 * count;
    }
    sb_put(&b, "}", 1);
    while (!b.oom && (8 + b.n) % 8 != 0)        /* the data starts 8-byte aligned */
        sb_put(&b, " ", 1);
    if (b.oom) {
        free(b.s);
        return lib_fail(err, cap, "%s: out of memory", label);
    }
    if (b.n > ST_MAX_HEADER) {
        free(b.s);
        return lib_fail(err, cap, "%s: refusing to write a safetensors file that readers refuse: a header "
                        "of %zu bytes (safetensors readers take at most %d)", label, b.n, ST_MAX_HEADER);
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
    int rc = write_all(fd, len, 8) < 0 || write_all(fd, b.s, b.n) < 0 ? -1 : 0;
    free(b.s);
    unsigned char buf[4096];                     /* the data, little-endian whatever the host */
    for (int i = 0; rc == 0 && i < n; i++) {
        uint64_t count = t[i].shape[0] * (t[i].rank == 2 ? t[i].shape[1] : 1);
        size_t k = 0;
        for (uint64_t j = 0; rc == 0 && j < count; j++) {
            uint32_t u;
            memcpy(&u, &t[i].data[j], 4);
            for (int q = 0; q < 4; q++)
                buf[k++] = (unsigned char)(u >> (8 * q));
            if (k == sizeof buf || j + 1 == count) {
                rc = write_all(fd, buf, k);
                k = 0;
            }
        }
    }
    if (rc < 0)
        return lib_fail(err, cap, "%s: write failed: %s", label, strerror(errno));
    return 0;
}

/* ---- the model's tensors in each layout ---- */

#define MAX_T (4 * LSTM_MAX_LAYERS + 2)

/* The Keras column that PyTorch's gate row g reads: the GRU's Keras blocks z, r, h become
 * PyTorch's r, z, n; the LSTMs' i, f, c, o are PyTorch's i, f, g, o already. */
static int keras_col(int cell, int H, int g)
{
    static const int gru_block[3] = { 1, 0, 2 };
    return cell == CELL_GRU ? gru_block[g / H] * H + g % H : g;
}

/* dst (G, rows) = src (rows, G) transposed, gate blocks in PyTorch's order. */
static void to_torch(float *dst, const float *src, int rows, int G, int cell, int H)
{
    for (int g = 0; g < G; g++) {
        int kc = keras_col(cell, H, g);
        for (int r = 0; r < rows; r++)
            dst[(size_t)g * rows + r] = src[(size_t)r * G + kc];
    }
}

typedef struct export_set {
    st_tensor t[MAX_T * 2];
    char names[MAX_T * 2][48];
    float *own[MAX_T * 2];            /* converted copies, freed after writing */
    int n, oom;
} export_set;

static float *add(export_set *e, const char *name, int rank, uint64_t r0, uint64_t r1,
                  const float *data)
{
    st_tensor *t = &e->t[e->n];
    snprintf(e->names[e->n], sizeof e->names[e->n], "%s", name);
    *t = (st_tensor){ .name = e->names[e->n], .rank = rank, .shape = { r0, rank == 2 ? r1 : 1 },
                      .data = data };
    float *buf = NULL;
    if (!data) {                       /* a converted copy, filled by the caller */
        buf = lib_zalloc((size_t)(r0 * (rank == 2 ? r1 : 1)) * sizeof(float));
        if (!buf)
            e->oom = 1;
        t->data = buf;
    }
    e->own[e->n++] = buf;
    return buf;
}

static void torch_tensors(export_set *e, const model *m)
{
    const lstm_params *p = &m->p;
    int V = m->dim.V, H = m->dim.H, cell = m->dim.cell, G = cell_gates(cell) * H;
    char name[48];
    for (int l = 0; l < m->dim.L; l++) {
        int in = l == 0 ? V : H;
        const lstm_layer *y = &p->layer[l];
        snprintf(name, sizeof name, "rnn.weight_ih_l%d", l);
        float *w = add(e, name, 2, (uint64_t)G, (uint64_t)in, NULL);
        if (w)
            to_torch(w, y->kernel, in, G, cell, H);
        snprintf(name, sizeof name, "rnn.weight_hh_l%d", l);
        if ((w = add(e, name, 2, (uint64_t)G, (uint64_t)H, NULL)))
            to_torch(w, y->recurrent, H, G, cell, H);
        if (cell == CELL_LNLSTM) {     /* no PyTorch module: its own names (EXPORT.md) */
            snprintf(name, sizeof name, "rnn.bias_l%d", l);
            add(e, name, 1, (uint64_t)G, 0, y->bias);
            snprintf(name, sizeof name, "rnn.gamma_l%d", l);
            add(e, name, 1, (uint64_t)G, 0, y->gamma);
            continue;
        }
        /* the LSTM's one bias is bias_ih (bias_hh zero); the GRU's rows 0, 1 are ih, hh */
        snprintf(name, sizeof name, "rnn.bias_ih_l%d", l);
        if ((w = add(e, name, 1, (uint64_t)G, 0, NULL)))
            to_torch(w, y->bias, 1, G, cell, H);
        snprintf(name, sizeof name, "rnn.bias_hh_l%d", l);
        if ((w = add(e, name, 1, (uint64_t)G, 0, NULL)) && cell == CELL_GRU)
            to_torch(w, y->bias + G, 1, G, cell, H);
    }
    float *w = add(e, "out.weight", 2, (uint64_t)V, (uint64_t)H, NULL);
    if (w)
        to_torch(w, p->dense_w, H, V, CELL_LSTM, H);
    add(e, "out.bias", 1, (uint64_t)V, 0, p->dense_b);
}

static void keras_tensors(export_set *e, const model *m)
{
    char name[48];
    for (int k = 0; k < lstm_ntensors(m->dim); k++) {
        uint64_t shape[2];
        int rank = lstm_tensor_shape(m->dim, k, shape);
        add(e, lstm_tensor_name(m->dim, k, name, sizeof name), rank, shape[0], shape[1],
            m->params + lstm_tensor_offset(m->dim, k));
    }
}

/* ---- metadata: every value a string ---- */

#define MAX_META 40

typedef struct meta_set {
    st_meta kv[MAX_META];
    char val[MAX_META][64];
    int n;
} meta_set;

static void meta_str(meta_set *s, const char *key, const char *v)
{
    if (s->n < MAX_META)
        s->kv[s->n++] = (st_meta){ key, v };
}

static void meta_fmt(meta_set *s, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_fmt(meta_set *s, const char *key, const char *fmt, ...)
{
    if (s->n >= MAX_META)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->val[s->n], sizeof s->val[s->n], fmt, ap);
    va_end(ap);
    s->kv[s->n] = (st_meta){ key, s->val[s->n] };
    s->n++;
}

/* A double as JSON would write it, or "nan" (not a JSON number, but float() reads it). */
static void meta_num(meta_set *s, const char *key, double v)
{
    if (isfinite(v))
        meta_fmt(s, key, "%.15g", v);
    else
        meta_str(s, key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

int st_write_model(const model *m, const train_state *s, int layout, int fd, const char *label,
                   char *err, size_t cap)
{
    export_set *e = calloc(1, sizeof *e);
    meta_set *ms = calloc(1, sizeof *ms);
    sbuf vocab = { 0 }, order = { 0 };
    int rc = -1;
    if (!e || !ms)
        goto oom;
    if (layout == ST_LAYOUT_TORCH)
        torch_tensors(e, m);
    else
        keras_tensors(e, m);
    if (e->oom)
        goto oom;
    /* the vocabulary as a JSON list of code points (or bytes), index i = output row i */
    sb_put(&vocab, "[", 1);
    for (int i = 0; i < m->dim.V; i++)
        sb_printf(&vocab, i ? ",%u" : "%u", (unsigned)m->vocab[i]);
    sb_put(&vocab, "]", 1);
    /* the tensors' names in the order written (for Keras: set_weights's order) */
    sb_put(&order, "[", 1);
    for (int i = 0; i < e->n; i++) {
        if (i)
            sb_put(&order, ",", 1);
        sb_json_str(&order, e->t[i].name);
    }
    sb_put(&order, "]", 1);
    if (vocab.oom || order.oom)
        goto oom;
    meta_str(ms, "format", "charpipe");
    meta_str(ms, "tensor_layout", layout == ST_LAYOUT_TORCH ? "torch" : "keras");
    meta_str(ms, "order", order.s);
    meta_str(ms, "cell", cell_name(m->dim.cell));
    meta_fmt(ms, "layers", "%d", m->dim.L);
    meta_fmt(ms, "hidden", "%d", m->dim.H);
    meta_fmt(ms, "vocab_size", "%d", m->dim.V);
    meta_fmt(ms, "maxlen", "%d", m->maxlen);
    meta_str(ms, "vocab", vocab.s);
    meta_str(ms, "unit", m->byte_unit ? "byte" : "codepoint");
    meta_str(ms, "lower", m->lower ? "true" : "false");
    meta_str(ms, "targets", m->per_position ? "every" : "last");
    meta_str(ms, "layout", m->streams ? "streams" : "windows");
    meta_fmt(ms, "streams", "%d", m->streams);
    if (s) {                           /* the training settings and progress (no optimizer state) */
        meta_fmt(ms, "batch", "%d", s->batch);
        meta_num(ms, "lr", s->lr);
        meta_str(ms, "schedule", s->schedule);
        meta_num(ms, "decay_rate", s->decay_rate);
        meta_fmt(ms, "decay_every", "%d", s->decay_every);
        meta_num(ms, "beta1", s->beta1);
        meta_num(ms, "beta2", s->beta2);
        meta_num(ms, "epsilon", s->eps);
        meta_num(ms, "clip", s->clip);
        meta_num(ms, "dropout", s->dropout);
        meta_num(ms, "val_split", s->val_split);
        meta_fmt(ms, "seed", "%llu", (unsigned long long)s->seed);
        meta_fmt(ms, "epochs", "%lld", (long long)s->epochs);
        meta_fmt(ms, "steps", "%lld", (long long)s->steps);
        meta_num(ms, "train_loss", s->train_loss);
        meta_num(ms, "val_loss", s->val_loss);
        meta_num(ms, "best_val_loss", s->best_val_loss);
    }
    rc = st_write(fd, label, e->t, e->n, ms->kv, ms->n, err, cap);
    goto done;
oom:
    rc = lib_fail(err, cap, "%s: out of memory", label);
done:
    if (e)
        for (int i = 0; i < e->n; i++)
            free(e->own[i]);
    free(e);
    free(ms);
    free(vocab.s);
    free(order.s);
    return rc;
}
