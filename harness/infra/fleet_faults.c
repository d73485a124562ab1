/* fleet_faults.c - a scenario's node faults on a running fleet: kill, restart, pause and
 * resume a node, add a replica, promote it, take a snapshot, move its clock.
 *
 * Split from fleet.c, which starts and stops the fleet; the node operations both use are
 * in fleet_node.h. Per-node state (pid, port, directory, role) lives in fleet_node, and the
 * command line is rebuilt from it at every spawn, so the faults are a matter of calling
 * ovs_fleet_node_spawn and ovs_child_reap again on one node: a kill reaps the node but
 * keeps its port and directory, a restart spawns it again on that port and waits until it
 * has loaded what its persistence kept. Replicas are nodes like the masters, numbered after
 * them.
 *
 * A fleet has no lock. Calls that change it (add_replica, kill, restart, pause, resume,
 * promote) must not run concurrently with any other call on the same fleet; endpoints,
 * once returned, never change. */
#include "infra/fleet_faults.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/child.h"
#include "infra/fleet_node.h"
#include "infra/tmpdir.h"
#include "core/util.h"

#define FLEET_LOAD_NS (30 * OVS_NS_PER_S)    /* a restarted server must have loaded its
                                                data (RDB or AOF) this soon */
#define FLEET_SYNC_NS (10 * OVS_NS_PER_S)    /* a new replica must have synced this soon */
#define FLEET_CMD_NS (2 * OVS_NS_PER_S)      /* reply timeout of every command we send */
#define FLEET_SAVE_NS (30 * OVS_NS_PER_S)    /* reply timeout of SAVE */
#define FLEET_STOPPED_NS (OVS_NS_PER_S)      /* SIGSTOP must have stopped a node this soon */

static int fleet_check(const ovs_fleet *f, int i, const char *what, char *err, size_t errlen)
{
    if (f == NULL) {
        ovs_seterr(err, errlen, "%s: no fleet", what);
        return OVS_ERR;
    }
    if (i < 0 || i >= f->total) {
        ovs_seterr(err, errlen, "%s: no node %d (the fleet has %d)", what, i, f->total);
        return OVS_ERR;
    }
    return OVS_OK;
}

/* Node i exists and has a process. One that died on its own is reaped here, so that it
 * reads as killed from then on and can be restarted. */
static int fleet_check_running(ovs_fleet *f, int i, const char *what, char *err,
                               size_t errlen)
{
    siginfo_t si;

    if (fleet_check(f, i, what, err, errlen) != OVS_OK)
        return OVS_ERR;
    if (f->node[i].pid <= 0) {
        ovs_seterr(err, errlen, "%s: node %d (port %d) is not running", what, i,
                   f->node[i].port);
        return OVS_ERR;
    }
    if (ovs_child_exited(f->node[i].pid, &si)) {
        char why[256];
        ovs_fleet_log_reason(f->node[i].log, why, sizeof(why));
        ovs_child_reap(&f->node[i].pid, &f->node[i].slot);
        f->node[i].paused = 0;
        ovs_seterr(err, errlen, "%s: node %d (port %d) has exited on its own%s%s", what, i,
                   f->node[i].port, why[0] ? ": " : "", why);
        return OVS_ERR;
    }
    return OVS_OK;
}

/* PR_SET_PDEATHSIG ties a server to the thread that forked it: forked from a worker, it
 * would be killed when that worker exits. Refuse rather than lose a node later. */
static int fleet_check_owner(const ovs_fleet *f, const char *what, char *err, size_t errlen)
{
    if (pthread_equal(pthread_self(), f->owner))
        return OVS_OK;
    ovs_seterr(err, errlen, "%s: must be called from the thread that started the fleet "
               "(its servers die with the thread that forked them)", what);
    return OVS_ERR;
}

/* SIGKILL node nd, which is our unreaped child (so the pid cannot be someone else's), and
 * reap it. SIGKILL also ends a stopped process. Port, directory and role stay. */
static void node_kill(fleet_node *nd)
{
    if (nd->pid > 0) {
        kill(nd->pid, SIGKILL);
        ovs_child_reap(&nd->pid, &nd->slot);
    }
    nd->paused = 0;
}

/* Send one command to node i and return its reply, or NULL with err; an error reply is a
 * failure too. Connecting and the reply are both bounded, so a paused or wedged node costs
 * at most about timeout_ns, never a hung harness. A command that timed out may still sit in
 * the server's socket buffer and run later, which is why callers refuse paused nodes
 * rather than count on the timeout. cmd is a literal without '%'. */
