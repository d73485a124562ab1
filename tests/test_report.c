/* test_report.c - summary.md and results.csv from a hand-built results database.
 *
 * Pure logic, no servers: an in-memory SQLite database with the schema documented in
 * harness/engine/recorder.h, a handful of runs chosen to hit every cell shape (unsafe with a
 * figure, safe, re-run, aborted, error, expectation missed, text with '|', ',', '"' and a
 * line break), and exact expectations on the text. The runs use the hand-written schema
 * of results_fixture.h (some hold NULLs the recorder would refuse); the empty database is
 * the recorder's own.
 *
 * Usage: test_report [name-filter] */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "reports/report.h"
#include "results_fixture.h"

/* 59 ASCII bytes, then a two-byte character straddling the 60-byte cut. */
#define LONG_ERROR_HEAD "redis-server at 127.0.0.1:7001 refused the fence token, sor"

static const char runs[] =
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, params,"
    " seed, expect, redis_version, sqlite_version, started_at, duration_ns, status, error,"
    " verdict, figure, shop_db, requests, succeeded, refused, busy, unknown, throughput,"
    " p50_ns, p99_ns, max_ns, acquire_fail, retries) VALUES"
    /* 1: unsafe, as expected, with one failing and one passing check */
    " (1, 'flash-sale', 'scenarios/flash-sale.ini', 'Many buyers, little stock.',"
    "  'inventory', 'naive', 'buyers=50', 42, 'unsafe', '7.2.4', '3.45.1',"
    "  '2026-01-20T10:00:00Z', 2500000000, 'ok', NULL, 'unsafe', 'oversold 37',"
    "  '/tmp/shop-1.db', 200, 137, 63, 0, 0, 1234.56, 1234567, 9876543210, 12345678901,"
    "  5, 12),"
    /* 2: safe, later superseded by run 5; its failing check must not be shown */
    " (2, 'flash-sale', 'scenarios/flash-sale.ini', 'Many buyers, little stock.',"
    "  'inventory', 'redlock', 'buyers=50', 42, 'safe', '7.2.4', '3.45.1',"
    "  '2026-01-20T10:00:03Z', 3000000000, 'ok', NULL, 'safe', '0 oversold, 100 sold',"
    "  '/tmp/shop-2.db', 200, 100, 100, 0, 0, 66.66, 1000000, 2000000, 3000000, 0, 0),"
    /* 3: aborted, nothing measured */
    " (3, 'hotel', 'scenarios/hotel.ini', 'Two guests, one room.', 'booking', 'naive',"
    "  NULL, 7, 'unsafe', '7.2.4', '3.45.1', '2026-01-20T10:00:06Z', NULL, 'aborted', NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    /* 4: expected safe, was unsafe; a second Redis version */
    " (4, 'hotel', 'scenarios/hotel.ini', 'Two guests, one room.', 'booking', 'redlock',"
    "  'ttl=5s', 7, 'safe', '7.4.1', '3.45.1', '2026-01-20T10:00:09Z', 1000000000, 'ok',"
    "  NULL, 'unsafe', 'double-booked 2', '/tmp/shop-4.db', 10, 10, 0, 0, 0, 10.0,"
    "  500, 999999500, 1000000000, 1, 2),"
    /* 5: re-run of cell (flash-sale, redlock) */
    " (5, 'flash-sale', 'scenarios/flash-sale.ini', 'Many buyers, little stock.',"
    "  'inventory', 'redlock', 'buyers=50', 43, 'safe', '7.2.4', '3.45.1',"
    "  '2026-01-20T10:00:12Z', 3000000000, 'ok', NULL, 'safe', '0 oversold, 99 sold',"
    "  '/tmp/shop-5.db', 200, 99, 101, 0, 0, 66.66, 1000000, 2000000, 3000000, 0, 0),"
    /* 6: error with a long two-line message; params with a line break */
    " (6, 'hotel', 'scenarios/hotel.ini', 'Two guests, one room.', 'booking', 'fenced',"
    "  'fence=on' || char(10) || 'ttl=5s', 7, 'safe', '7.2.4', '3.45.1',"
    "  '2026-01-20T10:00:15Z', 1000, 'error', '" LONG_ERROR_HEAD "ée invalide' || char(10) ||"
    "  'second line', NULL, NULL, NULL, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0),"
    /* 7: '|', ',' and '\"' in the figure and params; the largest uint64 seed */
    " (7, 'pipes', 'scenarios/pipes.ini', NULL, 'inventory', 'naive', 'a=1,b=\"x\"', -1,"
    "  NULL, '7.2.4', '3.45.1', '2026-01-20T10:00:18Z', 1000000000, 'ok', NULL, 'unsafe',"
    "  'lost 2 | \"late\", retry', '/tmp/shop-7.db', 4, 4, 0, 0, 0, 4.0, 1, 2, 3, 0, 0);"
    "INSERT INTO checks VALUES"
    " (1, 'oversold', 37, 0, 'fail', '37 orders beyond stock'),"
    " (1, 'mutex_overlaps', 0, 0, 'pass', 'passing check must not show'),"
    " (2, 'oversold', 1, 0, 'fail', 'superseded run must not show'),"
    " (4, 'double_booked', 2, 0, 'fail', 'room 12: 2 overlapping pairs' || char(10) ||"
    "  'first at t=1.0 ms');";

