/* shop.c - the shop's SQLite database: schema, per-client connections, check and act. */
#include "engine/shop.h"

#include <stdio.h>
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

int ovs_shop_open(const char *path, sqlite3 **db, char *err, size_t errlen)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        ovs_seterr(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, OVS_SHOP_BUSY_TIMEOUT_MS);
    /* NORMAL is durable across a process crash in WAL mode, which is the failure the
     * harness makes; FULL would only add fsyncs to every sale. */
    if (exec(*db, "PRAGMA synchronous=NORMAL", err, errlen) != 0) {
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* Named for error messages: the key and the token that is registered for it now. */
static void stale(sqlite3 *db, const char *key, int64_t mine, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    long long last = -1;

    if (sqlite3_prepare_v2(db, "SELECT token FROM fences WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            last = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    ovs_seterr(err, errlen, "stale token %lld < %lld on %s", (long long)mine, last, key);
}

/* Run sql (a write to fences binding ?1 = key, ?2 = token) for every token of fence:
 * OVS_OK when it changed one row each time, OVS_STALE at the first that changed none,
 * OVS_ERR on SQL failure. Writes, so that a transaction opened just before takes the
 * write lock at its first statement: a deferred transaction that read first and wrote
 * second could not take the lock once another writer had committed (SQLITE_BUSY without
 * the busy handler), which failed fenced writes on other keys under load. */
static int fence_each(sqlite3 *db, const char *sql, const ovs_fence *fence, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = OVS_OK;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        ovs_seterr(err, errlen, "fence: %s", sqlite3_errmsg(db));
        return OVS_ERR;
    }
    for (int i = 0; i < fence->n && rc == OVS_OK; i++) {
        sqlite3_bind_text(st, 1, fence->key[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, fence->token[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ovs_seterr(err, errlen, "fence: %s", sqlite3_errmsg(db));
            rc = OVS_ERR;
        } else if (sqlite3_changes(db) != 1) {
            stale(db, fence->key[i], fence->token[i], err, errlen);
            rc = OVS_STALE;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Registration: the token becomes the key's, unless a higher one is there already. The
 * holder's own token again is no change of owner, so it counts as registered. */
static const char fence_register_sql[] =
    "INSERT INTO fences(key, token) VALUES (?1, ?2)"
    " ON CONFLICT(key) DO UPDATE SET token = excluded.token"
    " WHERE excluded.token >= fences.token";
/* Verification inside a write: the token is still the key's. A no-op write on purpose
 * (see fence_each). */
static const char fence_verify_sql[] =
    "UPDATE fences SET token = token WHERE key = ?1 AND token = ?2";

static int fenced(const ovs_fence *fence)
{
    return fence != NULL && fence->n > 0;
}

static int check_read(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t *seen,
                      char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;
    char in[16], out[16];

    if (w == OVS_INVENTORY) {
        rc = sqlite3_prepare_v2(db, "SELECT stock FROM skus WHERE id = ?", -1, &st, NULL);
        if (rc == SQLITE_OK)
            sqlite3_bind_int(st, 1, r->sku);
    } else {
        /* Half-open ranges overlap when each starts before the other ends. */
        rc = sqlite3_prepare_v2(db,
                                "SELECT count(*) FROM bookings WHERE hotel = ? AND room = ?"
                                " AND status = 'confirmed' AND check_in < ? AND check_out > ?",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
            ovs_format_date(r->check_in, in, sizeof(in));
            ovs_format_date(r->check_out, out, sizeof(out));
            sqlite3_bind_int(st, 1, r->hotel);
            sqlite3_bind_int(st, 2, r->room);
            sqlite3_bind_text(st, 3, out, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, in, -1, SQLITE_TRANSIENT);
        }
    }
    if (rc != SQLITE_OK) {
        ovs_seterr(err, errlen, "check: %s", sqlite3_errmsg(db));
        return OVS_ERR;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ovs_seterr(err, errlen, "check: %s", rc == SQLITE_DONE ? "no such sku" : sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return OVS_ERR;
    }
    *seen = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (w == OVS_INVENTORY)
        return *seen > 0 ? OVS_OK : OVS_REFUSED;
    return *seen == 0 ? OVS_OK : OVS_REFUSED;
}

int ovs_shop_check(sqlite3 *db, enum ovs_workload w, const ovs_request *r,
                   const ovs_fence *fence, int64_t *seen, char *err, size_t errlen)
{
    int rc;

    if (!fenced(fence))
        return check_read(db, w, r, seen, err, errlen);
    /* Registration and read in one transaction: the read is of a state in which these
     * tokens were the newest, so no stale holder can write into what it shows. */
    if (exec(db, "SAVEPOINT fenced_check", err, errlen) != 0)
        return OVS_ERR;
    rc = fence_each(db, fence_register_sql, fence, err, errlen);
    if (rc == OVS_OK)
        rc = check_read(db, w, r, seen, err, errlen);
    if (rc == OVS_OK || rc == OVS_REFUSED) {
        char why[160];
        if (exec(db, "RELEASE fenced_check", why, sizeof(why)) == 0)
            return rc;
        ovs_seterr(err, errlen, "%s", why);
        rc = OVS_ERR;
    }
    sqlite3_exec(db, "ROLLBACK TO fenced_check; RELEASE fenced_check", NULL, NULL, NULL);
    return rc;
}

static int step_once(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        ovs_seterr(err, errlen, "act: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int ovs_shop_act(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 const ovs_fence *fence, char *err, size_t errlen)
{
    sqlite3_stmt *a = NULL, *b = NULL;
    int ok = 0, refused = 0;
    char in[16], out[16];

    /* A savepoint opens a transaction when there is none and nests inside one when the
     * caller holds it, so the fence, the decrement and the order are one atomic write. */
    if (exec(db, "SAVEPOINT act", err, errlen) != 0)
        return OVS_ERR;
    if (fenced(fence)) {
        int f = fence_each(db, fence_verify_sql, fence, err, errlen);
        if (f != OVS_OK) {
            refused = f == OVS_STALE;
            goto out;
        }
    }
    if (w == OVS_INVENTORY) {
        if (sqlite3_prepare_v2(db, "UPDATE skus SET stock = stock - 1 WHERE id = ?", -1, &a,
                               NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "INSERT INTO orders(sku, buyer, fence, created_ns)"
                               " VALUES (?, ?, ?, ?)",
                               -1, &b, NULL) != SQLITE_OK) {
            ovs_seterr(err, errlen, "act: %s", sqlite3_errmsg(db));
            goto out;
        }
        sqlite3_bind_int(a, 1, r->sku);
        sqlite3_bind_int(b, 1, r->sku);
        sqlite3_bind_int64(b, 2, buyer);
        if (fenced(fence))
            sqlite3_bind_int64(b, 3, fence->token[0]);
        else
            sqlite3_bind_null(b, 3);
        sqlite3_bind_int64(b, 4, ovs_now_ns());
        if (step_once(db, a, err, errlen) != 0 || step_once(db, b, err, errlen) != 0)
            goto out;
    } else {
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO bookings(hotel, room, check_in, check_out, guest,"
                               " status) VALUES (?, ?, ?, ?, ?, 'confirmed')",
                               -1, &a, NULL) != SQLITE_OK) {
            ovs_seterr(err, errlen, "act: %s", sqlite3_errmsg(db));
            goto out;
        }
        ovs_format_date(r->check_in, in, sizeof(in));
        ovs_format_date(r->check_out, out, sizeof(out));
        sqlite3_bind_int(a, 1, r->hotel);
        sqlite3_bind_int(a, 2, r->room);
        sqlite3_bind_text(a, 3, in, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(a, 4, out, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(a, 5, buyer);
        if (step_once(db, a, err, errlen) != 0)
            goto out;
    }
    ok = 1;
out:
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    if (!ok) {
        sqlite3_exec(db, "ROLLBACK TO act; RELEASE act", NULL, NULL, NULL);
        return refused ? OVS_STALE : OVS_ERR;
    }
    if (exec(db, "RELEASE act", err, errlen) != 0) {
        sqlite3_exec(db, "ROLLBACK TO act; RELEASE act", NULL, NULL, NULL);
        return OVS_ERR;
    }
    return OVS_OK;
}

int ovs_shop_stock(sqlite3 *db, int sku, int64_t *stock)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, "SELECT stock FROM skus WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, sku);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *stock = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int ovs_shop_scalar(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}
