/* runner.c - client threads, the start barrier, the schedule and per-request recording.
 *
 * Threads share nothing on the hot path but two atomics: the next crowd index to serve
 * and the stop flag. Everything a thread records goes to its own trace; counters are
 * summed after join. A start gate (a mutex and a condition variable rather than a
 * pthread barrier, so that a thread that failed to start cannot strand the others) opens
 * once every client has connected, so connection set-up is no part of the race; t0 is
 * written under the gate's mutex, so every thread reads the same t0. */
#include "engine/runner.h"

#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/faults.h"
#include "engine/shop.h"
#include "core/answer.h"
#include "core/keys.h"
#include "core/util.h"
#include "engine/writeback.h"
#include "engine/writeback_stream.h"
#include "infra/tmpdir.h"

#define MAX_KEYS OVS_MAX_NIGHTS /* a stay's nights under night granularity */

typedef struct run_shared {
    const ovs_run_spec *spec;
    ovs_writeback *wb;         /* queue = memory: the harness's queue, else NULL */
    ovs_wbstream *ws;          /* queue = stream: its consumer, else NULL */
    pthread_mutex_t gate_mu;   /* the start gate: guards ready, go and t0 */
    pthread_cond_t gate_cv;
    int ready;                 /* clients connected (or failed to) */
    int go;                    /* set with t0 once every started client is ready */
    int64_t t0;
    atomic_int next;           /* next crowd buyer to serve */
    atomic_int open_failed;    /* a client could not connect: the run is an error */
    int64_t *arrival;          /* crowd: offset from t0 of each buyer */
    int64_t *think;            /* crowd: think time of each buyer */
    char open_error[256];      /* first connection failure; guarded by open_failed */
    pthread_mutex_t error_mu;
    ovs_faults *faults;        /* the fault scheduler, or NULL when the scenario has none */
    atomic_int broken;         /* a strategy said the run cannot be judged (env.broken) */
    char broken_error[sizeof(((ovs_run_result *)0)->error)]; /* the first one's text;
                                                                guarded by error_mu */
    char files_dir[512];       /* env.files_dir: made for the run, removed after it */
} run_shared;

typedef struct client {
    run_shared *sh;
    int index;                 /* thread index */
    pthread_t thread;
    ovs_strategy *s;
    ovs_shop *shop;            /* this client's own connection; env.shop is its db */
    ovs_env env;
    int buyer;                 /* the request in progress: what env.event files steps under */
    ovs_trace trace;
    int64_t requests, succeeded, refused, stale, busy, unknown, errors, acquire_fail, retries;
    int64_t crashed;           /* requests cut short by the client's crash */
    int64_t *latency;          /* without events only: one per request served, for the
                                  percentiles; a run that records events has them in its
                                  request events, and keeps them there alone */
    size_t nlat, caplat;
    int pause_process;         /* think stops the whole client, watchdog included */
    int recording;             /* !spec->no_events, kept here next to the trace it gates */
    atomic_int frozen;         /* env.frozen points here: set while paused as a process */
    ovs_crash *crash;          /* env.crash: set by a crash fault (the scheduler's record),
                                  NULL when the run has no fault scheduler */
    int cut;                   /* the request in progress stopped on this client's crash */
    char name[40];             /* env.client_name */
    int closed;                /* xClose done, by the client's own thread */
} client;

int ovs_request_keys(const ovs_scenario *sc, const ovs_request *r, char (*keys)[OVS_KEY_MAX],
                     int max)
{
    char d[16];
    int n = 0;

    if (max < 1)
        return 0;
    if (sc->workload == OVS_INVENTORY) {
        snprintf(keys[0], OVS_KEY_MAX, "sku:%d", r->sku);
        return 1;
    }
    switch (sc->granularity) {
    case OVS_GRAN_HOTEL:
        snprintf(keys[0], OVS_KEY_MAX, "hotel:%d", r->hotel);
        return 1;
    case OVS_GRAN_CHECKIN:
        ovs_format_date(r->check_in, d, sizeof(d));
        snprintf(keys[0], OVS_KEY_MAX, "hotel:%d:%s", r->hotel, d);
        return 1;
    case OVS_GRAN_NIGHT:
        /* ISO dates sort like the days, so ascending days are already sorted keys. */
        for (int day = r->check_in; day < r->check_out && n < max; day++, n++) {
            ovs_format_date(day, d, sizeof(d));
            snprintf(keys[n], OVS_KEY_MAX, "hotel:%d:night:%s", r->hotel, d);
        }
        return n;
    }
    return 0;
}

static void run_broken(void *ctx, const char *why);

static int stopping(const ovs_run_spec *spec)
{
    return spec->stop != NULL && atomic_load(spec->stop) != 0;
}

/* A latency kept for a run that records no events. Out of memory sets c->trace.oom, as a
 * request event that could not be kept would: the run is then an error, not a run with
 * fewer requests in its percentiles. */
static void note_latency(client *c, int64_t ns)
{
    if (c->nlat == c->caplat) {
        size_t ncap = c->caplat ? c->caplat * 2 : 256;
        int64_t *v = realloc(c->latency, ncap * sizeof(*v));
        if (v == NULL) {
            c->trace.oom = 1;
            return;
        }
        c->latency = v;
        c->caplat = ncap;
    }
    c->latency[c->nlat++] = ns;
}

/* Spend the think time. Under `pause = process` the client's whole runtime is stopped for
 * it, so the strategy's own threads (a watchdog renewing the lease) stop too: they read
 * the frozen flag, set (sequentially consistent) before the sleep and cleared after it.
 * A strategy that runs elsewhere (an adapter's process) is stopped for real by its
 * xFreeze. Returns OVS_OK, or the code of a freeze that failed (s->errstr says why): a
 * pause that did not happen must not pass for one. */
static int think_for(client *c, int64_t ns)
{
    int (*freeze)(ovs_strategy *, int) = OVS_STRATEGY_FIELD(c->s->m, xFreeze, NULL);
    int rc = OVS_OK;

    /* A crash ends the think: the client is gone, and nothing it would do after is done
     * (stopped_by_crash, below). */
    if (!c->pause_process) {
        ovs_crash_sleep(c->crash, ns);
        return OVS_OK;
    }
    atomic_store(&c->frozen, 1);
    if (freeze != NULL && (rc = freeze(c->s, 1)) != OVS_OK) {
        atomic_store(&c->frozen, 0);
        return rc;
    }
    ovs_crash_sleep(c->crash, ns);
    if (freeze != NULL)
        rc = freeze(c->s, 0);
    atomic_store(&c->frozen, 0);
    return rc;
}

