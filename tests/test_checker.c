/* test_checker.c - the invariant maths: interval overlaps, date ranges, percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/checker.h"

static void no_intervals(void **state)
{
    (void)state;
    ovs_overlap o;
    ovs_overlaps(NULL, 0, &o);
    assert_int_equal(o.pairs, 0);
    assert_int_equal(o.max_holders, 0);
}

static void serial_sections_do_not_overlap(void **state)
{
    (void)state;
    /* Touching intervals: one releases at 10, the next acquires at 10. */
    ovs_interval iv[] = { { 20, 30, 2 }, { 0, 10, 0 }, { 10, 20, 1 } };
    ovs_overlap o;
    ovs_overlaps(iv, 3, &o);
    assert_int_equal(o.pairs, 0);
    assert_int_equal(o.max_holders, 1);
}

static void two_holders(void **state)
{
    (void)state;
    /* Client 0 holds [0, 100); client 1 gets in at 40 after a TTL expiry and holds to 140. */
    ovs_interval iv[] = { { 40, 140, 1 }, { 0, 100, 0 } };
    ovs_overlap o;
    ovs_overlaps(iv, 2, &o);
    assert_int_equal(o.pairs, 1);
    assert_int_equal(o.max_holders, 2);
    assert_int_equal(o.first_start, 40);
    assert_int_equal(o.first_end, 100);
    assert_int_equal(o.first_a, 0);
    assert_int_equal(o.first_b, 1);
}

static void all_at_once(void **state)
{
    (void)state;
    /* n intervals all open together make n(n-1)/2 pairs. */
    enum { N = 100 };
    ovs_interval iv[N];
    for (int i = 0; i < N; i++)
        iv[i] = (ovs_interval){ i, 1000 + i, i };
    ovs_overlap o;
    ovs_overlaps(iv, N, &o);
    assert_int_equal(o.pairs, N * (N - 1) / 2);
    assert_int_equal(o.max_holders, N);
}

static void matches_brute_force(void **state)
{
    (void)state;
    /* Random intervals, seeded, some empty and some of one client: the sweep must agree
     * with the quadratic count of the one definition. */
    enum { N = 500 };
    ovs_interval iv[N];
    uint64_t s = 12345;
    int64_t brute = 0;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t a = (int64_t)((s >> 33) % 10000);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t len = (int64_t)((s >> 33) % 50);
        iv[i] = (ovs_interval){ a, a + len, i % 37 }; /* some pairs share a client */
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            brute += ovs_holds_overlap(iv[i].start, iv[i].end, iv[i].client, iv[j].start,
                                       iv[j].end, iv[j].client);
    ovs_overlap o;
    ovs_overlaps(iv, N, &o);
    assert_int_equal(o.pairs, brute);
}

static void zero_length_sections(void **state)
{
    (void)state;
    /* An empty section holds nothing, even inside another client's: no overlap, and the
     * one definition (ovs_holds_overlap) says the same. */
    ovs_interval iv[] = { { 5, 5, 0 }, { 0, 10, 1 }, { 10, 10, 2 } };
    ovs_overlap o;
    assert_false(ovs_holds_overlap(5, 5, 0, 0, 10, 1));
    ovs_overlaps(iv, 3, &o);
    assert_int_equal(o.pairs, 0);
    assert_int_equal(o.max_holders, 1);
}

static void same_client_sections(void **state)
{
    (void)state;
    /* A client is not a second holder of its own key; another client is. */
    ovs_interval iv[] = { { 0, 100, 7 }, { 50, 150, 7 }, { 60, 70, 8 } };
    ovs_overlap o;
    assert_false(ovs_holds_overlap(0, 100, 7, 50, 150, 7));
    ovs_overlaps(iv, 3, &o);
    assert_int_equal(o.pairs, 2); /* 8 overlaps each of 7's two sections */
    assert_int_equal(o.first_start, 60);
    assert_int_equal(o.first_b, 8);
    assert_int_equal(o.first_a, 7);
}

