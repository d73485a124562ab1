/* fleet_cluster.c - turn a fleet's masters into one Redis Cluster.
 *
 * By hand rather than with `redis-cli --cluster create`: the fleet already knows every
 * node, and each step's error is then the server's own reply to one command. Master i of n
 * owns the slots s with s * n / 16384 == i, one contiguous range (CLUSTER ADDSLOTSRANGE);
 * node 0 meets every other node, naming its bus port (the fleet picks one per node, not
 * port + 10000), and gossip introduces the rest to one another. Replicas are started as
 * empty masters, met like the others, then told CLUSTER REPLICATE <their master's id>:
 * Redis refuses --replicaof in cluster mode, and a replica's master is what the cluster,
 * not a configuration line, knows. The cluster
 * is ready when every node says so (CLUSTER INFO): state ok, all 16384 slots assigned and
 * every node known. A master reports ok only some time after it started (Redis holds a
 * fresh master back about 2 s so a rebooted one cannot rejoin writable at once), so the
 * wait is bounded by FORM_NS, not by a few polls. With replicas, it is ready once each
 * replica has synced, every master lists it as its master's replica (only then can the
 * masters vote it in when its master dies), and each master has streamed its replicas a
 * write (ovs_fleet_cluster_settle).
 *
 * The failover itself is the cluster's (no REPLICAOF, no Sentinel): the harness only
 * watches, bounded, for a replica of the killed master to own the master's slots. */
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

