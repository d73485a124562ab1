/* baseline.c - two results databases compared cell by cell (baseline.h).
 *
 * Each database is read once into cells sorted by identity, and the two lists are merged
 * like sorted files: a cell in both is compared figure by figure, one in a single list is
 * new or removed. The medians are taken here rather than in SQL, which has no median. */
#include "reports/baseline.h"

#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/results_db.h"
#include "core/util.h"

/* The columns of the per-run query. */
enum { B_SCENARIO, B_STRATEGY, B_BACKEND, B_PARAMS, B_OK, B_UNSAFE, B_P99, B_PRIMARY, B_LOST };

/* A growing list of int64 values, for the medians. */
typedef struct int64s {
    int64_t *v;
    size_t n, cap;
} int64s;

static int int64s_add(int64s *a, int64_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        int64_t *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median of a's values (sorted in place); the mean of the middle two for an even
 * count, halved before adding so that it cannot overflow. */
static int64_t median(int64s *a)
{
    size_t m = a->n / 2;

    qsort(a->v, a->n, sizeof a->v[0], cmp_int64);
    if (a->n % 2 == 1)
        return a->v[m];
    return a->v[m - 1] / 2 + a->v[m] / 2 + (a->v[m - 1] % 2 + a->v[m] % 2) / 2;
}

void ovs_cellset_free(ovs_cellset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].scenario);
        free(set->v[i].strategy);
        free(set->v[i].backend);
        free(set->v[i].params);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

/* Whether the current row belongs to cell c. */
static int same_cell(sqlite3_stmt *st, const ovs_cell_figures *c)
{
    return strcmp(ovs_rdb_text(st, B_SCENARIO), c->scenario) == 0 &&
           strcmp(ovs_rdb_text(st, B_STRATEGY), c->strategy) == 0 &&
           strcmp(ovs_rdb_text(st, B_BACKEND), c->backend) == 0 &&
           strcmp(ovs_rdb_text(st, B_PARAMS), c->params) == 0;
}

/* Start a new cell from the current row at the end of set. */
static ovs_cell_figures *new_cell(ovs_cellset *set, size_t *cap, sqlite3_stmt *st)
{
    ovs_cell_figures *c;

    if (set->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        ovs_cell_figures *v = realloc(set->v, ncap * sizeof *v);
        if (v == NULL)
            return NULL;
        set->v = v;
        *cap = ncap;
    }
    c = &set->v[set->n++];
    memset(c, 0, sizeof *c);
    c->scenario = ovs_rdb_dup(st, B_SCENARIO);
    c->strategy = ovs_rdb_dup(st, B_STRATEGY);
    c->backend = ovs_rdb_dup(st, B_BACKEND);
    c->params = ovs_rdb_dup(st, B_PARAMS);
    if (!c->scenario || !c->strategy || !c->backend || !c->params)
        return NULL;
    return c;
}

/* Take the medians of the cell's lists into c, and empty the lists. */
static void close_cell(ovs_cell_figures *c, int64s *p99, int64s *lost)
{
    if (c == NULL)
        return;
    if ((c->has_p99 = p99->n > 0))
        c->p99_ns = median(p99);
    if ((c->has_lost = lost->n > 0))
        c->lost_sales = median(lost);
    p99->n = lost->n = 0;
}

int ovs_cellset_load(sqlite3 *results, ovs_cellset *set, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64s p99 = { 0 }, lost = { 0 };
    ovs_cell_figures *c = NULL;
    size_t cap = 0;
    int rc, has_lost = 0;
    char sql[1024];

    set->v = NULL;
    set->n = 0;
    /* lost_sales is a column newer databases have; an older one simply has no figure. */
    if (ovs_rdb_prepare(results, "SELECT 1 FROM pragma_table_info('runs')"
                                 " WHERE name = 'lost_sales'", &st, err, errlen) < 0)
        return -1;
    rc = sqlite3_step(st);
    has_lost = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ovs_rdb_fail(results, st, "runs", err, errlen);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "SELECT scenario, strategy, COALESCE(backend, 'sqlite') AS b,"
             " COALESCE(params, '') AS p, status = 'ok', verdict = 'unsafe', p99_ns,"
             " (SELECT MAX(observed) FROM checks c WHERE c.run = runs.id AND c."
             OVS_RDB_PRIMARY_CHECK "), %s"
             " FROM runs WHERE status <> 'n/a' ORDER BY scenario, strategy, b, p, id",
             has_lost ? "lost_sales" : "NULL");
    if (ovs_rdb_prepare(results, sql, &st, err, errlen) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c == NULL || !same_cell(st, c)) {
            close_cell(c, &p99, &lost);
            if ((c = new_cell(set, &cap, st)) == NULL)
                goto oom;
        }
        if (!sqlite3_column_int(st, B_OK))
            continue;
        c->runs++;
        c->unsafe += sqlite3_column_int(st, B_UNSAFE);
        if (sqlite3_column_type(st, B_PRIMARY) != SQLITE_NULL) {
            int64_t v = sqlite3_column_int64(st, B_PRIMARY);
            if (!c->has_oversold || v > c->oversold)
                c->oversold = v;
            c->has_oversold = 1;
        }
        if (sqlite3_column_type(st, B_P99) != SQLITE_NULL &&
            int64s_add(&p99, sqlite3_column_int64(st, B_P99)) < 0)
            goto oom;
        if (sqlite3_column_type(st, B_LOST) != SQLITE_NULL &&
            int64s_add(&lost, sqlite3_column_int64(st, B_LOST)) < 0)
            goto oom;
    }
    close_cell(c, &p99, &lost);
    free(p99.v);
    free(lost.v);
    if (ovs_rdb_finish(results, st, rc, err, errlen) < 0) {
        ovs_cellset_free(set);
        return -1;
    }
    return 0;
