/* fencing.c - setnx plus a fencing token: the storage, not the lock, keeps the order.
 *
 * A lease cannot stop a holder that stalls past its TTL from writing after the next
 * holder has: by the time it wakes, nothing tells it that the lock moved on. A fencing
 * token does, as Kleppmann proposed: every successful acquire takes INCR fence:<key> on
 * the lock's node, a number higher than any earlier holder's, and the harness makes the
 * shop's write conditional on it (xFence, ovs_shop_act), so SQL refuses a write carrying
 * a token not higher than the last one it applied for that key. The stalled holder's
 * write is then refused instead of overselling.
 *
 * It claims safety, and the TTL-expiry scenario is where it differs from setnx: the two
 * holders still overlap, but only one of their writes lands. The counter lives on the
 * same node as the lock, so it is as durable as that node: a failover to a replica that
 * never saw the last INCR would hand out a token twice. */
#include <stdio.h>
#include <stdlib.h>

#include "lease.h"
#include "strategy.h"

static const ovs_param_spec fencing_params[] = {
    OVS_LEASE_PARAM_SPECS(5000, "lease of the lock (PX of the SET)"),
};

typedef struct fencing {
    ovs_strategy base;
    ovs_lease lease;        /* env->redis[0] and the tokens of the keys held now */
    ovs_redis_locks fences; /* the keys held now, each with its fencing token in decimal
                               as the "token"; only the key list is used (zeroed is an
                               empty list) */
} fencing;

static int fencing_open(ovs_strategy *s, const ovs_env *env)
{
    return ovs_lease_open(&((fencing *)s)->lease, s, env);
}

/* INCR fence:<key> into buf. OVS_OK, or the error code with the reason in the lease's
 * connection. */
static int take_token(fencing *x, const char *key, char *buf, size_t len)
{
    ovs_redis *r = &x->lease.redis;
    redisReply *reply;
    int rc = ovs_redis_cmd(r, &reply, "INCR fence:%s", key);

    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(r, reply, REDIS_REPLY_INTEGER, "INCR");
    if (rc == OVS_OK)
        snprintf(buf, len, "%lld", (long long)reply->integer);
    freeReplyObject(reply);
    return rc;
}

static int fencing_lock(ovs_strategy *s, const char *key)
{
    fencing *x = (fencing *)s;
    char token[24], why[sizeof(s->errstr)];
    int rc = ovs_lease_lock(&x->lease, s, key);
    int released;

    if (rc != OVS_OK)
        return rc;
    rc = take_token(x, key, token, sizeof(token));
    if (rc == OVS_OK && ovs_redis_locks_add(&x->fences, key, token) == 0)
        return OVS_OK;
    if (rc == OVS_OK)
        snprintf(why, sizeof(why), "out of memory for fencing tokens");
    else
        snprintf(why, sizeof(why), "fencing token: %.100s", x->lease.redis.errstr);
    /* A lock without its token is of no use to the harness: give it back. Only when that
     * release's outcome is unknown may the lock still be ours. */
    released = ovs_lease_unlock(&x->lease, s, key);
    return ovs_strategy_fail(s, released == OVS_ERR_IO ? OVS_ERR_IO : OVS_ERR, "%s", why);
}

static int fencing_unlock(ovs_strategy *s, const char *key)
{
    fencing *x = (fencing *)s;

    ovs_redis_locks_remove(&x->fences, key);
    return ovs_lease_unlock(&x->lease, s, key);
}

static int64_t fencing_fence(ovs_strategy *s, const char *key)
{
    const char *token = ovs_redis_locks_find(&((fencing *)s)->fences, key);

    return token == NULL ? -1 : (int64_t)strtoll(token, NULL, 10);
}

static void fencing_close(ovs_strategy *s)
{
    fencing *x = (fencing *)s;

    ovs_lease_close(&x->lease);
    ovs_redis_locks_free(&x->fences);
}

const ovs_strategy_methods ovs_strategy_fencing = {
    .version = 1,
    .name = "fencing",
    .summary = "setnx plus a fencing token from INCR; SQL applies only a higher token",
    .claims_safe = 1,
    .size = sizeof(fencing),
    .params = fencing_params,
    .n_params = sizeof(fencing_params) / sizeof(fencing_params[0]),
    .xNodes = ovs_lease_nodes,
    .xOpen = fencing_open,
    .xLock = fencing_lock,
    .xUnlock = fencing_unlock,
    .xClose = fencing_close,
    .xFence = fencing_fence,
};
