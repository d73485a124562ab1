/* test_fleet_clock.c - live tests of the clock shim, ovs_fleet_clock_jump and the
 * clock-jump fault (clockshim/clockshim.c, harness/infra/fleet_clock.c, fleet_faults.c,
 * topology.c).
 *
 * Real redis-server processes, one started with the shim and one without. What each test
 * would see from a broken shim or fleet: a shim that moved nothing leaves TIME and the
 * key as they were; one preloaded into every node moves the bystander's clock too; a jump
 * check that trusted the offset file would pass a node that never mapped it (the test
 * with a library that is not the shim). Without redis-server the tests skip, and fail
 * under CI=true (tests/live.h). */
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "infra/fleet.h"
#include "infra/fleet_faults.h"
#include "infra/topology.h"
#include "scenario/scenario.h"
#include "core/util.h"
#include "live.h"

#define S_US INT64_C(1000000)

typedef struct fixture {
    ovs_fleet *fleet;  /* stopped by the teardown */
    char *saved_shim;  /* $OVERSELL_CLOCKSHIM before the test, or NULL */
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    const char *v = getenv("OVERSELL_CLOCKSHIM");

    if (fx == NULL)
        return -1;
    fx->saved_shim = v != NULL ? strdup(v) : NULL;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    ovs_fleet_stop(fx->fleet);
    if (fx->saved_shim != NULL)
        setenv("OVERSELL_CLOCKSHIM", fx->saved_shim, 1);
    else
        unsetenv("OVERSELL_CLOCKSHIM");
    free(fx->saved_shim);
    free(fx);
    return 0;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * S_US + ts.tv_nsec / 1000;
}

/* Two masters, node 0 with the shim, node 1 without. */
static void start(fixture *fx)
{
    ovs_fleet_opts o = { .nodes = 2, .clock_nodes = 1u };
    char err[512] = "";
    int rc = ovs_fleet_start(&o, &fx->fleet, err, sizeof(err));

    if (rc != OVS_OK)
        fail_msg("ovs_fleet_start = %d: %s", rc, err);
}

/* One command on node i; the reply, which the caller frees. */
static redisReply *cmd(fixture *fx, int i, const char *fmt, ...)
{
    const ovs_endpoint *ep = ovs_fleet_node(fx->fleet, i);
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    redisReply *r = NULL;
    va_list ap;

    if (c == NULL || c->err)
        fail_msg("connect to node %d: %s", i, c ? c->errstr : "out of memory");
    redisSetTimeout(c, tv);
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("node %d: %s", i, c->errstr);
    redisFree(c);
    return r;
}

static int64_t node_time_us(fixture *fx, int i)
{
    redisReply *r = cmd(fx, i, "TIME");
    int64_t us;

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    us = strtoll(r->element[0]->str, NULL, 10) * S_US + strtoll(r->element[1]->str, NULL, 10);
    freeReplyObject(r);
    return us;
}

