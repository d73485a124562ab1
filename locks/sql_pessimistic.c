/* sql_pessimistic.c - the database's own writer lock around check and act.
 *
 * SQLite's BEGIN IMMEDIATE takes the database's single write lock up front, the way
 * SELECT ... FOR UPDATE takes row locks on PostgreSQL: the check and the act then run in
 * one transaction that no other writer can interleave with. Waiting is SQLite's busy
 * handler, bounded by busy_timeout; a timeout is contention (OVS_BUSY), not an error.
 *
 * The lock lives on the client's own shop connection (env->shop), so the runner's check
 * and act, which use that same connection, run inside it; ovs_shop_act uses a savepoint
 * and so joins this transaction instead of opening its own. */
#include <stdio.h>

#include "strategy.h"

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

static int sqlp_unlock(ovs_strategy *s, const char *key)
{
    sqlp *p = (sqlp *)s;
    sqlite3 *db = s->env->shop;

    (void)key;
    if (p->in_tx == 0)
        return ovs_strategy_fail(s, OVS_BUSY, "no transaction open");
    if (--p->in_tx > 0)
        return OVS_OK;
    /* COMMIT cannot be busy here: we hold the writer lock, and in WAL mode readers never
     * block a commit. If it fails anyway, roll back so the connection stays usable. */
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int r = ovs_strategy_fail(s, OVS_ERR, "COMMIT: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return OVS_OK;
}

static void sqlp_close(ovs_strategy *s)
{
    sqlp *p = (sqlp *)s;
    if (p->in_tx && s->env && s->env->shop)
        sqlite3_exec(s->env->shop, "ROLLBACK", NULL, NULL, NULL);
    p->in_tx = 0;
}

const ovs_strategy_methods ovs_strategy_sql_pessimistic = {
    .version = 1,
    .name = "sql-pessimistic",
    .summary = "BEGIN IMMEDIATE (the database's writer lock) around check and act",
    .claims_safe = 1,
    .size = sizeof(sqlp),
    .params = sqlp_params,
    .n_params = sizeof(sqlp_params) / sizeof(sqlp_params[0]),
    .xOpen = sqlp_open,
    .xLock = sqlp_lock,
    .xUnlock = sqlp_unlock,
    .xClose = sqlp_close,
};