static redisReply *node_command(const ovs_fleet *f, int i, const char *cmd,
                                int64_t timeout_ns, char *err, size_t errlen)
{
    const fleet_node *nd = &f->node[i];
    struct timeval ctv = { 1, 0 };
    struct timeval rtv = { (time_t)(timeout_ns / OVS_NS_PER_S),
                           (suseconds_t)(timeout_ns % OVS_NS_PER_S / 1000) };
    redisContext *c = redisConnectWithTimeout(FLEET_HOST, nd->port, ctv);
    redisReply *r = NULL;

    if (c == NULL || c->err) {
        ovs_seterr(err, errlen, "node %d (port %d): cannot connect: %s", i, nd->port,
                   c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, rtv) != REDIS_OK) {
        ovs_seterr(err, errlen, "node %d (port %d): cannot set a timeout: %s", i, nd->port,
                   c->errstr);
    } else if ((r = redisCommand(c, cmd)) == NULL) {
        ovs_seterr(err, errlen, "node %d (port %d): %s: %s", i, nd->port, cmd,
                   c->errstr[0] != '\0' ? c->errstr : "no reply");
    } else if (r->type == REDIS_REPLY_ERROR) {
        ovs_seterr(err, errlen, "node %d (port %d): %s: %s", i, nd->port, cmd, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    redisFree(c);
    return r;
}

/* A command whose answer is +OK. */
static int node_command_ok(const ovs_fleet *f, int i, const char *cmd, int64_t timeout_ns,
                           char *err, size_t errlen)
{
    redisReply *r = node_command(f, i, cmd, timeout_ns, err, errlen);
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;

    if (r != NULL && !ok)
        ovs_seterr(err, errlen, "node %d: %s: unexpected reply (type %d)", i, cmd, r->type);
    if (r != NULL)
        freeReplyObject(r);
    return ok ? OVS_OK : OVS_ERR;
}

/* Wait until deadline for INFO <section> of node i to show every "name", "value" pair of
 * want (a NULL-terminated list), polling. A node that exits meanwhile fails at once. */
static int node_wait_info(ovs_fleet *f, int i, const char *section,
                          const char *const *want, int64_t deadline, char *err,
                          size_t errlen)
{
    char cmd[64], have[64] = "", why[256] = "";
    const char *missing = want[0];
    siginfo_t si;

    snprintf(cmd, sizeof(cmd), "INFO %s", section);
    for (;;) {
        redisReply *r;

        if (ovs_child_exited(f->node[i].pid, &si)) {
            ovs_fleet_log_reason(f->node[i].log, why, sizeof(why));
            ovs_child_reap(&f->node[i].pid, &f->node[i].slot);
            ovs_seterr(err, errlen, "node %d (port %d) exited while we waited for INFO %s "
                       "to show %s%s%s", i, f->node[i].port, section, missing,
                       why[0] ? ": " : "", why);
            return OVS_ERR;
        }
        r = node_command(f, i, cmd, FLEET_CMD_NS, why, sizeof(why));
        if (r != NULL && r->type == REDIS_REPLY_STRING) {
            int k;
            for (k = 0; want[k] != NULL; k += 2) {
                if (ovs_fleet_info_field(r->str, want[k], have, sizeof(have)) != 0)
                    snprintf(have, sizeof(have), "(absent)");
                else if (strcmp(have, want[k + 1]) == 0)
                    continue;
                missing = want[k];
                break;
            }
            if (want[k] == NULL) {
                freeReplyObject(r);
                return OVS_OK;
            }
            why[0] = '\0';
        }
        if (r != NULL)
            freeReplyObject(r);
        if (ovs_now_ns() >= deadline) {
            for (int k = 0; want[k] != NULL; k += 2)
                if (want[k] == missing) {
                    ovs_seterr(err, errlen, "node %d (port %d): INFO %s did not show %s:%s "
                               "in time (last seen: %s)%s%s", i, f->node[i].port, section,
                               want[k], want[k + 1], have[0] ? have : "nothing",
                               why[0] ? "; " : "", why);
                    break;
                }
            return OVS_ERR;
        }
        ovs_sleep_ns(FLEET_POLL_NS);
    }
}

/* Keep one generation of the logs for post-mortems and start the next run of the node on
 * fresh ones: port_was_taken reads from the top of the log and must see this run's. */
static void node_rotate_logs(const fleet_node *nd)
{
    char prev[PATH_MAX + 8];

    snprintf(prev, sizeof(prev), "%s.prev", nd->log);
    rename(nd->log, prev);
    snprintf(prev, sizeof(prev), "%s.prev", nd->out);
    rename(nd->out, prev);
}

/* Under OVS_PERSIST_NONE a restart must come back empty, but the node's directory may
 * hold a dump.rdb all the same: a SAVE, or a replica's copy of its initial sync. Remove
 * everything in it except the logs. */
static int node_clear_data(const fleet_node *nd, int i, char *err, size_t errlen)
{
    static const char *const keep[] = { ".", "..", "redis.log", "redis.out", "redis.log.prev",
                                        "redis.out.prev" };
    DIR *d = opendir(nd->dir);
    struct dirent *e;
    char path[PATH_MAX + 256];
    struct stat st;
    int rc = OVS_OK;

    if (d == NULL) {
        ovs_seterr(err, errlen, "node %d: cannot open %s: %s", i, nd->dir, strerror(errno));
        return OVS_ERR;
    }
    while ((e = readdir(d)) != NULL) {
        int kept = 0;
        for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
            kept |= strcmp(e->d_name, keep[k]) == 0;
        if (kept)
            continue;
        snprintf(path, sizeof(path), "%s/%s", nd->dir, e->d_name);
        ovs_tmpdir_remove(path);
        if (lstat(path, &st) == 0 && rc == OVS_OK) {
            ovs_seterr(err, errlen, "node %d: cannot remove %s before a restart without "
                       "persistence", i, path);
            rc = OVS_ERR;
        }
    }
    closedir(d);
    return rc;
}

int ovs_fleet_add_replica(ovs_fleet *f, const ovs_endpoint *via, int *index, char *err,
                          size_t errlen)
{
    static const char *const synced[] = { "master_link_status", "up",
                                          "master_sync_in_progress", "0", NULL };
    fleet_node *nd;
    int i;

    if (index != NULL)
        *index = -1;
    if (f == NULL || via == NULL || index == NULL) {
        ovs_seterr(err, errlen, "add_replica: no fleet, upstream or index pointer");
        return OVS_ERR;
    }
    if (fleet_check_owner(f, "add_replica", err, errlen) != OVS_OK)
        return OVS_ERR;
    if (f->cluster) { /* --replicaof is refused by a cluster-enabled server */
        ovs_seterr(err, errlen, "add_replica: the fleet is a cluster, whose replicas are "
                                "not supported yet");
        return OVS_ERR;
    }
    if (f->total >= FLEET_NODES || f->total - f->n >= OVS_FLEET_REPLICAS_MAX) {
        ovs_seterr(err, errlen, "add_replica: a fleet has at most %d replicas",
                   OVS_FLEET_REPLICAS_MAX);
        return OVS_ERR;
    }
    i = f->total;
    nd = &f->node[i];
    if (via->host[0] == '\0' || strlen(via->host) >= sizeof(nd->via_host) ||
        via->port < 1 || via->port > 65535) {
        ovs_seterr(err, errlen, "add_replica: bad upstream endpoint \"%.64s\":%d", via->host,
                   via->port);
        return OVS_ERR;
    }
    memset(nd, 0, sizeof(*nd));
    nd->pid = -1;
    nd->slot = -1;
    nd->replica = 1;
    snprintf(nd->via_host, sizeof(nd->via_host), "%s", via->host);
    snprintf(nd->via_port, sizeof(nd->via_port), "%d", via->port);

    if (ovs_fleet_node_make_dir(f, i, err, errlen) != OVS_OK)
        goto fail;
    if (ovs_fleet_node_pick_port(f, i, err, errlen) != OVS_OK ||
        ovs_fleet_node_spawn(f, nd, err, errlen) != OVS_OK ||
        ovs_fleet_node_come_up(f, i, err, errlen) != OVS_OK ||
        node_wait_info(f, i, "replication", synced, ovs_now_ns() + FLEET_SYNC_NS, err,
                       errlen) != OVS_OK)
        goto fail;
    snprintf(f->ep[i].host, sizeof(f->ep[i].host), "%s", FLEET_HOST);
    f->ep[i].port = nd->port;
    f->total++;
    *index = i;
    return OVS_OK;

fail:
    /* Leave no trace, so the next add_replica can take this slot and its directory. */
    node_kill(nd);
    if (nd->dir[0] != '\0')
        ovs_tmpdir_remove(nd->dir);
    memset(nd, 0, sizeof(*nd));
    nd->pid = -1;
    nd->slot = -1;
    return OVS_ERR;
}

int ovs_fleet_kill(ovs_fleet *f, int i, char *err, size_t errlen)
{
    if (fleet_check(f, i, "kill", err, errlen) != OVS_OK)
        return OVS_ERR;
    if (f->node[i].pid <= 0) {
        ovs_seterr(err, errlen, "kill: node %d (port %d) is not running", i, f->node[i].port);
        return OVS_ERR;
    }
    /* Even when it already died on its own: a zombie takes the signal harmlessly. */
    node_kill(&f->node[i]);
    return OVS_OK;
}

/* The restart keeps the port because clients, proxies and replicas know the node by it; if
 * someone took the port while the node was down, the node stays down with an error rather
 * than come back where nobody looks for it. */
int ovs_fleet_restart(ovs_fleet *f, int i, char *err, size_t errlen)
{
    static const char *const loaded[] = { "loading", "0", NULL };
    fleet_node *nd;
    int64_t deadline;
    int rc;

    if (fleet_check(f, i, "restart", err, errlen) != OVS_OK ||
        fleet_check_owner(f, "restart", err, errlen) != OVS_OK)
        return OVS_ERR;
    nd = &f->node[i];
    if (nd->pid > 0) {
        ovs_seterr(err, errlen, "restart: node %d (port %d) is running; kill it first", i,
                   nd->port);
        return OVS_ERR;
    }
    if (f->persistence == OVS_PERSIST_NONE && node_clear_data(nd, i, err, errlen) != OVS_OK)
        return OVS_ERR;
    node_rotate_logs(nd);
    if (ovs_fleet_node_spawn(f, nd, err, errlen) != OVS_OK)
        return OVS_ERR;
    deadline = ovs_now_ns() + FLEET_LOAD_NS;
    rc = ovs_fleet_node_wait_ready(f, i, FLEET_LOAD_NS, err, errlen);
    if (rc == 1) {
        ovs_seterr(err, errlen, "restart: node %d: port %d was taken by another process "
                   "while the node was down; it stays down", i, nd->port);
        return OVS_ERR;
    }
    if (rc == OVS_OK)
        rc = node_wait_info(f, i, "persistence", loaded, deadline, err, errlen);
    if (rc != OVS_OK) {
        node_kill(nd); /* not up in time: back to the killed state, not half started */
        return OVS_ERR;
    }
    return OVS_OK;
}

/* waitid(WSTOPPED | WNOWAIT) tells when the whole process (every Redis thread) has
 * stopped, so that when this returns the node answers nothing, and leaves the event in
 * place: nothing else here waits for stops. */
int ovs_fleet_pause(ovs_fleet *f, int i, char *err, size_t errlen)
{
    fleet_node *nd;
    int64_t deadline;

    if (fleet_check_running(f, i, "pause", err, errlen) != OVS_OK)
        return OVS_ERR;
    nd = &f->node[i];
    if (kill(nd->pid, SIGSTOP) != 0) {
        ovs_seterr(err, errlen, "pause: node %d: kill(SIGSTOP): %s", i, strerror(errno));
        return OVS_ERR;
    }
    nd->paused = 1;
    deadline = ovs_now_ns() + FLEET_STOPPED_NS;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)nd->pid, &si, WSTOPPED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == nd->pid && si.si_code == CLD_STOPPED)
            return OVS_OK;
        if (ovs_now_ns() >= deadline) {
            ovs_seterr(err, errlen, "pause: node %d (pid %d) did not stop within %d ms", i,
                       (int)nd->pid, (int)(FLEET_STOPPED_NS / OVS_NS_PER_MS));
            return OVS_ERR;
        }
        ovs_sleep_ns(OVS_NS_PER_MS);
    }
}

