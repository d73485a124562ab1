/* test_scenario.c - the scenario parser: good files field by field, the shipped files,
 * and bad files that must be refused with the right line and reason.
 *
 * Pure logic, no servers. Every refusal is checked for its exact "path:line: " prefix as
 * well as a fragment of the reason, because the line is the part users rely on and the
 * part a reader that loses count gets wrong silently. Files go through the parser and
 * then ovs_scenario_resolve, as the command line takes them: strategy names and
 * parameters are refused by the second, with the same messages.
 *
 * Usage: test_scenario [name-filter] */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#ifndef OVS_SOURCE_DIR
#include "ovs_config.h"
#endif

#include "engine/cell.h"
#include "engine/plan.h"
#include "scenario/scenario.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"
#include "core/trace.h"
#include "core/util.h"

/* A valid inventory file and a valid booking file, with every key set to a value other
 * than its default so that a key the parser ignores shows up as a wrong field. */
static const char good_inventory[] =
    "; a comment\n"                                   /* 1 */
    "# another comment\n"                             /* 2 */
    "[scenario]\n"                                    /* 3 */
    "name = flash-sale-test\n"                        /* 4 */
    "description = Many buyers, little stock.\n"      /* 5 */
    "workload = inventory\n"                          /* 6 */
    "seed = 18446744073709551615\n"                   /* 7 */
    "skus = 3\n"                                      /* 8 */
    "stock = 100   ; inline comment\n"                /* 9 */
    "writeback_delay = 250us\n"                       /* 10 */
    "\n"                                              /* 11 */
    "[crowd]\n"                                       /* 12 */
    "buyers = 10000\n"                                /* 13 */
    "arrival = rate 250.5/s\n"                        /* 14 */
    "workers = 32\n"                                  /* 15 */
    "think = 1ms..5ms\n"                              /* 16 */
    "request = buy sku=3\n"                           /* 17 */
    "[redis]\n"                                       /* 18 */
    "nodes = 5\n"                                     /* 19 */
    "[strategy setnx]\n"                              /* 20 */
    "retry_count = 50\n"                              /* 21 */
    "retry_delay = 5ms\n"                             /* 22 */
    "[expect]\n"                                      /* 23 */
    "none = unsafe\n"                                 /* 24 */
    "setnx = safe\n";                                 /* 25 */

static const char good_booking[] =
    "[scenario]\n"
    "name = two-guests\n"
    "workload = booking\n"
    "lock = night\n"
    "\n"
    "[client alice]\n"                                /* 6 */
    "start = 0ms\n"
    "request = book hotel=1 room=101 dates=2026-01-20..2026-01-22\n"
    "think = 300ms\n"
    "\n"
    "[client bob]\n"                                  /* 11 */
    "  think = 2s\n" /* indented: a key of its own, not a continuation line */
    "\trequest = book dates=2026-02-27..2026-03-02 room=7 hotel=2\n"
    "start = 150ms\n"
    "[expect]\n"
    "sql-pessimistic = safe\n";

/* Every [redis] key and every [fault] key, on a timeline with process and thread pauses.
 * [redis] comes after the faults that depend on it: sections may be in any order. */
static const char good_faults[] =
    "[scenario]\n"                                    /* 1 */
    "name = crash-before-write-back\n"                /* 2 */
    "workload = inventory\n"                          /* 3 */
    "stock = 1\n"                                     /* 4 */
    "[client alice]\n"                                /* 5 */
    "request = buy sku=1\n"                           /* 6 */
    "think = 300ms\n"                                 /* 7 */
    "pause = process\n"                               /* 8 */
    "[client bob]\n"                                  /* 9 */
    "start = 150ms\n"                                 /* 10 */
    "request = buy sku=1\n"                           /* 11 */
    "pause = thread\n"                                /* 12 */
    "[fault crash]\n"                                 /* 13 */
    "at = 200ms\n"                                    /* 14 */
    "action = kill-restart\n"                         /* 15 */
    "target = node:2\n"                               /* 16 */
    "duration = 300ms\n"                              /* 17 */
    "recovery = rewarm-from-sql\n"                    /* 18 */
    "[fault promote-1]\n"                             /* 19 */
    "after = bob:check\n"                             /* 20 */
    "action = promote\n"                              /* 21 */
    "target = replica:1\n"                            /* 22 */
    "[fault cut-alice]\n"                             /* 23 */
    "target = link:alice:node:1\n"                    /* 24 */
    "action = cut\n"                                  /* 25 */
    "after = alice:acquire\n"                         /* 26 */
    "duration = 1s\n"                                 /* 27 */
    "[redis]\n"                                       /* 28 */
    "nodes = 3\n"                                     /* 29 */
    "replicas = 2\n"                                  /* 30 */
    "lag = 200ms\n"                                   /* 31 */
    "jitter = 10ms\n"                                 /* 32 */
    "persistence = aof\n"                             /* 33 */
    "read_from = replica\n"                           /* 34 */
    "[fault back]\n"                                  /* 35 */
    "after = alice:release\n"                         /* 36 */
    "action = restart\n"                              /* 37 */
    "target = node:0\n"                               /* 38 */
    "recovery = reconcile\n";                         /* 39 */

/* Parse and resolve, as the command line does; refused means empty. */
static int parse(const char *text, ovs_scenario *sc, char *err, size_t errlen)
{
    err[0] = '\0';
    if (ovs_scenario_parse("t.ini", text, sc, err, errlen) != 0)
        return -1;
    if (ovs_scenario_resolve(sc, err, errlen) != 0) {
        ovs_scenario_free(sc);
        return -1;
    }
    return 0;
}

static void parse_ok(const char *text, ovs_scenario *sc)
{
    char err[512];
    if (parse(text, sc, err, sizeof(err)) != 0)
        fail_msg("expected to parse, got: %s", err);
}

static int day(const char *date)
{
    int d = 0;
    assert_int_equal(ovs_parse_date(date, &d), 0);
    return d;
}

/* Index-free access to a parameter, so the test does not depend on table order. */
static double param(const ovs_strategy_methods *m, const ovs_params *p, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return p->v[i];
    fail_msg("%s has no parameter %s", m->name, name);
    return -1;
}

static void test_good_inventory(void **state)
{
    ovs_scenario sc;
    const ovs_strategy_methods *setnx = ovs_strategy_find("setnx");
    ovs_params p, q;

    (void)state;
    parse_ok(good_inventory, &sc);
    assert_string_equal(sc.path, "t.ini");
    assert_string_equal(sc.name, "flash-sale-test");
    assert_string_equal(sc.description, "Many buyers, little stock.");
    assert_int_equal(sc.workload, OVS_INVENTORY);
    assert_true(sc.seed == UINT64_MAX);
    assert_int_equal(sc.skus, 3);
    assert_int_equal(sc.stock, 100);
    assert_int_equal(sc.writeback_delay_ns, 250000);
    assert_int_equal(sc.n_clients, 0);
    assert_null(sc.clients);
    assert_int_equal(sc.has_crowd, 1);
    assert_int_equal(sc.crowd.buyers, 10000);
    assert_int_equal(sc.crowd.arrival, OVS_ARRIVE_RATE);
    assert_true(sc.crowd.rate == 250.5);
    assert_int_equal(sc.crowd.workers, 32);
    assert_int_equal(sc.crowd.think_ns, 1 * OVS_NS_PER_MS);
    assert_int_equal(sc.crowd.think_max_ns, 5 * OVS_NS_PER_MS);
    assert_int_equal(sc.crowd.req.sku, 3);
    assert_int_equal(sc.redis.nodes, 5);
    assert_int_equal(sc.redis.nodes, 5);
    assert_int_equal(sc.n_faults, 0);
    assert_null(sc.faults);
    /* The section as written, with its lines... */
    assert_int_equal(sc.n_params, 1);
    assert_string_equal(sc.params[0].name, "setnx");
    assert_int_equal(sc.params[0].line, 20);
    assert_int_equal(sc.params[0].n, 2);
    assert_string_equal(sc.params[0].kv[0].key, "retry_count");
    assert_string_equal(sc.params[0].kv[0].value, "50");
    assert_int_equal(sc.params[0].kv[0].line, 21);
    assert_string_equal(sc.params[0].kv[1].key, "retry_delay");
    assert_string_equal(sc.params[0].kv[1].value, "5ms");
    assert_int_equal(sc.params[0].kv[1].line, 22);
    /* ...and resolved against the strategy's table. */
    ovs_scenario_params_for(&sc, setnx, &q);
    assert_true(param(setnx, &q, "retry_count") == 50);
    assert_true(param(setnx, &q, "retry_delay") == 5);
    /* A key the section does not set keeps the strategy's default. */
    ovs_params_defaults(setnx, &p);
    assert_true(param(setnx, &q, "ttl") == param(setnx, &p, "ttl"));
    assert_int_equal(sc.n_expect, 2);
    assert_string_equal(sc.expect[0].name, "none");
    assert_int_equal(sc.expect[0].safe, 0);
    assert_int_equal(sc.expect[0].line, 24);
    assert_string_equal(sc.expect[1].name, "setnx");
    assert_int_equal(sc.expect[1].safe, 1);
    assert_int_equal(sc.expect[1].line, 25);
    assert_int_equal(ovs_scenario_requests(&sc), 10000);
    ovs_scenario_free(&sc);
}

/* Rates of unsafe runs after unsafe, with or without a word on stale answers; a verdict
 * alone says no rate. A parser that dropped the rate would make the gate judge "unsafe >=
 * 95%" as "unsafe in one run". */
static void test_expect_rates(void **state)
{
    ovs_scenario sc;

    (void)state;
    parse_ok("[scenario]\nname = t\nworkload = inventory\nstock = 5\n"
             "[crowd]\nbuyers = 10\nrequest = buy sku=1\n"
             "[expect]\nnone = unsafe >= 95%\nsetnx = unsafe <=5%\n"
             "cache-aside = unsafe >= 37.5% stale\nredlock = unsafe\n", &sc);
    assert_int_equal(sc.n_expect, 4);
    assert_int_equal(sc.expect[0].rate_cmp, 1);
    assert_true(sc.expect[0].rate > 0.9499 && sc.expect[0].rate < 0.9501);
    assert_int_equal(sc.expect[0].stale, -1);
    assert_int_equal(sc.expect[1].rate_cmp, -1);
    assert_true(sc.expect[1].rate > 0.0499 && sc.expect[1].rate < 0.0501);
    assert_int_equal(sc.expect[2].rate_cmp, 1);
    assert_true(sc.expect[2].rate > 0.3749 && sc.expect[2].rate < 0.3751);
    assert_int_equal(sc.expect[2].stale, 1);
    assert_int_equal(sc.expect[3].rate_cmp, 0);
    assert_int_equal(sc.expect[3].safe, 0);
    ovs_scenario_free(&sc);
}

static void test_good_booking(void **state)
{
    ovs_scenario sc;

    (void)state;
    parse_ok(good_booking, &sc);
    assert_string_equal(sc.name, "two-guests");
    assert_string_equal(sc.description, "");
    assert_int_equal(sc.workload, OVS_BOOKING);
    assert_int_equal(sc.granularity, OVS_GRAN_NIGHT);
    /* Defaults. */
    assert_true(sc.seed == 1);
    assert_int_equal(sc.writeback_delay_ns, 5 * OVS_NS_PER_MS);
    assert_int_equal(sc.redis.nodes, 0);
    assert_int_equal(sc.redis.nodes, 0);
    assert_int_equal(sc.redis.replicas, 0);
    assert_int_equal(sc.redis.lag_ns, 0);
    assert_int_equal(sc.redis.jitter_ns, 0);
    assert_int_equal(sc.redis.persistence, OVS_PERSIST_NONE);
    assert_int_equal(sc.redis.read_from_replica, 0);
    assert_int_equal(sc.redis.proxied_links, 0);
    assert_int_equal(sc.n_faults, 0);
    assert_int_equal(sc.n_params, 0);
    assert_int_equal(sc.has_crowd, 0);
    assert_int_equal(sc.clients[0].pause_process, 0);
    assert_int_equal(sc.clients[1].pause_process, 0);
    assert_int_equal(sc.clients[0].reenter, 0);
    assert_int_equal(sc.clients[1].reenter, 0);

    assert_int_equal(sc.n_clients, 2);
    assert_string_equal(sc.clients[0].name, "alice");
    assert_int_equal(sc.clients[0].line, 6);
    assert_int_equal(sc.clients[0].start_ns, 0);
    assert_int_equal(sc.clients[0].think_ns, 300 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[0].req.hotel, 1);
    assert_int_equal(sc.clients[0].req.room, 101);
    assert_int_equal(sc.clients[0].req.check_in, day("2026-01-20"));
    assert_int_equal(sc.clients[0].req.check_out, day("2026-01-22"));

    assert_string_equal(sc.clients[1].name, "bob");
    assert_int_equal(sc.clients[1].line, 11);
    assert_int_equal(sc.clients[1].start_ns, 150 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[1].think_ns, 2 * OVS_NS_PER_S);
    assert_int_equal(sc.clients[1].req.hotel, 2);
    assert_int_equal(sc.clients[1].req.room, 7);
    /* 2026 is not a leap year: 27 Feb to 2 Mar is three nights. */
    assert_int_equal(sc.clients[1].req.check_out - sc.clients[1].req.check_in, 3);

    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_sql_pessimistic), 1);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_none), -1);
    assert_int_equal(ovs_scenario_requests(&sc), 2);
    ovs_scenario_free(&sc);
}

