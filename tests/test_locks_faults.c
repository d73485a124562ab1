/* test_locks_faults.c - the lock strategies under network faults made with the in-harness
 * proxy (harness/infra/proxy.h) between a client and real redis-server processes: a reply lost
 * after its command landed, a holder whose link is slow, nodes that fall silent. Each test
 * states what a broken strategy would do, and fails on it.
 *
 * A fault that must land between two steps of a strategy is made by the test's second
 * thread, which watches the nodes directly (never through the proxy) and acts on the
 * proxy when the first step shows; the fixture joins that thread in teardown.
 *
 * Without redis-server the tests skip, except under CI=true, where they fail (live.h).
 * Waits are bounded; timing assertions leave room for sanitizer builds on two cores. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "locks_fixture.h"
#include "locks/redis_conn.h"

/* --- a lost reply ----------------------------------------------------------------------- */

/* A lost reply, made on the proxies of nodes first..first+count-1 by the test's second
 * thread. The test sets a long latency on the replies, so that a command reaches those
 * nodes and its reply does not come back; this thread waits (bounded) until lock_key
 * exists on each of them, then cuts the links, which throws the reply away along with
 * whatever the client sends while they are cut, and heals them heal_ns later. The client
 * times out, may try a give-back (lost in the cut), and retries after a retry_delay that
 * leaves the links healed by then with a second to spare, for a loaded machine. */
typedef struct lost_reply {
    fixture *f;
    const char *lock_key; /* "lock:setnx:lost" */
    int first, count;
    int64_t heal_ns;
    int landed;           /* 1 when the command was seen on every node; read after join */
} lost_reply;

static void *lost_reply_main(void *arg)
{
    lost_reply *l = arg;
    int64_t t0 = ovs_now_ns(), seen = 0;

    while (seen == 0 && ovs_now_ns() - t0 < 3 * OVS_NS_PER_S) {
        int n = 0;
        for (int i = l->first; i < l->first + l->count; i++) {
            redisReply *r = node_query(l->f, i, "EXISTS %s", l->lock_key);
            n += r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            freeReplyObject(r);
        }
        if (n == l->count)
            seen = ovs_now_ns();
        else
            ovs_sleep_ns(OVS_NS_PER_MS);
    }
    if (seen == 0)
        return NULL;
    for (int i = l->first; i < l->first + l->count; i++)
        ovs_proxy_set_mode(l->f->proxy[i], OVS_PROXY_CUT);
    l->landed = 1;
    ovs_sleep_until(seen + l->heal_ns);
    for (int i = l->first; i < l->first + l->count; i++) {
        ovs_proxy_set_latency(l->f->proxy[i], OVS_PROXY_BOTH, 0, 0, 1);
        ovs_proxy_set_mode(l->f->proxy[i], OVS_PROXY_PASS);
    }
    return NULL;
}

static void lose_next_reply(fixture *f, lost_reply *l)
{
    for (int i = l->first; i < l->first + l->count; i++)
        ovs_proxy_set_latency(f->proxy[i], OVS_PROXY_DOWN, 5 * OVS_NS_PER_S, 0, 1);
    assert_int_equal(pthread_create(&f->helper, NULL, lost_reply_main, l), 0);
    f->helper_started = 1;
}

static void join_helper(fixture *f)
{
    pthread_join(f->helper, NULL);
    f->helper_started = 0;
}

/* The value of key on node i is a token of client `client` of this process. */
static void assert_own_token(const fixture *f, int i, const char *key, int client)
{
    char prefix[64];
    redisReply *r = node_cmd(f, i, "GET %s", key);

    snprintf(prefix, sizeof(prefix), "c%d-p%ld-", client, (long)getpid());
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(strncmp(r->str, prefix, strlen(prefix)), 0);
    freeReplyObject(r);
}

/* An acquire whose reply was lost may have taken the lock. The retry, with the call's one
 * token, must find that lock its own and hold it at once, however the give-back that a
 * client may try in between fared: here it would be lost too, and a retry that did not
 * recognise its token would find the lock "taken" by itself until the TTL (10 s). */
