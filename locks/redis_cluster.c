/* redis_cluster.c - routing an ovs_redis's commands over a Redis Cluster (redis_cluster.h).
 *
 * The node connections are ordinary ovs_redis (no ep.cluster), so connecting, timeouts,
 * NOSCRIPT and the outcome rule stay redis_conn.c's; this file only chooses the node and
 * reads MOVED / ASK / CROSSSLOT out of an error reply. A redirect is an error reply: the
 * command did not run on the node that sent it, so sending it elsewhere cannot apply it
 * twice. */
#include "locks/redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keyslot.h"
#include "core/util.h"

/* Between two sends of a command the cluster could not take (retryable). */
#define CLUSTER_RETRY_NS (100 * OVS_NS_PER_MS)

struct ovs_redis_cluster {
    int n;                                /* nodes in node[] */
    ovs_redis node[OVS_MAX_NODES];        /* one per master seen, added as met */
    unsigned char owner[OVS_CLUSTER_SLOTS]; /* index into node[] + 1; 0 = unknown */
    int mapped;                           /* CLUSTER SLOTS was read since the last free */
    int redirects;                        /* MOVED and ASK followed */
};

static double tv_ms(struct timeval tv)
{
    return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static int fail(ovs_redis *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ovs_redis *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof(r->errstr), fmt, ap);
    va_end(ap);
    r->err = code;
    return code;
}

static ovs_redis_cluster *state(ovs_redis *r)
{
    if (r->cluster == NULL)
        r->cluster = calloc(1, sizeof(*r->cluster));
    return r->cluster;
}

/* The index of host:port in node[], added when new; -1 when full. */
static int node_at(ovs_redis *r, const char *host, int port)
{
    ovs_redis_cluster *k = r->cluster;
    ovs_endpoint ep = { .port = port, .auth = r->ep.auth }; /* a plain node: no .cluster */

    for (int i = 0; i < k->n; i++)
        if (k->node[i].ep.port == port && strcmp(k->node[i].ep.host, host) == 0)
            return i;
    if (k->n == OVS_MAX_NODES)
        return -1;
    snprintf(ep.host, sizeof(ep.host), "%s", host);
    ovs_redis_init(&k->node[k->n], &ep, tv_ms(r->connect_tv), tv_ms(r->command_tv));
    k->node[k->n].deadline = r->deadline;
    return k->n++;
}

/* CLUSTER SLOTS as rep gave it, into the map. */
static void read_map(ovs_redis *r, const redisReply *rep)
{
    ovs_redis_cluster *k = r->cluster;

    memset(k->owner, 0, sizeof(k->owner));
    for (size_t j = 0; rep->type == REDIS_REPLY_ARRAY && j < rep->elements; j++) {
        const redisReply *e = rep->element[j];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
            continue;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const redisReply *m = e->element[2];
        int at = node_at(r, m->element[0]->str, (int)m->element[1]->integer);
        if (at < 0 || lo < 0 || hi >= OVS_CLUSTER_SLOTS)
            continue;
        for (long long s = lo; s <= hi; s++)
            k->owner[s] = (unsigned char)(at + 1);
    }
    k->mapped = 1;
}

/* CLUSTER SLOTS on nd: 1 and the map read when it answered. */
static int map_from(ovs_redis *r, ovs_redis *nd)
{
    redisReply *rep;

    nd->deadline = r->deadline;
    if (ovs_redis_cmd(nd, &rep, "CLUSTER SLOTS") != OVS_OK) {
        fail(r, OVS_ERR, "%s (cluster: no slot map, not sent)", nd->errstr);
        return 0;
    }
    read_map(r, rep);
    freeReplyObject(rep);
    return 1;
}

/* Read CLUSTER SLOTS from the nodes met (the endpoint's first) until one answers, then
 * from the endpoint's seeds: a dead node refuses the connection at once, and the next is
 * asked. A seed gets a connection of its own for the one command, so that a cluster of
 * many nodes does not fill node[] with nodes that own nothing. Whatever became of CLUSTER
 * SLOTS, the command the map was read for was not sent: OVS_ERR. */
