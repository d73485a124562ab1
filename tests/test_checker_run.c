/* test_checker_run.c - the invariants over a run: ovs_check_run on hand-built shops.
 *
 * No servers: each test makes a shop database in a temporary directory with the real
 * schema (ovs_shop_create), writes the rows a run would leave with plain SQL, hand-builds
 * the scenario and the traces, and asks the checker. Each case is one a broken checker
 * would get wrong: an oversale that lost orders or a lost decrement would hide, touching
 * stays, a fenced overlap where both writes landed, empty or same-client sections taken
 * for an overlap, a refused request taken for a lost one, a Redis gap on the 70th
 * SKU, a gap in the direction no unknown outcome explains, a check that could not run.
 *
 * Usage: test_checker_run [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
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

#define MS 1000000LL

typedef struct fx {
    char dir[64];
    char path[128];
    ovs_shop *db;
    ovs_scenario sc;
    ovs_trace tr[2]; /* two client threads' buffers */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ovs_checker_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/shop.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char side[160];

    ovs_shop_close(f->db);
    ovs_trace_free(&f->tr[0]);
    ovs_trace_free(&f->tr[1]);
    unlink(f->path);
    snprintf(side, sizeof(side), "%s-wal", f->path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", f->path);
    unlink(side);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A fresh shop for the workload (skus of stock units each for inventory), open. */
static void shop(fx *f, enum ovs_workload w, int skus, int stock)
{
    char err[256] = "";

    memset(&f->sc, 0, sizeof(f->sc));
    snprintf(f->sc.name, sizeof(f->sc.name), "hand-built");
    f->sc.workload = w;
    f->sc.skus = skus;
    f->sc.stock = stock;
    ovs_shop_close(f->db);
    f->db = NULL;
    ovs_shop_loc loc;
    ovs_shop_loc_file(&loc, f->path);
    if (ovs_shop_create(&loc, &f->sc, err, sizeof(err)) != 0 ||
        ovs_shop_open(&loc, &f->db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
}

static void sql(fx *f, const char *text)
{
    ovs_shopdb *db = ovs_shop_db(f->db);

    if (db->m->xExec(db, text) != OVS_OK)
        fail_msg("%s: %s", text, db->errstr);
}

/* n orders of sku by buyers first.. first+n-1, and the stock the shop then shows. */
static void orders(fx *f, int sku, int first, int n, int stock)
{
    char text[160];

    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof(text),
                 "INSERT INTO orders(sku, buyer, created_ns) VALUES (%d, %d, %d)", sku,
                 first + i, i);
        sql(f, text);
    }
    snprintf(text, sizeof(text), "UPDATE skus SET stock = %d WHERE id = %d", stock, sku);
    sql(f, text);
}

static void booking(fx *f, int hotel, int room, const char *in, const char *out, int guest,
                    const char *status)
{
    char text[256];

    snprintf(text, sizeof(text),
             "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
             " VALUES (%d, %d, '%s', '%s', %d, '%s')",
             hotel, room, in, out, guest, status);
    sql(f, text);
}

/* A critical section of client on key, [start, end) in ms, in the client's trace. */
static void hold(fx *f, int client, const char *key, int64_t start_ms, int64_t end_ms)
{
    ovs_trace_add(&f->tr[client % 2], client, OVS_OP_CRITICAL, key, start_ms * MS,
                  end_ms * MS, OVS_OUT_OK, NULL);
}

static void request(fx *f, int client, enum ovs_outcome outcome)
{
    ovs_trace_add(&f->tr[client % 2], client, OVS_OP_REQUEST, "sku:1", client * MS,
                  client * MS + MS / 2, outcome, NULL);
}

typedef struct result {
    int n;
    ovs_check ck[OVS_MAX_CHECKS];
    char figure[256];
} result;

static void check(fx *f, const ovs_check_input *in, result *r)
{
    /* A NULL buffer among the traces: a thread that recorded nothing. */
    ovs_trace *const traces[3] = { &f->tr[0], NULL, &f->tr[1] };
    char err[256] = "";

    r->n = ovs_check_run(f->db, &f->sc, traces, 3, 0, in, r->ck, r->figure,
                         sizeof(r->figure), err, sizeof(err));
    if (r->n < 0)
        fail_msg("ovs_check_run: %s", err);
}

static const ovs_check *find(const result *r, const char *invariant)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->ck[i].invariant, invariant) == 0)
            return &r->ck[i];
    fail_msg("no %s check among %d", invariant, r->n);
    return NULL;
}

