/* adapter.c - a strategy that runs in another process, in any language: the harness's
 * half of the JSON-lines protocol (locks/adapters/PROTOCOL.md).
 *
 * ovs_adapter_define turns a definition file (strategy_def.h) into a methods table like a
 * built-in's: a lock (xLock/xUnlock around the harness's own check-think-act in SQL, with
 * xFence when its replies carry fencing tokens) or a whole operation (xExecute, selling
 * from stock the harness seeded in Redis and queueing the order, or writing the shop
 * itself). Nothing the adapter says is taken as proof: the runner records the lock's
 * intervals and the checker reads the shop's rows, as for every strategy.
 *
 * One process per client instance, a crowd's workers included, rather than a few
 * processes serving many clients by id. `pause = process` must stop one client's whole
 * runtime - its timers, its event loop, the library's lease renewal - and nobody else's:
 * with a process shared by several clients a SIGSTOP would pause them all, and a
 * flag-based pause inside a shared process is a pause the library may ignore. The same
 * holds for a crash: it takes one client's requests down, which the run names, not a
 * whole pool's. The cost is one process per worker (an interpreter's start-up, before
 * the start gate, so it is no part of the race); the child registry (core/child.h) bounds
 * how many.
 *
 * The harness trusts the adapter's process with nothing but its answers. Every read has
 * the definition's timeout; an answer that breaks the protocol (not JSON, an unknown type,
 * a wrong id, a `refused` to a lock), a crash, or no answer in time turns the request
 * into an unknown outcome (it may have happened) and the run into an error through
 * env->broken, naming the adapter, the client, the offending line and the last lines of
 * the adapter's stderr. The process is then killed at once and sent nothing more: its
 * later requests certainly did not happen (OVS_ERR), and nothing it says later can be
 * confused with an answer. An honest `unknown` from the adapter is a result, not a
 * protocol error.
 *
 * A client's crash (env->crash) kills its adapter for real: the instance registers the
 * process's pid with the crash record, which sends it SIGKILL at the crash, so the
 * library's timers and lease extensions die with it. A request that finds the process
 * gone then is no protocol error but the crash's doing: its outcome is unknown and the
 * run goes on.
 *
 * Replies map onto the interface's codes as PROTOCOL.md says: ok -> OVS_OK, busy ->
 * OVS_BUSY (to an unlock: the lock was no longer ours), refused -> OVS_REFUSED (buy and
 * book only), fail -> OVS_ERR, unknown -> OVS_ERR_IO. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/util.h"
#include "locks/adapter_io.h"
#include "locks/redis_stock.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"

/* How long an adapter has to exit once its stdin is closed (PROTOCOL.md). */
#define ADAPTER_GRACE_MS 2000
/* The least time init is given, whatever the definition's timeout: init includes starting
 * the interpreter and loading the library, which on a machine busy with a crowd's worth
 * of adapters starting at once took a Python adapter more than 5 s. A bound against an
 * adapter that never answers, not a measure of it. */
#define ADAPTER_INIT_MIN_MS 30000.0
/* How long a process whose stdout ended may take to be seen exited, for the message. */
#define ADAPTER_EXIT_WAIT_MS 200
/* The offending line as quoted in s->errstr and in the run's error. */
#define QUOTE_SHORT 24
#define QUOTE_LONG 72

/* One definition made into a table. m comes first so that an instance finds its
 * definition from s->m. */
typedef struct adapter_def {
    ovs_strategy_methods m;
    ovs_strategy_def def;             /* a copy: name, summary and params point into it */
    int ttl;                          /* index of the parameter "ttl", or -1 */
    int nodes_param;                  /* index of def.nodes_param, or -1 for def.nodes */
    int index;                        /* in defined[]: which xNodes is this table's */
    char *argv[OVS_DEF_ARGV_MAX + 1]; /* into def.argv, NULL-terminated */
} adapter_def;

/* A lock held now, with its token when the definition fences. */
typedef struct adapter_hold {
    char key[OVS_KEY_MAX];
    int64_t token;
} adapter_hold;

