/* test_safetensors.c - lib/safetensors.c's writer: the exact bytes of a small file (header
 * length, JSON with escaped metadata, space padding to 8 bytes, little-endian floats), what
 * readers refuse refused (not UTF-8, duplicate keys, __metadata__, the header limit), and a
 * write error reported, not fatal. The model layouts are tested end to end by
 * tests/test_export.sh against numpy and PyTorch. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "safetensors.h"

/* The whole of what st_write wrote to a temporary file; *n its length. */
static unsigned char *write_to_file(const st_tensor *t, int nt, const st_meta *m, int nm, size_t *n,
                                    int *rc, char *err, size_t cap)
{
    FILE *f = tmpfile();
    *rc = st_write(fileno(f), "test", t, nt, m, nm, err, cap);
    off_t len = lseek(fileno(f), 0, SEEK_END);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    lseek(fileno(f), 0, SEEK_SET);
    *n = len > 0 ? (size_t)read(fileno(f), buf, (size_t)len) : 0;
    fclose(f);
    return buf;
}

static void test_exact_bytes(void)
{
    const float w[6] = { 1, -2, 0.5f, 3, 4, 5 }, b[3] = { -1, 0, 1e-3f };
    st_tensor t[2] = { { "w", 2, { 2, 3 }, w }, { "b", 1, { 3, 1 }, b } };
    st_meta m[2] = { { "k", "a\"b\\c\n\xe2\x82\xac" }, { "vocab", "[10,32]" } };
    const char *json = "{\"__metadata__\":{\"k\":\"a\\\"b\\\\c\\u000a\xe2\x82\xac\",\"vocab\":\"[10,32]\"},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";
    char err[256] = "";
    size_t n;
    int rc;
    unsigned char *buf = write_to_file(t, 2, m, 2, &n, &rc, err, sizeof err);
    CHECK(rc == 0, "st_write: %s", err);
    size_t jl = strlen(json), hl = (8 + jl + 7) / 8 * 8 - 8;   /* padded to a multiple of 8 */
    CHECK(n == 8 + hl + 36, "%zu bytes, want %zu", n, 8 + hl + 36);
    if (n != 8 + hl + 36) {
        free(buf);
        return;
    }
    uint64_t N = 0;
    for (int i = 0; i < 8; i++)
        N |= (uint64_t)buf[i] << (8 * i);
    CHECK(N == hl, "header length %llu, want %zu", (unsigned long long)N, hl);
    CHECK(memcmp(buf + 8, json, jl) == 0, "header %.*s", (int)jl, (const char *)buf + 8);
    for (size_t i = jl; i < hl; i++)
        CHECK(buf[8 + i] == ' ', "padding byte %zu is %d", i, buf[8 + i]);
    /* the data: 1.0f is 00 00 80 3f little-endian; the rest by their bit patterns */
    const unsigned char one[4] = { 0x00, 0x00, 0x80, 0x3f };
    CHECK(memcmp(buf + 8 + hl, one, 4) == 0, "1.0f is %02x %02x %02x %02x", buf[8 + hl], buf[9 + hl],
          buf[10 + hl], buf[11 + hl]);
    for (int i = 0; i < 9; i++) {
        float v = i < 6 ? w[i] : b[i - 6];
        uint32_t u, got = 0;
        memcpy(&u, &v, 4);
        for (int q = 0; q < 4; q++)
            got |= (uint32_t)buf[8 + hl + 4 * i + q] << (8 * q);
        CHECK(got == u, "float %d: %08x, want %08x", i, got, u);
    }
    free(buf);
}

static void test_no_metadata(void)
{
    const float b[1] = { 2 };
    st_tensor t[1] = { { "b", 1, { 1, 1 }, b } };
    char err[256] = "";
    size_t n;
    int rc;
    unsigned char *buf = write_to_file(t, 1, NULL, 0, &n, &rc, err, sizeof err);
    const char *json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    CHECK(rc == 0 && n > 8 && memcmp(buf + 8, json, strlen(json)) == 0, "rc %d: %.*s", rc,
          (int)(n > 8 ? n - 8 : 0), (const char *)buf + 8);
    CHECK((n - 4) % 8 == 0, "data at %zu, not 8-byte aligned", n - 4);
    free(buf);
}

