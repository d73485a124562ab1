/* topology.h - the servers and links one run needs, built from the scenario's [redis]
 * section, and the faults done to them.
 *
 *   masters   node:0 .. node:N-1, independent redis-server processes (the fleet)
 *   replicas  replica:0 .. of node:0, each fed through its own delay proxy, so the
 *             replication stream really arrives `lag` late
 *   links     with `links = proxied` (or any link fault, or a promotion), every timeline
 *             client reaches every master through its own proxy: one client can be cut
 *             off from chosen nodes, and a promotion moves every client's master link to
 *             the promoted replica, as a Sentinel-aware client or a virtual IP would
 *   sentinels with `sentinels = N`, real redis-sentinel processes watching master 0
 *             (infra/sentinel.h); master 0's endpoint then carries them, clients ask
 *             them where it is at every (re)connect, and they promote a replica
 *
 * Or, attached (`--redis`, or `--sentinel`: master 0 found through the user's Sentinels at
 * every connect, or `--cluster`: every master of the user's cluster, each key routed to
 * its slot's, infra/own_cluster.h): the user's own servers as the masters, nothing started, no
 * replica, link or fault (the engine makes such a cell n/a before it gets here), and every
 * key of the run under one key prefix: refused when that prefix is in use, and deleted
 * when the topology stops. */
#ifndef OVS_TOPOLOGY_H
#define OVS_TOPOLOGY_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "core/endpoint.h"
#include "scenario/scenario.h"

typedef struct ovs_topology ovs_topology;

/* Start nodes masters (>= 1), the scenario's replicas and links. Returns 0, OVS_ERR_ENV
 * (the machine cannot run servers) or OVS_ERR, with err. */
int ovs_topology_start(const ovs_scenario *sc, int nodes, const char *redis_server,
                       ovs_topology **out, char *err, size_t errlen);
/* Attach to the user's servers eps[0..n) (n >= nodes, each with its AUTH) for one run
 * whose keys all start with prefix (copied): checks that every server answers (AUTH
 * included) and holds no key under prefix. With eps[0].cluster, eps are every master of
 * the user's cluster (nodes of them) and their slot map is read. Returns 0, OVS_ERR_ENV (a server could not be
 * reached or refused the login) or OVS_ERR (the prefix is in use), with err. */
int ovs_topology_attach(const ovs_scenario *sc, int nodes, const ovs_endpoint *eps,
                        const char *prefix, ovs_topology **out, char *err, size_t errlen);
/* The key prefix every key of the run starts with: "" for servers the topology started. */
const char *ovs_topology_prefix(const ovs_topology *t);
/* Keys under prefix on the server at ep: SCAN MATCH <prefix>* to the end, UNLINKing each
 * batch when unlink is 1 (never FLUSH anything: the server is not the run's). *found gets
 * how many there were. 0, or -1 with err. */
int ovs_topology_scan_prefix(const ovs_endpoint *ep, const char *prefix, int unlink,
                             long long *found, char *err, size_t errlen);

/* Masters as every client sees them by default (direct; master 0 through the Sentinels
 * when there are). */
const ovs_endpoint *ovs_topology_masters(const ovs_topology *t);
int ovs_topology_size(const ovs_topology *t);
/* Per timeline client, its own view of the masters (its link proxies), or NULL when
 * links are direct. A crowd has one row, which every worker uses. */
const ovs_endpoint *const *ovs_topology_client_links(const ovs_topology *t);
/* Where strategies read when the scenario reads from a replica, else NULL. */
const ovs_endpoint *ovs_topology_read_from(const ovs_topology *t);
const char *ovs_topology_version(const ovs_topology *t);
/* The run's private directory (the fleet's, 0700): where the run keeps its own files. */
const char *ovs_topology_dir(const ovs_topology *t);
/* The runner's settle callback; ctx is the topology. WAIT on master 0 until every replica
 * has acknowledged everything written so far (the strategy's prepared stock), then start
 * the scenario's replication lag: a topology never settled has replicas that do not lag.
 * On a cluster, every master with replicas waits for its own (ovs_fleet_cluster_settle).
 * 0, or -1 with err when a replica did not catch up within a second. */
int ovs_topology_settle(void *ctx, char *err, size_t errlen);
/* Carries out one fault ([fault] section) on the servers and links: an ovs_fault_fn for
 * the fault scheduler, ctx the topology. followup is 0 for the fault itself, 1 for its
 * scheduled second half (the resume after a timed pause, the heal after a timed cut, the
 * restart after kill-restart's down time; after a cluster master's kill, the bounded wait
 * until the cluster has promoted one of its replicas, which fails when none is). Restarts
 * bring the process back only: what the
 * shop does about a node that forgot its data (recovery) is the engine's. Call on the
 * thread that started the fleet. 0, or -1 with err; what says what was done. */
int ovs_topology_fault(void *ctx, const ovs_fault *f, int followup, char *what,
                       size_t whatlen, char *err, size_t errlen);
/* The server a node or replica fault acts on (as it is now, after a promotion), or NULL
 * for a link fault or a target the topology does not have: an ovs_fault_node_fn, ctx the
 * topology. */
const ovs_endpoint *ovs_topology_node(void *ctx, const ovs_fault *f);
/* stock:1 .. stock:<skus> on the node now serving as master 0 (after a promotion, the
 * promoted replica), into stock[0 .. skus-1]; a missing key reads as 0, as the stock
 * scripts read it, and sets absent[sku - 1] (0 for a key that is there). Returns 0, or -1
 * with err when the node could not be read (then stock and absent are incomplete). On a
 * cluster each key is read on the master its slot was given to (the user's: the one the
 * cluster's slot map names, or its MOVED reply). With buckets > 1 the
 * stock of a SKU is the sum of its buckets (ovs_stock_bucket_key, core/keys.h), absent
 * only when every bucket is. */
int ovs_topology_redis_stocks(ovs_topology *t, int skus, int buckets, int64_t *stock,
                              unsigned char *absent, char *err, size_t errlen);
/* A connection for the harness's own commands to a server (not a client's: no proxy, no
 * strategy), connect and every command bounded at a second, logged in with ep->auth; with
 * ep->sentinels, to the master they name now.
 * NULL with err on failure; free with redisFree. */
redisContext *ovs_topology_connect(const ovs_endpoint *ep, char *err, size_t errlen);
/* The node now serving as master 0 (after a promotion, the promoted replica; with
 * Sentinels, the node they name now, asked on every call): where the harness reads what a
 * strategy left in Redis. */
const ovs_endpoint *ovs_topology_master0(ovs_topology *t);
/* Stop every proxy and server; attached, delete the run's keys instead. Accepts NULL. */
void ovs_topology_stop(ovs_topology *t);

#endif
