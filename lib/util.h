/* util.h - small helpers the library's own files share (not installed). */
#ifndef CHARPIPE_UTIL_H
#define CHARPIPE_UTIL_H

#include <stddef.h>

/* Write the message into err (cap bytes; nothing when err is NULL) and return -1: the
 * library's way of failing. */
int lib_fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* n bytes, 64-byte aligned and zeroed (free with free()), or NULL. */
void *lib_zalloc(size_t n);

#endif
