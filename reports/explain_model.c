/* explain_model.c - the run behind `oversell explain`: loaded, shaped, and said in words.
 *
 * The events of a run (harness/engine/recorder.h) are intervals per client: request, acquire,
 * check, act, critical, release, and the strategy's own steps. A student needs them as
 * moments instead: "at 150.2 ms Bob checks, the room looks free". So every event becomes
 * one row at its start, except where its end is the news: an answer arrives when the
 * request ends, and a lock that made a client wait gets a second row when it was finally
 * granted or refused. The think time between a check and its act, the race window every
 * scenario is about, gets a row of its own. Redlock's per-node steps are folded into the
 * acquire and release they belong to ("5/5 nodes").
 *
 * Then the verdict, from the checks the harness computed (never recomputed here), and
 * the step where each broken invariant broke, found in the events: the second booking of
 * one room, the first sale beyond the stock, the second holder of a lock. Those rules
 * are approximations of the checker's SQL (the events carry keys, not rooms and nights)
 * and each says where it can be wrong.
 *
 * This file builds that model and the words for each step; explain_table.c lays them out
 * as the time table, explain_mermaid.c as a sequence diagram. */
#include "reports/explain.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "core/trace.h"
#include "core/util.h"

/* A lock that answered within this long is one step; a longer wait gets a row when it
 * began and one when it ended, so the table shows the client waiting while others move.
 * 10 ms is far above a loopback round trip and far below any think time in a scenario. */
#define EX_WAIT_SHOWN (10 * OVS_NS_PER_MS)
/* A gap between a check and its act at least this long is shown as thinking. */
#define EX_THINK_SHOWN OVS_NS_PER_MS

/* ---- small helpers ----------------------------------------------------------------- */

/* snprintf that says so: truncation is expected and fine everywhere here. */
void ovs_ex_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}


/* Copy src into dst (cap bytes) with control characters as spaces, cut on a character
 * boundary. NULL copies as "". */
void ovs_ex_copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;

    for (; src != NULL && src[n] != '\0' && n + 1 < cap; n++)
        dst[n] = (unsigned char)src[n] < 0x20 || src[n] == 0x7F ? ' ' : src[n];
    while (n > 0 && src[n] != '\0' && ((unsigned char)src[n] & 0xC0) == 0x80)
        n--;
    dst[n] = '\0';
}

/* Nanoseconds as milliseconds with one decimal: "150.2". */
void ovs_ex_ms(int64_t ns, char *buf, size_t len)
{
    ovs_report_fixed(ns, OVS_NS_PER_MS, 1, buf, len);
}

/* A duration the way a person says it: "0.7 ms", "311 ms", "1.25 s". */
void ovs_ex_dur(int64_t ns, char *buf, size_t len)
{
    char num[32];

    if (ns < 100 * OVS_NS_PER_MS) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 1, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s ms", num);
    } else if (ns < 10 * OVS_NS_PER_S) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 0, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s ms", num);
    } else {
        ovs_report_fixed(ns, OVS_NS_PER_S, 2, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s s", num);
    }
}

/* The integer right after tag in s ("attempts=2" with tag "attempts="). */
static int ex_num_after(const char *s, const char *tag, long long *v)
{
    const char *p = strstr(s, tag);
    char *end;

    if (p == NULL)
        return 0;
    p += strlen(tag);
    *v = strtoll(p, &end, 10);
    return end != p;
}

void ovs_ex_name(const ovs_ex_run *r, int id, char *buf, size_t len)
{
    if (id < 0)
        ovs_ex_fmt(buf, len, "harness");
    else if (r->names != NULL && id < r->n_names && r->names[id] != NULL)
        ovs_ex_copy(buf, len, r->names[id]);
    else
        ovs_ex_fmt(buf, len, "client %d", id);
}

/* Attempts an acquire made: "attempts=N" when it succeeded, "after N attempts" in the
 * strategies' busy messages, else the Redlock rounds seen, else 0 (not known). */
long long ovs_ex_attempts(const ovs_ex_event *e)
{
    long long v;

    if (ex_num_after(e->detail, "attempts=", &v) || ex_num_after(e->detail, "after ", &v))
        return v;
    return e->rounds;
}

/* The acquire kept its client waiting: shown as two rows. */
int ovs_ex_slow(const ovs_ex_event *e)
{
    return e->op == EX_ACQUIRE &&
           (ovs_ex_attempts(e) > 1 || e->end - e->start >= EX_WAIT_SHOWN);
}

/* When the table shows the step done: the second row of a wait, the answer of a request,
 * else the step's start. */
