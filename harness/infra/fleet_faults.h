/* fleet_faults.h - faults and topology on a running fleet (fleet.h): kill, restart, pause
 * and resume a node, add a replica, promote it, take a snapshot, move its clock (a
 * scenario's node faults).
 *
 * Nodes are numbered globally: masters 0..size-1, then replicas size..total-1 in the order
 * they were added. Functions that fork (add_replica, restart) must be called from the
 * thread that started the fleet (see PR_SET_PDEATHSIG in fleet.h). All return 0, or
 * OVS_ERR with a reason in err. */
#ifndef OVS_FLEET_FAULTS_H
#define OVS_FLEET_FAULTS_H

#include <stddef.h>

#include "core/endpoint.h"
#include "infra/fleet.h"

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
/* Move master i's wall clock by by_ns (forward > 0, back < 0) for good, restarts
 * included: i must have been started with the clock shim (ovs_fleet_opts.clock_nodes).
 * The node's TIME just before and just after goes into *before_us and *after_us; unless
 * it moved by by_ns (to the time the two commands took) the call fails, so a jump that did
 * not take is never reported as done. Refuses a paused node. */
int ovs_fleet_clock_jump(ovs_fleet *f, int i, int64_t by_ns, int64_t *before_us,
                         int64_t *after_us, char *err, size_t errlen);

#endif
