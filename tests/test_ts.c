/* test_ts.c - the tensor stream library: round trips, damage, limits, split tensors, and
 * writers that refuse what readers refuse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "check.h"
#include "ts.h"

/* A stream in memory: written to a temporary file, read back into a buffer. */
typedef struct { unsigned char *p; size_t n; } blob;

static int tmpfd(void)
{
    FILE *f = tmpfile();
    return dup(fileno(f));       /* the FILE leaks deliberately: tests are short */
}

static blob slurp(int fd)
{
    blob b = { NULL, 0 };
    off_t end = lseek(fd, 0, SEEK_END);
    b.p = malloc((size_t)end + 1);
    b.n = (size_t)pread(fd, b.p, (size_t)end, 0);
    return b;
}

static int reader_fd(const unsigned char *p, size_t n)
{
    int fd = tmpfd();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static uint64_t last_digest;     /* FNV-1a of the names and data count_frames read */

static void fnv(uint64_t *h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
}

/* Read all frames of the stream in b; returns frames read, or -1 on error (message in err). */
static int count_frames(const unsigned char *p, size_t n, char *err, size_t cap)
{
    int fd = reader_fd(p, n);
    ts_reader *r = ts_reader_open(fd, "test");
    ts_frame f;
    int rc, k = 0;
    last_digest = 0xcbf29ce484222325ULL;
    while ((rc = ts_read(r, &f)) > 0) {
        fnv(&last_digest, f.name, strlen(f.name));
        fnv(&last_digest, f.data, f.nbytes);
        k++;
    }
    if (rc < 0 && err)
        snprintf(err, cap, "%s", ts_reader_error(r));
    ts_reader_close(r);
    close(fd);
    return rc < 0 ? -1 : k;
}

static blob small_stream(void)
{
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "test");
    uint8_t a[6] = { 1, 2, 3, 4, 5, 6 };
    uint64_t shape[2] = { 2, 3 };
    ts_attr_kv kv[2] = { TS_ATTR_STR("unit", "codepoint"), TS_ATTR_INT("n", -5) };
    CHECK(ts_write_tensor(w, "x", TS_U1, 2, shape, a, kv, 2) == 0, "write");
    CHECK(ts_write_info(w, "note", kv, 1) == 0, "info");
    CHECK(ts_write_tensor(w, "y", TS_U1, 1, shape, a, NULL, 0) == 0, "write");
    CHECK(ts_writer_finish(w, NULL) == 0, "finish");
    blob b = slurp(fd);
    close(fd);
    return b;
}

static void test_roundtrip_dtypes(void)
{
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "test");
    unsigned char src[8 * 60];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 37 + 11);
    uint64_t shapes[4][3] = { { 3, 4, 5 }, { 60, 1, 1 }, { 0, 7, 1 }, { 1, 1, 60 } };
    char name[16];                    /* one name per frame: frames of one name in a row are one tensor */
    for (int t = 0; t < TS_NDTYPES; t++)
        for (int s = 0; s < 4; s++) {
            snprintf(name, sizeof name, "%s-%d", ts_dtype_name(t), s);
            CHECK(ts_write_tensor(w, name, t, 3, shapes[s], src, NULL, 0) == 0, "write");
        }
    uint64_t none[1] = { 0 };
    CHECK(ts_write_tensor(w, "scalar", TS_F8, 0, none, src, NULL, 0) == 0, "rank 0");
    CHECK(ts_writer_finish(w, NULL) == 0, "finish");

    lseek(fd, 0, SEEK_SET);
    ts_reader *r = ts_reader_open(fd, "test");
    ts_frame f;
    for (int t = 0; t < TS_NDTYPES; t++)
        for (int s = 0; s < 4; s++) {
            if (ts_read(r, &f) != 1) {
                CHECK(0, "read %d/%d: %s", t, s, ts_reader_error(r));
                return;
            }
            snprintf(name, sizeof name, "%s-%d", ts_dtype_name(t), s);
            CHECK(strcmp(f.name, name) == 0 && f.piece == 0, "name %s", f.name);
            CHECK(f.is_tensor && f.dtype == (ts_dtype)t && f.ndim == 3, "dtype/rank");
            CHECK(f.shape[0] == shapes[s][0] && f.shape[1] == shapes[s][1] && f.shape[2] == shapes[s][2], "shape");
            size_t nb = ts_dtype_size(t) * shapes[s][0] * shapes[s][1] * shapes[s][2];
            CHECK(f.nbytes == nb && (nb == 0 || memcmp(f.data, src, nb) == 0), "data of %s", f.name);
        }
    CHECK(ts_read(r, &f) == 1 && f.ndim == 0 && f.count == 1 && f.nbytes == 8, "rank-0 tensor");
    CHECK(ts_read(r, &f) == 0, "clean end: %s", ts_reader_error(r));
    ts_reader_close(r);
    close(fd);
}

