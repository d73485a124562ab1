/* fleet.c - start, watch and stop the redis-server processes the harness manages.
 *
 * Every scenario runs against real servers the harness owns (SPEC §1, §12), so this file
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
 * Servers listen on 127.0.0.1 only, with protected mode, no persistence by default, and
 * keep their files in one private 0700 directory made by mkdtemp. A port is found by
 * binding port 0 and closing the socket, which leaves a window in which someone else can
 * take it; the server then fails to listen and exits, and that node is started again on a
 * fresh port. A server is only declared up when the process answering PING on its port
 * reports our child's pid in INFO, so a stranger that took the port is never mistaken for
 * ours. A harness killed by SIGKILL cannot remove its directory: it stays behind in
 * $TMPDIR, holding only logs unless a scenario turned persistence on.
 *
 * Per-node state (pid, port, directory, argv) lives in fleet_node so that the fault
 * injection to come (kill, restart on the same port, SIGSTOP/SIGCONT) is a matter of
 * calling node_spawn and node_reap again on one node. */
#include "fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
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

#include "util.h"

#define FLEET_HOST "127.0.0.1"
#define FLEET_READY_NS (5 * OVS_NS_PER_S)    /* a server must answer PING this soon */
#define FLEET_POLL_NS (10 * OVS_NS_PER_MS)   /* step of every bounded wait here */
#define FLEET_STOP_NS (2 * OVS_NS_PER_S)     /* grace after SIGTERM before SIGKILL */
#define FLEET_PORT_TRIES 5                   /* starts per node when its port is taken */
#define FLEET_ARGV_MAX 32
#define FLEET_REGISTRY (OVS_FLEET_MAX * 8)   /* servers alive at once, all fleets */

/* Exit statuses of a child that never reached redis-server's main(). */
#define CHILD_SETUP_FAILED 126
#define CHILD_EXEC_FAILED 127

typedef struct fleet_node {
    pid_t pid;                          /* our unreaped child, or -1 */
    int slot;                           /* its registry slot, or -1 */
    int port;                           /* TCP port on 127.0.0.1 */
    char portstr[16];                   /* port as text, for argv */
    char dir[PATH_MAX];                 /* working directory: dump.rdb, AOF, logs */
    char log[PATH_MAX];                 /* redis.log, the server's own log */
    char out[PATH_MAX];                 /* stdout+stderr: config errors land here */
    const char *argv[FLEET_ARGV_MAX];   /* built before fork; points into this struct */
} fleet_node;

struct ovs_fleet {
    int n;                              /* nodes, 1..OVS_FLEET_MAX */
    char dir[PATH_MAX];                 /* private 0700 directory, "" until made */
    char exe[PATH_MAX];                 /* the redis-server executable */
    char version[32];                   /* redis_version of node 0 */
    ovs_endpoint ep[OVS_FLEET_MAX];     /* what clients connect to, parallel to node[] */
    fleet_node node[OVS_FLEET_MAX];
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

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int copy_path(char *buf, size_t len, const char *path)
{
    size_t n = strlen(path);
    if (n >= len)
        return -1;
    memcpy(buf, path, n + 1);
    return 0;
}

/* A name with a slash is taken as is; a bare name is looked up on $PATH like execvp does,
 * except that empty entries (the current directory) are skipped: running whatever
 * "redis-server" sits in the working directory is not what anyone means. */
static int resolve_executable(const char *name, char *buf, size_t len)
{
    const char *path, *p;
    char cand[PATH_MAX];

    if (strchr(name, '/') != NULL)
        return is_executable(name) ? copy_path(buf, len, name) : -1;
    path = getenv("PATH");
    if (path == NULL)
        return -1;
    for (p = path; *p != '\0';) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (dlen > 0) {
            int n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, p, name);
            if (n > 0 && (size_t)n < sizeof(cand) && is_executable(cand))
                return copy_path(buf, len, cand);
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return -1;
}

/* An explicit $OVERSELL_REDIS_SERVER that does not work is an error, never a reason to
 * quietly run some other server: the user asked for that one. */
int ovs_redis_server_path(char *buf, size_t len)
{
    static const char *const fallback[] = { "/usr/bin/redis-server", "/usr/sbin/redis-server" };
    const char *env = getenv("OVERSELL_REDIS_SERVER");

    if (buf == NULL || len == 0)
        return -1;
    if (env != NULL && *env != '\0')
        return resolve_executable(env, buf, len);
    if (resolve_executable("redis-server", buf, len) == 0)
        return 0;
    for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++)
        if (is_executable(fallback[i]))
            return copy_path(buf, len, fallback[i]);
    return -1;
}