/* `after = FAULT` on a client: the fault may come later in the file, and is found by name
 * among several; `before = CLIENT:STEP` names an earlier client. */
static void test_client_after(void **state)
{
    ovs_scenario sc;

    (void)state;
    parse_ok("[scenario]\nname = t\nworkload = inventory\nstock = 1\n"
             "[client alice]\nrequest = buy sku=1\n"
             "[client bob]\nafter = restart-0\nstart = 100ms\nbefore = alice:act\n"
             "request = buy sku=1\n"
             "[fault cut]\nat = 0ms\naction = cut\ntarget = link:alice:node:1\n"
             "[fault restart-0]\nafter = alice:acquire\naction = kill-restart\n"
             "target = node:0\n[redis]\nnodes = 2\n",
             &sc);
    assert_int_equal(sc.clients[0].after_fault, -1);
    assert_int_equal(sc.clients[1].after_fault, 1);
    assert_int_equal(sc.clients[1].start_ns, 100 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[0].before_client, -1);
    assert_int_equal(sc.clients[1].before_client, 0);
    assert_int_equal(sc.clients[1].before_step, OVS_OP_ACT);
    assert_int_equal(sc.clients[1].before_line, 10);
    assert_int_equal(sc.clients[1].after_client, -1);
    ovs_scenario_free(&sc);
    parse_ok("[scenario]\nname = t\nworkload = inventory\nstock = 1\n"
             "[client bob]\nafter = alice:acquire\nstart = 300ms\nrequest = buy sku=1\n"
             "[client alice]\nrequest = buy sku=1\n",
             &sc);
    assert_int_equal(sc.clients[0].after_client, 1);
    assert_int_equal(sc.clients[0].after_step, OVS_OP_ACQUIRE);
    assert_int_equal(sc.clients[0].after_fault, -1);
    assert_int_equal(sc.clients[1].after_client, -1);
    ovs_scenario_free(&sc);
}

static void test_good_faults(void **state)
{
    ovs_scenario sc;
    const ovs_fault *f;

    (void)state;
    parse_ok(good_faults, &sc);
    assert_int_equal(sc.n_clients, 2);
    assert_int_equal(sc.clients[0].pause_process, 1);
    assert_int_equal(sc.clients[0].think_ns, 300 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[1].pause_process, 0);
    assert_int_equal(sc.clients[1].start_ns, 150 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[0].after_fault, -1);
    assert_int_equal(sc.clients[1].after_fault, -1);

    assert_int_equal(sc.redis.nodes, 3);
    assert_int_equal(sc.redis.nodes, 3);
    assert_int_equal(sc.redis.replicas, 2);
    assert_int_equal(sc.redis.lag_ns, 200 * OVS_NS_PER_MS);
    assert_int_equal(sc.redis.jitter_ns, 10 * OVS_NS_PER_MS);
    assert_int_equal(sc.redis.persistence, OVS_PERSIST_AOF);
    assert_int_equal(sc.redis.read_from_replica, 1);
    assert_int_equal(sc.redis.proxied_links, 1); /* implied by link:alice:node:1 */

    assert_int_equal(sc.n_faults, 4);
    assert_non_null(sc.faults);
    f = &sc.faults[0];
    assert_string_equal(f->name, "crash");
    assert_int_equal(f->line, 13);
    assert_int_equal(f->at_ns, 200 * OVS_NS_PER_MS);
    assert_int_equal(f->after_client, -1);
    assert_int_equal(f->after_step, -1);
    assert_int_equal(f->action, OVS_FAULT_KILL_RESTART);
    assert_int_equal(f->target, OVS_TARGET_NODE);
    assert_int_equal(f->target_node, 2);
    assert_int_equal(f->target_client, -1);
    assert_int_equal(f->duration_ns, 300 * OVS_NS_PER_MS);
    assert_int_equal(f->recovery, OVS_RECOVER_REWARM);

    f = &sc.faults[1];
    assert_string_equal(f->name, "promote-1");
    assert_int_equal(f->line, 19);
    assert_int_equal(f->at_ns, -1);
    assert_int_equal(f->after_client, 1);
    assert_int_equal(f->after_step, OVS_OP_CHECK);
    assert_int_equal(f->action, OVS_FAULT_PROMOTE);
    assert_int_equal(f->target, OVS_TARGET_REPLICA);
    assert_int_equal(f->target_node, 1);
    assert_int_equal(f->target_client, -1);
    assert_int_equal(f->duration_ns, 0);
    assert_int_equal(f->recovery, OVS_RECOVER_NONE);

    f = &sc.faults[2];
    assert_string_equal(f->name, "cut-alice");
    assert_int_equal(f->line, 23);
    assert_int_equal(f->at_ns, -1);
    assert_int_equal(f->after_client, 0);
    assert_int_equal(f->after_step, OVS_OP_ACQUIRE);
    assert_int_equal(f->action, OVS_FAULT_CUT);
    assert_int_equal(f->target, OVS_TARGET_LINK);
    assert_int_equal(f->target_node, 1);
    assert_int_equal(f->target_client, 0);
    assert_int_equal(f->duration_ns, 1 * OVS_NS_PER_S);
    assert_int_equal(f->recovery, OVS_RECOVER_NONE);

    f = &sc.faults[3];
    assert_string_equal(f->name, "back");
    assert_int_equal(f->line, 35);
    assert_int_equal(f->at_ns, -1);
    assert_int_equal(f->after_client, 0);
    assert_int_equal(f->after_step, OVS_OP_RELEASE);
    assert_int_equal(f->action, OVS_FAULT_RESTART);
    assert_int_equal(f->target, OVS_TARGET_NODE);
    assert_int_equal(f->target_node, 0);
    assert_int_equal(f->duration_ns, 0);
    assert_int_equal(f->recovery, OVS_RECOVER_RECONCILE);
    ovs_scenario_free(&sc);
    assert_null(sc.faults);
    assert_int_equal(sc.n_faults, 0);
}

/* A clock jump forward, back, with a sign written out, timed or at a point; by_ns is 0
 * for every other action. */
static void test_clock_jump(void **state)
{
    static const struct {
        const char *by;
        int64_t ns;
    } jumps[] = {
        { "30s", 30 * OVS_NS_PER_S },
        { "+1500ms", 1500 * OVS_NS_PER_MS },
        { "-2s", -2 * OVS_NS_PER_S },
        { "60m", 3600 * OVS_NS_PER_S },
    };
    char text[1024], err[512];
    ovs_scenario sc;

    (void)state;
    for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
        snprintf(text, sizeof(text),
                 "[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
                 "[client a]\nrequest = buy sku=1\n[redis]\nnodes = 5\n"
                 "[fault j]\n%s\naction = clock-jump\ntarget = node:4\nby = %s\n"
                 "[fault k]\nat = 0\naction = kill\ntarget = node:0\n",
                 i % 2 ? "after = a:acquire" : "at = 100ms", jumps[i].by);
        if (parse(text, &sc, err, sizeof(err)) != 0)
            fail_msg("by = %s: %s", jumps[i].by, err);
        assert_int_equal(sc.n_faults, 2);
        assert_int_equal(sc.faults[0].action, OVS_FAULT_CLOCK_JUMP);
        assert_int_equal(sc.faults[0].target, OVS_TARGET_NODE);
        assert_int_equal(sc.faults[0].target_node, 4);
        assert_int_equal(sc.faults[0].by_ns, jumps[i].ns);
        assert_int_equal(sc.faults[0].at_ns, i % 2 ? -1 : 100 * OVS_NS_PER_MS);
        assert_int_equal(sc.faults[1].by_ns, 0);
        ovs_scenario_free(&sc);
    }
}

/* Each action with a target it takes, each step, each persistence, and how proxied links
 * are decided. */
static void test_fault_spellings(void **state)
{
    static const struct {
        const char *action, *target;
        enum ovs_fault_action a;
        enum ovs_target_kind t;
    } actions[] = {
        { "kill", "node:0", OVS_FAULT_KILL, OVS_TARGET_NODE },
        { "kill", "replica:0", OVS_FAULT_KILL, OVS_TARGET_REPLICA },
        { "restart", "replica:0", OVS_FAULT_RESTART, OVS_TARGET_REPLICA },
        { "kill-restart", "node:15", OVS_FAULT_KILL_RESTART, OVS_TARGET_NODE },
        { "pause", "node:1", OVS_FAULT_PAUSE, OVS_TARGET_NODE },
        { "resume", "replica:0", OVS_FAULT_RESUME, OVS_TARGET_REPLICA },
        { "promote", "replica:0", OVS_FAULT_PROMOTE, OVS_TARGET_REPLICA },
        { "cut", "link:x:node:3", OVS_FAULT_CUT, OVS_TARGET_LINK },
        { "heal", "link:x:node:0", OVS_FAULT_HEAL, OVS_TARGET_LINK },
        { "snapshot", "node:0", OVS_FAULT_SNAPSHOT, OVS_TARGET_NODE },
        { "crash", "client:x", OVS_FAULT_CRASH, OVS_TARGET_CLIENT },
    };
    static const struct {
        const char *name;
        enum ovs_op op;
    } steps[] = {
        { "acquire", OVS_OP_ACQUIRE },
        { "check", OVS_OP_CHECK },
        { "act", OVS_OP_ACT },
        { "release", OVS_OP_RELEASE },
    };
    static const char *const persist[] = { "none", "rdb", "aof" };
    char text[1024], err[512];
    ovs_scenario sc;

    (void)state;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        /* No nodes in [redis]: any node below 16 may be named. */
        snprintf(text, sizeof(text),
                 "[scenario]\nname = a\nworkload = booking\n"
                 "[client x]\nrequest = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n"
                 "[redis]\nreplicas = 1\n"
                 "[fault f]\nat = 0\naction = %s\ntarget = %s\n",
                 actions[i].action, actions[i].target);
        if (parse(text, &sc, err, sizeof(err)) != 0)
            fail_msg("%s %s: %s", actions[i].action, actions[i].target, err);
        assert_int_equal(sc.n_faults, 1);
        assert_int_equal(sc.faults[0].action, actions[i].a);
        assert_int_equal(sc.faults[0].target, actions[i].t);
        assert_int_equal(sc.faults[0].target_client,
                         actions[i].t == OVS_TARGET_LINK || actions[i].t == OVS_TARGET_CLIENT
                             ? 0
                             : -1);
        assert_int_equal(sc.faults[0].at_ns, 0);
        assert_int_equal(sc.redis.proxied_links, actions[i].t == OVS_TARGET_LINK);
        ovs_scenario_free(&sc);
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        snprintf(text, sizeof(text),
                 "[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
                 "[client a]\nrequest = buy sku=1\n[client b]\nrequest = buy sku=1\n"
                 "[fault f]\nafter = b:%s\naction = pause\ntarget = node:0\n",
                 steps[i].name);
        if (parse(text, &sc, err, sizeof(err)) != 0)
            fail_msg("%s: %s", steps[i].name, err);
        assert_int_equal(sc.faults[0].after_client, 1);
        assert_int_equal(sc.faults[0].after_step, steps[i].op);
        assert_int_equal(sc.faults[0].at_ns, -1);
        assert_int_equal(sc.faults[0].duration_ns, 0); /* pause without duration: no resume */
        ovs_scenario_free(&sc);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof(text),
                 "[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
                 "[crowd]\nbuyers = 1\nrequest = buy sku=1\n"
                 "[redis]\npersistence = %s\nlinks = direct\nread_from = master\n",
                 persist[i]);
        parse_ok(text, &sc);
        assert_int_equal(sc.redis.persistence, i);
        assert_int_equal(sc.redis.proxied_links, 0);
        assert_int_equal(sc.redis.read_from_replica, 0);
        ovs_scenario_free(&sc);
    }

    /* links = proxied without any link fault; lag with jitter equal to it; a kill-restart
     * with no duration (restart at once) and a crowd with a timed fault. */
    parse_ok("[scenario]\nname = a\nworkload = booking\n"
             "[client x]\nrequest = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n"
             "[redis]\nlinks = proxied\nreplicas = 4\nlag = 5ms\njitter = 5ms\n",
             &sc);
    assert_int_equal(sc.redis.proxied_links, 1);
    assert_int_equal(sc.redis.replicas, 4);
    assert_int_equal(sc.redis.jitter_ns, sc.redis.lag_ns);
    ovs_scenario_free(&sc);
    parse_ok("[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
             "[crowd]\nbuyers = 5\nrequest = buy sku=1\n"
             "[fault f]\nat = 1.5s\naction = kill-restart\ntarget = node:0\n",
             &sc);
    assert_int_equal(sc.faults[0].at_ns, 1500 * OVS_NS_PER_MS);
    assert_int_equal(sc.faults[0].duration_ns, 0);
    assert_int_equal(sc.faults[0].recovery, OVS_RECOVER_NONE);
    assert_int_equal(sc.redis.proxied_links, 0);
    ovs_scenario_free(&sc);
    /* After the crowd's N-th success: neither a time nor a client's step. */
    parse_ok("[scenario]\nname = a\nworkload = inventory\nstock = 3\n"
             "[crowd]\nbuyers = 5\nrequest = buy sku=1\n"
             "[fault f]\nafter = crowd:3\naction = kill\ntarget = node:0\n",
             &sc);
    assert_int_equal(sc.faults[0].at_ns, -1);
    assert_int_equal(sc.faults[0].after_crowd, 3);
    assert_int_equal(sc.faults[0].after_client, -1);
    assert_int_equal(sc.faults[0].after_step, -1);
    ovs_scenario_free(&sc);

    /* A crash of the second client at a named point of the first: the client is named by
     * its index, no node is, and nothing about links or the topology changes. */
    parse_ok("[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
             "[client a]\nrequest = buy sku=1\n[client b]\nrequest = buy sku=1\n"
             "[fault dies]\nafter = a:check\naction = crash\ntarget = client:b\n",
             &sc);
    assert_int_equal(sc.n_faults, 1);
    assert_int_equal(sc.faults[0].action, OVS_FAULT_CRASH);
    assert_int_equal(sc.faults[0].target, OVS_TARGET_CLIENT);
    assert_int_equal(sc.faults[0].target_client, 1);
    assert_int_equal(sc.faults[0].target_node, 0);
    assert_int_equal(sc.faults[0].after_client, 0);
    assert_int_equal(sc.faults[0].after_step, OVS_OP_CHECK);
    assert_int_equal(sc.faults[0].duration_ns, 0);
    assert_int_equal(sc.redis.proxied_links, 0);
    assert_int_equal(sc.redis.nodes, 0);
    ovs_scenario_free(&sc);
}

