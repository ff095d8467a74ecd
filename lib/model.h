/* model.h - a trained model as train writes it and sample/eval read it.
 *
 * A model file is a tensor stream (FORMAT.md) holding, in this order:
 *   "model"       info frame: attrs cell, layers, hidden, maxlen, vocab_size, targets, and the
 *                 training state (epochs, batches, steps, losses, settings; the regularisation
 *                 attrs weight_drop, locked_dropout, input_dropout, weight_decay, warmup are
 *                 0 when absent; data_size, data_hash: the fingerprint of the training data;
 *                 FORMAT.md)
 *   "vocab"       u4 (V,) the vocabulary, attrs unit
 *   "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"
 *                 f4 weights in Keras's layout (lstm.h); stacked layers add "lstm_1/kernel",
 *                 "lstm_1/recurrent_kernel", "lstm_1/bias", ...; a GRU model (attr cell
 *                 "gru") names its layers gru, gru_1, ... instead, and a layer-normalised
 *                 LSTM (cell "lnlstm") lnlstm, lnlstm_1, ..., each with a fourth weight,
 *                 "lnlstm/gamma" (4H)
 *   "adam/m/<weight>", "adam/v/<weight>"   f4 optimizer moments (for resuming)
 *   "raw/<weight>"  f4 the weights training updates, when the model keeps an average of them
 *                 (train --ema, attr ema > 0): the weights above are then the average
 *   "rng"         u8 (2, 4): the RNG state at the start of the current epoch, and now
 *   "state/h", "state/c"  f4 (L, B, H): the carried state of the B streams, when a
 *                 stream-layout (char-rnn) run was stopped in the middle of an epoch (a GRU
 *                 has no cell state: its state/c is zeros)
 */
#ifndef CHARPIPE_MODEL_H
#define CHARPIPE_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include "lstm.h"
#include "rng.h"

typedef struct model {
    lstm_dims dim;                    /* V, H, L and the cell (CELL_LSTM, CELL_GRU, CELL_LNLSTM) */
    int maxlen;                       /* window length, or steps per chunk (streams) */
    int per_position;                 /* a target after every step (char-rnn), not just the last */
    int streams;                      /* > 0: trained on that many contiguous streams of the
                                         text with the state carried (char-rnn); 0: windows */
    uint32_t *vocab;                  /* V code points (or bytes) */
    int byte_unit;                    /* vocabulary of bytes, not code points */
    int lower;                        /* the text was lowercased (vocab --lower) */
    float *params;                    /* lstm_nparams floats, 64-byte aligned */
    lstm_params p;                    /* views into params */
} model;

/* What training adds to a model, for resuming it: read only when asked for. */
typedef struct train_state {
    float *adam_m, *adam_v;           /* Adam's moments, laid out as the parameters; NULL when
                                         the file has none */
    /* settings */
    int batch;
    double lr, beta1, beta2, eps, clip, val_split, dropout;
    char schedule[16];                /* learning-rate schedule: none, cosine, step */
    double decay_rate;                /* step schedule: factor applied every decay_every epochs */
    int decay_every;
    uint64_t seed;
    /* progress */
    int64_t epochs;                   /* complete epochs */
    int64_t epoch_batches;            /* batches done in the current, incomplete epoch */
    double epoch_loss_sum;            /* sum of window losses in those batches */
    int64_t steps;                    /* Adam steps taken */
    double train_loss, val_loss;      /* of the last complete epoch (NAN if none) */
    rng_t rng_epoch;                  /* the RNG at the start of the current epoch */
    rng_t rng;                        /* the RNG now */
    double best_val_loss;             /* the best validation loss seen (NAN if none) */
    float *state_h, *state_c;         /* (L, streams, H) carried state mid-epoch, or NULL */
    /* regularisation (issue 16): lstm_seq's rates, AdamW's decay, the warm-up; all 0 (off)
     * in files written before them */
    double weight_drop, locked_dropout, input_dropout, weight_decay;
    int64_t warmup;                   /* Adam steps of linear learning-rate warm-up */
    /* weight averaging (train --ema): the model's weights (model.params) are an exponential
     * moving average of the weights training updates, which are kept here (laid out as the
     * parameters); ema 0 and raw NULL when off */
    double ema;                       /* the average's decay per Adam step */
    float *raw;
    /* the streams' starts (train --stream-starts; attr stream_starts, "fixed" when absent):
     * 0, every epoch's stream i starts at i * (its share of the text); 1, at a random offset
     * into its share, drawn per epoch from rng_epoch, the stream wrapping round its share */
    int random_starts;
    /* the training data's fingerprint (dataset_fingerprint), checked by --resume */
    int has_data_fp;                  /* 0: none recorded (an older model, or sharded input) */
    uint64_t data_size;               /* windows, or characters of text */
    uint64_t data_hash;               /* FNV-1a 64 */
    /* the run's horizon, so that a resumed run ends and schedules as the uninterrupted one
     * (attrs horizon_epochs, horizon_seconds, train_seconds; 0 in models that predate them) */
    int64_t horizon_epochs;           /* the run ends after this many epochs (-e); 0: no limit */
    double horizon_seconds;           /* ... or after this many seconds of training; 0: no limit */
    double train_seconds;             /* seconds of training so far (kept with a time limit only,
                                         so that epoch-bound runs write the same bytes) */
} train_state;

