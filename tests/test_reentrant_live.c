/* test_reentrant_live.c - the reentrant lock against a real redis-server: nesting, owners,
 * the count behind the lock and its TTL, read from Redis itself (lock:<key> is a hash
 * {owner token: count}).
 *
 * Each assertion names, in a comment, a plausible broken implementation it catches. The
 * contract suite (test_contract.c) holds the strategy to exclusion under load; this file
 * holds it to what makes it reentrant. Without redis-server the tests skip, except under
 * CI=true, where they fail (live.h). Waits are bounded; timing assertions leave room for
 * sanitizer builds on two cores. */
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
#include "locks/redis_conn.h"

#define THREADS 4

static const ovs_strategy_methods *const m = &ovs_strategy_reentrant;

/* The one owner and its count in lock:<key>, read behind the strategy's back; owner ""
 * and count 0 when the key does not exist. Fails the test when the hash has more than one
 * field: only one owner may ever hold it. */
static long long lock_count(const fixture *f, const char *key, char *owner, size_t len)
{
    redisReply *r = node_cmd(f, 0, "HGETALL lock:%s", key);
    long long n = 0;

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements == 0 || r->elements == 2);
    if (owner != NULL)
        snprintf(owner, len, "%s", r->elements ? r->element[0]->str : "");
    if (r->elements == 2)
        n = strtoll(r->element[1]->str, NULL, 10);
    freeReplyObject(r);
    return n;
}

static long long lock_pttl(const fixture *f, const char *key)
{
    redisReply *r = node_cmd(f, 0, "PTTL lock:%s", key);
    long long ms = r->integer;

    freeReplyObject(r);
    return ms;
}

/* The same instance nests; another cannot get in until the last release. */
static void test_reentrant_nest(void **state)
{
    fixture *f = *state;
    const char *key = "reentrant:nest";
    ovs_strategy *a, *b;
    char owner[OVS_REDIS_TOKEN_MAX], again[OVS_REDIS_TOKEN_MAX];

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "retry_count=0", 0);
    b = open_inst(f, m, "retry_count=1,retry_delay=10ms,retry_jitter=5ms", 1);
    assert_int_equal(m->xNodes(&f->param[0]), 1);

    assert_int_equal(m->xLock(a, key), OVS_OK);
    assert_int_equal(a->attempts, 1);
    assert_int_equal(lock_count(f, key, owner, sizeof(owner)), 1);
    /* Broken: a plain SET NX lock (setnx's) refuses its own holder: BUSY here. */
    assert_int_equal(m->xLock(a, key), OVS_OK);
    assert_int_equal(a->attempts, 1);
    /* Broken: a re-entry that only refreshes the TTL (count stays 1), or a token drawn per
     * call instead of per instance (a second field: lock_count fails, or a new owner). */
    assert_int_equal(lock_count(f, key, again, sizeof(again)), 2);
    assert_string_equal(again, owner);

    /* Broken: an acquire that increments the count whoever asks lets b in. */
    assert_int_equal(m->xLock(b, key), OVS_BUSY);
    assert_int_equal(b->attempts, 2);
    assert_int_equal(lock_count(f, key, again, sizeof(again)), 2);
    assert_string_equal(again, owner);

    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    /* Broken: a release that deletes the key at once (no count) frees it here. */
    assert_int_equal(node_exists(f, 0, "lock:reentrant:nest"), 1);
    assert_int_equal(lock_count(f, key, again, sizeof(again)), 1);
    assert_int_equal(m->xLock(b, key), OVS_BUSY);

    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    /* Broken: a count off by one (started at 0, or deleted below 0) leaves the key to its
     * TTL after the last release, and b waits seconds for a lock nobody holds. */
    assert_int_equal(node_exists(f, 0, "lock:reentrant:nest"), 0);
    /* Broken: a client-side count that goes on below zero would send a third release. */
    assert_int_equal(m->xUnlock(a, key), OVS_BUSY);

    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(lock_count(f, key, again, sizeof(again)), 1);
    assert_string_not_equal(again, owner); /* b's own token */
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:reentrant:nest"), 0);
}

/* A release by a client that is not the owner changes nothing: the stale holder whose lease
 * ran out while someone else took the key, and a client that never held it. */