static int setup(void **state)
{
    const char *const sql[] = { runs };

    return fixture_setup(state, FIXTURE_LOOSE, sql, 1);
}

/* Fail with the whole output shown, so a mismatch can be read, not guessed. */
#define assert_contains(hay, needle)                                                   \
    do {                                                                               \
        if (strstr((hay), (needle)) == NULL)                                           \
            fail_msg("missing:\n%s\n--- in output:\n%s", (needle), (hay));             \
    } while (0)

#define assert_prefix(s, prefix)                                                       \
    do {                                                                               \
        if (strncmp((s), (prefix), strlen(prefix)) != 0)                               \
            fail_msg("does not start with:\n%s\n--- output:\n%s", (prefix), (s));      \
    } while (0)

#define assert_lacks(hay, needle)                                                      \
    do {                                                                               \
        if (strstr((hay), (needle)) != NULL)                                           \
            fail_msg("unexpected:\n%s\n--- in output:\n%s", (needle), (hay));          \
    } while (0)

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_summary_header(void **state)
{
    char *s = fixture_capture(ovs_report_summary, *state);

    assert_prefix(s, "# oversell results\n\n7 runs, first started 2026-01-20T10:00:00Z;"
                     " Redis 7.2.4, 7.4.1; SQLite 3.45.1.\n\n## Matrix\n");
    free(s);
}

static void test_summary_matrix(void **state)
{
    char *s = fixture_capture(ovs_report_summary, *state);

    assert_contains(s, "\n## Matrix\n\n| scenario | naive | redlock | fenced |\n"
                       "| --- | --- | --- | --- |\n");
    /* Unsafe with its figure; the re-run cell shows the latest run and the count. */
    assert_contains(s, "\n| flash-sale | **UNSAFE** oversold 37 |"
                       " safe: 0 oversold, 99 sold ×2 | — |\n");
    /* Aborted; expectation missed; error cut on a character boundary at its first line. */
    assert_contains(s, "\n| hotel | aborted | **UNSAFE** double-booked 2 (expected safe) |"
                       " error: " LONG_ERROR_HEAD "… |\n");
    /* '|' escaped inside a cell. */
    assert_contains(s, "\n| pipes | **UNSAFE** lost 2 \\| \"late\", retry | — | — |\n");
    assert_lacks(s, "0 oversold, 100 sold");
    free(s);
}

/* Runs on two shop back ends: the column names the back end with the strategy, each
 * (strategy, back end) its own cell with its own run count; the numbers say it too. */
static void test_summary_backends(void **state)
{
    static const char *const sql[] = {
        "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy,"
        " strategy_rank, params, seed, sqlite_version, started_at, duration_ns, status,"
        " verdict, figure, backend) VALUES"
        " (1, 'flash-sale', 'f.ini', 'd', 'inventory', 'sql-pessimistic', 1, '', 1, '3',"
        "  't', 1, 'ok', 'safe', 'safe on sqlite', 'sqlite'),"
        " (2, 'flash-sale', 'f.ini', 'd', 'inventory', 'sql-pessimistic', 1, '', 1, '3',"
        "  't', 1, 'ok', 'unsafe', 'lost on postgresql', 'postgresql'),"
        " (3, 'flash-sale', 'f.ini', 'd', 'inventory', 'sql-pessimistic', 1, '', 1, '3',"
        "  't', 1, 'ok', 'safe', 'held on postgresql', 'postgresql'),"
        " (4, 'flash-sale', 'f.ini', 'd', 'inventory', 'none', 0, '', 1, '3',"
        "  't', 1, 'ok', 'unsafe', 'old run', NULL);",
    };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, 1);
    char *s;

    (void)state;
    assert_non_null(db);
    s = fixture_capture(ovs_report_summary, db);
    assert_contains(s, "| scenario | none × sqlite | sql-pessimistic × sqlite |"
                       " sql-pessimistic × postgresql |\n");
    assert_contains(s, "| flash-sale | **UNSAFE** old run | safe: safe on sqlite |"
                       " safe: held on postgresql ×2 |\n");
    assert_contains(s, "| 3 | flash-sale | sql-pessimistic × postgresql |");
    free(s);
    sqlite3_close(db);
}

