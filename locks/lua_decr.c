/* lua_decr.c - stock kept in Redis, sold by one Lua script; orders go to SQL later.
 *
 * A script runs on the server with nothing interleaved, so "check stock > 0, decrement"
 * has no window for another buyer to slip into: no lock, one round trip. That is why the
 * scenario's think time is ignored here - there is no gap between check and act to think
 * in. The sale is acknowledged once Redis says so; the order reaches SQL through the
 * write-back queue, as production systems push it through a job queue.
 *
 * For bookings a room-night is one unit of stock (redis_stock.h): night:<hotel>:<room>:<date>
 * exists when that night is taken, and one script claims every night of the stay or none.
 *
 * With `buckets = K` (inventory only) each SKU's stock is split over K keys
 * stock:{sku:N:bB} (core/keys.h), the flash-sale technique that spreads one hot SKU over a
 * cluster's shards: a buyer runs the script on a bucket drawn at random, then on the
 * others in turn, and is refused only when every bucket is empty.
 *
 * It claims safety on a healthy server. The crash-before-write-back scenario shows the
 * price: while an order waits in the queue only Redis knows of the sale, so a Redis that
 * loses its memory and is re-warmed from SQL sells that unit again.
 *
 * With `queue = stream` the same script also XADDs the order to the write-back stream, so
 * the sale and its queue entry are one write; what Redis then loses in a crash is the
 * entry as well as the decrement (lost orders), unless it persisted both. With
 * `queue_node = N` the stream is on another Redis, and the sale is this script on node 0
 * then an XADD on node N: two writes, with the sale alone in between (redis_stock.h says
 * what a failed or unanswered XADD does). */
#include <stdio.h>

#include "core/keys.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"

/* Bounds on talking to the server; not parameters, for the reasons given in setnx.c. */
#define LUAD_COMMAND_MS 1000

enum { P_BUCKETS };

static const ovs_param_spec luad_params[] = {
    [P_BUCKETS] = { "buckets", 1, "count", NULL, 1, 64,
                    "split each SKU's stock over this many keys stock:{sku:N:bB} (spread "
                    "over a cluster's shards); a buyer tries a random one, then the rest" },
};

typedef struct luad {
    ovs_strategy base;
    ovs_redis redis;   /* env->redis[0] */
    ovs_redis queue;   /* queue_node >= 1: env->queue_redis, the stream's; else unused */
    ovs_script decr;   /* inventory: ovs_redis_stock_decr_src */
    ovs_script claim;  /* booking: ovs_redis_stock_claim_src */
    ovs_script stream; /* queue = stream: ovs_redis_stock_decr_stream_src */
    int buckets;       /* P_BUCKETS */
    ovs_rng rng;       /* the first bucket a buyer tries */
} luad;

static int luad_fits(const ovs_params *p, enum ovs_workload w, char *why, size_t len)
{
    if (p->v[P_BUCKETS] > 1 && w != OVS_INVENTORY) {
        snprintf(why, len, "buckets split a SKU's stock; a booking has no stock to split");
        return 1;
    }
    return 0;
}

/* Bucket b of K gets stock / K units, and the first stock % K one more. */
static int luad_prepare(ovs_strategy *s, const ovs_env *env)
{
    int k = env->param != NULL ? (int)env->param->v[P_BUCKETS] : 1, rc = OVS_OK;
    ovs_redis r;

    if (k <= 1)
        return ovs_redis_stock_prepare(s, env);
    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    ovs_redis_init(&r, &env->redis[0], 1000, 5000);
    for (int sku = 1; sku <= env->skus && rc == OVS_OK; sku++) {
        char key[OVS_STOCK_BUCKET_KEY_MAX];
        redisReply *reply;
        for (int b = 0; b < k && rc == OVS_OK; b++) {
            ovs_stock_bucket_key(OVS_KEY_PREFIX(env), sku, b, key, sizeof(key));
            rc = ovs_redis_cmd(&r, &reply, "SET %s %d", key,
                               env->stock / k + (b < env->stock % k));
            if (rc == OVS_OK)
                freeReplyObject(reply);
        }
    }
    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, OVS_ERR, "%s", r.errstr);
    ovs_redis_close(&r);
    return rc;
}

