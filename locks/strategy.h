/* strategy.h - the interface every protection strategy implements, version 7.
 *
 * Modelled on SQLite's VFS: a base struct whose first member points at a methods table,
 * each implementation extends the base with its own state and declares its size, and
 * implementations are registered and found by a unique name. The table carries a version
 * and only grows, at its end: a field is read only from tables whose version has it.
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
 * What a strategy sees is ovs_env below and nothing else: the shop's shape (workload,
 * SKUs, initial stock), its servers, its parameters, the request, and two callbacks into
 * the harness. It never sees the scenario, the runner, the trace or the write-back queue,
 * so a strategy compiles against core/ and locks/ headers only.
 *
 * Life of an instance, one per client thread:
 *   xPrepare(s, env)         once per run, before any client opens (optional), on an
 *                            instance that is never opened: s carries its error only
 *   xOpen(s, env)            in the client's thread, before the start barrier
 *   xLock/xUnlock/xExecute   any number of times, from that thread only
 *   xClose(s)                always, even when xOpen failed; must accept a partly
 *                            opened instance
 * The harness allocates m->size zeroed bytes for every instance and sets s->m and s->env.
 *
 * Errors, in every slot alike: a slot that fails returns its code and says why with
 * ovs_strategy_fail(s, code, ...), which sets s->err and s->errstr. Contention (OVS_BUSY)
 * and a clean no (OVS_REFUSED) are results, and may say why the same way. A failure that
 * leaves the run's history untrustworthy - something the strategy runs broke its protocol,
 * crashed or hung - is said once more through env->broken (from any thread; NULL when the
 * caller does not listen), with as much text as it needs: the runner then keeps every
 * event and ends the run as an error with the first such text, never with a verdict. An
 * honest OVS_ERR_IO (a server's answer lost) is a result and is not said there.
 *
 * Who owns what the runner and a strategy share:
 *   buyer     the runner's. It numbers the requests; a strategy learns the buyer of the
 *             request in progress only as xExecute's argument (for the order it hands to
 *             env->sold), and the events it records through env->event are filed under
 *             that request by the runner.
 *   attempts  the strategy's. Every xLock and xExecute sets s->attempts to the attempts
 *             that call made (1 when it did not retry); the harness only reads it, after
 *             the call. */
#ifndef OVS_STRATEGY_H
#define OVS_STRATEGY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crash.h"
#include "core/endpoint.h"
#include "core/request.h"
#include "core/shopdb.h"
#include "core/trace.h"
#include "core/util.h"
#include "locks/params.h"

/* The newest version of the methods table this header describes. */
#define OVS_STRATEGY_VERSION 7
/* Strategies registered at once, built-ins included. */
#define OVS_MAX_STRATEGIES 32
/* Longest name a strategy may register under. */
#define OVS_STRATEGY_NAME_MAX 63

/* What a strategy instance may use. Owned by the harness; valid until xClose (for
 * xPrepare, until it returns). */
