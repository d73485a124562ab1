/* test_runner_answers.c - the runner's answer step (xAvailable) and the stale answers
 * figure, judged from SQL and never from the strategy's word.
 *
 * The strategy here is a no-op lock (the harness's own check-think-act sells in SQL) with
 * a screen the test chooses: a lying one that always shows 5, one that always shows sold
 * out, and an honest one that reads SQL. They run through the real runner on a real
 * SQLite shop, and the checker counts. What each case would catch: a runner that took
 * the truth from the strategy (the liar's answers would all be "right"), one that let a
 * buyer shown sold out buy anyway (sales and lock calls where there must be none), and a
 * rule with false positives (the honest screen flagged). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner_fixture.h"

#include "core/answer.h"
#include "engine/checker.h"
#include "engine/runner.h"
#include "engine/shop.h"
#include "locks/sql_request.h"
#include "locks/strategy.h"

/* Two units, four buyers 150 ms apart: one after the other, so each truth is exact. A
 * request takes about a millisecond idle; 30 ms apart was too little for one under
 * ThreadSanitizer beside the AddressSanitizer suite on two cores, and b's truth was
 * read before a's sale. (No `after = a:release`: the sold-out screen sends a away
 * before it takes any lock.) */
static const char scenario_text[] =
    "[scenario]\n"
    "name = screens\n"
    "workload = inventory\n"
    "seed = 1\n"
    "stock = 2\n"
    "[client a]\nstart = 0ms\nrequest = buy sku=1\n"
    "[client b]\nstart = 150ms\nrequest = buy sku=1\n"
    "[client c]\nstart = 300ms\nrequest = buy sku=1\n"
    "[client d]\nstart = 450ms\nrequest = buy sku=1\n";

/* What the screen shows: a fixed count, or -1 to read SQL honestly. */
static int64_t screen;
/* xLock calls, summed over the clients' threads. */
static atomic_int locks;

typedef struct fake {
    ovs_strategy base;
    ovs_sqlreq q;
} fake;

static int fake_open(ovs_strategy *s, const ovs_env *env)
{
    return ovs_sqlreq_open(&((fake *)s)->q, env->shop);
}

static int fake_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    atomic_fetch_add(&locks, 1);
    return OVS_OK;
}

static int fake_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return OVS_OK;
}

static int fake_available(ovs_strategy *s, const ovs_request *r, int64_t *answer)
{
    if (screen >= 0) {
        *answer = screen;
        return OVS_OK;
    }
    return ovs_sqlreq_available(&((fake *)s)->q, s->env->workload, r, answer);
}

static void fake_close(ovs_strategy *s)
{
    ovs_sqlreq_close(&((fake *)s)->q);
}

static const ovs_strategy_methods screened = {
    .version = 4,
    .name = "screened",
    .summary = "a no-op lock with a screen the test chooses",
    .size = sizeof(fake),
    .xOpen = fake_open,
    .xLock = fake_lock,
    .xUnlock = fake_unlock,
    .xClose = fake_close,
    .xAvailable = fake_available,
};

typedef struct outcome {
    int64_t succeeded, refused, orders;
    int locks;
    ovs_check oversold, stale;
    ovs_stale st;
    int64_t before[4]; /* the truth before each client's answer, by client */
    char left[64];     /* the request detail of the last client */
} outcome;

