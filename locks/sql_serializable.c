/* sql_serializable.c - check, think and act in one SERIALIZABLE transaction, retried when
 * the server rolls it back.
 *
 * No lock of the application's own: the database's strongest isolation level is asked to
 * make the check-then-act come out as if the transactions had run one after another, and
 * a transaction it cannot place in such an order is rolled back (PostgreSQL's
 * serialization failure, 40001; MariaDB's deadlock, 1213, where SERIALIZABLE turns the
 * check into a shared lock and two buyers holding it both try to write). The whole
 * transaction is then run again, check included, after a widening random wait, up to
 * retry_count times; a request still rolled back after that is busy, like a lock not
 * granted.
 *
 * Inventory: SELECT stock, think, UPDATE stock - 1 and the order. Bookings: count the
 * confirmed stays of the room that overlap, think, INSERT. On PostgreSQL the booking race
 * is write skew (neither transaction writes a row the other read), which its SERIALIZABLE
 * detects and REPEATABLE READ does not: the reason this strategy exists beside
 * `none:isolation=repeatable_read`.
 *
 * SQLite has no concurrency for this to show: its one writer at a time is sql-pessimistic
 * already. It runs on the servers only, and a SQLite cell says n/a. */
#include "locks/optimistic_sql.h"

/* The check, inside the open transaction: xStep's code, and *can 1 when the request can
 * be met (stock left, the room free those nights). */
static int ssz_check(ovs_osql *z, const ovs_request *r, int64_t buyer, int *can)
{
    int64_t v = 0;
    int inventory = z->base.env->workload == OVS_INVENTORY;
    int rc = ovs_sqlreq_run(&z->q, inventory ? OVS_SQLREQ_STOCK : OVS_SQLREQ_OVERLAPPING, r,
                            buyer, NULL, &v);

    *can = inventory ? v > 0 : v == 0;
    return rc;
}

/* One attempt (ovs_sqlreq_attempt_fn). */
static int ssz_attempt(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns,
                       enum ovs_sqlerr *cls)
{
    ovs_osql *z = (ovs_osql *)s;
    ovs_shopdb *db = z->q.db;
    int inventory = s->env->workload == OVS_INVENTORY;
    int64_t changed = 0;
    int rc, can = 0;

    if ((rc = ovs_sqlreq_begin(s, db, OVS_ISO_SERIALIZABLE, cls)) != OVS_OK)
        return rc;
    rc = ssz_check(z, r, buyer, &can);
    if (rc == OVS_OK && !can) {
        db->m->xRollback(db);
        return OVS_REFUSED;
    }
    if (rc == OVS_OK) {
        ovs_sleep_ns(think_ns); /* the window between check and act */
        rc = ovs_sqlreq_run(&z->q, inventory ? OVS_SQLREQ_DECREMENT : OVS_SQLREQ_BOOK, r, buyer,
                            &changed, NULL);
    }
    if (rc == OVS_OK && changed != 1)
        rc = ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "%lld rows changed", (long long)changed);
    if (rc == OVS_OK && inventory)
        rc = ovs_sqlreq_run(&z->q, OVS_SQLREQ_ORDER, r, buyer, NULL, NULL);
    return ovs_sqlreq_finish(s, db, rc, cls);
}

static int ssz_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    return ovs_sqlreq_retrying(s, &((ovs_osql *)s)->rng, OVS_OSQL_P_RETRY, ssz_attempt, r,
                               buyer, think_ns);
}

/* Its instance, parameters, open and close are optimistic-sql's (optimistic_sql.h). */
const ovs_strategy_methods ovs_strategy_sql_serializable = {
    .version = 3,
    .name = "sql-serializable",
    .summary = "check, think, act in one SERIALIZABLE transaction, run again when the"
               " server rolls it back (PostgreSQL, MariaDB)",
    .claims_safe = 1,
    .backends = "postgresql,mysql",
    .size = sizeof(ovs_osql),
    .params = ovs_osql_params,
    .n_params = OVS_OSQL_NPARAMS,
    .xOpen = ovs_osql_open,
    .xExecute = ssz_execute,
    .xClose = ovs_osql_close,
};
