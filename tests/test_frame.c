/* test_frame.c - the frame-decoding layer: index tensors of every dtype, one-hot rows, vocab
 * frames, with the messages of what they refuse. Every frame goes through ts_writer and
 * ts_reader, as the tools see it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "frame.h"

/* ---- one frame, written to a temporary file and read back ---- */

static ts_reader *rd;            /* the reader of the last frame; closed by the next call */
static int rdfd = -1;

static void release(void)
{
    if (rd)
        ts_reader_close(rd);
    if (rdfd >= 0)
        close(rdfd);
    rd = NULL;
    rdfd = -1;
}

/* Write one frame (a tensor, or with ndim < 0 an info frame) and read it into *f, valid until
 * the next call. Aborts when the stream library fails: that is not what is tested here. */
static void frame_of(ts_frame *f, ts_dtype t, int ndim, const uint64_t *shape, const void *data,
                     const ts_attr_kv *attrs, int nattrs)
{
    release();
    FILE *tf = tmpfile();
    int fd = dup(fileno(tf));
    fclose(tf);
    ts_writer *w = ts_writer_open(fd, "test");
    int rc = ndim < 0 ? ts_write_info(w, "f", attrs, nattrs)
                      : ts_write_tensor(w, "f", t, ndim, shape, data, attrs, nattrs);
    if (rc < 0 || ts_writer_finish(w, NULL) < 0)
        abort();
    lseek(fd, 0, SEEK_SET);
    rdfd = fd;
    rd = ts_reader_open(fd, "test");
    if (ts_read(rd, f) != 1) {
        fprintf(stderr, "%s\n", ts_reader_error(rd));
        abort();
    }
}

static void vec_of(ts_frame *f, ts_dtype t, uint64_t n, const void *data)
{
    uint64_t shape[1] = { n };
    frame_of(f, t, 1, shape, data, NULL, 0);
}

static char err[256];

/* rc is -1 and the message holds want. */
#define CHECK_ERR(rc, want) do {                                                    \
        int rc_ = (rc);                                                             \
        CHECK(rc_ == -1 && strstr(err, want), "rc %d, message '%s', want '%s'",     \
              rc_, err, want);                                                      \
    } while (0)

/* ---- index tensors ---- */

