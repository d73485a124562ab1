/* tmpdir.c - private temporary directories: made, and removed without following links.
 *
 * Removing is the dangerous half, so it never goes through a path built from a name it
 * read: every step is relative to an open directory descriptor (openat, fstatat,
 * unlinkat) with O_NOFOLLOW and AT_SYMLINK_NOFOLLOW, so a symbolic link anywhere in a
 * tree, or one swapped in for a directory while we walk, is removed as a link and never
 * followed. */
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define REMOVE_DEPTH 32   /* a fleet directory is three deep; bounds stack and descriptors */

/* ---- removing ----------------------------------------------------------------------- */

static void remove_at(int dirfd, const char *name, dev_t dev, int depth);

/* Remove everything in the open directory fd, and close it. */
static void empty_dir(int fd, dev_t dev, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;

    if (d == NULL) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_at(dirfd(d), e->d_name, dev, depth + 1);
    closedir(d);
}

/* Remove `name` in the directory dirfd, and what it holds if it is a directory on file
 * system dev. */
static void remove_at(int dirfd, const char *name, dev_t dev, int depth)
{
    struct stat st, fst;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(dirfd, name, 0); /* files, sockets, and symbolic links themselves */
        return;
    }
    if (st.st_dev != dev || depth >= REMOVE_DEPTH)
        return; /* a mount point, or deeper than anything we make: leave it */
    /* O_NOFOLLOW: a directory swapped for a link since the fstatat is not entered. */
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
        close(fd);
        return;
    }
    empty_dir(fd, dev, depth);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

void ovs_tmpdir_remove(const char *path)
{
    char parent[PATH_MAX];
    const char *base, *slash;
    struct stat st;
    int pfd;

    if (path == NULL || *path == '\0' || strlen(path) >= sizeof(parent))
        return;
    slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(parent, sizeof(parent), ".");
        base = path;
    } else {
        snprintf(parent, sizeof(parent), "%.*s", slash == path ? 1 : (int)(slash - path), path);
        base = slash + 1;
    }
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return;
    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
        remove_at(pfd, base, st.st_dev, 0);
    close(pfd);
}

/* ---- making ------------------------------------------------------------------------- */

int ovs_tmpdir_make(char *dir, size_t len, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX], resolved[PATH_MAX];
    size_t tl;
    int n, fd;

    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    tl = strlen(tmp);
    n = snprintf(templ, sizeof(templ), "%s%s" OVS_TMPDIR_PREFIX "XXXXXX", tmp,
                 tmp[tl - 1] == '/' ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof(templ)) {
        ovs_seterr(err, errlen, "TMPDIR is too long: %s", tmp);
        return -1;
    }
    if (mkdtemp(templ) == NULL) {
        ovs_seterr(err, errlen, "cannot create a temporary directory in %s: %s", tmp,
                   strerror(errno));
        return -1;
    }
    if (realpath(templ, resolved) == NULL) {
        ovs_seterr(err, errlen, "cannot resolve %s: %s", templ, strerror(errno));
        rmdir(templ);
        return -1;
    }
    if (strlen(resolved) >= len) {
        ovs_seterr(err, errlen, "temporary directory path too long: %s", resolved);
        rmdir(templ);
        return -1;
    }
    /* Forced to 0700 whatever the umask. */
    fd = open(resolved, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0700) != 0) {
        ovs_seterr(err, errlen, "cannot chmod %s: %s", resolved, strerror(errno));
        if (fd >= 0)
            close(fd);
        rmdir(resolved);
        return -1;
    }
    close(fd);
    memcpy(dir, resolved, strlen(resolved) + 1);
    return 0;
}
