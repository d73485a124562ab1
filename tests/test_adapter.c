/* test_adapter.c - adapter strategies: real processes behind the JSON-lines protocol.
 *
 * Definitions are built here by hand (the definition-file loader is not needed to make a
 * table), and run against a real redis-server: the Python adapter shipped in
 * locks/adapters/python-setnx, and tests/adapters/misbehave.py, which breaks the protocol
 * in each of the ways PROTOCOL.md names. What is checked, each time from outside the
 * strategy:
 *
 *   - a lock taken through the adapter is a real key in Redis holding a token, gone after
 *     the release; a second client is busy meanwhile; a release after the lease expired
 *     answers "no longer ours";
 *   - pause = process really stops the process and its helpers (/proc/PID/stat says T),
 *     and resumes them, and the pause is on the timeline;
 *   - every protocol failure (a crash, garbage, no answer, an unknown type, a wrong id,
 *     a refused lock, a missing fencing token, an exit at init) makes the request unknown
 *     within the timeout, and tells the run, through env.broken, the adapter, the client,
 *     the offending line and the tail of the adapter's stderr; an honest `unknown` does
 *     not;
 *   - a whole operation hands each ok's order to the write-back queue, and a refused is
 *     a clean no;
 *   - the adapter dies with the harness, even when the harness is killed with SIGKILL,
 *     and is ended within its grace period when it ignores the end of its input;
 *   - through the whole engine (ovs_cell_run): the python adapter gets setnx's verdict in
 *     ttl-expiry-process-pause, with the stop recorded, and a misbehaving adapter's run
 *     is an error with the message, its row and events in the results database; a
 *     whole-operation adapter that says ok to every buyer is found out by the shop's rows,
 *     through the write-back queue or written by the adapter itself (shop = own).
 *
 * Skips without python3 or redis-server, except under CI=true (tests/live.h). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "live.h"
#include "engine/cell.h"
#include "engine/plan.h"
#include "engine/recorder.h"
#include "infra/fleet.h"
#include "infra/tmpdir.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"
#include "scenario/scenario.h"
#include "core/trace.h"
#include "core/util.h"

#ifndef OVS_SOURCE_DIR
#include "ovs_config.h"
#endif

/* The timeout of the misbehaving definitions (init included, so it leaves room for an
 * interpreter to start on a busy machine), and what a failure may take beyond it. */
#define FIXTURE_TIMEOUT_MS 1500
#define SLACK_MS 1000

#define MAX_INST 4

static struct {
    ovs_fleet *fleet;   /* one master for every test; NULL without redis-server */
    char python[512];   /* python3, "" when there is none */
    char source[256];   /* the source tree */
} g;

typedef struct fixture {
    char dir[512];                 /* env.files_dir */
    ovs_params param[MAX_INST];
    ovs_env env[MAX_INST];
    ovs_strategy *inst[MAX_INST];
    int n_inst;
    int broken;                    /* env.broken calls */
    char broken_text[512];         /* the first one's text */
    ovs_trace trace;               /* env.event */
} fixture;

/* ---- requirements and set-up ------------------------------------------------------------ */

#define REQUIRE_ADAPTERS()                                                                   \
    do {                                                                                     \
        OVS_REQUIRE_REDIS();                                                                 \
        if (g.python[0] == '\0') {                                                           \
            if (ovs_test_in_ci())                                                            \
                fail_msg("python3 not found, and CI=true: live tests may not be skipped");   \
            print_message("python3 not found: skipping adapter test\n");                     \
            skip();                                                                          \
        }                                                                                    \
        if (g.fleet == NULL)                                                                 \
            fail_msg("no redis-server fleet");                                               \
    } while (0)

