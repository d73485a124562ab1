/* sql_pessimistic.c - the database's own lock around check and act.
 *
 * On SQLite, BEGIN IMMEDIATE takes the database's single write lock up front. On
 * PostgreSQL and MariaDB, a transaction takes the row lock of what the request touches
 * with SELECT ... FOR UPDATE: the SKU's row in skus; for a booking, the hotel's row in
 * hotels, since the lock key names the hotel (and a night or a check-in day) but never
 * the room - coarser than the room, so never less safe. Either way the check and the act
 * then run in one transaction that no other writer of that row can interleave with.
 * Waiting is bounded by busy_timeout (SQLite's busy handler, lock_timeout,
 * innodb_lock_wait_timeout); a timeout, or a deadlock the server broke, is contention
 * (OVS_BUSY), not an error.
 *
 * The lock lives on the client's own shop connection (env->shop), so the runner's check
 * and act, which use that same connection, run inside it; ovs_shop_act joins the open
 * transaction in a savepoint instead of opening its own.
 *
 * That makes the release the moment the sale becomes true: the act's writes exist only
 * once COMMIT succeeds. A COMMIT that fails is rolled back and reported as OVS_UNDONE,
 * so the runner turns a request whose act succeeded into a failed one instead of
 * counting a sale the database never kept; when the rollback cannot be confirmed, the
 * release says OVS_ERR_IO, an outcome unknown. */
#include <stdio.h>
#include <string.h>

#include "locks/strategy.h"

enum { P_BUSY_TIMEOUT };

static const ovs_param_spec sqlp_params[] = {
    [P_BUSY_TIMEOUT] = { "busy_timeout", 5000, "ms", NULL, 0, 3600000,
                         "how long the lock (BEGIN IMMEDIATE, FOR UPDATE) is waited for" },
};

/* The row each kind of key locks, per dialect: '?' or '$1' is the id the key names. */
enum { LOCK_SKU, LOCK_HOTEL, LOCK__COUNT };
static const struct {
    const char *dialect;
    const char *sql[LOCK__COUNT];
} lock_sql[] = {
    { "postgresql", { "SELECT id FROM skus WHERE id = $1 FOR UPDATE",
                      "SELECT id FROM hotels WHERE id = $1 FOR UPDATE" } },
    { "mysql", { "SELECT id FROM skus WHERE id = ? FOR UPDATE",
                 "SELECT id FROM hotels WHERE id = ? FOR UPDATE" } },
};

typedef struct sqlp {
    ovs_strategy base;
    int in_tx;                       /* keys held under the open transaction; 0: none open */
    ovs_sqlstmt *lock[LOCK__COUNT];  /* the FOR UPDATE reads; NULL on SQLite */
} sqlp;

static int sqlp_open(ovs_strategy *s, const ovs_env *env)
{
    sqlp *p = (sqlp *)s;
    ovs_shopdb *db = env->shop;

    if (db == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "sql-pessimistic needs a shop connection");
    if (db->m->xLockTimeout(db, (int)env->param->v[P_BUSY_TIMEOUT]) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "lock timeout: %s", db->errstr);
    for (size_t i = 0; i < sizeof(lock_sql) / sizeof(lock_sql[0]); i++) {
        if (strcmp(lock_sql[i].dialect, db->m->name) != 0)
            continue;
        for (int k = 0; k < LOCK__COUNT; k++)
            if (db->m->xPrepare(db, lock_sql[i].sql[k], &p->lock[k]) != OVS_OK)
                return ovs_strategy_fail(s, OVS_ERR, "%s", db->errstr);
    }
    return OVS_OK;
}

/* Take the row lock key names, inside the open transaction: OVS_OK, OVS_BUSY, OVS_ERR. */
static int lock_row(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    ovs_shopdb *db = s->env->shop;
    int id, which, found = 0;
    int64_t got;

    if (sscanf(key, "sku:%d", &id) == 1)
        which = LOCK_SKU;
    else if (sscanf(key, "hotel:%d", &id) == 1)
        which = LOCK_HOTEL;
    else
        return ovs_strategy_fail(s, OVS_ERR, "no row to lock for key %s", key);
    ovs_sqlval v = OVS_SQLV_INT(id);
    int rc = ovs_sql_int(db, p->lock[which], &v, 1, &got, &found);
    if (rc == OVS_OK && !found)
        return ovs_strategy_fail(s, OVS_ERR, "no row to lock for key %s", key);
    if (rc == OVS_OK)
        return OVS_OK;
    if (rc == OVS_BUSY || db->cls == OVS_SQLE_DEADLOCK)
        return ovs_strategy_fail(s, OVS_BUSY, "row lock of %s not granted: %.90s", key,
                                 db->errstr);
    return ovs_strategy_fail(s, OVS_ERR, "FOR UPDATE on %s: %.90s", key, db->errstr);
}

