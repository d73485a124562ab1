/* optimistic_sql.c - no lock: the database's own conditional write decides.
 *
 * Inventory: UPDATE skus SET stock = stock - 1 WHERE id = ? AND stock > 0 sells iff it
 * changed one row, and the order row is inserted in the same transaction, so a unit and
 * its order exist together or not at all. Bookings: one guarded statement, INSERT ...
 * SELECT ... WHERE NOT EXISTS (a confirmed booking of the room that overlaps), booked
 * iff it inserted a row.
 *
 * Whether that is enough depends on the back end, and the claim says so (claims below):
 *  - the decrement is safe everywhere: the row lock the UPDATE takes makes the second
 *    writer re-read the row (PostgreSQL's READ COMMITTED re-evaluates the WHERE on the
 *    newest version; InnoDB's UPDATE reads the latest committed row, whatever the
 *    isolation), so stock never goes below zero;
 *  - the guarded insert is safe on SQLite (the transaction holds the writer lock from
 *    BEGIN IMMEDIATE) and on MariaDB, where the NOT EXISTS scan of INSERT ... SELECT takes
 *    shared next-key locks on the index range it read, so a concurrent insert into that
 *    range waits or deadlocks (the server rolls one back: retried here);
 *  - on PostgreSQL the NOT EXISTS reads a snapshot and locks nothing that does not exist:
 *    two guarded inserts that run at once both see a free room and both insert. That is
 *    what optimistic-sql-exclusion's constraint is for (optimistic_sql_exclusion.c,
 *    which shares this body); here it is claimed nowhere.
 *
 * Think time has no place here: there is no window between a check and an act. */
#include "locks/optimistic_sql.h"

#include <string.h>

const ovs_param_spec ovs_osql_params[OVS_OSQL_NPARAMS] = {
    OVS_SQLREQ_RETRY_PARAMS(OVS_OSQL_P_RETRY),
};

int ovs_osql_open(ovs_strategy *s, const ovs_env *env)
{
    ovs_osql *o = (ovs_osql *)s;

    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a shop connection", s->m->name);
    if (ovs_sqlreq_open(&o->q, env->shop) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", env->shop->errstr);
    if (o->book == 0)
        o->book = OVS_SQLREQ_GUARDED_BOOK;
    ovs_rng_seed(&o->rng, env->seed);
    return OVS_OK;
}

/* One attempt (ovs_sqlreq_attempt_fn). */
static int osql_attempt(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns,
                        enum ovs_sqlerr *cls)
{
    ovs_osql *o = (ovs_osql *)s;
    ovs_shopdb *db = o->q.db;
    int inventory = s->env->workload == OVS_INVENTORY;
    int64_t changed = 0;
    int rc;

    (void)think_ns;
    if ((rc = ovs_sqlreq_begin(s, db, OVS_ISO_DEFAULT, cls)) != OVS_OK)
        return rc;
    rc = ovs_sqlreq_run(&o->q, inventory ? OVS_SQLREQ_GUARDED_DECREMENT
                                         : (enum ovs_sqlreq_stmt)o->book,
                        r, buyer, &changed, NULL);
    if (rc == OVS_OK && changed == 0) {
        db->m->xRollback(db);
        return OVS_REFUSED;
    }
    if (rc == OVS_OK && changed != 1)
        rc = ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "%lld rows changed", (long long)changed);
    if (rc == OVS_OK && inventory)
        rc = ovs_sqlreq_run(&o->q, OVS_SQLREQ_ORDER, r, buyer, NULL, NULL);
    rc = ovs_sqlreq_finish(s, db, rc, cls);
    /* The schema's constraint refused the row: the room is taken, a clean no. */
    if (o->conflict_refuses && rc != OVS_OK && rc != OVS_ERR_IO && *cls == OVS_SQLE_CONFLICT)
        return OVS_REFUSED;
    return rc;
}

int ovs_osql_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    return ovs_sqlreq_retrying(s, &((ovs_osql *)s)->rng, OVS_OSQL_P_RETRY, osql_attempt, r,
                               buyer, think_ns);
}

void ovs_osql_close(ovs_strategy *s)
{
    ovs_osql *o = (ovs_osql *)s;

    if (o->q.db != NULL)
        o->q.db->m->xRollback(o->q.db);
    ovs_sqlreq_close(&o->q);
}

/* The guarded insert is no guard on PostgreSQL (see the header). */
int ovs_osql_claims(const ovs_params *p, const char *backend, enum ovs_workload w)
{
    (void)p;
    return !(w == OVS_BOOKING && strcmp(backend, "postgresql") == 0);
}

const ovs_strategy_methods ovs_strategy_optimistic_sql = {
    .version = 3,
    .name = "optimistic-sql",
    .summary = "no lock: UPDATE ... WHERE stock > 0 with the order in one transaction;"
               " bookings one INSERT ... WHERE NOT EXISTS (no guard on PostgreSQL)",
    .claims_safe = 1,
    .size = sizeof(ovs_osql),
    .params = ovs_osql_params,
    .n_params = OVS_OSQL_NPARAMS,
    .xOpen = ovs_osql_open,
    .xExecute = ovs_osql_execute,
    .xClose = ovs_osql_close,
    .xClaims = ovs_osql_claims,
};