/* Allocate params (zero) and vocab for a model of shape d. Returns 0, or -1 when out of
 * memory (m then holds nothing). */
int  model_alloc(model *m, lstm_dims d, int maxlen);
void model_free(model *m);

/* Keras's defaults (batch 64, lr 1e-3, ...) and zero moments for nparams parameters.
 * Returns 0, or -1 when out of memory. */
int  train_state_alloc(train_state *s, size_t nparams);
void train_state_free(train_state *s);

/* train_state.random_starts by name: "fixed" (0) or "random" (1); starts_parse returns -1
 * for any other name. */
const char *starts_name(int random_starts);
int starts_parse(const char *name);

/* Write m, and s unless NULL, as a stream to fd (tensors of more than TS_CHUNK_BYTES split
 * along their first axis). Returns 0, or -1 with a message in err; a model whose dimensions
 * or layout model_read refuses (hidden above 8192, maxlen above 100,000, ...) is refused
 * before anything is written. */
int model_write(const model *m, const train_state *s, int fd, const char *label, char *err,
                size_t cap);

/* The largest weight magnitude model_read accepts in a model of H hidden units:
 * sqrt(FLT_MAX) / (2H + 2), below which no pre-activation or logit can overflow. */
double model_max_weight(int H);

/* 1 if model_read would take m and s back: the parameters finite and within
 * model_max_weight, Adam's moments and the carried state finite (s may be NULL); else 0.
 * (Writers check it so that a model that diverged never replaces a good one.) */
int model_loadable(const model *m, const train_state *s);

/* Read a model stream from path ("-" = stdin): the weights into m and, when s is not NULL,
 * the training state into s (s->adam_m NULL if the file has no optimizer state); with s NULL
 * nothing but the model is kept (and the training state's frames are not read). The file is
 * untrusted: every attribute, shape and value is checked as FORMAT.md ("Model files: what a
 * reader checks") says, and nothing is allocated from a size it claims before the data is
 * there. Tensors split over consecutive frames are joined. Returns 0, or -1 with a message
 * in err. */
int model_read(model *m, train_state *s, const char *path, char *err, size_t cap);

/* Index of code point (or byte) cp in the model's vocabulary, or -1. */
int model_index(const model *m, uint32_t cp);

/* The character at p[0..n) (n >= 1) as the model reads text: one byte, or one UTF-8 sequence;
 * lowercased when the model was trained on lowercased text (utf8_lower: see codec_init for
 * the locale it needs). codec.h's codec_char on the model's vocabulary. Returns its length in bytes with *cp and *index set (*index -1: not in the
 * vocabulary); 0 if p holds only the start of a UTF-8 sequence; -1 if the bytes are not
 * UTF-8 (*why says why). */
int model_char(const model *m, const unsigned char *p, size_t n, uint32_t *cp, int *index,
               const char **why);


/* Print a Keras-style summary of the model (layers, output shapes, parameter counts). */
void model_summary(FILE *out, lstm_dims d, int maxlen, int per_position);

#endif
