/* test_repeats.c - cells run more than once (reports/repeats.c), and the Wilson interval
 * the gate and the reports print (core/util.c).
 *
 * Pure logic over hand-built results databases: what a wrong grouping, a median of the
 * wrong runs, a worst run taken by id instead of damage, or an interval off by a formula
 * would print differently.
 *
 * Usage: test_repeats [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "core/util.h"
#include "reports/repeats.h"
#include "reports/report.h"
#include "results_fixture.h"

#define RUN(id, strat, params, seed, status, verdict, fig, ok, p99, backend)              \
    "(" #id ", 'race', 'race.ini', 'd', 'inventory', '" strat "', 0, '" params "', " #seed \
    ", '3', 't', 1, '" status "', " verdict ", " fig ", " #ok ", 10.0, 1000000, " #p99     \
    ", 2, " backend ")"

/* Three runs of none (two unsafe, oversold 3 then 5, one with no verdict), two of setnx
 * (safe), a lone run of redlock, and setnx on postgresql apart from setnx on SQLite. */
static const char *const fixture[] = {
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy,"
    " strategy_rank, params, seed, sqlite_version, started_at, duration_ns, status, verdict,"
    " figure, succeeded, throughput, p50_ns, p99_ns, retries, backend) VALUES "
    RUN(1, "none", "isolation=autocommit", 42, "ok", "'unsafe'", "'oversold 3'", 8, 30000000, "NULL") ","
    RUN(2, "none", "isolation=autocommit", 7, "ok", "'unsafe'", "'oversold 5'", 10, 10000000, "NULL") ","
    RUN(3, "none", "isolation=autocommit", 9, "ok", "'safe'", "'0 oversold'", 5, 20000000, "NULL") ","
    RUN(4, "none", "isolation=autocommit", 11, "error", "NULL", "NULL", 0, 0, "NULL") ","
    RUN(5, "setnx", "ttl=5000", 42, "ok", "'safe'", "'0 oversold'", 5, 4000000, "NULL") ","
    RUN(6, "setnx", "ttl=5000", 7, "ok", "'safe'", "'0 oversold'", 5, 6000000, "NULL") ","
    RUN(7, "redlock", "ttl=5000", 42, "ok", "'safe'", "'0 oversold'", 5, 1000000, "NULL") ","
    RUN(8, "setnx", "ttl=5000", 42, "ok", "'safe'", "'0 oversold'", 5, 1000000, "'postgresql'") ";",
    "INSERT INTO checks VALUES (1, 'oversold', 3, 0, 'fail', NULL),"
    " (2, 'oversold', 5, 0, 'fail', NULL), (3, 'oversold', 0, 0, 'pass', NULL),"
    " (5, 'oversold', 0, 0, 'pass', NULL), (6, 'oversold', 0, 0, 'pass', NULL);",
};

static void test_wilson(void **state)
{
    double lo, hi;

    (void)state;
    /* Known values of the 95 % score interval. */
    ovs_wilson(0, 20, &lo, &hi);
    assert_true(lo == 0 && hi > 0.1610 && hi < 0.1612);
    ovs_wilson(19, 20, &lo, &hi);
    assert_true(lo > 0.7637 && lo < 0.7639 && hi > 0.9910 && hi < 0.9912);
    ovs_wilson(10, 20, &lo, &hi);
    assert_true(lo > 0.2992 && lo < 0.2994 && hi > 0.7006 && hi < 0.7008);
    ovs_wilson(20, 20, &lo, &hi);
    assert_true(hi == 1 && lo > 0.8388 && lo < 0.8390);
    /* No runs: nothing is known. */
    ovs_wilson(0, 0, &lo, &hi);
    assert_true(lo == 0 && hi == 1);
}

static void test_median(void **state)
{
    double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };

    (void)state;
    assert_true(ovs_rep_median(odd, 3) == 3);
    assert_true(ovs_rep_median(even, 4) == 2.5);
}

