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

#include <jansson.h>
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
    "  'first at t=1.0 ms'),"
    /* A figure beside the verdict: shown, but never as a failing check. */
    " (5, 'stale_answers', 4, 0, 'fail', '4 of 9 stock answers contradicted SQL'),"
    " (7, 'stale_answers', 0, 0, 'pass', 'none stale must not show');";

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
    /* Unsafe with its figure; the re-run cell shows the latest run and the unsafe rate
     * over its runs, with its Wilson interval (0 of 2: 0-66 %). */
    assert_contains(s, "\n| flash-sale | **UNSAFE** oversold 37 |"
                       " safe: 0 oversold, 99 sold · unsafe in 0 of 2 runs [0–66 %] | — |\n");
    /* A cell no [expect] entry names is marked, and the mark explained. */
    assert_contains(s, "\n| pipes | **UNSAFE** lost 2 \\| \"late\", retry † | — | — |\n");
    assert_contains(s, "\n† no [expect] entry names it: a verdict the gate does not enforce.\n");
    /* Aborted; expectation missed; error cut on a character boundary at its first line. */
    assert_contains(s, "\n| hotel | aborted | **UNSAFE** double-booked 2 (expected safe) |"
                       " error: " LONG_ERROR_HEAD "… |\n");
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
    /* One of the two postgresql runs was unsafe: that run speaks for the cell, whatever
     * the later one said. */
    assert_contains(s, "| flash-sale | **UNSAFE** old run † | safe: safe on sqlite † |"
                       " **UNSAFE** lost on postgresql † · unsafe in 1 of 2 runs [9–91 %] |\n");
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
                       "  - figure `stale_answers`, beside the verdict: 4. 4 of 9 stock answers"
                       " contradicted SQL\n"
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
                     "backend_version,stale_answers,oversold,double_booked,mutex_overlaps,"
                     "lost_orders,leaked_stock,divergence,sold_after_expiry,lost_sales,"
                     "unavailable,retries_per_success,duplicate_orders,error\n");
    /* The invariants from the run's checks (oversold 37, mutex_overlaps 0), the rest
     * empty: no such check, no figure recorded. */
    assert_contains(s, "\n1,flash-sale,naive,buyers=50,42,ok,unsafe,unsafe,oversold 37,200,"
                       "137,63,0,0,,1234.6,1.235,9876.543,12345.679,5,12,2.500,7.2.4,3.45.1,"
                       "2026-01-20T10:00:00Z,scenarios/flash-sale.ini,/tmp/shop-1.db,sqlite,,,"
                       "37,,0,,,,,,,,,\n");
    /* Comma-bearing figure quoted; NULLs empty. */
    assert_contains(s, "\n2,flash-sale,redlock,buyers=50,42,ok,safe,safe,"
                       "\"0 oversold, 100 sold\",");
    assert_contains(s, "\n3,hotel,naive,,7,aborted,,unsafe,,,,,,,,,,,,,,,7.2.4,3.45.1,"
                       "2026-01-20T10:00:06Z,scenarios/hotel.ini,,sqlite,,,,,,,,,,,,,,\n");
    /* The stale answers figure: its check's observed value, empty without one. */
    assert_contains(s, ",/tmp/shop-5.db,sqlite,,4,,,,,,,,,,,,\n");
    assert_contains(s, ",/tmp/shop-7.db,sqlite,,0,,,,,,,,,,,,\n");
    /* Quotes doubled; the seed printed unsigned; a line break kept inside quotes. */
    assert_contains(s, "\n7,pipes,naive,\"a=1,b=\"\"x\"\"\",18446744073709551615,ok,unsafe,,"
                       "\"lost 2 | \"\"late\"\", retry\",4,");
    assert_contains(s, "\n6,hotel,fenced,\"fence=on\nttl=5s\",7,error,,safe,,");
    /* Header + 7 rows, one of which holds two quoted line breaks (run 6's parameters and
     * its error, the last column: why a run has no verdict). */
    assert_contains(s, ",\"" LONG_ERROR_HEAD);
    assert_int_equal(count_char(s, '\n'), 1 + 7 + 2);
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
    s = fixture_capture(ovs_report_json, db);
    assert_string_equal(s, "[]\n");
    free(s);
    sqlite3_close(db);
}

