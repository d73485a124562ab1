/* cell.c - one scenario x strategy run, from fleet start to the recorded verdict. */
#include "engine/cell.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/checker.h"
#include "engine/holds.h"
#include "engine/liveness.h"
#include "engine/plan.h"
#include "infra/fleet.h"
#include "infra/topology.h"
#include "locks/holds.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "core/util.h"
#include "shops/shops.h"

int ovs_cell_nodes(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p)
{
    int need = m->xNodes ? m->xNodes(p) : 0;
    if (sc->redis.nodes > need)
        need = sc->redis.nodes;
    /* Replicas and faults need a master to exist, whatever the strategy uses. */
    if (need == 0 && (sc->redis.replicas > 0 || sc->n_faults > 0))
        need = 1;
    return need;
}

int ovs_cell_owes_redis_stock(const ovs_scenario *sc, const ovs_strategy_methods *m,
                              const ovs_params *p)
{
    /* Holds kept in SQL keep the stock there too: nothing in Redis to compare. */
    return OVS_STRATEGY_FIELD(m, redis_stock, 0) && sc->workload == OVS_INVENTORY &&
           ovs_holds_of(m, p) != OVS_HOLDS_SQL;
}

/* 1 when a fault kills master 0 and nothing takes its place: no restart of it, and no
 * replica promoted, by a fault, by Sentinel or by the cluster (a promoted replica is
 * master 0 from then on, stock and all). */
static int master0_killed_for_good(const ovs_scenario *sc)
{
    int killed = 0, back = sc->redis.sentinels > 0 || sc->redis.cluster_replicas > 0;
    for (int i = 0; i < sc->n_faults; i++) {
        const ovs_fault *f = &sc->faults[i];
        back |= f->action == OVS_FAULT_PROMOTE;
        if (f->target != OVS_TARGET_NODE || f->target_node != 0)
            continue;
        killed |= f->action == OVS_FAULT_KILL;
        back |= f->action == OVS_FAULT_RESTART || f->action == OVS_FAULT_KILL_RESTART;
    }
    return killed && !back;
}

/* 1 when a fault kills node n (n >= 1: no replica of it is promoted, no Sentinel watches
 * it) and no fault starts it again. */
static int node_killed_for_good(const ovs_scenario *sc, int n)
{
    int killed = 0, back = 0;
    for (int i = 0; i < sc->n_faults; i++) {
        const ovs_fault *f = &sc->faults[i];
        if (f->target != OVS_TARGET_NODE || f->target_node != n)
            continue;
        killed |= f->action == OVS_FAULT_KILL;
        back |= f->action == OVS_FAULT_RESTART || f->action == OVS_FAULT_KILL_RESTART;
    }
    return killed && !back;
}

/* 1 when m runs on a Redis Cluster: it uses no Redis, or it is one whose every command
 * names its key and goes through locks/redis_conn.c, which routes it (redis_cluster.h).
 * Redlock is not among them: it needs independent masters, and a cluster's share one
 * keyspace, where its quorum would be one node's word. */
static int runs_on_cluster(const ovs_strategy_methods *m, const ovs_params *p)
{
    static const char *const routed[] = { "setnx", "lua-decr", "lua-setnx", "lua-decr-script",
                                          NULL };

    if ((m->xNodes ? m->xNodes(p) : 0) == 0)
        return 1;
    for (int i = 0; routed[i] != NULL; i++)
        if (strcmp(m->name, routed[i]) == 0)
            return 1;
    return 0;
}

/* What keeps m off a Redis Cluster, the scenario's (on, "n/a") or the user's ("n/a on
 * --cluster"), said in why: 1, or 0 when it runs there. */
static int na_on_cluster(const ovs_strategy_methods *m, const ovs_params *p, const char *on,
                         const char *whose, char *why, size_t len)
{
    if (m->xNodes != NULL && m->xNodes(p) > 1) {
        snprintf(why, len, "%s: %s needs %d independent masters, and a cluster's masters "
                 "share one keyspace", on, m->name, m->xNodes(p));
        return 1;
    }
    if (!runs_on_cluster(m, p)) {
        snprintf(why, len, "%s: %s is not known to route its Redis commands by key slot "
                 "(setnx, lua-decr and their Lua copies are), so it cannot run on %s cluster",
                 on, m->name, whose);
        return 1;
    }
    return 0;
}

