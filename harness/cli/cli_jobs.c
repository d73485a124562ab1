/* cli_jobs.c - running the plan's runs side by side (--jobs N).
 *
 * A matrix spends most of its time waiting: scenarios sleep out think times, pauses and
 * leases, and each run starts and stops its own servers on ports of its own. Runs are
 * independent (every one has its fleet, its shop file or namespace, its adapters), so N
 * workers take the next job in the plan's order as each frees up. What must not depend on
 * who finishes first is what is written: every job takes its turn to record (the cell's
 * record_turn hook), in the plan's order, so run ids, the order of the reports and the
 * gate's messages are those of one run at a time. A job waits only for jobs taken before
 * it, which are all running or done, so the turns always come. */
#include "cli/cli.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct jobs_pool {
    cli_job *jobs;
    int n;
    ovs_results *db;
    atomic_int *stop;
    int tty, color;
    atomic_int next;      /* the next job to take */
    atomic_int env_fail;  /* a job could not run on this machine: take no more */
    pthread_mutex_t mu;   /* guards recorded and stderr's progress lines */
    pthread_cond_t turn;
    int recorded;         /* jobs before this index have recorded (or had nothing to) */
} jobs_pool;

/* The record_turn hook: wait until every job before this one has had its turn. */
static void wait_turn(void *ctx)
{
    cli_job *j = ctx;
    jobs_pool *p = j->pool;

    pthread_mutex_lock(&p->mu);
    while (p->recorded != j->index)
        pthread_cond_wait(&p->turn, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* End job j's turn (taking it first when its run recorded nothing), letting the next in. */
static void end_turn(cli_job *j)
{
    jobs_pool *p = j->pool;

    wait_turn(j);
    pthread_mutex_lock(&p->mu);
    p->recorded = j->index + 1;
    pthread_cond_broadcast(&p->turn);
    pthread_mutex_unlock(&p->mu);
}

static void progress(jobs_pool *p, const cli_job *j)
{
    const ovs_cell_result *r = &j->r;
    const char *v = r->status != OVS_RUN_OK ? ovs_run_status_name(r->status)
                    : r->safe ? "safe" : "UNSAFE";
    const char *on = !p->color ? "" : r->status != OVS_RUN_OK ? "\033[33m"
                     : r->safe ? "\033[32m" : "\033[31m";

    /* One whole line per job, at its end: side by side, a line begun at the start would
     * be cut by the others'. */
    pthread_mutex_lock(&p->mu);
    fprintf(stderr, "[%d/%d] %s %s%s%s (%.1f s)\n", j->index + 1, p->n, j->label, on, v,
            p->color ? "\033[0m" : "", r->seconds);
    pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg)
{
    jobs_pool *p = arg;

    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        cli_job *j = &p->jobs[i];
        /* Taken jobs always end their turn, run or not, or the ones after would wait. */
        if (!j->skip && !atomic_load(p->stop) && !atomic_load(&p->env_fail)) {
            j->cell.record_turn = wait_turn;
            j->cell.record_ctx = j;
            j->crc = ovs_cell_run(&j->cell, p->db, &j->r);
            j->ran = 1;
            if (j->crc == OVS_ERR_ENV)
                atomic_store(&p->env_fail, 1);
            if (p->tty)
                progress(p, j);
        }
        end_turn(j);
    }
    return NULL;
}

void cli_run_jobs(cli_job *jobs, int n, int workers, ovs_results *db, atomic_int *stop,
                  int tty, int color)
{
    jobs_pool p = { .jobs = jobs, .n = n, .db = db, .stop = stop, .tty = tty,
                    .color = color };
    pthread_t tid[CLI_MAX_JOBS];
    int started = 0;

    atomic_init(&p.next, 0);
    atomic_init(&p.env_fail, 0);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.turn, NULL);
    for (int i = 0; i < n; i++) {
        jobs[i].pool = &p;
        jobs[i].index = i;
        jobs[i].ran = 0;
    }
    if (workers > n)
        workers = n;
    /* Workers beyond the first are threads; the calling thread is always one, so a
     * machine that cannot start a thread still runs everything, one at a time. */
    for (; started < workers - 1 && started < CLI_MAX_JOBS; started++)
        if (pthread_create(&tid[started], NULL, worker, &p) != 0)
            break;
    worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_cond_destroy(&p.turn);
    pthread_mutex_destroy(&p.mu);
    for (int i = 0; i < n; i++)
        jobs[i].pool = NULL;
}
