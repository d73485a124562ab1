/* redis_stock.h - stock kept in Redis: what lua-decr and redis-check-then-decr sell from.
 *
 * Inventory: `stock:<sku>` holds the units left. Booking: a room-night is one unit of stock,
 * the way a hotel sells rooms; `night:<hotel>:<room>:<YYYY-MM-DD>` exists once that night
 * is taken. Both
 * strategies start from the same state, so a scenario compares them on equal terms. */
#ifndef OVS_REDIS_STOCK_H
#define OVS_REDIS_STOCK_H

#include <stddef.h>

#include "core/keys.h"
#include "locks/redis_conn.h"
#include "locks/strategy.h"

/* The script lua-decr sells one unit with: KEYS[1] is stock:<sku>; when the stock is above
 * zero it decrements it and returns 1, else returns 0. Here rather than in lua_decr.c so
 * that `oversell bench` measures its ceiling with the very script the strategy runs. */
extern const char ovs_redis_stock_decr_src[];
/* The same sale with its order added to the write-back stream in the same script (queue =
 * stream): KEYS[1] is stock:<sku>, KEYS[2] the stream; ARGV[1] the quantity ("1"),
 * ARGV[2] the SKU, ARGV[3] the buyer, which become the entry's fields sku and buyer. */
extern const char ovs_redis_stock_decr_stream_src[];
/* The script lua-decr books a stay with: KEYS are the nights of the stay, ARGV[1] the
 * guest; when none of them is taken it sets them all to the guest and returns 1, else
 * returns 0. Here beside the other for the same reason, and because strategies/lua/
 * carries a user's copy of both that a test holds to these texts. */
extern const char ovs_redis_stock_claim_src[];

/* Run the sale script for req of workload on r, the one mapping of a request onto stock kept in
 * Redis: inventory runs unit with KEYS[1] = stock:<sku>, ARGV[1] = "1" (the quantity);
 * booking runs nights with KEYS = the keys of every night of the stay (ovs_night_key),
 * ARGV[1] = buyer, the guest. The script answers 1 (sold, booked) or 0 (sold out, taken).
 * OVS_OK, OVS_REFUSED, OVS_BUSY when the master refused the script's write (NOREPLICAS,
 * ovs_redis_refused: nothing sold), or the error code of ovs_redis_eval (with r->errstr),
 * OVS_ERR for an answer of another shape or a stay outside 1..OVS_MAX_NIGHTS nights. */
int ovs_redis_stock_sell(ovs_redis *r, ovs_script *unit, ovs_script *nights,
                         enum ovs_workload workload, const char *prefix,
                         const ovs_request *req, int64_t buyer);
/* Run unit_stream (ovs_redis_stock_decr_stream_src) for req of the inventory and buyer,
 * the stock key under prefix, the order going to stream. Returns as ovs_redis_stock_sell. */
int ovs_redis_stock_sell_stream(ovs_redis *r, ovs_script *unit_stream, const char *prefix,
                                const char *stream, const ovs_request *req, int64_t buyer);
/* The stream sale when the stream is on another Redis (env->queue_redis, `queue_node`):
 * unit (ovs_redis_stock_decr_src's contract) on r, the stock's Redis, then XADD stream *
 * sku <sku> buyer <buyer> on q. Two writes on two servers, which no script makes one, so
 * between them the sale exists without its order. What the XADD's failure means decides
 * what is done:
 *   OVS_OK       sold, and the entry added
 *   OVS_REFUSED  sold out: nothing written anywhere
 *   OVS_BUSY     the stock's master refused the decrement (NOREPLICAS): nothing sold
 *   OVS_ERR      the XADD certainly did not happen (refused, or never sent): the unit was
 *                given back (INCR on r) and the buyer is refused - the order cannot be
 *                queued, so it is not sold. When the give-back fails as well, OVS_ERR all
 *                the same, and r->errstr says that the unit is out of the stock and in no
 *                order (the divergence check sees it)
 *   OVS_ERR_IO   the decrement's answer, the XADD's or the give-back's was lost: the entry
 *                may exist and be applied, so the unit is not given back (that could sell
 *                it twice), and the buyer is told neither yes nor no - unknown
 * The failing connection's errstr is copied to r->errstr. A give-back trusts that the
 * decrement is still there: had the stock's Redis lost it in between (restarted empty, or
 * re-warmed from SQL), the INCR adds a unit that was never taken - a client cannot tell,
 * and this one does not guess. */
int ovs_redis_stock_sell_apart(ovs_redis *r, ovs_redis *q, ovs_script *unit,
                               const char *prefix, const char *stream,
                               const ovs_request *req, int64_t buyer);
/* The whole of xExecute for a strategy that sells with such scripts (lua-decr, and a Lua
 * definition's execute script): ovs_redis_stock_sell, then the order handed to env->sold;
 * under env->queue_stream, ovs_redis_stock_sell_stream with unit_stream instead, whose
 * script writes the order itself, or with env->queue_redis too, ovs_redis_stock_sell_apart
 * with unit on r and the XADD on q. Sets s->attempts; a failure says why through
 * ovs_strategy_fail. */
int ovs_redis_stock_execute(ovs_strategy *s, ovs_redis *r, ovs_redis *q, ovs_script *unit,
                            ovs_script *nights, ovs_script *unit_stream,
                            const ovs_request *req, int64_t buyer);

/* xNodes for them: one Redis, the stock's. */
int ovs_redis_stock_nodes(const ovs_params *p);
/* Their xOpen's common part: the run must have a Redis and a write-back queue (the memory
 * queue's env->sold, or env->queue_stream); then r is
 * set up on env->redis[0] (1 s to connect, command_ms per reply) and connected. OVS_OK, or
 * OVS_ERR with s->errstr. It does not open the queue's connection: see below. */
int ovs_redis_stock_open(ovs_strategy *s, const ovs_env *env, ovs_redis *r,
                         double command_ms);
/* With env->queue_redis, set q up on it (1 s to connect, command_ms per reply) and connect:
 * the stream sale's second server. Without, q is zeroed (ovs_redis_close accepts it).
 * OVS_OK, or OVS_ERR with s->errstr. */
int ovs_redis_stock_open_queue(ovs_strategy *s, const ovs_env *env, ovs_redis *q,
                               double command_ms);

/* Hand a sale Redis has made to env->sold, on its way to SQL: OVS_OK, or OVS_ERR when
 * the write-back queue no longer takes orders (the run is stopping). For every strategy
 * that sells in Redis. */
int ovs_redis_stock_hand_over(ovs_strategy *s, const ovs_request *req, int64_t buyer);

/* xPrepare for them, once per run on env->redis[0]: SET stock:<sku> to env->stock for
 * every one of env->skus, or remove every taken night an earlier run left. Returns OVS_OK
 * or OVS_ERR with s->errstr. */
int ovs_redis_stock_prepare(ovs_strategy *s, const ovs_env *env);
/* Room for a night key, NUL included, with every number at its widest (41 bytes for
 * "night:<hotel>:<room>:YYYY-MM-DD"; snprintf cuts rather than overruns beyond) after
 * the run's key prefix. The stock key is core's (core/keys.h): more layers than this one
 * name it. */
#define OVS_NIGHT_KEY_MAX (OVS_KEY_PREFIX_MAX + 48)
/* The key of night i (0-based) of the stay, under prefix (env->key_prefix). */
void ovs_night_key(const char *prefix, const ovs_request *req, int i, char *buf, size_t len);

#endif