static int has(const result *r, const char *invariant)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->ck[i].invariant, invariant) == 0)
            return 1;
    return 0;
}

#define assert_contains(hay, needle)                                                   \
    do {                                                                               \
        if (strstr((hay), (needle)) == NULL)                                           \
            fail_msg("missing: %s\n--- in: %s", (needle), (hay));                      \
    } while (0)

/* ---- oversold ---------------------------------------------------------------------- */

static void sold_out_is_not_oversold(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_INVENTORY, 1, 2);
    orders(f, 1, 0, 2, 0);
    check(f, NULL, &r);
    /* The checks an inventory run gets without Redis stock, in their order. */
    assert_int_equal(r.n, 4);
    assert_string_equal(r.ck[0].invariant, "oversold");
    assert_string_equal(r.ck[1].invariant, "mutex_overlaps");
    assert_string_equal(r.ck[2].invariant, "lost_orders");
    assert_string_equal(r.ck[3].invariant, "duplicate_orders");
    assert_true(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 0);
    assert_string_equal(r.ck[0].detail, "2 orders for 2 units; lowest stock 0");
    assert_string_equal(r.figure, "0 oversold, 2 sold");
}

static void orders_beyond_stock(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_INVENTORY, 1, 2);
    orders(f, 1, 0, 3, -1);
    check(f, NULL, &r);
    assert_false(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 1);
    assert_contains(r.ck[0].detail, "oversold 1: 3 orders for 2 units; worst sku 1, lowest"
                                    " stock -1");
    assert_string_equal(r.figure, "oversold 1 (3 sold of 2)");
}

/* A sale whose order row was lost still took a unit: negative stock shows it though the
 * orders do not exceed the stock. And a sale whose decrement was lost still made an
 * order: the orders show it though the stock is not negative. Either alone misses one. */
static void lost_rows_cannot_hide_an_oversale(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_INVENTORY, 1, 2);
    orders(f, 1, 0, 2, -1);
    check(f, NULL, &r);
    assert_false(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 1);

    shop(f, OVS_INVENTORY, 1, 2);
    orders(f, 1, 0, 3, 0);
    check(f, NULL, &r);
    assert_false(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 1);

    /* Both at once on one SKU count the larger, not the sum: one unit too many, seen
     * twice, is one oversale. */
    shop(f, OVS_INVENTORY, 1, 2);
    orders(f, 1, 0, 3, -1);
    check(f, NULL, &r);
    assert_int_equal(r.ck[0].observed, 1);
}

/* Oversold per SKU: three sales of SKU 1's two units are not made good by SKU 2's unsold
 * unit, though the totals (4 orders, 4 units) match. */
static void oversold_per_sku(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_INVENTORY, 2, 2);
    orders(f, 1, 0, 3, -1);
    orders(f, 2, 3, 1, 1);
    check(f, NULL, &r);
    assert_false(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 1);
    assert_contains(r.ck[0].detail, "4 orders for 4 units; worst sku 1");
}

/* ---- double_booked ----------------------------------------------------------------- */

