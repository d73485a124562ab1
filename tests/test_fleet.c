/* test_fleet.c - live tests of the managed redis-server fleet (harness/infra/fleet.c).
 *
 * These run real redis-server processes. Without one they skip, except under CI=true,
 * where a missing server is a broken environment and must fail rather than pass quietly.
 * Every wait is a bounded loop. Each test keeps its fleet in the fixture state so that the
 * teardown stops it even when an assertion jumps out of the test. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "infra/fleet.h"
#include "infra/tmpdir.h"
#include "core/util.h"

#define WAIT_NS (5 * OVS_NS_PER_S)
#define STEP_NS (10 * OVS_NS_PER_MS)

typedef struct fixture {
    ovs_fleet *fleet;          /* stopped by the teardown if a test leaves it */
    char *saved_server;        /* $OVERSELL_REDIS_SERVER before the test, or NULL */
    char *saved_tmpdir;        /* $TMPDIR before the test, or NULL */
    char tmpdir[PATH_MAX];     /* a directory the test made, removed by the teardown */
} fixture;

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? strdup(v) : NULL;
}

static void restore_env(const char *name, const char *value)
{
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    fx->saved_server = dup_env("OVERSELL_REDIS_SERVER");
    fx->saved_tmpdir = dup_env("TMPDIR");
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ovs_fleet_stop(fx->fleet);
    prctl(PR_SET_CHILD_SUBREAPER, 0); /* test_pdeathsig may have failed with it set */
    restore_env("OVERSELL_REDIS_SERVER", fx->saved_server);
    restore_env("TMPDIR", fx->saved_tmpdir);
    /* Recursive: a failed test, or the SIGKILLed owner in test_pdeathsig, leaves a fleet
     * directory in it. Only ever the directory this test made with mkdtemp. */
    if (fx->tmpdir[0] != '\0')
        nftw(fx->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    free(fx->saved_server);
    free(fx->saved_tmpdir);
    free(fx);
    return 0;
}

static int in_ci(void)
{
    const char *ci = getenv("CI");
    return ci != NULL && *ci != '\0' && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;
}

/* Skip without redis-server, fail instead under CI. */
static void require_server(void)
{
    char path[PATH_MAX];
    if (ovs_redis_server_path(path, sizeof(path)) == 0)
        return;
    if (in_ci())
        fail_msg("redis-server not found and CI is set: the live tests must run in CI");
    skip();
}

static void start_fleet(fixture *fx, int nodes)
{
    ovs_fleet_opts o = { .nodes = nodes, .redis_server = NULL };
    char err[256] = "";
    int rc = ovs_fleet_start(&o, &fx->fleet, err, sizeof(err));
    if (rc != OVS_OK)
        fail_msg("ovs_fleet_start(%d nodes) = %d: %s", nodes, rc, err);
    assert_non_null(fx->fleet);
}

static redisContext *connect_to(int port)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c != NULL)
        redisSetTimeout(c, tv);
    return c;
}