static int group_setup(void **state)
{
    ovs_fleet_opts o = { .nodes = 1 };
    char path[512], err[256];
    const char *src = getenv("OVS_SOURCE_DIR");

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(g.source, sizeof(g.source), "%.255s", src && src[0] ? src : OVS_SOURCE_DIR);
    if (ovs_find_executable("python3", g.python, sizeof(g.python)) != 0)
        g.python[0] = '\0';
    if (ovs_redis_server_path(path, sizeof(path)) != 0)
        return 0;
    if (ovs_fleet_start(&o, &g.fleet, err, sizeof(err)) != 0) {
        print_error("cannot start redis-server: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ovs_fleet_stop(g.fleet);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[256];

    if (f == NULL || ovs_tmpdir_make(f->dir, sizeof(f->dir), err, sizeof(err)) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    for (int i = 0; i < f->n_inst; i++) {
        f->inst[i]->m->xClose(f->inst[i]);
        free(f->inst[i]);
    }
    ovs_trace_free(&f->trace);
    ovs_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void on_broken(void *ctx, const char *why)
{
    fixture *f = ctx;
    if (f->broken++ == 0)
        snprintf(f->broken_text, sizeof(f->broken_text), "%s", why);
}

static void on_event(void *ctx, const char *key, int64_t start_ns, int64_t end_ns,
                     enum ovs_outcome outcome, const char *detail)
{
    ovs_trace_add(ctx, 0, OVS_OP_NODE, key, start_ns, end_ns, outcome, detail);
}

/* ---- definitions -------------------------------------------------------------------------- */

/* python-setnx's parameters, as strategies/python-setnx.ini declares them. */
static const ovs_param_spec setnx_params[] = {
    { "ttl", 5000, "ms", NULL, 1, 86400000, "lease of the lock (PX of the SET)" },
    { "retry_count", 3, "count", NULL, 0, 1000000, "retries after an attempt finds the "
      "lock taken" },
    { "retry_delay", 200, "ms", NULL, 0, 3600000, "pause before each retry" },
    { "retry_jitter", 200, "ms", NULL, 0, 3600000, "plus a uniform random extra" },
};

static void base_def(ovs_strategy_def *def, const char *name, double timeout_ms)
{
    memset(def, 0, sizeof(*def));
    snprintf(def->path, sizeof(def->path), "test_adapter.c:%s", name);
    snprintf(def->dir, sizeof(def->dir), "%s", g.source);
    def->kind = OVS_DEF_ADAPTER;
    snprintf(def->name, sizeof(def->name), "%s", name);
    snprintf(def->summary, sizeof(def->summary), "test adapter %s", name);
    def->nodes = 1;
    def->operation = OVS_DEF_LOCK;
    def->timeout_ms = timeout_ms;
}

/* The Python adapter, once per process (a definition lives as long as the process). */
static const ovs_strategy_methods *python_setnx(void)
{
    static const ovs_strategy_methods *m;
    ovs_strategy_def def;
    char err[256];

    if (m != NULL)
        return m;
    base_def(&def, "python-setnx", 5000);
    def.claims_safe = 1;
    def.argc = 2;
    snprintf(def.argv[0], sizeof(def.argv[0]), "%s", g.python);
    snprintf(def.argv[1], sizeof(def.argv[1]), "%s/locks/adapters/python-setnx/adapter.py",
             g.source);
    def.n_params = (int)(sizeof(setnx_params) / sizeof(setnx_params[0]));
    memcpy(def.params, setnx_params, sizeof(setnx_params));
    if (ovs_adapter_define(&def, &m, err, sizeof(err)) != 0)
        fail_msg("define python-setnx: %s", err);
    return m;
}

/* misbehave.py in mode, named "misbehave-<mode>"; fencing as given. One per mode. */
static const ovs_strategy_methods *misbehave(const char *mode, int fencing)
{
    static struct {
        char mode[32];
        const ovs_strategy_methods *m;
    } made[24];
    static int n;
    ovs_strategy_def def;
    char name[48], err[256];

    for (int i = 0; i < n; i++)
        if (strcmp(made[i].mode, mode) == 0)
            return made[i].m;
    assert_true(n < (int)(sizeof(made) / sizeof(made[0])));
    snprintf(name, sizeof(name), "misbehave-%s", mode);
    base_def(&def, name, FIXTURE_TIMEOUT_MS);
    def.fencing = fencing;
    def.argc = 3;
    snprintf(def.argv[0], sizeof(def.argv[0]), "%s", g.python);
    snprintf(def.argv[1], sizeof(def.argv[1]), "%s/tests/adapters/misbehave.py", g.source);
    snprintf(def.argv[2], sizeof(def.argv[2]), "%s", mode);
    if (ovs_adapter_define(&def, &made[n].m, err, sizeof(err)) != 0)
        fail_msg("define %s: %s", name, err);
    snprintf(made[n].mode, sizeof(made[n].mode), "%s", mode);
    return made[n++].m;
}

/* misbehave.py in mode as a whole operation whose orders go through the write-back queue,
 * or (mode own-shop) that writes the shop itself: "whole-<mode>". */
static const ovs_strategy_methods *whole(const char *mode)
{
    static struct {
        char mode[32];
        const ovs_strategy_methods *m;
    } made[4];
    static int n;
    ovs_strategy_def def;
    char name[48], err[256];

    for (int i = 0; i < n; i++)
        if (strcmp(made[i].mode, mode) == 0)
            return made[i].m;
    assert_true(n < (int)(sizeof(made) / sizeof(made[0])));
    snprintf(name, sizeof(name), "whole-%s", mode);
    base_def(&def, name, FIXTURE_TIMEOUT_MS);
    def.claims_safe = 1;
    def.operation = OVS_DEF_WHOLE;
    def.shop = strcmp(mode, "own-shop") == 0 ? OVS_DEF_SHOP_OWN : OVS_DEF_SHOP_WRITEBACK;
    def.argc = 3;
    snprintf(def.argv[0], sizeof(def.argv[0]), "%s", g.python);
    snprintf(def.argv[1], sizeof(def.argv[1]), "%s/tests/adapters/misbehave.py", g.source);
    snprintf(def.argv[2], sizeof(def.argv[2]), "%s", mode);
    if (ovs_adapter_define(&def, &made[n].m, err, sizeof(err)) != 0)
        fail_msg("define %s: %s", name, err);
    snprintf(made[n].mode, sizeof(made[n].mode), "%s", mode);
    return made[n++].m;
}

/* env.sold of the whole-operation tests: counts the orders handed over. */
static int sold_count;

static int count_sold(void *ctx, const ovs_request *r, int64_t buyer)
{
    (void)ctx;
    (void)r;
    (void)buyer;
    sold_count++;
    return 0;
}

/* An instance of m named client for workload w, with "k=v,..." over its defaults; its
 * xOpen's code in *rc when rc is given, else it must open. */
static ovs_strategy *open_in(fixture *f, const ovs_strategy_methods *m, const char *client,
                             const char *params, int *rc, enum ovs_workload w)
{
    int i = f->n_inst;
    char err[256];
    ovs_strategy *s;

    assert_true(i < MAX_INST);
    ovs_params_defaults(m, &f->param[i]);
    if (params != NULL && ovs_params_set_list(m, &f->param[i], params, err, sizeof(err)) != 0)
        fail_msg("%s: %s", m->name, err);
    f->env[i] = (ovs_env){
        .workload = w,
        .skus = 1,
        .stock = 1,
        .param = &f->param[i],
        .redis = ovs_fleet_endpoints(g.fleet),
        .n_redis = 1,
        .client = i,
        .seed = 1000 + (uint64_t)i,
        .event = on_event,
        .event_ctx = &f->trace,
        .shop_path = "/nonexistent/shop.db",
        .client_name = client,
        .files_dir = f->dir,
        .broken = on_broken,
        .broken_ctx = f,
        .sold = count_sold,
    };
    s = calloc(1, m->size);
    assert_non_null(s);
    s->m = m;
    s->env = &f->env[i];
    f->inst[f->n_inst++] = s;
    int r = m->xOpen(s, &f->env[i]);
    if (rc != NULL)
        *rc = r;
    else if (r != OVS_OK)
        fail_msg("%s: xOpen: %s (%s)", m->name, s->errstr, f->broken_text);
    return s;
}

/* The same for inventory, as most tests sell. */
static ovs_strategy *open_as(fixture *f, const ovs_strategy_methods *m, const char *client,
                             const char *params, int *rc)
{
    return open_in(f, m, client, params, rc, OVS_INVENTORY);
}

/* The adapter process of the instance opened last: the newest child of this process that
 * is not a redis-server (children are listed oldest first). */
static pid_t newest_adapter(void)
{
    char path[600], word[32];
    pid_t found = -1;
    FILE *p;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    p = fopen(path, "r");
    assert_non_null(p);
    while (fscanf(p, "%31s", word) == 1) {
        pid_t pid = (pid_t)atoi(word);
        char cmd[600] = "";
        FILE *c;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        if ((c = fopen(path, "r")) != NULL) {
            size_t n = fread(cmd, 1, sizeof(cmd) - 1, c);
            fclose(c);
            cmd[n] = '\0';
        }
        if (strstr(cmd, "redis-server") == NULL)
            found = pid;
    }
    fclose(p);
    assert_true(found > 0);
    return found;
}

/* The state letter of /proc/PID/stat (R, S, T, Z, ...), or 0 when there is no such
 * process. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    FILE *p;
    size_t n;
    char *paren;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((p = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, p);
    fclose(p);
    buf[n] = '\0';
    paren = strrchr(buf, ')');
    return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

static redisReply *node(const char *fmt, ...)
{
    const ovs_endpoint *ep = &ovs_fleet_endpoints(g.fleet)[0];
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    redisReply *r = NULL;
    va_list ap;

    assert_non_null(c);
    assert_int_equal(c->err, 0);
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

static int64_t ms_since(int64_t t0)
{
    return (ovs_now_ns() - t0) / OVS_NS_PER_MS;
}

/* ---- the python adapter --------------------------------------------------------------- */

/* The lock is a real key holding a token of the adapter's while held, with its lease; the
 * release removes it. */
static void python_lock_is_a_real_key(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, python_setnx(), "alice", "ttl=5000", NULL);
    redisReply *r;

    assert_int_equal(a->m->xLock(a, "sku:71"), OVS_OK);
    assert_int_equal(a->attempts, 1);
    r = node("GET lock:sku:71");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 32); /* 16 random bytes in hex */
    assert_true(strspn(r->str, "0123456789abcdef") == 32);
    freeReplyObject(r);
    r = node("PTTL lock:sku:71");
    assert_true(r->integer > 4000 && r->integer <= 5000);
    freeReplyObject(r);
    assert_int_equal(a->m->xUnlock(a, "sku:71"), OVS_OK);
    r = node("EXISTS lock:sku:71");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    assert_int_equal(f->broken, 0);
}

/* While Alice holds the lock Bob retries and gives up busy, with his attempts counted;
 * once she releases he gets it. */
static void python_second_client_is_busy(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, python_setnx(), "alice", NULL, NULL);
    ovs_strategy *b = open_as(f, python_setnx(), "bob",
                              "retry_count=2,retry_delay=20,retry_jitter=0", NULL);

    assert_int_equal(a->m->xLock(a, "sku:72"), OVS_OK);
    int64_t t0 = ovs_now_ns();
    assert_int_equal(b->m->xLock(b, "sku:72"), OVS_BUSY);
    assert_int_equal(b->attempts, 3);
    assert_true(ms_since(t0) >= 40); /* two retries of 20 ms: it did wait */
    assert_int_equal(a->m->xUnlock(a, "sku:72"), OVS_OK);
    assert_int_equal(b->m->xLock(b, "sku:72"), OVS_OK);
    assert_int_equal(b->m->xUnlock(b, "sku:72"), OVS_OK);
    assert_int_equal(f->broken, 0);
}

/* A holder that outlives its lease while Bob takes the lock finds at its release that
 * the lock is no longer its own: busy, and Bob's key untouched. */
static void python_release_after_expiry_is_not_ours(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, python_setnx(), "alice", "ttl=100", NULL);
    ovs_strategy *b = open_as(f, python_setnx(), "bob", NULL, NULL);
    redisReply *r;

    assert_int_equal(a->m->xLock(a, "sku:73"), OVS_OK);
    ovs_sleep_ns(250 * OVS_NS_PER_MS);
    assert_int_equal(b->m->xLock(b, "sku:73"), OVS_OK);
    assert_int_equal(a->m->xUnlock(a, "sku:73"), OVS_BUSY);
    r = node("EXISTS lock:sku:73");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    assert_int_equal(b->m->xUnlock(b, "sku:73"), OVS_OK);
    assert_int_equal(f->broken, 0);
}