static void touching_stays_are_not_double_booked(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_BOOKING, 0, 0);
    /* One guest leaves the morning the next arrives; the same nights in another room,
     * another hotel, or a booking that is not confirmed share nothing. */
    booking(f, 1, 101, "2026-01-20", "2026-01-22", 0, "confirmed");
    booking(f, 1, 101, "2026-01-22", "2026-01-24", 1, "confirmed");
    booking(f, 1, 102, "2026-01-20", "2026-01-22", 2, "confirmed");
    booking(f, 2, 101, "2026-01-20", "2026-01-22", 3, "confirmed");
    booking(f, 1, 101, "2026-01-21", "2026-01-23", 4, "expired");
    check(f, NULL, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ck[0].invariant, "double_booked");
    assert_true(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 0);
    assert_string_equal(r.ck[0].detail, "0 overlapping pairs among 4 confirmed bookings");
    assert_string_equal(r.figure, "0 double-booked, 4 booked");
    assert_false(has(&r, "oversold"));
}

static void overlapping_stays_are_double_booked(void **state)
{
    fx *f = *state;
    result r;

    shop(f, OVS_BOOKING, 0, 0);
    booking(f, 1, 101, "2026-01-20", "2026-01-22", 0, "confirmed");
    booking(f, 1, 101, "2026-01-22", "2026-01-24", 1, "confirmed");
    /* Shares a night with each of the two. */
    booking(f, 1, 101, "2026-01-21", "2026-01-23", 2, "confirmed");
    check(f, NULL, &r);
    assert_false(r.ck[0].pass);
    assert_int_equal(r.ck[0].observed, 2);
    assert_string_equal(r.figure, "double-booked 2 pairs (3 booked)");

    /* One stay inside another. */
    shop(f, OVS_BOOKING, 0, 0);
    booking(f, 1, 101, "2026-01-20", "2026-01-27", 0, "confirmed");
    booking(f, 1, 101, "2026-01-23", "2026-01-24", 1, "confirmed");
    check(f, NULL, &r);
    assert_int_equal(r.ck[0].observed, 1);
    assert_string_equal(r.figure, "double-booked 1 pair (2 booked)");
}

/* ---- mutex_overlaps ---------------------------------------------------------------- */

/* Client 0 holds sku:1 for [0, 100) ms; client 1 gets in at 50 and holds to 150. */
static void two_holders(fx *f)
{
    hold(f, 0, "sku:1", 0, 100);
    hold(f, 1, "sku:1", 50, 150);
}

static void fenced_overlap_with_one_write_is_tolerated(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .fenced = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 1, 4); /* only client 0's write reached SQL */
    two_holders(f);
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_true(c->pass);
    assert_int_equal(c->observed, 1);
    assert_contains(c->detail, "clients 0 and 1 both held sku:1 between t=50.0 ms and"
                               " t=100.0 ms");
    assert_contains(c->detail, "; tolerated: in every overlapping pair at most one holder's"
                               " write reached SQL");
    assert_string_equal(r.figure, "0 oversold, 1 sold");
}

static void fenced_overlap_with_both_writes_fails(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .fenced = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 2, 3); /* buyers 0 and 1 */
    two_holders(f);
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_contains(c->detail, "; not tolerated: 1 pair(s) with both writes in SQL (clients 0"
                               " and 1)");
    assert_string_equal(r.figure, "0 oversold, 2 sold; 1 overlapping hold (up to 2 holders),"
                                  " first on sku:1 between t=50.0 ms and t=100.0 ms");
}

static void unfenced_overlap_always_fails(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .fenced = 0 };
    result r;
    const ovs_check *c;

    for (int writes = 0; writes <= 2; writes++) {
        shop(f, OVS_INVENTORY, 1, 5);
        orders(f, 1, 0, writes, 5 - writes);
        ovs_trace_free(&f->tr[0]);
        ovs_trace_free(&f->tr[1]);
        memset(f->tr, 0, sizeof(f->tr));
        two_holders(f);
        check(f, &in, &r);
        c = find(&r, "mutex_overlaps");
        if (c->pass || c->observed != 1)
            fail_msg("%d write(s): %s", writes, c->detail);
        if (strstr(c->detail, "tolerated") != NULL)
            fail_msg("%d write(s), unfenced: %s", writes, c->detail);
    }
}

/* Three holders, fenced: 0 overlaps 1 and 2, which do not overlap each other. With the
 * writes of 1 and 2 only, no overlapping pair has two writes: tolerated, though the key
 * had two writers while three held it. With 0's and 2's, the pair 0-2 has both. */
