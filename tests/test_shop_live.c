/* test_shop_live.c - the shop's SQL (engine/shop.c) on every back end: one test body per
 * case, run over a table of back ends (shop_backends.h), named "shop/<backend>/<case>".
 *
 * The cases are the shop's contract: check and act on stock and on stays (half-open), an
 * act that joins the caller's transaction or makes its own, the fence rules of shop.h
 * (register before the read, a lower token refused, the holder's own token again
 * accepted, the act verifying), sql-pessimistic's lock keeping a second client out, the
 * error classes a strategy acts on (lock timeout, refused login), and a server shop's
 * namespace: refused when in use, gone once dropped; orders from the write-back stream,
 * written twice by a plain apply and once under the entry's unique key, and counted by
 * duplicate_orders. Each reads back with plain SQL
 * through the back end, never through the function under test.
 *
 * A first argument filters by name: 'shop/postgresql/?*'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "engine/checker.h"
#include "engine/shop.h"
#include "locks/strategy.h"
#include "scenario/scenario.h"
#include "shop_backends.h"

typedef struct shop_case {
    char name[80];
    const shop_backend *b;
    void (*body)(struct shop_case *k);
    char dir[64];           /* SQLite's files */
    ovs_shop_loc loc;       /* the shop under test */
    int created;            /* loc exists and must be dropped */
    ovs_scenario sc;
    ovs_shop *a, *b2;       /* two client connections */
    int idempotent;         /* the next make_shop's queue_apply = idempotent */
} shop_case;

static const char *url_of(shop_case *k)
{
    const char *url;
    SHOP_BACKEND_URL(k->b, url);
    return url;
}

/* A fresh shop for workload w (one SKU of stock units, or hotel 1), and two
 * connections to it. */
static void make_shop(shop_case *k, enum ovs_workload w, int stock)
{
    char err[300];
    const char *url = url_of(k);

    memset(&k->sc, 0, sizeof(k->sc));
    snprintf(k->sc.name, sizeof(k->sc.name), "shop-live");
    k->sc.workload = w;
    k->sc.skus = 1;
    k->sc.stock = stock;
    k->sc.has_crowd = 1;
    k->sc.crowd.req.hotel = 1;
    k->sc.crowd.req.sku = 1;
    k->sc.queue.idempotent = k->idempotent;
    shop_backend_loc(k->b, url, k->dir, "shop.db", &k->loc);
    if (ovs_shop_create(&k->loc, &k->sc, err, sizeof(err)) != 0)
        fail_msg("%s: create: %s", k->name, err);
    k->created = 1;
    if (ovs_shop_open(&k->loc, &k->a, err, sizeof(err)) != 0 ||
        ovs_shop_open(&k->loc, &k->b2, err, sizeof(err)) != 0)
        fail_msg("%s: open: %s", k->name, err);
}

/* One integer read with plain SQL on connection s. */
static int64_t count(ovs_shop *s, const char *sql)
{
    int64_t v = -1;
    if (ovs_shop_scalar(s, sql, &v) != 0)
        fail_msg("%s: %s", sql, ovs_shop_errmsg(s));
    return v;
}

static ovs_request stay(int in, int out)
{
    ovs_request r = { .hotel = 1, .room = 101 };
    char d[16];
    snprintf(d, sizeof(d), "2026-01-%02d", in);
    ovs_parse_date(d, &r.check_in);
    snprintf(d, sizeof(d), "2026-01-%02d", out);
    ovs_parse_date(d, &r.check_out);
    return r;
}

/* ---- the cases ---- */

