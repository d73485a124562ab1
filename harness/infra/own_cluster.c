/* own_cluster.c - the user's Redis Cluster's masters and slot map (infra/own_cluster.h). */
#include "infra/own_cluster.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/util.h"
#include "infra/topology.h"

/* One seed's CLUSTER SLOTS reply, or NULL with err. A server without cluster-enabled
 * answers "ERR This instance has cluster support disabled": said as such, since --redis is
 * what such a server is given with. */
static redisReply *slots_of(const ovs_endpoint *ep, char *err, size_t errlen)
{
    redisContext *c = ovs_topology_connect(ep, err, errlen);
    redisReply *r;

    if (c == NULL)
        return NULL;
    r = redisCommand(c, "CLUSTER SLOTS");
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r != NULL && r->type == REDIS_REPLY_ERROR)
            ovs_seterr(err, errlen, "%s:%d is not a cluster node (CLUSTER SLOTS: %s); give a"
                       " server that is not in cluster mode with --redis", ep->host,
                       ep->port, r->str);
        else
            ovs_seterr(err, errlen, "%s:%d: CLUSTER SLOTS: %s", ep->host, ep->port,
                       r == NULL ? c->errstr : "odd reply");
        freeReplyObject(r);
        r = NULL;
    }
    redisFree(c);
    return r;
}

/* The index of host:port in masters[0..*n), added at the end when it is not there yet;
 * -1 when masters is full. */
static int master_index(ovs_endpoint *masters, int *n, int max, const char *host, int port,
                        const ovs_endpoint *seed)
{
    for (int i = 0; i < *n; i++)
        if (masters[i].port == port && strcmp(masters[i].host, host) == 0)
            return i;
    if (*n == max)
        return -1;
    ovs_endpoint *m = &masters[*n];
    memset(m, 0, sizeof(*m));
    snprintf(m->host, sizeof(m->host), "%s", host);
    m->port = port;
    m->auth = seed->auth;
    return (*n)++;
}

int ovs_own_cluster_map(const ovs_endpoint *seeds, int n_seeds, ovs_endpoint *masters,
                        int max, int *n_masters, unsigned char *owner, char *err,
                        size_t errlen)
{
    redisReply *map = NULL;
    int n = 0, assigned = 0;

    *n_masters = 0;
    /* Every seed is asked: one that is not a cluster node was given by mistake, and a run
     * on the others would not be the deployment the user named. */
    for (int i = 0; i < n_seeds; i++) {
        redisReply *r = slots_of(&seeds[i], err, errlen);
        if (r == NULL) {
            freeReplyObject(map);
            return -1;
        }
        if (map == NULL)
            map = r;
        else
            freeReplyObject(r);
    }
    if (owner != NULL)
        memset(owner, OVS_OWN_CLUSTER_NO_OWNER, OVS_CLUSTER_SLOTS);
    /* Each entry: from, to, then the master [ip, port, id, ...] and its replicas. */
    for (size_t e = 0; map != NULL && e < map->elements; e++) {
        const redisReply *s = map->element[e];
        if (s->type != REDIS_REPLY_ARRAY || s->elements < 3 ||
            s->element[0]->type != REDIS_REPLY_INTEGER ||
            s->element[1]->type != REDIS_REPLY_INTEGER ||
            s->element[2]->type != REDIS_REPLY_ARRAY || s->element[2]->elements < 2 ||
            s->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            s->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long from = s->element[0]->integer, to = s->element[1]->integer;
        const char *host = s->element[2]->element[0]->str;
        /* A node that does not know its own address yet answers "": it is the seed's. */
        if (host[0] == '\0')
            host = seeds[0].host;
        int k = master_index(masters, &n, max, host, (int)s->element[2]->element[1]->integer,
                             &seeds[0]);
        if (k < 0) {
            ovs_seterr(err, errlen, "%s:%d: the cluster has more than %d masters",
                       seeds[0].host, seeds[0].port, max);
            freeReplyObject(map);
            return -1;
        }
        for (long long slot = from; slot <= to && slot >= 0 && slot < OVS_CLUSTER_SLOTS;
             slot++, assigned++)
            if (owner != NULL)
                owner[slot] = (unsigned char)k;
    }
    freeReplyObject(map);
    if (assigned == 0) {
        ovs_seterr(err, errlen, "%s:%d: the cluster has no slot assigned to any master",
                   seeds[0].host, seeds[0].port);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        masters[i].cluster = 1;
        masters[i].seeds = masters;
        masters[i].n_seeds = n;
    }
    *n_masters = n;
    return 0;
}
