/* output.c - the rules every output follows; see output.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "output.h"

#define MAX_IO 16

static struct input { int fd; const char *label, *path; int flags; } ins[MAX_IO];
static struct output { const char *opt, *path; int flags; } outs[MAX_IO];
static int nins, nouts;

void out_input_fd(int fd, const char *label, int flags)
{
    if (nins < MAX_IO)
        ins[nins++] = (struct input){ .fd = fd, .label = label, .flags = flags };
}

void out_input(const char *path, int flags)
{
    if (path && nins < MAX_IO)
        ins[nins++] = (struct input){ .fd = -1, .label = path, .path = path, .flags = flags };
}

void out_stdout(int flags)
{
    if (nouts < MAX_IO)
        outs[nouts++] = (struct output){ .opt = "stdout", .flags = flags };
}

void out_path(const char *opt, const char *path, int flags)
{
    if (path && nouts < MAX_IO)
        outs[nouts++] = (struct output){ .opt = opt, .path = path, .flags = flags };
}

static int same_inode(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The file input i is, when it is a regular file: 1 and *st, else 0. */
static int input_file(int i, struct stat *st)
{
    int rc = ins[i].path ? stat(ins[i].path, st) : fstat(ins[i].fd, st);
    return rc == 0 && S_ISREG(st->st_mode);
}

/* The file a path names, through symbolic links (a dangling link: the file it would
 * create), in new memory; NULL with errno when the link cannot be read or loops. */
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

static void check_stdout(const struct output *o)
{
    struct stat out, in;
    if ((o->flags & OUT_BINARY) && isatty(1))
        cli_die("refusing to write a binary stream to a terminal (redirect or pipe it)");
    if (fstat(1, &out) < 0 || !S_ISREG(out.st_mode))
        return;
    for (int i = 0; i < nins; i++)
        if (input_file(i, &in) && same_inode(&in, &out)) {
            if (!ins[i].path && ins[i].fd == 0)
                cli_die("stdout is the same file as stdin; write to another file");
            cli_die("stdout is %s, an input of this command; write to another file", ins[i].label);
        }
}

static void check_path(const struct output *o, int force)
{
    struct stat st, in;
    const char *path = o->path;
    if (stat(path, &st) == 0) {
        for (int i = 0; i < nins; i++) {
            if (!S_ISREG(st.st_mode) || !input_file(i, &in) || !same_inode(&in, &st))
                continue;
            /* an input read whole first may be replaced atomically, never written in place */
            if (!(ins[i].flags & OUT_READ_FIRST) || (o->flags & OUT_APPEND))
                cli_die("%s: is also an input of this command; write to another file", path);
        }
        if (S_ISDIR(st.st_mode))
            cli_die("%s: cannot write: %s", path, strerror(EISDIR));
        if (S_ISCHR(st.st_mode) && (o->flags & OUT_BINARY)) {
            int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK);
            int tty = fd >= 0 && isatty(fd);
            if (fd >= 0)
                close(fd);
            if (tty)
                cli_die("%s: is a terminal; refusing to write a binary stream to it", path);
        }
        if (!S_ISREG(st.st_mode))     /* a device or a fifo: written in place, not probed */
            return;
        if (!force && (!(st.st_mode & 0222) || access(path, W_OK) < 0))
            cli_die("%s: is read-only (use -f to replace it)", path);
        if (o->flags & OUT_APPEND)    /* appended in place: no new file beside it */
            return;
    } else if (errno != ENOENT) {     /* a link loop, a path through a file, no permission */
        cli_die("%s: cannot write: %s", path, strerror(errno));
    }
    char *target = link_target(path);
    if (!target)
        cli_die("%s: cannot write: %s", path, strerror(errno));
    int rc = probe_dir(target), e = errno;
    free(target);
    if (rc < 0)
        cli_die("%s: cannot write: %s", path, strerror(e));
}

/* 1 if outputs a and b are the same file (the same inode when both exist; else the same
 * path once symbolic links are followed). */
static int same_output(const struct output *a, const struct output *b)
{
    struct stat sa, sb;
    int ha = a->path ? stat(a->path, &sa) == 0 : fstat(1, &sa) == 0 && S_ISREG(sa.st_mode);
    int hb = b->path ? stat(b->path, &sb) == 0 : fstat(1, &sb) == 0 && S_ISREG(sb.st_mode);
    if (ha && hb)
        return same_inode(&sa, &sb);
    if (!a->path || !b->path)
        return 0;
    char *ta = link_target(a->path), *tb = link_target(b->path);
    int same = ta && tb && strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

void out_check(int force)
{
    for (int i = 0; i < nins; i++)
        if (!ins[i].path && (ins[i].flags & OUT_BINARY) && isatty(ins[i].fd))
            cli_usage_error("%s is a terminal, but %s reads a charpipe stream there: pipe one in "
                            "(vocab < TEXT | %s ...)", ins[i].label, cli_prog, cli_prog);
    for (int i = 0; i < nouts; i++)
        if (outs[i].path)
            check_path(&outs[i], force);
        else
            check_stdout(&outs[i]);
    /* an output appended in place must not be another output (a log appended to a model) */
    for (int j = 1; j < nouts; j++)
        for (int i = 0; i < j; i++)
            if (((outs[i].flags | outs[j].flags) & OUT_APPEND) && same_output(&outs[i], &outs[j]))
                cli_usage_error("%s %s: is also the %s file", outs[j].path ? outs[j].opt : "stdout",
                                outs[j].path ? outs[j].path : "", outs[i].path ? outs[i].opt : "stdout");
}

/* ---- writing a file: a temporary beside it, renamed over it ---- */

static out_file *open_files[8];

static void remove_temporaries(void)
{
    for (int i = 0; i < 8; i++)
        if (open_files[i])
            unlink(open_files[i]->tmp);
}

int out_open(out_file *f, const char *path)
{
    static int registered;
    struct stat st;
    if (!registered) {
        atexit(remove_temporaries);
        registered = 1;
    }
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
        if (!open_files[i]) {
            open_files[i] = f;
            break;
        }
    return 0;
}

static void forget(out_file *f)
{
    for (int i = 0; i < 8; i++)
        if (open_files[i] == f)
            open_files[i] = NULL;
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}

int out_commit(out_file *f)
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

void out_abort(out_file *f)
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

int out_open_append(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND, 0666);
}
