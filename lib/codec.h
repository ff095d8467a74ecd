/* codec.h - text to vocabulary indices and back: the one way every tool and the library read
 * and write the characters of a model.
 *
 * A codec is a vocabulary (V code points, or V bytes for a byte-level model, ascending: as a
 * model or a vocab frame holds it) and how text is read with it: strict UTF-8 (utf8.h), or one
 * byte per character; lowercased first when the vocabulary was made from lowercased text
 * (vocab --lower), by utf8_lower. Reading ("encoding") has a policy for characters outside the
 * vocabulary: refuse them, skip them, or replace them by a given index. Writing ("decoding")
 * gives UTF-8 (or the bytes), U+FFFD for an index outside the vocabulary. Beside them, the
 * escapes of the machine-readable outputs: a JSON string's body, a TSV field.
 *
 * Nothing here allocates, prints or ends the process.
 */
#ifndef CHARPIPE_CODEC_H
#define CHARPIPE_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct codec {
    const uint32_t *vocab;            /* V code points (or bytes), ascending; not owned */
    int V;
    int byte_unit;                    /* one byte per character, not UTF-8 */
    int lower;                        /* lowercase the text before looking it up */
} codec;

/* What encoding does with a character outside the vocabulary. */
enum { CODEC_REFUSE, CODEC_SKIP, CODEC_REPLACE };

/* Errors of codec_encode (0 is success). */
enum { CODEC_EUTF8 = -1, CODEC_ECUT = -2, CODEC_EUNKNOWN = -3 };

/* Set c up for a vocabulary (kept by pointer: it must outlive c). Returns 0, or -1 with a
 * message when a lowercasing code-point vocabulary cannot be read because the C.UTF-8 locale
 * (its case mapping) is not installed: the one place that is checked. */
int codec_init(codec *c, const uint32_t *vocab, int V, int byte_unit, int lower, char *err,
               size_t cap);

/* Index of code point (or byte) u in the vocabulary, or -1 (as is, not lowercased). */
int codec_index(const codec *c, uint32_t u);

/* The character at p[0..n) (n >= 1) as the vocabulary reads text: one byte, or one UTF-8
 * sequence, lowercased when c->lower. Returns its length in bytes with *u and *index set
 * (*index -1: not in the vocabulary); 0 if p holds only the start of a UTF-8 sequence; -1 if
 * the bytes are not UTF-8 (*why a static reason). */
int codec_char(const codec *c, const unsigned char *p, size_t n, uint32_t *u, int *index,
               const char **why);

/* Where an encoding is in its text, carried from block to block (zero it to start), and what
 * went wrong when codec_encode fails. */
typedef struct codec_pos {
    uint64_t byte;                    /* bytes read so far (at an error: where it starts) */
    uint64_t chars;                   /* characters read so far, kept, skipped or replaced */
    uint64_t skipped, replaced;       /* characters outside the vocabulary skipped, replaced */
    /* the first character skipped or replaced, for a warning */
    uint32_t first_u;
    uint64_t first_char, first_byte;
    /* at an error: the character outside the vocabulary, or why the UTF-8 is invalid */
    uint32_t u;
    unsigned char bytes[4];
    int len;
    const char *why;
} codec_pos;

/* Encode the text p[0..n) into out (room for n indices): *nout indices written, *used bytes
 * read. Each character in the vocabulary becomes its index; one outside it is refused
 * (CODEC_REFUSE: return CODEC_EUNKNOWN), dropped (CODEC_SKIP) or written as index
 * `replacement` (CODEC_REPLACE), counted in pos. more = 1: the text goes on in a later block,
 * so a UTF-8 sequence cut off at the end is left unread (not in *used) for the caller to give
 * again with what follows; more = 0 makes that CODEC_ECUT. Invalid UTF-8 is CODEC_EUTF8. On
 * an error *nout and *used stop before the character at fault and pos describes it. Returns 0
 * or the error. A NUL byte is a character like any other. */
int codec_encode(const codec *c, const void *p, size_t n, int more, int unknown, int replacement,
                 int32_t *out, size_t *nout, size_t *used, codec_pos *pos);

/* The message for codec_encode's error rc at pos, without context: "invalid UTF-8 at byte
 * 12 (overlong encoding)", "character 'd' (U+0064) at character 3 (byte 4) is not in the
 * vocabulary", "byte 0xE9 at byte 4 is not in the vocabulary". Returns buf. */
const char *codec_error(const codec *c, int rc, const codec_pos *pos, char *buf, size_t cap);

/* A character for a message: "character 'é' (U+00E9)", "character '\n' (U+000A)" (the
 * escapes \n \t \r \' \\), "character U+0085" (other control characters), or "byte 0xE9"
 * (bytes != 0). Returns buf. */
const char *codec_describe(uint32_t u, int bytes, char *buf, size_t cap);

/* The bytes index i stands for: its UTF-8 (1-4 bytes) or its byte; U+FFFD for an index
 * outside the vocabulary (or a code point UTF-8 cannot carry). Returns the length. */
int codec_decode_char(const codec *c, int i, unsigned char out[4]);

/* n indices as text into out (room for 4 n bytes). Returns the length written. */
size_t codec_decode(const codec *c, const int32_t *idx, size_t n, char *out);

/* The bytes s[0..n) as the body of a JSON string (no quotes) into out, which has room for
 * CODEC_JSON_MAX(n) bytes: " and \ escaped, the control characters U+0000..U+001F and U+007F
 * as \b \f \n \r \t or \u00XX, valid UTF-8 as it is, and each byte that is not part of valid
 * UTF-8 as \ufffd (JSON is UTF-8: the output always parses). With CODEC_JSON_BYTES (the text
 * of a byte-level model) every byte >= 0x80 is written as \u0080..\u00ff instead: the JSON
 * string's code points are the bytes. Returns the length written (no NUL added). */
#define CODEC_JSON_BYTES 1
#define CODEC_JSON_MAX(n) (6 * (size_t)(n))
size_t codec_json(char *out, const void *s, size_t n, int flags);

/* The bytes s[0..n) as one field of a TSV line into out (room for 2 n bytes): backslash,
 * tab, newline and carriage return as \\ \t \n \r, so a field never breaks its line or its
 * row. Returns the length written (no NUL added). */
size_t codec_tsv(char *out, const void *s, size_t n);

#endif
