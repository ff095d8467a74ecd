/* fuzz_utf8.c - libFuzzer harness for lib/utf8.c.
 *
 * Invariants checked on any bytes:
 *   - utf8_decode returns -1, 0 or 1..4; 0 only when n < 4 (a prefix that may still complete);
 *     -1 sets a reason and 1 <= *bad <= min(n, 4)
 *   - a decoded code point is a scalar value (<= U+10FFFF, not a surrogate) and
 *     utf8_encode gives back exactly the bytes consumed (so no overlong form is accepted)
 *   - an incomplete prefix becomes a -1 or a full decode once more bytes arrive, never a
 *     decode of different length than the bytes it had
 *   - for every code point, encode then decode is the identity (checked on 4 from the input)
 * and the whole input decodes the same however it is split into blocks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "utf8.h"

static void fuzz_utf8_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_utf8: invariant violated: %s\n", what);
        abort();
    }
}

static void fuzz_utf8_roundtrip(uint32_t cp)
{
    unsigned char b[4];
    int len = utf8_encode(cp, b);
    int scalar = cp <= UTF8_MAX_CP && !(cp >= 0xD800 && cp <= 0xDFFF);
    fuzz_utf8_check(scalar ? len >= 1 && len <= 4 : len == 0, "encode accepts exactly the scalar values");
    if (!len)
        return;
    uint32_t back = 0xFFFFFFFF;
    const char *why = NULL;
    int bad = 0;
    fuzz_utf8_check(utf8_decode(b, (size_t)len, &back, &why, &bad) == len && back == cp, "decode(encode(cp)) == cp");
    for (int n = 1; n < len; n++)
        fuzz_utf8_check(utf8_decode(b, (size_t)n, &back, &why, &bad) == 0, "a prefix of a valid sequence is incomplete");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        uint32_t cp = 0xFFFFFFFF;
        const char *why = NULL;
        int bad = 0;
        size_t n = size - i;
        int len = utf8_decode(data + i, n, &cp, &why, &bad);
        fuzz_utf8_check(len >= -1 && len <= 4, "return value");
        if (len < 0) {
            fuzz_utf8_check(why != NULL && *why, "a reason");
            fuzz_utf8_check(bad >= 1 && (size_t)bad <= (n < 4 ? n : 4), "bad within the input");
            /* the same verdict on any longer view that contains the bad bytes */
            for (size_t m = (size_t)bad; m <= n && m <= 4; m++)
                fuzz_utf8_check(utf8_decode(data + i, m, &cp, &why, &bad) == -1, "error on a prefix holding the bad bytes");
            i++;
            continue;
        }
        if (len == 0) {
            fuzz_utf8_check(n < 4, "incomplete only with fewer than 4 bytes");
            break;
        }
        fuzz_utf8_check((size_t)len <= n, "length within input");
        fuzz_utf8_check(cp <= UTF8_MAX_CP && !(cp >= 0xD800 && cp <= 0xDFFF), "a scalar value");
        unsigned char b[4];
        fuzz_utf8_check(utf8_encode(cp, b) == len && memcmp(b, data + i, (size_t)len) == 0,
                        "encode gives back the decoded bytes");
        for (int m = 1; m < len; m++)
            fuzz_utf8_check(utf8_decode(data + i, (size_t)m, &cp, &why, &bad) == 0, "prefix incomplete");
        i += (size_t)len;
    }
    for (size_t k = 0; k + 4 <= size && k < 16; k += 4) {
        uint32_t cp;
        memcpy(&cp, data + k, 4);
        fuzz_utf8_roundtrip(cp);
        fuzz_utf8_roundtrip(cp % 0x110000);
    }
    return 0;
}
