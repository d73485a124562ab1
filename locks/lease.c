/* lease.c - the single-node lease behind setnx, fencing and watchdog.
 *
 * The single-instance lock from Redis's documentation. NX makes the SET succeed for one
 * client only; PX bounds how long a crashed holder can block the others; the random token
 * lets the release check, in one Lua script, that the key is still ours before deleting
 * it, so a holder whose lease ran out cannot delete its successor's lock.
 *
 * The SET NX PX runs inside a script (ovs_redis_acquire_src) that first looks whether the
 * key already holds our token. Every attempt of one xLock call uses the same token, so an
 * attempt whose reply was lost, and which may have taken the lock, is recognised by the
 * next: it renews the TTL and holds the lock at once. A plain SET NX on retry would find
 * the lock taken by its own ghost and give up, while the ghost blocked everyone until its
 * TTL; a give-back in between does not save it, since the give-back's reply can be lost
 * just the same.
 *
 * Contention is retried a few times with a randomised delay, because clients that
 * collided and retried in lock step would collide again. */
#include "locks/lease.h"

#include <stdio.h>
#include <string.h>

/* ovs_redis_acquire_src with the fencing token issued in the same step, KEYS[2] being the
 * key's fence counter: a fresh lease INCRs it and returns the new value, so no holder can
 * be stalled between its lease and its token, to get a token above its successor's. A
 * key that already holds our token (an earlier attempt of this call took it, its reply
 * lost) is renewed and answers the counter as it stands: only a fresh NX acquire INCRs,
 * and nobody else can take the lock while it holds our token, so the counter is still the
 * token issued with it. 0: another holder's. A counter that gives no positive number
 * (changed behind our back) can issue no token: the lease just taken or renewed is
 * deleted, and the call fails with nothing held. */
static const char acquire_fenced_src[] =
    "local n "
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "n = tonumber(redis.call('get', KEYS[2])) "
    "redis.call('pexpire', KEYS[1], ARGV[2]) "
    "elseif redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "n = redis.pcall('incr', KEYS[2]) "
    "else return 0 end "
    "if type(n) == 'number' and n > 0 then return n end "
    "redis.call('del', KEYS[1]) "
    "return redis.error_reply('fence counter ' .. KEYS[2] .. ' gives no token')";

/* Bound on connecting to the one server. Not a parameter: a healthy loopback server
 * accepts at once, and a dead one should cost a client about a second, not hang it. The
 * command timeout is the command_timeout parameter (lease.h). */
#define LEASE_CONNECT_MS 1000

int ovs_lease_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