static void test_index_at_extremes(void)
{
    ts_frame f;
    uint8_t u1[] = { 0, 255 };
    int8_t i1[] = { -1, -128, 127 };
    uint16_t u2[] = { 65535, 1 };
    int16_t i2[] = { -32768, 32767 };
    uint32_t u4[] = { 4294967295u, 7 };
    int32_t i4[] = { INT32_MIN, INT32_MAX };
    uint64_t u8[] = { (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX, 9 };
    int64_t i8[] = { INT64_MIN, -1, INT64_MAX };

    vec_of(&f, TS_U1, 2, u1);
    CHECK(frame_index_at(&f, 0) == 0 && frame_index_at(&f, 1) == 255, "u1 %lld",
          (long long)frame_index_at(&f, 1));
    vec_of(&f, TS_I1, 3, i1);
    CHECK(frame_index_at(&f, 0) == -1, "i1 -1 read as %lld", (long long)frame_index_at(&f, 0));
    CHECK(frame_index_at(&f, 1) == -128 && frame_index_at(&f, 2) == 127, "i1 extremes");
    vec_of(&f, TS_U2, 2, u2);
    CHECK(frame_index_at(&f, 0) == 65535 && frame_index_at(&f, 1) == 1, "u2 %lld",
          (long long)frame_index_at(&f, 0));
    vec_of(&f, TS_I2, 2, i2);
    CHECK(frame_index_at(&f, 0) == -32768 && frame_index_at(&f, 1) == 32767, "i2 %lld",
          (long long)frame_index_at(&f, 0));
    vec_of(&f, TS_U4, 2, u4);
    CHECK(frame_index_at(&f, 0) == 4294967295LL && frame_index_at(&f, 1) == 7, "u4 %lld",
          (long long)frame_index_at(&f, 0));
    vec_of(&f, TS_I4, 2, i4);
    CHECK(frame_index_at(&f, 0) == INT32_MIN && frame_index_at(&f, 1) == INT32_MAX, "i4 %lld",
          (long long)frame_index_at(&f, 0));
    vec_of(&f, TS_U8, 4, u8);
    CHECK(frame_index_at(&f, 0) == INT64_MAX, "u8 INT64_MAX read as %lld", (long long)frame_index_at(&f, 0));
    CHECK(frame_index_at(&f, 1) == -1 && frame_index_at(&f, 2) == -1,
          "u8 above INT64_MAX read as %lld, %lld", (long long)frame_index_at(&f, 1),
          (long long)frame_index_at(&f, 2));
    CHECK(frame_index_at(&f, 3) == 9, "u8 9 read as %lld", (long long)frame_index_at(&f, 3));
    vec_of(&f, TS_I8, 3, i8);
    CHECK(frame_index_at(&f, 0) == INT64_MIN && frame_index_at(&f, 1) == -1
          && frame_index_at(&f, 2) == INT64_MAX, "i8 %lld", (long long)frame_index_at(&f, 0));
    release();
}

static void test_is_index_dtype(void)
{
    for (int t = 0; t < TS_NDTYPES; t++) {
        int want = t != TS_F4 && t != TS_F8;
        CHECK(frame_is_index_dtype((ts_dtype)t) == want, "%s: %d", ts_dtype_name((ts_dtype)t),
              frame_is_index_dtype((ts_dtype)t));
    }
}

/* Store the values v[0..n) as dtype t (native order, as ts_write_tensor takes them). */
static void store(ts_dtype t, const int64_t *v, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++)
        switch (t) {
        case TS_U1: ((uint8_t *)out)[i] = (uint8_t)v[i]; break;
        case TS_I1: ((int8_t *)out)[i] = (int8_t)v[i]; break;
        case TS_U2: ((uint16_t *)out)[i] = (uint16_t)v[i]; break;
        case TS_I2: ((int16_t *)out)[i] = (int16_t)v[i]; break;
        case TS_U4: ((uint32_t *)out)[i] = (uint32_t)v[i]; break;
        case TS_I4: ((int32_t *)out)[i] = (int32_t)v[i]; break;
        case TS_U8: ((uint64_t *)out)[i] = (uint64_t)v[i]; break;
        default:    ((int64_t *)out)[i] = v[i]; break;
        }
}

/* Every integer dtype: a (2, 3) tensor of good indices, then one of V, then (signed) -1. */
static void test_indices_every_dtype(void)
{
    ts_dtype types[] = { TS_U1, TS_U2, TS_U4, TS_U8, TS_I1, TS_I2, TS_I4, TS_I8 };
    uint64_t shape[2] = { 2, 3 };
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        ts_dtype t = types[k];
        const char *tn = ts_dtype_name(t);
        int64_t good[6] = { 0, 64, 3, 17, 1, 63 }, bad[6] = { 0, 1, 2, 3, 65, 4 };
        unsigned char buf[6 * 8];
        int32_t out[6] = { 0 };
        ts_frame f;

        store(t, good, 6, buf);
        frame_of(&f, t, 2, shape, buf, NULL, 0);
        int rc = frame_indices(&f, 6, 65, out, "x", err, sizeof err);
        CHECK(rc == 0, "%s: %s", tn, err);
        for (int i = 0; i < 6; i++)
            CHECK(out[i] == good[i], "%s: out[%d] = %d, want %lld", tn, i, out[i], (long long)good[i]);

        store(t, bad, 6, buf);
        frame_of(&f, t, 2, shape, buf, NULL, 0);
        CHECK_ERR(frame_indices(&f, 6, 65, out, "x", err, sizeof err),
                  "x holds index 65, outside the vocabulary of 65");
        /* the bad value past count is not looked at */
        CHECK(frame_indices(&f, 4, 65, out, "x", err, sizeof err) == 0, "%s: first 4: %s", tn, err);

        if (t >= TS_I1) {
            bad[4] = -1;
            store(t, bad, 6, buf);
            frame_of(&f, t, 2, shape, buf, NULL, 0);
            CHECK_ERR(frame_indices(&f, 6, 65, out, "y", err, sizeof err),
                      "y holds index -1, outside the vocabulary of 65");
        }
    }
    release();
}

