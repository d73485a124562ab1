/* reentrant.c - an owner-counted reentrant lock in a Redis hash: lock:<key> {owner: count}.
 *
 * The Redisson pattern. The owner is the strategy instance, that is one client: its token
 * is drawn once, in xOpen. Acquiring creates the hash with the owner's count at 1 and a
 * PX ttl when nobody holds the key, and adds one to the count when the owner already
 * does; anyone else is refused. Releasing takes one off and deletes the key when the
 * count reaches zero, so a holder that locked a key n times frees it on its n-th unlock,
 * and a caller that is not the owner (its lease expired and someone else took the key) is
 * refused and changes nothing. Every acquire and every partial release sets the TTL to
 * the full ttl again, so the lease covers the whole nest while its holder lives.
 *
 * Both scripts are told the count the caller believes it holds, and act only when the
 * hash agrees, the way lease.c makes one call's attempts recognise each other:
 *   - an acquire whose reply was lost, retried, finds the count one above what the caller
 *     holds and takes it as its own instead of counting it twice (a count one too high
 *     would keep the key locked until its TTL after the last unlock);
 *   - a re-entry that finds the owner's entry gone, or a count it cannot account for, was
 *     let down by its lease inside the nest: the outer sections ran unprotected, and the
 *     re-entry says so (OVS_BUSY, the key forgotten) rather than quietly starting a new
 *     nest;
 *   - the give-back of an acquire of unknown outcome takes one off only if that acquire
 *     happened.
 *
 * It claims safety on a healthy server, with setnx's limits: a holder that outlives its
 * TTL shares the section with the next holder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locks/lease.h"
#include "locks/redis_conn.h"
#include "locks/strategy.h"

static const ovs_param_spec reentrant_params[] = {
    OVS_LEASE_PARAM_SPECS(5000, "lease of the lock, set again on every re-entry"),
};

/* KEYS[1] the hash, ARGV[1] the owner, ARGV[2] the ttl in ms, ARGV[3] the count the owner
 * holds as far as it knows. Answers the owner's count now (>= 1), 0 when another owner
 * holds the key, -1 when the owner holds ARGV[3] > 0 but the hash has neither that count
 * nor the one above it (the lease expired inside the nest). Holding nothing, an owner that
 * finds an entry of its own (an earlier attempt of this call took it, its reply lost; or a
 * release of unknown outcome left it) starts from it afresh at 1. */
static const char acquire_src[] =
    "local n = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0') "
    "local held = tonumber(ARGV[3]) "
    "if held == 0 and n == 0 and redis.call('exists', KEYS[1]) == 1 then return 0 end "
    "if held > 0 and n ~= held and n ~= held + 1 then return -1 end "
    "if held == 0 or n == held then n = held + 1 end "
    "redis.call('hset', KEYS[1], ARGV[1], n) "
    "redis.call('pexpire', KEYS[1], ARGV[2]) "
    "return n";

/* KEYS[1], ARGV[1] the owner, ARGV[2] the ttl in ms, ARGV[3] the count the owner holds.
 * Answers the count left (0: the key was deleted), or -1 without changing anything when
 * the hash does not hold exactly that count for the owner (expired, or another's). */
static const char release_src[] =
    "local n = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0') "
    "if n == 0 or n ~= tonumber(ARGV[3]) then return -1 end "
    "if n == 1 then redis.call('del', KEYS[1]) return 0 end "
    "redis.call('hset', KEYS[1], ARGV[1], n - 1) "
    "redis.call('pexpire', KEYS[1], ARGV[2]) "
    "return n - 1";

/* Bound on connecting, as lease.c's; the command timeout is a parameter. */
#define REENTRANT_CONNECT_MS 1000

/* One key this instance holds, and how many times. */
typedef struct nest {
    char key[OVS_KEY_MAX]; /* the harness's name: "sku:1" */
    int count;             /* xLock calls not yet matched by an xUnlock, >= 1 */
} nest;

