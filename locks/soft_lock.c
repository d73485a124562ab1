/* soft_lock.c - soft-locked availability: a best-effort lock around the page's read, the
 * hard lock around the booking.
 *
 * A pattern booking sites use to keep a burst of availability checks from piling onto the
 * database: the check takes a short SET NX PX on the room (lock:avail:hotel:<h>:room:<r>,
 * or lock:avail:sku:<sku>), one try and no wait, reads SQL, and releases; when the lock
 * is busy it reads SQL anyway, since a page that waits is worse than one more read. The
 * booking itself takes setnx's lease around the harness's check-think-act (lease.c, the
 * same code as setnx), and that alone is what keeps a room from being booked twice.
 *
 * So the soft lock decides nothing: every answer is a read of SQL made during the call,
 * which the runner's rule (core/answer.h) can never count as stale - the truth before the
 * call is at least what was read, the truth after at most. What a burst does show is how
 * often the check found the soft lock busy (the node steps of a timeline say which), and
 * answers that were right when given and outdated by the time the guest booked: the
 * stale answers figure's detail counts those apart. It claims safety as setnx does. */
#include <stdio.h>

#include "locks/lease.h"
#include "locks/sql_request.h"
#include "locks/strategy.h"

enum { P_SOFT_TTL = OVS_LEASE_N_PARAMS, P_N };

static const ovs_param_spec soft_params[P_N] = {
    OVS_LEASE_PARAM_SPECS(5000, "lease of the booking's hard lock (PX of the SET)"),
    [P_SOFT_TTL] = { "soft_ttl", 100, "ms", NULL, 1, 60000,
                     "lease of the availability check's best-effort lock, taken once, never"
                     " waited for" },
};

typedef struct soft_lock {
    ovs_strategy base;
    ovs_lease hard; /* the booking's lock, setnx's */
    ovs_lease soft; /* the availability check's: one try, soft_ttl */
    ovs_sqlreq q;   /* the availability read, on env->shop */
} soft_lock;

static int soft_open(ovs_strategy *s, const ovs_env *env)
{
    soft_lock *x = (soft_lock *)s;
    ovs_lease_conf soft = {
        .ttl_ms = env->param->v[P_SOFT_TTL],
        .retry_count = 0,
        .command_timeout_ms = env->param->v[OVS_LEASE_COMMAND_TIMEOUT],
    };

    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "soft-lock needs a shop connection");
    if (ovs_sqlreq_open(&x->q, env->shop) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", env->shop->errstr);
    if (ovs_lease_open(&x->hard, s, env, 0) != OVS_OK)
        return OVS_ERR;
    return ovs_lease_open_conf(&x->soft, s, env, &soft);
}

static int soft_lock_key(ovs_strategy *s, const char *key)
{
    return ovs_lease_lock(&((soft_lock *)s)->hard, s, key);
}

static int soft_unlock_key(ovs_strategy *s, const char *key)
{
    return ovs_lease_unlock(&((soft_lock *)s)->hard, s, key);
}

/* A step of the check for the teaching timeline, when the run records them. */
static void step(ovs_strategy *s, const char *key, int64_t t, int rc, const char *what)
{
    const ovs_env *env = s->env;
    if (env->event != NULL)
        env->event(env->event_ctx, key, t, ovs_now_ns(),
                   rc == OVS_OK ? OVS_OUT_OK : rc == OVS_ERR_IO ? OVS_OUT_UNKNOWN : OVS_OUT_FAIL,
                   what);
}

/* Take the soft lock once, read SQL whatever came of it, release what was taken. A soft
 * lock that failed or was busy costs nothing but the round trip: best effort. Only the
 * read can fail the answer. */
static int soft_available(ovs_strategy *s, const ovs_request *r, int64_t *answer)
{
    soft_lock *x = (soft_lock *)s;
    char key[OVS_KEY_MAX];
    int64_t t = ovs_now_ns();
    int rc;

    if (s->env->workload == OVS_INVENTORY)
        snprintf(key, sizeof(key), "avail:sku:%d", r->sku);
    else
        snprintf(key, sizeof(key), "avail:hotel:%d:room:%d", r->hotel, r->room);
    int held = ovs_lease_lock(&x->soft, s, key);
    step(s, key, t, held,
         held == OVS_OK ? "soft lock taken" : held == OVS_BUSY ? "soft lock busy: read anyway"
                                                               : "soft lock failed: read anyway");
    rc = ovs_sqlreq_available(&x->q, s->env->workload, r, answer);
    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, OVS_ERR, "read: %.100s", x->q.db->errstr);
    if (held == OVS_OK) {
        /* Released after the read; one that expired on the way (soft_ttl is short) is
         * the soft lock's nature, not an error. */
        t = ovs_now_ns();
        int u = ovs_lease_unlock(&x->soft, s, key);
        step(s, key, t, u, u == OVS_OK     ? "soft lock released"
                           : u == OVS_BUSY ? "soft lock had expired"
                                           : "soft lock release failed");
    }
    return rc;
}

static void soft_close(ovs_strategy *s)
{
    soft_lock *x = (soft_lock *)s;
    ovs_lease_close(&x->hard);
    ovs_lease_close(&x->soft);
    ovs_sqlreq_close(&x->q);
}

const ovs_strategy_methods ovs_strategy_soft_lock = {
    .version = 4,
    .name = "soft-lock",
    .summary = "availability read from SQL under a best-effort SET NX PX (read anyway when"
               " busy); the booking under setnx's lease",
    .claims_safe = 1,
    .size = sizeof(soft_lock),
    .params = soft_params,
    .n_params = P_N,
    .xNodes = ovs_lease_nodes,
    .xOpen = soft_open,
    .xLock = soft_lock_key,
    .xUnlock = soft_unlock_key,
    .xClose = soft_close,
    .xAvailable = soft_available,
};
