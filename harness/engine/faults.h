/* faults.h - scheduling a scenario's faults during a run.
 *
 * Faults fire at a time from t0 (`at`) or at a named point of a timeline client's step
 * (`after = alice:check`: after Alice's check returns, before her next step). A client that
 * reaches such a point waits until the fault is done, so "the master dies between the
 * holder's check and its write" happens exactly there, every run. Every fault is carried
 * out on the runner's main thread - the thread that started the fleet, which a restart
 * must fork from - through the ovs_fault_fn the caller provides. */
#ifndef OVS_FAULTS_H
#define OVS_FAULTS_H

#include <stdint.h>

#include "engine/runner.h"
#include "scenario/scenario.h"
#include "core/trace.h"

typedef struct ovs_faults ovs_faults;

/* NULL when out of memory. */
ovs_faults *ovs_faults_new(const ovs_scenario *sc, ovs_fault_fn fn, void *ctx,
                           ovs_writeback *wb, int nclients);
/* From client `client`'s thread after it finished `step`: fire the faults registered for
 * that point and wait for them. Cheap when none are. Accepts NULL. Every step a client
 * passes is reported, so that a fault whose point was never reached can say why. */
void ovs_faults_point(ovs_faults *fs, int client, enum ovs_op step);
/* From a client thread when it has nothing more to do. Accepts NULL. */
void ovs_faults_client_done(ovs_faults *fs);
/* On the main thread, after t0 is fixed: fire timed and point faults until every client is
 * done, then carry out the second halves still due (resumes, heals, restarts) at once so
 * the servers are whole again for the checks. A fault that never fired (its time came
 * after every client was done, or its client never reached its point) makes the run an
 * error, named in ovs_faults_error with the reason: a scenario that was not played gets
 * no verdict. */
void ovs_faults_run(ovs_faults *fs, int64_t t0);
/* The faults' events (client -1, op fault). */
ovs_trace *ovs_faults_trace(ovs_faults *fs);
/* 0, or -1 with the first failure's reason in err. */
int ovs_faults_error(ovs_faults *fs, char *err, size_t errlen);
void ovs_faults_free(ovs_faults *fs);

#endif
