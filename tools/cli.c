/* cli.c - helpers shared by the tools; see cli.h. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

#ifndef CHARPIPE_VERSION
#define CHARPIPE_VERSION "0.2"
#endif

const char *cli_prog = "charpipe";
int cli_uses_kernels;
static int dying;                     /* cli_die has said why: no second message at exit */

/* At exit: what is left in stdout's buffer written, and any write error of stdout (--help,
 * --version, --summary, a table) an error, exit 1 (a closed stdout that nothing was written to
 * is not). Runs after the other exit handlers. */
static void close_stdout(void)
{
    int pending = __fpending(stdout) > 0, failed = ferror(stdout);
    errno = 0;
    int closed = fclose(stdout) == 0, e = errno;
    if (dying || (!failed && (closed || (!pending && e == EBADF))))
        return;
    fprintf(stderr, "%s: stdout: write failed%s%s\n", cli_prog, e ? ": " : "", e ? strerror(e) : "");
    _exit(1);
}

/* A closed standard descriptor is given a placeholder that fails as it was used: otherwise
 * the next file opened takes its number, and what is written to stdout or stderr lands in it
 * (a model's temporary file, say). stdin: /dev/null write-only, so reading it fails; stdout
 * and stderr: read-only, so writing fails. */
static void guard_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int k = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (k >= 0 && k != fd) {      /* (the lowest free number: fd itself, unless a lower one was closed too) */
            dup2(k, fd);
            close(k);
        }
    }
}

void cli_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    cli_prog = slash ? slash + 1 : prog;
    guard_std_fds();
    /* a help page or a table is written at exit in one piece, so that a write error comes
     * with its reason (a tty stays line-buffered) */
    static char outbuf[1 << 16];
    if (!isatty(1))
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    atexit(close_stdout);             /* registered first: runs last */
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
    dying = 1;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    exit(1);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    dying = 1;
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

long cli_long(const char *opt, const char *arg, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end)
        cli_usage_error("%s: '%s' is not an integer", opt, arg);
    if (errno == ERANGE || v < lo || v > hi)        /* (ERANGE: beyond a long) */
        cli_usage_error("%s: %s is out of range [%ld, %ld]", opt, arg, lo, hi);
    return v;
}

double cli_double(const char *opt, const char *arg, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    /* ERANGE is no reason to refuse a number: a value below the smallest double is taken as
     * strtod rounds it (4.9e-324, 1e-400 -> 0), one beyond the largest is out of range */
    if (end == arg || *end || isnan(v))
        cli_usage_error("%s: '%s' is not a number", opt, arg);
    if (!(v >= lo && v <= hi))
        cli_usage_error("%s: %s is out of range [%g, %g]", opt, arg, lo, hi);
    return v;
}

void cli_every(const char *opt, const char *arg, long *n, double *secs)
{
    size_t len = strlen(arg);
    if (len > 1 && arg[len - 1] == 's') {
        char num[64];
        snprintf(num, sizeof num, "%.*s", (int)(len - 1), arg);
        *secs = cli_double(opt, num, 0.001, 1e9);
    } else {
        *n = cli_long(opt, arg, 1, 1L << 40);
    }
}

const char *cli_path(const char *opt, const char *arg)
{
    if (!*arg)
        cli_usage_error("%s: an empty file name", opt);
    return arg;
}

/* The row of opts getopt returns c for (keys 0 are given 512 + the row's number). */
static const cli_opt *option_row(const cli_opt *opts, int n, int c)
{
    for (int i = 0; i < n; i++)
        if (c == (opts[i].key ? opts[i].key : 512 + i))
            return &opts[i];
    return NULL;
}

int cli_options(int argc, char *const argv[], const cli_opt *opts, int n, unsigned *given)
{
    struct option longopts[n + 1];
    char shortopts[128] = "", name[64];
    int c, nl = 0, ns = 0;
    for (int i = 0; i < n; i++) {
        int key = opts[i].key ? opts[i].key : 512 + i, arg = opts[i].type < CLI_SET || opts[i].type == CLI_ARG;
        if (opts[i].name)
            longopts[nl++] = (struct option){ opts[i].name, arg, 0, key };
        if (key < 256 && ns < (int)sizeof shortopts - 3)
            ns += snprintf(shortopts + ns, sizeof shortopts - ns, "%c%s", key, arg ? ":" : "");
    }
    longopts[nl] = (struct option){ 0, 0, 0, 0 };
    while ((c = cli_getopt(argc, argv, shortopts, longopts)) != -1) {
        const cli_opt *o = option_row(opts, n, c);
        if (!o)
            cli_usage_error("unknown option");
        *given |= o->given;
        if (o->key > 0 && o->key < 256)
            snprintf(name, sizeof name, "-%c", o->key);
        else
            snprintf(name, sizeof name, "--%s", o->name);
        switch (o->type) {
        case CLI_INT: *(int *)o->p = (int)cli_long(name, optarg, (long)o->lo, (long)o->hi); break;
        case CLI_LONG: *(long *)o->p = cli_long(name, optarg, (long)o->lo, (long)o->hi); break;
        case CLI_DOUBLE: *(double *)o->p = cli_double(name, optarg, o->lo, o->hi); break;
        case CLI_PATH: *(const char **)o->p = cli_path(name, optarg); break;
        case CLI_STR: *(const char **)o->p = optarg; break;
        case CLI_SET: case CLI_CLEAR: *(int *)o->p = o->type == CLI_SET; break;
        default: return c;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

void cli_print_version(void)
{
    const char *k = cli_uses_kernels ? cli_kernels()->name : NULL;   /* may refuse: before any output */
    printf("charpipe %s %s", cli_prog, CHARPIPE_VERSION);
    if (k)
        printf(" (kernels: %s)", k);
    putchar('\n');
}

/* The text of the option argv[optind - 1] names, without "=VALUE", for messages. */
static void bad_option(int c, int argc, char *const argv[], const struct option *longopts)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) != 0 || !arg[2]) {      /* a short option */
        if (c == ':')
            cli_usage_error("option '-%c' needs an argument", optopt);
        cli_usage_error("unknown option '-%c'", optopt ? optopt : '?');
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    if (c == ':')
        cli_usage_error("option '--%.*s' needs an argument", (int)n, name);
    char list[256] = "";
    int matches = 0, exact = -1;
    for (int i = 0; longopts && longopts[i].name; i++)
        if (strncmp(longopts[i].name, name, n) == 0) {
            if (strlen(longopts[i].name) == n)
                exact = i;
            if (matches++ < 6)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s--%s", matches > 1 ? ", " : "",
                         longopts[i].name);
        }
    if (exact >= 0 || matches == 1)
        cli_usage_error("option '--%.*s' takes no argument", (int)n, name);
    if (matches > 1)
        cli_usage_error("option '--%.*s' is ambiguous: %s%s", (int)n, name, list, matches > 6 ? ", ..." : "");
    cli_usage_error("unknown option '--%.*s'", (int)n, name);
}

