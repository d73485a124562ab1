/* redis_conn.h - what the Redis strategies share: a connection that knows when its
 * outcome is unknown, Lua scripts run by hash, and the lock tokens an instance holds.
 *
 * The one rule every function here keeps is the outcome rule that the events record (ok,
 * fail, unknown: core/trace.h) and the checker relies on. A command that
 * was never sent (no connection could be made) or that Redis refused with an error reply
 * certainly did not happen: OVS_ERR. A command that was sent and whose reply never came
 * (timeout, reset, EOF) may have happened: OVS_ERR_IO. After OVS_ERR_IO the hiredis
 * context is discarded - a late reply would otherwise be read as the answer to the next
 * command - and the next call reconnects.
 *
 * Not thread-safe: one ovs_redis per strategy instance, used from its client's thread.
 * Library code never touches signal dispositions: the process must ignore SIGPIPE, or a
 * write to a server that just died kills it (hiredis uses plain write()). */
#ifndef OVS_REDIS_CONN_H
#define OVS_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "locks/strategy.h"
#include "core/keys.h"
#include "core/util.h"

typedef struct ovs_redis_cluster ovs_redis_cluster; /* locks/redis_cluster.c */

/* One server and the connection to it, reconnected lazily. With ep.cluster, a whole
 * Redis Cluster instead: locks/redis_cluster.h. */
typedef struct ovs_redis {
    redisContext *c;            /* NULL until connected, and again after any I/O error */
    ovs_endpoint ep;            /* where to (re)connect; with ep.sentinels, where the
                                   last connect found the master */
    struct timeval connect_tv;  /* bound on the TCP connect */
    struct timeval command_tv;  /* bound on each write and each read of a command */
    int64_t deadline;           /* monotonic ns by which every connect and read must end
                                   as well, 0 for none (ovs_redis_set_deadline) */
    int short_tv;               /* the socket's timeouts are below command_tv, cut to a
                                   deadline; put back before a read without one */
    int err;                    /* code of the last failure, 0 after a success */
    int noreplicas;             /* the last failure was a NOREPLICAS error reply: a master
                                   with min-replicas-to-write refused the write for want of
                                   good replicas, so nothing was written (ovs_redis_refused) */
    char errstr[128];           /* "redis 127.0.0.1:7001: SET: timeout" */
    ovs_redis_cluster *cluster; /* ep.cluster: the nodes and slot map, from the first
                                   command until ovs_redis_close */
} ovs_redis;

/* Set up r for ep without connecting. Timeouts are milliseconds, > 0. */
void ovs_redis_init(ovs_redis *r, const ovs_endpoint *ep, double connect_ms,
                    double command_ms);
/* Connect now if not connected. OVS_OK, or OVS_ERR_IO with r->errstr set. */
int ovs_redis_connect(ovs_redis *r);
/* Drop the connection; r stays usable (the next command reconnects). Accepts a zeroed r. */
void ovs_redis_close(ovs_redis *r);

/* Bound every connect and read on r from now on by the monotonic time deadline_ns too,
 * besides their own timeouts; 0 lifts the bound. For a round over several servers that
 * must end at one time whichever of them stay silent. A connect that would start with no
 * time left is not tried (the command is not sent: OVS_ERR). Before each read the socket's
 * timeout becomes the time left, never under 1 ms, so a reply that arrived while another
 * server was being waited for is still taken after the deadline, and a server that sent
 * none costs one more millisecond, then fails as a timeout (OVS_ERR_IO, context dropped). */
void ovs_redis_set_deadline(ovs_redis *r, int64_t deadline_ns);

/* Run one command, formatted as redisCommand formats (%s, %d, %lld, %b). On OVS_OK *out
 * is the reply, never an error reply; free it with freeReplyObject. Otherwise *out is NULL
 * and the code follows the outcome rule above. */
int ovs_redis_cmd(ovs_redis *r, redisReply **out, const char *fmt, ...);

/* Send a command already in RESP form (redisFormatCommand's) and read its reply, like
 * ovs_redis_cmd; never routed over a cluster. For redis_cluster.c. */
