/* vocab - text on stdin -> a charpipe stream: the vocabulary, then the text as indices.
 *
 * Without -v the vocabulary is the sorted set of the input's characters, so the whole input is
 * held in memory (as bytes) and read twice: once to collect the set, once to encode. With
 * -v FILE the vocabulary comes from FILE and the input is encoded block by block as it arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "output.h"
#include "frame.h"
#include "model.h"
#include "ts.h"
#include "utf8.h"

#define NCP        (UTF8_MAX_CP + 1)     /* code points 0 .. U+10FFFF */
#define READ_BLOCK ((size_t)256 << 10)

/* options */
static int opt_bytes, opt_lower, opt_skip;
static const char *opt_vocab;
static long opt_chunk;                    /* characters per text frame; 0: about 1 MiB */

/* the vocabulary */
static uint32_t *vocab;                   /* (V,) ascending */
static uint64_t V;
static uint32_t *index_of;                /* unit -> index + 1; 0: not in the vocabulary */
static uint8_t *present;                  /* bitmap of the units seen (without -v) */
static const char *vocab_label = "stdin";

/* the output */
static ts_writer *w;
static ts_dtype text_dtype;
static unsigned char *chunk;              /* (chunk_cap,) of text_dtype */
static size_t chunk_cap, chunk_n;
static int unflushed;                     /* frames written since the last explicit flush */
static uint64_t chars_out;

/* where we are in the input: the current character's index and byte offset (from 0) */
static uint64_t pos_char, pos_byte;
static uint64_t nskipped, skip_char, skip_byte;
static uint32_t skip_unit;

static void usage(void)
{
    printf(
"NAME\n"
"    vocab - turn text into a charpipe stream of character indices\n"
"\n"
"SYNOPSIS\n"
"    vocab [--bytes] [--lower] [--chunk N] < TEXT > STREAM\n"
"    vocab -v FILE [--skip-unknown] [--lower] [--chunk N] < TEXT > STREAM\n"
"\n"
"DESCRIPTION\n"
"    Reads UTF-8 text on stdin and writes a charpipe tensor stream on stdout:\n"
"      vocab  u4 (V,)  the vocabulary: code points in ascending order, as Python's\n"
"                      sorted(set(text)); attrs {\"unit\": \"codepoint\"|\"byte\", \"lower\": bool}\n"
"      text   (n,)     the text as indices into the vocabulary, in as many frames as it takes;\n"
"                      dtype u1 when V <= 256, u2 when V <= 65536, else u4\n"
"    Without -v the whole input is held in memory (the sorted set needs all of it). With -v the\n"
"    vocabulary is read from FILE and the input is encoded as it arrives, in bounded memory;\n"
"    when the input pauses, what has been read so far is sent on.\n"
"\n"
"    The input must be valid UTF-8 (strict: no overlong forms, surrogates or code points above\n"
"    U+10FFFF). Invalid input, an unknown character (with -v) and empty input are errors.\n"
"    Positions in messages count from 0.\n"
"\n"
"OPTIONS\n"
"    --bytes          the units are bytes (0-255), the input is not decoded\n"
"    --lower          lowercase first, by simple case mapping: towlower() in the C.UTF-8\n"
"                     locale for code points, ASCII letters only with --bytes (Python's\n"
"                     str.lower() differs for a few characters, e.g. U+0130)\n"
"    -v, --vocab FILE take the vocabulary from the first \"vocab\" frame of the stream FILE (a\n"
"                     vocab output or a model written by train); the unit (and lowercasing,\n"
"                     when FILE's vocabulary was made with --lower) follow FILE\n"
"    --skip-unknown   with -v: drop characters that are not in the vocabulary and report\n"
"                     their number once at the end, instead of failing at the first\n"
"    --chunk N        characters per text frame (default: about %zu KiB of data per frame)\n"
"    --version        print the version\n"
"    -h, --help       show this help\n"
"\n"
"EXAMPLES\n"
"    vocab < input.txt | window -n 40 | onehot | train -o model.cp\n"
"    printf 'To be' | vocab -v model.cp | tdump\n"
"\n"
"EXIT STATUS\n"
"    0 success, 1 failure (one message on stderr; the output stream is left unfinished so\n"
"    that the next stage reports it as truncated), 2 bad usage.\n",
    TS_CHUNK_BYTES >> 10);
}

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                   */

