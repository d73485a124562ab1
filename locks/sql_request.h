/* sql_request.h - the shop's request done in SQL by a strategy itself, for the strategies
 * that are whole operations on the shop's database (optimistic-sql, sql-serializable).
 *
 * Those strategies see the shop only as env->shop (core/shopdb.h), never the engine's
 * shop.c, so the statements of a request are written here, once per dialect, against the
 * tables engine/shop.h describes: the same rows the checker judges. They are the one text
 * of each: the harness's own check and act (engine/shop.c) prepare the same ones
 * (ovs_sqlreq_text), so a strategy's sale and the harness's cannot drift apart. Each
 * statement is prepared once per connection, at open.
 *
 * Outcome rule, as everywhere: a statement that failed before COMMIT certainly did not
 * happen (its transaction is rolled back here); a COMMIT whose answer was lost may have
 * happened (OVS_ERR_IO). */
#ifndef OVS_SQL_REQUEST_H
#define OVS_SQL_REQUEST_H

#include "core/request.h"
#include "core/shopdb.h"

enum ovs_sqlreq_stmt {
    OVS_SQLREQ_GUARDED_DECREMENT, /* (sku): stock - 1 only where stock > 0 */
    OVS_SQLREQ_DECREMENT,         /* (sku): stock - 1, unguarded (after a check) */
    OVS_SQLREQ_ORDER,             /* (sku, buyer, fence, created_ns); ovs_sqlreq_run binds
                                     fence NULL */
    OVS_SQLREQ_STOCK,             /* (sku) -> stock */
    OVS_SQLREQ_OVERLAPPING,       /* (hotel, room, check_out, check_in) -> count */
    OVS_SQLREQ_BOOK,              /* (hotel, room, check_in, check_out, guest) */
    OVS_SQLREQ_GUARDED_BOOK,      /* the same, inserted only where no confirmed booking of
                                     the room overlaps: one statement */
    OVS_SQLREQ__COUNT
};

typedef struct ovs_sqlreq {
    ovs_shopdb *db;                          /* env->shop */
    ovs_sqlstmt *st[OVS_SQLREQ__COUNT];      /* prepared at open; NULL after close */
} ovs_sqlreq;

/* The text of statement id in dialect (a back end's m->name), or NULL when there is no
 * such dialect or statement. */
const char *ovs_sqlreq_text(const char *dialect, enum ovs_sqlreq_stmt id);
/* Prepare every statement on db in its dialect. OVS_OK, or OVS_ERR with db->errstr. */
int ovs_sqlreq_open(ovs_sqlreq *q, ovs_shopdb *db);
/* Finalize; accepts a zeroed or partly opened q. */
void ovs_sqlreq_close(ovs_sqlreq *q);
/* Run statement id with the request's parameters (the statement's own list, above):
 * xStep's code, with *changes or *value (either may be NULL) set. */
int ovs_sqlreq_run(ovs_sqlreq *q, enum ovs_sqlreq_stmt id, const ovs_request *r, int64_t buyer,
                   int64_t *changes, int64_t *value);
/* Whether a failure of class cls is one the server asks the client to retry the whole
 * transaction after (a serialization failure, a deadlock it broke). */
int ovs_sqlreq_retryable(enum ovs_sqlerr cls);
/* COMMIT, after a failure of which the transaction is not left open: OVS_OK; OVS_ERR_IO
 * when the outcome is unknown; otherwise OVS_ERR (rolled back, nothing written). */
int ovs_sqlreq_commit(ovs_shopdb *db);

#endif
