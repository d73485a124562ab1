/* sentinel.c - start, settle and stop the redis-sentinel processes of a run.
 *
 * Each Sentinel is a real redis-sentinel with a config file of its own (Sentinel rewrites
 * it as it learns, so it cannot be arguments) in its own directory under the run's. The
 * config names everything a Sentinel would otherwise discover over several seconds: its
 * own id, the other Sentinels (known-sentinel) and the replicas (known-replica). The
 * replicas are named by their own ports, which is what master 0's INFO lists for them
 * (the port a replica announces with REPLCONF listening-port), not by the lag proxy they
 * replicate through: Sentinel promotes a real node. */
#include "infra/sentinel.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/child.h"
#include "core/util.h"
#include "infra/fleet_node.h"
#include "infra/port.h"

#define SENTINEL_SETTLE_NS (15 * OVS_NS_PER_S) /* all must know each other this soon */
#define SENTINEL_STOP_NS (2 * OVS_NS_PER_S)    /* grace after SIGTERM before SIGKILL */
#define SENTINEL_POLL_NS (20 * OVS_NS_PER_MS)
#define SENTINEL_PORT_TRIES 3 /* starts of the whole set when a port was taken */

typedef struct sentinel_proc {
    pid_t pid;               /* our unreaped child, or -1 */
    int slot;                /* its registry slot, or -1 */
    char id[41];             /* its myid: 40 hex digits */
    char dir[PATH_MAX];      /* its working directory */
    char conf[PATH_MAX];     /* sentinel.conf, which it rewrites */
    char log[PATH_MAX];      /* sentinel.log */
    char out[PATH_MAX];      /* stdout+stderr */
} sentinel_proc;

struct ovs_sentinels {
    int n;
    char exe[PATH_MAX];
    sentinel_proc p[OVS_MAX_SENTINELS];
    ovs_sentinel_set set;    /* what clients are given */
};

const ovs_sentinel_set *ovs_sentinels_set(const ovs_sentinels *s)
{
    return &s->set;
}

/* Sentinel ids only have to differ between the Sentinels of one master; the pid and the
 * port keep those of two runs on one machine apart in their logs too. */
static void make_id(char *id, int i, int port)
{
    snprintf(id, 41, "%08x%08x%08x%016x", (unsigned)getpid(), (unsigned)port, (unsigned)i,
             (unsigned)(0x5e47 + i));
}

static int write_conf(const ovs_sentinels *s, const ovs_sentinels_opts *o, int i, char *err,
                      size_t errlen)
{
    const sentinel_proc *p = &s->p[i];
    FILE *f = fopen(p->conf, "w");
    int quorum = s->n / 2 + 1;
    long long down = (long long)(o->down_after_ns / OVS_NS_PER_MS);
    long long fo = (long long)(o->failover_timeout_ns / OVS_NS_PER_MS);

    if (f == NULL) {
        ovs_seterr(err, errlen, "cannot create %s: %s", p->conf, strerror(errno));
        return OVS_ERR_ENV;
    }
    fprintf(f, "port %d\nbind %s\nprotected-mode no\ndaemonize no\n", s->set.ep[i].port,
            OVS_LOOPBACK_HOST);
    fprintf(f, "dir %s\nlogfile %s\n", p->dir, p->log);
    fprintf(f, "sentinel myid %s\n", p->id);
    fprintf(f, "sentinel monitor %s %s %d %d\n", s->set.master, o->master->host,
            o->master->port, quorum);
    fprintf(f, "sentinel down-after-milliseconds %s %lld\n", s->set.master, down);
    fprintf(f, "sentinel failover-timeout %s %lld\n", s->set.master, fo);
    fprintf(f, "sentinel parallel-syncs %s 1\n", s->set.master);
    for (int r = 0; r < o->nreplicas; r++)
        fprintf(f, "sentinel known-replica %s %s %d\n", s->set.master, o->replicas[r].host,
                o->replicas[r].port);
    for (int j = 0; j < s->n; j++)
        if (j != i)
            fprintf(f, "sentinel known-sentinel %s %s %d %s\n", s->set.master,
                    s->set.ep[j].host, s->set.ep[j].port, s->p[j].id);
    if (fclose(f) != 0) {
        ovs_seterr(err, errlen, "cannot write %s: %s", p->conf, strerror(errno));
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* The value of field name in a flat [name, value, ...] reply, or NULL. */
static const char *field(const redisReply *r, const char *name)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t k = 0; k + 1 < r->elements; k += 2)
        if (r->element[k]->type == REDIS_REPLY_STRING &&
            r->element[k + 1]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[k]->str, name) == 0)
            return r->element[k + 1]->str;
    return NULL;
}

/* Every entry of an array of flat replies (SENTINEL REPLICAS or SENTINELS) with flags
 * exactly `want`: none disconnected nor thought down. */
static int all_flags(const redisReply *r, const char *want, size_t n)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return 0;
    for (size_t k = 0; k < r->elements; k++) {
        const char *flags = field(r->element[k], "flags");
        if (flags == NULL || strcmp(flags, want) != 0)
            return 0;
    }
    return 1;
}

