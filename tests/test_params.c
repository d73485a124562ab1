/* test_params.c - strategy parameters (defaults, units, bounds, choices, --strategy) and
 * the registry that validates strategy tables when they are registered.
 *
 * The registry is process state: the registration tests run in order, the valid table
 * stays registered for the ones after it, and filling the registry comes last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "locks/params.h"
#include "locks/strategy.h"

static int param_index(const ovs_strategy_methods *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    fail_msg("%s has no parameter %s", m->name, name);
    return -1;
}

static void seed_defaults(void **state)
{
    (void)state;
    /* The defaults `oversell list` documents and scenarios rely on. */
    const ovs_strategy_methods *m = ovs_strategy_find("redlock");
    ovs_params p;
    assert_non_null(m);
    ovs_params_defaults(m, &p);
    assert_true(p.v[param_index(m, "ttl")] == 5000);
    assert_true(p.v[param_index(m, "retry_count")] == 3);
    assert_true(p.v[param_index(m, "retry_delay")] == 200);
    assert_true(p.v[param_index(m, "retry_jitter")] == 200);
    assert_true(p.v[param_index(m, "drift_factor")] == 0.01);
    assert_true(p.v[param_index(m, "nodes")] == 5);

    m = ovs_strategy_find("setnx");
    assert_non_null(m);
    ovs_params_defaults(m, &p);
    assert_true(p.v[param_index(m, "ttl")] == 5000);
    assert_true(p.v[param_index(m, "retry_count")] == 3);
}

static void strategy_argument(void **state)
{
    (void)state;
    const ovs_strategy_methods *m;
    ovs_params p;
    char err[256];

    assert_int_equal(ovs_strategy_arg("redlock:ttl=3000,retry_count=5", &m, &p, err,
                                      sizeof(err)), 0);
    assert_string_equal(m->name, "redlock");
    assert_true(p.v[param_index(m, "ttl")] == 3000);
    assert_true(p.v[param_index(m, "retry_count")] == 5);
    assert_true(p.v[param_index(m, "retry_delay")] == 200);

    /* Durations with units become milliseconds. */
    assert_int_equal(ovs_strategy_arg("setnx:ttl=2s,retry_delay=1500us", &m, &p, err,
                                      sizeof(err)), 0);
    assert_true(p.v[param_index(m, "ttl")] == 2000);
    assert_true(p.v[param_index(m, "retry_delay")] == 1.5);

    assert_int_equal(ovs_strategy_arg("none", &m, &p, err, sizeof(err)), 0);
    assert_string_equal(m->name, "none");
}

