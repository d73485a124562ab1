/* none.c - no protection: check, think, act. The baseline that must lose.
 *
 * Its lock and unlock do nothing, so the runner still records a "critical section" for
 * each request: the overlaps of those intervals are exactly the race the other strategies
 * exist to close, and the timeline shows them. */
#include "locks/strategy.h"

static int none_open(ovs_strategy *s, const ovs_env *env)
{
    (void)s;
    (void)env;
    return OVS_OK;
}

static int none_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    return OVS_OK;
}

static int none_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return OVS_OK;
}

static void none_close(ovs_strategy *s)
{
    (void)s;
}

const ovs_strategy_methods ovs_strategy_none = {
    .version = 3,
    .name = "none",
    .summary = "check, think, act with no protection: the baseline that must oversell",
    .claims_safe = 0,
    .size = sizeof(ovs_strategy),
    .xOpen = none_open,
    .xLock = none_lock,
    .xUnlock = none_unlock,
    .xClose = none_close,
};
