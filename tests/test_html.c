/* test_html.c - index.html from a hand-built results database.
 *
 * Pure logic, no servers, no browser: an in-memory SQLite database with the schema of
 * harness/engine/recorder.h (the hand-written one of results_fixture.h: these runs fill only the
 * columns a page shows), holding runs chosen for each thing the page must get right: the
 * verdict colours and the expectation flag in the matrix, escaping of free text, a
 * timeline with overlapping lock holds and a double booking (times taken from a real
 * two-guests run), an oversale on inventory, and a run too big for a timeline. The empty
 * database is the recorder's own. The cases of overlap_cases.h hold the red overlap
 * windows to the checker's definition of overlap.
 *
 * Usage: test_html [name-filter] */
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

#include "overlap_cases.h"
#include "reports/report.h"
#include "results_fixture.h"

static const char fixture[] =
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, expect,"
    " redis_version, sqlite_version, started_at, status, error, verdict, figure,"
    " throughput) VALUES"
    /* 1: unsafe as expected; its events are a real two-guests run */
    " (1, 'two-guests', 'scenarios/two.ini',"
    "  'Two guests <script>alert(\"x\")</script> & ''one'' room.', 'booking', 'none',"
    "  'unsafe', '7.2.4', '3.45.1', '2026-01-20T10:00:00Z', 'ok', NULL, 'unsafe',"
    "  'double-booked 1 pair', 4.4),"
    /* 2: safe, one after the other */
    " (2, 'two-guests', 'scenarios/two.ini',"
    "  'Two guests <script>alert(\"x\")</script> & ''one'' room.', 'booking', 'setnx',"
    "  'safe', '7.2.4', '3.45.1', '2026-01-20T10:00:01Z', 'ok', NULL, 'safe',"
    "  '0 double-booked', 6.0),"
    /* 3: 25 clients: no timeline */
    " (3, 'crowd', 'scenarios/crowd.ini', 'Many buyers.', 'inventory', 'none', 'unsafe',"
    "  '7.2.4', '3.45.1', '2026-01-20T10:00:02Z', 'ok', NULL, 'unsafe', 'oversold 5', 900.5),"
    /* 4: safe where unsafe was expected */
    " (4, 'crowd', 'scenarios/crowd.ini', 'Many buyers.', 'inventory', 'setnx', 'unsafe',"
    "  '7.2.4', '3.45.1', '2026-01-20T10:00:03Z', 'ok', NULL, 'safe', '0 oversold', 800.0),"
    /* 5: three sales of two units */
    " (5, 'tiny-sale', 'scenarios/tiny.ini', 'Three buyers, two units.', 'inventory',"
    "  'none', 'unsafe', '7.2.4', '3.45.1', '2026-01-20T10:00:04Z', 'ok', NULL, 'unsafe',"
    "  'oversold 1', 100.0),"
    /* 6: aborted; 7: error with markup in the message */
    " (6, 'tiny-sale', 'scenarios/tiny.ini', 'Three buyers, two units.', 'inventory',"
    "  'setnx', 'safe', '7.2.4', '3.45.1', '2026-01-20T10:00:05Z', 'aborted', NULL, NULL,"
    "  NULL, NULL),"
    " (7, 'tiny-sale', 'scenarios/tiny.ini', 'Three buyers, two units.', 'inventory',"
    "  'redlock', 'safe', '7.2.4', '3.45.1', '2026-01-20T10:00:06Z', 'error',"
    "  '<boom> node 1 down', NULL, NULL, NULL);"
    "INSERT INTO events VALUES"
    " (1, 0, 'request', 'hotel:1:2026-01-20', 125060, 301905792, 'ok', 'booked'),"
    " (1, 0, 'acquire', 'hotel:1:2026-01-20', 129378, 129449, 'ok', 'attempts=1'),"
    " (1, 0, 'critical', 'hotel:1:2026-01-20', 129449, 301904109, 'ok', ''),"
    " (1, 0, 'check', 'hotel:1:2026-01-20', 130500, 192859, 'ok', 'overlapping=0'),"
    " (1, 1, 'request', 'hotel:1:2026-01-20', 150175243, 450939551, 'ok', 'booked'),"
    " (1, 1, 'acquire', 'hotel:1:2026-01-20', 150186454, 150186745, 'ok', 'attempts=1'),"
    " (1, 1, 'critical', 'hotel:1:2026-01-20', 150186745, 450938188, 'ok', ''),"
    " (1, 1, 'check', 'hotel:1:2026-01-20', 150191023, 150329175, 'ok', 'overlapping=0'),"
    " (1, 0, 'act', 'hotel:1:2026-01-20', 300377595, 301903117, 'ok', ''),"
    " (1, 0, 'release', 'hotel:1:2026-01-20', 301904440, 301905482, 'ok', ''),"
    " (1, 1, 'act', 'hotel:1:2026-01-20', 450717719, 450937587, 'ok', ''),"
    " (1, 1, 'release', 'hotel:1:2026-01-20', 450938529, 450939381, 'ok', ''),"
    /* run 2: holds that touch ([a,b) and [b,c)) but do not overlap */
    " (2, 0, 'request', 'hotel:1:2026-01-20', 0, 300000000, 'ok', 'booked'),"
    " (2, 0, 'critical', 'hotel:1:2026-01-20', 100000, 300000000, 'ok', ''),"
    " (2, 0, 'act', 'hotel:1:2026-01-20', 200000000, 290000000, 'ok', ''),"
    " (2, 1, 'request', 'hotel:1:2026-01-20', 150000000, 400000000, 'fail', 'room taken'),"
    " (2, 1, 'critical', 'hotel:1:2026-01-20', 300000000, 400000000, 'ok', ''),"
    " (2, 1, 'check', 'hotel:1:2026-01-20', 300000000, 310000000, 'fail', 'overlapping=1'),"
    /* run 5: the third sale is one too many */
    " (5, 0, 'request', 'sku:1', 0, 10000000, 'ok', ''),"
    " (5, 0, 'act', 'sku:1', 5000000, 10000000, 'ok', ''),"
    " (5, 1, 'request', 'sku:1', 0, 20000000, 'ok', ''),"
    " (5, 1, 'act', 'sku:1', 15000000, 20000000, 'ok', ''),"
    " (5, 2, 'request', 'sku:1', 0, 30000000, 'ok', ''),"
    " (5, 2, 'act', 'sku:1', 25000000, 30000000, 'ok', '');"
    /* runs 3 and 4: 25 clients, one request and one hold each */
    "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 24)"
    " INSERT INTO events SELECT r, i, op, 'sku:1', i * 1000000, i * 1000000 + 2500000, 'ok',"
    " '' FROM c, (SELECT 3 AS r UNION ALL SELECT 4),"
    " (SELECT 'request' AS op UNION ALL SELECT 'critical');"
    "INSERT INTO checks VALUES"
    " (1, 'double_booked', 1, 0, 'fail', '1 overlapping pairs among 2 confirmed bookings'),"
    " (1, 'mutex_overlaps', 1, 0, 'fail', 'clients 0 and 1 both held the room'),"
    " (2, 'double_booked', 0, 0, 'pass', '0 overlapping pairs among 1 confirmed bookings'),"
    " (3, 'oversold', 5, 0, 'fail', 'oversold 5: 25 orders for 20 units; worst sku 1'),"
    " (4, 'oversold', 0, 0, 'pass', '20 orders for 20 units; lowest stock 0'),"
    " (5, 'oversold', 1, 0, 'fail', 'oversold 1: 3 orders for 2 units; worst sku 1,"
    "  lowest stock -1');";

