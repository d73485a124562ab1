/* params.c - validating and formatting strategy parameters against their spec tables. */
#include "locks/params.h"

#include <stdio.h>
#include <string.h>

#include "locks/strategy.h"
#include "core/util.h"

void ovs_params_defaults(const ovs_strategy_methods *m, ovs_params *p)
{
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < m->n_params && i < OVS_MAX_PARAMS; i++)
        p->v[i] = m->params[i].def;
}

static int choice_index(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    int idx = 0;

    for (const char *c = choices; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == vlen && strncmp(c, value, n) == 0)
            return idx;
        if (bar == NULL)
            break;
        c = bar + 1;
    }
    return -1;
}

/* The number of choices in "a|b|c", or -1 when one of them is empty. */
static int count_choices(const char *choices)
{
    int n = 0;

    for (const char *c = choices;; n++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == 0)
            return -1;
        if (bar == NULL)
            return n + 1;
        c = bar + 1;
    }
}

static int param_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return 0;
    return 1;
}

int ovs_params_check(const ovs_strategy_methods *m, char *err, size_t errlen)
{
    if (m->n_params < 0 || m->n_params > OVS_MAX_PARAMS) {
        ovs_seterr(err, errlen, "%s: %d parameters (0 to %d may be declared)", m->name,
                   m->n_params, OVS_MAX_PARAMS);
        return -1;
    }
    if (m->n_params > 0 && m->params == NULL) {
        ovs_seterr(err, errlen, "%s: %d parameters but no table of them", m->name,
                   m->n_params);
        return -1;
    }
    for (int i = 0; i < m->n_params; i++) {
        const ovs_param_spec *s = &m->params[i];
        if (!param_name_ok(s->name)) {
            ovs_seterr(err, errlen, "%s: parameter %d: '%.40s' is not a parameter name (1 to "
                       "31 lowercase letters, digits or '_')", m->name, i,
                       s->name ? s->name : "(null)");
            return -1;
        }
        for (int k = 0; k < i; k++) {
            if (strcmp(m->params[k].name, s->name) == 0) {
                ovs_seterr(err, errlen, "%s: parameter '%s' is declared twice", m->name,
                           s->name);
                return -1;
            }
        }
        if (s->help == NULL) {
            ovs_seterr(err, errlen, "%s: parameter '%s' has no help line", m->name, s->name);
            return -1;
        }
        if (s->choices != NULL) {
            int n = count_choices(s->choices);
            if (s->unit != NULL || n < 1) {
                ovs_seterr(err, errlen, "%s: parameter '%s': choices '%.60s' %s", m->name,
                           s->name, s->choices,
                           s->unit ? "with a unit" : "include an empty one");
                return -1;
            }
            if (!(s->def >= 0 && s->def < n) || s->def != (double)(int)s->def) {
                ovs_seterr(err, errlen, "%s: parameter '%s': default %g is not the index of "
                           "one of its %d choices", m->name, s->name, s->def, n);
                return -1;
            }
            continue;
        }
        if (s->unit == NULL || (strcmp(s->unit, "ms") != 0 && strcmp(s->unit, "count") != 0 &&
                                strcmp(s->unit, "ratio") != 0)) {
            ovs_seterr(err, errlen, "%s: parameter '%s': unit '%.20s' is not ms, count or "
                       "ratio (or give choices)", m->name, s->name,
                       s->unit ? s->unit : "(none)");
            return -1;
        }
        if (!(s->min <= s->def && s->def <= s->max)) {
            ovs_seterr(err, errlen, "%s: parameter '%s': default %g is outside [%g, %g]",
                       m->name, s->name, s->def, s->min, s->max);
            return -1;
        }
    }
    return 0;
}

static void list_names(const ovs_strategy_methods *m, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < m->n_params && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 m->params[i].name);
}

