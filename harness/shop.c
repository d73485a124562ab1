/* shop.c - the shop's SQLite database: schema, per-client connections, check and act. */
#include "shop.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char *const schema =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE skus(id INTEGER PRIMARY KEY, stock INTEGER NOT NULL);"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, sku INTEGER NOT NULL, buyer INTEGER NOT NULL,"
    "  fence INTEGER, created_ns INTEGER NOT NULL);"
    "CREATE TABLE bookings(id INTEGER PRIMARY KEY, hotel INTEGER NOT NULL,"
    "  room INTEGER NOT NULL, check_in TEXT NOT NULL, check_out TEXT NOT NULL,"
    "  guest INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'confirmed');"
    /* A fence table for strategies that fence writes: the last token applied per key. */
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

int ovs_shop_check(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t *seen,
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

static int step_once(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        ovs_seterr(err, errlen, "act: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* The fencing check, inside the act's savepoint: the token must be higher than the last
 * one applied for key. One conditional upsert, so the savepoint's first statement is a
 * write: a deferred transaction that read first and wrote second could not take the write
 * lock once another writer had committed (SQLITE_BUSY without the busy handler), which
 * failed fenced writes on other keys under load. Returns OVS_OK (and records the token),
 * OVS_REFUSED, or OVS_ERR. */
static int fence_check(sqlite3 *db, const char *key, int64_t fence, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t last = -1;
    int rc = OVS_ERR;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO fences(key, token) VALUES (?1, ?2)"
                           " ON CONFLICT(key) DO UPDATE SET token = excluded.token"
                           " WHERE excluded.token > fences.token",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, fence);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    if (sqlite3_changes(db) == 1) {
        rc = OVS_OK;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* Refused: name the token that won, for the event's detail. */
    if (sqlite3_prepare_v2(db, "SELECT token FROM fences WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            last = sqlite3_column_int64(st, 0);
    }
    ovs_seterr(err, errlen, "stale token %lld <= %lld", (long long)fence, (long long)last);
    rc = OVS_REFUSED;
out:
    if (rc == OVS_ERR)
        ovs_seterr(err, errlen, "fence: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int ovs_shop_act(sqlite3 *db, enum ovs_workload w, const ovs_request *r, int64_t buyer,
                 int64_t fence, const char *fence_key, char *err, size_t errlen)
{
    sqlite3_stmt *a = NULL, *b = NULL;
    int ok = 0, refused = 0;
    char in[16], out[16];

    /* A savepoint opens a transaction when there is none and nests inside one when the
     * caller holds it, so the fence, the decrement and the order are one atomic write. */
    if (exec(db, "SAVEPOINT act", err, errlen) != 0)
        return OVS_ERR;
    if (fence >= 0) {
        int f = fence_check(db, fence_key ? fence_key : "", fence, err, errlen);
        if (f != OVS_OK) {
            refused = f == OVS_REFUSED;
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
        if (fence >= 0)
            sqlite3_bind_int64(b, 3, fence);
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
        return refused ? OVS_REFUSED : OVS_ERR;
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
