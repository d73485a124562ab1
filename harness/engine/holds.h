/* holds.h - the harness's own reading of the checkout holds a run left behind.
 *
 * For a strategy that takes holds (locks/holds.h), after every client has closed - so
 * after every hold it took could have expired and been given back - the records are read
 * straight from where they live, never from the strategy, into the facts the checker
 * judges leaked_stock and sold_after_expiry by (engine/checker.h). */
#ifndef OVS_ENGINE_HOLDS_H
#define OVS_ENGINE_HOLDS_H

#include <stddef.h>

#include "core/endpoint.h"
#include "engine/checker.h"
#include "engine/shop.h"

/* Read the sorted set of open holds and every hold hash on ep under the run's key prefix
 * (NULL as ""), with the server's clock (TIME) as "now", into f. Returns 0, or -1 with err
 * (f is then incomplete). */
int ovs_holds_read_redis(const ovs_endpoint *ep, const char *prefix, ovs_hold_facts *f,
                         char *err, size_t errlen);
/* The same from the shop's table holds (locks/holds_sql.h) through shop, with
 * ovs_holds_clock_ms as "now"; f->stock_in_sql is set. Returns 0, or -1 with err. */
int ovs_holds_read_sql(ovs_shop *shop, ovs_hold_facts *f, char *err, size_t errlen);
/* Free what a read allocated (the Redis records); f may be zeroed or partly read. */
void ovs_hold_facts_free(ovs_hold_facts *f);

#endif
