/* own_cluster.h - the user's own Redis Cluster (`--cluster`), as the harness finds it: its
 * masters and which of them owns each hash slot, from CLUSTER SLOTS.
 *
 * The strategies route by slot through their own client (locks/redis_cluster.h); the
 * harness's own commands on such a cluster (the key-prefix check and cleanup, the stock
 * read-back) are per node, so it needs every master and the slot map itself. */
#ifndef OVS_OWN_CLUSTER_H
#define OVS_OWN_CLUSTER_H

#include <stddef.h>

#include "core/endpoint.h"
#include "core/keyslot.h"

/* No master owns the slot (an unassigned slot in the map). */
#define OVS_OWN_CLUSTER_NO_OWNER 0xff

/* Ask each of seeds[0..n_seeds) (logged in with its auth) for CLUSTER SLOTS: every one
 * must answer, as a node in cluster mode, and the first one's map is taken. masters gets
 * the map's masters (at most max, in the order of their first slot; each with the seeds'
 * auth, .cluster set and .seeds = masters, .n_seeds = *n_masters); owner, when not NULL,
 * gets for each slot the index of its master in masters, or OVS_OWN_CLUSTER_NO_OWNER.
 * 0, or -1 with err: a seed unreachable or refusing the login, a seed not in cluster
 * mode ("... is not a cluster node: ..."), more masters than max, or no slot assigned. */
int ovs_own_cluster_map(const ovs_endpoint *seeds, int n_seeds, ovs_endpoint *masters,
                        int max, int *n_masters, unsigned char *owner, char *err,
                        size_t errlen);

#endif
