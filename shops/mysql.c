/* mysql.c - the MariaDB (MySQL) shop back end, over MariaDB Connector/C.
 *
 * The run's namespace is a database of its own, the connection's default. The connection
 * reports rows matched rather than changed (CLIENT_FOUND_ROWS), so an UPDATE that sets a
 * value to itself - the fence verification - counts its row, as on the other back ends.
 * Statements are server-side prepared once per connection; one the server will not
 * prepare (SAVEPOINT and its kin, in some versions) is kept as text and sent as it is,
 * which is safe because such statements have no parameters. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "core/util.h"
#include "shops/shops.h"

#define MY_MAX_PARAMS 8
#define MY_MAX_COLS 8
#define MY_TEXT_MAX 256 /* longest text column the shop reads (dates, keys) */

typedef struct my_db {
    ovs_shopdb base;
    MYSQL *conn;
    char version[48];
} my_db;

struct ovs_sqlstmt {
    my_db *owner;
    MYSQL_STMT *st;   /* NULL: kept as text */
    char *text;       /* the SQL, for a statement kept as text */
};

/* mysql_library_init is not thread-safe: once, before any client thread's first
 * connection (the first one happens on the main thread, creating the shop). */
static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static void library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

/* The interface's code and class for the error errno_ with message msg. */
static int my_fail_code(my_db *d, unsigned err, const char *msg)
{
    int code = OVS_ERR;
    enum ovs_sqlerr cls = OVS_SQLE_OTHER;

    switch (err) {
    case ER_LOCK_WAIT_TIMEOUT:
        code = OVS_BUSY;
        cls = OVS_SQLE_LOCK_TIMEOUT;
        break;
    case ER_LOCK_DEADLOCK: cls = OVS_SQLE_DEADLOCK; break;
    /* A deadlock met while waiting for the table's AUTO-INC lock, which an INSERT ...
     * SELECT holds to the end of the statement, is reported as this instead of 1213:
     * seen with concurrent guarded inserts into bookings (optimistic-sql). The statement
     * did not happen; the transaction is to be retried like any deadlock's. */
    case ER_AUTOINC_READ_FAILED: cls = OVS_SQLE_DEADLOCK; break;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
        code = OVS_ERR_IO;
        cls = OVS_SQLE_CONNECTION;
        break;
    default: break;
    }
    return ovs_shopdb_fail(&d->base, code, cls, "%s (%u)", msg, err);
}

static int my_fail(my_db *d)
{
    return my_fail_code(d, mysql_errno(d->conn), mysql_error(d->conn));
}

static int my_exec(ovs_shopdb *db, const char *sql)
{
    my_db *d = (my_db *)db;

    if (mysql_real_query(d->conn, sql, strlen(sql)) != 0)
        return my_fail(d);
    /* A statement that returns rows must have them read before the next one. */
    MYSQL_RES *res = mysql_store_result(d->conn);
    mysql_free_result(res);
    return ovs_shopdb_ok(db);
}

static int my_connect(ovs_shopdb *db, const char *target, const char *ns)
{
    my_db *d = (my_db *)db;
    char where[600], why[200];
    unsigned timeout = OVS_SHOPDB_CONNECT_TIMEOUT_S;
    ovs_sqlurl u;

    ovs_sqlurl_redact(target, where, sizeof(where));
    if (ovs_sqlurl_parse(target, &u, why, sizeof(why)) != 0)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_CONNECTION, "%s: %s", where, why);
    pthread_once(&library_once, library_init);
    d->conn = mysql_init(NULL);
    if (d->conn == NULL)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_CONNECTION, "%s: out of memory", where);
    mysql_options(d->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(d->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(d->conn, u.host, u.user[0] ? u.user : NULL, u.pass,
                           ns && ns[0] ? ns : (u.db[0] ? u.db : NULL),
                           (unsigned)(u.port ? u.port : 3306), NULL, CLIENT_FOUND_ROWS) == NULL) {
        unsigned e = mysql_errno(d->conn);
        int auth = e == ER_ACCESS_DENIED_ERROR || e == ER_DBACCESS_DENIED_ERROR;
        return ovs_shopdb_fail(db, OVS_ERR_ENV, auth ? OVS_SQLE_AUTH : OVS_SQLE_CONNECTION,
                               "%s: %s (%u)", where, mysql_error(d->conn), e);
    }
    snprintf(d->version, sizeof(d->version), "%s", mysql_get_server_info(d->conn));
    /* The shop's transactions are explicit; between them every statement commits. */
    if (mysql_autocommit(d->conn, 1) != 0 ||
        my_exec(db, "SET SESSION innodb_lock_wait_timeout = 5") != OVS_OK)
        return ovs_shopdb_fail(db, OVS_ERR_ENV, OVS_SQLE_OTHER, "%s: %.200s", where,
                               db->errstr);
    return ovs_shopdb_ok(db);
}

