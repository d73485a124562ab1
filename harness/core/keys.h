/* keys.h - the Redis keys that more than one layer names, spelled in one place.
 *
 * `stock:<sku>` holds the units left of one SKU for the strategies that sell from Redis
 * (locks/redis_stock.h seeds it, lua-decr and redis-check-then-decr sell from it); the
 * shop re-warms it after a node restart (engine/recovery.c), the divergence check reads it
 * after the run (infra/topology.c) and `oversell bench` measures its ceiling on it. Those
 * are four layers, so the spelling lives in the one below them all.
 *
 * Every key a run writes starts with the run's key prefix: "" on the servers the harness
 * starts (each run has its own, so nothing else shares their keyspace), and
 * "oversell:<hex>:<n>:" on a server of the user's (`--redis`), where the run shares the
 * keyspace with whatever else lives there and must find, and afterwards delete, exactly
 * its own keys. */
#ifndef OVS_KEYS_H
#define OVS_KEYS_H

#include <stddef.h>

/* The write-back queue as a Redis Stream (`[scenario] queue = stream`): the sale's script
 * XADDs each order here (locks/redis_stock.c) and the harness's consumer group reads it
 * (engine/writeback_stream.c), on the stock's own Redis. */
#define OVS_QUEUE_STREAM_KEY "orders:queue" /* after the run's key prefix */
#define OVS_QUEUE_GROUP "writeback"

/* Room for a key prefix, NUL included: a --key-prefix and the cell's "<n>:" after it. */
#define OVS_KEY_PREFIX_MAX 64
/* Longest --key-prefix a user may give: room left for the cell's number. */
#define OVS_KEY_PREFIX_USER_MAX 48

/* Room for a stock key, NUL included: the prefix, "stock:" and an int at its widest. */
#define OVS_STOCK_KEY_MAX (OVS_KEY_PREFIX_MAX + 24)

/* "<prefix>stock:<sku>" into buf; prefix NULL reads as "". */
void ovs_stock_key(const char *prefix, int sku, char *buf, size_t len);

/* A fresh run prefix, "oversell:<16 hex digits from the OS>:", into buf. */
void ovs_key_prefix_new(char *buf, size_t len);
/* NULL when p may be a --key-prefix (1..OVS_KEY_PREFIX_USER_MAX-1 bytes of letters,
 * digits and ":_-.", so that it is also a SCAN pattern matching itself, ending in ':' so
 * that it matches no key of another name that merely begins the same), else why not. */
const char *ovs_key_prefix_bad(const char *p);

/* Room for a stock bucket key, NUL included: the prefix and two ints at their widest. */
#define OVS_STOCK_BUCKET_KEY_MAX (OVS_KEY_PREFIX_MAX + 40)
/* "<prefix>stock:{sku:<sku>:b<b>}" into buf (prefix NULL reads as ""): bucket b of a SKU
 * whose stock lua-decr's `buckets` splits over several keys. Each its own hash tag, so the
 * buckets spread over a cluster's shards; the divergence check (infra/topology.c) sums
 * them. The prefix stays outside the tag: it would put every bucket in one slot. */
void ovs_stock_bucket_key(const char *prefix, int sku, int b, char *buf, size_t len);

#endif
