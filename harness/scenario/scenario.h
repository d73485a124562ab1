/* scenario.h - a scenario file, parsed and validated.
 *
 * Scenarios are INI files (read with libinih) in scenarios/. A file is validated whole
 * before anything starts: the first problem is reported as "file:line: what is wrong" and
 * the caller exits with status 2. See scenarios/README.md for the format.
 *
 * The parser knows no strategies: strategies are registered at run time, after it is
 * built and possibly after a file is read. It keeps the [strategy NAME] sections and the
 * [expect] entries as written, with their lines, and ovs_scenario_resolve (engine/plan.h)
 * holds them against the registry before anything runs. */
#ifndef OVS_SCENARIO_H
#define OVS_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "core/endpoint.h" /* OVS_MAX_SENTINELS */
#include "core/request.h"

/* Limits the parser enforces, so that nothing downstream sizes an array from a user's file
 * unchecked. A booking of more nights than OVS_MAX_NIGHTS is refused: under `lock = night`
 * the runner takes one lock per night, into a fixed-size key array. */
#define OVS_MAX_CLIENTS 64 /* [client NAME] sections in one file */
#define OVS_MAX_FAULTS 32  /* [fault NAME] sections in one file */
/* Every duration in a file (start, think, at, lag, ...) is at most an hour: scenarios are
 * meant to finish, and it keeps offset + duration arithmetic far from overflow. */
#define OVS_MAX_DURATION_NS (3600LL * 1000000000LL)

enum ovs_arrival {
    OVS_ARRIVE_BURST, /* every buyer arrives at t = 0 */
    OVS_ARRIVE_RATE,  /* Poisson arrivals at `rate` per second, drawn from the seed */
};

/* A [client NAME] section: one scripted client on the teaching timeline. */
typedef struct ovs_client_spec {
    char name[32];    /* the section's NAME, shown in reports */
    int64_t start_ns; /* `start`: offset from the run's t0, or from the end of the
                         fault after_fault names */
    int after_fault;  /* `after = FAULT`: index in faults[] of the fault whose end the
                         start counts from (a restarted node answering again, a pause
                         resumed), or -1 */
    int after_client; /* `after = CLIENT:STEP`: the start counts from when that client's
                         step passed (its acquire got the lock), or -1; with after_fault
                         -1 too, the start counts from t0 */
    int after_step;   /* enum ovs_op of that STEP, or -1 */
    int before_client; /* `before = CLIENT:STEP`: this client's request must start before
                          that client's step begins, or the run is an error (the race the
                          scenario is about did not happen); -1: no such condition */
    int before_step;   /* enum ovs_op of that STEP, or -1 */
    int before_line;   /* the `before` line, for messages */
    int64_t think_ns; /* `think`: pause between check and act, inside the critical section */
    ovs_request req;  /* `request` */
    int pause_process; /* `pause = process`: during think the client's whole runtime stops,
                          its strategy's background threads (a watchdog) included, like a
                          GC pause; `pause = thread` (0, the default): only the worker
                          sleeps */
    int reenter;      /* `reenter = 1`: the request calls a helper that takes the same
                         lock(s) again, for the think, inside the outer hold (a nest);
                         0 (the default): the lock is taken once */
    int line;         /* line of the section header, for messages */
} ovs_client_spec;

/* Redis persistence for managed nodes ([redis] persistence). */
enum ovs_persistence {
    OVS_PERSIST_NONE, /* nothing on disk: a restart comes back empty */
    OVS_PERSIST_RDB,  /* snapshots only, taken by `action = snapshot` faults */
    OVS_PERSIST_AOF,  /* appendonly yes, appendfsync always: a SIGKILL loses no write
                         Redis acknowledged */
};

/* What a [fault NAME] section does. */
enum ovs_fault_action {
    OVS_FAULT_KILL,         /* SIGKILL the target node */
    OVS_FAULT_RESTART,      /* start a killed node again on its port, with the persistence */
    OVS_FAULT_KILL_RESTART, /* kill, then restart after `duration` (0: at once) */
    OVS_FAULT_PAUSE,        /* SIGSTOP; SIGCONT after `duration` when given */
    OVS_FAULT_RESUME,       /* SIGCONT */
    OVS_FAULT_PROMOTE,      /* REPLICAOF NO ONE on a replica; clients' master links move to it */
    OVS_FAULT_CUT,          /* a link discards what is sent (heals after `duration` if given) */
    OVS_FAULT_HEAL,         /* a cut link carries traffic again */
    OVS_FAULT_SNAPSHOT,     /* SAVE on the target: the RDB a later restart loads */
    OVS_FAULT_CRASH,        /* a client dies for good: no further step, its adapter SIGKILLed */
    OVS_FAULT_CLOCK_JUMP,   /* the target node's wall clock moves by `by` (clockshim/) */
};

