/* test_dbserver.c - live tests of the managed PostgreSQL and MariaDB servers
 * (harness/infra/dbserver.c).
 *
 * These run the real servers and talk to them with their own command-line clients (psql,
 * mariadb) through the URL, as the shop will. Without a server they skip, except under
 * CI=true (tests/live.h). Each body runs once per kind. Every wait is bounded; a client
 * that hangs is ended by an alarm. The fixture owns the server and the directory, so the
 * teardown cleans up when an assertion jumps out of a test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "infra/dbserver.h"
#include "infra/tmpdir.h"
#include "core/util.h"
#include "live.h"

#define WAIT_NS (10 * OVS_NS_PER_S)
#define STEP_NS (10 * OVS_NS_PER_MS)
#define CLIENT_TIMEOUT_S 30
#define MAX_SOCKETS 256

typedef struct fixture {
    ovs_dbserver *db;        /* stopped by the teardown if a test leaves it */
    char parent[PATH_MAX];   /* made by ovs_tmpdir_make, removed by the teardown */
    char fake[PATH_MAX];     /* a directory of fake executables, or "" */
    char *saved_pg;          /* $OVERSELL_PG_BINDIR before the test, or NULL */
    char *saved_mariadb;     /* $OVERSELL_MARIADB_BINDIR before the test, or NULL */
} fixture;

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *value)
{
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char err[256];

    if (fx == NULL)
        return -1;
    fx->saved_pg = dup_env("OVERSELL_PG_BINDIR");
    fx->saved_mariadb = dup_env("OVERSELL_MARIADB_BINDIR");
    if (ovs_tmpdir_make(fx->parent, sizeof(fx->parent), err, sizeof(err)) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    ovs_dbserver_stop(fx->db);
    ovs_tmpdir_remove(fx->parent);
    if (fx->fake[0] != '\0')
        ovs_tmpdir_remove(fx->fake);
    restore_env("OVERSELL_PG_BINDIR", fx->saved_pg);
    restore_env("OVERSELL_MARIADB_BINDIR", fx->saved_mariadb);
    free(fx);
    return 0;
}

static void start(fixture *fx, enum ovs_db_kind kind)
{
    char err[1024] = "";
    int64_t t0 = ovs_now_ns();
    int rc = ovs_dbserver_start(kind, fx->parent, &fx->db, err, sizeof(err));

    if (rc != OVS_OK)
        fail_msg("%s did not start (rc %d): %s", ovs_dbserver_kind_name(kind), rc, err);
    print_message("%s started in %.0f ms\n", ovs_dbserver_kind_name(kind),
                  (double)(ovs_now_ns() - t0) / (double)OVS_NS_PER_MS);
}

/* ---- clients ------------------------------------------------------------------------- */

/* The parts of a URL scheme://user:password@host:port/db. */
typedef struct url_parts {
    char scheme[32], user[64], password[128], host[64], port[16], db[64];
} url_parts;

static void parse_url(const char *url, url_parts *u)
{
    memset(u, 0, sizeof(*u));
    assert_int_equal(sscanf(url, "%31[^:]://%63[^:]:%127[^@]@%63[^:]:%15[0-9]/%63s", u->scheme,
                            u->user, u->password, u->host, u->port, u->db), 6);
}

/* Run argv with one more environment variable (env "NAME=value", or NULL), its stdout and
 * stderr into out; the exit status, or -1 when it did not exit normally. An alarm ends
 * a client that hangs. */
static int run(char *const *argv, const char *env, char *out, size_t len)
{
    int pfd[2], status;
    size_t got = 0;
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        if (env != NULL)
            putenv((char *)env);
        alarm(CLIENT_TIMEOUT_S);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        ssize_t n = read(pfd[0], out + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || got + (size_t)n >= len - 1) {
            if (n > 0)
                got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    out[got] = '\0';
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run sql through the kind's client as user:password on the server's TCP port, the way
 * the URL says. Output in out (tab-separated, no headers); returns the exit status. */
static int sql_as(const ovs_dbserver *db, enum ovs_db_kind kind, const char *user,
                  const char *password, const char *dbname, const char *sql, char *out,
                  size_t len)
{
    url_parts u;
    char env[256];

    parse_url(ovs_dbserver_url(db), &u);
    if (kind == OVS_DB_POSTGRESQL) {
        char url[512];
        char *argv[] = { "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c",
                         (char *)sql, NULL };
        snprintf(url, sizeof(url), "postgresql://%s@%s:%s/%s?connect_timeout=10", user,
                 u.host, u.port, dbname);
        snprintf(env, sizeof(env), "PGPASSWORD=%s", password);
        return run(argv, env, out, len);
    } else {
        char *argv[] = { "mariadb", "--no-defaults", "--protocol=tcp", "-h", u.host, "-P",
                         u.port, "-u", (char *)user, "-N", "-B", "--connect-timeout=10",
                         (char *)dbname, "-e", (char *)sql, NULL };
        snprintf(env, sizeof(env), "MYSQL_PWD=%s", password);
        return run(argv, env, out, len);
    }
}

static int sql(const ovs_dbserver *db, enum ovs_db_kind kind, const char *text, char *out,
               size_t len)
{
    url_parts u;
    parse_url(ovs_dbserver_url(db), &u);
    return sql_as(db, kind, u.user, u.password, u.db, text, out, len);
}

/* ---- what the server listens on ---------------------------------------------------------- */

/* The inodes of the sockets process pid holds. */
static int socket_inodes(pid_t pid, unsigned long *ino, int max)
{
    char path[64], link[64];
    struct dirent *e;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < max) {
        char fd[PATH_MAX];
        ssize_t l;
        snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
        l = readlink(fd, link, sizeof(link) - 1);
        if (l <= 0)
            continue;
        link[l] = '\0';
        if (sscanf(link, "socket:[%lu]", &ino[n]) == 1)
            n++;
    }
    closedir(d);
    return n;
}

static int has_inode(const unsigned long *ino, int n, unsigned long x)
{
    for (int i = 0; i < n; i++)
        if (ino[i] == x)
            return 1;
    return 0;
}

/* Listening TCP sockets of ours in /proc/net/FILE: their count; each one's local address
 * must be want ("0100007F:PORT" in the kernel's hex), or the test fails. want NULL: there
 * must be none. */
static int tcp_listeners(const char *file, const unsigned long *ino, int n, const char *want)
{
    char path[64], line[512], local[64], state[8];
    unsigned long inode;
    int count = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/net/%s", file);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 0; /* no IPv6 in this kernel */
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (sscanf(line, " %*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, state, &inode) != 3 ||
            strcmp(state, "0A") != 0 || !has_inode(ino, n, inode))
            continue;
        count++;
        if (want == NULL || strcmp(local, want) != 0)
            fail_msg("the server listens on %s in /proc/net/%s, not only on %s", local, file,
                     want != NULL ? want : "127.0.0.1");
    }
    fclose(fp);
    return count;
}

/* Listening Unix sockets of ours: their count; each must be inside dir. */
static int unix_listeners(const unsigned long *ino, int n, const char *dir)
{
    char line[PATH_MAX + 128], path[PATH_MAX];
    unsigned long flags, inode;
    int count = 0;
    FILE *fp = fopen("/proc/net/unix", "r");

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        path[0] = '\0';
        if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %4095s", &flags, &inode, path) < 2 ||
            !(flags & 0x10000) || !has_inode(ino, n, inode)) /* __SO_ACCEPTCON */
            continue;
        count++;
        if (strncmp(path, dir, strlen(dir)) != 0 || path[strlen(dir)] != '/')
            fail_msg("the server listens on the Unix socket '%s', outside its directory %s",
                     path, dir);
    }
    fclose(fp);
    return count;
}

