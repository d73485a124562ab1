/* scenario.c - a scenario file, read and validated (the format: scenarios/README.md).
 *
 * A bad file must be refused before anything starts, with "file:line: what is wrong".
 * Two passes. scenario_reader.c reads the file through inih into sections of raw entries,
 * checking what needs no context. This file then interprets the values, [scenario] first:
 * its workload decides which keys exist and how requests read (scenario_request.c), and a
 * file may put [scenario] anywhere. [redis] and the [fault NAME] sections come last,
 * because faults name clients and nodes; scenario_fault.c gives each fault its meaning.
 * The first problem found is the one reported.
 *
 * Strategy names and parameters are not ours to check: strategies are registered at run
 * time, so [strategy NAME] sections and [expect] entries are kept as written, and
 * ovs_scenario_resolve (engine/plan.c) checks them once the file has parsed. A file with
 * a misspelt strategy and another mistake is therefore told of the other one first. */
#include "scenario/scenario.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/endpoint.h"
#include "core/trace.h"
#include "core/util.h"
#include "scenario/scenario_reader.h"

#define MAX_BUYERS 1000000
#define MAX_WORKERS 1024
#define MAX_REDIS_NODES OVS_MAX_NODES /* core/endpoint.h */
#define MAX_REPLICAS OVS_MAX_REPLICAS


/* ---- second pass: values ------------------------------------------------------------ */

static int get_duration(parser *p, const entry *e, int64_t *ns)
{
    if (ovs_parse_duration(e->value, ns) != 0)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' is not a duration (like 150ms or 2s)", e->key,
                    e->value);
    if (*ns > OVS_MAX_DURATION_NS)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' is longer than an hour", e->key, e->value);
    return 0;
}

/* A Sentinel timing: a duration Sentinel can take, whole milliseconds from 1 ms. */
static int get_sentinel_ms(parser *p, const entry *e, int64_t *ns)
{
    if (get_duration(p, e, ns) != 0)
        return -1;
    if (*ns < OVS_NS_PER_MS || *ns % OVS_NS_PER_MS != 0)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' is not a whole number of milliseconds "
                    "from 1ms (Redis counts it in milliseconds)", e->key, e->value);
    return 0;
}

static int get_int(parser *p, const entry *e, long long min, long long max, int *out)
{
    long long v;

    if (ovs_parse_int(e->value, min, max, &v) != 0)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' is not a whole number from %lld to %lld", e->key,
                    e->value, min, max);
    *out = (int)v;
    return 0;
}

/* A value that must be one of names; *out gets its index. */
static int get_choice(parser *p, const entry *e, const char *const *names, int *out)
{
    char list[128];
    size_t used = 0;
    int n = 0;

    for (; names[n]; n++) {
        if (strcmp(e->value, names[n]) == 0) {
            *out = n;
            return 0;
        }
    }
    list[0] = '\0';
    for (int i = 0; i < n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return ovs_scn_fail(p, e->line, "%s: '%.80s' is not %s", e->key, e->value, list);
}

static const entry *find_entry(const section *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, key) == 0)
            return &s->e[i];
    return NULL;
}


static int get_request(parser *p, const ovs_scenario *sc, const entry *e, ovs_request *r)
{
    char why[256];

    if (ovs_request_parse(sc->workload, e->value, r, why, sizeof(why)) != 0)
        return ovs_scn_fail(p, e->line, "request: %s", why);
    if (sc->workload == OVS_INVENTORY && r->sku > sc->skus)
        return ovs_scn_fail(p, e->line, "request: sku=%d, but the scenario has skus = %d", r->sku,
                    sc->skus);
    return 0;
}

/* `think = 1ms` or a uniform range `think = 1ms..5ms`. */
static int get_think_range(parser *p, const entry *e, int64_t *lo, int64_t *hi)
{
    const char *dots = strstr(e->value, "..");
    char a[128], b[128];

    if (dots == NULL) {
        if (get_duration(p, e, lo) != 0)
            return -1;
        *hi = *lo;
        return 0;
    }
    snprintf(a, sizeof(a), "%.*s", (int)(dots - e->value), e->value);
    snprintf(b, sizeof(b), "%s", dots + 2);
    if (ovs_parse_duration(a, lo) != 0 || ovs_parse_duration(b, hi) != 0)
        return ovs_scn_fail(p, e->line,
                    "%s: '%.80s' is not a duration or a range of durations (like 1ms or "
                    "1ms..5ms)",
                    e->key, e->value);
    if (*lo > OVS_MAX_DURATION_NS || *hi > OVS_MAX_DURATION_NS)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' is longer than an hour", e->key, e->value);
    if (*lo > *hi)
        return ovs_scn_fail(p, e->line, "%s: '%.80s' has its minimum above its maximum", e->key,
                    e->value);
    return 0;
}

/* `arrival = burst` or `arrival = rate 100/s` (the "/s" may be left out). */
static int get_arrival(parser *p, const entry *e, ovs_crowd *c)
{
    char buf[128], *num;
    size_t n;

    if (strcmp(e->value, "burst") == 0) {
        c->arrival = OVS_ARRIVE_BURST;
        return 0;
    }
    if (strncmp(e->value, "rate", 4) != 0 || !isspace((unsigned char)e->value[4]))
        return ovs_scn_fail(p, e->line, "arrival: '%.80s' is not burst or rate N/s (like rate 100/s)",
                    e->value);
    snprintf(buf, sizeof(buf), "%s", e->value + 4);
    num = ovs_trim(buf);
    n = strlen(num);
    if (n >= 2 && strcmp(num + n - 2, "/s") == 0)
        num[n - 2] = '\0';
    if (ovs_parse_double(num, &c->rate) != 0)
        return ovs_scn_fail(p, e->line, "arrival: '%.80s' is not burst or rate N/s (like rate 100/s)",
                    e->value);
    if (!(c->rate > 0) || c->rate > 1e7)
        return ovs_scn_fail(p, e->line,
                    "arrival: the rate in '%.80s' must be above 0 and at most 10000000 per "
                    "second",
                    e->value);
    c->arrival = OVS_ARRIVE_RATE;
    return 0;
}

