/* cli.c - helpers shared by the tools; see cli.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

const char *cli_prog = "charpipe";

static cli_outfile *open_outfiles[8];

static void remove_open_outfiles(void)
{
    for (int i = 0; i < 8; i++)
        if (open_outfiles[i])
            unlink(open_outfiles[i]->tmp);
}

void cli_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    cli_prog = slash ? slash + 1 : prog;
    atexit(remove_open_outfiles);
    const char *env = getenv("CHARPIPE_GZIP_LEVEL");
    if (env && *env >= '0' && *env <= '9' && env[1] == 0)
        ts_set_gzip_level(*env - '0');
}

const kern_ops *cli_kernels(void)
{
    static const kern_ops *chosen;
    if (chosen)
        return chosen;
    const char *env = getenv("CHARPIPE_KERNEL"), *limit = getenv("CHARPIPE_KERNELS");
    char err[1024];                   /* the name is quoted back in full */
    if (kern_limit(limit, err, sizeof err) < 0) {
        fprintf(stderr, "charpipe: CHARPIPE_KERNELS=%s: %s\n", limit, err);
        exit(1);
    }
    chosen = kern_choose(env, err, sizeof err);
    if (!chosen) {
        kern_limit(NULL, NULL, 0);    /* (we exit:) was it the limit that left the set out? */
        int limited = kern_get(env) != NULL;
        fprintf(stderr, "charpipe: CHARPIPE_KERNEL=%s%s%s\n", err,
                limited ? " under CHARPIPE_KERNELS=" : "", limited ? limit : "");
        exit(1);
    }
    return chosen;
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    for (unsigned char *p = (unsigned char *)buf; *p; p++)   /* keep the message on one line */
        if (*p == '\n')
            *p = ' ';
        else if (*p < 0x20 || *p == 0x7f)          /* and free of terminal controls */
            *p = '?';
    fprintf(stderr, "%s: %s%s\n", cli_prog, prefix, buf);
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    exit(1);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", cli_prog);
    exit(2);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

ts_reader *cli_reader_open(int fd, const char *label)
{
    ts_reader *r = ts_reader_open(fd, label);
    if (!r)
        cli_die("%s: out of memory", label);
    return r;
}

ts_writer *cli_writer_open(int fd, const char *label)
{
    ts_writer *w = ts_writer_open(fd, label);
    if (!w)
        cli_die("%s: out of memory", label);
    return w;
}

void cli_refuse_tty(int fd)
{
    if (isatty(fd))
        cli_die("refusing to write a binary stream to a terminal (redirect or pipe it)");
}

