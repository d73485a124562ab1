/* sweep.c - the sweeps of a results database as a model, and sweep.md.
 *
 * A sweep's points are read back from runs.params (see sweep.h for how the varied keys
 * and the axis are found), so `oversell report` rebuilds the same table from a database
 * alone. Per point the figures are those a reader compares retry settings by: how many
 * requests succeeded, how many buyers gave up, how long they waited, how often the
 * strategy retried, and how often a run broke the invariant, as k of N with its 95 %
 * Wilson interval since a handful of runs says little on its own. */
#include "reports/sweep.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reports/results_db.h"
#include "core/util.h"

#define SW_MAX_KEYS 32 /* parameters in one text; a strategy declares at most 16 */

/* One runs row of a sweep, as read. NAN: SQL NULL. */
typedef struct sw_row {
    size_t point;                /* index of its params text */
    int ok, unsafe;
    double requests, succeeded, lost, busy, retries, p50, p99;
} sw_row;

/* A params text split into keys and values (pointers into buf). */
typedef struct sw_kv {
    char *buf;
    int n;
    const char *k[SW_MAX_KEYS], *v[SW_MAX_KEYS];
} sw_kv;

static int sw_split(const char *params, sw_kv *kv)
{
    char *p;

    kv->n = 0;
    if ((kv->buf = strdup(params)) == NULL)
        return -1;
    for (p = kv->buf; *p != '\0' && kv->n < SW_MAX_KEYS;) {
        char *end = p + strcspn(p, ","), *eq;
        int last = *end == '\0';
        *end = '\0';
        eq = strchr(p, '=');
        kv->k[kv->n] = p;
        kv->v[kv->n] = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        kv->n++;
        if (last)
            break;
        p = end + 1;
    }
    return 0;
}

static const char *sw_get(const sw_kv *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->k[i], key) == 0)
            return kv->v[i];
    return NULL;
}

static int sw_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int sw_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the finished rows of one point for the figure at byte offset off of
 * sw_row; NAN when none has it. tmp holds n doubles. */
static double sw_median(const sw_row *rows, size_t n, size_t point, size_t off, double *tmp)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&rows[i] + off);
        if (rows[i].point == point && rows[i].ok && !isnan(v))
            tmp[m++] = v;
    }
    if (m == 0)
        return NAN;
    qsort(tmp, m, sizeof *tmp, sw_cmp_double);
    return m % 2 ? tmp[m / 2] : (tmp[m / 2 - 1] + tmp[m / 2]) / 2;
}

/* The index of s in v[0..*n), appending a copy when it is new; -1 out of memory. */
static long sw_intern(char ***v, size_t *n, const char *s)
{
    char **nv;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return (long)i;
    if ((nv = realloc(*v, (*n + 1) * sizeof *nv)) == NULL)
        return -1;
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL)
        return -1;
    return (long)(*n)++;
}

/* Append "k=v" to a growing "a,b" text. */
static int sw_append(char **text, const char *k, const char *v)
{
    size_t old = *text ? strlen(*text) : 0, add = strlen(k) + (v ? strlen(v) + 1 : 0) + 2;
    char *t = realloc(*text, old + add);
    if (t == NULL)
        return -1;
    if (old == 0)
        t[0] = '\0';
    snprintf(t + old, add, "%s%s%s%s", old ? "," : "", k, v ? "=" : "", v ? v : "");
    *text = t;
    return 0;
}

static int sw_cmp_point(const void *a, const void *b)
{
    const ovs_sweep_point *p = a, *q = b;
    if (p->xi != q->xi)
        return (p->xi > q->xi) - (p->xi < q->xi);
    return (p->li > q->li) - (p->li < q->li);
}