static int fleet_find_server(ovs_fleet *f, const ovs_fleet_opts *opts, char *err,
                             size_t errlen)
{
    const char *env = getenv("OVERSELL_REDIS_SERVER");

    if (opts->redis_server != NULL) {
        if (resolve_executable(opts->redis_server, f->exe, sizeof(f->exe)) == 0)
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

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path); /* keep going: remove as much as we can */
    return 0;
}

/* Depth first, never following symbolic links nor crossing into another file system, so
 * nothing outside the tree rooted at dir can be touched. */
static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* mkdtemp in $TMPDIR (else /tmp), made absolute because redis-server changes into --dir
 * before it opens --logfile, and forced to 0700 whatever the umask. */
static int fleet_make_dir(ovs_fleet *f, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX];
    size_t tl;
    int n;

    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    tl = strlen(tmp);
    n = snprintf(templ, sizeof(templ), "%s%soversell.XXXXXX", tmp,
                 tmp[tl - 1] == '/' ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof(templ)) {
        ovs_seterr(err, errlen, "TMPDIR is too long: %s", tmp);
        return OVS_ERR_ENV;
    }
    if (mkdtemp(templ) == NULL) {
        ovs_seterr(err, errlen, "cannot create a temporary directory in %s: %s", tmp,
                   strerror(errno));
        return OVS_ERR_ENV;
    }
    if (realpath(templ, f->dir) == NULL) {
        ovs_seterr(err, errlen, "cannot resolve %s: %s", templ, strerror(errno));
        rmdir(templ);
        return OVS_ERR_ENV;
    }
    if (chmod(f->dir, 0700) != 0) {
        ovs_seterr(err, errlen, "cannot chmod %s: %s", f->dir, strerror(errno));
        return OVS_ERR_ENV;
    }
    return OVS_OK;
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
        for (int j = 0; j < f->n; j++)
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
 * the whole configuration shows in `ps`. The one place to add persistence options. */
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
    *a++ = "--save";
    *a++ = "";
    *a++ = "--appendonly";
    *a++ = "no";
    *a++ = "--daemonize";
    *a++ = "no";
    *a++ = "--logfile";
    *a++ = nd->log;
    *a++ = "--dbfilename";
    *a++ = "dump.rdb";
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

/* Wait, bounded, until node i answers. OVS_OK when up; 1 when its port was taken (the
 * node is reaped and may be started again); OVS_ERR_ENV with a reason otherwise. */
static int node_wait_ready(ovs_fleet *f, int i, char *err, size_t errlen)
{
    fleet_node *nd = &f->node[i];
    int64_t deadline = ovs_now_ns() + FLEET_READY_NS;
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
                       "within %d s%s%s", i, nd->port, (int)(FLEET_READY_NS / OVS_NS_PER_S),
                       why[0] ? ": " : "", why);
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(FLEET_POLL_NS);
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
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    f->n = opts->nodes;
    for (int i = 0; i < f->n; i++) {
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
        for (int tries = 1;; tries++) {
            rc = node_wait_ready(f, i, err, errlen);
            if (rc == OVS_OK)
                break;
            if (rc != 1)
                goto fail;
            if (tries == FLEET_PORT_TRIES) {
                ovs_seterr(err, errlen, "redis-server node %d: its port was taken by "
                           "another process %d times in a row", i, tries);
                rc = OVS_ERR_ENV;
                goto fail;
            }
            /* A fresh log, so the next failure is judged on its own messages. */
            unlink(f->node[i].log);
            unlink(f->node[i].out);
            if ((rc = node_pick_port(f, i, err, errlen)) != OVS_OK ||
                (rc = node_spawn(f, &f->node[i], err, errlen)) != OVS_OK)
                goto fail;
        }
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
    for (int i = 0; i < f->n; i++) {
        fleet_node *nd = &f->node[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGTERM);
            kill(nd->pid, SIGCONT);
            live++;
        }
    }
    deadline = ovs_now_ns() + FLEET_STOP_NS;
    while (live > 0) {
        for (int i = 0; i < f->n; i++) {
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
    for (int i = 0; i < f->n; i++) {
        fleet_node *nd = &f->node[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGKILL);
            node_reap(nd);
        }
    }
    if (f->dir[0] != '\0')
        remove_tree(f->dir);
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
    if (f == NULL || i < 0 || i >= f->n || f->node[i].pid <= 0)
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