static enum ovs_outcome outcome_of(int rc)
{
    if (rc == OVS_OK)
        return OVS_OUT_OK;
    if (rc == OVS_ERR_IO)
        return OVS_OUT_UNKNOWN;
    return OVS_OUT_FAIL;
}

/* A step whose answer was an error, not a result: a check or act that ends so passed no
 * point a fault can follow. */
static int answer_failed(int rc)
{
    return rc == OVS_ERR || rc == OVS_ERR_IO || rc == OVS_STALE;
}

/* Append one event to the client's own trace, unless the run records none (bench's
 * measurement of what recording costs): one well-predicted branch per event. A detail
 * that has to be formatted is formatted under the same test (c->recording), so a run
 * without events does not pay for text it throws away. */
static void record(client *c, int buyer, enum ovs_op op, const char *key, int64_t start_ns,
                   int64_t end_ns, enum ovs_outcome outcome, const char *detail)
{
    if (c->recording)
        ovs_trace_add(&c->trace, buyer, op, key, start_ns, end_ns, outcome, detail);
}

/* env.event: a strategy's own step, filed under the request in progress. Its op is fixed
 * here, so a strategy cannot record a lock, a check or a critical section of its own. */
static void strategy_event(void *ctx, const char *key, int64_t start_ns, int64_t end_ns,
                           enum ovs_outcome outcome, const char *detail)
{
    client *c = ctx;
    record(c, c->buyer, OVS_OP_NODE, key, start_ns, end_ns, outcome, detail);
}

/* The fencing tokens of every key held, for a strategy that fences (xFence): the shop
 * then registers them before the check and verifies them in the act. OVS_OK (fence->n is
 * 0 for a strategy that does not fence), or OVS_ERR when a held key has no token. */
static int fence_of(ovs_strategy *s, char (*keys)[OVS_KEY_MAX], int nkeys, ovs_fence *fence)
{
    int64_t (*xfence)(ovs_strategy *, const char *) = OVS_STRATEGY_FIELD(s->m, xFence, NULL);

    fence->n = 0;
    if (xfence == NULL)
        return OVS_OK;
    for (int k = 0; k < nkeys; k++) {
        int64_t t = xfence(s, keys[k]);
        if (t < 0)
            return ovs_strategy_fail(s, OVS_ERR, "%s: no fencing token for %s", s->m->name,
                                     keys[k]);
        fence->key[k] = keys[k];
        fence->token[k] = t;
    }
    fence->n = nkeys;
    return OVS_OK;
}

/* Whether the client crashed (a crash fault, core/crash.h): it then stops where it is, as
 * a dead process would - no further step, no release, no compensation. Looked at between
 * the steps of a request; marks the request as cut short (c->cut), which serve() records
 * as of unknown outcome: what the step in flight did is for the shop's rows to say. */
static int stopped_by_crash(client *c)
{
    if (ovs_crashed(c->crash) == 0)
        return 0;
    c->cut = 1;
    return 1;
}

/* The think, as the request's race window: a freeze that failed is recorded as the act
 * that did not happen (s->errstr says why). Returns think_for's code. */
static int spend_think(client *c, int buyer, int64_t think, const char *key)
{
    int rc = think_for(c, think);

    if (rc != OVS_OK)
        record(c, buyer, OVS_OP_ACT, key, ovs_now_ns(), ovs_now_ns(), OVS_OUT_FAIL,
               c->s->errstr);
    return rc;
}

/* One xLock of key for the request of buyer, counted and recorded as an acquire event:
 * "attempts=N" or the strategy's reason, after "nested" for a re-entry (OVS_NESTED).
 * *at is when the call returned. Returns its code. */
static int take(client *c, int buyer, const char *key, int nested, int64_t *at)
{
    ovs_strategy *s = c->s;
    char detail[sizeof(s->errstr) + 16]; /* the trace keeps what fits */
    const char *pre = nested ? OVS_NESTED : "";
    int64_t a0 = ovs_now_ns();
    int rc = s->m->xLock(s, key);

    *at = ovs_now_ns();
    if (s->attempts > 1)
        c->retries += s->attempts - 1;
    /* Details are formatted only for a run that keeps them; the trace truncates them to
     * fit its fixed-size field. */
    if (c->recording) {
        if (rc == OVS_OK)
            snprintf(detail, sizeof(detail), "%s%sattempts=%u", pre, nested ? " " : "",
                     s->attempts);
        else
            snprintf(detail, sizeof(detail), "%s%s%s", pre, nested ? ": " : "", s->errstr);
        record(c, buyer, OVS_OP_ACQUIRE, key, a0, *at, outcome_of(rc), detail);
    }
    return rc;
}

/* One xUnlock of key for the request of buyer, recorded as a release event: no detail,
 * "not owner" or the strategy's reason, after "nested" for a re-entry's. Returns its
 * code. */
static int give_back(client *c, int buyer, const char *key, int nested)
{
    ovs_strategy *s = c->s;
    char detail[sizeof(s->errstr) + 16] = ""; /* the trace keeps what fits */
    int64_t t = ovs_now_ns();
    int u = s->m->xUnlock(s, key);
    const char *why = u == OVS_OK ? NULL : u == OVS_BUSY ? "not owner" : s->errstr;

    if (c->recording && nested)
        snprintf(detail, sizeof(detail), OVS_NESTED "%s%s", why ? ": " : "", why ? why : "");
    record(c, buyer, OVS_OP_RELEASE, key, t, ovs_now_ns(), outcome_of(u),
           nested ? detail : why);
    return u;
}

