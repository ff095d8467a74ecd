/* onehot - index frames "x" and "y" -> float32 one-hot frames.
 *
 * x (B, N) -> f4 (B, N, V); y (B,) -> f4 (B, V); y (B, N) -> f4 (B, N, V); out[..., idx] = 1.
 * The output frame keeps every other key of the input frame (attrs included): it is built as
 * a msgpack object around the new dtype, shape and data and written with ts_write_object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "output.h"
#include "frame.h"
#include "ts.h"

static long opt_v;                     /* -V; 0: from the vocab frame */
static uint64_t V;
static frame_vocab voc;                /* the stream's vocabulary (its pieces joined) */
static ts_writer *w;
static unsigned char *out;             /* the float32 output, little-endian */
static size_t out_cap;
static uint64_t nframes;

static void usage(void)
{
    printf(
"NAME\n"
"    onehot - expand index frames into float32 one-hot vectors\n"
"\n"
"SYNOPSIS\n"
"    onehot [-V N] < STREAM > STREAM\n"
"\n"
"DESCRIPTION\n"
"    Replaces the index frames of a stream (from window) by float32 one-hot frames:\n"
"      x (B, N) -> f4 (B, N, V)     y (B,) -> f4 (B, V)     y (B, N) -> f4 (B, N, V)\n"
"    with out[s, t, idx] = 1 and 0 elsewhere; attrs are kept. The vocabulary size V is the\n"
"    length of the \"vocab\" frame, which must come before the first x or y frame, or -V.\n"
"    Every other frame passes through unchanged. An index >= V is an error. An output frame\n"
"    holds B x N x V floats: choose the batch (window -b) so that it stays a few MiB.\n"
"\n"
"OPTIONS\n"
"    -V, --vocab-size N  vocabulary size, when the stream has no vocab frame (if it has one,\n"
"                        the two must agree)\n"
"        --version       print the version\n"
"    -h, --help          show this help\n"
"\n"
"EXAMPLE\n"
"    vocab < input.txt | window -n 40 | onehot | train -o model.cp\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 failure (the output stream is left unfinished); 2 bad usage.\n");
}

/* Die naming the bad index idx at flat position k of f (idx < 0 for a u8 above INT64_MAX). */
static void bad_index(const ts_frame *f, uint64_t k, int64_t idx)
{
    char at[64], num[32];
    if (f->ndim == 2)
        snprintf(at, sizeof at, "[%llu, %llu]", (unsigned long long)(k / f->shape[1]),
                 (unsigned long long)(k % f->shape[1]));
    else
        snprintf(at, sizeof at, "[%llu]", (unsigned long long)k);
    if (idx < 0 && f->dtype != TS_U8)
        cli_die("stdin: frame %llu ('%s'): index %lld at %s is negative",
                (unsigned long long)nframes, f->name, (long long)idx, at);
    if (idx < 0)
        snprintf(num, sizeof num, "above %lld", (long long)INT64_MAX);
    else
        snprintf(num, sizeof num, "%lld", (long long)idx);
    cli_die("stdin: frame %llu ('%s'): index %s at %s is not below V = %llu",
            (unsigned long long)nframes, f->name, num, at, (unsigned long long)V);
}