static void fenced_tolerance_is_per_pair(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .fenced = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 1, 2, 3); /* buyers 1 and 2 */
    hold(f, 0, "sku:1", 0, 100);
    hold(f, 1, "sku:1", 10, 20);
    hold(f, 2, "sku:1", 50, 150);
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_int_equal(c->observed, 2);
    assert_true(c->pass);
    assert_contains(c->detail, "tolerated");

    sql(f, "DELETE FROM orders WHERE buyer = 1");
    sql(f, "INSERT INTO orders(sku, buyer, created_ns) VALUES (1, 0, 9)");
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_false(c->pass);
    assert_contains(c->detail, "not tolerated: 1 pair(s) with both writes in SQL (clients 0"
                               " and 2)");
}

/* For bookings the write is a confirmed booking of the guest: one that is not confirmed
 * was not applied. */
static void fenced_booking_counts_confirmed_writes(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .fenced = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_BOOKING, 0, 0);
    booking(f, 1, 101, "2026-01-20", "2026-01-22", 0, "confirmed");
    booking(f, 1, 102, "2026-01-20", "2026-01-22", 1, "expired");
    hold(f, 0, "booking:1:2026-01-20", 0, 100);
    hold(f, 1, "booking:1:2026-01-20", 50, 150);
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_true(c->pass);
    assert_contains(c->detail, "tolerated");

    sql(f, "UPDATE bookings SET status = 'confirmed'");
    check(f, &in, &r);
    c = find(&r, "mutex_overlaps");
    assert_false(c->pass);
    assert_contains(c->detail, "not tolerated");
}

/* Empty sections hold nothing, a client's own sections are not a second holder, touching
 * ones and ones on other keys do not overlap: no overlap at all, fenced or not, and
 * nothing for the fencing to tolerate. */
static void no_overlap_without_two_holders(void **state)
{
    fx *f = *state;
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 2, 5);
    hold(f, 0, "sku:1", 0, 100);
    hold(f, 1, "sku:1", 50, 50);   /* empty, inside 0's */
    hold(f, 2, "sku:1", 60, 40);   /* recorded end before start: empty */
    hold(f, 0, "sku:1", 80, 120);  /* 0 again */
    hold(f, 3, "sku:1", 120, 130); /* touches 0's */
    hold(f, 4, "sku:2", 10, 90);   /* another key */
    for (int fenced = 0; fenced <= 1; fenced++) {
        ovs_check_input in = { .fenced = fenced };
        check(f, &in, &r);
        c = find(&r, "mutex_overlaps");
        assert_true(c->pass);
        assert_int_equal(c->observed, 0);
        assert_string_equal(c->detail, "6 critical sections, none overlapping");
    }
    assert_string_equal(r.figure, "0 oversold, 0 sold");
}

/* ---- lost_orders ------------------------------------------------------------------- */

static void acknowledged_sales_without_a_row_are_lost(void **state)
{
    fx *f = *state;
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 1, 4);        /* buyer 0's sale reached SQL */
    request(f, 0, OVS_OUT_OK);
    request(f, 1, OVS_OUT_OK);      /* told yes, no row: lost */
    request(f, 2, OVS_OUT_FAIL);    /* told no: nothing owed */
    request(f, 3, OVS_OUT_UNKNOWN); /* may or may not have happened: not counted */
    check(f, NULL, &r);
    c = find(&r, "lost_orders");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_string_equal(c->detail, "1 of 2 acknowledged sales missing from SQL");
    assert_string_equal(r.figure, "0 oversold, 1 sold; 1 acknowledged but lost");

    orders(f, 1, 1, 1, 3);
    check(f, NULL, &r);
    c = find(&r, "lost_orders");
    assert_true(c->pass);
    assert_string_equal(c->detail, "0 of 2 acknowledged sales missing from SQL");
}

