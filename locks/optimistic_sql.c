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
 *    what optimistic-sql-exclusion's constraint is for; here it is claimed nowhere.
 *
 * Think time has no place here: there is no window between a check and an act. */
#include <string.h>

#include "core/util.h"
#include "locks/sql_request.h"
#include "locks/strategy.h"

enum { P_RETRY_COUNT, P_RETRY_DELAY, P_RETRY_JITTER };

static const ovs_param_spec osql_params[] = {
    [P_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 100000,
                        "retries of a transaction the server rolled back (deadlock,"
                        " serialization failure)" },
    [P_RETRY_DELAY] = { "retry_delay", 0, "ms", NULL, 0, 60000,
                        "wait before each retry" },
    [P_RETRY_JITTER] = { "retry_jitter", 2, "ms", NULL, 0, 60000,
                         "random extra wait before a retry, up to this much on the first"
                         " and doubling with each further one, to 64 times" },
};

typedef struct osql {
    ovs_strategy base;
    ovs_sqlreq q;
    enum ovs_sqlerr cls;   /* the class of the last attempt's failure */
    ovs_rng rng;           /* the retry jitter's */
} osql;

static int osql_open(ovs_strategy *s, const ovs_env *env)
{
    osql *o = (osql *)s;

    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a shop connection", s->m->name);
    if (ovs_sqlreq_open(&o->q, env->shop) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", env->shop->errstr);
    ovs_rng_seed(&o->rng, env->seed);
    return OVS_OK;
}

/* Waits before retry number n (1 for the first). Transactions that deadlocked on the same
 * rows and retry at once meet again: on MariaDB twelve guarded inserts into one room's
 * bookings, retried without a pause, kept rolling each other back (error 1467 on the
 * AUTO-INC lock) for two thousand attempts each. A random wait that widens with each
 * failure breaks the tie, as any client that retries deadlocks has to. */
static void osql_backoff(osql *o, unsigned n)
{
    const double *v = o->base.env->param->v;
    double jitter_ms = v[P_RETRY_JITTER] * (double)(1u << (n - 1 < 6 ? n - 1 : 6));
    int64_t ns = (int64_t)(v[P_RETRY_DELAY] * (double)OVS_NS_PER_MS);

    if (jitter_ms > 0)
        ns += (int64_t)ovs_rng_below(&o->rng, (uint64_t)(jitter_ms * (double)OVS_NS_PER_MS) + 1);
    ovs_sleep_ns(ns);
}

/* One attempt: OVS_OK sold, OVS_REFUSED, or a failure code with db->cls set. */
static int osql_attempt(osql *o, const ovs_request *r, int64_t buyer)
{
    ovs_shopdb *db = o->q.db;
    int inventory = o->base.env->workload == OVS_INVENTORY;
    int64_t changed = 0;
    int rc;

    if ((rc = db->m->xBegin(db, OVS_ISO_DEFAULT)) != OVS_OK) {
        o->cls = db->cls;
        return ovs_strategy_fail(&o->base, rc, "BEGIN: %.100s", db->errstr);
    }
    rc = ovs_sqlreq_run(&o->q, inventory ? OVS_SQLREQ_GUARDED_DECREMENT : OVS_SQLREQ_GUARDED_BOOK,
                        r, buyer, &changed, NULL);
    if (rc == OVS_OK && changed == 0) {
        db->m->xRollback(db);
        return OVS_REFUSED;
    }
    if (rc == OVS_OK && changed != 1)
        rc = ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "%lld rows changed", (long long)changed);
    if (rc == OVS_OK && inventory)
        rc = ovs_sqlreq_run(&o->q, OVS_SQLREQ_ORDER, r, buyer, NULL, NULL);
    if (rc == OVS_OK)
        rc = ovs_sqlreq_commit(db);
    if (rc == OVS_OK)
        return OVS_OK;
    /* The failure's class and words, before a ROLLBACK's success overwrites them. */
    o->cls = db->cls;
    ovs_strategy_fail(&o->base, rc, "%.110s", db->errstr);
    if (rc != OVS_ERR_IO && db->m->xInTransaction(db))
        db->m->xRollback(db);
    return rc;
}

static int osql_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    osql *o = (osql *)s;
    unsigned retries = (unsigned)s->env->param->v[P_RETRY_COUNT];
    char why[sizeof(s->errstr)];
    int rc;

    (void)think_ns;
    for (s->attempts = 1;; s->attempts++) {
        rc = osql_attempt(o, r, buyer);
        if (rc == OVS_OK || rc == OVS_REFUSED || rc == OVS_BUSY)
            return rc;
        memcpy(why, s->errstr, sizeof(why));
        if (rc == OVS_ERR_IO)
            return ovs_strategy_fail(s, OVS_ERR_IO, "%.100s: outcome unknown", why);
        if (!ovs_sqlreq_retryable(o->cls))
            return OVS_ERR;
        if (s->attempts > retries)
            return ovs_strategy_fail(s, OVS_BUSY, "rolled back by the server %u times: %.80s",
                                     s->attempts, why);
        osql_backoff(o, s->attempts);
    }
}

static void osql_close(ovs_strategy *s)
{
    osql *o = (osql *)s;

    if (o->q.db != NULL)
        o->q.db->m->xRollback(o->q.db);
    ovs_sqlreq_close(&o->q);
}

/* The guarded insert is no guard on PostgreSQL (see the header). */
static int osql_claims(const ovs_params *p, const char *backend, enum ovs_workload w)
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
    .size = sizeof(osql),
    .params = osql_params,
    .n_params = sizeof(osql_params) / sizeof(osql_params[0]),
    .xOpen = osql_open,
    .xExecute = osql_execute,
    .xClose = osql_close,
    .xClaims = osql_claims,
};
