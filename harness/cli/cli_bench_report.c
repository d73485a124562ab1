/* cli_bench_report.c - the report of `oversell bench` (stdout and OUT/bench.md): every
 * figure the phases measured, set against the targets it judges (the Targets table).
 *
 * The figures are timings of a shared machine: the test suite checks that the command
 * works and what the report contains, never a number in it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli_bench.h"
#include "ovs_config.h"

/* ---- the report --------------------------------------------------------------------- */

/* 1234567.8 -> "1,234,568" */
static const char *count(double v, char *buf, size_t len)
{
    char digits[32];
    size_t n, o = 0;
    snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
    n = strlen(digits);
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_ok(const bench_run *r)
{
    return r->done && strcmp(r->status, "ok") == 0;
}

/* Not run, for the reason in r->error (cli_bench_runs.c: not_measured). */
static int run_skipped(const bench_run *r)
{
    return strcmp(r->status, "skipped") == 0;
}

/* (max - min) / median of the throughput of the runs that finished ok, in per cent. */
static double spread(const bench_run *runs, int n, double median)
{
    double lo = 0, hi = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!run_ok(&runs[i]))
            continue;
        if (k == 0 || runs[i].throughput < lo)
            lo = runs[i].throughput;
        if (k == 0 || runs[i].throughput > hi)
            hi = runs[i].throughput;
        k++;
    }
    return median > 0 ? 100.0 * (hi - lo) / median : 0;
}

