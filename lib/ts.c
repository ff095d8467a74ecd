/* ts.c - the charpipe tensor stream (see ts.h and FORMAT.md).
 *
 * Writing: frames are packed by msgpack-c through a callback straight into deflate (gzip
 * wrapper), whose output goes to the file descriptor with write(2). Tensor data is handed
 * to the packer without a copy. A sync flush at frame boundaries, when enough data or time
 * has gone by, keeps downstream stages fed.
 *
 * Reading: read(2) -> inflate -> the msgpack unpacker's own buffer -> msgpack_unpacker_next.
 * Tensor data stays where the unpacker put it (zero copy). zlib's gzread is not used: it
 * reports a truncated stream as a clean end and passes non-gzip input through.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "ts.h"
#include "utf8.h"

#define READ_CHUNK   (64 * 1024)
#define OUT_CHUNK    (256 * 1024)
#define FLUSH_BYTES  ((size_t)1 << 20)   /* sync flush after this much frame data ... */
#define FLUSH_SECS   0.05                /* ... or this much time */
#define NAME_MAX_LEN 255
#define PAR_SLOTS    4                   /* frames in flight in a parallel writer: with x and y
                                            frames alternating, two big ones */
#define MAX_DEPTH    32                  /* msgpack nesting accepted (FORMAT.md) */
#define MAX_ITEMS    65536               /* array + map entries declared in one frame */

static const char *dtype_names[TS_NDTYPES] = {
    "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"
};
static const size_t dtype_sizes[TS_NDTYPES] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8 };

const char *ts_dtype_name(ts_dtype t) { return (unsigned)t < TS_NDTYPES ? dtype_names[t] : "?"; }
size_t ts_dtype_size(ts_dtype t) { return (unsigned)t < TS_NDTYPES ? dtype_sizes[t] : 0; }

int ts_dtype_parse(const char *s, size_t len)
{
    for (int i = 0; i < TS_NDTYPES; i++)
        if (len == 2 && memcmp(s, dtype_names[i], 2) == 0)
            return i;
    return -1;
}

