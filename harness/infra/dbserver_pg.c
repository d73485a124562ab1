/* dbserver_pg.c - the PostgreSQL kind of managed database server (dbserver_kind.h).
 *
 * initdb makes the cluster; `postgres` runs in the foreground as our child (not pg_ctl,
 * which would detach it from PR_SET_PDEATHSIG); psql, run once as the server's user over
 * its Unix socket, creates the role and the database.
 *
 * Who may log in is our own pg_hba.conf, not initdb's (hba_file=): the superuser, named
 * after the system user the server runs as, only over the socket and only as that system
 * user (peer: the kernel vouches, no password exists to leak); the oversell role only
 * over TCP on 127.0.0.1, with its SCRAM password. Nobody else, in no other way. initdb is
 * told --auth-host=reject because it insists on a superuser password for any password
 * method, and its file is never read.
 *
 * Readiness is what pg_ctl itself waits for: postmaster.pid in the data directory naming
 * our child's pid, with the status line "ready". The file is written by the postmaster we
 * forked into a directory only it can write, so a stranger on our port cannot fake it. */
#include "infra/dbserver_kind.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra/port.h"

#define PG_VERSIONS_DIR "/usr/lib/postgresql" /* Debian's: one bin/ per major version */
/* Clients at once: 64 buyers, the write-back worker and the checker, with room. */
#define PG_MAX_CONNECTIONS 200

/* Debian installs each major version in /usr/lib/postgresql/<version>/bin, off $PATH.
 * The newest one with a postgres in it, into out; -1 when there is none. */
static int newest_bindir(char *out, size_t len)
{
    DIR *d = opendir(PG_VERSIONS_DIR);
    struct dirent *e;
    double best = -1;
    char path[PATH_MAX], exe[PATH_MAX];

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char *end;
        double v;
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        v = strtod(e->d_name, &end); /* "15", or "9.6" before version 10 */
        if (*end != '\0' || v <= best)
            continue;
        snprintf(path, sizeof(path), PG_VERSIONS_DIR "/%.64s/bin/postgres", e->d_name);
        if (ovs_find_executable(path, exe, sizeof(exe)) != 0)
            continue;
        best = v;
        snprintf(out, len, PG_VERSIONS_DIR "/%.64s/bin", e->d_name);
    }
    closedir(d);
    return best >= 0 ? 0 : -1;
}

