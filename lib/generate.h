/* generate.h - generating text from a model: the one generator behind sample (one sample,
 * --count, --beam, --prompts), train --sample-every, the shared library and Python.
 *
 * Three layers, each built on the one before (after llama2.c's run.c: a sampler, a step, one
 * generate loop):
 *   lstm_gen   the model's step for stateful generation, with its weights packed once for
 *              one-row products;
 *   gen        a generator: rows of state (samples, or the beams of a search), the
 *              sampler's settings, a random stream per row. It primes on a text and runs the
 *              sampling loop (gen_sample) or the beam search (gen_beam), both with stop
 *              strings, over vocabulary indices;
 *   gen_text   a whole request in text: a prompt (UTF-8 or bytes, read by codec.h), stop
 *              strings, how many samples: the texts that come out.
 *
 * The state is either carried (stateful: the prompt is read once, then one step per
 * character) or a window (the course's generator: the last maxlen characters, fewer while
 * the text is shorter, run from a zero state for every character, as the model was trained).
 * The two choose from different numbers: stateful from the logits (greedy: their argmax;
 * else softmax(logits / t) in the kernel, then a draw at t = 1), window mode from the
 * softmax (p^(1/t) renormalised in the draw). Every row r draws from rng_seed(seed + r), and
 * a row's text does not depend on the other rows in stateful mode (lstm_gen_step_batch is
 * bit for bit one row's step); in window mode the vector kernels sum a product over n rows
 * in another order than over one, which can change a character where two are nearly tied.
 *
 * Nothing here prints or ends the process; failures return -1 with a message in err.
 */
#ifndef CHARPIPE_GENERATE_H
#define CHARPIPE_GENERATE_H

#include <stddef.h>
#include <stdint.h>
#include "codec.h"
#include "kern.h"
#include "lstm.h"
#include "model.h"
#include "rng.h"

/* ---- the step ---------------------------------------------------------------------------- */

/* Stateful generation with its own copy of the weights, packed once for the one-row products
 * (kern.h's gemv_packed): the same step as lstm_step, faster. half = 1 stores the matrices
 * (recurrent, the upper layers' kernels, dense) as IEEE half precision, half the bytes read
 * per character; the sums stay in float, so the logits differ from float32's by the rounding
 * of the weights (about 1e-3 relative) and a greedy argmax agrees but near ties. Layer 0's
 * kernel plus bias is kept as a float table, one row read per step. lstm_gen_new returns NULL
 * when out of memory; the generator reads p's dims, k and p may not change while it is used
 * (its weights are a copy: p may be freed). */
typedef struct lstm_gen lstm_gen;
lstm_gen *lstm_gen_new(const kern_ops *k, const lstm_params *p, int half);
void lstm_gen_free(lstm_gen *g);
/* lstm_step's contract: h (L, H), c (L, H) in place (the GRU leaves c alone), logits (V). */
void lstm_gen_step(lstm_gen *g, int x, float *h, float *c, float *logits);
/* Batched generation: a generator for steps of up to nmax rows (lstm_gen_new is nmax = 1);
 * NULL when out of memory or nmax < 1. */
lstm_gen *lstm_gen_new_batch(const kern_ops *k, const lstm_params *p, int half, int nmax);
/* One step of n <= nmax sequences: x (n) their inputs, h (L, n, H), c (L, n, H) in place,
 * logits (n, V). Each matrix product is one (n, H) product over the n rows, and row i's
 * results are bit for bit those of lstm_gen_step on row i alone (kern.h's gemv_packed_rows),
 * so a sequence's text does not depend on the batch it is generated in. */
void lstm_gen_step_batch(lstm_gen *g, int n, const int *x, float *h, float *c, float *logits);

/* ---- the generator ----------------------------------------------------------------------- */

typedef struct gen_opts {
    double temperature;               /* 0: greedy, the most likely character */
    int top_k;                        /* draw among the k most likely; 0: all */
    double top_p;                     /* ... and the fewest whose probability reaches p; 1: all */
    int stateful;                     /* 1: carry the state; 0: the window of maxlen */
    int half;                         /* stateful: the weights in half precision (lstm_gen) */
    uint64_t seed;                    /* row r draws from rng_seed(seed + r) */
} gen_opts;

/* The defaults: greedy, k 0, p 1, window mode, float weights, seed 0. */
gen_opts gen_defaults(void);

/* Stop strings as vocabulary indices: a sample ends where one of them has just been
 * generated, at the first place one appears in the generated text (the prompt is not
 * searched); the text ends before it. n 0 (or a NULL gen_stops): none. */
typedef struct gen_stops {
    int n;
    const int32_t *const *s;          /* n strings */
    const int *len;                   /* their lengths, >= 1 */
} gen_stops;

typedef struct gen gen;

/* A generator of up to nmax rows (samples generated together, or beams) for the model p
 * (read at every step in window mode: it must outlive g) with window length maxlen (window
 * mode; ignored when stateful). NULL with a message when out of memory or an option is out of
 * range (half without stateful, temperature < 0, top_p outside (0, 1], nmax < 1). */
