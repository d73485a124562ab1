/* lua_script.c - strategies whose Lua scripts come from files (a definition of kind lua).
 *
 * A user who has a lock or a sale as a Redis script puts it under oversell's faults
 * without writing C: a definition file (locks/strategy_def.h, strategies/README.md) names
 * the scripts, and this file turns it into a methods table that runs them on the run's
 * Redis (env->redis[0]) exactly as the built-ins run theirs. The conventions, which the
 * scripts must follow and the harness keeps:
 *
 *   lock, `acquire` + `release` (the harness checks, thinks and acts in SQL in between):
 *     acquire  KEYS[1] = lock:<key> (key as the harness names it, "sku:1"),
 *              ARGV[1] = a random token, fresh for every xLock call and the same for each
 *              retry within it, ARGV[2] = the `ttl` parameter in ms
 *              -> non-zero when the lock is now held with that token, 0 when another holds it
 *     release  KEYS[1] = lock:<key>, ARGV[1] = the token it was acquired with
 *              -> 1 released, 0 it was no longer ours (expired, or taken by another)
 *     Retries are the harness's, with the parameters retry_count, retry_delay and
 *     retry_jitter when the definition declares them (else one attempt), and each reply
 *     is awaited command_timeout ms (else 1000). The definition must declare `ttl`.
 *
 *   whole operation, `execute` (and `execute_booking` when bookings need another script):
 *     inventory  KEYS[1] = stock:<sku>, ARGV[1] = the quantity, 1 -> 1 sold, 0 sold out
 *     booking    KEYS = night:<hotel>:<room>:<YYYY-MM-DD> for every night of the stay,
 *                ARGV[1] = the guest (the buyer's number) -> 1 booked, 0 taken
 *     The stock is seeded by the harness before the run (stock:<sku> = the scenario's
 *     stock, every night key removed), and each sale reaches SQL through the write-back
 *     queue, like lua-decr: the run's divergence check compares Redis with SQL after.
 *
 * Scripts are loaded with SCRIPT LOAD before the run and run with EVALSHA; a server that
 * answers NOSCRIPT (it was restarted or failed over, and lost its script cache: scenarios
 * do that) gets the script loaded again and the call retried once (ovs_redis_eval). The
 * lease, its tokens, retries and outcome rule are lease.c's and the request-to-keys mapping
 * redis_stock.c's, shared with setnx and lua-decr, so a script from a file is judged on
 * the same terms as the built-in it imitates. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locks/lease.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"

/* Bounds on talking to the server in whole operations, as lua-decr's. */
#define LUAS_CONNECT_MS 1000
#define LUAS_COMMAND_MS 1000
/* Command timeout of a lock whose definition declares none: the lease's own default. */
#define LUAS_DEFAULT_COMMAND_MS 1000
/* A script larger than this is not a script someone means to run per request. */
#define LUAS_SCRIPT_MAX (1 << 20)

/* One definition's table with what its instances share. The methods table is the first
 * member, so an instance finds its definition from s->m, as a VFS finds its pAppData. */
typedef struct luas_def {
    ovs_strategy_methods m;
    ovs_strategy_def def;  /* a copy: m.params points into it */
    char *acquire, *release, *unit, *nights; /* script texts, NULL when not used */
    char *stream;          /* the sale with its XADD (execute_stream), NULL when none */
    int i_ttl, i_retry_count, i_retry_delay, i_retry_jitter, i_command_timeout; /* -1: none */
    int i_wait_replicas, i_wait_timeout; /* -1: none; setnx's WAIT after each acquire */
    /* Hashes SCRIPT LOAD gave in xPrepare, copied by every instance it opens so that the
     * first call is an EVALSHA. Under sha_mu: a run writes them before its clients start,
     * but runs side by side (--jobs) prepare and open the one table at once. */
    pthread_mutex_t sha_mu;
    char unit_sha[41], nights_sha[41], stream_sha[41];
    struct luas_def *next; /* every table built, newest first */
} luas_def;

/* Every table ovs_lua_define built lives until the process ends (one a registered
 * definition points at must), kept reachable from here whether or not it was then
 * registered: start-up builds a handful, once. */
static luas_def *defined;

typedef struct luas {
    ovs_strategy base;
    ovs_lease lease;      /* lock */
    ovs_redis redis;      /* whole operation: env->redis[0] */
    ovs_redis queue;      /* queue_node >= 1: env->queue_redis, the stream's */
    ovs_script unit, nights, stream;
} luas;

static const luas_def *def_of(const ovs_strategy *s)
{
    return (const luas_def *)(const void *)s->m;
}

static int luas_nodes(const ovs_params *p)
{
    (void)p;
    return 1; /* the loader refuses any other count for a Lua definition */
}

