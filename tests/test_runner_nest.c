/* test_runner_nest.c - what the runner does with a request that re-enters its own lock
 * (a scenario's `reenter = 1`).
 *
 * The strategies here are one in-process lock on the one key, shared by every client's
 * instance: a counted one that lets its owner in again, and one that refuses any holder,
 * itself included, as a lease that is not reentrant does. They run through the real
 * runner on a real SQLite shop, and the checker judges from the shop's rows and the
 * recorded events; the lock's own counters say what the runner called. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "runner_fixture.h"

#include "engine/checker.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "locks/strategy.h"

/* The one lock. Clients are threads of this process, so it is guarded; the test reads it
 * after the run, once every thread has been joined. */
static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;
static const ovs_strategy *owner; /* the instance holding it, or NULL */
static int depth;                 /* its owner's xLock calls not yet matched */
static int reentrant;             /* 1: the owner may lock again; 0: it is refused */
static int lose_in_nest;          /* 1: the lease is lost while the owner is nested */
static int locks, unlocks;        /* calls, all clients together */

static void reset(int reentrant_lock, int lose)
{
    owner = NULL;
    depth = 0;
    reentrant = reentrant_lock;
    lose_in_nest = lose;
    locks = unlocks = 0;
}

static int one_lock(ovs_strategy *s, const char *key)
{
    int rc = OVS_OK, mine = 0;

    (void)key;
    s->attempts = 1;
    pthread_mutex_lock(&lock_mu);
    locks++;
    mine = owner == s;
    if (owner == NULL) {
        owner = s;
        depth = 1;
    } else if (mine && reentrant) {
        depth++;
    } else {
        rc = OVS_BUSY;
    }
    pthread_mutex_unlock(&lock_mu);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_BUSY, "held by %s", mine ? "this client"
                                                                 : "another client");
    return OVS_OK;
}

static int one_unlock(ovs_strategy *s, const char *key)
{
    int rc = OVS_OK;

    (void)key;
    pthread_mutex_lock(&lock_mu);
    unlocks++;
    if (lose_in_nest && owner == s && depth > 1)
        owner = NULL; /* expired inside the nest: nobody holds it any more */
    if (owner != s)
        rc = OVS_BUSY;
    else if (--depth == 0)
        owner = NULL;
    pthread_mutex_unlock(&lock_mu);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_BUSY, "not held by this client");
    return OVS_OK;
}

static const ovs_strategy_methods one = {
    .version = 1,
    .name = "one-lock",
    .summary = "one in-process lock, counted or not",
    .size = sizeof(ovs_strategy),
    .xOpen = rf_nothing_open,
    .xLock = one_lock,
    .xUnlock = one_unlock,
    .xClose = rf_nothing_close,
};

/* What one run left: the runner's counters, the shop's orders, two checks, and the events
 * of client 0 by op. */
typedef struct outcome {
    int64_t succeeded, refused, busy, acquire_fail, orders;
    ovs_check oversold, mutex;
    int acquire, nested_acquire, release, nested_release, failed_release, critical, act;
    char nested_release_detail[64];
} outcome;

