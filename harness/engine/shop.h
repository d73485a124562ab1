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

#include "scenario/scenario.h"

#define OVS_SHOP_BUSY_TIMEOUT_MS 5000

/* Create a fresh shop at path (replacing any old file) for the scenario's workload, with
 * its initial stock. Returns 0 or -1 with a reason in err. */
int ovs_shop_create(const char *path, const ovs_scenario *sc, char *err, size_t errlen);
/* Open a connection for one client. Returns 0 or -1 (and *db is NULL). */
int ovs_shop_open(const char *path, sqlite3 **db, char *err, size_t errlen);
/* The fencing tokens one request carries, one per resource (lock key) it touches: a
 * booking locked per night carries one per night. n == 0: the access is not fenced.
 *
 * Fencing as Kleppmann describes it: every access of the holder to the storage carries its
 * tokens. The check registers them before it reads (a token lower than one already
 * registered for the same key means the lock has moved on: OVS_STALE); the act writes only
 * while every one of them is still the highest registered for its key, in the same
 * transaction as the write. A holder whose lease expired therefore loses whichever order
 * it and its successor wake in: if the successor registered first, the stale check or act
 * is refused; if the stale holder wrote first, the successor's check reads what it wrote. */
typedef struct ovs_fence {
    int n;                            /* tokens carried, 0..OVS_MAX_NIGHTS */
    const char *key[OVS_MAX_NIGHTS];  /* the resource of each: "sku:1", "hotel:1:night:..." */
    int64_t token[OVS_MAX_NIGHTS];    /* its fencing token, >= 0 */
} ovs_fence;

/* Check: OVS_OK when the request can be served (stock > 0; no confirmed booking of the
 * room overlaps the stay), OVS_REFUSED when not, OVS_ERR on SQL failure. *seen gets the
 * stock read (inventory) or the number of overlapping bookings (booking). With fence
 * (may be NULL or empty), registers its tokens first, in the same transaction as the
 * read, and returns OVS_STALE (nothing read, err names the key and the newer token) when
 * one is lower than a token already registered for its key. */
int ovs_shop_check(sqlite3 *db, enum ovs_workload w, const ovs_request *r,
                   const ovs_fence *fence, int64_t *seen, char *err, size_t errlen);
/* Act: decrement stock and insert an order; or insert a confirmed booking. Runs inside a
 * savepoint, so it joins a transaction the caller already holds (the pessimistic
 * strategy's BEGIN IMMEDIATE) or makes its own.
 * With fence (may be NULL or empty): the write applies only while every token is still
 * the highest registered for its key (ovs_shop_check registered them); otherwise nothing
 * is written and OVS_STALE is returned with the key and the newer token in err. The order
 * row records the first token. Returns OVS_OK, OVS_STALE or OVS_ERR. */
int ovs_shop_act(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 const ovs_fence *fence, char *err, size_t errlen);
/* The stock of one SKU as SQL has it now. Returns 0, or -1 (sqlite3_errmsg says why). */
int ovs_shop_stock(sqlite3 *db, int sku, int64_t *stock);
/* Run one SQL statement that returns a single integer (for the checker and tests). */
int ovs_shop_scalar(sqlite3 *db, const char *sql, int64_t *out);

#endif
