/* cli_sql.c - the database servers the commands start for `--sql postgresql` and
 * `--sql mysql`: one per back end and invocation, every cell on it, each run with a schema
 * or database of its own (engine/shop.h).
 *
 * A server lives in a private temporary directory of its own (infra/tmpdir.h), not in the
 * Redis fleet's: dbserver.h gives the parent of a server to the server's system user when
 * running as root, so one parent serves one kind only. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "infra/dbserver.h"
#include "infra/tmpdir.h"
#include "core/util.h"

int cli_sql_server_start(const ovs_shopdb_methods *m, cli_sql_server *srv, char *url,
                         size_t len, char *err, size_t errlen)
{
    enum ovs_db_kind kind;
    char why[400];

    memset(srv, 0, sizeof(*srv));
    if (strcmp(m->name, "postgresql") == 0) {
        kind = OVS_DB_POSTGRESQL;
    } else if (strcmp(m->name, "mysql") == 0) {
        kind = OVS_DB_MARIADB;
    } else {
        ovs_seterr(err, errlen, "--sql %s: the harness starts no server of that kind", m->name);
        return OVS_ERR;
    }
    if (ovs_tmpdir_make(srv->dir, sizeof(srv->dir), why, sizeof(why)) != 0) {
        ovs_seterr(err, errlen, "--sql %s: %s", m->name, why);
        srv->dir[0] = '\0';
        return OVS_ERR_ENV;
    }
    int rc = ovs_dbserver_start(kind, srv->dir, &srv->server, why, sizeof(why));
    if (rc != OVS_OK) {
        /* The log the error names is kept in the directory: so is the directory. */
        ovs_seterr(err, errlen, "--sql %s: %s", m->name, why);
        srv->server = NULL;
        return rc == OVS_ERR_ENV ? OVS_ERR_ENV : OVS_ERR;
    }
    snprintf(url, len, "%s", ovs_dbserver_url(srv->server));
    return OVS_OK;
}

pid_t cli_sql_server_pid(const cli_sql_server *srv)
{
    return srv->server ? ovs_dbserver_pid(srv->server) : -1;
}

const char *cli_sql_server_dir(const cli_sql_server *srv)
{
    return srv->server ? ovs_dbserver_dir(srv->server) : "";
}

int cli_sql_server_port(const cli_sql_server *srv)
{
    return srv->server ? ovs_dbserver_port(srv->server) : 0;
}

void cli_sql_server_stop(cli_sql_server *srv)
{
    if (srv == NULL || srv->server == NULL)
        return;
    ovs_dbserver_stop(srv->server);
    srv->server = NULL;
    ovs_tmpdir_remove(srv->dir);
    srv->dir[0] = '\0';
}
