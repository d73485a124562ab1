/* shop_backends.h - the shop back ends a live test runs over, and where their servers are.
 *
 * SQLite is always there. PostgreSQL and MariaDB are servers: a test finds one by URL in
 * OVS_TEST_POSTGRESQL_URL / OVS_TEST_MYSQL_URL (postgresql://user:pass@127.0.0.1:port/db,
 * mysql://...; the user may create schemas, or databases named oversell_...). Without a
 * URL the test starts a managed server of its own (infra/dbserver.h) once per process;
 * when the machine cannot run one, the back end's tests skip - unless CI=true, where a
 * server back end that is not tested is a failure (live.h's rule for redis-server). */
#ifndef OVS_TEST_SHOP_BACKENDS_H
#define OVS_TEST_SHOP_BACKENDS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/shop.h"
#include "infra/dbserver.h"
#include "infra/tmpdir.h"
#include "live.h"
#include "shops/shops.h"

typedef struct shop_backend {
    const char *name;      /* as in test names: "sqlite", "postgresql", "mysql" */
    const char *url_env;   /* the variable that gives its server; NULL for SQLite */
} shop_backend;

static const shop_backend shop_backends[] = {
    { "sqlite", NULL },
    { "postgresql", "OVS_TEST_POSTGRESQL_URL" },
    { "mysql", "OVS_TEST_MYSQL_URL" },
};
#define N_SHOP_BACKENDS (sizeof(shop_backends) / sizeof(shop_backends[0]))

/* A server the test process started itself, when the environment names none: one per
 * back end for the whole process (started on first use, like the harness's own), stopped
 * at exit. It is a child of the thread that started it - the test's main thread, which
 * lives as long as the process. */
static struct {
    ovs_dbserver *srv;
    char dir[512];
    int tried;
    char why[400];
} shop_backend_server[N_SHOP_BACKENDS];

static void shop_backend_servers_stop(void)
{
    for (size_t i = 0; i < N_SHOP_BACKENDS; i++) {
        if (shop_backend_server[i].srv != NULL) {
            ovs_dbserver_stop(shop_backend_server[i].srv);
            ovs_tmpdir_remove(shop_backend_server[i].dir);
            shop_backend_server[i].srv = NULL;
        }
    }
}

/* The URL of a managed server for b, started now if need be; NULL with why set when this
 * machine cannot run one (the server is not installed, or would not start). */
static inline const char *shop_backend_managed(const shop_backend *b)
{
    size_t i = (size_t)(b - shop_backends);
    enum ovs_db_kind kind = strcmp(b->name, "postgresql") == 0 ? OVS_DB_POSTGRESQL
                                                                : OVS_DB_MARIADB;

    if (shop_backend_server[i].srv != NULL)
        return ovs_dbserver_url(shop_backend_server[i].srv);
    if (shop_backend_server[i].tried)
        return NULL;
    shop_backend_server[i].tried = 1;
    if (ovs_dbserver_available(kind, shop_backend_server[i].why,
                               sizeof(shop_backend_server[i].why)) != OVS_OK)
        return NULL;
    if (ovs_tmpdir_make(shop_backend_server[i].dir, sizeof(shop_backend_server[i].dir),
                        shop_backend_server[i].why, sizeof(shop_backend_server[i].why)) != 0)
        return NULL;
    if (ovs_dbserver_start(kind, shop_backend_server[i].dir, &shop_backend_server[i].srv,
                           shop_backend_server[i].why,
                           sizeof(shop_backend_server[i].why)) != OVS_OK) {
        ovs_tmpdir_remove(shop_backend_server[i].dir);
        shop_backend_server[i].srv = NULL;
        return NULL;
    }
    atexit(shop_backend_servers_stop);
    return ovs_dbserver_url(shop_backend_server[i].srv);
}

/* The server URL of b, or NULL for SQLite: the one the environment names, else a server
 * of the test's own. A server back end with neither skips the calling test, or fails it
 * under CI=true. */
#define SHOP_BACKEND_URL(b, url)                                                             \
    do {                                                                                     \
        (url) = (b)->url_env ? getenv((b)->url_env) : NULL;                                  \
        if ((b)->url_env && ((url) == NULL || (url)[0] == '\0'))                             \
            (url) = shop_backend_managed(b);                                                 \
        if ((b)->url_env && (url) == NULL) {                                                 \
            const char *why_ = shop_backend_server[(b) - shop_backends].why;                 \
            if (ovs_test_in_ci())                                                            \
                fail_msg("%s: no server (%s), and CI=true: live tests may not be skipped",   \
                         (b)->name, why_);                                                   \
            print_message("%s: skipping %s\n", why_, (b)->name);                             \
            skip();                                                                          \
        }                                                                                    \
    } while (0)

/* Point loc at a fresh shop of back end b: a file in dir (SQLite), or a new namespace on
 * the server at url. */
static inline void shop_backend_loc(const shop_backend *b, const char *url, const char *dir,
                                    const char *file, ovs_shop_loc *loc)
{
    char path[600];

    if (url == NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        ovs_shop_loc_file(loc, path);
        return;
    }
    memset(loc, 0, sizeof(*loc));
    loc->m = ovs_shops_find(b->name);
    snprintf(loc->target, sizeof(loc->target), "%s", url);
    ovs_shop_ns_new(loc->ns, sizeof(loc->ns));
}

#endif
