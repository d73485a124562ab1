/* redis_conn.c - connections, scripts and lock tokens shared by the Redis strategies.
 *
 * hiredis 0.14 has one timeout for connect (redisConnectWithTimeout) and another, set
 * with redisSetTimeout, that becomes SO_RCVTIMEO/SO_SNDTIMEO on the socket. A read that
 * hits it fails with EAGAIN and leaves the context in an error state for good, which is
 * what we want: the reply may still arrive, and no later command may read it as its own.
 * So every I/O failure frees the context; the next command connects again.
 *
 * The send/recv pair splits a command in two on the same blocking context (append and
 * write, then redisGetReply), so that one client can have a command in flight on several
 * servers at once without threads or an event loop. */
#include "locks/redis_conn.h"
#include "locks/redis_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

const char ovs_redis_cad_src[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) "
    "else return 0 end";

const char ovs_redis_acquire_src[] =
    "local v = redis.call('get', KEYS[1]) "
    "if v == ARGV[1] or (ARGV[3] and v and string.sub(v, 1, #ARGV[3]) == ARGV[3]) then "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end "
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end "
    "return 0";

static struct timeval us_to_tv(int64_t us)
{
    struct timeval tv;

    /* A zero timeval means "block forever" to the kernel: never let rounding make one. */
    if (us < 1000)
        us = 1000;
    tv.tv_sec = (time_t)(us / 1000000);
    tv.tv_usec = (suseconds_t)(us % 1000000);
    return tv;
}

static struct timeval ms_to_tv(double ms)
{
    return us_to_tv((int64_t)(ms * 1000.0));
}

static int64_t tv_to_us(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000 + (int64_t)tv.tv_usec;
}

/* The smaller of bound and the time left to r's deadline; 0 when that is up. */
static int64_t time_left_us(const ovs_redis *r, struct timeval bound)
{
    int64_t us = tv_to_us(bound), left;

    if (r->deadline == 0)
        return us;
    left = (r->deadline - ovs_now_ns()) / 1000;
    if (left <= 0)
        return 0;
    return left < us ? left : us;
}