static void run(const char *text, const ovs_strategy_methods *m, outcome *o)
{
    char path[96], err[256], fig[256];
    ovs_scenario sc;
    ovs_params params = { 0 };
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    ovs_shop *db;

    memset(o, 0, sizeof(*o));
    ovs_shop_loc loc;
    rf_shop("nest.ini", text, &sc, &loc, path, sizeof(path));
    ovs_run_spec spec = { .sc = &sc, .m = m, .params = &params, .shop = &loc };
    assert_int_equal(ovs_run(&spec, &res), 0);
    assert_int_equal(res.status, OVS_RUN_OK);
    o->succeeded = res.succeeded;
    o->refused = res.refused;
    o->busy = res.busy;
    o->acquire_fail = res.acquire_fail;
    assert_int_equal(ovs_shop_open(&loc, &db, err, sizeof(err)), 0);
    assert_int_equal(ovs_shop_scalar(db, "SELECT count(*) FROM orders", &o->orders), 0);
    int n = ovs_check_run(db, &sc, res.traces, res.ntraces, res.t0, NULL, checks, fig,
                          sizeof(fig), err, sizeof(err));
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(checks[i].invariant, "oversold") == 0)
            o->oversold = checks[i];
        if (strcmp(checks[i].invariant, "mutex_overlaps") == 0)
            o->mutex = checks[i];
    }
    for (int t = 0; t < res.ntraces; t++) {
        for (size_t i = 0; i < res.traces[t]->n; i++) {
            const ovs_event *e = &res.traces[t]->ev[i];
            int nested = strncmp(e->detail, OVS_NESTED, strlen(OVS_NESTED)) == 0;
            if (e->client != 0)
                continue;
            if (e->op == OVS_OP_ACQUIRE) {
                o->acquire++;
                o->nested_acquire += nested;
            } else if (e->op == OVS_OP_RELEASE) {
                o->release++;
                o->failed_release += e->outcome != OVS_OUT_OK;
                if (nested) {
                    o->nested_release++;
                    snprintf(o->nested_release_detail, sizeof(o->nested_release_detail), "%s",
                             e->detail);
                }
            } else if (e->op == OVS_OP_CRITICAL) {
                o->critical++;
            } else if (e->op == OVS_OP_ACT) {
                o->act++;
            }
        }
    }
    ovs_shop_close(db);
    ovs_run_result_free(&res);
    ovs_scenario_free(&sc);
}

#define SCENARIO(stock)                                                                      \
    "[scenario]\n"                                                                           \
    "name = nest\n"                                                                          \
    "workload = inventory\n"                                                                 \
    "seed = 1\n"                                                                             \
    "stock = " stock "\n"

/* Alice re-enters her lock for a 150 ms think; Bob asks at 50 ms, inside her nest. The
 * margins are wide so that a busy machine (a sanitizer, another build) cannot reorder the
 * two: every assertion below depends on Alice holding first. */
static const char alice_nests_bob_asks[] =
    SCENARIO("1")
    "[client alice]\n"
    "request = buy sku=1\n"
    "think = 150ms\n"
    "reenter = 1\n"
    "[client bob]\n"
    "start = 50ms\n"
    "request = buy sku=1\n";

static const char alice_nests[] =
    SCENARIO("1")
    "[client alice]\n"
    "request = buy sku=1\n"
    "think = 20ms\n"
    "reenter = 1\n";

/* A counted lock lets Alice in again: she sells, her nest taken and given back through
 * the strategy (two locks, two unlocks of hers, the lock free at the end), one critical
 * section of hers; Bob, asking inside her nest, is refused by the lock and sells nothing.
 * A runner that dropped the outer hold at the inner release, or never nested, would show
 * here as other counts. */
static void reentrant_lock_nests_and_sells(void **state)
{
    outcome o;

    (void)state;
    reset(1, 0);
    run(alice_nests_bob_asks, &one, &o);
    assert_int_equal(o.orders, 1);
    assert_int_equal(o.succeeded, 1);
    assert_int_equal(o.busy, 1); /* Bob: held by another client */
    assert_int_equal(locks, 3);  /* Alice's two, Bob's one */
    assert_int_equal(unlocks, 2);
    assert_null(owner);
    assert_int_equal(depth, 0);
    assert_int_equal(o.acquire, 2);
    assert_int_equal(o.nested_acquire, 1);
    assert_int_equal(o.release, 2);
    assert_int_equal(o.nested_release, 1);
    assert_int_equal(o.failed_release, 0);
    assert_string_equal(o.nested_release_detail, OVS_NESTED);
    assert_int_equal(o.critical, 1);
    assert_int_equal(o.act, 1);
    assert_true(o.oversold.pass);
    assert_true(o.mutex.pass);
}

/* A lock that is not reentrant finds its own key taken: the request gives up busy, a
 * lock-acquire failure, nothing acted and no order; the outer hold is still released, so
 * the lock is free at the end (two locks, one unlock). Without reenter the same lock
 * sells: the busy is the nest's doing. */
