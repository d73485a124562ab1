/* test_cluster.c - a real 3-master Redis Cluster started by the fleet, and the strategies'
 * client over it (locks/redis_cluster.c): slots from our CRC16 match CLUSTER KEYSLOT, the
 * slots cover 16384, writes reach the owner of each key on every master, a slot moved by
 * hand is followed through MOVED, a slot being migrated through ASK, a script over two
 * slots fails with CROSSSLOT naming its keys, and no server outlives the fleet's stop nor
 * a SIGKILL of the process that started it. With a replica per master: each replica is
 * its master's, the cluster (not the harness) promotes the replica of a killed master,
 * the fleet sees that, and the client, asked during the failover, retries until the
 * promoted replica answers with what the master had.
 *
 * Skips without redis-server, except under CI=true. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "core/keyslot.h"
#include "core/util.h"
#include "infra/fleet.h"
#include "infra/fleet_faults.h"
#include "locks/redis_cluster.h"
#include "locks/redis_conn.h"

#define MASTERS 3

static int in_ci(void)
{
    const char *ci = getenv("CI");
    return ci != NULL && *ci != '\0' && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;
}

static ovs_fleet *start_cluster(void)
{
    char path[PATH_MAX], err[256] = "";
    ovs_fleet_opts o = { .nodes = MASTERS, .cluster = 1 };
    ovs_fleet *f = NULL;

    if (ovs_redis_server_path(path, sizeof(path)) != 0) {
        if (in_ci())
            fail_msg("redis-server not found and CI is set");
        skip();
    }
    if (ovs_fleet_start(&o, &f, err, sizeof(err)) != OVS_OK)
        fail_msg("cluster fleet: %s", err);
    return f;
}

static redisContext *node(const ovs_fleet *f, int i)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", ovs_fleet_node(f, i)->port, tv);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("%s: no reply: %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, r->str);
    return r;
}

static void ok(redisContext *c, const char *fmt, const char *a, const char *b)
{
    freeReplyObject(cmd(c, fmt, a, b));
}

/* The master (fleet index) that owns slot, by the slots fleet_cluster.c assigned. */
static int owner_of(int slot)
{
    return slot * MASTERS / OVS_CLUSTER_SLOTS;
}

static void myid(const ovs_fleet *f, int i, char *buf, size_t len)
{
    redisContext *c = node(f, i);
    redisReply *r = cmd(c, "CLUSTER MYID");
    snprintf(buf, len, "%s", r->str);
    freeReplyObject(r);
    redisFree(c);
}

/* A key named prefix<n> whose slot master i owns. */
static void key_on(int i, const char *prefix, char *buf, size_t len)
{
    for (int n = 0;; n++) {
        snprintf(buf, len, "%s%d", prefix, n);
        if (owner_of(ovs_keyslot(buf, strlen(buf))) == i)
            return;
    }
}

static void test_slots_and_keyslot(void **state)
{
    static const char *const keys[] = { "foo", "bar", "123456789", "stock:{sku:1}",
                                        "hold:{sku:1}", "{}", "{}x", "a{}b", "a{b}c",
                                        "{a}{b}", "{user1000}.following", "}{x}", "" };
    ovs_fleet *f = start_cluster();
    (void)state;

    assert_true(ovs_fleet_is_cluster(f));
    for (int i = 0; i < MASTERS; i++) {
        redisContext *c = node(f, i);
        redisReply *r = cmd(c, "CLUSTER SLOTS");
        long long covered = 0;
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, MASTERS); /* one contiguous range per master */
        for (size_t j = 0; j < r->elements; j++)
            covered += r->element[j]->element[1]->integer - r->element[j]->element[0]->integer
                       + 1;
        assert_int_equal(covered, OVS_CLUSTER_SLOTS);
        freeReplyObject(r);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            r = cmd(c, "CLUSTER KEYSLOT %s", keys[k]);
            if (r->integer != ovs_keyslot(keys[k], strlen(keys[k])))
                fail_msg("key \"%s\": CLUSTER KEYSLOT %lld, ours %d", keys[k], r->integer,
                         ovs_keyslot(keys[k], strlen(keys[k])));
            freeReplyObject(r);
        }
        for (int n = 0; n < 200; n++) {
            char key[32];
            snprintf(key, sizeof(key), n % 2 ? "stock:sku:%d" : "x{%d}y", n);
            r = cmd(c, "CLUSTER KEYSLOT %s", key);
            assert_int_equal(r->integer, ovs_keyslot(key, strlen(key)));
            freeReplyObject(r);
        }
        redisFree(c);
    }
    ovs_fleet_stop(f);
}