static void test_attrs_and_info(void)
{
    blob b = small_stream();
    int fd = reader_fd(b.p, b.n);
    ts_reader *r = ts_reader_open(fd, "test");
    ts_frame f;
    char s[32];
    int64_t i;
    CHECK(ts_read(r, &f) == 1, "read");
    CHECK(ts_attr_str(&f, "unit", s, sizeof s) == 1 && strcmp(s, "codepoint") == 0, "string attr");
    CHECK(ts_attr_int(&f, "n", &i) == 1 && i == -5, "int attr");
    CHECK(ts_attr_int(&f, "unit", &i) == -1, "wrong type");
    CHECK(ts_attr_int(&f, "missing", &i) == 0, "absent");
    CHECK(ts_read(r, &f) == 1 && !f.is_tensor && strcmp(f.name, "note") == 0, "info frame");
    CHECK(ts_read(r, &f) == 1 && f.is_tensor && f.attrs == NULL, "no attrs");
    CHECK(ts_read(r, &f) == 0, "end");
    ts_reader_close(r);
    close(fd);
    free(b.p);
}

/* Frames written with ts_write_object come out the same. */
static void test_passthrough(void)
{
    blob b = small_stream();
    int in = reader_fd(b.p, b.n), out = tmpfd();
    ts_reader *r = ts_reader_open(in, "in");
    ts_writer *w = ts_writer_open(out, "out");
    ts_frame f;
    int n = 0;
    while (ts_read(r, &f) > 0) {
        CHECK(ts_write_object(w, f.obj) == 0, "write object");
        n++;
    }
    CHECK(ts_writer_finish(w, NULL) == 0, "finish");
    ts_reader_close(r);
    blob c = slurp(out);
    char err[256] = "";
    CHECK(count_frames(c.p, c.n, err, sizeof err) == n && n == 3, "pass-through frames: %s", err);
    free(b.p);
    free(c.p);
}

/* Every proper prefix of a stream is an error, never a clean end. */
static void test_truncation(void)
{
    blob b = small_stream();
    char err[256];
    int bad = 0;
    for (size_t n = 0; n < b.n; n++)
        if (count_frames(b.p, n, err, sizeof err) >= 0)
            bad++;
    CHECK(bad == 0, "%d of %zu prefixes read as complete streams", bad, b.n);
    CHECK(count_frames(b.p, 5, err, sizeof err) < 0 && strstr(err, "truncated"), "message: %s", err);
    CHECK(count_frames(b.p, 0, err, sizeof err) < 0 && strstr(err, "empty"), "message: %s", err);
    CHECK(count_frames(b.p, b.n, err, sizeof err) == 3, "whole stream");
    free(b.p);
}

/* A writer aborted after a flush leaves a readable prefix that still reports truncation. */
static void test_abort_is_truncation(void)
{
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "test");
    uint8_t a[4] = { 1, 2, 3, 4 };
    uint64_t shape[1] = { 4 };
    ts_write_tensor(w, "x", TS_U1, 1, shape, a, NULL, 0);
    ts_writer_flush(w);
    ts_writer_abort(w);
    blob b = slurp(fd);
    int rd = reader_fd(b.p, b.n);
    ts_reader *r = ts_reader_open(rd, "test");
    ts_frame f;
    CHECK(ts_read(r, &f) == 1 && f.nbytes == 4, "flushed frame is readable");
    CHECK(ts_read(r, &f) == -1 && strstr(ts_reader_error(r), "truncated"), "then: %s", ts_reader_error(r));
    ts_reader_close(r);
    free(b.p);
}

/* A flipped bit past the gzip header's unchecked fields (mtime, flags, OS) is an error,
 * unless it only touched padding bits and the content read is exactly the original. */
static void test_flipped_bytes(void)
{
    blob b = small_stream();
    char err[256];
    CHECK(count_frames(b.p, b.n, err, sizeof err) == 3, "original");
    uint64_t good = last_digest;
    int undetected = 0;
    for (size_t i = 10; i < b.n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b.p[i] ^= (unsigned char)(1 << bit);
            if (count_frames(b.p, b.n, err, sizeof err) >= 0 && last_digest != good) {
                undetected++;
                fprintf(stderr, "  flip of bit %d at byte %zu of %zu went unnoticed\n", bit, i, b.n);
            }
            b.p[i] ^= (unsigned char)(1 << bit);
        }
    }
    CHECK(undetected == 0, "%d flips went unnoticed", undetected);
    free(b.p);
}

