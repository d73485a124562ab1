/* metrics.c - the Prometheus text exposition of a results database (metrics.h).
 *
 * One query gives a row per cell with everything every family needs; the families are
 * written one after the other by stepping it again, because the format wants all the
 * samples of one metric together under its HELP and TYPE lines. The buckets are counted
 * by SQL as "duration <= bound", so each count includes the ones below it by definition:
 * cumulative, as the format requires, without adding anything up here. */
#include "reports/metrics.h"

#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/report.h"
#include "reports/results_db.h"
#include "core/util.h"

/* The buckets' upper bounds: the text of the le label, and the same bound in ns. */
static const struct {
    const char *le;
    int64_t ns;
} metrics_buckets[] = {
    { "0.001", 1000000LL },
    { "0.01", 10000000LL },
    { "0.1", 100000000LL },
    { "1", 1000000000LL },
    { "5", 5000000000LL },
};
#define METRICS_NBUCKETS (int)(sizeof metrics_buckets / sizeof metrics_buckets[0])

/* The columns of the per-cell query, in order; the buckets follow M_BUCKET0. */
enum {
    M_SCENARIO,
    M_STRATEGY,
    M_BACKEND,
    M_OK_RUNS,
    M_UNSAFE_RUNS,
    M_OVERSOLD,   /* NULL: no ok run of the cell has a primary check */
    M_COUNT,      /* acquisitions */
    M_SUM_NS,     /* their total duration */
    M_FAILURES,   /* of them, outcome 'fail' */
    M_BUCKET0,
};

/* Longest path write_file builds; longer names are refused, not truncated. */
#define METRICS_PATH_MAX 4096

/* Build the per-cell query into sql. The acquisitions are aggregated per run first and
 * joined to the runs after, so a cell with no events (or only n/a runs besides its ok
 * ones) still has its row with zeros. */
static void metrics_sql(char *sql, size_t len)
{
    size_t used = 0;
    int n = snprintf(sql, len,
                     "SELECT r.scenario, r.strategy, COALESCE(r.backend, 'sqlite') AS b,"
                     " SUM(r.status = 'ok'), SUM(r.status = 'ok' AND r.verdict = 'unsafe'),"
                     " MAX(CASE WHEN r.status = 'ok' THEN (SELECT MAX(c.observed) FROM checks c"
                     "  WHERE c.run = r.id AND c." OVS_RDB_PRIMARY_CHECK ") END),"
                     " COALESCE(SUM(a.n), 0), COALESCE(SUM(a.sum_ns), 0),"
                     " COALESCE(SUM(a.fails), 0)");
    used = (size_t)n;
    for (int i = 0; i < METRICS_NBUCKETS; i++) {
        n = snprintf(sql + used, len - used, ", COALESCE(SUM(a.le%d), 0)", i);
        used += (size_t)n;
    }
    n = snprintf(sql + used, len - used,
                 " FROM runs r LEFT JOIN (SELECT run, COUNT(*) AS n,"
                 " SUM(end_ns - start_ns) AS sum_ns, SUM(outcome = 'fail') AS fails");
    used += (size_t)n;
    for (int i = 0; i < METRICS_NBUCKETS; i++) {
        n = snprintf(sql + used, len - used, ", SUM(end_ns - start_ns <= %lld) AS le%d",
                     (long long)metrics_buckets[i].ns, i);
        used += (size_t)n;
    }
    snprintf(sql + used, len - used,
             " FROM events WHERE op = 'acquire' GROUP BY run) a ON a.run = r.id"
             " WHERE r.status <> 'n/a'"
             " GROUP BY r.scenario, r.strategy, b ORDER BY MIN(r.id)");
}