int64_t ovs_ex_done_time(const ovs_ex_event *e)
{
    return ovs_ex_slow(e) || (e->op == EX_REQUEST && e->inner) ? e->end : e->start;
}

/* ---- loading ------------------------------------------------------------------------ */

void ovs_ex_run_free(ovs_ex_run *r)
{
    char **strs[] = { &r->scenario, &r->strategy, &r->params, &r->workload, &r->status,
                      &r->error, &r->verdict, &r->expect, &r->figure, &r->description };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    for (size_t i = 0; i < r->nck; i++) {
        free(r->ck[i].invariant);
        free(r->ck[i].detail);
    }
    free(r->ck);
    free(r->ev);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}

static int ex_load_run(sqlite3 *db, ovs_ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (ovs_rdb_prepare(db,
                        "SELECT scenario, strategy, params, workload, status, error,"
                        " verdict, expect, figure, description, seed FROM runs"
                        " WHERE id = ?1", &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        if (rc != SQLITE_DONE)
            return ovs_rdb_fail(db, st, "results", err, errlen);
        ovs_seterr(err, errlen, "no run %lld in the results database", (long long)r->id);
        sqlite3_finalize(st);
        return -1;
    }
    r->scenario = ovs_rdb_dup(st, 0);
    r->strategy = ovs_rdb_dup(st, 1);
    r->params = ovs_rdb_dup(st, 2);
    r->workload = ovs_rdb_dup(st, 3);
    r->status = ovs_rdb_dup(st, 4);
    r->error = ovs_rdb_dup(st, 5);
    r->verdict = ovs_rdb_dup(st, 6);
    r->expect = ovs_rdb_dup(st, 7);
    r->figure = ovs_rdb_dup(st, 8);
    r->description = ovs_rdb_dup(st, 9);
    r->seed = (uint64_t)sqlite3_column_int64(st, 10);
    sqlite3_finalize(st);
    if (!r->scenario || !r->strategy || !r->params || !r->workload || !r->status ||
        !r->error || !r->verdict || !r->expect || !r->figure || !r->description) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    r->booking = strcmp(r->workload, "inventory") != 0;
    return 0;
}

static int ex_load_events(sqlite3 *db, ovs_ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    /* Enclosing events first on equal starts, so a request comes before the steps
     * inside it and an acquire before its node steps. */
    if (ovs_rdb_prepare(db,
                        "SELECT client, op, key, start_ns, end_ns, outcome, detail"
                        " FROM events WHERE run = ?1"
                        " ORDER BY start_ns, end_ns DESC, rowid", &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ovs_ex_event *e;
        const char *op = ovs_rdb_text(st, 1), *outcome = ovs_rdb_text(st, 5);

        if (r->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            ovs_ex_event *nv = realloc(r->ev, ncap * sizeof(*nv));
            if (nv == NULL) {
                sqlite3_finalize(st);
                ovs_seterr(err, errlen, "out of memory");
                return -1;
            }
            r->ev = nv;
            cap = ncap;
        }
        e = &r->ev[r->n++];
        memset(e, 0, sizeof(*e));
        e->client = sqlite3_column_int(st, 0);
        ovs_ex_copy(e->opname, sizeof(e->opname), op);
        e->op = (int)ovs_op_parse(op);
        ovs_ex_copy(e->key, sizeof(e->key), ovs_rdb_text(st, 2));
        e->start = sqlite3_column_int64(st, 3);
        e->end = sqlite3_column_int64(st, 4);
        e->outcome = (int)ovs_outcome_parse(outcome);
        ovs_ex_copy(e->detail, sizeof(e->detail), ovs_rdb_text(st, 6));
    }
    return ovs_rdb_finish(db, st, rc, err, errlen);
}

static int ex_load_checks(sqlite3 *db, ovs_ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    if (ovs_rdb_prepare(db,
                        "SELECT invariant, observed, expected, verdict, detail FROM checks"
                        " WHERE run = ?1 ORDER BY rowid", &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ovs_ex_check *c;
        const char *verdict = ovs_rdb_text(st, 3);

        if (r->nck == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ovs_ex_check *nv = realloc(r->ck, ncap * sizeof(*nv));
            if (nv == NULL)
                goto oom;
            r->ck = nv;
            cap = ncap;
        }
        c = &r->ck[r->nck];
        c->invariant = ovs_rdb_dup(st, 0);
        c->detail = ovs_rdb_dup(st, 4);
        c->observed = sqlite3_column_int64(st, 1);
        c->expected = sqlite3_column_int64(st, 2);
        c->pass = verdict != NULL && strcmp(verdict, "pass") == 0;
        r->nck++;
        if (c->invariant == NULL || c->detail == NULL)
            goto oom;
    }
    return ovs_rdb_finish(db, st, rc, err, errlen);
oom:
    sqlite3_finalize(st);
    ovs_seterr(err, errlen, "out of memory");
    return -1;
}

/* ---- shaping the events --------------------------------------------------------------- */

/* Fold each Redlock node step into the nearest earlier acquire or release of the same
 * client and key that it falls inside. An acquire's lock steps come in rounds of
 * node 0..N-1; its release steps there are the clean-up of a failed round, not news. */
static void ex_fold_nodes(ovs_ex_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ovs_ex_event *nd = &r->ev[i], *p = NULL;
        int node, at = 0;
        const char *what;

        if (nd->op != EX_NODE || sscanf(nd->detail, "node %d %n", &node, &at) != 1 || at == 0)
            continue;
        what = nd->detail + at;
        for (size_t j = i; j-- > 0;) {
            ovs_ex_event *c = &r->ev[j];
            if (c->client == nd->client && (c->op == EX_ACQUIRE || c->op == EX_RELEASE) &&
                strcmp(c->key, nd->key) == 0) {
                if (nd->start >= c->start && nd->start <= c->end)
                    p = c;
                break;
            }
        }
        if (p == NULL)
            continue;
        nd->folded = 1;
        if (strncmp(what, "release", 7) == 0 || strcmp(what, "not ours") == 0) {
            if (p->op == EX_RELEASE) {
                p->nodes++;
                p->nodes_ok += nd->outcome == EX_OK;
            }
            continue;
        }
        if (p->op != EX_ACQUIRE)
            continue;
        if (p->rounds == 0 || node <= p->last_node) {
            p->rounds++;
            p->nodes_ok = p->nodes = 0;
        }
        p->last_node = node;
        p->nodes++;
        p->nodes_ok += nd->outcome == EX_OK;
        if (p->rounds == 1) {
            p->first_locked = p->nodes_ok;
            p->first_asked = p->nodes;
            p->first_end = nd->end;
        }
    }
}

/* A request the client recorded steps inside is told by those steps and its answer; one
 * with nothing inside (a strategy that does it all in one call) is one step itself. */
static void ex_mark_inner(ovs_ex_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ovs_ex_event *q = &r->ev[i];
        if (q->op != EX_REQUEST)
            continue;
        for (size_t j = i + 1; j < r->n && r->ev[j].start <= q->end; j++) {
            const ovs_ex_event *e = &r->ev[j];
            if (e->client == q->client && e->op != EX_REQUEST && e->op != EX_WRITEBACK &&
                e->op != EX_FAULT) {
                q->inner = 1;
                break;
            }
        }
    }
}

static int ex_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Every client with an event, and every named one even if it recorded nothing. */
static int ex_collect_clients(ovs_ex_run *r)
{
    size_t n = 0, cap = r->n + (size_t)(r->n_names > 0 ? r->n_names : 0) + 1;

    r->ids = malloc(cap * sizeof(*r->ids));
    if (r->ids == NULL)
        return -1;
    for (int i = 0; i < r->n_names; i++)
        r->ids[n++] = i;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].client >= 0)
            r->ids[n++] = r->ev[i].client;
    qsort(r->ids, n, sizeof(*r->ids), ex_cmp_int);
    r->nids = 0;
    for (size_t i = 0; i < n; i++)
        if (r->nids == 0 || r->ids[r->nids - 1] != r->ids[i])
            r->ids[r->nids++] = r->ids[i];
    return 0;
}

