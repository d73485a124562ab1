/* fleet.c - start, watch and stop the redis-server processes the harness manages.
 *
 * Every scenario runs against real servers the harness owns and stops. How a server
 * is forked so that it dies with the harness, and the registry a SIGINT handler kills
 * from, are child.c's; the faults on a running fleet (kill, restart, pause, replicas) are
 * fleet_faults.c's, on the node operations this file exports in fleet_node.h.
 *
 * Servers listen on 127.0.0.1 only, with protected mode, the persistence the fleet was
 * asked for (none by default), and keep their files in one private 0700 directory made by
 * mkdtemp. A port is found by binding port 0 and closing the socket (port.c), which
 * leaves a window in which someone else can take it; the server then fails to listen and
 * exits, and that node is started again on a fresh port. A server is only declared up when the process
 * answering PING on its port reports our child's pid in INFO, so a stranger that took the
 * port is never mistaken for ours. A harness killed by SIGKILL cannot remove its
 * directory; the directory records its maker, and the next fleet started in the same
 * $TMPDIR removes it once that process is gone (tmpdir.c).
 *
 * A fleet has no lock. Calls that change it must not run concurrently with any other call
 * on the same fleet; endpoints, once returned, never change. */
#include "infra/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/child.h"
#include "infra/fleet_node.h"
#include "infra/port.h"
#include "infra/tmpdir.h"
#include "core/util.h"

#define FLEET_READY_NS (5 * OVS_NS_PER_S)    /* a server must answer PING this soon */
#define FLEET_STOP_NS (2 * OVS_NS_PER_S)     /* grace after SIGTERM before SIGKILL */
#define FLEET_PORT_TRIES 5                   /* starts per node when its port is taken */

_Static_assert(OVS_CHILD_MAX >= FLEET_NODES, "one whole fleet must fit in the registry");
_Static_assert(OVS_FLEET_MAX <= 32, "ovs_fleet_opts.clock_nodes has a bit per master");

/* ---------------------------------------------------------------------------------------
 * Finding redis-server. */

/* An explicit $OVERSELL_REDIS_SERVER that does not work is an error, never a reason to
 * quietly run some other server: the user asked for that one. */
int ovs_redis_server_path(char *buf, size_t len)
{
    static const char *const fallback[] = { "/usr/bin/redis-server", "/usr/sbin/redis-server" };
    const char *env = getenv("OVERSELL_REDIS_SERVER");

    if (buf == NULL || len == 0)
        return -1;
    if (env != NULL && *env != '\0')
        return ovs_find_executable(env, buf, len);
    if (ovs_find_executable("redis-server", buf, len) == 0)
        return 0;
    for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++)
        if (ovs_find_executable(fallback[i], buf, len) == 0)
            return 0;
    return -1;
}

static int fleet_find_server(ovs_fleet *f, const ovs_fleet_opts *opts, char *err,
                             size_t errlen)
{
    const char *env = getenv("OVERSELL_REDIS_SERVER");

    if (opts->redis_server != NULL) {
        if (ovs_find_executable(opts->redis_server, f->exe, sizeof(f->exe)) == 0)
            return OVS_OK;
        ovs_seterr(err, errlen, "redis-server not found: %s is not an executable file",
                   opts->redis_server);
        return OVS_ERR_ENV;
    }
    if (ovs_redis_server_path(f->exe, sizeof(f->exe)) == 0)
        return OVS_OK;
    if (env != NULL && *env != '\0')
        ovs_seterr(err, errlen,
                   "redis-server not found: OVERSELL_REDIS_SERVER=%s is not an executable "
                   "file (install the redis-server package or fix OVERSELL_REDIS_SERVER)",
                   env);
    else
        ovs_seterr(err, errlen, "redis-server not found (install the redis-server package "
                                "or set OVERSELL_REDIS_SERVER)");
    return OVS_ERR_ENV;
}

/* ---------------------------------------------------------------------------------------
 * Directories. */

static int fleet_make_dir(ovs_fleet *f, char *err, size_t errlen)
{
    return ovs_tmpdir_make(f->dir, sizeof(f->dir), err, errlen) == 0 ? OVS_OK : OVS_ERR_ENV;
}