static void test_concatenated(void)
{
    blob b = small_stream();
    unsigned char *two = malloc(2 * b.n);
    memcpy(two, b.p, b.n);
    memcpy(two + b.n, b.p, b.n);
    char err[256] = "";
    CHECK(count_frames(two, 2 * b.n, err, sizeof err) == 6, "two streams as one: %s", err);
    CHECK(count_frames(two, 2 * b.n - 1, err, sizeof err) < 0, "second one cut");
    CHECK(count_frames(two, b.n + 1, err, sizeof err) < 0, "garbage byte after the first");
    free(two);
    free(b.p);
}

static void test_not_gzip(void)
{
    const char *text = "hello, this is plain text\n";
    char err[256] = "";
    CHECK(count_frames((const unsigned char *)text, strlen(text), err, sizeof err) < 0
          && strstr(err, "not a charpipe stream"), "message: %s", err);
}

/* Build a stream by hand with a packer, to craft hostile frames. */
typedef struct { unsigned char *p; size_t n, cap; } membuf;
static int mem_write(void *data, const char *buf, size_t len)
{
    membuf *m = data;
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, buf, len);
    m->n += len;
    return 0;
}

/* A stream around the raw msgpack bytes in m: header frame, m, end frame, gzip'ed as is. */
static blob wrap(membuf *m, int with_end)
{
    static const unsigned char header[] = {                /* {"name":"header", ...} */
        0x83, 0xa4, 'n', 'a', 'm', 'e', 0xa6, 'h', 'e', 'a', 'd', 'e', 'r',
        0xa6, 'f', 'o', 'r', 'm', 'a', 't', 0xa8, 'c', 'h', 'a', 'r', 'p', 'i', 'p', 'e',
        0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01 };
    static const unsigned char end[] = { 0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa3, 'e', 'n', 'd' };
    int fd = tmpfd();
    gzFile gz = gzdopen(dup(fd), "wb");
    gzwrite(gz, header, sizeof header);
    if (m->n)
        gzwrite(gz, m->p, (unsigned)m->n);
    if (with_end)
        gzwrite(gz, end, sizeof end);
    gzclose(gz);
    blob b = slurp(fd);
    close(fd);
    return b;
}

static void pstr(msgpack_packer *pk, const char *s) { msgpack_pack_str_with_body(pk, s, strlen(s)); }

static void tensor_header(msgpack_packer *pk, const char *dtype, int ndim, const uint64_t *shape)
{
    msgpack_pack_map(pk, 4);
    pstr(pk, "name"); pstr(pk, "x");
    pstr(pk, "dtype"); pstr(pk, dtype);
    pstr(pk, "shape");
    msgpack_pack_array(pk, (size_t)ndim);
    for (int i = 0; i < ndim; i++)
        msgpack_pack_uint64(pk, shape[i]);
    pstr(pk, "data");
}

static void expect_error(membuf *m, const char *want, const char *what)
{
    blob b = wrap(m, 1);
    char err[256] = "";
    CHECK(count_frames(b.p, b.n, err, sizeof err) < 0 && strstr(err, want), "%s: got '%s'", what, err);
    free(b.p);
    m->n = 0;
}

static void test_hostile_frames(void)
{
    membuf m = { 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mem_write);
    unsigned char data[16] = { 0 };

    uint64_t s1[1] = { 3 };
    tensor_header(&pk, "f4", 1, s1);
    msgpack_pack_bin_with_body(&pk, data, 8);            /* needs 12 */
    expect_error(&m, "data has 8 bytes", "size mismatch");

    tensor_header(&pk, "c8", 1, s1);
    msgpack_pack_bin_with_body(&pk, data, 3);
    expect_error(&m, "unsupported dtype", "unknown dtype");

    uint64_t huge[3] = { 1ULL << 40, 1ULL << 40, 1ULL << 40 };
    tensor_header(&pk, "u1", 3, huge);
    msgpack_pack_bin_with_body(&pk, data, 1);
    expect_error(&m, "shape too large", "overflowing shape");

    uint64_t big[2] = { 1ULL << 20, 1ULL << 20 };
    tensor_header(&pk, "f4", 2, big);
    msgpack_pack_bin_with_body(&pk, data, 1);
    expect_error(&m, "shape too large", "absurd shape");

    msgpack_pack_map(&pk, 4);                              /* negative dimension */
    pstr(&pk, "name"); pstr(&pk, "x");
    pstr(&pk, "dtype"); pstr(&pk, "u1");
    pstr(&pk, "shape"); msgpack_pack_array(&pk, 1); msgpack_pack_int64(&pk, -1);
    pstr(&pk, "data"); msgpack_pack_bin_with_body(&pk, data, 0);
    expect_error(&m, "non-negative", "negative dimension");

    msgpack_pack_map(&pk, 2);                              /* dtype without data */
    pstr(&pk, "name"); pstr(&pk, "x");
    pstr(&pk, "dtype"); pstr(&pk, "u1");
    expect_error(&m, "needs dtype, shape and data", "partial tensor");

    msgpack_pack_map(&pk, 1);                              /* no name */
    pstr(&pk, "dtype"); pstr(&pk, "u1");
    expect_error(&m, "without a name", "nameless");

    msgpack_pack_array(&pk, 0);                            /* not a map */
    expect_error(&m, "not a map", "array frame");

    msgpack_pack_map(&pk, 1);                              /* a frame after the end */
    pstr(&pk, "name"); pstr(&pk, "end");
    msgpack_pack_map(&pk, 1);
    pstr(&pk, "name"); pstr(&pk, "x");
    expect_error(&m, "after the end", "frame after end");

    for (int i = 0; i < 200; i++)                          /* deep nesting inside a frame */
        msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    expect_error(&m, "malformed msgpack", "deep nesting");
    free(m.p);
}