static void check_listeners(const ovs_dbserver *db)
{
    unsigned long ino[MAX_SOCKETS];
    char want[32];
    int n = socket_inodes(ovs_dbserver_pid(db), ino, MAX_SOCKETS);

    snprintf(want, sizeof(want), "0100007F:%04X", ovs_dbserver_port(db));
    assert_int_equal(tcp_listeners("tcp", ino, n, want), 1);
    assert_int_equal(tcp_listeners("tcp6", ino, n, NULL), 0);
    assert_int_equal(unix_listeners(ino, n, ovs_dbserver_dir(db)), 1);
}

/* ---- processes ------------------------------------------------------------------------ */

static int pid_gone(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && (p[2] == 'Z' || p[2] == 'X');
}

/* Processes (not zombies) whose working directory is dir or below it. */
static int procs_under(const char *dir)
{
    struct dirent *e;
    int n = 0;
    DIR *d = opendir("/proc");

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[64], cwd[PATH_MAX];
        ssize_t l;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.20s/cwd", e->d_name);
        l = readlink(path, cwd, sizeof(cwd) - 1);
        if (l <= 0)
            continue;
        cwd[l] = '\0';
        if (strncmp(cwd, dir, strlen(dir)) == 0 && (cwd[strlen(dir)] == '/' ||
                                                   cwd[strlen(dir)] == '\0'))
            n++;
    }
    closedir(d);
    return n;
}