/* The kernel ends the stop when SIGCONT is sent, not when it is handled, so there is
 * nothing to wait for: the node is runnable when kill returns. */
int ovs_fleet_resume(ovs_fleet *f, int i, char *err, size_t errlen)
{
    if (fleet_check_running(f, i, "resume", err, errlen) != OVS_OK)
        return OVS_ERR;
    if (kill(f->node[i].pid, SIGCONT) != 0) {
        ovs_seterr(err, errlen, "resume: node %d: kill(SIGCONT): %s", i, strerror(errno));
        return OVS_ERR;
    }
    f->node[i].paused = 0;
    return OVS_OK;
}

/* Commands are refused on paused nodes: one sent anyway would time out here, stay in the
 * socket buffer and run whenever the node is resumed. */
static int fleet_check_answering(ovs_fleet *f, int i, const char *what, char *err,
                                 size_t errlen)
{
    if (fleet_check_running(f, i, what, err, errlen) != OVS_OK)
        return OVS_ERR;
    if (f->node[i].paused) {
        ovs_seterr(err, errlen, "%s: node %d is paused", what, i);
        return OVS_ERR;
    }
    return OVS_OK;
}

/* The node is a master from then on, for a restart too: as if a failover manager had
 * rewritten its configuration, which Sentinel does. */
