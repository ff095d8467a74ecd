/* lstm.h - the seed's model, LSTM(H) -> Dense(V) softmax, in float32, and its training math;
 * generalised to L stacked layers, a target at every position and a carried state (char-rnn).
 *
 * Layout and names follow Keras, so weights move to Keras/PyTorch with a few lines of Python:
 *   kernel            (V, 4H)   input weights, gate blocks in Keras order i, f, c, o
 *   recurrent_kernel  (H, 4H)
 *   bias              (4H)
 *   dense_kernel      (H, V)
 *   dense_bias        (V)
 * All parameters live in one flat float array in that order (no padding); gradients and
 * Adam's moments use the same layout, so optimizer steps are flat loops and a checkpoint is
 * a few bulk writes.
 *
 * Shapes in comments: B batch (windows), T time steps (maxlen), H hidden, V vocabulary.
 * Inputs are character indices (the input projection of a one-hot vector is a row gather).
 *
 * The math of one step (z = gate pre-activations, Keras gate order i, f, c, o):
 *   z = kernel[x_t] + bias + h_{t-1} . recurrent_kernel
 *   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_c)  o = sigmoid(z_o)
 *   c_t = f * c_{t-1} + i * g        h_t = o * tanh(c_t)
 * and after the last step: logits = h_T . dense_kernel + dense_bias, p = softmax(logits),
 * loss = -log p[y]. h_0 = c_0 = 0.
 *
 * The GRU cell (--cell gru) replaces the LSTM layers by Keras's GRU (reset_after=True, the
 * formulation cuDNN and PyTorch use), gate blocks in Keras order z, r, h:
 *   kernel (V, 3H), recurrent_kernel (H, 3H), bias (2, 3H): row 0 the input bias, row 1 the
 *   recurrent bias
 *   a = kernel[x_t] + bias[0]      u = h_{t-1} . recurrent_kernel + bias[1]
 *   z = sigmoid(a_z + u_z)  r = sigmoid(a_r + u_r)  n = tanh(a_h + r * u_h)
 *   h_t = z * h_{t-1} + (1 - z) * n
 * It has no cell state c; the carried state is h alone. The same products serve both cells
 * (with 3H gate columns instead of 4H); only the elementwise cell kernels differ.
 *
 * The layer-normalised LSTM (--cell lnlstm, Ba, Kiros and Hinton 2016, as KANN uses it)
 * normalises each gate block of the summed projections before the bias:
 *   s = kernel[x_t] + h_{t-1} . recurrent_kernel          (no bias)
 *   z_q = gamma_q * (s_q - mean(s_q)) / sqrt(var(s_q) + 1e-5) + bias_q   for each gate block q
 * with mean and variance over the H units of the block, then the LSTM cell as above. It adds
 * a fourth tensor per layer, gamma (4H), initialised to 1; its layers are named lnlstm, ...
 *
 * Stacked layers (L > 1): layer l > 0 takes the hidden states of layer l-1 as its input
 * (kernel (H, 4H), a matrix product instead of a gather), optionally through dropout; the
 * dense layer reads the top layer. Tensors are laid out layer by layer (kernel, recurrent,
 * bias of layer 0, then of layer 1, ...) and then the dense layer's; Keras names the layers
 * lstm, lstm_1, lstm_2, ... For L = 1 this is exactly the layout above.
 */
#ifndef CHARPIPE_LSTM_H
#define CHARPIPE_LSTM_H

#include <stddef.h>
#include <stdint.h>
#include "kern.h"
#include "rng.h"

enum { CELL_LSTM, CELL_GRU, CELL_LNLSTM };
/* Gate blocks per layer: 4 for the LSTMs, 3 for the GRU. */
static inline int cell_gates(int cell) { return cell == CELL_GRU ? 3 : 4; }
/* Tensors per layer: kernel, recurrent kernel, bias (and gamma for the lnlstm). */
static inline int cell_tensors(int cell) { return cell == CELL_LNLSTM ? 4 : 3; }
/* "lstm", "gru" or "lnlstm" (the layer name); cell_parse returns -1 for any other name. */
const char *cell_name(int cell);
int cell_parse(const char *name);

#define LSTM_MAX_LAYERS 8

/* The shape of a model: vocabulary, units per layer, layers, cell. */
typedef struct lstm_dims {
    int V, H, L, cell;
} lstm_dims;

