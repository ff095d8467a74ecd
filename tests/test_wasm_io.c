/* test_wasm_io.c - the web page's own gzip decoder and MessagePack reader and writer
 * (web/wasm/inflate.c, msgpack.c: make wasm builds lib/ over them) against Debian's zlib and
 * libmsgpack-c, here on this machine. Both are linked in (tests/wasm_own.c renames ours
 * own_NAME) and driven by the same code (tests/wasm_io.h): a case passes when both give the
 * same bytes and end the same way, with the same message for a damaged stream, so the page
 * reports what the tools report. The streams are made with Debian's zlib and msgpack-c: every
 * level, strategy, window and memory size, flushes and parameter changes (stored, fixed and
 * dynamic blocks), gzip headers with every field, the zlib and raw wrappers, concatenated
 * members; then the same cut, bit-flipped and followed by garbage, and random bytes in every
 * block type. make check-san runs it under AddressSanitizer and UBSan: a damaged input must be
 * refused, never read past.
 *
 * Random data comes from rng, seeded from the test's identity (this file and the test's name)
 * plus CHARPIPE_TEST_SEED (unset: 0), so each test draws the same whatever ran before it. */
#include <zlib.h>
#include <msgpack.h>
#include "check.h"
#include "rng.h"
#define IO_NAME(name) ref_##name
#include "wasm_io.h"

void own_inflate_all(const uint8_t *in, size_t n, int wbits, size_t ichunk, size_t ochunk, io_result *r);
void own_unpack_all(const uint8_t *in, size_t n, size_t ichunk, io_result *r);
void own_pack_values(const int64_t *v, size_t n, io_result *r);
int own_init_rc(int wbits);

static rng_t rng;
static io_result ref, own;
static int ncase;                     /* cases compared in the running test */

