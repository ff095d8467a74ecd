/* json.c - a small strict JSON reader; see json.h. */
#define _GNU_SOURCE                   /* strtod_l */
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "utf8.h"
#include "util.h"

typedef struct parser {
    const unsigned char *p;
    size_t n, i;
    char *err;
    size_t cap;
    int failed;
} parser;

static int fail_at(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(parser *ps, const char *fmt, ...)
{
    if (!ps->failed && ps->err && ps->cap) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(ps->err, ps->cap, "at byte %zu: %s", ps->i, msg);
    }
    ps->failed = 1;
    return -1;
}

static void skip_ws(parser *ps)
{
    while (ps->i < ps->n && (ps->p[ps->i] == ' ' || ps->p[ps->i] == '\t' || ps->p[ps->i] == '\n'
                             || ps->p[ps->i] == '\r'))
        ps->i++;
}

/* Numbers are read in the "C" locale, whatever the caller's LC_NUMERIC. */
static locale_t c_loc;
static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static void c_open(void) { c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static int parse_number(parser *ps, json_value *v)
{
    size_t s = ps->i;
    const unsigned char *p = ps->p;
    #define DIGITS() while (ps->i < ps->n && p[ps->i] >= '0' && p[ps->i] <= '9') ps->i++
    if (ps->i < ps->n && p[ps->i] == '-')
        ps->i++;
    if (ps->i < ps->n && p[ps->i] == '0')
        ps->i++;
    else if (ps->i < ps->n && p[ps->i] >= '1' && p[ps->i] <= '9') {
        DIGITS();
    } else
        return fail_at(ps, "a number needs a digit");
    if (ps->i < ps->n && p[ps->i] == '.') {
        ps->i++;
        if (!(ps->i < ps->n && p[ps->i] >= '0' && p[ps->i] <= '9'))
            return fail_at(ps, "a digit must follow the decimal point");
        DIGITS();
    }
    if (ps->i < ps->n && (p[ps->i] == 'e' || p[ps->i] == 'E')) {
        ps->i++;
        if (ps->i < ps->n && (p[ps->i] == '+' || p[ps->i] == '-'))
            ps->i++;
        if (!(ps->i < ps->n && p[ps->i] >= '0' && p[ps->i] <= '9'))
            return fail_at(ps, "a digit must follow the exponent");
        DIGITS();
    }
    #undef DIGITS
    char buf[64];
    size_t len = ps->i - s;
    if (len >= sizeof buf)
        return fail_at(ps, "a number of %zu characters", len);
    memcpy(buf, p + s, len);
    buf[len] = 0;
    pthread_once(&c_once, c_open);
    v->type = JSON_NUMBER;
    v->number = c_loc ? strtod_l(buf, NULL, c_loc) : strtod(buf, NULL);
    return 0;
}

static int hex4(parser *ps, uint32_t *u)
{
    if (ps->n - ps->i < 4)
        return fail_at(ps, "\\u needs four hex digits");
    *u = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = ps->p[ps->i++];
        int d = c >= '0' && c <= '9' ? (int)(c - '0') : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
              : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10) : -1;
        if (d < 0)
            return fail_at(ps, "\\u needs four hex digits");
        *u = *u * 16 + (uint32_t)d;
    }
    return 0;
}

