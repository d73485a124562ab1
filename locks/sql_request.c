/* sql_request.c - the shop's request in each dialect, for strategies that do it in SQL
 * themselves (sql_request.h). */
#include "locks/sql_request.h"

#include <string.h>

#include "core/util.h"

/* The guarded insert reads its parameters once, from a derived table, so each dialect
 * binds five of them (MariaDB's '?' cannot be named twice). */
static const struct {
    const char *dialect;
    const char *sql[OVS_SQLREQ__COUNT];
} dialects[] = {
    { "sqlite", {
        [OVS_SQLREQ_GUARDED_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = ? AND stock > 0",
        [OVS_SQLREQ_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = ?",
        [OVS_SQLREQ_ORDER] = "INSERT INTO orders(sku, buyer, fence, created_ns) VALUES (?, ?, ?, ?)",
        [OVS_SQLREQ_STOCK] = "SELECT stock FROM skus WHERE id = ?",
        /* Half-open ranges overlap when each starts before the other ends. */
        [OVS_SQLREQ_OVERLAPPING] = "SELECT count(*) FROM bookings WHERE hotel = ? AND room = ?"
                                   " AND status = 'confirmed' AND check_in < ? AND check_out > ?",
        [OVS_SQLREQ_BOOK] = "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
                            " VALUES (?, ?, ?, ?, ?, 'confirmed')",
        [OVS_SQLREQ_GUARDED_BOOK] =
            "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
            " SELECT x.h, x.r, x.i, x.o, x.g, 'confirmed'"
            " FROM (SELECT ? AS h, ? AS r, ? AS i, ? AS o, ? AS g) AS x"
            " WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.hotel = x.h AND b.room = x.r"
            " AND b.status = 'confirmed' AND b.check_in < x.o AND b.check_out > x.i)",
    } },
    { "postgresql", {
        [OVS_SQLREQ_GUARDED_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = $1 AND stock > 0",
        [OVS_SQLREQ_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = $1",
        [OVS_SQLREQ_ORDER] = "INSERT INTO orders(sku, buyer, fence, created_ns) VALUES ($1, $2, $3, $4)",
        [OVS_SQLREQ_STOCK] = "SELECT stock FROM skus WHERE id = $1",
        [OVS_SQLREQ_OVERLAPPING] = "SELECT count(*) FROM bookings WHERE hotel = $1 AND room = $2"
                                   " AND status = 'confirmed' AND check_in < $3 AND check_out > $4",
        [OVS_SQLREQ_BOOK] = "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
                            " VALUES ($1, $2, $3, $4, $5, 'confirmed')",
        /* Typed: a parameter in a select list has no type the server could infer. */
        [OVS_SQLREQ_GUARDED_BOOK] =
            "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
            " SELECT x.h, x.r, x.i, x.o, x.g, 'confirmed'"
            " FROM (SELECT $1::integer AS h, $2::integer AS r, $3::text AS i, $4::text AS o,"
            " $5::bigint AS g) AS x"
            " WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.hotel = x.h AND b.room = x.r"
            " AND b.status = 'confirmed' AND b.check_in < x.o AND b.check_out > x.i)",
        /* Every unique and exclusion constraint is an arbiter: with the one
         * optimistic-sql-exclusion adds, an overlapping stay inserts nothing. */
        [OVS_SQLREQ_BOOK_OR_NOTHING] =
            "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
            " VALUES ($1, $2, $3, $4, $5, 'confirmed') ON CONFLICT DO NOTHING",
    } },
    { "mysql", {
        [OVS_SQLREQ_GUARDED_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = ? AND stock > 0",
        [OVS_SQLREQ_DECREMENT] = "UPDATE skus SET stock = stock - 1 WHERE id = ?",
        [OVS_SQLREQ_ORDER] = "INSERT INTO orders(sku, buyer, fence, created_ns) VALUES (?, ?, ?, ?)",
        [OVS_SQLREQ_STOCK] = "SELECT stock FROM skus WHERE id = ?",
        [OVS_SQLREQ_OVERLAPPING] = "SELECT count(*) FROM bookings WHERE hotel = ? AND room = ?"
                                   " AND status = 'confirmed' AND check_in < ? AND check_out > ?",
        [OVS_SQLREQ_BOOK] = "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
                            " VALUES (?, ?, ?, ?, ?, 'confirmed')",
        [OVS_SQLREQ_GUARDED_BOOK] =
            "INSERT INTO bookings(hotel, room, check_in, check_out, guest, status)"
            " SELECT x.h, x.r, x.i, x.o, x.g, 'confirmed'"
            " FROM (SELECT ? AS h, ? AS r, ? AS i, ? AS o, ? AS g) AS x"
            " WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.hotel = x.h AND b.room = x.r"
            " AND b.status = 'confirmed' AND b.check_in < x.o AND b.check_out > x.i)",
    } },
};

const char *ovs_sqlreq_text(const char *dialect, enum ovs_sqlreq_stmt id)
{
    if ((int)id < 0 || (int)id >= OVS_SQLREQ__COUNT)
        return NULL;
    for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++)
        if (strcmp(dialects[i].dialect, dialect) == 0)
            return dialects[i].sql[id];
    return NULL;
}

int ovs_sqlreq_open(ovs_sqlreq *q, ovs_shopdb *db)
{
    q->db = db;
    if (ovs_sqlreq_text(db->m->name, OVS_SQLREQ_STOCK) == NULL)
        return ovs_shopdb_fail(db, OVS_ERR, OVS_SQLE_OTHER, "no SQL for back end %s",
                               db->m->name);
    for (int k = 0; k < OVS_SQLREQ__COUNT; k++) {
        const char *sql = ovs_sqlreq_text(db->m->name, (enum ovs_sqlreq_stmt)k);
        if (sql != NULL && db->m->xPrepare(db, sql, &q->st[k]) != OVS_OK)
            return OVS_ERR;
    }
    return OVS_OK;
}

void ovs_sqlreq_close(ovs_sqlreq *q)
{
    for (int k = 0; k < OVS_SQLREQ__COUNT; k++) {
        if (q->db != NULL)
            q->db->m->xFinalize(q->st[k]);
        q->st[k] = NULL;
    }
}

int ovs_sqlreq_available(ovs_sqlreq *q, enum ovs_workload w, const ovs_request *r,
                         int64_t *answer)
{
    int64_t v = 0;
    int rc = ovs_sqlreq_run(q, w == OVS_INVENTORY ? OVS_SQLREQ_STOCK : OVS_SQLREQ_OVERLAPPING,
                            r, 0, NULL, &v);

    if (rc == OVS_OK)
        *answer = w == OVS_INVENTORY ? v : v == 0;
    return rc;
}

int ovs_sqlreq_run(ovs_sqlreq *q, enum ovs_sqlreq_stmt id, const ovs_request *r, int64_t buyer,
                   int64_t *changes, int64_t *value)
{
    char in[16], out[16];
    ovs_sqlval p[5];
    int np = 0, found = 0;

    ovs_format_date(r->check_in, in, sizeof(in));
    ovs_format_date(r->check_out, out, sizeof(out));
    switch (id) {
    case OVS_SQLREQ_GUARDED_DECREMENT:
    case OVS_SQLREQ_DECREMENT:
    case OVS_SQLREQ_STOCK:
        p[np++] = OVS_SQLV_INT(r->sku);
        break;
    case OVS_SQLREQ_ORDER:
        p[np++] = OVS_SQLV_INT(r->sku);
        p[np++] = OVS_SQLV_INT(buyer);
        p[np++] = OVS_SQLV_NULL; /* unfenced: no lock token guards this write */
        p[np++] = OVS_SQLV_INT(ovs_now_ns());
        break;
    case OVS_SQLREQ_OVERLAPPING:
        p[np++] = OVS_SQLV_INT(r->hotel);
        p[np++] = OVS_SQLV_INT(r->room);
        p[np++] = OVS_SQLV_TEXT(out);
        p[np++] = OVS_SQLV_TEXT(in);
        break;
    case OVS_SQLREQ_BOOK:
    case OVS_SQLREQ_GUARDED_BOOK:
    case OVS_SQLREQ_BOOK_OR_NOTHING:
        p[np++] = OVS_SQLV_INT(r->hotel);
        p[np++] = OVS_SQLV_INT(r->room);
        p[np++] = OVS_SQLV_TEXT(in);
        p[np++] = OVS_SQLV_TEXT(out);
        p[np++] = OVS_SQLV_INT(buyer);
        break;
    default:
        return ovs_shopdb_fail(q->db, OVS_ERR, OVS_SQLE_OTHER, "no such statement");
    }
    if (q->st[id] == NULL)
        return ovs_shopdb_fail(q->db, OVS_ERR, OVS_SQLE_OTHER, "no such statement on %s",
                               q->db->m->name);
    if (value == NULL)
        return ovs_sql_exec(q->db, q->st[id], p, np, changes);
    int rc = ovs_sql_int(q->db, q->st[id], p, np, value, &found);
    if (rc == OVS_OK && !found)
        return ovs_shopdb_fail(q->db, OVS_ERR, OVS_SQLE_OTHER, "no row (no such sku?)");
    return rc;
}

int ovs_sqlreq_retryable(enum ovs_sqlerr cls)
{
    return cls == OVS_SQLE_SERIALIZATION || cls == OVS_SQLE_DEADLOCK;
}

/* Waits before retry number n (1 for the first). Transactions that deadlocked on the same
 * rows and retry at once meet again: on MariaDB twelve guarded inserts into one room's
 * bookings, retried without a pause, kept rolling each other back (error 1467 on the
 * AUTO-INC lock) for two thousand attempts each. A random wait that widens with each
 * failure breaks the tie, as any client that retries deadlocks has to. */
static void backoff(ovs_rng *rng, double delay_ms, double jitter_ms, unsigned n)
{
    int64_t ns = (int64_t)(delay_ms * (double)OVS_NS_PER_MS);
    double wide = jitter_ms * (double)(1u << (n - 1 < 6 ? n - 1 : 6));

    if (wide > 0)
        ns += (int64_t)ovs_rng_below(rng, (uint64_t)(wide * (double)OVS_NS_PER_MS) + 1);
    ovs_sleep_ns(ns);
}

int ovs_sqlreq_retrying(ovs_strategy *s, ovs_rng *rng, int p_retry, ovs_sqlreq_attempt_fn fn,
                        const ovs_request *r, int64_t buyer, int64_t think_ns)
{
    const double *v = s->env->param->v;
    unsigned retries = (unsigned)v[p_retry];
    char why[sizeof(s->errstr)];
    enum ovs_sqlerr cls;
    int rc;

    for (s->attempts = 1;; s->attempts++) {
        cls = OVS_SQLE_OTHER; /* an attempt that fails without saying why is not retried */
        rc = fn(s, r, buyer, think_ns, &cls);
        if (rc == OVS_OK || rc == OVS_REFUSED || rc == OVS_BUSY)
            return rc;
        memcpy(why, s->errstr, sizeof(why));
        if (rc == OVS_ERR_IO)
            return ovs_strategy_fail(s, OVS_ERR_IO, "%.100s: outcome unknown", why);
        if (!ovs_sqlreq_retryable(cls))
            return OVS_ERR;
        if (s->attempts > retries)
            return ovs_strategy_fail(s, OVS_BUSY, "rolled back by the server %u times: %.80s",
                                     s->attempts, why);
        backoff(rng, v[p_retry + 1], v[p_retry + 2], s->attempts);
    }
}

int ovs_sqlreq_begin(ovs_strategy *s, ovs_shopdb *db, enum ovs_isolation iso,
                     enum ovs_sqlerr *cls)
{
    int rc = db->m->xBegin(db, iso);

    if (rc == OVS_OK)
        return OVS_OK;
    *cls = db->cls;
    return ovs_strategy_fail(s, rc, "BEGIN: %.100s", db->errstr);
}

int ovs_sqlreq_finish(ovs_strategy *s, ovs_shopdb *db, int rc, enum ovs_sqlerr *cls)
{
    if (rc == OVS_OK)
        rc = ovs_sqlreq_commit(db);
    if (rc == OVS_OK)
        return OVS_OK;
    *cls = db->cls;
    ovs_strategy_fail(s, rc, "%.110s", db->errstr);
    if (rc != OVS_ERR_IO && db->m->xInTransaction(db))
        db->m->xRollback(db);
    return rc;
}

int ovs_sqlreq_commit(ovs_shopdb *db)
{
    int rc = db->m->xCommit(db);

    if (rc == OVS_OK || rc == OVS_ERR_IO)
        return rc;
    /* A COMMIT refused with the transaction still open (SQLite busy) wrote nothing once
     * rolled back; one the server ended itself was rolled back by it. SQLite ending a
     * transaction itself on a failed COMMIT (I/O error, full disk) may have left it in
     * part: unknown. */
    if (db->m->xInTransaction(db)) {
        int cls = db->cls;
        char why[sizeof(db->errstr)];
        memcpy(why, db->errstr, sizeof(why));
        if (db->m->xRollback(db) != OVS_OK)
            return OVS_ERR_IO;
        ovs_shopdb_fail(db, OVS_ERR, (enum ovs_sqlerr)cls, "%s", why);
        return OVS_ERR;
    }
    return strcmp(db->m->name, "sqlite") == 0 ? OVS_ERR_IO : OVS_ERR;
}
