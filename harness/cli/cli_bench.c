/* cli_bench.c - `oversell bench`: how fast the harness and each strategy go (SPEC §11).
 *
 * Everything is measured in one run, against servers the harness starts on loopback, so
 * the figures compare on one machine at one moment. In the order it is done:
 *
 *  1. the flash sale (flash-sale.ini from the scenario directory, with its strategies and
 *     parameters, as the matrix runs it). First, so that the peak resident set read right
 *     after it is the flash sale's and not that of a later phase;
 *  2. the ceiling: C threads, one connection each, running lua-decr's own check-and-
 *     decrement script by EVALSHA through the harness's client (ovs_redis_eval) in a tight
 *     loop, on a stock key set too high to run out;
 *  3. redis-benchmark's EVALSHA rate with the same script, key, server and connection
 *     count, when redis-benchmark is installed (spawned directly, no shell);
 *  4. every registered strategy through the real runner, on a hot SKU and on many SKUs: a
 *     burst crowd with stock for every buyer and no think time, recorded in the output
 *     directory's results.db like any other run;
 *  5. what recording costs: lua-decr on the hot SKU with and without request-path events,
 *     alternated, medians compared.
 *
 * The report (stdout and OUT/bench.md) sets the figures against the targets. The figures
 * are timings of a shared machine: the test suite checks that the command works and what
 * the report contains, never a number in it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "engine/cell.h"
#include "engine/checker.h"
#include "engine/plan.h"
#include "cli/cli.h"
#include "infra/fleet.h"
#include "ovs_config.h"
#include "engine/recorder.h"
#include "locks/redis_conn.h"
#include "locks/redis_stock.h"
#include "engine/runner.h"
#include "core/util.h"

#define BENCH_KEY "stock:1"
/* The ceiling's stock: far above any --ops, and exact in Lua's doubles (< 2^53). */
#define BENCH_STOCK "1000000000000"
#define BENCH_MANY_SKUS 1000
/* Recording cost: this many runs with events and as many without, alternated. */
#define BENCH_REC_PAIRS 7
#define BENCH_CONNECT_MS 1000
#define BENCH_COMMAND_MS 5000
#define BENCH_MAX_CONNECTIONS 256
/* What the targets of SPEC §11 are stated for. */
#define BENCH_TARGET_BUYERS 10000
#define BENCH_TARGET_RSS_KIB (64L * 1024)

typedef struct bench_opts {
    int connections;           /* C: ceiling threads, redis-benchmark -c, runner workers */
    long long ops;             /* ceiling and redis-benchmark operations, in all */
    int buyers;                /* buyers of every strategy run (and of the flash sale when
                                  given on the command line) */
    int buyers_given;          /* --buyers was given */
    const char *out_dir;
    const char *scenarios_dir;
    const char *redis_server;  /* NULL: found on PATH */
    int check;                 /* exit 1 when a target is missed */
    int quiet;                 /* do not print the report */
} bench_opts;

/* One strategy run as the results database recorded it. */
typedef struct bench_run {
    const ovs_strategy_methods *m;
    int done;                  /* ovs_cell_run recorded it */
    char status[16];           /* "ok" | "aborted" | "error" */
    char verdict[16];          /* "safe" | "unsafe" | "" */
    char error[256];
    int64_t requests, succeeded, refused, busy, unknown, errors, retries;
    double throughput;         /* requests per second */
    double seconds;            /* t0 to the last client's finish */
    int64_t p50, p99, max;     /* request latency, ns */
    char failure[128];         /* the most frequent failure among its events, if any */
} bench_run;

typedef struct bench_ceiling {
    int ok;
    char error[320];
    long long done;            /* operations answered 1 */
    double seconds, rate;
    ovs_latency lat;
} bench_ceiling;

typedef struct bench_rb {
    int found;                 /* redis-benchmark is on PATH */
    int ok;                    /* it ran and its rate was read */
    char path[512];
    double rate;
    char error[256];
} bench_rb;

