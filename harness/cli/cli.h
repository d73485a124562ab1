/* cli.h - what the command-line files share: options, exit codes, loading input.
 *
 * One file per command (cli_run.c: run, matrix, gate and explain; cli_explain.c: printing
 * a run; cli_bench.c: bench; cli_diff.c: diff; main.c: report and list) over the helpers
 * of cli_options.c. A command calls helpers and, for explain, cli_run.c calls
 * cli_explain.c (and, for gate --baseline, cli_diff.c); never the other way round. */
#ifndef OVS_CLI_H
#define OVS_CLI_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "engine/cell.h"
#include "engine/recorder.h"
#include "scenario/scenario.h"
#include "locks/strategy.h"
#include "core/keys.h"
#include "core/shopdb.h"

#define EXIT_VERDICT 1  /* a verdict differs from expectation, or a run failed */
#define EXIT_USAGE 2    /* bad usage or bad input: nothing started or written */
#define EXIT_ENV 3      /* no redis-server, cannot write the output */
#define EXIT_INTERRUPTED 130

#define CLI_MAX_SCENARIOS 64
#define CLI_MAX_STRATEGIES OVS_MAX_STRATEGIES /* every registered strategy can be named */
#define CLI_MAX_SQL 4   /* shop back ends one invocation compares side by side */

enum cli_mode { CLI_RUN, CLI_MATRIX, CLI_GATE, CLI_EXPLAIN };

typedef struct cli_options {
    enum cli_mode mode;
    const char *cmd;            /* "run", "matrix", "gate", "explain" */
    const char *out_dir;
    const char *scenarios_dir;
    const char *redis_server;
    const char *junit;          /* gate: JUnit XML file */
    const char *from_db;        /* explain: read a recorded run instead of running */
    const char *mermaid;        /* explain: Mermaid file to write */
    int check;                  /* run/matrix: exit 1 when a verdict differs from [expect] */
    int quiet;                  /* do not print the summary */
    int n_strategies;
    const ovs_strategy_methods *strategies[CLI_MAX_STRATEGIES];
    int params_given[CLI_MAX_STRATEGIES];
    char param_text[CLI_MAX_STRATEGIES][256];
    int n_max;                  /* gate --max-oversold NAME=N */
    const ovs_strategy_methods *max_m[CLI_MAX_STRATEGIES];
    long long max_oversold[CLI_MAX_STRATEGIES];
    int n_sql;                  /* --sql: shop back ends to run every cell on; 0: SQLite */
    const ovs_shopdb_methods *sql[CLI_MAX_SQL];
    char sql_url[CLI_MAX_SQL][600]; /* its server's URL; "" for SQLite, and for a server
                                   the harness starts (--sql postgresql) */
    int keep_shop;              /* --keep-shop: leave each run's schema or database */
    int repeat;                 /* --repeat N: runs per cell, each with its own seed
                                   (cli_cell_seed); 0 as 1 */
    int jobs;                   /* --jobs N: runs side by side; 0: the command's default */
    int seed_given;             /* --seed S: the first run's seed instead of the scenario's */
    uint64_t seed;
    const char *metrics;        /* run/matrix/gate: Prometheus text file to write */
    const char *baseline;       /* gate: results database to compare the new one with */
    int n_own_redis;            /* --redis: the user's servers, n_own_redis of them; 0: the
                                   harness starts its own */
    ovs_endpoint own_redis[OVS_MAX_NODES]; /* each with .auth = &redis_auth when there is
                                   a password */
    ovs_redis_auth redis_auth;  /* from --redis-auth-file, else OVERSELL_REDIS_USER and
                                   OVERSELL_REDIS_PASSWORD; never from the arguments */
    ovs_sentinel_set own_sentinels; /* --sentinel and --master (n 0: not given); then
                                   own_redis[0] is its master, with .sentinels here */
    int n_cluster_seeds;        /* --cluster: seed nodes of the user's cluster (0: not
                                   given); own_redis[] becomes its masters at
                                   cli_own_redis_check, each with .cluster set */
    ovs_endpoint cluster_seeds[OVS_MAX_NODES];
    ovs_redis_auth sentinel_auth; /* their own login: the auth file's second line, else
                                   OVERSELL_SENTINEL_USER and OVERSELL_SENTINEL_PASSWORD */
    const char *auth_file;      /* --redis-auth-file */
    const char *key_prefix;     /* --key-prefix: the run's prefix instead of a random one */
} cli_options;

/* The most runs --repeat asks of one cell. */
#define CLI_MAX_REPEAT 10000

/* ---- cli_options.c ---- */

/* Parse options for cmd; on return optind indexes the first operand. Returns 0, -1 after
 * printing help (exit 0), or EXIT_USAGE. */
