/* dataset.h - training and evaluation data held in memory as indices, compactly.
 *
 * Two layouts, as train reads them:
 *   windows  the 'x' (B, N) / 'y' (B) or (B, N) frames of window (indices of any integer
 *            dtype, or float32 one-hot, decoded by frame.h): window i is x_i (N) -> y_i;
 *   text     the 'text' frames of vocab: one sequence of indices (train --streams cuts it
 *            into streams itself).
 *
 * Windows cut from one text with a stride overlap: window i+1 is window i moved on by s
 * characters. So the store keeps text, not windows: each window is the N + 1 characters
 * x_0 .. x_{N-1}, y (or, with a target at every position, x_0 .. x_{N-1}, y_{N-1} where
 * y_t = x_{t+1}) at an offset into one array of characters, and a run of windows that moves
 * on by the same stride is described once (first window, offset, stride). The overlap is
 * found as the windows arrive, by comparing each with the one before: nothing is assumed,
 * and windows that do not overlap become a run of stride N + 1, stored as they came.
 * Windows that cannot be spans of a text (per-position targets that are not the next
 * character) switch the store to plain arrays of x and y, as before. Characters are 8 bits
 * when V <= 256, else 16.
 *
 * Functions that can fail return -1 with a one-line message in err; nothing here ends the
 * process or prints.
 */
#ifndef CHARPIPE_DATASET_H
#define CHARPIPE_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "ts.h"

typedef struct ds_run {
    uint64_t first;                   /* index of its first window */
    uint64_t off;                     /* where that window's span starts in the text */
    uint32_t stride;                  /* characters from one window's start to the next's */
} ds_run;

typedef struct dataset {
    frame_vocab vocab;                /* V 0 until a vocab frame (or the caller) sets it */
    int vocab_fixed;                  /* set by the caller with vocab (evaluate: the model's):
                                         a vocab frame must be the same */
    int vocab_open;                   /* a vocab tensor is being read: 1 vocab, 2 other */
    frame_vocab other;                /* a later vocab tensor, compared with vocab when whole */
    int want_text;                    /* take the text frames (1) or the windows (0) */
    const char *label;                /* names the input in messages ("stdin") */
    /* windows */
    int N, ylen;                      /* window length; targets per window (1 or N) */
    size_t n;                         /* windows held */
    int plain;                        /* stored as plain x, y arrays (see above) */
    ds_run *runs;                     /* compact: runs of windows over the text below */
    size_t nruns, runcap;
    uint8_t *x8, *y8;                 /* plain: x (n, N), y (n, ylen) when V <= 256 */
    uint16_t *x16, *y16;              /* ... otherwise */
    size_t xcap, ycap;
    size_t pending;                   /* rows of an x tensor still waiting for their y */
    int yopen;                        /* a y tensor is being read (its pieces may follow): */
    size_t yrows, ytaken;             /* the x rows it goes with, and those it has taken */
    int saw_text;                     /* text frames were skipped (for a hint when no windows) */
    int32_t *tmp;                     /* decoded frame */
    int32_t *span;                    /* (N + 1) a window as the characters it covers */
    size_t tmpcap;
    /* the characters: the text layout's text, or the windows' spans */
    uint8_t *t8;
    uint16_t *t16;
    size_t tn, tcap;
} dataset;

/* An empty dataset reading the text frames (want_text) or the windows; label names the
 * input in messages. */
void dataset_init(dataset *d, int want_text, const char *label);
void dataset_free(dataset *d);

/* Take one frame: vocab (the first sets the vocabulary; a different one later is an error),
 * x, y or text; other frames are ignored. A tensor may come split over consecutive frames
 * (ts_frame.piece): a vocab is joined, x and y rows are taken as they come (y's pieces need
 * not match x's, only their total rows). */
int dataset_add_frame(dataset *d, const ts_frame *f, char *err, size_t cap);
/* The input has ended: an error if it lacked a vocabulary, data, or a y frame. */
int dataset_finish(dataset *d, char *err, size_t cap);
/* The part of dataset_finish for a caller that takes the windows chunk by chunk (evaluate):
 * the last tensor complete (a y with every row of its x, a later vocab the same), no x
 * without its y. */
int dataset_end(dataset *d, char *err, size_t cap);

/* The whole stream in file path (NULL: stdin) into d (init, add_frame for every frame,
 * finish). progress, when not NULL, is called after every frame with the windows and
 * characters held so far. Returns 0, or -1 with a message (naming the file, or "stdin"). */
int dataset_read(dataset *d, const char *path, int want_text,
                 void (*progress)(void *ctx, size_t windows, size_t chars), void *ctx,
                 char *err, size_t cap);

/* The vocabulary size *V and window length *N from the start of a window stream r (label
 * names it), for a model's summary: frames are read, as dataset_add_frame reads them, until
 * both are known (one given non-zero is kept). Returns 0, or -1 with a message. */
int dataset_dims(ts_reader *r, const char *label, int *V, int *N, char *err, size_t cap);

/* Add one window x (N) -> y (ylen) of indices below vocab.V; the first fixes N and ylen. */
int dataset_add_window(dataset *d, const int32_t *x, const int32_t *y, int N, int ylen,
                       char *err, size_t cap);
/* Add n characters of text. */
int dataset_add_text(dataset *d, const int32_t *t, size_t n, char *err, size_t cap);
/* Drop the windows and text, keeping the vocabulary, N, ylen and the buffers' memory (for
 * chunked evaluation: no allocation per chunk). */
void dataset_clear(dataset *d);

/* Windows rows[0..b) into x (b, N) and y (b, ylen). */
void dataset_gather(const dataset *d, const uint32_t *rows, int b, int32_t *x, int32_t *y);
/* The windows first .. first + b into x (b, N) and y (b, ylen). */
void dataset_gather_range(const dataset *d, size_t first, int b, int32_t *x, int32_t *y);

/* Streams lo .. lo + b of the text from `start` cut into streams of n characters: steps
 * off .. off + T of each into x (b, T), and the characters after them into y (b, T). A
 * stream wraps round its n characters: step k is its character k mod n, and the target the
 * text's next character (for the last, the first of the next stream, or the text's n*B-th). */
void dataset_slice(const dataset *d, size_t start, size_t n, int lo, int b, size_t off, int T,
                   int32_t *x, int32_t *y);

/* The data's fingerprint, as train records it to check what --resume is given: FNV-1a 64
 * over the window length and targets per window, then every window's indices x, y in order
 * (for windows), or over the text's indices (text), each index as 4 little-endian bytes; so
 * it depends on the indices alone, not on how they came (index or one-hot frames, runs or
 * plain arrays). *size receives the windows held, or the characters. */
uint64_t dataset_fingerprint(const dataset *d, uint64_t *size);

/* The start of the data as indices, into idx (at most max): the first max characters of the
 * text, or the first window's N (max >= N). Returns how many, or -1 when out of memory. */
int dataset_prefix(const dataset *d, int32_t *idx, int max);

/* Bytes of memory the data takes. */
size_t dataset_bytes(const dataset *d);

#endif