/* A frame bigger than TS_MAX_FRAME_BYTES is refused once that much has arrived, without
 * reading (or allocating) what its header claims. */
static void test_frame_limit(void)
{
    membuf m = { 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mem_write);
    msgpack_pack_map(&pk, 3);
    pstr(&pk, "name"); pstr(&pk, "header");
    pstr(&pk, "format"); pstr(&pk, "charpipe");
    pstr(&pk, "version"); msgpack_pack_int64(&pk, 1);
    msgpack_pack_map(&pk, 2);
    pstr(&pk, "name"); pstr(&pk, "x");
    pstr(&pk, "data");
    const unsigned char bin32[5] = { 0xc6, 0xff, 0xff, 0xff, 0xf0 };   /* claims ~4 GiB */
    mem_write(&m, (const char *)bin32, 5);

    int fd = tmpfd();
    gzFile gz = gzdopen(dup(fd), "wb1");
    gzwrite(gz, m.p, (unsigned)m.n);
    size_t zn = 1 << 20;
    char *zeros = calloc(1, zn);
    for (size_t sent = 0; sent < TS_MAX_FRAME_BYTES + (8u << 20); sent += zn)
        gzwrite(gz, zeros, (unsigned)zn);
    gzclose(gz);
    free(zeros);
    free(m.p);
    lseek(fd, 0, SEEK_SET);
    ts_reader *r = ts_reader_open(fd, "t");
    ts_frame f;
    CHECK(ts_read(r, &f) == -1 && strstr(ts_reader_error(r), "larger than"), "got: %s", ts_reader_error(r));
    ts_reader_close(r);
    close(fd);
    CHECK(ts_nbytes(TS_F8, UINT64_MAX / 4) == SIZE_MAX, "overflow detected");
    CHECK(ts_nbytes(TS_U1, 5) == 5 && ts_nbytes(TS_F4, 5) == 20, "sizes");
}

/* ---- writers refuse what readers refuse: each limit written at its edge and read back,
 * one step beyond refused by the writer (and, crafted by hand, by the reader) ---- */

/* Finish w on fd and read the stream back: frames read, or -1 (message in err). */
static int finish_and_read(ts_writer *w, int fd, char *err, size_t cap)
{
    const char *e = NULL;
    if (ts_writer_finish(w, &e) < 0) {
        snprintf(err, cap, "finish: %s", e);
        return -1;
    }
    blob b = slurp(fd);
    close(fd);
    int n = count_frames(b.p, b.n, err, cap);
    free(b.p);
    return n;
}

/* The writer refused the last frame, saying why. */
static void refused(ts_writer *w, int fd, const char *want, const char *what)
{
    const char *e = ts_writer_error(w);
    CHECK(strstr(e, "refusing to write a frame that readers refuse") && strstr(e, want), "%s: '%s'", what, e);
    ts_writer_abort(w);
    close(fd);
}