int ovs_redis_cmd_formatted(ovs_redis *r, const char *cmd, size_t len, redisReply **out);

/* OVS_OK when reply has the hiredis type (REDIS_REPLY_INTEGER, ...); else OVS_ERR with
 * "what: expected integer reply, got string" in r->errstr. */
int ovs_redis_expect(ovs_redis *r, const redisReply *reply, int type, const char *what);

/* 1 when the last command failed because the master refused writes (NOREPLICAS, from
 * min-replicas-to-write): a refusal by the server's policy, like a lock found taken, and
 * not a broken environment. A strategy reports it as OVS_BUSY: it could not get the lock
 * or make the sale now, and nothing happened. */
int ovs_redis_refused(const ovs_redis *r);

/* A Lua script run by its SHA1. sha is empty until the first SCRIPT LOAD on some
 * connection; keep one per instance (it is written on load). */
typedef struct ovs_script {
    const char *src; /* the script text; static storage */
    char sha[41];    /* hex SHA1 as SCRIPT LOAD returned it, or "" */
} ovs_script;

/* EVALSHA s with nkeys keys then nargs arguments, all in kv. Loads the script first when
 * it has no hash yet, and once more when the server answers NOSCRIPT (it restarted, or
 * this is another server). Returns like ovs_redis_cmd. A failed SCRIPT LOAD means the
 * script itself never ran: OVS_ERR, even when the load timed out. */
int ovs_redis_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                   const char *const *kv, redisReply **out);

/* SCRIPT LOAD s on r now (connecting first if needed), filling s->sha. OVS_OK, or OVS_ERR
 * with r->errstr: loading changes no data, so even a lost reply leaves nothing unknown.
 * For a strategy that wants the script on a server before its first pipelined call. */
int ovs_redis_script_load(ovs_redis *r, ovs_script *s);

/* Pipelined script calls, for a strategy that talks to several servers at once
 * (Redlock): send the call on every connection first, then read each reply in turn, so
 * the servers work in parallel and the whole round costs about one round trip instead of
 * one per server.
 *
 * ovs_redis_send_eval connects if needed (bounded by the connect timeout) and sends
 * EVALSHA with s's hash (or, while s has none, EVAL with its source, which caches it on
 * the server too). OVS_OK: it is on its way and exactly one ovs_redis_recv_eval, given the
 * same arguments, must follow. OVS_ERR: never sent (no connection, out of memory).
 * OVS_ERR_IO: the write failed part way, the context is dropped and the outcome is
 * unknown. Any failure drops the connection, and with it every reply still due on it.
 *
 * ovs_redis_recv_eval reads the next reply, waiting at most the command timeout for each
 * read (or the time left to r's deadline, when it has one), then fails with OVS_ERR_IO
 * (context dropped); otherwise it returns like ovs_redis_cmd. Replies come back in the
 * order the calls were sent on that connection. When the server answers NOSCRIPT (it
 * restarted, or never saw the script) the script did not run there, and recv_eval loads
 * it and runs it once more on that server alone, as ovs_redis_eval would: one extra round
 * trip for that server only. */
int ovs_redis_send_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                        const char *const *kv);
int ovs_redis_recv_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                        const char *const *kv, redisReply **out);

/* The script every lock strategy releases with: delete KEYS[1] only while its value is
 * ARGV[1], so a client whose lease expired cannot delete its successor's lock. Returns 1
 * when it deleted, 0 when the key was gone or someone else's. */
extern const char ovs_redis_cad_src[];

/* The script every lock strategy acquires with: take KEYS[1] for the token ARGV[1] with a
 * TTL of ARGV[2] ms. Returns 1 when it took the lock now (SET NX PX); 2 when the key
 * already held that token - or, when ARGV[3] is given, any token starting with ARGV[3] -
 * and now holds ARGV[1] with the full TTL again; 0 when another token holds it. Answer 2
 * is how the retry of one xLock call recognises a lock that an earlier attempt of the same
 * call took while its reply was lost, instead of finding it "taken", by itself, until the
 * TTL. The prefix form is for a strategy that gives each attempt its own token under one
 * prefix per call (Redlock): the key then carries the newest attempt's token, so a late
 * release of an earlier attempt no longer matches it and cannot delete it. */
