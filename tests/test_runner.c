/* test_runner.c - what the runner makes of a release that undid, or may not have
 * committed, the section's writes.
 *
 * A lock that is a transaction (sql-pessimistic's BEGIN IMMEDIATE) commits the sale only
 * at its release. The runner must then take the request's outcome from the release: a
 * COMMIT that was rolled back (OVS_UNDONE) is a sale that certainly did not happen, one
 * whose fate is unknown (OVS_ERR_IO) is unknown - never "sold" because the act went well.
 * The strategies here are that transaction lock with its COMMIT replaced by the failure
 * under test, run through the real runner on a real SQLite shop; the checker judges from
 * the shop's rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner_fixture.h"

#include "engine/checker.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "locks/strategy.h"

static const char scenario_text[] =
    "[scenario]\n"
    "name = undone\n"
    "description = Two buyers, one unit; every COMMIT fails.\n"
    "workload = inventory\n"
    "seed = 1\n"
    "stock = 1\n"
    "[client alice]\n"
    "start = 0ms\n"
    "request = buy sku=1\n"
    "[client bob]\n"
    "start = 20ms\n"
    "request = buy sku=1\n";

/* What the fake's release does instead of COMMIT. */
static int release_code;

static int txn_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    if (s->env->shop->m->xBegin(s->env->shop, OVS_ISO_DEFAULT) != OVS_OK)
        return ovs_strategy_fail(s, OVS_BUSY, "busy");
    return OVS_OK;
}

/* The writes are rolled back whatever the code says: what differs is what the strategy
 * can tell the harness about them. */
static int txn_unlock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->env->shop->m->xRollback(s->env->shop);
    return ovs_strategy_fail(s, release_code, "COMMIT failed (test)");
}

static ovs_strategy_methods txn = {
    .version = 2,
    .name = "txn-commit-fails",
    .summary = "a writer lock whose COMMIT always fails",
    .unlock_commits = 1,
    .size = sizeof(ovs_strategy),
    .xOpen = rf_nothing_open,
    .xLock = txn_lock,
    .xUnlock = txn_unlock,
    .xClose = rf_nothing_close,
};

typedef struct outcome {
    int64_t succeeded, unknown, errors, orders;
    ovs_check lost;
} outcome;

static void run(int code, int commits, outcome *o)
{
    char path[96], err[256], fig[256];
    ovs_scenario sc;
    ovs_params params = { 0 };
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    ovs_shop *db;

    release_code = code;
    txn.unlock_commits = commits;
    ovs_shop_loc loc;
    rf_shop("undone.ini", scenario_text, &sc, &loc, path, sizeof(path));
    ovs_run_spec spec = { .sc = &sc, .m = &txn, .params = &params, .shop = &loc };
    assert_int_equal(ovs_run(&spec, &res), 0);
    o->succeeded = res.succeeded;
    o->unknown = res.unknown;
    o->errors = res.errors;
    assert_int_equal(ovs_shop_open(&loc, &db, err, sizeof(err)), 0);
    assert_int_equal(ovs_shop_scalar(db, "SELECT count(*) FROM orders", &o->orders), 0);
    int n = ovs_check_run(db, &sc, res.traces, res.ntraces, res.t0, NULL, checks, fig,
                          sizeof(fig), err, sizeof(err));
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        if (strcmp(checks[i].invariant, "lost_orders") == 0)
            o->lost = checks[i];
    ovs_shop_close(db);
    ovs_run_result_free(&res);
    ovs_scenario_free(&sc);
}

/* serve_ns bounds a crowd by time: 2 workers spending 20 ms on each of 200 buyers would
 * take 2 s; given 200 ms, they take no buyer after it, finish the ones they hold, and the
 * run ends OK with the buyers served counted - each one's order in SQL. */
static void crowd_stops_taking_buyers_when_its_time_is_up(void **state)
{
    static const char text[] =
        "[scenario]\n"
        "name = timed\n"
        "description = 200 buyers, 2 workers, 20 ms each.\n"
        "workload = inventory\n"
        "seed = 1\n"
        "stock = 200\n"
        "[crowd]\n"
        "buyers = 200\n"
        "arrival = burst\n"
        "workers = 2\n"
        "think = 20ms\n"
        "request = buy sku=1\n";
    char path[96], err[256];
    ovs_scenario sc;
    ovs_params params = { 0 };
    ovs_run_result res;
    ovs_shop *db;
    int64_t orders;

    (void)state;
    ovs_shop_loc loc;
    rf_shop("timed.ini", text, &sc, &loc, path, sizeof(path));
    ovs_run_spec spec = { .sc = &sc, .m = rf_always_free(), .params = &params, .shop = &loc,
                          .serve_ns = 200 * 1000000LL };
    assert_int_equal(ovs_run(&spec, &res), 0);
    assert_int_equal(res.status, OVS_RUN_OK);
    assert_true(res.requests >= 2);
    assert_true(res.requests < 200);
    assert_int_equal(res.succeeded, res.requests);
    assert_int_equal(ovs_shop_open(&loc, &db, err, sizeof(err)), 0);
    assert_int_equal(ovs_shop_scalar(db, "SELECT count(*) FROM orders", &orders), 0);
    assert_int_equal(orders, res.requests);
    ovs_shop_close(db);
    ovs_run_result_free(&res);
    ovs_scenario_free(&sc);
}

/* Rolled back: both buyers' sales failed, nothing reached SQL, and nobody was told
 * "sold" - had the runner trusted the act, the checker would count two lost orders. */
static void undone_commit_fails_the_request(void **state)
{
    outcome o;
    (void)state;
    run(OVS_UNDONE, 1, &o);
    assert_int_equal(o.orders, 0);
    assert_int_equal(o.succeeded, 0);
    assert_int_equal(o.errors, 2);
    assert_int_equal(o.lost.observed, 0);
}

/* A commit whose fate is unknown makes the request unknown, not sold. */
static void unknown_commit_is_unknown(void **state)
{
    outcome o;
    (void)state;
    run(OVS_ERR_IO, 1, &o);
    assert_int_equal(o.succeeded, 0);
    assert_int_equal(o.unknown, 2);
    assert_int_equal(o.lost.observed, 0);
}

/* The same lost release from a lock that is not the transaction (a Redis lease) says
 * nothing about the writes: the act's answer stands, and here - the writes having been
 * rolled back behind the harness's back - the checker finds the acknowledged sales lost.
 * That is what the flag is for: without it the runner cannot know. */
static void release_of_a_plain_lock_does_not_decide(void **state)
{
    outcome o;
    (void)state;
    run(OVS_ERR_IO, 0, &o);
    assert_int_equal(o.succeeded, 2);
    assert_int_equal(o.orders, 0);
    assert_int_equal(o.lost.observed, 2);
    assert_false(o.lost.pass);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(undone_commit_fails_the_request, rf_remove_dir),
        cmocka_unit_test_teardown(unknown_commit_is_unknown, rf_remove_dir),
        cmocka_unit_test_teardown(release_of_a_plain_lock_does_not_decide, rf_remove_dir),
        cmocka_unit_test_teardown(crowd_stops_taking_buyers_when_its_time_is_up, rf_remove_dir),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