int cli_parse(int argc, char **argv, cli_options *o);
/* The help of run, matrix, gate or explain. */
void cli_usage(FILE *f, enum cli_mode mode);
/* Colour on stderr: a terminal, and NO_COLOR unset (no-color.org). */
int cli_color(int fd);
/* Parse --sql's list (sqlite, postgresql, mysql, or URLs, comma-separated) into o. 0, or
 * EXIT_USAGE after saying what is wrong. */
int cli_parse_sql(const char *arg, cli_options *o);
/* Parse --redis's list (host:port, comma-separated) into o->own_redis. 0, or EXIT_USAGE
 * after saying what is wrong. */
int cli_parse_redis(const char *arg, cli_options *o);
/* Parse --sentinel's list (host:port, comma-separated) into o->own_sentinels. 0, or
 * EXIT_USAGE after saying what is wrong. */
int cli_parse_sentinel(const char *arg, cli_options *o);
/* Parse --cluster's seed list (host:port, comma-separated) into o->cluster_seeds. 0, or
 * EXIT_USAGE after saying what is wrong. */
int cli_parse_cluster(const char *arg, cli_options *o);
/* The option that named the user's servers, for messages: "--redis", "--sentinel" or
 * "--cluster". */
const char *cli_own_opt(const cli_options *o);
/* Check, before anything starts, that every --redis server answers with the run's AUTH
 * and holds no key under prefix (with --sentinel, first ask the Sentinels where their
 * master is, into own_redis[0]; with --cluster, find every master of the cluster from the
 * seeds, into own_redis[], a seed not in cluster mode refused): 0, or EXIT_ENV after
 * saying on stderr which refused. */
int cli_own_redis_check(cli_options *o, const char *prefix);
/* Delete every key under prefix on every --redis server (SCAN and UNLINK, never FLUSH),
 * saying on stderr how many were left when there were any. */
void cli_own_redis_clean(const cli_options *o, const char *prefix);

/* The default scenario directory: ./scenarios when it exists, else the source tree's. */
const char *cli_default_scenarios(void);
/* The default strategy definition directory: ./strategies when it exists, else the
 * source tree's when that exists, else NULL (no definitions). */
const char *cli_default_strategies(void);
/* The pre-pass every command that takes strategies makes before anything resolves a
 * strategy name (--strategy, a scenario's [expect] and [strategy] sections): take
 * every --strategies DIR and --plugin PATH out of argv (up to a "--"), shifting the rest
 * down and updating *argc, then register the shipped definitions
 * (cli_default_strategies()), those of each DIR in order, and load each plugin in order. A bad definition or plugin is
 * reported on stderr with its file:line or path: EXIT_USAGE, nothing started. Else 0. */
int cli_register_strategies(const char *cmd, int *argc, char **argv);
/* Refuse, on stderr, a selected strategy that cannot run on this machine (its program is
 * missing): EXIT_USAGE, else 0. */
int cli_check_available(const char *cmd, const ovs_strategy_methods *m);
/* Refuse, on stderr, a --metrics FILE that cannot be written because its directory does
 * not exist or it names a directory: EXIT_USAGE, else 0. */
int cli_check_metrics(const char *cmd, const char *path);
/* Open the results database at path read-only into *db and check it has the tables of
 * one. 0, or EXIT_USAGE after saying on stderr what is wrong with path (*db NULL). */
int cli_open_results(const char *cmd, const char *path, sqlite3 **db);
int cli_mkdir_p(const char *path);
/* Remove a SQLite database file with its -wal and -shm files, so a run starts afresh. */
void cli_remove_db(const char *path);
/* Catch SIGINT and SIGTERM from now on. The first sets the returned flag, which runs poll:
 * clients take no new requests and the run in progress is recorded as aborted. The second
 * kills every managed redis-server and exits 130 at once. */
atomic_int *cli_catch_stop(void);

/* Runs side by side when --jobs is not given: CLI_DEFAULT_JOBS for matrix and gate, whose
 * runs spend most of their time waiting on the scenario's clock; 1 for the others. */
#define CLI_DEFAULT_JOBS 10
int cli_default_jobs(enum cli_mode mode);

/* The seed of run rep (0-based) of a cell whose first seed is base: base itself for the
 * first, so one run is the run a scenario always made and `run --seed` replays any of
 * them; then splitmix64 of base + rep, spread far apart so runs of one cell share no
 * schedule. */
uint64_t cli_cell_seed(uint64_t base, int rep);

/* ---- cli_jobs.c ---- */

#define CLI_MAX_JOBS 64 /* --jobs */