static void test_reentrant_non_owner_release(void **state)
{
    fixture *f = *state;
    const char *key = "reentrant:owner";
    ovs_strategy *a, *b, *c;
    char owner[OVS_REDIS_TOKEN_MAX], after[OVS_REDIS_TOKEN_MAX];
    long long pttl;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "ttl=100ms,retry_count=0", 0);
    b = open_inst(f, m, "ttl=5000,retry_count=0", 1);
    c = open_inst(f, m, "retry_count=0", 2);

    assert_int_equal(m->xLock(a, key), OVS_OK);
    ovs_sleep_ns(150 * OVS_NS_PER_MS); /* a's lease runs out while a still counts 1 */
    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(lock_count(f, key, owner, sizeof(owner)), 2);
    ovs_sleep_ns(200 * OVS_NS_PER_MS);
    pttl = lock_pttl(f, key);
    assert_true(pttl > 0 && pttl <= 4800);

    /* Broken: a release script that decrements or deletes without looking at the owner
     * deletes b's lock (a thinks it holds once, b twice: either count would be hit). */
    assert_int_equal(m->xUnlock(a, key), OVS_BUSY);
    assert_non_null(strstr(a->errstr, "lock:reentrant:owner"));
    assert_int_equal(lock_count(f, key, after, sizeof(after)), 2);
    assert_string_equal(after, owner);
    /* Broken: a release that refreshes the TTL before it checks the owner. */
    assert_true(lock_pttl(f, key) <= pttl);

    assert_int_equal(m->xUnlock(c, key), OVS_BUSY); /* never held */
    assert_int_equal(lock_count(f, key, after, sizeof(after)), 2);

    assert_int_equal(m->xUnlock(b, key), OVS_OK);
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:reentrant:owner"), 0);
}

/* The TTL covers the whole nest: every re-entry sets it to the full ttl again. */
static void test_reentrant_ttl_refreshed(void **state)
{
    fixture *f = *state;
    const char *key = "reentrant:ttl";
    ovs_strategy *a;
    long long pttl;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "ttl=1000,retry_count=0", 0);

    assert_int_equal(m->xLock(a, key), OVS_OK);
    pttl = lock_pttl(f, key);
    assert_true(pttl > 800 && pttl <= 1000);
    ovs_sleep_ns(400 * OVS_NS_PER_MS);
    assert_true(lock_pttl(f, key) <= 600);
    assert_int_equal(m->xLock(a, key), OVS_OK);
    /* Broken: a re-entry that increments the count without PEXPIRE leaves about 600 ms,
     * and the lease runs out under the outer section. */
    pttl = lock_pttl(f, key);
    print_message("PTTL after re-entry at 400 ms: %lld ms\n", pttl);
    assert_true(pttl > 800 && pttl <= 1000);
    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:reentrant:ttl"), 0);
}

/* A lease that runs out inside the nest is said at the re-entry, not hidden behind a
 * fresh lock. */
static void test_reentrant_expired_inside_nest(void **state)
{
    fixture *f = *state;
    const char *key = "reentrant:expired";
    ovs_strategy *a, *b;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "ttl=100ms,retry_count=0", 0);
    b = open_inst(f, m, "retry_count=0", 1);

    assert_int_equal(m->xLock(a, key), OVS_OK);
    ovs_sleep_ns(150 * OVS_NS_PER_MS);
    /* Broken: an acquire that creates the hash whenever the key is absent (Redisson's
     * script) hands a a new nest of 1, and its outer section's lost exclusion goes
     * unnoticed; a's count and Redis's then disagree for the rest of the nest. */
    assert_int_equal(m->xLock(a, key), OVS_BUSY);
    assert_non_null(strstr(a->errstr, "expired"));
    assert_int_equal(node_exists(f, 0, "lock:reentrant:expired"), 0);
    assert_int_equal(m->xUnlock(a, key), OVS_BUSY); /* the nest is gone */
    /* The key is free for anyone, a too, afresh. */
    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
    assert_int_equal(m->xLock(a, key), OVS_OK);
    assert_int_equal(lock_count(f, key, NULL, 0), 1);
    assert_int_equal(m->xUnlock(a, key), OVS_OK);
}