static uint64_t seed_of(const char *test)
{
    const char *off = getenv("CHARPIPE_TEST_SEED");
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *s = __FILE__ ":"; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    for (const char *s = test; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h + (off ? strtoull(off, NULL, 10) : 0);
}
#define RUN_SEEDED(fn) do { rng_seed(&rng, seed_of(#fn)); ncase = 0; RUN(fn); } while (0)

static const char *end_name(int e)
{
    return e == IO_END ? "end" : e == IO_EMPTY ? "empty" : e == IO_TRUNCATED ? "truncated" : "error";
}

/* The two results equal, else a failure naming the case (what) and the first difference. */
static void same(const char *what)
{
    ncase++;
    size_t k = 0;
    while (k < ref.n && k < own.n && ref.p[k] == own.p[k])
        k++;
    int ok = ref.end == own.end && strcmp(ref.msg, own.msg) == 0 && ref.n == own.n && k == ref.n
             && ref.members == own.members;
    CHECK(ok, "%s: zlib/msgpack-c: %s %s, %zu bytes, %d members; ours: %s %s, %zu bytes, %d members;"
          " they differ from byte %zu", what, end_name(ref.end), ref.msg, ref.n, ref.members,
          end_name(own.end), own.msg, own.n, own.members, k);
}

/* in[0..n) inflated by both (wbits as inflateInit2 takes it), in the pieces and room sizes
 * of case number ncase (a byte at a time, up to all of it), compared. */
static void inflate_both(const uint8_t *in, size_t n, int wbits, const char *what)
{
    static const size_t ichunk[] = { 1, 5, 300, 4096, 1 << 20 }, ochunk[] = { 1, 258, 7000, 1 << 16 };
    size_t ic = ichunk[ncase % 5], oc = ochunk[ncase / 5 % 4];
    char label[200];
    snprintf(label, sizeof label, "%s (windowBits %d, input by %zu, room %zu)", what, wbits, ic, oc);
    ref_inflate_all(in, n, wbits, ic, oc, &ref);
    own_inflate_all(in, n, wbits, ic, oc, &own);
    same(label);
}

/* ---- data and streams made with Debian's zlib ---- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void add(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {          /* doubling: ASan's realloc copies every time it is called */
        b->cap = 2 * (b->n + n) + 64;
        if (!(b->p = realloc(b->p, b->cap)))
            abort();
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* n bytes of kind: 0 random, 1 words from a small alphabet, 2 runs, 3 a block repeated from
 * near the window's reach (32 KiB back), 4 all one byte. */
static bytes make_data(int kind, size_t n)
{
    bytes d = { malloc(n + 1), n, n + 1 };
    static const char *words[] = { "the ", "and ", "thou ", "tensor ", "stream\n", "of ", "LSTM ", "\xc3\xa9t\xc3\xa9 " };
    for (size_t i = 0; i < n;) {
        if (kind == 0) {
            d.p[i++] = (uint8_t)rng_u64(&rng);
        } else if (kind == 1) {
            const char *w = words[rng_below(&rng, 8)];
            for (; *w && i < n; w++)
                d.p[i++] = (uint8_t)*w;
        } else if (kind == 2) {
            uint8_t c = (uint8_t)rng_below(&rng, 4);
            for (size_t r = rng_below(&rng, 300); r-- > 0 && i < n;)
                d.p[i++] = c;
        } else if (kind == 3 && i >= 33000) {
            d.p[i] = d.p[i - 32000 - rng_below(&rng, 768)];
            i++;
        } else {
            d.p[i++] = kind == 4 ? 'a' : (uint8_t)rng_below(&rng, 16);
        }
    }
    return d;
}

/* How a stream is made: deflateInit2's arguments, then the data in pieces of `piece` bytes,
 * each followed by deflate(flush); every other piece at `level2`/`strategy2` (deflateParams)
 * when those are >= 0; a gzip header with every field when `header`. */
typedef struct how {
    int level, wbits, memlevel, strategy, flush, level2, strategy2, header;
    size_t piece;
} how;

static void deflate_to(bytes *out, const bytes *d, how h)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, h.level, Z_DEFLATED, h.wbits, h.memlevel, h.strategy) != Z_OK)
        abort();
    static uint8_t extra[40], name[] = "model.gz", comment[] = "a comment";
    gz_header head = { .text = 1, .time = 1700000000, .os = 3, .extra = extra, .extra_len = 40,
                       .name = name, .comment = comment, .hcrc = 1 };
    if (h.header && deflateSetHeader(&z, &head) != Z_OK)
        abort();
    uint8_t room[16384];
    size_t at = 0;
    for (int i = 0, rc = Z_OK; rc != Z_STREAM_END; i++) {
        size_t k = d->n - at < h.piece ? d->n - at : h.piece;
        if (h.level2 >= 0 && i > 0)   /* (it ends the block: output, maybe more than the room) */
            do {
                z.next_out = room;
                z.avail_out = sizeof room;
                rc = deflateParams(&z, i % 2 ? h.level2 : h.level, i % 2 ? h.strategy2 : h.strategy);
                add(out, room, sizeof room - z.avail_out);
            } while (rc == Z_BUF_ERROR);
        if (rc != Z_OK)
            abort();
        z.next_in = d->p + at;
        z.avail_in = (uInt)k;
        at += k;
        int flush = at == d->n ? Z_FINISH : h.flush;
        do {
            z.next_out = room;
            z.avail_out = sizeof room;
            rc = deflate(&z, flush);
            if (rc == Z_STREAM_ERROR)
                abort();
            add(out, room, sizeof room - z.avail_out);
        } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    }
    deflateEnd(&z);
}

static const int wrappers[] = { 15 + 16, 15, -15 };   /* gzip, zlib, raw */
static const char *wrapper_name(int wbits) { return wbits > 15 ? "gzip" : wbits > 0 ? "zlib" : "raw"; }

/* ---- inflate ---- */

/* Every kind of data at every level with every strategy, in each wrapper. */
static void test_inflate_levels_strategies(void)
{
    static const int strategies[] = { Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED };
    for (int kind = 0; kind < 5; kind++) {
        bytes d = make_data(kind, kind == 3 ? 40000 : rng_below(&rng, 20000));
        for (int w = 0; w < 3; w++)
            for (int level = 0; level <= 9; level++)
                for (int s = 0; s < 5; s++) {
                    bytes z = { 0 };
                    deflate_to(&z, &d, (how){ level, wrappers[w], 8, strategies[s], Z_NO_FLUSH, -1, -1, 0, d.n });
                    char what[120];
                    snprintf(what, sizeof what, "data kind %d (%zu bytes), %s, level %d, strategy %d",
                             kind, d.n, wrapper_name(wrappers[w]), level, strategies[s]);
                    inflate_both(z.p, z.n, wrappers[w], what);
                    CHECK(ref.end == IO_END && ref.n == d.n && memcmp(ref.p, d.p, d.n) == 0,
                          "%s: zlib does not give the data back", what);
                    free(z.p);
                }
        free(d.p);
    }
    printf("# %d streams\n", ncase);
}