/* Set l up with conf, fenced or not, and connect. */
static int lease_open(ovs_lease *l, ovs_strategy *s, const ovs_env *env,
                      const ovs_lease_conf *conf, int fenced)
{
    char why[128];

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    l->conf = *conf;
    ovs_redis_init(&l->redis, &env->redis[0], LEASE_CONNECT_MS, conf->command_timeout_ms);
    l->acquire.src = conf->acquire_src ? conf->acquire_src
                     : fenced          ? acquire_fenced_src
                                       : ovs_redis_acquire_src;
    l->fenced = fenced;
    l->cad.src = conf->release_src ? conf->release_src : ovs_redis_cad_src;
    if (ovs_redis_locks_init(&l->locks, env->client, env->seed, why, sizeof(why)) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "%s", why);
    /* Load both scripts now, so that an acquire is one round trip from the first, and a
     * server that cannot run them fails the run before the start barrier. */
    if (ovs_redis_connect(&l->redis) != OVS_OK ||
        ovs_redis_script_load(&l->redis, &l->acquire) != OVS_OK ||
        ovs_redis_script_load(&l->redis, &l->cad) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", l->redis.errstr);
    return OVS_OK;
}

int ovs_lease_open(ovs_lease *l, ovs_strategy *s, const ovs_env *env, int fenced)
{
    const double *v = env->param->v;
    ovs_lease_conf conf = {
        .ttl_ms = v[OVS_LEASE_TTL],
        .retry_count = v[OVS_LEASE_RETRY_COUNT],
        .retry_delay_ms = v[OVS_LEASE_RETRY_DELAY],
        .retry_jitter_ms = v[OVS_LEASE_RETRY_JITTER],
        .command_timeout_ms = v[OVS_LEASE_COMMAND_TIMEOUT],
    };
    return lease_open(l, s, env, &conf, fenced);
}

int ovs_lease_open_conf(ovs_lease *l, ovs_strategy *s, const ovs_env *env,
                        const ovs_lease_conf *conf)
{
    return lease_open(l, s, env, conf, 0);
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

/* WAIT until conf.wait_replicas replicas have everything this connection wrote, the
 * lock just taken included: the mitigation Redis's documentation offers for a failover
 * to a replica that never heard of a write. A lock fewer replicas acknowledge within the
 * timeout (or whose WAIT got no answer) is given back, so it is never used unreplicated:
 * OVS_OK when enough did, else OVS_BUSY with why. WAIT makes no write durable (a replica
 * that acknowledged may still not be the one promoted), so scenarios measure it. */
static int replicated(ovs_lease *l, const char *lk, const char *token, char *why,
                      size_t len)
{
    const ovs_lease_conf *c = &l->conf;
    redisReply *reply;
    long long want = (long long)c->wait_replicas, got = -1;
    int rc = ovs_redis_cmd(&l->redis, &reply, "WAIT %lld %lld", want,
                           (long long)(c->wait_timeout_ms + 0.5));

    if (rc == OVS_OK) {
        if (reply->type == REDIS_REPLY_INTEGER)
            got = reply->integer;
        freeReplyObject(reply);
    }
    if (got >= want)
        return OVS_OK;
    if (got >= 0)
        ovs_seterr(why, len, "%s: WAIT: %lld of %lld replicas acknowledged within %.0f ms; "
                   "given back", lk, got, want, c->wait_timeout_ms);
    else
        ovs_seterr(why, len, "%s: WAIT: %.90s; given back", lk, l->redis.errstr);
    release(l, lk, token);
    return OVS_BUSY;
}

int ovs_lease_lock(ovs_lease *l, ovs_strategy *s, const char *key)
{
    const ovs_lease_conf *c = &l->conf;
    int retries = (int)c->retry_count;
    char lk[OVS_REDIS_LOCK_KEY_MAX], fk[OVS_REDIS_LOCK_KEY_MAX];
    char token[OVS_REDIS_TOKEN_MAX], ttl[24];
    char lost[sizeof(s->errstr)] = ""; /* why the last attempt's outcome is unknown */
    char unreplicated[sizeof(s->errstr)] = ""; /* why the last lock taken was given back */
    char refused[sizeof(s->errstr)] = ""; /* the master's refusal of the last attempt */
    const char *kv[4] = { lk, token, ttl, NULL };
    int nkeys = 1;
    int unknown = 0;                   /* some attempt's outcome was unknown */
    redisReply *reply;
    long long got;
    int rc;

    s->attempts = 0;
    if (strlen(key) >= OVS_KEY_MAX || ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "lock key too long: %.40s...", key);
    if (l->fenced) {
        snprintf(fk, sizeof(fk), "%sfence:%s", OVS_KEY_PREFIX(s->env), key); /* as long as lk */
        kv[1] = fk;
        kv[2] = token;
        kv[3] = ttl;
        nkeys = 2;
    }
    ovs_redis_locks_token(&l->locks, token, sizeof(token));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(c->ttl_ms + 0.5));

    for (int i = 0; i <= retries; i++) {
        if (i > 0)
            ovs_redis_backoff(&l->locks.rng, c->retry_delay_ms, c->retry_jitter_ms);
        s->attempts++;
        rc = ovs_redis_eval(&l->redis, &l->acquire, nkeys, 2, kv, &reply);
        if (rc == OVS_ERR_IO) {
            /* The script may have run. Like a client library after a failover, try again
             * on a fresh connection while retries remain: the same token finds the lock
             * ours if it did. */
            unknown = 1;
            snprintf(lost, sizeof(lost), "%s", l->redis.errstr);
            continue;
        }
        lost[0] = '\0';
        got = 0;
        if (rc == OVS_ERR && ovs_redis_refused(&l->redis)) {
            /* The master refused the write (NOREPLICAS): the lock was not taken, as when
             * another client holds it, and may be once the replicas are back. */
            snprintf(refused, sizeof(refused), "%s", l->redis.errstr);
            continue;
        }
        refused[0] = '\0';
        if (rc == OVS_OK) {
            rc = ovs_redis_expect(&l->redis, reply, REDIS_REPLY_INTEGER, "acquire");
            if (rc == OVS_OK)
                got = reply->integer;
            freeReplyObject(reply);
        }
        /* Refused, or never sent: this attempt did nothing, but an earlier one may have. */
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, unknown ? OVS_ERR_IO : rc, "%.90s%s",
                                     l->redis.errstr,
                                     unknown ? "; an earlier attempt is unknown" : "");
        if (got == 0)
            continue;
        if (c->wait_replicas > 0 && replicated(l, lk, token, unreplicated,
                                               sizeof(unreplicated)) != OVS_OK)
            continue;
        unreplicated[0] = '\0';
        if (ovs_redis_locks_add(&l->locks, key, token, l->fenced ? got : -1) != 0) {
            release(l, lk, token);
            return ovs_strategy_fail(s, OVS_ERR, "out of memory for held locks");
        }
        return OVS_OK;
    }
    if (lost[0] != '\0') {
        /* Out of retries with the last outcome unknown: the lock may be ours. Give it back
         * if the server answers now, so that nobody waits out the TTL for it. The answer
         * stays "unknown": the give-back's own reply may be lost. */
        release(l, lk, token);
        return ovs_strategy_fail(s, OVS_ERR_IO, "%s", lost);
    }
    if (refused[0] != '\0' && unknown) {
        /* Refused last, but an earlier attempt's reply was lost: that one may hold the
         * lock. Give it back if it does (a master refusing writes refuses this too, and
         * the lock then lapses at its TTL); the answer stays "unknown". */
        release(l, lk, token);
        return ovs_strategy_fail(s, OVS_ERR_IO, "%.90s; an earlier attempt is unknown",
                                 refused);
    }
    if (refused[0] != '\0')
        return ovs_strategy_fail(s, OVS_BUSY, "%s (lock not taken after %u attempts)", refused,
                                 s->attempts);
    if (unreplicated[0] != '\0')
        return ovs_strategy_fail(s, OVS_BUSY, "%s", unreplicated);
    return ovs_strategy_fail(s, OVS_BUSY, "%s held by another client after %u attempts", lk,
                             s->attempts);
}

const char *ovs_lease_token(const ovs_lease *l, const char *key)
{
    return ovs_redis_locks_find(&l->locks, key);
}

int64_t ovs_lease_fence(const ovs_lease *l, const char *key)
{
    return ovs_redis_locks_fence(&l->locks, key);
}

int ovs_lease_unlock(ovs_lease *l, ovs_strategy *s, const char *key)
{
    const char *held = ovs_redis_locks_find(&l->locks, key);
    char lk[OVS_REDIS_LOCK_KEY_MAX], token[OVS_REDIS_TOKEN_MAX];
    int rc;

    if (held == NULL)
        return ovs_strategy_fail(s, OVS_BUSY, "%s is not held by this client", key);
    snprintf(token, sizeof(token), "%s", held);
    ovs_redis_locks_remove(&l->locks, key);
    ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key); /* fitted when the lock was taken */
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
