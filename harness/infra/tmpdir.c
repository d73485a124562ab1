/* tmpdir.c - private temporary directories with an owner record, and the sweep of those
 * whose owner is gone (tmpdir.h has the record and the rules).
 *
 * Removing is the dangerous half, so it never goes through a path built from a name it
 * read: every step is relative to an open directory descriptor (openat, fstatat,
 * unlinkat) with O_NOFOLLOW and AT_SYMLINK_NOFOLLOW, so a symbolic link anywhere in a
 * tree, or one swapped in for a directory while we walk, is removed as a link and never
 * followed. The checks before a removal (owner, mode, record) are made on the descriptor
 * the walk then uses, not on the name again.
 *
 * A directory being made has no record until it is complete: the record is written to a
 * temporary name and renamed into place, and a directory without a record is never
 * removed, so a sweep cannot race a harness that is starting. */
#include "infra/tmpdir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

#define RECORD_VERSION "1"
#define RECORD_MAX 512    /* a record is about 120 bytes; anything longer is not one */
#define FIELD_MAX 64      /* boot id: 36 characters; pid namespace: about 16 */
#define REMOVE_DEPTH 32   /* a fleet directory is three deep; bounds stack and descriptors */

/* Who made a directory (or who we are). */
typedef struct owner {
    long pid;
    unsigned long long start; /* /proc/<pid>/stat field 22 */
    char boot[FIELD_MAX];     /* /proc/sys/kernel/random/boot_id */
    char pidns[FIELD_MAX];    /* readlink /proc/self/ns/pid */
} owner;

/* ---- reading /proc ---------------------------------------------------------------- */

/* Read a small file whole into buf (NUL-terminated); -1 with errno set on failure. */
static int read_small(int dirfd, const char *name, char *buf, size_t len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return -1;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

/* State (field 3) and start time (field 22) from the text of /proc/<pid>/stat. The
 * command name (field 2) is in parentheses and may hold spaces and ')' itself, so fields
 * are counted from the last ')'. */
static int parse_stat(const char *text, char *state, unsigned long long *start)
{
    const char *s = strrchr(text, ')');
    char *end;

    if (s == NULL || s[1] != ' ' || s[2] == '\0')
        return -1;
    s += 2;
    *state = *s;
    for (int field = 3; field < 22; field++) {
        s = strchr(s, ' ');
        if (s == NULL)
            return -1;
        s++;
    }
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    *start = strtoull(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
        return -1;
    return 0;
}

/* This process, as a record describes it. */
static int owner_self(owner *me, char *err, size_t errlen)
{
    char buf[1024], state;
    ssize_t n;

    memset(me, 0, sizeof(*me));
    me->pid = (long)getpid();
    if (read_small(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)) != 0 ||
        parse_stat(buf, &state, &me->start) != 0) {
        ovs_seterr(err, errlen, "cannot read this process's start time from /proc/self/stat");
        return -1;
    }
    if (read_small(AT_FDCWD, "/proc/sys/kernel/random/boot_id", buf, sizeof(buf)) != 0 ||
        strlen(buf) < 2 || strlen(buf) >= sizeof(me->boot) || buf[strlen(buf) - 1] != '\n') {
        ovs_seterr(err, errlen, "cannot read /proc/sys/kernel/random/boot_id");
        return -1;
    }
    buf[strlen(buf) - 1] = '\0';
    memcpy(me->boot, buf, strlen(buf) + 1);
    n = readlink("/proc/self/ns/pid", me->pidns, sizeof(me->pidns) - 1);
    if (n <= 0) {
        ovs_seterr(err, errlen, "cannot read /proc/self/ns/pid: %s", strerror(errno));
        return -1;
    }
    me->pidns[n] = '\0';
    return 0;
}

/* 1 when the record's maker is certainly gone, 0 when it is alive or we cannot tell. */
static int owner_gone(const owner *o, const owner *me)
{
    char path[64], buf[1024], state;
    unsigned long long start;

    if (strcmp(o->boot, me->boot) != 0)
        return 1; /* made before the last reboot */
    if (strcmp(o->pidns, me->pidns) != 0)
        return 0; /* its pid is not a pid we can look up */
    snprintf(path, sizeof(path), "/proc/%ld/stat", o->pid);
    if (read_small(AT_FDCWD, path, buf, sizeof(buf)) != 0)
        return errno == ENOENT || errno == ESRCH;
    if (parse_stat(buf, &state, &start) != 0)
        return 0;
    /* A zombie has died, and its servers with it: only its parent's wait is missing. A
     * different start time is another process that was given the same pid. */
    return state == 'Z' || state == 'X' || start != o->start;
}

/* ---- the record --------------------------------------------------------------------- */

static int record_format(const owner *o, char *buf, size_t len)
{
    int n = snprintf(buf, len, "oversell-owner %s\npid %ld\nstart %llu\nboot %s\npidns %s\n",
                     RECORD_VERSION, o->pid, o->start, o->boot, o->pidns);
    return n > 0 && (size_t)n < len ? n : -1;
}

/* "key value\n" at *s into val; advances *s past the newline. The value is one or more
 * characters without white space. */
static int record_line(const char **s, const char *key, char *val, size_t len)
{
    size_t k = strlen(key), n = 0;
    const char *v;

    if (strncmp(*s, key, k) != 0 || (*s)[k] != ' ')
        return -1;
    v = *s + k + 1;
    while (v[n] != '\0' && v[n] != '\n' && !isspace((unsigned char)v[n]))
        n++;
    if (n == 0 || n >= len || v[n] != '\n')
        return -1;
    memcpy(val, v, n);
    val[n] = '\0';
    *s = v + n + 1;
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Parse a whole record strictly: anything else, a truncated one included, is not one. */
static int record_parse(const char *text, owner *o)
{
    char version[8], pid[24], start[24];
    const char *s = text;

    memset(o, 0, sizeof(*o));
    if (record_line(&s, "oversell-owner", version, sizeof(version)) != 0 ||
        strcmp(version, RECORD_VERSION) != 0 ||
        record_line(&s, "pid", pid, sizeof(pid)) != 0 || !all_digits(pid) ||
        record_line(&s, "start", start, sizeof(start)) != 0 || !all_digits(start) ||
        record_line(&s, "boot", o->boot, sizeof(o->boot)) != 0 ||
        record_line(&s, "pidns", o->pidns, sizeof(o->pidns)) != 0 || *s != '\0')
        return -1;
    errno = 0;
    o->pid = strtol(pid, NULL, 10);
    o->start = strtoull(start, NULL, 10);
    if (errno != 0 || o->pid < 1 || o->pid > INT_MAX)
        return -1;
    return 0;
}

/* Write the record into the directory dirfd: to a temporary name, then renamed, so that
 * the record is either absent or complete. */
static int record_write(int dirfd, const owner *me, char *err, size_t errlen)
{
    static const char tmp[] = OVS_TMPDIR_OWNER ".new";
    char buf[RECORD_MAX];
    int n = record_format(me, buf, sizeof(buf));
    int fd;

    if (n < 0) {
        ovs_seterr(err, errlen, "owner record too long");
        return -1;
    }
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) != 0 ||
        renameat(dirfd, tmp, dirfd, OVS_TMPDIR_OWNER) != 0) {
        ovs_seterr(err, errlen, "cannot write the owner record: %s", strerror(errno));
        return -1;
    }
    return 0;
}

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