static int refresh(ovs_redis *r)
{
    ovs_redis_cluster *k = r->cluster;

    if (node_at(r, r->ep.host, r->ep.port) < 0)
        return fail(r, OVS_ERR, "cluster: more than %d nodes", OVS_MAX_NODES);
    for (int i = 0; i < k->n; i++)
        if (map_from(r, &k->node[i]))
            return OVS_OK;
    for (int i = 0; r->ep.seeds != NULL && i < r->ep.n_seeds; i++) {
        ovs_endpoint ep = r->ep.seeds[i];
        ovs_redis seed;
        int met = 0, ok;
        for (int j = 0; j < k->n; j++)
            met |= k->node[j].ep.port == ep.port && strcmp(k->node[j].ep.host, ep.host) == 0;
        if (met)
            continue;
        ep.cluster = 0;
        ep.seeds = NULL;
        ep.auth = r->ep.auth;
        ovs_redis_init(&seed, &ep, tv_ms(r->connect_tv), tv_ms(r->command_tv));
        ok = map_from(r, &seed);
        ovs_redis_close(&seed);
        if (ok)
            return OVS_OK;
    }
    return OVS_ERR;
}

/* "MOVED 3999 127.0.0.1:6381" (or ASK) in a node's error text: 1 with host and port. */
static int redirect_of(const char *errstr, const char *word, char *host, size_t hostlen,
                       int *port)
{
    char pat[16], h[64];
    const char *p;
    int slot;

    snprintf(pat, sizeof(pat), ": %s ", word);
    if ((p = strstr(errstr, pat)) == NULL)
        return 0;
    if (sscanf(p + strlen(pat), "%d %63[^:]:%d", &slot, h, port) != 3)
        return 0;
    snprintf(host, hostlen, "%s", h);
    return 1;
}

/* One command of a kind, on one node. */
typedef struct op {
    int eval;                      /* 1: EVALSHA s; 0: the formatted command cmd */
    ovs_script *s;
    int nkeys, nargs;
    const char *const *kv;
    const char *cmd;               /* RESP text from redisvFormatCommand */
    int cmdlen;
} op;

static int run_on(ovs_redis *nd, op *o, int asking, redisReply **out)
{
    redisReply *rep;
    int rc;

    if (asking) {
        /* ASKING applies to the very next command: a SCRIPT LOAD in between would take
         * it, so the script is loaded first. */
        if (o->eval && ovs_redis_script_load(nd, o->s) != OVS_OK)
            return OVS_ERR;
        if ((rc = ovs_redis_cmd(nd, &rep, "ASKING")) != OVS_OK)
            return rc;
        freeReplyObject(rep);
    }
    if (o->eval)
        return ovs_redis_eval(nd, o->s, o->nkeys, o->nargs, o->kv, out);
    return ovs_redis_cmd_formatted(nd, o->cmd, (size_t)o->cmdlen, out);
}