/* ---- lock: a lease run with the definition's scripts --------------------------------- */

static double param_or(const ovs_env *env, int i, double otherwise)
{
    return i < 0 ? otherwise : env->param->v[i];
}

static int luas_lock_open(ovs_strategy *s, const ovs_env *env)
{
    const luas_def *d = def_of(s);
    ovs_lease_conf conf = {
        .ttl_ms = param_or(env, d->i_ttl, 0),
        .retry_count = param_or(env, d->i_retry_count, 0),
        .retry_delay_ms = param_or(env, d->i_retry_delay, 0),
        .retry_jitter_ms = param_or(env, d->i_retry_jitter, 0),
        .command_timeout_ms = param_or(env, d->i_command_timeout, LUAS_DEFAULT_COMMAND_MS),
        .acquire_src = d->acquire,
        .release_src = d->release,
        .wait_replicas = param_or(env, d->i_wait_replicas, 0),
        .wait_timeout_ms = param_or(env, d->i_wait_timeout, 1),
    };
    /* As setnx: the WAIT's reply may take its whole timeout on top of the usual bound. */
    if (conf.wait_replicas > 0)
        conf.command_timeout_ms += conf.wait_timeout_ms;
    return ovs_lease_open_conf(&((luas *)s)->lease, s, env, &conf);
}

static int luas_lock(ovs_strategy *s, const char *key)
{
    return ovs_lease_lock(&((luas *)s)->lease, s, key);
}

static int luas_unlock(ovs_strategy *s, const char *key)
{
    return ovs_lease_unlock(&((luas *)s)->lease, s, key);
}

/* ---- whole operation: stock in Redis, sold by the definition's script ---------------- */

/* Seed the stock, as every Redis-stock strategy does, then load the scripts once: a
 * script that does not compile fails the run here, before any client starts. */
static int luas_prepare(ovs_strategy *s, const ovs_env *env)
{
    luas_def *d = (luas_def *)(void *)s->m; /* the registry's table is ours, allocated */
    ovs_redis r;
    ovs_script unit = { d->unit, "" }, nights = { d->nights, "" }, stream = { d->stream, "" };
    int rc = ovs_redis_stock_prepare(s, env);

    if (rc != OVS_OK)
        return rc;
    ovs_redis_init(&r, &env->redis[0], LUAS_CONNECT_MS, LUAS_COMMAND_MS);
    /* With the stream on another Redis the sale runs execute, and the XADD apart. */
    int in_script = env->queue_stream != NULL && env->queue_redis == NULL;
    rc = ovs_redis_script_load(&r, in_script                        ? &stream
                                   : env->workload == OVS_INVENTORY ? &unit
                                                                    : &nights);
    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, OVS_ERR, "%s: %s", d->def.path, r.errstr);
    ovs_redis_close(&r);
    if (rc == OVS_OK) {
        /* Only the script this run loaded: a booking run beside an inventory one must
         * not blank the other's hash. */
        pthread_mutex_lock(&d->sha_mu);
        if (unit.sha[0])
            memcpy(d->unit_sha, unit.sha, sizeof(d->unit_sha));
        if (nights.sha[0])
            memcpy(d->nights_sha, nights.sha, sizeof(d->nights_sha));
        if (stream.sha[0])
            memcpy(d->stream_sha, stream.sha, sizeof(d->stream_sha));
        pthread_mutex_unlock(&d->sha_mu);
    }
    return rc;
}

static int luas_whole_open(ovs_strategy *s, const ovs_env *env)
{
    luas_def *d = (luas_def *)(void *)s->m;
    luas *x = (luas *)s;

    if (env->n_redis < 1)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs a Redis server; the run has none",
                                 s->m->name);
    if (env->queue_stream != NULL && d->stream == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s has no execute_stream for a stream queue",
                                 s->m->name);
    if (env->queue_stream == NULL && env->sold == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs the write-back queue", s->m->name);
    ovs_redis_init(&x->redis, &env->redis[0], LUAS_CONNECT_MS, LUAS_COMMAND_MS);
    x->stream.src = d->stream;
    x->unit.src = d->unit;
    x->nights.src = d->nights;
    pthread_mutex_lock(&d->sha_mu);
    memcpy(x->stream.sha, d->stream_sha, sizeof(x->stream.sha));
    memcpy(x->unit.sha, d->unit_sha, sizeof(x->unit.sha));
    memcpy(x->nights.sha, d->nights_sha, sizeof(x->nights.sha));
    pthread_mutex_unlock(&d->sha_mu);
    if (ovs_redis_connect(&x->redis) != OVS_OK)
        return ovs_strategy_fail(s, OVS_ERR, "%s", x->redis.errstr);
    return ovs_redis_stock_open_queue(s, env, &x->queue, LUAS_COMMAND_MS);
}

