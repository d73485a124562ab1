/* fleet.c - start, watch and stop the redis-server processes the harness manages.
 *
 * Every scenario runs against real servers the harness owns and stops, so this file
 * is where "no redis-server outlives the harness" is kept:
 *
 *  - each server is forked with PR_SET_PDEATHSIG = SIGKILL, so the kernel kills it when the
 *    forking thread dies, even by SIGKILL;
 *  - a process-wide registry of lock-free atomic pids lets a SIGINT handler kill every
 *    unreaped server with nothing but kill(2) (ovs_fleet_kill_all);
 *  - a pid is only ever signalled while it is our unreaped child. Exits are detected with
 *    waitid(WNOWAIT), the pid leaves the registry, and only then is it reaped, so a pid the
 *    kernel may already have given to another process is never signalled. This relies on
 *    nobody else reaping our children: a program using fleets must not set SIGCHLD to
 *    SIG_IGN nor call waitpid(-1, ...).
 *
 * Servers listen on 127.0.0.1 only, with protected mode, the persistence the fleet was
 * asked for (none by default), and keep their files in one private 0700 directory made by
 * mkdtemp. A port is found by binding port 0 and closing the socket, which leaves a window
 * in which someone else can take it; the server then fails to listen and exits, and that
 * node is started again on a fresh port. A server is only declared up when the process
 * answering PING on its port reports our child's pid in INFO, so a stranger that took the
 * port is never mistaken for ours. A harness killed by SIGKILL cannot remove its
 * directory; the directory records its maker, and the next fleet started in the same
 * $TMPDIR removes it once that process is gone (tmpdir.c).
 *
 * Per-node state (pid, port, directory, role) lives in fleet_node, and the command line is
 * rebuilt from it at every spawn, so a scenario's node faults are a matter of calling
 * node_spawn and node_reap again on one node: a kill reaps the node but keeps its port and
 * directory, a restart spawns it again on that port and waits until it has loaded what its
 * persistence kept. Replicas are nodes like the masters, numbered after them.
 *
 * A fleet has no lock. Calls that change it (add_replica, kill, restart, pause, resume,
 * promote) must not run concurrently with any other call on the same fleet; endpoints,
 * once returned, never change. */
#include "infra/fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>

#include "infra/tmpdir.h"
#include "core/util.h"

#define FLEET_HOST "127.0.0.1"
#define FLEET_READY_NS (5 * OVS_NS_PER_S)    /* a server must answer PING this soon */
#define FLEET_POLL_NS (10 * OVS_NS_PER_MS)   /* step of every bounded wait here */
#define FLEET_STOP_NS (2 * OVS_NS_PER_S)     /* grace after SIGTERM before SIGKILL */
#define FLEET_LOAD_NS (30 * OVS_NS_PER_S)    /* a restarted server must have loaded its
                                                data (RDB or AOF) this soon */
#define FLEET_SYNC_NS (10 * OVS_NS_PER_S)    /* a new replica must have synced this soon */
#define FLEET_CMD_NS (2 * OVS_NS_PER_S)      /* reply timeout of every command we send */
#define FLEET_SAVE_NS (30 * OVS_NS_PER_S)    /* reply timeout of SAVE */
#define FLEET_STOPPED_NS (OVS_NS_PER_S)      /* SIGSTOP must have stopped a node this soon */
#define FLEET_PORT_TRIES 5                   /* starts per node when its port is taken */
#define FLEET_ARGV_MAX 40
#define FLEET_NODES (OVS_FLEET_MAX + OVS_FLEET_REPLICAS_MAX) /* masters and replicas */
#define FLEET_REGISTRY (OVS_FLEET_MAX * 8)   /* servers alive at once, all fleets */

/* Exit statuses of a child that never reached redis-server's main(). */
#define CHILD_SETUP_FAILED 126
#define CHILD_EXEC_FAILED 127

typedef struct fleet_node {
    pid_t pid;                          /* our unreaped child, or -1 (never started, or
                                           killed and not restarted) */
    int slot;                           /* its registry slot, or -1 */
    int port;                           /* TCP port on 127.0.0.1, kept across restarts */
    char portstr[16];                   /* port as text, for argv */
    int replica;                        /* 1 while it is a replica: added by add_replica
                                           and not promoted; a restart keeps the role */
    int paused;                         /* 1 between pause and resume (or kill) */
    char via_host[64];                  /* a replica's upstream (master or proxy) */
    char via_port[16];                  /* its port as text */
    char dir[PATH_MAX];                 /* working directory: dump.rdb, AOF, logs */
    char log[PATH_MAX];                 /* redis.log, the server's own log */
    char out[PATH_MAX];                 /* stdout+stderr: config errors land here */
    const char *argv[FLEET_ARGV_MAX];   /* built before fork; points into this struct */
} fleet_node;