/* xFreeze stops the process and the helper it forked (its process group), for real, and
 * resumes both; the stop is a step on the timeline; the adapter works after it. */
static void freeze_stops_the_process_group(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, misbehave("helper", 0), "alice", NULL, NULL);
    pid_t pid = newest_adapter(), helper = -1;
    char path[96];
    FILE *p;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    assert_non_null(p = fopen(path, "r"));
    assert_int_equal(fscanf(p, "%d", &helper), 1);
    fclose(p);

    assert_int_equal(a->m->xLock(a, "sku:74"), OVS_OK);
    assert_int_equal(a->m->xFreeze(a, 1), OVS_OK);
    assert_int_equal(proc_state(pid), 'T');
    for (int i = 0; i < 200 && proc_state(helper) != 'T'; i++)
        ovs_sleep_ns(5 * OVS_NS_PER_MS);
    assert_int_equal(proc_state(helper), 'T');
    ovs_sleep_ns(100 * OVS_NS_PER_MS);
    assert_int_equal(a->m->xFreeze(a, 0), OVS_OK);
    for (int i = 0; i < 200 && (proc_state(pid) == 'T' || proc_state(helper) == 'T'); i++)
        ovs_sleep_ns(5 * OVS_NS_PER_MS);
    assert_true(strchr("SR", proc_state(pid)) != NULL);
    assert_true(strchr("SR", proc_state(helper)) != NULL);
    assert_int_equal(a->m->xUnlock(a, "sku:74"), OVS_OK);

    assert_int_equal(f->trace.n, 1);
    assert_non_null(strstr(f->trace.ev[0].detail, "SIGSTOP"));
    assert_string_equal(f->trace.ev[0].key, "sku:74");
    assert_true(f->trace.ev[0].end_ns - f->trace.ev[0].start_ns >= 100 * OVS_NS_PER_MS);
    assert_int_equal(f->broken, 0);
}

