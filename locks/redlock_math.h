/* redlock_math.h - the arithmetic of the Redlock algorithm, apart from any I/O.
 *
 * Kept pure so that the unit tests can pin the numbers the live strategy decides by:
 * how many nodes make a majority, and how much of the lease is left once the clock drift
 * allowance and the time spent acquiring are taken off. Times are whole milliseconds, as
 * in SET ... PX and in the algorithm's description; every rounding goes the safe way
 * (a shorter validity). */
#ifndef OVS_REDLOCK_MATH_H
#define OVS_REDLOCK_MATH_H

#include <stdint.h>

/* Nodes that make a majority of n: n/2 + 1 (1 of 1, 2 of 2, 2 of 3, 3 of 4, 3 of 5).
 * n < 1 gives 1, which no attempt on zero nodes can reach. */
int ovs_redlock_quorum(int n);

/* Clock drift allowance for a lease: ttl * drift_factor rounded up to a whole ms, plus
 * 2 ms for the granularity of Redis's own expiry clock. */
int64_t ovs_redlock_drift_ms(int64_t ttl_ms, double drift_factor);

/* What is left of the lease: ttl - elapsed - drift. May be zero or negative. */
int64_t ovs_redlock_validity_ms(int64_t ttl_ms, int64_t elapsed_ms, double drift_factor);

/* Monotonic nanoseconds spent acquiring, rounded up to whole milliseconds. */
int64_t ovs_redlock_elapsed_ms(int64_t elapsed_ns);

/* 1 when an attempt that locked `successes` of n nodes holds the lock: a majority, with
 * time left on the lease. */
int ovs_redlock_acquired(int successes, int n, int64_t validity_ms);

#endif
