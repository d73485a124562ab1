/* test_locks_live.c - the Redis strategies against real redis-server processes: setnx,
 * redlock, lua-decr, watch-multi, redis-check-then-decr, fencing and watchdog (and the
 * script reload of lua-setnx, a strategy from a definition file);
 * sql-pessimistic on a real SQLite file; the lock tokens. What the strategies do under
 * network faults made with the proxy is test_locks_faults.c; the fixture both share is
 * locks_fixture.h. The reentrant lock has its own file, test_reentrant_live.c.
 *
 * Without redis-server the tests skip, except under CI=true, where they fail (live.h).
 * Waits are bounded; timing assertions leave room for sanitizer builds on two cores. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "locks_fixture.h"
#include "locks/redis_conn.h"
#include "locks/strategy_def.h"
#include "ovs_config.h" /* OVS_SOURCE_DIR: the shipped definitions */

#define THREADS 4

/* --- the lock contract, shared by setnx and redlock ------------------------------------- */

static void check_exclusion(fixture *f, const ovs_strategy_methods *m, const char *key)
{
    ovs_strategy *a = open_inst(f, m, "", 0);
    ovs_strategy *b = open_inst(f, m, "retry_count=1,retry_delay=10ms,retry_jitter=5ms", 1);
    int64_t t0;

    assert_int_equal(m->xLock(a, key), OVS_OK);
    assert_int_equal(a->attempts, 1);

    t0 = ovs_now_ns();
    assert_int_equal(m->xLock(b, key), OVS_BUSY);
    assert_int_equal(b->attempts, 2);        /* the first SET and one retry */
    assert_true(ms_since(t0) >= 10);         /* it did wait retry_delay */
    assert_true(b->errstr[0] != '\0');
    assert_int_equal(m->xUnlock(b, key), OVS_BUSY); /* never held: not B's to release */

    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
    assert_int_equal(m->xUnlock(b, key), OVS_BUSY); /* released twice */
}

static void check_expiry(fixture *f, const ovs_strategy_methods *m, const char *key)
{
    ovs_strategy *a = open_inst(f, m, "ttl=100ms,retry_count=0", 0);
    ovs_strategy *b = open_inst(f, m, "ttl=100ms,retry_count=0", 1);

    assert_int_equal(m->xLock(a, key), OVS_OK);
    assert_int_equal(m->xLock(b, key), OVS_BUSY);
    ovs_sleep_ns(150 * OVS_NS_PER_MS); /* A stalls past its lease */
    assert_int_equal(m->xLock(b, key), OVS_OK);
    /* A's release must not delete B's lock: the compare-and-delete refuses. */
    assert_int_equal(m->xUnlock(a, key), OVS_BUSY);
    assert_non_null(strstr(a->errstr, key));
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
}

/* Several keys held at once, released in any order (the per-night booking lock). */
static void check_many_keys(fixture *f, const ovs_strategy_methods *m)
{
    ovs_strategy *a = open_inst(f, m, "retry_count=0", 0);
    ovs_strategy *b = open_inst(f, m, "retry_count=0", 1);

    assert_int_equal(m->xLock(a, "many:1"), OVS_OK);
    assert_int_equal(m->xLock(a, "many:2"), OVS_OK);
    assert_int_equal(m->xLock(a, "many:3"), OVS_OK);
    assert_int_equal(m->xLock(b, "many:2"), OVS_BUSY);
    assert_int_equal(m->xUnlock(a, "many:2"), OVS_OK);
    assert_int_equal(m->xLock(b, "many:2"), OVS_OK);
    assert_int_equal(m->xUnlock(a, "many:3"), OVS_OK);
    assert_int_equal(m->xUnlock(a, "many:1"), OVS_OK);
    assert_int_equal(m->xUnlock(b, "many:2"), OVS_OK);
}

/* --- sql-pessimistic -------------------------------------------------------------------- */

static void sql_exec(ovs_shopdb *db, const char *sql)
{
    if (db->m->xExec(db, sql) != OVS_OK)
        fail_msg("%s: %s", sql, db->errstr);
}

/* The lock is the transaction: when its COMMIT fails, nothing written under it happened,
 * and the release must say so rather than let the sale stand. A deferred foreign key is
 * checked only at COMMIT, so a row that breaks it makes that COMMIT fail every time. */
