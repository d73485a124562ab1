/* scenario.c - reading and validating scenario files (the format: scenarios/README.md).
 *
 * A bad file must be refused before anything starts, with "file:line: what is wrong".
 * libinih does the tokenising, but Debian builds it without INI_HANDLER_LINENO, so its
 * handler never learns the line it is on. We therefore feed it through ini_parse_stream()
 * with our own reader, which counts physical lines: inih processes each line completely
 * before it asks for the next, so while the handler runs, the reader's count is the line
 * of the key. The reader also
 *
 *  - sees section headers, which inih does not report (it only calls the handler for
 *    keys), so that empty sections, unknown sections and "[scenario] has no workload" can
 *    name the header's line;
 *  - recognises syntax errors itself, with the same rules inih uses, so the message can
 *    say what is wrong instead of inih's bare line number;
 *  - strips leading white space, so inih's Python-style continuation lines never apply: an
 *    indented "think = 5ms" is a key of its own, not more text for the previous value;
 *  - refuses lines longer than inih's line buffer, which inih would otherwise split into
 *    two "lines" and so make every later line number wrong.
 *
 * Two passes. While inih reads, we check what needs no context: known sections, known
 * keys, duplicates. Afterwards we interpret the values, [scenario] first: its workload
 * decides which keys exist and how requests read, and a file may put [scenario] anywhere.
 * [redis] and the [fault NAME] sections come last, because faults name clients and nodes;
 * scenario_fault.c gives each fault its meaning. The first problem found is the one
 * reported.
 *
 * Strategy names and parameters are not ours to check: strategies are registered at run
 * time, so [strategy NAME] sections and [expect] entries are kept as written, and
 * ovs_scenario_resolve (engine/plan.c) checks them once the file has parsed. A file with
 * a misspelt strategy and another mistake is therefore told of the other one first. */
#include "scenario/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/endpoint.h"
#include "core/util.h"

#define MAX_BUYERS 1000000
#define MAX_WORKERS 1024
#define MAX_REDIS_NODES OVS_MAX_NODES /* core/endpoint.h */
#define MAX_REPLICAS OVS_MAX_REPLICAS

enum sec_kind {
    SEC_SCENARIO, SEC_CLIENT, SEC_CROWD, SEC_REDIS, SEC_FAULT, SEC_STRATEGY, SEC_EXPECT
};

static const struct {
    const char *name;
    enum sec_kind kind;
    int named; /* 1 when the header carries a NAME: [client alice] */
} sec_kinds[] = {
    { "scenario", SEC_SCENARIO, 0 }, { "client", SEC_CLIENT, 1 },
    { "crowd", SEC_CROWD, 0 },       { "redis", SEC_REDIS, 0 },
    { "fault", SEC_FAULT, 1 },       { "strategy", SEC_STRATEGY, 1 },
    { "expect", SEC_EXPECT, 0 },
};

#define KNOWN_SECTIONS                                                                       \
    "[scenario], [client NAME], [crowd], [redis], [fault NAME], [strategy NAME], [expect]"

static const char *const scenario_keys[] = { "name",  "description", "workload",
                                             "seed",  "skus",        "stock",
                                             "lock",  "writeback_delay", NULL };
static const char *const client_keys[] = { "start", "request", "think", "pause", NULL };
static const char *const crowd_keys[] = { "buyers", "arrival", "workers", "think", "request",
                                          NULL };
static const char *const redis_keys[] = { "nodes",       "replicas",  "lag",   "jitter",
                                          "persistence", "read_from", "links", NULL };
static const char *const fault_keys[] = { "at",     "after",    "action", "target",
                                          "duration", "recovery", NULL };

/* One "key = value" as read, kept until the second pass interprets it. */
typedef struct entry {
    char *key;
    char *value;
    int line;
} entry;

typedef struct section {
    enum sec_kind kind;
    char label[80];                /* "client alice", for messages */
    char arg[256];                 /* the NAME of [client NAME], [fault NAME], [strategy NAME],
                                      whole: a strategy's is checked only once resolved */
    int line;                      /* line of the header */
    entry *e;
    int n, cap;
} section;

typedef struct parser {
    const char *path;   /* for messages */
    FILE *f;            /* the source: a file, or */
    const char *text;   /* a NUL-terminated buffer */
    int line;           /* physical lines handed to inih so far */
    int io_errno;       /* nonzero when reading the file failed */
    section *sec;       /* in file order */
    int nsec, cap;
    int cur;            /* index of the section being read, -1 before the first */
    int nclients;
    int nfaults;
    int failed;         /* the first error has been written; stop */
    char *err;
    size_t errlen;
} parser;

/* Record the first error as "path:line: reason". Later errors are ignored: the user fixes
 * one thing at a time, and the first is the one whose cause is least likely to be an
 * earlier mistake. Returns -1 so callers can `return fail(...)`. */
