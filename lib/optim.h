/* optim.h - the optimizer: Adam in Keras's form, the global gradient norm and clipping, and
 * the learning-rate schedules. Flat loops over the parameter arena (lstm.h): parameters,
 * gradients and both moments share one layout, so a range [lo, hi) of it is a slice any
 * thread can take.
 */
#ifndef CHARPIPE_OPTIM_H
#define CHARPIPE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct adam_hp {
    double beta1, beta2, eps;         /* Keras defaults: 0.9, 0.999, 1e-7 */
    double weight_decay;              /* decoupled (AdamW, Loshchilov and Hutter 2019); 0: Adam */
} adam_hp;

/* One Adam step (number t >= 1) on w[lo, hi) with the gradient g * gscale, moments m and v
 * (Keras: epsilon outside the square root of the bias-corrected v), after AdamW's decoupled
 * weight decay (PyTorch's AdamW: the decay scaled by the learning rate, not by Adam's step):
 *   w -= lr weight_decay w,
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) */
void adam_update(float *w, float *m, float *v, const float *g, size_t lo, size_t hi,
                 float gscale, float lr, adam_hp hp, int64_t t);

/* Weight averaging (Polyak averaging with an exponential window, as TensorFlow's
 * ExponentialMovingAverage with num_updates): after Adam step t (1, 2, ...) the average a of
 * the weights w moves as a = d a + (1 - d) w on [lo, hi), with d = ema_decay(decay, t) =
 * min(decay, (1 + t) / (10 + t)), so that early on, when the average started from the
 * initial weights, it follows the weights closely. */
double ema_decay(double decay, int64_t t);
void ema_update(float *a, const float *w, size_t lo, size_t hi, double decay, int64_t t);

/* Sum of g[lo, hi)^2 in double: the slices' sums add up to the squared global norm. */
double grad_sumsq(const float *g, size_t lo, size_t hi);

/* The factor that clips a gradient of global norm `norm` to at most `clip` (clip 0: off). */
float clip_scale(double norm, double clip);

/* Learning-rate schedules: "none" (lr throughout), "cosine" (from lr to 0 over the run:
 * progress 0 .. 1), "step" (lr * decay_rate every decay_every complete epochs).
 * schedule_known says whether a name is one of them. */
int    schedule_known(const char *name);
double schedule_lr(const char *name, double lr, double progress, int64_t epochs,
                   double decay_rate, int decay_every);

/* Linear learning-rate warm-up: the factor for Adam step t (1, 2, ...) of a warm-up over
 * `warmup` steps, t / warmup until it reaches 1 (warmup 0: always 1). It multiplies the
 * schedule's rate. */
double warmup_factor(int64_t t, int64_t warmup);

#endif
