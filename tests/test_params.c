/* test_params.c - strategy parameters: defaults, units, bounds, choices, --strategy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    assert_non_null(strstr(err, "takes no parameters"));

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
        assert_int_equal(all[i]->version, 1);
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

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_defaults),
        cmocka_unit_test(strategy_argument),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(registry_is_sound),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