typedef struct ovs_env {
    enum ovs_workload workload; /* what the shop sells: units of SKUs, or room-nights */
    int skus;                   /* inventory: SKUs 1..skus */
    int stock;                  /* inventory: the initial stock of each SKU */
    const ovs_params *param;    /* this strategy's resolved parameters */
    const ovs_endpoint *redis;  /* the run's Redis masters, n_redis of them */
    int n_redis;
    const ovs_endpoint *read_from; /* where the strategy reads stock when the scenario reads
                                   from a replica (`[redis] read_from = replica`); NULL
                                   means read from redis[0] */
    ovs_shopdb *shop;           /* this client's own shop connection (core/shopdb.h), on
                                   whichever back end the run uses (shop->m->name:
                                   "sqlite", "postgresql", "mysql"); the harness's check
                                   and act run on it too, so a transaction a strategy
                                   opens there holds them. In xPrepare, a connection
                                   of its own, closed after: for a strategy whose
                                   protection is in the schema (a constraint) */
    /* A sale made outside SQL (in Redis) for buyer: hand its order over to reach SQL, as
     * production systems push it through a job queue (the runner's write-back queue).
     * Thread-safe. Returns 0, or -1 when orders are no longer taken: the sale will then
     * never reach SQL. NULL in xPrepare; a strategy that sells outside SQL fails xOpen
     * without it. */
    int (*sold)(void *ctx, const ovs_request *r, int64_t buyer);
    void *sold_ctx;             /* sold's first argument */
    /* Record one step of the strategy's own, such as one Redlock node's answer, for the
     * teaching timeline: from start_ns to end_ns (CLOCK_MONOTONIC, ovs_now_ns) on key,
     * with its outcome and a short detail (truncated to fit). The runner files it under
     * the request in progress as a "node" event; it cannot make a lock, check or act
     * event. From the client's own thread only. NULL when the run records no such steps
     * (a crowd, where they would cost more memory than the run itself). */
    void (*event)(void *ctx, const char *key, int64_t start_ns, int64_t end_ns,
                  enum ovs_outcome outcome, const char *detail);
    void *event_ctx;            /* event's first argument */
    int client;                 /* client thread index: 0..threads-1, -1 in xPrepare */
    uint64_t seed;              /* per-client seed for retry jitter; lock tokens take
                                   their random part from the OS, not from it */
    atomic_int *frozen;         /* non-zero while this client's whole runtime is stopped
                                   (`pause = process`, like a GC pause): a strategy's own
                                   background threads (a watchdog) must not act while it is
                                   set. NULL when the scenario never freezes clients */
    const char *shop_path;      /* where the shop lives, for a strategy that writes it from
                                   outside this process (an adapter declaring its own
                                   writes): the SQLite file, or the server's URL (password
                                   included: never print it); NULL in xPrepare */
    const char *client_name;    /* the client's name for messages: a timeline client's NAME,
                                   "worker-<i>" in a crowd; NULL in xPrepare */
    const char *files_dir;      /* a private 0700 directory for the strategy's own files (an
                                   adapter's stderr), removed after the run; NULL in xPrepare */
    void (*broken)(void *ctx, const char *why); /* the run cannot be judged: see Errors */
    void *broken_ctx;           /* broken's first argument */
    const char *shop_backend;   /* the shop's back end: "sqlite", "postgresql" or "mysql";
                                   NULL in xPrepare */
    const char *shop_ns;        /* a server shop's schema (PostgreSQL) or database (MariaDB)
                                   of this run, "" for SQLite; NULL in xPrepare */
    ovs_crash *crash;           /* this client's crash (core/crash.h): once ovs_crashed()
                                   says it happened, the client is dead - a strategy sends
                                   nothing more for it (no confirm, no compensation, no
                                   renewal, no unlock in xClose), and registers the pid of
                                   a process it runs for the client (ovs_crash_set_pid) so
                                   that the crash kills it. NULL when the run has no faults
                                   and in xPrepare */
    const char *queue_stream;   /* the stream the scenario's write-back queue is
                                   (`queue = stream`, core/keys.h OVS_QUEUE_STREAM_KEY): a
                                   strategy with writes_stream XADDs each order there in its
                                   sale's script; NULL: orders go to env->sold */
    const char *key_prefix;     /* what every Redis key the strategy writes starts with
                                   (core/keys.h): "" on the harness's own servers,
                                   "oversell:<hex>:<n>:" on a user's (`--redis`), where
                                   the harness finds and deletes the run's keys by it.
                                   NULL reads as "" (OVS_KEY_PREFIX) */
    const ovs_endpoint *queue_redis; /* with queue_stream, the Redis the stream is on when
                                   it is not redis[0] (`queue_node = N`): the sale and its
                                   entry are then two writes on two servers, and no script
                                   can make them one (locks/redis_stock.h). NULL: the
                                   stream is on redis[0], written by the sale's script */
} ovs_env;

/* env's key prefix, "" when it has none. */
#define OVS_KEY_PREFIX(env) ((env)->key_prefix != NULL ? (env)->key_prefix : "")

typedef struct ovs_strategy {
    const ovs_strategy_methods *m; /* always first: the methods table */
    const ovs_env *env;            /* set by the harness before xPrepare or xOpen */
    int err;                       /* last error code, 0 if none */
    char errstr[128];              /* human-readable reason for err */
    unsigned attempts;             /* attempts the last xLock/xExecute made (1 = no retry);
                                      set by the strategy in every such call */
} ovs_strategy;

struct ovs_strategy_methods {
    /* ---- version 1: the base ---------------------------------------------------------- */
    int version;           /* 1..OVS_STRATEGY_VERSION: which fields below it has */
    const char *name;      /* unique, as typed on the command line: "setnx"; lowercase
                              letters, digits and '-', at most OVS_STRATEGY_NAME_MAX */
    const char *summary;   /* one line for `oversell list` */
    int claims_safe;       /* 1 when it claims no oversell on healthy servers; the contract
                              suite holds it to that from the shop's SQL state */
    size_t size;           /* bytes of the instance, >= sizeof(ovs_strategy) */
    const ovs_param_spec *params; /* parameter table, n_params entries */
    int n_params;

