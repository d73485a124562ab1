/* crash.h - one client's crash, as a fault makes it (`action = crash`, `target =
 * client:NAME`, scenarios/README.md).
 *
 * Every client is a thread of the harness, so a crash is made the way a process pause is
 * (`pause = process`): the fault scheduler sets a flag, and the client's thread and its
 * strategy's own threads read it and stop for good - no further request, no release, no
 * compensation, no lease renewal. What runs in another process for the client (an adapter
 * and the lock library in it) is killed for real: the instance registers the pid of its
 * process here, and the crash sends it SIGKILL, so the library's timers die with it.
 *
 * The record is the harness's: the fault scheduler owns one per client (engine/faults.h)
 * and a strategy sees it through ovs_env.crash, NULL when the scenario crashes nobody.
 * Every function accepts NULL and then does nothing (or says "not crashed"). */
#ifndef OVS_CRASH_H
#define OVS_CRASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ovs_crash {
    _Atomic int64_t at; /* 0, or the monotonic instant (ovs_now_ns) of the crash; written
                           once, by the fault scheduler; read from any thread */
    pthread_mutex_t mu; /* guards pid, so that the crash's kill and the owner's reaping of
                           the process never overlap: the pid is signalled only while it
                           is still the owner's unreaped child (core/child.h) */
    pid_t pid;          /* the process to kill with the client, or 0 */
} ovs_crash;

/* 0, or -1 when the mutex cannot be made. */
int ovs_crash_init(ovs_crash *c);
void ovs_crash_destroy(ovs_crash *c);
/* When the client crashed (monotonic ns), or 0 while it has not. */
int64_t ovs_crashed(ovs_crash *c);
/* The process that dies with the client: pid from the moment it is started, 0 before the
 * owner reaps it. A crash that already happened kills a pid registered after it at once. */
void ovs_crash_set_pid(ovs_crash *c, pid_t pid);
/* Crash the client now: set the flag, then SIGKILL its process (group) if it has one.
 * Writes what was done into what. Returns 0, or -1 when it had crashed already. */
int ovs_crash_fire(ovs_crash *c, char *what, size_t whatlen);
/* Sleep ns, looking at the flag every millisecond: 1 as soon as the client has crashed
 * (early), 0 when the whole time passed without a crash. */
int ovs_crash_sleep(ovs_crash *c, int64_t ns);

#endif
