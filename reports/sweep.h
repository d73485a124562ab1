/* sweep.h - a parameter sweep read back from the results database: sweep.md and the
 * sweep section of index.html.
 *
 * A sweep is one scenario and strategy on one back end run under more than one parameter
 * text (runs.params): `oversell sweep` records one cell per point of its grid. The database
 * does not say which parameters were varied, so they are found again from the texts: the
 * keys whose values differ between points. The one that changes least often from one
 * point to the next (in the order the points were first run) is the grid's outer
 * parameter, the x axis; the rest name the lines (`oversell sweep` runs its first --vary
 * outermost, so that is its first). Values keep the order they were first run in.
 *
 * Same contract as report.h: everything comes from the database, functions return 0, or
 * -1 with the reason in err (caller-owned, may be NULL). */
#ifndef OVS_SWEEP_H
#define OVS_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* One point of a sweep: the runs recorded under one parameter text. Medians are over the
 * runs that finished (status 'ok'); of an even count, the mean of the middle two. */
typedef struct ovs_sweep_point {
    char *params;              /* runs.params */
    size_t xi, li;             /* its x value and its line: indexes into the sweep's xs, lines */
    int runs;                  /* runs recorded, whatever their status */
    int finished;              /* of them, runs with status 'ok' */
    int unsafe;                /* of those, runs with verdict 'unsafe' */
    int64_t requests;          /* summed over finished runs */
    int64_t succeeded;         /* summed over finished runs */
    double lost_sales;         /* median; meaningless unless the sweeps' has_lost */
    double busy;               /* median of requests that gave up busy after their retries */
    double retries;            /* median */
    double p50_ns, p99_ns;     /* medians of the runs' p50 and p99 request latency */
} ovs_sweep_point;

typedef struct ovs_sweep {
    char *scenario, *strategy, *backend;
    char *x_key;               /* the outer varied parameter */
    char *line_key;            /* the other varied parameter(s), "a,b"; NULL when one varied */
    char *fixed;               /* the parameters every point shares, "k=v,..." */
    char **xs;                 /* x values, nx of them */
    size_t nx;
    char **lines;              /* line values ("200", or "a=1,b=2" for several keys), nl */
    size_t nl;
    ovs_sweep_point *pts;      /* n points, ordered by x then line */
    size_t n;
} ovs_sweep;

typedef struct ovs_sweeps {
    ovs_sweep *v;              /* in order of their first run */
    size_t n;
    int has_lost;              /* the database has runs.lost_sales */
} ovs_sweeps;

/* Load every sweep of db into s (zeroed by the caller); none is 0 with s->n == 0. */
int ovs_sweeps_load(sqlite3 *db, ovs_sweeps *s, char *err, size_t errlen);
/* Free s and leave it empty; an empty s is fine. */
void ovs_sweeps_free(ovs_sweeps *s);

/* Success rate of p in percent (succeeded / requests over its finished runs); -1 when
 * none of them made a request. */
double ovs_sweep_success(const ovs_sweep_point *p);

/* sweep.md (written by `oversell sweep`): per sweep the table of its points, or one line
 * saying there is none. */
int ovs_report_sweep(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* html_sweep.c: the sweep section of index.html, one line chart per figure; writes
 * nothing when db holds no sweep. */
int ovs_html_sweeps(sqlite3 *results, FILE *out, char *err, size_t errlen);

#endif