typedef struct reentrant {
    ovs_strategy base;
    ovs_redis redis;                 /* env->redis[0] */
    ovs_script acquire, release;
    ovs_redis_locks tokens;          /* the owner token's source; rng for retry jitter */
    char owner[OVS_REDIS_TOKEN_MAX]; /* this instance's token, the hash's field */
    char ttl[24];                    /* the ttl in ms, as ARGV[2] */
    nest *held;                      /* n of cap in use */
    int n, cap;
} reentrant;

static int reentrant_open(ovs_strategy *s, const ovs_env *env)
{
    reentrant *x = (reentrant *)s;
    const double *v = env->param->v;
    char why[128];

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "reentrant needs a Redis server; the run has none");
    ovs_redis_init(&x->redis, &env->redis[0], REENTRANT_CONNECT_MS,
                   v[OVS_LEASE_COMMAND_TIMEOUT]);
    x->acquire.src = acquire_src;
    x->release.src = release_src;
    snprintf(x->ttl, sizeof(x->ttl), "%lld", (long long)(v[OVS_LEASE_TTL] + 0.5));
    if (ovs_redis_locks_init(&x->tokens, env->client, env->seed, why, sizeof(why)) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "%s", why);
    ovs_redis_locks_token(&x->tokens, x->owner, sizeof(x->owner));
    /* Both scripts now, so that a server that cannot run them fails before the start. */
    if (ovs_redis_connect(&x->redis) != OVS_OK ||
        ovs_redis_script_load(&x->redis, &x->acquire) != OVS_OK ||
        ovs_redis_script_load(&x->redis, &x->release) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    return OVS_OK;
}

static nest *find(reentrant *x, const char *key)
{
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->held[i].key, key) == 0)
            return &x->held[i];
    return NULL;
}

static void forget(reentrant *x, const char *key)
{
    nest *h = find(x, key);

    if (h != NULL)
        *h = x->held[--x->n];
}

/* Set key's count, adding it when new. 0, or -1 out of memory. */
static int remember(reentrant *x, const char *key, int count)
{
    nest *h = find(x, key);

    if (h == NULL) {
        if (x->n == x->cap) {
            int cap = x->cap ? 2 * x->cap : 8;
            nest *more = realloc(x->held, (size_t)cap * sizeof(*more));
            if (more == NULL)
                return -1;
            x->held = more;
            x->cap = cap;
        }
        h = &x->held[x->n++];
        snprintf(h->key, sizeof(h->key), "%s", key); /* fits: checked by the caller */
    }
    h->count = count;
    return 0;
}

/* Run script sc on lock key lk with the count the owner holds, into *answer. OVS_OK, or
 * the code of ovs_redis_eval (x->redis.errstr says why). */
static int run(reentrant *x, ovs_script *sc, const char *lk, int count, long long *answer)
{
    char held[16];
    const char *kv[4] = { lk, x->owner, x->ttl, held };
    redisReply *reply;
    int rc;

    snprintf(held, sizeof(held), "%d", count);
    rc = ovs_redis_eval(&x->redis, sc, 1, 3, kv, &reply);
    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(&x->redis, reply, REDIS_REPLY_INTEGER, sc == &x->acquire
                                                                    ? "acquire"
                                                                    : "release");
    if (rc == OVS_OK)
        *answer = reply->integer;
    freeReplyObject(reply);
    return rc;
}

