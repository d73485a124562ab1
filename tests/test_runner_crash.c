/* test_runner_crash.c - what the runner and the strategies make of a client's crash
 * (`action = crash`, `target = client:NAME`), through the real runner, a real
 * redis-server and a SQLite shop.
 *
 * Alice takes something (a lock, a checkout hold) and her client crashes with it; Bob
 * comes after. Each test reads the events the run recorded and the shop's rows, never
 * what a strategy says, and names in a comment the broken implementation each assertion
 * catches: a runner that still acts or releases after the crash, a crashed request
 * counted as sold or as an unknown outcome the checks forgive, a watchdog that keeps
 * renewing, a reservation that compensates or confirms for a dead buyer, a leaked unit
 * that the leak check lets through. Without redis-server the tests skip, except under
 * CI=true, where they fail (live.h). Timing leaves room for two busy cores: leases and
 * holds of 200 ms, judged with 40 ms of slack. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "runner_fixture.h"
#include "live.h"

#include "core/util.h"
#include "engine/checker.h"
#include "engine/holds.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "infra/topology.h"
#include "locks/holds.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"

#define MS OVS_NS_PER_MS
/* How early a lapsed lease or hold may seem to have lapsed, measured on our clock
 * against the server's: the acquire's own round trip and the scripts' clock reads. */
#define SLACK_NS (40 * MS)

/* A run of one scenario with one strategy, its shop and its servers, kept for the
 * assertions and freed by run_free. */
typedef struct crash_run {
    ovs_scenario sc;
    ovs_shop_loc loc;
    char path[96];
    ovs_params params;
    ovs_topology *topo;
    ovs_run_result res;
    ovs_shop *db;
} crash_run;