static int only_for(parser *p, const ovs_scenario *sc, const entry *e, enum ovs_workload w)
{
    if (sc->workload == w)
        return 0;
    return ovs_scn_fail(p, e->line, "'%s' is only for %s scenarios (this one is workload = %s)",
                e->key, ovs_scn_workload_name(w), ovs_scn_workload_name(sc->workload));
}

/* One of the [scenario] queue keys; *stream_only is set to the first that means something
 * only with queue = stream. */
static int queue_key(parser *p, const entry *e, ovs_scenario *sc, const entry **stream_only)
{
    const char *k = e->key, *v = e->value;

    if (strcmp(k, "queue") == 0) {
        if (strcmp(v, "memory") == 0)
            sc->queue.kind = OVS_QUEUE_MEMORY;
        else if (strcmp(v, "stream") == 0)
            sc->queue.kind = OVS_QUEUE_STREAM;
        else
            return ovs_scn_fail(p, e->line, "queue: '%.80s' is not memory or stream", v);
        return 0;
    }
    if (*stream_only == NULL)
        *stream_only = e;
    if (strcmp(k, "queue_apply") == 0) {
        if (strcmp(v, "plain") == 0)
            sc->queue.idempotent = 0;
        else if (strcmp(v, "idempotent") == 0)
            sc->queue.idempotent = 1;
        else
            return ovs_scn_fail(p, e->line, "queue_apply: '%.80s' is not plain or idempotent",
                                v);
        return 0;
    }
    if (strcmp(k, "queue_consumer_crash") == 0)
        return get_int(p, e, 1, 1000000, &sc->queue.consumer_crash);
    if (strcmp(k, "queue_node") == 0)
        return get_int(p, e, 0, MAX_REDIS_NODES - 1, &sc->queue.node);
    return get_duration(p, e, &sc->queue.claim_idle_ns);
}

static int do_scenario(parser *p, const section *s, ovs_scenario *sc)
{
    const entry *w = NULL, *stream_only = NULL;
    int have_name = 0, have_stock = 0;

    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, "workload") == 0)
            w = &s->e[i];
    if (w == NULL)
        return ovs_scn_fail(p, s->line, "[scenario] has no workload (inventory or booking)");
    if (strcmp(w->value, "inventory") == 0)
        sc->workload = OVS_INVENTORY;
    else if (strcmp(w->value, "booking") == 0)
        sc->workload = OVS_BOOKING;
    else
        return ovs_scn_fail(p, w->line, "workload: '%.80s' is not inventory or booking", w->value);

    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char *k = e->key, *v = e->value;
        int rc = 0;

        if (strcmp(k, "name") == 0) {
            size_t n = strlen(v);
            int ok = 1;
            for (size_t j = 0; ok && j < n; j++)
                ok = islower((unsigned char)v[j]) || isdigit((unsigned char)v[j]) || v[j] == '-';
            if (!ok)
                return ovs_scn_fail(p, e->line,
                            "name: '%.80s' may only have lowercase letters, digits and '-' "
                            "(like flash-sale)",
                            v);
            if (n >= sizeof(sc->name))
                return ovs_scn_fail(p, e->line, "name: '%.80s' is longer than %zu characters", v,
                            sizeof(sc->name) - 1);
            memcpy(sc->name, v, n + 1);
            have_name = 1;
        } else if (strcmp(k, "description") == 0) {
            if (strlen(v) >= sizeof(sc->description))
                return ovs_scn_fail(p, e->line, "description: longer than %zu characters",
                            sizeof(sc->description) - 1);
            snprintf(sc->description, sizeof(sc->description), "%s", v);
        } else if (strcmp(k, "seed") == 0) {
            if (ovs_parse_u64(v, &sc->seed) != 0)
                return ovs_scn_fail(p, e->line,
                            "seed: '%.80s' is not a whole number from 0 to %llu", v,
                            (unsigned long long)UINT64_MAX);
        } else if (strcmp(k, "skus") == 0) {
            rc = only_for(p, sc, e, OVS_INVENTORY) || get_int(p, e, 1, 1000000, &sc->skus);
        } else if (strcmp(k, "stock") == 0) {
            rc = only_for(p, sc, e, OVS_INVENTORY) ||
                 get_int(p, e, 0, 1000000000, &sc->stock);
            have_stock = 1;
        } else if (strcmp(k, "lock") == 0) {
            if ((rc = only_for(p, sc, e, OVS_BOOKING)) != 0)
                return rc;
            /* The long spellings (hotel+check_in, hotel+night) are accepted too. */
            if (strcmp(v, "hotel") == 0)
                sc->granularity = OVS_GRAN_HOTEL;
            else if (strcmp(v, "check_in") == 0 || strcmp(v, "hotel+check_in") == 0)
                sc->granularity = OVS_GRAN_CHECKIN;
            else if (strcmp(v, "night") == 0 || strcmp(v, "hotel+night") == 0)
                sc->granularity = OVS_GRAN_NIGHT;
            else
                return ovs_scn_fail(p, e->line, "lock: '%.80s' is not hotel, check_in or night", v);
        } else if (strcmp(k, "writeback_delay") == 0) {
            rc = get_duration(p, e, &sc->writeback_delay_ns);
        } else if (strncmp(k, "queue", 5) == 0) {
            rc = queue_key(p, e, sc, &stream_only);
        }
        if (rc != 0)
            return -1;
    }
    if (stream_only != NULL && sc->queue.kind != OVS_QUEUE_STREAM)
        return ovs_scn_fail(p, stream_only->line, "%s: only a queue = stream has a consumer to "
                            "crash or entries to claim and apply", stream_only->key);
    if (sc->queue.kind == OVS_QUEUE_STREAM && sc->workload != OVS_INVENTORY)
        return ovs_scn_fail(p, s->line, "queue = stream carries orders of workload = inventory "
                            "only");
    if (!have_name)
        return ovs_scn_fail(p, s->line, "[scenario] has no name");
    if (sc->workload == OVS_INVENTORY && !have_stock)
        return ovs_scn_fail(p, s->line, "[scenario] has no stock (required for workload = inventory)");
    return 0;
}

