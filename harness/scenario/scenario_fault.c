/* scenario_fault.c - the [fault NAME] sections of a scenario file (scenarios/README.md).
 *
 * Split from scenario.c, which reads the file and hands each fault section's values here
 * once the clients and the [redis] topology are known: a fault names clients (`after`,
 * link targets) and node numbers that only mean something against them. Stateless: the
 * reason goes into the caller's buffer, with the key it is about, and the caller adds the
 * file and the line. */
#include "scenario/scenario.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/endpoint.h"
#include "core/trace.h"
#include "core/util.h"

/* Node numbers a target may name when [redis] does not say how many masters there are:
 * the most the parser lets [redis] nodes ask for. */
#define MAX_NODES OVS_MAX_NODES

static const struct {
    const char *name;
    enum ovs_fault_action action;
} actions[] = {
    { "kill", OVS_FAULT_KILL },       { "restart", OVS_FAULT_RESTART },
    { "kill-restart", OVS_FAULT_KILL_RESTART },
    { "pause", OVS_FAULT_PAUSE },     { "resume", OVS_FAULT_RESUME },
    { "promote", OVS_FAULT_PROMOTE }, { "cut", OVS_FAULT_CUT },
    { "heal", OVS_FAULT_HEAL },       { "snapshot", OVS_FAULT_SNAPSHOT },
    { "crash", OVS_FAULT_CRASH },     { "clock-jump", OVS_FAULT_CLOCK_JUMP },
};
#define ACTION_NAMES                                                                         \
    "kill, restart, kill-restart, pause, resume, promote, cut, heal, snapshot, crash or "    \
    "clock-jump"

static const struct {
    const char *name;
    enum ovs_op op;
} steps[] = {
    { "acquire", OVS_OP_ACQUIRE },
    { "check", OVS_OP_CHECK },
    { "act", OVS_OP_ACT },
    { "release", OVS_OP_RELEASE },
};

static const struct {
    const char *name;
    enum ovs_recovery recovery;
} recoveries[] = {
    { "none", OVS_RECOVER_NONE },
    { "rewarm-from-sql", OVS_RECOVER_REWARM },
    { "reconcile", OVS_RECOVER_RECONCILE },
};

const char *ovs_fault_action_name(enum ovs_fault_action a)
{
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (actions[i].action == a)
            return actions[i].name;
    return "?";
}

/* A node or replica number: plain digits only, so "node:+1" and "node: 1" are refused
 * rather than read as 1. Returns -1 when malformed. */
static int parse_index(const char *s)
{
    long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > 1000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return (int)v;
}

/* The timeline client called name, or -1 with a reason in err. `what` is the key. */
static int find_client(const ovs_scenario *sc, const char *what, const char *name, char *err,
                       size_t errlen)
{
    char known[256];
    size_t used = 0;

    if (sc->n_clients == 0) {
        ovs_seterr(err, errlen,
                   "%s: '%.40s' names a client, but this scenario has no [client NAME] "
                   "sections (a [crowd] has no named clients)",
                   what, name);
        return -1;
    }
    for (int i = 0; i < sc->n_clients; i++)
        if (strcmp(sc->clients[i].name, name) == 0)
            return i;
    known[0] = '\0';
    for (int i = 0; i < sc->n_clients && used < sizeof(known); i++)
        used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                 sc->clients[i].name);
    ovs_seterr(err, errlen, "%s: no [client %.40s] in this scenario (clients: %s)", what, name,
               known);
    return -1;
}

/* N of node:N (or of a link's node): below [redis] nodes when the file gives it, else
 * below the most [redis] could give. */
static int check_node(const ovs_scenario *sc, int n, const char *text, char *err,
                      size_t errlen)
{
    if (sc->redis.nodes > 0 && n >= sc->redis.nodes) {
        ovs_seterr(err, errlen,
                   "target: '%.60s' names node %d, but [redis] has nodes = %d (numbered "
                   "from 0)",
                   text, n, sc->redis.nodes);
        return -1;
    }
    if (n >= MAX_NODES) {
        ovs_seterr(err, errlen, "target: '%.60s' names node %d, but nodes are 0 to %d", text,
                   n, MAX_NODES - 1);
        return -1;
    }
    return 0;
}

#define TARGET_FORMS "node:N, replica:N, link:CLIENT:node:N or client:NAME"

