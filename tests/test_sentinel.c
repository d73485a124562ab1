/* test_sentinel.c - real redis-sentinel processes in a topology: they settle before the
 * run, promote the replica when master 0 is killed, and a client that found master 0
 * through them follows them to the promoted replica, as does the harness's own read.
 *
 * Live: a real master, a real replica behind the lag proxy, three real Sentinels on
 * loopback. The harness itself promotes nothing here (the only fault is the kill), so a
 * client that ends up on the replica got there through Sentinel or not at all.
 *
 * Usage: test_sentinel [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "infra/sentinel.h"
#include "infra/topology.h"
#include "locks/redis_conn.h"
#include "scenario/scenario.h"
#include "core/util.h"

#define FAILOVER_NS (20 * OVS_NS_PER_S) /* bound on kill to a write on the promoted node */

static const char scenario_text[] =
    "[scenario]\nname = t\nworkload = inventory\nstock = 5\n"
    "[client alice]\nrequest = buy sku=1\n"
    "[redis]\nreplicas = 1\nlag = 50ms\nsentinels = 3\nsentinel_down_after = 300ms\n"
    "[fault down]\nat = 1s\naction = kill\ntarget = node:0\n";

/* The role a server reports (ROLE's first element), into out; "" when it does not answer. */
static void role_of(const ovs_endpoint *ep, char *out, size_t len)
{
    char err[200];
    redisContext *c = ovs_topology_connect(ep, err, sizeof(err));
    redisReply *r = c ? redisCommand(c, "ROLE") : NULL;

    snprintf(out, len, "%s",
             r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                     r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str
                 : "");
    freeReplyObject(r);
    redisFree(c);
}

static void test_failover_followed(void **state)
{
    ovs_scenario sc;
    ovs_topology *t = NULL;
    ovs_redis r;
    redisReply *rep = NULL;
    char err[512] = "", role[32];
    ovs_fault kill0 = { 0 }, rep0 = { 0 };

    (void)state;
    assert_int_equal(ovs_scenario_parse("t.ini", scenario_text, &sc, err, sizeof(err)), 0);
    int rc = ovs_topology_start(&sc, 1, NULL, &t, err, sizeof(err));
    if (rc != 0)
        fail_msg("topology with 3 sentinels: %s", err);

    const ovs_endpoint *m0 = ovs_topology_masters(t);
    rep0.target = OVS_TARGET_REPLICA;
    const ovs_endpoint *replica = ovs_topology_node(t, &rep0);
    const ovs_endpoint before = *ovs_topology_master0(t);
    assert_non_null(m0[0].sentinels);
    assert_int_equal(m0[0].sentinels->n, 3);
    assert_non_null(replica);
    assert_int_not_equal(before.port, replica->port);

    /* Found through Sentinel: the first connect lands on master 0 itself. */
    ovs_redis_init(&r, &m0[0], 200, 500);
    if (ovs_redis_cmd(&r, &rep, "SET sentinel:k 1") != OVS_OK)
        fail_msg("SET before the failover: %s", r.errstr);
    freeReplyObject(rep);
    assert_int_equal(r.ep.port, before.port);
    role_of(replica, role, sizeof(role));
    assert_string_equal(role, "slave");

    kill0.action = OVS_FAULT_KILL;
    kill0.target = OVS_TARGET_NODE;
    char what[64];
    if (ovs_topology_fault(t, &kill0, 0, what, sizeof(what), err, sizeof(err)) != 0)
        fail_msg("kill node 0: %s", err);
    int64_t killed = ovs_now_ns(), deadline = killed + FAILOVER_NS;

    /* A client retries as the strategies do; each failed command drops the connection,
     * and the next connect asks Sentinel again. */
    int tries = 0;
    for (;; tries++) {
        rc = ovs_redis_cmd(&r, &rep, "SET sentinel:k 2");
        if (rc == OVS_OK)
            break;
        if (ovs_now_ns() >= deadline)
            fail_msg("no write succeeded within %d s of the kill (%d tries): %s",
                     (int)(FAILOVER_NS / OVS_NS_PER_S), tries, r.errstr);
        ovs_sleep_ns(50 * OVS_NS_PER_MS);
    }
    freeReplyObject(rep);
    print_message("failover followed %.2f s after the kill, %d failed tries\n",
                  (double)(ovs_now_ns() - killed) / 1e9, tries);
    assert_true(tries > 0); /* the old master was dead: some write must have failed */
    assert_int_equal(r.ep.port, replica->port);
    role_of(replica, role, sizeof(role));
    assert_string_equal(role, "master");
    /* The harness reads where the clients now write. */
    assert_int_equal(ovs_topology_master0(t)->port, replica->port);
    ovs_redis_close(&r);

    const ovs_sentinel_set set = *m0[0].sentinels;
    ovs_topology_stop(t);
    ovs_scenario_free(&sc);
    /* Stopped with the rest: no Sentinel answers any more. */
    ovs_endpoint gone;
    assert_int_equal(ovs_sentinel_master(&set, 200, &gone, err, sizeof(err)), -1);
}

