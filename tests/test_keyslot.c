/* test_keyslot.c - Redis Cluster hash slots (harness/core/keyslot.c) against the values
 * the Redis Cluster specification and CLUSTER KEYSLOT give (test_cluster.c compares many
 * more with a real server). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "core/keyslot.h"

static int slot(const char *k)
{
    return ovs_keyslot(k, strlen(k));
}

static void test_crc16(void **state)
{
    (void)state;
    assert_int_equal(ovs_crc16("123456789", 9), 0x31C3); /* the spec's check value */
    assert_int_equal(ovs_crc16("", 0), 0);
}

static void test_slots(void **state)
{
    (void)state;
    assert_int_equal(slot("123456789"), 0x31C3 % OVS_CLUSTER_SLOTS);
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("somekey"), 11058);
    assert_int_equal(slot("foo{hash_tag}"), 2515);
}

static void test_hash_tags(void **state)
{
    (void)state;
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    assert_int_equal(slot("stock:{sku:1}"), slot("hold:{sku:1}"));
    assert_int_equal(slot("foo{hash_tag}"), slot("hash_tag"));
    /* An empty tag is no tag; only the first '{' and the first '}' after it count. */
    assert_int_equal(slot("{}x"), ovs_crc16("{}x", 3) % OVS_CLUSTER_SLOTS);
    assert_int_equal(slot("{a}{b}"), slot("a"));
    assert_int_equal(slot("x{a{b}c"), slot("a{b"));
    assert_int_equal(slot("}{x}"), slot("x"));
    assert_int_equal(slot("{x"), ovs_crc16("{x", 2) % OVS_CLUSTER_SLOTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_hash_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
