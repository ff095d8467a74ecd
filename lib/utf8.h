/* utf8.h - strict UTF-8 (RFC 3629) decoding and encoding, one code point at a time.
 *
 * Strict means: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
 * no stray continuation bytes. A decoder that reads in blocks calls utf8_decode on what it
 * has; a return of 0 says the block ends inside a sequence that may still be completed, so the
 * caller keeps those bytes for the next block (or reports them cut off at end of input).
 */
#ifndef CHARPIPE_UTF8_H
#define CHARPIPE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_MAX_CP  0x10FFFFu

/* Decode the code point at p[0..n), n >= 1. Returns its length (1-4) with *cp set; 0 if
 * p[0..n) is a valid but incomplete start of a sequence (only possible when n < 4); -1 if the
 * bytes are not UTF-8, with *why a static reason ("overlong encoding", ...) and *bad the number
 * of bytes that belong to the offending sequence (1-4, for quoting them). */
int utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, const char **why, int *bad);

/* 1 if s[0..n) is all valid UTF-8 (strict, as above; a sequence cut off at the end is not),
 * else 0. */
int utf8_valid(const void *s, size_t n);

/* Encode cp into out; returns the length 1-4, or 0 if cp is a surrogate or above U+10FFFF. */
int utf8_encode(uint32_t cp, unsigned char out[4]);

/* The lowercase of u, as vocab --lower (and models trained on its output) mean it: A-Z for
 * a byte (bytes = 1) or an ASCII code point, else towlower() in the caller's LC_CTYPE (set
 * a UTF-8 locale), kept only when the result is a Unicode scalar value. */
uint32_t utf8_lower(uint32_t u, int bytes);

#endif