typedef struct lstm_layer {
    float *kernel;        /* (V, G) for layer 0, (H, G) above; G = 4H (LSTM) or 3H (GRU) */
    float *recurrent;     /* (H, G) */
    float *bias;          /* (G), or (2, G) for the GRU */
    float *gamma;         /* (G) the lnlstm's layer-norm gains, else NULL */
} lstm_layer;

typedef struct lstm_params {
    lstm_dims dim;
    float *dense_w;       /* (H, V) */
    float *dense_b;       /* (V) */
    lstm_layer layer[LSTM_MAX_LAYERS];
} lstm_params;

/* The parameters of L stacked layers of a cell, as one flat float array: nt L + 2 tensors
 * (nt = cell_tensors(cell)), k = nt l + {0,1,2(,3)} for layer l's kernel, recurrent kernel,
 * bias (and gamma), nt L and nt L + 1 for the dense kernel and bias. lstm_nparams counts the
 * floats, lstm_bind points p's tensors into flat; lstm_tensor_shape gives tensor k's rank
 * and shape, lstm_tensor_offset its offset in floats; lstm_tensor_name writes its Keras name
 * ("lstm/kernel", "gru_1/recurrent_kernel", "dense/bias", ...) into buf (it reads d.L and
 * d.cell only). The seed's model is L = 1, CELL_LSTM. */
size_t lstm_nparams(lstm_dims d);
void   lstm_bind(lstm_params *p, float *flat, lstm_dims d);
int    lstm_ntensors(lstm_dims d);
int    lstm_tensor_shape(lstm_dims d, int k, uint64_t shape[2]);
size_t lstm_tensor_offset(lstm_dims d, int k);
const char *lstm_tensor_name(lstm_dims d, int k, char *buf, size_t cap);

/* Keras initialisation: Glorot-uniform kernels (kernel: fan_in V, fan_out G; dense: H, V),
 * orthogonal recurrent kernel (rows orthonormal, as Keras's Orthogonal for a (H, G) shape),
 * zero biases, for the LSTM with the forget-gate block of bias set to 1. Returns 0, or -1 when
 * out of memory (p is then partly initialised). */
int lstm_init_keras(lstm_params *p, rng_t *rng);

/* Scratch memory for forward/backward over up to bmax windows of T steps (one per thread).
 * Every call below that takes a work area returns NAN, touching nothing (no gradient,
 * probability or state written), when w was not made for p's dims or b is not in 1..bmax or
 * T not in 1..w's T. */
typedef struct lstm_work lstm_work;
lstm_work *lstm_work_new(lstm_dims d, int T, int bmax);
void lstm_work_free(lstm_work *w);

/* The precision of the recurrent layers' matrix products (lstm_seq.precision):
 *   LSTM_FP32  float
 *   LSTM_BF16  bf16 with float sums (kern.h's bf16 products, vdpbf16ps where the kernel set has
 *              it, else an exact emulation): the products of each layer's recurrence (h . R
 *              forward, dz . R^T backward) and input projection above the first layer (h . K,
 *              dz . K^T), and the weight gradients (h^T dz). The weights are rounded and packed
 *              once per call, the activations and gradients as each product reads them. The
 *              parameters, the cells and their state, the dense layer (a small product whose
 *              logits set the loss), the gradients and their sums stay float.
 * lstm_precision_name gives "fp32" or "bf16"; lstm_precision_parse reads them (-1 for another
 * name). */
enum { LSTM_FP32, LSTM_BF16 };
const char *lstm_precision_name(int precision);
int lstm_precision_parse(const char *name);

/* The scratch memory of bf16 products in w (about the size of w's activations again): 0, or
 * -1 when out of memory. The calls below return NAN on a work area without it when asked for
 * LSTM_BF16 (or for a precision that is neither). */
int lstm_work_bf16(lstm_work *w);

/* Forward and backward over b windows: x (b, T) indices, y (b) target indices.
 * Adds gscale * d(sum of the b losses)/d(param) into g (same layout as p; caller zeroes it),
 * so with gscale = 1/B for a batch of B split over threads the sum of the parts is the
 * gradient of the batch's mean loss. Returns the sum of the b losses (nats). */
double lstm_train_batch(const kern_ops *k, const lstm_params *p, lstm_params *g,
                        lstm_work *w, int b, int T, const int32_t *x, const int32_t *y,
                        float gscale);

