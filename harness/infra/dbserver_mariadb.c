/* dbserver_mariadb.c - the MariaDB kind of managed database server (dbserver_kind.h).
 *
 * mariadb-install-db makes the data directory; mariadbd runs in the foreground as our
 * child (not mysqld_safe, which would restart it behind our back and detach it from
 * PR_SET_PDEATHSIG); the mariadb client, run once as the server's user over its Unix
 * socket, creates the user and the database.
 *
 * --no-defaults first on every command line: the system's /etc/mysql configuration is
 * for the system's server, not this one. The superuser is the unix_socket account that
 * install-db makes for the system user the server runs as (root's own account accepts
 * only the system's root, over the socket too): no password exists to leak, and TCP
 * reaches no account but oversell's.
 *
 * Readiness: a connection to the Unix socket in the server's own directory. mariadbd
 * makes its sockets only once it accepts connections, and exits at start when it cannot
 * bind its TCP port, so a socket there while our child lives means TCP is ours too. */
#include "infra/dbserver_kind.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "infra/port.h"

/* Clients at once: 64 buyers, the write-back worker and the checker, with room. */
#define MARIADB_MAX_CONNECTIONS 200

static const char *const sbin_dirs[] = { "/usr/sbin", "/usr/bin", NULL };
static const char *const bin_dirs[] = { "/usr/bin", NULL };

static int mariadb_find(ovs_dbserver *s, char *err, size_t errlen)
{
    const char *env = getenv("OVERSELL_MARIADB_BINDIR");
    const char *dir = env != NULL && *env != '\0' ? env : NULL;

    if (dbs_find(dir, "mariadbd", sbin_dirs, s->server, sizeof(s->server)) != 0 ||
        dbs_find(dir, "mariadb-install-db", bin_dirs, s->init, sizeof(s->init)) != 0 ||
        dbs_find(dir, "mariadb", bin_dirs, s->client, sizeof(s->client)) != 0) {
        if (dir != NULL)
            ovs_seterr(err, errlen, "mariadb: OVERSELL_MARIADB_BINDIR=%s does not hold "
                       "mariadbd, mariadb-install-db and mariadb", dir);
        else
            ovs_seterr(err, errlen, "mariadb: mariadbd, mariadb-install-db or mariadb not "
                       "found (install the mariadb-server and mariadb-client packages, or "
                       "set OVERSELL_MARIADB_BINDIR)");
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

static int mariadb_init(ovs_dbserver *s, char *err, size_t errlen)
{
    dbs_argv a;

    dbs_argv_init(&a);
    dbs_argv_add(&a, "%s", s->init);
    dbs_argv_add(&a, "--no-defaults");
    dbs_argv_add(&a, "--datadir=%s", s->data);
    dbs_argv_add(&a, "--auth-root-authentication-method=socket");
    dbs_argv_add(&a, "--auth-root-socket-user=%s", s->user);
    dbs_argv_add(&a, "--skip-test-db");
    dbs_argv_add(&a, "--skip-name-resolve");
    return dbs_run(s, "mariadb-install-db", &a, NULL, DBS_TOOL_NS, err, errlen);
}

/* The socket's path, into out; -1 when it does not fit (dbserver.c checks at start that
 * the server's directory leaves room in a sockaddr_un). */
static int sock_path(const ovs_dbserver *s, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/mysqld.sock", s->dir);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* innodb_flush_log_at_trx_commit=2: the redo log is written to the kernel at every
 * commit and flushed once a second, so a killed server (ovs_dbserver_kill) loses nothing
 * it acknowledged; only a crash of the machine would, and that is no fault we make.
 * No --user: we already are that user (child.c), and a server that switched itself would
 * lose its PR_SET_PDEATHSIG. No --log-error: errors go to stderr, our log. utf8mb4, as
 * Debian's own configuration (which --no-defaults skips) has it. */
static void mariadb_server_argv(const ovs_dbserver *s, dbs_argv *a)
{
    char sock[PATH_MAX];

    if (sock_path(s, sock, sizeof(sock)) != 0)
        a->overflow = 1;
    dbs_argv_add(a, "%s", s->server);
    dbs_argv_add(a, "--no-defaults");
    dbs_argv_add(a, "--datadir=%s", s->data);
    dbs_argv_add(a, "--port=%d", s->port);
    dbs_argv_add(a, "--bind-address=" OVS_LOOPBACK_HOST);
    dbs_argv_add(a, "--socket=%s", sock);
    dbs_argv_add(a, "--pid-file=%s/mysqld.pid", s->dir);
    dbs_argv_add(a, "--tmpdir=%s", s->dir);
    dbs_argv_add(a, "--skip-name-resolve");
    dbs_argv_add(a, "--max-connections=%d", MARIADB_MAX_CONNECTIONS);
    dbs_argv_add(a, "--innodb-flush-log-at-trx-commit=2");
    dbs_argv_add(a, "--character-set-server=utf8mb4");
    dbs_argv_add(a, "--collation-server=utf8mb4_general_ci");
}

static int mariadb_ready(const ovs_dbserver *s)
{
    struct sockaddr_un sa;
    int fd, ok;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (sock_path(s, sa.sun_path, sizeof(sa.sun_path)) != 0)
        return 0;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* The user exists for 127.0.0.1 (TCP, what the URL gives) and for localhost (the socket,
 * reachable only by root and the server's user). `oversell\_%`: the databases of the
 * shop's runs, oversell_<run>, which it creates and drops itself (the backslash makes the
 * underscore literal, not a wildcard). */
static int mariadb_bootstrap(ovs_dbserver *s, char *err, size_t errlen)
{
    char sock[PATH_MAX], sql[1024];
    dbs_argv a;

    dbs_argv_init(&a);
    if (sock_path(s, sock, sizeof(sock)) != 0)
        a.overflow = 1;
    dbs_argv_add(&a, "%s", s->client);
    dbs_argv_add(&a, "--no-defaults");
    dbs_argv_add(&a, "--protocol=socket");
    dbs_argv_add(&a, "--socket=%s", sock);
    dbs_argv_add(&a, "--user=%s", s->user);
    dbs_argv_add(&a, "--batch");
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE `" OVS_DBSERVER_DATABASE "` CHARACTER SET utf8mb4;\n"
             "CREATE USER '" OVS_DBSERVER_USER "'@'" OVS_LOOPBACK_HOST "' IDENTIFIED BY '%s';\n"
             "CREATE USER '" OVS_DBSERVER_USER "'@'localhost' IDENTIFIED BY '%s';\n"
             "GRANT ALL PRIVILEGES ON `" OVS_DBSERVER_DATABASE "`.* TO '" OVS_DBSERVER_USER
             "'@'" OVS_LOOPBACK_HOST "', '" OVS_DBSERVER_USER "'@'localhost';\n"
             "GRANT ALL PRIVILEGES ON `" OVS_DBSERVER_DATABASE "\\_%%`.* TO '"
             OVS_DBSERVER_USER "'@'" OVS_LOOPBACK_HOST "', '" OVS_DBSERVER_USER
             "'@'localhost';\n",
             s->password, s->password);
    return dbs_run(s, "the mariadb client", &a, sql, DBS_TOOL_NS, err, errlen);
}

const dbserver_kind ovs_dbserver_kind_mariadb = {
    .name = "mariadb",
    .scheme = "mysql",
    .system_user = "mysql",
    .stop_signal = SIGTERM, /* a normal shutdown: InnoDB flushes and closes */
    .find = mariadb_find,
    .init = mariadb_init,
    .server_argv = mariadb_server_argv,
    .ready = mariadb_ready,
    .bootstrap = mariadb_bootstrap,
};
