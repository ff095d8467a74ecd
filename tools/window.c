/* window - "text" frames -> batches of fixed-length windows "x" and their targets "y".
 *
 * Window i (i = 0, STEP, 2*STEP, ... while i + N < L) is x = text[i:i+N] with target
 * y = text[i+N], or y = text[i+1:i+N+1] with --seq. The text arrives in chunks; the tail of one
 * chunk that later windows still need is carried over, so memory is O(N + chunk + batch).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "output.h"
#include "ts.h"

static long opt_n, opt_step = 1, opt_batch = 256;
static int opt_seq, set_step_batch;
static long opt_streams;               /* --streams B: the stateful (char-rnn) layout */

static ts_writer *w;
static ts_dtype dtype;                 /* of the text, and so of x and y */
static size_t isz;                     /* its item size */
static int have_text;

static unsigned char *buf;             /* text[base .. base + have) */
static size_t have, cap;
static uint64_t base, next;            /* global index of buf[0]; start of the next window */
static uint64_t total;                 /* characters of text read */

static unsigned char *xb, *yb;         /* the batch being filled: (B, N) and (B,) or (B, N) */
static size_t nb;                      /* windows in it */
static uint64_t nwindows;

static void usage(void)
{
    printf(
"NAME\n"
"    window - cut the text of a charpipe stream into training windows\n"
"\n"
"SYNOPSIS\n"
"    window -n N [-s STEP] [-b BATCH] [--seq] < STREAM > STREAM\n"
"    window -n N --streams B < STREAM > STREAM\n"
"\n"
"DESCRIPTION\n"
"    Reads the \"text\" frames of a stream (from vocab) and writes, for every i in\n"
"    range(0, L - N, STEP) (L the length of the text, as in Python),\n"
"      x  (B, N)  text[i:i+N]\n"
"      y  (B,)    text[i+N], the next character\n"
"      y  (B, N)  text[i+1:i+N+1] with --seq (a target for every position, as char-rnn)\n"
"    in batches of B = BATCH windows (the last batch may be smaller), with the dtype of the text.\n"
"    Each x frame has attrs {\"maxlen\": N, \"step\": STEP, \"seq\": bool}. Windows may span\n"
"    text frames; they come out the same however the text was chunked. The text frames are\n"
"    consumed; every other frame (the vocab frame first of all) is passed through as it comes,\n"
"    ahead of the windows made from the text after it.\n"
"\n"
"OPTIONS\n"
"    -n, --maxlen N   window length (required; 1 to %ld)\n"
"    -s, --step STEP  distance between window starts (default %ld)\n"
"    -b, --batch B    windows per frame (default %ld)\n"
"    --seq            y is the window shifted by one, (B, N), instead of the next character\n"
"    --streams B      the stateful layout (char-rnn): the text is cut into B contiguous\n"
"                     streams of L = (len - 1) / B characters (stream r is text[r L:(r+1) L]);\n"
"                     frame k holds the next N characters of every stream, x (B, N) =\n"
"                     text[r L + k N : r L + k N + N] and y the same shifted by one, for\n"
"                     k < L / N, so the state at the end of one frame is the right start for\n"
"                     the next. Holds the whole text (L must be known); -s and -b do not apply.\n"
"                     For other programs: train and evaluate refuse these frames (they are\n"
"                     not independent windows); train --streams cuts the streams itself from\n"
"                     vocab's output\n"
"    --version        print the version\n"
"    -h, --help       show this help\n"
"\n"
"EXAMPLE\n"
"    vocab < input.txt | window -n 40 -s 3 | onehot | train -o model.cp\n"
"    vocab < input.txt | window -n 40 | tdump --summary\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 failure (no text, text shorter than N + 1, a damaged input stream; the output\n"
"    stream is left unfinished); 2 bad usage.\n",
    1L << 20, opt_step, opt_batch);
}