/* Wait (bounded) until pid is gone and nothing runs in dir any more; 1 when so. */
static int wait_all_gone(pid_t pid, const char *dir)
{
    int64_t deadline = ovs_now_ns() + WAIT_NS;
    while (!(pid_gone(pid) && procs_under(dir) == 0)) {
        if (ovs_now_ns() >= deadline)
            return 0;
        ovs_sleep_ns(STEP_NS);
    }
    return 1;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_bad_args(void **state)
{
    fixture *fx = *state;
    char err[256] = "";

    assert_int_equal(ovs_dbserver_start(OVS_DB_POSTGRESQL, NULL, &fx->db, err, sizeof(err)),
                     OVS_ERR);
    assert_null(fx->db);
    assert_int_equal(ovs_dbserver_start((enum ovs_db_kind)42, fx->parent, &fx->db, err,
                                        sizeof(err)), OVS_ERR);
    assert_int_equal(ovs_dbserver_kill(NULL, err, sizeof(err)), OVS_ERR);
    assert_int_equal(ovs_dbserver_restart(NULL, err, sizeof(err)), OVS_ERR);
    assert_int_equal(ovs_dbserver_pid(NULL), -1);
    ovs_dbserver_stop(NULL);
}

/* Start, talk to it through the URL only, check who may log in and where it listens,
 * kill and restart it (what it committed survives), stop it (nothing is left). */
static void lifecycle(fixture *fx, enum ovs_db_kind kind)
{
    const int pg = kind == OVS_DB_POSTGRESQL;
    char out[4096], dir[PATH_MAX], log[PATH_MAX], prefix[64];
    url_parts u;
    struct stat st;
    pid_t pid, pid2;
    int port;

    OVS_REQUIRE_DBSERVER(kind);
    start(fx, kind);
    pid = ovs_dbserver_pid(fx->db);
    port = ovs_dbserver_port(fx->db);
    assert_true(pid > 0);
    snprintf(dir, sizeof(dir), "%s", ovs_dbserver_dir(fx->db));
    snprintf(log, sizeof(log), "%s", ovs_dbserver_log(fx->db));

    /* The URL: the promised form, a 32-digit hexadecimal password. */
    snprintf(prefix, sizeof(prefix), "%s://oversell:", pg ? "postgresql" : "mysql");
    assert_int_equal(strncmp(ovs_dbserver_url(fx->db), prefix, strlen(prefix)), 0);
    parse_url(ovs_dbserver_url(fx->db), &u);
    assert_string_equal(u.user, "oversell");
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.db, "oversell");
    assert_int_equal(atoi(u.port), port);
    assert_int_equal(strlen(u.password), 32);
    assert_int_equal(strspn(u.password, "0123456789abcdef"), 32);

    /* In and working: a query, a table, a database of a run of its own. */
    if (sql(fx->db, kind, "SELECT 1", out, sizeof(out)) != 0)
        fail_msg("SELECT 1 through the URL failed: %s", out);
    assert_string_equal(ovs_trim(out), "1");
    if (sql(fx->db, kind, "CREATE TABLE skus (id INT PRIMARY KEY, stock INT NOT NULL); "
                          "INSERT INTO skus VALUES (1, 10); "
                          "UPDATE skus SET stock = stock - 1 WHERE id = 1;",
            out, sizeof(out)) != 0)
        fail_msg("creating a table in the oversell database failed: %s", out);
    if (sql(fx->db, kind, "CREATE DATABASE oversell_run1", out, sizeof(out)) != 0)
        fail_msg("creating a per-run database failed: %s", out);
    if (sql_as(fx->db, kind, u.user, u.password, "oversell_run1",
               "CREATE TABLE orders (id INT PRIMARY KEY)", out, sizeof(out)) != 0)
        fail_msg("using the per-run database failed: %s", out);
    if (sql(fx->db, kind, "DROP DATABASE oversell_run1", out, sizeof(out)) != 0)
        fail_msg("dropping the per-run database failed: %s", out);

    /* Nobody else gets in over TCP: not a wrong password, not the superuser. */
    assert_int_not_equal(sql_as(fx->db, kind, "oversell", "not-the-password", "oversell",
                                "SELECT 1", out, sizeof(out)), 0);
    assert_int_not_equal(sql_as(fx->db, kind, pg ? "postgres" : "root", "", pg ? "postgres" :
                                "mysql", "SELECT 1", out, sizeof(out)), 0);

    /* 127.0.0.1:port, and one socket in its own directory; nothing else. */
    check_listeners(fx->db);

    /* Files: a private directory of the server's user, reached through a parent only
     * that user's group may search; our own private log beside it. */
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(pg ? "postgres" : "mysql");
        assert_non_null(pw);
        assert_int_equal(st.st_uid, pw->pw_uid);
        assert_int_equal(stat(fx->parent, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0710);
        assert_int_equal(st.st_gid, pw->pw_gid);
    }
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Kill: gone at once, with everything it ran; restart: same port, same data. */
    {
        char err[1024] = "";
        int64_t t0;
        if (ovs_dbserver_kill(fx->db, err, sizeof(err)) != OVS_OK)
            fail_msg("kill: %s", err);
        assert_int_equal(ovs_dbserver_pid(fx->db), -1);
        assert_true(pid_gone(pid));
        assert_int_equal(procs_under(dir), 0);
        assert_int_not_equal(sql(fx->db, kind, "SELECT 1", out, sizeof(out)), 0);
        t0 = ovs_now_ns();
        if (ovs_dbserver_restart(fx->db, err, sizeof(err)) != OVS_OK)
            fail_msg("restart: %s", err);
        print_message("%s restarted after SIGKILL in %.0f ms\n", ovs_dbserver_kind_name(kind),
                      (double)(ovs_now_ns() - t0) / (double)OVS_NS_PER_MS);
    }
    pid2 = ovs_dbserver_pid(fx->db);
    assert_true(pid2 > 0 && pid2 != pid);
    assert_int_equal(ovs_dbserver_port(fx->db), port);
    if (sql(fx->db, kind, "SELECT stock FROM skus WHERE id = 1", out, sizeof(out)) != 0)
        fail_msg("after the restart: %s", out);
    assert_string_equal(ovs_trim(out), "9"); /* committed before the kill */
    check_listeners(fx->db);

    /* Stop: the process, its directory and its log are gone. */
    ovs_dbserver_stop(fx->db);
    fx->db = NULL;
    assert_true(pid_gone(pid2));
    assert_int_equal(procs_under(dir), 0);
    assert_int_equal(lstat(dir, &st), -1);
    assert_int_equal(lstat(log, &st), -1);
}