static void test_sqlp_failed_commit_is_undone(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_sql_pessimistic;
    ovs_request req = { .sku = 1 };
    ovs_strategy *s;
    char err[256];
    int64_t n = -1;

    f->sc.stock = 3;
    create_shop(f);
    if (ovs_shop_open(&f->shop, &f->shop_db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
    sql_exec(ovs_shop_db(f->shop_db), "PRAGMA foreign_keys = ON");
    sql_exec(ovs_shop_db(f->shop_db), "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
                         "CREATE TABLE children (parent INTEGER REFERENCES parents (id)"
                         " DEFERRABLE INITIALLY DEFERRED)");
    s = open_inst(f, m, "", 0);

    assert_int_equal(m->xLock(s, "sku:1"), OVS_OK);
    assert_int_equal(ovs_shop_act(f->shop_db, OVS_INVENTORY, &req, 1, NULL, err,
                                  sizeof(err)), OVS_OK);
    sql_exec(ovs_shop_db(f->shop_db), "INSERT INTO children VALUES (99)"); /* no parent 99 */
    assert_int_equal(ovs_shop_stock(f->shop_db, 1, &n), 0);
    assert_int_equal(n, 2); /* sold, as seen inside the section */

    assert_int_equal(m->xUnlock(s, "sku:1"), OVS_UNDONE);
    print_message("xUnlock: %s\n", s->errstr);
    assert_non_null(strstr(s->errstr, "COMMIT"));
    assert_non_null(strstr(s->errstr, "FOREIGN KEY"));
    assert_int_equal(ovs_shop_db(f->shop_db)->m->xInTransaction(ovs_shop_db(f->shop_db)), 0); /* no transaction left open */
    /* Seen from another connection and from this one: the sale never happened. */
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 3);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM children"), 0);
    assert_int_equal(ovs_shop_stock(f->shop_db, 1, &n), 0);
    assert_int_equal(n, 3);

    /* The connection is left fit for the next request, which commits. */
    assert_int_equal(m->xLock(s, "sku:1"), OVS_OK);
    assert_int_equal(ovs_shop_act(f->shop_db, OVS_INVENTORY, &req, 2, NULL, err,
                                  sizeof(err)), OVS_OK);
    assert_int_equal(m->xUnlock(s, "sku:1"), OVS_OK);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders WHERE buyer = 2"), 1);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 2);
}

/* --- lock tokens ------------------------------------------------------------------------ */

/* Two harness processes against one server give their clients the same indexes and, when
 * they run the same scenario, the same seeds: the tokens must differ all the same, or one
 * process's compare-and-delete would release the other's lock. */
static void test_tokens_unique_across_processes(void **state)
{
    ovs_redis_locks a, b;
    ovs_rng same;
    char ta[OVS_REDIS_TOKEN_MAX], tb[OVS_REDIS_TOKEN_MAX], tc[OVS_REDIS_TOKEN_MAX] = "";
    char prefix[64], err[128];
    int pipefd[2];
    pid_t child;

    (void)state;
    assert_int_equal(ovs_redis_locks_init(&a, 3, 42, err, sizeof(err)), 0);
    assert_int_equal(ovs_redis_locks_init(&b, 3, 42, err, sizeof(err)), 0);
    ovs_redis_locks_token(&a, ta, sizeof(ta));
    ovs_redis_locks_token(&b, tb, sizeof(tb));
    print_message("tokens %s and %s\n", ta, tb);
    assert_string_not_equal(ta, tb);
    snprintf(prefix, sizeof(prefix), "c3-p%ld-1-", (long)getpid());
    assert_int_equal(strncmp(ta, prefix, strlen(prefix)), 0);
    assert_int_equal(strncmp(tb, prefix, strlen(prefix)), 0);

    /* The seeded generator is left to the retry jitter: tokens draw nothing from it, so
     * the same seed still gives the same schedule. */
    ovs_rng_seed(&same, 42);
    uint64_t first = ovs_rng_next(&same);
    assert_true(ovs_rng_next(&a.rng) == first);
    assert_true(ovs_rng_next(&b.rng) == first);

    /* Another process, the same client and seed: its own pid in its token. */
    assert_int_equal(pipe(pipefd), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        ovs_redis_locks c;
        char t[OVS_REDIS_TOKEN_MAX];
        if (ovs_redis_locks_init(&c, 3, 42, err, sizeof(err)) != 0)
            _exit(1);
        ovs_redis_locks_token(&c, t, sizeof(t));
        _exit(write(pipefd[1], t, strlen(t) + 1) > 0 ? 0 : 1);
    }
    close(pipefd[1]);
    assert_true(read(pipefd[0], tc, sizeof(tc) - 1) > 0);
    close(pipefd[0]);
    assert_int_equal(waitpid(child, NULL, 0), child);
    snprintf(prefix, sizeof(prefix), "c3-p%ld-1-", (long)child);
    assert_int_equal(strncmp(tc, prefix, strlen(prefix)), 0);
    assert_string_not_equal(tc, ta);
    ovs_redis_locks_free(&a);
    ovs_redis_locks_free(&b);
}

/* --- setnx ------------------------------------------------------------------------------ */

static void test_setnx_exclusion(void **state)
{
    OVS_REQUIRE_REDIS();
    check_exclusion(*state, &ovs_strategy_setnx, "setnx:excl");
}

static void test_setnx_expiry(void **state)
{
    OVS_REQUIRE_REDIS();
    check_expiry(*state, &ovs_strategy_setnx, "setnx:expiry");
}

static void test_setnx_many_keys(void **state)
{
    fixture *f = *state;
    OVS_REQUIRE_REDIS();
    check_many_keys(f, &ovs_strategy_setnx);
    assert_int_equal(node_exists(f, 0, "lock:many:1"), 0);
}

static void test_setnx_token_and_ttl(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    redisReply *r;
    char first[OVS_REDIS_TOKEN_MAX], prefix[64];

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_setnx, "ttl=3000", 4);
    assert_int_equal(ovs_strategy_setnx.xNodes(&f->param[0]), 1);

    assert_int_equal(a->m->xLock(a, "setnx:token"), OVS_OK);
    r = node_cmd(f, 0, "GET lock:setnx:token");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(first, sizeof(first), "%s", r->str);
    freeReplyObject(r);
    r = node_cmd(f, 0, "PTTL lock:setnx:token");
    assert_true(r->integer > 2000 && r->integer <= 3000);
    freeReplyObject(r);
    assert_int_equal(a->m->xUnlock(a, "setnx:token"), OVS_OK);

    /* A new call, a new token: "c4-p<pid>-1-..." then "c4-p<pid>-2-...". */
    snprintf(prefix, sizeof(prefix), "c4-p%ld-1-", (long)getpid());
    assert_int_equal(strncmp(first, prefix, strlen(prefix)), 0);
    assert_int_equal(a->m->xLock(a, "setnx:token"), OVS_OK);
    r = node_cmd(f, 0, "GET lock:setnx:token");
    snprintf(prefix, sizeof(prefix), "c4-p%ld-2-", (long)getpid());
    assert_int_equal(strncmp(r->str, prefix, strlen(prefix)), 0);
    assert_string_not_equal(r->str, first);
    freeReplyObject(r);
    assert_int_equal(a->m->xUnlock(a, "setnx:token"), OVS_OK);
}

/* A connection the server closed while the client was idle is noticed before the next
 * command is written: that command goes out on a new connection and succeeds, instead of
 * coming back unknown from a dead socket (a reply lost mid-command is unknown: see
 * test_locks_faults.c). The script cache may be flushed under a client: the release
 * reloads it. */
static void test_setnx_reconnect_and_noscript(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_setnx, "retry_count=0", 0);
    assert_int_equal(a->m->xLock(a, "setnx:conn"), OVS_OK);
    assert_int_equal(a->m->xUnlock(a, "setnx:conn"), OVS_OK); /* loads the script */

    r = node_cmd(f, 0, "CLIENT KILL TYPE normal SKIPME yes");
    assert_true(r->integer >= 1);
    freeReplyObject(r);
    assert_int_equal(a->m->xLock(a, "setnx:conn"), OVS_OK);
    assert_int_equal(a->attempts, 1);
    assert_int_equal(node_exists(f, 0, "lock:setnx:conn"), 1);

    r = node_cmd(f, 0, "SCRIPT FLUSH");
    freeReplyObject(r);
    assert_int_equal(a->m->xUnlock(a, "setnx:conn"), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:setnx:conn"), 0);
}

/* A Lua strategy from a definition file gets the same reload: its scripts, read from
 * strategies/lua/, are loaded again when a flushed server answers NOSCRIPT, for the
 * release and for the next acquire. */
