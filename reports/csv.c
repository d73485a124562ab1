/* csv.c - results.csv, and writing the report files into place.
 *
 * The CSV is for spreadsheets and scripts, so its shape is a contract: the columns are
 * one table below, in the order of OVS_REPORT_CSV_HEADER, and only ever grow at the end.
 * Values are written as the database holds them except the units, which are converted to
 * what a person reads (ns -> ms or s) with integer arithmetic so the text is the same on
 * every machine.
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

#include "reports/results_db.h"
#include "core/util.h"

/* How a column's value becomes text. */
typedef enum csv_kind {
    CSV_TEXT, /* as stored (integers in decimal) */
    CSV_SEED, /* a uint64 seed stored in a signed INTEGER: print it unsigned again */
    CSV_RPS,  /* requests per second, 1 place */
    CSV_MS,   /* nanoseconds as milliseconds, 3 places */
    CSV_S,    /* nanoseconds as seconds, 3 places */
} csv_kind;

static const struct csv_column {
    const char *name; /* header name: part of the contract */
    const char *expr; /* the runs column it comes from */
    csv_kind kind;
} csv_columns[] = {
    { "run_id", "id", CSV_TEXT },
    { "scenario", "scenario", CSV_TEXT },
    { "strategy", "strategy", CSV_TEXT },
    { "params", "params", CSV_TEXT },
    { "seed", "seed", CSV_SEED },
    { "status", "status", CSV_TEXT },
    { "verdict", "verdict", CSV_TEXT },
    { "expect", "expect", CSV_TEXT },
    { "figure", "figure", CSV_TEXT },
    { "requests", "requests", CSV_TEXT },
    { "succeeded", "succeeded", CSV_TEXT },
    { "refused", "refused", CSV_TEXT },
    { "busy", "busy", CSV_TEXT },
    { "unknown", "unknown", CSV_TEXT },
    { "errors", "errors", CSV_TEXT },
    { "throughput_rps", "throughput", CSV_RPS },
    { "p50_ms", "p50_ns", CSV_MS },
    { "p99_ms", "p99_ns", CSV_MS },
    { "max_ms", "max_ns", CSV_MS },
    { "acquire_fail", "acquire_fail", CSV_TEXT },
    { "retries", "retries", CSV_TEXT },
    { "duration_s", "duration_ns", CSV_S },
    { "redis_version", "redis_version", CSV_TEXT },
    { "sqlite_version", "sqlite_version", CSV_TEXT },
    { "started_at", "started_at", CSV_TEXT },
    { "scenario_file", "scenario_file", CSV_TEXT },
    { "shop_db", "shop_db", CSV_TEXT },
    { "backend", "COALESCE(backend, 'sqlite')", CSV_TEXT },
    { "backend_version", "backend_version", CSV_TEXT },
};

#define CSV_NCOLUMNS (int)(sizeof csv_columns / sizeof csv_columns[0])

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

static void csv_value(FILE *out, sqlite3_stmt *st, int i, csv_kind kind)
{
    char buf[48];
    int type = sqlite3_column_type(st, i);

    if (type == SQLITE_NULL)
        return;
    switch (kind) {
    case CSV_SEED:
        if (type == SQLITE_INTEGER) {
            fprintf(out, "%llu", (unsigned long long)(uint64_t)sqlite3_column_int64(st, i));
            return;
        }
        break;
    case CSV_RPS: {
        double d = sqlite3_column_double(st, i);
        /* NaN or infinity (a run of zero length) has no honest figure: leave it empty. */
        if (isfinite(d))
            fprintf(out, "%.1f", d);
        return;
    }
    case CSV_MS:
    case CSV_S:
        ovs_report_fixed(sqlite3_column_int64(st, i),
                         kind == CSV_MS ? OVS_NS_PER_MS : OVS_NS_PER_S, 3, buf, sizeof buf);
        fputs(buf, out);
        return;
    case CSV_TEXT:
        break;
    }
    csv_field(out, ovs_rdb_text(st, i));
}

int ovs_report_csv(sqlite3 *results, FILE *out, char *err, size_t errlen)
{
    char sql[1024] = "SELECT ";
    size_t used = strlen(sql);
    sqlite3_stmt *st;
    int rc;

    for (int i = 0; i < CSV_NCOLUMNS; i++) {
        int n = snprintf(sql + used, sizeof sql - used, "%s%s", i ? ", " : "",
                         csv_columns[i].expr);
        used += (size_t)n;
    }
    snprintf(sql + used, sizeof sql - used, " FROM runs ORDER BY id");
    if (sqlite3_prepare_v2(results, sql, -1, &st, NULL) != SQLITE_OK)
        return ovs_rdb_fail(results, NULL, "runs", err, errlen);

    for (int i = 0; i < CSV_NCOLUMNS; i++)
        fprintf(out, "%s%s", i ? "," : "", csv_columns[i].name);
    fputc('\n', out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < CSV_NCOLUMNS; i++) {
            if (i)
                fputc(',', out);
            csv_value(out, st, i, csv_columns[i].kind);
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

typedef int (*csv_writer)(sqlite3 *, FILE *, char *, size_t);

/* Write one report into a new temporary file next to its final name and make it durable.
 * On success tmp holds the temporary's path; on failure nothing is left behind. */
static int csv_write_temp(sqlite3 *db, const char *dir, const char *name,
                          csv_writer writer, char *tmp, size_t tmplen, char *err,
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
     * directory. */
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

int ovs_report_write_all(sqlite3 *results, const char *dir, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        csv_writer write;
    } files[] = {
        { "summary.md", ovs_report_summary },
        { "results.csv", ovs_report_csv },
        { "index.html", ovs_report_html },
    };
    enum { NFILES = sizeof files / sizeof files[0] };
    char tmp[NFILES][CSV_PATH_MAX], dst[CSV_PATH_MAX];
    int made = 0, fd;

    for (; made < NFILES; made++)
        if (csv_write_temp(results, dir, files[made].name, files[made].write, tmp[made],
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
    /* The renames are directory entries: sync the directory so they survive a crash. */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 || fsync(fd) < 0) {
        ovs_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
fail:
    while (made-- > 0)
        unlink(tmp[made]);
    return -1;
}
