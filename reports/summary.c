/* summary.c - summary.md: the matrix of scenarios x strategies and the detail behind it.
 *
 * Everything comes from the results database (harness/engine/recorder.h). Row and column order is
 * the order of first appearance by run id, not alphabetical, so the matrix reads in the
 * order the scenarios and strategies were run and a re-run of one cell does not reshuffle
 * the table. When a cell was run several times the latest run (highest id) speaks for it;
 * the count is shown so a reader knows there is history. The queries behind the matrix and
 * the scenario sections are shared with index.html (results_db.c). */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>

#include "reports/repeats.h"
#include "reports/results_db.h"
#include "core/answer.h"
#include "core/util.h"

/* Write text as the inside of a Markdown table cell: '|' would end the cell and a line
 * break would end the row, so the first is escaped and the second becomes a space. */
static void sum_cell(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void sum_plural(FILE *out, long long n, const char *one, const char *many)
{
    fprintf(out, "%lld %s", n, n == 1 ? one : many);
}

/* Title and the line of context under it. */
static int sum_header(sqlite3 *db, FILE *out, long long *nruns, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    fputs("# oversell results\n\n", out);
    if (ovs_rdb_prepare(db, OVS_RDB_CONTEXT_SQL, &st, err, errlen) < 0)
        return -1;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return ovs_rdb_finish(db, st, rc, err, errlen);
    *nruns = sqlite3_column_int64(st, 0);
    sum_plural(out, *nruns, "run", "runs");
    if (ovs_rdb_text(st, 1) != NULL)
        fprintf(out, ", first started %s", ovs_rdb_text(st, 1));
    sqlite3_finalize(st);

    for (int k = 0; k < OVS_RDB_NVERSIONS; k++) {
        ovs_rdb_names vs;
        if (ovs_rdb_names_load(db, ovs_rdb_versions[k].sql, &vs, err, errlen) < 0)
            return -1;
        fprintf(out, "; %s ", ovs_rdb_versions[k].label);
        if (vs.n == 0)
            fputs("version not recorded", out);
        for (size_t i = 0; i < vs.n; i++)
            fprintf(out, "%s%s", i ? ", " : "", vs.v[i]);
        ovs_rdb_names_free(&vs);
    }
    fputs(".\n", out);
    return 0;
}

/* A run's verdict in words: the matrix cell without the run count. */
static void sum_verdict(FILE *out, sqlite3_stmt *st)
{
    const char *status = ovs_rdb_text(st, OVS_RDB_CELL_STATUS);
    const char *verdict = ovs_rdb_text(st, OVS_RDB_CELL_VERDICT);
    const char *figure = ovs_rdb_text(st, OVS_RDB_CELL_FIGURE);
    const char *expect = ovs_rdb_text(st, OVS_RDB_CELL_EXPECT);

    if (status == NULL || strcmp(status, "ok") != 0) {
        /* An aborted or failed run proves nothing either way, so it is not compared with
         * its expectation: the cell says why there is no verdict instead. */
        if (status != NULL && strcmp(status, "n/a") == 0 &&
            ovs_rdb_text(st, OVS_RDB_CELL_ERROR) != NULL) {
            sum_cell(out, ovs_rdb_text(st, OVS_RDB_CELL_ERROR));
        } else if (status != NULL && strcmp(status, "error") == 0) {
            fputs("error", out);
            if (ovs_rdb_text(st, OVS_RDB_CELL_ERROR) != NULL) {
                char head[OVS_RDB_ERROR_HEAD];
                ovs_rdb_error_head(ovs_rdb_text(st, OVS_RDB_CELL_ERROR), head);
                fputs(": ", out);
                sum_cell(out, head);
            }
        } else {
            sum_cell(out, status != NULL ? status : "no status");
        }
        return;
    }
    if (verdict == NULL) {
        fputs("no verdict", out);
    } else if (strcmp(verdict, "unsafe") == 0) {
        fputs("**UNSAFE**", out);
        if (figure != NULL) {
            fputc(' ', out);
            sum_cell(out, figure);
        }
    } else {
        sum_cell(out, verdict);
        if (figure != NULL) {
            fputs(": ", out);
            sum_cell(out, figure);
        }
    }
    if (expect != NULL && verdict != NULL && strcmp(expect, verdict) != 0) {
        fputs(" (expected ", out);
        sum_cell(out, expect);
        fputc(')', out);
    }
}

/* A cell run more than once: " · unsafe in k of N runs [lo–hi %]", the 95 % Wilson
 * interval of the rate; runs without a verdict (errors) are counted apart. */
static void sum_rate(FILE *out, sqlite3_stmt *st)
{
    long long count = sqlite3_column_int64(st, OVS_RDB_CELL_COUNT);
    long long k = sqlite3_column_int64(st, OVS_RDB_CELL_UNSAFE);
    long long n = sqlite3_column_int64(st, OVS_RDB_CELL_JUDGED);
    double lo, hi;

    ovs_wilson(k, n, &lo, &hi);
    fprintf(out, " · unsafe in %lld of %lld runs [%.0f–%.0f %%]", k, n, lo * 100, hi * 100);
    if (count > n)
        fprintf(out, ", %lld without a verdict", count - n);
}

static int sum_matrix(sqlite3 *db, FILE *out, const ovs_rdb_names *scen,
                      const ovs_rdb_names *strat, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int ungated = 0;

    fputs("\n## Matrix\n\n| scenario |", out);
    for (size_t j = 0; j < strat->n; j++) {
        fputc(' ', out);
        sum_cell(out, strat->v[j]);
        fputs(" |", out);
    }
    fputs("\n| --- |", out);
    for (size_t j = 0; j < strat->n; j++)
        fputs(" --- |", out);
    fputc('\n', out);

    if (ovs_rdb_prepare(db, OVS_RDB_CELL_SQL, &st, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < scen->n; i++) {
        fputs("| ", out);
        sum_cell(out, scen->v[i]);
        fputs(" |", out);
        for (size_t j = 0; j < strat->n; j++) {
            int rc = ovs_rdb_cell_step(st, scen->v[i], strat->v[j]);
            fputc(' ', out);
            if (rc == SQLITE_DONE) {
                fputs("—", out);
            } else if (rc == SQLITE_ROW) {
                long long count = sqlite3_column_int64(st, OVS_RDB_CELL_COUNT);
                sum_verdict(out, st);
                if (ovs_rdb_text(st, OVS_RDB_CELL_VERDICT) != NULL &&
                    ovs_rdb_text(st, OVS_RDB_CELL_EXPECT) == NULL) {
                    fputs(" †", out);
                    ungated = 1;
                }
                if (count > 1)
                    sum_rate(out, st);
            } else {
                return ovs_rdb_finish(db, st, rc, err, errlen);
            }
            fputs(" |", out);
        }
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    if (ungated)
        fputs("\n† no [expect] entry names it: a verdict the gate does not enforce.\n", out);
    return 0;
}

/* The failing checks of one run as a nested list, with the figures beside its verdict
 * that are not zero. Returns how many checks failed, or -1. */
static int sum_failing_checks(sqlite3 *db, sqlite3_stmt *st, long long run, FILE *out,
                              char *err, size_t errlen)
{
    int n = 0, rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *inv = ovs_rdb_text(st, 0), *obs = ovs_rdb_text(st, 1);
        const char *exp = ovs_rdb_text(st, 2), *detail = ovs_rdb_text(st, 3);
        /* A figure beside the verdict (stale answers) is shown, but it failed nothing. */
        int figure = ovs_check_is_figure(inv);
        if (figure)
            fprintf(out, "  - figure `%s`, beside the verdict: %s", inv, obs ? obs : "—");
        else
            fprintf(out, "  - `%s`: observed %s, expected %s", inv ? inv : "?",
                    obs ? obs : "—", exp ? exp : "—");
        if (detail != NULL && *detail != '\0') {
            /* One line per check: a line break in the detail would end the list item. */
            fputs(". ", out);
            sum_cell(out, detail);
        }
        fputc('\n', out);
        n += !figure;
    }
    if (rc != SQLITE_DONE)
        return ovs_rdb_fail(db, NULL, "checks", err, errlen);
    return n;
}

static int sum_scenarios(sqlite3 *db, FILE *out, const ovs_rdb_names *scen,
                         const ovs_rdb_names *strat, char *err, size_t errlen)
{
    ovs_rdb_stmts q = { 0 };
    int ret = -1;

    if (ovs_rdb_stmts_prepare(db, &q, err, errlen) < 0)
        goto out;

    fputs("\n## Scenarios\n", out);
    for (size_t i = 0; i < scen->n; i++) {
        fprintf(out, "\n### %s\n\n", scen->v[i] ? scen->v[i] : "(unnamed)");
        if (ovs_rdb_about(db, &q, scen->v[i], err, errlen) < 0)
            goto out;
        if (ovs_rdb_text(q.about, 0) != NULL && *ovs_rdb_text(q.about, 0) != '\0')
            fprintf(out, "%s\n\n", ovs_rdb_text(q.about, 0));
        if (ovs_rdb_text(q.about, 1) != NULL)
            fprintf(out, "Scenario file: `%s`\n\n", ovs_rdb_text(q.about, 1));

        for (size_t j = 0; j < strat->n; j++) {
            long long run;
            int n, rc = ovs_rdb_cell_step(q.cell, scen->v[i], strat->v[j]);

            if (rc == SQLITE_DONE)
                continue;
            if (rc != SQLITE_ROW) {
                ovs_rdb_fail(db, NULL, "runs", err, errlen);
                goto out;
            }
            run = sqlite3_column_int64(q.cell, OVS_RDB_CELL_ID);
            fprintf(out, "- **%s** (run %lld): ", strat->v[j] ? strat->v[j] : "(unnamed)",
                    run);
            sum_verdict(out, q.cell);
            fputc('\n', out);
            if ((n = sum_failing_checks(db, q.checks, run, out, err, errlen)) < 0)
                goto out;
            if (n == 0)
                fputs("  - no failing checks\n", out);
        }
    }
    ret = 0;
out:
    ovs_rdb_stmts_finalize(&q);
    return ret;
}

/* A nanosecond column as milliseconds (or seconds) with 3 places; NULL as a dash. */
static void sum_ns(FILE *out, sqlite3_stmt *st, int i, int64_t div)
{
    char buf[48];

    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        fputs("—", out);
        return;
    }
    ovs_report_fixed(sqlite3_column_int64(st, i), div, 3, buf, sizeof buf);
    fputs(buf, out);
}

static int sum_numbers(sqlite3 *db, FILE *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (ovs_rdb_prepare(db,
                        "SELECT id, scenario, " OVS_RDB_COLUMN_EXPR ", params, requests,"
                        " succeeded, refused,"
                        " busy, unknown, errors, throughput, p50_ns, p99_ns, max_ns, acquire_fail,"
                        " retries, duration_ns FROM runs WHERE status != 'n/a' ORDER BY id", &st,
                        err, errlen) < 0)
        return -1;
    fputs("\n## Numbers\n\n"
          "| run | scenario | strategy | params | requests | succeeded | refused | busy"
          " | unknown | errors | req/s | p50 ms | p99 ms | max ms | acquire failures | retries"
          " | duration s |\n"
          "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:"
          " | ---: | ---: | ---: | ---: |\n", out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputc('|', out);
        for (int i = 0; i <= 16; i++) {
            fputc(' ', out);
            if (i >= 11 && i <= 13) {
                sum_ns(out, st, i, OVS_NS_PER_MS);
            } else if (i == 16) {
                sum_ns(out, st, i, OVS_NS_PER_S);
            } else if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                fputs("—", out);
            } else if (i == 10) {
                fprintf(out, "%.1f", sqlite3_column_double(st, i));
            } else {
                sum_cell(out, ovs_rdb_text(st, i));
            }
            fputs(" |", out);
        }
        fputc('\n', out);
    }
    return ovs_rdb_finish(db, st, rc, err, errlen);
}

