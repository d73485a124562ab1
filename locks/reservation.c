/* reservation.c - a checkout hold: reserve, pay, then confirm or compensate.
 *
 * The order-then-pay flow of a shop: the unit is taken off sale while the buyer pays
 * ("no other customer can buy it for a few minutes"), sold when the payment succeeds,
 * given back when it fails, and given back by itself when the buyer takes longer than the
 * hold's TTL. The payment is simulated: it takes the buyer's think time (filling in the
 * form) plus pay_latency plus up to pay_jitter, and is declined with probability pay_fail,
 * both drawn from env->seed so a client's draws repeat run after run.
 *
 * Holds live in Redis beside the stock (holds.h): stock:<sku> counts what is on sale, the
 * sorted set `holds` the open holds scored by expiry in Redis TIME, and a hash per hold
 * keeps its record. Each step is one script, so the unit of a hold moves exactly once
 * whichever of a confirm, a compensation or an expiry comes first:
 *   reserve  returns every expired hold to stock first (so an expired unit is on sale
 *            again at the next buyer), then takes a unit and opens the hold;
 *   confirm  with confirm_check = 1 sells only a hold that is still live, and returns an
 *            expired one itself; with confirm_check = 0 it sells whatever became of the
 *            hold - the naive "payment success -> write order" - even when its unit was
 *            already returned and sold to someone else: that is the oversell the
 *            pay-slower-than-hold scenario shows;
 *   release  (compensation) gives the unit back if the hold is still open;
 *   sweep    returns every expired hold; run by xClose, below.
 * A sale reaches SQL through the write-back queue, as lua-decr's does, so after the run
 * Redis stock and SQL stock must agree once every hold is settled.
 *
 * Bookings map as lua-decr's do (redis_stock.h): a hold sets every night of the stay to
 * the hold's key, a confirm to the guest, and a give-back deletes the nights that still
 * name the hold.
 *
 * With holds = sql the same flow runs on the shop's own rows instead (holds_sql.h): the
 * stock is skus.stock, each step one transaction whose state-guarded UPDATE decides, the
 * order inserted in the confirm's transaction, and a reaper beside each client returns
 * expired holds every reap_interval. Inventory only; no Redis at all.
 *
 * A hold whose record is gone (a Redis restarted without persistence) cannot be
 * confirmed: nothing says what it held, so the buyer is refused and refunded.
 *
 * Settling before the run ends: a hold this instance left open - a step that failed or
 * whose answer was lost - expires within hold_ttl, but only a script (or the reaper)
 * returns its unit. xClose therefore waits until the last such hold has expired and runs
 * the sweep (or one reaper pass), so the harness reads the
 * ground truth (leaked stock: initial = available + sold + held) after every hold could
 * have come back. A hold it settled itself costs no wait.
 *
 * A client that crashes while it pays (env->crash) is gone: no confirm, no compensation,
 * no settling in xClose. Its hold is left to what the shop has - the hold's TTL and the
 * next reserve's (or sweep's) give-back in Redis, the reaper on SQL holds - and a unit
 * nothing gives back is the leak the harness counts. The payment's wait looks at the
 * crash every millisecond (ovs_crash_sleep).
 *
 * It claims safety with confirm_check = 1 on a healthy server; with 0 it does not. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/answer.h"
#include "locks/holds.h"
#include "locks/holds_sql.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"

enum {
    P_HOLD_TTL,
    P_HOLDS,
    P_CONFIRM_CHECK,
    P_PAY_LATENCY,
    P_PAY_JITTER,
    P_PAY_FAIL,
    P_COMMAND_TIMEOUT,
    P_REAP_INTERVAL,
};

static const ovs_param_spec resv_params[] = {
    [P_HOLD_TTL] = { "hold_ttl", 5000, "ms", NULL, 1, 3600000,
                     "how long a hold keeps the unit off sale while its buyer pays" },
    [P_HOLDS] = { "holds", 0, NULL, "redis|sql", 0, 0,
                  "where holds live: redis (beside the stock, a sorted set scored by expiry),"
                  " sql (rows of the shop, stock in SQL, a reaper) (default: redis)" },
    [P_CONFIRM_CHECK] = { "confirm_check", 1, "count", NULL, 0, 1,
                          "1: confirm sells only a hold still live; 0: it sells anyway" },
    [P_PAY_LATENCY] = { "pay_latency", 5, "ms", NULL, 0, 600000,
                        "the payment provider's answer time, after the buyer's think time" },
    [P_PAY_JITTER] = { "pay_jitter", 5, "ms", NULL, 0, 600000,
                       "plus a uniform random extra in [0, this], drawn from the seed" },
    [P_PAY_FAIL] = { "pay_fail", 0, "ratio", NULL, 0, 1,
                     "probability that a payment is declined, drawn from the seed" },
    [P_COMMAND_TIMEOUT] = { "command_timeout", 1000, "ms", NULL, 1, 600000,
                            "wait for each reply; a later one is an unknown outcome" },
    [P_REAP_INTERVAL] = { "reap_interval", 100, "ms", NULL, 1, 3600000,
                          "holds = sql: how often each client's reaper gives back expired holds" },
};

/* What every script shares. KEYS[1] is always the set of open holds. A hold's unit goes
 * back by give_back only, in the same script that takes the member out of the set, so no
 * two scripts can both return it. */