/* node:N | replica:N | link:CLIENT:node:N | client:NAME */
static int parse_target(const ovs_scenario *sc, const char *text, ovs_fault *f, char *err,
                        size_t errlen)
{
    char buf[128], *client, *node;
    int n;

    if (strncmp(text, "node:", 5) == 0) {
        if ((n = parse_index(text + 5)) < 0)
            goto malformed;
        f->target = OVS_TARGET_NODE;
        f->target_node = n;
        return check_node(sc, n, text, err, errlen);
    }
    if (strncmp(text, "replica:", 8) == 0) {
        if ((n = parse_index(text + 8)) < 0)
            goto malformed;
        if (n >= sc->redis.replicas) {
            if (sc->redis.replicas == 0)
                ovs_seterr(err, errlen,
                           "target: '%.60s' names replica %d, but [redis] has no replicas "
                           "(set replicas = N)",
                           text, n);
            else
                ovs_seterr(err, errlen,
                           "target: '%.60s' names replica %d, but [redis] has replicas = %d "
                           "(numbered from 0)",
                           text, n, sc->redis.replicas);
            return -1;
        }
        f->target = OVS_TARGET_REPLICA;
        f->target_node = n;
        return 0;
    }
    if (strncmp(text, "client:", 7) == 0) {
        if (text[7] == '\0')
            goto malformed;
        if ((f->target_client = find_client(sc, "target", text + 7, err, errlen)) < 0)
            return -1;
        f->target = OVS_TARGET_CLIENT;
        return 0;
    }
    if (strncmp(text, "link:", 5) != 0 || strlen(text) >= sizeof(buf))
        goto malformed;
    snprintf(buf, sizeof(buf), "%s", text + 5);
    client = buf;
    node = strchr(buf, ':');
    if (node == NULL || node == client || strncmp(node, ":node:", 6) != 0 ||
        (n = parse_index(node + 6)) < 0)
        goto malformed;
    *node = '\0';
    if ((f->target_client = find_client(sc, "target", client, err, errlen)) < 0)
        return -1;
    f->target = OVS_TARGET_LINK;
    f->target_node = n;
    return check_node(sc, n, text, err, errlen);

malformed:
    ovs_seterr(err, errlen,
               "target: '%.60s' is not " TARGET_FORMS " (like node:0, link:alice:node:1 or "
               "client:alice)",
               text);
    return -1;
}

