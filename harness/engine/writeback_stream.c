/* writeback_stream.c - the consumer of the write-back stream (writeback_stream.h).
 *
 * One thread, one Redis connection, one shop connection. It takes one entry at a time
 * (COUNT 1), so an entry waiting for its due time waits in Redis, not in the consumer's
 * memory: a queue's lag is entries its broker holds, and what a crash of that broker
 * loses. The consumer itself stays alive across a Redis restart, as a real one does: it
 * reconnects, acknowledges again the entry it applied while Redis was away, makes the
 * group again if the restart lost it, and first reads its own pending entries (id 0) -
 * delivered before the crash, their reply lost with the connection - before new ones. */
#include "engine/writeback_stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/keys.h"
#include "core/util.h"
#include "engine/shop.h"
#include "locks/redis_conn.h"

#define WS_COMMAND_MS 1000
#define WS_BLOCK_MS 20              /* XREADGROUP's wait for a new entry */
#define WS_RETRY_MS 10              /* between attempts to reach a Redis that is away */
#define WS_AWAY_MAX_NS (10 * OVS_NS_PER_S) /* longer than any scenario's restart: give up */
#define WS_ID_MAX 48                /* "<ms>-<seq>", both 64-bit */

struct ovs_wbstream {
    pthread_t thread;
    int started;           /* the thread exists and must be joined */
    atomic_int stopping;   /* drain asked: the buyers are done, read the stream to its end */
    ovs_redis redis;       /* the consumer's connection; the thread's alone */
    ovs_shop *shop;        /* the consumer's own shop connection */
    int64_t delay_ns;      /* writeback_delay */
    int crash_after;       /* queue_consumer_crash, 0: never */
    int64_t claim_idle_ns; /* queue_claim_idle */
    char key[OVS_KEY_PREFIX_MAX + sizeof(OVS_QUEUE_STREAM_KEY)]; /* the run's key prefix,
                              then OVS_QUEUE_STREAM_KEY */
    char name[8];          /* the consumer in the group: "c1", then "c2" after the crash */
    int applied;           /* applies done by c1 (what the crash counts) */
    int crashed;           /* c1 has died */
    int64_t crashed_at;    /* monotonic ns of its death */
    int claiming;          /* c2 claims c1's pending entries before reading new ones */
    int history;           /* read this consumer's own pending entries (id 0) first */
    char unacked[WS_ID_MAX]; /* applied, its XACK not answered: sent again on reconnect */
    int failures;          /* entries that could not be applied */
    char error[200];       /* why the run cannot be judged, "" when it can */
    ovs_trace trace;
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * OVS_NS_PER_S + ts.tv_nsec;
}

/* The group, made (with the stream) if missing. From id 0: entries added to a stream that
 * a restart emptied, before the group was made again, are the queue's too. */
static int make_group(ovs_redis *r, const char *key)
{
    redisReply *reply;
    int rc = ovs_redis_cmd(r, &reply, "XGROUP CREATE %s %s 0 MKSTREAM", key, OVS_QUEUE_GROUP);

    if (rc == OVS_OK)
        freeReplyObject(reply);
    else if (rc == OVS_ERR && strstr(r->errstr, "BUSYGROUP") != NULL)
        rc = OVS_OK; /* it survived */
    return rc;
}

/* Connected, the unanswered XACK sent again and the group there: OVS_OK, or the code of
 * the step that failed. */
static int ready(ovs_wbstream *q)
{
    redisReply *reply;
    int fresh = q->redis.c == NULL;
    int rc = ovs_redis_connect(&q->redis);

    if (rc != OVS_OK || !fresh)
        return rc;
    if (q->unacked[0] != '\0') {
        /* An entry the restart lost is acknowledged as 0 entries: nothing to redo. */
        rc = ovs_redis_cmd(&q->redis, &reply, "XACK %s %s %s", q->key,
                           OVS_QUEUE_GROUP, q->unacked);
        if (rc != OVS_OK) {
            ovs_redis_close(&q->redis); /* refused or unanswered: again on the next try */
            return OVS_ERR_IO;
        }
        freeReplyObject(reply);
        q->unacked[0] = '\0';
    }
    if ((rc = make_group(&q->redis, q->key)) == OVS_OK)
        q->history = 1;
    else
        ovs_redis_close(&q->redis); /* LOADING, say: all of this again on the next try */
    return rc;
}

/* Entry e ([id, [field, value, ...]]) into id, sku and buyer: 1, or 0 for an entry whose
 * fields are gone (deleted while pending) or not the sale script's. */
static int parse_entry(const redisReply *e, char *id, int *sku, long long *buyer)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    snprintf(id, WS_ID_MAX, "%s", e->element[0]->str);
    const redisReply *f = e->element[1];
    int have = 0;
    for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->element[i]->str, "sku") == 0) {
            *sku = atoi(f->element[i + 1]->str);
            have |= 1;
        } else if (strcmp(f->element[i]->str, "buyer") == 0) {
            *buyer = atoll(f->element[i + 1]->str);
            have |= 2;
        }
    }
    return have == 3;
}

