/* lstm_ref.h - the reference LSTM: plain double-precision code, one window at a time, written
 * to be obviously correct rather than fast. It is the oracle the float32 paths (lstm.h, every
 * kernel set) are tested against, and is itself checked against finite differences.
 *
 * params and grad are flat double arrays in lstm.h's layout (kernel (V,4H), recurrent (H,4H),
 * bias (4H), dense_kernel (H,V), dense_bias (V)); x (b, T) indices, y (b) targets. */
#ifndef CHARPIPE_LSTM_REF_H
#define CHARPIPE_LSTM_REF_H

#include <stdint.h>

/* Mean cross-entropy loss (nats) over b windows; if grad != NULL it receives (is overwritten
 * with) the gradient of that mean with respect to params. (lstm_ref_loss_seq below with one
 * layer, the last step's target and a zero initial state.) */
double lstm_ref_loss(const double *params, double *grad, int V, int H, int T, int b,
                     const int32_t *x, const int32_t *y);

/* Softmax probabilities (b, V) after the last step of each window. */
void lstm_ref_probs(const double *params, int V, int H, int T, int b, const int32_t *x,
                    double *probs);

/* One step of one sequence: h (H), c (H) updated in place from input x; logits (V) written. */
void lstm_ref_step(const double *params, int V, int H, int x, double *h, double *c,
                   double *logits);

/* The general reference, for the char-rnn extensions: L stacked layers (params in
 * lstm_bind_l's layout: per layer kernel, recurrent kernel, bias; then the dense layer),
 * targets y (b, T) at every position when per_position is set (else y (b) after the last
 * step), and an initial state h0, c0 ((L, b, H), NULL = zeros). Returns the mean loss over all
 * targets and, if grad != NULL, its gradient (truncated: none flows into h0, c0). L <= 8. */
double lstm_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                         const int32_t *x, const int32_t *y, int per_position,
                         const double *h0, const double *c0);

/* The layer-normalised LSTM (lstm.h's lnlstm): the same as lstm_ref_loss_seq with params in
 * lstm_bind_l's lnlstm layout (per layer kernel, recurrent kernel, bias, gamma). */
double lnlstm_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                           const int32_t *x, const int32_t *y, int per_position,
                           const double *h0, const double *c0);

/* The GRU reference (lstm.h gives the math, Keras's reset_after formulation): the same
 * arguments as lstm_ref_loss_seq with params in lstm_bind_l's GRU layout (per layer kernel
 * (in, 3H), recurrent kernel (H, 3H), bias (2, 3H); then the dense layer) and h0 ((L, b, H),
 * NULL = zeros) the only state. */
double gru_ref_loss_seq(const double *params, double *grad, int V, int H, int L, int T, int b,
                        const int32_t *x, const int32_t *y, int per_position, const double *h0);

/* The regularisation masks (lstm.h's lstm_seq: weight drop, dropout, locked dropout), given
 * explicitly, NULL where off: wdrop[l] (H, G) multiplies layer l's recurrent kernel (the loss
 * is the unmasked one at R * wdrop, so its gradient is wdrop times the gradient there); input
 * (b, T) multiplies window w's one-hot input at step t; between[l] (T, b, H), l >= 1,
 * layer l's input at step t of window w; output (b, H) the top layer's output into the dense
 * layer (every step). */
typedef struct ref_masks {
    const double *wdrop[8], *input, *between[8], *output;
} ref_masks;

/* lstm_ref_loss_seq (cell 0 = LSTM), lnlstm_ref_loss_seq (2) or gru_ref_loss_seq (1) under the
 * masks m (cell numbers as lstm.h's CELL_ constants). */
double ref_loss_masked(int cell, const double *params, double *grad, int V, int H, int L, int T,
                       int b, const int32_t *x, const int32_t *y, int per_position,
                       const double *h0, const double *c0, const ref_masks *m);

#endif
