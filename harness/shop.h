/* shop.h - the shop's source of truth: an SQLite database per run (SPEC §2).
 *
 *   inventory: skus(id, stock), orders(id, sku, buyer, fence, created_ns)
 *   booking:   bookings(id, hotel, room, check_in, check_out, guest, status)
 *
 * Dates are stored as 'YYYY-MM-DD' text, which sorts like the dates, so the half-open
 * overlap test is plain comparison. Every client thread opens its own connection (WAL,
 * busy_timeout), as a real shop's application servers would. */
#ifndef OVS_SHOP_H
#define OVS_SHOP_H

#include <stdint.h>

#include <sqlite3.h>

#include "scenario.h"

#define OVS_SHOP_BUSY_TIMEOUT_MS 5000

/* Create a fresh shop at path (replacing any old file) for the scenario's workload, with
 * its initial stock. Returns 0 or -1 with a reason in err. */
int ovs_shop_create(const char *path, const ovs_scenario *sc, char *err, size_t errlen);
/* Open a connection for one client. Returns 0 or -1 (and *db is NULL). */
int ovs_shop_open(const char *path, sqlite3 **db, char *err, size_t errlen);
/* Check: OVS_OK when the request can be served (stock > 0; no confirmed booking of the
 * room overlaps the stay), OVS_REFUSED when not, OVS_ERR on SQL failure. *seen gets the
 * stock read (inventory) or the number of overlapping bookings (booking). */
int ovs_shop_check(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t *seen,
                   char *err, size_t errlen);
/* Act: decrement stock and insert an order; or insert a confirmed booking. Runs inside a
 * savepoint, so it joins a transaction the caller already holds (the pessimistic
 * strategy's BEGIN IMMEDIATE) or makes its own.
 * fence < 0: unconditional. fence >= 0: the write applies only when fence is higher than
 * the last token applied for fence_key (table fences), which it then becomes; otherwise
 * nothing is written and OVS_REFUSED is returned with "stale token" in err.
 * Returns OVS_OK, OVS_REFUSED or OVS_ERR. */
int ovs_shop_act(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 int64_t fence, const char *fence_key, char *err, size_t errlen);
/* The stock of one SKU as SQL has it now. Returns 0, or -1 (sqlite3_errmsg says why). */
int ovs_shop_stock(sqlite3 *db, int sku, int64_t *stock);
/* Run one SQL statement that returns a single integer (for the checker and tests). */
int ovs_shop_scalar(sqlite3 *db, const char *sql, int64_t *out);

#endif
