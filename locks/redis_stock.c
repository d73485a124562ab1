/* redis_stock.c - stock kept in Redis, shared by the strategies that sell from it. */
#include "locks/redis_stock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "locks/redis_conn.h"
#include "core/util.h"

const char ovs_redis_stock_decr_src[] =
    "local s = tonumber(redis.call('get', KEYS[1]) or '0') "
    "if s > 0 then redis.call('decr', KEYS[1]) return 1 end "
    "return 0";

/* As the one above, and the order added to the stream in the same script: Redis runs a
 * script with nothing interleaved and writes its effects together (to the AOF too), so no
 * sale exists without its entry, nor an entry without its sale. */
const char ovs_redis_stock_decr_stream_src[] =
    "local s = tonumber(redis.call('get', KEYS[1]) or '0') "
    "if s > 0 then redis.call('decr', KEYS[1]) "
    "redis.call('xadd', KEYS[2], '*', 'sku', ARGV[2], 'buyer', ARGV[3]) return 1 end "
    "return 0";

/* Check every night first, then write: a script is not rolled back on error, so it must
 * not write anything before it knows it will write everything. */
const char ovs_redis_stock_claim_src[] =
    "for i = 1, #KEYS do "
    "if redis.call('exists', KEYS[i]) == 1 then return 0 end "
    "end "
    "for i = 1, #KEYS do redis.call('set', KEYS[i], ARGV[1]) end "
    "return 1";

#define STOCK_CONNECT_MS 1000
#define STOCK_PREPARE_MS 5000 /* a SCAN over an earlier run's nights may take a while */
#define STOCK_NOREPLICAS_NS (3 * OVS_NS_PER_S)

/* Remove every taken night left by an earlier run on the same server: a fresh booking
 * scenario starts with every room free, as a fresh inventory starts at full stock. */
static int clear_nights(ovs_redis *r, const char *prefix)
{
    char cursor[32] = "0";
    redisReply *reply;

    do {
        int rc = ovs_redis_cmd(r, &reply, "SCAN %s MATCH %snight:* COUNT 1000", cursor,
                               prefix);
        if (rc != OVS_OK)
            return rc;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(reply);
            return ovs_redis_expect(r, NULL, REDIS_REPLY_ARRAY, "SCAN");
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        for (size_t i = 0; i < reply->element[1]->elements; i++) {
            redisReply *del;
            const redisReply *k = reply->element[1]->element[i];
            rc = ovs_redis_cmd(r, &del, "UNLINK %b", k->str, (size_t)k->len);
            if (rc != OVS_OK) {
                freeReplyObject(reply);
                return rc;
            }
            freeReplyObject(del);
        }
        freeReplyObject(reply);
    } while (cursor[0] != '0' || cursor[1] != '\0');
    return OVS_OK;
}

int ovs_redis_stock_prepare(ovs_strategy *s, const ovs_env *env)
{
    ovs_redis r;
    redisReply *reply;
    int rc = OVS_OK;

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    ovs_redis_init(&r, &env->redis[0], STOCK_CONNECT_MS, STOCK_PREPARE_MS);
    if (env->workload == OVS_INVENTORY) {
        for (int sku = 1; sku <= env->skus && rc == OVS_OK; sku++) {
            char key[OVS_STOCK_KEY_MAX];
            ovs_stock_key(OVS_KEY_PREFIX(env), sku, key, sizeof(key));
            /* A master with min-replicas-to-write refuses while its once-a-second
             * recount finds the replica's last ACK too old, which a loaded machine delays
             * past a 1 s max lag: the stock is set-up, not what the scenario tests, so it
             * waits that out (bounded) instead of failing the run. */
            int64_t until = ovs_now_ns() + STOCK_NOREPLICAS_NS;
            while ((rc = ovs_redis_cmd(&r, &reply, "SET %s %d", key, env->stock)) == OVS_ERR &&
                   ovs_redis_refused(&r) && ovs_now_ns() < until)
                ovs_sleep_ns(50 * OVS_NS_PER_MS);
            if (rc == OVS_OK)
                freeReplyObject(reply);
        }
    } else {
        rc = clear_nights(&r, OVS_KEY_PREFIX(env));
    }
    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, OVS_ERR, "%s", r.errstr);
    ovs_redis_close(&r);
    return rc;
}

