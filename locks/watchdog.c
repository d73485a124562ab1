/* watchdog.c - setnx whose holder renews the lease every ttl/3 while it lives.
 *
 * The Redisson pattern: take a long lease (30 s by default) and let a background thread
 * of the holder push its expiry back every ttl/3 for as long as the holder keeps the
 * lock. A holder that crashes stops renewing and its lease runs out as setnx's would; a
 * holder whose worker merely stalls (`pause = thread`) keeps the lock, because its
 * watchdog still runs - the TTL-expiry scenario that breaks setnx does not break this.
 *
 * What does break it is a stop of the whole client (`pause = process`, a GC pause): the
 * watchdog stops too, the lease expires, a second client takes the lock, and the first
 * wakes up believing it still holds it. The runner signals such a stop with env->frozen;
 * while it is set the watchdog does nothing, exactly as a frozen runtime would. A crash
 * (env->crash) is a freeze that never ends.
 *
 * Threads: each instance has one renewer thread, started in xOpen and joined in xClose.
 * It has its own Redis connection, because hiredis contexts are not thread-safe; the
 * client's thread keeps the lease's connection. One mutex guards what they share (the
 * keys to renew, the schedule, the stop flag, the lost count) and is never held across a
 * Redis command, so a paused server never blocks the client's thread on the watchdog. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "locks/lease.h"
#include "locks/strategy.h"

static const ovs_param_spec watchdog_params[] = {
    OVS_LEASE_PARAM_SPECS(30000, "lease of the lock, renewed every ttl/3 while held"),
};

/* Extend KEYS[1] to ARGV[2] ms only while its value is our token ARGV[1]: a renewal must
 * never extend a lease that expired and went to someone else. 1 renewed, 0 not ours. */
static const char renew_src[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end";

/* Bound on the renewer's own connect, as the lease's (lease.c); its commands wait
 * command_timeout, as the lease's do. */
#define WATCHDOG_CONNECT_MS 1000
/* How often a frozen watchdog looks whether it may go on. The runner sets and clears the
 * flag without signalling us; a millisecond is far below any TTL worth testing. */
#define WATCHDOG_FROZEN_POLL_NS (1 * OVS_NS_PER_MS)

typedef struct watchdog {
    ovs_strategy base;
    ovs_lease lease;        /* the client thread's connection and tokens */
    ovs_redis renew_conn;   /* the renewer thread's own connection */
    ovs_script renew;       /* compare-and-pexpire; written only by the renewer */
    int64_t period_ns;      /* ttl/3 */
    char ttl_arg[24];       /* the ttl in ms, as the script's ARGV[2] */
    int sync_ready;         /* mu and cv were initialised (xClose must know) */
    int started;            /* the thread was created and must be joined */
    pthread_t thread;

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* on CLOCK_MONOTONIC; signalled on a new key and on stop */
    ovs_redis_locks held;   /* keys to renew (harness names) with their tokens; zeroed is
                               empty, its rng is unused */
    int64_t due;            /* when the next renewal round is due, while held is not
                               empty */
    atomic_int stop;        /* xClose asks the thread to exit. Set under mu, so the
                               thread cannot miss the signal between its test and its
                               wait; also read without mu between renewals, so a round
                               against a dead server ends early */
    long long lost;         /* renewals that found the lease gone (expired or taken) */
} watchdog;

/* One key the renewer is about to extend, copied so the I/O runs without the mutex. */
typedef struct renewal {
    ovs_redis_held h;
    int rc;
} renewal;

/* A frozen client's watchdog waits; a crashed one's is frozen for good (env->crash): the
 * lease it held lapses at its TTL, as a dead holder's does. */
static int frozen(const watchdog *x)
{
    atomic_int *f = x->base.env->frozen;

    /* The runner stores the flag before it sleeps and clears it after; any order is
     * enough, since the flag carries no other data with it. */
    return (f != NULL && atomic_load(f) != 0) || ovs_crashed(x->base.env->crash) != 0;
}

/* Caller holds mu. Wait on cv until the absolute monotonic time t or a signal. */
static void wait_until(watchdog *x, int64_t t)
{
    struct timespec ts = { .tv_sec = (time_t)(t / OVS_NS_PER_S),
                           .tv_nsec = (long)(t % OVS_NS_PER_S) };
    int rc = pthread_cond_timedwait(&x->cv, &x->mu, &ts);

    (void)rc; /* ETIMEDOUT and a wake-up are handled alike: the loop looks again */
}

/* Compare-and-pexpire one lease on the renewer's connection. OVS_OK renewed, OVS_BUSY
 * the lease is no longer ours, else an error (tried again next round). */
static int renew_one(watchdog *x, const ovs_redis_held *h)
{
    char lk[OVS_REDIS_LOCK_KEY_MAX];
    const char *kv[3] = { lk, h->token, x->ttl_arg };
    redisReply *reply;
    int rc;

    ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(x->base.env), h->key); /* fitted when the lock was taken */
    rc = ovs_redis_eval(&x->renew_conn, &x->renew, 1, 2, kv, &reply);
    if (rc != OVS_OK)
        return rc;
    rc = ovs_redis_expect(&x->renew_conn, reply, REDIS_REPLY_INTEGER, "renew");
    if (rc == OVS_OK && reply->integer != 1)
        rc = OVS_BUSY;
    freeReplyObject(reply);
    return rc;
}