/* Defaults that depend on other values, and spellings the format allows. */
static void test_defaults_and_spellings(void **state)
{
    ovs_scenario sc;

    (void)state;
    /* workers = min(buyers, 16); arrival defaults to burst; think to 0; skus to 1. A byte
     * order mark, CRLF line ends and "key: value" are all accepted. */
    parse_ok("\xEF\xBB\xBF[scenario]\r\nname: a\r\nworkload = inventory\r\nstock = 0\r\n"
             "[crowd]\r\nbuyers = 10\r\nrequest = buy sku=1\r\n",
             &sc);
    assert_int_equal(sc.crowd.workers, 10);
    assert_int_equal(sc.crowd.arrival, OVS_ARRIVE_BURST);
    assert_int_equal(sc.crowd.think_ns, 0);
    assert_int_equal(sc.crowd.think_max_ns, 0);
    assert_int_equal(sc.skus, 1);
    assert_int_equal(sc.stock, 0);
    assert_string_equal(sc.name, "a");
    ovs_scenario_free(&sc);

    parse_ok("[scenario]\nname = a\nworkload = inventory\nstock = 1\n"
             "[crowd]\nbuyers = 100\narrival = rate 5\nrequest = buy sku=1\n",
             &sc);
    assert_int_equal(sc.crowd.workers, 16);
    assert_int_equal(sc.crowd.arrival, OVS_ARRIVE_RATE);
    assert_true(sc.crowd.rate == 5.0);
    ovs_scenario_free(&sc);

    /* The booking default granularity, and the long spelling of it. */
    parse_ok("[scenario]\nname = a\nworkload = booking\n"
             "[client x]\nrequest = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n",
             &sc);
    assert_int_equal(sc.granularity, OVS_GRAN_NIGHT);
    ovs_scenario_free(&sc);
    parse_ok("[scenario]\nname = a\nworkload = booking\nlock = hotel+check_in\n"
             "[client x]\nrequest = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n",
             &sc);
    assert_int_equal(sc.granularity, OVS_GRAN_CHECKIN);
    ovs_scenario_free(&sc);
    parse_ok("[scenario]\nname = a\nworkload = booking\nlock = hotel\n"
             "[client x]\nrequest = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n",
             &sc);
    assert_int_equal(sc.granularity, OVS_GRAN_HOTEL);
    ovs_scenario_free(&sc);
}

static void test_durations(void **state)
{
    static const struct {
        const char *text;
        int64_t ns;
    } cases[] = {
        { "150ms", 150 * OVS_NS_PER_MS }, { "2s", 2 * OVS_NS_PER_S },
        { "250us", 250000 },              { "10ns", 10 },
        { "1.5s", 1500 * OVS_NS_PER_MS }, { "0", 0 },
        { "1m", 60 * OVS_NS_PER_S },      { "0.5ms", 500000 },
    };
    char text[512], err[512];
    ovs_scenario sc;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "[scenario]\nname = a\nworkload = booking\nwriteback_delay = %s\n"
                 "[client x]\nstart = %s\nthink = %s\n"
                 "request = book hotel=1 room=1 dates=2026-01-01..2026-01-02\n",
                 cases[i].text, cases[i].text, cases[i].text);
        if (parse(text, &sc, err, sizeof(err)) != 0)
            fail_msg("%s: %s", cases[i].text, err);
        assert_int_equal(sc.writeback_delay_ns, cases[i].ns);
        assert_int_equal(sc.clients[0].start_ns, cases[i].ns);
        assert_int_equal(sc.clients[0].think_ns, cases[i].ns);
        ovs_scenario_free(&sc);
    }
}

static void test_seed(void **state)
{
    ovs_scenario a, b;

    (void)state;
    parse_ok(good_inventory, &a);
    parse_ok(good_inventory, &b);
    assert_true(a.seed == b.seed);
    ovs_scenario_free(&b);
    parse_ok("[scenario]\nname = a\nworkload = inventory\nstock = 1\nseed = 42\n"
             "[crowd]\nbuyers = 1\nrequest = buy sku=1\n",
             &b);
    assert_true(b.seed == 42);
    assert_true(a.seed != b.seed);
    ovs_scenario_free(&a);
    ovs_scenario_free(&b);
}

/* One bad file: refused with exactly "t.ini:<line>: " and a reason containing `what`, and
 * the scenario left empty. */
typedef struct bad_case {
    const char *text;
    int line;
    const char *what;
} bad_case;

#define INV "[scenario]\nname = t\nworkload = inventory\nstock = 5\n"  /* lines 1-4 */
#define BOOK "[scenario]\nname = t\nworkload = booking\n"              /* lines 1-3 */
#define CROWD "[crowd]\nbuyers = 10\nrequest = buy sku=1\n"            /* 3 lines */
#define ALICE "[client alice]\nrequest = book hotel=1 room=1 dates=2026-01-20..2026-01-22\n"
#define TL INV "[client alice]\nrequest = buy sku=1\n"                 /* lines 1-6 */

