/* test_metrics.c - the Prometheus exposition of reports/metrics.c over a hand-built
 * results database: buckets that are cumulative and end in a +Inf equal to _count, a sum
 * in exact seconds, the failure count by its one definition (outcome 'fail' only), label
 * values escaped, cells without events still present and n/a cells absent, and a file
 * written whole or not at all. `promtool check metrics` on a real run's file is
 * tests/metrics.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/metrics.h"
#include "results_fixture.h"

/* Run 1, cell A (a scenario name with a quote, a backslash and a line feed, to be
 * escaped): acquisitions of 0.5 ms, 1 ms exactly (on the bound: le is "<="), 2 ms, 50 ms,
 * 2 s and 7 s; one of them 'fail', one 'unknown'. Run 2 is the same cell's second run:
 * one more acquisition of 3 ms, and a worse oversell. Run 3, cell B on postgresql: no
 * events at all. Run 4: n/a, no series. Other ops are not acquisitions. */
static const char rows[] =
    "INSERT INTO runs(id, scenario, strategy, status, verdict, backend) VALUES"
    " (1, 'sale \"big\" \\ one\nline', 'setnx', 'ok', 'unsafe', NULL),"
    " (2, 'sale \"big\" \\ one\nline', 'setnx', 'ok', 'safe', 'sqlite'),"
    " (3, 'calm', 'redlock', 'ok', 'safe', 'postgresql'),"
    " (4, 'calm', 'sql-advisory', 'n/a', NULL, 'sqlite');"
    "INSERT INTO events(run, client, op, start_ns, end_ns, outcome) VALUES"
    " (1, 0, 'acquire', 0, 500000, 'ok'),"
    " (1, 1, 'acquire', 10, 1000010, 'ok'),"
    " (1, 2, 'acquire', 0, 2000000, 'fail'),"
    " (1, 3, 'acquire', 0, 50000000, 'unknown'),"
    " (1, 4, 'acquire', 0, 2000000000, 'ok'),"
    " (1, 5, 'acquire', 0, 7000000000, 'ok'),"
    " (1, 0, 'request', 0, 9000000000, 'fail'),"
    " (1, 0, 'release', 0, 1, 'fail'),"
    " (2, 0, 'acquire', 0, 3000000, 'ok');"
    "INSERT INTO checks(run, invariant, observed, expected, verdict) VALUES"
    " (1, 'oversold', 2, 0, 'fail'), (1, 'mutex_overlaps', 9, 0, 'fail'),"
    " (2, 'oversold', 5, 0, 'fail'), (3, 'double_booked', 0, 0, 'pass');";

#define CELL_A "scenario=\"sale \\\"big\\\" \\\\ one\\nline\",strategy=\"setnx\",backend=\"sqlite\""
#define CELL_B "scenario=\"calm\",strategy=\"redlock\",backend=\"postgresql\""

static int setup(void **state)
{
    const char *sql[] = { rows };
    return fixture_setup(state, FIXTURE_LOOSE, sql, 1);
}

/* The value of the sample whose line starts with prefix; fails the test when absent. */
static long long value_of(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);

    while (p != NULL && *p != '\0') {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    fail_msg("no sample %s in:\n%s", prefix, text);
    return -1;
}

static void test_buckets_cumulative(void **state)
{
    char *text = fixture_capture(ovs_metrics_write, *state);
    static const char *const les[] = { "0.001", "0.01", "0.1", "1", "5", "+Inf" };
    /* <= 1 ms: 0.5 and 1.0; <= 10 ms: + 2 and 3; <= 100 ms: + 50; <= 1 s: same;
     * <= 5 s: + 2 s; +Inf: + 7 s. */
    static const long long want[] = { 2, 4, 5, 5, 6, 7 };
    char name[256];
    long long prev = 0;

    for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
        snprintf(name, sizeof name, "redis_lock_acquisition_seconds_bucket{" CELL_A ",le=\"%s\"}",
                 les[i]);
        long long v = value_of(text, name);
        assert_true(v >= prev);
        assert_int_equal(v, want[i]);
        prev = v;
    }
    assert_int_equal(prev, value_of(text, "redis_lock_acquisition_seconds_count{" CELL_A "}"));
    /* 0.0005 + 0.001 + 0.002 + 0.05 + 2 + 7 + 0.003 s, to the nanosecond. */
    assert_non_null(strstr(text, "redis_lock_acquisition_seconds_sum{" CELL_A "} 9.056500000\n"));
    free(text);
}

static void test_failures_and_gauges(void **state)
{
    char *text = fixture_capture(ovs_metrics_write, *state);

    /* One 'fail'; the 'unknown' acquisition and the failed request and release are not. */
    assert_int_equal(value_of(text, "redis_lock_failures_total{" CELL_A "}"), 1);
    assert_int_equal(value_of(text, "oversell_ok_runs{" CELL_A "}"), 2);
    assert_int_equal(value_of(text, "oversell_unsafe_runs{" CELL_A "}"), 1);
    /* The worst primary check of the two runs; mutex_overlaps is not one. */
    assert_int_equal(value_of(text, "oversell_oversold{" CELL_A "}"), 5);
    /* A cell without events: a histogram of zeros, no failures. */
    assert_int_equal(value_of(text, "redis_lock_acquisition_seconds_bucket{" CELL_B ",le=\"+Inf\"}"), 0);
    assert_int_equal(value_of(text, "redis_lock_acquisition_seconds_count{" CELL_B "}"), 0);
    assert_int_equal(value_of(text, "redis_lock_failures_total{" CELL_B "}"), 0);
    assert_int_equal(value_of(text, "oversell_oversold{" CELL_B "}"), 0);
    assert_null(strstr(text, "sql-advisory"));
    /* Every family declared once, in order, each before its samples. */
    const char *h = strstr(text, "# TYPE redis_lock_acquisition_seconds histogram\n");
    const char *c = strstr(text, "# TYPE redis_lock_failures_total counter\n");
    assert_non_null(h);
    assert_non_null(c);
    assert_true(h < c);
    assert_true(strstr(text, "redis_lock_failures_total{") > c);
    assert_null(strstr(c + 1, "# TYPE redis_lock_failures_total"));
    free(text);
}

static void test_deterministic(void **state)
{
    char *a = fixture_capture(ovs_metrics_write, *state);
    char *b = fixture_capture(ovs_metrics_write, *state);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_no_schema(void **state)
{
    (void)state;
    fixture_check_no_schema(ovs_metrics_write);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The file appears whole with no temporary beside it; a failed write leaves the old file
 * as it was and no temporary either. */
static void test_write_file(void **state)
{
    char dir[] = "/tmp/ovs-metrics.XXXXXX", path[64], err[256] = "", buf[64];
    sqlite3 *empty;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/oversell.prom", dir);
    assert_int_equal(ovs_metrics_write_file(*state, path, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 1);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_memory_equal(buf, "# HELP redis_lock_acquisition_seconds ", 38);

    assert_int_equal(sqlite3_open(":memory:", &empty), SQLITE_OK);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(ovs_metrics_write_file(empty, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such table"));
    assert_int_equal(count_entries(dir), 1);
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old\n");
    sqlite3_close(empty);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_cumulative),
        cmocka_unit_test(test_failures_and_gauges),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_no_schema),
        cmocka_unit_test(test_write_file),
    };
    return cmocka_run_group_tests(tests, setup, fixture_teardown);
}
