/* adapter_io.c - an adapter's process: pipes, lines with deadlines, SIGSTOP, the end.
 *
 * Every wait here is bounded, because the thing on the other end is a user's program that
 * may hang: reads poll(2) the pipe until the caller's deadline, writes go to a
 * non-blocking pipe and poll for room, a stop is confirmed within a second, and the end
 * gives the program its grace period and then SIGKILLs it. Nothing here blocks on the
 * adapter without a limit except reaping a process already sent SIGKILL, which cannot
 * be caught, and ends stopped processes too.
 *
 * Stopping and killing address the process group (kill(-pid)), which the adapter leads
 * (core/child.c puts it in one of its own): a `node` that forks helpers, or a shell
 * script that runs its program as a child, is stopped and ended whole. The group id is
 * the pid of our unreaped child, so it cannot name anyone else's group: the kernel does
 * not reuse a pid while its zombie or any member of its group remains. When the adapter
 * left its group (setsid), the signal goes to the pid alone. */
#include "locks/adapter_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/child.h"
#include "core/util.h"

/* How long a SIGSTOP may take to be reported: a process in an uninterruptible sleep (a
 * disk read) stops when it returns from it, which is far shorter than this on a machine
 * that works. A stop not seen by then is a pause that did not happen. */
#define STOP_CONFIRM_MS 1000
/* What the tail reads of the stderr file, and the lines it keeps of that. */
#define TAIL_BYTES 2048
#define TAIL_LINES 3

void ovs_adapter_proc_init(ovs_adapter_proc *p)
{
    memset(p, 0, sizeof(*p));
    p->pid = -1;
    p->slot = -1;
    p->to = -1;
    p->from = -1;
}

int ovs_adapter_proc_start(ovs_adapter_proc *p, const char *exe, char *const *argv,
                           const char *errpath, char *err, size_t errlen)
{
    int rc;

    ovs_child_opts o = OVS_CHILD_OPTS_INIT;
    int in[2], out[2];

    ovs_adapter_proc_init(p);
    snprintf(p->errpath, sizeof(p->errpath), "%s", errpath);
    /* O_CLOEXEC: a child another thread starts meanwhile inherits neither end, or an
     * adapter whose stdin some other process also holds open would never see its end. */
    if (pipe2(in, O_CLOEXEC) != 0) {
        ovs_seterr(err, errlen, "cannot start %s: pipe: %s", exe, strerror(errno));
        return OVS_ERR_ENV;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        ovs_seterr(err, errlen, "cannot start %s: pipe: %s", exe, strerror(errno));
        close(in[0]);
        close(in[1]);
        return OVS_ERR_ENV;
    }
    o.in = in[0];
    o.out = out[1];
    rc = ovs_child_spawn_opts(exe, argv, errpath, &o, &p->pid, &p->slot, err, errlen);
    close(in[0]);
    close(out[1]);
    if (rc != OVS_OK) {
        close(in[1]);
        close(out[0]);
        p->pid = -1;
        p->slot = -1;
        return rc;
    }
    p->to = in[1];
    p->from = out[0];
    /* Ours only: the adapter's end of the pipe stays blocking, as programs expect. */
    if (fcntl(p->to, F_SETFL, fcntl(p->to, F_GETFL) | O_NONBLOCK) != 0) {
        ovs_seterr(err, errlen, "cannot make the pipe to %s non-blocking: %s", exe,
                   strerror(errno));
        ovs_adapter_proc_end(p, 0);
        return OVS_ERR;
    }
    return OVS_OK;
}

/* Milliseconds until deadline for poll(2), rounded up so that a wait never ends early;
 * 0 when it has passed. */
static int ms_until(int64_t deadline)
{
    int64_t left = deadline - ovs_now_ns();

    if (left <= 0)
        return 0;
    left = (left + OVS_NS_PER_MS - 1) / OVS_NS_PER_MS;
    return left > 60 * 60 * 1000 ? 60 * 60 * 1000 : (int)left;
}

static enum ovs_line write_all(ovs_adapter_proc *p, const char *data, size_t n,
                               int64_t deadline, char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t w = write(p->to, data, n);
        if (w > 0) {
            data += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EPIPE)
            return OVS_LINE_EOF;
        if (w < 0 && errno != EAGAIN) {
            ovs_seterr(err, errlen, "write to the adapter: %s", strerror(errno));
            return OVS_LINE_ERR;
        }
        /* The pipe is full: the adapter is not reading. Wait for room, not for ever. */
        struct pollfd pfd = { .fd = p->to, .events = POLLOUT };
        int ms = ms_until(deadline);
        if (ms == 0)
            return OVS_LINE_TIMEOUT;
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
            ovs_seterr(err, errlen, "poll: %s", strerror(errno));
            return OVS_LINE_ERR;
        }
    }
    return OVS_LINE_OK;
}

