/* faults.h - scheduling a scenario's faults during a run.
 *
 * Faults fire at a time from t0 (`at`), at a named point of a timeline client's step
 * (`after = alice:check`: after Alice's check returns, before her next step), or once the
 * crowd's requests have succeeded N times (`after = crowd:N`). A client that
 * reaches a step's point waits until the fault is done, so "the master dies between the
 * holder's check and its write" happens exactly there, every run. Every fault is carried
 * out on the runner's main thread - the thread that started the fleet, which a restart
 * must fork from - through the ovs_fault_fn the caller provides, except a client's crash,
 * which the scheduler does itself to the client's crash record (ovs_faults_crash). */
#ifndef OVS_FAULTS_H
#define OVS_FAULTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/crash.h"
#include "core/endpoint.h"
#include "scenario/scenario.h"
#include "core/trace.h"

typedef struct ovs_faults ovs_faults;
typedef struct ovs_writeback ovs_writeback;
typedef struct ovs_shop_loc ovs_shop_loc;

/* Carries out one fault ([fault] section) on the run's servers and links. followup is 0
 * for the fault itself, 1 for its scheduled second half (the resume after a timed pause,
 * the heal after a timed cut, the restart after kill-restart's down time, the wait for
 * the cluster's own failover after a cluster master's kill, or for the Sentinels' after
 * master 0's). Called on the
 * runner's main thread only, which is the thread that started the fleet. Writes a short
 * description of what it did into what. Returns 0 or -1 with err. ovs_topology_fault is
 * the one the harness uses. */
typedef int (*ovs_fault_fn)(void *ctx, const ovs_fault *f, int followup, char *what,
                            size_t whatlen, char *err, size_t errlen);
/* The server a node or replica fault acts on now, or NULL (ovs_topology_node). */
typedef const ovs_endpoint *(*ovs_fault_node_fn)(void *ctx, const ovs_fault *f);

/* NULL when out of memory. */
/* fn carries the faults out; after a restart with a `recovery` rule the scheduler rebuilds
 * the node's stock from the shop at shop and the queue wb (engine/recovery.h), on
 * the server node_fn names. NULL when out of memory. */
ovs_faults *ovs_faults_new(const ovs_scenario *sc, ovs_fault_fn fn, ovs_fault_node_fn node_fn,
                           void *ctx, ovs_writeback *wb, const ovs_shop_loc *shop, int nclients);
/* From client `client`'s thread after it finished `step`: when it passed (an acquire that
 * got the lock; a check or act that did not fail), fire the faults registered for that
 * point and wait for them. A step that failed fires nothing: a fault after it would act
 * on a timeline the scenario did not have. Cheap when no fault is there. Accepts NULL.
 * Every step a client reaches is reported, passed or not, so that a fault that never
 * fired can say why. */
void ovs_faults_point(ovs_faults *fs, int client, enum ovs_op step, int passed);
/* From a client's thread when a request succeeded (a sale, a booking): the count that
 * `after = crowd:N` faults fire at, as soon as the main thread wakes - the crowd does not
 * wait for them. Only a [crowd] has such faults; without one this returns at once, so a
 * timeline's clients may call it too. Accepts NULL. */
void ovs_faults_crowd_ok(ovs_faults *fs);
/* From client `client`'s thread when it has nothing more to do. Accepts NULL. */
void ovs_faults_client_done(ovs_faults *fs, int client);
/* From a timeline client's thread before its start when its `after = FAULT` names fault
 * `fault` (an index in the scenario's faults): wait until that fault is over - both its
 * halves carried out: a kill-restart's node answering again, a timed pause resumed, a
 * timed cut healed - and return the monotonic time it was over, which the client's
 * `start` counts from. -1 when it never will be: it failed, it follows a step of a
 * client that finished without it (the run is then an error naming it), or stop was set
 * (it may be NULL). Accepts NULL (-1). */
int64_t ovs_faults_wait_over(ovs_faults *fs, int fault, atomic_int *stop);
/* The same for a client whose `after = CLIENT:STEP` names timeline client `client`'s
 * step: wait until that step first passed (ovs_faults_point with passed set: an acquire
 * that got the lock, a check or act that did not fail) and return when, or -1 when that
 * client finished without it or stop was set. Accepts NULL (-1). */
int64_t ovs_faults_wait_step(ovs_faults *fs, int client, enum ovs_op step, atomic_int *stop);
/* On the main thread, after t0 is fixed and before any client is released: wait for t0,
 * then fire every fault due at 0 ms, in file order. `at = 0ms` is the state the run starts
 * in ("three of five nodes killed"): were these fired while clients already ran, a fast
 * client would slip in between the first kill and the third. */
void ovs_faults_at_start(ovs_faults *fs, int64_t t0);
/* On the main thread, after t0 is fixed: fire timed and point faults until every client is
 * done, then carry out the second halves still due (resumes, heals, restarts) at once so
 * the servers are whole again for the checks. A fault that never fired (its time came
 * after every client was done, or its client never reached its point) makes the run an
 * error, named in ovs_faults_error with the reason: a scenario that was not played gets
 * no verdict. */
void ovs_faults_run(ovs_faults *fs, int64_t t0);
/* Client `client`'s crash record, which a crash fault targeting it sets (core/crash.h):
 * what the runner hands the client and its strategy as env.crash. The scheduler owns it;
 * valid until ovs_faults_free. NULL when fs is NULL or client is out of range. A crash is
 * carried out here, not by the ovs_fault_fn: it is done to a thread of this process and
 * its adapter, not to a server. */
ovs_crash *ovs_faults_crash(ovs_faults *fs, int client);
/* The faults' events (client -1, op fault). */
ovs_trace *ovs_faults_trace(ovs_faults *fs);
/* 0, or -1 with the first failure's reason in err. */
int ovs_faults_error(ovs_faults *fs, char *err, size_t errlen);
void ovs_faults_free(ovs_faults *fs);

#endif
