/* proxy.h - a TCP proxy inside the harness, on the Toxiproxy model.
 *
 * One proxy per upstream: it listens on a free 127.0.0.1 port and forwards every
 * connection it accepts to the upstream. Faults are properties of the proxy: latency with
 * jitter (per direction, order-preserving), a stall that holds bytes until the link heals,
 * and a cut that discards whatever is sent while it lasts. It is how a real replica is put
 * behind a real replication delay, and how one client is cut off from chosen nodes while
 * the others still reach them. Each proxy runs one thread with poll(). */
#ifndef OVS_PROXY_H
#define OVS_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "core/endpoint.h"

typedef struct ovs_proxy ovs_proxy;

enum ovs_proxy_mode {
    OVS_PROXY_PASS,  /* forward (after the configured latency) */
    OVS_PROXY_STALL, /* accept and hold bytes; deliver them, in order, when set back to PASS */
    OVS_PROXY_CUT,   /* discard everything read in either direction while cut; connections
                        stay open, so a client sees silence (its timeout), not a reset */
};

/* Which way latency applies. The upstream is the server side. */
enum ovs_proxy_dir {
    OVS_PROXY_UP = 1,   /* client -> upstream */
    OVS_PROXY_DOWN = 2, /* upstream -> client */
    OVS_PROXY_BOTH = 3,
};

/* Start a proxy to upstream on a free loopback port. Returns 0 or -1 with err. */
int ovs_proxy_start(const ovs_endpoint *upstream, ovs_proxy **out, char *err, size_t errlen);
/* Where clients connect. */
const ovs_endpoint *ovs_proxy_endpoint(const ovs_proxy *p);
/* Delay every chunk by latency +/- jitter (uniform, from seed), in the given directions.
 * Chunks are never reordered: a chunk is due no earlier than the one before it. */
void ovs_proxy_set_latency(ovs_proxy *p, int dirs, int64_t latency_ns, int64_t jitter_ns,
                           uint64_t seed);
void ovs_proxy_set_mode(ovs_proxy *p, enum ovs_proxy_mode mode);
/* New connections go to upstream; open ones are closed (their clients reconnect), as when
 * a virtual IP or a Sentinel-aware client moves to a promoted replica. */
void ovs_proxy_retarget(ovs_proxy *p, const ovs_endpoint *upstream);
/* Bytes forwarded so far in each direction. Only the tests read them, to see what a link
 * let through; the harness itself does not. */
void ovs_proxy_counters(ovs_proxy *p, uint64_t *up, uint64_t *down);
/* Stop the thread, close every socket, free. Accepts NULL. */
void ovs_proxy_stop(ovs_proxy *p);

#endif
