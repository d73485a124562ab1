/* cli_diff.c - `oversell diff OLD.db NEW.db`, and the same comparison for
 * `oversell gate --baseline OLD.db`.
 *
 * The figures and the comparison are reports/baseline.c's; here are the options that set
 * the tolerances, opening the two files (a missing file or one that is not a results
 * database is bad input, named, exit 2) and the exit status: 0 nothing got worse beyond
 * its tolerance, 1 something did. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "core/util.h"
#include "reports/baseline.h"

static void diff_usage(FILE *f)
{
    fprintf(f,
            "usage: oversell diff OLD.db NEW.db [options]\n"
            "\n"
            "Compares two results databases cell by cell (scenario, strategy, back end and\n"
            "parameters; over each cell's completed runs) and fails when a figure got worse\n"
            "beyond its tolerance: the unsafe rate k/N, the worst oversell or double booking,\n"
            "the median p99 latency, and, when asked, the median lost sales. A cell that\n"
            "completed runs before and none now is worse too. Prints the cells that got\n"
            "worse (cell, figure, old, new, change), then the cells in one database only.\n"
            "\n"
            "options:\n"
            "      --max-oversold-increase N     oversold may grow by N (default 0)\n"
            "      --max-unsafe-rate-increase R  the unsafe rate may grow by R, 0..1 (default 0)\n"
            "      --max-p99-increase PCT        the median p99 may grow by PCT %% (default 50)\n"
            "      --min-p99-increase-ms MS      ... and a growth below MS never counts\n"
            "                                    (default 1)\n"
            "      --max-lost-sales-increase N   compare lost sales too: they may grow by N\n"
            "                                    (default: not compared)\n"
            "      --strict                      a cell in one database only counts as worse\n"
            "  -h, --help                        this help\n"
            "\n"
            "Exit status: 0 nothing got worse beyond its tolerance, 1 something did, 2 bad\n"
            "usage or input (a missing file, not a results database), 3 the output failed.\n");
}

/* A number in [min, max] from the option opt, or EXIT_USAGE after saying so. */
static int parse_number(const char *opt, const char *text, double min, double max,
                        double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end != '\0' || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "oversell diff: %s takes a number from %g to %g, got '%s'\n", opt, min,
                max, text);
        return EXIT_USAGE;
    }
    *out = v;
    return 0;
}

/* A whole count of 0 or more from the option opt, or EXIT_USAGE after saying so. */
static int parse_count(const char *opt, const char *text, int64_t *out)
{
    long long n;

    if (ovs_parse_int(text, 0, 1000000000000LL, &n) != 0) {
        fprintf(stderr, "oversell diff: %s takes a whole number of 0 or more, got '%s'\n",
                opt, text);
        return EXIT_USAGE;
    }
    *out = n;
    return 0;
}

/* Load the cells of the results database at path, opened read-only. */
static int load(const char *cmd, const char *path, ovs_cellset *set)
{
    sqlite3 *db;
    char err[300];
    int rc = cli_open_results(cmd, path, &db);

    if (rc != 0)
        return rc;
    if (ovs_cellset_load(db, set, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: %s: not a results database (%s)\n", cmd, path, err);
        sqlite3_close(db);
        return EXIT_USAGE;
    }
    sqlite3_close(db);
    return 0;
}

/* Compare and write; the exit status. */
static int compare(const char *cmd, const ovs_cellset *old, const ovs_cellset *new,
                   const ovs_diff_limits *l, FILE *out)
{
    ovs_diff_result res;
    char err[200];

    if (ovs_diff_write(old, new, l, out, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: %s\n", cmd, err);
        return EXIT_ENV;
    }
    return res.worse > 0 ? EXIT_VERDICT : 0;
}

int cli_diff_baseline(const char *cmd, const char *old_path, sqlite3 *new_db)
{
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    ovs_cellset old = { 0 }, new = { 0 };
    char err[300];
    int rc;

    if ((rc = load(cmd, old_path, &old)) != 0)
        return rc;
    if (ovs_cellset_load(new_db, &new, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: --baseline: %s\n", cmd, err);
        ovs_cellset_free(&old);
        return EXIT_ENV;
    }
    fprintf(stderr, "baseline %s:\n", old_path);
    rc = compare(cmd, &old, &new, &l, stderr);
    ovs_cellset_free(&old);
    ovs_cellset_free(&new);
    return rc;
}

int cli_diff(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "max-oversold-increase", required_argument, NULL, 'o' },
        { "max-unsafe-rate-increase", required_argument, NULL, 'u' },
        { "max-p99-increase", required_argument, NULL, 'p' },
        { "min-p99-increase-ms", required_argument, NULL, 'f' },
        { "max-lost-sales-increase", required_argument, NULL, 'l' },
        { "strict", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    ovs_diff_limits l = OVS_DIFF_LIMITS_DEFAULT;
    ovs_cellset old = { 0 }, new = { 0 };
    double v;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (parse_count("--max-oversold-increase", optarg, &l.oversold) != 0)
                return EXIT_USAGE;
            break;
        case 'u':
            if (parse_number("--max-unsafe-rate-increase", optarg, 0, 1, &l.unsafe_rate) != 0)
                return EXIT_USAGE;
            break;
        case 'p':
            if (parse_number("--max-p99-increase", optarg, 0, 1e9, &l.p99_pct) != 0)
                return EXIT_USAGE;
            break;
        case 'f':
            if (parse_number("--min-p99-increase-ms", optarg, 0, 1e9, &v) != 0)
                return EXIT_USAGE;
            l.p99_floor_ns = (int64_t)llround(v * 1e6);
            break;
        case 'l':
            if (parse_count("--max-lost-sales-increase", optarg, &l.lost_sales) != 0)
                return EXIT_USAGE;
            break;
        case 's': l.strict = 1; break;
        case 'h': diff_usage(stdout); return 0;
        default: diff_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 2) {
        fprintf(stderr, "oversell diff: give two results databases, OLD and NEW\n");
        return EXIT_USAGE;
    }
    if ((rc = load("diff", argv[optind], &old)) != 0)
        return rc;
    if ((rc = load("diff", argv[optind + 1], &new)) != 0) {
        ovs_cellset_free(&old);
        return rc;
    }
    rc = compare("diff", &old, &new, &l, stdout);
    ovs_cellset_free(&old);
    ovs_cellset_free(&new);
    return rc;
}