static int set_err(ovs_redis *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(ovs_redis *r, int code, const char *fmt, ...)
{
    char msg[sizeof(r->errstr)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->err = code;
    r->noreplicas = 0;
    ovs_seterr(r->errstr, sizeof(r->errstr), "redis %s:%d: %s", r->ep.host, r->ep.port, msg);
    return code;
}

void ovs_redis_init(ovs_redis *r, const ovs_endpoint *ep, double connect_ms,
                    double command_ms)
{
    memset(r, 0, sizeof(*r));
    r->ep = *ep;
    r->connect_tv = ms_to_tv(connect_ms);
    r->command_tv = ms_to_tv(command_ms);
}

void ovs_redis_set_deadline(ovs_redis *r, int64_t deadline_ns)
{
    r->deadline = deadline_ns;
}

int ovs_redis_connect(ovs_redis *r)
{
    redisContext *c;
    int64_t us;

    if (r->c != NULL)
        return OVS_OK;
    us = time_left_us(r, r->connect_tv);
    if (us == 0)
        return set_err(r, OVS_ERR_IO, "connect: no time left before the deadline");
    /* A master behind Sentinels is wherever they say now, asked at every connect, which
     * is every reconnect after an error too: that is how a client follows a failover. */
    if (r->ep.sentinels != NULL) {
        ovs_endpoint now = { .port = 0 };
        char why[sizeof(r->errstr)];
        int ms = us < 1000 ? 1 : (int)(us / 1000);
        if (ovs_sentinel_master(r->ep.sentinels, ms, &now, why, sizeof(why)) != 0)
            return set_err(r, OVS_ERR_IO, "connect: %s", why);
        now.auth = r->ep.auth;
        r->ep = now;
    }
    c = redisConnectWithTimeout(r->ep.host, r->ep.port, us_to_tv(us));
    if (c == NULL)
        return set_err(r, OVS_ERR_IO, "connect: out of memory");
    if (c->err) {
        set_err(r, OVS_ERR_IO, "connect: %s", c->errstr);
        redisFree(c);
        return OVS_ERR_IO;
    }
    if (redisSetTimeout(c, r->command_tv) != REDIS_OK) {
        set_err(r, OVS_ERR_IO, "setting the command timeout: %s", c->errstr);
        redisFree(c);
        return OVS_ERR_IO;
    }
    /* A refused AUTH sent nothing the server acted on, but no later command can run
     * either: the same unknown-free failure as a connection that never came up. */
    char why[sizeof(r->errstr)];
    if (ovs_redis_login(c, r->ep.auth, why, sizeof(why)) != 0) {
        set_err(r, OVS_ERR_IO, "connect: %s", why);
        redisFree(c);
        return OVS_ERR_IO;
    }
    r->c = c;
    r->short_tv = 0;
    return OVS_OK;
}

void ovs_redis_close(ovs_redis *r)
{
    ovs_redis_cluster_free(r);
    if (r->c != NULL)
        redisFree(r->c);
    r->c = NULL;
}

/* The command was sent and no reply came: record why and drop the context. */
static int broken(ovs_redis *r, const char *what)
{
    const char *why = r->c->errstr;

    if (r->c->err == REDIS_ERR_IO && strcmp(why, strerror(EAGAIN)) == 0)
        why = "timeout";
    set_err(r, OVS_ERR_IO, "%s: %s", what, why);
    ovs_redis_close(r);
    return OVS_ERR_IO;
}

/* An idle connection the server (or a failover) has closed: readable with no reply due.
 * A client library learns of the close before its next command (ioredis reconnects on
 * the socket's close event; pools validate on borrow) and sends that command to wherever
 * the server now is. Without this, the first command after a failover would be written
 * into the dead connection and come back "unknown" although it never left the client.
 * One poll() with no wait costs well under a microsecond next to a round trip. */
static int closed_while_idle(const ovs_redis *r)
{
    struct pollfd p = { .fd = r->c->fd, .events = POLLIN };

    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Give the next reads on r's socket the time they may take: the time left to the
 * deadline (at least a millisecond), or the command timeout again once there is none.
 * Two setsockopt calls, made only while a deadline is in force or was. 0, or -1 with the
 * context's error (the context is then unusable). */
static int arm(ovs_redis *r)
{
    struct timeval tv = r->command_tv;

    if (r->deadline == 0 && !r->short_tv)
        return 0;
    if (r->deadline != 0)
        tv = us_to_tv(time_left_us(r, r->command_tv));
    if (redisSetTimeout(r->c, tv) != REDIS_OK)
        return -1;
    r->short_tv = r->deadline != 0;
    return 0;
}

/* Connect if needed; a failure here means nothing was sent. */
static int ready(ovs_redis *r, const char *what)
{
    char why[sizeof(r->errstr)];

    if (r->c != NULL && closed_while_idle(r))
        ovs_redis_close(r);
    if (ovs_redis_connect(r) == OVS_OK)
        return OVS_OK;
    snprintf(why, sizeof(why), "%s", r->errstr);
    r->err = OVS_ERR;
    ovs_seterr(r->errstr, sizeof(r->errstr), "%s (%s not sent)", why, what);
    return OVS_ERR;
}

/* ready, and the socket armed for a command whose reply is read at once. The pipelined
 * sends skip this: their recv arms the socket just before it reads. */
static int ready_to_ask(ovs_redis *r, const char *what)
{
    if (ready(r, what) != OVS_OK)
        return OVS_ERR;
    if (arm(r) == 0)
        return OVS_OK;
    set_err(r, OVS_ERR, "setting the command timeout: %s (%s not sent)", r->c->errstr, what);
    ovs_redis_close(r);
    return OVS_ERR;
}

/* Turn a raw reply into the module's return contract. Takes ownership of reply. */
static int finish(ovs_redis *r, redisReply *reply, const char *what, redisReply **out)
{
    if (reply == NULL)
        return broken(r, what);
    if (reply->type == REDIS_REPLY_ERROR) {
        set_err(r, OVS_ERR, "%s: %s", what, reply->str);
        /* The error code is the reply's first word; a script's write refused this way
         * comes back with the same code and the script's position after it. */
        r->noreplicas = strncmp(reply->str, "NOREPLICAS ", 11) == 0;
        freeReplyObject(reply);
        return OVS_ERR;
    }
    r->err = 0;
    r->noreplicas = 0;
    r->errstr[0] = '\0';
    *out = reply;
    return OVS_OK;
}

/* Name a command in messages by its words before the first argument: "SET". */
static void cmd_name(char *what, size_t len, const char *fmt)
{
    size_t n = strcspn(fmt, "%");

    while (n > 0 && fmt[n - 1] == ' ')
        n--;
    snprintf(what, len, "%.*s", (int)(n < len - 1 ? n : len - 1), fmt);
}

int ovs_redis_cmd(ovs_redis *r, redisReply **out, const char *fmt, ...)
{
    char what[24];
    redisReply *reply;
    va_list ap;

    *out = NULL;
    if (r->ep.cluster) {
        int rc;
        va_start(ap, fmt);
        rc = ovs_redis_cluster_vcmd(r, out, fmt, ap);
        va_end(ap);
        return rc;
    }
    cmd_name(what, sizeof(what), fmt);
    if (ready_to_ask(r, what) != OVS_OK)
        return OVS_ERR;
    va_start(ap, fmt);
    reply = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    return finish(r, reply, what, out);
}

int ovs_redis_refused(const ovs_redis *r)
{
    return r->err == OVS_ERR && r->noreplicas;
}

int ovs_redis_cmd_formatted(ovs_redis *r, const char *cmd, size_t len, redisReply **out)
{
    char what[24];
    void *reply = NULL;

    *out = NULL;
    /* The verb is the first bulk string: "*N\r\n$L\r\nVERB\r\n". */
    const char *v = strchr(cmd, '\n');
    v = v != NULL ? strchr(v + 1, '\n') : NULL;
    snprintf(what, sizeof(what), "%.*s", v != NULL ? (int)strcspn(v + 1, "\r") : 7,
             v != NULL ? v + 1 : "command");
    if (ready_to_ask(r, what) != OVS_OK)
        return OVS_ERR;
    if (redisAppendFormattedCommand(r->c, cmd, len) != REDIS_OK) {
        set_err(r, OVS_ERR, "%s: %s (not sent)", what, r->c->errstr);
        ovs_redis_close(r);
        return OVS_ERR;
    }
    if (redisGetReply(r->c, &reply) != REDIS_OK)
        reply = NULL;
    return finish(r, reply, what, out);
}

static const char *type_name(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING: return "string";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
    default: return "unknown";
    }
}

int ovs_redis_expect(ovs_redis *r, const redisReply *reply, int type, const char *what)
{
    if (reply != NULL && reply->type == type)
        return OVS_OK;
    return set_err(r, OVS_ERR, "%s: expected %s reply, got %s", what, type_name(type),
                   reply ? type_name(reply->type) : "none");
}

static int script_load(ovs_redis *r, ovs_script *s)
{
    redisReply *reply;
    int rc = ovs_redis_cmd(r, &reply, "SCRIPT LOAD %s", s->src);

    if (rc != OVS_OK) {
        /* Loading changes no data, so even a lost reply leaves the script's effect
         * certainly absent: the caller has not sent EVALSHA yet. */
        r->err = OVS_ERR;
        return OVS_ERR;
    }
    if (ovs_redis_expect(r, reply, REDIS_REPLY_STRING, "SCRIPT LOAD") != OVS_OK ||
        reply->len != 40) {
        if (r->err == 0)
            set_err(r, OVS_ERR, "SCRIPT LOAD: not a SHA1: %.48s", reply->str);
        freeReplyObject(reply);
        return OVS_ERR;
    }
    memcpy(s->sha, reply->str, 40);
    s->sha[40] = '\0';
    freeReplyObject(reply);
    return OVS_OK;
}

int ovs_redis_script_load(ovs_redis *r, ovs_script *s)
{
    if (r->ep.cluster)
        return ovs_redis_cluster_script_load(r, s);
    return script_load(r, s);
}

/* The argument vector of EVALSHA (or EVAL) for a script call. Most calls pass one key and
 * an argument or two; a booking passes one key per night, so longer lists go to the heap.
 * argv may point into the struct itself: never copy one. */
typedef struct eval_args {
    const char *small[16];
    const char **argv;
    int argc;
    char numkeys[16];
} eval_args;

/* verb is "EVALSHA" with the hash or "EVAL" with the source. 0, or -1 out of memory. */
static int eval_args_make(eval_args *a, const char *verb, const char *body, int nkeys,
                          int nargs, const char *const *kv)
{
    a->argc = 3 + nkeys + nargs;
    a->argv = a->small;
    if ((size_t)a->argc > sizeof(a->small) / sizeof(a->small[0])) {
        a->argv = malloc((size_t)a->argc * sizeof(*a->argv));
        if (a->argv == NULL)
            return -1;
    }
    snprintf(a->numkeys, sizeof(a->numkeys), "%d", nkeys);
    a->argv[0] = verb;
    a->argv[1] = body;
    a->argv[2] = a->numkeys;
    for (int i = 0; i < nkeys + nargs; i++)
        a->argv[3 + i] = kv[i];
    return 0;
}

static void eval_args_free(eval_args *a)
{
    if (a->argv != a->small)
        free(a->argv);
    a->argv = NULL;
}

static int is_noscript(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR &&
           strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

int ovs_redis_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                   const char *const *kv, redisReply **out)
{
    eval_args a;
    redisReply *reply;
    int rc;

    *out = NULL;
    if (r->ep.cluster)
        return ovs_redis_cluster_eval(r, s, nkeys, nargs, kv, out);
    if (eval_args_make(&a, "EVALSHA", s->sha, nkeys, nargs, kv) != 0)
        return set_err(r, OVS_ERR, "EVALSHA: out of memory");
    rc = OVS_ERR;
    if (s->sha[0] == '\0' && script_load(r, s) != OVS_OK)
        goto out;
    if (ready_to_ask(r, "EVALSHA") != OVS_OK)
        goto out;
    reply = redisCommandArgv(r->c, a.argc, a.argv, NULL);
    if (is_noscript(reply)) {
        /* The server forgot the script (restarted, flushed) or never saw it: the
         * EVALSHA did nothing, so loading and retrying once is safe. */
        freeReplyObject(reply);
        if (script_load(r, s) != OVS_OK || ready_to_ask(r, "EVALSHA") != OVS_OK)
            goto out;
        reply = redisCommandArgv(r->c, a.argc, a.argv, NULL);
    }
    rc = finish(r, reply, "EVALSHA", out);
out:
    eval_args_free(&a);
    return rc;
}

/* --- pipelining over several servers ------------------------------------------------- */

/* Write everything the context has queued. Once write() has failed, part of a command may
 * have reached the server, and we cannot tell which part: unknown, like a lost reply. */
static int flush(ovs_redis *r, const char *what)
{
    int done = 0;

    while (!done)
        if (redisBufferWrite(r->c, &done) != REDIS_OK)
            return broken(r, what);
    return OVS_OK;
}

int ovs_redis_send_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                        const char *const *kv)
{
    int by_sha = s->sha[0] != '\0';
    const char *what = by_sha ? "EVALSHA" : "EVAL";
    eval_args a;
    int rc;

    if (ready(r, what) != OVS_OK)
        return OVS_ERR;
    /* Without a hash yet, EVAL with the source runs the script and caches it on the
     * server all the same: no round trip of its own for a SCRIPT LOAD. */
    if (eval_args_make(&a, what, by_sha ? s->sha : s->src, nkeys, nargs, kv) != 0)
        return set_err(r, OVS_ERR, "%s: out of memory (not sent)", what);
    rc = redisAppendCommandArgv(r->c, a.argc, a.argv, NULL);
    eval_args_free(&a);
    if (rc != REDIS_OK) {
        set_err(r, OVS_ERR, "%s: %s (not sent)", what, r->c->errstr);
        ovs_redis_close(r);
        return OVS_ERR;
    }
    return flush(r, what);
}

int ovs_redis_recv_eval(ovs_redis *r, ovs_script *s, int nkeys, int nargs,
                        const char *const *kv, redisReply **out)
{
    void *reply = NULL;

    *out = NULL;
    if (r->c == NULL)
        return set_err(r, OVS_ERR_IO, "EVALSHA: connection dropped before the reply");
    if (arm(r) != 0 || redisGetReply(r->c, &reply) != REDIS_OK)
        reply = NULL;
    if (is_noscript(reply)) {
        /* Nothing ran on this server; this one alone loads the script and runs it again,
         * a round trip the others do not wait for twice. */
        freeReplyObject(reply);
        return ovs_redis_eval(r, s, nkeys, nargs, kv, out);
    }
    return finish(r, reply, "EVALSHA", out);
}

/* 64 bits from the kernel's generator: getrandom(2), or /dev/urandom where the system
 * call is missing (kernels before 3.17, some sandboxes). 0, or -1 with errno set. */
static int os_random(uint64_t *out)
{
    unsigned char *p = (unsigned char *)out;
    size_t got = 0;
    int fd, saved;

    while (got < sizeof(*out)) {
        ssize_t n = getrandom(p + got, sizeof(*out) - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (got == sizeof(*out))
        return 0;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (got = 0; got < sizeof(*out);) {
        ssize_t n = read(fd, p + got, sizeof(*out) - got);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n == 0)
                errno = EIO;
            break;
        }
    }
    saved = errno;
    close(fd);
    errno = saved;
    return got == sizeof(*out) ? 0 : -1;
}

int ovs_redis_locks_init(ovs_redis_locks *l, int client, uint64_t seed, char *err,
                         size_t errlen)
{
    memset(l, 0, sizeof(*l));
    ovs_rng_seed(&l->rng, seed);
    l->client = client;
    l->pid = (int)getpid();
    if (os_random(&l->nonce) != 0) {
        ovs_seterr(err, errlen, "no random bits for lock tokens: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void ovs_redis_locks_token(ovs_redis_locks *l, char *buf, size_t len)
{
    snprintf(buf, len, "c%d-p%d-%llu-%016llx", l->client, l->pid,
             (unsigned long long)++l->counter, (unsigned long long)l->nonce);
}

int ovs_redis_locks_add(ovs_redis_locks *l, const char *key, const char *token,
                        int64_t fence)
{
    ovs_redis_held *h;

    if (strlen(key) >= OVS_KEY_MAX || strlen(token) >= OVS_REDIS_TOKEN_MAX)
        return -1;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 8;
        h = realloc(l->held, (size_t)ncap * sizeof(*h));
        if (h == NULL)
            return -1;
        l->held = h;
        l->cap = ncap;
    }
    h = &l->held[l->n++];
    strcpy(h->key, key);
    strcpy(h->token, token);
    h->fence = fence;
    return 0;
}

static int find_index(const ovs_redis_locks *l, const char *key)
{
    /* Newest first: the runner releases in reverse order of taking. */
    for (int i = l->n - 1; i >= 0; i--)
        if (strcmp(l->held[i].key, key) == 0)
            return i;
    return -1;
}

const char *ovs_redis_locks_find(const ovs_redis_locks *l, const char *key)
{
    int i = find_index(l, key);
    return i < 0 ? NULL : l->held[i].token;
}

int64_t ovs_redis_locks_fence(const ovs_redis_locks *l, const char *key)
{
    int i = find_index(l, key);
    return i < 0 ? -1 : l->held[i].fence;
}

void ovs_redis_locks_remove(ovs_redis_locks *l, const char *key)
{
    int i = find_index(l, key);

    if (i < 0)
        return;
    memmove(&l->held[i], &l->held[i + 1], (size_t)(l->n - i - 1) * sizeof(l->held[0]));
    l->n--;
}

void ovs_redis_locks_free(ovs_redis_locks *l)
{
    free(l->held);
    l->held = NULL;
    l->n = l->cap = 0;
}

void ovs_redis_backoff(ovs_rng *rng, double delay_ms, double jitter_ms)
{
    int64_t ns = (int64_t)(delay_ms * (double)OVS_NS_PER_MS);
    int64_t jitter = (int64_t)(jitter_ms * (double)OVS_NS_PER_MS);

    if (jitter > 0)
        ns += (int64_t)ovs_rng_below(rng, (uint64_t)jitter + 1);
    ovs_sleep_ns(ns);
}

int ovs_redis_lock_key(char *buf, size_t len, const char *prefix, const char *key)
{
    int n = snprintf(buf, len, "%slock:%s", prefix ? prefix : "", key);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