/* An acquire whose reply was lost has counted once on the server: the retry, or the next
 * acquire of the same owner, must take that hold as its own instead of counting twice. The
 * lost reply is made by writing the owner's entry behind the strategy's back. */
static void test_reentrant_lost_reply_counted_once(void **state)
{
    fixture *f = *state;
    const char *key = "reentrant:lost";
    ovs_strategy *a, *b;
    char owner[OVS_REDIS_TOKEN_MAX];
    redisReply *r;

    OVS_REQUIRE_REDIS();
    a = open_inst(f, m, "retry_count=0", 0);
    b = open_inst(f, m, "retry_count=0", 1);
    assert_int_equal(m->xLock(a, "reentrant:lost-probe"), OVS_OK); /* learn a's token */
    assert_int_equal(lock_count(f, "reentrant:lost-probe", owner, sizeof(owner)), 1);
    assert_int_equal(m->xUnlock(a, "reentrant:lost-probe"), OVS_OK);

    r = node_cmd(f, 0, "HSET lock:%s %s 1", key, owner);
    freeReplyObject(r);
    r = node_cmd(f, 0, "PEXPIRE lock:%s 5000", key);
    freeReplyObject(r);
    assert_int_equal(m->xLock(a, key), OVS_OK);
    /* Broken: an acquire that adds one whenever the owner's entry exists makes it 2, and
     * the one release below leaves the key locked until its TTL. */
    assert_int_equal(lock_count(f, key, NULL, 0), 1);
    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    assert_int_equal(node_exists(f, 0, "lock:reentrant:lost"), 0);
    assert_int_equal(m->xLock(b, key), OVS_OK);
    assert_int_equal(m->xUnlock(b, key), OVS_OK);
}

typedef struct nester {
    ovs_strategy *s;
    const char *key;
    int rounds;
    atomic_int *inside;   /* holders inside the section now */
    atomic_int *overlaps; /* times a holder found someone else inside */
    int ok, failed;
} nester;

/* Each round: lock, re-enter, leave the inner section, hold on in the outer one, leave. */
static void *nest_worker(void *arg)
{
    nester *w = arg;
    const ovs_strategy_methods *sm = w->s->m;

    for (int i = 0; i < w->rounds; i++) {
        if (sm->xLock(w->s, w->key) != OVS_OK) {
            w->failed++;
            continue;
        }
        if (atomic_fetch_add(w->inside, 1) != 0)
            atomic_fetch_add(w->overlaps, 1);
        int inner = sm->xLock(w->s, w->key) == OVS_OK && sm->xUnlock(w->s, w->key) == OVS_OK;
        ovs_sleep_ns(OVS_NS_PER_MS);
        atomic_fetch_sub(w->inside, 1);
        if (sm->xUnlock(w->s, w->key) == OVS_OK && inner)
            w->ok++;
        else
            w->failed++;
    }
    return NULL;
}

/* Nests from several threads at once, one instance each: every round succeeds, and no two
 * holders are ever inside together. Broken: an inner release that frees the key lets
 * another thread in while the outer section still runs. */
static void test_reentrant_threads(void **state)
{
    fixture *f = *state;
    pthread_t th[THREADS];
    nester w[THREADS];
    atomic_int inside = 0, overlaps = 0;
    int ok = 0;

    OVS_REQUIRE_REDIS();
    for (int i = 0; i < THREADS; i++) {
        w[i] = (nester){ .key = "reentrant:threads", .rounds = 5, .inside = &inside,
                         .overlaps = &overlaps };
        w[i].s = open_inst(f, m, "retry_count=2000,retry_delay=1ms,retry_jitter=2ms", i);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, nest_worker, &w[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        assert_int_equal(w[i].failed, 0);
    }
    assert_int_equal(ok, THREADS * 5);
    assert_int_equal(atomic_load(&overlaps), 0);
    assert_int_equal(node_exists(f, 0, "lock:reentrant:threads"), 0);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reentrant_nest),
        T(test_reentrant_non_owner_release),
        T(test_reentrant_ttl_refreshed),
        T(test_reentrant_expired_inside_nest),
        T(test_reentrant_lost_reply_counted_once),
        T(test_reentrant_threads),
    };
#undef T

    /* A write to a server that just died must be an error return, not a fatal signal. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("reentrant_live", tests, group_setup, group_teardown);
}
