/* plan.c - resolving a scenario's strategy names and parameters against the registry.
 *
 * The messages are the ones the parser gave when it checked these itself, at the same
 * lines: the user sees no difference between a key the parser refuses and a parameter the
 * strategy refuses. Among several problems the first in the file is reported, as the
 * parser does; the parser's own problems come first of all, since resolving only starts on
 * a file that parsed. */
#include "engine/plan.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "engine/cell.h"
#include "shops/shops.h"

/* "unknown strategy 'NAME' in WHERE", with a hint when a registered name is close. */
static void unknown_strategy(const char *name, const char *where, char *msg, size_t len)
{
    const ovs_strategy_methods *const *all = ovs_strategy_list();
    const char *names[OVS_MAX_STRATEGIES + 1];
    char known[512];
    size_t used = 0;
    const char *hint;
    int n = 0;

    known[0] = '\0';
    for (; all[n] && n < OVS_MAX_STRATEGIES; n++) {
        names[n] = all[n]->name;
        if (used < sizeof(known))
            used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                                     n ? ", " : "", all[n]->name);
    }
    names[n] = NULL;
    hint = ovs_closest(name, names);
    if (hint)
        snprintf(msg, len, "unknown strategy '%.64s' in %s: did you mean '%s'? (known: %s)",
                 name, where, hint, known);
    else
        snprintf(msg, len, "unknown strategy '%.64s' in %s (known: %s)", name, where, known);
}

/* The line of the section's first problem, described in msg, or 0 when it has none. */
static int check_section(const ovs_scenario_params *x, char *msg, size_t len)
{
    const ovs_strategy_methods *m = ovs_strategy_find(x->name);
    ovs_params p;
    char why[400];

    if (m == NULL) {
        char where[96];
        snprintf(where, sizeof(where), "[strategy %.63s]", x->name);
        unknown_strategy(x->name, where, msg, len);
        return x->line;
    }
    ovs_params_defaults(m, &p);
    for (int i = 0; i < x->n; i++) {
        if (ovs_params_set(m, &p, x->kv[i].key, x->kv[i].value, why, sizeof(why)) != 0) {
            snprintf(msg, len, "%s", why);
            return x->kv[i].line;
        }
    }
    return 0;
}

int ovs_scenario_resolve(const ovs_scenario *sc, char *err, size_t errlen)
{
    char msg[512], first[512];
    int first_line = 0;

    for (int i = 0; i < sc->n_params; i++) {
        int line = check_section(&sc->params[i], msg, sizeof(msg));
        if (line > 0 && (first_line == 0 || line < first_line)) {
            first_line = line;
            memcpy(first, msg, sizeof(first));
        }
    }
    /* Entries are in file order: only the first bad one can come first. */
    for (int i = 0; i < sc->n_expect; i++) {
        const ovs_expect *x = &sc->expect[i];
        const ovs_strategy_methods *m = ovs_strategy_find(x->name);
        /* Stale answers are expected only of a strategy that gives answers. */
        int no_answers = m != NULL && x->stale >= 0 &&
                         OVS_STRATEGY_FIELD(m, xAvailable, NULL) == NULL;
        /* A cell the scenario itself makes n/a has no verdict to expect either. */
        char na_why[256];
        ovs_params p;
        int na = 0;
        if (m != NULL) {
            ovs_scenario_params_for(sc, m, &p);
            na = ovs_cell_na(sc, m, &p, NULL, na_why, sizeof(na_why));
        }
        if (m != NULL && !no_answers && !na &&
            (x->backend == NULL || (ovs_shops_find(x->backend) != NULL &&
                                    strcmp(ovs_shops_find(x->backend)->name,
                                           x->backend) == 0 &&
                                    ovs_strategy_runs_on(m, x->backend))))
            continue;
        if (first_line == 0 || x->line < first_line) {
            if (m == NULL)
                unknown_strategy(x->name, "[expect]", first, sizeof(first));
            else if (na)
                snprintf(first, sizeof(first), "%s: %s: there is no verdict to expect", x->name,
                         na_why);
            else if (no_answers)
                snprintf(first, sizeof(first), "%s: '%s' expects stale answers of a strategy"
                         " that answers no availability (it has no xAvailable)", x->name,
                         x->stale ? "stale" : "fresh");
            else if (ovs_shops_find(x->backend) == NULL ||
                     strcmp(ovs_shops_find(x->backend)->name, x->backend) != 0)
                snprintf(first, sizeof(first), "%s@%.40s: '%.40s' is not a shop back end"
                         " (sqlite, postgresql, mysql)", x->name, x->backend, x->backend);
            else
                snprintf(first, sizeof(first), "%s@%s: %s is n/a on %s (it runs on %s):"
                         " there is no verdict to expect", x->name, x->backend, x->name,
                         x->backend, OVS_STRATEGY_FIELD(m, backends, NULL));
            first_line = x->line;
        }
        break;
    }
    if (first_line == 0)
        return 0;
    ovs_seterr(err, errlen, "%s:%d: %s", sc->path, first_line, first);
    return -1;
}

void ovs_scenario_params_for(const ovs_scenario *sc, const ovs_strategy_methods *m,
                             ovs_params *out)
{
    char err[256];

    ovs_params_defaults(m, out);
    for (int i = 0; i < sc->n_params; i++) {
        const ovs_scenario_params *x = &sc->params[i];
        if (strcmp(x->name, m->name) != 0)
            continue;
        /* Resolved: every key is one m takes, with a value it accepts. */
        for (int k = 0; k < x->n; k++)
            (void)ovs_params_set(m, out, x->kv[k].key, x->kv[k].value, err, sizeof(err));
        return;
    }
}

const ovs_expect *ovs_scenario_expect_entry_on(const ovs_scenario *sc,
                                               const ovs_strategy_methods *m,
                                               const char *backend)
{
    const ovs_expect *any = NULL;

    for (int i = 0; i < sc->n_expect; i++) {
        const ovs_expect *x = &sc->expect[i];
        if (strcmp(x->name, m->name) != 0)
            continue;
        if (x->backend != NULL && backend != NULL && strcmp(x->backend, backend) == 0)
            return x;
        if (x->backend == NULL && any == NULL)
            any = x;
    }
    return any;
}

int ovs_scenario_expect(const ovs_scenario *sc, const ovs_strategy_methods *m)
{
    const ovs_expect *x = ovs_scenario_expect_entry_on(sc, m, NULL);
    return x ? x->safe : -1;
}

int ovs_scenario_expect_on(const ovs_scenario *sc, const ovs_strategy_methods *m,
                           const char *backend)
{
    const ovs_expect *x = ovs_scenario_expect_entry_on(sc, m, backend);
    return x ? x->safe : -1;
}

int ovs_scenario_expect_stale_on(const ovs_scenario *sc, const ovs_strategy_methods *m,
                                 const char *backend)
{
    const ovs_expect *x = ovs_scenario_expect_entry_on(sc, m, backend);
    return x ? x->stale : -1;
}

int ovs_scenario_expect_first(const ovs_scenario *sc, const char *name, int i)
{
    for (int k = 0; k < i; k++)
        if (strcmp(sc->expect[k].name, name) == 0)
            return 0;
    return 1;
}
