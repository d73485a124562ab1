/* html_sweep.c - the sweep section of index.html: per sweep a table of its points and one
 * line chart per figure.
 *
 * A chart puts the outer varied parameter along x, its values evenly spaced in the order
 * they were run (they are settings a person chose, not a continuous scale), and draws one
 * line per value of the other: the figure a reader weighs a setting by is read off where
 * the lines cross or part. The unsafe rate carries its 95 % Wilson interval as a whisker,
 * since three runs that were all safe still allow a rate of more than half. Hand-written
 * SVG like html_svg.c, coordinates with one decimal, so one database gives one page. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/html_util.h"
#include "reports/sweep.h"
#include "core/util.h"

#define SW_W 470.0    /* whole chart */
#define SW_X0 58.0    /* plot starts: y ticks and title to the left */
#define SW_X1 300.0   /* plot ends: the legend to the right */
#define SW_PAD 18.0   /* from the plot's edges to the first and last x value */
#define SW_TOP 14.0
#define SW_AXIS 196.0 /* the x axis */
#define SW_H 240.0

static const char *const sw_colour[] = { "#2171b5", "#d94801", "#238b45", "#6a51a3",
                                         "#c51b8a", "#8c6d31", "#17becf", "#636363" };
#define SW_NCOLOURS (sizeof sw_colour / sizeof sw_colour[0])

enum sw_fig { FIG_SUCCESS, FIG_LOST, FIG_BUSY, FIG_P50, FIG_P99, FIG_RETRIES, FIG_UNSAFE,
              FIG_N };

static const struct {
    const char *title; /* the caption */
    const char *axis;  /* the y axis */
} sw_figs[FIG_N] = {
    [FIG_SUCCESS] = { "Success rate", "succeeded / requests, %" },
    [FIG_LOST] = { "Lost sales (median)", "buyers" },
    [FIG_BUSY] = { "Gave up after the retries (median)", "requests" },
    [FIG_P50] = { "p50 latency (median)", "ms" },
    [FIG_P99] = { "p99 latency (median)", "ms" },
    [FIG_RETRIES] = { "Retries (median)", "retries per run" },
    [FIG_UNSAFE] = { "Unsafe runs, with 95 % interval", "% of runs" },
};

/* Figure f of point p; NAN when it has none. lo and hi: its interval (the value itself
 * but for the unsafe rate). */
static double sw_value(const ovs_sweep_point *p, enum sw_fig f, double *lo, double *hi)
{
    double v;

    switch (f) {
    case FIG_SUCCESS: v = ovs_sweep_success(p); v = v < 0 ? NAN : v; break;
    case FIG_LOST: v = p->lost_sales; break;
    case FIG_BUSY: v = p->busy; break;
    case FIG_P50: v = p->p50_ns / OVS_NS_PER_MS; break;
    case FIG_P99: v = p->p99_ns / OVS_NS_PER_MS; break;
    case FIG_RETRIES: v = p->retries; break;
    case FIG_UNSAFE:
        if (p->finished == 0)
            return *lo = *hi = NAN;
        ovs_wilson(p->unsafe, p->finished, lo, hi);
        *lo *= 100;
        *hi *= 100;
        return 100.0 * p->unsafe / p->finished;
    default: v = NAN;
    }
    *lo = *hi = v;
    return v;
}

static double sw_x(const ovs_sweep *w, size_t xi)
{
    if (w->nx < 2)
        return (SW_X0 + SW_X1) / 2;
    return SW_X0 + SW_PAD + (SW_X1 - SW_X0 - 2 * SW_PAD) * (double)xi / (double)(w->nx - 1);
}

/* The legend's name of line li: "retry_delay=200", or the "a=1,b=2" it already is. */
static void sw_line_name(FILE *out, const ovs_sweep *w, size_t li)
{
    if (w->line_key != NULL && strchr(w->line_key, ',') == NULL) {
        ovs_html_esc(out, w->line_key);
        fputc('=', out);
    }
    ovs_html_esc(out, w->lines[li]);
}

