/* liveness.h - the liveness figures of a run: lost sales, unavailability, retries per
 * success.
 *
 * The invariants (engine/checker.h) say whether a strategy was safe; these say what its
 * safety cost. A strategy that never oversells because it turns everyone away is safe
 * and useless, and these figures are where that shows. They are figures beside the
 * verdict, never part of it, recorded in runs (engine/recorder.h) and reported in
 * results.csv and results.json.
 *
 *   lost_sales     buyers turned away without an error - refused by the shop (sold out,
 *                  room taken, a stale token), sent away by a screen that said none, or
 *                  gone after giving up on a lock - while the shop still had what they
 *                  asked for at the end. Inventory: per SKU, the smaller of its buyers
 *                  turned away and the units left in SQL, summed over the SKUs (every one
 *                  of those buyers could have had one of those units). Booking: the
 *                  turned-away requests whose stay no confirmed booking of the room
 *                  overlaps at the end, taken in the order they were made and each
 *                  counted one only when it does not overlap an earlier one counted too
 *                  (two guests refused the same free room are one lost booking, not two).
 *                  Read from the request events (their detail words, core/answer.h) and
 *                  the shop's SQL, never from the strategy's return values.
 *   unavailable    requests that got no answer: gave up on a lock (busy), failed on an
 *                  error, or unknown. The buyer was told neither "sold" nor "no".
 *   retries_per_success  attempts beyond the first (runs.retries) per request that
 *                  succeeded; undefined when none did. */
#ifndef OVS_LIVENESS_H
#define OVS_LIVENESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/trace.h"
#include "engine/runner.h"
#include "scenario/scenario.h"

typedef struct ovs_shop ovs_shop;

typedef struct ovs_liveness {
    int64_t lost_sales;         /* -1: not known (the run recorded no events) */
    int64_t unavailable;
    double retries_per_success; /* < 0: nothing succeeded, no ratio */
} ovs_liveness;

/* The figures of the run res, whose shop is open at shop (after the write-back queue
 * drained) and whose events are res->traces. A run without request events (recording
 * off) has no lost sales figure: -1. Returns 0, or -1 with err (SQL failure, or out of
 * memory). */
int ovs_liveness_of(ovs_shop *shop, const ovs_scenario *sc, const ovs_run_result *res,
                    int events, ovs_liveness *out, char *err, size_t errlen);

/* 1 when a request event's detail says its buyer was turned away without an error (the
 * runner's words of core/answer.h), 0 for a sale, an error or an unknown outcome. */
int ovs_liveness_turned_away(const ovs_event *e);

#endif
