/* repeats.c - cells run more than once: rate, interval, spread, worst run (repeats.h). */
#include "reports/repeats.h"

#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/results_db.h"
#include "core/util.h"

#define REP_CELLS_SQL                                                                      \
    "SELECT scenario, " OVS_RDB_COLUMN_EXPR " AS col, params FROM runs"                    \
    " WHERE status <> 'n/a' GROUP BY scenario, col, params HAVING COUNT(*) > 1"            \
    " ORDER BY MIN(id)"
#define REP_RUNS_SQL                                                                       \
    "SELECT id, seed, status, verdict, figure, scenario_file, strategy,"                   \
    " (SELECT observed FROM checks c WHERE c.run = runs.id"                                \
    "  AND c.invariant IN ('oversold', 'double_booked') ORDER BY c.rowid LIMIT 1),"        \
    " succeeded, throughput, p50_ns, p99_ns, retries FROM runs"                            \
    " WHERE scenario IS ?1 AND " OVS_RDB_COLUMN_EXPR " IS ?2 AND params IS ?3"             \
    " AND status <> 'n/a' ORDER BY id"
enum { R_ID, R_SEED, R_STATUS, R_VERDICT, R_FIGURE, R_FILE, R_STRATEGY, R_FIRST_FIGURE };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ovs_rep_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void spread_of(ovs_rep_spread *s, double *v, int n)
{
    s->n = n;
    if (n == 0)
        return;
    s->median = ovs_rep_median(v, n); /* sorts v */
    s->min = v[0];
    s->max = v[n - 1];
}

/* The runs of cell c: the tally, the worst run and the spread of each figure. */
static int load_runs(sqlite3 *db, sqlite3_stmt *st, ovs_rep_cell *c, char *err,
                     size_t errlen)
{
    double *vals[OVS_REP_NFIGURES] = { 0 };
    int nv[OVS_REP_NFIGURES] = { 0 }, rc, cap = 16, ret = -1;
    int64_t worst = -1;

    for (int f = 0; f < OVS_REP_NFIGURES; f++)
        if ((vals[f] = malloc((size_t)cap * sizeof(double))) == NULL)
            goto out;
    c->worst_id = -1;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, c->scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->strategy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->params, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *status = ovs_rdb_text(st, R_STATUS), *verdict = ovs_rdb_text(st, R_VERDICT);
        if (c->runs++ == 0) {
            c->scenario_file = ovs_rdb_dup(st, R_FILE);
            c->strategy_name = ovs_rdb_dup(st, R_STRATEGY);
        }
        if (status == NULL || strcmp(status, "ok") != 0 || verdict == NULL)
            continue;
        c->judged++;
        int64_t damage = sqlite3_column_int64(st, R_FIRST_FIGURE);
        if (strcmp(verdict, "unsafe") == 0 && (c->unsafe++ == 0 || damage > worst)) {
            worst = damage;
            c->worst_id = sqlite3_column_int64(st, R_ID);
            c->worst_seed = (uint64_t)sqlite3_column_int64(st, R_SEED);
            free(c->worst_figure);
            c->worst_figure = ovs_rdb_dup(st, R_FIGURE);
        }
        if (c->judged > cap) {
            cap *= 2;
            for (int f = 0; f < OVS_REP_NFIGURES; f++) {
                double *p = realloc(vals[f], (size_t)cap * sizeof(double));
                if (p == NULL)
                    goto out;
                vals[f] = p;
            }
        }
        for (int f = 0; f < OVS_REP_NFIGURES; f++)
            if (sqlite3_column_type(st, R_FIRST_FIGURE + f) != SQLITE_NULL)
                vals[f][nv[f]++] = sqlite3_column_double(st, R_FIRST_FIGURE + f);
    }
    if (rc != SQLITE_DONE) {
        ovs_rdb_fail(db, NULL, "runs", err, errlen);
        goto out;
    }
    for (int f = 0; f < OVS_REP_NFIGURES; f++)
        spread_of(&c->fig[f], vals[f], nv[f]);
    ovs_wilson(c->unsafe, c->judged, &c->lo, &c->hi);
    ret = 0;
out:
    if (ret != 0 && err != NULL && err[0] == '\0')
        ovs_seterr(err, errlen, "out of memory");
    for (int f = 0; f < OVS_REP_NFIGURES; f++)
        free(vals[f]);
    return ret;
}

