/* checker.c - invariants from the shop's SQL state and the recorded intervals. */
#include "engine/checker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/shop.h"
#include "core/util.h"

/* ---- interval maths --------------------------------------------------------------- */

static int cmp_interval(const void *a, const void *b)
{
    const ovs_interval *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* A binary min-heap of open intervals keyed by end time. */
typedef struct heap {
    ovs_interval *v;
    size_t n;
} heap;

static void heap_push(heap *h, ovs_interval x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].end <= x.end)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
}

static void heap_pop(heap *h)
{
    ovs_interval last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].end < h->v[c].end)
            c++;
        if (last.end <= h->v[c].end)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
}

/* Pairs among n non-empty intervals sorted by start, whatever their clients: the sweep's
 * count. When first is not NULL, also the first pair of different clients (by the later
 * start) into first, and the most sections open at once into first->max_holders. h has
 * room for n. */
static int64_t sweep(const ovs_interval *iv, size_t n, heap *h, ovs_overlap *first)
{
    int64_t pairs = 0;
    int found = 0;

    h->n = 0;
    /* In start order the heap holds the intervals still open at the current start: every
     * one of them overlaps the new interval, so the heap's size is the number of new
     * pairs, and size + 1 the sections open at that instant. */
    for (size_t i = 0; i < n; i++) {
        while (h->n > 0 && h->v[0].end <= iv[i].start)
            heap_pop(h);
        pairs += (int64_t)h->n;
        if (first != NULL && h->n > 0) {
            if ((int)h->n + 1 > first->max_holders)
                first->max_holders = (int)h->n + 1;
            /* The open sections of other clients: scanned only until the first pair is
             * found, and the heap never holds more than the sections open at once. */
            for (size_t k = 0; !found && k < h->n; k++)
                if (ovs_holds_overlap(h->v[k].start, h->v[k].end, h->v[k].client,
                                      iv[i].start, iv[i].end, iv[i].client)) {
                    found = 1;
                    first->first_start = iv[i].start;
                    first->first_end = h->v[k].end < iv[i].end ? h->v[k].end : iv[i].end;
                    first->first_a = h->v[k].client;
                    first->first_b = iv[i].client;
                }
        }
        heap_push(h, iv[i]);
    }
    return pairs;
}

static int cmp_client_start(const void *a, const void *b)
{
    const ovs_interval *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    return cmp_interval(a, b);
}

void ovs_overlaps(ovs_interval *iv, size_t n, ovs_overlap *out)
{
    heap h = { NULL, 0 };
    size_t m = 0;

    memset(out, 0, sizeof(*out));
    /* Empty sections hold nothing: drop them first. */
    for (size_t i = 0; i < n; i++)
        if (iv[i].start < iv[i].end)
            iv[m++] = iv[i];
    if (m == 0)
        return;
    out->max_holders = 1;
    h.v = malloc(m * sizeof(*h.v));
    if (h.v == NULL) {
        /* Without memory, fall back to the quadratic count rather than guess. */
        qsort(iv, m, sizeof(*iv), cmp_interval);
        for (size_t i = 0; i < m; i++)
            for (size_t j = i + 1; j < m && iv[j].start < iv[i].end; j++)
                out->pairs += ovs_holds_overlap(iv[i].start, iv[i].end, iv[i].client,
                                                iv[j].start, iv[j].end, iv[j].client);
        return;
    }
    /* A client never overlaps itself: count the pairs of all sections, then take off the
     * pairs within each client's own, counted the same way. */
    int64_t same = 0;
    qsort(iv, m, sizeof(*iv), cmp_client_start);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && iv[j].client == iv[i].client)
            j++;
        same += sweep(iv + i, j - i, &h, NULL);
        i = j;
    }
    qsort(iv, m, sizeof(*iv), cmp_interval);
    out->pairs = sweep(iv, m, &h, out) - same;
    if (out->pairs == 0)
        out->max_holders = 1;
    free(h.v);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t rank(const int64_t *v, size_t n, double p)
{
    /* Nearest rank: the smallest value with at least p of the sample at or below it. */
    size_t r = (size_t)(p * (double)n + 0.999999999);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return v[r - 1];
}