/* Window and memory sizes, flushes between pieces (sync, full, partial, block), stored and
 * compressed blocks mixed by deflateParams, the gzip header's fields, empty data. */
static void test_inflate_parameters(void)
{
    static const int flushes[] = { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_PARTIAL_FLUSH, Z_BLOCK };
    for (int i = 0; i < 300; i++) {
        int w = (int)rng_below(&rng, 3), wb = 9 + (int)rng_below(&rng, 7);
        how h = { (int)rng_below(&rng, 10), wrappers[w] > 15 ? wb + 16 : wrappers[w] > 0 ? wb : -wb,
                  1 + (int)rng_below(&rng, 9), (int)rng_below(&rng, 5), flushes[rng_below(&rng, 5)],
                  i % 3 ? -1 : (int)rng_below(&rng, 10), (int)rng_below(&rng, 5), w == 0 && i % 2,
                  1 + rng_below(&rng, 5000) };
        bytes d = make_data((int)rng_below(&rng, 5), i % 50 ? rng_below(&rng, 40000) : 0), z = { 0 };
        deflate_to(&z, &d, h);
        char what[160];
        snprintf(what, sizeof what, "%s, level %d, window %d, memLevel %d, strategy %d, flush %d every %zu, "
                 "params %d/%d, header %d, %zu bytes", wrapper_name(wrappers[w]), h.level, wb, h.memlevel,
                 h.strategy, h.flush, h.piece, h.level2, h.strategy2, h.header, d.n);
        inflate_both(z.p, z.n, wrappers[w], what);
        CHECK(ref.end == IO_END && ref.n == d.n && (d.n == 0 || memcmp(ref.p, d.p, d.n) == 0),
              "%s: zlib does not give the data back", what);
        free(d.p);
        free(z.p);
    }
}

/* A few streams, members of which are concatenated (gzip, zlib), then cut at many lengths,
 * bit-flipped, overwritten and followed by garbage: all must end as zlib ends them. */
static void test_inflate_damaged(void)
{
    for (int i = 0; i < 24; i++) {
        int wbits = wrappers[i % 3];
        bytes d = make_data(i % 5, 200 + rng_below(&rng, i < 12 ? 2000 : 36000)), z = { 0 };
        size_t ends[3];               /* where each member ends: a cut there is a whole stream */
        int members = wbits > 0 ? 1 + i % 3 : 1;
        for (int m = 0; m < members; m++) {
            deflate_to(&z, &d, (how){ (int)rng_below(&rng, 10), wbits, 8, (int)rng_below(&rng, 5), Z_SYNC_FLUSH,
                                      -1, -1, wbits > 15 && i % 2, 1 + rng_below(&rng, 3000) });
            ends[m] = z.n;
        }
        char what[120];
        snprintf(what, sizeof what, "%s, %zu bytes", wrapper_name(wbits), z.n);
        inflate_both(z.p, z.n, wbits, what);
        for (size_t cut = 0; cut < z.n; cut += z.n < 600 ? 1 : 1 + rng_below(&rng, z.n / 100)) {
            snprintf(what, sizeof what, "%s, %zu bytes cut to %zu", wrapper_name(wbits), z.n, cut);
            inflate_both(z.p, cut, wbits, what);
            int whole = (wbits < 0 && cut + 1 >= z.n) || (members > 1 && cut == ends[0]) || (members > 2 && cut == ends[1]);
            CHECK(own.end != IO_END || whole, "%s: read as whole", what);
        }
        uint8_t *c = malloc(z.n + 64);
        for (int k = 0; k < 300; k++) {
            memcpy(c, z.p, z.n);
            size_t at = rng_below(&rng, z.n), n = z.n;
            if (k % 4 == 3) {         /* bytes after the end */
                at = z.n;
                n = z.n + 1 + rng_below(&rng, 64);
                for (size_t j = z.n; j < n; j++)
                    c[j] = k % 8 == 3 ? 0 : (uint8_t)rng_u64(&rng);
            } else if (k % 4 == 2) {
                c[at] = (uint8_t)rng_u64(&rng);
            } else {
                c[at] ^= (uint8_t)(1u << rng_below(&rng, 8));
            }
            snprintf(what, sizeof what, "%s, %zu bytes, damaged at %zu (%d)", wrapper_name(wbits), z.n, at, k % 4);
            inflate_both(c, n, wbits, what);
        }
        free(c);
        free(d.p);
        free(z.p);
    }
}

