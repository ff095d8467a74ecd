/* msgpack.h for the WebAssembly build (make wasm): the part of msgpack-c's C interface that
 * lib/ts.c compiles against, over charpipe's own MessagePack reader and writer (msgpack.c
 * beside this file, written from the format's specification,
 * https://github.com/msgpack/msgpack/blob/master/spec.md). Debian ships msgpack-c for the
 * machine only.
 *
 * Reading, as msgpack-c's unpacker: reserve room (msgpack_unpacker_reserve_buffer), write the
 * bytes at msgpack_unpacker_buffer (up to its capacity), say how many
 * (msgpack_unpacker_buffer_consumed), then take whole objects with msgpack_unpacker_next:
 * MSGPACK_UNPACK_SUCCESS and the object in result->data, MSGPACK_UNPACK_CONTINUE when the
 * next object is not all there (msgpack_unpacker_message_size: its bytes so far),
 * MSGPACK_UNPACK_PARSE_ERROR on the byte 0xc1, MSGPACK_UNPACK_NOMEM_ERROR when nested deeper
 * than 32 containers or out of memory. An object, its strings and binaries point into the
 * unpacker and stay valid until the next msgpack_unpacker_next (or reserve, or destroy).
 * Types as msgpack-c gives them: any integer >= 0 is POSITIVE_INTEGER (u64), a negative one
 * NEGATIVE_INTEGER (i64), a float 32 is FLOAT32 with its value in f64.
 *
 * Writing: a packer over a write callback, packing each value in its smallest form, as
 * msgpack-c does. tests/test_wasm_io.c checks both against Debian's libmsgpack-c.
 */
#ifndef CHARPIPE_WASM_MSGPACK_H
#define CHARPIPE_WASM_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MSGPACK_OBJECT_NIL,
    MSGPACK_OBJECT_BOOLEAN,
    MSGPACK_OBJECT_POSITIVE_INTEGER,
    MSGPACK_OBJECT_NEGATIVE_INTEGER,
    MSGPACK_OBJECT_FLOAT32,
    MSGPACK_OBJECT_FLOAT64,
    MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_ARRAY,
    MSGPACK_OBJECT_MAP,
    MSGPACK_OBJECT_BIN,
    MSGPACK_OBJECT_EXT
} msgpack_object_type;

typedef struct msgpack_object msgpack_object;
typedef struct msgpack_object_kv msgpack_object_kv;

typedef struct { uint32_t size; msgpack_object *ptr; } msgpack_object_array;
typedef struct { uint32_t size; msgpack_object_kv *ptr; } msgpack_object_map;
typedef struct { uint32_t size; const char *ptr; } msgpack_object_str;
typedef struct { uint32_t size; const char *ptr; } msgpack_object_bin;
typedef struct { int8_t type; uint32_t size; const char *ptr; } msgpack_object_ext;

typedef union {
    bool boolean;
    uint64_t u64;
    int64_t i64;
    double f64;
    msgpack_object_array array;
    msgpack_object_map map;
    msgpack_object_str str;
    msgpack_object_bin bin;
    msgpack_object_ext ext;
} msgpack_object_union;

struct msgpack_object {
    msgpack_object_type type;
    msgpack_object_union via;
};

struct msgpack_object_kv {
    msgpack_object key;
    msgpack_object val;
};

/* ---- reading ---- */

typedef enum {
    MSGPACK_UNPACK_SUCCESS = 2,
    MSGPACK_UNPACK_EXTRA_BYTES = 1,
    MSGPACK_UNPACK_CONTINUE = 0,
    MSGPACK_UNPACK_PARSE_ERROR = -1,
    MSGPACK_UNPACK_NOMEM_ERROR = -2
} msgpack_unpack_return;

typedef struct msgpack_unpacker {
    char *buf;                        /* buf[off..used): bytes not yet returned as objects */
    size_t off, used, cap;
    msgpack_object *items;            /* the last object's array items ... */
    msgpack_object_kv *pairs;         /* ... and map pairs */
    size_t nitems, npairs;            /* (room for) */
} msgpack_unpacker;

typedef struct msgpack_unpacked {
    msgpack_object data;
} msgpack_unpacked;

bool msgpack_unpacker_init(msgpack_unpacker *u, size_t initial_buffer_size);
void msgpack_unpacker_destroy(msgpack_unpacker *u);
bool msgpack_unpacker_reserve_buffer(msgpack_unpacker *u, size_t size);
msgpack_unpack_return msgpack_unpacker_next(msgpack_unpacker *u, msgpack_unpacked *result);

static inline char *msgpack_unpacker_buffer(msgpack_unpacker *u) { return u->buf + u->used; }
static inline size_t msgpack_unpacker_buffer_capacity(const msgpack_unpacker *u) { return u->cap - u->used; }
static inline void msgpack_unpacker_buffer_consumed(msgpack_unpacker *u, size_t n) { u->used += n; }
static inline size_t msgpack_unpacker_message_size(const msgpack_unpacker *u) { return u->used - u->off; }
static inline void msgpack_unpacked_init(msgpack_unpacked *r) { r->data.type = MSGPACK_OBJECT_NIL; }
static inline void msgpack_unpacked_destroy(msgpack_unpacked *r) { (void)r; }

/* ---- writing ---- */

/* Called with each piece of packed bytes; non-zero: the packing call returns -1. */
typedef int (*msgpack_packer_write)(void *data, const char *buf, size_t len);

typedef struct msgpack_packer {
    void *data;
    msgpack_packer_write callback;
} msgpack_packer;

static inline void msgpack_packer_init(msgpack_packer *pk, void *data, msgpack_packer_write callback)
{
    pk->data = data;
    pk->callback = callback;
}

/* 0, or -1 when the callback failed. */
int msgpack_pack_nil(msgpack_packer *pk);
int msgpack_pack_true(msgpack_packer *pk);
int msgpack_pack_false(msgpack_packer *pk);
int msgpack_pack_uint64(msgpack_packer *pk, uint64_t v);
int msgpack_pack_int64(msgpack_packer *pk, int64_t v);
int msgpack_pack_float(msgpack_packer *pk, float v);
int msgpack_pack_double(msgpack_packer *pk, double v);
int msgpack_pack_str(msgpack_packer *pk, size_t n);
int msgpack_pack_str_body(msgpack_packer *pk, const void *b, size_t n);
int msgpack_pack_str_with_body(msgpack_packer *pk, const void *b, size_t n);
int msgpack_pack_bin(msgpack_packer *pk, size_t n);
int msgpack_pack_bin_body(msgpack_packer *pk, const void *b, size_t n);
int msgpack_pack_array(msgpack_packer *pk, size_t n);
int msgpack_pack_map(msgpack_packer *pk, size_t n);
int msgpack_pack_object(msgpack_packer *pk, msgpack_object o);

#endif
