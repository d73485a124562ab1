/* test_contract.c - one contract, run over every registered strategy.
 *
 * The tests are generated at run time from the registry (ovs_strategy_list), one per
 * strategy and workload scenario, named "contract/<strategy>/<scenario>", the way
 * knot-resolver runs one test body over every back end behind a table: a newly
 * registered strategy is covered without editing this file.
 *
 * Each run goes through the real pieces (managed redis-server processes, a real shop, the
 * runner, the checker, the recorder), assembled here rather than through
 * ovs_cell_run because the cell stops the fleet before it returns, and the contract reads
 * Redis's own stock before the fleet stops. What a strategy claims is then checked from
 * the shop's SQL file and the recorded events, counted here independently of the checker:
 *
 *   claims_safe    no oversell, no double booking; no two clients inside a critical
 *                  section of one key at once (ovs_holds_overlap, the one definition);
 *                  every acknowledged sale has its row in SQL, and no row belongs to a
 *                  buyer who was told no; no buyer refused while the shop still had room
 *                  (a lost sale), nor giving up on a key nobody held (unless it claims no
 *                  liveness: then the give-ups are reported); a fenced strategy's
 *                  orders carry growing tokens; some sale at all
 *   redis_stock    Redis agrees with SQL once the write-back queue has drained
 *   neither        the scenario shows the race (oversell, double booking), or it has lost
 *                  its teeth and proves nothing about the others
 *
 * and in every case the checker's figures agree with the ones counted here.
 *
 * Strategies registered the way the command line registers them are covered too: the
 * definition files of the source tree's strategies/ and the plugins named in
 * OVS_CONTRACT_PLUGINS (colon-separated paths; tests/meson.build names the example plugin).
 *
 * Every workload case runs on every shop back end (shop_backends.h): SQLite under the
 * names above, PostgreSQL and MariaDB as "contract/<strategy>/<scenario>@postgresql" on
 * the servers OVS_TEST_POSTGRESQL_URL and OVS_TEST_MYSQL_URL name, each run in a schema or
 * database of its own, dropped in the teardown. The ground truth is read through the back
 * end with the same SQL on each.
 *
 * A strategy whose needs the machine cannot meet (no redis-server) fails: a contract run
 * never skips - with two exceptions, a definition whose program is not installed (an
 * adapter run by node on a machine without node), skipped with the reason, and a server
 * back end the environment names no server for; under CI=true, where nothing may be
 * skipped, both fail. The seed is fixed (CONTRACT_DEFAULT_SEED) and printed with every failure;
 * OVS_CONTRACT_SEED=N runs another. A first argument filters by name: 'contract/setnx*'. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "engine/cell.h"
#include "engine/checker.h"
#include "engine/plan.h"
#include "infra/fleet.h"
#include "engine/recorder.h"
#include "locks/redis_stock.h"
#include "engine/runner.h"
#include "scenario/scenario.h"
#include "engine/shop.h"
#include "locks/plugin.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"
#include "infra/topology.h"
#include "core/trace.h"
#include "core/util.h"
#include "shop_backends.h"

#include "ovs_config.h"

#define CONTRACT_DEFAULT_SEED 7ULL

static unsigned long long contract_seed = CONTRACT_DEFAULT_SEED;

/* ---- the workload scenarios ----------------------------------------------------------- */

/* Inventory: 20 buyers, 5 units, 8 workers released together. The first 8 all check
 * before any of them acts (5 to 15 ms of think time, drawn per buyer from the seed), so
 * without exclusion all 8 sell, and the workers done first check again while the others
 * still think: oversold 3 at the very least. */
#define INV_STOCK 5
#define INV_BUYERS 20

static void inventory_text(char *buf, size_t len, unsigned long long seed)
{
    snprintf(buf, len,
             "[scenario]\n"
             "seed = %llu\n"
             "name = contract-inventory\n"
             "description = %d buyers race for %d units through 8 workers\n"
             "workload = inventory\n"
             "stock = %d\n"
             "writeback_delay = 1ms\n"
             "[crowd]\n"
             "buyers = %d\n"
             "arrival = burst\n"
             "workers = 8\n"
             "think = 5ms..15ms\n"
             "request = buy sku=1\n",
             seed, INV_BUYERS, INV_STOCK, INV_STOCK, INV_BUYERS);
}

/* Booking: a burst of guests for one room under per-night locks, on stays that overlap
 * but start on different days (guest i checks in on the 20th + i % 4 and stays 2 or 3
 * nights), so a lock per check-in day would not keep them apart and a lock per night
 * must. Every guest checks within the first few milliseconds and thinks 10 to 20 ms:
 * without exclusion several overlapping stays are confirmed. A crowd asks for one request
 * only, so the guests are timeline clients, their offsets, stays and think times drawn
 * from the seed. */
#define BOOK_GUESTS 12

static void booking_text(char *buf, size_t len, unsigned long long seed)
{
    ovs_rng rng;
    size_t used;

    ovs_rng_seed(&rng, seed);
    used = (size_t)snprintf(buf, len,
                            "[scenario]\n"
                            "seed = %llu\n"
                            "name = contract-booking\n"
                            "description = %d guests, one room, overlapping stays from"
                            " different days, a lock per night\n"
                            "workload = booking\n"
                            "lock = night\n"
                            "writeback_delay = 1ms\n",
                            seed, BOOK_GUESTS);
    for (int i = 0; i < BOOK_GUESTS && used < len; i++) {
        int in = 20 + i % 4;
        int out = in + 2 + (int)ovs_rng_below(&rng, 2);
        int start_ms = (int)ovs_rng_below(&rng, 4);
        int think_ms = 10 + (int)ovs_rng_below(&rng, 11);
        used += (size_t)snprintf(buf + used, len - used,
                                 "[client g%02d]\n"
                                 "start = %dms\n"
                                 "think = %dms\n"
                                 "request = book hotel=1 room=101"
                                 " dates=2026-01-%02d..2026-01-%02d\n",
                                 i, start_ms, think_ms, in, out);
    }
}

typedef struct contract_scenario {
    const char *name; /* the last part of the test name */
    void (*text)(char *buf, size_t len, unsigned long long seed);
} contract_scenario;

