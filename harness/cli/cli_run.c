/* cli_run.c - the commands that run cells: run, matrix, gate and explain.
 *
 * Input is validated whole before anything starts: every scenario file and every
 * --strategy argument is parsed first, and a problem exits 2 with "file:line: reason"
 * before a server is started or a file written. The options and helpers these share with
 * the other commands are cli_options.c's; printing the run `explain` made is
 * cli_explain.c's. */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cell.h"
#include "engine/plan.h"
#include "cli/cli.h"
#include "infra/fleet.h"
#include "reports/junit.h"
#include "reports/metrics.h"
#include "engine/recorder.h"
#include "reports/report.h"
#include "core/util.h"
#include "shops/shops.h"


/* The strategies a scenario runs with: the command line's; else, for the gate and for
 * run, its [expect] entries (what the gate enforces), and for the matrix every registered
 * strategy that can run on this machine (a cell with no expectation gets a verdict all the
 * same, and the reports say it had none); a scenario without [expect] runs them all too.
 * Parameters: the scenario's [strategy] section, then the command line's. A strategy that
 * does not exist on a back end is not dropped here: its cell is recorded n/a. Returns the
 * count, or -1 with a message in err. */
static int expected(const ovs_scenario *sc, const ovs_strategy_methods *m)
{
    for (int i = 0; i < sc->n_expect; i++)
        if (strcmp(sc->expect[i].name, m->name) == 0)
            return 1;
    return 0;
}