static void test_no_schema(void **state)
{
    (void)state;
    fixture_check_no_schema(ovs_report_summary);
    fixture_check_no_schema(ovs_report_csv);
    fixture_check_no_schema(ovs_report_json);
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

    snprintf(path, sizeof path, "%s/results.json", dir);
    want = fixture_capture(ovs_report_json, *state);
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

/* ---- one numeric column per invariant and figure, and results.json ----------------- */

/* Runs as the recorder writes them (its own schema): run 1 with every invariant's check,
 * each its own value so that a column reading another's shows, one of them skipped, and
 * the liveness figures; run 2 with no checks and figures of 0 (0 must not read as
 * empty); run 3 an n/a run with none of them (NULL). */
static const char figures_sql[] =
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, params,"
    " seed, sqlite_version, started_at, duration_ns, status, verdict, figure, requests,"
    " succeeded, refused, busy, unknown, errors, throughput, p50_ns, p99_ns, max_ns,"
    " acquire_fail, retries, backend, lost_sales, unavailable, retries_per_success) VALUES"
    " (1, 's', 's.ini', 'd', 'inventory', 'refuser', '', -1, '3.45.1', 't', 1500000000,"
    "  'ok', 'safe', '0 oversold, 1 sold; 19 lost sales', 40, 1, 19, 20, 0, 0, 26.66,"
    "  1234000, 2000001, 3000000, 20, 3, 'sqlite', 19, 20, 3.0),"
    " (2, 's', 's.ini', 'd', 'inventory', 'seller', '', 5, '3.45.1', 't', 1000000000,"
    "  'ok', 'safe', '0 oversold, 4 sold', 4, 4, 0, 0, 0, 0, 4.0, 1, 2, 3, 0, 0,"
    "  'sqlite', 0, 0, 0.0),"
    " (3, 's', 's.ini', 'd', 'inventory', 'elsewhere', '', 5, '3.45.1', 't', 0, 'n/a',"
    "  NULL, NULL, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 'postgresql', NULL, NULL, NULL);"
    "INSERT INTO checks VALUES"
    " (1, 'oversold', 11, 0, 'fail', ''), (1, 'double_booked', 12, 0, 'fail', ''),"
    " (1, 'mutex_overlaps', 13, 0, 'fail', ''), (1, 'lost_orders', 14, 0, 'fail', ''),"
    " (1, 'leaked_stock', 15, 0, 'fail', ''), (1, 'divergence', 16, 0, 'skipped', 'no Redis'),"
    " (1, 'sold_after_expiry', 17, 0, 'fail', ''), (1, 'stale_answers', 18, 0, 'fail', '');";

static sqlite3 *figures_db(void)
{
    const char *const sql[] = { figures_sql };
    sqlite3 *db = fixture_open(FIXTURE_RECORDER, sql, 1);

    assert_non_null(db);
    return db;
}

static void test_csv_figures(void **state)
{
    sqlite3 *db = figures_db();
    char *s = fixture_capture(ovs_report_csv, db);

    (void)state;
    /* Whole rows: a column shifted, swapped or reading another invariant changes them. */
    assert_contains(s, "\n1,s,refuser,,18446744073709551615,ok,safe,,"
                       "\"0 oversold, 1 sold; 19 lost sales\",40,1,19,20,0,0,26.7,1.234,2.000,"
                       "3.000,20,3,1.500,,3.45.1,t,s.ini,,sqlite,,"
                       "18,11,12,13,14,15,,17,19,20,3.000,,\n");
    assert_contains(s, "\n2,s,seller,,5,ok,safe,,\"0 oversold, 4 sold\",4,4,0,0,0,0,4.0,"
                       "0.000,0.000,0.000,0,0,1.000,,3.45.1,t,s.ini,,sqlite,,"
                       ",,,,,,,,0,0,0.000,,\n");
    assert_contains(s, "\n3,s,elsewhere,,5,n/a,,,,0,0,0,0,0,0,0.0,0.000,0.000,0.000,0,0,"
                       "0.000,,3.45.1,t,s.ini,,postgresql,,,,,,,,,,,,,,\n");
    free(s);
    sqlite3_close(db);
}

/* One CSV record's fields (RFC 4180, as csv.c writes it) from *p, which moves past its
 * line end. Returns the number of fields, at most max, each malloc'd. */
static int csv_record(const char **p, char **fields, int max)
{
    int n = 0;

    for (;;) {
        size_t cap = strlen(*p) + 1, len = 0;
        char *f = malloc(cap);
        assert_non_null(f);
        if (**p == '"') {
            for ((*p)++; **p != '\0'; (*p)++) {
                if (**p == '"' && (*p)[1] == '"')
                    (*p)++;
                else if (**p == '"')
                    break;
                f[len++] = **p;
            }
            (*p)++;
        } else {
            while (**p != ',' && **p != '\n' && **p != '\0')
                f[len++] = *(*p)++;
        }
        f[len] = '\0';
        assert_true(n < max);
        fields[n++] = f;
        if (**p != ',')
            break;
        (*p)++;
    }
    if (**p == '\n')
        (*p)++;
    return n;
}

/* Every field of results.json against the same field of results.csv: the same names in
 * the same order, null where the CSV is empty, integers and strings as written there,
 * and each decimal the number the CSV's text reads as. */
static void json_matches_csv(sqlite3 *db)
{
    char *csv = fixture_capture(ovs_report_csv, db), *text = fixture_capture(ovs_report_json, db);
    char *names[64], *fields[64];
    const char *p = csv;
    json_error_t jerr;
    json_t *arr = json_loads(text, 0, &jerr);
    int ncol;
    size_t row = 0;

    if (arr == NULL)
        fail_msg("results.json does not parse: %s at line %d\n%s", jerr.text, jerr.line, text);
    assert_true(json_is_array(arr));
    ncol = csv_record(&p, names, 64);
    assert_int_equal(ncol, (int)count_char(OVS_REPORT_CSV_HEADER, ',') + 1);
    for (; *p != '\0'; row++) {
        int n = csv_record(&p, fields, 64);
        json_t *run = json_array_get(arr, row);
        void *it = json_object_iter(run);
        assert_int_equal(n, ncol);
        assert_non_null(run);
        assert_int_equal(json_object_size(run), (size_t)ncol);
        for (int i = 0; i < ncol; i++, it = json_object_iter_next(run, it)) {
            json_t *v = json_object_iter_value(it);
            char buf[64];
            assert_non_null(it);
            if (strcmp(json_object_iter_key(it), names[i]) != 0)
                fail_msg("run %zu field %d: JSON %s, CSV %s", row, i,
                         json_object_iter_key(it), names[i]);
            if (json_is_null(v)) {
                if (fields[i][0] != '\0')
                    fail_msg("run %zu %s: null in JSON, '%s' in CSV", row, names[i], fields[i]);
            } else if (json_is_string(v)) {
                if (strcmp(json_string_value(v), fields[i]) != 0)
                    fail_msg("run %zu %s: '%s' in JSON, '%s' in CSV", row, names[i],
                             json_string_value(v), fields[i]);
            } else if (json_is_integer(v)) {
                snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
                if (strcmp(buf, fields[i]) != 0)
                    fail_msg("run %zu %s: %s in JSON, '%s' in CSV", row, names[i], buf,
                             fields[i]);
            } else if (json_is_real(v)) {
                if (fields[i][0] == '\0' || json_real_value(v) != strtod(fields[i], NULL))
                    fail_msg("run %zu %s: %.17g in JSON, '%s' in CSV", row, names[i],
                             json_real_value(v), fields[i]);
            } else {
                fail_msg("run %zu %s: neither null, string nor number", row, names[i]);
            }
            free(fields[i]);
        }
    }
    assert_int_equal(json_array_size(arr), row);
    for (int i = 0; i < ncol; i++)
        free(names[i]);
    json_decref(arr);
    free(csv);
    free(text);
}

static void test_json_matches_csv(void **state)
{
    sqlite3 *db = figures_db();

    json_matches_csv(*state);
    json_matches_csv(db);
    sqlite3_close(db);
}

/* The types a program reads, spelled out: numbers are numbers, NULL is null, the seed a
 * string, and a decimal is written as the CSV's digits, not as a binary expansion. */
static void test_json_values(void **state)
{
    sqlite3 *db = figures_db();
    char *text = fixture_capture(ovs_report_json, db);
    json_t *arr = json_loads(text, 0, NULL), *r;

    (void)state;
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 3);
    r = json_array_get(arr, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "run_id")), 1);
    assert_string_equal(json_string_value(json_object_get(r, "seed")), "18446744073709551615");
    assert_string_equal(json_string_value(json_object_get(r, "strategy")), "refuser");
    assert_int_equal(json_integer_value(json_object_get(r, "oversold")), 11);
    assert_int_equal(json_integer_value(json_object_get(r, "sold_after_expiry")), 17);
    assert_int_equal(json_integer_value(json_object_get(r, "stale_answers")), 18);
    assert_true(json_is_null(json_object_get(r, "divergence")));
    assert_int_equal(json_integer_value(json_object_get(r, "lost_sales")), 19);
    assert_int_equal(json_integer_value(json_object_get(r, "unavailable")), 20);
    assert_true(json_is_real(json_object_get(r, "retries_per_success")));
    assert_true(json_real_value(json_object_get(r, "retries_per_success")) == 3.0);
    assert_true(json_real_value(json_object_get(r, "p50_ms")) == 1.234);
    assert_true(json_real_value(json_object_get(r, "throughput_rps")) == 26.7);
    assert_true(json_is_null(json_object_get(r, "redis_version")));
    r = json_array_get(arr, 1);
    assert_true(json_is_integer(json_object_get(r, "lost_sales")));
    assert_int_equal(json_integer_value(json_object_get(r, "lost_sales")), 0);
    assert_true(json_is_null(json_object_get(r, "oversold")));
    r = json_array_get(arr, 2);
    assert_true(json_is_null(json_object_get(r, "lost_sales")));
    assert_true(json_is_null(json_object_get(r, "retries_per_success")));
    assert_contains(text, "\"p50_ms\": 1.234,");
    assert_contains(text, "\"duration_s\": 1.5,");
    assert_lacks(text, "99999");
    assert_int_equal(text[strlen(text) - 1], '\n');
    json_decref(arr);
    free(text);
    sqlite3_close(db);
}