static const bad_case bad_cases[] = {
    /* structure */
    { "[scenario]\nname = t\nworkload = inventory\nstok = 5\n" CROWD, 4,
      "unknown key 'stok' in [scenario]: did you mean 'stock'?" },
    { INV "[crowd]\nbuyers = 10\nrequest = buy sku=1\nspeed = 3\n", 8,
      "unknown key 'speed' in [crowd] (known: buyers, arrival, workers, think, request, reenter)" },
    { "[scenario]\nname = t\nname = u\n", 3, "duplicate key 'name' in [scenario] (first at line 2)" },
    { INV "[crwod]\n", 5, "unknown section [crwod] (known: [scenario]" },
    { BOOK ALICE "[client bob]\n" ALICE, 7, "duplicate section [client alice] (first at line 4)" },
    { INV CROWD "[strategy setnx]\nttl = 1s\n[strategy setnx]\n", 10,
      "duplicate section [strategy setnx] (first at line 8)" },
    { INV CROWD "[scenario]\n", 8, "duplicate section [scenario] (first at line 1)" },
    { INV "[strategy redlok]\n" CROWD, 5, "unknown strategy 'redlok' in [strategy redlok]" },
    /* Names are resolved once the file has parsed: the file's other mistake comes first. */
    { INV "[strategy redlok]\n", 1, "no [crowd] or [client NAME] section" },
    { BOOK "[client]\n", 4, "[client] needs a name, like [client alice]" },
    { BOOK "[client a.b]\n", 4, "client name 'a.b' must be letters, digits, '-' or '_'" },
    { INV "[crowd big]\n", 5, "[crowd] takes no name" },
    { INV "[crowd\n", 5, "section header '[crowd' has no closing ']'" },
    { INV "[crowd] buyers = 3\n", 5, "unexpected text 'buyers = 3' after the section header" },
    { INV "this line is not ini\n", 5, "expected 'key = value', a [section] or a comment" },
    { "name = t\n[scenario]\n", 1, "'name' comes before any section" },
    { INV "[crowd]\n= 10\n", 6, "has no key before the '='" },
    { "[scenario]\nname = t\nseed =\n", 3, "'seed' has no value" },
    { "", 1, "no [scenario] section" },
    { "; nothing but a comment\n" CROWD, 1, "no [scenario] section" },
    /* missing required keys: at the section header's line */
    { "\n[scenario]\nname = t\n", 2, "[scenario] has no workload" },
    { "[scenario]\nworkload = booking\n" ALICE, 1, "[scenario] has no name" },
    { "[scenario]\nname = t\nworkload = inventory\n" CROWD, 1,
      "[scenario] has no stock (required for workload = inventory)" },
    { INV "\n[crowd]\nrequest = buy sku=1\n", 6, "[crowd] has no buyers" },
    { INV "[crowd]\nbuyers = 10\n", 5, "[crowd] has no request" },
    { BOOK ALICE "[client bob]\nthink = 1s\n", 6, "[client bob] has no request" },
    { BOOK "[expect]\nnone = unsafe\n", 1, "no [crowd] or [client NAME] section" },
    { INV CROWD BOOK, 8, "duplicate section [scenario]" },
    { BOOK ALICE "[crowd]\nbuyers = 3\n", 6,
      "[crowd] and [client ...] sections cannot both be present" },
    { INV CROWD "[client alice]\nrequest = buy sku=1\n", 8,
      "[crowd] and [client ...] sections cannot both be present" },
    /* workload-specific keys */
    { BOOK "skus = 2\n" ALICE, 4, "'skus' is only for inventory scenarios (this one is workload = booking)" },
    { BOOK "stock = 2\n" ALICE, 4, "'stock' is only for inventory scenarios" },
    { INV "lock = night\n" CROWD, 5, "'lock' is only for booking scenarios (this one is workload = inventory)" },
    /* values */
    { "[scenario]\nname = t\nworkload = shop\n", 3, "workload: 'shop' is not inventory or booking" },
    { "[scenario]\nname = Flash Sale\nworkload = inventory\n", 2,
      "name: 'Flash Sale' may only have lowercase letters, digits and '-'" },
    { "[scenario]\nname = "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nworkload = inventory\n",
      2, "is longer than 63 characters" },
    { "[scenario]\nname = t\nworkload = inventory\nseed = -1\n", 4,
      "seed: '-1' is not a whole number from 0 to 18446744073709551615" },
    { "[scenario]\nname = t\nworkload = inventory\nseed = 18446744073709551616\n", 4,
      "seed: '18446744073709551616' is not a whole number" },
    { "[scenario]\nname = t\nworkload = inventory\nstock = -1\n", 4,
      "stock: '-1' is not a whole number from 0 to" },
    { BOOK "lock = room\n", 4, "lock: 'room' is not hotel, check_in or night" },
    { BOOK "writeback_delay = 5\n", 4, "writeback_delay: '5' is not a duration" },
    /* the write-back queue */
    { INV "queue = kafka\n" CROWD, 5, "queue: 'kafka' is not memory or stream" },
    { INV "queue_apply = idempotent\n" CROWD, 5,
      "queue_apply: only a queue = stream has a consumer to crash or entries to claim" },
    { INV "queue_claim_idle = 1s\nqueue = memory\n" CROWD, 5, "queue_claim_idle: only a queue" },
    { INV "queue = stream\nqueue_apply = twice\n" CROWD, 6,
      "queue_apply: 'twice' is not plain or idempotent" },
    { INV "queue = stream\nqueue_consumer_crash = 0\n" CROWD, 6,
      "queue_consumer_crash: '0' is not a whole number from 1 to 1000000" },
    { INV "queue = stream\nqueue_claim_idle = soon\n" CROWD, 6,
      "queue_claim_idle: 'soon' is not a duration" },
    { BOOK "queue = stream\n" ALICE, 1, "queue = stream carries orders of workload = inventory" },
    { INV "queue_node = 1\n" CROWD, 5, "queue_node: only a queue = stream" },
    { INV "queue = stream\nqueue_node = 1\n" CROWD, 6,
      "queue_node: 1 needs [redis] nodes > 1 (nodes = 0)" },
    { INV "queue = stream\nqueue_node = 1\n" CROWD "[redis]\nnodes = 1\n", 6,
      "queue_node: 1 needs [redis] nodes > 1 (nodes = 1)" },
    { INV "queue = stream\nqueue_node = -1\n" CROWD, 6, "queue_node: '-1' is not a whole number" },
    { INV "queue = stream\n" CROWD "[fault f]\nat = 10ms\naction = kill-restart\n"
      "target = node:0\nrecovery = reconcile\n", 9,
      "recovery = reconcile counts the orders queued in memory, and this scenario's queue is a"
      " stream" },
    { INV "[crowd]\nbuyers = ten\n", 6, "buyers: 'ten' is not a whole number from 1 to 1000000" },
    { INV "[crowd]\nbuyers = 0\n", 6, "buyers: '0' is not a whole number from 1 to 1000000" },
    { INV "[crowd]\nbuyers = 10\nworkers = 2000\n", 7, "workers: '2000' is not a whole number from 1 to 1024" },
    { INV "[crowd]\nbuyers = 10\narrival = rate 0/s\n", 7, "must be above 0" },
    { INV "[crowd]\nbuyers = 10\narrival = trickle\n", 7,
      "arrival: 'trickle' is not burst or rate N/s (like rate 100/s)" },
    { INV "[crowd]\nbuyers = 10\nthink = 5ms..1ms\n", 7,
      "think: '5ms..1ms' has its minimum above its maximum" },
    { INV "[crowd]\nbuyers = 10\nthink = 1ms..soon\n", 7, "is not a duration or a range" },
    { BOOK "[client a]\nthink = 3 sec\n", 5,
      "think: '3 sec' is not a duration (like 150ms or 2s)" },
    { BOOK "[client a]\nstart = 2h\n", 5, "start: '2h' is not a duration" },
    { BOOK "[client a]\nstart = 61m\n", 5, "start: '61m' is longer than an hour" },
    { INV CROWD "[redis]\nnodes = 17\n", 9, "nodes: '17' is not a whole number from 1 to 16" },
    /* requests */
    { BOOK "[client a]\nrequest = book hotel=1 room=1 dates=2026-01-22..2026-01-20\n", 5,
      "request: dates: check-out 2026-01-20 is not after check-in 2026-01-22" },
    { BOOK "[client a]\nrequest = book hotel=1 dates=2026-01-20..2026-01-22\n", 5,
      "request: no room= given" },
    { BOOK "[client a]\nrequest = buy sku=1\n", 5, "request: 'buy' is for inventory scenarios" },
    { INV "[crowd]\nbuyers = 1\nrequest = buy sku=2\n", 7,
      "request: sku=2, but the scenario has skus = 1" },
    { INV "[crowd]\nbuyers = 1\nrequest = buy sku=1 sku=1\n", 7, "request: 'sku' is given twice" },
    /* strategies and expectations */
    { INV CROWD "[expect]\nnone = unsafe\nredlok = safe\n", 10,
      "unknown strategy 'redlok' in [expect]: did you mean 'redlock'? (known: none, "
      "sql-pessimistic" },
    { INV CROWD "[expect]\nnone = maybe\n", 9, "none: 'maybe' is not safe or unsafe" },
    { INV CROWD "[expect]\ncache-aside = safe stal\n", 9,
      "cache-aside: 'stal' after the verdict is not a rate of unsafe runs (>= P% or <= P%),"
      " stale (some answers stale) or fresh (none)" },
    /* A rate of unsafe runs: after unsafe only, a percentage from 0 to 100. */
    { INV CROWD "[expect]\nnone = safe >= 95%\n", 9,
      "none: a rate of unsafe runs follows unsafe only ('unsafe >= 95%'); safe is unsafe in"
      " no run" },
    { INV CROWD "[expect]\nnone = unsafe >= 95\n", 9,
      "none: '>= 95' is not a rate of unsafe runs like '>= 95%' or '<= 5%' (a percentage, 0"
      " to 100)" },
    { INV CROWD "[expect]\nnone = unsafe >= 101%\n", 9,
      "none: '>= 101%' is not a rate of unsafe runs" },
    { INV CROWD "[expect]\nnone = unsafe <= -5%\n", 9,
      "none: '<= -5%' is not a rate of unsafe runs" },
    { INV CROWD "[expect]\nnone = unsafe >= 95% often\n", 9,
      "none: 'often' after the verdict is not a rate" },
    { INV CROWD "[expect]\ncache-aside = safestale\n", 9,
      "cache-aside: 'safestale' is not safe or unsafe" },
    /* A strategy that answers no availability has no stale answers to expect. */
    { INV CROWD "[expect]\nsetnx = safe fresh\n", 9,
      "setnx: 'fresh' expects stale answers of a strategy that answers no availability" },
    { INV CROWD "[expect]\nnone = safe\nnone = unsafe\n", 10,
      "duplicate key 'none' in [expect] (first at line 9)" },
    { INV CROWD "[strategy setnx]\nretry_delay = 5ms\nttl = soon\n", 10, "ttl: 'soon' is not a duration" },
    { INV CROWD "[strategy setnx]\ntll = 5s\n", 9, "setnx has no parameter 'tll' (it has: " },
    { INV CROWD "[strategy none]\nttl = 5s\n", 9, "none has no parameter 'ttl'" },
    { INV CROWD "[expect]\nnone@oracle = safe\n", 9, "'oracle' is not a shop back end" },
    { INV CROWD "[expect]\nnone = safe\nnone@postgres = safe\n", 10,
      "'postgres' is not a shop back end" },
    /* Several: the first in the file, whichever section it is in. */
    { INV CROWD "[expect]\nredlok = safe\n[strategy setnx]\nttl = soon\n", 9,
      "unknown strategy 'redlok' in [expect]" },
    { INV CROWD "[strategy setnx]\nttl = soon\n[expect]\nredlok = safe\n", 9,
      "ttl: 'soon' is not a duration" },
    { INV CROWD "[strategy setnx]\nttl = 1s\n[strategy redlok]\nttl = soon\n", 10,
      "unknown strategy 'redlok' in [strategy redlok]: did you mean 'redlock'?" },
    /* [client] pause */
    { TL "pause = gc\n", 7, "pause: 'gc' is not thread or process" },
    /* [client] and [crowd] reenter */
    { TL "reenter = yes\n", 7, "reenter: 'yes' is not a whole number from 0 to 1" },
    { TL "reenter = 2\n", 7, "reenter: '2' is not a whole number from 0 to 1" },
    { INV "[crowd]\nbuyers = 1\nreenter = -1\nrequest = buy sku=1\n", 7,
      "reenter: '-1' is not a whole number from 0 to 1" },
    /* [redis] topology */
    { TL "[redis]\nreplicas = 5\n", 8, "replicas: '5' is not a whole number from 0 to 4" },
    { TL "[redis]\nlag = 200ms\n", 8, "lag: needs replicas >= 1" },
    { TL "[redis]\nreplicas = 1\nlag = 2h\n", 9, "lag: '2h' is not a duration" },
    { TL "[redis]\nreplicas = 1\njitter = 1ms\n", 9, "jitter: needs a lag" },
    { TL "[redis]\njitter = 20ms\nreplicas = 1\nlag = 10ms\n", 8,
      "jitter: '20ms' is more than lag = 10ms" },
    { TL "[redis]\nread_from = replica\n", 8, "read_from: replica needs replicas >= 1" },
    { TL "[redis]\nread_from = slave\n", 8, "read_from: 'slave' is not master or replica" },
    { TL "[redis]\npersistence = disk\n", 8, "persistence: 'disk' is not none, rdb or aof" },
    { TL "[redis]\nlinks = tunnel\n", 8, "links: 'tunnel' is not direct or proxied" },
    { INV CROWD "[redis]\nlinks = proxied\n", 9, "links: proxied needs [client NAME] sections" },
    /* [fault NAME]: the section */
    { TL "[fault]\n", 7, "[fault] needs a name, like [fault crash]" },
    { TL "[fault Crash]\n", 7, "fault name 'Crash' must be lowercase letters, digits or '-'" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = node:0\n[fault f]\n", 11,
      "duplicate section [fault f] (first at line 7)" },
    { TL "[fault f]\nwhen = 1s\n", 8,
      "unknown key 'when' in [fault f] (known: at, after, action, target, duration, recovery, "
      "by)" },
    { TL "[fault f]\nat = 1s\ntarget = node:0\n", 7,
      "[fault f] has no action (kill, restart, kill-restart, pause, resume, promote, cut, heal, "
      "snapshot, crash or clock-jump)" },
    { TL "[fault f]\nat = 1s\naction = kill\n", 7,
      "[fault f] has no target (node:N, replica:N, link:CLIENT:node:N or client:NAME)" },
    { TL "[fault f]\naction = kill\ntarget = node:0\n", 7, "[fault f] has no at or after" },
    /* [fault NAME]: when */
    { TL "[fault f]\nat = 1s\naction = kill\ntarget = node:0\nafter = alice:check\n", 11,
      "after: [fault f] already has at (line 8); give at or after, not both" },
    { TL "[fault f]\nafter = alice:check\nat = 1s\naction = kill\ntarget = node:0\n", 9,
      "at: [fault f] already has after (line 8)" },
    { TL "[fault f]\nat = soon\naction = kill\ntarget = node:0\n", 8,
      "at: 'soon' is not a duration (like 150ms or 2s)" },
    { TL "[fault f]\nat = 61m\naction = kill\ntarget = node:0\n", 8,
      "at: '61m' is longer than an hour" },
    { TL "[fault f]\nafter = alice\naction = kill\ntarget = node:0\n", 8,
      "after: 'alice' is not CLIENT:STEP (like alice:check" },
    { TL "[fault f]\nafter = alice:think\naction = kill\ntarget = node:0\n", 8,
      "after: 'think' in 'alice:think' is not a step (acquire, check, act or release)" },
    { TL "[fault f]\nafter = bob:check\naction = kill\ntarget = node:0\n", 8,
      "after: no [client bob] in this scenario (clients: alice)" },
    { INV CROWD "[fault f]\nafter = alice:check\naction = kill\ntarget = node:0\n", 9,
      "after: 'alice' names a client, but this scenario has no [client NAME] sections" },
    { TL "[fault f]\nafter = crowd:1\naction = kill\ntarget = node:0\n", 8,
      "after: 'crowd:1' waits for the crowd's successes, but this scenario has no [crowd]" },
    /* A client named crowd keeps its steps. */
    { TL "[fault f]\nafter = crowd:check\naction = kill\ntarget = node:0\n", 8,
      "after: no [client crowd] in this scenario (clients: alice)" },
    { "[scenario]\nname = t\nworkload = inventory\nstock = 0\n" CROWD
      "[fault f]\nafter = crowd:1\naction = kill\ntarget = node:0\n", 9,
      "after: 'crowd:1' waits for a sale, and with stock = 0 there is none to make" },
    { "[scenario]\nname = t\nworkload = inventory\nstock = 50\n" CROWD
      "[fault f]\nafter = crowd:11\naction = kill\ntarget = node:0\n", 9,
      "after: 'crowd:11' is not crowd:N with N from 1 to 10 (the crowd's requests that "
      "succeeded: at most one per buyer)" },
    { INV CROWD "[fault f]\nafter = crowd:0\naction = kill\ntarget = node:0\n", 9,
      "after: 'crowd:0' is not crowd:N with N from 1 to 5 (the crowd's requests that "
      "succeeded: at most the stock)" },
    { INV CROWD "[fault f]\nafter = crowd:6\naction = kill\ntarget = node:0\n", 9,
      "after: 'crowd:6' is not crowd:N with N from 1 to 5" },
    { INV CROWD "[fault f]\nafter = crowd:many\naction = kill\ntarget = node:0\n", 9,
      "after: 'crowd:many' is not crowd:N" },
    { BOOK "[crowd]\nbuyers = 4\nrequest = book hotel=1 room=1 dates=2026-01-20..2026-01-22\n"
           "[fault f]\nafter = crowd:5\naction = kill\ntarget = node:0\n", 8,
      "after: 'crowd:5' is not crowd:N with N from 1 to 4 (the crowd's requests that "
      "succeeded: at most one per buyer)" },
    /* [client NAME] after = FAULT: a start counted from a fault's end */
    { TL "[client bob]\nafter = restart\nrequest = buy sku=1\n", 8,
      "after: no [fault restart] in this file (a client starts after a fault, named by its "
      "section, or after a step, CLIENT:STEP)" },
    { TL "[client bob]\nafter = f\nrequest = buy sku=1\n"
         "[fault f]\nafter = bob:acquire\naction = kill\ntarget = node:0\n", 8,
      "after: [fault f] follows bob:acquire, bob's own step: bob would wait for itself" },
    { TL "[client bob]\nafter = f\nrequest = buy sku=1\n"
         "[client carol]\nafter = g\nrequest = buy sku=1\n"
         "[fault f]\nat = 10ms\naction = pause\ntarget = node:0\nduration = 10ms\n"
         "[fault g]\nafter = bob:check\naction = kill\ntarget = node:0\n", 11,
      "after: [fault g] follows bob:check, a step of bob, who starts after something too; a "
      "start waits for one step or fault, not a chain" },
    { TL "[client bob]\nafter = bob:acquire\nrequest = buy sku=1\n", 8,
      "after: bob:acquire, bob's own step: bob would wait for itself" },
    { TL "[client bob]\nafter = alice:think\nrequest = buy sku=1\n", 8,
      "after: 'think' in 'alice:think' is not a step (acquire, check, act or release)" },
    { TL "[client bob]\nafter = alice:acquire\nrequest = buy sku=1\n"
         "[client carol]\nafter = bob:check\nrequest = buy sku=1\n", 11,
      "after: bob:check, a step of bob, who starts after something too; a start waits for "
      "one step or fault, not a chain" },
    /* [client NAME] before = CLIENT:STEP: an order the run must show */
    { TL "[client bob]\nbefore = alice:think\nrequest = buy sku=1\n", 8,
      "before: 'think' in 'alice:think' is not a step (acquire, check, act or release)" },
    { TL "[client bob]\nbefore = carol:act\nrequest = buy sku=1\n", 8,
      "before: no [client carol] in this scenario (clients: alice, bob)" },
    { TL "[client bob]\nbefore = bob:act\nrequest = buy sku=1\n", 8,
      "before: bob:act names bob itself: a request starts before its own steps anyway" },
    /* [fault NAME]: what and on what */
    { TL "[fault f]\nat = 0\naction = explode\ntarget = node:0\n", 9,
      "action: 'explode' is not kill, restart, kill-restart, pause, resume, promote, cut, "
      "heal, snapshot, crash or clock-jump" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = disk:0\n", 10,
      "target: 'disk:0' is not node:N, replica:N, link:CLIENT:node:N or client:NAME (like "
      "node:0, link:alice:node:1 or client:alice)" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = node:+1\n", 10,
      "target: 'node:+1' is not node:N, replica:N, link:CLIENT:node:N or client:NAME" },
    { TL "[fault f]\nat = 0\naction = cut\ntarget = link:alice:1\n", 10,
      "target: 'link:alice:1' is not node:N, replica:N, link:CLIENT:node:N or client:NAME" },
    /* [fault NAME]: a client's crash */
    { TL "[fault f]\nat = 0\naction = crash\ntarget = client:\n", 10,
      "target: 'client:' is not node:N, replica:N, link:CLIENT:node:N or client:NAME" },
    { TL "[fault f]\nat = 0\naction = crash\ntarget = client:bob\n", 10,
      "target: no [client bob] in this scenario (clients: alice)" },
    { INV CROWD "[fault f]\nat = 0\naction = crash\ntarget = client:alice\n", 11,
      "target: 'alice' names a client, but this scenario has no [client NAME] sections (a "
      "[crowd] has no named clients)" },
    { TL "[fault f]\nat = 0\naction = crash\ntarget = client:alice\nduration = 1s\n", 11,
      "duration: a crash is for good (the client never comes back); leave duration out" },
    { TL "[fault f]\nat = 0\naction = crash\ntarget = node:0\n", 10,
      "target: action = crash acts on a client (client:NAME), not 'node:0'" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = client:alice\n", 10,
      "target: action = kill acts on a node or a replica (node:N or replica:N), not "
      "'client:alice'" },
    { TL "[fault f]\nat = 0\naction = crash\ntarget = client:alice\nrecovery = none\n", 11,
      "recovery: not for action = crash" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = node:16\n", 10,
      "target: 'node:16' names node 16, but nodes are 0 to 15" },
    { TL "[redis]\nnodes = 3\n[fault f]\nat = 0\naction = kill\ntarget = node:3\n", 12,
      "target: 'node:3' names node 3, but [redis] has nodes = 3 (numbered from 0)" },
    { TL "[redis]\nnodes = 2\n[fault f]\nat = 0\naction = cut\ntarget = link:alice:node:2\n",
      12, "names node 2, but [redis] has nodes = 2" },
    { TL "[fault f]\nat = 0\naction = promote\ntarget = replica:0\n", 10,
      "target: 'replica:0' names replica 0, but [redis] has no replicas (set replicas = N)" },
    { TL "[redis]\nreplicas = 2\n[fault f]\nat = 0\naction = promote\ntarget = replica:2\n",
      12, "target: 'replica:2' names replica 2, but [redis] has replicas = 2 (numbered "
                "from 0)" },
    { TL "[fault f]\nat = 0\naction = cut\ntarget = link:bob:node:0\n", 10,
      "target: no [client bob] in this scenario (clients: alice)" },
    { TL "[redis]\nreplicas = 1\n[fault f]\nat = 0\naction = promote\ntarget = node:0\n", 12,
      "target: action = promote acts on a replica (replica:N), not 'node:0'" },
    { TL "[fault f]\nat = 0\naction = cut\ntarget = node:0\n", 10,
      "target: action = cut acts on a link (link:CLIENT:node:N), not 'node:0'" },
    { TL "[fault f]\nat = 0\ntarget = link:alice:node:0\naction = pause\n", 9,
      "target: action = pause acts on a node or a replica (node:N or replica:N), not "
      "'link:alice:node:0'" },
    { TL "[redis]\nlinks = direct\n[fault f]\nat = 0\naction = cut\n"
         "target = link:alice:node:0\n",
      12, "target: 'link:alice:node:0' is a link, but [redis] has links = direct (line 8)" },
    /* [fault NAME]: a clock jump needs a node and a distance other than 0 */
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\n", 7,
      "[fault f] has action = clock-jump but no by: say how far the clock moves" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = 0\n", 11,
      "by: '0' moves the clock by nothing" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = -0s\n", 11,
      "by: '-0s' moves the clock by nothing" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = 30\n", 11,
      "by: '30' is not a duration with an optional sign (like 30s or -2s)" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = --3s\n", 11,
      "by: '--3s' is not a duration with an optional sign" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = 2h\n", 11,
      "by: '2h' is not a duration" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = 61m\n", 11,
      "by: '61m' is longer than an hour" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = link:alice:node:0\nby = 3s\n",
      10, "target: action = clock-jump acts on a node (node:N), not 'link:alice:node:0'" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = client:alice\nby = 3s\n", 10,
      "target: action = clock-jump acts on a node (node:N), not 'client:alice'" },
    { TL "[redis]\nreplicas = 1\n[fault f]\nat = 0\naction = clock-jump\ntarget = replica:0\n"
      "by = 3s\n", 12, "target: action = clock-jump acts on a node (node:N), not 'replica:0'" },
    { TL "[redis]\nnodes = 3\n[fault f]\nat = 0\naction = clock-jump\ntarget = node:3\n"
      "by = 3s\n", 12, "target: 'node:3' names node 3, but [redis] has nodes = 3" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = node:0\nby = 3s\n", 11,
      "by: not for action = kill (only clock-jump takes one)" },
    { TL "[fault f]\nat = 0\naction = clock-jump\ntarget = node:0\nby = 3s\nduration = 1s\n",
      12, "duration: not for action = clock-jump" },
    /* [fault NAME]: duration and recovery */
    { TL "[fault f]\nat = 0\naction = kill-restart\ntarget = node:0\nduration = 3 sec\n", 11,
      "duration: '3 sec' is not a duration" },
    { TL "[fault f]\nat = 0\naction = kill\ntarget = node:0\nduration = 1s\n", 11,
      "duration: not for action = kill (only kill-restart, pause and cut take one)" },
    { TL "[fault f]\nat = 0\naction = restart\ntarget = node:0\nrecovery = maybe\n", 11,
      "recovery: 'maybe' is not none, rewarm-from-sql or reconcile" },
    { TL "[fault f]\nat = 0\naction = pause\ntarget = node:0\nrecovery = none\n", 11,
      "recovery: not for action = pause (only restart and kill-restart take one)" },
    { BOOK ALICE "[fault f]\nat = 0\naction = restart\ntarget = node:0\nrecovery = reconcile\n",
      10, "recovery: 'reconcile' is only for inventory scenarios" },
    /* [redis] cluster */
    { TL "[redis]\ncluster = 2\n", 8, "cluster: '2' is not a whole number from 3 to 16" },
    { TL "[redis]\ncluster = 3\nnodes = 4\n", 9,
      "nodes: 4, but cluster = 3 (line 8) already says how many masters there are" },
    { TL "[redis]\ncluster = 3\nreplicas = 1\n", 8, "cluster: cannot go with replicas" },
    { TL "[redis]\nreplicas = 1\nsentinels = 3\ncluster = 3\n", 10,
      "cluster: cannot go with replicas" },
    { TL "[redis]\ncluster = 3\n[fault f]\nat = 0\naction = restart\ntarget = node:1\n"
         "recovery = reconcile\n", 13, "recovery: [redis] has a cluster" },
    { TL "[redis]\ncluster = 3\n[fault f]\nat = 0\naction = cut\n"
         "target = link:alice:node:1\n", 12, "target: [redis] has a cluster" },
    { TL "[redis]\ncluster = 3\n[fault f]\nat = 0\naction = kill\ntarget = node:1\n", 11,
      "action: [redis] has a cluster whose masters have no replicas (cluster_replicas = 0)" },
    { TL "[redis]\ncluster = 3\ncluster_replicas = 1\n[fault f]\nat = 0\n"
         "action = kill-restart\ntarget = node:1\nduration = 1s\n", 12,
      "action: [redis] has a cluster: no restart with it" },
    { TL "[redis]\ncluster = 3\ncluster_replicas = 1\n[fault f]\nat = 0\n"
         "action = pause\ntarget = node:1\nduration = 1s\n", 12,
      "action: [redis] has cluster_replicas: no pause with them" },
    { TL "[redis]\ncluster_replicas = 1\n", 8, "cluster_replicas: needs cluster = N" },
    { TL "[redis]\ncluster_node_timeout = 1s\n", 8, "cluster_node_timeout: needs cluster = N" },
    { TL "[redis]\ncluster = 3\ncluster_replicas = 3\n", 9,
      "cluster_replicas: '3' is not a whole number from 0 to 2" },
    { TL "[redis]\ncluster = 8\ncluster_replicas = 2\n", 9,
      "cluster_replicas: 8 masters with 2 replicas each are more than the 20 servers" },
    { TL "[redis]\ncluster = 3\ncluster_node_timeout = 1.5ms\n", 9,
      "cluster_node_timeout: '1.5ms' is not a whole number of milliseconds" },
    { INV "queue = stream\n[client alice]\nrequest = buy sku=1\n[redis]\ncluster = 3\n", 9,
      "cluster: cannot go with [scenario] queue = stream" },
    { BOOK ALICE "[redis]\ncluster = 3\n", 7, "cluster: inventory only for now" },
    { INV "queue = stream\n[client alice]\nrequest = buy sku=1\n[fault f]\nat = 0\n"
      "action = clock-jump\ntarget = node:0\nby = 30s\n", 11,
      "target: node:0 keeps the write-back stream" },
    { INV "queue = stream\nqueue_node = 1\n[client alice]\nrequest = buy sku=1\n[redis]\n"
      "nodes = 2\n[fault f]\nat = 0\naction = clock-jump\ntarget = node:1\nby = 30s\n", 14,
      "target: node:1 keeps the write-back stream" },
    /* [redis] sentinels */
    { TL "[redis]\nsentinels = 3\n", 8, "sentinels: needs replicas >= 1" },
    { TL "[redis]\nreplicas = 1\nsentinels = 6\n", 9,
      "sentinels: '6' is not a whole number from 1 to 5" },
    { TL "[redis]\nreplicas = 1\nsentinels = 0\n", 9,
      "sentinels: '0' is not a whole number from 1 to 5" },
    { TL "[redis]\nreplicas = 1\nsentinel_down_after = 1s\n", 9,
      "sentinel_down_after: needs sentinels >= 1" },
    { TL "[redis]\nreplicas = 1\nsentinel_failover_timeout = 1s\n", 9,
      "sentinel_failover_timeout: needs sentinels >= 1" },
    { TL "[redis]\nreplicas = 1\nsentinels = 3\nsentinel_down_after = 500us\n", 10,
      "sentinel_down_after: '500us' is not a whole number of milliseconds from 1ms" },
    { TL "[redis]\nreplicas = 1\nsentinels = 3\nsentinel_failover_timeout = soon\n", 10,
      "sentinel_failover_timeout: 'soon' is not a duration" },
    { TL "[redis]\nreplicas = 1\nlinks = proxied\nsentinels = 1\n", 10,
      "sentinels: clients find master 0 through Sentinel, not through the per-client "
      "proxies of links = proxied (line 9)" },
    { TL "[redis]\nreplicas = 1\nsentinels = 3\n[fault f]\nat = 1s\naction = promote\n"
         "target = replica:0\n",
      12, "action: [redis] has sentinels, which promote a replica themselves" },
    { TL "[redis]\nreplicas = 1\nsentinels = 3\n[fault f]\nat = 1s\naction = cut\n"
         "target = link:alice:node:0\n",
      13, "target: [redis] has sentinels" },
    /* [redis] min_replicas_to_write, min_replicas_max_lag */
    { TL "[redis]\nmin_replicas_to_write = 1\n", 8,
      "min_replicas_to_write: needs replicas >= 1" },
    { TL "[redis]\nreplicas = 2\nmin_replicas_to_write = 3\n", 9,
      "min_replicas_to_write: '3' is not a whole number from 1 to 2" },
    { TL "[redis]\nreplicas = 1\nmin_replicas_to_write = 0\n", 9,
      "min_replicas_to_write: '0' is not a whole number from 1 to 1" },
    { TL "[redis]\nreplicas = 1\nmin_replicas_max_lag = 5s\n", 9,
      "min_replicas_max_lag: needs min_replicas_to_write" },
    { TL "[redis]\nreplicas = 1\nmin_replicas_to_write = 1\nmin_replicas_max_lag = 1500ms\n",
      10, "min_replicas_max_lag: '1500ms' is not a whole number of seconds from 1s" },
    { TL "[redis]\nreplicas = 1\nmin_replicas_to_write = 1\nmin_replicas_max_lag = 0s\n",
      10, "min_replicas_max_lag: '0s' is not a whole number of seconds from 1s" },
};

