/* optim.c - Adam, gradient norm and clipping, learning-rate schedules. See optim.h. */
#include <math.h>
#include <string.h>
#include "optim.h"

void adam_update(float *w, float *m, float *v, const float *g, size_t lo, size_t hi,
                 float gscale, float lr, adam_hp hp, int64_t t)
{
    double tt = (double)t;
    float alpha = (float)(lr * sqrt(1 - pow(hp.beta2, tt)) / (1 - pow(hp.beta1, tt)));
    float b1 = (float)hp.beta1, b2 = (float)hp.beta2, eps = (float)hp.eps;
    float keep = (float)(1.0 - (double)lr * hp.weight_decay);   /* AdamW's decay: w *= keep */
    for (size_t i = lo; i < hi; i++) {
        float gi = g[i] * gscale;
        if (hp.weight_decay > 0)
            w[i] *= keep;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        w[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
    }
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
