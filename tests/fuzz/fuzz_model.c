/* fuzz_model.c - libFuzzer harness for the model reader and its validation (lib/model.c).
 *
 * The input bytes are the *decompressed* frames of a model file (msgpack maps from the header
 * to the end frame): the harness gzips them into a memfd, so the fuzzer mutates the frames'
 * structure and values rather than deflate bits that the CRC would catch. model_read reads
 * that file twice, as sample/evaluate do (no training state) and as train --resume does.
 * Whatever the input, it must return -1 with a one-line message naming the file, or 0 with a
 * model that keeps every promise of the validation: dimensions in range, the vocabulary
 * strictly ascending, weights finite and within the bound, Adam's second moment >= 0, a
 * non-zero RNG, a carried state only with streams; and such a model must write back.
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); replayed without libFuzzer
 * by tests/test_fuzz_regress.c (files tests/fuzz/regress/model-*), which includes this file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include "model.h"
#include "ts.h"

static int fuzz_model_memfd = -1, fuzz_model_null = -1;

static void fuzz_model_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_model: invariant violated: %s\n", what);
        abort();
    }
}

/* gzip data[0..n) into fd from offset 0 */
static void fuzz_model_gzip(int fd, const uint8_t *data, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *out = malloc(cap);
    if (!out)
        abort();
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, out, len, 0) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    free(out);
}

static void fuzz_model_valid(const model *m, const train_state *s)
{
    lstm_dims d = m->dim;
    fuzz_model_check(d.V >= 1 && d.H >= 1 && d.L >= 1 && d.L <= LSTM_MAX_LAYERS && m->maxlen >= 1, "dimensions");
    fuzz_model_check(m->streams >= 0 && (!m->streams || m->per_position), "layout");
    for (int i = 1; i < d.V; i++)
        fuzz_model_check(m->vocab[i] > m->vocab[i - 1], "vocabulary ascending");
    size_t n = lstm_nparams(d);
    double lim = sqrt(FLT_MAX) / (2.0 * d.H + 2);
    for (size_t i = 0; i < n; i++)
        fuzz_model_check(isfinite(m->params[i]) && fabs(m->params[i]) <= lim, "weights finite, bounded");
    if (!s)
        return;
    fuzz_model_check(s->batch >= 1 && (!m->streams || s->batch == m->streams), "batch");
    fuzz_model_check(s->val_split >= 0 && s->val_split < 1 && s->lr >= 0 && s->eps > 0
                     && s->beta1 * s->beta1 < s->beta2 && s->beta2 < 1 && s->decay_every >= 1, "settings");
    fuzz_model_check(s->epochs >= 0 && s->epoch_batches >= 0 && s->steps >= s->epoch_batches, "progress");
    if (s->adam_m) {
        for (size_t i = 0; i < n; i++)
            fuzz_model_check(isfinite(s->adam_m[i]) && s->adam_v[i] >= 0 && isfinite(s->adam_v[i]), "moments");
        const uint64_t *a = s->rng.s, *b = s->rng_epoch.s;
        fuzz_model_check((a[0] | a[1] | a[2] | a[3]) && (b[0] | b[1] | b[2] | b[3]), "rng not zero");
    }
    fuzz_model_check(!s->state_h == !s->state_c && (!s->state_h || m->streams), "carried state");
    if (s->state_h) {
        size_t ns = (size_t)d.L * m->streams * d.H;
        for (size_t i = 0; i < ns; i++)
            fuzz_model_check(fabsf(s->state_h[i]) <= 1 && isfinite(s->state_c[i]), "carried state values");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_model_memfd < 0) {
        ts_set_gzip_level(0);
        fuzz_model_memfd = memfd_create("fuzz_model", 0);
        fuzz_model_null = open("/dev/null", O_WRONLY);
        if (fuzz_model_memfd < 0 || fuzz_model_null < 0)
            abort();
    }
    fuzz_model_gzip(fuzz_model_memfd, data, size);
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fuzz_model_memfd);
    for (int with_state = 0; with_state < 2; with_state++) {
        model m;
        train_state s;
        if (lseek(fuzz_model_memfd, 0, SEEK_SET) != 0)
            abort();
        if (model_read(&m, with_state ? &s : NULL, path, err, sizeof err) < 0) {
            fuzz_model_check(strncmp(err, path, strlen(path)) == 0 && !strchr(err, '\n'),
                             "one-line error naming the file");
            continue;
        }
        fuzz_model_valid(&m, with_state ? &s : NULL);
        fuzz_model_check(model_write(&m, with_state ? &s : NULL, fuzz_model_null, "null", err, sizeof err) == 0,
                         "a valid model writes back");
        model_free(&m);
        if (with_state)
            train_state_free(&s);
    }
    return 0;
}