static void test_bad_files(void **state)
{
    char err[512], prefix[32];
    ovs_scenario sc;
    int failures = 0;

    (void)state;
    assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 15);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case *c = &bad_cases[i];
        memset(&sc, 0x5a, sizeof(sc)); /* the parser must not trust what it is given */
        int rc = parse(c->text, &sc, err, sizeof(err));
        snprintf(prefix, sizeof(prefix), "t.ini:%d: ", c->line);
        if (rc != -1 || strncmp(err, prefix, strlen(prefix)) != 0 ||
            strstr(err, c->what) == NULL) {
            print_error("case %zu: rc %d, want line %d and \"%s\"\n  got: %s\n", i, rc,
                        c->line, c->what, err);
            failures++;
        }
        /* Refused means empty: nothing to free, nothing stale to read. */
        assert_null(sc.clients);
        assert_null(sc.params);
        assert_null(sc.expect);
        assert_null(sc.faults);
        assert_int_equal(sc.name[0], '\0');
        assert_int_equal(sc.n_clients + sc.n_params + sc.n_expect + sc.has_crowd + sc.n_faults,
                         0);
        ovs_scenario_free(&sc);
    }
    assert_int_equal(failures, 0);
}

/* reenter = 1 on a client and on a crowd; 0 and absent leave the lock taken once. */
static void test_reenter(void **state)
{
    ovs_scenario sc;
    (void)state;
    parse_ok(TL "reenter = 1\n[client bob]\nrequest = buy sku=1\nreenter = 0\n"
                "[client carol]\nrequest = buy sku=1\n", &sc);
    assert_int_equal(sc.n_clients, 3);
    assert_int_equal(sc.clients[0].reenter, 1);
    assert_int_equal(sc.clients[1].reenter, 0);
    assert_int_equal(sc.clients[2].reenter, 0);
    ovs_scenario_free(&sc);
    parse_ok(INV "[crowd]\nbuyers = 3\nrequest = buy sku=1\nreenter = 1\n", &sc);
    assert_int_equal(sc.crowd.reenter, 1);
    ovs_scenario_free(&sc);
    parse_ok(INV CROWD, &sc);
    assert_int_equal(sc.crowd.reenter, 0);
    ovs_scenario_free(&sc);
}