void ovs_latency_of(int64_t *v, size_t n, ovs_latency *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_i64);
    out->n = (int64_t)n;
    out->p50 = rank(v, n, 0.50);
    out->p99 = rank(v, n, 0.99);
    out->max = v[n - 1];
}

/* ---- invariants over a run ------------------------------------------------------- */

static int check_oversold(ovs_shop *shop, const ovs_scenario *sc, ovs_check *c, char *err,
                          size_t errlen)
{
    int64_t orders = 0, min_stock = 0, oversold = 0, worst = 0, worst_sku = 0;

    for (int sku = 1; sku <= sc->skus; sku++) {
        int64_t n, stock;
        if (ovs_shop_orders(shop, sku, &n) != 0)
            goto sqlfail;
        if (ovs_shop_stock(shop, sku, &stock) != 0)
            goto sqlfail;
        orders += n;
        if (sku == 1 || stock < min_stock)
            min_stock = stock;
        /* Units sold beyond the initial stock, or stock below zero: the larger of the
         * two, since lost orders can hide one of them. */
        int64_t over = n - sc->stock;
        if (-stock > over)
            over = -stock;
        if (over > 0) {
            oversold += over;
            if (over > worst) {
                worst = over;
                worst_sku = sku;
            }
        }
    }
    snprintf(c->invariant, sizeof(c->invariant), "oversold");
    c->observed = oversold;
    c->expected = 0;
    c->pass = oversold == 0;
    if (oversold > 0)
        snprintf(c->detail, sizeof(c->detail),
                 "oversold %lld: %lld orders for %lld units; worst sku %lld, lowest stock %lld",
                 (long long)oversold, (long long)orders, (long long)sc->stock * sc->skus,
                 (long long)worst_sku, (long long)min_stock);
    else
        snprintf(c->detail, sizeof(c->detail), "%lld orders for %lld units; lowest stock %lld",
                 (long long)orders, (long long)sc->stock * sc->skus, (long long)min_stock);
    return 0;
sqlfail:
    ovs_seterr(err, errlen, "oversold: %s", ovs_shop_errmsg(shop));
    return -1;
}

static int check_double_booked(ovs_shop *shop, ovs_check *c, char *err, size_t errlen)
{
    int64_t pairs, confirmed;

    if (ovs_shop_scalar(shop,
                        "SELECT count(*) FROM bookings a JOIN bookings b"
                        " ON a.id < b.id AND a.hotel = b.hotel AND a.room = b.room"
                        " AND a.status = 'confirmed' AND b.status = 'confirmed'"
                        " AND a.check_in < b.check_out AND b.check_in < a.check_out",
                        &pairs) != 0 ||
        ovs_shop_scalar(shop, "SELECT count(*) FROM bookings WHERE status = 'confirmed'",
                        &confirmed) != 0) {
        ovs_seterr(err, errlen, "double_booked: %s", ovs_shop_errmsg(shop));
        return -1;
    }
    snprintf(c->invariant, sizeof(c->invariant), "double_booked");
    c->observed = pairs;
    c->expected = 0;
    c->pass = pairs == 0;
    snprintf(c->detail, sizeof(c->detail),
             "%lld overlapping pairs among %lld confirmed bookings", (long long)pairs,
             (long long)confirmed);
    return 0;
}

/* The buyers (guests) that have an applied write in SQL, sorted: an order row, or a
 * confirmed booking. What lost orders and fenced tolerance are judged from. */
typedef struct writers {
    int64_t *v;
    size_t n, cap;
    int oom;       /* a row could not be kept */
} writers;

/* One row of the writers' query into the list; stops the rows (with w->oom set) when out
 * of memory. */
static int writers_add(void *ctx, const ovs_sqlval *col, int ncol)
{
    writers *w = ctx;

    if (w->n == w->cap) {
        int64_t *n = realloc(w->v, 2 * w->cap * sizeof(*w->v));
        if (n == NULL) {
            w->oom = 1;
            return 1;
        }
        w->v = n;
        w->cap *= 2;
    }
    w->v[w->n++] = ncol > 0 && col[0].type == OVS_SQL_INT ? col[0].i : -1;
    return 0;
}