static void test_writer_names(void)
{
    char name[300], err[256] = "";
    uint8_t a[4] = { 1, 2, 3, 4 };
    uint64_t s1[1] = { 4 };
    memset(name, 'n', sizeof name);
    name[255] = 0;                                         /* 255 bytes: the longest */
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    CHECK(ts_write_tensor(w, name, TS_U1, 1, s1, a, NULL, 0) == 0, "255-byte name: %s", ts_writer_error(w));
    CHECK(ts_write_tensor(w, "caf\xc3\xa9 \xe2\x80\x94", TS_U1, 1, s1, a, NULL, 0) == 0, "UTF-8 name");
    CHECK(finish_and_read(w, fd, err, sizeof err) == 2, "read back: %s", err);

    const char *bad[] = { NULL, "caf\xe9", "\xc0\xaf", "\xed\xa0\x80", "end", "header" };
    const char *why[] = { "longer than 255", "not UTF-8", "not UTF-8", "not UTF-8", "control frame", "control frame" };
    name[255] = 'n';
    name[256] = 0;                                         /* 256 bytes */
    bad[0] = name;
    for (int i = 0; i < 6; i++) {
        w = ts_writer_open(fd = tmpfd(), "t");
        CHECK(ts_write_tensor(w, bad[i], TS_U1, 1, s1, a, NULL, 0) < 0, "tensor named %d written", i);
        refused(w, fd, why[i], "tensor");
        w = ts_writer_open(fd = tmpfd(), "t");
        CHECK(ts_write_info(w, bad[i], NULL, 0) < 0, "info frame named %d written", i);
        refused(w, fd, why[i], "info");
    }
    /* attrs: every key and string UTF-8 */
    ts_attr_kv good[2] = { TS_ATTR_STR("unit", "\xe2\x80\x94"), TS_ATTR_INT("caf\xc3\xa9", 1) };
    ts_attr_kv badkey[1] = { TS_ATTR_INT("caf\xe9", 1) }, badval[1] = { TS_ATTR_STR("unit", "\xff") };
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_tensor(w, "x", TS_U1, 1, s1, a, good, 2) == 0 && ts_write_info(w, "i", good, 2) == 0, "UTF-8 attrs");
    CHECK(finish_and_read(w, fd, err, sizeof err) == 2, "read back: %s", err);
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_tensor(w, "x", TS_U1, 1, s1, a, badkey, 1) < 0, "attr key not UTF-8 written");
    refused(w, fd, "not UTF-8", "attr key");
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_info(w, "i", badval, 1) < 0, "attr string not UTF-8 written");
    refused(w, fd, "not UTF-8", "attr value");

    /* the reader refuses the same, crafted by hand */
    membuf m = { 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mem_write);
    msgpack_pack_map(&pk, 1);
    pstr(&pk, "name"); msgpack_pack_str_with_body(&pk, name, 256);
    expect_error(&m, "longer than 255", "256-byte name");
    msgpack_pack_map(&pk, 1);
    pstr(&pk, "name"); pstr(&pk, "caf\xe9");
    expect_error(&m, "not UTF-8", "name not UTF-8");
    msgpack_pack_map(&pk, 2);
    pstr(&pk, "name"); pstr(&pk, "x");
    pstr(&pk, "attrs"); msgpack_pack_map(&pk, 1); pstr(&pk, "unit"); pstr(&pk, "\xff");
    expect_error(&m, "not UTF-8", "attr not UTF-8");
    free(m.p);
}

/* ts_write_object (what onehot builds, what window passes on) is checked as a reader checks */
static void test_writer_objects(void)
{
    char err[256] = "";
    unsigned char data[12] = { 0 };
    msgpack_object_kv kv[4] = {
        { { .type = MSGPACK_OBJECT_STR, .via.str = { 4, "name" } }, { .type = MSGPACK_OBJECT_STR, .via.str = { 1, "x" } } },
        { { .type = MSGPACK_OBJECT_STR, .via.str = { 5, "dtype" } }, { .type = MSGPACK_OBJECT_STR, .via.str = { 2, "u1" } } },
        { { .type = MSGPACK_OBJECT_STR, .via.str = { 5, "shape" } }, { .type = MSGPACK_OBJECT_ARRAY } },
        { { .type = MSGPACK_OBJECT_STR, .via.str = { 4, "data" } }, { .type = MSGPACK_OBJECT_BIN, .via.bin = { 12, (const char *)data } } },
    };
    msgpack_object dims[2] = { { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 3 },
                               { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 4 } };
    kv[2].val.via.array = (msgpack_object_array){ 2, dims };
    msgpack_object o = { .type = MSGPACK_OBJECT_MAP, .via.map = { 4, kv } };
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    CHECK(ts_write_object(w, &o) == 0, "a good object: %s", ts_writer_error(w));
    CHECK(finish_and_read(w, fd, err, sizeof err) == 1, "read back: %s", err);

    kv[3].val.via.bin.size = 11;                           /* data short of shape x dtype */
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_object(w, &o) < 0, "short data written");
    refused(w, fd, "data has 11 bytes", "short data");
    kv[3].val.via.bin.size = 12;
    kv[1].val.via.str = (msgpack_object_str){ 2, "c8" };
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_object(w, &o) < 0, "unknown dtype written");
    refused(w, fd, "unsupported dtype", "dtype");
    kv[1].val.via.str = (msgpack_object_str){ 2, "u1" };
    kv[0].val.via.str = (msgpack_object_str){ 3, "end" };
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_object(w, &o) < 0, "a data frame named end written");
    refused(w, fd, "control frame", "end");
    kv[0].val.via.str = (msgpack_object_str){ 1, "x" };

    /* nesting: 32 containers open at once (the frame's map the first) is the most a reader
     * takes: written and read back; 33 refused */
    msgpack_object nest[40];
    msgpack_object_kv akv[2] = { kv[0], { { .type = MSGPACK_OBJECT_STR, .via.str = { 5, "attrs" } }, { 0 } } };
    msgpack_object_kv inner = { { .type = MSGPACK_OBJECT_STR, .via.str = { 1, "k" } }, { 0 } };
    for (int depth = 32; depth <= 33; depth++) {
        /* the frame's map (1) > attrs {"k": ...} (2) > arrays (3 .. depth) > nil */
        nest[depth + 1] = (msgpack_object){ .type = MSGPACK_OBJECT_NIL };
        for (int l = depth + 1; l >= 4; l--)
            nest[l - 1] = (msgpack_object){ .type = MSGPACK_OBJECT_ARRAY, .via.array = { 1, &nest[l] } };
        inner.val = nest[3];
        akv[1].val = (msgpack_object){ .type = MSGPACK_OBJECT_MAP, .via.map = { 1, &inner } };
        msgpack_object deep = { .type = MSGPACK_OBJECT_MAP, .via.map = { 2, akv } };
        w = ts_writer_open(fd = tmpfd(), "t");
        if (depth == 32) {
            CHECK(ts_write_object(w, &deep) == 0, "32 levels: %s", ts_writer_error(w));
            CHECK(finish_and_read(w, fd, err, sizeof err) == 1, "32 levels read back: %s", err);
        } else {
            CHECK(ts_write_object(w, &deep) < 0, "33 levels written");
            refused(w, fd, "nested deeper than 32", "33 levels");
            membuf m = { 0 };                              /* and the reader */
            msgpack_packer pk;
            msgpack_packer_init(&pk, &m, mem_write);
            msgpack_pack_object(&pk, deep);
            expect_error(&m, "nested deeper than 32", "33 levels read");
            free(m.p);
        }
    }
}

