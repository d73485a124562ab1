/* sql_advisory.c - the database server's advisory locks around check and act.
 *
 * A lock on a name rather than a row: the application picks the name (here the harness's
 * key, "sku:1", "hotel:1:night:2026-01-20") and every client that takes the same name
 * waits for the one holding it. Nothing in the tables is locked, so the shop's own
 * statements run as they would unlocked; only the clients that ask are kept apart.
 *
 *  - PostgreSQL: BEGIN, then pg_advisory_xact_lock(id) per key, where id is a 64-bit hash
 *    of the run's namespace and the key. The locks belong to the transaction: COMMIT
 *    (after the act) releases them, so no client sees the lock free before the sale is
 *    committed. Waiting is bounded by lock_timeout, which covers advisory locks too.
 *  - MariaDB: GET_LOCK(name, timeout) per key, the first before START TRANSACTION; the
 *    locks belong to the session, not the transaction, so they are released with
 *    RELEASE_LOCK only after COMMIT, for the same reason. A name is at most 64
 *    characters: the namespace and key, or a hash of them when longer.
 *
 * The namespace is in the name because advisory locks are server-wide: two runs against
 * one server, or the user's own application on it, must not share a lock by accident.
 * A hash collision could only make two keys one lock: coarser, never less safe.
 *
 * SQLite has no such locks (and one writer at a time anyway): n/a there. */
#include <stdio.h>
#include <string.h>

#include "locks/strategy.h"

enum { P_BUSY_TIMEOUT };

static const ovs_param_spec sqla_params[] = {
    [P_BUSY_TIMEOUT] = { "busy_timeout", 5000, "ms", NULL, 0, 3600000,
                         "how long an advisory lock is waited for" },
};

#define NAME_MAX_LEN 64 /* MariaDB's limit on a lock name */

typedef struct sqla {
    ovs_strategy base;
    int pg;                              /* 1 PostgreSQL, 0 MariaDB */
    int in_tx;                           /* keys held under the open transaction */
    ovs_sqlstmt *take, *release;         /* release: MariaDB only */
    char names[OVS_MAX_NIGHTS][NAME_MAX_LEN + 1]; /* MariaDB: the names held */
    int nnames;
} sqla;

