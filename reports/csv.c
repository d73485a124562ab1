/* csv.c - results.csv, and writing the report files into place.
 *
 * The CSV is for spreadsheets and scripts, so its shape is a contract: the columns are
 * one table below, in the order of OVS_REPORT_CSV_HEADER, and only ever grow at the end.
 * Values are written as the database holds them except the units, which are converted to
 * what a person reads (ns -> ms or s) with integer arithmetic so the text is the same on
 * every machine. The same table gives results.json its fields (json.c, through
 * reports/columns.h).
 *
 * ovs_report_write_all lives here too: it is the one place that touches the file system,
 * and it is what makes a crash during reporting harmless (temporary file, fsync, rename). */
#include "reports/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/columns.h"
#include "reports/results_db.h"
#include "core/answer.h"
#include "core/util.h"

/* The observed value of one invariant's check, empty when the run has no such check or
 * when it was skipped (a check that could not run measured nothing, and 0 would read as
 * "held"). */
#define CSV_CHECK(inv)                                                                     \
    "(SELECT observed FROM checks WHERE checks.run = runs.id AND checks.invariant = '" inv \
    "' AND checks.verdict != 'skipped')"

static const struct csv_column {
    const char *name;  /* header name: part of the contract */
    const char *expr;  /* the SQL over runs it comes from */
    ovs_col_kind kind;
    const char *added; /* a runs column added after the first schema that expr reads, or
                          NULL: a database without it reads NULL here */
} csv_columns[] = {
    { "run_id", "id", OVS_COL_TEXT, NULL },
    { "scenario", "scenario", OVS_COL_TEXT, NULL },
    { "strategy", "strategy", OVS_COL_TEXT, NULL },
    { "params", "params", OVS_COL_TEXT, NULL },
    { "seed", "seed", OVS_COL_SEED, NULL },
    { "status", "status", OVS_COL_TEXT, NULL },
    { "verdict", "verdict", OVS_COL_TEXT, NULL },
    { "expect", "expect", OVS_COL_TEXT, NULL },
    { "figure", "figure", OVS_COL_TEXT, NULL },
    { "requests", "requests", OVS_COL_TEXT, NULL },
    { "succeeded", "succeeded", OVS_COL_TEXT, NULL },
    { "refused", "refused", OVS_COL_TEXT, NULL },
    { "busy", "busy", OVS_COL_TEXT, NULL },
    { "unknown", "unknown", OVS_COL_TEXT, NULL },
    { "errors", "errors", OVS_COL_TEXT, NULL },
    { "throughput_rps", "throughput", OVS_COL_RPS, NULL },
    { "p50_ms", "p50_ns", OVS_COL_MS, NULL },
    { "p99_ms", "p99_ns", OVS_COL_MS, NULL },
    { "max_ms", "max_ns", OVS_COL_MS, NULL },
    { "acquire_fail", "acquire_fail", OVS_COL_TEXT, NULL },
    { "retries", "retries", OVS_COL_TEXT, NULL },
    { "duration_s", "duration_ns", OVS_COL_S, NULL },
    { "redis_version", "redis_version", OVS_COL_TEXT, NULL },
    { "sqlite_version", "sqlite_version", OVS_COL_TEXT, NULL },
    { "started_at", "started_at", OVS_COL_TEXT, NULL },
    { "scenario_file", "scenario_file", OVS_COL_TEXT, NULL },
    { "shop_db", "shop_db", OVS_COL_TEXT, NULL },
    { "backend", "COALESCE(backend, 'sqlite')", OVS_COL_TEXT, NULL },
    { "backend_version", "backend_version", OVS_COL_TEXT, NULL },
    /* A figure beside the verdict: empty for a strategy that answers no availability. */
    { "stale_answers",
      "(SELECT observed FROM checks WHERE checks.run = runs.id AND checks.invariant = '"
      OVS_STALE_ANSWERS "')", OVS_COL_TEXT, NULL },
    /* One column per invariant of engine/checker.h, named as its check. */
    { "oversold", CSV_CHECK("oversold"), OVS_COL_TEXT, NULL },
    { "double_booked", CSV_CHECK("double_booked"), OVS_COL_TEXT, NULL },
    { "mutex_overlaps", CSV_CHECK("mutex_overlaps"), OVS_COL_TEXT, NULL },
    { "lost_orders", CSV_CHECK("lost_orders"), OVS_COL_TEXT, NULL },
    { "leaked_stock", CSV_CHECK("leaked_stock"), OVS_COL_TEXT, NULL },
    { "divergence", CSV_CHECK("divergence"), OVS_COL_TEXT, NULL },
    { "sold_after_expiry", CSV_CHECK("sold_after_expiry"), OVS_COL_TEXT, NULL },
    /* The liveness figures (engine/liveness.h), as the run recorded them. */
    { "lost_sales", "lost_sales", OVS_COL_TEXT, "lost_sales" },
    { "unavailable", "unavailable", OVS_COL_TEXT, "unavailable" },
    { "retries_per_success", "retries_per_success", OVS_COL_RATIO, "retries_per_success" },
    /* Appended after the figures: the columns before it keep their places. */
    { "duplicate_orders", CSV_CHECK("duplicate_orders"), OVS_COL_TEXT, NULL },
    /* Why a run has no verdict: the error of a failed run, the reason of an n/a cell
     * ("n/a on --redis: needs process control of ..."); empty for a judged run. */
    { "error", "CASE WHEN status IN ('error', 'n/a') THEN error END", OVS_COL_TEXT, "error" },
};

