/* output.h - where a tool writes, and the rules every output of every tool follows.
 *
 * The rules live here and nowhere else (ROBUSTNESS.md lists the tests):
 *   - every output is checked before any input is read;
 *   - an output is never one of the inputs (the same device and inode), whether named by an
 *     option, through a symbolic or hard link, or stdout redirected (>) or appended (>>) to
 *     it; an input read whole before anything is written (train --resume F) may be replaced
 *     by an output that is replaced atomically (-o F), never written in place;
 *   - a symbolic link is followed: its target is written, the link kept;
 *   - a read-only file is replaced only with -f (force);
 *   - a binary stream never goes to a terminal: stdout, -o /dev/stdout, -o /dev/tty (nor
 *     comes from one: a tool that reads a stream on stdin refuses a terminal there);
 *   - a directory, or a path whose directory takes no new file, is refused;
 *   - a file is written under a temporary name beside it, then renamed over it (keeping its
 *     permissions, and its owner and group where allowed); until then the old file is
 *     untouched, and a failure or exit removes the temporary. A device or fifo is written in
 *     place. An appended output (a log) is opened at the end of the file.
 *
 * A tool declares what it reads and writes, then checks, then reads:
 *
 *     out_input_fd(0, "stdin", OUT_BINARY);  // stdin, when it is read (a stream; 0: text)
 *     out_input(opt_model, 0);               // each file read (not opened here)
 *     out_stdout(OUT_BINARY);                // a stream on stdout (0: text)
 *     out_path("-o", opt_out, OUT_BINARY);   // a file named by an option
 *     out_check(opt_force);                  // one line and exit 1 (or 2) if a rule is broken
 *     ...
 *     out_file f;
 *     if (out_open(&f, opt_out) < 0) ...     // then write f.fd, and out_commit(&f)
 */
#ifndef CHARPIPE_OUTPUT_H
#define CHARPIPE_OUTPUT_H

#define OUT_BINARY   1                /* a binary stream: never to a terminal */
#define OUT_APPEND   2                /* appended in place (a log), not replaced */
#define OUT_READ_FIRST 4              /* out_input: read whole before any output is written */

/* An input: an open descriptor (stdin) or a path (stat'ed when checked, never opened: a fifo
 * would lose its writer). NULL paths are skipped. An input descriptor flagged OUT_BINARY
 * carries a charpipe stream: a terminal there is a usage error (typing cannot make one). */
void out_input_fd(int fd, const char *label, int flags);
void out_input(const char *path, int flags);

/* An output: stdout, or the file path names (given by option opt, for messages; NULL paths
 * are skipped). */
void out_stdout(int flags);
void out_path(const char *opt, const char *path, int flags);

/* Check every output declared against the rules above; die with one line naming the output
 * and the reason if one is broken (exit 1; exit 2 when two options name one file). */
void out_check(int force);

/* A file output being written: fd, then out_commit renames the temporary over the target
 * (after fsync), or out_abort removes it. A device or fifo is opened in place. */
typedef struct out_file {
    char *path, *tmp;                 /* the target (links followed) and the temporary */
    int fd;
} out_file;

int  out_open(out_file *f, const char *path);      /* 0, or -1 with errno */
int  out_commit(out_file *f);                      /* 0, or -1 with errno */
void out_abort(out_file *f);

/* The descriptor of path opened for appending (created 0666 less the umask), or -1 with
 * errno; the caller writes and closes it. */
int  out_open_append(const char *path);

#endif