struct ovs_fleet {
    int n;                              /* masters, 1..OVS_FLEET_MAX: nodes 0..n-1 */
    int total;                          /* masters + replicas, n..FLEET_NODES */
    int persistence;                    /* enum ovs_persistence, for every node */
    pthread_t owner;                    /* the thread that started the fleet: the only
                                           one that may fork its servers (PDEATHSIG) */
    char dir[PATH_MAX];                 /* private 0700 directory, "" until made */
    char exe[PATH_MAX];                 /* the redis-server executable */
    char version[32];                   /* redis_version of node 0 */
    ovs_endpoint ep[FLEET_NODES];       /* what clients connect to, parallel to node[];
                                           masters first, so ep is ovs_fleet_endpoints */
    fleet_node node[FLEET_NODES];
};

/* ---------------------------------------------------------------------------------------
 * Registry of live servers.
 *
 * A slot is 0 when free, SLOT_RESERVED while its fork is under way, or the pid of a child
 * that has not been reaped. Slots are claimed with a compare-and-swap, so threads starting
 * fleets at once need no lock, and ovs_fleet_kill_all only loads: C11 allows lock-free
 * atomics in signal handlers (7.14.1.1), which volatile sig_atomic_t would give us too,
 * but unlike volatile they are also free of data races between threads. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the registry must be usable from signal handlers");
_Static_assert(sizeof(pid_t) == sizeof(int), "the registry stores pids as int");

#define SLOT_RESERVED (-1)

static atomic_int registry[FLEET_REGISTRY];

static int registry_reserve(void)
{
    for (int i = 0; i < FLEET_REGISTRY; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&registry[i], &expected, SLOT_RESERVED))
            return i;
    }
    return -1;
}

static void registry_set(int slot, pid_t pid)
{
    atomic_store(&registry[slot], (int)pid);
}

static void registry_release(int slot)
{
    if (slot >= 0)
        atomic_store(&registry[slot], 0);
}

void ovs_fleet_kill_all(void)
{
    int saved = errno; /* a handler must not disturb the errno of the code it interrupted */

    for (int i = 0; i < FLEET_REGISTRY; i++) {
        int pid = atomic_load(&registry[i]);
        /* Never kill(0) or kill(-1): those mean "my group" and "everyone". */
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
    }
    errno = saved;
}

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

static int node_make_dir(ovs_fleet *f, int i, char *err, size_t errlen)
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

/* Ask the kernel for a free loopback port by binding port 0. The socket is closed before
 * redis-server binds the port, so this is a good guess, not a reservation; node_wait_ready
 * detects the loss. */
static int free_port(int *port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        ovs_seterr(err, errlen, "cannot find a free port: socket: %s", strerror(errno));
        return OVS_ERR_ENV;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        ovs_seterr(err, errlen, "cannot find a free port on " FLEET_HOST ": %s",
                   strerror(errno));
        close(fd);
        return OVS_ERR_ENV;
    }
    close(fd);
    *port = ntohs(sa.sin_port);
    return OVS_OK;
}

/* A fresh port for node i, different from every port of this fleet including the one the
 * node had (which just failed). */
static int node_pick_port(ovs_fleet *f, int i, char *err, size_t errlen)
{
    for (int tries = 0; tries < 64; tries++) {
        int port, clash = 0, rc = free_port(&port, err, errlen);
        if (rc != OVS_OK)
            return rc;
        for (int j = 0; j < f->total; j++) /* killed nodes too: they come back */
            if (f->node[j].port == port)
                clash = 1;
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
        /* Redis 7 keeps the AOF in appendonlydir/ under --dir: the node's own directory. */
        *a++ = "--appendonly";
        *a++ = "yes";
        *a++ = "--appendfsync";
        *a++ = "everysec";
    } else {
        *a++ = "--appendonly";
        *a++ = "no";
    }
    if (nd->replica) {
        *a++ = "--replicaof";
        *a++ = nd->via_host;
        *a++ = nd->via_port;
    }
    *a = NULL;
}

/* What the child may use between fork and exec, all prepared by the parent: after fork
 * in a threaded program only async-signal-safe calls are allowed, so no malloc, no stdio,
 * nothing that takes a lock another thread may have held at the fork. */
typedef struct child_plan {
    const char *exe;
    char *const *argv;
    int in, out;          /* /dev/null for stdin; redis.out for stdout and stderr */
    int maxfd;            /* fallback bound for closing fds when close_range is missing */
    pid_t parent;         /* getpid() of the parent, to detect that it already died */
    sigset_t none;        /* empty mask for the server */
    struct sigaction dfl; /* SIG_DFL, to undo dispositions the harness set */
} child_plan;