/* Forward only: returns the sum of the b losses; if probs is not NULL it receives the
 * softmax (b, V). y may be NULL (then 0 is returned and only probs is filled). */
double lstm_forward_batch(const kern_ops *k, const lstm_params *p, lstm_work *w,
                          int b, int T, const int32_t *x, const int32_t *y, float *probs);

/* The general case (char-rnn): what lstm_train_batch and lstm_forward_batch do with s NULL. */
typedef struct lstm_seq {
    int per_position;     /* y is (b, T): a target after every step, loss summed over all */
    const float *h0, *c0; /* (L, b, H): the state to start from (carried); NULL = zeros.
                             The GRU reads h0 only (c0 may be NULL) */
    float *hT, *cT;       /* (L, b, H): receives the state after the last step; may be NULL.
                             The GRU sets cT (if given) to zeros */
    float dropout;        /* dropout rate on the input of layers above the first (training) */
    rng_t *rng;           /* draws the dropout masks: one number per layer, from which each
                             row's masks are drawn with the row's place in the batch */
    int row0;             /* that place for row 0, when these b rows are part of a batch */
    /* Regularisation (training only; forward-only calls ignore it), after AWD-LSTM (Merity
     * et al. 2018). Each rate 0 draws nothing from rng, so the masks above are unchanged. */
    float weight_drop;    /* DropConnect on every layer's recurrent kernel: one (H, G) mask
                             per layer for the whole batch, drawn from rng alone (not from the
                             rows), so every part of a split batch draws the same */
    float locked_dropout; /* variational dropout: one mask per row (sequence) shared by all its
                             steps, on the input of the layers above the first (beside, and
                             multiplied with, the per-step dropout) and on the top layer's
                             output into the dense layer */
    float input_dropout;  /* the same on layer 0's one-hot input: row r drops each vocabulary
                             character with this rate for all its steps */
    int precision;        /* LSTM_FP32 (0) or LSTM_BF16: the products' precision (above) */
} lstm_seq;

double lstm_train_seq(const kern_ops *k, const lstm_params *p, lstm_params *g, lstm_work *w,
                      int b, int T, const int32_t *x, const int32_t *y, float gscale,
                      const lstm_seq *s);
/* The masks the last lstm_train_seq on w applied with the settings s (valid until w is used
 * again; for tests that check them against a reference), NULL where that option was off:
 * wdrop[l] (H, G) the multipliers of layer l's recurrent kernel, drawn again into the
 * caller's wdrop (L, H, G) (NULL: not asked for); input (b, T) the multiplier
 * of layer 0's one-hot input at each position (its character's locked mask in that sequence:
 * equal wherever the character recurs); between[l] (T, b, H) for l >= 1 the masks on layer l's input
 * (per-step dropout times locked dropout); output (b, H) the locked masks on the top layer's
 * output. Each multiplier is 0 or 1 / keep. */
typedef struct lstm_masks {
    const float *wdrop[LSTM_MAX_LAYERS], *input, *between[LSTM_MAX_LAYERS], *output;
} lstm_masks;
lstm_masks lstm_work_masks(const lstm_work *w, const lstm_seq *s, float *wdrop);

/* Forward only: sum of the losses; probs (b, V) (or (T, b, V) time-major with per_position)
 * receives the softmax when not NULL; y may be NULL. No dropout. */
double lstm_forward_seq(const kern_ops *k, const lstm_params *p, lstm_work *w, int b, int T,
                        const int32_t *x, const int32_t *y, float *probs, const lstm_seq *s);

/* Floats of scratch lstm_step needs. */
#define LSTM_STEP_SCRATCH(H) (6 * (size_t)(H))   /* the GRU's two rows of 3H */

/* One step of L layers of a single sequence: h (L, H), c (L, H) updated in place (the GRU
 * leaves c alone); logits (V) written (not the softmax). scratch holds LSTM_STEP_SCRATCH(H)
 * floats. For stateful generation. */
void lstm_step(const kern_ops *k, const lstm_params *p, int x, float *h, float *c,
                 float *logits, float *scratch);

/* Softmax of logits (n) in place, computed stably; returns log(sum exp(logits - max)) + max. */
double lstm_softmax(float *logits, int n);

#endif
