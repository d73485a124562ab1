/* holds_sql.c - checkout holds as rows of the shop's database, and their reaper
 * (holds_sql.h). */
#include "locks/holds_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "locks/holds.h"

/* The statements as '?' placeholders; PostgreSQL's $n are made from them (to_dialect). */
static const char *const hsql_text[OVS_HSQL__COUNT] = {
    [OVS_HSQL_INSERT] = "INSERT INTO holds(buyer, sku, created_ms, expires_ms, state)"
                        " VALUES (?, ?, ?, ?, '" OVS_HOLD_HELD "')",
    [OVS_HSQL_CONFIRM_LIVE] = "UPDATE holds SET state = '" OVS_HOLD_CONFIRMED "', settled_ms = ?"
                              " WHERE buyer = ? AND state = '" OVS_HOLD_HELD "' AND expires_ms > ?",
    [OVS_HSQL_CONFIRM_ANY] = "UPDATE holds SET state = '" OVS_HOLD_CONFIRMED "', settled_ms = ?"
                             " WHERE buyer = ? AND state IN ('" OVS_HOLD_HELD "', '"
                             OVS_HOLD_EXPIRED "')",
    [OVS_HSQL_SETTLE] = "UPDATE holds SET state = ?, settled_ms = ? WHERE buyer = ?"
                        " AND state = '" OVS_HOLD_HELD "'",
    [OVS_HSQL_GIVE_BACK] = "UPDATE skus SET stock = stock + 1 WHERE id = ?",
    [OVS_HSQL_EXPIRED] = "SELECT buyer, sku FROM holds WHERE state = '" OVS_HOLD_HELD "'"
                         " AND expires_ms <= ?",
};

/* Transactions the server rolled back (deadlock, serialization failure) or that waited
 * out the lock timeout are tried again this many times, a few random milliseconds apart. */
#define HSQL_ATTEMPTS 8

static void to_dialect(const char *dialect, const char *src, char *buf, size_t len)
{
    size_t o = 0;
    int n = 0;

    for (const char *p = src; *p != '\0' && o + 4 < len; p++) {
        if (*p == '?' && strcmp(dialect, "postgresql") == 0)
            o += (size_t)snprintf(buf + o, len - o, "$%d", ++n);
        else
            buf[o++] = *p;
    }
    buf[o] = '\0';
}

