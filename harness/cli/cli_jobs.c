/* cli_jobs.c - running the plan's runs side by side (--jobs N).
 *
 * A matrix spends most of its time waiting: scenarios sleep out think times, pauses and
 * leases, and each run starts and stops its own servers on ports of its own. Runs are
 * independent (every one has its fleet, its shop file or namespace, its adapters), so N
 * workers each take a job as they free up, the longest first by the scenario's own clock
 * (cli_job_estimate_ns): a Sentinel failover left for last would keep the matrix waiting on
 * it alone. What must not depend on who finishes first is what is written: a played run
 * (ovs_cell_play, servers already stopped) waits in memory until every job before it in
 * the plan has been written, and whichever worker completes that prefix writes it, so run
 * ids, the order of the reports and the gate's messages are those of one run at a time.
 * Nobody waits for a turn. Runs waiting to be written are bounded (CLI_MAX_UNWRITTEN):
 * past it, a worker takes the earliest job in the plan instead, the one holding them. */
#include "cli/cli.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Played runs that may wait in memory for their turn to be written; a crowd's run holds
 * its events, a few MB for 10,000 buyers. */
#define CLI_MAX_UNWRITTEN 64

typedef struct jobs_pool {
    cli_job *jobs;
    int n;
    ovs_results *db;
    atomic_int *stop;
    int tty, color;
    pthread_mutex_t mu;   /* guards everything below, writes to db and progress lines */
    int *by_weight;       /* job indices, longest estimate first */
    unsigned char *taken; /* per job: taken by a worker */
    unsigned char *ended; /* per job: played (or passed over), ready to be written */
    int next_weight;      /* by_weight[] before this are taken */
    int next_plan;        /* jobs before this index are taken */
    int written;          /* jobs before this index are written (or had nothing to) */
    int unwritten;        /* ended and not yet written */
    int env_fail;         /* a job could not run on this machine: take no more */
    int heavy_running;    /* jobs with heavy set, taken and not ended */
    int running;          /* jobs taken and not ended */
    int alone_running;    /* jobs with alone set, taken and not ended */
    pthread_cond_t ended_cv; /* a job ended: a worker waiting to take one looks again */
} jobs_pool;

/* take(): a job is left, but it may start only after a run in progress ends. */
#define TAKE_WAIT (-2)

/* Heavy jobs side by side at most: a 10,000-buyer sale keeps a core or two busy, and two
 * at once saturate two cores and starve the runs beside them whose verdicts hang on their
 * clock (a lease that must outlive a section, a replica that must catch up). One at a
 * time, the default gate's eight take 19 s, beside everything else. */
#define CLI_MAX_HEAVY 1

int64_t cli_job_estimate_ns(const ovs_scenario *sc, const ovs_strategy_methods *m,
                            const ovs_params *p)
{
    /* Starting and stopping each server, a tenth of a second on a quiet machine: among
     * runs of one scenario, the strategy with more nodes to start and ask goes first. */
    int nodes = ovs_cell_nodes(sc, m, p);
    int64_t span = INT64_C(100000000) * (nodes > 0 ? nodes : 1), end = 0;

    for (int i = 0; i < sc->n_clients; i++) {
        const ovs_client_spec *c = &sc->clients[i];
        /* A start after a fault counts from its end; a point fault's time is not known
         * before the run, its duration is. */
        int64_t from = 0;
        if (c->after_fault >= 0) {
            const ovs_fault *f = &sc->faults[c->after_fault];
            from = (f->at_ns > 0 ? f->at_ns : 0) + f->duration_ns;
        }
        if (from + c->start_ns + c->think_ns > end)
            end = from + c->start_ns + c->think_ns;
    }
    for (int i = 0; i < sc->n_faults; i++) {
        const ovs_fault *f = &sc->faults[i];
        if (f->at_ns >= 0 && f->at_ns + f->duration_ns > end)
            end = f->at_ns + f->duration_ns;
    }
    if (sc->has_crowd) {
        /* A lock on the crowd's SKU serializes the buyers' sections whatever the workers
         * (redlock's 10,000 buyers take 12 to 20 s); a whole operation (a Lua decrement, a
         * conditional UPDATE) runs on every worker at once (lua-decr's take half a
         * second). */
        const ovs_crowd *c = &sc->crowd;
        int64_t crowd = (int64_t)c->buyers * c->think_max_ns;
        if (m->xExecute != NULL && c->workers > 1)
            crowd /= c->workers;
        if (c->arrival == OVS_ARRIVE_RATE && c->rate > 0)
            crowd += (int64_t)((double)c->buyers / c->rate * 1e9);
        if (crowd > end)
            end = crowd;
    }
    span += end + sc->writeback_delay_ns + sc->redis.lag_ns;
    /* Sentinel's own clock: noticing the master down, then a vote and a promotion (a
     * second or two on loopback). */
    if (sc->redis.sentinels > 0)
        span += sc->redis.sentinel_down_after_ns + INT64_C(2000000000);
    /* A cluster's own failover, which a kill waits for: two node timeouts and the
     * election's delays (1.8 to 2.9 s with a 1 s timeout). */
    for (int i = 0; i < sc->n_faults && sc->redis.cluster_replicas > 0; i++)
        if (sc->faults[i].action == OVS_FAULT_KILL)
            span += 2 * (sc->redis.cluster_node_timeout_ns > 0 ? sc->redis.cluster_node_timeout_ns
                                                               : OVS_CLUSTER_NODE_TIMEOUT_NS) +
                    INT64_C(1000000000);
    return span;
}