extern const char ovs_redis_acquire_src[];

/* Room for "<prefix>lock:<key>" (ovs_redis_lock_key) or "<prefix>fence:<key>" of any key a
 * strategy accepts: one that fits OVS_KEY_MAX (core/request.h), as every key the runner
 * names does, under a prefix that fits OVS_KEY_PREFIX_MAX (core/keys.h). */
#define OVS_REDIS_LOCK_KEY_MAX (OVS_KEY_PREFIX_MAX + OVS_KEY_MAX + 8)
/* Room for the longest token ovs_redis_locks_token makes, every number at its widest:
 * "c" 11 "-p" 11 "-" 20 "-" 16 and the NUL. */
#define OVS_REDIS_TOKEN_MAX 64

/* One lock this instance believes it holds. */
typedef struct ovs_redis_held {
    char key[OVS_KEY_MAX];           /* the key as the harness named it: "sku:1" */
    char token[OVS_REDIS_TOKEN_MAX]; /* the value written under lock:<key> */
    int64_t fence;                   /* the fencing token issued with it, or -1 */
} ovs_redis_held;

/* The tokens of an instance: it may hold several keys at once (a booking locked per night
 * takes one lock per night, in sorted order, before releasing any). */
typedef struct ovs_redis_locks {
    ovs_rng rng;          /* retry jitter only, seeded from env->seed, so that a scenario's
                             schedule is the same on every run; tokens never draw from it */
    int client;           /* env->client, part of every token */
    int pid;              /* getpid() at init, part of every token */
    uint64_t nonce;       /* 64 bits from the OS, drawn once, part of every token */
    uint64_t counter;     /* tokens made so far, part of every token */
    ovs_redis_held *held; /* n of cap in use, in the order taken */
    int n, cap;
} ovs_redis_locks;

/* Returns 0, or -1 with err set when the OS gives no random bits (getrandom(2) and
 * /dev/urandom both failed); l is then still safe to free. */
int ovs_redis_locks_init(ovs_redis_locks *l, int client, uint64_t seed, char *err,
                         size_t errlen);
/* A fresh token, "c<client>-p<pid>-<counter>-<nonce in hex>". The counter keeps the tokens
 * of one instance apart; the client index those of one process; the pid those of two
 * processes on one host at a time. The nonce keeps apart what the rest cannot: two
 * instances of one client in one process, two hosts, a pid reused later against a
 * long-lived server. It comes from the OS and not from the scenario seed, because two
 * processes running one scenario have the same seeds. */
void ovs_redis_locks_token(ovs_redis_locks *l, char *buf, size_t len);
/* Remember that key is held with token (and fence, -1 for none). 0, or -1 (out of memory,
 * key too long). */
int ovs_redis_locks_add(ovs_redis_locks *l, const char *key, const char *token,
                        int64_t fence);
/* The token key is held with, or NULL. Valid until the next add or remove. */
const char *ovs_redis_locks_find(const ovs_redis_locks *l, const char *key);
/* The fencing token key is held with; -1 when it is not held or has none. */
int64_t ovs_redis_locks_fence(const ovs_redis_locks *l, const char *key);
void ovs_redis_locks_remove(ovs_redis_locks *l, const char *key);
void ovs_redis_locks_free(ovs_redis_locks *l);

/* Sleep delay_ms plus a uniform jitter in [0, jitter_ms], drawn from rng, so that clients
 * that collided do not collide again in lock step. */
void ovs_redis_backoff(ovs_rng *rng, double delay_ms, double jitter_ms);

/* "<prefix>lock:<key>" into buf (prefix: env->key_prefix, NULL as ""); -1 when it does
 * not fit. */
int ovs_redis_lock_key(char *buf, size_t len, const char *prefix, const char *key);

#endif
