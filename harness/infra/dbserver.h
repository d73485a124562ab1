/* dbserver.h - managed PostgreSQL and MariaDB servers, the shop's SQL database when it is
 * not SQLite (SPEC section 2).
 *
 * Like the redis fleet (fleet.h), a server here is the harness's own: a fresh data
 * directory made for this run, listening on 127.0.0.1 only on a free port, a child that
 * dies with the harness even on SIGKILL, stopped and removed at the end. It never talks
 * to a system-wide server and never touches the system's data directories. A harness
 * starts one per invocation (startup is paid once: initdb or mariadb-install-db is the
 * bulk of it) and the shop makes a fresh database or schema per run inside it.
 *
 * What a started server offers, and nothing more:
 *  - TCP on 127.0.0.1:PORT, where only the role/user "oversell" may log in, with a random
 *    password made for this server (in the URL). PostgreSQL: the role has LOGIN and
 *    CREATEDB and owns the database "oversell". MariaDB: 'oversell'@'127.0.0.1' (and
 *    @'localhost') has ALL on `oversell`.* and on `oversell\_%`.*, so it can create and
 *    drop the databases oversell_<anything> of its runs.
 *  - A Unix socket inside the server's own 0700 directory, for its superuser: the system
 *    user the server runs as, authenticated by the kernel (peer / unix_socket), no
 *    password at all. The harness uses it once, to create the role and the database.
 *  - Durability for a process crash, not for a machine crash: commits reach the kernel
 *    before they are acknowledged, so ovs_dbserver_kill loses nothing committed, but
 *    nothing is fsynced (PostgreSQL fsync=off, MariaDB innodb_flush_log_at_trx_commit=2).
 *
 * Running as root (as CI does), the server runs as the system user its package made
 * ("postgres", "mysql"): PostgreSQL refuses to run as root, and a test database has no
 * business with root's rights. That user must reach its directory inside parent_dir, so
 * parent_dir's group becomes that user's group with mode 0710: the group may pass
 * through, not list, and every other entry in parent_dir stays 0700 or 0600 to it. The
 * stale-directory sweep (tmpdir.h) accepts 0710. So one parent_dir serves the servers of
 * one kind only; a second kind needs another parent. Not root, the server runs as us.
 *
 * Executables, PostgreSQL: $OVERSELL_PG_BINDIR (initdb, postgres and psql there), else the
 * newest /usr/lib/postgresql/<version>/bin, else the directory of `postgres` on $PATH.
 * MariaDB: $OVERSELL_MARIADB_BINDIR (mariadbd, mariadb-install-db and mariadb there), else
 * each on $PATH, else /usr/sbin or /usr/bin. An override that does not hold them is an
 * error, never a reason to run another server.
 *
 * Files, under parent_dir: KIND.XXXXXX/ (the server's own directory, owned by the server
 * user, 0700: data/, the socket, the pid file, pg_hba.conf) and KIND.XXXXXX.log (owned by
 * us, 0600: everything initdb, the server and the set-up client wrote). A failed start
 * removes the directory and keeps the log, which err names.
 *
 * Threads: the server dies with the thread that forked it (PR_SET_PDEATHSIG), so start,
 * kill and restart must be called from one thread that lives as long as the server: the
 * main thread. A server has no lock: no two calls on one server may run at once. */
#ifndef OVS_DBSERVER_H
#define OVS_DBSERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "core/util.h" /* OVS_ERR_ENV: the machine cannot run the server */

enum ovs_db_kind { OVS_DB_POSTGRESQL, OVS_DB_MARIADB };

typedef struct ovs_dbserver ovs_dbserver;

/* The database, role/user and TCP host every managed server has. */
#define OVS_DBSERVER_DATABASE "oversell"
#define OVS_DBSERVER_USER "oversell"

/* Whether this machine has kind's executables (see above), without starting anything:
 * OVS_OK, or OVS_ERR_ENV with what is missing in err. For skipping with a reason. */
int ovs_dbserver_available(enum ovs_db_kind kind, char *err, size_t errlen);

/* Start a private server of kind under parent_dir (the harness's private temporary
 * directory, tmpdir.h): initdb / mariadb-install-db into a fresh data directory, start the
 * server on a free port on 127.0.0.1, wait (bounded) until it accepts connections, and
 * create the database and the role described above. The server is in the child registry
 * (child.h), so ovs_child_kill_all takes it down.
 *
 * Returns OVS_OK with *out set; OVS_ERR for bad arguments; OVS_ERR_ENV when this machine
 * cannot run it: an executable missing, no such system user, initdb failed, the server
 * exited or did not come up in time, the set-up client failed. err then says which, with
 * the path of the log. Nothing is left running and *out is NULL. */
int ovs_dbserver_start(enum ovs_db_kind kind, const char *parent_dir, ovs_dbserver **out,
                       char *err, size_t errlen);

/* "postgresql://oversell:PASS@127.0.0.1:PORT/oversell" or
 * "mysql://oversell:PASS@127.0.0.1:PORT/oversell". PASS is 32 hexadecimal digits, so the
 * URL needs no escaping. Valid until ovs_dbserver_stop; the same after a restart. */
const char *ovs_dbserver_url(const ovs_dbserver *s);
/* The TCP port on 127.0.0.1; kept across kill and restart. */
int ovs_dbserver_port(const ovs_dbserver *s);
/* The server's pid (PostgreSQL: the postmaster), or -1 while it is killed. */
pid_t ovs_dbserver_pid(const ovs_dbserver *s);
/* The log file (see above). */
const char *ovs_dbserver_log(const ovs_dbserver *s);
/* The server's own directory, which holds its data directory; "" on NULL. */
const char *ovs_dbserver_dir(const ovs_dbserver *s);
/* "postgresql" or "mariadb". */
const char *ovs_dbserver_kind_name(enum ovs_db_kind kind);

/* Stop cleanly (PostgreSQL: SIGINT, its fast shutdown; MariaDB: SIGTERM), wait (bounded,
 * 10 s), then SIGKILL its process group; reap it, and remove its directory and its log.
 * Accepts NULL and a killed server. */
void ovs_dbserver_stop(ovs_dbserver *s);

/* Fault hooks. kill: SIGKILL the server's whole process group (PostgreSQL's backends
 * too, whose shared memory would keep a restart out) and wait until none of it is left.
 * Directory, port and URL are kept. restart: start it again on the same data directory
 * and port, after a kill first if it is running; it recovers from its write-ahead log and
 * the call returns once it accepts connections again (bounded, 60 s). A restart whose
 * port was taken meanwhile fails and the server stays down. Both return OVS_OK, OVS_ERR
 * (wrong thread, NULL), or OVS_ERR_ENV with the log in err. */
int ovs_dbserver_kill(ovs_dbserver *s, char *err, size_t errlen);
int ovs_dbserver_restart(ovs_dbserver *s, char *err, size_t errlen);

#endif