static void check_lost_reply(fixture *f, const ovs_strategy_methods *m, const char *key)
{
    char lk[64], fk[64];
    lost_reply l = { .f = f, .lock_key = lk, .first = 0, .count = 1,
                     .heal_ns = 300 * OVS_NS_PER_MS };
    ovs_strategy *a, *b;
    long long fence0 = 0;
    int64_t t0, took;
    redisReply *r;
    int rc;

    snprintf(lk, sizeof(lk), "lock:%s", key);
    snprintf(fk, sizeof(fk), "fence:%s", key);
    r = node_cmd(f, 0, "GET %s", fk);
    if (r->type == REDIS_REPLY_STRING)
        fence0 = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    proxy_nodes(f, 0, 1);
    a = open_inst(f, m, "ttl=10000,retry_count=1,retry_delay=1200ms,retry_jitter=0,"
                        "command_timeout=100ms", 0);
    f->use_via = 0;
    b = open_inst(f, m, "retry_count=0", 1);

    lose_next_reply(f, &l);
    t0 = ovs_now_ns();
    rc = m->xLock(a, key);
    took = ms_since(t0);
    join_helper(f);
    print_message("%s: xLock %d after %lld ms, %u attempts: %s\n", m->name, rc,
                  (long long)took, a->attempts, rc == OVS_OK ? "held" : a->errstr);
    assert_true(l.landed);
    assert_int_equal(rc, OVS_OK);
    assert_int_equal(a->attempts, 2);
    assert_true(took < 4000); /* at the retry, not at the TTL (10 s) */

    assert_own_token(f, 0, lk, 0);
    assert_int_equal(m->xLock(b, key), OVS_BUSY);
    if (m->xFence != NULL) {
        /* One lease, one token: the retry that found the lease its own issued no other. */
        assert_int_equal(m->xFence(a, key), fence0 + 1);
        assert_int_equal(node_int(f, 0, fk), fence0 + 1);
    }
    /* It is the instance's own token: its compare-and-delete takes the key away. */
    assert_int_equal(m->xUnlock(a, key), OVS_OK);
    assert_int_equal(node_exists(f, 0, lk), 0);
}

static void test_setnx_lost_reply(void **state)
{
    OVS_REQUIRE_REDIS();
    check_lost_reply(*state, &ovs_strategy_setnx, "setnx:lost");
}

static void test_fencing_lost_reply(void **state)
{
    OVS_REQUIRE_REDIS();
    check_lost_reply(*state, &ovs_strategy_fencing, "fencing:lost");
}

static void test_watchdog_lost_reply(void **state)
{
    OVS_REQUIRE_REDIS();
    check_lost_reply(*state, &ovs_strategy_watchdog, "watchdog:lost");
}

/* The lost reply on three of five nodes: the first attempt locks only two and releases
 * everywhere, but the releases to the three are lost as well. The retry, with the call's
 * token, finds the three its own and holds all five at once. */
static void test_redlock_lost_reply(void **state)
{
    fixture *f = *state;
    lost_reply l = { .f = f, .lock_key = "lock:redlock:lost", .first = 2, .count = 3,
                     .heal_ns = 300 * OVS_NS_PER_MS };
    ovs_strategy *a, *b;
    int64_t t0, took;
    int rc;

    OVS_REQUIRE_REDIS();
    proxy_nodes(f, 2, 3);
    a = open_inst(f, &ovs_strategy_redlock, "ttl=10000,node_timeout=100ms,retry_count=1,"
                                            "retry_delay=1200ms,retry_jitter=0", 0);
    f->use_via = 0;
    b = open_inst(f, &ovs_strategy_redlock, "retry_count=0", 1);

    lose_next_reply(f, &l);
    t0 = ovs_now_ns();
    rc = a->m->xLock(a, "redlock:lost");
    took = ms_since(t0);
    join_helper(f);
    print_message("redlock: xLock %d after %lld ms, %u attempts: %s\n", rc, (long long)took,
                  a->attempts, rc == OVS_OK ? "held" : a->errstr);
    assert_true(l.landed);
    assert_int_equal(rc, OVS_OK);
    assert_int_equal(a->attempts, 2);
    assert_true(took < 4000); /* at the retry, not at the TTL (10 s) */
    for (int i = 0; i < NODES; i++)
        assert_own_token(f, i, "lock:redlock:lost", 0);
    assert_int_equal(b->m->xLock(b, "redlock:lost"), OVS_BUSY);
    assert_int_equal(a->m->xUnlock(a, "redlock:lost"), OVS_OK);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(node_exists(f, i, "lock:redlock:lost"), 0);
}

/* --- silent nodes ----------------------------------------------------------------------- */

/* The replies of one round are awaited against one deadline, node_timeout after the round
 * began, however many nodes are silent: each silent node's own timeout, one after the
 * other, would make a round cost a timeout per silent node, and eat the validity that the
 * answering majority had bought. */
