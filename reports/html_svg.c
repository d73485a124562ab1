/* html_svg.c - the charts of index.html: latency percentiles and throughput, as SVG.
 *
 * Hand-written SVG, no library and no script: a chart is a few rectangles, lines and
 * labels, and writing them directly keeps the page self-contained and the output byte for
 * byte the same for the same database (coordinates are printed with one decimal). The
 * axis helpers it shares with html_timeline.c are in html_util.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/html.h"
#include "reports/html_util.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "core/util.h"

/* Nanoseconds as milliseconds with as many places as a value of that size needs. */
static void svg_ms_sig(FILE *out, int64_t ns)
{
    int d = ns >= 100 * OVS_NS_PER_MS ? 0 : ns >= 10 * OVS_NS_PER_MS ? 1
          : ns >= OVS_NS_PER_MS ? 2 : ns >= 10000 ? 3 : 4;
    ovs_html_ms(out, ns, d);
}

/* Nanoseconds as milliseconds without trailing zeros: 1000 -> "0.001", 2e9 -> "2000". */
static void svg_ms_trim(FILE *out, int64_t ns)
{
    char buf[48];
    size_t n;

    ovs_report_fixed(ns, OVS_NS_PER_MS, 6, buf, sizeof buf);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    fputs(buf, out);
}

/* ---- latency --------------------------------------------------------------------- */

#define LAT_W 640.0   /* whole chart */
#define LAT_X0 150.0  /* plot starts: strategy names to the left */
#define LAT_X1 555.0  /* plot ends: value labels to the right */
#define LAT_TOP 30.0  /* below the legend */
#define LAT_BAR 9.0   /* bar height */
#define LAT_PITCH 11.0
#define LAT_GROUP (4 * LAT_PITCH + 14.0)

static const char *const lat_names[4] = { "p50", "p90", "p99", "max" };
static const int lat_permille[4] = { 500, 900, 990, 1000 };
static const char *const lat_fill[4] = { "#c6dbef", "#6baed6", "#2171b5", "#08306b" };

typedef struct lat_row {
    int64_t n;    /* request events */
    int64_t v[4]; /* p50, p90, p99, max in ns */
} lat_row;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentiles of one run's request latencies, as the checker computes p50
 * and p99 (so the bars agree with runs.p50_ns and runs.p99_ns). */
static int lat_load(sqlite3 *db, sqlite3_stmt *st, int64_t run, lat_row *r, char *err,
                    size_t errlen)
{
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    memset(r, 0, sizeof *r);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            int64_t *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                free(v);
                ovs_seterr(err, errlen, "out of memory");
                return -1;
            }
            v = nv;
            cap = ncap;
        }
        v[n] = sqlite3_column_int64(st, 0);
        if (v[n] < 1)
            v[n] = 1; /* a log scale has no zero */
        n++;
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return ovs_rdb_fail(db, NULL, "events", err, errlen);
    }
    if (n > 0) {
        qsort(v, n, sizeof *v, cmp_i64);
        r->n = (int64_t)n;
        for (int k = 0; k < 4; k++) {
            size_t rank = (n * (size_t)lat_permille[k] + 999) / 1000;
            r->v[k] = v[(rank < 1 ? 1 : rank) - 1];
        }
    }
    free(v);
    return 0;
}

static double lat_x(int64_t v, int64_t lo, int decades)
{
    return LAT_X0 + (LAT_X1 - LAT_X0) * (log10((double)v) - log10((double)lo)) / decades;
}