void ovs_night_key(const char *prefix, const ovs_request *req, int i, char *buf, size_t len)
{
    char date[16];
    ovs_format_date(req->check_in + i, date, sizeof(date));
    snprintf(buf, len, "%snight:%d:%d:%s", prefix ? prefix : "", req->hotel, req->room, date);
}

/* Run sc and read its 1 or 0. */
static int run_sale(ovs_redis *r, ovs_script *sc, int nkeys, int nargs, const char *const *kv)
{
    redisReply *reply;
    int rc = ovs_redis_eval(r, sc, nkeys, nargs, kv, &reply);

    /* A master refusing writes (NOREPLICAS) ran none of the script's: no sale, and not
     * sold out either. The buyer was turned away by the server's policy: busy. */
    if (rc == OVS_ERR && ovs_redis_refused(r))
        return OVS_BUSY;
    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(r, reply, REDIS_REPLY_INTEGER, "script");
    if (rc == OVS_OK && reply->integer != 0 && reply->integer != 1) {
        snprintf(r->errstr, sizeof(r->errstr), "script: answered %lld, not 1 or 0",
                 reply->integer);
        r->err = rc = OVS_ERR;
    }
    if (rc == OVS_OK)
        rc = reply->integer == 1 ? OVS_OK : OVS_REFUSED;
    freeReplyObject(reply);
    return rc;
}

int ovs_redis_stock_sell(ovs_redis *r, ovs_script *unit, ovs_script *nights,
                         enum ovs_workload workload, const char *prefix,
                         const ovs_request *req, int64_t buyer)
{
    int n = req->check_out - req->check_in;
    char (*keys)[OVS_NIGHT_KEY_MAX];
    const char **kv;
    char arg[24];
    int rc;

    if (workload == OVS_INVENTORY) {
        char key[OVS_STOCK_KEY_MAX];
        const char *one[2] = { key, "1" };
        ovs_stock_key(prefix, req->sku, key, sizeof(key));
        return run_sale(r, unit, 1, 1, one);
    }
    if (n < 1 || n > OVS_MAX_NIGHTS) {
        snprintf(r->errstr, sizeof(r->errstr), "a stay of %d nights is outside 1..%d", n,
                 OVS_MAX_NIGHTS);
        return r->err = OVS_ERR;
    }
    keys = malloc((size_t)n * sizeof(*keys));
    kv = malloc(((size_t)n + 1) * sizeof(*kv));
    if (keys == NULL || kv == NULL) {
        free(keys);
        free(kv);
        snprintf(r->errstr, sizeof(r->errstr), "out of memory");
        return r->err = OVS_ERR;
    }
    for (int i = 0; i < n; i++) {
        ovs_night_key(prefix, req, i, keys[i], sizeof(keys[i]));
        kv[i] = keys[i];
    }
    snprintf(arg, sizeof(arg), "%lld", (long long)buyer);
    kv[n] = arg;
    rc = run_sale(r, nights, n, 1, kv);
    free(keys);
    free(kv);
    return rc;
}

int ovs_redis_stock_sell_stream(ovs_redis *r, ovs_script *unit_stream, const char *prefix,
                                const char *stream, const ovs_request *req, int64_t buyer)
{
    char key[OVS_STOCK_KEY_MAX], sku[16], who[24];
    const char *kv[5] = { key, stream, "1", sku, who };

    ovs_stock_key(prefix, req->sku, key, sizeof(key));
    snprintf(sku, sizeof(sku), "%d", req->sku);
    snprintf(who, sizeof(who), "%lld", (long long)buyer);
    return run_sale(r, unit_stream, 2, 3, kv);
}

/* Copy q's failure to r, where the caller reads it, after what the sale had done. */
static int apart_fail(ovs_redis *r, const ovs_redis *q, int rc, const char *what)
{
    snprintf(r->errstr, sizeof(r->errstr), "%.60s: %.60s", what, q->errstr);
    return r->err = rc;
}