/* The screens of run 5: right for client 0, stale for client 2 (core/answer.h), and the
 * figure they give. */
static const char screens[] =
    "INSERT INTO events VALUES"
    " (5, 0, 'answer', 'sku:1', 100000, 400000, 'ok', 'answer=2 truth=2..2'),"
    " (5, 2, 'answer', 'sku:1', 100000, 400000, 'ok', 'answer=2 truth=0..0');"
    "INSERT INTO checks VALUES"
    " (5, 'stale_answers', 1, 0, 'fail', '1 of 2 stock answers contradicted SQL');";

static int setup(void **state)
{
    const char *const sql[] = { fixture, screens };

    return fixture_setup(state, FIXTURE_LOOSE, sql, 2);
}

/* The page written into memory; fails the test if the writer fails. Caller frees. */
static char *page(sqlite3 *db)
{
    return fixture_capture(ovs_report_html, db);
}

/* The whole output is not shown on failure (it is tens of kilobytes): the needle and the
 * part searched are. */
#define assert_contains(hay, needle)                                                   \
    do {                                                                               \
        if (strstr((hay), (needle)) == NULL)                                           \
            fail_msg("missing: %s\n--- in (%zu bytes):\n%.3000s", (needle),            \
                     strlen(hay), (hay));                                              \
    } while (0)

