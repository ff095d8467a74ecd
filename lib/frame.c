/* frame.c - vocab frames, index tensors and one-hot tensors, decoded once; see frame.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frame.h"
#include "util.h"
#include "utf8.h"

/* Little-endian loads from the (unaligned) frame data. */
static inline uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- vocab frames ---- */

/* The unit attribute: 1 for "byte", 0 for "codepoint" or absent, -1 otherwise. */
static int vocab_unit(const ts_frame *f)
{
    char unit[16];
    int u = ts_attr_str(f, "unit", unit, sizeof unit);
    if (u == 0)
        return 0;
    if (u < 0)
        return -1;
    if (strcmp(unit, "byte") == 0)
        return 1;
    return strcmp(unit, "codepoint") == 0 ? 0 : -1;
}

int frame_vocab_read(const ts_frame *f, int maxV, frame_vocab *v, char *err, size_t cap)
{
    memset(v, 0, sizeof *v);
    if (!f->is_tensor)
        return lib_fail(err, cap, "the vocab frame is not a tensor (expected u4 (V,))");
    if (f->dtype != TS_U4 || f->ndim != 1)
        return lib_fail(err, cap, "the vocab frame must be u4 (V,), got %s with %d dimensions",
                    ts_dtype_name(f->dtype), f->ndim);
    if (f->shape[0] == 0)
        return lib_fail(err, cap, "the vocab frame is empty (V = 0)");
    if (f->shape[0] > (uint64_t)maxV)
        return lib_fail(err, cap, "a vocabulary of %llu symbols is more than the %d supported",
                    (unsigned long long)f->shape[0], maxV);
    int unit = vocab_unit(f);
    if (unit < 0)
        return lib_fail(err, cap, "vocab frame: attribute 'unit' is not \"codepoint\" or \"byte\"");
    int V = (int)f->shape[0];
    uint32_t max = unit ? 0xFF : UTF8_MAX_CP;
    const unsigned char *p = f->data;
    uint32_t *cp = malloc((size_t)V * sizeof *cp);
    if (!cp)
        return lib_fail(err, cap, "out of memory for a vocabulary of %d symbols", V);
    for (int i = 0; i < V; i++) {
        cp[i] = le32(p + (size_t)i * 4);
        if (cp[i] > max) {
            lib_fail(err, cap, "vocab entry %d is %lu, above %s", i, (unsigned long)cp[i],
                 unit ? "0xFF (unit \"byte\")" : "U+10FFFF");
            free(cp);
            return -1;
        }
        if (i > 0 && cp[i] <= cp[i - 1]) {
            lib_fail(err, cap, "the vocabulary is not in ascending order (entry %d is %lu, after %lu)",
                 i, (unsigned long)cp[i], (unsigned long)cp[i - 1]);
            free(cp);
            return -1;
        }
    }
    int64_t lw = 0;
    v->V = V;
    v->cp = cp;
    v->byte_unit = unit;
    v->lower = ts_attr_int(f, "lower", &lw) == 1 && lw;
    return 0;
}

int frame_vocab_append(frame_vocab *v, const ts_frame *f, int maxV, char *err, size_t cap)
{
    if (!f->is_tensor || f->dtype != TS_U4 || f->ndim != 1 || v->V == 0)   /* (the reader checked the piece) */
        return lib_fail(err, cap, "a piece of the vocab frame that does not continue it");
    if (f->shape[0] > (uint64_t)maxV - (uint64_t)v->V)
        return lib_fail(err, cap, "a vocabulary of %llu symbols is more than the %d supported",
                        (unsigned long long)(v->V + f->shape[0]), maxV);
    int n = (int)f->shape[0], V = v->V + n;
    uint32_t max = v->byte_unit ? 0xFF : UTF8_MAX_CP;
    uint32_t *cp = realloc(v->cp, (size_t)(V > 0 ? V : 1) * sizeof *cp);
    if (!cp)
        return lib_fail(err, cap, "out of memory for a vocabulary of %d symbols", V);
    v->cp = cp;
    const unsigned char *p = f->data;
    for (int i = v->V; i < V; i++) {
        cp[i] = le32(p + (size_t)(i - v->V) * 4);
        if (cp[i] > max)
            return lib_fail(err, cap, "vocab entry %d is %lu, above %s", i, (unsigned long)cp[i],
                            v->byte_unit ? "0xFF (unit \"byte\")" : "U+10FFFF");
        if (cp[i] <= cp[i - 1])
            return lib_fail(err, cap, "the vocabulary is not in ascending order (entry %d is %lu, after %lu)",
                            i, (unsigned long)cp[i], (unsigned long)cp[i - 1]);
    }
    v->V = V;
    return 0;
}

