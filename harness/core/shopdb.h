/* shopdb.h - the shop's database behind one interface: SQLite, PostgreSQL or MariaDB.
 *
 * Modelled on SQLite's VFS, like the strategies (locks/strategy.h): a base struct whose
 * first member points at a methods table, each back end extending the base with its own
 * state and declaring its size; the table carries a version and only grows, at its end.
 * The back ends live in shops/ (one file each, found by name or by the scheme of a URL:
 * shops/shops.h); everything above them - the shop's SQL (engine/shop.c), the checker,
 * the write-back worker, a strategy that locks in SQL - talks to this header only.
 *
 * What the interface hides is the mechanism: connecting, transactions, prepared
 * statements with bound parameters, error classes. What it does not hide is the dialect:
 * the SQL text is the caller's, written once per dialect where they differ ('?' or '$1'
 * placeholders, upserts, BEGIN IMMEDIATE or FOR UPDATE), chosen by m->name. No SQL text
 * is ever built from input: values go in as parameters, and the only names spliced into
 * SQL are the harness's own (a run's schema, [a-z0-9_] only).
 *
 * One connection belongs to one thread; nothing here locks.
 *
 * Return codes (core/util.h), in every slot alike, with db->cls and db->errstr saying
 * more:
 *   OVS_OK       done
 *   OVS_BUSY     a lock wait ran out (SQLite's busy timeout, lock_timeout,
 *                innodb_lock_wait_timeout): contention, the statement did not happen
 *   OVS_ERR      failed and certainly did not happen (a constraint, bad SQL; a
 *                serialization failure or a deadlock, after which the server has rolled
 *                back the statement - PostgreSQL and SQLite the transaction's statement,
 *                MariaDB the whole transaction: cls says which, so a caller can retry)
 *   OVS_ERR_IO   the connection was lost with the statement sent: it may have happened
 *                (a COMMIT above all); the connection is dead, close it
 *   OVS_ERR_ENV  xConnect only: the server could not be reached, refused the login or
 *                has no such database - the machine's fault, not a strategy's */
#ifndef OVS_SHOPDB_H
#define OVS_SHOPDB_H

#include <stddef.h>
#include <stdint.h>

/* The newest version of the methods table this header describes. */
#define OVS_SHOPDB_VERSION 1
/* How long a server back end's connection may take to open, in seconds: a bound against
 * waiting for ever on a host that does not answer, not a test of the server's health. On
 * loopback, a machine busy with two sanitizer builds' suites took more than 5 s to hand a
 * PostgreSQL connection over, and the run was an error for it. */
#define OVS_SHOPDB_CONNECT_TIMEOUT_S 15

/* Why the last call failed, beyond its return code. */
enum ovs_sqlerr {
    OVS_SQLE_NONE = 0,      /* the last call succeeded */
    OVS_SQLE_OTHER,         /* any other failure */
    OVS_SQLE_LOCK_TIMEOUT,  /* OVS_BUSY */
    OVS_SQLE_SERIALIZATION, /* SQLSTATE 40001: retry the transaction */
    OVS_SQLE_DEADLOCK,      /* SQLSTATE 40P01, MariaDB 1213: retry the transaction */
    OVS_SQLE_CONNECTION,    /* OVS_ERR_IO: lost, or (xConnect) never made */
    OVS_SQLE_AUTH,          /* xConnect: login refused (OVS_ERR_ENV) */
    OVS_SQLE_CONFLICT,      /* a constraint refused the row: SQLSTATE 23505 unique,
                               23P01 exclusion (OVS_ERR) */
};

/* A transaction's isolation level. SQLite has one (SERIALIZABLE): every level asks for
 * it there. */
enum ovs_isolation {
    OVS_ISO_DEFAULT = 0,    /* the server's: READ COMMITTED on PostgreSQL, REPEATABLE READ
                               on MariaDB */
    OVS_ISO_READ_COMMITTED,
    OVS_ISO_REPEATABLE_READ,
    OVS_ISO_SERIALIZABLE,
};

/* A parameter or a column. Integers are 64-bit; text is UTF-8, NUL-terminated. */
enum ovs_sqltype { OVS_SQL_NULL, OVS_SQL_INT, OVS_SQL_TEXT };
typedef struct ovs_sqlval {
    enum ovs_sqltype type;
    int64_t i;           /* OVS_SQL_INT */
    const char *s;       /* OVS_SQL_TEXT; a column's is valid only inside the row callback */
} ovs_sqlval;

#define OVS_SQLV_INT(v) ((ovs_sqlval){ OVS_SQL_INT, (int64_t)(v), NULL })
#define OVS_SQLV_TEXT(v) ((ovs_sqlval){ OVS_SQL_TEXT, 0, (v) })
#define OVS_SQLV_NULL ((ovs_sqlval){ OVS_SQL_NULL, 0, NULL })

/* Called once per result row with its ncol columns; returning non-zero stops the rows
 * (the step then returns OVS_OK). */
typedef int (*ovs_sqlrow_fn)(void *ctx, const ovs_sqlval *col, int ncol);

typedef struct ovs_shopdb_methods ovs_shopdb_methods;
typedef struct ovs_sqlstmt ovs_sqlstmt; /* a prepared statement, the back end's own */

/* A connection. */
typedef struct ovs_shopdb {
    const ovs_shopdb_methods *m; /* always first: the methods table */
    int err;                     /* last return code (OVS_OK when it succeeded) */
    enum ovs_sqlerr cls;         /* its class */
    char errstr[256];            /* what failed, in the server's words */
} ovs_shopdb;