#define assert_lacks(hay, needle)                                                      \
    do {                                                                               \
        const char *at_ = strstr((hay), (needle));                                     \
        if (at_ != NULL)                                                               \
            fail_msg("unexpected: %s\n--- at: %.300s", (needle), at_);                 \
    } while (0)

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}

/* The timeline figure of one run, or NULL when the page has none. Caller frees. */
static char *timeline(const char *html, int run)
{
    char id[32];
    const char *a, *b;

    snprintf(id, sizeof id, "id=\"tl-run-%d\"", run);
    if ((a = strstr(html, id)) == NULL)
        return NULL;
    b = strstr(a, "</figure>");
    assert_non_null(b);
    return strndup(a, (size_t)(b - a));
}

static void test_header(void **state)
{
    char *s = page(*state);

    assert_true(strncmp(s, "<!DOCTYPE html>\n<html lang=\"en\">\n", 33) == 0);
    assert_contains(s, "<meta charset=\"utf-8\">");
    /* The same line of context as summary.md. */
    assert_contains(s, "<h1>oversell results</h1>\n<p class=\"context\">7 runs, first started"
                       " 2026-01-20T10:00:00Z; Redis 7.2.4; SQLite 3.45.1.</p>\n");
    assert_true(strstr(s, "</body>\n</html>\n") == s + strlen(s) - 16);
    free(s);
}

static void test_matrix(void **state)
{
    char *s = page(*state);
    char *m = strstr(s, "<table class=\"matrix\">");

    assert_non_null(m);
    *strstr(m, "</table>") = '\0';
    assert_contains(m, "<tr><th>scenario</th><th>none</th><th>setnx</th><th>redlock</th>"
                       "</tr>");
    assert_contains(m, "<td class=\"cell v-unsafe\"><a href=\"#run-1\"><span class=\"verdict\">"
                       "UNSAFE</span><span class=\"fig\">double-booked 1 pair</span>");
    assert_contains(m, "<td class=\"cell v-safe\"><a href=\"#run-2\"><span class=\"verdict\">"
                       "safe</span>");
    /* Safe where unsafe was expected: outlined and flagged. */
    assert_contains(m, "<td class=\"cell v-safe mismatch\"><a href=\"#run-4\">");
    assert_contains(m, "<span class=\"flag\">⚠ expected unsafe</span>");
    assert_contains(m, "<td class=\"cell v-aborted\"><a href=\"#run-6\"><span"
                       " class=\"verdict\">aborted</span>");
    /* The error in grey, its text escaped in the cell and the tooltip. */
    assert_contains(m, "<td class=\"cell v-error\" title=\"&lt;boom&gt; node 1 down\">"
                       "<a href=\"#run-7\"><span class=\"verdict\">error</span>"
                       "<span class=\"fig\">&lt;boom&gt; node 1 down</span>");
    assert_contains(m, "<td class=\"cell v-empty\">—</td>");
    /* Rows in order of first appearance. */
    assert_true(strstr(m, ">two-guests<") < strstr(m, ">crowd<"));
    assert_true(strstr(m, ">crowd<") < strstr(m, ">tiny-sale<"));
    assert_int_equal(count(m, "mismatch"), 1);
    free(s);
}

static void test_escaping(void **state)
{
    char *s = page(*state);

    assert_contains(s, "<p>Two guests &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
                       " &amp; &#39;one&#39; room.</p>");
    assert_lacks(s, "<script");
    assert_lacks(s, "<boom>");
    free(s);
}

static void test_self_contained(void **state)
{
    char *s = page(*state);

    assert_lacks(s, "http://");
    assert_lacks(s, "https://");
    assert_lacks(s, "<script");
    assert_lacks(s, "<link");
    assert_lacks(s, "<img");
    assert_lacks(s, "url(");
    assert_lacks(s, "@import");
    /* Balanced: an unclosed <svg> swallows the rest of the page. */
    assert_true(count(s, "<svg") > 0);
    assert_int_equal(count(s, "<svg"), count(s, "</svg>"));
    assert_int_equal(count(s, "<figure"), count(s, "</figure>"));
    assert_int_equal(count(s, "<section"), count(s, "</section>"));
    assert_int_equal(count(s, "<table"), count(s, "</table>"));
    assert_int_equal(count(s, "<text"), count(s, "</text>"));
    free(s);
}

