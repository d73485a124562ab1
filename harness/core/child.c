/* child.c - the processes the harness forks, and the registry that lets a signal handler
 * kill them.
 *
 * Split from fleet.c, which decides what a server's command line is; this file is where
 * "no redis-server outlives the harness" is kept:
 *
 *  - each server is forked with PR_SET_PDEATHSIG = SIGKILL, so the kernel kills it when the
 *    forking thread dies, even by SIGKILL;
 *  - a process-wide registry of lock-free atomic pids lets a SIGINT handler kill every
 *    unreaped server with nothing but kill(2) (ovs_child_kill_all, ovs_fleet_kill_all);
 *  - a pid is only ever signalled while it is our unreaped child. Exits are detected with
 *    waitid(WNOWAIT), the pid leaves the registry, and only then is it reaped, so a pid the
 *    kernel may already have given to another process is never signalled. This relies on
 *    nobody else reaping our children: a program using fleets must not set SIGCHLD to
 *    SIG_IGN nor call waitpid(-1, ...). */
#include "core/child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"

/* ---------------------------------------------------------------------------------------
 * Registry of live servers.
 *
 * A slot is 0 when free, SLOT_RESERVED while its fork is under way, or the pid of a child
 * that has not been reaped. Slots are claimed with a compare-and-swap, so threads starting
 * fleets at once need no lock, and ovs_child_kill_all only loads: C11 allows lock-free
 * atomics in signal handlers (7.14.1.1), which volatile sig_atomic_t would give us too,
 * but unlike volatile they are also free of data races between threads. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the registry must be usable from signal handlers");
_Static_assert(sizeof(pid_t) == sizeof(int), "the registry stores pids as int");

#define SLOT_RESERVED (-1)

static atomic_int registry[OVS_CHILD_MAX];

static int registry_reserve(void)
{
    for (int i = 0; i < OVS_CHILD_MAX; i++) {
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

void ovs_child_kill_all(void)
{
    int saved = errno; /* a handler must not disturb the errno of the code it interrupted */

    for (int i = 0; i < OVS_CHILD_MAX; i++) {
        int pid = atomic_load(&registry[i]);
        /* Never kill(0) or kill(-1): those mean "my group" and "everyone". */
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
    }
    errno = saved;
}

/* ---------------------------------------------------------------------------------------
 * Processes. */

/* What the child may use between fork and exec, all prepared by the parent: after fork
 * in a threaded program only async-signal-safe calls are allowed, so no malloc, no stdio,
 * nothing that takes a lock another thread may have held at the fork. */
typedef struct child_plan {
    const char *exe;
    char *const *argv;
    char *const *envp;    /* environ unless the caller gave one */
    int in, out;          /* stdin (/dev/null or the caller's); the log for stdout, stderr */
    int out1;             /* stdout when the caller gave one, else out */
    uid_t uid;            /* (uid_t)-1, or the user to become with gid as only group */
    gid_t gid;
    const char *cwd;      /* NULL, or the directory to enter as that user */
    int maxfd;            /* fallback bound for closing fds when close_range is missing */
    pid_t parent;         /* getpid() of the parent, to detect that it already died */
    sigset_t none;        /* empty mask for the server */
    struct sigaction dfl; /* SIG_DFL, to undo dispositions the harness set */
} child_plan;

static _Noreturn void child_exec(const child_plan *p)
{
    int in = p->in, out = p->out, out1 = p->out1;

    /* Credentials first: the kernel clears the parent-death signal whenever a process's
     * user or group ids change (commit_creds), so a PDEATHSIG asked for before the setuid
     * would be silently gone. For the same reason a server is never left to drop root on
     * its own (mariadbd --user): it would lose the signal we asked for. */
    if (p->uid != (uid_t)-1 &&
        (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
        _exit(OVS_CHILD_SETUP_FAILED);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        _exit(OVS_CHILD_SETUP_FAILED);
    /* The parent may have died before prctl took effect; then nobody would ever kill us. */
    if (getppid() != p->parent)
        _exit(OVS_CHILD_SETUP_FAILED);
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
    if (p->cwd != NULL && chdir(p->cwd) != 0)
        _exit(OVS_CHILD_SETUP_FAILED);

    /* dup2 onto itself would keep O_CLOEXEC, so first lift all above the stdio range. */
    if (in < 3 && (in = fcntl(in, F_DUPFD, 3)) < 0)
        _exit(OVS_CHILD_SETUP_FAILED);
    if (out < 3 && (out = fcntl(out, F_DUPFD, 3)) < 0)
        _exit(OVS_CHILD_SETUP_FAILED);
    if (out1 < 3 && (out1 = fcntl(out1, F_DUPFD, 3)) < 0)
        _exit(OVS_CHILD_SETUP_FAILED);
    if (dup2(in, 0) < 0 || dup2(out1, 1) < 0 || dup2(out, 2) < 0)
        _exit(OVS_CHILD_SETUP_FAILED);
    /* hiredis and SQLite open descriptors without O_CLOEXEC; a server holding a harness
     * socket or pipe would keep it open after the harness closed it. */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
        for (int fd = 3; fd < p->maxfd; fd++)
            close(fd);
    execve(p->exe, p->argv, p->envp);
    _exit(OVS_CHILD_EXEC_FAILED);
}

static int fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1 << 20))
        return 1 << 20;
    return (int)rl.rlim_cur;
}

