/* adapter_io.h - one adapter process and the lines it reads and writes.
 *
 * The process half of an adapter strategy (locks/adapter.c is the protocol half): start a
 * program with pipes on its stdin and stdout and its stderr in a file, write one line,
 * read one line by a deadline, stop and resume its whole process group, and end it. It
 * knows nothing of JSON: a line is bytes up to '\n'.
 *
 * The process is started through core/child.h, so it is in the harness's child registry,
 * in a process group of its own, and dies with the thread that started it, even when the
 * harness is killed with SIGKILL. Its pid is signalled only until it is reaped, and it is
 * reaped only in ovs_adapter_proc_end.
 *
 * For one thread at a time: an instance belongs to the client thread that started it. */
#ifndef OVS_ADAPTER_IO_H
#define OVS_ADAPTER_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest line read from an adapter, newline excluded: a reply is a small object, and a
 * program that writes more than this on one line is not speaking the protocol. */
#define OVS_ADAPTER_LINE_MAX 8192

typedef struct ovs_adapter_proc {
    pid_t pid;          /* the adapter, also its process group; -1 when none or reaped */
    int slot;           /* its slot in the child registry */
    int to, from;       /* our ends of its stdin and its stdout; -1 when closed */
    int stopped;        /* SIGSTOP sent and confirmed, SIGCONT not yet sent */
    char errpath[600];  /* its stderr file */
    size_t nbuf;        /* bytes in buf, a partial line after a complete one included */
    size_t taken;       /* bytes of buf the line returned last holds, its newline included:
                           dropped at the next read, so that the line stays valid until then */
    char buf[OVS_ADAPTER_LINE_MAX + 2];
} ovs_adapter_proc;

/* How reading or writing a line ended. */
enum ovs_line {
    OVS_LINE_OK,      /* done */
    OVS_LINE_EOF,     /* the adapter closed its stdout or exited: a crash, for the caller */
    OVS_LINE_TIMEOUT, /* the deadline passed first */
    OVS_LINE_LONG,    /* a line longer than OVS_ADAPTER_LINE_MAX */
    OVS_LINE_ERR,     /* a system call failed (err) */
};

/* Mark p as holding nothing, so that ovs_adapter_proc_end may always be called. */
void ovs_adapter_proc_init(ovs_adapter_proc *p);

/* Start exe with argv (NULL-terminated) and its stderr appended to errpath. Returns 0, or
 * OVS_ERR_ENV / OVS_ERR (core/child.h) with a reason in err. */
int ovs_adapter_proc_start(ovs_adapter_proc *p, const char *exe, char *const *argv,
                           const char *errpath, char *err, size_t errlen);

/* Write line (no newline in it) and a newline, all of it before deadline (CLOCK_MONOTONIC
 * ns). OVS_LINE_OK; OVS_LINE_EOF when the adapter no longer reads (it closed its stdin
 * or exited: nothing it will ever act on was sent, whatever part went out); TIMEOUT;
 * ERR. */
enum ovs_line ovs_adapter_proc_send(ovs_adapter_proc *p, const char *line, int64_t deadline,
                                    char *err, size_t errlen);

/* Read the next line before deadline. On OVS_LINE_OK *line points at it in p->buf,
 * NUL-terminated, its newline (and a '\r' before it) removed, *len its length; it stays
 * valid until the next call. On EOF or LONG *line points at what was read of the
 * unfinished line (possibly empty), for the caller to quote. */
enum ovs_line ovs_adapter_proc_recv(ovs_adapter_proc *p, const char **line, size_t *len,
                                    int64_t deadline, char *err, size_t errlen);

/* Stop (frozen = 1) or resume (0) the adapter's process group: SIGSTOP, confirmed by
 * waiting (bounded) until the kernel reports the process stopped, or SIGCONT. Returns 0,
 * or -1 with err when the process is gone or did not stop. */
int ovs_adapter_proc_freeze(ovs_adapter_proc *p, int frozen, char *err, size_t errlen);

/* SIGKILL the adapter's process group now (it broke the protocol: nothing it says can be
 * trusted any more), without reaping: ovs_adapter_proc_end still does that. */
void ovs_adapter_proc_kill(ovs_adapter_proc *p);

/* How the process ended, for messages: "exited with status 3", "killed by signal 11",
 * or "still running" when it has not; waits up to wait_ms for it to end. */
void ovs_adapter_proc_status(ovs_adapter_proc *p, int wait_ms, char *buf, size_t len);

/* The last lines of the adapter's stderr, joined by " | ", at most len - 1 bytes: when
 * they do not fit, the oldest part is cut ("...") so the newest words remain. "(empty)"
 * when it wrote nothing. */
void ovs_adapter_proc_tail(const ovs_adapter_proc *p, char *buf, size_t len);

/* End the adapter: resume it if stopped, close its stdin, give it up to grace_ms to exit,
 * then SIGKILL its process group; reap it and close our ends. Accepts an instance that
 * was never started or is already ended. */
void ovs_adapter_proc_end(ovs_adapter_proc *p, int grace_ms);

#endif
