/* cli_bench_runs.c - the phases of `oversell bench` that run cells through the real
 * runner: the flash sale (phase 1), every strategy on a hot SKU and on many SKUs (phase
 * 4), and what recording costs (phase 5). Every run is recorded in the output directory's
 * results.db like any other, and its figures are read back from there, so the report
 * shows what was recorded. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cli/cli_bench.h"
#include "engine/cell.h"
#include "engine/plan.h"
#include "engine/runner.h"
#include "infra/fleet.h"
#include "core/util.h"

/* The recorded figures of run id, read back from the results database: the report shows
 * what was recorded, nothing else. */
static int read_run(bench *b, int64_t id, bench_run *out)
{
    static const char sql[] =
        "SELECT status, coalesce(verdict, ''), coalesce(error, ''), requests, succeeded,"
        " refused, busy, unknown, errors, retries, throughput, p50_ns, p99_ns, max_ns,"
        " duration_ns FROM runs WHERE id = ?";
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(b->db->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    snprintf(out->status, sizeof(out->status), "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(out->verdict, sizeof(out->verdict), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(out->error, sizeof(out->error), "%s", (const char *)sqlite3_column_text(st, 2));
    out->requests = sqlite3_column_int64(st, 3);
    out->succeeded = sqlite3_column_int64(st, 4);
    out->refused = sqlite3_column_int64(st, 5);
    out->busy = sqlite3_column_int64(st, 6);
    out->unknown = sqlite3_column_int64(st, 7);
    out->errors = sqlite3_column_int64(st, 8);
    out->retries = sqlite3_column_int64(st, 9);
    out->throughput = sqlite3_column_double(st, 10);
    out->p50 = sqlite3_column_int64(st, 11);
    out->p99 = sqlite3_column_int64(st, 12);
    out->max = sqlite3_column_int64(st, 13);
    out->seconds = (double)sqlite3_column_int64(st, 14) / 1e9;
    rc = 0;
    if (out->errors + out->unknown == 0)
        goto out;
    /* Why requests failed: the step that failed says more than the request itself. */
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(b->db->db,
                           "SELECT op || ': ' || detail FROM events WHERE run = ?"
                           " AND outcome != 'ok' AND coalesce(detail, '') NOT IN ('', 'error')"
                           " GROUP BY op, detail ORDER BY op = 'request', count(*) DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out->failure, sizeof(out->failure), "%s",
                 (const char *)sqlite3_column_text(st, 0));
out:
    sqlite3_finalize(st);
    return rc;
}

/* Run one cell and read back what it recorded. A run that could not happen, or happened
 * and broke, counts as a failure; one the machine could not run at all stops the bench.
 * serve_ns > 0 stops the crowd taking buyers after that long (ovs_run_spec.serve_ns). */
static void run_one(bench *b, const ovs_scenario *sc, const ovs_strategy_methods *m,
                    const ovs_params *p, int no_events, int64_t serve_ns, bench_run *out)
{
    ovs_cell cell = {
        .sc = sc,
        .m = m,
        .params = *p,
        .shop_dir = b->shops,
        .sql = b->o.sql,
        .sql_url = b->o.sql ? b->sql_url : NULL,
        .redis_server = b->o.redis_server,
        .stop = b->stop,
        .no_events = no_events,
        .serve_ns = serve_ns,
    };
    ovs_cell_result r;

    memset(out, 0, sizeof(*out));
    out->m = m;
    progress(b, "[bench] %s x %s%s ...", sc->name, m->name, no_events ? " (no events)" : "");
    int crc = ovs_cell_run(&cell, b->db, &r);
    if (r.run_id >= 0 && read_run(b, r.run_id, out) == 0)
        out->done = 1;
    else
        snprintf(out->status, sizeof(out->status), "error");
    out->buyers = sc->crowd.buyers;
    if (crc == OVS_ERR_ENV) {
        b->env_fail = 1;
        snprintf(b->env_error, sizeof(b->env_error), "%s x %s: %s", sc->name, m->name,
                 r.error);
    } else if (crc != 0 || r.status == OVS_RUN_ERROR) {
        b->failures++;
        fprintf(stderr, "%soversell bench: %s x %s: %s\n", b->tty ? "\n" : "", sc->name,
                m->name, r.error);
    }
    if (out->error[0] == '\0' && r.error[0] != '\0')
        snprintf(out->error, sizeof(out->error), "%s", r.error);
    progress(b, " %.0f req/s (%.1f s)\n", out->throughput, r.seconds);
}

/* Why m is not measured here, or NULL when it runs: its program is not on this machine
 * (ovs_strategy_unavailable), or it does not exist on the bench's shop back end (its
 * backends field), where a run would have nothing to measure and no verdict to give. buf
 * holds the second reason. */
static const char *not_measured(const bench *b, const ovs_strategy_methods *m, char *buf,
                                size_t len)
{
    const char *why = ovs_strategy_unavailable(m);
    if (why != NULL)
        return why;
    if (ovs_strategy_runs_on(m, bench_backend(b)))
        return NULL;
    snprintf(buf, len, "n/a on %s (it runs on %s)", bench_backend(b),
             OVS_STRATEGY_FIELD(m, backends, NULL));
    return buf;
}

/* A run not made, said in its row; not a failure. */
static void skipped(bench_run *r, const ovs_strategy_methods *m, const char *why)
{
    memset(r, 0, sizeof(*r));
    r->m = m;
    snprintf(r->status, sizeof(r->status), "skipped");
    snprintf(r->error, sizeof(r->error), "%s", why);
}

/* An inventory crowd in memory: buyers at once, stock for every one of them, no think
 * time, so a run measures the strategy and not the sale running out. With skus > 1 the
 * buyers are spread over the SKUs (buyer i buys 1 + i % skus). */
int bench_crowd_scenario(const bench *b, const char *name, int skus, ovs_scenario *sc,
                         char *err, size_t errlen)
{
    char text[1024], spread[96] = "";

    if (skus > 1)
        snprintf(spread, sizeof(spread), "; buyer i buys sku 1 + i %% %d", skus);
    snprintf(text, sizeof(text),
             "[scenario]\n"
             "name = %s\n"
             "description = bench: %d buyers at once on %d SKU%s with stock for all, %d"
             " workers, no think time%s\n"
             "workload = inventory\n"
             "seed = 1\n"
             "skus = %d\n"
             "stock = %d\n"
             "[crowd]\n"
             "buyers = %d\n"
             "arrival = burst\n"
             "workers = %d\n"
             "think = 0\n"
             "request = buy sku=1\n",
             name, b->o.buyers, skus, skus == 1 ? "" : "s", b->o.connections, spread, skus,
             b->o.buyers, b->o.buyers, b->o.connections);
    if (ovs_scenario_parse("<bench>", text, sc, err, errlen) != 0)
        return -1;
    if (ovs_scenario_resolve(sc, err, errlen) != 0) {
        ovs_scenario_free(sc);
        return -1;
    }
    sc->crowd.spread_skus = skus > 1;
    return 0;
}

/* Lock strategies retry fast here. With the seed defaults (3 retries, 200 ms apart) the
 * hot SKU would measure the back-off, not the lock, and most buyers would give up. */
static void fast_retries(const ovs_strategy_methods *m, ovs_params *p)
{
    static const char *const set[][2] = {
        { "retry_count", "1000" }, { "retry_delay", "0.2ms" }, { "retry_jitter", "0.2ms" },
    };
    char err[160];
    for (int i = 0; i < m->n_params; i++)
        for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++)
            if (strcmp(m->params[i].name, set[k][0]) == 0 &&
                ovs_params_set(m, p, set[k][0], set[k][1], err, sizeof(err)) != 0)
                fprintf(stderr, "oversell bench: %s keeps its own %s: %s\n", m->name,
                        set[k][0], err);
}

void bench_flash(bench *b)
{
    ovs_scenario *sc = &b->flash;
    const ovs_strategy_methods *ms[CLI_MAX_STRATEGIES];
    int n = 0;

    if (sc->n_expect > 0) {
        for (int i = 0; i < sc->n_expect && n < CLI_MAX_STRATEGIES; i++)
            if (ovs_scenario_expect_first(sc, sc->expect[i].name, i))
                ms[n++] = ovs_strategy_find(sc->expect[i].name); /* resolved: registered */
    } else {
        for (const ovs_strategy_methods *const *m = ovs_strategy_list();
             *m && n < CLI_MAX_STRATEGIES; m++)
            ms[n++] = *m;
    }
    for (int i = 0; i < n && !stopping(b) && !b->env_fail; i++) {
        ovs_params p;
        char buf[200];
        const char *why = not_measured(b, ms[i], buf, sizeof(buf));
        if (why != NULL) {
            skipped(&b->flash_runs[i], ms[i], why);
        } else {
            ovs_scenario_params_for(sc, ms[i], &p);
            run_one(b, sc, ms[i], &p, 0, 0, &b->flash_runs[i]);
        }
        b->n_flash = i + 1;
    }
    b->flash_rss_kib = peak_rss_kib();
}

void bench_strategies(bench *b)
{
    ovs_scenario hot, many;
    char err[300];
    const ovs_strategy_methods *const *all = ovs_strategy_list(), *only[OVS_MAX_STRATEGIES + 1];

    if (b->o.n_only > 0) {
        memcpy(only, b->o.only, (size_t)b->o.n_only * sizeof(only[0]));
        only[b->o.n_only] = NULL;
        all = only;
    }

    if (bench_crowd_scenario(b, "bench-hot", 1, &hot, err, sizeof(err)) != 0)
        goto bad;
    if (bench_crowd_scenario(b, "bench-many", b->skus_many, &many, err, sizeof(err)) != 0) {
        ovs_scenario_free(&hot);
        goto bad;
    }
    for (int i = 0; all[i] && i < CLI_MAX_STRATEGIES && !stopping(b) && !b->env_fail; i++) {
        ovs_params p;
        char buf[200];
        const char *why = not_measured(b, all[i], buf, sizeof(buf));
        if (why != NULL) {
            skipped(&b->hot[i], all[i], why);
            skipped(&b->many[i], all[i], why);
            b->n_strategies = i + 1;
            continue;
        }
        ovs_params_defaults(all[i], &p);
        fast_retries(all[i], &p);
        int64_t serve_ns = (int64_t)b->o.load_s * 1000000000;
        run_one(b, &hot, all[i], &p, 0, serve_ns, &b->hot[i]);
        if (stopping(b) || b->env_fail)
            break;
        run_one(b, &many, all[i], &p, 0, serve_ns, &b->many[i]);
        b->n_strategies = i + 1;
    }
    ovs_scenario_free(&hot);
    ovs_scenario_free(&many);
    return;
bad:
    fprintf(stderr, "oversell bench: %s\n", err);
    b->failures++;
}

/* lua-decr on the hot SKU with events recorded and without, alternated (on off, off on,
 * on off, ...) so that a machine that warms up or slows down over the runs does not favour
 * one side. One run of 10,000 buyers lasts a third of a second and varies by several per
 * cent from run to run on a small machine, far more than one event per request costs:
 * hence several pairs and medians, and the report shows every run. */
void bench_recording(bench *b)
{
    ovs_scenario on, off;
    char err[300];
    ovs_params p;
    const ovs_strategy_methods *m = &ovs_strategy_lua_decr;

    if (bench_crowd_scenario(b, "bench-recording-on", 1, &on, err, sizeof(err)) != 0)
        goto bad;
    if (bench_crowd_scenario(b, "bench-recording-off", 1, &off, err, sizeof(err)) != 0) {
        ovs_scenario_free(&on);
        goto bad;
    }
    ovs_params_defaults(m, &p);
    for (int i = 0; i < b->o.rec_pairs && !stopping(b) && !b->env_fail; i++) {
        int off_first = i % 2 == 1;
        if (off_first)
            run_one(b, &off, m, &p, 1, 0, &b->rec_off[i]);
        run_one(b, &on, m, &p, 0, 0, &b->rec_on[i]);
        if (!off_first && !stopping(b) && !b->env_fail)
            run_one(b, &off, m, &p, 1, 0, &b->rec_off[i]);
        b->n_rec = i + 1;
    }
    ovs_scenario_free(&on);
    ovs_scenario_free(&off);
    return;
bad:
    fprintf(stderr, "oversell bench: %s\n", err);
    b->failures++;
}