static void run(int64_t shows, outcome *o)
{
    char path[96], err[256], fig[256];
    ovs_scenario sc;
    ovs_params params = { 0 };
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    ovs_check_input in = { .asks = 1 };
    ovs_shop *db;

    memset(o, 0, sizeof(*o));
    screen = shows;
    atomic_store(&locks, 0);
    ovs_shop_loc loc;
    rf_shop("screens.ini", scenario_text, &sc, &loc, path, sizeof(path));
    ovs_run_spec spec = { .sc = &sc, .m = &screened, .params = &params, .shop = &loc };
    if (ovs_run(&spec, &res) != 0)
        fail_msg("run: %s", res.error);
    o->succeeded = res.succeeded;
    o->refused = res.refused;
    o->locks = atomic_load(&locks);
    for (int t = 0; t < res.ntraces; t++)
        for (size_t i = 0; i < res.traces[t]->n; i++) {
            const ovs_event *e = &res.traces[t]->ev[i];
            ovs_answer a;
            if (e->op == OVS_OP_ANSWER && ovs_answer_parse(e->detail, &a) == 0 &&
                e->client >= 0 && e->client < 4)
                o->before[e->client] = a.before;
            if (e->op == OVS_OP_REQUEST && e->client == 3)
                snprintf(o->left, sizeof(o->left), "%s", e->detail);
        }
    ovs_stale_answers(res.traces, res.ntraces, &o->st);
    assert_int_equal(ovs_shop_open(&loc, &db, err, sizeof(err)), 0);
    assert_int_equal(ovs_shop_scalar(db, "SELECT count(*) FROM orders", &o->orders), 0);
    int n = ovs_check_run(db, &sc, res.traces, res.ntraces, res.t0, &in, checks, fig,
                          sizeof(fig), err, sizeof(err));
    if (n <= 0)
        fail_msg("check: %s", err);
    for (int i = 0; i < n; i++) {
        if (strcmp(checks[i].invariant, "oversold") == 0)
            o->oversold = checks[i];
        if (strcmp(checks[i].invariant, OVS_STALE_ANSWERS) == 0)
            o->stale = checks[i];
    }
    assert_string_equal(o->stale.invariant, OVS_STALE_ANSWERS);
    ovs_shop_close(db);
    ovs_run_result_free(&res);
    ovs_scenario_free(&sc);
}

/* Always 5 in stock: every answer is above SQL's stock at its instant, so all four are
 * stale, and the last two buyers go to a checkout that refuses them. The sale itself is
 * the harness's and oversells nothing. */
static void a_lying_screen_is_counted_from_sql(void **state)
{
    outcome o;
    (void)state;
    run(5, &o);
    assert_int_equal(o.orders, 2);
    assert_true(o.oversold.pass);
    assert_int_equal(o.locks, 4);
    /* The truth is SQL's, read around each answer, not the strategy's 5. */
    assert_int_equal(o.before[0], 2);
    assert_int_equal(o.before[1], 1);
    assert_int_equal(o.before[2], 0);
    assert_int_equal(o.before[3], 0);
    assert_int_equal(o.stale.observed, 4);
    assert_false(o.stale.pass);
    assert_false(o.stale.skipped);
    assert_int_equal(o.st.answers, 4);
    assert_int_equal(o.st.dead_end, 2);
    assert_int_equal(o.st.lost_sale, 0);
}

/* Always sold out: every buyer leaves without trying - no lock taken, nothing sold - and
 * every answer is a lost sale while SQL held both units. */
static void a_sold_out_screen_sends_buyers_away(void **state)
{
    outcome o;
    (void)state;
    run(0, &o);
    assert_int_equal(o.locks, 0);
    assert_int_equal(o.orders, 0);
    assert_int_equal(o.succeeded, 0);
    assert_int_equal(o.refused, 4);
    assert_string_equal(o.left, "left: the screen said sold out");
    assert_int_equal(o.stale.observed, 4);
    assert_int_equal(o.st.lost_sale, 4);
    assert_int_equal(o.before[3], 2);
}

/* A screen that reads SQL is never stale: the rule has no false positive. The last two
 * buyers see sold out, rightly, and leave. */
static void an_honest_screen_is_fresh(void **state)
{
    outcome o;
    (void)state;
    run(-1, &o);
    assert_int_equal(o.orders, 2);
    assert_int_equal(o.locks, 2);
    assert_int_equal(o.st.answers, 4);
    assert_int_equal(o.stale.observed, 0);
    assert_true(o.stale.pass);
    assert_string_equal(o.left, "left: the screen said sold out");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_lying_screen_is_counted_from_sql, rf_remove_dir),
        cmocka_unit_test_teardown(a_sold_out_screen_sends_buyers_away, rf_remove_dir),
        cmocka_unit_test_teardown(an_honest_screen_is_fresh, rf_remove_dir),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("runner_answers", tests, NULL, NULL);
}