/* The think of a request that calls a helper taking its own lock again (`reenter = 1`):
 * the nkeys keys the request holds are taken once more through xLock, in the same order,
 * the rest of the think is spent inside that inner hold, and they are released in
 * reverse order. The events are acquire and release with details that start with
 * OVS_NESTED, and no critical section of their own: the outer one already spans the nest,
 * and a second section of the same client on the same key is no second holder.
 *
 * An inner acquire that fails fails the request with its code and nothing is acted: a
 * lock that is not reentrant finds its own key taken and gives up on itself
 * (self-deadlock, OVS_BUSY, a lock-acquire failure like any other); what was taken inside
 * is still released, and the caller releases the outer hold. An inner release that fails
 * is recorded, as an outer one is, and the request goes on to act: the helper has
 * returned, and its caller does not know what the release said - what the shop's rows
 * and the other holders' sections then show is the finding. The scenario's named points
 * (`after = CLIENT:acquire`) stay those of the outer steps. */
static int nest(client *c, int buyer, int64_t think, char (*keys)[OVS_KEY_MAX], int nkeys)
{
    int64_t until = ovs_now_ns() + think;
    int held, rc = OVS_OK;

    for (held = 0; held < nkeys; held++) {
        int64_t at;
        if ((rc = take(c, buyer, keys[held], 1, &at)) != OVS_OK)
            break;
    }
    if (rc == OVS_BUSY)
        c->acquire_fail++;
    if (rc == OVS_OK) {
        int64_t left = until - ovs_now_ns();
        rc = spend_think(c, buyer, left > 0 ? left : 0, keys[0]);
    }
    for (int k = held - 1; k >= 0; k--)
        give_back(c, buyer, keys[k], 1);
    return rc;
}

/* The harness's own check-think-act inside the strategy's lock on the request's nkeys
 * keys (computed once per request by the caller); with reenter, the think is a nest
 * (above). Returns the request's result code. */
static int locked_request(client *c, const ovs_request *r, int buyer, int64_t think,
                          int reenter, char (*keys)[OVS_KEY_MAX], int nkeys)
{
    const ovs_scenario *sc = c->sh->spec->sc;
    ovs_strategy *s = c->s;
    int64_t held_at[MAX_KEYS];
    ovs_fence fence;
    char detail[64], err[160];
    int held = 0, rc = OVS_OK, acted = 0;

    for (held = 0; held < nkeys; held++)
        if (stopped_by_crash(c) ||
            (rc = take(c, buyer, keys[held], 0, &held_at[held])) != OVS_OK)
            break;
    ovs_faults_point(c->sh->faults, c->index, OVS_OP_ACQUIRE, rc == OVS_OK && held == nkeys);

    if (stopped_by_crash(c)) {
        goto crashed;
    } else if (rc == OVS_OK && (rc = fence_of(s, keys, held, &fence)) != OVS_OK) {
        record(c, buyer, OVS_OP_CHECK, keys[0], ovs_now_ns(), ovs_now_ns(), OVS_OUT_FAIL,
               s->errstr);
    } else if (rc == OVS_OK) {
        int64_t seen = 0, t = ovs_now_ns();
        rc = ovs_shop_check(c->shop, sc->workload, r, &fence, &seen, err, sizeof(err));
        if (c->recording) {
            const char *what = sc->workload == OVS_INVENTORY ? "stock" : "overlapping";
            if (fence.n > 0)
                snprintf(detail, sizeof(detail), "%s=%lld token %lld", what, (long long)seen,
                         (long long)fence.token[0]);
            else
                snprintf(detail, sizeof(detail), "%s=%lld", what, (long long)seen);
            record(c, buyer, OVS_OP_CHECK, keys[0], t, ovs_now_ns(), outcome_of(rc),
                   rc == OVS_ERR || rc == OVS_STALE ? err : detail);
        }
        ovs_faults_point(c->sh->faults, c->index, OVS_OP_CHECK, !answer_failed(rc));
        if (!stopped_by_crash(c) && rc == OVS_OK)
            rc = reenter ? nest(c, buyer, think, keys, held)
                         : spend_think(c, buyer, think, keys[0]);
        if (stopped_by_crash(c))
            goto crashed;
        if (rc == OVS_OK) {
            t = ovs_now_ns();
            rc = ovs_shop_act(c->shop, sc->workload, r, buyer, &fence, err, sizeof(err));
            if (c->recording) {
                if (fence.n > 0 && rc == OVS_OK)
                    snprintf(err, sizeof(err), "token %lld", (long long)fence.token[0]);
                record(c, buyer, OVS_OP_ACT, keys[0], t, ovs_now_ns(), outcome_of(rc),
                       rc == OVS_OK && fence.n == 0 ? NULL : err);
            }
            acted = rc == OVS_OK;
            ovs_faults_point(c->sh->faults, c->index, OVS_OP_ACT, !answer_failed(rc));
            if (stopped_by_crash(c))
                goto crashed;
        }
        /* The section ends when the harness is about to release: under a sound lock the
         * next holder's section cannot begin before this instant. */
        int64_t end = ovs_now_ns();
        for (int k = 0; k < held; k++)
            record(c, buyer, OVS_OP_CRITICAL, keys[k], held_at[k], end, OVS_OUT_OK, NULL);
    } else if (rc == OVS_BUSY) {
        c->acquire_fail++;
    }

    /* Release in reverse order of taking. A failed release is recorded, not fatal: "it
     * was no longer ours" is exactly what the TTL scenarios look for. A release that
     * undid the section's writes (a lock that was a transaction and did not commit) makes
     * the request fail however the act went: its sale never happened. */
    for (int k = held - 1; k >= 0; k--) {
        int u = give_back(c, buyer, keys[k], 0);
        if (acted && u == OVS_UNDONE) {
            snprintf(err, sizeof(err), "%s", s->errstr);
            rc = ovs_strategy_fail(s, OVS_ERR, "rolled back after the act: %.100s", err);
        } else if (acted && u == OVS_ERR_IO && OVS_STRATEGY_FIELD(s->m, unlock_commits, 0)) {
            snprintf(err, sizeof(err), "%s", s->errstr);
            rc = ovs_strategy_fail(s, OVS_ERR_IO, "commit unknown after the act: %.100s", err);
        }
    }
    if (held > 0)
        ovs_faults_point(c->sh->faults, c->index, OVS_OP_RELEASE, 1);
    return rc;

crashed:
    /* The section ends at the crash: the client's code ran no further. Its locks are not
     * released; what frees them now is theirs to say (a TTL, a session that died). */
    for (int k = 0; k < held; k++) {
        /* An acquire still in flight at the crash held from its answer on: no section. */
        int64_t end = ovs_crashed(c->crash);
        record(c, buyer, OVS_OP_CRITICAL, keys[k], held_at[k],
               end > held_at[k] ? end : held_at[k], OVS_OUT_OK, "client crashed");
    }
    return OVS_ERR_IO;
}

