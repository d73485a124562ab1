/* sql_pessimistic.c - the database's own writer lock around check and act.
 *
 * SQLite's BEGIN IMMEDIATE takes the database's single write lock up front, the way
 * SELECT ... FOR UPDATE takes row locks on PostgreSQL: the check and the act then run in
 * one transaction that no other writer can interleave with. Waiting is SQLite's busy
 * handler, bounded by busy_timeout; a timeout is contention (OVS_BUSY), not an error.
 *
 * The lock lives on the client's own shop connection (env->shop), so the runner's check
 * and act, which use that same connection, run inside it; ovs_shop_act uses a savepoint
 * and so joins this transaction instead of opening its own.
 *
 * That makes the release the moment the sale becomes true: the act's writes exist only
 * once COMMIT succeeds. A COMMIT that fails is rolled back and reported as OVS_UNDONE,
 * so the runner turns a request whose act succeeded into a failed one instead of
 * counting a sale the database never kept; when even the rollback cannot be confirmed,
 * the release says OVS_ERR_IO, an outcome unknown. */
#include <stdio.h>

#include "locks/strategy.h"

enum { P_BUSY_TIMEOUT };

static const ovs_param_spec sqlp_params[] = {
    [P_BUSY_TIMEOUT] = { "busy_timeout", 5000, "ms", NULL, 0, 3600000,
                         "how long BEGIN IMMEDIATE waits for the writer lock" },
};

typedef struct sqlp {
    ovs_strategy base;
    int in_tx; /* keys held under the open BEGIN IMMEDIATE; 0 when none is open */
} sqlp;

static int sqlp_open(ovs_strategy *s, const ovs_env *env)
{
    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "sql-pessimistic needs a shop connection");
    sqlite3_busy_timeout(env->shop, (int)env->param->v[P_BUSY_TIMEOUT]);
    return OVS_OK;
}

static int sqlp_lock(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    sqlite3 *db = s->env->shop;
    int rc;

    (void)key; /* one writer lock for the whole database: coarser than any key */
    s->attempts = 1;
    /* A request that takes several keys (one per night of a stay) already holds the
     * database's lock after the first: count the keys, commit after the last release. */
    if (p->in_tx > 0) {
        p->in_tx++;
        return OVS_OK;
    }
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        p->in_tx = 1;
        return OVS_OK;
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return ovs_strategy_fail(s, OVS_BUSY, "writer lock busy past busy_timeout");
    return ovs_strategy_fail(s, OVS_ERR, "BEGIN IMMEDIATE: %s", sqlite3_errmsg(db));
}

/* OVS_OK committed. OVS_UNDONE: the COMMIT failed and was rolled back, so every write of
 * the section certainly did not happen (s->errstr names the failure). OVS_ERR_IO: the
 * COMMIT failed and no rollback of ours confirms the section undone; the outcome is
 * unknown. OVS_BUSY: no transaction was open. */
static int sqlp_unlock(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    sqlite3 *db = s->env->shop;
    char why[128];

    (void)key;
    if (p->in_tx == 0)
        return ovs_strategy_fail(s, OVS_BUSY, "no transaction open");
    if (--p->in_tx > 0)
        return OVS_OK;
    /* COMMIT cannot be busy here: we hold the writer lock, and in WAL mode readers never
     * block a commit. It can still fail: a deferred constraint is checked only now, and
     * the disk can fill or fail. The runner has already been told the act succeeded, so
     * the answer here decides whether that sale stands. */
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return OVS_OK;
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
    /* A failed COMMIT that leaves the transaction open (a constraint, a busy lock) wrote
     * nothing: our ROLLBACK then undoes the section for certain. When SQLite has already
     * ended the transaction itself, as it may after an I/O error, a full disk or no
     * memory, the commit may have reached the file in part; so "undone" is said only
     * after a ROLLBACK of our own succeeded. */
    if (sqlite3_get_autocommit(db))
        return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.60s; SQLite ended the transaction "
                                 "itself: outcome unknown", why);
    if (sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK)
        return ovs_strategy_fail(s, OVS_UNDONE, "COMMIT: %.100s; rolled back", why);
    return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.50s; ROLLBACK: %.40s; outcome unknown",
                             why, sqlite3_errmsg(db));
}

static void sqlp_close(ovs_strategy *s)
{
    sqlp *p = (sqlp *)s;
    if (p->in_tx && s->env && s->env->shop)
        sqlite3_exec(s->env->shop, "ROLLBACK", NULL, NULL, NULL);
    p->in_tx = 0;
}

const ovs_strategy_methods ovs_strategy_sql_pessimistic = {
    .version = 3,
    .name = "sql-pessimistic",
    .summary = "BEGIN IMMEDIATE (the database's writer lock) around check and act",
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
