/* topology.c - masters, replicas behind delay proxies, per-client links, and the faults
 * done to them. */
#include "infra/topology.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "infra/fleet.h"
#include "infra/fleet_faults.h"
#include "infra/own_cluster.h"
#include "infra/proxy.h"
#include "infra/sentinel.h"
#include "core/keys.h"
#include "core/keyslot.h"
#include "core/util.h"

#define MAX_REPLICAS 4

struct ovs_topology {
    const ovs_scenario *sc;
    ovs_fleet *fleet;                  /* NULL when attached to the user's servers */
    char prefix[OVS_KEY_PREFIX_MAX];   /* of every key of the run: "" on the fleet */
    char version[64];                  /* attached: redis_version of master 0 */
    int nodes;                         /* masters */
    int nreplicas;
    int replica[MAX_REPLICAS];         /* fleet index of replica r */
    ovs_proxy *repl[MAX_REPLICAS];     /* the delay proxy feeding replica r */
    int master0;                       /* fleet index now serving as master 0 */
    int shard[OVS_MAX_NODES];          /* cluster: fleet index now serving master i's
                                          slots (i, or the replica the cluster promoted) */
    int64_t killed_at[OVS_MAX_NODES];  /* monotonic ns of master i's last kill */
    ovs_sentinels *sentinels;          /* watching master 0, or NULL */
    ovs_endpoint masters[OVS_MAX_NODES]; /* as clients get them: the fleet's, master 0
                                          found through the Sentinels when there are */
    int nclients;                      /* rows of links: one per timeline client, one
                                          shared by a crowd's workers; 0 when direct */
    ovs_proxy **link;                  /* [client * nodes + node] */
    ovs_endpoint *link_ep;             /* the same, as endpoints */
    const ovs_endpoint **client_row;   /* per client: &link_ep[client * nodes] */
    int own_cluster;                   /* attached to the user's cluster (--cluster) */
    ovs_endpoint cl_master[OVS_MAX_NODES]; /* own_cluster: its masters when attached */
    unsigned char owner[OVS_CLUSTER_SLOTS]; /* own_cluster: slot -> index in cl_master */
};

static int wants_links(const ovs_scenario *sc)
{
    if (sc->redis.proxied_links)
        return 1;
    for (int i = 0; i < sc->n_faults; i++)
        if (sc->faults[i].action == OVS_FAULT_PROMOTE || sc->faults[i].target == OVS_TARGET_LINK)
            return 1;
    return 0;
}

/* The Sentinels watch master 0 and know its replicas by their own addresses. Their
 * timings come from the scenario; a scenario made in code (0) gets the parser's defaults. */
static int start_sentinels(ovs_topology *t, char *err, size_t errlen)
{
    const ovs_redis_spec *rs = &t->sc->redis;
    ovs_endpoint replicas[MAX_REPLICAS];
    ovs_sentinels_opts so = {
        .n = rs->sentinels,
        .dir = ovs_fleet_dir(t->fleet),
        .master = ovs_fleet_node(t->fleet, 0),
        .replicas = replicas,
        .nreplicas = t->nreplicas,
        .down_after_ns = rs->sentinel_down_after_ns ? rs->sentinel_down_after_ns
                                                    : OVS_SENTINEL_DOWN_AFTER_NS,
        .failover_timeout_ns = rs->sentinel_failover_timeout_ns
                                   ? rs->sentinel_failover_timeout_ns
                                   : OVS_SENTINEL_FAILOVER_TIMEOUT_NS,
    };

    for (int r = 0; r < t->nreplicas; r++)
        replicas[r] = *ovs_fleet_node(t->fleet, t->replica[r]);
    if (ovs_sentinels_start(&so, &t->sentinels, err, errlen) != 0)
        return -1;
    t->masters[0].sentinels = ovs_sentinels_set(t->sentinels);
    return 0;
}

/* With Sentinels, master 0 is wherever they say: the harness reads there as its clients
 * write there. A node they name that is not ours, or no answer at all, leaves the last
 * one known. */
static void follow_sentinels(ovs_topology *t)
{
    ovs_endpoint now;
    char err[200];

    if (t->sentinels == NULL ||
        ovs_sentinel_master(ovs_sentinels_set(t->sentinels), 1000, &now, err, sizeof(err)) != 0)
        return;
    for (int i = 0; i < ovs_fleet_total(t->fleet); i++) {
        const ovs_endpoint *ep = ovs_fleet_node(t->fleet, i);
        if (ep->port == now.port && strcmp(ep->host, now.host) == 0)
            t->master0 = i;
    }
}

