/* check_then_decr.c - stock in Redis, checked with GET and taken with DECR: two commands.
 *
 * The naive version of lua-decr, written the way it is often written first: read the
 * stock, and if some is left, decrement it. Each command is atomic on the server but the
 * pair is not, and the window between them is where the scenario's think time goes.
 * Every buyer that reads a positive stock in that window goes on to DECR, so the stock
 * goes negative and more orders reach SQL than there were units. The read goes to the
 * scenario's read endpoint, a replica where there is one (`[redis] read_from = replica`),
 * which widens the window by the replication lag: a replica still showing the last unit
 * sells it again long after the master reached zero.
 *
 * WAIT after the DECR (wait_replicas > 0) makes the master wait for replicas to
 * acknowledge it, which shortens how long replicas lag behind it; it does not close the
 * window between the check and the act, so it does not make this safe.
 *
 * Bookings map as in lua-decr (redis_stock.h): GET every night of the stay, and if none is
 * taken, SET each to the guest - the same race, per room-night. Orders and bookings reach
 * SQL through the write-back queue. It claims nothing: the contract requires it to
 * oversell and to double-book. */
#include <stdio.h>
#include <stdlib.h>

#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"

enum { P_WAIT_REPLICAS, P_WAIT_TIMEOUT };

static const ovs_param_spec ctd_params[] = {
    [P_WAIT_REPLICAS] = { "wait_replicas", 0, "count", NULL, 0, 16,
                          "after the DECR, WAIT for this many replicas (0: no WAIT)" },
    /* WAIT 0 would block forever: the minimum is 1 ms. */
    [P_WAIT_TIMEOUT] = { "wait_timeout", 100, "ms", NULL, 1, 60000,
                         "longest the WAIT blocks" },
};

/* Bounds on talking to the servers; not parameters, for the reasons given in lease.c.
 * The master's command bound grows by wait_timeout, which a WAIT may use up. */
#define CTD_CONNECT_MS 1000
#define CTD_COMMAND_MS 1000

typedef struct ctd {
    ovs_strategy base;
    ovs_redis master; /* env->redis[0]: DECR, SET, WAIT */
    ovs_redis replica; /* env->read_from, when set: GET */
    ovs_redis *read;  /* &replica when env->read_from is set, else &master */
} ctd;

static int ctd_open(ovs_strategy *s, const ovs_env *env)
{
    ctd *x = (ctd *)s;
    double command_ms = CTD_COMMAND_MS;

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR,
                                 "redis-check-then-decr needs a Redis server; the run has none");
    if (env->sold == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "redis-check-then-decr needs the write-back queue");
    if (env->param->v[P_WAIT_REPLICAS] > 0)
        command_ms += env->param->v[P_WAIT_TIMEOUT];
    ovs_redis_init(&x->master, &env->redis[0], CTD_CONNECT_MS, command_ms);
    x->read = &x->master;
    if (env->read_from != NULL) {
        ovs_redis_init(&x->replica, env->read_from, CTD_CONNECT_MS, CTD_COMMAND_MS);
        x->read = &x->replica;
        if (ovs_redis_connect(&x->replica) != OVS_OK)
            return ovs_strategy_fail(s, OVS_ERR, "%s", x->replica.errstr);
    }
    if (ovs_redis_connect(&x->master) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->master.errstr);
    return OVS_OK;
}

/* GET key on the read endpoint into *value (0 when the key is absent). OVS_OK, or the
 * error code with s->errstr set. A GET changes nothing, so even a lost reply leaves the
 * request certainly unserved: OVS_ERR. */
static int read_int(ctd *x, const char *key, long long *value)
{
    redisReply *reply;
    int rc = ovs_redis_cmd(x->read, &reply, "GET %s", key);

    if (rc != OVS_OK)
        return ovs_strategy_fail(&x->base, OVS_ERR, "%s", x->read->errstr);
    *value = 0;
    if (reply->type == REDIS_REPLY_STRING)
        *value = strtoll(reply->str, NULL, 10);
    else if (reply->type != REDIS_REPLY_NIL)
        rc = ovs_redis_expect(x->read, reply, REDIS_REPLY_STRING, "GET");
    freeReplyObject(reply);
    if (rc != OVS_OK)
        return ovs_strategy_fail(&x->base, rc, "%s", x->read->errstr);
    return OVS_OK;
}

/* The end of a write on the master, whose reply matters only as a success: OVS_OK, or
 * the error code with s->errstr set. */
static int written(ctd *x, int rc, redisReply *reply)
{
    if (rc != OVS_OK)
        return ovs_strategy_fail(&x->base, rc, "%s", x->master.errstr);
    freeReplyObject(reply);
    return OVS_OK;
}

/* WAIT for replicas to acknowledge the writes so far. Its answer changes nothing about the
 * sale, which the master has already made; a failure is left for the next command to
 * reconnect from. */