static int sqlp_lock(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    ovs_shopdb *db = s->env->shop;
    int rc;

    s->attempts = 1;
    /* A request that takes several keys (one per night of a stay) already holds the lock
     * after the first - the database's, or its hotel's row: count the keys, commit after
     * the last release. */
    if (p->in_tx > 0) {
        p->in_tx++;
        return OVS_OK;
    }
    rc = db->m->xBegin(db, OVS_ISO_DEFAULT);
    if (rc == OVS_BUSY)
        return ovs_strategy_fail(s, OVS_BUSY, "writer lock busy past busy_timeout");
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "BEGIN: %s", db->errstr);
    if (p->lock[LOCK_SKU] != NULL && (rc = lock_row(s, key)) != OVS_OK) {
        db->m->xRollback(db);
        return rc;
    }
    p->in_tx = 1;
    return OVS_OK;
}

/* OVS_OK committed. OVS_UNDONE: the COMMIT failed and the section was rolled back, so
 * every write of it certainly did not happen (s->errstr names the failure). OVS_ERR_IO:
 * the COMMIT failed and nothing confirms the section undone; the outcome is unknown.
 * OVS_BUSY: no transaction was open. */
static int sqlp_unlock(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    ovs_shopdb *db = s->env->shop;
    char why[128];
    int rc;

    (void)key;
    if (p->in_tx == 0)
        return ovs_strategy_fail(s, OVS_BUSY, "no transaction open");
    if (--p->in_tx > 0)
        return OVS_OK;
    /* COMMIT cannot wait for the lock here: we hold it (SQLite's writer lock; on a server
     * our row locks, and readers never block a commit). It can still fail: a deferred
     * constraint is checked only now, the disk can fill, the connection can drop. The
     * runner has already been told the act succeeded, so the answer here decides whether
     * that sale stands. */
    rc = db->m->xCommit(db);
    if (rc == OVS_OK)
        return OVS_OK;
    snprintf(why, sizeof(why), "%.127s", db->errstr);
    if (rc == OVS_ERR_IO)
        return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.80s; connection lost: outcome "
                                 "unknown", why);
    /* A failed COMMIT that leaves the transaction open (a constraint, a busy lock) wrote
     * nothing: our ROLLBACK then undoes the section for certain. A server that ended the
     * transaction itself on a failed COMMIT rolled it back (PostgreSQL, MariaDB); SQLite
     * ending it itself, as it may after an I/O error, a full disk or no memory, may have
     * left the commit in the file in part; so there "undone" is said only after a
     * ROLLBACK of our own succeeded. */
    if (!db->m->xInTransaction(db)) {
        if (strcmp(db->m->name, "sqlite") != 0)
            return ovs_strategy_fail(s, OVS_UNDONE, "COMMIT: %.100s; rolled back by the "
                                     "server", why);
        return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.60s; SQLite ended the transaction "
                                 "itself: outcome unknown", why);
    }
    if (db->m->xRollback(db) == OVS_OK)
        return ovs_strategy_fail(s, OVS_UNDONE, "COMMIT: %.100s; rolled back", why);
    return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.50s; ROLLBACK: %.40s; outcome unknown",
                             why, db->errstr);
}

static void sqlp_close(ovs_strategy *s)
{
    sqlp *p = (sqlp *)s;
    ovs_shopdb *db = s->env ? s->env->shop : NULL;

    if (db != NULL) {
        if (p->in_tx)
            db->m->xRollback(db);
        for (int k = 0; k < LOCK__COUNT; k++)
            db->m->xFinalize(p->lock[k]);
    }
    for (int k = 0; k < LOCK__COUNT; k++)
        p->lock[k] = NULL;
    p->in_tx = 0;
}

const ovs_strategy_methods ovs_strategy_sql_pessimistic = {
    .version = 3,
    .name = "sql-pessimistic",
    .summary = "the database's lock around check and act: BEGIN IMMEDIATE on SQLite,"
               " SELECT ... FOR UPDATE of the row on PostgreSQL and MariaDB",
    .claims_safe = 1,
    .unlock_commits = 1,
    .size = sizeof(sqlp),
    .params = sqlp_params,
    .n_params = sizeof(sqlp_params) / sizeof(sqlp_params[0]),
    .xOpen = sqlp_open,
    .xLock = sqlp_lock,
    .xUnlock = sqlp_unlock,
    .xClose = sqlp_close,
};