static void test_summary_scenarios(void **state)
{
    char *s = fixture_capture(ovs_report_summary, *state);

    assert_contains(s, "\n## Scenarios\n\n### flash-sale\n\nMany buyers, little stock.\n\n"
                       "Scenario file: `scenarios/flash-sale.ini`\n\n"
                       "- **naive** (run 1): **UNSAFE** oversold 37\n"
                       "  - `oversold`: observed 37, expected 0. 37 orders beyond stock\n"
                       "- **redlock** (run 5): safe: 0 oversold, 99 sold\n"
                       "  - no failing checks\n\n### hotel\n");
    assert_contains(s, "- **redlock** (run 4): **UNSAFE** double-booked 2 (expected safe)\n"
                       "  - `double_booked`: observed 2, expected 0."
                       " room 12: 2 overlapping pairs first at t=1.0 ms\n");
    assert_contains(s, "- **naive** (run 3): aborted\n  - no failing checks\n");
    assert_contains(s, "### pipes\n\nScenario file: `scenarios/pipes.ini`\n\n");
    assert_lacks(s, "must not show");
    free(s);
}

static void test_summary_numbers(void **state)
{
    char *s = fixture_capture(ovs_report_summary, *state);

    assert_contains(s, "\n## Numbers\n\n| run | scenario | strategy | params | requests |"
                       " succeeded | refused | busy | unknown | errors | req/s | p50 ms | p99 ms |"
                       " max ms | acquire failures | retries | duration s |\n");
    assert_contains(s, "\n| 1 | flash-sale | naive | buyers=50 | 200 | 137 | 63 | 0 | 0 | — |"
                       " 1234.6 | 1.235 | 9876.543 | 12345.679 | 5 | 12 | 2.500 |\n");
    assert_contains(s, "\n| 3 | hotel | naive | — | — | — | — | — | — | — | — | — | — | — |"
                       " — | — | — |\n");
    /* Rounding half up at the third place: 500 ns -> 0.001 ms, 999999500 ns -> 1000.000. */
    assert_contains(s, "| 10.0 | 0.001 | 1000.000 | 1000.000 | 1 | 2 | 1.000 |\n");
    /* A line break in a cell would end the table row. */
    assert_contains(s, "\n| 6 | hotel | fenced | fence=on ttl=5s | 0 |");
    free(s);
}

