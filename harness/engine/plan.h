/* plan.h - a parsed scenario held against the strategy registry.
 *
 * The parser (scenario/) knows no strategies: they are registered at run time, built-ins
 * first and others later. It keeps each [strategy NAME] section and each [expect] entry as
 * written, and this is where they meet the registry, once everything is registered and
 * before anything runs. */
#ifndef OVS_PLAN_H
#define OVS_PLAN_H

#include <stddef.h>

#include "locks/strategy.h"
#include "scenario/scenario.h"

/* Check sc's [strategy NAME] sections (a registered name, keys and values its parameter
 * table accepts) and its [expect] entries (registered names). Returns 0, or -1 with the
 * first problem in the file's order in err, as the parser words it:
 * "path:line: unknown strategy 'redlok' in [expect]: did you mean 'redlock'? (known: ...)"
 * or "path:line: ttl: 'soon' is not a duration (like 5000, 200ms or 5s)". sc is left as it
 * was (the caller frees it either way). Call it after ovs_scenario_load or _parse, before
 * the two below. */
int ovs_scenario_resolve(const ovs_scenario *sc, char *err, size_t errlen);

/* Parameters for strategy m in resolved sc: m's defaults overlaid with its [strategy]
 * section's keys, when it has one. */
void ovs_scenario_params_for(const ovs_scenario *sc, const ovs_strategy_methods *m,
                             ovs_params *out);
/* The [expect] entry that speaks for m on backend in resolved sc: its NAME@BACKEND
 * entry, else its first NAME entry; NULL when none. backend NULL: NAME entries only. */
const ovs_expect *ovs_scenario_expect_entry_on(const ovs_scenario *sc,
                                               const ovs_strategy_methods *m,
                                               const char *backend);
/* The [expect] entry for m in sc that names no back end: 1 safe, 0 unsafe, -1 none. */
int ovs_scenario_expect(const ovs_scenario *sc, const ovs_strategy_methods *m);
/* What sc expects of m on the shop back end named backend: its NAME@BACKEND entry, else
 * its NAME entry; 1 safe, 0 unsafe, -1 none. */
int ovs_scenario_expect_on(const ovs_scenario *sc, const ovs_strategy_methods *m,
                           const char *backend);
/* What sc expects of m's stale answers on backend, by the same entry as
 * ovs_scenario_expect_on: 1 some ("stale"), 0 none ("fresh"), -1 not said. */
int ovs_scenario_expect_stale_on(const ovs_scenario *sc, const ovs_strategy_methods *m,
                                 const char *backend);
/* 1 when [expect] entry i is the first naming strategy name (with or without a back end):
 * for walking the entries once per strategy. */
int ovs_scenario_expect_first(const ovs_scenario *sc, const char *name, int i);

#endif
