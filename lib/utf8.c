/* utf8.c - strict UTF-8 decoding and encoding; see utf8.h. */
#include <wctype.h>
#include "utf8.h"

uint32_t utf8_lower(uint32_t u, int bytes)
{
    if (u < 0x80)
        return u >= 'A' && u <= 'Z' ? u + 32 : u;
    if (bytes)
        return u;
    uint32_t l = (uint32_t)towlower((wint_t)u);
    return l <= UTF8_MAX_CP && !(l >= 0xD800 && l <= 0xDFFF) ? l : u;
}

int utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, const char **why, int *bad)
{
    unsigned c = p[0];
    int len;
    uint32_t v, min_second = 0x80, max_second = 0xBF;
    *bad = 1;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC0) {
        *why = "unexpected continuation byte";
        return -1;
    }
    if (c < 0xC2) {                       /* C0, C1: a 2-byte form of an ASCII character */
        *why = "overlong encoding";
        if (n >= 2 && (p[1] & 0xC0) == 0x80)
            *bad = 2;
        return -1;
    }
    if (c < 0xE0) {
        len = 2;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            min_second = 0xA0;            /* below: overlong */
        else if (c == 0xED)
            max_second = 0x9F;            /* above: surrogates */
    } else if (c < 0xF5) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            min_second = 0x90;            /* below: overlong */
        else if (c == 0xF4)
            max_second = 0x8F;            /* above: beyond U+10FFFF */
    } else {
        *why = c < 0xF8 ? "code point above U+10FFFF" : "invalid byte";
        return -1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return 0;                     /* incomplete so far */
        unsigned b = p[i];
        if ((b & 0xC0) != 0x80) {
            *why = "missing continuation byte";
            *bad = i + 1;
            return -1;
        }
        if (i == 1 && (b < min_second || b > max_second)) {
            *bad = 2;
            *why = c == 0xED ? "surrogate code point" : c == 0xF4 ? "code point above U+10FFFF"
                                                                   : "overlong encoding";
            return -1;
        }
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

int utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > UTF8_MAX_CP)
        return 0;
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {            /* ASCII: the common case */
            i++;
            continue;
        }
        uint32_t cp;
        const char *why;
        int bad, len = utf8_decode(p + i, n - i, &cp, &why, &bad);
        if (len <= 0)
            return 0;
        i += (size_t)len;
    }
    return 1;
}
