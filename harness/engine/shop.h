/* shop.h - the shop's source of truth, which the checker judges every strategy by: an
 * SQLite file per run, or a schema (PostgreSQL) or database (MariaDB) of its own per run
 * on a server, reached through the back ends of shops/ (core/shopdb.h).
 *
 *   inventory: skus(id, stock), orders(id, sku, buyer, fence, created_ns, entry): entry is
 *              the write-back stream's entry id of an order applied from a stream (queue
 *              = stream), NULL otherwise; unique (orders_entry) under queue_apply =
 *              idempotent
 *   booking:   bookings(id, hotel, room, check_in, check_out, guest, status),
 *              hotels(id): one row per hotel the scenario books, the row sql-pessimistic
 *              locks (SELECT ... FOR UPDATE) on a server
 *   fencing:   fences(key, token)
 *
 * Dates are stored as 'YYYY-MM-DD' text, which sorts like the dates, so the half-open
 * overlap test is plain comparison. Every client thread opens its own connection, as a
 * real shop's application servers would.
 *
 * The shop's SQL is written here once per dialect where the dialects differ, and only
 * there: placeholders, upserts, savepoints and how a transaction opens. */
#ifndef OVS_SHOP_H
#define OVS_SHOP_H

#include <stdint.h>

#include "core/shopdb.h"
#include "scenario/scenario.h"

#define OVS_SHOP_BUSY_TIMEOUT_MS 5000
/* Longest namespace (schema or database) name: PostgreSQL's limit is 63 bytes, MariaDB's
 * 64. */
#define OVS_SHOP_NS_MAX 64

/* Where one run's shop lives. */
typedef struct ovs_shop_loc {
    const ovs_shopdb_methods *m; /* its back end */
    char target[600];            /* SQLite: the file; a server: its URL (which may carry a
                                    password: print ovs_shop_loc_describe instead) */
    char ns[OVS_SHOP_NS_MAX];    /* a server: the run's own schema or database, made of
                                    [a-z0-9_] only; "" for SQLite */
} ovs_shop_loc;

/* loc for the SQLite file at path. */
void ovs_shop_loc_file(ovs_shop_loc *loc, const char *path);
/* A fresh namespace name for one run: "oversell_" and 12 random hex digits, from the
 * operating system's randomness so that two invocations on one server never meet. */
void ovs_shop_ns_new(char *ns, size_t len);
/* loc for a person: the file, or the URL without its password and the namespace. */
void ovs_shop_loc_describe(const ovs_shop_loc *loc, char *buf, size_t len);

/* Create a fresh shop at loc for the scenario's workload, with its initial stock. SQLite:
 * the file is replaced. A server: the namespace is created and refused when it exists
 * already (its prefix is in use: nothing of anyone else's is touched), then the tables.
 * Returns 0, or an error code (OVS_ERR_ENV when the server could not be reached) with a
 * reason in err. */
int ovs_shop_create(const ovs_shop_loc *loc, const ovs_scenario *sc, char *err, size_t errlen);
/* Remove a server shop's namespace and everything in it (SQLite: nothing; the file stays
 * for inspection). Returns 0 or -1 with err. */
int ovs_shop_drop(const ovs_shop_loc *loc, char *err, size_t errlen);

/* One connection to the shop with its statements compiled once, at open: the check and
 * the act of every locked request, and every order the write-back worker applies, reuse
 * them instead of compiling their SQL again each time. A connection belongs to one thread
 * (the runner's clients, the write-back worker, recovery and the checker each open their
 * own); nothing here locks. */
typedef struct ovs_shop ovs_shop;

/* Open a connection for one client and prepare its statements; the shop must exist
 * (ovs_shop_create). Returns 0, or an error code (OVS_ERR_ENV: the server could not be
 * reached) with a reason in err and *out NULL. */
int ovs_shop_open(const ovs_shop_loc *loc, ovs_shop **out, char *err, size_t errlen);
/* Finalize the statements and close. Accepts NULL. */
void ovs_shop_close(ovs_shop *shop);
/* The connection underneath, for what is not the shop's own SQL: the transaction a
 * strategy holds as its lock (env.shop). Statements prepared on it by a caller are the
 * caller's to finalize before ovs_shop_close. */
ovs_shopdb *ovs_shop_db(ovs_shop *shop);
/* Why the last call on shop failed. */
const char *ovs_shop_errmsg(ovs_shop *shop);
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
/* Act: decrement stock and insert an order; or insert a confirmed booking. Joins a
 * transaction the caller already holds (the pessimistic strategy's, the write-back
 * worker's batch) inside a savepoint, or makes its own.
 * With fence (may be NULL or empty): the write applies only while every token is still
 * the highest registered for its key (ovs_shop_check registered them); otherwise nothing
 * is written and OVS_STALE is returned with the key and the newer token in err. The order
 * row records the first token. Returns OVS_OK, OVS_STALE or OVS_ERR; OVS_ERR_IO when the
 * connection was lost during the act's own COMMIT (it may have happened). */
int ovs_shop_act(ovs_shop *shop, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 const ovs_fence *fence, char *err, size_t errlen);
/* Apply one order taken from the write-back stream: insert it with its entry id and, when
 * it got a row, decrement the stock, as one atomic write (joining the caller's transaction
 * inside a savepoint, or its own). Under queue_apply = idempotent the entry is a unique
 * key and an entry applied before inserts nothing (*applied = 0, OVS_OK); otherwise every
 * call writes an order. Returns OVS_OK, OVS_ERR (err), or OVS_ERR_IO as ovs_shop_act. */
int ovs_shop_apply_entry(ovs_shop *shop, const ovs_request *r, int64_t buyer,
                         const char *entry, int *applied, char *err, size_t errlen);
/* The stock of one SKU as SQL has it now. Returns 0, or -1 (ovs_shop_errmsg says why). */
int ovs_shop_stock(ovs_shop *shop, int sku, int64_t *stock);
/* The orders of one SKU. Returns 0, or -1 (ovs_shop_errmsg says why). */
int ovs_shop_orders(ovs_shop *shop, int sku, int64_t *orders);
/* Run one SQL statement that returns a single integer, prepared for this call only (the
 * checker's once-per-run counts): the SQL must be the same in every dialect. Returns 0, or
 * -1 (ovs_shop_errmsg says why; no row is a failure too). */
int ovs_shop_scalar(ovs_shop *shop, const char *sql, int64_t *out);
/* Run one SQL statement, the same in every dialect, and hand every row to fn (see
 * ovs_sqlrow_fn). Returns 0, or -1 (ovs_shop_errmsg says why). */
int ovs_shop_rows(ovs_shop *shop, const char *sql, ovs_sqlrow_fn fn, void *ctx);

#endif
