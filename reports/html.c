/* html.c - index.html: the matrix, latency and throughput charts, and swim-lane timelines.
 *
 * One self-contained file a reader opens from disk or a CI artifact: inline CSS and
 * inline SVG only, no script, no font or image fetched from anywhere, so it looks the same
 * offline, in a mail attachment or behind a strict Content-Security-Policy. The page reads
 * the results database with the queries summary.md uses (results_db.c: row and column
 * order of first appearance, the latest run speaks for a cell) so the two reports never
 * disagree; this file writes the page and its tables, html_svg.c the latency and
 * throughput charts and html_timeline.c the swim-lane timelines, which call nothing here:
 * the writers all three use are html_util.c's.
 *
 * Every string from the database goes through ovs_html_esc: descriptions, figures and
 * error messages are free text, and a scenario file is input a user may not have written. */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>

#include "reports/html.h"
#include "reports/html_repeats.h"
#include "reports/html_util.h"
#include "core/answer.h"
#include "reports/results_db.h"
#include "reports/sweep.h"
#include "core/util.h"

static const char html_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "color:#1d1d1f;background:#fff;margin:0 auto;max-width:1400px;padding:16px 24px 48px}"
    "h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:32px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:18px;margin:28px 0 4px}"
    "h4{font-size:15px;margin:18px 0 6px}.context{color:#555;margin:0 0 12px}"
    "code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f3f3f3;"
    "padding:1px 4px;border-radius:3px}"
    "table{border-collapse:separate;border-spacing:4px}"
    "th,td{padding:6px 8px;vertical-align:top;text-align:left}"
    "th{background:#f0f0f0;font-weight:600}td.name{font-weight:600;background:#f7f7f7}"
    "table.matrix{width:100%;table-layout:fixed}.matrix th:first-child{width:160px}"
    ".matrix td{border-radius:4px;overflow-wrap:anywhere}"
    ".verdict{font-weight:700;display:block}.fig{font-size:12px;display:block}"
    ".more{font-size:11px;display:block;opacity:.75;margin-top:2px}"
    ".v-safe{background:#dcf1dc;color:#14501a}.v-unsafe{background:#f9d2d2;color:#8a0b0b}"
    ".v-aborted,.v-error{background:#e3e3e3;color:#444}.v-none{background:#f1f1f1;color:#555}"
    ".v-empty{color:#999;text-align:center}"
    ".mismatch{outline:3px dashed #c77700;outline-offset:-3px}"
    ".flag{display:block;font-size:12px;font-weight:700;color:#8a4b00}"
    ".count{font-size:11px;color:#666;display:block}svg.rate{display:block;margin-top:2px}"
    ".repeats td{font-size:12px}.repeats code{font-size:11px;overflow-wrap:anywhere}"
    "td a{color:inherit;text-decoration:none}td a:hover{text-decoration:underline}"
    ".runs td ul{margin:0;padding-left:18px}.runs .ok{color:#666}"
    ".runs td.name{white-space:nowrap}"
    ".legend span{display:inline-block;margin-right:14px;font-size:12px}"
    ".swatch{display:inline-block;width:12px;height:12px;vertical-align:-1px;"
    "margin-right:4px;border-radius:2px}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    "figure{margin:8px 0 16px}figcaption{font-weight:600;margin-bottom:4px}"
    "svg{max-width:100%;height:auto;display:block}"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "font-size:11px;fill:#333}"
    "svg .lbl{font-size:12px;fill:#1d1d1f}svg .small{font-size:10px;fill:#666}"
    "svg .strong{font-weight:700}svg .vtext{font-size:12px;font-weight:700;fill:#c00000}"
    ".violations{color:#c00000;font-weight:600;margin:4px 0 0;padding-left:20px}"
    ".note{color:#666;font-style:italic}";

static const char *html_name(const char *s)
{
    return s != NULL ? s : "(unnamed)";
}

