/* wasm_own.c - web/wasm's gzip decoder and MessagePack reader and writer, as the page builds
 * them, built for this machine beside Debian's zlib and libmsgpack-c: every function they
 * define is renamed own_NAME here, so that tests/test_wasm_io.c links both implementations
 * and runs the same driver (tests/wasm_io.h, as own_NAME) over each. (The Makefile checks
 * that this object defines nothing else: a name left out would take the place of Debian's.)
 */
#define inflateInit2 own_inflateInit2
#define inflate own_inflate
#define inflateReset own_inflateReset
#define inflateEnd own_inflateEnd
#define msgpack_unpacker_init own_msgpack_unpacker_init
#define msgpack_unpacker_destroy own_msgpack_unpacker_destroy
#define msgpack_unpacker_reserve_buffer own_msgpack_unpacker_reserve_buffer
#define msgpack_unpacker_next own_msgpack_unpacker_next
#define msgpack_pack_nil own_msgpack_pack_nil
#define msgpack_pack_true own_msgpack_pack_true
#define msgpack_pack_false own_msgpack_pack_false
#define msgpack_pack_uint64 own_msgpack_pack_uint64
#define msgpack_pack_int64 own_msgpack_pack_int64
#define msgpack_pack_float own_msgpack_pack_float
#define msgpack_pack_double own_msgpack_pack_double
#define msgpack_pack_str own_msgpack_pack_str
#define msgpack_pack_str_body own_msgpack_pack_str_body
#define msgpack_pack_str_with_body own_msgpack_pack_str_with_body
#define msgpack_pack_bin own_msgpack_pack_bin
#define msgpack_pack_bin_body own_msgpack_pack_bin_body
#define msgpack_pack_array own_msgpack_pack_array
#define msgpack_pack_map own_msgpack_pack_map
#define msgpack_pack_object own_msgpack_pack_object

#include "../web/wasm/inflate.c"
#include "../web/wasm/msgpack.c"

#define IO_NAME(name) own_##name
#include "wasm_io.h"