int ovs_client_step_parse(const ovs_scenario *sc, const char *key, const char *text,
                          int *client, int *step_op, char *err, size_t errlen)
{
    char buf[128];
    const char *step = strchr(text, ':');

    if (step == NULL || step == text || step[1] == '\0' || strlen(text) >= sizeof(buf)) {
        ovs_seterr(err, errlen,
                   "%s: '%.60s' is not CLIENT:STEP (like alice:check; STEP is acquire, "
                   "check, act or release)",
                   key, text);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%.*s", (int)(step - text), text);
    step++;
    *step_op = -1;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (strcmp(step, steps[i].name) == 0)
            *step_op = (int)steps[i].op;
    if (*step_op < 0) {
        ovs_seterr(err, errlen,
                   "%s: '%.40s' in '%.60s' is not a step (acquire, check, act or release)",
                   key, step, text);
        return -1;
    }
    if ((*client = find_client(sc, key, buf, err, errlen)) < 0)
        return -1;
    return 0;
}

/* `after = crowd:N`: the crowd's N-th success, which a time cannot stand for - "at 200 ms,
 * with about 200 units sold" is not so on a machine that stalled the sale for 150 ms, and
 * a master killed then loses no write its replica had not seen. */
static int parse_crowd_after(const ovs_scenario *sc, const char *text, int *n, char *err,
                             size_t errlen)
{
    long long v;

    if (!sc->has_crowd) {
        ovs_seterr(err, errlen,
                   "after: '%.60s' waits for the crowd's successes, but this scenario has no "
                   "[crowd] (a timeline's faults go after = CLIENT:STEP)",
                   text);
        return -1;
    }
    /* Above the stock, it would fire only for a strategy that oversells. */
    int by_stock = sc->workload == OVS_INVENTORY && sc->stock < sc->crowd.buyers;
    int most = by_stock ? sc->stock : sc->crowd.buyers;
    if (most < 1) {
        ovs_seterr(err, errlen,
                   "after: '%.60s' waits for a sale, and with stock = 0 there is none to make",
                   text);
        return -1;
    }
    if (ovs_parse_int(text + 6, 1, most, &v) != 0) {
        ovs_seterr(err, errlen,
                   "after: '%.60s' is not crowd:N with N from 1 to %d (the crowd's requests "
                   "that succeeded: %s)",
                   text, most, by_stock ? "at most the stock" : "at most one per buyer");
        return -1;
    }
    *n = (int)v;
    return 0;
}

static int parse_duration(const char *key, const char *text, int64_t *ns, char *err,
                          size_t errlen)
{
    if (ovs_parse_duration(text, ns) != 0) {
        ovs_seterr(err, errlen, "%s: '%.60s' is not a duration (like 150ms or 2s)", key, text);
        return -1;
    }
    if (*ns > OVS_MAX_DURATION_NS) {
        ovs_seterr(err, errlen, "%s: '%.60s' is longer than an hour", key, text);
        return -1;
    }
    return 0;
}

/* `by`: a duration with an optional sign, "30s", "+30s" or "-2s"; never 0, which would
 * be a fault that changes nothing and still reports that it fired. */
static int parse_jump(const char *text, int64_t *ns, char *err, size_t errlen)
{
    int neg = text[0] == '-';
    const char *abs = text[0] == '-' || text[0] == '+' ? text + 1 : text;

    if (parse_duration("by", abs, ns, err, errlen) != 0) {
        if (ovs_parse_duration(abs, ns) != 0)
            ovs_seterr(err, errlen,
                       "by: '%.60s' is not a duration with an optional sign (like 30s or -2s)",
                       text);
        return -1;
    }
    if (*ns == 0) {
        ovs_seterr(err, errlen, "by: '%.60s' moves the clock by nothing; say how far (like "
                                "30s, or -2s for back)", text);
        return -1;
    }
    if (neg)
        *ns = -*ns;
    return 0;
}

/* The kind of target an action takes, as a phrase for messages; NULL when t fits. */
static const char *target_mismatch(enum ovs_fault_action a, enum ovs_target_kind t)
{
    switch (a) {
    case OVS_FAULT_CRASH:
        return t == OVS_TARGET_CLIENT ? NULL : "a client (client:NAME)";
    case OVS_FAULT_PROMOTE:
        return t == OVS_TARGET_REPLICA ? NULL : "a replica (replica:N)";
    case OVS_FAULT_CUT:
    case OVS_FAULT_HEAL:
        return t == OVS_TARGET_LINK ? NULL : "a link (link:CLIENT:node:N)";
    case OVS_FAULT_CLOCK_JUMP:
        /* The shim is preloaded into the masters the fleet starts; a replica is started
         * later, by the topology, and follows its master's keys, not its own clock. */
        return t == OVS_TARGET_NODE ? NULL : "a node (node:N)";
    case OVS_FAULT_KILL:
    case OVS_FAULT_RESTART:
    case OVS_FAULT_KILL_RESTART:
    case OVS_FAULT_PAUSE:
    case OVS_FAULT_RESUME:
    case OVS_FAULT_SNAPSHOT:
        break;
    }
    return t == OVS_TARGET_LINK || t == OVS_TARGET_CLIENT
               ? "a node or a replica (node:N or replica:N)"
               : NULL;
}

/* Each value on its own first, then the keys a fault cannot do without, then how the keys
 * fit together: the same order as the rest of the file's checks. */
int ovs_fault_parse(const ovs_scenario *sc, const char *name, const ovs_fault_text *t,
                    ovs_fault *f, const char **key, char *err, size_t errlen)
{
    const char *bad;

    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->at_ns = -1;
    f->after_client = -1;
    f->after_step = -1;
    f->target_client = -1;
    f->recovery = OVS_RECOVER_NONE;

    if (t->action) {
        size_t i = 0;
        while (i < sizeof(actions) / sizeof(actions[0]) && strcmp(t->action, actions[i].name))
            i++;
        if (i == sizeof(actions) / sizeof(actions[0])) {
            *key = "action";
            ovs_seterr(err, errlen, "action: '%.60s' is not %s", t->action, ACTION_NAMES);
            return -1;
        }
        f->action = actions[i].action;
    }
    if (t->target && parse_target(sc, t->target, f, err, errlen) != 0) {
        *key = "target";
        return -1;
    }
    if (t->at && t->after) {
        *key = "after";
        ovs_seterr(err, errlen, "after: [fault %s] already has at; give at or after, not both",
                   name);
        return -1;
    }
    if (t->at && parse_duration("at", t->at, &f->at_ns, err, errlen) != 0) {
        *key = "at";
        return -1;
    }
    /* A [client crowd] keeps its steps: crowd:check is a client's point. */
    if (t->after && strncmp(t->after, "crowd:", 6) == 0 &&
        (sc->has_crowd || strspn(t->after + 6, "0123456789") == strlen(t->after + 6))) {
        if (parse_crowd_after(sc, t->after, &f->after_crowd, err, errlen) != 0) {
            *key = "after";
            return -1;
        }
    } else if (t->after && ovs_client_step_parse(sc, "after", t->after, &f->after_client,
                                                 &f->after_step, err, errlen) != 0) {
        *key = "after";
        return -1;
    }
    if (t->duration && parse_duration("duration", t->duration, &f->duration_ns, err, errlen)) {
        *key = "duration";
        return -1;
    }
    if (t->by && parse_jump(t->by, &f->by_ns, err, errlen) != 0) {
        *key = "by";
        return -1;
    }
    if (t->recovery) {
        size_t i = 0;
        while (i < sizeof(recoveries) / sizeof(recoveries[0]) &&
               strcmp(t->recovery, recoveries[i].name))
            i++;
        if (i == sizeof(recoveries) / sizeof(recoveries[0])) {
            *key = "recovery";
            ovs_seterr(err, errlen,
                       "recovery: '%.60s' is not none, rewarm-from-sql or reconcile",
                       t->recovery);
            return -1;
        }
        f->recovery = recoveries[i].recovery;
    }

    *key = NULL;
    if (t->action == NULL) {
        ovs_seterr(err, errlen, "[fault %s] has no action (%s)", name, ACTION_NAMES);
        return -1;
    }
    if (t->target == NULL) {
        ovs_seterr(err, errlen, "[fault %s] has no target (" TARGET_FORMS ")", name);
        return -1;
    }
    if (t->at == NULL && t->after == NULL) {
        ovs_seterr(err, errlen,
                   "[fault %s] has no at or after: say when it happens (at = 200ms, after "
                   "= CLIENT:STEP, or after = crowd:N)",
                   name);
        return -1;
    }

    if (f->action == OVS_FAULT_CLOCK_JUMP && t->by == NULL) {
        ovs_seterr(err, errlen,
                   "[fault %s] has action = clock-jump but no by: say how far the clock "
                   "moves (by = 30s, or by = -2s for back)",
                   name);
        return -1;
    }
    if ((bad = target_mismatch(f->action, f->target)) != NULL) {
        *key = "target";
        ovs_seterr(err, errlen, "target: action = %s acts on %s, not '%.60s'",
                   ovs_fault_action_name(f->action), bad, t->target);
        return -1;
    }
    if (t->duration && f->action == OVS_FAULT_CRASH) {
        *key = "duration";
        ovs_seterr(err, errlen,
                   "duration: a crash is for good (the client never comes back); leave "
                   "duration out");
        return -1;
    }
    if (t->duration && f->action != OVS_FAULT_KILL_RESTART && f->action != OVS_FAULT_PAUSE &&
        f->action != OVS_FAULT_CUT) {
        *key = "duration";
        ovs_seterr(err, errlen,
                   "duration: not for action = %s (only kill-restart, pause and cut take one)",
                   ovs_fault_action_name(f->action));
        return -1;
    }
    if (t->by && f->action != OVS_FAULT_CLOCK_JUMP) {
        *key = "by";
        ovs_seterr(err, errlen, "by: not for action = %s (only clock-jump takes one)",
                   ovs_fault_action_name(f->action));
        return -1;
    }
    if (t->recovery && f->action != OVS_FAULT_RESTART && f->action != OVS_FAULT_KILL_RESTART) {
        *key = "recovery";
        ovs_seterr(err, errlen,
                   "recovery: not for action = %s (only restart and kill-restart take one)",
                   ovs_fault_action_name(f->action));
        return -1;
    }
    if (f->recovery != OVS_RECOVER_NONE && sc->workload != OVS_INVENTORY) {
        *key = "recovery";
        ovs_seterr(err, errlen,
                   "recovery: '%.60s' is only for inventory scenarios (it rebuilds Redis "
                   "stock; a booking scenario keeps none there)",
                   t->recovery);
        return -1;
    }
    return 0;
}