static void bad_arguments(void **state)
{
    (void)state;
    const ovs_strategy_methods *m;
    ovs_params p;
    char err[256];

    assert_int_equal(ovs_strategy_arg("redlok", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown strategy 'redlok'"));
    assert_non_null(strstr(err, "redlock"));

    assert_int_equal(ovs_strategy_arg("setnx:tll=5", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no parameter 'tll'"));

    assert_int_equal(ovs_strategy_arg("setnx:ttl=-5", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ttl"));

    assert_int_equal(ovs_strategy_arg("setnx:ttl=abc", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a duration"));

    assert_int_equal(ovs_strategy_arg("setnx:retry_count=2.5", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "whole number"));

    assert_int_equal(ovs_strategy_arg("setnx:ttl", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "key=value"));

    assert_int_equal(ovs_strategy_arg("none:think=5", &m, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "none has no parameter 'think' (it has: isolation)"));

    assert_int_equal(ovs_strategy_arg(":ttl=5", &m, &p, err, sizeof(err)), -1);
}

static void format_round_trips(void **state)
{
    (void)state;
    const ovs_strategy_methods *m = ovs_strategy_find("setnx");
    ovs_params p, q;
    char buf[256], err[256];

    ovs_params_defaults(m, &p);
    assert_int_equal(ovs_params_set(m, &p, "ttl", "1234", err, sizeof(err)), 0);
    ovs_params_format(m, &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "ttl=1234"));
    ovs_params_defaults(m, &q);
    assert_int_equal(ovs_params_set_list(m, &q, buf, err, sizeof(err)), 0);
    assert_memory_equal(&p, &q, sizeof(p));
}

static void registry_is_sound(void **state)
{
    (void)state;
    /* Names unique; each table declares a sane shape (the contract suite runs them). */
    const ovs_strategy_methods *const *all = ovs_strategy_list();
    int n = 0;
    for (int i = 0; all[i]; i++, n++) {
        assert_ptr_equal(ovs_strategy_find(all[i]->name), all[i]);
        /* A table only grows: a built-in declares the version of the newest field it
         * sets, so older ones stay older (version 3 tables run beside version 4 ones). */
        assert_true(all[i]->version >= 3 && all[i]->version <= OVS_STRATEGY_VERSION);
        assert_true(all[i]->n_params <= OVS_MAX_PARAMS);
        for (int k = 0; k < all[i]->n_params; k++) {
            const ovs_param_spec *s = &all[i]->params[k];
            if (s->choices == NULL)
                assert_true(s->def >= s->min && s->def <= s->max);
        }
    }
    assert_true(n >= 5);
    assert_null(ovs_strategy_find("nope"));
}

/* ---- registration -------------------------------------------------------------------- */

static int fake_open(ovs_strategy *s, const ovs_env *env)
{
    (void)s;
    (void)env;
    return OVS_OK;
}

static int fake_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    return OVS_OK;
}

static int fake_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return OVS_OK;
}

static int fake_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer, int64_t think)
{
    (void)req;
    (void)buyer;
    (void)think;
    s->attempts = 1;
    return OVS_OK;
}

static int64_t fake_fence(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return 1;
}

static void fake_close(ovs_strategy *s)
{
    (void)s;
}

static const ovs_param_spec fake_params[] = {
    { "ttl", 100, "ms", NULL, 1, 1000, "a lease" },
    { "side", 1, NULL, "left|right", 0, 0, "a choice" },
};

/* A lock that registration accepts; each refusal below breaks one thing of a copy. */
static const ovs_strategy_methods valid_lock = {
    .version = OVS_STRATEGY_VERSION,
    .name = "test-lock",
    .summary = "a lock that does nothing, registered at run time",
    .size = sizeof(ovs_strategy) + 8,
    .params = fake_params,
    .n_params = 2,
    .xOpen = fake_open,
    .xLock = fake_lock,
    .xUnlock = fake_unlock,
    .xClose = fake_close,
    .xFence = fake_fence,
};

static void refused(const ovs_strategy_methods *m, const char *why)
{
    char err[256] = "";
    int n = 0;

    if (ovs_strategy_register(m, err, sizeof(err)) != -1)
        fail_msg("registered, but should be refused for \"%s\"", why);
    if (strstr(err, why) == NULL)
        fail_msg("refused with \"%s\", want \"%s\"", err, why);
    /* Nothing of a refused table is registered. */
    if (m != NULL && m->name != NULL && strcmp(m->name, "setnx") != 0)
        assert_null(ovs_strategy_find(m->name));
    for (const ovs_strategy_methods *const *all = ovs_strategy_list(); *all; all++, n++)
        assert_ptr_not_equal(*all, m);
    assert_true(n < OVS_MAX_STRATEGIES);
}

static void register_refuses_bad_tables(void **state)
{
    ovs_strategy_methods m;
    ovs_param_spec p[OVS_MAX_PARAMS + 1];

    (void)state;
    refused(NULL, "no methods table");

    char want[96];
    m = valid_lock, m.version = 0;
    snprintf(want, sizeof(want), "version 0 is not one this harness knows (1 to %d)",
             OVS_STRATEGY_VERSION);
    refused(&m, want);
    m = valid_lock, m.version = OVS_STRATEGY_VERSION + 1;
    snprintf(want, sizeof(want), "version %d is not one", OVS_STRATEGY_VERSION + 1);
    refused(&m, want);

    m = valid_lock, m.size = sizeof(ovs_strategy) - 1;
    refused(&m, "instance size");
    m = valid_lock, m.size = 0;
    refused(&m, "is below sizeof(ovs_strategy)");

    m = valid_lock, m.xExecute = fake_execute, m.xFence = NULL;
    refused(&m, "both xLock and xExecute");
    m = valid_lock, m.xLock = NULL, m.xUnlock = NULL, m.xFence = NULL;
    refused(&m, "neither xLock nor xExecute");
    m = valid_lock, m.xUnlock = NULL;
    refused(&m, "xLock without xUnlock");
    m = valid_lock, m.xLock = NULL, m.xFence = NULL;
    refused(&m, "xUnlock without xLock");
    m = valid_lock, m.xOpen = NULL;
    refused(&m, "no xOpen");
    m = valid_lock, m.xClose = NULL;
    refused(&m, "no xClose");

    m = valid_lock, m.name = "setnx";
    refused(&m, "setnx: a strategy of that name is already registered");
    m = valid_lock, m.name = NULL;
    refused(&m, "'(no name)' is not a strategy name");
    m = valid_lock, m.name = "";
    refused(&m, "'' is not a strategy name");
    m = valid_lock, m.name = "Test-Lock";
    refused(&m, "'Test-Lock' is not a strategy name");
    m = valid_lock, m.name = "test:lock"; /* would not survive --strategy name:k=v */
    refused(&m, "is not a strategy name");
    m = valid_lock, m.summary = NULL;
    refused(&m, "no summary");

    /* Version-2 fields that contradict the kind of strategy. */
    m = valid_lock, m.xLock = NULL, m.xUnlock = NULL, m.xExecute = fake_execute;
    refused(&m, "xFence without xLock");
    m = valid_lock, m.redis_stock = 1;
    refused(&m, "redis_stock without xExecute");
    m = valid_lock, m.xFence = NULL, m.xLock = NULL, m.xUnlock = NULL,
    m.xExecute = fake_execute, m.unlock_commits = 1;
    refused(&m, "unlock_commits without xLock");

    /* Parameter tables. */
    m = valid_lock, m.n_params = OVS_MAX_PARAMS + 1;
    refused(&m, "17 parameters (0 to 16 may be declared)");
    m = valid_lock, m.n_params = -1;
    refused(&m, "-1 parameters");
    m = valid_lock, m.params = NULL;
    refused(&m, "2 parameters but no table of them");
    for (int i = 0; i < 2; i++)
        p[i] = fake_params[i];
    m = valid_lock, m.params = p;
    p[1].name = "ttl";
    refused(&m, "parameter 'ttl' is declared twice");
    p[1] = fake_params[1], p[1].name = "retry count";
    refused(&m, "parameter 1: 'retry count' is not a parameter name");
    p[1] = fake_params[1], p[1].name = NULL;
    refused(&m, "parameter 1: '(null)' is not a parameter name");
    p[1] = fake_params[1], p[1].help = NULL;
    refused(&m, "parameter 'side' has no help line");
    p[1] = fake_params[1], p[1].def = 2;
    refused(&m, "default 2 is not the index of one of its 2 choices");
    p[1] = fake_params[1], p[1].choices = "left||right";
    refused(&m, "include an empty one");
    p[1] = fake_params[1], p[1].unit = "ms";
    refused(&m, "with a unit");
    p[1] = fake_params[1];
    p[0].def = 5000;
    refused(&m, "parameter 'ttl': default 5000 is outside [1, 1000]");
    p[0] = fake_params[0], p[0].unit = "furlongs";
    refused(&m, "unit 'furlongs' is not ms, count or ratio");
    p[0] = fake_params[0], p[0].unit = NULL;
    refused(&m, "unit '(none)'");
}

/* Every line of builtin.def is registered, in its order, before anything else. */
static void builtins_come_from_one_list(void **state)
{
    const ovs_strategy_methods *const builtins[] = {
#define OVS_BUILTIN(table) &table,
#include "locks/builtin.def"
#undef OVS_BUILTIN
    };
    const ovs_strategy_methods *const *all = ovs_strategy_list();
    size_t n = sizeof(builtins) / sizeof(builtins[0]);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(all[i], builtins[i]);
        assert_ptr_equal(ovs_strategy_find(builtins[i]->name), builtins[i]);
    }
    assert_true(n >= 8);
}

static void register_finds_and_lists_a_valid_table(void **state)
{
    static ovs_strategy_methods older; /* outlives the registry's use of it */
    const ovs_strategy_methods *const *all;
    char err[256] = "";
    int n = 0, at = -1, builtins = 0;

    (void)state;
#define OVS_BUILTIN(table) builtins++;
#include "locks/builtin.def"
#undef OVS_BUILTIN
    assert_null(ovs_strategy_find("test-lock"));
    if (ovs_strategy_register(&valid_lock, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    assert_ptr_equal(ovs_strategy_find("test-lock"), &valid_lock);
    for (all = ovs_strategy_list(); all[n]; n++)
        if (all[n] == &valid_lock)
            at = n;
    assert_int_equal(at, builtins); /* after the built-ins, in registration order */
    assert_int_equal(n, builtins + 1);
    /* Its parameters work like a built-in's, choices included. */
    {
        const ovs_strategy_methods *m;
        ovs_params p;
        char buf[128];
        assert_int_equal(ovs_strategy_arg("test-lock:ttl=2ms,side=left", &m, &p, err,
                                          sizeof(err)), 0);
        assert_ptr_equal(m, &valid_lock);
        ovs_params_format(m, &p, buf, sizeof(buf));
        assert_string_equal(buf, "ttl=2,side=left");
    }
    /* Registered once only. */
    assert_int_equal(ovs_strategy_register(&valid_lock, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already registered"));

    /* A version-1 table is accepted, and its version-2 fields read as absent whatever
     * the memory behind them holds: an older plugin's table ends before them. */
    older = valid_lock;
    older.version = 1;
    older.name = "test-lock-v1";
    older.unlock_commits = 1;
    assert_int_equal(ovs_strategy_register(&older, err, sizeof(err)), 0);
    assert_ptr_equal(ovs_strategy_find("test-lock-v1"), &older);
    assert_int_equal(OVS_STRATEGY_FIELD(&older, unlock_commits, 0), 0);
    assert_null(OVS_STRATEGY_FIELD(&older, xFence, NULL));
    assert_int_equal(OVS_STRATEGY_FIELD(&older, redis_stock, 0), 0);
    assert_ptr_equal(OVS_STRATEGY_FIELD(&valid_lock, xFence, NULL), fake_fence);
}

/* Past OVS_MAX_STRATEGIES the registry refuses, and what it holds stays intact. */
static void register_refuses_when_full(void **state)
{
    static ovs_strategy_methods many[OVS_MAX_STRATEGIES];
    static char names[OVS_MAX_STRATEGIES][16];
    char err[256];
    int n = 0, i;

    (void)state;
    for (const ovs_strategy_methods *const *all = ovs_strategy_list(); *all; all++)
        n++;
    for (i = 0; n + i < OVS_MAX_STRATEGIES; i++) {
        snprintf(names[i], sizeof(names[i]), "filler-%d", i);
        many[i] = valid_lock;
        many[i].name = names[i];
        assert_int_equal(ovs_strategy_register(&many[i], err, sizeof(err)), 0);
    }
    snprintf(names[i], sizeof(names[i]), "filler-%d", i);
    many[i] = valid_lock;
    many[i].name = names[i];
    assert_int_equal(ovs_strategy_register(&many[i], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "the registry is full (32 strategies)"));
    assert_null(ovs_strategy_find(names[i]));
    assert_ptr_equal(ovs_strategy_find("none"), &ovs_strategy_none);
    assert_ptr_equal(ovs_strategy_find(names[i - 1]), &many[i - 1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_defaults),
        cmocka_unit_test(strategy_argument),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(registry_is_sound),
        cmocka_unit_test(builtins_come_from_one_list),
        cmocka_unit_test(register_refuses_bad_tables),
        cmocka_unit_test(register_finds_and_lists_a_valid_table),
        cmocka_unit_test(register_refuses_when_full),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
