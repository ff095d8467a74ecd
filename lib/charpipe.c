/* charpipe.c - the shared library's public interface over lib/; see charpipe.h. The only
 * file whose symbols the shared library exports (CP_API). */
#include <stdlib.h>
#include <string.h>
#include "charpipe.h"
#include "codec.h"
#include "generate.h"
#include "kern.h"
#include "model.h"
#include "par.h"
#include "score.h"
#include "util.h"

#ifndef CHARPIPE_VERSION                /* (the Makefile gives it) */
#define CHARPIPE_VERSION "unknown"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

struct cp_model {
    model m;
    codec cd;
    const kern_ops *k;
};

const char *cp_version(void)
{
    return STR(CP_VERSION_MAJOR) "." STR(CP_VERSION_MINOR) " (charpipe " CHARPIPE_VERSION ")";
}

int cp_version_number(void)
{
    return CP_VERSION_MAJOR * 1000 + CP_VERSION_MINOR;
}

const char *cp_strerror(int status)
{
    switch (status) {
    case CP_OK: return "success";
    case CP_EINVAL: return "invalid argument";
    case CP_EFILE: return "cannot read the model";
    case CP_ENOMEM: return "out of memory";
    case CP_ETEXT: return "text that cannot be read";
    case CP_EUNKNOWN: return "a character outside the model's vocabulary";
    case CP_EKERNEL: return "kernel set not available on this CPU";
    default: return "unknown status";
    }
}

/* The status for a message of the layers below (they fail with -1 and a message). */
static int status_of(const char *msg)
{
    return strstr(msg, "out of memory") ? CP_ENOMEM : CP_ETEXT;
}

static int fail(int status, char *err, size_t cap, const char *msg)
{
    lib_fail(err, cap, "%s", msg);
    return status;
}

int cp_open(const char *path, const char *kernels, cp_model **out, char *err, size_t cap)
{
    char msg[512];
    if (!path || !out)
        return fail(CP_EINVAL, err, cap, "cp_open: a NULL path or model pointer");
    *out = NULL;
    const kern_ops *k = kern_choose(kernels, msg, sizeof msg);
    if (!k)
        return fail(CP_EKERNEL, err, cap, msg);
    cp_model *m = calloc(1, sizeof *m);
    if (!m)
        return fail(CP_ENOMEM, err, cap, "out of memory");
    if (model_read(&m->m, NULL, path, msg, sizeof msg) < 0) {
        free(m);
        return fail(strstr(msg, "out of memory") ? CP_ENOMEM : CP_EFILE, err, cap, msg);
    }
    if (codec_init(&m->cd, m->m.vocab, m->m.dim.V, m->m.byte_unit, m->m.lower, msg, sizeof msg) < 0) {
        model_free(&m->m);
        free(m);
        return fail(CP_EFILE, err, cap, msg);
    }
    m->k = k;
    *out = m;
    return CP_OK;
}

void cp_close(cp_model *m)
{
    if (!m)
        return;
    model_free(&m->m);
    free(m);
}

int cp_model_info(const cp_model *m, int *vocab, int *hidden, int *layers, int *maxlen,
                  int *stateful, int *bytes)
{
    if (!m)
        return CP_EINVAL;
    if (vocab) *vocab = m->m.dim.V;
    if (hidden) *hidden = m->m.dim.H;
    if (layers) *layers = m->m.dim.L;
    if (maxlen) *maxlen = m->m.maxlen;
    if (stateful) *stateful = m->m.streams > 0;
    if (bytes) *bytes = m->m.byte_unit;
    return CP_OK;
}

void cp_gen_options_init(cp_gen_options *o)
{
    if (o)
        *o = (cp_gen_options){ .n = 200, .temperature = 0, .top_k = 0, .top_p = 1, .seed = 0,
                               .mode = CP_MODE_DEFAULT };
}

