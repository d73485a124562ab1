/* fleet.h - managed redis-server processes on loopback.
 *
 * The harness starts every Redis it needs (nothing to install or configure first): real
 * redis-server processes bound to 127.0.0.1 with protected mode, on free ports, each with
 * its own working directory inside one private 0700 temporary directory. No server may
 * outlive the harness: each child asks the kernel for SIGKILL when its parent dies
 * (PR_SET_PDEATHSIG), so even `kill -9` of the harness takes the fleet with it.
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so fleets must be
 * started from a thread that lives as long as the fleet: the main thread. */
#ifndef OVS_FLEET_H
#define OVS_FLEET_H

#include <stddef.h>
#include <sys/types.h>

#include "core/endpoint.h"
#include "core/util.h"         /* OVS_ERR_ENV: the machine cannot run servers */
#include "scenario/scenario.h" /* OVS_PERSIST_*: the fleet starts what a scenario asks */

#define OVS_FLEET_MAX OVS_MAX_NODES /* core/endpoint.h */
/* Replicas one fleet can add (ovs_fleet_add_replica), on top of its masters: node
 * indexes run up to OVS_FLEET_MAX + OVS_FLEET_REPLICAS_MAX - 1. */
#define OVS_FLEET_REPLICAS_MAX OVS_MAX_REPLICAS /* core/endpoint.h */

typedef struct ovs_fleet ovs_fleet;

typedef struct ovs_fleet_opts {
    int nodes;                /* independent masters to start, 1..OVS_FLEET_MAX */
    const char *redis_server; /* executable; NULL finds one (see ovs_redis_server_path) */
    int persistence;          /* enum ovs_persistence (scenario.h): NONE (0, default), RDB
                                 (dump.rdb written only by ovs_fleet_snapshot), AOF
                                 (appendonly yes, appendfsync always) */
    unsigned clock_nodes;     /* bit i: master i runs with the clock shim (clockshim/), so
                                 that ovs_fleet_clock_jump (fleet_faults.h) can move its
                                 wall clock; the others' clocks are left alone. 0: none */
    int min_replicas_to_write; /* 0 (default): off. Else min-replicas-to-write for node 0
                                  and every replica ovs_fleet_add_replica adds (replicas of
                                  node 0), so the one promoted carries it too; the other
                                  masters have no replicas and would refuse every write */
    int min_replicas_max_lag;  /* its min-replicas-max-lag in seconds; 0: Redis's own
                                  (OVS_MIN_REPLICAS_MAX_LAG, scenario.h) */
    int cluster;              /* 1: the masters form one Redis Cluster (fleet_cluster.c):
                                 OVS_FLEET_CLUSTER_MIN or more of them */
    int cluster_replicas;     /* with cluster: replicas per master (0, default: none),
                                 started with the masters and numbered after them; the
                                 cluster fails a killed master over to one of them */
    int cluster_node_timeout_ms; /* cluster-node-timeout; 0 = OVS_FLEET_CLUSTER_TIMEOUT_MS */
} ovs_fleet_opts;

#define OVS_FLEET_CLUSTER_MIN 3          /* Redis Cluster wants three masters at least */
#define OVS_FLEET_CLUSTER_TIMEOUT_MS 2000 /* a node silent this long is suspected failing */

/* Start opts->nodes servers and wait (bounded) until each answers PING. The private
 * directory is made in $TMPDIR by ovs_tmpdir_make (tmpdir.h), which first removes the
 * directories harnesses killed by SIGKILL left there. On failure stops whatever it started
 * and returns OVS_ERR_ENV (no executable, no port, the server would not come up) or
 * OVS_ERR, with a reason in err. */
int ovs_fleet_start(const ovs_fleet_opts *opts, ovs_fleet **out, char *err, size_t errlen);
/* With opts->cluster, ovs_fleet_start returns only once the cluster is formed: the 16384
 * slots split evenly over the masters in start order (master i owns one contiguous range),
 * every node met, and every node reporting cluster_state:ok, all slots assigned and all
 * nodes known. 1 when f is a cluster. */
int ovs_fleet_is_cluster(const ovs_fleet *f);
/* The master (0..size-1) that was given key's slot when the cluster formed. Slots are not
 * moved by the fleet afterwards; a reader that gets MOVED has met someone else's move. */
int ovs_fleet_cluster_master_of(const ovs_fleet *f, const char *key);
/* Node index of cluster master m's k-th replica (0 <= k < cluster_replicas), or -1. */
int ovs_fleet_cluster_replica(const ovs_fleet *f, int m, int k);
/* After master m was killed: wait, at most timeout_ns, until one of its replicas says it
 * is a master owning m's slots (its own CLUSTER SLOTS names it for the first of them),
 * which only the cluster's own failover makes it. *promoted gets its node index. The
 * harness promotes nothing here: a replica that is not promoted in time is an error. */
int ovs_fleet_cluster_wait_failover(ovs_fleet *f, int m, int64_t timeout_ns, int *promoted,
                                    char *err, size_t errlen);
/* With cluster replicas: on every master, a write then WAIT until each of its replicas
 * has acknowledged it (a second at most), so that everything written so far is on them.
 * Part of the start, and for the run's settle. A master that has just sent a replica its
 * initial copy streams it nothing more until the replica's first REPLCONF ACK, which the
 * replica sends once a second: without this a master killed in that second took every
 * write since the sync with it, the prepared stock included (seen: a promoted replica
 * with no stock key at all). WAIT's GETACK asks for that ACK at once. 0, or OVS_ERR_ENV. */
int ovs_fleet_cluster_settle(ovs_fleet *f, char *err, size_t errlen);
/* Stop every server (SIGTERM, a bounded wait, then SIGKILL), reap them and remove the
 * temporary directory. Accepts NULL. */
void ovs_fleet_stop(ovs_fleet *f);

int ovs_fleet_size(const ovs_fleet *f);
/* Endpoints of the masters, ovs_fleet_size() of them, in start order. */
const ovs_endpoint *ovs_fleet_endpoints(const ovs_fleet *f);
/* Process id of node i (masters and replicas, see ovs_fleet_node), or -1 when it is not
 * running. */
pid_t ovs_fleet_pid(const ovs_fleet *f, int i);
/* redis_version from INFO of the first node ("7.0.15"), or "" before start. */
const char *ovs_fleet_version(const ovs_fleet *f);
/* The fleet's private temporary directory. */
const char *ovs_fleet_dir(const ovs_fleet *f);

/* Masters plus replicas (fleet_faults.h adds replicas). */
int ovs_fleet_total(const ovs_fleet *f);
/* Endpoint of any node (master or replica), or NULL when i is out of range. Nodes are
 * numbered globally: masters 0..size-1, then replicas in the order they were added. */
const ovs_endpoint *ovs_fleet_node(const ovs_fleet *f, int i);

/* The redis-server to run: $OVERSELL_REDIS_SERVER, else the first on $PATH, else
 * /usr/bin/redis-server or /usr/sbin/redis-server. Returns 0 and writes the path, or -1. */
int ovs_redis_server_path(char *buf, size_t len);

/* The clock shim nodes are started with: $OVERSELL_CLOCKSHIM, else
 * clockshim/ovs-clockshim.so beside or one level above this executable (the build tree).
 * Returns 0 and writes the path, or OVS_ERR_ENV with a reason in err. */
int ovs_clockshim_path(char *buf, size_t len, char *err, size_t errlen);

/* Async-signal-safe: SIGKILL every server any fleet of this process started and has not
 * reaped. For SIGINT/SIGTERM handlers that must not leave servers behind. */
void ovs_fleet_kill_all(void);

#endif