int ovs_hsql_schema(ovs_strategy *s, ovs_shopdb *db)
{
    if (db == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s: holds = sql needs the shop", s->m->name);
    if (db->m->xExec(db, "CREATE TABLE IF NOT EXISTS holds(buyer BIGINT PRIMARY KEY,"
                         " sku INTEGER NOT NULL, created_ms BIGINT NOT NULL,"
                         " expires_ms BIGINT NOT NULL, state VARCHAR(16) NOT NULL,"
                         " settled_ms BIGINT)") != OVS_OK ||
        db->m->xExec(db, "DELETE FROM holds") != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "holds table: %.100s", db->errstr);
    return OVS_OK;
}

static int conn_open(ovs_strategy *s, ovs_hsql_conn *c, ovs_shopdb *db)
{
    char sql[512];

    c->db = db;
    if (ovs_sqlreq_open(&c->q, db) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", db->errstr);
    for (int k = 0; k < OVS_HSQL__COUNT; k++) {
        to_dialect(db->m->name, hsql_text[k], sql, sizeof(sql));
        if (db->m->xPrepare(db, sql, &c->st[k]) != OVS_OK)
            return ovs_strategy_fail(s, OVS_ERR, "prepare: %.100s", db->errstr);
    }
    return OVS_OK;
}

static void conn_close(ovs_hsql_conn *c)
{
    if (c->db == NULL)
        return;
    if (c->db->m->xInTransaction(c->db))
        c->db->m->xRollback(c->db);
    for (int k = 0; k < OVS_HSQL__COUNT; k++) {
        c->db->m->xFinalize(c->st[k]);
        c->st[k] = NULL;
    }
    ovs_sqlreq_close(&c->q);
}

/* Run statement k with np parameters: xStep's code, *changes set. */
static int run(ovs_hsql_conn *c, enum ovs_hsql_stmt k, const ovs_sqlval *p, int np,
               int64_t *changes)
{
    return ovs_sql_exec(c->db, c->st[k], p, np, changes);
}

/* End an attempt: commit when rc is OVS_OK, else roll back; *again when the server
 * asks for the transaction to be tried again (or a lock wait timed out). */
static int finish(ovs_strategy *s, ovs_hsql_conn *c, int rc, int *again)
{
    enum ovs_sqlerr cls = OVS_SQLE_OTHER;

    rc = ovs_sqlreq_finish(s, c->db, rc, &cls);
    *again = rc == OVS_BUSY || (rc == OVS_ERR && ovs_sqlreq_retryable(cls));
    return rc;
}

static void pause_before_retry(int attempt)
{
    ovs_sleep_ns((int64_t)(1 + attempt % 4) * OVS_NS_PER_MS);
}

/* Settle one open hold as state and give its unit back, in one transaction on c. */
static int give_back(ovs_strategy *s, ovs_hsql_conn *c, int64_t buyer, int64_t sku,
                     const char *state, int *done)
{
    int rc, again = 1;

    for (int a = 0; again && a < HSQL_ATTEMPTS; a++) {
        int64_t n = 0;
        ovs_sqlval p[3] = { OVS_SQLV_TEXT(state), OVS_SQLV_INT(ovs_holds_clock_ms()),
                            OVS_SQLV_INT(buyer) };
        ovs_sqlval k[1] = { OVS_SQLV_INT(sku) };
        if (a > 0)
            pause_before_retry(a);
        *done = 0;
        rc = c->db->m->xBegin(c->db, OVS_ISO_DEFAULT);
        if (rc == OVS_OK)
            rc = run(c, OVS_HSQL_SETTLE, p, 3, &n);
        if (rc == OVS_OK && n == 1)
            rc = run(c, OVS_HSQL_GIVE_BACK, k, 1, NULL);
        rc = finish(s, c, rc, &again);
        *done = rc == OVS_OK && n == 1;
    }
    return rc;
}

typedef struct expired_rows {
    int64_t (*v)[2];
    size_t n, cap;
    int oom;
} expired_rows;

static int expired_add(void *ctx, const ovs_sqlval *col, int ncol)
{
    expired_rows *e = ctx;

    if (ncol < 2)
        return 0;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        int64_t(*v)[2] = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            e->oom = 1;
            return 1;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n][0] = col[0].i;
    e->v[e->n][1] = col[1].i;
    e->n++;
    return 0;
}

/* Every hold past its expiry given back on c. */
static int reap(ovs_strategy *s, ovs_hsql_conn *c)
{
    expired_rows e = { NULL, 0, 0, 0 };
    ovs_sqlval p[1] = { OVS_SQLV_INT(ovs_holds_clock_ms()) };
    int rc = ovs_sql_step(c->db, c->st[OVS_HSQL_EXPIRED], p, 1, expired_add, &e, NULL);

    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, rc, "reaper: %.100s", c->db->errstr);
    else if (e.oom)
        rc = ovs_strategy_fail(s, OVS_ERR, "reaper: out of memory");
    for (size_t i = 0; rc == OVS_OK && i < e.n; i++) {
        int done;
        rc = give_back(s, c, e.v[i][0], e.v[i][1], OVS_HOLD_EXPIRED, &done);
    }
    free(e.v);
    return rc;
}

/* The reaper's own instance for its errors: it shares nothing with the client's. */
typedef struct reaper_arg {
    ovs_holds_sql *h;
    ovs_strategy base;
} reaper_arg;

static void *reaper_main(void *arg)
{
    reaper_arg *r = arg;
    ovs_holds_sql *h = r->h;

    while (!atomic_load(&h->stop)) {
        int64_t until = ovs_now_ns() + h->interval_ns;
        /* Woken every few milliseconds at most, so a close never waits a whole interval. */
        while (!atomic_load(&h->stop) && ovs_now_ns() < until)
            ovs_sleep_ns(until - ovs_now_ns() < 5 * OVS_NS_PER_MS ? until - ovs_now_ns()
                                                                  : 5 * OVS_NS_PER_MS);
        if (atomic_load(&h->stop))
            break;
        if (h->frozen != NULL && atomic_load(h->frozen))
            continue;
        /* A failed pass is tried again at the next interval; what it left is still open. */
        (void)reap(&r->base, &h->reap);
    }
    free(r);
    return NULL;
}

