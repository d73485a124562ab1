/* strategy.c - the registry of strategies, found by name, and what every strategy shares.
 *
 * Registration is sqlite3_vfs_register's idea with the checks it leaves to the caller:
 * a table is validated once, when it is registered, so that everything downstream - the
 * runner calling its slots, the scenario resolver reading its parameter table, `oversell
 * list` printing it - may rely on its shape. The built-ins (builtin.def) go through the
 * same door, registered once, on the first use of the registry.
 *
 * Every table also records where it came from (built in, a definition file, a plugin), for
 * `oversell list` and for the message that refuses a second table of one name, and, for a
 * definition whose program this machine lacks, why it cannot run: it is still listed, and
 * a run that selects it is refused before anything starts. */
#include "locks/strategy.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registered tables in registration order, NULL-terminated; n of them. origin[i] and
 * unavailable[i] belong to registry[i]: where it came from, and why it cannot run here
 * ("" when it can). */
static const ovs_strategy_methods *registry[OVS_MAX_STRATEGIES + 1];
static char origin[OVS_MAX_STRATEGIES][OVS_STRATEGY_ORIGIN_MAX];
static char unavailable[OVS_MAX_STRATEGIES][OVS_STRATEGY_ORIGIN_MAX];
static int n_registered;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > OVS_STRATEGY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return 0;
    return 1;
}

/* The shop back ends a backends list may name: core/shopdb.h's m->name values. */
static const char *const known_backends[] = { "sqlite", "postgresql", "mysql" };
#define N_KNOWN_BACKENDS (sizeof(known_backends) / sizeof(known_backends[0]))

/* The index of the back end named by [s, s+n), or -1. */
static int backend_index(const char *s, size_t n)
{
    for (size_t i = 0; i < N_KNOWN_BACKENDS; i++)
        if (strlen(known_backends[i]) == n && strncmp(known_backends[i], s, n) == 0)
            return (int)i;
    return -1;
}

/* A backends list: known names, comma-separated, none twice, at least one. */
static int backends_check(const ovs_strategy_methods *m, char *err, size_t errlen)
{
    const char *list = OVS_STRATEGY_FIELD(m, backends, NULL), *c;
    int seen[N_KNOWN_BACKENDS] = { 0 };

    if (list == NULL)
        return 0;
    for (c = list;; c++) {
        size_t n = strcspn(c, ",");
        int i = backend_index(c, n);
        if (i < 0 || seen[i]++) {
            ovs_seterr(err, errlen, "%s: backends '%.80s': '%.*s' is %s (sqlite, postgresql, "
                       "mysql, comma-separated, each once)", m->name, list, (int)(n > 40 ? 40 : n),
                       c, i < 0 ? "not a shop back end" : "named twice");
            return -1;
        }
        c += n;
        if (*c == '\0')
            return 0;
    }
}

int ovs_strategy_runs_on(const ovs_strategy_methods *m, const char *backend)
{
    const char *list = OVS_STRATEGY_FIELD(m, backends, NULL);
    size_t want = strlen(backend);

    if (list == NULL)
        return 1;
    for (const char *c = list;; c++) {
        size_t n = strcspn(c, ",");
        if (n == want && strncmp(c, backend, n) == 0)
            return 1;
        c += n;
        if (*c == '\0')
            return 0;
    }
}

int ovs_strategy_claims(const ovs_strategy_methods *m, const ovs_params *p, const char *backend,
                        enum ovs_workload w)
{
    int (*claims)(const ovs_params *, const char *, enum ovs_workload) =
        OVS_STRATEGY_FIELD(m, xClaims, NULL);

    return claims ? claims(p, backend, w) != 0 : m->claims_safe;
}

/* The checks behind ovs_strategy_register, without the registry's own (name taken,
 * registry full). */