__attribute__((format(printf, 3, 4))) static int fail(parser *p, int line, const char *fmt,
                                                       ...)
{
    char msg[512];
    va_list ap;

    if (p->failed)
        return -1;
    p->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ovs_seterr(p->err, p->errlen, "%s:%d: %s", p->path, line, msg);
    return -1;
}

/* ---- small helpers ------------------------------------------------------------------ */

static void join(const char *const *names, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; names[i] && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
}

static int in_list(const char *word, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(word, names[i]) == 0)
            return 1;
    return 0;
}

/* A seed is any unsigned 64-bit number; strtoull alone would accept "-1" and " 1". */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* ---- the reader: lines, section headers and syntax --------------------------------- */

static int src_getc(parser *p)
{
    if (p->f) {
        int c = getc(p->f);
        if (c == EOF && ferror(p->f) && p->io_errno == 0)
            p->io_errno = errno ? errno : EIO;
        return c;
    }
    if (*p->text == '\0')
        return EOF;
    return (unsigned char)*p->text++;
}

/* inih's find_chars_or_comment with its default settings: the first of `chars`, or the
 * start of an inline comment (';' after white space), or the end. Our classification must
 * agree with inih's exactly, or a line we pass could still be one inih refuses. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
    int was_space = 0;

    while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

static int begin_section(parser *p, const char *text, size_t len)
{
    char buf[256], *name, *arg;
    const char *kind_name = NULL;
    enum sec_kind kind = SEC_SCENARIO;
    int named = 0;
    section *s;

    snprintf(buf, sizeof(buf), "%.*s", (int)len, text);
    name = ovs_trim(buf);
    for (arg = name; *arg && !isspace((unsigned char)*arg); arg++)
        ;
    if (*arg)
        *arg++ = '\0';
    arg = ovs_trim(arg);

    for (size_t i = 0; i < sizeof(sec_kinds) / sizeof(sec_kinds[0]); i++) {
        if (strcmp(name, sec_kinds[i].name) == 0) {
            kind_name = sec_kinds[i].name;
            kind = sec_kinds[i].kind;
            named = sec_kinds[i].named;
        }
    }
    if (kind_name == NULL) {
        if (*arg)
            return fail(p, p->line, "unknown section [%.40s %.40s] (known: %s)", name, arg,
                        KNOWN_SECTIONS);
        return fail(p, p->line, "unknown section [%.40s] (known: %s)", name, KNOWN_SECTIONS);
    }
    if (named && *arg == '\0')
        return fail(p, p->line, "[%s] needs a name, like [%s]", kind_name,
                    kind == SEC_CLIENT  ? "client alice"
                    : kind == SEC_FAULT ? "fault crash"
                                        : "strategy setnx");
    if (!named && *arg)
        return fail(p, p->line, "[%s] takes no name (found '%.40s')", kind_name, arg);
    if (kind == SEC_CLIENT) {
        size_t n = strlen(arg);
        int ok = n < sizeof(((ovs_client_spec *)0)->name);
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)arg[i]) || arg[i] == '-' || arg[i] == '_';
        if (!ok)
            return fail(p, p->line,
                        "client name '%.40s' must be letters, digits, '-' or '_', at most "
                        "%zu characters",
                        arg, sizeof(((ovs_client_spec *)0)->name) - 1);
    }
    if (kind == SEC_FAULT) {
        size_t n = strlen(arg);
        int ok = n < sizeof(((ovs_fault *)0)->name);
        for (size_t i = 0; ok && i < n; i++)
            ok = islower((unsigned char)arg[i]) || isdigit((unsigned char)arg[i]) ||
                 arg[i] == '-';
        if (!ok)
            return fail(p, p->line,
                        "fault name '%.40s' must be lowercase letters, digits or '-', at most "
                        "%zu characters",
                        arg, sizeof(((ovs_fault *)0)->name) - 1);
    }

    for (int i = 0; i < p->nsec; i++) {
        if (p->sec[i].kind == kind && strcmp(p->sec[i].arg, arg) == 0)
            return fail(p, p->line, "duplicate section [%s] (first at line %d)",
                        p->sec[i].label, p->sec[i].line);
    }
    if (kind == SEC_CLIENT && p->nclients == OVS_MAX_CLIENTS)
        return fail(p, p->line, "too many [client] sections (at most %d; use [crowd] for load)",
                    OVS_MAX_CLIENTS);
    if (kind == SEC_FAULT && p->nfaults == OVS_MAX_FAULTS)
        return fail(p, p->line, "too many [fault] sections (at most %d)", OVS_MAX_FAULTS);

    if (p->nsec == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 8;
        section *ns = realloc(p->sec, (size_t)ncap * sizeof(*ns));
        if (ns == NULL)
            return fail(p, p->line, "out of memory");
        p->sec = ns;
        p->cap = ncap;
    }
    s = &p->sec[p->nsec];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->line = p->line;
    snprintf(s->arg, sizeof(s->arg), "%s", arg); /* fits: buf is no longer */
    snprintf(s->label, sizeof(s->label), "%s%s%.63s", kind_name, *arg ? " " : "", arg);
    if (kind == SEC_CLIENT)
        p->nclients++;
    if (kind == SEC_FAULT)
        p->nfaults++;
    p->cur = p->nsec++;
    return 0;
}