int ovs_html_latency(sqlite3 *db, FILE *out, const ovs_html_series *s, size_t n, char *err,
                     size_t errlen)
{
    lat_row *rows = calloc(n ? n : 1, sizeof *rows);
    sqlite3_stmt *st = NULL;
    int64_t vmin = INT64_MAX, vmax = 0, lo = 1, hi = 10;
    int decades = 0, ret = -1;
    double axis, h;

    if (rows == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (ovs_rdb_prepare(db, "SELECT end_ns - start_ns FROM events"
                            " WHERE run = ?1 AND op = 'request'", &st, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (lat_load(db, st, s[i].run, &rows[i], err, errlen) < 0)
            goto out;
        if (rows[i].n > 0) {
            vmin = rows[i].v[0] < vmin ? rows[i].v[0] : vmin;
            vmax = rows[i].v[3] > vmax ? rows[i].v[3] : vmax;
        }
    }
    if (vmax == 0) {
        fputs("<p class=\"note\">No request events recorded.</p>\n", out);
        ret = 0;
        goto out;
    }
    /* Whole decades around the data, so every gridline is a round number of ms. */
    while (lo <= vmin / 10)
        lo *= 10;
    hi = lo;
    while (hi < vmax && hi <= INT64_MAX / 10) {
        hi *= 10;
        decades++;
    }
    if (decades == 0) {
        hi *= 10;
        decades = 1;
    }

    axis = LAT_TOP + (double)n * LAT_GROUP;
    h = axis + 40;
    ovs_html_svg_open(out, "latency", LAT_W, h);
    for (int k = 0; k < 4; k++)
        fprintf(out, "<rect x=\"%.1f\" y=\"6\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"16\">%s</text>\n",
                LAT_X0 + k * 70.0, lat_fill[k], LAT_X0 + k * 70.0 + 16, lat_names[k]);
    /* Gridlines at every decade; with few decades also at 2x and 5x, and with very few
     * those are labelled too (more labels would run into each other). */
    for (int64_t d = lo; d <= hi; d *= 10) {
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
            int64_t v = d * m;
            double x;
            if (v > hi || (m > 1 && decades > 3))
                break;
            x = lat_x(v, lo, decades);
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>",
                    x, LAT_TOP - 6, x, axis, m == 1 ? "#bbb" : "#e6e6e6");
            if (m > 1 && decades > 2) {
                fputc('\n', out);
                continue;
            }
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"%s>", x, axis + 14,
                    m == 1 ? "" : " class=\"small\"");
            svg_ms_trim(out, v);
            fputs("</text>\n", out);
        }
        if (d > INT64_MAX / 10)
            break;
    }
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl\">"
                 "latency of one request, ms (log scale)</text>\n",
            LAT_X0, axis, LAT_X1, axis, (LAT_X0 + LAT_X1) / 2, axis + 32);

    for (size_t i = 0; i < n; i++) {
        double y = LAT_TOP + (double)i * LAT_GROUP;
        fprintf(out, "<text x=\"4\" y=\"%.1f\" class=\"lbl strong\">", y + 16);
        ovs_html_esc(out, s[i].strategy);
        fprintf(out, "</text><text x=\"4\" y=\"%.1f\" class=\"small\">%lld requests</text>\n",
                y + 30, (long long)rows[i].n);
        if (rows[i].n == 0) {
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">no requests"
                         " recorded</text>\n", LAT_X0 + 6, y + 24);
            continue;
        }
        for (int k = 0; k < 4; k++) {
            double by = y + k * LAT_PITCH, x = lat_x(rows[i].v[k], lo, decades);
            if (x < LAT_X0 + 1)
                x = LAT_X0 + 1;
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"small\">%s"
                         "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\""
                         " fill=\"%s\"><title>",
                    LAT_X0 - 4, by + 8, lat_names[k], LAT_X0, by, x - LAT_X0, LAT_BAR,
                    lat_fill[k]);
            ovs_html_esc(out, s[i].strategy);
            fprintf(out, " %s: ", lat_names[k]);
            ovs_html_ms(out, rows[i].v[k], 3);
            fprintf(out, " ms</title></rect><text x=\"%.1f\" y=\"%.1f\" class=\"small\">",
                    x + 4, by + 8);
            svg_ms_sig(out, rows[i].v[k]);
            fputs("</text>\n", out);
        }
    }
    fputs("</svg>\n", out);
    ret = 0;
out:
    sqlite3_finalize(st);
    free(rows);
    return ret;
}

/* ---- throughput ------------------------------------------------------------------ */

#define TP_W 480.0
#define TP_X0 130.0
#define TP_X1 380.0
#define TP_ROW 24.0

void ovs_html_throughput(FILE *out, const ovs_html_series *s, size_t n)
{
    double vmax = 0, step, top, axis = 10 + (double)n * TP_ROW;

    for (size_t i = 0; i < n; i++)
        if (s[i].has_throughput && isfinite(s[i].throughput) && s[i].throughput > vmax)
            vmax = s[i].throughput;
    step = ovs_html_nice_step(vmax > 0 ? vmax : 1, 4);
    top = ceil((vmax > 0 ? vmax : 1) / step - 1e-9) * step;

    ovs_html_svg_open(out, "throughput", TP_W, axis + 40);
    for (int k = 0; k * step <= top + step / 2; k++) {
        double x = TP_X0 + (TP_X1 - TP_X0) * k * step / top;
        fprintf(out, "<line x1=\"%.1f\" y1=\"4\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, x, axis, k ? "#e6e6e6" : "#555", x, axis + 14);
        ovs_html_tick(out, k * step, step);
        fputs("</text>\n", out);
    }
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl\">"
                 "requests per second</text>\n",
            TP_X0, axis, TP_X1, axis, (TP_X0 + TP_X1) / 2, axis + 32);
    for (size_t i = 0; i < n; i++) {
        double y = 10 + (double)i * TP_ROW;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"lbl strong\">",
                TP_X0 - 6, y + 12);
        ovs_html_esc(out, s[i].strategy);
        fputs("</text>", out);
        if (!s[i].has_throughput || !isfinite(s[i].throughput)) {
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">not recorded</text>\n",
                    TP_X0 + 6, y + 12);
            continue;
        }
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\""
                     " fill=\"#4a7fb5\"/><text x=\"%.1f\" y=\"%.1f\">%.1f</text>\n",
                TP_X0, y + 1, (TP_X1 - TP_X0) * s[i].throughput / top, TP_X0 +
                (TP_X1 - TP_X0) * s[i].throughput / top + 4, y + 12, s[i].throughput);
    }
    fputs("</svg>\n", out);
}
