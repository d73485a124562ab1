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

/* The write-back queue as a Redis Stream (`[scenario] queue = stream`): the sale's script
 * XADDs each order here (locks/redis_stock.c) and the harness's consumer group reads it
 * (engine/writeback_stream.c), on the stock's own Redis. */
#define OVS_QUEUE_STREAM_KEY "orders:queue"
#define OVS_QUEUE_GROUP "writeback"

/* Room for a stock key, NUL included: "stock:" and an int at its widest. */
#define OVS_STOCK_KEY_MAX 24

/* "stock:<sku>" into buf. */
void ovs_stock_key(int sku, char *buf, size_t len);

#endif