static int do_client(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_client_spec *c = &sc->clients[sc->n_clients];
    int have_request = 0;

    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%.31s", s->arg); /* checked to fit */
    c->line = s->line;
    c->after_fault = -1; /* `after` names a fault or a step: read once the faults are */
    c->after_client = -1; /* (client_after) */
    c->after_step = -1;
    c->before_client = -1; /* `before` names a client: read once all are (client_after) */
    c->before_step = -1;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        int rc = 0;
        if (strcmp(e->key, "start") == 0) {
            rc = get_duration(p, e, &c->start_ns);
        } else if (strcmp(e->key, "think") == 0) {
            rc = get_duration(p, e, &c->think_ns);
        } else if (strcmp(e->key, "request") == 0) {
            rc = get_request(p, sc, e, &c->req);
            have_request = 1;
        } else if (strcmp(e->key, "pause") == 0) {
            static const char *const pauses[] = { "thread", "process", NULL };
            rc = get_choice(p, e, pauses, &c->pause_process);
        } else if (strcmp(e->key, "reenter") == 0) {
            rc = get_int(p, e, 0, 1, &c->reenter);
        }
        if (rc != 0)
            return -1;
    }
    if (!have_request)
        return ovs_scn_fail(p, s->line, "[%s] has no request", s->label);
    sc->n_clients++;
    return 0;
}

static int do_crowd(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_crowd *c = &sc->crowd;
    int have_buyers = 0, have_workers = 0, have_request = 0;

    c->arrival = OVS_ARRIVE_BURST;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        int rc = 0;
        if (strcmp(e->key, "buyers") == 0) {
            rc = get_int(p, e, 1, MAX_BUYERS, &c->buyers);
            have_buyers = 1;
        } else if (strcmp(e->key, "arrival") == 0) {
            rc = get_arrival(p, e, c);
        } else if (strcmp(e->key, "workers") == 0) {
            rc = get_int(p, e, 1, MAX_WORKERS, &c->workers);
            have_workers = 1;
        } else if (strcmp(e->key, "think") == 0) {
            rc = get_think_range(p, e, &c->think_ns, &c->think_max_ns);
        } else if (strcmp(e->key, "request") == 0) {
            rc = get_request(p, sc, e, &c->req);
            have_request = 1;
        } else if (strcmp(e->key, "reenter") == 0) {
            rc = get_int(p, e, 0, 1, &c->reenter);
        }
        if (rc != 0)
            return -1;
    }
    if (!have_buyers)
        return ovs_scn_fail(p, s->line, "[crowd] has no buyers");
    if (!have_request)
        return ovs_scn_fail(p, s->line, "[crowd] has no request");
    if (!have_workers)
        c->workers = c->buyers < 16 ? c->buyers : 16;
    sc->has_crowd = 1;
    return 0;
}

/* [redis] min_replicas_to_write and min_replicas_max_lag, once replicas is known: Redis
 * would take a count above the replicas there are, and its master would then refuse
 * every write, which no scenario means to show. The lag is whole seconds because Redis
 * counts it so (a replica is good while its last acknowledgement is at most that many
 * seconds old). */
static int do_redis_min_replicas(parser *p, const section *s, ovs_redis_spec *r)
{
    const entry *to_write = find_entry(s, "min_replicas_to_write");
    const entry *max_lag = find_entry(s, "min_replicas_max_lag");
    int64_t lag_ns = 0;

    if (max_lag && to_write == NULL)
        return ovs_scn_fail(p, max_lag->line,
                    "min_replicas_max_lag: needs min_replicas_to_write");
    if (to_write == NULL)
        return 0;
    if (r->replicas == 0)
        return ovs_scn_fail(p, to_write->line,
                    "min_replicas_to_write: needs replicas >= 1 (a master with none would "
                    "refuse every write)");
    if (get_int(p, to_write, 1, r->replicas, &r->min_replicas_to_write) != 0)
        return -1;
    r->min_replicas_max_lag = OVS_MIN_REPLICAS_MAX_LAG;
    if (max_lag == NULL)
        return 0;
    if (get_duration(p, max_lag, &lag_ns) != 0)
        return -1;
    if (lag_ns < OVS_NS_PER_S || lag_ns % OVS_NS_PER_S != 0)
        return ovs_scn_fail(p, max_lag->line, "min_replicas_max_lag: '%.80s' is not a whole "
                    "number of seconds from 1s (Redis counts it in seconds)", max_lag->value);
    r->min_replicas_max_lag = (int)(lag_ns / OVS_NS_PER_S);
    return 0;
}