#define CSV_NCOLUMNS (int)(sizeof csv_columns / sizeof csv_columns[0])

int ovs_columns_count(void)
{
    return CSV_NCOLUMNS;
}

const char *ovs_columns_name(int i)
{
    return csv_columns[i].name;
}

ovs_col_kind ovs_columns_kind(int i)
{
    return csv_columns[i].kind;
}

/* Longest path write_all builds; longer directory names are refused, not truncated. */
#define CSV_PATH_MAX 4096

void ovs_report_fixed(int64_t v, int64_t div, int decimals, char *buf, size_t len)
{
    uint64_t pow10 = 1, scale, mag, q;

    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    for (int i = 0; i < decimals; i++)
        pow10 *= 10;
    scale = (uint64_t)div / pow10;
    if (scale == 0)
        scale = 1;
    /* Work on the magnitude in unsigned arithmetic: -INT64_MIN does not fit in int64. */
    mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    q = mag / scale + (mag % scale >= scale - scale / 2 ? 1 : 0);
    if (decimals == 0)
        snprintf(buf, len, "%s%llu", v < 0 && q ? "-" : "", (unsigned long long)q);
    else
        snprintf(buf, len, "%s%llu.%0*llu", v < 0 && q ? "-" : "",
                 (unsigned long long)(q / pow10), decimals, (unsigned long long)(q % pow10));
}

