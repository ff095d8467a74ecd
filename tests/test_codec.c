/* test_codec.c - the text codec: encoding with each policy for unknown characters, in blocks
 * cut anywhere, its messages; decoding with the U+FFFD fallback; the JSON and TSV escapes
 * (every output parses, whatever the bytes); lowercasing through the library's own locale. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "codec.h"
#include "rng.h"
#include "utf8.h"

/* a, b, c, é (U+00E9), — (U+2014), 😀 (U+1F600), and NUL */
static const uint32_t VOC[] = { 0, 'a', 'b', 'c', 0xE9, 0x2014, 0x1F600 };
#define NV 7

static void test_encode_policies(void)
{
    codec c;
    char err[200], msg[200];
    CHECK(codec_init(&c, VOC, NV, 0, 0, err, sizeof err) == 0, "init: %s", err);
    const char *t = "ab\xc3\xa9z\xe2\x80\x94" "c";     /* a b é z — c */
    size_t n = strlen(t), k, used;
    int32_t out[16];
    codec_pos pos = { 0 };
    int rc = codec_encode(&c, t, n, 0, CODEC_REFUSE, 0, out, &k, &used, &pos);
    CHECK(rc == CODEC_EUNKNOWN && k == 3 && used == 4 && pos.u == 'z' && pos.chars == 3 && pos.byte == 4,
          "refuse: rc %d k %zu used %zu u %u chars %llu", rc, k, used, pos.u, (unsigned long long)pos.chars);
    codec_error(&c, rc, &pos, msg, sizeof msg);
    CHECK(strcmp(msg, "character 'z' (U+007A) at character 3 (byte 4) is not in the vocabulary") == 0, "%s", msg);
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, t, n, 0, CODEC_SKIP, 0, out, &k, &used, &pos);
    CHECK(rc == 0 && k == 5 && used == n && pos.skipped == 1 && pos.first_u == 'z' && pos.first_char == 3
          && out[0] == 1 && out[2] == 4 && out[3] == 5 && out[4] == 3, "skip: rc %d k %zu", rc, k);
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, t, n, 0, CODEC_REPLACE, 2, out, &k, &used, &pos);
    CHECK(rc == 0 && k == 6 && out[3] == 2 && pos.replaced == 1 && pos.chars == 6, "replace: rc %d k %zu", rc, k);
    /* a NUL byte is a character: in this vocabulary, index 0 */
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, "a\0b", 3, 0, CODEC_REFUSE, 0, out, &k, &used, &pos);
    CHECK(rc == 0 && k == 3 && out[1] == 0, "NUL: rc %d k %zu", rc, k);
    /* invalid and cut-off UTF-8 */
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, "a\xc0\xaf", 3, 0, CODEC_SKIP, 0, out, &k, &used, &pos);
    codec_error(&c, rc, &pos, msg, sizeof msg);
    CHECK(rc == CODEC_EUTF8 && k == 1 && used == 1 && strstr(msg, "invalid UTF-8 at byte 1 (character 1): overlong"),
          "invalid: rc %d: %s", rc, msg);
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, "a\xe2\x80", 3, 0, CODEC_SKIP, 0, out, &k, &used, &pos);
    codec_error(&c, rc, &pos, msg, sizeof msg);
    CHECK(rc == CODEC_ECUT && k == 1 && strstr(msg, "cut off") && strstr(msg, "E2 80"), "cut: rc %d: %s", rc, msg);
}