/* ---- protocol failures -------------------------------------------------------------------- */

/* A lock through misbehave.py in mode: OVS_ERR_IO within the timeout, the process killed,
 * errstr and the run's message naming what went wrong, the line and stderr; later
 * requests certainly not sent, and said once. */
static void broken_lock(fixture *f, const char *mode, const char *what, const char *line,
                        const char *tail)
{
    ovs_strategy *a = open_as(f, misbehave(mode, 0), "alice", NULL, NULL);
    pid_t pid = newest_adapter();
    char head[128];
    int64_t t0 = ovs_now_ns();

    assert_int_equal(a->m->xLock(a, "sku:75"), OVS_ERR_IO);
    assert_true(ms_since(t0) < FIXTURE_TIMEOUT_MS + SLACK_MS);
    print_message("%s: errstr: %s\n%s: run: %s\n", mode, a->errstr, mode, f->broken_text);
    assert_non_null(strstr(a->errstr, what));
    assert_non_null(strstr(a->errstr, "stderr: "));
    assert_int_equal(f->broken, 1);
    snprintf(head, sizeof(head), "adapter misbehave-%s, client alice (pid %d): ", mode,
             (int)pid);
    assert_true(strncmp(f->broken_text, head, strlen(head)) == 0);
    assert_non_null(strstr(f->broken_text, what));
    if (line != NULL)
        assert_non_null(strstr(f->broken_text, line));
    assert_non_null(strstr(f->broken_text, tail));
    /* Killed at once (a zombie until xClose reaps it), and sent nothing more. */
    for (int i = 0; i < 200 && proc_state(pid) != 'Z'; i++)
        ovs_sleep_ns(5 * OVS_NS_PER_MS);
    assert_int_equal(proc_state(pid), 'Z');
    assert_int_equal(a->m->xLock(a, "sku:75"), OVS_ERR);
    assert_int_equal(f->broken, 1);
}

static void crash_mid_request(void **state)
{
    REQUIRE_ADAPTERS();
    broken_lock(*state, "crash", "exited with status 3 during lock (id 1)", NULL,
                "segfault in the lock library, giving up");
}

static void garbage_line(void **state)
{
    REQUIRE_ADAPTERS();
    broken_lock(*state, "garbage", "is not JSON", "'lock acquired, probably'",
                "misbehave: got lock id 1");
}

