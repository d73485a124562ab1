/* liveness.c - lost sales, unavailability and retries per success (engine/liveness.h). */
#include "engine/liveness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/answer.h"
#include "core/util.h"
#include "engine/shop.h"

int ovs_liveness_turned_away(const ovs_event *e)
{
    static const char *const words[] = { OVS_SAID_SOLD_OUT,      OVS_SAID_TAKEN,
                                         OVS_SAID_LEFT_SOLD_OUT, OVS_SAID_LEFT_TAKEN,
                                         OVS_SAID_STALE,         OVS_SAID_BUSY };

    if (e->op != OVS_OP_REQUEST || e->outcome != OVS_OUT_FAIL)
        return 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(e->detail, words[i]) == 0)
            return 1;
    return 0;
}

/* A request event of a buyer the scenario has: events of anyone else (a harness worker,
 * a stray index) are nobody's request. */
static int buyer_event(const ovs_scenario *sc, const ovs_event *e)
{
    return e->client >= 0 && e->client < ovs_scenario_requests(sc);
}

/* Inventory: per SKU, min(buyers turned away, units left in SQL), summed. */
static int lost_inventory(ovs_shop *shop, const ovs_scenario *sc, const ovs_run_result *res,
                          int64_t *lost, char *err, size_t errlen)
{
    int64_t *away = calloc((size_t)sc->skus + 1, sizeof(*away));

    if (away == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int t = 0; t < res->ntraces; t++)
        for (size_t i = 0; res->traces[t] && i < res->traces[t]->n; i++) {
            const ovs_event *e = &res->traces[t]->ev[i];
            if (!ovs_liveness_turned_away(e) || !buyer_event(sc, e))
                continue;
            int sku = ovs_scenario_request_of(sc, e->client).sku;
            if (sku >= 1 && sku <= sc->skus)
                away[sku]++;
        }
    *lost = 0;
    for (int sku = 1; sku <= sc->skus; sku++) {
        int64_t left;
        if (away[sku] == 0)
            continue;
        if (ovs_shop_stock(shop, sku, &left) != 0) {
            ovs_seterr(err, errlen, "lost sales: %s", ovs_shop_errmsg(shop));
            free(away);
            return -1;
        }
        /* Negative stock (an oversell) leaves nothing for anyone. */
        if (left > 0)
            *lost += away[sku] < left ? away[sku] : left;
    }
    free(away);
    return 0;
}

/* One stay of a room, dates as SQL stores them ('YYYY-MM-DD' sorts like the dates, so
 * the half-open overlap test is string comparison, as in the checker's SQL). */
typedef struct stay {
    int64_t hotel, room;
    char in[11], out[11];
} stay;

typedef struct stays {
    stay *v;
    size_t n, cap;
    int oom;
} stays;

static int stays_add(stays *s, int64_t hotel, int64_t room, const char *in, const char *out)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        stay *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            s->oom = 1;
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    stay *x = &s->v[s->n++];
    x->hotel = hotel;
    x->room = room;
    snprintf(x->in, sizeof(x->in), "%s", in);
    snprintf(x->out, sizeof(x->out), "%s", out);
    return 0;
}

static int stays_row(void *ctx, const ovs_sqlval *col, int ncol)
{
    stays *s = ctx;

    if (ncol < 4 || col[2].type != OVS_SQL_TEXT || col[3].type != OVS_SQL_TEXT)
        return 0;
    return stays_add(s, col[0].i, col[1].i, col[2].s, col[3].s) != 0;
}

static int stays_overlap(const stays *s, int64_t hotel, int64_t room, const char *in,
                         const char *out)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].hotel == hotel && s->v[i].room == room && strcmp(s->v[i].in, out) < 0 &&
            strcmp(in, s->v[i].out) < 0)
            return 1;
    return 0;
}

/* A turned-away request: who, and when it was made. */
typedef struct away {
    int64_t start;
    int client;
} away;

static int cmp_away(const void *a, const void *b)
{
    const away *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->client > y->client) - (x->client < y->client);
}

/* Booking: turned-away requests whose stay was still free at the end, greedily, in the
 * order they were made; each one counted takes its stay, so a second request for the
 * same free nights is not counted again. */
static int lost_booking(ovs_shop *shop, const ovs_scenario *sc, const ovs_run_result *res,
                        int64_t *lost, char *err, size_t errlen)
{
    stays s = { NULL, 0, 0, 0 };
    away *v = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;

    for (int t = 0; t < res->ntraces; t++)
        for (size_t i = 0; res->traces[t] && i < res->traces[t]->n; i++) {
            const ovs_event *e = &res->traces[t]->ev[i];
            if (!ovs_liveness_turned_away(e) || !buyer_event(sc, e))
                continue;
            if (n == cap) {
                size_t c = cap ? 2 * cap : 64;
                away *nv = realloc(v, c * sizeof(*nv));
                if (nv == NULL)
                    goto oom;
                v = nv;
                cap = c;
            }
            v[n].start = e->start_ns;
            v[n++].client = e->client;
        }
    *lost = 0;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    /* A read that stopped early would count taken rooms as free. */
    if (ovs_shop_rows(shop,
                      "SELECT hotel, room, check_in, check_out FROM bookings"
                      " WHERE status = 'confirmed'",
                      stays_row, &s) != 0) {
        ovs_seterr(err, errlen, "lost sales: %s", ovs_shop_errmsg(shop));
        goto out;
    }
    if (s.oom)
        goto oom;
    qsort(v, n, sizeof(*v), cmp_away);
    for (size_t i = 0; i < n; i++) {
        ovs_request r = ovs_scenario_request_of(sc, v[i].client);
        char in[16], out[16];
        ovs_format_date(r.check_in, in, sizeof(in));
        ovs_format_date(r.check_out, out, sizeof(out));
        if (stays_overlap(&s, r.hotel, r.room, in, out))
            continue;
        if (stays_add(&s, r.hotel, r.room, in, out) != 0)
            goto oom;
        (*lost)++;
    }
    rc = 0;
    goto out;
oom:
    ovs_seterr(err, errlen, "out of memory");
out:
    free(s.v);
    free(v);
    return rc;
}

int ovs_liveness_of(ovs_shop *shop, const ovs_scenario *sc, const ovs_run_result *res,
                    int events, ovs_liveness *out, char *err, size_t errlen)
{
    out->unavailable = res->busy + res->errors + res->unknown;
    out->retries_per_success =
        res->succeeded > 0 ? (double)res->retries / (double)res->succeeded : -1.0;
    out->lost_sales = -1;
    if (!events)
        return 0;
    return sc->workload == OVS_INVENTORY
               ? lost_inventory(shop, sc, res, &out->lost_sales, err, errlen)
               : lost_booking(shop, sc, res, &out->lost_sales, err, errlen);
}
