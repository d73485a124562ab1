/* lease.c - the single-node lease behind setnx, fencing and watchdog.
 *
 * The single-instance lock from Redis's documentation. NX makes the SET succeed for one
 * client only; PX bounds how long a crashed holder can block the others; the random token
 * lets the release check, in one Lua script, that the key is still ours before deleting
 * it, so a holder whose lease ran out cannot delete its successor's lock.
 *
 * Contention is retried a few times with a randomised delay, because clients that
 * collided and retried in lock step would collide again. */
#include "lease.h"

#include <stdio.h>
#include <string.h>

/* Bound on connecting to the one server. Not a parameter: a healthy loopback server
 * accepts at once, and a dead one should cost a client about a second, not hang it. The
 * command timeout is the command_timeout parameter (lease.h). */
#define LEASE_CONNECT_MS 1000

int ovs_lease_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

int ovs_lease_open(ovs_lease *l, ovs_strategy *s, const ovs_env *env)
{
    char why[128];

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    ovs_redis_init(&l->redis, &env->redis[0], LEASE_CONNECT_MS,
                   env->param->v[OVS_LEASE_COMMAND_TIMEOUT]);
    l->cad.src = ovs_redis_cad_src;
    if (ovs_redis_locks_init(&l->locks, env->client, env->seed, why, sizeof(why)) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "%s", why);
    if (ovs_redis_connect(&l->redis) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", l->redis.errstr);
    return OVS_OK;
}

/* Compare-and-delete lock_key if it still holds token. OVS_OK deleted, OVS_BUSY it was
 * gone or someone else's, else the error code with the reason in l->redis.errstr. */
static int release(ovs_lease *l, const char *lock_key, const char *token)
{
    const char *kv[2] = { lock_key, token };
    redisReply *reply;
    int rc = ovs_redis_eval(&l->redis, &l->cad, 1, 1, kv, &reply);

    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(&l->redis, reply, REDIS_REPLY_INTEGER, "release");
    if (rc == OVS_OK)
        rc = reply->integer == 1 ? OVS_OK : OVS_BUSY;
    freeReplyObject(reply);
    return rc;
}

int ovs_lease_lock(ovs_lease *l, ovs_strategy *s, const char *key)
{
    const ovs_params *p = s->env->param;
    long long ttl = (long long)(p->v[OVS_LEASE_TTL] + 0.5);
    int retries = (int)p->v[OVS_LEASE_RETRY_COUNT];
    char lk[OVS_REDIS_KEY_MAX + 8], token[OVS_REDIS_TOKEN_MAX];
    redisReply *reply;
    int rc;

    s->attempts = 0;
    if (strlen(key) >= OVS_REDIS_KEY_MAX || ovs_redis_lock_key(lk, sizeof(lk), key) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "lock key too long: %.40s...", key);
    /* One token per call: a retry that succeeds after an earlier SET's reply was lost
     * must not mistake that SET's key for its own. */
    ovs_redis_locks_token(&l->locks, token, sizeof(token));

    for (int i = 0; i <= retries; i++) {
        if (i > 0)
            ovs_redis_backoff(&l->locks.rng, p->v[OVS_LEASE_RETRY_DELAY],
                              p->v[OVS_LEASE_RETRY_JITTER]);
        s->attempts++;
        rc = ovs_redis_cmd(&l->redis, &reply, "SET %s %s NX PX %lld", lk, token, ttl);
        if (rc == OVS_ERR_IO) {
            /* The SET may have landed, in which case we hold a lock nobody will release
             * until its TTL. Try once to give it back. Then, like a client library after a
             * failover, try again on a fresh connection while retries remain; only when
             * they run out is the answer "unknown". */
            char why[sizeof(s->errstr)];
            snprintf(why, sizeof(why), "%s", l->redis.errstr);
            release(l, lk, token);
            if (i < retries)
                continue;
            return ovs_strategy_fail(s, OVS_ERR_IO, "%s", why);
        }
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, rc, "%s", l->redis.errstr);
        if (reply->type == REDIS_REPLY_NIL) {
            freeReplyObject(reply);
            continue;
        }
        rc = ovs_redis_expect(&l->redis, reply, REDIS_REPLY_STATUS, "SET NX");
        freeReplyObject(reply);
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, rc, "%s", l->redis.errstr);
        if (ovs_redis_locks_add(&l->locks, key, token) != 0) {
            release(l, lk, token);
            return ovs_strategy_fail(s, OVS_ERR, "out of memory for held locks");
        }
        return OVS_OK;
    }
    return ovs_strategy_fail(s, OVS_BUSY, "%s held by another client after %u attempts", lk,
                             s->attempts);
}

const char *ovs_lease_token(const ovs_lease *l, const char *key)
{
    return ovs_redis_locks_find(&l->locks, key);
}

int ovs_lease_unlock(ovs_lease *l, ovs_strategy *s, const char *key)
{
    const char *held = ovs_redis_locks_find(&l->locks, key);
    char lk[OVS_REDIS_KEY_MAX + 8], token[OVS_REDIS_TOKEN_MAX];
    int rc;

    if (held == NULL)
        return ovs_strategy_fail(s, OVS_BUSY, "%s is not held by this client", key);
    snprintf(token, sizeof(token), "%s", held);
    ovs_redis_locks_remove(&l->locks, key);
    ovs_redis_lock_key(lk, sizeof(lk), key); /* fitted when the lock was taken */
    rc = release(l, lk, token);
    if (rc == OVS_BUSY)
        return ovs_strategy_fail(s, OVS_BUSY, "%s expired or was taken by another client",
                                 lk);
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, rc, "%s", l->redis.errstr);
    return OVS_OK;
}

void ovs_lease_close(ovs_lease *l)
{
    ovs_redis_close(&l->redis);
    ovs_redis_locks_free(&l->locks);
}
