/* wasm_io.h - what tests/test_wasm_io.c runs on both gzip decoders and both MessagePack
 * readers and writers. Included twice, after each implementation's headers: by test_wasm_io.c
 * after Debian's <zlib.h> and <msgpack.h>, its functions named ref_NAME, and by
 * tests/wasm_own.c after web/wasm's zlib.h and msgpack.h, named own_NAME. So both get the
 * same calls in the same order, and their results can be compared byte for byte.
 *
 * Input is handed over in allocations of exactly its size, so that AddressSanitizer (make
 * check-san) sees a read past it. */
#ifndef WASM_IO_RESULT
#define WASM_IO_RESULT
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a run gave: its output (inflate: the data; unpack: each object as text, then packed
 * again; pack: the bytes), and how it ended. */
typedef struct io_result {
    char *p;
    size_t n, cap;
    int end;                          /* IO_* */
    int members;                      /* inflate: members begun (gzip, zlib: concatenated) */
    char msg[96];                     /* IO_ERROR: why */
} io_result;

enum { IO_END, IO_EMPTY, IO_TRUNCATED, IO_ERROR };

static void io_put(io_result *r, const void *p, size_t n)
{
    if (r->n + n > r->cap) {
        r->cap = 2 * (r->n + n) + 256;
        if (!(r->p = realloc(r->p, r->cap)))
            abort();
    }
    if (n)
        memcpy(r->p + r->n, p, n);
    r->n += n;
}

__attribute__((format(printf, 2, 3)))
static void io_printf(io_result *r, const char *fmt, ...)
{
    char s[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    io_put(r, s, k < (int)sizeof s ? (size_t)k : sizeof s - 1);
}

/* A copy of p[0..n) in an allocation of exactly n bytes (one when n is 0). */
static uint8_t *io_exact(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}
#endif

/* in[0..n) decoded as lib/ts.c's reader decodes a stream: inflateInit2(wbits), input in
 * pieces of ichunk bytes, room for ochunk bytes at a time, inflateReset after the end of a
 * member when input is left. */
void IO_NAME(inflate_all)(const uint8_t *in, size_t n, int wbits, size_t ichunk, size_t ochunk,
                          io_result *r)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    r->n = 0;
    r->members = 0;
    r->msg[0] = 0;
    if (inflateInit2(&z, wbits) != Z_OK) {
        r->end = IO_ERROR;
        snprintf(r->msg, sizeof r->msg, "inflateInit2 refused %d", wbits);
        return;
    }
    uint8_t *room = malloc(ochunk), *piece = NULL;
    size_t pos = 0;
    int state = 0, more = 0;          /* state: 0 nothing yet, 1 in a member, 2 after one */
    for (;;) {
        if (z.avail_in == 0 && pos < n) {
            size_t k = n - pos < ichunk ? n - pos : ichunk;
            free(piece);
            piece = io_exact(in + pos, k);
            z.next_in = piece;
            z.avail_in = (uInt)k;
            pos += k;
        }
        if (z.avail_in == 0 && pos == n && (state != 1 || !more)) {
            r->end = state == 0 ? IO_EMPTY : state == 1 ? IO_TRUNCATED : IO_END;
            break;
        }
        if (state != 1) {
            if (state == 2)
                inflateReset(&z);
            state = 1;
            r->members++;
        }
        if (!z.next_in)
            z.next_in = room;         /* (nothing to read, but not NULL) */
        uInt had = z.avail_in;
        z.next_out = room;
        z.avail_out = (uInt)ochunk;
        int rc = inflate(&z, Z_NO_FLUSH);
        size_t got = ochunk - z.avail_out;
        io_put(r, room, got);
        more = got > 0;
        if (rc == Z_STREAM_END) {
            state = 2;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            r->end = IO_ERROR;
            snprintf(r->msg, sizeof r->msg, "%d %s", rc, rc == Z_DATA_ERROR && z.msg ? z.msg : "");
            break;
        } else if (got == 0 && had > 0 && z.avail_in == had) {
            r->end = IO_ERROR;
            snprintf(r->msg, sizeof r->msg, "stuck: input and room, but no progress");
            break;
        }
    }
    inflateEnd(&z);
    free(room);
    free(piece);
}

/* What inflateInit2(wbits) returns (the stream ended again). */
int IO_NAME(init_rc)(int wbits)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    int rc = inflateInit2(&z, wbits);
    if (rc == Z_OK)
        inflateEnd(&z);
    return rc;
}