/* Text that is not UTF-8 (a figure cut inside a character) is written with U+FFFD in
 * place of the bad byte, not dropped and not failing the report. */
static void test_json_invalid_utf8(void **state)
{
    static const char *const sql[] = {
        "INSERT INTO runs(id, scenario, strategy, status, figure) VALUES"
        " (1, 's', 'x', 'ok', 'caf' || char(233) || ' ' || CAST(X'C3' AS TEXT) || '!');",
    };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, 1);
    char *text;
    json_t *arr;

    (void)state;
    assert_non_null(db);
    text = fixture_capture(ovs_report_json, db);
    arr = json_loads(text, 0, NULL);
    assert_non_null(arr);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "figure")),
                        "caf\xc3\xa9 \xef\xbf\xbd!");
    json_decref(arr);
    free(text);
    sqlite3_close(db);
}

/* A results file from before the liveness figures: their columns read empty (null), the
 * rest as before - `oversell report` opens such a file read-only and cannot add them. */
static void test_old_database(void **state)
{
    static const char *const sql[] = {
        "ALTER TABLE runs DROP COLUMN lost_sales; ALTER TABLE runs DROP COLUMN unavailable;"
        "ALTER TABLE runs DROP COLUMN retries_per_success;"
        "INSERT INTO runs(id, scenario, strategy, status, requests) VALUES"
        " (1, 's', 'x', 'ok', 3);"
        "INSERT INTO checks VALUES (1, 'oversold', 2, 0, 'fail', '');",
    };
    sqlite3 *db = fixture_open(FIXTURE_LOOSE, sql, 1);
    char *s;

    (void)state;
    assert_non_null(db);
    s = fixture_capture(ovs_report_csv, db);
    assert_contains(s, "\n1,s,x,,,ok,,,,3,,,,,,,,,,,,,,,,,,sqlite,,,2,,,,,,,,,,,\n");
    free(s);
    json_matches_csv(db);
    sqlite3_close(db);
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
        cmocka_unit_test(test_csv_figures),
        cmocka_unit_test(test_json_matches_csv),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_json_invalid_utf8),
        cmocka_unit_test(test_old_database),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, fixture_teardown);
}