/* FNV-1a, 64 bits, over the namespace, a separator and the key. */
static uint64_t key_hash(const char *ns, const char *key)
{
    uint64_t h = UINT64_C(14695981039346656037);
    const char *parts[3] = { ns ? ns : "", "/", key };

    for (int i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * UINT64_C(1099511628211);
    return h;
}

static void key_name(const sqla *a, const char *key, char *out)
{
    const char *ns = a->base.env->shop_ns ? a->base.env->shop_ns : "";
    int n = snprintf(out, NAME_MAX_LEN + 1, "%s/%s", ns, key);

    if (n < 0 || n > NAME_MAX_LEN)
        snprintf(out, NAME_MAX_LEN + 1, "oversell/%016llx",
                 (unsigned long long)key_hash(ns, key));
}

/* GET_LOCK's answer: 1, 0, or NULL, which ovs_sql_int would read as 0. */
typedef struct answer {
    int rows;
    int null;
    int64_t v;
} answer;

static int first_answer(void *ctx, const ovs_sqlval *col, int ncol)
{
    answer *a = ctx;

    a->rows++;
    a->null = ncol < 1 || col[0].type != OVS_SQL_INT;
    a->v = a->null ? 0 : col[0].i;
    return 1;
}

static int sqla_open(ovs_strategy *s, const ovs_env *env)
{
    sqla *a = (sqla *)s;
    ovs_shopdb *db = env->shop;
    const char *take, *release = NULL;

    if (db == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "sql-advisory needs a shop connection");
    a->pg = strcmp(db->m->name, "postgresql") == 0;
    if (a->pg) {
        take = "SELECT pg_advisory_xact_lock($1)";
        if (db->m->xLockTimeout(db, (int)env->param->v[P_BUSY_TIMEOUT]) != OVS_OK)
            return ovs_strategy_fail(s, OVS_ERR, "lock timeout: %.100s", db->errstr);
    } else if (strcmp(db->m->name, "mysql") == 0) {
        /* GET_LOCK's timeout is in seconds, fractions allowed. */
        take = "SELECT GET_LOCK(?, ?)";
        release = "SELECT RELEASE_LOCK(?)";
    } else {
        return ovs_strategy_fail(s, OVS_ERR, "sql-advisory has no advisory locks on %s",
                                 db->m->name);
    }
    if (db->m->xPrepare(db, take, &a->take) != OVS_OK ||
        (release && db->m->xPrepare(db, release, &a->release) != OVS_OK))
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", db->errstr);
    return OVS_OK;
}

/* Take key's advisory lock: OVS_OK, OVS_BUSY (not granted in busy_timeout), OVS_ERR. */
static int take(sqla *a, const char *key)
{
    ovs_strategy *s = &a->base;
    ovs_shopdb *db = s->env->shop;
    int64_t got = 0;
    int rc;

    if (a->pg) {
        ovs_sqlval v = OVS_SQLV_INT((int64_t)key_hash(s->env->shop_ns, key));
        rc = ovs_sql_int(db, a->take, &v, 1, &got, NULL);
        if (rc == OVS_OK)
            return OVS_OK;
        if (rc == OVS_BUSY || db->cls == OVS_SQLE_DEADLOCK)
            return ovs_strategy_fail(s, OVS_BUSY, "advisory lock of %s not granted: %.90s",
                                     key, db->errstr);
        return ovs_strategy_fail(s, OVS_ERR, "pg_advisory_xact_lock(%s): %.90s", key,
                                 db->errstr);
    }
    if (a->nnames >= OVS_MAX_NIGHTS)
        return ovs_strategy_fail(s, OVS_ERR, "more than %d keys in one request", OVS_MAX_NIGHTS);
    char *name = a->names[a->nnames];
    key_name(a, key, name);
    char secs[32];
    snprintf(secs, sizeof(secs), "%.3f", s->env->param->v[P_BUSY_TIMEOUT] / 1000.0);
    ovs_sqlval v[2] = { OVS_SQLV_TEXT(name), OVS_SQLV_TEXT(secs) };
    answer ans = { 0, 0, 0 };
    rc = db->m->xStep(a->take, v, 2, first_answer, &ans, NULL);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "GET_LOCK('%s'): %.90s", name, db->errstr);
    /* 1 granted; 0 timed out; NULL an error, such as a wait that was killed. */
    if (ans.rows == 1 && !ans.null && ans.v == 1) {
        a->nnames++;
        return OVS_OK;
    }
    if (ans.rows == 1 && !ans.null && ans.v == 0)
        return ovs_strategy_fail(s, OVS_BUSY, "GET_LOCK('%s') timed out", name);
    return ovs_strategy_fail(s, OVS_ERR, "GET_LOCK('%s') returned %s", name,
                             ans.rows ? "NULL" : "no row");
}

/* MariaDB: RELEASE_LOCK every name held; OVS_OK or the first failure's code. */
static int release_all(sqla *a)
{
    ovs_shopdb *db = a->base.env->shop;
    int rc = OVS_OK;

    for (int i = a->nnames - 1; i >= 0; i--) {
        ovs_sqlval v = OVS_SQLV_TEXT(a->names[i]);
        int64_t got = 0;
        int found = 0;
        int r = ovs_sql_int(db, a->release, &v, 1, &got, &found);
        if (r != OVS_OK && rc == OVS_OK)
            rc = ovs_strategy_fail(&a->base, r, "RELEASE_LOCK('%s'): %.90s", a->names[i],
                                   db->errstr);
    }
    a->nnames = 0;
    return rc;
}