static int writers_load(ovs_shop *shop, const ovs_scenario *sc, writers *w, char *err,
                        size_t errlen)
{
    w->n = 0;
    w->cap = 64;
    w->oom = 0;
    w->v = malloc(w->cap * sizeof(*w->v));
    if (w->v == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    /* A read that stopped early would hide writers: lost orders and fenced tolerance
     * would be judged from part of the rows. */
    if (ovs_shop_rows(shop,
                      sc->workload == OVS_INVENTORY
                          ? "SELECT buyer FROM orders"
                          : "SELECT guest FROM bookings WHERE status = 'confirmed'",
                      writers_add, w) != 0) {
        ovs_seterr(err, errlen, "rows: %s", ovs_shop_errmsg(shop));
        return -1;
    }
    if (w->oom) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    qsort(w->v, w->n, sizeof(*w->v), cmp_i64);
    return 0;
}

static int wrote(const writers *w, int64_t buyer)
{
    return bsearch(&buyer, w->v, w->n, sizeof(*w->v), cmp_i64) != NULL;
}

typedef struct keyed {
    const char *key;
    ovs_interval iv;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int k = strcmp(x->key, y->key);
    if (k)
        return k;
    return (x->iv.start > y->iv.start) - (x->iv.start < y->iv.start);
}

/* Pairs the fencing cannot excuse among one key's m sections sorted by start:
 * overlapping holders that both have an applied write in SQL, added to *bad; the first
 * such pair of the run goes into *a, *b. O(m + pairs): sorted by start, every later
 * section that starts before one ends overlaps it (unless empty or its own client's). */
static void unfenced_pairs(const ovs_interval *iv, size_t m, const writers *w, int64_t *bad,
                           int *a, int *b)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m && iv[j].start < iv[i].end; j++)
            if (ovs_holds_overlap(iv[i].start, iv[i].end, iv[i].client, iv[j].start,
                                  iv[j].end, iv[j].client) &&
                wrote(w, iv[i].client) && wrote(w, iv[j].client) && (*bad)++ == 0) {
                *a = iv[i].client;
                *b = iv[j].client;
            }
}