/* The most entries a frame may declare (65,536: a map's count twice): a tensor frame with
 * 32,762 attrs is at the limit, one more is beyond it, for the writer and the reader alike */
static void test_writer_entries(void)
{
    int n = 32763;
    ts_attr_kv *kv = malloc((size_t)n * sizeof *kv);
    for (int i = 0; i < n; i++)
        kv[i] = TS_ATTR_INT("k", i);
    uint8_t a[1] = { 7 };
    uint64_t s1[1] = { 1 };
    char err[256] = "";
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    CHECK(ts_write_tensor(w, "x", TS_U1, 1, s1, a, kv, n - 1) == 0, "at the limit: %s", ts_writer_error(w));
    CHECK(finish_and_read(w, fd, err, sizeof err) == 1, "read back: %s", err);
    w = ts_writer_open(fd = tmpfd(), "t");
    CHECK(ts_write_tensor(w, "x", TS_U1, 1, s1, a, kv, n) < 0, "beyond the limit written");
    refused(w, fd, "more than 65536", "entries");
    free(kv);

    membuf m = { 0 };                                      /* the reader: the same frame by hand */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mem_write);
    tensor_header(&pk, "u1", 1, s1);
    m.p[0] = 0x85;                                         /* (5 keys: attrs too) */
    msgpack_pack_bin_with_body(&pk, a, 1);
    pstr(&pk, "attrs");
    msgpack_pack_map(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        pstr(&pk, "k");
        msgpack_pack_int64(&pk, i);
    }
    expect_error(&m, "more than 65536", "entries beyond the limit");
    free(m.p);
}

/* The largest frame (TS_MAX_FRAME_BYTES, 256 MiB, packed): exactly that much is written and
 * read back, one byte more is refused. The size is counted by msgpack-c itself, not by the
 * writer's own arithmetic. */
static int count_cb(void *data, const char *buf, size_t len) { (void)buf; *(size_t *)data += len; return 0; }

