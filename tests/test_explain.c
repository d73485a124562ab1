/* test_explain.c - the teaching timeline and the Mermaid diagram from a hand-built database.
 *
 * Pure logic, no servers: an in-memory SQLite database made by the recorder itself
 * (results_fixture.h), holding the classic two-guest double booking twice, as the harness
 * recorded it (the events are copied from real runs, nanoseconds and all): once under no
 * protection, where both guests book, and once under Redlock, where Bob waits for the lock
 * and is refused. A tiny sale under no protection covers the oversold rule, unnamed
 * clients and text Mermaid must not see raw. The layout is part of the contract: a time
 * column of 10, then columns of 43 (two clients) or 28 (three) two spaces apart, so a
 * step's column is asserted exactly. The cases of overlap_cases.h hold the "two holders"
 * step to the checker's definition of overlap.
 *
 * Usage: test_explain [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "reports/explain.h"
#include "overlap_cases.h"
#include "results_fixture.h"

#define TWO_GUESTS "'double-booking-two-guests', 'scenarios/double-booking-two-guests.ini'," \
    " 'Two guests book the same room and nights 150 ms apart.', 'booking'"
#define K "'hotel:1:2026-01-20'"

static const char *const fixture[] = {
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, params,"
    " seed, expect, sqlite_version, started_at, duration_ns, status, verdict, figure) VALUES"
    " (1, " TWO_GUESTS ", 'none', '', 42, 'unsafe', '3.45.1', '2026-01-20T10:00:00Z',"
    "  451000000, 'ok', 'unsafe', 'double-booked 1 pair (2 booked); 1 overlapping holds')," 
    " (2, " TWO_GUESTS ", 'redlock', 'nodes=5,ttl=5000', 42, 'safe', '3.45.1',"
    "  '2026-01-20T10:00:01Z', 463000000, 'ok', 'safe', '0 double-booked, 1 booked'),"
    " (3, 'tiny-sale', 'scenarios/tiny-sale.ini', 'One unit, three buyers.', 'inventory',"
    "  'none', '', 7, 'unsafe', '3.45.1', '2026-01-20T10:00:02Z', 20000000, 'ok', 'unsafe',"
    "  'oversold 1 (2 sold of 1)'),"
    /* 4: a later run of the first cell that was interrupted before anything was recorded */
    " (4, " TWO_GUESTS ", 'none', '', 42, 'unsafe', '3.45.1', '2026-01-20T10:00:03Z', 0,"
    "  'aborted', NULL, NULL);",
    "INSERT INTO checks VALUES"
    " (1, 'double_booked', 1, 0, 'fail', '1 overlapping pairs among 2 confirmed bookings'),"
    " (1, 'mutex_overlaps', 1, 0, 'fail', '1 overlapping pairs on 1 key(s), up to 2 holders'),"
    " (2, 'double_booked', 0, 0, 'pass', '0 overlapping pairs among 1 confirmed bookings'),"
    " (2, 'mutex_overlaps', 0, 0, 'pass', '2 critical sections, none overlapping'),"
    " (3, 'oversold', 1, 0, 'fail', 'oversold 1: 2 orders for 1 units; worst sku 1, lowest"
    " stock -1');",
    /* The tiny sale: buyers 0 and 1 both see the last unit and both sell it; buyer 2's
     * check fails with text that would break a Mermaid statement. */
    "INSERT INTO events VALUES"
    " (3, 0, 'request', 'sku:1', 1000000, 9000000, 'ok', 'sold'),"
    " (3, 0, 'check', 'sku:1', 1100000, 1200000, 'ok', 'stock=1'),"
    " (3, 0, 'act', 'sku:1', 5000000, 5500000, 'ok', NULL),"
    " (3, 1, 'request', 'sku:1', 2000000, 9500000, 'ok', 'sold'),"
    " (3, 1, 'check', 'sku:1', 2100000, 2200000, 'ok', 'stock=1'),"
    " (3, 1, 'act', 'sku:1', 6000000, 6500000, 'ok', NULL),"
    " (3, 2, 'request', 'sku:1', 3000000, 3500000, 'fail', 'error'),"
    " (3, 2, 'check', 'sku:1', 3100000, 3200000, 'fail', 'disk #5; retry %%later');",
    /* Runs 1 and 2, as recorded. */
    "INSERT INTO events VALUES"
    " (1, 0, 'request', " K ", 119849, 301825860, 'ok', 'booked'),"
    " (1, 0, 'acquire', " K ", 125471, 125560, 'ok', 'attempts=1'),"
    " (1, 0, 'critical', " K ", 125560, 301824778, 'ok', NULL),"
    " (1, 0, 'check', " K ", 160888, 227675, 'ok', 'overlapping=0'),"
    " (1, 1, 'request', " K ", 150177006, 450826064, 'ok', 'booked');",
    "INSERT INTO events VALUES"
    " (1, 1, 'acquire', " K ", 150186764, 150187195, 'ok', 'attempts=1'),"
    " (1, 1, 'critical', " K ", 150187195, 450824993, 'ok', NULL),"
    " (1, 1, 'check', " K ", 150231089, 150396584, 'ok', 'overlapping=0'),"
    " (1, 0, 'act', " K ", 300402091, 301823124, 'ok', NULL),"
    " (1, 0, 'release', " K ", 301825198, 301825549, 'ok', NULL),"
    " (1, 1, 'act', " K ", 450560459, 450823239, 'ok', NULL),"
    " (1, 1, 'release', " K ", 450825363, 450825734, 'ok', NULL),"
    " (2, 0, 'request', " K ", 115451, 305874591, 'ok', 'booked'),"
    " (2, 0, 'acquire', " K ", 118507, 1234109, 'ok', 'attempts=1'),"
    " (2, 0, 'node', " K ", 120281, 423978, 'ok', 'node 0 locked'),"
    " (2, 0, 'node', " K ", 424930, 662381, 'ok', 'node 1 locked'),"
    " (2, 0, 'node', " K ", 662492, 864005, 'ok', 'node 2 locked'),"
    " (2, 0, 'node', " K ", 864116, 944669, 'ok', 'node 3 locked'),"
    " (2, 0, 'node', " K ", 944769, 1232626, 'ok', 'node 4 locked'),"
    " (2, 0, 'critical', " K ", 1234109, 304713583, 'ok', NULL),"
    " (2, 0, 'check', " K ", 1234560, 1321776, 'ok', 'overlapping=0'),"
    " (2, 1, 'request', " K ", 150237541, 462584012, 'fail', 'room taken'),"
    " (2, 1, 'acquire', " K ", 150244564, 461069631, 'ok', 'attempts=2');",
    "INSERT INTO events VALUES"
    " (2, 1, 'node', " K ", 150246768, 150490952, 'fail', 'node 0 held elsewhere'),"
    " (2, 1, 'node', " K ", 150518224, 150916863, 'fail', 'node 1 held elsewhere'),"
    " (2, 1, 'node', " K ", 150917474, 151045778, 'fail', 'node 2 held elsewhere'),"
    " (2, 1, 'node', " K ", 151045838, 151150117, 'fail', 'node 3 held elsewhere'),"
    " (2, 1, 'node', " K ", 151150287, 151381737, 'fail', 'node 4 held elsewhere'),"
    " (2, 1, 'node', " K ", 151388760, 151801576, 'fail', 'node 0 not ours'),"
    " (2, 1, 'node', " K ", 151801716, 152139929, 'fail', 'node 1 not ours'),"
    " (2, 1, 'node', " K ", 152140020, 152590477, 'fail', 'node 2 not ours'),"
    " (2, 1, 'node', " K ", 152590767, 152944059, 'fail', 'node 3 not ours'),"
    " (2, 1, 'node', " K ", 152944179, 153370461, 'fail', 'node 4 not ours'),"
    " (2, 0, 'act', " K ", 301465634, 304711710, 'ok', NULL),"
    " (2, 0, 'release', " K ", 304713914, 305874061, 'ok', NULL),"
    " (2, 0, 'node', " K ", 304720747, 305075281, 'ok', 'node 0 released'),"
    " (2, 0, 'node', " K ", 305075431, 305239483, 'ok', 'node 1 released'),"
    " (2, 0, 'node', " K ", 305239563, 305353651, 'ok', 'node 2 released'),"
    " (2, 0, 'node', " K ", 305353700, 305712904, 'ok', 'node 3 released'),"
    " (2, 0, 'node', " K ", 305712974, 305873890, 'ok', 'node 4 released'),"
    " (2, 1, 'node', " K ", 460108032, 460316790, 'ok', 'node 0 locked'),"
    " (2, 1, 'node', " K ", 460317440, 460641327, 'ok', 'node 1 locked'),"
    " (2, 1, 'node', " K ", 460641988, 460714566, 'ok', 'node 2 locked'),"
    " (2, 1, 'node', " K ", 460714616, 460780111, 'ok', 'node 3 locked'),"
    " (2, 1, 'node', " K ", 460780151, 461018505, 'ok', 'node 4 locked'),"
    " (2, 1, 'critical', " K ", 461069631, 461318244, 'ok', NULL),"
    " (2, 1, 'check', " K ", 461071014, 461317924, 'fail', 'overlapping=1'),"
    " (2, 1, 'release', " K ", 461318395, 462582309, 'ok', NULL),"
    " (2, 1, 'node', " K ", 461319887, 461529987, 'ok', 'node 0 released'),"
    " (2, 1, 'node', " K ", 461530087, 461724016, 'ok', 'node 1 released'),"
    " (2, 1, 'node', " K ", 461724087, 462036181, 'ok', 'node 2 released'),"
    " (2, 1, 'node', " K ", 462036370, 462374273, 'ok', 'node 3 released'),"
    " (2, 1, 'node', " K ", 462374484, 462581799, 'ok', 'node 4 released');",
    /* 5: a cached page, one unit: ann's screen is right and she buys; ben's still shows
     * the unit (stale), and the shop refuses him. */
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, params,"
    " seed, expect, sqlite_version, started_at, duration_ns, status, verdict, figure) VALUES"
    " (5, 'cached', 'scenarios/cached.ini', 'One unit behind a cache.', 'inventory',"
    "  'cache-aside', 'invalidate=0', 7, 'safe', '3.45.1', '2026-01-20T10:00:04Z', 60000000,"
    "  'ok', 'safe', '0 oversold, 1 sold; 1 of 2 answers stale');"
    "INSERT INTO checks VALUES"
    " (5, 'oversold', 0, 0, 'pass', '1 orders for 1 units; lowest stock 0'),"
    " (5, 'stale_answers', 1, 0, 'fail', '1 of 2 stock answers contradicted SQL when given');"
    "INSERT INTO events VALUES"
    " (5, 0, 'request', 'sku:1', 1000000, 3000000, 'ok', 'sold'),"
    " (5, 0, 'answer', 'sku:1', 1100000, 1400000, 'ok', 'answer=1 truth=1..1'),"
    " (5, 1, 'request', 'sku:1', 50000000, 52000000, 'fail', 'sold out'),"
    " (5, 1, 'answer', 'sku:1', 50100000, 50400000, 'ok', 'answer=1 truth=0..0');",
    /* 6: alice re-enters her 200 ms reentrant lock and stalls 700 ms in the nest; bob
     * takes the expired lock at 300 ms and sells, then both of alice's releases find it
     * gone and she sells too (reentrant-nest-ttl-expiry, as recorded). 7: alice's second
     * setnx lease on her own key is refused (self-deadlock); she gives up and releases,
     * and bob sells (reentrant-nest-contended, as recorded). */
    "INSERT INTO runs(id, scenario, scenario_file, description, workload, strategy, params,"
    " seed, expect, sqlite_version, started_at, duration_ns, status, verdict, figure) VALUES"
    " (6, 'nest-ttl', 'scenarios/nest-ttl.ini', 'A lease lost inside the nest.', 'inventory',"
    "  'reentrant', 'ttl=200', 29, 'unsafe', '3.45.1', '2026-01-20T10:00:05Z', 701922793,"
    "  'ok', 'unsafe', 'oversold 1 (2 sold of 1); 1 overlapping hold'),"
    " (7, 'nest', 'scenarios/nest.ini', 'A nest under a lock that is not reentrant.',"
    "  'inventory', 'setnx', 'ttl=5000', 23, NULL, '3.45.1', '2026-01-20T10:00:06Z',"
    "  281000000, 'ok', 'safe', '0 oversold, 1 sold');"
    "INSERT INTO checks VALUES"
    " (6, 'oversold', 1, 0, 'fail', 'oversold 1: 2 orders for 1 units; worst sku 1, lowest"
    " stock -1'),"
    " (6, 'mutex_overlaps', 1, 0, 'fail', '1 overlapping pairs on 1 key(s), up to 2 holders'),"
    " (7, 'oversold', 0, 0, 'pass', '1 orders for 1 units; lowest stock 0'),"
    " (7, 'mutex_overlaps', 0, 0, 'pass', '2 critical sections, none overlapping');"
    "INSERT INTO events VALUES"
    " (6, 0, 'request', 'sku:1', 166357, 701666122, 'ok', 'sold'),"
    " (6, 0, 'acquire', 'sku:1', 167018, 692063, 'ok', 'attempts=1'),"
    " (6, 0, 'critical', 'sku:1', 692063, 701663677, 'ok', NULL),"
    " (6, 0, 'check', 'sku:1', 725556, 839550, 'ok', 'stock=1'),"
    " (6, 0, 'acquire', 'sku:1', 840221, 1042500, 'ok', 'nested attempts=1'),"
    " (6, 1, 'request', 'sku:1', 300103078, 302557601, 'ok', 'sold'),"
    " (6, 1, 'acquire', 'sku:1', 300103599, 300458956, 'ok', 'attempts=1'),"
    " (6, 1, 'critical', 'sku:1', 300458956, 302387341, 'ok', NULL),"
    " (6, 1, 'check', 'sku:1', 300476518, 300559173, 'ok', 'stock=1'),"
    " (6, 1, 'act', 'sku:1', 300559965, 302385819, 'ok', NULL),"
    " (6, 1, 'release', 'sku:1', 302387562, 302556679, 'ok', NULL),"
    " (6, 0, 'release', 'sku:1', 701116401, 701418468, 'fail', 'nested: not owner'),"
    " (6, 0, 'act', 'sku:1', 701419640, 701662105, 'ok', NULL),"
    " (6, 0, 'release', 'sku:1', 701663968, 701665841, 'fail', 'not owner'),"
    " (7, 0, 'request', 'sku:1', 360171, 263548965, 'fail', 'gave up: busy'),"
    " (7, 0, 'acquire', 'sku:1', 360382, 914972, 'ok', 'attempts=1'),"
    " (7, 0, 'critical', 'sku:1', 914972, 263334193, 'ok', NULL),"
    " (7, 0, 'check', 'sku:1', 930982, 1018536, 'ok', 'stock=1'),"
    " (7, 0, 'acquire', 'sku:1', 1019107, 263331027, 'fail',"
    "  'nested: lock:sku:1 held by another client after 21 attempts'),"
    " (7, 1, 'request', 'sku:1', 150707513, 281082002, 'ok', 'sold'),"
    " (7, 1, 'acquire', 'sku:1', 150707993, 276136939, 'ok', 'attempts=11'),"
    " (7, 0, 'release', 'sku:1', 263334734, 263537664, 'ok', NULL),"
    " (7, 1, 'critical', 'sku:1', 276136939, 280612962, 'ok', NULL),"
    " (7, 1, 'check', 'sku:1', 276164772, 276275840, 'ok', 'stock=1'),"
    " (7, 1, 'act', 'sku:1', 276276651, 280610277, 'ok', NULL),"
    " (7, 1, 'release', 'sku:1', 280613463, 281080509, 'ok', NULL);",
};

