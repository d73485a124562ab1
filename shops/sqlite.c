/* sqlite.c - the SQLite shop back end: one file, one connection per thread (WAL,
 * busy_timeout, synchronous=NORMAL), statements compiled once with
 * SQLITE_PREPARE_PERSISTENT.
 *
 * A statement is reset before xStep returns, whatever happened: one left on a row would
 * keep a read transaction open on the connection. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/util.h"
#include "shops/shops.h"

/* Columns one row of the shop's queries has, at most (the checker's widest reads 3). */
#define SQ_MAX_COLS 8

typedef struct sq_db {
    ovs_shopdb base;
    sqlite3 *db;
} sq_db;

struct ovs_sqlstmt {
    sq_db *owner;
    sqlite3_stmt *st;
};

/* SQLite's result code as the interface's. */
static int sq_fail(sq_db *d, int rc, const char *what)
{
    const char *msg = sqlite3_errmsg(d->db);

    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return ovs_shopdb_fail(&d->base, OVS_BUSY, OVS_SQLE_LOCK_TIMEOUT, "%s%s%s", what,
                               *what ? ": " : "", msg);
    return ovs_shopdb_fail(&d->base, OVS_ERR, OVS_SQLE_OTHER, "%s%s%s", what,
                           *what ? ": " : "", msg);
}

static int sq_exec(ovs_shopdb *db, const char *sql)
{
    sq_db *d = (sq_db *)db;
    char *msg = NULL;
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? OVS_BUSY : OVS_ERR;
        ovs_shopdb_fail(db, code, code == OVS_BUSY ? OVS_SQLE_LOCK_TIMEOUT : OVS_SQLE_OTHER,
                        "%s", msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return code;
    }
    return ovs_shopdb_ok(db);
}

static int sq_connect(ovs_shopdb *db, const char *target, const char *ns)
{
    sq_db *d = (sq_db *)db;

    (void)ns; /* a file is its own namespace */
    if (sqlite3_open_v2(target, &d->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_CONNECTION, "%s: %s", target,
                               d->db ? sqlite3_errmsg(d->db) : "out of memory");
    sqlite3_busy_timeout(d->db, 5000);
    /* NORMAL is durable across a process crash in WAL mode, which is the failure the
     * harness makes; FULL would only add fsyncs to every sale. */
    if (sq_exec(db, "PRAGMA synchronous=NORMAL") != OVS_OK)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_OTHER, "%s: %.200s", target,
                               db->errstr);
    return ovs_shopdb_ok(db);
}

static void sq_close(ovs_shopdb *db)
{
    sq_db *d = (sq_db *)db;

    if (d->db && !sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(d->db);
    d->db = NULL;
}

static int sq_begin(ovs_shopdb *db, enum ovs_isolation iso)
{
    (void)iso; /* SQLite's only level is SERIALIZABLE */
    return sq_exec(db, "BEGIN IMMEDIATE");
}

static int sq_commit(ovs_shopdb *db)
{
    return sq_exec(db, "COMMIT");
}

static int sq_rollback(ovs_shopdb *db)
{
    sq_db *d = (sq_db *)db;

    if (sqlite3_get_autocommit(d->db))
        return ovs_shopdb_ok(db);
    return sq_exec(db, "ROLLBACK");
}

static int sq_in_transaction(ovs_shopdb *db)
{
    return !sqlite3_get_autocommit(((sq_db *)db)->db);
}

static int sq_prepare(ovs_shopdb *db, const char *sql, ovs_sqlstmt **out)
{
    sq_db *d = (sq_db *)db;
    ovs_sqlstmt *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "out of memory");
    st->owner = d;
    int rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->st, NULL);
    if (rc != SQLITE_OK) {
        free(st);
        return sq_fail(d, rc, "");
    }
    *out = st;
    return ovs_shopdb_ok(db);
}

static int sq_step(ovs_sqlstmt *st, const ovs_sqlval *p, int np, ovs_sqlrow_fn fn, void *ctx,
                   int64_t *changes)
{
    sq_db *d = st->owner;
    sqlite3_stmt *s = st->st;
    ovs_sqlval col[SQ_MAX_COLS];
    int rc, stop = 0;

    for (int i = 0; i < np; i++) {
        switch (p[i].type) {
        case OVS_SQL_INT: sqlite3_bind_int64(s, i + 1, p[i].i); break;
        case OVS_SQL_TEXT: sqlite3_bind_text(s, i + 1, p[i].s, -1, SQLITE_TRANSIENT); break;
        case OVS_SQL_NULL: sqlite3_bind_null(s, i + 1); break;
        }
    }
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int n = sqlite3_column_count(s);
        if (fn == NULL)
            continue;
        if (n > SQ_MAX_COLS)
            n = SQ_MAX_COLS;
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_NULL: col[i] = OVS_SQLV_NULL; break;
            case SQLITE_TEXT:
            case SQLITE_BLOB:
                col[i] = OVS_SQLV_TEXT((const char *)sqlite3_column_text(s, i));
                break;
            default: col[i] = OVS_SQLV_INT(sqlite3_column_int64(s, i)); break;
            }
        }
        stop = fn(ctx, col, n);
    }
    if (!stop && rc != SQLITE_DONE) {
        sq_fail(d, rc, "");
        sqlite3_reset(s);
        return d->base.err;
    }
    if (changes)
        *changes = sqlite3_changes(d->db);
    sqlite3_reset(s);
    return ovs_shopdb_ok(&d->base);
}

static void sq_finalize(ovs_sqlstmt *st)
{
    if (st == NULL)
        return;
    sqlite3_finalize(st->st);
    free(st);
}

static int sq_lock_timeout(ovs_shopdb *db, int ms)
{
    sqlite3_busy_timeout(((sq_db *)db)->db, ms);
    return ovs_shopdb_ok(db);
}

static const char *sq_version(ovs_shopdb *db)
{
    (void)db;
    return sqlite3_libversion();
}

const ovs_shopdb_methods ovs_shopdb_sqlite = {
    .version = 1,
    .name = "sqlite",
    .size = sizeof(sq_db),
    .xConnect = sq_connect,
    .xClose = sq_close,
    .xBegin = sq_begin,
    .xCommit = sq_commit,
    .xRollback = sq_rollback,
    .xInTransaction = sq_in_transaction,
    .xPrepare = sq_prepare,
    .xStep = sq_step,
    .xFinalize = sq_finalize,
    .xExec = sq_exec,
    .xLockTimeout = sq_lock_timeout,
    .xVersion = sq_version,
};
