/* faults.c - the fault scheduler: timed faults, point faults and their second halves.
 *
 * One mutex and one condition variable (on CLOCK_MONOTONIC) guard the shared state: which
 * point each client is waiting at, how many clients are done, which faults have fired and
 * which second halves are due. The main thread never holds the mutex while it acts on a
 * server, so a client reaching a point never waits behind a slow restart it did not ask
 * for. */
#include "engine/faults.h"
#include "engine/recovery.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"

#define MAX_FOLLOWUPS 64

typedef struct followup {
    const ovs_fault *f;
    int64_t due; /* absolute monotonic */
} followup;

struct ovs_faults {
    const ovs_scenario *sc;
    ovs_fault_fn fn;
    ovs_fault_node_fn node_fn;
    const ovs_shop_loc *shop;
    void *ctx;
    ovs_writeback *wb;
    int nclients;
    int64_t t0;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* on CLOCK_MONOTONIC: timed waits use absolute deadlines */
    int *waiting_step;      /* per client: the step it waits at, or -1 */
    unsigned *reached;      /* per client: bit (1 << step) for every point it passed; its
                               own thread writes it, the main thread reads it only after
                               that client said it was done (under mu) */
    unsigned *missed;       /* the same, for the steps it reached and failed (an acquire
                               refused): what a fault after them follows never happened */
    ovs_crash *crash;       /* per client: its crash record (core/crash.h) */
    int ncrash;             /* of them initialised, for ovs_faults_free */
    int done;               /* clients finished */
    atomic_int crowd_ok;    /* the crowd's requests that succeeded so far */
    int crowd_faults;       /* some fault waits for the crowd's successes (after = crowd:N) */
    char *watched;          /* per client: another client starts after one of its steps */
    int64_t *step_at;       /* per client and step (client * OVS_OP__COUNT + step): when
                               a watched client's step first passed, 0 while it may
                               still, -1 once its client is done without it */
    char *fired;            /* per fault */
    int64_t *over_at;       /* per fault: 0 while it may still come or is under way; when
                               both its halves are done, the monotonic time; -1 when it
                               failed or never will fire (ovs_faults_wait_over) */
    followup fu[MAX_FOLLOWUPS];
    int nfu;
    ovs_trace trace;        /* written by the main thread only */
    int failed;
    char error[256];
};

ovs_faults *ovs_faults_new(const ovs_scenario *sc, ovs_fault_fn fn, ovs_fault_node_fn node_fn,
                           void *ctx, ovs_writeback *wb, const ovs_shop_loc *shop, int nclients)
{
    ovs_faults *fs = calloc(1, sizeof(*fs));
    pthread_condattr_t ca;

    if (fs == NULL)
        return NULL;
    fs->sc = sc;
    fs->fn = fn;
    fs->node_fn = node_fn;
    fs->shop = shop;
    fs->ctx = ctx;
    fs->wb = wb;
    fs->nclients = nclients;
    fs->waiting_step = malloc((size_t)(nclients > 0 ? nclients : 1) * sizeof(int));
    fs->reached = calloc((size_t)(nclients > 0 ? nclients : 1), sizeof(unsigned));
    fs->missed = calloc((size_t)(nclients > 0 ? nclients : 1), sizeof(unsigned));
    fs->fired = calloc((size_t)(sc->n_faults > 0 ? sc->n_faults : 1), 1);
    fs->over_at = calloc((size_t)(sc->n_faults > 0 ? sc->n_faults : 1), sizeof(int64_t));
    fs->watched = calloc((size_t)(nclients > 0 ? nclients : 1), 1);
    fs->step_at = calloc((size_t)(nclients > 0 ? nclients : 1) * OVS_OP__COUNT,
                         sizeof(int64_t));
    fs->crash = calloc((size_t)(nclients > 0 ? nclients : 1), sizeof(*fs->crash));
    for (; fs->crash != NULL && fs->ncrash < nclients; fs->ncrash++)
        if (ovs_crash_init(&fs->crash[fs->ncrash]) != 0)
            break;
    if (fs->waiting_step == NULL || fs->reached == NULL || fs->missed == NULL ||
        fs->fired == NULL || fs->over_at == NULL || fs->watched == NULL ||
        fs->step_at == NULL ||
        fs->crash == NULL || fs->ncrash < nclients) {
        for (int i = 0; fs->crash != NULL && i < fs->ncrash; i++)
            ovs_crash_destroy(&fs->crash[i]);
        free(fs->crash);
        free(fs->waiting_step);
        free(fs->reached);
        free(fs->missed);
        free(fs->fired);
        free(fs->over_at);
        free(fs->watched);
        free(fs->step_at);
        free(fs);
        return NULL;
    }
    for (int i = 0; i < nclients; i++)
        fs->waiting_step[i] = -1;
    for (int i = 0; i < sc->n_clients; i++)
        if (sc->clients[i].after_client >= 0 && sc->clients[i].after_client < nclients)
            fs->watched[sc->clients[i].after_client] = 1;
    for (int i = 0; i < sc->n_faults; i++)
        fs->crowd_faults |= sc->faults[i].after_crowd > 0;
    atomic_init(&fs->crowd_ok, 0);
    pthread_mutex_init(&fs->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fs->cv, &ca);
    pthread_condattr_destroy(&ca);
    return fs;
}