/* The same text in blocks cut at every byte gives the indices of one call. */
static void test_encode_blocks(void)
{
    codec c;
    codec_init(&c, VOC, NV, 0, 0, NULL, 0);
    const char *t = "\xf0\x9f\x98\x80" "a\xc3\xa9" "b\xe2\x80\x94\xf0\x9f\x98\x80" "c";
    size_t n = strlen(t), k, used;
    int32_t want[16], got[32];
    codec_pos pos = { 0 };
    size_t nw;
    codec_encode(&c, t, n, 0, CODEC_REFUSE, 0, want, &nw, &used, &pos);
    int bad = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        codec_pos p2 = { 0 };
        size_t ng = 0, carry;
        int rc = codec_encode(&c, t, cut, 1, CODEC_REFUSE, 0, got, &k, &used, &p2);
        ng += k;
        carry = used;
        rc |= codec_encode(&c, t + carry, n - carry, 0, CODEC_REFUSE, 0, got + ng, &k, &used, &p2);
        ng += k;
        bad += rc != 0 || ng != nw || memcmp(got, want, nw * sizeof *got) != 0 || p2.byte != n;
    }
    CHECK(nw == 7 && bad == 0, "%d of %zu cuts differ", bad, n + 1);
}

static void test_bytes_and_lower(void)
{
    static const uint32_t bv[] = { 0, 'a', 0xE9 };
    codec c;
    codec_init(&c, bv, 3, 1, 0, NULL, 0);
    int32_t out[8];
    size_t k, used;
    codec_pos pos = { 0 };
    char msg[200];
    int rc = codec_encode(&c, "a\0\xe9", 3, 0, CODEC_REFUSE, 0, out, &k, &used, &pos);
    CHECK(rc == 0 && k == 3 && out[0] == 1 && out[1] == 0 && out[2] == 2, "bytes: rc %d", rc);
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, "a\xc3", 2, 0, CODEC_REFUSE, 0, out, &k, &used, &pos);
    codec_error(&c, rc, &pos, msg, sizeof msg);
    CHECK(rc == CODEC_EUNKNOWN && strcmp(msg, "byte 0xC3 at byte 1 is not in the vocabulary") == 0, "%s", msg);
    unsigned char u[4];
    CHECK(codec_decode_char(&c, 2, u) == 1 && u[0] == 0xE9, "a byte decodes to itself");

    /* lowercasing: É (U+00C9) reads as é, whatever the caller's locale (still "C" here) */
    static const uint32_t lv[] = { 'a', 0xE9, 0x3B1 };
    char err[200];
    if (codec_init(&c, lv, 3, 0, 1, err, sizeof err) < 0) {
        SKIP("lowercase", err);
        return;
    }
    memset(&pos, 0, sizeof pos);
    rc = codec_encode(&c, "A\xc3\x89\xce\x91", 5, 0, CODEC_REFUSE, 0, out, &k, &used, &pos);
    CHECK(rc == 0 && k == 3 && out[0] == 0 && out[1] == 1 && out[2] == 2, "lower: rc %d k %zu", rc, k);
    CHECK(strcmp(setlocale(LC_CTYPE, NULL), "C") == 0, "the caller's locale changed to %s", setlocale(LC_CTYPE, NULL));
}

static void test_decode(void)
{
    static const uint32_t v[] = { 'a', 0xE9, 0xD800, 0x1F600 };   /* U+D800: no UTF-8 for it */
    codec c;
    codec_init(&c, v, 4, 0, 0, NULL, 0);
    int32_t idx[] = { 0, 1, 2, 3, 7, -1 };
    char out[64];
    size_t n = codec_decode(&c, idx, 6, out);
    const char *want = "a\xc3\xa9\xef\xbf\xbd\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd";
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0, "decode: %zu bytes", n);
}

/* s as codec_json writes it, parsed back by a strict JSON string reader written here: the
 * bytes it stands for (UTF-8), or -1 when the output is not a valid JSON string body. */