/* How many keys each SKU's stock is split over: a strategy's `buckets` parameter
 * (lua-decr's) when it has one, else 1. */
static int stock_buckets(const ovs_strategy_methods *m, const ovs_params *p)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, "buckets") == 0)
            return p->v[i] > 1 ? (int)p->v[i] : 1;
    return 1;
}

int ovs_cell_na(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p,
                const char *backend, char *why, size_t len)
{
    if (backend != NULL && !ovs_strategy_runs_on(m, backend)) {
        snprintf(why, len, "n/a on %s (%s runs on %s)", backend, m->name,
                 OVS_STRATEGY_FIELD(m, backends, NULL));
        return 1;
    }
    char fit[200];
    int (*fits)(const ovs_params *, enum ovs_workload, char *, size_t) =
        OVS_STRATEGY_FIELD(m, xFits, NULL);
    if (fits != NULL && fits(p, sc->workload, fit, sizeof(fit)) != 0) {
        snprintf(why, len, "n/a: %s", fit);
        return 1;
    }
    if (sc->redis.sentinels > 0 && OVS_STRATEGY_FIELD(m, no_sentinel, 0)) {
        snprintf(why, len, "n/a: %s reaches Redis by address and cannot follow the scenario's"
                 " Sentinel failover", m->name);
        return 1;
    }
    if (sc->queue.kind == OVS_QUEUE_STREAM && OVS_STRATEGY_FIELD(m, redis_stock, 0) &&
        !OVS_STRATEGY_FIELD(m, writes_stream, 0)) {
        snprintf(why, len, "n/a: the scenario's write-back queue is a Redis Stream written in"
                 " the sale's own script, and %s cannot add the entry atomically with its"
                 " sale", m->name);
        return 1;
    }
    /* A plugin's sale script adds the entry on node 0 itself; the harness's own sales
     * (locks/redis_stock.h) are the ones that know to add it on another node. */
    const char *origin = ovs_strategy_origin(m);
    if (sc->queue.kind == OVS_QUEUE_STREAM && sc->queue.node > 0 &&
        OVS_STRATEGY_FIELD(m, writes_stream, 0) && origin != NULL &&
        strncmp(origin, "plugin ", 7) == 0) {
        snprintf(why, len, "n/a: %s is a plugin whose sale's script adds the entry to node "
                 "0's stream, and this scenario's stream is on node %d", m->name,
                 sc->queue.node);
        return 1;
    }
    if (sc->redis.cluster > 0 && na_on_cluster(m, p, "n/a", "the scenario's", why, len))
        return 1;
    if (stock_buckets(m, p) > 1 && sc->queue.kind == OVS_QUEUE_STREAM) {
        snprintf(why, len, "n/a: %s's buckets sell from several keys, and the stream sale's "
                 "script from one", m->name);
        return 1;
    }
    for (int i = 0; stock_buckets(m, p) > 1 && i < sc->n_faults; i++)
        if (sc->faults[i].recovery != OVS_RECOVER_NONE) {
            snprintf(why, len, "n/a: the shop re-warms one stock key per SKU after a restart, "
                     "not %s's buckets", m->name);
            return 1;
        }
    if (ovs_cell_owes_redis_stock(sc, m, p) && master0_killed_for_good(sc)) {
        snprintf(why, len, "n/a: the scenario kills node 0 for good, and %s keeps its stock"
                 " there (the stock it sold from cannot be read back)", m->name);
        return 1;
    }
    /* The consumer would wait for the stream's node to its time limit and end the run as
     * an error: no verdict to be had, as for the stock's node above. */
    if (sc->queue.kind == OVS_QUEUE_STREAM && sc->queue.node > 0 &&
        OVS_STRATEGY_FIELD(m, writes_stream, 0) && node_killed_for_good(sc, sc->queue.node)) {
        snprintf(why, len, "n/a: the scenario kills node %d, the write-back stream's, for "
                 "good, so its orders can never be read to SQL", sc->queue.node);
        return 1;
    }
    return 0;
}