int ovs_fleet_promote(ovs_fleet *f, int i, char *err, size_t errlen)
{
    if (fleet_check_answering(f, i, "promote", err, errlen) != OVS_OK)
        return OVS_ERR;
    if (!f->node[i].replica) {
        ovs_seterr(err, errlen, "promote: node %d is not a replica", i);
        return OVS_ERR;
    }
    if (node_command_ok(f, i, "REPLICAOF NO ONE", FLEET_CMD_NS, err, errlen) != OVS_OK)
        return OVS_ERR;
    f->node[i].replica = 0;
    return OVS_OK;
}

int ovs_fleet_snapshot(ovs_fleet *f, int i, char *err, size_t errlen)
{
    if (fleet_check_answering(f, i, "snapshot", err, errlen) != OVS_OK)
        return OVS_ERR;
    return node_command_ok(f, i, "SAVE", FLEET_SAVE_NS, err, errlen);
}

/* The harness's wall clock, the one TIME reads in a node without the shim. */
static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* TIME of node i in microseconds, or -1 with err. */
static int64_t node_time_us(const ovs_fleet *f, int i, char *err, size_t errlen)
{
    redisReply *r = node_command(f, i, "TIME", FLEET_CMD_NS, err, errlen);
    int64_t us = -1;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING)
        us = strtoll(r->element[0]->str, NULL, 10) * 1000000 +
             strtoll(r->element[1]->str, NULL, 10);
    else if (r != NULL)
        ovs_seterr(err, errlen, "node %d: TIME: unexpected reply (type %d)", i, r->type);
    if (r != NULL)
        freeReplyObject(r);
    return us;
}