static int json_unescape(const char *e, size_t n, unsigned char *out, size_t *on)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)e[i];
        if (ch < 0x20 || ch == '"')
            return -1;
        if (ch == '\\') {
            if (i + 1 >= n)
                return -1;
            char x = e[i + 1];
            const char *m = strchr("\"\\/bfnrt", x);
            if (m && x) {
                out[o++] = (unsigned char)"\"\\/\b\f\n\r\t"[m - "\"\\/bfnrt"];
                i += 2;
                continue;
            }
            if (x != 'u' || i + 6 > n)
                return -1;
            char hex[5] = { e[i + 2], e[i + 3], e[i + 4], e[i + 5], 0 };
            char *end;
            unsigned long u = strtoul(hex, &end, 16);
            if (*end || (u >= 0xD800 && u <= 0xDFFF))
                return -1;
            o += (size_t)utf8_encode((uint32_t)u, out + o);
            i += 6;
            continue;
        }
        uint32_t u;
        const char *why;
        int bad, l = utf8_decode((const unsigned char *)e + i, n - i, &u, &why, &bad);
        if (l <= 0)
            return -1;
        memcpy(out + o, e + i, (size_t)l);
        o += (size_t)l;
        i += (size_t)l;
    }
    *on = o;
    return 0;
}

static void test_json(void)
{
    char out[CODEC_JSON_MAX(64)];
    unsigned char back[CODEC_JSON_MAX(64)];
    size_t bn;
    const char *s = "q\"b\\n\nt\tc\x01" "d\x7f" "\xc3\xa9";
    size_t n = codec_json(out, s, strlen(s), 0);
    const char *want = "q\\\"b\\\\n\\nt\\tc\\u0001d\\u007f\xc3\xa9";
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0, "escapes: %.*s", (int)n, out);
    /* invalid UTF-8 becomes U+FFFD; bytes mode gives the bytes as code points */
    n = codec_json(out, "a\xff\xc3", 3, 0);
    CHECK(n == 13 && memcmp(out, "a\\ufffd\\ufffd", 13) == 0, "invalid: %.*s", (int)n, out);
    n = codec_json(out, "a\xe9\xc3\xa9", 4, CODEC_JSON_BYTES);
    CHECK(n == 19 && memcmp(out, "a\\u00e9\\u00c3\\u00a9", 19) == 0, "bytes: %.*s", (int)n, out);
    /* random bytes: the output always parses; valid UTF-8 input comes back as it was */
    rng_t r;
    rng_seed(&r, 3);
    int bad = 0, same = 0, valid = 0;
    for (int trial = 0; trial < 20000; trial++) {
        unsigned char in[64];
        int len = (int)rng_below(&r, 64);
        for (int i = 0; i < len; i++) {
            uint64_t kind = rng_below(&r, 4);
            in[i] = (unsigned char)(kind == 0 ? rng_below(&r, 0x20) : kind == 1 ? 0x20 + rng_below(&r, 0x60)
                                               : 0x80 + rng_below(&r, 0x80));
        }
        for (int flags = 0; flags < 2; flags++) {
            n = codec_json(out, in, (size_t)len, flags);
            if (n > CODEC_JSON_MAX(len) || json_unescape(out, n, back, &bn) < 0) {
                bad++;
                continue;
            }
            int ok = 1;
            for (int i = 0; i < len;) {             /* is the input valid UTF-8? */
                uint32_t u;
                const char *why;
                int b, l = utf8_decode(in + i, (size_t)(len - i), &u, &why, &b);
                if (l <= 0) {
                    ok = 0;
                    break;
                }
                i += l;
            }
            if (flags == 0 && ok) {
                valid++;
                same += bn == (size_t)len && memcmp(back, in, bn) == 0;
            }
        }
    }
    CHECK(bad == 0, "%d outputs do not parse", bad);
    CHECK(same == valid && valid > 100, "%d of %d valid inputs come back as they were", same, valid);
}

static void test_tsv(void)
{
    char out[64];
    const char *s = "a\tb\nc\\d\re";
    size_t n = codec_tsv(out, s, strlen(s));
    CHECK(n == 13 && memcmp(out, "a\\tb\\nc\\\\d\\re", 13) == 0 && !memchr(out, '\t', n) && !memchr(out, '\n', n),
          "tsv: %.*s", (int)n, out);
}

int main(void)
{
    RUN(test_encode_policies);
    RUN(test_encode_blocks);
    RUN(test_bytes_and_lower);
    RUN(test_decode);
    RUN(test_json);
    RUN(test_tsv);
    return check_summary();
}
