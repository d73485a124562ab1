/* dbserver.c - start, watch and stop the managed PostgreSQL and MariaDB servers
 * (dbserver.h): everything the two kinds share. What differs (executables, initdb, the
 * command line, readiness, the set-up SQL) is in dbserver_pg.c and dbserver_mariadb.c
 * behind dbserver_kind.h.
 *
 * Every program a server needs, the server itself and its tools (initdb, psql,
 * mariadb-install-db, mariadb), runs as a child of the registry (child.c): as the
 * server's user, in the server's directory, with a small fixed environment (so that no
 * PGHOST, PGOPTIONS, MYSQL_PWD or ~/.my.cnf of the user running the harness can steer
 * it), its output appended to the one log. A tool's input, the SQL that sets the
 * password, goes through a pipe filled before the tool starts: it is never on a command
 * line, where `ps` would show it, nor in a file.
 *
 * Servers run in the foreground (no pg_ctl, no mysqld_safe), so the process we fork is
 * the server and PR_SET_PDEATHSIG reaches it. They never drop privileges on their own
 * (mariadbd --user): child.c does it before asking for the signal, which a credential
 * change clears.
 *
 * A port is a guess (port.h): a server whose log says "Address already in use" was
 * beaten to it, and the first start tries again on a fresh port. A server is declared up
 * only by its kind's check on something only our child can have made (PostgreSQL's
 * postmaster.pid naming our pid as ready, MariaDB's socket in its own directory), and
 * either exits at start when it cannot bind its TCP port, so a stranger on the port is
 * never mistaken for ours. */
#include "infra/dbserver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra/dbserver_kind.h"
#include "infra/port.h"
#include "infra/tmpdir.h"
#include "core/child.h"
#include "core/util.h"

#define DBS_READY_NS (60 * OVS_NS_PER_S) /* to accept connections: a restart after a kill
                                            replays the write-ahead log first */
#define DBS_STOP_NS (10 * OVS_NS_PER_S)  /* a clean shutdown, before SIGKILL */
#define DBS_GONE_NS (5 * OVS_NS_PER_S)   /* for a killed server's last processes */
#define DBS_POLL_NS (10 * OVS_NS_PER_MS) /* step of every bounded wait here */
#define DBS_PORT_TRIES 5                 /* first starts when the port was taken */
#define DBS_LOG_TAIL 8192                /* of the log, read to say why something failed */
#define DBS_SUN_PATH sizeof(((struct sockaddr_un *)0)->sun_path) /* 108 on Linux */
#define DBS_SOCKET_LONGEST "/.s.PGSQL.65535" /* PostgreSQL's; MariaDB's is /mysqld.sock */

_Static_assert(OVS_CHILD_DBSERVERS >= 1, "the registry must have room for a database server");

static const dbserver_kind *kind_of(enum ovs_db_kind kind)
{
    switch (kind) {
    case OVS_DB_POSTGRESQL:
        return &ovs_dbserver_kind_postgresql;
    case OVS_DB_MARIADB:
        return &ovs_dbserver_kind_mariadb;
    }
    return NULL;
}

const char *ovs_dbserver_kind_name(enum ovs_db_kind kind)
{
    const dbserver_kind *k = kind_of(kind);
    return k != NULL ? k->name : "unknown";
}

/* ---------------------------------------------------------------------------------------
 * Command lines and executables. */

void dbs_argv_init(dbs_argv *a)
{
    memset(a, 0, sizeof(*a));
}