static const char two_keys_src[] =
    "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) return 1";

static void test_client_routes_and_redirects(void **state)
{
    ovs_fleet *f = start_cluster();
    ovs_endpoint seed = *ovs_fleet_node(f, 0);
    ovs_redis r;
    redisReply *rep;
    pid_t pids[MASTERS];
    char key[32], moved[32], asked[32], id[MASTERS][48], where[64];
    ovs_script two = { .src = two_keys_src, .sha = "" };
    (void)state;

    for (int i = 0; i < MASTERS; i++) {
        pids[i] = ovs_fleet_pid(f, i);
        assert_true(pids[i] > 0);
        myid(f, i, id[i], sizeof(id[i]));
    }
    seed.cluster = 1;
    ovs_redis_init(&r, &seed, 1000, 1000);

    /* A key on every master, written through the client, read on its owner directly. */
    for (int i = 0; i < MASTERS; i++) {
        key_on(i, "k", key, sizeof(key));
        if (ovs_redis_cmd(&r, &rep, "SET %s %d", key, 100 + i) != OVS_OK)
            fail_msg("SET %s: %s", key, r.errstr);
        freeReplyObject(rep);
        redisContext *c = node(f, i);
        rep = cmd(c, "GET %s", key);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        assert_int_equal(atoi(rep->str), 100 + i);
        freeReplyObject(rep);
        redisFree(c);
    }
    assert_int_equal(ovs_redis_cluster_redirects(&r), 0);

    /* MOVED: a slot of master 0 handed to master 1 behind the client's back. */
    key_on(0, "m", moved, sizeof(moved));
    char slot[16];
    snprintf(slot, sizeof(slot), "%d", ovs_keyslot(moved, strlen(moved)));
    for (int i = 0; i < MASTERS; i++) {
        redisContext *c = node(f, (i + 1) % MASTERS); /* the new owner first */
        freeReplyObject(cmd(c, "CLUSTER SETSLOT %s NODE %s", slot, id[1]));
        redisFree(c);
    }
    if (ovs_redis_cmd(&r, &rep, "SET %s moved", moved) != OVS_OK)
        fail_msg("SET %s after its slot moved: %s", moved, r.errstr);
    freeReplyObject(rep);
    assert_int_equal(ovs_redis_cluster_redirects(&r), 1);
    assert_int_equal(ovs_redis_cluster_owner(&r, moved, where, sizeof(where)), 0);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", ovs_fleet_node(f, 1)->port);
    assert_string_equal(where, want);
    {
        redisContext *c = node(f, 1);
        rep = cmd(c, "GET %s", moved);
        assert_string_equal(rep->str, "moved");
        freeReplyObject(rep);
        redisFree(c);
    }
    /* The map learned it: the next command goes straight there. */
    if (ovs_redis_cmd(&r, &rep, "GET %s", moved) != OVS_OK)
        fail_msg("GET %s: %s", moved, r.errstr);
    freeReplyObject(rep);
    assert_int_equal(ovs_redis_cluster_redirects(&r), 1);

    /* ASK: a slot of master 2 migrating to master 0; the key is not on 2, so 2 sends the
     * client to 0 for this command only. */
    key_on(2, "a", asked, sizeof(asked));
    snprintf(slot, sizeof(slot), "%d", ovs_keyslot(asked, strlen(asked)));
    {
        redisContext *to = node(f, 0), *from = node(f, 2);
        ok(to, "CLUSTER SETSLOT %s IMPORTING %s", slot, id[2]);
        ok(from, "CLUSTER SETSLOT %s MIGRATING %s", slot, id[0]);
        redisFree(to);
        redisFree(from);
    }
    if (ovs_redis_cmd(&r, &rep, "SET %s asked", asked) != OVS_OK)
        fail_msg("SET %s while its slot migrates: %s", asked, r.errstr);
    freeReplyObject(rep);
    assert_int_equal(ovs_redis_cluster_redirects(&r), 2);
    assert_int_equal(ovs_redis_cluster_owner(&r, asked, where, sizeof(where)), 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", ovs_fleet_node(f, 2)->port);
    assert_string_equal(where, want); /* ASK leaves the map alone */
    {
        redisContext *c = node(f, 0);
        freeReplyObject(cmd(c, "ASKING"));
        rep = cmd(c, "GET %s", asked);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        assert_string_equal(rep->str, "asked");
        freeReplyObject(rep);
        redisFree(c);
    }

    /* A script over one hash tag runs on its owner; one over two slots is refused with
     * the key names. */
    {
        const char *kv[] = { "stock:{sku:7}", "sold:{sku:7}", "5" };
        if (ovs_redis_eval(&r, &two, 2, 1, kv, &rep) != OVS_OK)
            fail_msg("EVAL over one hash tag: %s", r.errstr);
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
    }
    {
        const char *kv[] = { "stock:sku:1", "stock:sku:2", "5" };
        assert_int_not_equal(ovs_keyslot(kv[0], strlen(kv[0])),
                             ovs_keyslot(kv[1], strlen(kv[1])));
        assert_int_equal(ovs_redis_eval(&r, &two, 2, 1, kv, &rep), OVS_ERR);
        assert_null(rep);
        if (strstr(r.errstr, "CROSSSLOT") == NULL || strstr(r.errstr, kv[0]) == NULL ||
            strstr(r.errstr, kv[1]) == NULL)
            fail_msg("CROSSSLOT error without the keys: %s", r.errstr);
    }
    ovs_redis_close(&r);

    ovs_fleet_stop(f);
    for (int i = 0; i < MASTERS; i++)
        if (kill(pids[i], 0) == 0 || errno != ESRCH)
            fail_msg("redis-server pid %d outlived the fleet's stop", (int)pids[i]);
}

/* A harness killed by SIGKILL while its cluster runs: a child process starts the cluster
 * and reports the servers' pids, then is killed. The servers die with it (their
 * PDEATHSIG); this process is their subreaper, so it reaps them and can see them gone. */
static void test_sigkill_takes_the_cluster(void **state)
{
    int fds[2], status;
    pid_t owner, pids[MASTERS];
    int64_t deadline;
    char path[PATH_MAX];
    (void)state;

    if (ovs_redis_server_path(path, sizeof(path)) != 0) {
        if (in_ci())
            fail_msg("redis-server not found and CI is set");
        skip();
    }
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(pipe(fds), 0);
    owner = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        ovs_fleet_opts o = { .nodes = MASTERS, .cluster = 1 };
        ovs_fleet *f = NULL;
        char err[256];
        pid_t mine[MASTERS] = { 0 };
        close(fds[0]);
        if (ovs_fleet_start(&o, &f, err, sizeof(err)) == OVS_OK)
            for (int i = 0; i < MASTERS; i++)
                mine[i] = ovs_fleet_pid(f, i);
        if (write(fds[1], mine, sizeof(mine)) != (ssize_t)sizeof(mine))
            _exit(1);
        for (;;)
            pause(); /* until SIGKILL */
    }
    close(fds[1]);
    if (read(fds[0], pids, sizeof(pids)) != (ssize_t)sizeof(pids))
        fail_msg("the cluster's owner reported nothing");
    close(fds[0]);
    for (int i = 0; i < MASTERS; i++)
        if (pids[i] <= 0)
            fail_msg("the owner could not start its cluster");
    kill(owner, SIGKILL);
    assert_int_equal(waitpid(owner, &status, 0), owner);
    deadline = ovs_now_ns() + 5 * OVS_NS_PER_S;
    for (int gone = 0; gone < MASTERS;) {
        while (waitpid(-1, &status, WNOHANG) > 0)
            ; /* the orphaned servers, reparented to us */
        gone = 0;
        for (int i = 0; i < MASTERS; i++)
            gone += kill(pids[i], 0) != 0 && errno == ESRCH;
        if (gone < MASTERS && ovs_now_ns() >= deadline)
            fail_msg("%d of %d cluster servers outlived their SIGKILLed owner",
                     MASTERS - gone, MASTERS);
        if (gone < MASTERS)
            ovs_sleep_ns(10 * OVS_NS_PER_MS);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* A fleet of MASTERS masters with a replica each and a short node timeout, and node
 * index of master m's replica: master m's port is what the replica replicates. */
static void test_replica_failover(void **state)
{
    char path[PATH_MAX], err[256] = "", key[32], info[64];
    ovs_fleet_opts o = { .nodes = MASTERS, .cluster = 1, .cluster_replicas = 1,
                         .cluster_node_timeout_ms = 500 };
    ovs_fleet *f = NULL;
    ovs_endpoint seed;
    ovs_redis r;
    redisReply *rep;
    int promoted = -1, rc;
    (void)state;

    if (ovs_redis_server_path(path, sizeof(path)) != 0) {
        if (in_ci())
            fail_msg("redis-server not found and CI is set");
        skip();
    }
    if (ovs_fleet_start(&o, &f, err, sizeof(err)) != OVS_OK)
        fail_msg("cluster fleet with replicas: %s", err);
    assert_int_equal(ovs_fleet_total(f), 2 * MASTERS);
    for (int m = 0; m < MASTERS; m++) {
        int i = ovs_fleet_cluster_replica(f, m, 0);
        assert_int_equal(i, MASTERS + m);
        redisContext *c = node(f, i);
        rep = cmd(c, "INFO replication");
        snprintf(info, sizeof(info), "master_port:%d\r\n", ovs_fleet_node(f, m)->port);
        if (strstr(rep->str, "role:slave") == NULL || strstr(rep->str, info) == NULL)
            fail_msg("node %d is not master %d's replica: %s", i, m, rep->str);
        freeReplyObject(rep);
        redisFree(c);
    }
    assert_int_equal(ovs_fleet_cluster_replica(f, 0, 1), -1);

    /* A key on master 0, on its replica too before the kill (WAIT). */
    seed = *ovs_fleet_node(f, 1);
    seed.cluster = 1;
    ovs_redis_init(&r, &seed, 1000, 1000);
    key_on(0, "f", key, sizeof(key));
    if (ovs_redis_cmd(&r, &rep, "SET %s before", key) != OVS_OK)
        fail_msg("SET %s: %s", key, r.errstr);
    freeReplyObject(rep);
    redisContext *c0 = node(f, 0);
    rep = cmd(c0, "WAIT 1 2000");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    redisFree(c0);

    /* Killed: the client, given 15 s, keeps asking until the cluster has promoted the
     * replica; only the cluster promotes it, so an answer proves the failover. */
    if (ovs_fleet_kill(f, 0, err, sizeof(err)) != OVS_OK)
        fail_msg("kill: %s", err);
    ovs_redis_set_deadline(&r, ovs_now_ns() + 15 * OVS_NS_PER_S);
    rc = ovs_redis_cmd(&r, &rep, "GET %s", key);
    if (rc != OVS_OK)
        fail_msg("GET %s across the failover: %s", key, r.errstr);
    assert_string_equal(rep->str, "before");
    freeReplyObject(rep);
    if (ovs_fleet_cluster_wait_failover(f, 0, 10 * OVS_NS_PER_S, &promoted, err,
                                        sizeof(err)) != OVS_OK)
        fail_msg("failover: %s", err);
    assert_int_equal(promoted, MASTERS);

    /* A client that never met the cluster, whose endpoint is the dead master: it finds
     * the map through its seeds, every node of the fleet. */
    ovs_endpoint dead = *ovs_fleet_node(f, 0);
    ovs_redis fresh;
    dead.cluster = 1;
    dead.seeds = ovs_fleet_node(f, 0);
    dead.n_seeds = ovs_fleet_total(f);
    ovs_redis_init(&fresh, &dead, 1000, 1000);
    if (ovs_redis_cmd(&fresh, &rep, "GET %s", key) != OVS_OK)
        fail_msg("GET %s from a client seeded with the dead master: %s", key, fresh.errstr);
    assert_string_equal(rep->str, "before");
    freeReplyObject(rep);
    ovs_redis_close(&fresh);

    /* The client's budget bounds it: another master killed, its replica not yet
     * promoted, a command given 300 ms fails (never sent: certainly not run). */
    key_on(1, "g", key, sizeof(key));
    if (ovs_fleet_kill(f, 1, err, sizeof(err)) != OVS_OK)
        fail_msg("kill: %s", err);
    int64_t t = ovs_now_ns();
    ovs_redis_set_deadline(&r, t + 300 * OVS_NS_PER_MS);
    rc = ovs_redis_cmd(&r, &rep, "SET %s x", key);
    assert_int_equal(rc, OVS_ERR);
    assert_true(ovs_now_ns() - t < 1500 * OVS_NS_PER_MS);
    ovs_redis_close(&r);
    ovs_fleet_stop(f);
}

/* No replica: nothing to wait for, and the wait says so at once. */
static void test_failover_needs_a_replica(void **state)
{
    ovs_fleet *f = start_cluster();
    char err[256] = "";
    int promoted = 0;
    (void)state;

    assert_int_equal(ovs_fleet_cluster_replica(f, 0, 0), -1);
    assert_int_not_equal(ovs_fleet_cluster_wait_failover(f, 0, OVS_NS_PER_S, &promoted, err,
                                                         sizeof(err)), OVS_OK);
    assert_int_equal(promoted, -1);
    assert_non_null(strstr(err, "has no replica"));
    ovs_fleet_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_and_keyslot),
        cmocka_unit_test(test_client_routes_and_redirects),
        cmocka_unit_test(test_sigkill_takes_the_cluster),
        cmocka_unit_test(test_replica_failover),
        cmocka_unit_test(test_failover_needs_a_replica),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