/* Sentinels run through a wrapper: redis-sentinel with extra arguments after the
 * harness's own (which they override) for Sentinel `only` (-1: every one), as
 * OVERSELL_REDIS_SENTINEL. Starts a set of n and returns ovs_sentinels_start's code,
 * err filled. */
static int start_wrapped(const char *dir, int n, int only, const char *extra, char *err,
                         size_t errlen)
{
    char script[600], exe[512] = "redis-sentinel";
    const char *names[] = { "/usr/bin/redis-sentinel", "/usr/sbin/redis-sentinel" };
    ovs_endpoint master = { .host = "127.0.0.1", .port = 1 };
    ovs_sentinels_opts o = { .n = n, .dir = dir, .master = &master,
                             .down_after_ns = OVS_NS_PER_S,
                             .failover_timeout_ns = OVS_NS_PER_S };
    ovs_sentinels *s = NULL;
    FILE *fp;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (access(names[i], X_OK) == 0)
            snprintf(exe, sizeof(exe), "%s", names[i]);
    snprintf(script, sizeof(script), "%s/wrapped-sentinel", dir);
    fp = fopen(script, "w");
    assert_non_null(fp);
    if (only < 0)
        fprintf(fp, "#!/bin/sh\nexec '%s' \"$@\" %s\n", exe, extra);
    else
        fprintf(fp, "#!/bin/sh\ncase \"$1\" in */sentinel%d/*) exec '%s' \"$@\" %s;; esac\n"
                    "exec '%s' \"$@\"\n", only, exe, extra, exe);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(script, 0700), 0);
    setenv("OVERSELL_REDIS_SENTINEL", script, 1);
    int rc = ovs_sentinels_start(&o, &s, err, errlen);
    unsetenv("OVERSELL_REDIS_SENTINEL");
    ovs_sentinels_stop(s);
    unlink(script);
    return rc;
}

/* A Sentinel whose port someone else took (here: a socket of this test, listening) is
 * started again on a fresh one, a bounded number of times, and the run says so; one that
 * exits for another reason says that reason, since its log goes with the run's
 * directory. */
static void test_start_failures(void **state)
{
    char dir[] = "/tmp/oversell-sentinel-test.XXXXXX", extra[64], err[512] = "";
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    assert_non_null(mkdtemp(dir));

    snprintf(extra, sizeof(extra), "--port %d", ntohs(a.sin_port));
    assert_int_equal(start_wrapped(dir, 1, -1, extra, err, sizeof(err)), OVS_ERR_ENV);
    print_message("taken: %s\n", err);
    assert_non_null(strstr(err, "a port was taken by another process 3 times in a row"));
    /* The last of three: the first never settles while it is gone, and must not wait
     * that out as "not ready". */
    int64_t t0 = ovs_now_ns();
    assert_int_equal(start_wrapped(dir, 3, 2, extra, err, sizeof(err)), OVS_ERR_ENV);
    print_message("third taken: %s (%.1f s)\n", err, (double)(ovs_now_ns() - t0) / 1e9);
    assert_non_null(strstr(err, "a port was taken by another process 3 times in a row"));

    assert_int_equal(start_wrapped(dir, 1, -1, "--no-such-directive yes", err, sizeof(err)),
                     OVS_ERR_ENV);
    print_message("bad: %s\n", err);
    assert_non_null(strstr(err, "redis-sentinel 0 (port "));
    assert_non_null(strstr(err, "no-such-directive"));
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_followed),
        cmocka_unit_test(test_start_failures),
    };

    signal(SIGPIPE, SIG_IGN); /* a write to the killed master must fail, not kill us */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