/* Run CLUSTER verb a1 [a2 [a3]] on node i; it must answer +OK. */
static int node_ok(const ovs_fleet *f, int i, char *err, size_t errlen, const char *verb,
                   const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = { "CLUSTER", verb, a1, a2, a3 };
    redisContext *c = node_connect(f, i, err, errlen);
    redisReply *r;
    int rc = OVS_ERR_ENV;

    if (c == NULL)
        return OVS_ERR_ENV;
    r = redisCommandArgv(c, a2 == NULL ? 3 : a3 == NULL ? 4 : 5, argv, NULL);
    if (r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)
        rc = OVS_OK;
    else
        ovs_seterr(err, errlen, "cluster node %d (port %d): CLUSTER %s %s %s answered %s", i,
                   f->node[i].port, verb, a1, a2 ? a2 : "",
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
             atoi(known) == f->total;
        snprintf(why, whylen, "node %d (port %d) reports cluster_state:%s, "
                 "cluster_slots_assigned:%s, cluster_known_nodes:%s (want ok, %d, %d)", i,
                 f->node[i].port, state, assigned, known, OVS_CLUSTER_SLOTS, f->total);
    } else {
        snprintf(why, whylen, "node %d (port %d): CLUSTER INFO failed: %s", i,
                 f->node[i].port, r == NULL ? c->errstr : r->str);
    }
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* A command's reply from node i, any type but an error; NULL with err. */
static redisReply *node_ask(const ovs_fleet *f, int i, const char *cmd, char *err,
                            size_t errlen)
{
    redisContext *c = node_connect(f, i, err, errlen);
    redisReply *r = c != NULL ? redisCommand(c, cmd) : NULL;

    if (c != NULL && (r == NULL || r->type == REDIS_REPLY_ERROR)) {
        ovs_seterr(err, errlen, "cluster node %d (port %d): %s: %s", i, f->node[i].port, cmd,
                   r == NULL ? c->errstr : r->str);
        freeReplyObject(r);
        r = NULL;
    }
    redisFree(c);
    return r;
}

/* The first slot master m was given (the inverse of ovs_fleet_cluster_master_of). */
static int first_slot(const ovs_fleet *f, int m)
{
    return (m * OVS_CLUSTER_SLOTS + f->n - 1) / f->n;
}

int ovs_fleet_cluster_replica(const ovs_fleet *f, int m, int k)
{
    if (f == NULL || !f->cluster || m < 0 || m >= f->n || k < 0 || k >= f->cluster_replicas)
        return -1;
    return f->n + m * f->cluster_replicas + k;
}

/* The master of replica node i. */
static int master_of_replica(const ovs_fleet *f, int i)
{
    return (i - f->n) / f->cluster_replicas;
}

/* 1 when replica node i has its master's data and every master's CLUSTER NODES calls it
 * that master's replica, so that the masters can vote it in when its master dies; 0 when
 * not yet, with what is missing in why. */
static int replica_joined(const ovs_fleet *f, int i, char *why, size_t whylen)
{
    const char *mid = f->node[master_of_replica(f, i)].cluster_id;
    char e[200], role[16] = "", link[16] = "", sync[8] = "";
    redisReply *r = node_ask(f, i, "INFO replication", e, sizeof(e));

    if (r == NULL) {
        snprintf(why, whylen, "%s", e);
        return 0;
    }
    ovs_fleet_info_field(r->str, "role", role, sizeof(role));
    ovs_fleet_info_field(r->str, "master_link_status", link, sizeof(link));
    ovs_fleet_info_field(r->str, "master_sync_in_progress", sync, sizeof(sync));
    freeReplyObject(r);
    if (strcmp(role, "slave") != 0 || strcmp(link, "up") != 0 || strcmp(sync, "0") != 0) {
        snprintf(why, whylen, "replica node %d (port %d) reports role:%s, "
                 "master_link_status:%s, master_sync_in_progress:%s", i, f->node[i].port,
                 role, link, sync);
        return 0;
    }
    for (int m = 0; m < f->n; m++) {
        /* "<id> <addr> <flags> <master id> ...": the replica's line names its master. */
        char want[128];
        const char *line;
        int ok;
        if ((r = node_ask(f, m, "CLUSTER NODES", e, sizeof(e))) == NULL) {
            snprintf(why, whylen, "%s", e);
            return 0;
        }
        line = r->type == REDIS_REPLY_STRING ? strstr(r->str, f->node[i].cluster_id) : NULL;
        snprintf(want, sizeof(want), "slave %s ", mid);
        ok = line != NULL && strstr(line, want) != NULL &&
             strstr(line, want) < line + strcspn(line, "\n");
        freeReplyObject(r);
        if (!ok) {
            snprintf(why, whylen, "master node %d does not list node %d (port %d) as a "
                     "replica of node %d yet", m, i, f->node[i].port, master_of_replica(f, i));
            return 0;
        }
    }
    return 1;
}

/* Wait, bounded by deadline, until settled(f, i) holds for every i in [from, to). */
static int wait_all(const ovs_fleet *f, int from, int to, int64_t deadline,
                    int (*settled)(const ovs_fleet *, int, char *, size_t), char *err,
                    size_t errlen)
{
    char why[256] = "";

    for (int i = from; i < to;) {
        if (settled(f, i, why, sizeof(why))) {
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

int ovs_fleet_cluster_settle(ovs_fleet *f, char *err, size_t errlen)
{
    for (int m = 0; m < f->n && f->cluster_replicas > 0; m++) {
        char key[32], e[200];
        redisContext *c;
        redisReply *r;
        int rc = OVS_ERR_ENV;

        /* A key of master m's slots: the marker must be written there to be waited for. */
        for (int k = 0;; k++) {
            snprintf(key, sizeof(key), "settle:marker:%d", k);
            if (ovs_fleet_cluster_master_of(f, key) == m)
                break;
        }
        if ((c = node_connect(f, m, err, errlen)) == NULL)
            return OVS_ERR_ENV;
        r = redisCommand(c, "SET %s 1 PX 1000", key);
        if (r != NULL && r->type == REDIS_REPLY_STATUS) {
            freeReplyObject(r);
            r = redisCommand(c, "WAIT %d 1000", f->cluster_replicas);
        }
        if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= f->cluster_replicas)
            rc = OVS_OK;
        else
            snprintf(e, sizeof(e), "%s", r == NULL ? c->errstr
                                     : r->type == REDIS_REPLY_ERROR ? r->str
                                     : r->type == REDIS_REPLY_INTEGER ? "too few replicas"
                                                                      : "odd reply");
        if (rc != OVS_OK)
            ovs_seterr(err, errlen, "cluster master %d (port %d): WAIT %d after a write: %s",
                       m, f->node[m].port, f->cluster_replicas, e);
        freeReplyObject(r);
        redisFree(c);
        if (rc != OVS_OK)
            return rc;
    }
    return OVS_OK;
}

int ovs_fleet_cluster_form(ovs_fleet *f, char *err, size_t errlen)
{
    int64_t deadline;
    int rc;

    for (int i = 0; i < f->n; i++) {
        char lo[16], hi[16];
        snprintf(lo, sizeof(lo), "%d", first_slot(f, i));
        snprintf(hi, sizeof(hi), "%d", (i + 1 < f->n ? first_slot(f, i + 1)
                                                     : OVS_CLUSTER_SLOTS) - 1);
        if ((rc = node_ok(f, i, err, errlen, "ADDSLOTSRANGE", lo, hi, NULL)) != OVS_OK)
            return rc;
    }
    for (int i = 0; i < f->total; i++) {
        redisReply *r = node_ask(f, i, "CLUSTER MYID", err, errlen);
        if (r == NULL || r->type != REDIS_REPLY_STRING ||
            (size_t)r->len >= sizeof(f->node[i].cluster_id)) {
            if (r != NULL)
                ovs_seterr(err, errlen, "cluster node %d: CLUSTER MYID: odd reply", i);
            freeReplyObject(r);
            return OVS_ERR_ENV;
        }
        snprintf(f->node[i].cluster_id, sizeof(f->node[i].cluster_id), "%s", r->str);
        freeReplyObject(r);
    }
    for (int i = 1; i < f->total; i++)
        if ((rc = node_ok(f, 0, err, errlen, "MEET", FLEET_HOST, f->node[i].portstr,
                          f->node[i].bus_portstr)) != OVS_OK)
            return rc;
    deadline = ovs_now_ns() + FORM_NS;
    if ((rc = wait_all(f, 0, f->total, deadline, node_settled, err, errlen)) != OVS_OK)
        return rc;
    /* Only a node that knows the master may replicate it: every node knows every other
     * now. The replicas' slots come with the sync, so none of them may hold keys yet. */
    for (int i = f->n; i < f->total; i++)
        if ((rc = node_ok(f, i, err, errlen, "REPLICATE",
                          f->node[master_of_replica(f, i)].cluster_id, NULL, NULL)) != OVS_OK)
            return rc;
    if ((rc = wait_all(f, f->n, f->total, deadline, replica_joined, err, errlen)) != OVS_OK)
        return rc;
    return ovs_fleet_cluster_settle(f, err, errlen);
}

/* 1 when node i's own CLUSTER SLOTS gives the range holding slot to node i itself. */
static int owns_slot(const ovs_fleet *f, int i, int slot, char *why, size_t whylen)
{
    char e[200];
    redisReply *r = node_ask(f, i, "CLUSTER SLOTS", e, sizeof(e));
    int ok = 0;

    if (r == NULL) {
        snprintf(why, whylen, "%s", e);
        return 0;
    }
    for (size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements; j++) {
        const redisReply *x = r->element[j];
        if (x->type == REDIS_REPLY_ARRAY && x->elements >= 3 &&
            x->element[0]->integer <= slot && slot <= x->element[1]->integer &&
            x->element[2]->type == REDIS_REPLY_ARRAY && x->element[2]->elements >= 2)
            ok = x->element[2]->element[1]->integer == f->node[i].port;
    }
    freeReplyObject(r);
    if (!ok)
        snprintf(why, whylen, "node %d (port %d) does not own slot %d", i, f->node[i].port,
                 slot);
    return ok;
}

int ovs_fleet_cluster_wait_failover(ovs_fleet *f, int m, int64_t timeout_ns, int *promoted,
                                    char *err, size_t errlen)
{
    int64_t deadline = ovs_now_ns() + timeout_ns;
    char why[256] = "no replica";

    *promoted = -1;
    if (ovs_fleet_cluster_replica(f, m, 0) < 0) {
        ovs_seterr(err, errlen, "failover: master %d of the cluster has no replica", m);
        return OVS_ERR;
    }
    for (;;) {
        for (int k = 0; k < f->cluster_replicas; k++) {
            int i = ovs_fleet_cluster_replica(f, m, k);
            if (f->node[i].pid > 0 && owns_slot(f, i, first_slot(f, m), why, sizeof(why))) {
                f->node[i].replica = 0;
                *promoted = i;
                return OVS_OK;
            }
        }
        if (ovs_now_ns() >= deadline) {
            ovs_seterr(err, errlen, "failover: no replica of cluster master %d was promoted "
                       "within %lld ms: %s", m, (long long)(timeout_ns / OVS_NS_PER_MS), why);
            return OVS_ERR;
        }
        ovs_sleep_ns(FLEET_POLL_NS);
    }
}

int ovs_fleet_cluster_master_of(const ovs_fleet *f, const char *key)
{
    return ovs_keyslot(key, strlen(key)) * f->n / OVS_CLUSTER_SLOTS;
}
