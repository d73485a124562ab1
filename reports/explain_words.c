/* explain_words.c - a step of a recorded run said in words, for `oversell explain`.
 *
 * Every event of the model (explain_model.c) becomes one row at its start, except where
 * its end is the news: an answer arrives when the request ends, and a lock that made a
 * client wait gets a second row when it was finally granted or refused. This file decides
 * which (ovs_ex_slow, ovs_ex_done_time) and says each row the way a teacher would: "check:
 * room free (0 overlapping)", "acquire → busy (2/5 nodes)". It also holds the small text
 * helpers every explain file uses; it reads no database and calls no other explain file. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "reports/report.h"
#include "core/answer.h"
#include "core/util.h"

/* A lock that answered within this long is one step; a longer wait gets a row when it
 * began and one when it ended, so the table shows the client waiting while others move.
 * 10 ms is far above a loopback round trip and far below any think time in a scenario. */
#define EX_WAIT_SHOWN (10 * OVS_NS_PER_MS)

/* ---- small helpers ----------------------------------------------------------------- */

/* snprintf that says so: truncation is expected and fine everywhere here. */
void ovs_ex_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}


/* Copy src into dst (cap bytes) with control characters as spaces, cut on a character
 * boundary. NULL copies as "". */
void ovs_ex_copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;

    for (; src != NULL && src[n] != '\0' && n + 1 < cap; n++)
        dst[n] = (unsigned char)src[n] < 0x20 || src[n] == 0x7F ? ' ' : src[n];
    while (n > 0 && src[n] != '\0' && ((unsigned char)src[n] & 0xC0) == 0x80)
        n--;
    dst[n] = '\0';
}

/* Nanoseconds as milliseconds with one decimal: "150.2". */
void ovs_ex_ms(int64_t ns, char *buf, size_t len)
{
    ovs_report_fixed(ns, OVS_NS_PER_MS, 1, buf, len);
}

/* A duration the way a person says it: "0.7 ms", "311 ms", "1.25 s". */
void ovs_ex_dur(int64_t ns, char *buf, size_t len)
{
    char num[32];

    if (ns < 100 * OVS_NS_PER_MS) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 1, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s ms", num);
    } else if (ns < 10 * OVS_NS_PER_S) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 0, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s ms", num);
    } else {
        ovs_report_fixed(ns, OVS_NS_PER_S, 2, num, sizeof(num));
        ovs_ex_fmt(buf, len, "%s s", num);
    }
}

/* The integer right after tag in s ("attempts=2" with tag "attempts="). */
int ovs_ex_num_after(const char *s, const char *tag, long long *v)
{
    const char *p = strstr(s, tag);
    char *end;

    if (p == NULL)
        return 0;
    p += strlen(tag);
    *v = strtoll(p, &end, 10);
    return end != p;
}

void ovs_ex_name(const ovs_ex_run *r, int id, char *buf, size_t len)
{
    if (id < 0)
        ovs_ex_fmt(buf, len, "harness");
    else if (r->names != NULL && id < r->n_names && r->names[id] != NULL)
        ovs_ex_copy(buf, len, r->names[id]);
    else
        ovs_ex_fmt(buf, len, "client %d", id);
}

/* Attempts an acquire made: "attempts=N" when it succeeded, "after N attempts" in the
 * strategies' busy messages, else the Redlock rounds seen, else 0 (not known). */
long long ovs_ex_attempts(const ovs_ex_event *e)
{
    long long v;

    if (ovs_ex_num_after(e->detail, "attempts=", &v) ||
        ovs_ex_num_after(e->detail, "after ", &v))
        return v;
    return e->rounds;
}

/* The acquire kept its client waiting: shown as two rows. */
int ovs_ex_slow(const ovs_ex_event *e)
{
    return e->op == EX_ACQUIRE &&
           (ovs_ex_attempts(e) > 1 || e->end - e->start >= EX_WAIT_SHOWN);
}

/* When the table shows the step done: the second row of a wait, the answer of a request,
 * else the step's start. */
int64_t ovs_ex_done_time(const ovs_ex_event *e)
{
    return ovs_ex_slow(e) || (e->op == EX_REQUEST && e->inner) ? e->end : e->start;
}

/* ---- the steps in words ------------------------------------------------------------------ */

const char *ovs_ex_write_what(const ovs_ex_run *r)
{
    return r->booking ? "INSERT booking" : "UPDATE stock, INSERT order";
}

/* "→ failed: why" for a step that did not answer ok. */
void ovs_ex_bad(const ovs_ex_event *e, char *buf, size_t len)
{
    const char *word = e->outcome == EX_UNKNOWN ? "unknown" : "failed";
    if (e->detail[0] != '\0')
        ovs_ex_fmt(buf, len, "→ %s: %s", word, e->detail);
    else
        ovs_ex_fmt(buf, len, "→ %s", word);
}

