/* columns.h - the columns of results.csv and results.json: one table, two writers.
 *
 * csv.c holds the table (name, where the value comes from, how it is shown) and the
 * query over runs it makes; json.c writes the same rows with the same names. A value's
 * number is formatted once, here, so the two files can never disagree on one: the JSON
 * number is the CSV text read back. Internal to reports/. */
#ifndef OVS_REPORT_COLUMNS_H
#define OVS_REPORT_COLUMNS_H

#include <stddef.h>

#include <sqlite3.h>

/* How a column's value becomes text (CSV) or a JSON value. */
typedef enum ovs_col_kind {
    OVS_COL_TEXT,  /* as stored: text a string, integers in decimal (JSON: an integer) */
    OVS_COL_SEED,  /* a uint64 seed stored in a signed INTEGER: printed unsigned again
                      (JSON: a string, since 64-bit identifiers do not survive readers
                      that hold numbers as doubles) */
    OVS_COL_RPS,   /* requests per second, 1 place */
    OVS_COL_MS,    /* nanoseconds as milliseconds, 3 places */
    OVS_COL_S,     /* nanoseconds as seconds, 3 places */
    OVS_COL_RATIO, /* a ratio stored as REAL, 3 places */
} ovs_col_kind;

/* Number of columns, in header order. */
int ovs_columns_count(void);
/* Column i's name (part of the contract) and kind. */
const char *ovs_columns_name(int i);
ovs_col_kind ovs_columns_kind(int i);

/* Prepare the SELECT of every column for every run, ordered by id: column i of a row is
 * column i of the table. A column of runs that the database predates (the liveness
 * figures) reads as NULL. Returns 0, or -1 with err. */
int ovs_columns_prepare(sqlite3 *db, sqlite3_stmt **st, char *err, size_t errlen);

/* The value of column i in row st as text for a kind other than OVS_COL_TEXT: 1 with buf
 * filled, 0 when there is none (NULL, or a rate that is not finite). */
int ovs_columns_number(sqlite3_stmt *st, int i, char *buf, size_t len);

#endif