/* A label value as the format escapes it: backslash, double quote and line feed. */
static void metrics_label(FILE *out, const char *name, const char *v, int last)
{
    fprintf(out, "%s=\"", name);
    for (const char *p = v ? v : ""; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '"')
            fputs("\\\"", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fputs(last ? "\"" : "\",", out);
}

/* The cell's labels, without the braces; more labels may follow when !last. */
static void metrics_labels(FILE *out, sqlite3_stmt *st, int last)
{
    metrics_label(out, "scenario", ovs_rdb_text(st, M_SCENARIO), 0);
    metrics_label(out, "strategy", ovs_rdb_text(st, M_STRATEGY), 0);
    metrics_label(out, "backend", ovs_rdb_text(st, M_BACKEND), last);
}

/* One sample line of an integer value: name{labels} value. */
static void metrics_sample(FILE *out, const char *name, sqlite3_stmt *st, long long v)
{
    fprintf(out, "%s{", name);
    metrics_labels(out, st, 1);
    fprintf(out, "} %lld\n", v);
}

static void metrics_histogram(FILE *out, sqlite3_stmt *st)
{
    const char *name = "redis_lock_acquisition_seconds";
    char sum[48];

    for (int i = 0; i <= METRICS_NBUCKETS; i++) {
        int col = i < METRICS_NBUCKETS ? M_BUCKET0 + i : M_COUNT;
        fprintf(out, "%s_bucket{", name);
        metrics_labels(out, st, 0);
        fprintf(out, "le=\"%s\"} %lld\n", i < METRICS_NBUCKETS ? metrics_buckets[i].le : "+Inf",
                (long long)sqlite3_column_int64(st, col));
    }
    /* Seconds with every digit of the nanoseconds: integer arithmetic, exact text. */
    ovs_report_fixed(sqlite3_column_int64(st, M_SUM_NS), 1000000000LL, 9, sum, sizeof sum);
    fprintf(out, "%s_sum{", name);
    metrics_labels(out, st, 1);
    fprintf(out, "} %s\n", sum);
    metrics_sample(out, "redis_lock_acquisition_seconds_count", st,
                   (long long)sqlite3_column_int64(st, M_COUNT));
}

/* The families, in the order they are written. */
enum metrics_family { F_ACQUIRE, F_FAILURES, F_OK_RUNS, F_UNSAFE_RUNS, F_OVERSOLD, F_N };

static const struct {
    const char *name, *type, *help;
} metrics_families[F_N] = {
    [F_ACQUIRE] = { "redis_lock_acquisition_seconds", "histogram",
                    "Time each recorded lock acquisition took, whatever its outcome." },
    [F_FAILURES] = { "redis_lock_failures_total", "counter",
                     "Recorded lock acquisitions that certainly did not take the lock"
                     " (outcome fail: busy, refused or never sent); unknown outcomes are"
                     " not counted." },
    [F_OK_RUNS] = { "oversell_ok_runs", "gauge", "Runs of the cell that completed (status ok)." },
    [F_UNSAFE_RUNS] = { "oversell_unsafe_runs", "gauge",
                        "Completed runs of the cell judged unsafe." },
    [F_OVERSOLD] = { "oversell_oversold", "gauge",
                     "Worst oversell or double booking among the cell's completed runs." },
};

static void metrics_row(FILE *out, enum metrics_family f, sqlite3_stmt *st)
{
    switch (f) {
    case F_ACQUIRE: metrics_histogram(out, st); break;
    case F_FAILURES:
        metrics_sample(out, metrics_families[f].name, st, sqlite3_column_int64(st, M_FAILURES));
        break;
    case F_OK_RUNS:
        metrics_sample(out, metrics_families[f].name, st, sqlite3_column_int64(st, M_OK_RUNS));
        break;
    case F_UNSAFE_RUNS:
        metrics_sample(out, metrics_families[f].name, st,
                       sqlite3_column_int64(st, M_UNSAFE_RUNS));
        break;
    case F_OVERSOLD:
        if (sqlite3_column_type(st, M_OVERSOLD) != SQLITE_NULL)
            metrics_sample(out, metrics_families[f].name, st,
                           sqlite3_column_int64(st, M_OVERSOLD));
        break;
    case F_N: break;
    }
}

int ovs_metrics_write(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    char sql[2048];
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;

    metrics_sql(sql, sizeof sql);
    if (ovs_rdb_prepare(results, sql, &st, err, errlen) < 0)
        return -1;
    for (int f = 0; f < F_N && rc == SQLITE_DONE; f++) {
        /* HELP text escapes backslash and line feed; these have neither. */
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metrics_families[f].name,
                metrics_families[f].help, metrics_families[f].name, metrics_families[f].type);
        sqlite3_reset(st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            metrics_row(out, (enum metrics_family)f, st);
    }
    if (rc != SQLITE_DONE)
        return ovs_rdb_fail(results, st, "runs", err, errlen);
    sqlite3_finalize(st);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing the metrics failed");
        return -1;
    }
    return 0;
}

int ovs_metrics_write_file(sqlite3 *results, const char *path, char *err, size_t errlen)
{
    char tmp[METRICS_PATH_MAX], dir[METRICS_PATH_MAX], base[METRICS_PATH_MAX];

    if (strlen(path) >= sizeof dir) {
        ovs_seterr(err, errlen, "%s: name too long", path);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    /* dirname and basename may modify their argument: each gets its own copy. The file is
     * replaced as the reports are (a reader, node_exporter's textfile collector, sees the
     * old file or the new one), by the same temporary-then-rename. */
    const char *d = dirname(dir), *b = basename(base);
    if (ovs_report_write_temp(results, d, b, ovs_metrics_write, tmp, sizeof tmp, err,
                              errlen) < 0)
        return -1;
    if (rename(tmp, path) < 0) {
        ovs_seterr(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return ovs_report_sync_dir(d, err, errlen);
}
