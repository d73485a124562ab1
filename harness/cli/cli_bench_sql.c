/* cli_bench_sql.c - phase 6 of `oversell bench --sql postgresql|mysql`: the database's own
 * benchmark tool on the statements the shop sells with, the ceiling the SQL strategies
 * are set against.
 *
 * The shop's act of a sale is a decrement of the SKU's row and the order's INSERT in one
 * transaction (engine/shop.c, ovs_shop_act). The tool runs the same two statements, at the
 * same connection count, for as many transactions as a strategy run has buyers, on the
 * hot row (every transaction on SKU 1) and on many rows (a random one of the bench's many
 * SKUs), against a schema made by the shop itself (ovs_shop_create) with the stock of the
 * strategy runs. It has no check step of its own, so its UPDATE carries the guard
 * (AND stock > 0) that a strategy's check provides. Its rate is committed transactions per
 * second: the orders in the shop afterwards, counted, over the time the tool reports.
 *
 *  - PostgreSQL: pgbench -n -M prepared with a custom script, `\set sku random(1, N)`.
 *  - MariaDB: mariadb-slap (mysqlslap) with --query of the statements. It has no random
 *    variable of its own, so the SKU is a user variable set by a first statement of the
 *    transaction (SET @sku = FLOOR(1 + RAND() * N), SET @sku = 1 on the hot row): one
 *    statement more than the shop's, which touches no table. It reports seconds, not
 *    latency; the latency shown is the average implied by the rate (connections / rate).
 *
 * No password on a command line: pgbench reads it from a pgpass file (PGPASSFILE), and
 * mariadb-slap from a --defaults-extra-file, both 0600 in a private directory of ours. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_bench.h"
#include "engine/shop.h"
#include "infra/tmpdir.h"
#include "shops/shops.h"
#include "core/util.h"

#define TOOL_MAX_ARGS 24
#define TOOL_MAX_ENV 512

/* The tool for the back end: pgbench from $OVERSELL_PG_BINDIR, PATH or the newest
 * /usr/lib/postgresql/<version>/bin (as dbserver.h finds the server); mariadb-slap or,
 * older, mysqlslap on PATH. 0, or -1 when it is not installed. */
static int find_tool(bench *b)
{
    bench_sqltool *t = &b->tool;
    const char *bindir = getenv("OVERSELL_PG_BINDIR");

    if (strcmp(b->o.sql->name, "postgresql") == 0) {
        snprintf(t->name, sizeof(t->name), "pgbench");
        if (bindir && *bindir) {
            snprintf(t->path, sizeof(t->path), "%s/pgbench", bindir);
            return access(t->path, X_OK) == 0 ? 0 : -1;
        }
        if (ovs_find_executable("pgbench", t->path, sizeof(t->path)) == 0)
            return 0;
        for (int v = 30; v >= 9; v--) {
            snprintf(t->path, sizeof(t->path), "/usr/lib/postgresql/%d/bin/pgbench", v);
            if (access(t->path, X_OK) == 0)
                return 0;
        }
        return -1;
    }
    snprintf(t->name, sizeof(t->name), "mariadb-slap");
    if (ovs_find_executable("mariadb-slap", t->path, sizeof(t->path)) == 0)
        return 0;
    snprintf(t->name, sizeof(t->name), "mysqlslap");
    return ovs_find_executable("mysqlslap", t->path, sizeof(t->path)) == 0 ? 0 : -1;
}

/* Write text to path, 0600, replacing it. 0 or -1 with err. */
static int write_private(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
        ovs_seterr(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return close(fd) == 0 ? 0 : -1;
}

/* The value after key on the line of out that holds it: "tps = 1234.5 (..." -> 1234.5. */
static int parse_after(const char *out, const char *key, double *v)
{
    const char *p = strstr(out, key);
    char *end;
    if (p == NULL)
        return -1;
    *v = strtod(p + strlen(key), &end);
    return end == p + strlen(key) || *v <= 0 ? -1 : 0;
}

/* The environment for the tool: ours without the variables it is told through, and add. */
static void tool_env(char **env, char *const *add)
{
    extern char **environ;
    static const char *const drop[] = { "PGPASSWORD=", "PGPASSFILE=", "PGOPTIONS=",
                                        "PGSERVICE=", "MYSQL_PWD=", "MYSQL_HOST=" };
    int n = 0;
    for (char **e = environ; *e && n < TOOL_MAX_ENV - 4; e++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
            skip |= strncmp(*e, drop[k], strlen(drop[k])) == 0;
        if (!skip)
            env[n++] = *e;
    }
    for (; *add; add++)
        env[n++] = *add;
    env[n] = NULL;
}

static void show(char *buf, size_t len, char *const *argv)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "", argv[i]);
}