/* With min_replicas_to_write, wait (bounded) until master 0 counts that many good
 * replicas. A replica that has just synced is not counted at once: Redis refreshes the
 * count on its once-a-second cron, and until then master 0 refuses every write
 * (NOREPLICAS). A test that wrote right after the start was refused so; the run's own
 * first writes (the stock, the settle marker) must not be. */
static int wait_good_replicas(ovs_topology *t, char *err, size_t errlen)
{
    const ovs_endpoint *ep = ovs_fleet_node(t->fleet, 0);
    int want = t->sc->redis.min_replicas_to_write, good = -1;
    int64_t deadline = ovs_now_ns() + 10 * OVS_NS_PER_S;
    redisContext *c = ovs_topology_connect(ep, err, errlen);

    if (c == NULL)
        return -1;
    for (;;) {
        redisReply *r = redisCommand(c, "INFO replication");
        const char *f = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
        const char *v = f ? strstr(f, "min_slaves_good_slaves:") : NULL;
        good = v ? atoi(v + strlen("min_slaves_good_slaves:")) : -1;
        freeReplyObject(r);
        if (good >= want || ovs_now_ns() >= deadline)
            break;
        ovs_sleep_ns(10 * OVS_NS_PER_MS);
    }
    redisFree(c);
    if (good >= want)
        return 0;
    ovs_seterr(err, errlen, "%s:%d counts %d good replicas after 10 s, not the %d of "
               "min_replicas_to_write", ep->host, ep->port, good < 0 ? 0 : good, want);
    return -1;
}

int ovs_topology_start(const ovs_scenario *sc, int nodes, const char *redis_server,
                       ovs_topology **out, char *err, size_t errlen)
{
    ovs_topology *t = calloc(1, sizeof(*t));
    int rc;

    *out = NULL;
    if (t == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    t->sc = sc;
    t->nodes = nodes;
    ovs_fleet_opts fo = { .nodes = nodes, .redis_server = redis_server,
                          .persistence = (int)sc->redis.persistence,
                          .min_replicas_to_write = sc->redis.min_replicas_to_write,
                          .min_replicas_max_lag = sc->redis.min_replicas_max_lag,
                          .cluster = sc->redis.cluster > 0,
                          .cluster_replicas = sc->redis.cluster_replicas,
                          .cluster_node_timeout_ms =
                              (int)(sc->redis.cluster_node_timeout_ns / OVS_NS_PER_MS) };
    /* The clock shim goes into the nodes a clock-jump targets, and only into them. */
    for (int i = 0; i < sc->n_faults; i++)
        if (sc->faults[i].action == OVS_FAULT_CLOCK_JUMP && sc->faults[i].target_node < nodes)
            fo.clock_nodes |= 1u << sc->faults[i].target_node;
    rc = ovs_fleet_start(&fo, &t->fleet, err, errlen);
    if (rc != 0) {
        free(t);
        return rc == OVS_ERR_ENV ? OVS_ERR_ENV : OVS_ERR;
    }
    t->master0 = 0;
    for (int i = 0; i < nodes; i++)
        t->shard[i] = i;

    for (int r = 0; r < sc->redis.replicas && r < MAX_REPLICAS; r++) {
        /* The replica connects to the proxy; the master is the upstream, so the
         * replication stream flows "down" and that is the direction that lags. */
        if (ovs_proxy_start(ovs_fleet_node(t->fleet, 0), &t->repl[r], err, errlen) != 0)
            goto fail;
        if (ovs_fleet_add_replica(t->fleet, ovs_proxy_endpoint(t->repl[r]), &t->replica[r],
                                  err, errlen) != 0)
            goto fail;
        /* The lag is the steady stream's, set by ovs_topology_settle. */
        t->nreplicas++;
    }
    if (sc->redis.min_replicas_to_write > 0 && wait_good_replicas(t, err, errlen) != 0)
        goto fail;
    memcpy(t->masters, ovs_fleet_endpoints(t->fleet), (size_t)nodes * sizeof(t->masters[0]));
    for (int i = 0; i < nodes && sc->redis.cluster > 0; i++) {
        /* Clients route each key to its slot's master, and know every node to ask for
         * the slot map: the fleet's endpoints are one array, replicas after masters. */
        t->masters[i].cluster = 1;
        t->masters[i].seeds = ovs_fleet_node(t->fleet, 0);
        t->masters[i].n_seeds = ovs_fleet_total(t->fleet);
    }
    if (sc->redis.sentinels > 0 && start_sentinels(t, err, errlen) != 0)
        goto fail;

    /* A crowd's workers share one row of links: a promotion must move them as it moves a
     * timeline client, or every request after it dials the dead master; links per worker
     * would only multiply proxy threads, since no fault targets one worker's link. */
    int rows = sc->has_crowd ? 1 : sc->n_clients;
    if (wants_links(sc) && rows > 0) {
        size_t n = (size_t)rows * (size_t)nodes;
        t->link = calloc(n, sizeof(*t->link));
        t->link_ep = calloc(n, sizeof(*t->link_ep));
        t->client_row = calloc((size_t)rows, sizeof(*t->client_row));
        if (t->link == NULL || t->link_ep == NULL || t->client_row == NULL) {
            ovs_seterr(err, errlen, "out of memory");
            goto fail;
        }
        t->nclients = rows;
        for (int c = 0; c < rows; c++) {
            for (int k = 0; k < nodes; k++) {
                size_t i = (size_t)c * (size_t)nodes + (size_t)k;
                if (ovs_proxy_start(ovs_fleet_node(t->fleet, k), &t->link[i], err, errlen) != 0)
                    goto fail;
                t->link_ep[i] = *ovs_proxy_endpoint(t->link[i]);
            }
            t->client_row[c] = &t->link_ep[(size_t)c * (size_t)nodes];
        }
    }
    *out = t;
    return 0;
fail:
    ovs_topology_stop(t);
    return OVS_ERR;
}

int ovs_topology_scan_prefix(const ovs_endpoint *ep, const char *prefix, int unlink,
                             long long *found, char *err, size_t errlen)
{
    char cursor[32] = "0";
    redisContext *c = ovs_topology_connect(ep, err, errlen);
    int rc = 0;

    *found = 0;
    if (c == NULL)
        return -1;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            ovs_seterr(err, errlen, "%s:%d: SCAN: %s", ep->host, ep->port,
                       r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str
                                                                           : "odd reply");
            freeReplyObject(r);
            rc = -1;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; unlink && i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            redisReply *d = redisCommand(c, "UNLINK %b", k->str, (size_t)k->len);
            if (d == NULL || d->type == REDIS_REPLY_ERROR) {
                ovs_seterr(err, errlen, "%s:%d: UNLINK: %s", ep->host, ep->port,
                           d == NULL ? c->errstr : d->str);
                rc = -1;
            }
            freeReplyObject(d);
        }
        *found += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    redisFree(c);
    return rc;
}

