/* summary.c - summary.md: the matrix of scenarios x strategies and the detail behind it.
 *
 * Everything comes from the results database (harness/recorder.h). Row and column order is
 * the order of first appearance by run id, not alphabetical, so the matrix reads in the
 * order the scenarios and strategies were run and a re-run of one cell does not reshuffle
 * the table. When a cell was run several times the latest run (highest id) speaks for it;
 * the count is shown so a reader knows there is history. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* An error from a cell's run is cut to this many bytes: the table has to stay readable,
 * and the full text is in results.csv and the database. */
#define SUM_ERROR_MAX 60

/* Scenario or strategy names in order of first appearance. NULL names (not written by the
 * recorder, but the schema does not forbid them) are kept as NULL and matched with IS. */
typedef struct sum_names {
    char **v;   /* names, each malloc'd or NULL */
    size_t n;   /* names in v */
} sum_names;

static void sum_names_free(sum_names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

static const char *sum_col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int sum_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err,
                       size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        ovs_seterr(err, errlen, "reading results: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Finish a statement loop: SQLITE_DONE is success, anything else is an error. */
static int sum_finish(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
    if (rc != SQLITE_DONE) {
        ovs_seterr(err, errlen, "reading results: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Load the distinct values of the single column of sql into ns. */
static int sum_load_names(sqlite3 *db, const char *sql, sum_names *ns, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    ns->v = NULL;
    ns->n = 0;
    if (sum_prepare(db, sql, &st, err, errlen) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = sum_col(st, 0);
        char *copy = NULL;
        if (ns->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(ns->v, ncap * sizeof *nv);
            if (nv == NULL)
                goto oom;
            ns->v = nv;
            cap = ncap;
        }
        if (s != NULL && (copy = strdup(s)) == NULL)
            goto oom;
        ns->v[ns->n++] = copy;
    }
    if (sum_finish(db, st, rc, err, errlen) < 0) {
        sum_names_free(ns);
        return -1;
    }
    return 0;
oom:
    ovs_seterr(err, errlen, "out of memory");
    sqlite3_finalize(st);
    sum_names_free(ns);
    return -1;
}

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

/* The first line of an error, at most SUM_ERROR_MAX bytes, cut on a UTF-8 character
 * boundary so the table never shows half a character. */
static void sum_short_error(FILE *out, const char *e)
{
    size_t n = strcspn(e, "\r\n");
    int cut = 0;
    char buf[SUM_ERROR_MAX + 1];

    if (n > SUM_ERROR_MAX) {
        n = SUM_ERROR_MAX;
        while (n > 0 && ((unsigned char)e[n] & 0xC0) == 0x80)
            n--;
        cut = 1;
    }
    memcpy(buf, e, n);
    buf[n] = '\0';
    sum_cell(out, buf);
    if (cut)
        fputs("…", out);
}

static void sum_plural(FILE *out, long long n, const char *one, const char *many)
{
    fprintf(out, "%lld %s", n, n == 1 ? one : many);
}

/* Title and the line of context under it. */
static int sum_header(sqlite3 *db, FILE *out, long long *nruns, char *err, size_t errlen)
{
    static const char *const kinds[2][2] = {
        { "Redis", "SELECT redis_version FROM runs WHERE redis_version IS NOT NULL"
                   " GROUP BY redis_version ORDER BY MIN(id)" },
        { "SQLite", "SELECT sqlite_version FROM runs WHERE sqlite_version IS NOT NULL"
                    " GROUP BY sqlite_version ORDER BY MIN(id)" },
    };
    sqlite3_stmt *st;
    int rc;

    fputs("# oversell results\n\n", out);
    if (sum_prepare(db, "SELECT COUNT(*), MIN(started_at) FROM runs", &st, err, errlen) < 0)
        return -1;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return sum_finish(db, st, rc, err, errlen);
    *nruns = sqlite3_column_int64(st, 0);
    sum_plural(out, *nruns, "run", "runs");
    if (sum_col(st, 1) != NULL)
        fprintf(out, ", first started %s", sum_col(st, 1));
    sqlite3_finalize(st);

    for (int k = 0; k < 2; k++) {
        sum_names vs;
        if (sum_load_names(db, kinds[k][1], &vs, err, errlen) < 0)
            return -1;
        fprintf(out, "; %s ", kinds[k][0]);
        if (vs.n == 0)
            fputs("version not recorded", out);
        for (size_t i = 0; i < vs.n; i++)
            fprintf(out, "%s%s", i ? ", " : "", vs.v[i]);
        sum_names_free(&vs);
    }
    fputs(".\n", out);
    return 0;
}

/* The latest run of each (scenario, strategy) cell and how many runs the cell has. */
static const char sum_cell_sql[] =
    "SELECT id, status, error, verdict, figure, expect,"
    " (SELECT COUNT(*) FROM runs r2 WHERE r2.scenario IS r.scenario"
    "  AND r2.strategy IS r.strategy)"
    " FROM runs r WHERE scenario IS ?1 AND strategy IS ?2 ORDER BY id DESC LIMIT 1";

enum { SC_ID, SC_STATUS, SC_ERROR, SC_VERDICT, SC_FIGURE, SC_EXPECT, SC_COUNT };

/* Step the cell statement for one scenario and strategy. Returns SQLITE_ROW, SQLITE_DONE
 * (no run in this cell) or an error code. */
static int sum_cell_step(sqlite3_stmt *st, const char *scenario, const char *strategy)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, strategy, -1, SQLITE_STATIC);
    return sqlite3_step(st);
}

/* A run's verdict in words: the matrix cell without the run count. */
static void sum_verdict(FILE *out, sqlite3_stmt *st)
{
    const char *status = sum_col(st, SC_STATUS);
    const char *verdict = sum_col(st, SC_VERDICT);
    const char *figure = sum_col(st, SC_FIGURE);
    const char *expect = sum_col(st, SC_EXPECT);

    if (status == NULL || strcmp(status, "ok") != 0) {
        /* An aborted or failed run proves nothing either way, so it is not compared with
         * its expectation: the cell says why there is no verdict instead. */
        if (status != NULL && strcmp(status, "error") == 0) {
            fputs("error", out);
            if (sum_col(st, SC_ERROR) != NULL) {
                fputs(": ", out);
                sum_short_error(out, sum_col(st, SC_ERROR));
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

static int sum_matrix(sqlite3 *db, FILE *out, const sum_names *scen, const sum_names *strat,
                      char *err, size_t errlen)
{
    sqlite3_stmt *st;

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

    if (sum_prepare(db, sum_cell_sql, &st, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < scen->n; i++) {
        fputs("| ", out);
        sum_cell(out, scen->v[i]);
        fputs(" |", out);
        for (size_t j = 0; j < strat->n; j++) {
            int rc = sum_cell_step(st, scen->v[i], strat->v[j]);
            fputc(' ', out);
            if (rc == SQLITE_DONE) {
                fputs("—", out);
            } else if (rc == SQLITE_ROW) {
                long long count = sqlite3_column_int64(st, SC_COUNT);
                sum_verdict(out, st);
                if (count > 1)
                    fprintf(out, " ×%lld", count);
            } else {
                return sum_finish(db, st, rc, err, errlen);
            }
            fputs(" |", out);
        }
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    return 0;
}

/* The failing checks of one run as a nested list. Returns how many, or -1. */
static int sum_failing_checks(sqlite3 *db, sqlite3_stmt *st, long long run, FILE *out,
                              char *err, size_t errlen)
{
    int n = 0, rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *inv = sum_col(st, 0), *obs = sum_col(st, 1);
        const char *exp = sum_col(st, 2), *detail = sum_col(st, 3);
        fprintf(out, "  - `%s`: observed %s, expected %s", inv ? inv : "?",
                obs ? obs : "—", exp ? exp : "—");
        if (detail != NULL && *detail != '\0') {
            /* One line per check: a line break in the detail would end the list item. */
            fputs(". ", out);
            sum_cell(out, detail);
        }
        fputc('\n', out);
        n++;
    }
    if (rc != SQLITE_DONE) {
        ovs_seterr(err, errlen, "reading checks: %s", sqlite3_errmsg(db));
        return -1;
    }
    return n;
}

static int sum_scenarios(sqlite3 *db, FILE *out, const sum_names *scen,
                         const sum_names *strat, char *err, size_t errlen)
{
    sqlite3_stmt *about = NULL, *cell = NULL, *checks = NULL;
    int ret = -1;

    if (sum_prepare(db,
                    "SELECT description, scenario_file FROM runs WHERE scenario IS ?1"
                    " ORDER BY id DESC LIMIT 1", &about, err, errlen) < 0 ||
        sum_prepare(db, sum_cell_sql, &cell, err, errlen) < 0 ||
        sum_prepare(db,
                    "SELECT invariant, observed, expected, detail FROM checks"
                    " WHERE run = ?1 AND verdict = 'fail' ORDER BY rowid",
                    &checks, err, errlen) < 0)
        goto out;

    fputs("\n## Scenarios\n", out);
    for (size_t i = 0; i < scen->n; i++) {
        int rc;

        fprintf(out, "\n### %s\n\n", scen->v[i] ? scen->v[i] : "(unnamed)");
        sqlite3_reset(about);
        sqlite3_bind_text(about, 1, scen->v[i], -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(about)) != SQLITE_ROW) {
            ovs_seterr(err, errlen, "reading runs: %s", sqlite3_errmsg(db));
            goto out;
        }
        if (sum_col(about, 0) != NULL && *sum_col(about, 0) != '\0')
            fprintf(out, "%s\n\n", sum_col(about, 0));
        if (sum_col(about, 1) != NULL)
            fprintf(out, "Scenario file: `%s`\n\n", sum_col(about, 1));

        for (size_t j = 0; j < strat->n; j++) {
            long long run;
            int n;

            rc = sum_cell_step(cell, scen->v[i], strat->v[j]);
            if (rc == SQLITE_DONE)
                continue;
            if (rc != SQLITE_ROW) {
                ovs_seterr(err, errlen, "reading runs: %s", sqlite3_errmsg(db));
                goto out;
            }
            run = sqlite3_column_int64(cell, SC_ID);
            fprintf(out, "- **%s** (run %lld): ", strat->v[j] ? strat->v[j] : "(unnamed)",
                    run);
            sum_verdict(out, cell);
            fputc('\n', out);
            if ((n = sum_failing_checks(db, checks, run, out, err, errlen)) < 0)
                goto out;
            if (n == 0)
                fputs("  - no failing checks\n", out);
        }
    }
    ret = 0;
out:
    sqlite3_finalize(about);
    sqlite3_finalize(cell);
    sqlite3_finalize(checks);
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

    if (sum_prepare(db,
                    "SELECT id, scenario, strategy, params, requests, succeeded, refused,"
                    " busy, unknown, throughput, p50_ns, p99_ns, max_ns, acquire_fail,"
                    " retries, duration_ns FROM runs ORDER BY id", &st, err, errlen) < 0)
        return -1;
    fputs("\n## Numbers\n\n"
          "| run | scenario | strategy | params | requests | succeeded | refused | busy"
          " | unknown | req/s | p50 ms | p99 ms | max ms | acquire failures | retries"
          " | duration s |\n"
          "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:"
          " | ---: | ---: | ---: | ---: |\n", out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputc('|', out);
        for (int i = 0; i <= 15; i++) {
            fputc(' ', out);
            if (i >= 10 && i <= 12) {
                sum_ns(out, st, i, OVS_NS_PER_MS);
            } else if (i == 15) {
                sum_ns(out, st, i, OVS_NS_PER_S);
            } else if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                fputs("—", out);
            } else if (i == 9) {
                fprintf(out, "%.1f", sqlite3_column_double(st, i));
            } else {
                sum_cell(out, sum_col(st, i));
            }
            fputs(" |", out);
        }
        fputc('\n', out);
    }
    return sum_finish(db, st, rc, err, errlen);
}

int ovs_report_summary(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    sum_names scen = { 0 }, strat = { 0 };
    long long nruns = 0;
    int ret = -1;

    if (sum_header(results, out, &nruns, err, errlen) < 0)
        return -1;
    if (nruns == 0) {
        fputs("\nNo runs recorded.\n", out);
        goto check;
    }
    if (sum_load_names(results, "SELECT scenario FROM runs GROUP BY scenario"
                                " ORDER BY MIN(id)", &scen, err, errlen) < 0 ||
        sum_load_names(results, "SELECT strategy FROM runs GROUP BY strategy"
                                " ORDER BY MIN(id)", &strat, err, errlen) < 0 ||
        sum_matrix(results, out, &scen, &strat, err, errlen) < 0 ||
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
    sum_names_free(&scen);
    sum_names_free(&strat);
    return ret;
}