/* The axes of a sweep from its points' params texts (kv[0..np), in order of first run). */
static int sw_axes(ovs_sweep *w, const sw_kv *kv, size_t np)
{
    const char *keys[SW_MAX_KEYS];
    int nk = 0, varied[SW_MAX_KEYS], changes[SW_MAX_KEYS], x = -1;

    /* Every key any point has, in the order the texts name them. */
    for (size_t p = 0; p < np; p++)
        for (int i = 0; i < kv[p].n; i++) {
            int seen = 0;
            for (int j = 0; j < nk && !seen; j++)
                seen = strcmp(keys[j], kv[p].k[i]) == 0;
            if (!seen && nk < SW_MAX_KEYS)
                keys[nk++] = kv[p].k[i];
        }
    for (int j = 0; j < nk; j++) {
        varied[j] = 0;
        changes[j] = 0;
        for (size_t p = 1; p < np; p++) {
            int d = !sw_same(sw_get(&kv[p], keys[j]), sw_get(&kv[p - 1], keys[j]));
            changes[j] += d;
            varied[j] |= d || !sw_same(sw_get(&kv[p], keys[j]), sw_get(&kv[0], keys[j]));
        }
        /* The outer loop of the grid changes least often; the first named of equals. */
        if (varied[j] && (x < 0 || changes[j] < changes[x]))
            x = j;
    }
    if (x < 0)
        return 0; /* texts that differ only in spelling: no axis to draw */
    if ((w->x_key = strdup(keys[x])) == NULL)
        return -1;
    for (int j = 0; j < nk; j++) {
        const char *v = sw_get(&kv[0], keys[j]);
        if (j != x && varied[j] && sw_append(&w->line_key, keys[j], NULL) < 0)
            return -1;
        if (!varied[j] && sw_append(&w->fixed, keys[j], v ? v : "") < 0)
            return -1;
    }
    for (size_t p = 0; p < np; p++) {
        const char *xv = sw_get(&kv[p], keys[x]);
        char *line = NULL;
        long xi = sw_intern(&w->xs, &w->nx, xv ? xv : "(unset)"), li;
        int nline = 0;
        for (int j = 0; j < nk; j++)
            nline += j != x && varied[j];
        for (int j = 0; j < nk; j++) {
            const char *v = sw_get(&kv[p], keys[j]);
            if (j == x || !varied[j])
                continue;
            /* One line key: its value names the line; several: each "k=v". */
            if (sw_append(&line, nline > 1 ? keys[j] : v ? v : "(unset)",
                          nline > 1 ? (v ? v : "(unset)") : NULL) < 0) {
                free(line);
                return -1;
            }
        }
        li = sw_intern(&w->lines, &w->nl, line ? line : "");
        free(line);
        if (xi < 0 || li < 0)
            return -1;
        w->pts[p].xi = (size_t)xi;
        w->pts[p].li = (size_t)li;
    }
    return 0;
}

#define SW_ROWS_SQL                                                                        \
    "SELECT params, status = 'ok', verdict IS 'unsafe', requests, succeeded, %s, busy,"   \
    " retries, p50_ns, p99_ns FROM runs WHERE scenario IS ?1 AND strategy IS ?2"          \
    " AND COALESCE(backend, 'sqlite') IS ?3 ORDER BY id"

static double sw_col(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Read the runs of one sweep and compute its points. */
static int sw_load_one(sqlite3 *db, sqlite3_stmt *st, ovs_sweep *w, char *err, size_t errlen)
{
    sw_row *rows = NULL;
    char **texts = NULL;
    sw_kv *kv = NULL;
    double *tmp = NULL;
    size_t n = 0, cap = 0, np = 0;
    int rc, ret = -1;

    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, w->scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, w->strategy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w->backend, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *params = ovs_rdb_text(st, 0);
        long pi;
        if (n == cap) {
            sw_row *nr = realloc(rows, (cap = cap ? cap * 2 : 16) * sizeof *nr);
            if (nr == NULL)
                goto oom;
            rows = nr;
        }
        if ((pi = sw_intern(&texts, &np, params ? params : "")) < 0)
            goto oom;
        rows[n++] = (sw_row){ (size_t)pi, sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                              sw_col(st, 3), sw_col(st, 4), sw_col(st, 5), sw_col(st, 6),
                              sw_col(st, 7), sw_col(st, 8), sw_col(st, 9) };
    }
    if (rc != SQLITE_DONE) {
        ovs_rdb_fail(db, NULL, "runs", err, errlen);
        goto out;
    }
    w->pts = calloc(np ? np : 1, sizeof *w->pts);
    kv = calloc(np ? np : 1, sizeof *kv);
    tmp = calloc(n ? n : 1, sizeof *tmp);
    if (w->pts == NULL || kv == NULL || tmp == NULL)
        goto oom;
    w->n = np;
    for (size_t p = 0; p < np; p++)
        if (sw_split(texts[p], &kv[p]) < 0)
            goto oom;
    if (sw_axes(w, kv, np) < 0)
        goto oom;
    for (size_t p = 0; p < np; p++) {
        ovs_sweep_point *pt = &w->pts[p];
        pt->params = texts[p];
        texts[p] = NULL;
        for (size_t i = 0; i < n; i++) {
            if (rows[i].point != p)
                continue;
            pt->runs++;
            if (!rows[i].ok)
                continue;
            pt->finished++;
            pt->unsafe += rows[i].unsafe;
            pt->requests += isnan(rows[i].requests) ? 0 : (int64_t)rows[i].requests;
            pt->succeeded += isnan(rows[i].succeeded) ? 0 : (int64_t)rows[i].succeeded;
        }
        pt->lost_sales = sw_median(rows, n, p, offsetof(sw_row, lost), tmp);
        pt->busy = sw_median(rows, n, p, offsetof(sw_row, busy), tmp);
        pt->retries = sw_median(rows, n, p, offsetof(sw_row, retries), tmp);
        pt->p50_ns = sw_median(rows, n, p, offsetof(sw_row, p50), tmp);
        pt->p99_ns = sw_median(rows, n, p, offsetof(sw_row, p99), tmp);
    }
    qsort(w->pts, w->n, sizeof *w->pts, sw_cmp_point);
    ret = 0;
    goto out;
oom:
    ovs_seterr(err, errlen, "out of memory");
out:
    for (size_t p = 0; p < np; p++) {
        free(texts[p]);
        if (kv)
            free(kv[p].buf);
    }
    free(texts);
    free(kv);
    free(tmp);
    free(rows);
    return ret;
}