/* What a fault acts on ([fault] target). */
enum ovs_target_kind {
    OVS_TARGET_NODE,    /* `node:N`: master N (0-based) */
    OVS_TARGET_REPLICA, /* `replica:N`: replica N of master 0 */
    OVS_TARGET_LINK,    /* `link:CLIENT:node:N`: that client's connection to master N */
    OVS_TARGET_CLIENT,  /* `client:NAME`: a timeline client (target_client) */
};

/* How Redis stock is rebuilt when a restart leaves it empty ([fault] recovery). */
enum ovs_recovery {
    OVS_RECOVER_NONE,    /* nothing: keys the node lost stay lost */
    OVS_RECOVER_REWARM,  /* `rewarm-from-sql`: stock:<sku> = the SQL stock now, blind to
                            orders still in the write-back queue */
    OVS_RECOVER_RECONCILE, /* `reconcile`: SQL stock minus the orders still queued */
};

typedef struct ovs_fault {
    char name[32];                /* the section's NAME */
    int64_t at_ns;                /* `at`: offset from t0; -1 when triggered by `after` */
    int after_client;             /* `after = CLIENT:STEP`: timeline client index, or -1 */
    int after_step;               /* enum ovs_op of STEP (acquire, check, act, release), or -1 */
    int after_crowd;              /* `after = crowd:N`: once the crowd's N-th request has
                                     succeeded (N >= 1), or 0 */
    enum ovs_fault_action action; /* `action` */
    enum ovs_target_kind target;  /* `target` */
    int target_node;              /* N of node:N, replica:N, or the node of a link; 0 for
                                     a client */
    int target_client;            /* the CLIENT of link:CLIENT:node:N or client:NAME, else
                                     -1 */
    int64_t duration_ns;          /* `duration`: 0 = none */
    int64_t by_ns;                /* `by` of a clock-jump: forward (> 0) or back (< 0),
                                     never 0; 0 for every other action */
    enum ovs_recovery recovery;   /* `recovery`, for restarts */
    int line;                     /* section header line, for messages */
} ovs_fault;

/* The [redis] section: the topology the harness builds for a run. */
typedef struct ovs_redis_spec {
    int nodes;               /* `nodes`: masters to start; 0 = what the strategy needs */
    int replicas;            /* `replicas`: replicas of master 0 (0..4) */
    int64_t lag_ns;          /* `lag`: replication link latency (master to replica) */
    int64_t jitter_ns;       /* `jitter`: +/- on that latency */
    enum ovs_persistence persistence; /* `persistence = none | rdb | aof` */
    int read_from_replica;   /* `read_from = replica` (1) or master (0, default) */
    int proxied_links;       /* `links = proxied`: each timeline client reaches each node
                                through its own proxy, so faults can cut one client's link;
                                `direct` (0, default). Implied by any link: target */
    int sentinels;           /* `sentinels`: redis-sentinel processes watching master 0
                                (1..OVS_MAX_SENTINELS, core/endpoint.h; 0, default:
                                none). Clients then
                                find master 0 through them, and they, not the harness,
                                promote a replica when it dies */
    int64_t sentinel_down_after_ns; /* `sentinel_down_after`: down-after-milliseconds
                                (default OVS_SENTINEL_DOWN_AFTER_NS) */
    int64_t sentinel_failover_timeout_ns; /* `sentinel_failover_timeout`: failover-timeout
                                (default OVS_SENTINEL_FAILOVER_TIMEOUT_NS) */
    int min_replicas_to_write; /* `min_replicas_to_write`: master 0 and its replicas refuse
                                writes (NOREPLICAS) with fewer good replicas (1..replicas;
                                0, default: off) */
    int min_replicas_max_lag; /* `min_replicas_max_lag`: seconds since a replica's last
                                acknowledgement for it to count as good (1..3600; 0 when
                                off, OVS_MIN_REPLICAS_MAX_LAG when not given) */
    int cluster;             /* `cluster = N`: the N masters (3..) form one Redis Cluster;
                                nodes is N too. 0 (default): independent servers */
    int cluster_replicas;    /* `cluster_replicas`: replicas of each cluster master (0..2,
                                default 0), joined by CLUSTER REPLICATE; the cluster
                                itself promotes one when its master is killed */
    int64_t cluster_node_timeout_ns; /* `cluster_node_timeout`: cluster-node-timeout (whole
                                ms; 0, default: OVS_CLUSTER_NODE_TIMEOUT_NS) */
} ovs_redis_spec;

