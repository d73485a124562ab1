/* html_util.c - the small writers every part of index.html uses: escaping, milliseconds,
 * an SVG's start tag and the steps and ticks of an axis.
 *
 * Split from html.c and html_svg.c so that the page (html.c) calls its charts (html_svg.c)
 * and timelines (html_timeline.c) and neither calls back. */
#include "reports/html_util.h"

#include <math.h>

#include "reports/report.h"
#include "core/util.h"

void ovs_html_esc(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

void ovs_html_ms(FILE *out, int64_t ns, int decimals)
{
    char buf[48];

    ovs_report_fixed(ns, OVS_NS_PER_MS, decimals, buf, sizeof buf);
    fputs(buf, out);
}

/* A round step (1, 2 or 5 times a power of ten) cutting range into about `target` parts. */
double ovs_html_nice_step(double range, int target)
{
    double raw = range / target, mag, f;

    if (!(raw > 0))
        return 1;
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* A tick value with the places its step needs. */
void ovs_html_tick(FILE *out, double v, double step)
{
    int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    fprintf(out, "%.*f", d, v);
}

void ovs_html_svg_open(FILE *out, const char *cls, double w, double h)
{
    fprintf(out, "<svg class=\"%s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\""
                 " role=\"img\">\n", cls, w, h, w, h);
}
