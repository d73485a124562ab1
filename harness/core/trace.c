/* trace.c - per-thread event buffers. */
#include "core/trace.h"

#include <stdlib.h>
#include <string.h>

int ovs_trace_reserve(ovs_trace *t, size_t n)
{
    ovs_event *ev;

    if (n <= t->cap)
        return 0;
    ev = realloc(t->ev, n * sizeof(*ev));
    if (ev == NULL)
        return -1;
    t->ev = ev;
    t->cap = n;
    return 0;
}

static void copy_field(char *dst, size_t len, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void ovs_trace_add(ovs_trace *t, int client, enum ovs_op op, const char *key,
                   int64_t start_ns, int64_t end_ns, enum ovs_outcome outcome,
                   const char *detail)
{
    ovs_event *e;

    if (t->n == t->cap && ovs_trace_reserve(t, t->cap ? t->cap * 2 : 64) != 0) {
        t->oom = 1;
        return;
    }
    e = &t->ev[t->n++];
    e->start_ns = start_ns;
    e->end_ns = end_ns;
    e->client = client;
    e->op = (uint8_t)op;
    e->outcome = (uint8_t)outcome;
    copy_field(e->key, sizeof(e->key), key);
    copy_field(e->detail, sizeof(e->detail), detail);
}

void ovs_trace_free(ovs_trace *t)
{
    if (t == NULL)
        return;
    free(t->ev);
    t->ev = NULL;
    t->n = t->cap = 0;
}

static const char *const op_names[OVS_OP__COUNT] = {
    [OVS_OP_REQUEST] = "request",   [OVS_OP_ACQUIRE] = "acquire",
    [OVS_OP_CHECK] = "check",       [OVS_OP_ACT] = "act",
    [OVS_OP_CRITICAL] = "critical", [OVS_OP_RELEASE] = "release",
    [OVS_OP_EXECUTE] = "execute",   [OVS_OP_WRITEBACK] = "writeback",
    [OVS_OP_NODE] = "node",         [OVS_OP_FAULT] = "fault",
    [OVS_OP_ANSWER] = "answer",
};

const ovs_event *ovs_trace_next(const ovs_trace *t, size_t i, enum ovs_op op, int32_t client)
{
    for (; i < t->n; i++)
        if (t->ev[i].op == op && t->ev[i].client == client)
            return &t->ev[i];
    return NULL;
}

const char *ovs_op_name(enum ovs_op op)
{
    return (unsigned)op < OVS_OP__COUNT ? op_names[op] : "?";
}

enum ovs_op ovs_op_parse(const char *name)
{
    int op = 0;

    while (name != NULL && op < OVS_OP__COUNT && strcmp(name, op_names[op]) != 0)
        op++;
    return name != NULL ? (enum ovs_op)op : OVS_OP__COUNT;
}

static const char *const outcome_names[] = {
    [OVS_OUT_OK] = "ok", [OVS_OUT_FAIL] = "fail", [OVS_OUT_UNKNOWN] = "unknown",
};

const char *ovs_outcome_name(enum ovs_outcome o)
{
    return (unsigned)o <= OVS_OUT_UNKNOWN ? outcome_names[o] : "unknown";
}

enum ovs_outcome ovs_outcome_parse(const char *name)
{
    for (int o = OVS_OUT_OK; name != NULL && o < OVS_OUT_UNKNOWN; o++)
        if (strcmp(name, outcome_names[o]) == 0)
            return (enum ovs_outcome)o;
    return OVS_OUT_UNKNOWN;
}