static int check_mutex(ovs_trace *const *traces, int ntraces, int64_t t0, int fenced,
                       const writers *w, ovs_check *c, char *fig, size_t figlen, char *err,
                       size_t errlen)
{
    size_t n = 0, k = 0;
    keyed *all;
    ovs_interval *iv;
    ovs_overlap first = { 0 }, o;
    const char *first_key = NULL;
    int64_t pairs = 0, bad = 0;
    int max_holders = 0, keys_with = 0, bad_a = -1, bad_b = -1;

    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++)
            n += traces[t]->ev[i].op == OVS_OP_CRITICAL;
    snprintf(c->invariant, sizeof(c->invariant), "mutex_overlaps");
    c->expected = 0;
    fig[0] = '\0';
    if (n == 0) {
        c->observed = 0;
        c->pass = 1;
        snprintf(c->detail, sizeof(c->detail), "no critical sections recorded");
        return 0;
    }
    all = malloc(n * sizeof(*all));
    iv = malloc(n * sizeof(*iv));
    if (all == NULL || iv == NULL) {
        free(all);
        free(iv);
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++) {
            const ovs_event *e = &traces[t]->ev[i];
            if (e->op != OVS_OP_CRITICAL)
                continue;
            all[k].key = e->key;
            all[k].iv = (ovs_interval){ e->start_ns, e->end_ns, e->client };
            k++;
        }
    qsort(all, n, sizeof(*all), cmp_keyed);
    for (size_t i = 0; i < n;) {
        size_t j = i, m = 0;
        /* Empty sections hold nothing (ovs_holds_overlap): left out here, so that iv is
         * exactly what ovs_overlaps sorts. */
        for (; j < n && strcmp(all[j].key, all[i].key) == 0; j++)
            if (all[j].iv.start < all[j].iv.end)
                iv[m++] = all[j].iv;
        ovs_overlaps(iv, m, &o);
        if (o.pairs > 0) {
            keys_with++;
            pairs += o.pairs;
            if (o.max_holders > max_holders)
                max_holders = o.max_holders;
            if (first_key == NULL || o.first_start < first.first_start) {
                first = o;
                first_key = all[i].key;
            }
            /* ovs_overlaps left iv sorted by start. */
            if (fenced)
                unfenced_pairs(iv, m, w, &bad, &bad_a, &bad_b);
        }
        i = j;
    }
    c->observed = pairs;
    c->pass = pairs == 0 || (fenced && bad == 0);
    if (pairs > 0 && !c->pass)
        snprintf(fig, figlen,
                 "; %lld overlapping hold%s (up to %d holders), first on %s between t=%.1f ms"
                 " and t=%.1f ms",
                 (long long)pairs, pairs == 1 ? "" : "s", max_holders, first_key,
                 (double)(first.first_start - t0) / 1e6, (double)(first.first_end - t0) / 1e6);
    if (pairs == 0) {
        snprintf(c->detail, sizeof(c->detail), "%zu critical sections, none overlapping", n);
    } else {
        int used = snprintf(c->detail, sizeof(c->detail),
                            "%lld overlapping pairs on %d key(s), up to %d holders; first:"
                            " clients %d and %d both held %s between t=%.1f ms and t=%.1f ms",
                            (long long)pairs, keys_with, max_holders, first.first_a,
                            first.first_b, first_key, (double)(first.first_start - t0) / 1e6,
                            (double)(first.first_end - t0) / 1e6);
        size_t u = used < 0 ? 0 : (size_t)used < sizeof(c->detail) ? (size_t)used
                                                                   : sizeof(c->detail) - 1;
        if (fenced && bad == 0)
            snprintf(c->detail + u, sizeof(c->detail) - u,
                     "; tolerated: in every overlapping pair at most one holder's write"
                     " reached SQL");
        else if (fenced)
            snprintf(c->detail + u, sizeof(c->detail) - u,
                     "; not tolerated: %lld pair(s) with both writes in SQL (clients %d and"
                     " %d)",
                     (long long)bad, bad_a, bad_b);
    }
    free(all);
    free(iv);
    return 0;
}

/* Requests acknowledged to their buyer (request event ok) that have no row in SQL. */
static int check_lost(const ovs_scenario *sc, ovs_trace *const *traces, int ntraces,
                      const writers *w, ovs_check *c)
{
    size_t nack = 0, lost = 0;

    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++) {
            const ovs_event *e = &traces[t]->ev[i];
            if (e->op == OVS_OP_REQUEST && e->outcome == OVS_OUT_OK) {
                nack++;
                lost += !wrote(w, e->client);
            }
        }
    snprintf(c->invariant, sizeof(c->invariant), "lost_orders");
    c->observed = (int64_t)lost;
    c->expected = 0;
    c->pass = lost == 0;
    snprintf(c->detail, sizeof(c->detail), "%zu of %zu acknowledged %s missing from SQL", lost,
             nack, sc->workload == OVS_INVENTORY ? "sales" : "bookings");
    return 0;
}

/* Orders applied more than once: rows of one stream entry beyond its first. An order
 * reaches SQL once per sale, so a second row of the same entry is a redelivery applied
 * again - a consumer that died before XACK, its entry claimed and applied by the next
 * (engine/writeback_stream.c). Orders of the memory queue or of SQL strategies carry no
 * entry and count 0. Counts only, the same SQL in every dialect: count() is an integer
 * everywhere, where PostgreSQL's SUM of one is a numeric. */
static int check_duplicates(ovs_shop *shop, ovs_check *c, char *err, size_t errlen)
{
    int64_t extra = 0, entries = 0;

    if (ovs_shop_scalar(shop,
                        "SELECT count(entry) - count(DISTINCT entry) FROM orders", &extra) != 0 ||
        ovs_shop_scalar(shop, "SELECT count(DISTINCT entry) FROM orders", &entries) != 0) {
        ovs_seterr(err, errlen, "duplicate orders: %s", ovs_shop_errmsg(shop));
        return -1;
    }
    snprintf(c->invariant, sizeof(c->invariant), "duplicate_orders");
    c->observed = extra;
    c->expected = 0;
    c->pass = extra == 0;
    snprintf(c->detail, sizeof(c->detail),
             "%lld order row(s) repeat one of %lld queue entries", (long long)extra,
             (long long)entries);
    return 0;
}