static void test_lua_file_strategy_reloads_after_noscript(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m;
    ovs_strategy *a;
    redisReply *r;
    char dir[600], err[700];

    OVS_REQUIRE_REDIS();
    snprintf(dir, sizeof(dir), "%s/strategies", OVS_SOURCE_DIR);
    if (ovs_strategy_find("lua-setnx") == NULL &&
        ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    m = ovs_strategy_find("lua-setnx");
    assert_non_null(m);
    a = open_inst(f, m, "retry_count=0", 0);
    assert_int_equal(a->m->xLock(a, "luafile:ns"), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:luafile:ns"), 1);

    r = node_cmd(f, 0, "SCRIPT FLUSH");
    freeReplyObject(r);
    assert_int_equal(a->m->xUnlock(a, "luafile:ns"), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:luafile:ns"), 0);
    r = node_cmd(f, 0, "SCRIPT FLUSH");
    freeReplyObject(r);
    assert_int_equal(a->m->xLock(a, "luafile:ns"), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:luafile:ns"), 1);
    assert_int_equal(a->m->xUnlock(a, "luafile:ns"), OVS_OK);
}

typedef struct worker {
    ovs_strategy *s;
    const char *key;
    int rounds;
    int64_t hold_ns;      /* time inside the section each round */
    atomic_int *inside;   /* holders inside the section now */
    atomic_int *overlaps; /* times a holder found someone else inside */
    int ok, failed;
} worker;

static void *lock_worker(void *arg)
{
    worker *w = arg;

    for (int i = 0; i < w->rounds; i++) {
        if (w->s->m->xLock(w->s, w->key) != OVS_OK) {
            w->failed++;
            continue;
        }
        if (atomic_fetch_add(w->inside, 1) != 0)
            atomic_fetch_add(w->overlaps, 1);
        ovs_sleep_ns(w->hold_ns);
        atomic_fetch_sub(w->inside, 1);
        if (w->s->m->xUnlock(w->s, w->key) == OVS_OK)
            w->ok++;
        else
            w->failed++;
    }
    return NULL;
}

/* THREADS instances of m, one per thread, each taking key `rounds` times and holding it
 * for hold_ns: every round must succeed, and no two holders may be inside at once. */
static void check_threads(fixture *f, const ovs_strategy_methods *m, const char *params,
                          const char *key, int rounds, int64_t hold_ns)
{
    pthread_t th[THREADS];
    worker w[THREADS];
    atomic_int inside = 0, overlaps = 0;
    int ok = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ .key = key, .rounds = rounds, .hold_ns = hold_ns,
                         .inside = &inside, .overlaps = &overlaps };
        w[i].s = open_inst(f, m, params, i);
    }
    /* Each instance is used by one thread only; pthread_create orders its opening before
     * the thread's first use. */
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, lock_worker, &w[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        assert_int_equal(w[i].failed, 0);
    }
    assert_int_equal(ok, THREADS * rounds);
    assert_int_equal(atomic_load(&overlaps), 0);
}

static void test_setnx_threads(void **state)
{
    OVS_REQUIRE_REDIS();
    check_threads(*state, &ovs_strategy_setnx,
                  "retry_count=2000,retry_delay=1ms,retry_jitter=2ms", "setnx:threads", 5,
                  OVS_NS_PER_MS);
}

/* --- redlock ---------------------------------------------------------------------------- */

static void test_redlock_exclusion(void **state)
{
    OVS_REQUIRE_REDIS();
    check_exclusion(*state, &ovs_strategy_redlock, "redlock:excl");
}

static void test_redlock_expiry(void **state)
{
    OVS_REQUIRE_REDIS();
    check_expiry(*state, &ovs_strategy_redlock, "redlock:expiry");
}

static void test_redlock_many_keys(void **state)
{
    fixture *f = *state;
    OVS_REQUIRE_REDIS();
    check_many_keys(f, &ovs_strategy_redlock);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(node_exists(f, i, "lock:many:2"), 0);
}

static void test_redlock_on_every_node(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    int node_events = 0;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock, "", 0);
    assert_int_equal(ovs_strategy_redlock.xNodes(&f->param[0]), 5);
    assert_int_equal(a->m->xLock(a, "redlock:all"), OVS_OK);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(node_exists(f, i, "lock:redlock:all"), 1);
    for (size_t i = 0; i < f->trace.n; i++)
        node_events += f->trace.ev[i].op == OVS_OP_NODE &&
                       strcmp(f->trace.ev[i].key, "redlock:all") == 0 &&
                       strstr(f->trace.ev[i].detail, "locked") != NULL;
    assert_int_equal(node_events, NODES);
    assert_int_equal(a->m->xUnlock(a, "redlock:all"), OVS_OK);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(node_exists(f, i, "lock:redlock:all"), 0);
}

/* Each Redlock attempt writes its own token under the call's prefix, and the acquire
 * script takes over a key that an earlier attempt of the same call left (its reply lost):
 * the key then holds the newest token, so that attempt's late release deletes nothing. With
 * one token for every attempt the late release would delete the lock the retry holds. */
static void assert_node_value(const fixture *f, int i, const char *key, const char *want)
{
    redisReply *r = node_cmd(f, i, "GET %s", key);

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
}

static void test_redlock_late_release_of_failed_attempt(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    redisReply *r;
    char token[80];

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock, "", 0);
    assert_int_equal(a->m->xLock(a, "redlock:attempts"), OVS_OK);
    r = node_cmd(f, 0, "GET lock:redlock:attempts");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(token, sizeof(token), "%s", r->str);
    freeReplyObject(r);
    assert_non_null(strstr(token, "/a1"));   /* the first attempt's token */
    for (int i = 1; i < NODES; i++)           /* one token for the attempt on every node */
        assert_node_value(f, i, "lock:redlock:attempts", token);
    assert_int_equal(a->m->xUnlock(a, "redlock:attempts"), OVS_OK);

    /* What a retry meets on a node where attempt 1's reply and release were both lost. */
    r = node_cmd(f, 0, "SET lock:late P/a1 PX 10000");
    freeReplyObject(r);
    r = node_cmd(f, 0, "EVAL %s 1 lock:late P/a2 10000 P/", ovs_redis_acquire_src);
    assert_int_equal(r->integer, 2); /* taken over, not "held by another" */
    freeReplyObject(r);
    assert_node_value(f, 0, "lock:late", "P/a2");
    r = node_cmd(f, 0, "EVAL %s 1 lock:late P/a1", ovs_redis_cad_src); /* the late release */
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    assert_int_equal(node_exists(f, 0, "lock:late"), 1);
    r = node_cmd(f, 0, "EVAL %s 1 lock:late Q/a1 10000 Q/", ovs_redis_acquire_src);
    assert_int_equal(r->integer, 0); /* another call's prefix: held by another */
    freeReplyObject(r);
}

static void test_redlock_two_nodes_paused(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    int64_t t0;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock, "ttl=2000,retry_count=0", 0);
    stop_nodes(f, 3, 2);
    t0 = ovs_now_ns();
    assert_int_equal(a->m->xLock(a, "redlock:two-paused"), OVS_OK);
    assert_true(ms_since(t0) < 1000); /* a round of node_timeout (50 ms), not a TTL */
    assert_int_equal(a->m->xUnlock(a, "redlock:two-paused"), OVS_OK); /* 3 of 5 released */
    for (int i = 0; i < 3; i++)
        assert_int_equal(node_exists(f, i, "lock:redlock:two-paused"), 0);
}