/* The truth in SQL that an answer is judged by, on the client's own shop connection (no
 * transaction is open on it between requests, so it reads what is committed): the stock of
 * the request's SKU, or 1 when no confirmed booking overlaps the stay and 0 when one does.
 * 0, or -1 with err. */
static int truth_of(client *c, const ovs_request *r, int64_t *truth, char *err, size_t errlen)
{
    enum ovs_workload w = c->sh->spec->sc->workload;
    int64_t seen = 0;
    int rc = ovs_shop_check(c->shop, w, r, NULL, &seen, err, errlen);

    if (rc != OVS_OK && rc != OVS_REFUSED)
        return -1;
    *truth = w == OVS_INVENTORY ? seen : seen == 0;
    return 0;
}

/* Ask the strategy what the screen shows before the request (xAvailable), between two
 * reads of the truth, and record the three as one answer event for the checker. Returns
 * the call's code with *shown; a truth that could not be read leaves the answer unjudged,
 * which says the run cannot be judged (env.broken) rather than passing for a fresh one. */
static int ask(client *c, const ovs_request *r, int buyer, const char *key, int64_t *shown)
{
    int (*avail)(ovs_strategy *, const ovs_request *, int64_t *) =
        OVS_STRATEGY_FIELD(c->s->m, xAvailable, NULL);
    ovs_answer a = { 0, 0, 0 };
    char err[160], detail[64];
    int rc;

    if (truth_of(c, r, &a.before, err, sizeof(err)) != 0)
        goto unjudged;
    int64_t t = ovs_now_ns();
    rc = avail(c->s, r, &a.answer);
    int64_t end = ovs_now_ns();
    if (rc == OVS_OK && truth_of(c, r, &a.after, err, sizeof(err)) != 0)
        goto unjudged;
    if (c->recording) {
        if (rc == OVS_OK)
            ovs_answer_format(&a, detail, sizeof(detail));
        record(c, buyer, OVS_OP_ANSWER, key, t, end, outcome_of(rc),
               rc == OVS_OK ? detail : c->s->errstr);
    }
    *shown = a.answer;
    return rc;
unjudged:
    run_broken(c->sh, err);
    return ovs_strategy_fail(c->s, OVS_ERR, "the truth of an answer could not be read: %.100s",
                             err);
}

static void serve(client *c, const ovs_request *r, int buyer, int64_t think, int reenter)
{
    const ovs_scenario *sc = c->sh->spec->sc;
    int rc;
    const char *what;
    char keys[MAX_KEYS][OVS_KEY_MAX];
    /* Keys once per request: the locks take them all, the request event names the first. */
    int nkeys = ovs_request_keys(sc, r, keys, c->s->m->xExecute ? 1 : MAX_KEYS);
    int64_t t = ovs_now_ns();

    c->buyer = buyer;
    c->cut = 0;
    int64_t shown = 1;
    int left = 0;
    /* A refusal's reason is read from errstr below: none left over from the last call. */
    c->s->errstr[0] = '\0';
    if (OVS_STRATEGY_FIELD(c->s->m, xAvailable, NULL) != NULL &&
        ((rc = ask(c, r, buyer, keys[0], &shown)) != OVS_OK || shown <= 0)) {
        /* A screen that said none sends the buyer away without trying; a screen that
         * failed ends the request with its error. */
        left = rc == OVS_OK;
        if (left)
            rc = OVS_REFUSED;
    } else if (c->s->m->xExecute != NULL) {
        /* A whole operation has the lock path's named points too, so a scenario's faults
         * fire whatever the strategy: `acquire` is the instant the request goes out (the
         * fault lands first), and `check`, `act` and `release` the instant its answer came
         * back - a script that checks and acts at once has no instant between them. As on
         * the lock path, `check` and `act` are passed only when they answered: a fault
         * after an act that failed or was lost would be done on a timeline without it. */
        ovs_faults_point(c->sh->faults, c->index, OVS_OP_ACQUIRE, 1);
        /* A crash before the request went out stops it there; one while it ran leaves
         * it to the strategy, which stops as the client would (env.crash), and the
         * request's outcome unknown. */
        rc = stopped_by_crash(c) ? OVS_ERR_IO : c->s->m->xExecute(c->s, r, buyer, think);
        if (c->s->attempts > 1)
            c->retries += c->s->attempts - 1;
        /* A client crashed (during the call, or by a fault at one of these points) runs
         * no further, as on the lock path: the points after the crash never come. */
        static const enum ovs_op answer_points[] = { OVS_OP_CHECK, OVS_OP_ACT,
                                                     OVS_OP_RELEASE };
        for (size_t k = 0; k < sizeof(answer_points) / sizeof(answer_points[0]) &&
                           !stopped_by_crash(c); k++)
            ovs_faults_point(c->sh->faults, c->index, answer_points[k],
                             answer_points[k] == OVS_OP_RELEASE || !answer_failed(rc));
    } else {
        rc = locked_request(c, r, buyer, think, reenter, keys, nkeys);
    }
    int64_t end = ovs_now_ns();

    if (c->cut) {
        /* Nobody was told anything: neither a sale nor a no, and no lost order of the
         * harness's making either. Not among the unknown outcomes that the stock checks
         * forgive either: what the crashed client left behind (a hold, a lock) is the
         * shop's to give back, and a unit it never gets back is a leak. */
        c->crashed++;
        c->requests++;
        if (c->recording)
            record(c, buyer, OVS_OP_REQUEST, keys[0], t, end, OVS_OUT_UNKNOWN,
                   "client crashed");
        else
            note_latency(c, end - t);
        return;
    }
    switch (rc) {
    case OVS_OK:
        c->succeeded++;
        what = sc->workload == OVS_INVENTORY ? "sold" : "booked";
        ovs_faults_crowd_ok(c->sh->faults); /* returns at once unless a fault counts */
        break;
    case OVS_REFUSED:
        c->refused++;
        what = sc->workload == OVS_INVENTORY ? OVS_SAID_SOLD_OUT : OVS_SAID_TAKEN;
        if (strcmp(c->s->errstr, OVS_SAID_DECLINED) == 0)
            what = OVS_SAID_DECLINED;
        if (left)
            what = sc->workload == OVS_INVENTORY ? OVS_SAID_LEFT_SOLD_OUT : OVS_SAID_LEFT_TAKEN;
        break;
    case OVS_STALE:
        /* The shop refused the holder's token: its lock had moved on. Not "sold out":
         * there may be stock, and the next holder may sell it. */
        c->stale++;
        what = OVS_SAID_STALE;
        break;
    case OVS_BUSY: c->busy++; what = OVS_SAID_BUSY; break;
    default:
        /* OVS_ERR_IO may have happened; any other error certainly did not. */
        c->unknown += rc == OVS_ERR_IO;
        c->errors += rc != OVS_ERR_IO;
        what = c->s->errstr[0] ? c->s->errstr : "error";
        break;
    }
    c->requests++;
    if (c->recording)
        record(c, buyer, OVS_OP_REQUEST, keys[0], t, end, outcome_of(rc), what);
    else
        note_latency(c, end - t);
}

