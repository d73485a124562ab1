/* cli_options.c - what every command of the command line shares: the options of run,
 * matrix, gate and explain, catching SIGINT and SIGTERM, colour, and finding and
 * preparing files.
 *
 * Split from cli_run.c so that the commands depend on these helpers and not on each
 * other: cli_run.c, cli_explain.c, cli_bench.c and main.c all call here, and nothing here
 * calls a command. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "shops/shops.h"
#include "infra/fleet.h"
#include "infra/own_cluster.h"
#include "infra/topology.h"
#include "locks/plugin.h"
#include "locks/strategy_def.h"
#include "ovs_config.h"
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

void cli_usage(FILE *f, enum cli_mode mode)
{
    static const char *const what[] = {
        [CLI_RUN] = "Run one scenario against each strategy, check its invariants, record the\n"
                    "runs and write summary.md, results.csv, results.json and index.html.",
        [CLI_MATRIX] = "Run every scenario in the scenario directory against every strategy that\n"
                       "can run here, check the invariants, and print the Markdown matrix (also in\n"
                       "summary.md). Cells the scenario's [expect] does not name get a verdict too,\n"
                       "marked as not gated.",
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
            mode == CLI_EXPLAIN ? ""
            : mode == CLI_MATRIX ? ";\n                                 default: every registered strategy"
                                 : ";\n                                 default: those in each scenario's [expect]");
    fprintf(f, "  -d, --scenarios DIR            scenario directory (default: scenarios)\n"
               "      --strategies DIR           more strategy definition files (*.ini) to\n"
               "                                 register, after the shipped ones in\n"
               "                                 strategies/ (repeatable)\n"
               "      --plugin PATH              a C plugin (lib.so) registering strategies\n"
               "                                 (repeatable)\n"
               "  -o, --out DIR                  output directory (default: reports/out%s); its\n"
               "                                 results.db and reports are replaced\n",
            mode == CLI_EXPLAIN ? "/explain" : "");
    if (mode == CLI_RUN || mode == CLI_MATRIX)
        fprintf(f, "      --check                    exit 1 when a verdict differs from [expect]\n");
    if (mode != CLI_EXPLAIN)
        fprintf(f, "      --repeat N                 run every cell N times, each with a seed of its\n"
                   "                                 own, and report per cell the unsafe rate k/N\n"
                   "                                 with its 95 %% (Wilson) interval, medians and\n"
                   "                                 spread, and the worst run's seed\n");
    fprintf(f, "      --seed S                   the first run's seed instead of the scenario's\n"
               "                                 (a worst run's seed replays it)\n"
               "      --jobs N                   runs side by side (default %d): verdicts do not\n"
               "                                 depend on it, but latency and throughput are\n"
               "                                 then measured sharing the machine (--jobs 1,\n"
               "                                 or oversell bench, for those)\n",
            cli_default_jobs(mode));
    if (mode == CLI_GATE)
        fprintf(f, "      --junit FILE               also write JUnit XML, one test case per cell\n"
                   "      --max-oversold NAME=N      gate NAME on a number instead of a verdict:\n"
                   "                                 pass while it oversells (or double-books) at\n"
                   "                                 most N (repeatable)\n"
                   "      --baseline OLD.db          then compare the results with OLD.db as\n"
                   "                                 `oversell diff` does (its default\n"
                   "                                 tolerances): a figure that got worse fails\n");
    if (mode != CLI_EXPLAIN)
        fprintf(f, "      --metrics FILE             also write the runs as Prometheus text\n"
                   "                                 (for node_exporter's textfile collector)\n");
    if (mode == CLI_EXPLAIN)
        fprintf(f, "      --from DB                  read the latest recorded run from results DB\n"
                   "      --mermaid FILE             also write the run as a Mermaid sequence diagram\n");
    fprintf(f, "      --sql LIST                 the shop's database, one or more (comma-separated,\n"
               "                                 compared side by side): sqlite (the default),\n"
               "                                 postgresql or mysql (a server the harness\n"
               "                                 starts), or a URL of your own server,\n"
               "                                 postgresql://USER@HOST:PORT/DB or mysql://...\n"
               "                                 (password from OVERSELL_SQL_PASSWORD); each run\n"
               "                                 gets a schema or database of its own there\n"
               "      --keep-shop                leave each run's schema or database on the\n"
               "                                 server, and say how to connect to it\n");
    fprintf(f, "      --redis HOST:PORT[,...]    run on your own Redis masters instead of starting\n"
               "                                 any: AUTH from OVERSELL_REDIS_PASSWORD (and\n"
               "                                 OVERSELL_REDIS_USER) or --redis-auth-file; every\n"
               "                                 key under one prefix per run, refused when in\n"
               "                                 use, deleted afterwards (nothing is flushed);\n"
               "                                 cells whose faults need control of the server\n"
               "                                 are n/a with the reason\n"
               "      --sentinel HOST:PORT[,...] --master NAME\n"
               "                                 run on the master your Sentinels name, as\n"
               "                                 --redis does, following a failover; their\n"
               "                                 AUTH from OVERSELL_SENTINEL_PASSWORD (and\n"
               "                                 OVERSELL_SENTINEL_USER) or the auth file's\n"
               "                                 second line\n"
               "      --cluster HOST:PORT[,...]  run on your own Redis Cluster, found from these\n"
               "                                 seed nodes (its masters from CLUSTER SLOTS),\n"
               "                                 as --redis does; every key on its slot's\n"
               "                                 master; strategies that cannot route by slot\n"
               "                                 are n/a, as on a scenario's cluster\n"
               "      --redis-auth-file FILE     its first line: PASSWORD, or USER PASSWORD (the\n"
               "                                 rest of the line; `default` for no ACL user)\n"
               "      --key-prefix P             the run's key prefix (default: oversell:<random>:)\n");
    fprintf(f, "  -q, --quiet                    do not print the summary\n"
               "      --redis-server PATH        redis-server to start (default: found on PATH)\n"
               "  -h, --help                     this help\n\n"
               "Exit status: 0 ok, 1 %s, 2 bad usage or input, 3 environment failure\n"
               "(no redis-server, no disk), 130 interrupted (the run in progress is aborted).\n",
            mode == CLI_GATE ? "a cell did not match its expectation, a run failed, or a\n"
                               "figure got worse than --baseline's"
                             : "a verdict differed from [expect] (with --check) or a run failed");
}

int cli_parse_sql(const char *arg, cli_options *o)
{
    char item[600];
    const char *p = arg;

    o->n_sql = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        const ovs_shopdb_methods *m;
        if (n == 0 || n >= sizeof(item)) {
            fprintf(stderr, "oversell %s: --sql: empty or overlong entry in '%s'\n", o->cmd,
                    arg);
            return EXIT_USAGE;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (o->n_sql == CLI_MAX_SQL) {
            fprintf(stderr, "oversell %s: --sql: at most %d back ends\n", o->cmd, CLI_MAX_SQL);
            return EXIT_USAGE;
        }
        if (strstr(item, "://") != NULL) {
            ovs_sqlurl u;
            char why[200];
            m = ovs_shops_for_url(item);
            if (m == NULL || ovs_sqlurl_parse(item, &u, why, sizeof(why)) != 0) {
                char shown[600];
                ovs_sqlurl_redact(item, shown, sizeof(shown));
                fprintf(stderr, "oversell %s: --sql %s: %s\n", o->cmd, shown,
                        m == NULL ? "not a postgresql:// or mysql:// URL" : why);
                return EXIT_USAGE;
            }
            snprintf(o->sql_url[o->n_sql], sizeof(o->sql_url[0]), "%s", item);
        } else if ((m = ovs_shops_find(item)) != NULL) {
            o->sql_url[o->n_sql][0] = '\0';
        } else {
            fprintf(stderr, "oversell %s: --sql: unknown back end '%s' (sqlite, postgresql,"
                    " mysql, or a URL)\n", o->cmd, item);
            return EXIT_USAGE;
        }
        o->sql[o->n_sql++] = m;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    return 0;
}

/* A comma-separated HOST:PORT list for option opt into eps[0..max), *n of them, each
 * named once (one server named twice would be two of a Redlock's "independent" nodes, or
 * one Sentinel asked twice). 0, or EXIT_USAGE after saying what is wrong. */