static _Noreturn void child_exec(const child_plan *p)
{
    int in = p->in, out = p->out;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        _exit(CHILD_SETUP_FAILED);
    /* The parent may have died before prctl took effect; then nobody would ever kill us. */
    if (getppid() != p->parent)
        _exit(CHILD_SETUP_FAILED);
    /* Ignored signals stay ignored across exec; a server ignoring SIGTERM would only ever
     * stop by SIGKILL. Handlers are reset here too, before the mask is lifted, so that none
     * of the harness's handlers can run in this copy of it. */
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &p->dfl, NULL);
    /* Own process group: a Ctrl-C at the terminal reaches the harness only, which then
     * stops its servers in order; PDEATHSIG still covers the harness dying. */
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &p->none, NULL);

    /* dup2 onto itself would keep O_CLOEXEC, so first lift both above the stdio range. */
    if (in < 3 && (in = fcntl(in, F_DUPFD, 3)) < 0)
        _exit(CHILD_SETUP_FAILED);
    if (out < 3 && (out = fcntl(out, F_DUPFD, 3)) < 0)
        _exit(CHILD_SETUP_FAILED);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(CHILD_SETUP_FAILED);
    /* hiredis and SQLite open descriptors without O_CLOEXEC; a server holding a harness
     * socket or pipe would keep it open after the harness closed it. */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
        for (int fd = 3; fd < p->maxfd; fd++)
            close(fd);
    execv(p->exe, p->argv);
    _exit(CHILD_EXEC_FAILED);
}

static int fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1 << 20))
        return 1 << 20;
    return (int)rl.rlim_cur;
}

/* Fork and exec node nd's server. All signals are blocked in this thread across the fork:
 * the child must not run a copy of the harness's handlers before it resets them, and a
 * handler on this thread sees the pid in the registry or no child at all. A handler run by
 * another thread in that short window misses this child; PDEATHSIG still covers it. */
static int node_spawn(ovs_fleet *f, fleet_node *nd, char *err, size_t errlen)
{
    child_plan plan;
    sigset_t all, old;
    pid_t pid;
    int slot, fork_errno;

    node_build_argv(f, nd);
    memset(&plan, 0, sizeof(plan));
    plan.exe = f->exe;
    /* execv's prototype predates const; it does not modify argv. */
    plan.argv = (char *const *)nd->argv;
    plan.maxfd = fd_limit();
    plan.parent = getpid();
    sigemptyset(&plan.none);
    plan.dfl.sa_handler = SIG_DFL;
    sigemptyset(&plan.dfl.sa_mask);

    plan.in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (plan.in < 0) {
        ovs_seterr(err, errlen, "cannot open /dev/null: %s", strerror(errno));
        return OVS_ERR_ENV;
    }
    plan.out = open(nd->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (plan.out < 0) {
        ovs_seterr(err, errlen, "cannot create %s: %s", nd->out, strerror(errno));
        close(plan.in);
        return OVS_ERR_ENV;
    }
    slot = registry_reserve();
    if (slot < 0) {
        ovs_seterr(err, errlen, "too many redis-servers in this process (at most %d)",
                   FLEET_REGISTRY);
        close(plan.in);
        close(plan.out);
        return OVS_ERR;
    }

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0)
        child_exec(&plan);
    fork_errno = errno;
    if (pid > 0)
        registry_set(slot, pid);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(plan.in);
    close(plan.out);

    if (pid < 0) {
        registry_release(slot);
        ovs_seterr(err, errlen, "cannot start redis-server: fork: %s", strerror(fork_errno));
        return OVS_ERR_ENV;
    }
    nd->pid = pid;
    nd->slot = slot;
    return OVS_OK;
}

/* Whether node nd's process has exited, without reaping it: the pid stays ours (a zombie)
 * until node_reap takes it out of the registry. */