int ovs_topology_attach(const ovs_scenario *sc, int nodes, const ovs_endpoint *eps,
                        const char *prefix, ovs_topology **out, char *err, size_t errlen)
{
    ovs_topology *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    t->sc = sc;
    t->nodes = nodes;
    snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
    memcpy(t->masters, eps, (size_t)nodes * sizeof(t->masters[0]));
    for (int i = 0; i < nodes; i++) {
        long long found;
        char why[200];
        if (ovs_topology_scan_prefix(&eps[i], prefix, 0, &found, why, sizeof(why)) != 0) {
            ovs_seterr(err, errlen, "%s", why);
            free(t);
            return OVS_ERR_ENV;
        }
        /* Not the run's keys to judge by, nor to delete after it. */
        if (found > 0) {
            ovs_seterr(err, errlen, "%s:%d already has keys under the run's prefix %s",
                       eps[i].host, eps[i].port, prefix);
            free(t);
            return OVS_ERR;
        }
    }
    /* The user's cluster: the harness reads each stock key on its slot's master, from the
     * map as it is when the run begins (a MOVED reply after a resharding is followed). */
    if (eps[0].cluster) {
        int n;
        char why[300];
        if (ovs_own_cluster_map(eps, nodes, t->cl_master, OVS_MAX_NODES, &n, t->owner, why,
                                sizeof(why)) != 0) {
            ovs_seterr(err, errlen, "%s", why);
            free(t);
            return OVS_ERR_ENV;
        }
        t->own_cluster = 1;
    }
    redisContext *c = ovs_topology_connect(&eps[0], err, errlen);
    redisReply *r = c ? redisCommand(c, "INFO server") : NULL;
    const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    if (v != NULL)
        snprintf(t->version, sizeof(t->version), "%.*s", (int)strcspn(v + 14, "\r\n"), v + 14);
    freeReplyObject(r);
    redisFree(c);
    *out = t;
    return 0;
}

const char *ovs_topology_prefix(const ovs_topology *t)
{
    return t->prefix;
}

const ovs_endpoint *ovs_topology_masters(const ovs_topology *t)
{
    return t->masters;
}

int ovs_topology_size(const ovs_topology *t)
{
    return t->nodes;
}

const ovs_endpoint *const *ovs_topology_client_links(const ovs_topology *t)
{
    return t->nclients > 0 ? t->client_row : NULL;
}