/* Caller holds mu; it is dropped while the renewals run and held again on return. Renews
 * every key held at the start of the round. A key unlocked meanwhile may be renewed once
 * more before its release deletes it, which is harmless; its answer is ignored, since only
 * a lease the client still believes it holds can be lost. Returns 1 when a freeze stopped
 * the round before its end, so that it is taken up again as soon as the client thaws. */
static int renew_round(watchdog *x)
{
    int n = x->held.n, cut = 0;
    renewal *r = malloc((size_t)n * sizeof(*r));

    if (r == NULL)
        return 0; /* the next round tries again */
    for (int i = 0; i < n; i++) {
        r[i].h = x->held.held[i];
        r[i].rc = OVS_ERR;
    }
    pthread_mutex_unlock(&x->mu);
    for (int i = 0; i < n && !atomic_load(&x->stop); i++) {
        cut |= frozen(x);
        r[i].rc = cut ? OVS_ERR : renew_one(x, &r[i].h);
    }
    pthread_mutex_lock(&x->mu);
    for (int i = 0; i < n; i++) {
        const char *token = ovs_redis_locks_find(&x->held, r[i].h.key);
        if (r[i].rc != OVS_BUSY || token == NULL || strcmp(token, r[i].h.token) != 0)
            continue;
        /* Gone under us: count it and stop renewing it. The client learns it at
         * xUnlock, whose compare-and-delete finds the key not ours. */
        x->lost++;
        ovs_redis_locks_remove(&x->held, r[i].h.key);
    }
    free(r);
    return cut;
}