/* What the scenario asks of a server that only the one who runs it can do, or NULL. */
static const char *needs_control(const ovs_scenario *sc, int own_cluster, char *buf,
                                 size_t len)
{
    for (int i = 0; i < sc->n_faults; i++) {
        const ovs_fault *f = &sc->faults[i];
        if (f->target == OVS_TARGET_CLIENT)
            continue; /* a client's crash is the harness's own process */
        if (f->target == OVS_TARGET_NODE)
            snprintf(buf, len, "fault %s node:%d", ovs_fault_action_name(f->action),
                     f->target_node);
        else if (f->target == OVS_TARGET_REPLICA)
            snprintf(buf, len, "fault %s replica:%d", ovs_fault_action_name(f->action),
                     f->target_node);
        else
            snprintf(buf, len, "fault %s link:%d:node:%d", ovs_fault_action_name(f->action),
                     f->target_client, f->target_node);
        return buf;
    }
    if (sc->redis.replicas > 0)
        return "replicas";
    if (sc->redis.sentinels > 0)
        return "sentinels";
    if (sc->redis.cluster_replicas > 0)
        return "cluster_replicas";
    /* The user's cluster is the scenario's cluster: the keys route the same. */
    if (sc->redis.cluster > 0 && !own_cluster)
        return "cluster";
    if (sc->redis.persistence != OVS_PERSIST_NONE)
        return "persistence";
    if (sc->redis.proxied_links)
        return "links = proxied";
    return NULL;
}

int ovs_cell_na_own(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p,
                    const ovs_endpoint *own, int n_own, char *why, size_t len)
{
    char what[96];
    /* --sentinel is one master, found through the user's Sentinels (core/endpoint.h);
     * --cluster every master of the user's cluster, each key on its slot's. */
    int sentinel = n_own > 0 && own[0].sentinels != NULL;
    int cluster = n_own > 0 && own[0].cluster;
    const char *need = needs_control(sc, cluster, what, sizeof(what));
    const char *origin = ovs_strategy_origin(m);
    int nodes = ovs_cell_nodes(sc, m, p);
    const char *on = sentinel ? "--sentinel" : cluster ? "--cluster" : "--redis";

    if (need != NULL) {
        snprintf(why, len, "n/a on %s: needs process control of a server the harness"
                 " did not start (%s)", on, need);
        return 1;
    }
    /* An adapter that did not say it keeps to the key prefix (no_key_prefix), and a
     * plugin, which connects as it likes, would write keys the run cannot find. */
    if (OVS_STRATEGY_FIELD(m, no_key_prefix, 0) ||
        (origin != NULL && strncmp(origin, "plugin ", 7) == 0)) {
        snprintf(why, len, "n/a on %s: %s connects to Redis by itself, without the"
                 " run's AUTH and key prefix", on, m->name);
        return 1;
    }
    if (cluster && nodes > 0) {
        /* What the scenario file refuses next to `cluster = N` (scenario.c), for the same
         * reasons, and what keeps a strategy off the scenario's cluster. */
        if (sc->workload != OVS_INVENTORY) {
            snprintf(why, len, "n/a on --cluster: inventory only (a stay's nights are keys"
                     " of several slots)");
            return 1;
        }
        if (sc->queue.kind == OVS_QUEUE_STREAM) {
            snprintf(why, len, "n/a on --cluster: the write-back queue is a stream, and the"
                     " sale's script would name keys of two slots");
            return 1;
        }
        if (na_on_cluster(m, p, "n/a on --cluster", "the user's", why, len))
            return 1;
        return 0; /* routed by slot: however many masters the scenario names */
    }
    if (sentinel && nodes > 1) {
        snprintf(why, len, "n/a on --sentinel: needs %d independent Redis masters, and"
                 " Sentinel names one", nodes);
        return 1;
    }
    /* The user's Sentinel may fail over during the run; a client given an address would
     * go on at the old master. */
    if (sentinel && nodes > 0 && OVS_STRATEGY_FIELD(m, no_sentinel, 0)) {
        snprintf(why, len, "n/a on --sentinel: %s reaches Redis by address and cannot"
                 " follow a Sentinel failover", m->name);
        return 1;
    }
    if (nodes > n_own) {
        snprintf(why, len, "n/a on --redis: needs %d Redis masters, %d given", nodes, n_own);
        return 1;
    }
    return 0;
}


