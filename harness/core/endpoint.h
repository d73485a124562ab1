/* endpoint.h - where a server is: what the fleet starts, the proxy fronts and a strategy
 * connects to. Always loopback for managed servers. */
#ifndef OVS_ENDPOINT_H
#define OVS_ENDPOINT_H

/* Redis masters one run can have, at most: the fleet starts no more, and a strategy that
 * talks to every node (Redlock) sizes its per-node arrays from it. */
#define OVS_MAX_NODES 16
/* Replicas one run can add on top of its masters, at most. */
#define OVS_MAX_REPLICAS 4

typedef struct ovs_endpoint {
    char host[64]; /* "127.0.0.1" */
    int port;      /* TCP port */
} ovs_endpoint;

#endif