/* Median throughput of the runs that finished ok; 0 when none did. */
static double median_rate(const bench_run *runs, int n)
{
    double v[BENCH_REC_PAIRS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (run_ok(&runs[i]))
            v[k++] = runs[i].throughput;
    if (k == 0)
        return 0;
    qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The flash sale finished for a strategy: the run completed and every buyer got an
 * answer (sold, sold out, or gave up), none an error. */
static int flash_finished(const bench *b, const bench_run *r)
{
    return run_ok(r) && r->requests == b->flash.crowd.buyers && r->errors == 0 &&
           r->unknown == 0;
}

static void strategy_row(FILE *f, const bench_run *r, const char *skus)
{
    char a[32];
    if (!run_ok(r)) {
        fprintf(f, "| `%s` | %s | %s: %s | | | | | | | |\n", r->m->name, skus, r->status,
                r->error[0] ? r->error : "no figures");
        return;
    }
    fprintf(f, "| `%s` | %s | %s | %.2f | %.2f | %.2f | %lld | %lld | %lld | %s |\n", r->m->name,
            skus, count(r->throughput, a, sizeof(a)), ms(r->p50), ms(r->p99), ms(r->max),
            (long long)r->succeeded, (long long)r->busy, (long long)(r->errors + r->unknown),
            r->verdict);
}

void bench_judge(const bench *b, bench_verdicts *v)
{
    memset(v, 0, sizeof(*v));
    v->lua_rate = median_rate(b->rec_on, b->n_rec);
    v->lua_known = b->rb.ok && v->lua_rate > 0;
    if (v->lua_known) {
        v->lua_pct = 100.0 * v->lua_rate / b->rb.rate;
        v->lua_pass = v->lua_pct >= 90.0;
    }
    v->rec_on = v->lua_rate;
    v->rec_off = median_rate(b->rec_off, b->n_rec);
    v->rec_known = v->rec_on > 0 && v->rec_off > 0;
    if (v->rec_known) {
        v->rec_cost = 100.0 * (v->rec_off - v->rec_on) / v->rec_off;
        v->rec_pass = v->rec_cost < BENCH_RECORDING_MAX_PCT;
        v->rec_spread = fmax(spread(b->rec_on, b->n_rec, v->rec_on),
                             spread(b->rec_off, b->n_rec, v->rec_off));
    }
    /* Every strategy that runs here: one that does not exist on this back end has no
     * flash sale to finish. */
    for (int i = 0; i < b->n_flash; i++) {
        v->flash_ran += !run_skipped(&b->flash_runs[i]);
        v->flash_finished += flash_finished(b, &b->flash_runs[i]);
    }
    v->flash_pass = v->flash_ran > 0 && v->flash_finished == v->flash_ran;
    v->flash_mib = (double)b->flash_rss_kib / 1024.0;
    v->end_mib = (double)b->end_rss_kib / 1024.0;
    v->mem_pass = b->flash_rss_kib > 0 && b->flash_rss_kib < BENCH_TARGET_RSS_KIB;
    for (int load = 0; load < 2; load++) {
        const bench_run *runs = load ? b->many : b->hot;
        for (int i = 0; i < b->n_strategies; i++)
            if (run_ok(&runs[i]) && strcmp(runs[i].m->name, BENCH_LIBRARY) == 0)
                v->nr_rate[load] = runs[i].throughput;
        v->nr_known[load] = v->nr_rate[load] > 0;
        v->nr_pass[load] = v->nr_known[load];
        for (int i = 0; v->nr_known[load] && i < b->n_strategies; i++) {
            const ovs_strategy_methods *m = runs[i].m;
            /* One skipped here (n/a on this back end) has no figure to set against it. */
            if (m->xLock == NULL || !m->claims_safe || run_skipped(&runs[i]) ||
                strcmp(ovs_strategy_origin(m), OVS_ORIGIN_BUILTIN) != 0)
                continue;
            if (!run_ok(&runs[i]) || runs[i].throughput < v->nr_rate[load]) {
                size_t n = strlen(v->nr_slower[load]);
                snprintf(v->nr_slower[load] + n, sizeof(v->nr_slower[load]) - n, "%s%s",
                         n ? ", " : "", m->name);
                v->nr_pass[load] = 0;
            }
        }
    }
    /* A target that could not be measured (no redis-benchmark) is not a miss. */
    v->misses = (v->lua_known && !v->lua_pass) + (!v->rec_known || !v->rec_pass) +
                !v->flash_pass + !v->mem_pass + (v->nr_known[0] && !v->nr_pass[0]) +
                (v->nr_known[1] && !v->nr_pass[1]);
}

static const char *pass(int ok)
{
    return ok ? "PASS" : "MISS";
}

/* One load of a strategy in the SQL section: req/s, p50, p99 and its share of the tool's
 * rate on the same load. */
static void sql_cells(FILE *f, const bench *b, const bench_run *r, int load)
{
    char a[32];
    if (!run_ok(r)) {
        fprintf(f, " %s | | | |", r->status);
        return;
    }
    fprintf(f, " %s | %.2f | %.2f |", count(r->throughput, a, sizeof(a)), ms(r->p50),
            ms(r->p99));
    if (b->tool.ok[load] && b->tool.rate[load] > 0)
        fprintf(f, " %.2f |", r->throughput / b->tool.rate[load]);
    else
        fprintf(f, " n/a |");
}

/* The SQL back end's section: the database's own tool on the shop's sale, and every
 * strategy as a ratio to it, on the hot row and on many rows. */
static void sql_section(FILE *f, const bench *b)
{
    const bench_sqltool *t = &b->tool;
    char a[32], c[32];

    fprintf(f, "## %s: against %s\n\n", bench_backend(b), t->name[0] ? t->name : "its tool");
    fprintf(f,
            "The shop is on %s (%s). Its own benchmark tool ran the shop's sale, the"
            " decrement of the SKU's row and the order's INSERT in one transaction (the"
            " UPDATE guarded by `stock > 0`, since the tool has no check step), %d"
            " connections, as many transactions as a strategy run has buyers (rounded down"
            " to a multiple of the connections), on a schema the shop made with the strategy"
            " runs' stock: **hot** on SKU 1, **many** on a random one of %d. Its rate is"
            " the orders in the shop afterwards over the time it reports.%s\n\n",
            bench_backend(b),
            b->server.server ? "a server the harness started on 127.0.0.1"
                             : "the server given by URL",
            b->o.connections, b->skus_many,
            strcmp(bench_backend(b), "mysql") == 0
                ? " mariadb-slap has no random variable: the SKU is a user variable set by"
                  " a first statement (`SET @sku = ...`), one statement more than the shop's;"
                  " it reports seconds only, so its latency is the average the rate implies"
                  " (connections / rate)."
                : "");
    fprintf(f, "| load | tool tx/s | avg latency ms | committed | command |\n"
               "|---|---:|---:|---:|---|\n");
    for (int load = 0; load < 2; load++) {
        char where[24];
        snprintf(where, sizeof(where), load ? "many (%d)" : "hot (1)", b->skus_many);
        if (t->ok[load])
            fprintf(f, "| %s | %s | %.2f | %lld of %lld | `%s` |\n", where,
                    count(t->rate[load], a, sizeof(a)), t->lat_ms[load], t->committed[load],
                    t->tx[load], t->shown[load]);
        else
            fprintf(f, "| %s | error: %s | | | %s%s%s |\n", where,
                    t->error[load][0] ? t->error[load] : "did not run",
                    t->shown[load][0] ? "`" : "", t->shown[load], t->shown[load][0] ? "`" : "");
    }
    fprintf(f, "\n| strategy | hot req/s | hot p50 ms | hot p99 ms | hot ÷ %s |"
               " many req/s | many p50 ms | many p99 ms | many ÷ %s | hot ÷ many |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            t->name, t->name);
    if (t->ok[0] && t->ok[1])
        fprintf(f, "| `%s` itself | %s | | | 1.00 | %s | | | 1.00 | %.2f |\n", t->name,
                count(t->rate[0], a, sizeof(a)), count(t->rate[1], c, sizeof(c)),
                t->rate[0] / t->rate[1]);
    for (int i = 0; i < b->n_strategies; i++) {
        const bench_run *h = &b->hot[i], *m = &b->many[i];
        fprintf(f, "| `%s` |", h->m->name);
        sql_cells(f, b, h, 0);
        sql_cells(f, b, m, 1);
        if (run_ok(h) && run_ok(m) && m->throughput > 0)
            fprintf(f, " %.2f |\n", h->throughput / m->throughput);
        else
            fprintf(f, " n/a |\n");
    }
    fprintf(f, "\nhot ÷ many below 1 is the row lock's queue: every buyer of the hot SKU waits"
               " for the one before to commit, buyers of many SKUs mostly do not.\n\n");
}

static void write_report(const bench *b, const bench_verdicts *v, FILE *f)
{
    const bench_opts *o = &b->o;
    char a[32], c[32], buyers[32], ops[32], at[96] = "";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    count(o->buyers, buyers, sizeof(buyers));
    count((double)o->ops, ops, sizeof(ops));
    fprintf(f, "# oversell bench\n\n");
    fprintf(f,
            "%ld CPU%s, Redis %s, SQLite %s, oversell %s. %d connections; %s ceiling"
            " operations; %s buyers per strategy run. Every server was started by the"
            " harness on 127.0.0.1; every strategy run is recorded in `%s/results.db`"
            " (`oversell report %s/results.db` turns it into the usual reports).\n\n",
            cpus, cpus == 1 ? "" : "s", b->redis_version[0] ? b->redis_version : "?",
            sqlite3_libversion(), OVS_VERSION, o->connections, ops, buyers, o->out_dir,
            o->out_dir);
    if (o->sql != NULL)
        fprintf(f, "The shop of every run (strategies, flash sale, recording cost) is on %s:"
                   " %s.\n\n", bench_backend(b),
                b->server.server ? "a server the harness started for this bench"
                                 : "the server given by URL");

    char key[OVS_STOCK_KEY_MAX];
    ovs_stock_key(NULL, BENCH_SKU, key, sizeof(key));
    fprintf(f, "## Ceiling\n\n");
    fprintf(f,
            "The command lua-decr sells with (EVALSHA of its check-and-decrement script on"
            " `%s`, set too high to run out), %s times over %d connections, on one"
            " server of its own.\n\n",
            key, ops, o->connections);
    fprintf(f, "| client | ops/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n");
    if (b->ceil.ok)
        fprintf(f,
                "| the harness's client (`ovs_redis_eval`), one thread per connection | %s |"
                " %.3f | %.3f | %.3f |\n",
                count(b->ceil.rate, a, sizeof(a)), ms(b->ceil.lat.p50), ms(b->ceil.lat.p99),
                ms(b->ceil.lat.max));
    else
        fprintf(f, "| the harness's client (`ovs_redis_eval`) | error: %s | | | |\n",
                b->ceil.error);
    if (b->rb.ok)
        fprintf(f, "| `redis-benchmark -c %d -n %lld EVALSHA` | %s | | | |\n", o->connections,
                o->ops, count(b->rb.rate, a, sizeof(a)));
    else if (b->rb.found)
        fprintf(f, "| `redis-benchmark` | error: %s | | | |\n", b->rb.error);
    else
        fprintf(f, "| `redis-benchmark` | not found on PATH (Debian: `redis-tools`) | | | |\n");
    fprintf(f, "\n");
    if (b->rb.ok && b->ceil.ok)
        fprintf(f, "- the harness's client loop: %.0f %% of redis-benchmark's rate\n",
                100.0 * b->ceil.rate / b->rb.rate);
    if (v->lua_rate > 0)
        fprintf(f,
                "- lua-decr through the runner (hot SKU, events recorded, median of %d runs,"
                " each sale also queued for SQL): %s req/s\n",
                b->n_rec, count(v->lua_rate, a, sizeof(a)));
    if (v->lua_known)
        fprintf(f, "- lua-decr: %.0f %% of redis-benchmark's rate (target: within 10 %%)\n",
                v->lua_pct);
    fprintf(f, "\n");

    fprintf(f, "## Strategies\n\n");
    fprintf(f,
            "%s buyers arrive at once with stock for every one of them, %d workers, no think"
            " time. **hot**: every buyer buys SKU 1. **many**: buyer i buys SKU 1 + i %% %d."
            " Lock strategies retry fast here (retry_count 1000, retry_delay 0.2 ms,"
            " retry_jitter 0.2 ms) so that contention resolves in fractions of a millisecond"
            " rather than in 200 ms back-offs; every other parameter is its default. A load"
            " takes no new buyer after %d s (--load-seconds). req/s: requests answered per"
            " second, from the release of the workers to the last answer; latency: one"
            " request, from its start to its answer.\n\n",
            buyers, o->connections, b->skus_many, o->load_s);
    fprintf(f, "| strategy | SKUs | req/s | p50 ms | p99 ms | max ms | sold | gave up |"
               " errors | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < b->n_strategies; i++) {
        char many[16];
        snprintf(many, sizeof(many), "many (%d)", b->skus_many);
        strategy_row(f, &b->hot[i], "hot (1)");
        strategy_row(f, &b->many[i], many);
    }
    fprintf(f, "\nsold, gave up (lock not taken after every retry) and errors count requests;"
               " the verdict is the checker's, as in any run: `none` lets critical sections"
               " overlap even when no unit is oversold.\n");
    for (int i = 0; i < 2 * b->n_strategies; i++) {
        const bench_run *r = i % 2 ? &b->many[i / 2] : &b->hot[i / 2];
        if (run_ok(r) && r->requests < r->buyers)
            fprintf(f, "\n- `%s` on %s: the %d s were up after %s of %s buyers; its rate is"
                       " theirs", r->m->name, i % 2 ? "many SKUs" : "the hot SKU", o->load_s,
                    count((double)r->requests, a, sizeof(a)),
                    count((double)r->buyers, c, sizeof(c)));
        if (run_ok(r) && r->errors + r->unknown > 0)
            fprintf(f, "\n- `%s` on %s: %s request%s failed%s%s%s", r->m->name,
                    i % 2 ? "many SKUs" : "the hot SKU",
                    count((double)(r->errors + r->unknown), a, sizeof(a)),
                    r->errors + r->unknown == 1 ? "" : "s", r->failure[0] ? " (" : "",
                    r->failure, r->failure[0] ? ")" : "");
    }
    fprintf(f, "\n\n");

    if (b->o.sql != NULL)
        sql_section(f, b);

    fprintf(f, "## What recording costs\n\n");
    fprintf(f,
            "lua-decr on the hot SKU, %d runs with every request-path event recorded and %d"
            " with none (counters and latencies only), alternated. The results database is"
            " written after the clients finish, so it is outside the timed part either"
            " way.\n\n",
            b->n_rec, b->n_rec);
    fprintf(f, "| events | req/s of each run | median req/s |\n|---|---|---:|\n");
    for (int side = 0; side < 2; side++) {
        const bench_run *runs = side == 0 ? b->rec_on : b->rec_off;
        fprintf(f, "| %s | ", side == 0 ? "recorded" : "not recorded");
        for (int i = 0; i < b->n_rec; i++)
            fprintf(f, "%s%s", i ? ", " : "",
                    run_ok(&runs[i]) ? count(runs[i].throughput, a, sizeof(a)) : "error");
        fprintf(f, " | %s |\n", count(side == 0 ? v->rec_on : v->rec_off, c, sizeof(c)));
    }
    if (v->rec_known)
        fprintf(f,
                "\nCost: %.1f %% of throughput (target: under %.0f %%). Runs of one kind differ"
                " among themselves by up to %.0f %% of their median, so a difference of a few"
                " per cent either way is noise.\n",
                v->rec_cost, BENCH_RECORDING_MAX_PCT, v->rec_spread);
    fprintf(f, "\n");

    fprintf(f, "## Flash sale\n\n");
    fprintf(f,
            "`%s` with its strategies and parameters, as the matrix runs it%s%s%s.\n\n",
            b->flash.path, o->sql ? ", on " : "", o->sql ? bench_backend(b) : "",
            o->buyers_given ? ", with --buyers for its buyer count" : "");
    fprintf(f, "| strategy | finished | answered | sold | gave up | req/s | p99 ms | seconds |"
               " verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < b->n_flash; i++) {
        const bench_run *r = &b->flash_runs[i];
        if (run_skipped(r)) {
            fprintf(f, "| `%s` | skipped: %s | | | | | | | |\n", r->m->name, r->error);
            continue;
        }
        if (!run_ok(r)) {
            fprintf(f, "| `%s` | no: %s %s | | | | | | | |\n", r->m->name, r->status,
                    r->error);
            continue;
        }
        fprintf(f, "| `%s` | %s | %lld of %d | %lld | %lld | %s | %.2f | %.2f | %s |\n",
                r->m->name, flash_finished(b, r) ? "yes" : "no", (long long)r->requests,
                b->flash.crowd.buyers, (long long)r->succeeded, (long long)r->busy,
                count(r->throughput, a, sizeof(a)), ms(r->p99), r->seconds, r->verdict);
    }
    fprintf(f,
            "\nPeak resident set after the flash sale: %.1f MiB (getrusage ru_maxrss of the"
            " harness, servers excluded; at the end of the whole bench: %.1f MiB).\n\n",
            v->flash_mib, v->end_mib);

    if (b->flash.crowd.buyers != BENCH_TARGET_BUYERS)
        snprintf(at, sizeof(at), " (measured at %s buyers; the target is for %s)",
                 count(b->flash.crowd.buyers, a, sizeof(a)),
                 count(BENCH_TARGET_BUYERS, c, sizeof(c)));
    fprintf(f, "## Targets\n\n");
    fprintf(f, "| target | measured | result |\n|---|---|---|\n");
    if (v->lua_known)
        fprintf(f,
                "| lua-decr within 10 %% of redis-benchmark's EVALSHA rate at %d connections |"
                " %.0f %% (%s vs %s req/s) | %s |\n",
                o->connections, v->lua_pct, count(v->lua_rate, a, sizeof(a)),
                count(b->rb.rate, c, sizeof(c)), pass(v->lua_pass));
    else
        fprintf(f,
                "| lua-decr within 10 %% of redis-benchmark's EVALSHA rate at %d connections |"
                " not measured: %s | n/a |\n",
                o->connections,
                !b->rb.found ? "redis-benchmark not found on PATH"
                : !b->rb.ok  ? "redis-benchmark failed"
                             : "lua-decr did not run");
    if (v->rec_known)
        fprintf(f, "| recording costs under %.0f %% of throughput | %.1f %% | %s |\n",
                BENCH_RECORDING_MAX_PCT, v->rec_cost,
                pass(v->rec_pass));
    else
        fprintf(f, "| recording costs under %.0f %% of throughput | not measured: a run failed |"
                   " MISS |\n", BENCH_RECORDING_MAX_PCT);
    fprintf(f, "| the %s-buyer flash sale finishes for every strategy%s%s | %d of %d%s | %s |\n",
            count(BENCH_TARGET_BUYERS, a, sizeof(a)), b->o.sql ? " on " : "",
            b->o.sql ? bench_backend(b) : "", v->flash_finished, v->flash_ran, at,
            pass(v->flash_pass));
    fprintf(f, "| peak memory under 64 MiB for %s buyers | %.1f MiB%s | %s |\n",
            count(BENCH_TARGET_BUYERS, a, sizeof(a)), v->flash_mib, at, pass(v->mem_pass));
    for (int load = 0; load < 2; load++) {
        const char *where = load ? "many SKUs" : "the hot SKU";
        if (v->nr_known[load])
            fprintf(f, "| built-in lock strategies at least as fast as %s on %s | %s req/s;"
                       " %s%s | %s |\n", BENCH_LIBRARY, where,
                    count(v->nr_rate[load], a, sizeof(a)),
                    v->nr_slower[load][0] ? "slower: " : "every one as fast or faster",
                    v->nr_slower[load], pass(v->nr_pass[load]));
        else
            fprintf(f, "| built-in lock strategies at least as fast as %s on %s | not"
                       " measured: %s did not run (see its row) | n/a |\n",
                    BENCH_LIBRARY, where, BENCH_LIBRARY);
    }
    fprintf(f, "\nNot measured here: the default gate under 60 s on 2 cores (time"
               " `oversell gate`).\n");
}

int bench_write_outputs(const bench *b, const bench_verdicts *v)
{
    char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/bench.md", b->o.out_dir);
    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "oversell bench: %s: %s\n", path, strerror(errno));
        return EXIT_ENV;
    }
    write_report(b, v, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "oversell bench: %s: %s\n", path, strerror(errno));
        return EXIT_ENV;
    }
    if (!b->o.quiet)
        write_report(b, v, stdout);
    return 0;
}
