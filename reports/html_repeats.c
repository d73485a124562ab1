/* html_repeats.c - index.html's cells run more than once: the unsafe rate drawn as a point
 * in its 95 % interval, beside the table summary.md prints (repeats.h). */
#include "reports/html_repeats.h"

#include <stdint.h>
#include <string.h>

#include "reports/html_util.h"
#include "core/util.h"

void ovs_html_rate_bar(FILE *out, long long k, long long n)
{
    /* 0..100 % across 100 px: the interval a band, the observed rate a tick. */
    const double w = 100, h = 10;
    double lo, hi, p = n > 0 ? (double)k / (double)n : 0;

    ovs_wilson(k, n, &lo, &hi);
    ovs_html_svg_open(out, "rate", w + 2, h);
    fprintf(out, "<title>unsafe in %lld of %lld runs; 95 %% interval %.0f-%.0f %%</title>"
                 "<rect x=\"1\" y=\"3\" width=\"%.0f\" height=\"4\" fill=\"#e6e6e6\"/>"
                 "<rect x=\"%.1f\" y=\"2\" width=\"%.1f\" height=\"6\" fill=\"#e59a9a\"/>"
                 "<rect x=\"%.1f\" y=\"0\" width=\"2\" height=\"10\" fill=\"#8a0b0b\"/></svg>",
            k, n, lo * 100, hi * 100, w, 1 + lo * w, (hi - lo) * w > 1 ? (hi - lo) * w : 1,
            p * w);
}

/* "median [min–max]" of a figure, as repeats.c's table. */
static void spread(FILE *out, const ovs_rep_spread *s, double div, int decimals)
{
    char lo[32], hi[32];

    if (s->n == 0) {
        fputs("—", out);
        return;
    }
    double m = s->median / div;
    fprintf(out, "%.*f", decimals == 0 && m != (double)(int64_t)m ? 1 : decimals, m);
    snprintf(lo, sizeof(lo), "%.*f", decimals, s->min / div);
    snprintf(hi, sizeof(hi), "%.*f", decimals, s->max / div);
    if (strcmp(lo, hi) != 0)
        fprintf(out, " <span class=\"count\">[%s–%s]</span>", lo, hi);
}

void ovs_html_repeats(FILE *out, const ovs_rep_cells *c)
{
    static const struct {
        double div;
        int decimals;
    } unit[OVS_REP_NFIGURES] = {
        [OVS_REP_DAMAGE] = { 1, 0 }, [OVS_REP_SUCCEEDED] = { 1, 0 }, [OVS_REP_RPS] = { 1, 1 },
        [OVS_REP_P50] = { 1e6, 3 },  [OVS_REP_P99] = { 1e6, 3 },     [OVS_REP_RETRIES] = { 1, 0 },
    };

    if (c->n == 0)
        return;
    fputs("<h2>Repeated cells</h2>\n<p class=\"note\">Each cell's runs with their own seeds:"
          " the unsafe rate (tick) in its 95 % Wilson interval (band), each figure's median"
          " [min–max], and the worst run, which <code>oversell run SCENARIO --strategy NAME"
          " --seed S</code> replays.</p>\n<table class=\"runs repeats\">\n<tr><th>scenario</th>"
          "<th>strategy</th><th>params</th><th>runs</th><th>unsafe</th><th>worst run</th>"
          "<th>oversold or double-booked</th><th>succeeded</th><th>req/s</th><th>p50 ms</th>"
          "<th>p99 ms</th><th>retries</th></tr>\n",
          out);
    for (size_t i = 0; i < c->n; i++) {
        const ovs_rep_cell *x = &c->v[i];
        fputs("<tr><td class=\"name\">", out);
        ovs_html_esc(out, x->scenario);
        fputs("</td><td class=\"name\">", out);
        ovs_html_esc(out, x->strategy);
        fputs("</td><td><code>", out);
        ovs_html_esc(out, x->params);
        fprintf(out, "</code></td><td>%d", x->runs);
        if (x->runs > x->judged)
            fprintf(out, " <span class=\"count\">(%d without a verdict)</span>",
                    x->runs - x->judged);
        fprintf(out, "</td><td class=\"%s\">%d/%d <span class=\"count\">%.0f–%.0f %%</span>",
                x->unsafe > 0 ? "v-unsafe" : "v-safe", x->unsafe, x->judged, x->lo * 100,
                x->hi * 100);
        ovs_html_rate_bar(out, x->unsafe, x->judged);
        fputs("</td><td>", out);
        if (x->worst_id >= 0) {
            fprintf(out, "<a href=\"#run-%lld\">run %lld</a>, seed %llu: ",
                    (long long)x->worst_id, (long long)x->worst_id,
                    (unsigned long long)x->worst_seed);
            ovs_html_esc(out, x->worst_figure);
        } else {
            fputs("none unsafe", out);
        }
        fputs("</td>", out);
        for (int f = 0; f < OVS_REP_NFIGURES; f++) {
            fputs("<td>", out);
            spread(out, &x->fig[f], unit[f].div, unit[f].decimals);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}
