/* test_liveness.c - lost sales, unavailability and retries per success (engine/liveness.h)
 * from real runs on a real SQLite shop.
 *
 * The strategies are fake locks (a lock that always refuses, one that always fails, the
 * always-free and one-at-a-time locks of runner_fixture.h) driven by the real runner, so the figures are
 * read from the request events the runner wrote and the shop's rows, as in production.
 * What a broken figure would do: count nothing for a strategy that turns everyone away
 * (it would look safe and good), count honest "sold out" answers as lost, count errors as
 * sales turned away, or count one free room twice. The last test runs a whole cell and
 * reads the figures back from the results database and its headline. */
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

#include "core/answer.h"
#include "engine/cell.h"
#include "engine/liveness.h"
#include "engine/recorder.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "locks/strategy.h"

/* Every lock is taken by someone else: the buyer gives up, after `tries` attempts. */
static int busy_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 3;
    return ovs_strategy_fail(s, OVS_BUSY, "taken (test)");
}

static int broken_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    return ovs_strategy_fail(s, OVS_ERR, "lock server broken (test)");
}

static const ovs_strategy_methods refuse_all = {
    .version = 1,
    .name = "refuse-all",
    .summary = "a lock nobody ever gets",
    .size = sizeof(ovs_strategy),
    .xOpen = rf_nothing_open,
    .xLock = busy_lock,
    .xUnlock = rf_free_unlock,
    .xClose = rf_nothing_close,
};

static const ovs_strategy_methods fail_all = {
    .version = 1,
    .name = "fail-all",
    .summary = "a lock whose server always fails",
    .size = sizeof(ovs_strategy),
    .xOpen = rf_nothing_open,
    .xLock = broken_lock,
    .xUnlock = rf_free_unlock,
    .xClose = rf_nothing_close,
};

/* Every other buyer's payment is declined; the others are refused with no reason given,
 * as a shop refuses when it is sold out. */
static int decline_or_refuse(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                             int64_t think_ns)
{
    (void)req;
    (void)think_ns;
    if (buyer % 2 == 0)
        return ovs_strategy_fail(s, OVS_REFUSED, "%s", OVS_SAID_DECLINED);
    return OVS_REFUSED;
}

static const ovs_strategy_methods decline_half = {
    .version = 1,
    .name = "decline-half",
    .summary = "payments declined for every other buyer, the rest refused",
    .size = sizeof(ovs_strategy),
    .xOpen = rf_nothing_open,
    .xExecute = decline_or_refuse,
    .xClose = rf_nothing_close,
};

/* Five buyers one after another, 10 ms apart, for one SKU of `stock` units. Where a test
 * needs each to see the last one's sale it takes the one-at-a-time lock: on a loaded
 * machine one request can outlast that gap. */
#define INVENTORY(stock)                                                                   \
    "[scenario]\nname = five\ndescription = Five buyers.\nworkload = inventory\n"         \
    "seed = 1\nstock = " stock "\n"                                                        \
    "[client a]\nstart = 0ms\nrequest = buy sku=1\n"                                       \
    "[client b]\nstart = 10ms\nrequest = buy sku=1\n"                                      \
    "[client c]\nstart = 20ms\nrequest = buy sku=1\n"                                      \
    "[client d]\nstart = 30ms\nrequest = buy sku=1\n"                                      \
    "[client e]\nstart = 40ms\nrequest = buy sku=1\n"

/* Four guests: two for the same nights of room 101, one for room 102, one for room 101
 * on later nights. */
static const char booking_text[] =
    "[scenario]\nname = rooms\ndescription = Four guests.\nworkload = booking\nseed = 1\n"
    "[client a]\nstart = 0ms\nrequest = book hotel=1 room=101 dates=2026-01-20..2026-01-22\n"
    "[client b]\nstart = 10ms\nrequest = book hotel=1 room=101 dates=2026-01-21..2026-01-23\n"
    "[client c]\nstart = 20ms\nrequest = book hotel=1 room=102 dates=2026-01-20..2026-01-22\n"
    "[client d]\nstart = 30ms\nrequest = book hotel=1 room=101 dates=2026-01-23..2026-01-24\n";

