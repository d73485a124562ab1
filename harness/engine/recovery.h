/* recovery.h - re-warming Redis stock after a node restarted (the `recovery` of a
 * scenario's restart fault).
 *
 *   rewarm-from-sql  stock:<sku> = SQL stock: what the queue has not applied yet is sold
 *                    a second time (the failure the crash scenario shows)
 *   reconcile        stock:<sku> = SQL stock - orders still queued for that SKU */
#ifndef OVS_RECOVERY_H
#define OVS_RECOVERY_H

#include <stddef.h>

#include "core/endpoint.h"
#include "scenario/scenario.h"

typedef struct ovs_writeback ovs_writeback;
typedef struct ovs_shop_loc ovs_shop_loc;

/* Rebuild stock on node by the rule how (OVS_RECOVER_NONE, or a booking: nothing to do),
 * reading the shop at shop_loc and the queue wb (may be NULL). Appends what it set to
 * what ("; stock:1 = 50 (sql 50, ignoring 50 queued)"). 0, or -1 with err. */
int ovs_recover(const ovs_scenario *sc, const ovs_shop_loc *shop_loc, const ovs_endpoint *node,
                enum ovs_recovery how, ovs_writeback *wb, char *what, size_t whatlen,
                char *err, size_t errlen);

#endif