static void wait_replicas(ctd *x)
{
    const ovs_params *p = x->base.env->param;
    redisReply *reply;

    if (p->v[P_WAIT_REPLICAS] < 1)
        return;
    if (ovs_redis_cmd(&x->master, &reply, "WAIT %d %lld", (int)p->v[P_WAIT_REPLICAS],
                      (long long)(p->v[P_WAIT_TIMEOUT] + 0.5)) == OVS_OK)
        freeReplyObject(reply);
}

static int sell_unit(ctd *x, const ovs_request *req, int64_t think_ns)
{
    char key[OVS_STOCK_KEY_MAX];
    long long stock;
    redisReply *reply;
    int rc;

    ovs_stock_key(OVS_KEY_PREFIX(x->base.env), req->sku, key, sizeof(key));
    rc = read_int(x, key, &stock);
    if (rc != OVS_OK)
        return rc;
    if (stock <= 0)
        return OVS_REFUSED;
    ovs_sleep_ns(think_ns); /* the window between check and act */
    /* No second look: whatever the DECR returns, even below zero, the buyer was told the
     * unit was there. That is the oversell this strategy exists to show. */
    rc = ovs_redis_cmd(&x->master, &reply, "DECR %s", key);
    return written(x, rc, reply);
}

static int claim_nights(ctd *x, const ovs_request *req, int64_t buyer, int64_t think_ns)
{
    int nights = req->check_out - req->check_in;
    char (*keys)[OVS_NIGHT_KEY_MAX];
    char guest[24];
    int taken = 0;
    int rc = OVS_OK;

    if (nights < 1 || nights > OVS_MAX_NIGHTS)
        return ovs_strategy_fail(&x->base, OVS_ERR, "a stay of %d nights is outside 1..%d",
                                 nights, OVS_MAX_NIGHTS);
    keys = malloc((size_t)nights * sizeof(*keys));
    if (keys == NULL)
        return ovs_strategy_fail(&x->base, OVS_ERR, "out of memory");
    for (int i = 0; i < nights; i++) {
        ovs_night_key(OVS_KEY_PREFIX(x->base.env), req, i, keys[i], sizeof(keys[i]));
    }
    /* Check every night before writing any, as the Lua script does - only not atomically. */
    for (int i = 0; i < nights && rc == OVS_OK && !taken; i++) {
        redisReply *reply;
        rc = ovs_redis_cmd(x->read, &reply, "GET %s", keys[i]);
        if (rc != OVS_OK) {
            /* A GET changes nothing: even a lost reply leaves the stay unbooked. */
            rc = ovs_strategy_fail(&x->base, OVS_ERR, "%s", x->read->errstr);
            break;
        }
        taken = reply->type != REDIS_REPLY_NIL;
        freeReplyObject(reply);
    }
    if (rc == OVS_OK && taken)
        rc = OVS_REFUSED;
    if (rc == OVS_OK) {
        ovs_sleep_ns(think_ns);
        snprintf(guest, sizeof(guest), "%lld", (long long)buyer);
        for (int i = 0; i < nights && rc == OVS_OK; i++) {
            redisReply *reply;
            rc = ovs_redis_cmd(&x->master, &reply, "SET %s %s", keys[i], guest);
            rc = written(x, rc, reply);
        }
    }
    free(keys);
    return rc;
}

static int ctd_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                       int64_t think_ns)
{
    ctd *x = (ctd *)s;
    int rc;

    s->attempts = 1;
    if (s->env->workload == OVS_INVENTORY)
        rc = sell_unit(x, req, think_ns);
    else
        rc = claim_nights(x, req, buyer, think_ns);
    if (rc != OVS_OK)
        return rc;
    wait_replicas(x);
    return ovs_redis_stock_hand_over(s, req, buyer);
}

static void ctd_close(ovs_strategy *s)
{
    ctd *x = (ctd *)s;

    ovs_redis_close(&x->master);
    ovs_redis_close(&x->replica);
}

const ovs_strategy_methods ovs_strategy_check_then_decr = {
    .version = 3,
    .name = "redis-check-then-decr",
    .summary = "GET stock (from the read endpoint), think, DECR on the master: two commands",
    .redis_stock = 1,
    .claims_safe = 0,
    .size = sizeof(ctd),
    .params = ctd_params,
    .n_params = sizeof(ctd_params) / sizeof(ctd_params[0]),
    .xNodes = ovs_redis_stock_nodes,
    /* Seed stock:<sku> or clear the taken nights, exactly as lua-decr does: the two sell
     * from the same Redis state, and a scenario compares them on it. */
    .xPrepare = ovs_redis_stock_prepare,
    .xOpen = ctd_open,
    .xExecute = ctd_execute,
    .xClose = ctd_close,
};
