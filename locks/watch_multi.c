/* watch_multi.c - stock in Redis, sold by an optimistic transaction: WATCH, GET, MULTI/DECR/EXEC.
 *
 * Redis's own optimistic locking, as its documentation teaches it: WATCH the stock key,
 * read it, and if a unit is left queue the DECR between MULTI and EXEC. EXEC runs the
 * queue only when no other client wrote a watched key since the WATCH; otherwise it
 * answers nil, nothing has happened, and the buyer starts again from the WATCH after a
 * randomised delay, at most retry_count times, then gives up (busy). The scenario's think
 * time goes between the read and the MULTI, where a real client decides: that is the
 * window in which other buyers commit and abort this one, so the aborts are counted as
 * attempts (s->attempts), and a run reports them as retries.
 *
 * Bookings map as in lua-decr (redis_stock.h): WATCH every night key of the stay, MGET
 * them, and when all are free set each to the guest with one MSET inside MULTI/EXEC - all
 * nights or none, and none once another guest claimed any of them meanwhile. Stock and
 * nights are seeded and cleared as lua-decr does, sales reach SQL through the write-back
 * queue, and the harness compares Redis with SQL after the run.
 *
 * The WATCH belongs to one connection: if the transaction went out on another one, EXEC
 * would commit unwatched and sell a unit somebody else had already taken. ovs_redis_cmd
 * reconnects by itself before a command whenever it finds the old connection closed,
 * which is right for a single command and wrong here, so the two rounds of an attempt
 * (WATCH + MGET, then MULTI ... EXEC) are pipelined on the hiredis context directly, and a
 * connection found closed after the think ends the attempt before anything is sent.
 * Outcomes follow redis_conn.h: an attempt that lost the first round changed nothing and
 * is retried; a transaction sent whose EXEC reply never came may have sold
 * (OVS_ERR_IO), and is not retried, since a second DECR for the same buyer would sell two
 * units for one order.
 *
 * It claims safety on a healthy server, with lua-decr's price under crash before
 * write-back: only Redis knows of a sale while its order waits in the queue. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"

enum { P_RETRY_COUNT, P_RETRY_DELAY, P_RETRY_JITTER, P_COMMAND_TIMEOUT };

static const ovs_param_spec wm_params[] = {
    [P_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 1000000,
                        "retries after an EXEC aborted by a concurrent write" },
    [P_RETRY_DELAY] = { "retry_delay", 200, "ms", NULL, 0, 3600000,
                        "pause before each retry" },
    [P_RETRY_JITTER] = { "retry_jitter", 200, "ms", NULL, 0, 3600000,
                         "plus a uniform random extra in [0, this]" },
    [P_COMMAND_TIMEOUT] = { "command_timeout", 1000, "ms", NULL, 1, 600000,
                            "wait for each reply; a later one is an unknown outcome" },
};

typedef struct wm {
    ovs_strategy base;
    ovs_redis redis; /* env->redis[0]; its context carries the WATCH of an attempt */
    ovs_rng rng;     /* retry jitter, seeded from env->seed */
} wm;

/* What one attempt came to. */
enum attempt {
    SOLD,    /* EXEC ran the transaction */
    TAKEN,   /* sold out, or a night of the stay is taken: OVS_REFUSED */
    ABORTED, /* EXEC answered nil: a watched key was written since the WATCH */
    LOST,    /* the connection failed before the transaction was sent: nothing happened */
    FAILED,  /* a definite error or an unknown outcome: its code is in s->err */
};

/* The keys of a request and the guest's value, once per xExecute. */
typedef struct wm_keys {
    int n;                          /* 1 for a unit, the nights of a stay */
    char (*key)[OVS_NIGHT_KEY_MAX]; /* stock:<sku>, or night:... of each night */
    char guest[24];                 /* the buyer, written into each night */
} wm_keys;