gen *gen_new(const kern_ops *k, const lstm_params *p, int maxlen, const gen_opts *o, int nmax,
             char *err, size_t cap);
void gen_free(gen *g);

/* Row r's random stream (r < nmax): to read, or to set before a run. */
rng_t *gen_rng(gen *g, int r);

/* Called with each row's characters as they become final (not held back as the possible
 * start of a stop string): n indices x of row `row`. A non-zero return ends the run, which
 * then returns that value. */
typedef int (*gen_emit_fn)(void *ctx, int row, const int32_t *x, size_t n);

/* The sampling loop: nmax samples of up to n characters after the prompt (plen >= 1
 * indices, read by every row); prompt NULL: each row starts from one character drawn from
 * its own stream (uniform over the vocabulary), written to first[r] (nmax) and read as the
 * prompt. Each row then chooses a character, is handed it, reads it, n times, or until a stop
 * string ends it: stopped[r] (nmax, may be NULL) is then the stop string's number + 1, else 0.
 * emit receives the generated characters (not the prompt, not a stop string), in order per
 * row. Returns 0, emit's non-zero value, or -1 with a message. */
int gen_sample(gen *g, const int32_t *prompt, int plen, int32_t *first, long n,
               const gen_stops *stops, gen_emit_fn emit, void *ctx, int *stopped,
               char *err, size_t cap);

/* Beam search with K = nmax beams: the K most probable continuations of up to n characters
 * after the prompt (plen >= 1), by the total log-probability of the generated characters
 * (natural log); deterministic (ties go to the earlier beam, then the lower character);
 * the sampler's settings are not used, and K = 1 is greedy. A continuation that ends with a
 * stop string is finished there (its log-probability includes the stop string's
 * characters; its text ends before it); the search ends when K are finished and no
 * unfinished one can still beat them, or after n characters. On return hist (K, n) holds the
 * results' characters, best first, len (K) their lengths, score (K) their log-probabilities,
 * stopped (K) the stop string's number + 1 or 0. Returns how many results there are: K, or
 * fewer when fewer continuations exist; or -1 with a message. */
int gen_beam(gen *g, const int32_t *prompt, int plen, long n, const gen_stops *stops,
             int32_t *hist, int *len, double *score, int *stopped, char *err, size_t cap);

/* ---- a request in text ------------------------------------------------------------------- */

typedef struct gen_request {
    const char *prompt;               /* the prompt's bytes (UTF-8, or bytes for a byte-level
                                         model); NULL: each sample draws its first character */
    size_t prompt_len;
    const char *prompt_label;         /* names the prompt in messages ("--seed"); NULL: "prompt" */
    int skip_unknown;                 /* drop prompt characters outside the vocabulary (else refused) */
    long n;                           /* characters to generate per sample */
    int count;                        /* samples, from the streams seed .. seed + count - 1 */
    int beam;                         /* > 0: beam search with this many beams (count unused) */
    const char *const *stop;          /* nstop stop strings, as text; one with a character */
    const size_t *stop_len;           /* outside the vocabulary can never occur and is left out */
    int nstop;
    gen_opts o;
} gen_request;

/* Defaults: no prompt, n 500, count 1, no beam, no stop strings, gen_defaults(). */
gen_request gen_request_defaults(void);

typedef struct gen_result_text {
    char *text;                       /* the prompt as the model read it (codec_decode of its
                                         indices), then the generated characters; NUL added */
    size_t len, prompt_len;           /* bytes of text and of its prompt part */
    int stop;                         /* the stop string that ended it: its number + 1, or 0 */
    double logprob;                   /* beam search: the log-probability of the generated
                                         characters (stop string included); else 0 */
} gen_result_text;

typedef struct gen_result {
    int n;                            /* texts: count, or the beams found (best first) */
    gen_result_text *t;
    uint64_t skipped;                 /* prompt characters dropped (skip_unknown) */
    int stops_unused;                 /* stop strings left out: a character not in the vocabulary */
} gen_result;

/* Called with text as it becomes final: the prompt's bytes first, then the generated
 * characters' (row: the sample). A non-zero return ends the run. */
typedef int (*gen_text_emit_fn)(void *ctx, int row, const char *bytes, size_t n);

/* Errors of gen_text besides -1: the prompt holds a character outside the vocabulary. */
enum { GEN_EUNKNOWN = -2 };

/* Run request r on model m with the codec cd (codec_init of m's vocabulary). Without emit,
 * every text is collected into res (free with gen_result_free); with emit, the texts are
 * handed over as they come (what a streaming caller wants) and res, when not NULL, receives
 * the counts alone (n 0, skipped, stops_unused).
 * Returns 0, emit's non-zero value, -1 or GEN_EUNKNOWN with a message (the prompt's errors
 * are prefixed with its label, e.g. "--seed: the prompt is empty"). */
int gen_text(const kern_ops *k, const model *m, const codec *cd, const gen_request *r,
             gen_text_emit_fn emit, void *ctx, gen_result *res, char *err, size_t cap);
void gen_result_free(gen_result *res);

#endif
