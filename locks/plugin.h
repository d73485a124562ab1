/* plugin.h - C plugins: shared libraries that register strategy tables at start-up.
 *
 * The way in for a strategy written in C outside this tree, modelled on SQLite's loadable
 * extensions (sqlite3_extension_init): the harness dlopens the library given by
 * `--plugin lib.so` and calls its one exported entry point with the functions it may use.
 * A plugin includes this header (and through it locks/strategy.h); it is built against the
 * headers `meson install` puts under include/oversell/ (plugins/README.md). Everything
 * else a plugin calls from the harness (ovs_strategy_fail, ovs_seterr, ...) is resolved
 * from the oversell executable itself, which exports its symbols for that. */
#ifndef OVS_PLUGIN_H
#define OVS_PLUGIN_H

#include <stddef.h>

#include "locks/strategy.h"

/* The version of ovs_plugin_api below; the struct only grows, at its end. */
#define OVS_PLUGIN_API_VERSION 1

/* What the harness hands a plugin's entry point. Valid during the call only. */
typedef struct ovs_plugin_api {
    int version;           /* OVS_PLUGIN_API_VERSION of the harness */
    int strategy_version;  /* OVS_STRATEGY_VERSION of the harness: the newest methods
                              table it reads */
    /* Register one table, as ovs_strategy_register does (same checks, same refusals),
     * with the origin "plugin <path>". m must live until the process ends: a static
     * const table. Returns 0, or -1 with a reason in err. */
    int (*register_strategy)(const ovs_strategy_methods *m, char *err, size_t errlen);
} ovs_plugin_api;

/* The entry point every plugin exports under this name, with this type:
 *
 *   int oversell_plugin_init(const ovs_plugin_api *api, char *err, size_t errlen);
 *
 * It registers its tables through api->register_strategy and returns 0, or returns -1
 * with a reason in err (a registration that failed, an api->version too old for it):
 * the harness then refuses to start. */
#define OVS_PLUGIN_INIT "oversell_plugin_init"
typedef int (*ovs_plugin_init_fn)(const ovs_plugin_api *api, char *err, size_t errlen);

/* Load the plugin at path (dlopen with RTLD_NOW | RTLD_LOCAL, so a missing symbol fails
 * now, not in the middle of a run) and run its entry point. Every failure - dlopen's
 * error, no entry point, an init that fails - is refused with the path in err. The
 * library stays loaded until the process ends. Returns 0 or -1. For start-up only, as
 * registration is. */
int ovs_plugin_load(const char *path, char *err, size_t errlen);

#endif
