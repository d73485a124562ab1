/* test_faults.c - live tests of the fleet's faults and topology
 * (harness/infra/fleet_faults.c): kill and restart under each persistence, SIGSTOP/SIGCONT,
 * replicas and promotion.
 *
 * These run real redis-server processes; without one they skip, except under CI=true where
 * they fail (OVS_REQUIRE_REDIS). Every wait is a bounded loop. Every pid a test sees is
 * recorded, and each test ends by stopping its fleet and checking that none of those
 * processes exists any more; the teardown stops a fleet an assertion left behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "infra/fleet.h"
#include "infra/fleet_faults.h"
#include "live.h"
#include "core/util.h"

#define WAIT_NS (10 * OVS_NS_PER_S) /* bound of every wait for replication */
#define STEP_NS (10 * OVS_NS_PER_MS)
#define MAX_PIDS 32

typedef struct fixture {
    ovs_fleet *fleet;     /* stopped by the teardown if a test leaves it */
    pid_t pid[MAX_PIDS];  /* every server pid the test saw */
    int npid;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ovs_fleet_stop(fx->fleet);
    free(fx);
    return 0;
}

static int pid_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Record the current pid of node i, which must be running. */
static pid_t remember(fixture *fx, int i)
{
    pid_t pid = ovs_fleet_pid(fx->fleet, i);
    assert_true(pid > 0);
    assert_true(fx->npid < MAX_PIDS);
    fx->pid[fx->npid++] = pid;
    return pid;
}

static void start_fleet(fixture *fx, int nodes, int persistence)
{
    ovs_fleet_opts o = { .nodes = nodes, .redis_server = NULL, .persistence = persistence };
    char err[256] = "";
    int rc = ovs_fleet_start(&o, &fx->fleet, err, sizeof(err));
    if (rc != OVS_OK)
        fail_msg("ovs_fleet_start(%d nodes, persistence %d) = %d: %s", nodes, persistence, rc,
                 err);
    for (int i = 0; i < nodes; i++)
        remember(fx, i);
}

/* Stop the fleet and check that no server the test saw is left. */
static void stop_and_check(fixture *fx)
{
    ovs_fleet_stop(fx->fleet);
    fx->fleet = NULL;
    for (int k = 0; k < fx->npid; k++)
        if (!pid_gone(fx->pid[k]))
            fail_msg("redis-server pid %d still exists after stop", (int)fx->pid[k]);
}

/* stop_and_check, and within the SIGTERM grace: every server, replicas included, was
 * asked to stop, not left to the SIGKILL that ends the grace. */
static void stop_in_time(fixture *fx)
{
    int64_t took = ovs_now_ns();
    stop_and_check(fx);
    took = ovs_now_ns() - took;
    if (took >= 1900 * OVS_NS_PER_MS)
        fail_msg("stop took %lld ms: a server waited for the SIGKILL",
                 (long long)(took / OVS_NS_PER_MS));
    print_message("stop: %lld ms\n", (long long)(took / OVS_NS_PER_MS));
}

static int port_of(fixture *fx, int i)
{
    const ovs_endpoint *ep = ovs_fleet_node(fx->fleet, i);
    assert_non_null(ep);
    return ep->port;
}

static redisContext *connect_ms(int port, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c != NULL)
        redisSetTimeout(c, tv);
    return c;
}

/* One command on a fresh connection with a 1 s timeout; NULL when there is no reply. */
static redisReply *cmd(int port, const char *fmt, ...)
{
    redisContext *c = connect_ms(port, 1000);
    redisReply *r;
    va_list ap;

    if (c == NULL)
        return NULL;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

static int ping(int port)
{
    redisReply *r = cmd(port, "PING");
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL)
        freeReplyObject(r);
    return ok;
}

static void set_ok(int port, const char *key, const char *val)
{
    redisReply *r = cmd(port, "SET %s %s", key, val);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STATUS)
        fail_msg("SET %s on port %d: %s", key, port,
                 r->type == REDIS_REPLY_ERROR ? r->str : "not +OK");
    freeReplyObject(r);
}