/* Decide what inih will make of line s (already stripped on the left), and act on
 * section headers. */
static int classify(parser *p, const char *s)
{
    const char *end;

    if (*s == '\0' || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        const char *rest;
        end = find_chars_or_comment(s + 1, "]");
        if (*end != ']')
            return fail(p, p->line, "section header '%.60s' has no closing ']'", s);
        for (rest = end + 1; isspace((unsigned char)*rest); rest++)
            ;
        if (*rest && *rest != ';' && *rest != '#')
            return fail(p, p->line, "unexpected text '%.40s' after the section header", rest);
        return begin_section(p, s + 1, (size_t)(end - s - 1));
    }
    end = find_chars_or_comment(s, "=:");
    if (*end != '=' && *end != ':')
        return fail(p, p->line,
                    "expected 'key = value', a [section] or a comment, not '%.60s'", s);
    return 0;
}

/* inih's reader: one physical line per call, without its newline and with leading white
 * space removed (see the file comment for why). Returning NULL ends the parse, which is
 * also how the first error stops it. */
static char *read_line(char *str, int num, void *stream)
{
    parser *p = stream;
    size_t n = 0, limit = num > 1 ? (size_t)num - 1 : 0;
    int c, any = 0, lead = 1, nul = 0, too_long = 0;

    if (p->failed || p->io_errno)
        return NULL;
    while ((c = src_getc(p)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (c == '\0') {
            nul = 1;
            continue;
        }
        if (lead && isspace(c))
            continue;
        lead = 0;
        if (n < limit)
            str[n++] = (char)c;
        else
            too_long = 1;
    }
    if (!any || p->io_errno)
        return NULL;
    p->line++;
    str[n] = '\0';
    if (p->line == 1 && strncmp(str, "\xEF\xBB\xBF", 3) == 0) {
        /* A UTF-8 byte order mark, as some editors write. */
        char *t = str + 3;
        while (isspace((unsigned char)*t))
            t++;
        memmove(str, t, strlen(t) + 1);
    }
    if (nul) {
        fail(p, p->line, "line contains a NUL byte: scenario files are text");
        return NULL;
    }
    if (too_long) {
        fail(p, p->line, "line is too long (at most %zu characters)", limit);
        return NULL;
    }
    if (classify(p, str) != 0)
        return NULL;
    return str;
}

/* ---- the handler: keys ---------------------------------------------------------------- */

static const char *const *keys_of(enum sec_kind kind)
{
    switch (kind) {
    case SEC_SCENARIO: return scenario_keys;
    case SEC_CLIENT: return client_keys;
    case SEC_CROWD: return crowd_keys;
    case SEC_REDIS: return redis_keys;
    case SEC_FAULT: return fault_keys;
    case SEC_STRATEGY: /* a strategy's parameters and [expect]'s names: resolved later */
    case SEC_EXPECT: break;
    }
    return NULL;
}

static int check_key(parser *p, section *s, const char *key, const char *value)
{
    const char *const *known = keys_of(s->kind);

    if (known && !in_list(key, known)) {
        char names[256];
        const char *hint = ovs_closest(key, known);
        join(known, names, sizeof(names));
        if (hint)
            return fail(p, p->line, "unknown key '%.64s' in [%s]: did you mean '%s'? (known: %s)",
                        key, s->label, hint, names);
        return fail(p, p->line, "unknown key '%.64s' in [%s] (known: %s)", key, s->label, names);
    }
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, key) == 0)
            return fail(p, p->line, "duplicate key '%s' in [%s] (first at line %d)", key,
                        s->label, s->e[i].line);
    if (*value == '\0' && strcmp(key, "description") != 0)
        return fail(p, p->line, "'%s' has no value", key);
    return 0;
}

