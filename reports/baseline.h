/* baseline.h - two results databases compared cell by cell: what `oversell diff OLD NEW`
 * and `oversell gate --baseline OLD` fail on.
 *
 * A cell is the runs of one (scenario, strategy, backend, params); n/a runs are no part
 * of any. Its figures are taken over its runs with status 'ok', however many there are
 * (several with --repeat): the unsafe rate k/N, the worst oversell or double booking
 * (the primary check's observed figure), the median p99 latency, and the median lost
 * sales when the database records them (a runs.lost_sales column). A figure got worse
 * when it grew beyond its tolerance (ovs_diff_limits); a cell that had ok runs and has
 * none left is worse too. Cells in one database only are listed as new or removed, and
 * count as worse only when asked (strict). Functions that can fail return 0, or -1 with
 * the reason in err (a caller-owned buffer of errlen bytes; may be NULL). */
#ifndef OVS_BASELINE_H
#define OVS_BASELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* One cell's figures. */
typedef struct ovs_cell_figures {
    char *scenario, *strategy; /* the cell's identity, with the two below */
    char *backend;             /* the shop's back end; "sqlite" for runs recorded without */
    char *params;              /* the parameters as recorded; "" for none */
    int runs;                  /* runs with status ok */
    int unsafe;                /* of those, judged unsafe */
    int has_oversold;          /* 1: one of them has a primary check */
    int64_t oversold;          /* the worst one's observed figure */
    int has_p99;               /* 1: one of them has a p99 */
    int64_t p99_ns;            /* median of their p99s (the mean of the middle two) */
    int has_lost;              /* 1: the database records lost sales for them */
    int64_t lost_sales;        /* median of their lost sales */
} ovs_cell_figures;

/* The cells of one database, ordered by identity (byte order). */
typedef struct ovs_cellset {
    ovs_cell_figures *v; /* cells */
    size_t n;            /* cells in v */
} ovs_cellset;

/* Load the cells of results into set. A database without the tables runs and checks
 * fails with SQLite's reason ("no such table: runs", "file is not a database"). On -1
 * set is empty. */
int ovs_cellset_load(sqlite3 *results, ovs_cellset *set, char *err, size_t errlen);
/* Free the cells and leave set empty; an empty set is fine. */
void ovs_cellset_free(ovs_cellset *set);

/* How much worse each figure may get before it counts. */
typedef struct ovs_diff_limits {
    double p99_pct;       /* the median p99 may grow by this many percent ... */
    int64_t p99_floor_ns; /* ... and a growth smaller than this never counts: noise on a
                             sub-millisecond figure is not a regression */
    int64_t oversold;     /* the worst oversell may grow by this much */
    double unsafe_rate;   /* the unsafe rate (0..1) may grow by this much */
    int64_t lost_sales;   /* the median lost sales may grow by this much; < 0: not
                             compared */
    int strict;           /* 1: a new or removed cell counts as worse */
} ovs_diff_limits;

/* Any more oversell or unsafe runs fails; p99 may grow 50 % (and at least 1 ms); lost
 * sales are not compared, being as much the scenario's timing as the strategy's. */
#define OVS_DIFF_LIMITS_DEFAULT { 50.0, 1000000, 0, 0.0, -1, 0 }

/* What a comparison found. */
typedef struct ovs_diff_result {
    int compared; /* cells in both databases */
    int worse;    /* cells with a figure worse beyond its tolerance (new and removed ones
                     too, when strict) */
    int figures;  /* rows of the table: figures that got worse */
    int added;    /* cells only in the new database */
    int removed;  /* cells only in the old one */
} ovs_diff_result;

/* Compare old with new under l and write to out the figures that got worse as a table
 * (cell, figure, old, new, change), the new and removed cells, and a summary line. */
int ovs_diff_write(const ovs_cellset *old, const ovs_cellset *new, const ovs_diff_limits *l,
                   FILE *out, ovs_diff_result *res, char *err, size_t errlen);

#endif