void cli_refuse_stdout_input(int reads_stdin, const char *const *paths, int n)
{
    struct stat out, in;
    if (fstat(1, &out) < 0 || !S_ISREG(out.st_mode))
        return;
    if (reads_stdin && fstat(0, &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
        cli_die("stdout is the same file as stdin; write to another file");
    for (int i = 0; i < n; i++)
        if (paths[i] && stat(paths[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            cli_die("stdout is %s, an input of this command; write to another file", paths[i]);
}

long cli_long(const char *opt, const char *arg, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end)
        cli_usage_error("%s: '%s' is not an integer", opt, arg);
    if (v < lo || v > hi)
        cli_usage_error("%s: %ld is out of range [%ld, %ld]", opt, v, lo, hi);
    return v;
}

double cli_double(const char *opt, const char *arg, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || isnan(v))
        cli_usage_error("%s: '%s' is not a number", opt, arg);
    if (v < lo || v > hi)
        cli_usage_error("%s: %g is out of range [%g, %g]", opt, v, lo, hi);
    return v;
}

void *cli_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        cli_die("out of memory (%zu bytes)", n);
    return p;
}

void *cli_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        cli_die("out of memory (%zu bytes)", n);
    return p;
}

void *cli_alloc(size_t n)
{
    void *p = NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded < n || posix_memalign(&p, 64, rounded ? rounded : 64))
        cli_die("out of memory (%zu bytes)", n);
    memset(p, 0, rounded);
    return p;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The file a path names, through symbolic links (a dangling link: the file it would
 * create), in new memory; NULL when out of memory or the link cannot be read. */
static char *link_target(const char *path)
{
    char *real = realpath(path, NULL);
    if (real)
        return real;
    char buf[4096], *cur = cli_malloc(strlen(path) + 1);
    strcpy(cur, path);
    for (int hops = 0; hops < 40; hops++) {   /* follow dangling links by hand */
        struct stat st;
        ssize_t n;
        if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
            return cur;
        if ((n = readlink(cur, buf, sizeof buf - 1)) < 0) {
            free(cur);
            return NULL;
        }
        buf[n] = 0;
        const char *slash = strrchr(cur, '/');
        size_t dl = buf[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        char *next = cli_malloc(dl + (size_t)n + 1);
        memcpy(next, cur, dl);
        memcpy(next + dl, buf, (size_t)n + 1);
        free(cur);
        cur = next;
    }
    free(cur);
    errno = ELOOP;
    return NULL;
}

/* Create and remove a temporary file beside target: 0, or -1 with errno. */
static int probe_dir(const char *target)
{
    size_t n = strlen(target);
    char *tmp = cli_malloc(n + 16);
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", target);
    int fd = mkstemp(tmp);
    int e = errno;
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    errno = e;
    return fd < 0 ? -1 : 0;
}

void cli_output_check(const char *path, int flags, const int *inputs, int ninputs)
{
    struct stat st, in;
    if (stat(path, &st) == 0) {
        for (int i = 0; i < ninputs; i++)
            if (fstat(inputs[i], &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino
                && S_ISREG(st.st_mode))
                cli_die("%s: is also an input of this command; write to another file", path);
        if (S_ISDIR(st.st_mode))
            cli_die("%s: cannot write: %s", path, strerror(EISDIR));
        if (!S_ISREG(st.st_mode))     /* a device or a fifo: written in place, not probed */
            return;
        if (!(flags & CLI_OUT_FORCE) && (!(st.st_mode & 0222) || access(path, W_OK) < 0))
            cli_die("%s: is read-only (use -f to replace it)", path);
    }
    char *target = link_target(path);
    if (!target)
        cli_die("%s: cannot write: %s", path, strerror(errno));
    int rc = probe_dir(target), e = errno;
    free(target);
    if (rc < 0)
        cli_die("%s: cannot write: %s", path, strerror(e));
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ta = link_target(a), *tb = link_target(b);
    int same = ta && tb && strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

int cli_outfile_open(cli_outfile *f, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/null, /dev/stdout, a fifo): write to it in place; renaming
         * over it would replace the device node with a file */
        f->path = f->tmp = NULL;
        f->fd = open(path, O_WRONLY | O_TRUNC);
        return f->fd < 0 ? -1 : 0;
    }
    /* a symbolic link: its target is replaced (the temporary beside it), the link kept */
    if (!(f->path = link_target(path)))
        return -1;
    size_t n = strlen(f->path);
    int exists = stat(f->path, &st) == 0;
    f->tmp = cli_malloc(n + 16);
    snprintf(f->tmp, n + 16, "%s.tmp.XXXXXX", f->path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int e = errno;
        free(f->path);
        free(f->tmp);
        f->path = f->tmp = NULL;
        errno = e;
        return -1;
    }
    mode_t mask = umask(0);           /* an existing file keeps its mode; a new one 0666 - umask */
    umask(mask);
    fchmod(f->fd, exists ? st.st_mode & 07777 : 0666 & ~mask);
    if (exists && fchown(f->fd, st.st_uid, st.st_gid) < 0) {
        /* and its owner and group, where allowed (root; a group of one's own) */
    }
    for (int i = 0; i < 8; i++)
        if (!open_outfiles[i]) {
            open_outfiles[i] = f;
            break;
        }
    return 0;
}

static void forget(cli_outfile *f)
{
    for (int i = 0; i < 8; i++)
        if (open_outfiles[i] == f)
            open_outfiles[i] = NULL;
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}

int cli_outfile_commit(cli_outfile *f)
{
    int rc = 0;
    if (!f->tmp)                      /* written in place */
        return close(f->fd);
    if (fsync(f->fd) < 0 || close(f->fd) < 0)
        rc = -1;
    if (rc == 0 && rename(f->tmp, f->path) < 0)
        rc = -1;
    int e = errno;
    if (rc < 0)
        unlink(f->tmp);
    forget(f);
    errno = e;
    return rc;
}

void cli_outfile_abort(cli_outfile *f)
{
    if (!f->tmp) {
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        return;
    }
    close(f->fd);
    unlink(f->tmp);
    forget(f);
}

static void fmt_time(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void cli_bar(long done, long total, double secs, double run_eta, double loss, double rate, int final,
             double val_loss, const char *unit)
{
    char buf[64];
    int width = 30, fill = total ? (int)((double)done / total * width) : width;
    fprintf(stderr, "\r%*ld/%ld [", (int)snprintf(NULL, 0, "%ld", total), done, total);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    fmt_time(buf, sizeof buf, secs);
    if (final) {
        fprintf(stderr, "] - %s - loss: %.4f - val_loss: %.4f - %.0f %s/s\033[K\n", buf, loss,
                val_loss, rate, unit);
    } else {
        fprintf(stderr, "] - ETA: %s", buf);
        if (run_eta >= 0) {
            fmt_time(buf, sizeof buf, run_eta);
            fprintf(stderr, " (run %s)", buf);
        }
        fprintf(stderr, " - loss: %.4f - %.0f %s/s\033[K", loss, rate, unit);
    }
}

void cli_bar_validating(double done, double elapsed)
{
    char buf[64];
    int width = 30, fill = (int)(done * width);
    fprintf(stderr, "\rvalidating %3.0f%% [", done * 100);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    fmt_time(buf, sizeof buf, done > 0 ? elapsed / done * (1 - done) : 0);
    fprintf(stderr, "] - ETA: %s\033[K", buf);
}
