/* cell.c - one scenario x strategy run, from fleet start to the recorded verdict. */
#include "cell.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "fleet.h"
#include "runner.h"
#include "shop.h"
#include "util.h"

int ovs_cell_nodes(const ovs_scenario *sc, const ovs_strategy_methods *m, const ovs_params *p)
{
    int need = m->xNodes ? m->xNodes(p) : 0;
    return sc->redis_nodes > need ? sc->redis_nodes : need;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ovs_cell_run(const ovs_cell *cell, ovs_results *db, ovs_cell_result *out)
{
    const ovs_scenario *sc = cell->sc;
    const ovs_strategy_methods *m = cell->m;
    ovs_fleet *fleet = NULL;
    ovs_run_result res;
    ovs_check checks[OVS_MAX_CHECKS];
    int nchecks = 0;
    char shop_path[600], params[256], started[32], err[200];
    sqlite3 *shop = NULL;
    int nodes = ovs_cell_nodes(sc, m, &cell->params);
    int64_t t_begin = ovs_now_ns();
    int rc = OVS_ERR;

    memset(out, 0, sizeof(*out));
    memset(&res, 0, sizeof(res));
    out->run_id = -1;
    out->status = OVS_RUN_ERROR;
    out->expect = ovs_scenario_expect(sc, m);
    ovs_params_format(m, &cell->params, params, sizeof(params));
    utc_now(started, sizeof(started));
    snprintf(shop_path, sizeof(shop_path), "%s/%s.%s.db", cell->shop_dir, sc->name, m->name);

    if (nodes > 0) {
        ovs_fleet_opts fo = { .nodes = nodes, .redis_server = cell->redis_server };
        int frc = ovs_fleet_start(&fo, &fleet, err, sizeof(err));
        if (frc != 0) {
            snprintf(out->error, sizeof(out->error), "%s", err);
            return frc == OVS_ERR_ENV ? OVS_ERR_ENV : OVS_ERR;
        }
    }
    if (ovs_shop_create(shop_path, sc, err, sizeof(err)) != 0) {
        snprintf(out->error, sizeof(out->error), "shop: %s", err);
        goto record;
    }

    ovs_run_spec spec = {
        .sc = sc,
        .m = m,
        .params = &cell->params,
        .redis = fleet ? ovs_fleet_endpoints(fleet) : NULL,
        .n_redis = fleet ? ovs_fleet_size(fleet) : 0,
        .shop_path = shop_path,
        .stop = cell->stop,
    };
    if (ovs_run(&spec, &res) != 0) {
        snprintf(out->error, sizeof(out->error), "%s", res.error);
        goto record;
    }
    out->status = res.status;

    /* Ground truth: the shop as SQL sees it after the write-back queue drained. */
    if (ovs_shop_open(shop_path, &shop, err, sizeof(err)) != 0 ||
        (nchecks = ovs_check_run(shop, sc, res.traces, res.ntraces, res.t0, checks, out->figure,
                                 sizeof(out->figure), err, sizeof(err))) < 0) {
        nchecks = 0;
        out->status = OVS_RUN_ERROR;
        snprintf(out->error, sizeof(out->error), "check: %s", err);
        goto record;
    }
    out->safe = 1;
    for (int i = 0; i < nchecks; i++)
        out->safe &= checks[i].pass;

record:;
    static const char *const status_names[] = { "ok", "aborted", "error" };
    ovs_run_row row = {
        .scenario = sc->name,
        .scenario_file = sc->path,
        .description = sc->description,
        .workload = sc->workload == OVS_INVENTORY ? "inventory" : "booking",
        .strategy = m->name,
        .params = params,
        .seed = sc->seed,
        .expect = out->expect,
        .redis_version = fleet ? ovs_fleet_version(fleet) : NULL,
        .sqlite_version = sqlite3_libversion(),
        .started_at = started,
        .duration_ns = res.duration_ns,
        .status = status_names[out->status],
        .error = out->status == OVS_RUN_ERROR ? out->error : NULL,
        .verdict = out->status == OVS_RUN_OK ? (out->safe ? "safe" : "unsafe") : NULL,
        .figure = out->status == OVS_RUN_OK ? out->figure : NULL,
        .shop_db = shop_path,
        .requests = res.requests,
        .succeeded = res.succeeded,
        .refused = res.refused,
        .busy = res.busy,
        .unknown = res.unknown,
        .throughput = res.throughput,
        .p50_ns = res.latency.p50,
        .p99_ns = res.latency.p99,
        .max_ns = res.latency.max,
        .acquire_fail = res.acquire_fail,
        .retries = res.retries,
        .t0 = res.t0,
    };
    out->run_id = ovs_results_write(db, &row, res.traces, res.ntraces, checks, nchecks);
    if (out->run_id < 0)
        snprintf(out->error, sizeof(out->error), "results: %s", db->errstr);
    else
        rc = 0;
    sqlite3_close(shop);
    ovs_run_result_free(&res);
    ovs_fleet_stop(fleet);
    out->seconds = (double)(ovs_now_ns() - t_begin) / 1e9;
    return rc;
}