static int on_key(void *user, const char *section_name, const char *key, const char *value)
{
    parser *p = user;
    section *s;
    entry *e;

    (void)section_name; /* ours, tracked by the reader, is the same text, validated */
    if (p->failed)
        return 1;
    if (value == NULL)
        value = "";
    if (*key == '\0') {
        fail(p, p->line, "'= %.40s' has no key before the '='", value);
        return 1;
    }
    if (p->cur < 0) {
        fail(p, p->line, "'%.64s' comes before any section (start the file with [scenario])",
             key);
        return 1;
    }
    s = &p->sec[p->cur];
    if (check_key(p, s, key, value) != 0)
        return 1;
    if (s->n == s->cap) {
        int ncap = s->cap ? s->cap * 2 : 8;
        entry *ne = realloc(s->e, (size_t)ncap * sizeof(*ne));
        if (ne == NULL) {
            fail(p, p->line, "out of memory");
            return 1;
        }
        s->e = ne;
        s->cap = ncap;
    }
    e = &s->e[s->n];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = p->line;
    if (e->key == NULL || e->value == NULL) {
        free(e->key);
        free(e->value);
        fail(p, p->line, "out of memory");
        return 1;
    }
    s->n++;
    return 1; /* errors are ours to report; inih's count would only repeat the line */
}

static void parser_free(parser *p)
{
    for (int i = 0; i < p->nsec; i++) {
        for (int j = 0; j < p->sec[i].n; j++) {
            free(p->sec[i].e[j].key);
            free(p->sec[i].e[j].value);
        }
        free(p->sec[i].e);
    }
    free(p->sec);
    p->sec = NULL;
    p->nsec = p->cap = 0;
}

/* ---- second pass: values ------------------------------------------------------------ */

static int get_duration(parser *p, const entry *e, int64_t *ns)
{
    if (ovs_parse_duration(e->value, ns) != 0)
        return fail(p, e->line, "%s: '%.80s' is not a duration (like 150ms or 2s)", e->key,
                    e->value);
    if (*ns > OVS_MAX_DURATION_NS)
        return fail(p, e->line, "%s: '%.80s' is longer than an hour", e->key, e->value);
    return 0;
}

static int get_int(parser *p, const entry *e, long long min, long long max, int *out)
{
    long long v;

    if (ovs_parse_int(e->value, min, max, &v) != 0)
        return fail(p, e->line, "%s: '%.80s' is not a whole number from %lld to %lld", e->key,
                    e->value, min, max);
    *out = (int)v;
    return 0;
}

/* A value that must be one of names; *out gets its index. */
static int get_choice(parser *p, const entry *e, const char *const *names, int *out)
{
    char list[128];
    size_t used = 0;
    int n = 0;

    for (; names[n]; n++) {
        if (strcmp(e->value, names[n]) == 0) {
            *out = n;
            return 0;
        }
    }
    list[0] = '\0';
    for (int i = 0; i < n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return fail(p, e->line, "%s: '%.80s' is not %s", e->key, e->value, list);
}

static const entry *find_entry(const section *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, key) == 0)
            return &s->e[i];
    return NULL;
}

static const char *workload_name(enum ovs_workload w)
{
    return w == OVS_INVENTORY ? "inventory" : "booking";
}

static int get_request(parser *p, const ovs_scenario *sc, const entry *e, ovs_request *r)
{
    char why[256];

    if (ovs_request_parse(sc->workload, e->value, r, why, sizeof(why)) != 0)
        return fail(p, e->line, "request: %s", why);
    if (sc->workload == OVS_INVENTORY && r->sku > sc->skus)
        return fail(p, e->line, "request: sku=%d, but the scenario has skus = %d", r->sku,
                    sc->skus);
    return 0;
}

/* `think = 1ms` or a uniform range `think = 1ms..5ms`. */
static int get_think_range(parser *p, const entry *e, int64_t *lo, int64_t *hi)
{
    const char *dots = strstr(e->value, "..");
    char a[128], b[128];

    if (dots == NULL) {
        if (get_duration(p, e, lo) != 0)
            return -1;
        *hi = *lo;
        return 0;
    }
    snprintf(a, sizeof(a), "%.*s", (int)(dots - e->value), e->value);
    snprintf(b, sizeof(b), "%s", dots + 2);
    if (ovs_parse_duration(a, lo) != 0 || ovs_parse_duration(b, hi) != 0)
        return fail(p, e->line,
                    "%s: '%.80s' is not a duration or a range of durations (like 1ms or "
                    "1ms..5ms)",
                    e->key, e->value);
    if (*lo > OVS_MAX_DURATION_NS || *hi > OVS_MAX_DURATION_NS)
        return fail(p, e->line, "%s: '%.80s' is longer than an hour", e->key, e->value);
    if (*lo > *hi)
        return fail(p, e->line, "%s: '%.80s' has its minimum above its maximum", e->key,
                    e->value);
    return 0;
}