int cli_job_heavy(const ovs_scenario *sc)
{
    return sc->has_crowd && sc->crowd.buyers >= 1000;
}

/* Under p->mu: the next job to take, -1 when none is left (or none may be taken), or
 * TAKE_WAIT when the ones left must wait for a run in progress to end: every run while
 * one that runs alone is in progress, one that runs alone while anything is, a heavy one
 * while enough heavy ones are. */
static int take(jobs_pool *p)
{
    if (p->env_fail || atomic_load(p->stop))
        return -1;
    while (p->next_plan < p->n && p->taken[p->next_plan])
        p->next_plan++;
    while (p->next_weight < p->n && p->taken[p->by_weight[p->next_weight]])
        p->next_weight++;
    if (p->next_plan >= p->n)
        return -1;
    if (p->alone_running > 0)
        return TAKE_WAIT;
    int i = -1;
    if (p->unwritten >= CLI_MAX_UNWRITTEN) {
        i = p->next_plan;
        if (p->jobs[i].alone && p->running > 0)
            return TAKE_WAIT;
    } else {
        /* The longest untaken job, passing over heavy ones while enough run and those
         * that run alone while anything does: they start when the runs before them end,
         * and the lighter ones fill the workers meanwhile. */
        for (int w = p->next_weight; w < p->n && i < 0; w++) {
            int k = p->by_weight[w];
            const cli_job *j = &p->jobs[k];
            if (!p->taken[k] && (!j->heavy || p->heavy_running < CLI_MAX_HEAVY) &&
                (!j->alone || p->running == 0))
                i = k;
        }
        /* Something is running whenever a job is passed over, so a waiting worker is
         * woken by its end. */
        if (i < 0)
            return TAKE_WAIT;
    }
    p->taken[i] = 1;
    p->running++;
    p->heavy_running += p->jobs[i].heavy;
    p->alone_running += p->jobs[i].alone;
    return i;
}

/* Under p->mu: write every ended job at the head of the plan, in its order. */
static void write_ready(jobs_pool *p)
{
    while (p->written < p->n && p->ended[p->written]) {
        cli_job *j = &p->jobs[p->written++];
        if (j->played != NULL) {
            p->unwritten--;
            if (ovs_cell_record(j->played, p->db, &j->r) != 0)
                j->crc = OVS_ERR;
            j->played = NULL;
        }
    }
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
    fprintf(stderr, "[%d/%d] %s %s%s%s (%.1f s)\n", j->index + 1, p->n, j->label, on, v,
            p->color ? "\033[0m" : "", r->seconds);
}

static void *worker(void *arg)
{
    jobs_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (int i; (i = take(p)) != -1;) {
        if (i == TAKE_WAIT) {
            pthread_cond_wait(&p->ended_cv, &p->mu);
            continue;
        }
        cli_job *j = &p->jobs[i];
        ovs_cell_played *played = NULL;
        pthread_mutex_unlock(&p->mu);
        if (!j->skip) {
            j->crc = ovs_cell_play(&j->cell, &j->r, &played);
            j->ran = 1;
        }
        pthread_mutex_lock(&p->mu);
        if (j->ran && j->crc == OVS_ERR_ENV)
            p->env_fail = 1;
        if (j->ran && p->tty)
            progress(p, j);
        j->played = played;
        p->unwritten += played != NULL;
        p->heavy_running -= j->heavy;
        p->alone_running -= j->alone;
        p->running--;
        p->ended[i] = 1;
        pthread_cond_broadcast(&p->ended_cv);
        write_ready(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

typedef struct weighed {
    int64_t weight_ns;
    int index;
} weighed;

/* Longest first; the plan's order among equals, so the order is the same every time. */
static int heavier(const void *a, const void *b)
{
    const weighed *x = a, *y = b;
    if (x->weight_ns != y->weight_ns)
        return x->weight_ns > y->weight_ns ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int cli_run_jobs(cli_job *jobs, int n, int workers, ovs_results *db, atomic_int *stop,
                 int tty, int color)
{
    jobs_pool p = { .jobs = jobs, .n = n, .db = db, .stop = stop, .tty = tty,
                    .color = color };
    pthread_t tid[CLI_MAX_JOBS];
    int started = 0;

    size_t slots = (size_t)(n > 0 ? n : 1);
    weighed *order = malloc(sizeof(*order) * slots);
    p.by_weight = malloc(sizeof(*p.by_weight) * slots);
    p.taken = calloc(slots, 1);
    p.ended = calloc(slots, 1);
    if (order == NULL || p.by_weight == NULL || p.taken == NULL || p.ended == NULL) {
        free(order);
        free(p.by_weight);
        free(p.taken);
        free(p.ended);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        jobs[i].index = i;
        jobs[i].ran = 0;
        jobs[i].played = NULL;
        order[i] = (weighed){ .weight_ns = jobs[i].weight_ns, .index = i };
    }
    qsort(order, (size_t)n, sizeof(*order), heavier);
    for (int i = 0; i < n; i++)
        p.by_weight[i] = order[i].index;
    free(order);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.ended_cv, NULL);
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
    /* Jobs nobody took (stopped, or the machine could not run one) end here, so the
     * runs played after them are still written. */
    for (int i = 0; i < n; i++)
        p.ended[i] = 1;
    write_ready(&p);
    pthread_cond_destroy(&p.ended_cv);
    pthread_mutex_destroy(&p.mu);
    free(p.by_weight);
    free(p.taken);
    free(p.ended);
    return 0;
}
