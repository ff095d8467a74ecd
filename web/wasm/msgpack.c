/* msgpack.c - MessagePack reading and writing for the WebAssembly build: what lib/ts.c uses
 * of msgpack-c's interface (msgpack.h here), written from the format's specification.
 *
 * msgpack_unpacker_next first walks the bytes it has (scan): is a whole object there, how
 * many array items and map pairs does it hold, is it well-formed. Only then are its objects
 * made (make), in room the unpacker keeps for the last object, so nothing is allocated for
 * what a header merely declares. An object not yet all there is walked again from its start
 * when more bytes have come: cheap for the reader's frames, which hold few objects (lib/ts.c's
 * guard allows 65536) and whose str and bin bodies are stepped over.
 */
#include <stdlib.h>
#include <string.h>
#include "msgpack.h"

#define MAX_DEPTH 32                  /* containers open at once (a 33rd: NOMEM_ERROR, as msgpack-c) */

/* What a value's header says. */
typedef struct head {
    msgpack_object_type type;
    size_t hlen;                      /* bytes of the header */
    uint64_t body;                    /* str, bin, ext: bytes after the header */
    uint64_t n;                       /* array: items; map: pairs */
    int8_t ext_type;
    msgpack_object_union v;           /* nil, boolean, integers, floats */
} head;

