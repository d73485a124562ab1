/* setnx.c - a lease on one Redis: SET lock:<key> <token> NX PX ttl.
 *
 * The single-instance lock from Redis's documentation, released with a Lua
 * compare-and-delete so only the owner deletes; the lease itself lives in lease.c, which
 * fencing and watchdog build on. This strategy is the lease and nothing more.
 *
 * It claims safety on a healthy server, and the scenarios show where that ends: a holder
 * that outlives its TTL shares the section with the next one (the lease expired under it),
 * and a failover to a replica that never saw the key hands the lock out twice. */
#include "locks/lease.h"
#include "locks/strategy.h"

enum { P_WAIT_REPLICAS = OVS_LEASE_N_PARAMS, P_WAIT_TIMEOUT };

static const ovs_param_spec setnx_params[] = {
    OVS_LEASE_PARAM_SPECS(5000, "lease of the lock (PX of the SET)"),
    [P_WAIT_REPLICAS] = { "wait_replicas", 0, "count", NULL, 0, 16,
                          "after each acquire, WAIT for this many replicas; a lock fewer "
                          "acknowledge is given back (0: no WAIT)" },
    /* WAIT 0 would block forever: the minimum is 1 ms. */
    [P_WAIT_TIMEOUT] = { "wait_timeout", 100, "ms", NULL, 1, 600000,
                         "longest the WAIT blocks" },
};

typedef struct setnx {
    ovs_strategy base;
    ovs_lease lease; /* env->redis[0] and the tokens of the keys held now */
} setnx;

static int setnx_open(ovs_strategy *s, const ovs_env *env)
{
    const double *v = env->param->v;
    ovs_lease_conf conf;

    if (v[P_WAIT_REPLICAS] < 1)
        return ovs_lease_open(&((setnx *)s)->lease, s, env, 0);
    /* The WAIT is one more command on the lock's connection; its reply may take up to
     * the whole wait_timeout on top of the usual bound. */
    conf = (ovs_lease_conf){
        .ttl_ms = v[OVS_LEASE_TTL],
        .retry_count = v[OVS_LEASE_RETRY_COUNT],
        .retry_delay_ms = v[OVS_LEASE_RETRY_DELAY],
        .retry_jitter_ms = v[OVS_LEASE_RETRY_JITTER],
        .command_timeout_ms = v[OVS_LEASE_COMMAND_TIMEOUT] + v[P_WAIT_TIMEOUT],
        .wait_replicas = v[P_WAIT_REPLICAS],
        .wait_timeout_ms = v[P_WAIT_TIMEOUT],
    };
    return ovs_lease_open_conf(&((setnx *)s)->lease, s, env, &conf);
}

static int setnx_lock(ovs_strategy *s, const char *key)
{
    return ovs_lease_lock(&((setnx *)s)->lease, s, key);
}

static int setnx_unlock(ovs_strategy *s, const char *key)
{
    return ovs_lease_unlock(&((setnx *)s)->lease, s, key);
}

static void setnx_close(ovs_strategy *s)
{
    ovs_lease_close(&((setnx *)s)->lease);
}

const ovs_strategy_methods ovs_strategy_setnx = {
    .version = 3,
    .name = "setnx",
    .summary = "SET lock:<key> <token> NX PX ttl on one Redis; Lua compare-and-delete release",
    .claims_safe = 1,
    .size = sizeof(setnx),
    .params = setnx_params,
    .n_params = sizeof(setnx_params) / sizeof(setnx_params[0]),
    .xNodes = ovs_lease_nodes,
    .xOpen = setnx_open,
    .xLock = setnx_lock,
    .xUnlock = setnx_unlock,
    .xClose = setnx_close,
};
