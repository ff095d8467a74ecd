/* tdump - print the frames of a charpipe stream for a human (or as JSON lines). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "output.h"
#include "frame.h"
#include "ts.h"
#include "utf8.h"

static long opt_head = 8;
static int opt_all, opt_json, opt_summary, opt_text, set_head;
static frame_vocab text_vocab;        /* --text: the stream's vocabulary (V 0: none yet) */

/* --summary: per frame name, in order of first appearance */
typedef struct summary {
    char *name;
    uint64_t frames, rows;
    int is_tensor, mixed_dtype, mixed_shape, ndim;
    ts_dtype dtype;
    uint64_t rest[TS_MAXDIM];
} summary;
static summary *sums;
static size_t nsums;

static void usage(void)
{
    printf(
"NAME\n"
"    tdump - print the frames of a charpipe stream\n"
"\n"
"SYNOPSIS\n"
"    tdump [-n K | -a] [--text] [--json | --summary] [FILE...]\n"
"\n"
"DESCRIPTION\n"
"    Reads charpipe streams (stdin when no FILE is given, or FILE is -) and prints one line\n"
"    per frame on stdout: name, dtype, shape, the first K values, attrs (as JSON). Frames\n"
"    without a tensor are printed with their attrs. The header and end frames are checked\n"
"    but not printed. Concatenated streams are read one after the other.\n"
"\n"
"OPTIONS\n"
"    -n, --head K  values to print per frame (default %ld; 0 prints none)\n"
"    -a, --all     print all the values\n"
"    --json        one JSON object per line instead:\n"
"                  {\"name\":..,\"dtype\":..,\"shape\":[..],\"attrs\":{..},\"head\":[..]}\n"
"                  (dtype, shape and head only for tensors; NaN and infinities as null;\n"
"                  binary attrs as {\"bin\": N bytes})\n"
"    --text        index tensors of the text (text, x and y frames of integers) as the\n"
"                  characters they stand for in the stream's vocab frame (itself shown as\n"
"                  its characters), as JSON strings: a text frame as one string (-n counts\n"
"                  characters), windows (B, N) as B strings of N characters (-n counts\n"
"                  strings); with --json, \"text\" in place of \"head\" (an index outside\n"
"                  the vocabulary shows as U+FFFD)\n"
"    --summary     per frame name: the number of frames, the sum of the first dimension,\n"
"                  the rest of the shape and the dtype, e.g. \"x  4357 frames  1115354 x 40 u1\"\n"
"    --version     print the version\n"
"    -h, --help    show this help\n"
"\n"
"EXAMPLES\n"
"    vocab < input.txt | window -n 40 | tdump -n 4\n"
"    vocab < input.txt | window -n 40 | tdump --summary\n"
"    vocab < input.txt | window -n 40 --seq | tdump --text -n 3\n"
"    tdump --json -a stream.cp | python3 -c 'import json,sys; ...'\n"
"\n"
"EXIT STATUS\n"
"    0 success, 1 a damaged or truncated stream (after printing the frames before the damage)\n"
"    or an output error, 2 bad usage.\n",
    opt_head);
}

/* ------------------------------------------------------------------------------------------ */
/* Printing values                                                                            */

static void put_json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':  fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        default:
            if (c < 0x20 || c == 0x7F)
                printf("\\u%04x", c);
            else
                putchar(c);       /* UTF-8 passes as is (invalid bytes too: JSON of the raw) */
        }
    }
    putchar('"');
}

