/* test_checker.c - the invariant maths: interval overlaps, date ranges, percentiles, and
 * the stale answer rule. */
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

/* --- stale answers (core/answer.h) ------------------------------------------------------ */

static int stale(int64_t answer, int64_t before, int64_t after)
{
    ovs_answer a = { answer, before, after };
    return ovs_answer_stale(&a);
}

static void answer_inside_the_truth_is_not_stale(void **state)
{
    (void)state;
    /* A count read from SQL at any instant of the call lies between the truth after and
     * the truth before: a rule that flagged it would count an honest read as stale. */
    assert_false(stale(3, 3, 3));
    assert_false(stale(3, 4, 2));
    assert_false(stale(4, 4, 2));
    assert_false(stale(2, 4, 2));
    assert_false(stale(0, 0, 0));
    /* A stay: free when asked, taken by the end of the call; either answer was true at
     * some instant. */
    assert_false(stale(1, 1, 0));
    assert_false(stale(0, 1, 0));
}

static void answer_outside_the_truth_is_stale(void **state)
{
    (void)state;
    /* A cache still showing the stock before a sale: above the truth at every instant. */
    assert_true(stale(3, 2, 2));
    assert_true(stale(5, 4, 2));
    /* Below the truth after: fewer shown than SQL had throughout. */
    assert_true(stale(1, 4, 2));
    /* A stay shown free though taken before the call began, or taken though free
     * throughout. */
    assert_true(stale(1, 0, 0));
    assert_true(stale(0, 1, 1));
}

static void lost_sales_and_dead_ends(void **state)
{
    (void)state;
    ovs_answer lost = { 0, 3, 3 }, dead = { 3, 0, 0 }, right = { 0, 0, 0 }, late = { 0, 1, 0 };
    assert_true(ovs_answer_lost_sale(&lost));
    assert_false(ovs_answer_dead_end(&lost));
    assert_true(ovs_answer_dead_end(&dead));
    assert_false(ovs_answer_lost_sale(&dead));
    /* Sold out and right, or sold out while the last unit went during the call. */
    assert_false(ovs_answer_lost_sale(&right));
    assert_false(ovs_answer_lost_sale(&late));
}

static void answer_text_round_trips(void **state)
{
    (void)state;
    ovs_answer a = { 3, 2, 1 }, b;
    char buf[64];

    ovs_answer_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "answer=3 truth=2..1");
    assert_int_equal(ovs_answer_parse(buf, &b), 0);
    assert_int_equal(b.answer, 3);
    assert_int_equal(b.before, 2);
    assert_int_equal(b.after, 1);
    assert_int_equal(ovs_answer_parse("answer=3", &b), -1);
    assert_int_equal(ovs_answer_parse("stock=3", &b), -1);
    assert_int_equal(ovs_answer_parse(NULL, &b), -1);
    assert_true(ovs_check_is_figure(OVS_STALE_ANSWERS));
    assert_false(ovs_check_is_figure("oversold"));
    assert_false(ovs_check_is_figure(NULL));
}

static void add_answer(ovs_trace *t, int client, int64_t at, enum ovs_outcome out, int64_t answer,
                       int64_t before, int64_t after)
{
    ovs_answer a = { answer, before, after };
    char d[64];
    ovs_answer_format(&a, d, sizeof(d));
    ovs_trace_add(t, client, OVS_OP_ANSWER, "sku:1", at, at + 10, out, d);
}

static void stale_answers_counted_from_events(void **state)
{
    (void)state;
    ovs_trace a = { 0 }, b = { 0 };
    ovs_trace *traces[] = { &a, NULL, &b };
    ovs_stale st;

    add_answer(&a, 0, 100, OVS_OUT_OK, 3, 3, 3);   /* fresh */
    add_answer(&a, 0, 500, OVS_OUT_OK, 3, 1, 1);   /* stale: 3 shown, 1 left */
    add_answer(&b, 1, 300, OVS_OUT_OK, 3, 0, 0);   /* stale, the earliest; a dead end */
    add_answer(&b, 1, 700, OVS_OUT_OK, 0, 2, 2);   /* stale: a lost sale */
    add_answer(&b, 1, 50, OVS_OUT_FAIL, 9, 0, 0);  /* no answer given: not judged */
    /* Right when given, then refused by the shop: out of date before the buyer acted. A
     * give-up on a busy lock is no refusal, and a fresh answer followed by a sale is not
     * out of date. */
    add_answer(&b, 2, 800, OVS_OUT_OK, 1, 1, 1);
    ovs_trace_add(&b, 2, OVS_OP_REQUEST, "sku:1", 800, 900, OVS_OUT_FAIL, OVS_SAID_SOLD_OUT);
    add_answer(&b, 3, 810, OVS_OUT_OK, 1, 1, 1);
    ovs_trace_add(&b, 3, OVS_OP_REQUEST, "sku:1", 810, 900, OVS_OUT_FAIL, "gave up: busy");
    add_answer(&b, 4, 820, OVS_OUT_OK, 1, 1, 1);
    ovs_trace_add(&b, 4, OVS_OP_REQUEST, "sku:1", 820, 900, OVS_OUT_OK, "sold");
    /* Another op with an answer's text is not an answer. */
    ovs_trace_add(&b, 1, OVS_OP_CHECK, "sku:1", 10, 20, OVS_OUT_OK, "answer=9 truth=0..0");
    ovs_stale_answers(traces, 3, &st);
    assert_int_equal(st.answers, 7);
    assert_int_equal(st.stale, 3);
    assert_int_equal(st.outdated, 1);
    assert_int_equal(st.lost_sale, 1);
    assert_int_equal(st.dead_end, 1);
    assert_int_equal(st.first_at, 300);
    assert_int_equal(st.first_client, 1);
    assert_int_equal(st.first.before, 0);
    assert_int_equal(st.unreadable, 0);

    /* An answer event without its truth cannot be judged, and says so. */
    ovs_trace_add(&a, 0, OVS_OP_ANSWER, "sku:1", 900, 910, OVS_OUT_OK, "answer=3");
    ovs_stale_answers(traces, 3, &st);
    assert_int_equal(st.unreadable, 1);
    assert_int_equal(st.stale, 3);
    ovs_trace_free(&a);
    ovs_trace_free(&b);
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
        cmocka_unit_test(answer_inside_the_truth_is_not_stale),
        cmocka_unit_test(answer_outside_the_truth_is_stale),
        cmocka_unit_test(lost_sales_and_dead_ends),
        cmocka_unit_test(answer_text_round_trips),
        cmocka_unit_test(stale_answers_counted_from_events),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("checker", tests, NULL, NULL);
}