enum ovs_line ovs_adapter_proc_send(ovs_adapter_proc *p, const char *line, int64_t deadline,
                                    char *err, size_t errlen)
{
    enum ovs_line rc;

    if (p->to < 0)
        return OVS_LINE_EOF;
    rc = write_all(p, line, strlen(line), deadline, err, errlen);
    if (rc == OVS_LINE_OK)
        rc = write_all(p, "\n", 1, deadline, err, errlen);
    return rc;
}

enum ovs_line ovs_adapter_proc_recv(ovs_adapter_proc *p, const char **line, size_t *len,
                                    int64_t deadline, char *err, size_t errlen)
{
    size_t scanned = 0; /* bytes of buf known to hold no newline */

    /* The line handed out last time is dropped only now, so that it stayed valid. */
    memmove(p->buf, p->buf + p->taken, p->nbuf - p->taken);
    p->nbuf -= p->taken;
    p->taken = 0;
    *line = p->buf;
    *len = 0;
    for (;;) {
        char *nl = memchr(p->buf + scanned, '\n', p->nbuf - scanned);
        if (nl != NULL) {
            size_t n = (size_t)(nl - p->buf);
            p->taken = n + 1;
            *nl = '\0';
            if (n > 0 && p->buf[n - 1] == '\r')
                p->buf[--n] = '\0';
            *len = n;
            return OVS_LINE_OK;
        }
        scanned = p->nbuf;
        if (p->nbuf > OVS_ADAPTER_LINE_MAX) {
            p->buf[OVS_ADAPTER_LINE_MAX] = '\0';
            *len = OVS_ADAPTER_LINE_MAX;
            return OVS_LINE_LONG;
        }

        struct pollfd pfd = { .fd = p->from, .events = POLLIN };
        int ms = ms_until(deadline);
        int pr = ms > 0 ? poll(&pfd, 1, ms) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            ovs_seterr(err, errlen, "poll: %s", strerror(errno));
            return OVS_LINE_ERR;
        }
        if (pr == 0) {
            p->buf[p->nbuf] = '\0';
            *len = p->nbuf;
            return OVS_LINE_TIMEOUT;
        }
        ssize_t r = read(p->from, p->buf + p->nbuf, sizeof(p->buf) - 1 - p->nbuf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ovs_seterr(err, errlen, "read from the adapter: %s", strerror(errno));
            return OVS_LINE_ERR;
        }
        if (r == 0) {
            p->buf[p->nbuf] = '\0';
            *len = p->nbuf;
            return OVS_LINE_EOF;
        }
        p->nbuf += (size_t)r;
    }
}

/* Signal the adapter's group, or the adapter alone when it has left the group. */
static int signal_group(const ovs_adapter_proc *p, int sig)
{
    if (p->pid <= 0)
        return -1;
    if (kill(-p->pid, sig) == 0)
        return 0;
    return kill(p->pid, sig);
}

int ovs_adapter_proc_freeze(ovs_adapter_proc *p, int frozen, char *err, size_t errlen)
{
    siginfo_t si;

    if (p->pid <= 0) {
        ovs_seterr(err, errlen, "the adapter is not running");
        return -1;
    }
    if (!frozen) {
        if (signal_group(p, SIGCONT) != 0) {
            ovs_seterr(err, errlen, "SIGCONT to pid %d: %s", (int)p->pid, strerror(errno));
            return -1;
        }
        p->stopped = 0;
        return 0;
    }
    if (signal_group(p, SIGSTOP) != 0) {
        ovs_seterr(err, errlen, "SIGSTOP to pid %d: %s", (int)p->pid, strerror(errno));
        return -1;
    }
    /* kill(2) only queues the signal; the pause is real once the kernel says the process
     * stopped. WNOWAIT leaves that report (and a later exit) for others to read. */
    for (int64_t end = ovs_now_ns() + STOP_CONFIRM_MS * OVS_NS_PER_MS;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)p->pid, &si, WSTOPPED | WEXITED | WNOHANG | WNOWAIT) != 0) {
            ovs_seterr(err, errlen, "waitid for pid %d: %s", (int)p->pid, strerror(errno));
            return -1;
        }
        if (si.si_pid == p->pid && si.si_code == CLD_STOPPED) {
            p->stopped = 1;
            return 0;
        }
        if (si.si_pid == p->pid) {
            ovs_seterr(err, errlen, "pid %d ended instead of stopping", (int)p->pid);
            return -1;
        }
        if (ovs_now_ns() >= end) {
            signal_group(p, SIGCONT);
            ovs_seterr(err, errlen, "pid %d was sent SIGSTOP but did not stop within %d ms",
                       (int)p->pid, STOP_CONFIRM_MS);
            return -1;
        }
        ovs_sleep_ns(OVS_NS_PER_MS / 2);
    }
}

