/* test_contract.c - one contract, run over every registered strategy.
 *
 * Each strategy is run through the real harness (managed redis-server processes, a real
 * SQLite shop, the runner, the checker) on a small racy inventory scenario and a booking
 * burst. What a strategy claims is checked from the shop's SQL state and the recorded
 * events, counted here independently of the checker: a strategy that claims safety must
 * not oversell, double-book or let two holders overlap; the unprotected baseline must show
 * the race, or the scenario has lost its teeth. Set OVS_CONTRACT_SEED to vary the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cell.h"
#include "live.h"
#include "recorder.h"
#include "scenario.h"
#include "shop.h"
#include "strategy.h"

typedef struct fixture {
    char dir[256];
    ovs_results *db;
    unsigned long long seed;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[256], path[300];
    const char *tmp = getenv("TMPDIR");
    const char *seed = getenv("OVS_CONTRACT_SEED");

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/oversell-contract.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/results.db", f->dir);
    f->db = ovs_results_open(path, err, sizeof(err));
    if (f->db == NULL) {
        print_error("%s\n", err);
        return -1;
    }
    f->seed = seed ? strtoull(seed, NULL, 10) : 7;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[300];
    ovs_results_close(f->db);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Fast retries so contention resolves in milliseconds, for any strategy that retries. */
static void fast_retries(const ovs_strategy_methods *m, ovs_params *p)
{
    char err[128];
    for (int i = 0; i < m->n_params; i++) {
        const char *n = m->params[i].name;
        if (strcmp(n, "retry_count") == 0)
            ovs_params_set(m, p, n, "400", err, sizeof(err));
        else if (strcmp(n, "retry_delay") == 0)
            ovs_params_set(m, p, n, "1ms", err, sizeof(err));
        else if (strcmp(n, "retry_jitter") == 0)
            ovs_params_set(m, p, n, "2ms", err, sizeof(err));
    }
}

static void run_cell(fixture *f, const char *text, const ovs_strategy_methods *m,
                     ovs_scenario *sc, ovs_cell_result *r)
{
    char err[300], full[2048];
    ovs_cell cell;

    /* The seed goes first, then the rest of [scenario] and the other sections. */
    snprintf(full, sizeof(full), "[scenario]\nseed = %llu\n%s", f->seed, text);
    if (ovs_scenario_parse("contract.ini", full, sc, err, sizeof(err)) != 0)
        fail_msg("contract scenario: %s", err);
    memset(&cell, 0, sizeof(cell));
    cell.sc = sc;
    cell.m = m;
    ovs_scenario_params_for(sc, m, &cell.params);
    fast_retries(m, &cell.params);
    cell.shop_dir = f->dir;
    if (ovs_cell_run(&cell, f->db, r) != 0 || r->status != 0)
        fail_msg("%s: run failed (seed %llu): %s", m->name, f->seed, r->error);
}

static int64_t shop_count(fixture *f, const ovs_scenario *sc, const ovs_strategy_methods *m,
                          const char *sql)
{
    char path[600];
    sqlite3 *db;
    int64_t v = -1;
    char err[200];

    snprintf(path, sizeof(path), "%s/%s.%s.db", f->dir, sc->name, m->name);
    assert_int_equal(ovs_shop_open(path, &db, err, sizeof(err)), 0);
    assert_int_equal(ovs_shop_scalar(db, sql, &v), 0);
    sqlite3_close(db);
    return v;
}

/* Overlapping critical sections on one key, counted by brute force from the results
 * database: an independent second opinion on the checker's sweep. */
static int64_t recorded_overlaps(fixture *f, int64_t run)
{
    char sql[512];
    int64_t v = -1;
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM events a JOIN events b ON a.rowid < b.rowid"
             " AND a.run = %lld AND b.run = %lld AND a.op = 'critical' AND b.op = 'critical'"
             " AND a.key = b.key AND a.start_ns < b.end_ns AND b.start_ns < a.end_ns",
             (long long)run, (long long)run);
    assert_int_equal(ovs_shop_scalar(f->db->db, sql, &v), 0);
    return v;
}

static const char inventory_text[] =
    "name = contract-inventory\n"
    "description = 150 buyers, 20 units, 8 workers\n"
    "workload = inventory\n"
    "stock = 20\n"
    "writeback_delay = 1ms\n"
    "[crowd]\n"
    "buyers = 150\n"
    "arrival = burst\n"
    "workers = 8\n"
    "think = 5ms\n"
    "request = buy sku=1\n";

static const char booking_text[] =
    "name = contract-booking\n"
    "description = 40 guests, one room, the same two nights\n"
    "workload = booking\n"
    "writeback_delay = 1ms\n"
    "[crowd]\n"
    "buyers = 40\n"
    "arrival = burst\n"
    "workers = 8\n"
    "think = 5ms\n"
    "request = book hotel=1 room=101 dates=2026-01-20..2026-01-22\n";

static void check_shape(const ovs_strategy_methods *m)
{
    assert_int_equal(m->version, 1);
    assert_non_null(m->name);
    assert_non_null(m->summary);
    assert_true(m->size >= sizeof(ovs_strategy));
    assert_non_null(m->xOpen);
    assert_non_null(m->xClose);
    /* Exactly one way of protecting a request. */
    assert_true((m->xLock != NULL) != (m->xExecute != NULL));
    assert_true((m->xLock != NULL) == (m->xUnlock != NULL));
}