static void test_redlock_one_deadline_per_round(void **state)
{
    fixture *f = *state;
    ovs_strategy *a;
    int64_t t0, total, first = INT64_MAX, last = 0, cut_waited = 0;
    int seen = 0;

    OVS_REQUIRE_REDIS();
    proxy_nodes(f, 2, 3);
    a = open_inst(f, &ovs_strategy_redlock, "ttl=5000,node_timeout=200ms,retry_count=0", 0);
    for (int i = 2; i < NODES; i++)
        ovs_proxy_set_mode(f->proxy[i], OVS_PROXY_CUT);
    t0 = ovs_now_ns();
    assert_int_equal(a->m->xLock(a, "redlock:deadline"), OVS_BUSY);
    total = ms_since(t0);
    assert_non_null(strstr(a->errstr, "locked 2 of 5"));

    /* The acquire round is the first NODES node events: one per node, in node order. */
    for (size_t i = 0; i < f->trace.n && seen < NODES; i++) {
        const ovs_event *e = &f->trace.ev[i];
        if (e->op != OVS_OP_NODE || strcmp(e->key, "redlock:deadline") != 0)
            continue;
        first = e->start_ns < first ? e->start_ns : first;
        last = e->end_ns > last ? e->end_ns : last;
        if (seen >= 2) {
            assert_int_equal(e->outcome, OVS_OUT_UNKNOWN);
            if (e->end_ns - e->start_ns > cut_waited)
                cut_waited = e->end_ns - e->start_ns;
        }
        seen++;
    }
    assert_int_equal(seen, NODES);
    print_message("acquire round %lld ms, whole call %lld ms\n",
                  (long long)((last - first) / OVS_NS_PER_MS), (long long)total);
    assert_true(cut_waited >= 190 * OVS_NS_PER_MS); /* the cut nodes were waited for */
    assert_true(last - first < 400 * OVS_NS_PER_MS); /* but once, not once each (600) */
    /* The acquire round and the release after it, one deadline each (before: 1200). */
    assert_true(total < 800);
    assert_int_equal(node_exists(f, 0, "lock:redlock:deadline"), 0);
    assert_int_equal(node_exists(f, 1, "lock:redlock:deadline"), 0);
}

/* --- a slow holder ---------------------------------------------------------------------- */

/* The second holder of the fencing race below: waits (bounded) until the first holder's
 * lease exists, then takes the lock as soon as that lease expires. */
typedef struct fence_race {
    fixture *f;
    ovs_strategy *b;
    int seen;      /* the first lease was seen; these are read after join */
    int rc;        /* b's xLock */
    int64_t fence; /* b's token */
} fence_race;

static void *fence_race_main(void *arg)
{
    fence_race *r = arg;
    int64_t t0 = ovs_now_ns();

    while (!r->seen && ovs_now_ns() - t0 < 3 * OVS_NS_PER_S) {
        redisReply *reply = node_query(r->f, 0, "EXISTS lock:fencing:slow");
        r->seen = reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
                  reply->integer == 1;
        freeReplyObject(reply);
        if (!r->seen)
            ovs_sleep_ns(OVS_NS_PER_MS);
    }
    if (!r->seen)
        return NULL;
    r->rc = r->b->m->xLock(r->b, "fencing:slow");
    r->fence = r->rc == OVS_OK ? r->b->m->xFence(r->b, "fencing:slow") : -1;
    return NULL;
}

/* The token is issued with the lease, in one step: a holder whose link is slow (300 ms
 * each way up) cannot get its lease first and its token after its successor's. Were they
 * two commands, A's token would be taken 300 ms after its lease began, 200 ms after that
 * lease (100 ms) expired and B took the lock with a token of its own: A's would then be
 * the higher, and the storage would prefer the stale holder's writes. */
static void test_fencing_token_with_lease(void **state)
{
    fixture *f = *state;
    const ovs_strategy_methods *m = &ovs_strategy_fencing;
    fence_race race = { .f = f, .rc = OVS_ERR };
    ovs_strategy *a;
    int64_t ta;

    OVS_REQUIRE_REDIS();
    proxy_nodes(f, 0, 1);
    a = open_inst(f, m, "ttl=100ms,retry_count=0", 0);
    f->use_via = 0;
    race.b = open_inst(f, m, "ttl=5000,retry_count=3000,retry_delay=1ms,retry_jitter=0", 1);

    ovs_proxy_set_latency(f->proxy[0], OVS_PROXY_UP, 300 * OVS_NS_PER_MS, 0, 1);
    assert_int_equal(pthread_create(&f->helper, NULL, fence_race_main, &race), 0);
    f->helper_started = 1;
    assert_int_equal(m->xLock(a, "fencing:slow"), OVS_OK);
    ta = m->xFence(a, "fencing:slow");
    join_helper(f);
    print_message("first lease: token %lld; second, after it expired: token %lld\n",
                  (long long)ta, (long long)race.fence);
    assert_true(race.seen);
    assert_int_equal(race.rc, OVS_OK);
    assert_true(ta > 0);
    assert_true(ta < race.fence);
    assert_int_equal(node_int(f, 0, "fence:fencing:slow"), race.fence);
    assert_int_equal(m->xUnlock(race.b, "fencing:slow"), OVS_OK);
    assert_int_equal(m->xUnlock(a, "fencing:slow"), OVS_BUSY); /* long expired */
}


int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_setnx_lost_reply),
        T(test_fencing_lost_reply),
        T(test_watchdog_lost_reply),
        T(test_redlock_lost_reply),
        T(test_redlock_one_deadline_per_round),
        T(test_fencing_token_with_lease),
    };
#undef T

    /* A write to a server that just died must be an error return, not a fatal signal. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("locks_faults", tests, group_setup, group_teardown);
}
