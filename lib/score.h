/* score.h - a model's cross-entropy on a text or a window stream, as evaluate reports it and
 * train validates: the one place it is computed for a text.
 *
 * A text is read as indices (codec.h), in pieces of any size. Without streams it is cut into
 * the windows 'window -n MAXLEN -s STEP' would give, each predicting its next character (or,
 * for a model trained with a target at every position, every character after its first),
 * evaluated a chunk of windows at a time: memory bounded by a chunk. With streams B > 0 the
 * text is held and cut into B contiguous streams read with the state carried, every character
 * after a stream's first predicted (train --streams' validation). A window stream (x/y frames
 * of any integer dtype or one-hot, as train takes them) is scored frame by frame.
 *
 * Nothing here prints or ends the process; failures return -1 with a message in err.
 */
#ifndef CHARPIPE_SCORE_H
#define CHARPIPE_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include "kern.h"
#include "model.h"
#include "ts.h"

typedef struct scorer scorer;

/* A scorer of m (which must outlive it) on nthreads threads: windows every step characters,
 * or streams > 0 carried-state streams. label names the input in messages ("stdin"). */
scorer *score_new(const kern_ops *k, const model *m, int nthreads, long step, int streams,
                  const char *label, char *err, size_t cap);
void score_free(scorer *s);

/* The next n characters of the text, as vocabulary indices (< V). */
int score_text(scorer *s, const int32_t *x, size_t n, char *err, size_t cap);

/* The next frame of a window stream: its vocab (which must be the model's), x and y frames. */
int score_frame(scorer *s, const ts_frame *f, char *err, size_t cap);

/* After all the input: the mean loss in nats per predicted character into *nats, the number
 * of predicted characters into *targets, and of windows (streams: of targets) into *windows.
 * Fails when there was nothing to predict or the loss is not finite. */
int score_finish(scorer *s, double *nats, double *targets, uint64_t *windows, char *err, size_t cap);

#endif
