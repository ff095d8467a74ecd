/* zlib.h for the WebAssembly build (make wasm): the part of zlib's interface that lib/ts.c
 * compiles against, over charpipe's own gzip decoder (inflate.c beside this file). Debian
 * ships zlib for the machine only, and the page needs nothing of it but the reader's calls:
 *
 *     inflateInit2(strm, 15 + 16)   a gzip (RFC 1952) decoder, as lib/ts.c asks; 15: zlib
 *                                   (RFC 1950), -15: raw deflate; other windowBits:
 *                                   Z_STREAM_ERROR
 *     inflate(strm, flush)          decode what next_in/avail_in hold into next_out/avail_out;
 *                                   Z_STREAM_END at the end of a member (its CRC-32 and length,
 *                                   or Adler-32, checked), Z_OK or Z_BUF_ERROR (no progress)
 *                                   when more input or room is needed, Z_DATA_ERROR with msg
 *                                   set, Z_NEED_DICT for a zlib stream with a preset dictionary
 *                                   (not supported: zlib without the dictionary does the same)
 *     inflateReset(strm)            ready for the next member
 *     inflateEnd(strm)
 *
 * Same names, constants and error messages as zlib, so that lib/ts.c and the page report
 * what the tools report. The page never writes a stream: the deflate calls fail
 * (zlib_deflate.c). tests/test_wasm_io.c checks the decoder against Debian's zlib.
 */
#ifndef CHARPIPE_WASM_ZLIB_H
#define CHARPIPE_WASM_ZLIB_H

#include <stddef.h>

typedef unsigned char Bytef;
typedef unsigned int uInt;
typedef unsigned long uLong;

typedef struct z_stream_s {
    const Bytef *next_in;             /* input not yet used */
    uInt avail_in;
    Bytef *next_out;                  /* where the next output byte goes */
    uInt avail_out;
    const char *msg;                  /* why the last Z_DATA_ERROR, or NULL */
    struct inflate_state *state;
} z_stream;
typedef z_stream *z_streamp;

#define Z_OK            0
#define Z_STREAM_END    1
#define Z_NEED_DICT     2
#define Z_ERRNO        (-1)
#define Z_STREAM_ERROR (-2)
#define Z_DATA_ERROR   (-3)
#define Z_MEM_ERROR    (-4)
#define Z_BUF_ERROR    (-5)

#define Z_NO_FLUSH      0
#define Z_SYNC_FLUSH    2
#define Z_FULL_FLUSH    3
#define Z_FINISH        4

#define Z_DEFLATED      8
#define Z_DEFAULT_STRATEGY 0

int inflateInit2(z_stream *strm, int windowBits);
int inflate(z_stream *strm, int flush);
int inflateReset(z_stream *strm);
int inflateEnd(z_stream *strm);

/* zlib_deflate.c: no compressor in this build; these fail with Z_STREAM_ERROR. */
int deflateInit2(z_stream *strm, int level, int method, int windowBits, int memLevel, int strategy);
int deflate(z_stream *strm, int flush);
int deflateEnd(z_stream *strm);
uLong deflateBound(z_stream *strm, uLong sourceLen);

#endif
