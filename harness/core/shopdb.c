/* shopdb.c - the helpers of the shop-database interface (core/shopdb.h) that every back
 * end and caller shares: one-integer reads, one-off queries, the error setter. */
#include "core/shopdb.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/util.h"

int ovs_shopdb_fail(ovs_shopdb *db, int code, enum ovs_sqlerr cls, const char *fmt, ...)
{
    va_list ap;

    db->err = code;
    db->cls = cls;
    va_start(ap, fmt);
    vsnprintf(db->errstr, sizeof(db->errstr), fmt, ap);
    va_end(ap);
    return code;
}

int ovs_shopdb_ok(ovs_shopdb *db)
{
    db->err = OVS_OK;
    db->cls = OVS_SQLE_NONE;
    return OVS_OK;
}

typedef struct first_int {
    int64_t v;
    int found;
} first_int;

static int take_first(void *ctx, const ovs_sqlval *col, int ncol)
{
    first_int *f = ctx;

    f->found = 1;
    f->v = ncol > 0 && col[0].type == OVS_SQL_INT ? col[0].i : 0;
    return 1; /* the first row is all it reads */
}

int ovs_sql_int(ovs_shopdb *db, ovs_sqlstmt *st, const ovs_sqlval *p, int np, int64_t *out,
                int *found)
{
    first_int f = { 0, 0 };
    int rc = db->m->xStep(st, p, np, take_first, &f, NULL);

    if (rc == OVS_OK) {
        *out = f.v;
        if (found)
            *found = f.found;
    }
    return rc;
}

int ovs_sql_scalar(ovs_shopdb *db, const char *sql, int64_t *out, int *found)
{
    ovs_sqlstmt *st = NULL;
    int rc = db->m->xPrepare(db, sql, &st);

    if (rc != OVS_OK)
        return rc;
    rc = ovs_sql_int(db, st, NULL, 0, out, found);
    db->m->xFinalize(st);
    return rc;
}

int ovs_sql_rows(ovs_shopdb *db, const char *sql, ovs_sqlrow_fn fn, void *ctx)
{
    ovs_sqlstmt *st = NULL;
    int rc = db->m->xPrepare(db, sql, &st);

    if (rc != OVS_OK)
        return rc;
    rc = db->m->xStep(st, NULL, 0, fn, ctx, NULL);
    db->m->xFinalize(st);
    return rc;
}
