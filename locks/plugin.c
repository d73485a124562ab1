/* plugin.c - loading C plugins (plugin.h): dlopen, find the entry point, let it register.
 *
 * A plugin registers through a function of ours rather than calling ovs_strategy_register
 * itself, so that each table it registers is recorded as the plugin's ("plugin <path>" in
 * `oversell list` and in a name clash), which the registry could not tell otherwise. */
#include "locks/plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

/* The plugin whose entry point is running, for register_strategy: start-up is one thread,
 * and the entry point is told not to keep the api past its return. */
static const char *loading;

static int register_strategy(const ovs_strategy_methods *m, char *err, size_t errlen)
{
    char origin[OVS_STRATEGY_ORIGIN_MAX];

    if (loading == NULL) {
        ovs_seterr(err, errlen, "register_strategy called after the plugin's init returned");
        return -1;
    }
    snprintf(origin, sizeof(origin), "plugin %s", loading);
    return ovs_strategy_register_from(m, origin, NULL, err, errlen);
}

int ovs_plugin_load(const char *path, char *err, size_t errlen)
{
    const ovs_plugin_api api = {
        .version = OVS_PLUGIN_API_VERSION,
        .strategy_version = OVS_STRATEGY_VERSION,
        .register_strategy = register_strategy,
    };
    char why[300] = "";
    ovs_plugin_init_fn init;
    void *lib, *sym;
    int rc;

    /* A bare name would make dlopen search the library path; a plugin is a file the user
     * names, so make it a path. */
    if (strchr(path, '/') == NULL) {
        ovs_seterr(err, errlen, "plugin %s: give a path (./%s), not a bare name", path, path);
        return -1;
    }
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        ovs_seterr(err, errlen, "plugin %s: %s", path, e ? e : "cannot be loaded");
        return -1;
    }
    sym = dlsym(lib, OVS_PLUGIN_INIT);
    if (sym == NULL) {
        ovs_seterr(err, errlen, "plugin %s: no %s (the entry point every plugin exports; "
                   "see locks/plugin.h)", path, OVS_PLUGIN_INIT);
        dlclose(lib);
        return -1;
    }
    /* POSIX gives dlsym's result as void * and guarantees it converts to a function
     * pointer; ISO C does not, hence the copy through memcpy. */
    memcpy(&init, &sym, sizeof(init));
    loading = path;
    rc = init(&api, why, sizeof(why));
    loading = NULL;
    if (rc != 0) {
        /* Tables it registered before failing stay: the registry points into the library,
         * so it is not closed. The harness refuses to start anyway. */
        ovs_seterr(err, errlen, "plugin %s: %s failed: %s", path, OVS_PLUGIN_INIT,
                   why[0] ? why : "(no reason given)");
        return -1;
    }
    return 0;
}
