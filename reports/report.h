/* report.h - the results database turned into summary.md, results.csv, results.json and
 * index.html.
 *
 * The reports read only the results database (schema in harness/engine/recorder.h) and print
 * nothing of their own: no current time, no host name, so the same database always gives
 * byte-identical reports and they can be diffed and committed. Every function writes to
 * the FILE* or directory it is given and returns 0, or -1 with the reason in err (a
 * caller-owned buffer of errlen bytes; may be NULL). On -1 whatever was already written to
 * a FILE* is incomplete; ovs_report_write_all never leaves a partial file behind.
 *
 * Formats:
 *   summary.md   title and one line of context (runs, first start, versions seen); the
 *                matrix scenarios x strategies, each cell the latest run's verdict and the
 *                figure behind it; per-scenario failing checks; one table of numbers per run.
 *   results.csv  one row per run ordered by id under a fixed header (OVS_REPORT_CSV_HEADER);
 *                RFC 4180 quoting, NULL as an empty field, lines ending in LF (quoted
 *                fields may hold CR or LF). Times: *_ms and duration_s with 3 decimals,
 *                throughput_rps with 1, retries_per_success with 3. Seeds are printed
 *                unsigned, as the runner chose them. One column per invariant (its
 *                check's observed value; empty without the check, or when it was
 *                skipped) and per liveness figure. Every column is documented in
 *                README.md.
 *   results.json the same rows as an array of objects in run order, keyed by the CSV's
 *                column names, in its order: integers as JSON integers, the CSV's
 *                decimals as JSON numbers of the same value, text as strings, NULL as
 *                null; the seed is a string (64-bit identifiers do not survive readers
 *                that hold numbers as doubles). Two-space indentation, LF.
 *   index.html   one self-contained page (inline CSS and SVG; no script, nothing fetched):
 *                the same header line and matrix as summary.md with coloured verdicts,
 *                per scenario its runs, failing checks, latency percentiles and
 *                throughput as charts, and a swim-lane timeline of every run with at most
 *                20 clients, overlapping lock holds and the writes that broke the
 *                invariant drawn in red. Every database string is HTML-escaped. */
#ifndef OVS_REPORT_H
#define OVS_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The CSV column names, in order. Tools downstream key on these: only ever append. */
#define OVS_REPORT_CSV_HEADER                                                              \
    "run_id,scenario,strategy,params,seed,status,verdict,expect,figure,requests,succeeded,"  \
    "refused,busy,unknown,errors,throughput_rps,p50_ms,p99_ms,max_ms,acquire_fail,retries,"        \
    "duration_s,redis_version,sqlite_version,started_at,scenario_file,shop_db,backend,"     \
    "backend_version,stale_answers,oversold,double_booked,mutex_overlaps,lost_orders,"      \
    "leaked_stock,divergence,sold_after_expiry,lost_sales,unavailable,retries_per_success," \
    "duplicate_orders,error"

/* Write the Markdown summary of every run in results to out. */
int ovs_report_summary(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* Write one CSV row per run (with the header line) to out. */
int ovs_report_csv(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* Write results.json (an array of one object per run, the CSV's columns as its fields)
 * to out. */
int ovs_report_json(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* Write the HTML page of every run in results to out. */
int ovs_report_html(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* A report writer: the runs in a results database, to out. */
typedef int (*ovs_report_writer)(sqlite3 *results, FILE *out, char *err, size_t errlen);
/* Write one report with writer into a new temporary file in dir named after `name`
 * (".name.XXXXXX", mode 0644) and make it durable; on success tmp holds its path, ready to
 * be renamed over dir/name, and on failure nothing is left behind. */
int ovs_report_write_temp(sqlite3 *results, const char *dir, const char *name,
                          ovs_report_writer writer, char *tmp, size_t tmplen, char *err,
                          size_t errlen);
/* fsync dir, so that renames into it survive a crash. */
int ovs_report_sync_dir(const char *dir, char *err, size_t errlen);

/* Write dir/summary.md, dir/results.csv, dir/results.json and dir/index.html. Each is written to a temporary
 * file in dir, flushed to disk, then renamed over the old one, so a reader sees the old
 * report or the new one, never half of one. Every temporary is complete before the first
 * rename, so a failure while writing leaves all the old files in place. dir must exist. */
int ovs_report_write_all(sqlite3 *results, const char *dir, char *err, size_t errlen);

/* Shared by the writers: v / div rounded half away from zero to `decimals` places
 * (0..9), in plain decimal ("-0.500", never exponent notation). div must be a positive
 * multiple of 10^decimals, e.g. ns -> ms with 3 places is (v, 1000000, 3). Integer
 * arithmetic only, so the text does not depend on the platform's floating point. */
void ovs_report_fixed(int64_t v, int64_t div, int decimals, char *buf, size_t len);

#endif