int ovs_fleet_node_make_dir(ovs_fleet *f, int i, char *err, size_t errlen)
{
    fleet_node *nd = &f->node[i];
    char base[PATH_MAX]; /* a copy: GCC's -Wrestrict cannot tell f->dir from nd->log */
    int a, b, c;

    memcpy(base, f->dir, sizeof(base));
    a = snprintf(nd->dir, sizeof(nd->dir), "%s/node%d", base, i);
    b = snprintf(nd->log, sizeof(nd->log), "%s/node%d/redis.log", base, i);
    c = snprintf(nd->out, sizeof(nd->out), "%s/node%d/redis.out", base, i);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof(nd->dir) ||
        (size_t)b >= sizeof(nd->log) || (size_t)c >= sizeof(nd->out)) {
        ovs_seterr(err, errlen, "temporary directory path too long: %s", f->dir);
        return OVS_ERR_ENV;
    }
    if (mkdir(nd->dir, 0700) != 0 || chmod(nd->dir, 0700) != 0) {
        ovs_seterr(err, errlen, "cannot create %s: %s", nd->dir, strerror(errno));
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Ports. */

/* A cluster bus port for node i, unlike port and every port of this fleet. Taken in the
 * same window as the client port; a node that loses it fails to start and is moved. */
static int pick_bus_port(ovs_fleet *f, int port, int i, char *err, size_t errlen)
{
    for (int tries = 0; tries < 64; tries++) {
        int bus, clash = 0, rc = ovs_port_free(&bus, err, errlen);
        if (rc != OVS_OK)
            return rc;
        clash = bus == port;
        for (int j = 0; j < f->total; j++)
            if (f->node[j].port == bus || atoi(f->node[j].bus_portstr) == bus)
                clash = 1;
        if (!clash) {
            snprintf(f->node[i].bus_portstr, sizeof(f->node[i].bus_portstr), "%d", bus);
            return OVS_OK;
        }
    }
    ovs_seterr(err, errlen, "cannot find a free cluster bus port on " FLEET_HOST);
    return OVS_ERR_ENV;
}

/* A fresh port for node i, different from every port of this fleet including the one the
 * node had (which just failed). */
int ovs_fleet_node_pick_port(ovs_fleet *f, int i, char *err, size_t errlen)
{
    for (int tries = 0; tries < 64; tries++) {
        int port, clash = 0, rc = ovs_port_free(&port, err, errlen);
        if (rc != OVS_OK)
            return rc;
        for (int j = 0; j < f->total; j++) /* killed nodes too: they come back */
            if (f->node[j].port == port)
                clash = 1;
        if (!clash && f->cluster && (rc = pick_bus_port(f, port, i, err, errlen)) != OVS_OK)
            return rc;
        if (!clash) {
            f->node[i].port = port;
            snprintf(f->node[i].portstr, sizeof(f->node[i].portstr), "%d", port);
            return OVS_OK;
        }
    }
    ovs_seterr(err, errlen, "cannot find a free port on " FLEET_HOST);
    return OVS_ERR_ENV;
}

/* ---------------------------------------------------------------------------------------
 * Processes. */

/* The command line of node nd. Everything is an argument rather than a config file so
 * the whole configuration shows in `ps`. Rebuilt at every spawn from the node's state, so
 * a promoted replica restarts as a master.
 *
 * Persistence never comes from save points: `--save ""` everywhere, so an RDB node writes
 * dump.rdb only on ovs_fleet_snapshot (SAVE), at the moment a scenario chose. Replication
 * is diskless on the master's side, so a full sync does not write a dump.rdb behind the
 * scenario's back either, and starts at once instead of after the default 5 s delay that
 * waits for more replicas. A replica still stores what it receives as its dump.rdb;
 * restart removes it under OVS_PERSIST_NONE. Only options Redis 6 knows too. */
static void node_build_argv(const ovs_fleet *f, fleet_node *nd)
{
    const char **a = nd->argv;
    *a++ = f->exe;
    *a++ = "--port";
    *a++ = nd->portstr;
    *a++ = "--bind";
    *a++ = FLEET_HOST;
    *a++ = "--protected-mode";
    *a++ = "yes";
    *a++ = "--dir";
    *a++ = nd->dir;
    *a++ = "--daemonize";
    *a++ = "no";
    *a++ = "--logfile";
    *a++ = nd->log;
    *a++ = "--dbfilename";
    *a++ = "dump.rdb";
    *a++ = "--repl-diskless-sync";
    *a++ = "yes";
    *a++ = "--repl-diskless-sync-delay";
    *a++ = "0";
    *a++ = "--save";
    *a++ = "";
    if (f->persistence == OVS_PERSIST_AOF) {
        /* Redis 7 keeps the AOF in appendonlydir/ under --dir: the node's own directory.
         * always, not everysec: under everysec Redis postpones writing its AOF buffer
         * while an earlier fsync is still running (up to 2 s), so a SIGKILL on a loaded
         * machine lost acknowledged writes (an AOF restart of the fault test came back
         * with c = 2 after INCRBY had answered 15). The AOF scenarios model a node that
         * comes back with every write it acknowledged; always makes that hold in every
         * run, not only on a quiet machine. */
        *a++ = "--appendonly";
        *a++ = "yes";
        *a++ = "--appendfsync";
        *a++ = "always";
    } else {
        *a++ = "--appendonly";
        *a++ = "no";
    }
    /* Node 0 and its replicas, which are every node after the masters: a replica
     * promoted by Sentinel then refuses writes as its old master did, as a deployment
     * that configures every node of the group alike. */
    if (f->min_replicas[0] != '\0' && (nd == &f->node[0] || nd - f->node >= f->n)) {
        *a++ = "--min-replicas-to-write";
        *a++ = f->min_replicas;
        *a++ = "--min-replicas-max-lag";
        *a++ = f->min_replicas_lag;
    }
    if (f->cluster) {
        /* The config file is named by port, rebuilt here so a node moved to a fresh port
         * before the cluster formed starts with a fresh file. Relative: Redis opens it
         * after --dir made the node's directory its working directory. */
        snprintf(nd->cluster_conf, sizeof(nd->cluster_conf), "nodes-%s.conf", nd->portstr);
        *a++ = "--cluster-enabled";
        *a++ = "yes";
        *a++ = "--cluster-config-file";
        *a++ = nd->cluster_conf;
        *a++ = "--cluster-node-timeout";
        *a++ = f->cluster_timeout;
        *a++ = "--cluster-port";
        *a++ = nd->bus_portstr;
    }
    /* A cluster-enabled server refuses --replicaof: a cluster replica is made one by
     * CLUSTER REPLICATE once the cluster has met it (fleet_cluster.c). */
    if (nd->replica && !f->cluster) {
        *a++ = "--replicaof";
        *a++ = nd->via_host;
        *a++ = nd->via_port;
    }
    *a = NULL;
}

/* Fork and exec node nd's server (child.c). */
int ovs_fleet_node_spawn(ovs_fleet *f, fleet_node *nd, char *err, size_t errlen)
{
    ovs_child_opts o = OVS_CHILD_OPTS_INIT;

    node_build_argv(f, nd);
    o.envp = nd->envp; /* NULL but with the clock shim: the harness's environment */
    /* execv's prototype predates const; it does not modify argv. */
    return ovs_child_spawn_opts(f->exe, (char *const *)nd->argv, nd->out, &o, &nd->pid,
                                &nd->slot, err, errlen);
}

/* ---------------------------------------------------------------------------------------
 * Readiness. */

/* Copy the value of "name:value" from an INFO reply into out; -1 when absent. */
int ovs_fleet_info_field(const char *info, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);

    for (const char *p = info; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= len)
                vl = len - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

/* 0 when the server on node i's port is up and is our child; 1 when not (yet). */
static int node_ping(ovs_fleet *f, int i)
{
    fleet_node *nd = &f->node[i];
    struct timeval ctv = { 0, 200 * 1000 }, rtv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout(FLEET_HOST, nd->port, ctv);
    redisReply *r = NULL;
    char pid[32], version[sizeof(f->version)];
    int rc = 1;

    if (c == NULL || c->err)
        goto out;
    redisSetTimeout(c, rtv);
    r = redisCommand(c, "PING");
    if (r == NULL || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
        goto out;
    freeReplyObject(r);
    r = redisCommand(c, "INFO server");
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        goto out;
    /* Someone else's server on a port we lost: ours will fail to listen and exit. */
    if (ovs_fleet_info_field(r->str, "process_id", pid, sizeof(pid)) != 0 ||
        atol(pid) != (long)nd->pid)
        goto out;
    if (i == 0 && ovs_fleet_info_field(r->str, "redis_version", version, sizeof(version)) == 0)
        memcpy(f->version, version, sizeof(version));
    rc = 0;
out:
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* The most telling line at the end of a log, without Redis's "pid:role date time # "
 * prefix: the last warning ('#') if any, else the last line. A fatal config error goes to
 * stderr as "... >>> 'directive'\nreason", so a line after ">>> " keeps it as context. */
void ovs_fleet_log_reason(const char *path, char *out, size_t len)
{
    char buf[4096], *line, *save = NULL, *last = NULL, *prev = NULL, *warn = NULL;
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    out[0] = '\0';
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size > 0) {
        off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
        n = pread(fd, buf, sizeof(buf) - 1, from);
    }
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        line = ovs_trim(line);
        if (*line == '\0')
            continue;
        prev = last;
        last = line;
        if (strstr(line, " # ") != NULL)
            warn = line;
    }
    if (warn != NULL)
        snprintf(out, len, "%s", strstr(warn, " # ") + 3);
    else if (last != NULL && prev != NULL && strncmp(prev, ">>> ", 4) == 0)
        snprintf(out, len, "%s: %s", prev + 4, last);
    else if (last != NULL)
        snprintf(out, len, "%s", last);
}

int ovs_fleet_port_was_taken(const char *path)
{
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, "Address already in use") != NULL;
}