static void test_writer_frame_size(void)
{
    ts_attr_kv kv[1] = { TS_ATTR_STR("note", "the largest frame") };
    uint64_t shape[1] = { 1u << 20 };
    size_t packed = 0;                                     /* a frame of 1 MiB as ts.c packs it */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &packed, count_cb);
    msgpack_pack_map(&pk, 5);
    pstr(&pk, "name"); pstr(&pk, "big");
    pstr(&pk, "dtype"); pstr(&pk, "u1");
    pstr(&pk, "shape"); msgpack_pack_array(&pk, 1); msgpack_pack_uint64(&pk, shape[0]);
    pstr(&pk, "data"); msgpack_pack_bin(&pk, shape[0]); packed += shape[0];
    pstr(&pk, "attrs"); msgpack_pack_map(&pk, 1); pstr(&pk, "note"); pstr(&pk, kv[0].s);
    /* the same frame with n bytes of data is packed - 2^20 + n bytes (the same header
     * widths: bin32 and a uint32 dimension from 65536 bytes on) */
    size_t n = TS_MAX_FRAME_BYTES - (packed - shape[0]);
    unsigned char *data = calloc(1, n + 1);
    char err[256] = "";
    for (int extra = 0; extra <= 1; extra++) {
        shape[0] = n + (size_t)extra;
        int fd = tmpfd();
        ts_writer *w = ts_writer_open(fd, "t");
        if (!extra) {
            CHECK(ts_write_tensor(w, "big", TS_U1, 1, shape, data, kv, 1) == 0, "256 MiB: %s", ts_writer_error(w));
            CHECK(finish_and_read(w, fd, err, sizeof err) == 1, "read back: %s", err);
        } else {
            CHECK(ts_write_tensor(w, "big", TS_U1, 1, shape, data, kv, 1) < 0, "256 MiB + 1 written");
            refused(w, fd, "more than a frame may hold", "256 MiB + 1");
        }
    }
    free(data);
}

/* Consecutive frames of one name are one tensor split along its first axis: pieces that
 * continue it are written and read back numbered; anything else is refused by the writer
 * and by the reader. */
