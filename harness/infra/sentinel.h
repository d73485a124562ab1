/* sentinel.h - managed redis-sentinel processes watching master 0.
 *
 * A scenario with [redis] sentinels = N gets N real Sentinels on free loopback ports,
 * each with its own config file in the run's private directory, monitoring master 0 with
 * a quorum of N/2 + 1 and the scenario's down-after and failover timeouts. They are
 * started like the fleet's servers (core/child.h): in a process group of their own, dying
 * with the thread that started them (PR_SET_PDEATHSIG), so call from the main thread.
 *
 * Sentinels started together would take seconds to find each other through the master's
 * hello channel; each config names the others (known-sentinel, with fixed ids) and the
 * replicas (known-replica) instead, and start returns only once every Sentinel reports the
 * others, the replicas, and a master it can reach: a failover is possible from then on. */
#ifndef OVS_SENTINEL_H
#define OVS_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/endpoint.h"

typedef struct ovs_sentinels ovs_sentinels;

typedef struct ovs_sentinels_opts {
    int n;                          /* Sentinels, 1..OVS_MAX_SENTINELS */
    const char *dir;                /* an existing private directory: one subdirectory
                                       per Sentinel is made in it */
    const ovs_endpoint *master;     /* master 0 as Sentinel reaches it */
    const ovs_endpoint *replicas;   /* its replicas, at their own ports (what the master's
                                       INFO lists), nreplicas of them */
    int nreplicas;
    int64_t down_after_ns;          /* down-after-milliseconds, >= 1 ms */
    int64_t failover_timeout_ns;    /* failover-timeout, >= 1 ms */
} ovs_sentinels_opts;

/* Start the Sentinels and wait (bounded) until they know each other and the replicas.
 * 0, or OVS_ERR_ENV (no redis-sentinel, a Sentinel would not come up or not settle) or
 * OVS_ERR, with err; nothing is left running on failure. */
int ovs_sentinels_start(const ovs_sentinels_opts *o, ovs_sentinels **out, char *err,
                        size_t errlen);
/* What clients are given: the Sentinels' addresses and the master's name. Valid until
 * ovs_sentinels_stop. */
const ovs_sentinel_set *ovs_sentinels_set(const ovs_sentinels *s);
/* Where the master is now: ovs_sentinel_master (core/endpoint.h) on this set. */
/* Stop every Sentinel (SIGTERM, a bounded wait, SIGKILL) and reap them. Accepts NULL. */
void ovs_sentinels_stop(ovs_sentinels *s);

#endif
