/* endpoint.h - where a server is: what the fleet starts, the proxy fronts and a strategy
 * connects to. Always loopback for managed servers. */
#ifndef OVS_ENDPOINT_H
#define OVS_ENDPOINT_H

#include <stddef.h>

/* Redis masters one run can have, at most: the fleet starts no more, and a strategy that
 * talks to every node (Redlock) sizes its per-node arrays from it. */
#define OVS_MAX_NODES 16
/* Replicas one run can add on top of its masters, at most. */
#define OVS_MAX_REPLICAS 4

/* Sentinels one run can start, at most: a quorum of 3 out of 5 is as far as production
 * deployments go. */
#define OVS_MAX_SENTINELS 5
/* The name Sentinel knows master 0 by. */
#define OVS_SENTINEL_MASTER_NAME "mymaster"

/* How to log in to a server the user runs (`--redis` with a password): AUTH after every
 * connect. Managed servers have none. */
typedef struct ovs_redis_auth {
    char user[128];     /* ACL user, "" for the default user (AUTH password) */
    char password[256]; /* never printed */
} ovs_redis_auth;

/* Where to ask for a master's address, as a Sentinel-aware client library is configured:
 * the Sentinels, tried in order until one answers, and the master's name. */
typedef struct ovs_sentinel_set {
    int n;                                 /* sentinels in ep, 1..OVS_MAX_SENTINELS */
    struct {
        char host[64];
        int port;
    } ep[OVS_MAX_SENTINELS];
    char master[64];                       /* the name they monitor it by */
    const ovs_redis_auth *auth;            /* the Sentinels' own login (their requirepass,
                                              not the master's), NULL for none: the
                                              user's (`--sentinel`); managed ones have none */
} ovs_sentinel_set;

typedef struct ovs_endpoint {
    char host[64]; /* "127.0.0.1" */
    int port;      /* TCP port */
    const ovs_redis_auth *auth; /* NULL: no AUTH. Owned by whoever made the endpoint (the
                                   command line), valid for the run */
    const ovs_sentinel_set *sentinels; /* NULL for a plain server. Else a master found
                                          through these at every (re)connect; host:port is
                                          where it was when the run began. Owned by the
                                          topology, valid for the run */
    int cluster;   /* 1: a node of a Redis Cluster; a client sends each command to the
                      master owning its key's slot (locks/redis_cluster.h) */
    const struct ovs_endpoint *seeds; /* cluster: every node known when the run began
                      (n_seeds of them), asked for the slot map when no node the client
                      met answers, as a client's startup nodes are; NULL: this one only.
                      Owned by the topology, valid for the run */
    int n_seeds;
} ovs_endpoint;

/* Ask the Sentinels of set, in order, where their master is now (SENTINEL
 * get-master-addr-by-name), each connect and reply bounded by timeout_ms, as a
 * Sentinel-aware client does before it connects, logging in to each with set->auth. 0 with out->host and out->port (and
 * out->sentinels = set), or -1 with err when none answered with an address. The one place
 * a Sentinel is asked: the strategies' connections (locks/redis_conn.c) and the
 * harness's own reads (infra/topology.c) both come here. */
int ovs_sentinel_master(const ovs_sentinel_set *set, int timeout_ms, ovs_endpoint *out,
                        char *err, size_t errlen);

/* Send AUTH on a fresh connection c when auth is not NULL (0 when it is). 0, or -1 with
 * "AUTH refused: WRONGPASS ..." or the I/O error in err. Every connection the harness and
 * the built-in strategies make to a server comes through here, so none skips it. */
struct redisContext;
int ovs_redis_login(struct redisContext *c, const ovs_redis_auth *auth, char *err,
                    size_t errlen);

#endif