int ovs_ex_column_of(const ovs_ex_run *r, int client)
{
    const int *p = bsearch(&client, r->ids, r->nids, sizeof(*r->ids), ex_cmp_int);
    return p == NULL ? -1 : (int)(p - r->ids);
}

/* The think time after check i: the gap to the same client's next step when that step is
 * its act, else 0. */
int64_t ovs_ex_think_after(const ovs_ex_run *r, size_t i)
{
    const ovs_ex_event *c = &r->ev[i];

    if (c->op != EX_CHECK || c->outcome != EX_OK)
        return 0;
    for (size_t j = i + 1; j < r->n; j++) {
        const ovs_ex_event *e = &r->ev[j];
        if (e->client != c->client || e->op == EX_NODE || e->op == EX_CRITICAL)
            continue;
        if (e->op == EX_ACT && e->start - c->end >= EX_THINK_SHOWN)
            return e->start - c->end;
        return 0;
    }
    return 0;
}

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
        if (e->op == EX_CHECK && ex_num_after(e->detail, "stock=", &v) &&
            (k = ex_stock_of(s, &ns, CAP, e->key)) != NULL && v > k->stock)
            k->stock = v;
    }
    nreq = ns;
    if ((p = strstr(ck->detail, " orders for ")) != NULL && ex_num_after(p, " for ", &v))
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

