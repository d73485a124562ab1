/* test_cache_live.c - the screens in front of the shop against a real redis-server and a
 * real SQLite shop: cache-aside's cache (filled on a miss with its TTL, deleted on a sale
 * or left), and its sale guarded in SQL whatever the cache says; soft-lock's best-effort
 * lock around the availability read (SQL's answer, busy or not, Redis or not) and its
 * hard lock around the booking.
 *
 * Each assertion names, in a comment, a plausible broken implementation it catches. The
 * contract suite (test_contract.c) holds the strategies to no oversell under load, and
 * test_runner_answers.c holds the runner to judging answers from SQL; this file holds
 * each strategy to what its screen does. Without redis-server the tests skip, except
 * under CI=true, where they fail (live.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "locks_fixture.h"

/* A shop of f->sc with the test's own connection, which instances opened from now on use
 * as env.shop, and its cache keys gone from node 0. */
static void cache_shop(fixture *f, const char *key)
{
    char err[256];
    redisReply *r = node_cmd(f, 0, "DEL %s", key);

    freeReplyObject(r);
    create_shop(f);
    if (ovs_shop_open(&f->shop, &f->shop_db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
}

static int64_t available(ovs_strategy *s, const ovs_request *r)
{
    int64_t v = -99;

    if (s->m->xAvailable(s, r, &v) != OVS_OK)
        fail_msg("%s: xAvailable: %s", s->m->name, s->errstr);
    return v;
}

/* SQL's stock, changed behind the strategy's back. */
static void set_stock(fixture *f, int64_t stock)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "UPDATE skus SET stock = %lld WHERE id = 1", (long long)stock);
    ovs_shopdb *db = ovs_shop_db(f->shop_db);
    if (db->m->xExec(db, sql) != OVS_OK)
        fail_msg("%s: %s", sql, db->errstr);
}

/* --- cache-aside ------------------------------------------------------------------------ */

static const ovs_strategy_methods *const cache = &ovs_strategy_cache_aside;

/* A miss reads SQL and fills the cache with its TTL; later looks read the cache, not SQL. */
static void test_cache_fills_on_miss_then_reads_cache(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };
    redisReply *r;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    cache_shop(f, "cache:stock:1");
    ovs_strategy *s = open_inst(f, cache, "cache_ttl=5s", 0);
    assert_int_equal(cache->xNodes(&f->param[0]), 1);

    /* An answer made up rather than read from SQL would not be 3. */
    assert_int_equal(available(s, &req), 3);
    assert_int_equal(node_int(f, 0, "cache:stock:1"), 3);
    /* A fill without PX would keep the old count forever (TTL -1). */
    r = node_cmd(f, 0, "PTTL cache:stock:1");
    assert_true(r->integer > 4000 && r->integer <= 5000);
    freeReplyObject(r);
    /* SQL changes behind the cache: a strategy reading SQL each time would say 1. */
    set_stock(f, 1);
    assert_int_equal(available(s, &req), 3);
}

/* invalidate = 1: a committed sale deletes the key, so the next look reads SQL again. */
static void test_cache_invalidated_on_sale(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    cache_shop(f, "cache:stock:1");
    ovs_strategy *s = open_inst(f, cache, "invalidate=1", 0);
    assert_int_equal(available(s, &req), 3);
    assert_int_equal(cache->xExecute(s, &req, 1, 0), OVS_OK);
    /* A DEL forgotten, or sent before the sale, would leave the key (or refill it). */
    assert_int_equal(node_exists(f, 0, "cache:stock:1"), 0);
    assert_int_equal(available(s, &req), 2);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 2);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders WHERE buyer = 1"), 1);
}

/* invalidate = 0: the sale leaves the cache alone, and the screen keeps the old count. */
static void test_cache_left_stale_without_invalidation(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    cache_shop(f, "cache:stock:1");
    ovs_strategy *s = open_inst(f, cache, "invalidate=0,cache_ttl=10s", 0);
    assert_int_equal(available(s, &req), 3);
    assert_int_equal(cache->xExecute(s, &req, 1, 0), OVS_OK);
    /* Deleting or updating the key anyway would make the parameter mean nothing. */
    assert_int_equal(node_int(f, 0, "cache:stock:1"), 3);
    assert_int_equal(available(s, &req), 3);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 2);
}

/* The sale is SQL's guarded decrement: a cache claiming plenty sells no more than SQL
 * holds. A strategy that trusted the cache (or decremented unguarded) would oversell. */