/* One field, quoted per RFC 4180 when it holds a comma, quote, CR or LF. */
static void csv_field(FILE *out, const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int ovs_columns_number(sqlite3_stmt *st, int i, char *buf, size_t len)
{
    int type = sqlite3_column_type(st, i);
    ovs_col_kind kind = csv_columns[i].kind;
    double d;

    if (type == SQLITE_NULL)
        return 0;
    switch (kind) {
    case OVS_COL_SEED:
        if (type != SQLITE_INTEGER)
            break;
        snprintf(buf, len, "%llu", (unsigned long long)(uint64_t)sqlite3_column_int64(st, i));
        return 1;
    case OVS_COL_RPS:
    case OVS_COL_RATIO:
        d = sqlite3_column_double(st, i);
        /* NaN or infinity (a run of zero length) has no honest figure: leave it empty. */
        if (!isfinite(d))
            return 0;
        snprintf(buf, len, kind == OVS_COL_RPS ? "%.1f" : "%.3f", d);
        return 1;
    case OVS_COL_MS:
    case OVS_COL_S:
        ovs_report_fixed(sqlite3_column_int64(st, i),
                         kind == OVS_COL_MS ? OVS_NS_PER_MS : OVS_NS_PER_S, 3, buf, len);
        return 1;
    case OVS_COL_TEXT:
        break;
    }
    /* A seed that is not an integer: as stored, as any text. */
    snprintf(buf, len, "%s", ovs_rdb_text(st, i) ? ovs_rdb_text(st, i) : "");
    return 1;
}

static void csv_value(FILE *out, sqlite3_stmt *st, int i)
{
    ovs_col_kind kind = csv_columns[i].kind;
    char buf[48];

    /* Text, and a seed that is not an integer, as stored: quoted when it must be. */
    if (kind == OVS_COL_TEXT ||
        (kind == OVS_COL_SEED && sqlite3_column_type(st, i) != SQLITE_INTEGER)) {
        csv_field(out, ovs_rdb_text(st, i));
        return;
    }
    if (ovs_columns_number(st, i, buf, sizeof buf))
        fputs(buf, out);
}

/* 1 when the runs table of db has the column name, 0 when not, -1 on failure. */
static int csv_has_column(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int ovs_columns_prepare(sqlite3 *db, sqlite3_stmt **st, char *err, size_t errlen)
{
    char sql[4096] = "SELECT ";
    size_t used = strlen(sql);

    for (int i = 0; i < CSV_NCOLUMNS; i++) {
        const char *expr = csv_columns[i].expr;
        if (csv_columns[i].added != NULL) {
            int has = csv_has_column(db, csv_columns[i].added);
            if (has < 0)
                return ovs_rdb_fail(db, NULL, "runs", err, errlen);
            if (!has)
                expr = "NULL";
        }
        int n = snprintf(sql + used, sizeof sql - used, "%s%s", i ? ", " : "", expr);
        if (n < 0 || (size_t)n >= sizeof sql - used) {
            ovs_seterr(err, errlen, "runs: the query of the report columns is too long");
            return -1;
        }
        used += (size_t)n;
    }
    snprintf(sql + used, sizeof sql - used, " FROM runs ORDER BY id");
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return ovs_rdb_fail(db, NULL, "runs", err, errlen);
    return 0;
}

int ovs_report_csv(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (ovs_columns_prepare(results, &st, err, errlen) < 0)
        return -1;
    for (int i = 0; i < CSV_NCOLUMNS; i++)
        fprintf(out, "%s%s", i ? "," : "", csv_columns[i].name);
    fputc('\n', out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < CSV_NCOLUMNS; i++) {
            if (i)
                fputc(',', out);
            csv_value(out, st, i);
        }
        fputc('\n', out);
    }
    if (rc != SQLITE_DONE)
        return ovs_rdb_fail(results, st, "runs", err, errlen);
    sqlite3_finalize(st);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing results.csv failed");
        return -1;
    }
    return 0;
}

int ovs_report_write_temp(sqlite3 *db, const char *dir, const char *name,
                          ovs_report_writer writer, char *tmp, size_t tmplen, char *err,
                          size_t errlen)
{
    int n = snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, name);
    int fd;
    FILE *f;

    if (n < 0 || (size_t)n >= tmplen) {
        ovs_seterr(err, errlen, "%s: directory name too long", dir);
        return -1;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        ovs_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    /* mkstemp makes the file private (0600); a report is for everyone who can read the
     * directory, and a metrics collector may run as another user. */
    if (fchmod(fd, 0644) < 0 || (f = fdopen(fd, "w")) == NULL) {
        ovs_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (writer(db, f, err, errlen) < 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    /* fsync before rename: otherwise a crash can leave the new name on an empty file. */
    if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
        ovs_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) != 0) {
        ovs_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ovs_report_sync_dir(const char *dir, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    if (fd < 0 || fsync(fd) < 0) {
        ovs_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int ovs_report_write_all(sqlite3 *results, const char *dir, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        ovs_report_writer write;
    } files[] = {
        { "summary.md", ovs_report_summary },
        { "results.csv", ovs_report_csv },
        { "results.json", ovs_report_json },
        { "index.html", ovs_report_html },
    };
    enum { NFILES = sizeof files / sizeof files[0] };
    char tmp[NFILES][CSV_PATH_MAX], dst[CSV_PATH_MAX];
    int made = 0;

    for (; made < NFILES; made++)
        if (ovs_report_write_temp(results, dir, files[made].name, files[made].write, tmp[made],
                           sizeof tmp[made], err, errlen) < 0)
            goto fail;
    for (int i = 0; i < NFILES; i++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i].name);
        if (rename(tmp[i], dst) < 0) {
            ovs_seterr(err, errlen, "%s: %s", dst, strerror(errno));
            /* Files already renamed are complete new reports; only the rest go. */
            made -= i;
            memmove(tmp, tmp[i], (size_t)made * sizeof tmp[0]);
            goto fail;
        }
    }
    return ovs_report_sync_dir(dir, err, errlen);
fail:
    while (made-- > 0)
        unlink(tmp[made]);
    return -1;
}
