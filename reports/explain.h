/* explain.h - one recorded run told step by step, for teaching.
 *
 * `oversell explain` reads a run's events and checks from the results database (schema in
 * harness/engine/recorder.h) and prints the interleaving the way a teacher draws it on a board:
 * one column per client, one row per step in time order, and at the end which invariant
 * held or broke and at which step. The same run can be written as a Mermaid sequence
 * diagram. Like the other reports these read only the database, so the same run always
 * gives the same text.
 *
 * Every function returns 0, or -1 with the reason in err (a caller-owned buffer of errlen
 * bytes; may be NULL); on -1 whatever was written to out is incomplete. client_names maps
 * a client id (its index in the scenario file) to a name; it may be NULL, shorter than the
 * ids in the run, or hold NULL entries, and any client without a name is "client N". */
#ifndef OVS_EXPLAIN_H
#define OVS_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The time table of run_id, at most 100 columns wide for up to four clients (one column
 * each); runs with more clients get one line per step with the client named instead.
 * Ends with the run's checks and a "broke at t=... ms: <client>'s <step>" line for each
 * violation it can place on a step, or a "held: ..." line naming who was refused. color
 * 1 adds ANSI colours (the caller decides: NO_COLOR, isatty); 0 writes plain text. */
int ovs_explain_table(sqlite3 *results, int64_t run_id, const char *const *client_names,
                      int n_names, int color, FILE *out, char *err, size_t errlen);

/* The same run as a Mermaid sequenceDiagram: the clients, "Lock" (Redis or whatever the
 * strategy locks with) and "Shop" (the SQL database) as participants, each step as a
 * request and its answer, times as notes, and each violation boxed in red. Message text
 * never holds ';', '#' or "%%", which would end or comment out a Mermaid statement. */
int ovs_explain_mermaid(sqlite3 *results, int64_t run_id, const char *const *client_names,
                        int n_names, FILE *out, char *err, size_t errlen);

/* The latest run (highest id) of scenario under strategy, whatever its status, or -1 when
 * there is none or the database cannot be read. */
int64_t ovs_explain_find_run(sqlite3 *results, const char *scenario, const char *strategy);

#endif