static void three_holders(void **state)
{
    (void)state;
    /* 0 holds [0, 10); 1 gets in at 2 and 2 at 3, while 1 still holds: three pairs, three
     * holders at t=3, and the first overlap at 2. */
    ovs_interval iv[] = { { 3, 12, 2 }, { 0, 10, 0 }, { 2, 4, 1 } };
    ovs_overlap o;
    ovs_overlaps(iv, 3, &o);
    assert_int_equal(o.pairs, 3);
    assert_int_equal(o.max_holders, 3);
    assert_int_equal(o.first_start, 2);
    assert_int_equal(o.first_end, 4);
    assert_int_equal(o.first_a, 0);
    assert_int_equal(o.first_b, 1);
}

/* A seeded LCG step: the same intervals on every run. */
static int64_t next(uint64_t *s, int64_t mod)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int64_t)((*s >> 33) % (uint64_t)mod);
}

static void matches_brute_force_on_a_grid(void **state)
{
    (void)state;
    /* Starts and lengths on a grid of 10, so touching sections, empty ones and equal
     * starts are common, over many seeds: the pairs, and the first instant two clients
     * held at once (the latest start of the pair that overlaps first), must be the
     * quadratic count's, and the first pair named must be one that overlaps there. */
    enum { N = 200 };
    for (uint64_t seed = 1; seed <= 40; seed++) {
        ovs_interval iv[N], orig[N];
        uint64_t s = seed;
        int64_t brute = 0, first = INT64_MAX;
        for (int i = 0; i < N; i++) {
            int64_t a = 10 * next(&s, 200);
            iv[i] = (ovs_interval){ a, a + 10 * next(&s, 4), (int)next(&s, 9) };
        }
        memcpy(orig, iv, sizeof(iv));
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++)
                if (ovs_holds_overlap(iv[i].start, iv[i].end, iv[i].client, iv[j].start,
                                      iv[j].end, iv[j].client)) {
                    int64_t at = iv[i].start > iv[j].start ? iv[i].start : iv[j].start;
                    brute++;
                    first = at < first ? at : first;
                }
        ovs_overlap o;
        ovs_overlaps(iv, N, &o);
        if (o.pairs != brute)
            fail_msg("seed %llu: %lld pairs, brute force %lld", (unsigned long long)seed,
                     (long long)o.pairs, (long long)brute);
        if (brute == 0)
            continue;
        assert_int_equal(o.first_start, first);
        int named = 0;
        for (int i = 0; i < N && !named; i++)
            for (int j = 0; j < N && !named; j++)
                named = orig[i].client == o.first_a && orig[j].client == o.first_b &&
                        ovs_holds_overlap(orig[i].start, orig[i].end, orig[i].client,
                                          orig[j].start, orig[j].end, orig[j].client) &&
                        orig[j].start == first && orig[i].start <= first &&
                        (orig[i].end < orig[j].end ? orig[i].end : orig[j].end) == o.first_end;
        if (!named)
            fail_msg("seed %llu: clients %d and %d do not overlap at %lld to %lld",
                     (unsigned long long)seed, o.first_a, o.first_b, (long long)first,
                     (long long)o.first_end);
    }
}

static void percentiles_nearest_rank(void **state)
{
    (void)state;
    int64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 100 - i; /* 100..1, unsorted */
    ovs_latency l;
    ovs_latency_of(v, 100, &l);
    assert_int_equal(l.n, 100);
    assert_int_equal(l.p50, 50);
    assert_int_equal(l.p99, 99);
    assert_int_equal(l.max, 100);

    int64_t one[] = { 7 };
    ovs_latency_of(one, 1, &l);
    assert_int_equal(l.p50, 7);
    assert_int_equal(l.p99, 7);

    int64_t three[] = { 30, 10, 20 };
    ovs_latency_of(three, 3, &l);
    assert_int_equal(l.p50, 20);
    assert_int_equal(l.p99, 30);

    ovs_latency_of(NULL, 0, &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.max, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_intervals),
        cmocka_unit_test(serial_sections_do_not_overlap),
        cmocka_unit_test(two_holders),
        cmocka_unit_test(all_at_once),
        cmocka_unit_test(matches_brute_force),
        cmocka_unit_test(zero_length_sections),
        cmocka_unit_test(same_client_sections),
        cmocka_unit_test(three_holders),
        cmocka_unit_test(matches_brute_force_on_a_grid),
        cmocka_unit_test(percentiles_nearest_rank),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("checker", tests, NULL, NULL);
}