void dbs_argv_add(dbs_argv *a, const char *fmt, ...)
{
    size_t room = sizeof(a->buf) - a->used;
    va_list ap;
    int n;

    if (a->overflow || a->n >= DBS_ARGV_MAX) {
        a->overflow = 1;
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(a->buf + a->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        a->overflow = 1;
        return;
    }
    a->v[a->n++] = a->buf + a->used;
    a->v[a->n] = NULL;
    a->used += (size_t)n + 1;
}

int dbs_find(const char *dir, const char *name, const char *const *fallback, char *out,
             size_t len)
{
    char path[PATH_MAX];
    int n;

    if (dir != NULL) {
        n = snprintf(path, sizeof(path), "%s/%s", dir, name);
        return n > 0 && (size_t)n < sizeof(path) ? ovs_find_executable(path, out, len) : -1;
    }
    if (ovs_find_executable(name, out, len) == 0)
        return 0;
    for (; fallback != NULL && *fallback != NULL; fallback++) {
        n = snprintf(path, sizeof(path), "%s/%s", *fallback, name);
        if (n > 0 && (size_t)n < sizeof(path) && ovs_find_executable(path, out, len) == 0)
            return 0;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * The log. */

static off_t log_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* What the log holds from offset from on (at most its last DBS_LOG_TAIL bytes), into buf;
 * the length, 0 when nothing. */
static size_t log_tail(const char *path, off_t from, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t size;
    ssize_t n;

    buf[0] = '\0';
    if (fd < 0)
        return 0;
    size = lseek(fd, 0, SEEK_END);
    if (size - from > (off_t)len - 1)
        from = size - (off_t)len + 1;
    n = size > from ? pread(fd, buf, len - 1, from) : 0;
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return (size_t)n;
}

/* The line written since offset from that best says why something failed: the last one
 * that names an error (PostgreSQL's FATAL and ERROR, initdb's "error:", MariaDB's
 * [ERROR]), else the last line. "" when nothing was written. */
static void log_reason(const char *path, off_t from, char *out, size_t len)
{
    char buf[DBS_LOG_TAIL], *line, *save = NULL, *last = NULL, *named = NULL;

    out[0] = '\0';
    if (log_tail(path, from, buf, sizeof(buf)) == 0)
        return;
    for (line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        line = ovs_trim(line);
        if (*line == '\0')
            continue;
        last = line;
        if (strstr(line, "FATAL") != NULL || strstr(line, "ERROR") != NULL ||
            strstr(line, "error:") != NULL)
            named = line;
    }
    snprintf(out, len, "%s", named != NULL ? named : last != NULL ? last : "");
}

static int log_has(const char *path, off_t from, const char *needle)
{
    char buf[DBS_LOG_TAIL];
    return log_tail(path, from, buf, sizeof(buf)) > 0 && strstr(buf, needle) != NULL;
}

/* err for a child that exited when it should not have. */
static void describe_exit(const ovs_dbserver *s, const char *what, const siginfo_t *si,
                          off_t from, char *err, size_t errlen)
{
    char why[512];

    log_reason(s->log, from, why, sizeof(why));
    if (si->si_code == CLD_EXITED && si->si_status == OVS_CHILD_EXEC_FAILED)
        ovs_seterr(err, errlen, "%s: cannot execute %s (log: %s)", s->kind->name, what,
                   s->log);
    else if (si->si_code == CLD_EXITED && si->si_status == OVS_CHILD_SETUP_FAILED)
        ovs_seterr(err, errlen, "%s: %s could not run as user %s in %s: that user must be "
                   "able to search every directory above it (log: %s)", s->kind->name,
                   what, s->user, s->dir, s->log);
    else if (si->si_code == CLD_EXITED)
        ovs_seterr(err, errlen, "%s: %s exited with status %d: %s (log: %s)", s->kind->name,
                   what, si->si_status, why[0] ? why : "no message", s->log);
    else
        ovs_seterr(err, errlen, "%s: %s was killed by signal %d: %s (log: %s)",
                   s->kind->name, what, si->si_status, why[0] ? why : "no message", s->log);
}

/* ---------------------------------------------------------------------------------------
 * Children. */

static int spawn(ovs_dbserver *s, const dbs_argv *a, int in, pid_t *pid, int *slot,
                 char *err, size_t errlen)
{
    ovs_child_opts o = OVS_CHILD_OPTS_INIT;

    if (a->overflow || a->n == 0) {
        ovs_seterr(err, errlen, "%s: command line too long", s->kind->name);
        return OVS_ERR_ENV;
    }
    o.in = in;
    o.uid = s->uid;
    o.gid = s->gid;
    o.cwd = s->dir;
    o.envp = s->env;
    /* execve's prototype predates const; it does not modify argv. */
    return ovs_child_spawn_opts(a->v[0], (char *const *)a->v, s->log, &o, pid, slot, err,
                                errlen);
}

/* SIGKILL a child and everything in its process group (child.c makes it the leader:
 * a shell script's own children too), then reap it. */
static void kill_child(pid_t *pid, int *slot)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    kill(-*pid, SIGKILL); /* its group still exists: the leader is not reaped */
    ovs_child_reap(pid, slot);
}

int dbs_run(ovs_dbserver *s, const char *what, const dbs_argv *a, const char *input,
            int64_t timeout_ns, char *err, size_t errlen)
{
    off_t from = log_size(s->log);
    int pfd[2] = { -1, -1 }, slot = -1, rc;
    pid_t pid = -1;
    int64_t deadline;
    siginfo_t si;

    if (input != NULL) {
        size_t n = strlen(input);
        /* All of it in the pipe before the tool starts, so that this never blocks: a
         * pipe holds at least PIPE_BUF bytes, and a set-up script is a few hundred. */
        if (n > PIPE_BUF) {
            ovs_seterr(err, errlen, "%s: input for %s too long", s->kind->name, what);
            return OVS_ERR;
        }
        if (pipe2(pfd, O_CLOEXEC) != 0 || write(pfd[1], input, n) != (ssize_t)n) {
            ovs_seterr(err, errlen, "%s: cannot pass input to %s: %s", s->kind->name, what,
                       strerror(errno));
            if (pfd[0] >= 0)
                close(pfd[0]);
            if (pfd[1] >= 0)
                close(pfd[1]);
            return OVS_ERR_ENV;
        }
        close(pfd[1]);
    }
    rc = spawn(s, a, pfd[0], &pid, &slot, err, errlen);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (rc != OVS_OK)
        return rc;
    deadline = ovs_now_ns() + timeout_ns;
    while (!ovs_child_exited(pid, &si)) {
        if (ovs_now_ns() >= deadline) {
            kill_child(&pid, &slot);
            ovs_seterr(err, errlen, "%s: %s did not finish within %d s (log: %s)",
                       s->kind->name, what, (int)(timeout_ns / OVS_NS_PER_S), s->log);
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(DBS_POLL_NS);
    }
    ovs_child_reap(&pid, &slot);
    if (si.si_code == CLD_EXITED && si.si_status == 0)
        return OVS_OK;
    describe_exit(s, what, &si, from, err, errlen);
    return OVS_ERR_ENV;
}

int dbs_write_file(const ovs_dbserver *s, const char *path, const char *text, char *err,
                   size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t n = strlen(text);

    if (fd < 0 || write(fd, text, n) != (ssize_t)n ||
        (s->uid != (uid_t)-1 && fchown(fd, s->uid, s->gid) != 0)) {
        ovs_seterr(err, errlen, "%s: cannot write %s: %s", s->kind->name, path,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        return OVS_ERR_ENV;
    }
    if (close(fd) != 0) {
        ovs_seterr(err, errlen, "%s: cannot write %s: %s", s->kind->name, path,
                   strerror(errno));
        return OVS_ERR_ENV;
    }
    return OVS_OK;
}

/* ---------------------------------------------------------------------------------------
 * The server's processes. */

/* How many processes work in the server's data directory: the server and, for
 * PostgreSQL, its backends, which make themselves leaders of sessions of their own
 * (setsid), so no process group holds them all. Every server process enters the data
 * directory and nothing else does (it is private to the server's user), which makes this
 * the one test of "none of it is left" that holds for both kinds. Zombies have no working
 * directory and do not count. */
static int procs_in_data(const ovs_dbserver *s)
{
    struct stat want, st;
    struct dirent *e;
    char path[64];
    int n = 0;
    DIR *d;

    if (stat(s->data, &want) != 0 || (d = opendir("/proc")) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.20s/cwd", e->d_name);
        if (stat(path, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
            n++;
    }
    closedir(d);
    return n;
}

/* Wait (bounded) until no process is left in the data directory. A PostgreSQL backend
 * whose postmaster died exits on its own at once (it watches for that), but until it has,
 * it holds the old shared memory, and a new postmaster refuses to start beside it. */
static int wait_procs_gone(const ovs_dbserver *s, char *err, size_t errlen)
{
    int64_t deadline = ovs_now_ns() + DBS_GONE_NS;
    int left;

    while ((left = procs_in_data(s)) > 0) {
        if (ovs_now_ns() >= deadline) {
            ovs_seterr(err, errlen, "%s: %d of its processes still run in %s %d s after "
                       "the server died", s->kind->name, left, s->data,
                       (int)(DBS_GONE_NS / OVS_NS_PER_S));
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(DBS_POLL_NS);
    }
    return OVS_OK;
}

static int kill_server(ovs_dbserver *s, char *err, size_t errlen)
{
    kill_child(&s->pid, &s->slot);
    return wait_procs_gone(s, err, errlen);
}

/* Start the server (its first start or a restart) and wait until it accepts connections.
 * OVS_OK; 1 when its port was taken (it exited and is reaped); OVS_ERR_ENV with a reason,
 * the server not running. */
static int server_up(ovs_dbserver *s, char *err, size_t errlen)
{
    off_t from = log_size(s->log);
    int64_t deadline;
    siginfo_t si;
    dbs_argv a;
    int rc;

    dbs_argv_init(&a);
    s->kind->server_argv(s, &a);
    if ((rc = spawn(s, &a, -1, &s->pid, &s->slot, err, errlen)) != OVS_OK)
        return rc;
    deadline = ovs_now_ns() + DBS_READY_NS;
    for (;;) {
        if (ovs_child_exited(s->pid, &si)) {
            int taken = log_has(s->log, from, "Address already in use");
            ovs_child_reap(&s->pid, &s->slot);
            if (taken)
                return 1;
            describe_exit(s, "the server", &si, from, err, errlen);
            return OVS_ERR_ENV;
        }
        if (s->kind->ready(s))
            return OVS_OK;
        if (ovs_now_ns() >= deadline) {
            char why[512];
            log_reason(s->log, from, why, sizeof(why));
            kill_server(s, NULL, 0);
            ovs_seterr(err, errlen, "%s: the server did not accept connections within %d s%s"
                       "%s (log: %s)", s->kind->name, (int)(DBS_READY_NS / OVS_NS_PER_S),
                       why[0] ? ": " : "", why, s->log);
            return OVS_ERR_ENV;
        }
        ovs_sleep_ns(DBS_POLL_NS);
    }
}

/* The first start: on a fresh port each time the last one was taken. */
static int come_up(ovs_dbserver *s, char *err, size_t errlen)
{
    for (int tries = 1;; tries++) {
        int rc = ovs_port_free(&s->port, err, errlen);
        if (rc != OVS_OK || (rc = server_up(s, err, errlen)) != 1)
            return rc;
        if (tries == DBS_PORT_TRIES) {
            ovs_seterr(err, errlen, "%s: its port was taken by another process %d times in "
                       "a row (log: %s)", s->kind->name, tries, s->log);
            return OVS_ERR_ENV;
        }
    }
}

/* Clean shutdown, bounded; SIGKILL after. SIGCONT in case a fault left it stopped. */
static void stop_server(ovs_dbserver *s)
{
    int64_t deadline = ovs_now_ns() + DBS_STOP_NS;
    siginfo_t si;

    if (s->pid <= 0)
        return;
    kill(s->pid, s->kind->stop_signal);
    kill(s->pid, SIGCONT);
    while (!ovs_child_exited(s->pid, &si) && ovs_now_ns() < deadline)
        ovs_sleep_ns(DBS_POLL_NS);
    kill_server(s, NULL, 0); /* reaps it; kills only when it is still there */
}

/* ---------------------------------------------------------------------------------------
 * Set-up. */

/* Who runs the server: as root, the kind's system user; otherwise we do. */
static int pick_user(ovs_dbserver *s, char *err, size_t errlen)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    const char *name = s->kind->system_user;

    if (geteuid() == 0) {
        getpwnam_r(name, &pw, buf, sizeof(buf), &res);
        if (res == NULL || pw.pw_uid == 0) {
            ovs_seterr(err, errlen, "%s: no system user %s to run the server as (its "
                       "package creates it; we are root, and the server must not be)",
                       s->kind->name, name);
            return OVS_ERR_ENV;
        }
        s->uid = pw.pw_uid;
        s->gid = pw.pw_gid;
    } else {
        getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res);
        if (res == NULL) {
            ovs_seterr(err, errlen, "%s: user %ld has no name, which the server's "
                       "superuser takes", s->kind->name, (long)geteuid());
            return OVS_ERR_ENV;
        }
        s->uid = (uid_t)-1;
        s->gid = (gid_t)-1;
    }
    if (strlen(pw.pw_name) >= sizeof(s->user)) {
        ovs_seterr(err, errlen, "%s: user name too long: %s", s->kind->name, pw.pw_name);
        return OVS_ERR_ENV;
    }
    memcpy(s->user, pw.pw_name, strlen(pw.pw_name) + 1);
    return OVS_OK;
}

/* Let the server's user pass through parent_dir, the harness's private 0700 directory,
 * to its own: group search for its group, and nothing more. It cannot list parent_dir,
 * and what else is there (redis nodes' directories, the owner record) is 0700 or 0600 and
 * ours. A parent already open to another group serves another kind of server, which
 * would lose its way in if we took the group: refused. */
static int open_parent(ovs_dbserver *s, const char *parent, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        ovs_seterr(err, errlen, "%s: cannot open %s: %s", s->kind->name, parent,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        return OVS_ERR_ENV;
    }
    if (s->uid != (uid_t)-1 && (st.st_gid != s->gid || (st.st_mode & 070) != 010)) {
        if ((st.st_mode & 070) != 0 && st.st_gid != s->gid) {
            ovs_seterr(err, errlen, "%s: %s already lets group %ld in (a server of another "
                       "kind?): start each kind under a directory of its own",
                       s->kind->name, parent, (long)st.st_gid);
            close(fd);
            return OVS_ERR_ENV;
        }
        if (fchown(fd, (uid_t)-1, s->gid) != 0 ||
            fchmod(fd, (st.st_mode & 07707) | 0010) != 0) {
            ovs_seterr(err, errlen, "%s: cannot let user %s through %s: %s", s->kind->name,
                       s->user, parent, strerror(errno));
            close(fd);
            return OVS_ERR_ENV;
        }
    }
    close(fd);
    return OVS_OK;
}

static int make_dirs(ovs_dbserver *s, const char *parent, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    int a, b, c, fd, rc;

    if ((rc = open_parent(s, parent, err, errlen)) != OVS_OK)
        return rc;
    a = snprintf(dir, sizeof(dir), "%s/%s.XXXXXX", parent, s->kind->name);
    if (a < 0 || (size_t)a >= sizeof(dir)) {
        ovs_seterr(err, errlen, "%s: path too long: %s", s->kind->name, parent);
        return OVS_ERR_ENV;
    }
    if (mkdtemp(dir) == NULL) {
        ovs_seterr(err, errlen, "%s: cannot create a directory in %s: %s", s->kind->name,
                   parent, strerror(errno));
        return OVS_ERR_ENV;
    }
    memcpy(s->dir, dir, sizeof(dir)); /* from here on, failing removes it */
    /* The server's Unix socket goes in it, and a socket's path has a small limit. */
    if (strlen(dir) + sizeof(DBS_SOCKET_LONGEST) > DBS_SUN_PATH) {
        ovs_seterr(err, errlen, "%s: %s is too long a path for the server's Unix socket "
                   "(%zu bytes at most): set TMPDIR to a shorter directory", s->kind->name,
                   dir, DBS_SUN_PATH - sizeof(DBS_SOCKET_LONGEST));
        return OVS_ERR_ENV;
    }
    b = snprintf(s->data, sizeof(s->data), "%s/data", dir);
    c = snprintf(s->log, sizeof(s->log), "%s.log", dir);
    if (b < 0 || c < 0 || (size_t)b >= sizeof(s->data) || (size_t)c >= sizeof(s->log)) {
        ovs_seterr(err, errlen, "%s: path too long: %s", s->kind->name, dir);
        s->log[0] = '\0';
        return OVS_ERR_ENV;
    }
    if (s->uid != (uid_t)-1 && chown(dir, s->uid, s->gid) != 0) {
        ovs_seterr(err, errlen, "%s: cannot give %s to user %s: %s", s->kind->name, dir,
                   s->user, strerror(errno));
        return OVS_ERR_ENV;
    }
    /* The log exists from now on, so every error can point at it. */
    fd = open(s->log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        ovs_seterr(err, errlen, "%s: cannot create %s: %s", s->kind->name, s->log,
                   strerror(errno));
        s->log[0] = '\0';
        return OVS_ERR_ENV;
    }
    close(fd);
    return OVS_OK;
}

/* The whole environment of every child: nothing of ours leaks in. PATH leads with the
 * server's own directory (mariadb-install-db runs its helpers from PATH); HOME is the
 * server's directory, which holds no dotfile; C locale and UTC, so initdb writes the same
 * configuration everywhere. */
static int make_env(ovs_dbserver *s, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    char *p = s->envbuf, *end = s->envbuf + sizeof(s->envbuf);
    const char *slash = strrchr(s->server, '/');
    int n = 0;

    snprintf(path, sizeof(path), "%.*s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
             "/sbin:/bin", slash != NULL ? (int)(slash - s->server) : 0, s->server);
    const char *const vars[][2] = {
        { "PATH", path }, { "HOME", s->dir }, { "TMPDIR", s->dir },
        { "LC_ALL", "C" }, { "TZ", "UTC" },
    };
    _Static_assert(sizeof(vars) / sizeof(vars[0]) <= DBS_ENV_MAX, "room in s->env");
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        int w = snprintf(p, (size_t)(end - p), "%s=%s", vars[i][0], vars[i][1]);
        if (w < 0 || w >= end - p) {
            ovs_seterr(err, errlen, "%s: environment too long", s->kind->name);
            return OVS_ERR_ENV;
        }
        s->env[n++] = p;
        p += w + 1;
    }
    s->env[n] = NULL;
    return OVS_OK;
}

static int make_password(ovs_dbserver *s, char *err, size_t errlen)
{
    unsigned char raw[DBS_PASSWORD_BYTES];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ovs_seterr(err, errlen, "%s: getrandom: %s", s->kind->name, strerror(errno));
            return OVS_ERR_ENV;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s->password + 2 * i, 3, "%02x", raw[i]);
    return OVS_OK;
}

/* ---------------------------------------------------------------------------------------
 * The interface. */

int ovs_dbserver_available(enum ovs_db_kind kind, char *err, size_t errlen)
{
    const dbserver_kind *k = kind_of(kind);
    ovs_dbserver *s;
    int rc;

    if (k == NULL) {
        ovs_seterr(err, errlen, "unknown database kind %d", (int)kind);
        return OVS_ERR;
    }
    s = calloc(1, sizeof(*s)); /* 40 KiB of paths: not for the stack */
    if (s == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", k->name);
        return OVS_ERR;
    }
    s->kind = k;
    rc = k->find(s, err, errlen);
    free(s);
    return rc;
}

int ovs_dbserver_start(enum ovs_db_kind kind, const char *parent_dir, ovs_dbserver **out,
                       char *err, size_t errlen)
{
    const dbserver_kind *k = kind_of(kind);
    ovs_dbserver *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (k == NULL || parent_dir == NULL || *parent_dir == '\0' || out == NULL) {
        ovs_seterr(err, errlen, "ovs_dbserver_start: unknown kind, no directory or no "
                                "result pointer");
        return OVS_ERR;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", k->name);
        return OVS_ERR;
    }
    s->kind = k;
    s->owner = pthread_self();
    s->pid = -1;
    s->slot = -1;
    if ((rc = k->find(s, err, errlen)) != OVS_OK || (rc = pick_user(s, err, errlen)) != OVS_OK ||
        (rc = make_dirs(s, parent_dir, err, errlen)) != OVS_OK ||
        (rc = make_env(s, err, errlen)) != OVS_OK ||
        (rc = make_password(s, err, errlen)) != OVS_OK ||
        (rc = k->init(s, err, errlen)) != OVS_OK || (rc = come_up(s, err, errlen)) != OVS_OK ||
        (rc = k->bootstrap(s, err, errlen)) != OVS_OK)
        goto fail;
    snprintf(s->url, sizeof(s->url), "%s://" OVS_DBSERVER_USER ":%s@" OVS_LOOPBACK_HOST
             ":%d/" OVS_DBSERVER_DATABASE, k->scheme, s->password, s->port);
    *out = s;
    return OVS_OK;

fail:
    /* The log stays for err to point at; it is in parent_dir, which its owner removes. */
    stop_server(s);
    if (s->dir[0] != '\0')
        ovs_tmpdir_remove(s->dir);
    free(s);
    return rc;
}

void ovs_dbserver_stop(ovs_dbserver *s)
{
    if (s == NULL)
        return;
    stop_server(s);
    if (s->dir[0] != '\0')
        ovs_tmpdir_remove(s->dir);
    if (s->log[0] != '\0')
        unlink(s->log);
    free(s);
}

int ovs_dbserver_kill(ovs_dbserver *s, char *err, size_t errlen)
{
    if (s == NULL || s->pid <= 0) {
        ovs_seterr(err, errlen, "%s: not running", s != NULL ? s->kind->name : "dbserver");
        return OVS_ERR;
    }
    return kill_server(s, err, errlen);
}

int ovs_dbserver_restart(ovs_dbserver *s, char *err, size_t errlen)
{
    int rc;

    if (s == NULL) {
        ovs_seterr(err, errlen, "ovs_dbserver_restart: no server");
        return OVS_ERR;
    }
    if (!pthread_equal(s->owner, pthread_self())) {
        ovs_seterr(err, errlen, "%s: restart from another thread than the one that started "
                   "it (the server would die with this one)", s->kind->name);
        return OVS_ERR;
    }
    if (s->pid > 0 && (rc = kill_server(s, err, errlen)) != OVS_OK)
        return rc;
    rc = server_up(s, err, errlen);
    if (rc == 1) {
        ovs_seterr(err, errlen, "%s: port %d was taken while the server was down (log: %s)",
                   s->kind->name, s->port, s->log);
        return OVS_ERR_ENV;
    }
    return rc;
}

const char *ovs_dbserver_url(const ovs_dbserver *s)
{
    return s != NULL ? s->url : "";
}

int ovs_dbserver_port(const ovs_dbserver *s)
{
    return s != NULL ? s->port : -1;
}

pid_t ovs_dbserver_pid(const ovs_dbserver *s)
{
    return s != NULL && s->pid > 0 ? s->pid : -1;
}

const char *ovs_dbserver_log(const ovs_dbserver *s)
{
    return s != NULL ? s->log : "";
}

const char *ovs_dbserver_dir(const ovs_dbserver *s)
{
    return s != NULL ? s->dir : "";
}