/* cluster-node-timeout when a scenario gives none: a killed master is failed over about
 * two of these after the kill, well inside a run of a few seconds. */
#define OVS_CLUSTER_NODE_TIMEOUT_NS INT64_C(2000000000)
#define OVS_CLUSTER_REPLICAS_MAX 2

/* Redis's own default for min-replicas-max-lag, in seconds. */
#define OVS_MIN_REPLICAS_MAX_LAG 10

/* Half a second without a reply before a Sentinel thinks master 0 is down: short, so a
 * failover happens inside a run of a few seconds, and still ten times the longest
 * round trip a loaded loopback showed. */
#define OVS_SENTINEL_DOWN_AFTER_NS INT64_C(500000000)
/* Sentinel also uses failover-timeout as the time a replica may replicate from another
 * address than the master's before Sentinel "fixes" it (+fix-slave-config, REPLICAOF the
 * master directly). The harness's replicas replicate through the lag proxy, so a short
 * timeout would quietly remove the lag mid-run: a minute is longer than any run. */
#define OVS_SENTINEL_FAILOVER_TIMEOUT_NS INT64_C(60000000000)

/* The [crowd] section: many buyers served by a worker pool. */
typedef struct ovs_crowd {
    int buyers;               /* `buyers`: how many requests in all */
    enum ovs_arrival arrival; /* `arrival = burst` or `arrival = rate 100/s` */
    double rate;              /* arrivals per second when arrival is RATE */
    int workers;              /* `workers`: threads in the pool (default min(buyers, 16)) */
    int64_t think_ns;         /* `think`: lower bound of the think time */
    int64_t think_max_ns;     /* upper bound (`think = 1ms..5ms`); == think_ns when fixed */
    ovs_request req;          /* `request`: the same request for every buyer */
    int reenter;              /* `reenter = 1`: every buyer nests, as a client's reenter */
    int spread_skus;          /* no file key: 0 from the parser. Set by `oversell bench`
                                 for its many-SKU runs: buyer i then buys
                                 sku = 1 + i % skus instead of req.sku */
} ovs_crowd;

/* One `key = value` line, as written. */
typedef struct ovs_scenario_kv {
    char *key;
    char *value;
    int line;
} ovs_scenario_kv;

/* A [strategy NAME] section as written: parameters for one strategy in this scenario.
 * Neither the name nor the keys are checked here (ovs_scenario_resolve does). */
typedef struct ovs_scenario_params {
    char *name;          /* NAME of the section header */
    int line;            /* the header's line */
    int n;               /* key lines, in file order */
    ovs_scenario_kv *kv;
} ovs_scenario_params;

/* One [expect] entry: NAME = safe | unsafe [>= P% | <= P%], or NAME@BACKEND = ... for one shop back end
 * only, which overrides NAME's there. Both names are checked by ovs_scenario_resolve.
 * The verdict may be followed by a second word about the stale answers figure, which is
 * no part of the verdict (core/answer.h): "safe stale" (some answers must be stale) or
 * "safe fresh" (none may be), so that the gate also fails a screen that stopped being
 * stale, or started. */
typedef struct ovs_expect {
    char *name; /* the strategy, as written */
    char *backend; /* the back end after '@' ("postgresql"), or NULL: every back end */
    int safe;   /* 1 safe, 0 unsafe */
    int line;
    int stale;  /* 1 "stale": some stale answers, 0 "fresh": none, -1 not said */
    /* Of a cell run several times (--repeat), the share of runs that must be unsafe:
     * "unsafe >= 95%" at least (rate_cmp 1), "unsafe <= 5%" at most (rate_cmp -1), with
     * rate 0.95 or 0.05. 0: not said, and "safe" is then no run unsafe, "unsafe" at least
     * one (the failure still shows). */
    int rate_cmp;
    double rate;
} ovs_expect;

/* The write-back queue a scenario's Redis sales reach SQL through. */
enum ovs_queue_kind {
    OVS_QUEUE_MEMORY, /* `memory` (default): the harness's own queue (engine/writeback.h) */
    OVS_QUEUE_STREAM, /* `stream`: a Redis Stream, written by the sale's own script */
};

typedef struct ovs_queue_spec {
    enum ovs_queue_kind kind;  /* queue = memory | stream */
    int idempotent;            /* queue_apply = idempotent (1) | plain (0): the order table
                                  has a unique key on the stream entry, so a redelivered
                                  entry is applied once */
    int consumer_crash;        /* queue_consumer_crash = N: the consumer dies after applying
                                  its N-th order, before XACK; 0: never */
    int64_t claim_idle_ns;     /* queue_claim_idle: how long an entry stays pending before
                                  the next consumer claims it (XAUTOCLAIM); default 100ms */
    int node;                  /* queue_node = N: the stream is on [redis] node N; 0
                                  (default): on node 0 beside the stock, written by the
                                  sale's own script. N >= 1: the sale is two writes on two
                                  servers (locks/redis_stock.h) */
} ovs_queue_spec;

