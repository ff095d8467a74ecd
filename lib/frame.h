/* frame.h - what the frames of a charpipe stream mean, decoded once for every reader.
 *
 * ts.h reads frames; this layer says what a vocab frame, an index tensor and a one-hot tensor
 * are, with the checks every reader needs, so train, evaluate, onehot, tdump, vocab -v and
 * model reading agree on what they accept and say the same thing when they refuse:
 *
 *   - a vocab frame is u4 (V,), 0 < V, entries strictly ascending (code points <= U+10FFFF,
 *     or bytes <= 0xFF with attr unit "byte"), attrs unit ("codepoint" or "byte") and lower;
 *   - an index tensor is any integer dtype (u1 u2 u4 u8 i1 i2 i4 i8), every value in [0, V);
 *   - a one-hot tensor is f4 with a last dimension of V, each row exactly one 1.0 and zeros.
 *
 * Errors come back as -1 with a one-line message in err (no program name, no newline); the
 * caller prefixes where the frame came from (e.g. "stdin: "). Nothing here allocates unless
 * it says so, and nothing ends the process.
 */
#ifndef CHARPIPE_FRAME_H
#define CHARPIPE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "ts.h"

#define FRAME_MAX_V 65536                /* the largest vocabulary the model tools take */
#define FRAME_ANY_V 0x110000             /* every code point: no bound but the entries' own */

typedef struct frame_vocab {
    int V;
    uint32_t *cp;                        /* V entries, ascending; malloc'ed by frame_vocab_read */
    int byte_unit;                       /* unit "byte": entries are bytes, not code points */
    int lower;                           /* the text was lowercased (vocab --lower) */
} frame_vocab;

/* Decode and check a vocab frame (f->name is not checked). maxV (> 0) bounds V (FRAME_MAX_V
 * for the model tools, FRAME_ANY_V for the others). On success v->cp is a fresh copy (free
 * with frame_vocab_free); on failure *v is zeroed and nothing is allocated. An attr lower
 * that is not a bool or int counts as false. */
int  frame_vocab_read(const ts_frame *f, int maxV, frame_vocab *v, char *err, size_t cap);
void frame_vocab_free(frame_vocab *v);
/* A vocab tensor may come split over consecutive frames (FORMAT.md; the reader numbers the
 * pieces, ts_frame.piece): frame_vocab_read takes piece 0, frame_vocab_append each piece
 * after it, checking that the entries go on ascending and that V stays within maxV (the unit
 * and lower attributes are the first piece's). On failure v keeps what it had (free it). */
int  frame_vocab_append(frame_vocab *v, const ts_frame *f, int maxV, char *err, size_t cap);
/* Either, as f says: piece 0 replaces what v held (read), a later piece is appended. */
int  frame_vocab_take(frame_vocab *v, const ts_frame *f, int maxV, char *err, size_t cap);
/* 1 if a and b are the same vocabulary (entries and unit), else 0. */
int  frame_vocab_same(const frame_vocab *a, const frame_vocab *b);
/* 1 if the frame holds exactly the vocabulary v (same entries, same unit), else 0; a whole
 * vocab tensor in one frame (for a split one: read, append, then frame_vocab_same). */
int  frame_vocab_equal(const ts_frame *f, const frame_vocab *v);

/* 1 for the integer dtypes (index tensors), 0 for f4/f8. */
int frame_is_index_dtype(ts_dtype t);

/* The value at flat position i (not checked against f->count) of an integer tensor, as int64
 * (u8 above INT64_MAX: -1; f4/f8: -1). */
int64_t frame_index_at(const ts_frame *f, size_t i);

/* The first `count` indices of f into out: from an index tensor (every integer dtype; u1, the
 * common case, takes a tight loop), or from a one-hot f4 tensor of count rows of V (the row's
 * one 1.0; -0.0 counts as 0). Fails naming `what` (the frame's role, e.g. "x") and the first
 * bad value: "x holds index 70, outside the vocabulary of 65", "x holds index -1, ...", "x is
 * float32 but row 3 is not one-hot (exactly one 1.0, the rest 0)", or, for f8 or a float
 * tensor whose last dimension is not V, "x is f8: give indices or float32 one-hot rows of
 * V = 65". The caller checks count against the shape; a count beyond what f holds is refused,
 * never read past. */
int frame_indices(const ts_frame *f, size_t count, int V, int32_t *out, const char *what,
                  char *err, size_t cap);

/* The shape of a frame of windows or targets, whatever their encoding: rank without the
 * one-hot dimension (indices (B, N) and one-hot (B, N, V) are both rank 2), and the sizes.
 * Returns the rank, or -1 with a message if f is not a tensor, is float but not f4 (..., V),
 * or has a rank outside 1..maxrank. */
int frame_index_shape(const ts_frame *f, int V, int maxrank, uint64_t shape[TS_MAXDIM],
                      const char *what, char *err, size_t cap);

#endif