size_t ts_nbytes(ts_dtype dtype, uint64_t count)
{
    size_t size = ts_dtype_size(dtype);
    if (size == 0 || count > SIZE_MAX / size)
        return SIZE_MAX;
    return (size_t)count * size;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int is_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* Reverse the bytes of each item (big-endian hosts only). */
static void swap_items(uint8_t *p, size_t nbytes, size_t size)
{
    for (size_t i = 0; i + size <= nbytes; i += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

static int key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* What a frame may be: one set of rules, applied by the reader to what it reads and by the  */
/* writer to what it writes, so that no writer writes what the readers refuse (FORMAT.md).    */

/* Bytes msgpack-c packs for a str or bin of n bytes, an array or map header of n entries,
 * an unsigned or signed integer (the smallest form, as msgpack_pack_object packs). */
static uint64_t str_size(uint64_t n) { return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5); }
static uint64_t bin_size(uint64_t n) { return n + (n < 256 ? 2 : n < 65536 ? 3 : 5); }
static uint64_t hdr_size(uint64_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }
static uint64_t uint_size(uint64_t v) { return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v < (1ULL << 32) ? 5 : 9; }
static uint64_t int_size(int64_t v)
{
    return v >= 0 ? uint_size((uint64_t)v) : v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3
         : v >= INT32_MIN ? 5 : 9;
}

/* What the guard limits and the frame size, for a whole msgpack object: its nesting (the
 * containers open at once; the frame's map is the first), the array and map entries it
 * declares (a map's count twice), its packed size, and whether every str in it (keys too) is
 * UTF-8. */
typedef struct obj_stats {
    int depth, utf8_bad;
    uint64_t items, bytes;
} obj_stats;

static void obj_walk(const msgpack_object *o, int level, obj_stats *st)
{
    int container = o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP;
    if (container && level > st->depth)
        st->depth = level;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: case MSGPACK_OBJECT_BOOLEAN: st->bytes += 1; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: st->bytes += uint_size(o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: st->bytes += int_size(o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32: st->bytes += 5; break;
    case MSGPACK_OBJECT_FLOAT64: st->bytes += 9; break;
    case MSGPACK_OBJECT_STR:
        st->bytes += str_size(o->via.str.size);
        st->utf8_bad |= !utf8_valid(o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN: st->bytes += bin_size(o->via.bin.size); break;
    case MSGPACK_OBJECT_EXT: {
        uint32_t n = o->via.ext.size;
        st->bytes += n + (n == 1 || n == 2 || n == 4 || n == 8 || n == 16 ? 2 : n < 256 ? 3 : n < 65536 ? 4 : 6);
        break;
    }
    case MSGPACK_OBJECT_ARRAY:
        st->bytes += hdr_size(o->via.array.size);
        st->items += o->via.array.size;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            obj_walk(&o->via.array.ptr[i], level + 1, st);
        break;
    case MSGPACK_OBJECT_MAP:
        st->bytes += hdr_size(o->via.map.size);
        st->items += 2 * (uint64_t)o->via.map.size;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            obj_walk(&o->via.map.ptr[i].key, level + 1, st);
            obj_walk(&o->via.map.ptr[i].val, level + 1, st);
        }
        break;
    default: break;
    }
}

static int fail_msg(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_msg(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* The checks below return -1 with a message in err, or -2 with a message that a reader
 * reports as "corrupt stream (MESSAGE)" (the stream's structure is broken). */

/* A name a data frame may have: at most NAME_MAX_LEN bytes of UTF-8 without NUL. */
static int check_name(const char *name, size_t n, char *err, size_t cap)
{
    if (n > NAME_MAX_LEN)
        return fail_msg(err, cap, "frame name longer than %d bytes", NAME_MAX_LEN) - 1;
    if (memchr(name, 0, n))
        return fail_msg(err, cap, "NUL in frame name") - 1;
    if (!utf8_valid(name, n))
        return fail_msg(err, cap, "frame name is not UTF-8") - 1;
    return 0;
}

/* Check that o is a data frame as readers accept it (FORMAT.md) and describe it in *f, its
 * name copied to namebuf (NAME_MAX_LEN + 1 bytes); the data is left as it is. 0, -1 or -2
 * (above). Control frames (header, end) are not data frames: the caller tells them apart. */
static int check_frame(const msgpack_object *o, ts_frame *f, char *namebuf, char *err, size_t cap)
{
    int rc;
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail_msg(err, cap, "a frame is not a map") - 1;
    const msgpack_object *name = map_get(o, "name");
    if (!name || name->type != MSGPACK_OBJECT_STR)
        return fail_msg(err, cap, "frame without a name") - 1;
    if ((rc = check_name(name->via.str.ptr, name->via.str.size, err, cap)) < 0)
        return rc;
    memcpy(namebuf, name->via.str.ptr, name->via.str.size);
    namebuf[name->via.str.size] = 0;

    memset(f, 0, sizeof *f);
    f->name = namebuf;
    f->obj = o;
    f->attrs = map_get(o, "attrs");
    if (f->attrs && f->attrs->type != MSGPACK_OBJECT_MAP)
        return fail_msg(err, cap, "frame '%s': attrs is not a map", namebuf);
    obj_stats st = { 0 };
    obj_walk(o, 1, &st);
    if (st.depth > MAX_DEPTH)
        return fail_msg(err, cap, "malformed msgpack: nested deeper than %d levels", MAX_DEPTH) - 1;
    if (st.items > MAX_ITEMS)
        return fail_msg(err, cap, "malformed msgpack: a frame declares more than %d array or map entries",
                        MAX_ITEMS) - 1;
    if (st.bytes > TS_MAX_FRAME_BYTES)
        return fail_msg(err, cap, "a frame is larger than %zu MiB", TS_MAX_FRAME_BYTES >> 20) - 1;
    if (st.utf8_bad)
        return fail_msg(err, cap, "frame '%s': a string that is not UTF-8", namebuf);

    const msgpack_object *dt = map_get(o, "dtype"), *sh = map_get(o, "shape"), *da = map_get(o, "data");
    if (!dt && !sh && !da)
        return 0;
    if (!dt || !sh || !da)
        return fail_msg(err, cap, "frame '%s': a tensor needs dtype, shape and data", namebuf);
    if (dt->type != MSGPACK_OBJECT_STR)
        return fail_msg(err, cap, "frame '%s': dtype is not a string", namebuf);
    int t = ts_dtype_parse(dt->via.str.ptr, dt->via.str.size);
    if (t < 0)
        return fail_msg(err, cap, "frame '%s': unsupported dtype '%.*s'", namebuf,
                        (int)(dt->via.str.size > 16 ? 16 : dt->via.str.size), dt->via.str.ptr);
    if (sh->type != MSGPACK_OBJECT_ARRAY)
        return fail_msg(err, cap, "frame '%s': shape is not an array", namebuf);
    if (sh->via.array.size > TS_MAXDIM)
        return fail_msg(err, cap, "frame '%s': %u dimensions (at most %d)", namebuf, sh->via.array.size, TS_MAXDIM);
    uint64_t count = 1;
    int overflow = 0;
    for (uint32_t i = 0; i < sh->via.array.size; i++) {
        const msgpack_object *d = &sh->via.array.ptr[i];
        if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return fail_msg(err, cap, "frame '%s': shape[%u] is not a non-negative integer", namebuf, i);
        f->shape[i] = d->via.u64;
        if (d->via.u64 && count > UINT64_MAX / d->via.u64)
            overflow = 1;
        else
            count *= d->via.u64;
    }
    size_t nbytes = overflow ? SIZE_MAX : ts_nbytes((ts_dtype)t, count);
    if (nbytes == SIZE_MAX || nbytes > TS_MAX_FRAME_BYTES)
        return fail_msg(err, cap, "frame '%s': shape too large", namebuf);
    if (da->type != MSGPACK_OBJECT_BIN)
        return fail_msg(err, cap, "frame '%s': data is not binary", namebuf);
    if (da->via.bin.size != nbytes)
        return fail_msg(err, cap, "frame '%s': data has %u bytes, shape and dtype need %zu", namebuf,
                        da->via.bin.size, nbytes);
    f->is_tensor = 1;
    f->dtype = (ts_dtype)t;
    f->ndim = (int)sh->via.array.size;
    f->count = count;
    f->data = da->via.bin.ptr;
    f->nbytes = nbytes;
    return 0;
}

/* The last data frame of a stream, as the rule for split tensors needs it. */
typedef struct last_frame {
    int valid, is_tensor, ndim;
    ts_dtype dtype;
    uint64_t shape[TS_MAXDIM], piece, row0;
    char name[NAME_MAX_LEN + 1];
} last_frame;

static void fmt_tensor(char *buf, size_t cap, ts_dtype dtype, int ndim, const uint64_t *shape)
{
    int n = snprintf(buf, cap, "%s (", ts_dtype_name(dtype));
    for (int d = 0; d < ndim && n < (int)cap; d++)
        n += snprintf(buf + n, cap - (size_t)n, d ? ", %llu" : "%llu", (unsigned long long)shape[d]);
    if (n < (int)cap)
        snprintf(buf + n, cap - (size_t)n, ndim == 1 ? ",)" : ")");
}

/* The rule for split tensors (FORMAT.md): consecutive frames of one name are one tensor
 * split along its first axis, so a tensor frame that follows a tensor frame of the same name
 * must have its dtype, a first axis, and the same other dimensions. Sets f->piece (0 for a
 * frame that starts a tensor) and f->row0 (the rows before it), and remembers f in *last. 0,
 * or -1 with a message in err. Frames without a tensor (info frames) may repeat a name. */
static int next_piece(last_frame *last, ts_frame *f, char *err, size_t cap)
{
    f->piece = f->row0 = 0;
    if (last->valid && strcmp(last->name, f->name) == 0 && (f->is_tensor || last->is_tensor)) {
        char a[96], b[96];
        if (!f->is_tensor || !last->is_tensor)
            return fail_msg(err, cap, "frame '%s' follows a frame of the same name, and only one of them is a "
                            "tensor (consecutive frames of one name are one tensor split along its first axis)", f->name);
        int fits = f->ndim >= 1 && f->ndim == last->ndim && f->dtype == last->dtype;
        for (int d = 1; fits && d < f->ndim; d++)
            fits = f->shape[d] == last->shape[d];
        if (!fits) {
            fmt_tensor(a, sizeof a, f->dtype, f->ndim, f->shape);
            fmt_tensor(b, sizeof b, last->dtype, last->ndim, last->shape);
            return fail_msg(err, cap, "frame '%s' is %s after a frame of the same name of %s: consecutive "
                            "frames of one name are one tensor split along its first axis, and their dtype "
                            "and other dimensions must agree", f->name, a, b);
        }
        if (last->row0 + last->shape[0] < last->row0)
            return fail_msg(err, cap, "frame '%s': a split tensor of more than 2^64 rows", f->name);
        f->piece = last->piece + 1;
        f->row0 = last->row0 + last->shape[0];
    }
    last->valid = 1;
    last->is_tensor = f->is_tensor;
    last->dtype = f->dtype;
    last->ndim = f->ndim;
    memcpy(last->shape, f->shape, sizeof last->shape);
    last->piece = f->piece;
    last->row0 = f->row0;
    snprintf(last->name, sizeof last->name, "%s", f->name);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                     */

struct ts_writer {
    int fd;
    char label[128];
    z_stream z;
    msgpack_packer pk;
    unsigned char out[OUT_CHUNK];
    int failed;
    char err[256];
    uint64_t frames;                  /* frames written since the header */
    size_t since_flush;               /* bytes packed since the last sync flush */
    double last_flush;
    int timed;                        /* flush by time too (pipes, terminals; not files) */
    int level;
    /* parallel mode (ts_writer_parallel): each frame is its own gzip member */
    int par;
    unsigned char *fbuf;              /* the frame being packed */
    size_t flen, fcap;
    struct member {                   /* a frame being compressed on a thread of its own */
        unsigned char *in, *out;
        size_t inlen, incap, outlen, outcap;
        int level, ok, threaded;
        pthread_t th;
    } slot[PAR_SLOTS];                /* frames in flight, oldest first from head */
    int head, count;
    last_frame last;                  /* the last frame written (the rule for split tensors) */
};

static void werr(ts_writer *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    va_list ap;
    int n = snprintf(w->err, sizeof w->err, "%s: ", w->label);
    va_start(ap, fmt);
    vsnprintf(w->err + n, sizeof w->err - n, fmt, ap);
    va_end(ap);
    w->failed = 1;
}

static int write_all(ts_writer *w, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            werr(w, "write failed: %s", k < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Run deflate with the given flush mode until it has taken all input (and, for a flush or
 * finish, produced all output). */
static int deflate_run(ts_writer *w, int mode)
{
    if (w->failed)
        return -1;
    for (;;) {
        w->z.next_out = w->out;
        w->z.avail_out = sizeof w->out;
        int rc = deflate(&w->z, mode);
        if (rc == Z_STREAM_ERROR) {
            werr(w, "deflate failed");
            return -1;
        }
        size_t have = sizeof w->out - w->z.avail_out;
        if (have && write_all(w, w->out, have) < 0)
            return -1;
        if (mode == Z_FINISH ? rc == Z_STREAM_END : (w->z.avail_in == 0 && w->z.avail_out != 0))
            return 0;
    }
}

static int pack_cb(void *data, const char *buf, size_t len)
{
    ts_writer *w = data;
    if (len == 0)                     /* (the body of an empty bin: buf may be NULL) */
        return 0;
    if (w->par) {                     /* collect the frame; it is compressed whole */
        if (w->flen + len > w->fcap) {
            size_t cap = w->fcap ? w->fcap : 65536;
            while (cap < w->flen + len)
                cap *= 2;
            unsigned char *p = realloc(w->fbuf, cap);
            if (!p) {
                werr(w, "out of memory");
                return -1;
            }
            w->fbuf = p;
            w->fcap = cap;
        }
        memcpy(w->fbuf + w->flen, buf, len);
        w->flen += len;
        return 0;
    }
    w->since_flush += len;
    while (len > 0) {                 /* avail_in is 32-bit */
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        w->z.next_in = (Bytef *)buf;
        w->z.avail_in = n;
        if (deflate_run(w, Z_NO_FLUSH) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static int gzip_level = 1;            /* ts_set_gzip_level */

void ts_set_gzip_level(int level)
{
    if (level >= 0 && level <= 9)
        gzip_level = level;
}

ts_writer *ts_writer_open(int fd, const char *label)
{
    ts_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    snprintf(w->label, sizeof w->label, "%s", label ? label : "output");
    /* A reader on the other end of a pipe needs data as it is made; a file does not, and
     * flushing it by size alone makes the same frames give the same bytes. */
    struct stat st;
    w->timed = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
    w->level = gzip_level;
    /* windowBits 15 + 16: a gzip wrapper, so zcat and Python's gzip module can read it */
    if (deflateInit2(&w->z, w->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(w);
        return NULL;
    }
    msgpack_packer_init(&w->pk, w, pack_cb);
    ts_attr_kv hdr[2] = { TS_ATTR_STR("format", TS_FORMAT), TS_ATTR_INT("version", TS_VERSION) };
    msgpack_pack_map(&w->pk, 3);
    msgpack_pack_str_with_body(&w->pk, "name", 4);
    msgpack_pack_str_with_body(&w->pk, "header", 6);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_str_with_body(&w->pk, hdr[i].key, strlen(hdr[i].key));
        if (hdr[i].type == 's')
            msgpack_pack_str_with_body(&w->pk, hdr[i].s, strlen(hdr[i].s));
        else
            msgpack_pack_int64(&w->pk, hdr[i].i);
    }
    return w;
}

const char *ts_writer_error(const ts_writer *w) { return w->failed ? w->err : "no error"; }

/* m->in[0..inlen) -> m->out[0..outlen) as one complete gzip member. */
static void *member_compress(void *arg)
{
    struct member *m = arg;
    z_stream z;
    memset(&z, 0, sizeof z);
    m->ok = 0;
    if (deflateInit2(&z, m->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t bound = deflateBound(&z, (uLong)m->inlen) + 64;
    if (bound > m->outcap) {
        unsigned char *p = realloc(m->out, bound);
        if (!p) {
            deflateEnd(&z);
            return NULL;
        }
        m->out = p;
        m->outcap = bound;
    }
    z.next_in = m->in;
    z.avail_in = (uInt)m->inlen;
    z.next_out = m->out;
    z.avail_out = (uInt)m->outcap;
    int rc = deflate(&z, Z_FINISH);
    m->outlen = m->outcap - z.avail_out;
    m->ok = rc == Z_STREAM_END;
    deflateEnd(&z);
    return NULL;
}

/* Move the packed frame into member m (swapping buffers, no copy). */
static void take_frame(ts_writer *w, struct member *m)
{
    unsigned char *b = m->in;
    size_t c = m->incap;
    m->in = w->fbuf;
    m->incap = w->fcap;
    m->inlen = w->flen;
    m->level = w->level;
    w->fbuf = b;
    w->fcap = c;
    w->flen = 0;
}

static int write_member(ts_writer *w, struct member *m)
{
    if (!m->ok) {
        werr(w, "compression failed");
        return -1;
    }
    return write_all(w, m->out, m->outlen);
}

/* Wait for the oldest frame in flight and write it. */
static int par_pop(ts_writer *w)
{
    struct member *m = &w->slot[w->head];
    if (m->threaded)
        pthread_join(m->th, NULL);
    m->threaded = 0;
    w->head = (w->head + 1) % PAR_SLOTS;
    w->count--;
    return w->failed ? -1 : write_member(w, m);
}

/* Write every frame in flight, in order. */
static int par_drain(ts_writer *w)
{
    while (w->count > 0)
        if (par_pop(w) < 0)
            return -1;
    return w->failed ? -1 : 0;
}

/* Parallel mode, a frame is packed: compress it on a thread of its own, at most PAR_SLOTS
 * frames in flight; their output is written in frame order. */
static int par_frame(ts_writer *w)
{
    if (w->failed)
        return -1;
    if (w->count == PAR_SLOTS && par_pop(w) < 0)
        return -1;
    struct member *m = &w->slot[(w->head + w->count) % PAR_SLOTS];
    take_frame(w, m);
    m->threaded = pthread_create(&m->th, NULL, member_compress, m) == 0;
    if (!m->threaded)
        member_compress(m);                      /* no thread: do it here */
    w->count++;
    return 0;
}

int ts_writer_parallel(ts_writer *w)
{
    if (w->par || w->frames)
        return w->failed ? -1 : 0;
    if (deflate_run(w, Z_FINISH) < 0)               /* the header: a member of its own */
        return -1;
    w->par = 1;
    return 0;
}

int ts_writer_flush(ts_writer *w)
{
    if (w->par)
        return par_drain(w);
    if (deflate_run(w, Z_SYNC_FLUSH) < 0)
        return -1;
    w->since_flush = 0;
    w->last_flush = now();
    return 0;
}

static int frame_done(ts_writer *w)
{
    if (w->failed)
        return -1;
    w->frames++;
    if (w->par)
        return par_frame(w);
    if (w->since_flush >= FLUSH_BYTES || (w->timed && now() - w->last_flush >= FLUSH_SECS))
        return ts_writer_flush(w);
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_attrs(msgpack_packer *pk, const ts_attr_kv *attrs, int nattrs)
{
    msgpack_pack_map(pk, (size_t)nattrs);
    for (int i = 0; i < nattrs; i++) {
        pack_str(pk, attrs[i].key);
        switch (attrs[i].type) {
        case 'i': msgpack_pack_int64(pk, attrs[i].i); break;
        case 'f': msgpack_pack_double(pk, attrs[i].f); break;
        case 'b': if (attrs[i].i) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
        default:  pack_str(pk, attrs[i].s ? attrs[i].s : ""); break;
        }
    }
}

/* The writer refuses, with an error, any frame that the readers would refuse. */
static int refuse(ts_writer *w, const char *msg)
{
    werr(w, "refusing to write a frame that readers refuse: %s", msg);
    return -1;
}

/* What every frame written must also be: not named as a control frame, and a valid piece
 * of a split tensor when it follows a frame of its name. */
static int admit(ts_writer *w, ts_frame *f)
{
    char msg[512];
    if (strcmp(f->name, "header") == 0 || strcmp(f->name, "end") == 0) {
        snprintf(msg, sizeof msg, "a data frame named '%s' (the name of a control frame)", f->name);
        return refuse(w, msg);
    }
    if (next_piece(&w->last, f, msg, sizeof msg) < 0)
        return refuse(w, msg);
    return 0;
}

/* The name, and the attrs: every key and string UTF-8, not too many; adds their packed
 * size (with the "attrs" key) to *bytes and their entries to *items. 0, or -1 (refused). */
static int check_parts(ts_writer *w, const char *name, const ts_attr_kv *attrs, int nattrs,
                       uint64_t *bytes, uint64_t *items)
{
    char msg[320];
    size_t nlen = strlen(name);
    if (check_name(name, nlen, msg, sizeof msg) < 0)
        return refuse(w, msg);
    *bytes += str_size(4) + str_size(nlen);
    if (nattrs < 0 || nattrs > MAX_ITEMS / 2) {
        snprintf(msg, sizeof msg, "frame '%s': %d attrs", name, nattrs);
        return refuse(w, msg);
    }
    if (nattrs > 0) {
        *bytes += str_size(5) + hdr_size((uint64_t)nattrs);
        *items += 2 * (uint64_t)nattrs;
    }
    for (int i = 0; i < nattrs; i++) {
        const ts_attr_kv *a = &attrs[i];
        const char *str = a->s ? a->s : "";
        size_t kl = strlen(a->key), sl = strlen(str);
        int is_str = a->type != 'i' && a->type != 'f' && a->type != 'b';
        if (!utf8_valid(a->key, kl) || (is_str && !utf8_valid(str, sl))) {
            snprintf(msg, sizeof msg, "frame '%s': attr '%.64s': a string that is not UTF-8", name,
                     utf8_valid(a->key, kl) ? a->key : "?");
            return refuse(w, msg);
        }
        *bytes += str_size(kl) + (a->type == 'i' ? int_size(a->i) : a->type == 'f' ? 9
                                  : a->type == 'b' ? 1 : str_size(sl));
    }
    return 0;
}

static int check_size(ts_writer *w, const char *name, uint64_t bytes, uint64_t items)
{
    char msg[320];
    if (items > MAX_ITEMS) {
        snprintf(msg, sizeof msg, "frame '%s': more than %d array or map entries", name, MAX_ITEMS);
        return refuse(w, msg);
    }
    if (bytes > TS_MAX_FRAME_BYTES) {
        snprintf(msg, sizeof msg, "frame '%s': %llu bytes is more than a frame may hold (%zu MiB)", name,
                 (unsigned long long)bytes, TS_MAX_FRAME_BYTES >> 20);
        return refuse(w, msg);
    }
    return 0;
}

int ts_write_tensor(ts_writer *w, const char *name, ts_dtype dtype, int ndim,
                    const uint64_t *shape, const void *data,
                    const ts_attr_kv *attrs, int nattrs)
{
    if (w->failed)
        return -1;
    if ((unsigned)dtype >= TS_NDTYPES || ndim < 0 || ndim > TS_MAXDIM) {
        werr(w, "frame '%s': bad dtype or rank", name);
        return -1;
    }
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] && count > UINT64_MAX / shape[i]) {
            werr(w, "frame '%s': shape too large", name);
            return -1;
        }
        count *= shape[i];
    }
    size_t nbytes = ts_nbytes(dtype, count);
    if (nbytes == SIZE_MAX || nbytes > TS_MAX_FRAME_BYTES) {
        werr(w, "frame '%s': shape too large", name);
        return -1;
    }
    uint64_t bytes = hdr_size(nattrs > 0 ? 5 : 4) + str_size(5) + str_size(2) + str_size(5) + hdr_size((uint64_t)ndim)
                   + str_size(4) + bin_size(nbytes), items = 2 * (nattrs > 0 ? 5 : 4) + (uint64_t)ndim;
    for (int i = 0; i < ndim; i++)
        bytes += uint_size(shape[i]);
    if (check_parts(w, name, attrs, nattrs, &bytes, &items) < 0 || check_size(w, name, bytes, items) < 0)
        return -1;
    ts_frame f = { .name = name, .is_tensor = 1, .dtype = dtype, .ndim = ndim };
    for (int i = 0; i < ndim; i++)    /* (a scalar's shape may be NULL) */
        f.shape[i] = shape[i];
    if (admit(w, &f) < 0)
        return -1;
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, nattrs > 0 ? 5 : 4);
    pack_str(pk, "name");
    pack_str(pk, name);
    pack_str(pk, "dtype");
    pack_str(pk, ts_dtype_name(dtype));
    pack_str(pk, "shape");
    msgpack_pack_array(pk, (size_t)ndim);
    for (int i = 0; i < ndim; i++)
        msgpack_pack_uint64(pk, shape[i]);
    pack_str(pk, "data");
    msgpack_pack_bin(pk, nbytes);
    size_t size = ts_dtype_size(dtype);
    if (size > 1 && is_big_endian()) {
        uint8_t tmp[4096];
        for (size_t off = 0; off < nbytes; off += sizeof tmp) {
            size_t n = nbytes - off < sizeof tmp ? nbytes - off : sizeof tmp;
            memcpy(tmp, (const uint8_t *)data + off, n);
            swap_items(tmp, n, size);
            msgpack_pack_bin_body(pk, tmp, n);
        }
    } else if (nbytes) {
        msgpack_pack_bin_body(pk, data, nbytes);
    }
    if (nattrs > 0) {
        pack_str(pk, "attrs");
        pack_attrs(pk, attrs, nattrs);
    }
    return frame_done(w);
}

int ts_write_info(ts_writer *w, const char *name, const ts_attr_kv *attrs, int nattrs)
{
    if (w->failed)
        return -1;
    uint64_t bytes = hdr_size(2), items = 4;
    if (nattrs <= 0)                  /* ("attrs": {} is written even when empty) */
        bytes += str_size(5) + hdr_size(0);
    if (check_parts(w, name, attrs, nattrs, &bytes, &items) < 0 || check_size(w, name, bytes, items) < 0)
        return -1;
    ts_frame f = { .name = name };
    if (admit(w, &f) < 0)
        return -1;
    msgpack_pack_map(&w->pk, 2);
    pack_str(&w->pk, "name");
    pack_str(&w->pk, name);
    pack_str(&w->pk, "attrs");
    pack_attrs(&w->pk, attrs, nattrs);
    return frame_done(w);
}

int ts_write_object(ts_writer *w, const msgpack_object *frame)
{
    if (w->failed)
        return -1;
    ts_frame f;
    char name[NAME_MAX_LEN + 1], msg[320];
    if (check_frame(frame, &f, name, msg, sizeof msg) < 0)
        return refuse(w, msg);
    if (admit(w, &f) < 0)
        return -1;
    msgpack_pack_object(&w->pk, *frame);
    return frame_done(w);
}

static void writer_free(ts_writer *w)
{
    for (int i = 0; i < PAR_SLOTS; i++) {
        if (w->slot[i].threaded)
            pthread_join(w->slot[i].th, NULL);
        free(w->slot[i].in);
        free(w->slot[i].out);
    }
    deflateEnd(&w->z);
    free(w->fbuf);
    free(w);
}

int ts_writer_finish(ts_writer *w, const char **err)
{
    static char errbuf[256];
    if (!w->failed) {
        msgpack_pack_map(&w->pk, 2);
        pack_str(&w->pk, "name");
        pack_str(&w->pk, "end");
        pack_str(&w->pk, "frames");
        msgpack_pack_uint64(&w->pk, w->frames);
        if (w->par) {
            if (par_drain(w) == 0) {
                take_frame(w, &w->slot[0]);
                member_compress(&w->slot[0]);
                write_member(w, &w->slot[0]);
            }
        } else {
            deflate_run(w, Z_FINISH);
        }
    }
    int rc = w->failed ? -1 : 0;
    if (rc < 0) {
        snprintf(errbuf, sizeof errbuf, "%s", w->err);
        if (err)
            *err = errbuf;
    }
    writer_free(w);
    return rc;
}

void ts_writer_abort(ts_writer *w)
{
    if (!w)
        return;
    writer_free(w);
}

/* ------------------------------------------------------------------------------------------ */
/* Reader                                                                                     */

enum { GZ_START, GZ_MEMBER, GZ_BETWEEN };   /* nothing yet / inside a member / after one */

struct ts_reader {
    int fd;
    char label[128];
    z_stream z;
    unsigned char in[READ_CHUNK];
    int gz;                           /* GZ_* */
    int not_gzip;                     /* the input does not start with the gzip magic */
    int eof;
    int failed;
    char err[320];
    msgpack_unpacker up;
    msgpack_unpacked result;
    int in_stream;                    /* header seen, end not yet */
    int streams;                      /* streams (header..end) completed */
    uint64_t frames;                  /* frames since the header */
    uint64_t total_in;                /* compressed bytes read */
    char name[NAME_MAX_LEN + 1];
    last_frame last;                  /* the last data frame read (the rule for split tensors) */
    ts_writer *flush_w;
    /* The guard: a msgpack tokenizer that sees every decompressed byte before msgpack-c does.
     * msgpack-c allocates a container's objects when it reads the container's header, so a
     * 5-byte "array of 4 billion" would make it ask for 96 GiB. The guard stops such a header
     * (and too deep nesting, and str/bin/ext longer than the frame limit) before msgpack-c
     * sees it: the bytes before it are handed on, then the reader fails (pending error). */
    struct {
        unsigned char hdr[9];         /* the header being collected (at most 9 bytes) */
        int hlen, hneed;
        uint64_t skip;                /* body bytes of a str/bin/ext still to pass */
        int depth;
        uint32_t left[MAX_DEPTH + 1]; /* items left in each open container */
        uint64_t items;               /* entries declared in the current top-level value */
        int failed;
        char err[128];
    } g;
};

static int rerr(ts_reader *r, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        int n = snprintf(r->err, sizeof r->err, "%s: ", r->label);
        va_start(ap, fmt);
        vsnprintf(r->err + n, sizeof r->err - n, fmt, ap);
        va_end(ap);
        /* names and dtypes quoted from the stream may hold any byte: keep the message one
         * printable line */
        for (unsigned char *p = (unsigned char *)r->err; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                *p = '?';
        r->failed = 1;
    }
    return -1;
}

ts_reader *ts_reader_open(int fd, const char *label)
{
    ts_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = fd;
    snprintf(r->label, sizeof r->label, "%s", label ? label : "input");
    if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
        free(r);
        return NULL;
    }
    if (!msgpack_unpacker_init(&r->up, 256 * 1024)) {
        inflateEnd(&r->z);
        free(r);
        return NULL;
    }
    msgpack_unpacked_init(&r->result);
    return r;
}

int ts_reader_unread(ts_reader *r, const void *p, size_t n)
{
    if (n > sizeof r->in - r->z.avail_in)
        return -1;
    memmove(r->in + n, r->z.next_in ? r->z.next_in : r->in, r->z.avail_in);
    memcpy(r->in, p, n);
    r->z.next_in = r->in;
    r->z.avail_in += (uInt)n;
    if (r->total_in == 0 && n > 0)
        r->not_gzip = r->in[0] != 0x1f || (n > 1 && r->in[1] != 0x8b);
    r->total_in += n;
    return 0;
}

void ts_reader_flush_before_wait(ts_reader *r, ts_writer *w) { r->flush_w = w; }

const char *ts_reader_error(const ts_reader *r) { return r->failed ? r->err : "no error"; }

void ts_reader_close(ts_reader *r)
{
    if (!r)
        return;
    inflateEnd(&r->z);
    msgpack_unpacked_destroy(&r->result);
    msgpack_unpacker_destroy(&r->up);
    free(r);
}

/* Length of the msgpack header starting with byte b (type byte plus size fields). */
static int guard_hdr_len(unsigned b)
{
    if (b <= 0xbf || b >= 0xe0)
        return 1;                     /* fixint, fixmap, fixarray, fixstr, negative fixint */
    static const unsigned char len[0x20] = {
        /* c0 nil, c1 (never used), c2 c3 bool, c4-c6 bin, c7-c9 ext, ca cb float, cc-cf uint */
        1, 1, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9,
        /* d0-d3 int, d4-d8 fixext (type byte and data skipped as a body), d9-db str,
         * dc dd array, de df map */
        2, 3, 5, 9, 1, 1, 1, 1, 1, 2, 3, 5, 3, 5, 3, 5,
    };
    return len[b - 0xc0];
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void guard_fail(ts_reader *r, const char *fmt, unsigned long long v)
{
    r->g.failed = 1;
    snprintf(r->g.err, sizeof r->g.err, fmt, v);
}

/* One value (scalar, or a container with all its items) is complete. */
static void guard_done(ts_reader *r)
{
    while (r->g.depth > 0) {
        if (--r->g.left[r->g.depth - 1] > 0)
            return;
        r->g.depth--;
    }
    r->g.items = 0;                   /* a top-level value (a frame) ends */
}

/* A whole header is in g.hdr: check it. */
static void guard_header(ts_reader *r)
{
    const unsigned char *h = r->g.hdr;
    unsigned b = h[0];
    uint64_t n = 0, body = 0;
    int container = 0;
    if (b >= 0x80 && b <= 0x8f)      { container = 1; n = 2 * (uint64_t)(b & 0x0f); }
    else if (b >= 0x90 && b <= 0x9f) { container = 1; n = b & 0x0f; }
    else if (b >= 0xa0 && b <= 0xbf) body = b & 0x1f;
    else if (b == 0xdc || b == 0xdd) { container = 1; n = be(h + 1, b == 0xdc ? 2 : 4); }
    else if (b == 0xde || b == 0xdf) { container = 1; n = 2 * be(h + 1, b == 0xde ? 2 : 4); }
    else if (b == 0xc4 || b == 0xd9) body = h[1];
    else if (b == 0xc5 || b == 0xda) body = be(h + 1, 2);
    else if (b == 0xc6 || b == 0xdb) body = be(h + 1, 4);
    else if (b == 0xc7) body = h[1];
    else if (b == 0xc8) body = be(h + 1, 2);
    else if (b == 0xc9) body = be(h + 1, 4);
    else if (b >= 0xd4 && b <= 0xd8) body = 1 + (1u << (b - 0xd4));
    if (container) {
        if (r->g.depth >= MAX_DEPTH) {
            guard_fail(r, "corrupt stream (malformed msgpack: nested deeper than %llu levels)", MAX_DEPTH);
            return;
        }
        r->g.items += n;
        if (r->g.items > MAX_ITEMS) {
            guard_fail(r, "corrupt stream (malformed msgpack: a frame declares more than %llu array "
                          "or map entries)", MAX_ITEMS);
            return;
        }
        if (n > 0) {
            r->g.left[r->g.depth++] = (uint32_t)n;   /* n <= MAX_ITEMS */
            return;
        }
    } else if (body > TS_MAX_FRAME_BYTES) {
        guard_fail(r, "corrupt stream (a frame is larger than %llu MiB)", TS_MAX_FRAME_BYTES >> 20);
        return;
    }
    r->g.skip = body;
    guard_done(r);                    /* the body, if any, is skipped before the next header */
}

/* Pass n new bytes through the guard. Returns how many of them msgpack-c may see: all of
 * them, or on a bad header those before the header's first byte. */
static size_t guard(ts_reader *r, const unsigned char *p, size_t n)
{
    size_t i = 0, start = 0;          /* start: where the current header began in p */
    if (r->g.failed)
        return 0;
    while (i < n) {
        if (r->g.skip > 0) {
            size_t k = n - i < r->g.skip ? n - i : (size_t)r->g.skip;
            r->g.skip -= k;
            i += k;
            continue;
        }
        if (r->g.hlen == 0) {
            start = i;
            r->g.hneed = guard_hdr_len(p[i]);
        }
        r->g.hdr[r->g.hlen++] = p[i++];
        if (r->g.hlen == r->g.hneed) {
            r->g.hlen = 0;
            guard_header(r);
            if (r->g.failed)
                return start;
        }
    }
    return n;
}

/* Read more compressed input. Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t read_input(ts_reader *r)
{
    if (r->flush_w) {
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        /* A parallel writer gives its frames in flight a few ms for input to arrive before it
         * waits for them: otherwise every short gap upstream would serialise it. */
        if (poll(&p, 1, 0) == 0 && !(r->flush_w->par && poll(&p, 1, 10) > 0))
            ts_writer_flush(r->flush_w);
    }
    for (;;) {
        ssize_t n = read(r->fd, r->in, sizeof r->in);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rerr(r, "read failed: %s", strerror(errno));
        if (r->total_in == 0 && n > 0)
            r->not_gzip = r->in[0] != 0x1f || (n > 1 && r->in[1] != 0x8b);
        r->total_in += (uint64_t)n;
        return n;
    }
}

/* Decompress more bytes into the unpacker's buffer. Returns 1 if some were added,
 * 0 at the clean end of the gzip data (EOF after a complete member), -1 on error. */
static int fill(ts_reader *r)
{
    if (r->g.failed)
        return rerr(r, "%s", r->g.err);
    if (!msgpack_unpacker_reserve_buffer(&r->up, 256 * 1024))
        return rerr(r, "out of memory");
    for (;;) {
        if (r->z.avail_in == 0 && !r->eof) {
            ssize_t n = read_input(r);
            if (n < 0)
                return -1;
            if (n == 0)
                r->eof = 1;
            r->z.next_in = r->in;
            r->z.avail_in = (uInt)n;
        }
        if (r->z.avail_in == 0 && r->eof) {
            if (r->gz == GZ_START)
                return rerr(r, "empty input (no stream)");
            if (r->gz == GZ_MEMBER)
                return rerr(r, "truncated stream (compressed data ends early)");
            return 0;
        }
        if (r->gz != GZ_MEMBER) {
            if (r->gz == GZ_BETWEEN && inflateReset(&r->z) != Z_OK)
                return rerr(r, "inflate failed");
            r->gz = GZ_MEMBER;
        }
        r->z.next_out = (Bytef *)msgpack_unpacker_buffer(&r->up);
        r->z.avail_out = (uInt)msgpack_unpacker_buffer_capacity(&r->up);
        int rc = inflate(&r->z, Z_NO_FLUSH);
        size_t have = msgpack_unpacker_buffer_capacity(&r->up) - r->z.avail_out;
        size_t ok = guard(r, (const unsigned char *)msgpack_unpacker_buffer(&r->up), have);
        msgpack_unpacker_buffer_consumed(&r->up, ok);
        if (ok < have)                /* the frames before the bad header are read first */
            return ok > 0 ? 1 : rerr(r, "%s", r->g.err);
        if (rc == Z_STREAM_END) {
            r->gz = GZ_BETWEEN;
        } else if (rc == Z_DATA_ERROR) {
            if (r->not_gzip && r->streams == 0 && !r->in_stream)
                return rerr(r, "not a charpipe stream (not gzip data)");
            return rerr(r, "corrupt stream (%s)", r->z.msg ? r->z.msg : "bad compressed data");
        } else if (rc == Z_MEM_ERROR) {
            return rerr(r, "out of memory");
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return rerr(r, "inflate failed (%d)", rc);
        }
        if (have > 0)
            return 1;
    }
}

static int parse_frame(ts_reader *r, const msgpack_object *o, ts_frame *f)
{
    char msg[512];
    int rc = check_frame(o, f, r->name, msg, sizeof msg);
    if (rc == -2)
        return rerr(r, "corrupt stream (%s)", msg);
    if (rc < 0 || next_piece(&r->last, f, msg, sizeof msg) < 0)
        return rerr(r, "%s", msg);
    if (f->is_tensor && ts_dtype_size(f->dtype) > 1 && is_big_endian() && f->nbytes)
        swap_items((uint8_t *)f->data, f->nbytes, ts_dtype_size(f->dtype));
    return 0;
}

/* Check a header or end frame; returns 1 if o was one (consumed), 0 if a data frame, -1 error. */
static int control_frame(ts_reader *r, const msgpack_object *o)
{
    const msgpack_object *name = map_get(o, "name");
    int is_header = name && key_is(name, "header"), is_end = name && key_is(name, "end");
    if (!r->in_stream) {
        if (!is_header) {
            if (r->streams)
                return rerr(r, "corrupt stream (data after the end frame)");
            return rerr(r, "not a charpipe stream (no header frame)");
        }
        const msgpack_object *fmt = map_get(o, "format"), *ver = map_get(o, "version");
        if (!fmt || !key_is(fmt, TS_FORMAT))
            return rerr(r, "not a charpipe stream (header names another format)");
        if (!ver || ver->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return rerr(r, "corrupt stream (header without a version)");
        if (ver->via.u64 != TS_VERSION)
            return rerr(r, "stream version %llu is not supported (this build reads %d)",
                        (unsigned long long)ver->via.u64, TS_VERSION);
        r->in_stream = 1;
        r->frames = 0;
        return 1;
    }
    if (is_header)
        return rerr(r, "corrupt stream (header frame inside a stream)");
    if (is_end) {
        const msgpack_object *n = map_get(o, "frames");
        if (n && (n->type != MSGPACK_OBJECT_POSITIVE_INTEGER || n->via.u64 != r->frames))
            return rerr(r, "corrupt stream (end frame counts %llu frames, %llu were read)",
                        n->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (unsigned long long)n->via.u64 : 0ULL,
                        (unsigned long long)r->frames);
        r->in_stream = 0;
        r->streams++;
        return 1;
    }
    return 0;
}

int ts_read(ts_reader *r, ts_frame *f)
{
    if (r->failed)
        return -1;
    for (;;) {
        msgpack_unpack_return rc = msgpack_unpacker_next(&r->up, &r->result);
        if (rc == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *o = &r->result.data;
            if (o->type != MSGPACK_OBJECT_MAP)
                return rerr(r, "corrupt stream (a frame is not a map)");
            int c = control_frame(r, o);
            if (c < 0)
                return -1;
            if (c > 0)
                continue;
            if (parse_frame(r, o, f) < 0)
                return -1;
            r->frames++;
            return 1;
        }
        if (rc != MSGPACK_UNPACK_CONTINUE)
            return rerr(r, "corrupt stream (malformed msgpack%s)",
                        rc == MSGPACK_UNPACK_NOMEM_ERROR ? ": too large or too deep" : "");
        if (msgpack_unpacker_message_size(&r->up) > TS_MAX_FRAME_BYTES)
            return rerr(r, "corrupt stream (a frame is larger than %zu MiB)", TS_MAX_FRAME_BYTES >> 20);
        int got = fill(r);
        if (got < 0)
            return -1;
        if (got == 0) {
            if (msgpack_unpacker_message_size(&r->up) > 0)
                return rerr(r, "truncated stream (a frame is cut off)");
            if (r->in_stream)
                return rerr(r, "truncated stream (no end frame)");
            if (r->streams == 0)
                return rerr(r, "empty stream (no header)");
            return 0;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Attributes                                                                                 */

const msgpack_object *ts_attr(const ts_frame *f, const char *key) { return map_get(f->attrs, key); }

int ts_attr_int(const ts_frame *f, const char *key, int64_t *out)
{
    const msgpack_object *v = ts_attr(f, key);
    if (!v)
        return 0;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        *out = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = v->via.i64;
    else if (v->type == MSGPACK_OBJECT_BOOLEAN)
        *out = v->via.boolean;
    else
        return -1;
    return 1;
}

int ts_attr_num(const ts_frame *f, const char *key, double *out)
{
    const msgpack_object *v = ts_attr(f, key);
    if (!v)
        return 0;
    if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
        *out = v->via.f64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = (double)v->via.i64;
    else
        return -1;
    return 1;
}

int ts_attr_str(const ts_frame *f, const char *key, char *buf, size_t cap)
{
    const msgpack_object *v = ts_attr(f, key);
    if (!v)
        return 0;
    if (v->type != MSGPACK_OBJECT_STR || cap == 0)
        return -1;
    size_t n = v->via.str.size < cap - 1 ? v->via.str.size : cap - 1;
    memcpy(buf, v->via.str.ptr, n);
    buf[n] = 0;
    return 1;
}