static void self_deadlock_is_busy_and_releases_the_outer_lock(void **state)
{
    outcome o;

    (void)state;
    reset(0, 0);
    run(alice_nests, &one, &o);
    assert_int_equal(o.orders, 0);
    assert_int_equal(o.succeeded, 0);
    assert_int_equal(o.busy, 1);
    assert_int_equal(o.acquire_fail, 1);
    assert_int_equal(locks, 2);
    assert_int_equal(unlocks, 1);
    assert_null(owner);
    assert_int_equal(o.acquire, 2);
    assert_int_equal(o.nested_acquire, 1);
    assert_int_equal(o.release, 1);
    assert_int_equal(o.nested_release, 0);
    assert_int_equal(o.act, 0);
    rf_remove_dir(NULL);

    reset(0, 0);
    run(SCENARIO("1") "[client alice]\nrequest = buy sku=1\nthink = 20ms\n", &one, &o);
    assert_int_equal(o.orders, 1);
    assert_int_equal(o.busy, 0);
    assert_int_equal(locks, 1);
    assert_int_equal(unlocks, 1);
}

/* A lease lost inside the nest: the inner release says so and is recorded as failed, the
 * outer one too (nobody holds it), and the request still acts - the helper returned, its
 * caller goes on - so the sale is in SQL. */
static void release_lost_in_the_nest_is_recorded_and_the_request_acts(void **state)
{
    outcome o;

    (void)state;
    reset(1, 1);
    run(alice_nests, &one, &o);
    assert_int_equal(o.orders, 1);
    assert_int_equal(o.succeeded, 1);
    assert_int_equal(unlocks, 2);
    assert_int_equal(o.release, 2);
    assert_int_equal(o.failed_release, 2);
    assert_string_equal(o.nested_release_detail, OVS_NESTED ": not owner");
    assert_int_equal(o.act, 1);
}

/* The checker: a client's nest is no second holder, another client inside is. Under a
 * lock that is always free, Alice nesting alone overlaps nothing; with Bob inside her
 * nest there is exactly one overlapping pair, Alice's and Bob's, and with two units each
 * sells one (nothing oversold: the overlap is the finding). */
static void nest_is_no_second_holder_another_client_is(void **state)
{
    outcome o;

    (void)state;
    run(alice_nests, rf_always_free(), &o);
    assert_int_equal(o.orders, 1);
    assert_int_equal(o.nested_acquire, 1);
    assert_true(o.mutex.pass);
    assert_int_equal(o.mutex.observed, 0);
    rf_remove_dir(NULL);

    run(SCENARIO("2")
        "[client alice]\nrequest = buy sku=1\nthink = 150ms\nreenter = 1\n"
        "[client bob]\nstart = 50ms\nrequest = buy sku=1\n", rf_always_free(), &o);
    assert_int_equal(o.orders, 2);
    assert_true(o.oversold.pass);
    assert_false(o.mutex.pass);
    assert_int_equal(o.mutex.observed, 1);
}

/* A crowd's reenter: every buyer nests, one worker serving them in turn under the counted
 * lock, so each buyer's two locks and two unlocks leave it free for the next. */
static void crowd_buyers_nest(void **state)
{
    outcome o;

    (void)state;
    reset(1, 0);
    run(SCENARIO("3")
        "[crowd]\nbuyers = 3\nworkers = 1\nthink = 5ms\nrequest = buy sku=1\nreenter = 1\n",
        &one, &o);
    assert_int_equal(o.orders, 3);
    assert_int_equal(o.succeeded, 3);
    assert_int_equal(locks, 6);
    assert_int_equal(unlocks, 6);
    assert_null(owner);
    assert_int_equal(o.nested_acquire, 1); /* buyer 0's */
    assert_int_equal(o.nested_release, 1);
    assert_true(o.mutex.pass);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(reentrant_lock_nests_and_sells, rf_remove_dir),
        cmocka_unit_test_teardown(self_deadlock_is_busy_and_releases_the_outer_lock,
                                  rf_remove_dir),
        cmocka_unit_test_teardown(release_lost_in_the_nest_is_recorded_and_the_request_acts,
                                  rf_remove_dir),
        cmocka_unit_test_teardown(nest_is_no_second_holder_another_client_is, rf_remove_dir),
        cmocka_unit_test_teardown(crowd_buyers_nest, rf_remove_dir),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("runner_nest", tests, NULL, NULL);
}