static void acknowledged_booking_not_confirmed_is_lost(void **state)
{
    fx *f = *state;
    result r;
    const ovs_check *c;

    shop(f, OVS_BOOKING, 0, 0);
    booking(f, 1, 101, "2026-01-20", "2026-01-22", 0, "expired");
    request(f, 0, OVS_OUT_OK);
    check(f, NULL, &r);
    c = find(&r, "lost_orders");
    assert_int_equal(c->observed, 1);
    assert_string_equal(c->detail, "1 of 1 acknowledged bookings missing from SQL");
}

/* ---- duplicate_orders -------------------------------------------------------------- */

/* One stream entry applied through the shop's own apply path; returns whether it wrote. */
static int apply(fx *f, const char *entry, int buyer)
{
    ovs_request r;
    char err[256] = "";
    int applied = -1;

    memset(&r, 0, sizeof(r));
    r.sku = 1;
    if (ovs_shop_apply_entry(f->db, &r, buyer, entry, &applied, err, sizeof(err)) != OVS_OK)
        fail_msg("apply %s: %s", entry, err);
    return applied;
}

/* A plain apply writes a redelivered entry again, and each row of one entry beyond the
 * first is a duplicate; orders of the memory queue (no entry) are never one. */
static void redelivered_entries_applied_again_are_duplicates(void **state)
{
    fx *f = *state;
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 10);
    orders(f, 1, 100, 2, 8); /* two orders with no entry: the memory queue's */
    assert_int_equal(apply(f, "1-0", 1), 1);
    assert_int_equal(apply(f, "2-0", 2), 1);
    check(f, NULL, &r);
    c = find(&r, "duplicate_orders");
    assert_true(c->pass);
    assert_int_equal(c->observed, 0);
    assert_string_equal(c->detail, "0 order row(s) repeat one of 2 queue entries");

    assert_int_equal(apply(f, "2-0", 2), 1); /* plain: written again */
    assert_int_equal(apply(f, "3-0", 3), 1);
    assert_int_equal(apply(f, "3-0", 3), 1);
    assert_int_equal(apply(f, "3-0", 3), 1);
    check(f, NULL, &r);
    c = find(&r, "duplicate_orders");
    assert_false(c->pass);
    assert_int_equal(c->observed, 3);
    assert_string_equal(c->detail, "3 order row(s) repeat one of 3 queue entries");
    assert_non_null(strstr(r.figure, "; 3 applied twice"));
    /* Each write took a unit: SQL stock says so too. */
    int64_t stock = 0;
    assert_int_equal(ovs_shop_stock(f->db, 1, &stock), 0);
    assert_int_equal(stock, 8 - 6);
}

/* Under queue_apply = idempotent the entry is a unique key: its second apply writes no
 * order and takes no stock. */