static void never_answers(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    int64_t t0 = ovs_now_ns();
    broken_lock(f, "hang", "no reply to lock (id 1) within 1500 ms", NULL,
                "misbehave: got lock id 1");
    assert_true(ms_since(t0) >= FIXTURE_TIMEOUT_MS); /* it did wait out the timeout */
}

static void unknown_type(void **state)
{
    REQUIRE_ADAPTERS();
    broken_lock(*state, "unknown-type", "unknown reply type 'maybe' to lock",
                "{\"type\": \"maybe\", \"id\": 1}", "misbehave: got lock id 1");
}

static void wrong_id(void **state)
{
    REQUIRE_ADAPTERS();
    broken_lock(*state, "wrong-id", "another request's id", "\"id\": 8",
                "misbehave: got lock id 1");
}

static void refused_lock(void **state)
{
    REQUIRE_ADAPTERS();
    broken_lock(*state, "refused-lock", "'refused' is no answer to lock", "refused",
                "misbehave: got lock id 1");
}

/* An adapter that exits before answering init fails xOpen, and the run hears why: its
 * exit status and its last words. */
static void exits_at_init(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    int rc;
    int64_t t0 = ovs_now_ns();

    open_as(f, misbehave("init-exit", 0), "alice", NULL, &rc);
    assert_int_equal(rc, OVS_ERR);
    assert_true(ms_since(t0) < FIXTURE_TIMEOUT_MS + SLACK_MS);
    print_message("run: %s\n", f->broken_text);
    assert_int_equal(f->broken, 1);
    assert_non_null(strstr(f->broken_text, "adapter misbehave-init-exit, client alice"));
    assert_non_null(strstr(f->broken_text, "exited with status 1 during init (id 0)"));
    assert_non_null(strstr(f->broken_text, "cannot reach redis at 127.0.0.1:1"));
}

/* A program that does not exist: exec fails in the child, and the message says so. */
static void command_that_does_not_run(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    static const ovs_strategy_methods *m;
    ovs_strategy_def def;
    char err[256];
    int rc;

    if (m == NULL) {
        base_def(&def, "no-such-program", FIXTURE_TIMEOUT_MS);
        def.argc = 1;
        snprintf(def.argv[0], sizeof(def.argv[0]), "%s/tests/adapters/no-such-program",
                 g.source);
        assert_int_equal(ovs_adapter_define(&def, &m, err, sizeof(err)), 0);
    }
    open_as(f, m, "alice", NULL, &rc);
    assert_int_equal(rc, OVS_ERR);
    print_message("run: %s\n", f->broken_text);
    assert_non_null(strstr(f->broken_text, "could not be run"));
}

/* With fencing = yes the token of each lock comes from its ok reply, and a lock answered
 * without one is a protocol error. */
static void fencing_tokens(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, misbehave("fenced", 1), "alice", NULL, NULL);

    assert_non_null(a->m->xFence);
    assert_int_equal(a->m->xLock(a, "hotel:1:night:2026-01-20"), OVS_OK);
    assert_int_equal(a->m->xLock(a, "hotel:1:night:2026-01-21"), OVS_OK);
    assert_int_equal(a->m->xFence(a, "hotel:1:night:2026-01-20"), 1);
    assert_int_equal(a->m->xFence(a, "hotel:1:night:2026-01-21"), 2);
    assert_int_equal(a->m->xUnlock(a, "hotel:1:night:2026-01-20"), OVS_OK);
    assert_int_equal(a->m->xFence(a, "hotel:1:night:2026-01-20"), -1);
    assert_int_equal(a->m->xFence(a, "hotel:1:night:2026-01-21"), 2);
    assert_int_equal(f->broken, 0);

    ovs_strategy *b = open_as(f, misbehave("no-token", 1), "bob", NULL, NULL);
    assert_int_equal(b->m->xLock(b, "sku:76"), OVS_ERR_IO);
    assert_int_equal(f->broken, 1);
    assert_non_null(strstr(f->broken_text, "without a token"));
}

/* An honest unknown is the request's outcome and nothing more: no run error, and the
 * adapter is still there for the next request. */
static void honest_unknown_is_a_result(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, misbehave("honest-unknown", 0), "alice", NULL, NULL);

    assert_int_equal(a->m->xLock(a, "sku:77"), OVS_ERR_IO);
    assert_string_equal(a->errstr, "redis timed out after SET");
    assert_int_equal(a->m->xLock(a, "sku:77"), OVS_ERR_IO);
    assert_int_equal(f->broken, 0);
}

/* A whole operation: the table keeps its stock in Redis (seeded by xPrepare) and sells
 * through the write-back queue; an ok hands the order over, a refused (sold out) is a
 * clean no and no protocol error, and neither is taken on trust (see the cell test). */
