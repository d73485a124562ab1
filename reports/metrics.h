/* metrics.h - the results database in Prometheus's text exposition format (version 0.0.4),
 * for node_exporter's textfile collector and for `promtool check metrics`.
 *
 * One series per cell of the matrix, labelled scenario, strategy and backend (the shop's:
 * sqlite, postgresql, mysql); runs of a cell with different parameters or seeds add up in
 * its series. Cells recorded only as n/a (the strategy does not run on that back end) have
 * none. The families, in this order:
 *
 *   redis_lock_acquisition_seconds  histogram of the time every recorded lock acquisition
 *                                   took, whatever its outcome; buckets 0.001, 0.01, 0.1,
 *                                   1, 5 and +Inf (cumulative), _sum in seconds, _count
 *   redis_lock_failures_total       counter: recorded acquisitions whose outcome is 'fail'
 *                                   (the lock was certainly not taken: busy, refused, or
 *                                   not sent); an 'unknown' one is no failure here
 *   oversell_ok_runs                gauge: runs that completed (status ok)
 *   oversell_unsafe_runs            gauge: of those, runs judged unsafe
 *   oversell_oversold               gauge: the worst oversell or double booking among
 *                                   them (the primary check's observed figure); no sample
 *                                   for a cell without one
 *
 * A scenario that records no events (no_events) still has its series, with empty
 * histograms and no failures: the two lock families come from the events table. No
 * timestamps (the textfile collector refuses them), nothing but the database in the text:
 * the same database gives byte-identical metrics. Functions return 0, or -1 with the
 * reason in err (a caller-owned buffer of errlen bytes; may be NULL). */
#ifndef OVS_METRICS_H
#define OVS_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

/* Write the exposition of every cell in results to out. */
int ovs_metrics_write(sqlite3 *results, FILE *out, char *err, size_t errlen);

/* Write it to path: into a temporary file beside it (a name starting with '.' and not
 * ending in .prom, which the textfile collector skips), flushed to disk and renamed over
 * path, so that a collector reads the old metrics or the new ones, never half a file. On
 * failure nothing is left behind and an old file at path stays as it was. */
int ovs_metrics_write_file(sqlite3 *results, const char *path, char *err, size_t errlen);

#endif