/* [redis]. Runs after the clients and the crowd are known: proxied links are per timeline
 * client. Keys that need another key (lag needs replicas) are checked once the whole
 * section is read, so the order of keys in it does not matter. */
static int do_redis(parser *p, const section *s, ovs_scenario *sc)
{
    static const char *const persistences[] = { "none", "rdb", "aof", NULL };
    static const char *const read_froms[] = { "master", "replica", NULL };
    static const char *const links[] = { "direct", "proxied", NULL };
    ovs_redis_spec *r = &sc->redis;
    const entry *lag = find_entry(s, "lag"), *jitter = find_entry(s, "jitter");
    const entry *read_from = find_entry(s, "read_from"), *link = find_entry(s, "links");
    const entry *sentinels = find_entry(s, "sentinels");
    const entry *down_after = find_entry(s, "sentinel_down_after");
    const entry *failover_timeout = find_entry(s, "sentinel_failover_timeout");
    const entry *cluster = find_entry(s, "cluster"), *nodes = find_entry(s, "nodes");
    const entry *c_replicas = find_entry(s, "cluster_replicas");
    const entry *c_timeout = find_entry(s, "cluster_node_timeout");

    r->sentinel_down_after_ns = OVS_SENTINEL_DOWN_AFTER_NS;
    r->sentinel_failover_timeout_ns = OVS_SENTINEL_FAILOVER_TIMEOUT_NS;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char *k = e->key;
        int v = 0, rc = 0;

        if (strcmp(k, "nodes") == 0) {
            rc = get_int(p, e, 1, MAX_REDIS_NODES, &r->nodes);
        } else if (strcmp(k, "replicas") == 0) {
            rc = get_int(p, e, 0, MAX_REPLICAS, &r->replicas);
        } else if (strcmp(k, "lag") == 0) {
            rc = get_duration(p, e, &r->lag_ns);
        } else if (strcmp(k, "jitter") == 0) {
            rc = get_duration(p, e, &r->jitter_ns);
        } else if (strcmp(k, "persistence") == 0) {
            rc = get_choice(p, e, persistences, &v);
            r->persistence = (enum ovs_persistence)v; /* in the enum's order */
        } else if (strcmp(k, "read_from") == 0) {
            rc = get_choice(p, e, read_froms, &r->read_from_replica);
        } else if (strcmp(k, "links") == 0) {
            rc = get_choice(p, e, links, &r->proxied_links);
        } else if (strcmp(k, "sentinels") == 0) {
            rc = get_int(p, e, 1, OVS_MAX_SENTINELS, &r->sentinels);
        } else if (strcmp(k, "sentinel_down_after") == 0) {
            rc = get_sentinel_ms(p, e, &r->sentinel_down_after_ns);
        } else if (strcmp(k, "sentinel_failover_timeout") == 0) {
            rc = get_sentinel_ms(p, e, &r->sentinel_failover_timeout_ns);
        } else if (strcmp(k, "cluster") == 0) {
            rc = get_int(p, e, 3, MAX_REDIS_NODES, &r->cluster);
        } else if (strcmp(k, "cluster_replicas") == 0) {
            rc = get_int(p, e, 0, OVS_CLUSTER_REPLICAS_MAX, &r->cluster_replicas);
        } else if (strcmp(k, "cluster_node_timeout") == 0) {
            rc = get_sentinel_ms(p, e, &r->cluster_node_timeout_ns);
        }
        if (rc != 0)
            return -1;
    }
    if (lag && r->replicas == 0)
        return ovs_scn_fail(p, lag->line,
                    "lag: needs replicas >= 1 (it delays the replication link to them)");
    if (jitter && lag == NULL)
        return ovs_scn_fail(p, jitter->line, "jitter: needs a lag (it is +/- on the replication lag)");
    if (jitter && r->jitter_ns > r->lag_ns)
        return ovs_scn_fail(p, jitter->line,
                    "jitter: '%.40s' is more than lag = %.40s (the delay would go below zero)",
                    jitter->value, lag->value);
    if (read_from && r->read_from_replica && r->replicas == 0)
        return ovs_scn_fail(p, read_from->line, "read_from: replica needs replicas >= 1");
    if (link && r->proxied_links && sc->n_clients == 0)
        return ovs_scn_fail(p, link->line,
                    "links: proxied needs [client NAME] sections (each timeline client gets "
                    "its own proxy to each node; a [crowd] has none)");
    if (sentinels && r->replicas == 0)
        return ovs_scn_fail(p, sentinels->line,
                    "sentinels: needs replicas >= 1 (Sentinel promotes a replica of master 0)");
    if (sentinels && link && r->proxied_links)
        return ovs_scn_fail(p, sentinels->line,
                    "sentinels: clients find master 0 through Sentinel, not through the "
                    "per-client proxies of links = proxied (line %d)", link->line);
    if (cluster && nodes && r->nodes != r->cluster)
        return ovs_scn_fail(p, nodes->line, "nodes: %d, but cluster = %d (line %d) already "
                            "says how many masters there are", r->nodes, r->cluster,
                            cluster->line);
    if (cluster && (r->replicas > 0 || sentinels || (link && r->proxied_links)))
        return ovs_scn_fail(p, cluster->line,
                    "cluster: cannot go with %s (a cluster's replicas are cluster_replicas "
                    "= N, and it has no Sentinels or proxied links here)",
                    r->replicas > 0 ? "replicas" : sentinels ? "sentinels" : "links = proxied");
    if ((c_replicas || c_timeout) && !cluster)
        return ovs_scn_fail(p, (c_replicas ? c_replicas : c_timeout)->line,
                            "%s: needs cluster = N", c_replicas ? "cluster_replicas"
                                                                : "cluster_node_timeout");
    /* Every node, masters and replicas, is one of the fleet's. */
    if (cluster && r->cluster * (1 + r->cluster_replicas) > MAX_REDIS_NODES + MAX_REPLICAS)
        return ovs_scn_fail(p, c_replicas->line, "cluster_replicas: %d masters with %d "
                            "replicas each are more than the %d servers a run can start",
                            r->cluster, r->cluster_replicas, MAX_REDIS_NODES + MAX_REPLICAS);
    if (cluster)
        r->nodes = r->cluster;
    /* The stream sale's script names the stock key and the stream, which a cluster puts in
     * different slots (CROSSSLOT on every sale); a stay's nights are keys of as many
     * slots, and preparing them SCANs, which names no key to route by. */
    if (cluster && sc->queue.kind == OVS_QUEUE_STREAM)
        return ovs_scn_fail(p, cluster->line, "cluster: cannot go with [scenario] queue = "
                            "stream (the sale's script would name keys of two slots)");
    if (cluster && sc->workload != OVS_INVENTORY)
        return ovs_scn_fail(p, cluster->line, "cluster: inventory only for now (a stay's "
                            "nights are keys of several slots)");
    if (down_after && !sentinels)
        return ovs_scn_fail(p, down_after->line, "sentinel_down_after: needs sentinels >= 1");
    if (failover_timeout && !sentinels)
        return ovs_scn_fail(p, failover_timeout->line,
                    "sentinel_failover_timeout: needs sentinels >= 1");
    return do_redis_min_replicas(p, s, r);
}