/* Place every failed check the events can place, the shop-level ones first. */
static int ex_find_breaks(ovs_ex_run *r)
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

int ovs_ex_open(sqlite3 *db, int64_t run_id, const char *const *names, int n_names,
                ovs_ex_run *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->id = run_id;
    r->names = names;
    r->n_names = names != NULL && n_names > 0 ? n_names : 0;
    if (ex_load_run(db, r, err, errlen) < 0 || ex_load_events(db, r, err, errlen) < 0 ||
        ex_load_checks(db, r, err, errlen) < 0)
        goto fail;
    ex_fold_nodes(r);
    ex_mark_inner(r);
    if (ex_collect_clients(r) < 0 || ex_find_breaks(r) < 0) {
        ovs_seterr(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    ovs_ex_run_free(r);
    return -1;
}

/* ---- the steps in words ------------------------------------------------------------------ */

const char *ovs_ex_write_what(const ovs_ex_run *r)
{
    return r->booking ? "INSERT booking" : "UPDATE stock, INSERT order";
}

/* "→ failed: why" for a step that did not answer ok. */
void ovs_ex_bad(const ovs_ex_event *e, char *buf, size_t len)
{
    const char *word = e->outcome == EX_UNKNOWN ? "unknown" : "failed";
    if (e->detail[0] != '\0')
        ovs_ex_fmt(buf, len, "→ %s: %s", word, e->detail);
    else
        ovs_ex_fmt(buf, len, "→ %s", word);
}

/* A busy message from a lock, rather than an error. */
int ovs_ex_busy(const ovs_ex_event *e)
{
    return e->outcome == EX_FAIL &&
           (strstr(e->detail, "attempts") || strstr(e->detail, "busy") ||
            strstr(e->detail, "held") || strstr(e->detail, "majority"));
}

static void ex_phrase_acquire(const ovs_ex_event *e, int part, const char *key, char *buf,
                              size_t len)
{
    long long tries = ovs_ex_attempts(e);
    char waited[32], bad[160];

    ovs_ex_dur(e->end - e->start, waited, sizeof(waited));
    ovs_ex_bad(e, bad, sizeof(bad));
    if (part == EX_BEGIN) {
        if (e->rounds > 0 && e->first_locked < e->first_asked)
            ovs_ex_fmt(buf, len, "acquire%s → busy (%d/%d nodes)", key, e->first_locked,
                       e->first_asked);
        else if (tries > 1)
            ovs_ex_fmt(buf, len, "acquire%s → busy, retrying", key);
        else
            ovs_ex_fmt(buf, len, "acquire%s → waiting", key);
        return;
    }
    if (part == EX_END) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "acquire → ok, waited %s (%lld attempt%s)", waited,
                       tries > 0 ? tries : 1, tries > 1 ? "s" : "");
        else if (ovs_ex_busy(e) && tries > 0)
            ovs_ex_fmt(buf, len, "acquire → busy (waited %s, %lld attempts)", waited, tries);
        else if (ovs_ex_busy(e))
            ovs_ex_fmt(buf, len, "acquire → busy (waited %s)", waited);
        else
            ovs_ex_fmt(buf, len, "acquire after %s %s", waited, bad);
        return;
    }
    if (e->outcome == EX_OK && e->rounds > 0)
        ovs_ex_fmt(buf, len, "acquire%s → ok (%d/%d nodes)", key, e->nodes_ok, e->nodes);
    else if (e->outcome == EX_OK)
        ovs_ex_fmt(buf, len, "acquire%s → ok (%lld attempt%s)", key, tries > 0 ? tries : 1,
                   tries > 1 ? "s" : "");
    else if (ovs_ex_busy(e) && tries > 0)
        ovs_ex_fmt(buf, len, "acquire%s → busy (%lld attempt%s)", key, tries,
                   tries > 1 ? "s" : "");
    else
        ovs_ex_fmt(buf, len, "acquire%s %s", key, bad);
}

