/* fuzz_ts.c - libFuzzer harness for the tensor stream reader (lib/ts.c).
 *
 * The input bytes are what a tool would find on its stdin: they go into a memfd, a reader
 * reads every frame from it, each frame's attributes are looked up with ts_attr_*, and every
 * frame is written back out with ts_write_object to a writer on /dev/null. Whatever the
 * input, the reader must end with 0 (a good stream) or -1 and a message, never crash, hang
 * or read out of bounds; a frame it returns must be self-consistent.
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); replayed without libFuzzer
 * by tests/test_fuzz_regress.c, which includes this file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ts.h"

static int fuzz_ts_memfd = -1, fuzz_ts_null = -1;

static void fuzz_ts_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ts: invariant violated: %s\n", what);
        abort();
    }
}

static void fuzz_ts_frame(const ts_frame *f)
{
    fuzz_ts_check(f->name && strlen(f->name) <= 255, "name");
    fuzz_ts_check(f->obj && f->obj->type == MSGPACK_OBJECT_MAP, "obj is a map");
    fuzz_ts_check(!f->attrs || f->attrs->type == MSGPACK_OBJECT_MAP, "attrs is a map");
    if (f->is_tensor) {
        fuzz_ts_check(f->ndim >= 0 && f->ndim <= TS_MAXDIM, "ndim");
        uint64_t count = 1;
        for (int i = 0; i < f->ndim; i++)
            count *= f->shape[i];
        fuzz_ts_check(count == f->count, "count = prod(shape)");
        fuzz_ts_check(f->nbytes == ts_nbytes(f->dtype, f->count), "nbytes");
        fuzz_ts_check(f->nbytes <= TS_MAX_FRAME_BYTES, "frame limit");
        volatile unsigned char sum = 0;     /* touch every byte: ASan checks the bounds */
        for (size_t i = 0; i < f->nbytes; i++)
            sum ^= ((const unsigned char *)f->data)[i];
        (void)sum;
    }
    /* the attribute accessors, on every key present and on some that are not */
    static const char *keys[] = { "unit", "maxlen", "step", "seq", "lower", "lr", "" };
    char buf[16];
    int64_t i64;
    double d;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        ts_attr_int(f, keys[k], &i64);
        ts_attr_num(f, keys[k], &d);
        if (ts_attr_str(f, keys[k], buf, sizeof buf) > 0)
            fuzz_ts_check(strlen(buf) < sizeof buf, "ts_attr_str terminates");
        ts_attr_str(f, keys[k], buf, 1);
        ts_attr(f, keys[k]);
    }
    if (f->attrs)
        for (uint32_t k = 0; k < f->attrs->via.map.size && k < 16; k++) {
            const msgpack_object *key = &f->attrs->via.map.ptr[k].key;
            if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= 64)
                continue;
            char name[64];
            memcpy(name, key->via.str.ptr, key->via.str.size);
            name[key->via.str.size] = 0;
            fuzz_ts_check(ts_attr(f, name) != NULL || memchr(name, 0, key->via.str.size), "ts_attr finds a key");
            ts_attr_int(f, name, &i64);
            ts_attr_num(f, name, &d);
            ts_attr_str(f, name, buf, sizeof buf);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_ts_memfd < 0) {
        ts_set_gzip_level(0);
        fuzz_ts_memfd = memfd_create("fuzz_ts", 0);
        fuzz_ts_null = open("/dev/null", O_WRONLY);
        if (fuzz_ts_memfd < 0 || fuzz_ts_null < 0)
            abort();
    }
    if (ftruncate(fuzz_ts_memfd, 0) < 0 || pwrite(fuzz_ts_memfd, data, size, 0) != (ssize_t)size ||
        lseek(fuzz_ts_memfd, 0, SEEK_SET) != 0)
        abort();

    ts_reader *r = ts_reader_open(fuzz_ts_memfd, "fuzz");
    ts_writer *w = ts_writer_open(fuzz_ts_null, "null");
    ts_reader_flush_before_wait(r, w);
    ts_frame f;
    int rc;
    while ((rc = ts_read(r, &f)) > 0) {
        fuzz_ts_frame(&f);
        fuzz_ts_check(ts_write_object(w, f.obj) == 0, "write to /dev/null");
    }
    const char *msg = ts_reader_error(r);
    if (rc < 0) {
        fuzz_ts_check(strncmp(msg, "fuzz: ", 6) == 0 && !strchr(msg, '\n'), "one-line error naming the input");
        fuzz_ts_check(ts_read(r, &f) == -1, "an error sticks");
        ts_writer_abort(w);
    } else {
        fuzz_ts_check(rc == 0 && ts_read(r, &f) == 0, "clean end sticks");
        fuzz_ts_check(ts_writer_finish(w, NULL) == 0, "finish to /dev/null");
    }
    ts_reader_close(r);
    return 0;
}
