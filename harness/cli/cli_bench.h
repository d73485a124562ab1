/* cli_bench.h - what the files of `oversell bench` share: its options, what each phase
 * measured, and the phases. Private to harness/cli/cli_bench*.c.
 *
 * cli_bench.c parses the command line and runs the phases in order; cli_bench_runs.c runs
 * the flash sale, every strategy and recording's cost through the runner;
 * cli_bench_ceiling.c measures the ceiling and redis-benchmark; cli_bench_report.c judges
 * the figures against the targets and writes the report. Each phase fills its part of
 * struct bench; a phase the machine could not run sets env_fail, one that broke counts a
 * failure. */
#ifndef OVS_CLI_BENCH_H
#define OVS_CLI_BENCH_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/keys.h"
#include "engine/checker.h"
#include "engine/recorder.h"

/* The SKU whose stock key (ovs_stock_key) the ceiling sells from. */
#define BENCH_SKU 1
#define BENCH_MANY_SKUS 1000
/* Recording cost: this many runs with events and as many without, alternated (at most;
 * --recording-pairs asks for fewer). */
#define BENCH_REC_PAIRS 7
/* What the targets are stated for: 10,000 buyers within 64 MiB. */
#define BENCH_TARGET_BUYERS 10000
#define BENCH_TARGET_RSS_KIB (64L * 1024)
/* Recording events may cost lua-decr at most this share of its throughput (per cent). */
#define BENCH_RECORDING_MAX_PCT 5.0
/* How long a hot or many load takes new buyers by default (--load-seconds). Every
 * built-in serves 10,000 buyers in a few seconds; a library that live-locks on the hot key
 * (node-redlock keeps a failed attempt's partial locks until their lease ends) would take
 * an hour, and its rate is as clear from the first half minute. */
#define BENCH_LOAD_SECONDS 30
/* The lock library the design notes use, which the built-in locks must keep up with: the
 * shipped adapter of that name (strategies/node-redlock.ini). */
#define BENCH_LIBRARY "node-redlock"

typedef struct bench_opts {
    int connections;           /* C: ceiling threads, redis-benchmark -c, runner workers */
    long long ops;             /* ceiling and redis-benchmark operations, in all */
    int buyers;                /* buyers of every strategy run (and of the flash sale when
                                  given on the command line) */
    int buyers_given;          /* --buyers was given */
    int rec_pairs;             /* recording-cost runs of each kind, 1..BENCH_REC_PAIRS */
    int load_s;                /* a hot or many load takes no new buyer after this long */
    const char *out_dir;
    const char *scenarios_dir;
    const char *redis_server;  /* NULL: found on PATH */
    int check;                 /* exit 1 when a target is missed */
    int quiet;                 /* do not print the report */
    const ovs_shopdb_methods *sql; /* --sql: the shop's back end; NULL: SQLite */
    char sql_url[600];         /* --sql URL: the user's server; "": one the harness starts */
    int n_only;                /* --strategy: measure only these on the hot and many loads */
    const ovs_strategy_methods *only[OVS_MAX_STRATEGIES];
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
    int buyers;                /* the load's buyers; requests counts those served, fewer
                                  when the load's time ran out (bench_opts.load_s) */
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

/* The database's own benchmark tool (pgbench, mariadb-slap) on the statement the shop
 * sells with, at the same connection count, on each load (0: hot row, 1: many rows). */
typedef struct bench_sqltool {
    int found;                 /* the tool is installed */
    char name[32];             /* "pgbench", "mariadb-slap" */
    char path[512];
    char shown[2][640];        /* its command line as run, without the password */
    int ok[2];                 /* it ran, and its figures were read */
    double rate[2];            /* committed transactions per second */
    double lat_ms[2];          /* average transaction latency, ms */
    long long tx[2];           /* transactions asked for */
    long long committed[2];    /* orders in the shop afterwards: transactions committed */
    char error[2][400];
} bench_sqltool;

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
    cli_sql_server server;     /* the SQL server the harness started, if any */
    char sql_url[600];         /* the shop's server (its password inside: never printed) */
    bench_sqltool tool;
    int skus_many;
    int n_strategies;
    bench_run hot[CLI_MAX_STRATEGIES], many[CLI_MAX_STRATEGIES];
    bench_run rec_on[BENCH_REC_PAIRS], rec_off[BENCH_REC_PAIRS];
    int n_rec;
    int failures;              /* runs or measurements that broke */
    int env_fail;              /* the machine could not run something: exit 3 */
    char env_error[640];
} bench;

typedef struct bench_verdicts {
    int lua_pass, lua_known;   /* lua-decr vs redis-benchmark */
    double lua_rate, lua_pct;
    int rec_pass, rec_known;
    double rec_on, rec_off, rec_cost;
    double rec_spread;         /* largest (max - min) / median of either side, in % */
    int flash_pass, flash_finished;
    int flash_ran;             /* flash sale runs, those skipped (n/a here) left out */
    int mem_pass;
    double flash_mib, end_mib;
    /* Built-in lock strategies that claim safety against the node-redlock adapter, the
     * library the design notes use, on each load (0: hot SKU, 1: many SKUs). */
    int nr_known[2], nr_pass[2];
    double nr_rate[2];
    char nr_slower[2][160];    /* the built-ins slower than node-redlock there */
    int misses;
} bench_verdicts;

static inline int stopping(const bench *b)
{
    return atomic_load(b->stop) != 0;
}

static inline void progress(const bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Progress only for a person watching: a terminal, not a pipe or a CI log. */
static inline void progress(const bench *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->tty)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static inline long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1; /* KiB on Linux */
}

/* The SQL back end's name, "sqlite" when the shop is SQLite's. */
static inline const char *bench_backend(const bench *b)
{
    return b->o.sql ? b->o.sql->name : "sqlite";
}

/* ---- cli_bench_runs.c: phases 1, 4 and 5 ---- */

/* The bench's crowd in memory: buyers at once on skus SKUs, stock for every one of them
 * on each SKU, no think time. 0, or -1 with err. */
int bench_crowd_scenario(const bench *b, const char *name, int skus, ovs_scenario *sc,
                         char *err, size_t errlen);

/* The flash sale with each of its strategies; then the peak resident set. */
void bench_flash(bench *b);
/* Every registered strategy on the hot SKU and on many SKUs. */
void bench_strategies(bench *b);
/* lua-decr with events recorded and without, o.rec_pairs of each, alternated. */
void bench_recording(bench *b);

/* ---- cli_bench_ceiling.c: phases 2 and 3 ---- */

/* The ceiling and redis-benchmark, on one server of their own; also b->redis_version. */
void bench_ceiling_phase(bench *b);

/* Run path (no shell; see cli_bench_ceiling.c): what it printed in out, waitpid's status.
 * 0, or -1 with err when it could not be run or was ended at the deadline or a SIGINT. */
int bench_spawn(const bench *b, const char *path, char *const argv[], char *const envp[],
                int64_t deadline, char *out, size_t outlen, int *status, char *err,
                size_t errlen);

/* ---- cli_bench_sql.c ---- */

/* The database's own benchmark tool on the hot row and on many rows, on the bench's SQL
 * server (b->sql_url): a phase only when the shop is not SQLite. */
void bench_sqltool_phase(bench *b);

/* ---- cli_bench_report.c ---- */

/* The figures against the targets. */
void bench_judge(const bench *b, bench_verdicts *v);
/* OUT/bench.md, and the same on stdout unless quiet. 0, or EXIT_ENV after printing why. */
int bench_write_outputs(const bench *b, const bench_verdicts *v);

#endif