typedef struct figures {
    ovs_run_result res;
    ovs_liveness live;
} figures;

static void run(const char *text, const ovs_strategy_methods *m, figures *f)
{
    char path[96], err[256];
    ovs_scenario sc;
    ovs_params params = { 0 };
    ovs_shop_loc loc;
    ovs_shop *db;

    rf_shop("liveness.ini", text, &sc, &loc, path, sizeof(path));
    ovs_run_spec spec = { .sc = &sc, .m = m, .params = &params, .shop = &loc };
    assert_int_equal(ovs_run(&spec, &f->res), 0);
    assert_int_equal(f->res.status, OVS_RUN_OK);
    assert_int_equal(ovs_shop_open(&loc, &db, err, sizeof(err)), 0);
    if (ovs_liveness_of(db, &sc, &f->res, 1, &f->live, err, sizeof(err)) != 0)
        fail_msg("liveness: %s", err);
    ovs_shop_close(db);
    ovs_scenario_free(&sc);
}

/* Refusing everyone is safe and sells nothing: 3 units left for 5 buyers who gave up is
 * 3 lost sales, not 5 (only 3 could have bought) and not 0. */
static void refuse_all_loses_the_sales_stock_allowed(void **state)
{
    figures f;
    (void)state;
    run(INVENTORY("3"), &refuse_all, &f);
    assert_int_equal(f.res.succeeded, 0);
    assert_int_equal(f.res.busy, 5);
    assert_int_equal(f.live.lost_sales, 3);
    assert_int_equal(f.live.unavailable, 5);
    /* 2 retries each, and nothing succeeded: no ratio. */
    assert_int_equal(f.res.retries, 10);
    assert_true(f.live.retries_per_success < 0);
    ovs_run_result_free(&f.res);
}

/* A lock that lets everyone through sells every unit: nothing lost, nothing unavailable,
 * no retries. */
static void selling_everything_loses_nothing(void **state)
{
    figures f;
    (void)state;
    run(INVENTORY("5"), rf_always_free(), &f);
    assert_int_equal(f.res.succeeded, 5);
    assert_int_equal(f.live.lost_sales, 0);
    assert_int_equal(f.live.unavailable, 0);
    assert_true(f.live.retries_per_success == 0.0);
    ovs_run_result_free(&f.res);
}

/* Two units, five buyers in turn: two sold, three told "sold out" with nothing left. An
 * honest refusal is not a lost sale. */
static void sold_out_is_not_a_lost_sale(void **state)
{
    figures f;
    (void)state;
    run(INVENTORY("2"), rf_one_at_a_time(), &f);
    assert_int_equal(f.res.succeeded, 2);
    assert_int_equal(f.res.refused, 3);
    assert_int_equal(f.live.lost_sales, 0);
    assert_int_equal(f.live.unavailable, 0);
    ovs_run_result_free(&f.res);
}

/* A declined payment is the buyer's, not the shop's: worded so, and no lost sale. The
 * refusals beside them are turned-away buyers while 3 units stayed: 2 lost sales. Had a
 * declined payment's reason stayed behind for the next buyer, they would be 0. */
static void declined_payment_is_not_a_lost_sale(void **state)
{
    figures f;
    int declined = 0, sold_out = 0;
    (void)state;
    run(INVENTORY("3"), &decline_half, &f);
    assert_int_equal(f.res.succeeded, 0);
    assert_int_equal(f.res.refused, 5);
    for (int t = 0; t < f.res.ntraces; t++)
        for (size_t i = 0; f.res.traces[t] && i < f.res.traces[t]->n; i++) {
            const ovs_event *e = &f.res.traces[t]->ev[i];
            if (e->op != OVS_OP_REQUEST)
                continue;
            declined += strcmp(e->detail, OVS_SAID_DECLINED) == 0;
            sold_out += strcmp(e->detail, OVS_SAID_SOLD_OUT) == 0;
        }
    assert_int_equal(declined, 3);
    assert_int_equal(sold_out, 2);
    assert_int_equal(f.live.lost_sales, 2);
    assert_int_equal(f.live.unavailable, 0);
    ovs_run_result_free(&f.res);
}

