/* dbserver_kind.h - a managed database server's insides, and the methods each kind
 * (dbserver_pg.c, dbserver_mariadb.c) fills in. Private to harness/infra/dbserver*.c; the
 * interface is dbserver.h.
 *
 * dbserver.c owns what every kind shares: the directories and who may enter them, the
 * user the server runs as, ports, running a tool or the server as a child, waiting,
 * stopping, the fault hooks. A kind says which executables, how to make a data
 * directory, the server's command line, when it is ready, and how to create the role and
 * the database. */
#ifndef OVS_DBSERVER_KIND_H
#define OVS_DBSERVER_KIND_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util.h"
#include "infra/dbserver.h"

#define DBS_ARGV_MAX 40
#define DBS_ARGV_BYTES 8192   /* a command line's text: a few paths and options */
#define DBS_ENV_MAX 8
#define DBS_PASSWORD_BYTES 16 /* random bytes; the password is their hex */
#define DBS_TOOL_NS (120 * OVS_NS_PER_S) /* initdb, install-db, a client: on 2 busy cores
                                            initdb takes 1 s, this is for a slow disk */

/* A command line being built: argv pointing into buf. */
typedef struct dbs_argv {
    const char *v[DBS_ARGV_MAX + 1]; /* NULL-terminated */
    int n;
    char buf[DBS_ARGV_BYTES];
    size_t used;
    int overflow;                    /* 1 when something did not fit: do not run it */
} dbs_argv;

typedef struct dbserver_kind dbserver_kind;

struct ovs_dbserver {
    const dbserver_kind *kind;
    pthread_t owner;                  /* the only thread that may fork it (PDEATHSIG) */
    pid_t pid;                        /* the server, our unreaped child, or -1 */
    int slot;                         /* its registry slot, or -1 */
    int port;                         /* on 127.0.0.1, kept across kill and restart */
    uid_t uid;                        /* who runs the server and its tools, or (uid_t)-1
                                         for us (we are not root) */
    gid_t gid;                        /* that user's group */
    char user[64];                    /* that user's name (ours when not root): the
                                         server's superuser, reached by peer auth */
    char dir[PATH_MAX];               /* PARENT/KIND.XXXXXX, the server user's, 0700 */
    char data[PATH_MAX];              /* dir/data */
    char log[PATH_MAX];               /* dir + ".log": ours, 0600 */
    char server[PATH_MAX];            /* executables, found by the kind */
    char init[PATH_MAX];
    char client[PATH_MAX];
    char password[2 * DBS_PASSWORD_BYTES + 1]; /* the oversell role's */
    char url[192];
    char *env[DBS_ENV_MAX + 1];       /* the whole environment of every child */
    char envbuf[2 * PATH_MAX + 128];
};

struct dbserver_kind {
    const char *name;        /* "postgresql": messages, directory and log names */
    const char *scheme;      /* of the URL: "postgresql", "mysql" */
    const char *system_user; /* who runs it when we are root */
    int stop_signal;         /* the clean and prompt shutdown */
    /* Fill s->server, s->init and s->client; OVS_ERR_ENV when one is missing. */
    int (*find)(ovs_dbserver *s, char *err, size_t errlen);
    /* Make s->data, an initialised data directory, and any file the server reads. */
    int (*init)(ovs_dbserver *s, char *err, size_t errlen);
    /* The server's command line (argv[0] is s->server), from s's state. */
    void (*server_argv)(const ovs_dbserver *s, dbs_argv *a);
    /* 1 when the server s->pid accepts connections; never blocks. */
    int (*ready)(const ovs_dbserver *s);
    /* Create the role and the database (dbserver.h) over the superuser's socket. */
    int (*bootstrap)(ovs_dbserver *s, char *err, size_t errlen);
};

extern const dbserver_kind ovs_dbserver_kind_postgresql;
extern const dbserver_kind ovs_dbserver_kind_mariadb;

/* Command lines. */
void dbs_argv_init(dbs_argv *a);
void dbs_argv_add(dbs_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Find executable name: in dir when dir is not NULL (an override: only there), else on
 * $PATH, else in each of the NULL-terminated fallback directories. 0 and the path in out,
 * or -1. */
int dbs_find(const char *dir, const char *name, const char *const *fallback, char *out,
             size_t len);

/* Run a tool (a.v[0]) as the server's user, in s->dir, with s->env, stdin the text input
 * (NULL: /dev/null), stdout and stderr appended to the log; wait at most timeout_ns.
 * OVS_OK when it exits 0; OVS_ERR_ENV otherwise, err saying what (the line of the log
 * that tells why) and where the log is. */
int dbs_run(ovs_dbserver *s, const char *what, const dbs_argv *a, const char *input,
            int64_t timeout_ns, char *err, size_t errlen);

/* Write a file the server reads (mode 0600, the server user's). */
int dbs_write_file(const ovs_dbserver *s, const char *path, const char *text, char *err,
                   size_t errlen);

#endif