int cli_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts)
{
    char opts[128];
    snprintf(opts, sizeof opts, ":%s", shortopts);   /* ':' reports a missing argument as ':' */
    opterr = 0;
    int c = getopt_long(argc, argv, opts, longopts, NULL);
    if (c == '?' || c == ':')
        bad_option(c, argc, argv, longopts);
    if (c == CLI_OPT_VERSION) {
        cli_print_version();
        exit(0);
    }
    return c;
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

long cli_slurm_tasks(void)
{
    const char *n = getenv("SLURM_STEP_NUM_TASKS");
    if (!n && getenv("SLURM_STEP_ID"))
        n = getenv("SLURM_NTASKS");
    return n ? strtol(n, NULL, 10) : 0;
}

void cli_refuse_slurm_copies(int ranks)
{
    long tasks = cli_slurm_tasks();
    if (tasks > 1 && ranks == 1)
        cli_die("Slurm started %ld tasks, but this one is alone (an MPI world of 1 rank): %ld copies would each "
                "train and write the same files. Start one job of %ld ranks with the MPI build (srun --mpi=pmix "
                "build/mpi/bin/%s ..., or mpirun build/mpi/bin/%s ... inside the allocation), or one task "
                "(srun -n 1 %s ...)", tasks, tasks, tasks, cli_prog, cli_prog, cli_prog);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_hms(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static double bar_drawn, val_drawn;  /* when each bar was last drawn */

void cli_bar(long done, long total, double secs, double run_eta, double loss, double rate, int final,
             double val_loss, const char *unit)
{
    char buf[64];
    if (!final && done < total && cli_now() - bar_drawn <= 0.1)
        return;
    if (!final)
        bar_drawn = cli_now();
    int width = 30, fill = total ? (int)((double)done / total * width) : width;
    fprintf(stderr, "\r%*ld/%ld [", (int)snprintf(NULL, 0, "%ld", total), done, total);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    cli_hms(buf, sizeof buf, secs);
    if (final) {
        fprintf(stderr, "] - %s - loss: %.4f - val_loss: %.4f - %.0f %s/s\033[K\n", buf, loss,
                val_loss, rate, unit);
    } else {
        fprintf(stderr, "] - ETA: %s", buf);
        if (run_eta >= 0) {
            cli_hms(buf, sizeof buf, run_eta);
            fprintf(stderr, " (run %s)", buf);
        }
        fprintf(stderr, " - loss: %.4f - %.0f %s/s\033[K", loss, rate, unit);
    }
}

void cli_bar_validating(double done, double elapsed)
{
    char buf[64];
    double now = cli_now();
    if (val_drawn > 0 && now - val_drawn < 0.1 && done < 1)
        return;
    val_drawn = now;
    int width = 30, fill = (int)(done * width);
    fprintf(stderr, "\rvalidating %3.0f%% [", done * 100);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : (i == fill ? '>' : '.'), stderr);
    cli_hms(buf, sizeof buf, done > 0 ? elapsed / done * (1 - done) : 0);
    fprintf(stderr, "] - ETA: %s\033[K", buf);
}

static double status_drawn;          /* when the status line was last drawn (0: not on the screen) */

void cli_status(const char *fmt, ...)
{
    if (status_drawn > 0 && cli_now() - status_drawn <= 0.2)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    status_drawn = cli_now();
}

void cli_status_clear(void)
{
    if (status_drawn > 0)
        fputs("\r\033[K", stderr);
    status_drawn = 0;
}

void cli_bar_clear(void)
{
    if (val_drawn > 0) {
        fputs("\r\033[K", stderr);
        bar_drawn = 0;
    }
    val_drawn = 0;
}

static volatile sig_atomic_t sig_stop, sig_usr1;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        sig_usr1 = 1;
    else if (!sig_stop)
        sig_stop = sig;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int cli_signal_stop(void)
{
    return sig_stop;
}

int cli_signal_usr1(void)
{
    int r = sig_usr1;
    sig_usr1 = 0;
    return r;
}
