/* results_fixture.h - an in-memory results database for the report tests.
 *
 * Shared by test_report.c, test_html.c and test_explain.c: each builds its database from
 * one of two schemas, then runs its own INSERTs.
 *
 *   FIXTURE_RECORDER  the real schema, made by ovs_results_open (harness/engine/recorder.h) on
 *                     ":memory:": what the reports read in production, constraints and
 *                     all. Use it whenever the rows are ones the recorder could write.
 *   FIXTURE_LOOSE     the columns recorder.h documents, written out by hand and without
 *                     the recorder's NOT NULL and CHECK constraints: the summary and page
 *                     tests hold rows the recorder would refuse (a NULL description,
 *                     params or duration; a run with only the columns a page shows) to
 *                     prove the reports cope with them. Being written out by hand, it
 *                     also makes drift between the recorder and its documented contract
 *                     show up here.
 *
 * Include after <cmocka.h>. Everything is static inline: each test uses what it needs. */
#ifndef OVS_RESULTS_FIXTURE_H
#define OVS_RESULTS_FIXTURE_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "engine/recorder.h"

enum fixture_schema { FIXTURE_LOOSE, FIXTURE_RECORDER };

static const char fixture_loose_schema[] =
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, scenario TEXT NOT NULL, scenario_file TEXT,"
    " description TEXT, workload TEXT, strategy TEXT NOT NULL, strategy_rank INTEGER,"
    " params TEXT, seed INTEGER,"
    " expect TEXT, redis_version TEXT, sqlite_version TEXT, started_at TEXT,"
    " duration_ns INTEGER, status TEXT NOT NULL, error TEXT, verdict TEXT, figure TEXT,"
    " shop_db TEXT, requests INTEGER, succeeded INTEGER, refused INTEGER, busy INTEGER,"
    " unknown INTEGER, errors INTEGER, throughput REAL, p50_ns INTEGER, p99_ns INTEGER, max_ns INTEGER,"
    " acquire_fail INTEGER, retries INTEGER, backend TEXT, backend_version TEXT,"
    " lost_sales INTEGER, unavailable INTEGER, retries_per_success REAL);"
    "CREATE TABLE events(run INTEGER, client INTEGER, op TEXT, key TEXT, start_ns INTEGER,"
    " end_ns INTEGER, outcome TEXT, detail TEXT);"
    "CREATE TABLE checks(run INTEGER, invariant TEXT, observed INTEGER, expected INTEGER,"
    " verdict TEXT, detail TEXT);";

/* An in-memory database with schema, then each of the n scripts of sql run in order (sql
 * may be NULL when n is 0). NULL, with the reason on stderr, when any step fails. */
static inline sqlite3 *fixture_open(enum fixture_schema schema, const char *const *sql,
                                    size_t n)
{
    sqlite3 *db = NULL;
    char err[256] = "", *msg = NULL;

    if (schema == FIXTURE_RECORDER) {
        ovs_results *rec = ovs_results_open(":memory:", err, sizeof err);
        if (rec == NULL) {
            fprintf(stderr, "fixture: %s\n", err);
            return NULL;
        }
        /* Keep the connection, not the recorder: the tests only read through it, and
         * ovs_results_close on a NULL db frees the rest. */
        db = rec->db;
        rec->db = NULL;
        ovs_results_close(rec);
    } else if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
               sqlite3_exec(db, fixture_loose_schema, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "fixture schema: %s\n", msg ? msg : sqlite3_errmsg(db));
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if (sqlite3_exec(db, sql[i], NULL, NULL, &msg) != SQLITE_OK) {
            fprintf(stderr, "fixture %zu: %s\n", i, msg ? msg : sqlite3_errmsg(db));
            goto fail;
        }
    return db;
fail:
    sqlite3_free(msg);
    sqlite3_close(db);
    return NULL;
}

/* A cmocka group setup: *state becomes the database, or the group fails to start. */
static inline int fixture_setup(void **state, enum fixture_schema schema,
                                const char *const *sql, size_t n)
{
    return (*state = fixture_open(schema, sql, n)) != NULL ? 0 : -1;
}

/* The matching group teardown. */
static inline int fixture_teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

typedef int (*fixture_writer)(sqlite3 *, FILE *, char *, size_t);

/* A report writer's output, in memory; fails the test if the writer fails. Caller frees. */
static inline char *fixture_capture(fixture_writer fn, sqlite3 *db)
{
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    assert_non_null(f);
    rc = fn(db, f, err, sizeof err);
    fclose(f);
    if (rc != 0)
        fail_msg("writer failed: %s", err);
    return buf;
}

/* A writer given a database without the schema fails with SQLite's reason, not a crash. */
static inline void fixture_check_no_schema(fixture_writer fn)
{
    sqlite3 *db;
    char err[128] = "";
    FILE *f = fopen("/dev/null", "w");

    assert_non_null(f);
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(fn(db, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such table"));
    fclose(f);
    sqlite3_close(db);
}

#endif
