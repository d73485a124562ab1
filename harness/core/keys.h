/* keys.h - the Redis keys that more than one layer names, spelled in one place.
 *
 * `stock:<sku>` holds the units left of one SKU for the strategies that sell from Redis
 * (locks/redis_stock.h seeds it, lua-decr and redis-check-then-decr sell from it); the
 * shop re-warms it after a node restart (engine/recovery.c), the divergence check reads it
 * after the run (infra/topology.c) and `oversell bench` measures its ceiling on it. Those
 * are four layers, so the spelling lives in the one below them all. */
#ifndef OVS_KEYS_H
#define OVS_KEYS_H

#include <stddef.h>

/* Room for a stock key, NUL included: "stock:" and an int at its widest. */
#define OVS_STOCK_KEY_MAX 24

/* "stock:<sku>" into buf. */
void ovs_stock_key(int sku, char *buf, size_t len);

/* Room for a stock bucket key, NUL included: two ints at their widest. */
#define OVS_STOCK_BUCKET_KEY_MAX 40
/* "stock:{sku:<sku>:b<b>}" into buf: bucket b of a SKU whose stock lua-decr's `buckets`
 * splits over several keys. Each its own hash tag, so the buckets spread over a cluster's
 * shards; the divergence check (infra/topology.c) sums them. */
void ovs_stock_bucket_key(int sku, int b, char *buf, size_t len);

#endif
