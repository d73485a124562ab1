/* shop_backends.h - the shop back ends a live test runs over, and where their servers are.
 *
 * SQLite is always there. PostgreSQL and MariaDB are servers: a test finds one by URL in
 * OVS_TEST_POSTGRESQL_URL / OVS_TEST_MYSQL_URL (postgresql://user:pass@127.0.0.1:port/db,
 * mysql://...; the user may create schemas, or databases named oversell_...). Without a
 * URL the back end's tests skip - unless CI=true, where a server back end that is not
 * tested is a failure (live.h's rule for redis-server). */
#ifndef OVS_TEST_SHOP_BACKENDS_H
#define OVS_TEST_SHOP_BACKENDS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/shop.h"
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

/* The server URL of b, or NULL for SQLite. A server back end with no URL skips the
 * calling test, or fails it under CI=true. */
#define SHOP_BACKEND_URL(b, url)                                                             \
    do {                                                                                     \
        (url) = (b)->url_env ? getenv((b)->url_env) : NULL;                                  \
        if ((b)->url_env && ((url) == NULL || (url)[0] == '\0')) {                           \
            if (ovs_test_in_ci())                                                            \
                fail_msg("%s: no server (%s unset), and CI=true: live tests may not be"      \
                         " skipped", (b)->name, (b)->url_env);                               \
            print_message("%s unset: skipping %s\n", (b)->url_env, (b)->name);              \
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