static void my_close(ovs_shopdb *db)
{
    my_db *d = (my_db *)db;

    mysql_close(d->conn); /* the server rolls back what was open */
    d->conn = NULL;
}

static int my_begin(ovs_shopdb *db, enum ovs_isolation iso)
{
    static const char *const level[] = {
        [OVS_ISO_DEFAULT] = NULL,
        [OVS_ISO_READ_COMMITTED] = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
        [OVS_ISO_REPEATABLE_READ] = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        [OVS_ISO_SERIALIZABLE] = "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    };
    const char *set = level[(unsigned)iso <= OVS_ISO_SERIALIZABLE ? iso : 0];

    /* SET TRANSACTION applies to the next transaction only, which START opens. */
    if (set != NULL && my_exec(db, set) != OVS_OK)
        return db->err;
    return my_exec(db, "START TRANSACTION");
}

static int my_commit(ovs_shopdb *db)
{
    return my_exec(db, "COMMIT");
}

static int my_in_transaction(ovs_shopdb *db)
{
    return (((my_db *)db)->conn->server_status & SERVER_STATUS_IN_TRANS) != 0;
}

static int my_rollback(ovs_shopdb *db)
{
    return my_exec(db, "ROLLBACK");
}

static int my_prepare(ovs_shopdb *db, const char *sql, ovs_sqlstmt **out)
{
    my_db *d = (my_db *)db;
    ovs_sqlstmt *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "out of memory");
    st->owner = d;
    st->st = mysql_stmt_init(d->conn);
    if (st->st == NULL) {
        free(st);
        return my_fail(d);
    }
    if (mysql_stmt_prepare(st->st, sql, strlen(sql)) != 0) {
        unsigned e = mysql_stmt_errno(st->st);
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st->st));
        mysql_stmt_close(st->st);
        st->st = NULL;
        if (e == ER_UNSUPPORTED_PS && strchr(sql, '?') == NULL &&
            (st->text = strdup(sql)) != NULL) {
            *out = st;
            return ovs_shopdb_ok(db);
        }
        free(st);
        return my_fail_code(d, e, msg);
    }
    *out = st;
    return ovs_shopdb_ok(db);
}

/* A statement kept as text: sent as it is, its rows read as text (or integers where the
 * column is one). */
static int my_step_text(ovs_sqlstmt *st, ovs_sqlrow_fn fn, void *ctx, int64_t *changes)
{
    my_db *d = st->owner;
    ovs_sqlval col[MY_MAX_COLS];

    if (mysql_real_query(d->conn, st->text, strlen(st->text)) != 0)
        return my_fail(d);
    MYSQL_RES *res = mysql_store_result(d->conn);
    if (res != NULL) {
        unsigned n = mysql_num_fields(res);
        MYSQL_FIELD *f = mysql_fetch_fields(res);
        MYSQL_ROW row;
        if (n > MY_MAX_COLS)
            n = MY_MAX_COLS;
        while (fn && (row = mysql_fetch_row(res)) != NULL) {
            for (unsigned i = 0; i < n; i++)
                col[i] = row[i] == NULL      ? OVS_SQLV_NULL
                         : IS_NUM(f[i].type) ? OVS_SQLV_INT(strtoll(row[i], NULL, 10))
                                             : OVS_SQLV_TEXT(row[i]);
            if (fn(ctx, col, (int)n))
                break;
        }
        mysql_free_result(res);
    }
    if (changes)
        *changes = res ? 0 : (int64_t)mysql_affected_rows(d->conn);
    return ovs_shopdb_ok(&d->base);
}

static int is_int_type(enum enum_field_types t)
{
    return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
           t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_NEWDECIMAL ||
           t == MYSQL_TYPE_DECIMAL;
}

