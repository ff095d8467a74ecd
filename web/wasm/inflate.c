/* inflate.c - DEFLATE (RFC 1951) decoding in its gzip (RFC 1952) or zlib (RFC 1950) wrapper,
 * or raw, for the WebAssembly build, behind the part of zlib's inflate interface that lib/ts.c's
 * reader calls (zlib.h here). lib/ts.c reads gzip alone; the other two wrappers cost a few
 * lines and let tests/test_wasm_io.c check the decoder on everything Debian's zlib makes.
 *
 * Written from the three RFCs. A member is decoded by a state machine that stops wherever the
 * input or the room for output runs out and goes on at the next call. Input bits gather in
 * an accumulator, first bit lowest, a byte at a time and only when a step needs them, so the
 * bytes after a member's trailer stay in next_in for the next member (lib/ts.c's parallel
 * writer makes one member per frame). The last 32 KiB of output are kept for the matches. A
 * Huffman code is decoded by a table indexed by the next bits, as many as its longest code.
 *
 * Where RFC 1951 leaves a damaged stream's reading open, this does what zlib does, so that
 * the page reports what the tools report (tests/test_wasm_io.c compares the two on many
 * damaged streams): an incomplete code is refused, but for distances or literals/lengths
 * with a single code of one bit (or no distance code at all); a code-length code without any
 * length reads every code length as 0 from one bit (and the block then lacks end-of-block).
 */
#include <stdint.h>
#include <stdlib.h>
#include "zlib.h"

#define WSIZE   32768                 /* the window: how far back a match may reach */
#define MAXBITS 15                    /* the longest Huffman code */
#define INVALID 0xfff                 /* a table entry's symbol where no code begins */
#define FHCRC    0x02                 /* gzip header flags (RFC 1952 2.3.1) */
#define FEXTRA   0x04
#define FNAME    0x08
#define FCOMMENT 0x10

/* A Huffman code's table: tab[the next `bits` input bits] = symbol << 4 | the length of its
 * code (1..15), the first input bit the lowest index bit; symbol INVALID (length 1) where no
 * code begins with those bits. */
typedef struct huff {
    int bits;
    uint16_t *tab;
} huff;

enum {
    ZHEADER, DICTID, NEED_DICT,                               /* the zlib header */
    MAGIC, METHOD, FIXED, XLEN, EXTRA, NAME, COMMENT, HCRC,   /* the gzip header */
    BLOCK, STORED, STORED_COPY, COUNTS, CL_LENS, CODE_LENS,   /* block headers */
    CODES, LIT, DIST, COPY,                                   /* compressed data */
    TRAILER_CRC, TRAILER_SIZE, TRAILER_ADLER, DONE, BAD
};

enum { RAW, ZLIB, GZIP };             /* the wrapper: inflateInit2's windowBits -15, 15, 15 + 16 */

struct inflate_state {
    int wrap;                         /* RAW, ZLIB, GZIP */
    int mode;
    uint64_t hold;                    /* input bits not yet used, the next one lowest */
    int nbits;                        /* how many (the bits above them are 0) */
    int flags;                        /* the gzip header's FLG */
    int last;                         /* this block is the member's last */
    uint32_t left;                    /* header bytes to skip, stored bytes or match bytes to copy */
    uint32_t dist;                    /* the match's distance */
    int lit;                          /* a literal waiting for room */
    uint32_t hcrc, crc, size;         /* gzip: CRC-32 of the header and of the output (inverted), length */
    uint32_t adler_a, adler_b;        /* zlib: the Adler-32 of the output (RFC 1950 8.2) */
    int nlen, ndist, ncode, have;     /* a dynamic block's header: its counts, lengths read */
    uint8_t lens[286 + 30];           /* code lengths: literals/lengths, then distances */
    huff lit_code, dist_code, cl_code;
    uint16_t lit_tab[1 << MAXBITS], dist_tab[1 << MAXBITS], cl_tab[1 << 7];
    uint32_t wnext, whave;            /* the window: where the next byte goes, bytes in it */
    uint8_t window[WSIZE];
    uint32_t crc_tab[256];
};

