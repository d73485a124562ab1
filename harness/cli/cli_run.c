/* cli_run.c - the commands that run cells: run, matrix, gate and explain.
 *
 * Input is validated whole before anything starts: every scenario file and every
 * --strategy argument is parsed first, and a problem exits 2 with "file:line: reason"
 * before a server is started or a file written. */
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

#include "engine/cell.h"
#include "engine/plan.h"
#include "cli/cli.h"
#include "infra/fleet.h"
#include "reports/junit.h"
#include "ovs_config.h"
#include "engine/recorder.h"
#include "reports/report.h"
#include "core/util.h"

/* Set by SIGINT/SIGTERM, read by every client thread: a lock-free atomic, which C11 allows
 * in a signal handler and which, unlike volatile sig_atomic_t, is not a data race between
 * threads. */
static atomic_int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_load(&stop_requested)) {
        /* Second interrupt: stop now, and take the servers down with us. */
        ovs_fleet_kill_all();
        _exit(EXIT_INTERRUPTED);
    }
    atomic_store(&stop_requested, 1);
}

atomic_int *cli_catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

static void usage(FILE *f, enum cli_mode mode)
{
    static const char *const what[] = {
        [CLI_RUN] = "Run one scenario against each strategy, check its invariants, record the\n"
                    "runs and write summary.md, results.csv and index.html.",
        [CLI_MATRIX] = "Run every scenario in the scenario directory against its strategies,\n"
                       "check the invariants, and print the Markdown matrix (also in summary.md).",
        [CLI_GATE] = "Run the matrix and compare every cell with its scenario's [expect] entry.\n"
                     "Fails (exit 1) when a strategy expected safe was unsafe, and when one\n"
                     "expected unsafe no longer shows its failure (the scenario lost its teeth).",
        [CLI_EXPLAIN] = "Run one scenario with one strategy (or read a recorded run with --from)\n"
                        "and print the interleaving as a time table, one column per client.",
    };
    static const char *const synopsis[] = {
        [CLI_RUN] = "run SCENARIO", [CLI_MATRIX] = "matrix", [CLI_GATE] = "gate",
        [CLI_EXPLAIN] = "explain SCENARIO --strategy NAME",
    };
    fprintf(f, "usage: oversell %s [options]\n\n%s\n\noptions:\n", synopsis[mode], what[mode]);
    fprintf(f, "  -s, --strategy NAME[:k=v,...]  strategy%s, with parameters%s\n",
            mode == CLI_EXPLAIN ? "" : " to run (repeatable)",
            mode == CLI_EXPLAIN ? "" : ";\n                                 default: those in each scenario's [expect]");
    fprintf(f, "  -d, --scenarios DIR            scenario directory (default: scenarios)\n"
               "  -o, --out DIR                  output directory (default: reports/out%s); its\n"
               "                                 results.db and reports are replaced\n",
            mode == CLI_EXPLAIN ? "/explain" : "");
    if (mode == CLI_RUN || mode == CLI_MATRIX)
        fprintf(f, "      --check                    exit 1 when a verdict differs from [expect]\n");
    if (mode == CLI_GATE)
        fprintf(f, "      --junit FILE               also write JUnit XML, one test case per cell\n"
                   "      --max-oversold NAME=N      gate NAME on a number instead of a verdict:\n"
                   "                                 pass while it oversells (or double-books) at\n"
                   "                                 most N (repeatable)\n");
    if (mode == CLI_EXPLAIN)
        fprintf(f, "      --from DB                  read the latest recorded run from results DB\n"
                   "      --mermaid FILE             also write the run as a Mermaid sequence diagram\n");
    fprintf(f, "  -q, --quiet                    do not print the summary\n"
               "      --redis-server PATH        redis-server to start (default: found on PATH)\n"
               "  -h, --help                     this help\n\n"
               "Exit status: 0 ok, 1 %s, 2 bad usage or input, 3 environment failure\n"
               "(no redis-server, no disk), 130 interrupted (the run in progress is aborted).\n",
            mode == CLI_GATE ? "a cell did not match its expectation or a run failed"
                             : "a verdict differed from [expect] (with --check) or a run failed");
}