static int check_table(const ovs_strategy_methods *m, char *err, size_t errlen)
{
    const char *who;
    int lock, execute;

    if (m == NULL) {
        ovs_seterr(err, errlen, "no methods table");
        return -1;
    }
    who = m->name ? m->name : "(no name)";
    if (m->version < 1 || m->version > OVS_STRATEGY_VERSION) {
        ovs_seterr(err, errlen, "%.64s: version %d is not one this harness knows (1 to %d)",
                   who, m->version, OVS_STRATEGY_VERSION);
        return -1;
    }
    if (!name_ok(m->name)) {
        ovs_seterr(err, errlen, "'%.64s' is not a strategy name (1 to %d lowercase letters, "
                   "digits or '-')", who, OVS_STRATEGY_NAME_MAX);
        return -1;
    }
    if (m->summary == NULL || m->summary[0] == '\0') {
        ovs_seterr(err, errlen, "%s: no summary (the line `oversell list` prints)", who);
        return -1;
    }
    if (m->size < sizeof(ovs_strategy)) {
        ovs_seterr(err, errlen, "%s: instance size %zu is below sizeof(ovs_strategy), %zu",
                   who, m->size, sizeof(ovs_strategy));
        return -1;
    }
    if (m->xOpen == NULL || m->xClose == NULL) {
        ovs_seterr(err, errlen, "%s: no %s (every strategy opens and closes)", who,
                   m->xOpen == NULL ? "xOpen" : "xClose");
        return -1;
    }
    lock = m->xLock != NULL || m->xUnlock != NULL;
    execute = m->xExecute != NULL;
    if (lock && (m->xLock == NULL || m->xUnlock == NULL)) {
        ovs_seterr(err, errlen, "%s: %s without %s", who, m->xLock ? "xLock" : "xUnlock",
                   m->xLock ? "xUnlock" : "xLock");
        return -1;
    }
    if (lock == execute) {
        ovs_seterr(err, errlen, "%s: %s (a strategy is a lock, xLock with xUnlock, or a "
                   "whole operation, xExecute)", who,
                   lock ? "both xLock and xExecute" : "neither xLock nor xExecute");
        return -1;
    }
    if (OVS_STRATEGY_FIELD(m, redis_stock, 0) && !execute) {
        ovs_seterr(err, errlen, "%s: redis_stock without xExecute (stock kept in Redis is "
                   "sold by the strategy itself)", who);
        return -1;
    }
    if (OVS_STRATEGY_FIELD(m, unlock_commits, 0) && !lock) {
        ovs_seterr(err, errlen, "%s: unlock_commits without xLock", who);
        return -1;
    }
    if (OVS_STRATEGY_FIELD(m, xFence, NULL) != NULL && !lock) {
        ovs_seterr(err, errlen, "%s: xFence without xLock (a fence orders the writes made "
                   "under a lock)", who);
        return -1;
    }
    if (backends_check(m, err, errlen) != 0)
        return -1;
    return ovs_params_check(m, err, errlen);
}

static int add(const ovs_strategy_methods *m, const char *from, const char *why, char *err,
               size_t errlen)
{
    if (check_table(m, err, errlen) != 0)
        return -1;
    for (int i = 0; i < n_registered; i++) {
        if (strcmp(registry[i]->name, m->name) == 0) {
            ovs_seterr(err, errlen, "%s: a strategy of that name is already registered (%s)",
                       m->name, origin[i]);
            return -1;
        }
    }
    if (n_registered == OVS_MAX_STRATEGIES) {
        ovs_seterr(err, errlen, "%s: the registry is full (%d strategies)", m->name,
                   OVS_MAX_STRATEGIES);
        return -1;
    }
    snprintf(origin[n_registered], sizeof(origin[0]), "%s", from);
    snprintf(unavailable[n_registered], sizeof(unavailable[0]), "%s", why ? why : "");
    registry[n_registered++] = m;
    registry[n_registered] = NULL;
    return 0;
}

static int index_of(const ovs_strategy_methods *m)
{
    for (int i = 0; i < n_registered; i++)
        if (registry[i] == m)
            return i;
    return -1;
}

/* A built-in that fails its own checks is left out rather than printed about or aborted
 * on: test_params checks that every line of builtin.def is found, so it cannot ship. */
static void register_builtins(void)
{
    char err[256];

#define OVS_BUILTIN(table) (void)add(&table, OVS_ORIGIN_BUILTIN, NULL, err, sizeof(err));
#include "locks/builtin.def"
#undef OVS_BUILTIN
}

int ovs_strategy_register(const ovs_strategy_methods *m, char *err, size_t errlen)
{
    return ovs_strategy_register_from(m, "registered by the program", NULL, err, errlen);
}

int ovs_strategy_register_from(const ovs_strategy_methods *m, const char *from,
                               const char *why, char *err, size_t errlen)
{
    pthread_once(&builtins_once, register_builtins);
    if (from == NULL || from[0] == '\0') {
        ovs_seterr(err, errlen, "%s: no origin given", m && m->name ? m->name : "(no name)");
        return -1;
    }
    return add(m, from, why && why[0] ? why : NULL, err, errlen);
}

const char *ovs_strategy_origin(const ovs_strategy_methods *m)
{
    int i;

    pthread_once(&builtins_once, register_builtins);
    i = index_of(m);
    return i < 0 ? NULL : origin[i];
}

const char *ovs_strategy_unavailable(const ovs_strategy_methods *m)
{
    int i;

    pthread_once(&builtins_once, register_builtins);
    i = index_of(m);
    return i < 0 || unavailable[i][0] == '\0' ? NULL : unavailable[i];
}

const ovs_strategy_methods *ovs_strategy_find(const char *name)
{
    pthread_once(&builtins_once, register_builtins);
    for (int i = 0; name && i < n_registered; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const ovs_strategy_methods *const *ovs_strategy_list(void)
{
    pthread_once(&builtins_once, register_builtins);
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