static void test_postgresql(void **state)
{
    lifecycle(*state, OVS_DB_POSTGRESQL);
}

static void test_mariadb(void **state)
{
    lifecycle(*state, OVS_DB_MARIADB);
}

/* What the child of test_dies_with_harness reports. */
typedef struct child_report {
    int rc;
    pid_t pid;
    char dir[PATH_MAX];
    char err[512];
} child_report;

/* A harness killed by SIGKILL takes its server with it: a child process starts one and
 * is killed; the server and every process of it must be gone within a bounded wait. */
static void dies_with_harness(fixture *fx, enum ovs_db_kind kind)
{
    child_report rep;
    int pfd[2], status, gone;
    size_t got = 0;
    pid_t child;

    OVS_REQUIRE_DBSERVER(kind);
    assert_int_equal(pipe(pfd), 0);
    /* The server re-parents to us when its parent dies, so we can reap it. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        ovs_dbserver *db = NULL;
        memset(&rep, 0, sizeof(rep));
        close(pfd[0]);
        rep.rc = ovs_dbserver_start(kind, fx->parent, &db, rep.err, sizeof(rep.err));
        if (rep.rc == OVS_OK) {
            rep.pid = ovs_dbserver_pid(db);
            snprintf(rep.dir, sizeof(rep.dir), "%s", ovs_dbserver_dir(db));
        }
        if (write(pfd[1], &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
            _exit(1);
        for (;;)
            pause(); /* until SIGKILL */
    }
    close(pfd[1]);
    memset(&rep, 0, sizeof(rep));
    while (got < sizeof(rep)) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        ssize_t n;
        if (poll(&p, 1, 60 * 1000) <= 0)
            break;
        n = read(pfd[0], (char *)&rep + got, sizeof(rep) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pfd[0]);
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, &status, 0), child);
    if (got != sizeof(rep) || rep.rc != OVS_OK) {
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        fail_msg("the child could not start %s: rc %d: %s", ovs_dbserver_kind_name(kind),
                 rep.rc, rep.err);
    }

    /* Reap what re-parents to us meanwhile, so that it does not linger as a zombie. */
    {
        int64_t deadline = ovs_now_ns() + WAIT_NS;
        while (!(gone = (pid_gone(rep.pid) && procs_under(rep.dir) == 0)) &&
               ovs_now_ns() < deadline) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            ovs_sleep_ns(STEP_NS);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    if (!gone)
        fail_msg("%s (pid %d) outlived the SIGKILLed process that started it",
                 ovs_dbserver_kind_name(kind), (int)rep.pid);
    assert_true(wait_all_gone(rep.pid, rep.dir));
    /* Its directory stays in the dead harness's private one, which the teardown removes
     * (and the next harness's sweep would). */
}

