/* test_sweep.c - sweeps read back from a hand-built results database: points, axes,
 * medians, sweep.md and the charts of index.html.
 *
 * The database holds two sweeps whose grids ran in opposite orders (so the outer
 * parameter must be found from the texts, not from their spelling), runs that must not
 * join a point (another back end, another strategy, a failed run whose figures would move
 * every median), and figures chosen so that the median differs from the mean, the first
 * and the last run, and from the median with the failed run in it.
 *
 * Usage: test_sweep [name-filter] */
#include <math.h>
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "reports/report.h"
#include "reports/sweep.h"
#include "results_fixture.h"

#define P(c, d) "'ttl=5000,retry_count=" #c ",retry_delay=" #d ",retry_jitter=0'"
#define MS "000000"

static const char fixture[] =
    "INSERT INTO runs(id, scenario, strategy, params, status, verdict, requests, succeeded,"
    " busy, retries, p50_ns, p99_ns, backend) VALUES"
    /* rush x redlock on SQLite: retry_count outermost */
    " (1, 'rush', 'redlock', " P(1, 100) ", 'ok', 'safe', 10, 4, 6, 1, 1" MS ", 9" MS ", 'sqlite'),"
    " (2, 'rush', 'redlock', " P(1, 100) ", 'ok', 'safe', 10, 5, 5, 1, 1" MS ", 8" MS ", 'sqlite'),"
    " (3, 'rush', 'redlock', " P(1, 200) ", 'ok', 'safe', 10, 7, 3, 2, 2" MS ", 11" MS ", 'sqlite'),"
    " (4, 'rush', 'redlock', " P(1, 200) ", 'ok', 'unsafe', 10, 8, 2, 2, 4" MS ", 13" MS ", 'sqlite'),"
    /* the point the figures are checked on: three finished runs and one failed */
    " (5, 'rush', 'redlock', " P(3, 100) ", 'ok', 'unsafe', 10, 6, 4, 9, 3" MS ", 50" MS ", 'sqlite'),"
    " (6, 'rush', 'redlock', " P(3, 100) ", 'ok', 'safe', 10, 10, 0, 2, 5" MS ", 10" MS ", 'sqlite'),"
    " (7, 'rush', 'redlock', " P(3, 100) ", 'ok', 'safe', 10, 9, 1, 5, 4" MS ", 20" MS ", 'sqlite'),"
    " (8, 'rush', 'redlock', " P(3, 100) ", 'error', NULL, 10, 0, 10, 99, 999" MS ", 999" MS ", 'sqlite'),"
    " (9, 'rush', 'redlock', " P(3, 200) ", 'ok', 'safe', 10, 10, 0, 3, 6" MS ", 30" MS ", 'sqlite'),"
    /* not part of it: the same point on another back end, another strategy */
    " (10, 'rush', 'redlock', " P(3, 100) ", 'ok', 'unsafe', 10, 1, 9, 7, 7" MS ", 70" MS ", 'postgresql'),"
    " (11, 'rush', 'setnx', 'ttl=5000', 'ok', 'safe', 10, 10, 0, 0, 1" MS ", 2" MS ", 'sqlite'),"
    /* calm x redlock: retry_delay outermost this time */
    " (12, 'calm', 'redlock', " P(1, 100) ", 'ok', 'safe', 4, 4, 0, 0, 1" MS ", 2" MS ", NULL),"
    " (13, 'calm', 'redlock', " P(5, 100) ", 'ok', 'safe', 4, 4, 0, 0, 1" MS ", 2" MS ", NULL),"
    " (14, 'calm', 'redlock', " P(1, 300) ", 'ok', 'safe', 4, 3, 1, 0, 1" MS ", 2" MS ", NULL),"
    " (15, 'calm', 'redlock', " P(5, 300) ", 'ok', 'safe', 4, 2, 2, 0, 1" MS ", 2" MS ", NULL);";

static sqlite3 *open_db(int with_lost)
{
    const char *sql[2] = { fixture, "UPDATE runs SET lost_sales = id % 4;" };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, with_lost ? 2 : 1);
    assert_non_null(db);
    return db;
}

static const ovs_sweep_point *point(const ovs_sweep *w, const char *x, const char *line)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->xs[w->pts[i].xi], x) == 0 && strcmp(w->lines[w->pts[i].li], line) == 0)
            return &w->pts[i];
    fail_msg("no point %s, %s", x, line);
    return NULL;
}

