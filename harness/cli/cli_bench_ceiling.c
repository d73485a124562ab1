/* cli_bench_ceiling.c - phases 2 and 3 of `oversell bench`: the ceiling, and
 * redis-benchmark's rate for the same work.
 *
 * The ceiling is C threads, one connection each, running lua-decr's own check-and-
 * decrement script by EVALSHA through the harness's client (ovs_redis_eval) in a tight
 * loop, on a stock key set too high to run out. redis-benchmark then runs the same script
 * on the same key, server and connection count, when it is installed (spawned directly, no
 * shell). Both on one server of their own, started and stopped here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cli/cli_bench.h"
#include "infra/fleet.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "core/util.h"

/* The ceiling's stock: far above any --ops, and exact in Lua's doubles (< 2^53). */
#define BENCH_STOCK "1000000000000"
#define BENCH_CONNECT_MS 1000
#define BENCH_COMMAND_MS 5000

/* ---- the ceiling -------------------------------------------------------------------- */

/* The start gate: a mutex and a condition variable rather than a barrier, so that a
 * thread that failed to start cannot strand the others (as in the runner). */
typedef struct ceil_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;                 /* threads connected (or failed to) */
    int go;                    /* set once every started thread is ready */
} ceil_gate;

typedef struct ceil_worker {
    pthread_t thread;
    ceil_gate *gate;
    const ovs_endpoint *ep;
    atomic_int *stop;
    long long todo;            /* operations this thread runs */
    long long done;            /* answered 1; their latencies are in lat[0..done) */
    long long failed;
    int64_t *lat;
    char error[160];           /* the first failure */
} ceil_worker;

static void *ceil_main(void *arg)
{
    ceil_worker *w = arg;
    ovs_redis r;
    ovs_script s = { .src = ovs_redis_stock_decr_src, .sha = "" };
    char stock[OVS_STOCK_KEY_MAX];
    const char *const key[1] = { stock };
    int ready;

    ovs_stock_key(NULL, BENCH_SKU, stock, sizeof(stock));

    /* Connected and the script loaded before the gate: set-up is no part of the loop. */
    ovs_redis_init(&r, w->ep, BENCH_CONNECT_MS, BENCH_COMMAND_MS);
    ready = ovs_redis_connect(&r) == OVS_OK && ovs_redis_script_load(&r, &s) == OVS_OK;
    if (!ready)
        snprintf(w->error, sizeof(w->error), "%s", r.errstr);
    pthread_mutex_lock(&w->gate->mu);
    w->gate->ready++;
    pthread_cond_broadcast(&w->gate->cv);
    while (!w->gate->go)
        pthread_cond_wait(&w->gate->cv, &w->gate->mu);
    pthread_mutex_unlock(&w->gate->mu);

    for (long long i = 0; ready && i < w->todo; i++) {
        redisReply *reply;
        /* Relaxed: a flag that nothing else is published with; seeing it a few
         * operations late is fine. */
        if (atomic_load_explicit(w->stop, memory_order_relaxed))
            break;
        int64_t t = ovs_now_ns();
        int rc = ovs_redis_eval(&r, &s, 1, 0, key, &reply);
        int64_t e = ovs_now_ns();
        if (rc == OVS_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
            w->lat[w->done++] = e - t;
        } else {
            if (w->failed++ == 0)
                snprintf(w->error, sizeof(w->error), "%s",
                         rc != OVS_OK ? r.errstr : "the script did not sell: stock ran out");
        }
        if (rc == OVS_OK)
            freeReplyObject(reply);
    }
    ovs_redis_close(&r);
    return NULL;
}