static void test_split_tensors(void)
{
    uint8_t a[24] = { 0 };
    uint16_t a2[12] = { 0 };
    uint64_t s23[2] = { 2, 3 }, s13[2] = { 1, 3 }, s24[2] = { 2, 4 }, s6[1] = { 6 };
    char err[256] = "";
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    CHECK(ts_write_tensor(w, "x", TS_U1, 2, s23, a, NULL, 0) == 0 && ts_write_tensor(w, "x", TS_U1, 2, s13, a, NULL, 0) == 0
          && ts_write_tensor(w, "x", TS_U1, 2, s23, a, NULL, 0) == 0, "pieces: %s", ts_writer_error(w));
    CHECK(ts_write_info(w, "n", NULL, 0) == 0 && ts_write_info(w, "n", NULL, 0) == 0, "info frames may repeat a name");
    CHECK(ts_write_tensor(w, "x", TS_U1, 2, s24, a, NULL, 0) == 0, "another tensor after another frame");
    const char *e = NULL;
    CHECK(ts_writer_finish(w, &e) == 0, "finish: %s", e);
    lseek(fd, 0, SEEK_SET);
    ts_reader *r = ts_reader_open(fd, "t");
    ts_frame f;
    uint64_t want[6][2] = { { 0, 0 }, { 1, 2 }, { 2, 3 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
    for (int i = 0; i < 6; i++)
        CHECK(ts_read(r, &f) == 1 && f.piece == want[i][0] && f.row0 == want[i][1], "frame %d: piece %llu row0 %llu: %s",
              i, (unsigned long long)f.piece, (unsigned long long)f.row0, ts_reader_error(r));
    CHECK(ts_read(r, &f) == 0, "end");
    ts_reader_close(r);
    close(fd);

    struct { int dtype, ndim; uint64_t *shape; int info; const char *why; } bad[] = {
        { TS_U1, 2, s24, 0, "u1 (2, 4) after a frame of the same name of u1 (2, 3)" },
        { TS_U2, 2, s23, 0, "u2 (2, 3) after" },
        { TS_U1, 1, s6, 0, "u1 (6,) after" },
        { TS_U1, 0, s6, 0, "u1 () after" },
        { 0, 0, NULL, 1, "only one of them is a tensor" },
    };
    for (int i = 0; i < 5; i++) {
        w = ts_writer_open(fd = tmpfd(), "t");
        CHECK(ts_write_tensor(w, "x", TS_U1, 2, s23, a, NULL, 0) == 0, "first piece");
        int rc = bad[i].info ? ts_write_info(w, "x", NULL, 0)
               : ts_write_tensor(w, "x", bad[i].dtype, bad[i].ndim, bad[i].shape, bad[i].dtype == TS_U2 ? (void *)a2 : a, NULL, 0);
        CHECK(rc < 0, "bad piece %d written", i);
        refused(w, fd, bad[i].why, "piece");
    }
    w = ts_writer_open(fd = tmpfd(), "t");                /* scalars cannot be split */
    CHECK(ts_write_tensor(w, "s", TS_U1, 0, s6, a, NULL, 0) == 0, "a scalar");
    CHECK(ts_write_tensor(w, "s", TS_U1, 0, s6, a, NULL, 0) < 0, "a second scalar of the name written");
    refused(w, fd, "u1 () after a frame of the same name of u1 ()", "scalars");

    membuf m = { 0 };                                      /* the reader, by hand */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mem_write);
    tensor_header(&pk, "u1", 2, s23);
    msgpack_pack_bin_with_body(&pk, a, 6);
    tensor_header(&pk, "u1", 2, s24);
    msgpack_pack_bin_with_body(&pk, a, 8);
    expect_error(&m, "u1 (2, 4) after a frame of the same name of u1 (2, 3)", "piece of other dimensions");
    free(m.p);
    (void)err;
}

/* A big tensor (tens of MiB) crosses many read and inflate chunks intact. */
static void test_large(void)
{
    size_t n = 24u << 20;
    float *a = malloc(n);
    for (size_t i = 0; i < n / 4; i++)
        a[i] = (float)(i % 1000) * 0.5f;
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    uint64_t shape[2] = { n / 4 / 1024, 1024 };
    CHECK(ts_write_tensor(w, "big", TS_F4, 2, shape, a, NULL, 0) == 0, "write");
    CHECK(ts_writer_finish(w, NULL) == 0, "finish");
    lseek(fd, 0, SEEK_SET);
    ts_reader *r = ts_reader_open(fd, "t");
    ts_frame f;
    CHECK(ts_read(r, &f) == 1 && f.nbytes == n && memcmp(f.data, a, n) == 0, "big tensor intact: %s",
          ts_reader_error(r));
    CHECK(ts_read(r, &f) == 0, "end");
    ts_reader_close(r);
    close(fd);
    free(a);
}

/* A parallel writer (each frame its own gzip member, compressed on threads) gives the same
 * frames, in order, and every proper prefix of its output is still an error. */
static void test_parallel_writer(void)
{
    int fd = tmpfd();
    ts_writer *w = ts_writer_open(fd, "t");
    CHECK(ts_writer_parallel(w) == 0, "parallel");
    enum { NF = 9 };
    uint64_t shape[1];
    float *a = malloc(200000 * sizeof(float));
    for (int k = 0; k < NF; k++) {
        shape[0] = k % 2 ? 10 : 200000;             /* big and small frames, as onehot's x, y */
        for (uint64_t i = 0; i < shape[0]; i++)
            a[i] = (float)(k * 1000 + i % 977);
        CHECK(ts_write_tensor(w, k % 2 ? "y" : "x", TS_F4, 1, shape, a, NULL, 0) == 0, "write %d", k);
        if (k == 4)
            CHECK(ts_writer_flush(w) == 0, "flush");
    }
    CHECK(ts_writer_finish(w, NULL) == 0, "finish");
    blob b = slurp(fd);
    close(fd);
    int rd = reader_fd(b.p, b.n);
    ts_reader *r = ts_reader_open(rd, "t");
    ts_frame f;
    int k = 0, ok = 1;
    while (ts_read(r, &f) > 0) {
        uint64_t n = k % 2 ? 10 : 200000;
        ok &= f.count == n && strcmp(f.name, k % 2 ? "y" : "x") == 0;
        for (uint64_t i = 0; ok && i < n; i++) {
            float v;
            memcpy(&v, (const char *)f.data + i * 4, 4);
            ok &= v == (float)(k * 1000 + i % 977);
        }
        k++;
    }
    CHECK(ok && k == NF, "read %d frames back, content %s: %s", k, ok ? "right" : "wrong", ts_reader_error(r));
    ts_reader_close(r);
    close(rd);
    char err[256];
    int bad = 0;
    for (size_t cut = 0; cut < b.n; cut += 1 + b.n / 200)
        if (count_frames(b.p, cut, err, sizeof err) >= 0)
            bad++;
    CHECK(bad == 0, "%d prefixes of a parallel stream read as complete", bad);
    free(a);
    free(b.p);
}

static void test_dtype_names(void)
{
    for (int t = 0; t < TS_NDTYPES; t++)
        CHECK(ts_dtype_parse(ts_dtype_name(t), 2) == t, "parse %s", ts_dtype_name(t));
    CHECK(ts_dtype_parse("f2", 2) == -1 && ts_dtype_parse("f4x", 3) == -1, "unknown names");
}

int main(void)
{
    RUN(test_dtype_names);
    RUN(test_roundtrip_dtypes);
    RUN(test_attrs_and_info);
    RUN(test_passthrough);
    RUN(test_truncation);
    RUN(test_abort_is_truncation);
    RUN(test_flipped_bytes);
    RUN(test_concatenated);
    RUN(test_not_gzip);
    RUN(test_hostile_frames);
    RUN(test_frame_limit);
    RUN(test_writer_names);
    RUN(test_writer_objects);
    RUN(test_writer_entries);
    RUN(test_writer_frame_size);
    RUN(test_split_tensors);
    RUN(test_large);
    RUN(test_parallel_writer);
    return check_summary();
}