static void test_points(void **state)
{
    sqlite3 *db = open_db(0);
    ovs_sweeps s;
    char err[256] = "";
    (void)state;

    assert_int_equal(ovs_sweeps_load(db, &s, err, sizeof err), 0);
    assert_int_equal(s.has_lost, 0);
    /* rush on SQLite and calm: the PostgreSQL runs and setnx are no sweep of their own. */
    assert_int_equal(s.n, 2);
    const ovs_sweep *w = &s.v[0];
    assert_string_equal(w->scenario, "rush");
    assert_string_equal(w->strategy, "redlock");
    assert_string_equal(w->backend, "sqlite");
    assert_string_equal(w->x_key, "retry_count");
    assert_string_equal(w->line_key, "retry_delay");
    assert_string_equal(w->fixed, "ttl=5000,retry_jitter=0");
    assert_int_equal(w->n, 4);
    assert_int_equal(w->nx, 2);
    assert_int_equal(w->nl, 2);
    assert_string_equal(w->xs[0], "1");
    assert_string_equal(w->xs[1], "3");
    assert_string_equal(w->lines[0], "100");
    assert_string_equal(w->lines[1], "200");
    /* Ordered by x, then line. */
    assert_string_equal(w->pts[1].params, "ttl=5000,retry_count=1,retry_delay=200,retry_jitter=0");
    assert_string_equal(w->pts[2].params, "ttl=5000,retry_count=3,retry_delay=100,retry_jitter=0");

    const ovs_sweep_point *p = point(w, "3", "100");
    assert_int_equal(p->runs, 4);
    assert_int_equal(p->finished, 3);
    assert_int_equal(p->unsafe, 1);
    assert_int_equal(p->requests, 30);
    assert_int_equal(p->succeeded, 25);
    assert_true(fabs(ovs_sweep_success(p) - 250.0 / 3) < 1e-9);
    assert_true(p->busy == 1);
    assert_true(p->retries == 5);
    assert_true(p->p50_ns == 4e6);
    assert_true(p->p99_ns == 20e6);
    /* Two runs: the mean of the middle two. */
    p = point(w, "1", "200");
    assert_true(p->p50_ns == 3e6);
    assert_true(p->p99_ns == 12e6);
    assert_true(p->busy == 2.5);
    assert_int_equal(p->unsafe, 1);
    p = point(w, "3", "200");
    assert_int_equal(p->runs, 1);
    assert_true(p->p99_ns == 30e6);

    /* The other grid ran retry_delay outermost: that is its x axis. */
    w = &s.v[1];
    assert_string_equal(w->scenario, "calm");
    assert_string_equal(w->x_key, "retry_delay");
    assert_string_equal(w->line_key, "retry_count");
    assert_string_equal(w->xs[1], "300");
    assert_string_equal(w->lines[1], "5");
    p = point(w, "300", "5");
    assert_int_equal(p->succeeded, 2);
    ovs_sweeps_free(&s);
    assert_int_equal(s.n, 0);
    sqlite3_close(db);
}

static void test_lost_sales(void **state)
{
    sqlite3 *db = open_db(1);
    ovs_sweeps s;
    char err[256] = "";
    (void)state;

    assert_int_equal(ovs_sweeps_load(db, &s, err, sizeof err), 0);
    assert_int_equal(s.has_lost, 1);
    /* Runs 5, 6, 7 (8 failed): 1, 2, 3. */
    assert_true(point(&s.v[0], "3", "100")->lost_sales == 2);
    ovs_sweeps_free(&s);
    char *md = fixture_capture(ovs_report_sweep, db);
    assert_non_null(strstr(md, "| retry_count | retry_delay | runs | success | lost sales |"));
    assert_non_null(strstr(md, "| 3 | 100 | 4 (3 finished) | 83.3 % (25/30) | 2 | 1 | 4.00 |"
                               " 20.00 | 5 | 1/3 (6-79 %) |"));
    assert_null(strstr(md, "not recorded"));
    free(md);
    sqlite3_close(db);
}