/* Random bits as deflate blocks, most after a valid header: each block type with random
 * lengths, codes and distances, so every error a block can have (a bad type or stored
 * length, too many symbols, over-subscribed and incomplete codes, a bad repeat, no
 * end-of-block, a bad code or distance, a distance too far back). */
static void test_inflate_random_blocks(void)
{
    static const uint8_t gz[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 }, zl[] = { 0x78, 0x9c };
    uint8_t b[600];
    for (int i = 0; i < 6000; i++) {
        int wbits = wrappers[i % 3], h = wbits > 15 ? 10 : wbits > 0 ? 2 : 0;
        if (i % 50 == 0)
            h = 0;                    /* a random header too */
        memcpy(b, wbits > 15 ? gz : zl, (size_t)h);
        size_t n = h + 1 + rng_below(&rng, i % 2 ? 40 : 500);
        for (size_t k = (size_t)h; k < n; k++)
            b[k] = (uint8_t)rng_u64(&rng);
        if (i % 50)
            b[h] = (uint8_t)((b[h] & ~6u) | (i / 3 % 3) << 1);   /* BTYPE 00, 01, 10 */
        char what[80];
        snprintf(what, sizeof what, "random block %d (%s, %zu bytes)", i, wrapper_name(wbits), n);
        inflate_both(b, n, wbits, what);
    }
}

/* What lib/ts.c does not ask for is refused, not guessed. */
static void test_inflate_refuses(void)
{
    for (int wbits = -20; wbits <= 50; wbits++) {
        int rc = own_init_rc(wbits);
        int want = wbits == 15 + 16 || wbits == 15 || wbits == -15 ? Z_OK : Z_STREAM_ERROR;
        CHECK(rc == want, "windowBits %d: inflateInit2 gave %d", wbits, rc);
    }
    for (int w = 0; w < 3; w++) {
        inflate_both((const uint8_t *)"", 0, wrappers[w], "no input");
        CHECK(own.end == IO_EMPTY && own.members == 0, "%s: no input: %s", wrapper_name(wrappers[w]),
              end_name(own.end));
    }
    inflate_both((const uint8_t *)"\x78\xbb\0\0\0\0\x03\0", 8, 15, "a preset dictionary (FDICT)");
    CHECK(own.end == IO_ERROR && strncmp(own.msg, "2 ", 2) == 0, "a preset dictionary: %s", own.msg);
}

/* ---- msgpack ---- */

/* in[0..n) unpacked by both in pieces of 1, 3, 64 and all its bytes, compared; bigger
 * pieces for big input: ours walks an object not yet whole again from its start when more
 * bytes come, which lib/ts.c's pieces (what inflate gives at a time) can afford, not
 * 65536 items fed 3 bytes at a time. */
static void unpack_both(const uint8_t *in, size_t n, const char *what)
{
    size_t big = n > 4000, chunks[] = { big ? 997 : 1, big ? 4096 : 3, big ? 65536 : 64, (size_t)-1 };
    char label[200];
    for (int c = 0; c < 4; c++) {
        snprintf(label, sizeof label, "%s, fed by %zu", what, chunks[c]);
        ref_unpack_all(in, n, chunks[c], &ref);
        own_unpack_all(in, n, chunks[c], &own);
        same(label);
    }
}

static int to_bytes(void *data, const char *p, size_t n)
{
    add(data, p, n);
    return 0;
}