    /* Redis masters the strategy needs with these parameters (0 for SQL-only ones).
     * NULL means 0. */
    int (*xNodes)(const ovs_params *p);
    /* Once per run before any client: seed Redis state from env (stock keys), load
     * scripts, add to the shop's schema through env->shop. s is a zeroed instance of m->size bytes that is never opened or closed:
     * only its base is for use, to fail with. NULL when not needed. Returns OVS_OK or
     * OVS_ERR (s->errstr). */
    int (*xPrepare)(ovs_strategy *s, const ovs_env *env);
    /* Connect. Returns OVS_OK or OVS_ERR (s->errstr). */
    int (*xOpen)(ovs_strategy *s, const ovs_env *env);
    /* Take the lock on key (already namespaced by the harness, like "sku:1"), retrying as
     * the parameters say. OVS_OK: held. OVS_BUSY: not acquired after all retries.
     * OVS_ERR/OVS_ERR_IO: failed (s->errstr). */
    int (*xLock)(ovs_strategy *s, const char *key);
    /* Release key. OVS_OK: released. OVS_BUSY: it was no longer ours (expired, or taken
     * by someone else) - a safety signal worth recording, not an error. */
    int (*xUnlock)(ovs_strategy *s, const char *key);
    /* The whole request for buyer, for strategies that are not locks. think_ns is the
     * scenario's think time, for strategies that have a window where it applies. OVS_OK
     * sold/booked, OVS_REFUSED sold out/taken, OVS_BUSY gave up on contention,
     * OVS_ERR/OVS_ERR_IO (s->errstr). A sale made outside SQL goes to env->sold before
     * OVS_OK is returned. */
    int (*xExecute)(ovs_strategy *s, const ovs_request *req, int64_t buyer, int64_t think_ns);
    /* Free connections. Called even when xOpen failed. */
    void (*xClose)(ovs_strategy *s);

    /* ---- version 2 ---------------------------------------------------------------------
     * Read these only through OVS_STRATEGY_FIELD: a version-1 table has none of them,
     * and reads as 0 / NULL. */
    int redis_stock;       /* 1 when it keeps the stock in Redis (stock:<sku>) and sells
                              through env->sold: after the run Redis stock must equal SQL
                              stock, and the divergence check must run on every SKU (a
                              missing key or an unreachable node is said, never skipped
                              silently). Needs xExecute */
    int unlock_commits;    /* 1 when the lock is a transaction and xUnlock commits the
                              writes made under it (sql-pessimistic): OVS_UNDONE from it
                              then means they were rolled back, OVS_ERR_IO that their fate
                              is unknown, and the request's outcome follows. Needs xLock */
    /* Optional: the fencing token of the lock this instance holds on key, or -1. When set,
     * the harness fences every key the request holds: the shop registers their tokens
     * before the check (a token lower than one already registered for that key is
     * refused, OVS_STALE) and writes only while each is still the key's newest, so a
     * holder whose lease moved on loses whichever order it and its successor wake in. An
     * overlap of holds is then tolerated by the checker only where the shop's rows show at
     * most one write among the overlapping holders. Tokens must grow with each holder of a
     * key, issued atomically with the lease. Needs xLock. */
    int64_t (*xFence)(ovs_strategy *s, const char *key);

