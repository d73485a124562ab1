/* checker.h - the invariants a run is judged by (oversold, double_booked, mutex_overlaps,
 * lost_orders, divergence), computed from ground truth.
 *
 * The shop's SQL state and the recorded event intervals are the only evidence: a
 * strategy's own return values are never trusted. The interval and statistics maths are
 * pure functions so they can be tested without servers. */
#ifndef OVS_CHECKER_H
#define OVS_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "scenario/scenario.h"
#include "core/trace.h"

typedef struct ovs_shop ovs_shop;

typedef struct ovs_check {
    char invariant[32]; /* "oversold", "double_booked", "mutex_overlaps", ... */
    int64_t observed;   /* the measured figure */
    int64_t expected;   /* what a safe run gives (0 for all of these) */
    int pass;           /* observed == expected (0 when skipped) */
    int skipped;        /* 1: the check could not run and detail says why; such a run gets
                           no verdict, since a check that did not run proves nothing */
    char detail[200];   /* the figure in words, with times: "2 holders of sku:1 between
                           t=412.0 ms and t=455.3 ms" */
} ovs_check;

#define OVS_MAX_CHECKS 8

/* Overlap of critical sections on one key. */
typedef struct ovs_interval {
    int64_t start, end; /* [start, end) */
    int client;
} ovs_interval;

typedef struct ovs_overlap {
    int64_t pairs;       /* pairs of intervals that intersect */
    int max_holders;     /* most intervals open at one instant */
    int64_t first_start; /* the first instant two were open at once (valid if pairs > 0) */
    int64_t first_end;   /* when that first overlap ended */
    int first_a, first_b; /* clients of the first overlapping pair */
} ovs_overlap;

/* Count overlapping pairs among n half-open intervals (sorted in place by start), by the
 * one definition, ovs_holds_overlap: touching intervals ([a,b) and [b,c)), empty ones and
 * two of the same client do not overlap. O(n log n): the pairs are counted, never listed,
 * so 10,000 unprotected buyers cost no more than a sort. max_holders counts the sections
 * open at one instant, at least one per client among them. */
void ovs_overlaps(ovs_interval *iv, size_t n, ovs_overlap *out);

/* Latency statistics over request events. */
typedef struct ovs_latency {
    int64_t n, p50, p99, max; /* nanoseconds; nearest-rank percentiles */
} ovs_latency;
/* Nearest-rank percentiles of v (sorted in place). n == 0 gives zeros. */
void ovs_latency_of(int64_t *v, size_t n, ovs_latency *out);

/* What the checker needs beyond SQL and the events. */
typedef struct ovs_check_input {
    int64_t unknown;  /* requests whose outcome is unknown: checks that depend on outcomes
                         accept a result within that bound instead of guessing */
    int fenced;       /* the storage judges the strategy's writes - it fences them
                         (xFence), or its lock is a transaction the database may refuse
                         to let write (unlock_commits: a serialization failure): an
                         overlap of holds is tolerated where the shop's rows show at most
                         one applied write among the overlapping holders (the storage
                         refused the other); the strategy's own word is never enough */
    int redis_stock;  /* the strategy keeps stock in Redis: the divergence check is owed */
    const int64_t *stock; /* with redis_stock: stock:<sku> after the run for sku 1..skus,
                             a missing key counted as 0 (as the scripts read it); NULL
                             when it could not be read */
    int missing;      /* with redis_stock: how many of those keys were missing */
    const char *unread; /* with redis_stock and stock NULL: why Redis could not be read;
                           the divergence check is then reported skipped */
} ovs_check_input;

/* Run every invariant that applies to the scenario's workload:
 *   inventory: oversold (orders - initial stock, with negative stock)
 *   booking:   double_booked (overlapping confirmed pairs per room)
 *   both:      mutex_overlaps (per key), lost_orders (acknowledged requests with no row in
 *              SQL), and divergence (Redis stock vs SQL stock, every SKU) where the
 *              strategy keeps stock in Redis
 * shop is a connection to the run's shop database; traces are every thread's events;
 * t0 makes times in details relative; in may be NULL. Writes up to OVS_MAX_CHECKS checks
 * and a one-line headline into figure. Returns the number of checks, or -1 on SQL failure
 * (err). */
int ovs_check_run(ovs_shop *shop, const ovs_scenario *sc, ovs_trace *const *traces,
                  int ntraces, int64_t t0, const ovs_check_input *in, ovs_check *checks,
                  char *figure, size_t figurelen, char *err, size_t errlen);

#endif
