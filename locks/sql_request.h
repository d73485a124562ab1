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
#include "core/util.h"
#include "locks/strategy.h"

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
    OVS_SQLREQ_BOOK_OR_NOTHING,   /* the same as BOOK, inserting nothing where a constraint
                                     of the schema refuses the row (PostgreSQL: ON
                                     CONFLICT DO NOTHING); NULL in the other dialects */
    OVS_SQLREQ__COUNT
};

typedef struct ovs_sqlreq {
    ovs_shopdb *db;                          /* env->shop */
    ovs_sqlstmt *st[OVS_SQLREQ__COUNT];      /* prepared at open; NULL after close */
} ovs_sqlreq;

/* The text of statement id in dialect (a back end's m->name), or NULL when there is no
 * such dialect or statement. */
const char *ovs_sqlreq_text(const char *dialect, enum ovs_sqlreq_stmt id);
/* Prepare every statement db's dialect has. OVS_OK, or OVS_ERR with db->errstr. */
int ovs_sqlreq_open(ovs_sqlreq *q, ovs_shopdb *db);
/* Finalize; accepts a zeroed or partly opened q. */
void ovs_sqlreq_close(ovs_sqlreq *q);
/* Run statement id with the request's parameters (the statement's own list, above):
 * xStep's code, with *changes or *value (either may be NULL) set. */
int ovs_sqlreq_run(ovs_sqlreq *q, enum ovs_sqlreq_stmt id, const ovs_request *r, int64_t buyer,
                   int64_t *changes, int64_t *value);
/* What the shop's screen would show if it read SQL now, for the strategies that answer
 * availability (xAvailable, locks/strategy.h): the stock of r's SKU (inventory), or 1 when
 * no confirmed booking of the room overlaps r's stay and 0 when one does (booking). One
 * statement outside any transaction. OVS_OK with *answer, or xStep's code with db->errstr. */
int ovs_sqlreq_available(ovs_sqlreq *q, enum ovs_workload w, const ovs_request *r,
                         int64_t *answer);
/* Whether a failure of class cls is one the server asks the client to retry the whole
 * transaction after (a serialization failure, a deadlock it broke). */
int ovs_sqlreq_retryable(enum ovs_sqlerr cls);

/* Retrying a whole transaction the server rolled back, for the strategies that run one
 * (optimistic-sql, sql-serializable). Their parameter tables take these three entries at
 * indices c, c + 1 and c + 2, which ovs_sqlreq_retrying reads. */
#define OVS_SQLREQ_RETRY_PARAMS(c)                                                           \
    [(c)] = { "retry_count", 3, "count", NULL, 0, 100000,                                     \
              "retries of a transaction the server rolled back (deadlock, serialization"      \
              " failure)" },                                                                 \
    [(c) + 1] = { "retry_delay", 0, "ms", NULL, 0, 60000, "wait before each retry" },         \
    [(c) + 2] = { "retry_jitter", 2, "ms", NULL, 0, 60000,                                    \
                  "random extra wait before a retry, up to this much before the first and"    \
                  " doubling with each further one, to 64 times" }

/* One attempt at the whole request in one transaction, leaving none open: OVS_OK,
 * OVS_REFUSED, OVS_BUSY, or a failure code with s->errstr and *cls its class. */
typedef int (*ovs_sqlreq_attempt_fn)(ovs_strategy *s, const ovs_request *r, int64_t buyer,
                                     int64_t think_ns, enum ovs_sqlerr *cls);

/* Attempt until it answers, the failure is not one to retry (OVS_ERR; OVS_ERR_IO, the
 * outcome unknown, is never retried), or retry_count retries were rolled back too
 * (OVS_BUSY), waiting between attempts as the parameters at p_retry say; s->attempts
 * counts. */
int ovs_sqlreq_retrying(ovs_strategy *s, ovs_rng *rng, int p_retry, ovs_sqlreq_attempt_fn fn,
                        const ovs_request *r, int64_t buyer, int64_t think_ns);

/* BEGIN at iso for an attempt: OVS_OK, or the failure's code with s->errstr and *cls. */
int ovs_sqlreq_begin(ovs_strategy *s, ovs_shopdb *db, enum ovs_isolation iso,
                     enum ovs_sqlerr *cls);
/* The end of an attempt whose statements so far answered rc: when rc is OVS_OK, COMMIT
 * (ovs_sqlreq_commit) and OVS_OK if it held; otherwise the failure's words in s->errstr
 * and its class in *cls (read before a ROLLBACK's success overwrites them), the
 * transaction rolled back unless the outcome is unknown, and its code. */
int ovs_sqlreq_finish(ovs_strategy *s, ovs_shopdb *db, int rc, enum ovs_sqlerr *cls);

/* COMMIT, after a failure of which the transaction is not left open: OVS_OK; OVS_ERR_IO
 * when the outcome is unknown; otherwise OVS_ERR (rolled back, nothing written). */
int ovs_sqlreq_commit(ovs_shopdb *db);

#endif