static void test_markdown(void **state)
{
    sqlite3 *db = open_db(0);
    char *md = fixture_capture(ovs_report_sweep, db);
    (void)state;

    assert_non_null(strstr(md, "# oversell sweep\n"));
    assert_non_null(strstr(md, "## rush × redlock\n\n4 points: retry_count along the x axis,"
                               " one line per retry_delay; the same in every point:"
                               " ttl=5000,retry_jitter=0.\n"));
    assert_non_null(strstr(md, "Lost sales are not recorded in this database"));
    assert_non_null(strstr(md, "| 3 | 100 | 4 (3 finished) | 83.3 % (25/30) | 1 | 4.00 |"
                               " 20.00 | 5 | 1/3 (6-79 %) |"));
    assert_non_null(strstr(md, "| 1 | 200 | 2 | 75.0 % (15/20) | 2.5 | 3.00 | 12.00 | 2 |"
                               " 1/2 (9-91 %) |"));
    /* Rows by x, then line. */
    assert_true(strstr(md, "| 1 | 100 |") < strstr(md, "| 1 | 200 |"));
    assert_true(strstr(md, "| 1 | 200 |") < strstr(md, "| 3 | 100 |"));
    assert_non_null(strstr(md, "## calm × redlock\n"));
    assert_null(strstr(md, "postgresql"));
    assert_null(strstr(md, "setnx"));
    free(md);
    sqlite3_close(db);
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void test_html(void **state)
{
    sqlite3 *db = open_db(0);
    char *html = fixture_capture(ovs_report_html, db);
    (void)state;

    assert_non_null(strstr(html, "<h2 id=\"sweeps\">Sweeps</h2>"));
    /* Six figures a sweep without lost sales: success, gave up, p50, p99, retries, unsafe. */
    assert_int_equal(count(html, "<svg class=\"sweep\""), 12);
    assert_non_null(strstr(html, "<figcaption>p99 latency (median)</figcaption>"));
    /* Two lines in each of rush's charts, the legend naming them, the axes labelled. */
    assert_int_equal(count(html, "<polyline"), 24);
    assert_non_null(strstr(html, ">retry_delay=200</text>"));
    assert_non_null(strstr(html, "class=\"lbl\">retry_count</text>"));
    assert_non_null(strstr(html, "<title>retry_count=3, retry_delay=100: 20.00</title>"));
    assert_null(strstr(html, "<script"));
    free(html);
    sqlite3_close(db);

    /* No sweep, no section. */
    const char *one[1] = { "INSERT INTO runs(id, scenario, strategy, params, status) VALUES"
                           " (1, 'rush', 'redlock', 'ttl=1', 'ok'), (2, 'rush', 'redlock',"
                           " 'ttl=1', 'ok');" };
    db = fixture_open(FIXTURE_LOOSE, one, 1);
    assert_non_null(db);
    html = fixture_capture(ovs_report_html, db);
    assert_null(strstr(html, "Sweeps"));
    free(html);
    char *md = fixture_capture(ovs_report_sweep, db);
    assert_non_null(strstr(md, "No sweep in this database"));
    free(md);
    sqlite3_close(db);
}

/* One parameter varied: one line, no column or legend for lines. */
static void test_one_axis(void **state)
{
    const char *sql[1] = { "INSERT INTO runs(id, scenario, strategy, params, status, verdict,"
                           " requests, succeeded) VALUES"
                           " (1, 'rush', 'setnx', 'ttl=5000,retry_count=1', 'ok', 'safe', 4, 1),"
                           " (2, 'rush', 'setnx', 'ttl=5000,retry_count=4', 'ok', 'safe', 4, 3);" };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, 1);
    ovs_sweeps s;
    (void)state;

    assert_non_null(db);
    assert_int_equal(ovs_sweeps_load(db, &s, NULL, 0), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].x_key, "retry_count");
    assert_null(s.v[0].line_key);
    assert_int_equal(s.v[0].nl, 1);
    ovs_sweeps_free(&s);
    char *md = fixture_capture(ovs_report_sweep, db);
    assert_non_null(strstr(md, "| retry_count | runs | success |"));
    assert_non_null(strstr(md, "| 4 | 1 | 75.0 % (3/4) |"));
    free(md);
    char *html = fixture_capture(ovs_report_html, db);
    /* A line in the success and unsafe charts; these runs recorded no other figure. */
    assert_int_equal(count(html, "<polyline"), 2);
    assert_int_equal(count(html, "<svg class=\"sweep\""), 6);
    assert_null(strstr(html, "=1</text>"));
    free(html);
    sqlite3_close(db);
}

static void test_no_schema(void **state)
{
    (void)state;
    fixture_check_no_schema(ovs_report_sweep);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_lost_sales),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_one_axis),
        cmocka_unit_test(test_no_schema),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