int frame_vocab_take(frame_vocab *v, const ts_frame *f, int maxV, char *err, size_t cap)
{
    if (f->piece > 0)
        return frame_vocab_append(v, f, maxV, err, cap);
    frame_vocab_free(v);
    return frame_vocab_read(f, maxV, v, err, cap);
}

int frame_vocab_same(const frame_vocab *a, const frame_vocab *b)
{
    return a->V == b->V && !a->byte_unit == !b->byte_unit
        && (a->V == 0 || memcmp(a->cp, b->cp, (size_t)a->V * sizeof *a->cp) == 0);
}

void frame_vocab_free(frame_vocab *v)
{
    free(v->cp);
    v->cp = NULL;
    v->V = 0;
}

int frame_vocab_equal(const ts_frame *f, const frame_vocab *v)
{
    if (!f->is_tensor || f->dtype != TS_U4 || f->ndim != 1 || f->shape[0] != (uint64_t)v->V)
        return 0;
    if (vocab_unit(f) != (v->byte_unit ? 1 : 0))
        return 0;
    const unsigned char *p = f->data;
    for (int i = 0; i < v->V; i++)
        if (le32(p + (size_t)i * 4) != v->cp[i])
            return 0;
    return 1;
}

/* ---- index tensors ---- */

int frame_is_index_dtype(ts_dtype t)
{
    return t < TS_NDTYPES && t != TS_F4 && t != TS_F8;
}

int64_t frame_index_at(const ts_frame *f, size_t i)
{
    const unsigned char *p = f->data;
    switch (f->dtype) {
    case TS_U1: return p[i];
    case TS_I1: return (int8_t)p[i];
    case TS_U2: p += i * 2; return (uint16_t)(p[0] | p[1] << 8);
    case TS_I2: p += i * 2; return (int16_t)(uint16_t)(p[0] | p[1] << 8);
    case TS_U4: return le32(p + i * 4);
    case TS_I4: return (int32_t)le32(p + i * 4);
    case TS_U8: {
        uint64_t u = le64(p + i * 8);
        return u > INT64_MAX ? -1 : (int64_t)u;
    }
    case TS_I8: return (int64_t)le64(p + i * 8);
    default:    return -1;                       /* not an index dtype */
    }
}

/* The refusal of a float tensor that is not f4 (..., V). */
static int not_onehot(const ts_frame *f, int V, const char *what, char *err, size_t cap)
{
    if (f->dtype == TS_F4)
        return lib_fail(err, cap, "%s is f4 with a last dimension of %llu: give indices or float32 "
                    "one-hot rows of V = %d", what,
                    f->ndim ? (unsigned long long)f->shape[f->ndim - 1] : 0ULL, V);
    return lib_fail(err, cap, "%s is %s: give indices or float32 one-hot rows of V = %d",
                what, ts_dtype_name(f->dtype), V);
}

static int is_onehot_f4(const ts_frame *f, int V)
{
    return f->dtype == TS_F4 && f->ndim >= 1 && f->shape[f->ndim - 1] == (uint64_t)V;
}