#define RESV_LUA_COMMON                                                                      \
    "local function now_ms() local t = redis.call('time') "                                  \
    "return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end "                  \
    "local function give_back(z, h, now, state) "                                            \
    "local keys = redis.call('hget', h, 'keys') or '' "                                      \
    "if redis.call('hget', h, 'sku') ~= '0' then redis.call('incr', keys) else "             \
    "for k in string.gmatch(keys, '%S+') do "                                                \
    "if redis.call('get', k) == h then redis.call('del', k) end end end "                    \
    "redis.call('zrem', z, h) "                                                              \
    "redis.call('hset', h, 'state', state, 'settled', now) end "                             \
    "local function sweep(z, now) "                                                          \
    "local ids = redis.call('zrangebyscore', z, '-inf', now, 'LIMIT', 0, 1000) "             \
    "for _, h in ipairs(ids) do give_back(z, h, now, '" OVS_HOLD_EXPIRED "') end "           \
    "return #ids end "

/* KEYS[2] the hold, KEYS[3..] the stock key or the nights; ARGV[1] ttl ms, ARGV[2] the
 * buyer, ARGV[3] the SKU (0 for a stay). Answers {1, expires, returned} when held, {0,
 * now, returned} when sold out or a night is taken, {-1, now, returned} when the buyer
 * already has a hold record; returned counts the expired holds given back first. */
static const char reserve_src[] =
    RESV_LUA_COMMON
    "local now = now_ms() "
    "local back = sweep(KEYS[1], now) "
    "if redis.call('exists', KEYS[2]) == 1 then return {-1, now, back} end "
    "if ARGV[3] ~= '0' then "
    "if tonumber(redis.call('get', KEYS[3]) or '0') <= 0 then return {0, now, back} end "
    "redis.call('decr', KEYS[3]) "
    "else "
    "for i = 3, #KEYS do if redis.call('exists', KEYS[i]) == 1 then return {0, now, back} end end "
    "for i = 3, #KEYS do redis.call('set', KEYS[i], KEYS[2]) end "
    "end "
    "local exp = now + tonumber(ARGV[1]) "
    "redis.call('zadd', KEYS[1], exp, KEYS[2]) "
    "redis.call('hset', KEYS[2], 'buyer', ARGV[2], 'sku', ARGV[3], "
    "'keys', table.concat(KEYS, ' ', 3), 'created', now, 'expires', exp, "
    "'state', '" OVS_HOLD_HELD "') "
    "return {1, exp, back}";

/* KEYS[2] the hold; ARGV[1] confirm_check, ARGV[2] the guest (written into the nights).
 * Answers {1, now} sold on a live hold, {2, now} sold after the hold expired (only with
 * confirm_check 0), {0, now} refused because it expired (its unit is back), {-1, now}
 * when there is no open or expired hold to confirm (a Redis that restarted without it:
 * refused either way, since there is nothing left to say what was held). */
