/* json.h - a small strict JSON reader (RFC 8259), for requests such as sample --prompts'.
 *
 * json_parse reads one value from a text: objects, arrays, strings (UTF-8, every escape,
 * \u surrogate pairs; the result may hold NUL bytes, so lengths are kept), numbers (as
 * double), true, false, null. Strict: invalid UTF-8, a lone surrogate, control characters in
 * a string, a duplicate key, trailing text, nesting deeper than JSON_MAX_DEPTH are errors,
 * with the byte offset in the message. Nothing here prints or ends the process.
 */
#ifndef CHARPIPE_JSON_H
#define CHARPIPE_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;                      /* JSON_BOOL */
    double number;                    /* JSON_NUMBER */
    char *str;                        /* JSON_STRING: the bytes (NUL added, may hold NULs) */
    size_t len;                       /* ... and their count; JSON_ARRAY, JSON_OBJECT: n items */
    struct json_value *items;         /* JSON_ARRAY: the elements; JSON_OBJECT: the values */
    char **keys;                      /* JSON_OBJECT: the keys (NUL-terminated) */
    size_t *key_len;
} json_value;

/* Parse text[0..n) as one JSON value (whitespace around it allowed) into *v. Returns 0, or
 * -1 with a message ("at byte 12: expected ':'") and *v holding nothing. */
int json_parse(const char *text, size_t n, json_value *v, char *err, size_t cap);

/* Free what json_parse allocated in v. */
void json_free(json_value *v);

/* The value of key in object o, or NULL (also when o is not an object). */
const json_value *json_get(const json_value *o, const char *key);

/* A name for a type in messages: "a string", "a number", ... */
const char *json_type_name(json_type t);

#endif