/* A busy message from a lock, rather than an error. */
int ovs_ex_busy(const ovs_ex_event *e)
{
    return e->outcome == EX_FAIL &&
           (strstr(e->detail, "attempts") || strstr(e->detail, "busy") ||
            strstr(e->detail, "held") || strstr(e->detail, "majority"));
}

/* An acquire or a release of a key its request already held (core/trace.h, OVS_NESTED). */
int ovs_ex_nested(const ovs_ex_event *e)
{
    return (e->op == EX_ACQUIRE || e->op == EX_RELEASE) &&
           strncmp(e->detail, OVS_NESTED, strlen(OVS_NESTED)) == 0;
}

/* e with its detail's OVS_NESTED word taken off ("nested: not owner" is "not owner"), so
 * that the phrases read the strategy's own words as they do for an outer step. */
static void ex_unnest(const ovs_ex_event *e, ovs_ex_event *out)
{
    const char *d = e->detail + strlen(OVS_NESTED);

    *out = *e;
    d += strspn(d, ": ");
    memmove(out->detail, d, strlen(d) + 1);
}

static void ex_phrase_acquire(const ovs_ex_event *e, int part, const char *verb, const char *key,
                              char *buf, size_t len)
{
    long long tries = ovs_ex_attempts(e);
    char waited[32], bad[160];

    ovs_ex_dur(e->end - e->start, waited, sizeof(waited));
    ovs_ex_bad(e, bad, sizeof(bad));
    if (part == EX_BEGIN) {
        if (e->rounds > 0 && e->first_locked < e->first_asked)
            ovs_ex_fmt(buf, len, "%s%s → busy (%d/%d nodes)", verb, key, e->first_locked,
                       e->first_asked);
        else if (tries > 1)
            ovs_ex_fmt(buf, len, "%s%s → busy, retrying", verb, key);
        else
            ovs_ex_fmt(buf, len, "%s%s → waiting", verb, key);
        return;
    }
    if (part == EX_END) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "%s → ok, waited %s (%lld attempt%s)", verb, waited,
                       tries > 0 ? tries : 1, tries > 1 ? "s" : "");
        else if (ovs_ex_busy(e) && tries > 0)
            ovs_ex_fmt(buf, len, "%s → busy (waited %s, %lld attempts)", verb, waited, tries);
        else if (ovs_ex_busy(e))
            ovs_ex_fmt(buf, len, "%s → busy (waited %s)", verb, waited);
        else
            ovs_ex_fmt(buf, len, "%s after %s %s", verb, waited, bad);
        return;
    }
    if (e->outcome == EX_OK && e->rounds > 0)
        ovs_ex_fmt(buf, len, "%s%s → ok (%d/%d nodes)", verb, key, e->nodes_ok, e->nodes);
    else if (e->outcome == EX_OK)
        ovs_ex_fmt(buf, len, "%s%s → ok (%lld attempt%s)", verb, key, tries > 0 ? tries : 1,
                   tries > 1 ? "s" : "");
    else if (ovs_ex_busy(e) && tries > 0)
        ovs_ex_fmt(buf, len, "%s%s → busy (%lld attempt%s)", verb, key, tries,
                   tries > 1 ? "s" : "");
    else
        ovs_ex_fmt(buf, len, "%s%s %s", verb, key, bad);
}

static void ex_phrase_check(const ovs_ex_run *r, const ovs_ex_event *e, char *buf, size_t len)
{
    long long v;
    char bad[160];

    if (r->booking && ovs_ex_num_after(e->detail, "overlapping=", &v)) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "check: room free (%lld overlapping)", v);
        else if (e->outcome == EX_FAIL)
            ovs_ex_fmt(buf, len, "check: %lld overlapping → refused", v);
        else
            ovs_ex_fmt(buf, len, "check: %lld overlapping → unknown", v);
        return;
    }
    if (!r->booking && ovs_ex_num_after(e->detail, "stock=", &v)) {
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "check: %lld in stock", v);
        else if (e->outcome == EX_FAIL)
            ovs_ex_fmt(buf, len, "check: stock %lld → sold out", v);
        else
            ovs_ex_fmt(buf, len, "check: stock %lld → unknown", v);
        return;
    }
    ovs_ex_bad(e, bad, sizeof(bad));
    if (e->outcome == EX_OK)
        ovs_ex_fmt(buf, len, "check → ok");
    else
        ovs_ex_fmt(buf, len, "check %s", bad);
}

/* The shop's screen before a request, against SQL around it (core/answer.h): "screen: 3
 * in stock (SQL 2) → stale". */
