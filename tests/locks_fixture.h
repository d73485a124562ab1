/* locks_fixture.h - shared set-up for the live tests of locks/ (test_locks_live.c,
 * test_locks_faults.c).
 *
 * One fleet of five masters serves a whole group; each test uses its own keys, because a
 * node paused with SIGSTOP executes the commands queued in its sockets when it resumes,
 * and those must not land on another test's key. Every test's teardown joins the test's
 * second thread if it started one, resumes all nodes, closes every instance, then stops
 * the proxies, so an assertion that jumps out of a test leaves no paused server, thread or
 * open connection behind.
 *
 * Include after <cmocka.h>. Everything is static inline: each test file uses what it
 * needs. Helpers that may fail a test (node_cmd, node_int, ...) are for the test's own
 * thread; a second thread uses node_query, which only returns NULL. */
#ifndef OVS_TEST_LOCKS_FIXTURE_H
#define OVS_TEST_LOCKS_FIXTURE_H

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <pthread.h>

#include "live.h"
#include "infra/proxy.h"
#include "engine/shop.h"
#include "locks/strategy.h"
#include "core/trace.h"
#include "engine/writeback.h"

#define NODES 5
#define MAX_INST 8

typedef struct group {
    ovs_fleet *fleet; /* NULL when there is no redis-server: the tests then skip or fail */
} group;

/* Per test: instances with the environments they point at, and what they need. */
typedef struct fixture {
    group *g;
    ovs_scenario sc;
    ovs_params param[MAX_INST];
    ovs_env env[MAX_INST];
    ovs_strategy *inst[MAX_INST];
    int n_inst;
    ovs_trace trace;
    ovs_writeback *wb;
    char dir[128];       /* temporary directory for a shop, "" when none */
    ovs_shop_loc shop;   /* the shop, when the test made one */
    ovs_shop *shop_db;   /* its db is env.shop of the next instances opened; closed in teardown,
                            after the instances */
    const ovs_endpoint *read_from; /* env.read_from of the next instances opened */
    atomic_int *frozen;            /* env.frozen of the next instances opened */
    atomic_int freeze;             /* what frozen points at in the watchdog tests; here so
                                      it outlives the instances, closed in teardown */
    ovs_crash *crash;              /* env.crash of the next instances opened */
    const char *queue_stream;      /* env.queue_stream of the next instances opened */
    const ovs_endpoint *queue_redis; /* env.queue_redis of the next instances opened */
    ovs_crash dies;                /* what crash points at in the crash tests; destroyed
                                      in teardown, after the instances */
    ovs_proxy *proxy[NODES];       /* in front of node i when the test asked for one */
    ovs_endpoint via[NODES];       /* env.redis of the next instances while use_via is set:
                                      the proxy of a node that has one, else the node */
    int use_via;
    pthread_t helper;              /* a test's second thread, joined in teardown before
                                      the instances and proxies it uses are closed */
    int helper_started;
} fixture;

static group the_group;

static inline int group_setup(void **state)
{
    ovs_fleet_opts o = { .nodes = NODES, .redis_server = NULL };
    char path[512], err[256] = "";

    *state = &the_group;
    if (ovs_redis_server_path(path, sizeof(path)) != 0)
        return 0; /* each test decides: skip, or fail under CI */
    if (ovs_fleet_start(&o, &the_group.fleet, err, sizeof(err)) != 0) {
        print_error("cannot start %d redis-server nodes: %s\n", NODES, err);
        return -1;
    }
    return 0;
}