static const char confirm_src[] =
    RESV_LUA_COMMON
    "local now = now_ms() "
    "local state = redis.call('hget', KEYS[2], 'state') "
    "local score = redis.call('zscore', KEYS[1], KEYS[2]) "
    "local function sell(late) "
    "if score and redis.call('hget', KEYS[2], 'sku') == '0' then "
    "for k in string.gmatch(redis.call('hget', KEYS[2], 'keys'), '%S+') do "
    "redis.call('set', k, ARGV[2]) end end "
    "if score then redis.call('zrem', KEYS[1], KEYS[2]) end "
    "redis.call('hset', KEYS[2], 'state', '" OVS_HOLD_CONFIRMED "', 'settled', now) "
    "if late then redis.call('hset', KEYS[2], 'late', 1) end end "
    "if score and tonumber(score) > now then sell(false) return {1, now} end "
    "if not score and state ~= '" OVS_HOLD_EXPIRED "' then return {-1, now} end "
    "if ARGV[1] == '1' then "
    "if score then give_back(KEYS[1], KEYS[2], now, '" OVS_HOLD_EXPIRED "') end "
    "return {0, now} end "
    "sell(true) return {2, now}";

/* KEYS[2] the hold. Answers {1, now} when it gave the unit back, {0, now} when the hold
 * was no longer open (it had expired, and its unit was returned then). */
static const char release_src[] =
    RESV_LUA_COMMON
    "local now = now_ms() "
    "if redis.call('zscore', KEYS[1], KEYS[2]) then "
    "give_back(KEYS[1], KEYS[2], now, '" OVS_HOLD_RELEASED "') return {1, now} end "
    "return {0, now}";

/* Answers {returned, now}: every expired hold given back. */
static const char sweep_src[] =
    RESV_LUA_COMMON
    "local now = now_ms() "
    "return {sweep(KEYS[1], now), now}";

/* Time left for a server's clock and ours to disagree by, when waiting out a hold. */
#define RESV_CLOCK_SLACK_NS (5 * OVS_NS_PER_MS)

typedef struct resv {
    ovs_strategy base;
    int sql;               /* holds = sql: h below, not redis */
    ovs_holds_sql h;       /* holds = sql: the shop's rows and the reaper */
    ovs_redis redis;       /* holds = redis: env->redis[0], stock and holds */
    ovs_script reserve, confirm, release, sweep;
    ovs_rng rng;           /* payment latency and outcome, seeded from env->seed */
    int64_t owed_until;    /* monotonic ns by which the last hold this instance could not
                              settle itself has expired; 0 when none */
    int64_t crash_owed_until; /* the same for the hold open when the client crashed: no
                                 settling of the client's waits for it, the reaper's does */
    char zset[OVS_HOLD_KEY_MAX]; /* the set of open holds under the run's key prefix */
} resv;

/* One request's keys: the hold, then the stock key or the nights. */
typedef struct resv_keys {
    int n;                                   /* used entries of key */
    char hold[OVS_HOLD_KEY_MAX];
    char (*key)[OVS_NIGHT_KEY_MAX];          /* n - 2 of them after the set and the hold */
    const char **kv;                         /* n keys, then the script's arguments */
} resv_keys;