static void run_ceiling(bench *b, const ovs_endpoint *ep)
{
    int n = b->o.connections, started = 0;
    ceil_worker *w = calloc((size_t)n, sizeof(*w));
    ceil_gate gate = { .ready = 0, .go = 0 };
    bench_ceiling *c = &b->ceil;
    int64_t t0 = 0;
    long long failed = 0;

    if (w == NULL) {
        snprintf(c->error, sizeof(c->error), "out of memory");
        return;
    }
    pthread_mutex_init(&gate.mu, NULL);
    pthread_cond_init(&gate.cv, NULL);
    for (int i = 0; i < n; i++) {
        w[i].gate = &gate;
        w[i].ep = ep;
        w[i].stop = b->stop;
        w[i].todo = b->o.ops / n + (i < b->o.ops % n);
        w[i].lat = malloc((size_t)(w[i].todo ? w[i].todo : 1) * sizeof(int64_t));
        if (w[i].lat == NULL || pthread_create(&w[i].thread, NULL, ceil_main, &w[i]) != 0) {
            snprintf(c->error, sizeof(c->error), "cannot start ceiling thread %d", i);
            break;
        }
        started++;
    }
    pthread_mutex_lock(&gate.mu);
    while (gate.ready < started)
        pthread_cond_wait(&gate.cv, &gate.mu);
    t0 = ovs_now_ns();
    gate.go = 1;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);
    int64_t t1 = ovs_now_ns();

    size_t total = 0;
    for (int i = 0; i < started; i++)
        total += (size_t)w[i].done;
    int64_t *lat = malloc((total ? total : 1) * sizeof(*lat));
    total = 0;
    for (int i = 0; i < started; i++) {
        if (lat)
            memcpy(lat + total, w[i].lat, (size_t)w[i].done * sizeof(*lat));
        total += (size_t)w[i].done;
        failed += w[i].failed;
        if (c->error[0] == '\0' && w[i].error[0] != '\0')
            snprintf(c->error, sizeof(c->error), "%s", w[i].error);
    }
    if (lat)
        ovs_latency_of(lat, total, &c->lat);
    c->done = (long long)total;
    c->seconds = (double)(t1 - t0) / 1e9;
    c->rate = c->seconds > 0 ? (double)c->done / c->seconds : 0;
    c->ok = started == n && failed == 0 && c->error[0] == '\0' && lat != NULL &&
            c->done == b->o.ops;
    if (!c->ok && c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "%s",
                 stopping(b) ? "interrupted" : "out of memory for latencies");
    free(lat);
    for (int i = 0; i < n; i++)
        free(w[i].lat);
    free(w);
    pthread_mutex_destroy(&gate.mu);
    pthread_cond_destroy(&gate.cv);
}

/* ---- redis-benchmark ---------------------------------------------------------------- */

/* The requests per second on redis-benchmark's CSV line for the command:
 *   "EVALSHA <sha> 1 stock:1","60204.70","0.141",...
 * 0, or -1 when there is no such line. */