oom:
    ovs_seterr(err, errlen, "out of memory");
    sqlite3_finalize(st);
    free(p99.v);
    free(lost.v);
    ovs_cellset_free(set);
    return -1;
}

/* Cells in the order both lists are sorted by. */
static int cmp_cell(const ovs_cell_figures *a, const ovs_cell_figures *b)
{
    int d;
    if ((d = strcmp(a->scenario, b->scenario)) != 0 ||
        (d = strcmp(a->strategy, b->strategy)) != 0 ||
        (d = strcmp(a->backend, b->backend)) != 0)
        return d;
    return strcmp(a->params, b->params);
}

/* A row of the table. */
typedef struct diff_row {
    char cell[400];
    const char *figure;
    char old[48], new[48], change[48];
} diff_row;

typedef struct diff_rows {
    diff_row *v;
    size_t n, cap;
} diff_rows;

static void cell_name(const ovs_cell_figures *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s x %s on %s%s%s%s", c->scenario, c->strategy, c->backend,
             c->params[0] ? " (" : "", c->params, c->params[0] ? ")" : "");
}

static diff_row *add_row(diff_rows *rows, const ovs_cell_figures *c, const char *figure)
{
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 8;
        diff_row *v = realloc(rows->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        rows->v = v;
        rows->cap = cap;
    }
    diff_row *r = &rows->v[rows->n++];
    cell_name(c, r->cell, sizeof r->cell);
    r->figure = figure;
    return r;
}

static void ms_text(int64_t ns, char *buf, size_t len)
{
    char v[40];
    ovs_report_fixed(ns, 1000000, 3, v, sizeof v);
    snprintf(buf, len, "%s ms", v);
}

/* Compare one cell in both databases; add a row per figure that got worse. Returns the
 * rows added, or -1 when out of memory. */
static int compare_cell(const ovs_cell_figures *o, const ovs_cell_figures *n,
                        const ovs_diff_limits *l, diff_rows *rows)
{
    diff_row *r;
    int worse = 0;

    if (o->runs == 0)
        return 0; /* nothing to hold the new runs to */
    if (n->runs == 0) {
        if ((r = add_row(rows, n, "ok runs")) == NULL)
            return -1;
        snprintf(r->old, sizeof r->old, "%d", o->runs);
        snprintf(r->new, sizeof r->new, "0");
        snprintf(r->change, sizeof r->change, "none completed");
        return 1;
    }
    double ro = (double)o->unsafe / o->runs, rn = (double)n->unsafe / n->runs;
    /* A small slack so that 1/3 against 2/6 is no change. */
    if (rn - ro > l->unsafe_rate + 1e-9) {
        if ((r = add_row(rows, n, "unsafe rate")) == NULL)
            return -1;
        snprintf(r->old, sizeof r->old, "%d/%d", o->unsafe, o->runs);
        snprintf(r->new, sizeof r->new, "%d/%d", n->unsafe, n->runs);
        snprintf(r->change, sizeof r->change, "%+.2f", rn - ro);
        worse++;
    }
    if (o->has_oversold && n->has_oversold && n->oversold - o->oversold > l->oversold) {
        if ((r = add_row(rows, n, "oversold")) == NULL)
            return -1;
        snprintf(r->old, sizeof r->old, "%lld", (long long)o->oversold);
        snprintf(r->new, sizeof r->new, "%lld", (long long)n->oversold);
        snprintf(r->change, sizeof r->change, "%+lld", (long long)(n->oversold - o->oversold));
        worse++;
    }
    if (o->has_p99 && n->has_p99 && n->p99_ns - o->p99_ns >= l->p99_floor_ns &&
        (double)n->p99_ns > (double)o->p99_ns * (1.0 + l->p99_pct / 100.0)) {
        if ((r = add_row(rows, n, "p99")) == NULL)
            return -1;
        ms_text(o->p99_ns, r->old, sizeof r->old);
        ms_text(n->p99_ns, r->new, sizeof r->new);
        if (o->p99_ns > 0)
            snprintf(r->change, sizeof r->change, "%+.1f %%",
                     100.0 * (double)(n->p99_ns - o->p99_ns) / (double)o->p99_ns);
        else
            snprintf(r->change, sizeof r->change, "from 0");
        worse++;
    }
    if (l->lost_sales >= 0 && o->has_lost && n->has_lost &&
        n->lost_sales - o->lost_sales > l->lost_sales) {
        if ((r = add_row(rows, n, "lost sales")) == NULL)
            return -1;
        snprintf(r->old, sizeof r->old, "%lld", (long long)o->lost_sales);
        snprintf(r->new, sizeof r->new, "%lld", (long long)n->lost_sales);
        snprintf(r->change, sizeof r->change, "%+lld",
                 (long long)(n->lost_sales - o->lost_sales));
        worse++;
    }
    return worse;
}

