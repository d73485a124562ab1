/* redis_cluster.h - the strategies' connection to a Redis Cluster (hiredis 0.14 has none).
 *
 * An ovs_redis whose endpoint is a cluster node (ep.cluster) keeps, from its first command
 * on, one connection per master and the slot -> master map CLUSTER SLOTS gave, and sends
 * each command to the master that owns its key's slot (core/keyslot.h). A MOVED reply
 * updates the map and the command goes to the new owner; an ASK reply sends ASKING and
 * then the command to the node named, once, without touching the map. Both are bounded
 * (OVS_CLUSTER_REDIRECTS_MAX) and then fail naming the key. A script whose keys are in
 * several slots gets Redis's CROSSSLOT error, with the key names added.
 *
 * redis_conn.c calls these when r->ep.cluster is set, for ovs_redis_cmd (the key is the
 * command's first argument: SET, GET, DEL, INCRBY...), ovs_redis_eval and
 * ovs_redis_script_load (on every master). Pipelined sends and commands without a key
 * (SCAN, WAIT) are not routed: they go to the node the endpoint names. Every outcome
 * keeps redis_conn.h's rule; r->err and r->errstr say what the node's connection said.
 *
 * A shard failing over: a command that could not be sent to the slot's master (it is
 * down) or that a node refused with CLUSTERDOWN or TRYAGAIN did not run, so it is sent
 * again every 100 ms, the map read afresh from any live node (CLUSTER SLOTS) before each
 * try (the nodes met first, then the endpoint's seeds, so a client whose first node is the
 * dead one finds the others), until the request's budget runs out (r's deadline, or one command timeout from the
 * first send), then fails (OVS_ERR). A command sent whose reply was lost (OVS_ERR_IO) is
 * never sent again: it may have run, and is reported unknown; the map is read again
 * before the next command. */
#ifndef OVS_REDIS_CLUSTER_H
#define OVS_REDIS_CLUSTER_H

#include <stdarg.h>

#include "locks/redis_conn.h"

#define OVS_CLUSTER_REDIRECTS_MAX 5

int ovs_redis_cluster_vcmd(ovs_redis *r, redisReply **out, const char *fmt, va_list ap);
int ovs_redis_cluster_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                           const char *const *kv, redisReply **out);
int ovs_redis_cluster_script_load(ovs_redis *r, ovs_script *s);
/* Drop every connection and the map (ovs_redis_close). */
void ovs_redis_cluster_free(ovs_redis *r);
/* MOVED and ASK replies r followed so far. */
int ovs_redis_cluster_redirects(const ovs_redis *r);
/* The master that owns key's slot in r's map now, as "host:port" in buf; -1 when none
 * does (or r has no map yet). For tests and messages. */
int ovs_redis_cluster_owner(ovs_redis *r, const char *key, char *buf, size_t len);

#endif
