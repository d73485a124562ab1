/* cell.h - one cell of the matrix: a scenario run once with one strategy, end to end.
 *
 * Starts the Redis fleet the strategy needs, creates a fresh shop database, runs the
 * clients, drains the write-back queue, checks the invariants from the shop's SQL state
 * and the recorded events, and writes the run to the results database. */
#ifndef OVS_CELL_H
#define OVS_CELL_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/recorder.h"
#include "engine/runner.h"
#include "scenario/scenario.h"
#include "locks/strategy.h"
#include "core/shopdb.h"

typedef struct ovs_cell {
    const ovs_scenario *sc;
    const ovs_strategy_methods *m;
    ovs_params params;           /* resolved: scenario section, then command-line values */
    const char *shop_dir;        /* SQLite: the shop file goes here as
                                    <scenario>.<strategy>.db */
    const ovs_shopdb_methods *sql; /* the shop's back end; NULL: SQLite */
    const char *sql_url;         /* a server back end: its URL; the run gets a namespace of
                                    its own there (engine/shop.h), dropped after the run
                                    has been checked and recorded unless keep_shop */
    int keep_shop;               /* 1: leave a server shop's namespace in place */
    const char *redis_server;    /* NULL: find one */
    atomic_int *stop;            /* SIGINT flag; may be NULL */
    int64_t serve_ns;            /* ovs_run_spec.serve_ns: 0 but in `oversell bench`'s
                                    loads */
    int seed_given;              /* 1: run with seed instead of the scenario's own */
    uint64_t seed;
    const char *shop_tag;        /* SQLite: inserted in the shop's file name
                                    (<scenario>.<strategy>.<tag>.db), so the runs of one
                                    cell repeated or swept each keep their own; NULL: none */
    int no_events;               /* ovs_run_spec.no_events: 1 only for `oversell bench`'s
                                    recording-cost runs; the figure then says which checks
                                    had no events to read */
    const ovs_endpoint *own_redis; /* `--redis`: the user's servers to run on instead of
                                    starting any, n_own_redis of them; NULL: the harness
                                    starts its own */
    int n_own_redis;
    const char *key_prefix;      /* with own_redis: what every key of this run starts with
                                    (core/keys.h), unique to the run; deleted after it */
} ovs_cell;

typedef struct ovs_cell_result {
    int64_t run_id;        /* row in runs, or -1 when nothing was written */
    enum ovs_run_status status; /* OK, ABORTED, ERROR, or NA (error says where it runs) */
    int safe;              /* 1 every invariant held, 0 not (valid when status is OK) */
    int expect;            /* the scenario's [expect] for this strategy: 1, 0, -1 none */
    int expect_stale;      /* its [expect] of stale answers: 1 some, 0 none, -1 not said */
    char figure[256];      /* headline behind the verdict */
    int64_t oversold;      /* the shop-level figure: units oversold, or double-booked pairs */
    int64_t stale_answers; /* answers that contradicted SQL when given (core/answer.h), or
                              -1 when the strategy answers none (no xAvailable) */
    char error[256];       /* why, for ERROR */
    char shop[700];        /* where the shop was (ovs_shop_loc_describe), and whether it
                              is still there */
    double seconds;        /* wall time of the whole cell */
} ovs_cell_result;

/* Play and record, one after the other. Returns 0 when a run was recorded (whatever its
 * verdict), OVS_ERR_ENV when the machine could not run it (no redis-server...; nothing
 * written), OVS_ERR otherwise. */
int ovs_cell_run(const ovs_cell *cell, ovs_results *db, ovs_cell_result *out);

/* A run played and judged, not yet written to a results database. */
typedef struct ovs_cell_played ovs_cell_played;

/* ovs_cell_run in two halves, so runs side by side can be written in an order of the
 * caller's, whatever order they end in, without a worker waiting with its servers up:
 * play runs and judges the cell, stops its servers and drops a server shop, and fills
 * out but for run_id; on 0, *played holds the run to write. Returns as ovs_cell_run, with
 * *played NULL unless 0. */
int ovs_cell_play(const ovs_cell *cell, ovs_cell_result *out, ovs_cell_played **played);
/* Write played to db (out->run_id, or -1 with out->error) and free it. Not thread-safe on
 * one db. Returns 0 or OVS_ERR. */
int ovs_cell_record(ovs_cell_played *played, ovs_results *db, ovs_cell_result *out);
/* Free a played run without writing it (a stopped matrix). Accepts NULL. */
void ovs_cell_played_free(ovs_cell_played *played);

/* Redis masters the cell needs: the scenario's [redis] nodes or the strategy's own need. */
int ovs_cell_nodes(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p);

/* 1 when the strategy keeps the stock in Redis (on master 0) for this scenario, so the
 * divergence check of Redis against SQL is owed after the run. */
int ovs_cell_owes_redis_stock(const ovs_scenario *sc, const ovs_strategy_methods *m,
                              const ovs_params *p);

/* 0 when the cell can be run and judged; 1 when it is n/a, with why in why ("n/a on
 * sqlite (sql-advisory runs on postgresql, mysql)"): the strategy does not exist on the
 * back end, its parameters do not fit the workload (xFits), it cannot follow the scenario's
 * Sentinel (no_sentinel), or the scenario kills master 0 for good while the strategy keeps its stock
 * there, so that the stock it sold from cannot be read back and compared with SQL. With
 * backend NULL, only the scenario's side is asked. */
int ovs_cell_na(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p,
                const char *backend, char *why, size_t len);
/* The same question on the user's servers own[0..n_own) (`--redis`, or `--sentinel`: one
 * master with .sentinels, or `--cluster`), asked after ovs_cell_na: 1 with why when the scenario needs
 * process control of a server (a fault done to a node or a link, replicas, Sentinels,
 * persistence settings), more masters than were given (on --sentinel, more than one), the
 * strategy connects to Redis by itself (an adapter, a plugin) and cannot be given the
 * run's password and key prefix, or, on --sentinel, it reaches Redis by address only
 * (no_sentinel). On --cluster (own[] every master of the user's cluster, .cluster set) a
 * scenario's `cluster = N` needs no control, and what keeps a strategy off a scenario's
 * cluster keeps it off the user's too. */
int ovs_cell_na_own(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p,
                    const ovs_endpoint *own, int n_own, char *why, size_t len);

#endif
