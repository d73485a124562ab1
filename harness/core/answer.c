/* answer.c - the answer event's text, and which check rows are figures. */
#include "core/answer.h"

#include <stdio.h>
#include <string.h>

void ovs_answer_format(const ovs_answer *a, char *buf, size_t len)
{
    snprintf(buf, len, "answer=%lld truth=%lld..%lld", (long long)a->answer,
             (long long)a->before, (long long)a->after);
}

int ovs_answer_parse(const char *detail, ovs_answer *a)
{
    long long v, b, f;
    int end = 0;

    if (detail == NULL ||
        sscanf(detail, "answer=%lld truth=%lld..%lld%n", &v, &b, &f, &end) != 3 || end == 0)
        return -1;
    a->answer = v;
    a->before = b;
    a->after = f;
    return 0;
}

int ovs_check_is_figure(const char *invariant)
{
    return invariant != NULL && strcmp(invariant, OVS_STALE_ANSWERS) == 0;
}
