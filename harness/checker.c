/* checker.c - invariants from the shop's SQL state and the recorded intervals. */
#include "checker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"
#include "util.h"

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

void ovs_overlaps(ovs_interval *iv, size_t n, ovs_overlap *out)
{
    heap h = { NULL, 0 };

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    out->max_holders = 1;
    qsort(iv, n, sizeof(*iv), cmp_interval);
    h.v = malloc(n * sizeof(*h.v));
    if (h.v == NULL) {
        /* Without memory, fall back to the quadratic count rather than guess. */
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n && iv[j].start < iv[i].end; j++)
                out->pairs++;
        return;
    }
    /* Sweep in start order; the heap holds intervals still open at the current start.
     * Every one of them overlaps the new interval, so the heap's size is the number of
     * new pairs, and size + 1 the holders at that instant. */
    for (size_t i = 0; i < n; i++) {
        while (h.n > 0 && h.v[0].end <= iv[i].start)
            heap_pop(&h);
        if (h.n > 0) {
            if (out->pairs == 0) {
                out->first_start = iv[i].start;
                out->first_end = h.v[0].end < iv[i].end ? h.v[0].end : iv[i].end;
                out->first_a = h.v[0].client;
                out->first_b = iv[i].client;
            }
            out->pairs += (int64_t)h.n;
            if ((int)h.n + 1 > out->max_holders)
                out->max_holders = (int)h.n + 1;
        }
        heap_push(&h, iv[i]);
    }
    free(h.v);
}

int ovs_ranges_overlap(int a_in, int a_out, int b_in, int b_out)
{
    return a_in < b_out && b_in < a_out;
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

static int check_oversold(sqlite3 *shop, const ovs_scenario *sc, ovs_check *c, char *err,
                          size_t errlen)
{
    int64_t orders = 0, min_stock = 0, oversold = 0, worst = 0, worst_sku = 0;

    for (int sku = 1; sku <= sc->skus; sku++) {
        char sql[128];
        int64_t n, stock;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM orders WHERE sku = %d", sku);
        if (ovs_shop_scalar(shop, sql, &n) != 0)
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
    ovs_seterr(err, errlen, "oversold: %s", sqlite3_errmsg(shop));
    return -1;
}

static int check_double_booked(sqlite3 *shop, ovs_check *c, char *err, size_t errlen)
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
        ovs_seterr(err, errlen, "double_booked: %s", sqlite3_errmsg(shop));
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

static int check_mutex(ovs_trace *const *traces, int ntraces, int64_t t0, ovs_check *c,
                       char *fig, size_t figlen, char *err, size_t errlen)
{
    size_t n = 0, k = 0;
    keyed *all;
    ovs_interval *iv;
    ovs_overlap first = { 0 }, o;
    const char *first_key = NULL;
    int64_t pairs = 0;
    int max_holders = 0, keys_with = 0;

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
        while (j < n && strcmp(all[j].key, all[i].key) == 0)
            iv[m++] = all[j++].iv;
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
        }
        i = j;
    }
    c->observed = pairs;
    c->pass = pairs == 0;
    fig[0] = '\0';
    if (pairs > 0)
        snprintf(fig, figlen,
                 "; %lld overlapping hold%s (up to %d holders), first on %s between t=%.1f ms"
                 " and t=%.1f ms",
                 (long long)pairs, pairs == 1 ? "" : "s", max_holders, first_key, (double)(first.first_start - t0) / 1e6,
                 (double)(first.first_end - t0) / 1e6);
    if (pairs == 0)
        snprintf(c->detail, sizeof(c->detail), "%zu critical sections, none overlapping", n);
    else
        snprintf(c->detail, sizeof(c->detail),
                 "%lld overlapping pairs on %d key(s), up to %d holders; first: clients %d and"
                 " %d both held %s between t=%.1f ms and t=%.1f ms",
                 (long long)pairs, keys_with, max_holders, first.first_a, first.first_b,
                 first_key, (double)(first.first_start - t0) / 1e6,
                 (double)(first.first_end - t0) / 1e6);
    free(all);
    free(iv);
    return 0;
}