/* ---- the sweep ---------------------------------------------------------------------- */

/* OVS_TMPDIR_PREFIX and six letters or digits: what mkdtemp makes of our template. */
static int name_is_ours(const char *name)
{
    size_t p = strlen(OVS_TMPDIR_PREFIX);

    if (strncmp(name, OVS_TMPDIR_PREFIX, p) != 0 || strlen(name) != p + 6)
        return 0;
    for (size_t i = p; i < p + 6; i++)
        if (!isalnum((unsigned char)name[i]))
            return 0;
    return 1;
}

/* The directory `name` in pfd, open, when it is a stale one of ours (tmpdir.h has the
 * rules); else -1. */
static int open_stale(int pfd, const char *name, struct stat *st, const owner *me)
{
    char text[RECORD_MAX];
    struct stat rst;
    owner o;
    int fd, rfd, stale = 0;

    fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1; /* not a directory, a symbolic link, or not ours to open */
    /* Group search only is still private: it is how a database server running as its
     * own system user reaches its directory inside (dbserver.c). */
    if (fstat(fd, st) != 0 || st->st_uid != geteuid() || (st->st_mode & 067) != 0) {
        close(fd);
        return -1;
    }
    rfd = openat(fd, OVS_TMPDIR_OWNER, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd >= 0) {
        if (fstat(rfd, &rst) == 0 && S_ISREG(rst.st_mode) && rst.st_uid == geteuid() &&
            rst.st_size < RECORD_MAX) {
            ssize_t n = read(rfd, text, sizeof(text) - 1);
            if (n > 0) {
                text[n] = '\0';
                stale = record_parse(text, &o) == 0 && owner_gone(&o, me);
            }
        }
        close(rfd);
    }
    if (!stale) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Remove the stale directories in parent. Errors only mean less is removed. */
static void sweep(const char *parent, const owner *me)
{
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *e;
    DIR *d;

    if (pfd < 0)
        return;
    d = fdopendir(pfd);
    if (d == NULL) {
        close(pfd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int fd;
        if (!name_is_ours(e->d_name) || (fd = open_stale(dirfd(d), e->d_name, &st, me)) < 0)
            continue;
        /* Emptied through the descriptor the checks were made on, not the name again. */
        empty_dir(fd, st.st_dev, 0);
        unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

/* ---- making ------------------------------------------------------------------------- */

int ovs_tmpdir_make(char *dir, size_t len, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX], resolved[PATH_MAX];
    owner me;
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
    if (owner_self(&me, err, errlen) != 0)
        return -1;
    sweep(tmp, &me);
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
    /* Forced to 0700 whatever the umask; the record goes in before anything else. */
    fd = open(resolved, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0700) != 0) {
        ovs_seterr(err, errlen, "cannot chmod %s: %s", resolved, strerror(errno));
        if (fd >= 0)
            close(fd);
        rmdir(resolved);
        return -1;
    }
    if (record_write(fd, &me, err, errlen) != 0) {
        close(fd);
        ovs_tmpdir_remove(resolved);
        return -1;
    }
    close(fd);
    memcpy(dir, resolved, strlen(resolved) + 1);
    return 0;
}
