/* charpipe.h - the public interface of libcharpipe, the shared library (libcharpipe.so.1):
 * open a model trained by charpipe's train, generate text from it, score a text with it.
 *
 *     #include <charpipe.h>          cc prog.c $(pkg-config --cflags --libs charpipe)
 *
 *     char err[256];
 *     cp_model *m;
 *     if (cp_open("model", NULL, &m, err, sizeof err) != CP_OK) { fprintf(stderr, "%s\n", err); ... }
 *     cp_gen_options o;
 *     cp_gen_options_init(&o);
 *     o.n = 200; o.temperature = 0.8; o.seed = 7;
 *     const char *stop[] = { "\n\n" };
 *     o.stop = stop; o.nstop = 1;
 *     char *text;
 *     if (cp_generate(m, "ROMEO:", 6, &o, &text, NULL, NULL, err, sizeof err) == CP_OK) {
 *         printf("ROMEO:%s\n", text);
 *         cp_free(text);
 *     }
 *     double nats;
 *     cp_score(m, "To be, or not to be", 19, -1, 0, &nats, err, sizeof err);
 *     cp_close(m);
 *
 * The generated text is the one 'sample' writes after the seed for the same options and
 * --rng-seed (sample --seed PROMPT -t T -k K -p P --stop S --rng-seed SEED), and a score is
 * what 'evaluate' reports as loss_nats for the same text. Every function returns a status
 * (CP_OK or a CP_E... code; cp_strerror names it) and, on failure, writes a one-line message
 * into err (cap bytes; err may be NULL). Nothing here prints, reads the environment or ends
 * the process. A cp_model is only read after cp_open: calls on one model may run in several
 * threads at once (each allocates its own state); cp_close must come after all of them.
 *
 * Text is UTF-8 (or bytes, for a model trained on bytes: vocab --bytes); a model trained on
 * lowercased text (vocab --lower) lowercases what it reads. Symbols of the library other than
 * these are hidden; lib/'s other headers are for static users of libcharpipe.a. doc/LIBRARY.md
 * has more, and the Python module over this interface.
 */
#ifndef CHARPIPE_H
#define CHARPIPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CP_API __attribute__((visibility("default")))
#else
#define CP_API
#endif

/* The interface's version: the major number is the shared library's (libcharpipe.so.1),
 * raised when a change could break a program built against an earlier one. */
#define CP_VERSION_MAJOR 1
#define CP_VERSION_MINOR 0

/* Statuses. */
enum {
    CP_OK = 0,
    CP_EINVAL = 1,                    /* an argument out of range (a NULL pointer, a negative n, ...) */
    CP_EFILE = 2,                     /* the model file cannot be read, or is not a valid model */
    CP_ENOMEM = 3,                    /* out of memory */
    CP_ETEXT = 4,                     /* a text that cannot be read: invalid UTF-8, empty, too short */
    CP_EUNKNOWN = 5,                  /* a character outside the model's vocabulary */
    CP_EKERNEL = 6                    /* the kernel set asked for does not run on this CPU */
};

/* The library's version, "1.0 (charpipe 0.2)"; and CP_VERSION_MAJOR * 1000 +
 * CP_VERSION_MINOR of the library actually loaded (compare with the header's). */
CP_API const char *cp_version(void);
CP_API int cp_version_number(void);

/* A short description of a status ("out of memory"); "unknown status" for anything else. */
CP_API const char *cp_strerror(int status);

typedef struct cp_model cp_model;

/* Open the model file at path (as train writes it; every attribute and value is checked).
 * kernels: the kernel set to run ("scalar", "avx2", "avx512"), or NULL for the best this
 * CPU runs. On success *m is the model (cp_close it). */
CP_API int cp_open(const char *path, const char *kernels, cp_model **m, char *err, size_t cap);
CP_API void cp_close(cp_model *m);

/* What the model is: its vocabulary size, hidden units, layers, the window length it was
 * trained on, 1 if trained with the state carried (train --streams), 1 if byte-level. Any
 * pointer may be NULL. */
CP_API int cp_model_info(const cp_model *m, int *vocab, int *hidden, int *layers, int *maxlen,
                         int *stateful, int *bytes);

/* Generation's settings; cp_gen_options_init fills the defaults. */
enum { CP_MODE_DEFAULT = 0, CP_MODE_STATEFUL = 1, CP_MODE_WINDOW = 2 };
typedef struct cp_gen_options {
    long n;                           /* characters to generate (default 200) */
    double temperature;               /* 0: greedy (default) */
    int top_k;                        /* among the k most likely; 0: all (default) */
    double top_p;                     /* among the fewest whose probability reaches p; 1: all */
    uint64_t seed;                    /* the random stream (default 0): sample --rng-seed */
    int mode;                         /* CP_MODE_DEFAULT: stateful for a model trained with the
                                         state carried, else the window (as sample chooses) */
    const char *const *stop;          /* nstop stop strings (NUL-terminated): the text ends
                                         before the first one generated, which is not included */
    int nstop;
    int skip_unknown;                 /* drop prompt characters outside the vocabulary (else
                                         CP_EUNKNOWN) */
} cp_gen_options;

CP_API void cp_gen_options_init(cp_gen_options *o);

/* Generate after prompt (prompt_len bytes, at least one character; NULL: one character drawn
 * from the random stream starts the text, and is the first of *text). On success *text is
 * the generated text, NUL-terminated (free it with cp_free), *len its length in bytes (len may
 * be NULL; a byte-level model's text may hold NUL bytes), and *stopped (may be NULL) the
 * number of the stop string that ended it, from 1, or 0. */
CP_API int cp_generate(const cp_model *m, const char *prompt, size_t prompt_len,
                       const cp_gen_options *o, char **text, size_t *len, int *stopped,
                       char *err, size_t cap);

/* The model's mean cross-entropy on text (len bytes) in nats per predicted character, as
 * evaluate computes it (evaluate --streams): every window of the model's length and its next
 * character (streams 0), or the text cut into that many streams read with the state carried
 * (streams > 0); streams -1: as evaluate by default, the model's own number of streams for a
 * model trained with the state carried, else windows. threads: 0 for all CPUs. */
CP_API int cp_score(const cp_model *m, const char *text, size_t len, int streams, int threads,
                    double *nats, char *err, size_t cap);

/* Free what the library returned. */
CP_API void cp_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
