/* strategy_def.h - strategies defined outside C: a small file that names a strategy and
 * says what runs it, registered at start-up like a built-in and found by the same name.
 *
 * Two kinds are defined this way (a third way in, a C plugin, registers its own tables):
 *
 *  - an adapter: a program in any language that speaks the JSON-lines protocol of
 *    locks/adapters/PROTOCOL.md on its stdin and stdout, one process per client
 *    (locks/adapter.c builds its methods table);
 *  - a Lua-script strategy: acquire/release scripts, or one whole-operation script, run
 *    on the run's Redis (locks/lua_script.c builds its methods table).
 *
 * A definition file is INI, one strategy per file, `strategies/<name>.ini` by convention:
 *
 *   [strategy]
 *   name = node-redlock           ; as typed after --strategy; must not clash with another
 *   kind = adapter                ; adapter | lua
 *   summary = ...                 ; one line for `oversell list`
 *   claims_safe = yes             ; yes | no: the contract suite holds a yes to it
 *   claims_live = yes             ; no: buyers may give up on a lock nobody holds (say
 *                                 ; why in a comment); the contract reports, not fails
 *   nodes = 5                     ; Redis masters it needs: a number, or a parameter's name
 *   operation = lock              ; lock (lock/unlock around the harness's check-think-act)
 *                                 ; or whole (buy/book: the strategy does the request)
 *   ; adapter only
 *   command = node node-redlock/adapter.js --mode acquire   ; split on blanks, no shell
 *   shop = writeback              ; whole operations: writeback (the harness's queue takes
 *                                 ; the order) or own (the adapter writes the shop itself)
 *   fencing = no                  ; yes: its ok replies to lock carry a fencing token
 *   timeout = 5s                  ; per-request limit before the reply counts as unknown
 *   key_prefix = no               ; yes: every key it writes starts with init's key_prefix
 *                                 ; and it logs in with the endpoints' username/password
 *                                 ; (else its cells are n/a on a user's server, --redis)
 *   ; lua only
 *   acquire = setnx-acquire.lua   ; with release: a lock
 *   release = setnx-release.lua
 *   execute = decr.lua            ; alone: a whole operation on stock kept in Redis
 *   execute_booking = claim.lua   ; with execute: bookings run this one instead
 *   execute_stream = decr-stream.lua ; with execute: inventory under queue = stream
 *
 *   [param ttl]                   ; one section per parameter, in the order given
 *   default = 5000
 *   unit = ms                     ; ms | count | ratio, or choices = a|b instead
 *   min = 1
 *   max = 600000
 *   help = lease time in ms
 *
 * Relative paths (the command's program when it has a '/', scripts) are resolved against
 * the file's directory, so a definition and its program travel together. */
#ifndef OVS_STRATEGY_DEF_H
#define OVS_STRATEGY_DEF_H

#include <stddef.h>

#include "locks/params.h"
#include "locks/strategy.h"

#define OVS_DEF_PATH_MAX 512
#define OVS_DEF_ARGV_MAX 16   /* words of an adapter's command line */

enum ovs_def_kind { OVS_DEF_ADAPTER, OVS_DEF_LUA };
enum ovs_def_operation { OVS_DEF_LOCK, OVS_DEF_WHOLE };
enum ovs_def_shop { OVS_DEF_SHOP_WRITEBACK, OVS_DEF_SHOP_OWN };

/* One definition as read from its file, every path made absolute. The loader owns the
 * strings behind params[] (names, units, choices, help); a definition that was registered
 * lives until the process ends, since the registry points into its table. */