typedef struct adapter {
    ovs_strategy base;
    const adapter_def *d;
    ovs_adapter_proc proc;
    int dead;            /* broke the protocol, crashed or hung: killed, sent nothing more */
    json_int_t next_id;  /* of the next message: init is 0, requests 1, 2, ... */
    int64_t frozen_at;   /* when xFreeze stopped it, for the timeline's event */
    int nheld;
    adapter_hold held[OVS_MAX_NIGHTS];
} adapter;

/* ---------------------------------------------------------------------------------------
 * xNodes. It is the one slot without an instance, so it cannot find its definition from
 * s->m: each defined table gets a function of its own that knows its index. There can be
 * no more definitions than the registry has room for. Definitions are made at start-up,
 * before any run, from one thread, as strategies are registered. */
static const adapter_def *defined[OVS_MAX_STRATEGIES];
static int n_defined;

static int nodes_of(int i, const ovs_params *p)
{
    const adapter_def *d = defined[i];
    return d->nodes_param < 0 ? d->def.nodes : (int)p->v[d->nodes_param];
}

#define NODES_FN(i)                                                                          \
    static int nodes_##i(const ovs_params *p) { return nodes_of(i, p); }
NODES_FN(0) NODES_FN(1) NODES_FN(2) NODES_FN(3) NODES_FN(4) NODES_FN(5) NODES_FN(6)
NODES_FN(7) NODES_FN(8) NODES_FN(9) NODES_FN(10) NODES_FN(11) NODES_FN(12) NODES_FN(13)
NODES_FN(14) NODES_FN(15) NODES_FN(16) NODES_FN(17) NODES_FN(18) NODES_FN(19) NODES_FN(20)
NODES_FN(21) NODES_FN(22) NODES_FN(23) NODES_FN(24) NODES_FN(25) NODES_FN(26) NODES_FN(27)
NODES_FN(28) NODES_FN(29) NODES_FN(30) NODES_FN(31)
#undef NODES_FN

static int (*const nodes_fn[])(const ovs_params *) = {
    nodes_0,  nodes_1,  nodes_2,  nodes_3,  nodes_4,  nodes_5,  nodes_6,  nodes_7,
    nodes_8,  nodes_9,  nodes_10, nodes_11, nodes_12, nodes_13, nodes_14, nodes_15,
    nodes_16, nodes_17, nodes_18, nodes_19, nodes_20, nodes_21, nodes_22, nodes_23,
    nodes_24, nodes_25, nodes_26, nodes_27, nodes_28, nodes_29, nodes_30, nodes_31,
};
_Static_assert(sizeof(nodes_fn) / sizeof(nodes_fn[0]) == OVS_MAX_STRATEGIES,
               "one xNodes per definition the registry can hold");

/* ---------------------------------------------------------------------------------------
 * Failures. */

