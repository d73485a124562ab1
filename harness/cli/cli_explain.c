/* cli_explain.c - printing a recorded run as a time table and a Mermaid diagram. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "reports/explain.h"

/* After `explain` ran (or found) its run: the table, and the Mermaid file if asked. */
int cli_explain_print(const cli_options *o, const ovs_scenario *sc, const char *dbpath,
                      int64_t run_id)
{
    sqlite3 *db = NULL;
    char err[300];
    const char *names[OVS_MAX_CLIENTS];
    int rc = 0;

    for (int i = 0; i < sc->n_clients && i < OVS_MAX_CLIENTS; i++)
        names[i] = sc->clients[i].name;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "oversell explain: %s: %s\n", dbpath, sqlite3_errmsg(db));
        sqlite3_close(db);
        return EXIT_USAGE;
    }
    if (run_id < 0)
        run_id = ovs_explain_find_run(db, sc->name, o->strategies[0]->name);
    if (run_id < 0) {
        fprintf(stderr, "oversell explain: %s has no run of %s with %s\n", dbpath, sc->name,
                o->strategies[0]->name);
        sqlite3_close(db);
        return EXIT_USAGE;
    }
    if (ovs_explain_table(db, run_id, names, sc->n_clients, cli_color(STDOUT_FILENO), stdout,
                          err, sizeof(err)) != 0) {
        fprintf(stderr, "oversell explain: %s\n", err);
        rc = EXIT_ENV;
    }
    if (rc == 0 && o->mermaid) {
        FILE *f = fopen(o->mermaid, "w");
        if (f == NULL) {
            fprintf(stderr, "oversell explain: %s: %s\n", o->mermaid, strerror(errno));
            rc = EXIT_ENV;
        } else {
            if (ovs_explain_mermaid(db, run_id, names, sc->n_clients, f, err, sizeof(err)) != 0) {
                fprintf(stderr, "oversell explain: %s\n", err);
                rc = EXIT_ENV;
            }
            fclose(f);
        }
    }
    sqlite3_close(db);
    return rc;
}

