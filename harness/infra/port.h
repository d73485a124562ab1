/* port.h - free TCP ports on loopback for the servers the harness starts.
 *
 * Every managed server (redis-server in fleet.c, PostgreSQL and MariaDB in dbserver.c)
 * listens on 127.0.0.1 only, on a port found here. One helper, so that "loopback, and how
 * a free port is found" is written once. */
#ifndef OVS_PORT_H
#define OVS_PORT_H

#include <stddef.h>

/* The only address a managed server listens on. */
#define OVS_LOOPBACK_HOST "127.0.0.1"

/* A port on OVS_LOOPBACK_HOST that was free a moment ago: the kernel's pick for a bind to
 * port 0, and the socket closed again. A good guess, not a reservation: someone else may
 * take the port before our server binds it, so a caller must detect a server that failed
 * to listen (its log says "Address already in use") and start it again on a fresh port.
 * Returns 0 with *port set, or OVS_ERR_ENV with a reason in err. */
int ovs_port_free(int *port, char *err, size_t errlen);

#endif
