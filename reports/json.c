/* json.c - results.json: the rows of results.csv for programs, as JSON.
 *
 * The fields are the CSV's columns (reports/columns.h), so a script can move from one file
 * to the other without a mapping, and the values are the CSV's values typed: a decimal
 * the CSV prints with 3 places is that same text read back as a number, never a second
 * rounding of the stored one. jansson writes the text; nothing here prints JSON by hand.
 *
 * jansson refuses strings that are not UTF-8, and the database holds text from outside
 * (error messages of servers, figures cut at a byte count): such text is written with
 * each invalid byte replaced by U+FFFD rather than failing the whole report. */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reports/columns.h"
#include "reports/results_db.h"
#include "core/util.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t json_utf8_len(const unsigned char *s)
{
    size_t n;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* s as a JSON string, invalid bytes replaced by U+FFFD. NULL when out of memory. */
static json_t *json_text(const char *s)
{
    json_t *v = json_string(s);
    const unsigned char *p = (const unsigned char *)s;
    char *fixed, *w;

    if (v != NULL)
        return v;
    /* At most 3 bytes out (U+FFFD) per byte in. */
    if ((fixed = w = malloc(3 * strlen(s) + 1)) == NULL)
        return NULL;
    while (*p != '\0') {
        size_t n = json_utf8_len(p);
        if (n == 0) {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
            p++;
        } else {
            memcpy(w, p, n);
            w += n;
            p += n;
        }
    }
    *w = '\0';
    v = json_string(fixed);
    free(fixed);
    return v;
}

/* Column i of row st as a JSON value; NULL when out of memory. */
static json_t *json_value(sqlite3_stmt *st, int i)
{
    char buf[48];
    ovs_col_kind kind = ovs_columns_kind(i);

    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        if (kind == OVS_COL_TEXT)
            return json_integer((json_int_t)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        if (kind == OVS_COL_TEXT)
            return json_real(sqlite3_column_double(st, i));
        break;
    default:
        if (kind == OVS_COL_TEXT)
            return json_text(ovs_rdb_text(st, i) ? ovs_rdb_text(st, i) : "");
        break;
    }
    if (!ovs_columns_number(st, i, buf, sizeof buf))
        return json_null();
    if (kind == OVS_COL_SEED)
        return json_text(buf);
    return json_real(strtod(buf, NULL));
}

int ovs_report_json(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    json_t *runs = json_array();
    int rc, n = ovs_columns_count();

    if (runs == NULL) {
        ovs_seterr(err, errlen, "results.json: out of memory");
        return -1;
    }
    if (ovs_columns_prepare(results, &st, err, errlen) < 0) {
        json_decref(runs);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *run = json_object();
        if (run == NULL || json_array_append_new(runs, run) != 0)
            goto oom;
        for (int i = 0; i < n; i++)
            if (json_object_set_new(run, ovs_columns_name(i), json_value(st, i)) != 0)
                goto oom;
    }
    if (rc != SQLITE_DONE) {
        json_decref(runs);
        return ovs_rdb_fail(results, st, "runs", err, errlen);
    }
    sqlite3_finalize(st);
    /* 15 significant digits: every decimal of the CSV (3 places below 10^12) reads back
     * as itself, where jansson's default 17 would print 1.234 as 1.2339999999999999. */
    if (json_dumpf(runs, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0 ||
        fputc('\n', out) == EOF || fflush(out) != 0 || ferror(out)) {
        json_decref(runs);
        ovs_seterr(err, errlen, "writing results.json failed");
        return -1;
    }
    json_decref(runs);
    return 0;
oom:
    sqlite3_finalize(st);
    json_decref(runs);
    ovs_seterr(err, errlen, "results.json: out of memory");
    return -1;
}