    /* ---- version 3 ---------------------------------------------------------------------
     * Optional: stop (frozen = 1) or resume (frozen = 0) everything this instance runs on,
     * for `pause = process`: an adapter stops its process with SIGSTOP and resumes it with
     * SIGCONT, timers and lease-renewal threads included. The runner calls it from the
     * client's thread, after setting *env->frozen and before sleeping out the pause, then
     * again to resume before clearing it; a strategy without it is frozen by the flag alone
     * (its own threads must read env->frozen). Returns OVS_OK, or OVS_ERR (s->errstr): a
     * pause that could not be made real is a run error, never a verdict. */
    int (*xFreeze)(ovs_strategy *s, int frozen);
    /* 1 when it does not claim liveness under contention: a buyer may give up on a lock
     * that nobody holds (a library that keeps the partial locks of a failed attempt until
     * their lease ends). The contract suite then reports such give-ups instead of failing
     * on them; safety is held to claims_safe as ever. 0 for every built-in. */
    int no_liveness_claim;
    /* The shop back ends it exists on, comma-separated m->name values of core/shopdb.h
     * ("postgresql,mysql" for one built on server features: advisory locks, SERIALIZABLE
     * as distinct from SQLite's one level); NULL: every back end. A cell of a back end not
     * named is never run and never judged: the plan shows it as "n/a on <backend>", and
     * the contract suite skips it saying why. Checked by ovs_strategy_register: known
     * names only, none twice, at least one. Read it through ovs_strategy_runs_on. */
    const char *backends;
    /* Optional: whether, with parameters p on back end backend (a name from backends) and
     * workload w, it claims no oversell and no double booking; the contract suite holds
     * it to that answer (1) from the shop's rows, or to showing the race (0). For a
     * strategy whose safety is the database's and differs between databases and
     * isolation levels. NULL: claims_safe, everywhere it runs. */
    int (*xClaims)(const ovs_params *p, const char *backend, enum ovs_workload w);

    /* ---- version 4 ---------------------------------------------------------------------
     * Optional: the shop's screen before a request, the way the strategy answers it - "is
     * it in stock?", "is the room free?" - from wherever it reads (a cache, the database
     * under a soft lock). *answer gets the units of req's SKU it shows (inventory), or 1
     * free and 0 taken for req's stay (booking). OVS_OK with *answer, or a failure code
     * (s->errstr). The runner asks it before every request, from the client's thread, and
     * reads the truth in SQL on env->shop just before and just after the call: during a
     * run stock only goes down and a stay only goes from free to taken, so an answer
     * outside [truth after, truth before] contradicted the database at every instant of
     * the call, and is counted as a stale answer (core/answer.h) - a wrong screen, never
     * an oversell. A buyer shown 0 leaves without trying; any other answer goes on to the
     * request (xLock or xExecute) as ever. Must leave no transaction open on env->shop.
     * NULL: the runner asks nothing and records no answers. */
    int (*xAvailable)(ovs_strategy *s, const ovs_request *req, int64_t *answer);

    /* ---- version 5 ---------------------------------------------------------------------
     * Optional: whether it can run workload w with parameters p - 0, or 1 with why in why
     * (one line: "holds = sql holds units of inventory; bookings take holds = redis"). A
     * cell it does not fit is n/a, recorded so and never judged; asked for alone on the
     * command line, or named in [expect], it is refused before anything starts (exit 2).
     * Asked of parameters already accepted by the table. NULL: it fits every workload. */
    int (*xFits)(const ovs_params *p, enum ovs_workload w, char *why, size_t len);
    /* 1 when it reaches Redis by the addresses in env->redis alone and cannot follow a
     * Sentinel failover (an adapter's process is given addresses, not Sentinels): in a
     * scenario with [redis] sentinels it would keep dialling the dead master, and its
     * failed requests would look like a lock that held, so its cell there is n/a. 0: it
     * connects through the harness's Redis connection, which asks Sentinel. */
    int no_sentinel;

    /* ---- version 6 ---------------------------------------------------------------------
     * 1 when, given env->queue_stream, its sale script also XADDs the order to that
     * stream (fields sku and buyer), in the same script as the decrement, instead of
     * handing the order to env->sold: sale and queue entry are then one atomic write. A
     * strategy that keeps stock in Redis without it is n/a in a scenario whose queue is a
     * stream (a sale and an entry made apart would be a different strategy). */
    int writes_stream;

    /* ---- version 7 ---------------------------------------------------------------------
     * 1 when it connects to Redis by itself (an adapter's process, a plugin) and does not
     * put its keys under env->key_prefix nor log in with the endpoints' auth: on a server
     * of the user's (`--redis`) it would write keys the run cannot find and delete, so its
     * cell there is n/a. 0: its keys start with the prefix and its connections log in.
     * Tables before version 7 are read as 0; plugins are n/a on `--redis` by origin. */
    int no_key_prefix;
};

/* The version each field after the base first appeared in, next to the one reader the
 * harness uses for them: OVS_STRATEGY_FIELD(m, xFence, NULL) is m->xFence for a table of
 * version 2 or later and NULL for an older one. */