static int luad_open(ovs_strategy *s, const ovs_env *env)
{
    luad *x = (luad *)s;

    x->decr.src = ovs_redis_stock_decr_src;
    x->claim.src = ovs_redis_stock_claim_src;
    x->buckets = (int)env->param->v[P_BUCKETS];
    ovs_rng_seed(&x->rng, env->seed);
    x->stream.src = ovs_redis_stock_decr_stream_src;
    if (env->queue_stream != NULL && x->buckets > 1)
        return ovs_strategy_fail(s, OVS_ERR, "lua-decr: buckets = %d does not go with queue ="
                                 " stream (the stream sale's script sells from one key)",
                                 x->buckets);
    if (ovs_redis_stock_open(s, env, &x->redis, LUAD_COMMAND_MS) != OVS_OK)
        return OVS_ERR;
    return ovs_redis_stock_open_queue(s, env, &x->queue, LUAD_COMMAND_MS);
}

/* One unit from the first bucket, drawn at random, that has one. */
static int luad_sell_bucket(luad *x, const ovs_request *req, int64_t buyer)
{
    ovs_strategy *s = &x->base;
    int first = (int)ovs_rng_below(&x->rng, (uint64_t)x->buckets);

    s->attempts = 0;
    for (int i = 0; i < x->buckets; i++) {
        char key[OVS_STOCK_BUCKET_KEY_MAX];
        const char *kv[2] = { key, "1" };
        redisReply *reply;
        int rc, sold;
        ovs_stock_bucket_key(OVS_KEY_PREFIX(s->env), req->sku, (first + i) % x->buckets, key,
                             sizeof(key));
        s->attempts++;
        rc = ovs_redis_eval(&x->redis, &x->decr, 1, 1, kv, &reply);
        if (rc == OVS_OK && (rc = ovs_redis_expect(&x->redis, reply, REDIS_REPLY_INTEGER,
                                                   "script")) != OVS_OK)
            freeReplyObject(reply);
        /* A master refusing writes (NOREPLICAS) sold nothing: busy, as the one-key sale. */
        if (rc == OVS_ERR && ovs_redis_refused(&x->redis))
            rc = OVS_BUSY;
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, rc, "%s: %s", key, x->redis.errstr);
        sold = reply->integer == 1;
        freeReplyObject(reply);
        if (sold)
            return ovs_redis_stock_hand_over(s, req, buyer);
    }
    return OVS_REFUSED;
}

static int luad_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                        int64_t think_ns)
{
    luad *x = (luad *)s;

    (void)think_ns; /* the script has no window between check and act to think in */
    if (x->buckets > 1)
        return luad_sell_bucket(x, req, buyer);
    return ovs_redis_stock_execute(s, &x->redis, &x->queue, &x->decr, &x->claim, &x->stream,
                                   req, buyer);
}

static void luad_close(ovs_strategy *s)
{
    ovs_redis_close(&((luad *)s)->redis);
    ovs_redis_close(&((luad *)s)->queue);
}

const ovs_strategy_methods ovs_strategy_lua_decr = {
    .version = 6,
    .name = "lua-decr",
    .summary = "one Lua script checks stock > 0 and decrements; orders reach SQL by write-back",
    .redis_stock = 1,
    .claims_safe = 1,
    .size = sizeof(luad),
    .params = luad_params,
    .n_params = sizeof(luad_params) / sizeof(luad_params[0]),
    .xNodes = ovs_redis_stock_nodes,
    .xPrepare = luad_prepare,
    .xFits = luad_fits,
    .xOpen = luad_open,
    .xExecute = luad_execute,
    .xClose = luad_close,
    .writes_stream = 1,
};