static void sw_chart(FILE *out, const ovs_sweep *w, enum sw_fig f)
{
    double vmax = 0, step, top, lo, hi;

    for (size_t i = 0; i < w->n; i++) {
        sw_value(&w->pts[i], f, &lo, &hi);
        if (!isnan(hi) && hi > vmax)
            vmax = hi;
    }
    if (f == FIG_SUCCESS || f == FIG_UNSAFE) {
        top = 100;
        step = 25;
    } else {
        step = ovs_html_nice_step(vmax > 0 ? vmax : 1, 4);
        top = ceil((vmax > 0 ? vmax : 1) / step - 1e-9) * step;
    }
#define SW_Y(v) (SW_AXIS - (SW_AXIS - SW_TOP) * (v) / top)

    fprintf(out, "<figure><figcaption>%s</figcaption>\n", sw_figs[f].title);
    ovs_html_svg_open(out, "sweep", SW_W, SW_H);
    for (int k = 0; k * step <= top + step / 2; k++) {
        double y = SW_Y(k * step);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                SW_X0, y, SW_X1, y, k ? "#e6e6e6" : "#555", SW_X0 - 5, y + 4);
        ovs_html_tick(out, k * step, step);
        fputs("</text>\n", out);
    }
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n",
            SW_X0, SW_TOP, SW_X0, SW_AXIS);
    for (size_t xi = 0; xi < w->nx; xi++) {
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", sw_x(w, xi),
                SW_AXIS + 14);
        ovs_html_esc(out, w->xs[xi]);
        fputs("</text>\n", out);
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl\">",
            (SW_X0 + SW_X1) / 2, SW_AXIS + 32);
    ovs_html_esc(out, w->x_key);
    fprintf(out, "</text>\n<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl\""
                 " transform=\"rotate(-90 12 %.1f)\">%s</text>\n",
            (SW_TOP + SW_AXIS) / 2, (SW_TOP + SW_AXIS) / 2, sw_figs[f].axis);

    for (size_t li = 0; li < w->nl; li++) {
        const char *c = sw_colour[li % SW_NCOLOURS];
        int started = 0;
        /* The line through the points that have the figure, in x order (pts is sorted). */
        for (size_t i = 0; i < w->n; i++) {
            const ovs_sweep_point *p = &w->pts[i];
            double v = sw_value(p, f, &lo, &hi);
            if (p->li != li || isnan(v))
                continue;
            if (!started)
                fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\""
                             " points=\"", c);
            fprintf(out, "%s%.1f,%.1f", started ? " " : "", sw_x(w, p->xi), SW_Y(v));
            started = 1;
        }
        if (started)
            fputs("\"/>\n", out);
    }
    for (size_t i = 0; i < w->n; i++) {
        const ovs_sweep_point *p = &w->pts[i];
        const char *c = sw_colour[p->li % SW_NCOLOURS];
        double v = sw_value(p, f, &lo, &hi), x = sw_x(w, p->xi);
        if (isnan(v))
            continue;
        if (hi > lo)
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
                         " stroke-opacity=\"0.6\"/>",
                    x, SW_Y(lo), x, SW_Y(hi), c);
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>", x,
                SW_Y(v), c);
        ovs_html_esc(out, w->x_key);
        fputc('=', out);
        ovs_html_esc(out, w->xs[p->xi]);
        if (w->line_key) {
            fputs(", ", out);
            sw_line_name(out, w, p->li);
        }
        if (f == FIG_UNSAFE)
            fprintf(out, ": %d of %d runs (95 %% interval %.0f-%.0f %%)", p->unsafe,
                    p->finished, lo, hi);
        else
            fprintf(out, ": %.*f", f == FIG_P50 || f == FIG_P99 ? 2 : 1, v);
        fputs("</title></circle>\n", out);
    }
    if (w->line_key)
        for (size_t li = 0; li < w->nl; li++) {
            double y = SW_TOP + 6 + 18.0 * (double)li;
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
                         " stroke-width=\"2\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\""
                         " fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
                    SW_X1 + 14, y, SW_X1 + 36, y, sw_colour[li % SW_NCOLOURS], SW_X1 + 25, y,
                    sw_colour[li % SW_NCOLOURS], SW_X1 + 42, y + 4);
            sw_line_name(out, w, li);
            fputs("</text>\n", out);
        }
