/* test_min_replicas.c - [redis] min_replicas_to_write on real servers: master 0 and its
 * replica are started with it (and the other masters without, having no replicas), and a
 * master whose only replica stops acknowledging refuses writes with NOREPLICAS, which a
 * lock reads as "not taken" (OVS_BUSY) and a Lua sale as "not sold" (OVS_BUSY), never as
 * an error of the environment.
 *
 * Live: a topology of two masters and one replica of master 0, built from a scenario as a
 * run builds it. The replica is stopped with SIGSTOP, so it sends no REPLCONF ACK and the
 * master's count of good replicas falls to 0 once the last ACK is older than the lag.
 *
 * Usage: test_min_replicas [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "infra/topology.h"
#include "locks/params.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"
#include "scenario/scenario.h"
#include "core/keys.h"
#include "core/util.h"

/* Redis refreshes its count of good replicas once a second, and an ACK counts while it is
 * at most max_lag (1 s) old in whole seconds: the refusal must come within about 3 s of
 * the stop. The bound leaves room for a loaded machine. */
#define REFUSAL_NS (10 * OVS_NS_PER_S)

static const char scenario_text[] =
    "[scenario]\nname = t\nworkload = inventory\nstock = 5\n"
    "[client alice]\nrequest = buy sku=1\n"
    "[redis]\nnodes = 2\nreplicas = 1\nmin_replicas_to_write = 1\n"
    "min_replicas_max_lag = 1s\n";

typedef struct fixture {
    ovs_scenario sc;
    ovs_topology *t;
    const ovs_endpoint *replica;
} fixture;

static int setup(void **state)
{
    static fixture f;
    char err[512] = "";

    memset(&f, 0, sizeof(f));
    if (ovs_scenario_parse("t.ini", scenario_text, &f.sc, err, sizeof(err)) != 0) {
        fprintf(stderr, "scenario: %s\n", err);
        return -1;
    }
    if (ovs_topology_start(&f.sc, 2, NULL, &f.t, err, sizeof(err)) != 0) {
        fprintf(stderr, "topology: %s\n", err);
        ovs_scenario_free(&f.sc);
        return -1;
    }
    ovs_fault rep0 = { .target = OVS_TARGET_REPLICA };
    f.replica = ovs_topology_node(f.t, &rep0);
    *state = &f;
    return f.replica ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;

    ovs_topology_stop(f->t); /* a paused replica is killed with the rest */
    ovs_scenario_free(&f->sc);
    return 0;
}