static void whole_operation_replies(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    const ovs_strategy_methods *ok = whole("ok"), *no = whole("refused-lock");
    ovs_request r = { .sku = 1 };

    assert_null(ok->xLock);
    assert_int_equal(OVS_STRATEGY_FIELD(ok, redis_stock, 0), 1);
    assert_true(ok->xPrepare != NULL);
    sold_count = 0;
    ovs_strategy *a = open_as(f, ok, "alice", NULL, NULL);
    assert_int_equal(a->m->xExecute(a, &r, 17, 0), OVS_OK);
    assert_int_equal(sold_count, 1);
    ovs_strategy *b = open_as(f, no, "bob", NULL, NULL);
    assert_int_equal(b->m->xExecute(b, &r, 18, 0), OVS_REFUSED);
    assert_string_equal(b->errstr, "no");
    assert_int_equal(sold_count, 1);
    assert_int_equal(f->broken, 0);
}

/* A whole operation on bookings: the adapter is told the workload at init and gets a
 * book with the stay's hotel, room, half-open dates, guest and think time as PROTOCOL.md
 * has them (echo-book refuses, its error the fields as it read them); an ok hands the
 * booking to the write-back queue, a refusal hands over nothing. */
static void whole_operation_books(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_request r = { .hotel = 3, .room = 101 };

    assert_int_equal(ovs_parse_date("2026-01-20", &r.check_in), 0);
    assert_int_equal(ovs_parse_date("2026-01-22", &r.check_out), 0);
    sold_count = 0;
    ovs_strategy *a = open_in(f, whole("echo-book"), "alice", NULL, NULL, OVS_BOOKING);
    assert_int_equal(a->m->xExecute(a, &r, 7, 3 * OVS_NS_PER_MS), OVS_REFUSED);
    assert_string_equal(a->errstr, "book hotel=3 room=101 check_in=2026-01-20"
                                   " check_out=2026-01-22 guest=7 think_ms=3 workload=booking");
    assert_int_equal(sold_count, 0);
    ovs_strategy *b = open_in(f, whole("ok"), "bob", NULL, NULL, OVS_BOOKING);
    assert_int_equal(b->m->xExecute(b, &r, 8, 0), OVS_OK);
    assert_int_equal(sold_count, 1);
    assert_int_equal(f->broken, 0);
}

/* An adapter that ignores the end of its input is killed after its grace period, and
 * reaped: xClose returns within it. */
static void close_kills_a_lingering_adapter(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    ovs_strategy *a = open_as(f, misbehave("linger", 0), "alice", NULL, NULL);
    pid_t pid = newest_adapter();

    assert_int_equal(a->m->xLock(a, "sku:78"), OVS_OK);
    int64_t t0 = ovs_now_ns();
    a->m->xClose(a);
    int64_t took = ms_since(t0);
    free(a);
    f->n_inst--;
    assert_true(took >= 1900 && took < 3000);
    /* Reaped: no longer our child, and gone from /proc. */
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(proc_state(pid), 0);
}

/* The adapter dies with the harness: a process that opened an instance is killed with
 * SIGKILL, which it cannot handle, and its adapter must be gone (reaped by whoever
 * inherits it, or a zombie) within a bounded wait. The adapter is one that ignores the
 * end of its input, so only the kernel's kill (PR_SET_PDEATHSIG) can have ended it. */
static void dies_with_the_harness(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    int fds[2];
    pid_t harness, adapter = -1;

    const ovs_strategy_methods *m = misbehave("linger", 0); /* defined before the fork */

    assert_int_equal(pipe(fds), 0);
    harness = fork();
    assert_true(harness >= 0);
    if (harness == 0) {
        /* The stand-in for the harness: no cmocka here, only _exit. */
        ovs_params p;
        ovs_env env = { .workload = OVS_INVENTORY, .param = &p,
                        .redis = ovs_fleet_endpoints(g.fleet), .n_redis = 1,
                        .client_name = "doomed", .files_dir = f->dir };
        ovs_strategy *s = calloc(1, m->size);
        ovs_params_defaults(m, &p);
        close(fds[0]);
        if (s == NULL)
            _exit(1);
        s->m = m;
        s->env = &env;
        if (m->xOpen(s, &env) != OVS_OK)
            _exit(2);
        /* Its pid is the only child of this process. */
        char path[64];
        int pid = -1;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)getpid(),
                 (int)getpid());
        FILE *c = fopen(path, "r");
        if (c == NULL || fscanf(c, "%d", &pid) != 1)
            _exit(3);
        if (write(fds[1], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
            _exit(4);
        pause();
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &adapter, sizeof(adapter)), (ssize_t)sizeof(adapter));
    close(fds[0]);
    assert_true(adapter > 0);
    assert_true(strchr("SR", proc_state(adapter)) != NULL);
    assert_int_equal(kill(harness, SIGKILL), 0);
    assert_int_equal(waitpid(harness, NULL, 0), harness);
    int64_t t0 = ovs_now_ns();
    char st = proc_state(adapter);
    while ((st != 0 && st != 'Z') && ms_since(t0) < 2000) {
        ovs_sleep_ns(10 * OVS_NS_PER_MS);
        st = proc_state(adapter);
    }
    print_message("adapter %d state after the harness died: %c (%lld ms)\n", (int)adapter,
                  st ? st : '-', (long long)ms_since(t0));
    if (st != 0 && st != 'Z')
        kill(adapter, SIGKILL); /* the failure is reported; leave nothing running */
    assert_true(st == 0 || st == 'Z');
}

