/* prompts.h - the protocol of sample --prompts: requests as JSON lines, one answer line each.
 *
 * A request is one JSON object on one line, every field optional:
 *   {"prompt": "ROMEO:", "n": 200, "temperature": 0.8, "top_k": 40, "top_p": 0.9,
 *    "seed": 7, "stop": ["\n\n"], "count": 2, "beam": 0, "id": "any string or number"}
 * A missing field takes the value of the base request (the command line's). The answer is
 *   {"id": ..., "seed": 7, "samples": [{"text": "ROMEO: ...", "completion": " ...",
 *    "stop": "\n\n"}, ...]}
 * text the prompt as the model read it followed by the generated characters (what sample
 * writes), completion the generated characters alone, stop the stop string that ended the
 * sample or null; beams add "logprob"; "warnings": [...] when there are some. A request that
 * cannot be answered gets {"id": ..., "line": N, "error": "..."}. A byte-level model's bytes
 * >= 0x80 are written as \u0080..\u00ff. Nothing here prints or ends the process.
 */
#ifndef CHARPIPE_PROMPTS_H
#define CHARPIPE_PROMPTS_H

#include <stddef.h>
#include <stdio.h>
#include "codec.h"
#include "generate.h"
#include "kern.h"
#include "model.h"

typedef struct prompts {
    const kern_ops *k;
    const model *m;
    const codec *cd;
    gen_request base;                 /* the defaults of every field (its o.seed: the seed of a
                                         request that gives none) */
    char *out;                        /* the last answer (one line, newline included) */
    size_t len, cap;
} prompts;

/* The longest request line read: a longer one is answered with an error. */
#define PROMPTS_MAX_LINE (16u << 20)

/* Read the next line of in, without its newline, into *line (malloc'ed, *cap bytes, grown as
 * needed; start with NULL and 0). Returns its length, or PROMPTS_MAX_LINE + 1 for a longer
 * line (read to its end, its bytes dropped); -1 at the end of the input; -2 on a read error
 * or out of memory (errno says which). A last line without its newline is a line. */
long prompts_read_line(FILE *in, char **line, size_t *cap);

/* Answer request line[0..n) (without its newline), the lineno-th: p->out, p->len hold the
 * answer. Returns 0 for a result, 1 for an error answer, -1 when out of memory for the
 * answer itself (then there is none). */
int prompts_answer(prompts *p, const char *line, size_t n, long lineno);

void prompts_free(prompts *p);

#endif