static int sum_repeats(sqlite3 *db, FILE *out, char *err, size_t errlen)
{
    ovs_rep_cells cells;

    if (ovs_repeats_load(db, &cells, err, errlen) < 0)
        return -1;
    ovs_repeats_md(out, &cells);
    ovs_repeats_free(&cells);
    return 0;
}

int ovs_report_summary(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    ovs_rdb_names scen = { 0 }, strat = { 0 };
    long long nruns = 0;
    int ret = -1;

    if (sum_header(results, out, &nruns, err, errlen) < 0)
        return -1;
    if (nruns == 0) {
        fputs("\nNo runs recorded.\n", out);
        goto check;
    }
    if (ovs_rdb_names_load(results, OVS_RDB_SCENARIOS_SQL, &scen, err, errlen) < 0 ||
        ovs_rdb_names_load(results, OVS_RDB_STRATEGIES_SQL, &strat, err, errlen) < 0 ||
        sum_matrix(results, out, &scen, &strat, err, errlen) < 0 ||
        sum_repeats(results, out, err, errlen) < 0 ||
        sum_scenarios(results, out, &scen, &strat, err, errlen) < 0 ||
        sum_numbers(results, out, err, errlen) < 0)
        goto done;
check:
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing summary failed");
        goto done;
    }
    ret = 0;
done:
    ovs_rdb_names_free(&scen);
    ovs_rdb_names_free(&strat);
    return ret;
}
