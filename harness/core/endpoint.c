/* endpoint.c - finding a master through Sentinel, and logging in to a user's server.
 *
 * This is what a Sentinel-aware client library does at connect (redis-py's
 * SentinelConnectionPool, Jedis's JedisSentinelPool): ask the Sentinels one after another
 * for the master's address and connect there. A Sentinel that does not answer, or
 * answers nil (it does not know the name), sends the client on to the next. */
#include "core/endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "core/util.h"

int ovs_sentinel_master(const ovs_sentinel_set *set, int timeout_ms, ovs_endpoint *out,
                        char *err, size_t errlen)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    char last[200] = "no Sentinels", why[160];

    /* Every field the answer does not give is zero (no auth, not a cluster node): a
     * caller's stack is never read as part of the endpoint. */
    *out = (ovs_endpoint){ .sentinels = set };
    for (int i = 0; set != NULL && i < set->n; i++) {
        redisContext *c = redisConnectWithTimeout(set->ep[i].host, set->ep[i].port, tv);
        redisReply *r = NULL;

        if (c == NULL || c->err) {
            snprintf(last, sizeof(last), "Sentinel %s:%d: %s", set->ep[i].host,
                     set->ep[i].port, c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv);
        /* A Sentinel that refuses the login is one that did not answer: the next may
         * take it (one restarted without its requirepass, say). */
        if (ovs_redis_login(c, set->auth, why, sizeof(why)) != 0) {
            snprintf(last, sizeof(last), "Sentinel %s:%d: %s", set->ep[i].host,
                     set->ep[i].port, why);
            redisFree(c);
            continue;
        }
        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", set->master);
        if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING &&
            strlen(r->element[0]->str) < sizeof(out->host)) {
            snprintf(out->host, sizeof(out->host), "%s", r->element[0]->str);
            out->port = atoi(r->element[1]->str);
            out->sentinels = set;
            freeReplyObject(r);
            redisFree(c);
            return 0;
        }
        snprintf(last, sizeof(last), "Sentinel %s:%d: %s", set->ep[i].host, set->ep[i].port,
                 r == NULL                        ? c->errstr
                 : r->type == REDIS_REPLY_ERROR   ? r->str
                 : r->type == REDIS_REPLY_NIL     ? "does not know the master"
                                                  : "odd reply");
        freeReplyObject(r);
        redisFree(c);
    }
    ovs_seterr(err, errlen, "no Sentinel gave the address of %s (last: %s)",
               set ? set->master : "?", last);
    return -1;
}

int ovs_redis_login(redisContext *c, const ovs_redis_auth *auth, char *err, size_t errlen)
{
    redisReply *r;

    if (auth == NULL)
        return 0;
    /* %s arguments, never a formatted string: a password with blanks stays one argument. */
    if (auth->user[0] != '\0')
        r = redisCommand(c, "AUTH %s %s", auth->user, auth->password);
    else
        r = redisCommand(c, "AUTH %s", auth->password);
    if (r != NULL && r->type == REDIS_REPLY_STATUS) {
        freeReplyObject(r);
        return 0;
    }
    ovs_seterr(err, errlen, "AUTH %s: %s", r == NULL ? "failed" : "refused",
               r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    freeReplyObject(r);
    return -1;
}