static void test_redlock_three_nodes_paused(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    int64_t t0;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock,
                  "ttl=2000,retry_count=1,retry_delay=10ms,retry_jitter=0", 0);
    stop_nodes(f, 2, 3);
    t0 = ovs_now_ns();
    assert_int_equal(a->m->xLock(a, "redlock:three-paused"), OVS_BUSY);
    /* Per attempt: a round of SETs and a round of releases, each ending by node_timeout
     * (50 ms) after it began. */
    assert_true(ms_since(t0) < 2000);
    assert_int_equal(a->attempts, 2);
    assert_non_null(strstr(a->errstr, "locked 2 of 5"));
    /* What it got on the live nodes it gave back at once. */
    assert_int_equal(node_exists(f, 0, "lock:redlock:three-paused"), 0);
    assert_int_equal(node_exists(f, 1, "lock:redlock:three-paused"), 0);
}

/* A majority is not enough when acquiring it used up the lease. */
static void test_redlock_validity_spent(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock, "ttl=100ms,node_timeout=150ms,retry_count=0",
                  0);
    stop_nodes(f, 0, 2);
    /* Waiting out the silent nodes (150 ms) leaves less than ttl - drift (97 ms). */
    assert_int_equal(a->m->xLock(a, "redlock:spent"), OVS_BUSY);
    assert_non_null(strstr(a->errstr, "locked 3 of 5"));
    for (int i = 2; i < NODES; i++)
        assert_int_equal(node_exists(f, i, "lock:redlock:spent"), 0);
}

static void test_redlock_unlock_without_majority(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, &ovs_strategy_redlock, "ttl=2000", 0);
    assert_int_equal(a->m->xLock(a, "redlock:unlock-paused"), OVS_OK);
    stop_nodes(f, 2, 3);
    /* Released on two; three did not answer and may still hold it: unknown, not "ok". */
    assert_int_equal(a->m->xUnlock(a, "redlock:unlock-paused"), OVS_ERR_IO);
}

/* --- lua-decr --------------------------------------------------------------------------- */

static void test_lua_decr_inventory(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_lua_decr;
    ovs_request req = { .sku = 1 };
    ovs_strategy *s;
    int sold = 0, refused = 0;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    start_shop(f);
    prepare(f, m);
    s = open_inst(f, m, "", 0);
    assert_int_equal(m->xNodes(&f->param[0]), 1);

    for (int i = 0; i < 5; i++) {
        int rc = m->xExecute(s, &req, i, 50 * OVS_NS_PER_MS);
        sold += rc == OVS_OK;
        refused += rc == OVS_REFUSED;
        assert_int_equal(s->attempts, 1);
    }
    assert_int_equal(sold, 3);
    assert_int_equal(refused, 2);
    r = node_cmd(f, 0, "GET stock:1");
    assert_string_equal(r->str, "0");
    freeReplyObject(r);

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 3);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 0);
}

/* xPrepare of m gives a fresh hotel: a night an earlier run left is gone. */
static void fresh_hotel(fixture *f, const ovs_strategy_methods *m)
{
    redisReply *r = node_cmd(f, 0, "SET night:1:101:2026-02-01 stale");

    freeReplyObject(r);
    prepare(f, m);
    assert_int_equal(node_exists(f, 0, "night:1:101:2026-02-01"), 0);
}

/* Three stays of room 101 through s: the 20th-21st booked; the 21st-22nd refused whole,
 * its free 22nd not kept (all or none); the 22nd-23rd booked by guest 3. *stay is left on
 * the third. */
static void book_three_stays(fixture *f, const ovs_strategy_methods *m, ovs_strategy *s,
                             ovs_request *stay)
{
    redisReply *r;

    assert_int_equal(ovs_parse_date("2026-01-20", &stay->check_in), 0);
    stay->check_out = stay->check_in + 2;                               /* 20th, 21st */
    assert_int_equal(m->xExecute(s, stay, 1, 0), OVS_OK);
    stay->check_in += 1;
    stay->check_out += 1;                                              /* 21st, 22nd */
    assert_int_equal(m->xExecute(s, stay, 2, 0), OVS_REFUSED);
    /* All or none: the refused stay must not have kept the 22nd. */
    assert_int_equal(node_exists(f, 0, "night:1:101:2026-01-22"), 0);
    stay->check_in += 1;
    stay->check_out += 1;                                              /* 22nd, 23rd */
    assert_int_equal(m->xExecute(s, stay, 3, 0), OVS_OK);
    r = node_cmd(f, 0, "GET night:1:101:2026-01-22");
    assert_string_equal(r->str, "3");
    freeReplyObject(r);
    r = node_cmd(f, 0, "GET night:1:101:2026-01-23");
    assert_string_equal(r->str, "3");
    freeReplyObject(r);
}

static void test_lua_decr_booking(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_lua_decr;
    ovs_strategy *s;
    ovs_request stay = { .hotel = 1, .room = 101 };

    OVS_REQUIRE_REDIS();
    f->sc.workload = OVS_BOOKING;
    start_shop(f);
    fresh_hotel(f, m);
    s = open_inst(f, m, "", 0);

    book_three_stays(f, m, s, &stay);
    stay.room = 102;                                                  /* another room */
    assert_int_equal(m->xExecute(s, &stay, 4, 0), OVS_OK);

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM bookings"), 3);
}

static void test_lua_decr_threads(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_lua_decr;
    pthread_t th[THREADS];
    buyer_thread b[THREADS];
    int sold = 0;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 10;
    start_shop(f);
    prepare(f, m);
    for (int i = 0; i < THREADS; i++)
        b[i] = (buyer_thread){ .s = open_inst(f, m, "", i), .base = 100 * i, .count = 10 };
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, buy_worker, &b[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        sold += b[i].sold;
        assert_int_equal(b[i].other, 0);
    }
    assert_int_equal(sold, 10);
    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 10);
}

/* --- watch-multi ------------------------------------------------------------------------ */

/* A write behind a strategy's back, made by the test's second thread after a delay: the
 * concurrent buyer that commits inside another's think window. */
typedef struct late_write {
    const fixture *f;
    int64_t after_ns;
    const char *cmd; /* a whole command without arguments to format: "DECR stock:1" */
    int done;        /* 1 when it was made */
} late_write;

static void *late_write_main(void *arg)
{
    late_write *w = arg;
    redisReply *r;

    ovs_sleep_ns(w->after_ns);
    r = node_query(w->f, 0, w->cmd);
    w->done = r != NULL && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return NULL;
}

/* Start w on the fixture's helper thread, joined by the test (or by the teardown). */
static void start_late_write(fixture *f, late_write *w)
{
    assert_int_equal(pthread_create(&f->helper, NULL, late_write_main, w), 0);
    f->helper_started = 1;
}

static void join_late_write(fixture *f, const late_write *w)
{
    pthread_join(f->helper, NULL);
    f->helper_started = 0;
    assert_int_equal(w->done, 1);
}