static void inventory(shop_case *k)
{
    ovs_request r = { .sku = 1 };
    int64_t seen = -1, v = -1;
    char err[300];

    make_shop(k, OVS_INVENTORY, 2);
    assert_int_equal(ovs_shop_check(k->a, OVS_INVENTORY, &r, NULL, &seen, err, sizeof(err)),
                     OVS_OK);
    assert_int_equal(seen, 2);
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 7, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(ovs_shop_act(k->b2, OVS_INVENTORY, &r, 8, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(ovs_shop_check(k->b2, OVS_INVENTORY, &r, NULL, &seen, err, sizeof(err)),
                     OVS_REFUSED);
    assert_int_equal(seen, 0);
    /* The act does not check: that is the strategy's race to lose. */
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 9, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(ovs_shop_stock(k->b2, 1, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(ovs_shop_orders(k->b2, 1, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders WHERE buyer = 8 AND fence IS NULL"),
                     1);
}

/* Orders from the write-back stream: a plain apply writes an entry delivered twice twice,
 * and the checker's duplicate_orders (its SQL the same on every back end) counts it; with
 * the entry a unique key the second apply writes nothing and takes no stock. */
static void apply_twice(shop_case *k, int idempotent)
{
    ovs_request r = { .sku = 1 };
    ovs_check checks[OVS_MAX_CHECKS];
    char err[300], figure[200];
    int applied = -1, n;

    k->idempotent = idempotent;
    make_shop(k, OVS_INVENTORY, 5);
    assert_int_equal(ovs_shop_apply_entry(k->a, &r, 7, "1700000000000-0", &applied, err,
                                          sizeof(err)), OVS_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(ovs_shop_apply_entry(k->b2, &r, 7, "1700000000000-0", &applied, err,
                                          sizeof(err)), OVS_OK);
    assert_int_equal(applied, !idempotent);
    assert_int_equal(ovs_shop_apply_entry(k->a, &r, 8, "1700000000001-0", &applied, err,
                                          sizeof(err)), OVS_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders"), idempotent ? 2 : 3);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), idempotent ? 3 : 2);
    n = ovs_check_run(k->b2, &k->sc, NULL, 0, 0, NULL, checks, figure, sizeof(figure), err,
                      sizeof(err));
    if (n < 0)
        fail_msg("%s: check: %s", k->name, err);
    int found = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(checks[i].invariant, "duplicate_orders") == 0) {
            found = 1;
            assert_int_equal(checks[i].observed, idempotent ? 0 : 1);
            assert_int_equal(checks[i].pass, idempotent);
        }
    assert_true(found);
}

static void stream_entries(shop_case *k)
{
    apply_twice(k, 0);
}

static void stream_entries_idempotent(shop_case *k)
{
    apply_twice(k, 1);
}

static void booking(shop_case *k)
{
    ovs_request a = stay(20, 22), b = stay(21, 23), c = stay(22, 24), d = stay(18, 20);
    int64_t seen = -1;
    char err[300];

    make_shop(k, OVS_BOOKING, 0);
    assert_int_equal(count(k->a, "SELECT count(*) FROM hotels WHERE id = 1"), 1);
    assert_int_equal(ovs_shop_act(k->a, OVS_BOOKING, &a, 1, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(ovs_shop_check(k->b2, OVS_BOOKING, &b, NULL, &seen, err, sizeof(err)),
                     OVS_REFUSED);
    assert_int_equal(seen, 1);
    /* Half-open: leaving the morning the next guest arrives shares no night. */
    assert_int_equal(ovs_shop_check(k->b2, OVS_BOOKING, &c, NULL, &seen, err, sizeof(err)),
                     OVS_OK);
    assert_int_equal(ovs_shop_check(k->b2, OVS_BOOKING, &d, NULL, &seen, err, sizeof(err)),
                     OVS_OK);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM bookings WHERE status = 'confirmed'"
                                  " AND check_in = '2026-01-20' AND check_out = '2026-01-22'"),
                     1);
}

/* The act joins a transaction the caller holds (in a savepoint) and is undone with it;
 * without one it commits on its own. */
static void act_joins_transaction(shop_case *k)
{
    ovs_request r = { .sku = 1 };
    ovs_shopdb *db;
    char err[300];

    make_shop(k, OVS_INVENTORY, 5);
    db = ovs_shop_db(k->a);
    assert_int_equal(db->m->xBegin(db, OVS_ISO_DEFAULT), OVS_OK);
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 1, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(db->m->xInTransaction(db), 1); /* still the caller's */
    assert_int_equal(count(k->a, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(db->m->xRollback(db), OVS_OK);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), 5);

    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 2, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(db->m->xInTransaction(db), 0);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders WHERE buyer = 2"), 1);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), 4);
}

/* shop.h's fence rules, step by step, in both orders a stale holder can wake in. */
static void fences(shop_case *k)
{
    ovs_request r = { .sku = 1 };
    ovs_fence old = { 1, { "sku:1" }, { 5 } }, mine = { 1, { "sku:1" }, { 6 } };
    int64_t seen;
    char err[300];

    make_shop(k, OVS_INVENTORY, 5);
    assert_int_equal(ovs_shop_check(k->a, OVS_INVENTORY, &r, &old, &seen, err, sizeof(err)),
                     OVS_OK);
    /* The holder's own token again is no change of owner. */
    assert_int_equal(ovs_shop_check(k->a, OVS_INVENTORY, &r, &old, &seen, err, sizeof(err)),
                     OVS_OK);
    assert_int_equal(ovs_shop_check(k->b2, OVS_INVENTORY, &r, &mine, &seen, err, sizeof(err)),
                     OVS_OK);
    /* The lock moved on: the old holder's act and check are refused, and named so. */
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 1, &old, err, sizeof(err)),
                     OVS_STALE);
    assert_non_null(strstr(err, "stale token 5 < 6 on sku:1"));
    assert_int_equal(ovs_shop_check(k->a, OVS_INVENTORY, &r, &old, &seen, err, sizeof(err)),
                     OVS_STALE);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), 5);
    assert_int_equal(ovs_shop_act(k->b2, OVS_INVENTORY, &r, 2, &mine, err, sizeof(err)), OVS_OK);
    assert_int_equal(count(k->a, "SELECT fence FROM orders WHERE buyer = 2"), 6);
    assert_int_equal(count(k->a, "SELECT max(token) FROM fences"), 6);
    /* A stale holder whose check came first still loses at its act. */
    ovs_fence later = { 1, { "sku:1" }, { 9 } };
    assert_int_equal(ovs_shop_check(k->a, OVS_INVENTORY, &r, &later, &seen, err, sizeof(err)),
                     OVS_OK);
    assert_int_equal(ovs_shop_act(k->b2, OVS_INVENTORY, &r, 3, &mine, err, sizeof(err)),
                     OVS_STALE);
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 4, &later, err, sizeof(err)), OVS_OK);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders"), 2);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), 3);
}