/* One load of the tool on the shop at loc: fills t->rate[load] and t->lat_ms[load]. */
static int run_tool(bench *b, const ovs_sqlurl *u, const char *dir, const ovs_shop_loc *loc,
                    int load, int skus, char *err, size_t errlen)
{
    bench_sqltool *t = &b->tool;
    int c = b->o.connections, status = 0;
    long long per = b->o.buyers / c > 0 ? b->o.buyers / c : 1;
    char *argv[TOOL_MAX_ARGS], *env[TOOL_MAX_ENV];
    char a[TOOL_MAX_ARGS][700], pass[700], opts[160], out[8192], text[1024], file[600];
    int n = 0;
    int64_t deadline = ovs_now_ns() + (60 + per * c / 100) * OVS_NS_PER_S;
    double secs = 0;
    int pg = strcmp(b->o.sql->name, "postgresql") == 0;

    t->tx[load] = per * c;
#define ARG(...) (snprintf(a[n], sizeof(a[n]), __VA_ARGS__), argv[n] = a[n], n++)
    if (pg) {
        /* The shop's act (ST_DECREMENT, ST_ORDER), guarded, in one transaction. */
        snprintf(file, sizeof(file), "%s/sale-%d.sql", dir, load);
        snprintf(text, sizeof(text),
                 "\\set sku random(1, %d)\n"
                 "BEGIN;\n"
                 "UPDATE skus SET stock = stock - 1 WHERE id = :sku AND stock > 0;\n"
                 "INSERT INTO orders(sku, buyer, fence, created_ns)"
                 " VALUES (:sku, :client_id, NULL, 0);\n"
                 "END;\n",
                 skus);
        if (write_private(file, text, err, errlen) != 0)
            return -1;
        snprintf(file + strlen(dir), sizeof(file) - strlen(dir), "/pgpass");
        snprintf(text, sizeof(text), "*:*:*:%s:%s\n", u->user, u->pass);
        if (write_private(file, text, err, errlen) != 0)
            return -1;
        snprintf(pass, sizeof(pass), "PGPASSFILE=%s", file);
        snprintf(opts, sizeof(opts), "PGOPTIONS=-csearch_path=%s", loc->ns);
        char *add[] = { pass, opts, NULL };
        tool_env(env, add);
        ARG("%s", t->name);
        ARG("-n"); ARG("-M"); ARG("prepared");
        ARG("-h"); ARG("%s", u->host); ARG("-p"); ARG("%d", u->port ? u->port : 5432);
        ARG("-U"); ARG("%s", u->user);
        ARG("-c"); ARG("%d", c); ARG("-j"); ARG("%d", c); ARG("-t"); ARG("%lld", per);
        ARG("-f"); ARG("%s/sale-%d.sql", dir, load);
        ARG("%s", u->db[0] ? u->db : u->user);
    } else {
        snprintf(file, sizeof(file), "%s/client.cnf", dir);
        snprintf(text, sizeof(text), "[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\n",
                 u->user, u->pass, u->host, u->port ? u->port : 3306);
        if (write_private(file, text, err, errlen) != 0)
            return -1;
        char *add[] = { NULL };
        tool_env(env, add);
        ARG("%s", t->name);
        /* Must come first: the client reads it before any other option. */
        ARG("--defaults-extra-file=%s", file);
        ARG("--protocol=tcp");
        ARG("--concurrency=%d", c);
        ARG("--iterations=1");
        /* Each client stops after its share, counted in statements: five a sale. */
        ARG("--number-of-queries=%lld", 5 * per * c);
        ARG("--create-schema=%s", loc->ns);
        ARG("--no-drop");
        ARG("--delimiter=;");
        if (load == 0)
            ARG("--query=SET @sku = 1;BEGIN;UPDATE skus SET stock = stock - 1 WHERE id = @sku"
                " AND stock > 0;INSERT INTO orders(sku, buyer, fence, created_ns)"
                " VALUES (@sku, CONNECTION_ID(), NULL, 0);COMMIT");
        else
            ARG("--query=SET @sku = FLOOR(1 + RAND() * %d);BEGIN;UPDATE skus SET stock ="
                " stock - 1 WHERE id = @sku AND stock > 0;INSERT INTO orders(sku, buyer,"
                " fence, created_ns) VALUES (@sku, CONNECTION_ID(), NULL, 0);COMMIT",
                skus);
    }
#undef ARG
    argv[n] = NULL;
    show(t->shown[load], sizeof(t->shown[load]), argv);
    progress(b, "[bench] %s, %s: %lld transactions over %d connections ...", t->name,
             load ? "many rows" : "hot row", t->tx[load], c);
    if (bench_spawn(b, t->path, argv, env, deadline, out, sizeof(out), &status, err,
                    errlen) != 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        (pg ? parse_after(out, "\ntps = ", &t->rate[load]) != 0 ||
                  parse_after(out, "\nlatency average = ", &t->lat_ms[load]) != 0
            : parse_after(out, "Average number of seconds to run all queries: ", &secs) != 0)) {
        for (char *p = out; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        ovs_seterr(err, errlen, "exit status %d; no rate in its output: %.200s",
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out);
        return -1;
    }
    /* What was done is what the shop holds: every committed sale left its order. */
    ovs_shop *shop = NULL;
    int64_t orders = -1;
    if (ovs_shop_open(loc, &shop, err, errlen) != 0)
        return -1;
    if (ovs_shop_scalar(shop, "SELECT count(*) FROM orders", &orders) != 0) {
        ovs_seterr(err, errlen, "counting the orders: %s", ovs_shop_errmsg(shop));
        ovs_shop_close(shop);
        return -1;
    }
    ovs_shop_close(shop);
    t->committed[load] = orders;
    if (!pg) {
        t->rate[load] = (double)orders / secs;
        t->lat_ms[load] = 1000.0 * c / t->rate[load];
    }
    progress(b, " %.0f tx/s\n", t->rate[load]);
    if (orders != t->tx[load]) {
        ovs_seterr(err, errlen, "%lld of %lld transactions committed", (long long)orders,
                   t->tx[load]);
        return -1;
    }
    return 0;
}

void bench_sqltool_phase(bench *b)
{
    bench_sqltool *t = &b->tool;
    char dir[512], err[400];
    ovs_sqlurl u;

    if (find_tool(b) != 0) {
        snprintf(t->error[0], sizeof(t->error[0]), "%s not found", t->name);
        snprintf(t->error[1], sizeof(t->error[1]), "%s not found", t->name);
        return;
    }
    t->found = 1;
    if (ovs_sqlurl_parse(b->sql_url, &u, err, sizeof(err)) != 0) {
        b->failures++;
        snprintf(t->error[0], sizeof(t->error[0]), "%s", err);
        return;
    }
    if (u.pass[0] == '\0' && getenv("OVERSELL_SQL_PASSWORD"))
        snprintf(u.pass, sizeof(u.pass), "%s", getenv("OVERSELL_SQL_PASSWORD"));
    if (ovs_tmpdir_make(dir, sizeof(dir), err, sizeof(err)) != 0) {
        b->env_fail = 1;
        snprintf(b->env_error, sizeof(b->env_error), "%s: %s", t->name, err);
        return;
    }
    for (int load = 0; load < 2 && !stopping(b); load++) {
        ovs_scenario sc;
        ovs_shop_loc loc = { .m = b->o.sql };
        int skus = load ? b->skus_many : 1;
        char drop[300];

        snprintf(loc.target, sizeof(loc.target), "%s", b->sql_url);
        ovs_shop_ns_new(loc.ns, sizeof(loc.ns));
        if (bench_crowd_scenario(b, load ? "bench-many" : "bench-hot", skus, &sc, err,
                                 sizeof(err)) != 0) {
            snprintf(t->error[load], sizeof(t->error[load]), "%s", err);
            b->failures++;
            continue;
        }
        int rc = ovs_shop_create(&loc, &sc, err, sizeof(err));
        ovs_scenario_free(&sc);
        if (rc == 0)
            t->ok[load] = run_tool(b, &u, dir, &loc, load, skus, err, sizeof(err)) == 0;
        if (!t->ok[load]) {
            progress(b, "\n");
            snprintf(t->error[load], sizeof(t->error[load]), "%s", err);
            if (!stopping(b)) {
                b->failures++;
                fprintf(stderr, "oversell bench: %s: %s\n", t->name, err);
            }
        }
        if (ovs_shop_drop(&loc, drop, sizeof(drop)) != 0 && rc == 0)
            fprintf(stderr, "oversell bench: %s: %s\n", t->name, drop);
    }
    ovs_tmpdir_remove(dir);
}