static void test_postgresql_dies_with_harness(void **state)
{
    dies_with_harness(*state, OVS_DB_POSTGRESQL);
}

static void test_mariadb_dies_with_harness(void **state)
{
    dies_with_harness(*state, OVS_DB_MARIADB);
}

/* A fake executable in fx->fake: a shell script. */
static void fake_exe(fixture *fx, const char *name, const char *script)
{
    char path[PATH_MAX + 64];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", fx->fake, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", script);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

/* A directory of fake executables that the server's user may run (so not under our 0700
 * private directory). */
static void make_fake_dir(fixture *fx)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->fake, sizeof(fx->fake), "%s/oversell-fake.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->fake));
    assert_int_equal(chmod(fx->fake, 0755), 0);
}

/* Only the log is left in parent_dir after a failed start. */
static void only_log_left(const fixture *fx, const char *err)
{
    struct dirent *e;
    int entries = 0;
    DIR *d = opendir(fx->parent);

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        size_t l = strlen(e->d_name);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, OVS_TMPDIR_OWNER) == 0)
            continue;
        entries++;
        snprintf(path, sizeof(path), "%s/%s", fx->parent, e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".log") != 0)
            fail_msg("a failed start left %s behind", path);
        if (strstr(err, path) == NULL)
            fail_msg("the error does not name the log %s: %s", path, err);
    }
    closedir(d);
    assert_int_equal(entries, 1);
}

/* Servers that cannot start: missing executables, initdb failing, a server that exits at
 * once. Each gives OVS_ERR_ENV, says why, names the log, leaves nothing running. */