static void test_cache_never_decides_a_sale(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };
    redisReply *r;
    int sold = 0, refused = 0;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 1;
    cache_shop(f, "cache:stock:1");
    ovs_strategy *s = open_inst(f, cache, "invalidate=0", 0);
    r = node_cmd(f, 0, "SET cache:stock:1 50 PX 10000");
    freeReplyObject(r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(available(s, &req), 50);
        int rc = cache->xExecute(s, &req, 10 + i, 0);
        sold += rc == OVS_OK;
        refused += rc == OVS_REFUSED;
    }
    assert_int_equal(sold, 1);
    assert_int_equal(refused, 2);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 0);
}

/* The cached answer ends with its TTL: the next look fills it from SQL again. */
static void test_cache_expires(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    cache_shop(f, "cache:stock:1");
    ovs_strategy *s = open_inst(f, cache, "invalidate=0,cache_ttl=100ms", 0);
    assert_int_equal(available(s, &req), 3);
    set_stock(f, 1);
    /* Bounded wait: expired keys are gone on access once their PX has passed. */
    int64_t t0 = ovs_now_ns();
    int64_t v = 3;
    while (v == 3 && ms_since(t0) < 3000) {
        ovs_sleep_ns(50 * OVS_NS_PER_MS);
        v = available(s, &req);
    }
    assert_int_equal(v, 1);
    assert_true(ms_since(t0) >= 50);
}

/* Bookings: the stay's key holds 1 (free) or 0 (taken), and the booking is the guarded
 * insert: a second guest shown "free" by a stale cache is still refused by SQL. */
static void test_cache_booking(void **state)
{
    fixture *f = *state;
    ovs_request stay = { .hotel = 1, .room = 101 };

    OVS_REQUIRE_REDIS();
    f->sc.workload = OVS_BOOKING;
    assert_int_equal(ovs_parse_date("2026-02-01", &stay.check_in), 0);
    assert_int_equal(ovs_parse_date("2026-02-03", &stay.check_out), 0);
    char key[64];
    snprintf(key, sizeof(key), "cache:stay:1:101:%d:%d", stay.check_in, stay.check_out);
    cache_shop(f, key);
    ovs_strategy *s = open_inst(f, cache, "invalidate=0", 0);
    assert_int_equal(available(s, &stay), 1);
    assert_int_equal(cache->xExecute(s, &stay, 1, 0), OVS_OK);
    /* Stale, by design with invalidate = 0, and the guard holds anyway. */
    assert_int_equal(available(s, &stay), 1);
    assert_int_equal(cache->xExecute(s, &stay, 2, 0), OVS_REFUSED);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM bookings WHERE status = 'confirmed'"),
                     1);
    /* invalidate = 1 on another instance: the sale's DEL makes the next look true. */
    redisReply *r = node_cmd(f, 0, "DEL %s", key);
    freeReplyObject(r);
    ovs_strategy *t = open_inst(f, cache, "invalidate=1", 1);
    assert_int_equal(available(t, &stay), 0);
}

/* A cache that cannot be read gives no answer at all, never a made-up one. */
static void test_cache_down_is_an_error(void **state)
{
    fixture *f = *state;
    ovs_request req = { .sku = 1 };
    int64_t v = -99;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    cache_shop(f, "cache:stock:1");
    proxy_nodes(f, 0, 1);
    ovs_strategy *s = open_inst(f, cache, "", 0);
    ovs_proxy_stop(f->proxy[0]);
    f->proxy[0] = NULL;
    assert_int_equal(cache->xAvailable(s, &req, &v), OVS_ERR);
    assert_int_equal(v, -99);
    assert_true(s->errstr[0] != '\0');
}

/* --- soft-lock -------------------------------------------------------------------------- */

static const ovs_strategy_methods *const soft = &ovs_strategy_soft_lock;

/* Room 101 of hotel 1 for 2026-03-10..12, in a booking shop of its own. */
static ovs_request soft_shop(fixture *f)
{
    ovs_request stay = { .hotel = 1, .room = 101 };

    f->sc.workload = OVS_BOOKING;
    assert_int_equal(ovs_parse_date("2026-03-10", &stay.check_in), 0);
    assert_int_equal(ovs_parse_date("2026-03-12", &stay.check_out), 0);
    cache_shop(f, "lock:avail:hotel:1:room:101");
    return stay;
}

static void book_in_sql(fixture *f, const ovs_request *stay, int64_t guest)
{
    char err[256];
    if (ovs_shop_act(f->shop_db, OVS_BOOKING, stay, guest, NULL, err, sizeof(err)) != OVS_OK)
        fail_msg("act: %s", err);
}