/* Describe a unit for a message: "character 'é' (U+00E9)" or "byte 0xE9". */
static const char *describe(uint32_t u, char *buf, size_t cap)
{
    if (opt_bytes) {
        snprintf(buf, cap, "byte 0x%02X", (unsigned)u);
        return buf;
    }
    unsigned char s[5] = { 0 };
    const char *esc = u == '\n' ? "\\n" : u == '\t' ? "\\t" : u == '\r' ? "\\r" : u == '\'' ? "\\'"
                    : u == '\\' ? "\\\\" : NULL;
    if (esc)
        snprintf(buf, cap, "character '%s' (U+%04X)", esc, (unsigned)u);
    else if (u < 0x20 || (u >= 0x7F && u < 0xA0) || utf8_encode(u, s) == 0)
        snprintf(buf, cap, "character U+%04X", (unsigned)u);
    else
        snprintf(buf, cap, "character '%s' (U+%04X)", (const char *)s, (unsigned)u);
    return buf;
}

static _Noreturn void die_utf8(const unsigned char *p, size_t n, const char *why, int bad)
{
    char hex[16] = "";
    for (int i = 0, len = 0; i < bad && (size_t)i < n; i++)
        len += snprintf(hex + len, sizeof hex - (size_t)len, "%s%02X", i ? " " : "", p[i]);
    cli_die("stdin: invalid UTF-8 at byte %llu (character %llu): %s (%s %s)",
            (unsigned long long)pos_byte, (unsigned long long)pos_char, why,
            bad > 1 ? "bytes" : "byte", hex);
}

/* ------------------------------------------------------------------------------------------ */
/* Output                                                                                     */

static void write_chunk(void)
{
    if (chunk_n == 0)
        return;
    uint64_t shape[1] = { chunk_n };
    if (ts_write_tensor(w, "text", text_dtype, 1, shape, chunk, NULL, 0) < 0)
        cli_die("%s", ts_writer_error(w));
    chars_out += chunk_n;
    chunk_n = 0;
    unflushed = 1;
}

static void unknown(uint32_t u)
{
    char d[64];
    if (!opt_skip) {
        if (opt_bytes)
            cli_die("stdin: %s at byte %llu is not in the vocabulary", describe(u, d, sizeof d),
                    (unsigned long long)pos_byte);
        cli_die("stdin: %s at character %llu (byte %llu) is not in the vocabulary",
                describe(u, d, sizeof d), (unsigned long long)pos_char,
                (unsigned long long)pos_byte);
    }
    if (nskipped++ == 0) {
        skip_unit = u;
        skip_char = pos_char;
        skip_byte = pos_byte;
    }
}

static inline void emit(uint32_t u)
{
    uint32_t k = index_of[u];
    if (k == 0) {
        unknown(u);
        return;
    }
    k--;
    switch (text_dtype) {
    case TS_U1: chunk[chunk_n] = (unsigned char)k; break;
    case TS_U2: ((uint16_t *)chunk)[chunk_n] = (uint16_t)k; break;
    default:    ((uint32_t *)chunk)[chunk_n] = k; break;
    }
    if (++chunk_n == chunk_cap)
        write_chunk();
}

/* ------------------------------------------------------------------------------------------ */
/* Input                                                                                      */

enum { MARK, ENCODE };

/* Decode in[0..n) and mark or encode each unit. Returns the bytes used: all of them, except an
 * incomplete sequence at the end when more input may follow (eof == 0). */
