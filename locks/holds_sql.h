/* holds_sql.h - checkout holds as rows of the shop's own database, with a reaper.
 *
 * reservation's `holds = sql` variant: the stock is the shop's (skus.stock), decremented
 * at reserve in the transaction that inserts the hold's row, and given back by whichever
 * of a compensation, a confirm that finds its hold expired, or the reaper comes first.
 * Every one of those is an UPDATE of the hold's row guarded by its state ('held'), in the
 * transaction that gives the unit back, so the number of rows it changed decides who
 * returns the unit: exactly one of them. Settled rows stay, with their state and the time
 * they were settled, as the evidence the harness reads (engine/holds.h).
 *
 * The table, added to the shop's schema by xPrepare on all three back ends:
 *   holds(buyer BIGINT PRIMARY KEY, sku INTEGER, created_ms BIGINT, expires_ms BIGINT,
 *         state VARCHAR(16), settled_ms BIGINT)
 * Times are ovs_holds_clock_ms (locks/holds.h): every client and the harness are threads
 * of one process on one machine, so they read one clock.
 *
 * The reaper is the shop's scheduled job, one beside each client (as each application
 * server would run one): a thread of the instance, on a connection of its own, that every
 * reap_interval gives back every hold past its expiry. It does not act while its client
 * is frozen (env->frozen). */
#ifndef OVS_HOLDS_SQL_H
#define OVS_HOLDS_SQL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/shopdb.h"
#include "locks/sql_request.h"
#include "locks/strategy.h"

enum ovs_hsql_stmt {
    OVS_HSQL_INSERT,       /* (buyer, sku, created, expires) a hold in state 'held' */
    OVS_HSQL_CONFIRM_LIVE, /* (now, buyer, now) confirmed only while live */
    OVS_HSQL_CONFIRM_ANY,  /* (now, buyer) confirmed whatever became of it */
    OVS_HSQL_SETTLE,       /* (state, now, buyer) an open hold released or expired */
    OVS_HSQL_GIVE_BACK,    /* (sku) the unit back on sale */
    OVS_HSQL_EXPIRED,      /* (now) -> buyer, sku of every open hold past its expiry */
    OVS_HSQL__COUNT
};

/* One connection's statements. */
typedef struct ovs_hsql_conn {
    ovs_shopdb *db;
    ovs_sqlreq q;                       /* the shop's own decrement and order */
    ovs_sqlstmt *st[OVS_HSQL__COUNT];
} ovs_hsql_conn;

typedef struct ovs_holds_sql {
    ovs_hsql_conn c;         /* on env->shop, the client's */
    ovs_hsql_conn reap;      /* the reaper's statements, on rdb */
    ovs_shopdb *rdb;         /* the reaper's own connection, NULL until allocated */
    pthread_t thread;
    int started;             /* the reaper thread runs */
    atomic_int stop;         /* set by close, read by the reaper */
    int64_t interval_ns;
    atomic_int *frozen;      /* env->frozen */
} ovs_holds_sql;

/* What a confirm came to. */
enum ovs_hsql_confirm {
    OVS_HSQL_SOLD,      /* confirmed (live, or whatever became of it without the check),
                           the order inserted */
    OVS_HSQL_EXPIRED_REFUSED, /* it had expired: not sold, its unit back */
    OVS_HSQL_NO_HOLD,   /* no such hold to confirm */
};

/* xPrepare's part on env->shop: create the table (empty). OVS_OK or OVS_ERR (s->errstr). */
int ovs_hsql_schema(ovs_strategy *s, ovs_shopdb *db);
/* Prepare the client's statements, open the reaper's connection (env->shop_path,
 * env->shop_ns) and start it. OVS_OK or OVS_ERR (s->errstr); ovs_hsql_close follows either
 * way. */
int ovs_hsql_open(ovs_strategy *s, ovs_holds_sql *h, const ovs_env *env, double reap_ms);
/* Stop and join the reaper, close its connection, finalize. Accepts a zeroed h. */
void ovs_hsql_close(ovs_holds_sql *h);

/* Take a unit of req's SKU for buyer until now + ttl_ms, in one transaction: OVS_OK with
 * *expires_ms (ovs_holds_clock_ms) set, OVS_REFUSED (sold out), or a failure (s->errstr). */
int ovs_hsql_reserve(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     double ttl_ms, int64_t *expires_ms);
/* Confirm buyer's hold (check: only while live), the order inserted in the same
 * transaction; *out says what it came to. OVS_OK, or a failure. */
int ovs_hsql_confirm(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     int check, enum ovs_hsql_confirm *out);
/* Release buyer's hold, giving its unit back if it is still open (*released 1). */
int ovs_hsql_release(ovs_strategy *s, ovs_holds_sql *h, const ovs_request *req, int64_t buyer,
                     int *released);
/* Give back every hold past its expiry, on the client's connection: OVS_OK or a failure. */
int ovs_hsql_reap_now(ovs_strategy *s, ovs_holds_sql *h);

#endif