/* Requests acknowledged to their buyer (request event ok) that have no row in SQL. */
static int check_lost(sqlite3 *shop, const ovs_scenario *sc, ovs_trace *const *traces,
                      int ntraces, ovs_check *c, char *err, size_t errlen)
{
    size_t nack = 0, nsql = 0, cap = 64, lost = 0;
    int64_t *ack = NULL, *rows = NULL;
    sqlite3_stmt *st = NULL;

    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++)
            nack += traces[t]->ev[i].op == OVS_OP_REQUEST && traces[t]->ev[i].outcome == OVS_OUT_OK;
    ack = malloc((nack ? nack : 1) * sizeof(*ack));
    rows = malloc(cap * sizeof(*rows));
    if (ack == NULL || rows == NULL)
        goto oom;
    nack = 0;
    for (int t = 0; t < ntraces; t++)
        for (size_t i = 0; traces[t] && i < traces[t]->n; i++)
            if (traces[t]->ev[i].op == OVS_OP_REQUEST && traces[t]->ev[i].outcome == OVS_OUT_OK)
                ack[nack++] = traces[t]->ev[i].client;
    if (sqlite3_prepare_v2(shop,
                           sc->workload == OVS_INVENTORY
                               ? "SELECT buyer FROM orders"
                               : "SELECT guest FROM bookings WHERE status = 'confirmed'",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nsql == cap) {
            int64_t *n = realloc(rows, 2 * cap * sizeof(*rows));
            if (n == NULL)
                goto oom;
            rows = n;
            cap *= 2;
        }
        rows[nsql++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    st = NULL;
    qsort(rows, nsql, sizeof(*rows), cmp_i64);
    for (size_t i = 0; i < nack; i++)
        lost += bsearch(&ack[i], rows, nsql, sizeof(*rows), cmp_i64) == NULL;
    snprintf(c->invariant, sizeof(c->invariant), "lost_orders");
    c->observed = (int64_t)lost;
    c->expected = 0;
    c->pass = lost == 0;
    snprintf(c->detail, sizeof(c->detail), "%zu of %zu acknowledged %s missing from SQL", lost,
             nack, sc->workload == OVS_INVENTORY ? "sales" : "bookings");
    free(ack);
    free(rows);
    return 0;
oom:
    ovs_seterr(err, errlen, "out of memory");
    goto fail;
sqlfail:
    ovs_seterr(err, errlen, "lost_orders: %s", sqlite3_errmsg(shop));
fail:
    sqlite3_finalize(st);
    free(ack);
    free(rows);
    return -1;
}

/* Redis stock against SQL stock after the queue drained. Requests with unknown outcome
 * may have decremented Redis without ever reaching SQL: a gap within that bound is not
 * counted against the strategy. */
static int check_divergence(sqlite3 *shop, const ovs_check_input *in, ovs_check *c,
                            char *err, size_t errlen)
{
    int64_t diff = 0, first_redis = 0, first_sql = 0;

    for (int sku = 1; sku <= in->n_redis_stock; sku++) {
        int64_t stock;
        if (ovs_shop_stock(shop, sku, &stock) != 0) {
            ovs_seterr(err, errlen, "divergence: %s", sqlite3_errmsg(shop));
            return -1;
        }
        int64_t d = in->redis_stock[sku - 1] - stock;
        diff += d < 0 ? -d : d;
        if (sku == 1) {
            first_redis = in->redis_stock[0];
            first_sql = stock;
        }
    }
    snprintf(c->invariant, sizeof(c->invariant), "divergence");
    c->observed = diff;
    c->expected = 0;
    c->pass = diff <= in->unknown;
    snprintf(c->detail, sizeof(c->detail),
             "Redis and SQL stock differ by %lld unit(s) (sku 1: Redis %lld, SQL %lld)%s",
             (long long)diff, (long long)first_redis, (long long)first_sql,
             diff > 0 && c->pass ? "; within the requests of unknown outcome" : "");
    return 0;
}

int ovs_check_run(sqlite3 *shop, const ovs_scenario *sc, ovs_trace *const *traces,
                  int ntraces, int64_t t0, const ovs_check_input *in, ovs_check *checks,
                  char *figure, size_t figurelen, char *err, size_t errlen)
{
    static const ovs_check_input none_in;
    int n = 0;
    int64_t sold = 0;
    const ovs_check *primary;

    if (sc->workload == OVS_INVENTORY) {
        if (check_oversold(shop, sc, &checks[n++], err, errlen) != 0)
            return -1;
        if (ovs_shop_scalar(shop, "SELECT count(*) FROM orders", &sold) != 0) {
            ovs_seterr(err, errlen, "orders: %s", sqlite3_errmsg(shop));
            return -1;
        }
    } else {
        if (check_double_booked(shop, &checks[n++], err, errlen) != 0)
            return -1;
        if (ovs_shop_scalar(shop, "SELECT count(*) FROM bookings WHERE status='confirmed'",
                            &sold) != 0) {
            ovs_seterr(err, errlen, "bookings: %s", sqlite3_errmsg(shop));
            return -1;
        }
    }
    if (in == NULL)
        in = &none_in;
    char mxfig[160];
    int mx_at = n;
    if (check_mutex(traces, ntraces, t0, &checks[n++], mxfig, sizeof(mxfig), err, errlen) != 0)
        return -1;
    if (in->fenced && !checks[mx_at].pass) {
        /* Two holders at once, but SQL took only the newest token's writes. */
        checks[mx_at].pass = 1;
        size_t l = strlen(checks[mx_at].detail);
        snprintf(checks[mx_at].detail + l, sizeof(checks[mx_at].detail) - l,
                 "; tolerated: writes are fenced");
        mxfig[0] = '\0';
    }
    int lost_at = n;
    if (check_lost(shop, sc, traces, ntraces, &checks[n++], err, errlen) != 0)
        return -1;
    int div_at = -1;
    if (in->n_redis_stock > 0) {
        div_at = n;
        if (check_divergence(shop, in, &checks[n++], err, errlen) != 0)
            return -1;
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
    if (div_at >= 0 && !checks[div_at].pass && used < figurelen)
        snprintf(figure + used, figurelen - used, "; Redis and SQL stock differ by %lld",
                 (long long)checks[div_at].observed);
    return n;
}