int ovs_hsql_open(ovs_strategy *s, ovs_holds_sql *h, const ovs_env *env, double reap_ms)
{
    ovs_shopdb *rdb;
    reaper_arg *r;

    if (env->shop == NULL || env->shop_path == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s: holds = sql needs the shop", s->m->name);
    if (conn_open(s, &h->c, env->shop) != OVS_OK)
        return OVS_ERR;
    atomic_init(&h->stop, 0);
    h->interval_ns = (int64_t)(reap_ms * OVS_NS_PER_MS);
    h->frozen = env->frozen;
    if ((rdb = calloc(1, env->shop->m->size)) == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory");
    rdb->m = env->shop->m;
    h->rdb = rdb;
    if (rdb->m->xConnect(rdb, env->shop_path, env->shop_ns) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "reaper: %.100s", rdb->errstr);
    if (conn_open(s, &h->reap, rdb) != OVS_OK)
        return OVS_ERR;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory");
    r->h = h;
    r->base.m = s->m;
    r->base.env = env;
    if (pthread_create(&h->thread, NULL, reaper_main, r) != 0) {
        free(r);
        return ovs_strategy_fail(s, OVS_ERR, "cannot start the reaper thread");
    }
    h->started = 1;
    return OVS_OK;
}

void ovs_hsql_close(ovs_holds_sql *h)
{
    ovs_shopdb *rdb = h->rdb;

    if (h->started) {
        atomic_store(&h->stop, 1);
        pthread_join(h->thread, NULL);
        h->started = 0;
    }
    conn_close(&h->reap);
    if (rdb != NULL) {
        rdb->m->xClose(rdb);
        free(rdb);
    }
    h->rdb = NULL;
    h->reap.db = NULL;
    conn_close(&h->c);
    h->c.db = NULL;
}

int ovs_hsql_reserve(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     double ttl_ms, int64_t *expires_ms)
{
    ovs_hsql_conn *c = &h->c;
    int rc = OVS_ERR, again = 1;

    for (int a = 0; again && a < HSQL_ATTEMPTS; a++) {
        int64_t n = 0, now = ovs_holds_clock_ms();
        ovs_sqlval p[4] = { OVS_SQLV_INT(buyer), OVS_SQLV_INT(req->sku), OVS_SQLV_INT(now),
                            OVS_SQLV_INT(now + (int64_t)ttl_ms) };
        if (a > 0)
            pause_before_retry(a);
        rc = c->db->m->xBegin(c->db, OVS_ISO_DEFAULT);
        if (rc == OVS_OK)
            rc = ovs_sqlreq_run(&c->q, OVS_SQLREQ_GUARDED_DECREMENT, req, buyer, &n, NULL);
        if (rc == OVS_OK && n == 0) {
            c->db->m->xRollback(c->db);
            return OVS_REFUSED;
        }
        if (rc == OVS_OK)
            rc = run(c, OVS_HSQL_INSERT, p, 4, NULL);
        rc = finish(s, c, rc, &again);
        *expires_ms = now + (int64_t)ttl_ms;
    }
    return rc;
}

int ovs_hsql_confirm(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     int check, enum ovs_hsql_confirm *out)
{
    ovs_hsql_conn *c = &h->c;
    int rc = OVS_ERR, again = 1;

    for (int a = 0; again && a < HSQL_ATTEMPTS; a++) {
        int64_t n = 0, now = ovs_holds_clock_ms();
        ovs_sqlval p[3] = { OVS_SQLV_INT(now), OVS_SQLV_INT(buyer), OVS_SQLV_INT(now) };
        ovs_sqlval e[3] = { OVS_SQLV_TEXT(OVS_HOLD_EXPIRED), OVS_SQLV_INT(now),
                            OVS_SQLV_INT(buyer) };
        ovs_sqlval k[1] = { OVS_SQLV_INT(req->sku) };
        if (a > 0)
            pause_before_retry(a);
        *out = OVS_HSQL_NO_HOLD;
        rc = c->db->m->xBegin(c->db, OVS_ISO_DEFAULT);
        if (rc == OVS_OK)
            rc = run(c, check ? OVS_HSQL_CONFIRM_LIVE : OVS_HSQL_CONFIRM_ANY, p, check ? 3 : 2, &n);
        if (rc == OVS_OK && n == 1) {
            *out = OVS_HSQL_SOLD;
            rc = ovs_sqlreq_run(&c->q, OVS_SQLREQ_ORDER, req, buyer, NULL, NULL);
        } else if (rc == OVS_OK && check) {
            /* Not live: expired. Give its unit back unless the reaper did already. */
            *out = OVS_HSQL_EXPIRED_REFUSED;
            rc = run(c, OVS_HSQL_SETTLE, e, 3, &n);
            if (rc == OVS_OK && n == 1)
                rc = run(c, OVS_HSQL_GIVE_BACK, k, 1, NULL);
        }
        rc = finish(s, c, rc, &again);
    }
    return rc;
}

int ovs_hsql_release(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     int *released)
{
    return give_back(s, &h->c, buyer, req->sku, OVS_HOLD_RELEASED, released);
}

int ovs_hsql_reap_now(ovs_strategy *s, ovs_holds_sql *h)
{
    return reap(s, &h->c);
}
