/* redis_stock.h - stock kept in Redis: what lua-decr and redis-check-then-decr sell from.
 *
 * Inventory: `stock:<sku>` holds the units left. Booking: a room-night is one unit of stock,
 * the way a hotel sells rooms; `night:<hotel>:<room>:<YYYY-MM-DD>` exists once that night
 * is taken. Both
 * strategies start from the same state, so a scenario compares them on equal terms. */
#ifndef OVS_REDIS_STOCK_H
#define OVS_REDIS_STOCK_H

#include <stddef.h>

#include "core/keys.h"
#include "locks/strategy.h"

/* The script lua-decr sells one unit with: KEYS[1] is stock:<sku>; when the stock is above
 * zero it decrements it and returns 1, else returns 0. Here rather than in lua_decr.c so
 * that `oversell bench` measures its ceiling with the very script the strategy runs. */
extern const char ovs_redis_stock_decr_src[];

/* xPrepare for them, once per run on env->redis[0]: SET stock:<sku> to env->stock for
 * every one of env->skus, or remove every taken night an earlier run left. Returns OVS_OK
 * or OVS_ERR with s->errstr. */
int ovs_redis_stock_prepare(ovs_strategy *s, const ovs_env *env);
/* Room for a night key, NUL included, with every number at its widest (41 bytes for
 * "night:<hotel>:<room>:YYYY-MM-DD"; snprintf cuts rather than overruns beyond). The
 * stock key is core's (core/keys.h): more layers than this one name it. */
#define OVS_NIGHT_KEY_MAX 48
/* The key of night i (0-based) of the stay. */
void ovs_night_key(const ovs_request *req, int i, char *buf, size_t len);

#endif