static int resv_prepare(ovs_strategy *s, const ovs_env *env)
{
    ovs_redis r;
    redisReply *reply = NULL;
    char cursor[32] = "0";
    int rc;

    /* A caller that gives no parameters prepares the defaults: holds in Redis. */
    if (env->param != NULL && env->param->v[P_HOLDS] >= 1)
        return ovs_hsql_schema(s, env->shop);
    rc = ovs_redis_stock_prepare(s, env);

    if (rc != OVS_OK)
        return rc;
    /* Holds an earlier run left on the same server would be counted as this run's. */
    char zset[OVS_HOLD_KEY_MAX];
    ovs_holds_zset_key(OVS_KEY_PREFIX(env), zset, sizeof(zset));
    ovs_redis_init(&r, &env->redis[0], 1000, 5000);
    rc = ovs_redis_cmd(&r, &reply, "DEL %s", zset);
    freeReplyObject(reply);
    while (rc == OVS_OK) {
        rc = ovs_redis_cmd(&r, &reply, "SCAN %s MATCH %s" OVS_HOLD_PREFIX "* COUNT 1000",
                           cursor, OVS_KEY_PREFIX(env));
        if (rc != OVS_OK)
            break;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(reply);
            rc = ovs_redis_expect(&r, NULL, REDIS_REPLY_ARRAY, "SCAN");
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        for (size_t i = 0; rc == OVS_OK && i < reply->element[1]->elements; i++) {
            redisReply *del = NULL;
            const redisReply *k = reply->element[1]->element[i];
            rc = ovs_redis_cmd(&r, &del, "UNLINK %b", k->str, (size_t)k->len);
            freeReplyObject(del);
        }
        freeReplyObject(reply);
        if (strcmp(cursor, "0") == 0)
            break;
    }
    if (rc != OVS_OK)
        rc = ovs_strategy_fail(s, OVS_ERR, "%s", r.errstr);
    ovs_redis_close(&r);
    return rc;
}

/* Holds in SQL are rows of units of a SKU (locks/holds_sql.h): a stay's nights have no
 * such row, so a booking with them is refused before it starts, not failed in the run. */
static int resv_fits(const ovs_params *p, enum ovs_workload w, char *why, size_t len)
{
    if (p->v[P_HOLDS] >= 1 && w != OVS_INVENTORY) {
        snprintf(why, len, "holds = sql holds units of inventory; bookings take holds = redis");
        return 1;
    }
    return 0;
}

static int resv_open(ovs_strategy *s, const ovs_env *env)
{
    resv *x = (resv *)s;

    x->reserve.src = reserve_src;
    x->confirm.src = confirm_src;
    x->release.src = release_src;
    x->sweep.src = sweep_src;
    ovs_rng_seed(&x->rng, env->seed);
    ovs_holds_zset_key(OVS_KEY_PREFIX(env), x->zset, sizeof(x->zset));
    if (env->param->v[P_HOLDS] >= 1) {
        x->sql = 1;
        char why[80];
        if (resv_fits(env->param, env->workload, why, sizeof(why)) != 0)
            return ovs_strategy_fail(s, OVS_ERR, "%s", why); /* refused before, by xFits */
        return ovs_hsql_open(s, &x->h, env, env->param->v[P_REAP_INTERVAL]);
    }
    return ovs_redis_stock_open(s, env, &x->redis, env->param->v[P_COMMAND_TIMEOUT]);
}

/* The keys of req into k: the set of holds, the buyer's hold, then stock:<sku> or every
 * night of the stay; room for nargs arguments after them. OVS_OK or OVS_ERR. */
static int keys_of(resv *x, const ovs_request *req, int64_t buyer, int nargs, resv_keys *k)
{
    int inventory = x->base.env->workload == OVS_INVENTORY;
    int units = inventory ? 1 : req->check_out - req->check_in;

    if (units < 1 || units > OVS_MAX_NIGHTS)
        return ovs_strategy_fail(&x->base, OVS_ERR, "a stay of %d nights is outside 1..%d",
                                 units, OVS_MAX_NIGHTS);
    k->n = 2 + units;
    k->key = malloc((size_t)units * sizeof(*k->key));
    k->kv = malloc((size_t)(k->n + nargs) * sizeof(*k->kv));
    if (k->key == NULL || k->kv == NULL) {
        free(k->key);
        free(k->kv);
        return ovs_strategy_fail(&x->base, OVS_ERR, "out of memory");
    }
    const char *prefix = OVS_KEY_PREFIX(x->base.env);
    ovs_hold_key(prefix, buyer, k->hold, sizeof(k->hold));
    if (inventory)
        ovs_stock_key(prefix, req->sku, k->key[0], sizeof(k->key[0]));
    for (int i = 0; !inventory && i < units; i++)
        ovs_night_key(prefix, req, i, k->key[i], sizeof(k->key[i]));
    k->kv[0] = x->zset;
    k->kv[1] = k->hold;
    for (int i = 0; i < units; i++)
        k->kv[2 + i] = k->key[i];
    return OVS_OK;
}

