/* cli_sweep.c - the sweep command: one scenario and strategy over a grid of parameters.
 *
 * `oversell sweep SCENARIO --strategy NAME --vary KEY=V1,V2,... [--vary KEY2=...]` is a
 * run whose cells are the grid's points: NAME named once per point with that point's
 * parameters, handed to cli_run_cells like any --strategy list, so a point is recorded,
 * repeated and reported exactly as a cell of `run` is. The first --vary is the grid's
 * outer loop: reports/sweep.h finds the axes again from the recorded parameter texts by
 * that order. Every value is checked against the strategy's parameter table before
 * anything starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "engine/plan.h"
#include "reports/sweep.h"

#define SWEEP_MAX_VARY 2
#define SWEEP_MAX_VALUES CLI_MAX_STRATEGIES /* a point is a cell: at most that many */

typedef struct sweep_axis {
    char key[64];
    int n;
    char val[SWEEP_MAX_VALUES][64];
} sweep_axis;

static void sweep_usage(FILE *f)
{
    fprintf(f,
            "usage: oversell sweep SCENARIO --strategy NAME[:k=v,...] --vary KEY=V1,V2,...\n"
            "                      [--vary KEY2=W1,W2,...] [options]\n"
            "\n"
            "Run one scenario with one strategy at every point of a grid of its parameters\n"
            "(the cartesian product of the --vary lists; the first one varies slowest) and\n"
            "report per point the runs, success rate (succeeded / requests), lost sales (when\n"
            "the results database records them), requests that gave up after their retries,\n"
            "p50 and p99 latency and retries (medians over the runs), and the unsafe rate\n"
            "k/N with its 95 %% (Wilson) interval. Writes DIR/sweep.md (printed unless -q)\n"
            "and a Sweeps section in DIR/index.html: one line chart per figure, the first\n"
            "parameter along x, a line per value of the second. Every value is checked\n"
            "against the strategy's parameters ('oversell list') before anything starts.\n"
            "\n"
            "options:\n"
            "  -s, --strategy NAME[:k=v,...]  the strategy, with parameters every point shares\n"
            "      --vary KEY=V1,V2,...       a parameter and its values (once or twice; at\n"
            "                                 most %d points in all)\n"
            "      --repeat N                 run every point N times, each with its own seed\n"
            "      --seed S                   the first run's seed instead of the scenario's\n"
            "      --jobs N                   runs side by side (default 1: the latency and\n"
            "                                 retry figures a sweep compares are each run's\n"
            "                                 own, not shared with others)\n"
            "  -o, --out DIR                  output directory (default: reports/out/sweep);\n"
            "                                 its results.db and reports are replaced\n"
            "  -d, --scenarios DIR            scenario directory (default: scenarios)\n"
            "      --strategies DIR           more strategy definition files (repeatable)\n"
            "      --plugin PATH              a C plugin registering strategies (repeatable)\n"
            "      --sql LIST                 the shop's database(s), as for run\n"
            "      --redis HOST:PORT[,...]    your own Redis, as for run (or --sentinel\n"
            "                                 HOST:PORT[,...] --master NAME, or --cluster\n"
            "                                 HOST:PORT[,...]; with --redis-auth-file FILE,\n"
            "                                 --key-prefix P)\n"
            "      --keep-shop                leave each run's schema or database on the server\n"
            "  -q, --quiet                    do not print the table\n"
            "      --redis-server PATH        redis-server to start (default: found on PATH)\n"
            "  -h, --help                     this help\n"
            "\n"
            "Example: oversell sweep hotel-lock-rush --strategy redlock \\\n"
            "           --vary retry_count=1,3,5 --vary retry_delay=100ms,200ms,300ms --repeat 3\n"
            "\n"
            "Exit status: 0 ok, 1 a run failed, 2 bad usage or input, 3 environment failure,\n"
            "130 interrupted.\n",
            SWEEP_MAX_VALUES);
}

/* Options cli_parse takes for sweep, and whether each has a value. The others it knows
 * (--check, --junit, ...) are run's, matrix's or gate's and are refused here. */
static const struct {
    const char *name;
    int has_value;
} sweep_opts[] = {
    { "--strategy", 1 }, { "-s", 1 },     { "--scenarios", 1 }, { "-d", 1 },
    { "--out", 1 },      { "-o", 1 },     { "--quiet", 0 },     { "-q", 0 },
    { "--redis-server", 1 }, { "--sql", 1 }, { "--keep-shop", 0 }, { "--repeat", 1 },
    { "--seed", 1 },     { "--jobs", 1 },     { "--redis", 1 },     { "--redis-auth-file", 1 },
    { "--key-prefix", 1 }, { "--sentinel", 1 }, { "--master", 1 },
    { "--cluster", 1 },
};

/* Whether arg is one of sweep_opts ("--out=DIR" too); *has_value says if the next
 * argument is its value. */