/* Title and the same line of context as summary.md. */
static int html_header(sqlite3 *db, FILE *out, long long *nruns, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>oversell results</title>\n<style>", out);
    fputs(html_css, out);
    fputs("</style>\n</head>\n<body>\n<h1>oversell results</h1>\n<p class=\"context\">", out);
    if (ovs_rdb_prepare(db, OVS_RDB_CONTEXT_SQL, &st, err, errlen) < 0)
        return -1;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return ovs_rdb_finish(db, st, rc, err, errlen);
    *nruns = sqlite3_column_int64(st, 0);
    fprintf(out, "%lld %s", *nruns, *nruns == 1 ? "run" : "runs");
    if (ovs_rdb_text(st, 1) != NULL) {
        fputs(", first started ", out);
        ovs_html_esc(out, ovs_rdb_text(st, 1));
    }
    sqlite3_finalize(st);

    for (int k = 0; k < OVS_RDB_NVERSIONS; k++) {
        ovs_rdb_names vs;
        if (ovs_rdb_names_load(db, ovs_rdb_versions[k].sql, &vs, err, errlen) < 0)
            return -1;
        fprintf(out, "; %s ", ovs_rdb_versions[k].label);
        if (vs.n == 0)
            fputs("version not recorded", out);
        for (size_t i = 0; i < vs.n; i++) {
            fputs(i ? ", " : "", out);
            ovs_html_esc(out, vs.v[i]);
        }
        ovs_rdb_names_free(&vs);
    }
    fputs(".</p>\n", out);
    return 0;
}

static int html_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

/* A run that finished with a verdict other than the one its scenario expects. Aborted and
 * failed runs prove nothing either way, so they never mismatch. */
static int html_mismatch(sqlite3_stmt *st)
{
    const char *expect = ovs_rdb_text(st, OVS_RDB_CELL_EXPECT);
    const char *verdict = ovs_rdb_text(st, OVS_RDB_CELL_VERDICT);

    return html_is(ovs_rdb_text(st, OVS_RDB_CELL_STATUS), "ok") && expect != NULL &&
           verdict != NULL && strcmp(expect, verdict) != 0;
}

/* The colour class of a run's verdict. */
static const char *html_class(sqlite3_stmt *st)
{
    const char *status = ovs_rdb_text(st, OVS_RDB_CELL_STATUS);
    const char *verdict = ovs_rdb_text(st, OVS_RDB_CELL_VERDICT);

    if (html_is(status, "error"))
        return "v-error";
    if (html_is(status, "n/a"))
        return "v-none";
    if (!html_is(status, "ok"))
        return "v-aborted";
    if (html_is(verdict, "unsafe"))
        return "v-unsafe";
    if (html_is(verdict, "safe"))
        return "v-safe";
    return "v-none";
}

/* A run's verdict: the word, the figure behind it, and a flag when it is not the verdict
 * the scenario expects. */
static void html_verdict(FILE *out, sqlite3_stmt *st)
{
    const char *status = ovs_rdb_text(st, OVS_RDB_CELL_STATUS);
    const char *verdict = ovs_rdb_text(st, OVS_RDB_CELL_VERDICT);
    const char *figure = ovs_rdb_text(st, OVS_RDB_CELL_FIGURE);

    fputs("<span class=\"verdict\">", out);
    if (html_is(status, "error")) {
        fputs("error</span>", out);
        if (ovs_rdb_text(st, OVS_RDB_CELL_ERROR) != NULL) {
            char head[OVS_RDB_ERROR_HEAD];
            ovs_rdb_error_head(ovs_rdb_text(st, OVS_RDB_CELL_ERROR), head);
            fputs("<span class=\"fig\">", out);
            ovs_html_esc(out, head);
            fputs("</span>", out);
        }
        return;
    }
    if (html_is(status, "n/a") && ovs_rdb_text(st, OVS_RDB_CELL_ERROR) != NULL) {
        ovs_html_esc(out, ovs_rdb_text(st, OVS_RDB_CELL_ERROR));
        fputs("</span>", out);
        return;
    }
    if (!html_is(status, "ok")) {
        ovs_html_esc(out, status != NULL ? status : "no status");
        fputs("</span>", out);
        return;
    }
    ovs_html_esc(out, verdict == NULL ? "no verdict"
                      : strcmp(verdict, "unsafe") == 0 ? "UNSAFE" : verdict);
    fputs("</span>", out);
    if (figure != NULL) {
        /* The headline first; what follows the first "; " (overlap counts, divergence)
         * smaller, so a crowded matrix still reads at a glance. */
        const char *more = strstr(figure, "; ");
        char *head = strndup(figure, more != NULL ? (size_t)(more - figure) : strlen(figure));
        fputs("<span class=\"fig\">", out);
        ovs_html_esc(out, head != NULL ? head : figure);
        fputs("</span>", out);
        if (more != NULL && head != NULL) {
            fputs("<span class=\"more\">", out);
            ovs_html_esc(out, more + 2);
            fputs("</span>", out);
        }
        free(head);
    }
    if (html_mismatch(st)) {
        fputs("<span class=\"flag\">⚠ expected ", out);
        ovs_html_esc(out, ovs_rdb_text(st, OVS_RDB_CELL_EXPECT));
        fputs("</span>", out);
    }
}