/* The consumer's death after an apply: its connection goes, its pending entries stay
 * with it in the group, and the next consumer will claim them. */
static void crash(ovs_wbstream *q, const char *id)
{
    char detail[WS_ID_MAX + 64];
    int64_t now = ovs_now_ns();

    ovs_redis_close(&q->redis);
    snprintf(detail, sizeof(detail), "consumer %s crashed after applying %s, before XACK",
             q->name, id);
    ovs_trace_add(&q->trace, -1, OVS_OP_FAULT, "consumer:" OVS_QUEUE_GROUP, now, now,
                  OVS_OUT_OK, detail);
    q->crashed = 1;
    q->crashed_at = now;
    q->claiming = 1;
    snprintf(q->name, sizeof(q->name), "c2");
}

/* Apply one entry at its due time, then acknowledge it. Returns the code of a Redis
 * command that failed (the entry is then acknowledged once Redis is back), else OVS_OK. */
static int process(ovs_wbstream *q, const redisReply *e)
{
    char id[WS_ID_MAX], key[OVS_KEY_MAX], err[160], detail[OVS_KEY_MAX + 80];
    int sku = 0, applied = 0;
    long long buyer = -1;
    redisReply *reply;

    if (!parse_entry(e, id, &sku, &buyer)) {
        /* Deleted while pending, or not a sale's: nothing to apply. Acknowledged, so
         * that it is not read again. */
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            return ovs_redis_expect(&q->redis, NULL, REDIS_REPLY_ARRAY, "stream entry");
        int rc = ovs_redis_cmd(&q->redis, &reply, "XACK %s %s %s", q->key,
                               OVS_QUEUE_GROUP, e->element[0]->str);
        if (rc == OVS_OK)
            freeReplyObject(reply);
        return rc;
    }
    /* The entry id's first part is Redis's clock, in milliseconds, when it was added. */
    int64_t due = atoll(id) * OVS_NS_PER_MS + q->delay_ns, wait = due - wall_ns();
    if (wait > 0)
        ovs_sleep_ns(wait);
    ovs_request r;
    memset(&r, 0, sizeof(r));
    r.sku = sku;
    int64_t t = ovs_now_ns();
    int rc = ovs_shop_apply_entry(q->shop, &r, buyer, id, &applied, err, sizeof(err));
    snprintf(key, sizeof(key), "sku:%d", sku);
    if (rc == OVS_OK)
        snprintf(detail, sizeof(detail), "%s by %s%s", id, q->name,
                 applied ? "" : ": applied before, nothing written");
    else
        snprintf(detail, sizeof(detail), "%s by %s: %.60s", id, q->name, err);
    ovs_trace_add(&q->trace, (int)buyer, OVS_OP_WRITEBACK, key, t, ovs_now_ns(),
                  rc == OVS_OK ? OVS_OUT_OK : OVS_OUT_FAIL, detail);
    q->failures += rc != OVS_OK;
    if (!q->crashed && q->crash_after > 0 && ++q->applied == q->crash_after) {
        crash(q, id);
        return OVS_OK;
    }
    rc = ovs_redis_cmd(&q->redis, &reply, "XACK %s %s %s", q->key,
                       OVS_QUEUE_GROUP, id);
    if (rc == OVS_OK) {
        freeReplyObject(reply);
        return OVS_OK;
    }
    /* Not acknowledged, whatever the reason (no answer, or a refusal such as NOREPLICAS or
     * LOADING): left pending it would be read again after the next reconnect and applied
     * twice. So it is sent again on that reconnect, which a refusal forces now. */
    snprintf(q->unacked, sizeof(q->unacked), "%s", id);
    ovs_redis_close(&q->redis);
    return OVS_ERR_IO;
}

/* The next consumer takes over what the dead one left pending, once it has been idle
 * claim_idle: one entry per XAUTOCLAIM, until the cursor comes back to 0-0 empty. Returns
 * a failed command's code, else OVS_OK (with q->claiming cleared when done). */
static int claim(ovs_wbstream *q)
{
    int64_t wait = q->crashed_at + q->claim_idle_ns - ovs_now_ns();
    redisReply *reply;

    if (wait > 0)
        ovs_sleep_ns(wait);
    long long idle_ms = q->claim_idle_ns / OVS_NS_PER_MS;
    int rc = ovs_redis_cmd(&q->redis, &reply, "XAUTOCLAIM %s %s %s %lld 0-0 COUNT 1",
                           q->key, OVS_QUEUE_GROUP, q->name, idle_ms);
    if (rc != OVS_OK)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return ovs_redis_expect(&q->redis, NULL, REDIS_REPLY_ARRAY, "XAUTOCLAIM");
    }
    const redisReply *got = reply->element[1];
    if (got->elements == 0)
        q->claiming = 0; /* COUNT 1 from 0-0 each time: empty means nothing is left */
    else
        rc = process(q, got->element[0]);
    freeReplyObject(reply);
    return rc;
}

/* One XREADGROUP: this consumer's own pending entries while q->history, new ones after.
 * Sets *idle when there was nothing to read. */
