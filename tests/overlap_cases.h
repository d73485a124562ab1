/* overlap_cases.h - critical sections that test the one definition of overlap.
 *
 * Shared by test_explain.c and test_html.c, so that `explain`, the HTML timeline and the
 * checker are held to the same cases: touching sections, empty ones (zero length, or an
 * end recorded before the start), two sections of one client, three holders, a hand-over
 * inside another client's hold. What counts as an overlap is never written down here: it
 * is what the checker's ovs_overlaps says for the same intervals (oc_truth), and the tests
 * assert that the reports say the same.
 *
 * Every case is one run (id OC_RUN0 + its index, scenario "overlap-<name>", inventory,
 * strategy none) in a results database made by the recorder. Besides the case's sections
 * on sku:1, each run has a real overlap on sku:2 later on (OC_WITNESS): its
 * mutex_overlaps check then fails in every run, as the checker would record it, so the
 * reports look for the first overlap in every case, and one that takes an empty or
 * same-client section on sku:1 for a second holder shows it before the witness.
 *
 * Include after <cmocka.h>. */
#ifndef OVS_OVERLAP_CASES_H
#define OVS_OVERLAP_CASES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "engine/checker.h"
#include "results_fixture.h"

#define OC_RUN0 100
#define OC_MS 1000000LL
#define OC_MAX 6

typedef struct oc_section {
    int client;
    int64_t start_ms, end_ms; /* [start, end), in ms since t0 */
} oc_section;

typedef struct oc_case {
    const char *name;
    size_t n;
    oc_section s[OC_MAX]; /* on sku:1 */
    /* The timeline's list entry for the window on sku:1, or NULL when there is none. */
    const char *window;
} oc_case;

static const oc_case oc_cases[] = {
    { "touching", 3, { { 0, 0, 10 }, { 1, 10, 20 }, { 2, 20, 30 } }, NULL },
    { "zero-length-inside", 3, { { 0, 0, 10 }, { 1, 5, 5 }, { 2, 10, 10 } }, NULL },
    { "zero-length-same-start", 2, { { 0, 0, 10 }, { 1, 0, 0 } }, NULL },
    { "reversed", 2, { { 0, 0, 10 }, { 1, 8, 3 } }, NULL },
    { "same-client", 2, { { 0, 0, 10 }, { 0, 5, 15 } }, NULL },
    { "same-client-then-other", 3, { { 0, 0, 10 }, { 0, 5, 15 }, { 1, 12, 14 } },
      "client 0, client 1: 2 holders of <code>sku:1</code> at once, t=12.0–14.0 ms" },
    { "three-holders", 3, { { 0, 0, 10 }, { 1, 2, 4 }, { 2, 3, 12 } },
      "client 0, client 1, client 2: 3 holders of <code>sku:1</code> at once,"
      " t=2.0–10.0 ms" },
    { "zero-length-then-real", 3, { { 0, 0, 10 }, { 1, 5, 5 }, { 1, 6, 8 } },
      "client 0, client 1: 2 holders of <code>sku:1</code> at once, t=6.0–8.0 ms" },
    { "zero-length-in-overlap", 3, { { 0, 0, 10 }, { 1, 2, 8 }, { 2, 5, 5 } },
      "client 0, client 1: 2 holders of <code>sku:1</code> at once, t=2.0–8.0 ms" },
    { "handover-inside-hold", 3, { { 0, 0, 20 }, { 1, 5, 10 }, { 2, 10, 15 } },
      "client 0, client 1, client 2: 2 holders of <code>sku:1</code> at once,"
      " t=5.0–15.0 ms" },
};
#define OC_NCASES (sizeof(oc_cases) / sizeof(oc_cases[0]))

/* The overlap on sku:2 in every run, after anything on sku:1. */
static const oc_section oc_witness[2] = { { 0, 50, 60 }, { 1, 55, 65 } };
#define OC_WITNESS_WINDOW \
    "client 0, client 1: 2 holders of <code>sku:2</code> at once, t=55.0–60.0 ms"

/* What the checker says about n sections: ovs_overlaps on the same intervals. */
static inline void oc_overlaps(const oc_section *s, size_t n, ovs_overlap *o)
{
    ovs_interval iv[OC_MAX];

    for (size_t i = 0; i < n; i++)
        iv[i] = (ovs_interval){ s[i].start_ms * OC_MS, s[i].end_ms * OC_MS, s[i].client };
    ovs_overlaps(iv, n, o);
}

