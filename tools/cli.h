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

/* Options read from a table, one row each: its long name (NULL: a short option alone), its
 * key (a short option's letter, CLI_OPT_VERSION, a value from 256 the caller reads, or 0),
 * how its argument is read into p (CLI_INT int, CLI_LONG long, CLI_DOUBLE double, each in
 * [lo, hi]; CLI_PATH a file name (cli_path); CLI_STR the string; CLI_SET and CLI_CLEAR an int
 * flag set to 1 or 0; CLI_ARG and CLI_NOARG: the caller's, with or without an argument), and
 * bits or'ed into *given when it is met. Messages name the option as it is written short
 * ("-e") or else long ("--lr"). */
enum { CLI_INT = 1, CLI_LONG, CLI_DOUBLE, CLI_PATH, CLI_STR, CLI_SET, CLI_CLEAR, CLI_ARG, CLI_NOARG };
typedef struct cli_opt {
    const char *name;
    int key, type;
    void *p;
    double lo, hi;
    unsigned given;
} cli_opt;

/* The next option of argv by the n rows of opts, as cli_getopt reads them: the rows that
 * say where their argument goes are read there, and the next is looked at; a CLI_ARG or
 * CLI_NOARG row's key is returned (its argument in optarg). -1 at the end, where an argument
 * left over is a usage error ("unexpected argument 'x'"). */
int cli_options(int argc, char *const argv[], const cli_opt *opts, int n, unsigned *given);

/* "charpipe PROG VERSION", and the kernel set in use when cli_uses_kernels, on stdout. */
void cli_print_version(void);

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

/* Parse numbers from option arguments; die with a usage error naming the option: "'x' is
 * not a number", or "... is out of range [lo, hi]" (a double too small for a double is the
 * value strtod rounds it to, not an error). */
long   cli_long(const char *opt, const char *arg, long lo, long hi);
double cli_double(const char *opt, const char *arg, double lo, double hi);

/* "N" (a count, 1 .. 2^40) into *n or "Ns" (seconds, 0.001 .. 1e9) into *secs: the argument of
 * an option that acts every N batches or every N seconds (train --checkpoint-every). */
void cli_every(const char *opt, const char *arg, long *n, double *secs);

/* arg, a file name given to option opt; an empty one is a usage error. */
const char *cli_path(const char *opt, const char *arg);

/* malloc/calloc/realloc that die on failure; cli_alloc returns 64-byte aligned, zeroed memory. */
void *cli_malloc(size_t n);
void *cli_realloc(void *p, size_t n);
void *cli_alloc(size_t n);            /* free with free() */

/* A Keras-style progress bar on stderr: "done/total [====>....] - ETA: 0:12 (run 3:40) -
 * loss: ... - RATE UNIT/s", redrawn in place at most every 0.1 s (but when done == total):
 * secs is the ETA of the bar (the epoch), and run_eta, when >= 0, that of the whole run; with
 * final, secs is the elapsed time, val_loss is shown, and a newline ends the line. */
void cli_bar(long done, long total, double secs, double run_eta, double loss, double rate,
             int final, double val_loss, const char *unit);
/* The bar while validation runs: "validating  45% [=====>....] - ETA: 0:03", in place, at
 * most every 0.1 s (but at the end). cli_bar_clear erases it when it is drawn (and the next
 * cli_bar draws). */
void cli_bar_validating(double done, double elapsed);
void cli_bar_clear(void);

/* A status line on stderr ("reading: 1200 windows"), redrawn in place at most every 0.2 s;
 * cli_status_clear erases it when one was drawn. */
void cli_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_status_clear(void);

/* Seconds as M:SS, or H:MM:SS from an hour (rounded to the second), as the bar shows them. */
void cli_hms(char *buf, size_t cap, double s);

/* The tasks Slurm started for this job step: SLURM_STEP_NUM_TASKS, or SLURM_NTASKS inside a
 * step (SLURM_STEP_ID); 0 outside Slurm or in a batch script's own process (which has
 * SLURM_NTASKS but no step). A tool that starts as one of N tasks alone in its MPI world is
 * one of N copies. */
long cli_slurm_tasks(void);
/* Die (exit 1) when this process is one of N > 1 such copies (ranks: the size of its MPI
 * world), saying how to start one job of N ranks (the MPI build) or one task instead. */
void cli_refuse_slurm_copies(int ranks);

/* SIGINT, SIGTERM and SIGUSR1 caught (cli_catch_signals): cli_signal_stop is the first of
 * SIGINT and SIGTERM that came (0: none), cli_signal_usr1 whether SIGUSR1 came since the last
 * call. */
void cli_catch_signals(void);
int cli_signal_stop(void);
int cli_signal_usr1(void);

/* Monotonic time in seconds. */
double cli_now(void);

#endif