static int wm_open(ovs_strategy *s, const ovs_env *env)
{
    wm *x = (wm *)s;

    ovs_rng_seed(&x->rng, env->seed);
    return ovs_redis_stock_open(s, env, &x->redis, env->param->v[P_COMMAND_TIMEOUT]);
}

/* Whether the idle connection was closed by the server: readable with no reply due. The
 * same test ovs_redis_cmd makes before a command, made here to know that the WATCH is gone
 * rather than to reconnect behind the transaction's back. */
static int closed_while_idle(const redisContext *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };

    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Append the command argv[0..argc-1] to the context. -1 only when out of memory. */
static int append(wm *x, int argc, const char **argv)
{
    return redisAppendCommandArgv(x->redis.c, argc, argv, NULL) == REDIS_OK ? 0 : -1;
}

/* Append verb followed by every key of k (and, with value, "key value" pairs). */
static int append_keys(wm *x, const char *verb, const wm_keys *k, const char *value)
{
    const char *argv[1 + 2 * OVS_MAX_NIGHTS];
    int argc = 0;

    argv[argc++] = verb;
    for (int i = 0; i < k->n; i++) {
        argv[argc++] = k->key[i];
        if (value != NULL)
            argv[argc++] = value;
    }
    return append(x, argc, argv);
}

/* Read the replies to the n commands appended on the context into rep, in order. OVS_OK;
 * or, when one did not come (timeout, reset, EOF), the context is dropped with every
 * reply still due on it - and with it the WATCH and any queued transaction - and
 * OVS_ERR_IO is returned with why in s->errstr. The caller frees what rep holds either way. */
static int read_replies(wm *x, int n, redisReply **rep, const char *what)
{
    redisContext *c = x->redis.c;

    for (int i = 0; i < n; i++)
        rep[i] = NULL;
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK) {
            const char *why = c->errstr;
            if (c->err == REDIS_ERR_IO && strcmp(why, "Resource temporarily unavailable") == 0)
                why = "timeout";
            ovs_strategy_fail(&x->base, OVS_ERR_IO, "redis %s:%d: %s: %s", x->redis.ep.host,
                              x->redis.ep.port, what, why);
            ovs_redis_close(&x->redis);
            return OVS_ERR_IO;
        }
        rep[i] = r;
    }
    return OVS_OK;
}

static void free_replies(int n, redisReply **rep)
{
    for (int i = 0; i < n; i++)
        freeReplyObject(rep[i]);
}

/* Give up the WATCH after a refusal. Its answer changes nothing: a lost one drops the
 * connection, which gives up the WATCH as well. */
static void unwatch(wm *x)
{
    const char *argv[1] = { "UNWATCH" };
    redisReply *rep[1];

    if (append(x, 1, argv) == 0 && read_replies(x, 1, rep, "UNWATCH") == OVS_OK)
        free_replies(1, rep);
    x->base.err = 0;
    x->base.errstr[0] = '\0';
}

/* Round one: WATCH the keys and read them, on one connection. Returns TAKEN, or LOST
 * (reads only: nothing happened whatever failed), or FAILED (the server refused), or SOLD
 * meaning "free: go on" with the WATCH in place. */
static enum attempt watch_and_read(wm *x, const wm_keys *k)
{
    redisReply *rep[2];
    const redisReply *v;
    enum attempt a = SOLD;