/* Lines past inih's buffer would be split in two and shift every later line number; they
 * are refused instead, at their own line. */
static void test_long_line(void **state)
{
    char text[1024], err[512];
    ovs_scenario sc;

    (void)state;
    snprintf(text, sizeof(text), "[scenario]\nname = t\ndescription = %0400d\nworkload = x\n",
             0);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.ini:3: line is too long"));

    /* Just under the limit is fine, and the line after it is still counted right. */
    snprintf(text, sizeof(text),
             "[scenario]\nname = t\ndescription = %0180d\nworkload = x\n", 0);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    assert_string_equal(err, "t.ini:4: workload: 'x' is not inventory or booking");
}

static void test_too_many_clients(void **state)
{
    char *text = malloc(64 * 1024);
    char err[512];
    size_t used = 0;
    ovs_scenario sc;

    (void)state;
    assert_non_null(text);
    used += (size_t)sprintf(text + used, BOOK); /* lines 1-3 */
    for (int i = 0; i < OVS_MAX_CLIENTS + 1; i++)
        used += (size_t)sprintf(text + used,
                                "[client c%d]\n"
                                "request = book hotel=1 room=1 dates=2026-01-20..2026-01-22\n",
                                i);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    /* The 65th header is on line 3 + 64 * 2 + 1. */
    assert_non_null(strstr(err, "t.ini:132: too many [client] sections (at most 64"));

    /* Exactly the limit is fine. */
    text[used - strlen("[client c64]\nrequest = book hotel=1 room=1 "
                       "dates=2026-01-20..2026-01-22\n")] = '\0';
    parse_ok(text, &sc);
    assert_int_equal(sc.n_clients, OVS_MAX_CLIENTS);
    assert_string_equal(sc.clients[63].name, "c63");
    ovs_scenario_free(&sc);
    free(text);
}

static void test_too_many_faults(void **state)
{
    char *text = malloc(16 * 1024);
    char err[512];
    size_t used = 0;
    ovs_scenario sc;

    (void)state;
    assert_non_null(text);
    used += (size_t)sprintf(text + used, TL); /* lines 1-6 */
    for (int i = 0; i < OVS_MAX_FAULTS + 1; i++)
        used += (size_t)sprintf(text + used,
                                "[fault f%d]\nat = %dms\naction = pause\ntarget = node:0\n", i,
                                i);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    /* The 33rd header is on line 6 + 32 * 4 + 1. */
    assert_non_null(strstr(err, "t.ini:135: too many [fault] sections (at most 32)"));

    /* Exactly the limit is fine, and file order is kept. */
    text[used - strlen("[fault f32]\nat = 32ms\naction = pause\ntarget = node:0\n")] = '\0';
    parse_ok(text, &sc);
    assert_int_equal(sc.n_faults, OVS_MAX_FAULTS);
    for (int i = 0; i < OVS_MAX_FAULTS; i++)
        assert_int_equal(sc.faults[i].at_ns, i * OVS_NS_PER_MS);
    assert_string_equal(sc.faults[31].name, "f31");
    assert_int_equal(sc.faults[31].line, 6 + 31 * 4 + 1);
    ovs_scenario_free(&sc);
    free(text);
}

static void test_files(void **state)
{
    char path[] = "/tmp/ovs_scenario_XXXXXX";
    char err[512];
    ovs_scenario sc;
    int fd;

    (void)state;
    assert_int_equal(ovs_scenario_load("/nonexistent/x.ini", &sc, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/x.ini: cannot open: No such file or directory");
    assert_null(sc.clients);

    assert_int_equal(ovs_scenario_load("/tmp", &sc, err, sizeof(err)), -1);
    assert_string_equal(err, "/tmp: cannot read: Is a directory");

    /* A NUL byte is refused at its line, not taken as the end of the file. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char nul_file[] = "[scenario]\nname = t\0x\nworkload = booking\n";
    assert_int_equal(write(fd, nul_file, sizeof(nul_file) - 1), (ssize_t)sizeof(nul_file) - 1);
    close(fd);
    assert_int_equal(ovs_scenario_load(path, &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: line contains a NUL byte"));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);

    /* And a good file loads the same as from memory. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good_booking, sizeof(good_booking) - 1),
                     (ssize_t)sizeof(good_booking) - 1);
    close(fd);
    assert_int_equal(ovs_scenario_load(path, &sc, err, sizeof(err)), 0);
    assert_string_equal(sc.path, path);
    assert_int_equal(sc.n_clients, 2);
    assert_int_equal(sc.clients[1].think_ns, 2 * OVS_NS_PER_S);
    ovs_scenario_free(&sc);
    unlink(path);
}

static void load_shipped(const char *name, ovs_scenario *sc)
{
    char path[1024], err[1024];
    snprintf(path, sizeof(path), "%s/scenarios/%s", OVS_SOURCE_DIR, name);
    if (ovs_scenario_load(path, sc, err, sizeof(err)) != 0 ||
        ovs_scenario_resolve(sc, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

/* The built-ins' table and its Lua copies; n more entries beyond them. */
static void expect_usual_table(const ovs_scenario *sc, int n)
{
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_none), 0);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_sql_pessimistic), 1);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_setnx), 1);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_redlock), 1);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_lua_decr), 1);
    /* The shipped definitions of strategies/, registered in main: the same verdicts as
     * the built-ins they are written after. */
    assert_int_equal(ovs_scenario_expect(sc, ovs_strategy_find("lua-setnx")), 1);
    assert_int_equal(ovs_scenario_expect(sc, ovs_strategy_find("lua-decr-script")), 1);
    assert_int_equal(sc->n_expect, 7 + n);
    assert_true(strlen(sc->description) > 20);
}

/* The SQL strategies that exist on the servers only, safe wherever they run (n/a on
 * SQLite): 3 more entries. */
static void expect_server_sql(const ovs_scenario *sc)
{
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_optimistic_sql_exclusion), 1);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_sql_serializable), 1);
    assert_int_equal(ovs_scenario_expect(sc, &ovs_strategy_sql_advisory), 1);
}