static void test_watch_multi_inventory(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watch_multi;
    ovs_request req = { .sku = 1 };
    ovs_strategy *s;
    int sold = 0, refused = 0;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    start_shop(f);
    prepare(f, m);
    s = open_inst(f, m, "", 0);
    assert_int_equal(m->xNodes(&f->param[0]), 1);

    for (int i = 0; i < 5; i++) {
        int rc = m->xExecute(s, &req, i, 0);
        sold += rc == OVS_OK;
        refused += rc == OVS_REFUSED;
        assert_int_equal(s->attempts, 1); /* nobody else wrote: no abort */
    }
    assert_int_equal(sold, 3);
    assert_int_equal(refused, 2);
    assert_int_equal(node_int(f, 0, "stock:1"), 0);
    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 3);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 0);
}

/* Another buyer's DECR inside the think window aborts the EXEC: retried, the sale is made
 * from the stock as it is now; with no retries left, the buyer is busy and Redis keeps
 * only the other write. Broken: a MULTI/EXEC without the WATCH (or a WATCH on another
 * connection than the EXEC) commits over the concurrent write - one attempt, and with
 * retry_count=0 a sale instead of busy. */
static void test_watch_multi_abort_retried(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watch_multi;
    ovs_request req = { .sku = 1 };
    late_write w = { .f = f, .after_ns = 50 * OVS_NS_PER_MS, .cmd = "DECR stock:1" };
    ovs_strategy *retry, *once;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    start_shop(f);
    prepare(f, m);
    retry = open_inst(f, m, "retry_count=1,retry_delay=0,retry_jitter=0", 0);
    once = open_inst(f, m, "retry_count=0", 1);

    start_late_write(f, &w);
    assert_int_equal(m->xExecute(retry, &req, 1, 200 * OVS_NS_PER_MS), OVS_OK);
    join_late_write(f, &w);
    assert_int_equal(retry->attempts, 2); /* the aborted EXEC, then the sale */
    assert_int_equal(node_int(f, 0, "stock:1"), 1); /* 3, the other buyer's, ours */

    start_late_write(f, &w);
    assert_int_equal(m->xExecute(once, &req, 2, 200 * OVS_NS_PER_MS), OVS_BUSY);
    join_late_write(f, &w);
    assert_int_equal(once->attempts, 1);
    assert_non_null(strstr(once->errstr, "aborted"));
    assert_int_equal(node_int(f, 0, "stock:1"), 0); /* the other buyer's write only */

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 1); /* ours */
}

/* A connection closed during the think takes the WATCH with it: nothing may go out on a
 * fresh one. Broken: MULTI/DECR/EXEC sent through a connection that reconnects by itself
 * (ovs_redis_cmd) commits unwatched - here a sale, stock 2, where another buyer's write
 * in the window would have gone unnoticed. */
static void test_watch_multi_connection_lost_in_think(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watch_multi;
    ovs_request req = { .sku = 1 };
    late_write kill = { .f = f, .after_ns = 30 * OVS_NS_PER_MS,
                        .cmd = "CLIENT KILL TYPE normal SKIPME yes" };
    ovs_strategy *s;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    start_shop(f);
    prepare(f, m);
    s = open_inst(f, m, "retry_count=0", 0);

    start_late_write(f, &kill);
    assert_int_equal(m->xExecute(s, &req, 1, 200 * OVS_NS_PER_MS), OVS_ERR);
    join_late_write(f, &kill);
    print_message("xExecute: %s\n", s->errstr);
    assert_int_equal(node_int(f, 0, "stock:1"), 3); /* nothing sent */
    /* The next request connects afresh and sells. */
    r = node_cmd(f, 0, "DECR stock:1");
    freeReplyObject(r);
    assert_int_equal(m->xExecute(s, &req, 2, 0), OVS_OK);
    assert_int_equal(node_int(f, 0, "stock:1"), 1);
}

static void test_watch_multi_booking(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watch_multi;
    ovs_strategy *s, *t;
    ovs_request stay = { .hotel = 1, .room = 101 };
    late_write w = { .f = f, .after_ns = 50 * OVS_NS_PER_MS,
                     .cmd = "SET night:1:101:2026-01-25 other" };

    OVS_REQUIRE_REDIS();
    f->sc.workload = OVS_BOOKING;
    start_shop(f);
    fresh_hotel(f, m);
    s = open_inst(f, m, "", 0);
    t = open_inst(f, m, "retry_count=1,retry_delay=0,retry_jitter=0", 1);

    book_three_stays(f, m, s, &stay);

    /* 24th..26th while another guest takes the 25th in the think window: the EXEC aborts,
     * the retry finds the 25th taken, and neither the 24th nor the 26th is kept. */
    stay.check_in += 2;
    stay.check_out = stay.check_in + 3;
    start_late_write(f, &w);
    assert_int_equal(m->xExecute(t, &stay, 4, 200 * OVS_NS_PER_MS), OVS_REFUSED);
    join_late_write(f, &w);
    assert_int_equal(t->attempts, 2);
    assert_int_equal(node_exists(f, 0, "night:1:101:2026-01-24"), 0);
    assert_int_equal(node_exists(f, 0, "night:1:101:2026-01-26"), 0);

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM bookings"), 2);
}

/* Buyers on several threads at once, one instance each, aborting one another: every unit
 * sold exactly once. */
static void test_watch_multi_threads(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watch_multi;
    pthread_t th[THREADS];
    buyer_thread b[THREADS];
    int sold = 0;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 10;
    start_shop(f);
    prepare(f, m);
    for (int i = 0; i < THREADS; i++)
        b[i] = (buyer_thread){
            .s = open_inst(f, m, "retry_count=10000,retry_delay=0,retry_jitter=1ms", i),
            .base = 100 * i, .count = 10 };
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, buy_worker, &b[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        sold += b[i].sold;
        assert_int_equal(b[i].other, 0);
    }
    assert_int_equal(sold, 10);
    assert_int_equal(node_int(f, 0, "stock:1"), 0);
    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 10);
}

/* --- redis-check-then-decr -------------------------------------------------------------- */

/* Set key to value on node i, behind the strategy's back. */
static void node_set(const fixture *f, int i, const char *key, const char *value)
{
    redisReply *r = node_cmd(f, i, "SET %s %s", key, value);
    freeReplyObject(r);
}

/* Seed stock:1 on node 0 from f->sc.stock, as a run would. */
static void ctd_prepare(fixture *f)
{
    prepare(f, &ovs_strategy_check_then_decr);
}

