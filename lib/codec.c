/* codec.c - text to vocabulary indices and back; see codec.h. */
#include <stdio.h>
#include <string.h>
#include "codec.h"
#include "utf8.h"
#include "util.h"

int codec_init(codec *c, const uint32_t *vocab, int V, int byte_unit, int lower, char *err,
               size_t cap)
{
    *c = (codec){ .vocab = vocab, .V = V, .byte_unit = byte_unit, .lower = lower };
    if (lower && !byte_unit && utf8_lower_ready() < 0)
        return lib_fail(err, cap, "the vocabulary is lowercased, but the C.UTF-8 locale (its case"
                        " mapping) is not available");
    return 0;
}

int codec_index(const codec *c, uint32_t u)
{
    int lo = 0, hi = c->V - 1;                    /* the vocabulary is sorted ascending */
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (c->vocab[mid] == u)
            return mid;
        if (c->vocab[mid] < u)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int codec_char(const codec *c, const unsigned char *p, size_t n, uint32_t *u, int *index,
               const char **why)
{
    int len = 1, bad;
    if (c->byte_unit)
        *u = p[0];
    else if ((len = utf8_decode(p, n, u, why, &bad)) <= 0)
        return len;
    if (c->lower)
        *u = utf8_lower(*u, c->byte_unit);
    *index = codec_index(c, *u);
    return len;
}

int codec_encode(const codec *c, const void *text, size_t n, int more, int unknown, int replacement,
                 int32_t *out, size_t *nout, size_t *used, codec_pos *pos)
{
    const unsigned char *p = text;
    size_t i = 0, k = 0;
    int rc = 0;
    while (i < n) {
        uint32_t u = 0;
        int x = -1;
        const char *why = "";
        int len = codec_char(c, p + i, n - i, &u, &x, &why);
        if (len == 0 && more)
            break;                                /* the rest comes with the next block */
        if (len <= 0) {
            rc = len == 0 ? CODEC_ECUT : CODEC_EUTF8;
            pos->why = len == 0 ? "sequence cut off at the end" : why;
            pos->len = (int)(n - i < 4 ? n - i : 4);
            memcpy(pos->bytes, p + i, (size_t)pos->len);
            break;
        }
        if (x < 0) {
            if (unknown == CODEC_REFUSE) {
                rc = CODEC_EUNKNOWN;
                pos->u = u;
                pos->len = len;
                memcpy(pos->bytes, p + i, (size_t)len);
                break;
            }
            if (pos->skipped + pos->replaced == 0) {
                pos->first_u = u;
                pos->first_char = pos->chars;
                pos->first_byte = pos->byte;
            }
            if (unknown == CODEC_SKIP)
                pos->skipped++;
            else {
                pos->replaced++;
                out[k++] = replacement;
            }
        } else {
            out[k++] = x;
        }
        i += (size_t)len;
        pos->byte += (uint64_t)len;
        pos->chars++;
    }
    *nout = k;
    *used = i;
    return rc;
}

const char *codec_describe(uint32_t u, int bytes, char *buf, size_t cap)
{
    if (bytes) {
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

const char *codec_error(const codec *c, int rc, const codec_pos *pos, char *buf, size_t cap)
{
    char d[64], hex[16] = "";
    if (rc == CODEC_EUNKNOWN) {
        if (c->byte_unit)
            snprintf(buf, cap, "%s at byte %llu is not in the vocabulary",
                     codec_describe(pos->u, 1, d, sizeof d), (unsigned long long)pos->byte);
        else
            snprintf(buf, cap, "%s at character %llu (byte %llu) is not in the vocabulary",
                     codec_describe(pos->u, 0, d, sizeof d), (unsigned long long)pos->chars,
                     (unsigned long long)pos->byte);
        return buf;
    }
    for (int i = 0, len = 0; i < pos->len; i++)
        len += snprintf(hex + len, sizeof hex - (size_t)len, "%s%02X", i ? " " : "", pos->bytes[i]);
    if (rc == CODEC_EUTF8 || rc == CODEC_ECUT)
        snprintf(buf, cap, "invalid UTF-8 at byte %llu (character %llu): %s (%s %s)",
                 (unsigned long long)pos->byte, (unsigned long long)pos->chars, pos->why,
                 pos->len > 1 ? "bytes" : "byte", hex);
    else
        snprintf(buf, cap, "error %d", rc);
    return buf;
}

int codec_decode_char(const codec *c, int i, unsigned char out[4])
{
    if (i >= 0 && i < c->V && c->byte_unit) {
        out[0] = (unsigned char)c->vocab[i];
        return 1;
    }
    int n = i >= 0 && i < c->V ? utf8_encode(c->vocab[i], out) : 0;
    if (n == 0) {                                 /* U+FFFD */
        memcpy(out, "\xef\xbf\xbd", 3);
        n = 3;
    }
    return n;
}

size_t codec_decode(const codec *c, const int32_t *idx, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)codec_decode_char(c, idx[i], (unsigned char *)out + o);
    return o;
}

size_t codec_json(char *out, const void *s, size_t n, int flags)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c >= 0x80) {
            uint32_t u;
            const char *why;
            int bad, len = (flags & CODEC_JSON_BYTES) ? -1 : utf8_decode(p + i, n - i, &u, &why, &bad);
            if (len > 0) {                        /* valid UTF-8: as it is */
                memcpy(out + o, p + i, (size_t)len);
                o += (size_t)len;
                i += (size_t)len;
                continue;
            }
            if (flags & CODEC_JSON_BYTES) {       /* the byte as the code point of its value */
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hexd[c >> 4];
                out[o + 5] = hexd[c & 15];
            } else
                memcpy(out + o, "\\ufffd", 6);
            o += 6;
            i++;
            continue;
        }
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (e) {
            out[o++] = e[0];
            out[o++] = e[1];
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hexd[c >> 4];
            out[o + 5] = hexd[c & 15];
            o += 6;
        } else
            out[o++] = (char)c;
        i++;
    }
    return o;
}

size_t codec_tsv(char *out, const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        char e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
        if (e) {
            out[o++] = '\\';
            out[o++] = e;
        } else
            out[o++] = (char)c;
    }
    return o;
}
