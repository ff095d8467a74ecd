/* optim.c - Adam, gradient norm and clipping, learning-rate schedules. See optim.h. */
#include <math.h>
#include <string.h>
#include "optim.h"

/* One parameter's step. keep = 1 without weight decay, and w * 1 is w exactly. */
static inline void adam_one(float *restrict w, float *restrict m, float *restrict v, float g,
                            float keep, float b1, float b2, float alpha, float eps)
{
    *w *= keep;
    *m = b1 * *m + (1 - b1) * g;
    *v = b2 * *v + (1 - b2) * g * g;
    *w -= alpha * *m / (sqrtf(*v) + eps);
}

/* In groups of 4 with restrict, so that the -O2 build vectorises it (as add_rows4 in lstm.c):
 * the same operations on each parameter, so the same results as one at a time. */
void adam_update(float *restrict w, float *restrict m, float *restrict v,
                 const float *restrict g, size_t lo, size_t hi, float gscale, float lr,
                 adam_hp hp, int64_t t)
{
    double tt = (double)t;
    float alpha = (float)(lr * sqrt(1 - pow(hp.beta2, tt)) / (1 - pow(hp.beta1, tt)));
    float b1 = (float)hp.beta1, b2 = (float)hp.beta2, eps = (float)hp.eps;
    float keep = hp.weight_decay > 0 ? (float)(1.0 - (double)lr * hp.weight_decay) : 1.0f;
    size_t i = lo;                                        /* AdamW's decay: w *= keep */
    for (; i + 4 <= hi; i += 4)
        for (int l = 0; l < 4; l++)
            adam_one(w + i + l, m + i + l, v + i + l, g[i + l] * gscale, keep, b1, b2, alpha,
                     eps);
    for (; i < hi; i++)
        adam_one(w + i, m + i, v + i, g[i] * gscale, keep, b1, b2, alpha, eps);
}

double ema_decay(double decay, int64_t t)
{
    double warm = (1.0 + (double)t) / (10.0 + (double)t);
    return warm < decay ? warm : decay;
}

void ema_update(float *restrict a, const float *restrict w, size_t lo, size_t hi, double decay,
                int64_t t)
{
    double d = ema_decay(decay, t);
    float keep = (float)d, take = (float)(1.0 - d);
    for (size_t i = lo; i < hi; i++)
        a[i] = keep * a[i] + take * w[i];
}

double grad_sumsq(const float *g, size_t lo, size_t hi)
{
    double ss = 0;
    for (size_t i = lo; i < hi; i++)
        ss += (double)g[i] * g[i];
    return ss;
}

float clip_scale(double norm, double clip)
{
    return clip > 0 && norm > clip ? (float)(clip / norm) : 1.0f;
}

int schedule_known(const char *name)
{
    return strcmp(name, "none") == 0 || strcmp(name, "cosine") == 0 || strcmp(name, "step") == 0;
}

double schedule_lr(const char *name, double lr, double progress, int64_t epochs,
                   double decay_rate, int decay_every)
{
    if (strcmp(name, "cosine") == 0)
        return lr * 0.5 * (1.0 + cos(M_PI * (progress < 1 ? progress : 1)));
    if (strcmp(name, "step") == 0)
        return lr * pow(decay_rate, (double)(epochs / decay_every));
    return lr;
}

double warmup_factor(int64_t t, int64_t warmup)
{
    return warmup > 0 && t < warmup ? (double)t / (double)warmup : 1.0;
}
