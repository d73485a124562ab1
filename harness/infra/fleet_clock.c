/* fleet_clock.c - the clock shim of a fleet's nodes: finding it, and preloading it into the
 * nodes a clock-jump fault targets.
 *
 * A node started with the shim (clockshim/clockshim.c) reads its wall clock plus the
 * offset held in an 8-byte file; the harness maps the same file and ovs_fleet_clock_jump
 * (fleet_faults.c) moves the clock by writing it. The file lives in the fleet's directory,
 * not the node's, because a restart without persistence empties the node's directory and
 * a restarted node keeps the clock it had: a clock that jumped stays jumped. The other
 * nodes run without the shim, so their clocks are the machine's, untouched. */
#include "infra/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra/fleet_node.h"
#include "core/util.h"

#define SHIM_NAME "ovs-clockshim.so"

extern char **environ;

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shim is built with the harness (clockshim/meson.build) into <build>/clockshim/.
 * The oversell binary sits in <build>, the tests in <build>/tests: both look beside and
 * one level above their own executable. An explicit $OVERSELL_CLOCKSHIM that is not a
 * file is an error, never a reason to use another: the user asked for that one. */
int ovs_clockshim_path(char *buf, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("OVERSELL_CLOCKSHIM");
    char exe[PATH_MAX], *slash;
    ssize_t n;

    if (env != NULL && *env != '\0') {
        if (is_file(env) && (size_t)snprintf(buf, len, "%s", env) < len)
            return OVS_OK;
        ovs_seterr(err, errlen, "clock shim not found: OVERSELL_CLOCKSHIM=%s is not a file",
                   env);
        return OVS_ERR_ENV;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        ovs_seterr(err, errlen, "clock shim: cannot read /proc/self/exe: %s", strerror(errno));
        return OVS_ERR_ENV;
    }
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    if ((size_t)snprintf(buf, len, "%s/clockshim/" SHIM_NAME, exe) < len && is_file(buf))
        return OVS_OK;
    if ((size_t)snprintf(buf, len, "%s/../clockshim/" SHIM_NAME, exe) < len && is_file(buf))
        return OVS_OK;
    ovs_seterr(err, errlen,
               "clock shim not found: a clock-jump fault preloads " SHIM_NAME " into its "
               "node, and there is none in %.200s/clockshim or %.200s/../clockshim (build it "
               "with ninja, or set OVERSELL_CLOCKSHIM)",
               exe, exe);
    return OVS_ERR_ENV;
}

/* Node i gets an offset file (zero: no jump yet), mapped here, and an environment of its
 * own: the harness's, with OVS_CLOCKSHIM_FILE naming the file and the shim first in
 * LD_PRELOAD (after nothing: a preload the harness itself runs under, a sanitizer's
 * runtime, stays behind it). */
int ovs_fleet_node_clock(ovs_fleet *f, int i, const char *shim, char *err, size_t errlen)
{
    fleet_node *nd = &f->node[i];
    const char *old = getenv("LD_PRELOAD");
    size_t n = 0, k = 0;
    int64_t zero = 0;
    void *m;
    int fd;

    if (snprintf(nd->clock_file, sizeof(nd->clock_file), "%s/node%d.clock", f->dir, i) >=
        (int)sizeof(nd->clock_file)) {
        ovs_seterr(err, errlen, "temporary directory path too long: %s", f->dir);
        return OVS_ERR_ENV;
    }
    fd = open(nd->clock_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, &zero, sizeof(zero)) != (ssize_t)sizeof(zero)) {
        ovs_seterr(err, errlen, "cannot create %s: %s", nd->clock_file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return OVS_ERR_ENV;
    }
    m = mmap(NULL, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        ovs_seterr(err, errlen, "cannot map %s: %s", nd->clock_file, strerror(errno));
        return OVS_ERR_ENV;
    }
    nd->clock = m;

    while (environ[n] != NULL)
        n++;
    nd->envp = calloc(n + 3, sizeof(*nd->envp));
    nd->env_preload = malloc(strlen(shim) + (old ? strlen(old) : 0) + 16);
    nd->env_file = malloc(strlen(nd->clock_file) + 32);
    if (nd->envp == NULL || nd->env_preload == NULL || nd->env_file == NULL) {
        ovs_fleet_node_clock_free(nd);
        ovs_seterr(err, errlen, "out of memory");
        return OVS_ERR;
    }
    sprintf(nd->env_preload, "LD_PRELOAD=%s%s%s", shim, old && *old ? ":" : "",
            old ? old : "");
    sprintf(nd->env_file, "OVS_CLOCKSHIM_FILE=%s", nd->clock_file);
    for (size_t j = 0; j < n; j++)
        if (strncmp(environ[j], "LD_PRELOAD=", 11) != 0 &&
            strncmp(environ[j], "OVS_CLOCKSHIM_FILE=", 19) != 0)
            nd->envp[k++] = environ[j];
    nd->envp[k++] = nd->env_preload;
    nd->envp[k++] = nd->env_file;
    nd->envp[k] = NULL;
    return OVS_OK;
}

void ovs_fleet_node_clock_free(fleet_node *nd)
{
    if (nd->clock != NULL)
        munmap(nd->clock, sizeof(int64_t));
    nd->clock = NULL;
    free(nd->envp);
    free(nd->env_preload);
    free(nd->env_file);
    nd->envp = NULL;
    nd->env_preload = nd->env_file = NULL;
}
