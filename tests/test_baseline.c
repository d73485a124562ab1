/* test_baseline.c - the cell-by-cell comparison of reports/baseline.c over hand-built
 * results databases: a cell's figures over its completed runs (unsafe rate, worst
 * oversell, median p99, lost sales when recorded), each tolerance both ways, cells in one
 * database only, and --strict. `oversell diff` on real runs is tests/diff.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <string.h>

#include "reports/baseline.h"
#include "results_fixture.h"

/* Cell "s x a": three ok runs (p99 10, 30, 20 ms: median 20), one unsafe, worst oversold
 * 2 (mutex_overlaps is no primary check); an aborted and an error run that must not
 * count. Cell "s x b" on postgresql with params: two runs, p99 1 and 4 ms (median 2.5).
 * An n/a run is no cell. */
static const char old_rows[] =
    "INSERT INTO runs(id, scenario, strategy, params, status, verdict, p99_ns, backend) VALUES"
    " (1, 's', 'a', '', 'ok', 'safe', 10000000, NULL),"
    " (2, 's', 'a', '', 'ok', 'unsafe', 30000000, 'sqlite'),"
    " (3, 's', 'a', '', 'ok', 'safe', 20000000, NULL),"
    " (4, 's', 'a', '', 'aborted', 'unsafe', 900000000, NULL),"
    " (5, 's', 'a', '', 'error', NULL, 900000000, NULL),"
    " (6, 's', 'b', 'ttl=5', 'ok', 'safe', 1000000, 'postgresql'),"
    " (7, 's', 'b', 'ttl=5', 'ok', 'safe', 4000000, 'postgresql'),"
    " (8, 's', 'c', '', 'n/a', NULL, NULL, NULL);"
    "INSERT INTO checks(run, invariant, observed, expected, verdict) VALUES"
    " (1, 'oversold', 0, 0, 'pass'), (2, 'oversold', 2, 0, 'fail'),"
    " (3, 'oversold', 1, 0, 'fail'), (3, 'mutex_overlaps', 7, 0, 'fail'),"
    " (4, 'oversold', 50, 0, 'fail'),"
    " (6, 'double_booked', 0, 0, 'pass'), (7, 'double_booked', 0, 0, 'pass');";

static sqlite3 *open_db(const char *rows)
{
    const char *sql[] = { rows };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, 1);
    assert_non_null(db);
    return db;
}

static void load(sqlite3 *db, ovs_cellset *set)
{
    char err[256] = "";
    if (ovs_cellset_load(db, set, err, sizeof err) != 0)
        fail_msg("load: %s", err);
}

static void test_figures(void **state)
{
    sqlite3 *db = open_db(old_rows);
    ovs_cellset set;

    (void)state;
    load(db, &set);
    assert_int_equal(set.n, 2);
    const ovs_cell_figures *a = &set.v[0], *b = &set.v[1];
    assert_string_equal(a->strategy, "a");
    assert_string_equal(a->backend, "sqlite"); /* NULL and 'sqlite' are one cell */
    assert_int_equal(a->runs, 3);
    assert_int_equal(a->unsafe, 1);
    assert_true(a->has_oversold);
    assert_int_equal(a->oversold, 2);
    assert_true(a->has_p99);
    assert_int_equal(a->p99_ns, 20000000);
    assert_false(a->has_lost); /* no lost sales recorded */
    assert_string_equal(b->backend, "postgresql");
    assert_string_equal(b->params, "ttl=5");
    assert_int_equal(b->p99_ns, 2500000);
    assert_int_equal(b->oversold, 0);
    ovs_cellset_free(&set);
    sqlite3_close(db);
}

/* The comparison of old_rows with old_rows after edits, under limits l: its result, and
 * its text in *text (caller frees) when text is not NULL. */
static ovs_diff_result diff_after(const char *edits, const ovs_diff_limits *l, char **text)
{
    sqlite3 *odb = open_db(old_rows), *ndb = open_db(old_rows);
    ovs_cellset old, new;
    ovs_diff_result res;
    char err[256] = "", *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(sqlite3_exec(ndb, edits, NULL, NULL, NULL), SQLITE_OK);
    load(odb, &old);
    load(ndb, &new);
    if (ovs_diff_write(&old, &new, l, f, &res, err, sizeof err) != 0)
        fail_msg("diff: %s", err);
    fclose(f);
    if (text)
        *text = buf;
    else
        free(buf);
    ovs_cellset_free(&old);
    ovs_cellset_free(&new);
    sqlite3_close(odb);
    sqlite3_close(ndb);
    return res;
}