/* One [fault NAME] (scenario_fault.c interprets it). `links` is [redis] links, or NULL:
 * a link target turns proxied links on, unless the file explicitly said direct. */
static int do_fault(parser *p, const section *s, ovs_scenario *sc, const entry *links)
{
    ovs_fault *f = &sc->faults[sc->n_faults];
    ovs_fault_text t = { 0 };
    const entry *at = find_entry(s, "at"), *after = find_entry(s, "after");
    const entry *bad;
    const char *key = NULL;
    char why[400];

    if (at && after) {
        const entry *later = at->line > after->line ? at : after;
        return ovs_scn_fail(p, later->line,
                    "%s: [%s] already has %s (line %d); give at or after, not both",
                    later->key, s->label, later == at ? "after" : "at",
                    later == at ? after->line : at->line);
    }
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char **slot = strcmp(e->key, "at") == 0         ? &t.at
                            : strcmp(e->key, "after") == 0    ? &t.after
                            : strcmp(e->key, "action") == 0   ? &t.action
                            : strcmp(e->key, "target") == 0   ? &t.target
                            : strcmp(e->key, "duration") == 0 ? &t.duration
                            : strcmp(e->key, "by") == 0       ? &t.by
                                                               : &t.recovery;
        *slot = e->value; /* the keys were checked while reading: no other can be here */
    }
    if (ovs_fault_parse(sc, s->arg, &t, f, &key, why, sizeof(why)) != 0) {
        bad = key ? find_entry(s, key) : NULL;
        return ovs_scn_fail(p, bad ? bad->line : s->line, "%s", why);
    }
    f->line = s->line;
    /* Sentinel promotes and clients follow it: a promotion by the harness would race it,
     * and a link fault needs the per-client proxies that Sentinel's clients bypass. */
    if (sc->redis.sentinels && (f->action == OVS_FAULT_PROMOTE || f->target == OVS_TARGET_LINK)) {
        int promote = f->action == OVS_FAULT_PROMOTE;
        return ovs_scn_fail(p, find_entry(s, promote ? "action" : "target")->line,
                    "%s: [redis] has sentinels, which promote a replica themselves and "
                    "point clients at it: no %s with them", promote ? "action" : "target",
                    promote ? "promote by the harness" : "link faults");
    }
    /* A cluster's clients go wherever MOVED sends them, past any per-client proxy; and
     * the shop re-warms stock:<sku> on master 0, not on each key's master. */
    /* The consumer dates each entry by its id, which the stream's node's clock writes: a
     * jump there would move every entry's due time by the jump. */
    if (sc->queue.kind == OVS_QUEUE_STREAM && f->action == OVS_FAULT_CLOCK_JUMP &&
        f->target == OVS_TARGET_NODE && f->target_node == sc->queue.node)
        return ovs_scn_fail(p, find_entry(s, "target")->line,
                    "target: node:%d keeps the write-back stream, whose entry ids its clock "
                    "writes: no clock-jump there with queue = stream", sc->queue.node);
    if (sc->redis.cluster && (f->target == OVS_TARGET_LINK || f->recovery != OVS_RECOVER_NONE)) {
        int link = f->target == OVS_TARGET_LINK;
        return ovs_scn_fail(p, find_entry(s, link ? "target" : "recovery")->line,
                    "%s: [redis] has a cluster, %s", link ? "target" : "recovery",
                    link ? "whose clients follow redirects past the per-client proxies: no "
                           "link faults with it"
                         : "and stock is re-warmed on master 0 only: no recovery with it yet");
    }
    /* A killed cluster master is failed over to its replica by the cluster itself; with
     * none, its slots would have no master and their stock be unreadable. One restarted
     * (empty or not) would rejoin as a replica of its successor or forget the cluster:
     * neither is played here yet. */
    if (sc->redis.cluster && f->action == OVS_FAULT_KILL && sc->redis.cluster_replicas == 0)
        return ovs_scn_fail(p, find_entry(s, "action")->line,
                    "action: [redis] has a cluster whose masters have no replicas "
                    "(cluster_replicas = 0): no kill with it (pause, clock-jump and client "
                    "faults are fine)");
    /* A master paused past the node timeout is failed over behind the harness's back
     * and comes back a replica, where the harness would still read its shard. */
    if (sc->redis.cluster_replicas > 0 && f->action == OVS_FAULT_PAUSE)
        return ovs_scn_fail(p, find_entry(s, "action")->line,
                    "action: [redis] has cluster_replicas: no pause with them (a master "
                    "paused past cluster_node_timeout is failed over, unwatched)");
    if (sc->redis.cluster && (f->action == OVS_FAULT_RESTART ||
                              f->action == OVS_FAULT_KILL_RESTART))
        return ovs_scn_fail(p, find_entry(s, "action")->line,
                    "action: [redis] has a cluster: no restart with it (a restarted master "
                    "would rejoin its shard as a replica, or forget the cluster)");
    if (f->target == OVS_TARGET_LINK) {
        if (links && !sc->redis.proxied_links)
            return ovs_scn_fail(p, find_entry(s, "target")->line,
                        "target: '%.60s' is a link, but [redis] has links = direct (line %d): "
                        "say proxied, or leave links out",
                        t.target, links->line);
        sc->redis.proxied_links = 1;
    }
    sc->n_faults++;
    return 0;
}