static void convert(const ts_frame *f)
{
    if (!f->is_tensor || f->ndim < 1 || f->ndim > 2 || !frame_is_index_dtype(f->dtype))
        cli_die("stdin: frame %llu ('%s'): expected an integer tensor of 1 or 2 dimensions",
                (unsigned long long)nframes, f->name);
    if (V == 0)
        cli_die("stdin: frame %llu ('%s') comes before any vocab frame (give -V)",
                (unsigned long long)nframes, f->name);
    if (opt_v && V != (uint64_t)opt_v)
        cli_die("stdin: the vocab frame has %llu entries but -V is %ld", (unsigned long long)V, opt_v);
    uint64_t count = f->count;
    if (count > (TS_MAX_FRAME_BYTES - 65536) / 4 / V)   /* room for the rest of the frame */
        cli_die("stdin: frame %llu ('%s'): %llu x %llu floats are more than a frame may hold; "
                "use smaller batches (window -b)", (unsigned long long)nframes, f->name,
                (unsigned long long)count, (unsigned long long)V);
    size_t nbytes = (size_t)(count * V * 4);
    if (nbytes > out_cap) {
        free(out);
        out = cli_malloc(nbytes);
        out_cap = nbytes;
    }
    if (nbytes)                       /* (a tensor of no rows or no columns: out may be NULL) */
        memset(out, 0, nbytes);
    for (uint64_t k = 0; k < count; k++) {
        int64_t idx = frame_index_at(f, k);
        if (idx < 0 || (uint64_t)idx >= V)
            bad_index(f, k, idx);
        unsigned char *one = out + (k * V + idx) * 4;   /* 1.0f little-endian: 0x3F800000 */
        one[2] = 0x80;
        one[3] = 0x3F;
    }

    /* the output frame: the input frame's map with dtype, shape and data replaced */
    const msgpack_object *in = f->obj;
    uint32_t nkv = in->via.map.size;
    msgpack_object_kv kv[64];
    if (nkv > 64)
        cli_die("stdin: frame %llu ('%s'): too many keys", (unsigned long long)nframes, f->name);
    msgpack_object dims[TS_MAXDIM + 1];
    for (int d = 0; d < f->ndim; d++)
        dims[d] = (msgpack_object){ .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = f->shape[d] };
    dims[f->ndim] = (msgpack_object){ .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = V };
    for (uint32_t i = 0; i < nkv; i++) {
        kv[i] = in->via.map.ptr[i];
        const msgpack_object *k = &kv[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "dtype", 5) == 0) {
            kv[i].val.type = MSGPACK_OBJECT_STR;
            kv[i].val.via.str.ptr = "f4";
            kv[i].val.via.str.size = 2;
        } else if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "shape", 5) == 0) {
            kv[i].val.type = MSGPACK_OBJECT_ARRAY;
            kv[i].val.via.array.ptr = dims;
            kv[i].val.via.array.size = (uint32_t)f->ndim + 1;
        } else if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "data", 4) == 0) {
            kv[i].val.type = MSGPACK_OBJECT_BIN;
            kv[i].val.via.bin.ptr = (const char *)out;
            kv[i].val.via.bin.size = (uint32_t)nbytes;
        }
    }
    msgpack_object o = { .type = MSGPACK_OBJECT_MAP, .via.map = { .size = nkv, .ptr = kv } };
    if (ts_write_object(w, &o) < 0)
        cli_die("%s", ts_writer_error(w));
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    static const struct option longopts[] = {
        { "vocab-size", required_argument, 0, 'V' },
        { "help", no_argument, 0, 'h' }, CLI_VERSION_OPTION,
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = cli_getopt(argc, argv, "V:h", longopts)) != -1) {
        switch (c) {
        case 'V': opt_v = cli_long("-V", optarg, 1, 1L << 24); break;
        case 'h': usage(); return 0;
        default:  cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s' (the stream comes on stdin)", argv[optind]);
    out_input_fd(0, "stdin", OUT_BINARY);
    out_stdout(OUT_BINARY);
    out_check(0);
    V = (uint64_t)opt_v;

    ts_reader *r = cli_reader_open(0, "stdin");
    w = cli_writer_open(1, "stdout");
    ts_writer_parallel(w);            /* deflating 10 KB of floats per window is all the work */
    ts_reader_flush_before_wait(r, w);
    ts_frame f;
    int rc;
    while ((rc = ts_read(r, &f)) > 0) {
        nframes++;
        if (strcmp(f.name, "x") == 0 || strcmp(f.name, "y") == 0) {
            convert(&f);
            continue;
        }
        if (strcmp(f.name, "vocab") == 0) {      /* (a split one: its pieces joined) */
            char err[256];
            if (frame_vocab_take(&voc, &f, FRAME_ANY_V, err, sizeof err) < 0)
                cli_die("stdin: %s", err);
            V = (uint64_t)voc.V;
        }
        if (ts_write_object(w, f.obj) < 0)
            cli_die("%s", ts_writer_error(w));
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (opt_v && V && V != (uint64_t)opt_v)
        cli_die("stdin: the vocab frame has %llu entries but -V is %ld", (unsigned long long)V, opt_v);
    ts_reader_close(r);
    frame_vocab_free(&voc);
    const char *err;
    if (ts_writer_finish(w, &err) < 0)
        cli_die("%s", err);
    free(out);
    return 0;
}