typedef struct ovs_strategy_def {
    char path[OVS_DEF_PATH_MAX];   /* the definition file, as given */
    char dir[OVS_DEF_PATH_MAX];    /* its directory, absolute */
    enum ovs_def_kind kind;
    char name[OVS_STRATEGY_NAME_MAX + 1];
    char summary[160];
    int claims_safe;
    int nodes;                     /* Redis masters needed, when nodes_param is empty */
    char nodes_param[32];          /* else the parameter whose value is the node count */
    enum ovs_def_operation operation;

    /* adapter */
    int argc;                      /* words of the command */
    char argv[OVS_DEF_ARGV_MAX][OVS_DEF_PATH_MAX]; /* argv[0] resolved: absolute, or found
                                                     on PATH when it has no '/' */
    enum ovs_def_shop shop;
    int fencing;
    int key_prefix;                /* `key_prefix = yes`: honours init's key_prefix and auth */
    double timeout_ms;             /* default 5000 */

    /* lua: absolute paths, empty when not given */
    char acquire[OVS_DEF_PATH_MAX];
    char release[OVS_DEF_PATH_MAX];
    char execute[OVS_DEF_PATH_MAX];

    int n_params;
    ovs_param_spec params[OVS_MAX_PARAMS];

    /* Set when the definition is well formed but cannot run on this machine (its program
     * is not installed): "strategies/node-redlock.ini:6: 'node' not found on PATH". The
     * strategy is still registered and listed; a run that selects it is refused before
     * anything starts (exit 2) with this text. Empty when it can run. */
    char unavailable[256];

    /* lua, whole operation: the script bookings run instead of execute's, absolute; empty
     * when execute serves both workloads. Added after the rest so as not to move them. */
    char execute_booking[OVS_DEF_PATH_MAX];
    int claims_live;               /* claims_live: 1 (the default) or 0 */
    /* lua, whole operation: the inventory script run instead of execute's when the
     * scenario's write-back queue is a stream (KEYS[2] the stream, ARGV[2] the SKU,
     * ARGV[3] the buyer), absolute; empty when it has none (its cell there is n/a). */
    char execute_stream[OVS_DEF_PATH_MAX];
} ovs_strategy_def;

/* Build the methods table of an adapter definition (locks/adapter.c). *out and everything
 * it points at live until the process ends. Returns 0, or -1 with a reason in err. */
int ovs_adapter_define(const ovs_strategy_def *def, const ovs_strategy_methods **out,
                       char *err, size_t errlen);
/* Build the methods table of a Lua-script definition (locks/lua_script.c): the scripts
 * are read here, so a missing or unreadable file is refused now. Same contract. */
int ovs_lua_define(const ovs_strategy_def *def, const ovs_strategy_methods **out, char *err,
                   size_t errlen);

/* ---- the loader (locks/strategy_def.c) ----------------------------------------------
 * Every error reads "path:line: what is wrong" (or "path: ..." when no line is at fault).
 *
 * Read the definition at path into def: unknown sections and keys (for its kind: an
 * adapter key in a Lua definition is refused too), bad values, missing required keys
 * (name, kind, summary, claims_safe; an adapter's operation and command; a Lua lock's
 * acquire, release and [param ttl], a Lua whole operation's execute), a [param] that
 * ovs_params_check would refuse, a script that cannot be read, nodes naming no count
 * parameter. A program that is not there is not an error: def->unavailable says so.
 * Parameters: min defaults to 0, max to 1e9 (1 for ratio); an ms value takes a bare
 * number of ms or a duration. Returns 0, or -1 with err set and def holding nothing to
 * free. After 0 the strings behind def->params are def's: ovs_strategy_def_free. */
int ovs_strategy_def_load(const char *path, ovs_strategy_def *def, char *err, size_t errlen);
/* Free what ovs_strategy_def_load allocated for a def that was not registered. */
void ovs_strategy_def_free(ovs_strategy_def *def);
/* Load path, build its table (ovs_adapter_define or ovs_lua_define) and register it with
 * the origin "file <path>" and its unavailability; a name already taken is refused at the
 * line of its name key. Returns 0 or -1 (err). */
int ovs_strategy_def_register(const char *path, char *err, size_t errlen);
/* ovs_strategy_def_register for every *.ini of dir, in sorted order, stopping at the
 * first that fails. Returns how many were registered, or -1 (err). */
int ovs_strategy_defs_register_dir(const char *dir, char *err, size_t errlen);

#endif