typedef struct bench {
    bench_opts o;
    atomic_int *stop;
    int tty;
    ovs_results *db;
    char shops[600];
    char redis_version[64];
    ovs_scenario flash;        /* flash-sale.ini, loaded before anything starts */
    int n_flash;
    bench_run flash_runs[CLI_MAX_STRATEGIES];
    long flash_rss_kib;        /* ru_maxrss right after the flash sale */
    long end_rss_kib;          /* ru_maxrss at the end */
    bench_ceiling ceil;
    bench_rb rb;
    int skus_many;
    int n_strategies;
    bench_run hot[CLI_MAX_STRATEGIES], many[CLI_MAX_STRATEGIES];
    bench_run rec_on[BENCH_REC_PAIRS], rec_off[BENCH_REC_PAIRS];
    int n_rec;
    int failures;              /* runs or measurements that broke */
    int env_fail;              /* the machine could not run something: exit 3 */
    char env_error[640];
} bench;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oversell bench [options]\n"
            "\n"
            "Measures, in one run and against servers it starts on 127.0.0.1:\n"
            "  - the ceiling: lua-decr's check-and-decrement script by EVALSHA in a tight\n"
            "    loop through the harness's own Redis client, one thread per connection;\n"
            "  - redis-benchmark's EVALSHA rate for the same script and connection count\n"
            "    (when redis-benchmark is installed);\n"
            "  - every strategy's throughput and latency p50/p99/max on a hot SKU and on\n"
            "    %d SKUs (a burst of buyers with stock for all, no think time);\n"
            "  - what recording events costs lua-decr;\n"
            "  - the flash sale (flash-sale.ini) with each of its strategies, and the peak\n"
            "    memory after it;\n"
            "and prints a Markdown report against the targets (also in OUT/bench.md). Every\n"
            "run is recorded in OUT/results.db.\n"
            "\n"
            "options:\n"
            "  -c, --connections N      connections, ceiling threads and runner workers\n"
            "                           (default 16)\n"
            "  -n, --ops N              operations of the ceiling and of redis-benchmark\n"
            "                           (default 200000)\n"
            "  -b, --buyers N           buyers per strategy run, and in the flash sale\n"
            "                           (default 10000; the flash sale's file says 10000)\n"
            "  -d, --scenarios DIR      where flash-sale.ini is (default: scenarios)\n"
            "  -o, --out DIR            output directory (default: reports/out/bench); its\n"
            "                           results.db and bench.md are replaced\n"
            "      --check              exit 1 when a target is missed\n"
            "  -q, --quiet              do not print the report\n"
            "      --redis-server PATH  redis-server to start (default: found on PATH)\n"
            "  -h, --help               this help\n"
            "\n"
            "Exit status: 0 ok, 1 a run failed (or, with --check, a target was missed), 2 bad\n"
            "usage, 3 environment failure (no redis-server, no disk), 130 interrupted.\n",
            BENCH_MANY_SKUS);
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option longopts[] = {
        { "connections", required_argument, NULL, 'c' },
        { "ops", required_argument, NULL, 'n' },
        { "buyers", required_argument, NULL, 'b' },
        { "scenarios", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "check", no_argument, NULL, 'C' },
        { "quiet", no_argument, NULL, 'q' },
        { "redis-server", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    long long v;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:n:b:d:o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            if (ovs_parse_int(optarg, 1, BENCH_MAX_CONNECTIONS, &v) != 0) {
                fprintf(stderr, "oversell bench: --connections takes 1 to %d, got '%s'\n",
                        BENCH_MAX_CONNECTIONS, optarg);
                return EXIT_USAGE;
            }
            o->connections = (int)v;
            break;
        case 'n':
            if (ovs_parse_int(optarg, 1, 100000000LL, &o->ops) != 0) {
                fprintf(stderr, "oversell bench: --ops takes 1 to 100000000, got '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'b':
            /* The scenario parser's own bound on buyers. */
            if (ovs_parse_int(optarg, 1, 1000000, &v) != 0) {
                fprintf(stderr, "oversell bench: --buyers takes 1 to 1000000, got '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->buyers = (int)v;
            o->buyers_given = 1;
            break;
        case 'd': o->scenarios_dir = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 'C': o->check = 1; break;
        case 'q': o->quiet = 1; break;
        case 'r': o->redis_server = optarg; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "oversell bench: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (o->scenarios_dir == NULL)
        o->scenarios_dir = cli_default_scenarios();
    return 0;
}

static int stopping(const bench *b)
{
    return atomic_load(b->stop) != 0;
}

static void progress(const bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress only for a person watching: a terminal, not a pipe or a CI log. */
static void progress(const bench *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->tty)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1; /* KiB on Linux */
}

/* ---- strategy runs ------------------------------------------------------------------ */

/* The recorded figures of run id, read back from the results database: the report shows
 * what was recorded, nothing else. */
static int read_run(bench *b, int64_t id, bench_run *out)
{
    static const char sql[] =
        "SELECT status, coalesce(verdict, ''), coalesce(error, ''), requests, succeeded,"
        " refused, busy, unknown, errors, retries, throughput, p50_ns, p99_ns, max_ns,"
        " duration_ns FROM runs WHERE id = ?";
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(b->db->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    snprintf(out->status, sizeof(out->status), "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(out->verdict, sizeof(out->verdict), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(out->error, sizeof(out->error), "%s", (const char *)sqlite3_column_text(st, 2));
    out->requests = sqlite3_column_int64(st, 3);
    out->succeeded = sqlite3_column_int64(st, 4);
    out->refused = sqlite3_column_int64(st, 5);
    out->busy = sqlite3_column_int64(st, 6);
    out->unknown = sqlite3_column_int64(st, 7);
    out->errors = sqlite3_column_int64(st, 8);
    out->retries = sqlite3_column_int64(st, 9);
    out->throughput = sqlite3_column_double(st, 10);
    out->p50 = sqlite3_column_int64(st, 11);
    out->p99 = sqlite3_column_int64(st, 12);
    out->max = sqlite3_column_int64(st, 13);
    out->seconds = (double)sqlite3_column_int64(st, 14) / 1e9;
    rc = 0;
    if (out->errors + out->unknown == 0)
        goto out;
    /* Why requests failed: the step that failed says more than the request itself. */
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(b->db->db,
                           "SELECT op || ': ' || detail FROM events WHERE run = ?"
                           " AND outcome != 'ok' AND coalesce(detail, '') NOT IN ('', 'error')"
                           " GROUP BY op, detail ORDER BY op = 'request', count(*) DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out->failure, sizeof(out->failure), "%s",
                 (const char *)sqlite3_column_text(st, 0));
out:
    sqlite3_finalize(st);
    return rc;
}

/* Run one cell and read back what it recorded. A run that could not happen, or happened
 * and broke, counts as a failure; one the machine could not run at all stops the bench. */
static void run_one(bench *b, const ovs_scenario *sc, const ovs_strategy_methods *m,
                    const ovs_params *p, int no_events, bench_run *out)
{
    ovs_cell cell = {
        .sc = sc,
        .m = m,
        .params = *p,
        .shop_dir = b->shops,
        .redis_server = b->o.redis_server,
        .stop = b->stop,
        .no_events = no_events,
    };
    ovs_cell_result r;

    memset(out, 0, sizeof(*out));
    out->m = m;
    progress(b, "[bench] %s x %s%s ...", sc->name, m->name, no_events ? " (no events)" : "");
    int crc = ovs_cell_run(&cell, b->db, &r);
    if (r.run_id >= 0 && read_run(b, r.run_id, out) == 0)
        out->done = 1;
    else
        snprintf(out->status, sizeof(out->status), "error");
    if (crc == OVS_ERR_ENV) {
        b->env_fail = 1;
        snprintf(b->env_error, sizeof(b->env_error), "%s x %s: %s", sc->name, m->name,
                 r.error);
    } else if (crc != 0 || r.status == OVS_RUN_ERROR) {
        b->failures++;
        fprintf(stderr, "%soversell bench: %s x %s: %s\n", b->tty ? "\n" : "", sc->name,
                m->name, r.error);
    }
    if (out->error[0] == '\0' && r.error[0] != '\0')
        snprintf(out->error, sizeof(out->error), "%s", r.error);
    progress(b, " %.0f req/s (%.1f s)\n", out->throughput, r.seconds);
}

/* An inventory crowd in memory: buyers at once, stock for every one of them, no think
 * time, so a run measures the strategy and not the sale running out. With skus > 1 the
 * buyers are spread over the SKUs (buyer i buys 1 + i % skus). */
static int crowd_scenario(const bench *b, const char *name, int skus, ovs_scenario *sc,
                          char *err, size_t errlen)
{
    char text[1024], spread[96] = "";

    if (skus > 1)
        snprintf(spread, sizeof(spread), "; buyer i buys sku 1 + i %% %d", skus);
    snprintf(text, sizeof(text),
             "[scenario]\n"
             "name = %s\n"
             "description = bench: %d buyers at once on %d SKU%s with stock for all, %d"
             " workers, no think time%s\n"
             "workload = inventory\n"
             "seed = 1\n"
             "skus = %d\n"
             "stock = %d\n"
             "[crowd]\n"
             "buyers = %d\n"
             "arrival = burst\n"
             "workers = %d\n"
             "think = 0\n"
             "request = buy sku=1\n",
             name, b->o.buyers, skus, skus == 1 ? "" : "s", b->o.connections, spread, skus,
             b->o.buyers, b->o.buyers, b->o.connections);
    if (ovs_scenario_parse("<bench>", text, sc, err, errlen) != 0)
        return -1;
    if (ovs_scenario_resolve(sc, err, errlen) != 0) {
        ovs_scenario_free(sc);
        return -1;
    }
    sc->crowd.spread_skus = skus > 1;
    return 0;
}

/* Lock strategies retry fast here. With the seed defaults (3 retries, 200 ms apart) the
 * hot SKU would measure the back-off, not the lock, and most buyers would give up. */
static void fast_retries(const ovs_strategy_methods *m, ovs_params *p)
{
    static const char *const set[][2] = {
        { "retry_count", "1000" }, { "retry_delay", "0.2ms" }, { "retry_jitter", "0.2ms" },
    };
    char err[160];
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++)
            if (strcmp(m->params[i].name, set[k][0]) == 0)
                ovs_params_set(m, p, set[k][0], set[k][1], err, sizeof(err));
}

static void bench_flash(bench *b)
{
    ovs_scenario *sc = &b->flash;
    const ovs_strategy_methods *ms[CLI_MAX_STRATEGIES];
    int n = 0;

    if (sc->n_expect > 0) {
        for (int i = 0; i < sc->n_expect && n < CLI_MAX_STRATEGIES; i++)
            ms[n++] = ovs_strategy_find(sc->expect[i].name); /* resolved: registered */
    } else {
        for (const ovs_strategy_methods *const *m = ovs_strategy_list();
             *m && n < CLI_MAX_STRATEGIES; m++)
            ms[n++] = *m;
    }
    for (int i = 0; i < n && !stopping(b) && !b->env_fail; i++) {
        ovs_params p;
        ovs_scenario_params_for(sc, ms[i], &p);
        run_one(b, sc, ms[i], &p, 0, &b->flash_runs[i]);
        b->n_flash = i + 1;
    }
    b->flash_rss_kib = peak_rss_kib();
}

static void bench_strategies(bench *b)
{
    ovs_scenario hot, many;
    char err[300];
    const ovs_strategy_methods *const *all = ovs_strategy_list();

    b->skus_many = b->o.buyers < BENCH_MANY_SKUS ? b->o.buyers : BENCH_MANY_SKUS;
    if (crowd_scenario(b, "bench-hot", 1, &hot, err, sizeof(err)) != 0)
        goto bad;
    if (crowd_scenario(b, "bench-many", b->skus_many, &many, err, sizeof(err)) != 0) {
        ovs_scenario_free(&hot);
        goto bad;
    }
    for (int i = 0; all[i] && i < CLI_MAX_STRATEGIES && !stopping(b) && !b->env_fail; i++) {
        ovs_params p;
        ovs_params_defaults(all[i], &p);
        fast_retries(all[i], &p);
        run_one(b, &hot, all[i], &p, 0, &b->hot[i]);
        if (stopping(b) || b->env_fail)
            break;
        run_one(b, &many, all[i], &p, 0, &b->many[i]);
        b->n_strategies = i + 1;
    }
    ovs_scenario_free(&hot);
    ovs_scenario_free(&many);
    return;
bad:
    fprintf(stderr, "oversell bench: %s\n", err);
    b->failures++;
}

/* lua-decr on the hot SKU with events recorded and without, alternated (on off, off on,
 * on off, ...) so that a machine that warms up or slows down over the runs does not favour
 * one side. One run of 10,000 buyers lasts a third of a second and varies by several per
 * cent from run to run on a small machine, far more than one event per request costs:
 * hence several pairs and medians, and the report shows every run. */
static void bench_recording(bench *b)
{
    ovs_scenario on, off;
    char err[300];
    ovs_params p;
    const ovs_strategy_methods *m = &ovs_strategy_lua_decr;

    if (crowd_scenario(b, "bench-recording-on", 1, &on, err, sizeof(err)) != 0)
        goto bad;
    if (crowd_scenario(b, "bench-recording-off", 1, &off, err, sizeof(err)) != 0) {
        ovs_scenario_free(&on);
        goto bad;
    }
    ovs_params_defaults(m, &p);
    for (int i = 0; i < BENCH_REC_PAIRS && !stopping(b) && !b->env_fail; i++) {
        int off_first = i % 2 == 1;
        if (off_first)
            run_one(b, &off, m, &p, 1, &b->rec_off[i]);
        run_one(b, &on, m, &p, 0, &b->rec_on[i]);
        if (!off_first && !stopping(b) && !b->env_fail)
            run_one(b, &off, m, &p, 1, &b->rec_off[i]);
        b->n_rec = i + 1;
    }
    ovs_scenario_free(&on);
    ovs_scenario_free(&off);
    return;
bad:
    fprintf(stderr, "oversell bench: %s\n", err);
    b->failures++;
}

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
    const char *const key[1] = { BENCH_KEY };
    int ready;

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

/* The first executable name on $PATH, into buf. 0, or -1 when there is none. */
static int find_on_path(const char *name, char *buf, size_t len)
{
    const char *path = getenv("PATH");

    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    for (;;) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        /* An empty element is the current directory, as for execvp. */
        snprintf(buf, len, "%.*s/%s", n ? (int)n : 1, n ? path : ".", name);
        if (access(buf, X_OK) == 0)
            return 0;
        if (colon == NULL)
            return -1;
        path = colon + 1;
    }
}

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

/* Spawn redis-benchmark (no shell) with its stdout and stderr on a pipe, read everything
 * it prints, and wait for it. Bounded: a benchmark that outlives its deadline, or a
 * SIGINT, ends it with SIGTERM. 0 with *rps, or -1 with err. */
static int run_redis_benchmark(bench *b, const ovs_endpoint *ep, const char *sha, double *rps,
                               char *err, size_t errlen)
{
    extern char **environ;
    char host[64], port[16], clients[16], n[24], shabuf[41], key[] = BENCH_KEY;
    char a_h[] = "-h", a_p[] = "-p", a_c[] = "-c", a_n[] = "-n", a_q[] = "-q",
         a_csv[] = "--csv", a_cmd[] = "EVALSHA", a_one[] = "1", a_name[] = "redis-benchmark";
    char *argv[] = { a_name, a_h, host, a_p, port, a_c, clients, a_n, n, a_q, a_csv,
                     a_cmd, shabuf, a_one, key, NULL };
    char out[8192], sink[4096];
    size_t used = 0;
    int fds[2], status = 0, killed = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    /* Generous: redis-benchmark on a slow machine still does 1,000 EVALSHA a second. */
    int64_t deadline = ovs_now_ns() + (30 + b->o.ops / 1000) * OVS_NS_PER_S;

    snprintf(host, sizeof(host), "%s", ep->host);
    snprintf(port, sizeof(port), "%d", ep->port);
    snprintf(clients, sizeof(clients), "%d", b->o.connections);
    snprintf(n, sizeof(n), "%lld", b->o.ops);
    snprintf(shabuf, sizeof(shabuf), "%s", sha);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        ovs_seterr(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    int src = posix_spawn(&pid, b->rb.path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (src != 0) {
        close(fds[0]);
        ovs_seterr(err, errlen, "%s: %s", b->rb.path, strerror(src));
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
        /* Keep the first 8 KiB; drain the rest so the child never blocks on the pipe. */
        int full = used == sizeof(out) - 1;
        ssize_t k = read(fds[0], full ? sink : out + used,
                         full ? sizeof(sink) : sizeof(out) - 1 - used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (!full)
            used += (size_t)k;
    }
    out[used] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (killed) {
        ovs_seterr(err, errlen, "%s", stopping(b)                ? "interrupted"
                                      : ovs_now_ns() > deadline ? "timed out"
                                                                : "cannot read its output");
        return -1;
    }
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
static void bench_ceiling_phase(bench *b)
{
    ovs_fleet_opts fo = { .nodes = 1, .redis_server = b->o.redis_server };
    ovs_fleet *fleet = NULL;
    ovs_redis r;
    ovs_script s = { .src = ovs_redis_stock_decr_src, .sha = "" };
    redisReply *reply;
    char err[300];

    b->rb.found = find_on_path("redis-benchmark", b->rb.path, sizeof(b->rb.path)) == 0;
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

    ovs_redis_init(&r, ep, BENCH_CONNECT_MS, BENCH_COMMAND_MS);
    int prc = ovs_redis_cmd(&r, &reply, "SET %s %s", BENCH_KEY, BENCH_STOCK);
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

/* ---- the report --------------------------------------------------------------------- */

/* 1234567.8 -> "1,234,568" */
static const char *count(double v, char *buf, size_t len)
{
    char digits[32];
    size_t n, o = 0;
    snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
    n = strlen(digits);
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_ok(const bench_run *r)
{
    return r->done && strcmp(r->status, "ok") == 0;
}

/* (max - min) / median of the throughput of the runs that finished ok, in per cent. */
static double spread(const bench_run *runs, int n, double median)
{
    double lo = 0, hi = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!run_ok(&runs[i]))
            continue;
        if (k == 0 || runs[i].throughput < lo)
            lo = runs[i].throughput;
        if (k == 0 || runs[i].throughput > hi)
            hi = runs[i].throughput;
        k++;
    }
    return median > 0 ? 100.0 * (hi - lo) / median : 0;
}

/* Median throughput of the runs that finished ok; 0 when none did. */
static double median_rate(const bench_run *runs, int n)
{
    double v[BENCH_REC_PAIRS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (run_ok(&runs[i]))
            v[k++] = runs[i].throughput;
    if (k == 0)
        return 0;
    qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The flash sale finished for a strategy: the run completed and every buyer got an
 * answer (sold, sold out, or gave up), none an error. */
static int flash_finished(const bench *b, const bench_run *r)
{
    return run_ok(r) && r->requests == b->flash.crowd.buyers && r->errors == 0 &&
           r->unknown == 0;
}

static void strategy_row(FILE *f, const bench_run *r, const char *skus)
{
    char a[32];
    if (!run_ok(r)) {
        fprintf(f, "| `%s` | %s | %s: %s | | | | | | | |\n", r->m->name, skus, r->status,
                r->error[0] ? r->error : "no figures");
        return;
    }
    fprintf(f, "| `%s` | %s | %s | %.2f | %.2f | %.2f | %lld | %lld | %lld | %s |\n", r->m->name,
            skus, count(r->throughput, a, sizeof(a)), ms(r->p50), ms(r->p99), ms(r->max),
            (long long)r->succeeded, (long long)r->busy, (long long)(r->errors + r->unknown),
            r->verdict);
}

typedef struct bench_verdicts {
    int lua_pass, lua_known;   /* lua-decr vs redis-benchmark */
    double lua_rate, lua_pct;
    int rec_pass, rec_known;
    double rec_on, rec_off, rec_cost;
    double rec_spread;         /* largest (max - min) / median of either side, in % */
    int flash_pass, flash_finished;
    int mem_pass;
    double flash_mib, end_mib;
    int misses;
} bench_verdicts;

static void judge(const bench *b, bench_verdicts *v)
{
    memset(v, 0, sizeof(*v));
    v->lua_rate = median_rate(b->rec_on, b->n_rec);
    v->lua_known = b->rb.ok && v->lua_rate > 0;
    if (v->lua_known) {
        v->lua_pct = 100.0 * v->lua_rate / b->rb.rate;
        v->lua_pass = v->lua_pct >= 90.0;
    }
    v->rec_on = v->lua_rate;
    v->rec_off = median_rate(b->rec_off, b->n_rec);
    v->rec_known = v->rec_on > 0 && v->rec_off > 0;
    if (v->rec_known) {
        v->rec_cost = 100.0 * (v->rec_off - v->rec_on) / v->rec_off;
        v->rec_pass = v->rec_cost < 10.0;
        v->rec_spread = fmax(spread(b->rec_on, b->n_rec, v->rec_on),
                             spread(b->rec_off, b->n_rec, v->rec_off));
    }
    for (int i = 0; i < b->n_flash; i++)
        v->flash_finished += flash_finished(b, &b->flash_runs[i]);
    v->flash_pass = b->n_flash > 0 && v->flash_finished == b->n_flash;
    v->flash_mib = (double)b->flash_rss_kib / 1024.0;
    v->end_mib = (double)b->end_rss_kib / 1024.0;
    v->mem_pass = b->flash_rss_kib > 0 && b->flash_rss_kib < BENCH_TARGET_RSS_KIB;
    /* A target that could not be measured (no redis-benchmark) is not a miss. */
    v->misses = (v->lua_known && !v->lua_pass) + (!v->rec_known || !v->rec_pass) +
                !v->flash_pass + !v->mem_pass;
}

static const char *pass(int ok)
{
    return ok ? "PASS" : "MISS";
}

static void write_report(const bench *b, const bench_verdicts *v, FILE *f)
{
    const bench_opts *o = &b->o;
    char a[32], c[32], buyers[32], ops[32], at[96] = "";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    count(o->buyers, buyers, sizeof(buyers));
    count((double)o->ops, ops, sizeof(ops));
    fprintf(f, "# oversell bench\n\n");
    fprintf(f,
            "%ld CPU%s, Redis %s, SQLite %s, oversell %s. %d connections; %s ceiling"
            " operations; %s buyers per strategy run. Every server was started by the"
            " harness on 127.0.0.1; every strategy run is recorded in `%s/results.db`"
            " (`oversell report %s/results.db` turns it into the usual reports).\n\n",
            cpus, cpus == 1 ? "" : "s", b->redis_version[0] ? b->redis_version : "?",
            sqlite3_libversion(), OVS_VERSION, o->connections, ops, buyers, o->out_dir,
            o->out_dir);

    fprintf(f, "## Ceiling\n\n");
    fprintf(f,
            "The command lua-decr sells with (EVALSHA of its check-and-decrement script on"
            " `%s`, set too high to run out), %s times over %d connections, on one"
            " server of its own.\n\n",
            BENCH_KEY, ops, o->connections);
    fprintf(f, "| client | ops/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n");
    if (b->ceil.ok)
        fprintf(f,
                "| the harness's client (`ovs_redis_eval`), one thread per connection | %s |"
                " %.3f | %.3f | %.3f |\n",
                count(b->ceil.rate, a, sizeof(a)), ms(b->ceil.lat.p50), ms(b->ceil.lat.p99),
                ms(b->ceil.lat.max));
    else
        fprintf(f, "| the harness's client (`ovs_redis_eval`) | error: %s | | | |\n",
                b->ceil.error);
    if (b->rb.ok)
        fprintf(f, "| `redis-benchmark -c %d -n %lld EVALSHA` | %s | | | |\n", o->connections,
                o->ops, count(b->rb.rate, a, sizeof(a)));
    else if (b->rb.found)
        fprintf(f, "| `redis-benchmark` | error: %s | | | |\n", b->rb.error);
    else
        fprintf(f, "| `redis-benchmark` | not found on PATH (Debian: `redis-tools`) | | | |\n");
    fprintf(f, "\n");
    if (b->rb.ok && b->ceil.ok)
        fprintf(f, "- the harness's client loop: %.0f %% of redis-benchmark's rate\n",
                100.0 * b->ceil.rate / b->rb.rate);
    if (v->lua_rate > 0)
        fprintf(f,
                "- lua-decr through the runner (hot SKU, events recorded, median of %d runs,"
                " each sale also queued for SQL): %s req/s\n",
                b->n_rec, count(v->lua_rate, a, sizeof(a)));
    if (v->lua_known)
        fprintf(f, "- lua-decr: %.0f %% of redis-benchmark's rate (target: within 10 %%)\n",
                v->lua_pct);
    fprintf(f, "\n");

    fprintf(f, "## Strategies\n\n");
    fprintf(f,
            "%s buyers arrive at once with stock for every one of them, %d workers, no think"
            " time. **hot**: every buyer buys SKU 1. **many**: buyer i buys SKU 1 + i %% %d."
            " Lock strategies retry fast here (retry_count 1000, retry_delay 0.2 ms,"
            " retry_jitter 0.2 ms) so that contention resolves in fractions of a millisecond"
            " rather than in 200 ms back-offs; every other parameter is its default. req/s:"
            " requests answered per second, from the release of the workers to the last"
            " answer; latency: one request, from its start to its answer.\n\n",
            buyers, o->connections, b->skus_many);
    fprintf(f, "| strategy | SKUs | req/s | p50 ms | p99 ms | max ms | sold | gave up |"
               " errors | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < b->n_strategies; i++) {
        char many[16];
        snprintf(many, sizeof(many), "many (%d)", b->skus_many);
        strategy_row(f, &b->hot[i], "hot (1)");
        strategy_row(f, &b->many[i], many);
    }
    fprintf(f, "\nsold, gave up (lock not taken after every retry) and errors count requests;"
               " the verdict is the checker's, as in any run: `none` lets critical sections"
               " overlap even when no unit is oversold.\n");
    for (int i = 0; i < 2 * b->n_strategies; i++) {
        const bench_run *r = i % 2 ? &b->many[i / 2] : &b->hot[i / 2];
        if (run_ok(r) && r->errors + r->unknown > 0)
            fprintf(f, "\n- `%s` on %s: %s request%s failed%s%s%s", r->m->name,
                    i % 2 ? "many SKUs" : "the hot SKU",
                    count((double)(r->errors + r->unknown), a, sizeof(a)),
                    r->errors + r->unknown == 1 ? "" : "s", r->failure[0] ? " (" : "",
                    r->failure, r->failure[0] ? ")" : "");
    }
    fprintf(f, "\n\n");

    fprintf(f, "## What recording costs\n\n");
    fprintf(f,
            "lua-decr on the hot SKU, %d runs with every request-path event recorded and %d"
            " with none (counters and latencies only), alternated. The results database is"
            " written after the clients finish, so it is outside the timed part either"
            " way.\n\n",
            b->n_rec, b->n_rec);
    fprintf(f, "| events | req/s of each run | median req/s |\n|---|---|---:|\n");
    for (int side = 0; side < 2; side++) {
        const bench_run *runs = side == 0 ? b->rec_on : b->rec_off;
        fprintf(f, "| %s | ", side == 0 ? "recorded" : "not recorded");
        for (int i = 0; i < b->n_rec; i++)
            fprintf(f, "%s%s", i ? ", " : "",
                    run_ok(&runs[i]) ? count(runs[i].throughput, a, sizeof(a)) : "error");
        fprintf(f, " | %s |\n", count(side == 0 ? v->rec_on : v->rec_off, c, sizeof(c)));
    }
    if (v->rec_known)
        fprintf(f,
                "\nCost: %.1f %% of throughput (target: under 10 %%). Runs of one kind differ"
                " among themselves by up to %.0f %% of their median, so a difference of a few"
                " per cent either way is noise.\n",
                v->rec_cost, v->rec_spread);
    fprintf(f, "\n");

    fprintf(f, "## Flash sale\n\n");
    fprintf(f,
            "`%s` with its strategies and parameters, as the matrix runs it%s.\n\n",
            b->flash.path,
            o->buyers_given ? ", with --buyers for its buyer count" : "");
    fprintf(f, "| strategy | finished | answered | sold | gave up | req/s | p99 ms | seconds |"
               " verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < b->n_flash; i++) {
        const bench_run *r = &b->flash_runs[i];
        if (!run_ok(r)) {
            fprintf(f, "| `%s` | no: %s %s | | | | | | | |\n", r->m->name, r->status,
                    r->error);
            continue;
        }
        fprintf(f, "| `%s` | %s | %lld of %d | %lld | %lld | %s | %.2f | %.2f | %s |\n",
                r->m->name, flash_finished(b, r) ? "yes" : "no", (long long)r->requests,
                b->flash.crowd.buyers, (long long)r->succeeded, (long long)r->busy,
                count(r->throughput, a, sizeof(a)), ms(r->p99), r->seconds, r->verdict);
    }
    fprintf(f,
            "\nPeak resident set after the flash sale: %.1f MiB (getrusage ru_maxrss of the"
            " harness, servers excluded; at the end of the whole bench: %.1f MiB).\n\n",
            v->flash_mib, v->end_mib);

    if (b->flash.crowd.buyers != BENCH_TARGET_BUYERS)
        snprintf(at, sizeof(at), " (measured at %s buyers; the target is for %s)",
                 count(b->flash.crowd.buyers, a, sizeof(a)),
                 count(BENCH_TARGET_BUYERS, c, sizeof(c)));
    fprintf(f, "## Targets\n\n");
    fprintf(f, "| target | measured | result |\n|---|---|---|\n");
    if (v->lua_known)
        fprintf(f,
                "| lua-decr within 10 %% of redis-benchmark's EVALSHA rate at %d connections |"
                " %.0f %% (%s vs %s req/s) | %s |\n",
                o->connections, v->lua_pct, count(v->lua_rate, a, sizeof(a)),
                count(b->rb.rate, c, sizeof(c)), pass(v->lua_pass));
    else
        fprintf(f,
                "| lua-decr within 10 %% of redis-benchmark's EVALSHA rate at %d connections |"
                " not measured: %s | n/a |\n",
                o->connections,
                !b->rb.found ? "redis-benchmark not found on PATH"
                : !b->rb.ok  ? "redis-benchmark failed"
                             : "lua-decr did not run");
    if (v->rec_known)
        fprintf(f, "| recording costs under 10 %% of throughput | %.1f %% | %s |\n", v->rec_cost,
                pass(v->rec_pass));
    else
        fprintf(f, "| recording costs under 10 %% of throughput | not measured: a run failed |"
                   " MISS |\n");
    fprintf(f, "| the %s-buyer flash sale finishes for every strategy | %d of %d%s | %s |\n",
            count(BENCH_TARGET_BUYERS, a, sizeof(a)), v->flash_finished, b->n_flash, at,
            pass(v->flash_pass));
    fprintf(f, "| peak memory under 64 MiB for %s buyers | %.1f MiB%s | %s |\n",
            count(BENCH_TARGET_BUYERS, a, sizeof(a)), v->flash_mib, at, pass(v->mem_pass));
    fprintf(f, "\nNot measured here: the default gate under 60 s on 2 cores (time"
               " `oversell gate`).\n");
}

static int write_outputs(const bench *b, const bench_verdicts *v)
{
    char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/bench.md", b->o.out_dir);
    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "oversell bench: %s: %s\n", path, strerror(errno));
        return EXIT_ENV;
    }
    write_report(b, v, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "oversell bench: %s: %s\n", path, strerror(errno));
        return EXIT_ENV;
    }
    if (!b->o.quiet)
        write_report(b, v, stdout);
    return 0;
}

/* ---- the command -------------------------------------------------------------------- */

int cli_bench(int argc, char **argv)
{
    bench *b = calloc(1, sizeof(*b));
    char path[700], server[512], err[600];
    int rc;

    if (b == NULL)
        return EXIT_ENV;
    b->o.connections = 16;
    b->o.ops = 200000;
    b->o.buyers = BENCH_TARGET_BUYERS;
    b->o.out_dir = "reports/out/bench";
    rc = parse_opts(argc, argv, &b->o);
    if (rc != 0) {
        free(b);
        return rc < 0 ? 0 : rc;
    }

    /* Input first: nothing is started or written before it is all good. */
    snprintf(path, sizeof(path), "%s/flash-sale.ini", b->o.scenarios_dir);
    if (ovs_scenario_load(path, &b->flash, err, sizeof(err)) != 0 ||
        ovs_scenario_resolve(&b->flash, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell bench: %s\n", err);
        ovs_scenario_free(&b->flash);
        free(b);
        return EXIT_USAGE;
    }
    if (b->o.buyers_given)
        b->flash.crowd.buyers = b->o.buyers;
    if (b->o.redis_server == NULL && ovs_redis_server_path(server, sizeof(server)) != 0) {
        fprintf(stderr, "oversell bench: redis-server not found (install Debian's redis-server"
                        " package, or set OVERSELL_REDIS_SERVER or --redis-server)\n");
        rc = EXIT_ENV;
        goto out;
    }
    if (b->o.redis_server && access(b->o.redis_server, X_OK) != 0) {
        fprintf(stderr, "oversell bench: %s: cannot execute: %s\n", b->o.redis_server,
                strerror(errno));
        rc = EXIT_ENV;
        goto out;
    }

    snprintf(b->shops, sizeof(b->shops), "%s/shops", b->o.out_dir);
    if (cli_mkdir_p(b->shops) != 0) {
        fprintf(stderr, "oversell bench: %s: %s\n", b->shops, strerror(errno));
        rc = EXIT_ENV;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/results.db", b->o.out_dir);
    cli_remove_db(path);
    b->db = ovs_results_open(path, err, sizeof(err));
    if (b->db == NULL) {
        fprintf(stderr, "oversell bench: %s\n", err);
        rc = EXIT_ENV;
        goto out;
    }
    b->stop = cli_catch_stop();
    b->tty = isatty(STDERR_FILENO);

    bench_flash(b);
    if (!stopping(b) && !b->env_fail)
        bench_ceiling_phase(b);
    if (!stopping(b) && !b->env_fail)
        bench_strategies(b);
    if (!stopping(b) && !b->env_fail)
        bench_recording(b);
    b->end_rss_kib = peak_rss_kib();

    if (b->env_fail) {
        fprintf(stderr, "oversell bench: %s\n", b->env_error);
        rc = EXIT_ENV;
    } else if (stopping(b)) {
        fprintf(stderr, "oversell bench: interrupted; a run in progress is recorded as aborted,"
                        " no report written\n");
        rc = EXIT_INTERRUPTED;
    } else {
        bench_verdicts v;
        judge(b, &v);
        rc = write_outputs(b, &v);
        if (rc == 0 && b->failures > 0)
            rc = EXIT_VERDICT;
        else if (rc == 0 && b->o.check && v.misses > 0) {
            fprintf(stderr, "oversell bench: %d target%s missed\n", v.misses,
                    v.misses == 1 ? "" : "s");
            rc = EXIT_VERDICT;
        }
    }
out:
    ovs_results_close(b->db);
    ovs_scenario_free(&b->flash);
    free(b);
    return rc;
}