/* The latencies of a trace's request events, written to lat from index n unless lat is
 * NULL (then only counted): n plus their number. */
static size_t request_latencies(const ovs_trace *t, int64_t *lat, size_t n)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->ev[k].op == OVS_OP_REQUEST) {
            if (lat != NULL)
                lat[n] = t->ev[k].end_ns - t->ev[k].start_ns;
            n++;
        }
    return n;
}

/* Move the trace of one thread (a client, the fault scheduler, the write-back worker)
 * into the result's next slot, which ovs_run sized for all of them, leaving t empty.
 * Returns NULL, or why the history is not whole: the thread dropped an event for want of
 * memory (t->oom; what it kept is still handed over), or there was no memory to take the
 * trace over (t then stays with its owner, who frees it). Either makes the run an error:
 * a history missing events would be checked as if it were complete. */
static const char *hand_over(ovs_run_result *res, ovs_trace *t)
{
    ovs_trace *kept = malloc(sizeof(*kept));

    if (kept == NULL)
        return "out of memory handing over the events";
    *kept = *t;
    memset(t, 0, sizeof(*t));
    res->traces[res->ntraces++] = kept;
    return kept->oom ? "out of memory recording events" : NULL;
}

/* env.broken: the first strategy to say the run cannot be judged names the error; the
 * run goes on to its end, so that every event up to and after it is kept. */
static void run_broken(void *ctx, const char *why)
{
    run_shared *sh = ctx;

    pthread_mutex_lock(&sh->error_mu);
    if (atomic_fetch_add(&sh->broken, 1) == 0)
        snprintf(sh->broken_error, sizeof(sh->broken_error), "%s", why);
    pthread_mutex_unlock(&sh->error_mu);
}

static void client_work(client *c);

static void *client_main(void *arg)
{
    client *c = arg;
    run_shared *sh = c->sh;
    const ovs_run_spec *spec = sh->spec;
    char err[200];
    int ok = 1;

    if (ovs_shop_open(spec->shop, &c->shop, err, sizeof(err)) != 0) {
        ok = 0;
    } else {
        c->env.shop = ovs_shop_db(c->shop);
        c->env.shop_path = spec->shop->target;
        c->env.shop_backend = spec->shop->m->name;
        c->env.shop_ns = spec->shop->ns;
        c->s->env = &c->env;
        if (c->s->m->xOpen(c->s, &c->env) != OVS_OK) {
            ok = 0;
            snprintf(err, sizeof(err), "%s: %s", c->s->m->name, c->s->errstr);
        }
    }
    if (!ok) {
        pthread_mutex_lock(&sh->error_mu);
        if (atomic_fetch_add(&sh->open_failed, 1) == 0)
            snprintf(sh->open_error, sizeof(sh->open_error), "client %d: %s", c->index, err);
        pthread_mutex_unlock(&sh->error_mu);
    }
    pthread_mutex_lock(&sh->gate_mu);
    sh->ready++;
    pthread_cond_broadcast(&sh->gate_cv);
    while (!sh->go)
        pthread_cond_wait(&sh->gate_cv, &sh->gate_mu);
    pthread_mutex_unlock(&sh->gate_mu);
    if (atomic_load(&sh->open_failed) == 0)
        client_work(c);
    ovs_faults_client_done(sh->faults, c->index);
    /* Closed here, not after the join: a process the strategy started in xOpen dies with
     * the thread that forked it (PR_SET_PDEATHSIG, core/child.h), so this thread must
     * outlive its orderly end - an adapter told to release what it holds and exit. */
    c->s->m->xClose(c->s);
    c->closed = 1;
    return NULL;
}

static void client_work(client *c)
{
    run_shared *sh = c->sh;
    const ovs_run_spec *spec = sh->spec;
    const ovs_scenario *sc = spec->sc;

    if (sc->has_crowd) {
        for (;;) {
            if (stopping(spec))
                break;
            if (spec->serve_ns > 0 && ovs_now_ns() - sh->t0 >= spec->serve_ns)
                break;
            int i = atomic_fetch_add(&sh->next, 1);
            if (i >= sc->crowd.buyers)
                break;
            ovs_sleep_until(sh->t0 + sh->arrival[i]);
            if (stopping(spec))
                break;
            ovs_request r = ovs_scenario_request_of(sc, i);
            serve(c, &r, i, sh->think[i], sc->crowd.reenter);
        }
    } else {
        const ovs_client_spec *cs = &sc->clients[c->index];
        int64_t from = sh->t0;
        /* `after = FAULT`: the start counts from the fault's end. A fault that never
         * ends makes the run an error; this client then asks nothing. `after =
         * CLIENT:STEP`: from when that step passed; one that never passed leaves this
         * client asking nothing, and the run is told so (played_in_order). */
        if (cs->after_fault >= 0 &&
            (from = ovs_faults_wait_over(sh->faults, cs->after_fault, spec->stop)) < 0)
            return;
        if (cs->after_client >= 0 &&
            (from = ovs_faults_wait_step(sh->faults, cs->after_client,
                                         (enum ovs_op)cs->after_step, spec->stop)) < 0)
            return;
        ovs_sleep_until(from + cs->start_ns);
        /* A client that crashed before its start never asks. */
        if (!stopping(spec) && ovs_crashed(c->crash) == 0)
            serve(c, &cs->req, c->index, cs->think_ns, cs->reenter);
    }
}