static int sqla_lock(ovs_strategy *s, const char *key)
{
    sqla *a = (sqla *)s;
    ovs_shopdb *db = s->env->shop;
    int rc;

    s->attempts = 1;
    if (a->in_tx > 0) {
        /* Another key of the same request (a night of the stay): inside the transaction. */
        if ((rc = take(a, key)) != OVS_OK)
            return rc;
        a->in_tx++;
        return OVS_OK;
    }
    /* PostgreSQL's lock belongs to a transaction, so BEGIN first; MariaDB's to the
     * session, taken before the transaction so that its snapshot starts after the lock. */
    if (a->pg && (rc = db->m->xBegin(db, OVS_ISO_DEFAULT)) != OVS_OK)
        return ovs_strategy_fail(s, rc == OVS_BUSY ? OVS_BUSY : OVS_ERR, "BEGIN: %.100s",
                                 db->errstr);
    if ((rc = take(a, key)) != OVS_OK) {
        if (a->pg)
            db->m->xRollback(db);
        return rc;
    }
    if (!a->pg && (rc = db->m->xBegin(db, OVS_ISO_DEFAULT)) != OVS_OK) {
        char why[sizeof(db->errstr)];
        memcpy(why, db->errstr, sizeof(why));
        release_all(a);
        return ovs_strategy_fail(s, OVS_ERR, "BEGIN: %.100s", why);
    }
    a->in_tx = 1;
    return OVS_OK;
}

/* As sql-pessimistic's: OVS_OK committed, OVS_UNDONE rolled back, OVS_ERR_IO unknown.
 * The locks go only after the COMMIT's answer, whatever it was. */
static int sqla_unlock(ovs_strategy *s, const char *key)
{
    sqla *a = (sqla *)s;
    ovs_shopdb *db = s->env->shop;
    char why[sizeof(db->errstr)];
    int rc, rel = OVS_OK;

    (void)key;
    if (a->in_tx == 0)
        return ovs_strategy_fail(s, OVS_BUSY, "no transaction open");
    if (--a->in_tx > 0)
        return OVS_OK;
    rc = db->m->xCommit(db);
    memcpy(why, db->errstr, sizeof(why));
    if (rc != OVS_OK && rc != OVS_ERR_IO && db->m->xInTransaction(db) &&
        db->m->xRollback(db) != OVS_OK)
        rc = OVS_ERR_IO;
    if (!a->pg && rc != OVS_ERR_IO)
        rel = release_all(a);
    else
        a->nnames = 0; /* a lost connection took the session's locks with it */
    if (rc == OVS_ERR_IO)
        return ovs_strategy_fail(s, OVS_ERR_IO, "COMMIT: %.90s; outcome unknown", why);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_UNDONE, "COMMIT: %.100s; rolled back", why);
    return rel;
}

static void sqla_close(ovs_strategy *s)
{
    sqla *a = (sqla *)s;
    ovs_shopdb *db = s->env ? s->env->shop : NULL;

    if (db != NULL) {
        if (a->in_tx && db->m->xInTransaction(db))
            db->m->xRollback(db);
        if (!a->pg && a->release != NULL)
            release_all(a);
        db->m->xFinalize(a->take);
        db->m->xFinalize(a->release);
    }
    a->take = a->release = NULL;
    a->in_tx = 0;
    a->nnames = 0;
}

const ovs_strategy_methods ovs_strategy_sql_advisory = {
    .version = 3,
    .name = "sql-advisory",
    .summary = "the server's advisory lock on the key around check and act:"
               " pg_advisory_xact_lock on PostgreSQL, GET_LOCK on MariaDB",
    .claims_safe = 1,
    .unlock_commits = 1,
    .backends = "postgresql,mysql",
    .size = sizeof(sqla),
    .params = sqla_params,
    .n_params = sizeof(sqla_params) / sizeof(sqla_params[0]),
    .xOpen = sqla_open,
    .xLock = sqla_lock,
    .xUnlock = sqla_unlock,
    .xClose = sqla_close,
};