static int ping(int port)
{
    redisContext *c = connect_to(port);
    redisReply *r;
    int ok;

    if (c == NULL)
        return 0;
    r = redisCommand(c, "PING");
    ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* CONFIG GET name on the server at port, into out. */
static void config_get(int port, const char *name, char *out, size_t len)
{
    redisContext *c = connect_to(port);
    redisReply *r;

    assert_non_null(c);
    r = redisCommand(c, "CONFIG GET %s", name);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    snprintf(out, len, "%s", r->element[1]->str);
    freeReplyObject(r);
    redisFree(c);
}

static int pid_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Make an empty directory for TMPDIR, removed (if still empty) by the teardown. The space
 * in the name checks that paths reach redis-server intact. */
static void make_tmpdir(fixture *fx)
{
    snprintf(fx->tmpdir, sizeof(fx->tmpdir), "/tmp/ovs fleet test.XXXXXX");
    assert_non_null(mkdtemp(fx->tmpdir));
    assert_int_equal(setenv("TMPDIR", fx->tmpdir, 1), 0);
}

/* A fleet of three: distinct loopback ports, every node answers and is configured as the
 * spec says, the directory is private, and stop leaves no process and no file behind. */
static void test_start_stop_three(void **state)
{
    fixture *fx = *state;
    sigset_t term, old;
    pid_t pid[3];
    char dir[PATH_MAX], val[128];
    struct stat st;
    const ovs_endpoint *ep;
    int64_t t0, took;

    require_server();
    /* A blocked SIGTERM (threads that leave signals to one sigwait thread) is inherited
     * across exec: the fleet must unblock it, or the stop below would fall back to
     * SIGKILL after its grace period. */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
    start_fleet(fx, 3);
    assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);

    assert_int_equal(ovs_fleet_size(fx->fleet), 3);
    ep = ovs_fleet_endpoints(fx->fleet);
    assert_non_null(ep);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(ep[i].host, "127.0.0.1");
        assert_in_range(ep[i].port, 1, 65535);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ep[i].port, ep[j].port);
        assert_true(ping(ep[i].port));
        config_get(ep[i].port, "bind", val, sizeof(val));
        assert_string_equal(val, "127.0.0.1");
        config_get(ep[i].port, "protected-mode", val, sizeof(val));
        assert_string_equal(val, "yes");
        config_get(ep[i].port, "save", val, sizeof(val));
        assert_string_equal(val, "");
        config_get(ep[i].port, "appendonly", val, sizeof(val));
        assert_string_equal(val, "no");
        pid[i] = ovs_fleet_pid(fx->fleet, i);
        assert_true(pid[i] > 0);
        assert_int_equal(kill(pid[i], 0), 0);
    }
    assert_int_equal(ovs_fleet_pid(fx->fleet, 3), -1);
    assert_int_equal(ovs_fleet_pid(fx->fleet, -1), -1);
    assert_true(ovs_fleet_version(fx->fleet)[0] >= '1' &&
                ovs_fleet_version(fx->fleet)[0] <= '9');
    assert_non_null(strchr(ovs_fleet_version(fx->fleet), '.'));

    snprintf(dir, sizeof(dir), "%s", ovs_fleet_dir(fx->fleet));
    assert_non_null(strstr(dir, "/oversell."));
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, getuid());

    t0 = ovs_now_ns();
    ovs_fleet_stop(fx->fleet);
    fx->fleet = NULL;
    took = ovs_now_ns() - t0;
    /* Under the 2 s grace: the servers obeyed SIGTERM. */
    if (took >= 1900 * OVS_NS_PER_MS)
        fail_msg("stop took %lld ms: SIGTERM was not honoured", (long long)(took / OVS_NS_PER_MS));
    for (int i = 0; i < 3; i++)
        if (!pid_gone(pid[i]))
            fail_msg("redis-server pid %d still exists after stop", (int)pid[i]);
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(errno, ENOENT);
}

/* $TMPDIR is honoured, even with a space in it, and nothing is left in it afterwards. */
static void test_tmpdir(void **state)
{
    fixture *fx = *state;
    const char *dir;

    require_server();
    make_tmpdir(fx);
    start_fleet(fx, 1);
    dir = ovs_fleet_dir(fx->fleet);
    assert_int_equal(strncmp(dir, fx->tmpdir, strlen(fx->tmpdir)), 0);
    assert_true(ping(ovs_fleet_endpoints(fx->fleet)[0].port));
    ovs_fleet_stop(fx->fleet);
    fx->fleet = NULL;
    assert_int_equal(rmdir(fx->tmpdir), 0); /* empty: the fleet cleaned up */
    fx->tmpdir[0] = '\0';
}

/* ovs_fleet_kill_all (the SIGINT path) kills every server at once; a later stop still
 * reaps them and cleans up, without waiting out the SIGTERM grace. */
static void test_kill_all(void **state)
{
    fixture *fx = *state;
    const ovs_endpoint *ep;
    pid_t pid[2];
    char dir[PATH_MAX];
    int64_t deadline, t0;
    struct stat st;

    require_server();
    start_fleet(fx, 2);
    ep = ovs_fleet_endpoints(fx->fleet);
    for (int i = 0; i < 2; i++)
        pid[i] = ovs_fleet_pid(fx->fleet, i);
    snprintf(dir, sizeof(dir), "%s", ovs_fleet_dir(fx->fleet));

    ovs_fleet_kill_all();
    deadline = ovs_now_ns() + WAIT_NS;
    while ((ping(ep[0].port) || ping(ep[1].port)) && ovs_now_ns() < deadline)
        ovs_sleep_ns(STEP_NS);
    assert_false(ping(ep[0].port));
    assert_false(ping(ep[1].port));

    t0 = ovs_now_ns();
    ovs_fleet_stop(fx->fleet);
    fx->fleet = NULL;
    assert_true(ovs_now_ns() - t0 < OVS_NS_PER_S);
    for (int i = 0; i < 2; i++)
        assert_true(pid_gone(pid[i]));
    assert_int_equal(stat(dir, &st), -1);
}

