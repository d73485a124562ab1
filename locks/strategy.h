/* strategy.h - the interface every protection strategy implements.
 *
 * Modelled on SQLite's VFS: a base struct whose first member points at a methods table,
 * each implementation extends the base with its own state and declares its size, and
 * implementations are registered and found by a unique name. The table carries a version
 * and only grows.
 *
 * A strategy protects one request of the shop (buy a unit, book a stay) in one of two ways:
 *
 *  - as a lock: xLock/xUnlock around the harness's own check-think-act in SQL. The runner
 *    records the acquire, the critical section and the release as events, so mutual
 *    exclusion is checked from recorded intervals, not from what the strategy says.
 *  - as a whole operation: xExecute does the request itself (an atomic Lua decrement, an
 *    optimistic UPDATE) and reports whether it sold. Its effect is checked in SQL after the
 *    write-back queue drains.
 *
 * A strategy sets exactly one of xLock (with xUnlock) or xExecute.
 *
 * Life of an instance, one per client thread:
 *   xPrepare(env)            once per run, before any client opens (optional)
 *   xOpen(s, env)            in the client's thread, before the start barrier
 *   xLock/xUnlock/xExecute   any number of times, from that thread only
 *   xClose(s)                always, even when xOpen failed; must accept a partly
 *                            opened instance
 * The harness allocates m->size zeroed bytes for the instance and sets s->m. */
#ifndef OVS_STRATEGY_H
#define OVS_STRATEGY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/endpoint.h"
#include "core/request.h"
#include "locks/params.h"
#include "scenario/scenario.h"
#include "core/util.h"

typedef struct ovs_writeback ovs_writeback;
typedef struct ovs_trace ovs_trace;


/* What a strategy instance may use. Owned by the harness; valid until xClose. */
typedef struct ovs_env {
    const ovs_scenario *sc;     /* the scenario being run (stock, workload, seed) */
    const ovs_params *param;    /* this strategy's resolved parameters */
    const ovs_endpoint *redis;  /* the run's Redis masters, n_redis of them */
    int n_redis;
    sqlite3 *shop;              /* this client's own shop connection; NULL in xPrepare */
    ovs_writeback *wb;          /* the write-back queue to SQL; for strategies that sell
                                   in Redis */
    ovs_trace *trace;           /* this thread's event buffer, for optional extra events */
    int trace_steps;            /* 1 when the run is small enough (a teaching timeline) for
                                   strategies to record their own steps, such as Redlock's
                                   per-node answers; 0 for crowds, where they would cost
                                   more memory than the run itself */
    int client;                 /* client thread index: 0..threads-1, -1 in xPrepare */
    int buyer;                  /* the request in progress: its client or buyer index, the
                                   id the runner records events under; set by the runner */
    uint64_t seed;              /* per-client seed for retry jitter; lock tokens take
                                   their random part from the OS, not from it */
    const ovs_endpoint *read_from; /* where the strategy reads stock when the scenario reads
                                   from a replica (`[redis] read_from = replica`); NULL
                                   means read from redis[0] */
    atomic_int *frozen;         /* non-zero while this client's whole runtime is stopped
                                   (`pause = process`, like a GC pause): a strategy's own
                                   background threads (a watchdog) must not act while it is
                                   set. NULL when the scenario never freezes clients */
} ovs_env;

typedef struct ovs_strategy {
    const ovs_strategy_methods *m; /* always first: the methods table */
    const ovs_env *env;            /* set by the harness before xOpen */
    int err;                       /* last error code, 0 if none */
    char errstr[128];              /* human-readable reason for err */
    unsigned attempts;             /* attempts the last xLock/xExecute made (1 = no retry) */
} ovs_strategy;