static void idempotent_apply_writes_an_entry_once(void **state)
{
    fx *f = *state;
    char err[256] = "";
    ovs_shop_loc loc;
    result r;
    int64_t stock = 0;

    shop(f, OVS_INVENTORY, 1, 10);
    ovs_shop_close(f->db);
    f->db = NULL;
    f->sc.queue.kind = OVS_QUEUE_STREAM;
    f->sc.queue.idempotent = 1;
    ovs_shop_loc_file(&loc, f->path);
    if (ovs_shop_create(&loc, &f->sc, err, sizeof(err)) != 0 ||
        ovs_shop_open(&loc, &f->db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
    assert_int_equal(apply(f, "5-0", 1), 1);
    assert_int_equal(apply(f, "5-0", 1), 0);
    assert_int_equal(apply(f, "6-0", 2), 1);
    check(f, NULL, &r);
    assert_true(find(&r, "duplicate_orders")->pass);
    assert_int_equal(ovs_shop_stock(f->db, 1, &stock), 0);
    assert_int_equal(stock, 8);
    assert_string_equal(r.figure, "0 oversold, 2 sold");
}

/* ---- divergence -------------------------------------------------------------------- */

static void divergence_equal_stock_passes(void **state)
{
    fx *f = *state;
    const int64_t redis[2] = { 3, 5 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 2, 5);
    orders(f, 1, 0, 2, 3);
    check(f, &in, &r);
    assert_int_equal(r.n, 5);
    c = &r.ck[3];
    assert_string_equal(c->invariant, "divergence");
    assert_true(c->pass);
    assert_false(c->skipped);
    assert_int_equal(c->observed, 0);
    assert_string_equal(c->detail, "Redis and SQL stock differ by 0 unit(s) over 2 SKU(s)"
                                   " (sku 1: Redis 3, SQL 3)");
    assert_string_equal(r.figure, "0 oversold, 2 sold");
}

/* Redis below SQL: requests of unknown outcome may have decremented Redis and never
 * reached SQL. Within their count the gap is theirs; beyond it, it is the strategy's. */
static void divergence_within_unknown_outcomes(void **state)
{
    fx *f = *state;
    const int64_t redis[2] = { 2, 5 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .unknown = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 2, 5);
    orders(f, 1, 0, 2, 3);
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_true(c->pass);
    assert_int_equal(c->observed, 1);
    assert_contains(c->detail, "differ by 1 unit(s) over 2 SKU(s) (sku 1: Redis 2, SQL 3);"
                               " within the 1 request(s) of unknown outcome");

    in.unknown = 0;
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_null(strstr(c->detail, "within"));
    assert_string_equal(r.figure, "0 oversold, 2 sold; Redis and SQL stock differ by 1");
}

static void divergence_beyond_unknown_outcomes(void **state)
{
    fx *f = *state;
    const int64_t redis[2] = { 1, 4 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .unknown = 1 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 2, 5);
    orders(f, 1, 0, 2, 3);
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_false(c->pass);
    assert_int_equal(c->observed, 3); /* 2 on sku 1, 1 on sku 2 */
    assert_contains(c->detail, "(sku 1: Redis 1, SQL 3)");
}

/* Redis above SQL: Redis lost decrements (a restart re-warmed it from a SQL that had not
 * seen the queued orders) and will sell units SQL does not have. A request of unknown
 * outcome can only have taken a unit from Redis, never given one back, so no count of
 * them explains this gap. */
static void divergence_redis_above_sql_is_never_excused(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 4 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .unknown = 5 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 2, 3);
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_null(strstr(c->detail, "within"));
    assert_contains(c->detail, "(sku 1: Redis 4, SQL 3)");
}

/* A stock key gone from Redis (a restart without persistence took it) is Redis's lost
 * state: a request of unknown outcome may have decremented a key, but none deletes one,
 * so no count of them excuses this gap - while the same gap on a key that is there is
 * within them. */
static void divergence_missing_key_is_never_excused(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 0 };
    const unsigned char absent[1] = { 1 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .absent = absent, .unknown = 2 };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 1);
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_null(strstr(c->detail, "within"));
    assert_contains(c->detail, "(sku 1: Redis 0, SQL 1); 1 stock key(s) missing in Redis");

    in.absent = NULL;
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_true(c->pass);
    assert_contains(c->detail, "within the 2 request(s) of unknown outcome");
}

/* Every SKU is compared: one gap on SKU 70 of 100 is found and named. */
static void divergence_on_every_sku(void **state)
{
    fx *f = *state;
    int64_t redis[100];
    ovs_check_input in = { .redis_stock = 1, .stock = redis };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 100, 5);
    for (int i = 0; i < 100; i++)
        redis[i] = 5;
    redis[69] = 4;
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_contains(c->detail, "over 100 SKU(s) (sku 70: Redis 4, SQL 5)");

    /* Missing keys read as 0 and say so. */
    unsigned char absent[100] = { 0 };
    redis[69] = 5;
    redis[99] = 0;
    absent[99] = 1;
    in.absent = absent;
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_int_equal(c->observed, 5);
    assert_contains(c->detail, "(sku 100: Redis 0, SQL 5); 1 stock key(s) missing in Redis,"
                               " counted as 0");
}