/* A random value of every type, containers to depth `depth`. */
static void random_value(msgpack_packer *pk, int depth)
{
    static const uint64_t edges[] = { 0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 0xffffffffULL, 1ULL << 32 };
    uint64_t e = edges[rng_below(&rng, 12)] + rng_below(&rng, 3) - 1;
    uint8_t body[300];
    size_t len = rng_below(&rng, rng_below(&rng, 2) ? 40 : 300);
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)rng_u64(&rng);
    switch (rng_below(&rng, depth > 0 ? 12 : 10)) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: rng_below(&rng, 2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, rng_below(&rng, 2) ? e : rng_u64(&rng)); break;
    case 3: msgpack_pack_int64(pk, -(int64_t)(e >> 1) - (int64_t)rng_below(&rng, 2)); break;
    case 4: msgpack_pack_int64(pk, (int64_t)rng_u64(&rng)); break;
    case 5: msgpack_pack_float(pk, (float)rng_normal(&rng)); break;
    case 6: msgpack_pack_double(pk, rng_below(&rng, 4) ? rng_normal(&rng) * 1e10 : (double)e); break;
    case 7: msgpack_pack_str_with_body(pk, body, len); break;
    case 8: msgpack_pack_bin(pk, len); msgpack_pack_bin_body(pk, body, len); break;
    case 9: {
        static const size_t ext_len[] = { 1, 2, 4, 8, 16, 0, 3, 17, 255, 256 };
        size_t k = ext_len[rng_below(&rng, 10)];
        msgpack_pack_ext(pk, k, (int8_t)rng_u64(&rng));
        msgpack_pack_ext_body(pk, body, k);
        break;
    }
    case 10: {
        size_t n = rng_below(&rng, 2) ? rng_below(&rng, 20) : 15 + rng_below(&rng, 3);
        msgpack_pack_array(pk, n);
        while (n-- > 0)
            random_value(pk, depth - 1);
        break;
    }
    default: {
        size_t n = rng_below(&rng, 18);
        msgpack_pack_map(pk, n);
        while (n-- > 0) {
            random_value(pk, 0);
            random_value(pk, depth - 1);
        }
    }
    }
}

/* What a tensor stream holds (maps of str keys to str, ints, floats, bools, shape arrays and
 * bin data), each type at the sizes where its encoding changes, and random trees. */
static void test_unpack_types(void)
{
    bytes b = { 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, to_bytes);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_str_with_body(&pk, "shape", 5);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 64);
    msgpack_pack_uint64(&pk, 40);
    msgpack_pack_str_with_body(&pk, "dtype", 5);
    msgpack_pack_str_with_body(&pk, "u1", 2);
    msgpack_pack_str_with_body(&pk, "data", 4);
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)rng_u64(&rng);
    msgpack_pack_bin(&pk, 2560);
    msgpack_pack_bin_body(&pk, big, 2560);
    static const size_t sizes[] = { 0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 69999 };
    for (int i = 0; i < 11; i++) {
        msgpack_pack_str_with_body(&pk, big, sizes[i]);
        msgpack_pack_bin(&pk, sizes[i]);
        msgpack_pack_bin_body(&pk, big, sizes[i]);
        msgpack_pack_array(&pk, sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            msgpack_pack_nil(&pk);
        msgpack_pack_map(&pk, sizes[i] / 2);
        for (size_t k = 0; k < sizes[i] / 2; k++)
            msgpack_pack_int64(&pk, -(int64_t)k), msgpack_pack_true(&pk);
    }
    static const double floats[] = { 0.0, -0.0, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, 1e-310, 3.4e38, 1e300 };
    for (int i = 0; i < 8; i++)
        msgpack_pack_double(&pk, floats[i]), msgpack_pack_float(&pk, (float)floats[i]);
    for (int s = 0; s < 64; s++)
        msgpack_pack_uint64(&pk, (1ULL << s) - 1), msgpack_pack_uint64(&pk, 1ULL << s),
        msgpack_pack_int64(&pk, -(int64_t)(1ULL << s >> 1)), msgpack_pack_int64(&pk, -(int64_t)(1ULL << s >> 1) - 1);
    for (int i = 0; i < 200; i++)
        random_value(&pk, 4);
    unpack_both(b.p, b.n, "every type at its boundaries, random trees");
    CHECK(ref.end == IO_END, "msgpack-c: %s %s", end_name(ref.end), ref.msg);
    for (int i = 0; i < 100; i++) {
        bytes one = { 0 };
        msgpack_packer_init(&pk, &one, to_bytes);
        random_value(&pk, 5);
        char what[40];
        snprintf(what, sizeof what, "random tree %d", i);
        unpack_both(one.p, one.n, what);
        free(one.p);
    }
    free(b.p);
}