/* CONFIG GET name on ep, as text; fails the test when the server does not answer. */
static void config_get(const ovs_endpoint *ep, const char *name, char *out, size_t len)
{
    char err[200];
    redisContext *c = ovs_topology_connect(ep, err, sizeof(err));
    redisReply *r;

    if (c == NULL)
        fail_msg("%s", err);
    r = redisCommand(c, "CONFIG GET %s", name);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        fail_msg("CONFIG GET %s on port %d: %s", name, ep->port,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    snprintf(out, len, "%s", r->element[1]->str);
    freeReplyObject(r);
    redisFree(c);
}

static void test_options_reported(void **state)
{
    fixture *f = *state;
    const ovs_endpoint *m = ovs_topology_masters(f->t);
    char v[32];

    assert_int_equal(f->sc.redis.min_replicas_to_write, 1);
    assert_int_equal(f->sc.redis.min_replicas_max_lag, 1);
    config_get(&m[0], "min-replicas-to-write", v, sizeof(v));
    assert_string_equal(v, "1");
    config_get(&m[0], "min-replicas-max-lag", v, sizeof(v));
    assert_string_equal(v, "1");
    /* The replica carries it too, so that it refuses as its master did once promoted. */
    config_get(f->replica, "min-replicas-to-write", v, sizeof(v));
    assert_string_equal(v, "1");
    config_get(f->replica, "min-replicas-max-lag", v, sizeof(v));
    assert_string_equal(v, "1");
    /* Master 1 has no replicas: with the option it would refuse every write. */
    config_get(&m[1], "min-replicas-to-write", v, sizeof(v));
    assert_string_equal(v, "0");
}

/* One SET NX on master 0: OVS_OK, or OVS_ERR with r->errstr. */
static int set_nx(ovs_redis *r, const char *key)
{
    redisReply *rep = NULL;
    int rc = ovs_redis_cmd(r, &rep, "SET %s 1 NX PX 10000", key);

    freeReplyObject(rep);
    return rc;
}

static void test_lagging_replica_refuses(void **state)
{
    fixture *f = *state;
    const ovs_endpoint *m = ovs_topology_masters(f->t);
    const ovs_strategy_methods *setnx = ovs_strategy_find("setnx");
    ovs_fault pause = { .action = OVS_FAULT_PAUSE, .target = OVS_TARGET_REPLICA };
    ovs_redis r;
    ovs_params p;
    char err[512] = "", what[64];
    int rc;

    assert_non_null(setnx);
    ovs_redis_init(&r, &m[0], 500, 1000);
    /* With the replica acknowledging, writes are taken: the refusal below is the lag's. */
    if (set_nx(&r, "mr:healthy") != OVS_OK)
        fail_msg("SET NX with a healthy replica: %s", r.errstr);
    assert_false(ovs_redis_refused(&r));
    /* Stock for the Lua sale below, so that its script gets as far as its write. */
    char stock_key[OVS_STOCK_KEY_MAX];
    redisReply *set = NULL;
    ovs_stock_key(NULL, 1, stock_key, sizeof(stock_key));
    if (ovs_redis_cmd(&r, &set, "SET %s 5", stock_key) != OVS_OK)
        fail_msg("SET %s: %s", stock_key, r.errstr);
    freeReplyObject(set);

    if (ovs_topology_fault(f->t, &pause, 0, what, sizeof(what), err, sizeof(err)) != 0)
        fail_msg("pause the replica: %s", err);
    int64_t paused = ovs_now_ns();
    for (;;) {
        rc = set_nx(&r, "mr:probe");
        if (rc != OVS_OK)
            break;
        if (ovs_now_ns() - paused > REFUSAL_NS)
            fail_msg("master 0 still takes writes %d s after its replica stopped",
                     (int)(REFUSAL_NS / OVS_NS_PER_S));
        /* A key taken is still a write taken: let the next probe find it free. */
        redisReply *del = NULL;
        if (ovs_redis_cmd(&r, &del, "DEL mr:probe") != OVS_OK) {
            rc = r.err;
            break;
        }
        freeReplyObject(del);
        ovs_sleep_ns(100 * OVS_NS_PER_MS);
    }
    print_message("writes refused %.2f s after the replica stopped: %s\n",
                  (double)(ovs_now_ns() - paused) / 1e9, r.errstr);
    assert_int_equal(rc, OVS_ERR);
    assert_true(ovs_redis_refused(&r));
    assert_non_null(strstr(r.errstr, "NOREPLICAS"));

    /* The lease's acquire script meets the same refusal: the lock is not taken, and the
     * strategy says busy, not an error. */
    ovs_params_defaults(setnx, &p);
    if (ovs_params_set_list(setnx, &p, "retry_count=1,retry_delay=10,retry_jitter=0", err,
                            sizeof(err)) != 0)
        fail_msg("setnx params: %s", err);
    ovs_env env = { .workload = OVS_INVENTORY, .skus = 1, .stock = 5, .param = &p,
                    .redis = m, .n_redis = 2, .client = 0, .seed = 1 };
    ovs_strategy *s = calloc(1, setnx->size);
    assert_non_null(s);
    s->m = setnx;
    s->env = &env;
    if (setnx->xOpen(s, &env) != OVS_OK)
        fail_msg("setnx xOpen: %s", s->errstr);
    rc = setnx->xLock(s, "sku:1");
    print_message("setnx: %s\n", s->errstr);
    assert_int_equal(rc, OVS_BUSY);
    assert_int_equal(s->attempts, 2); /* refused, retried, refused: not given up at once */
    assert_non_null(strstr(s->errstr, "NOREPLICAS"));
    setnx->xClose(s);
    free(s);

    /* A Lua sale refused the same way sold nothing and is busy, not sold out. */
    ovs_script decr = { .src = ovs_redis_stock_decr_src };
    ovs_request req = { .sku = 1 };
    rc = ovs_redis_stock_sell(&r, &decr, NULL, OVS_INVENTORY, NULL, &req, 1);
    assert_int_equal(rc, OVS_BUSY);
    assert_true(ovs_redis_refused(&r));
    redisReply *left = NULL;
    if (ovs_redis_cmd(&r, &left, "GET %s", stock_key) != OVS_OK)
        fail_msg("GET %s: %s", stock_key, r.errstr);
    assert_string_equal(left->str, "5");
    freeReplyObject(left);

    /* Behind the lease's back: the lock key was never written. */
    ovs_redis_close(&r);
    char err2[200];
    redisContext *c = ovs_topology_connect(&m[0], err2, sizeof(err2));
    if (c == NULL)
        fail_msg("%s", err2);
    redisReply *ex = redisCommand(c, "EXISTS lock:sku:1");
    assert_non_null(ex);
    assert_int_equal(ex->type, REDIS_REPLY_INTEGER);
    assert_int_equal(ex->integer, 0);
    freeReplyObject(ex);
    redisFree(c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lagging_replica_refuses, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
