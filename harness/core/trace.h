/* trace.h - per-thread event buffers: the history of a run, as Jepsen records it.
 *
 * Each client thread appends to its own buffer with no locking on the hot path; the
 * recorder writes every buffer to the results database in one transaction when the run
 * ends, so recording never contends with the operations it measures. Times are absolute
 * CLOCK_MONOTONIC nanoseconds; the recorder stores them relative to the run's t0. */
#ifndef OVS_TRACE_H
#define OVS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/request.h"

enum ovs_op {
    OVS_OP_REQUEST,   /* one whole request, arrival to answer: latency comes from these */
    OVS_OP_ACQUIRE,   /* xLock, all retries included */
    OVS_OP_CHECK,     /* the shop's check (stock > 0, no overlapping booking) */
    OVS_OP_ACT,       /* the shop's write (decrement + order, insert booking) */
    OVS_OP_CRITICAL,  /* from lock acquired to release called: mutual exclusion is
                         checked over these intervals, per key */
    OVS_OP_RELEASE,   /* xUnlock */
    OVS_OP_EXECUTE,   /* xExecute of a non-lock strategy */
    OVS_OP_WRITEBACK, /* the write-back worker applying one queued order to SQL */
    OVS_OP_NODE,      /* a strategy's own per-node step (Redlock) */
    OVS_OP_FAULT,     /* a fault the harness did to a server or a link (client -1) */
    OVS_OP_ANSWER,    /* the shop's screen before a request (xAvailable), with the truth
                         in SQL around it in its detail (core/answer.h) */
    OVS_OP__COUNT
};

enum ovs_outcome {
    OVS_OUT_OK,      /* it happened */
    OVS_OUT_FAIL,    /* it certainly did not happen */
    OVS_OUT_UNKNOWN, /* timeout or lost connection: it may have happened */
};

typedef struct ovs_event {
    int64_t start_ns; /* absolute monotonic */
    int64_t end_ns;
    int32_t client;   /* client or buyer index; -1 for harness workers */
    uint8_t op;       /* enum ovs_op */
    uint8_t outcome;  /* enum ovs_outcome */
    char key[OVS_KEY_MAX]; /* the resource: "sku:1", "hotel:1:night:2026-01-20" */
    char detail[64];  /* short free text: "attempts=3", "stock=0", an error */
} ovs_event;

typedef struct ovs_trace {
    ovs_event *ev; /* events in append order */
    size_t n;      /* used */
    size_t cap;    /* allocated */
    int oom;       /* set when an append failed for memory: the run is then an error */
} ovs_trace;

/* Append one event; key and detail may be NULL and are truncated to fit. Never fails
 * loudly: on allocation failure sets t->oom and drops the event. */
void ovs_trace_add(ovs_trace *t, int client, enum ovs_op op, const char *key,
                   int64_t start_ns, int64_t end_ns, enum ovs_outcome outcome,
                   const char *detail);
/* Pre-size for n events. Returns 0 or -1. */
int ovs_trace_reserve(ovs_trace *t, size_t n);
void ovs_trace_free(ovs_trace *t);

/* The word an acquire's or a release's detail starts with when the request already held
 * the key and took it again (a scenario's `reenter`): "nested attempts=1", "nested: not
 * owner". The runner writes it and explain reads it back; the critical section is the
 * outer hold's alone. */
#define OVS_NESTED "nested"

/* The one definition of "two holders at once", used by the checker, `explain` and the
 * HTML timeline alike: critical sections are half-open intervals [start, end), and two of
 * them overlap when each starts before the other ends and they belong to different
 * clients. An empty section (end <= start) overlaps nothing, so [a,b) and [b,c) do not
 * overlap; a client never overlaps itself (it holds one key once, or nested inside its
 * own hold; sequential sections of one client are not a second holder). */
static inline int ovs_holds_overlap(int64_t a_start, int64_t a_end, int32_t a_client,
                                    int64_t b_start, int64_t b_end, int32_t b_client)
{
    return a_client != b_client && a_start < a_end && b_start < b_end && a_start < b_end &&
           b_start < a_end;
}

/* The op's name as the results database stores it: "request", "acquire", ... */
/* The first event of trace t from index i on of op for client, or NULL. A client's
 * events are in its own thread's trace, in the order it recorded them. */
const ovs_event *ovs_trace_next(const ovs_trace *t, size_t i, enum ovs_op op, int32_t client);
const char *ovs_op_name(enum ovs_op op);
/* The op of a stored name, or OVS_OP__COUNT for one no op has (NULL included): the one
 * table of names serves the recorder and the reports that read what it wrote. */
enum ovs_op ovs_op_parse(const char *name);
/* "ok", "fail", "unknown", as the results database stores them. */
const char *ovs_outcome_name(enum ovs_outcome o);
/* The outcome of a stored name; OVS_OUT_UNKNOWN for NULL or a name no outcome has, since
 * an outcome nobody can read is not one anybody can count on. */
enum ovs_outcome ovs_outcome_parse(const char *name);

#endif