static uint64_t be(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header of the value at p (avail bytes there) in *h: 1; 0 when it is not all there;
 * -1 for the byte 0xc1, which the format never uses. */
static int read_head(const unsigned char *p, size_t avail, head *h)
{
    if (avail == 0)
        return 0;
    unsigned b = p[0];
    int k = 0;                        /* bytes of the number after the first byte */
    memset(h, 0, sizeof *h);
    if (b <= 0x7f) {                  /* positive fixint */
        h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        h->v.u64 = b;
    } else if (b >= 0xe0) {           /* negative fixint */
        h->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        h->v.i64 = (int64_t)b - 256;
    } else if (b <= 0x8f) {
        h->type = MSGPACK_OBJECT_MAP;
        h->n = b & 0x0f;
    } else if (b <= 0x9f) {
        h->type = MSGPACK_OBJECT_ARRAY;
        h->n = b & 0x0f;
    } else if (b <= 0xbf) {
        h->type = MSGPACK_OBJECT_STR;
        h->body = b & 0x1f;
    } else if (b == 0xc0) {
        h->type = MSGPACK_OBJECT_NIL;
    } else if (b == 0xc1) {
        return -1;
    } else if (b <= 0xc3) {
        h->type = MSGPACK_OBJECT_BOOLEAN;
        h->v.boolean = b == 0xc3;
    } else if (b <= 0xc6) {           /* bin 8/16/32 */
        h->type = MSGPACK_OBJECT_BIN;
        k = 1 << (b - 0xc4);
    } else if (b <= 0xc9) {           /* ext 8/16/32: length, then the type byte */
        h->type = MSGPACK_OBJECT_EXT;
        k = 1 << (b - 0xc7);
    } else if (b <= 0xcb) {
        h->type = b == 0xca ? MSGPACK_OBJECT_FLOAT32 : MSGPACK_OBJECT_FLOAT64;
        k = b == 0xca ? 4 : 8;
    } else if (b <= 0xd3) {           /* uint 8..64, int 8..64 */
        h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        k = 1 << ((b - 0xcc) & 3);
    } else if (b <= 0xd8) {           /* fixext 1..16: the type byte, then the data */
        h->type = MSGPACK_OBJECT_EXT;
        h->body = 1u << (b - 0xd4);
    } else if (b <= 0xdb) {
        h->type = MSGPACK_OBJECT_STR;
        k = 1 << (b - 0xd9);
    } else {                          /* array 16/32, map 16/32 */
        h->type = b <= 0xdd ? MSGPACK_OBJECT_ARRAY : MSGPACK_OBJECT_MAP;
        k = b & 1 ? 4 : 2;
    }
    h->hlen = 1 + (size_t)k + (h->type == MSGPACK_OBJECT_EXT);
    if (avail < h->hlen)
        return 0;
    uint64_t x = be(p + 1, k);
    if (h->type == MSGPACK_OBJECT_EXT)
        h->ext_type = (int8_t)p[h->hlen - 1];
    if (k == 0)
        return 1;
    if (b <= 0xc9 || b >= 0xd9) {     /* sizes */
        if (h->type == MSGPACK_OBJECT_ARRAY || h->type == MSGPACK_OBJECT_MAP)
            h->n = x;
        else
            h->body = x;
    } else if (b == 0xca) {
        uint32_t u = (uint32_t)x;
        float f;
        memcpy(&f, &u, sizeof f);
        h->v.f64 = f;
    } else if (b == 0xcb) {
        memcpy(&h->v.f64, &x, sizeof x);
    } else if (b >= 0xd0 && x >> (8 * k - 1)) {   /* a negative int: sign-extend */
        h->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        h->v.i64 = (int64_t)(x | (k < 8 ? ~0ULL << 8 * k : 0));
    } else {
        h->v.u64 = x;
    }
    return 1;
}

/* Walk the value at p (avail bytes there): 1, its length and the array items and map pairs
 * in it; 0 when it is not all there; -1 for 0xc1; -2 when nested deeper than MAX_DEPTH. */
static int scan(const unsigned char *p, size_t avail, size_t *len, size_t *nitems, size_t *npairs)
{
    uint64_t left[MAX_DEPTH];         /* values still to come in each open container */
    int depth = 0, rc;
    size_t at = 0;
    *nitems = *npairs = 0;
    for (;;) {
        head h;
        if ((rc = read_head(p + at, avail - at, &h)) <= 0)
            return rc;
        at += h.hlen;
        if (h.body > avail - at)
            return 0;
        at += (size_t)h.body;
        if (h.type == MSGPACK_OBJECT_ARRAY || h.type == MSGPACK_OBJECT_MAP) {
            if (depth == MAX_DEPTH)
                return -2;
            if (h.n > 0) {
                *(h.type == MSGPACK_OBJECT_ARRAY ? nitems : npairs) += (size_t)h.n;
                left[depth++] = h.type == MSGPACK_OBJECT_MAP ? 2 * h.n : h.n;
                continue;
            }
        }
        while (depth > 0 && --left[depth - 1] == 0)   /* the value completes containers */
            depth--;
        if (depth == 0) {
            *len = at;
            return 1;
        }
    }
}

/* Make the value at p (scan found it whole) in *o, its items and pairs taken from u's room
 * from *ni and *np on. Returns where the value ends. */
static const unsigned char *make(msgpack_unpacker *u, const unsigned char *p, msgpack_object *o,
                                 size_t *ni, size_t *np)
{
    head h;
    read_head(p, (size_t)-1, &h);
    p += h.hlen;
    o->type = h.type;
    o->via = h.v;
    switch (h.type) {
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:          /* (str and bin have the same layout) */
        o->via.str.size = (uint32_t)h.body;
        o->via.str.ptr = (const char *)p;
        break;
    case MSGPACK_OBJECT_EXT:
        o->via.ext.type = h.ext_type;
        o->via.ext.size = (uint32_t)h.body;
        o->via.ext.ptr = (const char *)p;
        break;
    case MSGPACK_OBJECT_ARRAY:
        o->via.array.size = (uint32_t)h.n;
        o->via.array.ptr = h.n ? u->items + *ni : NULL;
        *ni += (size_t)h.n;
        for (uint32_t i = 0; i < h.n; i++)
            p = make(u, p, &o->via.array.ptr[i], ni, np);
        break;
    case MSGPACK_OBJECT_MAP:
        o->via.map.size = (uint32_t)h.n;
        o->via.map.ptr = h.n ? u->pairs + *np : NULL;
        *np += (size_t)h.n;
        for (uint32_t i = 0; i < h.n; i++) {
            p = make(u, p, &o->via.map.ptr[i].key, ni, np);
            p = make(u, p, &o->via.map.ptr[i].val, ni, np);
        }
        break;
    default:
        break;
    }
    return p + h.body;
}

bool msgpack_unpacker_init(msgpack_unpacker *u, size_t initial_buffer_size)
{
    memset(u, 0, sizeof *u);
    u->cap = initial_buffer_size > 64 ? initial_buffer_size : 64;
    u->buf = malloc(u->cap);
    return u->buf != NULL;
}

void msgpack_unpacker_destroy(msgpack_unpacker *u)
{
    free(u->buf);
    free(u->items);
    free(u->pairs);
    memset(u, 0, sizeof *u);
}

/* Room for size more bytes: the bytes not yet returned move to the start of the buffer,
 * which doubles until they and size fit. */
bool msgpack_unpacker_reserve_buffer(msgpack_unpacker *u, size_t size)
{
    if (u->cap - u->used >= size)
        return true;
    size_t keep = u->used - u->off, cap = u->cap;
    memmove(u->buf, u->buf + u->off, keep);
    u->off = 0;
    u->used = keep;
    while (cap - keep < size) {
        if (cap > (size_t)-1 / 2)
            return false;
        cap *= 2;
    }
    if (cap != u->cap) {
        char *b = realloc(u->buf, cap);
        if (!b)
            return false;
        u->buf = b;
        u->cap = cap;
    }
    return true;
}

msgpack_unpack_return msgpack_unpacker_next(msgpack_unpacker *u, msgpack_unpacked *result)
{
    const unsigned char *p = (const unsigned char *)u->buf + u->off;
    size_t len, ni, np;
    int rc = scan(p, u->used - u->off, &len, &ni, &np);
    if (rc <= 0)
        return rc == 0 ? MSGPACK_UNPACK_CONTINUE : rc == -1 ? MSGPACK_UNPACK_PARSE_ERROR
                                                           : MSGPACK_UNPACK_NOMEM_ERROR;
    if (ni > u->nitems) {
        free(u->items);
        u->nitems = 0;
        if (!(u->items = malloc(ni * sizeof *u->items)))
            return MSGPACK_UNPACK_NOMEM_ERROR;
        u->nitems = ni;
    }
    if (np > u->npairs) {
        free(u->pairs);
        u->npairs = 0;
        if (!(u->pairs = malloc(np * sizeof *u->pairs)))
            return MSGPACK_UNPACK_NOMEM_ERROR;
        u->npairs = np;
    }
    ni = np = 0;
    make(u, p, &result->data, &ni, &np);
    u->off += len;
    return MSGPACK_UNPACK_SUCCESS;
}

/* ---- writing: every value in its smallest form ---- */

static int out(msgpack_packer *pk, const void *b, size_t n)
{
    return pk->callback(pk->data, (const char *)b, n) ? -1 : 0;
}

/* A first byte, then v as a big-endian number of k bytes. */
static int out_head(msgpack_packer *pk, unsigned first, uint64_t v, int k)
{
    unsigned char h[9];
    h[0] = (unsigned char)first;
    for (int i = 0; i < k; i++)
        h[1 + i] = (unsigned char)(v >> 8 * (k - 1 - i));
    return out(pk, h, 1 + (size_t)k);
}

/* A length n after the first byte first8 (n < 256), first8 + 1 (n < 65536) or first8 + 2. */
static int out_len(msgpack_packer *pk, size_t n, unsigned first8)
{
    return n < 256 ? out_head(pk, first8, n, 1) : n < 65536 ? out_head(pk, first8 + 1, n, 2)
                                                            : out_head(pk, first8 + 2, n, 4);
}

/* A count n in the first byte (fix | n, n < 16), or after first16 (n < 65536) or first16 + 1. */
static int out_count(msgpack_packer *pk, size_t n, unsigned fix, unsigned first16)
{
    return n < 16 ? out_head(pk, fix | (unsigned)n, 0, 0) : n < 65536 ? out_head(pk, first16, n, 2)
                                                                      : out_head(pk, first16 + 1, n, 4);
}

int msgpack_pack_nil(msgpack_packer *pk) { return out_head(pk, 0xc0, 0, 0); }
int msgpack_pack_true(msgpack_packer *pk) { return out_head(pk, 0xc3, 0, 0); }
int msgpack_pack_false(msgpack_packer *pk) { return out_head(pk, 0xc2, 0, 0); }

int msgpack_pack_uint64(msgpack_packer *pk, uint64_t v)
{
    return v < 128 ? out_head(pk, (unsigned)v, 0, 0) : v < 256 ? out_head(pk, 0xcc, v, 1)
         : v < 65536 ? out_head(pk, 0xcd, v, 2) : v >> 32 == 0 ? out_head(pk, 0xce, v, 4)
         : out_head(pk, 0xcf, v, 8);
}

int msgpack_pack_int64(msgpack_packer *pk, int64_t v)
{
    uint64_t u = (uint64_t)v;         /* (the low bytes of two's complement) */
    return v >= 0 ? msgpack_pack_uint64(pk, u) : v >= -32 ? out_head(pk, (unsigned)(u & 0xff), 0, 0)
         : v >= -128 ? out_head(pk, 0xd0, u, 1) : v >= -32768 ? out_head(pk, 0xd1, u, 2)
         : v >= INT32_MIN ? out_head(pk, 0xd2, u, 4) : out_head(pk, 0xd3, u, 8);
}

int msgpack_pack_float(msgpack_packer *pk, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return out_head(pk, 0xca, u, 4);
}

int msgpack_pack_double(msgpack_packer *pk, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return out_head(pk, 0xcb, u, 8);
}

int msgpack_pack_str(msgpack_packer *pk, size_t n)
{
    return n < 32 ? out_head(pk, 0xa0 | (unsigned)n, 0, 0) : out_len(pk, n, 0xd9);
}
int msgpack_pack_str_body(msgpack_packer *pk, const void *b, size_t n) { return out(pk, b, n); }
int msgpack_pack_str_with_body(msgpack_packer *pk, const void *b, size_t n)
{
    return msgpack_pack_str(pk, n) < 0 ? -1 : out(pk, b, n);
}
int msgpack_pack_bin(msgpack_packer *pk, size_t n) { return out_len(pk, n, 0xc4); }
int msgpack_pack_bin_body(msgpack_packer *pk, const void *b, size_t n) { return out(pk, b, n); }
int msgpack_pack_array(msgpack_packer *pk, size_t n) { return out_count(pk, n, 0x90, 0xdc); }
int msgpack_pack_map(msgpack_packer *pk, size_t n) { return out_count(pk, n, 0x80, 0xde); }

/* An ext header: fixext 1, 2, 4, 8, 16 or ext 8/16/32, then the type byte. */
static int pack_ext(msgpack_packer *pk, size_t n, int8_t type)
{
    int fix = n == 1 ? 0xd4 : n == 2 ? 0xd5 : n == 4 ? 0xd6 : n == 8 ? 0xd7 : n == 16 ? 0xd8 : 0;
    unsigned char t = (unsigned char)type;
    if ((fix ? out_head(pk, (unsigned)fix, 0, 0) : out_len(pk, n, 0xc7)) < 0)
        return -1;
    return out(pk, &t, 1);
}

int msgpack_pack_object(msgpack_packer *pk, msgpack_object o)
{
    int rc = 0;
    switch (o.type) {
    case MSGPACK_OBJECT_NIL: return msgpack_pack_nil(pk);
    case MSGPACK_OBJECT_BOOLEAN: return o.via.boolean ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return msgpack_pack_uint64(pk, o.via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return msgpack_pack_int64(pk, o.via.i64);
    case MSGPACK_OBJECT_FLOAT32: return msgpack_pack_float(pk, (float)o.via.f64);
    case MSGPACK_OBJECT_FLOAT64: return msgpack_pack_double(pk, o.via.f64);
    case MSGPACK_OBJECT_STR: return msgpack_pack_str_with_body(pk, o.via.str.ptr, o.via.str.size);
    case MSGPACK_OBJECT_BIN:
        return msgpack_pack_bin(pk, o.via.bin.size) < 0 ? -1 : out(pk, o.via.bin.ptr, o.via.bin.size);
    case MSGPACK_OBJECT_EXT:
        return pack_ext(pk, o.via.ext.size, o.via.ext.type) < 0 ? -1 : out(pk, o.via.ext.ptr, o.via.ext.size);
    case MSGPACK_OBJECT_ARRAY:
        rc = msgpack_pack_array(pk, o.via.array.size);
        for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++)
            rc = msgpack_pack_object(pk, o.via.array.ptr[i]);
        return rc;
    case MSGPACK_OBJECT_MAP:
        rc = msgpack_pack_map(pk, o.via.map.size);
        for (uint32_t i = 0; rc == 0 && i < o.via.map.size; i++)
            if ((rc = msgpack_pack_object(pk, o.via.map.ptr[i].key)) == 0)
                rc = msgpack_pack_object(pk, o.via.map.ptr[i].val);
        return rc;
    }
    return -1;
}
