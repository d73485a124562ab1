/* recorder.c - writing runs, events and checks to the results database.
 *
 * Everything about one run goes in one transaction with prepared statements reused for
 * every row: tens of thousands of events cost a few milliseconds, and a crash while
 * writing leaves the run absent rather than half there. */
#include "engine/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *const results_schema =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS runs("
    "  id INTEGER PRIMARY KEY,"
    "  scenario TEXT NOT NULL, scenario_file TEXT NOT NULL, description TEXT NOT NULL,"
    "  workload TEXT NOT NULL, strategy TEXT NOT NULL, strategy_rank INTEGER,"
    "  params TEXT NOT NULL,"
    "  seed INTEGER NOT NULL, expect TEXT CHECK (expect IN ('safe', 'unsafe')),"
    "  redis_version TEXT, sqlite_version TEXT NOT NULL, started_at TEXT NOT NULL,"
    "  duration_ns INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('ok', 'aborted', 'error', 'n/a')), error TEXT,"
    "  verdict TEXT CHECK (verdict IN ('safe', 'unsafe')), figure TEXT, shop_db TEXT,"
    "  requests INTEGER, succeeded INTEGER, refused INTEGER, busy INTEGER, unknown INTEGER,"
    "  errors INTEGER,"
    "  throughput REAL, p50_ns INTEGER, p99_ns INTEGER, max_ns INTEGER,"
    "  acquire_fail INTEGER, retries INTEGER, backend TEXT, backend_version TEXT,"
    "  lost_sales INTEGER, unavailable INTEGER, retries_per_success REAL);"
    "CREATE TABLE IF NOT EXISTS events("
    "  run INTEGER NOT NULL REFERENCES runs(id), client INTEGER NOT NULL,"
    "  op TEXT NOT NULL, key TEXT, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'fail', 'unknown')), detail TEXT);"
    "CREATE INDEX IF NOT EXISTS events_run ON events(run, op, start_ns);"
    "CREATE TABLE IF NOT EXISTS checks("
    "  run INTEGER NOT NULL REFERENCES runs(id), invariant TEXT NOT NULL,"
    "  observed INTEGER NOT NULL, expected INTEGER NOT NULL,"
    "  verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'skipped')), detail TEXT);"
    /* What Redis held when the run was checked - the stock and the checkout holds the
     * divergence, leaked_stock and sold_after_expiry checks read there - so that those
     * figures can be counted again by hand after the servers are gone. */
    "CREATE TABLE IF NOT EXISTS redis_stock("
    "  run INTEGER NOT NULL REFERENCES runs(id), sku INTEGER NOT NULL, stock INTEGER);"
    "CREATE TABLE IF NOT EXISTS redis_holds("
    "  run INTEGER NOT NULL REFERENCES runs(id), buyer INTEGER NOT NULL, sku INTEGER,"
    "  created_ms INTEGER, expires_ms INTEGER NOT NULL, state TEXT NOT NULL,"
    "  settled_ms INTEGER, read_ms INTEGER NOT NULL);";

/* Columns of runs added after the first release of the schema, in the order they came.
 * CREATE TABLE IF NOT EXISTS leaves an older file's table as it was, so each one that is
 * missing there is added (NULL in the runs recorded before it existed) rather than every
 * later INSERT failing on it. Only ever append. */
static const struct {
    const char *name, *type;
} added_columns[] = {
    { "strategy_rank", "INTEGER" }, { "errors", "INTEGER" },
    { "backend", "TEXT" },          { "backend_version", "TEXT" },
    { "lost_sales", "INTEGER" },    { "unavailable", "INTEGER" },
    { "retries_per_success", "REAL" },
};