void ovs_adapter_proc_kill(ovs_adapter_proc *p)
{
    if (p->pid > 0) {
        signal_group(p, SIGKILL);
        kill(p->pid, SIGKILL);
    }
}

/* Whether the adapter has ended, waiting for it up to wait_ms; si says how. */
static int wait_exit(const ovs_adapter_proc *p, int wait_ms, siginfo_t *si)
{
    int64_t end = ovs_now_ns() + wait_ms * OVS_NS_PER_MS;

    for (;;) {
        if (ovs_child_exited(p->pid, si))
            return 1;
        if (ovs_now_ns() >= end)
            return 0;
        ovs_sleep_ns(2 * OVS_NS_PER_MS);
    }
}

void ovs_adapter_proc_status(ovs_adapter_proc *p, int wait_ms, char *buf, size_t len)
{
    siginfo_t si;

    if (p->pid <= 0 || !wait_exit(p, wait_ms, &si)) {
        ovs_seterr(buf, len, "still running");
        return;
    }
    if (si.si_code == CLD_EXITED && si.si_status == OVS_CHILD_EXEC_FAILED)
        ovs_seterr(buf, len, "could not be run (exit status %d)", si.si_status);
    else if (si.si_code == CLD_EXITED)
        ovs_seterr(buf, len, "exited with status %d", si.si_status);
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        ovs_seterr(buf, len, "killed by signal %d (%s)", si.si_status,
                   strsignal(si.si_status));
    else
        ovs_seterr(buf, len, "ended");
}

void ovs_adapter_proc_tail(const ovs_adapter_proc *p, char *buf, size_t len)
{
    char raw[TAIL_BYTES + 1], joined[TAIL_BYTES + 3 * TAIL_LINES + 1];
    const char *lines[TAIL_LINES];
    size_t n = 0, used = 0;
    int nl = 0, fd;
    struct stat st;

    if (len == 0)
        return;
    buf[0] = '\0';
    fd = open(p->errpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        ovs_seterr(buf, len, "(no stderr file: %s)", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    off_t from = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
    ssize_t r = pread(fd, raw, TAIL_BYTES, from);
    close(fd);
    n = r > 0 ? (size_t)r : 0;
    raw[n] = '\0';
    /* The last TAIL_LINES lines that have something in them, newest last; control
     * characters (a terminal escape, a NUL) become '?'. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)raw[i] < 0x20 && raw[i] != '\n')
            raw[i] = raw[i] == '\t' ? ' ' : '?';
    for (size_t end = n; end > 0 && nl < TAIL_LINES;) {
        while (end > 0 && (raw[end - 1] == '\n' || raw[end - 1] == ' '))
            raw[--end] = '\0';
        if (end == 0)
            break;
        size_t b = end;
        while (b > 0 && raw[b - 1] != '\n')
            b--;
        lines[nl++] = raw + b;
        end = b;
    }
    if (nl == 0) {
        ovs_seterr(buf, len, "(empty)");
        return;
    }
    joined[0] = '\0';
    for (int i = nl - 1; i >= 0; i--)
        used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", lines[i],
                                 i > 0 ? " | " : "");
    if (used < len) {
        memcpy(buf, joined, used + 1);
    } else if (len > 4) {
        /* Keep the newest words: the cause of a crash is usually its last line. */
        snprintf(buf, len, "...%s", joined + used - (len - 4));
    } else {
        buf[0] = '\0';
    }
}

void ovs_adapter_proc_end(ovs_adapter_proc *p, int grace_ms)
{
    siginfo_t si;

    if (p->pid > 0) {
        if (p->stopped)
            signal_group(p, SIGCONT);
        p->stopped = 0;
        /* End of input is the protocol's "release what you hold and exit". */
        if (p->to >= 0)
            close(p->to);
        p->to = -1;
        if (!wait_exit(p, grace_ms, &si))
            kill(p->pid, SIGKILL);
        /* Helpers it forked in its group go too, exited leader or not: the group's id is
         * still ours until the leader is reaped below. */
        signal_group(p, SIGKILL);
        ovs_child_reap(&p->pid, &p->slot);
    }
    if (p->to >= 0)
        close(p->to);
    if (p->from >= 0)
        close(p->from);
    p->to = -1;
    p->from = -1;
}
