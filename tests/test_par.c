/* test_par.c - the fork-join pool: every part of every job runs once, par_run returns only
 * after all of them, and workers that went to sleep between jobs are woken. A lost wake-up
 * would hang: alarm() turns that into a failure. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "par.h"

enum { NMAX = 4 };

typedef struct {
    long job;                    /* the job par_run is running */
    long seen[NMAX];             /* the last job each part ran */
    long runs[NMAX];             /* how often each part ran */
    int nparts[NMAX];            /* nparts as each part was told */
} jobs;

static void part_fn(void *ctx, int part, int nparts)
{
    jobs *j = ctx;
    if (part < 0 || part >= NMAX)
        return;
    j->seen[part] = j->job;
    j->runs[part]++;
    j->nparts[part] = nparts;
}

/* n jobs on a pool of t threads; pause_us > 0 sleeps that long before every 16th job, long
 * enough for the workers to stop spinning and sleep. */
static void run_jobs(int t, long n, int pause_us)
{
    par_pool *p = par_new(t);
    CHECK(p != NULL, "par_new(%d)", t);
    if (!p)
        return;
    CHECK(par_size(p) == t, "size %d", par_size(p));
    jobs j;
    memset(&j, 0, sizeof j);
    long bad = 0;
    for (long k = 1; k <= n; k++) {
        if (pause_us && k % 16 == 0)
            usleep((useconds_t)pause_us);
        j.job = k;
        par_run(p, part_fn, &j);
        for (int i = 0; i < t; i++)
            bad += j.seen[i] != k || j.nparts[i] != t;
    }
    CHECK(bad == 0, "%ld parts had not run the job par_run returned from (t %d)", bad, t);
    for (int i = 0; i < t; i++)
        CHECK(j.runs[i] == n, "part %d ran %ld times of %ld (t %d)", i, j.runs[i], n, t);
    par_free(p);
}

static void test_many_jobs(void)
{
    run_jobs(1, 1000, 0);
    run_jobs(2, 20000, 0);
    run_jobs(3, 20000, 0);       /* more threads than this machine may have cores */
}

static void test_wake_after_sleep(void)
{
    run_jobs(2, 400, 2000);
    run_jobs(3, 200, 2000);
}

static void test_free_idle(void)
{
    par_pool *p = par_new(3);
    CHECK(p != NULL, "par_new");
    par_free(p);                 /* workers still spinning on their first wait */
    p = par_new(2);
    CHECK(p != NULL, "par_new");
    usleep(5000);                /* now asleep */
    par_free(p);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_par: no progress in 120 s: a lost wake-up in the pool?\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    RUN(test_many_jobs);
    RUN(test_wake_after_sleep);
    RUN(test_free_idle);
    return check_summary();
}
