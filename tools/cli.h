/* cli.h - small helpers shared by the charpipe tools: errors, options, numbers, progress.
 *
 * Conventions (see README): stdout carries data only; messages go to stderr as
 * "prog: context: reason"; exit 1 on failure, 2 on bad usage. Outputs: output.h.
 */
#ifndef CHARPIPE_CLI_H
#define CHARPIPE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include "kern.h"
#include "ts.h"

extern const char *cli_prog;          /* the tool's name, for messages */
extern int cli_uses_kernels;          /* set by a tool that runs the kernels: --version names them */

/* Remember the program name for messages; set the gzip level of the stream writers from
 * CHARPIPE_GZIP_LEVEL (one digit 0-9; anything else leaves the default, 1). A closed stdin,
 * stdout or stderr gets a placeholder that fails when used (no file opened later takes its
 * number), and at exit a write error of stdout (--help into a full disk) is an error, exit 1. */
void cli_init(const char *prog);

/* getopt_long with charpipe's messages (getopt's own are off): an unknown option, an
 * ambiguous abbreviation, a missing argument and an argument to an option that takes none
 * are usage errors naming the option ("option '-o' needs an argument"), exit 2. An option
 * whose val is CLI_OPT_VERSION (CLI_VERSION_OPTION in longopts) prints the version and
 * exits 0. Otherwise returns what getopt_long returns. */
#define CLI_OPT_VERSION 0x7ffe
#define CLI_VERSION_OPTION { "version", 0, 0, CLI_OPT_VERSION }
int cli_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts);

/* "charpipe PROG VERSION", and the kernel set in use when cli_uses_kernels, on stdout. */
void cli_print_version(void);

/* The kernel set CHARPIPE_KERNEL names, else the best for this CPU; dies (exit 1) with
 * "charpipe: CHARPIPE_KERNEL=NAME: unknown or ..." naming the choices. Cached. */
const kern_ops *cli_kernels(void);

/* Print "prog: message" and exit 1. */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: message" and "Try 'prog --help'." and exit 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: warning: message" and go on. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ts_reader_open and ts_writer_open that die ("LABEL: out of memory") instead of NULL. */
ts_reader *cli_reader_open(int fd, const char *label);
ts_writer *cli_writer_open(int fd, const char *label);

/* Parse numbers from option arguments; die with a usage error naming the option: "'x' is
 * not a number", or "... is out of range [lo, hi]" (a double too small for a double is the
 * value strtod rounds it to, not an error). */
long   cli_long(const char *opt, const char *arg, long lo, long hi);
double cli_double(const char *opt, const char *arg, double lo, double hi);

/* arg, a file name given to option opt; an empty one is a usage error. */
const char *cli_path(const char *opt, const char *arg);

/* malloc/calloc/realloc that die on failure; cli_alloc returns 64-byte aligned, zeroed memory. */
void *cli_malloc(size_t n);
void *cli_realloc(void *p, size_t n);
void *cli_alloc(size_t n);            /* free with free() */

/* A Keras-style progress bar on stderr: "done/total [====>....] - ETA: 0:12 (run 3:40) -
 * loss: ... - RATE UNIT/s", redrawn in place: secs is the ETA of the bar (the epoch), and
 * run_eta, when >= 0, that of the whole run; with final, secs is the elapsed time, val_loss
 * is shown, and a newline ends the line. */
void cli_bar(long done, long total, double secs, double run_eta, double loss, double rate,
             int final, double val_loss, const char *unit);
/* The bar while validation runs: "validating  45% [=====>....] - ETA: 0:03", in place. */
void cli_bar_validating(double done, double elapsed);

/* Monotonic time in seconds. */
double cli_now(void);

#endif