/* line, quoted for a message: at most max bytes of it, anything unprintable as '?'. */
static void quote(const char *line, size_t len, size_t max, char *buf, size_t buflen)
{
    size_t n = len < max ? len : max, o = 0;

    for (size_t i = 0; i < n && o + 1 < buflen; i++) {
        unsigned char c = (unsigned char)line[i];
        buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[o] = '\0';
    if (len > max && o + 4 < buflen)
        snprintf(buf + o, buflen - o, "...");
}

/* text, then "; stderr: " and as much of the adapter's stderr tail as fits in len. */
static void with_tail(const adapter *x, char *buf, size_t len, const char *text)
{
    static const char sep[] = "; stderr: ";
    size_t used = (size_t)snprintf(buf, len, "%s", text);

    if (used + sizeof(sep) + 8 < len) {
        snprintf(buf + used, len - used, "%s", sep);
        used += sizeof(sep) - 1;
        ovs_adapter_proc_tail(&x->proc, buf + used, len - used);
    }
}

/* The adapter broke the protocol, crashed or hung while `what`: kill it, say so in
 * s->errstr (short) and to the run through env->broken (the adapter, the client, the
 * offending line and its stderr), and return code for the request. line may be NULL. */
static int violation(adapter *x, int code, const char *line, size_t len, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static int violation(adapter *x, int code, const char *line, size_t len, const char *fmt,
                     ...)
{
    ovs_strategy *s = &x->base;
    const ovs_env *env = s->env;
    /* Room for everything at its longest; with_tail cuts to the two destinations' sizes
     * (s->errstr, and the run's error of 256 bytes). */
    char what[160], q[QUOTE_LONG + 8], text[sizeof(what) + sizeof(q) + 8];
    char long_text[sizeof(text) + 2 * OVS_STRATEGY_NAME_MAX + 32], whole[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    x->dead = 1;
    ovs_adapter_proc_kill(&x->proc);
    if (env != NULL && ovs_crashed(env->crash) != 0) {
        /* Killed with its client: the scenario's doing, not the adapter's fault. */
        return ovs_strategy_fail(s, OVS_ERR_IO, "client crashed during the request: %.60s",
                                 what);
    }

    if (line != NULL) {
        quote(line, len, QUOTE_SHORT, q, sizeof(q));
        snprintf(text, sizeof(text), "%s: '%s'", what, q);
    } else {
        snprintf(text, sizeof(text), "%s", what);
    }
    with_tail(x, s->errstr, sizeof(s->errstr), text);
    s->err = code;

    if (env != NULL && env->broken != NULL) {
        if (line != NULL) {
            quote(line, len, QUOTE_LONG, q, sizeof(q));
            snprintf(long_text, sizeof(long_text), "adapter %s, client %s (pid %d): %s: '%s'",
                     s->m->name, env->client_name ? env->client_name : "?",
                     (int)x->proc.pid, what, q);
        } else {
            snprintf(long_text, sizeof(long_text), "adapter %s, client %s (pid %d): %s",
                     s->m->name, env->client_name ? env->client_name : "?",
                     (int)x->proc.pid, what);
        }
        with_tail(x, whole, sizeof(whole), long_text);
        env->broken(env->broken_ctx, whole);
    }
    return code;
}

/* ---------------------------------------------------------------------------------------
 * One request and its reply. */

/* The reply types a request may get; anything else is a protocol error. */
enum { R_OK = 1, R_BUSY = 2, R_REFUSED = 4, R_FAIL = 8, R_UNKNOWN = 16, R_INIT_OK = 32 };

static const struct {
    const char *name;
    int bit;
} reply_types[] = {
    { "ok", R_OK },           { "busy", R_BUSY },       { "refused", R_REFUSED },
    { "fail", R_FAIL },       { "unknown", R_UNKNOWN }, { "init_ok", R_INIT_OK },
};

/* Send req (taken: freed here) as `what` with the next id and read its answer, which must
 * be one of `allowed`. Returns OVS_OK with *reply (the caller frees it) and *type, or the
 * request's code after a violation. */
static int exchange(adapter *x, json_t *req, const char *what, int allowed, json_t **reply,
                    int *type)
{
    const adapter_def *d = x->d;
    json_int_t id = x->next_id++;
    double timeout_ms = d->def.timeout_ms;
    if (strcmp(what, "init") == 0 && timeout_ms < ADAPTER_INIT_MIN_MS)
        timeout_ms = ADAPTER_INIT_MIN_MS;
    int64_t deadline = ovs_now_ns() + (int64_t)(timeout_ms * (double)OVS_NS_PER_MS);
    const char *line, *tname;
    char err[160] = "", status[96];
    size_t len;
    json_error_t jerr;
    json_t *r, *jid;
    char *text;
    enum ovs_line lr;

    *reply = NULL;
    if (x->dead) {
        json_decref(req);
        return ovs_strategy_fail(&x->base, OVS_ERR, "adapter stopped after an earlier "
                                 "failure (see the run's error)");
    }
    if (json_object_set_new(req, "id", json_integer(id)) != 0 ||
        (text = json_dumps(req, JSON_COMPACT)) == NULL) {
        json_decref(req);
        return ovs_strategy_fail(&x->base, OVS_ERR, "out of memory for a request");
    }
    json_decref(req);
    lr = ovs_adapter_proc_send(&x->proc, text, deadline, err, sizeof(err));
    free(text);
    if (lr == OVS_LINE_EOF) {
        ovs_adapter_proc_status(&x->proc, ADAPTER_EXIT_WAIT_MS, status, sizeof(status));
        return violation(x, OVS_ERR, NULL, 0, "%s (id %" JSON_INTEGER_FORMAT ") not sent: "
                         "the adapter no longer reads its input (%s)", what, id, status);
    }
    if (lr == OVS_LINE_TIMEOUT)
        return violation(x, OVS_ERR_IO, NULL, 0, "%s (id %" JSON_INTEGER_FORMAT ") not "
                         "read within %.0f ms", what, id, timeout_ms);
    if (lr != OVS_LINE_OK)
        return violation(x, OVS_ERR, NULL, 0, "%s: %s", what, err);

    lr = ovs_adapter_proc_recv(&x->proc, &line, &len, deadline, err, sizeof(err));
    switch (lr) {
    case OVS_LINE_OK:
        break;
    case OVS_LINE_EOF:
        ovs_adapter_proc_status(&x->proc, ADAPTER_EXIT_WAIT_MS, status, sizeof(status));
        return violation(x, OVS_ERR_IO, len ? line : NULL, len, "%s during %s (id %"
                         JSON_INTEGER_FORMAT ")%s", strcmp(status, "still running") == 0 ?
                         "closed its stdout" : status, what, id,
                         len ? ", after a partial line" : "");
    case OVS_LINE_TIMEOUT:
        return violation(x, OVS_ERR_IO, len ? line : NULL, len, "no reply to %s (id %"
                         JSON_INTEGER_FORMAT ") within %.0f ms", what, id,
                         timeout_ms);
    case OVS_LINE_LONG:
        return violation(x, OVS_ERR_IO, line, len, "reply to %s (id %" JSON_INTEGER_FORMAT
                         ") longer than %d bytes", what, id, OVS_ADAPTER_LINE_MAX);
    default:
        return violation(x, OVS_ERR_IO, NULL, 0, "%s: %s", what, err);
    }

    r = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (r == NULL)
        return violation(x, OVS_ERR_IO, line, len, "reply to %s (id %" JSON_INTEGER_FORMAT
                         ") is not JSON (%s)", what, id, jerr.text);
    if (!json_is_object(r)) {
        json_decref(r);
        return violation(x, OVS_ERR_IO, line, len, "reply to %s (id %" JSON_INTEGER_FORMAT
                         ") is not a JSON object", what, id);
    }
    tname = json_string_value(json_object_get(r, "type"));
    jid = json_object_get(r, "id");
    if (tname == NULL) {
        json_decref(r);
        return violation(x, OVS_ERR_IO, line, len, "reply to %s (id %" JSON_INTEGER_FORMAT
                         ") has no type", what, id);
    }
    if (!json_is_integer(jid) || json_integer_value(jid) != id) {
        const char *which = json_is_integer(jid) ? "another request's id" : "no integer id";
        json_decref(r);
        return violation(x, OVS_ERR_IO, line, len, "reply to %s (id %" JSON_INTEGER_FORMAT
                         ") has %s", what, id, which);
    }
    *type = 0;
    for (size_t i = 0; i < sizeof(reply_types) / sizeof(reply_types[0]); i++)
        if (strcmp(tname, reply_types[i].name) == 0)
            *type = reply_types[i].bit;
    if (*type == 0 || !(*type & allowed)) {
        char t[32];
        quote(tname, strlen(tname), sizeof(t) - 4, t, sizeof(t));
        json_decref(r);
        return violation(x, OVS_ERR_IO, line, len, *type != 0 ? "'%s' is no answer to %s" :
                         "unknown reply type '%s' to %s", t, what);
    }
    /* attempts, when given, is the library's own count of tries; 1 otherwise. */
    json_t *att = json_object_get(r, "attempts");
    if (att != NULL && (!json_is_integer(att) || json_integer_value(att) < 1)) {
        json_decref(r);
        return violation(x, OVS_ERR_IO, line, len, "reply to %s has attempts that is not "
                         "a positive integer", what);
    }
    x->base.attempts = att != NULL ? (unsigned)json_integer_value(att) : 1;
    *reply = r;
    return OVS_OK;
}

/* The code of a reply that is not ok: busy, refused, fail or unknown, its error kept. */
static int answer_code(adapter *x, json_t *r, int type)
{
    const char *why = json_string_value(json_object_get(r, "error"));
    int code = type == R_BUSY ? OVS_BUSY : type == R_REFUSED ? OVS_REFUSED
             : type == R_FAIL ? OVS_ERR : OVS_ERR_IO;

    ovs_strategy_fail(&x->base, code, "%s", why != NULL ? why : type == R_BUSY ? "busy"
                      : type == R_REFUSED ? "refused" : "(no reason given)");
    return code;
}

/* ---------------------------------------------------------------------------------------
 * The slots. */

/* A parameter's value as the protocol sends it: a choice by its name, a whole number as
 * an integer, anything else as a real. */
static json_t *param_json(const ovs_param_spec *spec, double v)
{
    if (spec->choices != NULL) {
        const char *c = spec->choices;
        for (int i = 0; i < (int)v && (c = strchr(c, '|')) != NULL; i++)
            c++;
        if (c == NULL)
            return json_null();
        const char *end = strchr(c, '|');
        return json_stringn(c, end ? (size_t)(end - c) : strlen(c));
    }
    if (v == (double)(json_int_t)v)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *init_message(const adapter *x, const ovs_env *env, int nodes)
{
    const adapter_def *d = x->d;
    json_t *redis = json_array(), *params = json_object();
    char fallback[32];

    for (int i = 0; i < nodes; i++) {
        const ovs_redis_auth *a = env->redis[i].auth;
        json_t *ep = json_pack("{s:s, s:i}", "host", env->redis[i].host, "port",
                               env->redis[i].port);
        /* The login goes to an adapter that said it uses it, down its stdin: never in its
         * arguments or environment, which other users of the machine can read. */
        if (d->def.key_prefix && a != NULL) {
            if (a->user[0] != '\0')
                json_object_set_new(ep, "username", json_string(a->user));
            json_object_set_new(ep, "password", json_string(a->password));
        }
        json_array_append_new(redis, ep);
    }
    for (int i = 0; i < d->m.n_params; i++)
        json_object_set_new(params, d->m.params[i].name,
                            param_json(&d->m.params[i], env->param->v[i]));
    snprintf(fallback, sizeof(fallback), "client-%d", env->client);
    /* A seed every JSON reader takes exactly: JavaScript's numbers hold 53 bits. */
    return json_pack("{s:s, s:i, s:s, s:s, s:i, s:I, s:o, s:o, s:s, s:{s:s?, s:s?, s:s?},"
                     " s:s}",
                     "type", "init", "protocol", 1,
                     "strategy", d->m.name,
                     "client", env->client_name ? env->client_name : fallback,
                     "client_index", env->client,
                     "seed", (json_int_t)(env->seed & ((UINT64_C(1) << 53) - 1)),
                     "redis", redis, "params", params,
                     "workload", env->workload == OVS_INVENTORY ? "inventory" : "booking",
                     "shop", "backend", env->shop_backend, "path", env->shop_path,
                     "ns", env->shop_ns && env->shop_ns[0] ? env->shop_ns : NULL,
                     "key_prefix", OVS_KEY_PREFIX(env));
}

static int adapter_open(ovs_strategy *s, const ovs_env *env)
{
    adapter *x = (adapter *)s;
    const adapter_def *d = (const adapter_def *)s->m;
    char errpath[600], err[200];
    int nodes, type, rc;
    json_t *init, *reply;

    x->d = d;
    ovs_adapter_proc_init(&x->proc);
    x->next_id = 0;
    if (d->def.unavailable[0] != '\0')
        return ovs_strategy_fail(s, OVS_ERR, "%.120s", d->def.unavailable);
    nodes = nodes_of(d->index, env->param);
    if (env->n_redis < nodes)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs %d Redis servers; the run has %d",
                                 s->m->name, nodes, env->n_redis);
    /* The protocol gives an adapter addresses, not Sentinels (no_sentinel): after a
     * failover it would keep dialling the dead master, and its requests failing there
     * would look like a lock that held. The plan makes such a cell n/a; refused here as
     * well, so that no other way in gives it a verdict. */
    for (int i = 0; i < nodes; i++)
        if (env->redis[i].sentinels != NULL)
            return ovs_strategy_fail(s, OVS_ERR, "an adapter cannot follow Sentinel (it is "
                                     "given addresses only): run it without [redis] "
                                     "sentinels");
    if (env->files_dir == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s: no directory for the adapter's stderr "
                                 "(env.files_dir)", s->m->name);
    if (d->def.operation == OVS_DEF_WHOLE && d->def.shop == OVS_DEF_SHOP_WRITEBACK &&
        env->sold == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs the write-back queue", s->m->name);

    snprintf(errpath, sizeof(errpath), "%s/%s.%d.stderr", env->files_dir, s->m->name,
             env->client);
    rc = ovs_adapter_proc_start(&x->proc, d->argv[0], d->argv, errpath, err, sizeof(err));
    if (rc != OVS_OK)
        return ovs_strategy_fail(s, rc, "%s: %s", s->m->name, err);
    ovs_crash_set_pid(env->crash, x->proc.pid);

    init = init_message(x, env, nodes);
    if (init == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory for init");
    rc = exchange(x, init, "init", R_INIT_OK | R_FAIL, &reply, &type);
    if (rc != OVS_OK)
        return OVS_ERR; /* the run's error says why; the instance opened nothing usable */
    if (type == R_FAIL) {
        const char *why = json_string_value(json_object_get(reply, "error"));
        char what[160];
        snprintf(what, sizeof(what), "init failed: %.120s", why ? why : "(no reason given)");
        json_decref(reply);
        return violation(x, OVS_ERR, NULL, 0, "%s", what);
    }
    json_decref(reply);
    return OVS_OK;
}

static adapter_hold *hold_of(adapter *x, const char *key)
{
    for (int i = 0; i < x->nheld; i++)
        if (strcmp(x->held[i].key, key) == 0)
            return &x->held[i];
    return NULL;
}

static int adapter_lock(ovs_strategy *s, const char *key)
{
    adapter *x = (adapter *)s;
    json_t *req = json_pack("{s:s, s:s}", "type", "lock", "key", key), *reply, *tok;
    int type, rc;

    s->attempts = 1;
    if (req != NULL && x->d->ttl >= 0)
        json_object_set_new(req, "ttl_ms", param_json(&s->m->params[x->d->ttl],
                                                      s->env->param->v[x->d->ttl]));
    if (req == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory for a request");
    rc = exchange(x, req, "lock", R_OK | R_BUSY | R_FAIL | R_UNKNOWN, &reply, &type);
    if (rc != OVS_OK)
        return rc;
    if (type != R_OK) {
        rc = answer_code(x, reply, type);
        json_decref(reply);
        return rc;
    }
    tok = json_object_get(reply, "token");
    if (x->d->def.fencing && (!json_is_integer(tok) || json_integer_value(tok) < 0)) {
        char *line = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        rc = violation(x, OVS_ERR_IO, line, line ? strlen(line) : 0, "ok to lock %s without "
                       "a token (integer >= 0), and the definition says fencing = yes", key);
        free(line);
        return rc;
    }
    if (x->nheld == OVS_MAX_NIGHTS) {
        json_decref(reply);
        return violation(x, OVS_ERR_IO, NULL, 0, "more than %d locks held at once",
                         OVS_MAX_NIGHTS);
    }
    adapter_hold *h = &x->held[x->nheld++];
    snprintf(h->key, sizeof(h->key), "%s", key);
    h->token = json_is_integer(tok) ? (int64_t)json_integer_value(tok) : -1;
    json_decref(reply);
    return OVS_OK;
}

static int adapter_unlock(ovs_strategy *s, const char *key)
{
    adapter *x = (adapter *)s;
    json_t *req = json_pack("{s:s, s:s}", "type", "unlock", "key", key), *reply;
    adapter_hold *h = hold_of(x, key);
    int type, rc;

    /* Forgotten whatever the answer: after an unlock the harness holds nothing there. */
    if (h != NULL)
        *h = x->held[--x->nheld];
    if (req == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory for a request");
    rc = exchange(x, req, "unlock", R_OK | R_BUSY | R_FAIL | R_UNKNOWN, &reply, &type);
    if (rc != OVS_OK)
        return rc;
    rc = type == R_OK ? OVS_OK : answer_code(x, reply, type);
    json_decref(reply);
    return rc;
}

static int64_t adapter_fence(ovs_strategy *s, const char *key)
{
    adapter_hold *h = hold_of((adapter *)s, key);
    return h != NULL ? h->token : -1;
}

static int adapter_execute(ovs_strategy *s, const ovs_request *req, int64_t buyer,
                           int64_t think_ns)
{
    adapter *x = (adapter *)s;
    const ovs_env *env = s->env;
    json_t *msg, *reply;
    char in[16], out[16];
    int type, rc;

    s->attempts = 1;
    if (env->workload == OVS_INVENTORY) {
        msg = json_pack("{s:s, s:i, s:I, s:I}", "type", "buy", "sku", req->sku,
                        "buyer", (json_int_t)buyer, "think_ms",
                        (json_int_t)(think_ns / OVS_NS_PER_MS));
    } else {
        ovs_format_date(req->check_in, in, sizeof(in));
        ovs_format_date(req->check_out, out, sizeof(out));
        msg = json_pack("{s:s, s:i, s:i, s:s, s:s, s:I, s:I}", "type", "book",
                        "hotel", req->hotel, "room", req->room, "check_in", in,
                        "check_out", out, "guest", (json_int_t)buyer,
                        "think_ms", (json_int_t)(think_ns / OVS_NS_PER_MS));
    }
    if (msg == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "out of memory for a request");
    rc = exchange(x, msg, env->workload == OVS_INVENTORY ? "buy" : "book",
                  R_OK | R_BUSY | R_REFUSED | R_FAIL | R_UNKNOWN, &reply, &type);
    if (rc != OVS_OK)
        return rc;
    rc = type == R_OK ? OVS_OK : answer_code(x, reply, type);
    json_decref(reply);
    if (rc == OVS_OK && x->d->def.shop == OVS_DEF_SHOP_WRITEBACK &&
        env->sold(env->sold_ctx, req, buyer) != 0)
        return ovs_strategy_fail(s, OVS_ERR, "sold by the adapter but the write-back queue "
                                 "is closed; the order will not reach SQL");
    return rc;
}

/* The pause is made real here or the run is an error: a failed stop is said through
 * env->broken too, since the runner only sees the request fail. The stop and resume
 * are recorded as one step on the timeline. */
static int adapter_freeze(ovs_strategy *s, int frozen)
{
    adapter *x = (adapter *)s;
    const ovs_env *env = s->env;
    char err[160], detail[64];

    if (x->dead)
        return ovs_strategy_fail(s, OVS_ERR, "adapter stopped after an earlier failure");
    if (ovs_adapter_proc_freeze(&x->proc, frozen, err, sizeof(err)) != 0)
        return violation(x, OVS_ERR, NULL, 0, "pause = process: %s", err);
    if (frozen) {
        x->frozen_at = ovs_now_ns();
    } else if (env->event != NULL) {
        snprintf(detail, sizeof(detail), "process stopped: SIGSTOP..SIGCONT pid %d",
                 (int)x->proc.pid);
        env->event(env->event_ctx, x->nheld > 0 ? x->held[0].key : "", x->frozen_at,
                   ovs_now_ns(), OVS_OUT_OK, detail);
    }
    return OVS_OK;
}

static void adapter_close(ovs_strategy *s)
{
    adapter *x = (adapter *)s;

    /* A zeroed instance whose xOpen never ran has pid 0: nothing was started. */
    if (x->d == NULL)
        return;
    /* Out of the crash record before it is reaped: a pid is signalled only while it is
     * still our child. A crashed client's adapter is dead already: no grace. */
    ovs_crash *crash = s->env ? s->env->crash : NULL;
    ovs_crash_set_pid(crash, 0);
    ovs_adapter_proc_end(&x->proc, x->dead || ovs_crashed(crash) != 0 ? 0 : ADAPTER_GRACE_MS);
}

/* ---------------------------------------------------------------------------------------
 * The definition. */

static int param_index(const ovs_strategy_def *def, const char *name)
{
    for (int i = 0; i < def->n_params; i++)
        if (def->params[i].name != NULL && strcmp(def->params[i].name, name) == 0)
            return i;
    return -1;
}

int ovs_adapter_define(const ovs_strategy_def *def, const ovs_strategy_methods **out,
                       char *err, size_t errlen)
{
    adapter_def *d;

    if (def->kind != OVS_DEF_ADAPTER) {
        ovs_seterr(err, errlen, "%s: not an adapter definition", def->path);
        return -1;
    }
    if (def->argc < 1 || def->argc > OVS_DEF_ARGV_MAX || def->argv[0][0] == '\0') {
        ovs_seterr(err, errlen, "%s: an adapter needs a command", def->path);
        return -1;
    }
    if (!(def->timeout_ms > 0)) {
        ovs_seterr(err, errlen, "%s: timeout must be above 0", def->path);
        return -1;
    }
    if (def->operation == OVS_DEF_WHOLE && def->fencing) {
        ovs_seterr(err, errlen, "%s: fencing = yes is for locks; a whole operation has no "
                   "lock to fence", def->path);
        return -1;
    }
    if (n_defined == OVS_MAX_STRATEGIES) {
        ovs_seterr(err, errlen, "%s: too many adapter definitions (at most %d)", def->path,
                   OVS_MAX_STRATEGIES);
        return -1;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", def->path);
        return -1;
    }
    d->def = *def;
    d->ttl = param_index(&d->def, "ttl");
    d->nodes_param = -1;
    if (d->def.nodes_param[0] != '\0' &&
        (d->nodes_param = param_index(&d->def, d->def.nodes_param)) < 0) {
        ovs_seterr(err, errlen, "%s: nodes = %s names no parameter of %s", def->path,
                   def->nodes_param, def->name);
        free(d);
        return -1;
    }
    if (d->nodes_param < 0 && (d->def.nodes < 0 || d->def.nodes > OVS_MAX_NODES)) {
        ovs_seterr(err, errlen, "%s: nodes = %d is outside 0..%d", def->path, def->nodes,
                   OVS_MAX_NODES);
        free(d);
        return -1;
    }
    for (int i = 0; i < d->def.argc; i++)
        d->argv[i] = d->def.argv[i];
    d->argv[d->def.argc] = NULL;

    ovs_strategy_methods *m = &d->m;
    m->version = OVS_STRATEGY_VERSION;
    m->name = d->def.name;
    m->summary = d->def.summary;
    m->claims_safe = d->def.claims_safe;
    m->no_liveness_claim = !d->def.claims_live;
    m->size = sizeof(adapter);
    m->params = d->def.params;
    m->n_params = d->def.n_params;
    d->index = n_defined;
    m->xNodes = nodes_fn[d->index];
    m->xOpen = adapter_open;
    m->xClose = adapter_close;
    m->xFreeze = adapter_freeze;
    m->no_sentinel = 1;
    m->no_key_prefix = !d->def.key_prefix;
    if (d->def.operation == OVS_DEF_LOCK) {
        m->xLock = adapter_lock;
        m->xUnlock = adapter_unlock;
        if (d->def.fencing)
            m->xFence = adapter_fence;
    } else {
        m->xExecute = adapter_execute;
        if (d->def.shop == OVS_DEF_SHOP_WRITEBACK) {
            m->redis_stock = 1;
            m->xPrepare = ovs_redis_stock_prepare;
        }
    }
    defined[n_defined++] = d;
    *out = m;
    return 0;
}
