/* charpipe_web.c - what the web page's worker calls: the library's model reader and
 * generator (lib/model.c, lib/generate.c), built to WebAssembly by make wasm.
 *
 * The worker (web/worker.js) hands the model file over as a file that the reader opens (its
 * small WASI layer serves the bytes), then asks for text; the text comes back as it becomes
 * final, through the imported function cpw_emit, in the order sample writes it: the prompt
 * as the model read it, then the generated characters. The calls return 0, or -1 with the
 * message in cpw_error(): the tools' own ("m.model: truncated stream", "--seed: ...").
 *
 *     cpw_open(path, kernels)    the model file at path, with the kernel set named ("scalar",
 *                                "simd128"; "" = the best this build has)
 *     cpw_info(out)              out[0..8) = V, H, L, maxlen, streams, byte_unit, lower, cell
 *     cpw_kernels()              the set in use
 *     cpw_generate(...)          one sample, as sample --seed --rng-seed (below)
 *     cpw_made()                 characters the last cpw_generate made
 *     cpw_stops_unused()         its stop strings left out: a character outside the vocabulary
 *     cpw_close()
 *
 * One model at a time (a worker holds one). Single-threaded: this build has no threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "generate.h"
#include "kern.h"
#include "model.h"
#include "util.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/* The worker's: text as it becomes final; prompt 1 for the prompt's part, which comes first. */
__attribute__((import_module("env"), import_name("cpw_emit")))
void cpw_emit(const char *bytes, size_t n, int prompt);

static struct {
    int open;
    model m;
    codec cd;
    const kern_ops *k;
    char err[512];
    long made;                        /* characters made by the last cpw_generate */
    int stops_unused;                 /* its stop strings that can never occur */
    int started;                      /* its prompt was handed over */
} W;

EXPORT(cpw_error) const char *cpw_error(void) { return W.err; }

/* Memory for the worker's arguments. */
EXPORT(cpw_alloc) void *cpw_alloc(size_t n) { return malloc(n ? n : 1); }
EXPORT(cpw_free) void cpw_free(void *p) { free(p); }

EXPORT(cpw_close) void cpw_close(void)
{
    if (W.open)
        model_free(&W.m);
    W.open = 0;
}

EXPORT(cpw_open) int cpw_open(const char *path, const char *kernels)
{
    cpw_close();
    const kern_ops *k = kern_choose(kernels, W.err, sizeof W.err);
    if (!k)
        return -1;
    if (model_read(&W.m, NULL, path, W.err, sizeof W.err) < 0)
        return -1;
    char msg[256];
    if (codec_init(&W.cd, W.m.vocab, W.m.dim.V, W.m.byte_unit, W.m.lower, msg, sizeof msg) < 0) {
        model_free(&W.m);
        return lib_fail(W.err, sizeof W.err, "%s: %s", path, msg);
    }
    W.k = k;
    W.open = 1;
    return 0;
}

EXPORT(cpw_kernels) const char *cpw_kernels(void) { return W.open ? W.k->name : kern_select()->name; }

EXPORT(cpw_info) int cpw_info(int32_t *out)
{
    if (!W.open)
        return lib_fail(W.err, sizeof W.err, "no model is open");
    out[0] = W.m.dim.V;
    out[1] = W.m.dim.H;
    out[2] = W.m.dim.L;
    out[3] = W.m.maxlen;
    out[4] = W.m.streams;
    out[5] = W.m.byte_unit;
    out[6] = W.m.lower;
    out[7] = W.m.dim.cell;
    return 0;
}

/* gen_text's texts, to the worker; the characters after the prompt counted (the bytes of a
 * byte-level model, else the starts of UTF-8 sequences). */
static int emit(void *ctx, int row, const char *bytes, size_t n)
{
    (void)ctx;
    (void)row;
    int prompt = !W.started;
    W.started = 1;
    if (!prompt)
        for (size_t i = 0; i < n; i++)
            W.made += W.m.byte_unit || ((unsigned char)bytes[i] & 0xC0) != 0x80;
    cpw_emit(bytes, n, prompt);
    return 0;
}

EXPORT(cpw_made) double cpw_made(void) { return (double)W.made; }
EXPORT(cpw_stops_unused) int cpw_stops_unused(void) { return W.stops_unused; }

/* One sample of n characters after prompt (plen bytes; plen 0: none, the first character is
 * drawn), as 'sample -n N --seed PROMPT -t T -k K -p P --rng-seed SEED --stop ...' writes it:
 * mode 0 as sample chooses (stateful for a model of train --streams, else the window), 1
 * stateful, 2 window; stops: nstop NUL-terminated strings one after another. */
EXPORT(cpw_generate)
int cpw_generate(const char *prompt, size_t plen, double n, double temperature, int top_k,
                 double top_p, uint64_t seed, int mode, const char *stops, int nstop)
{
    if (!W.open)
        return lib_fail(W.err, sizeof W.err, "no model is open");
    if (!(n >= 0 && n <= 1e9) || !(temperature >= 0 && temperature <= 100) || top_k < 0
        || !(top_p > 0 && top_p <= 1) || mode < 0 || mode > 2 || nstop < 0 || nstop > 64)
        return lib_fail(W.err, sizeof W.err, "the length must be 0 .. 10^9, the temperature 0 .. 100,"
                        " top-k >= 0, top-p in (0, 1]; at most 64 stop strings");
    const char *stop[64];
    size_t stop_len[64];
    for (int i = 0; i < nstop; i++) {
        stop[i] = stops;
        stop_len[i] = strlen(stops);
        stops += stop_len[i] + 1;
    }
    gen_request r = gen_request_defaults();
    r.prompt = plen ? prompt : NULL;
    r.prompt_len = plen;
    r.prompt_label = "seed";
    r.n = (long)n;
    r.stop = stop;
    r.stop_len = stop_len;
    r.nstop = nstop;
    r.o.temperature = temperature;
    r.o.top_k = top_k;
    r.o.top_p = top_p;
    r.o.seed = seed;
    r.o.stateful = mode == 0 ? W.m.streams > 0 : mode == 1;
    W.made = 0;
    W.started = 0;
    gen_result res;
    int rc = gen_text(W.k, &W.m, &W.cd, &r, emit, NULL, &res, W.err, sizeof W.err);
    W.stops_unused = rc < 0 ? 0 : res.stops_unused;
    return rc < 0 ? -1 : 0;
}