/* sql-pessimistic keeps a second client out until the first commits, on every back end;
 * the second's wait ends in OVS_BUSY at its busy_timeout. */
static void pessimistic_excludes(shop_case *k)
{
    const ovs_strategy_methods *m = &ovs_strategy_sql_pessimistic;
    ovs_params pa, pb;
    char err[300];
    ovs_request r = { .sku = 1 };
    ovs_env ea, eb;
    ovs_strategy *a = calloc(1, m->size), *b = calloc(1, m->size);

    make_shop(k, OVS_INVENTORY, 5);
    assert_non_null(a);
    assert_non_null(b);
    ovs_params_defaults(m, &pa);
    ovs_params_defaults(m, &pb);
    assert_int_equal(ovs_params_set(m, &pb, "busy_timeout", "200ms", err, sizeof(err)), 0);
    memset(&ea, 0, sizeof(ea));
    ea.workload = OVS_INVENTORY;
    ea.param = &pa;
    ea.shop = ovs_shop_db(k->a);
    eb = ea;
    eb.param = &pb;
    eb.shop = ovs_shop_db(k->b2);
    a->m = m;
    a->env = &ea;
    b->m = m;
    b->env = &eb;
    assert_int_equal(m->xOpen(a, &ea), OVS_OK);
    assert_int_equal(m->xOpen(b, &eb), OVS_OK);

    assert_int_equal(m->xLock(a, "sku:1"), OVS_OK);
    int64_t t0 = ovs_now_ns();
    assert_int_equal(m->xLock(b, "sku:1"), OVS_BUSY);
    int64_t waited_ms = (ovs_now_ns() - t0) / OVS_NS_PER_MS;
    print_message("%s: second holder gave up after %lld ms: %s\n", k->name,
                  (long long)waited_ms, b->errstr);
    /* MariaDB counts its lock wait in whole seconds: 200 ms is 1 s there. */
    assert_true(waited_ms >= 150 && waited_ms < 4000);
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 1, NULL, err, sizeof(err)), OVS_OK);
    assert_int_equal(m->xUnlock(a, "sku:1"), OVS_OK);
    assert_int_equal(m->xLock(b, "sku:1"), OVS_OK);
    assert_int_equal(count(k->b2, "SELECT stock FROM skus WHERE id = 1"), 4);
    assert_int_equal(m->xUnlock(b, "sku:1"), OVS_OK);
    m->xClose(a);
    m->xClose(b);
    free(a);
    free(b);
}

/* What cannot be reached is the environment's fault, said as such: a refused login, a
 * port nobody listens on. */