    if (x->redis.c != NULL && closed_while_idle(x->redis.c))
        ovs_redis_close(&x->redis);
    if (ovs_redis_connect(&x->redis) != OVS_OK) {
        ovs_strategy_fail(&x->base, OVS_ERR, "%s (WATCH not sent)", x->redis.errstr);
        return LOST;
    }
    if (append_keys(x, "WATCH", k, NULL) != 0 || append_keys(x, "MGET", k, NULL) != 0) {
        ovs_redis_close(&x->redis); /* half a pipeline must not stay queued */
        ovs_strategy_fail(&x->base, OVS_ERR, "out of memory for the WATCH");
        return FAILED;
    }
    if (read_replies(x, 2, rep, "WATCH/MGET") != OVS_OK) {
        free_replies(2, rep);
        x->base.err = OVS_ERR; /* two reads: nothing can have happened */
        return LOST;
    }
    v = rep[1];
    if (rep[0]->type == REDIS_REPLY_ERROR || v->type == REDIS_REPLY_ERROR) {
        ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: WATCH/MGET: %s", x->redis.ep.host,
                          x->redis.ep.port,
                          rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str : v->str);
        a = FAILED;
    } else if (v->type != REDIS_REPLY_ARRAY || v->elements != (size_t)k->n) {
        ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: MGET: expected %d values",
                          x->redis.ep.host, x->redis.ep.port, k->n);
        a = FAILED;
    } else if (x->base.env->workload == OVS_INVENTORY) {
        /* A missing stock key reads as 0, as lua-decr's script reads it. */
        const redisReply *e = v->element[0];
        long long stock = e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
        if (stock <= 0)
            a = TAKEN;
    } else {
        for (size_t i = 0; i < v->elements && a == SOLD; i++)
            if (v->element[i]->type != REDIS_REPLY_NIL)
                a = TAKEN;
    }
    free_replies(2, rep);
    if (a == TAKEN)
        unwatch(x);
    if (a == FAILED)
        ovs_redis_close(&x->redis); /* and with it the WATCH, if it was set */
    return a;
}

/* Round two: MULTI, the writes, EXEC, on the connection that holds the WATCH. */
static enum attempt commit(wm *x, const wm_keys *k)
{
    const char *multi[1] = { "MULTI" }, *exec[1] = { "EXEC" };
    int inventory = x->base.env->workload == OVS_INVENTORY;
    enum { n = 3 }; /* MULTI, the one queued write (DECR or MSET), EXEC */
    redisReply *rep[n];
    const redisReply *e;
    enum attempt a = SOLD;

    /* The think may have outlasted the connection; with it went the WATCH. A command
     * written now would go out on a fresh connection, unwatched. */
    if (x->redis.c == NULL || closed_while_idle(x->redis.c)) {
        ovs_redis_close(&x->redis);
        ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: connection closed before MULTI "
                          "(nothing sent)", x->redis.ep.host, x->redis.ep.port);
        return LOST;
    }
    if (append(x, 1, multi) != 0 ||
        (inventory ? append_keys(x, "DECR", k, NULL) : append_keys(x, "MSET", k, k->guest)) != 0 ||
        append(x, 1, exec) != 0) {
        /* Nothing was written yet: hiredis only buffers until the first read. */
        ovs_redis_close(&x->redis);
        ovs_strategy_fail(&x->base, OVS_ERR, "out of memory for the transaction");
        return FAILED;
    }
    if (read_replies(x, n, rep, "EXEC") != OVS_OK) {
        free_replies(n, rep);
        return FAILED; /* OVS_ERR_IO: the EXEC may have run */
    }
    e = rep[n - 1];
    if (e->type == REDIS_REPLY_NIL) {
        a = ABORTED;
    } else if (e->type == REDIS_REPLY_ERROR) {
        /* EXECABORT and the like: the queue was refused as a whole, nothing ran. */
        ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: EXEC: %s", x->redis.ep.host,
                          x->redis.ep.port, e->str);
        a = FAILED;
    } else if (e->type != REDIS_REPLY_ARRAY || e->elements != 1 ||
               e->element[0]->type == REDIS_REPLY_ERROR) {
        /* One queued command, so an error in its place means it did not run either. */
        ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: EXEC: %s", x->redis.ep.host,
                          x->redis.ep.port,
                          e->type == REDIS_REPLY_ARRAY && e->elements == 1
                              ? e->element[0]->str
                              : "unexpected reply");
        a = FAILED;
    }
    free_replies(n, rep);
    return a;
}

