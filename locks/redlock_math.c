/* redlock_math.c - quorum and validity time for the Redlock algorithm.
 *
 * The drift allowance follows the reference description (TTL * 0.01 + 2 ms), but rounds
 * up where the reference clients truncate: underestimating drift is the unsafe direction.
 * A plain ceil() would be wrong the other way on binary fractions - 100 * 0.07 is
 * 7.000000000000001 in doubles and must give 7, not 8 - so a product within a nanosecond
 * of a whole millisecond counts as that millisecond. */
#include "locks/redlock_math.h"

#include "core/util.h"

/* Below a nanosecond of a whole millisecond, the difference is representation noise. */
#define DRIFT_EPSILON_MS 1e-6

int ovs_redlock_quorum(int n)
{
    return n < 1 ? 1 : n / 2 + 1;
}

int64_t ovs_redlock_drift_ms(int64_t ttl_ms, double drift_factor)
{
    double d = (double)ttl_ms * drift_factor;
    int64_t whole;

    if (d <= 0)
        return 2;
    whole = (int64_t)d;
    if (d - (double)whole > DRIFT_EPSILON_MS)
        whole++;
    return whole + 2;
}

int64_t ovs_redlock_validity_ms(int64_t ttl_ms, int64_t elapsed_ms, double drift_factor)
{
    return ttl_ms - elapsed_ms - ovs_redlock_drift_ms(ttl_ms, drift_factor);
}

int64_t ovs_redlock_elapsed_ms(int64_t elapsed_ns)
{
    if (elapsed_ns <= 0)
        return 0;
    return (elapsed_ns + OVS_NS_PER_MS - 1) / OVS_NS_PER_MS;
}

int ovs_redlock_acquired(int successes, int n, int64_t validity_ms)
{
    return successes >= ovs_redlock_quorum(n) && validity_ms > 0;
}
