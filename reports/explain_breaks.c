/* explain_breaks.c - where each broken invariant of a recorded run broke, for `oversell
 * explain`.
 *
 * The verdict comes from the checks the harness computed (never recomputed here); this
 * file finds, in the events, the step where each failed check broke: the second booking of
 * one room, the first sale beyond the stock, the second holder of a lock. Those rules are
 * approximations of the checker's SQL (the events carry keys, not rooms and nights) and
 * each says where it can be wrong. Called by ovs_ex_open (explain_model.c) once the events
 * are loaded and shaped. */
#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "core/trace.h"
#include "core/util.h"

/* ---- where an invariant broke ----------------------------------------------------------- */

int ovs_ex_cmp_write(const void *a, const void *b)
{
    const ovs_ex_write *x = a, *y = b;
    if (x->end != y->end)
        return (x->end > y->end) - (x->end < y->end);
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->i > y->i) - (x->i < y->i);
}

/* Successful writes in commit (end) order. Caller frees. */
static ovs_ex_write *ex_writes(const ovs_ex_run *r, size_t *nw)
{
    ovs_ex_write *w = malloc((r->n ? r->n : 1) * sizeof(*w));

    *nw = 0;
    if (w == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const ovs_ex_event *e = &r->ev[i];
        if ((e->op == EX_ACT || e->op == EX_WRITEBACK) && e->outcome == EX_OK)
            w[(*nw)++] = (ovs_ex_write){ e->end, e->start, i };
    }
    qsort(w, *nw, sizeof(*w), ovs_ex_cmp_write);
    return w;
}

static ovs_ex_break *ex_add_break(ovs_ex_run *r, const char *invariant, size_t ev,
                                  const char *shout, int with_shop)
{
    ovs_ex_break *b;

    if (r->nbrk == EX_MAX_BREAKS)
        return NULL;
    b = &r->brk[r->nbrk++];
    b->invariant = invariant;
    b->ev = ev;
    b->t = ovs_ex_done_time(&r->ev[ev]);
    b->shout = shout;
    b->with_shop = with_shop;
    b->why[0] = '\0';
    return b;
}

/* Double booking: the second successful write under one key, in commit order. The
 * events do not carry the room and nights (the checker reads those from SQL), only the
 * key the strategy locked: the hotel and check-in day, or the room for the write-back
 * queue. Two confirmed writes under one key are taken to be the same room and nights,
 * which is exact for the shipped scenarios, where every guest asks for the same stay.
 * When no key has two, the second write overall stands in. */
static int ex_break_double(ovs_ex_run *r)
{
    size_t nw, hit = 0, first = 0;
    int found = 0;
    ovs_ex_write *w = ex_writes(r, &nw);
    char name[64], t[32];
    ovs_ex_break *b;

    if (w == NULL)
        return -1;
    for (size_t a = 1; a < nw && !found; a++)
        for (size_t c = 0; c < a && !found; c++)
            if (strcmp(r->ev[w[a].i].key, r->ev[w[c].i].key) == 0) {
                hit = w[a].i;
                first = w[c].i;
                found = 1;
            }
    if (!found && nw >= 2) {
        hit = w[1].i;
        first = w[0].i;
        found = 1;
    }
    free(w);
    if (!found || (b = ex_add_break(r, "double_booked", hit, "double booking!", 1)) == NULL)
        return 0;
    ovs_ex_name(r, r->ev[first].client, name, sizeof(name));
    ovs_ex_ms(ovs_ex_done_time(&r->ev[first]), t, sizeof(t));
    if (strcmp(r->ev[hit].key, r->ev[first].key) == 0)
        ovs_ex_fmt(b->why, sizeof(b->why),
                   "A second booking under %s while %s's (t=%s ms) stands: double booking.",
                   r->ev[hit].key, name, t);
    else
        ovs_ex_fmt(b->why, sizeof(b->why),
                   "The second confirmed booking, after %s's (t=%s ms): double booking.", name, t);
    return 0;
}

typedef struct ex_stock {
    const char *key;
    long long stock;   /* initial units, -1 while not known */
    long long sold;
} ex_stock;