static int reentrant_lock(ovs_strategy *s, const char *key)
{
    reentrant *x = (reentrant *)s;
    const double *v = s->env->param->v;
    int retries = (int)v[OVS_LEASE_RETRY_COUNT];
    char lk[OVS_REDIS_LOCK_KEY_MAX];
    char lost[sizeof(s->errstr)] = ""; /* why the last attempt's outcome is unknown */
    const nest *h;
    int held, unknown = 0;
    long long got;
    int rc;

    s->attempts = 0;
    if (strlen(key) >= OVS_KEY_MAX || ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "lock key too long: %.40s...", key);
    h = find(x, key);
    held = h ? h->count : 0;
    for (int i = 0; i <= retries; i++) {
        if (i > 0)
            ovs_redis_backoff(&x->tokens.rng, v[OVS_LEASE_RETRY_DELAY],
                              v[OVS_LEASE_RETRY_JITTER]);
        s->attempts++;
        got = 0;
        rc = run(x, &x->acquire, lk, held, &got);
        if (rc == OVS_ERR_IO) {
            /* It may have run: the next attempt, told the same count, recognises it. */
            unknown = 1;
            snprintf(lost, sizeof(lost), "%s", x->redis.errstr);
            continue;
        }
        lost[0] = '\0';
        if (rc != OVS_OK)
            return ovs_strategy_fail(s, unknown ? OVS_ERR_IO : rc, "%.90s%s",
                                     x->redis.errstr,
                                     unknown ? "; an earlier attempt is unknown" : "");
        if (got == 0)
            continue;
        if (got < 0 || got != held + 1) {
            forget(x, key);
            return ovs_strategy_fail(s, OVS_BUSY, "%s: this client's hold (count %d) expired "
                                     "inside its nest", lk, held);
        }
        if (remember(x, key, (int)got) != 0) {
            long long left;
            run(x, &x->release, lk, (int)got, &left);
            return ovs_strategy_fail(s, OVS_ERR, "out of memory for held locks");
        }
        return OVS_OK;
    }
    if (lost[0] != '\0') {
        /* The last attempt may have counted one more hold: take it off if it did, so the
         * key is not kept from others until its TTL. Still unknown: the give-back's own
         * reply may be lost. */
        long long left;
        run(x, &x->release, lk, held + 1, &left);
        return ovs_strategy_fail(s, OVS_ERR_IO, "%s", lost);
    }
    return ovs_strategy_fail(s, OVS_BUSY, "%s held by another client after %u attempts", lk,
                             s->attempts);
}

static int reentrant_unlock(ovs_strategy *s, const char *key)
{
    reentrant *x = (reentrant *)s;
    const nest *h = find(x, key);
    char lk[OVS_REDIS_LOCK_KEY_MAX];
    long long left = -1;
    int rc;

    if (h == NULL)
        return ovs_strategy_fail(s, OVS_BUSY, "%s is not held by this client", key);
    ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key); /* fitted when the lock was taken */
    rc = run(x, &x->release, lk, h->count, &left);
    if (rc == OVS_ERR) /* never ran: the nest stands as it was */
        return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
    if (rc != OVS_OK) {
        /* Unknown: forget the nest. The key is left to its TTL, or to this client's next
         * acquire, which finds its own entry and starts afresh. */
        forget(x, key);
        return ovs_strategy_fail(s, rc, "%s", x->redis.errstr);
    }
    if (left < 0) {
        forget(x, key);
        return ovs_strategy_fail(s, OVS_BUSY, "%s expired or was taken by another client", lk);
    }
    if (left == 0)
        forget(x, key);
    else
        remember(x, key, (int)left); /* present already: no allocation */
    return OVS_OK;
}

static void reentrant_close(ovs_strategy *s)
{
    reentrant *x = (reentrant *)s;

    ovs_redis_close(&x->redis);
    ovs_redis_locks_free(&x->tokens);
    free(x->held);
    x->held = NULL;
    x->n = x->cap = 0;
}

const ovs_strategy_methods ovs_strategy_reentrant = {
    .version = 3,
    .name = "reentrant",
    .summary = "owner-counted lock in a Redis hash, re-entered by its holder, freed at count 0",
    .claims_safe = 1,
    .size = sizeof(reentrant),
    .params = reentrant_params,
    .n_params = sizeof(reentrant_params) / sizeof(reentrant_params[0]),
    .xNodes = ovs_lease_nodes,
    .xOpen = reentrant_open,
    .xLock = reentrant_lock,
    .xUnlock = reentrant_unlock,
    .xClose = reentrant_close,
};