static void contract_inventory(void **state, const ovs_strategy_methods *m)
{
    fixture *f = *state;
    ovs_scenario sc;
    ovs_cell_result r;

    check_shape(m);
    run_cell(f, inventory_text, m, &sc, &r);
    int64_t orders = shop_count(f, &sc, m, "SELECT count(*) FROM orders");
    int64_t stock = shop_count(f, &sc, m, "SELECT stock FROM skus WHERE id = 1");
    int64_t overlaps = recorded_overlaps(f, r.run_id);
    print_message("%s: %lld orders, stock %lld, %lld overlapping holds: %s (seed %llu)\n",
                  m->name, (long long)orders, (long long)stock, (long long)overlaps, r.figure,
                  f->seed);
    /* Whatever happened, SQL is self-consistent and the verdict agrees with it. */
    assert_int_equal(orders + stock, 20);
    assert_int_equal(r.safe, orders <= 20 && stock >= 0 && overlaps == 0);
    if (m->claims_safe) {
        assert_true(orders <= 20);
        assert_true(orders >= 1);
        assert_int_equal(overlaps, 0);
        assert_true(r.safe);
    } else {
        /* The baseline must lose, or this contract proves nothing about the others. */
        assert_true(orders > 20);
        assert_false(r.safe);
    }
    ovs_scenario_free(&sc);
}

static void contract_booking(void **state, const ovs_strategy_methods *m)
{
    fixture *f = *state;
    ovs_scenario sc;
    ovs_cell_result r;

    run_cell(f, booking_text, m, &sc, &r);
    int64_t booked = shop_count(f, &sc, m, "SELECT count(*) FROM bookings");
    print_message("%s: %lld bookings: %s\n", m->name, (long long)booked, r.figure);
    if (m->claims_safe) {
        assert_int_equal(booked, 1);
        assert_int_equal(recorded_overlaps(f, r.run_id), 0);
        assert_true(r.safe);
    } else {
        assert_true(booked > 1);
        assert_false(r.safe);
    }
    ovs_scenario_free(&sc);
}

/* xClose must accept an instance whose xOpen failed or whose servers are gone. */
static void contract_close_after_failure(void **state, const ovs_strategy_methods *m)
{
    (void)state;
    ovs_scenario sc;
    char err[300], full[2048];
    ovs_endpoint dead[OVS_FLEET_MAX];
    ovs_params p;

    snprintf(full, sizeof(full), "[scenario]\nseed = 1\n%s", inventory_text);
    assert_int_equal(ovs_scenario_parse("contract.ini", full, &sc, err, sizeof(err)), 0);
    ovs_scenario_params_for(&sc, m, &p);
    char retry[] = "0";
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, "retry_count") == 0)
            ovs_params_set(m, &p, "retry_count", retry, err, sizeof(err));
    for (int i = 0; i < OVS_FLEET_MAX; i++) {
        snprintf(dead[i].host, sizeof(dead[i].host), "127.0.0.1");
        dead[i].port = 1; /* nothing listens on port 1 */
    }
    ovs_env env = { .sc = &sc, .param = &p, .redis = dead, .n_redis = OVS_FLEET_MAX,
                    .client = 0, .seed = 1 };
    ovs_strategy *s = calloc(1, m->size);
    assert_non_null(s);
    s->m = m;
    s->env = &env;
    int needs_redis = m->xNodes && m->xNodes(&p) > 0;
    if (m->xOpen(s, &env) == OVS_OK && needs_redis) {
        ovs_request req = { .sku = 1 };
        int rc = m->xLock ? m->xLock(s, "sku:1") : m->xExecute(s, &req, 0, 0);
        assert_true(rc != OVS_OK); /* nothing is listening: it cannot have succeeded */
        assert_true(s->errstr[0] != '\0' || rc == OVS_BUSY);
    }
    m->xClose(s);
    free(s);
    ovs_scenario_free(&sc);
}

#define CONTRACT(fn, name)                                                                   \
    static void fn##_inventory(void **state)                                                 \
    {                                                                                        \
        OVS_REQUIRE_REDIS();                                                                 \
        contract_inventory(state, ovs_strategy_find(name));                                  \
    }                                                                                        \
    static void fn##_booking(void **state)                                                   \
    {                                                                                        \
        OVS_REQUIRE_REDIS();                                                                 \
        contract_booking(state, ovs_strategy_find(name));                                    \
    }                                                                                        \
    static void fn##_close(void **state)                                                     \
    {                                                                                        \
        contract_close_after_failure(state, ovs_strategy_find(name));                        \
    }

CONTRACT(none, "none")
CONTRACT(sqlp, "sql-pessimistic")
CONTRACT(setnx, "setnx")
CONTRACT(redlock, "redlock")
CONTRACT(luadecr, "lua-decr")
CONTRACT(ctd, "redis-check-then-decr")
CONTRACT(fencing, "fencing")
CONTRACT(watchdog, "watchdog")

#define TESTS(fn)                                                                            \
    cmocka_unit_test(fn##_inventory), cmocka_unit_test(fn##_booking),                       \
        cmocka_unit_test(fn##_close)

/* Every registered strategy must appear above: a new strategy without a contract run
 * fails here rather than going unchecked. */
static void every_strategy_is_covered(void **state)
{
    (void)state;
    static const char *const covered[] = { "none", "sql-pessimistic", "setnx", "redlock",
                                           "lua-decr", "redis-check-then-decr", "fencing",
                                           "watchdog", NULL };
    for (const ovs_strategy_methods *const *m = ovs_strategy_list(); *m; m++) {
        int found = 0;
        for (int i = 0; covered[i]; i++)
            found |= strcmp(covered[i], (*m)->name) == 0;
        if (!found)
            fail_msg("strategy %s has no contract run", (*m)->name);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_strategy_is_covered),
        TESTS(none), TESTS(sqlp), TESTS(setnx), TESTS(redlock), TESTS(luadecr),
        TESTS(ctd), TESTS(fencing), TESTS(watchdog),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("contract", tests, setup, teardown);
}