static void run_scenario(crash_run *r, const char *text, const ovs_strategy_methods *m,
                         const char *params)
{
    char err[256];

    memset(r, 0, sizeof(*r));
    rf_shop("crash.ini", text, &r->sc, &r->loc, r->path, sizeof(r->path));
    ovs_params_defaults(m, &r->params);
    if (ovs_params_set_list(m, &r->params, params, err, sizeof(err)) != 0)
        fail_msg("params: %s", err);
    int nodes = m->xNodes ? m->xNodes(&r->params) : 0;
    if (ovs_topology_start(&r->sc, nodes > 0 ? nodes : 1, NULL, &r->topo, err, sizeof(err)) != 0)
        fail_msg("topology: %s", err);
    ovs_run_spec spec = {
        .sc = &r->sc,
        .m = m,
        .params = &r->params,
        .redis = ovs_topology_masters(r->topo),
        .n_redis = ovs_topology_size(r->topo),
        .client_redis = ovs_topology_client_links(r->topo),
        .fault = ovs_topology_fault,
        .fault_node = ovs_topology_node,
        .settle = ovs_topology_settle,
        .fault_ctx = r->topo,
        .shop = &r->loc,
        .work_dir = ovs_topology_dir(r->topo),
    };
    if (ovs_run(&spec, &r->res) != 0)
        fail_msg("run: %s", r->res.error);
    assert_int_equal(r->res.status, OVS_RUN_OK);
    if (ovs_shop_open(&r->loc, &r->db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
}

static void run_free(crash_run *r)
{
    ovs_shop_close(r->db);
    ovs_run_result_free(&r->res);
    ovs_topology_stop(r->topo);
    ovs_scenario_free(&r->sc);
}

static int64_t scalar(const crash_run *r, const char *sql)
{
    int64_t v = -1;

    if (ovs_shop_scalar(r->db, sql, &v) != 0)
        fail_msg("%s: %s", sql, ovs_shop_errmsg(r->db));
    return v;
}

/* The instant of the crash fault on client:NAME, as its event says; fails the test when
 * there is none, or it did not crash the client. */
static int64_t crash_time_detail(const crash_run *r, const char *name, char *detail,
                                 size_t len)
{
    char target[64];

    snprintf(target, sizeof(target), "client:%s", name);
    for (int t = 0; t < r->res.ntraces; t++)
        for (size_t i = 0; i < r->res.traces[t]->n; i++) {
            const ovs_event *e = &r->res.traces[t]->ev[i];
            if (e->op == OVS_OP_FAULT && strcmp(e->key, target) == 0) {
                assert_int_equal(e->outcome, OVS_OUT_OK);
                assert_non_null(strstr(e->detail, "client crashed"));
                if (detail != NULL)
                    snprintf(detail, len, "%s", e->detail);
                return e->end_ns;
            }
        }
    fail_msg("no fault event on %s", target);
    return 0;
}

static int64_t crash_time(const crash_run *r, const char *name)
{
    return crash_time_detail(r, name, NULL, 0);
}

/* The first event of client c with op, or NULL. */
static const ovs_event *first_event(const crash_run *r, int c, enum ovs_op op)
{
    for (int t = 0; t < r->res.ntraces; t++)
        for (size_t i = 0; i < r->res.traces[t]->n; i++) {
            const ovs_event *e = &r->res.traces[t]->ev[i];
            if (e->client == c && e->op == op)
                return e;
        }
    return NULL;
}

static int count_events(const crash_run *r, int c, enum ovs_op op)
{
    int n = 0;

    for (int t = 0; t < r->res.ntraces; t++)
        for (size_t i = 0; i < r->res.traces[t]->n; i++)
            n += r->res.traces[t]->ev[i].client == c && r->res.traces[t]->ev[i].op == op;
    return n;
}

/* After the crash at `at`, client c starts nothing: no acquire, check, act, release or
 * strategy step begins after it. Its request event (begun before) is its last word, of
 * unknown outcome, saying why; nobody was told "sold". */
static void assert_dead_after(const crash_run *r, int c, int64_t at)
{
    for (int t = 0; t < r->res.ntraces; t++)
        for (size_t i = 0; i < r->res.traces[t]->n; i++) {
            const ovs_event *e = &r->res.traces[t]->ev[i];
            if (e->client != c || e->op == OVS_OP_REQUEST || e->op == OVS_OP_CRITICAL)
                continue;
            if (e->start_ns > at)
                fail_msg("client %d: %s on %s (%s) began %.1f ms after its crash", c,
                         ovs_op_name((enum ovs_op)e->op), e->key, e->detail,
                         (double)(e->start_ns - at) / 1e6);
        }
    const ovs_event *req = first_event(r, c, OVS_OP_REQUEST);
    assert_non_null(req);
    assert_int_equal(count_events(r, c, OVS_OP_REQUEST), 1);
    /* A runner that took the crashed request's code at face value would say "error" or
     * "sold"; one that ignored the crash would have waited out the whole think. */
    assert_int_equal(req->outcome, OVS_OUT_UNKNOWN);
    assert_string_equal(req->detail, "client crashed");
    assert_true(req->end_ns - at < 50 * MS);
}

/* ---------------------------------------------------------------------------------------
 * A lock's holder dies inside its section. */

static const char holder_text[] =
    "[scenario]\n"
    "name = holder-crash\n"
    "workload = inventory\n"
    "seed = 3\n"
    "stock = 1\n"
    "[client alice]\n"
    "request = buy sku=1\n"
    "think = 700ms\n"
    "[client bob]\n"
    "start = 50ms\n"
    "request = buy sku=1\n"
    "[fault dies]\n"
    "after = alice:check\n"
    "action = crash\n"
    "target = client:alice\n";

/* Alice holds a 200 ms lease when she crashes after her check; Bob asks at 50 ms and
 * retries every 20 ms. With adapter, the crash must have killed Alice's adapter process:
 * the fault says so with its pid. */
static void holder_crash(const ovs_strategy_methods *m, const char *params, int adapter)
{
    crash_run r;
    char detail[64];

    OVS_REQUIRE_REDIS();
    if (m == NULL)
        fail_msg("strategy not registered (strategies/ not loaded)");
    run_scenario(&r, holder_text, m, params);
    int64_t at = crash_time_detail(&r, "alice", detail, sizeof(detail));
    /* An adapter whose pid was never registered lives on, its library's timers too. */
    if (adapter)
        assert_non_null(strstr(detail, "SIGKILL pid"));
    else
        assert_null(strstr(detail, "SIGKILL"));
    assert_dead_after(&r, 0, at);
    /* No act and no release by a dead holder: a runner that finished the request would
     * sell twice or free the lock at once. */
    assert_int_equal(count_events(&r, 0, OVS_OP_ACT), 0);
    assert_int_equal(count_events(&r, 0, OVS_OP_RELEASE), 0);
    assert_int_equal(r.res.crashed, 1);
    /* Not an unknown outcome the stock checks would forgive. */
    assert_int_equal(r.res.unknown, 0);

    /* Bob gets the lock when the lease lapses, not before (a released lock: a runner or a
     * strategy that unlocks for the dead) and not never (a watchdog still renewing: Bob
     * gives up busy after 40 tries). */
    const ovs_event *alice_acq = first_event(&r, 0, OVS_OP_ACQUIRE);
    const ovs_event *bob_acq = first_event(&r, 1, OVS_OP_ACQUIRE);
    assert_non_null(alice_acq);
    assert_non_null(bob_acq);
    assert_int_equal(alice_acq->outcome, OVS_OUT_OK);
    if (bob_acq->outcome != OVS_OUT_OK)
        fail_msg("bob never got the lock: %s", bob_acq->detail);
    int64_t waited = bob_acq->end_ns - alice_acq->end_ns;
    if (waited < 200 * MS - SLACK_NS)
        fail_msg("bob got the lock %.1f ms after alice: before her 200 ms lease lapsed",
                 (double)waited / 1e6);
    assert_true(waited < 600 * MS);
    assert_int_equal(r.res.succeeded, 1);
    /* Bob's sale, and only his. */
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders WHERE buyer = 1"), 1);
    run_free(&r);
}

#define LEASE "ttl=200,retry_count=40,retry_delay=20,retry_jitter=0"

static void setnx_holder_crash_lease_lapses(void **state)
{
    (void)state;
    holder_crash(&ovs_strategy_setnx, LEASE, 0);
}

/* The watchdog would keep a live holder's lease forever; a dead holder's lapses. */
static void watchdog_holder_crash_renewals_stop(void **state)
{
    (void)state;
    holder_crash(&ovs_strategy_watchdog, LEASE, 0);
}

/* A lock in another process: the crash kills it at once, by the pid its instance
 * registered (the fault names it), and its lock is never released: it lapses at its TTL. */
static void python_setnx_holder_crash_adapter_killed(void **state)
{
    (void)state;
    holder_crash(ovs_strategy_find("python-setnx"), LEASE, 1);
}

/* node-redlock's automatic extension (`using`) renews a live holder's lock every 100 ms;
 * killed with its client, it stops, and the lock lapses. */
static void node_redlock_using_holder_crash_extension_dies(void **state)
{
    (void)state;
    holder_crash(ovs_strategy_find("node-redlock-using"), LEASE ",extension_threshold=100", 1);
}

/* ---------------------------------------------------------------------------------------
 * A buyer dies while paying for a checkout hold. */

#define CHECKOUT_HEAD                                                                        \
    "[scenario]\n"                                                                           \
    "name = checkout-crash\n"                                                                \
    "workload = inventory\n"                                                                 \
    "seed = 5\n"                                                                             \
    "stock = 1\n"                                                                            \
    "writeback_delay = 1ms\n"                                                                \
    "[client alice]\n"                                                                       \
    "request = buy sku=1\n"                                                                  \
    "think = 400ms\n"                                                                        \
    "[fault dies]\n"                                                                         \
    "at = 100ms\n"                                                                           \
    "action = crash\n"                                                                       \
    "target = client:alice\n"

static const char checkout_text[] = CHECKOUT_HEAD "[client bob]\n"
                                                  "start = 300ms\n"
                                                  "request = buy sku=1\n";

#define RESV_PARAMS "hold_ttl=200,pay_latency=20,pay_jitter=0,pay_fail=0"

static void hold_state(const crash_run *r, int buyer, char *buf, size_t len)
{
    char err[256];
    const ovs_endpoint *ep = &ovs_topology_masters(r->topo)[0];
    redisContext *c = ovs_topology_connect(ep, err, sizeof(err));

    if (c == NULL)
        fail_msg("redis: %s", err);
    redisReply *rep = redisCommand(c, "HGET " OVS_HOLD_PREFIX "%d state", buyer);
    assert_non_null(rep);
    snprintf(buf, len, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    redisFree(c);
}

/* Alice's hold outlives her; Bob's reserve returns it once expired and he buys. */
static void checkout_crash_hold_expires_for_bob(void **state)
{
    crash_run r;
    char got[32];

    (void)state;
    OVS_REQUIRE_REDIS();
    run_scenario(&r, checkout_text, &ovs_strategy_reservation, RESV_PARAMS);
    int64_t at = crash_time(&r, "alice");
    /* Her payment wait ends at the crash, not 420 ms later: no confirm or release step of
     * hers starts after it. */
    assert_dead_after(&r, 0, at);
    assert_int_equal(r.res.crashed, 1);
    assert_int_equal(r.res.unknown, 0);
    /* Given back by the expiry (Bob's reserve sweeps it), not by a compensation of the
     * dead buyer ("released") nor sold to her ("confirmed"). */
    hold_state(&r, 0, got, sizeof(got));
    assert_string_equal(got, OVS_HOLD_EXPIRED);
    hold_state(&r, 1, got, sizeof(got));
    assert_string_equal(got, OVS_HOLD_CONFIRMED);
    /* Bob's purchase after the expiry succeeds: one order, his. */
    assert_int_equal(r.res.succeeded, 1);
    const ovs_event *bob = first_event(&r, 1, OVS_OP_REQUEST);
    assert_non_null(bob);
    assert_int_equal(bob->outcome, OVS_OUT_OK);
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders WHERE buyer = 1"), 1);
    run_free(&r);
}

/* The checks over a Redis-holds run, as the cell runs them, into checks; returns how
 * many. */
static int check_redis_holds(crash_run *r, ovs_hold_facts *facts, ovs_check *checks, char *fig,
                             size_t figlen)
{
    char err[256];
    int64_t stock[1];
    unsigned char absent[1];

    memset(facts, 0, sizeof(*facts));
    if (ovs_holds_read_redis(&ovs_topology_masters(r->topo)[0], NULL, facts, err, sizeof(err)) != 0)
        fail_msg("holds: %s", err);
    if (ovs_topology_redis_stocks(r->topo, 1, 1, stock, absent, err, sizeof(err)) != 0)
        fail_msg("stock: %s", err);
    ovs_check_input in = { .unknown = r->res.unknown,
                           .redis_stock = 1,
                           .stock = stock,
                           .absent = absent,
                           .holds = 1,
                           .hold = facts };
    int n = ovs_check_run(r->db, &r->sc, r->res.traces, r->res.ntraces, r->res.t0, &in, checks,
                          fig, figlen, err, sizeof(err));
    if (n <= 0)
        fail_msg("checks: %s", err);
    ovs_hold_facts_free(facts); /* the records kept for results.db; the counts stay */
    return n;
}

static const ovs_check *find_check(const ovs_check *checks, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(checks[i].invariant, name) == 0)
            return &checks[i];
    fail_msg("no %s check", name);
    return NULL;
}

/* The leak check over a run: Alice alone crashes with her hold open; nobody reserves
 * after her, so nothing returns her expired hold. leaked_stock must count the unit: the
 * crashed request is of unknown outcome on the timeline, but it is no answer lost on the
 * wire, and the check must not forgive it as one. A runner that counted it among the
 * unknown outcomes (res.unknown) would make the check pass on a real leak. */
static void checkout_crash_unreturned_hold_is_leaked(void **state)
{
    static const char alone[] = CHECKOUT_HEAD;
    crash_run r;
    char fig[256];
    ovs_hold_facts facts;
    ovs_check checks[OVS_MAX_CHECKS];

    (void)state;
    OVS_REQUIRE_REDIS();
    run_scenario(&r, alone, &ovs_strategy_reservation, RESV_PARAMS);
    (void)crash_time(&r, "alice");
    /* Past the hold's expiry by the server's clock. */
    ovs_sleep_ns(250 * MS);
    int n = check_redis_holds(&r, &facts, checks, fig, sizeof(fig));
    /* The dead buyer's xClose swept nothing: a settling on the way out would hide it. */
    assert_int_equal(facts.open_expired, 1);
    const ovs_check *leak = find_check(checks, n, "leaked_stock");
    assert_false(leak->pass);
    assert_int_equal(leak->observed, 1);
    assert_true(find_check(checks, n, "oversold")->pass);
    assert_true(find_check(checks, n, "lost_orders")->pass);
    assert_non_null(strstr(fig, "leaked"));
    run_free(&r);
}

/* A broken variant: a hold that never expires (an hour, for a run of a second). Bob is
 * turned away from a unit held for a buyer who will never pay, and the checks must say
 * so: the unit is held, not leaked, but Redis stock stays a unit below SQL's with no
 * unknown outcome to explain it. Counted among the unknown outcomes, the crashed request
 * would excuse exactly that gap. */
static void checkout_crash_hold_that_never_expires_is_caught(void **state)
{
    crash_run r;
    char fig[256];
    ovs_hold_facts facts;
    ovs_check checks[OVS_MAX_CHECKS];

    (void)state;
    OVS_REQUIRE_REDIS();
    run_scenario(&r, checkout_text, &ovs_strategy_reservation,
                 "hold_ttl=3600000,pay_latency=20,pay_jitter=0,pay_fail=0");
    assert_int_equal(r.res.succeeded, 0);
    assert_int_equal(r.res.refused, 1);
    int n = check_redis_holds(&r, &facts, checks, fig, sizeof(fig));
    assert_int_equal(facts.open_live, 1);
    const ovs_check *div = find_check(checks, n, "divergence");
    assert_false(div->pass);
    assert_int_equal(div->observed, 1);
    assert_true(find_check(checks, n, "leaked_stock")->pass);
    assert_true(find_check(checks, n, "oversold")->pass);
    run_free(&r);
}

/* The same checkout with SQL holds: the crashed buyer's reaper (the shop's) keeps going
 * and returns the row; Bob buys. */
static void checkout_crash_sql_reaper_returns_the_hold(void **state)
{
    crash_run r;

    (void)state;
    OVS_REQUIRE_REDIS();
    run_scenario(&r, checkout_text, &ovs_strategy_reservation,
                 RESV_PARAMS ",holds=sql,reap_interval=20");
    int64_t at = crash_time(&r, "alice");
    assert_dead_after(&r, 0, at);
    assert_int_equal(r.res.crashed, 1);
    assert_int_equal(r.res.succeeded, 1);
    /* Alice's row returned by the reaper on expiry, never released by her. */
    assert_int_equal(scalar(&r, "SELECT count(*) FROM holds WHERE buyer = 0 AND state = '"
                                OVS_HOLD_EXPIRED "'"),
                     1);
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders WHERE buyer = 1"), 1);
    assert_int_equal(scalar(&r, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(scalar(&r, "SELECT COALESCE(sum(stock), 0) FROM skus"), 0);
    run_free(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(setnx_holder_crash_lease_lapses, rf_remove_dir),
        cmocka_unit_test_teardown(watchdog_holder_crash_renewals_stop, rf_remove_dir),
        cmocka_unit_test_teardown(python_setnx_holder_crash_adapter_killed, rf_remove_dir),
        cmocka_unit_test_teardown(node_redlock_using_holder_crash_extension_dies,
                                  rf_remove_dir),
        cmocka_unit_test_teardown(checkout_crash_hold_expires_for_bob, rf_remove_dir),
        cmocka_unit_test_teardown(checkout_crash_unreturned_hold_is_leaked, rf_remove_dir),
        cmocka_unit_test_teardown(checkout_crash_hold_that_never_expires_is_caught,
                                  rf_remove_dir),
        cmocka_unit_test_teardown(checkout_crash_sql_reaper_returns_the_hold, rf_remove_dir),
    };
    /* The shipped adapters, registered the way the command line registers them. */
    const char *src = getenv("OVS_SOURCE_DIR");
    char dir[600], err[600];
    snprintf(dir, sizeof(dir), "%s/strategies", src ? src : ".");
    if (ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("runner_crash", tests, NULL, NULL);
}
