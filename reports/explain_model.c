/* explain_model.c - the run behind `oversell explain`: loaded and shaped.
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
 * This file loads the run from the results database and shapes it into that model;
 * explain_breaks.c finds where each invariant broke, explain_words.c says each step in
 * words. explain_table.c lays them out as the time table, explain_mermaid.c as a sequence
 * diagram. */
#include "reports/explain.h"

#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "reports/results_db.h"
#include "core/util.h"

/* A gap between a check and its act at least this long is shown as thinking. */
#define EX_THINK_SHOWN OVS_NS_PER_MS


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
 * its act, else 0. A nest's think is spent inside it: after the nested acquire, until the
 * inner release, so a check followed by a nest shows none of its own. */
int64_t ovs_ex_think_after(const ovs_ex_run *r, size_t i)
{
    const ovs_ex_event *c = &r->ev[i];
    int nest = c->op == EX_ACQUIRE && ovs_ex_nested(c);

    if ((c->op != EX_CHECK && !nest) || c->outcome != EX_OK)
        return 0;
    for (size_t j = i + 1; j < r->n; j++) {
        const ovs_ex_event *e = &r->ev[j];
        if (e->client != c->client || e->op == EX_NODE || e->op == EX_CRITICAL)
            continue;
        if (nest ? e->op == EX_RELEASE && ovs_ex_nested(e) : e->op == EX_ACT)
            return e->start - c->end >= EX_THINK_SHOWN ? e->start - c->end : 0;
        return 0;
    }
    return 0;
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
    if (ex_collect_clients(r) < 0 || ovs_ex_find_breaks(r) < 0) {
        ovs_seterr(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    ovs_ex_run_free(r);
    return -1;
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