/* A [strategy NAME] section, kept as written for ovs_scenario_resolve. */
static int do_strategy(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_scenario_params *x = &sc->params[sc->n_params];

    x->line = s->line;
    if ((x->name = strdup(s->arg)) == NULL ||
        (s->n > 0 && (x->kv = calloc((size_t)s->n, sizeof(*x->kv))) == NULL)) {
        free(x->name);
        x->name = NULL;
        return ovs_scn_fail(p, s->line, "out of memory");
    }
    sc->n_params++; /* from here ovs_scenario_free frees what x holds */
    for (int i = 0; i < s->n; i++) {
        ovs_scenario_kv *kv = &x->kv[x->n];
        kv->line = s->e[i].line;
        kv->key = strdup(s->e[i].key);
        kv->value = strdup(s->e[i].value);
        if (kv->key == NULL || kv->value == NULL) {
            free(kv->key);
            free(kv->value);
            kv->key = kv->value = NULL;
            return ovs_scn_fail(p, kv->line, "out of memory");
        }
        x->n++;
    }
    return 0;
}

static int do_expect(parser *p, const section *s, ovs_scenario *sc)
{
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        ovs_expect *x = &sc->expect[sc->n_expect];
        /* The verdict, then optionally one word about stale answers after blanks. */
        size_t vlen = strcspn(e->value, " \t");
        const char *more = e->value + vlen + strspn(e->value + vlen, " \t");
        if (vlen == 4 && strncmp(e->value, "safe", 4) == 0)
            x->safe = 1;
        else if (vlen == 6 && strncmp(e->value, "unsafe", 6) == 0)
            x->safe = 0;
        else
            return ovs_scn_fail(p, e->line, "%s: '%.80s' is not safe or unsafe", e->key, e->value);
        x->rate_cmp = 0;
        if ((more[0] == '>' || more[0] == '<') && more[1] == '=') {
            char *end;
            const char *num = more + 2 + strspn(more + 2, " \t");
            double pct = strtod(num, &end);
            if (x->safe)
                return ovs_scn_fail(p, e->line, "%s: a rate of unsafe runs follows unsafe"
                                    " only ('unsafe >= 95%%'); safe is unsafe in no run",
                                    e->key);
            if (end == num || *end != '%' || !(pct >= 0 && pct <= 100) ||
                !isdigit((unsigned char)*num))
                return ovs_scn_fail(p, e->line, "%s: '%.40s' is not a rate of unsafe runs"
                                    " like '>= 95%%' or '<= 5%%' (a percentage, 0 to 100)",
                                    e->key, more);
            x->rate_cmp = more[0] == '>' ? 1 : -1;
            x->rate = pct / 100;
            more = end + 1 + strspn(end + 1, " \t");
        }
        if (*more == '\0')
            x->stale = -1;
        else if (strcmp(more, "stale") == 0)
            x->stale = 1;
        else if (strcmp(more, "fresh") == 0)
            x->stale = 0;
        else
            return ovs_scn_fail(p, e->line,
                                "%s: '%.40s' after the verdict is not a rate of unsafe runs"
                                " (>= P%% or <= P%%), stale (some answers stale) or fresh"
                                " (none)",
                                e->key, more);
        if ((x->name = strdup(e->key)) == NULL)
            return ovs_scn_fail(p, e->line, "out of memory");
        x->line = e->line;
        char *at = strchr(x->name, '@');
        if (at != NULL) {
            *at = '\0';
            if ((x->backend = strdup(at + 1)) == NULL) {
                free(x->name);
                x->name = NULL;
                return ovs_scn_fail(p, e->line, "out of memory");
            }
        }
        sc->n_expect++;
    }
    return 0;
}