static const contract_scenario scenarios[] = {
    { "inventory", inventory_text },
    { "booking", booking_text },
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- one generated test --------------------------------------------------------------- */

/* Redis's own state, read from master 0 before the fleet stops. */
typedef struct redis_night {
    char key[64];  /* night:<hotel>:<room>:<date> */
    int64_t guest; /* its value */
    int matched;   /* a booked night in SQL has this key */
} redis_night;

typedef struct redis_view {
    int read;             /* 1 when what follows was read */
    char error[200];      /* why not, when read is 0 */
    int stock_found;      /* inventory: stock:1 exists */
    int64_t stock;        /* inventory: its value */
    redis_night *nights;  /* booking: every night:* key */
    size_t n_nights;
} redis_view;

/* How one buyer's request ended, from its request event. */
enum answer { A_NONE, A_OK, A_REFUSED, A_BUSY, A_ERROR, A_UNKNOWN };

/* A confirmed booking as SQL has it. */
typedef struct stay {
    int64_t guest;
    int in, out; /* days, [in, out) */
} stay;

/* Two stays [a_in, a_out) and [b_in, b_out) share a night: each starts before the other
 * ends, so a guest leaving the morning the next arrives shares none. The contract's own
 * statement of the rule the shop's SQL applies (harness/engine/shop.c), to judge it by. */
static int stays_overlap(int a_in, int a_out, int b_in, int b_out)
{
    return a_in < b_out && b_in < a_out;
}

typedef struct hold {
    char key[OVS_KEY_MAX];
    int32_t client;
    int64_t start, end;
    int64_t asked;          /* when the acquire that took it began: a lease runs from there
                               (Redlock's validity time is counted from the first request) */
} hold;

typedef struct tally {
    int64_t buyers;         /* requests the scenario makes */
    int64_t events;         /* request events recorded */
    int64_t stray;          /* request events for no buyer of the scenario, or a second one
                               for the same buyer */
    int64_t ok, refused, busy, errors, unknown;
    int64_t sold;           /* rows in SQL: orders, or confirmed bookings */
    int64_t stock;          /* inventory: SQL stock of sku 1 at the end */
    int64_t oversold;       /* inventory: max(0, sold - stock0, -stock) */
    int64_t double_booked;  /* booking: pairs of confirmed stays of the room that overlap */
    int64_t unrecorded;     /* acknowledged (ok) with no row in SQL */
    int64_t phantom;        /* a row for a buyer told no, or for no buyer at all */
    int64_t duplicate;      /* buyers with more than one row */
    int64_t lost_sales;     /* refused while the shop still had room for them */
    int64_t overlaps;       /* pairs of critical sections of one key held at once */
    int64_t expired;        /* of them, pairs where the later hold began once the earlier
                               one's lease (its ttl from its acquire) had run out */
    int64_t unfenced;       /* fenced strategy, inventory: orders without a token, or with
                               one not above the previous order's */
    int64_t idle_giveups;   /* gave up on a key that others held for less than half the
                               time it kept trying */
    char first_overlap[200];
    char first_lost[160];
    char first_idle[200];
    char first_unfenced[160];
    stay *stays;            /* booking: the confirmed stays */
    size_t n_stays;
    hold *holds;            /* every critical section, by key, then start */
    size_t n_holds;
    int *rows;              /* per buyer: its rows in SQL */
    enum answer *answer;    /* per buyer: how its request ended */
} tally;

/* Everything a test owns, so that the teardown releases it whatever assertion jumped out:
 * above all the topology, so no redis-server outlives the test that started it. */
typedef struct contract_case {
    char name[96];                 /* "contract/setnx/inventory"; the CMUnitTest's name */
    const ovs_strategy_methods *m;
    const contract_scenario *scn;  /* NULL for the shape and close tests */
    const shop_backend *backend;   /* the shop's back end (shop_backends.h) */
    int shop_created;              /* a server shop exists and the teardown drops it */
    char dir[256];                 /* private directory: shop and results databases */
    unsigned long long seed;       /* this attempt's: contract_seed, then the next ones */
    ovs_results *db;
    ovs_scenario sc;
    ovs_params params;
    ovs_shop_loc shop;             /* where the run's shop is */
    ovs_topology *topo;            /* up only while the run is */
    ovs_run_result res;
    redis_view redis;
    ovs_check checks[OVS_MAX_CHECKS];
    int nchecks;
    char figure[256];              /* the checker's headline */
    int64_t run_id;
    double seconds;
    tally t;                       /* what was counted */
} contract_case;

/* Fail the test at the caller's line, naming the case and the seed that repeats it. */
static void contract_fail(const contract_case *k, const char *file, int line, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static void contract_fail(const contract_case *k, const char *file, int line, const char *fmt,
                          ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s: %s\n    seed %llu: OVS_CONTRACT_SEED=%llu repeats this run\n", k->name,
                msg, k->seed, k->seed);
    _fail(file, line);
}

#define CONTRACT_ASSERT(k, cond, ...)                                                        \
    do {                                                                                     \
        if (!(cond))                                                                         \
            contract_fail((k), __FILE__, __LINE__, __VA_ARGS__);                             \
    } while (0)

static int workload_setup(void **state)
{
    contract_case *k = *state;
    char err[256], path[300];
    const char *tmp = getenv("TMPDIR");

    snprintf(k->dir, sizeof(k->dir), "%s/oversell-contract.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(k->dir) == NULL) {
        print_error("mkdtemp %s failed\n", k->dir);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/results.db", k->dir);
    k->db = ovs_results_open(path, err, sizeof(err));
    if (k->db == NULL) {
        print_error("%s\n", err);
        return -1;
    }
    k->run_id = -1;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int workload_teardown(void **state)
{
    contract_case *k = *state;

    ovs_topology_stop(k->topo);
    k->topo = NULL;
    ovs_run_result_free(&k->res);
    free(k->redis.nights);
    memset(&k->redis, 0, sizeof(k->redis));
    free(k->t.stays);
    free(k->t.holds);
    free(k->t.rows);
    free(k->t.answer);
    memset(&k->t, 0, sizeof(k->t));
    ovs_scenario_free(&k->sc);
    if (k->shop_created) {
        char err[300];
        if (ovs_shop_drop(&k->shop, err, sizeof(err)) != 0)
            print_error("%s: drop %s: %s\n", k->name, k->shop.ns, err);
        k->shop_created = 0;
    }
    ovs_results_close(k->db);
    k->db = NULL;
    /* Depth first, so each directory is empty by the time it is removed. */
    return nftw(k->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* Short, frequent retries with a budget of seconds: on healthy servers every holder is
 * done in milliseconds, so a sound lock never makes a buyer give up, even under a
 * sanitizer. Leases of three seconds, a hundred and fifty times the longest section
 * here: a library that leaves a failed attempt's locks to expire (node-redlock) costs a
 * lease per collision, and five-second leases made its four cases take over a minute;
 * one-second leases ran out under ThreadSanitizer on a loaded machine, and a second
 * holder double-booked. */
static void fast_retries(const ovs_strategy_methods *m, ovs_params *p)
{
    /* The same budget for a strategy that claims no liveness: with a quarter of it,
     * node-redlock-using live-locked on a three-night booking until all twelve guests
     * gave up, and "somebody gets through" is the one liveness the contract asks of
     * every strategy, so that one that never grants a lock cannot pass as safe. */
    static const char *const set[][2] = {
        { "retry_count", "2000" }, { "retry_delay", "1ms" }, { "retry_jitter", "2ms" },
        { "ttl", "3s" },
        /* Healthy nodes answer in microseconds; on a loaded machine the default 50 ms
         * per node ran out in node-redlock's init, which is the machine, not the lock. */
        { "node_timeout", "500ms" },
    };
    char err[128];
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++)
            /* A value its table refuses would leave the seed defaults (3 retries) in place
             * and turn a sound lock into give-ups: say so instead. */
            if (strcmp(m->params[i].name, set[k][0]) == 0 &&
                ovs_params_set(m, p, set[k][0], set[k][1], err, sizeof(err)) != 0)
                fail_msg("%s: cannot retry fast: %s", m->name, err);
}

static redisContext *connect_master(const ovs_endpoint *ep, char *err, size_t errlen)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);

    if (c == NULL || c->err) {
        snprintf(err, errlen, "%s:%d: %s", ep->host, ep->port, c ? c->errstr : "no memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Read stock:1, or every night:* key and its guest, from master 0. Never asserts: the
 * fleet is up. */
static void read_redis(contract_case *k, const ovs_endpoint *ep)
{
    redis_view *v = &k->redis;
    redisContext *c = connect_master(ep, v->error, sizeof(v->error));
    redisReply *r = NULL;

    if (c == NULL)
        return;
    if (k->sc.workload == OVS_INVENTORY) {
        r = redisCommand(c, "GET stock:1");
        if (r == NULL || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING)) {
            snprintf(v->error, sizeof(v->error), "GET stock:1: %s", r ? r->str : c->errstr);
            goto out;
        }
        v->stock_found = r->type == REDIS_REPLY_STRING;
        v->stock = v->stock_found ? strtoll(r->str, NULL, 10) : 0;
        v->read = 1;
        goto out;
    }
    /* KEYS is fine on a private server holding a few dozen keys. */
    r = redisCommand(c, "KEYS night:*");
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(v->error, sizeof(v->error), "KEYS night:*: %s", r ? r->str : c->errstr);
        goto out;
    }
    v->nights = calloc(r->elements ? r->elements : 1, sizeof(*v->nights));
    if (v->nights == NULL) {
        snprintf(v->error, sizeof(v->error), "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *g = redisCommand(c, "GET %s", r->element[i]->str);
        if (g == NULL || g->type != REDIS_REPLY_STRING) {
            snprintf(v->error, sizeof(v->error), "GET %s: %s", r->element[i]->str,
                     g ? (g->type == REDIS_REPLY_NIL ? "gone" : g->str) : c->errstr);
            freeReplyObject(g);
            goto out;
        }
        snprintf(v->nights[i].key, sizeof(v->nights[i].key), "%s", r->element[i]->str);
        v->nights[i].guest = strtoll(g->str, NULL, 10);
        v->n_nights++;
        freeReplyObject(g);
    }
    v->read = 1;
out:
    freeReplyObject(r);
    redisFree(c);
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One run, from fleet start to the recorded verdict, as harness/engine/cell.c does it, with
 * Redis read in between. Fails the test when the run cannot happen; the teardown stops
 * whatever was started. */
static void run_pieces(contract_case *k)
{
    char text[4096], err[300];
    ovs_check_input in;
    ovs_shop *shop = NULL;
    int64_t t_begin = ovs_now_ns();

    k->scn->text(text, sizeof(text), k->seed);
    if (ovs_scenario_parse("contract.ini", text, &k->sc, err, sizeof(err)) != 0 ||
        ovs_scenario_resolve(&k->sc, err, sizeof(err)) != 0)
        contract_fail(k, __FILE__, __LINE__, "contract scenario: %s", err);
    ovs_scenario_params_for(&k->sc, k->m, &k->params);
    fast_retries(k->m, &k->params);
    char file[300];
    const char *url;
    SHOP_BACKEND_URL(k->backend, url);
    snprintf(file, sizeof(file), "%s.%s.db", k->sc.name, k->m->name);
    shop_backend_loc(k->backend, url, k->dir, file, &k->shop);

    int nodes = ovs_cell_nodes(&k->sc, k->m, &k->params);
    if (nodes > 0) {
        int trc = ovs_topology_start(&k->sc, nodes, NULL, &k->topo, err,
                                     sizeof(err));
        if (trc != 0)
            contract_fail(k, __FILE__, __LINE__, "%s needs %d Redis node(s): %s%s", k->m->name,
                          nodes, err,
                          trc == OVS_ERR_ENV ? " - this machine cannot meet its needs, and a"
                                               " contract run fails rather than skips"
                                             : "");
    }
    if (ovs_shop_create(&k->shop, &k->sc, err, sizeof(err)) != 0)
        contract_fail(k, __FILE__, __LINE__, "shop: %s", err);
    k->shop_created = 1;

    ovs_run_spec spec = {
        .sc = &k->sc,
        .m = k->m,
        .params = &k->params,
        .redis = k->topo ? ovs_topology_masters(k->topo) : NULL,
        .n_redis = k->topo ? ovs_topology_size(k->topo) : 0,
        .client_redis = k->topo ? ovs_topology_client_links(k->topo) : NULL,
        .read_from = k->topo ? ovs_topology_read_from(k->topo) : NULL,
        .fault = k->topo ? ovs_topology_fault : NULL,
        .fault_node = k->topo ? ovs_topology_node : NULL,
        .settle = k->topo ? ovs_topology_settle : NULL,
        .fault_ctx = k->topo,
        .shop = &k->shop,
    };
    if (ovs_run(&spec, &k->res) != 0 || k->res.status != OVS_RUN_OK)
        contract_fail(k, __FILE__, __LINE__, "run %s: %s", ovs_run_status_name(k->res.status),
                      k->res.error);

    /* ovs_run has drained the write-back queue: Redis and SQL can be compared now. */
    memset(&in, 0, sizeof(in));
    in.unknown = k->res.unknown;
    in.fenced = OVS_STRATEGY_FIELD(k->m, xFence, NULL) != NULL;
    if (k->topo && OVS_STRATEGY_FIELD(k->m, redis_stock, 0))
        read_redis(k, ovs_topology_masters(k->topo));
    /* The contract's inventory has one SKU; a missing key reads as 0, as the scripts read
     * it. Unread, the checker must report divergence skipped rather than pass it. */
    int64_t redis_stock = k->redis.stock_found ? k->redis.stock : 0;
    unsigned char absent = !k->redis.stock_found;
    in.redis_stock =
        OVS_STRATEGY_FIELD(k->m, redis_stock, 0) && k->sc.workload == OVS_INVENTORY;
    if (in.redis_stock && k->redis.read) {
        in.stock = &redis_stock;
        in.absent = &absent;
    } else if (in.redis_stock) {
        in.unread = "the contract could not read Redis";
    }
    char redis_version[32] = "";
    if (k->topo)
        snprintf(redis_version, sizeof(redis_version), "%s", ovs_topology_version(k->topo));
    ovs_topology_stop(k->topo);
    k->topo = NULL;

    if (ovs_shop_open(&k->shop, &shop, err, sizeof(err)) != 0)
        contract_fail(k, __FILE__, __LINE__, "shop: %s", err);
    k->nchecks = ovs_check_run(shop, &k->sc, k->res.traces, k->res.ntraces, k->res.t0, &in,
                               k->checks, k->figure, sizeof(k->figure), err, sizeof(err));
    ovs_shop_close(shop);
    if (k->nchecks < 0)
        contract_fail(k, __FILE__, __LINE__, "checker: %s", err);

    char started[32];
    utc_now(started, sizeof(started));
    int safe = 1;
    for (int i = 0; i < k->nchecks; i++)
        safe &= k->checks[i].pass;
    char params[256];
    ovs_params_format(k->m, &k->params, params, sizeof(params));
    const ovs_run_result *res = &k->res;
    char shop_db[700];
    ovs_shop_loc_describe(&k->shop, shop_db, sizeof(shop_db));
    ovs_run_row row = {
        .scenario = k->sc.name,
        .scenario_file = k->sc.path,
        .description = k->sc.description,
        .workload = k->sc.workload == OVS_INVENTORY ? "inventory" : "booking",
        .strategy = k->m->name,
        .params = params,
        .seed = k->sc.seed,
        .expect = -1,
        .redis_version = redis_version[0] ? redis_version : NULL,
        .sqlite_version = sqlite3_libversion(),
        .started_at = started,
        .duration_ns = res->duration_ns,
        .status = "ok",
        .verdict = safe ? "safe" : "unsafe",
        .figure = k->figure,
        .shop_db = shop_db,
        .backend = k->shop.m->name,
        .requests = res->requests,
        .succeeded = res->succeeded,
        .refused = res->refused,
        .busy = res->busy,
        .unknown = res->unknown,
        .errors = res->errors,
        .throughput = res->throughput,
        .p50_ns = res->latency.p50,
        .p99_ns = res->latency.p99,
        .max_ns = res->latency.max,
        .acquire_fail = res->acquire_fail,
        .retries = res->retries,
        .t0 = res->t0,
    };
    k->run_id = ovs_results_write(k->db, &row, res->traces, res->ntraces, k->checks,
                                  k->nchecks);
    if (k->run_id < 0)
        contract_fail(k, __FILE__, __LINE__, "results: %s", k->db->errstr);
    ovs_run_result_free(&k->res);
    k->seconds = (double)(ovs_now_ns() - t_begin) / 1e9;
}

/* ---- counting, from the shop's SQL file and the recorded events ----------------------- */

static sqlite3_stmt *prepare(const contract_case *k, sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        contract_fail(k, __FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
    return st;
}

static int64_t scalar(const contract_case *k, ovs_shop *shop, const char *sql)
{
    int64_t v = 0;
    if (ovs_shop_scalar(shop, sql, &v) != 0)
        contract_fail(k, __FILE__, __LINE__, "%s: %s", sql, ovs_shop_errmsg(shop));
    return v;
}

static int parse_day(const ovs_sqlval *v)
{
    int day = -1;
    if (v->type != OVS_SQL_TEXT || ovs_parse_date(v->s, &day) != 0)
        return -1;
    return day;
}

/* What the row callbacks below count into. */
typedef struct shop_rows {
    const contract_case *k;
    tally *t;
    int *rows;
    int booking;
    int64_t last;        /* count_fences: the highest token so far */
} shop_rows;

/* One order (buyer) or confirmed stay (guest, check_in, check_out). */
static int count_row(void *ctx, const ovs_sqlval *col, int ncol)
{
    shop_rows *r = ctx;
    tally *t = r->t;
    int64_t buyer = ncol > 0 && col[0].type == OVS_SQL_INT ? col[0].i : -1;

    t->sold++;
    if (buyer < 0 || buyer >= t->buyers)
        t->phantom++;
    else
        r->rows[buyer]++;
    if (r->booking) {
        stay *y = &t->stays[t->n_stays++];
        *y = (stay){ buyer, ncol > 2 ? parse_day(&col[1]) : -1,
                     ncol > 2 ? parse_day(&col[2]) : -1 };
        CONTRACT_ASSERT(r->k, y->in >= 0 && y->out > y->in,
                        "a booking of guest %lld has no valid dates", (long long)buyer);
    }
    return 0;
}

/* Rows per buyer from the shop; the confirmed stays for bookings. */
static void count_shop(const contract_case *k, tally *t, int *rows)
{
    ovs_shop *shop = NULL;
    char err[200];
    int booking = k->sc.workload == OVS_BOOKING;
    shop_rows r = { k, t, rows, booking, -1 };
    const char *sql = booking ? "SELECT guest, check_in, check_out FROM bookings"
                                " WHERE status = 'confirmed'"
                              : "SELECT buyer FROM orders";

    if (ovs_shop_open(&k->shop, &shop, err, sizeof(err)) != 0)
        contract_fail(k, __FILE__, __LINE__, "shop: %s", err);
    if (booking) {
        t->stays = calloc((size_t)scalar(k, shop, "SELECT count(*) FROM bookings") + 1,
                          sizeof(*t->stays));
        assert_non_null(t->stays);
    }
    if (ovs_shop_rows(shop, sql, count_row, &r) != 0)
        contract_fail(k, __FILE__, __LINE__, "%s: %s", sql, ovs_shop_errmsg(shop));
    if (booking) {
        t->double_booked = scalar(k, shop,
                                  "SELECT count(*) FROM bookings a JOIN bookings b"
                                  " ON a.id < b.id AND a.hotel = b.hotel AND a.room = b.room"
                                  " AND a.status = 'confirmed' AND b.status = 'confirmed'"
                                  " AND a.check_in < b.check_out AND b.check_in < a.check_out");
    } else {
        t->stock = scalar(k, shop, "SELECT stock FROM skus WHERE id = 1");
        t->oversold = t->sold - k->sc.stock;
        if (-t->stock > t->oversold)
            t->oversold = -t->stock;
        if (t->oversold < 0)
            t->oversold = 0;
    }
    ovs_shop_close(shop);
}

/* One order (id, buyer, fence) in the order the rows were written. */
static int fence_row(void *ctx, const ovs_sqlval *col, int ncol)
{
    shop_rows *r = ctx;
    tally *t = r->t;
    int null = ncol < 3 || col[2].type != OVS_SQL_INT;
    int64_t fence = null ? 0 : col[2].i;

    if (!null && fence > r->last) {
        r->last = fence;
        return 0;
    }
    if (t->unfenced++ > 0)
        return 0;
    char written[40];
    if (null)
        snprintf(written, sizeof(written), "no token");
    else
        snprintf(written, sizeof(written), "token %lld", (long long)fence);
    snprintf(t->first_unfenced, sizeof(t->first_unfenced),
             "order %lld of buyer %lld was written with %s (highest before it: %lld)",
             (long long)col[0].i, (long long)col[1].i, written, (long long)r->last);
    return 0;
}

/* For a fenced strategy, the token every order was written with (orders.fence): each
 * holder takes a token above every earlier holder's, and holders of the one SKU follow one
 * another, so in the order the rows were written each carries one, higher than the one
 * before. */
static void count_fences(const contract_case *k, tally *t)
{
    ovs_shop *shop = NULL;
    char err[200];
    shop_rows r = { k, t, NULL, 0, -1 };
    const char *sql = "SELECT id, buyer, fence FROM orders ORDER BY id";

    if (ovs_shop_open(&k->shop, &shop, err, sizeof(err)) != 0)
        contract_fail(k, __FILE__, __LINE__, "shop: %s", err);
    if (ovs_shop_rows(shop, sql, fence_row, &r) != 0)
        contract_fail(k, __FILE__, __LINE__, "%s: %s", sql, ovs_shop_errmsg(shop));
    ovs_shop_close(shop);
}

/* Each buyer's answer from its request event. The runner words a refusal "sold out" or
 * "room taken" (or "left: the screen said ..." before trying) and a give-up "gave up: busy"; the counts are compared with the run's own
 * counters below, so a change of wording fails loudly rather than miscounting. */
static void count_requests(const contract_case *k, tally *t, enum answer *answer)
{
    sqlite3_stmt *st = prepare(k, k->db->db,
                               "SELECT client, outcome, coalesce(detail, '') FROM events"
                               " WHERE run = ?1 AND op = 'request'");
    sqlite3_bind_int64(st, 1, k->run_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        const char *outcome = (const char *)sqlite3_column_text(st, 1);
        const char *detail = (const char *)sqlite3_column_text(st, 2);
        enum answer a;

        t->events++;
        if (strcmp(outcome, "ok") == 0) {
            a = A_OK;
            t->ok++;
        } else if (strcmp(outcome, "unknown") == 0) {
            a = A_UNKNOWN;
            t->unknown++;
        } else if (strcmp(detail, "sold out") == 0 || strcmp(detail, "room taken") == 0 ||
                   /* a buyer whose screen said none and who left without trying: a
                    * refusal too, and a lost sale where the shop still had room */
                   strcmp(detail, "left: the screen said sold out") == 0 ||
                   strcmp(detail, "left: the screen said taken") == 0 ||
                   /* the buyer's payment declined: no sale, the unit back on sale */
                   strcmp(detail, "payment declined") == 0) {
            a = A_REFUSED;
            t->refused++;
        } else if (strcmp(detail, "gave up: busy") == 0) {
            a = A_BUSY;
            t->busy++;
        } else {
            a = A_ERROR;
            t->errors++;
        }
        if (b < 0 || b >= t->buyers || answer[b] != A_NONE)
            t->stray++;
        else
            answer[b] = a;
    }
    sqlite3_finalize(st);
}

/* The lease a lock of k's strategy is taken for (its ttl parameter), or 0 when it has none. */
static int64_t lease_ns(const contract_case *k)
{
    for (int i = 0; i < k->m->n_params; i++)
        if (strcmp(k->m->params[i].name, "ttl") == 0)
            return (int64_t)(k->params.v[i] * 1e6);
    return 0;
}

/* Pairs of critical sections of one key held at once by different clients, by brute
 * force over the recorded events with the one definition of overlap: an independent
 * second opinion on the checker's sweep. */
static void count_overlaps(const contract_case *k, tally *t)
{
    size_t cap = 64;
    sqlite3_stmt *st = prepare(k, k->db->db,
                               "SELECT c.client, c.key, c.start_ns, c.end_ns,"
                               " coalesce((SELECT max(a.start_ns) FROM events a WHERE a.run = ?1"
                               " AND a.op = 'acquire' AND a.client = c.client AND a.key = c.key"
                               " AND a.end_ns <= c.start_ns), c.start_ns) FROM events c"
                               " WHERE c.run = ?1 AND c.op = 'critical' ORDER BY c.key,"
                               " c.start_ns");
    hold *h = t->holds = malloc(cap * sizeof(*h));

    assert_non_null(h);
    sqlite3_bind_int64(st, 1, k->run_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n_holds == cap) {
            h = realloc(t->holds, 2 * cap * sizeof(*h));
            assert_non_null(h);
            t->holds = h;
            cap *= 2;
        }
        hold *x = &h[t->n_holds++];
        x->client = sqlite3_column_int(st, 0);
        snprintf(x->key, sizeof(x->key), "%s", (const char *)sqlite3_column_text(st, 1));
        x->start = sqlite3_column_int64(st, 2);
        x->end = sqlite3_column_int64(st, 3);
        x->asked = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < t->n_holds; i++)
        for (size_t j = i + 1; j < t->n_holds && strcmp(h[i].key, h[j].key) == 0; j++) {
            if (!ovs_holds_overlap(h[i].start, h[i].end, h[i].client, h[j].start, h[j].end,
                                   h[j].client))
                continue;
            /* The earlier holder's lease ran from its acquire's start; a library that
             * hands back a lock whose lease has already run (node-redlock 5.0.0-beta.2
             * keeps the keys of an acquire's earlier attempts) makes an overlap of this
             * kind too. */
            int64_t ttl = lease_ns(k);
            if (ttl > 0 && h[j].start >= h[i].asked + ttl)
                t->expired++;
            if (t->overlaps++ == 0)
                snprintf(t->first_overlap, sizeof(t->first_overlap),
                         "clients %d and %d both held %s from t=%.3f ms to t=%.3f ms",
                         h[i].client, h[j].client, h[i].key, (double)h[j].start / 1e6,
                         (double)(h[i].end < h[j].end ? h[i].end : h[j].end) / 1e6);
        }
}

/* Time within [from, to) during which some other client held key: the union of their
 * critical sections, clipped. The holds are sorted by key, then start. */
static int64_t held_by_others(const tally *t, const char *key, int32_t client, int64_t from,
                              int64_t to)
{
    int64_t covered = 0, reach = from;

    for (size_t i = 0; i < t->n_holds; i++) {
        const hold *x = &t->holds[i];
        if (x->client == client || strcmp(x->key, key) != 0 || x->end <= reach ||
            x->start >= to)
            continue;
        int64_t a = x->start > reach ? x->start : reach;
        int64_t b = x->end < to ? x->end : to;
        covered += b - a;
        reach = b;
    }
    return covered;
}

/* Give-ups the recorded holds do not justify. A buyer may give up on contention, but
 * contention is another client holding the key: one that kept trying for seconds while
 * the key sat mostly idle was kept out by a lock nobody held - a release that did not
 * release, a lease leaked until its TTL. Half the time trying is far beyond the gaps
 * between holders of a sound lock (a retry delay of at most 3 ms here). */
static void count_idle_giveups(const contract_case *k, tally *t, const enum answer *answer)
{
    sqlite3_stmt *st = prepare(k, k->db->db,
                               "SELECT client, key, start_ns, end_ns FROM events"
                               " WHERE run = ?1 AND op = 'acquire' AND outcome = 'fail'");

    sqlite3_bind_int64(st, 1, k->run_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int32_t client = sqlite3_column_int(st, 0);
        const char *key = (const char *)sqlite3_column_text(st, 1);
        int64_t from = sqlite3_column_int64(st, 2), to = sqlite3_column_int64(st, 3);
        if (client < 0 || client >= t->buyers || answer[client] != A_BUSY || key == NULL)
            continue;
        int64_t held = held_by_others(t, key, client, from, to);
        if (2 * held >= to - from)
            continue;
        if (t->idle_giveups++ == 0)
            snprintf(t->first_idle, sizeof(t->first_idle),
                     "buyer %d gave up on %s after %.1f ms of trying, during which other"
                     " clients held it for %.1f ms", client, key, (double)(to - from) / 1e6,
                     (double)held / 1e6);
    }
    sqlite3_finalize(st);
}

/* Refusals the shop's final state does not justify. Stock only goes down and bookings are
 * never cancelled, so a refusal was honest only if the end state shows why: every unit
 * sold, or a confirmed stay of another guest overlapping the refused one. */
static void count_lost_sales(const contract_case *k, tally *t, const enum answer *answer)
{
    for (int64_t b = 0; b < t->buyers; b++) {
        if (answer[b] != A_REFUSED)
            continue;
        if (k->sc.workload == OVS_INVENTORY) {
            if (t->sold >= k->sc.stock)
                continue;
            if (t->lost_sales++ == 0)
                snprintf(t->first_lost, sizeof(t->first_lost),
                         "buyer %lld was told 'sold out' with %lld of %d units sold",
                         (long long)b, (long long)t->sold, k->sc.stock);
            continue;
        }
        const ovs_request *r = &k->sc.clients[b].req;
        int justified = 0;
        for (size_t i = 0; i < t->n_stays && !justified; i++)
            justified = t->stays[i].guest != b &&
                        stays_overlap(r->check_in, r->check_out, t->stays[i].in,
                                      t->stays[i].out);
        if (!justified && t->lost_sales++ == 0) {
            char in[16], out[16];
            ovs_format_date(r->check_in, in, sizeof(in));
            ovs_format_date(r->check_out, out, sizeof(out));
            snprintf(t->first_lost, sizeof(t->first_lost),
                     "guest %lld was told 'room taken' for %s..%s, which no confirmed stay"
                     " overlaps", (long long)b, in, out);
        }
    }
}

static void count_all(const contract_case *k, tally *t)
{
    memset(t, 0, sizeof(*t));
    t->buyers = ovs_scenario_requests(&k->sc);
    int *rows = t->rows = calloc((size_t)t->buyers, sizeof(*rows));
    enum answer *answer = t->answer = calloc((size_t)t->buyers, sizeof(*answer));
    assert_non_null(rows);
    assert_non_null(answer);

    count_shop(k, t, rows);
    if (OVS_STRATEGY_FIELD(k->m, xFence, NULL) != NULL && k->sc.workload == OVS_INVENTORY)
        count_fences(k, t);
    count_requests(k, t, answer);
    for (int64_t b = 0; b < t->buyers; b++) {
        t->unrecorded += answer[b] == A_OK && rows[b] == 0;
        t->phantom += rows[b] > 0 && answer[b] != A_OK && answer[b] != A_UNKNOWN;
        t->duplicate += rows[b] > 1;
    }
    count_lost_sales(k, t, answer);
    count_overlaps(k, t);
    count_idle_giveups(k, t, answer);
}

static const ovs_check *find_check(const contract_case *k, const char *invariant)
{
    for (int i = 0; i < k->nchecks; i++)
        if (strcmp(k->checks[i].invariant, invariant) == 0)
            return &k->checks[i];
    contract_fail(k, __FILE__, __LINE__, "the checker ran no '%s' check", invariant);
    return NULL;
}

/* ---- the contract ---------------------------------------------------------------------- */

/* Redis's stock against SQL's, for strategies that sell from Redis. A request of unknown
 * outcome may have taken a unit in Redis that never reached SQL: the gap may be that wide,
 * and no wider. */
static void check_redis_inventory(const contract_case *k, const tally *t)
{
    const redis_view *v = &k->redis;
    int64_t gap = v->stock - t->stock;

    /* A strategy that says it keeps stock in Redis and keeps none has not kept the promise
     * that the divergence check relies on. */
    CONTRACT_ASSERT(k, v->stock_found, "%s keeps stock in Redis, but stock:1 does not exist",
                    k->m->name);
    /* Broken: the write-back queue dropped or doubled an order, or the script decremented
     * without the sale being queued. */
    CONTRACT_ASSERT(k, (gap < 0 ? -gap : gap) <= t->unknown,
                    "Redis stock:1 = %lld but SQL stock = %lld after the write-back queue"
                    " drained (%lld requests of unknown outcome)",
                    (long long)v->stock, (long long)t->stock, (long long)t->unknown);
}

/* The same for bookings: a room-night is a unit (locks/redis_stock.h),
 * night:<hotel>:<room>:<date> exists once it is taken and holds the guest. Every night
 * booked in SQL is taken in Redis by a guest whose confirmed stay covers it, and Redis has
 * no taken night that SQL does not know of. */
static void check_redis_booking(const contract_case *k, const tally *t)
{
    const redis_view *v = &k->redis;
    int64_t missing = 0, wrong_guest = 0, extra = 0;
    char first[200] = "";

    for (size_t i = 0; i < t->n_stays; i++) {
        const stay *s = &t->stays[i];
        ovs_request r = { .hotel = 1, .room = 101, .check_in = s->in, .check_out = s->out };
        for (int night = 0; night < s->out - s->in; night++) {
            char key[64];
            redis_night *found = NULL;
            ovs_night_key(NULL, &r, night, key, sizeof(key));
            for (size_t j = 0; j < v->n_nights && !found; j++)
                if (strcmp(v->nights[j].key, key) == 0)
                    found = &v->nights[j];
            if (found == NULL) {
                if (missing++ == 0 && !first[0])
                    snprintf(first, sizeof(first), "%s is booked by guest %lld in SQL but"
                             " free in Redis", key, (long long)s->guest);
                continue;
            }
            found->matched = 1;
            int covers = 0;
            for (size_t g = 0; g < t->n_stays && !covers; g++)
                covers = t->stays[g].guest == found->guest && t->stays[g].in <= s->in + night &&
                         s->in + night < t->stays[g].out;
            if (!covers && wrong_guest++ == 0 && !first[0])
                snprintf(first, sizeof(first), "%s holds guest %lld, who has no confirmed stay"
                         " that night", key, (long long)found->guest);
        }
    }
    for (size_t j = 0; j < v->n_nights; j++)
        if (!v->nights[j].matched && extra++ == 0 && !first[0])
            snprintf(first, sizeof(first), "%s is taken in Redis (guest %lld) but booked by"
                     " nobody in SQL", v->nights[j].key, (long long)v->nights[j].guest);
    /* Broken: a night claimed in Redis without its booking being queued, or the queue
     * losing it; a booking applied without the claim. Unknown outcomes may leave claimed
     * nights SQL never heard of, nothing else. */
    CONTRACT_ASSERT(k, missing == 0 && wrong_guest == 0 && (extra == 0 || t->unknown > 0),
                    "Redis and SQL disagree on taken nights after the write-back queue"
                    " drained: %lld booked nights missing in Redis, %lld held by the wrong"
                    " guest, %lld taken in Redis only; first: %s",
                    (long long)missing, (long long)wrong_guest, (long long)extra, first);
}

/* An unsafe cell whose race is one statement wide (a guarded INSERT on PostgreSQL, where
 * two transactions must be inside the same few hundred microseconds) can miss it on one
 * seed on a slow machine. It gets this many seeds to show it, and fails if none does:
 * "unsafe" is a claim that some order of events breaks it, and the contract looks for
 * that order a little harder before calling the scenario toothless. */
#define TEETH_SEEDS 5

/* Runs the case on k->seed and judges it. Returns 1 when another seed may still show what
 * this one did not (last = 0): the race of a cell that claims no safety, or one sale by a
 * strategy that claims no liveness; fails the test for anything else that is wrong, and
 * returns 0 when the case is done. */
static int contract_judge(contract_case *k, int last)
{
    const ovs_strategy_methods *m = k->m;
    int inventory, redis_stock = OVS_STRATEGY_FIELD(m, redis_stock, 0);
    tally *tp = &k->t;

    run_pieces(k);
    inventory = k->sc.workload == OVS_INVENTORY;
    count_all(k, tp);
    const tally t = *tp;
    print_message("%s: %lld buyers: %lld ok, %lld refused, %lld busy, %lld errors, %lld"
                  " unknown; %lld sold",
                  k->name, (long long)t.buyers, (long long)t.ok, (long long)t.refused,
                  (long long)t.busy, (long long)t.errors, (long long)t.unknown,
                  (long long)t.sold);
    if (inventory)
        print_message(", SQL stock %lld, oversold %lld", (long long)t.stock,
                      (long long)t.oversold);
    else
        print_message(", double-booked pairs %lld", (long long)t.double_booked);
    if (redis_stock && inventory && k->redis.read && k->redis.stock_found)
        print_message(", Redis stock %lld", (long long)k->redis.stock);
    else if (redis_stock && !inventory && k->redis.read)
        print_message(", %zu nights taken in Redis", k->redis.n_nights);
    print_message("; %lld overlapping holds; %lld lost sales; checker: %s; %.2f s\n",
                  (long long)t.overlaps, (long long)t.lost_sales, k->figure, k->seconds);

    /* The harness's own bookkeeping, which the counts below rest on: one answer per buyer,
     * and the events telling the same story as the run's counters. */
    CONTRACT_ASSERT(k, t.events == t.buyers && t.stray == 0,
                    "%lld request events for %lld buyers (%lld stray)", (long long)t.events,
                    (long long)t.buyers, (long long)t.stray);
    sqlite3_stmt *st = prepare(k, k->db->db,
                               "SELECT succeeded, refused, busy FROM runs WHERE id = ?1");
    sqlite3_bind_int64(st, 1, k->run_id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    int64_t succeeded = found ? sqlite3_column_int64(st, 0) : -1;
    int64_t refused = found ? sqlite3_column_int64(st, 1) : -1;
    int64_t busy = found ? sqlite3_column_int64(st, 2) : -1;
    sqlite3_finalize(st);
    CONTRACT_ASSERT(k, found, "run %lld is not in the results", (long long)k->run_id);
    CONTRACT_ASSERT(k, t.ok == succeeded && t.refused == refused && t.busy == busy,
                    "request events say %lld ok, %lld refused, %lld busy; the run's counters"
                    " %lld, %lld, %lld (did the runner change how it words an answer?)",
                    (long long)t.ok, (long long)t.refused, (long long)t.busy,
                    (long long)succeeded, (long long)refused, (long long)busy);

    /* The checker must see what was counted here: a checker gone blind would pass every
     * unsafe strategy and the gate with it. */
    const ovs_check *primary = find_check(k, inventory ? "oversold" : "double_booked");
    const ovs_check *mutex = find_check(k, "mutex_overlaps");
    CONTRACT_ASSERT(k, primary->observed == (inventory ? t.oversold : t.double_booked),
                    "the checker says %s %lld, the shop's SQL %lld", primary->invariant,
                    (long long)primary->observed,
                    (long long)(inventory ? t.oversold : t.double_booked));
    CONTRACT_ASSERT(k, mutex->observed == t.overlaps,
                    "the checker counts %lld overlapping holds, the events %lld",
                    (long long)mutex->observed, (long long)t.overlaps);

    if (redis_stock) {
        CONTRACT_ASSERT(k, k->redis.read, "could not read Redis before the fleet stopped: %s",
                        k->redis.error);
        if (inventory)
            check_redis_inventory(k, tp);
        else
            check_redis_booking(k, tp);
    }

    /* What it claims here: with these parameters, on this back end, for this workload. */
    if (!ovs_strategy_claims(m, &k->params, k->shop.m->name, k->sc.workload)) {
        /* The race must show, or this scenario proves nothing about the strategies that
         * pass it. A scenario whose windows stopped overlapping (think time gone, one
         * worker) makes this fail, whatever the strategy. */
        int shown = inventory ? t.oversold > 0 : t.double_booked > 0;
        if (!shown && !last) {
            print_message("%s: the race did not show on seed %llu\n", k->name, k->seed);
            return 1;
        }
        if (inventory)
            CONTRACT_ASSERT(k, shown,
                            "%s claims no safety, yet sold %lld of %d units with no oversell"
                            " on any of %d seeds: the scenario has lost its teeth", m->name,
                            (long long)t.sold, k->sc.stock, TEETH_SEEDS);
        else
            CONTRACT_ASSERT(k, shown,
                            "%s claims no safety, yet no two confirmed stays overlap (%lld"
                            " booked) on any of %d seeds: the scenario has lost its teeth",
                            m->name, (long long)t.sold, TEETH_SEEDS);
        if (k->seed != contract_seed)
            print_message("%s: the race showed on seed %llu\n", k->name, k->seed);
        return 0;
    }

    /* A strategy that claims no liveness may keep a buyer acquiring for longer than a
     * lease: a booking holding night 1 while it waits seconds for night 2 outlives night
     * 1's lease, and the next holder of night 1 overlaps it. That is a lease expiring, the
     * cost of the liveness it does not claim, and is reported; any other overlap - two
     * holders while both leases were live - is a broken lock and fails, for every
     * strategy. No lease expires otherwise here (TTLs of seconds, sections of
     * milliseconds), so a fenced strategy is held to this too: its fence is for the holder
     * that outlives its lease, which a healthy run never has. */
    int64_t broken = t.overlaps;
    int lapsed = OVS_STRATEGY_FIELD(k->m, no_liveness_claim, 0) && t.expired > 0;
    if (lapsed) {
        print_message("%s: claims no liveness: %lld overlapping holds began after the"
                      " earlier holder's lease had run out (counted from its acquire's"
                      " start: it was still acquiring)\n", k->name, (long long)t.expired);
        broken -= t.expired;
    }
    /* Broken: no exclusion at all, or a lock that lets a second holder in. The shop's
     * damage is excused only where the lapsed leases above account for all of it: every
     * overlap one of them, and no more oversold units or double-booked pairs than there
     * were such overlaps (each needs one). Under AddressSanitizer on a loaded machine a
     * three-night booking with node-redlock once took over three seconds to acquire and
     * double-booked night 1 with the holder after its lease. */
    int64_t damage = inventory ? t.oversold : t.double_booked;
    if (lapsed && broken == 0 && damage > 0 && damage <= t.expired) {
        print_message("%s: claims no liveness: %lld %s from those lapsed leases\n", k->name,
                      (long long)damage, inventory ? "units oversold" : "pairs double-booked");
        damage = 0;
    }
    if (inventory)
        CONTRACT_ASSERT(k, damage == 0, "oversold %lld: %lld orders for %d units, SQL stock"
                        " %lld", (long long)t.oversold, (long long)t.sold, k->sc.stock,
                        (long long)t.stock);
    else
        CONTRACT_ASSERT(k, damage == 0, "%lld pairs of confirmed stays overlap",
                        (long long)t.double_booked);
    CONTRACT_ASSERT(k, broken == 0, "%lld overlapping holds; first: %s", (long long)broken,
                    t.first_overlap);
    /* Broken: a fence that is not there (xFence gives no token, so SQL checks nothing) or
     * tokens that do not grow (a counter reset, taken before the lock): the protection a
     * fenced strategy claims for the holder that outlives its lease would be empty. */
    CONTRACT_ASSERT(k, t.unfenced == 0, "%lld orders not fenced in order; first: %s",
                    (long long)t.unfenced, t.first_unfenced);
    /* Broken: a lock never released, or left to its TTL, so buyers give up on a key
     * nobody holds. A strategy that does not claim liveness (a library that keeps a failed
     * attempt's partial locks until their lease ends) has its give-ups said, not failed. */
    if (OVS_STRATEGY_FIELD(k->m, no_liveness_claim, 0))
        print_message("%s: claims no liveness: %lld give-ups on an idle lock%s%s\n",
                      k->name, (long long)t.idle_giveups, t.idle_giveups ? "; first: " : "",
                      t.idle_giveups ? t.first_idle : "");
    else
        CONTRACT_ASSERT(k, t.idle_giveups == 0, "%lld give-ups on an idle lock; first: %s",
                        (long long)t.idle_giveups, t.first_idle);
    /* Broken: a sale acknowledged in Redis whose order the queue never applied. */
    CONTRACT_ASSERT(k, t.unrecorded == 0, "%lld acknowledged sales have no row in SQL",
                    (long long)t.unrecorded);
    /* Broken: the shop took the unit of a buyer who was told no, or applied one twice. */
    CONTRACT_ASSERT(k, t.phantom == 0 && t.duplicate == 0,
                    "%lld rows for buyers told no (or no buyer), %lld buyers with two rows",
                    (long long)t.phantom, (long long)t.duplicate);
    /* Broken: refusing while stock remained (an off-by-one in a script, a stale read
     * trusted for the refusal). With every acknowledged sale in SQL (above), this is the
     * whole of "sells min(S, B) unless buyers gave up": a buyer who got a definite answer
     * (neither busy, nor an error, nor unknown) bought while units remained, so
     * S >= sold >= min(S, B - busy - errors - unknown). */
    CONTRACT_ASSERT(k, t.lost_sales == 0, "%lld lost sales; first: %s",
                    (long long)t.lost_sales, t.first_lost);
    /* Broken: a lock nobody can take (always busy, always failing) is safe and useless;
     * on healthy servers with seconds of retries, somebody must get through. A library
     * that claims no liveness can collapse on a slow machine (every buyer's round outlives
     * the lease's validity, and every attempt fails): it gets the teeth's seeds to sell
     * one, and fails if it sells nothing on all of them, as a lock nobody can take does. */
    if (t.sold == 0 && !last && OVS_STRATEGY_FIELD(k->m, no_liveness_claim, 0)) {
        print_message("%s: nothing sold (%lld busy) on seed %llu; another seed\n", k->name,
                      (long long)t.busy, k->seed);
        return 1;
    }
    CONTRACT_ASSERT(k, t.sold >= 1, "nothing sold: %lld busy, %lld errors, %lld unknown",
                    (long long)t.busy, (long long)t.errors, (long long)t.unknown);
    return 0;
}

static void contract_workload(void **state)
{
    contract_case *k = *state;

    for (int i = 1; contract_judge(k, i == TEETH_SEEDS); i++) {
        print_message("%s: seed %llu next\n", k->name, k->seed + 1);
        /* A fresh directory, results and shop for the next seed, as cmocka gave the
         * first. */
        if (workload_teardown(state) != 0 || workload_setup(state) != 0)
            contract_fail(k, __FILE__, __LINE__, "could not reset the case for seed %llu",
                          k->seed + 1);
        k->seed++;
    }
}

/* The methods table keeps its documented shape. */
static void contract_shape(void **state)
{
    contract_case *k = *state;
    const ovs_strategy_methods *m = k->m;
    ovs_params p;

    assert_true(m->version >= 1 && m->version <= OVS_STRATEGY_VERSION);
    assert_non_null(m->name);
    assert_non_null(m->summary);
    assert_true(m->size >= sizeof(ovs_strategy));
    assert_non_null(m->xOpen);
    assert_non_null(m->xClose);
    assert_true(m->claims_safe == 0 || m->claims_safe == 1);
    assert_true(OVS_STRATEGY_FIELD(m, redis_stock, 0) == 0 ||
                OVS_STRATEGY_FIELD(m, redis_stock, 0) == 1);
    /* Exactly one way of protecting a request. */
    assert_true((m->xLock != NULL) != (m->xExecute != NULL));
    assert_true((m->xLock != NULL) == (m->xUnlock != NULL));
    /* Stock in Redis means selling in Redis (xExecute) from a node it asks for. */
    ovs_params_defaults(m, &p);
    if (OVS_STRATEGY_FIELD(m, redis_stock, 0)) {
        assert_non_null(m->xExecute);
        assert_non_null(m->xNodes);
        assert_true(m->xNodes(&p) >= 1);
    }
    /* A fence orders the writes made under a lock. */
    if (OVS_STRATEGY_FIELD(m, xFence, NULL))
        assert_non_null(m->xLock);
    assert_ptr_equal(ovs_strategy_find(m->name), m);
}

/* xClose must accept an instance whose xOpen failed or whose servers are gone. */
static void contract_close_after_failure(void **state)
{
    contract_case *k = *state;
    const ovs_strategy_methods *m = k->m;
    ovs_scenario sc;
    char err[300], text[4096];
    ovs_endpoint dead[OVS_FLEET_MAX];
    ovs_params p;

    inventory_text(text, sizeof(text), 1);
    assert_int_equal(ovs_scenario_parse("contract.ini", text, &sc, err, sizeof(err)), 0);
    assert_int_equal(ovs_scenario_resolve(&sc, err, sizeof(err)), 0);
    ovs_scenario_params_for(&sc, m, &p);
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, "retry_count") == 0)
            ovs_params_set(m, &p, "retry_count", "0", err, sizeof(err));
    memset(dead, 0, sizeof(dead)); /* plain servers: no Sentinels in front of them */
    for (int i = 0; i < OVS_FLEET_MAX; i++) {
        snprintf(dead[i].host, sizeof(dead[i].host), "127.0.0.1");
        dead[i].port = 1; /* nothing listens on port 1 */
    }
    ovs_env env = { .workload = sc.workload, .skus = sc.skus, .stock = sc.stock, .param = &p,
                    .redis = dead, .n_redis = OVS_FLEET_MAX, .client = 0, .seed = 1 };
    ovs_strategy *s = calloc(1, m->size);
    assert_non_null(s);
    s->m = m;
    s->env = &env;
    int needs_redis = m->xNodes && m->xNodes(&p) > 0;
    if (m->xOpen(s, &env) == OVS_OK && needs_redis) {
        ovs_request req = { .sku = 1 };
        int rc = m->xLock ? m->xLock(s, "sku:1") : m->xExecute(s, &req, 0, 0);
        assert_true(rc != OVS_OK); /* nothing is listening: it cannot have succeeded */
        assert_true(s->errstr[0] != '\0' || rc == OVS_BUSY);
    }
    m->xClose(s);
    free(s);
    ovs_scenario_free(&sc);
}

/* A strategy whose program this machine lacks: skipped with why, or failed under CI. Runs
 * before a test that would start it. */
static void skip_unavailable(const ovs_strategy_methods *m)
{
    const char *why = ovs_strategy_unavailable(m);
    const char *ci = getenv("CI");

    if (why == NULL)
        return;
    if (ci != NULL && strcmp(ci, "true") == 0)
        fail_msg("%s cannot run here and CI=true allows no skip: %s", m->name, why);
    print_message("skipped: %s\n", why);
    skip();
}

static void contract_close_after_failure_or_skip(void **state)
{
    skip_unavailable(((contract_case *)*state)->m);
    contract_close_after_failure(state);
}

/* A strategy that does not exist on this back end (its backends field) has no verdict
 * there to hold it to: skipped, saying so. Not a CI failure: nothing is left untested
 * that could be tested. */
static void contract_workload_or_skip(void **state)
{
    contract_case *k = *state;

    skip_unavailable(k->m);
    if (!ovs_strategy_runs_on(k->m, k->backend->name)) {
        print_message("skipped: %s is n/a on %s (it runs on %s only)\n", k->m->name,
                      k->backend->name, OVS_STRATEGY_FIELD(k->m, backends, NULL));
        skip();
    }
    contract_workload(state);
}

/* Register what the command line would: the tree's definition files, then the plugins
 * of OVS_CONTRACT_PLUGINS. 0, or -1 after saying why. */
static int register_others(void)
{
    char dir[600], err[700], list[2048];
    const char *plugins = getenv("OVS_CONTRACT_PLUGINS");

    snprintf(dir, sizeof(dir), "%s/strategies", OVS_SOURCE_DIR);
    if (ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    snprintf(list, sizeof(list), "%s", plugins ? plugins : "");
    for (char *save = NULL, *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        if (ovs_plugin_load(p, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const ovs_strategy_methods *const *all;
    const char *seed = getenv("OVS_CONTRACT_SEED");
    size_t n = 0, per = 2 + N_SCENARIOS * N_SHOP_BACKENDS, nt = 0;
    int unsafe = 0;

    if (register_others() != 0)
        return 1;
    all = ovs_strategy_list();
    if (seed != NULL) {
        char *end;
        contract_seed = strtoull(seed, &end, 10);
        if (seed[0] == '\0' || *end != '\0') {
            fprintf(stderr, "OVS_CONTRACT_SEED=%s is not a whole number\n", seed);
            return 2;
        }
    }
    for (n = 0; all[n]; n++)
        unsafe += !all[n]->claims_safe;
    /* OVS_CONTRACT_PART=built-in or =others: the built-in strategies' cases, or those of
     * the strategies from files and plugins (their adapters wait seconds on a library's
     * retries, idle), so that the two halves can run side by side as two tests. */
    const char *part = getenv("OVS_CONTRACT_PART");
    if (part != NULL && strcmp(part, "built-in") != 0 && strcmp(part, "others") != 0) {
        fprintf(stderr, "OVS_CONTRACT_PART=%s: built-in or others\n", part);
        return 2;
    }
    /* Without a strategy that must lose, nothing shows the scenarios are racy at all. */
    if (n == 0 || unsafe == 0) {
        fprintf(stderr, "the registry holds %zu strategies, %d claiming no safety: the"
                " contract needs at least one that must lose\n", n, unsafe);
        return 1;
    }

    contract_case *cases = calloc(n * per, sizeof(*cases));
    struct CMUnitTest *tests = calloc(n * per, sizeof(*tests));
    if (cases == NULL || tests == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        int builtin = strcmp(ovs_strategy_origin(all[i]), "built-in") == 0;
        if (part != NULL && builtin != (strcmp(part, "built-in") == 0))
            continue;
        for (size_t j = 0; j < per; j++) {
            contract_case *k = &cases[nt];
            struct CMUnitTest *t = &tests[nt++];
            k->m = all[i];
            k->seed = contract_seed;
            t->initial_state = k;
            t->name = k->name;
            if (j == 0) {
                snprintf(k->name, sizeof(k->name), "contract/%s/shape", all[i]->name);
                t->test_func = contract_shape;
            } else if (j == 1) {
                snprintf(k->name, sizeof(k->name), "contract/%s/close-after-failure",
                         all[i]->name);
                t->test_func = contract_close_after_failure_or_skip;
            } else {
                /* SQLite keeps the names it always had; a server back end is named. */
                size_t b = (j - 2) / N_SCENARIOS;
                /* A lock defined outside C (an adapter, Lua scripts) never touches the
                 * shop: under it the harness runs the same check and act on a server as
                 * under the built-in locks, which are held to them there. Its own cases
                 * run on SQLite; on a server they would measure the library's retries
                 * again (node-redlock's live-lock costs a lease each time) at the price
                 * of minutes per run. */
                if (b > 0 && all[i]->xLock != NULL &&
                    strncmp(ovs_strategy_origin(all[i]), "file ", 5) == 0) {
                    nt--;
                    continue;
                }
                k->scn = &scenarios[(j - 2) % N_SCENARIOS];
                k->backend = &shop_backends[b];
                snprintf(k->name, sizeof(k->name), "contract/%s/%s%s%s", all[i]->name,
                         k->scn->name, b == 0 ? "" : "@", b == 0 ? "" : shop_backends[b].name);
                t->test_func = contract_workload_or_skip;
                t->setup_func = workload_setup;
                t->teardown_func = workload_teardown;
            }
        }
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    print_message("contract: %zu strategies x %zu scenarios, seed %llu\n", n, N_SCENARIOS,
                  contract_seed);
    /* The function behind cmocka_run_group_tests_name, which needs an array whose size the
     * compiler knows; this one is sized by the registry at run time. */
    int rc = _cmocka_run_group_tests("contract", tests, nt, NULL, NULL);
    free(tests);
    free(cases);
    return rc;
}
