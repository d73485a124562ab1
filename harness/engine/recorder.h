/* recorder.h - the results database: runs, events and checks.
 *
 * One SQLite file (default reports/out/results.db). A run, its events and its checks are
 * written in one transaction when the run ends, so a run is either there whole or not at
 * all; an interrupted run is written with status 'aborted'. The schema is the contract
 * the reports read:
 *
 *   runs(id, scenario, scenario_file, description, workload, strategy, strategy_rank
 *        (its place in the registry: the order of matrix columns), params, seed,
 *        expect 'safe'|'unsafe'|NULL, redis_version, sqlite_version, started_at (UTC ISO),
 *        duration_ns, status 'ok'|'aborted'|'error', error, verdict 'safe'|'unsafe'|NULL,
 *        figure, shop_db, requests, succeeded, refused, busy, unknown, errors, throughput
 *        (requests/s), p50_ns, p99_ns, max_ns, acquire_fail, retries, backend (the
 *        shop's: 'sqlite', 'postgresql', 'mysql'; part of the run's identity with scenario
 *        and strategy), backend_version (its server's), lost_sales, unavailable,
 *        retries_per_success (the liveness figures, engine/liveness.h; NULL when not
 *        known, and in runs recorded before they existed))
 *   events(run, client, op, key, start_ns, end_ns, outcome 'ok'|'fail'|'unknown', detail)
 *        times relative to the run's t0
 *   checks(run, invariant, observed, expected, verdict 'pass'|'fail', detail) */
#ifndef OVS_RECORDER_H
#define OVS_RECORDER_H

#include <stdint.h>

#include <sqlite3.h>

#include "engine/checker.h"
#include "engine/liveness.h"
#include "core/trace.h"

typedef struct ovs_run_row {
    const char *scenario, *scenario_file, *description, *workload;
    const char *strategy, *params;
    int strategy_rank;        /* index in ovs_strategy_list() */
    uint64_t seed;
    int expect;               /* 1 safe, 0 unsafe, -1 none */
    const char *redis_version, *sqlite_version;
    const char *started_at;   /* UTC ISO 8601 */
    int64_t duration_ns;
    const char *status;       /* "ok" | "aborted" | "error" | "n/a" */
    const char *error;        /* NULL unless status is error, or n/a (then: where it runs) */
    const char *verdict;      /* "safe" | "unsafe" | NULL */
    const char *figure;       /* the headline behind the verdict */
    const char *shop_db;
    int64_t requests, succeeded, refused, busy, unknown;
    int64_t errors;           /* requests that certainly failed on an error (not sent) */
    double throughput;
    int64_t p50_ns, p99_ns, max_ns;
    int64_t acquire_fail, retries;
    const char *backend;      /* the shop's back end (its m->name); NULL reads "sqlite" */
    const char *backend_version; /* its server's version, or NULL */
    const ovs_liveness *live; /* the liveness figures; NULL: not known (NULL columns) */
    int64_t t0;               /* monotonic t0: event times are stored relative to it */
    /* Redis at check time, for tables redis_stock and redis_holds; NULL: not read. */
    const int64_t *redis_stock;          /* stock:<sku> for sku 1..skus */
    const unsigned char *redis_absent;   /* with it: 1 where that key did not exist */
    int skus;
    const ovs_hold_facts *redis_holds;   /* holds kept in Redis, as read */
} ovs_run_row;

typedef struct ovs_results {
    sqlite3 *db;
    int err;
    char errstr[128];
} ovs_results;

/* Open (creating the schema if needed, and adding to an older file's runs the columns
 * it lacks). Returns NULL with a reason in err. */
ovs_results *ovs_results_open(const char *path, char *err, size_t errlen);
/* Write a run, its events, its checks and its Redis end state in one transaction. Returns the run id, or -1
 * (r->errstr). */
int64_t ovs_results_write(ovs_results *r, const ovs_run_row *row, ovs_trace *const *traces,
                          int ntraces, const ovs_check *checks, int nchecks);
void ovs_results_close(ovs_results *r);

#endif