/* An object as text: its type and value, floats as their bits, strings as their bytes. */
static void IO_NAME(text)(io_result *r, const msgpack_object *o)
{
    uint64_t bits;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: io_printf(r, "nil"); break;
    case MSGPACK_OBJECT_BOOLEAN: io_printf(r, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: io_printf(r, "u%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: io_printf(r, "i%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        memcpy(&bits, &o->via.f64, sizeof bits);
        io_printf(r, "f%d:%016llx", o->type == MSGPACK_OBJECT_FLOAT32 ? 32 : 64, (unsigned long long)bits);
        break;
    case MSGPACK_OBJECT_STR: io_printf(r, "s%u:", o->via.str.size); io_put(r, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: io_printf(r, "b%u:", o->via.bin.size); io_put(r, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_EXT:
        io_printf(r, "e%d,%u:", o->via.ext.type, o->via.ext.size);
        io_put(r, o->via.ext.ptr, o->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        io_printf(r, "[%u", o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            io_printf(r, " ");
            IO_NAME(text)(r, &o->via.array.ptr[i]);
        }
        io_printf(r, "]");
        break;
    case MSGPACK_OBJECT_MAP:
        io_printf(r, "{%u", o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            io_printf(r, " ");
            IO_NAME(text)(r, &o->via.map.ptr[i].key);
            io_printf(r, ":");
            IO_NAME(text)(r, &o->via.map.ptr[i].val);
        }
        io_printf(r, "}");
        break;
    default: io_printf(r, "type %d?", (int)o->type); break;
    }
}

static int IO_NAME(to_result)(void *data, const char *p, size_t n)
{
    io_put(data, p, n);
    return 0;
}

/* in[0..n) read as lib/ts.c's reader reads frames: fed to an unpacker ichunk bytes at a
 * time, every whole object taken. Each object as text, then packed again
 * (msgpack_pack_object). Ends at the first error, or at the end of the input (truncated
 * when part of an object is left). */
void IO_NAME(unpack_all)(const uint8_t *in, size_t n, size_t ichunk, io_result *r)
{
    msgpack_unpacker u;
    msgpack_unpacked res;
    msgpack_packer pk;
    r->n = 0;
    r->msg[0] = 0;
    r->end = IO_END;
    if (!msgpack_unpacker_init(&u, 128))
        abort();
    msgpack_unpacked_init(&res);
    msgpack_packer_init(&pk, r, IO_NAME(to_result));
    for (size_t pos = 0;;) {
        msgpack_unpack_return rc = msgpack_unpacker_next(&u, &res);
        if (rc == MSGPACK_UNPACK_SUCCESS) {
            IO_NAME(text)(r, &res.data);
            io_printf(r, " = ");
            if (msgpack_pack_object(&pk, res.data) != 0)
                io_printf(r, "(pack_object failed)");
            io_printf(r, "\n");
            continue;
        }
        if (rc != MSGPACK_UNPACK_CONTINUE) {
            r->end = IO_ERROR;
            snprintf(r->msg, sizeof r->msg, "%s", rc == MSGPACK_UNPACK_PARSE_ERROR ? "parse error"
                     : rc == MSGPACK_UNPACK_NOMEM_ERROR ? "no memory (or too deep)" : "unexpected return");
            break;
        }
        if (pos == n) {
            r->end = msgpack_unpacker_message_size(&u) > 0 ? IO_TRUNCATED : IO_END;
            break;
        }
        size_t k = n - pos < ichunk ? n - pos : ichunk;
        if (!msgpack_unpacker_reserve_buffer(&u, k))
            abort();
        memcpy(msgpack_unpacker_buffer(&u), in + pos, k);
        msgpack_unpacker_buffer_consumed(&u, k);
        pos += k;
    }
    msgpack_unpacked_destroy(&res);
    msgpack_unpacker_destroy(&u);
}

/* Each of v[0..n) packed by every packing call lib/ts.c makes that takes a number: the
 * integers, the floats, and as the length of a str, a bin, an array and a map (headers
 * alone), then nil, true, false and a str and a bin with their bodies. */
void IO_NAME(pack_values)(const int64_t *v, size_t n, io_result *r)
{
    msgpack_packer pk;
    r->n = 0;
    msgpack_packer_init(&pk, r, IO_NAME(to_result));
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)v[i];
        msgpack_pack_uint64(&pk, (uint64_t)v[i]);
        msgpack_pack_int64(&pk, v[i]);
        msgpack_pack_double(&pk, (double)v[i]);
        msgpack_pack_float(&pk, (float)v[i]);
        msgpack_pack_str(&pk, len);
        msgpack_pack_bin(&pk, len);
        msgpack_pack_array(&pk, len);
        msgpack_pack_map(&pk, len);
    }
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_str_with_body(&pk, "dtype", 5);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
}