/* A string at ps->i (its opening quote): its bytes into a new buffer. */
static int parse_string(parser *ps, char **out, size_t *olen)
{
    ps->i++;                                     /* the quote */
    size_t start = ps->i;
    /* the unescaped text is never longer than the escaped */
    size_t end = start;
    while (end < ps->n && ps->p[end] != '"')
        end += ps->p[end] == '\\' && end + 1 < ps->n ? 2 : 1;
    char *s = malloc(end - start + 1);
    if (!s)
        return fail_at(ps, "out of memory");
    size_t o = 0;
    for (;;) {
        if (ps->i >= ps->n) {
            free(s);
            return fail_at(ps, "a string is not closed");
        }
        unsigned c = ps->p[ps->i];
        if (c == '"') {
            ps->i++;
            break;
        }
        if (c < 0x20) {
            free(s);
            return fail_at(ps, "control character U+%04X in a string (escape it)", c);
        }
        if (c == '\\') {
            if (ps->i + 1 >= ps->n) {
                free(s);
                return fail_at(ps, "a string is not closed");
            }
            unsigned e = ps->p[ps->i + 1];
            const char *m = strchr("\"\\/bfnrt", (int)e);
            if (e && m) {
                s[o++] = "\"\\/\b\f\n\r\t"[m - "\"\\/bfnrt"];
                ps->i += 2;
                continue;
            }
            if (e != 'u') {
                free(s);
                return fail_at(ps, "unknown escape \\%c", e >= 0x20 && e < 0x7F ? (char)e : '?');
            }
            ps->i += 2;
            uint32_t u, lo;
            if (hex4(ps, &u) < 0) {
                free(s);
                return -1;
            }
            if (u >= 0xDC00 && u <= 0xDFFF) {
                free(s);
                return fail_at(ps, "a lone low surrogate \\u%04X", u);
            }
            if (u >= 0xD800 && u <= 0xDBFF) {        /* a pair: \uD83D\uDE00 */
                if (!(ps->n - ps->i >= 2 && ps->p[ps->i] == '\\' && ps->p[ps->i + 1] == 'u')) {
                    free(s);
                    return fail_at(ps, "a lone high surrogate \\u%04X", u);
                }
                ps->i += 2;
                if (hex4(ps, &lo) < 0) {
                    free(s);
                    return -1;
                }
                if (!(lo >= 0xDC00 && lo <= 0xDFFF)) {
                    free(s);
                    return fail_at(ps, "a high surrogate \\u%04X without its low one", u);
                }
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += (size_t)utf8_encode(u, (unsigned char *)s + o);
            continue;
        }
        if (c < 0x80) {
            s[o++] = (char)c;
            ps->i++;
            continue;
        }
        uint32_t u;
        const char *why = "";
        int bad, l = utf8_decode(ps->p + ps->i, ps->n - ps->i, &u, &why, &bad);
        if (l <= 0) {
            free(s);
            return fail_at(ps, "invalid UTF-8 (%s)", l == 0 ? "cut off" : why);
        }
        memcpy(s + o, ps->p + ps->i, (size_t)l);
        o += (size_t)l;
        ps->i += (size_t)l;
    }
    s[o] = 0;
    *out = s;
    *olen = o;
    return 0;
}

static int parse_value(parser *ps, json_value *v, int depth);

/* Append an item to a growing array of values (and keys). */
static int grow(parser *ps, json_value *v, size_t *cap, int keys)
{
    if (v->len < *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 4;
    json_value *it = realloc(v->items, nc * sizeof *it);
    if (it)
        v->items = it;
    if (!it)
        return fail_at(ps, "out of memory");
    if (keys) {
        char **k = realloc(v->keys, nc * sizeof *k);
        if (k)
            v->keys = k;
        size_t *kl = k ? realloc(v->key_len, nc * sizeof *kl) : NULL;
        if (kl)
            v->key_len = kl;
        if (!k || !kl)
            return fail_at(ps, "out of memory");
    }
    *cap = nc;
    return 0;
}

static int parse_container(parser *ps, json_value *v, int depth, int object)
{
    size_t cap = 0;
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    ps->i++;                                     /* [ or { */
    skip_ws(ps);
    if (ps->i < ps->n && ps->p[ps->i] == (object ? '}' : ']')) {
        ps->i++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (grow(ps, v, &cap, object) < 0)
            return -1;
        if (object) {
            if (ps->i >= ps->n || ps->p[ps->i] != '"')
                return fail_at(ps, "expected a key (a string)");
            char *key;
            size_t kl;
            if (parse_string(ps, &key, &kl) < 0)
                return -1;
            for (size_t j = 0; j < v->len; j++)
                if (v->key_len[j] == kl && memcmp(v->keys[j], key, kl) == 0) {
                    free(key);
                    return fail_at(ps, "duplicate key \"%.40s\"", v->keys[j]);
                }
            v->keys[v->len] = key;
            v->key_len[v->len] = kl;
            skip_ws(ps);
            if (ps->i >= ps->n || ps->p[ps->i] != ':') {
                free(key);
                return fail_at(ps, "expected ':'");
            }
            ps->i++;
        }
        memset(&v->items[v->len], 0, sizeof *v->items);
        v->len++;                                /* (counted now: freed with v if it fails) */
        if (parse_value(ps, &v->items[v->len - 1], depth + 1) < 0)
            return -1;
        skip_ws(ps);
        if (ps->i < ps->n && ps->p[ps->i] == ',') {
            ps->i++;
            continue;
        }
        if (ps->i < ps->n && ps->p[ps->i] == (object ? '}' : ']')) {
            ps->i++;
            return 0;
        }
        return fail_at(ps, "expected ',' or '%c'", object ? '}' : ']');
    }
}

static int parse_value(parser *ps, json_value *v, int depth)
{
    skip_ws(ps);
    if (ps->i >= ps->n)
        return fail_at(ps, "expected a value, found the end");
    if (depth >= JSON_MAX_DEPTH)            /* depth 0: the outermost value */
        return fail_at(ps, "nested deeper than %d", JSON_MAX_DEPTH);
    unsigned c = ps->p[ps->i];
    static const char *const words[] = { "null", "true", "false" };
    for (int w = 0; w < 3; w++) {
        size_t l = strlen(words[w]);
        if (ps->n - ps->i >= l && memcmp(ps->p + ps->i, words[w], l) == 0) {
            ps->i += l;
            v->type = w == 0 ? JSON_NULL : JSON_BOOL;
            v->boolean = w == 1;
            return 0;
        }
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return parse_string(ps, &v->str, &v->len);
    }
    if (c == '[' || c == '{')
        return parse_container(ps, v, depth, c == '{');
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(ps, v);
    return fail_at(ps, "unexpected %s%c%s", c >= 0x20 && c < 0x7F ? "'" : "byte 0x",
                   c >= 0x20 && c < 0x7F ? (char)c : '?', c >= 0x20 && c < 0x7F ? "'" : "");
}

int json_parse(const char *text, size_t n, json_value *v, char *err, size_t cap)
{
    parser ps = { .p = (const unsigned char *)text, .n = n, .err = err, .cap = cap };
    memset(v, 0, sizeof *v);
    if (parse_value(&ps, v, 0) == 0) {
        skip_ws(&ps);
        if (ps.i == n)
            return 0;
        fail_at(&ps, "text after the value");
    }
    json_free(v);
    return -1;
}

void json_free(json_value *v)
{
    if (!v)
        return;
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++) {
            json_free(&v->items[i]);
            if (v->keys)
                free(v->keys[i]);
        }
    free(v->items);
    free(v->keys);
    free(v->key_len);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const json_value *json_get(const json_value *o, const char *key)
{
    if (!o || o->type != JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < o->len; i++)
        if (o->key_len[i] == kl && memcmp(o->keys[i], key, kl) == 0)
            return &o->items[i];
    return NULL;
}

const char *json_type_name(json_type t)
{
    static const char *const names[] = { "null", "a boolean", "a number", "a string", "an array", "an object" };
    return t <= JSON_OBJECT ? names[t] : "?";
}