static void keys_list(const op *o, const char *key, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    if (!o->eval) {
        snprintf(buf, len, "%s", key);
        return;
    }
    for (int i = 0; i < o->nkeys && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s (slot %d)", i ? ", " : "", o->kv[i],
                         ovs_keyslot(o->kv[i], strlen(o->kv[i])));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* 1 when node nd's failure left the command certainly undone and worth sending again
 * once the map is fresh: it was never sent (the node is down: no connection), or the
 * node refused it while the cluster is failing over (CLUSTERDOWN: a master of some slot
 * is failing and not yet replaced; TRYAGAIN: the slot is moving). An error reply ran
 * nothing; a command that was sent and got no reply (OVS_ERR_IO) may have run and is
 * never sent again: its outcome stays unknown. */
static int retryable(const ovs_redis *nd, int rc)
{
    if (rc != OVS_ERR)
        return 0;
    return nd->c == NULL || strstr(nd->errstr, "CLUSTERDOWN") != NULL ||
           strstr(nd->errstr, "TRYAGAIN") != NULL;
}

static int route(ovs_redis *r, op *o, const char *key, redisReply **out)
{
    ovs_redis_cluster *k = state(r);
    int slot = ovs_keyslot(key, strlen(key)), at, asking = 0, rc, hops = 0, tries = 0;
    char host[64], keys[96];
    /* The request's budget: its deadline, or one command timeout from now. Within it a
     * command the cluster could not take yet is sent again, as redis-py and ioredis do
     * while a shard fails over (ioredis waits 100 ms between tries on CLUSTERDOWN). */
    int64_t start = ovs_now_ns();
    int64_t budget = r->deadline != 0 ? r->deadline
                                      : start + (int64_t)(tv_ms(r->command_tv) * 1e6);

    *out = NULL;
    if (k == NULL)
        return fail(r, OVS_ERR, "cluster: out of memory");
    /* No node answered with a map, or none owns the slot (the cluster is failing over):
     * nothing was sent, and the same budget applies. */
    while ((!k->mapped || k->owner[slot] == 0) && (refresh(r) != OVS_OK || k->owner[slot] == 0)) {
        if (ovs_now_ns() + CLUSTER_RETRY_NS >= budget)
            return k->mapped && k->owner[slot] == 0
                       ? fail(r, OVS_ERR, "cluster: no master owns slot %d (key %s; not sent)",
                              slot, key)
                       : r->err;
        ovs_sleep_ns(CLUSTER_RETRY_NS);
    }
    at = k->owner[slot] - 1;
    for (;;) {
        ovs_redis *nd = &k->node[at];
        int port;
        nd->deadline = r->deadline;
        rc = run_on(nd, o, asking, out);
        asking = 0;
        if (rc == OVS_OK) {
            r->err = 0;
            r->errstr[0] = '\0';
            return OVS_OK;
        }
        if (rc == OVS_ERR && redirect_of(nd->errstr, "MOVED", host, sizeof(host), &port)) {
            if ((at = node_at(r, host, port)) < 0)
                return fail(r, OVS_ERR, "cluster: more than %d nodes", OVS_MAX_NODES);
            k->owner[slot] = (unsigned char)(at + 1);
        } else if (rc == OVS_ERR &&
                   redirect_of(nd->errstr, "ASK", host, sizeof(host), &port)) {
            if ((at = node_at(r, host, port)) < 0)
                return fail(r, OVS_ERR, "cluster: more than %d nodes", OVS_MAX_NODES);
            asking = 1;
        } else if (rc == OVS_ERR && strstr(nd->errstr, "CROSSSLOT") != NULL) {
            keys_list(o, key, keys, sizeof(keys));
            return fail(r, OVS_ERR, "CROSSSLOT: keys in different slots: %s", keys);
        } else if (retryable(nd, rc)) {
            if (ovs_now_ns() + CLUSTER_RETRY_NS >= budget)
                return fail(r, OVS_ERR, "%s (cluster: sent %d times in %lld ms, not taken)",
                            nd->errstr, tries + 1,
                            (long long)((ovs_now_ns() - start) / OVS_NS_PER_MS));
            ovs_sleep_ns(CLUSTER_RETRY_NS);
            tries++;
            /* A map no node could give keeps the old one: the next try finds out. */
            if (refresh(r) == OVS_OK && k->owner[slot] != 0)
                at = k->owner[slot] - 1;
            continue;
        } else {
            /* Sent and unanswered: the map is read again before the next command, which
             * a dead master's successor may have to take. */
            if (rc == OVS_ERR_IO)
                k->mapped = 0;
            return fail(r, rc, "%s", nd->errstr);
        }
        k->redirects++;
        if (++hops > OVS_CLUSTER_REDIRECTS_MAX)
            return fail(r, OVS_ERR, "cluster: key %s (slot %d) still redirected after %d "
                        "hops: %s", key, slot, OVS_CLUSTER_REDIRECTS_MAX, k->node[at].errstr);
    }
}

int ovs_redis_cluster_vcmd(ovs_redis *r, redisReply **out, const char *fmt, va_list ap)
{
    char *cmd = NULL, key[OVS_KEY_MAX + 32];
    int len = redisvFormatCommand(&cmd, fmt, ap), rc;
    op o = { .cmd = cmd, .cmdlen = len };
    const char *p;
    long klen;

    *out = NULL;
    if (len < 0 || cmd == NULL)
        return fail(r, OVS_ERR, "cluster: cannot format %s (not sent)", fmt);
    /* Commands whose first argument is no key would be routed by a number. */
    if (strncmp(fmt, "WAIT ", 5) == 0 || strncmp(fmt, "SCAN ", 5) == 0) {
        free(cmd);
        return fail(r, OVS_ERR, "cluster: %.4s names no key and is not routed (not sent)",
                    fmt);
    }
    /* "*N\r\n$L\r\nVERB\r\n$L\r\nKEY\r\n": the key is the second bulk string. */
    p = strchr(cmd, '\n');
    p = p ? strchr(p + 1, '\n') : NULL;
    p = p ? strchr(p + 1, '\n') : NULL;
    if (p == NULL || p[1] != '$' || (klen = strtol(p + 2, NULL, 10)) < 0 ||
        (size_t)klen >= sizeof(key)) {
        free(cmd);
        return fail(r, OVS_ERR, "cluster: %s names no key to route by (not sent)", fmt);
    }
    p = strchr(p + 1, '\n') + 1;
    memcpy(key, p, (size_t)klen);
    key[klen] = '\0';
    rc = route(r, &o, key, out);
    free(cmd);
    return rc;
}

int ovs_redis_cluster_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                           const char *const *kv, redisReply **out)
{
    op o = { .eval = 1, .s = s, .nkeys = nkeys, .nargs = nargs, .kv = kv };

    *out = NULL;
    if (nkeys < 1)
        return fail(r, OVS_ERR, "cluster: a script with no key has no slot (not sent)");
    return route(r, &o, kv[0], out);
}