/* The answer is SQL's, and the soft lock is gone once the check is done. */
static void test_soft_answers_from_sql_and_releases(void **state)
{
    fixture *f = *state;

    OVS_REQUIRE_REDIS();
    ovs_request stay = soft_shop(f);
    ovs_strategy *s = open_inst(f, soft, "", 0);
    assert_int_equal(soft->xNodes(&f->param[0]), 1);
    assert_int_equal(available(s, &stay), 1);
    /* A check that kept its soft lock would turn every later check into a busy one. */
    assert_int_equal(node_exists(f, 0, "lock:avail:hotel:1:room:101"), 0);
    /* A screen that cached its first answer would still say free. */
    book_in_sql(f, &stay, 7);
    assert_int_equal(available(s, &stay), 0);
    /* Another stay of the same room that does not overlap is free. */
    ovs_request later = stay;
    later.check_in = stay.check_out;
    later.check_out = stay.check_out + 2;
    assert_int_equal(available(s, &later), 1);
}

/* Someone else's soft lock: the check reads SQL anyway, at once, and leaves the other's
 * lock alone. A check that waited would take the retries' time; one that answered
 * "taken" (or a made-up count) when busy would be wrong; one that deleted the lock would
 * release what is not its own. */
static void test_soft_busy_reads_anyway(void **state)
{
    fixture *f = *state;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    ovs_request stay = soft_shop(f);
    ovs_strategy *s = open_inst(f, soft, "retry_count=5,retry_delay=500ms", 0);
    r = node_cmd(f, 0, "SET lock:avail:hotel:1:room:101 someone-else PX 10000");
    freeReplyObject(r);
    int64_t t0 = ovs_now_ns();
    assert_int_equal(available(s, &stay), 1);
    assert_true(ms_since(t0) < 400);
    book_in_sql(f, &stay, 7);
    assert_int_equal(available(s, &stay), 0);
    r = node_cmd(f, 0, "GET lock:avail:hotel:1:room:101");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "someone-else");
    freeReplyObject(r);
}

/* The booking's hard lock is setnx's: a second holder is kept out until the first
 * releases, and the soft lock of a check is a different key, so a check never waits on a
 * booking in progress nor blocks one. */
static void test_soft_hard_lock_excludes(void **state)
{
    fixture *f = *state;
    const char *key = "hotel:1:night:2026-03-10";

    OVS_REQUIRE_REDIS();
    ovs_request stay = soft_shop(f);
    redisReply *r = node_cmd(f, 0, "DEL lock:%s", key);
    freeReplyObject(r);
    ovs_strategy *a = open_inst(f, soft, "ttl=5s", 0);
    ovs_strategy *b = open_inst(f, soft, "ttl=5s,retry_count=0", 1);
    assert_int_equal(soft->xLock(a, key), OVS_OK);
    assert_int_equal(soft->xLock(b, key), OVS_BUSY);
    assert_int_equal(available(b, &stay), 1);
    assert_int_equal(soft->xUnlock(a, key), OVS_OK);
    assert_int_equal(soft->xLock(b, key), OVS_OK);
    /* a's lock is gone: releasing it again is not its own. */
    assert_int_equal(soft->xUnlock(a, key), OVS_BUSY);
    assert_int_equal(soft->xUnlock(b, key), OVS_OK);
}

/* Redis unreachable: the soft lock is best effort, so the check still answers from SQL
 * (unlike cache-aside, whose answer lives in Redis). */
static void test_soft_without_redis_still_answers(void **state)
{
    fixture *f = *state;

    OVS_REQUIRE_REDIS();
    ovs_request stay = soft_shop(f);
    proxy_nodes(f, 0, 1);
    ovs_strategy *s = open_inst(f, soft, "command_timeout=200ms", 0);
    ovs_proxy_stop(f->proxy[0]);
    f->proxy[0] = NULL;
    assert_int_equal(available(s, &stay), 1);
    book_in_sql(f, &stay, 7);
    assert_int_equal(available(s, &stay), 0);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cache_fills_on_miss_then_reads_cache),
        T(test_cache_invalidated_on_sale),
        T(test_cache_left_stale_without_invalidation),
        T(test_cache_never_decides_a_sale),
        T(test_cache_expires),
        T(test_cache_booking),
        T(test_cache_down_is_an_error),
        T(test_soft_answers_from_sql_and_releases),
        T(test_soft_busy_reads_anyway),
        T(test_soft_hard_lock_excludes),
        T(test_soft_without_redis_still_answers),
    };
#undef T

    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("cache_live", tests, group_setup, group_teardown);
}
