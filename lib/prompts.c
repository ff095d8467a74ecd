/* prompts.c - sample --prompts' requests and answers; see prompts.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "prompts.h"

/* ---- the answer, built in p->out ---- */

static int put(prompts *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 1024;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *o = realloc(p->out, cap);
        if (!o)
            return -1;
        p->out = o;
        p->cap = cap;
    }
    memcpy(p->out + p->len, s, n);
    p->len += n;
    p->out[p->len] = 0;
    return 0;
}

static int putf(prompts *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(prompts *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return put(p, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* s (n bytes) as a JSON string, quotes included. */
static int put_str(prompts *p, const char *s, size_t n, int flags)
{
    char *e = malloc(CODEC_JSON_MAX(n) + 1);
    if (!e)
        return -1;
    size_t k = codec_json(e, s, n, flags);
    int rc = put(p, "\"", 1) | put(p, e, k) | put(p, "\"", 1);
    free(e);
    return rc;
}

/* The request's id, echoed: a string or a number as given. */
static int put_id(prompts *p, const json_value *id)
{
    if (!id)
        return 0;
    if (id->type == JSON_STRING)
        return put(p, "\"id\": ", 6) | put_str(p, id->str, id->len, 0) | put(p, ", ", 2);
    if (id->type == JSON_NUMBER)
        return putf(p, "\"id\": %.17g, ", id->number);
    return 0;
}

static int error_answer(prompts *p, const json_value *id, long lineno, const char *msg)
{
    p->len = 0;
    if (put(p, "{", 1) | put_id(p, id) | putf(p, "\"line\": %ld, \"error\": ", lineno)
        | put_str(p, msg, strlen(msg), 0) | put(p, "}\n", 2))
        return -1;
    return 1;
}

/* ---- the request ---- */

/* Field name of req as a number in [lo, hi] (integral if integer), into *x; 0 if absent. */
static int number(const json_value *req, const char *name, double lo, double hi, int integer,
                  double *x, char *err, size_t cap)
{
    const json_value *v = json_get(req, name);
    if (!v)
        return 0;
    if (v->type != JSON_NUMBER || !(v->number >= lo && v->number <= hi)
        || (integer && v->number != floor(v->number))) {
        snprintf(err, cap, "\"%s\" must be %s from %g to %g", name, integer ? "an integer" : "a number", lo, hi);
        return -1;
    }
    *x = v->number;
    return 1;
}

long prompts_read_line(FILE *in, char **line, size_t *cap)
{
    size_t n = 0;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n + 1 >= *cap && *cap <= PROMPTS_MAX_LINE) {
            size_t nc = *cap ? 2 * *cap : 4096;
            char *l = realloc(*line, nc);
            if (!l)
                return -2;
            *line = l;
            *cap = nc;
        }
        if (n + 1 < *cap)
            (*line)[n] = (char)c;
        n++;
    }
    if (ferror(in))
        return -2;
    if (c == EOF && n == 0)
        return -1;
    return n > PROMPTS_MAX_LINE ? (long)PROMPTS_MAX_LINE + 1 : (long)n;
}

int prompts_answer(prompts *p, const char *line, size_t n, long lineno)
{
    static const char *const fields[] = { "prompt", "n", "temperature", "top_k", "top_p", "seed",
                                          "stop", "count", "beam", "id" };
    json_value req;
    char err[512], msg[600];
    if (n == 0)
        return error_answer(p, NULL, lineno, "an empty line: a request is one JSON object per line");
    if (n > PROMPTS_MAX_LINE)
        return error_answer(p, NULL, lineno, "a request longer than 16 MiB");
    if (json_parse(line, n, &req, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "not JSON: %s", err);
        return error_answer(p, NULL, lineno, msg);
    }
    const json_value *id = json_get(&req, "id");
    gen_request r = p->base;
    const char **stops = NULL;
    size_t *stop_len = NULL;
    gen_result res = { 0 };
    int rc = 1, set_t = 0, set_k = 0, set_p = 0;
    double x;
    #define BAD(...) do { snprintf(msg, sizeof msg, __VA_ARGS__); goto out; } while (0)
    if (req.type != JSON_OBJECT)
        BAD("a request is a JSON object, not %s", json_type_name(req.type));
    if (id && id->type != JSON_STRING && id->type != JSON_NUMBER)
        BAD("\"id\" must be a string or a number");
    for (size_t i = 0; i < req.len; i++) {
        size_t f = 0;
        while (f < sizeof fields / sizeof *fields && strcmp(req.keys[i], fields[f]) != 0)
            f++;
        if (f == sizeof fields / sizeof *fields || req.key_len[i] != strlen(req.keys[i]))
            BAD("unknown field \"%.60s\" (the fields: prompt, n, temperature, top_k, top_p, seed, stop,"
                " count, beam, id)", req.keys[i]);
    }
    const json_value *v = json_get(&req, "prompt");
    if (v && v->type != JSON_STRING)
        BAD("\"prompt\" must be a string");
    if (v) {
        r.prompt = v->str;
        r.prompt_len = v->len;
    }
    r.prompt_label = "prompt";
    if (number(&req, "n", 0, 1099511627776.0, 1, &x, msg, sizeof msg) < 0) goto out;
    else if (json_get(&req, "n")) r.n = (long)x;
    if ((set_t = number(&req, "temperature", 0, 100, 0, &x, msg, sizeof msg)) < 0) goto out;
    else if (set_t) r.o.temperature = x;
    if ((set_k = number(&req, "top_k", 0, 1 << 21, 1, &x, msg, sizeof msg)) < 0) goto out;
    else if (set_k) r.o.top_k = (int)x;
    if ((set_p = number(&req, "top_p", 1e-9, 1, 0, &x, msg, sizeof msg)) < 0) goto out;
    else if (set_p) r.o.top_p = x;
    if (number(&req, "seed", 0, 2147483647.0, 1, &x, msg, sizeof msg) < 0) goto out;
    else if (json_get(&req, "seed")) r.o.seed = (uint64_t)x;
    if (number(&req, "count", 1, 65536, 1, &x, msg, sizeof msg) < 0) goto out;
    else if (json_get(&req, "count")) r.count = (int)x;
    if (number(&req, "beam", 0, 1024, 1, &x, msg, sizeof msg) < 0) goto out;
    else if (json_get(&req, "beam")) r.beam = (int)x;
    if (r.beam && (r.o.temperature > 0 || r.o.top_k || r.o.top_p < 1))
        BAD("\"beam\" chooses the most probable continuations: no temperature, top_k or top_p");
    if (r.beam && r.count > 1)
        BAD("\"beam\" gives the best continuations, not \"count\" samples");
    if ((v = json_get(&req, "stop"))) {              /* a string, or an array of strings */
        size_t ns = v->type == JSON_ARRAY ? v->len : 1;
        const json_value *s = v->type == JSON_ARRAY ? v->items : v;
        if (v->type != JSON_ARRAY && v->type != JSON_STRING)
            BAD("\"stop\" must be a string or an array of strings");
        if (ns > 256)
            BAD("\"stop\": %zu strings, at most 256", ns);
        stops = malloc((ns + 1) * sizeof *stops);
        stop_len = malloc((ns + 1) * sizeof *stop_len);
        if (!stops || !stop_len)
            BAD("out of memory");
        for (size_t i = 0; i < ns; i++) {
            if (s[i].type != JSON_STRING)
                BAD("\"stop\" must be a string or an array of strings");
            stops[i] = s[i].str;
            stop_len[i] = s[i].len;
        }
        r.stop = stops;
        r.stop_len = stop_len;
        r.nstop = (int)ns;
    }
    int g = gen_text(p->k, p->m, p->cd, &r, NULL, NULL, &res, err, sizeof err);
    if (g < 0)
        BAD("%s%s", err, g == GEN_EUNKNOWN && !r.skip_unknown ? " (sample --skip-unknown drops it)" : "");
    int flags = p->m->byte_unit ? CODEC_JSON_BYTES : 0, bad = 0;
    p->len = 0;
    bad |= put(p, "{", 1) | put_id(p, id) | putf(p, "\"seed\": %llu, \"samples\": [", (unsigned long long)r.o.seed);
    for (int i = 0; i < res.n; i++) {
        const gen_result_text *t = &res.t[i];
        bad |= put(p, i ? ", {\"text\": " : "{\"text\": ", i ? 11 : 9) | put_str(p, t->text, t->len, flags)
             | put(p, ", \"completion\": ", 16) | put_str(p, t->text + t->prompt_len, t->len - t->prompt_len, flags)
             | put(p, ", \"stop\": ", 10);
        bad |= t->stop ? put_str(p, r.stop[t->stop - 1], r.stop_len[t->stop - 1], flags) : put(p, "null", 4);
        if (r.beam)
            bad |= putf(p, ", \"logprob\": %.9g", t->logprob);
        bad |= put(p, "}", 1);
    }
    bad |= put(p, "]", 1);
    const char *warn[3];
    int nw = 0;
    char w0[128], w1[128];
    if (res.skipped) {
        snprintf(w0, sizeof w0, "dropped %llu prompt character%s outside the vocabulary",
                 (unsigned long long)res.skipped, res.skipped > 1 ? "s" : "");
        warn[nw++] = w0;
    }
    if (res.stops_unused) {
        snprintf(w1, sizeof w1, "%d stop string%s hold%s a character outside the vocabulary: never met",
                 res.stops_unused, res.stops_unused > 1 ? "s" : "", res.stops_unused > 1 ? "" : "s");
        warn[nw++] = w1;
    }
    if ((set_k || set_p) && r.o.temperature == 0 && !r.beam)
        warn[nw++] = "top_k and top_p take effect only with a temperature; generated greedily";
    for (int i = 0; i < nw; i++)
        bad |= put(p, i ? ", " : ", \"warnings\": [", i ? 2 : 15) | put_str(p, warn[i], strlen(warn[i]), 0);
    bad |= put(p, nw ? "]}\n" : "}\n", nw ? 3 : 2);
    rc = bad ? -1 : 0;
    #undef BAD
out:
    if (rc == 1)
        rc = error_answer(p, id, lineno, msg);
    gen_result_free(&res);
    free(stops);
    free(stop_len);
    json_free(&req);
    return rc;
}

void prompts_free(prompts *p)
{
    free(p->out);
    p->out = NULL;
    p->len = p->cap = 0;
}
