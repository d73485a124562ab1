/* html_util.h - the HTML and SVG helpers html.c, html_svg.c and html_timeline.c all use.
 * Private to reports/.
 *
 * Stateless writers to a FILE*; none reads the database or fails (a write error shows in
 * ferror, which ovs_report_html checks once at the end). */
#ifndef OVS_HTML_UTIL_H
#define OVS_HTML_UTIL_H

#include <stdint.h>
#include <stdio.h>

/* Write s with &, <, >, " and ' escaped, so it is safe as element text and inside a
 * quoted attribute. NULL writes nothing. */
void ovs_html_esc(FILE *out, const char *s);

/* Nanoseconds as milliseconds with `decimals` places (0..6), integer arithmetic only. */
void ovs_html_ms(FILE *out, int64_t ns, int decimals);

/* The start tag of an SVG of w x h px (viewBox the same, so it scales down with the page). */
void ovs_html_svg_open(FILE *out, const char *cls, double w, double h);

/* A round axis step (1, 2 or 5 times a power of ten) cutting range into about target
 * parts; 1 when range is not positive. */
double ovs_html_nice_step(double range, int target);

/* An axis tick value with as many places as its step needs. */
void ovs_html_tick(FILE *out, double v, double step);

#endif
