/* test_writeback_stream.c - the write-back queue as a Redis Stream, on real redis-server
 * processes and a real SQLite shop: lua-decr's sale and its entry in one script, the
 * consumer group applying and acknowledging entries, and a consumer that dies before
 * XACK - its entry delivered again to the next consumer, applied twice by a plain apply
 * and once by an idempotent one. And the stream on another node (queue_node): the sale as
 * two writes, the consumer there, an XADD refused (the unit given back) and one unanswered
 * (the unit kept, the entry landing later). */
#include <setjmp.h> /* cmocka.h needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/keys.h"
#include "engine/writeback_stream.h"
#include "locks_fixture.h"

/* Sell one unit to each of buyers 0..n-1 through s: how many sold. Anything but a sale or
 * a clean "sold out" fails the test. */
static int sell(ovs_strategy *s, int n)
{
    ovs_request r;
    int sold = 0;

    memset(&r, 0, sizeof(r));
    r.sku = 1;
    for (int b = 0; b < n; b++) {
        int rc = s->m->xExecute(s, &r, b, 0);
        if (rc != OVS_OK && rc != OVS_REFUSED)
            fail_msg("buyer %d: %d %s", b, rc, s->errstr);
        sold += rc == OVS_OK;
    }
    return sold;
}

/* lua-decr on the stream: a shop, the stock prepared, the instance opened with
 * env.queue_stream and no env.sold (a sale handed to the memory queue would crash). */
static ovs_strategy *stream_seller(fixture *f)
{
    const ovs_strategy_methods *m = ovs_strategy_find("lua-decr");

    assert_non_null(m);
    create_shop(f);
    prepare(f, m);
    f->queue_stream = OVS_QUEUE_STREAM_KEY;
    return open_inst(f, m, "", 0);
}

/* The consumer, reading the stream on node f->sc.queue.node. */
static ovs_wbstream *consumer(fixture *f)
{
    ovs_wbstream *q = NULL;
    char err[256] = "";

    f->sc.queue.kind = OVS_QUEUE_STREAM;
    if (ovs_wbstream_start(&q, &f->shop, &endpoints(f)[f->sc.queue.node], NULL, &f->sc, err,
                           sizeof(err)) != 0)
        fail_msg("consumer: %s", err);
    return q;
}

/* lua-decr with the stream on node 1 (queue_node = 1): env.queue_redis set. */
static ovs_strategy *apart_seller(fixture *f)
{
    f->sc.queue.node = 1;
    f->queue_redis = &endpoints(f)[1];
    freeReplyObject(node_cmd(f, 1, "DEL %s", OVS_QUEUE_STREAM_KEY));
    freeReplyObject(node_cmd(f, 0, "DEL %s", OVS_QUEUE_STREAM_KEY));
    return stream_seller(f);
}

static long long stream_len(const fixture *f, int node)
{
    redisReply *r = node_cmd(f, node, "XLEN %s", OVS_QUEUE_STREAM_KEY);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static int count_ops(ovs_trace *t, enum ovs_op op, enum ovs_outcome out)
{
    int n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->ev[i].op == op && t->ev[i].outcome == out;
    return n;
}

static long long pending(const fixture *f)
{
    redisReply *r = node_cmd(f, 0, "XPENDING %s %s", OVS_QUEUE_STREAM_KEY, OVS_QUEUE_GROUP);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long n = r->element[0]->integer;
    freeReplyObject(r);
    return n;
}

/* Every sale has its entry and no refusal has one: the stream holds exactly the sales,
 * with their buyers, and the stock is what is left. */
static void test_sale_and_entry_in_one_script(void **state)
{
    fixture *f = *state;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    freeReplyObject(node_cmd(f, 0, "DEL %s", OVS_QUEUE_STREAM_KEY));
    ovs_strategy *s = stream_seller(f);
    assert_int_equal(sell(s, 5), 3);
    assert_int_equal(node_int(f, 0, "stock:1"), 0);
    redisReply *r = node_cmd(f, 0, "XRANGE %s - +", OVS_QUEUE_STREAM_KEY);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *fields = r->element[i]->element[1];
        assert_int_equal(fields->elements, 4);
        assert_string_equal(fields->element[0]->str, "sku");
        assert_string_equal(fields->element[1]->str, "1");
        assert_string_equal(fields->element[2]->str, "buyer");
        assert_int_equal(atoi(fields->element[3]->str), (int)i);
    }
    freeReplyObject(r);
    /* Nothing reached SQL: only a consumer applies the stream. */
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 0);
}

