/* postgresql.c - the PostgreSQL shop back end, over libpq.
 *
 * The URL goes to libpq as it is (it reads postgresql:// URLs and PGPASSWORD itself);
 * $OVERSELL_SQL_PASSWORD fills a password the URL lacks. The run's namespace is a schema,
 * made the connection's search_path at connect, so the shop's unqualified table names
 * are the run's own. Statements are prepared on the server once per connection (named
 * s1, s2, ...); parameters travel as text, which the server reads by the type each
 * placeholder has in its statement. libpq's notices (a ROLLBACK with no transaction open,
 * say) are dropped: library code prints nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/util.h"
#include "shops/shops.h"

/* Parameters one statement of the shop's takes, at most (the order has 4, a booking 5). */
#define PG_MAX_PARAMS 8
#define PG_MAX_COLS 8
/* The type OIDs of the integer columns (pg_type.h): int8, int2, int4. */
#define PG_INT8OID 20
#define PG_INT2OID 21
#define PG_INT4OID 23

typedef struct pg_db {
    ovs_shopdb base;
    PGconn *conn;
    int next_stmt;      /* the number of the next statement's name */
    char version[32];
} pg_db;

struct ovs_sqlstmt {
    pg_db *owner;
    char name[16];
};

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The interface's code and class for a failed result (NULL: no result at all). */
static int pg_fail(pg_db *d, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = PQerrorMessage(d->conn);
    char text[240];
    size_t n;
    int code = OVS_ERR;
    enum ovs_sqlerr cls = OVS_SQLE_OTHER;

    if (res && PQresultErrorMessage(res)[0])
        msg = PQresultErrorMessage(res);
    snprintf(text, sizeof(text), "%s", msg);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (PQstatus(d->conn) == CONNECTION_BAD || (state && strncmp(state, "08", 2) == 0)) {
        code = OVS_ERR_IO;
        cls = OVS_SQLE_CONNECTION;
    } else if (state && strcmp(state, "40001") == 0) {
        cls = OVS_SQLE_SERIALIZATION;
    } else if (state && (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)) {
        cls = OVS_SQLE_CONFLICT;
    } else if (state && strcmp(state, "40P01") == 0) {
        cls = OVS_SQLE_DEADLOCK;
    } else if (state && (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)) {
        code = OVS_BUSY;
        cls = OVS_SQLE_LOCK_TIMEOUT;
    }
    PQclear(res);
    return ovs_shopdb_fail(&d->base, code, cls, "%s%s%s", what, *what ? ": " : "", text);
}

static int pg_exec(ovs_shopdb *db, const char *sql)
{
    pg_db *d = (pg_db *)db;
    PGresult *res = PQexec(d->conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_fail(d, res, "");
    PQclear(res);
    return ovs_shopdb_ok(db);
}

static int pg_connect(ovs_shopdb *db, const char *target, const char *ns)
{
    pg_db *d = (pg_db *)db;
    char options[160] = "", where[600];
    const char *keys[5], *vals[5];
    int k = 0;
    ovs_sqlurl u;

    ovs_sqlurl_redact(target, where, sizeof(where));
    if (ovs_sqlurl_parse(target, &u, NULL, 0) != 0)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_CONNECTION, "%s: not a URL", where);
    keys[k] = "dbname";
    vals[k++] = target; /* expanded: the URL's parts, overridden by what follows */
    if (ns != NULL && ns[0] != '\0') {
        snprintf(options, sizeof(options), "-c search_path=%s", ns);
        keys[k] = "options";
        vals[k++] = options;
    }
    if (u.pass[0] != '\0') { /* the URL's, or $OVERSELL_SQL_PASSWORD */
        keys[k] = "password";
        vals[k++] = u.pass;
    }
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", OVS_SHOPDB_CONNECT_TIMEOUT_S);
    keys[k] = "connect_timeout";
    vals[k++] = timeout;
    keys[k] = NULL;
    vals[k] = NULL;
    d->conn = PQconnectdbParams(keys, vals, 1);
    if (d->conn == NULL)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_CONNECTION, "%s: out of memory", where);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(d->conn);
        int auth = strstr(msg, "authentication") != NULL || strstr(msg, "password") != NULL;
        char text[200];
        snprintf(text, sizeof(text), "%s", msg);
        text[strcspn(text, "\n")] = '\0';
        return ovs_shopdb_fail(db, OVS_ERR_ENV, auth ? OVS_SQLE_AUTH : OVS_SQLE_CONNECTION,
                               "%s: %s", where, text);
    }
    PQsetNoticeProcessor(d->conn, pg_quiet, NULL);
    snprintf(d->version, sizeof(d->version), "%s",
             PQparameterStatus(d->conn, "server_version") ? PQparameterStatus(d->conn,
                                                                               "server_version")
                                                          : "?");
    if (pg_exec(db, "SET lock_timeout = '5s'") != OVS_OK)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_OTHER, "%s: %.200s", where,
                               db->errstr);
    return ovs_shopdb_ok(db);
}