struct ovs_shopdb_methods {
    /* ---- version 1 ---- */
    int version;          /* 1 (OVS_SHOPDB_VERSION) */
    const char *name;     /* "sqlite", "postgresql", "mysql": the dialect, and the backend
                             column of the results database */
    size_t size;          /* bytes of a connection, >= sizeof(ovs_shopdb) */
    /* Connect to target (SQLite: a file that exists; the others: a URL, postgresql://
     * user[:pass]@host[:port]/db or mysql://..., a missing password read from
     * $OVERSELL_SQL_PASSWORD) with ns as the run's namespace: the schema every
     * unqualified table name resolves to (PostgreSQL's search_path), or the database
     * (MariaDB); NULL or "" for the URL's own (and on SQLite). db is m->size zeroed
     * bytes with db->m set. Returns OVS_OK or OVS_ERR_ENV; xClose follows either way. */
    int (*xConnect)(ovs_shopdb *db, const char *target, const char *ns);
    /* Finalize nothing (the caller's statements are finalized first), roll back an open
     * transaction, disconnect. Called even when xConnect failed. */
    void (*xClose)(ovs_shopdb *db);
    /* Open a transaction that will write, at iso. SQLite: BEGIN IMMEDIATE, which takes
     * the writer lock now (waiting up to the busy timeout: OVS_BUSY), since a deferred
     * transaction that read first could not take it later once another writer had
     * committed. PostgreSQL: BEGIN ISOLATION LEVEL ...; MariaDB: START TRANSACTION after
     * SET TRANSACTION ISOLATION LEVEL .... */
    int (*xBegin)(ovs_shopdb *db, enum ovs_isolation iso);
    /* COMMIT. On failure the transaction may still be open (SQLite, after a busy
     * COMMIT) or already ended by the server: xInTransaction says which. OVS_ERR_IO: the
     * outcome is unknown. */
    int (*xCommit)(ovs_shopdb *db);
    /* ROLLBACK; OVS_OK when none was open. */
    int (*xRollback)(ovs_shopdb *db);
    /* 1 while a transaction is open on the connection (the server's own account of it:
     * PostgreSQL's and MariaDB's end it themselves after some errors), else 0. */
    int (*xInTransaction)(ovs_shopdb *db);
    /* Prepare one statement, once per connection: its placeholders are the dialect's
     * ('?' on SQLite and MariaDB, '$1' on PostgreSQL). A statement the server cannot
     * prepare (MariaDB's SAVEPOINT) may be kept as text and sent as it is, if it has no
     * parameters. OVS_OK with *out set, or OVS_ERR with *out NULL. */
    int (*xPrepare)(ovs_shopdb *db, const char *sql, ovs_sqlstmt **out);
    /* Run st with the np parameters p (text copied before the call returns): every row
     * goes to fn (may be NULL, rows then ignored), and *changes (may be NULL) gets the
     * rows it inserted, updated or deleted - rows matched, on MariaDB too, so an UPDATE
     * that sets a value to itself counts. The statement is reset for its next use
     * whatever happened. */
    int (*xStep)(ovs_sqlstmt *st, const ovs_sqlval *p, int np, ovs_sqlrow_fn fn, void *ctx,
                 int64_t *changes);
    /* Free a statement. Accepts NULL. */
    void (*xFinalize)(ovs_sqlstmt *st);
    /* Run one SQL statement without parameters and without preparing it (schema, SET):
     * never for text that came from outside the harness. */
    int (*xExec)(ovs_shopdb *db, const char *sql);
    /* How long a statement waits for a lock before OVS_BUSY: SQLite's busy timeout,
     * PostgreSQL's lock_timeout, MariaDB's innodb_lock_wait_timeout (whole seconds,
     * rounded up, at least 1). */
    int (*xLockTimeout)(ovs_shopdb *db, int ms);
    /* The server's version ("3.40.1", "15.18", "10.11.19-MariaDB"), for the record. */
    const char *(*xVersion)(ovs_shopdb *db);
};

/* ---- calls through the table, for callers' convenience ---- */

static inline int ovs_sql_step(ovs_shopdb *db, ovs_sqlstmt *st, const ovs_sqlval *p, int np,
                               ovs_sqlrow_fn fn, void *ctx, int64_t *changes)
{
    return db->m->xStep(st, p, np, fn, ctx, changes);
}

/* Run st for its effect: OVS_OK with *changes (may be NULL) set. */
static inline int ovs_sql_exec(ovs_shopdb *db, ovs_sqlstmt *st, const ovs_sqlval *p, int np,
                               int64_t *changes)
{
    return db->m->xStep(st, p, np, NULL, NULL, changes);
}

/* The first column of st's first row as an integer (NULL reads as 0): OVS_OK with *out
 * set and *found 1, or OVS_OK with *found 0 when there was no row; an error code. */
int ovs_sql_int(ovs_shopdb *db, ovs_sqlstmt *st, const ovs_sqlval *p, int np, int64_t *out,
                int *found);

/* Prepare sql, run it for its first integer as ovs_sql_int does, finalize: for a count
 * the caller asks once. */
int ovs_sql_scalar(ovs_shopdb *db, const char *sql, int64_t *out, int *found);

/* Prepare sql, send every row to fn, finalize. */
int ovs_sql_rows(ovs_shopdb *db, const char *sql, ovs_sqlrow_fn fn, void *ctx);

/* Set db->err, db->cls and db->errstr (printf-style), returning code: for back ends. */
int ovs_shopdb_fail(ovs_shopdb *db, int code, enum ovs_sqlerr cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Mark db's last call successful and return OVS_OK: for back ends. */
int ovs_shopdb_ok(ovs_shopdb *db);

#endif