static int node_exited(const fleet_node *nd, siginfo_t *si)
{
    memset(si, 0, sizeof(*si));
    if (waitid(P_PID, (id_t)nd->pid, si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD; /* reaped behind our back: gone all the same */
    return si->si_pid == nd->pid;
}

/* Forget node nd's process: out of the registry first, then reaped, so that no handler
 * can signal a pid after the kernel is free to reuse it. The caller knows the process has
 * exited or has sent it SIGKILL, which cannot be blocked and also ends stopped processes. */
static void node_reap(fleet_node *nd)
{
    if (nd->pid <= 0)
        return;
    registry_release(nd->slot);
    while (waitpid(nd->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    nd->pid = -1;
    nd->slot = -1;
}

/* ---------------------------------------------------------------------------------------
 * Readiness. */

/* Copy the value of "name:value" from an INFO reply into out; -1 when absent. */
static int info_field(const char *info, const char *name, char *out, size_t len)
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
    if (info_field(r->str, "process_id", pid, sizeof(pid)) != 0 ||
        atol(pid) != (long)nd->pid)
        goto out;
    if (i == 0 && info_field(r->str, "redis_version", version, sizeof(version)) == 0)
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
static void log_reason(const char *path, char *out, size_t len)
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

static int port_was_taken(const fleet_node *nd)
{
    char buf[4096];
    ssize_t n;
    int fd = open(nd->log, O_RDONLY | O_CLOEXEC);

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
static int node_wait_ready(ovs_fleet *f, int i, int64_t timeout_ns, char *err, size_t errlen)
{
    fleet_node *nd = &f->node[i];
    int64_t deadline = ovs_now_ns() + timeout_ns;
    char why[256];
    siginfo_t si;

    for (;;) {
        if (node_exited(nd, &si)) {
            int taken = port_was_taken(nd);
            log_reason(nd->log, why, sizeof(why));
            if (why[0] == '\0')
                log_reason(nd->out, why, sizeof(why));
            node_reap(nd);
            if (taken)
                return 1;
            if (si.si_code == CLD_EXITED && si.si_status == CHILD_EXEC_FAILED)
                ovs_seterr(err, errlen, "redis-server node %d: cannot execute %s", i, f->exe);
            else if (si.si_code == CLD_EXITED && si.si_status == CHILD_SETUP_FAILED)
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
            log_reason(nd->log, why, sizeof(why));
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
static int node_come_up(ovs_fleet *f, int i, char *err, size_t errlen)
{
    for (int tries = 1;; tries++) {
        int rc = node_wait_ready(f, i, FLEET_READY_NS, err, errlen);
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
        if ((rc = node_pick_port(f, i, err, errlen)) != OVS_OK ||
            (rc = node_spawn(f, &f->node[i], err, errlen)) != OVS_OK)
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
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    f->n = opts->nodes;
    f->total = f->n;
    f->persistence = opts->persistence;
    f->owner = pthread_self();
    for (int i = 0; i < FLEET_NODES; i++) {
        f->node[i].pid = -1;
        f->node[i].slot = -1;
    }

    if ((rc = fleet_find_server(f, opts, err, errlen)) != OVS_OK ||
        (rc = fleet_make_dir(f, err, errlen)) != OVS_OK)
        goto fail;
    /* Start every node, then wait for each: the servers boot in parallel. */
    for (int i = 0; i < f->n; i++) {
        if ((rc = node_make_dir(f, i, err, errlen)) != OVS_OK ||
            (rc = node_pick_port(f, i, err, errlen)) != OVS_OK ||
            (rc = node_spawn(f, &f->node[i], err, errlen)) != OVS_OK)
            goto fail;
    }
    for (int i = 0; i < f->n; i++) {
        if ((rc = node_come_up(f, i, err, errlen)) != OVS_OK)
            goto fail;
        snprintf(f->ep[i].host, sizeof(f->ep[i].host), "%s", FLEET_HOST);
        f->ep[i].port = f->node[i].port;
    }
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
            if (nd->pid > 0 && node_exited(nd, &si)) {
                node_reap(nd);
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
            node_reap(nd);
        }
    }
    if (f->dir[0] != '\0')
        ovs_tmpdir_remove(f->dir);
    free(f);
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

/* ---------------------------------------------------------------------------------------
 * Faults and topology. */

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
    if (node_exited(&f->node[i], &si)) {
        char why[256];
        log_reason(f->node[i].log, why, sizeof(why));
        node_reap(&f->node[i]);
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
        node_reap(nd);
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

        if (node_exited(&f->node[i], &si)) {
            log_reason(f->node[i].log, why, sizeof(why));
            node_reap(&f->node[i]);
            ovs_seterr(err, errlen, "node %d (port %d) exited while we waited for INFO %s "
                       "to show %s%s%s", i, f->node[i].port, section, missing,
                       why[0] ? ": " : "", why);
            return OVS_ERR;
        }
        r = node_command(f, i, cmd, FLEET_CMD_NS, why, sizeof(why));
        if (r != NULL && r->type == REDIS_REPLY_STRING) {
            int k;
            for (k = 0; want[k] != NULL; k += 2) {
                if (info_field(r->str, want[k], have, sizeof(have)) != 0)
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

    if (node_make_dir(f, i, err, errlen) != OVS_OK)
        goto fail;
    if (node_pick_port(f, i, err, errlen) != OVS_OK ||
        node_spawn(f, nd, err, errlen) != OVS_OK || node_come_up(f, i, err, errlen) != OVS_OK ||
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
    if (node_spawn(f, nd, err, errlen) != OVS_OK)
        return OVS_ERR;
    deadline = ovs_now_ns() + FLEET_LOAD_NS;
    rc = node_wait_ready(f, i, FLEET_LOAD_NS, err, errlen);
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