/* A node whose port is taken by someone else's server is started again on fresh ports,
 * a bounded number of times, and the stranger is neither used nor disturbed. The second
 * fleet runs a wrapper that always asks for the first fleet's port. */
static void test_port_taken(void **state)
{
    fixture *fx = *state;
    ovs_fleet *other = NULL;
    ovs_fleet_opts o = { .nodes = 1, .redis_server = NULL };
    char server[PATH_MAX], script[PATH_MAX + 32], err[256] = "";
    int port, rc;
    FILE *fp;

    require_server();
    make_tmpdir(fx);
    start_fleet(fx, 1);
    port = ovs_fleet_endpoints(fx->fleet)[0].port;
    assert_int_equal(ovs_redis_server_path(server, sizeof(server)), 0);
    snprintf(script, sizeof(script), "%s/taker.sh", fx->tmpdir);
    fp = fopen(script, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\nexec '%s' \"$@\" --port %d\n", server, port);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(script, 0700), 0);

    o.redis_server = script;
    rc = ovs_fleet_start(&o, &other, err, sizeof(err));
    if (rc == OVS_OK)
        ovs_fleet_stop(other);
    assert_int_equal(rc, OVS_ERR_ENV);
    assert_null(other);
    assert_non_null(strstr(err, "taken"));
    assert_true(ping(port));
    assert_int_equal(unlink(script), 0);
    ovs_fleet_stop(fx->fleet);
    fx->fleet = NULL;
    assert_int_equal(rmdir(fx->tmpdir), 0);
    fx->tmpdir[0] = '\0';
}

/* ---- stale directories -------------------------------------------------------------
 *
 * The record is an on-disk contract between one harness and the next (tmpdir.h), so these
 * tests write it by hand from what they read in /proc themselves, not through tmpdir.c. */

/* Field 22 of /proc/<pid>/stat, counted from the last ')' as the command may hold spaces. */
static unsigned long long proc_start(pid_t pid)
{
    char path[64], buf[1024];
    const char *s;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    s = strrchr(buf, ')');
    assert_non_null(s);
    for (int field = 2; field < 22; field++) {
        s = strchr(s + 1, ' ');
        assert_non_null(s);
    }
    return strtoull(s + 1, NULL, 10);
}

static void boot_id(char *out, size_t len)
{
    FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");
    assert_non_null(fp);
    assert_non_null(fgets(out, (int)len, fp));
    fclose(fp);
    out[strcspn(out, "\n")] = '\0';
}

static void pid_ns(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/ns/pid", out, len - 1);
    assert_true(n > 0);
    out[n] = '\0';
}

/* A pid that was ours and is gone, with the start time it had: a child, reaped. */
static pid_t dead_pid(unsigned long long *start)
{
    int pfd[2];
    char c;
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[1]);
        /* Until the parent has read our start time and closes its end. */
        while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(pfd[0]);
    *start = proc_start(pid);
    close(pfd[1]);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* $TMPDIR/name as a fleet leaves it: private, a node directory with a log, and, when
 * record is not NULL, that record. */
static void make_leftover(const fixture *fx, const char *name, const char *record)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/%s", fx->tmpdir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s/node0", fx->tmpdir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s/node0/redis.log", fx->tmpdir, name);
    write_file(path, "1:M 01 Jan 2026 00:00:00.000 * Ready to accept connections\n");
    if (record != NULL) {
        snprintf(path, sizeof(path), "%s/%s/" OVS_TMPDIR_OWNER, fx->tmpdir, name);
        write_file(path, record);
    }
}

static void record(char *buf, size_t len, long pid, unsigned long long start,
                   const char *boot, const char *ns)
{
    snprintf(buf, len, "oversell-owner 1\npid %ld\nstart %llu\nboot %s\npidns %s\n", pid, start,
             boot, ns);
}

static int exists_in(const fixture *fx, const char *name)
{
    char path[PATH_MAX + 64];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", fx->tmpdir, name);
    return lstat(path, &st) == 0;
}

/* What a harness killed by SIGKILL leaves, and things that look like it: starting a fleet
 * removes exactly the directories whose record names a maker that is certainly gone, and
 * never follows a symbolic link while it removes. */
