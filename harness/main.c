/* main.c - the oversell command line: run, matrix, list.
 *
 * Input is validated whole before anything starts: every scenario file and every
 * --strategy argument is parsed first, and a problem exits 2 with "file:line: reason"
 * before a server is started or a file written. Exit status: 0 ok, 1 a verdict differs
 * from the scenario's [expect] (with --check) or a run failed, 2 bad usage or input,
 * 3 environment failure (no redis-server, cannot write the output directory). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cell.h"
#include "fleet.h"
#include "ovs_config.h"
#include "recorder.h"
#include "report.h"
#include "scenario.h"
#include "strategy.h"
#include "util.h"

#define EXIT_VERDICT 1
#define EXIT_USAGE 2
#define EXIT_ENV 3
#define MAX_SCENARIOS 64
#define MAX_STRATEGIES 32

/* Set by SIGINT/SIGTERM, read by every client thread: a lock-free atomic, which C11 allows
 * in a signal handler and which, unlike volatile sig_atomic_t, is not a data race between
 * threads. */
static atomic_int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested) {
        /* Second interrupt: stop now, and take the servers down with us. */
        ovs_fleet_kill_all();
        _exit(130);
    }
    stop_requested = 1;
}

typedef struct options {
    const char *out_dir;
    const char *scenarios_dir;
    const char *redis_server;
    int check;
    int n_strategies;
    const ovs_strategy_methods *strategies[MAX_STRATEGIES];
    ovs_params params[MAX_STRATEGIES];
    int params_given[MAX_STRATEGIES]; /* 1 when the command line set parameters */
    char param_text[MAX_STRATEGIES][256];
} options;

static void usage_main(FILE *f)
{
    fprintf(f,
            "usage: oversell <command> [options]\n"
            "\n"
            "Shows, with real Redis servers and real SQLite files, which inventory and booking\n"
            "protection strategies hold under concurrency and which ones oversell.\n"
            "\n"
            "commands:\n"
            "  run SCENARIO   run one scenario (a file, or a name in the scenarios directory)\n"
            "  matrix         run every scenario x strategy and print the summary\n"
            "  list           list strategies (with parameters) and scenarios\n"
            "\n"
            "'oversell <command> --help' for the command's options.\n");
}

static void usage_run(FILE *f, const char *cmd)
{
    int is_run = strcmp(cmd, "run") == 0;
    fprintf(f,
            "usage: oversell %s%s [options]\n"
            "\n"
            "%s\n"
            "\n"
            "options:\n"
            "  -s, --strategy NAME[:k=v,...]  strategy to run, with parameters (repeatable);\n"
            "                                 default: those in each scenario's [expect]\n"
            "  -d, --scenarios DIR            scenario directory (default: scenarios)\n"
            "  -o, --out DIR                  output directory (default: reports/out); its\n"
            "                                 results.db, summary.md and results.csv are replaced\n"
            "      --check                    exit 1 when a verdict differs from [expect]\n"
            "      --redis-server PATH        redis-server to start (default: found on PATH)\n"
            "  -h, --help                     this help\n"
            "\n"
            "Exit status: 0 ok, 1 a verdict differed from [expect] (with --check) or a run\n"
            "failed, 2 bad usage or input, 3 environment failure (no redis-server, no disk).\n",
            cmd, is_run ? " SCENARIO" : "",
            is_run ? "Run one scenario against each strategy, check its invariants, record the\n"
                     "runs and write summary.md and results.csv."
                   : "Run every scenario in the scenario directory against its strategies, check\n"
                     "the invariants, and print the Markdown matrix (also in summary.md).");
}

static const char *default_scenarios_dir(void)
{
    struct stat st;
    static char buf[600];
    if (stat("scenarios", &st) == 0 && S_ISDIR(st.st_mode))
        return "scenarios";
    snprintf(buf, sizeof(buf), "%s/scenarios", OVS_SOURCE_DIR);
    return buf;
}