/* 0 when Sentinel i sees a master it reaches, the other Sentinels and the replicas, all
 * connected; 1 when not yet; why says what is missing. */
static int settled(const ovs_sentinels *s, int i, int nreplicas, char *why, size_t len)
{
    struct timeval tv = { 0, 500 * 1000 };
    redisContext *c = redisConnectWithTimeout(s->set.ep[i].host, s->set.ep[i].port, tv);
    redisReply *r = NULL;
    const char *v;
    int rc = 1;

    if (c == NULL || c->err) {
        snprintf(why, len, "does not answer: %s", c ? c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(c, tv);
    r = redisCommand(c, "SENTINEL MASTER %s", s->set.master);
    if ((v = field(r, "flags")) == NULL || strcmp(v, "master") != 0) {
        snprintf(why, len, "master flags %s", v ? v : "(no reply)");
        goto out;
    }
    if ((v = field(r, "num-other-sentinels")) == NULL || atoi(v) != s->n - 1) {
        snprintf(why, len, "knows %s other Sentinels of %d", v ? v : "?", s->n - 1);
        goto out;
    }
    if ((v = field(r, "num-slaves")) == NULL || atoi(v) != nreplicas) {
        snprintf(why, len, "knows %s replicas of %d", v ? v : "?", nreplicas);
        goto out;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SENTINEL REPLICAS %s", s->set.master);
    if (!all_flags(r, "slave", (size_t)nreplicas)) {
        snprintf(why, len, "a replica is not connected yet");
        goto out;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SENTINEL SENTINELS %s", s->set.master);
    if (!all_flags(r, "sentinel", (size_t)(s->n - 1))) {
        snprintf(why, len, "another Sentinel is not connected yet");
        goto out;
    }
    rc = 0;
out:
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

static int find_exe(ovs_sentinels *s, char *err, size_t errlen)
{
    static const char *const names[] = { "redis-sentinel", "/usr/bin/redis-sentinel",
                                         "/usr/sbin/redis-sentinel" };
    const char *env = getenv("OVERSELL_REDIS_SENTINEL");

    if (env != NULL && *env != '\0') {
        if (ovs_find_executable(env, s->exe, sizeof(s->exe)) == 0)
            return OVS_OK;
        ovs_seterr(err, errlen, "redis-sentinel not found: OVERSELL_REDIS_SENTINEL=%s is not "
                   "an executable file", env);
        return OVS_ERR_ENV;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ovs_find_executable(names[i], s->exe, sizeof(s->exe)) == 0)
            return OVS_OK;
    ovs_seterr(err, errlen, "redis-sentinel not found (install the redis-sentinel package "
                            "or set OVERSELL_REDIS_SENTINEL)");
    return OVS_ERR_ENV;
}

static int make_paths(sentinel_proc *p, const char *dir, int i, char *err, size_t errlen)
{
    int a = snprintf(p->dir, sizeof(p->dir), "%s/sentinel%d", dir, i);
    int b = snprintf(p->conf, sizeof(p->conf), "%s/sentinel%d/sentinel.conf", dir, i);
    int c = snprintf(p->log, sizeof(p->log), "%s/sentinel%d/sentinel.log", dir, i);
    int d = snprintf(p->out, sizeof(p->out), "%s/sentinel%d/sentinel.out", dir, i);

    if (a < 0 || b < 0 || c < 0 || d < 0 || (size_t)b >= sizeof(p->conf) ||
        (size_t)c >= sizeof(p->log) || (size_t)d >= sizeof(p->out)) {
        ovs_seterr(err, errlen, "directory path too long: %s", dir);
        return OVS_ERR_ENV;
    }
    if (mkdir(p->dir, 0700) != 0 && errno != EEXIST) {
        ovs_seterr(err, errlen, "cannot create %s: %s", p->dir, strerror(errno));
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* SIGTERM every Sentinel still running, SIGKILL after a grace, and reap them all. */
static void stop_procs(ovs_sentinels *s)
{
    int64_t deadline;
    siginfo_t si;
    int live = 0;

    for (int i = 0; i < s->n; i++)
        if (s->p[i].pid > 0) {
            kill(s->p[i].pid, SIGTERM);
            live++;
        }
    deadline = ovs_now_ns() + SENTINEL_STOP_NS;
    while (live > 0 && ovs_now_ns() < deadline) {
        for (int i = 0; i < s->n; i++)
            if (s->p[i].pid > 0 && ovs_child_exited(s->p[i].pid, &si)) {
                ovs_child_reap(&s->p[i].pid, &s->p[i].slot);
                live--;
            }
        if (live > 0)
            ovs_sleep_ns(SENTINEL_POLL_NS);
    }
    for (int i = 0; i < s->n; i++)
        if (s->p[i].pid > 0) {
            kill(s->p[i].pid, SIGKILL);
            ovs_child_reap(&s->p[i].pid, &s->p[i].slot);
        }
}

/* OVS_OK while every Sentinel runs; 1 when one exited because its port was taken; an
 * error with its reason when one exited for another. */
static int exited(ovs_sentinels *s, char *err, size_t errlen)
{
    for (int j = 0; j < s->n; j++) {
        siginfo_t si;
        if (!ovs_child_exited(s->p[j].pid, &si))
            continue;
        if (ovs_fleet_port_was_taken(s->p[j].log) || ovs_fleet_port_was_taken(s->p[j].out))
            return 1;
        /* The run's directory goes with the run: the reason is said here. */
        char reason[200];
        ovs_fleet_log_reason(s->p[j].log, reason, sizeof(reason));
        if (reason[0] == '\0')
            ovs_fleet_log_reason(s->p[j].out, reason, sizeof(reason));
        ovs_seterr(err, errlen, "redis-sentinel %d (port %d) exited: %s", j,
                   s->set.ep[j].port, reason[0] ? reason : "no message in its log");
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* Start the set once, on fresh ports, and wait until every Sentinel knows the others and
 * the replicas. OVS_OK; 1 when a Sentinel exited because its port was taken in the window
 * ovs_port_free leaves (the caller stops the set and starts it again: every config names
 * every port, so one cannot move alone); an error otherwise. */
static int start_once(ovs_sentinels *s, const ovs_sentinels_opts *o, char *err, size_t errlen)
{
    int rc;

    /* Every port and id first: each config names all the others. A fresh log too, so a
     * second try is judged on its own messages. */
    for (int i = 0; i < s->n; i++) {
        if ((rc = ovs_port_free(&s->set.ep[i].port, err, errlen)) != OVS_OK ||
            (rc = make_paths(&s->p[i], o->dir, i, err, errlen)) != OVS_OK)
            return rc;
        unlink(s->p[i].log);
        unlink(s->p[i].out);
        snprintf(s->set.ep[i].host, sizeof(s->set.ep[i].host), "%s", OVS_LOOPBACK_HOST);
        make_id(s->p[i].id, i, s->set.ep[i].port);
    }
    for (int i = 0; i < s->n; i++) {
        /* argv[0] ending in redis-sentinel is what puts the server in sentinel mode;
         * --sentinel says it again for a redis-server given as OVERSELL_REDIS_SENTINEL. */
        char *argv[] = { s->exe, s->p[i].conf, (char *)"--sentinel", NULL };
        if ((rc = write_conf(s, o, i, err, errlen)) != OVS_OK ||
            (rc = ovs_child_spawn(s->exe, argv, s->p[i].out, &s->p[i].pid, &s->p[i].slot, err,
                                  errlen)) != OVS_OK)
            return rc;
    }
    int64_t deadline = ovs_now_ns() + SENTINEL_SETTLE_NS;
    for (int i = 0; i < s->n; i++) {
        char why[160] = "";
        while (settled(s, i, o->nreplicas, why, sizeof(why)) != 0) {
            /* Any of them: Sentinel i never settles while another one is gone. */
            if ((rc = exited(s, err, errlen)) != OVS_OK)
                return rc;
            if (ovs_now_ns() >= deadline) {
                ovs_seterr(err, errlen, "redis-sentinel %d (port %d) not ready within %d s: %s",
                           i, s->set.ep[i].port, (int)(SENTINEL_SETTLE_NS / OVS_NS_PER_S), why);
                return OVS_ERR_ENV;
            }
            ovs_sleep_ns(SENTINEL_POLL_NS);
        }
    }
    return OVS_OK;
}

int ovs_sentinels_start(const ovs_sentinels_opts *o, ovs_sentinels **out, char *err,
                        size_t errlen)
{
    ovs_sentinels *s;
    int rc;

    *out = NULL;
    if (o->n < 1 || o->n > OVS_MAX_SENTINELS || o->down_after_ns < OVS_NS_PER_MS ||
        o->failover_timeout_ns < OVS_NS_PER_MS) {
        ovs_seterr(err, errlen, "sentinels: %d of 1..%d, or a timing under 1 ms", o->n,
                   OVS_MAX_SENTINELS);
        return OVS_ERR;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    s->n = o->n;
    s->set.n = o->n;
    snprintf(s->set.master, sizeof(s->set.master), "%s", OVS_SENTINEL_MASTER_NAME);
    for (int i = 0; i < OVS_MAX_SENTINELS; i++) {
        s->p[i].pid = -1;
        s->p[i].slot = -1;
    }
    if ((rc = find_exe(s, err, errlen)) != OVS_OK)
        goto fail;
    for (int tries = 1; (rc = start_once(s, o, err, errlen)) == 1; tries++) {
        stop_procs(s);
        if (tries == SENTINEL_PORT_TRIES) {
            ovs_seterr(err, errlen, "redis-sentinel: a port was taken by another process %d "
                       "times in a row", tries);
            rc = OVS_ERR_ENV;
            goto fail;
        }
    }
    if (rc != OVS_OK)
        goto fail;
    *out = s;
    return OVS_OK;
fail:
    ovs_sentinels_stop(s);
    return rc;
}

void ovs_sentinels_stop(ovs_sentinels *s)
{
    if (s == NULL)
        return;
    stop_procs(s);
    free(s);
}
