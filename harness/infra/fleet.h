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
                                 (appendonly yes, appendfsync everysec) */
} ovs_fleet_opts;

/* Start opts->nodes servers and wait (bounded) until each answers PING. The private
 * directory is made in $TMPDIR by ovs_tmpdir_make (tmpdir.h), which first removes the
 * directories harnesses killed by SIGKILL left there. On failure stops whatever it started
 * and returns OVS_ERR_ENV (no executable, no port, the server would not come up) or
 * OVS_ERR, with a reason in err. */
int ovs_fleet_start(const ovs_fleet_opts *opts, ovs_fleet **out, char *err, size_t errlen);
/* Stop every server (SIGTERM, a bounded wait, then SIGKILL), reap them and remove the
 * temporary directory. Accepts NULL. */
void ovs_fleet_stop(ovs_fleet *f);

int ovs_fleet_size(const ovs_fleet *f);
/* Endpoints of the masters, ovs_fleet_size() of them, in start order. */
const ovs_endpoint *ovs_fleet_endpoints(const ovs_fleet *f);
/* Process id of node i, or -1 when it is not running. */
pid_t ovs_fleet_pid(const ovs_fleet *f, int i);
/* redis_version from INFO of the first node ("7.0.15"), or "" before start. */
const char *ovs_fleet_version(const ovs_fleet *f);
/* The fleet's private temporary directory. */
const char *ovs_fleet_dir(const ovs_fleet *f);

/* ---- faults and topology --------------------------------------------------------------
 *
 * Nodes are numbered globally: masters 0..size-1, then replicas size..total-1 in the order
 * they were added. Functions that fork (add_replica, restart) must be called from the
 * thread that started the fleet (see PR_SET_PDEATHSIG above). All return 0, or OVS_ERR
 * with a reason in err. */

/* More of the contract:
 *  - ovs_fleet_pid takes the global index too. A fleet has no lock: none of these calls
 *    may run concurrently with another call on the same fleet. Endpoints never change
 *    once returned (kill and restart keep the port) and stay valid until ovs_fleet_stop.
 *  - add_replica and restart refuse (OVS_ERR) to run on another thread than the one that
 *    started the fleet. Waits are bounded: 5 s to answer PING, 10 s for a replica's
 *    initial sync, 30 s for a restarted node to load its data.
 *  - Under OVS_PERSIST_NONE a restart first empties the node's directory (a SAVE or a
 *    replica's initial sync can leave a dump.rdb there), so the node comes back empty.
 *  - A restarted replica is not waited for to resync; a promoted replica restarts as a
 *    master. A restart whose port was taken meanwhile fails and the node stays down.
 *  - pause returns once the whole process has stopped; pausing a paused node and resuming
 *    a running one are no-ops. kill of a paused node works. promote and snapshot send a
 *    command with a bounded reply timeout and refuse a paused node, where the command
 *    would sit in the socket buffer and run on resume.
 *  - Calls on a node that is not running (killed, or exited on its own, which is then
 *    reaped) fail, except restart, which wants exactly that. */

/* Masters plus replicas. */
int ovs_fleet_total(const ovs_fleet *f);
/* Endpoint of any node (master or replica), or NULL when i is out of range. */
const ovs_endpoint *ovs_fleet_node(const ovs_fleet *f, int i);
/* Start a replica of `master`, reached at `via` (the master itself, or a proxy in front of
 * it that delays the replication stream), with the fleet's persistence; wait (bounded)
 * until its link is up and the initial sync is done. *index gets its global number. */
int ovs_fleet_add_replica(ovs_fleet *f, const ovs_endpoint *via, int *index, char *err,
                          size_t errlen);
/* SIGKILL node i and reap it. Its port and directory are kept for a restart. */
int ovs_fleet_kill(ovs_fleet *f, int i, char *err, size_t errlen);
/* Start killed node i again on the same port and directory with the same arguments, so it
 * loads what its persistence kept (nothing, the last snapshot, or the AOF); wait until it
 * answers PING and has finished loading. */
int ovs_fleet_restart(ovs_fleet *f, int i, char *err, size_t errlen);
/* SIGSTOP / SIGCONT node i. A paused node keeps accepting into its socket buffer and
 * answers everything when resumed. */
int ovs_fleet_pause(ovs_fleet *f, int i, char *err, size_t errlen);
int ovs_fleet_resume(ovs_fleet *f, int i, char *err, size_t errlen);
/* REPLICAOF NO ONE on replica i: it becomes a master with whatever it had received. */
int ovs_fleet_promote(ovs_fleet *f, int i, char *err, size_t errlen);
/* SAVE on node i: the snapshot a restart with RDB persistence loads. */
int ovs_fleet_snapshot(ovs_fleet *f, int i, char *err, size_t errlen);

/* The redis-server to run: $OVERSELL_REDIS_SERVER, else the first on $PATH, else
 * /usr/bin/redis-server or /usr/sbin/redis-server. Returns 0 and writes the path, or -1. */
int ovs_redis_server_path(char *buf, size_t len);

/* Async-signal-safe: SIGKILL every server any fleet of this process started and has not
 * reaped. For SIGINT/SIGTERM handlers that must not leave servers behind. */
void ovs_fleet_kill_all(void);

#endif