static size_t process(const unsigned char *in, size_t n, int eof, int mode)
{
    size_t i = 0;
    while (i < n) {
        uint32_t u;
        int len = 1;
        if (opt_bytes || in[i] < 0x80) {
            u = in[i];
        } else {
            const char *why;
            int bad;
            len = utf8_decode(in + i, n - i, &u, &why, &bad);
            if (len == 0) {
                if (!eof)
                    break;
                die_utf8(in + i, n - i, "sequence cut off at end of input", (int)(n - i));
            }
            if (len < 0)
                die_utf8(in + i, n - i, why, bad);
        }
        if (opt_lower)
            u = utf8_lower(u, opt_bytes);
        if (mode == MARK)
            present[u >> 3] |= (uint8_t)(1u << (u & 7));
        else
            emit(u);
        i += (size_t)len;
        pos_char++;
        pos_byte += (uint64_t)len;
    }
    return i;
}

static ssize_t read_some(unsigned char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(0, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cli_die("stdin: read failed: %s", strerror(errno));
        return n;
    }
}

/* Read all of stdin. */
static unsigned char *slurp(size_t *len)
{
    size_t cap = READ_BLOCK, n = 0;
    struct stat st;
    if (fstat(0, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    unsigned char *buf = cli_malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = cli_realloc(buf, cap);
        }
        ssize_t k = read_some(buf + n, cap - n);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* The vocabulary                                                                             */

static void set_dtype(void)
{
    text_dtype = V <= 256 ? TS_U1 : V <= 65536 ? TS_U2 : TS_U4;
    chunk_cap = opt_chunk > 0 ? (size_t)opt_chunk : TS_CHUNK_BYTES / ts_dtype_size(text_dtype);
    chunk = cli_malloc(chunk_cap * ts_dtype_size(text_dtype));
}

static void build_index(void)
{
    index_of = calloc(opt_bytes ? 256 : NCP, sizeof *index_of);
    if (!index_of)
        cli_die("out of memory");
    for (uint64_t k = 0; k < V; k++)
        index_of[vocab[k]] = (uint32_t)k + 1;
}

static void vocab_from_set(void)
{
    uint32_t n = opt_bytes ? 256 : NCP;
    vocab = cli_malloc(n * sizeof *vocab);
    V = 0;
    for (uint32_t u = 0; u < n; u++)
        if (present[u >> 3] & (1u << (u & 7)))
            vocab[V++] = u;
}

static void vocab_from_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        cli_die("%s: %s", path, strerror(errno));
    ts_reader *r = cli_reader_open(fd, path);
    ts_frame f;
    int rc, is_model = 0;
    while ((rc = ts_read(r, &f)) > 0 && strcmp(f.name, "vocab") != 0)
        is_model |= strcmp(f.name, "model") == 0;
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    if (rc == 0)
        cli_die("%s: no vocab frame in the stream", path);
    frame_vocab v;
    char err[512];
    if (frame_vocab_read(&f, FRAME_ANY_V, &v, err, sizeof err) < 0)
        cli_die("%s: %s", path, err);
    /* Read FILE to its end: a damaged or truncated file (a model cut off after its vocab
     * frame, say) is refused here rather than trusted for its first frames; the pieces of a
     * split vocab frame are joined */
    for (int joining = 1; (rc = ts_read(r, &f)) > 0;)
        if (!(joining &= strcmp(f.name, "vocab") == 0 && f.piece > 0))
            continue;
        else if (frame_vocab_append(&v, &f, FRAME_ANY_V, err, sizeof err) < 0)
            cli_die("%s: %s", path, err);
    if (rc < 0)
        cli_die("%s", ts_reader_error(r));
    ts_reader_close(r);
    if (opt_bytes && !v.byte_unit)
        cli_die("%s: the vocabulary is of code points, not bytes (drop --bytes)", path);
    opt_bytes = v.byte_unit;
    if (v.lower)
        opt_lower = 1;
    V = (uint64_t)v.V;
    vocab = v.cp;
    /* A model file goes through the library's one validation of models (lib/model.c), as
     * in sample and evaluate: its vocabulary is taken only from a model they would take. */
    struct stat sb;
    if (is_model && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        model m;
        if (model_read(&m, NULL, path, err, sizeof err) < 0)
            cli_die("%s", err);
        model_free(&m);
    }
    close(fd);
    vocab_label = path;
}

static void write_vocab(void)
{
    ts_attr_kv attrs[2] = { TS_ATTR_STR("unit", opt_bytes ? "byte" : "codepoint"),
                            TS_ATTR_BOOL("lower", opt_lower) };
    uint64_t shape[1] = { V };
    if (ts_write_tensor(w, "vocab", TS_U4, 1, shape, vocab, attrs, 2) < 0)
        cli_die("%s", ts_writer_error(w));
}

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_BYTES = 256, O_LOWER, O_SKIP, O_CHUNK };
    static const struct option longopts[] = {
        { "bytes", no_argument, 0, O_BYTES },
        { "lower", no_argument, 0, O_LOWER },
        { "vocab", required_argument, 0, 'v' },
        { "skip-unknown", no_argument, 0, O_SKIP },
        { "chunk", required_argument, 0, O_CHUNK },
        { "help", no_argument, 0, 'h' }, CLI_VERSION_OPTION,
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = cli_getopt(argc, argv, "v:h", longopts)) != -1) {
        switch (c) {
        case O_BYTES: opt_bytes = 1; break;
        case O_LOWER: opt_lower = 1; break;
        case 'v':     opt_vocab = cli_path("-v", optarg); break;
        case O_SKIP:  opt_skip = 1; break;
        case O_CHUNK: opt_chunk = cli_long("--chunk", optarg, 1, 1L << 28); break;
        case 'h':     usage(); return 0;
        default:      cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s' (the text comes on stdin)", argv[optind]);
    if (opt_skip && !opt_vocab)
        cli_usage_error("--skip-unknown needs -v FILE");
    out_input_fd(0, "stdin", 0);
    out_input(opt_vocab, 0);
    out_stdout(OUT_BINARY);
    out_check(0);

    if (opt_vocab)
        vocab_from_file(opt_vocab);
    if (opt_lower && !opt_bytes && !setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8"))
        cli_die("--lower: the C.UTF-8 locale is not available");

    if (!opt_vocab) {
        size_t n;
        unsigned char *text = slurp(&n);
        if (n == 0)
            cli_die("stdin: empty input");
        present = calloc(NCP / 8 + 1, 1);
        if (!present)
            cli_die("out of memory");
        process(text, n, 1, MARK);
        vocab_from_set();
        build_index();
        set_dtype();
        w = cli_writer_open(1, "stdout");
        write_vocab();
        pos_char = pos_byte = 0;
        process(text, n, 1, ENCODE);
        write_chunk();
        free(text);
    } else {
        build_index();
        set_dtype();
        w = cli_writer_open(1, "stdout");
        write_vocab();
        unsigned char *buf = cli_malloc(READ_BLOCK + 4);
        size_t carry = 0;
        for (;;) {
            struct pollfd p = { .fd = 0, .events = POLLIN };
            if ((chunk_n > 0 || unflushed) && poll(&p, 1, 0) == 0) {
                /* the input pauses: send on what we have */
                write_chunk();
                if (ts_writer_flush(w) < 0)
                    cli_die("%s", ts_writer_error(w));
                unflushed = 0;
            }
            ssize_t k = read_some(buf + carry, READ_BLOCK);
            if (k == 0) {
                process(buf, carry, 1, ENCODE);
                break;
            }
            size_t have = carry + (size_t)k;
            size_t used = process(buf, have, 0, ENCODE);
            carry = have - used;
            memmove(buf, buf + used, carry);
        }
        write_chunk();
        free(buf);
        if (pos_byte == 0)
            cli_die("stdin: empty input");
    }
    if (chars_out == 0)
        cli_die("stdin: no characters left after dropping %llu not in the vocabulary of %s",
                (unsigned long long)nskipped, vocab_label);
    if (nskipped) {
        char d[64];
        cli_warn("stdin: dropped %llu %s not in the vocabulary of %s (the first: %s at %s %llu)",
                 (unsigned long long)nskipped, opt_bytes ? "bytes" : "characters", vocab_label,
                 describe(skip_unit, d, sizeof d), opt_bytes ? "byte" : "character",
                 (unsigned long long)(opt_bytes ? skip_byte : skip_char));
    }
    const char *err;
    if (ts_writer_finish(w, &err) < 0)
        cli_die("%s", err);
    return 0;
}
