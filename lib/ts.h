/* ts.h - the charpipe tensor stream: gzip around a sequence of msgpack maps ("frames").
 *
 * The format is specified in lib/FORMAT.md. In short: the first frame of a stream is the header
 * {"name":"header","format":"charpipe","version":1}; the last is {"name":"end","frames":N};
 * a tensor frame is {"name":s, "dtype":s, "shape":[...], "data":bin, "attrs":{...}}. Frames
 * without dtype/shape/data carry only a name and attrs. Concatenated streams read as one.
 *
 * Reading:
 *     ts_reader *r = ts_reader_open(0, "stdin");       // NULL: out of memory
 *     ts_frame f;
 *     int rc;
 *     while ((rc = ts_read(r, &f)) > 0) { ... f.name, f.data ... }
 *     if (rc < 0) die("%s", ts_reader_error(r));      // truncated, corrupt, ...
 *     ts_reader_close(r);
 * Writing:
 *     ts_writer *w = ts_writer_open(1, "stdout");     // writes the header; NULL: no memory
 *     ts_write_tensor(w, "x", TS_U1, 2, shape, data, NULL, 0);
 *     if (ts_writer_finish(w) < 0) die("%s", ts_writer_error(w));   // end frame + trailer
 * A writer that is never finished leaves a stream that every reader reports as truncated.
 */
#ifndef CHARPIPE_TS_H
#define CHARPIPE_TS_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define TS_FORMAT   "charpipe"
#define TS_VERSION  1
#define TS_MAXDIM   8
#define TS_MAX_FRAME_BYTES  ((size_t)256 << 20)   /* largest msgpack message accepted */
#define TS_CHUNK_BYTES      ((size_t)1 << 20)     /* writers split big tensors near this */

typedef enum ts_dtype {
    TS_U1, TS_U2, TS_U4, TS_U8, TS_I1, TS_I2, TS_I4, TS_I8, TS_F4, TS_F8, TS_NDTYPES
} ts_dtype;

const char *ts_dtype_name(ts_dtype t);          /* "u1", ... */
int         ts_dtype_parse(const char *s, size_t len);   /* -1 if unknown */
size_t      ts_dtype_size(ts_dtype t);          /* bytes per item */

/* One frame as read. Everything points into the reader and stays valid until the next
 * ts_read or ts_reader_close on that reader. */
typedef struct ts_frame {
    const char *name;                 /* NUL-terminated copy of the name */
    int is_tensor;                    /* 1 when dtype/shape/data are present */
    ts_dtype dtype;
    int ndim;
    uint64_t shape[TS_MAXDIM];
    uint64_t count;                   /* prod(shape) */
    const void *data;                 /* count * itemsize bytes, little-endian, C order, NOT aligned */
    size_t nbytes;
    const msgpack_object *attrs;      /* the attrs map, or NULL */
    const msgpack_object *obj;        /* the whole frame map, for ts_write_object */
    /* Consecutive tensor frames of one name are one tensor split along its first axis
     * (FORMAT.md); the reader checks that each piece continues the one before (dtype, the
     * other dimensions) and numbers them: piece 0 starts a tensor (or is all of it), piece
     * k > 0 continues it, row0 = the rows of the pieces before. */
    uint64_t piece, row0;
} ts_frame;

/* Attribute lookup on a read frame: 1 if present with a fitting type, 0 if absent;
 * -1 if present with the wrong type. ts_attr_str copies at most cap-1 bytes plus NUL. */
int ts_attr_int(const ts_frame *f, const char *key, int64_t *out);
int ts_attr_num(const ts_frame *f, const char *key, double *out);
int ts_attr_str(const ts_frame *f, const char *key, char *buf, size_t cap);
const msgpack_object *ts_attr(const ts_frame *f, const char *key);

/* An attribute to write. */
typedef struct ts_attr_kv {
    const char *key;
    char type;                        /* 'i' int, 'f' float (f64), 's' string, 'b' bool */
    int64_t i;
    double f;
    const char *s;
} ts_attr_kv;
#define TS_ATTR_INT(k, v)   ((ts_attr_kv){ .key = (k), .type = 'i', .i = (v) })
#define TS_ATTR_FLOAT(k, v) ((ts_attr_kv){ .key = (k), .type = 'f', .f = (v) })
#define TS_ATTR_STR(k, v)   ((ts_attr_kv){ .key = (k), .type = 's', .s = (v) })
#define TS_ATTR_BOOL(k, v)  ((ts_attr_kv){ .key = (k), .type = 'b', .i = (v) })