static void *renewer(void *arg)
{
    watchdog *x = arg;

    pthread_mutex_lock(&x->mu);
    while (!atomic_load(&x->stop)) {
        int64_t now = ovs_now_ns();
        if (x->held.n == 0)
            pthread_cond_wait(&x->cv, &x->mu);
        else if (now < x->due)
            wait_until(x, x->due);
        else if (frozen(x))
            wait_until(x, now + WATCHDOG_FROZEN_POLL_NS);
        else if (renew_round(x))
            x->due = ovs_now_ns(); /* frozen midway: finish as soon as it thaws */
        else
            x->due = ovs_now_ns() + x->period_ns;
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static int watchdog_open(ovs_strategy *s, const ovs_env *env)
{
    watchdog *x = (watchdog *)s;
    double ttl = env->param->v[OVS_LEASE_TTL];
    pthread_condattr_t ca;
    int rc;

    if (ovs_lease_open(&x->lease, s, env, 0) != OVS_OK)
        return s->err;
    ovs_redis_init(&x->renew_conn, &env->redis[0], WATCHDOG_CONNECT_MS,
                   env->param->v[OVS_LEASE_COMMAND_TIMEOUT]);
    x->renew.src = renew_src;
    x->period_ns = (int64_t)(ttl * (double)OVS_NS_PER_MS / 3.0);
    snprintf(x->ttl_arg, sizeof(x->ttl_arg), "%lld", (long long)(ttl + 0.5));

    if (pthread_condattr_init(&ca) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "watchdog: cannot set up a condition variable");
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&x->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return ovs_strategy_fail(s, OVS_ERR, "watchdog: cannot set up a condition variable");
    if (pthread_mutex_init(&x->mu, NULL) != 0) {
        pthread_cond_destroy(&x->cv);
        return ovs_strategy_fail(s, OVS_ERR, "watchdog: cannot set up a mutex");
    }
    atomic_init(&x->stop, 0);
    x->sync_ready = 1;
    rc = pthread_create(&x->thread, NULL, renewer, x);
    if (rc != 0)
        return ovs_strategy_fail(s, OVS_ERR, "watchdog: cannot start its thread: %s",
                                 strerror(rc));
    x->started = 1;
    return OVS_OK;
}

static int watchdog_lock(ovs_strategy *s, const char *key)
{
    watchdog *x = (watchdog *)s;
    int rc = ovs_lease_lock(&x->lease, s, key);

    if (rc != OVS_OK)
        return rc;
    pthread_mutex_lock(&x->mu);
    if (x->held.n == 0)
        x->due = ovs_now_ns() + x->period_ns; /* the thread was idle: start its clock */
    if (ovs_redis_locks_add(&x->held, key, ovs_lease_token(&x->lease, key), -1) != 0)
        rc = OVS_ERR;
    else
        pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    if (rc != OVS_OK) {
        ovs_lease_unlock(&x->lease, s, key);
        return ovs_strategy_fail(s, OVS_ERR, "out of memory for the watchdog's keys");
    }
    return OVS_OK;
}

static int watchdog_unlock(ovs_strategy *s, const char *key)
{
    watchdog *x = (watchdog *)s;
    long long lost;
    int rc;

    /* Stop renewing first, so no renewal is sent after the release. */
    pthread_mutex_lock(&x->mu);
    ovs_redis_locks_remove(&x->held, key);
    lost = x->lost;
    pthread_mutex_unlock(&x->mu);
    rc = ovs_lease_unlock(&x->lease, s, key);
    if (rc == OVS_BUSY && lost > 0) {
        char why[sizeof(s->errstr)];
        snprintf(why, sizeof(why), "%s", s->errstr);
        ovs_strategy_fail(s, OVS_BUSY, "%.80s (the watchdog has found %lld lease(s) gone)",
                          why, lost);
    }
    return rc;
}

static void watchdog_close(ovs_strategy *s)
{
    watchdog *x = (watchdog *)s;

    if (x->sync_ready) {
        pthread_mutex_lock(&x->mu);
        atomic_store(&x->stop, 1);
        pthread_cond_signal(&x->cv);
        pthread_mutex_unlock(&x->mu);
    }
    if (x->started)
        pthread_join(x->thread, NULL);
    if (x->sync_ready) {
        pthread_cond_destroy(&x->cv);
        pthread_mutex_destroy(&x->mu);
    }
    /* Held keys are left to their TTL, no longer renewed: a crashed client's fate. */
    ovs_redis_locks_free(&x->held);
    ovs_redis_close(&x->renew_conn);
    ovs_lease_close(&x->lease);
}

const ovs_strategy_methods ovs_strategy_watchdog = {
    .version = 3,
    .name = "watchdog",
    .summary = "setnx whose holder renews the lease every ttl/3 while alive (Redisson)",
    .claims_safe = 1,
    .size = sizeof(watchdog),
    .params = watchdog_params,
    .n_params = sizeof(watchdog_params) / sizeof(watchdog_params[0]),
    .xNodes = ovs_lease_nodes,
    .xOpen = watchdog_open,
    .xLock = watchdog_lock,
    .xUnlock = watchdog_unlock,
    .xClose = watchdog_close,
};
