/* runner.h - the driver: client threads released together, replaying a scenario.
 *
 * Each client thread opens its own shop connection and strategy instance, waits at a
 * barrier, then follows the schedule fixed by the scenario's seed: scripted start offsets
 * for timeline clients, burst or Poisson arrivals for a crowd served by a worker pool.
 * Every step is recorded with monotonic start and end times and an outcome. */
#ifndef OVS_RUNNER_H
#define OVS_RUNNER_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/checker.h"
#include "engine/faults.h"
#include "scenario/scenario.h"
#include "locks/strategy.h"
#include "core/trace.h"

typedef struct ovs_writeback ovs_writeback;
typedef struct ovs_shop_loc ovs_shop_loc;

typedef struct ovs_run_spec {
    const ovs_scenario *sc;
    const ovs_strategy_methods *m;
    const ovs_params *params;
    const ovs_endpoint *redis;           /* masters; n_redis >= what m needs */
    int n_redis;
    const ovs_endpoint *const *client_redis; /* per timeline client, its own view of the
                                            masters (through its link proxies); a crowd's
                                            workers all use row 0; NULL: every client uses
                                            redis */
    const ovs_endpoint *read_from;       /* env.read_from for every client; may be NULL */
    ovs_fault_fn fault;                  /* carries out the scenario's faults; NULL when it
                                            has none */
    ovs_fault_node_fn fault_node;        /* the server a node fault acts on, for recovery
                                            after a restart; with fault */
    int (*settle)(void *ctx, char *err, size_t errlen); /* once after xPrepare, before any
                                            client opens: waits until every replica holds
                                            what xPrepare wrote, so that replication lags
                                            the run's writes, not the shop's initial state.
                                            0 or -1 with err; NULL when nothing to wait for.
                                            ctx is fault_ctx */
    void *fault_ctx;
    const ovs_shop_loc *shop;            /* created by the caller (ovs_shop_create) */
    const char *work_dir;                /* the run's private directory (the fleet's), in
                                            which the strategy's files get a directory of
                                            their own; NULL: one is made for the run */
    atomic_int *stop;                    /* may be NULL; when set, clients take no new
                                            requests and the run ends aborted */
    int64_t serve_ns;                    /* a crowd's clients take no new buyer once this
                                            long has passed since the start (0: every
                                            buyer is served); the run still ends OK, its
                                            requests counting the buyers served.
                                            `oversell bench` bounds a load by time, so
                                            that a strategy that crawls (a library
                                            live-locking on a hot key) is measured in
                                            seconds, not in an hour */
    const char *key_prefix;              /* env.key_prefix: what every Redis key of the run
                                            starts with (core/keys.h); NULL as "" */
    int no_events;                       /* 1: clients record no events (requests, acquire,
                                            check, act, critical, release), only counters
                                            and latencies; `oversell bench` sets it to
                                            measure what recording costs. Checks that read
                                            events (mutual exclusion, lost orders) then see
                                            none. 0 for every real run */
} ovs_run_spec;

/* OVS_RUN_NA: not run, because the strategy does not exist on the cell's shop back end
 * (its backends field); recorded so that the matrix says so instead of leaving a hole. */
enum ovs_run_status { OVS_RUN_OK, OVS_RUN_ABORTED, OVS_RUN_ERROR, OVS_RUN_NA };
/* "ok", "aborted", "error", "n/a": as the results database stores a run's status. */
const char *ovs_run_status_name(enum ovs_run_status s);

typedef struct ovs_run_result {
    enum ovs_run_status status;
    char error[256];          /* why, when status is ERROR */
    int64_t t0;               /* monotonic instant the clients were released */
    int64_t duration_ns;      /* t0 to the last client's finish (write-back excluded) */
    ovs_trace **traces;       /* one per client thread, then the write-back worker's */
    int ntraces;
    int64_t requests, succeeded, refused, busy, unknown;
    int64_t stale;            /* refused by the shop for a stale fencing token (OVS_STALE):
                                 the holder's lock had moved on */
    int64_t errors;           /* certainly failed on an error, not on the shop's answer */
    int64_t acquire_fail;     /* requests whose lock was not acquired after retries */
    int64_t retries;          /* attempts beyond the first, summed */
    int64_t crashed;          /* requests cut short by their client's crash (a crash fault):
                                 recorded with outcome unknown, and counted here rather
                                 than in unknown, whose tolerance the stock checks grant
                                 to answers lost on the wire */
    int64_t writeback_failed; /* queued orders that did not reach SQL */
    double throughput;        /* requests per second over duration_ns */
    ovs_latency latency;      /* over every request: its request event, or in a run
                                 without events the latency kept in its place */
} ovs_run_result;

/* Run the scenario once with the strategy. Returns 0 when the run happened (its status may
 * still be ABORTED), -1 when it could not start or broke (status ERROR, error says why).
 * Always free the result with ovs_run_result_free. */
int ovs_run(const ovs_run_spec *spec, ovs_run_result *res);
void ovs_run_result_free(ovs_run_result *res);

/* The lock keys a request takes, in the order they must be taken (sorted, so that clients
 * taking several never deadlock). Writes up to max keys of OVS_KEY_MAX bytes; returns how
 * many.
 * inventory: "sku:<id>"; booking by granularity: "hotel:<h>", "hotel:<h>:<check_in>",
 * or "hotel:<h>:night:<date>" per night. */
int ovs_request_keys(const ovs_scenario *sc, const ovs_request *r, char (*keys)[OVS_KEY_MAX],
                     int max);

#endif
