/* test_redlock_math.c - the numbers Redlock decides by: majority and validity time.
 *
 * Concrete values only, worked out by hand from the algorithm's description
 * (validity = ttl - elapsed - (ttl * drift_factor + 2 ms)), so a change to the rounding or
 * to the quorum shows up as a failing number, not as a flaky live test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "locks/redlock_math.h"

static void test_quorum(void **state)
{
    (void)state;
    assert_int_equal(ovs_redlock_quorum(1), 1);
    assert_int_equal(ovs_redlock_quorum(2), 2); /* half of two is no majority */
    assert_int_equal(ovs_redlock_quorum(3), 2);
    assert_int_equal(ovs_redlock_quorum(4), 3);
    assert_int_equal(ovs_redlock_quorum(5), 3);
    assert_int_equal(ovs_redlock_quorum(6), 4);
    assert_int_equal(ovs_redlock_quorum(7), 4);
    assert_int_equal(ovs_redlock_quorum(16), 9);
    assert_int_equal(ovs_redlock_quorum(0), 1); /* unreachable with zero nodes */
}

static void test_drift(void **state)
{
    (void)state;
    /* The documented example: 5000 ms at 1 % is 50 ms, plus 2. */
    assert_int_equal(ovs_redlock_drift_ms(5000, 0.01), 52);
    assert_int_equal(ovs_redlock_drift_ms(30000, 0.01), 302);
    /* No drift factor leaves the fixed 2 ms. */
    assert_int_equal(ovs_redlock_drift_ms(5000, 0.0), 2);
    /* Fractions round up: 150 * 0.01 = 1.5 -> 2; 10 * 0.01 = 0.1 -> 1; 1 * 0.01 -> 1. */
    assert_int_equal(ovs_redlock_drift_ms(150, 0.01), 4);
    assert_int_equal(ovs_redlock_drift_ms(10, 0.01), 3);
    assert_int_equal(ovs_redlock_drift_ms(1, 0.01), 3);
    assert_int_equal(ovs_redlock_drift_ms(100, 0.01), 3);
    assert_int_equal(ovs_redlock_drift_ms(101, 0.01), 4);
    /* Binary-fraction noise must not add a millisecond: 100 * 0.07 is 7.000000000000001
     * and 100 * 0.29 is 28.999999999999996 in doubles; both are whole. */
    assert_int_equal(ovs_redlock_drift_ms(100, 0.07), 9);
    assert_int_equal(ovs_redlock_drift_ms(100, 0.29), 31);
    assert_int_equal(ovs_redlock_drift_ms(1000, 0.001), 3);
}

static void test_validity(void **state)
{
    (void)state;
    assert_int_equal(ovs_redlock_validity_ms(5000, 0, 0.01), 4948);
    assert_int_equal(ovs_redlock_validity_ms(5000, 10, 0.01), 4938);
    /* The last millisecond that still leaves time, and the first that does not. */
    assert_int_equal(ovs_redlock_validity_ms(5000, 4947, 0.01), 1);
    assert_int_equal(ovs_redlock_validity_ms(5000, 4948, 0.01), 0);
    assert_int_equal(ovs_redlock_validity_ms(5000, 6000, 0.01), -1052);
    /* A 100 ms lease: 100 - 3 (drift) - elapsed. */
    assert_int_equal(ovs_redlock_validity_ms(100, 50, 0.01), 47);
    assert_int_equal(ovs_redlock_validity_ms(100, 97, 0.01), 0);
    /* A lease shorter than the drift allowance is never valid. */
    assert_true(ovs_redlock_validity_ms(2, 0, 0.01) <= 0);
}

static void test_elapsed_rounds_up(void **state)
{
    (void)state;
    assert_int_equal(ovs_redlock_elapsed_ms(0), 0);
    assert_int_equal(ovs_redlock_elapsed_ms(-5), 0);
    assert_int_equal(ovs_redlock_elapsed_ms(1), 1);
    assert_int_equal(ovs_redlock_elapsed_ms(999999), 1);
    assert_int_equal(ovs_redlock_elapsed_ms(1000000), 1);
    assert_int_equal(ovs_redlock_elapsed_ms(1000001), 2);
    assert_int_equal(ovs_redlock_elapsed_ms(INT64_C(4947000000)), 4947);
}

static void test_acquired(void **state)
{
    (void)state;
    /* A majority with time left. */
    assert_true(ovs_redlock_acquired(3, 5, 4938));
    assert_true(ovs_redlock_acquired(5, 5, 1));
    assert_true(ovs_redlock_acquired(1, 1, 100));
    assert_true(ovs_redlock_acquired(2, 3, 100));
    assert_true(ovs_redlock_acquired(3, 4, 100));
    /* One short of a majority. */
    assert_false(ovs_redlock_acquired(2, 5, 4938));
    assert_false(ovs_redlock_acquired(1, 2, 4938));
    assert_false(ovs_redlock_acquired(2, 4, 4938));
    assert_false(ovs_redlock_acquired(1, 3, 4938));
    assert_false(ovs_redlock_acquired(0, 1, 4938));
    /* Every node, but the lease was spent acquiring it. */
    assert_false(ovs_redlock_acquired(5, 5, 0));
    assert_false(ovs_redlock_acquired(5, 5, -1));
    assert_false(ovs_redlock_acquired(5, 5, ovs_redlock_validity_ms(5000, 4948, 0.01)));
    assert_true(ovs_redlock_acquired(3, 5, ovs_redlock_validity_ms(5000, 4947, 0.01)));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_elapsed_rounds_up),
        cmocka_unit_test(test_acquired),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("redlock_math", tests, NULL, NULL);
}
