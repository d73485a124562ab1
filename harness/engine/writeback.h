/* writeback.h - the write-back queue: orders sold in Redis reach SQL through it.
 *
 * Production systems push orders taken in Redis through Kafka or a job queue; here one
 * worker thread with its own shop connection applies them after a configurable delay. The
 * delay is what the crash-before-write-back scenario exploits: while an order waits here,
 * Redis knows of the sale and SQL does not. */
#ifndef OVS_WRITEBACK_H
#define OVS_WRITEBACK_H

#include <stdint.h>

#include "scenario/scenario.h"
#include "core/trace.h"

typedef struct ovs_writeback ovs_writeback;
typedef struct ovs_shop_loc ovs_shop_loc;

/* Start the worker on the shop at shop (its own connection). Each pushed item is applied no
 * earlier than delay_ns after it was pushed. Returns 0 or -1 with a reason in err. */
int ovs_writeback_start(ovs_writeback **out, const ovs_shop_loc *shop, enum ovs_workload w,
                        int64_t delay_ns, char *err, size_t errlen);
/* Queue one sold request for buyer. Thread-safe. Returns 0, or -1 once stopped. */
int ovs_writeback_push(ovs_writeback *wb, const ovs_request *r, int64_t buyer);
/* ovs_writeback_push with wb as a void *: what the runner points a strategy's env.sold at
 * (sold_ctx = wb). */
int ovs_writeback_sold(void *wb, const ovs_request *r, int64_t buyer);
/* Items for sku pushed but not yet applied. Exact only while held (below). */
int ovs_writeback_pending_sku(ovs_writeback *wb, int sku);
/* hold = 1: wait until no item is being applied and keep the worker from taking another,
 * so SQL and the queue can be read as one consistent state (reconciling Redis stock after a
 * crash); hold = 0: let it go on. Thread-safe. */
void ovs_writeback_hold(ovs_writeback *wb, int hold);
/* Apply everything queued (honouring each item's delay), then stop the worker. Returns
 * the number of items that failed to apply (0 when all reached SQL). */
int ovs_writeback_drain(ovs_writeback *wb);
/* The worker's events (valid after drain). */
ovs_trace *ovs_writeback_trace(ovs_writeback *wb);
/* Drain (as ovs_writeback_drain: every queued item is applied, each at its due time) if
 * the worker still runs, then free. Accepts NULL. */
void ovs_writeback_free(ovs_writeback *wb);

#endif