static void test_shipped(void **state)
{
    ovs_scenario sc;
    ovs_params p;

    (void)state;
    load_shipped("double-booking-two-guests.ini", &sc);
    assert_string_equal(sc.name, "double-booking-two-guests");
    assert_int_equal(sc.workload, OVS_BOOKING);
    assert_int_equal(sc.n_clients, 2);
    assert_string_equal(sc.clients[0].name, "alice");
    assert_string_equal(sc.clients[1].name, "bob");
    assert_int_equal(sc.clients[0].start_ns, 0);
    assert_int_equal(sc.clients[1].start_ns, 150 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[0].think_ns, 300 * OVS_NS_PER_MS);
    assert_int_equal(sc.clients[1].think_ns, 300 * OVS_NS_PER_MS);
    assert_memory_equal(&sc.clients[0].req, &sc.clients[1].req, sizeof(ovs_request));
    assert_int_equal(sc.clients[0].req.room, 101);
    assert_int_equal(sc.clients[0].req.check_in, day("2026-01-20"));
    /* Two guests, two processes: cheap enough to put the shipped adapters on the same
     * timeline, and a real library's verdict beside the built-ins'. */
    expect_usual_table(&sc, 2 + 3);
    expect_server_sql(&sc);
    assert_int_equal(ovs_scenario_expect(&sc, ovs_strategy_find("python-setnx")), 1);
    assert_int_equal(ovs_scenario_expect(&sc, ovs_strategy_find("node-redlock")), 1);
    ovs_scenario_free(&sc);

    load_shipped("double-booking-burst.ini", &sc);
    assert_string_equal(sc.name, "double-booking-burst");
    assert_int_equal(sc.workload, OVS_BOOKING);
    assert_int_equal(sc.has_crowd, 1);
    assert_int_equal(sc.crowd.buyers, 100);
    assert_int_equal(sc.crowd.arrival, OVS_ARRIVE_RATE);
    assert_true(sc.crowd.rate == 100.0);
    assert_int_equal(sc.crowd.workers, 20);
    assert_int_equal(sc.crowd.think_ns, 50 * OVS_NS_PER_MS);
    assert_int_equal(sc.crowd.think_max_ns, 50 * OVS_NS_PER_MS); /* fixed, not a range */
    expect_usual_table(&sc, 3);
    expect_server_sql(&sc);
    ovs_scenario_free(&sc);

    /* The holder's crash: at a named point, on a client, and every lock held to one sale
     * (the built-ins and the shipped adapters alike). */
    load_shipped("lock-holder-crash.ini", &sc);
    assert_int_equal(sc.n_clients, 2);
    assert_int_equal(sc.n_faults, 1);
    assert_int_equal(sc.faults[0].action, OVS_FAULT_CRASH);
    assert_int_equal(sc.faults[0].target_client, 0);
    assert_int_equal(sc.faults[0].after_client, 0);
    assert_int_equal(sc.faults[0].after_step, OVS_OP_CHECK);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_watchdog), 1);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_none), 1);
    assert_int_equal(ovs_scenario_expect(&sc, ovs_strategy_find("node-redlock-using")), 1);
    ovs_scenario_free(&sc);

    load_shipped("flash-sale.ini", &sc);
    assert_string_equal(sc.name, "flash-sale");
    assert_int_equal(sc.workload, OVS_INVENTORY);
    assert_int_equal(sc.skus, 1);
    assert_int_equal(sc.stock, 100);
    assert_int_equal(sc.crowd.buyers, 10000);
    assert_int_equal(sc.crowd.arrival, OVS_ARRIVE_BURST);
    assert_int_equal(sc.crowd.workers, 32);
    assert_int_equal(sc.crowd.think_ns, 1 * OVS_NS_PER_MS);
    assert_int_equal(sc.crowd.think_max_ns, 1 * OVS_NS_PER_MS);
    assert_int_equal(sc.crowd.req.sku, 1);
    expect_usual_table(&sc, 3 + 1);
    expect_server_sql(&sc);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_optimistic_sql), 1);
    for (int i = 0; i < 2; i++) {
        const ovs_strategy_methods *m = i ? &ovs_strategy_redlock : &ovs_strategy_setnx;
        ovs_scenario_params_for(&sc, m, &p);
        assert_true(param(m, &p, "retry_count") == 50);
        assert_true(param(m, &p, "retry_delay") == 5);
        assert_true(param(m, &p, "retry_jitter") == 5);
    }
    ovs_scenario_free(&sc);
}

static void test_params_and_expect(void **state)
{
    ovs_scenario sc;
    ovs_params p, d;

    (void)state;
    parse_ok(INV CROWD "[strategy redlock]\nttl = 3s\nretry_count = 5\n"
                       "[strategy sql-pessimistic]\nbusy_timeout = 100\n"
                       "[expect]\nsetnx = unsafe\nredlock = safe\n",
             &sc);
    assert_int_equal(sc.n_params, 2);
    ovs_scenario_params_for(&sc, &ovs_strategy_redlock, &p);
    assert_true(param(&ovs_strategy_redlock, &p, "ttl") == 3000);
    assert_true(param(&ovs_strategy_redlock, &p, "retry_count") == 5);
    ovs_scenario_params_for(&sc, &ovs_strategy_sql_pessimistic, &p);
    assert_true(param(&ovs_strategy_sql_pessimistic, &p, "busy_timeout") == 100);
    /* No section: the strategy's defaults. */
    ovs_scenario_params_for(&sc, &ovs_strategy_setnx, &p);
    ovs_params_defaults(&ovs_strategy_setnx, &d);
    assert_memory_equal(&p, &d, sizeof(p));

    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_setnx), 0);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_redlock), 1);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_none), -1);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_lua_decr), -1);
    assert_int_equal(ovs_scenario_expect_stale_on(&sc, &ovs_strategy_redlock, "sqlite"), -1);
    ovs_scenario_free(&sc);

    /* The stale answers word after the verdict, per back end like the verdict. */
    parse_ok(INV CROWD "[expect]\ncache-aside = safe stale\ncache-aside@postgresql = unsafe"
                       " fresh\nnone = unsafe\n",
             &sc);
    assert_int_equal(ovs_scenario_expect_on(&sc, &ovs_strategy_cache_aside, "sqlite"), 1);
    assert_int_equal(ovs_scenario_expect_stale_on(&sc, &ovs_strategy_cache_aside, "sqlite"), 1);
    assert_int_equal(ovs_scenario_expect_on(&sc, &ovs_strategy_cache_aside, "postgresql"), 0);
    assert_int_equal(
        ovs_scenario_expect_stale_on(&sc, &ovs_strategy_cache_aside, "postgresql"), 0);
    assert_int_equal(ovs_scenario_expect_stale_on(&sc, &ovs_strategy_none, "sqlite"), -1);
    ovs_scenario_free(&sc);
}

/* A strategy registered at run time, after its scenario was parsed. */
static int late_open(ovs_strategy *s, const ovs_env *env)
{
    (void)s;
    (void)env;
    return OVS_OK;
}

static int late_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    return OVS_OK;
}

static int late_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return OVS_OK;
}

static void late_close(ovs_strategy *s)
{
    (void)s;
}

static const ovs_param_spec late_params[] = {
    { "ttl", 100, "ms", NULL, 1, 10000, "a lease" },
};

static const ovs_strategy_methods late_lock_table = {
    .version = OVS_STRATEGY_VERSION,
    .name = "late-lock",
    .summary = "registered after the scenario naming it was parsed",
    .size = sizeof(ovs_strategy),
    .params = late_params,
    .n_params = 1,
    .xOpen = late_open,
    .xLock = late_lock,
    .xUnlock = late_unlock,
    .xClose = late_close,
};

/* The parser takes any name as written; only resolving asks the registry, so a strategy
 * registered after the file was read is found, parameters and verdict included. */
