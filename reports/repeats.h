/* repeats.h - cells run more than once (--repeat N): what their runs add up to.
 * Private to reports/.
 *
 * One verdict from one run says little about a race that shows one time in three. A cell
 * here is the runs of one scenario and strategy on one back end with one parameter text
 * (a sweep's points are cells of their own), and only cells of two runs or more are
 * listed. Per cell: the unsafe rate k/N over the runs with a verdict and its 95 % Wilson
 * interval, the median and the range of every figure, and the worst run - the most units
 * oversold or pairs double-booked, the first of equals - with its seed, so that
 * `oversell run SCENARIO --strategy NAME --seed S` replays it. summary.md and index.html
 * both print them from ovs_repeats_load. */
#ifndef OVS_REPEATS_H
#define OVS_REPEATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The figures a cell's runs are summed up by, in the order the tables print them. */
enum {
    OVS_REP_DAMAGE,     /* units oversold or pairs double-booked (the primary check) */
    OVS_REP_SUCCEEDED,  /* requests that sold or booked */
    OVS_REP_RPS,        /* requests per second */
    OVS_REP_P50,        /* latency p50, ns */
    OVS_REP_P99,        /* latency p99, ns */
    OVS_REP_RETRIES,    /* lock retries */
    OVS_REP_NFIGURES
};

/* Median and range of one figure over a cell's runs that recorded it. */
typedef struct ovs_rep_spread {
    int n;              /* runs that recorded it; 0: the rest is meaningless */
    double median, min, max;
} ovs_rep_spread;

typedef struct ovs_rep_cell {
    char *scenario, *strategy, *params; /* strategy: the matrix column (with back end) */
    int runs;           /* runs of the cell */
    int judged;         /* of them, with a verdict */
    int unsafe;         /* of those, unsafe */
    double lo, hi;      /* 95 % Wilson interval of unsafe / judged */
    int64_t worst_id;   /* the worst unsafe run, or -1 when none was unsafe */
    uint64_t worst_seed;
    char *worst_figure; /* its figure, or NULL */
    char *scenario_file; /* for the replay command */
    char *strategy_name; /* the strategy alone, for the replay command */
    ovs_rep_spread fig[OVS_REP_NFIGURES];
} ovs_rep_cell;

typedef struct ovs_rep_cells {
    ovs_rep_cell *v;
    size_t n;
} ovs_rep_cells;

/* Load every cell of two runs or more, in order of its first run. 0, or -1 with err. */
int ovs_repeats_load(sqlite3 *db, ovs_rep_cells *out, char *err, size_t errlen);
void ovs_repeats_free(ovs_rep_cells *c);

/* The median of v[0..n) (sorted in place), the mean of the middle two when n is even. */
double ovs_rep_median(double *v, int n);

/* The "## Repeated cells" section of summary.md; nothing when there is none. */
void ovs_repeats_md(FILE *out, const ovs_rep_cells *c);

#endif