static int sweep_known(const char *arg, int *has_value)
{
    for (size_t i = 0; i < sizeof sweep_opts / sizeof sweep_opts[0]; i++) {
        size_t n = strlen(sweep_opts[i].name);
        if (strncmp(arg, sweep_opts[i].name, n) != 0)
            continue;
        if (arg[n] == '\0') {
            *has_value = sweep_opts[i].has_value;
            return 1;
        }
        if (arg[1] == '-' && arg[n] == '=' && sweep_opts[i].has_value) {
            *has_value = 0;
            return 1;
        }
        if (arg[1] != '-' && sweep_opts[i].has_value) { /* -oDIR */
            *has_value = 0;
            return 1;
        }
    }
    return 0;
}

/* Parse one --vary value into a new axis. 0, or EXIT_USAGE after saying why. */
static int sweep_axis_parse(const char *arg, sweep_axis *ax)
{
    const char *eq = strchr(arg, '='), *p;
    size_t klen = eq ? (size_t)(eq - arg) : 0;

    if (eq == NULL || klen == 0 || klen >= sizeof ax->key || eq[1] == '\0') {
        fprintf(stderr, "oversell sweep: --vary takes KEY=V1,V2,..., got '%s'\n", arg);
        return EXIT_USAGE;
    }
    memcpy(ax->key, arg, klen);
    ax->key[klen] = '\0';
    ax->n = 0;
    for (p = eq + 1;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof ax->val[0]) {
            fprintf(stderr, "oversell sweep: --vary %s: an empty or overlong value in '%s'\n",
                    ax->key, eq + 1);
            return EXIT_USAGE;
        }
        if (ax->n == SWEEP_MAX_VALUES) {
            fprintf(stderr, "oversell sweep: --vary %s: at most %d values\n", ax->key,
                    SWEEP_MAX_VALUES);
            return EXIT_USAGE;
        }
        memcpy(ax->val[ax->n], p, n);
        ax->val[ax->n][n] = '\0';
        for (int i = 0; i < ax->n; i++)
            if (strcmp(ax->val[i], ax->val[ax->n]) == 0) {
                fprintf(stderr, "oversell sweep: --vary %s: '%s' given twice\n", ax->key,
                        ax->val[i]);
                return EXIT_USAGE;
            }
        ax->n++;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    return 0;
}

/* Each value of every axis through the strategy's own parameter table, so a bad one is
 * named before anything starts. */
static int sweep_check_values(const ovs_strategy_methods *m, const sweep_axis *ax, int nax)
{
    char err[300];
    ovs_params p;

    for (int a = 0; a < nax; a++)
        for (int i = 0; i < ax[a].n; i++) {
            ovs_params_defaults(m, &p);
            if (ovs_params_set(m, &p, ax[a].key, ax[a].val[i], err, sizeof err) != 0) {
                fprintf(stderr, "oversell sweep: --vary %s=%s: %s\n", ax[a].key,
                        ax[a].val[i], err);
                return EXIT_USAGE;
            }
        }
    return 0;
}

static int sweep_find_scenario(const char *arg, const char *dir, char *path, size_t len)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(path, len, "%s", arg);
        return 0;
    }
    snprintf(path, len, "%s/%s.ini", dir, arg);
    return stat(path, &st) == 0 ? 0 : -1;
}

/* DIR/sweep.md from the sweep just recorded, written to a temporary and renamed over the
 * old one as the other reports are, then printed unless quiet. 0, or EXIT_ENV. */
static int sweep_write(const char *out_dir, int quiet)
{
    char path[700], tmp[720], err[300] = "";
    sqlite3 *db = NULL;
    FILE *f = NULL;
    int rc = EXIT_ENV;

    snprintf(path, sizeof path, "%s/results.db", out_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "oversell sweep: %s: %s\n", path, sqlite3_errmsg(db));
        goto out;
    }
    snprintf(path, sizeof path, "%s/sweep.md", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL) {
        fprintf(stderr, "oversell sweep: %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    if (ovs_report_sweep(db, f, err, sizeof err) != 0) {
        fprintf(stderr, "oversell sweep: %s: %s\n", path, err);
        goto out;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        f = NULL;
        fprintf(stderr, "oversell sweep: %s: %s\n", path, strerror(errno));
        goto out;
    }
    f = NULL;
    if (!quiet && ovs_report_sweep(db, stdout, err, sizeof err) != 0)
        fprintf(stderr, "oversell sweep: %s\n", err);
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    if (rc != 0)
        unlink(tmp);
    sqlite3_close(db);
    return rc;
}

