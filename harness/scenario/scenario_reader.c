/* scenario_reader.c - the scenario parser's first pass: lines, section headers, keys.
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
 * While inih reads, this pass checks what needs no context: known sections, known keys,
 * duplicates. scenario.c interprets the values afterwards. */
#include "scenario/scenario_reader.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/util.h"
#include "scenario/scenario.h"

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
                                             "lock",  "writeback_delay", "queue",
                                             "queue_apply", "queue_consumer_crash",
                                             "queue_claim_idle", "queue_node", NULL };
static const char *const client_keys[] = { "start", "after", "before", "request", "think",
                                           "pause", "reenter", NULL };
static const char *const crowd_keys[] = { "buyers", "arrival", "workers", "think", "request",
                                          "reenter", NULL };
static const char *const redis_keys[] = { "nodes",       "replicas",  "lag",   "jitter",
                                          "persistence", "read_from", "links",
                                          "sentinels", "sentinel_down_after",
                                          "sentinel_failover_timeout",
                                          "min_replicas_to_write", "min_replicas_max_lag",
                                          "cluster", "cluster_replicas",
                                          "cluster_node_timeout", NULL };
static const char *const fault_keys[] = { "at",     "after",    "action", "target",
                                          "duration", "recovery", "by", NULL };



/* Record the first error as "path:line: reason". Later errors are ignored: the user fixes
 * one thing at a time, and the first is the one whose cause is least likely to be an
 * earlier mistake. Returns -1 so callers can `return ovs_scn_fail(...)`. */
__attribute__((format(printf, 3, 4))) int ovs_scn_fail(parser *p, int line, const char *fmt,
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

void ovs_scn_join(const char *const *names, char *buf, size_t len)
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
            return ovs_scn_fail(p, p->line, "unknown section [%.40s %.40s] (known: %s)", name, arg,
                        KNOWN_SECTIONS);
        return ovs_scn_fail(p, p->line, "unknown section [%.40s] (known: %s)", name, KNOWN_SECTIONS);
    }
    if (named && *arg == '\0')
        return ovs_scn_fail(p, p->line, "[%s] needs a name, like [%s]", kind_name,
                    kind == SEC_CLIENT  ? "client alice"
                    : kind == SEC_FAULT ? "fault crash"
                                        : "strategy setnx");
    if (!named && *arg)
        return ovs_scn_fail(p, p->line, "[%s] takes no name (found '%.40s')", kind_name, arg);
    if (kind == SEC_CLIENT) {
        size_t n = strlen(arg);
        int ok = n < sizeof(((ovs_client_spec *)0)->name);
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)arg[i]) || arg[i] == '-' || arg[i] == '_';
        if (!ok)
            return ovs_scn_fail(p, p->line,
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
            return ovs_scn_fail(p, p->line,
                        "fault name '%.40s' must be lowercase letters, digits or '-', at most "
                        "%zu characters",
                        arg, sizeof(((ovs_fault *)0)->name) - 1);
    }

    for (int i = 0; i < p->nsec; i++) {
        if (p->sec[i].kind == kind && strcmp(p->sec[i].arg, arg) == 0)
            return ovs_scn_fail(p, p->line, "duplicate section [%s] (first at line %d)",
                        p->sec[i].label, p->sec[i].line);
    }
    if (kind == SEC_CLIENT && p->nclients == OVS_MAX_CLIENTS)
        return ovs_scn_fail(p, p->line, "too many [client] sections (at most %d; use [crowd] for load)",
                    OVS_MAX_CLIENTS);
    if (kind == SEC_FAULT && p->nfaults == OVS_MAX_FAULTS)
        return ovs_scn_fail(p, p->line, "too many [fault] sections (at most %d)", OVS_MAX_FAULTS);

    if (p->nsec == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 8;
        section *ns = realloc(p->sec, (size_t)ncap * sizeof(*ns));
        if (ns == NULL)
            return ovs_scn_fail(p, p->line, "out of memory");
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
            return ovs_scn_fail(p, p->line, "section header '%.60s' has no closing ']'", s);
        for (rest = end + 1; isspace((unsigned char)*rest); rest++)
            ;
        if (*rest && *rest != ';' && *rest != '#')
            return ovs_scn_fail(p, p->line, "unexpected text '%.40s' after the section header", rest);
        return begin_section(p, s + 1, (size_t)(end - s - 1));
    }
    end = find_chars_or_comment(s, "=:");
    if (*end != '=' && *end != ':')
        return ovs_scn_fail(p, p->line,
                    "expected 'key = value', a [section] or a comment, not '%.60s'", s);
    return 0;
}

/* inih's reader: one physical line per call, without its newline and with leading white
 * space removed (see the file comment for why). Returning NULL ends the parse, which is
 * also how the first error stops it. */
char *ovs_scn_read_line(char *str, int num, void *stream)
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
        ovs_scn_fail(p, p->line, "line contains a NUL byte: scenario files are text");
        return NULL;
    }
    if (too_long) {
        ovs_scn_fail(p, p->line, "line is too long (at most %zu characters)", limit);
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
        ovs_scn_join(known, names, sizeof(names));
        if (hint)
            return ovs_scn_fail(p, p->line, "unknown key '%.64s' in [%s]: did you mean '%s'? (known: %s)",
                        key, s->label, hint, names);
        return ovs_scn_fail(p, p->line, "unknown key '%.64s' in [%s] (known: %s)", key, s->label, names);
    }
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].key, key) == 0)
            return ovs_scn_fail(p, p->line, "duplicate key '%s' in [%s] (first at line %d)", key,
                        s->label, s->e[i].line);
    if (*value == '\0' && strcmp(key, "description") != 0)
        return ovs_scn_fail(p, p->line, "'%s' has no value", key);
    return 0;
}

int ovs_scn_on_key(void *user, const char *section_name, const char *key, const char *value)
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
        ovs_scn_fail(p, p->line, "'= %.40s' has no key before the '='", value);
        return 1;
    }
    if (p->cur < 0) {
        ovs_scn_fail(p, p->line, "'%.64s' comes before any section (start the file with [scenario])",
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
            ovs_scn_fail(p, p->line, "out of memory");
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
        ovs_scn_fail(p, p->line, "out of memory");
        return 1;
    }
    s->n++;
    return 1; /* errors are ours to report; inih's count would only repeat the line */
}

void ovs_scn_parser_free(parser *p)
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