static const ovs_rep_cell *find(const ovs_rep_cells *c, const char *strategy)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].strategy, strategy) == 0)
            return &c->v[i];
    fail_msg("no cell %s", strategy);
    return NULL;
}

static void test_cells(void **state)
{
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, fixture, 2);
    ovs_rep_cells c;
    char err[256] = "";

    (void)state;
    assert_non_null(db);
    assert_int_equal(ovs_repeats_load(db, &c, err, sizeof err), 0);
    /* none and setnx on SQLite; not the lone redlock run; setnx on postgresql has one. */
    assert_int_equal(c.n, 2);
    const ovs_rep_cell *none = find(&c, "none × sqlite");
    assert_int_equal(none->runs, 4);
    assert_int_equal(none->judged, 3);
    assert_int_equal(none->unsafe, 2);
    /* The worst run is the one that oversold most, not the first or the last. */
    assert_int_equal(none->worst_id, 2);
    assert_true(none->worst_seed == 7);
    assert_string_equal(none->worst_figure, "oversold 5");
    /* Medians over the runs with a verdict only: the error's zeros do not count. */
    assert_int_equal(none->fig[OVS_REP_DAMAGE].n, 3);
    assert_true(none->fig[OVS_REP_DAMAGE].median == 3);
    assert_true(none->fig[OVS_REP_P99].median == 20000000);
    assert_true(none->fig[OVS_REP_P99].min == 10000000);
    assert_true(none->fig[OVS_REP_P99].max == 30000000);
    assert_true(none->fig[OVS_REP_SUCCEEDED].median == 8);
    const ovs_rep_cell *setnx = find(&c, "setnx × sqlite");
    assert_int_equal(setnx->unsafe, 0);
    assert_int_equal(setnx->worst_id, -1);
    assert_true(setnx->fig[OVS_REP_P99].median == 5000000);
    ovs_repeats_free(&c);
    sqlite3_close(db);
}

static void test_summary_section(void **state)
{
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, fixture, 2);
    char *s;

    (void)state;
    assert_non_null(db);
    s = fixture_capture(ovs_report_summary, db);
    assert_non_null(strstr(s, "\n## Repeated cells\n"));
    assert_non_null(strstr(s, "| race | none × sqlite | isolation=autocommit | 4 (1 without a"
                              " verdict) | 2/3 | 21–94 % | run 2, seed 7: oversold 5 | 3 [0–5] |"
                              " 8 [5–10] | 10.0 | 1.000 | 20.000 [10.000–30.000] | 2 |\n"));
    assert_non_null(strstr(s, "| race | setnx × sqlite | ttl=5000 | 2 | 0/2 | 0–66 % | none"
                              " unsafe |"));
    /* The matrix cell: an unsafe run speaks for it, with the rate over its runs. */
    assert_non_null(strstr(s, "| race | **UNSAFE** oversold 5 † · unsafe in 2 of 3 runs"
                              " [21–94 %], 1 without a verdict |"));
    free(s);
    s = fixture_capture(ovs_report_html, db);
    assert_non_null(strstr(s, "<h2>Repeated cells</h2>"));
    assert_non_null(strstr(s, "<title>unsafe in 2 of 3 runs; 95 % interval 21-94 %</title>"));
    free(s);
    sqlite3_close(db);
}

/* Without a cell of two runs, there is no section at all. */
static void test_no_repeats(void **state)
{
    static const char *const one[] = {
        "INSERT INTO runs(id, scenario, strategy, params, seed, status, verdict) VALUES"
        " (1, 'race', 'none', '', 1, 'ok', 'unsafe'), (2, 'race', 'none', 'x=1', 2, 'ok',"
        " 'safe');",
    };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, one, 1);
    char *s;

    (void)state;
    assert_non_null(db);
    s = fixture_capture(ovs_report_summary, db);
    assert_null(strstr(s, "Repeated cells"));
    free(s);
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_summary_section),
        cmocka_unit_test(test_no_repeats),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