/* Run sc with nkeys keys and nargs arguments from kv and read its array of n integers
 * into v. The code of ovs_redis_eval, or OVS_ERR for an answer of another shape. */
static int run(resv *x, ovs_script *sc, int nkeys, int nargs, const char *const *kv,
               long long *v, size_t n)
{
    redisReply *reply = NULL;
    int rc = ovs_redis_eval(&x->redis, sc, nkeys, nargs, kv, &reply);

    if (rc != OVS_OK)
        return ovs_strategy_fail(&x->base, rc, "%s", x->redis.errstr);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
        freeReplyObject(reply);
        return ovs_strategy_fail(&x->base, OVS_ERR, "script answered other than %zu integers",
                                 n);
    }
    for (size_t i = 0; i < n; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(reply);
            return ovs_strategy_fail(&x->base, OVS_ERR, "script answered a non-integer");
        }
        v[i] = reply->element[i]->integer;
    }
    freeReplyObject(reply);
    return OVS_OK;
}

/* One step of the request on the teaching timeline, when the run records them. */
static void step(resv *x, const char *key, int64_t t0, int64_t t1, enum ovs_outcome o,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void step(resv *x, const char *key, int64_t t0, int64_t t1, enum ovs_outcome o,
                 const char *fmt, ...)
{
    const ovs_env *env = x->base.env;
    char detail[96];
    va_list ap;

    if (env->event == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    env->event(env->event_ctx, key, t0, t1, o, detail);
}

/* A compensation that found its hold already settled: the expiry gave the unit back. Short
 * enough for a column of explain's timeline. */
#define RESV_SAID_BACK_ALREADY "hold expired, unit already back"

/* The instant the hold ran out, as its own step of the timeline, when it ran out before
 * the step at now_ns that found it so: the expiry itself sends no event, and without it a
 * late confirm or release reads as if the hold had been live. */
static void expired_step(resv *x, const char *key, int64_t expires_at, int64_t now_ns)
{
    if (expires_at < now_ns)
        step(x, key, expires_at, expires_at, OVS_OUT_OK, "hold expired (%.0f ms TTL)",
             x->base.env->param->v[P_HOLD_TTL]);
}

/* A hold this instance could not settle: its fate is the TTL's, and xClose waits it out. */
static void owe(resv *x, int64_t reserved_at)
{
    int64_t until = reserved_at + (int64_t)(x->base.env->param->v[P_HOLD_TTL] * OVS_NS_PER_MS);

    if (until > x->owed_until)
        x->owed_until = until;
}

enum { PAY_CRASHED = -1, PAY_DECLINED = 0, PAY_PAID = 1 };

/* The payment: think time, the provider's latency and jitter, then paid or declined with
 * probability pay_fail; PAY_CRASHED when the client crashed while it waited. Draws in a
 * fixed order, so a client's run repeats. */
static int pay(resv *x, int64_t think_ns, const char *hold)
{
    const double *v = x->base.env->param->v;
    double jitter = v[P_PAY_JITTER] * ovs_rng_unit(&x->rng);
    int declined = ovs_rng_unit(&x->rng) < v[P_PAY_FAIL];
    int64_t ns = think_ns + (int64_t)((v[P_PAY_LATENCY] + jitter) * OVS_NS_PER_MS);
    int64_t t0 = ovs_now_ns();

    if (ovs_crash_sleep(x->base.env->crash, ns)) {
        step(x, hold, t0, ovs_crashed(x->base.env->crash), OVS_OUT_UNKNOWN,
             "pay: client crashed; hold left open");
        return PAY_CRASHED;
    }
    step(x, hold, t0, ovs_now_ns(), declined ? OVS_OUT_FAIL : OVS_OUT_OK, "pay %.1f ms: %s",
         (double)ns / 1e6, declined ? "declined" : "paid");
    return declined ? PAY_DECLINED : PAY_PAID;
}

/* The request's code when the client crashed during the payment: nobody confirms or
 * compensates, and the buyer never hears. */
static int crashed_paying(resv *x, int64_t reserved_at)
{
    int64_t until = reserved_at + (int64_t)(x->base.env->param->v[P_HOLD_TTL] * OVS_NS_PER_MS);

    if (until > x->crash_owed_until)
        x->crash_owed_until = until;
    return ovs_strategy_fail(&x->base, OVS_ERR_IO, "client crashed during the payment");
}

/* The same flow on SQL holds: the stock, the holds and the order are the shop's rows. */
static int execute_sql(resv *x, const ovs_request *req, int64_t buyer, int64_t think_ns)
{
    ovs_strategy *s = &x->base;
    const double *v = s->env->param->v;
    char key[OVS_HOLD_KEY_MAX], stock[OVS_STOCK_KEY_MAX];
    enum ovs_hsql_confirm got;
    int64_t expires_ms = 0;
    int rc, released;

    ovs_hold_key(OVS_KEY_PREFIX(s->env), buyer, key, sizeof(key));
    ovs_stock_key(OVS_KEY_PREFIX(s->env), req->sku, stock, sizeof(stock));
    int64_t t0 = ovs_now_ns();
    rc = ovs_hsql_reserve(s, &x->h, req, buyer, v[P_HOLD_TTL], &expires_ms);
    int64_t t1 = ovs_now_ns();
    if (rc == OVS_ERR_IO)
        owe(x, t1);
    if (rc == OVS_REFUSED) {
        step(x, key, t0, t1, OVS_OUT_FAIL, "hold %s: sold out", stock);
        return ovs_strategy_fail(s, OVS_REFUSED, "nothing to hold");
    }
    if (rc != OVS_OK)
        return rc;
    step(x, key, t0, t1, OVS_OUT_OK, "hold %s for %.0f ms", stock, v[P_HOLD_TTL]);
    int64_t expires_at = t0 + (t1 - t0) / 2 + (int64_t)(v[P_HOLD_TTL] * OVS_NS_PER_MS);

    int paid = pay(x, think_ns, key);
    if (paid == PAY_CRASHED)
        return crashed_paying(x, t1);
    if (paid == PAY_DECLINED) {
        int64_t c0 = ovs_now_ns();
        if (ovs_hsql_release(s, &x->h, req, buyer, &released) != OVS_OK) {
            owe(x, t1);
            step(x, key, c0, ovs_now_ns(), OVS_OUT_UNKNOWN, "release: %s", s->errstr);
        } else {
            expired_step(x, key, expires_at, c0);
            step(x, key, c0, ovs_now_ns(), OVS_OUT_OK, "release: %s",
                 released ? "unit back on sale" : RESV_SAID_BACK_ALREADY);
        }
        return ovs_strategy_fail(s, OVS_REFUSED, "%s", OVS_SAID_DECLINED);
    }
    int64_t c0 = ovs_now_ns();
    int late = ovs_holds_clock_ms() >= expires_ms;
    rc = ovs_hsql_confirm(s, &x->h, req, buyer, v[P_CONFIRM_CHECK] >= 1, &got);
    int64_t c1 = ovs_now_ns();
    if (rc != OVS_OK) {
        owe(x, t1);
        return rc;
    }
    if (late)
        expired_step(x, key, expires_at, c0);
    switch (got) {
    case OVS_HSQL_SOLD:
        step(x, key, c0, c1, OVS_OUT_OK, "%s",
             late ? "confirm: sold, hold expired (no check)" : "confirm: sold");
        return OVS_OK;
    case OVS_HSQL_EXPIRED_REFUSED:
        step(x, key, c0, c1, OVS_OUT_FAIL, "confirm: hold expired, unit back; refunded");
        return ovs_strategy_fail(s, OVS_REFUSED, "the hold expired before the payment completed");
    default:
        return ovs_strategy_fail(s, OVS_ERR, "%s: no hold to confirm", key);
    }
}

static int resv_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                        int64_t think_ns)
{
    resv *x = (resv *)s;
    const double *v = s->env->param->v;
    char ttl[24], guest[24], sku[16];
    long long a[3];
    resv_keys k;
    int rc;

    s->attempts = 1;
    if (x->sql)
        return execute_sql(x, req, buyer, think_ns);
    if (keys_of(x, req, buyer, 3, &k) != OVS_OK)
        return s->err;
    snprintf(ttl, sizeof(ttl), "%.0f", v[P_HOLD_TTL]);
    snprintf(guest, sizeof(guest), "%lld", (long long)buyer);
    snprintf(sku, sizeof(sku), "%d", s->env->workload == OVS_INVENTORY ? req->sku : 0);
    k.kv[k.n] = ttl;
    k.kv[k.n + 1] = guest;
    k.kv[k.n + 2] = sku;

    /* Reserve. */
    int64_t t0 = ovs_now_ns();
    rc = run(x, &x->reserve, k.n, 3, k.kv, a, 3);
    int64_t t1 = ovs_now_ns();
    if (rc == OVS_ERR_IO)
        owe(x, t1); /* the hold may exist: it expires by itself */
    if (rc != OVS_OK)
        goto out;
    if (a[0] == -1) {
        rc = ovs_strategy_fail(s, OVS_ERR, "%s already has a hold record", k.hold);
        goto out;
    }
    if (a[0] == 0) {
        step(x, k.hold, t0, t1, OVS_OUT_FAIL, "hold %s: %s%s", k.key[0],
             s->env->workload == OVS_INVENTORY ? "sold out" : "taken",
             a[2] > 0 ? " (after returning expired holds)" : "");
        rc = ovs_strategy_fail(s, OVS_REFUSED, "nothing to hold");
        goto out;
    }
    if (a[2] > 0)
        step(x, k.hold, t0, t1, OVS_OUT_OK, "hold %s for %s ms; %lld expired back", k.key[0],
             ttl, a[2]);
    else
        step(x, k.hold, t0, t1, OVS_OUT_OK, "hold %s for %s ms", k.key[0], ttl);
    /* When the hold runs out, as far as this clock can tell: the script read Redis's
     * clock somewhere between t0 and t1. */
    int64_t expires_at = t0 + (t1 - t0) / 2 + (int64_t)(v[P_HOLD_TTL] * OVS_NS_PER_MS);

    int paid = pay(x, think_ns, k.hold);
    if (paid == PAY_CRASHED) {
        rc = crashed_paying(x, t1);
        goto out;
    }
    if (paid == PAY_DECLINED) {
        /* Compensate: the unit goes back on sale unless the hold expired already. */
        int64_t c0 = ovs_now_ns();
        rc = run(x, &x->release, 2, 0, k.kv, a, 2);
        if (rc != OVS_OK) {
            owe(x, t1);
            step(x, k.hold, c0, ovs_now_ns(), OVS_OUT_UNKNOWN, "release: %s", s->errstr);
        } else {
            expired_step(x, k.hold, expires_at, c0);
            step(x, k.hold, c0, ovs_now_ns(), OVS_OUT_OK, "release: %s",
                 a[0] == 1 ? "unit back on sale" : RESV_SAID_BACK_ALREADY);
        }
        /* The buyer certainly did not buy, whatever became of the release. */
        rc = ovs_strategy_fail(s, OVS_REFUSED, "%s", OVS_SAID_DECLINED);
        goto out;
    }

    /* Confirm. */
    const char *cargs[4] = { k.kv[0], k.kv[1], v[P_CONFIRM_CHECK] >= 1 ? "1" : "0", guest };
    int64_t c0 = ovs_now_ns();
    rc = run(x, &x->confirm, 2, 2, cargs, a, 2);
    int64_t c1 = ovs_now_ns();
    if (rc != OVS_OK) {
        owe(x, t1); /* never sent or answer lost: the hold is open, or may be */
        goto out;
    }
    if (a[0] != 1)
        expired_step(x, k.hold, expires_at, c0);
    if (a[0] == -1) {
        /* Its record is gone: a Redis that restarted without it. Nothing to sell. */
        step(x, k.hold, c0, c1, OVS_OUT_FAIL, "confirm: no such hold (lost); refunded");
        rc = ovs_strategy_fail(s, OVS_REFUSED, "the hold was lost before the payment completed");
    } else if (a[0] == 0) {
        step(x, k.hold, c0, c1, OVS_OUT_FAIL, "confirm: hold expired, unit back; refunded");
        rc = ovs_strategy_fail(s, OVS_REFUSED, "the hold expired before the payment completed");
    } else {
        step(x, k.hold, c0, c1, OVS_OUT_OK, "%s",
             a[0] == 1 ? "confirm: sold" : "confirm: sold, hold expired (no check)");
        rc = ovs_redis_stock_hand_over(s, req, buyer);
    }
out:
    free(k.key);
    free(k.kv);
    return rc;
}

static void resv_close(ovs_strategy *s)
{
    resv *x = (resv *)s;

    if (ovs_crashed(s->env ? s->env->crash : NULL) != 0) {
        /* A dead client settles nothing. The reaper is the shop's, not the client's: it
         * is kept running until the crashed client's last hold has expired and one pass
         * has come by, so that it is the reaper that returns it. */
        int64_t held_until = x->crash_owed_until;
        if (x->sql && held_until > 0)
            ovs_sleep_until(held_until + x->h.interval_ns + RESV_CLOCK_SLACK_NS);
        if (x->sql)
            ovs_hsql_close(&x->h);
        else
            ovs_redis_close(&x->redis);
        return;
    }
    if (x->sql) {
        /* The same settling on the shop's rows; the reaper stops after. */
        if (x->owed_until > 0 && x->h.c.db != NULL) {
            ovs_sleep_until(x->owed_until + RESV_CLOCK_SLACK_NS);
            (void)ovs_hsql_reap_now(s, &x->h);
        }
        ovs_hsql_close(&x->h);
        return;
    }

    /* Only a script gives an expired unit back: wait the last open hold out, then sweep,
     * so the run ends with every hold this instance took settled. A lost answer here
     * leaves the hold for the next sweep; the harness then sees it as leaked. */
    if (x->owed_until > 0 && x->redis.ep.port > 0) {
        const char *kv[1] = { x->zset };
        long long a[2];
        ovs_sleep_until(x->owed_until + RESV_CLOCK_SLACK_NS);
        /* A pass gives back at most 1000: again while a pass was full. */
        for (int pass = 0; pass < 1000; pass++)
            if (run(x, &x->sweep, 1, 0, kv, a, 2) != OVS_OK || a[0] < 1000)
                break;
    }
    ovs_redis_close(&x->redis);
}

/* One Redis for the stock and the holds; none when both are the shop's. */
static int resv_nodes(const ovs_params *p)
{
    return p->v[P_HOLDS] >= 1 ? 0 : 1;
}

/* Safe as claimed only when the confirm checks the hold. */
static int resv_claims(const ovs_params *p, const char *backend, enum ovs_workload w)
{
    (void)backend;
    (void)w;
    return p->v[P_CONFIRM_CHECK] >= 1;
}

const ovs_strategy_methods ovs_strategy_reservation = {
    .version = 5,
    .name = "reservation",
    .summary = "checkout hold with a TTL while a simulated payment runs; confirm sells it,"
               " a declined payment or an expiry gives it back",
    .redis_stock = 1,
    .claims_safe = 1,
    .size = sizeof(resv),
    .params = resv_params,
    .n_params = sizeof(resv_params) / sizeof(resv_params[0]),
    .xNodes = resv_nodes,
    .xPrepare = resv_prepare,
    .xOpen = resv_open,
    .xExecute = resv_execute,
    .xClose = resv_close,
    .xClaims = resv_claims,
    .xFits = resv_fits,
};