typedef struct ts_reader ts_reader;
typedef struct ts_writer ts_writer;

/* Open a reader on fd (not closed by the reader). label names the input in messages
 * ("stdin", a file name). NULL when out of memory. */
ts_reader *ts_reader_open(int fd, const char *label);

/* Next frame: 1 and *f filled, 0 at the proper end of the input (end frame, gzip trailer,
 * EOF), -1 on any error (message from ts_reader_error). Header and end frames are checked
 * and consumed here, never returned. After an error every further call returns -1. */
int ts_read(ts_reader *r, ts_frame *f);

/* Text of the last error: "LABEL: reason". */
const char *ts_reader_error(const ts_reader *r);

/* Before the reader blocks waiting for input, flush this writer, so a pipeline of filters
 * never holds data back while it waits (optional). */
void ts_reader_flush_before_wait(ts_reader *r, ts_writer *w);

/* Give the reader bytes already taken from its fd (at most 64 KiB), to be read first: for a
 * program that looked at the first bytes of its input to tell a stream from text. 0, or -1
 * (nothing taken) when they do not fit. */
int ts_reader_unread(ts_reader *r, const void *p, size_t n);

void ts_reader_close(ts_reader *r);

/* Open a writer on fd (not closed by the writer) and write the header frame; NULL when out
 * of memory. It compresses at the level ts_set_gzip_level last set. */
ts_writer *ts_writer_open(int fd, const char *label);

/* The gzip level of writers opened from now on: 0-9 (default 1; other values are ignored).
 * The tools set it from the environment variable CHARPIPE_GZIP_LEVEL. */
void ts_set_gzip_level(int level);

/* Write one tensor frame; the tensor's bytes are given in native order (converted to
 * little-endian on big-endian hosts). Returns 0, or -1 on error (see ts_writer_error).
 * Every writer refuses, with an error, a frame the readers would refuse: a name longer than
 * 255 bytes, not UTF-8 or a control frame's (header, end); an attr key or string that is not
 * UTF-8; a bad dtype or rank, a shape whose data exceeds the frame limit, a frame larger than
 * 256 MiB or with more than 65,536 entries; a tensor frame that follows one of the same name
 * but does not continue it (another dtype or other dimensions after the first, or a scalar). */
int ts_write_tensor(ts_writer *w, const char *name, ts_dtype dtype, int ndim,
                    const uint64_t *shape, const void *data,
                    const ts_attr_kv *attrs, int nattrs);

/* Write a frame without tensor: only a name and attrs. */
int ts_write_info(ts_writer *w, const char *name, const ts_attr_kv *attrs, int nattrs);

/* Write a frame exactly as it was read (pass-through of frames a stage does not consume), or
 * a frame built as a msgpack object: checked as the reader checks what it reads. */
int ts_write_object(ts_writer *w, const msgpack_object *frame);

/* Compress each following frame as a gzip member of its own, two frames at a time on two
 * threads (readers take concatenated members as one stream). For writers of big frames whose
 * compression is the bottleneck (onehot). Call right after ts_writer_open. 0 or -1. */
int ts_writer_parallel(ts_writer *w);

/* Push everything written so far to the fd (a gzip sync flush). Writers flush on their own
 * at frame boundaries when enough data or time has gone by, and in ts_reader waits. */
int ts_writer_flush(ts_writer *w);

/* Write the end frame and the gzip trailer, flush, free. 0 on success, -1 on error
 * (message in *err if err is not NULL, as a static string valid until the next call). */
int ts_writer_finish(ts_writer *w, const char **err);

/* Free without writing the end: readers will see a truncated stream. */
void ts_writer_abort(ts_writer *w);

const char *ts_writer_error(const ts_writer *w);

/* Number of bytes needed to store count items of dtype, or SIZE_MAX on overflow. */
size_t ts_nbytes(ts_dtype dtype, uint64_t count);

#endif
