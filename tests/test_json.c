/* test_json.c - the JSON reader of sample --prompts: every kind of value, the escapes and
 * surrogate pairs, NUL inside strings, and each malformed input refused with its offset;
 * random damage to a valid document is refused or read, never a crash (ASan in make test). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "json.h"
#include "rng.h"

static int parses(const char *s)
{
    json_value v;
    char err[200];
    int rc = json_parse(s, strlen(s), &v, err, sizeof err);
    json_free(&v);
    return rc == 0;
}

static void test_values(void)
{
    const char *doc = " {\"prompt\": \"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000z\", \"n\": -12.5e1,"
                      " \"ok\": true, \"no\": false, \"nil\": null, \"list\": [1, [2, []], {}], \"\\u00e9\": 0} ";
    json_value v;
    char err[200] = "";
    CHECK(json_parse(doc, strlen(doc), &v, err, sizeof err) == 0, "%s", err);
    const json_value *p = json_get(&v, "prompt");
    const char want[] = "a\"b\\c/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0z";
    CHECK(p && p->type == JSON_STRING && p->len == sizeof want - 1 && memcmp(p->str, want, p->len) == 0,
          "the string (%zu bytes)", p ? p->len : 0);
    const json_value *n = json_get(&v, "n");
    CHECK(n && n->type == JSON_NUMBER && n->number == -125, "the number");
    CHECK(json_get(&v, "ok")->boolean == 1 && json_get(&v, "no")->type == JSON_BOOL
          && json_get(&v, "nil")->type == JSON_NULL, "the words");
    const json_value *l = json_get(&v, "list");
    CHECK(l && l->type == JSON_ARRAY && l->len == 3 && l->items[1].len == 2 && l->items[1].items[1].len == 0
          && l->items[2].type == JSON_OBJECT, "the arrays");
    CHECK(json_get(&v, "\xc3\xa9") && !json_get(&v, "missing") && !json_get(l, "x"), "lookups");
    json_free(&v);
    CHECK(parses("0") && parses("-0.5") && parses("1E+2") && parses("\"\"") && parses("[]"), "scalars");
}

static void test_refused(void)
{
    static const struct { const char *text, *why; } bad[] = {
        { "", "found the end" }, { "{", "expected a key" }, { "{\"a\" 1}", "expected ':'" },
        { "{\"a\": 1,}", "expected a key" }, { "[1 2]", "expected ','" }, { "[1,]", "unexpected ']'" },
        { "{\"a\": 1, \"a\": 2}", "duplicate key" }, { "01", "text after" }, { "1.", "decimal point" },
        { "1e", "exponent" }, { "-", "needs a digit" }, { "\"abc", "not closed" }, { "\"a\nb\"", "control character" },
        { "\"\\x\"", "unknown escape" }, { "\"\\u12\"", "four hex" }, { "\"\\ud800\"", "lone high surrogate" },
        { "\"\\udc00\"", "lone low surrogate" }, { "\"\\ud800\\u0041\"", "without its low" },
        { "\"\xff\"", "invalid UTF-8" }, { "\"\xc3\"", "UTF-8" }, { "tru", "unexpected 't'" }, { "nul", "unexpected" },
        { "{} {}", "text after" }, { "'a'", "unexpected" }, { "NaN", "unexpected" }, { "[1] x", "text after" },
    };
    int bad_ones = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_value v;
        char err[200] = "";
        int rc = json_parse(bad[i].text, strlen(bad[i].text), &v, err, sizeof err);
        if (rc == 0 || !strstr(err, bad[i].why) || strncmp(err, "at byte ", 8) != 0) {
            fprintf(stderr, "  '%s': rc %d, '%s' (want '%s')\n", bad[i].text, rc, err, bad[i].why);
            bad_ones++;
        }
    }
    CHECK(bad_ones == 0, "%d malformed inputs not refused as they should be", bad_ones);
    /* nesting: 64 levels are read, 65 refused */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    CHECK(!parses((deep[130] = 0, deep)), "65 levels refused");
    char ok[200];
    memset(ok, '[', 64);
    memset(ok + 64, ']', 64);
    ok[128] = 0;
    CHECK(parses(ok), "64 levels read");
}

/* Bytes of a valid request changed, dropped or repeated at random: every result is either
 * read or refused with a message, and freed (ASan and valgrind see the rest). */
static void test_damage(void)
{
    const char *doc = "{\"prompt\": \"ROMEO:\\n\\u00e9\", \"n\": 200, \"temperature\": 0.8, \"stop\": [\"\\n\\n\", \"x\"],"
                      " \"id\": -1.5e3, \"deep\": [[{\"a\": [null, true, false]}]]}";
    size_t n = strlen(doc);
    rng_t r;
    rng_seed(&r, 11);
    int read = 0, refused = 0, silent = 0;
    char buf[256];
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(buf, doc, n);
        size_t len = n;
        int edits = 1 + (int)rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rng_below(&r, len);
            switch (rng_below(&r, 3)) {
            case 0: buf[at] = (char)rng_below(&r, 256); break;
            case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
            default: if (len < sizeof buf - 1) { memmove(buf + at + 1, buf + at, len - at); len++; } break;
            }
        }
        json_value v;
        char err[200] = "";
        if (json_parse(buf, len, &v, err, sizeof err) == 0) {
            read++;
            json_free(&v);
        } else {
            refused++;
            silent += err[0] == 0;
        }
    }
    CHECK(read > 100 && refused > 1000 && silent == 0, "read %d, refused %d, %d without a message", read, refused, silent);
}

int main(void)
{
    RUN(test_values);
    RUN(test_refused);
    RUN(test_damage);
    return check_summary();
}