static void ex_phrase_answer(const ovs_ex_run *r, const ovs_ex_event *e, char *buf, size_t len)
{
    ovs_answer a;
    char sql[48], bad[160];

    if (e->outcome != EX_OK || ovs_answer_parse(e->detail, &a) != 0) {
        ovs_ex_bad(e, bad, sizeof(bad));
        ovs_ex_fmt(buf, len, "screen %s", bad);
        return;
    }
    if (r->booking)
        ovs_ex_fmt(sql, sizeof(sql), "SQL: %s%s", a.before ? "free" : "taken",
                   a.before != a.after ? " then taken" : "");
    else if (a.before != a.after)
        ovs_ex_fmt(sql, sizeof(sql), "SQL %lld..%lld", (long long)a.before, (long long)a.after);
    else
        ovs_ex_fmt(sql, sizeof(sql), "SQL %lld", (long long)a.before);
    if (r->booking)
        ovs_ex_fmt(buf, len, "screen: room %s (%s)%s", a.answer ? "free" : "taken", sql,
                   ovs_answer_stale(&a) ? " → stale" : "");
    else if (a.answer > 0)
        ovs_ex_fmt(buf, len, "screen: %lld in stock (%s)%s", (long long)a.answer, sql,
                   ovs_answer_stale(&a) ? " → stale" : "");
    else
        ovs_ex_fmt(buf, len, "screen: sold out (%s)%s", sql,
                   ovs_answer_stale(&a) ? " → stale" : "");
}

/* The row's text. with_key 0 leaves out the resource name, for narrow columns. */
void ovs_ex_phrase(const ovs_ex_run *r, const ovs_ex_row *row, int with_key, char *buf,
                   size_t len)
{
    const ovs_ex_event *e = &r->ev[row->ev];
    char key[80] = "", bad[160], d[32];
    ovs_ex_event inner;
    int nested = ovs_ex_nested(e);

    if (nested) {
        ex_unnest(e, &inner);
        e = &inner;
    }

    if (with_key && e->key[0] != '\0')
        ovs_ex_fmt(key, sizeof(key), " %s", e->key);
    ovs_ex_bad(e, bad, sizeof(bad));
    ovs_ex_dur(e->end - e->start, d, sizeof(d));
    if (row->part == EX_THINK) {
        ovs_ex_dur(row->gap, d, sizeof(d));
        ovs_ex_fmt(buf, len, "thinks %s", d);
        return;
    }
    switch (e->op) {
    case EX_ACQUIRE:
        ex_phrase_acquire(e, row->part, nested ? "re-enter" : "acquire", key, buf, len);
        break;
    case EX_CHECK:
        ex_phrase_check(r, e, buf, len);
        break;
    case EX_ACT:
        if (e->outcome == EX_OK && e->detail[0] != '\0')
            ovs_ex_fmt(buf, len, "act: %s → ok (%s)", ovs_ex_write_what(r), e->detail);
        else if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "act: %s → ok", ovs_ex_write_what(r));
        else
            ovs_ex_fmt(buf, len, "act: %s %s", ovs_ex_write_what(r), bad);
        break;
    case EX_RELEASE:
        if (nested && e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "release inner → ok (the outer hold stays)");
        else if (nested)
            ovs_ex_fmt(buf, len, "release inner %s", bad);
        else if (e->outcome == EX_OK && e->nodes > 0)
            ovs_ex_fmt(buf, len, "release → ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "release → ok");
        else
            ovs_ex_fmt(buf, len, "release %s", bad);
        break;
    case EX_REQUEST:
        if (row->part == EX_END)
            ovs_ex_fmt(buf, len, "answer: %s", e->detail[0] ? e->detail
                                            : e->outcome == EX_OK ? "ok" : "failed");
        else if (e->outcome == EX_UNKNOWN)
            ovs_ex_fmt(buf, len, "%s%s %s", r->booking ? "book" : "buy", key, bad);
        else
            ovs_ex_fmt(buf, len, "%s%s → %s (%s)", r->booking ? "book" : "buy", key,
                       e->detail[0] ? e->detail : e->outcome == EX_OK ? "ok" : "failed", d);
        break;
    case EX_WRITEBACK:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "write-back: %s → ok",
                       r->booking ? "INSERT booking" : "INSERT order");
        else
            ovs_ex_fmt(buf, len, "write-back %s", bad);
        break;
    case EX_EXECUTE:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "execute%s → ok%s%s", key, e->detail[0] ? ": " : "", e->detail);
        else
            ovs_ex_fmt(buf, len, "execute%s %s", key, bad);
        break;
    case EX_FAULT:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "fault%s%s: %s", key[0] ? " on" : "", key, e->detail);
        else
            ovs_ex_fmt(buf, len, "fault%s%s %s", key[0] ? " on" : "", key, bad);
        break;
    case EX_NODE:
        ovs_ex_fmt(buf, len, "%s", e->detail[0] ? e->detail : "node step");
        break;
    case EX_ANSWER:
        ex_phrase_answer(r, e, buf, len);
        break;
    default:
        if (e->outcome == EX_OK)
            ovs_ex_fmt(buf, len, "%s%s → ok%s%s", e->opname, key, e->detail[0] ? ": " : "",
                       e->detail);
        else
            ovs_ex_fmt(buf, len, "%s%s %s", e->opname, key, bad);
        break;
    }
}