static void divergence_unread_is_skipped(void **state)
{
    fx *f = *state;
    ovs_check_input in = { .redis_stock = 1, .stock = NULL, .unread = "why" };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    check(f, &in, &r);
    c = find(&r, "divergence");
    assert_true(c->skipped);
    assert_false(c->pass);
    assert_int_equal(strncmp(c->detail, "skipped", 7), 0);
    assert_contains(c->detail, "why");
    assert_string_equal(r.figure, "0 oversold, 0 sold; divergence not checked");
}

/* Only strategies that keep stock in Redis owe the check, and only for inventory. */
static void divergence_only_when_owed(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 0 };
    ovs_check_input in = { .redis_stock = 0, .stock = redis };
    result r;

    shop(f, OVS_INVENTORY, 1, 5);
    check(f, &in, &r);
    assert_false(has(&r, "divergence"));

    in.redis_stock = 1;
    shop(f, OVS_BOOKING, 0, 0);
    check(f, &in, &r);
    assert_false(has(&r, "divergence"));
}

/* ---- leaked_stock and sold_after_expiry ------------------------------------------ */

/* Every unit accounted for: on sale in Redis, sold in SQL, or in a hold still live. */
static void holds_every_unit_accounted_for(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 2 };
    ovs_hold_facts h = { .records = 4, .open_live = 1, .confirmed = 2 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .holds = 1, .hold = &h };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 2, 3);
    check(f, &in, &r);
    c = find(&r, "leaked_stock");
    assert_true(c->pass);
    assert_int_equal(c->observed, 0);
    assert_string_equal(c->detail, "5 unit(s): 2 on sale, 2 sold, 1 held; 0 leaked");
    c = find(&r, "sold_after_expiry");
    assert_true(c->pass);
    assert_string_equal(c->detail, "2 confirm(s) among 4 hold(s), none after its hold expired");
    /* A hold still live when read is below SQL in Redis: divergence is judged for runs
     * whose holds are settled, which the strategy sees to before it closes. */
    assert_null(strstr(r.figure, "leaked"));
    assert_null(strstr(r.figure, "expired"));
}

/* A unit taken off sale and never sold nor given back is leaked: a lost sale, said apart
 * from oversold. A hold left open past its expiry is no excuse: nobody gave it back. */
static void holds_leaked_unit_fails(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 1 };
    ovs_hold_facts h = { .records = 4, .open_expired = 1, .confirmed = 2 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .holds = 1, .hold = &h };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 5);
    orders(f, 1, 0, 2, 3);
    /* SQL says 3 left, Redis 1: the divergence check sees it too, from its side. */
    check(f, &in, &r);
    c = find(&r, "leaked_stock");
    assert_false(c->pass);
    assert_false(c->skipped);
    assert_int_equal(c->observed, 2);
    assert_string_equal(c->detail, "5 unit(s): 1 on sale, 2 sold, 0 held; 2 leaked; 1 hold(s)"
                                   " open past expiry, never given back");
    assert_contains(r.figure, "; 2 unit(s) leaked (lost sales, not oversold)");
    assert_true(find(&r, "oversold")->pass);

    /* Within the requests of unknown outcome: a confirm whose answer was lost may have
     * sold in Redis with no order handed to SQL. */
    in.unknown = 2;
    check(f, &in, &r);
    c = find(&r, "leaked_stock");
    assert_true(c->pass);
    assert_contains(c->detail, "within the 2 request(s) of unknown outcome");
}

/* More units accounted for than exist is an oversell, not a leak. */
static void holds_oversold_is_not_leaked(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 0 };
    ovs_hold_facts h = { .records = 2, .confirmed = 2, .late = 1, .worst_late_buyer = 0,
                         .worst_late_ms = 120 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .holds = 1, .hold = &h };
    result r;
    const ovs_check *c;

    shop(f, OVS_INVENTORY, 1, 1);
    orders(f, 1, 0, 2, -1);
    check(f, &in, &r);
    c = find(&r, "leaked_stock");
    assert_true(c->pass);
    assert_contains(c->detail, "0 leaked; 1 more than exist (oversold)");
    c = find(&r, "sold_after_expiry");
    assert_false(c->pass);
    assert_int_equal(c->observed, 1);
    assert_string_equal(c->detail, "1 of 2 confirm(s) after the hold expired; worst: buyer 0,"
                                   " 120 ms after its expiry");
    assert_contains(r.figure, "oversold 1 (2 sold of 1)");
    assert_contains(r.figure, "; 1 sold after the hold expired");
}