/* The shortest decimal that reads back as the same float (f4) or double. */
static void put_double(double v, int f4)
{
    if (isnan(v) || isinf(v)) {
        fputs("null", stdout);
        return;
    }
    char buf[40];
    for (int prec = f4 ? 6 : 15; prec <= (f4 ? 9 : 17); prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (f4 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, stdout);
}

/* A msgpack object as JSON (map keys that are not strings are printed as strings). */
static void put_object(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", stdout); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", stdout); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: printf("%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: printf("%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32: put_double(o->via.f64, 1); break;
    case MSGPACK_OBJECT_FLOAT64: put_double(o->via.f64, 0); break;
    case MSGPACK_OBJECT_STR: put_json_str(o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: printf("{\"bin\": %u}", o->via.bin.size); break;
    case MSGPACK_OBJECT_EXT: printf("{\"ext\": %d, \"bin\": %u}", o->via.ext.type, o->via.ext.size); break;
    case MSGPACK_OBJECT_ARRAY:
        putchar('[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputs(", ", stdout);
            put_object(&o->via.array.ptr[i]);
        }
        putchar(']');
        break;
    case MSGPACK_OBJECT_MAP:
        putchar('{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (i)
                fputs(", ", stdout);
            if (k->type == MSGPACK_OBJECT_STR) {
                put_json_str(k->via.str.ptr, k->via.str.size);
            } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {   /* JSON keys are strings */
                printf("\"%llu\"", (unsigned long long)k->via.u64);
            } else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                printf("\"%lld\"", (long long)k->via.i64);
            } else {
                fputs("\"?\"", stdout);
            }
            fputs(": ", stdout);
            put_object(&o->via.map.ptr[i].val);
        }
        putchar('}');
        break;
    default: fputs("null", stdout); break;
    }
}

static void put_value(const ts_frame *f, uint64_t k)
{
    const unsigned char *p = (const unsigned char *)f->data + k * ts_dtype_size(f->dtype);
    union { uint8_t u1; uint16_t u2; uint32_t u4; uint64_t u8; int8_t i1; int16_t i2;
            int32_t i4; int64_t i8; float f4; double f8; } v;
    memcpy(&v, p, ts_dtype_size(f->dtype));
    switch (f->dtype) {
    case TS_U1: printf("%u", v.u1); break;
    case TS_U2: printf("%u", v.u2); break;
    case TS_U4: printf("%lu", (unsigned long)v.u4); break;
    case TS_U8: printf("%llu", (unsigned long long)v.u8); break;
    case TS_I1: printf("%d", v.i1); break;
    case TS_I2: printf("%d", v.i2); break;
    case TS_I4: printf("%ld", (long)v.i4); break;
    case TS_I8: printf("%lld", (long long)v.i8); break;
    case TS_F4: put_double(v.f4, 1); break;
    case TS_F8: put_double(v.f8, 0); break;
    default: break;
    }
}

static void put_values(const ts_frame *f)
{
    uint64_t n = opt_all ? f->count : (uint64_t)opt_head < f->count ? (uint64_t)opt_head : f->count;
    putchar('[');
    for (uint64_t k = 0; k < n; k++) {
        if (k)
            fputs(", ", stdout);
        put_value(f, k);
    }
    if (n < f->count && !opt_json)
        fputs(n ? ", ..." : "...", stdout);
    putchar(']');
}

/* --text: the characters that indices [lo, hi) of f stand for, as one JSON string. */
static void put_chars(const ts_frame *f, uint64_t lo, uint64_t hi)
{
    static char *buf;
    static size_t cap;
    if ((hi - lo) * 4 > cap) {
        cap = (size_t)(hi - lo) * 4;
        buf = cli_realloc(buf, cap);
    }
    size_t n = 0;
    int is_vocab = strcmp(f->name, "vocab") == 0;
    for (uint64_t k = lo; k < hi; k++) {
        int64_t i = is_vocab ? (int64_t)(f->row0 + k) : frame_index_at(f, (size_t)k);
        if (i >= 0 && i < text_vocab.V && text_vocab.byte_unit)
            buf[n++] = (char)text_vocab.cp[i];
        else
            n += (size_t)utf8_encode(i >= 0 && i < text_vocab.V ? text_vocab.cp[i] : 0xFFFD,
                                     (unsigned char *)buf + n);
    }
    put_json_str(buf, n);
}

/* --text: a text frame as one string, windows (..., N) as a list of strings of N. */
static int is_text_frame(const ts_frame *f)
{
    return opt_text && text_vocab.V && f->is_tensor && frame_is_index_dtype(f->dtype) && f->ndim >= 1
        && (strcmp(f->name, "text") == 0 || strcmp(f->name, "x") == 0 || strcmp(f->name, "y") == 0
            || (strcmp(f->name, "vocab") == 0 && f->ndim == 1 && f->row0 + f->count == (uint64_t)text_vocab.V));
}

