/* keys.c - the Redis keys more than one layer names. */
#include "core/keys.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/util.h"

void ovs_stock_key(const char *prefix, int sku, char *buf, size_t len)
{
    snprintf(buf, len, "%sstock:%d", prefix ? prefix : "", sku);
}

void ovs_key_prefix_new(char *buf, size_t len)
{
    uint64_t r = 0;
    unsigned char *p = (unsigned char *)&r;
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(p + got, sizeof(r) - got, 0);
        if (n <= 0) {
            /* No randomness from the kernel: the clock and the pid still differ between
             * two invocations, and a prefix already in use is refused before the run. */
            r = (uint64_t)ovs_now_ns() ^ ((uint64_t)getpid() << 32);
            break;
        }
        got += (size_t)n;
    }
    snprintf(buf, len, "oversell:%016llx:", (unsigned long long)r);
}

const char *ovs_key_prefix_bad(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n >= OVS_KEY_PREFIX_USER_MAX)
        return "give 1 to 47 characters";
    /* No glob characters (* ? [ ] \): the prefix followed by "*" is the SCAN pattern that
     * finds the run's keys, and must match nothing else. */
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && strchr(":_-.", p[i]) == NULL)
            return "only letters, digits and : _ - . (no glob characters)";
    /* "app" would match "apple:cart" too: the run would refuse a server holding it, or
     * delete such a key made meanwhile. A separator at the end keeps the match exact. */
    if (p[n - 1] != ':')
        return "end it with ':' (so that it matches the run's keys only)";
    return NULL;
}

void ovs_stock_bucket_key(const char *prefix, int sku, int b, char *buf, size_t len)
{
    snprintf(buf, len, "%sstock:{sku:%d:b%d}", prefix ? prefix : "", sku, b);
}