static void test_resolve_after_registration(void **state)
{
    static const char text[] = INV CROWD
        "[strategy late-lock]\n"  /* 8 */
        "ttl = 2s\n"              /* 9 */
        "[expect]\n"              /* 10 */
        "late-lock = safe\n";     /* 11 */
    ovs_scenario sc;
    ovs_params p;
    char err[512];

    (void)state;
    assert_null(ovs_strategy_find("late-lock"));
    if (ovs_scenario_parse("t.ini", text, &sc, err, sizeof(err)) != 0)
        fail_msg("the parser refused a name it should not judge: %s", err);
    assert_string_equal(sc.params[0].name, "late-lock");
    assert_string_equal(sc.expect[0].name, "late-lock");
    assert_int_equal(ovs_scenario_resolve(&sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.ini:8: unknown strategy 'late-lock' in [strategy late-lock]"));

    assert_int_equal(ovs_strategy_register(&late_lock_table, err, sizeof(err)), 0);
    if (ovs_scenario_resolve(&sc, err, sizeof(err)) != 0)
        fail_msg("registered, still refused: %s", err);
    ovs_scenario_params_for(&sc, &late_lock_table, &p);
    assert_true(p.v[0] == 2000);
    assert_int_equal(ovs_scenario_expect(&sc, &late_lock_table), 1);
    assert_int_equal(ovs_scenario_expect(&sc, &ovs_strategy_setnx), -1);
    ovs_scenario_free(&sc);

    /* Its parameter table is what the values are held to. */
    assert_int_equal(parse(INV CROWD "[strategy late-lock]\nttl = 20s\n", &sc, err,
                           sizeof(err)), -1);
    assert_non_null(strstr(err, "t.ini:9: ttl: 20s is out of range [1, 10000]"));
}

static void test_request_parse(void **state)
{
    static const struct {
        enum ovs_workload w;
        const char *text;
        const char *what;
    } bad[] = {
        { OVS_INVENTORY, "", "empty (like: buy sku=1)" },
        { OVS_INVENTORY, "buy", "no sku= given" },
        { OVS_INVENTORY, "buy sku=0", "sku: '0' is not a whole number from 1" },
        { OVS_INVENTORY, "buy sku=one", "sku: 'one' is not a whole number" },
        { OVS_INVENTORY, "buy sku", "'sku' is not key=value" },
        { OVS_INVENTORY, "buy sku=1 colour=red", "unknown key 'colour'" },
        { OVS_INVENTORY, "purchase sku=1", "'purchase' is not 'buy'" },
        { OVS_BOOKING, "book hotel=1 room=1", "no dates= given" },
        { OVS_BOOKING, "book hotel=0 room=1 dates=2026-01-20..2026-01-22", "hotel: '0'" },
        { OVS_BOOKING, "book hotel=1 room=-3 dates=2026-01-20..2026-01-22", "room: '-3'" },
        { OVS_BOOKING, "book hotel=1 room=1 dates=2026-01-20", "is not a range of dates" },
        { OVS_BOOKING, "book hotel=1 room=1 dates=2026-02-29..2026-03-01",
          "'2026-02-29' is not a valid date" },
        { OVS_BOOKING, "book hotel=1 room=1 dates=2026-01-20..2026-1-22",
          "'2026-1-22' is not a valid date" },
        { OVS_BOOKING, "book hotel=1 room=1 dates=2026-01-20..2026-01-20", "is not after" },
        { OVS_BOOKING, "book hotel=1 room=1 dates=2026-01-01..2026-12-31",
          "more than the 64" },
        { OVS_BOOKING, "book hotel=1 sku=1", "a booking request takes hotel, room, dates" },
        { OVS_BOOKING, "book hotel=1 hotel=2", "'hotel' is given twice" },
    };
    ovs_request r;
    char err[256];

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(ovs_request_parse(OVS_INVENTORY, "buy sku=7", &r, err, sizeof(err)), 0);
    assert_int_equal(r.sku, 7);
    assert_int_equal(ovs_request_parse(OVS_BOOKING,
                                       "  book\tdates=2024-02-28..2024-03-01 room=12 hotel=3 ",
                                       &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.hotel, 3);
    assert_int_equal(r.room, 12);
    assert_int_equal(r.check_in, day("2024-02-28"));
    assert_int_equal(r.check_out - r.check_in, 2); /* 2024 is a leap year */
    assert_int_equal(ovs_request_parse(OVS_BOOKING,
                                       "book hotel=1 room=1 dates=2026-01-01..2026-03-06",
                                       &r, err, sizeof(err)),
                     0); /* exactly 64 nights */

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ovs_request keep = { .sku = 99 };
        r = keep;
        err[0] = '\0';
        if (ovs_request_parse(bad[i].w, bad[i].text, &r, err, sizeof(err)) != -1 ||
            strstr(err, bad[i].what) == NULL)
            fail_msg("'%s': want \"%s\", got \"%s\"", bad[i].text, bad[i].what, err);
        assert_int_equal(r.sku, 99); /* untouched on failure */
        assert_null(strstr(err, "t.ini")); /* no file or line: the caller adds them */
    }
}

static void test_scenario_free(void **state)
{
    ovs_scenario sc;

    (void)state;
    memset(&sc, 0, sizeof(sc));
    ovs_scenario_free(&sc);
    ovs_scenario_free(NULL);
    parse_ok(good_inventory, &sc);
    ovs_scenario_free(&sc);
    ovs_scenario_free(&sc);
    assert_null(sc.params);
    assert_int_equal(sc.n_expect, 0);
}

/* A scenario that kills master 0 for good takes away the stock a Redis-stock strategy sold
 * from: its cell is n/a in the full matrix, and an [expect] naming it is refused. A lock
 * strategy there, a restart of node 0, or holds kept in SQL leave the cell judged. */
static const char stock_node_killed[] =
    "[scenario]\n"                                    /* 1 */
    "name = master-gone\n"                            /* 2 */
    "workload = inventory\n"                          /* 3 */
    "stock = 2\n"                                     /* 4 */
    "[crowd]\n"                                       /* 5 */
    "buyers = 4\n"                                    /* 6 */
    "request = buy sku=1\n"                           /* 7 */
    "[redis]\n"                                       /* 8 */
    "nodes = 3\n"                                     /* 9 */
    "[fault kill-0]\n"                                /* 10 */
    "at = 0ms\n"                                      /* 11 */
    "action = kill\n"                                 /* 12 */
    "target = node:0\n";                              /* 13 */

static int na_in(const char *text, const char *strategy, const char *param_line, char *why,
                 size_t len)
{
    const ovs_strategy_methods *m = ovs_strategy_find(strategy);
    ovs_scenario sc;
    ovs_params p;
    char err[512];

    assert_non_null(m);
    if (ovs_scenario_parse("t.ini", text, &sc, err, sizeof(err)) != 0)
        fail_msg("expected to parse, got: %s", err);
    ovs_scenario_params_for(&sc, m, &p);
    if (param_line != NULL)
        assert_int_equal(ovs_params_set_list(m, &p, param_line, err, sizeof(err)), 0);
    why[0] = '\0';
    int na = ovs_cell_na(&sc, m, &p, "sqlite", why, len);
    ovs_scenario_free(&sc);
    return na;
}

/* queue = stream: its keys read, their defaults; a strategy that keeps stock in Redis but
 * cannot XADD in its sale is n/a there and judged under the memory queue; one that sells
 * in SQL has no queue and is judged under both. */
static void test_queue_stream(void **state)
{
    static const char stream[] = INV "queue = stream\nqueue_apply = idempotent\n"
                                 "queue_consumer_crash = 3\nqueue_claim_idle = 50ms\n" CROWD;
    static const char memory[] = INV CROWD;
    char why[256];
    ovs_scenario sc;

    (void)state;
    parse_ok(stream, &sc);
    assert_int_equal(sc.queue.kind, OVS_QUEUE_STREAM);
    assert_int_equal(sc.queue.idempotent, 1);
    assert_int_equal(sc.queue.consumer_crash, 3);
    assert_int_equal(sc.queue.claim_idle_ns, 50 * OVS_NS_PER_MS);
    assert_int_equal(sc.queue.node, 0);
    ovs_scenario_free(&sc);
    /* The stream on node 1: the stock node's clock may jump then, the stream's not. */
    parse_ok(INV "queue = stream\nqueue_node = 1\n" CROWD "[redis]\nnodes = 2\n[fault f]\n"
             "at = 0\naction = clock-jump\ntarget = node:0\nby = 30s\n", &sc);
    assert_int_equal(sc.queue.node, 1);
    ovs_scenario_free(&sc);
    parse_ok(memory, &sc);
    assert_int_equal(sc.queue.kind, OVS_QUEUE_MEMORY);
    assert_int_equal(sc.queue.idempotent, 0);
    assert_int_equal(sc.queue.consumer_crash, 0);
    assert_int_equal(sc.queue.claim_idle_ns, 100 * OVS_NS_PER_MS);
    ovs_scenario_free(&sc);

    assert_int_equal(na_in(stream, "lua-decr", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(stream, "redis-check-then-decr", NULL, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "cannot add the entry atomically with its sale"));
    assert_int_equal(na_in(memory, "redis-check-then-decr", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(stream, "setnx", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(stream, "optimistic-sql", NULL, why, sizeof(why)), 0);

    /* The stream's own node killed for good: its orders can never reach SQL. Restarted,
     * it is judged; the stock's node killed for good has its own n/a. */
    static const char apart_killed[] = INV "queue = stream\nqueue_node = 1\n" CROWD
                                       "[redis]\nnodes = 2\n[fault f]\nat = 10ms\n"
                                       "action = kill\ntarget = node:1\n";
    assert_int_equal(na_in(apart_killed, "lua-decr", NULL, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "kills node 1, the write-back stream's, for good"));
    assert_int_equal(na_in(apart_killed, "optimistic-sql", NULL, why, sizeof(why)), 0);
    char text[512];
    snprintf(text, sizeof(text), "%s[fault g]\nat = 50ms\naction = restart\n"
             "target = node:1\n", apart_killed);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);
}

static void test_na_when_stock_node_killed(void **state)
{
    (void)state;
    char why[256], err[512], text[2048];
    ovs_scenario sc;

    assert_int_equal(na_in(stock_node_killed, "lua-decr", NULL, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "kills node 0 for good"));
    assert_int_equal(na_in(stock_node_killed, "reservation", NULL, why, sizeof(why)), 1);
    assert_int_equal(na_in(stock_node_killed, "reservation", "holds=sql", why, sizeof(why)), 0);
    assert_int_equal(na_in(stock_node_killed, "setnx", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(stock_node_killed, "redlock", NULL, why, sizeof(why)), 0);

    /* Node 0 started again: the stock can be read back, the cell is judged. */
    snprintf(text, sizeof(text), "%s[fault back]\nat = 50ms\naction = restart\n"
             "target = node:0\n", stock_node_killed);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);
    /* A replica promoted in its place is master 0 from then on, stock and all. */
    const char *fault = strstr(stock_node_killed, "[fault");
    snprintf(text, sizeof(text), "%.*sreplicas = 1\n%s[fault promote]\nat = 50ms\n"
             "action = promote\ntarget = replica:0\n", (int)(fault - stock_node_killed),
             stock_node_killed, fault);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);
    /* So is one Sentinel promotes. */
    snprintf(text, sizeof(text), "%.*sreplicas = 1\nsentinels = 3\n%s",
             (int)(fault - stock_node_killed), stock_node_killed, fault);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);
    /* Another node killed for good is the Redlock's loss, not the stock's. */
    snprintf(text, sizeof(text), "%.*s1\n", (int)strlen(stock_node_killed) - 2,
             stock_node_killed);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);

    /* An [expect] for such a cell has no verdict to expect. */
    snprintf(text, sizeof(text), "%s[expect]\nsetnx = safe\nlua-decr = safe\n",
             stock_node_killed);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.ini:16: lua-decr: n/a: the scenario kills node 0"));
    snprintf(text, sizeof(text), "%s[expect]\nsetnx = safe\n", stock_node_killed);
    parse_ok(text, &sc);
    ovs_scenario_free(&sc);
}

/* A strategy that reaches Redis by address only (no_sentinel: an adapter) cannot follow a
 * Sentinel failover: n/a where the scenario has Sentinels, judged elsewhere; a strategy
 * on the harness's connections follows it and is judged there too. */
static void test_na_without_sentinel(void **state)
{
    (void)state;
    char why[256], text[1024];
    ovs_scenario sc;
    char err[512];
    ovs_strategy_methods by_address = *ovs_strategy_find("setnx");
    by_address.version = 5;
    by_address.name = "by-address";
    by_address.no_sentinel = 1;
    ovs_params p;

    const char *fault = strstr(stock_node_killed, "[fault");
    snprintf(text, sizeof(text), "%.*sreplicas = 1\nsentinels = 3\n%s",
             (int)(fault - stock_node_killed), stock_node_killed, fault);
    if (ovs_scenario_parse("t.ini", text, &sc, err, sizeof(err)) != 0)
        fail_msg("expected to parse, got: %s", err);
    ovs_params_defaults(&by_address, &p);
    assert_int_equal(ovs_cell_na(&sc, &by_address, &p, "sqlite", why, sizeof(why)), 1);
    assert_non_null(strstr(why, "cannot follow the scenario's Sentinel failover"));
    /* The harness's own connections ask Sentinel; and master 0 killed is replaced. */
    assert_int_equal(na_in(text, "setnx", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(text, "lua-decr", NULL, why, sizeof(why)), 0);
    ovs_scenario_free(&sc);
    assert_int_equal(ovs_scenario_parse("t.ini", stock_node_killed, &sc, err, sizeof(err)), 0);
    assert_int_equal(ovs_cell_na(&sc, &by_address, &p, "sqlite", why, sizeof(why)), 0);
    ovs_scenario_free(&sc);
}

/* Parameters that do not fit the workload (xFits): reservation's holds in SQL are units of
 * inventory, so a booking scenario's cell is n/a, and an [expect] for it is refused at its
 * line, before anything starts. The same holds on inventory fit. */
static void test_na_when_params_do_not_fit(void **state)
{
    (void)state;
    char why[256], err[512], text[1024];
    ovs_scenario sc;
    const char *booking = "[scenario]\nname = stay\nworkload = booking\n"
                          "[client a]\nrequest = book hotel=1 room=101 dates=2026-01-20..2026-01-22\n";

    assert_int_equal(na_in(booking, "reservation", "holds=sql", why, sizeof(why)), 1);
    assert_string_equal(why, "n/a: holds = sql holds units of inventory; bookings take holds = redis");
    assert_int_equal(na_in(booking, "reservation", NULL, why, sizeof(why)), 0);
    assert_int_equal(na_in(stock_node_killed, "reservation", "holds=sql", why, sizeof(why)), 0);

    snprintf(text, sizeof(text), "%s[strategy reservation]\nholds = sql\n[expect]\n"
             "reservation = safe\n", booking);
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.ini:9: reservation: n/a: holds = sql holds units of inventory"));
}

/* [redis] sentinels and their timings; the defaults when only sentinels is given. */
static void test_sentinels(void **state)
{
    ovs_scenario sc;

    (void)state;
    parse_ok(TL "[redis]\nreplicas = 1\nlag = 200ms\nsentinels = 3\n"
                "sentinel_down_after = 250ms\nsentinel_failover_timeout = 90s\n"
                "[fault down]\nat = 100ms\naction = kill\ntarget = node:0\n",
             &sc);
    assert_int_equal(sc.redis.sentinels, 3);
    assert_true(sc.redis.sentinel_down_after_ns == 250 * OVS_NS_PER_MS);
    assert_true(sc.redis.sentinel_failover_timeout_ns == 90 * OVS_NS_PER_S);
    assert_int_equal(sc.n_faults, 1);
    ovs_scenario_free(&sc);
    parse_ok(TL "[redis]\nsentinels = 1\nreplicas = 2\n", &sc);
    assert_int_equal(sc.redis.sentinels, 1);
    assert_true(sc.redis.sentinel_down_after_ns == OVS_SENTINEL_DOWN_AFTER_NS);
    assert_true(sc.redis.sentinel_failover_timeout_ns == OVS_SENTINEL_FAILOVER_TIMEOUT_NS);
    ovs_scenario_free(&sc);
    parse_ok(TL "[redis]\nreplicas = 1\n", &sc);
    assert_int_equal(sc.redis.sentinels, 0);
    ovs_scenario_free(&sc);
}

/* [redis] min_replicas_to_write with its lag, in any order; Redis's 10 s when the lag is
 * not given; off by default. */
static void test_min_replicas(void **state)
{
    ovs_scenario sc;

    (void)state;
    parse_ok(TL "[redis]\nmin_replicas_max_lag = 2s\nmin_replicas_to_write = 2\n"
                "replicas = 2\n", &sc);
    assert_int_equal(sc.redis.min_replicas_to_write, 2);
    assert_int_equal(sc.redis.min_replicas_max_lag, 2);
    ovs_scenario_free(&sc);
    parse_ok(TL "[redis]\nreplicas = 1\nmin_replicas_to_write = 1\n", &sc);
    assert_int_equal(sc.redis.min_replicas_to_write, 1);
    assert_int_equal(sc.redis.min_replicas_max_lag, OVS_MIN_REPLICAS_MAX_LAG);
    ovs_scenario_free(&sc);
    parse_ok(TL "[redis]\nreplicas = 1\n", &sc);
    assert_int_equal(sc.redis.min_replicas_to_write, 0);
    assert_int_equal(sc.redis.min_replicas_max_lag, 0);
    ovs_scenario_free(&sc);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_inventory),
        cmocka_unit_test(test_min_replicas),
        cmocka_unit_test(test_good_booking),
        cmocka_unit_test(test_expect_rates),
        cmocka_unit_test(test_good_faults),
        cmocka_unit_test(test_client_after),
        cmocka_unit_test(test_fault_spellings),
        cmocka_unit_test(test_clock_jump),
        cmocka_unit_test(test_defaults_and_spellings),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_reenter),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_too_many_clients),
        cmocka_unit_test(test_too_many_faults),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_params_and_expect),
        cmocka_unit_test(test_resolve_after_registration),
        cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_scenario_free),
        cmocka_unit_test(test_na_when_stock_node_killed),
        cmocka_unit_test(test_queue_stream),
        cmocka_unit_test(test_na_when_params_do_not_fit),
        cmocka_unit_test(test_na_without_sentinel),
        cmocka_unit_test(test_sentinels),
    };

    /* The shipped scenarios expect strategies defined in strategies/ too, registered the
     * way the command line registers them before it reads a scenario. */
    char dir[600], err[600];
    snprintf(dir, sizeof(dir), "%s/strategies", OVS_SOURCE_DIR);
    if (ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