/* A client's `before = CLIENT:STEP`, read from the two clients' events: its request
 * started before that step began. The race a scenario is about can need that order, and a
 * loaded machine can undo it (a restart that outlasted the holder's think put the second
 * buyer after the first one's sale): such a run gets no verdict, rather than a "safe" for
 * an interleaving nobody played. A client that never asked, or a step never begun,
 * leaves nothing to be late for: a refused check has no act, and a whole operation
 * records no steps (its race is inside one call, where a scenario cannot place another
 * client, and the scripts that ignore the think answer within a millisecond - every run
 * of theirs would be "too late"). 0, or -1 with the reason in err. */
static int played_in_order(const run_shared *sh, const client *cl, char *err, size_t errlen)
{
    const ovs_scenario *sc = sh->spec->sc;

    for (int i = 0; i < sc->n_clients && !sc->has_crowd; i++) {
        const ovs_client_spec *cs = &sc->clients[i];
        /* A client that starts after a step that never passed asked nothing: the
         * scenario was not played (a crash before its start is another matter). Counted,
         * not read from the events, which a run may not record. */
        if (cs->after_client >= 0 && cl[i].requests == 0 && ovs_crashed(cl[i].crash) == 0) {
            const char *other = sc->clients[cs->after_client].name;
            const char *step = ovs_op_name((enum ovs_op)cs->after_step);
            ovs_seterr(err, errlen,
                       "%s starts after %s:%s, and %s's %s never passed: %s asked nothing, "
                       "so the run has no verdict", cs->name, other, step, other, step,
                       cs->name);
            return -1;
        }
        if (cs->before_client < 0 || sh->spec->no_events)
            continue;
        const ovs_event *req = ovs_trace_next(&cl[i].trace, 0, OVS_OP_REQUEST, i);
        enum ovs_op op = (enum ovs_op)cs->before_step;
        const ovs_event *e = ovs_trace_next(&cl[cs->before_client].trace, 0, op,
                                            cs->before_client);
        if (req == NULL || e == NULL || req->start_ns < e->start_ns)
            continue;
        int64_t asked = req->start_ns, step = e->start_ns;
        const char *other = sc->clients[cs->before_client].name;
        ovs_seterr(err, errlen,
                   "%s asked at t=%.1f ms, after %s's %s at t=%.1f ms (before = %s:%s, line "
                   "%d): the interleaving the scenario is about did not happen, so the run "
                   "has no verdict", cs->name, (double)(asked - sh->t0) / 1e6, other,
                   ovs_op_name(op), (double)(step - sh->t0) / 1e6, other, ovs_op_name(op),
                   cs->before_line);
        return -1;
    }
    return 0;
}

/* The crowd's schedule, drawn from the seed before any thread starts. */
static int make_schedule(run_shared *sh, const ovs_scenario *sc)
{
    ovs_rng rng;
    int n = sc->crowd.buyers;
    double t = 0;

    sh->arrival = calloc((size_t)n, sizeof(int64_t));
    sh->think = calloc((size_t)n, sizeof(int64_t));
    if (sh->arrival == NULL || sh->think == NULL)
        return -1;
    ovs_rng_seed(&rng, sc->seed);
    for (int i = 0; i < n; i++) {
        if (sc->crowd.arrival == OVS_ARRIVE_RATE) {
            /* Poisson arrivals: exponential gaps with mean 1/rate. */
            double u = ovs_rng_unit(&rng);
            t += -log(1.0 - u) / sc->crowd.rate;
            sh->arrival[i] = (int64_t)(t * 1e9);
        }
        int64_t span = sc->crowd.think_max_ns - sc->crowd.think_ns;
        sh->think[i] = sc->crowd.think_ns +
                       (span > 0 ? (int64_t)ovs_rng_below(&rng, (uint64_t)span + 1) : 0);
    }
    return 0;
}

