/* redlock.c - the Redlock algorithm over N independent Redis masters.
 *
 * As Redis's documentation describes it: take one random token, SET it NX PX ttl on every
 * node at once, each with a timeout far below the TTL so a dead node costs little; then
 * the lock is held when a majority said yes and time is left on the lease once the time
 * spent and a clock drift allowance are taken off (redlock_math.c). Otherwise release on
 * every node - the ones that timed out too, since their SET may have landed - and retry
 * after a randomised delay.
 *
 * Each attempt has its own token, under a prefix that is one for the whole xLock call,
 * and the SET NX PX runs in the script that first looks for that prefix
 * (ovs_redis_acquire_src): a node whose reply was lost, and whose release after the failed
 * attempt was lost too, still holds the lock for us, and the retry finds it ours and takes
 * it over with the new attempt's token, instead of counting it as held by another until
 * its TTL. Since the key then carries the newest token, a release of the failed attempt
 * that reaches the node late (delayed in the network, or queued in a node paused with
 * SIGSTOP, which serves its sockets in arrival order) compares unequal and deletes
 * nothing: one token for every attempt would let it delete the lock the retry holds.
 *
 * "At once" is the multiplexing the description asks for: the command goes out to every
 * node before any reply is read (redis_conn's send/recv), so an attempt costs about one
 * round trip, not one per node. Sent one node after another, an attempt leaves the lock
 * partly held for several round trips, and under contention clients split the nodes
 * between them, none reaches a majority, and all release and retry. Releases go out the
 * same way.
 *
 * It claims safety, and survives one paused or killed node. The scenarios show where the
 * claim ends: a holder that outlives its lease (nothing fences its writes), and a node that
 * restarts without persistence, forgetting a key it granted, so that a second client can
 * build another majority with it.
 *
 * A node whose command fails or times out counts as a "no" and its connection is dropped;
 * the next command to it reconnects. Every round (an attempt, a release) is bounded by one
 * deadline, node_timeout after it began, over all nodes at once: its reconnects and its
 * reads alike (round_all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locks/redis_conn.h"
#include "locks/redlock_math.h"
#include "locks/strategy.h"
#include "core/trace.h"

enum {
    P_NODES,
    P_TTL,
    P_DRIFT_FACTOR,
    P_RETRY_COUNT,
    P_RETRY_DELAY,
    P_RETRY_JITTER,
    P_NODE_TIMEOUT,
};

static const ovs_param_spec redlock_params[] = {
    [P_NODES] = { "nodes", 5, "count", NULL, 1, OVS_MAX_NODES,
                  "independent Redis masters" },
    [P_TTL] = { "ttl", 5000, "ms", NULL, 1, 86400000, "lease of the lock on each node" },
    [P_DRIFT_FACTOR] = { "drift_factor", 0.01, "ratio", NULL, 0, 0.5,
                         "clock drift allowance as a fraction of ttl (plus 2 ms)" },
    [P_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 1000000,
                        "retries after an attempt without a valid majority" },
    [P_RETRY_DELAY] = { "retry_delay", 200, "ms", NULL, 0, 3600000,
                        "pause before each retry" },
    [P_RETRY_JITTER] = { "retry_jitter", 200, "ms", NULL, 0, 3600000,
                         "plus a uniform random extra in [0, this]" },
    [P_NODE_TIMEOUT] = { "node_timeout", 50, "ms", NULL, 1, 60000,
                         "connect and command timeout per node, far below ttl" },
};

typedef struct redlock {
    ovs_strategy base;
    int n;                 /* nodes in use: the nodes parameter */
    ovs_redis *node;       /* n connections, env->redis[0..n-1] */
    ovs_script acquire;    /* SET NX PX, or renew a key that holds our token already */
    ovs_script cad;        /* compare-and-delete; each SHA1 is the same on every node, and
                              a node that has not loaded a script answers NOSCRIPT once */
    ovs_redis_locks locks; /* tokens of the keys held now; rng for retry jitter */
    char prefix[OVS_REDIS_TOKEN_MAX]; /* the xLock call in progress: every attempt's token
                                         is this plus "a<attempt>" */
} redlock;

static int redlock_nodes(const ovs_params *p)
{
    return (int)p->v[P_NODES];
}