/* GET key into out; 1 when it exists, 0 when nil, -1 when there was no good reply. */
static int get(int port, const char *key, char *out, size_t len)
{
    redisReply *r = cmd(port, "GET %s", key);
    int rc = -1;

    out[0] = '\0';
    if (r != NULL && r->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (r != NULL && r->type == REDIS_REPLY_STRING) {
        snprintf(out, len, "%s", r->str);
        rc = 1;
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static void assert_value(int port, const char *key, const char *want)
{
    char got[128];
    int rc = get(port, key, got, sizeof(got));
    if (want == NULL && rc != 0)
        fail_msg("GET %s on port %d: expected nil, got %s", key, port,
                 rc < 0 ? "no reply" : got);
    if (want != NULL && (rc != 1 || strcmp(got, want) != 0))
        fail_msg("GET %s on port %d: expected \"%s\", got %s", key, port, want,
                 rc == 1 ? got : rc == 0 ? "nil" : "no reply");
}

/* An integer reply of one command (INCR, DBSIZE). */
static long long integer(int port, const char *fmt, ...)
{
    redisContext *c = connect_ms(port, 1000);
    redisReply *r;
    long long v;
    va_list ap;

    assert_non_null(c);
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The value of name in INFO section of the server at port, into out; -1 when absent. */
static int info(int port, const char *section, const char *name, char *out, size_t len)
{
    redisReply *r = cmd(port, "INFO %s", section);
    int rc = -1;

    out[0] = '\0';
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        size_t n = strlen(name);
        for (const char *p = r->str; p != NULL && *p != '\0';) {
            if (strncmp(p, name, n) == 0 && p[n] == ':') {
                snprintf(out, len, "%.*s", (int)strcspn(p + n + 1, "\r\n"), p + n + 1);
                rc = 0;
                break;
            }
            p = strchr(p, '\n');
            if (p != NULL)
                p++;
        }
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static void config_is(int port, const char *name, const char *want)
{
    redisReply *r = cmd(port, "CONFIG GET %s", name);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    if (strcmp(r->element[1]->str, want) != 0)
        fail_msg("CONFIG GET %s: \"%s\", expected \"%s\"", name, r->element[1]->str, want);
    freeReplyObject(r);
}

/* Files named `name` anywhere under the fleet's directory (nftw has no user pointer). */
static const char *count_name;
static int count_found;

static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    if (strcmp(path + ftw->base, count_name) == 0)
        count_found++;
    return 0;
}

static int count_files(fixture *fx, const char *name)
{
    count_name = name;
    count_found = 0;
    assert_int_equal(nftw(ovs_fleet_dir(fx->fleet), count_entry, 16, FTW_PHYS), 0);
    return count_found;
}

static void must(int rc, const char *what, const char *err)
{
    if (rc != OVS_OK)
        fail_msg("%s: %d: %s", what, rc, err);
}

static void must_fail(int rc, const char *what, const char *err)
{
    if (rc != OVS_ERR)
        fail_msg("%s: expected OVS_ERR, got %d", what, rc);
    if (err[0] == '\0')
        fail_msg("%s failed without a reason", what);
}

/* Kill node i, check it is gone and reaped, restart it and check it is back on its port;
 * returns how long the restart took. */
static int64_t kill_restart(fixture *fx, int i)
{
    char err[256] = "";
    int port = port_of(fx, i);
    pid_t old = ovs_fleet_pid(fx->fleet, i);
    int64_t t0;

    must(ovs_fleet_kill(fx->fleet, i, err, sizeof(err)), "kill", err);
    assert_int_equal(ovs_fleet_pid(fx->fleet, i), -1);
    assert_true(pid_gone(old)); /* reaped, not a zombie */
    assert_false(ping(port));
    t0 = ovs_now_ns();
    must(ovs_fleet_restart(fx->fleet, i, err, sizeof(err)), "restart", err);
    t0 = ovs_now_ns() - t0;
    assert_int_equal(port_of(fx, i), port);
    assert_int_not_equal(ovs_fleet_pid(fx->fleet, i), old);
    remember(fx, i);
    assert_true(ping(port));
    return t0;
}

/* ------------------------------------------------------------------------------------- */

/* Bad arguments fail with a reason and touch nothing; no server needed. */
static void test_bad_args(void **state)
{
    fixture *fx = *state;
    ovs_fleet_opts o = { .nodes = 1, .redis_server = NULL, .persistence = 7 };
    ovs_endpoint ep = { .host = "127.0.0.1", .port = 1 };
    char err[256] = "";
    int idx = 5;

    assert_int_equal(ovs_fleet_total(NULL), 0);
    assert_null(ovs_fleet_node(NULL, 0));
    must_fail(ovs_fleet_kill(NULL, 0, err, sizeof(err)), "kill(NULL)", err);
    must_fail(ovs_fleet_restart(NULL, 0, err, sizeof(err)), "restart(NULL)", err);
    must_fail(ovs_fleet_pause(NULL, 0, err, sizeof(err)), "pause(NULL)", err);
    must_fail(ovs_fleet_resume(NULL, 0, err, sizeof(err)), "resume(NULL)", err);
    must_fail(ovs_fleet_promote(NULL, 0, err, sizeof(err)), "promote(NULL)", err);
    must_fail(ovs_fleet_snapshot(NULL, 0, err, sizeof(err)), "snapshot(NULL)", err);
    must_fail(ovs_fleet_add_replica(NULL, &ep, &idx, err, sizeof(err)), "add_replica(NULL)",
              err);
    assert_int_equal(idx, -1);
    err[0] = '\0';
    must_fail(ovs_fleet_start(&o, &fx->fleet, err, sizeof(err)), "start(persistence 7)", err);
    assert_null(fx->fleet);
}

/* Without persistence a restarted node is empty, even when a SAVE left a dump.rdb. */
static void test_kill_restart_none(void **state)
{
    fixture *fx = *state;
    char err[256] = "";
    int port;
    int64_t took;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    port = port_of(fx, 0);
    assert_int_equal(ovs_fleet_total(fx->fleet), 1);
    assert_null(ovs_fleet_node(fx->fleet, 1));
    assert_null(ovs_fleet_node(fx->fleet, -1));
    config_is(port, "appendonly", "no");
    config_is(port, "save", "");

    set_ok(port, "k", "v");
    must(ovs_fleet_snapshot(fx->fleet, 0, err, sizeof(err)), "snapshot", err);
    assert_int_equal(count_files(fx, "dump.rdb"), 1);

    took = kill_restart(fx, 0);
    print_message("restart without persistence: %lld ms\n", (long long)(took / OVS_NS_PER_MS));
    assert_value(port, "k", NULL);
    assert_int_equal(integer(port, "DBSIZE"), 0);
    assert_int_equal(count_files(fx, "dump.rdb"), 0);

    /* Faults on the wrong state fail with a reason. */
    err[0] = '\0';
    must_fail(ovs_fleet_restart(fx->fleet, 0, err, sizeof(err)), "restart of a running node",
              err);
    must_fail(ovs_fleet_promote(fx->fleet, 0, err, sizeof(err)), "promote of a master", err);
    must_fail(ovs_fleet_kill(fx->fleet, 1, err, sizeof(err)), "kill of node 1 of 1", err);
    must(ovs_fleet_kill(fx->fleet, 0, err, sizeof(err)), "kill", err);
    err[0] = '\0';
    must_fail(ovs_fleet_kill(fx->fleet, 0, err, sizeof(err)), "kill of a killed node", err);
    must_fail(ovs_fleet_pause(fx->fleet, 0, err, sizeof(err)), "pause of a killed node", err);
    must_fail(ovs_fleet_resume(fx->fleet, 0, err, sizeof(err)), "resume of a killed node", err);
    must_fail(ovs_fleet_snapshot(fx->fleet, 0, err, sizeof(err)), "snapshot of a killed node",
              err);
    stop_and_check(fx); /* a killed node is no trouble for stop */
}

/* Listen on 127.0.0.1:port, as a stranger taking a killed node's port would. */
static int take_port(int port)
{
    struct sockaddr_in sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0) {
        close(fd);
        fail_msg("cannot take port %d: %s", port, strerror(errno));
    }
    return fd;
}

/* A restart keeps the port or fails: with the port taken the node stays down, with an
 * error that says so, and comes back once the port is free again. */
static void test_restart_port_taken(void **state)
{
    fixture *fx = *state;
    char err[256] = "";
    int port, fd, rc;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    port = port_of(fx, 0);
    must(ovs_fleet_kill(fx->fleet, 0, err, sizeof(err)), "kill", err);
    fd = take_port(port);
    rc = ovs_fleet_restart(fx->fleet, 0, err, sizeof(err));
    close(fd);
    must_fail(rc, "restart on a taken port", err);
    assert_non_null(strstr(err, "taken"));
    assert_int_equal(ovs_fleet_pid(fx->fleet, 0), -1);
    assert_int_equal(port_of(fx, 0), port);

    must(ovs_fleet_restart(fx->fleet, 0, err, sizeof(err)), "restart on the freed port", err);
    remember(fx, 0);
    assert_int_equal(port_of(fx, 0), port);
    assert_true(ping(port));
    stop_and_check(fx);
}

typedef struct thread_call {
    ovs_fleet *fleet;
    int rc_restart, rc_add;
    char err[256];
} thread_call;

static void *call_from_thread(void *arg)
{
    thread_call *tc = arg;
    int idx;
    tc->rc_restart = ovs_fleet_restart(tc->fleet, 0, tc->err, sizeof(tc->err));
    tc->rc_add = ovs_fleet_add_replica(tc->fleet, ovs_fleet_node(tc->fleet, 0), &idx, tc->err,
                                       sizeof(tc->err));
    return NULL;
}

/* Forking from another thread would tie the server's life to that thread (PDEATHSIG):
 * restart and add_replica refuse it. */
static void test_wrong_thread(void **state)
{
    fixture *fx = *state;
    thread_call tc;
    pthread_t th;
    char err[256] = "";

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    must(ovs_fleet_kill(fx->fleet, 0, err, sizeof(err)), "kill", err);
    memset(&tc, 0, sizeof(tc));
    tc.fleet = fx->fleet;
    assert_int_equal(pthread_create(&th, NULL, call_from_thread, &tc), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    must_fail(tc.rc_restart, "restart from another thread", tc.err);
    must_fail(tc.rc_add, "add_replica from another thread", tc.err);
    assert_non_null(strstr(tc.err, "thread"));
    assert_int_equal(ovs_fleet_pid(fx->fleet, 0), -1);
    assert_int_equal(ovs_fleet_total(fx->fleet), 1);
    must(ovs_fleet_restart(fx->fleet, 0, err, sizeof(err)), "restart", err);
    remember(fx, 0);
    stop_and_check(fx);
}

/* With AOF a SIGKILL loses nothing Redis acknowledged: plain SETs and INCRs, across two
 * restarts (the second appends to what the first loaded). */
static void test_kill_restart_aof(void **state)
{
    fixture *fx = *state;
    int port;
    int64_t took;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_AOF);
    port = port_of(fx, 0);
    config_is(port, "appendonly", "yes");
    config_is(port, "appendfsync", "always");
    config_is(port, "save", "");

    set_ok(port, "k", "v");
    for (int n = 0; n < 5; n++)
        integer(port, "INCR %s", "c");
    assert_int_equal(integer(port, "INCRBY %s 10", "c"), 15);
    took = kill_restart(fx, 0); /* at once: no time for an fsync to help */
    print_message("restart with AOF: %lld ms\n", (long long)(took / OVS_NS_PER_MS));
    assert_value(port, "k", "v");
    assert_value(port, "c", "15");

    assert_int_equal(integer(port, "INCR %s", "c"), 16);
    kill_restart(fx, 0);
    assert_value(port, "c", "16");
    assert_value(port, "k", "v");
    stop_and_check(fx);
}

/* With RDB a restart loads the last snapshot: what was written after it is lost. */
static void test_kill_restart_rdb(void **state)
{
    fixture *fx = *state;
    char err[256] = "";
    int port;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_RDB);
    port = port_of(fx, 0);
    config_is(port, "appendonly", "no");
    config_is(port, "save", "");
    config_is(port, "dbfilename", "dump.rdb");

    set_ok(port, "before", "1");
    assert_int_equal(count_files(fx, "dump.rdb"), 0); /* no save points */
    must(ovs_fleet_snapshot(fx->fleet, 0, err, sizeof(err)), "snapshot", err);
    set_ok(port, "after", "2");
    kill_restart(fx, 0);
    assert_value(port, "before", "1");
    assert_value(port, "after", NULL);
    stop_and_check(fx);
}

/* A paused node accepts connections but answers nothing: a PING with a 100 ms timeout
 * times out. A SET written to it meanwhile waits in the socket buffer and is executed on
 * resume: why the node-restart scenario cuts links with the proxy instead. */
static void test_pause_resume(void **state)
{
    fixture *fx = *state;
    redisContext *old, *c;
    redisReply *r;
    char err[256] = "";
    int port, done = 0;
    pid_t pid;
    int64_t t0, took;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    port = port_of(fx, 0);
    pid = ovs_fleet_pid(fx->fleet, 0);
    old = connect_ms(port, 1000);
    assert_non_null(old);

    must(ovs_fleet_pause(fx->fleet, 0, err, sizeof(err)), "pause", err);
    must(ovs_fleet_pause(fx->fleet, 0, err, sizeof(err)), "pause of a paused node", err);
    assert_int_equal(ovs_fleet_pid(fx->fleet, 0), pid);
    assert_int_equal(kill(pid, 0), 0);

    c = connect_ms(port, 100);
    if (c != NULL) { /* the kernel completes the handshake for a stopped process */
        t0 = ovs_now_ns();
        r = redisCommand(c, "PING");
        took = ovs_now_ns() - t0;
        if (r != NULL) {
            freeReplyObject(r);
            redisFree(c);
            redisFree(old);
            fail_msg("a paused node answered PING");
        }
        assert_true(c->err != 0);
        assert_true(took >= 90 * OVS_NS_PER_MS);
        assert_true(took < OVS_NS_PER_S);
        redisFree(c);
    }

    /* The old connection writes a SET into the paused node's socket buffer. */
    assert_int_equal(redisAppendCommand(old, "SET queued yes"), REDIS_OK);
    for (int n = 0; n < 100 && !done; n++)
        assert_int_equal(redisBufferWrite(old, &done), REDIS_OK);
    assert_true(done);
    /* Commands from the fleet itself are refused, not left queued. */
    t0 = ovs_now_ns();
    err[0] = '\0';
    must_fail(ovs_fleet_snapshot(fx->fleet, 0, err, sizeof(err)), "snapshot of a paused node",
              err);
    assert_non_null(strstr(err, "paused"));
    assert_true(ovs_now_ns() - t0 < 50 * OVS_NS_PER_MS);
    ovs_sleep_ns(200 * OVS_NS_PER_MS);

    must(ovs_fleet_resume(fx->fleet, 0, err, sizeof(err)), "resume", err);
    assert_true(ping(port));
    r = NULL;
    assert_int_equal(redisGetReply(old, (void **)&r), REDIS_OK);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    redisFree(old);
    assert_value(port, "queued", "yes");
    must(ovs_fleet_resume(fx->fleet, 0, err, sizeof(err)), "resume of a running node", err);

    /* Stop still honours SIGTERM for a paused node (it sends SIGCONT too). */
    must(ovs_fleet_pause(fx->fleet, 0, err, sizeof(err)), "pause", err);
    stop_in_time(fx);
}

/* Wait until GET key on port gives want (NULL: nil). */
static void wait_value(int port, const char *key, const char *want)
{
    int64_t deadline = ovs_now_ns() + WAIT_NS;
    char got[128];

    for (;;) {
        int rc = get(port, key, got, sizeof(got));
        if (want == NULL ? rc == 0 : rc == 1 && strcmp(got, want) == 0)
            return;
        if (ovs_now_ns() >= deadline)
            fail_msg("GET %s on port %d did not become %s within %lld s (last: %s)", key, port,
                     want ? want : "nil", (long long)(WAIT_NS / OVS_NS_PER_S),
                     rc == 1 ? got : rc == 0 ? "nil" : "no reply");
        ovs_sleep_ns(STEP_NS);
    }
}

static void add_replica(fixture *fx, int want_index)
{
    char err[256] = "";
    int idx = -1;

    must(ovs_fleet_add_replica(fx->fleet, ovs_fleet_node(fx->fleet, 0), &idx, err, sizeof(err)),
         "add_replica", err);
    assert_int_equal(idx, want_index);
    remember(fx, idx);
}

/* A replica follows its master, refuses writes, and after promotion is a master that
 * accepts them. */
static void test_replica_promote(void **state)
{
    fixture *fx = *state;
    char err[256] = "", val[64];
    redisReply *r;
    int mport, rport;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    mport = port_of(fx, 0);
    set_ok(mport, "early", "1"); /* arrives with the initial sync */
    add_replica(fx, 1);
    assert_int_equal(ovs_fleet_total(fx->fleet), 2);
    assert_int_equal(ovs_fleet_size(fx->fleet), 1);
    rport = port_of(fx, 1);
    assert_int_not_equal(rport, mport);
    assert_null(ovs_fleet_node(fx->fleet, 2));

    /* add_replica returned after the sync: no waiting needed for what came before. */
    assert_int_equal(info(rport, "replication", "role", val, sizeof(val)), 0);
    assert_string_equal(val, "slave");
    assert_int_equal(info(rport, "replication", "master_link_status", val, sizeof(val)), 0);
    assert_string_equal(val, "up");
    assert_value(rport, "early", "1");
    assert_int_equal(info(mport, "replication", "connected_slaves", val, sizeof(val)), 0);
    assert_string_equal(val, "1");

    set_ok(mport, "k", "v");
    wait_value(rport, "k", "v");
    r = cmd(rport, "SET x y");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR); /* READONLY */
    freeReplyObject(r);

    must_fail(ovs_fleet_promote(fx->fleet, 0, err, sizeof(err)), "promote of a master", err);
    must(ovs_fleet_promote(fx->fleet, 1, err, sizeof(err)), "promote", err);
    assert_int_equal(info(rport, "replication", "role", val, sizeof(val)), 0);
    assert_string_equal(val, "master");
    set_ok(rport, "x", "y");
    assert_value(rport, "x", "y");
    assert_value(rport, "k", "v");
    err[0] = '\0';
    must_fail(ovs_fleet_promote(fx->fleet, 1, err, sizeof(err)), "second promote", err);

    /* A promoted replica restarts as a master. */
    kill_restart(fx, 1);
    assert_int_equal(info(rport, "replication", "role", val, sizeof(val)), 0);
    assert_string_equal(val, "master");
    stop_in_time(fx);
}

/* A master without persistence restarts empty and its replica, resyncing, empties too:
 * the data loss a restart without persistence spreads. The replica itself, killed and
 * restarted, comes back as a replica and catches up. */
static void test_master_restart_resync(void **state)
{
    fixture *fx = *state;
    char val[64];
    int mport, rport;
    int64_t deadline;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_NONE);
    mport = port_of(fx, 0);
    add_replica(fx, 1);
    rport = port_of(fx, 1);
    set_ok(mport, "k", "v");
    wait_value(rport, "k", "v");

    kill_restart(fx, 0);
    assert_value(mport, "k", NULL);
    wait_value(rport, "k", NULL);
    deadline = ovs_now_ns() + WAIT_NS;
    while (info(rport, "replication", "master_link_status", val, sizeof(val)) != 0 ||
           strcmp(val, "up") != 0) {
        if (ovs_now_ns() >= deadline)
            fail_msg("the replica did not reconnect to the restarted master");
        ovs_sleep_ns(STEP_NS);
    }

    kill_restart(fx, 1);
    assert_int_equal(info(rport, "replication", "role", val, sizeof(val)), 0);
    assert_string_equal(val, "slave");
    set_ok(mport, "k2", "v2");
    wait_value(rport, "k2", "v2");
    stop_in_time(fx);
}