/* `arrival = burst` or `arrival = rate 100/s` (the "/s" may be left out). */
static int get_arrival(parser *p, const entry *e, ovs_crowd *c)
{
    char buf[128], *num;
    size_t n;

    if (strcmp(e->value, "burst") == 0) {
        c->arrival = OVS_ARRIVE_BURST;
        return 0;
    }
    if (strncmp(e->value, "rate", 4) != 0 || !isspace((unsigned char)e->value[4]))
        return fail(p, e->line, "arrival: '%.80s' is not burst or rate N/s (like rate 100/s)",
                    e->value);
    snprintf(buf, sizeof(buf), "%s", e->value + 4);
    num = ovs_trim(buf);
    n = strlen(num);
    if (n >= 2 && strcmp(num + n - 2, "/s") == 0)
        num[n - 2] = '\0';
    if (ovs_parse_double(num, &c->rate) != 0)
        return fail(p, e->line, "arrival: '%.80s' is not burst or rate N/s (like rate 100/s)",
                    e->value);
    if (!(c->rate > 0) || c->rate > 1e7)
        return fail(p, e->line,
                    "arrival: the rate in '%.80s' must be above 0 and at most 10000000 per "
                    "second",
                    e->value);
    c->arrival = OVS_ARRIVE_RATE;
    return 0;
}

static int only_for(parser *p, const ovs_scenario *sc, const entry *e, enum ovs_workload w)
{
    if (sc->workload == w)
        return 0;
    return fail(p, e->line, "'%s' is only for %s scenarios (this one is workload = %s)",
                e->key, workload_name(w), workload_name(sc->workload));
}

static int do_scenario(parser *p, const section *s, ovs_scenario *sc)
{
    const entry *w = NULL;
    int have_name = 0, have_stock = 0;

    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, "workload") == 0)
            w = &s->e[i];
    if (w == NULL)
        return fail(p, s->line, "[scenario] has no workload (inventory or booking)");
    if (strcmp(w->value, "inventory") == 0)
        sc->workload = OVS_INVENTORY;
    else if (strcmp(w->value, "booking") == 0)
        sc->workload = OVS_BOOKING;
    else
        return fail(p, w->line, "workload: '%.80s' is not inventory or booking", w->value);

    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char *k = e->key, *v = e->value;
        int rc = 0;

        if (strcmp(k, "name") == 0) {
            size_t n = strlen(v);
            int ok = 1;
            for (size_t j = 0; ok && j < n; j++)
                ok = islower((unsigned char)v[j]) || isdigit((unsigned char)v[j]) || v[j] == '-';
            if (!ok)
                return fail(p, e->line,
                            "name: '%.80s' may only have lowercase letters, digits and '-' "
                            "(like flash-sale)",
                            v);
            if (n >= sizeof(sc->name))
                return fail(p, e->line, "name: '%.80s' is longer than %zu characters", v,
                            sizeof(sc->name) - 1);
            memcpy(sc->name, v, n + 1);
            have_name = 1;
        } else if (strcmp(k, "description") == 0) {
            if (strlen(v) >= sizeof(sc->description))
                return fail(p, e->line, "description: longer than %zu characters",
                            sizeof(sc->description) - 1);
            snprintf(sc->description, sizeof(sc->description), "%s", v);
        } else if (strcmp(k, "seed") == 0) {
            if (parse_u64(v, &sc->seed) != 0)
                return fail(p, e->line,
                            "seed: '%.80s' is not a whole number from 0 to %llu", v,
                            (unsigned long long)UINT64_MAX);
        } else if (strcmp(k, "skus") == 0) {
            rc = only_for(p, sc, e, OVS_INVENTORY) || get_int(p, e, 1, 1000000, &sc->skus);
        } else if (strcmp(k, "stock") == 0) {
            rc = only_for(p, sc, e, OVS_INVENTORY) ||
                 get_int(p, e, 0, 1000000000, &sc->stock);
            have_stock = 1;
        } else if (strcmp(k, "lock") == 0) {
            if ((rc = only_for(p, sc, e, OVS_BOOKING)) != 0)
                return rc;
            /* The long spellings (hotel+check_in, hotel+night) are accepted too. */
            if (strcmp(v, "hotel") == 0)
                sc->granularity = OVS_GRAN_HOTEL;
            else if (strcmp(v, "check_in") == 0 || strcmp(v, "hotel+check_in") == 0)
                sc->granularity = OVS_GRAN_CHECKIN;
            else if (strcmp(v, "night") == 0 || strcmp(v, "hotel+night") == 0)
                sc->granularity = OVS_GRAN_NIGHT;
            else
                return fail(p, e->line, "lock: '%.80s' is not hotel, check_in or night", v);
        } else if (strcmp(k, "writeback_delay") == 0) {
            rc = get_duration(p, e, &sc->writeback_delay_ns);
        }
        if (rc != 0)
            return -1;
    }
    if (!have_name)
        return fail(p, s->line, "[scenario] has no name");
    if (sc->workload == OVS_INVENTORY && !have_stock)
        return fail(p, s->line, "[scenario] has no stock (required for workload = inventory)");
    return 0;
}