static void test_indices_extremes(void)
{
    ts_frame f;
    int32_t out[4];
    uint16_t u2[] = { 65535, 0 };
    vec_of(&f, TS_U2, 2, u2);
    CHECK(frame_indices(&f, 2, 65536, out, "x", err, sizeof err) == 0 && out[0] == 65535,
          "u2 65535 with V = 65536: %s, %d", err, out[0]);
    CHECK_ERR(frame_indices(&f, 2, 65535, out, "x", err, sizeof err),
              "x holds index 65535, outside the vocabulary of 65535");

    uint64_t u8[] = { 1, UINT64_MAX };
    vec_of(&f, TS_U8, 2, u8);
    CHECK_ERR(frame_indices(&f, 2, 65, out, "x", err, sizeof err),
              "x holds index 18446744073709551615, outside the vocabulary of 65");
    uint64_t u8b[] = { (uint64_t)INT64_MAX + 1 };
    vec_of(&f, TS_U8, 1, u8b);
    CHECK_ERR(frame_indices(&f, 1, 65, out, "x", err, sizeof err),
              "x holds index 9223372036854775808,");

    int64_t i8[] = { 2, INT64_MIN };
    vec_of(&f, TS_I8, 2, i8);
    CHECK_ERR(frame_indices(&f, 2, 65, out, "t", err, sizeof err),
              "t holds index -9223372036854775808, outside the vocabulary of 65");
    int8_t i1[] = { -128 };
    vec_of(&f, TS_I1, 1, i1);
    CHECK_ERR(frame_indices(&f, 1, 65, out, "t", err, sizeof err), "t holds index -128,");
    int32_t i4[] = { 3, 2147483647 };
    vec_of(&f, TS_I4, 2, i4);
    CHECK_ERR(frame_indices(&f, 2, 65, out, "t", err, sizeof err), "t holds index 2147483647,");
    uint32_t u4[] = { 4294967295u };
    vec_of(&f, TS_U4, 1, u4);
    CHECK_ERR(frame_indices(&f, 1, 65, out, "t", err, sizeof err), "t holds index 4294967295,");
    release();
}

/* u1 (the fast path): the message names the first bad index, not the largest. */
static void test_indices_u1(void)
{
    ts_frame f;
    int32_t out[5];
    uint8_t a[] = { 1, 70, 200, 3, 64 };
    vec_of(&f, TS_U1, 5, a);
    CHECK_ERR(frame_indices(&f, 5, 65, out, "x", err, sizeof err),
              "x holds index 70, outside the vocabulary of 65");
    CHECK(frame_indices(&f, 5, 256, out, "x", err, sizeof err) == 0, "V = 256: %s", err);
    CHECK(out[0] == 1 && out[1] == 70 && out[2] == 200 && out[4] == 64, "u1 out %d %d %d %d",
          out[0], out[1], out[2], out[4]);
    CHECK_ERR(frame_indices(&f, 5, 200, out, "x", err, sizeof err), "x holds index 200,");
    CHECK(frame_indices(&f, 1, 2, out, "x", err, sizeof err) == 0 && out[0] == 1,
          "only the first: %s", err);
    CHECK(frame_indices(&f, 0, 1, out, "x", err, sizeof err) == 0, "count 0: %s", err);

    /* a bigger frame, bad only at the end */
    enum { N = 40000 };
    static uint8_t big[N];
    static int32_t bout[N];
    for (int i = 0; i < N; i++)
        big[i] = (uint8_t)(i % 65);
    vec_of(&f, TS_U1, N, big);
    int rc = frame_indices(&f, N, 65, bout, "x", err, sizeof err);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= bout[i] == i % 65;
    CHECK(rc == 0 && same, "big u1: rc %d (%s), same %d", rc, err, same);
    big[N - 1] = 65;
    vec_of(&f, TS_U1, N, big);
    CHECK_ERR(frame_indices(&f, N, 65, bout, "x", err, sizeof err), "x holds index 65,");
    release();
}