typedef struct ovs_scenario {
    char path[512];                /* the file as given */
    char name[64];                 /* [scenario] name (required; [a-z0-9-]) */
    char description[512];         /* [scenario] description, shown in reports */
    enum ovs_workload workload;    /* [scenario] workload = inventory | booking */
    uint64_t seed;                 /* [scenario] seed (default 1) */
    int skus;                      /* inventory: SKUs 1..skus (default 1) */
    int stock;                     /* inventory: initial stock of each SKU */
    enum ovs_granularity granularity; /* booking: [scenario] lock = hotel|check_in|night
                                         (default night) */
    int64_t writeback_delay_ns;    /* [scenario] writeback_delay: queue delay to SQL */
    ovs_queue_spec queue;          /* [scenario] queue, queue_apply, queue_consumer_crash,
                                      queue_claim_idle, queue_node */

    int n_clients;                 /* timeline clients, in file order; 0 with a crowd */
    ovs_client_spec *clients;
    int has_crowd;                 /* 1 when a [crowd] section is present */
    ovs_crowd crowd;

    ovs_redis_spec redis;          /* [redis] */

    int n_faults;                  /* [fault NAME] sections, in file order */
    ovs_fault *faults;

    int n_params;                  /* [strategy NAME] sections, in file order */
    ovs_scenario_params *params;
    int n_expect;                  /* [expect] entries, in file order */
    ovs_expect *expect;
} ovs_scenario;

/* Load and validate path. On failure returns -1, leaves *sc empty (safe to free) and
 * writes "path:line: reason" into err. */
int ovs_scenario_load(const char *path, ovs_scenario *sc, char *err, size_t errlen);
/* Parse from memory; `path` is used only in messages. Same contract as load. */
int ovs_scenario_parse(const char *path, const char *text, ovs_scenario *sc, char *err,
                       size_t errlen);
void ovs_scenario_free(ovs_scenario *sc);
/* Every *.ini in dir, sorted by name, as malloc'd "dir/name" paths (at most max). Returns
 * the count, or -1 when dir cannot be read. Free each path. */
int ovs_scenario_files(const char *dir, char **paths, int max);

/* The values of one [fault NAME] section as written; NULL for a key not given. */
typedef struct ovs_fault_text {
    const char *at, *after, *action, *target, *duration, *recovery, *by;
} ovs_fault_text;

/* Interpret a [fault NAME] section (scenario_fault.c). sc must already hold the workload,
 * the clients and the [redis] section: `after` and link targets name timeline clients,
 * and node and replica numbers are checked against the topology. Returns 0 with f filled,
 * or -1 with a reason (no file or line) in err and *key set to the key it is about
 * ("target"), or to NULL when it is about the section (a required key is missing). */
/* CLIENT:STEP as `after` of a fault and `before` of a client spell it (alice:check; STEP
 * is acquire, check, act or release), key naming the key in messages: 0 with the timeline
 * client's index and the step's enum ovs_op, or -1 with a reason in err. */
int ovs_client_step_parse(const ovs_scenario *sc, const char *key, const char *text,
                          int *client, int *step, char *err, size_t errlen);
/* An action's name as a scenario spells it ("kill-restart"), "?" for none. */
const char *ovs_fault_action_name(enum ovs_fault_action a);
int ovs_fault_parse(const ovs_scenario *sc, const char *name, const ovs_fault_text *t,
                    ovs_fault *f, const char **key, char *err, size_t errlen);

/* Parse a request line for a workload:
 *   inventory: "buy sku=1"
 *   booking:   "book hotel=1 room=101 dates=2026-01-20..2026-01-22"
 * Returns 0, or -1 with a reason (no file or line) in err. */
int ovs_request_parse(enum ovs_workload w, const char *text, ovs_request *r, char *err,
                      size_t errlen);

/* Number of requests a run makes: clients or crowd buyers. */
int ovs_scenario_requests(const ovs_scenario *sc);
/* The request buyer makes (0 <= buyer < ovs_scenario_requests): its client's, or the
 * crowd's, on SKU 1 + buyer % skus when the crowd spreads them. The runner serves this and
 * the engine's figures read it back, so the rule is written once. */
ovs_request ovs_scenario_request_of(const ovs_scenario *sc, int buyer);

#endif
