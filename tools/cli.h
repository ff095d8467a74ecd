/* cli.h - small helpers shared by the charpipe tools: errors, usage, output files.
 *
 * Conventions (see README): stdout carries data only; messages go to stderr as
 * "prog: context: reason"; exit 1 on failure, 2 on bad usage.
 */
#ifndef CHARPIPE_CLI_H
#define CHARPIPE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include "kern.h"
#include "ts.h"

extern const char *cli_prog;          /* the tool's name, for messages */

/* Remember the program name for messages; set the gzip level of the stream writers from
 * CHARPIPE_GZIP_LEVEL (one digit 0-9; anything else leaves the default, 1). */
void cli_init(const char *prog);

/* The kernel set CHARPIPE_KERNEL names, else the best for this CPU, among those
 * CHARPIPE_KERNELS allows when it is set (a comma-separated list, "scalar,avx2": the tools
 * run as on a CPU that offered only those; kern_limit). Dies (exit 1) with "charpipe:
 * CHARPIPE_KERNEL=NAME: unknown or ..." naming the choices, or "charpipe:
 * CHARPIPE_KERNELS=LIST: NAME: unknown kernel set ...". Cached. */
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

/* Die unless fd is not a terminal: binary streams are not written to a tty. */
void cli_refuse_tty(int fd);

/* Die when stdout is a regular file this command reads: stdin (if reads_stdin) or one of the
 * n paths (NULL entries skipped). (`tool < F >> F` would read its own output, or append to
 * its input.) */
void cli_refuse_stdout_input(int reads_stdin, const char *const *paths, int n);

/* Parse numbers from option arguments; die with a usage error naming the option. */
long   cli_long(const char *opt, const char *arg, long lo, long hi);
double cli_double(const char *opt, const char *arg, double lo, double hi);

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

/* An output file replaced atomically: written under a temporary name in the same directory,
 * then fsync'ed and renamed over the target by cli_outfile_commit. Until then the old file
 * is untouched; cli_outfile_abort (also run at exit for any file still open) removes the
 * temporary. A path that exists and is not a regular file (/dev/null, a fifo) is written in
 * place instead. A symbolic link is followed: its target is replaced (the temporary made in
 * the target's directory) and the link stays. An existing file keeps its permission bits
 * (and its owner and group where allowed); a new one gets 0666 less the umask. */
typedef struct cli_outfile {
    char *path, *tmp;
    int fd;
} cli_outfile;

int  cli_outfile_open(cli_outfile *f, const char *path);    /* 0, or -1 with errno */
int  cli_outfile_commit(cli_outfile *f);                    /* 0, or -1 with errno */
void cli_outfile_abort(cli_outfile *f);

/* Before the work starts, die with one line unless path can be written as an output:
 * "is also an input of this command" when it is the same file as one of the open file
 * descriptors inputs[0..ninputs) (a regular file); "is read-only (use -f ...)" when it is a
 * regular file without write permission, unless flags has CLI_OUT_FORCE; "cannot write"
 * when no file can be created beside it (its directory, through symbolic links, is probed
 * with a temporary file, removed at once). A device or a fifo is not opened or probed. */
#define CLI_OUT_FORCE 1
void cli_output_check(const char *path, int flags, const int *inputs, int ninputs);

/* 1 if paths a and b name the same file (the same inode when both exist; else the same path
 * once symbolic links are followed). */
int cli_same_file(const char *a, const char *b);

#endif
