/* recovery.c - what the shop does about a Redis node that restarted without its data.
 *
 * Strategies that keep stock in Redis lose it when their node restarts with nothing (or
 * an old snapshot) on disk. A shop then re-warms Redis from its source of truth, SQL -
 * with or without the orders still on their way there (the crash-before-write-back
 * scenarios). That reads the shop and the write-back queue, which is why it is the
 * engine's business and not the topology's, which only restarts the process. */
#include "engine/recovery.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/keys.h"
#include "core/util.h"
#include "engine/shop.h"
#include "engine/writeback.h"
#include "infra/topology.h"

/* The write-back queue is held while SQL and the queue are read, so the pair is one
 * consistent state. */
int ovs_recover(const ovs_scenario *sc, const ovs_shop_loc *shop_loc, const ovs_endpoint *node,
                enum ovs_recovery how, ovs_writeback *wb, char *what, size_t whatlen,
                char *err, size_t errlen)
{
    ovs_shop *shop = NULL;
    redisContext *c = NULL;
    int rc = -1;
    size_t used;

    if (how == OVS_RECOVER_NONE || sc->workload != OVS_INVENTORY)
        return 0;
    if (ovs_shop_open(shop_loc, &shop, err, errlen) != 0)
        return -1;
    c = ovs_topology_connect(node, err, errlen);
    if (c == NULL)
        goto out;
    if (wb)
        ovs_writeback_hold(wb, 1);
    used = strlen(what);
    for (int sku = 1; sku <= sc->skus; sku++) {
        int64_t stock;
        if (ovs_shop_stock(shop, sku, &stock) != 0) {
            ovs_seterr(err, errlen, "recovery: %s", ovs_shop_errmsg(shop));
            goto release;
        }
        /* Counted whatever the rule, so the figure says what was queued; only
         * reconcile takes it off. */
        int pending = wb ? ovs_writeback_pending_sku(wb, sku) : 0;
        int64_t v = how == OVS_RECOVER_RECONCILE ? stock - pending : stock;
        char key[OVS_STOCK_KEY_MAX];
        ovs_stock_key(NULL, sku, key, sizeof(key)); /* a restart: never on a user's server */
        redisReply *r = redisCommand(c, "SET %s %lld", key, (long long)v);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            ovs_seterr(err, errlen, "recovery SET: %s", r ? r->str : c->errstr);
            freeReplyObject(r);
            goto release;
        }
        freeReplyObject(r);
        if (sku == 1 && used < whatlen)
            /* Short: an event's detail holds 63 bytes, and "restarted (no persistence)"
             * comes first. */
            snprintf(what + used, whatlen - used,
                     how == OVS_RECOVER_RECONCILE ? "; stock:1 = %lld = sql %lld - %d queued"
                                                  : "; stock:1 = %lld = sql %lld (%d queued)",
                     (long long)v, (long long)stock, pending);
    }
    rc = 0;
release:
    if (wb)
        ovs_writeback_hold(wb, 0);
out:
    redisFree(c);
    ovs_shop_close(shop);
    return rc;
}