static void test_write_error(void)
{
    const float b[1] = { 2 };
    st_tensor t[1] = { { "b", 1, { 1, 1 }, b } };
    char err[256] = "";
    int fd = open("/dev/null", O_RDONLY);           /* writing fails: EBADF */
    int rc = st_write(fd, "out.st", t, 1, NULL, 0, err, sizeof err);
    close(fd);
    CHECK(rc == -1, "rc %d", rc);
    CHECK(strncmp(err, "out.st: write failed", 20) == 0, "message '%s'", err);
}

/* Writers refuse what readers refuse: the header is JSON (UTF-8), its keys unique, at most
 * ST_MAX_HEADER bytes; each limit at its edge is written, one step beyond is refused before
 * anything is written. */
static void test_refusals(void)
{
    const float w[4] = { 1, 2, 3, 4 };
    char err[256];
    size_t n;
    int rc;
    struct { st_tensor t[2]; int nt; st_meta m[2]; int nm; const char *why; } bad[] = {
        { { { "caf\xe9", 1, { 4, 1 }, w } }, 1, { { 0 } }, 0, "tensor 0's name is not UTF-8" },
        { { { "w", 1, { 4, 1 }, w } }, 1, { { "k\xc0\xaf", "v" } }, 1, "metadata key 0 is not UTF-8" },
        { { { "w", 1, { 4, 1 }, w } }, 1, { { "k", "\xed\xa0\x80" } }, 1, "metadata 'k': the value is not UTF-8" },
        { { { "__metadata__", 1, { 4, 1 }, w } }, 1, { { 0 } }, 0, "a tensor named __metadata__" },
        { { { "w", 1, { 4, 1 }, w }, { "w", 1, { 4, 1 }, w } }, 2, { { 0 } }, 0, "two tensors named 'w'" },
        { { { "w", 1, { 4, 1 }, w } }, 1, { { "k", "a" }, { "k", "b" } }, 2, "two metadata keys 'k'" },
        { { { "w", 3, { 4, 1 }, w } }, 1, { { 0 } }, 0, "rank 3" },
        { { { "w", 2, { 1ULL << 62, 1ULL << 62 }, w } }, 1, { { 0 } }, 0, "shape too large" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        unsigned char *buf = write_to_file(bad[i].t, bad[i].nt, bad[i].m, bad[i].nm, &n, &rc, err, sizeof err);
        CHECK(rc == -1 && n == 0 && strstr(err, "test: refusing to write a safetensors file that readers refuse: ")
              && strstr(err, bad[i].why), "case %zu: rc %d, %zu bytes written: '%s'", i, rc, n, err);
        free(buf);
    }
    /* UTF-8 beyond ASCII is fine, in names and metadata */
    st_tensor t[1] = { { "gewicht_\xc3\xbc", 1, { 4, 1 }, w } };
    st_meta m[1] = { { "caf\xc3\xa9", "\xe2\x80\x94 \xf0\x9f\x98\x80" } };
    unsigned char *buf = write_to_file(t, 1, m, 1, &n, &rc, err, sizeof err);
    CHECK(rc == 0 && n > 8, "UTF-8 names: %s", err);
    free(buf);

    /* the header at ST_MAX_HEADER exactly (the value's length chosen so), and 8 bytes more */
    const char *fixed = "{\"__metadata__\":{\"k\":\"\"},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    size_t len = ST_MAX_HEADER - strlen(fixed);
    char *big = malloc(len + 9);
    memset(big, 'a', len + 8);
    st_tensor b[1] = { { "b", 1, { 1, 1 }, w } };
    for (int extra = 0; extra <= 8; extra += 8) {
        big[len] = 'a';
        big[len + (size_t)extra] = 0;
        st_meta mm[1] = { { "k", big } };
        int fd = open("/dev/null", O_WRONLY);
        err[0] = 0;
        rc = st_write(fd, "test", b, 1, mm, 1, err, sizeof err);
        close(fd);
        if (!extra)
            CHECK(rc == 0, "a header of %d bytes: %s", ST_MAX_HEADER, err);
        else
            CHECK(rc == -1 && strstr(err, "a header of 100000008 bytes"), "8 bytes more: rc %d '%s'", rc, err);
    }
    free(big);
}

int main(void)
{
    RUN(test_refusals);
    RUN(test_exact_bytes);
    RUN(test_no_metadata);
    RUN(test_write_error);
    return check_summary();
}