static void test_stale_dirs_removed(void **state)
{
    fixture *fx = *state;
    char boot[64], ns[64], rec[512], path[PATH_MAX + 64];
    unsigned long long start, dead_start;
    pid_t dead;

    require_server();
    make_tmpdir(fx);
    boot_id(boot, sizeof(boot));
    pid_ns(ns, sizeof(ns));
    start = proc_start(getpid());
    dead = dead_pid(&dead_start);

    /* Removed: a dead maker; a live pid with another start time (the pid was given to
     * someone else); a maker from before the last reboot. */
    record(rec, sizeof(rec), dead, dead_start, boot, ns);
    make_leftover(fx, "oversell.dead01", rec);
    record(rec, sizeof(rec), getpid(), start + 1, boot, ns);
    make_leftover(fx, "oversell.reuse1", rec);
    record(rec, sizeof(rec), getpid(), start, "00000000-0000-0000-0000-000000000000", ns);
    make_leftover(fx, "oversell.boot01", rec);
    /* And a dead maker's directory that a database server's group could search (0710,
     * dbserver.c): still private, still ours. */
    record(rec, sizeof(rec), dead, dead_start, boot, ns);
    make_leftover(fx, "oversell.srch01", rec);
    snprintf(path, sizeof(path), "%s/oversell.srch01", fx->tmpdir);
    assert_int_equal(chmod(path, 0710), 0);
    /* In the dead one, links out of it: removed as links, their targets untouched. */
    snprintf(path, sizeof(path), "%s/outside", fx->tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/outside/precious", fx->tmpdir);
    write_file(path, "not the harness's\n");
    snprintf(path, sizeof(path), "%s/oversell.dead01/node0/to-dir", fx->tmpdir);
    assert_int_equal(symlink("../../outside", path), 0);
    snprintf(path, sizeof(path), "%s/oversell.dead01/to-file", fx->tmpdir);
    assert_int_equal(symlink("../outside/precious", path), 0);

    /* Kept: a live maker (this very process); no record; a record cut short; a pid from
     * another pid namespace; a name mkdtemp would not make; a directory others may read. */
    record(rec, sizeof(rec), getpid(), start, boot, ns);
    make_leftover(fx, "oversell.live01", rec);
    make_leftover(fx, "oversell.norec1", NULL);
    record(rec, sizeof(rec), dead, dead_start, boot, ns);
    rec[strlen(rec) - 1] = '\0'; /* the last newline never made it to disk */
    make_leftover(fx, "oversell.trunc1", rec);
    record(rec, sizeof(rec), dead, dead_start, boot, "pid:[1]");
    make_leftover(fx, "oversell.nsoth1", rec);
    record(rec, sizeof(rec), dead, dead_start, boot, ns);
    make_leftover(fx, "oversell.dead0123", rec);
    make_leftover(fx, "oversell.open01", rec);
    snprintf(path, sizeof(path), "%s/oversell.open01", fx->tmpdir);
    assert_int_equal(chmod(path, 0755), 0);
    make_leftover(fx, "oversell.grpr01", rec); /* its group may list it: not private */
    snprintf(path, sizeof(path), "%s/oversell.grpr01", fx->tmpdir);
    assert_int_equal(chmod(path, 0750), 0);
    /* A link with our name to a stale directory elsewhere is not followed either. */
    make_leftover(fx, "elsewhere", rec);
    snprintf(path, sizeof(path), "%s/oversell.link01", fx->tmpdir);
    assert_int_equal(symlink("elsewhere", path), 0);

    start_fleet(fx, 1);

    assert_false(exists_in(fx, "oversell.dead01"));
    assert_false(exists_in(fx, "oversell.reuse1"));
    assert_false(exists_in(fx, "oversell.boot01"));
    assert_false(exists_in(fx, "oversell.srch01"));
    assert_true(exists_in(fx, "outside/precious"));
    assert_true(exists_in(fx, "oversell.live01/" OVS_TMPDIR_OWNER));
    assert_true(exists_in(fx, "oversell.norec1/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.trunc1/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.nsoth1/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.dead0123/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.open01/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.grpr01/node0/redis.log"));
    assert_true(exists_in(fx, "oversell.link01"));
    assert_true(exists_in(fx, "elsewhere/node0/redis.log"));

    /* The fleet's own directory carries this process's record. */
    snprintf(path, sizeof(path), "%s/" OVS_TMPDIR_OWNER, ovs_fleet_dir(fx->fleet));
    {
        char want[512], got[512] = "";
        FILE *fp = fopen(path, "r");
        size_t n;
        assert_non_null(fp);
        n = fread(got, 1, sizeof(got) - 1, fp);
        fclose(fp);
        got[n] = '\0';
        record(want, sizeof(want), getpid(), start, boot, ns);
        assert_string_equal(got, want);
    }
}

/* What the child of test_pdeathsig reports through its pipe. */
typedef struct child_report {
    int rc;
    int n;
    pid_t pid[2];
    int port[2];
    char err[200];
    char dir[PATH_MAX]; /* the fleet's directory */
} child_report;

/* Read exactly len bytes, or until EOF when len is 0; -1 on timeout or error. */
static int read_bounded(int fd, void *buf, size_t len, int64_t deadline)
{
    size_t got = 0;
    char sink[64];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - ovs_now_ns();
        ssize_t n;

        if (len != 0 && got == len)
            return 0;
        if (left <= 0)
            return -1;
        if (poll(&p, 1, (int)(left / OVS_NS_PER_MS) + 1) < 0 && errno != EINTR)
            return -1;
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        n = len != 0 ? read(fd, (char *)buf + got, len - got) : read(fd, sink, sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return len == 0 ? 0 : -1;
        got += (size_t)n;
    }
}

/* The child of test_pdeathsig: start a fleet, report it, close the pipe, wait to die. */
static _Noreturn void pdeathsig_child(int wfd)
{
    child_report rep;
    ovs_fleet *f = NULL;
    ovs_fleet_opts o = { .nodes = 2, .redis_server = NULL };

    memset(&rep, 0, sizeof(rep));
    rep.rc = ovs_fleet_start(&o, &f, rep.err, sizeof(rep.err));
    if (rep.rc == OVS_OK) {
        rep.n = 2;
        for (int i = 0; i < 2; i++) {
            rep.pid[i] = ovs_fleet_pid(f, i);
            rep.port[i] = ovs_fleet_endpoints(f)[i].port;
        }
        snprintf(rep.dir, sizeof(rep.dir), "%s", ovs_fleet_dir(f));
    }
    if (write(wfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
        _exit(1);
    close(wfd);
    /* Bounded, so that a broken test cannot leave this process behind for long. */
    ovs_sleep_ns(30 * OVS_NS_PER_S);
    _exit(0);
}

/* SIGKILL of the process that owns a fleet takes its servers with it (PR_SET_PDEATHSIG),
 * and the directory it could not remove is removed by the next fleet started in the same
 * $TMPDIR. This process becomes a child subreaper so that the orphaned servers are
 * re-parented to it: then it can tell from their exit status that they died of SIGKILL,
 * and, should the test fail, it can kill and reap exactly those processes and nothing
 * else. */
static void test_pdeathsig(void **state)
{
    fixture *fx = *state;
    child_report rep;
    int pfd[2], done[2] = { 0, 0 }, st[2] = { 0, 0 }, status, left, eof, alive = 0;
    pid_t child;
    int64_t deadline;

    require_server();
    /* The owner dies by SIGKILL and cannot remove its directory: put it where the
     * teardown will. */
    make_tmpdir(fx);
    /* Not O_CLOEXEC on purpose: the servers must close it themselves before exec. */
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pfd[0]);
        pdeathsig_child(pfd[1]);
    }
    close(pfd[1]);

    memset(&rep, 0, sizeof(rep));
    deadline = ovs_now_ns() + 2 * WAIT_NS;
    if (read_bounded(pfd[0], &rep, sizeof(rep), deadline) != 0 || rep.rc != OVS_OK) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        close(pfd[0]);
        fail_msg("child could not start its fleet: rc %d: %s", rep.rc, rep.err);
    }
    /* EOF proves no redis-server inherited the write end of the pipe. */
    eof = read_bounded(pfd[0], NULL, 0, ovs_now_ns() + WAIT_NS) == 0;
    close(pfd[0]);
    for (int i = 0; i < 2; i++)
        alive += rep.pid[i] > 0 && ping(rep.port[i]);

    assert_int_equal(kill(child, SIGKILL), 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    left = 2;
    deadline = ovs_now_ns() + WAIT_NS;
    while (left > 0 && ovs_now_ns() < deadline) {
        for (int i = 0; i < 2; i++) {
            if (done[i])
                continue;
            pid_t r = waitpid(rep.pid[i], &st[i], WNOHANG);
            if (r == rep.pid[i]) {
                done[i] = 1; /* re-parented to us and reaped */
                left--;
            } else if (r < 0 && pid_gone(rep.pid[i])) {
                done[i] = 2; /* re-parented elsewhere and reaped there */
                left--;
            }
        }
        if (left > 0)
            ovs_sleep_ns(STEP_NS);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (int i = 0; i < 2 && left > 0; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* Only a process that is still our own child may be killed here. */
        if (!done[i] &&
            waitid(P_PID, (id_t)rep.pid[i], &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
            kill(rep.pid[i], SIGKILL);
            waitpid(rep.pid[i], NULL, 0);
        }
    }

    if (!eof)
        fail_msg("no EOF on the pipe: a redis-server kept the harness's descriptor open");
    assert_int_equal(alive, 2);
    if (left > 0)
        fail_msg("%d redis-server(s) outlived the SIGKILLed owner", left);
    for (int i = 0; i < 2; i++)
        if (done[i] == 1 && (!WIFSIGNALED(st[i]) || WTERMSIG(st[i]) != SIGKILL))
            fail_msg("redis-server %d ended with status 0x%x, not the death signal SIGKILL",
                     (int)rep.pid[i], st[i]);

    /* The directory: left behind, with its maker's record, until the next start. */
    {
        char owner[PATH_MAX + 16];
        struct stat sb;
        snprintf(owner, sizeof(owner), "%s/" OVS_TMPDIR_OWNER, rep.dir);
        assert_int_equal(strncmp(rep.dir, fx->tmpdir, strlen(fx->tmpdir)), 0);
        assert_int_equal(stat(owner, &sb), 0);
        start_fleet(fx, 1);
        assert_int_equal(lstat(rep.dir, &sb), -1);
        assert_int_equal(errno, ENOENT);
    }
}

/* A missing server is an environment failure with a message that says what to do. */
static void test_missing_server(void **state)
{
    fixture *fx = *state;
    ovs_fleet_opts o = { .nodes = 1, .redis_server = NULL };
    char err[256] = "", path[PATH_MAX];

    make_tmpdir(fx);
    assert_int_equal(setenv("OVERSELL_REDIS_SERVER", "/nonexistent", 1), 0);
    assert_int_equal(ovs_redis_server_path(path, sizeof(path)), -1);
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->fleet);
    assert_non_null(strstr(err, "redis-server not found"));
    assert_non_null(strstr(err, "OVERSELL_REDIS_SERVER"));
    assert_non_null(strstr(err, "/nonexistent"));

    /* An explicit executable that is a directory. */
    unsetenv("OVERSELL_REDIS_SERVER");
    o.redis_server = "/tmp";
    err[0] = '\0';
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->fleet);
    assert_non_null(strstr(err, "redis-server not found"));

    /* A program that runs but exits at once is a server that would not come up. */
    o.redis_server = "/bin/false";
    err[0] = '\0';
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->fleet);
    assert_non_null(strstr(err, "exited with status 1"));

    /* None of the failures left a directory behind. */
    assert_int_equal(rmdir(fx->tmpdir), 0);
    fx->tmpdir[0] = '\0';
}

/* NULL and bad arguments are handled, and bad options are not environment failures. */
static void test_null_and_bad_args(void **state)
{
    fixture *fx = *state;
    ovs_fleet_opts o = { .nodes = 0, .redis_server = NULL };
    char err[256] = "";

    ovs_fleet_stop(NULL);
    assert_int_equal(ovs_fleet_size(NULL), 0);
    assert_null(ovs_fleet_endpoints(NULL));
    assert_int_equal(ovs_fleet_pid(NULL, 0), -1);
    assert_string_equal(ovs_fleet_version(NULL), "");
    assert_string_equal(ovs_fleet_dir(NULL), "");
    ovs_fleet_kill_all(); /* nothing registered: does nothing */

    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR);
    assert_null(fx->fleet);
    assert_true(err[0] != '\0');
    o.nodes = OVS_FLEET_MAX + 1;
    assert_int_equal(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), OVS_ERR);
    assert_null(fx->fleet);
    assert_int_equal(ovs_fleet_start(NULL, &fx->fleet, err, sizeof(err)), OVS_ERR);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_and_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_stop_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmpdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pdeathsig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_dirs_removed, setup, teardown),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