/* ---- through the engine ------------------------------------------------------------------- */

typedef struct cell_run {
    ovs_cell_result out;
    int64_t events, pauses, pause_ms, not_owner;
    char status[16], error[512];
    char timeline[2048]; /* the run's events, one a line, for a failure to show */
} cell_run;

static void scalar(sqlite3 *db, const char *sql, int64_t run, int64_t *v)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, run);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
}

/* One cell of sc with m under params, recorded in a results database in f->dir; what the
 * database says of it. */
static void run_cell(fixture *f, const ovs_scenario *sc, const ovs_strategy_methods *m,
                     const char *params, cell_run *cr)
{
    char path[600], err[256];
    ovs_results *db;
    ovs_cell cell = { .sc = sc, .m = m, .shop_dir = f->dir };
    sqlite3_stmt *st;

    memset(cr, 0, sizeof(*cr));
    ovs_scenario_params_for(sc, m, &cell.params);
    if (params && ovs_params_set_list(m, &cell.params, params, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    snprintf(path, sizeof(path), "%s/results.db", f->dir);
    db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL)
        fail_msg("results: %s", err);
    assert_int_equal(ovs_cell_run(&cell, db, &cr->out), 0);
    assert_true(cr->out.run_id > 0);
    scalar(db->db, "SELECT count(*) FROM events WHERE run = ?", cr->out.run_id, &cr->events);
    scalar(db->db, "SELECT count(*) FROM events WHERE run = ? AND op = 'node' AND detail "
           "LIKE 'process stopped%'", cr->out.run_id, &cr->pauses);
    scalar(db->db, "SELECT coalesce(max(end_ns - start_ns), 0) / 1000000 FROM events WHERE "
           "run = ? AND op = 'node' AND detail LIKE 'process stopped%'", cr->out.run_id,
           &cr->pause_ms);
    scalar(db->db, "SELECT count(*) FROM events WHERE run = ? AND op = 'release' AND "
           "outcome = 'fail' AND detail = 'not owner'", cr->out.run_id, &cr->not_owner);
    assert_int_equal(sqlite3_prepare_v2(db->db, "SELECT status, coalesce(error, '') FROM "
                                        "runs WHERE id = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, cr->out.run_id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(cr->status, sizeof(cr->status), "%s", sqlite3_column_text(st, 0));
    snprintf(cr->error, sizeof(cr->error), "%s", sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db->db, "SELECT client, op, coalesce(key, ''), "
                                        "(start_ns - (SELECT min(start_ns) FROM events WHERE "
                                        "run = ?1)) / 1000, (end_ns - start_ns) / 1000, outcome, "
                                        "coalesce(detail, '') FROM events WHERE run = ?1 ORDER "
                                        "BY start_ns", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, cr->out.run_id);
    for (size_t used = 0; sqlite3_step(st) == SQLITE_ROW && used < sizeof(cr->timeline);) {
        int n = snprintf(cr->timeline + used, sizeof(cr->timeline) - used,
                         "  c%d %s %s +%lldus %lldus %s %s\n", sqlite3_column_int(st, 0),
                         sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                         (long long)sqlite3_column_int64(st, 3),
                         (long long)sqlite3_column_int64(st, 4), sqlite3_column_text(st, 5),
                         sqlite3_column_text(st, 6));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    sqlite3_finalize(st);
    ovs_results_close(db);
}

static const ovs_strategy_methods *registered(const ovs_strategy_methods *m)
{
    char err[256];
    if (ovs_strategy_find(m->name) == NULL && ovs_strategy_register(m, err, sizeof(err)) != 0)
        fail_msg("register %s: %s", m->name, err);
    return m;
}

/* The shipped definitions of strategies/, as the command line registers them: the shipped
 * scenarios name them all. */
static void register_shipped(void)
{
    char dir[600], err[700];
    snprintf(dir, sizeof(dir), "%s/strategies", g.source);
    if (ovs_strategy_find("python-setnx") == NULL &&
        ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0)
        fail_msg("%s", err);
}

/* The shipped scenario, with the shipped python adapter at the lease setnx has there: the same
 * verdict as setnx (unsafe: Alice's stop outlives her lease, Bob sells the last unit
 * again), her stop of the process on the timeline and her release finding the lock gone. */
static void python_setnx_fails_the_process_pause_like_setnx(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    register_shipped();
    const ovs_strategy_methods *py = ovs_strategy_find("python-setnx");
    char path[600], err[256];
    ovs_scenario sc;
    cell_run setnx, adapter;

    snprintf(path, sizeof(path), "%s/scenarios/ttl-expiry-process-pause.ini", g.source);
    if (ovs_scenario_load(path, &sc, err, sizeof(err)) != 0 ||
        ovs_scenario_resolve(&sc, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    run_cell(f, &sc, ovs_strategy_find("setnx"), NULL, &setnx);
    run_cell(f, &sc, py, "ttl=200", &adapter);
    print_message("setnx: %s, %s\npython-setnx: %s, %s %s\n", setnx.status,
                  setnx.out.figure, adapter.status, adapter.out.figure, adapter.error);
    if (adapter.pauses != 1 || adapter.out.safe != setnx.out.safe)
        print_message("python-setnx's timeline:\n%s", adapter.timeline);
    assert_int_equal(setnx.out.status, OVS_RUN_OK);
    assert_int_equal(adapter.out.status, OVS_RUN_OK);
    assert_string_equal(adapter.status, "ok");
    assert_int_equal(setnx.out.safe, 0);
    assert_int_equal(adapter.out.safe, setnx.out.safe);
    assert_int_equal(adapter.out.oversold, setnx.out.oversold);
    assert_int_equal(adapter.pauses, 1);
    assert_true(adapter.pause_ms >= 700);
    assert_int_equal(adapter.not_owner, 1);
    ovs_scenario_free(&sc);
}

static const char two_buyers[] =
    "[scenario]\n"
    "name = adapter-breaks\n"
    "description = Two buyers through an adapter that answers garbage.\n"
    "workload = inventory\n"
    "seed = 3\n"
    "stock = 1\n"
    "[client alice]\n"
    "start = 0ms\n"
    "request = buy sku=1\n"
    "[client bob]\n"
    "start = 20ms\n"
    "request = buy sku=1\n";

/* A run whose adapter breaks the protocol is an error, not a verdict: the cell records
 * it with the message, and its events are in the database with the broken request
 * unknown. */
static void broken_adapter_makes_the_run_an_error(void **state)
{
    fixture *f = *state;
    REQUIRE_ADAPTERS();
    const ovs_strategy_methods *m = registered(misbehave("garbage", 0));
    char err[256];
    ovs_scenario sc;
    cell_run cr;

    if (ovs_scenario_parse("adapter-breaks.ini", two_buyers, &sc, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    run_cell(f, &sc, m, NULL, &cr);
    print_message("status %s: %s\n", cr.status, cr.error);
    assert_int_equal(cr.out.status, OVS_RUN_ERROR);
    assert_string_equal(cr.status, "error");
    assert_non_null(strstr(cr.error, "adapter misbehave-garbage, client "));
    assert_non_null(strstr(cr.error, "'lock acquired, probably'"));
    assert_non_null(strstr(cr.error, "stderr: "));
    assert_non_null(strstr(cr.error, "misbehave: got lock id 1"));
    assert_string_equal(cr.out.error, cr.error);
    assert_true(cr.events >= 4); /* two requests and their acquires at least */
    ovs_scenario_free(&sc);
}

static const char three_buyers[] =
    "[scenario]\n"
    "name = adapter-sells-everything\n"
    "description = Three buyers, one unit, an adapter that says ok to all of them.\n"
    "workload = inventory\n"
    "seed = 5\n"
    "stock = 1\n"
    "[crowd]\n"
    "buyers = 3\n"
    "arrival = burst\n"
    "workers = 3\n"
    "request = buy sku=1\n";

/* The three buyers of one unit through whole-operation adapter m, judged by the shop's
 * rows, not by its answers: three orders for one unit, unsafe. */
static void three_orders_for_one_unit(fixture *f, const ovs_strategy_methods *m)
{
    char err[256];
    ovs_scenario sc;
    cell_run cr;

    if (ovs_scenario_parse("adapter-sells.ini", three_buyers, &sc, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    run_cell(f, &sc, m, NULL, &cr);
    print_message("status %s: %s %s\n", cr.status, cr.out.figure, cr.error);
    assert_int_equal(cr.out.status, OVS_RUN_OK);
    assert_int_equal(cr.out.safe, 0);
    assert_int_equal(cr.out.oversold, 2);
    ovs_scenario_free(&sc);
}

/* An adapter that claims safety and says ok to every buyer, its sales queued by the
 * harness's write-back. */
static void whole_adapter_is_judged_by_the_shop(void **state)
{
    REQUIRE_ADAPTERS();
    three_orders_for_one_unit(*state, registered(whole("ok")));
}

/* With shop = own the adapter writes the orders itself, to the shop init names; the
 * harness queues nothing and still finds the three orders in the shop's rows. */
static void own_shop_adapter_is_judged_by_the_shop(void **state)
{
    REQUIRE_ADAPTERS();
    const ovs_strategy_methods *m = registered(whole("own-shop"));

    assert_true(m->xPrepare == NULL); /* no stock in Redis: the adapter's shop is SQL */
    three_orders_for_one_unit(*state, m);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(python_lock_is_a_real_key),
        T(python_second_client_is_busy),
        T(python_release_after_expiry_is_not_ours),
        T(freeze_stops_the_process_group),
        T(crash_mid_request),
        T(garbage_line),
        T(never_answers),
        T(unknown_type),
        T(wrong_id),
        T(refused_lock),
        T(exits_at_init),
        T(command_that_does_not_run),
        T(fencing_tokens),
        T(honest_unknown_is_a_result),
        T(whole_operation_replies),
        T(whole_operation_books),
        T(close_kills_a_lingering_adapter),
        T(dies_with_the_harness),
        T(python_setnx_fails_the_process_pause_like_setnx),
        T(broken_adapter_makes_the_run_an_error),
        T(whole_adapter_is_judged_by_the_shop),
        T(own_shop_adapter_is_judged_by_the_shop),
    };
#undef T
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("adapter", tests, group_setup, group_teardown);
}