/* The attributes of a verdict cell: colour class, mismatch outline, full error on hover. */
static void html_cell_attrs(FILE *out, sqlite3_stmt *st, const char *extra)
{
    fprintf(out, " class=\"%s%s%s\"", extra, html_class(st),
            html_mismatch(st) ? " mismatch" : "");
    if (ovs_rdb_text(st, OVS_RDB_CELL_ERROR) != NULL) {
        fputs(" title=\"", out);
        ovs_html_esc(out, ovs_rdb_text(st, OVS_RDB_CELL_ERROR));
        fputc('"', out);
    }
}

static void html_matrix_legend(FILE *out)
{
    fputs("<p class=\"legend\">"
          "<span><i class=\"swatch v-safe\"></i>safe</span>"
          "<span><i class=\"swatch v-unsafe\"></i>UNSAFE</span>"
          "<span><i class=\"swatch v-aborted\"></i>aborted or error</span>"
          "<span><i class=\"swatch mismatch\"></i>not the expected verdict</span>"
          "<span>† no [expect] entry: a verdict the gate does not enforce</span>"
          "</p>\n", out);
}

static int html_matrix(sqlite3 *db, FILE *out, const ovs_rdb_names *scen,
                       const ovs_rdb_names *strat, char *err, size_t errlen)
{
    sqlite3_stmt *st;

    fputs("<h2>Matrix</h2>\n<table class=\"matrix\">\n<tr><th>scenario</th>", out);
    for (size_t j = 0; j < strat->n; j++) {
        fputs("<th>", out);
        ovs_html_esc(out, html_name(strat->v[j]));
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    if (ovs_rdb_prepare(db, OVS_RDB_CELL_SQL, &st, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < scen->n; i++) {
        fprintf(out, "<tr><td class=\"name\"><a href=\"#scen-%zu\">", i + 1);
        ovs_html_esc(out, html_name(scen->v[i]));
        fputs("</a></td>", out);
        for (size_t j = 0; j < strat->n; j++) {
            int rc = ovs_rdb_cell_step(st, scen->v[i], strat->v[j]);
            if (rc == SQLITE_DONE) {
                fputs("<td class=\"cell v-empty\">—</td>", out);
                continue;
            }
            if (rc != SQLITE_ROW)
                return ovs_rdb_finish(db, st, rc, err, errlen);
            fputs("<td", out);
            html_cell_attrs(out, st, "cell ");
            fprintf(out, "><a href=\"#run-%lld\">",
                    (long long)sqlite3_column_int64(st, OVS_RDB_CELL_ID));
            html_verdict(out, st);
            if (ovs_rdb_text(st, OVS_RDB_CELL_VERDICT) != NULL &&
                ovs_rdb_text(st, OVS_RDB_CELL_EXPECT) == NULL)
                fputs("<span class=\"count\">† not gated</span>", out);
            if (sqlite3_column_int64(st, OVS_RDB_CELL_COUNT) > 1) {
                long long k = sqlite3_column_int64(st, OVS_RDB_CELL_UNSAFE);
                long long n = sqlite3_column_int64(st, OVS_RDB_CELL_JUDGED);
                fprintf(out, "<span class=\"count\">latest of %lld runs; unsafe in %lld of"
                        " %lld</span>", (long long)sqlite3_column_int64(st, OVS_RDB_CELL_COUNT),
                        k, n);
                ovs_html_rate_bar(out, k, n);
            }
            fputs("</a></td>", out);
        }
        fputs("</tr>\n", out);
    }
    sqlite3_finalize(st);
    fputs("</table>\n", out);
    html_matrix_legend(out);
    return 0;
}

/* The failing checks of one run as a list, or a grey "none". */
static int html_checks(sqlite3 *db, sqlite3_stmt *st, int64_t run, FILE *out, char *err,
                       size_t errlen)
{
    int n = 0, rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* A figure beside the verdict (stale answers) is listed, but failed nothing. */
        int figure = ovs_check_is_figure(ovs_rdb_text(st, 0));
        fputs(n++ ? "<li>" : "<ul><li>", out);
        fputs(figure ? "figure <code>" : "<code>", out);
        ovs_html_esc(out, html_name(ovs_rdb_text(st, 0)));
        if (figure) {
            fputs("</code>, beside the verdict: ", out);
            ovs_html_esc(out, ovs_rdb_text(st, 1) ? ovs_rdb_text(st, 1) : "—");
        } else {
            fputs("</code>: observed ", out);
            ovs_html_esc(out, ovs_rdb_text(st, 1) ? ovs_rdb_text(st, 1) : "—");
            fputs(", expected ", out);
            ovs_html_esc(out, ovs_rdb_text(st, 2) ? ovs_rdb_text(st, 2) : "—");
        }
        if (ovs_rdb_text(st, 3) != NULL && *ovs_rdb_text(st, 3) != '\0') {
            fputs(". ", out);
            ovs_html_esc(out, ovs_rdb_text(st, 3));
        }
        fputs("</li>", out);
    }
    if (rc != SQLITE_DONE)
        return ovs_rdb_fail(db, NULL, "checks", err, errlen);
    fputs(n ? "</ul>" : "<span class=\"ok\">none</span>", out);
    return 0;
}

/* One scenario: what it is, its runs and failing checks, charts, timelines. */
static int html_scenario(sqlite3 *db, FILE *out, ovs_rdb_stmts *q, size_t idx,
                         const char *scenario, const ovs_rdb_names *strat, char *err,
                         size_t errlen)
{
    ovs_html_series *series = calloc(strat->n ? strat->n : 1, sizeof *series);
    char (*why)[128] = calloc(strat->n ? strat->n : 1, sizeof *why);
    size_t ns = 0, nskipped = 0;
    int rc, legend = 0, ret = -1;

    if (series == NULL || why == NULL) {
        free(series);
        free(why);
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    fprintf(out, "<section id=\"scen-%zu\">\n<h3>", idx);
    ovs_html_esc(out, html_name(scenario));
    fputs("</h3>\n", out);
    if (ovs_rdb_about(db, q, scenario, err, errlen) < 0)
        goto out;
    if (ovs_rdb_text(q->about, 0) != NULL && *ovs_rdb_text(q->about, 0) != '\0') {
        fputs("<p>", out);
        ovs_html_esc(out, ovs_rdb_text(q->about, 0));
        fputs("</p>\n", out);
    }
    fputs("<p class=\"context\">", out);
    if (ovs_rdb_text(q->about, 1) != NULL) {
        fputs("Scenario file <code>", out);
        ovs_html_esc(out, ovs_rdb_text(q->about, 1));
        fputs("</code>", out);
    }
    if (ovs_rdb_text(q->about, 2) != NULL) {
        fputs(ovs_rdb_text(q->about, 1) != NULL ? "; workload " : "Workload ", out);
        ovs_html_esc(out, ovs_rdb_text(q->about, 2));
    }
    fputs("</p>\n<table class=\"runs\">\n<tr><th>strategy</th><th>run</th><th>verdict</th>"
          "<th>failing checks</th></tr>\n", out);

    for (size_t j = 0; j < strat->n; j++) {
        int64_t run;

        rc = ovs_rdb_cell_step(q->cell, scenario, strat->v[j]);
        if (rc == SQLITE_DONE)
            continue;
        if (rc != SQLITE_ROW) {
            ovs_rdb_fail(db, NULL, "runs", err, errlen);
            goto out;
        }
        run = sqlite3_column_int64(q->cell, OVS_RDB_CELL_ID);
        series[ns] = (ovs_html_series){
            .strategy = html_name(strat->v[j]),
            .run = run,
            .has_throughput = sqlite3_column_type(q->cell, OVS_RDB_CELL_RPS) != SQLITE_NULL,
            .throughput = sqlite3_column_double(q->cell, OVS_RDB_CELL_RPS),
        };
        ns++;
        fprintf(out, "<tr id=\"run-%lld\"><td class=\"name\">", (long long)run);
        ovs_html_esc(out, html_name(strat->v[j]));
        fprintf(out, "</td><td>%lld</td><td", (long long)run);
        html_cell_attrs(out, q->cell, "");
        fputc('>', out);
        html_verdict(out, q->cell);
        fputs("</td><td>", out);
        if (html_checks(db, q->checks, run, out, err, errlen) < 0)
            goto out;
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);

    fputs("<div class=\"charts\">\n<figure><figcaption>Latency per request"
          " (ms, log scale)</figcaption>\n", out);
    if (ovs_html_latency(db, out, series, ns, err, errlen) < 0)
        goto out;
    fputs("</figure>\n<figure><figcaption>Throughput (requests/s)</figcaption>\n", out);
    ovs_html_throughput(out, series, ns);
    fputs("</figure>\n</div>\n<h4>Timelines</h4>\n", out);
    /* Runs without a timeline are named in one line after the ones drawn. */
    for (size_t j = 0; j < ns; j++) {
        char title[256];
        snprintf(title, sizeof title, "%s (run %lld)", series[j].strategy,
                 (long long)series[j].run);
        if ((rc = ovs_html_timeline(db, out, series[j].run, title, &legend, why[j],
                                    sizeof why[j], err, errlen)) < 0)
            goto out;
        if (rc == 1)
            why[j][0] = '\0';
        else
            nskipped++;
    }
    for (size_t j = 0, k = 0; j < ns; j++) {
        if (why[j][0] == '\0')
            continue;
        fputs(k++ == 0 ? "<p class=\"note\">No timeline for " : "; ", out);
        ovs_html_esc(out, series[j].strategy);
        fprintf(out, " (run %lld): ", (long long)series[j].run);
        ovs_html_esc(out, why[j]);
        fputs(k == nskipped ? ".</p>\n" : "", out);
    }
    fputs("</section>\n", out);
    ret = 0;
out:
    free(series);
    free(why);
    return ret;
}

static int html_scenarios(sqlite3 *db, FILE *out, const ovs_rdb_names *scen,
                          const ovs_rdb_names *strat, char *err, size_t errlen)
{
    ovs_rdb_stmts q = { 0 };
    int ret = -1;

    if (ovs_rdb_stmts_prepare(db, &q, err, errlen) < 0)
        goto out;
    fputs("<h2>Scenarios</h2>\n", out);
    for (size_t i = 0; i < scen->n; i++)
        if (html_scenario(db, out, &q, i + 1, scen->v[i], strat, err, errlen) < 0)
            goto out;
    ret = 0;
out:
    ovs_rdb_stmts_finalize(&q);
    return ret;
}

static int html_repeats_section(sqlite3 *db, FILE *out, char *err, size_t errlen)
{
    ovs_rep_cells cells;

    if (ovs_repeats_load(db, &cells, err, errlen) < 0)
        return -1;
    ovs_html_repeats(out, &cells);
    ovs_repeats_free(&cells);
    return 0;
}

int ovs_report_html(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    ovs_rdb_names scen = { 0 }, strat = { 0 };
    long long nruns = 0;
    int ret = -1;

    if (html_header(results, out, &nruns, err, errlen) < 0)
        return -1;
    if (nruns == 0) {
        fputs("<p>No runs recorded.</p>\n", out);
    } else if (ovs_rdb_names_load(results, OVS_RDB_SCENARIOS_SQL, &scen, err, errlen) < 0 ||
               ovs_rdb_names_load(results, OVS_RDB_STRATEGIES_SQL, &strat, err, errlen) < 0 ||
               html_matrix(results, out, &scen, &strat, err, errlen) < 0 ||
               html_repeats_section(results, out, err, errlen) < 0 ||
               ovs_html_sweeps(results, out, err, errlen) < 0 ||
               html_scenarios(results, out, &scen, &strat, err, errlen) < 0) {
        goto done;
    }
    fputs("</body>\n</html>\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing index.html failed");
        goto done;
    }
    ret = 0;
done:
    ovs_rdb_names_free(&scen);
    ovs_rdb_names_free(&strat);
    return ret;
}