static int parse_rps(const char *out, double *rps)
{
    for (const char *line = out; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, "\"EVALSHA", 8) == 0) {
            const char *f = strstr(line, "\",\"");
            char *end;
            if (f != NULL && (nl == NULL || f < nl)) {
                double v = strtod(f + 3, &end);
                if (end != f + 3 && *end == '"' && v > 0) {
                    *rps = v;
                    return 0;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -1;
}

/* Spawn path with argv and envp (no shell), stdin /dev/null, its stdout and stderr on a
 * pipe; keep the first outlen - 1 bytes it prints in out, drain the rest, and wait for it.
 * Bounded: a program that outlives its deadline, or a SIGINT, is ended with SIGTERM. 0
 * with *status (waitpid's), or -1 with err (out then holds what it printed). */
int bench_spawn(const bench *b, const char *path, char *const argv[], char *const envp[],
                int64_t deadline, char *out, size_t outlen, int *status, char *err,
                size_t errlen)
{
    char sink[4096];
    size_t used = 0;
    int fds[2], killed = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;

    *status = 0;
    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0) {
        ovs_seterr(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    int src = posix_spawn(&pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (src != 0) {
        close(fds[0]);
        ovs_seterr(err, errlen, "%s: %s", path, strerror(src));
        return -1;
    }
    for (;;) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        int pr = poll(&pfd, 1, 200);
        if ((pr < 0 && errno != EINTR) || stopping(b) || ovs_now_ns() > deadline) {
            kill(pid, SIGTERM); /* our own child, not yet reaped */
            killed = 1;
            break;
        }
        if (pr <= 0)
            continue;
        /* Keep the first outlen - 1 bytes; drain the rest so the child never blocks. */
        int full = used == outlen - 1;
        ssize_t k = read(fds[0], full ? sink : out + used,
                         full ? sizeof(sink) : outlen - 1 - used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (!full)
            used += (size_t)k;
    }
    out[used] = '\0';
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (killed) {
        ovs_seterr(err, errlen, "%s", stopping(b)                ? "interrupted"
                                      : ovs_now_ns() > deadline ? "timed out"
                                                                : "cannot read its output");
        return -1;
    }
    return 0;
}

/* redis-benchmark's EVALSHA rate with the script, key and connections of the ceiling.
 * 0 with *rps, or -1 with err. */
static int run_redis_benchmark(bench *b, const ovs_endpoint *ep, const char *sha, double *rps,
                               char *err, size_t errlen)
{
    extern char **environ;
    char host[64], port[16], clients[16], n[24], shabuf[41], key[OVS_STOCK_KEY_MAX];
    char a_h[] = "-h", a_p[] = "-p", a_c[] = "-c", a_n[] = "-n", a_q[] = "-q",
         a_csv[] = "--csv", a_cmd[] = "EVALSHA", a_one[] = "1", a_name[] = "redis-benchmark";
    char *argv[] = { a_name, a_h, host, a_p, port, a_c, clients, a_n, n, a_q, a_csv,
                     a_cmd, shabuf, a_one, key, NULL };
    char out[8192];
    int status = 0;
    /* Generous: redis-benchmark on a slow machine still does 1,000 EVALSHA a second. */
    int64_t deadline = ovs_now_ns() + (30 + b->o.ops / 1000) * OVS_NS_PER_S;

    ovs_stock_key(NULL, BENCH_SKU, key, sizeof(key));
    snprintf(host, sizeof(host), "%s", ep->host);
    snprintf(port, sizeof(port), "%d", ep->port);
    snprintf(clients, sizeof(clients), "%d", b->o.connections);
    snprintf(n, sizeof(n), "%lld", b->o.ops);
    snprintf(shabuf, sizeof(shabuf), "%s", sha);
    if (bench_spawn(b, b->rb.path, argv, environ, deadline, out, sizeof(out), &status, err,
                    errlen) != 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || parse_rps(out, rps) != 0) {
        /* Its first line says why ("Could not connect ..."). */
        char *nl = strpbrk(out, "\r\n");
        if (nl)
            *nl = '\0';
        ovs_seterr(err, errlen, "exit status %d, no EVALSHA rate in its output: %.160s",
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out);
        return -1;
    }
    return 0;
}

/* Steps 2 and 3 on one server of their own: the stock key, the script's hash, the
 * harness's loop, then redis-benchmark with the same script, key and connections. */
void bench_ceiling_phase(bench *b)
{
    ovs_fleet_opts fo = { .nodes = 1, .redis_server = b->o.redis_server };
    ovs_fleet *fleet = NULL;
    ovs_redis r;
    ovs_script s = { .src = ovs_redis_stock_decr_src, .sha = "" };
    redisReply *reply;
    char err[300];

    b->rb.found = ovs_find_executable("redis-benchmark", b->rb.path, sizeof(b->rb.path)) == 0;
    int frc = ovs_fleet_start(&fo, &fleet, err, sizeof(err));
    if (frc != 0) {
        if (frc == OVS_ERR_ENV) {
            b->env_fail = 1;
            snprintf(b->env_error, sizeof(b->env_error), "ceiling: %s", err);
        } else {
            b->failures++;
            snprintf(b->ceil.error, sizeof(b->ceil.error), "%s", err);
            fprintf(stderr, "oversell bench: ceiling: %s\n", err);
        }
        return;
    }
    const ovs_endpoint *ep = &ovs_fleet_endpoints(fleet)[0];
    snprintf(b->redis_version, sizeof(b->redis_version), "%s", ovs_fleet_version(fleet));

    char key[OVS_STOCK_KEY_MAX];
    ovs_stock_key(NULL, BENCH_SKU, key, sizeof(key));
    ovs_redis_init(&r, ep, BENCH_CONNECT_MS, BENCH_COMMAND_MS);
    int prc = ovs_redis_cmd(&r, &reply, "SET %s %s", key, BENCH_STOCK);
    if (prc == OVS_OK) {
        freeReplyObject(reply);
        prc = ovs_redis_script_load(&r, &s);
    }
    if (prc != OVS_OK) {
        snprintf(b->ceil.error, sizeof(b->ceil.error), "%s", r.errstr);
        fprintf(stderr, "oversell bench: ceiling: %s\n", r.errstr);
        b->failures++;
        ovs_redis_close(&r);
        ovs_fleet_stop(fleet);
        return;
    }
    ovs_redis_close(&r);

    progress(b, "[bench] ceiling: %lld x EVALSHA over %d connections ...", b->o.ops,
             b->o.connections);
    run_ceiling(b, ep);
    progress(b, " %.0f ops/s\n", b->ceil.rate);
    if (!b->ceil.ok && !stopping(b)) {
        b->failures++;
        fprintf(stderr, "oversell bench: ceiling: %s\n", b->ceil.error);
    }

    if (b->rb.found && !stopping(b)) {
        progress(b, "[bench] redis-benchmark -c %d -n %lld EVALSHA ...", b->o.connections,
                 b->o.ops);
        b->rb.ok = run_redis_benchmark(b, ep, s.sha, &b->rb.rate, b->rb.error,
                                       sizeof(b->rb.error)) == 0;
        progress(b, " %.0f ops/s\n", b->rb.rate);
        if (!b->rb.ok && !stopping(b)) {
            b->failures++;
            fprintf(stderr, "oversell bench: redis-benchmark: %s\n", b->rb.error);
        }
    }
    ovs_fleet_stop(fleet);
}