static void test_charts(void **state)
{
    char *s = page(*state);

    /* Latency percentiles from the request events; nearest rank of two requests. */
    assert_contains(s, "<svg class=\"latency\"");
    assert_contains(s, "<title>none p50: 300.764 ms</title>");
    assert_contains(s, "<title>none max: 301.781 ms</title>");
    assert_contains(s, "2 requests</text>");
    assert_contains(s, "latency of one request, ms (log scale)");
    assert_contains(s, "<svg class=\"throughput\"");
    assert_contains(s, ">900.5</text>");
    /* The aborted run has neither. */
    assert_contains(s, "no requests recorded");
    assert_contains(s, "not recorded</text>");
    free(s);
}

static void test_timeline_violations(void **state)
{
    char *s = page(*state);
    char *t = timeline(s, 1);

    assert_non_null(t);
    assert_contains(t, "<figcaption>none (run 1)</figcaption>");
    assert_contains(t, "<svg class=\"timeline\"");
    assert_contains(t, ">client 0</text>");
    assert_contains(t, ">client 1</text>");
    /* The overlap window, red, labelled with its times. */
    assert_contains(t, "<rect class=\"viol\"");
    assert_contains(t, "fill=\"#d00000\"><title>2 holders of hotel:1:2026-01-20"
                       " t=150.2–301.9 ms</title>");
    assert_contains(t, ">2 holders t=150.2–301.9 ms</text>");
    /* The second booking of the room, and the list in words. */
    assert_contains(t, ">double booking t=450.9 ms</text>");
    assert_contains(t, "<li>client 0, client 1: 2 holders of <code>hotel:1:2026-01-20</code>"
                       " at once, t=150.2–301.9 ms</li>");
    assert_contains(t, "<li>client 1 booked <code>hotel:1:2026-01-20</code> at t=450.9 ms,"
                       " already booked by client 0 at t=301.9 ms</li>");
    /* What each check saw, under its mark. */
    assert_int_equal(count(t, ">check: overlapping=0</text>"), 2);
    /* Axis in ms with ticks. */
    assert_contains(t, "time since the run started, ms");
    assert_contains(t, ">500</text>");
    free(t);
    free(s);
}

static void test_timeline_clean(void **state)
{
    char *s = page(*state);
    char *t = timeline(s, 2);

    /* Touching holds are not an overlap, and the one booking breaks nothing. */
    assert_non_null(t);
    assert_lacks(t, "class=\"viol");
    assert_lacks(t, "#d00000");
    assert_contains(t, "No violations drawn");
    assert_contains(t, ">check fail: overlapping=1</text>");
    free(t);
    free(s);
}

static void test_timeline_oversale(void **state)
{
    char *s = page(*state);
    char *t = timeline(s, 5);

    assert_non_null(t);
    /* Stock 2 from the oversold check: the third sale, by end time, is the red one. */
    assert_contains(t, ">sale 3 beyond stock 2 t=30.0 ms</text>");
    assert_int_equal(count(t, ">sale "), 1);
    assert_contains(t, "<li>client 2 made sale 3 of <code>sku:1</code> at t=30.0 ms, beyond"
                       " the initial stock of 2</li>");
    /* The screens: the stale one red, the right one not. */
    assert_contains(t, "fill=\"#d00000\" stroke=\"#2166ac\"><title>client 2 answer sku:1"
                       " t=0.1–0.4 ms ok: answer=2 truth=0..0</title>");
    assert_lacks(t, "fill=\"#d00000\" stroke=\"#2166ac\"><title>client 0 answer");
    assert_contains(t, "<title>client 0 answer sku:1 t=0.1–0.4 ms ok: answer=2 truth=2..2");
    free(t);
    /* The figure is listed with the run's checks, as a figure, not a failing check. */
    assert_contains(s, "<li>figure <code>stale_answers</code>, beside the verdict: 1. 1 of 2"
                       " stock answers contradicted SQL</li>");
    free(s);
}

/* A red window is drawn exactly where the checker counts an overlap, for the same
 * sections: none for touching, empty or one client's own sections, one per stretch of two
 * or more holders otherwise, starting where the checker's first overlap starts and naming
 * every holder (overlap_cases.h). The witness on sku:2 is drawn in every run. */
