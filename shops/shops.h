/* shops.h - the shop-database back ends behind core/shopdb.h, and finding one.
 *
 *   sqlite      shops/sqlite.c      a file; the default
 *   postgresql  shops/postgresql.c  libpq; postgresql:// or postgres:// URLs
 *   mysql       shops/mysql.c       MariaDB Connector/C; mysql:// or mariadb:// URLs
 *
 * A back end is found by its name (`--sql postgresql`: the harness starts the server) or by
 * the scheme of a URL (`--sql postgresql://...`: the user's own server). */
#ifndef OVS_SHOPS_H
#define OVS_SHOPS_H

#include <stddef.h>

#include "core/shopdb.h"

extern const ovs_shopdb_methods ovs_shopdb_sqlite;
extern const ovs_shopdb_methods ovs_shopdb_postgresql;
extern const ovs_shopdb_methods ovs_shopdb_mysql;

/* The back end called name ("sqlite", "postgresql", "mysql"; "postgres" and "mariadb"
 * too), or NULL. */
const ovs_shopdb_methods *ovs_shops_find(const char *name);
/* The back end whose URL scheme target has ("postgresql://..."), or NULL when it has none
 * (a SQLite file, or a bare name). */
const ovs_shopdb_methods *ovs_shops_for_url(const char *target);

/* Connect: a connection of m on target in namespace ns (see xConnect). Returns OVS_OK, or
 * an error code with *out NULL and the reason in err. */
int ovs_shops_open(const ovs_shopdb_methods *m, const char *target, const char *ns,
                   ovs_shopdb **out, char *err, size_t errlen);
/* Close and free. Accepts NULL. */
void ovs_shops_close(ovs_shopdb *db);

/* A server URL in parts, percent-decoded: scheme://[user[:pass]@]host[:port][/db]. */
typedef struct ovs_sqlurl {
    char scheme[16];
    char user[64];
    char pass[128];  /* "" when the URL has none: then $OVERSELL_SQL_PASSWORD, if set */
    char host[128];
    int port;        /* 0 when the URL has none */
    char db[64];     /* "" when the URL has none */
} ovs_sqlurl;

/* Parse url. Returns 0, or -1 with what is wrong in err. */
int ovs_sqlurl_parse(const char *url, ovs_sqlurl *u, char *err, size_t errlen);
/* url with its password replaced by "***", for everything that is printed or recorded. */
void ovs_sqlurl_redact(const char *url, char *out, size_t len);

#endif