static int my_step(ovs_sqlstmt *st, const ovs_sqlval *p, int np, ovs_sqlrow_fn fn, void *ctx,
                   int64_t *changes)
{
    my_db *d = st->owner;
    MYSQL_BIND in[MY_MAX_PARAMS], out[MY_MAX_COLS];
    long long ival[MY_MAX_PARAMS], oint[MY_MAX_COLS];
    unsigned long tlen[MY_MAX_PARAMS], olen[MY_MAX_COLS];
    my_bool onull[MY_MAX_COLS];
    char otext[MY_MAX_COLS][MY_TEXT_MAX];
    ovs_sqlval col[MY_MAX_COLS];
    int rc = OVS_OK;

    if (st->st == NULL)
        return my_step_text(st, fn, ctx, changes);
    if (np > MY_MAX_PARAMS)
        return ovs_shopdb_fail(&d->base, OVS_ERR, OVS_SQLE_OTHER, "too many parameters");
    memset(in, 0, sizeof(in));
    for (int i = 0; i < np; i++) {
        switch (p[i].type) {
        case OVS_SQL_INT:
            ival[i] = p[i].i;
            in[i].buffer_type = MYSQL_TYPE_LONGLONG;
            in[i].buffer = &ival[i];
            break;
        case OVS_SQL_TEXT:
            tlen[i] = (unsigned long)strlen(p[i].s);
            in[i].buffer_type = MYSQL_TYPE_STRING;
            in[i].buffer = (void *)(uintptr_t)p[i].s;
            in[i].buffer_length = tlen[i];
            in[i].length = &tlen[i];
            break;
        case OVS_SQL_NULL: in[i].buffer_type = MYSQL_TYPE_NULL; break;
        }
    }
    if ((np > 0 && mysql_stmt_bind_param(st->st, in) != 0) || mysql_stmt_execute(st->st) != 0)
        return my_fail_code(d, mysql_stmt_errno(st->st), mysql_stmt_error(st->st));
    MYSQL_RES *meta = mysql_stmt_result_metadata(st->st);
    if (meta != NULL) {
        unsigned n = mysql_num_fields(meta);
        MYSQL_FIELD *f = mysql_fetch_fields(meta);
        if (n > MY_MAX_COLS)
            n = MY_MAX_COLS;
        memset(out, 0, sizeof(out));
        for (unsigned i = 0; i < n; i++) {
            out[i].is_null = &onull[i];
            out[i].length = &olen[i];
            if (is_int_type(f[i].type)) {
                out[i].buffer_type = MYSQL_TYPE_LONGLONG;
                out[i].buffer = &oint[i];
            } else {
                out[i].buffer_type = MYSQL_TYPE_STRING;
                out[i].buffer = otext[i];
                out[i].buffer_length = MY_TEXT_MAX - 1;
            }
        }
        if (mysql_stmt_bind_result(st->st, out) != 0) {
            rc = my_fail_code(d, mysql_stmt_errno(st->st), mysql_stmt_error(st->st));
        } else {
            int stop = 0, r;
            while ((r = mysql_stmt_fetch(st->st)) == 0 || r == MYSQL_DATA_TRUNCATED) {
                if (stop || fn == NULL)
                    continue; /* every row must be read before the next statement */
                for (unsigned i = 0; i < n; i++) {
                    if (onull[i]) {
                        col[i] = OVS_SQLV_NULL;
                    } else if (out[i].buffer_type == MYSQL_TYPE_LONGLONG) {
                        col[i] = OVS_SQLV_INT(oint[i]);
                    } else {
                        size_t len = olen[i] < MY_TEXT_MAX - 1 ? olen[i] : MY_TEXT_MAX - 1;
                        otext[i][len] = '\0';
                        col[i] = OVS_SQLV_TEXT(otext[i]);
                    }
                }
                stop = fn(ctx, col, (int)n);
            }
            if (r != MYSQL_NO_DATA)
                rc = my_fail_code(d, mysql_stmt_errno(st->st), mysql_stmt_error(st->st));
        }
        mysql_free_result(meta);
        mysql_stmt_free_result(st->st);
    }
    if (rc == OVS_OK && changes) {
        my_ulonglong a = mysql_stmt_affected_rows(st->st);
        *changes = meta != NULL || a == (my_ulonglong)-1 ? 0 : (int64_t)a;
    }
    return rc == OVS_OK ? ovs_shopdb_ok(&d->base) : rc;
}

static void my_finalize(ovs_sqlstmt *st)
{
    if (st == NULL)
        return;
    if (st->st)
        mysql_stmt_close(st->st);
    free(st->text);
    free(st);
}

static int my_lock_timeout(ovs_shopdb *db, int ms)
{
    char sql[80];

    /* Whole seconds only: rounded up, so a wait is never shorter than asked. */
    snprintf(sql, sizeof(sql), "SET SESSION innodb_lock_wait_timeout = %d",
             ms <= 1000 ? 1 : (ms + 999) / 1000);
    return my_exec(db, sql);
}

static const char *my_version(ovs_shopdb *db)
{
    return ((my_db *)db)->version;
}

const ovs_shopdb_methods ovs_shopdb_mysql = {
    .version = 1,
    .name = "mysql",
    .size = sizeof(my_db),
    .xConnect = my_connect,
    .xClose = my_close,
    .xBegin = my_begin,
    .xCommit = my_commit,
    .xRollback = my_rollback,
    .xInTransaction = my_in_transaction,
    .xPrepare = my_prepare,
    .xStep = my_step,
    .xFinalize = my_finalize,
    .xExec = my_exec,
    .xLockTimeout = my_lock_timeout,
    .xVersion = my_version,
};