/* The node and the harness read the same kernel clock, so the move is known exactly:
 * the node's TIME before is read at some moment of [h0, h1] by the harness's clock, its
 * TIME after at some moment of [h2, h3], so after - before - by lies in [h2 - h1, h3 - h0]
 * when the jump took, up to TIME's microsecond and a millisecond of slack. A jump that did
 * not take (no shim in the node, its file not mapped) reads `by` short, and fails. */
int ovs_fleet_clock_jump(ovs_fleet *f, int i, int64_t by_ns, int64_t *before_us,
                         int64_t *after_us, char *err, size_t errlen)
{
    const int64_t slack_us = 1000;
    int64_t h0, h1, h2, h3, lo, hi, moved;

    if (fleet_check_answering(f, i, "clock-jump", err, errlen) != OVS_OK)
        return OVS_ERR;
    if (f->node[i].clock == NULL) {
        ovs_seterr(err, errlen, "clock-jump: node %d was started without the clock shim "
                   "(only nodes a clock-jump fault targets get it)", i);
        return OVS_ERR;
    }
    h0 = wall_us();
    if ((*before_us = node_time_us(f, i, err, errlen)) < 0)
        return OVS_ERR;
    h1 = wall_us();
    __atomic_add_fetch(f->node[i].clock, by_ns, __ATOMIC_SEQ_CST);
    h2 = wall_us();
    if ((*after_us = node_time_us(f, i, err, errlen)) < 0)
        return OVS_ERR;
    h3 = wall_us();
    moved = *after_us - *before_us - by_ns / 1000;
    lo = h2 - h1 - slack_us;
    hi = h3 - h0 + slack_us;
    if (moved < lo || moved > hi) {
        ovs_seterr(err, errlen,
                   "clock-jump: node %d's clock did not move by %.3f s: TIME %.3f -> %.3f "
                   "(%+.3f s in %.3f s)",
                   i, (double)by_ns / 1e9, (double)*before_us / 1e6, (double)*after_us / 1e6,
                   (double)(*after_us - *before_us) / 1e6, (double)(h3 - h0) / 1e6);
        return OVS_ERR;
    }
    return OVS_OK;
}