int ovs_redis_cluster_script_load(ovs_redis *r, ovs_script *s)
{
    ovs_redis_cluster *k = state(r);
    int rc;

    if (k == NULL)
        return fail(r, OVS_ERR, "cluster: out of memory");
    if (!k->mapped && (rc = refresh(r)) != OVS_OK)
        return rc;
    /* On the masters of the map only: a node met before a failover owns nothing now,
     * and may be dead. One promoted later gets the script on NOSCRIPT (ovs_redis_eval). */
    for (int i = 0; i < k->n; i++) {
        int owns = 0;
        for (int slot = 0; slot < OVS_CLUSTER_SLOTS && !owns; slot++)
            owns = k->owner[slot] == i + 1;
        if (owns && (rc = ovs_redis_script_load(&k->node[i], s)) != OVS_OK)
            return fail(r, rc, "%s", k->node[i].errstr);
    }
    return OVS_OK;
}

void ovs_redis_cluster_free(ovs_redis *r)
{
    if (r->cluster == NULL)
        return;
    for (int i = 0; i < r->cluster->n; i++)
        ovs_redis_close(&r->cluster->node[i]);
    free(r->cluster);
    r->cluster = NULL;
}

int ovs_redis_cluster_redirects(const ovs_redis *r)
{
    return r->cluster != NULL ? r->cluster->redirects : 0;
}

int ovs_redis_cluster_owner(ovs_redis *r, const char *key, char *buf, size_t len)
{
    int slot = ovs_keyslot(key, strlen(key)), at;

    if (r->cluster == NULL || r->cluster->owner[slot] == 0)
        return -1;
    at = r->cluster->owner[slot] - 1;
    snprintf(buf, len, "%s:%d", r->cluster->node[at].ep.host, r->cluster->node[at].ep.port);
    return 0;
}
