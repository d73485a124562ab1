/* none.c - no protection: check, think, act. The baseline that must lose.
 *
 * Its lock and unlock take nothing, so the runner still records a "critical section" for
 * each request: the overlaps of those intervals are exactly the race the other strategies
 * exist to close, and the timeline shows them.
 *
 * isolation = autocommit (the default) runs the check and the act as the harness does by
 * default: each its own statement or transaction, nothing held in between. Any other
 * level opens ONE transaction at that level in xLock and commits it in xUnlock; the
 * runner's check and act run on the same connection (env->shop) and so inside it, the act
 * in a savepoint. Only then does the level decide anything: a level applies to a
 * transaction, and a check and an act in two transactions are two snapshots whatever the
 * level. What each database does with check-then-act at each level is what this shows:
 *  - SQLite has one level, SERIALIZABLE, and BEGIN IMMEDIATE takes its writer lock at
 *    once, so every level is safe there;
 *  - PostgreSQL READ COMMITTED lets the second decrement through (it re-reads the row it
 *    waited for); REPEATABLE READ refuses it with a serialization failure (the act fails,
 *    nothing sold twice), but lets two bookings through (write skew: neither writes a row
 *    the other read); SERIALIZABLE refuses both;
 *  - MariaDB's READ COMMITTED and REPEATABLE READ both let the stale check through (its
 *    UPDATE reads the latest row whatever the snapshot said); SERIALIZABLE turns the
 *    check into a shared lock, and the second writer deadlocks and is rolled back.
 * The claims below say exactly that, and the contract and the scenarios hold them to it. */
#include <string.h>

#include "locks/sql_request.h"
#include "locks/strategy.h"

enum { P_ISOLATION };
enum { ISO_AUTOCOMMIT, ISO_DEFAULT, ISO_READ_COMMITTED, ISO_REPEATABLE_READ, ISO_SERIALIZABLE };

static const ovs_param_spec none_params[] = {
    [P_ISOLATION] = { "isolation", ISO_AUTOCOMMIT, NULL,
                      "autocommit|default|read_committed|repeatable_read|serializable", 0, 0,
                      "autocommit: check and act in no common transaction; a level: both in"
                      " one transaction at it (default: the server's)" },
};

typedef struct none {
    ovs_strategy base;
    int in_tx; /* keys taken under the open transaction; 0: none open */
} none;

static int none_open(ovs_strategy *s, const ovs_env *env)
{
    if (env->param->v[P_ISOLATION] != ISO_AUTOCOMMIT && env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "none at an isolation level needs a shop"
                                 " connection");
    return OVS_OK;
}

static int none_lock(ovs_strategy *s, const char *key)
{
    none *n = (none *)s;
    int level = (int)s->env->param->v[P_ISOLATION];
    ovs_shopdb *db = s->env->shop;

    (void)key;
    s->attempts = 1;
    if (level == ISO_AUTOCOMMIT)
        return OVS_OK;
    /* One transaction per request, however many keys (nights) it takes. */
    if (n->in_tx++ > 0)
        return OVS_OK;
    /* ISO_DEFAULT.. map onto OVS_ISO_DEFAULT.. in order. */
    int rc = db->m->xBegin(db, (enum ovs_isolation)(level - ISO_DEFAULT + OVS_ISO_DEFAULT));
    if (rc == OVS_OK)
        return OVS_OK;
    n->in_tx = 0;
    return ovs_strategy_fail(s, rc == OVS_BUSY ? OVS_BUSY : OVS_ERR, "BEGIN: %.100s",
                             db->errstr);
}

/* OVS_OK committed (or nothing to commit); OVS_UNDONE rolled back, the act's writes with
 * it; OVS_ERR_IO unknown. */
static int none_unlock(ovs_strategy *s, const char *key)
{
    none *n = (none *)s;
    ovs_shopdb *db = s->env->shop;

    (void)key;
    if (n->in_tx == 0 || --n->in_tx > 0)
        return OVS_OK;
    int rc = ovs_sqlreq_commit(db);
    if (rc == OVS_OK)
        return OVS_OK;
    return ovs_strategy_fail(s, rc == OVS_ERR_IO ? OVS_ERR_IO : OVS_UNDONE, "COMMIT: %.100s",
                             db->errstr);
}

static void none_close(ovs_strategy *s)
{
    none *n = (none *)s;

    if (n->in_tx > 0 && s->env && s->env->shop)
        s->env->shop->m->xRollback(s->env->shop);
    n->in_tx = 0;
}

/* Safe where the database refuses the race at that level (see the header). */
static int none_claims(const ovs_params *p, const char *backend, enum ovs_workload w)
{
    int level = (int)p->v[P_ISOLATION];

    if (level == ISO_AUTOCOMMIT)
        return 0;
    if (strcmp(backend, "sqlite") == 0 || level == ISO_SERIALIZABLE)
        return 1;
    return strcmp(backend, "postgresql") == 0 && level == ISO_REPEATABLE_READ &&
           w == OVS_INVENTORY;
}

const ovs_strategy_methods ovs_strategy_none = {
    .version = 3,
    .name = "none",
    .summary = "check, think, act with no protection: the baseline that must oversell;"
               " isolation = LEVEL runs both in one transaction at it",
    .claims_safe = 0,
    .unlock_commits = 1,
    .size = sizeof(none),
    .params = none_params,
    .n_params = sizeof(none_params) / sizeof(none_params[0]),
    .xOpen = none_open,
    .xLock = none_lock,
    .xUnlock = none_unlock,
    .xClose = none_close,
    .xClaims = none_claims,
};