/* Wait, at most timeout_ns, until node i answers. PING fails with -LOADING while a server
 * loads its RDB or AOF, so "up" also means "loaded". OVS_OK when up; 1 when its port was
 * taken (the node is reaped and may be started again); OVS_ERR_ENV with a reason
 * otherwise. */
int ovs_fleet_node_wait_ready(ovs_fleet *f, int i, int64_t timeout_ns, char *err,
                              size_t errlen)
{
    fleet_node *nd = &f->node[i];
    int64_t deadline = ovs_now_ns() + timeout_ns;
    char why[256];
    siginfo_t si;

    for (;;) {
        if (ovs_child_exited(nd->pid, &si)) {
            int taken = ovs_fleet_port_was_taken(nd->log);
            ovs_fleet_log_reason(nd->log, why, sizeof(why));
            if (why[0] == '\0')
                ovs_fleet_log_reason(nd->out, why, sizeof(why));
            ovs_child_reap(&nd->pid, &nd->slot);
            if (taken)
                return 1;
            if (si.si_code == CLD_EXITED && si.si_status == OVS_CHILD_EXEC_FAILED)
                ovs_seterr(err, errlen, "redis-server node %d: cannot execute %s", i, f->exe);
            else if (si.si_code == CLD_EXITED && si.si_status == OVS_CHILD_SETUP_FAILED)
                ovs_seterr(err, errlen, "redis-server node %d: child set-up failed", i);
            else if (si.si_code == CLD_EXITED)
                ovs_seterr(err, errlen, "redis-server node %d (port %d) exited with status "
                           "%d: %s", i, nd->port, si.si_status,
                           why[0] ? why : "no message in its log");
            else
                ovs_seterr(err, errlen, "redis-server node %d (port %d) was killed by "
                           "signal %d: %s", i, nd->port, si.si_status,
                           why[0] ? why : "no message in its log");
            return OVS_ERR_ENV;
        }
        if (node_ping(f, i) == 0)
            return OVS_OK;
        if (ovs_now_ns() >= deadline) {
            ovs_fleet_log_reason(nd->log, why, sizeof(why));
            ovs_seterr(err, errlen, "redis-server node %d (port %d) did not answer PING "
                       "within %d s%s%s", i, nd->port, (int)(timeout_ns / OVS_NS_PER_S),
                       why[0] ? ": " : "", why);
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(FLEET_POLL_NS);
    }
}

/* Wait until freshly spawned node i is up. When someone took its port in the window
 * free_port leaves, start it again on a fresh one: FLEET_PORT_TRIES starts in all. A node
 * is only moved before anyone knows its port; a restart never comes here. */
int ovs_fleet_node_come_up(ovs_fleet *f, int i, char *err, size_t errlen)
{
    for (int tries = 1;; tries++) {
        int rc = ovs_fleet_node_wait_ready(f, i, FLEET_READY_NS, err, errlen);
        if (rc != 1)
            return rc;
        if (tries == FLEET_PORT_TRIES) {
            ovs_seterr(err, errlen, "redis-server node %d: its port was taken by another "
                       "process %d times in a row", i, tries);
            return OVS_ERR_ENV;
        }
        /* A fresh log, so the next failure is judged on its own messages. */
        unlink(f->node[i].log);
        unlink(f->node[i].out);
        if ((rc = ovs_fleet_node_pick_port(f, i, err, errlen)) != OVS_OK ||
            (rc = ovs_fleet_node_spawn(f, &f->node[i], err, errlen)) != OVS_OK)
            return rc;
    }
}

/* ---------------------------------------------------------------------------------------
 * The interface. */

int ovs_fleet_start(const ovs_fleet_opts *opts, ovs_fleet **out, char *err, size_t errlen)
{
    ovs_fleet *f;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (opts == NULL || out == NULL) {
        ovs_seterr(err, errlen, "ovs_fleet_start: no options or no result pointer");
        return OVS_ERR;
    }
    if (opts->nodes < 1 || opts->nodes > OVS_FLEET_MAX) {
        ovs_seterr(err, errlen, "a fleet has 1 to %d nodes, not %d", OVS_FLEET_MAX,
                   opts->nodes);
        return OVS_ERR;
    }
    if (opts->persistence != OVS_PERSIST_NONE && opts->persistence != OVS_PERSIST_RDB &&
        opts->persistence != OVS_PERSIST_AOF) {
        ovs_seterr(err, errlen, "unknown persistence %d", opts->persistence);
        return OVS_ERR;
    }
    if (opts->cluster_replicas < 0 || (!opts->cluster && opts->cluster_replicas > 0) ||
        opts->nodes * (1 + opts->cluster_replicas) > FLEET_NODES) {
        ovs_seterr(err, errlen, "cluster replicas: %d per master of %d%s is more than the "
                   "%d nodes of a fleet, or not a cluster", opts->cluster_replicas,
                   opts->nodes, opts->cluster ? "" : " (no cluster)", FLEET_NODES);
        return OVS_ERR;
    }
    if (opts->cluster && opts->nodes < OVS_FLEET_CLUSTER_MIN) {
        ovs_seterr(err, errlen, "a cluster has %d to %d masters, not %d",
                   OVS_FLEET_CLUSTER_MIN, OVS_FLEET_MAX, opts->nodes);
        return OVS_ERR;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    f->n = opts->nodes;
    /* A cluster's replicas start with its masters: numbered after them, master m's
     * k-th at n + m * cluster_replicas + k (ovs_fleet_cluster_replica). */
    f->cluster_replicas = opts->cluster ? opts->cluster_replicas : 0;
    f->total = f->n * (1 + f->cluster_replicas);
    f->persistence = opts->persistence;
    if (opts->min_replicas_to_write > 0) {
        snprintf(f->min_replicas, sizeof(f->min_replicas), "%d", opts->min_replicas_to_write);
        snprintf(f->min_replicas_lag, sizeof(f->min_replicas_lag), "%d",
                 opts->min_replicas_max_lag > 0 ? opts->min_replicas_max_lag
                                                   : OVS_MIN_REPLICAS_MAX_LAG);
    }
    f->cluster = opts->cluster != 0;
    snprintf(f->cluster_timeout, sizeof(f->cluster_timeout), "%d",
             opts->cluster_node_timeout_ms > 0 ? opts->cluster_node_timeout_ms
                                               : OVS_FLEET_CLUSTER_TIMEOUT_MS);
    f->owner = pthread_self();
    for (int i = 0; i < FLEET_NODES; i++) {
        f->node[i].pid = -1;
        f->node[i].slot = -1;
    }

    if ((rc = fleet_find_server(f, opts, err, errlen)) != OVS_OK ||
        (rc = fleet_make_dir(f, err, errlen)) != OVS_OK)
        goto fail;
    if (opts->clock_nodes != 0) {
        char shim[PATH_MAX];
        if ((rc = ovs_clockshim_path(shim, sizeof(shim), err, errlen)) != OVS_OK)
            goto fail;
        for (int i = 0; i < f->n; i++)
            if ((opts->clock_nodes >> i & 1u) &&
                (rc = ovs_fleet_node_clock(f, i, shim, err, errlen)) != OVS_OK)
                goto fail;
    }
    /* Start every node, then wait for each: the servers boot in parallel. */
    for (int i = 0; i < f->total; i++) {
        f->node[i].replica = i >= f->n;
        if ((rc = ovs_fleet_node_make_dir(f, i, err, errlen)) != OVS_OK ||
            (rc = ovs_fleet_node_pick_port(f, i, err, errlen)) != OVS_OK ||
            (rc = ovs_fleet_node_spawn(f, &f->node[i], err, errlen)) != OVS_OK)
            goto fail;
    }
    for (int i = 0; i < f->total; i++) {
        if ((rc = ovs_fleet_node_come_up(f, i, err, errlen)) != OVS_OK)
            goto fail;
        snprintf(f->ep[i].host, sizeof(f->ep[i].host), "%s", FLEET_HOST);
        f->ep[i].port = f->node[i].port;
    }
    if (f->cluster && (rc = ovs_fleet_cluster_form(f, err, errlen)) != OVS_OK)
        goto fail;
    *out = f;
    return OVS_OK;

fail:
    ovs_fleet_stop(f);
    return rc;
}

/* SIGTERM lets a server shut down like in production; SIGCONT goes with it because a node
 * paused by a fault would otherwise hold the SIGTERM until the SIGKILL. */
void ovs_fleet_stop(ovs_fleet *f)
{
    int64_t deadline;
    int live = 0;
    siginfo_t si;

    if (f == NULL)
        return;
    for (int i = 0; i < f->total; i++) {
        fleet_node *nd = &f->node[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGTERM);
            kill(nd->pid, SIGCONT);
            live++;
        }
    }
    deadline = ovs_now_ns() + FLEET_STOP_NS;
    while (live > 0) {
        for (int i = 0; i < f->total; i++) {
            fleet_node *nd = &f->node[i];
            if (nd->pid > 0 && ovs_child_exited(nd->pid, &si)) {
                ovs_child_reap(&nd->pid, &nd->slot);
                live--;
            }
        }
        if (live == 0 || ovs_now_ns() >= deadline)
            break;
        ovs_sleep_ns(FLEET_POLL_NS);
    }
    for (int i = 0; i < f->total; i++) {
        fleet_node *nd = &f->node[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGKILL);
            ovs_child_reap(&nd->pid, &nd->slot);
        }
    }
    for (int i = 0; i < f->total; i++)
        ovs_fleet_node_clock_free(&f->node[i]);
    if (f->dir[0] != '\0')
        ovs_tmpdir_remove(f->dir);
    free(f);
}

int ovs_fleet_is_cluster(const ovs_fleet *f)
{
    return f != NULL && f->cluster;
}

int ovs_fleet_size(const ovs_fleet *f)
{
    return f != NULL ? f->n : 0;
}

const ovs_endpoint *ovs_fleet_endpoints(const ovs_fleet *f)
{
    return f != NULL ? f->ep : NULL;
}

pid_t ovs_fleet_pid(const ovs_fleet *f, int i)
{
    if (f == NULL || i < 0 || i >= f->total || f->node[i].pid <= 0)
        return -1;
    return f->node[i].pid;
}

const char *ovs_fleet_version(const ovs_fleet *f)
{
    return f != NULL ? f->version : "";
}

const char *ovs_fleet_dir(const ovs_fleet *f)
{
    return f != NULL ? f->dir : "";
}

int ovs_fleet_total(const ovs_fleet *f)
{
    return f != NULL ? f->total : 0;
}

const ovs_endpoint *ovs_fleet_node(const ovs_fleet *f, int i)
{
    if (f == NULL || i < 0 || i >= f->total)
        return NULL;
    return &f->ep[i];
}

/* The registry is child.c's: every server any fleet started is a child there. */
void ovs_fleet_kill_all(void)
{
    ovs_child_kill_all();
}
