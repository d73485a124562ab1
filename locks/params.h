/* params.h - strategy parameters: declared by each strategy, set by scenario files and by
 * `--strategy name:key=value,...` on the command line.
 *
 * Every parameter is a number (a duration in milliseconds, a count, a ratio) or one of a
 * few named choices stored as the choice's index. Declaring them in a table lets the
 * harness validate input before anything starts and list them with their defaults. */
#ifndef OVS_PARAMS_H
#define OVS_PARAMS_H

#include <stddef.h>

typedef struct ovs_strategy_methods ovs_strategy_methods;

#define OVS_MAX_PARAMS 16

typedef struct ovs_param_spec {
    const char *name;    /* key in files and on the command line */
    double def;          /* default (for choices: the index of the default choice) */
    const char *unit;    /* "ms" (accepts 150ms, 2s, or a bare number of ms), "count",
                            "ratio", or NULL for choices */
    const char *choices; /* "master|replica" for a choice parameter, else NULL */
    double min, max;     /* inclusive bounds for numbers */
    const char *help;    /* one line for `oversell list` */
} ovs_param_spec;

/* Resolved values, indexed like the strategy's spec table. */
typedef struct ovs_params {
    double v[OVS_MAX_PARAMS];
} ovs_params;

/* Whether m's parameter table is well formed: 0..OVS_MAX_PARAMS entries, each with a
 * unique name of lowercase letters, digits and '_', a help line, and either a unit ("ms",
 * "count", "ratio") with min <= def <= max, or choices ("a|b", no empty one) with def the
 * index of one of them. Returns 0, or -1 with a reason naming the strategy in err.
 * ovs_strategy_register calls it; everything after may rely on it. */
int ovs_params_check(const ovs_strategy_methods *m, char *err, size_t errlen);
/* Fill p with m's defaults. */
void ovs_params_defaults(const ovs_strategy_methods *m, ovs_params *p);
/* Set one key. Returns 0, or -1 with a reason in err such as
 * "setnx has no parameter 'tll' (it has: ttl, retry_count, ...)" or
 * "ttl: '-5' is not a duration (like 5000 or 5s)". */
int ovs_params_set(const ovs_strategy_methods *m, ovs_params *p, const char *key,
                   const char *value, char *err, size_t errlen);
/* Set "k=v,k=v" (an empty list is fine). Same contract as ovs_params_set. */
int ovs_params_set_list(const ovs_strategy_methods *m, ovs_params *p, const char *list,
                        char *err, size_t errlen);
/* "ttl=5000,retry_count=3,..." in spec order; returns what snprintf would. */
int ovs_params_format(const ovs_strategy_methods *m, const ovs_params *p, char *buf,
                      size_t len);
/* Parse a whole `--strategy` argument "name[:k=v,...]": finds the strategy, starts from
 * `base` (or its defaults when base is NULL) and applies the list. */
int ovs_strategy_arg(const char *arg, const ovs_strategy_methods **m, ovs_params *p,
                     char *err, size_t errlen);

#endif
