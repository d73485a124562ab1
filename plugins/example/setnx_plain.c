/* setnx_plain.c - an example C plugin: the single-node lock as it is often first written.
 *
 * SET lock:<key> 1 NX PX ttl to take it, DEL lock:<key> to release it - with no token and
 * so no owner check on release. On healthy servers, with every holder done within its TTL,
 * NX keeps clients apart, so it claims what setnx claims (claims_safe: no oversell on
 * healthy servers), and the contract suite holds it to that. The scenarios show where it
 * ends: a holder that stalls past its TTL shares the section with the next client (the
 * lease expired under it), and its late DEL then deletes the next client's lock, letting a
 * third one in. ttl-expiry-mid-section shows the first; the plugin's test checks that
 * verdict.
 *
 * What it demonstrates is the plugin boundary, not a lock worth using: one file, built
 * outside the harness's libraries as a shared module, including only the public headers
 * (locks/plugin.h and what it includes), talking to Redis with hiredis itself, and
 * reporting errors with ovs_strategy_fail, which it finds in the oversell executable.
 * Load it with `oversell run SCENARIO --plugin path/to/liboversell_setnx_plain.so`. */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "locks/plugin.h"

enum { P_TTL, P_RETRY_COUNT, P_RETRY_DELAY, P_N };

static const ovs_param_spec plain_params[P_N] = {
    [P_TTL] = { "ttl", 5000, "ms", NULL, 1, 86400000, "lease of the lock (PX of the SET)" },
    [P_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 1000000,
                        "retries after an attempt finds the lock taken" },
    [P_RETRY_DELAY] = { "retry_delay", 200, "ms", NULL, 0, 3600000,
                        "pause before each retry" },
};

typedef struct plain {
    ovs_strategy base;
    redisContext *c; /* env->redis[0]; NULL until connected, and after an I/O error */
} plain;

/* A reply that never came may have been executed: OVS_ERR_IO, and the context is dropped
 * so that a late reply is not read as the next command's. */
static int lost(plain *x, const char *what)
{
    int rc = ovs_strategy_fail(&x->base, OVS_ERR_IO, "%s: %s", what,
                               x->c && x->c->errstr[0] ? x->c->errstr : "no reply");
    redisFree(x->c);
    x->c = NULL;
    return rc;
}

static int plain_connect(plain *x)
{
    const ovs_endpoint *ep = &x->base.env->redis[0];
    struct timeval tv = { 1, 0 };

    if (x->c != NULL)
        return OVS_OK;
    x->c = redisConnectWithTimeout(ep->host, ep->port, tv);
    if (x->c == NULL || x->c->err) {
        int rc = ovs_strategy_fail(&x->base, OVS_ERR, "redis %s:%d: %s", ep->host, ep->port,
                                   x->c ? x->c->errstr : "out of memory");
        redisFree(x->c);
        x->c = NULL;
        return rc;
    }
    redisSetTimeout(x->c, tv);
    return OVS_OK;
}

static int plain_nodes(const ovs_params *p)
{
    (void)p;
    return 1;
}

static int plain_open(ovs_strategy *s, const ovs_env *env)
{
    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "setnx-plain needs a Redis server");
    return plain_connect((plain *)s);
}

static int plain_lock(ovs_strategy *s, const char *key)
{
    plain *x = (plain *)s;
    const double *v = s->env->param->v;
    long long ttl = (long long)(v[P_TTL] + 0.5);

    s->attempts = 0;
    for (int i = 0; i <= (int)v[P_RETRY_COUNT]; i++) {
        redisReply *r;
        int taken;
        if (i > 0)
            ovs_sleep_ns((int64_t)(v[P_RETRY_DELAY] * 1e6)); /* the harness's, exported */
        s->attempts++;
        if (plain_connect(x) != OVS_OK)
            return s->err;
        r = redisCommand(x->c, "SET lock:%s 1 NX PX %lld", key, ttl);
        if (r == NULL)
            return lost(x, "SET");
        if (r->type == REDIS_REPLY_ERROR) {
            int rc = ovs_strategy_fail(s, OVS_ERR, "SET: %s", r->str);
            freeReplyObject(r);
            return rc;
        }
        taken = r->type == REDIS_REPLY_STATUS; /* +OK; a nil reply when the key exists */
        freeReplyObject(r);
        if (taken)
            return OVS_OK;
    }
    return ovs_strategy_fail(s, OVS_BUSY, "lock:%s held after %u attempts", key, s->attempts);
}

/* The flaw: whoever holds the key now, it goes. */
static int plain_unlock(ovs_strategy *s, const char *key)
{
    plain *x = (plain *)s;
    redisReply *r;
    int gone;

    if (plain_connect(x) != OVS_OK)
        return s->err;
    r = redisCommand(x->c, "DEL lock:%s", key);
    if (r == NULL)
        return lost(x, "DEL");
    if (r->type != REDIS_REPLY_INTEGER) {
        int rc = ovs_strategy_fail(s, OVS_ERR, "DEL: %s", r->str ? r->str : "unexpected reply");
        freeReplyObject(r);
        return rc;
    }
    gone = r->integer == 0;
    freeReplyObject(r);
    return gone ? ovs_strategy_fail(s, OVS_BUSY, "lock:%s had already expired", key) : OVS_OK;
}

static void plain_close(ovs_strategy *s)
{
    plain *x = (plain *)s;
    redisFree(x->c);
    x->c = NULL;
}

static const ovs_strategy_methods setnx_plain = {
    .version = 3,
    .name = "setnx-plain",
    .summary = "SET NX PX on one Redis, released by a plain DEL: no owner check (a plugin)",
    .claims_safe = 1,
    .size = sizeof(plain),
    .params = plain_params,
    .n_params = P_N,
    .xNodes = plain_nodes,
    .xOpen = plain_open,
    .xLock = plain_lock,
    .xUnlock = plain_unlock,
    .xClose = plain_close,
};

/* The entry point (locks/plugin.h). Declared here because nothing else declares it: a
 * plugin's one exported symbol. */
int oversell_plugin_init(const ovs_plugin_api *api, char *err, size_t errlen);

int oversell_plugin_init(const ovs_plugin_api *api, char *err, size_t errlen)
{
    if (api->version < 1 || api->strategy_version < setnx_plain.version) {
        snprintf(err, errlen, "needs plugin API 1 and strategy tables of version %d",
                 setnx_plain.version);
        return -1;
    }
    return api->register_strategy(&setnx_plain, err, errlen);
}