/* The consumer applies each entry once, with its id, and acknowledges it. */
static void test_consumer_applies_and_acknowledges(void **state)
{
    fixture *f = *state;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 4;
    ovs_strategy *s = stream_seller(f);
    ovs_wbstream *q = consumer(f);
    assert_int_equal(sell(s, 6), 4);
    assert_int_equal(ovs_wbstream_drain(q), 0);
    char err[256] = "";
    assert_int_equal(ovs_wbstream_error(q, err, sizeof(err)), 0);
    assert_int_equal(count_ops(ovs_wbstream_trace(q), OVS_OP_WRITEBACK, OVS_OUT_OK), 4);
    assert_int_equal(count_ops(ovs_wbstream_trace(q), OVS_OP_FAULT, OVS_OUT_OK), 0);
    ovs_wbstream_free(q);
    assert_int_equal(shop_scalar(f, "SELECT count(DISTINCT entry) FROM orders"), 4);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), 4);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 0);
    assert_int_equal(pending(f), 0);
}

/* The consumer dies after its 2nd apply, before XACK: the next one claims that entry and
 * applies it again (idempotent = 0) or finds it applied (idempotent = 1). */
static void redelivery(fixture *f, int idempotent)
{
    f->sc.stock = 3;
    f->sc.queue.idempotent = idempotent;
    f->sc.queue.consumer_crash = 2;
    f->sc.queue.claim_idle_ns = 50 * OVS_NS_PER_MS;
    ovs_strategy *s = stream_seller(f);
    ovs_wbstream *q = consumer(f);
    assert_int_equal(sell(s, 3), 3);
    assert_int_equal(ovs_wbstream_drain(q), 0);
    char err[256] = "";
    assert_int_equal(ovs_wbstream_error(q, err, sizeof(err)), 0);
    ovs_trace *t = ovs_wbstream_trace(q);
    assert_int_equal(count_ops(t, OVS_OP_FAULT, OVS_OUT_OK), 1);
    /* Four applies: three entries, one of them twice. */
    assert_int_equal(count_ops(t, OVS_OP_WRITEBACK, OVS_OUT_OK), 4);
    /* The next consumer's first apply came no sooner than claim_idle after the crash. */
    int64_t crashed = -1, claimed = -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->ev[i].op == OVS_OP_FAULT)
            crashed = t->ev[i].start_ns;
        else if (claimed < 0 && t->ev[i].op == OVS_OP_WRITEBACK &&
                 strstr(t->ev[i].detail, "by c2") != NULL)
            claimed = t->ev[i].start_ns;
    }
    assert_true(crashed > 0 && claimed > 0);
    assert_true(claimed - crashed >= f->sc.queue.claim_idle_ns);
    /* The entry the idempotent apply found applied says so. */
    int said = 0;
    for (size_t i = 0; i < t->n; i++)
        said += t->ev[i].op == OVS_OP_WRITEBACK &&
                strstr(t->ev[i].detail, "applied before, nothing written") != NULL;
    assert_int_equal(said, idempotent);
    ovs_wbstream_free(q);
    assert_int_equal(shop_scalar(f, "SELECT count(DISTINCT entry) FROM orders"), 3);
    assert_int_equal(shop_scalar(f, "SELECT count(*) FROM orders"), idempotent ? 3 : 4);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), idempotent ? 0 : -1);
    assert_int_equal(pending(f), 0);
}

static void test_redelivery_plain_applies_twice(void **state)
{
    OVS_REQUIRE_REDIS();
    redelivery(*state, 0);
}

static void test_redelivery_idempotent_applies_once(void **state)
{
    OVS_REQUIRE_REDIS();
    redelivery(*state, 1);
}

