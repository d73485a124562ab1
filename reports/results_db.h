/* results_db.h - reading the results database: what every report in reports/ shares.
 * Private to reports/.
 *
 * summary.md, results.csv, index.html and the explain views read the schema of
 * harness/engine/recorder.h. What they read the same way is here, so the reports cannot drift
 * apart: one error text for a database that cannot be read, one order of scenarios and
 * strategies (first appearance by run id), one query for "the latest run speaks for a
 * cell". Functions that can fail return 0, or -1 with the reason in err (a caller-owned
 * buffer of errlen bytes; may be NULL). */
#ifndef OVS_RESULTS_DB_H
#define OVS_RESULTS_DB_H

#include <stddef.h>

#include <sqlite3.h>

/* Set err to "reading <what>: <the database's last error>", then finalize st (NULL for a
 * statement the caller still owns) and return -1. The message is taken first: finalizing
 * may replace it. */
int ovs_rdb_fail(sqlite3 *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen);

/* Prepare sql, or set err ("reading results: ...") and return -1 with *st NULL. */
int ovs_rdb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err,
                    size_t errlen);

/* End a step loop: rc SQLITE_DONE is 0, anything else sets err ("reading results: ...")
 * and is -1. Finalizes st either way. */
int ovs_rdb_finish(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen);

/* Column i of the current row as text; NULL for SQL NULL. Valid until st moves on. */
const char *ovs_rdb_text(sqlite3_stmt *st, int i);

/* Column i copied with malloc, SQL NULL as ""; NULL only when out of memory. */
char *ovs_rdb_dup(sqlite3_stmt *st, int i);

/* The distinct values of one column in order of first appearance. NULL values (the
 * recorder never writes them, but the schema does not forbid every one) stay NULL, and
 * queries match them with IS. */
typedef struct ovs_rdb_names {
    char **v; /* names, each malloc'd or NULL */
    size_t n; /* names in v */
} ovs_rdb_names;

/* The queries a report's rows and columns come from. */
#define OVS_RDB_SCENARIOS_SQL "SELECT scenario FROM runs GROUP BY scenario ORDER BY MIN(id)"
/* A run's column of the matrix: its strategy, and the shop's back end with it as soon as
 * any run of the database was not on SQLite ("sql-pessimistic × postgresql"), so a matrix
 * over several back ends compares them side by side, and one over SQLite alone reads as
 * it always has. A run recorded before runs had a backend was on SQLite. */
#define OVS_RDB_COLUMN_EXPR                                                                \
    "(CASE WHEN EXISTS (SELECT 1 FROM runs WHERE COALESCE(backend, 'sqlite') <> 'sqlite')" \
    " THEN strategy || ' × ' || COALESCE(backend, 'sqlite') ELSE strategy END)"
/* Columns: strategies in registry order (strategy_rank), then by first run for any
 * without one; one strategy's back ends by first run. */
#define OVS_RDB_STRATEGIES_SQL                                                             \
    "SELECT " OVS_RDB_COLUMN_EXPR " AS col FROM runs GROUP BY col"                         \
    " ORDER BY MIN(COALESCE(strategy_rank, 2147483647)), MIN(id)"

/* A run's primary check, the figure its verdict is about: the checker's "oversold" for
 * an inventory scenario, "double_booked" for a booking one. A condition on checks. */
#define OVS_RDB_PRIMARY_CHECK "invariant IN ('oversold', 'double_booked')"

/* Load the values of the single column of sql into ns. On -1 ns is empty. */
int ovs_rdb_names_load(sqlite3 *db, const char *sql, ovs_rdb_names *ns, char *err,
                       size_t errlen);

/* Free the names and leave ns empty; an empty ns is fine. */
void ovs_rdb_names_free(ovs_rdb_names *ns);

/* The line of context under a report's title: the number of runs and the first start
 * (one row), then the versions seen of each server, loaded as names. */
#define OVS_RDB_CONTEXT_SQL "SELECT COUNT(*), MIN(started_at) FROM runs"
typedef struct ovs_rdb_version_query {
    const char *label; /* "Redis", "SQLite" */
    const char *sql;   /* its versions, for ovs_rdb_names_load */
} ovs_rdb_version_query;
#define OVS_RDB_NVERSIONS 2
extern const ovs_rdb_version_query ovs_rdb_versions[OVS_RDB_NVERSIONS];