/* Whether our child pid has exited, without reaping it (the fleet does that). */
static int exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Replicas are in the kill-all registry like masters, a paused one included, and a later
 * stop only reaps. */
static void test_replica_kill_all(void **state)
{
    fixture *fx = *state;
    char err[256] = "";
    pid_t m, rep;
    int64_t deadline, t0;

    OVS_REQUIRE_REDIS();
    start_fleet(fx, 1, OVS_PERSIST_AOF);
    add_replica(fx, 1);
    config_is(port_of(fx, 1), "appendonly", "yes"); /* the fleet's persistence */
    m = ovs_fleet_pid(fx->fleet, 0);
    rep = ovs_fleet_pid(fx->fleet, 1);
    must(ovs_fleet_pause(fx->fleet, 1, err, sizeof(err)), "pause replica", err);

    ovs_fleet_kill_all();
    deadline = ovs_now_ns() + WAIT_NS;
    while (!(exited(m) && exited(rep)) && ovs_now_ns() < deadline)
        ovs_sleep_ns(STEP_NS);
    assert_true(exited(m));
    assert_true(exited(rep));
    t0 = ovs_now_ns();
    stop_and_check(fx);
    assert_true(ovs_now_ns() - t0 < OVS_NS_PER_S);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_restart_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_port_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_restart_aof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_restart_rdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_promote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_restart_resync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_kill_all, setup, teardown),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