static int has_point(const ovs_scenario *sc, int client, enum ovs_op step)
{
    for (int i = 0; i < sc->n_faults; i++)
        if (sc->faults[i].at_ns < 0 && sc->faults[i].after_client == client &&
            sc->faults[i].after_step == (int)step)
            return 1;
    return 0;
}

void ovs_faults_point(ovs_faults *fs, int client, enum ovs_op step, int passed)
{
    /* The fault table is immutable during the run: no lock needed to know there is
     * nothing to do, which is the common case on the hot path. */
    if (fs == NULL || client < 0 || client >= fs->nclients)
        return;
    /* A fault after alice:acquire is a fault done to a holder: fired after a refused
     * acquire it would test a timeline that never happened, and its run would get a
     * verdict all the same. Unfired, the run is an error saying so. */
    if (!passed) {
        fs->missed[client] |= 1u << step;
        return;
    }
    fs->reached[client] |= 1u << step;
    if (fs->watched[client]) {
        pthread_mutex_lock(&fs->mu);
        int64_t *at = &fs->step_at[client * OVS_OP__COUNT + (int)step];
        if (*at == 0)
            *at = ovs_now_ns();
        pthread_cond_broadcast(&fs->cv);
        pthread_mutex_unlock(&fs->mu);
    }
    if (!has_point(fs->sc, client, step))
        return;
    pthread_mutex_lock(&fs->mu);
    fs->waiting_step[client] = (int)step;
    pthread_cond_broadcast(&fs->cv);
    while (fs->waiting_step[client] != -1)
        pthread_cond_wait(&fs->cv, &fs->mu);
    pthread_mutex_unlock(&fs->mu);
}

void ovs_faults_crowd_ok(ovs_faults *fs)
{
    if (fs == NULL || !fs->crowd_faults)
        return;
    int n = atomic_fetch_add(&fs->crowd_ok, 1) + 1;
    /* Only the success a fault waits for wakes the scheduler; it reads the count under
     * the mutex before it sleeps, so taking the mutex here cannot miss it. The crowd
     * does not wait: its other workers would go on selling anyway. */
    for (int i = 0; i < fs->sc->n_faults; i++)
        if (fs->sc->faults[i].after_crowd == n) {
            pthread_mutex_lock(&fs->mu);
            pthread_cond_broadcast(&fs->cv);
            pthread_mutex_unlock(&fs->mu);
            return;
        }
}