static int do_client(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_client_spec *c = &sc->clients[sc->n_clients];
    int have_request = 0;

    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%.31s", s->arg); /* checked to fit */
    c->line = s->line;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        int rc = 0;
        if (strcmp(e->key, "start") == 0) {
            rc = get_duration(p, e, &c->start_ns);
        } else if (strcmp(e->key, "think") == 0) {
            rc = get_duration(p, e, &c->think_ns);
        } else if (strcmp(e->key, "request") == 0) {
            rc = get_request(p, sc, e, &c->req);
            have_request = 1;
        } else if (strcmp(e->key, "pause") == 0) {
            static const char *const pauses[] = { "thread", "process", NULL };
            rc = get_choice(p, e, pauses, &c->pause_process);
        }
        if (rc != 0)
            return -1;
    }
    if (!have_request)
        return fail(p, s->line, "[%s] has no request", s->label);
    sc->n_clients++;
    return 0;
}

static int do_crowd(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_crowd *c = &sc->crowd;
    int have_buyers = 0, have_workers = 0, have_request = 0;

    c->arrival = OVS_ARRIVE_BURST;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        int rc = 0;
        if (strcmp(e->key, "buyers") == 0) {
            rc = get_int(p, e, 1, MAX_BUYERS, &c->buyers);
            have_buyers = 1;
        } else if (strcmp(e->key, "arrival") == 0) {
            rc = get_arrival(p, e, c);
        } else if (strcmp(e->key, "workers") == 0) {
            rc = get_int(p, e, 1, MAX_WORKERS, &c->workers);
            have_workers = 1;
        } else if (strcmp(e->key, "think") == 0) {
            rc = get_think_range(p, e, &c->think_ns, &c->think_max_ns);
        } else if (strcmp(e->key, "request") == 0) {
            rc = get_request(p, sc, e, &c->req);
            have_request = 1;
        }
        if (rc != 0)
            return -1;
    }
    if (!have_buyers)
        return fail(p, s->line, "[crowd] has no buyers");
    if (!have_request)
        return fail(p, s->line, "[crowd] has no request");
    if (!have_workers)
        c->workers = c->buyers < 16 ? c->buyers : 16;
    sc->has_crowd = 1;
    return 0;
}

/* [redis]. Runs after the clients and the crowd are known: proxied links are per timeline
 * client. Keys that need another key (lag needs replicas) are checked once the whole
 * section is read, so the order of keys in it does not matter. */
static int do_redis(parser *p, const section *s, ovs_scenario *sc)
{
    static const char *const persistences[] = { "none", "rdb", "aof", NULL };
    static const char *const read_froms[] = { "master", "replica", NULL };
    static const char *const links[] = { "direct", "proxied", NULL };
    ovs_redis_spec *r = &sc->redis;
    const entry *lag = find_entry(s, "lag"), *jitter = find_entry(s, "jitter");
    const entry *read_from = find_entry(s, "read_from"), *link = find_entry(s, "links");

    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char *k = e->key;
        int v = 0, rc = 0;

        if (strcmp(k, "nodes") == 0) {
            rc = get_int(p, e, 1, MAX_REDIS_NODES, &r->nodes);
        } else if (strcmp(k, "replicas") == 0) {
            rc = get_int(p, e, 0, MAX_REPLICAS, &r->replicas);
        } else if (strcmp(k, "lag") == 0) {
            rc = get_duration(p, e, &r->lag_ns);
        } else if (strcmp(k, "jitter") == 0) {
            rc = get_duration(p, e, &r->jitter_ns);
        } else if (strcmp(k, "persistence") == 0) {
            rc = get_choice(p, e, persistences, &v);
            r->persistence = (enum ovs_persistence)v; /* in the enum's order */
        } else if (strcmp(k, "read_from") == 0) {
            rc = get_choice(p, e, read_froms, &r->read_from_replica);
        } else if (strcmp(k, "links") == 0) {
            rc = get_choice(p, e, links, &r->proxied_links);
        }
        if (rc != 0)
            return -1;
    }
    if (lag && r->replicas == 0)
        return fail(p, lag->line,
                    "lag: needs replicas >= 1 (it delays the replication link to them)");
    if (jitter && lag == NULL)
        return fail(p, jitter->line, "jitter: needs a lag (it is +/- on the replication lag)");
    if (jitter && r->jitter_ns > r->lag_ns)
        return fail(p, jitter->line,
                    "jitter: '%.40s' is more than lag = %.40s (the delay would go below zero)",
                    jitter->value, lag->value);
    if (read_from && r->read_from_replica && r->replicas == 0)
        return fail(p, read_from->line, "read_from: replica needs replicas >= 1");
    if (link && r->proxied_links && sc->n_clients == 0)
        return fail(p, link->line,
                    "links: proxied needs [client NAME] sections (each timeline client gets "
                    "its own proxy to each node; a [crowd] has none)");
    return 0;
}

