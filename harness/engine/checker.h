/* checker.h - the invariants a run is judged by (oversold, double_booked, mutex_overlaps,
 * lost_orders, divergence, leaked_stock, sold_after_expiry), computed from ground truth,
 * and the figures reported beside them (stale_answers).
 *
 * The shop's SQL state and the recorded event intervals are the only evidence: a
 * strategy's own return values are never trusted. The interval and statistics maths are
 * pure functions so they can be tested without servers. */
#ifndef OVS_CHECKER_H
#define OVS_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "scenario/scenario.h"
#include "core/answer.h"
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

/* Checkout holds as the harness read them after the run (engine/holds.h), for a strategy
 * that takes them (locks/holds.h): the evidence of leaked_stock and sold_after_expiry. */
/* One hold record as read, for the results database (engine/recorder.h): the fields of
 * the hash locks/holds.h describes. settled_ms is -1 while the hold is open. */
typedef struct ovs_hold_row {
    int64_t buyer, sku, created_ms, expires_ms, settled_ms;
    char state[16];
} ovs_hold_row;

typedef struct ovs_hold_facts {
    int64_t records;       /* hold records found, settled or not */
    int64_t open_live;     /* still open and not yet expired when read: their units are held */
    int64_t open_expired;  /* still open past their expiry: nobody gave their unit back */
    int64_t confirmed;     /* settled by a confirm: sold */
    int64_t late;          /* of those, confirmed at or after the hold's expiry (the
                              server's own clock, read in the same script as the change) */
    int64_t worst_late_buyer; /* with late: the buyer whose confirm came longest after
                                 the hold's expiry */
    int64_t worst_late_ms;    /* and how long after (ms) */
    int stock_in_sql;      /* 1: the units on sale are the shop's skus.stock (holds in
                              SQL); 0: Redis stock, the check input's stock */
    /* Holds in Redis only (the shop's table has its own): every record, and the server's
     * clock when they were read, kept so the figures can be counted again by hand from
     * the results database once that Redis is gone. Owned: ovs_hold_facts_free. */
    ovs_hold_row *rows;
    size_t nrows;
    int64_t read_ms;
} ovs_hold_facts;

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
    const unsigned char *absent; /* with stock: 1 for each SKU whose key was missing (NULL:
                                    none was). No request deletes a stock key, so the
                                    gap on such a SKU is Redis's lost state, which no
                                    count of unknown outcomes excuses */
    const char *unread; /* with redis_stock and stock NULL: why Redis could not be read;
                           the divergence check is then reported skipped */
    int holds;        /* the strategy takes checkout holds: leaked_stock (inventory) and
                         sold_after_expiry are owed; the units on sale are read where
                         hold->stock_in_sql says */
    const ovs_hold_facts *hold; /* with holds: the records as read; NULL when they could
                                   not be read (hold_unread says why): both are skipped */
    const char *hold_unread;
    int asks;         /* the strategy answers availability (xAvailable): the stale answers
                         figure is owed, from the recorded answer events */
} ovs_check_input;

/* The answers of a run, judged by the one rule of core/answer.h. */
typedef struct ovs_stale {
    int64_t answers;   /* answer events that gave an answer */
    int64_t stale;     /* of them, outside the truth around their call */
    int64_t lost_sale; /* said none while SQL had some: the buyer left */
    int64_t dead_end;  /* said some while SQL had none: sent to a checkout that refuses */
    int64_t outdated;  /* right when given (some, or free), then the request was refused by
                          the shop: the screen went out of date before the buyer acted */
    int64_t first_at;  /* start of the first stale answer (valid when stale > 0) */
    int first_client;  /* its client */
    ovs_answer first;  /* and what it said against the truth */
    int64_t unreadable; /* answer events whose detail is not an answer: a broken record */
} ovs_stale;

/* Count the stale answers among every answer event of traces. Pure: no SQL, the truth is
 * in the events the runner recorded. */
void ovs_stale_answers(ovs_trace *const *traces, int ntraces, ovs_stale *out);

/* Run every invariant that applies to the scenario's workload:
 *   inventory: oversold (orders - initial stock, with negative stock)
 *   booking:   double_booked (overlapping confirmed pairs per room)
 *   both:      mutex_overlaps (per key), lost_orders (acknowledged requests with no row in
 *              SQL), and divergence (Redis stock vs SQL stock, every SKU) where the
 *              strategy keeps stock in Redis; for a strategy with checkout holds,
 *              leaked_stock (inventory: initial - on sale - sold - held, after every
 *              hold could have expired) and sold_after_expiry (confirms at or after their
 *              hold's expiry); and the stale_answers figure where the strategy answers
 *              availability (in->asks; a figure, never part of the verdict);
 *   inventory: duplicate_orders (order rows of one write-back stream entry beyond the
 *              first: a redelivered entry applied again), last
 * shop is a connection to the run's shop database; traces are every thread's events;
 * t0 makes times in details relative; in may be NULL. Writes up to OVS_MAX_CHECKS checks
 * and a one-line headline into figure. Returns the number of checks, or -1 on SQL failure
 * (err). */
int ovs_check_run(ovs_shop *shop, const ovs_scenario *sc, ovs_trace *const *traces,
                  int ntraces, int64_t t0, const ovs_check_input *in, ovs_check *checks,
                  char *figure, size_t figurelen, char *err, size_t errlen);

#endif