/* A client's `after = FAULT` or `after = CLIENT:STEP`: its start counts from the end of
 * that fault, or from when that client's step passed; and its `before = CLIENT:STEP`.
 * Both may name a client further down, and the faults are read after the clients (they
 * name clients), so this comes last. A fault that follows the client's own step would
 * have it wait for itself; one that follows a step of a client who itself waits could
 * close a circle, and is refused too, as are the same two for a step. */
static int client_after(parser *p, ovs_scenario *sc)
{
    int line[OVS_MAX_CLIENTS], ci = 0;

    for (int i = 0; i < p->nsec && ci < OVS_MAX_CLIENTS; i++) {
        if (p->sec[i].kind != SEC_CLIENT)
            continue;
        ovs_client_spec *c = &sc->clients[ci];
        const entry *b = find_entry(&p->sec[i], "before");
        if (b != NULL) {
            char why[256];
            if (ovs_client_step_parse(sc, "before", b->value, &c->before_client,
                                      &c->before_step, why, sizeof(why)) != 0)
                return ovs_scn_fail(p, b->line, "%s", why);
            if (c->before_client == ci)
                return ovs_scn_fail(p, b->line, "before: %s names %s itself: a request "
                                    "starts before its own steps anyway", b->value, c->name);
            c->before_line = b->line;
        }
        const entry *e = find_entry(&p->sec[i], "after");
        line[ci++] = e != NULL ? e->line : 0;
        if (e == NULL)
            continue;
        if (strchr(e->value, ':') != NULL) {
            char why[256];
            if (ovs_client_step_parse(sc, "after", e->value, &c->after_client, &c->after_step,
                                      why, sizeof(why)) != 0)
                return ovs_scn_fail(p, e->line, "%s", why);
            continue;
        }
        for (int k = 0; k < sc->n_faults; k++)
            if (strcmp(sc->faults[k].name, e->value) == 0)
                c->after_fault = k;
        if (c->after_fault < 0)
            return ovs_scn_fail(p, e->line, "after: no [fault %.40s] in this file (a client "
                                "starts after a fault, named by its section, or after a "
                                "step, CLIENT:STEP)", e->value);
    }
    for (int i = 0; i < sc->n_clients; i++) {
        const ovs_client_spec *c = &sc->clients[i];
        /* The step this start waits on, directly or through its fault; a timed fault
         * waits on none. */
        const ovs_fault *f = c->after_fault >= 0 ? &sc->faults[c->after_fault] : NULL;
        int on = f != NULL ? f->after_client : c->after_client;
        if (on < 0)
            continue;
        const ovs_client_spec *o = &sc->clients[on];
        char via[96];
        snprintf(via, sizeof(via), "%s%s%s%s:%s", f != NULL ? "[fault " : "",
                 f != NULL ? f->name : "", f != NULL ? "] follows " : "", o->name,
                 ovs_op_name((enum ovs_op)(f != NULL ? f->after_step : c->after_step)));
        if (on == i)
            return ovs_scn_fail(p, line[i], "after: %s, %s's own step: %s would wait for "
                                "itself", via, c->name, c->name);
        if (o->after_fault >= 0 || o->after_client >= 0)
            return ovs_scn_fail(p, line[i], "after: %s, a step of %s, who starts after "
                                "something too; a start waits for one step or fault, not a "
                                "chain", via, o->name);
    }
    return 0;
}

