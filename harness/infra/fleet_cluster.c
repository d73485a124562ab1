/* fleet_cluster.c - turn a fleet's masters into one Redis Cluster.
 *
 * By hand rather than with `redis-cli --cluster create`: the fleet already knows every
 * node, and each step's error is then the server's own reply to one command. Master i of n
 * owns the slots s with s * n / 16384 == i, one contiguous range (CLUSTER ADDSLOTSRANGE);
 * node 0 meets every other node, naming its bus port (the fleet picks one per node, not
 * port + 10000), and gossip introduces the rest to one another. The cluster
 * is ready when every node says so (CLUSTER INFO): state ok, all 16384 slots assigned and
 * n nodes known. A master reports ok only some time after it started (Redis holds a
 * fresh master back about 2 s so a rebooted one cannot rejoin writable at once), so the
 * wait is bounded by FORM_NS, not by a few polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "core/keyslot.h"
#include "core/util.h"
#include "infra/fleet_node.h"

#define FORM_NS (20 * OVS_NS_PER_S) /* every node must see the whole cluster this soon */

static redisContext *node_connect(const ovs_fleet *f, int i, char *err, size_t errlen)
{
    struct timeval ctv = { 1, 0 }, rtv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout(FLEET_HOST, f->node[i].port, ctv);

    if (c == NULL || c->err) {
        ovs_seterr(err, errlen, "cluster node %d (port %d): cannot connect: %s", i,
                   f->node[i].port, c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, rtv);
    return c;
}

/* Run CLUSTER verb a1 a2 [a3] on node i; it must answer +OK. */
static int node_ok(const ovs_fleet *f, int i, char *err, size_t errlen, const char *verb,
                   const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = { "CLUSTER", verb, a1, a2, a3 };
    redisContext *c = node_connect(f, i, err, errlen);
    redisReply *r;
    int rc = OVS_ERR_ENV;

    if (c == NULL)
        return OVS_ERR_ENV;
    r = redisCommandArgv(c, a3 != NULL ? 5 : 4, argv, NULL);
    if (r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)
        rc = OVS_OK;
    else
        ovs_seterr(err, errlen, "cluster node %d (port %d): CLUSTER %s %s %s answered %s", i,
                   f->node[i].port, verb, a1, a2,
                   r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str
                                                                       : "something else");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* 1 when node i sees the whole cluster; 0 when not yet, with what it lacks in why. */
static int node_settled(const ovs_fleet *f, int i, char *why, size_t whylen)
{
    char e[128], state[32] = "", assigned[32] = "", known[32] = "";
    redisContext *c = node_connect(f, i, e, sizeof(e));
    redisReply *r;
    int ok = 0;

    if (c == NULL) {
        snprintf(why, whylen, "%s", e);
        return 0;
    }
    r = redisCommand(c, "CLUSTER INFO");
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        ovs_fleet_info_field(r->str, "cluster_state", state, sizeof(state));
        ovs_fleet_info_field(r->str, "cluster_slots_assigned", assigned, sizeof(assigned));
        ovs_fleet_info_field(r->str, "cluster_known_nodes", known, sizeof(known));
        ok = strcmp(state, "ok") == 0 && atoi(assigned) == OVS_CLUSTER_SLOTS &&
             atoi(known) == f->n;
        snprintf(why, whylen, "node %d (port %d) reports cluster_state:%s, "
                 "cluster_slots_assigned:%s, cluster_known_nodes:%s (want ok, %d, %d)", i,
                 f->node[i].port, state, assigned, known, OVS_CLUSTER_SLOTS, f->n);
    } else {
        snprintf(why, whylen, "node %d (port %d): CLUSTER INFO failed: %s", i,
                 f->node[i].port, r == NULL ? c->errstr : r->str);
    }
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

int ovs_fleet_cluster_form(ovs_fleet *f, char *err, size_t errlen)
{
    char why[256] = "";
    int64_t deadline;
    int rc;

    for (int i = 0; i < f->n; i++) {
        char lo[16], hi[16];
        /* The inverse of ovs_fleet_cluster_master_of: slot s is master s * n / 16384's. */
        snprintf(lo, sizeof(lo), "%d", (i * OVS_CLUSTER_SLOTS + f->n - 1) / f->n);
        snprintf(hi, sizeof(hi), "%d", ((i + 1) * OVS_CLUSTER_SLOTS + f->n - 1) / f->n - 1);
        if ((rc = node_ok(f, i, err, errlen, "ADDSLOTSRANGE", lo, hi, NULL)) != OVS_OK)
            return rc;
    }
    for (int i = 1; i < f->n; i++)
        if ((rc = node_ok(f, 0, err, errlen, "MEET", FLEET_HOST, f->node[i].portstr,
                          f->node[i].bus_portstr)) != OVS_OK)
            return rc;
    deadline = ovs_now_ns() + FORM_NS;
    for (int i = 0; i < f->n;) {
        if (node_settled(f, i, why, sizeof(why))) {
            i++;
            continue;
        }
        if (ovs_now_ns() >= deadline) {
            ovs_seterr(err, errlen, "the cluster did not form within %d s: %s",
                       (int)(FORM_NS / OVS_NS_PER_S), why);
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(FLEET_POLL_NS * 5);
    }
    return OVS_OK;
}

int ovs_fleet_cluster_master_of(const ovs_fleet *f, const char *key)
{
    return ovs_keyslot(key, strlen(key)) * f->n / OVS_CLUSTER_SLOTS;
}