/* Whether runs has a column of that name (older databases lack the newer ones). */
static int sw_has_column(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc, found = 0;

    if (ovs_rdb_prepare(db, "SELECT name FROM pragma_table_info('runs')", &st, err,
                        errlen) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        found |= ovs_rdb_text(st, 0) != NULL && strcmp(ovs_rdb_text(st, 0), name) == 0;
    return ovs_rdb_finish(db, st, rc, err, errlen) < 0 ? -1 : found;
}

/* Whether any run recorded lost sales: an older database has no such column, and a run
 * without events (or one that failed before its checks) left it NULL. */
static int sw_has_lost(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int has = sw_has_column(db, "lost_sales", err, errlen), rc;

    if (has <= 0)
        return has;
    if (ovs_rdb_prepare(db, "SELECT EXISTS (SELECT 1 FROM runs WHERE lost_sales IS NOT NULL)",
                        &st, err, errlen) < 0)
        return -1;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return ovs_rdb_finish(db, st, rc, err, errlen) < 0 ? -1 : 0;
    has = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return has;
}

static void sw_free_one(ovs_sweep *w)
{
    free(w->scenario);
    free(w->strategy);
    free(w->backend);
    free(w->x_key);
    free(w->line_key);
    free(w->fixed);
    for (size_t j = 0; j < w->nx; j++)
        free(w->xs[j]);
    for (size_t j = 0; j < w->nl; j++)
        free(w->lines[j]);
    for (size_t j = 0; j < w->n; j++)
        free(w->pts[j].params);
    free(w->xs);
    free(w->lines);
    free(w->pts);
    memset(w, 0, sizeof *w);
}

int ovs_sweeps_load(sqlite3 *db, ovs_sweeps *s, char *err, size_t errlen)
{
    sqlite3_stmt *groups = NULL, *rows = NULL;
    char sql[sizeof(SW_ROWS_SQL) + 32];
    int rc, ret = -1;

    memset(s, 0, sizeof *s);
    if ((s->has_lost = sw_has_lost(db, err, errlen)) < 0)
        return -1;
    snprintf(sql, sizeof sql, SW_ROWS_SQL, s->has_lost ? "lost_sales" : "NULL");
    if (ovs_rdb_prepare(db, sql, &rows, err, errlen) < 0 ||
        ovs_rdb_prepare(db, "SELECT scenario, strategy, COALESCE(backend, 'sqlite') FROM runs"
                            " GROUP BY 1, 2, 3 HAVING COUNT(DISTINCT params) > 1"
                            " ORDER BY MIN(id)", &groups, err, errlen) < 0)
        goto out;
    while ((rc = sqlite3_step(groups)) == SQLITE_ROW) {
        ovs_sweep *nv = realloc(s->v, (s->n + 1) * sizeof *nv), *w;
        if (nv == NULL)
            goto oom;
        s->v = nv;
        w = memset(&s->v[s->n++], 0, sizeof *w);
        if ((w->scenario = ovs_rdb_dup(groups, 0)) == NULL ||
            (w->strategy = ovs_rdb_dup(groups, 1)) == NULL ||
            (w->backend = ovs_rdb_dup(groups, 2)) == NULL)
            goto oom;
        if (sw_load_one(db, rows, w, err, errlen) < 0)
            goto out;
        if (w->x_key == NULL) {
            sw_free_one(w);
            s->n--;
        }
    }
    if (rc != SQLITE_DONE) {
        ovs_rdb_fail(db, NULL, "runs", err, errlen);
        goto out;
    }
    ret = 0;
    goto out;
oom:
    ovs_seterr(err, errlen, "out of memory");
out:
    sqlite3_finalize(groups);
    sqlite3_finalize(rows);
    if (ret < 0)
        ovs_sweeps_free(s);
    return ret;
}

void ovs_sweeps_free(ovs_sweeps *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        sw_free_one(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

double ovs_sweep_success(const ovs_sweep_point *p)
{
    return p->requests > 0 ? 100.0 * (double)p->succeeded / (double)p->requests : -1;
}

/* ---- sweep.md -------------------------------------------------------------------- */

/* A median count: whole, or with its half. */
static void md_count(FILE *out, double v)
{
    if (isnan(v))
        fputs("—", out);
    else
        fprintf(out, v == floor(v) ? "%.0f" : "%.1f", v);
}

static void md_ms(FILE *out, double ns)
{
    if (isnan(ns))
        fputs("—", out);
    else
        fprintf(out, "%.2f", ns / OVS_NS_PER_MS);
}

/* Free text inside a table cell: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
    }
}

static void md_sweep(FILE *out, const ovs_sweep *w, int has_lost)
{
    fputs("## ", out);
    md_cell(out, w->scenario);
    fputs(" × ", out);
    md_cell(out, w->strategy);
    if (strcmp(w->backend, "sqlite") != 0) {
        fputs(" on ", out);
        md_cell(out, w->backend);
    }
    fprintf(out, "\n\n%zu points: %s along the x axis", w->n, w->x_key);
    if (w->line_key)
        fprintf(out, ", one line per %s", w->line_key);
    if (w->fixed)
        fprintf(out, "; the same in every point: %s", w->fixed);
    fputs(".\n\n", out);

    /* One varied parameter: no column for lines. */
    fprintf(out, "| %s |%s%s%s runs | success | %sgave up | p50 ms | p99 ms | retries |"
                 " unsafe (95 %% interval) |\n|---|%s---|---|%s---|---|---|---|---|\n",
            w->x_key, w->line_key ? " " : "", w->line_key ? w->line_key : "",
            w->line_key ? " |" : "", has_lost ? "lost sales | " : "", w->line_key ? "---|" : "",
            has_lost ? "---|" : "");
    for (size_t i = 0; i < w->n; i++) {
        const ovs_sweep_point *p = &w->pts[i];
        double lo, hi, rate = ovs_sweep_success(p);
        fputs("| ", out);
        md_cell(out, w->xs[p->xi]);
        if (w->line_key) {
            fputs(" | ", out);
            md_cell(out, w->lines[p->li]);
        }
        fprintf(out, " | %d", p->runs);
        if (p->finished < p->runs)
            fprintf(out, " (%d finished)", p->finished);
        if (rate < 0)
            fputs(" | —", out);
        else
            fprintf(out, " | %.1f %% (%lld/%lld)", rate, (long long)p->succeeded,
                    (long long)p->requests);
        fputs(" | ", out);
        if (has_lost) {
            md_count(out, p->lost_sales);
            fputs(" | ", out);
        }
        md_count(out, p->busy);
        fputs(" | ", out);
        md_ms(out, p->p50_ns);
        fputs(" | ", out);
        md_ms(out, p->p99_ns);
        fputs(" | ", out);
        md_count(out, p->retries);
        ovs_wilson(p->unsafe, p->finished, &lo, &hi);
        fprintf(out, " | %d/%d (%.0f-%.0f %%) |\n", p->unsafe, p->finished, lo * 100,
                hi * 100);
    }
    fputs("\n", out);
}

int ovs_report_sweep(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    ovs_sweeps s;

    if (ovs_sweeps_load(results, &s, err, errlen) < 0)
        return -1;
    fputs("# oversell sweep\n\n", out);
    if (s.n == 0) {
        fputs("No sweep in this database: no scenario and strategy were run under more than"
              " one parameter text.\n", out);
    } else {
        fputs("Per point, over its finished runs: success is succeeded / requests summed;"
              " gave up (requests busy after their retries), p50, p99 and retries are"
              " medians of the runs' figures; unsafe is k of N runs.", out);
        fputs(s.has_lost ? " Lost sales (buyers refused or who gave up while stock"
                           " remained) are a median too.\n\n"
                         : " Lost sales are not recorded in this database (no run recorded"
                           " them).\n\n", out);
    }
    for (size_t i = 0; i < s.n; i++)
        md_sweep(out, &s.v[i], s.has_lost);
    ovs_sweeps_free(&s);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing sweep.md failed");
        return -1;
    }
    return 0;
}
