/* fleet_node.h - a fleet's insides: its nodes, and the node operations fleet.c implements
 * and fleet_faults.c calls again to kill, restart and add nodes. Private to
 * harness/infra/fleet*.c; the interface is fleet.h and fleet_faults.h.
 *
 * Per-node state (pid, port, directory, role) lives in fleet_node, and the command line is
 * rebuilt from it at every spawn, so a fault is a matter of calling ovs_fleet_node_spawn
 * and ovs_child_reap again on one node. A fleet has no lock: the caller of any of these
 * holds the fleet alone (see fleet_faults.h). */
#ifndef OVS_FLEET_NODE_H
#define OVS_FLEET_NODE_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/endpoint.h"
#include "core/util.h"
#include "infra/fleet.h"
#include "infra/port.h"

#define FLEET_HOST OVS_LOOPBACK_HOST
#define FLEET_POLL_NS (10 * OVS_NS_PER_MS)   /* step of every bounded wait here */
#define FLEET_ARGV_MAX 48
#define FLEET_NODES (OVS_FLEET_MAX + OVS_FLEET_REPLICAS_MAX) /* masters and replicas */

typedef struct fleet_node {
    pid_t pid;                          /* our unreaped child, or -1 (never started, or
                                           killed and not restarted) */
    int slot;                           /* its registry slot, or -1 */
    int port;                           /* TCP port on 127.0.0.1, kept across restarts */
    char portstr[16];                   /* port as text, for argv */
    int replica;                        /* 1 while it is a replica: added by add_replica
                                           and not promoted; a restart keeps the role */
    int paused;                         /* 1 between pause and resume (or kill) */
    char via_host[64];                  /* a replica's upstream (master or proxy) */
    char via_port[16];                  /* its port as text */
    char dir[PATH_MAX];                 /* working directory: dump.rdb, AOF, logs */
    char log[PATH_MAX];                 /* redis.log, the server's own log */
    char out[PATH_MAX];                 /* stdout+stderr: config errors land here */
    char bus_portstr[16];               /* cluster mode: its cluster bus port, picked
                                           like port (Redis's default, port + 10000,
                                           does not exist above 55535 nor is it free) */
    char cluster_conf[32];              /* cluster mode: nodes-PORT.conf in dir, the
                                           file Redis keeps its view of the cluster in */
    char cluster_id[48];                /* cluster mode: its node id (CLUSTER MYID),
                                           read when the cluster forms */
    const char *argv[FLEET_ARGV_MAX];   /* built before fork; points into this struct */
    int64_t *clock;                     /* the mapped offset (ns) its clock shim adds to
                                           its wall clock, or NULL: started without the
                                           shim (fleet_clock.c) */
    char clock_file[PATH_MAX];          /* the file mapped there */
    char **envp;                        /* with the shim: its environment (LD_PRELOAD,
                                           OVS_CLOCKSHIM_FILE); NULL: the harness's */
    char *env_preload, *env_file;       /* the two entries envp adds */
} fleet_node;

struct ovs_fleet {
    int n;                              /* masters, 1..OVS_FLEET_MAX: nodes 0..n-1 */
    int total;                          /* masters + replicas, n..FLEET_NODES */
    int persistence;                    /* enum ovs_persistence, for every node */
    int cluster;                        /* 1: cluster-enabled nodes (fleet_cluster.c) */
    char cluster_timeout[16];           /* cluster-node-timeout in ms, as text */
    int cluster_replicas;               /* cluster mode: replicas per master, started
                                           with the masters (nodes n..total-1) */
    pthread_t owner;                    /* the thread that started the fleet: the only
                                           one that may fork its servers (PDEATHSIG) */
    char dir[PATH_MAX];                 /* private 0700 directory, "" until made */
    char exe[PATH_MAX];                 /* the redis-server executable */
    char version[32];                   /* redis_version of node 0 */
    char min_replicas[12];              /* min-replicas-to-write as text, "" when off */
    char min_replicas_lag[12];          /* min-replicas-max-lag as text */
    ovs_endpoint ep[FLEET_NODES];       /* what clients connect to, parallel to node[];
                                           masters first, so ep is ovs_fleet_endpoints */
    fleet_node node[FLEET_NODES];
};

/* Make node i's directory under the fleet's and fill in its dir, log and out paths. */
int ovs_fleet_node_make_dir(ovs_fleet *f, int i, char *err, size_t errlen);
/* A fresh port for node i, different from every port of this fleet including the one the
 * node had (which just failed). */
int ovs_fleet_node_pick_port(ovs_fleet *f, int i, char *err, size_t errlen);
/* Fork and exec node nd's server with the command line its state gives now (a promoted
 * replica restarts as a master). */
int ovs_fleet_node_spawn(ovs_fleet *f, fleet_node *nd, char *err, size_t errlen);
/* Wait, at most timeout_ns, until node i answers PING (so has loaded its data) and is our
 * child. OVS_OK when up; 1 when its port was taken (the node is reaped and may be started
 * again); OVS_ERR_ENV with a reason otherwise. */
int ovs_fleet_node_wait_ready(ovs_fleet *f, int i, int64_t timeout_ns, char *err,
                              size_t errlen);
/* Wait until freshly spawned node i is up, moving it to a fresh port when its port was
 * taken. Never for a restart: a node is only moved before anyone knows its port. */
int ovs_fleet_node_come_up(ovs_fleet *f, int i, char *err, size_t errlen);

/* Start node i with the clock shim at path shim from now on: make and map its offset
 * file (zero) and build its environment (fleet_clock.c). Before its first spawn. */
int ovs_fleet_node_clock(ovs_fleet *f, int i, const char *shim, char *err, size_t errlen);
/* Unmap and free what ovs_fleet_node_clock made; a node without the shim is left alone. */
void ovs_fleet_node_clock_free(fleet_node *nd);
/* Cluster mode (fleet_cluster.c): split the slots over the masters, introduce every node
 * to the others, make the replicas replicas of their masters (CLUSTER REPLICATE) and wait,
 * bounded, until every node sees the whole cluster in state ok and every replica's link
 * is up. */
int ovs_fleet_cluster_form(ovs_fleet *f, char *err, size_t errlen);

/* Copy the value of "name:value" from an INFO reply into out; -1 when absent. */
int ovs_fleet_info_field(const char *info, const char *name, char *out, size_t len);
/* 1 when the start of the log at path says the server could not bind its port ("Address
 * already in use"): someone took it in the window ovs_port_free leaves. */
int ovs_fleet_port_was_taken(const char *path);
/* The most telling line at the end of the log at path, into out ("" when none). */
void ovs_fleet_log_reason(const char *path, char *out, size_t len);

#endif