static int parse_hostports(const cli_options *o, const char *opt, const char *arg,
                           ovs_endpoint *eps, int max, int *n_out)
{
    const char *p = arg;
    int n = 0;

    for (;;) {
        size_t len = strcspn(p, ",");
        char item[128], *colon;
        long long port;
        if (len == 0 || len >= sizeof(item)) {
            fprintf(stderr, "oversell %s: %s: empty or overlong entry in '%s'\n", o->cmd, opt,
                    arg);
            return EXIT_USAGE;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        colon = strrchr(item, ':');
        if (colon == NULL || colon == item || (size_t)(colon - item) >= sizeof(eps[0].host) ||
            ovs_parse_int(colon + 1, 1, 65535, &port) != 0) {
            fprintf(stderr, "oversell %s: %s: '%s' is not HOST:PORT\n", o->cmd, opt, item);
            return EXIT_USAGE;
        }
        if (n == max) {
            fprintf(stderr, "oversell %s: %s: at most %d servers\n", o->cmd, opt, max);
            return EXIT_USAGE;
        }
        *colon = '\0';
        for (int i = 0; i < n; i++)
            if (eps[i].port == (int)port && strcmp(eps[i].host, item) == 0) {
                fprintf(stderr, "oversell %s: %s: %s:%lld given twice\n", o->cmd, opt, item,
                        port);
                return EXIT_USAGE;
            }
        ovs_endpoint *ep = &eps[n++];
        memset(ep, 0, sizeof(*ep));
        memcpy(ep->host, item, (size_t)(colon - item) + 1); /* fits: checked above */
        ep->port = (int)port;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *n_out = n;
    return 0;
}

int cli_parse_redis(const char *arg, cli_options *o)
{
    o->n_own_redis = 0;
    return parse_hostports(o, "--redis", arg, o->own_redis, OVS_MAX_NODES, &o->n_own_redis);
}

int cli_parse_sentinel(const char *arg, cli_options *o)
{
    ovs_endpoint eps[OVS_MAX_SENTINELS];
    ovs_sentinel_set *set = &o->own_sentinels;
    int n = 0;

    set->n = 0;
    if (parse_hostports(o, "--sentinel", arg, eps, OVS_MAX_SENTINELS, &n) != 0)
        return EXIT_USAGE;
    for (int i = 0; i < n; i++) {
        memcpy(set->ep[i].host, eps[i].host, sizeof(set->ep[i].host));
        set->ep[i].port = eps[i].port;
    }
    set->n = n;
    return 0;
}

int cli_parse_cluster(const char *arg, cli_options *o)
{
    o->n_cluster_seeds = 0;
    return parse_hostports(o, "--cluster", arg, o->cluster_seeds, OVS_MAX_NODES,
                           &o->n_cluster_seeds);
}

/* One login line of --redis-auth-file into a: "PASSWORD", or "USER PASSWORD" with the
 * password the rest of the line after the first blank. 0, or -1 for an empty line or a
 * blank with nothing on one side. */
static int login_line(char *line, ovs_redis_auth *a)
{
    char *sp;

    line[strcspn(line, "\r\n")] = '\0';
    sp = strchr(line, ' ');
    if (line[0] == '\0' || (sp != NULL && (sp == line || sp[1] == '\0')))
        return -1;
    if (sp != NULL) {
        *sp = '\0';
        snprintf(a->user, sizeof(a->user), "%s", line);
        snprintf(a->password, sizeof(a->password), "%s", sp + 1);
    } else {
        snprintf(a->password, sizeof(a->password), "%s", line);
    }
    return 0;
}

/* A login from the environment: *_PASSWORD, with *_USER for an ACL user. 0, or
 * EXIT_USAGE when only the user is set. */
static int login_env(const cli_options *o, const char *pw_var, const char *user_var,
                     ovs_redis_auth *a)
{
    const char *pw = getenv(pw_var), *user = getenv(user_var);

    if (pw != NULL && pw[0] != '\0') {
        snprintf(a->password, sizeof(a->password), "%s", pw);
        snprintf(a->user, sizeof(a->user), "%s", user ? user : "");
    } else if (user != NULL && user[0] != '\0') {
        fprintf(stderr, "oversell %s: %s is set but %s is not\n", o->cmd, user_var, pw_var);
        return EXIT_USAGE;
    }
    return 0;
}

/* The logins for --redis and --sentinel: the first line of --redis-auth-file is the
 * master's, and with --sentinel a second line, when there is one, the Sentinels' own
 * (their requirepass, which need not be the master's); without the file,
 * OVERSELL_REDIS_USER and OVERSELL_REDIS_PASSWORD, and OVERSELL_SENTINEL_USER and
 * OVERSELL_SENTINEL_PASSWORD. Never an argument: those are visible to every user of the
 * machine (ps). 0 with o->own_redis[].auth (and o->own_sentinels.auth) set when there is
 * a password, or EXIT_USAGE. */
static int redis_login(cli_options *o)
{
    ovs_redis_auth *a = &o->redis_auth, *sa = &o->sentinel_auth;
    int sentinel = o->own_sentinels.n > 0;

    memset(a, 0, sizeof(*a));
    memset(sa, 0, sizeof(*sa));
    if (o->auth_file != NULL) {
        char line[512], line2[512];
        struct stat st;
        FILE *f = fopen(o->auth_file, "r");
        if (f == NULL) {
            fprintf(stderr, "oversell %s: --redis-auth-file %s: %s\n", o->cmd, o->auth_file,
                    strerror(errno));
            return EXIT_USAGE;
        }
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
            fprintf(stderr, "oversell %s: warning: --redis-auth-file %s can be read by"
                    " others (chmod 600 it)\n", o->cmd, o->auth_file);
        if (fgets(line, sizeof(line), f) == NULL)
            line[0] = '\0';
        if (!sentinel || fgets(line2, sizeof(line2), f) == NULL)
            line2[0] = '\0';
        fclose(f);
        if (login_line(line, a) != 0 ||
            (line2[0] != '\0' && login_line(line2, sa) != 0)) {
            fprintf(stderr, "oversell %s: --redis-auth-file %s:%d: give PASSWORD or USER"
                    " PASSWORD\n", o->cmd, o->auth_file, a->password[0] == '\0' ? 1 : 2);
            return EXIT_USAGE;
        }
    } else if (login_env(o, "OVERSELL_REDIS_PASSWORD", "OVERSELL_REDIS_USER", a) != 0 ||
               (sentinel && login_env(o, "OVERSELL_SENTINEL_PASSWORD",
                                      "OVERSELL_SENTINEL_USER", sa) != 0)) {
        return EXIT_USAGE;
    }
    for (int i = 0; i < o->n_own_redis; i++)
        o->own_redis[i].auth = a->password[0] != '\0' ? a : NULL;
    for (int i = 0; i < o->n_cluster_seeds; i++)
        o->cluster_seeds[i].auth = a->password[0] != '\0' ? a : NULL;
    o->own_sentinels.auth = sa->password[0] != '\0' ? sa : NULL;
    return 0;
}

const char *cli_own_opt(const cli_options *o)
{
    return o->own_sentinels.n > 0 ? "--sentinel" : o->n_cluster_seeds > 0 ? "--cluster"
                                                                         : "--redis";
}

/* --cluster: every master of the user's cluster, from its seeds' CLUSTER SLOTS, into
 * own_redis[], and where they are on stderr. 0, or EXIT_ENV after saying why. */
static int find_cluster_masters(cli_options *o)
{
    char why[300];
    int n;

    if (ovs_own_cluster_map(o->cluster_seeds, o->n_cluster_seeds, o->own_redis,
                            OVS_MAX_NODES, &n, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "oversell %s: --cluster %s\n", o->cmd, why);
        return EXIT_ENV;
    }
    o->n_own_redis = n;
    fprintf(stderr, "oversell %s: --cluster: %d master%s at", o->cmd, n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s %s:%d", i ? "," : "", o->own_redis[i].host, o->own_redis[i].port);
    fprintf(stderr, "\n");
    return 0;
}

int cli_own_redis_check(cli_options *o, const char *prefix)
{
    char why[300];

    /* Where the Sentinels say the master is now: for the messages; every connection asks
     * them again (core/endpoint.h). */
    if (o->own_sentinels.n > 0 &&
        ovs_sentinel_master(&o->own_sentinels, 1000, &o->own_redis[0], why, sizeof(why)) != 0) {
        fprintf(stderr, "oversell %s: --sentinel: %s\n", o->cmd, why);
        return EXIT_ENV;
    }
    if (o->n_cluster_seeds > 0 && find_cluster_masters(o) != 0)
        return EXIT_ENV;
    if (o->own_sentinels.n > 0) {
        o->own_redis[0].auth = o->redis_auth.password[0] != '\0' ? &o->redis_auth : NULL;
        fprintf(stderr, "oversell %s: --sentinel: master %s is at %s:%d\n", o->cmd,
                o->own_sentinels.master, o->own_redis[0].host, o->own_redis[0].port);
    }
    for (int i = 0; i < o->n_own_redis; i++) {
        long long found;
        char err[300];
        if (ovs_topology_scan_prefix(&o->own_redis[i], prefix, 0, &found, err,
                                     sizeof(err)) != 0) {
            fprintf(stderr, "oversell %s: %s %s\n", o->cmd, cli_own_opt(o), err);
            return EXIT_ENV;
        }
        if (found > 0) {
            fprintf(stderr, "oversell %s: %s %s:%d already has keys under %s: another"
                    " run's, or not oversell's (choose another --key-prefix)\n", o->cmd,
                    cli_own_opt(o), o->own_redis[i].host, o->own_redis[i].port, prefix);
            return EXIT_ENV;
        }
    }
    return 0;
}

void cli_own_redis_clean(const cli_options *o, const char *prefix)
{
    for (int i = 0; i < o->n_own_redis; i++) {
        long long found;
        char err[300];
        if (ovs_topology_scan_prefix(&o->own_redis[i], prefix, 1, &found, err,
                                     sizeof(err)) != 0)
            fprintf(stderr, "oversell %s: %s: the run's keys (%s*) may be left: %s\n",
                    o->cmd, cli_own_opt(o), prefix, err);
        else if (found > 0)
            fprintf(stderr, "oversell %s: %s %s:%d: deleted %lld key%s the runs left"
                    " under %s\n", o->cmd, cli_own_opt(o), o->own_redis[i].host, o->own_redis[i].port,
                    found, found == 1 ? "" : "s", prefix);
    }
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

const char *cli_default_strategies(void)
{
    struct stat st;
    static char buf[600];
    if (stat("strategies", &st) == 0 && S_ISDIR(st.st_mode))
        return "strategies";
    snprintf(buf, sizeof(buf), "%s/strategies", OVS_SOURCE_DIR);
    if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return buf;
    return NULL;
}

/* The value of option opt at argv[*i] ("--opt VALUE" or "--opt=VALUE"), advancing *i past
 * it; NULL when argv[*i] is not opt. *missing is set when opt has no value. */
static const char *take(int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);

    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

/* Whether dirs[k] names the same directory as one of dirs[0..k-1]. */
static int already_read(const char *const *dirs, int k)
{
    struct stat a, b;

    if (stat(dirs[k], &a) != 0)
        return 0; /* the loader says why it cannot be read */
    for (int j = 0; j < k; j++)
        if (stat(dirs[j], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return 1;
    return 0;
}

int cli_register_strategies(const char *cmd, int *argc, char **argv)
{
    const char *dirs[CLI_MAX_STRATEGIES + 1], *plugins[CLI_MAX_STRATEGIES];
    int n_dirs = 0, n_plugins = 0, out = 1, missing = 0, i;
    char err[700];

    for (i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        const char *v;
        if ((v = take(*argc, argv, &i, "--strategies", &missing)) != NULL) {
            if (n_dirs == CLI_MAX_STRATEGIES) {
                fprintf(stderr, "oversell %s: too many --strategies options\n", cmd);
                return EXIT_USAGE;
            }
            dirs[n_dirs++] = v;
        } else if ((v = take(*argc, argv, &i, "--plugin", &missing)) != NULL) {
            if (n_plugins == CLI_MAX_STRATEGIES) {
                fprintf(stderr, "oversell %s: too many --plugin options\n", cmd);
                return EXIT_USAGE;
            }
            plugins[n_plugins++] = v;
        } else if (missing) {
            fprintf(stderr, "oversell %s: option '%s' needs a value\n", cmd, argv[i]);
            return EXIT_USAGE;
        } else {
            argv[out++] = argv[i];
        }
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    *argc = out;
    argv[out] = NULL;

    /* The shipped definitions first, always: the shipped scenarios name them in their
     * [expect] and [strategy] sections, so a user's own directory adds to them rather than
     * replacing them. A directory given twice (the default named again) is read once. */
    const char *shipped = cli_default_strategies();
    if (shipped != NULL) {
        memmove(dirs + 1, dirs, (size_t)n_dirs * sizeof(dirs[0]));
        dirs[0] = shipped;
        n_dirs++;
    }
    for (int k = 0; k < n_dirs; k++) {
        if (already_read(dirs, k))
            continue;
        if (ovs_strategy_defs_register_dir(dirs[k], err, sizeof(err)) < 0) {
            fprintf(stderr, "oversell %s: %s\n", cmd, err);
            return EXIT_USAGE;
        }
    }
    for (int k = 0; k < n_plugins; k++) {
        if (ovs_plugin_load(plugins[k], err, sizeof(err)) != 0) {
            fprintf(stderr, "oversell %s: %s\n", cmd, err);
            return EXIT_USAGE;
        }
    }
    return 0;
}

int cli_check_metrics(const char *cmd, const char *path)
{
    char dir[600];
    struct stat st;

    /* Checked before anything starts: a typo in the directory would otherwise be found
     * only after the whole matrix had run. */
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (path[0] == '\0' || path[strlen(path) - 1] == '/' ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "oversell %s: --metrics %s: give a file name\n", cmd, path);
        return EXIT_USAGE;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "oversell %s: --metrics %s: no directory %s\n", cmd, path, dir);
        return EXIT_USAGE;
    }
    return 0;
}

int cli_open_results(const char *cmd, const char *path, sqlite3 **db)
{
    /* The columns the reports and diff cannot do without: an old database missing a
     * newer column still reads, a file of something else does not. */
    static const char probe[] =
        "SELECT id, scenario, strategy, params, status, verdict, p99_ns, backend FROM runs"
        " LIMIT 0; SELECT run, invariant, observed FROM checks LIMIT 0";
    const char *sql = probe;

    *db = NULL;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "oversell %s: %s: %s\n", cmd, path, strerror(errno));
        return EXIT_USAGE;
    }
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto bad;
    while (*sql != '\0') {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(*db, sql, -1, &st, &sql) != SQLITE_OK)
            goto bad;
        sqlite3_finalize(st);
    }
    return 0;
bad:
    fprintf(stderr, "oversell %s: %s: not a results database (%s)\n", cmd, path,
            *db ? sqlite3_errmsg(*db) : "out of memory");
    sqlite3_close(*db);
    *db = NULL;
    return EXIT_USAGE;
}

int cli_check_available(const char *cmd, const ovs_strategy_methods *m)
{
    const char *why = ovs_strategy_unavailable(m);
    if (why == NULL)
        return 0;
    fprintf(stderr, "oversell %s: strategy %s cannot run on this machine: %s\n", cmd, m->name,
            why);
    return EXIT_USAGE;
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
        { "sql", required_argument, NULL, 'S' },
        { "keep-shop", no_argument, NULL, 'K' },
        { "repeat", required_argument, NULL, 'R' },
        { "jobs", required_argument, NULL, 'J' },
        { "seed", required_argument, NULL, 'E' },
        { "metrics", required_argument, NULL, 'P' },
        { "baseline", required_argument, NULL, 'B' },
        { "redis", required_argument, NULL, 'U' },
        { "redis-auth-file", required_argument, NULL, 'A' },
        { "key-prefix", required_argument, NULL, 'X' },
        { "sentinel", required_argument, NULL, 'T' },
        { "master", required_argument, NULL, 'N' },
        { "cluster", required_argument, NULL, 'L' },
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
        case 'S':
            if (cli_parse_sql(optarg, o) != 0)
                return EXIT_USAGE;
            break;
        case 'K': o->keep_shop = 1; break;
        case 'R': {
            long long n = 1;
            allowed = o->mode != CLI_EXPLAIN; /* explain refuses it below, as not its own */
            if (allowed && ovs_parse_int(optarg, 1, CLI_MAX_REPEAT, &n) != 0) {
                fprintf(stderr, "oversell %s: --repeat takes a whole number from 1 to %d,"
                        " got '%s'\n", o->cmd, CLI_MAX_REPEAT, optarg);
                return EXIT_USAGE;
            }
            o->repeat = (int)n;
            break;
        }
        case 'J': {
            long long n;
            if (ovs_parse_int(optarg, 1, CLI_MAX_JOBS, &n) != 0) {
                fprintf(stderr, "oversell %s: --jobs takes a whole number from 1 to %d, got"
                        " '%s'\n", o->cmd, CLI_MAX_JOBS, optarg);
                return EXIT_USAGE;
            }
            o->jobs = (int)n;
            break;
        }
        case 'E':
            if (ovs_parse_u64(optarg, &o->seed) != 0) {
                fprintf(stderr, "oversell %s: --seed takes a whole number from 0 to %llu,"
                        " got '%s'\n", o->cmd, (unsigned long long)UINT64_MAX, optarg);
                return EXIT_USAGE;
            }
            o->seed_given = 1;
            break;
        case 'P':
            allowed = o->mode != CLI_EXPLAIN;
            o->metrics = optarg;
            if (allowed && cli_check_metrics(o->cmd, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'B': {
            sqlite3 *db = NULL;
            allowed = o->mode == CLI_GATE;
            o->baseline = optarg;
            /* Checked now, not after the matrix has run for minutes. */
            if (allowed && cli_open_results(o->cmd, optarg, &db) != 0)
                return EXIT_USAGE;
            sqlite3_close(db);
            break;
        }
        case 'U':
            if (cli_parse_redis(optarg, o) != 0)
                return EXIT_USAGE;
            break;
        case 'A': o->auth_file = optarg; break;
        case 'T':
            if (cli_parse_sentinel(optarg, o) != 0)
                return EXIT_USAGE;
            break;
        case 'L':
            if (cli_parse_cluster(optarg, o) != 0)
                return EXIT_USAGE;
            break;
        case 'N':
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof(o->own_sentinels.master) ||
                strpbrk(optarg, " \t\r\n") != NULL) {
                fprintf(stderr, "oversell %s: --master '%s': not a Sentinel master name\n",
                        o->cmd, optarg);
                return EXIT_USAGE;
            }
            snprintf(o->own_sentinels.master, sizeof(o->own_sentinels.master), "%s", optarg);
            break;
        case 'X': {
            const char *bad = ovs_key_prefix_bad(optarg);
            if (bad != NULL) {
                fprintf(stderr, "oversell %s: --key-prefix '%s': %s\n", o->cmd, optarg, bad);
                return EXIT_USAGE;
            }
            o->key_prefix = optarg;
            break;
        }
        case 'h': cli_usage(stdout, o->mode); return -1;
        default: cli_usage(stderr, o->mode); return EXIT_USAGE;
        }
        if (!allowed) {
            fprintf(stderr, "oversell %s: option '%s' does not apply here\n", o->cmd,
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    /* --sentinel names one master by its Sentinels, --redis masters by address: one or
     * the other, and a --master to ask the Sentinels about. */
    if ((o->own_sentinels.n > 0) != (o->own_sentinels.master[0] != '\0') ||
        (o->own_sentinels.n > 0 && o->n_own_redis > 0)) {
        fprintf(stderr, "oversell %s: %s\n", o->cmd,
                o->own_sentinels.n == 0 ? "--master applies only with --sentinel"
                : o->n_own_redis > 0    ? "give --redis or --sentinel, not both"
                                        : "--sentinel needs --master NAME (the name the"
                                          " Sentinels monitor it by)");
        return EXIT_USAGE;
    }
    /* --cluster names the seeds of one cluster, whose masters it finds itself. */
    if (o->n_cluster_seeds > 0 && (o->n_own_redis > 0 || o->own_sentinels.n > 0)) {
        fprintf(stderr, "oversell %s: give --cluster, --redis or --sentinel, one of them\n",
                o->cmd);
        return EXIT_USAGE;
    }
    /* Until cli_own_redis_check finds the masters, the first seed stands for them: a
     * cluster node, for the n/a decisions made before anything is asked. */
    if (o->n_cluster_seeds > 0) {
        o->own_redis[0] = o->cluster_seeds[0];
        o->own_redis[0].cluster = 1;
        o->n_own_redis = 1;
    }
    if (o->own_sentinels.n > 0) /* found at cli_own_redis_check, asked again at every connect */
        o->own_redis[o->n_own_redis++] = (ovs_endpoint){ .sentinels = &o->own_sentinels };
    if (o->n_own_redis == 0 && (o->auth_file != NULL || o->key_prefix != NULL)) {
        fprintf(stderr, "oversell %s: --%s applies only with --redis, --sentinel or"
                " --cluster\n", o->cmd,
                o->auth_file ? "redis-auth-file" : "key-prefix");
        return EXIT_USAGE;
    }
    if (o->n_own_redis > 0 && redis_login(o) != 0)
        return EXIT_USAGE;
    if (o->scenarios_dir == NULL)
        o->scenarios_dir = cli_default_scenarios();
    return 0;
}


int cli_default_jobs(enum cli_mode mode)
{
    return mode == CLI_MATRIX || mode == CLI_GATE ? CLI_DEFAULT_JOBS : 1;
}

uint64_t cli_cell_seed(uint64_t base, int rep)
{
    if (rep == 0)
        return base;
    uint64_t z = base + (uint64_t)rep * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
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
