/* adapter.c - placeholder for the adapter strategies (locks/adapters/PROTOCOL.md), so that
 * the definition loader links; replaced by the real implementation. */
#include "locks/strategy_def.h"

#include "core/util.h"

int ovs_adapter_define(const ovs_strategy_def *def, const ovs_strategy_methods **out,
                       char *err, size_t errlen)
{
    (void)out;
    ovs_seterr(err, errlen, "%s: adapter strategies are not built in yet", def->path);
    return -1;
}