/* The read endpoint decides: node 1 stands for a replica that disagrees with the master. */
static void test_ctd_read_from(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_check_then_decr;
    ovs_request req = { .sku = 1 };
    ovs_strategy *direct, *via;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    start_shop(f);
    ctd_prepare(f);
    assert_int_equal(m->xNodes(&f->param[0]), 1);
    direct = open_inst(f, m, "", 0);
    f->read_from = &endpoints(f)[1];
    via = open_inst(f, m, "", 1);

    /* The replica says sold out while the master has 3: the replica's answer wins. */
    node_set(f, 1, "stock:1", "0");
    assert_int_equal(m->xExecute(via, &req, 1, 0), OVS_REFUSED);
    assert_int_equal(node_int(f, 0, "stock:1"), 3);
    assert_int_equal(m->xExecute(direct, &req, 2, 0), OVS_OK);
    assert_int_equal(node_int(f, 0, "stock:1"), 2);
    assert_int_equal(direct->attempts, 1);

    /* The master is sold out, the replica still shows stock: sold, and the master's
     * count goes below zero - the oversell this strategy exists to show. */
    node_set(f, 0, "stock:1", "0");
    node_set(f, 1, "stock:1", "5");
    assert_int_equal(m->xExecute(direct, &req, 3, 0), OVS_REFUSED);
    assert_int_equal(m->xExecute(via, &req, 4, 0), OVS_OK);
    assert_int_equal(node_int(f, 0, "stock:1"), -1);
    assert_int_equal(node_int(f, 1, "stock:1"), 5); /* the DECR went to the master only */

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 2);
    assert_int_equal(shop_scalar(f, "SELECT sum(buyer) FROM orders"), 2 + 4);
}

/* The think time is spent between the GET and the DECR, and WAIT blocks for its timeout
 * when there are fewer replicas than asked for; neither stops the sale. */
static void test_ctd_think_and_wait(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_check_then_decr;
    ovs_request req = { .sku = 1 };
    ovs_strategy *plain, *waiting;
    int64_t t0;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 5;
    start_shop(f);
    ctd_prepare(f);
    plain = open_inst(f, m, "", 0);
    waiting = open_inst(f, m, "wait_replicas=1,wait_timeout=80ms", 1);

    t0 = ovs_now_ns();
    assert_int_equal(m->xExecute(plain, &req, 1, 60 * OVS_NS_PER_MS), OVS_OK);
    assert_true(ms_since(t0) >= 60);
    t0 = ovs_now_ns();
    assert_int_equal(m->xExecute(waiting, &req, 2, 0), OVS_OK); /* no replica answers */
    assert_true(ms_since(t0) >= 80);
    assert_int_equal(node_int(f, 0, "stock:1"), 3);
    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 2);
}

static void test_ctd_booking(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_check_then_decr;
    ovs_request stay = { .hotel = 7, .room = 101 };
    ovs_strategy *direct, *via;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    f->sc.workload = OVS_BOOKING;
    start_shop(f);
    ctd_prepare(f);
    direct = open_inst(f, m, "", 0);
    f->read_from = &endpoints(f)[1];
    via = open_inst(f, m, "", 1);
    r = node_cmd(f, 1, "DEL night:7:101:2026-01-21");
    freeReplyObject(r);

    assert_int_equal(ovs_parse_date("2026-01-20", &stay.check_in), 0);
    stay.check_out = stay.check_in + 2;                           /* 20th, 21st */
    assert_int_equal(m->xExecute(direct, &stay, 1, 0), OVS_OK);
    r = node_cmd(f, 0, "GET night:7:101:2026-01-21");
    assert_string_equal(r->str, "1");
    freeReplyObject(r);
    stay.check_in += 1;
    stay.check_out += 1;                                          /* 21st, 22nd */
    assert_int_equal(m->xExecute(direct, &stay, 2, 0), OVS_REFUSED);
    /* Read from a node that never saw the first booking: the room is booked twice. */
    assert_int_equal(m->xExecute(via, &stay, 3, 0), OVS_OK);
    r = node_cmd(f, 0, "GET night:7:101:2026-01-21");
    assert_string_equal(r->str, "3");
    freeReplyObject(r);

    assert_int_equal(ovs_writeback_drain(f->wb), 0);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM bookings"), 2);
}

/* --- fencing ---------------------------------------------------------------------------- */

static void test_fencing_exclusion(void **state)
{
    OVS_REQUIRE_REDIS();
    check_exclusion(*state, &ovs_strategy_fencing, "fencing:excl");
}

static void test_fencing_expiry(void **state)
{
    OVS_REQUIRE_REDIS();
    check_expiry(*state, &ovs_strategy_fencing, "fencing:expiry");
}

static void test_fencing_tokens_increase(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_fencing;
    ovs_strategy *a, *b;
    int64_t last = 0, t;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "retry_count=0", 0);
    b = open_inst(f, m, "retry_count=0", 1);
    assert_int_equal(m->xNodes(&f->param[0]), 1);
    assert_int_equal(m->xFence(a, "fencing:tokens"), -1); /* not held yet */

    /* Alternate holders, and the same holder twice: every acquisition a higher token. */
    ovs_strategy *order[] = { a, b, b, a, b };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        ovs_strategy *s = order[i], *other = s == a ? b : a;
        assert_int_equal(m->xLock(s, "fencing:tokens"), OVS_OK);
        t = m->xFence(s, "fencing:tokens");
        assert_true(t > last);
        assert_int_equal(m->xFence(other, "fencing:tokens"), -1); /* never held by it */
        assert_int_equal(m->xFence(s, "fencing:other"), -1);      /* another key */
        assert_int_equal(node_int(f, 0, "fence:fencing:tokens"), t);
        assert_int_equal(m->xUnlock(s, "fencing:tokens"), OVS_OK);
        assert_int_equal(m->xFence(s, "fencing:tokens"), -1);     /* released */
        last = t;
    }
}

/* A booking holds one lock per night: every one of them has its own token, for as long as
 * it is held, whatever the order of the releases. */
static void test_fencing_many_keys(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_fencing;
    const char *keys[] = { "fencing:many:1", "fencing:many:2", "fencing:many:3" };
    int64_t t[3];
    ovs_strategy *a, *b;
    char fk[64];

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "retry_count=0", 0);
    b = open_inst(f, m, "retry_count=0", 1);
    /* The counters start apart, so a token answered for the wrong key shows. */
    for (int k = 0; k < 3; k++) {
        redisReply *r = node_cmd(f, 0, "SET fence:%s %d", keys[k], 100 * (k + 1));
        freeReplyObject(r);
    }
    for (int k = 0; k < 3; k++)
        assert_int_equal(m->xLock(a, keys[k]), OVS_OK);
    for (int k = 0; k < 3; k++) {
        t[k] = m->xFence(a, keys[k]);
        assert_int_equal(t[k], 100 * (k + 1) + 1);
        snprintf(fk, sizeof(fk), "fence:%s", keys[k]);
        assert_int_equal(node_int(f, 0, fk), t[k]);
    }
    assert_int_equal(m->xUnlock(a, keys[1]), OVS_OK);
    assert_int_equal(m->xFence(a, keys[1]), -1);
    assert_int_equal(m->xFence(a, keys[0]), t[0]);
    assert_int_equal(m->xFence(a, keys[2]), t[2]);
    assert_int_equal(m->xLock(b, keys[1]), OVS_OK);
    assert_int_equal(m->xFence(b, keys[1]), t[1] + 1);
    assert_int_equal(m->xFence(b, keys[0]), -1);
    assert_int_equal(m->xUnlock(a, keys[0]), OVS_OK);
    assert_int_equal(m->xFence(a, keys[2]), t[2]);
    assert_int_equal(m->xUnlock(a, keys[2]), OVS_OK);
    assert_int_equal(m->xUnlock(b, keys[1]), OVS_OK);
    for (int k = 0; k < 3; k++)
        assert_int_equal(m->xFence(a, keys[k]), -1);
}