static void test_summary_deterministic(void **state)
{
    char *a = fixture_capture(ovs_report_summary, *state);
    char *b = fixture_capture(ovs_report_summary, *state);

    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_csv(void **state)
{
    char *s = fixture_capture(ovs_report_csv, *state);

    assert_prefix(s, OVS_REPORT_CSV_HEADER "\n");
    /* The header is a contract: spelled out here, not only through the macro. */
    assert_prefix(s, "run_id,scenario,strategy,params,seed,status,verdict,expect,figure,"
                     "requests,succeeded,refused,busy,unknown,errors,throughput_rps,p50_ms,"
                     "p99_ms,max_ms,acquire_fail,retries,duration_s,redis_version,"
                     "sqlite_version,started_at,scenario_file,shop_db,backend,"
                     "backend_version\n");
    assert_contains(s, "\n1,flash-sale,naive,buyers=50,42,ok,unsafe,unsafe,oversold 37,200,"
                       "137,63,0,0,,1234.6,1.235,9876.543,12345.679,5,12,2.500,7.2.4,3.45.1,"
                       "2026-01-20T10:00:00Z,scenarios/flash-sale.ini,/tmp/shop-1.db,sqlite,\n");
    /* Comma-bearing figure quoted; NULLs empty. */
    assert_contains(s, "\n2,flash-sale,redlock,buyers=50,42,ok,safe,safe,"
                       "\"0 oversold, 100 sold\",");
    assert_contains(s, "\n3,hotel,naive,,7,aborted,,unsafe,,,,,,,,,,,,,,,7.2.4,3.45.1,"
                       "2026-01-20T10:00:06Z,scenarios/hotel.ini,,sqlite,\n");
    /* Quotes doubled; the seed printed unsigned; a line break kept inside quotes. */
    assert_contains(s, "\n7,pipes,naive,\"a=1,b=\"\"x\"\"\",18446744073709551615,ok,unsafe,,"
                       "\"lost 2 | \"\"late\"\", retry\",4,");
    assert_contains(s, "\n6,hotel,fenced,\"fence=on\nttl=5s\",7,error,,safe,,");
    /* Header + 7 rows, one of which holds a quoted line break. */
    assert_int_equal(count_char(s, '\n'), 1 + 7 + 1);
    assert_true(strstr(s, "\n1,") < strstr(s, "\n2,"));
    assert_true(strstr(s, "\n6,") < strstr(s, "\n7,"));
    free(s);
}

static void test_fixed(void **state)
{
    char buf[48];

    (void)state;
    ovs_report_fixed(1234567, 1000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "1.235");
    ovs_report_fixed(1234499, 1000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "1.234");
    ovs_report_fixed(-1500000, 1000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "-1.500");
    ovs_report_fixed(-400, 1000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "0.000");
    ovs_report_fixed(999999500, 1000000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "1.000");
    ovs_report_fixed(5, 10, 0, buf, sizeof buf);
    assert_string_equal(buf, "1");
    ovs_report_fixed(INT64_MIN, 1000000000, 3, buf, sizeof buf);
    assert_string_equal(buf, "-9223372036.855");
    ovs_report_fixed(INT64_MAX, 1, 0, buf, sizeof buf);
    assert_string_equal(buf, "9223372036854775807");
}

static void test_empty(void **state)
{
    sqlite3 *db;
    char *s;

    (void)state;
    db = fixture_open(FIXTURE_RECORDER, NULL, 0);
    assert_non_null(db);
    s = fixture_capture(ovs_report_summary, db);
    assert_string_equal(s, "# oversell results\n\n0 runs; Redis version not recorded;"
                           " SQLite version not recorded.\n\nNo runs recorded.\n");
    free(s);
    s = fixture_capture(ovs_report_csv, db);
    assert_string_equal(s, OVS_REPORT_CSV_HEADER "\n");
    free(s);
    sqlite3_close(db);
}

static void test_no_schema(void **state)
{
    (void)state;
    fixture_check_no_schema(ovs_report_summary);
    fixture_check_no_schema(ovs_report_csv);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_write_all(void **state)
{
    char dir[] = "/tmp/ovs_report_XXXXXX", path[128], err[256] = "";
    char *want, *got;
    int rc;

    assert_non_null(mkdtemp(dir));
    /* Twice: the second replaces the first in place. */
    for (int i = 0; i < 2; i++)
        if (ovs_report_write_all(*state, dir, err, sizeof err) != 0)
            fail_msg("write_all: %s", err);

    snprintf(path, sizeof path, "%s/summary.md", dir);
    want = fixture_capture(ovs_report_summary, *state);
    got = slurp(path);
    assert_string_equal(got, want);
    free(want);
    free(got);
    unlink(path);

    snprintf(path, sizeof path, "%s/results.csv", dir);
    want = fixture_capture(ovs_report_csv, *state);
    got = slurp(path);
    assert_string_equal(got, want);
    free(want);
    free(got);
    unlink(path);

    /* index.html is written alongside; its content is test_html.c's business. */
    snprintf(path, sizeof path, "%s/index.html", dir);
    assert_int_equal(unlink(path), 0);

    /* No temporaries left behind. */
    assert_int_equal(count_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);

    /* A failure after summary.md's temporary is written (the CSV needs a column the
     * summary does not) leaves nothing behind, not even that temporary. */
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/ovs_report_XXXXXX")));
    assert_int_equal(sqlite3_exec(*state, "ALTER TABLE runs RENAME COLUMN shop_db TO shop",
                                  NULL, NULL, NULL), SQLITE_OK);
    err[0] = '\0';
    rc = ovs_report_write_all(*state, dir, err, sizeof err);
    sqlite3_exec(*state, "ALTER TABLE runs RENAME COLUMN shop TO shop_db", NULL, NULL, NULL);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "shop_db"));
    assert_int_equal(count_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);

    /* A directory that is not there is an error with a reason, not a crash. */
    err[0] = '\0';
    assert_int_equal(ovs_report_write_all(*state, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, dir));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_header),
        cmocka_unit_test(test_summary_matrix),
        cmocka_unit_test(test_summary_backends),
        cmocka_unit_test(test_summary_scenarios),
        cmocka_unit_test(test_summary_numbers),
        cmocka_unit_test(test_summary_deterministic),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_no_schema),
        cmocka_unit_test(test_write_all),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, fixture_teardown);
}