static void test_same(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    char *text;
    ovs_diff_result r = diff_after("", &l, &text);

    (void)state;
    assert_int_equal(r.compared, 2);
    assert_int_equal(r.worse, 0);
    assert_int_equal(r.figures, 0);
    assert_string_equal(text, "diff: 2 cells compared, 0 worse (0 figures), 0 new, 0 removed\n");
    free(text);
}

static void test_oversold(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    const char *edit = "UPDATE checks SET observed = 5 WHERE run = 3 AND invariant = 'oversold'";
    char *text;
    ovs_diff_result r = diff_after(edit, &l, &text);

    (void)state;
    assert_int_equal(r.worse, 1);
    assert_int_equal(r.figures, 1);
    assert_non_null(strstr(text, "s x a on sqlite  oversold"));
    assert_non_null(strstr(text, "  2    5  +3\n"));
    free(text);
    l.oversold = 3; /* exactly the tolerance: not worse */
    assert_int_equal(diff_after(edit, &l, NULL).worse, 0);
    l.oversold = 2;
    assert_int_equal(diff_after(edit, &l, NULL).worse, 1);
    /* Better is never worse. */
    l.oversold = 0;
    assert_int_equal(diff_after("UPDATE checks SET observed = 0", &l, NULL).worse, 0);
}

static void test_unsafe_rate(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    /* 1/3 -> 2/3 */
    const char *edit = "UPDATE runs SET verdict = 'unsafe' WHERE id = 1";
    char *text;
    ovs_diff_result r = diff_after(edit, &l, &text);

    (void)state;
    assert_int_equal(r.worse, 1);
    assert_non_null(strstr(text, "unsafe rate"));
    assert_non_null(strstr(text, "1/3"));
    assert_non_null(strstr(text, "2/3"));
    assert_non_null(strstr(text, "+0.33"));
    free(text);
    l.unsafe_rate = 0.34;
    assert_int_equal(diff_after(edit, &l, NULL).worse, 0);
    l.unsafe_rate = 0.3;
    assert_int_equal(diff_after(edit, &l, NULL).worse, 1);
    /* The same rate over more runs (1/3 -> 2/6) is no change. */
    l.unsafe_rate = 0;
    assert_int_equal(diff_after("INSERT INTO runs(scenario, strategy, params, status, verdict)"
                                " VALUES ('s', 'a', '', 'ok', 'unsafe'),"
                                " ('s', 'a', '', 'ok', 'safe'), ('s', 'a', '', 'ok', 'safe')",
                                &l, NULL).worse, 0);
}

static void test_p99_both_ways(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    /* Median 20 ms -> 28 ms: +40 %, within the default 50 %. */
    const char *up40 = "UPDATE runs SET p99_ns = p99_ns * 14 / 10 WHERE strategy = 'a'";
    /* -> 32 ms: +60 %. */
    const char *up60 = "UPDATE runs SET p99_ns = p99_ns * 16 / 10 WHERE strategy = 'a'";
    char *text;

    (void)state;
    assert_int_equal(diff_after(up40, &l, NULL).worse, 0);
    ovs_diff_result r = diff_after(up60, &l, &text);
    assert_int_equal(r.worse, 1);
    assert_non_null(strstr(text, "p99"));
    assert_non_null(strstr(text, "20.000 ms"));
    assert_non_null(strstr(text, "32.000 ms"));
    assert_non_null(strstr(text, "+60.0 %"));
    free(text);
    l.p99_pct = 70;
    assert_int_equal(diff_after(up60, &l, NULL).worse, 0);
    l.p99_pct = 30;
    assert_int_equal(diff_after(up40, &l, NULL).worse, 1);
    /* Cell b: 2.5 ms -> 3.25 ms is +30 % but only 0.75 ms: under the 1 ms floor. */
    l.p99_pct = 10;
    assert_int_equal(diff_after("UPDATE runs SET p99_ns = p99_ns * 13 / 10 WHERE strategy = 'b'",
                                &l, NULL).worse, 0);
    l.p99_floor_ns = 500000;
    assert_int_equal(diff_after("UPDATE runs SET p99_ns = p99_ns * 13 / 10 WHERE strategy = 'b'",
                                &l, NULL).worse, 1);
    /* Faster is never worse. */
    assert_int_equal(diff_after("UPDATE runs SET p99_ns = p99_ns / 10", &l, NULL).worse, 0);
}