static int width_of(const diff_rows *rows, size_t field_offset, const char *head)
{
    size_t w = strlen(head);
    for (size_t i = 0; i < rows->n; i++) {
        const char *s = (const char *)&rows->v[i] + field_offset;
        if (strlen(s) > w)
            w = strlen(s);
    }
    return (int)w;
}

static void write_table(FILE *out, const diff_rows *rows)
{
    int wc = width_of(rows, offsetof(diff_row, cell), "cell");
    int wo = width_of(rows, offsetof(diff_row, old), "old");
    int wn = width_of(rows, offsetof(diff_row, new), "new");

    fprintf(out, "%-*s  %-11s  %*s  %*s  %s\n", wc, "cell", "figure", wo, "old", wn, "new",
            "change");
    for (size_t i = 0; i < rows->n; i++) {
        const diff_row *r = &rows->v[i];
        fprintf(out, "%-*s  %-11s  %*s  %*s  %s\n", wc, r->cell, r->figure, wo, r->old, wn,
                r->new, r->change);
    }
}

int ovs_diff_write(const ovs_cellset *old, const ovs_cellset *new, const ovs_diff_limits *l,
                   FILE *out, ovs_diff_result *res, char *err, size_t errlen)
{
    diff_rows rows = { 0 };
    size_t i = 0, j = 0;
    char name[400];

    memset(res, 0, sizeof *res);
    /* First pass: the figures, so the table can be aligned before it is written. */
    while (i < old->n && j < new->n) {
        int d = cmp_cell(&old->v[i], &new->v[j]);
        if (d < 0) {
            i++;
        } else if (d > 0) {
            j++;
        } else {
            int w = compare_cell(&old->v[i], &new->v[j], l, &rows);
            if (w < 0) {
                free(rows.v);
                ovs_seterr(err, errlen, "out of memory");
                return -1;
            }
            res->compared++;
            res->worse += w > 0;
            i++;
            j++;
        }
    }
    res->figures = (int)rows.n;
    if (rows.n > 0)
        write_table(out, &rows);
    free(rows.v);
    /* Second pass: the cells in one list only, in order. */
    for (i = 0, j = 0; i < old->n || j < new->n;) {
        int d = i == old->n ? 1 : j == new->n ? -1 : cmp_cell(&old->v[i], &new->v[j]);
        if (d == 0) {
            i++;
            j++;
            continue;
        }
        const ovs_cell_figures *c = d < 0 ? &old->v[i++] : &new->v[j++];
        cell_name(c, name, sizeof name);
        fprintf(out, "%s: %s%s\n", d < 0 ? "removed" : "new", name,
                l->strict ? " (worse: --strict)" : "");
        if (d < 0)
            res->removed++;
        else
            res->added++;
    }
    if (l->strict)
        res->worse += res->added + res->removed;
    fprintf(out, "diff: %d cell%s compared, %d worse (%d figure%s), %d new, %d removed\n",
            res->compared, res->compared == 1 ? "" : "s", res->worse, res->figures,
            res->figures == 1 ? "" : "s", res->added, res->removed);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing the comparison failed");
        return -1;
    }
    return 0;
}