#define OVS_SINCE_redis_stock 2
#define OVS_SINCE_unlock_commits 2
#define OVS_SINCE_xFence 2
#define OVS_SINCE_xFreeze 3
#define OVS_SINCE_no_liveness_claim 3
#define OVS_SINCE_backends 3
#define OVS_SINCE_xClaims 3
#define OVS_SINCE_xAvailable 4
#define OVS_SINCE_xFits 5
#define OVS_SINCE_no_sentinel 5
#define OVS_SINCE_writes_stream 6
#define OVS_SINCE_no_key_prefix 7
#define OVS_STRATEGY_FIELD(m, field, otherwise)                                              \
    ((m)->version >= OVS_SINCE_##field ? (m)->field : (otherwise))

/* The registry. Built-ins are registered before the first call to any of these returns;
 * others are registered at start-up, before any run begins (the registry takes no lock).
 *
 * Register m under m->name, as sqlite3_vfs_register does, with the table's shape checked
 * once here so that nothing downstream has to: refused, with a reason in err, when its version is not 1..OVS_STRATEGY_VERSION, its
 * size is below sizeof(ovs_strategy), its name is not a valid one or is taken, it lacks
 * a summary, xOpen or xClose, it has not exactly one of xLock (with xUnlock) or xExecute,
 * a version-2 field contradicts that choice (redis_stock without xExecute, unlock_commits
 * or xFence without xLock), its backends list is malformed (see the field), its parameter table is malformed (see ovs_params_check), or
 * the registry is full. m must outlive every use of the registry. Returns 0 or -1. */
int ovs_strategy_register(const ovs_strategy_methods *m, char *err, size_t errlen);
/* Room for an origin or an unavailability text, NUL included; longer ones are cut. */
#define OVS_STRATEGY_ORIGIN_MAX 320
/* The origin of every built-in. */
#define OVS_ORIGIN_BUILTIN "built-in"
/* ovs_strategy_register, saying where m came from: origin is what `oversell list` prints,
 * like "file strategies/lua-setnx.ini" or "plugin /path/libexample.so" (ovs_strategy_register
 * itself says "registered by the program"). unavailable, when not NULL or empty, is why m
 * cannot run on this machine ("strategies/x.ini:6: 'node' not found on PATH"): it is
 * registered and listed all the same, and the command line refuses a run that selects
 * it. Both are copied. A name already taken is refused with the taker's origin. */
int ovs_strategy_register_from(const ovs_strategy_methods *m, const char *origin,
                               const char *unavailable, char *err, size_t errlen);
/* Where a registered m came from (OVS_ORIGIN_BUILTIN for the built-ins), or NULL when m
 * is not registered. */
const char *ovs_strategy_origin(const ovs_strategy_methods *m);
/* Why a registered m cannot run on this machine, or NULL when it can (or is not
 * registered). */
const char *ovs_strategy_unavailable(const ovs_strategy_methods *m);
/* The registered strategy called name, or NULL. */
const ovs_strategy_methods *ovs_strategy_find(const char *name);
/* Every registered strategy, NULL-terminated: the built-ins in builtin.def's order, then
 * the others in the order they were registered. That is the order of matrix columns and
 * of `oversell list`. */
const ovs_strategy_methods *const *ovs_strategy_list(void);

/* Whether m exists on the shop back end named backend ("sqlite", "postgresql", "mysql"):
 * 1 when its backends field is NULL or names it, else 0. */
int ovs_strategy_runs_on(const ovs_strategy_methods *m, const char *backend);
/* What m claims with parameters p on backend for workload w: xClaims's answer when it has
 * one, else claims_safe. */
int ovs_strategy_claims(const ovs_strategy_methods *m, const ovs_params *p, const char *backend,
                        enum ovs_workload w);

/* Run m->xPrepare with env on a fresh instance that is freed afterwards; OVS_OK when m
 * has no xPrepare. On failure returns its code with its reason in err. */
int ovs_strategy_prepare(const ovs_strategy_methods *m, const ovs_env *env, char *err,
                         size_t errlen);

/* Set s->err and s->errstr (printf-style), returning code: `return ovs_strategy_fail(s,
 * OVS_ERR, "redis %s:%d: %s", ...)`. */
int ovs_strategy_fail(ovs_strategy *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The built-in strategies, one file each under locks/, listed once in builtin.def. */
#define OVS_BUILTIN(table) extern const ovs_strategy_methods table;
#include "locks/builtin.def"
#undef OVS_BUILTIN

#endif