int ovs_params_set(const ovs_strategy_methods *m, ovs_params *p, const char *key,
                   const char *value, char *err, size_t errlen)
{
    const ovs_param_spec *s = NULL;
    int i;
    double v;

    for (i = 0; i < m->n_params; i++) {
        if (strcmp(m->params[i].name, key) == 0) {
            s = &m->params[i];
            break;
        }
    }
    if (s == NULL) {
        char names[256];
        list_names(m, names, sizeof(names));
        if (m->n_params == 0)
            ovs_seterr(err, errlen, "%s takes no parameters (got '%s')", m->name, key);
        else
            ovs_seterr(err, errlen, "%s has no parameter '%s' (it has: %s)", m->name, key,
                       names);
        return -1;
    }
    if (s->choices != NULL) {
        int c = choice_index(s->choices, value);
        if (c < 0) {
            ovs_seterr(err, errlen, "%s: '%s' is not one of %s", key, value, s->choices);
            return -1;
        }
        p->v[i] = c;
        return 0;
    }
    if (s->unit != NULL && strcmp(s->unit, "ms") == 0) {
        int64_t ns;
        /* A bare number means milliseconds, as the seed values are written. */
        if (ovs_parse_double(value, &v) != 0) {
            if (ovs_parse_duration(value, &ns) != 0) {
                ovs_seterr(err, errlen, "%s: '%s' is not a duration (like 5000, 200ms or 5s)",
                           key, value);
                return -1;
            }
            v = (double)ns / (double)OVS_NS_PER_MS;
        }
    } else if (s->unit != NULL && strcmp(s->unit, "count") == 0) {
        long long n;
        if (ovs_parse_int(value, -1000000000LL, 1000000000LL, &n) != 0) {
            ovs_seterr(err, errlen, "%s: '%s' is not a whole number", key, value);
            return -1;
        }
        v = (double)n;
    } else if (ovs_parse_double(value, &v) != 0) {
        ovs_seterr(err, errlen, "%s: '%s' is not a number", key, value);
        return -1;
    }
    if (v < s->min || v > s->max) {
        ovs_seterr(err, errlen, "%s: %s is out of range [%g, %g]", key, value, s->min, s->max);
        return -1;
    }
    p->v[i] = v;
    return 0;
}

int ovs_params_set_list(const ovs_strategy_methods *m, ovs_params *p, const char *list,
                        char *err, size_t errlen)
{
    char buf[512];
    char *save = NULL;

    if (list == NULL || *list == '\0')
        return 0;
    if (strlen(list) >= sizeof(buf)) {
        ovs_seterr(err, errlen, "parameter list too long");
        return -1;
    }
    strcpy(buf, list);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            ovs_seterr(err, errlen, "'%s' is not key=value", ovs_trim(item));
            return -1;
        }
        *eq = '\0';
        if (ovs_params_set(m, p, ovs_trim(item), ovs_trim(eq + 1), err, errlen) != 0)
            return -1;
    }
    return 0;
}

int ovs_params_format(const ovs_strategy_methods *m, const ovs_params *p, char *buf,
                      size_t len)
{
    size_t used = 0;
    int total = 0;

    if (len > 0)
        buf[0] = '\0';
    for (int i = 0; i < m->n_params; i++) {
        const ovs_param_spec *s = &m->params[i];
        char val[64];
        int n;

        if (s->choices != NULL) {
            /* Print the choice's name, not its index. */
            const char *c = s->choices;
            for (int k = 0; k < (int)p->v[i] && strchr(c, '|'); k++)
                c = strchr(c, '|') + 1;
            size_t cl = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
            snprintf(val, sizeof(val), "%.*s", (int)cl, c);
        } else {
            snprintf(val, sizeof(val), "%g", p->v[i]);
        }
        n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s=%s",
                     i ? "," : "", s->name, val);
        total += n;
        used += (size_t)n;
    }
    return total;
}

int ovs_strategy_arg(const char *arg, const ovs_strategy_methods **m, ovs_params *p,
                     char *err, size_t errlen)
{
    char name[64];
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

    if (n == 0 || n >= sizeof(name)) {
        ovs_seterr(err, errlen, "'%s' does not name a strategy", arg);
        return -1;
    }
    memcpy(name, arg, n);
    name[n] = '\0';
    *m = ovs_strategy_find(name);
    if (*m == NULL) {
        char known[256];
        size_t used = 0;
        const ovs_strategy_methods *const *all = ovs_strategy_list();
        known[0] = '\0';
        for (int i = 0; all[i] && used < sizeof(known); i++)
            used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                     all[i]->name);
        ovs_seterr(err, errlen, "unknown strategy '%s' (known: %s)", name, known);
        return -1;
    }
    ovs_params_defaults(*m, p);
    if (colon == NULL)
        return 0;
    if (ovs_params_set_list(*m, p, colon + 1, err, errlen) != 0) {
        char why[200];
        snprintf(why, sizeof(why), "%s", err);
        ovs_seterr(err, errlen, "--strategy %s: %s", arg, why);
        return -1;
    }
    return 0;
}