static ex_stock *ex_stock_of(ex_stock *s, size_t *n, size_t cap, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(s[i].key, key) == 0)
            return &s[i];
    if (*n == cap)
        return NULL;
    s[*n] = (ex_stock){ key, -1, 0 };
    return &s[(*n)++];
}

/* Oversold: per SKU, the first successful write beyond its initial stock, counting
 * writes in commit order. The initial stock of a SKU is the most any check of it saw:
 * the check of the first sale to commit ran before any sale had committed, so it saw
 * the whole stock, and no check can see more. That holds whatever the strategy and the
 * interleaving. Strategies that never check in SQL (a Lua decrement in Redis) leave no
 * such trace; then the units come from the oversold check's "N orders for M units"
 * (every SKU starts with the same stock, so M is split over the SKUs buyers asked for). */
static int ex_break_oversold(ovs_ex_run *r, const ovs_ex_check *ck)
{
    enum { CAP = 256 };
    ex_stock *s = calloc(CAP, sizeof(*s));
    size_t ns = 0, nw, nreq = 0;
    long long units = -1, v;
    const char *p;
    ovs_ex_write *w;

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        const ovs_ex_event *e = &r->ev[i];
        ex_stock *k;
        if (e->op == EX_REQUEST && (k = ex_stock_of(s, &ns, CAP, e->key)) != NULL)
            continue;
        if (e->op == EX_CHECK && ovs_ex_num_after(e->detail, "stock=", &v) &&
            (k = ex_stock_of(s, &ns, CAP, e->key)) != NULL && v > k->stock)
            k->stock = v;
    }
    nreq = ns;
    if ((p = strstr(ck->detail, " orders for ")) != NULL && ovs_ex_num_after(p, " for ", &v))
        units = v;
    for (size_t i = 0; i < ns; i++)
        if (s[i].stock < 0 && units >= 0 && nreq > 0 && units % (long long)nreq == 0)
            s[i].stock = units / (long long)nreq;
    if ((w = ex_writes(r, &nw)) == NULL) {
        free(s);
        return -1;
    }
    for (size_t a = 0; a < nw; a++) {
        const ovs_ex_event *e = &r->ev[w[a].i];
        ex_stock *k = ex_stock_of(s, &ns, CAP, e->key);
        ovs_ex_break *b;
        if (k == NULL)
            continue;
        k->sold++;
        if (k->stock < 0 || k->sold <= k->stock)
            continue;
        if ((b = ex_add_break(r, "oversold", w[a].i, "oversold!", 1)) != NULL)
            ovs_ex_fmt(b->why, sizeof(b->why), "Sale %lld of %s, which had %lld unit%s: oversold.",
                       k->sold, e->key, k->stock, k->stock == 1 ? "" : "s");
        break;
    }
    free(w);
    free(s);
    return 0;
}

typedef struct ex_holder {
    const char *key;
    size_t ev;  /* the non-empty critical section that stays open longest so far */
} ex_holder;

/* Two holders: the first critical section (by start) that overlaps an earlier-starting
 * section of the same key, shown at the acquire that opened it. Overlap is the checker's
 * one definition, ovs_holds_overlap: half-open, so one ending the instant another begins
 * is no overlap; an empty section holds nothing; a client is never its own second holder.
 *
 * Events come by start, so one section per key is enough to compare with: the non-empty
 * one that stays open longest. When that one is the new section's own client's, no other
 * client's section can still be open at the new start either: it would overlap that one,
 * and would have been found when the later of the two began. Empty sections are never
 * kept, since they overlap nothing. */