/* The checker's first overlap of a case's run, over both keys: *key, the instant two
 * were first open at once (*start, ns) and the client that opened the second section. */
static inline void oc_truth(const oc_case *c, ovs_overlap *on_sku1, const char **key,
                            int64_t *start, int *client)
{
    ovs_overlap w;

    oc_overlaps(c->s, c->n, on_sku1);
    oc_overlaps(oc_witness, 2, &w);
    assert_true(w.pairs > 0);
    if (on_sku1->pairs > 0 && on_sku1->first_start < w.first_start) {
        *key = "sku:1";
        *start = on_sku1->first_start;
        *client = on_sku1->first_b;
    } else {
        *key = "sku:2";
        *start = w.first_start;
        *client = w.first_b;
    }
}

/* One section as the runner records it: the acquire that granted it, which returns the
 * instant the section opens, then the section itself. */
static inline int oc_insert(sqlite3 *db, sqlite3_stmt *st, int64_t run, const char *key,
                            const oc_section *s)
{
    int64_t open = s->start_ms * OC_MS;
    const int64_t span[2][2] = { { open > OC_MS / 100 ? open - OC_MS / 100 : 0, open },
                                 { open, s->end_ms * OC_MS } };
    static const char *const op[2] = { "acquire", "critical" };

    for (int k = 0; k < 2; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int(st, 2, s->client);
        sqlite3_bind_text(st, 3, op[k], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, span[k][0]);
        sqlite3_bind_int64(st, 6, span[k][1]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "overlap case event: %s\n", sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

/* The results database holding every case, or NULL (reason on stderr). */
static inline sqlite3 *oc_open(void)
{
    sqlite3 *db = fixture_open(FIXTURE_RECORDER, NULL, 0);
    sqlite3_stmt *run = NULL, *ev = NULL, *ck = NULL;
    int ok = db != NULL;

    if (ok && (sqlite3_prepare_v2(db,
                                  "INSERT INTO runs(id, scenario, scenario_file, description,"
                                  " workload, strategy, params, seed, sqlite_version,"
                                  " started_at, duration_ns, status, verdict, figure)"
                                  " VALUES (?1, 'overlap-' || ?2, 'overlap.ini', ?2,"
                                  " 'inventory', 'none', '', 1, '3.45.1',"
                                  " '2026-01-20T10:00:00Z', 65000000, 'ok', 'unsafe',"
                                  " 'overlapping holds')",
                                  -1, &run, NULL) != SQLITE_OK ||
               sqlite3_prepare_v2(db,
                                  "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'ok',"
                                  " 'attempts=1')",
                                  -1, &ev, NULL) != SQLITE_OK ||
               sqlite3_prepare_v2(db,
                                  "INSERT INTO checks VALUES (?1, 'mutex_overlaps', ?2, 0,"
                                  " 'fail', 'overlapping holds')",
                                  -1, &ck, NULL) != SQLITE_OK)) {
        fprintf(stderr, "overlap cases: %s\n", sqlite3_errmsg(db));
        ok = 0;
    }
    for (size_t i = 0; ok && i < OC_NCASES; i++) {
        const oc_case *c = &oc_cases[i];
        int64_t id = OC_RUN0 + (int64_t)i;
        ovs_overlap a, b;

        oc_overlaps(c->s, c->n, &a);
        oc_overlaps(oc_witness, 2, &b);
        sqlite3_bind_int64(run, 1, id);
        sqlite3_bind_text(run, 2, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ck, 1, id);
        sqlite3_bind_int64(ck, 2, a.pairs + b.pairs);
        ok = sqlite3_step(run) == SQLITE_DONE && sqlite3_step(ck) == SQLITE_DONE;
        if (!ok)
            fprintf(stderr, "overlap case %s: %s\n", c->name, sqlite3_errmsg(db));
        sqlite3_reset(run);
        sqlite3_reset(ck);
        for (size_t k = 0; ok && k < c->n; k++)
            ok = oc_insert(db, ev, id, "sku:1", &c->s[k]) == 0;
        for (size_t k = 0; ok && k < 2; k++)
            ok = oc_insert(db, ev, id, "sku:2", &oc_witness[k]) == 0;
    }
    sqlite3_finalize(run);
    sqlite3_finalize(ev);
    sqlite3_finalize(ck);
    if (!ok) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

#endif
