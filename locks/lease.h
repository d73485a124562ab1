/* lease.h - a lease on one Redis node, the lock that setnx, fencing and watchdog share.
 *
 * SET lock:<key> <token> NX PX ttl (in a script that recognises the call's own token),
 * retried with a randomised delay while another client holds it, and released by a Lua
 * compare-and-delete so that only the token's owner deletes. setnx is this and nothing
 * more; fencing has the same script issue a fencing token with the lease, watchdog adds a
 * thread that renews the lease while the holder lives.
 *
 * The parameters come from the strategy's own table, which must put the lease's
 * parameters at the OVS_LEASE_* indexes (OVS_LEASE_PARAM_SPECS does). All functions are
 * for the client's thread only: the connection and the token list are not locked. */
#ifndef OVS_LEASE_H
#define OVS_LEASE_H

#include "locks/redis_conn.h"
#include "locks/strategy.h"

enum {
    OVS_LEASE_TTL,
    OVS_LEASE_RETRY_COUNT,
    OVS_LEASE_RETRY_DELAY,
    OVS_LEASE_RETRY_JITTER,
    OVS_LEASE_COMMAND_TIMEOUT,
    OVS_LEASE_N_PARAMS /* a strategy's own parameters, if any, start here */
};

/* The lease's entries of a parameter table; only the TTL's default and help differ
 * between the strategies that use it. The command timeout defaults to a second: a healthy
 * loopback server answers in microseconds, and a dead or paused one should cost a client
 * about a second, not hang it; a fault test that wants a reply to be late sets it lower. */
#define OVS_LEASE_PARAM_SPECS(ttl_default, ttl_help)                                        \
    [OVS_LEASE_TTL] = { "ttl", ttl_default, "ms", NULL, 1, 86400000, ttl_help },            \
    [OVS_LEASE_RETRY_COUNT] = { "retry_count", 3, "count", NULL, 0, 1000000,                \
                                "retries after an attempt finds the lock taken or gets "    \
                                "no reply" },                                               \
    [OVS_LEASE_RETRY_DELAY] = { "retry_delay", 200, "ms", NULL, 0, 3600000,                 \
                                "pause before each retry" },                                \
    [OVS_LEASE_RETRY_JITTER] = { "retry_jitter", 200, "ms", NULL, 0, 3600000,               \
                                 "plus a uniform random extra in [0, this]" },              \
    [OVS_LEASE_COMMAND_TIMEOUT] = { "command_timeout", 1000, "ms", NULL, 1, 600000,         \
                                    "wait for each reply; a later one is an unknown outcome" }

/* What one lease runs and how it retries. ovs_lease_open reads it from the OVS_LEASE_*
 * parameters and runs the built-in scripts; a strategy whose parameters sit elsewhere, or
 * whose scripts are its own (a Lua-script strategy from a file), fills one itself. */
typedef struct ovs_lease_conf {
    double ttl_ms;             /* ARGV[2] of the acquire script */
    double retry_count;        /* retries after an attempt finds the lock taken */
    double retry_delay_ms;     /* pause before each retry ... */
    double retry_jitter_ms;    /* ... plus a uniform random extra in [0, this] */
    double command_timeout_ms; /* wait for each reply */
    const char *acquire_src;   /* KEYS[1] lock key, ARGV[1] token, ARGV[2] ttl ms: non-zero
                                  when it holds the lock for that token; NULL: the built-in */
    const char *release_src;   /* KEYS[1], ARGV[1] token: 1 released, 0 not ours; NULL: the
                                  built-in compare-and-delete */
    double wait_replicas;      /* after each acquire, WAIT for this many replicas to have
                                  the lock; an acquire fewer acknowledge is given back and
                                  counts as not taken. 0: no WAIT */
    double wait_timeout_ms;    /* longest that WAIT blocks (>= 1 when wait_replicas > 0);
                                  command_timeout_ms must leave room for it */
} ovs_lease_conf;

typedef struct ovs_lease {
    ovs_lease_conf conf;   /* as opened */
    ovs_redis redis;       /* env->redis[0], the one node */
    ovs_script acquire;    /* SET NX PX, or renew when the key holds our token already;
                              fenced, it issues the fencing token in the same step */
    ovs_script cad;        /* compare-and-delete, for releases */
    int fenced;            /* each acquire issues a fencing token from fence:<key> */
    ovs_redis_locks locks; /* tokens of the keys held now; rng for retry jitter */
} ovs_lease;

/* xNodes of every lease strategy: one node whatever the parameters. */
int ovs_lease_nodes(const ovs_params *p);

/* Set l up on env->redis[0] and connect, so that a wrong address fails the run before the
 * start barrier (later losses reconnect lazily). With fenced set, every lease comes with
 * a fencing token (ovs_lease_fence). OVS_OK, or OVS_ERR with s->errstr set. ovs_lease_close
 * must follow either way. */
int ovs_lease_open(ovs_lease *l, ovs_strategy *s, const ovs_env *env, int fenced);
/* ovs_lease_open with conf in place of the OVS_LEASE_* parameters: unfenced, conf's
 * scripts (both loaded now), conf's retries. Same contract; conf is copied, its scripts
 * must outlive l. */
int ovs_lease_open_conf(ovs_lease *l, ovs_strategy *s, const ovs_env *env,
                        const ovs_lease_conf *conf);

/* xLock: take key (the harness's name, "sku:1") with the settings l was opened with.
 * One token for all the attempts of the call, so that a retry recognises a lock an earlier
 * attempt took without hearing so. OVS_OK held, OVS_BUSY taken by others after every
 * retry, OVS_ERR not taken (refused, or never sent), OVS_ERR_IO when an attempt's outcome
 * is unknown and no later one settled it; s->errstr says why. Counts s->attempts. */
int ovs_lease_lock(ovs_lease *l, ovs_strategy *s, const char *key);

/* The token key is held with, or NULL. Valid until the next lock or unlock. */
const char *ovs_lease_token(const ovs_lease *l, const char *key);
/* The fencing token key is held with, for every key held now; -1 when it is not held or
 * the lease is not fenced. */
int64_t ovs_lease_fence(const ovs_lease *l, const char *key);

/* xUnlock: forget key and compare-and-delete it. OVS_OK released, OVS_BUSY it was not
 * held or no longer ours (expired, taken by another), else the error code; s->errstr says
 * which. */
int ovs_lease_unlock(ovs_lease *l, ovs_strategy *s, const char *key);

/* Drop the connection and the token list. Accepts a zeroed or partly opened l. Locks still
 * held are left to their TTL, as a crashed client's would be: that is what leases are for. */
void ovs_lease_close(ovs_lease *l);

#endif