/* Holds that could not be read prove nothing: both checks skipped, no verdict. */
static void holds_unread_are_skipped(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 5 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis, .holds = 1,
                           .hold_unread = "127.0.0.1:1: Connection refused" };
    result r;

    shop(f, OVS_INVENTORY, 1, 5);
    check(f, &in, &r);
    assert_true(find(&r, "leaked_stock")->skipped);
    assert_false(find(&r, "leaked_stock")->pass);
    const ovs_check *c = find(&r, "sold_after_expiry");
    assert_true(c->skipped);
    assert_contains(c->detail, "Connection refused");
}

/* Only a strategy with holds owes them; bookings have no stock count to leak from. */
static void holds_only_when_owed(void **state)
{
    fx *f = *state;
    const int64_t redis[1] = { 5 };
    ovs_hold_facts h = { .records = 1, .confirmed = 1 };
    ovs_check_input in = { .redis_stock = 1, .stock = redis };
    result r;

    shop(f, OVS_INVENTORY, 1, 5);
    check(f, &in, &r);
    assert_false(has(&r, "leaked_stock"));
    assert_false(has(&r, "sold_after_expiry"));

    shop(f, OVS_BOOKING, 0, 0);
    in = (ovs_check_input){ .holds = 1, .hold = &h };
    check(f, &in, &r);
    assert_false(has(&r, "leaked_stock"));
    assert_true(has(&r, "sold_after_expiry"));
}

/* ---- failure ----------------------------------------------------------------------- */

static void sql_failure_is_an_error(void **state)
{
    fx *f = *state;
    ovs_trace *const traces[1] = { &f->tr[0] };
    ovs_check ck[OVS_MAX_CHECKS];
    char figure[128], err[256] = "";

    shop(f, OVS_INVENTORY, 1, 5);
    sql(f, "DROP TABLE orders");
    assert_int_equal(ovs_check_run(f->db, &f->sc, traces, 1, 0, NULL, ck, figure,
                                   sizeof(figure), err, sizeof(err)),
                     -1);
    assert_contains(err, "no such table: orders");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        T(sold_out_is_not_oversold),
        T(orders_beyond_stock),
        T(lost_rows_cannot_hide_an_oversale),
        T(oversold_per_sku),
        T(touching_stays_are_not_double_booked),
        T(overlapping_stays_are_double_booked),
        T(fenced_overlap_with_one_write_is_tolerated),
        T(fenced_overlap_with_both_writes_fails),
        T(unfenced_overlap_always_fails),
        T(fenced_tolerance_is_per_pair),
        T(fenced_booking_counts_confirmed_writes),
        T(no_overlap_without_two_holders),
        T(acknowledged_sales_without_a_row_are_lost),
        T(redelivered_entries_applied_again_are_duplicates),
        T(idempotent_apply_writes_an_entry_once),
        T(acknowledged_booking_not_confirmed_is_lost),
        T(divergence_equal_stock_passes),
        T(divergence_within_unknown_outcomes),
        T(divergence_beyond_unknown_outcomes),
        T(divergence_redis_above_sql_is_never_excused),
        T(divergence_missing_key_is_never_excused),
        T(divergence_on_every_sku),
        T(divergence_unread_is_skipped),
        T(divergence_only_when_owed),
        T(holds_every_unit_accounted_for),
        T(holds_leaked_unit_fails),
        T(holds_oversold_is_not_leaked),
        T(holds_unread_are_skipped),
        T(holds_only_when_owed),
        T(sql_failure_is_an_error),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("checker_run", tests, NULL, NULL);
}
