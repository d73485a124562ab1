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
#include "locks/sql_request.h"
#include "locks/strategy.h"

enum { P_RETRY_COUNT, P_RETRY_DELAY, P_RETRY_JITTER };

static const ovs_param_spec ssz_params[] = {
    OVS_SQLREQ_RETRY_PARAMS(P_RETRY_COUNT),
};

typedef struct ssz {
    ovs_strategy base;
    ovs_sqlreq q;
    ovs_rng rng; /* the retries' waits */
} ssz;

static int ssz_open(ovs_strategy *s, const ovs_env *env)
{
    ssz *z = (ssz *)s;

    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a shop connection", s->m->name);
    if (ovs_sqlreq_open(&z->q, env->shop) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", env->shop->errstr);
    ovs_rng_seed(&z->rng, env->seed);
    return OVS_OK;
}

/* The check, inside the open transaction: xStep's code, and *can 1 when the request can
 * be met (stock left, the room free those nights). */
static int ssz_check(ssz *z, const ovs_request *r, int64_t buyer, int *can)
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
    ssz *z = (ssz *)s;
    ovs_shopdb *db = z->q.db;
    int inventory = s->env->workload == OVS_INVENTORY;
    int64_t changed = 0;
    int rc, can = 0;

    if ((rc = db->m->xBegin(db, OVS_ISO_SERIALIZABLE)) != OVS_OK) {
        *cls = db->cls;
        return ovs_strategy_fail(s, rc, "BEGIN: %.100s", db->errstr);
    }
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
    if (rc == OVS_OK)
        rc = ovs_sqlreq_commit(db);
    if (rc == OVS_OK)
        return OVS_OK;
    /* The failure's class and words, before a ROLLBACK's success overwrites them. */
    *cls = db->cls;
    ovs_strategy_fail(s, rc, "%.110s", db->errstr);
    if (rc != OVS_ERR_IO && db->m->xInTransaction(db))
        db->m->xRollback(db);
    return rc;
}

static int ssz_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    return ovs_sqlreq_retrying(s, &((ssz *)s)->rng, P_RETRY_COUNT, ssz_attempt, r, buyer,
                               think_ns);
}

static void ssz_close(ovs_strategy *s)
{
    ssz *z = (ssz *)s;

    if (z->q.db != NULL && z->q.db->m->xInTransaction(z->q.db))
        z->q.db->m->xRollback(z->q.db);
    ovs_sqlreq_close(&z->q);
}

const ovs_strategy_methods ovs_strategy_sql_serializable = {
    .version = 3,
    .name = "sql-serializable",
    .summary = "check, think, act in one SERIALIZABLE transaction, run again when the"
               " server rolls it back (PostgreSQL, MariaDB)",
    .claims_safe = 1,
    .backends = "postgresql,mysql",
    .size = sizeof(ssz),
    .params = ssz_params,
    .n_params = sizeof(ssz_params) / sizeof(ssz_params[0]),
    .xOpen = ssz_open,
    .xExecute = ssz_execute,
    .xClose = ssz_close,
};