static int parse_options(int argc, char **argv, const char *cmd, options *o)
{
    static const struct option longopts[] = {
        { "strategy", required_argument, NULL, 's' },
        { "scenarios", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "check", no_argument, NULL, 'c' },
        { "redis-server", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    char err[300];

    memset(o, 0, sizeof(*o));
    o->out_dir = "reports/out";
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:d:o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (o->n_strategies == MAX_STRATEGIES) {
                fprintf(stderr, "oversell %s: too many --strategy options\n", cmd);
                return EXIT_USAGE;
            }
            if (ovs_strategy_arg(optarg, &o->strategies[o->n_strategies],
                                 &o->params[o->n_strategies], err, sizeof(err)) != 0) {
                fprintf(stderr, "oversell %s: %s\n", cmd, err);
                return EXIT_USAGE;
            }
            {
                const char *colon = strchr(optarg, ':');
                o->params_given[o->n_strategies] = colon != NULL;
                snprintf(o->param_text[o->n_strategies], sizeof(o->param_text[0]), "%s",
                         colon ? colon + 1 : "");
            }
            o->n_strategies++;
            break;
        case 'd': o->scenarios_dir = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 'c': o->check = 1; break;
        case 'r': o->redis_server = optarg; break;
        case 'h': usage_run(stdout, cmd); return -1;
        default: usage_run(stderr, cmd); return EXIT_USAGE;
        }
    }
    if (o->scenarios_dir == NULL)
        o->scenarios_dir = default_scenarios_dir();
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.ini in dir, sorted by name so matrix rows come in a stable order. */
static int list_scenario_files(const char *dir, char **paths, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".ini") == 0) {
            size_t need = strlen(dir) + len + 2;
            paths[n] = malloc(need);
            if (paths[n] == NULL)
                break;
            snprintf(paths[n], need, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof(*paths), cmp_str);
    return n;
}