/* The position of each row's one 1.0 (the rest 0.0 or -0.0), compared as bit patterns. */
static int onehot_rows(const ts_frame *f, size_t rows, int V, int32_t *out, const char *what,
                       char *err, size_t cap)
{
    const unsigned char *p = f->data;
    for (size_t r = 0; r < rows; r++) {
        int hot = -1, ok = 1;
        for (int v = 0; v < V; v++) {
            uint32_t x = le32(p + (r * (size_t)V + (size_t)v) * 4);
            if (x == 0x3F800000u && hot < 0)     /* 1.0f */
                hot = v;
            else if ((x & 0x7FFFFFFFu) != 0)     /* anything but +-0 */
                ok = 0;
        }
        if (!ok || hot < 0)
            return lib_fail(err, cap, "%s is float32 but row %zu is not one-hot (exactly one 1.0, "
                        "the rest 0)", what, r);
        out[r] = hot;
    }
    return 0;
}

static int out_of_range(int64_t v, int V, const char *what, char *err, size_t cap)
{
    return lib_fail(err, cap, "%s holds index %lld, outside the vocabulary of %d", what,
                (long long)v, V);
}

int frame_indices(const ts_frame *f, size_t count, int V, int32_t *out, const char *what,
                  char *err, size_t cap)
{
    if (!f->is_tensor)
        return lib_fail(err, cap, "%s is not a tensor", what);
    if (V <= 0)
        return lib_fail(err, cap, "%s: no vocabulary to index (V = %d)", what, V);
    if (!frame_is_index_dtype(f->dtype)) {
        if (!is_onehot_f4(f, V))
            return not_onehot(f, V, what, err, cap);
        if (count > f->count / (uint64_t)V)
            return lib_fail(err, cap, "%s holds %llu one-hot rows, fewer than the %zu expected", what,
                        (unsigned long long)(f->count / (uint64_t)V), count);
        return onehot_rows(f, count, V, out, what, err, cap);
    }
    if (count > f->count)
        return lib_fail(err, cap, "%s holds %llu indices, fewer than the %zu expected", what,
                    (unsigned long long)f->count, count);
    if (f->dtype == TS_U1) {                     /* the common case, kept tight */
        const uint8_t *p = f->data;
        unsigned mx = 0;
        for (size_t i = 0; i < count; i++) {
            out[i] = p[i];
            mx = p[i] > mx ? p[i] : mx;
        }
        if (mx >= (unsigned)V)
            for (size_t i = 0; i < count; i++)  /* name the first bad one */
                if (p[i] >= V)
                    return out_of_range(p[i], V, what, err, cap);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t v = frame_index_at(f, i);
        if (v < 0 && f->dtype == TS_U8)
            return lib_fail(err, cap, "%s holds index %llu, outside the vocabulary of %d", what,
                        (unsigned long long)le64((const unsigned char *)f->data + i * 8), V);
        if (v < 0 || v >= V)
            return out_of_range(v, V, what, err, cap);
        out[i] = (int32_t)v;
    }
    return 0;
}

int frame_index_shape(const ts_frame *f, int V, int maxrank, uint64_t shape[TS_MAXDIM],
                      const char *what, char *err, size_t cap)
{
    if (!f->is_tensor)
        return lib_fail(err, cap, "%s is not a tensor", what);
    int rank = f->ndim;
    if (!frame_is_index_dtype(f->dtype)) {
        if (!is_onehot_f4(f, V))
            return not_onehot(f, V, what, err, cap);
        rank--;
    }
    if (rank < 1 || rank > maxrank)
        return lib_fail(err, cap, "%s has %d dimensions%s, expected 1 to %d", what, rank,
                    rank == f->ndim ? "" : " besides the one-hot one", maxrank);
    for (int d = 0; d < TS_MAXDIM; d++)
        shape[d] = d < rank ? f->shape[d] : 0;
    return rank;
}