/* A (scenario, column) cell: the run that speaks for it - its latest unsafe run when
 * it has one, so that a cell run several times (--repeat) never reads safe while one of
 * its runs was not, else its latest - how many runs the cell has, of them how many had a
 * verdict and how many were unsafe, and the throughput the charts draw. ?1 scenario, ?2 column (OVS_RDB_COLUMN_EXPR): see
 * ovs_rdb_cell_step. */
#define OVS_RDB_SAME_CELL                                                                  \
    " r2.scenario IS r.scenario AND r2.strategy IS r.strategy"                             \
    " AND COALESCE(r2.backend, 'sqlite') IS COALESCE(r.backend, 'sqlite')"
#define OVS_RDB_CELL_SQL                                                                   \
    "SELECT id, status, error, verdict, figure, expect,"                                   \
    " (SELECT COUNT(*) FROM runs r2 WHERE" OVS_RDB_SAME_CELL "), throughput,"              \
    " (SELECT COUNT(*) FROM runs r2 WHERE" OVS_RDB_SAME_CELL " AND r2.verdict = 'unsafe'),"\
    " (SELECT COUNT(*) FROM runs r2 WHERE" OVS_RDB_SAME_CELL " AND r2.status = 'ok')"      \
    " FROM runs r WHERE scenario IS ?1 AND " OVS_RDB_COLUMN_EXPR " IS ?2"                  \
    " ORDER BY verdict IS 'unsafe' DESC, id DESC LIMIT 1"
enum {
    OVS_RDB_CELL_ID,       /* runs.id */
    OVS_RDB_CELL_STATUS,   /* 'ok' | 'aborted' | 'error' */
    OVS_RDB_CELL_ERROR,    /* the error, or NULL */
    OVS_RDB_CELL_VERDICT,  /* 'safe' | 'unsafe' | NULL */
    OVS_RDB_CELL_FIGURE,   /* the headline behind the verdict */
    OVS_RDB_CELL_EXPECT,   /* the scenario's expectation, or NULL */
    OVS_RDB_CELL_COUNT,    /* runs of the cell */
    OVS_RDB_CELL_RPS,      /* requests per second, or NULL */
    OVS_RDB_CELL_UNSAFE,   /* runs of the cell with the verdict unsafe */
    OVS_RDB_CELL_JUDGED,   /* runs of the cell with a verdict (status ok) */
};

/* Step cell (prepared from OVS_RDB_CELL_SQL) for one scenario and strategy. Returns
 * SQLITE_ROW, SQLITE_DONE (no run in this cell) or an error code. */
int ovs_rdb_cell_step(sqlite3_stmt *cell, const char *scenario, const char *strategy);

/* The statements a report's per-scenario section needs, prepared once for all of them. */
typedef struct ovs_rdb_stmts {
    sqlite3_stmt *about;  /* ?1 scenario: description, scenario_file, workload of its
                             latest run */
    sqlite3_stmt *cell;   /* OVS_RDB_CELL_SQL */
    sqlite3_stmt *checks; /* ?1 run: invariant, observed, expected, detail of each
                             failing check, in the order they were written */
} ovs_rdb_stmts;

/* Prepare all three into q (zeroed by the caller). On -1 some may be prepared:
 * ovs_rdb_stmts_finalize cleans up either way. */
int ovs_rdb_stmts_prepare(sqlite3 *db, ovs_rdb_stmts *q, char *err, size_t errlen);
void ovs_rdb_stmts_finalize(ovs_rdb_stmts *q);

/* Step q->about for scenario: 0 with a row to read, or -1 ("reading runs: ..."). */
int ovs_rdb_about(sqlite3 *db, ovs_rdb_stmts *q, const char *scenario, char *err,
                  size_t errlen);

/* A run's error in a table cell: its first line, cut to at most OVS_RDB_ERROR_MAX bytes on
 * a UTF-8 character boundary with "…" where it was cut, so the table stays readable and
 * never shows half a character (the whole text is in results.csv and the database). */
#define OVS_RDB_ERROR_MAX 60
#define OVS_RDB_ERROR_HEAD (OVS_RDB_ERROR_MAX + sizeof("…"))

/* Write that head of e into buf, which holds OVS_RDB_ERROR_HEAD bytes. */
void ovs_rdb_error_head(const char *e, char *buf);

#endif