static int mkdir_p(const char *path)
{
    char buf[600];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void remove_db(const char *path)
{
    char side[700];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

/* The strategies a scenario runs with: the command line's, else its [expect] entries,
 * else every registered strategy. Parameters: the scenario's [strategy] section, then the
 * command line's. Returns the count, or -1 with a message in err. */
static int cells_for(const ovs_scenario *sc, const options *o, const ovs_strategy_methods **ms,
                     ovs_params *ps, char *err, size_t errlen)
{
    int n = 0;
    if (o->n_strategies > 0) {
        for (int i = 0; i < o->n_strategies; i++) {
            ms[n] = o->strategies[i];
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            if (o->params_given[i] &&
                ovs_params_set_list(ms[n], &ps[n], o->param_text[i], err, errlen) != 0)
                return -1;
            n++;
        }
    } else if (sc->n_expect > 0) {
        for (int i = 0; i < sc->n_expect && n < MAX_STRATEGIES; i++) {
            ms[n] = sc->expect[i].m;
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    } else {
        const ovs_strategy_methods *const *all = ovs_strategy_list();
        for (int i = 0; all[i] && n < MAX_STRATEGIES; i++) {
            ms[n] = all[i];
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    }
    return n;
}

static int run_cells(const char *cmd, options *o, ovs_scenario *scs, int nsc)
{
    const ovs_strategy_methods *ms[MAX_SCENARIOS][MAX_STRATEGIES];
    ovs_params ps[MAX_SCENARIOS][MAX_STRATEGIES];
    int nm[MAX_SCENARIOS];
    char err[600], path[600], shops[600], server[512];
    int total = 0, need_redis = 0, done = 0, mismatches = 0, failures = 0, env_fail = 0;
    int tty = isatty(STDERR_FILENO);
    ovs_results *db;

    for (int i = 0; i < nsc; i++) {
        nm[i] = cells_for(&scs[i], o, ms[i], ps[i], err, sizeof(err));
        if (nm[i] < 0) {
            fprintf(stderr, "oversell %s: %s\n", cmd, err);
            return EXIT_USAGE;
        }
        for (int k = 0; k < nm[i]; k++) {
            need_redis |= ovs_cell_nodes(&scs[i], ms[i][k], &ps[i][k]) > 0;
            total++;
        }
    }
    if (need_redis) {
        if (o->redis_server == NULL && ovs_redis_server_path(server, sizeof(server)) != 0) {
            fprintf(stderr,
                    "oversell %s: redis-server not found (install Debian's redis-server package,"
                    " or set OVERSELL_REDIS_SERVER or --redis-server)\n",
                    cmd);
            return EXIT_ENV;
        }
        if (o->redis_server && access(o->redis_server, X_OK) != 0) {
            fprintf(stderr, "oversell %s: %s: cannot execute: %s\n", cmd, o->redis_server,
                    strerror(errno));
            return EXIT_ENV;
        }
    }

    /* Input is good: from here on things are started and written. */
    snprintf(shops, sizeof(shops), "%s/shops", o->out_dir);
    if (mkdir_p(shops) != 0) {
        fprintf(stderr, "oversell %s: %s: %s\n", cmd, shops, strerror(errno));
        return EXIT_ENV;
    }
    snprintf(path, sizeof(path), "%s/results.db", o->out_dir);
    remove_db(path);
    db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "oversell %s: %s\n", cmd, err);
        return EXIT_ENV;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (int i = 0; i < nsc && !stop_requested; i++) {
        for (int k = 0; k < nm[i] && !stop_requested; k++) {
            ovs_cell cell = {
                .sc = &scs[i],
                .m = ms[i][k],
                .params = ps[i][k],
                .shop_dir = shops,
                .redis_server = o->redis_server,
                .stop = &stop_requested,
            };
            ovs_cell_result r;
            if (tty)
                fprintf(stderr, "[%d/%d] %s x %s ...", done + 1, total, scs[i].name,
                        ms[i][k]->name);
            int rc = ovs_cell_run(&cell, db, &r);
            done++;
            if (tty)
                fprintf(stderr, " %s (%.1f s)\n",
                        r.status == 0 ? (r.safe ? "safe" : "UNSAFE")
                                      : r.status == 1 ? "aborted" : "error",
                        r.seconds);
            if (rc == OVS_ERR_ENV) {
                fprintf(stderr, "oversell %s: %s x %s: %s\n", cmd, scs[i].name, ms[i][k]->name,
                        r.error);
                env_fail = 1;
                stop_requested = 1;
                break;
            }
            if (rc != 0 || r.status == 2) {
                fprintf(stderr, "oversell %s: %s x %s: %s\n", cmd, scs[i].name, ms[i][k]->name,
                        r.error);
                failures++;
                continue;
            }
            if (r.status == 0 && r.expect >= 0 && r.expect != r.safe) {
                mismatches++;
                if (o->check)
                    fprintf(stderr, "oversell %s: %s x %s: expected %s, observed %s: %s (%s)\n",
                            cmd, scs[i].name, ms[i][k]->name, r.expect ? "safe" : "unsafe",
                            r.safe ? "safe" : "unsafe", r.figure, scs[i].path);
            }
        }
    }

    if (ovs_report_write_all(db->db, o->out_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: reports: %s\n", cmd, err);
        ovs_results_close(db);
        return EXIT_ENV;
    }
    if (ovs_report_summary(db->db, stdout, err, sizeof(err)) != 0)
        fprintf(stderr, "oversell %s: summary: %s\n", cmd, err);
    ovs_results_close(db);
    if (stop_requested && !env_fail) {
        fprintf(stderr, "oversell %s: interrupted; the run in progress is marked aborted\n", cmd);
        return 130;
    }
    if (env_fail)
        return EXIT_ENV;
    if (failures > 0)
        return EXIT_VERDICT;
    return o->check && mismatches > 0 ? EXIT_VERDICT : 0;
}

static int find_scenario(const char *arg, const char *dir, char *path, size_t len)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(path, len, "%s", arg);
        return 0;
    }
    snprintf(path, len, "%s/%s.ini", dir, arg);
    return stat(path, &st) == 0 ? 0 : -1;
}

static int cmd_run_or_matrix(int argc, char **argv, const char *cmd)
{
    options o;
    ovs_scenario *scs;
    char *paths[MAX_SCENARIOS];
    char err[600];
    int n = 0, rc;

    rc = parse_options(argc, argv, cmd, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (strcmp(cmd, "run") == 0) {
        if (optind != argc - 1) {
            fprintf(stderr, "oversell run: give exactly one scenario (a file or a name)\n");
            usage_run(stderr, cmd);
            return EXIT_USAGE;
        }
        char path[600];
        if (find_scenario(argv[optind], o.scenarios_dir, path, sizeof(path)) != 0) {
            fprintf(stderr, "oversell run: %s: no such scenario file, and no %s/%s.ini\n",
                    argv[optind], o.scenarios_dir, argv[optind]);
            return EXIT_USAGE;
        }
        paths[0] = strdup(path);
        n = paths[0] ? 1 : 0;
    } else {
        if (optind != argc) {
            fprintf(stderr, "oversell matrix: unexpected argument '%s'\n", argv[optind]);
            return EXIT_USAGE;
        }
        n = list_scenario_files(o.scenarios_dir, paths, MAX_SCENARIOS);
        if (n <= 0) {
            fprintf(stderr, "oversell matrix: %s: %s\n", o.scenarios_dir,
                    n < 0 ? strerror(errno) : "no .ini scenario files");
            return EXIT_USAGE;
        }
    }
    scs = calloc((size_t)n, sizeof(*scs));
    rc = scs ? 0 : EXIT_ENV;
    for (int i = 0; i < n && rc == 0; i++) {
        if (ovs_scenario_load(paths[i], &scs[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = EXIT_USAGE;
        }
    }
    if (rc == 0)
        rc = run_cells(cmd, &o, scs, n);
    for (int i = 0; i < n; i++) {
        if (scs)
            ovs_scenario_free(&scs[i]);
        free(paths[i]);
    }
    free(scs);
    return rc;
}

static int cmd_list(int argc, char **argv)
{
    options o;
    char *paths[MAX_SCENARIOS];
    char err[600];
    int rc = parse_options(argc, argv, "list", &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    printf("strategies:\n");
    for (const ovs_strategy_methods *const *m = ovs_strategy_list(); *m; m++) {
        printf("  %-16s %s%s\n", (*m)->name, (*m)->summary,
               (*m)->claims_safe ? "" : " [claims no safety]");
        for (int i = 0; i < (*m)->n_params; i++) {
            const ovs_param_spec *p = &(*m)->params[i];
            char def[64];
            if (p->choices) {
                ovs_params dp;
                ovs_params_defaults(*m, &dp);
                snprintf(def, sizeof(def), "%s", p->choices);
            } else {
                snprintf(def, sizeof(def), "%g%s", p->def,
                         p->unit && strcmp(p->unit, "ms") == 0 ? " ms" : "");
            }
            printf("      %-14s %-12s %s\n", p->name, def, p->help);
        }
    }
    int n = list_scenario_files(o.scenarios_dir, paths, MAX_SCENARIOS);
    printf("\nscenarios (%s):\n", o.scenarios_dir);
    for (int i = 0; i < n; i++) {
        ovs_scenario sc;
        if (ovs_scenario_load(paths[i], &sc, err, sizeof(err)) == 0) {
            printf("  %-28s %s\n", sc.name, sc.description);
            ovs_scenario_free(&sc);
        } else {
            printf("  %s\n", err);
            rc = EXIT_USAGE;
        }
        free(paths[i]);
    }
    return rc;
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
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "matrix") == 0)
        return cmd_run_or_matrix(argc - 1, argv + 1, cmd);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "oversell: unknown command '%s'\n", cmd);
    usage_main(stderr);
    return EXIT_USAGE;
}