/* One [fault NAME] (scenario_fault.c interprets it). `links` is [redis] links, or NULL:
 * a link target turns proxied links on, unless the file explicitly said direct. */
static int do_fault(parser *p, const section *s, ovs_scenario *sc, const entry *links)
{
    ovs_fault *f = &sc->faults[sc->n_faults];
    ovs_fault_text t = { 0 };
    const entry *at = find_entry(s, "at"), *after = find_entry(s, "after");
    const entry *bad;
    const char *key = NULL;
    char why[400];

    if (at && after) {
        const entry *later = at->line > after->line ? at : after;
        return fail(p, later->line,
                    "%s: [%s] already has %s (line %d); give at or after, not both",
                    later->key, s->label, later == at ? "after" : "at",
                    later == at ? after->line : at->line);
    }
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        const char **slot = strcmp(e->key, "at") == 0         ? &t.at
                            : strcmp(e->key, "after") == 0    ? &t.after
                            : strcmp(e->key, "action") == 0   ? &t.action
                            : strcmp(e->key, "target") == 0   ? &t.target
                            : strcmp(e->key, "duration") == 0 ? &t.duration
                                                               : &t.recovery;
        *slot = e->value; /* the keys were checked while reading: no other can be here */
    }
    if (ovs_fault_parse(sc, s->arg, &t, f, &key, why, sizeof(why)) != 0) {
        bad = key ? find_entry(s, key) : NULL;
        return fail(p, bad ? bad->line : s->line, "%s", why);
    }
    f->line = s->line;
    if (f->target == OVS_TARGET_LINK) {
        if (links && !sc->redis.proxied_links)
            return fail(p, find_entry(s, "target")->line,
                        "target: '%.60s' is a link, but [redis] has links = direct (line %d): "
                        "say proxied, or leave links out",
                        t.target, links->line);
        sc->redis.proxied_links = 1;
    }
    sc->n_faults++;
    return 0;
}

/* A [strategy NAME] section, kept as written for ovs_scenario_resolve. */
static int do_strategy(parser *p, const section *s, ovs_scenario *sc)
{
    ovs_scenario_params *x = &sc->params[sc->n_params];

    x->line = s->line;
    if ((x->name = strdup(s->arg)) == NULL ||
        (s->n > 0 && (x->kv = calloc((size_t)s->n, sizeof(*x->kv))) == NULL)) {
        free(x->name);
        x->name = NULL;
        return fail(p, s->line, "out of memory");
    }
    sc->n_params++; /* from here ovs_scenario_free frees what x holds */
    for (int i = 0; i < s->n; i++) {
        ovs_scenario_kv *kv = &x->kv[x->n];
        kv->line = s->e[i].line;
        kv->key = strdup(s->e[i].key);
        kv->value = strdup(s->e[i].value);
        if (kv->key == NULL || kv->value == NULL) {
            free(kv->key);
            free(kv->value);
            kv->key = kv->value = NULL;
            return fail(p, kv->line, "out of memory");
        }
        x->n++;
    }
    return 0;
}

static int do_expect(parser *p, const section *s, ovs_scenario *sc)
{
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        ovs_expect *x = &sc->expect[sc->n_expect];
        if (strcmp(e->value, "safe") == 0)
            x->safe = 1;
        else if (strcmp(e->value, "unsafe") == 0)
            x->safe = 0;
        else
            return fail(p, e->line, "%s: '%.80s' is not safe or unsafe", e->key, e->value);
        if ((x->name = strdup(e->key)) == NULL)
            return fail(p, e->line, "out of memory");
        x->line = e->line;
        sc->n_expect++;
    }
    return 0;
}

