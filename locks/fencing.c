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
 * The token is issued in the same script as the lease (lease.c), not by a second command
 * after it: a holder stalled between the two would get its token after its lease had
 * expired and its successor had taken one, a token above the successor's, and the storage
 * would then refuse the live holder's writes and take the stale one's.
 *
 * It claims safety, and the TTL-expiry scenario is where it differs from setnx: the two
 * holders still overlap, but only one of their writes lands. The counter lives on the
 * same node as the lock, so it is as durable as that node: a failover to a replica that
 * never saw the last INCR would hand out a token twice. */
#include "locks/lease.h"
#include "locks/strategy.h"

static const ovs_param_spec fencing_params[] = {
    OVS_LEASE_PARAM_SPECS(5000, "lease of the lock (PX of the SET)"),
};

typedef struct fencing {
    ovs_strategy base;
    ovs_lease lease; /* env->redis[0]; the keys held now, each with its token and fence */
} fencing;

static int fencing_open(ovs_strategy *s, const ovs_env *env)
{
    return ovs_lease_open(&((fencing *)s)->lease, s, env, 1);
}

static int fencing_lock(ovs_strategy *s, const char *key)
{
    return ovs_lease_lock(&((fencing *)s)->lease, s, key);
}

static int fencing_unlock(ovs_strategy *s, const char *key)
{
    return ovs_lease_unlock(&((fencing *)s)->lease, s, key);
}

/* The token of every key held now, whichever was taken first: a booking holds one lock
 * per night, and the harness fences each. */
static int64_t fencing_fence(ovs_strategy *s, const char *key)
{
    return ovs_lease_fence(&((fencing *)s)->lease, key);
}

static void fencing_close(ovs_strategy *s)
{
    ovs_lease_close(&((fencing *)s)->lease);
}

const ovs_strategy_methods ovs_strategy_fencing = {
    .version = 3,
    .name = "fencing",
    .summary = "setnx whose script also INCRs a fencing token; SQL applies only a higher token",
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