static int pg_find(ovs_dbserver *s, char *err, size_t errlen)
{
    const char *env = getenv("OVERSELL_PG_BINDIR");
    char bindir[PATH_MAX], found[PATH_MAX];

    if (env != NULL && *env != '\0') {
        snprintf(bindir, sizeof(bindir), "%s", env);
    } else if (newest_bindir(bindir, sizeof(bindir)) != 0) {
        /* Not Debian's layout: wherever `postgres` is on $PATH. */
        char *slash;
        if (ovs_find_executable("postgres", found, sizeof(found)) != 0 ||
            (slash = strrchr(found, '/')) == NULL) {
            ovs_seterr(err, errlen, "postgresql: no server found in " PG_VERSIONS_DIR
                       "/*/bin nor on PATH (install the postgresql package, or set "
                       "OVERSELL_PG_BINDIR)");
            return OVS_ERR_ENV;
        }
        *slash = '\0';
        snprintf(bindir, sizeof(bindir), "%s", found);
    }
    if (dbs_find(bindir, "postgres", NULL, s->server, sizeof(s->server)) != 0 ||
        dbs_find(bindir, "initdb", NULL, s->init, sizeof(s->init)) != 0 ||
        dbs_find(bindir, "psql", NULL, s->client, sizeof(s->client)) != 0) {
        ovs_seterr(err, errlen, "postgresql: %s%s does not hold postgres, initdb and psql",
                   bindir, env != NULL && *env != '\0' ? " (OVERSELL_PG_BINDIR)" : "");
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* --no-sync: initdb's final fsync of every file is most of its time, and a machine crash
 * is not among our faults (dbserver.h). C locale and UTF-8: the same collation on every
 * machine, so the checker's queries sort alike. */
static int pg_init(ovs_dbserver *s, char *err, size_t errlen)
{
    char hba[PATH_MAX + 16], text[512];
    dbs_argv a;
    int rc;

    dbs_argv_init(&a);
    dbs_argv_add(&a, "%s", s->init);
    dbs_argv_add(&a, "--pgdata=%s", s->data);
    dbs_argv_add(&a, "--username=%s", s->user);
    dbs_argv_add(&a, "--auth-local=peer");
    dbs_argv_add(&a, "--auth-host=reject");
    dbs_argv_add(&a, "--encoding=UTF8");
    dbs_argv_add(&a, "--no-locale");
    dbs_argv_add(&a, "--no-sync");
    if ((rc = dbs_run(s, "initdb", &a, NULL, DBS_TOOL_NS, err, errlen)) != OVS_OK)
        return rc;

    snprintf(hba, sizeof(hba), "%s/pg_hba.conf", s->dir);
    snprintf(text, sizeof(text),
             "# The only ways in (oversell, harness/infra/dbserver_pg.c).\n"
             "local all %s peer\n"
             "host all " OVS_DBSERVER_USER " " OVS_LOOPBACK_HOST "/32 scram-sha-256\n",
             s->user);
    return dbs_write_file(s, hba, text, err, errlen);
}

/* Every setting on the command line rather than in postgresql.conf, so `ps` shows them.
 *
 * fsync=off: a test shop. WAL is still written to the kernel before COMMIT returns
 * (synchronous_commit stays on), so a killed server (ovs_dbserver_kill) loses nothing it
 * acknowledged; only a crash of the machine would, and that is no fault we make.
 * unix_socket_permissions=0700 on top of the 0700 directory: the socket is the
 * superuser's way in. The log is stderr, which is our log file. */
static void pg_server_argv(const ovs_dbserver *s, dbs_argv *a)
{
    dbs_argv_add(a, "%s", s->server);
    dbs_argv_add(a, "-D");
    dbs_argv_add(a, "%s", s->data);
    dbs_argv_add(a, "-p");
    dbs_argv_add(a, "%d", s->port);
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "listen_addresses=" OVS_LOOPBACK_HOST);
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "unix_socket_directories=%s", s->dir);
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "unix_socket_permissions=0700");
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "hba_file=%s/pg_hba.conf", s->dir);
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "password_encryption=scram-sha-256");
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "max_connections=%d", PG_MAX_CONNECTIONS);
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "fsync=off");
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "ssl=off");
    dbs_argv_add(a, "-c");
    dbs_argv_add(a, "logging_collector=off");
}

/* postmaster.pid: line 1 the pid, line 8 the status ("ready   " once it accepts). A file
 * still being written has fewer lines, and is not ready. */
static int pg_ready(const ovs_dbserver *s)
{
    char path[PATH_MAX + 32], buf[1024];
    const char *p = buf;
    int ours = 0, ready = 0;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "%s/postmaster.pid", s->data);
    fp = fopen(path, "re");
    if (fp == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    for (int line = 1; p != NULL && line <= 8; line++) {
        if (line == 1)
            ours = atol(p) == (long)s->pid;
        else if (line == 8)
            ready = strncmp(p, "ready", 5) == 0;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return ours && ready;
}

/* CREATEDB: the shop makes a database per run (or a schema in "oversell", which it owns). */
static int pg_bootstrap(ovs_dbserver *s, char *err, size_t errlen)
{
    char sql[512];
    dbs_argv a;

    dbs_argv_init(&a);
    dbs_argv_add(&a, "%s", s->client);
    dbs_argv_add(&a, "--no-psqlrc");
    dbs_argv_add(&a, "--quiet");
    dbs_argv_add(&a, "--set=ON_ERROR_STOP=1");
    dbs_argv_add(&a, "--host=%s", s->dir);
    dbs_argv_add(&a, "--port=%d", s->port);
    dbs_argv_add(&a, "--username=%s", s->user);
    dbs_argv_add(&a, "--dbname=postgres");
    snprintf(sql, sizeof(sql),
             "CREATE ROLE " OVS_DBSERVER_USER " LOGIN CREATEDB PASSWORD '%s';\n"
             "CREATE DATABASE " OVS_DBSERVER_DATABASE " OWNER " OVS_DBSERVER_USER ";\n",
             s->password);
    return dbs_run(s, "psql", &a, sql, DBS_TOOL_NS, err, errlen);
}

const dbserver_kind ovs_dbserver_kind_postgresql = {
    .name = "postgresql",
    .scheme = "postgresql",
    .system_user = "postgres",
    .stop_signal = SIGINT, /* fast shutdown; SIGTERM (smart) waits for clients to leave */
    .find = pg_find,
    .init = pg_init,
    .server_argv = pg_server_argv,
    .ready = pg_ready,
    .bootstrap = pg_bootstrap,
};
