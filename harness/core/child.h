/* child.h - child processes that die with the harness, and the registry of their pids.
 *
 * Every process the harness starts is started here: the fleet's servers and the managed
 * database servers (fleet.c and dbserver.c say what to run, this file how), and the
 * adapters that run users' strategies (locks/), which is why this lives in core, below
 * them all. Each child asks the kernel for SIGKILL when the thread that forked it dies
 * (PR_SET_PDEATHSIG), and while it runs its pid sits in a process-wide registry that a
 * signal handler can empty with kill(2) alone (ovs_child_kill_all).
 *
 * A pid is only ever signalled while it is our unreaped child: ovs_child_exited looks
 * without reaping (the pid stays ours, a zombie), and ovs_child_reap takes the pid out of
 * the registry before it reaps. This relies on nobody else reaping our children: a program
 * using these must not set SIGCHLD to SIG_IGN nor call waitpid(-1, ...). */
#ifndef OVS_CHILD_H
#define OVS_CHILD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/endpoint.h" /* OVS_MAX_NODES */
#include "core/util.h"     /* OVS_ERR_ENV, OVS_ERR */

/* Managed database servers alive at once in this process (dbserver.h), each with at most
 * one of its set-up tools (initdb, a client) running beside it. */
#define OVS_CHILD_DBSERVERS 2
/* Children alive at once in this process: eight fleets of the most masters a run can
 * have, and the database servers with their tools. */
#define OVS_CHILD_MAX (8 * OVS_MAX_NODES + 2 * OVS_CHILD_DBSERVERS)

/* Exit statuses of a child that never reached the program's main(). */
#define OVS_CHILD_SETUP_FAILED 126
#define OVS_CHILD_EXEC_FAILED 127

/* Fork and exec exe with argv (NULL-terminated; argv[0] included), stdin from /dev/null,
 * stdout and stderr appended to the file out (created 0600), in a process group of its
 * own, with default signal dispositions, an empty signal mask and no descriptor but 0, 1
 * and 2. The child dies with the calling thread, so call it from a thread that lives as
 * long as the child. Returns 0 with *pid and *slot (its registry slot) set, or OVS_ERR_ENV
 * (cannot open a file, cannot fork) or OVS_ERR (the registry is full) with a reason in err;
 * *pid and *slot are left alone on failure. */
int ovs_child_spawn(const char *exe, char *const *argv, const char *out, pid_t *pid,
                    int *slot, char *err, size_t errlen);

/* What ovs_child_spawn_opts may change; a zeroed struct is not the default (in 0 is a
 * descriptor): start from OVS_CHILD_OPTS_INIT. */
typedef struct ovs_child_opts {
    int in;               /* descriptor to read as stdin, or -1 for /dev/null; the caller
                             keeps it and closes it after the call */
    uid_t uid;            /* run as this user, with gid as its only group: the child drops
                             to them (setgroups, setgid, setuid) before it asks for
                             PR_SET_PDEATHSIG, since a credential change clears that; needs
                             root. (uid_t)-1 keeps ours */
    gid_t gid;            /* with uid */
    const char *cwd;      /* working directory, entered as the new user; NULL keeps ours */
    char *const *envp;    /* the environment, NULL-terminated; NULL keeps ours */
    int out;              /* descriptor to write as stdout, or -1: stdout goes to the file
                             with stderr. The caller keeps it and closes it after the call.
                             For a program the harness talks to (an adapter: a pipe), whose
                             stderr stays in the file */
} ovs_child_opts;

#define OVS_CHILD_OPTS_INIT { -1, (uid_t)-1, (gid_t)-1, NULL, NULL, -1 }

/* ovs_child_spawn with options (NULL: those of OVS_CHILD_OPTS_INIT). A child whose set-up
 * fails (setuid, chdir) exits with OVS_CHILD_SETUP_FAILED before exec. */
int ovs_child_spawn_opts(const char *exe, char *const *argv, const char *out,
                         const ovs_child_opts *opts, pid_t *pid, int *slot, char *err,
                         size_t errlen);

/* Whether child pid has exited, without reaping it; si gets how. A child someone else
 * reaped counts as exited. */
int ovs_child_exited(pid_t pid, siginfo_t *si);

/* Forget child *pid: out of the registry (slot *slot) first, then reaped, so that no
 * handler can signal a pid after the kernel is free to reuse it. The caller knows the
 * process has exited or has sent it SIGKILL. Sets *pid and *slot to -1; a *pid <= 0 does
 * nothing. */
void ovs_child_reap(pid_t *pid, int *slot);

/* Async-signal-safe: SIGKILL every child in the registry, that is every child started by
 * ovs_child_spawn and not reaped. */
void ovs_child_kill_all(void);

#endif
