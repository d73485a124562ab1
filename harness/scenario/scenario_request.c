/* scenario_request.c - the request grammar: "buy sku=3", "book hotel=1 room=101
 * dates=2026-01-20..2026-01-22", as [client] and [crowd] sections write them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "scenario/scenario.h"
#include "scenario/scenario_reader.h"

const char *ovs_scn_workload_name(enum ovs_workload w)
{
    return w == OVS_INVENTORY ? "inventory" : "booking";
}

static int request_int(const char *key, const char *v, int *out, char *err, size_t errlen)
{
    long long n;

    if (ovs_parse_int(v, 1, INT_MAX, &n) != 0) {
        ovs_seterr(err, errlen, "%s: '%.40s' is not a whole number from 1 to %d", key, v,
                   INT_MAX);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int request_dates(const char *v, ovs_request *r, char *err, size_t errlen)
{
    const char *dots = strstr(v, "..");
    char a[32], b[32];

    if (dots == NULL || dots - v >= (long)sizeof(a) || strlen(dots + 2) >= sizeof(b)) {
        ovs_seterr(err, errlen, "dates: '%.40s' is not a range of dates (like "
                   "2026-01-20..2026-01-22)", v);
        return -1;
    }
    snprintf(a, sizeof(a), "%.*s", (int)(dots - v), v);
    snprintf(b, sizeof(b), "%s", dots + 2);
    if (ovs_parse_date(a, &r->check_in) != 0) {
        ovs_seterr(err, errlen, "dates: '%s' is not a valid date (YYYY-MM-DD)", a);
        return -1;
    }
    if (ovs_parse_date(b, &r->check_out) != 0) {
        ovs_seterr(err, errlen, "dates: '%s' is not a valid date (YYYY-MM-DD)", b);
        return -1;
    }
    if (r->check_out <= r->check_in) {
        ovs_seterr(err, errlen, "dates: check-out %s is not after check-in %s (the range is "
                   "half-open: 2026-01-20..2026-01-22 is two nights)", b, a);
        return -1;
    }
    if (r->check_out - r->check_in > OVS_MAX_NIGHTS) {
        ovs_seterr(err, errlen, "dates: %d nights is more than the %d one booking may have",
                   r->check_out - r->check_in, OVS_MAX_NIGHTS);
        return -1;
    }
    return 0;
}

int ovs_request_parse(enum ovs_workload w, const char *text, ovs_request *r, char *err,
                      size_t errlen)
{
    static const char *const inv_keys[] = { "sku", NULL };
    static const char *const book_keys[] = { "hotel", "room", "dates", NULL };
    const char *const *keys = w == OVS_INVENTORY ? inv_keys : book_keys;
    const char *verb = w == OVS_INVENTORY ? "buy" : "book";
    const char *other = w == OVS_INVENTORY ? "book" : "buy";
    const char *example = w == OVS_INVENTORY
                              ? "buy sku=1"
                              : "book hotel=1 room=101 dates=2026-01-20..2026-01-22";
    char buf[256], *save = NULL, *tok;
    int seen[3] = { 0, 0, 0 };
    ovs_request out;

    memset(&out, 0, sizeof(out));
    if (text == NULL)
        text = "";
    if (strlen(text) >= sizeof(buf)) {
        ovs_seterr(err, errlen, "too long (at most %zu characters)", sizeof(buf) - 1);
        return -1;
    }
    memcpy(buf, text, strlen(text) + 1);
    tok = strtok_r(buf, " \t\r\n", &save);
    if (tok == NULL) {
        ovs_seterr(err, errlen, "empty (like: %s)", example);
        return -1;
    }
    if (strcmp(tok, verb) != 0) {
        if (strcmp(tok, other) == 0)
            ovs_seterr(err, errlen, "'%s' is for %s scenarios; this one is %s (like: %s)",
                       other, ovs_scn_workload_name(w == OVS_INVENTORY ? OVS_BOOKING : OVS_INVENTORY),
                       ovs_scn_workload_name(w), example);
        else
            ovs_seterr(err, errlen, "'%.40s' is not '%s' (like: %s)", tok, verb, example);
        return -1;
    }
    while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
        char *eq = strchr(tok, '=');
        int k;
        if (eq == NULL || eq == tok) {
            ovs_seterr(err, errlen, "'%.40s' is not key=value (like: %s)", tok, example);
            return -1;
        }
        *eq = '\0';
        for (k = 0; keys[k] && strcmp(keys[k], tok) != 0; k++)
            ;
        if (keys[k] == NULL) {
            char names[64];
            ovs_scn_join(keys, names, sizeof(names));
            ovs_seterr(err, errlen, "unknown key '%.40s' (a %s request takes %s)", tok,
                       ovs_scn_workload_name(w), names);
            return -1;
        }
        if (seen[k]) {
            ovs_seterr(err, errlen, "'%s' is given twice", tok);
            return -1;
        }
        seen[k] = 1;
        if (strcmp(tok, "dates") == 0) {
            if (request_dates(eq + 1, &out, err, errlen) != 0)
                return -1;
        } else if (request_int(tok, eq + 1,
                               strcmp(tok, "sku") == 0     ? &out.sku
                               : strcmp(tok, "hotel") == 0 ? &out.hotel
                                                           : &out.room,
                               err, errlen) != 0) {
            return -1;
        }
    }
    for (int k = 0; keys[k]; k++) {
        if (!seen[k]) {
            ovs_seterr(err, errlen, "no %s= given (like: %s)", keys[k], example);
            return -1;
        }
    }
    *r = out;
    return 0;
}
