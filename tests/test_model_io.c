/* test_model_io.c - model_write and model_read agree on the limits: a model at the edge of
 * every dimension model_read checks (cheaply: V 1, H 1, maxlen 100,000, streams 2^20) is
 * written and read back; one step beyond is refused by the writer, before it writes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "model.h"

/* Write m to a temporary file: model_write's result, and (when written) model_read's. */
static int write_read(const model *m, char *err, size_t cap, int *read_rc)
{
    char path[] = "/tmp/test_model_io.XXXXXX";
    int fd = mkstemp(path);
    int rc = model_write(m, NULL, fd, path, err, cap);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    *read_rc = 1;
    if (rc == 0) {
        model back;
        *read_rc = model_read(&back, NULL, path, err, cap);
        if (*read_rc == 0) {
            CHECK(back.dim.V == m->dim.V && back.maxlen == m->maxlen && back.streams == m->streams, "read back");
            model_free(&back);
        }
    } else {
        CHECK(size == 0, "%lld bytes written before the refusal", (long long)size);
    }
    unlink(path);
    return rc;
}

static void test_limits(void)
{
    model m;
    char err[512];
    int rrc;
    if (model_alloc(&m, (lstm_dims){ 1, 1, 1, CELL_LSTM }, 100000) < 0) {
        CHECK(0, "out of memory");
        return;
    }
    m.vocab[0] = 'a';
    m.per_position = 1;
    m.streams = 1 << 20;
    CHECK(write_read(&m, err, sizeof err, &rrc) == 0 && rrc == 0, "at the limits: %s", err);
    struct { int maxlen, streams, per_position, L, cell; const char *what; } beyond[] = {
        { 100001, 0, 0, 1, CELL_LSTM, "maxlen 100001" },
        { 0, 0, 0, 1, CELL_LSTM, "maxlen 0" },
        { 10, (1 << 20) + 1, 1, 1, CELL_LSTM, "streams 2^20 + 1" },
        { 10, 4, 0, 1, CELL_LSTM, "streams without per-position targets" },
        { 10, 0, 0, 1, 7, "cell 7" },
    };
    for (size_t i = 0; i < sizeof beyond / sizeof *beyond; i++) {
        m.maxlen = beyond[i].maxlen;
        m.streams = beyond[i].streams;
        m.per_position = beyond[i].per_position;
        m.dim.cell = beyond[i].cell;
        err[0] = 0;
        CHECK(write_read(&m, err, sizeof err, &rrc) < 0 && strstr(err, "refusing to write a model that readers refuse"),
              "%s: '%s'", beyond[i].what, err);
    }
    m.dim.cell = CELL_LSTM;
    model_free(&m);
}

int main(void)
{
    RUN(test_limits);
    return check_summary();
}