static void put_text(const ts_frame *f)
{
    uint64_t row = f->ndim == 1 ? f->count : f->shape[f->ndim - 1];
    uint64_t rows = row ? f->count / row : 0, limit = (uint64_t)opt_head;
    if (f->ndim == 1) {
        uint64_t n = opt_all || limit >= f->count ? f->count : limit;
        put_chars(f, 0, n);
        if (n < f->count && !opt_json)
            fputs(" ...", stdout);
        return;
    }
    uint64_t n = opt_all || limit >= rows ? rows : limit;
    putchar('[');
    for (uint64_t r = 0; r < n; r++) {
        if (r)
            fputs(", ", stdout);
        put_chars(f, r * row, (r + 1) * row);
    }
    if (n < rows && !opt_json)
        fputs(n ? ", ..." : "...", stdout);
    putchar(']');
}

/* A name for the human format: printable, no spaces. */
static void put_name(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7F || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

/* ------------------------------------------------------------------------------------------ */

static void print_frame(const ts_frame *f)
{
    if (opt_json) {
        fputs("{\"name\": ", stdout);
        put_json_str(f->name, strlen(f->name));
        if (f->is_tensor) {
            printf(", \"dtype\": \"%s\", \"shape\": [", ts_dtype_name(f->dtype));
            for (int d = 0; d < f->ndim; d++)
                printf(d ? ", %llu" : "%llu", (unsigned long long)f->shape[d]);
            putchar(']');
        }
        fputs(", \"attrs\": ", stdout);
        if (f->attrs)
            put_object(f->attrs);
        else
            fputs("{}", stdout);
        if (is_text_frame(f)) {
            fputs(", \"text\": ", stdout);
            put_text(f);
        } else if (f->is_tensor) {
            fputs(", \"head\": ", stdout);
            put_values(f);
        }
        fputs("}\n", stdout);
        return;
    }
    put_name(f->name);
    if (f->is_tensor) {
        printf("  %s (", ts_dtype_name(f->dtype));
        for (int d = 0; d < f->ndim; d++)
            printf(d ? ", %llu" : "%llu", (unsigned long long)f->shape[d]);
        fputs(f->ndim == 1 ? ",)" : ")", stdout);
        if ((opt_all || opt_head > 0) && is_text_frame(f)) {
            fputs("  ", stdout);
            put_text(f);
        } else if (opt_all || opt_head > 0) {
            fputs("  ", stdout);
            put_values(f);
        }
    }
    if (f->attrs && f->attrs->via.map.size > 0) {
        fputs("  ", stdout);
        put_object(f->attrs);
    }
    putchar('\n');
}

static void add_summary(const ts_frame *f)
{
    summary *s = NULL;
    for (size_t i = 0; i < nsums; i++)
        if (strcmp(sums[i].name, f->name) == 0)
            s = &sums[i];
    if (!s) {
        sums = cli_realloc(sums, (nsums + 1) * sizeof *sums);
        s = &sums[nsums++];
        memset(s, 0, sizeof *s);
        s->name = strdup(f->name);
        if (!s->name)
            cli_die("out of memory");
        s->is_tensor = f->is_tensor;
        s->dtype = f->dtype;
        s->ndim = f->ndim;
        for (int d = 1; d < f->ndim; d++)
            s->rest[d] = f->shape[d];
    } else if (s->is_tensor != f->is_tensor) {
        s->mixed_shape = s->mixed_dtype = 1;
    } else if (f->is_tensor) {
        if (f->dtype != s->dtype)
            s->mixed_dtype = 1;
        if (f->ndim != s->ndim)
            s->mixed_shape = 1;
        for (int d = 1; d < f->ndim && !s->mixed_shape; d++)
            if (f->shape[d] != s->rest[d])
                s->mixed_shape = 1;
    }
    s->frames++;
    if (f->is_tensor)
        s->rows += f->ndim > 0 ? f->shape[0] : 1;
}

static void print_summary(void)
{
    int width = 4;
    for (size_t i = 0; i < nsums; i++)
        if ((int)strlen(sums[i].name) > width)
            width = (int)strlen(sums[i].name);
    for (size_t i = 0; i < nsums; i++) {
        summary *s = &sums[i];
        put_name(s->name);
        printf("%*s  %6llu frame%s", width - (int)strlen(s->name), "", (unsigned long long)s->frames,
               s->frames == 1 ? " " : "s");
        if (s->is_tensor) {
            if (s->mixed_shape) {
                printf("  %llu x (shapes vary)", (unsigned long long)s->rows);
            } else if (s->ndim == 0) {
                printf("  %llu scalars", (unsigned long long)s->rows);
            } else {
                printf("  %llu", (unsigned long long)s->rows);
                for (int d = 1; d < s->ndim; d++)
                    printf(" x %llu", (unsigned long long)s->rest[d]);
            }
            printf(" %s", s->mixed_dtype ? "(dtypes vary)" : ts_dtype_name(s->dtype));
        }
        putchar('\n');
    }
}

static int dump(int fd, const char *label)
{
    ts_reader *r = cli_reader_open(fd, label);
    ts_frame f;
    int rc, bad = 0;
    frame_vocab_free(&text_vocab);    /* each stream its own vocabulary */
    while ((rc = ts_read(r, &f)) > 0) {
        if (opt_text && strcmp(f.name, "vocab") == 0) {     /* (a split one: its pieces joined) */
            char err[256];
            if (frame_vocab_take(&text_vocab, &f, FRAME_ANY_V, err, sizeof err) < 0) {
                frame_vocab_free(&text_vocab);
                fprintf(stderr, "%s: %s: %s (its indices are shown as numbers)\n", cli_prog, label, err);
                bad = 1;
            }
        }
        if (opt_summary) {
            add_summary(&f);
            continue;
        }
        print_frame(&f);
        if (fflush(stdout) == EOF)
            cli_die("stdout: write failed: %s", strerror(errno));
    }
    if (rc < 0) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", cli_prog, ts_reader_error(r));
    }
    ts_reader_close(r);
    return rc < 0 || bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_JSON = 256, O_SUMMARY, O_TEXT };
    static const struct option longopts[] = {
        { "head", required_argument, 0, 'n' },
        { "all", no_argument, 0, 'a' },
        { "json", no_argument, 0, O_JSON },
        { "summary", no_argument, 0, O_SUMMARY },
        { "text", no_argument, 0, O_TEXT },
        { "help", no_argument, 0, 'h' }, CLI_VERSION_OPTION,
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = cli_getopt(argc, argv, "n:ah", longopts)) != -1) {
        switch (c) {
        case 'n': opt_head = cli_long("-n", optarg, 0, 1L << 40); set_head = 1; break;
        case 'a': opt_all = 1; break;
        case O_JSON: opt_json = 1; break;
        case O_SUMMARY: opt_summary = 1; break;
        case O_TEXT: opt_text = 1; break;
        case 'h': usage(); return 0;
        default:  cli_usage_error("unknown option");
        }
    }
    if (opt_summary && (opt_all || set_head))
        cli_usage_error("--summary prints no values: -n and -a do not apply");
    if (opt_json && opt_summary)
        cli_usage_error("--json and --summary exclude each other");

    if (optind == argc)
        out_input_fd(0, "stdin", OUT_BINARY);
    for (int i = optind; i < argc; i++)
        if (strcmp(cli_path("FILE", argv[i]), "-") == 0)
            out_input_fd(0, "stdin", OUT_BINARY);
        else
            out_input(argv[i], 0);
    out_stdout(0);
    out_check(0);
    int failed = 0;
    if (optind == argc) {
        failed |= dump(0, "stdin") < 0;
    } else {
        for (int i = optind; i < argc; i++) {
            int is_stdin = strcmp(argv[i], "-") == 0;
            int fd = is_stdin ? 0 : open(argv[i], O_RDONLY);
            if (fd < 0) {
                fprintf(stderr, "%s: %s: %s\n", cli_prog, argv[i], strerror(errno));
                failed = 1;
                continue;
            }
            failed |= dump(fd, is_stdin ? "stdin" : argv[i]) < 0;
            if (!is_stdin)
                close(fd);
        }
    }
    if (opt_summary)
        print_summary();
    if (fflush(stdout) == EOF || ferror(stdout))
        cli_die("stdout: write failed: %s", strerror(errno));
    return failed;
}
