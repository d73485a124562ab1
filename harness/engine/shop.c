/* shop.c - the shop's SQLite database: schema, per-client connections, check and act.
 *
 * Every statement the hot path runs is compiled once per connection, at open, into a
 * table indexed by enum shop_stmt; each use binds, steps and resets it. A statement is
 * reset before the function that used it returns, whatever happened: one left on a row
 * would keep a read transaction open on the connection. */
#include "engine/shop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

static const char *const schema =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE skus(id INTEGER PRIMARY KEY, stock INTEGER NOT NULL);"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, sku INTEGER NOT NULL, buyer INTEGER NOT NULL,"
    "  fence INTEGER, created_ns INTEGER NOT NULL);"
    "CREATE TABLE bookings(id INTEGER PRIMARY KEY, hotel INTEGER NOT NULL,"
    "  room INTEGER NOT NULL, check_in TEXT NOT NULL, check_out TEXT NOT NULL,"
    "  guest INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'confirmed');"
    /* For strategies that fence: the highest token registered per resource (lock key). */
    "CREATE TABLE fences(key TEXT PRIMARY KEY, token INTEGER NOT NULL);"
    "CREATE INDEX bookings_room ON bookings(hotel, room, status);";

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ovs_seterr(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int ovs_shop_create(const char *path, const ovs_scenario *sc, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char side[600];
    int rc = -1;

    /* A fresh shop per run: old rows would be counted as this run's sales. */
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);

    if (sqlite3_open(path, &db) != SQLITE_OK) {
        ovs_seterr(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    if (exec(db, schema, err, errlen) != 0)
        goto out;
    if (sc->workload == OVS_INVENTORY) {
        if (exec(db, "BEGIN", err, errlen) != 0)
            goto out;
        if (sqlite3_prepare_v2(db, "INSERT INTO skus(id, stock) VALUES (?, ?)", -1, &st,
                               NULL) != SQLITE_OK) {
            ovs_seterr(err, errlen, "%s", sqlite3_errmsg(db));
            goto out;
        }
        for (int i = 1; i <= sc->skus; i++) {
            sqlite3_bind_int(st, 1, i);
            sqlite3_bind_int(st, 2, sc->stock);
            if (sqlite3_step(st) != SQLITE_DONE) {
                ovs_seterr(err, errlen, "%s", sqlite3_errmsg(db));
                goto out;
            }
            sqlite3_reset(st);
        }
        if (exec(db, "COMMIT", err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* The shop's own statements, compiled once per connection. */
enum shop_stmt {
    ST_CHECK_BEGIN,    /* a fenced check's registration and read are one transaction */
    ST_CHECK_RELEASE,
    ST_CHECK_ROLLBACK,
    ST_ACT_BEGIN,      /* the act's fence, decrement and order are one atomic write */
    ST_ACT_RELEASE,
    ST_ACT_ROLLBACK,
    ST_FENCE_REGISTER,
    ST_FENCE_VERIFY,
    ST_FENCE_TOKEN,
    ST_STOCK,
    ST_ORDERS,
    ST_OVERLAPPING,
    ST_DECREMENT,
    ST_ORDER,
    ST_BOOK,
    ST__COUNT
};

static const char *const shop_sql[ST__COUNT] = {
    /* A savepoint opens a transaction when there is none and nests inside one when the
     * caller holds it (the pessimistic strategy's BEGIN IMMEDIATE). */
    [ST_CHECK_BEGIN] = "SAVEPOINT fenced_check",
    [ST_CHECK_RELEASE] = "RELEASE fenced_check",
    [ST_CHECK_ROLLBACK] = "ROLLBACK TO fenced_check",
    [ST_ACT_BEGIN] = "SAVEPOINT act",
    [ST_ACT_RELEASE] = "RELEASE act",
    [ST_ACT_ROLLBACK] = "ROLLBACK TO act",
    /* Registration: the token becomes the key's, unless a higher one is there already.
     * The holder's own token again is no change of owner, so it counts as registered. */
    [ST_FENCE_REGISTER] = "INSERT INTO fences(key, token) VALUES (?1, ?2)"
                          " ON CONFLICT(key) DO UPDATE SET token = excluded.token"
                          " WHERE excluded.token >= fences.token",
    /* Verification inside a write: the token is still the key's. A no-op write on purpose
     * (see fence_each). */
    [ST_FENCE_VERIFY] = "UPDATE fences SET token = token WHERE key = ?1 AND token = ?2",
    [ST_FENCE_TOKEN] = "SELECT token FROM fences WHERE key = ?",
    [ST_STOCK] = "SELECT stock FROM skus WHERE id = ?",
    [ST_ORDERS] = "SELECT count(*) FROM orders WHERE sku = ?",
    /* Half-open ranges overlap when each starts before the other ends. */
    [ST_OVERLAPPING] = "SELECT count(*) FROM bookings WHERE hotel = ? AND room = ?"
                       " AND status = 'confirmed' AND check_in < ? AND check_out > ?",
    [ST_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = ?",
    [ST_ORDER] = "INSERT INTO orders(sku, buyer, fence, created_ns) VALUES (?, ?, ?, ?)",
    [ST_BOOK] = "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
                " VALUES (?, ?, ?, ?, ?, 'confirmed')",
};

struct ovs_shop {
    sqlite3 *db;                  /* the connection; one thread's */
    sqlite3_stmt *st[ST__COUNT];  /* shop_sql, compiled at open; never NULL once open */
};

void ovs_shop_close(ovs_shop *shop)
{
    if (shop == NULL)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(shop->st[i]);
    sqlite3_close(shop->db);
    free(shop);
}

int ovs_shop_open(const char *path, ovs_shop **out, char *err, size_t errlen)
{
    ovs_shop *shop = calloc(1, sizeof(*shop));

    *out = NULL;
    if (shop == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (sqlite3_open_v2(path, &shop->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        ovs_seterr(err, errlen, "%s: %s", path,
                   shop->db ? sqlite3_errmsg(shop->db) : "out of memory");
        ovs_shop_close(shop);
        return -1;
    }
    sqlite3_busy_timeout(shop->db, OVS_SHOP_BUSY_TIMEOUT_MS);
    /* NORMAL is durable across a process crash in WAL mode, which is the failure the
     * harness makes; FULL would only add fsyncs to every sale. */
    if (exec(shop->db, "PRAGMA synchronous=NORMAL", err, errlen) != 0) {
        ovs_shop_close(shop);
        return -1;
    }
    for (int i = 0; i < ST__COUNT; i++)
        if (sqlite3_prepare_v3(shop->db, shop_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &shop->st[i], NULL) != SQLITE_OK) {
            ovs_seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(shop->db));
            ovs_shop_close(shop);
            return -1;
        }
    *out = shop;
    return 0;
}

sqlite3 *ovs_shop_db(ovs_shop *shop)
{
    return shop->db;
}

/* Step a statement that returns no row and reset it: 0, or -1 with what and SQLite's
 * reason in err. */
static int step_done(ovs_shop *shop, enum shop_stmt id, const char *what, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = shop->st[id];
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;

    if (rc != 0)
        ovs_seterr(err, errlen, "%s%s%s", what, *what ? ": " : "", sqlite3_errmsg(shop->db));
    sqlite3_reset(st);
    return rc;
}

/* Undo a savepoint's work and end it, after a failure: ROLLBACK TO then RELEASE. */
static void roll_back(ovs_shop *shop, enum shop_stmt rollback, enum shop_stmt release)
{
    sqlite3_step(shop->st[rollback]);
    sqlite3_reset(shop->st[rollback]);
    sqlite3_step(shop->st[release]);
    sqlite3_reset(shop->st[release]);
}

/* Named for error messages: the key and the token that is registered for it now. */
static void stale(ovs_shop *shop, const char *key, int64_t mine, char *err, size_t errlen)
{
    sqlite3_stmt *st = shop->st[ST_FENCE_TOKEN];
    long long last = -1;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    ovs_seterr(err, errlen, "stale token %lld < %lld on %s", (long long)mine, last, key);
}

/* Run statement id (a write to fences binding ?1 = key, ?2 = token) for every token of
 * fence: OVS_OK when it changed one row each time, OVS_STALE at the first that changed
 * none, OVS_ERR on SQL failure. Writes, so that a transaction opened just before takes the
 * write lock at its first statement: a deferred transaction that read first and wrote
 * second could not take the lock once another writer had committed (SQLITE_BUSY without
 * the busy handler), which failed fenced writes on other keys under load. */
static int fence_each(ovs_shop *shop, enum shop_stmt id, const ovs_fence *fence, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = shop->st[id];
    int rc = OVS_OK;

    for (int i = 0; i < fence->n && rc == OVS_OK; i++) {
        sqlite3_bind_text(st, 1, fence->key[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, fence->token[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ovs_seterr(err, errlen, "fence: %s", sqlite3_errmsg(shop->db));
            rc = OVS_ERR;
        } else if (sqlite3_changes(shop->db) != 1) {
            sqlite3_reset(st);
            stale(shop, fence->key[i], fence->token[i], err, errlen);
            rc = OVS_STALE;
        }
        sqlite3_reset(st);
    }
    return rc;
}

static int fenced(const ovs_fence *fence)
{
    return fence != NULL && fence->n > 0;
}

static int check_read(ovs_shop *shop, enum ovs_workload w, const ovs_request *r,
                      int64_t *seen, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;
    char in[16], out[16];

    if (w == OVS_INVENTORY) {
        st = shop->st[ST_STOCK];
        sqlite3_bind_int(st, 1, r->sku);
    } else {
        st = shop->st[ST_OVERLAPPING];
        ovs_format_date(r->check_in, in, sizeof(in));
        ovs_format_date(r->check_out, out, sizeof(out));
        sqlite3_bind_int(st, 1, r->hotel);
        sqlite3_bind_int(st, 2, r->room);
        sqlite3_bind_text(st, 3, out, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, in, -1, SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ovs_seterr(err, errlen, "check: %s",
                   rc == SQLITE_DONE ? "no such sku" : sqlite3_errmsg(shop->db));
        sqlite3_reset(st);
        return OVS_ERR;
    }
    *seen = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (w == OVS_INVENTORY)
        return *seen > 0 ? OVS_OK : OVS_REFUSED;
    return *seen == 0 ? OVS_OK : OVS_REFUSED;
}

int ovs_shop_check(ovs_shop *shop, enum ovs_workload w, const ovs_request *r,
                   const ovs_fence *fence, int64_t *seen, char *err, size_t errlen)
{
    int rc;

    if (!fenced(fence))
        return check_read(shop, w, r, seen, err, errlen);
    /* Registration and read in one transaction: the read is of a state in which these
     * tokens were the newest, so no stale holder can write into what it shows. */
    if (step_done(shop, ST_CHECK_BEGIN, "", err, errlen) != 0)
        return OVS_ERR;
    rc = fence_each(shop, ST_FENCE_REGISTER, fence, err, errlen);
    if (rc == OVS_OK)
        rc = check_read(shop, w, r, seen, err, errlen);
    if (rc == OVS_OK || rc == OVS_REFUSED) {
        char why[160];
        if (step_done(shop, ST_CHECK_RELEASE, "", why, sizeof(why)) == 0)
            return rc;
        ovs_seterr(err, errlen, "%s", why);
        rc = OVS_ERR;
    }
    roll_back(shop, ST_CHECK_ROLLBACK, ST_CHECK_RELEASE);
    return rc;
}

int ovs_shop_act(ovs_shop *shop, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 const ovs_fence *fence, char *err, size_t errlen)
{
    int rc = OVS_ERR;
    char in[16], out[16];

    /* The fence, the decrement and the order are one atomic write, in the caller's
     * transaction or in one of their own (see ST_ACT_BEGIN). */
    if (step_done(shop, ST_ACT_BEGIN, "", err, errlen) != 0)
        return OVS_ERR;
    if (fenced(fence)) {
        rc = fence_each(shop, ST_FENCE_VERIFY, fence, err, errlen);
        if (rc != OVS_OK)
            goto fail;
        rc = OVS_ERR;
    }
    if (w == OVS_INVENTORY) {
        sqlite3_stmt *a = shop->st[ST_DECREMENT], *b = shop->st[ST_ORDER];
        sqlite3_bind_int(a, 1, r->sku);
        sqlite3_bind_int(b, 1, r->sku);
        sqlite3_bind_int64(b, 2, buyer);
        if (fenced(fence))
            sqlite3_bind_int64(b, 3, fence->token[0]);
        else
            sqlite3_bind_null(b, 3);
        sqlite3_bind_int64(b, 4, ovs_now_ns());
        if (step_done(shop, ST_DECREMENT, "act", err, errlen) != 0 ||
            step_done(shop, ST_ORDER, "act", err, errlen) != 0)
            goto fail;
    } else {
        sqlite3_stmt *a = shop->st[ST_BOOK];
        ovs_format_date(r->check_in, in, sizeof(in));
        ovs_format_date(r->check_out, out, sizeof(out));
        sqlite3_bind_int(a, 1, r->hotel);
        sqlite3_bind_int(a, 2, r->room);
        sqlite3_bind_text(a, 3, in, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(a, 4, out, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(a, 5, buyer);
        if (step_done(shop, ST_BOOK, "act", err, errlen) != 0)
            goto fail;
    }
    if (step_done(shop, ST_ACT_RELEASE, "", err, errlen) == 0)
        return OVS_OK;
    rc = OVS_ERR;
fail:
    roll_back(shop, ST_ACT_ROLLBACK, ST_ACT_RELEASE);
    return rc == OVS_STALE ? OVS_STALE : OVS_ERR;
}

/* One integer from a statement of the table that takes one integer parameter: 0, or -1
 * when it returned no row or failed (sqlite3_errmsg says why). */
static int int_of(ovs_shop *shop, enum shop_stmt id, int arg, int64_t *out)
{
    sqlite3_stmt *st = shop->st[id];
    int rc = -1;

    sqlite3_bind_int(st, 1, arg);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int ovs_shop_stock(ovs_shop *shop, int sku, int64_t *stock)
{
    return int_of(shop, ST_STOCK, sku, stock);
}

int ovs_shop_orders(ovs_shop *shop, int sku, int64_t *orders)
{
    return int_of(shop, ST_ORDERS, sku, orders);
}

int ovs_shop_scalar(ovs_shop *shop, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(shop->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}