int ovs_run(const ovs_run_spec *spec, ovs_run_result *res)
{
    const ovs_scenario *sc = spec->sc;
    const ovs_strategy_methods *m = spec->m;
    run_shared sh;
    client *cl = NULL;
    int nthreads = sc->has_crowd ? sc->crowd.workers : sc->n_clients;
    int started = 0, rc = -1;
    char err[200];
    ovs_env prep;

    memset(res, 0, sizeof(*res));
    memset(&sh, 0, sizeof(sh));
    sh.spec = spec;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.open_failed, 0);
    atomic_init(&sh.broken, 0);
    pthread_mutex_init(&sh.error_mu, NULL);
    pthread_mutex_init(&sh.gate_mu, NULL);
    pthread_cond_init(&sh.gate_cv, NULL);
    res->status = OVS_RUN_ERROR;

    if (sc->has_crowd && nthreads > sc->crowd.buyers)
        nthreads = sc->crowd.buyers;
    if (nthreads < 1) {
        snprintf(res->error, sizeof(res->error), "scenario has no clients");
        goto out;
    }
    if (sc->has_crowd && make_schedule(&sh, sc) != 0) {
        snprintf(res->error, sizeof(res->error), "out of memory for the schedule");
        goto out;
    }

    /* Inside the run's private directory when there is one, so that a harness killed
     * with SIGKILL leaves one directory for the next start to sweep, not two. */
    if (spec->work_dir != NULL) {
        int n = snprintf(sh.files_dir, sizeof(sh.files_dir), "%s/strategy.XXXXXX",
                         spec->work_dir);
        if (n < 0 || (size_t)n >= sizeof(sh.files_dir) || mkdtemp(sh.files_dir) == NULL) {
            ovs_seterr(err, sizeof(err), "%s: %s", spec->work_dir,
                       n < 0 || (size_t)n >= sizeof(sh.files_dir) ? "path too long"
                                                                   : strerror(errno));
            sh.files_dir[0] = '\0';
            snprintf(res->error, sizeof(res->error),
                     "a directory for the strategy's files: %s", err);
            goto out;
        }
    } else if (ovs_tmpdir_make(sh.files_dir, sizeof(sh.files_dir), err, sizeof(err)) != 0) {
        sh.files_dir[0] = '\0';
        snprintf(res->error, sizeof(res->error), "a directory for the strategy's files: %s",
                 err);
        goto out;
    }

    /* The stream is the queue of a strategy that writes it in its sale; any other sells
     * in SQL, or is n/a here (ovs_cell_na), and is given the memory queue as ever. */
    if (sc->queue.kind == OVS_QUEUE_STREAM && OVS_STRATEGY_FIELD(m, writes_stream, 0)) {
        if (spec->n_redis <= sc->queue.node) {
            snprintf(res->error, sizeof(res->error), "write-back: queue = stream needs Redis "
                     "node %d, and the run has %d node(s)", sc->queue.node, spec->n_redis);
            goto out;
        }
        if (ovs_wbstream_start(&sh.ws, spec->shop, &spec->redis[sc->queue.node],
                               spec->key_prefix, sc,
                               err, sizeof(err)) != 0) {
            snprintf(res->error, sizeof(res->error), "write-back: %s", err);
            goto out;
        }
    } else if (ovs_writeback_start(&sh.wb, spec->shop, sc->workload, sc->writeback_delay_ns,
                                   err, sizeof(err)) != 0) {
        snprintf(res->error, sizeof(res->error), "write-back: %s", err);
        goto out;
    }

    /* The scheduler also tells a client when the step it starts after has passed. */
    int follows_step = 0;
    for (int i = 0; i < sc->n_clients; i++)
        follows_step |= sc->clients[i].after_client >= 0;
    /* Faults nobody can carry out would be a run judged without them. */
    if (sc->n_faults > 0 && spec->fault == NULL) {
        snprintf(res->error, sizeof(res->error), "the scenario has faults and this run has "
                 "no way to carry them out");
        goto out;
    }
    if (sc->n_faults > 0 || follows_step) {
        sh.faults = ovs_faults_new(sc, spec->fault, spec->fault_node, spec->fault_ctx, sh.wb,
                                   spec->shop, nthreads);
        if (sh.faults == NULL) {
            snprintf(res->error, sizeof(res->error), "out of memory for the faults");
            goto out;
        }
    }

    memset(&prep, 0, sizeof(prep));
    prep.workload = sc->workload;
    prep.skus = sc->skus;
    prep.stock = sc->stock;
    prep.param = spec->params;
    prep.redis = spec->redis;
    prep.n_redis = spec->n_redis;
    prep.client = -1;
    prep.seed = sc->seed;
    prep.shop_backend = spec->shop->m->name;
    prep.shop_path = spec->shop->target;
    prep.shop_ns = spec->shop->ns;
    prep.queue_stream = sh.ws ? ovs_wbstream_key(sh.ws) : NULL;
    prep.queue_redis = sh.ws && sc->queue.node > 0 ? &spec->redis[sc->queue.node] : NULL;
    prep.key_prefix = spec->key_prefix ? spec->key_prefix : "";
    ovs_shop *prep_shop = NULL;
    if (m->xPrepare != NULL) {
        if (ovs_shop_open(spec->shop, &prep_shop, err, sizeof(err)) != 0) {
            snprintf(res->error, sizeof(res->error), "%s: prepare: shop: %s", m->name, err);
            goto out;
        }
        prep.shop = ovs_shop_db(prep_shop);
    }
    int prc = ovs_strategy_prepare(m, &prep, err, sizeof(err));
    ovs_shop_close(prep_shop);
    if (prc != OVS_OK) {
        snprintf(res->error, sizeof(res->error), "%s: prepare: %s", m->name, err);
        goto out;
    }
    if (spec->settle && spec->settle(spec->fault_ctx, err, sizeof(err)) != 0) {
        snprintf(res->error, sizeof(res->error), "replicas: %s", err);
        goto out;
    }

    cl = calloc((size_t)nthreads, sizeof(*cl));
    res->traces = calloc((size_t)nthreads + 2, sizeof(*res->traces));
    if (cl == NULL || res->traces == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        goto out;
    }
    for (int i = 0; i < nthreads; i++) {
        client *c = &cl[i];
        c->sh = &sh;
        c->index = i;
        c->env = prep;
        c->env.client = i;
        if (sc->has_crowd)
            snprintf(c->name, sizeof(c->name), "worker-%d", i);
        else
            snprintf(c->name, sizeof(c->name), "%s", sc->clients[i].name);
        c->env.client_name = c->name;
        c->env.files_dir = sh.files_dir;
        c->env.broken = run_broken;
        c->env.broken_ctx = &sh;
        /* Under queue = stream the sale's script writes the order (env.queue_stream). */
        c->env.sold = sh.wb ? ovs_writeback_sold : NULL;
        c->env.sold_ctx = sh.wb;
        if (!sc->has_crowd && !spec->no_events) {
            c->env.event = strategy_event;
            c->env.event_ctx = c;
        }
        c->recording = !spec->no_events;
        if (spec->client_redis)
            c->env.redis = spec->client_redis[sc->has_crowd ? 0 : i];
        /* The client's own way to the stream's node: a link fault there reaches its XADD. */
        if (prep.queue_redis != NULL)
            c->env.queue_redis = &c->env.redis[sc->queue.node];
        c->env.read_from = spec->read_from;
        c->env.key_prefix = prep.key_prefix;
        atomic_init(&c->frozen, 0);
        c->env.frozen = &c->frozen;
        c->crash = ovs_faults_crash(sh.faults, i);
        c->env.crash = c->crash;
        c->pause_process = !sc->has_crowd && sc->clients[i].pause_process;
        /* Distinct, reproducible streams per client. */
        c->env.seed = sc->seed * UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)i + 1;
        c->s = calloc(1, m->size);
        if (c->s == NULL) {
            snprintf(res->error, sizeof(res->error), "out of memory");
            break;
        }
        c->s->m = m;
        if (sc->has_crowd && !spec->no_events)
            ovs_trace_reserve(&c->trace, (size_t)(6 * sc->crowd.buyers / nthreads + 16));
        if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
            snprintf(res->error, sizeof(res->error), "cannot start client thread %d", i);
            break;
        }
        started++;
    }
    /* Open the gate once every started client is ready. A client that could not start
     * fails the run, but the ones that did are still released (to find open_failed set). */
    if (started < nthreads)
        atomic_fetch_add(&sh.open_failed, 1);
    pthread_mutex_lock(&sh.gate_mu);
    while (sh.ready < started)
        pthread_cond_wait(&sh.gate_cv, &sh.gate_mu);
    sh.t0 = ovs_now_ns() + 5 * OVS_NS_PER_MS;
    res->t0 = sh.t0;
    /* The faults due at 0 ms are the state the clients start in: done before they go. */
    if (sh.faults)
        ovs_faults_at_start(sh.faults, sh.t0);
    sh.go = 1;
    pthread_cond_broadcast(&sh.gate_cv);
    pthread_mutex_unlock(&sh.gate_mu);
    if (sh.faults) {
        /* Threads that never started will never say they are done. */
        for (int k = started; k < nthreads; k++)
            ovs_faults_client_done(sh.faults, k);
        ovs_faults_run(sh.faults, sh.t0);
    }
    for (int i = 0; i < started; i++)
        pthread_join(cl[i].thread, NULL);
    int64_t finished = ovs_now_ns();
    res->writeback_failed = sh.wb ? ovs_writeback_drain(sh.wb) : ovs_wbstream_drain(sh.ws);

    if (started < nthreads)
        goto collect;
    /* Before open_failed: an adapter that could not start says why here at more length. */
    if (atomic_load(&sh.broken) != 0) {
        snprintf(res->error, sizeof(res->error), "%s", sh.broken_error);
        goto collect;
    }
    if (atomic_load(&sh.open_failed) != 0) {
        snprintf(res->error, sizeof(res->error), "%s", sh.open_error);
        goto collect;
    }
    /* An interrupted run is aborted, whatever did not happen after the stop: a fault
     * whose client took no new request, a consumer crash not reached, was the stop's
     * doing (seen: gate --repeat stopped by SIGINT recorded such runs as errors). */
    if (!stopping(spec) && (ovs_faults_error(sh.faults, err, sizeof(err)) != 0 ||
                            (sh.ws && ovs_wbstream_error(sh.ws, err, sizeof(err)) != 0))) {
        snprintf(res->error, sizeof(res->error), "%s", err);
        goto collect;
    }
    if (!stopping(spec) && played_in_order(&sh, cl, err, sizeof(err)) != 0) {
        snprintf(res->error, sizeof(res->error), "%s", err);
        goto collect;
    }
    res->status = stopping(spec) ? OVS_RUN_ABORTED : OVS_RUN_OK;
    res->duration_ns = finished - sh.t0;
    rc = 0;

