/* holds.c - which strategy keeps checkout holds, and where, read from its parameters. */
#include "locks/holds.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void ovs_holds_zset_key(const char *prefix, char *buf, size_t len)
{
    snprintf(buf, len, "%s" OVS_HOLDS_ZSET, prefix ? prefix : "");
}

void ovs_hold_key(const char *prefix, int64_t buyer, char *buf, size_t len)
{
    snprintf(buf, len, "%s" OVS_HOLD_PREFIX "%lld", prefix ? prefix : "", (long long)buyer);
}

/* The index of m's parameter called name, or -1. */
static int param_index(const ovs_strategy_methods *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

enum ovs_holds_where ovs_holds_of(const ovs_strategy_methods *m, const ovs_params *p)
{
    int i;

    if (m != &ovs_strategy_reservation || (i = param_index(m, "holds")) < 0)
        return OVS_HOLDS_NONE;
    return p->v[i] >= 1 ? OVS_HOLDS_SQL : OVS_HOLDS_REDIS;
}

double ovs_holds_ttl_ms(const ovs_strategy_methods *m, const ovs_params *p)
{
    int i = param_index(m, "hold_ttl");

    return ovs_holds_of(m, p) == OVS_HOLDS_NONE || i < 0 ? 0 : p->v[i];
}

int64_t ovs_holds_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