/* A counter that cannot give a token (not a number) must not leave a lease behind: the
 * script that took the lease takes it back in the same step. */
static void test_fencing_counter_unusable(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_fencing;
    ovs_strategy *a;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "retry_count=0", 0);
    r = node_cmd(f, 0, "SET fence:fencing:bad not-a-number");
    freeReplyObject(r);
    assert_int_equal(m->xLock(a, "fencing:bad"), OVS_ERR);
    assert_non_null(strstr(a->errstr, "gives no token"));
    assert_int_equal(node_exists(f, 0, "lock:fencing:bad"), 0);
    assert_int_equal(m->xFence(a, "fencing:bad"), -1);
    r = node_cmd(f, 0, "DEL fence:fencing:bad");
    freeReplyObject(r);
    assert_int_equal(m->xLock(a, "fencing:bad"), OVS_OK);
    assert_int_equal(m->xFence(a, "fencing:bad"), 1);
    assert_int_equal(m->xUnlock(a, "fencing:bad"), OVS_OK);
}

/* A holder that outlives its lease still carries its old token, and the shop refuses its
 * accesses once its successor registered a newer one, whichever of the two writes first:
 * the storage, not the lock, keeps the order. A stale token that reads after the
 * successor registered is refused too, and a stale holder that wrote before its successor
 * registered leaves a sale the successor's check sees. */
static void test_fencing_stale_holder(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_fencing;
    ovs_request req = { .sku = 1 };
    ovs_strategy *a, *b;
    ovs_fence fa = { .n = 1, .key = { "fencing:stale" } }, fb = fa;
    int64_t seen;
    char err[256];
    ovs_shop *db;

    OVS_REQUIRE_REDIS();
    start_shop(f);
    a = open_inst(f, m, "ttl=100ms,retry_count=0", 0);
    b = open_inst(f, m, "ttl=100ms,retry_count=0", 1);
    if (ovs_shop_open(&f->shop, &db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
    assert_int_equal(m->xLock(a, "fencing:stale"), OVS_OK);
    fa.token[0] = m->xFence(a, "fencing:stale");
    assert_int_equal(ovs_shop_check(db, OVS_INVENTORY, &req, &fa, &seen, err, sizeof(err)),
                     OVS_OK);
    ovs_sleep_ns(150 * OVS_NS_PER_MS); /* A stalls past its lease */
    assert_int_equal(m->xLock(b, "fencing:stale"), OVS_OK);
    fb.token[0] = m->xFence(b, "fencing:stale");
    assert_true(fb.token[0] > fa.token[0]);
    assert_int_equal(m->xFence(a, "fencing:stale"), fa.token[0]); /* A still believes */
    assert_int_equal(ovs_shop_check(db, OVS_INVENTORY, &req, &fb, &seen, err, sizeof(err)),
                     OVS_OK);

    /* The stale holder wakes first: refused, although its successor has not written. */
    assert_int_equal(ovs_shop_act(db, OVS_INVENTORY, &req, 1, &fa, err, sizeof(err)), OVS_STALE);
    assert_int_equal(ovs_shop_check(db, OVS_INVENTORY, &req, &fa, &seen, err, sizeof(err)),
                     OVS_STALE);
    assert_int_equal(ovs_shop_act(db, OVS_INVENTORY, &req, 2, &fb, err, sizeof(err)), OVS_OK);
    /* And after the successor's write, still refused. */
    assert_int_equal(ovs_shop_act(db, OVS_INVENTORY, &req, 1, &fa, err, sizeof(err)), OVS_STALE);
    ovs_shop_close(db);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(m->xUnlock(a, "fencing:stale"), OVS_BUSY);
    assert_int_equal(m->xUnlock(b, "fencing:stale"), OVS_OK);
}

/* --- watchdog --------------------------------------------------------------------------- */

static void test_watchdog_exclusion(void **state)
{
    OVS_REQUIRE_REDIS();
    check_exclusion(*state, &ovs_strategy_watchdog, "watchdog:excl");
}

static void test_watchdog_many_keys(void **state)
{
    fixture *f = *state;
    OVS_REQUIRE_REDIS();
    check_many_keys(f, &ovs_strategy_watchdog);
    assert_int_equal(node_exists(f, 0, "lock:many:1"), 0);
}

/* A holder that stays alive keeps its lock past the TTL: the watchdog renews it. */
static void test_watchdog_renews(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watchdog;
    ovs_strategy *a, *b;
    int64_t t0;
    int tries = 0;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "ttl=300ms,retry_count=0", 0);
    b = open_inst(f, m, "ttl=300ms,retry_count=0", 1);
    assert_int_equal(m->xNodes(&f->param[0]), 1);
    assert_int_equal(m->xLock(a, "watchdog:renew"), OVS_OK);
    t0 = ovs_now_ns();
    /* Hold for a second, over three TTLs: B never gets in, and the lease never runs low. */
    while (ms_since(t0) < 1000) {
        redisReply *r;
        ovs_sleep_ns(50 * OVS_NS_PER_MS);
        assert_int_equal(m->xLock(b, "watchdog:renew"), OVS_BUSY);
        r = node_cmd(f, 0, "PTTL lock:watchdog:renew");
        assert_true(r->integer > 0);
        freeReplyObject(r);
        tries++;
    }
    assert_true(tries >= 10);
    assert_int_equal(m->xUnlock(a, "watchdog:renew"), OVS_OK);
    assert_int_equal(m->xLock(b, "watchdog:renew"), OVS_OK);
    assert_int_equal(m->xUnlock(b, "watchdog:renew"), OVS_OK);
}

/* A stop of the whole client (a GC pause) stops its watchdog too: the lease expires, a
 * second client takes the lock, and the first learns it only when it releases. */
static void test_watchdog_frozen(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watchdog;
    ovs_strategy *a, *b;
    int64_t t0, got = -1;

    OVS_REQUIRE_REDIS();
    f->frozen = &f->freeze;
    a = open_inst(f, m, "ttl=300ms,retry_count=0", 0);
    f->frozen = NULL;
    b = open_inst(f, m, "ttl=300ms,retry_count=0", 1);

    assert_int_equal(m->xLock(a, "watchdog:frozen"), OVS_OK);
    atomic_store(&f->freeze, 1);
    t0 = ovs_now_ns();
    while (ms_since(t0) < 1000) {
        ovs_sleep_ns(20 * OVS_NS_PER_MS);
        if (got < 0 && m->xLock(b, "watchdog:frozen") == OVS_OK)
            got = ms_since(t0);
    }
    atomic_store(&f->freeze, 0);
    print_message("second client got the lock %lld ms into the freeze\n", (long long)got);
    assert_true(got >= 250 && got < 1000); /* once A's lease of 300 ms ran out */

    /* Thawed, A's watchdog finds the lease gone (and must not touch B's). */
    ovs_sleep_ns(200 * OVS_NS_PER_MS);
    assert_int_equal(node_exists(f, 0, "lock:watchdog:frozen"), 1);
    assert_int_equal(m->xUnlock(a, "watchdog:frozen"), OVS_BUSY);
    assert_non_null(strstr(a->errstr, "watchdog has found 1 lease(s) gone"));
    assert_int_equal(m->xUnlock(b, "watchdog:frozen"), OVS_OK);
}

/* A crashed client's watchdog is frozen for good: its lease runs out at its TTL even
 * though nothing closed the instance, and a second client takes the lock. A watchdog
 * that read only env->frozen would go on renewing a dead holder's lease: B never gets in
 * within the second. */
static void test_watchdog_crashed(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watchdog;
    ovs_strategy *a, *b;
    int64_t t0, got = -1;
    char what[64];

    OVS_REQUIRE_REDIS();
    f->crash = &f->dies;
    a = open_inst(f, m, "ttl=300ms,retry_count=0", 0);
    f->crash = NULL;
    b = open_inst(f, m, "ttl=300ms,retry_count=0", 1);

    assert_int_equal(m->xLock(a, "watchdog:crashed"), OVS_OK);
    /* Renewed while alive: past one TTL, B is still kept out. */
    ovs_sleep_ns(400 * OVS_NS_PER_MS);
    assert_int_equal(m->xLock(b, "watchdog:crashed"), OVS_BUSY);
    assert_int_equal(ovs_crash_fire(&f->dies, what, sizeof(what)), 0);
    t0 = ovs_now_ns();
    while (got < 0 && ms_since(t0) < 1000) {
        ovs_sleep_ns(20 * OVS_NS_PER_MS);
        if (m->xLock(b, "watchdog:crashed") == OVS_OK)
            got = ms_since(t0);
    }
    print_message("second client got the lock %lld ms after the crash\n", (long long)got);
    /* At most one renewal period (100 ms) had been granted on top of the last renewal. */
    assert_true(got >= 150 && got < 1000);
    assert_int_equal(m->xUnlock(b, "watchdog:crashed"), OVS_OK);
}

/* The thread waits ttl/3 between renewals, but xClose must not wait for it. */
static void test_watchdog_close_is_prompt(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_watchdog;
    ovs_strategy *a;
    int64_t t0;
    redisReply *r;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "", 0); /* ttl 30 s: renewals every 10 s */
    assert_int_equal(m->xLock(a, "watchdog:close"), OVS_OK);
    ovs_sleep_ns(20 * OVS_NS_PER_MS);
    t0 = ovs_now_ns();
    m->xClose(a);
    assert_true(ms_since(t0) < 500);
    free(a);
    f->n_inst--; /* closed here, not in teardown */
    /* Left to its TTL, as a crashed holder's lock. */
    r = node_cmd(f, 0, "PTTL lock:watchdog:close");
    assert_true(r->integer > 20000);
    freeReplyObject(r);
    r = node_cmd(f, 0, "DEL lock:watchdog:close");
    freeReplyObject(r);
}

