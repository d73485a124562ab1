/* shop.h - the shop's source of truth: an SQLite database per run, which the checker
 * judges every strategy by.
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
/* One connection to the shop with its statements compiled once, at open: the check and
 * the act of every locked request, and every order the write-back worker applies, reuse
 * them instead of compiling their SQL again each time. A connection belongs to one thread
 * (the runner's clients, the write-back worker, recovery and the checker each open their
 * own); nothing here locks. */
typedef struct ovs_shop ovs_shop;

/* Open a connection for one client (WAL, busy_timeout, synchronous=NORMAL) and prepare
 * its statements; the shop must exist (ovs_shop_create). Returns 0, or -1 with a reason
 * in err and *out NULL. */
int ovs_shop_open(const char *path, ovs_shop **out, char *err, size_t errlen);
/* Finalize the statements and close. Accepts NULL. */
void ovs_shop_close(ovs_shop *shop);
/* The SQLite connection underneath, for what is not the shop's own SQL: the transaction a
 * strategy holds as its lock (env.shop), the checker's queries over the rows. Statements
 * prepared on it by a caller are the caller's to finalize before ovs_shop_close. */
sqlite3 *ovs_shop_db(ovs_shop *shop);
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
int ovs_shop_check(ovs_shop *shop, enum ovs_workload w, const ovs_request *r,
                   const ovs_fence *fence, int64_t *seen, char *err, size_t errlen);
/* Act: decrement stock and insert an order; or insert a confirmed booking. Runs inside a
 * savepoint, so it joins a transaction the caller already holds (the pessimistic
 * strategy's BEGIN IMMEDIATE) or makes its own.
 * With fence (may be NULL or empty): the write applies only while every token is still
 * the highest registered for its key (ovs_shop_check registered them); otherwise nothing
 * is written and OVS_STALE is returned with the key and the newer token in err. The order
 * row records the first token. Returns OVS_OK, OVS_STALE or OVS_ERR. */
int ovs_shop_act(ovs_shop *shop, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 const ovs_fence *fence, char *err, size_t errlen);
/* The stock of one SKU as SQL has it now. Returns 0, or -1 (sqlite3_errmsg says why). */
int ovs_shop_stock(ovs_shop *shop, int sku, int64_t *stock);
/* The orders of one SKU. Returns 0, or -1 (sqlite3_errmsg says why). */
int ovs_shop_orders(ovs_shop *shop, int sku, int64_t *orders);
/* Run one SQL statement that returns a single integer, compiled for this call only (the
 * checker's once-per-run counts). Returns 0, or -1 (sqlite3_errmsg says why). */
int ovs_shop_scalar(ovs_shop *shop, const char *sql, int64_t *out);

#endif