static int luas_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                        int64_t think_ns)
{
    luas *x = (luas *)s;

    (void)think_ns; /* a script has no window between check and act to think in */
    return ovs_redis_stock_execute(s, &x->redis, &x->queue, &x->unit, &x->nights, &x->stream,
                                   req, buyer);
}

static void luas_close(ovs_strategy *s)
{
    luas *x = (luas *)s;

    ovs_lease_close(&x->lease);
    ovs_redis_close(&x->redis);
    ovs_redis_close(&x->queue);
}

/* ---- building the table -------------------------------------------------------------- */

/* The whole file at path, NUL-terminated, or NULL with a reason in err. */
static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (f == NULL) {
        ovs_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(LUAS_SCRIPT_MAX + 1);
    if (buf != NULL)
        n = fread(buf, 1, LUAS_SCRIPT_MAX + 1, f);
    if (buf == NULL || ferror(f) || n > LUAS_SCRIPT_MAX || n == 0) {
        ovs_seterr(err, errlen, "%s: %s", path,
                   buf == NULL ? "out of memory" : ferror(f) ? strerror(errno)
                   : n == 0 ? "empty script" : "larger than 1 MiB");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int param_index(const ovs_strategy_def *def, const char *name)
{
    for (int i = 0; i < def->n_params; i++)
        if (strcmp(def->params[i].name, name) == 0)
            return i;
    return -1;
}

static void luas_free(luas_def *d)
{
    if (d == NULL)
        return;
    free(d->acquire);
    free(d->release);
    if (d->nights != d->unit)
        free(d->nights);
    free(d->unit);
    free(d->stream);
    pthread_mutex_destroy(&d->sha_mu);
    free(d);
}

int ovs_lua_define(const ovs_strategy_def *def, const ovs_strategy_methods **out, char *err,
                   size_t errlen)
{
    int lock = def->operation == OVS_DEF_LOCK;
    luas_def *d;

    if (def->kind != OVS_DEF_LUA) {
        ovs_seterr(err, errlen, "%s: not a Lua-script definition", def->path);
        return -1;
    }
    if (lock ? def->acquire[0] == '\0' || def->release[0] == '\0' : def->execute[0] == '\0') {
        ovs_seterr(err, errlen, "%s: a Lua %s needs %s", def->path,
                   lock ? "lock" : "whole operation", lock ? "acquire and release" : "execute");
        return -1;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", def->path);
        return -1;
    }
    pthread_mutex_init(&d->sha_mu, NULL);
    d->def = *def;
    if (lock) {
        d->acquire = slurp(def->acquire, err, errlen);
        d->release = d->acquire ? slurp(def->release, err, errlen) : NULL;
        if (d->release == NULL) {
            luas_free(d);
            return -1;
        }
    } else {
        d->unit = slurp(def->execute, err, errlen);
        if (d->unit != NULL && def->execute_booking[0] != '\0')
            d->nights = slurp(def->execute_booking, err, errlen);
        else
            d->nights = d->unit;
        if (d->nights == NULL || (def->execute_stream[0] != '\0' &&
                                  (d->stream = slurp(def->execute_stream, err, errlen)) == NULL)) {
            luas_free(d);
            return -1;
        }
    }
    d->i_ttl = param_index(def, "ttl");
    d->i_retry_count = param_index(def, "retry_count");
    d->i_retry_delay = param_index(def, "retry_delay");
    d->i_retry_jitter = param_index(def, "retry_jitter");
    d->i_command_timeout = param_index(def, "command_timeout");
    d->i_wait_replicas = param_index(def, "wait_replicas");
    d->i_wait_timeout = param_index(def, "wait_timeout");
    if (lock && d->i_ttl < 0) {
        ovs_seterr(err, errlen, "%s: a Lua lock needs a [param ttl] (its scripts' ARGV[2])",
                   def->path);
        luas_free(d);
        return -1;
    }
    d->m = (ovs_strategy_methods){
        .version = 6,
        .name = d->def.name,
        .summary = d->def.summary,
        .claims_safe = def->claims_safe,
        .no_liveness_claim = !def->claims_live,
        .size = sizeof(luas),
        .params = d->def.params,
        .n_params = d->def.n_params,
        .xNodes = luas_nodes,
        .xPrepare = lock ? NULL : luas_prepare,
        .xOpen = lock ? luas_lock_open : luas_whole_open,
        .xLock = lock ? luas_lock : NULL,
        .xUnlock = lock ? luas_unlock : NULL,
        .xExecute = lock ? NULL : luas_execute,
        .xClose = luas_close,
        .redis_stock = !lock,
        .writes_stream = d->stream != NULL,
    };
    d->next = defined;
    defined = d;
    *out = &d->m;
    return 0;
}