int cli_sweep(int argc, char **argv)
{
    cli_options o;
    sweep_axis ax[SWEEP_MAX_VARY];
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    char path[600], err[600], base[sizeof o.param_text[0] + 1] = "";
    int nax = 0, nrest = 0, rc, has_value;
    ovs_scenario sc;

    if (rest == NULL)
        return EXIT_ENV;
    /* --vary is sweep's own: taken out here, the rest goes to cli_parse. */
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sweep_usage(stdout);
            free(rest);
            return 0;
        }
        if (strcmp(argv[i], "--vary") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "oversell sweep: option '--vary' needs a value\n");
                free(rest);
                return EXIT_USAGE;
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--vary=", 7) == 0) {
            v = argv[i] + 7;
        }
        if (v != NULL) {
            if (nax == SWEEP_MAX_VARY) {
                fprintf(stderr, "oversell sweep: at most %d --vary options\n", SWEEP_MAX_VARY);
                free(rest);
                return EXIT_USAGE;
            }
            if (sweep_axis_parse(v, &ax[nax]) != 0) {
                free(rest);
                return EXIT_USAGE;
            }
            if (nax == 1 && strcmp(ax[0].key, ax[1].key) == 0) {
                fprintf(stderr, "oversell sweep: --vary %s given twice\n", ax[0].key);
                free(rest);
                return EXIT_USAGE;
            }
            nax++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (!sweep_known(argv[i], &has_value)) {
                fprintf(stderr, "oversell sweep: unknown option '%s'\n", argv[i]);
                sweep_usage(stderr);
                free(rest);
                return EXIT_USAGE;
            }
            rest[nrest++] = argv[i];
            if (has_value && i + 1 < argc)
                rest[nrest++] = argv[++i];
            continue;
        }
        rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;

    memset(&o, 0, sizeof o);
    o.mode = CLI_RUN;
    o.cmd = "sweep";
    o.out_dir = "reports/out/sweep";
    rc = cli_parse(nrest, rest, &o);
    if (rc != 0) {
        free(rest);
        return rc < 0 ? 0 : rc;
    }
    if (optind != nrest - 1) {
        fprintf(stderr, "oversell sweep: give exactly one scenario (a file or a name)\n");
        free(rest);
        return EXIT_USAGE;
    }
    if (sweep_find_scenario(rest[optind], o.scenarios_dir, path, sizeof path) != 0) {
        fprintf(stderr, "oversell sweep: %s: no such scenario file, and no %s/%s.ini\n",
                rest[optind], o.scenarios_dir, rest[optind]);
        free(rest);
        return EXIT_USAGE;
    }
    free(rest);
    if (o.n_strategies != 1) {
        fprintf(stderr, "oversell sweep: give exactly one --strategy\n");
        return EXIT_USAGE;
    }
    if (nax == 0) {
        fprintf(stderr, "oversell sweep: give one or two --vary KEY=V1,V2,...\n");
        return EXIT_USAGE;
    }
    if (sweep_check_values(o.strategies[0], ax, nax) != 0)
        return EXIT_USAGE;
    int npoints = ax[0].n * (nax > 1 ? ax[1].n : 1);
    if (npoints > CLI_MAX_STRATEGIES) {
        fprintf(stderr, "oversell sweep: %d points; at most %d\n", npoints, CLI_MAX_STRATEGIES);
        return EXIT_USAGE;
    }
    if (o.params_given[0] && o.param_text[0][0] != '\0')
        snprintf(base, sizeof base, "%s,", o.param_text[0]);

    /* One naming of the strategy per point, the first axis outermost. */
    const ovs_strategy_methods *m = o.strategies[0];
    o.n_strategies = 0;
    for (int i = 0; i < ax[0].n; i++)
        for (int j = 0; j < (nax > 1 ? ax[1].n : 1); j++) {
            char *t = o.param_text[o.n_strategies];
            int n = nax > 1 ? snprintf(t, sizeof o.param_text[0], "%s%s=%s,%s=%s", base,
                                       ax[0].key, ax[0].val[i], ax[1].key, ax[1].val[j])
                            : snprintf(t, sizeof o.param_text[0], "%s%s=%s", base, ax[0].key,
                                       ax[0].val[i]);
            if (n < 0 || (size_t)n >= sizeof o.param_text[0]) {
                fprintf(stderr, "oversell sweep: the parameters of a point are too long\n");
                return EXIT_USAGE;
            }
            o.strategies[o.n_strategies] = m;
            o.params_given[o.n_strategies++] = 1;
        }

    if (ovs_scenario_load(path, &sc, err, sizeof err) != 0 ||
        ovs_scenario_resolve(&sc, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        ovs_scenario_free(&sc);
        return EXIT_USAGE;
    }
    int quiet = o.quiet;
    o.quiet = 1; /* the sweep's table instead of the matrix summary */
    rc = cli_run_cells(&o, &sc, 1, NULL);
    ovs_scenario_free(&sc);
    /* A failed run is still a measured point: the table says how many finished. */
    if (rc == 0 || rc == EXIT_VERDICT) {
        if (sweep_write(o.out_dir, quiet) != 0)
            return EXIT_ENV;
        fprintf(stderr, "oversell sweep: %d points; %s/sweep.md, %s/index.html\n", npoints,
                o.out_dir, o.out_dir);
    }
    return rc;
}
