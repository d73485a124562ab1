/* results_db.c - the results-database helpers the reports share (results_db.h).
 *
 * Statements with their error text, columns as text, the names that give a report its
 * rows and columns, and the per-cell and per-scenario queries of summary.md and
 * index.html, so the two always agree on which run speaks for a cell. */
#include "reports/results_db.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

const ovs_rdb_version_query ovs_rdb_versions[OVS_RDB_NVERSIONS] = {
    { "Redis", "SELECT redis_version FROM runs WHERE redis_version IS NOT NULL"
               " GROUP BY redis_version ORDER BY MIN(id)" },
    { "SQLite", "SELECT sqlite_version FROM runs WHERE sqlite_version IS NOT NULL"
                " GROUP BY sqlite_version ORDER BY MIN(id)" },
};

int ovs_rdb_fail(sqlite3 *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
    ovs_seterr(err, errlen, "reading %s: %s", what, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

int ovs_rdb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err,
                    size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return ovs_rdb_fail(db, NULL, "results", err, errlen);
    }
    return 0;
}

int ovs_rdb_finish(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
    if (rc != SQLITE_DONE)
        return ovs_rdb_fail(db, st, "results", err, errlen);
    sqlite3_finalize(st);
    return 0;
}

const char *ovs_rdb_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

char *ovs_rdb_dup(sqlite3_stmt *st, int i)
{
    const char *s = ovs_rdb_text(st, i);

    return strdup(s != NULL ? s : "");
}

void ovs_rdb_names_free(ovs_rdb_names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

int ovs_rdb_names_load(sqlite3 *db, const char *sql, ovs_rdb_names *ns, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    ns->v = NULL;
    ns->n = 0;
    if (ovs_rdb_prepare(db, sql, &st, err, errlen) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = ovs_rdb_text(st, 0);
        char *copy = NULL;
        if (ns->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(ns->v, ncap * sizeof *nv);
            if (nv == NULL)
                goto oom;
            ns->v = nv;
            cap = ncap;
        }
        if (s != NULL && (copy = strdup(s)) == NULL)
            goto oom;
        ns->v[ns->n++] = copy;
    }
    if (ovs_rdb_finish(db, st, rc, err, errlen) < 0) {
        ovs_rdb_names_free(ns);
        return -1;
    }
    return 0;
oom:
    ovs_seterr(err, errlen, "out of memory");
    sqlite3_finalize(st);
    ovs_rdb_names_free(ns);
    return -1;
}

int ovs_rdb_cell_step(sqlite3_stmt *cell, const char *scenario, const char *strategy)
{
    sqlite3_reset(cell);
    sqlite3_bind_text(cell, 1, scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(cell, 2, strategy, -1, SQLITE_STATIC);
    return sqlite3_step(cell);
}

int ovs_rdb_stmts_prepare(sqlite3 *db, ovs_rdb_stmts *q, char *err, size_t errlen)
{
    if (ovs_rdb_prepare(db,
                        "SELECT description, scenario_file, workload FROM runs"
                        " WHERE scenario IS ?1 ORDER BY id DESC LIMIT 1",
                        &q->about, err, errlen) < 0 ||
        ovs_rdb_prepare(db, OVS_RDB_CELL_SQL, &q->cell, err, errlen) < 0 ||
        ovs_rdb_prepare(db,
                        "SELECT invariant, observed, expected, detail FROM checks"
                        " WHERE run = ?1 AND verdict = 'fail' ORDER BY rowid",
                        &q->checks, err, errlen) < 0)
        return -1;
    return 0;
}

void ovs_rdb_stmts_finalize(ovs_rdb_stmts *q)
{
    sqlite3_finalize(q->about);
    sqlite3_finalize(q->cell);
    sqlite3_finalize(q->checks);
    q->about = q->cell = q->checks = NULL;
}

int ovs_rdb_about(sqlite3 *db, ovs_rdb_stmts *q, const char *scenario, char *err,
                  size_t errlen)
{
    sqlite3_reset(q->about);
    sqlite3_bind_text(q->about, 1, scenario, -1, SQLITE_STATIC);
    if (sqlite3_step(q->about) != SQLITE_ROW)
        return ovs_rdb_fail(db, NULL, "runs", err, errlen);
    return 0;
}

void ovs_rdb_error_head(const char *e, char *buf)
{
    size_t n = strcspn(e, "\r\n");
    int cut = 0;

    if (n > OVS_RDB_ERROR_MAX) {
        n = OVS_RDB_ERROR_MAX;
        while (n > 0 && ((unsigned char)e[n] & 0xC0) == 0x80)
            n--;
        cut = 1;
    }
    memcpy(buf, e, n);
    memcpy(buf + n, cut ? "…" : "", cut ? sizeof("…") : 1);
}
