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
 * It claims safety on a healthy server. The crash-before-write-back scenario shows the
 * price: while an order waits in the queue only Redis knows of the sale, so a Redis that
 * loses its memory and is re-warmed from SQL sells that unit again.
 *
 * With `queue = stream` the same script also XADDs the order to the write-back stream, so
 * the sale and its queue entry are one write; what Redis then loses in a crash is the
 * entry as well as the decrement (lost orders), unless it persisted both. */
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"

/* Bounds on talking to the server; not parameters, for the reasons given in setnx.c. */
#define LUAD_COMMAND_MS 1000

typedef struct luad {
    ovs_strategy base;
    ovs_redis redis;   /* env->redis[0] */
    ovs_script decr;   /* inventory: ovs_redis_stock_decr_src */
    ovs_script claim;  /* booking: ovs_redis_stock_claim_src */
    ovs_script stream; /* queue = stream: ovs_redis_stock_decr_stream_src */
} luad;

static int luad_open(ovs_strategy *s, const ovs_env *env)
{
    luad *x = (luad *)s;

    x->decr.src = ovs_redis_stock_decr_src;
    x->claim.src = ovs_redis_stock_claim_src;
    x->stream.src = ovs_redis_stock_decr_stream_src;
    if (env->queue_stream != NULL) {
        /* The order goes to the stream inside the sale's script, not to env->sold. */
        if (env->n_redis < 1)
            return ovs_strategy_fail(s, OVS_ERR, "lua-decr needs a Redis server; the run has"
                                     " none");
        ovs_redis_init(&x->redis, &env->redis[0], 1000, LUAD_COMMAND_MS);
        if (ovs_redis_connect(&x->redis) != OVS_OK)
            return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
        return OVS_OK;
    }
    return ovs_redis_stock_open(s, env, &x->redis, LUAD_COMMAND_MS);
}

static int luad_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                        int64_t think_ns)
{
    luad *x = (luad *)s;

    (void)think_ns; /* the script has no window between check and act to think in */
    if (s->env->queue_stream != NULL) {
        s->attempts = 1;
        int rc = ovs_redis_stock_sell_stream(&x->redis, &x->stream, OVS_KEY_PREFIX(s->env),
                                             s->env->queue_stream, req,
                                             buyer);
        if (rc == OVS_ERR || rc == OVS_ERR_IO || rc == OVS_BUSY)
            return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
        return rc;
    }
    return ovs_redis_stock_execute(s, &x->redis, &x->decr, &x->claim, req, buyer);
}

static void luad_close(ovs_strategy *s)
{
    ovs_redis_close(&((luad *)s)->redis);
}

const ovs_strategy_methods ovs_strategy_lua_decr = {
    .version = 6,
    .name = "lua-decr",
    .summary = "one Lua script checks stock > 0 and decrements; orders reach SQL by write-back",
    .redis_stock = 1,
    .claims_safe = 1,
    .size = sizeof(luad),
    .xNodes = ovs_redis_stock_nodes,
    .xPrepare = ovs_redis_stock_prepare,
    .xOpen = luad_open,
    .xExecute = luad_execute,
    .xClose = luad_close,
    .writes_stream = 1,
};
