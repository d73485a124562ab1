/* html.h - what html.c (the page) calls in html_svg.c (its charts) and html_timeline.c
 * (its timelines). Private to reports/. Those two never call back into html.c: what all
 * three use is in html_util.h.
 *
 * Same contract as report.h: everything comes from the results database, nothing from the
 * clock or the host, so one database always gives the same bytes. Functions that read the
 * database return 0, or -1 with the reason in err (caller-owned, may be NULL). */
#ifndef OVS_HTML_H
#define OVS_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* Timelines are drawn for runs with at most this many clients: one lane each, and more
 * lanes than this are no longer something a reader follows by eye. */
#define OVS_HTML_TIMELINE_CLIENTS 20

/* One strategy of a scenario in its charts: the latest run of that cell. */
typedef struct ovs_html_series {
    const char *strategy; /* bar label */
    int64_t run;          /* runs.id */
    int has_throughput;   /* runs.throughput is not NULL */
    double throughput;    /* requests per second */
} ovs_html_series;

/* html_svg.c: percentile bars (p50, p90, p99, max) of each run's request latencies, log scale. */
int ovs_html_latency(sqlite3 *db, FILE *out, const ovs_html_series *s, size_t n, char *err,
                     size_t errlen);

/* Throughput bars, one per run, linear scale. */
void ovs_html_throughput(FILE *out, const ovs_html_series *s, size_t n);

/* html_timeline.c: the swim-lane timeline of one run with its violations in red, captioned title.
 * Returns 1 when drawn; 0 when the run gets none, with the reason in why ("100 clients
 * (at most 20 are drawn)") and nothing written; -1 on error. The legend is written before
 * the first timeline drawn, when *legend is 0, which then becomes 1. */
int ovs_html_timeline(sqlite3 *db, FILE *out, int64_t run, const char *title, int *legend,
                      char *why, size_t whylen, char *err, size_t errlen);

#endif