/* The keys of req: stock:<sku>, or every night of the stay. OVS_OK or OVS_ERR (s->errstr). */
static int keys_of(wm *x, const ovs_request *req, int64_t buyer, wm_keys *k)
{
    int inventory = x->base.env->workload == OVS_INVENTORY;

    k->n = inventory ? 1 : req->check_out - req->check_in;
    if (k->n < 1 || k->n > OVS_MAX_NIGHTS)
        return ovs_strategy_fail(&x->base, OVS_ERR, "a stay of %d nights is outside 1..%d",
                                 k->n, OVS_MAX_NIGHTS);
    k->key = malloc((size_t)k->n * sizeof(*k->key));
    if (k->key == NULL)
        return ovs_strategy_fail(&x->base, OVS_ERR, "out of memory");
    if (inventory)
        ovs_stock_key(OVS_KEY_PREFIX(x->base.env), req->sku, k->key[0], sizeof(k->key[0]));
    for (int i = 0; !inventory && i < k->n; i++)
        ovs_night_key(OVS_KEY_PREFIX(x->base.env), req, i, k->key[i], sizeof(k->key[i]));
    snprintf(k->guest, sizeof(k->guest), "%lld", (long long)buyer);
    return OVS_OK;
}

/* One attempt from the WATCH to the EXEC's answer, the think in between. */
static enum attempt attempt(wm *x, const wm_keys *k, int64_t think_ns)
{
    enum attempt a = watch_and_read(x, k);

    if (a != SOLD)
        return a;
    ovs_sleep_ns(think_ns); /* the window in which others commit and abort this one */
    return commit(x, k);
}

static int wm_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer, int64_t think_ns)
{
    wm *x = (wm *)s;
    const double *v = s->env->param->v;
    int retries = (int)v[P_RETRY_COUNT];
    unsigned aborted = 0;
    enum attempt a = LOST;
    wm_keys k;
    int rc;

    s->attempts = 0;
    if (keys_of(x, req, buyer, &k) != OVS_OK)
        return s->err;
    for (int i = 0; i <= retries; i++) {
        if (i > 0)
            ovs_redis_backoff(&x->rng, v[P_RETRY_DELAY], v[P_RETRY_JITTER]);
        s->attempts++;
        a = attempt(x, &k, think_ns);
        if (a == ABORTED)
            aborted++;
        if (a != ABORTED && a != LOST)
            break;
    }
    switch (a) {
    case SOLD:
        rc = OVS_OK;
        break;
    case TAKEN:
        rc = OVS_REFUSED;
        break;
    case ABORTED:
        rc = ovs_strategy_fail(s, OVS_BUSY, "EXEC aborted by concurrent writes to %s in %u of %u"
                               " attempts", k.key[0], aborted, s->attempts);
        break;
    default:
        rc = s->err; /* LOST is OVS_ERR: out of retries, nothing happened */
        break;
    }
    free(k.key);
    if (rc != OVS_OK)
        return rc;
    return ovs_redis_stock_hand_over(s, req, buyer);
}

static void wm_close(ovs_strategy *s)
{
    ovs_redis_close(&((wm *)s)->redis);
}

const ovs_strategy_methods ovs_strategy_watch_multi = {
    .version = 3,
    .name = "watch-multi",
    .summary = "WATCH stock, GET, think, MULTI/DECR/EXEC; an aborted EXEC is retried",
    .redis_stock = 1,
    .claims_safe = 1,
    .size = sizeof(wm),
    .params = wm_params,
    .n_params = sizeof(wm_params) / sizeof(wm_params[0]),
    .xNodes = ovs_redis_stock_nodes,
    /* Seed stock:<sku> or clear the taken nights, as lua-decr does: a scenario compares
     * them on the same Redis state. */
    .xPrepare = ovs_redis_stock_prepare,
    .xOpen = wm_open,
    .xExecute = wm_execute,
    .xClose = wm_close,
};