static int read_next(ovs_wbstream *q, int *idle)
{
    redisReply *reply;
    int rc;

    *idle = 0;
    if (q->history)
        rc = ovs_redis_cmd(&q->redis, &reply, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s 0",
                           OVS_QUEUE_GROUP, q->name, q->key);
    else
        rc = ovs_redis_cmd(&q->redis, &reply,
                           "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d STREAMS %s >",
                           OVS_QUEUE_GROUP, q->name, WS_BLOCK_MS, q->key);
    if (rc == OVS_ERR && strstr(q->redis.errstr, "NOGROUP") != NULL)
        return make_group(&q->redis, q->key); /* a restart without persistence took it */
    if (rc != OVS_OK)
        return rc;
    /* [[stream, [entry, ...]]], or nil after BLOCK with nothing new. */
    const redisReply *entries = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        entries = reply->element[0]->element[1];
    if (entries == NULL || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        if (q->history)
            q->history = 0;
        else
            *idle = 1;
    } else {
        rc = process(q, entries->element[0]);
    }
    freeReplyObject(reply);
    return rc;
}

static void *ws_main(void *arg)
{
    ovs_wbstream *q = arg;
    int64_t away_since = 0;

    for (;;) {
        int idle = 0, rc = ready(q);
        if (rc == OVS_OK)
            rc = q->claiming ? claim(q) : read_next(q, &idle);
        if (rc == OVS_OK) {
            away_since = 0;
            /* The buyers are done and nothing new came within a BLOCK: all is read. */
            if (idle && atomic_load(&q->stopping))
                break;
            continue;
        }
        /* Redis is away (killed, restarting) or refused: try again, for a bounded time. */
        int64_t now = ovs_now_ns();
        if (away_since == 0)
            away_since = now;
        if (now - away_since > WS_AWAY_MAX_NS) {
            snprintf(q->error, sizeof(q->error),
                     "write-back stream: Redis out of reach for %lld s, the queue was not "
                     "read to its end: %.100s",
                     (long long)(WS_AWAY_MAX_NS / OVS_NS_PER_S), q->redis.errstr);
            break;
        }
        ovs_sleep_ns(WS_RETRY_MS * OVS_NS_PER_MS);
    }
    ovs_redis_close(&q->redis);
    return NULL;
}

int ovs_wbstream_start(ovs_wbstream **out, const ovs_shop_loc *shop, const ovs_endpoint *redis,
                       const char *prefix, const ovs_scenario *sc, char *err, size_t errlen)
{
    ovs_wbstream *q = calloc(1, sizeof(*q));
    redisReply *reply;

    *out = NULL;
    if (q == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(&q->stopping, 0);
    q->delay_ns = sc->writeback_delay_ns;
    q->crash_after = sc->queue.consumer_crash;
    q->claim_idle_ns = sc->queue.claim_idle_ns;
    snprintf(q->name, sizeof(q->name), "c1");
    snprintf(q->key, sizeof(q->key), "%s%s", prefix != NULL ? prefix : "",
             OVS_QUEUE_STREAM_KEY);
    ovs_redis_init(&q->redis, redis, 1000, WS_COMMAND_MS);
    int rc = ovs_redis_cmd(&q->redis, &reply, "DEL %s", q->key);
    if (rc == OVS_OK) {
        freeReplyObject(reply);
        rc = make_group(&q->redis, q->key);
    }
    if (rc != OVS_OK) {
        ovs_seterr(err, errlen, "stream: %s", q->redis.errstr);
        ovs_wbstream_free(q);
        return -1;
    }
    if (ovs_shop_open(shop, &q->shop, err, errlen) != 0) {
        ovs_wbstream_free(q);
        return -1;
    }
    if (pthread_create(&q->thread, NULL, ws_main, q) != 0) {
        ovs_seterr(err, errlen, "cannot start the write-back consumer");
        ovs_wbstream_free(q);
        return -1;
    }
    q->started = 1;
    *out = q;
    return 0;
}

int ovs_wbstream_drain(ovs_wbstream *q)
{
    if (q->started) {
        atomic_store(&q->stopping, 1);
        pthread_join(q->thread, NULL);
        q->started = 0;
    }
    return q->failures;
}

int ovs_wbstream_error(const ovs_wbstream *q, char *err, size_t errlen)
{
    if (q->error[0] != '\0') {
        ovs_seterr(err, errlen, "%s", q->error);
        return -1;
    }
    if (q->crash_after > 0 && !q->crashed) {
        ovs_seterr(err, errlen, "queue_consumer_crash = %d never happened: the consumer "
                   "applied %d order(s)", q->crash_after, q->applied);
        return -1;
    }
    return 0;
}

ovs_trace *ovs_wbstream_trace(ovs_wbstream *q)
{
    return &q->trace;
}

const char *ovs_wbstream_key(const ovs_wbstream *q)
{
    return q->key;
}

void ovs_wbstream_free(ovs_wbstream *q)
{
    if (q == NULL)
        return;
    ovs_wbstream_drain(q);
    ovs_redis_close(&q->redis);
    ovs_shop_close(q->shop);
    ovs_trace_free(&q->trace);
    free(q);
}
