/* test_safetensors.c - lib/safetensors.c's writer: the exact bytes of a small file (header
 * length, JSON with escaped metadata, space padding to 8 bytes, little-endian floats), and
 * a write error reported, not fatal. The model layouts are tested end to end by
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

int main(void)
{
    RUN(test_exact_bytes);
    RUN(test_no_metadata);
    RUN(test_write_error);
    return check_summary();
}