/* count beyond what the frame holds is refused, not read past the data */
static void test_indices_count(void)
{
    ts_frame f;
    int32_t out[8];
    uint8_t a[] = { 1, 2, 3 };
    vec_of(&f, TS_U1, 3, a);
    CHECK_ERR(frame_indices(&f, 4, 65, out, "x", err, sizeof err), "fewer than the 4 expected");
    float oh[2 * 3] = { 1, 0, 0, 0, 1, 0 };
    uint64_t shape[2] = { 2, 3 };
    frame_of(&f, TS_F4, 2, shape, oh, NULL, 0);
    CHECK_ERR(frame_indices(&f, 3, 3, out, "y", err, sizeof err), "fewer than the 3 expected");
    CHECK_ERR(frame_indices(&f, 2, 0, out, "y", err, sizeof err), "V = 0");
    frame_of(&f, TS_U1, -1, NULL, NULL, NULL, 0);
    CHECK_ERR(frame_indices(&f, 1, 3, out, "x", err, sizeof err), "x is not a tensor");
    release();
}

/* ---- one-hot rows ---- */

static void test_onehot(void)
{
    enum { V = 4 };
    uint64_t shape[3] = { 2, 3, V };
    float rows[6][V] = {
        { 0, 0, 1, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 1 },
        { 0, 1, 0, 0 }, { -0.0f, 1, 0, 0 }, { 0, 0, 1, -0.0f },
    };
    int32_t out[6], want[6] = { 2, 0, 3, 1, 1, 2 };
    ts_frame f;
    frame_of(&f, TS_F4, 3, shape, rows, NULL, 0);
    int rc = frame_indices(&f, 6, V, out, "x", err, sizeof err);
    CHECK(rc == 0, "valid rows: %s", err);
    for (int i = 0; i < 6; i++)
        CHECK(rc == 0 && out[i] == want[i], "row %d: %d, want %d", i, out[i], want[i]);
    CHECK_ERR(frame_indices(&f, 6, 3, out, "x", err, sizeof err),
              "x is f4 with a last dimension of 4: give indices or float32 one-hot rows of V = 3");

    struct { float row[V]; const char *what; } bad[] = {
        { { 0, 1, 1, 0 }, "two 1.0s" },
        { { 0, 0.5f, 0, 0 }, "a 0.5" },
        { { 0.5f, 1, 0, 0 }, "a 1.0 and a 0.5" },
        { { 0, 0, 0, 0 }, "all zeros" },
        { { 0, 1, NAN, 0 }, "a NaN" },
        { { NAN, 0, 0, 0 }, "only a NaN" },
        { { 0, 1, 0, INFINITY }, "an inf" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        float two[2][V] = { { 1, 0, 0, 0 } };
        memcpy(two[1], bad[k].row, sizeof two[1]);
        uint64_t s2[2] = { 2, V };
        frame_of(&f, TS_F4, 2, s2, two, NULL, 0);
        rc = frame_indices(&f, 2, V, out, "y", err, sizeof err);
        CHECK(rc == -1 && strstr(err, "y is float32 but row 1 is not one-hot (exactly one 1.0, the rest 0)"),
              "%s: rc %d, '%s'", bad[k].what, rc, err);
        CHECK(frame_indices(&f, 1, V, out, "y", err, sizeof err) == 0 && out[0] == 0,
              "%s: the good first row alone: %s", bad[k].what, err);
    }
    release();
}

static void test_float_refused(void)
{
    ts_frame f;
    int32_t out[4];
    double d[4] = { 1, 0, 0, 0 };
    uint64_t shape[2] = { 1, 4 };
    frame_of(&f, TS_F8, 2, shape, d, NULL, 0);
    CHECK_ERR(frame_indices(&f, 1, 4, out, "x", err, sizeof err),
              "x is f8: give indices or float32 one-hot rows of V = 4");
    uint64_t sh[TS_MAXDIM];
    CHECK_ERR(frame_index_shape(&f, 4, 2, sh, "x", err, sizeof err),
              "x is f8: give indices or float32 one-hot rows of V = 4");
    float s = 1;
    frame_of(&f, TS_F4, 0, NULL, &s, NULL, 0);
    CHECK_ERR(frame_indices(&f, 1, 1, out, "x", err, sizeof err), "x is f4 with a last dimension of 0");
    release();
}

/* ---- shapes ---- */

static void test_index_shape(void)
{
    ts_frame f;
    uint64_t sh[TS_MAXDIM];
    static uint8_t idx[5 * 7 * 2 * 2];           /* room for i2 (5, 7, 2) */
    static float oh[5 * 7 * 3];

    uint64_t s2[2] = { 5, 7 };
    frame_of(&f, TS_U1, 2, s2, idx, NULL, 0);
    int rank = frame_index_shape(&f, 3, 2, sh, "x", err, sizeof err);
    CHECK(rank == 2 && sh[0] == 5 && sh[1] == 7, "u1 (5, 7): rank %d (%s) %llu %llu", rank, err,
          (unsigned long long)sh[0], (unsigned long long)sh[1]);
    CHECK_ERR(frame_index_shape(&f, 3, 1, sh, "y", err, sizeof err), "y has 2 dimensions, expected 1 to 1");

    uint64_t s3[3] = { 5, 7, 3 };
    frame_of(&f, TS_F4, 3, s3, oh, NULL, 0);
    rank = frame_index_shape(&f, 3, 2, sh, "x", err, sizeof err);
    CHECK(rank == 2 && sh[0] == 5 && sh[1] == 7 && sh[2] == 0, "f4 (5, 7, 3): rank %d (%s) %llu %llu %llu",
          rank, err, (unsigned long long)sh[0], (unsigned long long)sh[1], (unsigned long long)sh[2]);
    CHECK_ERR(frame_index_shape(&f, 4, 2, sh, "x", err, sizeof err),
              "x is f4 with a last dimension of 3: give indices or float32 one-hot rows of V = 4");

    uint64_t s1[2] = { 5, 3 };
    frame_of(&f, TS_F4, 2, s1, oh, NULL, 0);
    rank = frame_index_shape(&f, 3, 2, sh, "y", err, sizeof err);
    CHECK(rank == 1 && sh[0] == 5, "f4 (5, 3): rank %d (%s)", rank, err);

    uint64_t sv[1] = { 3 };
    frame_of(&f, TS_F4, 1, sv, oh, NULL, 0);
    CHECK_ERR(frame_index_shape(&f, 3, 2, sh, "y", err, sizeof err),
              "y has 0 dimensions besides the one-hot one, expected 1 to 2");

    uint64_t s4[3] = { 5, 7, 2 };
    frame_of(&f, TS_I2, 3, s4, idx, NULL, 0);
    CHECK_ERR(frame_index_shape(&f, 3, 2, sh, "x", err, sizeof err), "x has 3 dimensions, expected 1 to 2");
    rank = frame_index_shape(&f, 3, 3, sh, "x", err, sizeof err);
    CHECK(rank == 3 && sh[2] == 2, "i2 (5, 7, 2) with maxrank 3: rank %d (%s)", rank, err);

    frame_of(&f, TS_U1, 0, NULL, idx, NULL, 0);
    CHECK_ERR(frame_index_shape(&f, 3, 2, sh, "x", err, sizeof err), "x has 0 dimensions");
    frame_of(&f, TS_U1, -1, NULL, NULL, NULL, 0);
    CHECK_ERR(frame_index_shape(&f, 3, 2, sh, "x", err, sizeof err), "x is not a tensor");
    release();
}

/* ---- vocab frames ---- */

static int vocab_of(ts_frame *f, const uint32_t *cp, uint64_t V, const char *unit, int lower,
                    int maxV, frame_vocab *v)
{
    ts_attr_kv a[2] = { TS_ATTR_STR("unit", unit), TS_ATTR_BOOL("lower", lower) };
    uint64_t shape[1] = { V };
    frame_of(f, TS_U4, 1, shape, cp, unit ? a : a + 1, unit ? 2 : 1);
    err[0] = 0;
    return frame_vocab_read(f, maxV, v, err, sizeof err);
}

static void test_vocab_good(void)
{
    ts_frame f;
    frame_vocab v;
    uint32_t cp[] = { 10, 32, 97, 0xE9, 0x10FFFF };
    int rc = vocab_of(&f, cp, 5, "codepoint", 1, FRAME_MAX_V, &v);
    CHECK(rc == 0, "%s", err);
    CHECK(rc == 0 && v.V == 5 && v.cp && memcmp(v.cp, cp, sizeof cp) == 0, "V %d", v.V);
    CHECK(rc == 0 && v.byte_unit == 0 && v.lower == 1, "unit %d lower %d", v.byte_unit, v.lower);
    CHECK(frame_vocab_equal(&f, &v) == 1, "a frame equals the vocabulary read from it");
    CHECK(rc == 0 && v.cp != f.data, "cp is a copy");
    frame_vocab_free(&v);
    CHECK(v.cp == NULL, "freed");

    rc = vocab_of(&f, cp, 4, NULL, 0, 4, &v);                   /* no unit: code points; V = maxV */
    CHECK(rc == 0 && v.V == 4 && v.byte_unit == 0 && v.lower == 0, "no unit attr: %s", err);
    frame_vocab_free(&v);

    uint32_t b[] = { 0, 10, 0xFF };
    rc = vocab_of(&f, b, 3, "byte", 0, FRAME_MAX_V, &v);
    CHECK(rc == 0 && v.V == 3 && v.byte_unit == 1 && v.cp[2] == 0xFF, "bytes: %s", err);
    frame_vocab_free(&v);

    uint32_t one[] = { 0 };
    rc = vocab_of(&f, one, 1, "codepoint", 0, 1, &v);
    CHECK(rc == 0 && v.V == 1 && v.cp[0] == 0, "V = 1: %s", err);
    frame_vocab_free(&v);
    release();
}

static void test_vocab_bad(void)
{
    ts_frame f;
    frame_vocab v;
    uint32_t cp[] = { 10, 32, 97, 98 };

    CHECK_ERR(vocab_of(&f, cp, 0, "codepoint", 0, FRAME_MAX_V, &v), "the vocab frame is empty (V = 0)");
    CHECK(v.cp == NULL && v.V == 0, "nothing allocated on failure");
    CHECK_ERR(vocab_of(&f, cp, 4, "codepoint", 0, 3, &v),
              "a vocabulary of 4 symbols is more than the 3 supported");

    uint32_t down[] = { 10, 97, 32 };
    CHECK_ERR(vocab_of(&f, down, 3, "codepoint", 0, FRAME_MAX_V, &v),
              "the vocabulary is not in ascending order (entry 2 is 32, after 97)");
    uint32_t twice[] = { 10, 32, 32 };
    CHECK_ERR(vocab_of(&f, twice, 3, "codepoint", 0, FRAME_MAX_V, &v),
              "not in ascending order (entry 2 is 32, after 32)");
    uint32_t big[] = { 10, 0x110000 };
    CHECK_ERR(vocab_of(&f, big, 2, "codepoint", 0, FRAME_MAX_V, &v),
              "vocab entry 1 is 1114112, above U+10FFFF");
    uint32_t huge[] = { 0xFFFFFFFFu };
    CHECK_ERR(vocab_of(&f, huge, 1, NULL, 0, FRAME_MAX_V, &v), "vocab entry 0 is 4294967295, above U+10FFFF");
    uint32_t bytes[] = { 10, 0xFF, 0x100 };
    CHECK_ERR(vocab_of(&f, bytes, 3, "byte", 0, FRAME_MAX_V, &v),
              "vocab entry 2 is 256, above 0xFF (unit \"byte\")");
    CHECK(vocab_of(&f, bytes, 3, "codepoint", 0, FRAME_MAX_V, &v) == 0, "0x100 is a code point: %s", err);
    frame_vocab_free(&v);

    CHECK_ERR(vocab_of(&f, cp, 4, "word", 0, FRAME_MAX_V, &v),
              "vocab frame: attribute 'unit' is not \"codepoint\" or \"byte\"");
    ts_attr_kv ia[1] = { TS_ATTR_INT("unit", 1) };
    uint64_t s4[1] = { 4 };
    frame_of(&f, TS_U4, 1, s4, cp, ia, 1);
    CHECK_ERR(frame_vocab_read(&f, FRAME_MAX_V, &v, err, sizeof err), "attribute 'unit' is not");

    uint16_t c2[] = { 10, 32, 97, 98 };
    frame_of(&f, TS_U2, 1, s4, c2, NULL, 0);
    CHECK_ERR(frame_vocab_read(&f, FRAME_MAX_V, &v, err, sizeof err),
              "the vocab frame must be u4 (V,), got u2 with 1 dimensions");
    uint64_t s22[2] = { 2, 2 };
    frame_of(&f, TS_U4, 2, s22, cp, NULL, 0);
    CHECK_ERR(frame_vocab_read(&f, FRAME_MAX_V, &v, err, sizeof err),
              "the vocab frame must be u4 (V,), got u4 with 2 dimensions");
    frame_of(&f, TS_U4, 0, NULL, cp, NULL, 0);
    CHECK_ERR(frame_vocab_read(&f, FRAME_MAX_V, &v, err, sizeof err), "got u4 with 0 dimensions");
    frame_of(&f, TS_U4, -1, NULL, NULL, NULL, 0);
    CHECK_ERR(frame_vocab_read(&f, FRAME_MAX_V, &v, err, sizeof err), "the vocab frame is not a tensor");
    release();
}

static void test_vocab_equal(void)
{
    ts_frame f;
    uint32_t cp[] = { 10, 32, 97, 98 }, other[] = { 10, 32, 97, 99 };
    frame_vocab v = { .V = 4, .cp = cp, .byte_unit = 0 };
    frame_vocab vb = { .V = 4, .cp = cp, .byte_unit = 1 };
    frame_vocab v3 = { .V = 3, .cp = cp, .byte_unit = 0 };
    uint64_t s4[1] = { 4 };
    ts_attr_kv cpu[1] = { TS_ATTR_STR("unit", "codepoint") }, byu[1] = { TS_ATTR_STR("unit", "byte") };

    frame_of(&f, TS_U4, 1, s4, cp, cpu, 1);
    CHECK(frame_vocab_equal(&f, &v) == 1, "same entries, same unit");
    CHECK(frame_vocab_equal(&f, &vb) == 0, "code points are not bytes");
    CHECK(frame_vocab_equal(&f, &v3) == 0, "a prefix is not equal");
    frame_of(&f, TS_U4, 1, s4, cp, NULL, 0);
    CHECK(frame_vocab_equal(&f, &v) == 1, "no unit attr means code points");
    frame_of(&f, TS_U4, 1, s4, cp, byu, 1);
    CHECK(frame_vocab_equal(&f, &vb) == 1 && frame_vocab_equal(&f, &v) == 0, "byte unit");
    frame_of(&f, TS_U4, 1, s4, other, cpu, 1);
    CHECK(frame_vocab_equal(&f, &v) == 0, "a different last entry");
    uint16_t c2[] = { 10, 32, 97, 98 };
    frame_of(&f, TS_U2, 1, s4, c2, cpu, 1);
    CHECK(frame_vocab_equal(&f, &v) == 0, "a u2 frame is not a vocab frame");
    frame_of(&f, TS_U4, -1, NULL, NULL, cpu, 1);
    CHECK(frame_vocab_equal(&f, &v) == 0, "an info frame");
    release();
}

/* A vocabulary split over frames (FORMAT.md): frame_vocab_take reads piece 0 and appends the
 * pieces after it; the entries must go on ascending across the cut, V stays within maxV, and
 * a byte vocabulary's later pieces hold bytes. */
static void test_vocab_pieces(void)
{
    ts_frame f;
    frame_vocab v = { 0 }, whole;
    uint32_t all[] = { 10, 32, 97, 98, 0xE9 };
    uint64_t s2[1] = { 2 }, s3[1] = { 3 }, s0[1] = { 0 };
    ts_attr_kv unit[1] = { TS_ATTR_STR("unit", "codepoint") };
    frame_of(&f, TS_U4, 1, s2, all, unit, 1);
    CHECK(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err) == 0 && v.V == 2, "piece 0: %s", err);
    frame_of(&f, TS_U4, 1, s0, all, NULL, 0);              /* a piece of no entries */
    f.piece = 1;
    CHECK(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err) == 0 && v.V == 2, "an empty piece: %s", err);
    frame_of(&f, TS_U4, 1, s3, all + 2, NULL, 0);
    f.piece = 2;
    CHECK(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err) == 0 && v.V == 5, "piece 2: %s", err);
    frame_of(&f, TS_U4, 1, (uint64_t[1]){ 5 }, all, unit, 1);
    CHECK(frame_vocab_read(&f, FRAME_MAX_V, &whole, err, sizeof err) == 0 && frame_vocab_same(&v, &whole),
          "the pieces joined are the whole");
    frame_vocab_free(&whole);
    frame_of(&f, TS_U4, 1, s2, all + 3, unit, 1);          /* a new piece 0 replaces it */
    CHECK(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err) == 0 && v.V == 2 && v.cp[0] == 98, "piece 0 again");

    frame_of(&f, TS_U4, 1, s2, all + 3, NULL, 0);          /* 98, 0xE9 after 98, 0xE9 */
    f.piece = 1;
    CHECK_ERR(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err),
              "the vocabulary is not in ascending order (entry 2 is 98, after 233)");
    CHECK(v.V == 2, "a refused piece leaves V %d", v.V);
    frame_of(&f, TS_U4, 1, s3, (uint32_t[3]){ 300, 301, 302 }, NULL, 0);
    f.piece = 1;
    CHECK_ERR(frame_vocab_take(&v, &f, 4, err, sizeof err), "a vocabulary of 5 symbols is more than the 4 supported");
    frame_vocab_free(&v);

    ts_attr_kv byte[1] = { TS_ATTR_STR("unit", "byte") };
    frame_of(&f, TS_U4, 1, s2, (uint32_t[2]){ 0, 200 }, byte, 1);
    CHECK(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err) == 0 && v.byte_unit, "bytes: %s", err);
    frame_of(&f, TS_U4, 1, s2, (uint32_t[2]){ 255, 256 }, NULL, 0);   /* (the unit is the first piece's) */
    f.piece = 1;
    CHECK_ERR(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err), "vocab entry 3 is 256, above 0xFF");
    frame_of(&f, TS_U2, 1, s2, (uint16_t[2]){ 250, 251 }, NULL, 0);
    f.piece = 1;
    CHECK_ERR(frame_vocab_take(&v, &f, FRAME_MAX_V, err, sizeof err), "a piece of the vocab frame that does not continue it");
    frame_vocab_free(&v);
    release();
}

int main(void)
{
    RUN(test_index_at_extremes);
    RUN(test_is_index_dtype);
    RUN(test_indices_every_dtype);
    RUN(test_indices_extremes);
    RUN(test_indices_u1);
    RUN(test_indices_count);
    RUN(test_onehot);
    RUN(test_float_refused);
    RUN(test_index_shape);
    RUN(test_vocab_good);
    RUN(test_vocab_pieces);
    RUN(test_vocab_bad);
    RUN(test_vocab_equal);
    return check_summary();
}