/* Redis stock against SQL stock after the queue drained, on every SKU. Requests with
 * unknown outcome may have decremented Redis without ever reaching SQL: a gap of Redis
 * below SQL within that bound is not counted against the strategy. Redis above SQL is
 * never theirs: an order reaches SQL only after Redis took its unit, so that gap is
 * decrements Redis lost, units it will sell again. */
static int check_divergence(ovs_shop *shop, const ovs_scenario *sc, const ovs_check_input *in,
                            ovs_check *c, char *err, size_t errlen)
{
    int64_t diff = 0, above = 0, lost = 0, worst = 0, worst_redis = 0, worst_sql = 0;
    int worst_sku = 1, skus = 0, missing = 0;

    snprintf(c->invariant, sizeof(c->invariant), "divergence");
    c->expected = 0;
    if (in->stock == NULL) {
        c->observed = 0;
        c->pass = 0;
        c->skipped = 1;
        snprintf(c->detail, sizeof(c->detail), "skipped: Redis stock could not be read: %.140s",
                 in->unread ? in->unread : "no reason given");
        return 0;
    }
    for (int sku = 1; sku <= sc->skus; sku++) {
        int64_t stock;
        int absent = in->absent != NULL && in->absent[sku - 1];
        if (ovs_shop_stock(shop, sku, &stock) != 0) {
            ovs_seterr(err, errlen, "divergence: %s", ovs_shop_errmsg(shop));
            return -1;
        }
        int64_t d = in->stock[sku - 1] - stock;
        above += d > 0 ? d : 0;
        d = d < 0 ? -d : d;
        diff += d;
        missing += absent;
        lost += absent ? d : 0;
        skus++;
        if (sku == 1 || d > worst) {
            worst = d;
            worst_sku = sku;
            worst_redis = in->stock[sku - 1];
            worst_sql = stock;
        }
    }
    c->observed = diff;
    /* A request of unknown outcome may have taken a unit from Redis whose order never
     * reached SQL, so Redis below SQL by at most that many is explained - but only on a
     * key that is there: none of them deletes one. */
    c->pass = above == 0 && lost == 0 && diff <= in->unknown;
    int used = snprintf(c->detail, sizeof(c->detail),
                        "Redis and SQL stock differ by %lld unit(s) over %d SKU(s) (sku %d:"
                        " Redis %lld, SQL %lld)",
                        (long long)diff, skus, worst_sku, (long long)worst_redis,
                        (long long)worst_sql);
    size_t u = used < 0 ? 0 : (size_t)used < sizeof(c->detail) ? (size_t)used
                                                               : sizeof(c->detail) - 1;
    if (missing > 0)
        u += (size_t)snprintf(c->detail + u, sizeof(c->detail) - u,
                              "; %d stock key(s) missing in Redis, counted as 0", missing);
    if (diff > 0 && c->pass && u < sizeof(c->detail))
        snprintf(c->detail + u, sizeof(c->detail) - u,
                 "; within the %lld request(s) of unknown outcome", (long long)in->unknown);
    return 0;
}

/* Units neither on sale nor sold nor held, once every hold could have expired: initial
 * stock - stock on sale (Redis, or SQL for holds kept there) - orders in SQL - holds still
 * open and live. A hold still open past
 * its expiry is counted as leaked: only the strategy gives its unit back, and it had its
 * chance. A confirm whose answer was lost may have sold in Redis without an order reaching
 * SQL, so leaks within the requests of unknown outcome are not counted against it. More
 * units accounted for than exist is an oversell, the oversold check's to report. */
