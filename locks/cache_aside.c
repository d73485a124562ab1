/* cache_aside.c - the shop's screen answered from a Redis cache in front of SQL; the sale
 * itself in SQL.
 *
 * The pattern most shops put in front of a product page: "in stock?" is read from
 * cache:stock:<sku> in Redis, and on a miss from SQL, which fills the cache with
 * SET ... PX cache_ttl. The purchase is optimistic-sql's guarded decrement with its order
 * in one transaction (UPDATE ... WHERE stock > 0; optimistic_sql.c, reused as it is), so
 * the cache never decides a sale and the shop cannot oversell: it claims what
 * optimistic-sql claims. Bookings map the same way: cache:stay:<hotel>:<room>:<in>:<out>
 * holds 1 (free) or 0 (taken) for one stay, and the booking is the guarded insert.
 *
 * What the cache costs is the screen. With invalidate = 0 nothing touches the cache on a
 * write, so for up to cache_ttl after a sale it shows units that are gone (and, once
 * filled at 0, a sold-out page stays right: stock only goes down). With invalidate = 1 a
 * committed sale deletes the key, so the next reader fills it from SQL; the screen can
 * still be stale between the commit and the DEL, and a reader that read SQL before a sale
 * and SETs after that sale's DEL leaves an old count in the cache until the TTL (the
 * classic cache-aside race). The runner judges every answer against SQL read around it
 * (core/answer.h): the stale answers figure, reported beside the verdict. */
#include <stdio.h>
#include <stdlib.h>

#include "locks/optimistic_sql.h"
#include "locks/redis_conn.h"
#include "locks/strategy.h"

enum { P_CACHE_TTL = OVS_OSQL_P_RETRY + 3, P_INVALIDATE, P_N };

static const ovs_param_spec cache_params[P_N] = {
    OVS_SQLREQ_RETRY_PARAMS(OVS_OSQL_P_RETRY),
    [P_CACHE_TTL] = { "cache_ttl", 5000, "ms", NULL, 1, 86400000,
                      "lifetime of a cached answer (PX of the SET that fills it on a miss)" },
    [P_INVALIDATE] = { "invalidate", 1, "count", NULL, 0, 1,
                       "1: DEL the cached answer after a committed sale; 0: leave it to its"
                       " TTL" },
};

/* Bounds on talking to Redis; not parameters, for the reasons given in lease.c. */
#define CACHE_CONNECT_MS 1000
#define CACHE_COMMAND_MS 1000
/* "cache:stay:" and four ints at their widest. */
#define CACHE_KEY_MAX 64

typedef struct cache_aside {
    ovs_osql sql;      /* first: optimistic-sql's instance, whose execute sells */
    ovs_redis redis;   /* env->redis[0]: the cache */
} cache_aside;

static int cache_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

static void cache_key(const ovs_env *env, const ovs_request *r, char *buf, size_t len)
{
    if (env->workload == OVS_INVENTORY)
        snprintf(buf, len, "%scache:stock:%d", OVS_KEY_PREFIX(env), r->sku);
    else
        snprintf(buf, len, "%scache:stay:%d:%d:%d:%d", OVS_KEY_PREFIX(env), r->hotel, r->room, r->check_in,
                 r->check_out);
}

static int cache_open(ovs_strategy *s, const ovs_env *env)
{
    cache_aside *x = (cache_aside *)s;

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "cache-aside needs a Redis server; the run has none");
    ovs_redis_init(&x->redis, &env->redis[0], CACHE_CONNECT_MS, CACHE_COMMAND_MS);
    if (ovs_redis_connect(&x->redis) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    return ovs_osql_open(s, env);
}

/* GET the cached answer; on a miss read SQL and fill the cache for cache_ttl. Reads
 * change nothing the checker judges, so every failure here is OVS_ERR: nothing was sold.
 * A fill whose reply was lost still answers from SQL: the screen does not wait on it. */
static int cache_available(ovs_strategy *s, const ovs_request *r, int64_t *answer)
{
    cache_aside *x = (cache_aside *)s;
    redisReply *reply;
    char key[CACHE_KEY_MAX];
    int rc;

    cache_key(s->env, r, key, sizeof(key));
    if (ovs_redis_cmd(&x->redis, &reply, "GET %s", key) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    if (reply->type == REDIS_REPLY_STRING) {
        char *end;
        long long v = strtoll(reply->str, &end, 10);
        rc = *end == '\0' && end != reply->str ? OVS_OK : OVS_ERR;
        if (rc != OVS_OK)
            ovs_strategy_fail(s, OVS_ERR, "GET %s: '%.40s' is not a count", key, reply->str);
        *answer = v;
        freeReplyObject(reply);
        return rc;
    }
    rc = ovs_redis_expect(&x->redis, reply, REDIS_REPLY_NIL, "GET");
    freeReplyObject(reply);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    if ((rc = ovs_sqlreq_available(&x->sql.q, s->env->workload, r, answer)) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "read: %.100s", x->sql.q.db->errstr);
    if (ovs_redis_cmd(&x->redis, &reply, "SET %s %lld PX %lld", key, (long long)*answer,
                      (long long)s->env->param->v[P_CACHE_TTL]) == OVS_OK)
        freeReplyObject(reply);
    return OVS_OK;
}

/* The sale in SQL, then the cache told (invalidate = 1). A DEL that failed leaves the old
 * answer until its TTL: the sale stands, and the stale answers figure shows the rest. */
static int cache_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    cache_aside *x = (cache_aside *)s;
    int rc = ovs_osql_execute(s, r, buyer, think_ns);

    if (rc == OVS_OK && s->env->param->v[P_INVALIDATE] != 0) {
        redisReply *reply;
        char key[CACHE_KEY_MAX];
        cache_key(s->env, r, key, sizeof(key));
        if (ovs_redis_cmd(&x->redis, &reply, "DEL %s", key) == OVS_OK)
            freeReplyObject(reply);
    }
    return rc;
}

static void cache_close(ovs_strategy *s)
{
    ovs_osql_close(s);
    ovs_redis_close(&((cache_aside *)s)->redis);
}

const ovs_strategy_methods ovs_strategy_cache_aside = {
    .version = 4,
    .name = "cache-aside",
    .summary = "stock answered from a Redis cache (filled from SQL with a TTL, DEL on a sale"
               " or not); the sale is optimistic-sql's guarded decrement",
    .claims_safe = 1,
    .size = sizeof(cache_aside),
    .params = cache_params,
    .n_params = P_N,
    .xNodes = cache_nodes,
    .xOpen = cache_open,
    .xExecute = cache_execute,
    .xClose = cache_close,
    .xClaims = ovs_osql_claims,
    .xAvailable = cache_available,
};