static void connect_failures(shop_case *k)
{
    const char *url = url_of(k);
    char err[300], bad[600];
    ovs_shopdb *db = NULL;
    ovs_sqlurl u;

    if (url == NULL) {
        assert_int_equal(ovs_shops_open(&ovs_shopdb_sqlite, "/nonexistent/dir/shop.db", NULL,
                                        &db, err, sizeof(err)),
                         OVS_ERR_ENV);
        assert_null(db);
        return;
    }
    assert_int_equal(ovs_sqlurl_parse(url, &u, err, sizeof(err)), 0);
    snprintf(bad, sizeof(bad), "%s://%s:wrong-password@%s:%d/%s", u.scheme, u.user, u.host,
             u.port, u.db);
    assert_int_equal(ovs_shops_open(ovs_shops_find(k->b->name), bad, NULL, &db, err,
                                    sizeof(err)),
                     OVS_ERR_ENV);
    print_message("%s: %s\n", k->name, err);
    assert_null(strstr(err, "wrong-password")); /* never printed */
    snprintf(bad, sizeof(bad), "%s://%s@127.0.0.1:1/%s", u.scheme, u.user, u.db);
    assert_int_equal(ovs_shops_open(ovs_shops_find(k->b->name), bad, NULL, &db, err,
                                    sizeof(err)),
                     OVS_ERR_ENV);
    print_message("%s: %s\n", k->name, err);
    assert_non_null(strstr(err, "127.0.0.1:1"));
}

/* A run's namespace is its own: creating one in use is refused and touches nothing; a
 * dropped one is gone. */
static void namespace_owned(shop_case *k)
{
    char err[300];
    ovs_shop *s = NULL;

    make_shop(k, OVS_INVENTORY, 3);
    if (k->loc.ns[0] == '\0') {
        skip(); /* a file: nothing to share */
    }
    ovs_request r = { .sku = 1 };
    assert_int_equal(ovs_shop_act(k->a, OVS_INVENTORY, &r, 1, NULL, err, sizeof(err)), OVS_OK);
    assert_int_not_equal(ovs_shop_create(&k->loc, &k->sc, err, sizeof(err)), 0);
    print_message("%s: %s\n", k->name, err);
    assert_int_equal(count(k->b2, "SELECT count(*) FROM orders"), 1); /* untouched */
    ovs_shop_close(k->a);
    ovs_shop_close(k->b2);
    k->a = k->b2 = NULL;
    assert_int_equal(ovs_shop_drop(&k->loc, err, sizeof(err)), 0);
    k->created = 0;
    /* Gone: a connection to it fails, or finds no tables. */
    int rc = ovs_shop_open(&k->loc, &s, err, sizeof(err));
    ovs_shop_close(s);
    assert_int_not_equal(rc, 0);
}

/* ---- the table ---- */

static int case_setup(void **state)
{
    shop_case *k = *state;

    snprintf(k->dir, sizeof(k->dir), "/tmp/ovs-shop-live.XXXXXX");
    return mkdtemp(k->dir) ? 0 : -1;
}

static int case_teardown(void **state)
{
    shop_case *k = *state;
    char err[300], side[700];

    ovs_shop_close(k->a);
    ovs_shop_close(k->b2);
    k->a = k->b2 = NULL;
    if (k->created && ovs_shop_drop(&k->loc, err, sizeof(err)) != 0)
        print_error("%s: drop: %s\n", k->name, err);
    k->created = 0;
    if (k->loc.ns[0] == '\0' && k->loc.target[0] != '\0') {
        unlink(k->loc.target);
        snprintf(side, sizeof(side), "%s-wal", k->loc.target);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", k->loc.target);
        unlink(side);
    }
    rmdir(k->dir);
    return 0;
}

static void run_case(void **state)
{
    shop_case *k = *state;
    k->body(k);
}

static const struct {
    const char *name;
    void (*body)(shop_case *k);
} cases[] = {
    { "inventory", inventory },
    { "booking", booking },
    { "act-joins-transaction", act_joins_transaction },
    { "fences", fences },
    { "pessimistic-excludes", pessimistic_excludes },
    { "connect-failures", connect_failures },
    { "namespace-owned", namespace_owned },
    { "stream-entries", stream_entries },
    { "stream-entries-idempotent", stream_entries_idempotent },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

int main(int argc, char **argv)
{
    static shop_case all[N_SHOP_BACKENDS * N_CASES];
    static struct CMUnitTest tests[N_SHOP_BACKENDS * N_CASES];
    size_t n = 0;

    for (size_t b = 0; b < N_SHOP_BACKENDS; b++)
        for (size_t c = 0; c < N_CASES; c++, n++) {
            shop_case *k = &all[n];
            snprintf(k->name, sizeof(k->name), "shop/%s/%s", shop_backends[b].name,
                     cases[c].name);
            k->b = &shop_backends[b];
            k->body = cases[c].body;
            tests[n] = (struct CMUnitTest){ k->name, run_case, case_setup, case_teardown, k };
        }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return _cmocka_run_group_tests("shop", tests, n, NULL, NULL);
}