struct ovs_strategy_methods {
    int version;           /* 1 */
    const char *name;      /* unique, as typed on the command line: "setnx" */
    const char *summary;   /* one line for `oversell list` */
    int claims_safe;       /* 1 when it claims no oversell on healthy servers; the contract
                              suite holds it to that from the shop's SQL state */
    int redis_stock;       /* 1 when it keeps the stock in Redis (stock:<sku>) and sells
                              through the write-back queue: after the run Redis stock must
                              equal SQL stock, and the divergence check must run on every
                              SKU (a missing key or an unreachable node is said, never
                              skipped silently) */
    int unlock_commits;    /* 1 when the lock is a transaction and xUnlock commits the
                              writes made under it (sql-pessimistic): OVS_UNDONE from it
                              then means they were rolled back, OVS_ERR_IO that their fate
                              is unknown, and the request's outcome follows */
    size_t size;           /* bytes of the instance, >= sizeof(ovs_strategy) */
    const ovs_param_spec *params; /* parameter table, n_params entries */
    int n_params;

    /* Redis masters the strategy needs with these parameters (0 for SQL-only ones).
     * NULL means 0. */
    int (*xNodes)(const ovs_params *p);
    /* Once per run before any client: seed Redis state from the scenario (stock keys),
     * load scripts. NULL when not needed. Returns 0 or OVS_ERR with a reason in err. */
    int (*xPrepare)(const ovs_env *env, char *err, size_t errlen);
    /* Connect. Returns 0 or OVS_ERR with s->errstr set. */
    int (*xOpen)(ovs_strategy *s, const ovs_env *env);
    /* Take the lock on key (already namespaced by the harness, like "sku:1"), retrying as
     * the parameters say. OVS_OK: held. OVS_BUSY: not acquired after all retries.
     * OVS_ERR/OVS_ERR_IO: failed (s->errstr). */
    int (*xLock)(ovs_strategy *s, const char *key);
    /* Release key. OVS_OK: released. OVS_BUSY: it was no longer ours (expired, or taken
     * by someone else) - a safety signal worth recording, not an error. */
    int (*xUnlock)(ovs_strategy *s, const char *key);
    /* The whole request, for strategies that are not locks. think_ns is the scenario's
     * think time, for strategies that have a window where it applies. OVS_OK sold/booked,
     * OVS_REFUSED sold out/taken, OVS_BUSY gave up on contention, OVS_ERR/OVS_ERR_IO. */
    int (*xExecute)(ovs_strategy *s, const ovs_request *req, int64_t buyer, int64_t think_ns);
    /* Free connections. Called even when xOpen failed. */
    void (*xClose)(ovs_strategy *s);

    /* Optional: the fencing token of the lock this instance holds on key, or -1. When set,
     * the harness fences every key the request holds: the shop registers their tokens
     * before the check (a token lower than one already registered for that key is
     * refused, OVS_STALE) and writes only while each is still the key's newest, so a
     * holder whose lease moved on loses whichever order it and its successor wake in. An
     * overlap of holds is then tolerated by the checker only where the shop's rows show at
     * most one write among the overlapping holders. Tokens must grow with each holder of a
     * key, issued atomically with the lease. */
    int64_t (*xFence)(ovs_strategy *s, const char *key);
};

/* The registry: every built-in strategy, in a fixed order. */
const ovs_strategy_methods *ovs_strategy_find(const char *name);
/* NULL-terminated list. */
const ovs_strategy_methods *const *ovs_strategy_list(void);

/* Set s->err and s->errstr (printf-style), returning code: `return ovs_strategy_fail(s,
 * OVS_ERR, "redis %s:%d: %s", ...)`. */
int ovs_strategy_fail(ovs_strategy *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The built-in strategies, one file each under locks/. */
extern const ovs_strategy_methods ovs_strategy_none;
extern const ovs_strategy_methods ovs_strategy_sql_pessimistic;
extern const ovs_strategy_methods ovs_strategy_setnx;
extern const ovs_strategy_methods ovs_strategy_redlock;
extern const ovs_strategy_methods ovs_strategy_lua_decr;
extern const ovs_strategy_methods ovs_strategy_check_then_decr;
extern const ovs_strategy_methods ovs_strategy_fencing;
extern const ovs_strategy_methods ovs_strategy_watchdog;

#endif