static int cells_for(const ovs_scenario *sc, const cli_options *o,
                     const ovs_strategy_methods **ms, ovs_params *ps, char *err, size_t errlen)
{
    int n = 0;
    if (o->n_strategies > 0) {
        for (int i = 0; i < o->n_strategies; i++) {
            ms[n] = o->strategies[i];
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            if (o->params_given[i] &&
                ovs_params_set_list(ms[n], &ps[n], o->param_text[i], err, errlen) != 0)
                return -1;
            n++;
        }
    } else if (sc->n_expect > 0 && o->mode != CLI_MATRIX) {
        for (int i = 0; i < sc->n_expect && n < CLI_MAX_STRATEGIES; i++) {
            if (!ovs_scenario_expect_first(sc, sc->expect[i].name, i))
                continue; /* one cell per strategy, whatever its entries per back end */
            ms[n] = ovs_strategy_find(sc->expect[i].name); /* resolved: registered */
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    } else {
        const ovs_strategy_methods *const *all = ovs_strategy_list();
        for (int i = 0; all[i] && n < CLI_MAX_STRATEGIES; i++) {
            /* Named by [expect], a strategy that cannot run here is refused (below);
             * unnamed, it is left out of the full matrix, which says so once. */
            if (ovs_strategy_unavailable(all[i]) && !expected(sc, all[i]))
                continue;
            ms[n] = all[i];
            ovs_scenario_params_for(sc, ms[n], &ps[n]);
            n++;
        }
    }
    return n;
}

/* What the runs of one cell came to, for the gate: a cell is judged on all its runs. */
typedef struct cell_tally {
    int runs;             /* runs made */
    int judged;           /* of them, runs with a verdict */
    int unsafe;           /* of those, unsafe ones */
    int64_t worst;        /* the most units oversold (or pairs double-booked) in one run */
    uint64_t worst_seed;  /* that run's seed, to replay it with run --seed */
    char figure[256];     /* that run's figure; the last run's while none was unsafe */
    int broke;            /* 1: some run failed, or broke a rule of its own (why says) */
    int bad_ok;           /* the run that broke one had a verdict (a baseline or the
                             stale answers), not a failure to run */
    double seconds;
} cell_tally;

/* The gate's judgement of one run on what holds run by run - it ran, it stayed under a
 * --max-oversold baseline, its stale answers are as expected: 0 pass, 1 fail with why. */
static int judge_run(const cli_options *o, const ovs_strategy_methods *m,
                     const ovs_cell_result *r, int rc, char *why, size_t len)
{
    if (rc == 0 && r->status == OVS_RUN_NA)
        return 0; /* no verdict to judge: the strategy does not exist on that back end */
    if (rc != 0 || r->status != OVS_RUN_OK) {
        snprintf(why, len, "the run %s: %s",
                 r->status == OVS_RUN_ABORTED ? "was aborted" : "failed", r->error);
        return 1;
    }
    for (int i = 0; i < o->n_max; i++)
        if (o->max_m[i] == m && r->oversold > o->max_oversold[i]) {
            snprintf(why, len, "above its baseline of %lld: %s", o->max_oversold[i], r->figure);
            return 1;
        }
    /* The stale answers figure is no part of the verdict, but the scenario may say what
     * it must show, both ways. */
    if (r->expect_stale == 1 && r->stale_answers <= 0) {
        snprintf(why, len, "expected stale answers, but none showed (%s): the scenario lost"
                           " its teeth",
                 r->figure);
        return 1;
    }
    if (r->expect_stale == 0 && r->stale_answers != 0) {
        snprintf(why, len, "expected no stale answers, observed %lld (%s)",
                 (long long)r->stale_answers, r->figure);
        return 1;
    }
    return 0;
}

/* " in 3 of 20 runs (95 % interval 5-36 %)", or "" for a cell run once. */
static void runs_said(const cell_tally *t, char *buf, size_t len)
{
    double lo, hi;
    if (t->judged <= 1) {
        buf[0] = '\0';
        return;
    }
    ovs_wilson(t->unsafe, t->judged, &lo, &hi);
    snprintf(buf, len, " in %d of %d runs (95 %% interval %.0f-%.0f %%)", t->unsafe, t->judged,
             lo * 100, hi * 100);
}

/* The gate's judgement of a cell's verdicts against its [expect] entry x: 0 pass, 1 fail
 * with why. Unsafe in no run is safe; "unsafe" is the failure showing in at least one
 * run, or in the share of runs x's rate asks for. */
static int judge_cell(const cli_options *o, const ovs_strategy_methods *m,
                      const ovs_expect *x, const cell_tally *t, char *why, size_t len)
{
    char runs[96];

    if (x == NULL || t->judged == 0)
        return 0;
    for (int i = 0; i < o->n_max; i++)
        if (o->max_m[i] == m)
            return 0; /* gated on its number, run by run, instead of its verdict */
    runs_said(t, runs, sizeof(runs));
    if (x->safe && t->unsafe > 0) {
        snprintf(why, len, "expected safe, observed unsafe%s: %s", runs, t->figure);
        return 1;
    }
    if (!x->safe && x->rate_cmp == 0 && t->unsafe == 0) {
        snprintf(why, len, "expected unsafe, but the failure did not show (%s)%s: the scenario"
                           " lost its teeth",
                 t->figure, t->judged > 1 ? " in any run" : "");
        return 1;
    }
    /* The rate asked of the runs that have a verdict, to a millionth so that 19 of 20
     * meets 95 %. */
    double need = x->rate * t->judged, lo, hi;
    ovs_wilson(t->unsafe, t->judged, &lo, &hi);
    if (!x->safe && ((x->rate_cmp > 0 && t->unsafe + 1e-6 < need) ||
                     (x->rate_cmp < 0 && t->unsafe > need + 1e-6))) {
        snprintf(why, len, "expected unsafe in at %s %g %% of runs, observed %d of %d (95 %%"
                           " interval %.0f-%.0f %%): %s",
                 x->rate_cmp > 0 ? "least" : "most", x->rate * 100, t->unsafe, t->judged,
                 lo * 100, hi * 100, t->figure);
        return 1;
    }
    return 0;
}

typedef struct cell_plan {
    ovs_scenario *sc;
    const ovs_strategy_methods *m;
    ovs_params p;
    int sql;          /* index into o->sql, or -1 for the default (SQLite) */
    int na;           /* 1: n/a (ovs_cell_na): not on that back end, or the scenario takes
                         away where it keeps its stock; recorded n/a */
    int point;        /* how many cells before it in the plan have its scenario, strategy
                         and back end: 0 but for a sweep's points (other parameters) */
    char label[192];  /* the strategy as messages and JUnit name the cell:
                         "sql-pessimistic x postgresql" off SQLite or with several */
} cell_plan;

/* How a person reaches a kept shop with the server's own client. */
static void say_kept(const ovs_cell_result *r, const ovs_shopdb_methods *m, const char *url)
{
    ovs_sqlurl u;
    const char *ns = strrchr(r->shop, ' ');
    char name[80];

    if (ovs_sqlurl_parse(url, &u, NULL, 0) != 0 || ns == NULL)
        return;
    /* The namespace is the word before " (kept)". */
    const char *end = strstr(r->shop, " (kept)");
    const char *start = end;
    while (start > r->shop && start[-1] != ' ')
        start--;
    if (end == NULL || (size_t)(end - start) >= sizeof(name))
        return;
    memcpy(name, start, (size_t)(end - start));
    name[end - start] = '\0';
    if (strcmp(m->name, "postgresql") == 0)
        fprintf(stderr, "  shop kept: PGOPTIONS=-csearch_path=%s psql -h %s -p %d -U %s %s\n",
                name, u.host, u.port ? u.port : 5432, u.user, u.db);
    else
        fprintf(stderr, "  shop kept: mariadb -h %s -P %d -u %s -p %s\n", u.host,
                u.port ? u.port : 3306, u.user, name);
}

int cli_run_cells(cli_options *o, ovs_scenario *scs, int nsc, int64_t *last_run)
{
    cell_plan *plan = NULL;
    cli_job *jobs = NULL;
    ovs_junit_case *jc = NULL;
    char (*why)[400] = NULL;
    char err[600], path[600], shops[600], server[512];
    char url[CLI_MAX_SQL][600];
    /* The servers the harness starts for the shop (cli_sql.c), once for every cell. */
    cli_sql_server servers[CLI_MAX_SQL];
    int nb = o->n_sql > 0 ? o->n_sql : 1;
    int total = 0, n_na = 0, need_redis = 0, need_shim = 0, mismatches = 0, failures = 0, env_fail = 0, rc = 0;
    char na_why[256], first_na[400] = "";
    int tty = isatty(STDERR_FILENO), color = cli_color(STDERR_FILENO);
    ovs_results *db = NULL;
    const ovs_strategy_methods *ms[CLI_MAX_STRATEGIES];
    ovs_params ps[CLI_MAX_STRATEGIES];
    /* --redis: the prefix of every key of this invocation, each run's under it with its
     * number; set once the servers were found to hold none, so that they are cleaned. */
    char run_prefix[OVS_KEY_PREFIX_MAX] = "";
    int own_checked = 0;

    memset(servers, 0, sizeof(servers));
    plan = calloc((size_t)nsc * CLI_MAX_STRATEGIES * (size_t)nb, sizeof(*plan));
    if (plan == NULL)
        return EXIT_ENV;
    for (int i = 0; i < nsc; i++) {
        int n = cells_for(&scs[i], o, ms, ps, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
            free(plan);
            return EXIT_USAGE;
        }
        /* Back ends innermost: a strategy's runs on each sit side by side. */
        for (int k = 0; k < n; k++) {
            if (cli_check_available(o->cmd, ms[k]) != 0) {
                free(plan);
                return EXIT_USAGE;
            }
            for (int b = 0; b < nb; b++) {
                cell_plan *c = &plan[total++];
                const char *backend = o->n_sql > 0 ? o->sql[b]->name : "sqlite";
                *c = (cell_plan){ &scs[i], ms[k], ps[k], o->n_sql > 0 ? b : -1, 0, 0, "" };
                c->na = ovs_cell_na(&scs[i], ms[k], &ps[k], backend, na_why, sizeof(na_why)) ||
                        (o->n_own_redis > 0 &&
                         ovs_cell_na_own(&scs[i], ms[k], &ps[k], o->own_redis, o->n_own_redis,
                                         na_why, sizeof(na_why)));
                if (c->na && n_na++ == 0)
                    snprintf(first_na, sizeof(first_na), "%s x %s: %s", scs[i].name,
                             ms[k]->name, na_why);
                if (o->n_sql > 1 || (o->n_sql == 1 && strcmp(o->sql[0]->name, "sqlite") != 0))
                    snprintf(c->label, sizeof(c->label), "%s x %s", ms[k]->name,
                             o->sql[b]->name);
                else
                    snprintf(c->label, sizeof(c->label), "%s", ms[k]->name);
                for (int e = 0; e < total - 1; e++)
                    c->point += plan[e].sc == c->sc && plan[e].m == c->m && plan[e].sql == c->sql;
                /* A strategy asked for more than once is told apart by its parameters. */
                if (c->point > 0 || (k + 1 < n && ms[k + 1] == ms[k])) {
                    char pt[256];
                    ovs_params_format(ms[k], &ps[k], pt, sizeof(pt));
                    size_t used = strlen(c->label);
                    snprintf(c->label + used, sizeof(c->label) - used, " (%.150s)", pt);
                }
                need_redis |= !c->na && ovs_cell_nodes(&scs[i], ms[k], &ps[k]) > 0;
                for (int f = 0; f < scs[i].n_faults && !c->na; f++)
                    need_shim |= scs[i].faults[f].action == OVS_FAULT_CLOCK_JUMP;
            }
        }
    }
    /* The full matrix leaves out what cannot run on this machine, and says so. */
    if (o->mode == CLI_MATRIX && o->n_strategies == 0)
        for (const ovs_strategy_methods *const *m = ovs_strategy_list(); *m; m++)
            if (ovs_strategy_unavailable(*m))
                fprintf(stderr, "oversell matrix: leaving out %s: %s\n", (*m)->name,
                        ovs_strategy_unavailable(*m));
    /* Asked for nothing that exists where it was asked: a usage error, before anything
     * starts. Some n/a cells among others are recorded as such and say so. */
    if (total > 0 && n_na == total) {
        if (!ovs_strategy_runs_on(plan[0].m, o->n_sql > 0 ? o->sql[0]->name : "sqlite"))
            fprintf(stderr, "oversell %s: %s is n/a on %s: it runs on %s (choose one with"
                    " --sql)\n", o->cmd, plan[0].m->name,
                    o->n_sql > 0 ? o->sql[0]->name : "sqlite",
                    OVS_STRATEGY_FIELD(plan[0].m, backends, NULL));
        else
            fprintf(stderr, "oversell %s: %s\n", o->cmd, first_na);
        free(plan);
        return EXIT_USAGE;
    }
    if (need_redis && o->n_own_redis == 0) {
        if (o->redis_server == NULL && ovs_redis_server_path(server, sizeof(server)) != 0) {
            fprintf(stderr,
                    "oversell %s: redis-server not found (install Debian's redis-server package,"
                    " or set OVERSELL_REDIS_SERVER or --redis-server)\n",
                    o->cmd);
            free(plan);
            return EXIT_ENV;
        }
        if (o->redis_server && access(o->redis_server, X_OK) != 0) {
            fprintf(stderr, "oversell %s: %s: cannot execute: %s\n", o->cmd, o->redis_server,
                    strerror(errno));
            free(plan);
            return EXIT_ENV;
        }
    }
    /* A clock-jump needs the shim it preloads (infra/fleet.h): without it every such cell
     * would fail alike, so say it once, before anything starts. */
    if (need_shim && ovs_clockshim_path(server, sizeof(server), err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
        free(plan);
        return EXIT_ENV;
    }
    jc = calloc((size_t)(total ? total : 1), sizeof(*jc));
    why = calloc((size_t)(total ? total : 1), sizeof(*why));
    if (jc == NULL || why == NULL) {
        rc = EXIT_ENV;
        goto out;
    }

    /* Input is good: from here on things are started and written. The user's servers are
     * asked first, so that a wrong password or a prefix in use writes nothing. */
    if (o->n_own_redis > 0) {
        if (o->key_prefix != NULL)
            snprintf(run_prefix, sizeof(run_prefix), "%s", o->key_prefix);
        else
            ovs_key_prefix_new(run_prefix, sizeof(run_prefix));
        if ((rc = cli_own_redis_check(o, run_prefix)) != 0)
            goto out;
        own_checked = 1;
        fprintf(stderr, "oversell %s: %s: every key of the run under %s\n", o->cmd,
                cli_own_opt(o), run_prefix);
    }
    snprintf(shops, sizeof(shops), "%s/shops", o->out_dir);
    if (cli_mkdir_p(shops) != 0) {
        fprintf(stderr, "oversell %s: %s: %s\n", o->cmd, shops, strerror(errno));
        rc = EXIT_ENV;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/results.db", o->out_dir);
    cli_remove_db(path);
    db = ovs_results_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
        rc = EXIT_ENV;
        goto out;
    }

    for (int b = 0; b < o->n_sql; b++) {
        snprintf(url[b], sizeof(url[b]), "%s", o->sql_url[b]);
        if (url[b][0] == '\0' && strcmp(o->sql[b]->name, "sqlite") != 0 &&
            cli_sql_server_start(o->sql[b], &servers[b], url[b], sizeof(url[b]), err,
                                 sizeof(err)) != 0) {
            fprintf(stderr, "oversell %s: %s\n", o->cmd, err);
            rc = EXIT_ENV;
            goto out;
        }
    }

    atomic_int *stop = cli_catch_stop();

    int done = 0, reps = o->repeat > 1 ? o->repeat : 1;
    int njobs = total * reps;
    jobs = calloc((size_t)njobs, sizeof(*jobs));
    if (jobs == NULL) {
        rc = EXIT_ENV;
        goto out;
    }
    for (int c = 0; c < total; c++) {
        uint64_t base = o->seed_given ? o->seed : plan[c].sc->seed;
        for (int rep = 0; rep < reps; rep++) {
            cli_job *j = &jobs[c * reps + rep];
            /* Each run keeps its own shop file: a cell's runs by number, a sweep's points
             * by their place in it. */
            if (plan[c].point > 0)
                snprintf(j->tag, sizeof(j->tag), "p%d.r%d", plan[c].point + 1, rep + 1);
            else
                snprintf(j->tag, sizeof(j->tag), "r%d", rep + 1);
            j->cell = (ovs_cell){
                .sc = plan[c].sc,
                .m = plan[c].m,
                .params = plan[c].p,
                .shop_dir = shops,
                .redis_server = o->redis_server,
                .stop = stop,
                .sql = plan[c].sql >= 0 ? o->sql[plan[c].sql] : NULL,
                .sql_url = plan[c].sql >= 0 ? url[plan[c].sql] : NULL,
                .keep_shop = o->keep_shop,
                .seed_given = o->seed_given || rep > 0,
                .seed = cli_cell_seed(base, rep),
                .shop_tag = reps > 1 || plan[c].point > 0 ? j->tag : NULL,
            };
            if (o->n_own_redis > 0) {
                /* Runs side by side share the servers: each its own keys. */
                snprintf(j->key_prefix, sizeof(j->key_prefix), "%s%d:", run_prefix,
                         c * reps + rep);
                j->cell.own_redis = o->own_redis;
                j->cell.n_own_redis = o->n_own_redis;
                j->cell.key_prefix = j->key_prefix;
            }
            j->weight_ns = cli_job_estimate_ns(plan[c].sc, plan[c].m, &plan[c].p);
            j->heavy = cli_job_heavy(plan[c].sc);
            /* Repeated, a heavy cell's runs come one after another (the same estimate),
             * and twenty 10,000-buyer crowds back to back kept both cores saturated for
             * minutes: runs beside them lost their timelines (node-redlock's acquire in
             * the fault scenarios failed, a Sentinel promotion came too late). Once, the
             * heavy runs are a few seconds beside runs mostly waiting, and the gate
             * keeps them beside the others to stay under a minute. */
            /* n/a is the same for every seed: the strategy is not there on that back end. */
            j->skip = plan[c].na && rep > 0;
            j->alone = j->heavy && reps > 1 && !plan[c].na;
            if (reps > 1)
                snprintf(j->label, sizeof(j->label), "%s x %s, run %d/%d", plan[c].sc->name,
                         plan[c].label, rep + 1, reps);
            else
                snprintf(j->label, sizeof(j->label), "%s x %s", plan[c].sc->name,
                         plan[c].label);
        }
    }
    int workers = o->jobs > 0 ? o->jobs : cli_default_jobs(o->mode);
    if (cli_run_jobs(jobs, njobs, workers, db, stop, tty, color) != 0) {
        fprintf(stderr, "oversell %s: out of memory\n", o->cmd);
        rc = EXIT_ENV;
        goto out;
    }

    /* Judged in the plan's order, whatever order the runs ended in. */
    for (int c = 0; c < total; c++) {
        const char *scn = plan[c].sc->name, *stn = plan[c].label;
        const char *backend = plan[c].sql >= 0 ? o->sql[plan[c].sql]->name : "sqlite";
        cell_tally t = { 0 };
        int na = 0;

        why[c][0] = '\0';
        for (int rep = 0; rep < reps; rep++) {
            cli_job *j = &jobs[c * reps + rep];
            const ovs_cell_result *r = &j->r;
            if (!j->ran)
                continue;
            t.runs++;
            t.seconds += r->seconds;
            if (last_run && r->run_id >= 0)
                *last_run = r->run_id;
            if (o->keep_shop && j->cell.sql_url && j->cell.sql_url[0] &&
                strstr(r->shop, " (kept)"))
                say_kept(r, j->cell.sql, j->cell.sql_url);
            if (j->crc == OVS_ERR_ENV) {
                fprintf(stderr, "oversell %s: %s x %s: %s\n", o->cmd, scn, stn, r->error);
                env_fail = 1;
                continue;
            }
            if (j->crc != 0 || r->status == OVS_RUN_ERROR) {
                fprintf(stderr, "oversell %s: %s x %s: %s\n", o->cmd, scn, stn, r->error);
                failures++;
            }
            if (r->status == OVS_RUN_NA) {
                snprintf(why[c], sizeof(why[c]), "%s", r->error);
                na = 1;
                continue;
            }
            /* A run's own rule broken is the cell's failure: the first one says why. */
            if (!t.broke && judge_run(o, plan[c].m, r, j->crc, why[c], sizeof(why[c]))) {
                t.broke = 1;
                t.bad_ok = r->status == OVS_RUN_OK;
            }
            if (r->status != OVS_RUN_OK)
                continue;
            t.judged++;
            /* The worst run speaks for the cell: the most damage, the first of equals. */
            if (!r->safe && (t.unsafe++ == 0 || r->oversold > t.worst)) {
                t.worst = r->oversold;
                t.worst_seed = j->cell.seed;
                snprintf(t.figure, sizeof(t.figure), "%s", r->figure);
            } else if (t.unsafe == 0) {
                snprintf(t.figure, sizeof(t.figure), "%s", r->figure);
            }
        }
        if (t.runs == 0)
            continue; /* interrupted, or stopped by the machine, before it began */
        const ovs_expect *x = ovs_scenario_expect_entry_on(plan[c].sc, plan[c].m, backend);
        int bad = !na && (t.broke || judge_cell(o, plan[c].m, x, &t, why[c], sizeof(why[c])));
        /* A worst run to replay, when the cell was run more than once. */
        if (bad && !t.broke && t.unsafe > 0 && t.runs > 1) {
            size_t used = strlen(why[c]);
            snprintf(why[c] + used, sizeof(why[c]) - used,
                     "; worst run: oversell run %s --strategy %s --seed %llu", plan[c].sc->path,
                     plan[c].m->name, (unsigned long long)t.worst_seed);
        }
        if (o->mode == CLI_GATE && bad)
            fprintf(stderr, "FAIL %s x %s: %s [%s]\n", scn, stn, why[c], plan[c].sc->path);
        else if (o->check && bad && (!t.broke || t.bad_ok))
            fprintf(stderr, "oversell %s: %s x %s: %s (%s)\n", o->cmd, scn, stn, why[c],
                    plan[c].sc->path);
        /* A run that failed is counted as a failure; what --check adds is verdicts. */
        mismatches += bad && (!t.broke || t.bad_ok);
        jc[done++] = (ovs_junit_case){ scn, stn, t.seconds, bad, bad ? why[c] : NULL,
                                       plan[c].sc->path, na ? why[c] : NULL };
    }

    if (ovs_report_write_all(db->db, o->out_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: reports: %s\n", o->cmd, err);
        rc = EXIT_ENV;
        goto out;
    }
    if (o->metrics && ovs_metrics_write_file(db->db, o->metrics, err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell %s: --metrics: %s\n", o->cmd, err);
        rc = EXIT_ENV;
        goto out;
    }
    if (o->junit) {
        FILE *f = fopen(o->junit, "w");
        if (f == NULL || ovs_junit_write(f, "oversell gate", jc, done) != 0) {
            fprintf(stderr, "oversell gate: %s: %s\n", o->junit, strerror(errno));
            rc = EXIT_ENV;
        }
        if (f)
            fclose(f);
        if (rc)
            goto out;
    }
    if (!o->quiet && o->mode != CLI_EXPLAIN &&
        ovs_report_summary(db->db, stdout, err, sizeof(err)) != 0)
        fprintf(stderr, "oversell %s: summary: %s\n", o->cmd, err);
    if (o->mode == CLI_GATE) {
        int bad = 0, na = 0;
        for (int c = 0; c < done; c++) {
            bad += jc[c].failed;
            na += jc[c].skipped != NULL;
        }
        char nas[64] = "";
        if (na > 0 && o->n_own_redis > 0)
            snprintf(nas, sizeof(nas), " (%d n/a on %s or their back end)", na,
                     cli_own_opt(o));
        else if (na > 0)
            snprintf(nas, sizeof(nas), " (%d n/a on their back end)", na);
        fprintf(stderr, "gate: %d cell%s%s, %d failed%s\n", done, done == 1 ? "" : "s", nas,
                bad, atomic_load(stop) ? " (interrupted)" : "");
    }
    int regressed = 0; /* gate --baseline: an exit status, 0 when nothing got worse */
    if (o->baseline && !env_fail && !atomic_load(stop))
        regressed = cli_diff_baseline(o->cmd, o->baseline, db->db);

    if (atomic_load(stop) && !env_fail) {
        fprintf(stderr, "oversell %s: interrupted; the run in progress is marked aborted\n",
                o->cmd);
        rc = EXIT_INTERRUPTED;
    } else if (env_fail) {
        rc = EXIT_ENV;
    } else if (failures > 0) {
        rc = EXIT_VERDICT;
    } else if ((o->check || o->mode == CLI_GATE) && mismatches > 0) {
        rc = EXIT_VERDICT;
    } else if (regressed != 0) {
        rc = regressed;
    }
out:
    /* Every run deletes its own keys; this finds what a run stopped short left. */
    if (own_checked)
        cli_own_redis_clean(o, run_prefix);
    for (int b = 0; b < o->n_sql; b++)
        cli_sql_server_stop(&servers[b]);
    ovs_results_close(db);
    free(plan);
    free(jobs);
    free(jc);
    free(why);
    return rc;
}

static int find_scenario(const char *arg, const char *dir, char *path, size_t len)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(path, len, "%s", arg);
        return 0;
    }
    snprintf(path, len, "%s/%s.ini", dir, arg);
    return stat(path, &st) == 0 ? 0 : -1;
}

int cli_run(int argc, char **argv, enum cli_mode mode)
{
    static const char *const names[] = { [CLI_RUN] = "run", [CLI_MATRIX] = "matrix",
                                         [CLI_GATE] = "gate", [CLI_EXPLAIN] = "explain" };
    cli_options o;
    ovs_scenario *scs = NULL;
    char *paths[CLI_MAX_SCENARIOS];
    char err[600];
    int n = 0, rc;

    memset(&o, 0, sizeof(o));
    o.mode = mode;
    o.cmd = names[mode];
    o.out_dir = mode == CLI_EXPLAIN ? "reports/out/explain" : "reports/out";
    rc = cli_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (mode == CLI_RUN || mode == CLI_EXPLAIN) {
        char path[600];
        if (optind != argc - 1) {
            fprintf(stderr, "oversell %s: give exactly one scenario (a file or a name)\n", o.cmd);
            cli_usage(stderr, mode);
            return EXIT_USAGE;
        }
        if (mode == CLI_EXPLAIN && o.n_strategies != 1) {
            fprintf(stderr, "oversell explain: give exactly one --strategy\n");
            return EXIT_USAGE;
        }
        if (find_scenario(argv[optind], o.scenarios_dir, path, sizeof(path)) != 0) {
            fprintf(stderr, "oversell %s: %s: no such scenario file, and no %s/%s.ini\n",
                    o.cmd, argv[optind], o.scenarios_dir, argv[optind]);
            return EXIT_USAGE;
        }
        paths[0] = strdup(path);
        n = paths[0] ? 1 : 0;
    } else {
        if (optind != argc) {
            fprintf(stderr, "oversell %s: unexpected argument '%s'\n", o.cmd, argv[optind]);
            return EXIT_USAGE;
        }
        n = ovs_scenario_files(o.scenarios_dir, paths, CLI_MAX_SCENARIOS);
        if (n <= 0) {
            fprintf(stderr, "oversell %s: %s: %s\n", o.cmd, o.scenarios_dir,
                    n < 0 ? strerror(errno) : "no .ini scenario files");
            return EXIT_USAGE;
        }
    }
    scs = calloc((size_t)n, sizeof(*scs));
    rc = scs ? 0 : EXIT_ENV;
    for (int i = 0; i < n && rc == 0; i++) {
        if (ovs_scenario_load(paths[i], &scs[i], err, sizeof(err)) != 0 ||
            ovs_scenario_resolve(&scs[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && mode == CLI_EXPLAIN) {
        if (o.from_db) {
            rc = cli_explain_print(&o, &scs[0], o.from_db, -1);
        } else {
            int64_t run = -1;
            char db[700];
            o.quiet = 1;
            rc = cli_run_cells(&o, scs, n, &run);
            snprintf(db, sizeof(db), "%s/results.db", o.out_dir);
            if (run >= 0 && (rc == 0 || rc == EXIT_VERDICT))
                rc = cli_explain_print(&o, &scs[0], db, run);
        }
    } else if (rc == 0) {
        rc = cli_run_cells(&o, scs, n, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (scs)
            ovs_scenario_free(&scs[i]);
        free(paths[i]);
    }
    free(scs);
    return rc;
}