static int interpret(parser *p, ovs_scenario *sc)
{
    const section *scn = NULL, *redis = NULL;
    const entry *links = NULL;
    int nparams = 0, nexpect = 0;

    for (int i = 0; i < p->nsec; i++) {
        if (p->sec[i].kind == SEC_SCENARIO)
            scn = &p->sec[i];
        else if (p->sec[i].kind == SEC_STRATEGY)
            nparams++;
        else if (p->sec[i].kind == SEC_EXPECT)
            nexpect = p->sec[i].n;
        else if (p->sec[i].kind == SEC_REDIS)
            redis = &p->sec[i];
    }
    if (scn == NULL)
        return ovs_scn_fail(p, 1, "no [scenario] section (every scenario file needs one, with a name "
                          "and a workload)");

    sc->seed = 1;
    sc->skus = 1;
    sc->granularity = OVS_GRAN_NIGHT;
    sc->writeback_delay_ns = 5 * OVS_NS_PER_MS;
    sc->queue.claim_idle_ns = 100 * OVS_NS_PER_MS;
    if (do_scenario(p, scn, sc) != 0)
        return -1;

    if ((p->nclients && !(sc->clients = calloc((size_t)p->nclients, sizeof(*sc->clients)))) ||
        (nparams && !(sc->params = calloc((size_t)nparams, sizeof(*sc->params)))) ||
        (nexpect && !(sc->expect = calloc((size_t)nexpect, sizeof(*sc->expect)))) ||
        (p->nfaults && !(sc->faults = calloc((size_t)p->nfaults, sizeof(*sc->faults)))))
        return ovs_scn_fail(p, scn->line, "out of memory");

    for (int i = 0; i < p->nsec; i++) {
        const section *s = &p->sec[i];
        int rc = 0;

        if ((s->kind == SEC_CROWD && sc->n_clients > 0) ||
            (s->kind == SEC_CLIENT && sc->has_crowd))
            return ovs_scn_fail(p, s->line,
                        "[crowd] and [client ...] sections cannot both be present (a scenario "
                        "is a timeline of clients or a crowd, not both)");
        switch (s->kind) {
        case SEC_SCENARIO:
        case SEC_REDIS: /* below, once the clients are known */
        case SEC_FAULT:
            break;
        case SEC_CLIENT:
            rc = do_client(p, s, sc);
            break;
        case SEC_CROWD:
            rc = do_crowd(p, s, sc);
            break;
        case SEC_STRATEGY:
            rc = do_strategy(p, s, sc);
            break;
        case SEC_EXPECT:
            rc = do_expect(p, s, sc);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (sc->n_clients == 0 && !sc->has_crowd)
        return ovs_scn_fail(p, scn->line,
                    "no [crowd] or [client NAME] section: nobody makes a request");

    /* Faults name clients and nodes, so they come last, after [redis]. */
    if (redis) {
        if (do_redis(p, redis, sc) != 0)
            return -1;
        links = find_entry(redis, "links");
    }
    /* The stream on a node of its own: that node must be one the scenario starts (the
     * stream check needs [redis] before the faults, which name its node). */
    if (sc->queue.node > 0 && sc->redis.nodes <= sc->queue.node)
        return ovs_scn_fail(p, find_entry(scn, "queue_node")->line,
                            "queue_node: %d needs [redis] nodes > %d (nodes = %d)",
                            sc->queue.node, sc->queue.node, sc->redis.nodes);
    for (int i = 0; i < p->nsec; i++)
        if (p->sec[i].kind == SEC_FAULT && do_fault(p, &p->sec[i], sc, links) != 0)
            return -1;
    /* Reconciling counts the orders still queued in the harness's own queue; a stream's
     * entries are Redis's, lost or kept with it, and are not counted there. */
    for (int i = 0; i < sc->n_faults; i++)
        if (sc->faults[i].recovery == OVS_RECOVER_RECONCILE &&
            sc->queue.kind == OVS_QUEUE_STREAM)
            return ovs_scn_fail(p, sc->faults[i].line, "recovery = reconcile counts the orders "
                                "queued in memory, and this scenario's queue is a stream");
    return client_after(p, sc);
}

/* ---- entry points ------------------------------------------------------------------- */

static int parse_source(parser *p, ovs_scenario *sc)
{
    int rc;

    memset(sc, 0, sizeof(*sc));
    rc = ini_parse_stream(ovs_scn_read_line, p, ovs_scn_on_key, p);
    if (!p->failed && p->io_errno) {
        ovs_seterr(p->err, p->errlen, "%s: cannot read: %s", p->path, strerror(p->io_errno));
        p->failed = 1;
    }
    /* Every syntax error inih knows is caught by classify() first, so these are only a
     * safety net should inih's rules ever change under us. */
    if (!p->failed && rc > 0)
        ovs_scn_fail(p, rc, "syntax error");
    if (!p->failed && rc < 0)
        ovs_scn_fail(p, p->line, "out of memory");
    if (!p->failed && interpret(p, sc) == 0)
        snprintf(sc->path, sizeof(sc->path), "%s", p->path);
    ovs_scn_parser_free(p);
    if (p->failed) {
        ovs_scenario_free(sc);
        return -1;
    }
    return 0;
}

int ovs_scenario_parse(const char *path, const char *text, ovs_scenario *sc, char *err,
                       size_t errlen)
{
    parser p = { .path = path, .text = text ? text : "", .cur = -1, .err = err,
                 .errlen = errlen };
    return parse_source(&p, sc);
}

int ovs_scenario_load(const char *path, ovs_scenario *sc, char *err, size_t errlen)
{
    parser p = { .path = path, .cur = -1, .err = err, .errlen = errlen };
    int rc;

    memset(sc, 0, sizeof(*sc));
    p.f = fopen(path, "r");
    if (p.f == NULL) {
        ovs_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rc = parse_source(&p, sc);
    fclose(p.f);
    return rc;
}

void ovs_scenario_free(ovs_scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->clients);
    for (int i = 0; i < sc->n_params; i++) {
        for (int k = 0; k < sc->params[i].n; k++) {
            free(sc->params[i].kv[k].key);
            free(sc->params[i].kv[k].value);
        }
        free(sc->params[i].kv);
        free(sc->params[i].name);
    }
    free(sc->params);
    for (int i = 0; i < sc->n_expect; i++) {
        free(sc->expect[i].name);
        free(sc->expect[i].backend);
    }
    free(sc->expect);
    free(sc->faults);
    memset(sc, 0, sizeof(*sc));
}

/* ---- queries ------------------------------------------------------------------------ */

int ovs_scenario_requests(const ovs_scenario *sc)
{
    return sc->has_crowd ? sc->crowd.buyers : sc->n_clients;
}

ovs_request ovs_scenario_request_of(const ovs_scenario *sc, int buyer)
{
    ovs_request r;

    if (!sc->has_crowd)
        return sc->clients[buyer].req;
    r = sc->crowd.req;
    if (sc->crowd.spread_skus)
        r.sku = 1 + buyer % sc->skus;
    return r;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ovs_scenario_files(const char *dir, char **paths, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".ini") == 0) {
            size_t need = strlen(dir) + len + 2;
            paths[n] = malloc(need);
            if (paths[n] == NULL)
                break;
            snprintf(paths[n], need, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof(*paths), cmp_path);
    return n;
}
