/* main.c - the oversell command line: dispatch, list and report.
 *
 * Exit status everywhere: 0 ok, 1 a gate or invariant failure, 2 bad usage or input,
 * 3 environment failure (no redis-server, port, disk), 130 interrupted. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "engine/plan.h"
#include "ovs_config.h"
#include "reports/metrics.h"
#include "reports/report.h"
#include "scenario/scenario.h"
#include "locks/strategy.h"

static void usage_main(FILE *f)
{
    fprintf(f,
            "usage: oversell <command> [options]\n"
            "\n"
            "Shows, with real Redis servers and real SQLite files, which inventory and booking\n"
            "protection strategies hold under concurrency and faults, and which ones oversell.\n"
            "\n"
            "commands:\n"
            "  run SCENARIO       run one scenario (a file, or a name in the scenarios directory)\n"
            "  matrix             run every scenario x strategy and print the summary\n"
            "  gate               run the matrix; fail when a cell does not match its [expect]\n"
            "  explain SCENARIO   print one run's interleaving as a time table (and Mermaid)\n"
            "  report DB          write summary.md, results.csv, results.json and index.html\n"
            "                     from a results DB\n"
            "  diff OLD NEW       compare two results DBs cell by cell; fail when a figure got\n"
            "                     worse beyond its tolerance\n"
            "  sweep SCENARIO     run one strategy over a grid of its parameters (--vary)\n"
            "                     and chart the points\n"
            "  bench              measure the ceiling and every strategy's throughput and latency\n"
            "                     against the performance targets\n"
            "  list               list strategies (origin, parameters) and scenarios\n"
            "\n"
            "Every command that takes strategies also takes --strategies DIR (more\n"
            "definition files, after the shipped ones in strategies/) and --plugin PATH\n"
            "(a C plugin); both repeatable.\n"
            "'oversell <command> --help' for the command's options.\n");
}

static int cmd_list(int argc, char **argv)
{
    cli_options o;
    char *paths[CLI_MAX_SCENARIOS];
    char err[600];
    int rc;

    memset(&o, 0, sizeof(o));
    o.cmd = "list";
    o.mode = CLI_RUN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: oversell list [--scenarios DIR] [--strategies DIR] [--plugin PATH]\n\n"
                   "Lists the strategies with their origin (built-in, file, plugin), their\n"
                   "parameters and defaults, and why one cannot run here; then the scenarios\n"
                   "with their descriptions.\n");
            return 0;
        }
    }
    rc = cli_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    printf("strategies:\n");
    for (const ovs_strategy_methods *const *m = ovs_strategy_list(); *m; m++) {
        const char *why = ovs_strategy_unavailable(*m);
        printf("  %-22s %s%s\n", (*m)->name, (*m)->summary,
               (*m)->claims_safe ? "" : " [claims no safety]");
        printf("      %-16s %s\n", "origin", ovs_strategy_origin(*m));
        if (OVS_STRATEGY_FIELD(*m, backends, NULL) != NULL)
            printf("      %-16s %s (n/a on the others)\n", "runs on",
                   OVS_STRATEGY_FIELD(*m, backends, NULL));
        if (why)
            printf("      %-16s %s\n", "unavailable", why);
        for (int i = 0; i < (*m)->n_params; i++) {
            const ovs_param_spec *p = &(*m)->params[i];
            char def[64];
            if (p->choices)
                snprintf(def, sizeof(def), "%s", p->choices);
            else
                snprintf(def, sizeof(def), "%g%s", p->def,
                         p->unit && strcmp(p->unit, "ms") == 0 ? " ms" : "");
            printf("      %-16s %-12s %s\n", p->name, def, p->help);
        }
    }
    int n = ovs_scenario_files(o.scenarios_dir, paths, CLI_MAX_SCENARIOS);
    printf("\nscenarios (%s):\n", o.scenarios_dir);
    for (int i = 0; i < n; i++) {
        ovs_scenario sc;
        if (ovs_scenario_load(paths[i], &sc, err, sizeof(err)) == 0 &&
            ovs_scenario_resolve(&sc, err, sizeof(err)) == 0) {
            printf("  %-32s %s\n", sc.name, sc.description);
        } else {
            printf("  %s\n", err);
            rc = EXIT_USAGE;
        }
        ovs_scenario_free(&sc);
        free(paths[i]);
    }
    return rc;
}

/* Regenerate every report from a results database without running anything. */
static int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "out", required_argument, NULL, 'o' },
        { "quiet", no_argument, NULL, 'q' },
        { "metrics", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *metrics = NULL;
    int quiet = 0, ch;
    char err[300], dir[600];
    sqlite3 *db = NULL;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'P':
            if (cli_check_metrics("report", optarg) != 0)
                return EXIT_USAGE;
            metrics = optarg;
            break;
        case 'h':
            printf("usage: oversell report RESULTS.DB [--out DIR] [--quiet] [--metrics FILE]\n\n"
                   "Writes summary.md, results.csv, results.json and index.html from a\n"
                   "results database (default: next to it) and prints the summary. Runs\n"
                   "nothing. The columns of results.csv and results.json: README.md.\n"
                   "--metrics FILE also writes the runs as Prometheus text, for\n"
                   "node_exporter's textfile collector.\n");
            return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "oversell report: give one results database\n");
        return EXIT_USAGE;
    }
    if (access(argv[optind], R_OK) != 0) {
        fprintf(stderr, "oversell report: %s: %s\n", argv[optind], strerror(errno));
        return EXIT_USAGE;
    }
    if (sqlite3_open_v2(argv[optind], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "oversell report: %s: %s\n", argv[optind], sqlite3_errmsg(db));
        sqlite3_close(db);
        return EXIT_USAGE;
    }
    if (out == NULL) {
        snprintf(dir, sizeof(dir), "%s", argv[optind]);
        out = dirname(dir);
    }
    if (cli_mkdir_p(out) != 0 || ovs_report_write_all(db, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell report: %s: %s\n", out, errno ? strerror(errno) : err);
        sqlite3_close(db);
        return EXIT_ENV;
    }
    if (metrics && ovs_metrics_write_file(db, metrics, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell report: --metrics: %s\n", err);
        sqlite3_close(db);
        return EXIT_ENV;
    }
    if (!quiet && ovs_report_summary(db, stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell report: %s\n", err);
        sqlite3_close(db);
        return EXIT_USAGE;
    }
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* hiredis writes with plain write(): a write to a server the harness just killed must
     * come back as EPIPE, a lost connection, not end the harness. */
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("oversell %s\n", OVS_VERSION);
        return 0;
    }
    /* Definition files and plugins first: the commands below resolve strategy names. */
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "matrix") == 0 || strcmp(cmd, "gate") == 0 ||
        strcmp(cmd, "explain") == 0 || strcmp(cmd, "list") == 0 || strcmp(cmd, "bench") == 0 ||
        strcmp(cmd, "sweep") == 0) {
        int n = argc - 1, rc = cli_register_strategies(cmd, &n, argv + 1);
        if (rc != 0)
            return rc;
        argc = n + 1;
    }
    if (strcmp(cmd, "run") == 0)
        return cli_run(argc - 1, argv + 1, CLI_RUN);
    if (strcmp(cmd, "matrix") == 0)
        return cli_run(argc - 1, argv + 1, CLI_MATRIX);
    if (strcmp(cmd, "gate") == 0)
        return cli_run(argc - 1, argv + 1, CLI_GATE);
    if (strcmp(cmd, "explain") == 0)
        return cli_run(argc - 1, argv + 1, CLI_EXPLAIN);
    if (strcmp(cmd, "sweep") == 0)
        return cli_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0)
        return cli_diff(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cli_bench(argc - 1, argv + 1);
    fprintf(stderr, "oversell: unknown command '%s'\n", cmd);
    usage_main(stderr);
    return EXIT_USAGE;
}