static void pg_close(ovs_shopdb *db)
{
    pg_db *d = (pg_db *)db;

    PQfinish(d->conn); /* the server rolls back what was open */
    d->conn = NULL;
}

static int pg_begin(ovs_shopdb *db, enum ovs_isolation iso)
{
    static const char *const sql[] = {
        [OVS_ISO_DEFAULT] = "BEGIN",
        [OVS_ISO_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
        [OVS_ISO_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
        [OVS_ISO_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
    };
    return pg_exec(db, sql[(unsigned)iso <= OVS_ISO_SERIALIZABLE ? iso : 0]);
}

static int pg_commit(ovs_shopdb *db)
{
    pg_db *d = (pg_db *)db;
    PGresult *res = PQexec(d->conn, "COMMIT");

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return pg_fail(d, res, "");
    /* A COMMIT of a transaction that had failed is answered "ROLLBACK": it did not
     * commit. */
    int rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    if (rolled_back)
        return ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER,
                               "the transaction had failed and was rolled back");
    return ovs_shopdb_ok(db);
}

static int pg_in_transaction(ovs_shopdb *db)
{
    PGTransactionStatusType t = PQtransactionStatus(((pg_db *)db)->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int pg_rollback(ovs_shopdb *db)
{
    if (!pg_in_transaction(db))
        return ovs_shopdb_ok(db);
    return pg_exec(db, "ROLLBACK");
}

static int pg_prepare(ovs_shopdb *db, const char *sql, ovs_sqlstmt **out)
{
    pg_db *d = (pg_db *)db;
    ovs_sqlstmt *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "out of memory");
    st->owner = d;
    snprintf(st->name, sizeof(st->name), "s%d", ++d->next_stmt);
    PGresult *res = PQprepare(d->conn, st->name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        free(st);
        return pg_fail(d, res, "");
    }
    PQclear(res);
    *out = st;
    return ovs_shopdb_ok(db);
}

static int pg_step(ovs_sqlstmt *st, const ovs_sqlval *p, int np, ovs_sqlrow_fn fn, void *ctx,
                   int64_t *changes)
{
    pg_db *d = st->owner;
    const char *vals[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
    ovs_sqlval col[PG_MAX_COLS];
    char *end;

    if (np > PG_MAX_PARAMS)
        return ovs_shopdb_fail(&d->base, OVS_ERR, OVS_SQLE_OTHER, "too many parameters");
    for (int i = 0; i < np; i++) {
        switch (p[i].type) {
        case OVS_SQL_INT:
            snprintf(num[i], sizeof(num[i]), "%lld", (long long)p[i].i);
            vals[i] = num[i];
            break;
        case OVS_SQL_TEXT: vals[i] = p[i].s; break;
        case OVS_SQL_NULL: vals[i] = NULL; break;
        }
    }
    PGresult *res = PQexecPrepared(d->conn, st->name, np, vals, NULL, NULL, 0);
    ExecStatusType rs = PQresultStatus(res);
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
        return pg_fail(d, res, "");
    if (rs == PGRES_TUPLES_OK && fn != NULL) {
        int rows = PQntuples(res), ncol = PQnfields(res);
        if (ncol > PG_MAX_COLS)
            ncol = PG_MAX_COLS;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < ncol; c++) {
                Oid t = PQftype(res, c);
                if (PQgetisnull(res, r, c))
                    col[c] = OVS_SQLV_NULL;
                else if (t == PG_INT8OID || t == PG_INT4OID || t == PG_INT2OID)
                    col[c] = OVS_SQLV_INT(strtoll(PQgetvalue(res, r, c), &end, 10));
                else
                    col[c] = OVS_SQLV_TEXT(PQgetvalue(res, r, c));
            }
            if (fn(ctx, col, ncol))
                break;
        }
    }
    if (changes)
        *changes = strtoll(PQcmdTuples(res), &end, 10); /* "" for a SELECT: 0 */
    PQclear(res);
    return ovs_shopdb_ok(&d->base);
}

static void pg_finalize(ovs_sqlstmt *st)
{
    /* The server frees the prepared statement with the connection; one left behind when
     * a strategy's statements outlive their use costs nothing until then. */
    free(st);
}

static int pg_lock_timeout(ovs_shopdb *db, int ms)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "SET lock_timeout = %d", ms);
    return pg_exec(db, sql);
}

static const char *pg_version(ovs_shopdb *db)
{
    return ((pg_db *)db)->version;
}

const ovs_shopdb_methods ovs_shopdb_postgresql = {
    .version = 1,
    .name = "postgresql",
    .size = sizeof(pg_db),
    .xConnect = pg_connect,
    .xClose = pg_close,
    .xBegin = pg_begin,
    .xCommit = pg_commit,
    .xRollback = pg_rollback,
    .xInTransaction = pg_in_transaction,
    .xPrepare = pg_prepare,
    .xStep = pg_step,
    .xFinalize = pg_finalize,
    .xExec = pg_exec,
    .xLockTimeout = pg_lock_timeout,
    .xVersion = pg_version,
};