/* Holds longer than the TTL from several threads at once: only the renewals keep the
 * sections apart, and the renewer threads run beside lock and unlock (for TSan). */
static void test_watchdog_threads(void **state)
{
    OVS_REQUIRE_REDIS();
    check_threads(*state, &ovs_strategy_watchdog,
                  "ttl=150ms,retry_count=2000,retry_delay=2ms,retry_jitter=2ms",
                  "watchdog:threads", 2, 200 * OVS_NS_PER_MS);
}

/* setnx with wait_replicas: a lock no replica acknowledges (this fleet has none) is given
 * back after the WAIT's timeout, never used; without the parameter nothing waits. */
static void test_setnx_wait_gives_back(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_setnx;
    ovs_strategy *waiting, *plain;
    int64_t t0;

    OVS_REQUIRE_REDIS();
    waiting = open_inst(f, m, "wait_replicas=1,wait_timeout=80ms,retry_count=1,"
                              "retry_delay=0,retry_jitter=0", 0);
    plain = open_inst(f, m, "retry_count=0", 1);

    t0 = ovs_now_ns();
    assert_int_equal(m->xLock(waiting, "wait:1"), OVS_BUSY);
    assert_true(ms_since(t0) >= 160); /* both attempts waited out the timeout */
    assert_int_equal(waiting->attempts, 2);
    assert_non_null(strstr(waiting->errstr, "0 of 1 replicas acknowledged"));
    assert_non_null(strstr(waiting->errstr, "given back"));
    /* Given back: another client takes it at once, and the waiting one never held it. */
    t0 = ovs_now_ns();
    assert_int_equal(m->xLock(plain, "wait:1"), OVS_OK);
    assert_true(ms_since(t0) < 80);
    assert_int_equal(m->xUnlock(waiting, "wait:1"), OVS_BUSY);
    assert_int_equal(m->xUnlock(plain, "wait:1"), OVS_OK);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sqlp_failed_commit_is_undone),
        T(test_tokens_unique_across_processes),
        T(test_setnx_exclusion),
        T(test_setnx_expiry),
        T(test_setnx_many_keys),
        T(test_setnx_token_and_ttl),
        T(test_setnx_reconnect_and_noscript),
        T(test_lua_file_strategy_reloads_after_noscript),
        T(test_setnx_threads),
        T(test_redlock_exclusion),
        T(test_redlock_expiry),
        T(test_redlock_many_keys),
        T(test_redlock_on_every_node),
        T(test_redlock_late_release_of_failed_attempt),
        T(test_redlock_two_nodes_paused),
        T(test_redlock_three_nodes_paused),
        T(test_redlock_validity_spent),
        T(test_redlock_unlock_without_majority),
        T(test_lua_decr_inventory),
        T(test_lua_decr_booking),
        T(test_lua_decr_threads),
        T(test_watch_multi_inventory),
        T(test_watch_multi_abort_retried),
        T(test_watch_multi_connection_lost_in_think),
        T(test_watch_multi_booking),
        T(test_watch_multi_threads),
        T(test_ctd_read_from),
        T(test_ctd_think_and_wait),
        T(test_ctd_booking),
        T(test_fencing_exclusion),
        T(test_fencing_expiry),
        T(test_fencing_tokens_increase),
        T(test_fencing_stale_holder),
        T(test_fencing_many_keys),
        T(test_fencing_counter_unusable),
        T(test_watchdog_exclusion),
        T(test_watchdog_many_keys),
        T(test_watchdog_renews),
        T(test_watchdog_frozen),
        T(test_watchdog_crashed),
        T(test_watchdog_close_is_prompt),
        T(test_watchdog_threads),
        T(test_setnx_wait_gives_back),
    };
#undef T

    /* A write to a server that just died must be an error return, not a fatal signal. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("locks_live", tests, group_setup, group_teardown);
}