static void test_timeline_overlap_cases(void **state)
{
    sqlite3 *db = oc_open();
    char *s;

    (void)state;
    assert_non_null(db);
    s = page(db);
    for (size_t i = 0; i < OC_NCASES; i++) {
        const oc_case *c = &oc_cases[i];
        char *t = timeline(s, OC_RUN0 + (int)i);
        char want[200];
        ovs_overlap o;
        size_t windows;

        if (t == NULL)
            fail_msg("case %s: no timeline", c->name);
        oc_overlaps(c->s, c->n, &o);
        windows = count(t, "holders of <code>sku:1</code>");
        if ((windows > 0) != (o.pairs > 0) || windows != (c->window != NULL))
            fail_msg("case %s: the checker counts %lld overlapping pairs, the timeline lists"
                     " %zu windows:\n%s", c->name, (long long)o.pairs, windows, t);
        if (c->window != NULL) {
            snprintf(want, sizeof want, "<li>%s</li>", c->window);
            assert_contains(t, want);
            /* The window opens where the checker's first overlap does. */
            snprintf(want, sizeof want, "<code>sku:1</code> at once, t=%lld.0–",
                     (long long)(o.first_start / OC_MS));
            assert_contains(t, want);
        }
        assert_int_equal(count(t, "holders of <code>sku:2</code>"), 1);
        assert_contains(t, "<li>" OC_WITNESS_WINDOW "</li>");
        free(t);
    }
    free(s);
    sqlite3_close(db);
}

static void test_no_timeline(void **state)
{
    char *s = page(*state);

    /* 25 clients: no timeline, and a line saying why. */
    assert_null(strstr(s, "id=\"tl-run-3\""));
    assert_null(strstr(s, "id=\"tl-run-4\""));
    assert_contains(s, "<p class=\"note\">No timeline for none (run 3): 25 clients (at most"
                       " 20 are drawn); setnx (run 4): 25 clients (at most 20 are drawn).</p>");
    assert_contains(s, "setnx (run 6): no events recorded; redlock (run 7): no events"
                       " recorded.</p>");
    /* Drawn timelines: runs 1, 2 and 5; the legend once per scenario that has any. */
    assert_int_equal(count(s, "<svg class=\"timeline\""), 3);
    assert_int_equal(count(s, "<svg class=\"legend\""), 2);
    free(s);
}

static void test_deterministic(void **state)
{
    char *a = page(*state);
    char *b = page(*state);

    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_empty(void **state)
{
    sqlite3 *db;
    char *s;

    (void)state;
    db = fixture_open(FIXTURE_RECORDER, NULL, 0);
    assert_non_null(db);
    s = page(db);
    assert_contains(s, "<p class=\"context\">0 runs; Redis version not recorded; SQLite"
                       " version not recorded.</p>\n<p>No runs recorded.</p>\n</body>");
    free(s);
    sqlite3_close(db);
}

static void test_no_schema(void **state)
{
    (void)state;
    fixture_check_no_schema(ovs_report_html);
}

static void test_write_all(void **state)
{
    char dir[] = "/tmp/ovs_html_XXXXXX", path[128], err[256] = "";
    char *want, *got = NULL;
    size_t len = 0;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    if (ovs_report_write_all(*state, dir, err, sizeof err) != 0)
        fail_msg("write_all: %s", err);
    snprintf(path, sizeof path, "%s/index.html", dir);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    assert_true(getdelim(&got, &len, '\0', f) > 0);
    fclose(f);
    want = page(*state);
    assert_string_equal(got, want);
    free(want);
    free(got);
    unlink(path);
    snprintf(path, sizeof path, "%s/summary.md", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/results.csv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/results.json", dir);
    unlink(path);
    /* Nothing else left behind: no temporaries. */
    assert_int_equal(rmdir(dir), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_self_contained),
        cmocka_unit_test(test_charts),
        cmocka_unit_test(test_timeline_violations),
        cmocka_unit_test(test_timeline_clean),
        cmocka_unit_test(test_timeline_oversale),
        cmocka_unit_test(test_timeline_overlap_cases),
        cmocka_unit_test(test_no_timeline),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_no_schema),
        cmocka_unit_test(test_write_all),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, fixture_teardown);
}
