/* holds.c - checkout holds read back from Redis after a run, for the checker. */
#include "engine/holds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/util.h"
#include "infra/topology.h"
#include "locks/holds.h"

/* The server's clock in ms, the one the strategy's scripts stamp holds with. */
static int server_ms(redisContext *c, long long *ms, char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "TIME");
    int ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;

    if (ok)
        *ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
              strtoll(r->element[1]->str, NULL, 10) / 1000;
    else
        ovs_seterr(err, errlen, "TIME: %s", r == NULL ? c->errstr : "unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Open holds: live ones hold their unit; expired ones were never given back. */
static int read_open(redisContext *c, const char *zset, long long now, ovs_hold_facts *f,
                     char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", zset);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        ovs_seterr(err, errlen, "ZRANGE %s: %s", zset,
                   r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 1; i < r->elements; i += 2) {
        long long expires = strtoll(r->element[i]->str ? r->element[i]->str : "0", NULL, 10);
        if (expires > now)
            f->open_live++;
        else
            f->open_expired++;
    }
    freeReplyObject(r);
    return 0;
}

/* The record as a row for the results database; room is made as it goes. */
static int keep_row(ovs_hold_facts *f, const redisReply *r, char *err, size_t errlen)
{
    if ((f->nrows & (f->nrows - 1)) == 0) { /* 0, 1, 2, 4...: double */
        size_t cap = f->nrows ? 2 * f->nrows : 16;
        ovs_hold_row *rows = realloc(f->rows, cap * sizeof(*rows));
        if (rows == NULL) {
            ovs_seterr(err, errlen, "out of memory");
            return -1;
        }
        f->rows = rows;
    }
    ovs_hold_row *w = &f->rows[f->nrows++];
    const redisReply *const *e = (const redisReply *const *)r->element;
    w->expires_ms = strtoll(e[1]->str, NULL, 10);
    w->settled_ms = e[2]->type == REDIS_REPLY_STRING ? strtoll(e[2]->str, NULL, 10) : -1;
    w->buyer = strtoll(e[3]->str, NULL, 10);
    w->sku = e[4]->type == REDIS_REPLY_STRING ? strtoll(e[4]->str, NULL, 10) : 0;
    w->created_ms = e[5]->type == REDIS_REPLY_STRING ? strtoll(e[5]->str, NULL, 10) : -1;
    snprintf(w->state, sizeof(w->state), "%s", e[0]->str);
    return 0;
}

void ovs_hold_facts_free(ovs_hold_facts *f)
{
    free(f->rows);
    f->rows = NULL;
    f->nrows = 0;
}

/* One hold hash: a confirmed hold is late when it was settled at or after its expiry. */
static int read_record(redisContext *c, const char *key, size_t len, ovs_hold_facts *f,
                       char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "HMGET %b state expires settled buyer sku created", key,
                                 len);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        ovs_seterr(err, errlen, "HMGET %.*s: %s", (int)len, key,
                   r == NULL ? c->errstr : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < 4; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING && i != 2) {
            ovs_seterr(err, errlen, "%.*s: not a hold record", (int)len, key);
            freeReplyObject(r);
            return -1;
        }
    f->records++;
    if (keep_row(f, r, err, errlen) != 0) {
        freeReplyObject(r);
        return -1;
    }
    if (strcmp(r->element[0]->str, OVS_HOLD_CONFIRMED) == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        long long expires = strtoll(r->element[1]->str, NULL, 10);
        long long settled = strtoll(r->element[2]->str, NULL, 10);
        f->confirmed++;
        if (settled >= expires) {
            if (f->late++ == 0 || settled - expires > f->worst_late_ms) {
                f->worst_late_ms = settled - expires;
                f->worst_late_buyer = strtoll(r->element[3]->str, NULL, 10);
            }
        }
    }
    freeReplyObject(r);
    return 0;
}

int ovs_holds_read_redis(const ovs_endpoint *ep, const char *prefix, ovs_hold_facts *f,
                         char *err, size_t errlen)
{
    char cursor[32] = "0", zset[OVS_HOLD_KEY_MAX];
    long long now;
    redisContext *c = ovs_topology_connect(ep, err, errlen);
    int rc = -1;

    memset(f, 0, sizeof(*f));
    if (c == NULL)
        return -1;
    ovs_holds_zset_key(prefix, zset, sizeof(zset));
    if (server_ms(c, &now, err, errlen) != 0 || read_open(c, zset, now, f, err, errlen) != 0)
        goto out;
    f->read_ms = now;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s" OVS_HOLD_PREFIX "* COUNT 1000",
                                     cursor, prefix ? prefix : "");
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            ovs_seterr(err, errlen, "SCAN: %s", r == NULL ? c->errstr : "unexpected reply");
            freeReplyObject(r);
            goto out;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            if (read_record(c, k->str, (size_t)k->len, f, err, errlen) != 0) {
                freeReplyObject(r);
                goto out;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    redisFree(c);
    return rc;
}

/* The worst late confirm: the first row of a query ordered by lateness. */
static int worst_row(void *ctx, const ovs_sqlval *col, int ncol)
{
    ovs_hold_facts *f = ctx;

    if (ncol >= 2) {
        f->worst_late_buyer = col[0].i;
        f->worst_late_ms = col[1].i;
    }
    return 1;
}

int ovs_holds_read_sql(ovs_shop *shop, ovs_hold_facts *f, char *err, size_t errlen)
{
    char q[5][200];
    int64_t *out[5] = { &f->records, &f->open_live, &f->open_expired, &f->confirmed, &f->late };
    int64_t now = ovs_holds_clock_ms();

    memset(f, 0, sizeof(*f));
    f->stock_in_sql = 1;
    snprintf(q[0], sizeof(q[0]), "SELECT count(*) FROM holds");
    snprintf(q[1], sizeof(q[1]), "SELECT count(*) FROM holds WHERE state = '%s'"
             " AND expires_ms > %lld", OVS_HOLD_HELD, (long long)now);
    snprintf(q[2], sizeof(q[2]), "SELECT count(*) FROM holds WHERE state = '%s'"
             " AND expires_ms <= %lld", OVS_HOLD_HELD, (long long)now);
    snprintf(q[3], sizeof(q[3]), "SELECT count(*) FROM holds WHERE state = '%s'",
             OVS_HOLD_CONFIRMED);
    snprintf(q[4], sizeof(q[4]), "SELECT count(*) FROM holds WHERE state = '%s'"
             " AND settled_ms >= expires_ms", OVS_HOLD_CONFIRMED);
    for (int i = 0; i < 5; i++)
        if (ovs_shop_scalar(shop, q[i], out[i]) != 0) {
            ovs_seterr(err, errlen, "holds: %s", ovs_shop_errmsg(shop));
            return -1;
        }
    if (f->late > 0 &&
        ovs_shop_rows(shop, "SELECT buyer, settled_ms - expires_ms FROM holds WHERE state = '"
                      OVS_HOLD_CONFIRMED "' AND settled_ms >= expires_ms"
                      " ORDER BY settled_ms - expires_ms DESC, buyer", worst_row, f) != 0) {
        ovs_seterr(err, errlen, "holds: %s", ovs_shop_errmsg(shop));
        return -1;
    }
    return 0;
}
