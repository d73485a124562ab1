/* setnx.c - a lease on one Redis: SET lock:<key> <token> NX PX ttl.
 *
 * The single-instance lock from Redis's documentation. NX makes the SET succeed for one
 * client only; PX bounds how long a crashed holder can block the others; the random token
 * lets the release check, in one Lua script, that the key is still ours before deleting
 * it, so a holder whose lease ran out cannot delete its successor's lock.
 *
 * It claims safety on a healthy server, and the scenarios show where that ends: a holder
 * that outlives its TTL shares the section with the next one (the lease expired under it),
 * and a failover to a replica that never saw the key hands the lock out twice.
 *
 * Contention is retried a few times with a randomised delay, because clients that
 * collided and retried in lock step would collide again. */
#include <stdio.h>
#include <string.h>

#include "redis_conn.h"
#include "strategy.h"

enum { P_TTL, P_RETRY_COUNT, P_RETRY_DELAY, P_RETRY_JITTER };

static const ovs_param_spec setnx_params[] = {
    [P_TTL] = { "ttl", 5000, "ms", NULL, 1, 86400000, "lease of the lock (PX of the SET)" },
    [P_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 1000000,
                        "retries after the first SET finds the lock taken" },
    [P_RETRY_DELAY] = { "retry_delay", 200, "ms", NULL, 0, 3600000,
                        "pause before each retry" },
    [P_RETRY_JITTER] = { "retry_jitter", 200, "ms", NULL, 0, 3600000,
                         "plus a uniform random extra in [0, this]" },
};

/* Bounds on talking to the one server. They are not parameters: a healthy loopback
 * server answers in microseconds, and a dead or paused one should cost a client about a
 * second, not hang it. */
#define SETNX_CONNECT_MS 1000
#define SETNX_COMMAND_MS 1000

typedef struct setnx {
    ovs_strategy base;
    ovs_redis redis;       /* env->redis[0] */
    ovs_script cad;        /* compare-and-delete, for releases */
    ovs_redis_locks locks; /* tokens of the keys held now; rng for tokens and jitter */
} setnx;

static int setnx_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

static int setnx_open(ovs_strategy *s, const ovs_env *env)
{
    setnx *x = (setnx *)s;

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "setnx needs a Redis server; the run has none");
    ovs_redis_init(&x->redis, &env->redis[0], SETNX_CONNECT_MS, SETNX_COMMAND_MS);
    x->cad.src = ovs_redis_cad_src;
    ovs_redis_locks_init(&x->locks, env->client, env->seed);
    /* Connect now so a wrong address fails the run before the start barrier; later
     * losses reconnect lazily. */
    if (ovs_redis_connect(&x->redis) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    return OVS_OK;
}

/* Compare-and-delete lock_key if it still holds token. OVS_OK deleted, OVS_BUSY it was
 * gone or someone else's, else the error code with the reason in x->redis.errstr. */
static int release(setnx *x, const char *lock_key, const char *token)
{
    const char *kv[2] = { lock_key, token };
    redisReply *reply;
    int rc = ovs_redis_eval(&x->redis, &x->cad, 1, 1, kv, &reply);

    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(&x->redis, reply, REDIS_REPLY_INTEGER, "release");
    if (rc == OVS_OK)
        rc = reply->integer == 1 ? OVS_OK : OVS_BUSY;
    freeReplyObject(reply);
    return rc;
}

static int setnx_lock(ovs_strategy *s, const char *key)
{
    setnx *x = (setnx *)s;
    const ovs_params *p = s->env->param;
    long long ttl = (long long)(p->v[P_TTL] + 0.5);
    int retries = (int)p->v[P_RETRY_COUNT];
    char lk[OVS_REDIS_KEY_MAX + 8], token[OVS_REDIS_TOKEN_MAX];
    redisReply *reply;
    int rc;

    s->attempts = 0;
    if (strlen(key) >= OVS_REDIS_KEY_MAX || ovs_redis_lock_key(lk, sizeof(lk), key) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "lock key too long: %.40s...", key);
    /* One token per call: a retry that succeeds after an earlier SET's reply was lost
     * must not mistake that SET's key for its own. */
    ovs_redis_locks_token(&x->locks, token, sizeof(token));

    for (int i = 0; i <= retries; i++) {
        if (i > 0)
            ovs_redis_backoff(&x->locks.rng, p->v[P_RETRY_DELAY], p->v[P_RETRY_JITTER]);
        s->attempts++;
        rc = ovs_redis_cmd(&x->redis, &reply, "SET %s %s NX PX %lld", lk, token, ttl);
        if (rc == OVS_ERR_IO) {
            /* The SET may have landed, in which case we hold a lock nobody will release
             * until its TTL. Try once to give it back; the answer stays "unknown". */
            char why[sizeof(s->errstr)];
            snprintf(why, sizeof(why), "%s", x->redis.errstr);
            release(x, lk, token);
            return ovs_strategy_fail(s, OVS_ERR_IO, "%s", why);
        }
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
        if (reply->type == REDIS_REPLY_NIL) {
            freeReplyObject(reply);
            continue;
        }
        rc = ovs_redis_expect(&x->redis, reply, REDIS_REPLY_STATUS, "SET NX");
        freeReplyObject(reply);
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
        if (ovs_redis_locks_add(&x->locks, key, token) != 0) {
            release(x, lk, token);
            return ovs_strategy_fail(s, OVS_ERR, "out of memory for held locks");
        }
        return OVS_OK;
    }
    return ovs_strategy_fail(s, OVS_BUSY, "%s held by another client after %u attempts", lk,
                             s->attempts);
}

static int setnx_unlock(ovs_strategy *s, const char *key)
{
    setnx *x = (setnx *)s;
    const char *held = ovs_redis_locks_find(&x->locks, key);
    char lk[OVS_REDIS_KEY_MAX + 8], token[OVS_REDIS_TOKEN_MAX];
    int rc;

    if (held == NULL)
        return ovs_strategy_fail(s, OVS_BUSY, "%s is not held by this client", key);
    snprintf(token, sizeof(token), "%s", held);
    ovs_redis_locks_remove(&x->locks, key);
    ovs_redis_lock_key(lk, sizeof(lk), key); /* fitted when the lock was taken */
    rc = release(x, lk, token);
    if (rc == OVS_BUSY)
        return ovs_strategy_fail(s, OVS_BUSY, "%s expired or was taken by another client",
                                 lk);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
    return OVS_OK;
}

static void setnx_close(ovs_strategy *s)
{
    setnx *x = (setnx *)s;

    /* Locks still held are left to their TTL: a client that closes while holding one
     * behaves like one that crashed, which is what the lease is for. */
    ovs_redis_close(&x->redis);
    ovs_redis_locks_free(&x->locks);
}

const ovs_strategy_methods ovs_strategy_setnx = {
    .version = 1,
    .name = "setnx",
    .summary = "SET lock:<key> <token> NX PX ttl on one Redis; Lua compare-and-delete release",
    .claims_safe = 1,
    .size = sizeof(setnx),
    .params = setnx_params,
    .n_params = sizeof(setnx_params) / sizeof(setnx_params[0]),
    .xNodes = setnx_nodes,
    .xOpen = setnx_open,
    .xLock = setnx_lock,
    .xUnlock = setnx_unlock,
    .xClose = setnx_close,
};