int ovs_repeats_load(sqlite3 *db, ovs_rep_cells *out, char *err, size_t errlen)
{
    sqlite3_stmt *cells = NULL, *runs = NULL;
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (ovs_rdb_prepare(db, REP_CELLS_SQL, &cells, err, errlen) < 0)
        return -1;
    if (ovs_rdb_prepare(db, REP_RUNS_SQL, &runs, err, errlen) < 0)
        goto fail;
    while ((rc = sqlite3_step(cells)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            ovs_rep_cell *p = realloc(out->v, ncap * sizeof(*p));
            if (p == NULL) {
                ovs_seterr(err, errlen, "out of memory");
                goto fail;
            }
            out->v = p;
            cap = ncap;
        }
        ovs_rep_cell *c = &out->v[out->n++];
        memset(c, 0, sizeof(*c));
        c->scenario = ovs_rdb_dup(cells, 0);
        c->strategy = ovs_rdb_dup(cells, 1);
        c->params = ovs_rdb_dup(cells, 2);
        if (c->scenario == NULL || c->strategy == NULL || c->params == NULL) {
            ovs_seterr(err, errlen, "out of memory");
            goto fail;
        }
        if (load_runs(db, runs, c, err, errlen) < 0)
            goto fail;
    }
    if (rc != SQLITE_DONE) {
        ovs_rdb_fail(db, NULL, "runs", err, errlen);
        goto fail;
    }
    sqlite3_finalize(runs);
    sqlite3_finalize(cells);
    return 0;
fail:
    sqlite3_finalize(runs);
    sqlite3_finalize(cells);
    ovs_repeats_free(out);
    return -1;
}

void ovs_repeats_free(ovs_rep_cells *c)
{
    for (size_t i = 0; i < c->n; i++) {
        ovs_rep_cell *x = &c->v[i];
        free(x->scenario);
        free(x->strategy);
        free(x->params);
        free(x->worst_figure);
        free(x->scenario_file);
        free(x->strategy_name);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

/* Markdown table text: '|' escaped, line breaks as spaces. */
static void md_text(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
    }
}

/* "median [min–max]" with `decimals` places of v / div; a dash when nothing recorded it.
 * A range of one value is the value alone. */
static void md_spread(FILE *out, const ovs_rep_spread *s, double div, int decimals)
{
    if (s->n == 0) {
        fputs("—", out);
        return;
    }
    /* A count's median of an even number of runs may fall between two counts. */
    double m = s->median / div;
    char lo[32], hi[32];
    fprintf(out, "%.*f", decimals == 0 && m != (double)(int64_t)m ? 1 : decimals, m);
    snprintf(lo, sizeof(lo), "%.*f", decimals, s->min / div);
    snprintf(hi, sizeof(hi), "%.*f", decimals, s->max / div);
    if (strcmp(lo, hi) != 0)
        fprintf(out, " [%s–%s]", lo, hi);
}

void ovs_repeats_md(FILE *out, const ovs_rep_cells *c)
{
    if (c->n == 0)
        return;
    fputs("\n## Repeated cells\n\n"
          "Each cell's runs with their own seeds: the unsafe rate with its 95 % (Wilson)"
          " interval, each figure's median [min–max], and the worst run, which `oversell run"
          " SCENARIO --strategy NAME --seed S` replays.\n\n"
          "| scenario | strategy | params | runs | unsafe | 95 % interval | worst run"
          " | oversold or double-booked | succeeded | req/s | p50 ms | p99 ms | retries |\n"
          "| --- | --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
          out);
    for (size_t i = 0; i < c->n; i++) {
        const ovs_rep_cell *x = &c->v[i];
        fputs("| ", out);
        md_text(out, x->scenario);
        fputs(" | ", out);
        md_text(out, x->strategy);
        fputs(" | ", out);
        md_text(out, x->params);
        fprintf(out, " | %d", x->runs);
        if (x->runs > x->judged)
            fprintf(out, " (%d without a verdict)", x->runs - x->judged);
        fprintf(out, " | %d/%d | %.0f–%.0f %% | ", x->unsafe, x->judged, x->lo * 100,
                x->hi * 100);
        if (x->worst_id >= 0) {
            fprintf(out, "run %lld, seed %llu: ", (long long)x->worst_id,
                    (unsigned long long)x->worst_seed);
            md_text(out, x->worst_figure);
        } else {
            fputs("none unsafe", out);
        }
        static const struct {
            double div;
            int decimals;
        } unit[OVS_REP_NFIGURES] = {
            [OVS_REP_DAMAGE] = { 1, 0 }, [OVS_REP_SUCCEEDED] = { 1, 0 },
            [OVS_REP_RPS] = { 1, 1 },    [OVS_REP_P50] = { 1e6, 3 },
            [OVS_REP_P99] = { 1e6, 3 },  [OVS_REP_RETRIES] = { 1, 0 },
        };
        for (int f = 0; f < OVS_REP_NFIGURES; f++) {
            fputs(" | ", out);
            md_spread(out, &x->fig[f], unit[f].div, unit[f].decimals);
        }
        fputs(" |\n", out);
    }
}