#undef SW_Y
    fputs("</svg>\n</figure>\n", out);
}

static void sw_num(FILE *out, double v, int decimals)
{
    if (isnan(v))
        fputs("—", out);
    else
        fprintf(out, "%.*f", v == floor(v) && decimals == 1 ? 0 : decimals, v);
}

static void sw_table(FILE *out, const ovs_sweep *w, int has_lost)
{
    fputs("<table class=\"runs\">\n<tr><th>", out);
    ovs_html_esc(out, w->x_key);
    if (w->line_key) {
        fputs("</th><th>", out);
        ovs_html_esc(out, w->line_key);
    }
    fprintf(out, "</th><th>runs</th><th>success</th>%s<th>gave up</th><th>p50 ms</th>"
                 "<th>p99 ms</th><th>retries</th><th>unsafe (95 %% interval)</th></tr>\n",
            has_lost ? "<th>lost sales</th>" : "");
    for (size_t i = 0; i < w->n; i++) {
        const ovs_sweep_point *p = &w->pts[i];
        double lo, hi, rate = ovs_sweep_success(p);
        fputs("<tr><td class=\"name\">", out);
        ovs_html_esc(out, w->xs[p->xi]);
        if (w->line_key) {
            fputs("</td><td class=\"name\">", out);
            ovs_html_esc(out, w->lines[p->li]);
        }
        fprintf(out, "</td><td>%d</td><td>", p->runs);
        if (rate < 0)
            fputs("—", out);
        else
            fprintf(out, "%.1f %% (%lld/%lld)", rate, (long long)p->succeeded,
                    (long long)p->requests);
        fputs("</td>", out);
        if (has_lost) {
            fputs("<td>", out);
            sw_num(out, p->lost_sales, 1);
            fputs("</td>", out);
        }
        fputs("<td>", out);
        sw_num(out, p->busy, 1);
        fputs("</td><td>", out);
        sw_num(out, p->p50_ns / OVS_NS_PER_MS, 2);
        fputs("</td><td>", out);
        sw_num(out, p->p99_ns / OVS_NS_PER_MS, 2);
        fputs("</td><td>", out);
        sw_num(out, p->retries, 1);
        ovs_wilson(p->unsafe, p->finished, &lo, &hi);
        fprintf(out, "</td><td>%d/%d (%.0f-%.0f %%)</td></tr>\n", p->unsafe, p->finished,
                lo * 100, hi * 100);
    }
    fputs("</table>\n", out);
}

int ovs_html_sweeps(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    ovs_sweeps s;

    if (ovs_sweeps_load(results, &s, err, errlen) < 0)
        return -1;
    if (s.n > 0)
        fputs("<h2 id=\"sweeps\">Sweeps</h2>\n", out);
    for (size_t i = 0; i < s.n; i++) {
        const ovs_sweep *w = &s.v[i];
        fprintf(out, "<section id=\"sweep-%zu\">\n<h3>", i + 1);
        ovs_html_esc(out, w->scenario);
        fputs(" × ", out);
        ovs_html_esc(out, w->strategy);
        if (strcmp(w->backend, "sqlite") != 0) {
            fputs(" on ", out);
            ovs_html_esc(out, w->backend);
        }
        fprintf(out, "</h3>\n<p class=\"context\">%zu points: <code>", w->n);
        ovs_html_esc(out, w->x_key);
        fputs("</code> along x", out);
        if (w->line_key) {
            fputs(", one line per <code>", out);
            ovs_html_esc(out, w->line_key);
            fputs("</code>", out);
        }
        if (w->fixed) {
            fputs("; the same in every point: <code>", out);
            ovs_html_esc(out, w->fixed);
            fputs("</code>", out);
        }
        fputs(s.has_lost ? ".</p>\n" : ". Lost sales are not recorded in this database.</p>\n",
              out);
        sw_table(out, w, s.has_lost);
        fputs("<div class=\"charts\">\n", out);
        for (int f = 0; f < FIG_N; f++)
            if (f != FIG_LOST || s.has_lost)
                sw_chart(out, w, (enum sw_fig)f);
        fputs("</div>\n</section>\n", out);
    }
    ovs_sweeps_free(&s);
    return 0;
}