/* Errors are no answer at all: unavailable, and not counted as buyers turned away. */
static void errors_are_unavailable_not_lost_sales(void **state)
{
    figures f;
    (void)state;
    run(INVENTORY("3"), &fail_all, &f);
    assert_int_equal(f.res.errors, 5);
    assert_int_equal(f.live.lost_sales, 0);
    assert_int_equal(f.live.unavailable, 5);
    ovs_run_result_free(&f.res);
}

/* Booking, everyone refused: a and b want overlapping nights of one free room (one lost
 * booking between them: b could only have had it instead of a), c another room, d later
 * nights of the first room, arriving on b's day of departure (half-open: no overlap).
 * a, c and d could all have been booked: 3 lost, not 4. */
static void booking_counts_a_free_room_once(void **state)
{
    figures f;
    (void)state;
    run(booking_text, &refuse_all, &f);
    assert_int_equal(f.res.busy, 4);
    assert_int_equal(f.live.lost_sales, 3);
    ovs_run_result_free(&f.res);
}

/* Booking, everyone served in turn: three booked, and of a and b (the same room, a night
 * in common) the later refused for a room just taken - justified, not lost. */
static void booking_refusal_for_a_taken_room_is_not_lost(void **state)
{
    figures f;
    (void)state;
    run(booking_text, rf_one_at_a_time(), &f);
    assert_int_equal(f.res.succeeded, 3);
    assert_int_equal(f.res.refused, 1);
    assert_int_equal(f.live.lost_sales, 0);
    ovs_run_result_free(&f.res);
}

