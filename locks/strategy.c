/* strategy.c - the registry of built-in strategies, found by name. */
#include "locks/strategy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The order here is the order of matrix columns and of `oversell list`. */
static const ovs_strategy_methods *const registry[] = {
    &ovs_strategy_none,
    &ovs_strategy_sql_pessimistic,
    &ovs_strategy_setnx,
    &ovs_strategy_redlock,
    &ovs_strategy_lua_decr,
    &ovs_strategy_check_then_decr,
    &ovs_strategy_fencing,
    &ovs_strategy_watchdog,
    NULL,
};

const ovs_strategy_methods *ovs_strategy_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const ovs_strategy_methods *const *ovs_strategy_list(void)
{
    return registry;
}

int ovs_strategy_prepare(const ovs_strategy_methods *m, const ovs_env *env, char *err,
                         size_t errlen)
{
    ovs_strategy *s;
    int rc;

    if (m->xPrepare == NULL)
        return OVS_OK;
    s = calloc(1, m->size);
    if (s == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    s->m = m;
    s->env = env;
    rc = m->xPrepare(s, env);
    if (rc != OVS_OK)
        ovs_seterr(err, errlen, "%s", s->errstr[0] ? s->errstr : "failed");
    free(s);
    return rc;
}

int ovs_strategy_fail(ovs_strategy *s, int code, const char *fmt, ...)
{
    va_list ap;
    s->err = code;
    va_start(ap, fmt);
    vsnprintf(s->errstr, sizeof(s->errstr), fmt, ap);
    va_end(ap);
    return code;
}