static void test_unstartable(void **state)
{
    fixture *fx = *state;
    char err[1024] = "";

    /* An override that holds nothing: an error, not some other server. */
    setenv("OVERSELL_PG_BINDIR", "/nonexistent/oversell", 1);
    assert_int_equal(ovs_dbserver_start(OVS_DB_POSTGRESQL, fx->parent, &fx->db, err,
                                        sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->db);
    assert_non_null(strstr(err, "OVERSELL_PG_BINDIR"));
    assert_int_equal(ovs_dbserver_available(OVS_DB_POSTGRESQL, err, sizeof(err)), OVS_ERR_ENV);
    setenv("OVERSELL_MARIADB_BINDIR", "/nonexistent/oversell", 1);
    assert_int_equal(ovs_dbserver_start(OVS_DB_MARIADB, fx->parent, &fx->db, err,
                                        sizeof(err)), OVS_ERR_ENV);
    assert_non_null(strstr(err, "OVERSELL_MARIADB_BINDIR"));

    /* initdb fails: its own message, and the log. */
    if (geteuid() == 0 && getpwnam("postgres") == NULL)
        skip(); /* the fakes run as the server's user */
    make_fake_dir(fx);
    fake_exe(fx, "initdb", "echo 'initdb: error: the disk is on fire' >&2; exit 1");
    fake_exe(fx, "postgres", "exit 1");
    fake_exe(fx, "psql", "exit 1");
    setenv("OVERSELL_PG_BINDIR", fx->fake, 1);
    assert_int_equal(ovs_dbserver_start(OVS_DB_POSTGRESQL, fx->parent, &fx->db, err,
                                        sizeof(err)), OVS_ERR_ENV);
    assert_null(fx->db);
    if (strstr(err, "initdb") == NULL || strstr(err, "the disk is on fire") == NULL)
        fail_msg("err does not say that initdb failed and why: %s", err);
    only_log_left(fx, err);
}

/* A server that exits at once, after a data directory was made. */
static void test_server_exits(void **state)
{
    fixture *fx = *state;
    char err[1024] = "";

    if (geteuid() == 0 && getpwnam("mysql") == NULL)
        skip();
    make_fake_dir(fx);
    fake_exe(fx, "mariadb-install-db", "exit 0");
    fake_exe(fx, "mariadbd", "echo '[ERROR] Aborting: no storage engine today' >&2; exit 1");
    fake_exe(fx, "mariadb", "exit 1");
    setenv("OVERSELL_MARIADB_BINDIR", fx->fake, 1);
    assert_int_equal(ovs_dbserver_start(OVS_DB_MARIADB, fx->parent, &fx->db, err, sizeof(err)),
                     OVS_ERR_ENV);
    if (strstr(err, "exited with status 1") == NULL ||
        strstr(err, "no storage engine today") == NULL)
        fail_msg("err does not say that the server exited and why: %s", err);
    only_log_left(fx, err);
}

/* As root, a parent directory lets one server user's group through: a second kind under
 * the same parent is refused rather than locking the first one out. */
static void test_one_kind_per_parent(void **state)
{
    fixture *fx = *state;
    ovs_dbserver *other = NULL;
    char err[1024] = "";

    if (geteuid() != 0)
        skip();
    OVS_REQUIRE_DBSERVER(OVS_DB_POSTGRESQL);
    OVS_REQUIRE_DBSERVER(OVS_DB_MARIADB);
    start(fx, OVS_DB_POSTGRESQL);
    assert_int_equal(ovs_dbserver_start(OVS_DB_MARIADB, fx->parent, &other, err, sizeof(err)),
                     OVS_ERR_ENV);
    assert_null(other);
    assert_non_null(strstr(err, "already lets group"));
    /* The first one is untouched. */
    {
        char out[256];
        if (sql(fx->db, OVS_DB_POSTGRESQL, "SELECT 1", out, sizeof(out)) != 0)
            fail_msg("the first server stopped working: %s", out);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unstartable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgresql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mariadb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgresql_dies_with_harness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mariadb_dies_with_harness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_kind_per_parent, setup, teardown),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