static void flush_batch(void)
{
    if (nb == 0)
        return;
    uint64_t xs[2] = { nb, (uint64_t)opt_n };
    ts_attr_kv attrs[3] = { TS_ATTR_INT("maxlen", opt_n), TS_ATTR_INT("step", opt_step),
                            TS_ATTR_BOOL("seq", opt_seq) };
    if (ts_write_tensor(w, "x", dtype, 2, xs, xb, attrs, 3) < 0 ||
        ts_write_tensor(w, "y", dtype, opt_seq ? 2 : 1, xs, yb, NULL, 0) < 0)
        cli_die("%s", ts_writer_error(w));
    nwindows += nb;
    nb = 0;
}

static void add_text(const ts_frame *f)
{
    if (!f->is_tensor || f->ndim != 1 || (f->dtype != TS_U1 && f->dtype != TS_U2 && f->dtype != TS_U4))
        cli_die("stdin: a text frame must be a vector of u1, u2 or u4 (this one is %s%s)",
                f->is_tensor ? ts_dtype_name(f->dtype) : "not a tensor",
                f->is_tensor && f->ndim != 1 ? " and not a vector" : "");
    if (!have_text) {
        have_text = 1;
        dtype = f->dtype;
        isz = ts_dtype_size(dtype);
        size_t rows = opt_streams ? (size_t)opt_streams : (size_t)opt_batch;   /* of a frame */
        xb = cli_malloc(rows * opt_n * isz);
        yb = cli_malloc(rows * (opt_seq || opt_streams ? opt_n : 1) * isz);
    } else if (f->dtype != dtype) {
        cli_die("stdin: text frames change dtype from %s to %s", ts_dtype_name(dtype),
                ts_dtype_name(f->dtype));
    }
    const unsigned char *p = f->data;
    uint64_t n = f->count;
    total += n;
    if (n == 0)                         /* an empty frame (its data may be NULL) */
        return;
    if (opt_streams) {                  /* keep it all: the cut needs the length */
        if (have + n > cap) {
            cap = (have + n) * 2;
            buf = cli_realloc(buf, cap * isz);
        }
        memcpy(buf + have * isz, p, n * isz);
        have += n;
        return;
    }
    if (have == 0 && next > base) {     /* skip text that no window starts in (STEP > N + 1) */
        uint64_t skip = next - base < n ? next - base : n;
        base += skip;
        p += skip * isz;
        n -= skip;
    }
    if (have + n > cap) {
        cap = have + n;
        buf = cli_realloc(buf, cap * isz);
    }
    memcpy(buf + have * isz, p, n * isz);
    have += n;

    size_t N = (size_t)opt_n, xbytes = N * isz;
    while (next + N < base + have) {
        const unsigned char *s = buf + (next - base) * isz;
        memcpy(xb + nb * xbytes, s, xbytes);
        if (opt_seq)
            memcpy(yb + nb * xbytes, s + isz, xbytes);
        else
            memcpy(yb + nb * isz, s + xbytes, isz);
        if (++nb == (size_t)opt_batch)
            flush_batch();
        next += (uint64_t)opt_step;
    }
    /* keep only text[next:], which the next windows start in (less than N + 1 items) */
    if (next >= base + have) {
        base += have;
        have = 0;
    } else {
        size_t drop = (size_t)(next - base);
        memmove(buf, buf + drop * isz, (have - drop) * isz);
        have -= drop;
        base = next;
    }
}

