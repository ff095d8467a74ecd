/* zlib_deflate.c - the WebAssembly build reads tensor streams and never writes one, so it has
 * no compressor (inflate.c decodes alone). lib/ts.c's writer still names these functions (and
 * its reader can flush a writer it was handed, which the page never does): here they fail as
 * zlib does on a stream it cannot use, so a writer reports an error, never writes bad data. */
#include "zlib.h"

int deflateInit2(z_stream *strm, int level, int method, int windowBits, int memLevel, int strategy)
{
    (void)strm; (void)level; (void)method; (void)windowBits; (void)memLevel; (void)strategy;
    return Z_STREAM_ERROR;
}

int deflate(z_stream *strm, int flush)
{
    (void)strm; (void)flush;
    return Z_STREAM_ERROR;
}

int deflateEnd(z_stream *strm)
{
    (void)strm;
    return Z_STREAM_ERROR;
}

uLong deflateBound(z_stream *strm, uLong sourceLen)
{
    (void)strm;
    return sourceLen + (sourceLen >> 12) + (sourceLen >> 14) + (sourceLen >> 25) + 13;
}