/* The figures as a cell records them: in runs, and the lost sales in the headline. */
static void cell_records_the_figures(void **state)
{
    char dir[] = "/tmp/oversell-liveness.XXXXXX", path[128], err[256];
    ovs_scenario sc;
    ovs_cell_result out;
    sqlite3_stmt *st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    if (ovs_scenario_parse("five.ini", INVENTORY("3"), &sc, err, sizeof(err)) != 0)
        fail_msg("scenario: %s", err);
    ovs_results *db = ovs_results_open(":memory:", err, sizeof(err));
    assert_non_null(db);
    const ovs_strategy_methods *ms[] = { &refuse_all, rf_one_at_a_time() };
    for (int i = 0; i < 2; i++) {
        ovs_cell cell = { .sc = &sc, .m = ms[i], .shop_dir = dir };
        if (ovs_cell_run(&cell, db, &out) != 0)
            fail_msg("cell: %s", out.error);
        assert_int_equal(out.status, OVS_RUN_OK);
        assert_true(out.safe);
        snprintf(path, sizeof(path), "%s/five.%s.db", dir, ms[i]->name);
        unlink(path);
    }
    rmdir(dir);
    assert_int_equal(sqlite3_prepare_v2(db->db,
                                        "SELECT strategy, lost_sales, unavailable,"
                                        " retries_per_success, figure FROM runs ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "refuse-all");
    assert_int_equal(sqlite3_column_int64(st, 1), 3);
    assert_int_equal(sqlite3_column_int64(st, 2), 5);
    assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
    /* Safe, and still it must look bad. */
    const char *fig = (const char *)sqlite3_column_text(st, 4);
    if (strstr(fig, "3 lost sales") == NULL || strstr(fig, "unavailable: 5 of 5") == NULL)
        fail_msg("figure: %s", fig);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "one-at-a-time");
    assert_int_equal(sqlite3_column_type(st, 1), SQLITE_INTEGER);
    assert_int_equal(sqlite3_column_int64(st, 1), 0);
    assert_int_equal(sqlite3_column_int64(st, 2), 0);
    assert_int_equal(sqlite3_column_type(st, 3), SQLITE_FLOAT);
    assert_true(sqlite3_column_double(st, 3) == 0.0);
    fig = (const char *)sqlite3_column_text(st, 4);
    if (strstr(fig, "lost sale") != NULL || strstr(fig, "unavailable") != NULL)
        fail_msg("figure: %s", fig);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ovs_results_close(db);
    ovs_scenario_free(&sc);
}

/* A results file written before the figures existed gains their columns on open, NULL in
 * its old runs, and takes new runs again. */
static void old_results_file_gains_the_columns(void **state)
{
    char path[] = "/tmp/oversell-oldresults.XXXXXX", err[256];
    sqlite3 *raw;
    sqlite3_stmt *st;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE runs(id INTEGER PRIMARY KEY,"
                                  " scenario TEXT NOT NULL, scenario_file TEXT NOT NULL,"
                                  " description TEXT NOT NULL, workload TEXT NOT NULL,"
                                  " strategy TEXT NOT NULL, params TEXT NOT NULL,"
                                  " seed INTEGER NOT NULL, expect TEXT, redis_version TEXT,"
                                  " sqlite_version TEXT NOT NULL, started_at TEXT NOT NULL,"
                                  " duration_ns INTEGER NOT NULL, status TEXT NOT NULL,"
                                  " error TEXT, verdict TEXT, figure TEXT, shop_db TEXT,"
                                  " requests INTEGER, succeeded INTEGER, refused INTEGER,"
                                  " busy INTEGER, unknown INTEGER, throughput REAL,"
                                  " p50_ns INTEGER, p99_ns INTEGER, max_ns INTEGER,"
                                  " acquire_fail INTEGER, retries INTEGER);"
                                  "INSERT INTO runs VALUES (1, 's', 'f', 'd', 'inventory',"
                                  " 'naive', '', 1, NULL, NULL, '3', 't', 1, 'ok', NULL,"
                                  " 'safe', 'old', NULL, 1, 1, 0, 0, 0, 1.0, 1, 1, 1, 0, 0);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);

    ovs_results *db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL)
        fail_msg("open: %s", err);
    ovs_liveness live = { 2, 4, 1.5 };
    ovs_run_row row = { .scenario = "s", .scenario_file = "f", .workload = "inventory",
                        .strategy = "naive", .sqlite_version = "3", .started_at = "t",
                        .status = "ok", .live = &live };
    if (ovs_results_write(db, &row, NULL, 0, NULL, 0) < 0)
        fail_msg("write: %s", db->errstr);
    assert_int_equal(sqlite3_prepare_v2(db->db,
                                        "SELECT lost_sales, unavailable, retries_per_success,"
                                        " backend FROM runs ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sqlite3_column_type(st, i), SQLITE_NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 2);
    assert_int_equal(sqlite3_column_int64(st, 1), 4);
    assert_true(sqlite3_column_double(st, 2) == 1.5);
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "sqlite");
    sqlite3_finalize(st);
    ovs_results_close(db);
    /* Opening it again finds every column there: nothing to add, nothing fails. */
    db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL)
        fail_msg("reopen: %s", err);
    ovs_results_close(db);
    unlink(path);
    for (int i = 0; i < 2; i++) {
        char side[64];
        snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
        unlink(side);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(refuse_all_loses_the_sales_stock_allowed, rf_remove_dir),
        cmocka_unit_test_teardown(selling_everything_loses_nothing, rf_remove_dir),
        cmocka_unit_test_teardown(sold_out_is_not_a_lost_sale, rf_remove_dir),
        cmocka_unit_test_teardown(declined_payment_is_not_a_lost_sale, rf_remove_dir),
        cmocka_unit_test_teardown(errors_are_unavailable_not_lost_sales, rf_remove_dir),
        cmocka_unit_test_teardown(booking_counts_a_free_room_once, rf_remove_dir),
        cmocka_unit_test_teardown(booking_refusal_for_a_taken_room_is_not_lost,
                                  rf_remove_dir),
        cmocka_unit_test(cell_records_the_figures),
        cmocka_unit_test(old_results_file_gains_the_columns),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("liveness", tests, NULL, NULL);
}