int ovs_redis_stock_sell_apart(ovs_redis *r, ovs_redis *q, ovs_script *unit,
                               const char *prefix, const char *stream,
                               const ovs_request *req, int64_t buyer)
{
    char key[OVS_STOCK_KEY_MAX];
    redisReply *reply;
    int rc = ovs_redis_stock_sell(r, unit, NULL, OVS_INVENTORY, prefix, req, buyer);

    if (rc != OVS_OK)
        return rc; /* sold out, refused or unknown: no order to queue */
    rc = ovs_redis_cmd(q, &reply, "XADD %s * sku %d buyer %lld", stream, req->sku,
                       (long long)buyer);
    if (rc == OVS_OK) {
        freeReplyObject(reply);
        return OVS_OK;
    }
    /* Its answer lost, the entry may be in the stream and reach SQL: giving the unit back
     * then would let it be sold twice. The sale is left as it is, of unknown outcome. */
    if (rc == OVS_ERR_IO)
        return apart_fail(r, q, OVS_ERR_IO, "sold, XADD unanswered (the order may be "
                          "queued)");
    /* Certainly not queued: the order would never reach SQL, so the sale is undone. */
    ovs_stock_key(prefix, req->sku, key, sizeof(key));
    int back = ovs_redis_cmd(r, &reply, "INCR %s", key);
    if (back == OVS_OK) {
        freeReplyObject(reply);
        return apart_fail(r, q, OVS_ERR, "XADD failed, the unit given back");
    }
    char why[sizeof(r->errstr)];
    snprintf(why, sizeof(why), "%s", r->errstr);
    snprintf(r->errstr, sizeof(r->errstr), "XADD failed (%.30s); give-back %s: %.30s",
             q->errstr, back == OVS_ERR_IO ? "unanswered" : "failed, unit in no order", why);
    return r->err = back == OVS_ERR_IO ? OVS_ERR_IO : OVS_ERR;
}

int ovs_redis_stock_execute(ovs_strategy *s, ovs_redis *r, ovs_redis *q, ovs_script *unit,
                            ovs_script *nights, ovs_script *unit_stream,
                            const ovs_request *req, int64_t buyer)
{
    const ovs_env *env = s->env;
    int rc;

    s->attempts = 1;
    /* Under queue = stream the sale writes the order too: nothing to hand over. */
    if (env->queue_stream != NULL && env->queue_redis != NULL)
        rc = ovs_redis_stock_sell_apart(r, q, unit, OVS_KEY_PREFIX(env), env->queue_stream,
                                        req, buyer);
    else if (env->queue_stream != NULL)
        rc = ovs_redis_stock_sell_stream(r, unit_stream, OVS_KEY_PREFIX(env),
                                         env->queue_stream, req, buyer);
    else
        rc = ovs_redis_stock_sell(r, unit, nights, env->workload, OVS_KEY_PREFIX(env), req,
                                  buyer);
    if (rc == OVS_ERR || rc == OVS_ERR_IO || rc == OVS_BUSY)
        return ovs_strategy_fail(s, rc, "%s", r->errstr);
    if (rc != OVS_OK || env->queue_stream != NULL)
        return rc;
    return ovs_redis_stock_hand_over(s, req, buyer);
}

int ovs_redis_stock_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

int ovs_redis_stock_open(ovs_strategy *s, const ovs_env *env, ovs_redis *r,
                         double command_ms)
{
    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    if (env->queue_stream == NULL && env->sold == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs the write-back queue", s->m->name);
    ovs_redis_init(r, &env->redis[0], 1000, command_ms);
    if (ovs_redis_connect(r) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", r->errstr);
    return OVS_OK;
}

int ovs_redis_stock_open_queue(ovs_strategy *s, const ovs_env *env, ovs_redis *q,
                               double command_ms)
{
    memset(q, 0, sizeof(*q));
    if (env->queue_stream == NULL || env->queue_redis == NULL)
        return OVS_OK;
    ovs_redis_init(q, env->queue_redis, 1000, command_ms);
    if (ovs_redis_connect(q) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", q->errstr);
    return OVS_OK;
}

int ovs_redis_stock_hand_over(ovs_strategy *s, const ovs_request *req, int64_t buyer)
{
    /* Only once stopped does the queue refuse. Redis has sold the unit and SQL will never
     * hear of it: the buyer is told no, and the divergence check will see the unit. */
    if (s->env->sold(s->env->sold_ctx, req, buyer) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "sold in Redis but the write-back queue is "
                                 "closed; the order will not reach SQL");
    return OVS_OK;
}