/* One run of the plan. */
typedef struct cli_job {
    ovs_cell cell;          /* what to run */
    char label[256];        /* "scenario x strategy", for progress lines */
    char key_prefix[OVS_KEY_PREFIX_MAX]; /* --redis: the run prefix and this job's number */
    char tag[24];           /* its cell.shop_tag's text */
    int skip;               /* 1: not to be run (a later run of a cell that is n/a) */
    int64_t weight_ns;      /* how long it is thought to take (cli_job_estimate_ns): the
                               longest are taken first; nothing but the order depends on it */
    int heavy;              /* 1: it keeps cores busy (cli_job_heavy); few such run at once */
    int alone;              /* 1: nothing runs beside it (a heavy job of a repeated plan) */
    int ran;                /* out: 1 when it ran (0: skipped, or stopped before) */
    int crc;                /* out: ovs_cell_play's return, or OVS_ERR when its run could
                               not be written */
    ovs_cell_result r;      /* out, when it ran */
    ovs_cell_played *played; /* the pool's: played, waiting to be written */
    int index;
} cli_job;
/* Run jobs[0..n) on `workers` workers (the calling thread among them), each taking the
 * untaken job of largest weight_ns as it frees up, and recording their runs in db in index
 * order whatever order they finish in, so run ids and every report are those of one
 * worker. Takes no new job once *stop is set or a job returned OVS_ERR_ENV. A person
 * watching (tty) gets a line per job as it ends. Returns 0, or -1 out of memory (nothing
 * run). */
int cli_run_jobs(cli_job *jobs, int n, int workers, ovs_results *db, atomic_int *stop,
                 int tty, int color);
/* A scheduling hint, never a verdict's input: how long a run of sc with strategy m may
 * take by its own clock (clients' starts and thinks, faults, a crowd's arrivals, one
 * after another under a lock, lag, write-back delay, Sentinel's failover), plus starting
 * its servers. */
int64_t cli_job_estimate_ns(const ovs_scenario *sc, const ovs_strategy_methods *m,
                            const ovs_params *p);
/* 1 when a run of sc is busy on the CPU more than it waits: a crowd of thousands. */
int cli_job_heavy(const ovs_scenario *sc);

/* ---- cli_sql.c ---- */

typedef struct ovs_dbserver ovs_dbserver;

/* A database server the harness started for a back end (--sql postgresql | mysql). */
typedef struct cli_sql_server {
    ovs_dbserver *server;       /* NULL: none running */
    char dir[512];              /* its private parent directory (tmpdir.h) */
} cli_sql_server;

/* Start a server of m's kind in a private directory of its own and write its URL (which
 * holds its password: never print it) into url. OVS_OK; OVS_ERR_ENV when this machine
 * cannot run it, or OVS_ERR for a back end the harness starts no server for, with err.
 * Call from the main thread (dbserver.h), and cli_sql_server_stop before exiting. */
int cli_sql_server_start(const ovs_shopdb_methods *m, cli_sql_server *srv, char *url,
                         size_t len, char *err, size_t errlen);
/* The server's pid, its own directory and its port on 127.0.0.1 (-1, "", 0: none). */
pid_t cli_sql_server_pid(const cli_sql_server *srv);
const char *cli_sql_server_dir(const cli_sql_server *srv);
int cli_sql_server_port(const cli_sql_server *srv);
/* Stop it and remove its directory. Accepts NULL and one never started. */
void cli_sql_server_stop(cli_sql_server *srv);

/* ---- the commands ---- */

/* Run the cells of the resolved scenarios scs[0..nsc) as o says (its strategies, each
 * with its own parameter text, else each scenario's [expect] or every strategy; its back
 * ends; o->repeat runs of each), record them in o->out_dir/results.db (replaced), write
 * the reports, print the summary unless o->quiet, and judge them as o->mode says. The
 * same strategy named more than once is a cell per naming, told apart by its parameters
 * (a sweep's points). *last_run, when not NULL, gets the id of the last run recorded.
 * Returns the exit status. */
int cli_run_cells(cli_options *o, ovs_scenario *scs, int nsc, int64_t *last_run);
/* run / matrix / gate / explain: load, validate, run, report. Returns the exit status. */
int cli_run(int argc, char **argv, enum cli_mode mode);
/* sweep: one scenario and strategy over a grid of parameters (cli_sweep.c). Returns the
 * exit status. */
int cli_sweep(int argc, char **argv);
/* bench: ceiling, redis-benchmark, every strategy's throughput and latency (cli_bench.c).
 * Returns the exit status. */
int cli_bench(int argc, char **argv);
/* diff: two results databases compared cell by cell (cli_diff.c). Returns the exit
 * status: 0, 1 when a figure got worse beyond its tolerance, 2 bad input. */
int cli_diff(int argc, char **argv);
/* gate --baseline: the same comparison, with diff's default tolerances, of the results
 * database at old_path with new_db, written to stderr. The same exit statuses; 3 when
 * new_db cannot be read. */
int cli_diff_baseline(const char *cmd, const char *old_path, sqlite3 *new_db);
/* Print run_id (or, when it is -1, the latest run of the scenario with o's strategy) of the
 * results database at dbpath as a time table, and write the Mermaid file if asked. */
int cli_explain_print(const cli_options *o, const ovs_scenario *sc, const char *dbpath,
                      int64_t run_id);

#endif
