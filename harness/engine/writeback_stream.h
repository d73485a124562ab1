/* writeback_stream.h - the write-back queue as a Redis Stream read by a consumer group.
 *
 * With `[scenario] queue = stream` the sale's own script adds each order to the stream
 * OVS_QUEUE_STREAM_KEY (core/keys.h, after the run's key prefix) on the stock's Redis -
 * or the sale adds it by a second write to node N of `queue_node = N` (locks/
 * redis_stock.h) - and this consumer, reading that Redis, one thread of
 * the harness in group OVS_QUEUE_GROUP, reads the entries (XREADGROUP), applies each to
 * the shop no earlier than writeback_delay after it was added, and acknowledges it (XACK).
 * The queue is then as durable as that Redis: killed without persistence, it loses the
 * entries not yet applied - orders acknowledged to buyers that never reach SQL, which
 * lost_orders counts. With `queue_consumer_crash = N` the consumer dies after applying its
 * N-th order and before acknowledging it; a second consumer claims what the first left
 * pending once it has been idle queue_claim_idle (XAUTOCLAIM), so that order is delivered
 * again, and applied again unless the apply is idempotent (duplicate_orders). */
#ifndef OVS_WRITEBACK_STREAM_H
#define OVS_WRITEBACK_STREAM_H

#include <stddef.h>

#include "core/endpoint.h"
#include "core/trace.h"
#include "scenario/scenario.h"

typedef struct ovs_wbstream ovs_wbstream;
typedef struct ovs_shop_loc ovs_shop_loc;

/* Make the stream prefix + OVS_QUEUE_STREAM_KEY and its group afresh on redis (anything
 * of an earlier run there is removed), open the consumer's own shop connection and start
 * it. prefix is the run's key prefix (NULL: none). Returns 0, or -1 with a reason in err. */
int ovs_wbstream_start(ovs_wbstream **out, const ovs_shop_loc *shop, const ovs_endpoint *redis,
                       const char *prefix, const ovs_scenario *sc, char *err, size_t errlen);
/* The stream's key: what the sale's script XADDs to (env.queue_stream). */
const char *ovs_wbstream_key(const ovs_wbstream *q);
/* Apply every entry the stream holds (each at its due time), then stop the consumer; the
 * buyers must be done. Returns the number of entries that failed to apply. */
int ovs_wbstream_drain(ovs_wbstream *q);
/* After drain: 0, or -1 with why the run cannot be judged in err - the consumer crash the
 * scenario asks for never happened (fewer orders were applied), or Redis stayed out of
 * reach so the stream could not be read to its end. */
int ovs_wbstream_error(const ovs_wbstream *q, char *err, size_t errlen);
/* The consumer's events (valid after drain): one write-back event per apply, and a fault
 * event for its crash. */
ovs_trace *ovs_wbstream_trace(ovs_wbstream *q);
/* Drain if still running, then free. Accepts NULL. */
void ovs_wbstream_free(ovs_wbstream *q);

#endif