static int ex_break_mutex(ovs_ex_run *r)
{
    ex_holder *h = malloc((r->n ? r->n : 1) * sizeof(*h));
    size_t nh = 0, hit = 0, holder = 0;
    int found = 0;
    char name[64], t[32];
    ovs_ex_break *b;

    if (h == NULL)
        return -1;
    for (size_t i = 0; i < r->n && !found; i++) {
        const ovs_ex_event *c = &r->ev[i];
        size_t k;
        if (c->op != EX_CRITICAL || c->end <= c->start)
            continue;
        for (k = 0; k < nh && strcmp(h[k].key, c->key) != 0; k++)
            ;
        if (k == nh) {
            h[nh++] = (ex_holder){ c->key, i };
            continue;
        }
        const ovs_ex_event *o = &r->ev[h[k].ev];
        if (ovs_holds_overlap(o->start, o->end, o->client, c->start, c->end, c->client)) {
            hit = i;
            holder = h[k].ev;
            found = 1;
        } else if (c->end > o->end) {
            h[k].ev = i;
        }
    }
    free(h);
    if (!found)
        return 0;
    /* The acquire that granted the section: the runner opens the section the instant
     * its acquire returns. */
    size_t step = hit;
    for (size_t j = hit; j-- > 0;) {
        const ovs_ex_event *a = &r->ev[j];
        if (a->client == r->ev[hit].client && a->op == EX_ACQUIRE &&
            strcmp(a->key, r->ev[hit].key) == 0 && a->end <= r->ev[hit].start) {
            step = j;
            break;
        }
    }
    if ((b = ex_add_break(r, "mutex_overlaps", step, "two holders!", 0)) == NULL)
        return 0;
    if (step == hit)
        b->t = r->ev[hit].start;
    ovs_ex_name(r, r->ev[holder].client, name, sizeof(name));
    ovs_ex_ms(r->ev[holder].start, t, sizeof(t));
    ovs_ex_fmt(b->why, sizeof(b->why), "%s had held %s since t=%s ms and not let go: two holders.",
               name, r->ev[hit].key, t);
    return 0;
}

/* A confirm after its hold expired: the check names the buyer whose confirm came longest
 * after the expiry ("worst: buyer N, M ms after its expiry"); shown at that buyer's last
 * step on a hold key whose detail starts "confirm", as the reservation strategy records
 * it. A strategy that records no such step leaves the break unplaced. */
static int ex_break_late(ovs_ex_run *r, const ovs_ex_check *ck)
{
    long long buyer, late_ms = -1;
    const char *p = strstr(ck->detail, "worst: buyer ");
    size_t hit = r->n;
    ovs_ex_break *b;
    char name[64];

    if (p == NULL || !ovs_ex_num_after(p, "buyer ", &buyer))
        return 0;
    if ((p = strstr(p, ", ")) != NULL)
        ovs_ex_num_after(p, ", ", &late_ms);
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].op == EX_NODE && r->ev[i].client == buyer &&
            strncmp(r->ev[i].detail, "confirm", 7) == 0 && r->ev[i].outcome == EX_OK)
            hit = i;
    if (hit == r->n || (b = ex_add_break(r, "sold_after_expiry", hit, "sold after expiry!", 1)) == NULL)
        return 0;
    ovs_ex_name(r, r->ev[hit].client, name, sizeof(name));
    ovs_ex_fmt(b->why, sizeof(b->why),
               "%s's confirm sold %lld ms after the hold expired: its unit had gone back on"
               " sale.", name, late_ms);
    return 0;
}

/* Place every failed check the events can place, the shop-level ones first. */
int ovs_ex_find_breaks(ovs_ex_run *r)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->nck; i++) {
            const ovs_ex_check *c = &r->ck[i];
            int rc = 0;
            if (c->pass)
                continue;
            if (pass == 0 && strcmp(c->invariant, "double_booked") == 0)
                rc = ex_break_double(r);
            else if (pass == 0 && strcmp(c->invariant, "oversold") == 0)
                rc = ex_break_oversold(r, c);
            else if (pass == 1 && strcmp(c->invariant, "mutex_overlaps") == 0)
                rc = ex_break_mutex(r);
            else if (pass == 1 && strcmp(c->invariant, "sold_after_expiry") == 0)
                rc = ex_break_late(r, c);
            if (rc != 0)
                return -1;
        }
    return 0;
}

const ovs_ex_break *ovs_ex_break_at(const ovs_ex_run *r, size_t ev)
{
    for (int i = 0; i < r->nbrk; i++)
        if (r->brk[i].ev == ev)
            return &r->brk[i];
    return NULL;
}