/* RFC 1951 3.2.5: lengths of symbols 257..285, distances of symbols 0..29, their extra bits. */
static const uint16_t len_base[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const uint8_t len_extra[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const uint16_t dist_base[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                        257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                        8193, 12289, 16385, 24577 };
static const uint8_t dist_extra[30] = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                        7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };
/* RFC 1951 3.2.7: the order in which the code-length code's lengths come */
static const uint8_t cl_order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };

static uint32_t crc_byte(const struct inflate_state *s, uint32_t crc, unsigned b)
{
    return s->crc_tab[(crc ^ b) & 0xff] ^ (crc >> 8);
}

/* One input byte into the accumulator: 0 when there is none. */
static int pull(z_stream *strm, struct inflate_state *s)
{
    if (strm->avail_in == 0)
        return 0;
    s->hold |= (uint64_t)*strm->next_in++ << s->nbits;
    s->nbits += 8;
    strm->avail_in--;
    return 1;
}

/* At least n bits in the accumulator (n <= 32): 0 when the input runs out first. */
static int need(z_stream *strm, struct inflate_state *s, int n)
{
    while (s->nbits < n)
        if (!pull(strm, s))
            return 0;
    return 1;
}

/* The next n bits (n <= 32; they are there), used. */
static uint32_t take(struct inflate_state *s, int n)
{
    uint32_t v = (uint32_t)(s->hold & ((1ULL << n) - 1));
    s->hold >>= n;
    s->nbits -= n;
    return v;
}

/* The next n header bytes (they are there) as a little-endian number, used and counted in
 * the header's CRC. */
static uint32_t header_bytes(struct inflate_state *s, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        uint32_t b = take(s, 8);
        s->hcrc = crc_byte(s, s->hcrc, b);
        v |= b << (8 * i);
    }
    return v;
}

/* The table entry of the next code of h, input pulled until all its bits are there (none
 * used): -1 when the input runs out first. */
static int peek(z_stream *strm, struct inflate_state *s, const huff *h)
{
    for (;;) {
        unsigned e = h->tab[s->hold & ((1u << h->bits) - 1)];
        if ((int)(e & 15) <= s->nbits)
            return (int)e;
        if (!pull(strm, s))
            return -1;
    }
}

/* One output byte: to next_out (there is room), the window and the CRC. */
static void put(z_stream *strm, struct inflate_state *s, unsigned b)
{
    *strm->next_out++ = (Bytef)b;
    strm->avail_out--;
    s->window[s->wnext] = (uint8_t)b;
    s->wnext = (s->wnext + 1) & (WSIZE - 1);
    if (s->whave < WSIZE)
        s->whave++;
    if (s->wrap == GZIP) {
        s->crc = crc_byte(s, s->crc, b);
        s->size++;
    } else if (s->wrap == ZLIB) {
        s->adler_a += b;
        if (s->adler_a >= 65521)
            s->adler_a -= 65521;
        s->adler_b += s->adler_a;
        if (s->adler_b >= 65521)
            s->adler_b -= 65521;
    }
}

/* h for the canonical Huffman code (RFC 1951 3.2.2) whose symbol i has a code of len[i]
 * bits (0: none), in tab (1 << 15 entries; 1 << 7 for the code-length code, cl). 0, or -1
 * when the lengths over-subscribe the code space, or leave part of it unused but where a
 * decoder must accept that (above). */
static int build(huff *h, uint16_t *tab, const uint8_t *len, int n, int cl)
{
    int count[MAXBITS + 1] = { 0 }, next[MAXBITS + 1], max = 0, left = 1;
    for (int i = 0; i < n; i++) {
        count[len[i]]++;
        max = len[i] > max ? len[i] : max;
    }
    for (int b = 1; b <= MAXBITS; b++) {
        left = 2 * left - count[b];
        if (left < 0)
            return -1;
    }
    if (left > 0 && max > 0 && (cl || max > 1))
        return -1;
    h->bits = max > 0 ? max : 1;
    h->tab = tab;
    for (int i = 0; i < 1 << h->bits; i++)
        tab[i] = INVALID << 4 | 1;
    count[0] = 0;
    next[0] = 0;
    for (int b = 1; b <= MAXBITS; b++)
        next[b] = (next[b - 1] + count[b - 1]) << 1;
    for (int i = 0; i < n; i++) {
        int l = len[i];
        if (l == 0)
            continue;
        unsigned code = (unsigned)next[l]++, rev = 0;
        for (int b = 0; b < l; b++)   /* codes come first bit first: the table's index reversed */
            rev |= (code >> b & 1) << (l - 1 - b);
        for (unsigned k = rev; k < 1u << h->bits; k += 1u << l)
            tab[k] = (uint16_t)(i << 4 | l);
    }
    return 0;
}