/* The strategy's place in the registry, so reports list strategies in that order. */
static int strategy_rank(const ovs_strategy_methods *m)
{
    const ovs_strategy_methods *const *all = ovs_strategy_list();
    for (int i = 0; all[i]; i++)
        if (all[i] == m)
            return i;
    return INT32_MAX;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A played run, owned until it is written: the row and everything its pointers reach. */
struct ovs_cell_played {
    ovs_run_row row;
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    int nchecks;
    ovs_liveness live;
    int64_t *redis_stock;
    unsigned char *absent;
    ovs_hold_facts hold_facts;
    char params[256], started[32], shop_db[sizeof(((ovs_cell_result *)0)->shop) + 32];
    char redis_version[64], shop_version[64];
    char error[sizeof(((ovs_cell_result *)0)->error)];
    char figure[sizeof(((ovs_cell_result *)0)->figure)];
};

int ovs_cell_play(const ovs_cell *cell, ovs_cell_result *out, ovs_cell_played **packed)
{
    /* The scenario as this run plays it: its own, or with the seed the command line
     * chose. A shallow copy, read only, so the caller's stays as it was. */
    ovs_scenario played = *cell->sc;
    if (cell->seed_given)
        played.seed = cell->seed;
    const ovs_scenario *sc = &played;
    const ovs_strategy_methods *m = cell->m;
    ovs_topology *topo = NULL;
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    int nchecks = 0;
    char params[256], started[32], err[200];
    ovs_shop_loc loc;
    int created = 0;
    char shop_version[64] = "";
    ovs_shop *shop = NULL;
    ovs_liveness live;
    int have_live = 0;
    int64_t *redis_stock = NULL;
    unsigned char *absent = NULL;
    ovs_hold_facts hold_facts = { 0 };
    int redis_holds_read = 0;
    const int64_t *in_stock = NULL; /* Redis stock as read, for the record */
    int nodes = ovs_cell_nodes(sc, m, &cell->params);
    int64_t t_begin = ovs_now_ns();
    int rc = OVS_ERR;

    *packed = NULL;
    memset(out, 0, sizeof(*out));
    memset(&res, 0, sizeof(res));
    out->run_id = -1;
    out->status = OVS_RUN_ERROR;
    out->stale_answers = -1;
    out->expect = ovs_scenario_expect_on(sc, m, cell->sql ? cell->sql->name : "sqlite");
    out->expect_stale = ovs_scenario_expect_stale_on(sc, m, cell->sql ? cell->sql->name
                                                                      : "sqlite");
    ovs_params_format(m, &cell->params, params, sizeof(params));
    utc_now(started, sizeof(started));
    memset(&loc, 0, sizeof(loc));
    loc.m = cell->sql ? cell->sql : &ovs_shopdb_sqlite;
    if (cell->sql == NULL || cell->sql == &ovs_shopdb_sqlite) {
        char name[160];
        snprintf(name, sizeof(name), "%.63s.%.63s%s%.24s.db", sc->name, m->name,
                 cell->shop_tag ? "." : "", cell->shop_tag ? cell->shop_tag : "");
        snprintf(loc.target, sizeof(loc.target), "%.400s/%s", cell->shop_dir, name);
    } else {
        snprintf(loc.target, sizeof(loc.target), "%s", cell->sql_url);
        ovs_shop_ns_new(loc.ns, sizeof(loc.ns));
    }
    ovs_shop_loc_describe(&loc, out->shop, sizeof(out->shop));
    /* What the record says of a server shop: where it was, and that it is gone. */
    char shop_db[sizeof(out->shop) + 32];
    snprintf(shop_db, sizeof(shop_db), "%s%s", out->shop,
             loc.ns[0] == '\0' ? "" : cell->keep_shop ? " (kept)" : " (dropped after the run)");

    /* Nothing to run or judge: recorded as such, with why (where it does run). */
    if (ovs_cell_na(sc, m, &cell->params, loc.m->name, out->error, sizeof(out->error)) ||
        (cell->own_redis != NULL && ovs_cell_na_own(sc, m, &cell->params, cell->own_redis,
                                                    cell->n_own_redis, out->error,
                                                    sizeof(out->error)))) {
        out->status = OVS_RUN_NA;
        out->expect = -1;
        snprintf(shop_db, sizeof(shop_db), "none: not run");
        goto record;
    }
    if (nodes > 0) {
        /* On the user's cluster every master: keys are where their slots are. */
        int attach_n = cell->own_redis != NULL && cell->own_redis[0].cluster
                           ? cell->n_own_redis : nodes;
        int trc = cell->own_redis != NULL
                      ? ovs_topology_attach(sc, attach_n, cell->own_redis, cell->key_prefix,
                                            &topo, err, sizeof(err))
                      : ovs_topology_start(sc, nodes, cell->redis_server, &topo, err,
                                           sizeof(err));
        if (trc != 0) {
            snprintf(out->error, sizeof(out->error), "%s", err);
            return trc == OVS_ERR_ENV ? OVS_ERR_ENV : OVS_ERR;
        }
    }
    int src = ovs_shop_create(&loc, sc, err, sizeof(err));
    if (src != 0) {
        snprintf(out->error, sizeof(out->error), "shop %s: %s", loc.m->name, err);
        if (src == OVS_ERR_ENV) {
            ovs_topology_stop(topo);
            return OVS_ERR_ENV;
        }
        goto record;
    }
    created = 1;

    ovs_run_spec spec = {
        .sc = sc,
        .m = m,
        .params = &cell->params,
        .redis = topo ? ovs_topology_masters(topo) : NULL,
        .n_redis = topo ? ovs_topology_size(topo) : 0,
        .client_redis = topo ? ovs_topology_client_links(topo) : NULL,
        .read_from = topo ? ovs_topology_read_from(topo) : NULL,
        .fault = topo ? ovs_topology_fault : NULL,
        .fault_node = topo ? ovs_topology_node : NULL,
        .settle = topo ? ovs_topology_settle : NULL,
        .fault_ctx = topo,
        .shop = &loc,
        .work_dir = topo ? ovs_topology_dir(topo) : NULL,
        .stop = cell->stop,
        .serve_ns = cell->serve_ns,
        .no_events = cell->no_events,
        .key_prefix = topo ? ovs_topology_prefix(topo) : NULL,
    };
    if (ovs_run(&spec, &res) != 0) {
        snprintf(out->error, sizeof(out->error), "%s", res.error);
        goto record;
    }
    out->status = res.status;

    /* Redis's own view of stock, for strategies that keep it there: the divergence check
     * compares every SKU with SQL once the write-back queue has drained. */
    ovs_check_input in = { .unknown = res.unknown,
                           .fenced = OVS_STRATEGY_FIELD(m, xFence, NULL) != NULL ||
                                     OVS_STRATEGY_FIELD(m, unlock_commits, 0),
                           .redis_stock = ovs_cell_owes_redis_stock(sc, m, &cell->params),
                           .asks = OVS_STRATEGY_FIELD(m, xAvailable, NULL) != NULL };
    char unread[200] = "";
    if (in.redis_stock) {
        redis_stock = calloc((size_t)sc->skus, sizeof(*redis_stock));
        absent = calloc((size_t)sc->skus, sizeof(*absent));
        if (redis_stock == NULL || absent == NULL)
            snprintf(unread, sizeof(unread), "out of memory");
        else if (topo == NULL)
            snprintf(unread, sizeof(unread), "the run has no Redis");
        else if (ovs_topology_redis_stocks(topo, sc->skus, stock_buckets(m, &cell->params),
                                           redis_stock, absent, unread,
                                           sizeof(unread)) == 0) {
            in.stock = in_stock = redis_stock;
            in.absent = absent;
        }
        in.unread = unread;
    }

    /* Checkout holds, read where they live once every client has closed: a strategy
     * with holds settles what it left open before it closes (locks/reservation.c), so
     * what is still open now is held or leaked, and every confirm is on record. */
    char hold_unread[200] = "";
    if (ovs_holds_of(m, &cell->params) == OVS_HOLDS_REDIS) {
        in.holds = 1;
        in.hold_unread = hold_unread;
        if (topo == NULL)
            snprintf(hold_unread, sizeof(hold_unread), "the run has no Redis");
        else if (ovs_holds_read_redis(ovs_topology_master0(topo), ovs_topology_prefix(topo),
                                      &hold_facts, hold_unread, sizeof(hold_unread)) == 0) {
            in.hold = &hold_facts;
            redis_holds_read = 1;
        }
    } else if (ovs_holds_of(m, &cell->params) == OVS_HOLDS_SQL) {
        ovs_shop *hs = NULL;
        in.holds = 1;
        in.hold_unread = hold_unread;
        if (ovs_shop_open(&loc, &hs, hold_unread, sizeof(hold_unread)) == 0 &&
            ovs_holds_read_sql(hs, &hold_facts, hold_unread, sizeof(hold_unread)) == 0)
            in.hold = &hold_facts;
        ovs_shop_close(hs);
    }

    /* Ground truth: the shop as SQL sees it after the write-back queue drained. */
    if (ovs_shop_open(&loc, &shop, err, sizeof(err)) != 0 ||
        (nchecks = ovs_check_run(shop, sc, res.traces, res.ntraces, res.t0, &in, checks,
                                 out->figure, sizeof(out->figure), err, sizeof(err))) < 0) {
        nchecks = 0;
        out->status = OVS_RUN_ERROR;
        snprintf(out->error, sizeof(out->error), "check: %s", err);
        goto record;
    }
    snprintf(shop_version, sizeof(shop_version), "%s",
             ovs_shop_db(shop)->m->xVersion(ovs_shop_db(shop)));
    /* What safety cost, from the same SQL and events (engine/liveness.h). */
    if (ovs_liveness_of(shop, sc, &res, !cell->no_events, &live, err, sizeof(err)) != 0) {
        out->status = OVS_RUN_ERROR;
        snprintf(out->error, sizeof(out->error), "liveness: %s", err);
        goto record;
    }
    have_live = 1;
    /* A strategy that turned everyone away sold nothing twice: a loss of sales and of
     * availability, not of safety, and the headline says so rather than letting "0 sold"
     * pass for a good result. */
    if (live.lost_sales > 0) {
        size_t used = strlen(out->figure);
        snprintf(out->figure + used, sizeof(out->figure) - used,
                 "; %lld lost sale%s (turned away while %s)", (long long)live.lost_sales,
                 live.lost_sales == 1 ? "" : "s",
                 sc->workload == OVS_INVENTORY ? "stock remained" : "the room stayed free");
    }
    if (res.succeeded == 0 && live.unavailable > 0) {
        size_t used = strlen(out->figure);
        snprintf(out->figure + used, sizeof(out->figure) - used,
                 "; unavailable: %lld of %lld requests got no answer (gave up on a"
                 " lock, failed or unknown)",
                 (long long)live.unavailable, (long long)res.requests);
    }
    if (cell->no_events) {
        size_t used = strlen(out->figure);
        snprintf(out->figure + used, sizeof(out->figure) - used,
                 "; events not recorded (bench): mutual exclusion, lost orders%s unchecked",
                 in.asks ? " and stale answers" : "");
    }
    out->safe = 1;
    out->oversold = checks[0].observed;
    /* Figures (stale answers) are reported beside the verdict, never part of it. */
    for (int i = 0; i < nchecks; i++) {
        if (ovs_check_is_figure(checks[i].invariant))
            out->stale_answers = checks[i].observed;
        else
            out->safe &= checks[i].pass;
    }
    /* A check that could not run proves nothing: no verdict, and the error says which. */
    for (int i = 0; i < nchecks; i++)
        if (checks[i].skipped) {
            out->status = OVS_RUN_ERROR;
            snprintf(out->error, sizeof(out->error), "check %s %.200s", checks[i].invariant,
                     checks[i].detail);
            break;
        }

record:;
    /* Packed for ovs_cell_record: what the row points to moves into pl, so the servers
     * and the shop can go now, whenever the row is written. */
    ovs_cell_played *pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        snprintf(out->error, sizeof(out->error), "results: out of memory");
        rc = OVS_ERR;
        ovs_run_result_free(&res);
        free(redis_stock);
        free(absent);
        ovs_hold_facts_free(&hold_facts);
        goto done;
    }
    pl->res = res;
    memcpy(pl->checks, checks, sizeof(checks[0]) * (size_t)nchecks);
    pl->nchecks = nchecks;
    pl->live = live;
    pl->redis_stock = redis_stock;
    pl->absent = absent;
    pl->hold_facts = hold_facts;
    snprintf(pl->params, sizeof(pl->params), "%s", params);
    snprintf(pl->started, sizeof(pl->started), "%s", started);
    snprintf(pl->shop_db, sizeof(pl->shop_db), "%s", shop_db);
    snprintf(pl->redis_version, sizeof(pl->redis_version), "%s",
             topo && ovs_topology_version(topo) ? ovs_topology_version(topo) : "");
    snprintf(pl->shop_version, sizeof(pl->shop_version), "%s", shop_version);
    snprintf(pl->error, sizeof(pl->error), "%s", out->error);
    snprintf(pl->figure, sizeof(pl->figure), "%s", out->figure);
    /* The caller's scenario, not this run's copy of it: the names must outlive the play. */
    pl->row = (ovs_run_row){
        .scenario = cell->sc->name,
        .scenario_file = cell->sc->path,
        .description = cell->sc->description,
        .workload = sc->workload == OVS_INVENTORY ? "inventory" : "booking",
        .strategy = m->name,
        .strategy_rank = strategy_rank(m),
        .params = pl->params,
        .seed = sc->seed,
        .expect = out->expect,
        .redis_version = pl->redis_version[0] ? pl->redis_version : NULL,
        .sqlite_version = sqlite3_libversion(),
        .started_at = pl->started,
        .duration_ns = res.duration_ns,
        .status = ovs_run_status_name(out->status),
        .error = out->status == OVS_RUN_ERROR || out->status == OVS_RUN_NA ? pl->error : NULL,
        .verdict = out->status == OVS_RUN_OK ? (out->safe ? "safe" : "unsafe") : NULL,
        .figure = out->status == OVS_RUN_OK ? pl->figure : NULL,
        .shop_db = pl->shop_db,
        .requests = res.requests,
        .succeeded = res.succeeded,
        .refused = res.refused + res.stale, /* both refusals by the shop; events say which */
        .busy = res.busy,
        /* A request its client's crash cut short told its buyer nothing either; the
         * checks' allowance for unknown outcomes (above) is res.unknown alone. */
        .unknown = res.unknown + res.crashed,
        .errors = res.errors,
        .throughput = res.throughput,
        .p50_ns = res.latency.p50,
        .p99_ns = res.latency.p99,
        .max_ns = res.latency.max,
        .acquire_fail = res.acquire_fail,
        .retries = res.retries,
        .t0 = res.t0,
        .backend = loc.m->name,
        .backend_version = pl->shop_version[0] ? pl->shop_version : NULL,
        .live = have_live ? &pl->live : NULL,
        .redis_stock = in_stock ? pl->redis_stock : NULL,
        .redis_absent = in_stock ? pl->absent : NULL,
        .skus = sc->skus,
        .redis_holds = redis_holds_read ? &pl->hold_facts : NULL,
    };
    *packed = pl;
    rc = 0;
done:
    ovs_shop_close(shop);
    /* A server shop goes once its run is checked (its row keeps where it was). */
    if (created && loc.ns[0] != '\0') {
        size_t used = strlen(out->shop);
        if (cell->keep_shop)
            snprintf(out->shop + used, sizeof(out->shop) - used, " (kept)");
        else if (ovs_shop_drop(&loc, err, sizeof(err)) != 0)
            snprintf(out->shop + used, sizeof(out->shop) - used, " (not dropped: %.200s)", err);
        else
            snprintf(out->shop + used, sizeof(out->shop) - used, " (dropped)");
    }
    ovs_topology_stop(topo);
    out->seconds = (double)(ovs_now_ns() - t_begin) / 1e9;
    return rc;
}

int ovs_cell_record(ovs_cell_played *pl, ovs_results *db, ovs_cell_result *out)
{
    int rc = 0;

    out->run_id = ovs_results_write(db, &pl->row, pl->res.traces, pl->res.ntraces,
                                    pl->checks, pl->nchecks);
    if (out->run_id < 0) {
        snprintf(out->error, sizeof(out->error), "results: %s", db->errstr);
        rc = OVS_ERR;
    }
    ovs_cell_played_free(pl);
    return rc;
}

void ovs_cell_played_free(ovs_cell_played *pl)
{
    if (pl == NULL)
        return;
    free(pl->redis_stock);
    free(pl->absent);
    ovs_hold_facts_free(&pl->hold_facts);
    ovs_run_result_free(&pl->res);
    free(pl);
}

int ovs_cell_run(const ovs_cell *cell, ovs_results *db, ovs_cell_result *out)
{
    ovs_cell_played *pl;
    int rc = ovs_cell_play(cell, out, &pl);

    return rc != 0 ? rc : ovs_cell_record(pl, db, out);
}