/* The stateful layout: frame k = the next N characters of each of B contiguous streams. */
static void write_streams(void)
{
    size_t B = (size_t)opt_streams, N = (size_t)opt_n, L = have > 0 ? (have - 1) / B : 0, frames = L / N;
    if (frames == 0)
        cli_die("stdin: text of %zu characters is too short for %zu streams of %zu steps", have, B, N);
    uint64_t shape[2] = { B, N };
    ts_attr_kv attrs[4] = { TS_ATTR_INT("maxlen", opt_n), TS_ATTR_STR("layout", "streams"),
                            TS_ATTR_INT("streams", opt_streams), TS_ATTR_BOOL("seq", 1) };
    for (size_t k = 0; k < frames; k++) {
        for (size_t r = 0; r < B; r++) {
            const unsigned char *s = buf + (r * L + k * N) * isz;
            memcpy(xb + r * N * isz, s, N * isz);
            memcpy(yb + r * N * isz, s + isz, N * isz);
        }
        if (ts_write_tensor(w, "x", dtype, 2, shape, xb, attrs, 4) < 0 ||
            ts_write_tensor(w, "y", dtype, 2, shape, yb, NULL, 0) < 0)
            cli_die("%s", ts_writer_error(w));
    }
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_SEQ = 256, O_STREAMS };
    static const struct option longopts[] = {
        { "maxlen", required_argument, 0, 'n' },
        { "step", required_argument, 0, 's' },
        { "batch", required_argument, 0, 'b' },
        { "seq", no_argument, 0, O_SEQ },
        { "streams", required_argument, 0, O_STREAMS },
        { "help", no_argument, 0, 'h' }, CLI_VERSION_OPTION,
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = cli_getopt(argc, argv, "n:s:b:h", longopts)) != -1) {
        switch (c) {
        case 'n': opt_n = cli_long("-n", optarg, 1, 1L << 20); break;
        case 's': opt_step = cli_long("-s", optarg, 1, 1L << 40); set_step_batch = 1; break;
        case 'b': opt_batch = cli_long("-b", optarg, 1, 1L << 20); set_step_batch = 1; break;
        case O_SEQ: opt_seq = 1; break;
        case O_STREAMS: opt_streams = cli_long("--streams", optarg, 1, 1L << 20); break;
        case 'h': usage(); return 0;
        default:  cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s' (the stream comes on stdin)", argv[optind]);
    if (opt_n == 0)
        cli_usage_error("the window length -n N is required");
    if (opt_streams && set_step_batch)
        cli_usage_error("--streams B cuts B streams and steps through them by N: -s and -b do not apply");
    if (!opt_streams && (uint64_t)opt_batch * (uint64_t)opt_n * 4 > TS_MAX_FRAME_BYTES / 2)
        cli_usage_error("-b %ld windows of -n %ld make frames too large (keep B x N under %zu M)",
                        opt_batch, opt_n, TS_MAX_FRAME_BYTES / 2 / 4 >> 20);
    if (opt_streams && (uint64_t)opt_streams * (uint64_t)opt_n * 4 > TS_MAX_FRAME_BYTES / 2)
        cli_usage_error("--streams %ld of -n %ld make frames too large", opt_streams, opt_n);
    out_input_fd(0, "stdin", OUT_BINARY);
    out_stdout(OUT_BINARY);
    out_check(0);

    ts_reader *r = cli_reader_open(0, "stdin");
    w = cli_writer_open(1, "stdout");
    ts_reader_flush_before_wait(r, w);
    ts_frame f;
    int rc;
    while ((rc = ts_read(r, &f)) > 0) {
        if (strcmp(f.name, "text") == 0)
            add_text(&f);
        else if (ts_write_object(w, f.obj) < 0)
            cli_die("%s", ts_writer_error(w));
    }
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (!have_text)
        cli_die("stdin: no text frames in the stream");
    if (!opt_streams && total < (uint64_t)opt_n + 1)       /* (write_streams says it for streams) */
        cli_die("stdin: text of %llu characters is too short for windows of %ld",
                (unsigned long long)total, opt_n);
    if (opt_streams)
        write_streams();
    else
        flush_batch();
    ts_reader_close(r);
    const char *err;
    if (ts_writer_finish(w, &err) < 0)
        cli_die("%s", err);
    free(buf);
    free(xb);
    free(yb);
    return 0;
}