static const char *const guests[] = { "alice", "bob" };

/* Display columns of a text's start: one per UTF-8 character. */
static size_t columns(const char *s, size_t bytes)
{
    size_t w = 0;
    for (size_t i = 0; i < bytes && s[i] != '\0'; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

static int setup(void **state)
{
    return fixture_setup(state, FIXTURE_RECORDER, fixture, sizeof(fixture) / sizeof(fixture[0]));
}

/* The table or the diagram of one run, in memory; fails the test if the call fails. */
static char *explain(sqlite3 *db, int64_t run, const char *const *names, int n, int color,
                     int mermaid)
{
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    assert_non_null(f);
    rc = mermaid ? ovs_explain_mermaid(db, run, names, n, f, err, sizeof err)
                 : ovs_explain_table(db, run, names, n, color, f, err, sizeof err);
    fclose(f);
    if (rc != 0)
        fail_msg("explain of run %lld failed: %s", (long long)run, err);
    return buf;
}

#define assert_contains(hay, needle)                                                   \
    do {                                                                               \
        if (strstr((hay), (needle)) == NULL)                                           \
            fail_msg("missing:\n%s\n--- in output:\n%s", (needle), (hay));             \
    } while (0)

#define assert_lacks(hay, needle)                                                      \
    do {                                                                               \
        if (strstr((hay), (needle)) != NULL)                                           \
            fail_msg("unexpected:\n%s\n--- in output:\n%s", (needle), (hay));          \
    } while (0)

/* The nth (from 0) line holding step must begin with time and show step at display
 * column col: the step is in the right client's column at the right moment. */
static void check_step(const char *out, const char *step, int nth, const char *time,
                       size_t col)
{
    const char *at = out, *line;
    size_t got;

    for (int i = 0; i <= nth; i++, at++)
        if ((at = strstr(at, step)) == NULL)
            fail_msg("step %d of \"%s\" missing from:\n%s", nth, step, out);
    at--;
    for (line = at; line > out && line[-1] != '\n'; line--)
        ;
    got = columns(line, (size_t)(at - line));
    if (strncmp(line, time, strlen(time)) != 0 || got != col)
        fail_msg("\"%s\" (#%d): want time \"%s\" at column %zu, got column %zu in line:\n"
                 "%.*s\n--- output:\n%s", step, nth, time, col, got,
                 (int)strcspn(line, "\n"), line, out);
}

/* out with each line break and the indent after it made one space: the verdict's
 * sentences are folded at 100 columns, and are asserted whole. Caller frees. */
static char *unfold(const char *out)
{
    char *flat = malloc(strlen(out) + 1), *d = flat;

    assert_non_null(flat);
    for (const char *p = out; *p != '\0'; p++) {
        if (*p == '\n' && p[1] == ' ') {
            while (p[1] == ' ')
                p++;
            *d++ = ' ';
        } else {
            *d++ = *p;
        }
    }
    *d = '\0';
    return flat;
}

/* No line of the plain table passes 100 columns. */
static void check_width(const char *out)
{
    for (const char *l = out; *l != '\0';) {
        size_t n = strcspn(l, "\n");
        if (columns(l, n) > 100)
            fail_msg("line wider than 100 columns:\n%.*s", (int)n, l);
        l += n + (l[n] == '\n');
    }
}

/* Two columns of 43: alice's steps at column 12, bob's at 57. */
#define COL_A 12
#define COL_B 57

static void test_none_table(void **state)
{
    char *out = explain(*state, 1, guests, 2, 0, 0), *flat;

    assert_contains(out, "double-booking-two-guests under none");
    assert_contains(out, "  scenario  double-booking-two-guests\n");
    assert_contains(out, "  strategy  none\n");
    assert_contains(out, "  params    (defaults)\n");
    assert_contains(out, "  seed      42\n");
    assert_contains(out, "      time  alice");
    /* Both guests check and find the room free, Bob inside Alice's think time... */
    check_step(out, "check: room free (0 overlapping)", 0, "    0.2 ms", COL_A);
    check_step(out, "thinks 300 ms", 0, "    0.2 ms", COL_A);
    check_step(out, "check: room free (0 overlapping)", 1, "  150.2 ms", COL_B);
    /* ... so both insert, and Bob's insert is the one that breaks it. */
    check_step(out, "act: INSERT booking → ok", 0, "  300.4 ms", COL_A);
    check_step(out, "act: INSERT booking → ok", 1, "▶ 450.6 ms", COL_B);
    check_step(out, "acquire hotel:1:2026-01-20 → ok (1 attempt)", 0, "    0.1 ms", COL_A);
    check_step(out, "answer: booked", 1, "  450.8 ms", COL_B);
    /* Alice is still inside her section when Bob is let in: the lane shows it, and Bob's
     * acquire is marked as the step that broke mutual exclusion. */
    check_step(out, "┃", 0, "▶ 150.2 ms", COL_A);
    check_step(out, "┃", 1, "  150.2 ms", COL_A);
    assert_contains(out, "  FAIL  double_booked     1 (expected 0)");
    flat = unfold(out);
    assert_contains(flat, "broke at t=450.6 ms: bob's act: INSERT booking → ok. A second booking"
                          " under hotel:1:2026-01-20 while alice's (t=300.4 ms) stands: double"
                          " booking.");
    assert_contains(flat, "broke at t=150.2 ms: bob's acquire hotel:1:2026-01-20 → ok (1"
                          " attempt). alice had held hotel:1:2026-01-20 since t=0.1 ms");
    free(flat);
    assert_lacks(out, "held:");
    assert_lacks(out, "\033[");
    check_width(out);
    free(out);
}

static void test_redlock_table(void **state)
{
    char *out = explain(*state, 2, guests, 2, 0, 0), *flat = unfold(out);

    check_step(out, "acquire hotel:1:2026-01-20 → ok (5/5 nodes)", 0, "    0.1 ms", COL_A);
    check_step(out, "check: room free (0 overlapping)", 0, "    1.2 ms", COL_A);
    /* Bob finds the lock taken on every node and waits; Alice carries on. */
    check_step(out, "acquire → busy (0/5 nodes)", 0, "  150.2 ms", COL_B);
    check_step(out, "act: INSERT booking → ok", 0, "  301.5 ms", COL_A);
    check_step(out, "release → ok (5/5 nodes)", 0, "  304.7 ms", COL_A);
    check_step(out, "│", 0, "  301.5 ms", COL_B);
    /* Then he gets it, sees Alice's booking, and is refused. */
    check_step(out, "acquire → ok, waited 311 ms (2 attempts)", 0, "  461.1 ms", COL_B);
    check_step(out, "check: 1 overlapping → refused", 0, "  461.1 ms", COL_B);
    check_step(out, "answer: room taken", 0, "  462.6 ms", COL_B);
    /* Node steps are folded into their acquire and release, not rows of their own. */
    assert_lacks(out, "node 0");
    assert_lacks(out, "broke");
    assert_lacks(out, "▶");
    assert_contains(out, "  params    nodes=5,ttl=5000\n");
    assert_contains(out, "  pass  double_booked     0 (expected 0)");
    assert_contains(flat, "held: no double booking. bob was refused at t=461.1 ms (check: 1"
                          " overlapping → refused) after waiting 311 ms for the lock.");
    check_width(out);
    free(flat);
    free(out);
}

/* Three unnamed buyers, one unit: columns of 28, two apart. */
static void test_sale_table(void **state)
{
    char *out = explain(*state, 3, NULL, 0, 0, 0), *flat = unfold(out);

    assert_contains(out, "      time  client 0                      client 1");
    check_step(out, "check: 1 in stock", 0, "    1.1 ms", 12);
    check_step(out, "check: 1 in stock", 1, "    2.1 ms", 42);
    /* Too long for 28 columns: cut before the arrow, the outcome kept. */
    check_step(out, "act: UPDATE stock, INS… → ok", 0, "    5.0 ms", 12);
    check_step(out, "act: UPDATE stock, INS… → ok", 1, "▶   6.0 ms", 42);
    /* No arrow worth keeping: cut at the end. */
    check_step(out, "check → failed: disk #5; re…", 0, "    3.1 ms", 72);
    assert_contains(flat, "broke at t=6.0 ms: client 1's act: UPDATE stock, INSERT order → ok."
                          " Sale 2 of sku:1, which had 1 unit: oversold.");
    check_width(out);
    free(flat);
    free(out);
}

/* The screens in words, the stale one said so; the figure as a note, never as a broken
 * invariant. */
static void test_screen_table(void **state)
{
    char *out = explain(*state, 5, guests, 2, 0, 0), *flat = unfold(out);

    check_step(out, "screen: 1 in stock (SQL 1)", 0, "    1.1 ms", 12);
    check_step(out, "screen: 1 in stock (SQL 0) → stale", 0, "   50.1 ms", 57);
    assert_contains(flat, "note  stale_answers     1, beside the verdict: 1 of 2 stock answers");
    assert_lacks(out, "FAIL");
    assert_lacks(out, "broke");
    check_width(out);
    free(flat);
    free(out);
}

static void test_color(void **state)
{
    char *plain = explain(*state, 1, guests, 2, 0, 0);
    char *color = explain(*state, 1, guests, 2, 1, 0);

    assert_contains(color, "\033[1;31m");                      /* the breaking step */
    assert_contains(color, "\033[32mact: INSERT booking → ok"); /* a write that succeeded */
    assert_contains(color, "\033[31mFAIL\033[0m");
    assert_lacks(plain, "\033");
    free(plain);
    free(color);
}

/* Every line after the first is a statement Mermaid reads whole: no ';' (a statement
 * break), no '#' (a comment or entity) and no "%%" (a comment). */
static void check_mermaid(const char *out)
{
    int rects = 0, ends = 0;

    if (strncmp(out, "sequenceDiagram\n", 16) != 0)
        fail_msg("not a sequence diagram:\n%s", out);
    for (const char *l = out; *l != '\0';) {
        size_t n = strcspn(l, "\n");
        if (memchr(l, ';', n) || memchr(l, '#', n) ||
            (n > 1 && strstr(l, "%%") && strstr(l, "%%") < l + n))
            fail_msg("unsafe Mermaid line:\n%.*s", (int)n, l);
        rects += strncmp(l, "    rect ", 9) == 0;
        ends += n == 7 && strncmp(l, "    end", 7) == 0;
        l += n + (l[n] == '\n');
    }
    assert_int_equal(rects, ends);
}

static void test_none_mermaid(void **state)
{
    char *out = explain(*state, 1, guests, 2, 0, 1);

    check_mermaid(out);
    assert_contains(out, "    participant C0 as alice\n    participant C1 as bob\n"
                         "    participant Lock as Lock (none)\n"
                         "    participant Shop as Shop (SQL)\n");
    assert_contains(out, "    Note over C1: t=150.2 ms\n");
    assert_contains(out, "    C0->>Shop: check: is the room free?\n"
                         "    Shop-->>C0: room free (0 overlapping)\n"
                         "    Note over C0: thinks 300 ms\n");
    /* Bob's insert, boxed in red. */
    assert_contains(out, "    Note over C1: t=450.6 ms\n"
                         "    rect rgb(255, 200, 200)\n"
                         "    C1->>Shop: INSERT booking\n"
                         "    Shop-->>C1: ok\n"
                         "    Note over C1,Shop: double booking!\n"
                         "    end\n");
    /* And the second holder of the lock. */
    assert_contains(out, "    rect rgb(255, 200, 200)\n"
                         "    C1->>Lock: acquire hotel:1:2026-01-20\n"
                         "    Lock-->>C1: ok (1 attempt)\n"
                         "    Note over C1,Lock: two holders!\n"
                         "    end\n");
    free(out);
}

static void test_redlock_mermaid(void **state)
{
    char *out = explain(*state, 2, guests, 2, 0, 1);

    check_mermaid(out);
    assert_contains(out, "    participant Lock as Lock (redlock)\n");
    assert_contains(out, "    C1->>Lock: acquire hotel:1:2026-01-20\n"
                         "    Lock-->>C1: busy (0/5 nodes), retry later\n");
    /* The lock answers Bob only after Alice released it. */
    assert_contains(out, "    Lock-->>C0: ok (5/5 nodes)\n"
                         "    Note over C0: answer: booked\n"
                         "    Note over C1: t=461.1 ms\n"
                         "    Lock-->>C1: ok after 311 ms (2 attempts)\n");
    assert_contains(out, "    Shop-->>C1: 1 overlapping → refused\n");
    assert_lacks(out, "rect");
    free(out);
}

static void test_sale_mermaid(void **state)
{
    char *out = explain(*state, 3, NULL, 0, 0, 1);

    check_mermaid(out);
    assert_contains(out, "    participant C2 as client 2\n");
    assert_contains(out, "    Shop-->>C1: ok\n    Note over C1,Shop: oversold!\n    end\n");
    /* '#', ';' and "%%" replaced, the rest of the text kept. */
    assert_contains(out, "    Shop-->>C2: failed: disk ＃5, retry % %later\n");
    free(out);
}

static void test_screen_mermaid(void **state)
{
    char *out = explain(*state, 5, guests, 2, 0, 1);

    check_mermaid(out);
    assert_contains(out, "    C1->>Lock: screen: in stock?\n"
                         "    Lock-->>C1: 1 in stock (SQL 0) → stale\n");
    free(out);
}

/* A nest: the re-entry and its release said as such, the think shown inside the nest
 * (after the re-entry, not after the check), the lost lease on both releases, and the
 * second holder still the one that broke mutual exclusion. */
static void test_nest_table(void **state)
{
    char *out = explain(*state, 6, guests, 2, 0, 0), *flat = unfold(out);

    check_step(out, "acquire sku:1 → ok (1 attempt)", 0, "    0.2 ms", COL_A);
    check_step(out, "check: 1 in stock", 0, "    0.7 ms", COL_A);
    check_step(out, "re-enter sku:1 → ok (1 attempt)", 0, "    0.8 ms", COL_A);
    check_step(out, "thinks 700 ms", 0, "    1.0 ms", COL_A);
    check_step(out, "release inner → failed: not owner", 0, "  701.1 ms", COL_A);
    check_step(out, "release → failed: not owner", 0, "  701.7 ms", COL_A);
    check_step(out, "acquire sku:1 → ok (1 attempt)", 1, "▶ 300.1 ms", COL_B);
    assert_lacks(out, "nested");
    assert_contains(flat, "broke at t=300.1 ms: bob's acquire sku:1 → ok (1 attempt). alice had"
                          " held sku:1 since t=0.7 ms");
    check_width(out);
    free(flat);
    free(out);

    /* Refused on its own key: the re-entry waits and gives up, the outer release follows. */
    out = explain(*state, 7, guests, 2, 0, 0);
    check_step(out, "re-enter sku:1 → busy, retrying", 0, "    1.0 ms", COL_A);
    check_step(out, "re-enter → busy (waited 262 ms, 21 attempt", 0, "  263.3 ms", COL_A);
    check_step(out, "release → ok", 0, "  263.3 ms", COL_A);
    check_step(out, "answer: gave up: busy", 0, "  263.5 ms", COL_A);
    assert_lacks(out, "thinks");
    check_width(out);
    free(out);
}

static void test_nest_mermaid(void **state)
{
    char *out = explain(*state, 6, guests, 2, 0, 1);

    check_mermaid(out);
    assert_contains(out, "    C0->>Lock: re-enter sku:1\n    Lock-->>C0: ok (1 attempt)\n"
                         "    Note over C0: thinks 700 ms in the nest\n");
    assert_contains(out, "    C0->>Lock: release sku:1 (inner)\n"
                         "    Lock-->>C0: failed: nested: not owner\n");
    free(out);
}

static size_t occurrences(const char *s, const char *needle)
{
    size_t n = 0;
    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}

/* The "two holders" step is the checker's first overlap, whatever the sections: empty
 * ones, one client's own two, touching ones and three at once (overlap_cases.h). Every
 * run's mutex_overlaps check failed, on sku:2 at the latest, so explain looks for the
 * second holder in each; where the checker counts no overlap on sku:1, it must find the
 * one on sku:2. */
static void test_overlap_cases(void **state)
{
    sqlite3 *db = oc_open();

    (void)state;
    assert_non_null(db);
    for (size_t i = 0; i < OC_NCASES; i++) {
        const oc_case *c = &oc_cases[i];
        ovs_overlap o;
        const char *key;
        int64_t start;
        int client;
        char want[160];
        char *out, *flat, *mm;

        oc_truth(c, &o, &key, &start, &client);
        /* The case table and the checker agree on which cases overlap. */
        if ((o.pairs > 0) != (c->window != NULL))
            fail_msg("case %s: the checker counts %lld pairs", c->name, (long long)o.pairs);
        out = explain(db, OC_RUN0 + (int64_t)i, NULL, 0, 0, 0);
        flat = unfold(out);
        snprintf(want, sizeof want, "broke at t=%lld.%lld ms: client %d's acquire %s → ok"
                 " (1 attempt).", (long long)(start / OC_MS),
                 (long long)(start % OC_MS / (OC_MS / 10)), client, key);
        if (strstr(flat, want) == NULL || occurrences(flat, "two holders.") != 1)
            fail_msg("case %s: want exactly one\n%s\n--- in output:\n%s", c->name, want,
                     out);
        assert_lacks(flat, "at no single step");
        mm = explain(db, OC_RUN0 + (int64_t)i, NULL, 0, 0, 1);
        check_mermaid(mm);
        if (occurrences(mm, "two holders!") != 1)
            fail_msg("case %s: want one box, got:\n%s", c->name, mm);
        free(mm);
        free(flat);
        free(out);
    }
    sqlite3_close(db);
}

static void test_find_run(void **state)
{
    char err[128] = "";
    char *out;
    FILE *f;

    /* The latest run of a cell, whatever its status. */
    assert_int_equal(ovs_explain_find_run(*state, "double-booking-two-guests", "none"), 4);
    assert_int_equal(ovs_explain_find_run(*state, "double-booking-two-guests", "redlock"), 2);
    assert_int_equal(ovs_explain_find_run(*state, "double-booking-two-guests", "setnx"), -1);
    assert_int_equal(ovs_explain_find_run(*state, "no-such-scenario", "none"), -1);

    /* An interrupted run says so instead of inventing a story. */
    out = explain(*state, 4, guests, 2, 0, 0);
    assert_contains(out, "  status    aborted");
    assert_contains(out, "No steps recorded.");
    assert_contains(out, "no checks recorded");
    free(out);

    f = fopen("/dev/null", "w");
    assert_non_null(f);
    assert_int_equal(ovs_explain_table(*state, 99, guests, 2, 0, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "no run 99"));
    err[0] = '\0';
    assert_int_equal(ovs_explain_mermaid(*state, 99, NULL, 0, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "no run 99"));
    fclose(f);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_table),
        cmocka_unit_test(test_redlock_table),
        cmocka_unit_test(test_sale_table),
        cmocka_unit_test(test_color),
        cmocka_unit_test(test_none_mermaid),
        cmocka_unit_test(test_redlock_mermaid),
        cmocka_unit_test(test_sale_mermaid),
        cmocka_unit_test(test_screen_table),
        cmocka_unit_test(test_screen_mermaid),
        cmocka_unit_test(test_nest_table),
        cmocka_unit_test(test_nest_mermaid),
        cmocka_unit_test(test_find_run),
        cmocka_unit_test(test_overlap_cases),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, fixture_teardown);
}