static long long pttl(fixture *fx, int i, const char *key)
{
    redisReply *r = cmd(fx, i, "PTTL %s", key);
    long long v;

    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static void set_px(fixture *fx, int i, const char *key, int ms)
{
    redisReply *r = cmd(fx, i, "SET %s v PX %d", key, ms);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* How far node i's clock is from the harness's, in microseconds. */
static int64_t skew_us(fixture *fx, int i)
{
    int64_t h0 = wall_us(), t = node_time_us(fx, i), h1 = wall_us();
    return t - (h0 + h1) / 2;
}

static void jump(fixture *fx, int i, int64_t by_ns, int64_t *before, int64_t *after)
{
    char err[512] = "";
    int rc = ovs_fleet_clock_jump(fx->fleet, i, by_ns, before, after, err, sizeof(err));
    if (rc != OVS_OK)
        fail_msg("clock jump of node %d by %lld ns = %d: %s", i, (long long)by_ns, rc, err);
}

/* +30 s: the shimmed node's TIME moves by 30 s, a key it holds with 20 s to live is gone,
 * and the node without the shim keeps the machine's clock and its key. */
static void test_jump_forward(void **state)
{
    fixture *fx = *state;
    int64_t before, after;

    OVS_REQUIRE_REDIS();
    start(fx);
    /* Before the jump, both clocks are the machine's: the shim adds nothing yet. */
    assert_true(llabs((long long)skew_us(fx, 0)) < S_US / 2);
    assert_true(llabs((long long)skew_us(fx, 1)) < S_US / 2);
    set_px(fx, 0, "k", 20000);
    set_px(fx, 1, "k", 20000);

    jump(fx, 0, 30 * OVS_NS_PER_S, &before, &after);
    assert_true(after - before >= 30 * S_US);
    assert_true(after - before < 31 * S_US);
    assert_true(skew_us(fx, 0) > 29 * S_US);
    assert_true(skew_us(fx, 0) < 31 * S_US);
    assert_int_equal(pttl(fx, 0, "k"), -2); /* expired early: 20 s before its time */
    redisReply *r = cmd(fx, 0, "EXISTS k");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);

    assert_true(llabs((long long)skew_us(fx, 1)) < S_US / 2);
    assert_true(pttl(fx, 1, "k") > 15000);
}

/* Back 5 s: a key's time to live grows by 5 s; two jumps add up. */
static void test_jump_back(void **state)
{
    fixture *fx = *state;
    int64_t before, after;
    long long ttl;

    OVS_REQUIRE_REDIS();
    start(fx);
    set_px(fx, 0, "k", 10000);
    jump(fx, 0, -5 * OVS_NS_PER_S, &before, &after);
    assert_true(after - before <= -4 * S_US);
    ttl = pttl(fx, 0, "k");
    assert_true(ttl > 13000 && ttl <= 15000);
    jump(fx, 0, 2 * OVS_NS_PER_S, &before, &after);
    assert_true(skew_us(fx, 0) > -3 * S_US - S_US / 2);
    assert_true(skew_us(fx, 0) < -3 * S_US + S_US / 2);
}

/* A restart keeps the jumped clock (the offset file outlives the process); a node started
 * without the shim cannot be jumped, and says why. */
static void test_restart_and_bystander(void **state)
{
    fixture *fx = *state;
    char err[512] = "";
    int64_t before, after;

    OVS_REQUIRE_REDIS();
    start(fx);
    jump(fx, 0, 30 * OVS_NS_PER_S, &before, &after);
    if (ovs_fleet_kill(fx->fleet, 0, err, sizeof(err)) != OVS_OK ||
        ovs_fleet_restart(fx->fleet, 0, err, sizeof(err)) != OVS_OK)
        fail_msg("kill/restart: %s", err);
    assert_true(skew_us(fx, 0) > 29 * S_US);

    assert_int_equal(ovs_fleet_clock_jump(fx->fleet, 1, OVS_NS_PER_S, &before, &after, err,
                                          sizeof(err)),
                     OVS_ERR);
    assert_non_null(strstr(err, "started without the clock shim"));
    assert_true(llabs((long long)skew_us(fx, 1)) < S_US / 2);
}

/* A library that is preloaded but is not the shim (libc itself: harmless, already
 * loaded) maps nothing and moves nothing: the jump must fail on TIME, not report a jump
 * that only the offset file saw. */
static void test_jump_that_did_not_take(void **state)
{
    fixture *fx = *state;
    char err[512] = "";
    int64_t before, after;
    Dl_info info;

    OVS_REQUIRE_REDIS();
    if (dladdr(stderr, &info) /* a FILE inside the C library */ == 0 || info.dli_fname == NULL)
        fail_msg("cannot find the C library's path");
    setenv("OVERSELL_CLOCKSHIM", info.dli_fname, 1);
    start(fx);
    assert_int_equal(ovs_fleet_clock_jump(fx->fleet, 0, 30 * OVS_NS_PER_S, &before, &after,
                                          err, sizeof(err)),
                     OVS_ERR);
    assert_non_null(strstr(err, "did not move by 30.000 s"));
    assert_true(llabs((long long)(after - before)) < S_US);
}

/* A shim that is not there fails the start, with the reason, and starts nothing. */
static void test_missing_shim(void **state)
{
    fixture *fx = *state;
    ovs_fleet_opts o = { .nodes = 2, .clock_nodes = 2u };
    char err[512] = "";

    OVS_REQUIRE_REDIS();
    setenv("OVERSELL_CLOCKSHIM", "/nonexistent/ovs-clockshim.so", 1);
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->fleet);
    assert_non_null(strstr(err, "clock shim not found"));
    /* Without a clock-jump no shim is looked for. */
    o.clock_nodes = 0;
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_OK);
}

/* Through the topology, as a run does it: only the targeted node gets the shim, and the
 * fault's event gives TIME before and after and the lease's PTTL, gone after a jump past
 * it and shortened by a jump within it. */
static void test_topology_fault(void **state)
{
    static const char text[] =
        "[scenario]\nname = t\nworkload = inventory\nstock = 1\n"
        "[client a]\nrequest = buy sku=1\n[redis]\nnodes = 2\n"
        "[fault short]\nat = 0\naction = clock-jump\ntarget = node:1\nby = 3s\n"
        "[fault long]\nat = 0\naction = clock-jump\ntarget = node:1\nby = 30s\n";
    ovs_scenario sc;
    ovs_topology *t = NULL;
    char err[512] = "", what[64] = "";
    long long ttl;

    (void)state;
    OVS_REQUIRE_REDIS();
    if (ovs_scenario_parse("t.ini", text, &sc, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    if (ovs_topology_start(&sc, 2, NULL, &t, err, sizeof(err)) != 0) {
        ovs_scenario_free(&sc);
        fail_msg("ovs_topology_start: %s", err);
    }
    redisContext *c = ovs_topology_connect(&ovs_topology_masters(t)[1], err, sizeof(err));
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "SET lock:x v PX 10000"));
    freeReplyObject(redisCommand(c, "SET stock:1 1"));
    int rc = ovs_topology_fault(t, &sc.faults[0], 0, what, sizeof(what), err, sizeof(err));
    if (rc != 0)
        fail_msg("short jump: %s", err);
    /* "TIME s.ms->s.ms PTTL before->after": the lease lost about 3 s and lives on. */
    assert_non_null(strstr(what, "TIME "));
    assert_non_null(strstr(what, " PTTL "));
    assert_null(strstr(what, "gone"));
    ttl = strtoll(strrchr(what, '>') + 1, NULL, 10);
    assert_true(ttl > 5000 && ttl <= 7000);
    rc = ovs_topology_fault(t, &sc.faults[1], 0, what, sizeof(what), err, sizeof(err));
    if (rc != 0)
        fail_msg("long jump: %s", err);
    assert_non_null(strstr(what, "->gone"));
    redisReply *r = redisCommand(c, "EXISTS lock:x");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    /* Node 0 was not targeted: it has no shim, and cannot be jumped. */
    sc.faults[0].target_node = 0;
    assert_int_not_equal(ovs_topology_fault(t, &sc.faults[0], 0, what, sizeof(what), err,
                                            sizeof(err)),
                         0);
    assert_non_null(strstr(err, "without the clock shim"));
    ovs_topology_stop(t);
    ovs_scenario_free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jump_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jump_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_bystander, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jump_that_did_not_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_shim, setup, teardown),
        cmocka_unit_test(test_topology_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