static int add_missing_columns(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char sql[128];
    int rc = -1;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, added_columns[i].name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            goto out;
        if (sqlite3_column_int(st, 0) > 0)
            continue;
        snprintf(sql, sizeof(sql), "ALTER TABLE runs ADD COLUMN %s %s", added_columns[i].name,
                 added_columns[i].type);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        ovs_seterr(err, errlen, "adding the new columns of runs: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

ovs_results *ovs_results_open(const char *path, char *err, size_t errlen)
{
    ovs_results *r = calloc(1, sizeof(*r));
    char *msg = NULL;

    if (r == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open(path, &r->db) != SQLITE_OK) {
        ovs_seterr(err, errlen, "%s: %s", path, r->db ? sqlite3_errmsg(r->db) : "cannot open");
        ovs_results_close(r);
        return NULL;
    }
    sqlite3_busy_timeout(r->db, 5000);
    if (sqlite3_exec(r->db, results_schema, NULL, NULL, &msg) != SQLITE_OK) {
        ovs_seterr(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(r->db));
        sqlite3_free(msg);
        ovs_results_close(r);
        return NULL;
    }
    char why[160];
    if (add_missing_columns(r->db, why, sizeof(why)) != 0) {
        ovs_seterr(err, errlen, "%s: %s", path, why);
        ovs_results_close(r);
        return NULL;
    }
    return r;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* A count that is -1 when not known: NULL then. */
static void bind_count(sqlite3_stmt *st, int i, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

static int fail(ovs_results *r, const char *what)
{
    r->err = 1;
    snprintf(r->errstr, sizeof(r->errstr), "%s: %s", what, sqlite3_errmsg(r->db));
    return -1;
}

/* The run's Redis end state (redis_stock, redis_holds), inside the run's transaction. */
static int write_redis_end(ovs_results *r, int64_t id, const ovs_run_row *row)
{
    sqlite3_stmt *st = NULL;

    if (row->redis_stock != NULL) {
        if (sqlite3_prepare_v2(r->db, "INSERT INTO redis_stock(run, sku, stock) VALUES (?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
            return fail(r, "insert Redis stock");
        for (int k = 0; k < row->skus; k++) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int(st, 2, k + 1);
            if (row->redis_absent != NULL && row->redis_absent[k])
                sqlite3_bind_null(st, 3); /* no stock:<sku> key at all */
            else
                sqlite3_bind_int64(st, 3, row->redis_stock[k]);
            if (sqlite3_step(st) != SQLITE_DONE) {
                sqlite3_finalize(st);
                return fail(r, "insert Redis stock");
            }
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    }
    if (row->redis_holds == NULL)
        return 0;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO redis_holds(run, buyer, sku, created_ms, expires_ms,"
                           " state, settled_ms, read_ms) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(r, "insert Redis hold");
    for (size_t k = 0; k < row->redis_holds->nrows; k++) {
        const ovs_hold_row *h = &row->redis_holds->rows[k];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, h->buyer);
        sqlite3_bind_int64(st, 3, h->sku);
        if (h->created_ms >= 0)
            sqlite3_bind_int64(st, 4, h->created_ms);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int64(st, 5, h->expires_ms);
        bind_text(st, 6, h->state);
        if (h->settled_ms >= 0)
            sqlite3_bind_int64(st, 7, h->settled_ms);
        else
            sqlite3_bind_null(st, 7);
        sqlite3_bind_int64(st, 8, row->redis_holds->read_ms);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return fail(r, "insert Redis hold");
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

int64_t ovs_results_write(ovs_results *r, const ovs_run_row *row, ovs_trace *const *traces,
                          int ntraces, const ovs_check *checks, int nchecks)
{
    sqlite3_stmt *st = NULL;
    int64_t id = -1;
    int i = 1;

    if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(r, "begin");
    if (sqlite3_prepare_v2(
            r->db,
            "INSERT INTO runs(scenario, scenario_file, description, workload, strategy,"
            " strategy_rank, params, seed, expect, redis_version, sqlite_version, started_at, duration_ns,"
            " status, error, verdict, figure, shop_db, requests, succeeded, refused, busy,"
            " unknown, errors, throughput, p50_ns, p99_ns, max_ns, acquire_fail, retries,"
            " backend, backend_version, lost_sales, unavailable, retries_per_success)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            -1, &st, NULL) != SQLITE_OK) {
        fail(r, "insert run");
        goto rollback;
    }
    bind_text(st, i++, row->scenario);
    bind_text(st, i++, row->scenario_file);
    bind_text(st, i++, row->description ? row->description : "");
    bind_text(st, i++, row->workload);
    bind_text(st, i++, row->strategy);
    sqlite3_bind_int(st, i++, row->strategy_rank);
    bind_text(st, i++, row->params ? row->params : "");
    sqlite3_bind_int64(st, i++, (sqlite3_int64)row->seed);
    bind_text(st, i++, row->expect < 0 ? NULL : row->expect ? "safe" : "unsafe");
    bind_text(st, i++, row->redis_version);
    bind_text(st, i++, row->sqlite_version);
    bind_text(st, i++, row->started_at);
    sqlite3_bind_int64(st, i++, row->duration_ns);
    bind_text(st, i++, row->status);
    bind_text(st, i++, row->error);
    bind_text(st, i++, row->verdict);
    bind_text(st, i++, row->figure);
    bind_text(st, i++, row->shop_db);
    sqlite3_bind_int64(st, i++, row->requests);
    sqlite3_bind_int64(st, i++, row->succeeded);
    sqlite3_bind_int64(st, i++, row->refused);
    sqlite3_bind_int64(st, i++, row->busy);
    sqlite3_bind_int64(st, i++, row->unknown);
    sqlite3_bind_int64(st, i++, row->errors);
    sqlite3_bind_double(st, i++, row->throughput);
    sqlite3_bind_int64(st, i++, row->p50_ns);
    sqlite3_bind_int64(st, i++, row->p99_ns);
    sqlite3_bind_int64(st, i++, row->max_ns);
    sqlite3_bind_int64(st, i++, row->acquire_fail);
    sqlite3_bind_int64(st, i++, row->retries);
    bind_text(st, i++, row->backend ? row->backend : "sqlite");
    bind_text(st, i++, row->backend_version);
    bind_count(st, i++, row->live ? row->live->lost_sales : -1);
    bind_count(st, i++, row->live ? row->live->unavailable : -1);
    if (row->live == NULL || row->live->retries_per_success < 0)
        sqlite3_bind_null(st, i++);
    else
        sqlite3_bind_double(st, i++, row->live->retries_per_success);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail(r, "insert run");
        goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
    id = sqlite3_last_insert_rowid(r->db);

    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO events(run, client, op, key, start_ns, end_ns,"
                           " outcome, detail) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(r, "insert event");
        goto rollback;
    }
    for (int t = 0; t < ntraces; t++) {
        if (traces[t] == NULL)
            continue;
        for (size_t k = 0; k < traces[t]->n; k++) {
            const ovs_event *e = &traces[t]->ev[k];
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int(st, 2, e->client);
            sqlite3_bind_text(st, 3, ovs_op_name(e->op), -1, SQLITE_STATIC);
            bind_text(st, 4, e->key[0] ? e->key : NULL);
            sqlite3_bind_int64(st, 5, e->start_ns - row->t0);
            sqlite3_bind_int64(st, 6, e->end_ns - row->t0);
            sqlite3_bind_text(st, 7, ovs_outcome_name(e->outcome), -1, SQLITE_STATIC);
            bind_text(st, 8, e->detail[0] ? e->detail : NULL);
            if (sqlite3_step(st) != SQLITE_DONE) {
                fail(r, "insert event");
                goto rollback;
            }
            sqlite3_reset(st);
        }
    }
    sqlite3_finalize(st);
    st = NULL;

    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO checks(run, invariant, observed, expected, verdict,"
                           " detail) VALUES (?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(r, "insert check");
        goto rollback;
    }
    for (int c = 0; c < nchecks; c++) {
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, checks[c].invariant);
        sqlite3_bind_int64(st, 3, checks[c].observed);
        sqlite3_bind_int64(st, 4, checks[c].expected);
        bind_text(st, 5, checks[c].skipped ? "skipped" : checks[c].pass ? "pass" : "fail");
        bind_text(st, 6, checks[c].detail);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fail(r, "insert check");
            goto rollback;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (write_redis_end(r, id, row) != 0)
        goto rollback;
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(r, "commit");
        goto rollback;
    }
    return id;

rollback:
    sqlite3_finalize(st);
    sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

void ovs_results_close(ovs_results *r)
{
    if (r == NULL)
        return;
    sqlite3_close(r->db);
    free(r);
}