void ovs_faults_client_done(ovs_faults *fs, int client)
{
    if (fs == NULL)
        return;
    pthread_mutex_lock(&fs->mu);
    /* What waits for this client's steps, or for a point fault of its that has not
     * fired (it would have, before this client went on), waits in vain. */
    for (int i = 0; client >= 0 && client < fs->nclients && i < fs->sc->n_faults; i++)
        if (fs->sc->faults[i].at_ns < 0 && fs->sc->faults[i].after_client == client &&
            !fs->fired[i] && fs->over_at[i] == 0)
            fs->over_at[i] = -1;
    for (int op = 0; client >= 0 && client < fs->nclients && op < OVS_OP__COUNT; op++)
        if (fs->step_at[client * OVS_OP__COUNT + op] == 0)
            fs->step_at[client * OVS_OP__COUNT + op] = -1;
    fs->done++;
    pthread_cond_broadcast(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
}

static const char *target_text(const ovs_faults *fs, const ovs_fault *f, char *buf,
                               size_t len)
{
    if (f->target == OVS_TARGET_CLIENT)
        snprintf(buf, len, "client:%s",
                 f->target_client >= 0 && f->target_client < fs->sc->n_clients
                     ? fs->sc->clients[f->target_client].name
                     : "?");
    else if (f->target == OVS_TARGET_NODE)
        snprintf(buf, len, "node:%d", f->target_node);
    else if (f->target == OVS_TARGET_REPLICA)
        snprintf(buf, len, "replica:%d", f->target_node);
    else
        snprintf(buf, len, "link:%d:node:%d", f->target_client, f->target_node);
    return buf;
}

/* Called with the mutex held; releases it while acting. */
static void fire(ovs_faults *fs, const ovs_fault *f, int second)
{
    char what[64] = "", err[200] = "", target[OVS_KEY_MAX];
    int64_t start = ovs_now_ns();
    int rc;

    pthread_mutex_unlock(&fs->mu);
    if (f->action == OVS_FAULT_CRASH) {
        /* The client's own thread and its strategy see the flag at their next look; its
         * adapter dies now. */
        ovs_crash *c = ovs_faults_crash(fs, f->target_client);
        rc = c != NULL ? ovs_crash_fire(c, what, sizeof(what)) : -1;
        if (rc != 0)
            ovs_seterr(err, sizeof(err), "%s", c != NULL ? "the client had crashed already"
                                                         : "no such client");
    } else {
        rc = fs->fn(fs->ctx, f, second, what, sizeof(what), err, sizeof(err));
    }
    /* A node back from a restart has what its persistence kept; the shop's recovery rule
     * decides what stock it is given. */
    int restarted = f->action == OVS_FAULT_RESTART ||
                    (f->action == OVS_FAULT_KILL_RESTART && second);
    if (rc == 0 && restarted && f->recovery != OVS_RECOVER_NONE) {
        const ovs_endpoint *node = fs->node_fn ? fs->node_fn(fs->ctx, f) : NULL;
        if (node == NULL) {
            ovs_seterr(err, sizeof(err), "recovery: no server for the fault's target");
            rc = -1;
        } else {
            rc = ovs_recover(fs->sc, fs->shop, node, f->recovery, fs->wb, what,
                             sizeof(what), err, sizeof(err));
        }
    }
    ovs_trace_add(&fs->trace, -1, OVS_OP_FAULT, target_text(fs, f, target, sizeof(target)),
                  start, ovs_now_ns(), rc == 0 ? OVS_OUT_OK : OVS_OUT_FAIL, rc == 0 ? what : err);
    pthread_mutex_lock(&fs->mu);
    if (rc != 0 && !fs->failed) {
        fs->failed = 1;
        snprintf(fs->error, sizeof(fs->error), "fault %s: %s", f->name, err);
    }
    int pending = 0; /* a second half is still to come */
    if (rc == 0 && !second && fs->nfu < MAX_FOLLOWUPS) {
        /* A cluster master's kill, and master 0's behind Sentinels, have a second half
         * due at once: watching, bounded, for the promotion of a replica. Done after the
         * kill returns, so a client held at the kill's point goes on while they fail
         * over, as it would; a client that starts `after` the kill starts from there. */
        int needs = f->action == OVS_FAULT_KILL_RESTART ||
                    (f->action == OVS_FAULT_KILL && fs->sc->redis.cluster_replicas > 0) ||
                    (f->action == OVS_FAULT_KILL && fs->sc->redis.sentinels > 0 &&
                     f->target == OVS_TARGET_NODE && f->target_node == 0) ||
                    (f->duration_ns > 0 &&
                     (f->action == OVS_FAULT_PAUSE || f->action == OVS_FAULT_CUT));
        if (needs)
            fs->fu[fs->nfu++] = (followup){ f, ovs_now_ns() + f->duration_ns };
        pending = needs;
    }
    if (!pending) {
        fs->over_at[f - fs->sc->faults] = rc == 0 ? ovs_now_ns() : -1;
        pthread_cond_broadcast(&fs->cv);
    }
}

/* Wait, with the mutex held, until *at is set (> 0: a time; -1: never) or stop is. */
static int64_t wait_for(ovs_faults *fs, const int64_t *at, atomic_int *stop)
{
    while (*at == 0 && (stop == NULL || atomic_load(stop) == 0)) {
        /* An interrupt sets stop without a signal to this condition: look again often. */
        int64_t next = ovs_now_ns() + 20 * OVS_NS_PER_MS;
        struct timespec ts = { .tv_sec = next / OVS_NS_PER_S, .tv_nsec = next % OVS_NS_PER_S };
        pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
    }
    return *at > 0 ? *at : -1;
}

int64_t ovs_faults_wait_over(ovs_faults *fs, int fault, atomic_int *stop)
{
    if (fs == NULL || fault < 0 || fault >= fs->sc->n_faults)
        return -1;
    pthread_mutex_lock(&fs->mu);
    int64_t at = wait_for(fs, &fs->over_at[fault], stop);
    pthread_mutex_unlock(&fs->mu);
    return at;
}

int64_t ovs_faults_wait_step(ovs_faults *fs, int client, enum ovs_op step, atomic_int *stop)
{
    if (fs == NULL || client < 0 || client >= fs->nclients || (int)step < 0 ||
        step >= OVS_OP__COUNT || !fs->watched[client])
        return -1;
    pthread_mutex_lock(&fs->mu);
    int64_t at = wait_for(fs, &fs->step_at[client * OVS_OP__COUNT + (int)step], stop);
    pthread_mutex_unlock(&fs->mu);
    return at;
}

static int take_due_followup(ovs_faults *fs, int64_t now, int all)
{
    int best = -1;
    for (int i = 0; i < fs->nfu; i++)
        if ((all || fs->fu[i].due <= now) && (best < 0 || fs->fu[i].due < fs->fu[best].due))
            best = i;
    if (best < 0)
        return 0;
    const ovs_fault *f = fs->fu[best].f;
    fs->fu[best] = fs->fu[--fs->nfu];
    fire(fs, f, 1);
    return 1;
}

/* Why f never fired, into fs->error. Called with the mutex held, once every client is
 * done, so reached[] is final. */
static void not_fired(ovs_faults *fs, const ovs_fault *f, int64_t now)
{
    const ovs_scenario *sc = fs->sc;

    if (f->at_ns >= 0) {
        snprintf(fs->error, sizeof(fs->error),
                 "fault %s (line %d, at %.1f ms) did not fire: every client was done at"
                 " t=%.1f ms",
                 f->name, f->line, (double)f->at_ns / 1e6, (double)(now - fs->t0) / 1e6);
        return;
    }
    if (f->after_crowd > 0) {
        int ok = atomic_load(&fs->crowd_ok);
        snprintf(fs->error, sizeof(fs->error),
                 "fault %s (line %d, after crowd:%d) did not fire: the crowd's requests "
                 "succeeded %d time%s",
                 f->name, f->line, f->after_crowd, ok, ok == 1 ? "" : "s");
        return;
    }
    const char *who = f->after_client >= 0 && f->after_client < sc->n_clients
                          ? sc->clients[f->after_client].name
                          : "?";
    unsigned r = f->after_client >= 0 && f->after_client < fs->nclients
                     ? fs->reached[f->after_client]
                     : 0;
    char passed[96] = "";
    size_t used = 0;
    for (int op = 0; op < OVS_OP__COUNT; op++)
        if ((r & (1u << op)) && used < sizeof(passed))
            used += (size_t)snprintf(passed + used, sizeof(passed) - used, "%s%s",
                                     used ? ", " : "", ovs_op_name((enum ovs_op)op));
    unsigned m = f->after_client >= 0 && f->after_client < fs->nclients
                     ? fs->missed[f->after_client]
                     : 0;
    const char *step = ovs_op_name((enum ovs_op)f->after_step);
    if (m & (1u << f->after_step))
        snprintf(fs->error, sizeof(fs->error),
                 "fault %s (line %d, after %s:%s) did not fire: %s's %s failed, so what the "
                 "fault follows never happened (%s%s)", f->name, f->line, who, step, who, step,
                 used ? "steps passed: " : "", used ? passed : "no step passed");
    else
        snprintf(fs->error, sizeof(fs->error),
                 "fault %s (line %d, after %s:%s) did not fire: %s never reached %s (%s%s)",
                 f->name, f->line, who, step, who, step, used ? "steps passed: " : "",
                 used ? passed : "the request never started");
}

/* Fire, in file order, the faults due: those waiting for the crowd's successes (crowd
 * set), or those timed at or before now. Called with the mutex held; 1 when one fired. */
static int fire_due(ovs_faults *fs, int crowd, int64_t now)
{
    int acted = 0;

    for (int i = 0; i < fs->sc->n_faults; i++) {
        const ovs_fault *f = &fs->sc->faults[i];
        /* The count is read for each: the fault before may have taken a while, the mutex
         * released. */
        int due = crowd ? f->after_crowd > 0 && atomic_load(&fs->crowd_ok) >= f->after_crowd
                        : f->at_ns >= 0 && fs->t0 + f->at_ns <= now;
        if (!fs->fired[i] && due) {
            fs->fired[i] = 1;
            fire(fs, f, 0);
            acted = 1;
        }
    }
    return acted;
}

void ovs_faults_at_start(ovs_faults *fs, int64_t t0)
{
    const ovs_scenario *sc = fs->sc;

    fs->t0 = t0;
    ovs_sleep_until(t0);
    pthread_mutex_lock(&fs->mu);
    for (int i = 0; i < sc->n_faults; i++) {
        if (!fs->fired[i] && sc->faults[i].at_ns == 0) {
            fs->fired[i] = 1;
            fire(fs, &sc->faults[i], 0);
        }
    }
    pthread_mutex_unlock(&fs->mu);
}

void ovs_faults_run(ovs_faults *fs, int64_t t0)
{
    const ovs_scenario *sc = fs->sc;

    fs->t0 = t0;
    pthread_mutex_lock(&fs->mu);
    for (;;) {
        int acted = 0;
        int64_t now = ovs_now_ns();

        /* Clients waiting at a point: fire its faults in file order, then release them. */
        for (int c = 0; c < fs->nclients; c++) {
            if (fs->waiting_step[c] < 0)
                continue;
            for (int i = 0; i < sc->n_faults; i++) {
                const ovs_fault *f = &sc->faults[i];
                if (!fs->fired[i] && f->at_ns < 0 && f->after_client == c &&
                    f->after_step == fs->waiting_step[c]) {
                    fs->fired[i] = 1;
                    fire(fs, f, 0);
                }
            }
            fs->waiting_step[c] = -1;
            pthread_cond_broadcast(&fs->cv);
            acted = 1;
        }
        /* The crowd's N-th success is a point too, reached even when it was the last
         * request: its worker counted it before it said it was done. */
        acted |= fire_due(fs, 1, now);
        if (fs->done >= fs->nclients)
            break;
        acted |= fire_due(fs, 0, now);
        acted |= take_due_followup(fs, ovs_now_ns(), 0);
        if (acted)
            continue;

        /* Sleep until the next timed fault or second half, or until woken. */
        int64_t next = INT64_MAX;
        for (int i = 0; i < sc->n_faults; i++)
            if (!fs->fired[i] && sc->faults[i].at_ns >= 0 && t0 + sc->faults[i].at_ns < next)
                next = t0 + sc->faults[i].at_ns;
        for (int i = 0; i < fs->nfu; i++)
            if (fs->fu[i].due < next)
                next = fs->fu[i].due;
        if (next == INT64_MAX) {
            pthread_cond_wait(&fs->cv, &fs->mu);
        } else {
            struct timespec ts = { .tv_sec = next / OVS_NS_PER_S,
                                   .tv_nsec = next % OVS_NS_PER_S };
            pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
        }
    }
    /* Clients are done: make the servers whole again before the checks. */
    while (take_due_followup(fs, 0, 1))
        ;
    for (int i = 0; i < sc->n_faults; i++)
        if (fs->over_at[i] == 0)
            fs->over_at[i] = -1;
    /* A fault that did not happen never yields a verdict: the run is an error that names
     * it, rather than a "safe" for a scenario that was not played. */
    for (int i = 0; i < sc->n_faults && !fs->failed; i++)
        if (!fs->fired[i]) {
            fs->failed = 1;
            not_fired(fs, &sc->faults[i], ovs_now_ns());
        }
    pthread_mutex_unlock(&fs->mu);
}

ovs_crash *ovs_faults_crash(ovs_faults *fs, int client)
{
    if (fs == NULL || client < 0 || client >= fs->nclients)
        return NULL;
    return &fs->crash[client];
}

ovs_trace *ovs_faults_trace(ovs_faults *fs)
{
    return &fs->trace;
}

int ovs_faults_error(ovs_faults *fs, char *err, size_t errlen)
{
    if (fs == NULL || !fs->failed)
        return 0;
    ovs_seterr(err, errlen, "%s", fs->error);
    return -1;
}

void ovs_faults_free(ovs_faults *fs)
{
    if (fs == NULL)
        return;
    ovs_trace_free(&fs->trace);
    pthread_cond_destroy(&fs->cv);
    pthread_mutex_destroy(&fs->mu);
    for (int i = 0; i < fs->ncrash; i++)
        ovs_crash_destroy(&fs->crash[i]);
    free(fs->crash);
    free(fs->waiting_step);
    free(fs->reached);
    free(fs->missed);
    free(fs->fired);
    free(fs->over_at);
    free(fs->watched);
    free(fs->step_at);
    free(fs);
}