static inline int group_teardown(void **state)
{
    group *g = *state;
    ovs_fleet_stop(g->fleet);
    g->fleet = NULL;
    return 0;
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->g = &the_group;
    f->sc.workload = OVS_INVENTORY;
    f->sc.seed = 7;
    f->sc.skus = 1;
    f->sc.stock = 3;
    atomic_init(&f->freeze, 0);
    if (ovs_crash_init(&f->dies) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline void resume_all(const fixture *f)
{
    for (int i = 0; f->g->fleet != NULL && i < NODES; i++) {
        pid_t pid = ovs_fleet_pid(f->g->fleet, i);
        if (pid > 0)
            kill(pid, SIGCONT);
    }
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    char cmd[200];

    resume_all(f);
    if (f->helper_started)
        pthread_join(f->helper, NULL);
    for (int i = 0; i < f->n_inst; i++) {
        f->inst[i]->m->xClose(f->inst[i]);
        free(f->inst[i]);
    }
    ovs_shop_close(f->shop_db);
    ovs_crash_destroy(&f->dies);
    for (int i = 0; i < NODES; i++)
        ovs_proxy_stop(f->proxy[i]);
    ovs_writeback_free(f->wb);
    ovs_trace_free(&f->trace);
    if (f->dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            return -1;
    }
    free(f);
    return 0;
}

static inline const ovs_endpoint *endpoints(const fixture *f)
{
    return ovs_fleet_endpoints(f->g->fleet);
}

/* env.event of every instance: a strategy's own steps go to the fixture's one trace. */
static inline void fixture_event(void *ctx, const char *key, int64_t start_ns, int64_t end_ns,
                                 enum ovs_outcome outcome, const char *detail)
{
    ovs_trace_add(ctx, 0, OVS_OP_NODE, key, start_ns, end_ns, outcome, detail);
}

/* xPrepare of m for f->sc on the fleet, as a run does it before any client opens. */
static inline void prepare(fixture *f, const ovs_strategy_methods *m)
{
    ovs_env prep = { .workload = f->sc.workload, .skus = f->sc.skus, .stock = f->sc.stock,
                     .redis = endpoints(f), .n_redis = NODES, .client = -1, .seed = 7 };
    char err[256];

    if (ovs_strategy_prepare(m, &prep, err, sizeof(err)) != OVS_OK)
        fail_msg("%s: xPrepare: %s", m->name, err);
}

/* Open an instance of m as client `client` with "k=v,..." over its defaults. */
static inline ovs_strategy *open_inst(fixture *f, const ovs_strategy_methods *m,
                                      const char *params, int client)
{
    char err[256];
    int i = f->n_inst;
    ovs_strategy *s;

    assert_true(i < MAX_INST);
    ovs_params_defaults(m, &f->param[i]);
    if (ovs_params_set_list(m, &f->param[i], params, err, sizeof(err)) != 0)
        fail_msg("%s: %s", m->name, err);
    f->env[i] = (ovs_env){
        .workload = f->sc.workload,
        .skus = f->sc.skus,
        .stock = f->sc.stock,
        .param = &f->param[i],
        .redis = f->use_via ? f->via : endpoints(f),
        .n_redis = NODES,
        .shop = f->shop_db ? ovs_shop_db(f->shop_db) : NULL,
        .sold = f->wb ? ovs_writeback_sold : NULL,
        .sold_ctx = f->wb,
        .event = fixture_event,
        .event_ctx = &f->trace,
        .client = client,
        .seed = 1000 + (uint64_t)client,
        .read_from = f->read_from,
        .frozen = f->frozen,
        .crash = f->crash,
        .queue_stream = f->queue_stream,
        .queue_redis = f->queue_redis,
    };
    s = calloc(1, m->size);
    assert_non_null(s);
    s->m = m;
    s->env = &f->env[i];
    f->inst[f->n_inst++] = s;
    if (m->xOpen(s, &f->env[i]) != OVS_OK)
        fail_msg("%s: xOpen: %s", m->name, s->errstr);
    return s;
}

/* A plain command on node i, for looking behind a strategy's back; NULL when it failed.
 * Safe from a test's second thread, which must not call cmocka's assertions. */
static inline redisReply *node_vquery(const fixture *f, int i, const char *fmt,
                                      va_list ap)
{
    const ovs_endpoint *ep = &endpoints(f)[i];
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    redisReply *reply = NULL;

    if (c != NULL && !c->err) {
        redisSetTimeout(c, tv);
        reply = redisvCommand(c, fmt, ap);
    }
    redisFree(c);
    return reply;
}

static inline redisReply *node_query(const fixture *f, int i, const char *fmt, ...)
{
    redisReply *reply;
    va_list ap;

    va_start(ap, fmt);
    reply = node_vquery(f, i, fmt, ap);
    va_end(ap);
    return reply;
}

/* The same from the test's own thread: a failure fails the test. */
static inline redisReply *node_cmd(const fixture *f, int i, const char *fmt, ...)
{
    redisReply *reply;
    va_list ap;

    va_start(ap, fmt);
    reply = node_vquery(f, i, fmt, ap);
    va_end(ap);
    if (reply == NULL)
        fail_msg("node %d: %s failed", i, fmt);
    return reply;
}

static inline int node_exists(const fixture *f, int i, const char *key)
{
    redisReply *r = node_cmd(f, i, "EXISTS %s", key);
    long long n = r->integer;
    freeReplyObject(r);
    return (int)n;
}

static inline long long node_int(const fixture *f, int i, const char *key)
{
    redisReply *r = node_cmd(f, i, "GET %s", key);
    long long v;

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

/* Put a proxy in front of nodes first..first+count-1: instances opened from now on reach
 * those nodes through it, the others directly. */
static inline void proxy_nodes(fixture *f, int first, int count)
{
    char err[256];

    for (int i = 0; i < NODES; i++)
        f->via[i] = endpoints(f)[i];
    for (int i = first; i < first + count; i++) {
        if (ovs_proxy_start(&endpoints(f)[i], &f->proxy[i], err, sizeof(err)) != 0)
            fail_msg("proxy for node %d: %s", i, err);
        f->via[i] = *ovs_proxy_endpoint(f->proxy[i]);
    }
    f->use_via = 1;
}

static inline void stop_nodes(const fixture *f, int first, int count)
{
    for (int i = first; i < first + count; i++)
        assert_int_equal(kill(ovs_fleet_pid(f->g->fleet, i), SIGSTOP), 0);
}

static inline int64_t ms_since(int64_t t0)
{
    return (ovs_now_ns() - t0) / OVS_NS_PER_MS;
}

/* A fresh shop file for f->sc in a directory of its own. */
static inline void create_shop(fixture *f)
{
    char err[256];

    snprintf(f->dir, sizeof(f->dir), "/tmp/ovs-locks-live.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[200];
    snprintf(path, sizeof(path), "%s/shop.db", f->dir);
    ovs_shop_loc_file(&f->shop, path);
    if (ovs_shop_create(&f->shop, &f->sc, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
}

/* A shop and a running write-back queue, for lua-decr. */
static inline void start_shop(fixture *f)
{
    char err[256];

    create_shop(f);
    if (ovs_writeback_start(&f->wb, &f->shop, f->sc.workload, 0, err, sizeof(err)) != 0)
        fail_msg("write-back: %s", err);
}

static inline int64_t shop_scalar(const fixture *f, const char *sql)
{
    char err[256];
    ovs_shop *db;
    int64_t v = -1;

    if (ovs_shop_open(&f->shop, &db, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
    assert_int_equal(ovs_shop_scalar(db, sql, &v), 0);
    ovs_shop_close(db);
    return v;
}

/* A thread of buyers base .. base + count - 1, each buying a unit of SKU 1 through s's
 * xExecute: what sold, and what failed other than by a clean no. */
typedef struct buyer_thread {
    ovs_strategy *s;
    int base, count, sold, other;
} buyer_thread;

static inline void *buy_worker(void *arg)
{
    buyer_thread *b = arg;
    ovs_request req = { .sku = 1 };

    for (int i = 0; i < b->count; i++) {
        int rc = b->s->m->xExecute(b->s, &req, b->base + i, 0);
        b->sold += rc == OVS_OK;
        b->other += rc != OVS_OK && rc != OVS_REFUSED;
    }
    return NULL;
}

#endif