collect:;
    /* Counters, latencies and traces, whatever the run's status: a run that broke still
     * shows what it did. The first failure to keep any of it makes the run an error. */
    const char *lost = NULL;
    size_t nlat = 0;
    for (int i = 0; i < nthreads; i++)
        nlat = cl[i].recording ? request_latencies(&cl[i].trace, NULL, nlat) : nlat + cl[i].nlat;
    int64_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
    if (lat == NULL)
        lost = "out of memory for the latencies";
    nlat = 0;
    for (int i = 0; i < nthreads; i++) {
        client *c = &cl[i];
        res->requests += c->requests;
        res->succeeded += c->succeeded;
        res->refused += c->refused;
        res->stale += c->stale;
        res->busy += c->busy;
        res->unknown += c->unknown;
        res->errors += c->errors;
        res->acquire_fail += c->acquire_fail;
        res->retries += c->retries;
        res->crashed += c->crashed;
        if (lat != NULL && c->recording)
            nlat = request_latencies(&c->trace, lat, nlat);
        else if (lat != NULL)
            for (size_t k = 0; k < c->nlat; k++)
                lat[nlat++] = c->latency[k];
        const char *why = hand_over(res, &c->trace);
        lost = lost ? lost : why;
    }
    if (lat)
        ovs_latency_of(lat, nlat, &res->latency);
    free(lat);
    if (res->duration_ns > 0)
        res->throughput = (double)res->requests / ((double)res->duration_ns / 1e9);
    if (sh.faults) {
        const char *why = hand_over(res, ovs_faults_trace(sh.faults));
        lost = lost ? lost : why;
    }
    if (sh.wb || sh.ws) {
        const char *why = hand_over(res, sh.wb ? ovs_writeback_trace(sh.wb)
                                               : ovs_wbstream_trace(sh.ws));
        lost = lost ? lost : why;
    }
    if (lost != NULL && rc == 0) {
        res->status = OVS_RUN_ERROR;
        snprintf(res->error, sizeof(res->error), "%s", lost);
        rc = -1;
    }

out:
    for (int i = 0; cl && i < nthreads; i++) {
        if (cl[i].s) {
            if (!cl[i].closed)
                m->xClose(cl[i].s);
            free(cl[i].s);
        }
        ovs_shop_close(cl[i].shop);
        ovs_trace_free(&cl[i].trace);
        free(cl[i].latency);
    }
    free(cl);
    ovs_faults_free(sh.faults);
    ovs_writeback_free(sh.wb);
    ovs_wbstream_free(sh.ws);
    if (sh.files_dir[0] != '\0')
        ovs_tmpdir_remove(sh.files_dir);
    free(sh.arrival);
    free(sh.think);
    pthread_mutex_destroy(&sh.error_mu);
    pthread_mutex_destroy(&sh.gate_mu);
    pthread_cond_destroy(&sh.gate_cv);
    return rc;
}

const char *ovs_run_status_name(enum ovs_run_status s)
{
    static const char *const names[] = {
        [OVS_RUN_OK] = "ok", [OVS_RUN_ABORTED] = "aborted", [OVS_RUN_ERROR] = "error",
        [OVS_RUN_NA] = "n/a",
    };
    return (unsigned)s <= OVS_RUN_NA ? names[s] : "error";
}

void ovs_run_result_free(ovs_run_result *res)
{
    for (int i = 0; i < res->ntraces; i++) {
        ovs_trace_free(res->traces[i]);
        free(res->traces[i]);
    }
    free(res->traces);
    res->traces = NULL;
    res->ntraces = 0;
}