const ovs_endpoint *ovs_topology_read_from(const ovs_topology *t)
{
    if (!t->sc->redis.read_from_replica || t->nreplicas == 0)
        return NULL;
    return ovs_fleet_node(t->fleet, t->replica[0]);
}

const char *ovs_topology_version(const ovs_topology *t)
{
    return t->fleet ? ovs_fleet_version(t->fleet) : t->version;
}

const char *ovs_topology_dir(const ovs_topology *t)
{
    return t->fleet ? ovs_fleet_dir(t->fleet) : NULL;
}

const ovs_endpoint *ovs_topology_master0(ovs_topology *t)
{
    if (t->fleet == NULL)
        return &t->masters[0];
    follow_sentinels(t);
    return ovs_fleet_node(t->fleet, t->master0);
}

redisContext *ovs_topology_connect(const ovs_endpoint *ep, char *err, size_t errlen)
{
    struct timeval tv = { 1, 0 };
    ovs_endpoint now;

    /* A master behind Sentinels (the user's, --sentinel) is read where they say it is
     * now, as the clients write there: before the run, after it, after a failover. */
    if (ep->sentinels != NULL) {
        if (ovs_sentinel_master(ep->sentinels, 1000, &now, err, errlen) != 0)
            return NULL;
        now.auth = ep->auth;
        ep = &now;
    }
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    if (c == NULL || c->err) {
        ovs_seterr(err, errlen, "%s:%d: %s", ep->host, ep->port, c ? c->errstr : "no memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    char why[200];
    if (ovs_redis_login(c, ep->auth, why, sizeof(why)) != 0) {
        ovs_seterr(err, errlen, "%s:%d: %s", ep->host, ep->port, why);
        redisFree(c);
        return NULL;
    }
    return c;
}

int ovs_topology_settle(void *ctx, char *err, size_t errlen)
{
    ovs_topology *t = ctx;
    const ovs_endpoint *ep;
    redisContext *c;
    redisReply *r;
    long long timeout_ms;
    int rc = -1;

    if (ovs_fleet_is_cluster(t->fleet))
        return ovs_fleet_cluster_settle(t->fleet, err, errlen) == 0 ? 0 : -1;
    if (t->nreplicas == 0)
        return 0;
    ep = ovs_fleet_node(t->fleet, t->master0);
    if ((c = ovs_topology_connect(ep, err, errlen)) == NULL)
        return -1;
    /* The stream is not lagged yet: WAIT answers as soon as the replicas have the
     * marker, milliseconds on loopback. The bound is for a machine under load, before the
     * run's clock starts: two sanitizer suites side by side once left a replica without
     * the initial state after a second, and the run was an error. */
    timeout_ms = 10000;
    struct timeval tv = { (time_t)(timeout_ms / 1000 + 1), 0 };
    redisSetTimeout(c, tv);
    /* WAIT counts the replicas that have this connection's last write, so write once
     * first: a marker that expires by itself, after everything xPrepare wrote. */
    r = redisCommand(c, "SET settle:marker 1 PX 1000");
    if (r != NULL && r->type == REDIS_REPLY_STATUS) {
        freeReplyObject(r);
        r = redisCommand(c, "WAIT %d %lld", t->nreplicas, timeout_ms);
    }
    if (r == NULL || r->type != REDIS_REPLY_INTEGER)
        ovs_seterr(err, errlen, "WAIT on %s:%d: %s", ep->host, ep->port,
                   r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    else if (r->integer < t->nreplicas)
        ovs_seterr(err, errlen, "only %lld of %d replicas had the initial state after %lld ms",
                   r->integer, t->nreplicas, timeout_ms);
    else
        rc = 0;
    freeReplyObject(r);
    redisFree(c);
    /* The lag is the steady stream's, from now to the run's end: set before the replicas
     * synced, the handshake's half a dozen round trips and the prepared stock would each
     * wait it out first (seconds per run, before t0, for nothing). The proxy never
     * reorders, so nothing sent before this overtakes what follows. */
    for (int k = 0; rc == 0 && k < t->nreplicas; k++)
        if (t->sc->redis.lag_ns > 0)
            ovs_proxy_set_latency(t->repl[k], OVS_PROXY_DOWN, t->sc->redis.lag_ns,
                                  t->sc->redis.jitter_ns, t->sc->seed + (uint64_t)k);
    return rc;
}

static int fleet_index(ovs_topology *t, const ovs_fault *f, char *err, size_t errlen)
{
    if (f->target == OVS_TARGET_NODE && f->target_node < t->nodes)
        return f->target_node;
    if (f->target == OVS_TARGET_REPLICA && f->target_node < t->nreplicas)
        return t->replica[f->target_node];
    ovs_seterr(err, errlen, "no such target");
    return -1;
}

/* PTTL of the first key (by name) on node i that has a TTL, into *key_pttl, with its
 * name in key; key "" when no key has one. A lock's lease is what a clock jump acts on:
 * after the jump the same key's PTTL reads -2 when the jump expired it. */
static int ttl_key(ovs_topology *t, int i, char *key, size_t keylen, long long *key_pttl,
                   char *err, size_t errlen)
{
    redisContext *c = ovs_topology_connect(ovs_fleet_node(t->fleet, i), err, errlen);
    redisReply *r;
    int rc = -1;

    key[0] = '\0';
    *key_pttl = -2;
    if (c == NULL)
        return -1;
    /* A lock scenario's node holds a handful of keys, which one SCAN of 1000 returns
     * whole; of a crowd's thousands, the first key is of the first thousand only. */
    r = redisCommand(c, "SCAN 0 COUNT 1000");
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        rc = 0;
        for (size_t k = 0; k < r->element[1]->elements && rc == 0; k++) {
            const char *name = r->element[1]->element[k]->str;
            redisReply *p = redisCommand(c, "PTTL %s", name);
            if (p == NULL || p->type != REDIS_REPLY_INTEGER)
                rc = -1;
            else if (p->integer >= 0 && (key[0] == '\0' || strcmp(name, key) < 0)) {
                snprintf(key, keylen, "%s", name);
                *key_pttl = p->integer;
            }
            if (p != NULL)
                freeReplyObject(p);
        }
    }
    if (rc != 0)
        ovs_seterr(err, errlen, "SCAN/PTTL on node %d: %s", i,
                   c->errstr[0] ? c->errstr : "odd reply");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

static long long pttl_of(ovs_topology *t, int i, const char *key, char *err, size_t errlen)
{
    redisContext *c = ovs_topology_connect(ovs_fleet_node(t->fleet, i), err, errlen);
    redisReply *r = c != NULL ? redisCommand(c, "PTTL %s", key) : NULL;
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : LLONG_MIN;

    if (c != NULL && v == LLONG_MIN)
        ovs_seterr(err, errlen, "PTTL %s on node %d: %s", key, i,
                   c->errstr[0] ? c->errstr : "odd reply");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

/* The jump, with what it did: the node's TIME before and after, and what became of the
 * first key with a TTL there (the lock's lease, in a lock scenario): its PTTL before and
 * after, "gone" when the jump expired it. what has room for 63 characters. */
static int clock_jump(ovs_topology *t, int i, const ovs_fault *f, char *what, size_t whatlen,
                      char *err, size_t errlen)
{
    char key[256];
    long long before_ttl, after_ttl = -2;
    int64_t before, after;

    if (ttl_key(t, i, key, sizeof(key), &before_ttl, err, errlen) != 0 ||
        ovs_fleet_clock_jump(t->fleet, i, f->by_ns, &before, &after, err, errlen) != 0)
        return -1;
    if (key[0] != '\0' && (after_ttl = pttl_of(t, i, key, err, errlen)) == LLONG_MIN)
        return -1;
    int n = snprintf(what, whatlen, "TIME %lld.%03lld->%lld.%03lld", (long long)(before / 1000000),
                     (long long)(before / 1000 % 1000), (long long)(after / 1000000),
                     (long long)(after / 1000 % 1000));
    if (n > 0 && (size_t)n < whatlen) {
        if (key[0] == '\0')
            snprintf(what + n, whatlen - (size_t)n, " no TTL key");
        else if (after_ttl == -2)
            snprintf(what + n, whatlen - (size_t)n, " PTTL %lld->gone", before_ttl);
        else
            snprintf(what + n, whatlen - (size_t)n, " PTTL %lld->%lld", before_ttl, after_ttl);
    }
    return 0;
}

/* The second half of a cluster master's kill (the scenario allows the kill only when it
 * has replicas): done once the cluster has promoted one of them, and a failover that does
 * not happen makes the run an error rather than pass for one that did. Bounded by what Redis
 * takes at most: the node timeout to suspect the master, as long again for the failure
 * reports to reach a majority, its own delay (500 ms, a random 500 ms, a second per rank)
 * and the election, which it retries after twice the node timeout; doubled, for a loaded
 * machine. Its event says who took over and how long after the kill. */
static int cluster_failover(ovs_topology *t, const ovs_fault *f, char *what, size_t whatlen,
                            char *err, size_t errlen)
{
    int64_t node_timeout = t->sc->redis.cluster_node_timeout_ns > 0
                               ? t->sc->redis.cluster_node_timeout_ns
                               : OVS_CLUSTER_NODE_TIMEOUT_NS;
    int64_t limit = 2 * (4 * node_timeout + 3 * OVS_NS_PER_S);
    int m = f->target_node, promoted;

    if (ovs_fleet_cluster_wait_failover(t->fleet, m, limit, &promoted, err, errlen) != 0)
        return -1;
    t->shard[m] = promoted;
    if (m == 0)
        t->master0 = promoted;
    snprintf(what, whatlen, "promoted node %d (port %d) %lld ms after the kill",
             promoted, ovs_fleet_node(t->fleet, promoted)->port,
             (long long)((ovs_now_ns() - t->killed_at[m]) / OVS_NS_PER_MS));
    return 0;
}

/* The second half of master 0's kill behind Sentinels: wait, bounded, until they name
 * another node as the master, and follow them there. The bound is the promotion's own
 * timing (down-after, then an election and REPLICAOF; after a split vote the Sentinels
 * try again only after twice failover-timeout) with room for a loaded machine; a
 * Sentinel set that does not promote in it makes the fault, and so the run, an error: a
 * client meant to ask the promoted node would otherwise ask the dead one, be refused, and
 * the run would be judged on a failover that never came. */
static int sentinel_failover(ovs_topology *t, int killed, char *what, size_t whatlen,
                             char *err, size_t errlen)
{
    const ovs_redis_spec *rs = &t->sc->redis;
    int64_t down = rs->sentinel_down_after_ns ? rs->sentinel_down_after_ns
                                              : OVS_SENTINEL_DOWN_AFTER_NS;
    int64_t fo = rs->sentinel_failover_timeout_ns ? rs->sentinel_failover_timeout_ns
                                                  : OVS_SENTINEL_FAILOVER_TIMEOUT_NS;
    int64_t limit = 2 * down + 2 * fo + 10 * OVS_NS_PER_S;
    const ovs_endpoint *old = ovs_fleet_node(t->fleet, killed);
    char why[200] = "no answer yet";

    for (;;) {
        ovs_endpoint now;
        if (ovs_sentinel_master(ovs_sentinels_set(t->sentinels), 500, &now, why,
                                sizeof(why)) == 0 &&
            (now.port != old->port || strcmp(now.host, old->host) != 0)) {
            follow_sentinels(t);
            snprintf(what, whatlen, "Sentinel promoted port %d %lld ms after the kill",
                     now.port, (long long)((ovs_now_ns() - t->killed_at[0]) / OVS_NS_PER_MS));
            return 0;
        }
        if (ovs_now_ns() - t->killed_at[0] > limit) {
            ovs_seterr(err, errlen, "the Sentinels promoted no replica within %lld ms of the "
                       "kill (%s)", (long long)(limit / OVS_NS_PER_MS), why);
            return -1;
        }
        ovs_sleep_ns(50 * OVS_NS_PER_MS);
    }
}

const ovs_endpoint *ovs_topology_node(void *ctx, const ovs_fault *f)
{
    ovs_topology *t = ctx;
    char err[32];
    int i = f->target == OVS_TARGET_LINK || t->fleet == NULL ? -1
                                                              : fleet_index(t, f, err, sizeof(err));

    return i < 0 ? NULL : ovs_fleet_node(t->fleet, i);
}

int ovs_topology_fault(void *ctx, const ovs_fault *f, int followup, char *what,
                       size_t whatlen, char *err, size_t errlen)
{
    ovs_topology *t = ctx;
    int i = -1;

    what[0] = '\0';
    if (t->fleet == NULL) {
        ovs_seterr(err, errlen, "not the harness's server: no fault can be done to it");
        return -1;
    }
    if (f->target == OVS_TARGET_LINK) {
        if (t->nclients == 0 || f->target_client >= t->nclients || f->target_node >= t->nodes) {
            ovs_seterr(err, errlen, "no such link");
            return -1;
        }
        ovs_proxy *p = t->link[(size_t)f->target_client * (size_t)t->nodes + (size_t)f->target_node];
        int cut = f->action == OVS_FAULT_CUT && !followup;
        ovs_proxy_set_mode(p, cut ? OVS_PROXY_CUT : OVS_PROXY_PASS);
        snprintf(what, whatlen, "%s", cut ? "link cut" : "link healed");
        return 0;
    }
    if ((i = fleet_index(t, f, err, errlen)) < 0)
        return -1;

    switch (f->action) {
    case OVS_FAULT_KILL:
        if (followup && ovs_fleet_is_cluster(t->fleet))
            return cluster_failover(t, f, what, whatlen, err, errlen);
        if (followup && t->sentinels != NULL)
            return sentinel_failover(t, i, what, whatlen, err, errlen);
        snprintf(what, whatlen, "SIGKILL");
        if (i < t->nodes) /* a master's: what its failover is timed from */
            t->killed_at[i] = ovs_now_ns();
        return ovs_fleet_kill(t->fleet, i, err, errlen);
    case OVS_FAULT_KILL_RESTART:
        if (!followup) {
            snprintf(what, whatlen, "SIGKILL");
            return ovs_fleet_kill(t->fleet, i, err, errlen);
        }
        /* fall through - the second half is the restart */
    case OVS_FAULT_RESTART:
        if (ovs_fleet_restart(t->fleet, i, err, errlen) != 0)
            return -1;
        snprintf(what, whatlen, "restarted (%s)",
                 t->sc->redis.persistence == OVS_PERSIST_AOF   ? "aof"
                 : t->sc->redis.persistence == OVS_PERSIST_RDB ? "rdb"
                                                               : "no persistence");
        return 0;
    case OVS_FAULT_PAUSE:
        snprintf(what, whatlen, followup ? "SIGCONT" : "SIGSTOP");
        return followup ? ovs_fleet_resume(t->fleet, i, err, errlen)
                        : ovs_fleet_pause(t->fleet, i, err, errlen);
    case OVS_FAULT_RESUME:
        snprintf(what, whatlen, "SIGCONT");
        return ovs_fleet_resume(t->fleet, i, err, errlen);
    case OVS_FAULT_SNAPSHOT:
        snprintf(what, whatlen, "SAVE");
        return ovs_fleet_snapshot(t->fleet, i, err, errlen);
    case OVS_FAULT_PROMOTE:
        if (ovs_fleet_promote(t->fleet, i, err, errlen) != 0)
            return -1;
        /* Clients follow the new master: every link to master 0 now leads to it. */
        for (int c = 0; c < t->nclients; c++)
            ovs_proxy_retarget(t->link[(size_t)c * (size_t)t->nodes], ovs_fleet_node(t->fleet, i));
        t->master0 = i;
        snprintf(what, whatlen, "REPLICAOF NO ONE; clients follow it");
        return 0;
    case OVS_FAULT_CLOCK_JUMP:
        return clock_jump(t, i, f, what, whatlen, err, errlen);
    case OVS_FAULT_CUT:
    case OVS_FAULT_HEAL:
    case OVS_FAULT_CRASH: /* done to a client by the scheduler (engine/faults.c) */
        break;
    }
    ovs_seterr(err, errlen, "action does not apply to a node");
    return -1;
}

/* One stock key's value, from the master that holds it: on a cluster the one its slot was
 * given to, else master 0. 0, or -1 with err. */
static int read_stock_key(ovs_topology *t, const char *key, int64_t *v, int *absent,
                          char *err, size_t errlen)
{
    const ovs_endpoint *ep = ovs_fleet_is_cluster(t->fleet)
                                 ? ovs_fleet_node(t->fleet,
                                                  t->shard[ovs_fleet_cluster_master_of(t->fleet, key)])
                                 : ovs_topology_master0(t);
    redisContext *c = NULL;
    redisReply *r = NULL;
    ovs_endpoint moved;
    int rc = -1, ask = 0;

    if (t->own_cluster) {
        int k = t->owner[ovs_keyslot(key, strlen(key))];
        ep = k == OVS_OWN_CLUSTER_NO_OWNER ? &t->cl_master[0] : &t->cl_master[k];
    }
    /* On the user's cluster a slot may have moved since the map was read: MOVED and ASK
     * name the node that has it now, which is asked instead, a few times at most. */
    for (int hop = 0; hop <= 5; hop++) {
        if ((c = ovs_topology_connect(ep, err, errlen)) == NULL)
            return -1;
        if (ask)
            freeReplyObject(redisCommand(c, "ASKING"));
        r = redisCommand(c, "GET %s", key);
        const char *sp;
        if (!t->own_cluster || r == NULL || r->type != REDIS_REPLY_ERROR ||
            (strncmp(r->str, "MOVED ", 6) != 0 && strncmp(r->str, "ASK ", 4) != 0) ||
            (sp = strrchr(r->str, ' ')) == NULL || strrchr(sp, ':') == NULL)
            break;
        /* "MOVED 3999 127.0.0.1:6381": the address after the slot. */
        const char *colon = strrchr(sp, ':');
        memset(&moved, 0, sizeof(moved));
        snprintf(moved.host, sizeof(moved.host), "%.*s", (int)(colon - sp - 1), sp + 1);
        moved.port = atoi(colon + 1);
        moved.auth = ep->auth;
        ask = r->str[0] == 'A'; /* for that one command, not the map */
        ep = &moved;
        freeReplyObject(r);
        redisFree(c);
        r = NULL;
        c = NULL;
    }
    if (c == NULL) {
        ovs_seterr(err, errlen, "GET %s: redirected more than 5 times", key);
        return -1;
    }
    if (r != NULL && (r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_STRING)) {
        *absent = r->type == REDIS_REPLY_NIL;
        *v = r->type == REDIS_REPLY_NIL ? 0 : strtoll(r->str, NULL, 10);
        rc = 0;
    } else {
        ovs_seterr(err, errlen, "%s:%d: GET %s: %s", ep->host, ep->port, key,
                   r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str
                                                                       : "not a string");
    }
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* Key by key: a cluster's stock keys are on several masters, and buckets are summed. */
static int stocks_by_key(ovs_topology *t, int skus, int buckets, int64_t *stock,
                         unsigned char *absent, char *err, size_t errlen)
{
    for (int sku = 1; sku <= skus; sku++) {
        int all_absent = 1;
        stock[sku - 1] = 0;
        for (int b = 0; b < buckets; b++) {
            char key[OVS_STOCK_BUCKET_KEY_MAX];
            int64_t v;
            int missing;
            if (buckets > 1)
                ovs_stock_bucket_key(t->prefix, sku, b, key, sizeof(key));
            else
                ovs_stock_key(t->prefix, sku, key, sizeof(key));
            if (read_stock_key(t, key, &v, &missing, err, errlen) != 0)
                return -1;
            stock[sku - 1] += v;
            all_absent &= missing;
        }
        absent[sku - 1] = (unsigned char)all_absent;
    }
    return 0;
}

int ovs_topology_redis_stocks(ovs_topology *t, int skus, int buckets, int64_t *stock,
                              unsigned char *absent, char *err, size_t errlen)
{
    const ovs_endpoint *ep = ovs_topology_master0(t);
    redisContext *c;
    int rc = 0;

    if (ovs_fleet_is_cluster(t->fleet) || t->own_cluster || buckets > 1)
        return stocks_by_key(t, skus, buckets, stock, absent, err, errlen);
    c = ovs_topology_connect(ep, err, errlen);
    if (c == NULL)
        return -1;
    /* Pipelined: one round trip's worth of waiting for a thousand SKUs, not a thousand. */
    for (int sku = 1; sku <= skus; sku++) {
        char key[OVS_STOCK_KEY_MAX];
        ovs_stock_key(t->prefix, sku, key, sizeof(key));
        if (redisAppendCommand(c, "GET %s", key) != REDIS_OK) {
            ovs_seterr(err, errlen, "%s:%d: %s", ep->host, ep->port, c->errstr);
            redisFree(c);
            return -1;
        }
    }
    for (int sku = 1; sku <= skus; sku++) {
        redisReply *r = NULL;
        char key[OVS_STOCK_KEY_MAX];
        ovs_stock_key(t->prefix, sku, key, sizeof(key));
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            ovs_seterr(err, errlen, "%s:%d: GET %s: %s", ep->host, ep->port, key,
                       c->errstr[0] ? c->errstr : "no reply");
            rc = -1;
            break;
        }
        absent[sku - 1] = r->type == REDIS_REPLY_NIL;
        if (r->type == REDIS_REPLY_NIL) {
            stock[sku - 1] = 0;
        } else if (r->type == REDIS_REPLY_STRING) {
            stock[sku - 1] = strtoll(r->str, NULL, 10);
        } else {
            ovs_seterr(err, errlen, "%s:%d: GET %s: %s", ep->host, ep->port, key,
                       r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
            rc = -1;
        }
        freeReplyObject(r);
        if (rc != 0)
            break;
    }
    redisFree(c);
    return rc;
}

void ovs_topology_stop(ovs_topology *t)
{
    if (t == NULL)
        return;
    /* Attached: the servers are the user's and stay up; only the run's keys go, so that
     * nothing of it is left behind. A key that cannot be deleted now is still under the
     * run's prefix, which the command line deletes once more when it ends. */
    for (int i = 0; t->fleet == NULL && i < t->nodes; i++) {
        long long found;
        char err[200];
        (void)ovs_topology_scan_prefix(&t->masters[i], t->prefix, 1, &found, err, sizeof(err));
    }
    /* The Sentinels first, so that stopping the servers starts no failover; then the
     * proxies: their threads hold connections to the servers. */
    ovs_sentinels_stop(t->sentinels);
    if (t->link)
        for (int i = 0; i < t->nclients * t->nodes; i++)
            ovs_proxy_stop(t->link[i]);
    for (int r = 0; r < MAX_REPLICAS; r++)
        ovs_proxy_stop(t->repl[r]);
    ovs_fleet_stop(t->fleet);
    free(t->link);
    free(t->link_ep);
    free(t->client_row);
    free(t);
}