/* Fork and exec a server. All signals are blocked in this thread across the fork: the
 * child must not run a copy of the harness's handlers before it resets them, and a
 * handler on this thread sees the pid in the registry or no child at all. A handler run by
 * another thread in that short window misses this child; PDEATHSIG still covers it. */
int ovs_child_spawn(const char *exe, char *const *argv, const char *out, pid_t *pidp,
                    int *slotp, char *err, size_t errlen)
{
    return ovs_child_spawn_opts(exe, argv, out, NULL, pidp, slotp, err, errlen);
}

int ovs_child_spawn_opts(const char *exe, char *const *argv, const char *out,
                         const ovs_child_opts *opts, pid_t *pidp, int *slotp, char *err,
                         size_t errlen)
{
    static const ovs_child_opts defaults = OVS_CHILD_OPTS_INIT;
    child_plan plan;
    sigset_t all, old;
    pid_t pid;
    int slot, fork_errno;

    if (opts == NULL)
        opts = &defaults;
    memset(&plan, 0, sizeof(plan));
    plan.exe = exe;
    plan.argv = argv;
    plan.envp = opts->envp != NULL ? opts->envp : environ;
    plan.uid = opts->uid;
    plan.gid = opts->gid;
    plan.cwd = opts->cwd;
    plan.maxfd = fd_limit();
    plan.parent = getpid();
    sigemptyset(&plan.none);
    plan.dfl.sa_handler = SIG_DFL;
    sigemptyset(&plan.dfl.sa_mask);

    plan.in = opts->in >= 0 ? opts->in : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (plan.in < 0) {
        ovs_seterr(err, errlen, "cannot open /dev/null: %s", strerror(errno));
        return OVS_ERR_ENV;
    }
    plan.out = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (plan.out < 0) {
        ovs_seterr(err, errlen, "cannot create %s: %s", out, strerror(errno));
        if (plan.in != opts->in)
            close(plan.in);
        return OVS_ERR_ENV;
    }
    plan.out1 = opts->out >= 0 ? opts->out : plan.out;
    slot = registry_reserve();
    if (slot < 0) {
        ovs_seterr(err, errlen, "too many servers in this process (at most %d)",
                   OVS_CHILD_MAX);
        if (plan.in != opts->in)
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
    if (plan.in != opts->in)
        close(plan.in);
    close(plan.out);

    if (pid < 0) {
        registry_release(slot);
        ovs_seterr(err, errlen, "cannot start %s: fork: %s", exe, strerror(fork_errno));
        return OVS_ERR_ENV;
    }
    *pidp = pid;
    *slotp = slot;
    return OVS_OK;
}

/* Whether process pid has exited, without reaping it: the pid stays ours (a zombie)
 * until ovs_child_reap takes it out of the registry. */
int ovs_child_exited(pid_t pid, siginfo_t *si)
{
    memset(si, 0, sizeof(*si));
    if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD; /* reaped behind our back: gone all the same */
    return si->si_pid == pid;
}

/* Forget process *pid: out of the registry first, then reaped, so that no handler can
 * signal a pid after the kernel is free to reuse it. The caller knows the process has
 * exited or has sent it SIGKILL, which cannot be blocked and also ends stopped processes. */
void ovs_child_reap(pid_t *pid, int *slot)
{
    if (*pid <= 0)
        return;
    registry_release(*slot);
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *pid = -1;
    *slot = -1;
}