int cli_color(int fd)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(fd) && (nc == NULL || nc[0] == '\0');
}

const char *cli_default_scenarios(void)
{
    struct stat st;
    static char buf[600];
    if (stat("scenarios", &st) == 0 && S_ISDIR(st.st_mode))
        return "scenarios";
    snprintf(buf, sizeof(buf), "%s/scenarios", OVS_SOURCE_DIR);
    return buf;
}

int cli_parse(int argc, char **argv, cli_options *o)
{
    static const struct option longopts[] = {
        { "strategy", required_argument, NULL, 's' },
        { "scenarios", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "check", no_argument, NULL, 'c' },
        { "quiet", no_argument, NULL, 'q' },
        { "redis-server", required_argument, NULL, 'r' },
        { "junit", required_argument, NULL, 'j' },
        { "max-oversold", required_argument, NULL, 'm' },
        { "from", required_argument, NULL, 'f' },
        { "mermaid", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    char err[300];
    ovs_params scratch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:d:o:qh", longopts, NULL)) != -1) {
        int allowed = 1;
        switch (ch) {
        case 's':
            if (o->n_strategies == CLI_MAX_STRATEGIES) {
                fprintf(stderr, "oversell %s: too many --strategy options\n", o->cmd);
                return EXIT_USAGE;
            }
            if (ovs_strategy_arg(optarg, &o->strategies[o->n_strategies], &scratch, err,
                                 sizeof(err)) != 0) {
                fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
                return EXIT_USAGE;
            }
            {
                /* Kept as text: applied over each scenario's own [strategy] values. */
                const char *colon = strchr(optarg, ':');
                o->params_given[o->n_strategies] = colon != NULL;
                snprintf(o->param_text[o->n_strategies], sizeof(o->param_text[0]), "%s",
                         colon ? colon + 1 : "");
            }
            o->n_strategies++;
            break;
        case 'd': o->scenarios_dir = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'r': o->redis_server = optarg; break;
        case 'c':
            allowed = o->mode == CLI_RUN || o->mode == CLI_MATRIX;
            o->check = 1;
            break;
        case 'j':
            allowed = o->mode == CLI_GATE;
            o->junit = optarg;
            break;
        case 'f':
            allowed = o->mode == CLI_EXPLAIN;
            o->from_db = optarg;
            break;
        case 'M':
            allowed = o->mode == CLI_EXPLAIN;
            o->mermaid = optarg;
            break;
        case 'm': {
            allowed = o->mode == CLI_GATE;
            char name[64];
            const char *eq = strchr(optarg, '=');
            long long n;
            size_t len = eq ? (size_t)(eq - optarg) : 0;
            if (!allowed)
                break;
            if (eq == NULL || len == 0 || len >= sizeof(name) ||
                ovs_parse_int(eq + 1, 0, 1000000000LL, &n) != 0) {
                fprintf(stderr, "oversell gate: --max-oversold takes NAME=N, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            memcpy(name, optarg, len);
            name[len] = '\0';
            if ((o->max_m[o->n_max] = ovs_strategy_find(name)) == NULL) {
                fprintf(stderr, "oversell gate: --max-oversold: unknown strategy '%s'\n", name);
                return EXIT_USAGE;
            }
            if (o->n_max < CLI_MAX_STRATEGIES)
                o->max_oversold[o->n_max++] = n;
            break;
        }
        case 'h': usage(stdout, o->mode); return -1;
        default: usage(stderr, o->mode); return EXIT_USAGE;
        }
        if (!allowed) {
            fprintf(stderr, "oversell %s: option '%s' does not apply here\n", o->cmd,
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (o->scenarios_dir == NULL)
        o->scenarios_dir = cli_default_scenarios();
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_scenario_files(const char *dir, char **paths, int max)
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

int cli_mkdir_p(const char *path)
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

void cli_remove_db(const char *path)
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
static int cells_for(const ovs_scenario *sc, const cli_options *o,
                     const ovs_strategy_methods **ms, ovs_params *ps, char *err, size_t errlen)
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
        for (int i = 0; i < sc->n_expect && n < CLI_MAX_STRATEGIES; i++) {
            ms[n] = ovs_strategy_find(sc->expect[i].name); /* resolved: registered */
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    } else {
        const ovs_strategy_methods *const *all = ovs_strategy_list();
        for (int i = 0; all[i] && n < CLI_MAX_STRATEGIES; i++) {
            ms[n] = all[i];
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    }
    return n;
}

/* The gate's judgement of one cell: 0 pass, 1 fail with why. */
static int judge(const cli_options *o, const ovs_strategy_methods *m, const ovs_cell_result *r,
                 int rc, char *why, size_t len)
{
    if (rc != 0 || r->status != 0) {
        snprintf(why, len, "the run %s: %s", r->status == 1 ? "was aborted" : "failed", r->error);
        return 1;
    }
    for (int i = 0; i < o->n_max; i++) {
        if (o->max_m[i] == m) {
            if (r->oversold > o->max_oversold[i]) {
                snprintf(why, len, "above its baseline of %lld: %s", o->max_oversold[i], r->figure);
                return 1;
            }
            return 0;
        }
    }
    if (r->expect == 1 && !r->safe) {
        snprintf(why, len, "expected safe, observed unsafe: %s", r->figure);
        return 1;
    }
    if (r->expect == 0 && r->safe) {
        snprintf(why, len, "expected unsafe, but the failure did not show (%s): the scenario "
                           "lost its teeth",
                 r->figure);
        return 1;
    }
    return 0;
}

typedef struct cell_plan {
    ovs_scenario *sc;
    const ovs_strategy_methods *m;
    ovs_params p;
} cell_plan;

static int run_cells(cli_options *o, ovs_scenario *scs, int nsc, int64_t *last_run)
{
    cell_plan *plan = NULL;
    ovs_junit_case *jc = NULL;
    char (*why)[400] = NULL;
    char err[600], path[600], shops[600], server[512];
    int total = 0, need_redis = 0, mismatches = 0, failures = 0, env_fail = 0, rc = 0;
    int tty = isatty(STDERR_FILENO), color = cli_color(STDERR_FILENO);
    ovs_results *db = NULL;
    const ovs_strategy_methods *ms[CLI_MAX_STRATEGIES];
    ovs_params ps[CLI_MAX_STRATEGIES];

    plan = calloc((size_t)nsc * CLI_MAX_STRATEGIES, sizeof(*plan));
    if (plan == NULL)
        return EXIT_ENV;
    for (int i = 0; i < nsc; i++) {
        int n = cells_for(&scs[i], o, ms, ps, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
            free(plan);
            return EXIT_USAGE;
        }
        for (int k = 0; k < n; k++) {
            plan[total] = (cell_plan){ &scs[i], ms[k], ps[k] };
            need_redis |= ovs_cell_nodes(&scs[i], ms[k], &ps[k]) > 0;
            total++;
        }
    }
    if (need_redis) {
        if (o->redis_server == NULL && ovs_redis_server_path(server, sizeof(server)) != 0) {
            fprintf(stderr,
                    "oversell %s: redis-server not found (install Debian's redis-server package,"
                    " or set OVERSELL_REDIS_SERVER or --redis-server)\n",
                    o->cmd);
            free(plan);
            return EXIT_ENV;
        }
        if (o->redis_server && access(o->redis_server, X_OK) != 0) {
            fprintf(stderr, "oversell %s: %s: cannot execute: %s\n", o->cmd, o->redis_server,
                    strerror(errno));
            free(plan);
            return EXIT_ENV;
        }
    }
    jc = calloc((size_t)(total ? total : 1), sizeof(*jc));
    why = calloc((size_t)(total ? total : 1), sizeof(*why));
    if (jc == NULL || why == NULL) {
        rc = EXIT_ENV;
        goto out;
    }

    /* Input is good: from here on things are started and written. */
    snprintf(shops, sizeof(shops), "%s/shops", o->out_dir);
    if (cli_mkdir_p(shops) != 0) {
        fprintf(stderr, "oversell %s: %s: %s\n", o->cmd, shops, strerror(errno));
        rc = EXIT_ENV;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/results.db", o->out_dir);
    cli_remove_db(path);
    db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
        rc = EXIT_ENV;
        goto out;
    }

    cli_catch_stop();

    int done = 0;
    for (int c = 0; c < total && !atomic_load(&stop_requested); c++) {
        ovs_cell cell = {
            .sc = plan[c].sc,
            .m = plan[c].m,
            .params = plan[c].p,
            .shop_dir = shops,
            .redis_server = o->redis_server,
            .stop = &stop_requested,
        };
        ovs_cell_result r;
        const char *scn = plan[c].sc->name, *stn = plan[c].m->name;

        /* Progress only for a person watching: a terminal, not a pipe or a CI log. */
        if (tty)
            fprintf(stderr, "[%d/%d] %s x %s ...", c + 1, total, scn, stn);
        int crc = ovs_cell_run(&cell, db, &r);
        done++;
        if (last_run)
            *last_run = r.run_id;
        if (tty) {
            const char *v = r.status == 0 ? (r.safe ? "safe" : "UNSAFE")
                            : r.status == 1 ? "aborted" : "error";
            const char *on = !color ? "" : r.status != 0 ? "\033[33m" : r.safe ? "\033[32m" : "\033[31m";
            fprintf(stderr, " %s%s%s (%.1f s)\n", on, v, color ? "\033[0m" : "", r.seconds);
        }
        if (crc == OVS_ERR_ENV) {
            fprintf(stderr, "oversell %s: %s x %s: %s\n", o->cmd, scn, stn, r.error);
            env_fail = 1;
            break;
        }
        if (crc != 0 || r.status == 2) {
            fprintf(stderr, "oversell %s: %s x %s: %s\n", o->cmd, scn, stn, r.error);
            failures++;
        }
        int bad = judge(o, plan[c].m, &r, crc, why[c], sizeof(why[c]));
        if (o->mode == CLI_GATE && bad)
            fprintf(stderr, "FAIL %s x %s: %s [%s]\n", scn, stn, why[c], plan[c].sc->path);
        else if (o->check && bad && r.status == 0)
            fprintf(stderr, "oversell %s: %s x %s: %s (%s)\n", o->cmd, scn, stn, why[c],
                    plan[c].sc->path);
        mismatches += bad && r.status == 0;
        jc[c] = (ovs_junit_case){ scn, stn, r.seconds, bad, bad ? why[c] : NULL,
                                  plan[c].sc->path };
    }

    if (ovs_report_write_all(db->db, o->out_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: reports: %s\n", o->cmd, err);
        rc = EXIT_ENV;
        goto out;
    }
    if (o->junit) {
        FILE *f = fopen(o->junit, "w");
        if (f == NULL || ovs_junit_write(f, "oversell gate", jc, done) != 0) {
            fprintf(stderr, "oversell gate: %s: %s\n", o->junit, strerror(errno));
            rc = EXIT_ENV;
        }
        if (f)
            fclose(f);
        if (rc)
            goto out;
    }
    if (!o->quiet && o->mode != CLI_EXPLAIN &&
        ovs_report_summary(db->db, stdout, err, sizeof(err)) != 0)
        fprintf(stderr, "oversell %s: summary: %s\n", o->cmd, err);
    if (o->mode == CLI_GATE) {
        int bad = 0;
        for (int c = 0; c < done; c++)
            bad += jc[c].failed;
        fprintf(stderr, "gate: %d cell%s, %d failed%s\n", done, done == 1 ? "" : "s", bad,
                atomic_load(&stop_requested) ? " (interrupted)" : "");
    }

    if (atomic_load(&stop_requested) && !env_fail) {
        fprintf(stderr, "oversell %s: interrupted; the run in progress is marked aborted\n",
                o->cmd);
        rc = EXIT_INTERRUPTED;
    } else if (env_fail) {
        rc = EXIT_ENV;
    } else if (failures > 0) {
        rc = EXIT_VERDICT;
    } else if ((o->check || o->mode == CLI_GATE) && mismatches > 0) {
        rc = EXIT_VERDICT;
    }
out:
    ovs_results_close(db);
    free(plan);
    free(jc);
    free(why);
    return rc;
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

int cli_run(int argc, char **argv, enum cli_mode mode)
{
    static const char *const names[] = { [CLI_RUN] = "run", [CLI_MATRIX] = "matrix",
                                         [CLI_GATE] = "gate", [CLI_EXPLAIN] = "explain" };
    cli_options o;
    ovs_scenario *scs = NULL;
    char *paths[CLI_MAX_SCENARIOS];
    char err[600];
    int n = 0, rc;

    memset(&o, 0, sizeof(o));
    o.mode = mode;
    o.cmd = names[mode];
    o.out_dir = mode == CLI_EXPLAIN ? "reports/out/explain" : "reports/out";
    rc = cli_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (mode == CLI_RUN || mode == CLI_EXPLAIN) {
        char path[600];
        if (optind != argc - 1) {
            fprintf(stderr, "oversell %s: give exactly one scenario (a file or a name)\n", o.cmd);
            usage(stderr, mode);
            return EXIT_USAGE;
        }
        if (mode == CLI_EXPLAIN && o.n_strategies != 1) {
            fprintf(stderr, "oversell explain: give exactly one --strategy\n");
            return EXIT_USAGE;
        }
        if (find_scenario(argv[optind], o.scenarios_dir, path, sizeof(path)) != 0) {
            fprintf(stderr, "oversell %s: %s: no such scenario file, and no %s/%s.ini\n",
                    o.cmd, argv[optind], o.scenarios_dir, argv[optind]);
            return EXIT_USAGE;
        }
        paths[0] = strdup(path);
        n = paths[0] ? 1 : 0;
    } else {
        if (optind != argc) {
            fprintf(stderr, "oversell %s: unexpected argument '%s'\n", o.cmd, argv[optind]);
            return EXIT_USAGE;
        }
        n = cli_scenario_files(o.scenarios_dir, paths, CLI_MAX_SCENARIOS);
        if (n <= 0) {
            fprintf(stderr, "oversell %s: %s: %s\n", o.cmd, o.scenarios_dir,
                    n < 0 ? strerror(errno) : "no .ini scenario files");
            return EXIT_USAGE;
        }
    }
    scs = calloc((size_t)n, sizeof(*scs));
    rc = scs ? 0 : EXIT_ENV;
    for (int i = 0; i < n && rc == 0; i++) {
        if (ovs_scenario_load(paths[i], &scs[i], err, sizeof(err)) != 0 ||
            ovs_scenario_resolve(&scs[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && mode == CLI_EXPLAIN) {
        if (o.from_db) {
            rc = cli_explain_print(&o, &scs[0], o.from_db, -1);
        } else {
            int64_t run = -1;
            char db[700];
            o.quiet = 1;
            rc = run_cells(&o, scs, n, &run);
            snprintf(db, sizeof(db), "%s/results.db", o.out_dir);
            if (run >= 0 && (rc == 0 || rc == EXIT_VERDICT))
                rc = cli_explain_print(&o, &scs[0], db, run);
        }
    } else if (rc == 0) {
        rc = run_cells(&o, scs, n, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (scs)
            ovs_scenario_free(&scs[i]);
        free(paths[i]);
    }
    free(scs);
    return rc;
}