static void ex_phrase_check(const ovs_ex_run *r, const ovs_ex_event *e, char *buf, size_t len)
{
    long long v;
    char bad[160];

    if (r->booking && ex_num_after(e->detail, "overlapping=", &v)) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "check: room free (%lld overlapping)", v);
        else if (e->outcome == EX_FAIL)
            ovs_ex_fmt(buf, len, "check: %lld overlapping → refused", v);
        else
            ovs_ex_fmt(buf, len, "check: %lld overlapping → unknown", v);
        return;
    }
    if (!r->booking && ex_num_after(e->detail, "stock=", &v)) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "check: %lld in stock", v);
        else if (e->outcome == EX_FAIL)
            ovs_ex_fmt(buf, len, "check: stock %lld → sold out", v);
        else
            ovs_ex_fmt(buf, len, "check: stock %lld → unknown", v);
        return;
    }
    ovs_ex_bad(e, bad, sizeof(bad));
    if (e->outcome == EX_OK)
        ovs_ex_fmt(buf, len, "check → ok");
    else
        ovs_ex_fmt(buf, len, "check %s", bad);
}

/* The row's text. with_key 0 leaves out the resource name, for narrow columns. */
void ovs_ex_phrase(const ovs_ex_run *r, const ovs_ex_row *row, int with_key, char *buf,
                   size_t len)
{
    const ovs_ex_event *e = &r->ev[row->ev];
    char key[80] = "", bad[160], d[32];

    if (with_key && e->key[0] != '\0')
        ovs_ex_fmt(key, sizeof(key), " %s", e->key);
    ovs_ex_bad(e, bad, sizeof(bad));
    ovs_ex_dur(e->end - e->start, d, sizeof(d));
    if (row->part == EX_THINK) {
        ovs_ex_dur(row->gap, d, sizeof(d));
        ovs_ex_fmt(buf, len, "thinks %s", d);
        return;
    }
    switch (e->op) {
    case EX_ACQUIRE:
        ex_phrase_acquire(e, row->part, key, buf, len);
        break;
    case EX_CHECK:
        ex_phrase_check(r, e, buf, len);
        break;
    case EX_ACT:
        if (e->outcome == EX_OK && e->detail[0] != '\0')
            ovs_ex_fmt(buf, len, "act: %s → ok (%s)", ovs_ex_write_what(r), e->detail);
        else if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "act: %s → ok", ovs_ex_write_what(r));
        else
            ovs_ex_fmt(buf, len, "act: %s %s", ovs_ex_write_what(r), bad);
        break;
    case EX_RELEASE:
        if (e->outcome == EX_OK && e->nodes > 0)
            ovs_ex_fmt(buf, len, "release → ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "release → ok");
        else
            ovs_ex_fmt(buf, len, "release %s", bad);
        break;
    case EX_REQUEST:
        if (row->part == EX_END)
            ovs_ex_fmt(buf, len, "answer: %s", e->detail[0] ? e->detail
                                            : e->outcome == EX_OK ? "ok" : "failed");
        else if (e->outcome == EX_UNKNOWN)
            ovs_ex_fmt(buf, len, "%s%s %s", r->booking ? "book" : "buy", key, bad);
        else
            ovs_ex_fmt(buf, len, "%s%s → %s (%s)", r->booking ? "book" : "buy", key,
                       e->detail[0] ? e->detail : e->outcome == EX_OK ? "ok" : "failed", d);
        break;
    case EX_WRITEBACK:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "write-back: %s → ok",
                       r->booking ? "INSERT booking" : "INSERT order");
        else
            ovs_ex_fmt(buf, len, "write-back %s", bad);
        break;
    case EX_EXECUTE:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "execute%s → ok%s%s", key, e->detail[0] ? ": " : "", e->detail);
        else
            ovs_ex_fmt(buf, len, "execute%s %s", key, bad);
        break;
    case EX_FAULT:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "fault%s%s: %s", key[0] ? " on" : "", key, e->detail);
        else
            ovs_ex_fmt(buf, len, "fault%s%s %s", key[0] ? " on" : "", key, bad);
        break;
    case EX_NODE:
        ovs_ex_fmt(buf, len, "%s", e->detail[0] ? e->detail : "node step");
        break;
    default:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "%s%s → ok%s%s", e->opname, key, e->detail[0] ? ": " : "",
                       e->detail);
        else
            ovs_ex_fmt(buf, len, "%s%s %s", e->opname, key, bad);
        break;
    }
}

int64_t ovs_explain_find_run(sqlite3 *results, const char *scenario, const char *strategy)
{
    sqlite3_stmt *st;
    int64_t id = -1;

    if (ovs_rdb_prepare(results,
                        "SELECT id FROM runs WHERE scenario = ?1 AND strategy = ?2"
                        " ORDER BY id DESC LIMIT 1", &st, NULL, 0) < 0)
        return -1;
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, strategy, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}
