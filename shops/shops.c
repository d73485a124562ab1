/* shops.c - finding a shop back end, opening a connection, and server URLs. */
#include "shops/shops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const struct {
    const char *name;
    const ovs_shopdb_methods *m;
} names[] = {
    { "sqlite", &ovs_shopdb_sqlite },
    { "postgresql", &ovs_shopdb_postgresql },
    { "postgres", &ovs_shopdb_postgresql },
    { "mysql", &ovs_shopdb_mysql },
    { "mariadb", &ovs_shopdb_mysql },
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

const ovs_shopdb_methods *ovs_shops_find(const char *name)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].m;
    return NULL;
}

const ovs_shopdb_methods *ovs_shops_for_url(const char *target)
{
    const char *colon = strstr(target, "://");
    char scheme[16];
    size_t n = colon ? (size_t)(colon - target) : 0;

    if (colon == NULL || n == 0 || n >= sizeof(scheme))
        return NULL;
    memcpy(scheme, target, n);
    scheme[n] = '\0';
    const ovs_shopdb_methods *m = ovs_shops_find(scheme);
    return m == &ovs_shopdb_sqlite ? NULL : m;
}

int ovs_shops_open(const ovs_shopdb_methods *m, const char *target, const char *ns,
                   ovs_shopdb **out, char *err, size_t errlen)
{
    ovs_shopdb *db = calloc(1, m->size);
    int rc;

    *out = NULL;
    if (db == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", m->name);
        return OVS_ERR;
    }
    db->m = m;
    rc = m->xConnect(db, target, ns);
    if (rc != OVS_OK) {
        ovs_seterr(err, errlen, "%s", db->errstr);
        ovs_shops_close(db);
        return rc;
    }
    *out = db;
    return OVS_OK;
}

void ovs_shops_close(ovs_shopdb *db)
{
    if (db == NULL)
        return;
    db->m->xClose(db);
    free(db);
}

/* Copy [s, s+n) into out (len bytes), percent-decoded. -1 when it does not fit or has a
 * malformed escape. */
static int decode(const char *s, size_t n, char *out, size_t len)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            unsigned v;
            char hex[3] = { 0 };
            if (i + 2 >= n)
                return -1;
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            if (sscanf(hex, "%2x", &v) != 1)
                return -1;
            c = (int)v;
            i += 2;
        }
        if (k + 1 >= len)
            return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

int ovs_sqlurl_parse(const char *url, ovs_sqlurl *u, char *err, size_t errlen)
{
    const char *p = strstr(url, "://"), *at, *slash, *hostend, *q;
    long long port;

    memset(u, 0, sizeof(*u));
    if (p == NULL || (size_t)(p - url) >= sizeof(u->scheme)) {
        ovs_seterr(err, errlen, "not a URL (scheme://user@host:port/db)");
        return -1;
    }
    memcpy(u->scheme, url, (size_t)(p - url));
    p += 3;
    slash = strchr(p, '/');
    q = slash ? slash : p + strlen(p);
    at = memchr(p, '@', (size_t)(q - p));
    if (at != NULL) {
        /* user[:pass] before the last '@' of the authority: a password may hold '@' only
         * percent-encoded, as RFC 3986 says. */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (decode(p, (size_t)((colon ? colon : at) - p), u->user, sizeof(u->user)) != 0 ||
            (colon && decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof(u->pass)) != 0)) {
            ovs_seterr(err, errlen, "the user or password of the URL is malformed or too long");
            return -1;
        }
        p = at + 1;
    }
    hostend = memchr(p, ':', (size_t)(q - p));
    if (decode(p, (size_t)((hostend ? hostend : q) - p), u->host, sizeof(u->host)) != 0 ||
        u->host[0] == '\0') {
        ovs_seterr(err, errlen, "the URL has no host");
        return -1;
    }
    if (hostend != NULL) {
        char num[16];
        size_t n = (size_t)(q - hostend - 1);
        if (n == 0 || n >= sizeof(num)) {
            ovs_seterr(err, errlen, "the port of the URL is malformed");
            return -1;
        }
        memcpy(num, hostend + 1, n);
        num[n] = '\0';
        if (ovs_parse_int(num, 1, 65535, &port) != 0) {
            ovs_seterr(err, errlen, "the port of the URL is not 1..65535");
            return -1;
        }
        u->port = (int)port;
    }
    if (slash != NULL) {
        size_t n = strcspn(slash + 1, "?#");
        if (decode(slash + 1, n, u->db, sizeof(u->db)) != 0) {
            ovs_seterr(err, errlen, "the database name of the URL is too long");
            return -1;
        }
    }
    if (u->pass[0] == '\0') {
        const char *env = getenv("OVERSELL_SQL_PASSWORD");
        if (env != NULL)
            snprintf(u->pass, sizeof(u->pass), "%s", env);
    }
    return 0;
}

void ovs_sqlurl_redact(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    const char *end = p ? p + 3 + strcspn(p + 3, "/") : NULL;
    const char *at = NULL, *colon = NULL;

    if (p != NULL)
        for (const char *c = p + 3; c < end; c++)
            if (*c == '@')
                at = c;
    if (at != NULL)
        colon = memchr(p + 3, ':', (size_t)(at - p - 3));
    if (colon == NULL) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
}