static int interpret(parser *p, ovs_scenario *sc)
{
    const section *scn = NULL, *redis = NULL;
    const entry *links = NULL;
    int nparams = 0, nexpect = 0;

    for (int i = 0; i < p->nsec; i++) {
        if (p->sec[i].kind == SEC_SCENARIO)
            scn = &p->sec[i];
        else if (p->sec[i].kind == SEC_STRATEGY)
            nparams++;
        else if (p->sec[i].kind == SEC_EXPECT)
            nexpect = p->sec[i].n;
        else if (p->sec[i].kind == SEC_REDIS)
            redis = &p->sec[i];
    }
    if (scn == NULL)
        return fail(p, 1, "no [scenario] section (every scenario file needs one, with a name "
                          "and a workload)");

    sc->seed = 1;
    sc->skus = 1;
    sc->granularity = OVS_GRAN_NIGHT;
    sc->writeback_delay_ns = 5 * OVS_NS_PER_MS;
    if (do_scenario(p, scn, sc) != 0)
        return -1;

    if ((p->nclients && !(sc->clients = calloc((size_t)p->nclients, sizeof(*sc->clients)))) ||
        (nparams && !(sc->params = calloc((size_t)nparams, sizeof(*sc->params)))) ||
        (nexpect && !(sc->expect = calloc((size_t)nexpect, sizeof(*sc->expect)))) ||
        (p->nfaults && !(sc->faults = calloc((size_t)p->nfaults, sizeof(*sc->faults)))))
        return fail(p, scn->line, "out of memory");

    for (int i = 0; i < p->nsec; i++) {
        const section *s = &p->sec[i];
        int rc = 0;

        if ((s->kind == SEC_CROWD && sc->n_clients > 0) ||
            (s->kind == SEC_CLIENT && sc->has_crowd))
            return fail(p, s->line,
                        "[crowd] and [client ...] sections cannot both be present (a scenario "
                        "is a timeline of clients or a crowd, not both)");
        switch (s->kind) {
        case SEC_SCENARIO:
        case SEC_REDIS: /* below, once the clients are known */
        case SEC_FAULT:
            break;
        case SEC_CLIENT:
            rc = do_client(p, s, sc);
            break;
        case SEC_CROWD:
            rc = do_crowd(p, s, sc);
            break;
        case SEC_STRATEGY:
            rc = do_strategy(p, s, sc);
            break;
        case SEC_EXPECT:
            rc = do_expect(p, s, sc);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (sc->n_clients == 0 && !sc->has_crowd)
        return fail(p, scn->line,
                    "no [crowd] or [client NAME] section: nobody makes a request");

    /* Faults name clients and nodes, so they come last, after [redis]. */
    if (redis) {
        if (do_redis(p, redis, sc) != 0)
            return -1;
        links = find_entry(redis, "links");
    }
    for (int i = 0; i < p->nsec; i++)
        if (p->sec[i].kind == SEC_FAULT && do_fault(p, &p->sec[i], sc, links) != 0)
            return -1;
    return 0;
}

/* ---- entry points ------------------------------------------------------------------- */

static int parse_source(parser *p, ovs_scenario *sc)
{
    int rc;

    memset(sc, 0, sizeof(*sc));
    rc = ini_parse_stream(read_line, p, on_key, p);
    if (!p->failed && p->io_errno) {
        ovs_seterr(p->err, p->errlen, "%s: cannot read: %s", p->path, strerror(p->io_errno));
        p->failed = 1;
    }
    /* Every syntax error inih knows is caught by classify() first, so these are only a
     * safety net should inih's rules ever change under us. */
    if (!p->failed && rc > 0)
        fail(p, rc, "syntax error");
    if (!p->failed && rc < 0)
        fail(p, p->line, "out of memory");
    if (!p->failed && interpret(p, sc) == 0)
        snprintf(sc->path, sizeof(sc->path), "%s", p->path);
    parser_free(p);
    if (p->failed) {
        ovs_scenario_free(sc);
        return -1;
    }
    return 0;
}

int ovs_scenario_parse(const char *path, const char *text, ovs_scenario *sc, char *err,
                       size_t errlen)
{
    parser p = { .path = path, .text = text ? text : "", .cur = -1, .err = err,
                 .errlen = errlen };
    return parse_source(&p, sc);
}

int ovs_scenario_load(const char *path, ovs_scenario *sc, char *err, size_t errlen)
{
    parser p = { .path = path, .cur = -1, .err = err, .errlen = errlen };
    int rc;

    memset(sc, 0, sizeof(*sc));
    p.f = fopen(path, "r");
    if (p.f == NULL) {
        ovs_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rc = parse_source(&p, sc);
    fclose(p.f);
    return rc;
}

void ovs_scenario_free(ovs_scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->clients);
    for (int i = 0; i < sc->n_params; i++) {
        for (int k = 0; k < sc->params[i].n; k++) {
            free(sc->params[i].kv[k].key);
            free(sc->params[i].kv[k].value);
        }
        free(sc->params[i].kv);
        free(sc->params[i].name);
    }
    free(sc->params);
    for (int i = 0; i < sc->n_expect; i++)
        free(sc->expect[i].name);
    free(sc->expect);
    free(sc->faults);
    memset(sc, 0, sizeof(*sc));
}

/* ---- requests ----------------------------------------------------------------------- */

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
                       other, workload_name(w == OVS_INVENTORY ? OVS_BOOKING : OVS_INVENTORY),
                       workload_name(w), example);
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
            join(keys, names, sizeof(names));
            ovs_seterr(err, errlen, "unknown key '%.40s' (a %s request takes %s)", tok,
                       workload_name(w), names);
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

/* ---- queries ------------------------------------------------------------------------ */

int ovs_scenario_requests(const ovs_scenario *sc)
{
    return sc->has_crowd ? sc->crowd.buyers : sc->n_clients;
}