/* The codes of a block of BTYPE 01 (RFC 1951 3.2.6), distance symbols 30 and 31 with them. */
static void fixed_codes(struct inflate_state *s)
{
    uint8_t len[288 + 32];
    for (int i = 0; i < 288; i++)
        len[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    for (int i = 0; i < 32; i++)
        len[288 + i] = 5;
    build(&s->lit_code, s->lit_tab, len, 288, 0);
    build(&s->dist_code, s->dist_tab, len + 288, 32, 0);
}

static int bad(z_stream *strm, struct inflate_state *s, const char *msg)
{
    strm->msg = msg;
    s->mode = BAD;
    return Z_DATA_ERROR;
}

/* Decode until the member ends (Z_STREAM_END), the input or the room runs out (Z_OK) or
 * the data is bad (Z_DATA_ERROR). */
static int run(z_stream *strm, struct inflate_state *s)
{
    int e, sym;
    for (;;) {
        switch (s->mode) {
        case ZHEADER:                 /* CMF, FLG (RFC 1950 2.2), checked in zlib's order */
            if (!need(strm, s, 16))
                return Z_OK;
            if (((s->hold & 0xff) << 8 | (s->hold >> 8 & 0xff)) % 31 != 0)
                return bad(strm, s, "incorrect header check");
            if ((s->hold & 0x0f) != Z_DEFLATED)
                return bad(strm, s, "unknown compression method");
            if ((s->hold >> 4 & 0x0f) > 7)
                return bad(strm, s, "invalid window size");
            s->mode = take(s, 16) & 0x2000 ? DICTID : BLOCK;
            break;
        case DICTID:                  /* a preset dictionary: as zlib without one, Z_NEED_DICT */
            if (!need(strm, s, 32))
                return Z_OK;
            take(s, 32);
            s->mode = NEED_DICT;
            break;
        case NEED_DICT:
            return Z_NEED_DICT;
        case MAGIC:
            if (!need(strm, s, 16))
                return Z_OK;
            if (header_bytes(s, 2) != 0x8b1f)
                return bad(strm, s, "incorrect header check");
            s->mode = METHOD;
            break;
        case METHOD:
            if (!need(strm, s, 16))
                return Z_OK;
            e = (int)header_bytes(s, 2);
            if ((e & 0xff) != Z_DEFLATED)
                return bad(strm, s, "unknown compression method");
            if (e >> 8 & 0xe0)
                return bad(strm, s, "unknown header flags set");
            s->flags = e >> 8;
            s->left = 6;              /* MTIME, XFL, OS */
            s->mode = FIXED;
            break;
        case FIXED:
        case EXTRA:
            for (; s->left > 0; s->left--) {
                if (!need(strm, s, 8))
                    return Z_OK;
                header_bytes(s, 1);
            }
            s->mode++;
            break;
        case XLEN:
            s->left = 0;
            if (s->flags & FEXTRA) {
                if (!need(strm, s, 16))
                    return Z_OK;
                s->left = header_bytes(s, 2);
            }
            s->mode = EXTRA;
            break;
        case NAME:                    /* zero-terminated */
        case COMMENT:
            if (s->flags & (s->mode == NAME ? FNAME : FCOMMENT))
                do {
                    if (!need(strm, s, 8))
                        return Z_OK;
                } while (header_bytes(s, 1) != 0);
            s->mode++;
            break;
        case HCRC:
            if (s->flags & FHCRC) {
                if (!need(strm, s, 16))
                    return Z_OK;
                if (take(s, 16) != (~s->hcrc & 0xffff))
                    return bad(strm, s, "header crc mismatch");
            }
            s->crc = 0xffffffff;
            s->mode = BLOCK;
            break;

        case BLOCK:
            if (s->last) {
                take(s, s->nbits & 7);                /* the trailer starts at a byte */
                s->mode = s->wrap == GZIP ? TRAILER_CRC : s->wrap == ZLIB ? TRAILER_ADLER : DONE;
                break;
            }
            if (!need(strm, s, 3))
                return Z_OK;
            s->last = (int)take(s, 1);
            switch (take(s, 2)) {
            case 0: s->mode = STORED; break;
            case 1: fixed_codes(s); s->mode = CODES; break;
            case 2: s->mode = COUNTS; break;
            default: return bad(strm, s, "invalid block type");
            }
            break;
        case STORED:
            take(s, s->nbits & 7);                    /* LEN starts at a byte */
            if (!need(strm, s, 32))
                return Z_OK;
            e = (int)take(s, 16);
            if ((uint32_t)e != (~take(s, 16) & 0xffff))
                return bad(strm, s, "invalid stored block lengths");
            s->left = (uint32_t)e;
            s->mode = STORED_COPY;
            break;
        case STORED_COPY:
            for (; s->left > 0; s->left--) {
                if (strm->avail_out == 0 || !need(strm, s, 8))
                    return Z_OK;
                put(strm, s, take(s, 8));
            }
            s->mode = BLOCK;
            break;
        case COUNTS:
            if (!need(strm, s, 14))
                return Z_OK;
            s->nlen = (int)take(s, 5) + 257;
            s->ndist = (int)take(s, 5) + 1;
            s->ncode = (int)take(s, 4) + 4;
            if (s->nlen > 286 || s->ndist > 30)
                return bad(strm, s, "too many length or distance symbols");
            for (int i = 0; i < 19; i++)
                s->lens[i] = 0;
            s->have = 0;
            s->mode = CL_LENS;
            break;
        case CL_LENS:
            for (; s->have < s->ncode; s->have++) {
                if (!need(strm, s, 3))
                    return Z_OK;
                s->lens[cl_order[s->have]] = (uint8_t)take(s, 3);
            }
            if (build(&s->cl_code, s->cl_tab, s->lens, 19, 1) < 0)
                return bad(strm, s, "invalid code lengths set");
            s->have = 0;
            s->mode = CODE_LENS;
            break;
        case CODE_LENS:
            while (s->have < s->nlen + s->ndist) {
                if ((e = peek(strm, s, &s->cl_code)) < 0)
                    return Z_OK;
                sym = e >> 4 == INVALID ? 0 : e >> 4;  /* (no code-length code: as zlib) */
                if (sym < 16) {
                    take(s, e & 15);
                    s->lens[s->have++] = (uint8_t)sym;
                    continue;
                }
                int xbits = sym == 16 ? 2 : sym == 17 ? 3 : 7;   /* 16: repeat; 17, 18: zeros */
                if (!need(strm, s, (e & 15) + xbits))
                    return Z_OK;
                take(s, e & 15);
                int n = (int)take(s, xbits) + (sym == 18 ? 11 : 3), val = 0;
                if (sym == 16) {
                    if (s->have == 0)
                        return bad(strm, s, "invalid bit length repeat");
                    val = s->lens[s->have - 1];
                }
                if (s->have + n > s->nlen + s->ndist)
                    return bad(strm, s, "invalid bit length repeat");
                while (n-- > 0)
                    s->lens[s->have++] = (uint8_t)val;
            }
            if (s->lens[256] == 0)
                return bad(strm, s, "invalid code -- missing end-of-block");
            if (build(&s->lit_code, s->lit_tab, s->lens, s->nlen, 0) < 0)
                return bad(strm, s, "invalid literal/lengths set");
            if (build(&s->dist_code, s->dist_tab, s->lens + s->nlen, s->ndist, 0) < 0)
                return bad(strm, s, "invalid distances set");
            s->mode = CODES;
            break;

        case CODES:                   /* a literal, the end of the block, or a match's length */
            if ((e = peek(strm, s, &s->lit_code)) < 0)
                return Z_OK;
            sym = e >> 4;
            if (sym < 256) {
                take(s, e & 15);
                s->lit = sym;
                s->mode = LIT;
            } else if (sym == 256) {
                take(s, e & 15);
                s->mode = BLOCK;
            } else if (sym <= 285) {
                if (!need(strm, s, (e & 15) + len_extra[sym - 257]))
                    return Z_OK;
                take(s, e & 15);
                s->left = len_base[sym - 257] + take(s, len_extra[sym - 257]);
                s->mode = DIST;
            } else {
                return bad(strm, s, "invalid literal/length code");
            }
            break;
        case LIT:
            if (strm->avail_out == 0)
                return Z_OK;
            put(strm, s, (unsigned)s->lit);
            s->mode = CODES;
            break;
        case DIST:
            if ((e = peek(strm, s, &s->dist_code)) < 0)
                return Z_OK;
            sym = e >> 4;
            if (sym >= 30)
                return bad(strm, s, "invalid distance code");
            if (!need(strm, s, (e & 15) + dist_extra[sym]))
                return Z_OK;
            take(s, e & 15);
            s->dist = dist_base[sym] + take(s, dist_extra[sym]);
            if (s->dist > s->whave)
                return bad(strm, s, "invalid distance too far back");
            s->mode = COPY;
            break;
        case COPY:
            for (; s->left > 0; s->left--) {
                if (strm->avail_out == 0)
                    return Z_OK;
                put(strm, s, s->window[(s->wnext - s->dist) & (WSIZE - 1)]);
            }
            s->mode = CODES;
            break;

        case TRAILER_CRC:
            if (!need(strm, s, 32))
                return Z_OK;
            if (take(s, 32) != ~s->crc)
                return bad(strm, s, "incorrect data check");
            s->mode = TRAILER_SIZE;
            break;
        case TRAILER_SIZE:
            if (!need(strm, s, 32))
                return Z_OK;
            if (take(s, 32) != s->size)
                return bad(strm, s, "incorrect length check");
            s->mode = DONE;
            break;
        case TRAILER_ADLER:           /* big-endian, unlike gzip's */
            if (!need(strm, s, 32))
                return Z_OK;
            uint32_t check = 0;
            for (int i = 0; i < 4; i++)
                check = check << 8 | take(s, 8);
            if (check != (s->adler_b << 16 | s->adler_a))
                return bad(strm, s, "incorrect data check");
            s->mode = DONE;
            break;
        case DONE:
            return Z_STREAM_END;
        default:
            return Z_DATA_ERROR;
        }
    }
}

int inflate(z_stream *strm, int flush)
{
    (void)flush;                      /* decodes as much as it can whatever the flush */
    struct inflate_state *s = strm ? strm->state : NULL;
    if (!s || !strm->next_out || (!strm->next_in && strm->avail_in))
        return Z_STREAM_ERROR;
    uInt in = strm->avail_in, out = strm->avail_out;
    int rc = run(strm, s);
    if (rc == Z_OK && in == strm->avail_in && out == strm->avail_out)
        rc = Z_BUF_ERROR;             /* no progress was possible */
    return rc;
}

int inflateReset(z_stream *strm)
{
    struct inflate_state *s = strm ? strm->state : NULL;
    if (!s)
        return Z_STREAM_ERROR;
    strm->msg = NULL;
    s->mode = s->wrap == GZIP ? MAGIC : s->wrap == ZLIB ? ZHEADER : BLOCK;
    s->hold = 0;
    s->nbits = 0;
    s->last = 0;
    s->hcrc = 0xffffffff;
    s->size = 0;
    s->adler_a = 1;
    s->adler_b = 0;
    s->wnext = s->whave = 0;
    return Z_OK;
}

int inflateInit2(z_stream *strm, int windowBits)
{
    if (!strm)
        return Z_STREAM_ERROR;
    strm->state = NULL;
    strm->msg = NULL;
    if (windowBits != 15 + 16 && windowBits != 15 && windowBits != -15)
        return Z_STREAM_ERROR;        /* (always a 32 KiB window: a smaller one would save nothing) */
    struct inflate_state *s = malloc(sizeof *s);
    if (!s)
        return Z_MEM_ERROR;
    s->wrap = windowBits > 15 ? GZIP : windowBits > 0 ? ZLIB : RAW;
    for (uint32_t n = 0; n < 256; n++) {      /* CRC-32, reflected (RFC 1952 8) */
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        s->crc_tab[n] = c;
    }
    strm->state = s;
    return inflateReset(strm);
}

int inflateEnd(z_stream *strm)
{
    if (!strm || !strm->state)
        return Z_STREAM_ERROR;
    free(strm->state);
    strm->state = NULL;
    return Z_OK;
}