/* msgpack-c allocates the objects an array or map header declares before they come: only
 * cases without an absurd count (array 32, map 32 headers over more than n) go to it. */
static int ref_can_take(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 4 < n; i++)
        if ((p[i] == 0xdd || p[i] == 0xdf) && ((uint32_t)p[i + 1] << 24 | p[i + 2] << 16 | p[i + 3] << 8 | p[i + 4]) > n)
            return 0;
    return 1;
}

/* Cut, bit-flipped and random bytes, 0xc1, nesting as deep as msgpack-c allows and deeper:
 * refused as msgpack-c refuses them (ours alone where msgpack-c would allocate what a damaged
 * header declares: there it must end without crashing). */
static void test_unpack_hostile(void)
{
    uint8_t c[2000];
    for (int i = 0; i < 1500; i++) {
        bytes b = { 0 };
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, to_bytes);
        for (int k = 0; k < 3; k++)
            random_value(&pk, 3);
        size_t n = b.n < sizeof c ? b.n : sizeof c;
        memcpy(c, b.p, n);
        if (i % 3 == 0)
            n = rng_below(&rng, n + 1);
        else if (i % 3 == 1)
            c[rng_below(&rng, n)] ^= (uint8_t)(1u << rng_below(&rng, 8));
        else
            for (size_t k = 0; k < n; k++)
                c[k] = i % 2 ? (uint8_t)rng_u64(&rng) : c[k];
        char what[80];
        snprintf(what, sizeof what, "damaged values %d (%d, %zu bytes)", i, i % 3, n);
        if (ref_can_take(c, n)) {
            unpack_both(c, n, what);
        } else {
            own_unpack_all(c, n, 7, &own);
            CHECK(own.end != IO_END || own.n > 0, "%s: nothing read, and no error", what);
        }
        free(b.p);
    }
    for (int depth = 30; depth <= 34; depth++)
        for (int inner = 0; inner < 2; inner++) {   /* innermost nil, or an empty array */
            size_t n = 0;
            for (int k = 0; k < depth; k++) {       /* [ {1: [ {1: ... */
                if (k % 2)
                    c[n++] = 0x81, c[n++] = 0x01;
                else
                    c[n++] = 0x91;
            }
            c[n++] = inner ? 0x90 : 0xc0;
            char what[40];
            snprintf(what, sizeof what, "nested %d deep (%d)", depth, inner);
            unpack_both(c, n, what);
            CHECK((own.end == IO_END) == (depth + inner <= 32), "%s: %s %s", what, end_name(own.end), own.msg);
        }
    unpack_both((const uint8_t *)"\x01\x92\xc1\x02", 4, "0xc1 in an array");
    CHECK(own.end == IO_ERROR, "0xc1: %s", end_name(own.end));
}

/* The packer's bytes for values at every edge of an encoding, and random ones. */
static void test_pack(void)
{
    int64_t v[400];
    size_t n = 0;
    for (int s = 0; s < 64; s++)
        for (int d = -1; d <= 1; d++) {
            v[n++] = (int64_t)((1ULL << s) + (uint64_t)d);
            v[n++] = -(int64_t)(1ULL << s >> 1) + d;
        }
    while (n < 400)
        v[n++] = (int64_t)(rng_u64(&rng) >> rng_below(&rng, 64));
    ref_pack_values(v, n, &ref);
    own_pack_values(v, n, &own);
    same("integers, floats and lengths at their edges");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_SEEDED(test_inflate_levels_strategies);
    RUN_SEEDED(test_inflate_parameters);
    RUN_SEEDED(test_inflate_damaged);
    RUN_SEEDED(test_inflate_random_blocks);
    RUN_SEEDED(test_inflate_refuses);
    RUN_SEEDED(test_unpack_types);
    RUN_SEEDED(test_unpack_hostile);
    RUN_SEEDED(test_pack);
    free(ref.p);
    free(own.p);
    return check_summary();
}