static int redlock_open(ovs_strategy *s, const ovs_env *env)
{
    redlock *x = (redlock *)s;
    double timeout = env->param->v[P_NODE_TIMEOUT];
    int n = (int)env->param->v[P_NODES];
    int up = 0, down = -1;
    char why[128];

    if (env->n_redis < n)
        return ovs_strategy_fail(s, OVS_ERR, "redlock with nodes=%d needs %d Redis masters; "
                                 "the run has %d", n, n, env->n_redis);
    x->node = calloc((size_t)n, sizeof(*x->node));
    if (x->node == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory");
    x->n = n;
    x->acquire.src = ovs_redis_acquire_src;
    x->cad.src = ovs_redis_cad_src;
    if (ovs_redis_locks_init(&x->locks, env->client, env->seed, why, sizeof(why)) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "%s", why);
    for (int i = 0; i < n; i++) {
        ovs_redis_init(&x->node[i], &env->redis[i], timeout, timeout);
        if (ovs_redis_connect(&x->node[i]) == OVS_OK)
            up++;
        else
            down = i;
        /* Load the scripts now, outside any timed attempt, so that acquires and releases
         * can be pipelined as EVALSHA. A node that missed them (down now, or restarted
         * later) answers NOSCRIPT once and is served on its own (ovs_redis_recv_eval). A
         * failed load is not fatal: without a hash the call sends EVAL with the source. */
        if (x->node[i].c != NULL) {
            (void)ovs_redis_script_load(&x->node[i], &x->acquire);
            (void)ovs_redis_script_load(&x->node[i], &x->cad);
        }
    }
    /* A node down now is the algorithm's business (it reconnects lazily), but without a
     * reachable majority the configuration is wrong, and every request would look like
     * contention. */
    if (up < ovs_redlock_quorum(n))
        return ovs_strategy_fail(s, OVS_ERR, "only %d of %d nodes reachable: %s", up, n,
                                 x->node[down].errstr);
    return OVS_OK;
}

/* A command sent to every node at once: how to send it to node i, how to read node i's
 * reply into an outcome, and the words its trace events use for each outcome. */
typedef struct round_op {
    int (*send)(redlock *x, int i, const char *lk, const char *token, const char *ttl);
    int (*recv)(redlock *x, int i, const char *lk, const char *token, const char *ttl);
    const char *ok, *busy, *unknown, *error; /* trace words per outcome */
} round_op;

/* Record one node's answer through env->event, for the teaching timeline: from the
 * moment its command was sent to the moment its reply was read, so the nodes of one
 * attempt show as overlapping bars. The event carries the harness's key ("sku:1"), so it
 * lines up with the acquire and release the runner records for that key. */
static void node_event(redlock *x, const round_op *op, const char *key, int i, int64_t t0,
                       int rc)
{
    const ovs_env *env = x->base.env;
    char detail[64];

    if (env->event == NULL)
        return;
    snprintf(detail, sizeof(detail), "node %d %s", i,
             rc == OVS_OK ? op->ok : rc == OVS_BUSY ? op->busy
             : rc == OVS_ERR_IO ? op->unknown : op->error);
    env->event(env->event_ctx, key, t0, ovs_now_ns(),
               rc == OVS_OK ? OVS_OUT_OK : rc == OVS_ERR_IO ? OVS_OUT_UNKNOWN : OVS_OUT_FAIL,
               detail);
}

static int lock_send(redlock *x, int i, const char *lk, const char *token, const char *ttl)
{
    const char *kv[4] = { lk, token, ttl, x->prefix };

    return ovs_redis_send_eval(&x->node[i], &x->acquire, 1, 3, kv);
}

/* The acquire's reply: OVS_OK locked (now, or already ours), OVS_BUSY held by another,
 * else an error code. */
static int lock_recv(redlock *x, int i, const char *lk, const char *token, const char *ttl)
{
    ovs_redis *r = &x->node[i];
    const char *kv[4] = { lk, token, ttl, x->prefix };
    redisReply *reply;
    int rc = ovs_redis_recv_eval(r, &x->acquire, 1, 3, kv, &reply);

    if (rc == OVS_OK) {
        rc = ovs_redis_expect(r, reply, REDIS_REPLY_INTEGER, "acquire");
        if (rc == OVS_OK && reply->integer == 0)
            rc = OVS_BUSY;
        freeReplyObject(reply);
    }
    return rc;
}

static int release_send(redlock *x, int i, const char *lk, const char *token, const char *ttl)
{
    const char *kv[2] = { lk, token };

    (void)ttl;
    return ovs_redis_send_eval(&x->node[i], &x->cad, 1, 1, kv);
}

/* The compare-and-delete's reply, same codes as lock_recv (OVS_BUSY: not ours there). */
static int release_recv(redlock *x, int i, const char *lk, const char *token, const char *ttl)
{
    ovs_redis *r = &x->node[i];
    const char *kv[2] = { lk, token };
    redisReply *reply;
    int rc = ovs_redis_recv_eval(r, &x->cad, 1, 1, kv, &reply);

    (void)ttl;
    if (rc == OVS_OK) {
        rc = ovs_redis_expect(r, reply, REDIS_REPLY_INTEGER, "release");
        if (rc == OVS_OK && reply->integer != 1)
            rc = OVS_BUSY;
        freeReplyObject(reply);
    }
    return rc;
}

static const round_op lock_op = {
    lock_send, lock_recv, "locked", "held elsewhere", "unknown (timeout or lost)", "error",
};

static const round_op release_op = {
    release_send, release_recv, "released", "not ours", "release unknown", "release error",
};

/* Send op to every node, then read every reply: rc[i] is node i's outcome (OVS_OK, OVS_BUSY
 * or an error code, as the op's recv returns it).
 *
 * The round has one deadline, node_timeout after it began, for every node alike. Replies
 * are read in node order, each read waiting only for the time left, so the nodes that
 * answer are not kept waiting behind a silent one, and several silent nodes cost one
 * node_timeout together rather than one each: read one after another with a timeout of
 * their own, two silent nodes made a round of two timeouts, eating the validity the
 * answering majority had bought. Once the deadline has passed each remaining node gets a
 * last look of a millisecond (redis_conn: its reply may have come in meanwhile); a node
 * with nothing to show counts as unknown, its connection dropped.
 *
 * Nodes still connected are sent to first. A node whose connection was dropped (it timed
 * out last time, or is down) reconnects inside its send, bounded by the time left in the
 * round; by then the connected nodes already have their command. A reconnect that fails,
 * or finds no time left, is that node's "no" for this round: nothing was sent to it. */
static void round_all(redlock *x, const round_op *op, const char *key, const char *lk,
                      const char *token, const char *ttl, int rc[])
{
    int64_t t0[OVS_MAX_NODES];
    int64_t deadline = ovs_now_ns() +
        (int64_t)(x->base.env->param->v[P_NODE_TIMEOUT] * (double)OVS_NS_PER_MS);
    int order[OVS_MAX_NODES], k = 0;

    for (int i = 0; i < x->n; i++) {
        ovs_redis_set_deadline(&x->node[i], deadline);
        if (x->node[i].c != NULL)
            order[k++] = i;
    }
    for (int i = 0; i < x->n; i++)
        if (x->node[i].c == NULL)
            order[k++] = i;
    for (k = 0; k < x->n; k++) {
        int i = order[k];
        t0[i] = ovs_now_ns();
        rc[i] = op->send(x, i, lk, token, ttl);
    }
    for (int i = 0; i < x->n; i++) {
        /* Only a command on its way has a reply to read; a failed send is the outcome. */
        if (rc[i] == OVS_OK)
            rc[i] = op->recv(x, i, lk, token, ttl);
        node_event(x, op, key, i, t0[i], rc[i]);
        ovs_redis_set_deadline(&x->node[i], 0);
    }
}

/* Release on every node; counts of confirmed releases and of unknown outcomes. */
static void release_all(redlock *x, const char *key, const char *lk, const char *token,
                        int *released, int *unknown)
{
    int rc[OVS_MAX_NODES];

    round_all(x, &release_op, key, lk, token, "", rc);
    *released = *unknown = 0;
    for (int i = 0; i < x->n; i++) {
        *released += rc[i] == OVS_OK;
        *unknown += rc[i] == OVS_ERR_IO;
    }
}

static int redlock_lock(ovs_strategy *s, const char *key)
{
    redlock *x = (redlock *)s;
    const ovs_params *p = s->env->param;
    int64_t ttl = (int64_t)(p->v[P_TTL] + 0.5);
    int retries = (int)p->v[P_RETRY_COUNT];
    char lk[OVS_REDIS_LOCK_KEY_MAX], token[OVS_REDIS_TOKEN_MAX], ttl_arg[24];
    char why[256] = "";

    s->attempts = 0;
    if (strlen(key) >= OVS_KEY_MAX || ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "lock key too long: %.40s...", key);
    /* Room left for "/a<attempt>" after the call's prefix. */
    ovs_redis_locks_token(&x->locks, x->prefix, sizeof(x->prefix) - 12);
    strcat(x->prefix, "/");
    snprintf(ttl_arg, sizeof(ttl_arg), "%lld", (long long)ttl);

    for (int a = 0; a <= retries; a++) {
        int rc[OVS_MAX_NODES], locked = 0, failed = -1, released, unknown;
        int64_t start, validity;

        if (a > 0)
            ovs_redis_backoff(&x->locks.rng, p->v[P_RETRY_DELAY], p->v[P_RETRY_JITTER]);
        s->attempts++;
        snprintf(token, sizeof(token), "%sa%u", x->prefix, s->attempts);
        /* From before the first send to after the last reply: no node's lease began
         * before this, so the validity reckoned from it is never too long. */
        start = ovs_now_ns();
        round_all(x, &lock_op, key, lk, token, ttl_arg, rc);
        for (int i = 0; i < x->n; i++) {
            if (rc[i] == OVS_OK)
                locked++;
            else if (rc[i] != OVS_BUSY && failed < 0)
                failed = i;
        }
        validity = ovs_redlock_validity_ms(
            ttl, ovs_redlock_elapsed_ms(ovs_now_ns() - start), p->v[P_DRIFT_FACTOR]);
        if (ovs_redlock_acquired(locked, x->n, validity)) {
            if (ovs_redis_locks_add(&x->locks, key, token, -1) == 0)
                return OVS_OK;
            release_all(x, key, lk, token, &released, &unknown);
            return ovs_strategy_fail(s, OVS_ERR, "out of memory for held locks");
        }
        ovs_seterr(why, sizeof(why), "locked %d of %d (quorum %d), validity %lld ms%s%s",
                   locked, x->n, ovs_redlock_quorum(x->n), (long long)validity,
                   failed >= 0 ? "; " : "", failed >= 0 ? x->node[failed].errstr : "");
        /* Not held: give back what we got, and what we may have got on nodes that did
         * not answer, before anyone else waits a whole TTL for it. */
        release_all(x, key, lk, token, &released, &unknown);
    }
    return ovs_strategy_fail(s, OVS_BUSY, "no valid majority after %u attempts: %s",
                             s->attempts, why);
}

static int redlock_unlock(ovs_strategy *s, const char *key)
{
    redlock *x = (redlock *)s;
    const char *held = ovs_redis_locks_find(&x->locks, key);
    char lk[OVS_REDIS_LOCK_KEY_MAX], token[OVS_REDIS_TOKEN_MAX];
    int quorum = ovs_redlock_quorum(x->n), released, unknown;

    if (held == NULL)
        return ovs_strategy_fail(s, OVS_BUSY, "%s is not held by this client", key);
    snprintf(token, sizeof(token), "%s", held);
    ovs_redis_locks_remove(&x->locks, key);
    ovs_redis_lock_key(lk, sizeof(lk), OVS_KEY_PREFIX(s->env), key); /* fitted when the lock was taken */
    release_all(x, key, lk, token, &released, &unknown);
    if (released >= quorum)
        return OVS_OK;
    /* Without a confirmed majority, the lock may still have been ours where nodes did
     * not answer: only when even those could not make a majority was it surely lost. */
    if (released + unknown >= quorum)
        return ovs_strategy_fail(s, OVS_ERR_IO, "%s released on %d of %d nodes, %d unknown",
                                 lk, released, x->n, unknown);
    return ovs_strategy_fail(s, OVS_BUSY, "%s was still ours on only %d of %d nodes", lk,
                             released, x->n);
}

static void redlock_close(ovs_strategy *s)
{
    redlock *x = (redlock *)s;

    /* Locks still held are left to their TTL, as a crashed client's would be. */
    for (int i = 0; x->node != NULL && i < x->n; i++)
        ovs_redis_close(&x->node[i]);
    free(x->node);
    x->node = NULL;
    ovs_redis_locks_free(&x->locks);
}

const ovs_strategy_methods ovs_strategy_redlock = {
    .version = 3,
    .name = "redlock",
    .summary = "Redlock: SET NX PX on a majority of N masters within the validity time",
    .claims_safe = 1,
    .size = sizeof(redlock),
    .params = redlock_params,
    .n_params = sizeof(redlock_params) / sizeof(redlock_params[0]),
    .xNodes = redlock_nodes,
    .xOpen = redlock_open,
    .xLock = redlock_lock,
    .xUnlock = redlock_unlock,
    .xClose = redlock_close,
};