/* A consumer crash the queue never reached is an error, not a run without the fault. */
static void test_crash_that_never_came(void **state)
{
    fixture *f = *state;
    char err[256] = "";

    OVS_REQUIRE_REDIS();
    f->sc.stock = 2;
    f->sc.queue.consumer_crash = 5;
    ovs_strategy *s = stream_seller(f);
    ovs_wbstream *q = consumer(f);
    assert_int_equal(sell(s, 2), 2);
    ovs_wbstream_drain(q);
    assert_int_equal(ovs_wbstream_error(q, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "queue_consumer_crash = 5 never happened"));
    ovs_wbstream_free(q);
}

/* The stream on node 1: each sale decrements node 0 and adds its entry on node 1, none on
 * node 0, and the consumer reading node 1 applies and acknowledges every one. */
static void test_apart_consumer_on_queue_node(void **state)
{
    fixture *f = *state;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 3;
    ovs_strategy *s = apart_seller(f);
    ovs_wbstream *q = consumer(f);
    assert_int_equal(sell(s, 5), 3);
    assert_int_equal(node_int(f, 0, "stock:1"), 0);
    assert_int_equal(node_exists(f, 0, OVS_QUEUE_STREAM_KEY), 0);
    assert_int_equal(stream_len(f, 1), 3);
    assert_int_equal(ovs_wbstream_drain(q), 0);
    char err[256] = "";
    assert_int_equal(ovs_wbstream_error(q, err, sizeof(err)), 0);
    assert_int_equal(count_ops(ovs_wbstream_trace(q), OVS_OP_WRITEBACK, OVS_OUT_OK), 3);
    ovs_wbstream_free(q);
    assert_int_equal(shop_scalar(f, "SELECT count(DISTINCT entry) FROM orders"), 3);
    assert_int_equal(shop_scalar(f, "SELECT stock FROM skus WHERE id = 1"), 0);
    redisReply *r = node_cmd(f, 1, "XPENDING %s %s", OVS_QUEUE_STREAM_KEY, OVS_QUEUE_GROUP);
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
}

/* An XADD node 1 refuses (the key is not a stream: WRONGTYPE) certainly added nothing:
 * the unit goes back to node 0's stock and the buyer is refused with an error, not told
 * "sold". Once the stream can take entries again the same unit sells. */
static void test_apart_refused_xadd_gives_back(void **state)
{
    fixture *f = *state;
    ovs_request r;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 2;
    ovs_strategy *s = apart_seller(f);
    freeReplyObject(node_cmd(f, 1, "SET %s not-a-stream", OVS_QUEUE_STREAM_KEY));
    memset(&r, 0, sizeof(r));
    r.sku = 1;
    assert_int_equal(s->m->xExecute(s, &r, 0, 0), OVS_ERR);
    assert_non_null(strstr(s->errstr, "the unit given back"));
    assert_int_equal(node_int(f, 0, "stock:1"), 2);
    freeReplyObject(node_cmd(f, 1, "DEL %s", OVS_QUEUE_STREAM_KEY));
    assert_int_equal(s->m->xExecute(s, &r, 1, 0), OVS_OK);
    assert_int_equal(node_int(f, 0, "stock:1"), 1);
    assert_int_equal(stream_len(f, 1), 1);
}

/* An XADD without an answer (node 1 stopped) may still happen: the sale is of unknown
 * outcome and the unit is not given back - and indeed, once node 1 resumes, it runs the
 * XADD it had read, and the order is queued. */
static void test_apart_unanswered_xadd_keeps_the_unit(void **state)
{
    fixture *f = *state;
    ovs_request r;

    OVS_REQUIRE_REDIS();
    f->sc.stock = 2;
    ovs_strategy *s = apart_seller(f);
    memset(&r, 0, sizeof(r));
    r.sku = 1;
    stop_nodes(f, 1, 1);
    int rc = s->m->xExecute(s, &r, 0, 0);
    resume_all(f);
    assert_int_equal(rc, OVS_ERR_IO);
    assert_non_null(strstr(s->errstr, "XADD unanswered"));
    assert_int_equal(node_int(f, 0, "stock:1"), 1);
    assert_int_equal(stream_len(f, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sale_and_entry_in_one_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_applies_and_acknowledges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_plain_applies_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_idempotent_applies_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_that_never_came, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apart_consumer_on_queue_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apart_refused_xadd_gives_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apart_unanswered_xadd_keeps_the_unit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