static int check_leaked(ovs_shop *shop, const ovs_scenario *sc, const ovs_check_input *in,
                        ovs_check *c, char *err, size_t errlen)
{
    int64_t initial = (int64_t)sc->stock * sc->skus, on_sale = 0, sold = 0, held, leaked;

    snprintf(c->invariant, sizeof(c->invariant), "leaked_stock");
    c->expected = 0;
    if (in->hold == NULL || (!in->hold->stock_in_sql && in->stock == NULL)) {
        c->skipped = 1;
        snprintf(c->detail, sizeof(c->detail), "skipped: %.170s",
                 in->hold == NULL ? (in->hold_unread ? in->hold_unread : "holds not read")
                                  : "Redis stock could not be read");
        return 0;
    }
    if (ovs_shop_scalar(shop, "SELECT count(*) FROM orders", &sold) != 0 ||
        (in->hold->stock_in_sql &&
         ovs_shop_scalar(shop, "SELECT COALESCE(sum(stock), 0) FROM skus", &on_sale) != 0)) {
        ovs_seterr(err, errlen, "leaked_stock: %s", ovs_shop_errmsg(shop));
        return -1;
    }
    for (int sku = 1; !in->hold->stock_in_sql && sku <= sc->skus; sku++)
        on_sale += in->stock[sku - 1];
    held = in->hold->open_live;
    leaked = initial - on_sale - sold - held;
    c->observed = leaked > 0 ? leaked : 0;
    c->pass = c->observed <= in->unknown;
    int used = snprintf(c->detail, sizeof(c->detail),
                        "%lld unit(s): %lld on sale, %lld sold, %lld held; %lld leaked",
                        (long long)initial, (long long)on_sale, (long long)sold,
                        (long long)held, (long long)c->observed);
    size_t u = used < 0 ? 0 : (size_t)used < sizeof(c->detail) ? (size_t)used
                                                               : sizeof(c->detail) - 1;
    if (in->hold->open_expired > 0)
        u += (size_t)snprintf(c->detail + u, sizeof(c->detail) - u,
                              "; %lld hold(s) open past expiry, never given back",
                              (long long)in->hold->open_expired);
    if (leaked < 0 && u < sizeof(c->detail))
        snprintf(c->detail + u, sizeof(c->detail) - u,
                 "; %lld more than exist (oversold)", (long long)-leaked);
    else if (c->observed > 0 && c->pass && u < sizeof(c->detail))
        snprintf(c->detail + u, sizeof(c->detail) - u,
                 "; within the %lld request(s) of unknown outcome", (long long)in->unknown);
    return 0;
}

/* Confirms that succeeded at or after their hold's expiry, by the hold records: the
 * expiry and the confirm are both the server's clock, each written by the step it
 * describes. Another buyer may already have had the unit. */
static void check_sold_after_expiry(const ovs_check_input *in, ovs_check *c)
{
    const ovs_hold_facts *f = in->hold;

    snprintf(c->invariant, sizeof(c->invariant), "sold_after_expiry");
    c->expected = 0;
    if (f == NULL) {
        c->skipped = 1;
        snprintf(c->detail, sizeof(c->detail), "skipped: %.170s",
                 in->hold_unread ? in->hold_unread : "holds not read");
        return;
    }
    c->observed = f->late;
    c->pass = f->late == 0;
    if (f->late > 0)
        snprintf(c->detail, sizeof(c->detail),
                 "%lld of %lld confirm(s) after the hold expired; worst: buyer %lld, %lld ms"
                 " after its expiry",
                 (long long)f->late, (long long)f->confirmed, (long long)f->worst_late_buyer,
                 (long long)f->worst_late_ms);
    else
        snprintf(c->detail, sizeof(c->detail),
                 "%lld confirm(s) among %lld hold(s), none after its hold expired",
                 (long long)f->confirmed, (long long)f->records);
}

void ovs_stale_answers(ovs_trace *const *traces, int ntraces, ovs_stale *out)
{
    memset(out, 0, sizeof(*out));
    out->first_client = -1;
    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++) {
            const ovs_event *e = &traces[t]->ev[i];
            ovs_answer a;
            if (e->op != OVS_OP_ANSWER || e->outcome != OVS_OUT_OK)
                continue;
            if (ovs_answer_parse(e->detail, &a) != 0) {
                out->unreadable++;
                continue;
            }
            out->answers++;
            if (!ovs_answer_stale(&a)) {
                /* The runner records the request after its answer, in the same trace. */
                const ovs_event *q = a.answer > 0
                                         ? ovs_trace_next(traces[t], i + 1, OVS_OP_REQUEST, e->client)
                                         : NULL;
                out->outdated += q != NULL && q->outcome == OVS_OUT_FAIL &&
                                 (strcmp(q->detail, OVS_SAID_SOLD_OUT) == 0 ||
                                  strcmp(q->detail, OVS_SAID_TAKEN) == 0);
                continue;
            }
            out->lost_sale += ovs_answer_lost_sale(&a);
            out->dead_end += ovs_answer_dead_end(&a);
            if (out->stale++ == 0 || e->start_ns < out->first_at) {
                out->first_at = e->start_ns;
                out->first_client = e->client;
                out->first = a;
            }
        }
}