int cp_generate(const cp_model *m, const char *prompt, size_t prompt_len, const cp_gen_options *o,
                char **text, size_t *len, int *stopped, char *err, size_t cap)
{
    char msg[512];
    if (!m || !o || !text || (o->nstop > 0 && !o->stop) || o->nstop < 0)
        return fail(CP_EINVAL, err, cap, "cp_generate: a NULL argument");
    *text = NULL;
    if (o->n < 0 || o->n > (1L << 40) || !(o->temperature >= 0 && o->temperature <= 100) || o->top_k < 0
        || !(o->top_p > 0 && o->top_p <= 1) || o->mode < 0 || o->mode > CP_MODE_WINDOW)
        return fail(CP_EINVAL, err, cap, "cp_generate: n must be 0 .. 2^40, the temperature 0 .. 100, top_k"
                    " >= 0, top_p in (0, 1], mode one of CP_MODE_*");
    size_t *slen = o->nstop > 0 ? malloc((size_t)o->nstop * sizeof *slen) : NULL;
    if (o->nstop > 0 && !slen)
        return fail(CP_ENOMEM, err, cap, "out of memory");
    for (int i = 0; i < o->nstop; i++) {
        if (!o->stop[i]) {
            free(slen);
            return fail(CP_EINVAL, err, cap, "cp_generate: a NULL stop string");
        }
        slen[i] = strlen(o->stop[i]);
    }
    gen_request r = gen_request_defaults();
    r.prompt = prompt;
    r.prompt_len = prompt ? prompt_len : 0;
    r.skip_unknown = o->skip_unknown;
    r.n = o->n;
    r.stop = o->stop;
    r.stop_len = slen;
    r.nstop = o->nstop;
    r.o.temperature = o->temperature;
    r.o.top_k = o->top_k;
    r.o.top_p = o->top_p;
    r.o.seed = o->seed;
    r.o.stateful = o->mode == CP_MODE_DEFAULT ? m->m.streams > 0 : o->mode == CP_MODE_STATEFUL;
    gen_result res;
    int rc = gen_text(m->k, &m->m, &m->cd, &r, NULL, NULL, &res, msg, sizeof msg);
    free(slen);
    if (rc == GEN_EUNKNOWN)
        return fail(CP_EUNKNOWN, err, cap, msg);
    if (rc < 0)
        return fail(status_of(msg), err, cap, msg);
    gen_result_text *t = &res.t[0];
    /* the generated part: the prompt's text is dropped (without a prompt, the first
     * character is kept: it was drawn, not given) */
    size_t skip = prompt ? t->prompt_len : 0, n = t->len - skip;
    memmove(t->text, t->text + skip, n + 1);
    *text = t->text;
    t->text = NULL;
    if (len)
        *len = n;
    if (stopped)
        *stopped = t->stop;
    gen_result_free(&res);
    return CP_OK;
}

int cp_score(const cp_model *m, const char *text, size_t len, int streams, int threads,
             double *nats, char *err, size_t cap)
{
    char msg[512];
    if (!m || !text || !nats || streams < -1 || threads < 0)
        return fail(CP_EINVAL, err, cap, "cp_score: a NULL argument, streams below -1 or threads below 0");
    if (len == 0)
        return fail(CP_ETEXT, err, cap, "text: empty");
    int32_t *idx = malloc(len * sizeof *idx);
    if (!idx)
        return fail(CP_ENOMEM, err, cap, "out of memory");
    size_t k, used;
    codec_pos at = { 0 };
    int rc = codec_encode(&m->cd, text, len, 0, CODEC_REFUSE, 0, idx, &k, &used, &at);
    if (rc < 0) {
        char why[256];
        free(idx);
        lib_fail(err, cap, "text: %s", codec_error(&m->cd, rc, &at, why, sizeof why));
        return rc == CODEC_EUNKNOWN ? CP_EUNKNOWN : CP_ETEXT;
    }
    scorer *s = score_new(m->k, &m->m, threads ? threads : par_ncpu(), 1,
                          streams < 0 ? m->m.streams : streams, "text", msg, sizeof msg);
    double targets;
    uint64_t windows;
    rc = !s || score_text(s, idx, k, msg, sizeof msg) < 0
         || score_finish(s, nats, &targets, &windows, msg, sizeof msg) < 0;
    score_free(s);
    free(idx);
    return rc ? fail(status_of(msg), err, cap, msg) : CP_OK;
}

void cp_free(void *p)
{
    free(p);
}
