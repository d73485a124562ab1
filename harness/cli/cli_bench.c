/* cli_bench.c - `oversell bench`: how fast the harness and each strategy go, against targets.
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
 *     alternated, medians compared;
 *  6. with --sql postgresql or mysql, after the ceiling: the database's own benchmark tool
 *     (pgbench, mariadb-slap) on the statements the shop sells with, at the same
 *     connection count, on a hot row and on many rows, as the ceiling of the SQL
 *     strategies. The shop of every run (phases 1, 4, 5) is then on that server: one the
 *     harness starts in a private directory before phase 1 and stops at the end, or the
 *     user's, given by URL.
 *
 * This file reads the options and runs the phases in that order: cli_bench_runs.c does 1,
 * 4 and 5, cli_bench_ceiling.c 2 and 3. The report (stdout and OUT/bench.md), which sets
 * the figures against the targets, is cli_bench_report.c's. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/plan.h"
#include "cli/cli_bench.h"
#include "infra/fleet.h"
#include "core/util.h"

#define BENCH_MAX_CONNECTIONS 256

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
            "  -s, --strategy NAME      measure only these strategies on the hot and many\n"
            "                           loads (repeatable; default: every registered one)\n"
            "      --load-seconds S     a hot or many load takes no new buyer after S seconds\n"
            "                           and its rate is of the buyers served (1 to 3600,\n"
            "                           default %d)\n"
            "      --recording-pairs N  runs of lua-decr with events recorded, and as many\n"
            "                           without, for what recording costs (1 to %d, default\n"
            "                           %d; fewer make the median noisier)\n"
            "      --sql BACKEND        the shop's database: sqlite (the default), postgresql\n"
            "                           or mysql (a server the harness starts), or a URL\n"
            "                           postgresql://USER@HOST:PORT/DB or mysql://... (password\n"
            "                           from OVERSELL_SQL_PASSWORD); off SQLite, also the\n"
            "                           database's own benchmark tool (pgbench, mariadb-slap)\n"
            "                           on the shop's sale, on the hot row and on many rows\n"
            "  -d, --scenarios DIR      where flash-sale.ini is (default: scenarios)\n"
            "      --strategies DIR     more strategy definition files, after the shipped\n"
            "                           ones in strategies/ (repeatable)\n"
            "      --plugin PATH        a C plugin registering strategies (repeatable)\n"
            "  -o, --out DIR            output directory (default: reports/out/bench); its\n"
            "                           results.db and bench.md are replaced\n"
            "      --check              exit 1 when a target is missed\n"
            "  -q, --quiet              do not print the report\n"
            "      --redis-server PATH  redis-server to start (default: found on PATH)\n"
            "  -h, --help               this help\n"
            "\n"
            "Exit status: 0 ok, 1 a run failed (or, with --check, a target was missed), 2 bad\n"
            "usage, 3 environment failure (no redis-server, no disk), 130 interrupted.\n",
            BENCH_MANY_SKUS, BENCH_LOAD_SECONDS, BENCH_REC_PAIRS, BENCH_REC_PAIRS);
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option longopts[] = {
        { "connections", required_argument, NULL, 'c' },
        { "ops", required_argument, NULL, 'n' },
        { "buyers", required_argument, NULL, 'b' },
        { "strategy", required_argument, NULL, 's' },
        { "scenarios", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "check", no_argument, NULL, 'C' },
        { "quiet", no_argument, NULL, 'q' },
        { "redis-server", required_argument, NULL, 'r' },
        { "sql", required_argument, NULL, 'S' },
        { "recording-pairs", required_argument, NULL, 'P' },
        { "load-seconds", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    long long v;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:n:b:s:d:o:qh", longopts, NULL)) != -1) {
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
        case 'L':
            if (ovs_parse_int(optarg, 1, 3600, &v) != 0) {
                fprintf(stderr, "oversell bench: --load-seconds takes 1 to 3600, got '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->load_s = (int)v;
            break;
        case 'P':
            if (ovs_parse_int(optarg, 1, BENCH_REC_PAIRS, &v) != 0) {
                fprintf(stderr, "oversell bench: --recording-pairs takes 1 to %d, got '%s'\n",
                        BENCH_REC_PAIRS, optarg);
                return EXIT_USAGE;
            }
            o->rec_pairs = (int)v;
            break;
        case 's': {
            const ovs_strategy_methods *m = ovs_strategy_find(optarg);
            if (m == NULL) {
                fprintf(stderr, "oversell bench: --strategy: no strategy '%s' (oversell list"
                                " shows them)\n", optarg);
                return EXIT_USAGE;
            }
            if (cli_check_available("bench", m) != 0)
                return EXIT_USAGE;
            if (o->n_only == OVS_MAX_STRATEGIES) {
                fprintf(stderr, "oversell bench: too many --strategy options\n");
                return EXIT_USAGE;
            }
            o->only[o->n_only++] = m;
            break;
        }
        case 'd': o->scenarios_dir = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 'C': o->check = 1; break;
        case 'q': o->quiet = 1; break;
        case 'r': o->redis_server = optarg; break;
        case 'S': {
            /* cli_parse_sql's rules, for one back end. */
            cli_options so = { .cmd = "bench" };
            if (cli_parse_sql(optarg, &so) != 0)
                return EXIT_USAGE;
            if (so.n_sql != 1) {
                fprintf(stderr, "oversell bench: --sql takes one back end\n");
                return EXIT_USAGE;
            }
            o->sql = strcmp(so.sql[0]->name, "sqlite") == 0 ? NULL : so.sql[0];
            snprintf(o->sql_url, sizeof(o->sql_url), "%s", so.sql_url[0]);
            break;
        }
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
    b->o.rec_pairs = BENCH_REC_PAIRS;
    b->o.load_s = BENCH_LOAD_SECONDS;
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
    b->skus_many = b->o.buyers < BENCH_MANY_SKUS ? b->o.buyers : BENCH_MANY_SKUS;

    if (b->o.sql != NULL && b->o.sql_url[0] != '\0') {
        snprintf(b->sql_url, sizeof(b->sql_url), "%s", b->o.sql_url);
    } else if (b->o.sql != NULL) {
        progress(b, "[bench] starting a %s server ...", b->o.sql->name);
        int src = cli_sql_server_start(b->o.sql, &b->server, b->sql_url, sizeof(b->sql_url),
                                       err, sizeof(err));
        if (src != 0) {
            fprintf(stderr, "%soversell bench: %s\n", b->tty ? "\n" : "", err);
            rc = EXIT_ENV;
            goto out;
        }
        progress(b, " ok\n");
        /* For whoever checks that nothing outlives the bench. */
        fprintf(stderr, "oversell bench: %s server pid %ld in %s, port %d\n", b->o.sql->name,
                (long)cli_sql_server_pid(&b->server), cli_sql_server_dir(&b->server),
                cli_sql_server_port(&b->server));
    }

    bench_flash(b);
    if (!stopping(b) && !b->env_fail)
        bench_ceiling_phase(b);
    if (!stopping(b) && !b->env_fail && b->o.sql != NULL)
        bench_sqltool_phase(b);
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
        bench_judge(b, &v);
        rc = bench_write_outputs(b, &v);
        if (rc == 0 && b->failures > 0)
            rc = EXIT_VERDICT;
        else if (rc == 0 && b->o.check && v.misses > 0) {
            fprintf(stderr, "oversell bench: %d target%s missed\n", v.misses,
                    v.misses == 1 ? "" : "s");
            rc = EXIT_VERDICT;
        }
    }
out:
    cli_sql_server_stop(&b->server);
    ovs_results_close(b->db);
    ovs_scenario_free(&b->flash);
    free(b);
    return rc;
}