/* The stale answers figure: how many screens contradicted SQL when they were shown. A
 * figure beside the verdict (ovs_check_is_figure): pass says only that there were none.
 * An answer event that does not read as one is a broken record, and the check is then
 * skipped (no verdict) rather than counted from part of the answers. */
static void check_stale(const ovs_scenario *sc, ovs_trace *const *traces, int ntraces,
                        int64_t t0, ovs_check *c, char *fig, size_t figlen)
{
    ovs_stale st;
    int inv = sc->workload == OVS_INVENTORY;

    ovs_stale_answers(traces, ntraces, &st);
    snprintf(c->invariant, sizeof(c->invariant), "%s", OVS_STALE_ANSWERS);
    c->observed = st.stale;
    c->expected = 0;
    c->pass = st.stale == 0;
    fig[0] = '\0';
    if (st.unreadable > 0) {
        c->pass = 0;
        c->skipped = 1;
        snprintf(c->detail, sizeof(c->detail),
                 "skipped: %lld answer event(s) without the truth around them",
                 (long long)st.unreadable);
        return;
    }
    if (st.stale > 0)
        snprintf(fig, figlen, "; %lld of %lld answers stale (a wrong screen, not an oversell)",
                 (long long)st.stale, (long long)st.answers);
    else if (st.outdated > 0)
        snprintf(fig, figlen, "; 0 of %lld answers stale, %lld out of date when refused",
                 (long long)st.answers, (long long)st.outdated);
    else
        snprintf(fig, figlen, "; 0 of %lld answers stale", (long long)st.answers);
    if (st.stale == 0) {
        snprintf(c->detail, sizeof(c->detail),
                 "0 of %lld %s answers contradicted SQL when given; %lld of them right then"
                 " and out of date when the %s was refused",
                 (long long)st.answers, inv ? "stock" : "availability", (long long)st.outdated,
                 inv ? "purchase" : "booking");
        return;
    }
    snprintf(c->detail, sizeof(c->detail),
             "%lld of %lld %s answers contradicted SQL when given (%lld said %s with %s left,"
             " %lld sent to a %s); first at t=%.1f ms to client %d: %lld, SQL %lld..%lld",
             (long long)st.stale, (long long)st.answers, inv ? "stock" : "availability",
             (long long)st.lost_sale, inv ? "sold out" : "taken", inv ? "stock" : "the room",
             (long long)st.dead_end, inv ? "sold-out checkout" : "taken room",
             (double)(st.first_at - t0) / 1e6, st.first_client, (long long)st.first.answer,
             (long long)st.first.before, (long long)st.first.after);
}

