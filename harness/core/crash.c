/* crash.c - the crash record of one client (core/crash.h). */
#include "core/crash.h"

#include <signal.h>
#include <stdio.h>

#include "core/util.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "the crash instant is read by every thread of the client on its hot path");

/* How often a sleeping client looks whether it crashed: it stops within about this long
 * of the fault, far below any hold or lease the scenarios time. */
#define CRASH_POLL_NS OVS_NS_PER_MS

int ovs_crash_init(ovs_crash *c)
{
    atomic_init(&c->at, 0);
    c->pid = 0;
    return pthread_mutex_init(&c->mu, NULL) == 0 ? 0 : -1;
}

void ovs_crash_destroy(ovs_crash *c)
{
    if (c != NULL)
        pthread_mutex_destroy(&c->mu);
}

int64_t ovs_crashed(ovs_crash *c)
{
    return c == NULL ? 0 : atomic_load(&c->at);
}

/* Called with c->mu held. The adapter leads a process group of its own (core/child.h):
 * the group goes, helpers it forked included, or the pid alone when it left the group. */
static void kill_pid(ovs_crash *c)
{
    if (c->pid > 0 && kill(-c->pid, SIGKILL) != 0)
        kill(c->pid, SIGKILL);
}

void ovs_crash_set_pid(ovs_crash *c, pid_t pid)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->pid = pid;
    if (atomic_load(&c->at) != 0)
        kill_pid(c);
    pthread_mutex_unlock(&c->mu);
}

int ovs_crash_fire(ovs_crash *c, char *what, size_t whatlen)
{
    int64_t none = 0;

    if (c == NULL)
        return -1;
    /* The flag before the kill: a client that sees its process die then also sees why. */
    if (!atomic_compare_exchange_strong(&c->at, &none, ovs_now_ns()))
        return -1;
    pthread_mutex_lock(&c->mu);
    if (c->pid > 0)
        snprintf(what, whatlen, "client crashed; SIGKILL pid %d", (int)c->pid);
    else
        snprintf(what, whatlen, "client crashed");
    kill_pid(c);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int ovs_crash_sleep(ovs_crash *c, int64_t ns)
{
    int64_t end = ovs_now_ns() + ns;

    if (c == NULL) {
        ovs_sleep_ns(ns);
        return 0;
    }
    for (;;) {
        if (ovs_crashed(c) != 0)
            return 1;
        int64_t left = end - ovs_now_ns();
        if (left <= 0)
            return 0;
        ovs_sleep_ns(left < CRASH_POLL_NS ? left : CRASH_POLL_NS);
    }
}