static void test_lost_sales(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    /* Only the new database records them (the old one's are NULL), so there is nothing
     * to compare with. */
    const char *add = "UPDATE runs SET lost_sales = 9";
    (void)state;
    l.lost_sales = 0;
    assert_int_equal(diff_after(add, &l, NULL).worse, 0);

    /* A results file from before runs had the column reads as recording none. */
    sqlite3 *older = open_db(old_rows);
    ovs_cellset set;
    assert_int_equal(sqlite3_exec(older, "ALTER TABLE runs DROP COLUMN lost_sales", NULL, NULL,
                                  NULL), SQLITE_OK);
    load(older, &set);
    assert_false(set.v[0].has_lost);
    ovs_cellset_free(&set);
    sqlite3_close(older);

    /* Both record them: median 1 -> 4 in cell a. */
    static const char *const with[] = { old_rows, "UPDATE runs SET lost_sales = id % 3" };
    sqlite3 *odb = fixture_open(FIXTURE_LOOSE, with, 2), *ndb = fixture_open(FIXTURE_LOOSE, with, 2);
    ovs_cellset old, new;
    ovs_diff_result res;
    FILE *f = fopen("/dev/null", "w");
    assert_non_null(odb);
    assert_non_null(ndb);
    assert_int_equal(sqlite3_exec(ndb, "UPDATE runs SET lost_sales = lost_sales + 3"
                                       " WHERE strategy = 'a'", NULL, NULL, NULL), SQLITE_OK);
    load(odb, &old);
    load(ndb, &new);
    assert_true(old.v[0].has_lost);
    assert_int_equal(old.v[0].lost_sales, 1); /* ids 1, 2, 3 -> 1, 2, 0 */
    assert_int_equal(ovs_diff_write(&old, &new, &l, f, &res, NULL, 0), 0);
    assert_int_equal(res.worse, 1);
    l.lost_sales = 3;
    assert_int_equal(ovs_diff_write(&old, &new, &l, f, &res, NULL, 0), 0);
    assert_int_equal(res.worse, 0);
    l.lost_sales = -1; /* the default: not compared */
    assert_int_equal(ovs_diff_write(&old, &new, &l, f, &res, NULL, 0), 0);
    assert_int_equal(res.worse, 0);
    fclose(f);
    ovs_cellset_free(&old);
    ovs_cellset_free(&new);
    sqlite3_close(odb);
    sqlite3_close(ndb);
}

static void test_new_removed_strict(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    const char *edit = "DELETE FROM runs WHERE strategy = 'b';"
                       "INSERT INTO runs(scenario, strategy, params, status) VALUES"
                       " ('t', 'a', '', 'ok')";
    char *text;
    ovs_diff_result r = diff_after(edit, &l, &text);

    (void)state;
    assert_int_equal(r.worse, 0);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.removed, 1);
    assert_non_null(strstr(text, "removed: s x b on postgresql (ttl=5)\n"));
    assert_non_null(strstr(text, "new: t x a on sqlite\n"));
    free(text);
    l.strict = 1;
    assert_int_equal(diff_after(edit, &l, NULL).worse, 2);
}

static void test_no_ok_runs_left(void **state)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    char *text;
    ovs_diff_result r = diff_after("UPDATE runs SET status = 'error' WHERE strategy = 'b'", &l,
                                   &text);

    (void)state;
    assert_int_equal(r.worse, 1);
    assert_non_null(strstr(text, "ok runs"));
    assert_non_null(strstr(text, "none completed"));
    free(text);
}

static void test_not_results(void **state)
{
    sqlite3 *db;
    ovs_cellset set;
    char err[128] = "";

    (void)state;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(ovs_cellset_load(db, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such table"));
    assert_int_equal(set.n, 0);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_oversold),
        cmocka_unit_test(test_unsafe_rate),
        cmocka_unit_test(test_p99_both_ways),
        cmocka_unit_test(test_lost_sales),
        cmocka_unit_test(test_new_removed_strict),
        cmocka_unit_test(test_no_ok_runs_left),
        cmocka_unit_test(test_not_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