int ovs_check_run(ovs_shop *shop, const ovs_scenario *sc, ovs_trace *const *traces,
                  int ntraces, int64_t t0, const ovs_check_input *in, ovs_check *checks,
                  char *figure, size_t figurelen, char *err, size_t errlen)
{
    static const ovs_check_input none_in;
    int n = 0, rc = -1;
    int64_t sold = 0;
    const ovs_check *primary;
    writers w = { NULL, 0, 0, 0 };

    memset(checks, 0, OVS_MAX_CHECKS * sizeof(*checks));
    if (in == NULL)
        in = &none_in;
    if (sc->workload == OVS_INVENTORY) {
        if (check_oversold(shop, sc, &checks[n++], err, errlen) != 0)
            goto out;
        if (ovs_shop_scalar(shop, "SELECT count(*) FROM orders", &sold) != 0) {
            ovs_seterr(err, errlen, "orders: %s", ovs_shop_errmsg(shop));
            goto out;
        }
    } else {
        if (check_double_booked(shop, &checks[n++], err, errlen) != 0)
            goto out;
        if (ovs_shop_scalar(shop, "SELECT count(*) FROM bookings WHERE status='confirmed'",
                            &sold) != 0) {
            ovs_seterr(err, errlen, "bookings: %s", ovs_shop_errmsg(shop));
            goto out;
        }
    }
    if (writers_load(shop, sc, &w, err, errlen) != 0)
        goto out;
    char mxfig[160];
    int mx_at = n;
    if (check_mutex(traces, ntraces, t0, in->fenced, &w, &checks[n++], mxfig, sizeof(mxfig),
                    err, errlen) != 0)
        goto out;
    int lost_at = n;
    check_lost(sc, traces, ntraces, &w, &checks[n++]);
    int div_at = -1;
    if (in->redis_stock && sc->workload == OVS_INVENTORY) {
        div_at = n;
        if (check_divergence(shop, sc, in, &checks[n++], err, errlen) != 0)
            goto out;
    }

    int leak_at = -1, late_at = -1;
    if (in->holds && sc->workload == OVS_INVENTORY) {
        leak_at = n;
        if (check_leaked(shop, sc, in, &checks[n++], err, errlen) != 0)
            goto out;
    }
    if (in->holds) {
        late_at = n;
        check_sold_after_expiry(in, &checks[n++]);
    }
    char stfig[120] = "";
    if (in->asks)
        check_stale(sc, traces, ntraces, t0, &checks[n++], stfig, sizeof(stfig));
    int dup_at = -1;
    if (sc->workload == OVS_INVENTORY) {
        dup_at = n;
        if (check_duplicates(shop, &checks[n++], err, errlen) != 0)
            goto out;
    }

    /* The headline: the shop-level figure first, then the mutual-exclusion one. */
    primary = &checks[0];
    const ovs_check *mx = &checks[mx_at];
    const char *what = sc->workload == OVS_INVENTORY ? "oversold" : "double-booked";
    const char *done = sc->workload == OVS_INVENTORY ? "sold" : "booked";
    size_t used = 0;
    if (primary->pass)
        used = (size_t)snprintf(figure, figurelen, "0 %s, %lld %s", what, (long long)sold, done);
    else if (sc->workload == OVS_INVENTORY)
        used = (size_t)snprintf(figure, figurelen, "oversold %lld (%lld sold of %lld)",
                                (long long)primary->observed, (long long)sold,
                                (long long)sc->stock * sc->skus);
    else
        used = (size_t)snprintf(figure, figurelen, "double-booked %lld pair%s (%lld booked)",
                                (long long)primary->observed,
                                primary->observed == 1 ? "" : "s", (long long)sold);
    if (!mx->pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used, "%s", mxfig);
    if (!checks[lost_at].pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used, "; %lld acknowledged but lost",
                                 (long long)checks[lost_at].observed);
    if (dup_at >= 0 && !checks[dup_at].pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used, "; %lld applied twice",
                                 (long long)checks[dup_at].observed);
    if (div_at >= 0 && checks[div_at].skipped && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used, "; divergence not checked");
    else if (div_at >= 0 && !checks[div_at].pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used,
                                 "; Redis and SQL stock differ by %lld",
                                 (long long)checks[div_at].observed);
    /* A leaked unit was never sold to anyone: a lost sale, said apart from oversold. */
    if (leak_at >= 0 && !checks[leak_at].skipped && !checks[leak_at].pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used,
                                 "; %lld unit(s) leaked (lost sales, not oversold)",
                                 (long long)checks[leak_at].observed);
    if (late_at >= 0 && !checks[late_at].skipped && !checks[late_at].pass && used < figurelen)
        used += (size_t)snprintf(figure + used, figurelen - used,
                                 "; %lld sold after the hold expired",
                                 (long long)checks[late_at].observed);
    if (stfig[0] != '\0' && used < figurelen)
        snprintf(figure + used, figurelen - used, "%s", stfig);
    rc = n;
out:
    free(w.v);
    return rc;
}
